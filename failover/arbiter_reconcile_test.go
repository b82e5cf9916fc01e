package failover_test

import (
	"net/netip"
	"path/filepath"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/failover/failovertest"
)

var (
	primaryAddr = netip.MustParseAddr("192.0.2.1")
	backupAddr  = netip.MustParseAddr("192.0.2.2")
)

// newRecordRig is the rig with a fake DNS record as its only switcher and
// manual failback: the Gandi article, where the master takes the record
// back by itself.
func newRecordRig(t *testing.T) (*rig, *failovertest.Record) {
	r := newRig(filepath.Join(t.TempDir(), "state.json"))
	rec := &failovertest.Record{}
	r.cfg.Switchers = []failover.Switcher{rec}
	r.cfg.Policy.Failback = failover.FailbackManual
	return r, rec
}

// failOver takes the primary down until the arbiter has switched to the
// backup, then brings it back up; the backup stays active.
func failOver(t *testing.T, r *rig, a *failover.Arbiter) {
	t.Helper()
	r.primary.Fail(nil)
	for range r.cfg.Policy.FailAfter {
		tick(t, a)
	}
	require.Equal(t, "backup", a.Snapshot().Active)
	r.primary.Pass()
	for range r.cfg.Policy.RiseAfter + 1 {
		rep := tick(t, a)
		require.Equal(t, "backup", rep.Active, "manual failback")
	}
}

// TestReconcileFollowsOutsideChange: the master takes the record back by
// itself; the arbiter records it active without switching, says so once,
// and the master's next failure switches again.
func TestReconcileFollowsOutsideChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, rec := newRecordRig(t)
		a := r.arbiter(t)
		converge(t, a)
		failOver(t, r, a)
		require.Equal(t, []string{"primary", "backup"}, rec.Targets())
		require.Zero(t, r.notes.Count(failover.EventActiveChanged))

		rec.Set(primaryAddr) // dynamic DNS on the master
		rep := tick(t, a)
		assert.Equal(t, "primary", rep.Active)
		assert.False(t, rep.Switched)
		assert.False(t, rep.Decision.Switch)
		require.Equal(t, []failover.EventKind{failover.EventActiveChanged}, kinds(rep.Events))
		assert.Equal(t, "backup", rep.Events[0].From)
		assert.Equal(t, "primary", rep.Events[0].To)
		assert.Equal(t, []string{"primary", "backup"}, rec.Targets(), "nothing switched")

		for range 3 {
			rep := tick(t, a)
			assert.Equal(t, "primary", rep.Active)
			assert.Empty(t, rep.Events)
		}
		assert.Equal(t, 1, r.notes.Count(failover.EventActiveChanged), "said once")
		snap, err := failover.ReadSnapshot(r.cfg.StatePath)
		require.NoError(t, err)
		assert.Equal(t, "primary", snap.Active, "persisted")

		// The second outage switches again.
		r.primary.Fail(nil)
		for range r.cfg.Policy.FailAfter {
			tick(t, a)
		}
		assert.Equal(t, "backup", a.Snapshot().Active)
		assert.Equal(t, []string{"primary", "backup", "backup"}, rec.Targets())
		assert.Equal(t, 2, r.notes.Count(failover.EventSwitchDone)-1, "two failovers after the converging switch")
	})
}

// TestReconcileChangesNothing: answers that do not name exactly one other
// node leave the recorded active node, and switch nothing.
func TestReconcileChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		set   func(*failovertest.Record)
		calls bool // whether Current is asked
		cfg   func(*failover.Config)
	}{
		{name: "unknown address", set: func(rec *failovertest.Record) { rec.Set(netip.MustParseAddr("198.51.100.9")) }, calls: true},
		{name: "no address", set: func(rec *failovertest.Record) { rec.Set() }, calls: true},
		{name: "both nodes", set: func(rec *failovertest.Record) { rec.Set(primaryAddr, backupAddr) }, calls: true},
		{name: "error", set: func(rec *failovertest.Record) { rec.Set(primaryAddr); rec.FailCurrent(nil) }, calls: true},
		{name: "no reconcile", set: func(rec *failovertest.Record) { rec.Set(primaryAddr) },
			cfg: func(c *failover.Config) { c.NoReconcile = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r, rec := newRecordRig(t)
				if tc.cfg != nil {
					tc.cfg(&r.cfg)
				}
				a := r.arbiter(t)
				converge(t, a)
				failOver(t, r, a)
				calls := rec.CurrentCalls()
				if tc.calls {
					assert.Positive(t, calls, "asked after the switches")
				} else {
					assert.Zero(t, calls)
				}

				tc.set(rec)
				for range 3 {
					rep := tick(t, a)
					assert.Equal(t, "backup", rep.Active)
					assert.Empty(t, rep.Events)
				}
				if tc.calls {
					assert.Equal(t, calls+3, rec.CurrentCalls(), "asked every round")
				} else {
					assert.Zero(t, rec.CurrentCalls())
				}
				assert.Zero(t, r.notes.Count(failover.EventActiveChanged))
				assert.Equal(t, []string{"primary", "backup"}, rec.Targets())
			})
		})
	}
}

// TestReconcileNotWhilePending: while a switch is pending, the record is
// not asked, even where it names another node: the intent decides.
func TestReconcileNotWhilePending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, rec := newRecordRig(t)
		r.cfg.Switchers = []failover.Switcher{rec, r.sw}
		a := r.arbiter(t)
		converge(t, a)

		r.sw.FailAlways(nil)
		r.primary.Fail(nil)
		for range r.cfg.Policy.FailAfter {
			tick(t, a)
		}
		require.NotNil(t, a.Snapshot().Pending)
		require.Equal(t, "primary", a.Snapshot().Active)
		calls := rec.CurrentCalls()

		rec.Set(backupAddr) // the record's part of the switch was applied
		for range 3 {
			rep := tick(t, a)
			assert.Equal(t, "primary", rep.Active)
		}
		assert.Equal(t, calls, rec.CurrentCalls(), "not asked while the switch is pending")
		assert.Zero(t, r.notes.Count(failover.EventActiveChanged))

		r.sw.Heal()
		rep := tick(t, a)
		assert.True(t, rep.Switched)
		assert.Equal(t, "backup", rep.Active)
		tick(t, a)
		assert.Equal(t, calls+1, rec.CurrentCalls(), "asked again once the switch is done")
		assert.Zero(t, r.notes.Count(failover.EventActiveChanged), "the record agrees")
	})
}
