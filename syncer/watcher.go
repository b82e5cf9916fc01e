package syncer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Defaults of a [WatcherConfig].
const (
	// DefaultWatchDelay is the quiet time the watcher waits after the
	// last change before it starts a batch. 5 ms gathers the events of
	// one save (create, write, chmod, an editor's rename) and of a burst
	// already under way, for 5 ms of latency. lsyncd's default is 15 s;
	// what a failover loses is at most about Delay plus one run.
	DefaultWatchDelay = 5 * time.Millisecond
	// DefaultWatchMaxDelay caps the batching window: under a steady
	// stream of changes a batch still starts 50 ms after the first change
	// it holds. Changes that arrive while a batch runs wait for it and
	// go in the next one, so a burst of thousands of writes becomes a few
	// runs.
	DefaultWatchMaxDelay = 50 * time.Millisecond
	// DefaultWatchFullEvery is the period of the full pass that catches
	// what events missed.
	DefaultWatchFullEvery = 5 * time.Minute
	// DefaultWatchFallbackEvery is the period of full passes once inotify
	// watches have run out.
	DefaultWatchFallbackEvery = 10 * time.Second
)

// WatcherConfig configures a [Watcher]. The zero value of each optional
// field is its default.
type WatcherConfig struct {
	// Rsync copies the changes; its Source is the tree watched and it
	// must push (not Pull). Required. Its settings (ssh, delete,
	// excludes, lock file) apply to every run.
	Rsync *Rsync
	// Delay is the quiet time after the last change before a batch
	// starts (default DefaultWatchDelay; negative: none).
	Delay time.Duration
	// MaxDelay is the longest a change waits for quiet before its batch
	// starts anyway (default DefaultWatchMaxDelay).
	MaxDelay time.Duration
	// FullEvery is the period of full passes (default
	// DefaultWatchFullEvery; negative: none but the first).
	FullEvery time.Duration
	// FallbackEvery is the period of full passes when the kernel has no
	// inotify watches left for the tree (default DefaultWatchFallbackEvery).
	FallbackEvery time.Duration
	// Transport says how runs reach a peer over ssh (default
	// TransportAuto: an rsync daemon on the peer reached through the ssh
	// connection, else ssh sessions). Without ssh it is unused.
	Transport WatchTransport
	// OnBatch receives the outcome of every run, from Run's goroutine
	// (keep it quick).
	OnBatch func(Batch)
	// OnEvent receives the watcher's state changes, from Run's goroutine.
	OnEvent func(WatchEvent)
	// Logger receives state changes at Info or Warn and batches at Debug
	// (nil: discard).
	Logger *slog.Logger
}

// Validate reports a configuration that cannot work.
func (c WatcherConfig) Validate() error {
	switch {
	case c.Rsync == nil:
		return errors.New("syncer: watcher: rsync is required")
	case c.Rsync.cfg.Pull:
		return errors.New("syncer: watcher: rsync must push from the watched tree, not pull")
	case c.MaxDelay < 0:
		return errors.New("syncer: watcher: negative max delay")
	case c.FallbackEvery < 0:
		return errors.New("syncer: watcher: negative fallback period")
	case c.Transport < TransportAuto || c.Transport > TransportSession:
		return fmt.Errorf("syncer: watcher: unknown transport %d", int(c.Transport))
	}
	return nil
}

// Batch is one run of a [Watcher].
type Batch struct {
	// Full is true for a pass over the whole tree (Reason says why),
	// false for a list of changed paths.
	Full   bool
	Reason string // "changes", "start", "periodic", "overflow", "fallback", "retry"
	// Paths is the number of paths listed (0 for a full pass).
	Paths int
	// Report and Err are the run's outcome. A failed list is retried.
	Report Report
	Err    error
	// Latency runs from the first change the batch holds to the end of
	// its run (for a full pass: from when it was due).
	Latency time.Duration
}

// WatchEventKind says what happened to a [Watcher].
type WatchEventKind int

// The kinds of [WatchEvent].
const (
	// WatchStarted: the tree is under watch (Watches directories).
	WatchStarted WatchEventKind = iota + 1
	// WatchOverflow: the kernel's event queue overflowed and events were
	// lost; watches are renewed and a full pass follows.
	WatchOverflow
	// WatchFallback: inotify watches (or instances) ran out. The watcher
	// stops watching and runs full passes every FallbackEvery until it is
	// restarted. Err matches ErrInotifyLimit.
	WatchFallback
	// WatchError: inotify reported an error other than an overflow.
	WatchError
	// WatchConnected: the watcher (re)connected to its peer over ssh;
	// Connection says how, and what the session start-up cost. With
	// TransportAuto, Connection.Err set means the daemon could not be
	// started and runs go over sessions.
	WatchConnected
)

