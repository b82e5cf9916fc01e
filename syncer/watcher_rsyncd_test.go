package syncer_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/internal/servers/sshd"
	"github.com/understudy-ha/understudy/internal/testkit/sshdtest"
	"github.com/understudy-ha/understudy/internal/testkit/testenv"
	"github.com/understudy-ha/understudy/syncer"
)

// eventLog collects a watcher's events.
type eventLog struct {
	mu     sync.Mutex
	events []syncer.WatchEvent
}

func (l *eventLog) add(e syncer.WatchEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// connected returns the WatchConnected events so far.
func (l *eventLog) connected() []syncer.Connection {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []syncer.Connection
	for _, e := range l.events {
		if e.Kind == syncer.WatchConnected {
			out = append(out, e.Connection)
		}
	}
	return out
}

// sessionPIDs returns the processes below srv whose argv starts with
// prefix (NUL-separated).
func sessionPIDs(t *testing.T, srv *sshd.Server, prefix string) []int {
	t.Helper()
	pids, err := srv.Sessions()
	require.NoError(t, err)
	var out []int
	for _, pid := range pids {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if err == nil && bytes.HasPrefix(b, []byte(prefix)) {
			out = append(out, pid)
		}
	}
	return out
}

// daemonPIDs returns the rsync daemons (and their forked children) that
// srv's sessions run.
func daemonPIDs(t *testing.T, srv *sshd.Server) []int {
	return sessionPIDs(t, srv, "rsync\x00--daemon\x00")
}

// The password files of the tunnel's two ends (both on this machine).
var (
	peerSecrets  = "/tmp/understudy-rsyncd.*/secrets"
	localSecrets = filepath.Join(os.TempDir(), "understudy-rsyncd-*", "password")
)

// secretsHolding returns the files matching pattern that hold password.
func secretsHolding(t *testing.T, pattern, password string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	require.NoError(t, err)
	var out []string
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte(password)) {
			out = append(out, f)
		}
	}
	return out
}

// processesShowing returns the processes whose argv or environment
// holds s.
func processesShowing(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	for _, what := range []string{"cmdline", "environ"} {
		files, _ := filepath.Glob("/proc/[0-9]*/" + what)
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte(s)) {
				out = append(out, f)
			}
		}
	}
	return out
}

