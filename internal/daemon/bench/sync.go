package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/understudy-ha/understudy/internal/servers/sshd"
	"github.com/understudy-ha/understudy/syncer"
)

// SyncOptions tunes [Sync]. Zero values mean the defaults.
type SyncOptions struct {
	// Singles is the number of single-file changes timed per tool and
	// transport (50).
	Singles int
	// Burst is the number of files written at once (5,000).
	Burst int
	// Gap is the pause between single changes once the tool is idle
	// again (200ms): single changes are isolated, as most writes to a
	// served tree are; a stream of changes is what the burst measures.
	Gap time.Duration
	// WatcherDelay is the watcher's quiet time (syncer.DefaultWatchDelay).
	WatcherDelay time.Duration
	// RemoteRC is how long the peer's rc file takes to run in every ssh
	// session (600ms; negative: none, the login user's own rc files
	// apply). Real servers' rc files (pyenv, nvm, conda) cost 0.1 s to
	// over a second; the figure over ssh must hold with them.
	RemoteRC time.Duration
	// Timeout bounds the wait for one change or the burst (30s).
	Timeout time.Duration
	// Progress, when set, gets a line per phase.
	Progress io.Writer
}

func (o *SyncOptions) defaults() {
	if o.Singles == 0 {
		o.Singles = 50
	}
	if o.Burst == 0 {
		o.Burst = 5000
	}
	if o.Gap == 0 {
		o.Gap = 200 * time.Millisecond
	}
	if o.WatcherDelay == 0 {
		o.WatcherDelay = syncer.DefaultWatchDelay
	}
	if o.RemoteRC == 0 {
		o.RemoteRC = 600 * time.Millisecond
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

// replicator is one tool under measurement, running.
type replicator interface {
	// idle waits until the tool has no run going and nothing queued.
	idle(ctx context.Context) error
	// runs is the number of rsync runs so far.
	runs() int
	// via names the way the runs go ("rsyncd", "sessions", "rsyncssh", …).
	via() string
	// sessionStart is the session start-up the tool measured (0: none).
	sessionStart() time.Duration
	stop()
}

// Sync measures write-to-replica latency and burst handling of the
// native watcher and of lsyncd, locally and to a peer over ssh (a real
// sshd on 127.0.0.1, started here, whose sessions each run an rc file
// that takes RemoteRC, as a real server's would). It first prints what
// a session costs there, with and without a master connection:
//
//	ssh_true_ms master=no remote_rc=600ms p50=931.0 n=3
//	ssh_true_ms master=yes remote_rc=600ms p50=648.2 n=3
//
// and then, for each tool, transport and way of running,
//
//	sync_ms tool=watcher transport=ssh via=rsyncd delay=5ms session_start_ms=651.0 p50=14.2 p95=18.0 n=50
//	sync_burst tool=watcher transport=ssh via=rsyncd files=5000 runs=4 total_ms=812.5
//
// with session_start_ms, where the tool measured it, the start-up of
// one session as the watcher measured it when it connected. The watcher
// over ssh runs twice: with its default transport (an rsync daemon
// reached through the ssh connection) and with TransportSession (rsync
// over a new ssh session per run, two started ahead), beside lsyncd's
// default.rsyncssh. Targets follow as sync_target lines.
//
// Latency runs from the write (a new file, closed) to the moment its
// content is readable on the replica, polled every millisecond; between
// changes the tool is let go idle and Gap passes. lsyncd runs default.rsync locally and
// default.rsyncssh over ssh, both with delay=0. The burst writes Burst
// files into an existing directory and counts rsync runs until all have
// arrived and the tool is idle.
func Sync(ctx context.Context, w io.Writer, o SyncOptions) error {
	o.defaults()
	base, err := os.MkdirTemp("", "understudy-bench-sync-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(base)
	sshDir := filepath.Join(base, "sshd")
	if err := os.Mkdir(sshDir, 0o700); err != nil {
		return err
	}
	var so sshd.Options
	rc := "none"
	if o.RemoteRC > 0 {
		so.ShellRC = fmt.Sprintf("sleep %.3f\n", o.RemoteRC.Seconds())
		rc = o.RemoteRC.String()
	}
	srv, err := sshd.LaunchWith(ctx, sshDir, so)
	if err != nil {
		return fmt.Errorf("bench sync: %w", err)
	}
	defer srv.Stop()
	peer := srv.SSH()

	fresh, overMaster, err := sshTrue(ctx, peer, 3)
	if err != nil {
		return fmt.Errorf("bench sync: ssh true: %w", err)
	}
	fmt.Fprintf(w, "ssh_true_ms master=no remote_rc=%s p50=%.1f n=%d\n", rc, fresh, 3)
	fmt.Fprintf(w, "ssh_true_ms master=yes remote_rc=%s p50=%.1f n=%d\n", rc, overMaster, 3)

	type result struct {
		tool, transport, via string
		p50, p95, burstMS    float64
		n, runs              int
	}
	var results []result
	type run struct {
		tool, transport string
		mode            syncer.WatchTransport
	}
	for _, c := range []run{{"watcher", "local", 0}, {"lsyncd", "local", 0},
		{"watcher", "ssh", syncer.TransportAuto}, {"watcher", "ssh", syncer.TransportSession}, {"lsyncd", "ssh", 0}} {
		name := c.tool + "-" + c.transport + "-" + c.mode.String()
		dir := filepath.Join(base, name)
		src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
		for _, d := range []string{filepath.Join(src, "single"), filepath.Join(src, "burst")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(src, "seed"), []byte("seed"), 0o644); err != nil {
			return err
		}
		var p *syncer.SSH
		if c.transport == "ssh" {
			p = &peer
		}
		fmt.Fprintf(o.Progress, "bench sync: %s: starting\n", name)
		var rep replicator
		delay := "0s"
		switch c.tool {
		case "watcher":
			rep, err = startWatcher(ctx, src, dst, p, o.WatcherDelay, c.mode)
			delay = o.WatcherDelay.String()
		default:
			rep, err = startLsyncd(ctx, dir, src, dst, p, o.Timeout)
		}
		if err != nil {
			return fmt.Errorf("bench sync: %s: %w", name, err)
		}
		r, err := measure(ctx, rep, src, dst, o)
		rep.stop()
		if err != nil {
			return fmt.Errorf("bench sync: %s: %w", name, err)
		}
		res := result{tool: c.tool, transport: c.transport, via: rep.via(), n: len(r.lat), runs: r.runs, burstMS: ms(r.burst)}
		lat := make([]float64, len(r.lat))
		for i, d := range r.lat {
			lat[i] = ms(d)
		}
		res.p50, res.p95 = percentile(lat, 50), percentile(lat, 95)
		start := ""
		if d := rep.sessionStart(); d > 0 {
			start = fmt.Sprintf(" session_start_ms=%.1f", ms(d))
		}
		fmt.Fprintf(w, "sync_ms tool=%s transport=%s via=%s delay=%s%s p50=%.1f p95=%.1f n=%d\n", c.tool, c.transport, res.via, delay, start, res.p50, res.p95, res.n)
		fmt.Fprintf(w, "sync_burst tool=%s transport=%s via=%s files=%d runs=%d total_ms=%.1f\n", c.tool, c.transport, res.via, o.Burst, res.runs, res.burstMS)
		results = append(results, res)
	}
	get := func(tool, transport, via string) result {
		for _, r := range results {
			if r.tool == tool && r.transport == transport && (via == "" || r.via == via) {
				return r
			}
		}
		return result{}
	}
	ws, ls, wl, ll := get("watcher", "ssh", "rsyncd"), get("lsyncd", "ssh", ""), get("watcher", "local", ""), get("lsyncd", "local", "")
	target := func(name string, met bool, value string) {
		fmt.Fprintf(w, "sync_target name=%s met=%t value=%s\n", name, met, value)
	}
	target("remote_session_start_over_500ms", overMaster >= 500, fmt.Sprintf("%.1f", overMaster))
	target("ssh_watcher_p50_under_30ms", ws.n > 0 && ws.p50 <= 30, fmt.Sprintf("%.1f", ws.p50))
	target("ssh_watcher_p95_under_100ms", ws.n > 0 && ws.p95 <= 100, fmt.Sprintf("%.1f", ws.p95))
	target("ssh_watcher_p50_3x_lsyncd", ws.n > 0 && ws.p50*3 <= ls.p50, fmt.Sprintf("%.2fx", ls.p50/ws.p50))
	target("local_watcher_p50_within_1.5x_lsyncd", wl.p50 <= 1.5*ll.p50, fmt.Sprintf("%.2fx", wl.p50/ll.p50))
	target("local_watcher_p95_within_1.5x_lsyncd", wl.p95 <= 1.5*ll.p95, fmt.Sprintf("%.2fx", wl.p95/ll.p95))
	target("local_burst_runs_not_more_than_lsyncd", wl.runs <= ll.runs, fmt.Sprintf("%d/%d", wl.runs, ll.runs))
	target("ssh_burst_runs_not_more_than_lsyncd", ws.runs <= ls.runs, fmt.Sprintf("%d/%d", ws.runs, ls.runs))
	return nil
}

// sshTrue returns the median time of `ssh peer true` over n fresh
// connections and over n sessions of one master connection, in
// milliseconds: what a session costs on the peer, handshake included
// or not.
func sshTrue(ctx context.Context, peer syncer.SSH, n int) (fresh, overMaster float64, err error) {
	time1 := func(s syncer.SSH) (float64, error) {
		start := time.Now()
		if err := (syncer.RemoteCommand{SSH: s, Argv: []string{"true"}}).Run(ctx); err != nil {
			return 0, err
		}
		return ms(time.Since(start)), nil
	}
	var a, b []float64
	for range n {
		d, err := time1(peer)
		if err != nil {
			return 0, 0, err
		}
		a = append(a, d)
	}
	m, err := peer.StartMaster(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer m.Close()
	for range n {
		d, err := time1(m.SSH())
		if err != nil {
			return 0, 0, err
		}
		b = append(b, d)
	}
	return percentile(a, 50), percentile(b, 50), nil
}

type measured struct {
	lat   []time.Duration
	burst time.Duration
	runs  int
}

// measure times o.Singles single-file changes and one burst.
func measure(ctx context.Context, rep replicator, src, dst string, o SyncOptions) (measured, error) {
	var m measured
	for i := range o.Singles {
		name := filepath.Join("single", "f"+strconv.Itoa(i))
		content := []byte(strconv.Itoa(i) + "-" + strconv.FormatInt(time.Now().UnixNano(), 10))
		start := time.Now()
		if err := os.WriteFile(filepath.Join(src, name), content, 0o644); err != nil {
			return m, err
		}
		if err := waitForFast(ctx, o.Timeout, func() bool {
			b, err := os.ReadFile(filepath.Join(dst, name))
			return err == nil && string(b) == string(content)
		}); err != nil {
			return m, fmt.Errorf("change %d did not arrive: %w", i, err)
		}
		m.lat = append(m.lat, time.Since(start))
		if err := rep.idle(ctx); err != nil {
			return m, err
		}
		select {
		case <-ctx.Done():
			return m, ctx.Err()
		case <-time.After(o.Gap):
		}
	}
	fmt.Fprintf(o.Progress, "bench sync: %d single changes done; burst of %d\n", o.Singles, o.Burst)
	before := rep.runs()
	start := time.Now()
	for i := range o.Burst {
		if err := os.WriteFile(filepath.Join(src, "burst", "f"+strconv.Itoa(i)), []byte(strconv.Itoa(i)), 0o644); err != nil {
			return m, err
		}
	}
	last := filepath.Join(dst, "burst", "f"+strconv.Itoa(o.Burst-1))
	if err := waitForFast(ctx, o.Timeout, func() bool {
		if _, err := os.Stat(last); err != nil {
			return false
		}
		return countFiles(filepath.Join(dst, "burst")) >= o.Burst
	}); err != nil {
		return m, fmt.Errorf("burst did not arrive (%d of %d files): %w", countFiles(filepath.Join(dst, "burst")), o.Burst, err)
	}
	m.burst = time.Since(start)
	if err := rep.idle(ctx); err != nil {
		return m, err
	}
	m.runs = rep.runs() - before
	return m, nil
}

// countFiles counts the finished files in dir (not rsync's ".name.XXXXXX"
// temporaries).
func countFiles(dir string) int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	return n
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// watcherRep is the native watcher under measurement.
type watcherRep struct {
	w      *syncer.Watcher
	local  bool
	n      atomic.Int64
	cancel context.CancelFunc
	done   chan error
}

func startWatcher(ctx context.Context, src, dst string, peer *syncer.SSH, delay time.Duration, mode syncer.WatchTransport) (*watcherRep, error) {
	r, err := syncer.NewRsync(syncer.RsyncConfig{Source: src, Dest: dst, SSH: peer, Delete: true})
	if err != nil {
		return nil, err
	}
	rep := &watcherRep{done: make(chan error, 1), local: peer == nil}
	w, err := syncer.NewWatcher(syncer.WatcherConfig{Rsync: r, Delay: delay, Transport: mode, OnBatch: func(b syncer.Batch) {
		if !b.Full {
			rep.n.Add(1)
		}
	}})
	if err != nil {
		return nil, err
	}
	rep.w = w
	ctx, rep.cancel = context.WithCancel(ctx)
	go func() { rep.done <- w.Run(ctx) }()
	if err := rep.idle(ctx); err != nil {
		rep.stop()
		return nil, err
	}
	return rep, nil
}

func (r *watcherRep) idle(ctx context.Context) error {
	_, err := r.w.Sync(ctx)
	return err
}

func (r *watcherRep) runs() int { return int(r.n.Load()) }

// via is "primed" locally, else the transport the watcher connected
// with: "rsyncd", or "sessions" (chosen, or fallen back to).
func (r *watcherRep) via() string {
	c, ok := r.w.Connection()
	switch {
	case r.local:
		return "primed"
	case !ok:
		return "unknown"
	case c.Transport == syncer.TransportDaemon:
		return "rsyncd"
	default:
		return "sessions"
	}
}

func (r *watcherRep) sessionStart() time.Duration {
	c, _ := r.w.Connection()
	return c.SessionStart
}

func (r *watcherRep) stop() {
	r.cancel()
	<-r.done
}
