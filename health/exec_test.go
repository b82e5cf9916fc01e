package health_test

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/health"
)

func TestExecCheckReal(t *testing.T) {
	t.Run("exit 0 is healthy", func(t *testing.T) {
		c, err := health.NewExec(health.ExecConfig{Command: []string{"/bin/true"}})
		require.NoError(t, err)
		require.NoError(t, c.Check(context.Background()))
	})
	t.Run("exit 1 fails", func(t *testing.T) {
		c, err := health.NewExec(health.ExecConfig{Command: []string{"/bin/false"}})
		require.NoError(t, err)
		err = c.Check(context.Background())
		he := requireCheckError(t, err, "exec")
		assert.Equal(t, "/bin/false", he.Target)
		var ee *health.ExitError
		require.True(t, errors.As(err, &ee), "%v", err)
		assert.Equal(t, 1, ee.ExitCode)
		var xe *exec.ExitError
		assert.True(t, errors.As(err, &xe), "unwraps to *exec.ExitError: %v", err)
	})
	t.Run("output in the error", func(t *testing.T) {
		c, err := health.NewExec(health.ExecConfig{Command: []string{"ls", "/nonexistent-understudy-path"}})
		require.NoError(t, err)
		err = c.Check(context.Background())
		var ee *health.ExitError
		require.True(t, errors.As(err, &ee), "%v", err)
		assert.Equal(t, 2, ee.ExitCode)
		assert.Contains(t, ee.Output, "/nonexistent-understudy-path")
		assert.Contains(t, err.Error(), "exit code 2")
	})
	t.Run("outlives its timeout", func(t *testing.T) {
		c, err := health.NewExec(health.ExecConfig{Command: []string{"sleep", "60"}, Timeout: 50 * time.Millisecond})
		require.NoError(t, err)
		err = c.Check(context.Background())
		requireCheckError(t, err, "exec")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		var ee *health.ExitError
		assert.False(t, errors.As(err, &ee), "a killed command is a timeout, not an exit code: %v", err)
	})
	t.Run("env reaches the command", func(t *testing.T) {
		c, err := health.NewExec(health.ExecConfig{Command: []string{"printenv", "UNDERSTUDY_PROBE"}, Env: []string{"UNDERSTUDY_PROBE=on"}})
		require.NoError(t, err)
		require.NoError(t, c.Check(context.Background()), "printenv exits 1 when the variable is unset")
	})
}

func TestExecWithRecorder(t *testing.T) {
	truePath, err := exec.LookPath("true")
	require.NoError(t, err)
	rec := &cmdrun.Recorder{Respond: func(c cmdrun.Cmd) (cmdrun.Result, error) {
		if len(c.Args) > 0 && c.Args[0] == "fail" {
			return cmdrun.Result{ExitCode: 3, Stdout: []byte(strings.Repeat("o", 2000)), Stderr: []byte("boom")}, errors.New("exit status 3")
		}
		return cmdrun.Result{}, nil
	}}

	c, err := health.NewExec(health.ExecConfig{Command: []string{"true", "ok", "--", "a b"}, Env: []string{"X=1"}, Runner: rec})
	require.NoError(t, err)
	require.NoError(t, c.Check(context.Background()))
	assert.Equal(t, [][]string{{truePath, "ok", "--", "a b"}}, rec.Argvs(), "argv, Command[0] resolved by LookPath")
	assert.Equal(t, []string{"X=1"}, rec.Cmds[0].Env)

	c, err = health.NewExec(health.ExecConfig{Command: []string{"true", "fail"}, Runner: rec})
	require.NoError(t, err)
	err = c.Check(context.Background())
	var ee *health.ExitError
	require.True(t, errors.As(err, &ee), "%v", err)
	assert.Equal(t, 3, ee.ExitCode)
	assert.LessOrEqual(t, len(ee.Output), 512+len("…"), "output is bounded")
	assert.True(t, strings.HasPrefix(ee.Output, "ooo"))
}

func TestExecConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  health.ExecConfig
		want error
	}{
		{"no command", health.ExecConfig{}, nil},
		{"empty argv0", health.ExecConfig{Command: []string{""}}, nil},
		{"negative timeout", health.ExecConfig{Command: []string{"true"}, Timeout: -1}, nil},
		{"not found", health.ExecConfig{Command: []string{"no-such-program-understudy"}}, exec.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := health.NewExec(tt.cfg)
			require.Error(t, err)
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
			}
		})
	}
}
