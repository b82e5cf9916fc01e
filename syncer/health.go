package syncer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/understudy-ha/understudy/health"
)

// Tracker wraps a Syncer and remembers its last success, so that a
// health check can say whether this node's copy is fresh enough to take
// over ([Tracker.Fresh]). With [WithStore] it also records every run in
// a [Store], for other processes and for after a restart.
type Tracker struct {
	s     Syncer
	now   func() time.Time
	name  string
	store Store

	mu      sync.Mutex
	lastOK  time.Time
	report  Report
	lastErr error
}

var _ Syncer = (*Tracker)(nil)

// Track returns a Tracker around s.
func Track(s Syncer, opts ...TrackOption) *Tracker {
	t := &Tracker{s: s, now: time.Now}
	for _, o := range opts {
		o(t)
	}
	return t
}

// Sync runs the wrapped Syncer and records the outcome. A failure to
// record it in the Store is returned (joined with the sync's own error,
// if any): another process would otherwise judge the copy on old news.
//
// A success counts from when the run started, not when it ended: the
// copy holds what the source had at the start (a change made while it
// ran may be missing), so a run of an hour ending now is an hour old.
func (t *Tracker) Sync(ctx context.Context) (Report, error) {
	began := t.now()
	rep, err := t.s.Sync(ctx)
	at := t.now()
	if err == nil {
		at = began
	}
	t.mu.Lock()
	t.lastErr = err
	if err == nil {
		t.lastOK, t.report = at, rep
	}
	t.mu.Unlock()
	if t.store != nil {
		if serr := t.store.Update(ctx, t.name, at, err); serr != nil {
			return rep, errors.Join(err, fmt.Errorf("syncer: record run of %s: %w", t.name, serr))
		}
	}
	return rep, err
}

// LastSuccess returns when the last successful sync started and its
// report; the zero time when none has succeeded (in this process).
func (t *Tracker) LastSuccess() (time.Time, Report) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastOK, t.report
}

// Fresh returns a health check that passes while the last successful
// sync started less than maxAge ago. With a Store, the later of the
// Store's and the Tracker's own last success counts. Its failures are
// *health.Error of kind "sync" wrapping ErrStale (and the last sync's
// error, if any).
func (t *Tracker) Fresh(name string, maxAge time.Duration) health.Checker {
	return freshCheck(name, maxAge, t.now, func(ctx context.Context) (time.Time, error, error) {
		t.mu.Lock()
		last, lastErr := t.lastOK, t.lastErr
		t.mu.Unlock()
		if t.store == nil {
			return last, lastErr, nil
		}
		r, err := t.store.Load(ctx, t.name)
		if err != nil {
			return time.Time{}, nil, err
		}
		if r.LastSuccess.After(last) {
			last, lastErr = r.LastSuccess, r.lastErr()
		}
		return last, lastErr, nil
	})
}
