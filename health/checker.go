package health

import (
	"context"
	"fmt"
)

// Checker reports whether one service is healthy. Check returns nil when
// it is, and an error describing the failure when it is not.
//
// Implementations must be safe for concurrent use and must return once ctx
// is done.
type Checker interface {
	Check(ctx context.Context) error
}

// CheckerFunc adapts an ordinary function to the [Checker] interface.
type CheckerFunc func(ctx context.Context) error

// Check calls f(ctx).
func (f CheckerFunc) Check(ctx context.Context) error { return f(ctx) }

// Error is the error every checker in this package returns on failure.
type Error struct {
	// Kind is the kind of check: "tcp", "http", "mysql", "dns", "exec",
	// "process".
	Kind string
	// Target names what was checked: an address, a URL, a command.
	Target string
	// Err is the cause.
	Err error
}

// Error formats the failure as "KIND TARGET: CAUSE".
func (e *Error) Error() string {
	return fmt.Sprintf("%s check %s: %v", e.Kind, e.Target, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }
