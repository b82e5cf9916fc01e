package ippool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/failover"
)

func lookPath(prog string) (string, error) {
	p, err := exec.LookPath(prog)
	if err != nil {
		pkg := prog
		if prog == "ip" {
			pkg = "iproute2"
		}
		return "", fmt.Errorf("ippool: %s not found (Debian package %s): %w", prog, pkg, err)
	}
	return p, nil
}

// KeepalivedEventKind names a [KeepalivedEvent].
type KeepalivedEventKind string

// What a supervised keepalived does.
const (
	KeepalivedConfigOK   KeepalivedEventKind = "config_ok"  // the generated configuration passed --config-test
	KeepalivedStarted    KeepalivedEventKind = "started"    // PID is the new parent process
	KeepalivedExited     KeepalivedEventKind = "exited"     // it died without being asked to; Err says how
	KeepalivedStaleVIP   KeepalivedEventKind = "stale_vip"  // a VIP the dead keepalived left behind was removed
	KeepalivedRestarting KeepalivedEventKind = "restarting" // it is restarted after RestartDelay
	KeepalivedStopped    KeepalivedEventKind = "stopped"    // Run's context ended and it exited
)

// KeepalivedEvent is something a supervised keepalived did.
type KeepalivedEvent struct {
	Time time.Time
	Kind KeepalivedEventKind
	PID  int
	// VIP is the address of a stale_vip event.
	VIP string
	Err error
}

// KeepalivedOptions configure a supervised keepalived.
type KeepalivedOptions struct {
	// Config is the instance to run (required).
	Config KeepalivedConfig
	// Dir holds keepalived.conf, the pid files and, unless
	// Config.TrackFile is set, the steering file "steer" (required).
	Dir string
	// NetNS runs keepalived inside this network namespace (through
	// `ip netns exec`); "" runs it here.
	NetNS string
	// Binary and IP are the paths of keepalived and ip ("" looks them up).
	Binary, IP string
	// Runner runs the config test (nil: the real one).
	Runner cmdrun.Runner
	// RestartDelay separates a crash from the restart (default 1s).
	RestartDelay time.Duration
	// StopTimeout bounds the wait for keepalived to exit after SIGTERM
	// before SIGKILL (default 10s; keepalived takes 2-3 s).
	StopTimeout time.Duration
	// Logger receives lifecycle at Info and keepalived's own output at
	// Debug (nil: discard).
	Logger *slog.Logger
	// OnEvent, if set, is called with every lifecycle event; it must not
	// block.
	OnEvent func(KeepalivedEvent)
}

// Keepalived runs and supervises keepalived (VRRP only: -P) for one
// generated configuration: it writes keepalived.conf, checks it with
// --config-test inside the namespace, starts keepalived in the
// foreground, and restarts it when it dies. A keepalived killed by
// SIGKILL leaves its VIPs configured (and its VRRP child, possibly,
// running): before restarting, the supervisor kills the orphaned child
// and removes the VIPs through [Link], so the node never holds a stale
// copy of an address the peer has taken over.
//
// The steering file (Config.TrackFile, default Dir/steer) is written by
// [TrackFileSwitcher]; Switcher returns one for this instance.
type Keepalived struct {
	o   KeepalivedOptions
	log *slog.Logger

	mu  sync.Mutex
	pid int
}

