package syncer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"sync"
	"syscall"

	"github.com/understudy-ha/understudy/internal/cmdrun"
)

// streamer is the optional capability of a cmdrun.Runner to hand stdout
// over while the program writes it (rsync's progress lines). Runners
// without it (cmdrun.Recorder) still work; progress is then not reported.
type streamer interface {
	RunStream(ctx context.Context, c cmdrun.Cmd, stdout io.Writer) (cmdrun.Result, error)
}

// execRunner is the default runner: cmdrun.Exec plus streaming.
type execRunner struct{ cmdrun.Exec }

var _ streamer = execRunner{}

// RunStream runs c like cmdrun.Exec.Run, also copying stdout to w as it
// arrives. Result.Stdout keeps the last cmdrun.MaxOutput bytes (rsync's
// statistics come last, after any amount of progress output).
func (execRunner) RunStream(ctx context.Context, c cmdrun.Cmd, w io.Writer) (cmdrun.Result, error) {
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = cmdrun.WaitDelay
	cmd.Dir = c.Dir
	if c.Env != nil {
		cmd.Env = append(cmd.Environ(), c.Env...)
	}
	cmd.Stdin = c.Stdin
	stdout := &tailBuffer{max: cmdrun.MaxOutput}
	stderr := &tailBuffer{max: cmdrun.MaxOutput}
	cmd.Stdout = io.MultiWriter(stdout, w)
	cmd.Stderr = stderr
	err := cmd.Run()
	res := cmdrun.Result{Stdout: stdout.bytes(), Stderr: stderr.bytes(), ExitCode: cmd.ProcessState.ExitCode()}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%w)", ctxErr, err)
		}
		return res, &cmdrun.Error{Cmd: c.String(), ExitCode: res.ExitCode, Stderr: string(res.Stderr), Err: err}
	}
	return res, nil
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf...)
}

func runnerOr(r cmdrun.Runner) cmdrun.Runner {
	if r == nil {
		return execRunner{}
	}
	return r
}

func loggerOr(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// exitCode extracts the exit status from a runner's error (-1 when the
// program did not run or was killed).
func exitCode(res cmdrun.Result, err error) int {
	var ce *cmdrun.Error
	if errors.As(err, &ce) {
		return ce.ExitCode
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if res.ExitCode != 0 {
		return res.ExitCode
	}
	return -1
}

// lookPath resolves name in $PATH, falling back to the bare name (the
// error then comes from the run, naming the program).
func lookPath(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}
