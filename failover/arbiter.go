package failover

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/understudy-ha/understudy/health"
)

// Defaults of [Config].
const (
	DefaultInterval      = 10 * time.Second
	DefaultCheckTimeout  = 5 * time.Second
	DefaultSwitchTimeout = 30 * time.Second
	DefaultSwitchRetries = 3
	DefaultSwitchBackoff = time.Second
	DefaultNotifyTimeout = 10 * time.Second
	DefaultNotifyQueue   = 256
	DefaultEventHistory  = 50
)

// maxSwitchBackoff caps the doubling wait between two attempts of one
// switcher (unless SwitchBackoff itself is longer).
const maxSwitchBackoff = 30 * time.Second

// abandonGrace is how long a check or notifier that outlived its timeout
// is given to return its own error before the arbiter stops waiting for it.
const abandonGrace = 100 * time.Millisecond

// ErrInvalidConfig is wrapped by the errors of [Config.Validate].
var ErrInvalidConfig = errors.New("failover: invalid config")

// Check is one health check the arbiter runs every round.
type Check struct {
	// CheckSpec tells the Policy what the check judges (Name, Node, Role,
	// FailAfter, RiseAfter).
	CheckSpec
	// Checker runs the check. Required.
	Checker health.Checker
	// Timeout bounds one run of the check (default: Config.CheckTimeout).
	// It must be shorter than Config.Interval. A checker that ignores its
	// context and is still running 100ms after the timeout is abandoned:
	// the round goes on and counts a failure wrapping
	// context.DeadlineExceeded.
	Timeout time.Duration
}

// Config configures an [Arbiter]. The zero value of each optional field
// means its default.
type Config struct {
	// Policy holds the nodes and the decision rules. Leave Policy.Checks
	// empty: New fills it from Checks.
	Policy Policy
	// Checks are run every round, concurrently.
	Checks []Check
	// Switchers carry out a switch, in order; each must succeed for the
	// switch to be done. None at all is allowed (an arbiter that only
	// watches and notifies).
	Switchers []Switcher
	// Notifiers are told about every event, after the round's state is
	// persisted, each through its own queue (see [Arbiter]), so a slow
	// mail server never delays a switch, a round or another notifier.
	Notifiers []Notifier
	// StatePath is the state file. Empty keeps the state in memory only,
	// which loses counters and pending switches on restart.
	StatePath string
	// Interval is the time between two rounds in Run (default 10s).
	Interval time.Duration
	// CheckTimeout bounds each check that sets no Timeout of its own
	// (default 5s). It must be shorter than Interval.
	CheckTimeout time.Duration
	// SwitchTimeout bounds each attempt of one switcher (default 30s).
	SwitchTimeout time.Duration
	// SwitchRetries is the number of attempts per switcher in a round
	// (default 3).
	SwitchRetries int
	// SwitchBackoff is the wait after the first failed attempt (default
	// 1s); it doubles after each further failure, up to 30s.
	SwitchBackoff time.Duration
	// NotifyTimeout bounds each call to a Notifier (default 10s). It is
	// also how long Run, on its way out, waits for the notifiers to catch
	// up.
	NotifyTimeout time.Duration
	// NotifyQueue is the number of events each notifier may have waiting
	// while it is slow (default 256). When its queue is full, its oldest
	// waiting event is dropped (logged, and counted by
	// [Arbiter.DroppedNotifications]); the events of one round never push
	// each other out, though.
	NotifyQueue int
	// EventHistory is the number of events kept in the state for status
	// (default 50).
	EventHistory int
	// Logger receives events at Info and failures at Warn (default:
	// discard).
	Logger *slog.Logger
	// OnEvent, if set, is called with every event as it happens, from the
	// goroutine running the round. It must not call back into the Arbiter.
	OnEvent func(Event)
	// NoReconcile turns off the reconciliation of the active node. By
	// default (false), at the start of each round with no switch pending
	// and a node recorded active, the arbiter asks the first switcher that
	// is a [Currenter] where traffic points (bounded by CheckTimeout). If
	// the addresses name exactly one node, by its Address or Address6, and
	// not the node recorded active, that node is recorded active instead,
	// with EventActiveChanged, before the Policy steps: someone moved the
	// traffic outside Understudy (a master taking its DNS record back by
	// dynamic DNS), and the next failure of that node must switch again.
	// Nothing is switched because of it; an answer that fails, names no
	// node or several, changes nothing (logged at Warn). With no node
	// recorded active (a fresh state), the Policy converges as usual.
	NoReconcile bool
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.CheckTimeout == 0 {
		c.CheckTimeout = DefaultCheckTimeout
	}
	if c.SwitchTimeout == 0 {
		c.SwitchTimeout = DefaultSwitchTimeout
	}
	if c.SwitchRetries == 0 {
		c.SwitchRetries = DefaultSwitchRetries
	}
	if c.SwitchBackoff == 0 {
		c.SwitchBackoff = DefaultSwitchBackoff
	}
	if c.NotifyTimeout == 0 {
		c.NotifyTimeout = DefaultNotifyTimeout
	}
	if c.EventHistory == 0 {
		c.EventHistory = DefaultEventHistory
	}
	if c.NotifyQueue == 0 {
		c.NotifyQueue = DefaultNotifyQueue
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Policy.Checks = make([]CheckSpec, len(c.Checks))
	for i, ch := range c.Checks {
		c.Policy.Checks[i] = ch.CheckSpec
	}
	return c
}

// Validate reports the first problem with the configuration, with
// defaults applied. Errors wrap ErrInvalidConfig, or the Policy's own.
func (c Config) Validate() error {
	if len(c.Policy.Checks) > 0 {
		return fmt.Errorf("%w: set Config.Checks, not Config.Policy.Checks (New fills it)", ErrInvalidConfig)
	}
	d := c.withDefaults()
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"interval", d.Interval}, {"check timeout", d.CheckTimeout}, {"switch timeout", d.SwitchTimeout},
		{"switch backoff", d.SwitchBackoff}, {"notify timeout", d.NotifyTimeout},
	} {
		if f.v < 0 {
			return fmt.Errorf("%w: negative %s %v", ErrInvalidConfig, f.name, f.v)
		}
	}
	if d.SwitchRetries < 0 {
		return fmt.Errorf("%w: negative switch retries %d", ErrInvalidConfig, d.SwitchRetries)
	}
	if d.EventHistory < 0 {
		return fmt.Errorf("%w: negative event history %d", ErrInvalidConfig, d.EventHistory)
	}
	if d.NotifyQueue < 0 {
		return fmt.Errorf("%w: negative notify queue %d", ErrInvalidConfig, d.NotifyQueue)
	}
	if d.CheckTimeout >= d.Interval {
		return fmt.Errorf("%w: check timeout %v longer than interval %v", ErrInvalidConfig, d.CheckTimeout, d.Interval)
	}
	seen := make(map[string]bool, len(d.Checks))
	for i, ch := range d.Checks {
		switch {
		case ch.Name == "":
			return fmt.Errorf("%w: check %d has no name", ErrInvalidConfig, i)
		case seen[ch.Name]:
			return fmt.Errorf("%w: check %q defined twice", ErrInvalidConfig, ch.Name)
		case ch.Checker == nil:
			return fmt.Errorf("%w: check %q has no checker", ErrInvalidConfig, ch.Name)
		case ch.Timeout < 0:
			return fmt.Errorf("%w: check %q: negative timeout %v", ErrInvalidConfig, ch.Name, ch.Timeout)
		case ch.Timeout >= d.Interval:
			return fmt.Errorf("%w: check %q: timeout %v longer than interval %v", ErrInvalidConfig, ch.Name, ch.Timeout, d.Interval)
		}
		seen[ch.Name] = true
	}
	for i, s := range d.Switchers {
		if s == nil {
			return fmt.Errorf("%w: switcher %d is nil", ErrInvalidConfig, i)
		}
	}
	for i, n := range d.Notifiers {
		if n == nil {
			return fmt.Errorf("%w: notifier %d is nil", ErrInvalidConfig, i)
		}
	}
	if err := d.Policy.Validate(); err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	return nil
}

