package health_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/health"
)

func TestProcessFixture(t *testing.T) {
	tests := []struct {
		name     string
		min      int
		wantPIDs []int
		ok       bool
	}{
		{"nginx", 0, []int{100, 101}, true},
		{"nginx", 2, []int{100, 101}, true},
		{"nginx", 3, []int{100, 101}, false},
		{"mariadbd", 0, []int{200}, true},
		{"understudy-arbiter", 0, []int{300}, true}, // argv[0]: comm is cut at 15 bytes
		{"understudy-arbi", 0, []int{300}, true},    // comm
		{"keepalived", 0, nil, false},               // a zombie does not count
		{"weird) Z (", 0, []int{500}, true},         // parentheses in comm do not fool the stat parser
		{"check.py", 0, nil, false},                 // a script's name, like pidof without -x
		{"python3", 0, []int{700}, true},
		{"nostat", 0, []int{800}, true},
		{"sshd", 0, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := health.NewProcess(health.ProcessConfig{Name: tt.name, MinCount: tt.min, ProcDir: "testdata/proc"})
			require.NoError(t, err)
			pids, err := p.PIDs(context.Background())
			require.NoError(t, err)
			slices.Sort(pids)
			assert.Equal(t, tt.wantPIDs, pids)
			err = p.Check(context.Background())
			if tt.ok {
				assert.NoError(t, err)
				return
			}
			he := requireCheckError(t, err, "process")
			assert.Equal(t, tt.name, he.Target)
			assert.ErrorIs(t, err, health.ErrTooFewProcesses)
		})
	}
}

func TestProcessConfig(t *testing.T) {
	for _, cfg := range []health.ProcessConfig{
		{},
		{Name: "/usr/sbin/nginx"},
		{Name: "nginx", MinCount: -1},
	} {
		_, err := health.NewProcess(cfg)
		assert.Error(t, err, "%+v", cfg)
	}
	p, err := health.NewProcess(health.ProcessConfig{Name: "nginx", ProcDir: filepath.Join(t.TempDir(), "none")})
	require.NoError(t, err)
	err = p.Check(context.Background())
	requireCheckError(t, err, "process")
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// TestProcessRealProc starts a copy of sleep under a unique name, finds
// it in the real /proc, kills it, and checks that it is gone (first as a
// zombie, then reaped).
func TestProcessRealProc(t *testing.T) {
	sleepPath, err := exec.LookPath("sleep")
	require.NoError(t, err)
	suffix := make([]byte, 4)
	rand.Read(suffix)
	for _, name := range []string{
		"hs" + hex.EncodeToString(suffix),                  // fits in comm
		"understudy-sleeper-" + hex.EncodeToString(suffix), // only argv[0] has it whole
	} {
		t.Run(name, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), name)
			copyFile(t, sleepPath, bin)
			cmd := exec.Command(bin, "600")
			require.NoError(t, cmd.Start())
			waited := false
			t.Cleanup(func() {
				if !waited {
					cmd.Process.Kill()
					cmd.Wait()
				}
			})

			p, err := health.NewProcess(health.ProcessConfig{Name: name})
			require.NoError(t, err)
			ctx := context.Background()
			require.Eventually(t, func() bool { return p.Check(ctx) == nil }, 10*time.Second, 5*time.Millisecond, "child never seen")
			pids, err := p.PIDs(ctx)
			require.NoError(t, err)
			assert.Equal(t, []int{cmd.Process.Pid}, pids)

			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			// Not reaped yet: a zombie, which must not count.
			require.Eventually(t, func() bool { return p.Check(ctx) != nil }, 10*time.Second, 5*time.Millisecond, "killed child still counted")
			_, err = os.Stat(filepath.Join("/proc", itoa(cmd.Process.Pid)))
			assert.NoError(t, err, "the zombie is still in /proc")

			cmd.Wait()
			waited = true
			err = p.Check(ctx)
			requireCheckError(t, err, "process")
			assert.ErrorIs(t, err, health.ErrTooFewProcesses)
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}
