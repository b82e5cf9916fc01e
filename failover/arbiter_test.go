package failover_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/failover/failovertest"
	"github.com/understudy-ha/understudy/health"
)

const interval = 10 * time.Second

// rig is a two-node setup (primary preferred, backup) with one fake check
// per node, a recording switcher and a recording notifier.
type rig struct {
	primary, backup *failovertest.Checker
	sw              *failovertest.Switcher
	notes           *failovertest.Notifier
	cfg             failover.Config
}

func newRig(statePath string) *rig {
	r := &rig{
		primary: &failovertest.Checker{},
		backup:  &failovertest.Checker{},
		sw:      &failovertest.Switcher{},
		notes:   &failovertest.Notifier{},
	}
	r.cfg = failover.Config{
		Policy: failover.Policy{
			Nodes: []failover.Node{
				{Name: "primary", Address: netip.MustParseAddr("192.0.2.1"), Priority: 100},
				{Name: "backup", Address: netip.MustParseAddr("192.0.2.2"), Priority: 50},
			},
			FailAfter: 3,
			RiseAfter: 2,
		},
		Checks: []failover.Check{
			{CheckSpec: failover.CheckSpec{Name: "primary-http", Node: "primary"}, Checker: r.primary},
			{CheckSpec: failover.CheckSpec{Name: "backup-http", Node: "backup"}, Checker: r.backup},
		},
		Switchers:     []failover.Switcher{r.sw},
		Notifiers:     []failover.Notifier{r.notes},
		StatePath:     statePath,
		Interval:      interval,
		CheckTimeout:  2 * time.Second,
		SwitchTimeout: 5 * time.Second,
	}
	return r
}

func (r *rig) arbiter(t *testing.T) *failover.Arbiter {
	t.Helper()
	a, err := failover.New(r.cfg)
	require.NoError(t, err)
	return a
}

func tick(t *testing.T, a *failover.Arbiter) failover.RoundReport {
	t.Helper()
	rep, err := a.Tick(t.Context())
	require.NoError(t, err)
	return rep
}

// converge runs the first round with every check passing: with no active
// node recorded, the Policy settles on the primary.
func converge(t *testing.T, a *failover.Arbiter) {
	t.Helper()
	rep := tick(t, a)
	require.Equal(t, "primary", rep.Active, "first round converges on the primary")
}

func kinds(evs []failover.Event) []failover.EventKind {
	out := make([]failover.EventKind, len(evs))
	for i, e := range evs {
		out[i] = e.Kind
	}
	return out
}

func TestRunFailoverAndFailback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig("")
		a := r.arbiter(t)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- a.Run(ctx) }()

		// waitRound lets fake time reach the next round and waits until
		// the loop is idle again; it returns the kinds notified since the
		// previous call.
		seen := 0
		waitRound := func(first bool) []failover.EventKind {
			if !first {
				time.Sleep(interval)
			}
			synctest.Wait()
			all := r.notes.Kinds()
			out := all[seen:]
			seen = len(all)
			return out
		}

		assert.Equal(t, []failover.EventKind{failover.EventSwitchIntended, failover.EventSwitchDone}, waitRound(true), "round 1 converges")
		assert.Equal(t, []string{"primary"}, r.sw.Targets())

		r.primary.Fail(nil)
		assert.Equal(t, []failover.EventKind{failover.EventCheckWarn}, waitRound(false), "round 2: first failure")
		assert.Empty(t, waitRound(false), "round 3: second failure")
		assert.Equal(t, []failover.EventKind{failover.EventCheckDown, failover.EventNodeDown, failover.EventSwitchIntended, failover.EventSwitchDone},
			waitRound(false), "round 4: third failure switches")
		assert.Equal(t, []string{"primary", "backup"}, r.sw.Targets(), "exactly one switch to the backup")
		assert.Equal(t, "backup", a.Snapshot().Active)
		assert.Empty(t, waitRound(false), "round 5: backup active, primary still down")

		r.primary.Pass()
		assert.Empty(t, waitRound(false), "round 6: one success is not enough (RiseAfter 2)")
		assert.Equal(t, []failover.EventKind{failover.EventCheckUp, failover.EventNodeUp, failover.EventSwitchIntended, failover.EventSwitchDone},
			waitRound(false), "round 7: automatic failback")
		assert.Equal(t, []string{"primary", "backup", "primary"}, r.sw.Targets())
		assert.Equal(t, "primary", a.Snapshot().Active)
		assert.Equal(t, 6*interval, time.Since(start), "rounds ran every interval")

		cancel()
		assert.NoError(t, <-done, "Run returns nil when its context ends")
	})
}

func TestSwitchRetriedWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig("")
		a := r.arbiter(t)
		converge(t, a)
		r.primary.Fail(nil)
		tick(t, a)
		tick(t, a)
		r.sw.FailNext(2, nil)
		start := time.Now()
		rep := tick(t, a)

		assert.True(t, rep.Switched)
		assert.NoError(t, rep.SwitchErr)
		assert.Equal(t, "backup", rep.Active)
		calls := r.sw.Calls()[1:] // after the converging call
		require.Len(t, calls, 3)
		var offsets []time.Duration
		for _, c := range calls {
			assert.Equal(t, "backup", c.To)
			offsets = append(offsets, c.Time.Sub(start))
		}
		assert.Equal(t, []time.Duration{0, time.Second, 3 * time.Second}, offsets, "backoff 1s then 2s")
		assert.ErrorIs(t, calls[0].Err, failovertest.ErrInjected)
		assert.NoError(t, calls[2].Err)
		assert.Equal(t, 1, countKind(rep.Events, failover.EventSwitchDone))
		assert.Zero(t, countKind(rep.Events, failover.EventSwitchFailed))
	})
}

func countKind(evs []failover.Event, k failover.EventKind) int {
	n := 0
	for _, e := range evs {
		if e.Kind == k {
			n++
		}
	}
	return n
}

func TestSwitchFailureNotifiedOnceAndRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig("")
		first := &failovertest.Switcher{}
		r.cfg.Switchers = []failover.Switcher{first, r.sw}
		a := r.arbiter(t)
		converge(t, a)

		r.sw.FailAlways(nil)
		r.primary.Fail(nil)
		tick(t, a)
		tick(t, a)
		for round := range 6 {
			rep := tick(t, a)
			assert.False(t, rep.Switched, "round %d", round)
			var se *failover.SwitchError
			require.ErrorAs(t, rep.SwitchErr, &se, "round %d", round)
			assert.Equal(t, 1, se.Index, "the second switcher failed")
			assert.Equal(t, "backup", se.To)
			assert.ErrorIs(t, rep.SwitchErr, failovertest.ErrInjected)
			assert.Equal(t, "primary", rep.Active, "traffic has not moved")
		}
		toBackup := func(k failover.EventKind) int {
			n := 0
			for _, e := range r.notes.Events() {
				if e.Kind == k && e.To == "backup" {
					n++
				}
			}
			return n
		}
		assert.Equal(t, 1, toBackup(failover.EventSwitchIntended), "the intent is made once")
		assert.Equal(t, 1, toBackup(failover.EventSwitchFailed), "the failure is notified once")
		assert.Zero(t, r.notes.Count(failover.EventSwitchResumed), "a retry is not a resume")
		assert.Len(t, r.sw.Calls(), 1+6*failover.DefaultSwitchRetries, "every round retries, each with 3 attempts")

		snap := a.Snapshot()
		require.NotNil(t, snap.Pending, "the intent is kept")
		assert.Equal(t, "backup", snap.Pending.To)
		assert.Equal(t, 6, snap.Pending.Failures)
		assert.Contains(t, snap.Pending.LastErr, "switcher 1")

		r.sw.Heal()
		rep := tick(t, a)
		assert.True(t, rep.Switched)
		assert.Equal(t, "backup", rep.Active)
		assert.Nil(t, a.Snapshot().Pending)
		assert.Equal(t, 1, toBackup(failover.EventSwitchFailed))
		assert.Equal(t, 1, toBackup(failover.EventSwitchDone))

		tick(t, a)
		assert.Equal(t, 1, toBackup(failover.EventSwitchDone), "no switch once done")
		assert.Equal(t, 2, r.notes.Count(failover.EventSwitchDone), "the converging switch and this one")
	})
}

