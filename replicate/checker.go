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
	// name and history, when set, remember what the check sees.
	name    string
	history HistoryStore
	now     func() time.Time
}

// CheckerOption configures a [Checker].
type CheckerOption func(*Checker)

// WithHistory makes the check of a MySQL/MariaDB replica remember what it
// sees in store under name ([History.Observe]) and judge with the
// promotion gate ([Promotable], connected to its source): it also fails
// when the replica moved past a failed transaction without a data check
// since ([ErrSkipped]) or the last data check recorded found differences
// ([ErrDiverged]). A store that cannot be read or written fails the
// check. Statuses of other kinds are judged as without it.
func WithHistory(name string, store HistoryStore) CheckerOption {
	return func(c *Checker) { c.name, c.history = name, store }
}

var _ health.Checker = (*Checker)(nil)

// NewChecker returns a check of r that fails when replication is not
// running, when the lag is unknown, or when it is maxLag or more
// (DefaultMaxLag when zero).
func NewChecker(r Replicator, maxLag time.Duration, opts ...CheckerOption) *Checker {
	if maxLag <= 0 {
		maxLag = DefaultMaxLag
	}
	c := &Checker{r: r, maxLag: maxLag, now: time.Now}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Check returns nil when the replica is fit, and otherwise a
// *[health.Error] of kind "replication" naming the server, wrapping
// [ErrNotRunning], [ErrLagging] or the error of Status (with
// [WithHistory], also [ErrSkipped] or [ErrDiverged], all with
// [ErrNotPromotable]).
func (c *Checker) Check(ctx context.Context) error {
	st, err := c.r.Status(ctx)
	if err != nil {
		return &health.Error{Kind: "replication", Target: serverOf(c.r), Err: err}
	}
	target := st.Server
	if ms, ok := st.Detail.(MySQLStatus); ok && c.history != nil {
		h, err := c.history.Update(ctx, c.name, func(h *History) bool { return h.Observe(ms, c.now()) })
		if err != nil {
			return &health.Error{Kind: "replication", Target: target, Err: err}
		}
		in := h.Input(ms, nil, c.maxLag)
		in.Server, in.RequireConnected = target, true
		if v := Promotable(in); !v.Fit {
			return &health.Error{Kind: "replication", Target: target, Err: v.Err()}
		}
		return nil
	}
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
