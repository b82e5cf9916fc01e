// Package proc runs the daemons the test harnesses start (named, sshd,
// mariadbd): argv only, standard output and error to a log file, reaped by
// a goroutine of its own, stopped with SIGTERM and, after a grace period,
// SIGKILL. A daemon runs for the whole test, which cmdrun's
// run-to-completion model does not fit, so os/exec is used directly.
//
// A Process is only ever signalled through its own os.Process, so it
// never signals a PID that has been reused by another program.
package proc

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// ErrKilled is wrapped by Stop's error when the process ignored SIGTERM
// for the grace period and was killed.
var ErrKilled = errors.New("ignored SIGTERM; killed")

// Process is one run of a daemon. Its methods may be called concurrently.
type Process struct {
	cmd      *exec.Cmd
	exited   chan struct{} // closed when cmd.Wait returned
	stopOnce sync.Once
	stopErr  error
}

// Start starts path with args, its standard output and error going to
// out. When out is an *os.File the process writes to it directly, and the
// caller may close its own copy once Start returns. The process is not
// tied to any context: it runs until it exits or Stop ends it.
func Start(out io.Writer, path string, args ...string) (*Process, error) {
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// PID returns the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited is closed once the process has exited and been reaped.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// State returns how the process exited, or nil while it runs.
func (p *Process) State() *os.ProcessState {
	select {
	case <-p.exited:
		return p.cmd.ProcessState
	default:
		return nil
	}
}

// Stop sends SIGTERM and waits for the process to exit; after grace it
// sends SIGKILL, waits, and returns an error wrapping [ErrKilled]. A
// process that had already exited is not signalled. Stop is idempotent:
// later calls return the first call's result.
func (p *Process) Stop(grace time.Duration) error {
	p.stopOnce.Do(func() {
		select {
		case <-p.exited:
			return
		default:
		}
		pid := p.PID()
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			p.stopErr = fmt.Errorf("SIGTERM pid %d: %w", pid, err)
			return
		}
		timer := time.NewTimer(grace)
		defer timer.Stop()
		select {
		case <-p.exited:
		case <-timer.C:
			p.cmd.Process.Kill()
			<-p.exited
			p.stopErr = fmt.Errorf("pid %d: %w after %v", pid, ErrKilled, grace)
		}
	})
	return p.stopErr
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Another process may take it before the daemon binds it: callers retry
// with a new port when the daemon reports the address in use.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
