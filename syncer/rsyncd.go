package syncer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/understudy-ha/understudy/cmdrun"
)

// The rsync daemon tunnel: one ssh session over the master connection
// runs `rsync --daemon --no-detach` on the peer, bound to the peer's
// 127.0.0.1 on a random port and open only to a user name and password
// made for this tunnel; the master forwards a local 127.0.0.1 port to
// it (ssh -O forward -L). A run is then `rsync rsync://…` to the local
// port: a new channel on the open connection, a fork of the daemon, no
// new session and so no remote shell and no rc file. See the package
// documentation for the design and its trade-offs.

// Names the tunnel's daemon knows: its one module (serving "/", so that
// paths and symlinks are not sanitised, as over ssh) and its one user.
const (
	rsyncdModule = "understudy"
	rsyncdUser   = "understudy"
)

// rsyncdScript runs on the peer as `sh -c SCRIPT sh PORT`, with the
// password as the first line of its stdin (never in argv or the
// environment of a long-lived process). It prints "started" as soon as
// the session's shell runs it (the session start-up the watcher
// measures), writes the daemon's configuration and password file into a
// private temporary directory, starts the daemon and prints "ready PORT"
// once the daemon answers that password on that port. The daemon is
// stopped, and the directory removed, when the session's stdin closes
// (the watcher stopped, or its ssh connection died) or the daemon dies.
// No value is pasted into the script: the port is $1 and the password
// is read.
const rsyncdScript = `set -eu
echo started
exec 3<&0 </dev/null
IFS= read -r secret <&3
umask 077
d=$(mktemp -d "${TMPDIR:-/tmp}/understudy-rsyncd.XXXXXXXXXX")
trap 'rm -rf -- "$d"' EXIT
printf '%s:%s\n' ` + rsyncdUser + ` "$secret" >"$d/secrets"
{
	printf 'use chroot = no\nreverse lookup = no\nsocket options = TCP_NODELAY\nlog file = /dev/null\n'
	printf '[` + rsyncdModule + `]\npath = /\nread only = no\nlist = no\nmunge symlinks = no\nhosts allow = 127.0.0.1\n'
	printf 'auth users = ` + rsyncdUser + `\nsecrets file = %s/secrets\nstrict modes = yes\n' "$d"
	if [ "$(id -u)" = 0 ]; then printf 'uid = 0\ngid = *\n'; fi
} >"$d/rsyncd.conf"
rsync --daemon --no-detach --config="$d/rsyncd.conf" --address=127.0.0.1 --port="$1" 3<&- &
pid=$!
(cat <&3 >/dev/null 2>&1; kill "$pid" 2>/dev/null) >/dev/null 2>&1 &
(
	until RSYNC_PASSWORD=$secret rsync --contimeout=5 --list-only -- "rsync://` + rsyncdUser + `@127.0.0.1:$1/` + rsyncdModule + `/" >/dev/null 2>&1; do
		kill -0 "$pid" 2>/dev/null || exit 0
		sleep 0.01 2>/dev/null || sleep 1
	done
	echo "ready $1"
) 3<&- &
rc=0
wait "$pid" || rc=$?
[ "$rc" = 0 ] || echo "understudy: rsync --daemon on 127.0.0.1:$1 exited with status $rc" >&2
exit "$rc"
`

// daemonTarget is where a run goes when it goes through a tunnel.
type daemonTarget struct {
	// url is "rsync://USER@127.0.0.1:PORT/MODULE"; a destination path
	// follows it.
	url string
	// args are the client options of a daemon connection, the password
	// file's name among them (the password itself is in no argv and no
	// environment).
	args []string
}

// dest is the URL of the absolute path remote on the peer.
func (d *daemonTarget) dest(remote string) string { return d.url + withSlash(remote) }

// tunnel is a running rsync daemon on the peer and the local port that
// reaches it.
type tunnel struct {
	master  *Master
	host    string
	cmd     *exec.Cmd
	stdin   *os.File // the write end of the session's stdin
	dir     string   // the local private directory of the password file
	done    chan struct{}
	err     error
	stderr  strings.Builder // written until done
	port    int             // the daemon's port on the peer
	addr    string          // the local end of the forward
	forward string          // the -L spec, once the master forwards it
	target  daemonTarget

	// sessionStart runs from starting the session to its first output
	// line: the remote shell's start-up, rc files included.
	sessionStart time.Duration
	// setup is the whole start: session, daemon, forward, probe.
	setup time.Duration

	closeOnce sync.Once
}

