package syncer

import (
	"errors"
	"log/slog"
	"os/exec"
	"sync"

	"github.com/understudy-ha/understudy/cmdrun"
)

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
		return cmdrun.Exec{}
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
