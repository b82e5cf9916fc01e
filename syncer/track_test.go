package syncer_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/health"
	"github.com/understudy-ha/understudy/syncer"
)

func TestFileStore(t *testing.T) {
	ctx := t.Context()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	boom := errors.New("rsync exit 23")
	tests := []struct {
		name string
		runs []error // one run a minute from t0
		want syncer.Record
	}{
		{"nothing known", nil, syncer.Record{}},
		{"one success", []error{nil}, syncer.Record{LastSuccess: t0, LastRun: t0}},
		{"a failure keeps the last success", []error{nil, boom},
			syncer.Record{LastSuccess: t0, LastRun: t0.Add(time.Minute), LastError: "rsync exit 23"}},
		{"a success clears the error", []error{boom, nil},
			syncer.Record{LastSuccess: t0.Add(time.Minute), LastRun: t0.Add(time.Minute)}},
		{"never succeeded", []error{boom}, syncer.Record{LastRun: t0, LastError: "rsync exit 23"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &syncer.FileStore{Path: filepath.Join(t.TempDir(), "syncs.json")}
			for i, err := range tt.runs {
				require.NoError(t, st.Update(ctx, "www", t0.Add(time.Duration(i)*time.Minute), err))
			}
			// A second process reads the file afresh.
			got, err := (&syncer.FileStore{Path: st.Path}).Load(ctx, "www")
			require.NoError(t, err)
			assert.True(t, got.LastSuccess.Equal(tt.want.LastSuccess), "last success %v, want %v", got.LastSuccess, tt.want.LastSuccess)
			assert.True(t, got.LastRun.Equal(tt.want.LastRun), "last run %v, want %v", got.LastRun, tt.want.LastRun)
			assert.Equal(t, tt.want.LastError, got.LastError)
		})
	}
}

func TestFileStoreConcurrentUpdates(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "syncs.json")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			// One store value per writer, as separate processes would have.
			assert.NoError(t, (&syncer.FileStore{Path: path}).Update(ctx, fmt.Sprintf("s%d", i), time.Now(), nil))
		})
	}
	wg.Wait()
	st := &syncer.FileStore{Path: path}
	for i := range 20 {
		r, err := st.Load(ctx, fmt.Sprintf("s%d", i))
		require.NoError(t, err)
		assert.False(t, r.LastSuccess.IsZero(), "record of s%d lost", i)
	}
	left, err := filepath.Glob(filepath.Join(dir, ".syncs.json.*"))
	require.NoError(t, err)
	assert.Empty(t, left, "temporary files are removed")
}

func TestFileStoreCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "syncs.json")
	require.NoError(t, os.WriteFile(path, []byte("{half"), 0o600))
	st := &syncer.FileStore{Path: path}
	_, err := st.Load(t.Context(), "www")
	assert.ErrorContains(t, err, path)
	err = syncer.Fresh(st, "www", time.Minute).Check(t.Context())
	var he *health.Error
	require.ErrorAs(t, err, &he, "an unreadable record fails the check")
	assert.NotErrorIs(t, err, syncer.ErrStale)
}

func TestFreshFromStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		boom := errors.New("peer unreachable")
		st := &syncer.FileStore{Path: filepath.Join(t.TempDir(), "syncs.json")}
		// The tracker runs the sync; the check reads only the store, as a
		// `tick` in another process does.
		tr := syncer.Track(&fakeSyncer{errs: []error{nil, boom}}, syncer.WithStore("www", st))
		check := syncer.Fresh(st, "www", 10*time.Minute)

		require.ErrorIs(t, check.Check(ctx), syncer.ErrStale, "never synced")
		_, err := tr.Sync(ctx)
		require.NoError(t, err)
		assert.NoError(t, check.Check(ctx))

		time.Sleep(9 * time.Minute)
		_, err = tr.Sync(ctx)
		require.ErrorIs(t, err, boom)
		assert.NoError(t, check.Check(ctx), "9 minutes old is still fresh")
		time.Sleep(2 * time.Minute)
		err = check.Check(ctx)
		assert.ErrorIs(t, err, syncer.ErrStale)
		assert.ErrorContains(t, err, "peer unreachable", "the last error is named")

		// A restarted daemon's tracker knows nothing in memory but reads
		// the store.
		fresh := syncer.Track(&fakeSyncer{}, syncer.WithStore("www", st)).Fresh("www", time.Hour)
		assert.NoError(t, fresh.Check(ctx))
	})
}

// failingStore refuses every update.
type failingStore struct{ syncer.FileStore }

var errDiskFull = errors.New("disk full")

func (*failingStore) Update(_ context.Context, _ string, _ time.Time, _ error) error {
	return errDiskFull
}

func TestTrackerStoreFailure(t *testing.T) {
	tr := syncer.Track(&fakeSyncer{}, syncer.WithStore("www", &failingStore{syncer.FileStore{Path: filepath.Join(t.TempDir(), "s.json")}}))
	_, err := tr.Sync(t.Context())
	assert.ErrorIs(t, err, errDiskFull, "an unrecorded success is reported")
}