func (k WatchEventKind) String() string {
	switch k {
	case WatchStarted:
		return "started"
	case WatchOverflow:
		return "overflow"
	case WatchFallback:
		return "fallback"
	case WatchError:
		return "error"
	case WatchConnected:
		return "connected"
	}
	return "unknown"
}

// WatchEvent is a state change of a [Watcher].
type WatchEvent struct {
	Kind WatchEventKind
	// Watches is the number of directories under watch.
	Watches int
	Err     error
	// Connection is set for WatchConnected.
	Connection Connection
}

// Watcher replicates a tree as it changes: inotify (through fsnotify)
// watches every directory, new ones included; changes are debounced
// (Delay, MaxDelay) and shipped as one rsync run of just the changed
// paths, deletions and renames included. A full pass runs at start,
// every FullEvery, after an event overflow, and every FallbackEvery once
// inotify watches run out.
//
// Locally, each list run uses an rsync started ahead of need, so a batch
// costs the transfer and not the start of two processes. To a peer over
// ssh, Run keeps one ssh master connection open and, by default
// ([TransportAuto]), an rsync daemon on the peer that the connection
// forwards a local port to; a batch goes to an rsync client connected
// ahead through it and starts no remote shell, so its latency does not
// depend on the peer's rc files (see the package documentation for the
// design and its trade-offs). [TransportSession] runs each batch over a new ssh
// session instead, two started ahead of need. The session start-up that
// the transport measured when it connected is in WatchConnected events
// and [Watcher.Connection].
//
// [Watcher.Run] does the work; [Watcher.Sync] waits for what is pending,
// so that [Track] can make a freshness check of it.
type Watcher struct {
	cfg  WatcherConfig
	root string
	log  *slog.Logger
	run  runner
	// newNotifier opens inotify (a seam for tests).
	newNotifier func() (notifier, error)

	once    sync.Once
	reqs    chan chan syncResult
	stopped chan struct{}
	runErr  error
	conn    atomic.Pointer[Connection] // the latest WatchConnected
}

var _ Syncer = (*Watcher)(nil)

// NewWatcher checks cfg and returns the watcher; Run starts it.
func NewWatcher(cfg WatcherConfig) (*Watcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Delay == 0 {
		cfg.Delay = DefaultWatchDelay
	}
	cfg.Delay = max(0, cfg.Delay)
	if cfg.MaxDelay == 0 {
		cfg.MaxDelay = DefaultWatchMaxDelay
	}
	cfg.MaxDelay = max(cfg.MaxDelay, cfg.Delay)
	if cfg.FullEvery == 0 {
		cfg.FullEvery = DefaultWatchFullEvery
	}
	if cfg.FallbackEvery == 0 {
		cfg.FallbackEvery = DefaultWatchFallbackEvery
	}
	w := &Watcher{cfg: cfg, root: cfg.Rsync.cfg.Source, log: loggerOr(cfg.Logger),
		run: &primedRsync{r: cfg.Rsync}, newNotifier: newFsnotify,
		reqs: make(chan chan syncResult), stopped: make(chan struct{})}
	if cfg.Rsync.cfg.SSH != nil {
		w.run = newPeerRsync(cfg.Rsync, cfg.Transport, w.log)
	}
	return w, nil
}

// Connection returns how the watcher last connected to its peer, with
// the session start-up it measured then; false before the first
// connection and without ssh. It may be called from any goroutine.
func (w *Watcher) Connection() (Connection, bool) {
	c := w.conn.Load()
	if c == nil {
		return Connection{}, false
	}
	return *c, true
}

// Config returns the configuration in use, defaults filled in.
func (w *Watcher) Config() WatcherConfig { return w.cfg }

type syncResult struct {
	rep Report
	err error
}

