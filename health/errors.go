package health

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// ErrDegraded marks a service that answered but refused the check in a
// way that proves it is running, such as MySQL's "too many connections"
// (1040) or "access denied" (1045). Test for it with [IsDegraded].
//
// The arbiter counts a degraded service as alive (it does not fail over
// for it) but reports the error, because someone has to fix it.
var ErrDegraded = errors.New("health: alive but degraded")

// IsDegraded reports whether err says the service is alive but degraded
// (err wraps [ErrDegraded]).
func IsDegraded(err error) bool { return errors.Is(err, ErrDegraded) }

// ErrUnexpected marks an answer that arrived but is not the one the check
// wants: an HTTP status or body, a TCP banner, a DNS answer.
var ErrUnexpected = errors.New("health: unexpected answer")

// withTimeout applies a check's own timeout on top of ctx.
func withTimeout(ctx context.Context, d, def time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		d = def
	}
	return context.WithTimeout(ctx, d)
}

// withCtxErr adds ctx's error to err when ctx ended the check, so that
// errors.Is(err, context.DeadlineExceeded) holds after a timeout. A
// connection deadline set from ctx's deadline may fire a moment before
// ctx's own timer, so an I/O deadline error counts as the ctx deadline.
func withCtxErr(ctx context.Context, err error) error {
	ctxErr := ctx.Err()
	if ctxErr == nil && errors.Is(err, os.ErrDeadlineExceeded) {
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			ctxErr = context.DeadlineExceeded
		}
	}
	if ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("%w: %w", ctxErr, err)
	}
	return err
}

// clip shortens b to at most n bytes for an error message.
func clip(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
