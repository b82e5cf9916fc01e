// Package sshd starts a real OpenSSH server for tests: on 127.0.0.1, on a
// free port, with a generated ed25519 host key and client key, a pinned
// known_hosts file and key-only login for the current user. Nothing in
// /etc/ssh or ~/.ssh is read or changed.
//
// The recipe comes from /work/shared/lab/sshd-rsync.sh: sshd started by
// absolute path with -D -e -f, UsePAM no, StrictModes no (the keys live
// under /tmp), /run/sshd created when running as root. sshd starts in
// about 0.1 s; each ssh connection costs about 0.33 s.
package sshd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/internal/servers/proc"
	"github.com/understudy-ha/understudy/syncer"
)

// Server is a running sshd.
type Server struct {
	// Addr is "127.0.0.1:port"; Port the port alone.
	Addr string
	Port int
	// User is the login name accepted (the current user).
	User string
	// Dir holds the keys, config and log.
	Dir string
	// ClientKey is the private key authorised to log in.
	ClientKey string
	// KnownHosts pins the server's host key for [127.0.0.1]:Port.
	KnownHosts string

	proc     *proc.Process
	logFile  string
	home     string // HOME of the sessions ("": the user's own)
	stopOnce sync.Once
}

// Options tune [LaunchWith]. The zero value is [Launch]'s server.
type Options struct {
	// ShellRC, when set, is the ~/.bashrc that the login shell of every
	// session reads: sshd sets HOME (SetEnv) to a directory under Dir
	// holding it, so the user's real home is neither read nor changed.
	// bash reads ~/.bashrc for a command run by sshd, interactive or not;
	// a login shell that is not bash ignores it. It makes a session as
	// slow to start as a real server's rc file (pyenv, nvm, conda).
	ShellRC string
}

// Launch starts sshd with its files in dir. The caller must call Stop.
func Launch(ctx context.Context, dir string) (*Server, error) {
	return LaunchWith(ctx, dir, Options{})
}

// LaunchWith is Launch with options. The caller must call Stop.
func LaunchWith(ctx context.Context, dir string, o Options) (*Server, error) {
	sshd, err := cmdrun.LookPath("sshd")
	if err != nil {
		return nil, fmt.Errorf("sshd (Debian package openssh-server): %w", err)
	}
	keygen, err := cmdrun.LookPath("ssh-keygen")
	if err != nil {
		return nil, fmt.Errorf("ssh-keygen (Debian package openssh-client): %w", err)
	}
	if sshd, err = filepath.Abs(sshd); err != nil { // sshd re-executes itself: absolute path only
		return nil, err
	}
	me, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("sshd: current user: %w", err)
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sshd: %w", err)
	}
	s := &Server{User: me.Username, Dir: dir, ClientKey: filepath.Join(dir, "client_ed25519"), KnownHosts: filepath.Join(dir, "known_hosts"), logFile: filepath.Join(dir, "sshd.log")}
	if o.ShellRC != "" {
		s.home = filepath.Join(dir, "home")
		if err := os.Mkdir(s.home, 0o700); err != nil {
			return nil, fmt.Errorf("sshd: %w", err)
		}
		if err := os.WriteFile(filepath.Join(s.home, ".bashrc"), []byte(o.ShellRC), 0o600); err != nil {
			return nil, fmt.Errorf("sshd: %w", err)
		}
	}
	hostKey := filepath.Join(dir, "host_ed25519")
	for _, k := range []struct{ file, comment string }{{hostKey, "understudy-test-host"}, {s.ClientKey, "understudy-test-client"}} {
		if out, err := exec.CommandContext(ctx, keygen, "-q", "-t", "ed25519", "-N", "", "-C", k.comment, "-f", k.file).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("sshd: ssh-keygen: %w: %s", err, out)
		}
	}
	pub, err := os.ReadFile(s.ClientKey + ".pub")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			return nil, fmt.Errorf("sshd: privilege separation directory: %w", err)
		}
	}
	var lastErr error
	for range 5 { // the free port may be taken between probe and bind
		port, err := proc.FreePort()
		if err != nil {
			return nil, err
		}
		ok, err := s.start(ctx, sshd, hostKey, port)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !ok {
			break
		}
	}
	return nil, lastErr
}

