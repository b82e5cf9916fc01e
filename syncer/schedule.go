package syncer

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"
)

// EventKind says what happened to a scheduled sync.
type EventKind int

// The kinds of [Event].
const (
	// EventDone: a run succeeded.
	EventDone EventKind = iota + 1
	// EventFailed: a run returned an error (Event.Err).
	EventFailed
	// EventBusy: the overlap lock was held (another run, perhaps in
	// another process); this slot was skipped.
	EventBusy
	// EventOverran: a run outlived its slot; Event.Missed slots were
	// skipped rather than started late or on top of each other.
	EventOverran
)

func (k EventKind) String() string {
	switch k {
	case EventDone:
		return "done"
	case EventFailed:
		return "failed"
	case EventBusy:
		return "busy"
	case EventOverran:
		return "overran"
	}
	return "unknown"
}

// Event is one thing that happened in a [Schedule].
type Event struct {
	Kind EventKind
	// Name is the schedule's name.
	Name string
	// Slot is the start the run was scheduled for (before jitter); Start
	// is when it really started.
	Slot, Start time.Time
	// Report and Err are the run's result.
	Report Report
	Err    error
	// Missed is the number of slots skipped (EventOverran).
	Missed int
}

// Schedule runs a Syncer every Every, each run delayed by a random jitter
// so that several nodes do not start together. Runs never overlap: a run
// that outlives its slot is reported (EventOverran) and the slots it
// covered are skipped.
type Schedule struct {
	// Name identifies the schedule in events and logs.
	Name string
	// Every is the period between slots. Required.
	Every time.Duration
	// Jitter is the largest random delay added to each slot (default 0;
	// it must be shorter than Every).
	Jitter time.Duration
	// OnEvent receives every event, from Run's goroutine (may be nil).
	OnEvent func(Event)
	// Logger receives failures and overruns at Warn (nil: discard).
	Logger *slog.Logger
	// Rand returns a number in [0, n) (nil: math/rand/v2).
	Rand func(n int64) int64
}

// Validate reports a schedule that cannot run.
func (s Schedule) Validate() error {
	switch {
	case s.Every <= 0:
		return errors.New("syncer: schedule: every must be positive")
	case s.Jitter < 0 || s.Jitter >= s.Every:
		return errors.New("syncer: schedule: jitter must be in [0, every)")
	}
	return nil
}

// Run runs sy on the schedule until ctx ends; the first slot is now. It
// returns ctx's error, or a validation error at once.
func (s Schedule) Run(ctx context.Context, sy Syncer) error {
	if err := s.Validate(); err != nil {
		return err
	}
	log := loggerOr(s.Logger)
	rnd := s.Rand
	if rnd == nil {
		rnd = rand.Int64N
	}
	emit := func(e Event) {
		e.Name = s.Name
		if s.OnEvent != nil {
			s.OnEvent(e)
		}
	}
	slot := time.Now()
	for {
		start := slot
		if s.Jitter > 0 {
			start = start.Add(time.Duration(rnd(int64(s.Jitter))))
		}
		if err := sleepUntil(ctx, start); err != nil {
			return err
		}
		began := time.Now()
		rep, err := sy.Sync(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		ev := Event{Kind: EventDone, Slot: slot, Start: began, Report: rep, Err: err}
		switch {
		case errors.Is(err, ErrBusy):
			ev.Kind = EventBusy
		case err != nil:
			ev.Kind = EventFailed
			log.Warn("scheduled sync failed", "sync", s.Name, "err", err)
		}
		emit(ev)
		next := slot.Add(s.Every)
		if now := time.Now(); now.After(next) {
			missed := int(now.Sub(next)/s.Every) + 1
			log.Warn("sync outlived its slot", "sync", s.Name, "duration", now.Sub(began), "every", s.Every, "missed", missed)
			emit(Event{Kind: EventOverran, Slot: slot, Start: began, Report: rep, Err: err, Missed: missed})
			next = next.Add(time.Duration(missed) * s.Every)
		}
		slot = next
	}
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
