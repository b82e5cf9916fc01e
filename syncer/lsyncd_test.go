package syncer_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/internal/testkit/testenv"
	"github.com/understudy-ha/understudy/syncer"
)

// startLsyncd runs l in the background until the test ends and returns
// a channel with Run's result.
func startLsyncd(t *testing.T, l *syncer.Lsyncd) <-chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		done <- l.Run(ctx)
		close(finished)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(10 * time.Second):
			t.Error("lsyncd did not stop")
		}
	})
	return done
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, what, cond)
}

func TestLsyncdMirrors(t *testing.T) {
	testenv.Require(t, "lsyncd", "lsyncd")
	testenv.Require(t, "rsync", "rsync")
	base := t.TempDir()
	src, dst := filepath.Join(base, `src "q" \ dir`), filepath.Join(base, "dst 'x'")
	writeTree(t, src, map[string]string{"initial": "i", "gone": "g"})
	var restarts []error
	l, err := syncer.NewLsyncd(syncer.LsyncdConfig{Source: src, Target: dst, Delay: -1, Delete: true, Excludes: []string{"*.swp"},
		Dir: filepath.Join(base, "state"), OnRestart: func(err error) { restarts = append(restarts, err) }})
	require.NoError(t, err)
	startLsyncd(t, l)
	ctx := t.Context()
	require.NoError(t, l.Ready(ctx))
	assert.Equal(t, map[string]string{"initial": "i", "gone": "g"}, readTree(t, dst), "startup sync")

	writeTree(t, src, map[string]string{"new dir/a": "a", "b": "b", "x.swp": "s"})
	require.NoError(t, os.Remove(filepath.Join(src, "gone")))
	want := map[string]string{"initial": "i", "new dir/a": "a", "b": "b"}
	eventually(t, "the changes on the mirror", func() bool { return assert.ObjectsAreEqual(want, readTree(t, dst)) })
	rep, err := l.Sync(ctx)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, rep.Files, 3, "new dir/a, b and gone were handed to rsync")
	st, err := l.Status()
	require.NoError(t, err)
	assert.Equal(t, 0, st.Delays)
	assert.Equal(t, 2, st.Watches, "src and new dir")

	t.Run("restarted after a crash", func(t *testing.T) {
		old := l.PID()
		require.NoError(t, syscall.Kill(old, syscall.SIGKILL))
		eventually(t, "a new lsyncd", func() bool { return l.PID() != old })
		require.NoError(t, l.Ready(ctx))
		require.Len(t, restarts, 1)
		writeTree(t, src, map[string]string{"after restart": "r"})
		eventually(t, "the change after restart", func() bool { return readTree(t, dst)["after restart"] == "r" })
	})
}

// inotifyHelperEnv makes the test binary set the user namespace's
// inotify watch limit and become lsyncd (run under unshare -U -r).
const inotifyHelperEnv = "SYNCER_TEST_INOTIFY_WATCHES"

func inotifyHelper() {
	limit := os.Getenv(inotifyHelperEnv)
	if err := os.WriteFile("/proc/sys/user/max_inotify_watches", []byte(limit), 0); err != nil {
		os.Stderr.WriteString(err.Error())
		os.Exit(3)
	}
	lsyncd, err := exec.LookPath("lsyncd")
	if err != nil {
		os.Exit(3)
	}
	err = syscall.Exec(lsyncd, append([]string{"lsyncd"}, os.Args[1:]...), os.Environ())
	os.Stderr.WriteString(err.Error())
	os.Exit(3)
}

func TestLsyncdInotifyLimit(t *testing.T) {
	testenv.Require(t, "lsyncd", "lsyncd")
	unshare := testenv.Require(t, "unshare", "util-linux")
	if err := exec.Command(unshare, "-U", "-r", "true").Run(); err != nil {
		testenv.Missing(t, "user namespaces (unshare -U -r)")
	}
	t.Setenv(inotifyHelperEnv, "2") // a new user namespace may lower its own limit
	base := t.TempDir()
	src := filepath.Join(base, "src")
	for i := range 5 {
		writeTree(t, src, map[string]string{filepath.Join("d"+strconv.Itoa(i), "f"): "f"})
	}
	l, err := syncer.NewLsyncd(syncer.LsyncdConfig{Source: src, Target: filepath.Join(base, "dst"), Dir: filepath.Join(base, "state"),
		Command: []string{unshare, "-U", "-r", os.Args[0]}})
	require.NoError(t, err)
	done := startLsyncd(t, l)
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("lsyncd kept running without watches")
	}
	require.ErrorIs(t, err, syncer.ErrInotifyLimit)
	assert.Contains(t, err.Error(), "max_user_watches")
	assert.ErrorIs(t, l.Ready(t.Context()), syncer.ErrInotifyLimit)
}

func TestLsyncdLua(t *testing.T) {
	l, err := syncer.NewLsyncd(syncer.LsyncdConfig{Source: "/srv/a \"b\"\n", Target: "/mirror/\\x", Dir: t.TempDir(), Delay: 1500 * time.Millisecond,
		Delete: true, Compress: true, Excludes: []string{"*.tmp", `"]] os.execute("x") --`},
		SSH: &syncer.SSH{User: "root", Host: "peer", Port: 2222, KnownHostsFile: "/k/kh", Program: "/usr/bin/ssh"}})
	require.NoError(t, err)
	lua, err := l.Lua()
	require.NoError(t, err)
	assert.Contains(t, lua, `source = "/srv/a \"b\"\010/",`)
	assert.Contains(t, lua, `target = "root@peer:/mirror/\\x/",`)
	assert.Contains(t, lua, `delay = 1.5,`)
	assert.Contains(t, lua, `exclude = {"*.tmp", "\"]] os.execute(\"x\") --"},`)
	assert.Contains(t, lua, `rsh = "/usr/bin/ssh -p 2222 -o BatchMode=yes -o StrictHostKeyChecking=yes`)
	assert.Equal(t, `"a\009\"\\\127é"`, syncer.LuaQuote("a\t\"\\\x7fé"))
}

func TestParseLsyncdStatus(t *testing.T) {
	st, err := syncer.ParseLsyncdStatus([]byte("Lsyncd status report at Sat Nov 21 23:34:10 2026\n\nSync1 source=/tmp/lx/A/\nThere are 3 delays\nFiltering:\n  nothing.\n\n\nInotify watching 2 directories\n  1: /tmp/lx/A/\n  2: /tmp/lx/A/dd/\n"))
	require.NoError(t, err)
	assert.Equal(t, 3, st.Delays)
	assert.Equal(t, 2, st.Watches)
	_, err = syncer.ParseLsyncdStatus([]byte("garbage"))
	assert.Error(t, err)
}

func TestLsyncdSyncWithoutRun(t *testing.T) {
	l, err := syncer.NewLsyncd(syncer.LsyncdConfig{Source: t.TempDir(), Target: t.TempDir(), Dir: t.TempDir()})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err = l.Sync(ctx)
	assert.True(t, errors.Is(err, context.DeadlineExceeded))
}

func TestLsyncdOverlappingRoots(t *testing.T) {
	// With delete, a Target holding Source would have lsyncd's rsync
	// delete the source itself.
	base := t.TempDir()
	for name, cfg := range map[string]syncer.LsyncdConfig{
		"target holds source": {Source: filepath.Join(base, "www"), Target: base, Delete: true},
		"source holds target": {Source: base, Target: filepath.Join(base, "mirror")},
		"same directory":      {Source: base, Target: base + "/"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg.Dir = t.TempDir()
			_, err := syncer.NewLsyncd(cfg)
			assert.Error(t, err)
		})
	}
}
