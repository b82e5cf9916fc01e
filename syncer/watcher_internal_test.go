package syncer

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/internal/testkit/testenv"
)

// fakeNotifier delivers events the test sends; Add fails with addErr
// from the failAt-th call on (0: never).
type fakeNotifier struct {
	events chan fsnotify.Event
	errs   chan error
	mu     sync.Mutex
	adds   int
	failAt int
	addErr error
}

func newFakeNotifier() *fakeNotifier {
	return &fakeNotifier{events: make(chan fsnotify.Event), errs: make(chan error)}
}

func (f *fakeNotifier) Add(string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.adds++
	if f.failAt > 0 && f.adds >= f.failAt {
		return f.addErr
	}
	return nil
}
func (f *fakeNotifier) Remove(string) error           { return nil }
func (f *fakeNotifier) Events() <-chan fsnotify.Event { return f.events }
func (f *fakeNotifier) Errors() <-chan error          { return f.errs }
func (f *fakeNotifier) Close() error                  { return nil }

// fakeRunner records runs; each takes runTime of (fake) time.
type fakeRunner struct {
	mu      sync.Mutex
	runTime time.Duration
	fail    int // fail this many list runs first
	lists   [][]string
	fulls   int
	at      []time.Time
}

func (f *fakeRunner) syncPaths(ctx context.Context, paths []string) (Report, error) {
	time.Sleep(f.runTime)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.at = append(f.at, time.Now())
	if f.fail > 0 {
		f.fail--
		return Report{}, ErrPartial
	}
	f.lists = append(f.lists, paths)
	return Report{Files: len(paths)}, nil
}

func (f *fakeRunner) syncFull(ctx context.Context) (Report, error) {
	time.Sleep(f.runTime)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fulls++
	return Report{}, nil
}
func (f *fakeRunner) prepare(context.Context)   {}
func (f *fakeRunner) stop()                     {}
func (f *fakeRunner) connections() []Connection { return nil }

func (f *fakeRunner) snapshot() ([][]string, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.lists), f.fulls
}

func fakeWatcher(t *testing.T, cfg WatcherConfig) (*Watcher, *fakeNotifier, *fakeRunner) {
	t.Helper()
	root := t.TempDir()
	r, err := NewRsync(RsyncConfig{Source: root, Dest: filepath.Join(t.TempDir(), "dst")})
	require.NoError(t, err)
	cfg.Rsync = r
	w, err := NewWatcher(cfg)
	require.NoError(t, err)
	n, run := newFakeNotifier(), &fakeRunner{runTime: 20 * time.Millisecond}
	w.newNotifier = func() (notifier, error) { return n, nil }
	w.run = run
	return w, n, run
}

