package notify

import (
	"context"
	"errors"
	"slices"

	"github.com/understudy-ha/understudy/failover"
)

// DefaultMailKinds returns the kinds of events worth a mail: what the
// articles mailed the admin about. A check crossing its threshold and
// recovering (check_down, check_up), a node going down or coming back
// (node_down, node_up), a switch done or failed (switch_done,
// switch_failed), nothing healthy to switch to (no_healthy_node), the
// watcher cut off and back (isolated, witness_ok), and a state file that
// had to be reset (state_reset).
//
// Left out as noise for a mailbox: check_warn, held_down,
// failback_pending, switch_intended and switch_resumed (a switch_done or
// switch_failed follows them).
//
// Each call returns a new slice, so callers may modify it.
func DefaultMailKinds() []failover.EventKind {
	return []failover.EventKind{
		failover.EventCheckDown,
		failover.EventCheckUp,
		failover.EventNodeDown,
		failover.EventNodeUp,
		failover.EventSwitchDone,
		failover.EventSwitchFailed,
		failover.EventNoHealthyNode,
		failover.EventIsolated,
		failover.EventWitnessOK,
		failover.EventStateReset,
	}
}

// Filter returns a Notifier that passes to n only the events of the given
// kinds and drops the others (returning nil for them). With no kinds it
// passes nothing.
func Filter(n failover.Notifier, kinds ...failover.EventKind) failover.Notifier {
	return &filter{next: n, kinds: slices.Clone(kinds)}
}

type filter struct {
	next  failover.Notifier
	kinds []failover.EventKind
}

// Notify calls the wrapped notifier if e's kind is one of the filter's.
func (f *filter) Notify(ctx context.Context, e failover.Event) error {
	if !slices.Contains(f.kinds, e.Kind) {
		return nil
	}
	return f.next.Notify(ctx, e)
}

// Multi returns a Notifier that sends each event to every one of ns, in
// order, one after the other, and returns their errors joined with
// [errors.Join] (nil if all succeeded). A failing notifier does not stop
// the ones after it. Nil entries are skipped.
//
// The notifiers are called sequentially so that ones not safe for
// concurrent use can be combined; give each its own Timeout so one slow
// relay cannot hold the others up for long.
func Multi(ns ...failover.Notifier) failover.Notifier {
	return multi(slices.DeleteFunc(slices.Clone(ns), func(n failover.Notifier) bool { return n == nil }))
}

type multi []failover.Notifier

// Notify sends e to every notifier and joins their errors.
func (m multi) Notify(ctx context.Context, e failover.Event) error {
	var errs []error
	for _, n := range m {
		if err := n.Notify(ctx, e); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