// Arbiter runs the failover loop: every round it runs the checks, feeds
// the results to the Policy, carries out the Policy's decision with the
// switchers and tells the notifiers, persisting its state as it goes.
//
// A switch is written to the state file (as a [PendingSwitch]) before any
// switcher runs, and removed once every switcher has succeeded. An intent
// found on disk is carried out first thing in the next round, whether it
// failed (it is retried every round) or the arbiter died while running it
// (it is resumed, with EventSwitchResumed). An intent is never dropped
// unfinished, because its switchers may have partly applied it: it is
// completed, and the Policy then decides from there (a failback, if the
// old node is preferred and healthy again). A new decision for another
// target, or an operator's Switch, replaces it. It waits, though, while
// the arbiter is isolated or its target is known to be down: it is then
// carried out after the round's checks if they clear it, and abandoned by
// a switch back to the active node if its target is still down while the
// active node is up. Since switchers are idempotent, "kill the arbiter
// between switch intended and switch done, restart it" ends with the switch
// done exactly once.
//
// The methods of an Arbiter may be called from several goroutines; rounds
// and manual switches are serialised. With a StatePath, they are also
// serialised across processes by an flock on StatePath+".lock".
//
// Notifications. The log and OnEvent get each event as it happens. The
// notifiers get the events of a round or manual switch once its state is
// written: each notifier has its own queue of up to NotifyQueue events and
// its own goroutine, which calls it with one event at a time, in order,
// each call bounded by NotifyTimeout. A hung notifier (a dead mail relay)
// thus delays neither the rounds nor a manual switch nor the other
// notifiers. A notifier whose queue is full loses its oldest waiting
// event, with a warning: the newest events tell where things stand now,
// and the full history is in the state (status). Errors are logged and
// never stop the arbiter. Notifications outlive the ctx of the round
// that made them, so what happened is still told on shutdown.
//
// While [Arbiter.Run] runs, Tick and Switch return without waiting for
// the notifiers, and Run, on its way out, waits up to NotifyTimeout for
// their queues to drain before abandoning what is left (logged, counted).
// Outside Run (cron mode: one Tick or Switch per process, as `understudy
// tick` and `understudy switch` do), Tick and Switch return only once
// every notifier has been called with each of their events (or given up
// on after NotifyTimeout, or dropped), so a process that exits right
// after loses no notification, and needs no flush or close. In either
// mode the queue goroutines end when their queues are empty; only the
// call of a notifier that ignores its context outlives them, until it
// returns.
type Arbiter struct {
	cfg    Config
	log    *slog.Logger
	nodes  map[string]Node
	layout []nodeInfo
	// current is the first switcher that is a Currenter, nil if none or
	// NoReconcile.
	current Currenter

	// nmu guards the notification queues, daemons and dropped.
	nmu sync.Mutex
	// boxes holds one queue per notifier, in configuration order.
	boxes []*outbox
	// daemons counts the Run calls under way: while it is positive, Tick
	// and Switch leave delivery to the queues' goroutines.
	daemons int
	// dropped counts the notifications dropped or abandoned.
	dropped uint64

	// mu serialises rounds and manual switches within the process.
	mu sync.Mutex
	// mem is the state between rounds when there is no StatePath.
	mem *stateFile

	snapMu sync.Mutex
	snap   *stateFile // a copy of the last state, for Snapshot
}

