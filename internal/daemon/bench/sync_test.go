package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/internal/testkit/testenv"
)

// The sync benchmark runs end to end with tiny counts (real rsync,
// lsyncd and sshd) and prints one parseable line per figure.
func TestSyncFigures(t *testing.T) {
	for _, p := range [][2]string{{"rsync", "rsync"}, {"lsyncd", "lsyncd"}, {"sshd", "openssh-server"}, {"ssh", "openssh-client"}} {
		testenv.Require(t, p[0], p[1])
	}
	var out, progress bytes.Buffer
	err := Sync(t.Context(), &out, SyncOptions{Singles: 3, Burst: 20, RemoteRC: 100 * time.Millisecond, Progress: &progress})
	require.NoError(t, err, progress.String())
	t.Log(out.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	seen := map[string]bool{}
	for _, l := range lines {
		f := figures(t, l)
		for name, kv := range f {
			switch name {
			case "ssh_true_ms":
				require.Contains(t, []string{"yes", "no"}, kv["master"])
				require.Equal(t, "100ms", kv["remote_rc"])
				positive(t, kv["p50"])
			case "sync_ms":
				require.Equal(t, "3", kv["n"])
				positive(t, kv["p50"])
				positive(t, kv["p95"])
				require.NotEmpty(t, kv["delay"])
				if kv["tool"] == "watcher" && kv["transport"] == "ssh" {
					positive(t, kv["session_start_ms"])
				}
			case "sync_burst":
				require.Equal(t, "20", kv["files"])
				positive(t, kv["runs"])
				positive(t, kv["total_ms"])
			case "sync_target":
				require.Contains(t, []string{"true", "false"}, kv["met"])
			default:
				t.Fatalf("unexpected figure %q", name)
			}
			seen[name+" "+kv["tool"]+" "+kv["transport"]+" "+kv["via"]+" "+kv["master"]] = true
		}
	}
	for _, k := range []string{"watcher local primed", "lsyncd local rsync", "watcher ssh rsyncd", "watcher ssh sessions", "lsyncd ssh rsyncssh"} {
		require.True(t, seen["sync_ms "+k+" "], "sync_ms %s", k)
		require.True(t, seen["sync_burst "+k+" "], "sync_burst %s", k)
	}
	require.True(t, seen["ssh_true_ms    yes"] && seen["ssh_true_ms    no"], "ssh_true_ms lines")
}