// Sync waits until every change whose event had reached the watcher
// when Sync was called has been shipped (with nothing pending it returns
// at once; inotify delivers events a little after the write, so a change
// made just before the call may go in a later run) and reports the runs
// since the previous Sync. It returns the error of the latest run if that
// run failed, so a [Tracker] around the watcher records failures. Run
// must be running; Sync does not start anything.
func (w *Watcher) Sync(ctx context.Context) (Report, error) {
	start := time.Now()
	reply := make(chan syncResult, 1)
	select {
	case w.reqs <- reply:
	case <-w.stopped:
		return Report{}, fmt.Errorf("syncer: watcher on %s not running: %w", w.root, w.runErr)
	case <-ctx.Done():
		return Report{}, ctx.Err()
	}
	select {
	case res := <-reply:
		res.rep.Duration = time.Since(start)
		return res.rep, res.err
	case <-w.stopped:
		return Report{}, fmt.Errorf("syncer: watcher on %s not running: %w", w.root, w.runErr)
	case <-ctx.Done():
		return Report{}, ctx.Err()
	}
}

// Run watches and replicates until ctx ends, then returns ctx's error.
// It fails at once when the source is missing. Over ssh it opens the
// Rsync's master connection (and the daemon tunnel) with the first run
// and closes them on return; a lost connection or tunnel is reopened by
// the next run. Run may be called once.
func (w *Watcher) Run(ctx context.Context) error {
	err := errors.New("syncer: watcher: Run called twice")
	w.once.Do(func() {
		err = w.loop(ctx)
		w.runErr = err
		close(w.stopped)
	})
	return err
}

// notifier is the part of fsnotify the watcher uses.
type notifier interface {
	Add(path string) error
	Remove(path string) error
	Events() <-chan fsnotify.Event
	Errors() <-chan error
	Close() error
}

type fsNotifier struct{ *fsnotify.Watcher }

func (f fsNotifier) Events() <-chan fsnotify.Event { return f.Watcher.Events }
func (f fsNotifier) Errors() <-chan error          { return f.Watcher.Errors }

func newFsnotify() (notifier, error) {
	// A buffer lets the kernel queue drain while the loop is busy.
	fw, err := fsnotify.NewBufferedWatcher(4096)
	if err != nil {
		return nil, err
	}
	return fsNotifier{fw}, nil
}

// state is the loop's own data.
type state struct {
	w        *Watcher
	n        notifier // nil in fallback
	dirs     map[string]bool
	fallback bool

	pending       map[string]bool
	first, last   time.Time
	fullDue       time.Time // zero: no full pass wanted
	fullReason    string
	retryAt       time.Time
	backoff       time.Duration
	running       bool
	started, done int // batches started and finished
	waiters       []waiter
	acc           Report
	lastErr       error
}

type waiter struct {
	after int // answered once this many batches have finished
	reply chan syncResult
}

type batchDone struct {
	b     Batch
	paths []string
	first time.Time
}

func (w *Watcher) loop(ctx context.Context) error {
	if st, err := os.Stat(w.root); err != nil || !st.IsDir() {
		return fmt.Errorf("syncer: watcher %s: %w", w.root, ErrNoSource)
	}
	s := &state{w: w, dirs: map[string]bool{}, pending: map[string]bool{}}
	defer func() {
		if s.n != nil {
			s.n.Close()
		}
		w.run.stop()
		w.cfg.Rsync.Close()
	}()
	n, err := w.newNotifier()
	if err != nil {
		s.toFallback(err)
	} else {
		s.n = n
		s.addTree(w.root)
		if !s.fallback {
			w.emit(WatchEvent{Kind: WatchStarted, Watches: len(s.dirs)})
			w.log.Info("watching", "source", w.root, "dirs", len(s.dirs))
		}
	}
	s.wantFull(time.Now(), "start")
	full := time.NewTicker(w.fullPeriod(s))
	defer full.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	done := make(chan batchDone, 1)
	for {
		s.maybeStart(ctx, done, timer)
		var events <-chan fsnotify.Event
		var errs <-chan error
		if s.n != nil {
			events, errs = s.n.Events(), s.n.Errors()
		}
		select {
		case <-ctx.Done():
			if s.running {
				<-done
			}
			return ctx.Err()
		case ev, ok := <-events:
			if !ok {
				s.lost()
				break // out of the select: the notifier is closed below
			}
			s.handle(ev)
		case err, ok := <-errs:
			if !ok {
				s.lost()
				break // out of the select: the notifier is closed below
			}
			s.handleError(err)
		case d := <-done:
			s.finish(ctx, d)
		case <-timer.C:
		case now := <-full.C:
			s.wantFull(now, "periodic")
			if s.fallback {
				s.fullReason = "fallback"
			}
		case reply := <-w.reqs:
			s.addWaiter(reply)
		}
		if s.fallback && s.n != nil {
			s.n.Close()
			s.n = nil
			full.Reset(w.fullPeriod(s))
		}
	}
}

