package bench

import (
	"bytes"
	"strings"
	"testing"

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
	err := Sync(t.Context(), &out, SyncOptions{Singles: 3, Burst: 20, Progress: &progress})
	require.NoError(t, err, progress.String())
	t.Log(out.String())
	got := map[string]map[string]string{}
	for line, f := range figures(t, out.String()) {
		got[line] = f
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	seen := map[string]bool{}
	for _, l := range lines {
		f := figures(t, l)
		for name, kv := range f {
			switch name {
			case "sync_ms":
				require.Equal(t, "3", kv["n"])
				positive(t, kv["p50"])
				positive(t, kv["p95"])
				require.NotEmpty(t, kv["delay"])
			case "sync_burst":
				require.Equal(t, "20", kv["files"])
				positive(t, kv["runs"])
				positive(t, kv["total_ms"])
			case "sync_target":
				require.Contains(t, []string{"true", "false"}, kv["met"])
			default:
				t.Fatalf("unexpected figure %q", name)
			}
			seen[name+" "+kv["tool"]+" "+kv["transport"]] = true
		}
	}
	for _, tool := range []string{"watcher", "lsyncd"} {
		for _, tr := range []string{"local", "ssh"} {
			require.True(t, seen["sync_ms "+tool+" "+tr], "sync_ms %s %s", tool, tr)
			require.True(t, seen["sync_burst "+tool+" "+tr], "sync_burst %s %s", tool, tr)
		}
	}
}