// errPortBusy: the daemon could not bind its port (rsync exit 10).
var errPortBusy = errors.New("syncer: rsync daemon port in use")

// errTunnelLost marks a run that failed because the tunnel had gone: the
// session that runs the peer's daemon, the master connection under it or
// the master's forward had ended.
var errTunnelLost = fmt.Errorf("%w: the ssh tunnel to the peer's rsync daemon is gone", ErrSSH)

// startTunnel starts a daemon on the peer over m and forwards a local
// port to it. timeout bounds each step (the session's start-up included).
func startTunnel(ctx context.Context, m *Master, timeout time.Duration) (*tunnel, error) {
	start := time.Now()
	secret := rand.Text() // 128 random bits
	dir, err := os.MkdirTemp("", "understudy-rsyncd-")
	if err != nil {
		return nil, fmt.Errorf("syncer: rsync daemon password file: %w", err)
	}
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte(secret+"\n"), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("syncer: rsync daemon password file: %w", err)
	}
	var t *tunnel
	for range 5 { // a random port may be taken on the peer
		t, err = launchDaemon(ctx, m, secret, 20000+mrand.IntN(40000), timeout)
		if !errors.Is(err, errPortBusy) {
			break
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	t.dir = dir
	t.target.args = []string{"--password-file=" + pwFile}
	if err := t.forwardLocal(ctx, timeout); err != nil {
		t.close()
		return nil, err
	}
	t.setup = time.Since(start)
	return t, nil
}

// launchDaemon runs rsyncdScript for port and waits for "ready".
func launchDaemon(ctx context.Context, m *Master, secret string, port int, timeout time.Duration) (*tunnel, error) {
	s := m.SSH()
	argv := s.Command("sh", "-c", rsyncdScript, "sh", strconv.Itoa(port))
	t := &tunnel{master: m, host: s.Host, port: port, cmd: exec.Command(argv[0], argv[1:]...), done: make(chan struct{})}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("syncer: rsync daemon on %s: %w", s.Host, err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("syncer: rsync daemon on %s: %w", s.Host, err)
	}
	t.stdin = inW
	t.cmd.Stdin, t.cmd.Stdout = inR, outW
	t.cmd.Stderr = &limitWriter{w: &t.stderr, n: 8 << 10}
	begin := time.Now()
	err = t.cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("syncer: rsync daemon on %s: %w", s.Host, err)
	}
	go func() {
		t.err = t.cmd.Wait()
		close(t.done)
	}()
	lines := make(chan string, 4)
	go func() {
		defer outR.Close()
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody listens any more (or an rc file chatters): drop
			}
		}
		close(lines)
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	ready := "ready " + strconv.Itoa(port)
	for {
		select {
		case line, ok := <-lines:
			switch {
			case !ok:
				<-t.done
				t.close()
				return nil, t.exitError()
			case line == "started" && t.sessionStart == 0:
				t.sessionStart = time.Since(begin)
				// Only now: an rc file that reads stdin cannot eat it.
				if _, err := fmt.Fprintln(t.stdin, secret); err != nil {
					t.close()
					return nil, fmt.Errorf("syncer: rsync daemon on %s: %w", s.Host, err)
				}
			case line == ready && t.sessionStart > 0:
				return t, nil
			}
		case <-ctx.Done():
			t.close()
			return nil, fmt.Errorf("syncer: rsync daemon on %s: %w", s.Host, ctx.Err())
		case <-m.Done():
			t.close()
			return nil, fmt.Errorf("syncer: rsync daemon on %s: %w", s.Host, errTunnelLost)
		case <-timer.C:
			t.close()
			return nil, fmt.Errorf("syncer: rsync daemon on %s: not ready after %v: %s", s.Host, timeout, strings.TrimSpace(t.stderrText()))
		}
	}
}

// exitError explains why the session ended before the daemon was ready.
func (t *tunnel) exitError() error {
	code := t.cmd.ProcessState.ExitCode()
	stderr := t.stderrText()
	if code == 10 && strings.Contains(stderr, "exited with status 10") {
		return errPortBusy
	}
	return fmt.Errorf("syncer: rsync daemon on %s: %w", t.host,
		sshExit(code, stderr, &cmdrun.Error{Cmd: "ssh " + t.host + " sh -c RSYNCD-SCRIPT", ExitCode: code, Stderr: stderr, Err: t.err}))
}