func (w *Watcher) fullPeriod(s *state) time.Duration {
	if s.fallback {
		return w.cfg.FallbackEvery
	}
	if w.cfg.FullEvery < 0 {
		return 1<<63 - 1
	}
	return w.cfg.FullEvery
}

func (w *Watcher) emit(e WatchEvent) {
	if w.cfg.OnEvent != nil {
		w.cfg.OnEvent(e)
	}
}

func (s *state) wantFull(now time.Time, reason string) {
	if s.fullDue.IsZero() {
		s.fullDue, s.fullReason = now, reason
	}
}

// addTree watches dir and every directory below it. Running out of
// watches switches to fallback; other errors (a directory that vanished
// meanwhile) are left to the events and the full pass.
func (s *state) addTree(dir string) {
	if s.n == nil {
		return
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if err := s.n.Add(p); err != nil {
			if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EMFILE) {
				s.toFallback(err)
				return fs.SkipAll
			}
			return nil
		}
		s.dirs[p] = true
		return nil
	})
}

// forget drops the watches of dir and everything below it (renamed or
// deleted); the kernel has usually dropped them already.
func (s *state) forget(dir string) {
	prefix := dir + string(filepath.Separator)
	for d := range s.dirs {
		if d == dir || strings.HasPrefix(d, prefix) {
			delete(s.dirs, d)
			if s.n != nil {
				_ = s.n.Remove(d)
			}
		}
	}
}

func (s *state) toFallback(err error) {
	if s.fallback {
		return
	}
	s.fallback = true
	s.dirs = map[string]bool{}
	werr := fmt.Errorf("syncer: watcher %s: %w (%s): %w", s.w.root, ErrInotifyLimit, inotifyLimits(), err)
	s.w.log.Warn("inotify limit reached; falling back to full passes", "source", s.w.root, "every", s.w.cfg.FallbackEvery, "err", werr)
	s.w.emit(WatchEvent{Kind: WatchFallback, Err: werr})
	s.wantFull(time.Now(), "fallback")
}

// lost handles inotify going away under the watcher (its channels
// closed): no more events, so full passes every FallbackEvery.
func (s *state) lost() {
	err := errors.New("syncer: inotify stopped delivering events")
	s.w.log.Warn("inotify stopped; falling back to full passes", "source", s.w.root, "every", s.w.cfg.FallbackEvery)
	s.w.emit(WatchEvent{Kind: WatchError, Err: err})
	s.fallback = true
	s.dirs = map[string]bool{}
	s.wantFull(time.Now(), "fallback")
}

func (s *state) handle(ev fsnotify.Event) {
	now := time.Now()
	rel, err := filepath.Rel(s.w.root, ev.Name)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return
	}
	if rel == "." {
		if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
			s.wantFull(now, "changes") // the source itself went away: the full pass says so
		}
		return
	}
	if (ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)) && s.dirs[ev.Name] {
		s.forget(ev.Name)
	}
	if ev.Has(fsnotify.Create) {
		if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() {
			// Watch it, then list it whole: what was created in it before
			// the watch was in place goes with it.
			s.addTree(ev.Name)
		}
	}
	if len(s.pending) == 0 {
		s.first = now
	}
	s.pending[rel] = true
	s.last = now
}

func (s *state) handleError(err error) {
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		s.w.log.Warn("inotify queue overflowed; renewing watches and running a full pass", "source", s.w.root)
		s.addTree(s.w.root)
		s.w.emit(WatchEvent{Kind: WatchOverflow, Watches: len(s.dirs), Err: err})
		s.wantFull(time.Now(), "overflow")
		return
	}
	s.w.log.Warn("inotify error", "source", s.w.root, "err", err)
	s.w.emit(WatchEvent{Kind: WatchError, Watches: len(s.dirs), Err: err})
}