// The daemon transport, end to end over a real sshd on loopback:
// changes of every kind and the excludes replicate as over ssh; other
// users of either host cannot use the daemon; its password is in no
// argv and no long-lived environment; when the daemon, the master
// connection or the forward dies the watcher starts a new tunnel; a
// destination replaced on the peer is written afresh, never the old
// tree; and stopping the watcher stops the daemon and removes its files.
func TestWatcherDaemonTransport(t *testing.T) {
	testenv.Require(t, "rsync", "rsync")
	srv := sshdtest.Start(t)
	peer := srv.SSH()
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst -x 'q' %HOME%")
	want := map[string]string{"old": "o", "keep/k": "k", "abs": "->/etc/hostname", "rel": "->keep/k"}
	writeTree(t, src, want)
	writeTree(t, src, map[string]string{"x.tmp": "excluded", "cache/c": "excluded"})
	writeTree(t, dst, map[string]string{"on-peer.tmp": "protected"}) // excluded: kept despite Delete
	want["on-peer.tmp"] = "protected"

	r, err := syncer.NewRsync(syncer.RsyncConfig{Source: src, Dest: dst, SSH: &peer, Delete: true, Excludes: []string{"*.tmp", "/cache/"}})
	require.NoError(t, err)
	events := &eventLog{}
	w, err := syncer.NewWatcher(syncer.WatcherConfig{Rsync: r, FullEvery: -1, Transport: syncer.TransportDaemon, OnEvent: events.add})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() {
			cancel()
			select {
			case err := <-done:
				assert.ErrorIs(t, err, context.Canceled)
			case <-time.After(20 * time.Second):
				t.Error("watcher did not stop")
			}
		})
	}
	t.Cleanup(stop)
	_, err = w.Sync(t.Context())
	require.NoError(t, err, "start pass")
	require.Equal(t, want, readTree(t, dst), "start pass: symlinks verbatim, excludes left out and protected")

	conn, ok := w.Connection()
	require.True(t, ok)
	assert.Equal(t, syncer.TransportDaemon, conn.Transport)
	assert.Positive(t, conn.SessionStart)
	assert.GreaterOrEqual(t, conn.Setup, conn.SessionStart)
	assert.Len(t, events.connected(), 1)
	t.Logf("session start-up %v, setup %v", conn.SessionStart, conn.Setup)

	t.Run("create, modify, chmod, delete, rename", func(t *testing.T) {
		writeTree(t, src, map[string]string{"new": "n", "dir/sub/f": "f", "y.tmp": "excluded"})
		require.NoError(t, os.WriteFile(filepath.Join(src, "keep/k"), []byte("modified"), 0o644))
		require.NoError(t, os.Chmod(filepath.Join(src, "keep/k"), 0o600))
		require.NoError(t, os.Remove(filepath.Join(src, "old")))
		require.NoError(t, os.Rename(filepath.Join(src, "new"), filepath.Join(src, "renamed")))
		require.NoError(t, os.Rename(filepath.Join(src, "dir"), filepath.Join(src, "moved dir")))
		delete(want, "old")
		want["keep/k"], want["renamed"], want["moved dir/sub/f"] = "modified", "n", "f"
		files := map[string]string{} // scanTree reads regular files only
		for k, v := range want {
			if !strings.HasPrefix(v, "->") {
				files[k] = v
			}
		}
		mirrors(t, dst, files)
		assert.Equal(t, want, readTree(t, dst))
		fi, err := os.Stat(filepath.Join(dst, "keep/k"))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "permissions")
	})

	addr, password, sshSet, forward, ok := syncer.WatcherTunnel(w)
	require.True(t, ok)
	t.Run("other users cannot use the daemon", func(t *testing.T) {
		list := func(user, pass string) (string, error) {
			cmd := exec.Command("rsync", "--list-only", "--", "rsync://"+user+"@"+addr+"/understudy/etc/")
			cmd.Env = append(os.Environ(), "RSYNC_PASSWORD="+pass)
			out, err := cmd.CombinedOutput()
			return string(out), err
		}
		out, err := list("understudy", password)
		require.NoError(t, err, "the tunnel's own password works: %s", out)
		for _, c := range [][2]string{{"understudy", "wrong"}, {"understudy", ""}, {"root", password}} {
			out, err := list(c[0], c[1])
			assert.Error(t, err, "user %q password %q", c[0], c[1])
			assert.Contains(t, out, "auth failed", "user %q", c[0])
		}
	})
	t.Run("the password is in no argv and no long-lived environment", func(t *testing.T) {
		assert.Empty(t, processesShowing(t, password))
		for _, pattern := range []string{peerSecrets, localSecrets} {
			files := secretsHolding(t, pattern, password)
			require.Len(t, files, 1, pattern)
			fi, err := os.Stat(files[0])
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "password file %s", files[0])
			fi, err = os.Stat(filepath.Dir(files[0]))
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "its directory")
		}
	})

	change := func(t *testing.T, name string) {
		t.Helper()
		writeTree(t, src, map[string]string{name: name})
		want[name] = name
		eventually(t, name+" on the mirror", func() bool {
			b, err := os.ReadFile(filepath.Join(dst, name))
			return err == nil && string(b) == name
		})
	}
	reconnected := func(t *testing.T, before int, oldPassword string) string {
		t.Helper()
		eventually(t, "a new connection", func() bool { return len(events.connected()) > before })
		_, pw, _, _, ok := syncer.WatcherTunnel(w)
		require.True(t, ok)
		assert.NotEqual(t, oldPassword, pw, "a new password")
		assert.Empty(t, secretsHolding(t, peerSecrets, oldPassword), "the old daemon's files are removed")
		assert.Empty(t, secretsHolding(t, localSecrets, oldPassword), "the old tunnel's password file is removed")
		return pw
	}

	t.Run("the daemon dies", func(t *testing.T) {
		pids := daemonPIDs(t, srv)
		require.NotEmpty(t, pids)
		before := len(events.connected())
		for _, pid := range pids {
			require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
		}
		change(t, "after daemon death")
		password = reconnected(t, before, password)
	})
	t.Run("the forward goes away", func(t *testing.T) {
		_, _, sshSet, forward, ok = syncer.WatcherTunnel(w)
		require.True(t, ok)
		before := len(events.connected())
		args := append(sshSet.Args(), "-O", "cancel", "-L", forward, "--", sshSet.Destination())
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		require.NoError(t, err, "%s", out)
		// Clients connected ahead still carry a change or two over their
		// open channels; the first run that cannot connect starts a new
		// tunnel.
		for _, name := range []string{"after forward cancel 1", "after forward cancel 2", "after forward cancel 3"} {
			change(t, name)
		}
		password = reconnected(t, before, password)
	})
	t.Run("the ssh connection dies", func(t *testing.T) {
		// The sshd processes serving the connection die; what they ran
		// sees its pipes close, as after a network failure.
		pids := sessionPIDs(t, srv, "sshd: ")
		require.NotEmpty(t, pids)
		before := len(events.connected())
		for _, pid := range pids {
			require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
		}
		change(t, "after connection death")
		password = reconnected(t, before, password)
	})
	t.Run("a destination replaced on the peer is written afresh", func(t *testing.T) {
		_, err := w.Sync(t.Context())
		require.NoError(t, err)
		old := dst + ".old"
		require.NoError(t, os.Rename(dst, old))
		require.NoError(t, os.Mkdir(dst, 0o755))
		writeTree(t, src, map[string]string{"after replace": "a"})
		eventually(t, "the change in the new destination", func() bool {
			b, err := os.ReadFile(filepath.Join(dst, "after replace"))
			return err == nil && string(b) == "a"
		})
		_, err = os.Stat(filepath.Join(old, "after replace"))
		assert.True(t, os.IsNotExist(err), "nothing written into the replaced tree")
	})
	t.Run("stopping the watcher stops the daemon and removes its files", func(t *testing.T) {
		stop()
		eventually(t, "no daemon left", func() bool { return len(daemonPIDs(t, srv)) == 0 })
		eventually(t, "no password file left", func() bool {
			return len(secretsHolding(t, peerSecrets, password))+len(secretsHolding(t, localSecrets, password)) == 0
		})
	})
}