func TestChecksRunConcurrently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig("")
		r.cfg.Checks = nil
		for i := range 10 {
			c := &failovertest.Checker{}
			c.Delay(time.Second)
			r.cfg.Checks = append(r.cfg.Checks, failover.Check{
				CheckSpec: failover.CheckSpec{Name: fmt.Sprintf("c%d", i), Node: "primary"}, Checker: c})
		}
		a := r.arbiter(t)
		start := time.Now()
		rep := tick(t, a)
		assert.Equal(t, time.Second, time.Since(start), "ten 1s checks take 1s together")
		require.Len(t, rep.Results, 10)
		for i, res := range rep.Results {
			assert.Equal(t, fmt.Sprintf("c%d", i), res.Name, "results in configuration order")
			assert.NoError(t, res.Err)
			assert.Equal(t, time.Second, res.Latency)
		}
	})
}

func TestCheckTimeout(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration // the check's own; 0 inherits CheckTimeout (2s)
		checker func(release <-chan struct{}) health.Checker
	}{
		{"honours its context", 0, func(<-chan struct{}) health.Checker {
			c := &failovertest.Checker{}
			c.Hang(true)
			return c
		}},
		{"own timeout", 500 * time.Millisecond, func(<-chan struct{}) health.Checker {
			c := &failovertest.Checker{}
			c.Hang(true)
			return c
		}},
		{"ignores its context", 0, func(release <-chan struct{}) health.Checker {
			return health.CheckerFunc(func(context.Context) error { <-release; return nil })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				defer close(release)
				r := newRig("")
				r.cfg.Checks[0].Checker = tt.checker(release)
				r.cfg.Checks[0].Timeout = tt.timeout
				a := r.arbiter(t)
				rep := tick(t, a)
				require.Len(t, rep.Results, 2)
				assert.ErrorIs(t, rep.Results[0].Err, context.DeadlineExceeded)
				assert.NoError(t, rep.Results[1].Err, "the other check is unaffected")
				want := tt.timeout
				if want == 0 {
					want = r.cfg.CheckTimeout
				}
				assert.GreaterOrEqual(t, rep.Results[0].Latency, want)
				assert.Less(t, rep.Results[0].Latency, interval, "the round does not wait past the timeout and its grace")
				fails := a.Snapshot().Checks[0]
				assert.Contains(t, fails.Last.Err, "deadline exceeded")
			})
		})
	}
}

func TestDegradedCountsAsUpWithANote(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig("")
		a := r.arbiter(t)
		converge(t, a)
		r.primary.Fail(fmt.Errorf("mysql check 127.0.0.1:3306: %w: too many connections", health.ErrDegraded))
		var rep failover.RoundReport
		for range 4 {
			rep = tick(t, a)
		}
		assert.NoError(t, rep.Results[0].Err, "degraded is alive")
		assert.Contains(t, rep.Results[0].Note, "too many connections")
		assert.Empty(t, rep.Events, "no warning, no failover")
		snap := a.Snapshot()
		assert.Equal(t, "primary", snap.Active)
		assert.Zero(t, snap.Checks[0].Fails)
		assert.Equal(t, failover.StatusUp, snap.Checks[0].Status)
		assert.Contains(t, snap.Checks[0].Last.Note, "too many connections")
		assert.Empty(t, snap.Checks[0].Last.Err)
	})
}

func TestTickCancelledDuringChecksCountsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig("")
		a := r.arbiter(t)
		converge(t, a)
		r.primary.Hang(true)
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() {
			_, err := a.Tick(ctx)
			errc <- err
		}()
		synctest.Wait()
		cancel()
		assert.ErrorIs(t, <-errc, context.Canceled)
		assert.Zero(t, a.Snapshot().Checks[0].Fails, "a check cut short by shutdown is no failure")
	})
}

func TestConcurrentTicksExclude(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state.json")
		entered, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		r1 := newRig(path)
		r1.cfg.Checks[0].Checker = health.CheckerFunc(func(context.Context) error {
			once.Do(func() { close(entered) })
			<-release
			return nil
		})
		a1 := r1.arbiter(t)
		a2 := newRig(path).arbiter(t)

		errc := make(chan error, 1)
		go func() {
			_, err := a1.Tick(t.Context())
			errc <- err
		}()
		<-entered
		_, err := a2.Tick(t.Context())
		assert.ErrorIs(t, err, failover.ErrLocked, "a tick does not wait")

		// Shorter than the check's timeout, after which a1 would give up on
		// its hung check and finish its round.
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		err = a2.Switch(ctx, "backup", true)
		assert.ErrorIs(t, err, failover.ErrLocked, "a manual switch waits, until its context ends")
		assert.ErrorIs(t, err, context.DeadlineExceeded)

		close(release)
		require.NoError(t, <-errc)
		snap, err := failover.ReadSnapshot(path)
		require.NoError(t, err)
		assert.Equal(t, "primary", snap.Active, "a1's round completed")
		require.NoError(t, a2.Switch(t.Context(), "backup", false), "the lock is free again")
		snap, err = failover.ReadSnapshot(path)
		require.NoError(t, err)
		assert.Equal(t, "backup", snap.Active)
	})
}

