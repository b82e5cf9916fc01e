package syncer_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/internal/testkit/sshdtest"
	"github.com/understudy-ha/understudy/internal/testkit/testenv"
	"github.com/understudy-ha/understudy/syncer"
)

func newUnison(t *testing.T, cfg syncer.UnisonConfig) *syncer.Unison {
	t.Helper()
	testenv.Require(t, "unison", "unison")
	if cfg.StateDir == "" {
		cfg.StateDir = filepath.Join(t.TempDir(), "unison state")
	}
	u, err := syncer.NewUnison(cfg)
	require.NoError(t, err)
	return u
}

func TestUnisonLocal(t *testing.T) {
	ctx := t.Context()
	base := t.TempDir()
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	writeTree(t, a, map[string]string{"from-a.txt": "A", "dir/x": "x"})
	writeTree(t, b, map[string]string{"from b 'quoted'.txt": "B"})
	u := newUnison(t, syncer.UnisonConfig{Root1: a, Root2: b, NoFastCheck: true})
	both := map[string]string{"from-a.txt": "A", "dir/x": "x", "from b 'quoted'.txt": "B"}

	t.Run("first run takes the union", func(t *testing.T) {
		rep, err := u.Sync(ctx)
		require.NoError(t, err)
		assert.Equal(t, 3, rep.Files)
		assert.Equal(t, both, readTree(t, a))
		assert.Equal(t, both, readTree(t, b))
	})
	t.Run("same-second same-size change seen without sleeping", func(t *testing.T) {
		writeTree(t, b, map[string]string{"from-a.txt": "Z"}) // same size, same second
		rep, err := u.Sync(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, rep.Files)
		assert.Equal(t, "Z", readTree(t, a)["from-a.txt"])
	})
	t.Run("deletion propagates", func(t *testing.T) {
		require.NoError(t, os.Remove(filepath.Join(a, "dir", "x")))
		rep, err := u.Sync(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, rep.Deleted)
		assert.NotContains(t, readTree(t, b), "dir/x")
	})
	t.Run("conflict reported, not skipped silently", func(t *testing.T) {
		writeTree(t, a, map[string]string{"from-a.txt": "changed in a"})
		writeTree(t, b, map[string]string{"from-a.txt": "changed in b", "also new": "n"})
		rep, err := u.Sync(ctx)
		require.ErrorIs(t, err, syncer.ErrConflict)
		var ee *syncer.ExitError
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, 1, ee.Code)
		assert.Equal(t, []string{"from-a.txt"}, rep.Conflicts)
		assert.Equal(t, 1, rep.Files, "the rest still propagates")
		assert.Equal(t, "changed in a", readTree(t, a)["from-a.txt"])
		assert.Equal(t, "changed in b", readTree(t, b)["from-a.txt"])
	})
	t.Run("prefer root1 resolves it", func(t *testing.T) {
		p := newUnison(t, syncer.UnisonConfig{Root1: a, Root2: b, NoFastCheck: true, Prefer: "root1", StateDir: u.Config().StateDir})
		rep, err := p.Sync(ctx)
		require.NoError(t, err)
		assert.Empty(t, rep.Conflicts)
		assert.Equal(t, "changed in a", readTree(t, b)["from-a.txt"])
	})
}

func TestUnisonPreferNewer(t *testing.T) {
	ctx := t.Context()
	base := t.TempDir()
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	writeTree(t, a, map[string]string{"f": "0"})
	u := newUnison(t, syncer.UnisonConfig{Root1: a, Root2: b, Prefer: "newer", CopyOnConflict: true})
	_, err := u.Sync(ctx)
	require.NoError(t, err)
	// Explicit mtimes instead of sleeping across a second boundary.
	now := time.Now()
	writeTree(t, a, map[string]string{"f": "old"})
	setMtime(t, filepath.Join(a, "f"), now.Add(time.Hour))
	writeTree(t, b, map[string]string{"f": "new!"})
	setMtime(t, filepath.Join(b, "f"), now.Add(2*time.Hour))
	rep, err := u.Sync(ctx)
	require.NoError(t, err)
	assert.Empty(t, rep.Conflicts)
	assert.Equal(t, "new!", readTree(t, a)["f"])
	assert.Len(t, readTree(t, a), 2, "the loser is kept as a conflict copy")
}