// With TransportAuto, a peer whose rsync cannot run as a daemon still
// gets every change, over ssh sessions, and the fallback is reported.
func TestWatcherAutoFallsBackToSessions(t *testing.T) {
	testenv.Require(t, "rsync", "rsync")
	testenv.Require(t, "sshd", "openssh-server")
	if !loginShellIsBash(t) {
		t.Skip("the peer's PATH is set through ~/.bashrc, and the login shell is not bash")
	}
	rsync, err := exec.LookPath("rsync")
	require.NoError(t, err)
	// The peer's rsync refuses daemon mode (as a build or a wrapper
	// without it would).
	bin := t.TempDir()
	wrapper := "#!/bin/sh\nfor a do [ \"$a\" = --daemon ] && { echo 'rsync: no daemon mode here' >&2; exit 1; }; done\nexec '" + rsync + "' \"$@\"\n"
	require.NoError(t, os.WriteFile(filepath.Join(bin, "rsync"), []byte(wrapper), 0o755))
	srv, err := sshd.LaunchWith(t.Context(), t.TempDir(), sshd.Options{ShellRC: "PATH='" + bin + "':$PATH\n"})
	require.NoError(t, err)
	t.Cleanup(srv.Stop)
	peer := srv.SSH()

	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	writeTree(t, src, map[string]string{"a": "1"})
	events := &eventLog{}
	w, _ := newWatcher(t, src, dst, &peer, syncer.WatcherConfig{FullEvery: -1, OnEvent: events.add})
	startWatcher(t, w)
	writeTree(t, src, map[string]string{"b": "2"})
	mirrors(t, dst, map[string]string{"a": "1", "b": "2"})

	c, ok := w.Connection()
	require.True(t, ok)
	assert.Equal(t, syncer.TransportSession, c.Transport)
	assert.Positive(t, c.SessionStart, "the session start-up is measured over sessions too")
	require.Error(t, c.Err)
	assert.Contains(t, c.Err.Error(), "no daemon mode here", "the peer's own message")
	assert.NotErrorIs(t, c.Err, syncer.ErrSSH, "ssh itself worked")
	conns := events.connected()
	require.Len(t, conns, 1)
	assert.Equal(t, c.Err, conns[0].Err)
	assert.Empty(t, daemonPIDs(t, srv))
}

// loginShellIsBash reports whether this user's login shell (the peer's,
// on loopback) is bash, which reads ~/.bashrc for commands run by sshd.
func loginShellIsBash(t *testing.T) bool {
	t.Helper()
	me, err := user.Current()
	require.NoError(t, err)
	passwd, err := os.ReadFile("/etc/passwd")
	require.NoError(t, err)
	return regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(me.Username) + `:.*/bash$`).Match(passwd)
}

// A full pass through the daemon keeps the delete safety rule: an empty
// source (an unmounted mount point) does not empty the peer's copy.
func TestWatcherDaemonRefusesEmptySource(t *testing.T) {
	testenv.Require(t, "rsync", "rsync")
	srv := sshdtest.Start(t)
	peer := srv.SSH()
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	require.NoError(t, os.Mkdir(src, 0o755))
	writeTree(t, dst, map[string]string{"precious": "p"})
	w, batches := newWatcher(t, src, dst, &peer, syncer.WatcherConfig{FullEvery: -1, Transport: syncer.TransportDaemon})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	_, err := w.Sync(t.Context())
	require.ErrorIs(t, err, syncer.ErrEmptySource)
	require.Positive(t, batches.count())
	assert.True(t, batches.since(0)[0].Full)
	assert.Equal(t, map[string]string{"precious": "p"}, readTree(t, dst))
}