func TestManualSwitch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(filepath.Join(t.TempDir(), "state.json"))
		a := r.arbiter(t)
		converge(t, a)
		r.backup.Fail(nil)
		for range 3 {
			tick(t, a)
		}
		require.Equal(t, failover.StatusDown, a.Snapshot().Nodes[1].Status)

		err := a.Switch(t.Context(), "backup", false)
		assert.ErrorIs(t, err, failover.ErrUnsafe, "the target is down")
		assert.Equal(t, []string{"primary"}, r.sw.Targets(), "no switcher ran")

		err = a.Switch(t.Context(), "nowhere", true)
		assert.ErrorIs(t, err, failover.ErrUnknownNode)

		require.NoError(t, a.Switch(t.Context(), "backup", true))
		assert.Equal(t, []string{"primary", "backup"}, r.sw.Targets())
		snap, err := failover.ReadSnapshot(r.cfg.StatePath)
		require.NoError(t, err)
		assert.Equal(t, "backup", snap.Active)
		assert.Nil(t, snap.Pending)
		last := snap.Events[len(snap.Events)-2:]
		assert.Equal(t, []failover.EventKind{failover.EventSwitchIntended, failover.EventSwitchDone}, kinds(last))
		assert.Equal(t, "backup", last[1].To)

	})
}

func TestManualSwitchFailureKeepsIntent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig("")
		r.cfg.Policy.Failback = failover.FailbackManual // or the next round fails back at once
		a := r.arbiter(t)
		converge(t, a)
		r.sw.FailAlways(nil)
		err := a.Switch(t.Context(), "backup", false)
		var se *failover.SwitchError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, "backup", se.To)
		require.NotNil(t, a.Snapshot().Pending)

		r.sw.Heal()
		rep := tick(t, a)
		assert.True(t, rep.Switched, "the next round completes the manual switch")
		assert.Equal(t, "backup", a.Snapshot().Active)
	})
}

func TestNotifierFailuresAreNotFatal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		r := newRig("")
		failing := &failovertest.Notifier{Err: errors.New("smtp: connection refused")}
		hung := notifierFunc(func(context.Context, failover.Event) error { <-release; return nil })
		r.cfg.Notifiers = []failover.Notifier{failing, hung, r.notes}
		r.cfg.NotifyTimeout = time.Second
		a := r.arbiter(t)
		converge(t, a)
		assert.Equal(t, []failover.EventKind{failover.EventSwitchIntended, failover.EventSwitchDone}, r.notes.Kinds())
		assert.Equal(t, r.notes.Kinds(), failing.Kinds())
	})
}

type notifierFunc func(context.Context, failover.Event) error

func (f notifierFunc) Notify(ctx context.Context, e failover.Event) error { return f(ctx, e) }

func TestOnEventSeesEventsInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig("")
		var got []failover.Event
		r.cfg.OnEvent = func(e failover.Event) { got = append(got, e) }
		r.cfg.EventHistory = 3
		a := r.arbiter(t)
		converge(t, a)
		r.primary.Fail(nil)
		for range 3 {
			tick(t, a)
		}
		assert.Equal(t, r.notes.Kinds(), kinds(got))
		for _, e := range got {
			assert.False(t, e.Time.IsZero(), "%s has a time", e.Kind)
		}
		hist := a.Snapshot().Events
		assert.Equal(t, got[len(got)-3:], hist, "history keeps the last EventHistory events")
	})
}

func TestCheckAllLeavesStateAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig("")
		r.primary.Fail(nil)
		a := r.arbiter(t)
		res := a.CheckAll(t.Context())
		require.Len(t, res, 2)
		assert.ErrorIs(t, res[0].Err, failovertest.ErrInjected)
		assert.Equal(t, "primary-http", res[0].Name)
		assert.Equal(t, "primary", res[0].Node)
		assert.NoError(t, res[1].Err)
		snap := a.Snapshot()
		assert.True(t, snap.LastRound.IsZero())
		assert.Zero(t, snap.Checks[0].Fails)
		assert.Empty(t, r.sw.Calls())
	})
}

