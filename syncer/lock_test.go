package syncer_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/syncer"
)

// lockHelperEnv makes the test binary a lock holder: it takes the lock
// named by the variable, says "locked" and waits to be killed.
const lockHelperEnv = "SYNCER_TEST_HOLD_LOCK"

func TestMain(m *testing.M) {
	if os.Getenv(inotifyHelperEnv) != "" && len(os.Args) > 1 && filepath.Ext(os.Args[len(os.Args)-1]) == ".lua" {
		inotifyHelper()
	}
	if path := os.Getenv(lockHelperEnv); path != "" {
		l := &syncer.Lock{Path: path}
		if _, err := l.TryLock(); err != nil {
			os.Stdout.WriteString("error " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("locked\n")
		select {} // hold until killed
	}
	os.Exit(m.Run())
}

func TestLockHeldByCrashedProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.lock")
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), lockHelperEnv+"="+path)
	out, err := child.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "locked\n", line)

	l := &syncer.Lock{Path: path}
	_, err = l.TryLock()
	require.ErrorIs(t, err, syncer.ErrBusy, "the live child holds the lock")

	// A crash: no cleanup runs in the child, the lock file stays.
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	_ = child.Wait()
	assert.FileExists(t, path)

	unlock, err := l.TryLock()
	require.NoError(t, err, "the kernel released the dead holder's lock")
	_, err = (&syncer.Lock{Path: path}).TryLock()
	assert.ErrorIs(t, err, syncer.ErrBusy, "now this process holds it")
	unlock()
	unlock2, err := (&syncer.Lock{Path: path}).TryLock()
	require.NoError(t, err)
	unlock2()
}

func TestLockInProcess(t *testing.T) {
	var l syncer.Lock
	unlock, err := l.TryLock()
	require.NoError(t, err)
	_, err = l.TryLock()
	require.ErrorIs(t, err, syncer.ErrBusy)
	unlock()
	unlock, err = l.TryLock()
	require.NoError(t, err)
	unlock()
}
