package syncer_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/internal/testkit/sshdtest"
	"github.com/understudy-ha/understudy/internal/testkit/testenv"
	"github.com/understudy-ha/understudy/syncer"
)

func requireRsync(t *testing.T) {
	t.Helper()
	testenv.Require(t, "rsync", "rsync")
}

func newRsync(t *testing.T, cfg syncer.RsyncConfig) *syncer.Rsync {
	t.Helper()
	r, err := syncer.NewRsync(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

func TestRsyncLocal(t *testing.T) {
	requireRsync(t)
	ctx := t.Context()
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	writeTree(t, src, map[string]string{"a.txt": "alpha", "sub/b.txt": "bravo!", "link": "->a.txt"})
	// A sibling that shares the destination's prefix must never be touched.
	writeTree(t, base, map[string]string{"dst-sibling/keep": "keep"})

	r := newRsync(t, syncer.RsyncConfig{Source: src, Dest: dst, Delete: true})

	t.Run("first full copy", func(t *testing.T) {
		rep, err := r.Sync(ctx)
		require.NoError(t, err)
		assert.Equal(t, readTree(t, src), readTree(t, dst))
		assert.Equal(t, 2, rep.Files)
		assert.Equal(t, int64(len("alpha")+len("bravo!")), rep.Bytes)
		assert.Zero(t, rep.Deleted)
	})
	t.Run("incremental", func(t *testing.T) {
		writeTree(t, src, map[string]string{"sub/c.txt": "charlie"})
		rep, err := r.Sync(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, rep.Files)
		assert.Equal(t, int64(7), rep.Bytes)
		assert.Equal(t, "charlie", readTree(t, dst)["sub/c.txt"])
	})
	t.Run("no change", func(t *testing.T) {
		rep, err := r.Sync(ctx)
		require.NoError(t, err)
		assert.Zero(t, rep.Files)
	})
	t.Run("deletion propagated", func(t *testing.T) {
		require.NoError(t, os.Remove(filepath.Join(src, "a.txt")))
		rep, err := r.Sync(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, rep.Deleted)
		assert.NotContains(t, readTree(t, dst), "a.txt")
		assert.Equal(t, readTree(t, src), readTree(t, dst))
	})
	t.Run("deletion not propagated", func(t *testing.T) {
		keep := newRsync(t, syncer.RsyncConfig{Source: src, Dest: dst})
		writeTree(t, dst, map[string]string{"only-in-dst": "x"})
		rep, err := keep.Sync(ctx)
		require.NoError(t, err)
		assert.Zero(t, rep.Deleted)
		assert.Equal(t, "x", readTree(t, dst)["only-in-dst"])
	})
	assert.Equal(t, map[string]string{"keep": "keep"}, readTree(t, filepath.Join(base, "dst-sibling")))
}

func TestRsyncOptions(t *testing.T) {
	requireRsync(t)
	ctx := t.Context()
	t.Run("dry run changes nothing", func(t *testing.T) {
		base := t.TempDir()
		src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
		writeTree(t, src, map[string]string{"a": "1", "b": "22"})
		writeTree(t, dst, map[string]string{"stale": "s"})
		rep, err := newRsync(t, syncer.RsyncConfig{Source: src, Dest: dst, Delete: true, DryRun: true}).Sync(ctx)
		require.NoError(t, err)
		assert.Equal(t, 2, rep.Files)
		assert.Equal(t, 1, rep.Deleted)
		assert.Equal(t, map[string]string{"stale": "s"}, readTree(t, dst))
	})
	t.Run("excludes are neither copied nor deleted", func(t *testing.T) {
		base := t.TempDir()
		src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
		writeTree(t, src, map[string]string{"a": "1", "cache/x.tmp": "t", "b.tmp": "t"})
		writeTree(t, dst, map[string]string{"old.tmp": "keep me"})
		_, err := newRsync(t, syncer.RsyncConfig{Source: src, Dest: dst, Delete: true, Excludes: []string{"*.tmp", "/cache/"}}).Sync(ctx)
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"a": "1", "old.tmp": "keep me"}, readTree(t, dst))
	})
	t.Run("checksum sees same size and mtime", func(t *testing.T) {
		base := t.TempDir()
		src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
		writeTree(t, src, map[string]string{"f": "AAAA"})
		writeTree(t, dst, map[string]string{"f": "BBBB"})
		when := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
		setMtime(t, filepath.Join(src, "f"), when)
		setMtime(t, filepath.Join(dst, "f"), when)
		rep, err := newRsync(t, syncer.RsyncConfig{Source: src, Dest: dst}).Sync(ctx)
		require.NoError(t, err)
		assert.Zero(t, rep.Files, "quick check skips a same-size same-mtime file")
		assert.Equal(t, "BBBB", readTree(t, dst)["f"])
		rep, err = newRsync(t, syncer.RsyncConfig{Source: src, Dest: dst, Checksum: true, Compress: true, BandwidthLimit: 10000}).Sync(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, rep.Files)
		assert.Equal(t, "AAAA", readTree(t, dst)["f"])
	})
	t.Run("progress", func(t *testing.T) {
		base := t.TempDir()
		src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
		writeTree(t, src, map[string]string{"big": strings.Repeat("x", 1<<20), "small": "s"})
		var mu sync.Mutex
		var got []syncer.Progress
		r := newRsync(t, syncer.RsyncConfig{Source: src, Dest: dst, OnProgress: func(p syncer.Progress) {
			mu.Lock()
			got = append(got, p)
			mu.Unlock()
		}})
		rep, err := r.Sync(ctx)
		require.NoError(t, err)
		assert.Equal(t, 2, rep.Files)
		mu.Lock()
		defer mu.Unlock()
		require.NotEmpty(t, got)
		last := got[len(got)-1]
		assert.Equal(t, int64(1<<20+1), last.Bytes)
		assert.Equal(t, 100, last.Percent)
		assert.Equal(t, 2, last.Transfers)
	})
}