// NewKeepalived validates o and returns a supervisor. Nothing runs until
// Run.
func NewKeepalived(o KeepalivedOptions) (*Keepalived, error) {
	if o.Dir == "" {
		return nil, errors.New("ippool: keepalived: dir is required")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("ippool: keepalived: %w", err)
	}
	o.Dir = dir
	if o.Config.TrackFile == "" {
		o.Config.TrackFile = filepath.Join(dir, "steer")
	}
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	if o.Binary == "" {
		if o.Binary, err = lookPath("keepalived"); err != nil {
			return nil, err
		}
	}
	if o.NetNS != "" && o.IP == "" {
		if o.IP, err = lookPath("ip"); err != nil {
			return nil, err
		}
	}
	if o.RestartDelay <= 0 {
		o.RestartDelay = time.Second
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = 10 * time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Keepalived{o: o, log: log.With("keepalived", o.Config.Instance, "netns", o.NetNS)}, nil
}

// ConfigPath is where the generated keepalived.conf is written.
func (k *Keepalived) ConfigPath() string { return filepath.Join(k.o.Dir, "keepalived.conf") }

// TrackFile is the steering file.
func (k *Keepalived) TrackFile() string { return k.o.Config.TrackFile }

// Switcher returns a failover.Switcher that steers this instance through
// its track file (see [TrackFileSwitcher]).
func (k *Keepalived) Switcher(self string) *TrackFileSwitcher {
	return &TrackFileSwitcher{Self: self, Path: k.o.Config.TrackFile}
}

// WriteConfig renders the configuration into ConfigPath, creates the
// steering file (value 0) if it does not exist, and checks the result
// with keepalived --config-test.
func (k *Keepalived) WriteConfig(ctx context.Context) error {
	text, err := k.o.Config.Render()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(k.o.Dir, 0o700); err != nil {
		return fmt.Errorf("ippool: keepalived: %w", err)
	}
	if err := writeFileAtomic(k.ConfigPath(), text, 0o600); err != nil {
		return err
	}
	if _, err := os.Stat(k.o.Config.TrackFile); errors.Is(err, os.ErrNotExist) {
		if err := writeFileAtomic(k.o.Config.TrackFile, []byte("0\n"), 0o600); err != nil {
			return err
		}
	}
	if err := CheckKeepalivedConfig(ctx, k.o.Runner, k.o.Binary, k.o.IP, k.o.NetNS, k.ConfigPath()); err != nil {
		return err
	}
	k.emit(KeepalivedEvent{Kind: KeepalivedConfigOK})
	return nil
}

// PIDs returns the PIDs of the running keepalived parent and its VRRP
// child (0 when unknown), for status and for tests that crash it.
func (k *Keepalived) PIDs() (parent, vrrp int) {
	k.mu.Lock()
	parent = k.pid
	k.mu.Unlock()
	vrrp, _ = readPID(filepath.Join(k.o.Dir, "vrrp.pid"))
	return parent, vrrp
}

// Run writes and checks the configuration, then runs keepalived until
// ctx ends, restarting it after every unexpected exit. On ctx's end
// keepalived gets SIGTERM (it then sends a priority-0 advert and removes
// its VIPs) and Run returns nil once it has exited. A configuration that
// fails the check is returned at once.
func (k *Keepalived) Run(ctx context.Context) error {
	if err := k.WriteConfig(ctx); err != nil {
		return err
	}
	for {
		err := k.runOnce(ctx)
		if ctx.Err() != nil {
			k.emit(KeepalivedEvent{Kind: KeepalivedStopped})
			return nil
		}
		k.log.Warn("keepalived exited", "err", err)
		k.emit(KeepalivedEvent{Kind: KeepalivedExited, Err: err})
		k.cleanUp()
		k.emit(KeepalivedEvent{Kind: KeepalivedRestarting})
		if sleepCtx(ctx, k.o.RestartDelay) != nil {
			k.emit(KeepalivedEvent{Kind: KeepalivedStopped})
			return nil
		}
	}
}

func (k *Keepalived) runOnce(ctx context.Context) error {
	d := k.o.Dir
	argv, err := keepalivedArgv(k.o.Binary, k.o.IP, k.o.NetNS,
		// -n: foreground  -l: log to stderr  -D: detailed  -G: no syslog
		// -P: VRRP only. Own pid files, so several may run on one host.
		"-n", "-l", "-D", "-G", "-P", "-f", k.ConfigPath(),
		"-p", filepath.Join(d, "keepalived.pid"), "-r", filepath.Join(d, "vrrp.pid"), "-c", filepath.Join(d, "checkers.pid"))
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = k.o.StopTimeout
	// Its own process group: a signal to ours (a CI step timeout, ^C)
	// must not kill keepalived behind the supervisor's back.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &lineLogger{log: k.log}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("ippool: start keepalived: %w", err)
	}
	k.mu.Lock()
	k.pid = cmd.Process.Pid
	k.mu.Unlock()
	k.log.Info("keepalived started", "pid", cmd.Process.Pid)
	k.emit(KeepalivedEvent{Kind: KeepalivedStarted, PID: cmd.Process.Pid})
	err = cmd.Wait()
	k.mu.Lock()
	k.pid = 0
	k.mu.Unlock()
	if err == nil {
		err = errors.New("exited with status 0")
	}
	return fmt.Errorf("ippool: keepalived: %w", err)
}