// The batching rules, in fake time: a quiet Delay starts a batch; a
// steady stream is cut at MaxDelay; what arrives during a run goes in the
// next; a failed list is retried after a backoff; Sync waits for what was
// pending when it was called.
func TestWatcherBatching(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var batches []Batch
		w, n, run := fakeWatcher(t, WatcherConfig{Delay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond, FullEvery: time.Hour,
			OnBatch: func(b Batch) { batches = append(batches, b) }})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		_, err := w.Sync(ctx) // the start pass
		require.NoError(t, err)
		_, fulls := run.snapshot()
		require.Equal(t, 1, fulls, "one full pass at start")

		name := func(s string) string { return filepath.Join(w.root, s) }
		start := time.Now()
		n.events <- fsnotify.Event{Name: name("a"), Op: fsnotify.Create}
		n.events <- fsnotify.Event{Name: name("a"), Op: fsnotify.Write}
		_, err = w.Sync(ctx)
		require.NoError(t, err)
		lists, _ := run.snapshot()
		require.Equal(t, [][]string{{"a"}}, lists)
		assert.Equal(t, 5*time.Millisecond+run.runTime, time.Since(start), "quiet time, then one run")

		// A stream with a change every 2 ms for 200 ms: no quiet time,
		// so MaxDelay cuts it; the changes during each 20 ms run wait.
		for i := range 100 {
			n.events <- fsnotify.Event{Name: name("s/" + strconv.Itoa(i)), Op: fsnotify.Create}
			time.Sleep(2 * time.Millisecond)
		}
		_, err = w.Sync(ctx)
		require.NoError(t, err)
		lists, _ = run.snapshot()
		var got []string
		for _, l := range lists[1:] {
			got = append(got, l...)
		}
		assert.Len(t, got, 100, "every change shipped once")
		assert.Len(t, lists[1:], 4, "cut every 50 ms: 4 runs for 200 ms")
		for _, b := range batches[2:] {
			assert.LessOrEqual(t, b.Latency, 50*time.Millisecond+run.runTime+2*time.Millisecond)
		}

		// A failed list is kept and retried after 250 ms; Sync reports
		// the failure it saw.
		run.mu.Lock()
		run.fail = 1
		run.mu.Unlock()
		n.events <- fsnotify.Event{Name: name("b"), Op: fsnotify.Write}
		_, err = w.Sync(ctx)
		require.ErrorIs(t, err, ErrPartial)
		failedAt := time.Now()
		_, err = w.Sync(ctx)
		require.NoError(t, err)
		assert.Equal(t, 250*time.Millisecond+run.runTime, time.Since(failedAt), "retried after the backoff")
		lists, _ = run.snapshot()
		assert.Equal(t, []string{"b"}, lists[len(lists)-1])

		// An overflow renews the watches and runs a full pass.
		n.errs <- fsnotify.ErrEventOverflow
		_, err = w.Sync(ctx)
		require.NoError(t, err)
		_, fulls = run.snapshot()
		assert.Equal(t, 2, fulls)
		assert.Equal(t, "overflow", batches[len(batches)-1].Reason)

		cancel()
		assert.ErrorIs(t, <-done, context.Canceled)
	})
}

// Running out of inotify watches is reported once, with ErrInotifyLimit,
// and full passes then run every FallbackEvery.
func TestWatcherFallbackSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var events []WatchEvent
		w, n, run := fakeWatcher(t, WatcherConfig{FallbackEvery: 10 * time.Second, FullEvery: time.Hour,
			OnEvent: func(e WatchEvent) { events = append(events, e) }})
		for i := range 3 {
			require.NoError(t, os.MkdirAll(filepath.Join(w.root, "d"+strconv.Itoa(i)), 0o755))
		}
		n.failAt, n.addErr = 2, syscall.ENOSPC
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		time.Sleep(35 * time.Second)
		synctest.Wait()
		_, fulls := run.snapshot()
		assert.Equal(t, 4, fulls, "at start, then at 10, 20 and 30 s")
		require.Len(t, events, 1)
		assert.Equal(t, WatchFallback, events[0].Kind)
		assert.ErrorIs(t, events[0].Err, ErrInotifyLimit)
		assert.ErrorIs(t, events[0].Err, syscall.ENOSPC)
		cancel()
		assert.ErrorIs(t, <-done, context.Canceled)
	})
}

func TestCollapse(t *testing.T) {
	got := collapse(map[string]bool{"a/b/c": true, "a": true, "a b": true, "a b/x": true, "z/y": true, "ab": true})
	assert.Equal(t, []string{"a", "a b", "ab", "z/y"}, got)
}