func TestRsyncBadInput(t *testing.T) {
	requireRsync(t)
	ctx := t.Context()
	t.Run("missing source", func(t *testing.T) {
		base := t.TempDir()
		dst := filepath.Join(base, "dst")
		writeTree(t, dst, map[string]string{"keep": "k"})
		_, err := newRsync(t, syncer.RsyncConfig{Source: filepath.Join(base, "nope"), Dest: dst, Delete: true}).Sync(ctx)
		require.ErrorIs(t, err, syncer.ErrNoSource)
		assert.Equal(t, map[string]string{"keep": "k"}, readTree(t, dst))
	})
	t.Run("empty source with delete is refused", func(t *testing.T) {
		// An unmounted mount point looks like an empty directory: it must
		// not empty the standby's copy.
		base := t.TempDir()
		src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
		require.NoError(t, os.Mkdir(src, 0o755))
		writeTree(t, dst, map[string]string{"keep": "k"})
		_, err := newRsync(t, syncer.RsyncConfig{Source: src, Dest: dst, Delete: true}).Sync(ctx)
		require.ErrorIs(t, err, syncer.ErrEmptySource)
		assert.Equal(t, map[string]string{"keep": "k"}, readTree(t, dst))

		_, err = newRsync(t, syncer.RsyncConfig{Source: src, Dest: dst}).Sync(ctx)
		require.NoError(t, err, "without Delete an empty source deletes nothing and is fine")
		assert.Equal(t, map[string]string{"keep": "k"}, readTree(t, dst))

		_, err = newRsync(t, syncer.RsyncConfig{Source: src, Dest: dst, Delete: true, AllowEmptySource: true}).Sync(ctx)
		require.NoError(t, err)
		assert.Empty(t, readTree(t, dst), "allowed explicitly")
	})
	t.Run("unwritable destination", func(t *testing.T) {
		base := t.TempDir()
		src := filepath.Join(base, "src")
		writeTree(t, src, map[string]string{"a": "1"})
		writeTree(t, base, map[string]string{"file": "not a directory"})
		_, err := newRsync(t, syncer.RsyncConfig{Source: src, Dest: filepath.Join(base, "file", "dst")}).Sync(ctx)
		var ee *syncer.ExitError
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, "rsync", ee.Tool)
		assert.NotZero(t, ee.Code)
		assert.Equal(t, "not a directory", readTree(t, base)["file"])
	})
	t.Run("a file that cannot be placed is a partial transfer", func(t *testing.T) {
		// A non-empty directory on the receiver where the source has a
		// file: without --delete rsync cannot make way for it, copies the
		// rest and exits 23 (this works as root, unlike an unreadable file).
		base := t.TempDir()
		src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
		writeTree(t, src, map[string]string{"a": "1", "x": "file"})
		writeTree(t, dst, map[string]string{"x/inner": "dir"})
		_, err := newRsync(t, syncer.RsyncConfig{Source: src, Dest: dst}).Sync(ctx)
		require.ErrorIs(t, err, syncer.ErrPartial)
		var ee *syncer.ExitError
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, 23, ee.Code)
		assert.Equal(t, "1", readTree(t, dst)["a"], "the rest was copied")
	})
	t.Run("weird names", func(t *testing.T) {
		base := t.TempDir()
		// The roots themselves hold spaces, quotes, a colon, a leading
		// dash and a newline.
		src := filepath.Join(base, "-src dir 'q' \"dq\" a:b\nnl")
		dst := filepath.Join(base, "-dst $(touch pwned) `x`;\nrm -rf")
		names := map[string]string{
			"-leading-dash":      "1",
			"with space":         "2",
			"quote's \"double\"": "3",
			"new\nline":          "4",
			"host:colon":         "5",
			"*glob?[x]":          "6",
			"back\\slash":        "7",
			"dir -x/--delete":    "8",
		}
		writeTree(t, src, names)
		rep, err := newRsync(t, syncer.RsyncConfig{Source: src, Dest: dst, Delete: true}).Sync(ctx)
		require.NoError(t, err)
		assert.Equal(t, len(names), rep.Files)
		assert.Equal(t, names, readTree(t, dst))
		entries, err := os.ReadDir(base)
		require.NoError(t, err)
		assert.Len(t, entries, 2, "nothing created beside the roots")
	})
	t.Run("invalid config", func(t *testing.T) {
		for name, cfg := range map[string]syncer.RsyncConfig{
			"no source":         {Dest: "/x"},
			"no dest":           {Source: "/x"},
			"pull without ssh":  {Source: "/x", Dest: "/y", Pull: true},
			"relative remote":   {Source: "/x", Dest: "y", SSH: &syncer.SSH{Host: "h"}},
			"dash host":         {Source: "/x", Dest: "/y", SSH: &syncer.SSH{Host: "-oProxyCommand=x"}},
			"port in host":      {Source: "/x", Dest: "/y", SSH: &syncer.SSH{Host: "peer:2222"}},
			"colon host":        {Source: "/x", Dest: "/y", SSH: &syncer.SSH{Host: "peer:"}},
			"newline exclude":   {Source: "/x", Dest: "/y", Excludes: []string{"a\nb"}},
			"dest holds source": {Source: "/srv/www", Dest: "/srv", Delete: true},
			"source holds dest": {Source: "/srv", Dest: "/srv/www/../backup"},
			"same directory":    {Source: "/srv/www/", Dest: "/srv/www"},
		} {
			t.Run(name, func(t *testing.T) {
				_, err := syncer.NewRsync(cfg)
				assert.Error(t, err)
			})
		}
	})
}

