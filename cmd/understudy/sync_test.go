package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/internal/daemon/config"
	"github.com/understudy-ha/understudy/internal/testkit/testenv"
	"github.com/understudy-ha/understudy/syncer"
)

func syncConfig(t *testing.T, syncs string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "understudy.yaml")
	require.NoError(t, os.WriteFile(path, []byte("nodes:\n  - {name: a, address: 127.0.0.1}\nsyncs:\n"+syncs), 0o600))
	return path
}

func TestSyncCommand(t *testing.T) {
	testenv.Require(t, "rsync", "rsync")
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	require.NoError(t, os.MkdirAll(src, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "big"), bytes.Repeat([]byte("x"), 2<<20), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(src, "small"), []byte("s"), 0o644))
	cfg := syncConfig(t, `  - {name: www, local: "`+src+`", remote: "`+dst+`", delete: true}
  - {name: broken, local: "`+filepath.Join(base, "missing")+`", remote: "`+dst+`"}
`)
	t.Run("one by name, with progress lines", func(t *testing.T) {
		var out, errb bytes.Buffer
		code := run(t.Context(), []string{"-c", cfg, "sync", "www"}, &out, &errb)
		require.Equal(t, exitOK, code, errb.String())
		assert.Contains(t, out.String(), "sync www: 100%")
		assert.Contains(t, out.String(), "sync www ok: files=2 bytes=2097153 deleted=0")
		b, err := os.ReadFile(filepath.Join(dst, "small"))
		require.NoError(t, err)
		assert.Equal(t, "s", string(b))
	})
	t.Run("dry run", func(t *testing.T) {
		require.NoError(t, os.WriteFile(filepath.Join(src, "new"), []byte("n"), 0o644))
		var out, errb bytes.Buffer
		require.Equal(t, exitOK, run(t.Context(), []string{"-c", cfg, "sync", "-dry-run", "www"}, &out, &errb), errb.String())
		assert.Contains(t, out.String(), "files=1")
		assert.NoFileExists(t, filepath.Join(dst, "new"))
	})
	t.Run("all, one failing", func(t *testing.T) {
		var out, errb bytes.Buffer
		code := run(t.Context(), []string{"-c", cfg, "sync"}, &out, &errb)
		assert.Equal(t, exitFailure, code)
		assert.Contains(t, out.String(), "sync www ok")
		assert.Contains(t, out.String(), "sync broken FAILED")
		assert.Contains(t, out.String(), "source directory missing")
	})
	t.Run("unknown name", func(t *testing.T) {
		var out, errb bytes.Buffer
		assert.Equal(t, exitUsage, run(t.Context(), []string{"-c", cfg, "sync", "nope"}, &out, &errb))
		assert.Contains(t, errb.String(), `no sync named "nope"`)
	})
}

func TestStartSyncs(t *testing.T) {
	testenv.Require(t, "rsync", "rsync")
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	require.NoError(t, os.MkdirAll(src, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "f"), []byte("f"), 0o644))
	path := filepath.Join(t.TempDir(), "understudy.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`state_file: state.json
nodes:
  - name: a
    address: 127.0.0.1
    checks: [{name: files, type: sync, sync: www, max_age: 2h}]
syncs:
  - {name: www, local: "`+src+`", remote: "`+dst+`", every: 1h}
`), 0o600))
	c, err := config.Load(path)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	wait, err := startSyncs(ctx, c, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer func() { cancel(); wait() }()
	check := syncer.Fresh(syncStore(c), "www", 2*time.Hour) // as the check of type sync reads it
	// The first run starts at once.
	testenv.Eventually(t, 10*time.Second, "a successful sync", func() bool { return check.Check(ctx) == nil })
	assert.FileExists(t, filepath.Join(dst, "f"))
	assert.Equal(t, filepath.Join(filepath.Dir(path), "state.syncs.json"), syncStore(c).Path)
}

func TestRenderBar(t *testing.T) {
	got := renderBar("www", syncer.Progress{Bytes: 3 << 20, Percent: 50, Rate: "1.20MB/s", ETA: 75 * time.Second}, 10)
	assert.Equal(t, "www [#####-----]  50%   3.0 MiB   1.20MB/s  ETA 0:01:15", got)
	assert.True(t, strings.HasPrefix(renderBar("x", syncer.Progress{Percent: 100}, 4), "x [####] 100%"))
}

// A watcher entry replicates continuously under run, and a check of type
// sync naming it passes once its start pass is recorded.
func TestStartSyncsWatcher(t *testing.T) {
	testenv.Require(t, "rsync", "rsync")
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	require.NoError(t, os.MkdirAll(src, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "f"), []byte("f"), 0o644))
	path := filepath.Join(t.TempDir(), "understudy.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`state_file: state.json
nodes:
  - name: a
    address: 127.0.0.1
    checks: [{name: files, type: sync, sync: live, max_age: 400ms}]
syncs:
  - {name: live, tool: watcher, local: "`+src+`", remote: "`+dst+`", delete: true}
`), 0o600))
	c, err := config.Load(path)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	wait, err := startSyncs(ctx, c, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer func() { cancel(); wait() }()
	check := syncer.Fresh(syncStore(c), "live", 400*time.Millisecond)
	poll := func(what string, cond func() bool) {
		t.Helper()
		testenv.Eventually(t, 10*time.Second, what, cond)
	}
	poll("a fresh record", func() bool { return check.Check(ctx) == nil })
	require.NoError(t, os.WriteFile(filepath.Join(src, "later"), []byte("l"), 0o644))
	poll("the change on the mirror", func() bool {
		b, err := os.ReadFile(filepath.Join(dst, "later"))
		return err == nil && string(b) == "l"
	})
	assert.FileExists(t, filepath.Join(dst, "f"))
}