// New validates cfg and returns an Arbiter. It does no I/O: the state file
// is read by the first round.
func New(cfg Config) (*Arbiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	a := &Arbiter{cfg: cfg, log: cfg.Logger, nodes: make(map[string]Node, len(cfg.Policy.Nodes))}
	for i, n := range cfg.Notifiers {
		a.boxes = append(a.boxes, &outbox{index: i, n: n})
	}
	for _, n := range cfg.Policy.Nodes {
		a.nodes[n.Name] = n
		a.layout = append(a.layout, nodeInfo{Name: n.Name, Address: n.Address, Priority: n.Priority})
	}
	if !cfg.NoReconcile {
		for _, s := range cfg.Switchers {
			if c, ok := s.(Currenter); ok {
				a.current = c
				break
			}
		}
	}
	a.snap = a.fresh()
	return a, nil
}

// fresh returns an empty state describing this arbiter's configuration.
func (a *Arbiter) fresh() *stateFile {
	return &stateFile{Version: stateVersion, Nodes: a.layout, Checks: a.cfg.Policy.Checks}
}

// now is the arbiter's clock: UTC and without a monotonic reading, so that
// times compare equal after a trip through the state file.
func now() time.Time { return time.Now().UTC().Round(0) }

// CheckResult is the outcome of one run of one check.
type CheckResult struct {
	CheckSpec
	// Err is nil when the check passed; otherwise the checker's error as
	// it returned it.
	Err error
	// Note qualifies a pass: a degraded service counts as up for the
	// Policy, and its error text is kept here.
	Note string
	// Time is when the check started; Latency is how long it took.
	Time    time.Time
	Latency time.Duration
}

// RoundReport says what one round did.
type RoundReport struct {
	Time time.Time
	// Reset is true when the state file was corrupt and was reset; no
	// switch is made in such a round.
	Reset bool
	// Results are the check results, in configuration order.
	Results []CheckResult
	// Decision is the Policy's decision for the round.
	Decision Decision
	// Switched is true when a switch completed in this round (a resumed,
	// retried or new one).
	Switched bool
	// SwitchErr is the error of a switch that failed in this round.
	SwitchErr error
	// Active is the active node at the end of the round.
	Active string
	// Events are the events of this round, in order. Repeats the arbiter
	// suppressed are not included.
	Events []Event
}

// SwitchError is the failure of one switcher after its retries.
type SwitchError struct {
	// Index is the switcher's position in Config.Switchers; Switcher is
	// its Go type.
	Index    int
	Switcher string
	// To is the node being switched to.
	To  string
	Err error
}

// Error names the switcher and the target.
func (e *SwitchError) Error() string {
	return fmt.Sprintf("failover: switcher %d (%s) to %s: %v", e.Index, e.Switcher, e.To, e.Err)
}

// Unwrap returns the switcher's last error.
func (e *SwitchError) Unwrap() error { return e.Err }

// Tick runs one round:
//
//  1. take the state lock (failing at once with ErrLocked if another
//     arbiter holds it) and load the state; a corrupt file is moved aside
//     to StatePath+".corrupt", EventStateReset is emitted and the round
//     starts from an empty state, making no switch;
//  2. with no switch pending, ask the first [Currenter] switcher where
//     traffic points, and record that node active if it is another one
//     (EventActiveChanged; see Config.NoReconcile); otherwise carry out
//     the pending switch (resumed after a crash, or retried after a
//     failure);
//  3. run every check concurrently, each with its timeout;
//  4. step the Policy;
//  5. if it decides a switch: persist the intent, emit
//     EventSwitchIntended, run the switchers in order with retries, then
//     complete the switch (EventSwitchDone) or keep the intent for the
//     next round (EventSwitchFailed, once per intent);
//  6. persist the state atomically;
//  7. queue the round's events for the notifiers and, unless Run is
//     running, wait until each notifier has been called with each of them
//     (see [Arbiter]).
//
// A failed switch is reported in the RoundReport, not as an error: the
// error is for a round that could not run (lock, state file, ctx done).
// If ctx ends while the checks run, the round stops without counting their
// failures.
func (a *Arbiter) Tick(ctx context.Context) (RoundReport, error) {
	var sent receipt
	defer func() { sent.wait() }() // after the unlock below
	a.mu.Lock()
	defer a.mu.Unlock()
	rep, err := a.tick(ctx)
	sent = a.post(ctx, rep.Events)
	return rep, err
}

