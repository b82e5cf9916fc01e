package failover_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/health"
)

// stuckNotifier is a notifier whose every call hangs: until gate is
// closed (if set), or until its context ends, like a mail relay that
// accepts the connection and never answers. It records what it was given.
type stuckNotifier struct {
	gate chan struct{}

	mu      sync.Mutex
	started []failover.EventKind
	ended   []failover.EventKind
}

func (n *stuckNotifier) Notify(ctx context.Context, e failover.Event) error {
	n.mu.Lock()
	n.started = append(n.started, e.Kind)
	n.mu.Unlock()
	var err error
	select {
	case <-n.gate: // a nil gate never opens
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err == nil {
		n.mu.Lock()
		n.ended = append(n.ended, e.Kind)
		n.mu.Unlock()
	}
	return err
}

// calls returns the kinds the notifier was called with, and those of the
// calls that completed.
func (n *stuckNotifier) calls() (started, completed []failover.EventKind) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]failover.EventKind(nil), n.started...), append([]failover.EventKind(nil), n.ended...)
}

// slowNotifier takes delay per event, then records it: a mail relay that
// works, slowly.
type slowNotifier struct {
	delay time.Duration

	mu    sync.Mutex
	kinds []failover.EventKind
	at    []time.Time
}

func (n *slowNotifier) Notify(ctx context.Context, e failover.Event) error {
	t := time.NewTimer(n.delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.kinds = append(n.kinds, e.Kind)
	n.at = append(n.at, time.Now())
	return nil
}

func (n *slowNotifier) got() ([]failover.EventKind, []time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]failover.EventKind(nil), n.kinds...), append([]time.Time(nil), n.at...)
}

// roundClock wraps the first check of r so that it records when each
// round ran.
func roundClock(r *rig) func() []time.Time {
	var mu sync.Mutex
	var starts []time.Time
	inner := r.cfg.Checks[0].Checker
	r.cfg.Checks[0].Checker = health.CheckerFunc(func(ctx context.Context) error {
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		return inner.Check(ctx)
	})
	return func() []time.Time {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Time(nil), starts...)
	}
}

func startRun(t *testing.T, a *failover.Arbiter) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return func() error {
		cancel()
		return <-done
	}
}

var failoverKinds = []failover.EventKind{failover.EventCheckDown, failover.EventNodeDown, failover.EventSwitchIntended, failover.EventSwitchDone}

// A notifier that never answers neither delays the rounds nor a manual
// switch nor the other notifiers (daemon mode).
func TestHungNotifierDelaysNeitherRoundsNorSwitchNorOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig("")
		stuck := &stuckNotifier{}
		r.cfg.Notifiers = []failover.Notifier{stuck, r.notes}
		rounds := roundClock(r)
		a := r.arbiter(t)
		start := time.Now()
		stop := startRun(t, a)

		synctest.Wait()
		assert.Equal(t, []failover.EventKind{failover.EventSwitchIntended, failover.EventSwitchDone}, r.notes.Kinds(),
			"the healthy notifier has round 1's events at once")
		r.primary.Fail(nil)
		for range 3 {
			time.Sleep(interval)
			synctest.Wait()
		}
		assert.Equal(t, append([]failover.EventKind{failover.EventSwitchIntended, failover.EventSwitchDone, failover.EventCheckWarn}, failoverKinds...),
			r.notes.Kinds(), "round 4's failover reached the healthy notifier in the round's instant, in order")
		for range 2 {
			time.Sleep(interval)
			synctest.Wait()
		}
		got := rounds()
		require.Len(t, got, 6)
		for i, at := range got {
			assert.Equal(t, time.Duration(i)*interval, at.Sub(start), "round %d on time", i+1)
		}

		before := time.Now()
		require.NoError(t, a.Switch(t.Context(), "primary", true), "manual switch back")
		assert.Zero(t, time.Since(before), "the manual switch did not wait for the stuck notifier")
		assert.Equal(t, "primary", a.Snapshot().Active)
		synctest.Wait()
		evs := r.notes.Kinds()
		assert.Equal(t, []failover.EventKind{failover.EventSwitchIntended, failover.EventSwitchDone}, evs[len(evs)-2:])

		started, completed := stuck.calls()
		assert.Empty(t, completed)
		assert.Equal(t, r.notes.Kinds()[:len(started)], started, "the stuck notifier is called in order, one event at a time")
		assert.Len(t, started, 6, "one call per NotifyTimeout, over the 50s of fake time")

		require.NoError(t, stop())
		assert.NotZero(t, a.DroppedNotifications(), "what the stuck notifier never got is counted")
	})
}

