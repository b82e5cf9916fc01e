package replicate

import (
	"context"
	"fmt"
	"time"

	"github.com/understudy-ha/understudy/health"
)

// DefaultMaxLag is the lag a [NewChecker] check accepts when maxLag is
// zero.
const DefaultMaxLag = 30 * time.Second

// Checker is a [health.Checker] over a [Replicator]: the standby is fit to
// take over only if its replica is running and less than MaxLag behind.
// Safe for concurrent use when the Replicator is.
type Checker struct {
	r      Replicator
	maxLag time.Duration
}

var _ health.Checker = (*Checker)(nil)

// NewChecker returns a check of r that fails when replication is not
// running, when the lag is unknown, or when it is maxLag or more
// (DefaultMaxLag when zero).
func NewChecker(r Replicator, maxLag time.Duration) *Checker {
	if maxLag <= 0 {
		maxLag = DefaultMaxLag
	}
	return &Checker{r: r, maxLag: maxLag}
}

// Check returns nil when the replica is fit, and otherwise a
// *[health.Error] of kind "replication" naming the server, wrapping
// [ErrNotRunning], [ErrLagging] or the error of Status.
func (c *Checker) Check(ctx context.Context) error {
	st, err := c.r.Status(ctx)
	if err != nil {
		return &health.Error{Kind: "replication", Target: serverOf(c.r), Err: err}
	}
	target := st.Server
	switch {
	case !st.Running:
		return &health.Error{Kind: "replication", Target: target, Err: fmt.Errorf("%w: %s", ErrNotRunning, st.Err)}
	case st.Lag < 0:
		return &health.Error{Kind: "replication", Target: target, Err: fmt.Errorf("%w: lag unknown", ErrLagging)}
	case st.Lag >= c.maxLag:
		return &health.Error{Kind: "replication", Target: target, Err: fmt.Errorf("%w: %v behind (limit %v)", ErrLagging, st.Lag, c.maxLag)}
	}
	return nil
}

// serverOf names a Replicator that failed to report a Status.
func serverOf(r Replicator) string {
	if n, ok := r.(interface{ Name() string }); ok {
		return n.Name()
	}
	return fmt.Sprintf("%T", r)
}