func TestRsyncSyncPaths(t *testing.T) {
	requireRsync(t)
	ctx := t.Context()
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	writeTree(t, src, map[string]string{"keep": "k", "gone": "g", "old dir/x": "x"})
	r := newRsync(t, syncer.RsyncConfig{Source: src, Dest: dst, Delete: true})
	_, err := r.Sync(ctx)
	require.NoError(t, err)

	writeTree(t, src, map[string]string{
		"keep":              "changed but not listed",
		"new\nline -dash":   "n",
		"new dir/deep/file": "d",
		"*not a glob*":      "g",
		"unlisted new file": "u",
	})
	require.NoError(t, os.Remove(filepath.Join(src, "gone")))
	rep, err := r.SyncPaths(ctx, []string{"new\nline -dash", "new dir", "gone", "*not a glob*", "./never-existed"})
	require.NoError(t, err)
	assert.Equal(t, 3, rep.Files)
	assert.Equal(t, 1, rep.Deleted)
	assert.Equal(t, map[string]string{
		"keep": "k", "old dir/x": "x",
		"new\nline -dash": "n", "new dir/deep/file": "d", "*not a glob*": "g",
	}, readTree(t, dst))

	for _, bad := range []string{"../outside", "/etc/passwd", "a/../../b", ""} {
		_, err := r.SyncPaths(ctx, []string{bad})
		assert.Error(t, err, "%q", bad)
	}
}