// cleanUp kills a VRRP child that outlived its parent and removes the
// VIPs the dead keepalived may have left behind.
func (k *Keepalived) cleanUp() {
	if pid, err := readPID(filepath.Join(k.o.Dir, "vrrp.pid")); err == nil && isKeepalived(pid) {
		if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
			k.log.Warn("killed orphaned keepalived VRRP process", "pid", pid)
		}
		// A dying process still holds its PID for a moment, and a
		// keepalived started then says "daemon is already running".
		deadline := time.Now().Add(2 * time.Second)
		for isKeepalived(pid) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	for _, f := range []string{"keepalived.pid", "vrrp.pid", "checkers.pid"} {
		_ = os.Remove(filepath.Join(k.o.Dir, f))
	}
	l, err := OpenLink(k.o.NetNS, k.o.Config.Interface)
	if err != nil {
		k.log.Error("stale VIP cleanup: cannot open interface", "err", err)
		return
	}
	defer l.Close()
	for _, p := range k.o.Config.VIPs {
		removed, err := l.RemoveAddress(p)
		switch {
		case err != nil:
			k.log.Error("stale VIP cleanup failed", "vip", p, "err", err)
		case removed:
			k.log.Warn("removed stale VIP left by the dead keepalived", "vip", p)
			k.emit(KeepalivedEvent{Kind: KeepalivedStaleVIP, VIP: p.String()})
		}
	}
}

func (k *Keepalived) emit(e KeepalivedEvent) {
	if k.o.OnEvent != nil {
		e.Time = time.Now()
		k.o.OnEvent(e)
	}
}

func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// isKeepalived reports whether pid is a live (not zombie) keepalived
// process, so a stale pid file never makes us kill a stranger.
func isKeepalived(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return strings.HasPrefix(s, fmt.Sprintf("%d (keepalived)", pid)) && i+2 < len(s) && s[i+2] != 'Z'
}

// lineLogger logs keepalived's output line by line at Debug.
type lineLogger struct {
	log *slog.Logger
	mu  sync.Mutex
	buf []byte
}

func (w *lineLogger) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.log.Debug("keepalived", "line", string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 4096 {
		w.buf = w.buf[:0]
	}
	return len(p), nil
}

// TrackFileSwitcher steers a keepalived instance through its track file
// (vrrp_track_file with a negative weight): a switch to Self writes 0,
// leaving the configured priority; a switch to any other node writes 1,
// lowering this node's priority by the weight (to 1 by default) so a
// peer takes the VIP. Each node runs its own switcher on its own file;
// keepalived notices the change at once (inotify). The file is replaced
// atomically. Switch is idempotent and does not wait for the VIP to move.
type TrackFileSwitcher struct {
	// Self is this node's name.
	Self string
	// Path is the track file.
	Path string
}

var _ failover.Switcher = (*TrackFileSwitcher)(nil)

// Switch writes 0 or 1 into the track file.
func (s *TrackFileSwitcher) Switch(ctx context.Context, to failover.Node) error {
	v := "1\n"
	if to.Name == s.Self {
		v = "0\n"
	}
	if cur, err := os.ReadFile(s.Path); err == nil && string(cur) == v {
		return nil
	}
	return writeFileAtomic(s.Path, []byte(v), 0o600)
}

// writeFileAtomic writes data to a temporary file next to path and
// renames it over path.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("ippool: write %s: %w", path, err)
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr, os.Chmod(f.Name(), perm)); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("ippool: write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("ippool: write %s: %w", path, err)
	}
	return nil
}