// maybeStart starts the batch that is due, or arms the timer for it.
func (s *state) maybeStart(ctx context.Context, done chan<- batchDone, timer *time.Timer) {
	if s.running {
		return
	}
	now := time.Now()
	due := time.Time{}
	if !s.fullDue.IsZero() {
		due = s.fullDue
	}
	if len(s.pending) > 0 {
		d := s.last.Add(s.w.cfg.Delay)
		if limit := s.first.Add(s.w.cfg.MaxDelay); limit.Before(d) {
			d = limit
		}
		if due.IsZero() || d.Before(due) {
			due = d
		}
	}
	if due.IsZero() {
		return
	}
	if due.Before(s.retryAt) {
		due = s.retryAt
	}
	if wait := due.Sub(now); wait > 0 {
		timer.Reset(wait)
		return
	}
	s.running = true
	s.started++
	if !s.fullDue.IsZero() && !s.fullDue.After(now) {
		// A full pass covers what is pending too.
		reason, since := s.fullReason, s.fullDue
		if len(s.pending) > 0 && s.first.Before(since) {
			since = s.first
		}
		s.fullDue = time.Time{}
		s.pending = map[string]bool{}
		go func() {
			rep, err := s.w.run.syncFull(ctx)
			done <- batchDone{b: Batch{Full: true, Reason: reason, Report: rep, Err: err, Latency: time.Since(since)}, first: since}
		}()
		return
	}
	paths := collapse(s.pending)
	first := s.first
	s.pending = map[string]bool{}
	go func() {
		rep, err := s.w.run.syncPaths(ctx, paths)
		done <- batchDone{b: Batch{Reason: "changes", Paths: len(paths), Report: rep, Err: err, Latency: time.Since(first)}, paths: paths, first: first}
	}()
}

// finish records a batch's outcome, schedules its retry when it failed
// and answers the Sync calls it satisfies.
func (s *state) finish(ctx context.Context, d batchDone) {
	s.running = false
	s.done++
	b := d.b
	if b.Err != nil && ctx.Err() != nil {
		return
	}
	if b.Err != nil {
		s.backoff = min(max(2*s.backoff, 250*time.Millisecond), 30*time.Second)
		s.retryAt = time.Now().Add(s.backoff)
		if b.Full {
			s.wantFull(time.Now(), "retry")
		} else {
			for _, p := range d.paths {
				s.pending[p] = true
			}
			if s.first.IsZero() || d.first.Before(s.first) {
				s.first = d.first
			}
			s.last = time.Now()
		}
		s.w.log.Warn("watcher run failed; retrying", "source", s.w.root, "full", b.Full, "paths", b.Paths, "in", s.backoff, "err", b.Err)
	} else {
		s.backoff, s.retryAt = 0, time.Time{}
		s.acc.Files += b.Report.Files
		s.acc.Bytes += b.Report.Bytes
		s.acc.Deleted += b.Report.Deleted
		s.w.log.Debug("watcher run", "source", s.w.root, "full", b.Full, "reason", b.Reason, "paths", b.Paths, "files", b.Report.Files, "deleted", b.Report.Deleted, "latency", b.Latency)
	}
	s.lastErr = b.Err
	for _, c := range s.w.run.connections() {
		s.w.conn.Store(&c)
		s.w.emit(WatchEvent{Kind: WatchConnected, Connection: c, Err: c.Err})
	}
	if s.w.cfg.OnBatch != nil {
		s.w.cfg.OnBatch(b)
	}
	if s.n != nil || len(s.pending) > 0 {
		s.w.run.prepare(ctx)
	}
	kept := s.waiters[:0]
	for _, wt := range s.waiters {
		if s.done >= wt.after {
			s.answer(wt.reply)
			continue
		}
		kept = append(kept, wt)
	}
	s.waiters = kept
}

func (s *state) idle() bool {
	return !s.running && len(s.pending) == 0 && s.fullDue.IsZero()
}

func (s *state) addWaiter(reply chan syncResult) {
	if s.idle() {
		s.answer(reply)
		return
	}
	after := s.started
	if len(s.pending) > 0 || !s.fullDue.IsZero() {
		after++
	}
	s.waiters = append(s.waiters, waiter{after: after, reply: reply})
}

func (s *state) answer(reply chan syncResult) {
	reply <- syncResult{rep: s.acc, err: s.lastErr}
	s.acc = Report{}
}

// collapse sorts the changed paths and drops those inside a listed
// directory: rsync copies a listed directory whole.
func collapse(set map[string]bool) []string {
	paths := make([]string, 0, len(set))
outer:
	for p := range set {
		for dir := filepath.Dir(p); dir != "." && dir != "/"; dir = filepath.Dir(dir) {
			if set[dir] {
				continue outer
			}
		}
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return paths
}