func TestConfigValidate(t *testing.T) {
	ok := func() failover.Config { return newRig("").cfg }
	tests := []struct {
		name   string
		modify func(*failover.Config)
	}{
		{"timeout longer than interval", func(c *failover.Config) { c.CheckTimeout = 20 * time.Second }},
		{"timeout equal to interval", func(c *failover.Config) { c.CheckTimeout = c.Interval }},
		{"default timeout over short interval", func(c *failover.Config) { c.CheckTimeout, c.Interval = 0, 5*time.Second }},
		{"check timeout longer than interval", func(c *failover.Config) { c.Checks[0].Timeout = time.Minute }},
		{"negative interval", func(c *failover.Config) { c.Interval = -time.Second }},
		{"negative retries", func(c *failover.Config) { c.SwitchRetries = -1 }},
		{"no checker", func(c *failover.Config) { c.Checks[1].Checker = nil }},
		{"unnamed check", func(c *failover.Config) { c.Checks[1].Name = "" }},
		{"duplicate check", func(c *failover.Config) { c.Checks[1].Name = c.Checks[0].Name }},
		{"nil switcher", func(c *failover.Config) { c.Switchers = append(c.Switchers, nil) }},
		{"nil notifier", func(c *failover.Config) { c.Notifiers = append(c.Notifiers, nil) }},
		{"policy checks set", func(c *failover.Config) { c.Policy.Checks = []failover.CheckSpec{{Name: "x"}} }},
	}
	require.NoError(t, ok().Validate())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok()
			c.Checks = append([]failover.Check(nil), c.Checks...)
			tt.modify(&c)
			assert.ErrorIs(t, c.Validate(), failover.ErrInvalidConfig)
			_, err := failover.New(c)
			assert.ErrorIs(t, err, failover.ErrInvalidConfig)
		})
	}
	t.Run("message", func(t *testing.T) {
		c := ok()
		c.CheckTimeout = time.Minute
		assert.ErrorContains(t, c.Validate(), "timeout 1m0s longer than interval 10s")
	})
	t.Run("policy", func(t *testing.T) {
		c := ok()
		c.Policy.Nodes = nil
		err := c.Validate()
		assert.ErrorContains(t, err, "policy", "the Policy's own validation runs")
	})
}

// permanentErr is a switcher error that says retrying cannot help.
type permanentErr struct{}

func (permanentErr) Error() string   { return "bad token" }
func (permanentErr) Permanent() bool { return true }

func TestPermanentSwitchErrorNotRetriedWithinRound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig("")
		a := r.arbiter(t)
		converge(t, a)
		before := len(r.sw.Calls())

		r.sw.FailAlways(fmt.Errorf("update: %w", permanentErr{}))
		r.primary.Fail(nil)
		tick(t, a)
		tick(t, a)
		rep := tick(t, a) // the third failure: switch intended, switcher refuses
		require.Error(t, rep.SwitchErr)
		assert.True(t, failover.IsPermanent(rep.SwitchErr))
		assert.Len(t, r.sw.Calls(), before+1, "one attempt, not %d", failover.DefaultSwitchRetries)

		tick(t, a) // the next round tries again, once
		assert.Len(t, r.sw.Calls(), before+2)
	})
}

func TestIsPermanent(t *testing.T) {
	assert.True(t, failover.IsPermanent(fmt.Errorf("x: %w", permanentErr{})))
	assert.False(t, failover.IsPermanent(errors.New("timeout")))
	assert.False(t, failover.IsPermanent(nil))
}

// A check that ignores its context is abandoned, and the round ends.
func TestHungCheckAbandonedOneGoroutinePerCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig("")
		release := make(chan struct{})
		r.cfg.Checks[1].Checker = health.CheckerFunc(func(context.Context) error { <-release; return nil })
		a := r.arbiter(t)
		start := time.Now()
		rep := tick(t, a)
		assert.Equal(t, r.cfg.CheckTimeout+100*time.Millisecond, time.Since(start), "abandoned after the timeout and the grace")
		require.Len(t, rep.Results, 2)
		assert.NoError(t, rep.Results[0].Err)
		assert.ErrorIs(t, rep.Results[1].Err, context.DeadlineExceeded)
		close(release)
	})
}

