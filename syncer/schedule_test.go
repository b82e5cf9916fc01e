package syncer_test

import (
	"context"
	"errors"
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

// fakeSyncer takes durations[i] of (fake) time on its i-th run and
// returns errs[i].
type fakeSyncer struct {
	mu        sync.Mutex
	durations []time.Duration
	errs      []error
	starts    []time.Time
}

func (f *fakeSyncer) Sync(ctx context.Context) (syncer.Report, error) {
	f.mu.Lock()
	i := len(f.starts)
	f.starts = append(f.starts, time.Now())
	var d time.Duration
	var err error
	if i < len(f.durations) {
		d = f.durations[i]
	}
	if i < len(f.errs) {
		err = f.errs[i]
	}
	f.mu.Unlock()
	time.Sleep(d) // fake time inside the synctest bubble: the sync's duration
	return syncer.Report{Files: i, Duration: d}, err
}

func TestSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		boom := errors.New("boom")
		f := &fakeSyncer{
			durations: []time.Duration{time.Second, 12 * time.Minute, time.Second, time.Second},
			errs:      []error{nil, nil, boom, syncer.ErrBusy},
		}
		var events []syncer.Event
		ctx, cancel := context.WithCancel(t.Context())
		s := syncer.Schedule{Name: "web", Every: 5 * time.Minute, Jitter: 10 * time.Second,
			Rand: func(n int64) int64 { return n / 2 }, // 5 s of jitter, always
			OnEvent: func(e syncer.Event) {
				events = append(events, e)
				if len(events) == 5 {
					cancel()
				}
			}}
		err := s.Run(ctx, f)
		require.ErrorIs(t, err, context.Canceled)

		jit := 5 * time.Second
		assert.Equal(t, []time.Time{
			t0.Add(jit),                  // slot 0
			t0.Add(5*time.Minute + jit),  // slot 1: runs 12 min, covers slots 2 and 3
			t0.Add(20*time.Minute + jit), // slot 4
			t0.Add(25*time.Minute + jit), // slot 5
		}, f.starts)
		kinds := []syncer.EventKind{}
		for _, e := range events {
			kinds = append(kinds, e.Kind)
		}
		assert.Equal(t, []syncer.EventKind{syncer.EventDone, syncer.EventDone, syncer.EventOverran, syncer.EventFailed, syncer.EventBusy}, kinds)
		assert.Equal(t, 2, events[2].Missed)
		assert.Equal(t, t0.Add(5*time.Minute), events[2].Slot)
		assert.ErrorIs(t, events[3].Err, boom)
		assert.Equal(t, "web", events[3].Name)
	})
}

func TestScheduleValidate(t *testing.T) {
	for name, s := range map[string]syncer.Schedule{
		"no period":       {},
		"jitter too big":  {Every: time.Minute, Jitter: time.Minute},
		"negative jitter": {Every: time.Minute, Jitter: -1},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Error(t, s.Run(t.Context(), &fakeSyncer{}))
		})
	}
}

func TestTrackerFresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("peer unreachable")
		f := &fakeSyncer{errs: []error{boom, nil, boom}}
		tr := syncer.Track(f)
		check := tr.Fresh("www", 10*time.Minute)
		ctx := t.Context()

		err := check.Check(ctx)
		require.ErrorIs(t, err, syncer.ErrStale, "never synced")
		var he *health.Error
		require.ErrorAs(t, err, &he)
		assert.Equal(t, "sync", he.Kind)
		assert.Equal(t, "www", he.Target)

		_, err = tr.Sync(ctx)
		require.ErrorIs(t, err, boom)
		err = check.Check(ctx)
		assert.ErrorIs(t, err, syncer.ErrStale)
		assert.ErrorIs(t, err, boom, "the last error is named")

		_, err = tr.Sync(ctx)
		require.NoError(t, err)
		assert.NoError(t, check.Check(ctx))
		last, rep := tr.LastSuccess()
		assert.Equal(t, time.Now(), last)
		assert.Equal(t, 1, rep.Files)

		time.Sleep(9 * time.Minute)
		_, err = tr.Sync(ctx) // fails: the last success stays
		require.ErrorIs(t, err, boom)
		assert.NoError(t, check.Check(ctx), "9 minutes old is still fresh")
		time.Sleep(2 * time.Minute)
		err = check.Check(ctx)
		assert.ErrorIs(t, err, syncer.ErrStale)
		assert.ErrorIs(t, err, boom)
	})
}

func TestTrackerFreshCountsFromStart(t *testing.T) {
	// A run that took 50 minutes holds the source as it was 50 minutes
	// before it ended: 20 minutes later the copy is 70 minutes old.
	for _, withStore := range []bool{false, true} {
		t.Run(map[bool]string{false: "memory", true: "store"}[withStore], func(t *testing.T) {
			st := &syncer.FileStore{Path: filepath.Join(t.TempDir(), "syncs.json")}
			synctest.Test(t, func(t *testing.T) {
				var opts []syncer.TrackOption
				if withStore {
					opts = append(opts, syncer.WithStore("www", st))
				}
				tr := syncer.Track(&fakeSyncer{durations: []time.Duration{50 * time.Minute}}, opts...)
				began := time.Now()
				_, err := tr.Sync(t.Context())
				require.NoError(t, err)
				last, _ := tr.LastSuccess()
				assert.Equal(t, began, last)
				assert.NoError(t, tr.Fresh("www", time.Hour).Check(t.Context()))
				time.Sleep(20 * time.Minute)
				assert.ErrorIs(t, tr.Fresh("www", time.Hour).Check(t.Context()), syncer.ErrStale)
				if withStore {
					assert.ErrorIs(t, syncer.Fresh(st, "www", time.Hour).Check(t.Context()), syncer.ErrStale, "the store holds the start too")
				}
			})
		})
	}
}