// Cron mode: Tick and Switch, outside Run, return once every notifier has
// been called with each of their events, so that `understudy tick` exits
// having told everyone.
func TestTickAndSwitchDeliverBeforeReturning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig("")
		r.cfg.Policy.Failback = failover.FailbackManual
		slow := &slowNotifier{delay: 3 * time.Second}
		r.cfg.Notifiers = []failover.Notifier{slow, r.notes}
		a := r.arbiter(t)

		start := time.Now()
		converge(t, a)
		kinds, at := slow.got()
		assert.Equal(t, []failover.EventKind{failover.EventSwitchIntended, failover.EventSwitchDone}, kinds)
		assert.Equal(t, []time.Duration{3 * time.Second, 6 * time.Second}, []time.Duration{at[0].Sub(start), at[1].Sub(start)},
			"one event after the other, each within NotifyTimeout")

		r.primary.Fail(nil)
		for range 3 {
			tick(t, a)
		}
		kinds, _ = slow.got()
		assert.Equal(t, r.notes.Kinds(), kinds, "every event of every tick, in order")
		assert.Equal(t, failoverKinds, kinds[len(kinds)-4:])

		r.primary.Pass()
		require.NoError(t, a.Switch(t.Context(), "primary", true))
		kinds, _ = slow.got()
		assert.Equal(t, []failover.EventKind{failover.EventSwitchIntended, failover.EventSwitchDone}, kinds[len(kinds)-2:],
			"the manual switch's events too")
		assert.Zero(t, a.DroppedNotifications())
	})
}

// A full queue loses its oldest waiting event; the other notifiers get
// everything.
func TestNotifyQueueOverflowDropsOldest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig("")
		gate := make(chan struct{})
		stuck := &stuckNotifier{gate: gate}
		r.cfg.Notifiers = []failover.Notifier{stuck, r.notes}
		r.cfg.NotifyQueue = 2
		r.cfg.NotifyTimeout = time.Hour // the gate, not the timeout, lets events through
		a := r.arbiter(t)
		stop := startRun(t, a)

		synctest.Wait() // round 1: switch_intended in the call, switch_done waiting
		r.primary.Fail(nil)
		for range 3 { // rounds 2 to 4: check_warn, nothing, the four of the failover
			time.Sleep(interval)
			synctest.Wait()
		}
		assert.Equal(t, uint64(2), a.DroppedNotifications(),
			"seven events: one in the call, round 1's switch_done and round 2's check_warn pushed out by round 4's four")
		close(gate)
		synctest.Wait()
		_, completed := stuck.calls()
		assert.Equal(t, append([]failover.EventKind{failover.EventSwitchIntended}, failoverKinds...),
			completed, "the call under way, then the newest events")
		assert.Equal(t, append([]failover.EventKind{failover.EventSwitchIntended, failover.EventSwitchDone, failover.EventCheckWarn}, failoverKinds...),
			r.notes.Kinds(), "the healthy notifier lost nothing")
		require.NoError(t, stop())
		assert.Equal(t, uint64(2), a.DroppedNotifications())
	})
}

// Run, when its context ends, lets the notifiers catch up for up to
// NotifyTimeout, then abandons the rest. No goroutine of the arbiter
// outlives it (synctest would fail the test).
func TestRunDrainsNotificationsOnReturn(t *testing.T) {
	t.Run("slow notifier catches up", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newRig("")
			slow := &slowNotifier{delay: 3 * time.Second}
			r.cfg.Notifiers = []failover.Notifier{slow}
			a := r.arbiter(t)
			stop := startRun(t, a)
			synctest.Wait()
			kinds, _ := slow.got()
			assert.Empty(t, kinds, "round 1 is over; its events are still on their way")

			start := time.Now()
			require.NoError(t, stop())
			assert.Equal(t, 6*time.Second, time.Since(start), "Run waited for both events")
			kinds, _ = slow.got()
			assert.Equal(t, []failover.EventKind{failover.EventSwitchIntended, failover.EventSwitchDone}, kinds)
			assert.Zero(t, a.DroppedNotifications())
		})
	})
	t.Run("stuck notifier is abandoned", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newRig("")
			stuck := &stuckNotifier{}
			r.cfg.Notifiers = []failover.Notifier{stuck, r.notes}
			a := r.arbiter(t)
			stop := startRun(t, a)
			time.Sleep(5 * time.Second) // between two calls' timeouts

			start := time.Now()
			require.NoError(t, stop())
			assert.Equal(t, failover.DefaultNotifyTimeout, time.Since(start), "Run waited NotifyTimeout, no longer")
			started, _ := stuck.calls()
			assert.Equal(t, []failover.EventKind{failover.EventSwitchIntended, failover.EventSwitchDone}, started,
				"the first call timed out, the second was cut short")
			assert.Equal(t, uint64(1), a.DroppedNotifications())
			assert.Equal(t, []failover.EventKind{failover.EventSwitchIntended, failover.EventSwitchDone}, r.notes.Kinds())
		})
	})
}
