package syncer

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/understudy-ha/understudy/cmdrun"
)

// SSH says how to reach the peer. Host-key checking is always on
// (StrictHostKeyChecking=yes, BatchMode=yes): an unknown or changed host
// key is refused, never accepted.
type SSH struct {
	// User is the login name ("" means ssh's default).
	User string
	// Host is the peer's name or address. Required; it may not start
	// with "-".
	Host string
	// Port is the ssh port (default 22).
	Port int
	// IdentityFile is the private key; with it only that key is offered
	// (IdentitiesOnly=yes).
	IdentityFile string
	// KnownHostsFile pins the peer's host key. Empty means ssh's own
	// files (~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts). When set, the
	// global file is not consulted.
	KnownHostsFile string
	// ConnectTimeout bounds the TCP connect and handshake (default 10s).
	ConnectTimeout time.Duration
	// ControlPath, when set, multiplexes over the master connection at
	// that socket (see [SSH.StartMaster]); when the socket is gone ssh
	// connects directly.
	ControlPath string
	// Program is the ssh binary (default "ssh" from $PATH).
	Program string
}

// Validate reports a configuration that cannot work.
func (s SSH) Validate() error {
	switch {
	case s.Host == "":
		return errors.New("syncer: ssh: host is required")
	case strings.HasPrefix(s.Host, "-") || strings.ContainsAny(s.Host, " \t\n@/"):
		return fmt.Errorf("syncer: ssh: invalid host %q", s.Host)
	case strings.Contains(s.Host, ":") && !isIPv6(s.Host):
		// rsync splits "host:path" at the first colon: "peer:2222" would
		// put the tree under ~/2222:/path on the peer, and "peer:" would
		// speak to an rsync daemon.
		return fmt.Errorf("syncer: ssh: invalid host %q (a colon is only allowed in an IPv6 address; the port goes in Port)", s.Host)
	case strings.HasPrefix(s.User, "-") || strings.ContainsAny(s.User, " \t\n@:/"):
		return fmt.Errorf("syncer: ssh: invalid user %q", s.User)
	case s.Port < 0 || s.Port > 65535:
		return fmt.Errorf("syncer: ssh: invalid port %d", s.Port)
	}
	return nil
}

func (s SSH) program() string {
	if s.Program != "" {
		return s.Program
	}
	if p, err := exec.LookPath("ssh"); err == nil {
		return p
	}
	return "ssh"
}

// Args returns the ssh command and its options, without the
// destination: what rsync's -e and unison's -sshargs are built from.
func (s SSH) Args() []string {
	args := []string{s.program()}
	if s.Port != 0 {
		args = append(args, "-p", strconv.Itoa(s.Port))
	}
	if s.IdentityFile != "" {
		args = append(args, "-i", s.IdentityFile, "-o", "IdentitiesOnly=yes")
	}
	args = append(args,
		"-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "ConnectTimeout="+strconv.Itoa(s.connectSeconds()),
		"-o", "ServerAliveInterval=5",
		"-o", "ServerAliveCountMax=3",
	)
	if s.KnownHostsFile != "" {
		args = append(args, "-o", "UserKnownHostsFile="+s.KnownHostsFile, "-o", "GlobalKnownHostsFile=/dev/null")
	}
	if s.ControlPath != "" {
		args = append(args, "-o", "ControlMaster=no", "-o", "ControlPath="+s.ControlPath)
	}
	return args
}

// connectSeconds is ConnectTimeout in whole seconds (default 10, at
// least 1).
func (s SSH) connectSeconds() int {
	timeout := s.ConnectTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return max(1, int(timeout.Round(time.Second)/time.Second))
}

// isIPv6 reports whether host is an IPv6 address (a zone allowed).
func isIPv6(host string) bool {
	a, err := netip.ParseAddr(host)
	return err == nil && a.Is6()
}

// Destination is "user@host" (or "host"), with an IPv6 address in
// brackets as rsync wants it in "host:path".
func (s SSH) Destination() string {
	host := s.Host
	if isIPv6(host) {
		host = "[" + host + "]"
	}
	if s.User != "" {
		return s.User + "@" + host
	}
	return host
}

// sshDestination is Destination without brackets: ssh takes a bare IPv6
// address.
func (s SSH) sshDestination() string {
	if s.User != "" {
		return s.User + "@" + s.Host
	}
	return s.Host
}

