package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/internal/testkit/sshdtest"
	"github.com/understudy-ha/understudy/internal/testkit/testenv"
	"github.com/understudy-ha/understudy/syncer"
)

// TestArticle runs the every-5-minutes job by hand, one call per cron
// slot, between a local /site/web and the peer's behind a real sshd on
// loopback (host key pinned). Same-size edits get explicit mtimes
// (os.Chtimes) so that unison's fast check sees them without sleeping
// across a second.
func TestArticle(t *testing.T) {
	testenv.Require(t, "unison", "unison")
	srv := sshdtest.Start(t)
	base := t.TempDir()
	s := articleSetup()
	s.Dir = filepath.Join(base, "10.1.0.1", "site", "web")
	s.PeerDir = filepath.Join(base, "10.2.0.2", "site", "web")
	s.Peer = srv.SSH()
	s.StateDir = filepath.Join(base, "state-here")
	s.PeerStateDir = filepath.Join(base, "state-peer")
	s.LockFile = filepath.Join(base, "sync.lock")
	s.Every = 0
	logs := &recorder{}
	u, err := newUnison(s, slog.New(logs))
	require.NoError(t, err)
	slot := func() error { return once(t.Context(), u, slog.New(logs)) }
	here := func(name string) string { return filepath.Join(s.Dir, name) }
	peer := func(name string) string { return filepath.Join(s.PeerDir, name) }
	mtime := time.Now()
	write := func(path, content string) {
		t.Helper()
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
		mtime = mtime.Add(time.Minute) // a different second for every edit
		require.NoError(t, os.Chtimes(path, mtime, mtime))
	}

	write(here("index.php"), "v1")
	write(peer("upload/a.jpg"), "jpeg")
	require.NoError(t, slot())
	assert.Equal(t, "jpeg", read(t, here("upload/a.jpg")))
	assert.Equal(t, "v1", read(t, peer("index.php")))
	assert.DirExists(t, s.PeerStateDir, "the peer's archive stays out of ~/.unison")

	t.Run("a change on each side propagates both ways", func(t *testing.T) {
		write(here("index.php"), "v2") // same size as v1
		write(peer("upload/b.jpg"), "jpeg 2")
		require.NoError(t, os.Remove(peer("upload/a.jpg")))
		require.NoError(t, slot())
		assert.Equal(t, "v2", read(t, peer("index.php")))
		assert.Equal(t, "jpeg 2", read(t, here("upload/b.jpg")))
		assert.NoFileExists(t, here("upload/a.jpg"))
		want, err := os.Stat(here("index.php"))
		require.NoError(t, err)
		got, err := os.Stat(peer("index.php"))
		require.NoError(t, err)
		assert.Equal(t, want.ModTime().Unix(), got.ModTime().Unix(), "times = true")
	})

	t.Run("a conflict is reported, not skipped silently", func(t *testing.T) {
		write(here("index.php"), "edited here")
		write(peer("index.php"), "edited on peer")
		write(here("new.css"), "css")
		err := slot()
		require.ErrorIs(t, err, syncer.ErrConflict)
		assert.Equal(t, []string{"index.php"}, logs.conflicts())
		assert.Equal(t, "edited here", read(t, here("index.php")), "neither side overwritten")
		assert.Equal(t, "edited on peer", read(t, peer("index.php")))
		assert.Equal(t, "css", read(t, peer("new.css")), "the rest still propagates")
	})

	t.Run("a run while the lock is held is refused", func(t *testing.T) {
		unlock, err := (&syncer.Lock{Path: s.LockFile}).TryLock()
		require.NoError(t, err)
		write(here("late.html"), "late")
		err = slot()
		unlock()
		require.ErrorIs(t, err, syncer.ErrBusy)
		assert.NoFileExists(t, peer("late.html"), "unison ran under a held lock")

		// The next slot, with the lock free, does the work.
		write(peer("index.php"), "edited here")
		require.NoError(t, os.Chtimes(here("index.php"), mtime, mtime))
		require.NoError(t, slot())
		assert.Equal(t, "late", read(t, peer("late.html")))
	})
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// recorder is a slog.Handler that keeps the "conflict left alone"
// warnings' paths.
type recorder struct {
	mu    sync.Mutex
	paths []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	if rec.Level != slog.LevelWarn || rec.Message != "conflict left alone" {
		return nil
	}
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "path" {
			r.mu.Lock()
			r.paths = append(r.paths, a.Value.String())
			r.mu.Unlock()
		}
		return true
	})
	return nil
}

func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func (r *recorder) conflicts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.paths)
}