func TestWatcherConfigValidate(t *testing.T) {
	r, err := NewRsync(RsyncConfig{Source: "/srv/a", Dest: "/srv/b"})
	require.NoError(t, err)
	pull, err := NewRsync(RsyncConfig{Source: "/srv/a", Dest: "/srv/b", Pull: true, SSH: &SSH{Host: "peer"}})
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		cfg  WatcherConfig
		want string // substring of the error; "" for none
	}{
		{"defaults", WatcherConfig{Rsync: r}, ""},
		{"every transport", WatcherConfig{Rsync: r, Transport: TransportSession}, ""},
		{"no rsync", WatcherConfig{}, "rsync is required"},
		{"pull", WatcherConfig{Rsync: pull}, "must push"},
		{"negative max delay", WatcherConfig{Rsync: r, MaxDelay: -1}, "negative max delay"},
		{"negative fallback period", WatcherConfig{Rsync: r, FallbackEvery: -1}, "negative fallback period"},
		{"unknown transport", WatcherConfig{Rsync: r, Transport: TransportSession + 1}, "unknown transport 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tc.want)
			}
		})
	}
	w, err := NewWatcher(WatcherConfig{Rsync: r, Delay: -1})
	require.NoError(t, err)
	assert.Equal(t, time.Duration(0), w.Config().Delay)
	assert.Equal(t, DefaultWatchMaxDelay, w.Config().MaxDelay)
}

// limitedNotifier is the real inotify with a watch limit of its own:
// Add fails with ENOSPC, as inotify_add_watch does, beyond max watches.
type limitedNotifier struct {
	notifier
	max, n int
}

func (l *limitedNotifier) Add(p string) error {
	if l.n >= l.max {
		return syscall.ENOSPC
	}
	l.n++
	return l.notifier.Add(p)
}

// With its watches exhausted, the watcher still replicates, by full
// passes (real rsync).
func TestWatcherFallbackStillSyncs(t *testing.T) {
	testenv.Require(t, "rsync", "rsync")
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	for i := range 4 {
		require.NoError(t, os.MkdirAll(filepath.Join(src, "d"+strconv.Itoa(i)), 0o755))
	}
	r, err := NewRsync(RsyncConfig{Source: src, Dest: dst, Delete: true})
	require.NoError(t, err)
	events := make(chan WatchEvent, 4)
	w, err := NewWatcher(WatcherConfig{Rsync: r, FallbackEvery: 20 * time.Millisecond, OnEvent: func(e WatchEvent) { events <- e }})
	require.NoError(t, err)
	w.newNotifier = func() (notifier, error) {
		n, err := newFsnotify()
		return &limitedNotifier{notifier: n, max: 2}, err
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	e := <-events
	assert.Equal(t, WatchFallback, e.Kind)
	require.ErrorIs(t, e.Err, ErrInotifyLimit)
	assert.Contains(t, e.Err.Error(), "max_user_watches")

	// d3 is not watched (and after the fallback nothing is): only a full
	// pass can carry these.
	require.NoError(t, os.WriteFile(filepath.Join(src, "d3", "f"), []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(src, "top"), []byte("y"), 0o644))
	testenv.Eventually(t, 10*time.Second, "a full pass carries the changes", func() bool {
		a, errA := os.ReadFile(filepath.Join(dst, "d3", "f"))
		b, errB := os.ReadFile(filepath.Join(dst, "top"))
		return errA == nil && errB == nil && string(a) == "x" && string(b) == "y"
	})
	_, err = w.Sync(t.Context())
	require.NoError(t, err)
}

// inotify going away (its channels closed) is reported once and full
// passes take over.
func TestWatcherNotifierLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var events []WatchEvent
		w, n, run := fakeWatcher(t, WatcherConfig{FallbackEvery: 10 * time.Second, FullEvery: time.Hour,
			OnEvent: func(e WatchEvent) { events = append(events, e) }})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		_, err := w.Sync(ctx)
		require.NoError(t, err)
		close(n.events)
		time.Sleep(15 * time.Second)
		synctest.Wait()
		_, fulls := run.snapshot()
		assert.Equal(t, 3, fulls, "at start, at once when lost, and 10 s later")
		require.Len(t, events, 2, "started, then lost")
		assert.Equal(t, WatchError, events[1].Kind)
		cancel()
		assert.ErrorIs(t, <-done, context.Canceled)
	})
}
