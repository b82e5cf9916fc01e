package syncer

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/understudy-ha/understudy/cmdrun"
)

// runner is what the [Watcher] needs from its copier: a run of a list of
// paths and a run of the whole tree. prepare is a hint that a list run is
// likely to follow; stop ends what prepare and the runs started.
// connections returns the connections made since its last call, for
// WatchConnected events.
type runner interface {
	syncPaths(ctx context.Context, paths []string) (Report, error)
	syncFull(ctx context.Context) (Report, error)
	prepare(ctx context.Context)
	stop()
	connections() []Connection
}

// primedRsync runs the watcher's lists with rsync started ahead of need
// (locally, and over ssh with TransportSession): rsync connects (ssh
// session, remote rsync --server, protocol handshake) before it reads
// --files-from, so a process started after each batch waits on its stdin
// with the connection up, and the next batch costs the transfer alone.
// Locally that saves the fork and exec of both rsync processes. Over ssh
// it hides the session's start-up (the remote shell and its rc files,
// 0.1 s to over 1 s) only while changes come more slowly than the pool
// refills: one session start-up per process.
type primedRsync struct {
	r *Rsync
	// target, when set, is the daemon tunnel the runs go through (see
	// rsyncd.go); the tunnel's owner makes and ends it.
	target *daemonTarget

	mu   sync.Mutex
	next []*primed // oldest first
}

// primedPool is how many rsync processes wait, connected, for the next
// lists: two, so that a change right after a batch does not wait for the
// connection of the process started when that batch ended.
const primedPool = 2

var _ runner = (*primedRsync)(nil)

// primed is one rsync --files-from=- waiting for its list.
type primed struct {
	w      *os.File // write end of rsync's stdin
	cancel context.CancelFunc
	done   chan struct{}
	res    cmdrun.Result
	err    error
}

func (p *primed) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// discard stops an unused primed rsync (SIGTERM before it has a list, so
// it changes nothing) and waits for it.
func (p *primed) discard() {
	p.cancel()
	p.w.Close()
	<-p.done
}

// start starts an rsync for a list run that waits for the list on stdin.
func (b *primedRsync) start(ctx context.Context) (*primed, error) {
	args, err := b.r.args(true, false, b.target)
	if err != nil {
		return nil, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("syncer: rsync %s: stdin pipe: %w", b.r.name(), err)
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &primed{w: pw, cancel: cancel, done: make(chan struct{})}
	cmd := cmdrun.Cmd{Path: b.r.cfg.Program, Args: args, Env: []string{"LC_ALL=C"}, Stdin: pr}
	go func() {
		p.res, p.err = b.r.runner.Run(ctx, cmd)
		pr.Close() // a writer still blocked on a full pipe now gets EPIPE
		cancel()
		close(p.done)
	}()
	return p, nil
}

// prepare tops the pool up to primedPool waiting processes, dropping
// those that died while they waited.
func (b *primedRsync) prepare(ctx context.Context) {
	b.mu.Lock()
	defer b.mu.Unlock()
	alive := b.next[:0]
	for _, p := range b.next {
		if p.exited() {
			p.discard()
			continue
		}
		alive = append(alive, p)
	}
	b.next = alive
	if len(b.next) < primedPool && b.r.cfg.SSH != nil && b.target == nil {
		_ = b.r.Connect(ctx) // a failure shows in the run; without a master rsync connects by itself
	}
	for len(b.next) < primedPool {
		p, err := b.start(ctx)
		if err != nil {
			return
		}
		b.next = append(b.next, p)
	}
}

// take returns the oldest waiting process (the likeliest to be
// connected already), or nil.
func (b *primedRsync) take() *primed {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.next) == 0 {
		return nil
	}
	p := b.next[0]
	b.next = b.next[1:]
	return p
}

func (b *primedRsync) connections() []Connection { return nil }

func (b *primedRsync) stop() {
	for p := b.take(); p != nil; p = b.take() {
		p.discard()
	}
}

// syncPaths hands paths to the primed rsync (starting one if none is
// waiting, or if the waiting one has died, say with the ssh master) and
// waits for it, under the overlap lock.
func (b *primedRsync) syncPaths(ctx context.Context, paths []string) (Report, error) {
	start := time.Now()
	clean, err := b.r.listPaths(paths)
	if err != nil {
		return Report{}, err
	}
	list := make([]byte, 0, 32*len(paths))
	for _, p := range clean {
		list = append(append(list, p...), 0)
	}
	unlock, err := b.r.lock.TryLock()
	if err != nil {
		return Report{}, fmt.Errorf("syncer: rsync %s: %w", b.r.name(), err)
	}
	defer unlock()
	p := b.take()
	for p != nil && p.exited() {
		p.discard()
		p = b.take()
	}
	if p == nil {
		if b.r.cfg.SSH != nil && b.target == nil {
			_ = b.r.Connect(ctx)
		}
		if p, err = b.start(ctx); err != nil {
			return Report{}, err
		}
	}
	stop := context.AfterFunc(ctx, p.cancel)
	defer stop()
	go func() {
		_, _ = p.w.Write(list) // fails only when rsync is gone; its exit status says why
		p.w.Close()
	}()
	<-p.done
	rep := parseStats(p.res.Stdout)
	rep.Duration = time.Since(start)
	if p.err != nil {
		if ctx.Err() != nil {
			return rep, fmt.Errorf("syncer: rsync %s: %w", b.r.name(), p.err)
		}
		return rep, fmt.Errorf("syncer: rsync %s: %w", b.r.name(), rsyncExit(exitCode(p.res, p.err), string(p.res.Stderr), p.err))
	}
	return rep, nil
}

func (b *primedRsync) syncFull(ctx context.Context) (Report, error) {
	if b.r.cfg.SSH != nil {
		_ = b.r.Connect(ctx)
	}
	return b.r.Sync(ctx)
}