func TestRsyncArgv(t *testing.T) {
	rec := &cmdrun.Recorder{}
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"index.html": "i"}) // a non-empty source, as Delete requires
	r, err := syncer.NewRsync(syncer.RsyncConfig{
		Source: dir, Dest: "/var/www", Delete: true, Checksum: true, Compress: true,
		Excludes: []string{"*.tmp"}, BandwidthLimit: 500, DryRun: true, IOTimeout: 30 * time.Second,
		SSH:     &syncer.SSH{User: "root", Host: "peer", Port: 2222, IdentityFile: "/k/id ed25519", KnownHostsFile: "/k/known", Program: "/usr/bin/ssh"},
		Program: "/usr/bin/rsync", Runner: rec,
	})
	require.NoError(t, err)
	_, err = r.Sync(t.Context())
	require.NoError(t, err)
	want := []string{"/usr/bin/rsync", "--archive", "--stats", "--mkpath", "--delete", "--checksum", "--compress",
		"--bwlimit=500", "--dry-run", "--timeout=30", "--exclude=*.tmp",
		"--rsh=/usr/bin/ssh -p 2222 -i '/k/id ed25519' -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10 -o ServerAliveInterval=5 -o ServerAliveCountMax=3 -o UserKnownHostsFile=/k/known -o GlobalKnownHostsFile=/dev/null",
		"--protect-args", "--", dir + "/", "root@peer:/var/www/"}
	assert.Equal(t, [][]string{want}, rec.Argvs())
	assert.Equal(t, []string{"LC_ALL=C"}, rec.Cmds[0].Env)

	_, err = r.SyncPaths(t.Context(), []string{"a b", "c"})
	require.NoError(t, err)
	got := rec.Argvs()[1]
	assert.Subset(t, got, []string{"--files-from=-", "--from0", "--recursive", "--delete-missing-args"})
	stdin, err := io.ReadAll(rec.Cmds[1].Stdin)
	require.NoError(t, err)
	assert.Equal(t, "a b\x00c\x00", string(stdin))
}

