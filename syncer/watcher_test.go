package syncer_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/internal/servers/sshd"
	"github.com/understudy-ha/understudy/internal/testkit/sshdtest"
	"github.com/understudy-ha/understudy/internal/testkit/testenv"
	"github.com/understudy-ha/understudy/syncer"
)

// batchLog collects a watcher's batches.
type batchLog struct {
	mu      sync.Mutex
	batches []syncer.Batch
}

func (l *batchLog) add(b syncer.Batch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.batches = append(l.batches, b)
}

func (l *batchLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.batches)
}

func (l *batchLog) since(n int) []syncer.Batch {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]syncer.Batch(nil), l.batches[n:]...)
}

// startWatcher runs w until the test ends and waits for its start pass.
func startWatcher(t *testing.T, w *syncer.Watcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.ErrorIs(t, err, context.Canceled)
		case <-time.After(10 * time.Second):
			t.Error("watcher did not stop")
		}
	})
	_, err := w.Sync(t.Context())
	require.NoError(t, err, "start pass")
}

// mirrors waits until dst holds exactly want.
func mirrors(t *testing.T, dst string, want map[string]string) {
	t.Helper()
	eventually(t, "the mirror to match", func() bool {
		got, err := scanTree(dst)
		return err == nil && assert.ObjectsAreEqual(want, got)
	})
}

// scanTree is readTree for a tree that rsync may be changing: a file
// that vanishes during the walk is an error, not a test failure.
func scanTree(root string) (map[string]string, error) {
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			out[rel] = string(b)
		}
		return nil
	})
	return out, err
}

func newWatcher(t *testing.T, src, dst string, peer *syncer.SSH, cfg syncer.WatcherConfig) (*syncer.Watcher, *batchLog) {
	t.Helper()
	r, err := syncer.NewRsync(syncer.RsyncConfig{Source: src, Dest: dst, SSH: peer, Delete: true})
	require.NoError(t, err)
	log := &batchLog{}
	cfg.Rsync, cfg.OnBatch = r, log.add
	w, err := syncer.NewWatcher(cfg)
	require.NoError(t, err)
	return w, log
}

func TestWatcherReplicates(t *testing.T) {
	testenv.Require(t, "rsync", "rsync")
	for _, transport := range []string{"local", "ssh", "ssh-session"} {
		t.Run(transport, func(t *testing.T) {
			base := t.TempDir()
			src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst -x 'q'")
			var peer *syncer.SSH
			var srv *sshd.Server
			cfg := syncer.WatcherConfig{FullEvery: -1}
			if transport != "local" {
				srv = sshdtest.Start(t)
				s := srv.SSH()
				peer = &s
			}
			if transport == "ssh-session" {
				cfg.Transport = syncer.TransportSession
			}
			want := map[string]string{"old": "o", "keep/k": "k"}
			writeTree(t, src, want)
			w, batches := newWatcher(t, src, dst, peer, cfg)
			startWatcher(t, w)
			require.Equal(t, want, readTree(t, dst), "start pass")

			t.Run("a written file appears", func(t *testing.T) {
				writeTree(t, src, map[string]string{"new file": "n"})
				want["new file"] = "n"
				mirrors(t, dst, want)
			})
			t.Run("a new directory and what was written in it at once", func(t *testing.T) {
				for _, d := range []string{"d1", "d1/d2", "d1/d2/d3"} {
					require.NoError(t, os.Mkdir(filepath.Join(src, d), 0o755))
					p := filepath.Join(d, "f")
					require.NoError(t, os.WriteFile(filepath.Join(src, p), []byte(d), 0o644))
					want[p] = d
				}
				mirrors(t, dst, want)
				// The new directories are watched: a later change in the
				// deepest one is seen.
				writeTree(t, src, map[string]string{"d1/d2/d3/later": "l"})
				want["d1/d2/d3/later"] = "l"
				mirrors(t, dst, want)
			})
			t.Run("deletion and rename", func(t *testing.T) {
				require.NoError(t, os.Remove(filepath.Join(src, "old")))
				delete(want, "old")
				require.NoError(t, os.Rename(filepath.Join(src, "new file"), filepath.Join(src, "renamed")))
				delete(want, "new file")
				want["renamed"] = "n"
				require.NoError(t, os.Rename(filepath.Join(src, "d1"), filepath.Join(src, "moved")))
				for k, v := range want {
					if strings.HasPrefix(k, "d1/") {
						delete(want, k)
						want["moved/"+k[3:]] = v
					}
				}
				mirrors(t, dst, want)
				_, err := os.Stat(filepath.Join(dst, "d1"))
				assert.True(t, os.IsNotExist(err), "the old directory is gone on the mirror")
				// The moved tree is watched under its new name.
				writeTree(t, src, map[string]string{"moved/d2/after move": "a"})
				want["moved/d2/after move"] = "a"
				mirrors(t, dst, want)
			})
			t.Run("a burst of 5000 files in few runs", func(t *testing.T) {
				require.NoError(t, os.Mkdir(filepath.Join(src, "burst"), 0o755))
				_, err := w.Sync(t.Context())
				require.NoError(t, err)
				before := batches.count()
				for i := range 5000 {
					p := filepath.Join("burst", "f"+strconv.Itoa(i))
					require.NoError(t, os.WriteFile(filepath.Join(src, p), []byte(strconv.Itoa(i)), 0o644))
					want[p] = strconv.Itoa(i)
				}
				mirrors(t, dst, want)
				_, err = w.Sync(t.Context()) // the last run may still be finishing
				require.NoError(t, err)
				runs := batches.since(before)
				assert.Less(t, len(runs), 50, "5000 files in %d runs", len(runs))
				files := 0
				for _, b := range runs {
					require.NoError(t, b.Err)
					files += b.Report.Files
				}
				assert.GreaterOrEqual(t, files, 5000, "files transferred")
				t.Logf("%s: 5000 files in %d runs", transport, len(runs))
			})
			if srv != nil {
				t.Run("one ssh connection for every batch", func(t *testing.T) {
					assert.Equal(t, 1, strings.Count(srv.Log(), "Accepted publickey"), "the master connection only")
				})
				t.Run("the transport and its session start-up are reported", func(t *testing.T) {
					c, ok := w.Connection()
					require.True(t, ok)
					assert.Equal(t, map[string]syncer.WatchTransport{"ssh": syncer.TransportDaemon, "ssh-session": syncer.TransportSession}[transport], c.Transport)
					assert.Positive(t, c.SessionStart)
					assert.NoError(t, c.Err)
				})
			}
		})
	}
}

