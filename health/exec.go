package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/understudy-ha/understudy/cmdrun"
)

// DefaultExecTimeout bounds an exec check when ExecConfig.Timeout is
// zero.
const DefaultExecTimeout = 10 * time.Second

// maxExecOutput is how much of a failed command's output goes into the
// error.
const maxExecOutput = 512

// ExecConfig configures an [Exec] check. The zero value of each field
// means its documented default.
type ExecConfig struct {
	// Command is the argv to run (required), never a shell line.
	// Command[0] is resolved with exec.LookPath by NewExec.
	Command []string
	// Env is added to the daemon's environment for the command.
	Env []string
	// Timeout bounds the command; when it expires the command gets
	// SIGTERM, then SIGKILL (default DefaultExecTimeout).
	Timeout time.Duration
	// Runner runs the command (default: cmdrun.Exec).
	Runner cmdrun.Runner
}

// Validate reports whether the configuration can be used.
func (c ExecConfig) Validate() error {
	if len(c.Command) == 0 || c.Command[0] == "" {
		return errors.New("health: exec: no command")
	}
	if c.Timeout < 0 {
		return fmt.Errorf("health: exec timeout %v is negative", c.Timeout)
	}
	return nil
}

// Exec is keepalived's track_script: it runs a command, and exit status
// 0 means healthy. Safe for concurrent use (each check runs its own
// process).
type Exec struct {
	cfg    ExecConfig
	cmd    cmdrun.Cmd
	runner cmdrun.Runner
	target string
}

var _ Checker = (*Exec)(nil)

// ExitError is the cause of a failed [Exec] check when the command ran
// and exited non-zero. It unwraps to the runner's error (for the real
// runner a *cmdrun.Error wrapping *exec.ExitError).
type ExitError struct {
	// ExitCode is the command's exit status.
	ExitCode int
	// Output is the start of what the command printed, stdout then
	// stderr, at most 512 bytes.
	Output string
	// Err is the runner's error, nil when the runner reported the exit
	// code without one.
	Err error
}

// Error formats the exit code and output.
func (e *ExitError) Error() string {
	if e.Output == "" {
		return fmt.Sprintf("exit code %d", e.ExitCode)
	}
	return fmt.Sprintf("exit code %d: %s", e.ExitCode, e.Output)
}

// Unwrap returns the runner's error.
func (e *ExitError) Unwrap() error { return e.Err }

// NewExec validates cfg, resolves Command[0] and returns the check.
func NewExec(cfg ExecConfig) (*Exec, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	path, err := exec.LookPath(cfg.Command[0])
	if err != nil {
		return nil, fmt.Errorf("health: exec: %w", err)
	}
	e := &Exec{
		cfg:    cfg,
		cmd:    cmdrun.Cmd{Path: path, Args: cfg.Command[1:], Env: cfg.Env},
		runner: cfg.Runner,
	}
	if e.runner == nil {
		e.runner = cmdrun.Exec{}
	}
	e.target = e.cmd.String()
	return e, nil
}

// Check runs the command. It returns nil on exit status 0 and a *[Error]
// otherwise, whose cause is an *[ExitError] for a non-zero exit or wraps
// context.DeadlineExceeded when the command outlived its timeout.
func (e *Exec) Check(ctx context.Context) error {
	ctx, cancel := withTimeout(ctx, e.cfg.Timeout, DefaultExecTimeout)
	defer cancel()
	res, err := e.runner.Run(ctx, e.cmd)
	switch {
	case err == nil && res.ExitCode == 0:
		return nil
	case ctx.Err() != nil:
		if err == nil {
			err = ctx.Err()
		} else if !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w: %w", ctx.Err(), err)
		}
	case res.ExitCode > 0:
		err = &ExitError{ExitCode: res.ExitCode, Output: output(res), Err: err}
	}
	return &Error{Kind: "exec", Target: e.target, Err: err}
}

// output joins stdout and stderr, trimmed and bounded.
func output(res cmdrun.Result) string {
	out := bytes.TrimSpace(res.Stdout)
	if errOut := bytes.TrimSpace(res.Stderr); len(errOut) > 0 {
		if len(out) > 0 {
			out = append(append(bytes.Clone(out), '\n'), errOut...)
		} else {
			out = errOut
		}
	}
	s := string(clip(out, maxExecOutput))
	if len(out) > maxExecOutput {
		s += "…"
	}
	return strings.ToValidUTF8(s, "?")
}