func TestRsyncExitCodes(t *testing.T) {
	for _, tc := range []struct {
		code   int
		stderr string
		want   []error
		not    []error
	}{
		{23, "", []error{syncer.ErrPartial}, []error{syncer.ErrFailed, syncer.ErrSSH}},
		{24, "", []error{syncer.ErrPartial}, []error{syncer.ErrFailed}},
		{11, "", []error{syncer.ErrFailed}, []error{syncer.ErrPartial}},
		{12, "", []error{syncer.ErrFailed}, []error{syncer.ErrPartial}},
		{255, "Connection refused", []error{syncer.ErrSSH}, []error{syncer.ErrHostKey, syncer.ErrPartial}},
		{255, "Host key verification failed.", []error{syncer.ErrSSH, syncer.ErrHostKey}, []error{syncer.ErrPartial}},
	} {
		t.Run(strconv.Itoa(tc.code)+" "+tc.stderr, func(t *testing.T) {
			rec := &cmdrun.Recorder{Respond: func(c cmdrun.Cmd) (cmdrun.Result, error) {
				res := cmdrun.Result{ExitCode: tc.code, Stderr: []byte(tc.stderr), Stdout: []byte("Number of regular files transferred: 1,234\nTotal transferred file size: 5,678,901 bytes\n")}
				return res, &cmdrun.Error{Cmd: "rsync", ExitCode: tc.code, Stderr: tc.stderr, Err: errors.New("exit status")}
			}}
			r, err := syncer.NewRsync(syncer.RsyncConfig{Source: t.TempDir(), Dest: t.TempDir(), Runner: rec})
			require.NoError(t, err)
			rep, err := r.Sync(t.Context())
			for _, w := range tc.want {
				assert.ErrorIs(t, err, w)
			}
			for _, n := range tc.not {
				assert.NotErrorIs(t, err, n)
			}
			var ee *syncer.ExitError
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, tc.code, ee.Code)
			var ce *cmdrun.Error
			assert.ErrorAs(t, err, &ce)
			assert.Equal(t, 1234, rep.Files, "the report of a failed run is still returned")
			assert.Equal(t, int64(5678901), rep.Bytes)
		})
	}
}

func TestRsyncOverlap(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var first sync.Once
	rec := &cmdrun.Recorder{Respond: func(c cmdrun.Cmd) (cmdrun.Result, error) {
		first.Do(func() {
			close(entered)
			<-release
		})
		return cmdrun.Result{}, nil
	}}
	r, err := syncer.NewRsync(syncer.RsyncConfig{Source: t.TempDir(), Dest: t.TempDir(), Runner: rec, LockFile: filepath.Join(t.TempDir(), "lock")})
	require.NoError(t, err)
	done := make(chan error)
	go func() { _, err := r.Sync(context.Background()); done <- err }()
	<-entered
	_, err = r.Sync(t.Context())
	assert.ErrorIs(t, err, syncer.ErrBusy)
	close(release)
	require.NoError(t, <-done)
	_, err = r.SyncPaths(t.Context(), []string{"x"})
	assert.NoError(t, err, "the lock is free again")
}

func TestRsyncSSH(t *testing.T) {
	requireRsync(t)
	srv := sshdtest.Start(t)
	ctx := t.Context()
	base := t.TempDir()
	src, dst := filepath.Join(base, "src dir"), filepath.Join(base, "dst 'peer'")
	writeTree(t, src, map[string]string{"a": "alpha", "-dash name\n": "d"})
	peer := srv.SSH()

	t.Run("push with a master connection", func(t *testing.T) {
		r := newRsync(t, syncer.RsyncConfig{Source: src, Dest: dst, SSH: &peer, Delete: true, Compress: true})
		require.NoError(t, r.Connect(ctx))
		rep, err := r.Sync(ctx)
		require.NoError(t, err)
		assert.Equal(t, 2, rep.Files)
		assert.Equal(t, readTree(t, src), readTree(t, dst))
		writeTree(t, src, map[string]string{"b": "bravo"})
		rep, err = r.SyncPaths(ctx, []string{"b"})
		require.NoError(t, err)
		assert.Equal(t, 1, rep.Files)
		assert.Equal(t, "bravo", readTree(t, dst)["b"])
		require.NoError(t, r.Close())
	})
	t.Run("pull", func(t *testing.T) {
		back := filepath.Join(base, "pulled")
		rep, err := newRsync(t, syncer.RsyncConfig{Source: dst, Dest: back, SSH: &peer, Pull: true}).Sync(ctx)
		require.NoError(t, err)
		assert.Equal(t, 3, rep.Files)
		assert.Equal(t, readTree(t, src), readTree(t, back))
	})
	t.Run("host key mismatch refused", func(t *testing.T) {
		foreign, err := srv.ForeignKnownHosts(t.TempDir())
		require.NoError(t, err)
		bad := peer
		bad.KnownHostsFile = foreign
		target := filepath.Join(base, "never")
		_, err = newRsync(t, syncer.RsyncConfig{Source: src, Dest: target, SSH: &bad}).Sync(ctx)
		require.ErrorIs(t, err, syncer.ErrHostKey)
		require.ErrorIs(t, err, syncer.ErrSSH)
		assert.NoDirExists(t, target)
		_, err = bad.StartMaster(ctx)
		assert.ErrorIs(t, err, syncer.ErrHostKey)
	})
	t.Run("unknown host key refused", func(t *testing.T) {
		empty := filepath.Join(t.TempDir(), "known_hosts")
		require.NoError(t, os.WriteFile(empty, nil, 0o600))
		bad := peer
		bad.KnownHostsFile = empty
		_, err := newRsync(t, syncer.RsyncConfig{Source: src, Dest: filepath.Join(base, "never2"), SSH: &bad}).Sync(ctx)
		require.ErrorIs(t, err, syncer.ErrHostKey)
	})
}

