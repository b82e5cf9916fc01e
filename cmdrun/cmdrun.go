// Package cmdrun runs external programs the one way Understudy allows:
// from argv, never through a shell, with a context, a polite stop and a
// bounded capture of what the program printed.
package cmdrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Cmd is one command to run.
type Cmd struct {
	// Path is the program; Args its arguments (without argv[0]).
	Path string
	Args []string
	// Env is appended to the environment of this process when non-nil.
	Env []string
	// Dir is the working directory ("" means the current one).
	Dir string
	// Stdin, when non-nil, is fed to the program.
	Stdin io.Reader
	// Stdout and Stderr, when non-nil, also receive what the program
	// writes there, as it writes it (progress lines). Result.Stdout and
	// Result.Stderr still hold the bounded capture, and the error still
	// carries the captured stderr. A write error of one of these writers
	// ends the copy and is returned as the command's error. They are
	// called from other goroutines than Run's caller, one write at a time
	// each.
	Stdout io.Writer
	Stderr io.Writer
}

// String renders the command for messages. Arguments are quoted with %q
// when they contain spaces or quotes so the message is unambiguous.
func (c Cmd) String() string {
	parts := []string{c.Path}
	for _, a := range c.Args {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\") {
			a = fmt.Sprintf("%q", a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// Result is what a finished command produced.
type Result struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
}

// Runner runs commands. Implementations must be safe for concurrent use.
type Runner interface {
	Run(ctx context.Context, c Cmd) (Result, error)
}

// MaxOutput is how much of each of stdout and stderr is kept.
const MaxOutput = 64 << 10

// WaitDelay is how long a command may take to exit after SIGTERM before
// it is killed.
const WaitDelay = 2 * time.Second

// Exec is the real Runner. The zero value is ready to use.
type Exec struct{}

// Error is returned when a command could not start or exited non-zero. It
// unwraps to the underlying error (*exec.ExitError for a non-zero exit).
type Error struct {
	Cmd      string
	ExitCode int
	Stderr   string
	Err      error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s: %v", e.Cmd, e.Err)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Run starts c and waits for it. On ctx's end the program gets SIGTERM,
// then SIGKILL after WaitDelay. A non-zero exit is an *Error with the
// exit code and the (bounded) stderr; the Result is filled either way.
func (Exec) Run(ctx context.Context, c Cmd) (Result, error) {
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = WaitDelay
	cmd.Dir = c.Dir
	if c.Env != nil {
		cmd.Env = append(cmd.Environ(), c.Env...)
	}
	cmd.Stdin = c.Stdin
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = MaxOutput, MaxOutput
	cmd.Stdout, cmd.Stderr = tee(&stdout, c.Stdout), tee(&stderr, c.Stderr)
	err := cmd.Run()
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: cmd.ProcessState.ExitCode()}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%w)", ctxErr, err)
		}
		return res, &Error{Cmd: c.String(), ExitCode: res.ExitCode, Stderr: string(res.Stderr), Err: err}
	}
	return res, nil
}

// tee adds the caller's writer, if any, to the capture.
func tee(capture, w io.Writer) io.Writer {
	if w == nil {
		return capture
	}
	return io.MultiWriter(capture, w)
}

// limitedBuffer keeps the first max bytes written and drops the rest.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

func (b *limitedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// Recorder is a Runner for tests: it records every command and answers
// with Respond (or an empty success when Respond is nil). The answer's
// Stdout and Stderr are also written to the command's Stdout and Stderr
// writers, when set, as a program's output would be.
type Recorder struct {
	mu      sync.Mutex
	Cmds    []Cmd
	Respond func(c Cmd) (Result, error)
}

// Run records c and returns Respond's answer.
func (r *Recorder) Run(ctx context.Context, c Cmd) (Result, error) {
	r.mu.Lock()
	r.Cmds = append(r.Cmds, c)
	respond := r.Respond
	r.mu.Unlock()
	if respond == nil {
		return Result{}, nil
	}
	res, err := respond(c)
	for _, out := range []struct {
		w io.Writer
		b []byte
	}{{c.Stdout, res.Stdout}, {c.Stderr, res.Stderr}} {
		if out.w != nil && len(out.b) > 0 {
			if _, werr := out.w.Write(out.b); werr != nil && err == nil {
				err = &Error{Cmd: c.String(), ExitCode: res.ExitCode, Stderr: string(res.Stderr), Err: werr}
			}
		}
	}
	return res, err
}

// Argvs returns the recorded commands as argv slices (path first).
func (r *Recorder) Argvs() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([][]string, len(r.Cmds))
	for i, c := range r.Cmds {
		out[i] = append([]string{c.Path}, c.Args...)
	}
	return out
}

// sbinDirs are searched after $PATH: daemons and their control programs
// (named, rndc, sshd, mariadbd) live in sbin, which an ordinary user's
// PATH often lacks.
var sbinDirs = []string{"/usr/sbin", "/sbin", "/usr/local/sbin"}

// LookPath finds program name in $PATH, then in /usr/sbin, /sbin and
// /usr/local/sbin. When it is nowhere, the error is exec.LookPath's.
func LookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range sbinDirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return exec.LookPath(name) // for its error
}
