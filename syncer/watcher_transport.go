package syncer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// WatchTransport says how a [Watcher] reaches a peer over ssh.
type WatchTransport int

// The transports of a [Watcher] over ssh.
const (
	// TransportAuto (the default) is TransportDaemon, falling back to
	// TransportSession for DaemonRetry when the daemon cannot be
	// started while ssh itself works (the peer's sshd forbids TCP
	// forwarding, its rsync lacks daemon mode, a forced command in
	// authorized_keys). The fallback is a WatchConnected event with Err
	// set, and a warning in the log.
	TransportAuto WatchTransport = iota
	// TransportDaemon sends every run to an rsync daemon that one ssh
	// session over the master connection keeps running on the peer, bound
	// to the peer's loopback and open only to a password made for that
	// session, through a local port the master forwards. A run is a new
	// channel on the open connection (its client connected ahead of
	// need) and starts no remote shell, so its latency does not depend
	// on the peer's rc files.
	TransportDaemon
	// TransportSession runs every rsync over a new ssh session on the
	// master connection, two of them started ahead of need. Each session
	// costs the remote shell's start-up (rc files included); when changes
	// come faster than that, they wait for it.
	TransportSession
)

// DaemonRetry is how long TransportAuto keeps to sessions after the
// daemon could not be started, before it tries again.
const DaemonRetry = time.Minute

func (t WatchTransport) String() string {
	switch t {
	case TransportAuto:
		return "auto"
	case TransportDaemon:
		return "rsyncd"
	case TransportSession:
		return "ssh"
	}
	return "unknown"
}

// Connection is how a [Watcher] reached its peer, as measured when it
// connected (or reconnected).
type Connection struct {
	// Transport is TransportDaemon or TransportSession.
	Transport WatchTransport
	// SessionStart is how long one new ssh session on the master
	// connection took to run its first command: the remote login shell's
	// start-up, rc files included. TransportSession pays it for every
	// run (ahead of need); TransportDaemon once per connection.
	SessionStart time.Duration
	// Setup is the whole of the connection's start: for TransportDaemon
	// the session, the daemon, the forward and a probe through it.
	Setup time.Duration
	// Err, for TransportAuto, is why the daemon could not be started
	// and the watcher went over sessions instead.
	Err error
}

// peerRsync runs a watcher's batches to a peer over ssh, through the
// daemon tunnel or over sessions as the transport says.
type peerRsync struct {
	r       *Rsync
	mode    WatchTransport
	timeout time.Duration
	log     *slog.Logger
	session *primedRsync

	mu       sync.Mutex
	t        *tunnel
	pool     *primedRsync // rsync clients connected ahead through t
	retryAt  time.Time    // TransportAuto: sessions until then
	measured *Master      // the master whose session start-up was measured
	conns    []Connection
}

var _ runner = (*peerRsync)(nil)

func newPeerRsync(r *Rsync, mode WatchTransport, log *slog.Logger) *peerRsync {
	// The timeout bounds each step of a start: the session's (a slow rc
	// file) and the daemon's.
	timeout := 3 * time.Duration(r.cfg.SSH.connectSeconds()) * time.Second
	return &peerRsync{r: r, mode: mode, timeout: timeout, log: log, session: &primedRsync{r: r}}
}

// via returns the daemon to run through, or nil to run over sessions.
func (p *peerRsync) via(ctx context.Context) (*daemonTarget, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == TransportSession || (p.mode == TransportAuto && time.Now().Before(p.retryAt)) {
		p.measureSession(ctx)
		return nil, nil
	}
	if p.t != nil {
		if p.t.alive() {
			return &p.t.target, nil
		}
		// A new daemon, password and ports: nothing of the old tunnel
		// is used again.
		p.dropTunnel()
	}
	if err := p.r.Connect(ctx); err != nil {
		return nil, err
	}
	m := p.r.currentMaster()
	if m == nil {
		return nil, fmt.Errorf("syncer: watcher to %s: %w", p.r.cfg.SSH.Host, errTunnelLost)
	}
	t, err := startTunnel(ctx, m, p.timeout)
	if err != nil {
		if p.mode != TransportAuto || errors.Is(err, ErrSSH) || ctx.Err() != nil {
			return nil, err
		}
		p.retryAt = time.Now().Add(DaemonRetry)
		p.log.Warn("rsync daemon on the peer could not be started; running over ssh sessions", "to", p.r.cfg.SSH.Host, "retry_in", DaemonRetry, "err", err)
		p.measured = nil
		p.measureSession(ctx)
		if n := len(p.conns); n > 0 {
			p.conns[n-1].Err = err
		} else {
			p.conns = append(p.conns, Connection{Transport: TransportSession, Err: err})
		}
		return nil, nil
	}
	p.session.stop() // sessions primed while the daemon could not start
	p.t, p.pool = t, &primedRsync{r: p.r, target: &t.target}
	p.conns = append(p.conns, Connection{Transport: TransportDaemon, SessionStart: t.sessionStart, Setup: t.setup})
	p.log.Info("rsync daemon on the peer ready", "to", p.r.cfg.SSH.Host, "session_start", t.sessionStart, "setup", t.setup)
	return &t.target, nil
}

