package syncer

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/understudy-ha/understudy/health"
)

// Tracker wraps a Syncer and remembers its last success, so that a
// health check can say whether this node's copy is fresh enough to take
// over ([Tracker.Fresh]).
type Tracker struct {
	s   Syncer
	now func() time.Time

	mu      sync.Mutex
	lastOK  time.Time
	report  Report
	lastErr error
}

var _ Syncer = (*Tracker)(nil)

// Track returns a Tracker around s.
func Track(s Syncer) *Tracker { return &Tracker{s: s, now: time.Now} }

// Sync runs the wrapped Syncer and records the outcome.
func (t *Tracker) Sync(ctx context.Context) (Report, error) {
	rep, err := t.s.Sync(ctx)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastErr = err
	if err == nil {
		t.lastOK, t.report = t.now(), rep
	}
	return rep, err
}

// LastSuccess returns when the last successful sync ended and its
// report; the zero time when none has succeeded.
func (t *Tracker) LastSuccess() (time.Time, Report) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastOK, t.report
}

// Fresh returns a health check that passes while the last successful
// sync ended less than maxAge ago. Its failures are *health.Error of
// kind "sync" wrapping ErrStale (and the last sync's error, if any).
func (t *Tracker) Fresh(name string, maxAge time.Duration) health.Checker {
	return health.CheckerFunc(func(ctx context.Context) error {
		t.mu.Lock()
		last, lastErr := t.lastOK, t.lastErr
		t.mu.Unlock()
		var err error
		switch age := t.now().Sub(last); {
		case last.IsZero() && lastErr != nil:
			err = fmt.Errorf("%w: never succeeded; last error: %w", ErrStale, lastErr)
		case last.IsZero():
			err = fmt.Errorf("%w: never succeeded", ErrStale)
		case age < maxAge:
			return nil
		case lastErr != nil:
			err = fmt.Errorf("%w: last success %s ago (limit %s); last error: %w", ErrStale, age.Round(time.Second), maxAge, lastErr)
		default:
			err = fmt.Errorf("%w: last success %s ago (limit %s)", ErrStale, age.Round(time.Second), maxAge)
		}
		return &health.Error{Kind: "sync", Target: name, Err: err}
	})
}
