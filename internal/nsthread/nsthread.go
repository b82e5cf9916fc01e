// Package nsthread runs Go code inside a network namespace: on a
// goroutine of its own whose OS thread is locked, moved into the
// namespace, and moved back afterwards. If the thread cannot be moved
// back it stays locked and dies with its goroutine, so it never serves
// other code in the wrong namespace.
//
// Sockets and netlink handles opened by the code stay in the namespace
// after it returns. Calls may run concurrently: each uses its own thread.
// ippool (the library), internal/testkit/netns (the test lab) and the bench
// command share it; it does not import package testing.
package nsthread

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"
)

// Step names the part of moving the thread that failed.
type Step int

// The steps of [Run].
const (
	// ReadCurrent is reading the thread's own namespace, to return to it.
	ReadCurrent Step = iota + 1
	// Enter is moving the thread into the target namespace (setns needs
	// CAP_SYS_ADMIN).
	Enter
	// Leave is moving the thread back.
	Leave
)

// Error is a failure to move the thread. The errors of the code run
// inside the namespace are never wrapped in one.
type Error struct {
	Step Step
	// NS names the target namespace.
	NS  string
	Err error
}

func (e *Error) Error() string {
	switch e.Step {
	case ReadCurrent:
		return fmt.Sprintf("read the current network namespace: %v", e.Err)
	case Enter:
		return fmt.Sprintf("enter network namespace %s: %v", e.NS, e.Err)
	default:
		return fmt.Sprintf("leave network namespace %s: %v", e.NS, e.Err)
	}
}

// Unwrap returns the system error.
func (e *Error) Unwrap() error { return e.Err }

// Run runs f with its thread in namespace target (named name in errors)
// and returns f's error. When the thread cannot read its own namespace or
// enter target, f does not run and the error is an *[Error]; when it
// cannot move back, f's error is joined with an *[Error] of step Leave.
func Run(target netns.NsHandle, name string, f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- &Error{Step: ReadCurrent, NS: name, Err: err}
			return
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			done <- &Error{Step: Enter, NS: name, Err: err}
			return
		}
		ferr := f()
		if err := netns.Set(orig); err != nil {
			done <- errors.Join(ferr, &Error{Step: Leave, NS: name, Err: err})
			return // the thread stays locked and exits with this goroutine
		}
		runtime.UnlockOSThread()
		done <- ferr
	}()
	return <-done
}

// Open opens network namespace ns: a name made by `ip netns add` (looked
// up in /run/netns) or a path such as /proc/PID/ns/net. The caller closes
// the handle.
func Open(ns string) (netns.NsHandle, error) {
	var (
		h   netns.NsHandle
		err error
	)
	if strings.Contains(ns, "/") {
		h, err = netns.GetFromPath(ns)
	} else {
		h, err = netns.GetFromName(ns)
	}
	if err != nil {
		return h, fmt.Errorf("open network namespace %s: %w", ns, err)
	}
	return h, nil
}

// Do opens namespace ns (see [Open]) and runs f in it (see [Run]).
func Do(ns string, f func() error) error {
	target, err := Open(ns)
	if err != nil {
		return err
	}
	defer target.Close()
	return Run(target, ns, f)
}