func TestUnisonSSH(t *testing.T) {
	testenv.Require(t, "unison", "unison")
	srv := sshdtest.Start(t)
	ctx := t.Context()
	base := t.TempDir()
	a, b := filepath.Join(base, "local"), filepath.Join(base, "remote side")
	writeTree(t, a, map[string]string{"x": "1"})
	writeTree(t, b, map[string]string{"y": "2"})
	peer := srv.SSH()
	u := newUnison(t, syncer.UnisonConfig{Root1: a, Root2: b, SSH: &peer, RemoteStateDir: filepath.Join(base, "remote-state")})
	rep, err := u.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, rep.Files)
	assert.Equal(t, map[string]string{"x": "1", "y": "2"}, readTree(t, b))
	assert.DirExists(t, filepath.Join(base, "remote-state"), "the peer's archive stays out of ~/.unison")

	foreign, err := srv.ForeignKnownHosts(t.TempDir())
	require.NoError(t, err)
	bad := peer
	bad.KnownHostsFile = foreign
	writeTree(t, a, map[string]string{"z": "3"})
	_, err = newUnison(t, syncer.UnisonConfig{Root1: a, Root2: b, SSH: &bad}).Sync(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, syncer.ErrHostKey)
	assert.NotContains(t, readTree(t, b), "z")
}

func TestUnisonBadInput(t *testing.T) {
	t.Run("missing root", func(t *testing.T) {
		u := newUnison(t, syncer.UnisonConfig{Root1: filepath.Join(t.TempDir(), "nope"), Root2: t.TempDir()})
		_, err := u.Sync(t.Context())
		assert.ErrorIs(t, err, syncer.ErrNoSource)
	})
	for name, cfg := range map[string]syncer.UnisonConfig{
		"one root":        {Root1: "/a"},
		"bad prefer":      {Root1: "/a", Root2: "/b", Prefer: "a"},
		"bad ignore":      {Root1: "/a", Root2: "/b", Ignore: []string{"*.tmp"}},
		"relative remote": {Root1: "/a", Root2: "b", SSH: &syncer.SSH{Host: "h"}},
		"space in key":    {Root1: "/a", Root2: "/b", SSH: &syncer.SSH{Host: "h", IdentityFile: "/k/my key"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := syncer.NewUnison(cfg)
			assert.Error(t, err)
		})
	}
}

func TestUnisonExitCodes(t *testing.T) {
	for _, tc := range []struct {
		code int
		want error
	}{{1, syncer.ErrConflict}, {2, syncer.ErrPartial}, {3, syncer.ErrFailed}} {
		t.Run(itoa(tc.code), func(t *testing.T) {
			rec := &cmdrun.Recorder{Respond: func(c cmdrun.Cmd) (cmdrun.Result, error) {
				return cmdrun.Result{ExitCode: tc.code}, &cmdrun.Error{Cmd: "unison", ExitCode: tc.code, Err: errors.New("exit status")}
			}}
			u, err := syncer.NewUnison(syncer.UnisonConfig{Root1: t.TempDir(), Root2: t.TempDir(), Runner: rec, StateDir: t.TempDir()})
			require.NoError(t, err)
			_, err = u.Sync(t.Context())
			assert.ErrorIs(t, err, tc.want)
		})
	}
	t.Run("exit 0 with skips is still a conflict", func(t *testing.T) {
		rec := &cmdrun.Recorder{Respond: func(c cmdrun.Cmd) (cmdrun.Result, error) {
			return cmdrun.Result{Stderr: []byte("  skipped: a b (contents changed on both sides)\n")}, nil
		}}
		u, err := syncer.NewUnison(syncer.UnisonConfig{Root1: t.TempDir(), Root2: t.TempDir(), Runner: rec, StateDir: t.TempDir()})
		require.NoError(t, err)
		rep, err := u.Sync(t.Context())
		assert.ErrorIs(t, err, syncer.ErrConflict)
		assert.Equal(t, []string{"a b"}, rep.Conflicts)
	})
}

func TestUnisonArgv(t *testing.T) {
	rec := &cmdrun.Recorder{}
	u, err := syncer.NewUnison(syncer.UnisonConfig{Root1: "/site/web", Root2: "/site/web", StateDir: t.TempDir(), Runner: rec,
		SSH:    &syncer.SSH{User: "root", Host: "10.2.0.2", Port: 2222, IdentityFile: "/k/id", KnownHostsFile: "/k/kh", Program: "/usr/bin/ssh"},
		Prefer: "root1", NoFastCheck: true, Ignore: []string{"Name *.tmp"}, RemoteStateDir: "/var/lib/u s"})
	require.NoError(t, err)
	assert.Equal(t, []string{"/site/web", "ssh://root@10.2.0.2:2222//site/web", "-batch", "-auto", "-times", "-ui", "text", "-log=false",
		"-prefer", "/site/web", "-fastcheck", "false", "-ignore", "Name *.tmp",
		"-sshcmd", "/usr/bin/ssh", "-sshargs", "-i /k/id -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10 -o ServerAliveInterval=5 -o ServerAliveCountMax=3 -o UserKnownHostsFile=/k/kh -o GlobalKnownHostsFile=/dev/null",
		"-servercmd", "'env' 'UNISON=/var/lib/u s' 'unison'"}, u.Args())
}

func itoa(n int) string { return strconv.Itoa(n) }