// stderrText is what the session wrote to stderr; only once it ended.
func (t *tunnel) stderrText() string {
	select {
	case <-t.done:
		return t.stderr.String()
	default:
		return ""
	}
}

// forwardLocal has the master forward a free local port to the daemon's
// port and checks that the daemon answers through it.
func (t *tunnel) forwardLocal(ctx context.Context, timeout time.Duration) error {
	s := t.master.SSH()
	var lastErr error
	for range 5 { // the free port may be taken before ssh binds it
		port, err := freeLocalPort()
		if err != nil {
			return fmt.Errorf("syncer: rsync daemon on %s: local port: %w", s.Host, err)
		}
		spec := "127.0.0.1:" + strconv.Itoa(port) + ":127.0.0.1:" + strconv.Itoa(t.port)
		cctx, cancel := context.WithTimeout(ctx, timeout)
		out, err := muxCommand(cctx, s, "forward", spec)
		cancel()
		if err != nil {
			lastErr = fmt.Errorf("syncer: ssh -O forward -L %s to %s: %w: %s", spec, s.Host, err, strings.TrimSpace(string(out)))
			if bytes.Contains(out, []byte("Port forwarding failed")) {
				continue
			}
			return lastErr
		}
		t.forward = spec
		addr := "127.0.0.1:" + strconv.Itoa(port)
		t.addr = addr
		if err := probeDaemon(ctx, addr, timeout); err != nil {
			return fmt.Errorf("syncer: rsync daemon on %s through %s: %w (does the peer's sshd allow TCP forwarding?)", s.Host, addr, err)
		}
		t.target.url = "rsync://" + rsyncdUser + "@" + addr + "/" + rsyncdModule
		t.target.args = append(t.target.args, "--sockopts=TCP_NODELAY", "--contimeout="+strconv.Itoa(s.connectSeconds()))
		return nil
	}
	return lastErr
}

// muxCommand sends a control command ("forward", "cancel") for a -L
// spec to the master.
func muxCommand(ctx context.Context, s SSH, op, spec string) ([]byte, error) {
	args := append(s.Args(), "-O", op, "-L", spec, "--", s.sshDestination())
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.WaitDelay = cmdrun.WaitDelay
	return cmd.CombinedOutput()
}

// probeDaemon reads the rsync daemon's greeting at addr.
func probeDaemon(ctx context.Context, addr string, timeout time.Duration) error {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("no greeting: %w", err)
	}
	if !strings.HasPrefix(line, "@RSYNCD: ") {
		return fmt.Errorf("unexpected greeting %q", strings.TrimSpace(line))
	}
	return nil
}

// freeLocalPort returns a port on 127.0.0.1 that was free a moment ago.
func freeLocalPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// alive reports whether the daemon's session and the master connection
// under it are both still up.
func (t *tunnel) alive() bool {
	select {
	case <-t.done:
		return false
	case <-t.master.Done():
		return false
	default:
		return true
	}
}

// diedWithin reports whether the tunnel is down, or goes down within d:
// a run cut off by the daemon's death sees its connection fail a little
// before ssh reports the session's end.
func (t *tunnel) diedWithin(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-t.done:
		return true
	case <-t.master.Done():
		return true
	case <-timer.C:
		return false
	}
}

// close cancels the forward, closes the session's stdin (the script on
// the peer then stops the daemon and removes its files) and waits for
// the session to end, ending it with SIGTERM, then SIGKILL, if it does
// not.
func (t *tunnel) close() {
	t.closeOnce.Do(func() {
		if t.forward != "" && t.alive() {
			ctx, cancel := context.WithTimeout(context.Background(), cmdrun.WaitDelay)
			_, _ = muxCommand(ctx, t.master.SSH(), "cancel", t.forward)
			cancel()
		}
		t.stdin.Close()
		if t.dir != "" {
			os.RemoveAll(t.dir)
		}
		select {
		case <-t.done:
			return
		case <-time.After(cmdrun.WaitDelay):
		}
		_ = t.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-t.done:
		case <-time.After(cmdrun.WaitDelay):
			_ = t.cmd.Process.Kill()
			<-t.done
		}
	})
}

// currentMaster is the master connection opened by Connect, if any.
func (r *Rsync) currentMaster() *Master {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.master
}