func (a *Arbiter) tick(ctx context.Context) (rep RoundReport, err error) {
	r, unlock, err := a.begin(ctx, false)
	if err != nil {
		return RoundReport{}, err
	}
	defer unlock()
	rep = RoundReport{Time: r.now, Reset: r.reset}
	// Named results: the deferred function completes the report on every
	// return path.
	defer func() {
		rep.Events = r.events
		rep.Active = r.sf.Policy.Active
		a.keepSnapshot(r.sf)
	}()

	if r.sf.Pending == nil {
		r.reconcile(ctx)
	}
	var tried *PendingSwitch
	if p := r.sf.Pending; p != nil {
		if why := r.pendingBlocked(); why != "" {
			a.log.Info("pending switch deferred", "from", p.From, "to", p.To, "why", why)
		} else {
			tried = p
			if err := r.carryOut(ctx, r.resumedEvent(), &rep); err != nil {
				return rep, err
			}
		}
	}

	rep.Results = a.runChecks(ctx)
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("round: %w", err)
	}
	results := make(map[string]error, len(rep.Results))
	for _, res := range rep.Results {
		results[res.Name] = res.Err
		r.sf.Records[res.Name] = CheckRecord{Time: res.Time, Latency: res.Latency, Err: errText(res.Err), Note: res.Note}
	}
	d := a.cfg.Policy.Step(&r.sf.Policy, Round{Time: r.now, Results: results})
	rep.Decision = d
	for _, e := range d.Events {
		r.emit(e)
	}
	deferred := r.sf.Pending != nil && tried == nil
	switch {
	case !d.Switch && deferred:
		if err := r.settleDeferred(ctx, &rep); err != nil {
			return rep, err
		}
	case !d.Switch:
	case r.reset:
		a.log.Info("switch deferred: the state was reset this round", "from", d.From, "to", d.To)
	case tried != nil && r.sf.Pending == tried && tried.To == d.To:
		// Already attempted this round; the intent stays for the next.
	case deferred && r.sf.Pending.To == d.To:
		// The intent deferred at the start of the round is wanted again
		// (its target is up): carry it out as it is.
		if err := r.carryOut(ctx, r.resumedEvent(), &rep); err != nil {
			return rep, err
		}
	default:
		r.intend(d)
		if err := r.carryOut(ctx, r.intendedEvent(), &rep); err != nil {
			return rep, err
		}
	}
	r.sf.LastRound = r.now
	if err := r.persist(); err != nil {
		return rep, err
	}
	return rep, nil
}

// Switch moves the traffic to node to at an operator's request, through
// the same intent, switchers, persistence and events as an automatic
// switch. Unless force is set, the Policy refuses (an error wrapping
// ErrUnsafe) a target that is not up, a switch while isolated and one
// within the hold-down.
//
// Unlike Tick, Switch waits for the state lock until ctx is done. A
// switcher failure is returned as a *SwitchError; the intent stays and the
// next round retries it.
//
// Like Tick, Switch returns once its events are notified unless Run is
// running (see [Arbiter]).
func (a *Arbiter) Switch(ctx context.Context, to string, force bool) error {
	var sent receipt
	defer func() { sent.wait() }() // after the unlock below
	a.mu.Lock()
	defer a.mu.Unlock()
	var rep RoundReport
	err := a.manual(ctx, to, force, &rep)
	sent = a.post(ctx, rep.Events)
	return err
}