// TestPendingSwitchToDownNodeIsNotCarriedOut: a switch to the backup keeps
// failing, and meanwhile the backup goes down too. Once the switchers work
// again, the arbiter must not move the traffic to a node it knows is down;
// when the active node recovers, the intent is abandoned by switching back
// to it (undoing whatever part of the switch the switchers had applied).
func TestPendingSwitchToDownNodeIsNotCarriedOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig("")
		a := r.arbiter(t)
		converge(t, a)

		r.sw.FailAlways(nil)
		r.primary.Fail(nil)
		for range 3 {
			tick(t, a)
		}
		require.NotNil(t, a.Snapshot().Pending, "the switch to the backup failed and is pending")
		r.backup.Fail(nil)
		for range 3 {
			tick(t, a)
		}
		require.Equal(t, failover.StatusDown, a.Snapshot().Nodes[1].Status, "backup known down")

		r.sw.Heal()
		calls := len(r.sw.Calls())
		rep := tick(t, a)
		assert.False(t, rep.Switched, "no switch to a node known to be down")
		assert.Len(t, r.sw.Calls(), calls, "no switcher ran")
		assert.Equal(t, "primary", rep.Active)
		require.NotNil(t, a.Snapshot().Pending, "the intent is kept while no node is up")
		assert.Equal(t, "backup", a.Snapshot().Pending.To)

		r.primary.Pass()
		tick(t, a)
		rep = tick(t, a)
		assert.True(t, rep.Switched, "switched back to the recovered active node")
		assert.Equal(t, "primary", rep.Active)
		assert.Equal(t, "primary", r.sw.Current())
		assert.Nil(t, a.Snapshot().Pending, "the intent to the down backup is gone")
		assert.NotContains(t, r.sw.Targets()[calls:], "backup")

		tick(t, a)
		assert.Equal(t, "primary", r.sw.Current(), "and it stays there")
	})
}

// TestPendingSwitchWaitsWhileIsolated: a failing switch is not retried
// while the witness checks say this arbiter may be cut off; it is carried
// out in the round in which a witness passes again.
func TestPendingSwitchWaitsWhileIsolated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig("")
		witness := &failovertest.Checker{}
		r.cfg.Checks = append(r.cfg.Checks, failover.Check{
			CheckSpec: failover.CheckSpec{Name: "witness", Role: failover.RoleWitness}, Checker: witness})
		a := r.arbiter(t)
		converge(t, a)

		r.sw.FailAlways(nil)
		r.primary.Fail(nil)
		for range 3 {
			tick(t, a)
		}
		require.NotNil(t, a.Snapshot().Pending)
		witness.Fail(nil)
		tick(t, a)
		require.True(t, a.Snapshot().Isolated)

		r.sw.Heal()
		calls := len(r.sw.Calls())
		rep := tick(t, a)
		assert.False(t, rep.Switched, "no switch while isolated")
		assert.Len(t, r.sw.Calls(), calls, "no switcher ran while isolated")
		require.NotNil(t, a.Snapshot().Pending, "the intent is kept")

		witness.Pass()
		rep = tick(t, a)
		assert.True(t, rep.Switched, "carried out once the witness passes")
		assert.Equal(t, "backup", rep.Active)
		assert.Nil(t, a.Snapshot().Pending)
		assert.Equal(t, []string{"backup"}, r.sw.Targets()[calls:])
	})
}

// TestManualSwitchToActiveCancelsPendingSwitch: with a switch to the
// backup pending (failing), an operator asking for the active node gets
// it: the switchers point everything back at it and the intent is gone,
// instead of "already active" leaving the intent to be resumed.
func TestManualSwitchToActiveCancelsPendingSwitch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig("")
		a := r.arbiter(t)
		converge(t, a)
		r.sw.FailAlways(nil)
		r.primary.Fail(nil)
		for range 3 {
			tick(t, a)
		}
		require.NotNil(t, a.Snapshot().Pending)

		r.sw.Heal()
		assert.ErrorIs(t, a.Switch(t.Context(), "primary", false), failover.ErrUnsafe,
			"the primary is down: not \"already active\", and refused unless forced")
		require.NotNil(t, a.Snapshot().Pending)
		require.NoError(t, a.Switch(t.Context(), "primary", true))
		assert.Nil(t, a.Snapshot().Pending, "the operator's choice replaces the intent")
		assert.Equal(t, "primary", a.Snapshot().Active)
		assert.Equal(t, "primary", r.sw.Current(), "the switchers ran toward the active node")
	})
}