// Command returns the argv that runs remote on the peer. ssh hands the
// remote side one string for its login shell, so each argument is quoted
// for a POSIX shell ([QuoteRemote]); the login shell must be sh-like.
func (s SSH) Command(remote ...string) []string {
	argv := append(s.Args(), "--", s.sshDestination(), QuoteRemote(remote))
	return argv
}

// QuoteRemote joins argv into one POSIX shell command line in which each
// argument is single-quoted, so the remote shell sees exactly argv: no
// expansion, globbing or splitting.
func QuoteRemote(argv []string) string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(quoted, " ")
}

// rsh renders Args as rsync's -e value. rsync splits it on spaces and
// honours single and double quotes but not backslashes, so an argument
// holding both kinds of quote cannot be passed.
func (s SSH) rsh() (string, error) {
	return joinRsh(s.Args())
}

func joinRsh(args []string) (string, error) {
	parts := make([]string, len(args))
	for i, a := range args {
		switch {
		case a != "" && !strings.ContainsAny(a, " \t\n'\""):
			parts[i] = a
		case !strings.Contains(a, "'"):
			parts[i] = "'" + a + "'"
		case !strings.Contains(a, `"`):
			parts[i] = `"` + a + `"`
		default:
			return "", fmt.Errorf("syncer: ssh argument %q holds both quote characters, which rsync's -e cannot carry", a)
		}
	}
	return strings.Join(parts, " "), nil
}

// Master is a running ssh ControlMaster connection: repeated runs over
// [Master.SSH] skip the handshake (about 120 ms instead of 330 ms here).
type Master struct {
	ssh  SSH
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartMaster opens one master connection to the peer and returns once
// it accepts sessions. The connection lives until Close or until ctx
// ends. Its socket lives in a private directory under os.TempDir (unix
// sockets are limited to about 100 bytes of path).
func (s SSH) StartMaster(ctx context.Context) (*Master, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "understudy-ssh-")
	if err != nil {
		return nil, fmt.Errorf("syncer: ssh master: %w", err)
	}
	sock := filepath.Join(dir, "master")
	base := s
	base.ControlPath = ""
	args := append(base.Args(), "-M", "-N", "-o", "ControlPath="+sock, "-o", "ControlPersist=no", "--", s.sshDestination())
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = cmdrun.WaitDelay
	var stderr strings.Builder
	cmd.Stderr = &limitWriter{w: &stderr, n: 8 << 10}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("syncer: ssh master to %s: %w", s.Host, err)
	}
	m := &Master{dir: dir, cmd: cmd, done: make(chan struct{})}
	go func() {
		m.err = cmd.Wait()
		close(m.done)
	}()
	m.ssh = s
	m.ssh.ControlPath = sock
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(sock); err == nil {
			return m, nil
		}
		select {
		case <-m.done:
			os.RemoveAll(dir)
			code := cmd.ProcessState.ExitCode()
			return nil, fmt.Errorf("syncer: ssh master to %s: %w", s.Host,
				sshExit(code, stderr.String(), &cmdrun.Error{Cmd: "ssh -M", ExitCode: code, Stderr: stderr.String(), Err: m.err}))
		case <-ctx.Done():
			m.Close()
			return nil, fmt.Errorf("syncer: ssh master to %s: %w", s.Host, ctx.Err())
		case <-tick.C:
		}
	}
}

// SSH returns the peer settings with ControlPath set to the master's
// socket.
func (m *Master) SSH() SSH { return m.ssh }

// Done is closed when the master connection has ended.
func (m *Master) Done() <-chan struct{} { return m.done }

// Close ends the master connection (SIGTERM to the ssh process it
// started) and removes its socket directory.
func (m *Master) Close() error {
	select {
	case <-m.done:
	default:
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.done:
		case <-time.After(cmdrun.WaitDelay):
			_ = m.cmd.Process.Kill()
			<-m.done
		}
	}
	return os.RemoveAll(m.dir)
}

// limitWriter keeps the first n bytes written to w.
type limitWriter struct {
	w interface{ WriteString(string) (int, error) }
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.WriteString(string(p[:k]))
		l.n -= k
	}
	return len(p), nil
}