func (a *Arbiter) manual(ctx context.Context, to string, force bool, rep *RoundReport) error {
	r, unlock, err := a.begin(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	defer func() {
		rep.Events = r.events
		a.keepSnapshot(r.sf)
	}()
	d, err := a.cfg.Policy.Manual(&r.sf.Policy, r.now, to, force)
	if p := r.sf.Pending; err == nil && !d.Switch && p != nil && p.To != to {
		// to is the active node, but a switch away from it is pending and
		// may be partly applied: the operator's choice replaces it, and the
		// switchers point everything back at to. The Policy judges the
		// request as if no node were active.
		st := r.sf.Policy
		st.Active = ""
		d, err = a.cfg.Policy.Manual(&st, r.now, to, force)
		d.From = p.To
	}
	if err != nil {
		if perr := r.persist(); perr != nil {
			return perr
		}
		return fmt.Errorf("manual switch to %s: %w", to, err)
	}
	for _, e := range d.Events {
		r.emit(e)
	}
	if d.Switch {
		r.intend(d)
		if err := r.carryOut(ctx, r.intendedEvent(), rep); err != nil {
			return err
		}
	}
	if err := r.persist(); err != nil {
		return err
	}
	return rep.SwitchErr
}

// Run runs rounds until ctx is done: one at once, then one every
// Interval. Rounds never overlap; one that runs longer than Interval is
// followed at once by the next. A round that fails (lock held by a cron
// tick, unwritable state file) is logged and the loop goes on. Run returns
// nil when ctx is done.
//
// The rounds do not wait for the notifiers. When ctx is done, Run waits up
// to NotifyTimeout for the notifiers to be called with every event
// queued, then abandons the rest (see [Arbiter]) and returns.
func (a *Arbiter) Run(ctx context.Context) error {
	a.nmu.Lock()
	a.daemons++
	a.nmu.Unlock()
	defer a.drain()
	t := time.NewTicker(a.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := a.Tick(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("round failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// CheckAll runs every check once, concurrently, and returns the results
// in configuration order. It touches neither the state nor the Policy's
// counters (for `understudy check`).
func (a *Arbiter) CheckAll(ctx context.Context) []CheckResult {
	return a.runChecks(ctx)
}

// Snapshot returns the situation after the last round or manual switch
// made through this Arbiter (before any: the configuration, all unknown).
// To see rounds made by other processes, use [ReadSnapshot].
func (a *Arbiter) Snapshot() Snapshot {
	a.snapMu.Lock()
	defer a.snapMu.Unlock()
	return a.snap.snapshot()
}

func (a *Arbiter) keepSnapshot(sf *stateFile) {
	c := sf.clone()
	a.snapMu.Lock()
	a.snap = c
	a.snapMu.Unlock()
}

// round is the working state of one Tick or Switch.
type round struct {
	a      *Arbiter
	sf     *stateFile
	now    time.Time
	reset  bool
	events []Event
}

// begin takes the state lock (waiting for it if wait is set) and loads the
// state. The returned unlock must be called when the round ends.
func (a *Arbiter) begin(ctx context.Context, wait bool) (*round, func(), error) {
	r := &round{a: a, now: now()}
	if a.cfg.StatePath == "" {
		if a.mem == nil {
			a.mem = a.fresh()
		}
		r.sf = a.mem
		r.prepare()
		return r, func() {}, nil
	}
	unlock, err := lockState(ctx, a.cfg.StatePath, wait)
	if err != nil {
		return nil, nil, err
	}
	sf, err := loadState(a.cfg.StatePath)
	var corrupt error
	switch {
	case errors.Is(err, errCorrupt):
		if merr := moveAside(a.cfg.StatePath); merr != nil {
			unlock()
			return nil, nil, fmt.Errorf("%w (after: %w)", merr, err)
		}
		corrupt, r.reset = err, true
	case err != nil:
		unlock()
		return nil, nil, err
	}
	if sf == nil {
		sf = a.fresh()
	}
	r.sf = sf
	r.prepare()
	if corrupt != nil {
		r.emit(Event{Kind: EventStateReset, Err: corrupt.Error(),
			Message: "the state file was corrupt; moved aside to " + a.cfg.StatePath + ".corrupt, starting from an empty state"})
	}
	return r, unlock, nil
}

// prepare fits a loaded state to this arbiter's configuration.
func (r *round) prepare() {
	sf := r.sf
	sf.Version = stateVersion
	sf.Nodes, sf.Checks = r.a.layout, r.a.cfg.Policy.Checks
	if sf.Records == nil {
		sf.Records = make(map[string]CheckRecord)
	}
	configured := make(map[string]bool, len(sf.Checks))
	for _, c := range sf.Checks {
		configured[c.Name] = true
	}
	for name := range sf.Records {
		if !configured[name] {
			delete(sf.Records, name)
		}
	}
	// A hand-edited or damaged file may hold nulls; the Policy need not
	// guard against them.
	maps.DeleteFunc(sf.Policy.Checks, func(_ string, v *CheckState) bool { return v == nil })
	maps.DeleteFunc(sf.Policy.Nodes, func(_ string, v *NodeState) bool { return v == nil })
}

// persist writes the state (a no-op in memory).
func (r *round) persist() error {
	if r.a.cfg.StatePath == "" {
		return nil
	}
	return saveState(r.a.cfg.StatePath, r.sf)
}

// intend records a new pending switch for decision d, replacing any other.
func (r *round) intend(d Decision) {
	r.sf.Pending = &PendingSwitch{ID: newID(), From: d.From, To: d.To, Reason: d.Reason, Time: r.now}
}

// pendingBlocked says why the pending switch must not be carried out now,
// or "" if it may: not while this arbiter is isolated (it may be the one
// cut off), and not toward a node known to be down. A target no longer
// configured is not blocked: carryOut drops it.
func (r *round) pendingBlocked() string {
	p, st := r.sf.Pending, &r.sf.Policy
	if _, ok := r.a.nodes[p.To]; !ok {
		return ""
	}
	switch {
	case st.Isolated:
		return "this arbiter is isolated"
	case st.Nodes[p.To] != nil && st.Nodes[p.To].Status == StatusDown:
		return fmt.Sprintf("node %s is down", p.To)
	}
	return ""
}

// settleDeferred handles a pending switch deferred at the start of the
// round, for which the Policy decided nothing new. If nothing blocks it
// any more, it is carried out. If its target is still down while the
// active node is up, it is abandoned by a switch back to the active node,
// which undoes whatever part of it the switchers had applied. Otherwise it
// stays for a later round.
func (r *round) settleDeferred(ctx context.Context, rep *RoundReport) error {
	p, st := r.sf.Pending, &r.sf.Policy
	why := r.pendingBlocked()
	if why == "" {
		return r.carryOut(ctx, r.resumedEvent(), rep)
	}
	active := st.Active
	if st.Isolated || active == "" || active == p.To || st.Nodes[active] == nil || st.Nodes[active].Status != StatusUp {
		return nil
	}
	r.sf.Pending = &PendingSwitch{ID: newID(), From: p.To, To: active, Reason: ReasonNodeDown, Time: r.now}
	announce := &Event{Kind: EventSwitchIntended, From: p.To, To: active,
		Message: fmt.Sprintf("abandoning the switch to %s (%s); pointing traffic back at %s in case the switch was partly applied", p.To, why, active)}
	return r.carryOut(ctx, announce, rep)
}

// reconcile asks the Currenter where traffic points and, if that is
// exactly one node other than the one recorded active, records it active
// with EventActiveChanged (see Config.NoReconcile). It never switches:
// the Policy decides from there.
func (r *round) reconcile(ctx context.Context) {
	a, st := r.a, &r.sf.Policy
	if a.current == nil || st.Active == "" {
		return
	}
	var addrs []netip.Addr
	err := callBounded(ctx, a.cfg.CheckTimeout, func(ctx context.Context) error {
		var err error
		addrs, err = a.current.Current(ctx)
		return err
	})
	if err != nil {
		// addrs is not read: the call may have been abandoned.
		if ctx.Err() == nil {
			a.log.Warn("cannot tell where traffic points; keeping the recorded active node", "active", st.Active, "error", err)
		}
		return
	}
	var match []string
	for _, n := range a.cfg.Policy.Nodes {
		if !slices.ContainsFunc(addrs, func(x netip.Addr) bool { return sameAddr(x, n.Address) || sameAddr(x, n.Address6) }) {
			continue
		}
		if n.Name == st.Active {
			a.log.Debug("traffic points at the recorded active node", "node", n.Name, "addresses", addrs)
			return
		}
		match = append(match, n.Name)
	}
	if len(match) != 1 {
		a.log.Warn("traffic points at no single configured node; keeping the recorded active node",
			"active", st.Active, "addresses", addrs, "nodes", match)
		return
	}
	from, to := st.Active, match[0]
	st.Active = to
	// The once-per-situation events about the old active node are over,
	// as after a switch (Policy.Complete); the hold-down is not restarted,
	// since no switch was made.
	maps.DeleteFunc(st.Latches, func(k string, _ bool) bool {
		return k == latchNoHealthy || strings.HasPrefix(k, latchHeldDown) || strings.HasPrefix(k, latchFailbackPending)
	})
	a.log.Warn("traffic points at another node than recorded", "from", from, "to", to, "addresses", addrs)
	r.emit(Event{Kind: EventActiveChanged, From: from, To: to,
		Message: fmt.Sprintf("traffic points at %s, not at %s as recorded (changed outside Understudy); %s is now the active node", to, from, to)})
}

// sameAddr reports whether x, from a Currenter, is the node address n.
func sameAddr(x, n netip.Addr) bool {
	return x.IsValid() && n.IsValid() && x.Unmap() == n.Unmap()
}

// resumedEvent returns EventSwitchResumed for a pending switch that was
// running when its arbiter stopped, or nil for one that merely failed.
func (r *round) resumedEvent() *Event {
	p := r.sf.Pending
	if !p.Running {
		return nil
	}
	return &Event{Kind: EventSwitchResumed, From: p.From, To: p.To,
		Message: fmt.Sprintf("resuming the switch from %s to %s interrupted before it completed", orNone(p.From), p.To)}
}

func (r *round) intendedEvent() *Event {
	p := r.sf.Pending
	return &Event{Kind: EventSwitchIntended, From: p.From, To: p.To,
		Message: fmt.Sprintf("switching from %s to %s (%s)", orNone(p.From), p.To, p.Reason)}
}

// carryOut runs the switchers for the pending switch. The intent is on
// disk, marked running, before the first switcher runs; announce, if not
// nil, is recorded with it and delivered once it is written. A switcher
// failure is put in rep and in the intent; the returned error is for a
// round that cannot go on (state not written, ctx done).
func (r *round) carryOut(ctx context.Context, announce *Event, rep *RoundReport) error {
	a, p := r.a, r.sf.Pending
	to, ok := a.nodes[p.To]
	if !ok {
		// The configuration changed since the intent was written; it can
		// never complete, so it is dropped.
		err := fmt.Errorf("pending switch to %s: %w", p.To, ErrUnknownNode)
		r.sf.Pending = nil
		rep.SwitchErr = err
		r.emit(Event{Kind: EventSwitchFailed, From: p.From, To: p.To, Err: err.Error(),
			Message: fmt.Sprintf("dropping the switch to %s: no such node in the configuration", p.To)})
		return nil
	}
	p.Running = true
	if announce != nil {
		r.record(announce)
	}
	if err := r.persist(); err != nil {
		return err
	}
	if announce != nil {
		r.deliver(*announce)
	}

	serr := a.runSwitchers(ctx, to)
	if err := ctx.Err(); err != nil {
		// Stopped mid-switch: the intent stays on disk marked running and
		// the next start resumes it.
		return fmt.Errorf("switch to %s: %w", p.To, err)
	}
	p.Running = false
	if serr != nil {
		p.Failures++
		p.LastErr = serr.Error()
		rep.SwitchErr = serr
		if p.Notified {
			a.log.Warn("switch still failing", "from", p.From, "to", p.To, "failures", p.Failures, "error", serr)
			return nil
		}
		p.Notified = true
		r.emit(Event{Kind: EventSwitchFailed, From: p.From, To: p.To, Err: serr.Error(),
			Message: fmt.Sprintf("switch from %s to %s failed; it will be retried every round", orNone(p.From), p.To)})
		return nil
	}
	a.cfg.Policy.Complete(&r.sf.Policy, now(), p.To)
	r.sf.Pending = nil
	rep.Switched = true
	done := Event{Kind: EventSwitchDone, From: p.From, To: p.To,
		Message: fmt.Sprintf("switched from %s to %s", orNone(p.From), p.To)}
	r.record(&done)
	// Persist before telling anyone, so that a crash now does not announce
	// the switch twice.
	if err := r.persist(); err != nil {
		return err
	}
	r.deliver(done)
	return nil
}

// runSwitchers runs every switcher in order, each with its retries.
func (a *Arbiter) runSwitchers(ctx context.Context, to Node) error {
	for i, s := range a.cfg.Switchers {
		if err := a.runSwitcher(ctx, s, to); err != nil {
			return &SwitchError{Index: i, Switcher: fmt.Sprintf("%T", s), To: to.Name, Err: err}
		}
	}
	return nil
}

// runSwitcher makes up to SwitchRetries attempts, each bounded by
// SwitchTimeout, waiting SwitchBackoff (doubling) between them. Each
// attempt is waited for, even past its timeout: switchers are never run
// concurrently.
func (a *Arbiter) runSwitcher(ctx context.Context, s Switcher, to Node) error {
	backoff := a.cfg.SwitchBackoff
	limit := max(maxSwitchBackoff, a.cfg.SwitchBackoff)
	var timer *time.Timer
	for attempt := 1; ; attempt++ {
		sctx, cancel := context.WithTimeout(ctx, a.cfg.SwitchTimeout)
		err := s.Switch(sctx, to)
		cancel()
		if err == nil {
			return nil
		}
		if attempt >= a.cfg.SwitchRetries || ctx.Err() != nil {
			return fmt.Errorf("attempt %d of %d: %w", attempt, a.cfg.SwitchRetries, err)
		}
		if IsPermanent(err) {
			return fmt.Errorf("attempt %d of %d, permanent error, not retried: %w", attempt, a.cfg.SwitchRetries, err)
		}
		a.log.Debug("switcher attempt failed", "to", to.Name, "attempt", attempt, "error", err)
		if timer == nil {
			timer = time.NewTimer(backoff)
			defer timer.Stop()
		} else {
			timer.Reset(backoff)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("attempt %d of %d: %w (stopped: %w)", attempt, a.cfg.SwitchRetries, err, ctx.Err())
		case <-timer.C:
		}
		backoff = min(backoff*2, limit)
	}
}

// runChecks runs every check concurrently, each in one goroutine with
// its own timeout, and waits for all of them. A check that ignores its
// context is abandoned abandonGrace after the longest timeout of the
// round and reported as timed out; its goroutine ends whenever the check
// does (the result channel has room for it).
func (a *Arbiter) runChecks(ctx context.Context) []CheckResult {
	type result struct {
		i   int
		res CheckResult
	}
	out := make([]CheckResult, len(a.cfg.Checks))
	results := make(chan result, len(a.cfg.Checks))
	longest := time.Duration(0)
	for i, c := range a.cfg.Checks {
		timeout := c.Timeout
		if timeout == 0 {
			timeout = a.cfg.CheckTimeout
		}
		longest = max(longest, timeout)
		out[i] = CheckResult{CheckSpec: c.CheckSpec, Time: now()}
		res := out[i] // the goroutine's own copy; out is written only here
		go func() {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			start := time.Now()
			err := c.Checker.Check(cctx)
			res.Latency = time.Since(start)
			cancel()
			if err != nil && health.IsDegraded(err) {
				res.Note, err = err.Error(), nil
			}
			// Not wrapped: the result carries the check's name, and the
			// Policy keeps this text as the check's last error.
			res.Err = err
			a.log.Debug("check", "check", c.Name, "node", c.Node, "latency", res.Latency, "error", err)
			results <- result{i, res}
		}()
	}
	abandon := time.NewTimer(longest + abandonGrace)
	defer abandon.Stop()
	got := make([]bool, len(out))
	for n := 0; n < len(out); n++ {
		select {
		case r := <-results:
			out[r.i], got[r.i] = r.res, true
		case <-abandon.C:
			for i := range out {
				if !got[i] {
					out[i].Latency = time.Since(out[i].Time)
					out[i].Err = fmt.Errorf("abandoned after %v: %w", longest, context.DeadlineExceeded)
				}
			}
			return out
		}
	}
	return out
}

// IsPermanent reports whether err says, through a Permanent() bool method
// anywhere in its chain, that retrying cannot help (a bad credential, a
// zone that does not exist). The arbiter does not retry such a switcher
// error within a round; the next round tries again.
func IsPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// callBounded calls f with a context bounded by timeout. If f has not
// returned abandonGrace after the context ended, callBounded stops waiting
// and returns the context's error: a check or notifier that ignores its
// context must not stall the arbiter. (Its goroutine ends whenever f does.)
func callBounded(ctx context.Context, timeout time.Duration, f func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f(cctx) }()
	select {
	case err := <-done:
		return err
	case <-cctx.Done():
	}
	grace := time.NewTimer(abandonGrace)
	defer grace.Stop()
	select {
	case err := <-done:
		return err
	case <-grace.C:
		return fmt.Errorf("abandoned after %v: %w", timeout, cctx.Err())
	}
}

// emit records and delivers e.
func (r *round) emit(e Event) {
	r.record(&e)
	r.deliver(e)
}

// record stamps e and adds it to the state's history and the round's
// events.
func (r *round) record(e *Event) {
	if e.Time.IsZero() {
		e.Time = now()
	}
	r.sf.Events = append(r.sf.Events, *e)
	if n := len(r.sf.Events) - r.a.cfg.EventHistory; n > 0 {
		r.sf.Events = append([]Event(nil), r.sf.Events[n:]...)
	}
	r.events = append(r.events, *e)
}

// deliver logs e and calls OnEvent. Notifiers are called when the round
// ends.
func (r *round) deliver(e Event) {
	attrs := []any{"kind", string(e.Kind)}
	for _, kv := range [][2]string{{"node", e.Node}, {"check", e.Check}, {"from", e.From}, {"to", e.To}, {"error", e.Err}} {
		if kv[1] != "" {
			attrs = append(attrs, kv[0], kv[1])
		}
	}
	if e.Fails != 0 {
		attrs = append(attrs, "fails", e.Fails)
	}
	attrs = append(attrs, "message", e.Message)
	r.a.log.Info("event", attrs...)
	if r.a.cfg.OnEvent != nil {
		r.a.cfg.OnEvent(e)
	}
}

// outbox is the queue of one notifier. Its fields are guarded by
// Arbiter.nmu.
type outbox struct {
	index int
	n     Notifier
	// queue holds the events waiting, oldest first; the one being
	// delivered is no longer in it.
	queue []letter
	// idle is nil while no goroutine delivers from this box; otherwise it
	// is closed when that goroutine ends.
	idle chan struct{}
	// cancel, while a call is under way, cancels it.
	cancel context.CancelFunc
}

// letter is one event for one notifier.
type letter struct {
	// ctx carries the values of the ctx of the round that made the event,
	// without its cancellation.
	ctx context.Context
	e   Event
	// done is closed once the notifier has been called with e (whatever
	// came of it), or e was dropped.
	done chan struct{}
}

// receipt is what post returns: the letters to wait for, nil when no one
// needs to wait.
type receipt []chan struct{}

// wait returns once every letter of the receipt is done. Each letter is
// bounded by NotifyTimeout (and abandonGrace), so wait is bounded too.
func (r receipt) wait() {
	for _, done := range r {
		<-done
	}
}

// post queues events for every notifier, in order, starting a delivery
// goroutine for each box that has none. Outside Run it returns the last
// letter of each box, for the caller to wait on; within Run, nothing.
// It never blocks: a full queue loses its oldest waiting events, though
// never to make room for events of the same call.
func (a *Arbiter) post(ctx context.Context, events []Event) receipt {
	if len(a.boxes) == 0 || len(events) == 0 {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	a.nmu.Lock()
	defer a.nmu.Unlock()
	// The events of one round never push each other out.
	limit := max(a.cfg.NotifyQueue, len(events))
	var rc receipt
	for _, b := range a.boxes {
		var last chan struct{}
		for _, e := range events {
			for len(b.queue) >= limit {
				old := b.queue[0]
				b.queue[0] = letter{}
				b.queue = b.queue[1:]
				close(old.done)
				a.dropped++
				a.log.Warn("notification dropped: the notifier's queue is full", "notifier", b.index,
					"kind", string(old.e.Kind), "queue", a.cfg.NotifyQueue, "dropped", a.dropped)
			}
			last = make(chan struct{})
			b.queue = append(b.queue, letter{ctx: ctx, e: e, done: last})
		}
		if b.idle == nil {
			b.idle = make(chan struct{})
			go a.courier(b, b.idle)
		}
		if a.daemons == 0 {
			rc = append(rc, last)
		}
	}
	return rc
}

// courier delivers the letters of b, one at a time, until b is empty; it
// then closes idle and ends.
func (a *Arbiter) courier(b *outbox, idle chan struct{}) {
	a.nmu.Lock()
	for len(b.queue) > 0 {
		l := b.queue[0]
		b.queue[0] = letter{}
		b.queue = b.queue[1:]
		ctx, cancel := context.WithCancel(l.ctx)
		b.cancel = cancel
		a.nmu.Unlock()

		err := callBounded(ctx, a.cfg.NotifyTimeout, func(ctx context.Context) error { return b.n.Notify(ctx, l.e) })
		cancel()
		if err != nil {
			a.log.Warn("notify failed", "notifier", b.index, "kind", string(l.e.Kind), "error", err)
		}

		a.nmu.Lock()
		b.cancel = nil
		close(l.done)
	}
	b.idle = nil
	close(idle)
	a.nmu.Unlock()
}

// drain ends a Run: unless another Run is still under way, it waits up to
// NotifyTimeout for every box to empty, then drops what is still waiting,
// cancels the calls under way, and waits for the delivery goroutines to
// end (at most abandonGrace more).
func (a *Arbiter) drain() {
	a.nmu.Lock()
	a.daemons--
	if a.daemons > 0 {
		a.nmu.Unlock()
		return
	}
	idle := a.idleLocked()
	a.nmu.Unlock()
	if len(idle) == 0 {
		return
	}
	deadline := time.NewTimer(a.cfg.NotifyTimeout)
	defer deadline.Stop()
wait:
	for _, c := range idle {
		select {
		case <-c:
		case <-deadline.C:
			a.abandon()
			break wait
		}
	}
	for _, c := range idle {
		<-c
	}
}

// idleLocked returns the idle channels of the boxes being delivered from.
func (a *Arbiter) idleLocked() []chan struct{} {
	var out []chan struct{}
	for _, b := range a.boxes {
		if b.idle != nil {
			out = append(out, b.idle)
		}
	}
	return out
}

// abandon drops every waiting letter and cancels the calls under way.
func (a *Arbiter) abandon() {
	a.nmu.Lock()
	defer a.nmu.Unlock()
	for _, b := range a.boxes {
		n := len(b.queue)
		for _, l := range b.queue {
			close(l.done)
		}
		b.queue = nil
		if b.cancel != nil {
			b.cancel()
			n++
		}
		if n > 0 {
			a.dropped += uint64(n)
			a.log.Warn("notifications abandoned on shutdown: the notifier did not catch up in time", "notifier", b.index,
				"abandoned", n, "timeout", a.cfg.NotifyTimeout, "dropped", a.dropped)
		}
	}
}

// DroppedNotifications returns the number of notifications this Arbiter
// never attempted or cut short: dropped from a full queue, or abandoned
// when Run returned. A notifier call that failed or timed out is not
// counted (it is logged).
func (a *Arbiter) DroppedNotifications() uint64 {
	a.nmu.Lock()
	defer a.nmu.Unlock()
	return a.dropped
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func orNone(node string) string {
	if node == "" {
		return "(none)"
	}
	return node
}