// A change made while the watcher was stopped is repaired by the start
// pass, and damage to the mirror (which no event reports) by the
// periodic full pass.
func TestWatcherFullPass(t *testing.T) {
	testenv.Require(t, "rsync", "rsync")
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	want := map[string]string{"a": "1", "b": "2"}
	writeTree(t, src, want)
	w, _ := newWatcher(t, src, dst, nil, syncer.WatcherConfig{FullEvery: -1})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	_, err := w.Sync(t.Context())
	require.NoError(t, err)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)

	writeTree(t, src, map[string]string{"a": "changed while stopped", "c": "3"})
	require.NoError(t, os.Remove(filepath.Join(src, "b")))
	want = map[string]string{"a": "changed while stopped", "c": "3"}
	require.NotEqual(t, want, readTree(t, dst))

	log := &batchLog{}
	r, err := syncer.NewRsync(syncer.RsyncConfig{Source: src, Dest: dst, Delete: true})
	require.NoError(t, err)
	w2, err := syncer.NewWatcher(syncer.WatcherConfig{Rsync: r, FullEvery: 50 * time.Millisecond, OnBatch: log.add})
	require.NoError(t, err)
	startWatcher(t, w2)
	assert.Equal(t, want, readTree(t, dst), "the start pass repaired it")

	require.NoError(t, os.WriteFile(filepath.Join(dst, "a"), []byte("damaged"), 0o644))
	require.NoError(t, os.Chtimes(filepath.Join(dst, "a"), time.Unix(1, 0), time.Unix(1, 0)))
	require.NoError(t, os.Remove(filepath.Join(dst, "c")))
	mirrors(t, dst, want)
	// Only a full pass could have repaired it; its batch is reported
	// when the run has ended.
	eventually(t, "a periodic full pass reported", func() bool {
		for _, b := range log.since(0) {
			if b.Full && b.Reason == "periodic" && b.Err == nil {
				return true
			}
		}
		return false
	})
}

// Sync on a watcher that is not running fails instead of waiting.
func TestWatcherNotRunning(t *testing.T) {
	base := t.TempDir()
	w, _ := newWatcher(t, filepath.Join(base, "missing"), filepath.Join(base, "dst"), nil, syncer.WatcherConfig{})
	err := w.Run(t.Context())
	require.ErrorIs(t, err, syncer.ErrNoSource)
	_, err = w.Sync(t.Context())
	assert.ErrorIs(t, err, syncer.ErrNoSource)
	assert.Contains(t, fmt.Sprint(err), "not running")
}
