package failover_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/failover"
)

// validStateFile returns the bytes of a state file written by a real
// round.
func validStateFile(t *testing.T) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.json")
	r := newRig(path)
	tick(t, r.arbiter(t))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return data
}

func TestCorruptStateFileIsReset(t *testing.T) {
	valid := validStateFile(t)
	tests := []struct {
		name string
		data []byte
	}{
		{"garbage", []byte("\x00\x01not json at all\xff")},
		{"truncated", valid[:len(valid)/2]},
		{"empty", nil},
		{"blank", []byte("\n  \n")},
		{"no version", []byte(`{"policy":{"active":"backup"}}`)},
		{"null", []byte("null")},
		{"wrong types", []byte(`{"version":1,"policy":{"active":42}}`)},
		{"pending without target", []byte(`{"version":1,"pending":{"id":"x","from":"primary"}}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state.json")
			require.NoError(t, os.WriteFile(path, tt.data, 0o600))
			r := newRig(path)
			a := r.arbiter(t)

			rep, err := a.Tick(t.Context())
			require.NoError(t, err)
			assert.True(t, rep.Reset)
			require.NotEmpty(t, rep.Events)
			reset := rep.Events[0]
			assert.Equal(t, failover.EventStateReset, reset.Kind)
			assert.NotEmpty(t, reset.Err, "the event says why")
			assert.Empty(t, r.sw.Calls(), "no switch in the round that reset the state")
			assert.Zero(t, countKind(rep.Events, failover.EventSwitchIntended))

			aside, err := os.ReadFile(path + ".corrupt")
			require.NoError(t, err, "the bad file is moved aside")
			assert.Equal(t, string(tt.data), string(aside))
			snap, err := failover.ReadSnapshot(path)
			require.NoError(t, err, "a good state file replaces it")
			assert.Equal(t, failover.EventStateReset, snap.Events[0].Kind)

			rep = tick(t, a)
			assert.False(t, rep.Reset)
			assert.Equal(t, []string{"primary"}, r.sw.Targets(), "the next round decides normally")
		})
	}
}

func TestNewerStateVersionIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	data := []byte(`{"version": 99, "policy": {"active": "backup"}}`)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	r := newRig(path)
	_, err := r.arbiter(t).Tick(t.Context())
	assert.ErrorIs(t, err, failover.ErrStateVersion)
	got, rerr := os.ReadFile(path)
	require.NoError(t, rerr)
	assert.Equal(t, data, got, "a newer file is left alone")
	assert.NoFileExists(t, path+".corrupt")
	_, err = failover.ReadSnapshot(path)
	assert.ErrorIs(t, err, failover.ErrStateVersion)
}

// TestCrashBetweenIntendedAndDone kills an arbiter while its switchers
// run: the second switcher copies the state file as it is on disk at that
// moment, and that copy is what the restarted arbiter finds.
func TestCrashBetweenIntendedAndDone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	r1 := newRig(path)
	var atCrash []byte
	crash := failover.SwitcherFunc(func(_ context.Context, to failover.Node) error {
		if to.Name != "backup" {
			return nil
		}
		var err error
		atCrash, err = os.ReadFile(path)
		if err != nil {
			return err
		}
		return errors.New("killed") // nothing after this reaches the disk
	})
	r1.cfg.Switchers = []failover.Switcher{r1.sw, crash}
	r1.cfg.SwitchRetries = 1
	a1 := r1.arbiter(t)
	converge(t, a1)
	r1.primary.Fail(nil)
	for range 3 {
		tick(t, a1)
	}
	require.NotNil(t, atCrash, "the crash point was reached")
	require.NoError(t, os.WriteFile(path, atCrash, 0o600))

	onDisk, err := failover.ReadSnapshot(path)
	require.NoError(t, err)
	require.NotNil(t, onDisk.Pending, "the intent was on disk before the switchers ran")
	assert.Equal(t, "backup", onDisk.Pending.To)
	assert.True(t, onDisk.Pending.Running)
	assert.Equal(t, "primary", onDisk.Active)
	assert.Equal(t, failover.EventSwitchIntended, onDisk.Events[len(onDisk.Events)-1].Kind)

	r2 := newRig(path)
	r2.primary.Fail(nil)
	a2 := r2.arbiter(t)
	rep := tick(t, a2)
	require.GreaterOrEqual(t, len(rep.Events), 2)
	assert.Equal(t, []failover.EventKind{failover.EventSwitchResumed, failover.EventSwitchDone}, kinds(rep.Events[:2]))
	assert.Equal(t, "backup", rep.Active)
	assert.Equal(t, []string{"backup"}, r2.sw.Targets(), "resumed first thing")

	tick(t, a2)
	assert.Equal(t, []string{"backup"}, r2.sw.Targets(), "and not switched again")
	snap, err := failover.ReadSnapshot(path)
	require.NoError(t, err)
	assert.Nil(t, snap.Pending)
	assert.Equal(t, "backup", snap.Active)
	done := 0
	for _, e := range snap.Events {
		if e.Kind == failover.EventSwitchDone && e.To == "backup" {
			done++
		}
	}
	assert.Equal(t, 1, done, "switch_done to backup exactly once")
}

// TestResumeFromStateFile pins the file format: a state file as written
// before a crash (testdata/state-pending.json) is resumed.
func TestResumeFromStateFile(t *testing.T) {
	fixture, err := os.ReadFile(filepath.Join("testdata", "state-pending.json"))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, os.WriteFile(path, fixture, 0o600))

	before, err := failover.ReadSnapshot(path)
	require.NoError(t, err)
	require.NotNil(t, before.Pending)
	assert.Equal(t, "0123456789abcdef", before.Pending.ID)
	assert.Equal(t, 3, before.Checks[0].Fails)

	r := newRig(path)
	r.primary.Fail(nil)
	a := r.arbiter(t)
	rep := tick(t, a)
	assert.Equal(t, []failover.EventKind{failover.EventSwitchResumed, failover.EventSwitchDone}, kinds(rep.Events))
	assert.True(t, rep.Switched)
	assert.Equal(t, []string{"backup"}, r.sw.Targets())
	assert.Equal(t, 1, r.notes.Count(failover.EventSwitchDone))

	rep = tick(t, a)
	assert.False(t, rep.Switched)
	assert.Equal(t, []string{"backup"}, r.sw.Targets(), "a second round does not switch again")
	snap := a.Snapshot()
	assert.Equal(t, "backup", snap.Active)
	assert.Nil(t, snap.Pending)
	assert.Equal(t, 5, snap.Checks[0].Fails, "counters carried on from the file")
}

func TestStateSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	r1 := newRig(path)
	a1 := r1.arbiter(t)
	converge(t, a1)
	r1.primary.Fail(nil)
	tick(t, a1)
	tick(t, a1)
	assert.Equal(t, 2, a1.Snapshot().Checks[0].Fails)

	r2 := newRig(path)
	r2.primary.Fail(nil)
	rep := tick(t, r2.arbiter(t))
	assert.Equal(t, []failover.EventKind{failover.EventCheckDown, failover.EventNodeDown, failover.EventSwitchIntended, failover.EventSwitchDone},
		kinds(rep.Events), "the third failure, counted across the restart, is the one")
	assert.Equal(t, "backup", rep.Active)
	assert.Equal(t, []string{"backup"}, r2.sw.Targets())
}

func TestSnapshotRoundTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "state.json")
		r := newRig(path)
		r.cfg.Policy.Nodes[0].Labels = map[string]string{"droplet": "s3cr3t-label-value"}
		a := r.arbiter(t)
		converge(t, a)
		r.primary.Fail(errors.New("connection refused"))
		var rep failover.RoundReport
		for range 3 {
			rep = tick(t, a)
		}

		got, err := failover.ReadSnapshot(path)
		require.NoError(t, err)
		assert.Equal(t, a.Snapshot(), got, "what status reads is what the arbiter holds")

		assert.Equal(t, rep.Time, got.LastRound)
		assert.Equal(t, "backup", got.Active)
		assert.False(t, got.Isolated)
		assert.Nil(t, got.Pending)
		require.Len(t, got.Nodes, 2)
		assert.Equal(t, failover.NodeStatus{Name: "primary", Address: r.cfg.Policy.Nodes[0].Address, Priority: 100,
			Status: failover.StatusDown, Since: got.Nodes[0].Since}, got.Nodes[0])
		assert.Equal(t, "backup", got.Nodes[1].Name)
		assert.True(t, got.Nodes[1].Active)
		require.Len(t, got.Checks, 2)
		assert.Equal(t, "primary-http", got.Checks[0].Name)
		assert.Equal(t, "primary", got.Checks[0].Node)
		assert.Equal(t, failover.StatusDown, got.Checks[0].Status)
		assert.Equal(t, 3, got.Checks[0].Fails)
		assert.Contains(t, got.Checks[0].Last.Err, "connection refused")
		assert.Equal(t, rep.Time, got.Checks[0].Last.Time)
		assert.Equal(t, failover.StatusUp, got.Checks[1].Status)
		assert.Empty(t, got.Checks[1].Last.Err)
		assert.Equal(t, failover.EventSwitchDone, got.Events[len(got.Events)-1].Kind)

		data, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.NotContains(t, string(data), "s3cr3t", "labels are not persisted")
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())

		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		slices.Sort(names)
		assert.Equal(t, []string{"state.json", "state.json.lock"}, names, "no temporary files left behind")
	})
}

func TestReadSnapshotMissingFile(t *testing.T) {
	_, err := failover.ReadSnapshot(filepath.Join(t.TempDir(), "none.json"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func TestUnreadableStateFileIsNotReset(t *testing.T) {
	// A directory where the file should be: reading fails, which is not
	// corruption, so nothing is moved or overwritten.
	path := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, os.Mkdir(path, 0o700))
	r := newRig(path)
	_, err := r.arbiter(t).Tick(t.Context())
	require.Error(t, err)
	assert.NoFileExists(t, path+".corrupt")
	assert.DirExists(t, path)
	assert.Empty(t, r.notes.Events())
}

func FuzzReadSnapshot(f *testing.F) {
	if fixture, err := os.ReadFile(filepath.Join("testdata", "state-pending.json")); err == nil {
		f.Add(fixture)
	}
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"checks":[{"name":"a"}],"policy":{"checks":{"a":null}}}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "state.json")
		require.NoError(t, os.WriteFile(path, data, 0o600))
		snap, err := failover.ReadSnapshot(path)
		if err != nil {
			return
		}
		assert.NotNil(t, snap.Nodes)
		assert.NotNil(t, snap.Events)
	})
}

func TestPendingSwitchToRemovedNodeIsDropped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	data := []byte(`{"version":1,"policy":{"active":"primary"},"pending":{"id":"x","from":"primary","to":"gone","running":true}}`)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	r := newRig(path)
	rep := tick(t, r.arbiter(t))
	assert.ErrorIs(t, rep.SwitchErr, failover.ErrUnknownNode)
	require.NotEmpty(t, rep.Events)
	assert.Equal(t, failover.EventSwitchFailed, rep.Events[0].Kind)
	assert.Equal(t, "gone", rep.Events[0].To)
	assert.Empty(t, r.sw.Calls(), "no switcher is asked to switch to a node it does not know")
	snap, err := failover.ReadSnapshot(path)
	require.NoError(t, err)
	assert.Nil(t, snap.Pending)
	assert.Equal(t, "primary", snap.Active)
}
