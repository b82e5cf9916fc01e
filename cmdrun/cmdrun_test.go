package cmdrun_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/cmdrun"
)

// lockedBuffer is a bytes.Buffer safe for the copying goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestExecCapture(t *testing.T) {
	tests := []struct {
		name       string
		cmd        cmdrun.Cmd
		stdout     string
		wantStdout int // bytes written to the Stdout writer
		capture    int // len(Result.Stdout)
		stderr     string
		exit       int
	}{
		{"stdout captured and streamed", cmdrun.Cmd{Path: "printf", Args: []string{"a\nb\n"}}, "a\nb\n", 4, 4, "", 0},
		{"capture bounded, stream whole", cmdrun.Cmd{Path: "head", Args: []string{"-c", "100000", "/dev/zero"}}, "", 100000, cmdrun.MaxOutput, "", 0},
		{"stderr streamed and in the error", cmdrun.Cmd{Path: "ls", Args: []string{"--", "/nonexistent-understudy"}}, "", 0, 0, "nonexistent-understudy", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errw lockedBuffer
			c := tt.cmd
			c.Stdout, c.Stderr = &out, &errw
			res, err := cmdrun.Exec{}.Run(t.Context(), c)
			assert.Len(t, out.String(), tt.wantStdout)
			assert.Len(t, res.Stdout, tt.capture)
			if tt.stdout != "" {
				assert.Equal(t, tt.stdout, out.String())
				assert.Equal(t, tt.stdout, string(res.Stdout))
			}
			assert.Equal(t, tt.exit, res.ExitCode)
			if tt.exit == 0 {
				require.NoError(t, err)
				return
			}
			var ce *cmdrun.Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.exit, ce.ExitCode)
			assert.Contains(t, ce.Stderr, tt.stderr, "the error keeps the capture")
			assert.Contains(t, errw.String(), tt.stderr, "the writer got it too")
			assert.Equal(t, string(res.Stderr), errw.String())
			var ee *exec.ExitError
			assert.ErrorAs(t, err, &ee)
		})
	}
}

// TestExecStreams: the writer sees a line while the program still runs.
func TestExecStreams(t *testing.T) {
	pr, pw := io.Pipe()
	lines := make(chan string, 1)
	outR, outW := io.Pipe()
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	done := make(chan error, 1)
	go func() {
		_, err := cmdrun.Exec{}.Run(context.Background(), cmdrun.Cmd{Path: "cat", Stdin: pr, Stdout: outW})
		outW.Close()
		done <- err
	}()
	_, err := pw.Write([]byte("first\n"))
	require.NoError(t, err)
	select {
	case l := <-lines:
		assert.Equal(t, "first", l)
	case <-time.After(10 * time.Second):
		t.Fatal("the line did not arrive while cat was running")
	}
	select {
	case err := <-done:
		t.Fatalf("cat ended before its input did: %v", err)
	default:
	}
	require.NoError(t, pw.Close())
	require.NoError(t, <-done)
}

var errWrite = errors.New("writer broke")

type brokenWriter struct{}

func (brokenWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestExecWriterError(t *testing.T) {
	_, err := cmdrun.Exec{}.Run(t.Context(), cmdrun.Cmd{Path: "printf", Args: []string{"hello"}, Stdout: brokenWriter{}})
	assert.ErrorIs(t, err, errWrite)
}

func TestRecorderWritesOutput(t *testing.T) {
	r := &cmdrun.Recorder{Respond: func(c cmdrun.Cmd) (cmdrun.Result, error) {
		return cmdrun.Result{Stdout: []byte("out"), Stderr: []byte("err")}, nil
	}}
	var out, errw strings.Builder
	res, err := r.Run(t.Context(), cmdrun.Cmd{Path: "rsync", Args: []string{"-a"}, Stdout: &out, Stderr: &errw})
	require.NoError(t, err)
	assert.Equal(t, "out", out.String())
	assert.Equal(t, "err", errw.String())
	assert.Equal(t, "out", string(res.Stdout))
	assert.Equal(t, [][]string{{"rsync", "-a"}}, r.Argvs())

	_, err = r.Run(t.Context(), cmdrun.Cmd{Path: "rsync", Stdout: brokenWriter{}})
	assert.ErrorIs(t, err, errWrite)
}
