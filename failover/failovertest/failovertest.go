// Package failovertest provides fakes for testing code built on package
// failover: a [Switcher] that records its calls and fails on demand, a
// [Checker] whose result the test sets, a [Notifier] that records events,
// and a [Record] that reads back where it points (a [failover.Currenter]).
//
// Every fake is safe for concurrent use, records time with time.Now (so
// inside a testing/synctest bubble it records fake time), and honours its
// context.
package failovertest

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/health"
)

// ErrInjected is the error the fakes return when told to fail without a
// more specific error.
var ErrInjected = errors.New("failovertest: injected failure")

// Compile-time guards.
var (
	_ failover.Switcher = (*Switcher)(nil)
	_ failover.Notifier = (*Notifier)(nil)
	_ health.Checker    = (*Checker)(nil)
)

// Call is one recorded call to a Switcher.
type Call struct {
	// To is the node the switch was asked for.
	To string
	// Time is when the call was made.
	Time time.Time
	// Err is what the call returned.
	Err error
}

// Switcher is a fake [failover.Switcher]. The zero value succeeds on every
// call; FailNext and FailAlways make it fail.
type Switcher struct {
	mu       sync.Mutex
	calls    []Call
	failNext int
	always   bool
	err      error
	current  string
}

// Switch records the call and fails if told to; on success the node
// becomes Current. It returns ctx's error if ctx is already done.
func (s *Switcher) Switch(ctx context.Context, to failover.Node) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := ctx.Err()
	switch {
	case err != nil:
	case s.always:
		err = s.failure()
	case s.failNext > 0:
		s.failNext--
		err = s.failure()
	default:
		s.current = to.Name
	}
	s.calls = append(s.calls, Call{To: to.Name, Time: time.Now(), Err: err})
	return err
}

func (s *Switcher) failure() error {
	if s.err != nil {
		return s.err
	}
	return ErrInjected
}

// FailNext makes the next n calls fail with err (ErrInjected if nil).
func (s *Switcher) FailNext(n int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext, s.err = n, err
}

// FailAlways makes every call fail with err (ErrInjected if nil) until
// Heal.
func (s *Switcher) FailAlways(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.always, s.err = true, err
}

// Heal makes the calls succeed again.
func (s *Switcher) Heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.always, s.failNext = false, 0
}

// Calls returns every call so far, in order.
func (s *Switcher) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Targets returns the node of every call so far, in order.
func (s *Switcher) Targets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.calls))
	for i, c := range s.calls {
		out[i] = c.To
	}
	return out
}

// Current returns the node of the last successful call, "" if none.
func (s *Switcher) Current() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current
}

// Checker is a fake [health.Checker]. The zero value passes; Fail and
// Pass set its result, Delay and Hang its speed.
type Checker struct {
	mu    sync.Mutex
	err   error
	delay time.Duration
	hang  bool
	calls int
}

// Check waits for the delay (or, hanging, for ctx) and returns the result
// set. If ctx ends first it returns ctx's error.
func (c *Checker) Check(ctx context.Context) error {
	c.mu.Lock()
	c.calls++
	err, delay, hang := c.err, c.delay, c.hang
	c.mu.Unlock()
	switch {
	case hang:
		<-ctx.Done()
		return ctx.Err()
	case delay > 0:
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return err
}

// Fail makes the following checks return err (ErrInjected if nil).
func (c *Checker) Fail(err error) {
	if err == nil {
		err = ErrInjected
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
}

// Pass makes the following checks pass.
func (c *Checker) Pass() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = nil
}

// Delay makes each check take d before returning its result.
func (c *Checker) Delay(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.delay = d
}

// Hang makes each check block until its context is done (hang true) or
// return normally again (false).
func (c *Checker) Hang(hang bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hang = hang
}

// Calls returns the number of checks run so far.
func (c *Checker) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// Notifier is a fake [failover.Notifier] that records the events it is
// given. Err, if set before use, is returned by every call.
type Notifier struct {
	// Err is returned by Notify (after recording the event).
	Err error

	mu     sync.Mutex
	events []failover.Event
}

// Notify records e and returns n.Err.
func (n *Notifier) Notify(ctx context.Context, e failover.Event) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.events = append(n.events, e)
	return n.Err
}

// Events returns the events notified so far, in order.
func (n *Notifier) Events() []failover.Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]failover.Event(nil), n.events...)
}

// Kinds returns the kinds of the events notified so far, in order.
func (n *Notifier) Kinds() []failover.EventKind {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]failover.EventKind, len(n.events))
	for i, e := range n.events {
		out[i] = e.Kind
	}
	return out
}

// Count returns how many events of kind k were notified.
func (n *Notifier) Count(k failover.EventKind) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, e := range n.events {
		if e.Kind == k {
			c++
		}
	}
	return c
}

// Record is a fake DNS record: a [failover.Switcher] that is also a
// [failover.Currenter]. Switch points it at the node's Address (and
// Address6, if set); Set changes it behind the arbiter's back, as a
// master's dynamic DNS update would. The zero value holds no address.
type Record struct {
	mu       sync.Mutex
	addrs    []netip.Addr
	err      error
	switches []string
	currents int
}

var _ failover.Currenter = (*Record)(nil)

// Switch records the call and points the record at to. It returns ctx's
// error if ctx is already done.
func (r *Record) Switch(ctx context.Context, to failover.Node) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.switches = append(r.switches, to.Name)
	r.addrs = nil
	for _, a := range []netip.Addr{to.Address, to.Address6} {
		if a.IsValid() {
			r.addrs = append(r.addrs, a)
		}
	}
	return nil
}

// Current returns the addresses the record holds, or the error set by
// FailCurrent, or ctx's error if ctx is already done.
func (r *Record) Current(ctx context.Context) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.currents++
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.err != nil {
		return nil, r.err
	}
	return slices.Clone(r.addrs), nil
}

// Set makes the record hold addrs, without a Switch.
func (r *Record) Set(addrs ...netip.Addr) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addrs = slices.Clone(addrs)
}

// FailCurrent makes Current return err (ErrInjected if nil) until
// HealCurrent.
func (r *Record) FailCurrent(err error) {
	if err == nil {
		err = ErrInjected
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

// HealCurrent makes Current answer again.
func (r *Record) HealCurrent() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = nil
}

// Targets returns the node of every Switch so far, in order.
func (r *Record) Targets() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.switches)
}

// CurrentCalls returns the number of calls to Current so far.
func (r *Record) CurrentCalls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.currents
}