// start writes the config for port and starts sshd. It reports whether
// another port is worth trying.
func (s *Server) start(ctx context.Context, sshd, hostKey string, port int) (bool, error) {
	hostPub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		return false, err
	}
	fields := strings.Fields(string(hostPub))
	s.Port = port
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	known := fmt.Sprintf("[127.0.0.1]:%d %s %s\n", port, fields[0], fields[1])
	if err := os.WriteFile(s.KnownHosts, []byte(known), 0o600); err != nil {
		return false, err
	}
	rootLogin := "no"
	if os.Geteuid() == 0 {
		rootLogin = "prohibit-password"
	}
	conf := filepath.Join(s.Dir, "sshd_config")
	content := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin %s
AllowUsers %s
UsePAM no
StrictModes no
LogLevel VERBOSE
`, port, hostKey, filepath.Join(s.Dir, "sshd.pid"), filepath.Join(s.Dir, "authorized_keys"), rootLogin, s.User)
	if s.home != "" {
		content += "SetEnv HOME=" + s.home + "\n"
	}
	if err := os.WriteFile(conf, []byte(content), 0o600); err != nil {
		return false, err
	}
	log, err := os.Create(s.logFile)
	if err != nil {
		return false, err
	}
	defer log.Close()
	// The server outlives Launch's ctx until Stop.
	p, err := proc.Start(log, sshd, "-D", "-e", "-f", conf)
	if err != nil {
		return false, fmt.Errorf("sshd: %w", err)
	}
	s.proc = p
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			conn.Close()
			return false, nil
		}
		select {
		case <-p.Exited():
			return true, fmt.Errorf("sshd exited at start on %s: %s", s.Addr, s.Log())
		case <-ctx.Done():
			s.Stop()
			return false, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return false, fmt.Errorf("sshd on %s not listening after 10s: %s", s.Addr, s.Log())
		}
	}
}

// SSH returns the settings that reach this server as the test user, with
// host-key checking against the pinned KnownHosts.
func (s *Server) SSH() syncer.SSH {
	return syncer.SSH{User: s.User, Host: "127.0.0.1", Port: s.Port, IdentityFile: s.ClientKey, KnownHostsFile: s.KnownHosts}
}

// ForeignKnownHosts writes a known_hosts file into dir that pins a
// different, freshly made host key for this server's address: a
// man-in-the-middle as ssh sees it.
func (s *Server) ForeignKnownHosts(dir string) (string, error) {
	keygen, err := cmdrun.LookPath("ssh-keygen")
	if err != nil {
		return "", err
	}
	key := filepath.Join(dir, "foreign_ed25519")
	if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-C", "foreign", "-f", key).CombinedOutput(); err != nil {
		return "", fmt.Errorf("ssh-keygen: %w: %s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(pub))
	path := filepath.Join(dir, "foreign_known_hosts")
	return path, os.WriteFile(path, fmt.Appendf(nil, "[127.0.0.1]:%d %s %s\n", s.Port, f[0], f[1]), 0o600)
}

// Sessions returns the PIDs of the server's child processes: one or two
// per open connection, including connections still closing.
func (s *Server) Sessions() ([]int, error) {
	if s.proc == nil {
		return nil, errors.New("sshd: not started")
	}
	return descendants(s.proc.PID())
}

// DropSessions kills every process the server forked (the per-connection
// sshd and what it runs), so that open connections die mid-transfer
// while the server keeps listening. It returns how many it killed.
func (s *Server) DropSessions() (int, error) {
	if s.proc == nil {
		return 0, errors.New("sshd: not started")
	}
	pids, err := descendants(s.proc.PID())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, pid := range pids {
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n, nil
}

// Stop kills the sessions, then the server, and waits for it.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		if s.proc == nil {
			return
		}
		s.DropSessions()
		s.proc.Stop(5 * time.Second)
	})
}

// Log returns what sshd wrote so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logFile)
	return string(b)
}

// descendants lists the processes below pid, children first found by
// their PPid in /proc/PID/stat.
func descendants(pid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parens.
		rest := string(stat)
		if i := strings.LastIndexByte(rest, ')'); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], p)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out, nil
}