func TestRsyncPeerVanishes(t *testing.T) {
	requireRsync(t)
	srv := sshdtest.Start(t)
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	writeTree(t, src, map[string]string{"big": strings.Repeat("z", 4<<20)})
	peer := srv.SSH()
	progressed := make(chan struct{})
	var once sync.Once
	r := newRsync(t, syncer.RsyncConfig{Source: src, Dest: dst, SSH: &peer, BandwidthLimit: 256, OnProgress: func(p syncer.Progress) {
		if p.Bytes > 0 {
			once.Do(func() { close(progressed) })
		}
	}})
	done := make(chan error, 1)
	go func() { _, err := r.Sync(t.Context()); done <- err }()
	select {
	case <-progressed:
	case err := <-done:
		t.Fatalf("sync ended before the peer was cut: %v", err)
	}
	n, err := srv.DropSessions()
	require.NoError(t, err)
	require.NotZero(t, n)
	err = <-done
	require.Error(t, err)
	var ee *syncer.ExitError
	require.ErrorAs(t, err, &ee)
	assert.NoFileExists(t, filepath.Join(dst, "big"), "no partial file under its final name")
}

func TestRsyncRemoteHostForms(t *testing.T) {
	// rsync splits "host:path" at the first colon outside brackets, so an
	// IPv6 address must be bracketed and any other colon refused.
	for _, tc := range []struct{ host, dest string }{
		{"peer", "peer:/y/"},
		{"::1", "[::1]:/y/"},
		{"fe80::1%eth0", "[fe80::1%eth0]:/y/"},
		{"192.0.2.1", "192.0.2.1:/y/"},
	} {
		t.Run(tc.host, func(t *testing.T) {
			rec := &cmdrun.Recorder{}
			r, err := syncer.NewRsync(syncer.RsyncConfig{Source: t.TempDir(), Dest: "/y", SSH: &syncer.SSH{Host: tc.host, Program: "/usr/bin/ssh"}, Program: "/usr/bin/rsync", Runner: rec})
			require.NoError(t, err)
			_, err = r.Sync(t.Context())
			require.NoError(t, err)
			argv := rec.Argvs()[0]
			assert.Equal(t, tc.dest, argv[len(argv)-1])
		})
	}
}

func TestRsyncSyncPathsThroughSymlink(t *testing.T) {
	// A listed path whose directory is a symlink leading out of Source:
	// rsync would follow it and ship what lies outside the tree. The
	// symlink itself is copied instead, as a whole-tree run does.
	requireRsync(t)
	base := t.TempDir()
	src, dst, outside := filepath.Join(base, "src"), filepath.Join(base, "dst"), filepath.Join(base, "outside")
	writeTree(t, outside, map[string]string{"secret": "s"})
	writeTree(t, src, map[string]string{"a": "1", "link": "->../outside"})
	r := newRsync(t, syncer.RsyncConfig{Source: src, Dest: dst, Delete: true})
	_, err := r.SyncPaths(t.Context(), []string{"a", "link/secret"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": "1", "link": "->../outside"}, readTree(t, dst))
	assert.Equal(t, map[string]string{"secret": "s"}, readTree(t, outside))
}
