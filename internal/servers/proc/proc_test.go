package proc_test

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/internal/servers/proc"
)

// The test binary doubles as the daemon (PROC_TEST_DAEMON): "term" exits
// 0 on SIGTERM, "ignore" ignores SIGTERM, "exit" exits 3 at once. Each
// prints "ready" once its signal handling is in place.
func TestMain(m *testing.M) {
	switch os.Getenv("PROC_TEST_DAEMON") {
	case "term":
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		fmt.Println("ready")
		<-c
		fmt.Println("got SIGTERM")
		os.Exit(0)
	case "ignore":
		signal.Ignore(syscall.SIGTERM)
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGUSR1) // never sent: wait for SIGKILL
		fmt.Println("ready")
		<-c
		os.Exit(0)
	case "exit":
		fmt.Println("ready")
		os.Exit(3)
	}
	os.Exit(m.Run())
}

// start runs the test binary as a daemon of kind, logging to a file, and
// waits until it says it is ready.
func start(t *testing.T, kind string) (*proc.Process, string) {
	t.Helper()
	t.Setenv("PROC_TEST_DAEMON", kind)
	logPath := filepath.Join(t.TempDir(), "daemon.log")
	log, err := os.Create(logPath)
	require.NoError(t, err)
	defer log.Close()
	p, err := proc.Start(log, os.Args[0], "-test.run=^$")
	require.NoError(t, err)
	t.Cleanup(func() { p.Stop(time.Second) })
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(logPath)
		return strings.Contains(string(b), "ready")
	}, 30*time.Second, 5*time.Millisecond, "daemon %s never said ready", kind)
	return p, logPath
}

func TestStop(t *testing.T) {
	t.Run("exits on SIGTERM", func(t *testing.T) {
		p, logPath := start(t, "term")
		assert.Nil(t, p.State(), "state while running")
		require.NoError(t, p.Stop(time.Minute))
		<-p.Exited()
		require.NotNil(t, p.State())
		assert.Equal(t, 0, p.State().ExitCode())
		b, err := os.ReadFile(logPath)
		require.NoError(t, err)
		assert.Contains(t, string(b), "got SIGTERM")
	})
	t.Run("ignores SIGTERM", func(t *testing.T) {
		p, _ := start(t, "ignore")
		err := p.Stop(50 * time.Millisecond)
		require.ErrorIs(t, err, proc.ErrKilled)
		assert.Contains(t, err.Error(), strconv.Itoa(p.PID()))
		require.NotNil(t, p.State())
		assert.Equal(t, "signal: killed", p.State().String())
		assert.Same(t, err, p.Stop(time.Minute), "a second Stop returns the first result")
	})
	t.Run("already exited", func(t *testing.T) {
		p, _ := start(t, "exit")
		<-p.Exited()
		require.NoError(t, p.Stop(time.Minute))
		assert.Equal(t, 3, p.State().ExitCode())
	})
}

func TestStartMissingProgram(t *testing.T) {
	_, err := proc.Start(nil, filepath.Join(t.TempDir(), "no-such-daemon"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestFreePort(t *testing.T) {
	port, err := proc.FreePort()
	require.NoError(t, err)
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	require.NoError(t, err, "the port FreePort returned")
	l.Close()
}