// measureSession times `true` over a master connection that has not
// been measured yet, for Connection.SessionStart.
func (p *peerRsync) measureSession(ctx context.Context) {
	if err := p.r.Connect(ctx); err != nil {
		return // the run reports it
	}
	m := p.r.currentMaster()
	if m == nil || m == p.measured {
		return
	}
	p.measured = m
	start := time.Now()
	if err := (RemoteCommand{SSH: m.SSH(), Argv: []string{"true"}}).Run(ctx); err != nil {
		return
	}
	d := time.Since(start)
	p.conns = append(p.conns, Connection{Transport: TransportSession, SessionStart: d, Setup: d})
}

// ran checks a failed run through t: when the tunnel went away under it
// (the daemon's session or the master ended, or the forward no longer
// reaches the daemon), the error says so (ErrSSH) and the next run
// starts a new tunnel.
func (p *peerRsync) ran(ctx context.Context, t *daemonTarget, err error) error {
	if err == nil || t == nil || ctx.Err() != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.t == nil || &p.t.target != t {
		return err
	}
	if p.t.diedWithin(100*time.Millisecond) || probeDaemon(ctx, p.t.addr, 5*time.Second) != nil {
		p.dropTunnel()
		return fmt.Errorf("%w (%w)", err, errTunnelLost)
	}
	return err
}

// dropTunnel ends the tunnel and the clients connected through it.
func (p *peerRsync) dropTunnel() {
	if p.pool != nil {
		p.pool.stop()
		p.pool = nil
	}
	if p.t != nil {
		p.t.close()
		p.t = nil
	}
}

func (p *peerRsync) syncPaths(ctx context.Context, paths []string) (Report, error) {
	via, err := p.via(ctx)
	if err != nil {
		return Report{}, err
	}
	if via == nil {
		return p.session.syncPaths(ctx, paths)
	}
	p.mu.Lock()
	pool := p.pool
	p.mu.Unlock()
	rep, err := pool.syncPaths(ctx, paths)
	return rep, p.ran(ctx, via, err)
}

func (p *peerRsync) syncFull(ctx context.Context) (Report, error) {
	via, err := p.via(ctx)
	if err != nil {
		return Report{}, err
	}
	if via == nil {
		return p.session.syncFull(ctx)
	}
	rep, err := p.r.run(ctx, nil, via)
	return rep, p.ran(ctx, via, err)
}

// prepare connects the next runs' rsync clients ahead of need: through
// the tunnel while it is up (about 30 ms each, so the pool is full again
// long before the next change), else over sessions. A client connected
// ahead has not yet looked up the destination: it does so when its list
// arrives.
func (p *peerRsync) prepare(ctx context.Context) {
	p.mu.Lock()
	sessions := p.mode == TransportSession || (p.mode == TransportAuto && time.Now().Before(p.retryAt))
	var pool *primedRsync
	if !sessions && p.t != nil && p.t.alive() {
		pool = p.pool
	}
	p.mu.Unlock()
	switch {
	case sessions:
		p.session.prepare(ctx)
	case pool != nil:
		pool.prepare(ctx)
	}
}

func (p *peerRsync) stop() {
	p.session.stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropTunnel()
}

func (p *peerRsync) connections() []Connection {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.conns
	p.conns = nil
	return c
}
