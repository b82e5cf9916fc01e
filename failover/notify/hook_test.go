package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/failover/notify"
)

var switchFailed = failover.Event{
	Time:    time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
	Kind:    failover.EventSwitchFailed,
	Node:    "standby",
	From:    "primary",
	To:      "standby",
	Fails:   2,
	Err:     "rndc reload: exit 1\nzone test.ru/IN: not loaded; $(rm -rf /)",
	Message: "switch to standby failed; it will be retried; `id`",
}

// writeScript writes an executable shell script into dir. The script is
// the program the hook runs; the hook itself never involves a shell.
func writeScript(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "hook.sh")
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755))
	return p
}

func TestHookRunsWithEnvAndStdin(t *testing.T) {
	dir := t.TempDir()
	envFile, stdinFile, argsFile := filepath.Join(dir, "env"), filepath.Join(dir, "stdin"), filepath.Join(dir, "args")
	script := writeScript(t, dir, `env -0 > "$1"; cat > "$2"; printf '%s\n' "$@" > "$3"`)
	// A stale value in the arbiter's own environment must not show through.
	t.Setenv("UNDERSTUDY_CHECK", "stale")

	h, err := notify.NewHook(notify.HookConfig{Command: []string{script, envFile, stdinFile, argsFile}})
	require.NoError(t, err)
	require.NoError(t, h.Notify(t.Context(), switchFailed))

	raw, err := os.ReadFile(envFile)
	require.NoError(t, err)
	env := map[string]string{}
	for kv := range strings.SplitSeq(strings.TrimSuffix(string(raw), "\x00"), "\x00") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	want := map[string]string{
		"UNDERSTUDY_EVENT":   "switch_failed",
		"UNDERSTUDY_NODE":    "standby",
		"UNDERSTUDY_CHECK":   "",
		"UNDERSTUDY_FROM":    "primary",
		"UNDERSTUDY_TO":      "standby",
		"UNDERSTUDY_FAILS":   "2",
		"UNDERSTUDY_ERROR":   switchFailed.Err,
		"UNDERSTUDY_MESSAGE": switchFailed.Message,
		"UNDERSTUDY_TIME":    "2025-03-04T05:06:07Z",
	}
	for k, v := range want {
		got, ok := env[k]
		assert.True(t, ok, "%s is set", k)
		assert.Equal(t, v, got, k)
	}
	assert.Equal(t, os.Getenv("PATH"), env["PATH"], "the arbiter's environment is inherited")

	stdin, err := os.ReadFile(stdinFile)
	require.NoError(t, err)
	var back failover.Event
	require.NoError(t, json.Unmarshal(stdin, &back))
	assert.Equal(t, switchFailed, back)

	args, err := os.ReadFile(argsFile)
	require.NoError(t, err)
	assert.Equal(t, envFile+"\n"+stdinFile+"\n"+argsFile+"\n", string(args), "argv is the configured one, nothing added")
}

func TestHookArgvFixed(t *testing.T) {
	rec := &cmdrun.Recorder{}
	h, err := notify.NewHook(notify.HookConfig{
		Command: []string{"env", "--", "logger", "-t", "understudy"},
		Runner:  rec,
	})
	require.NoError(t, err)
	envPath, err := exec.LookPath("env")
	require.NoError(t, err)

	require.NoError(t, h.Notify(t.Context(), switchFailed))
	require.NoError(t, h.Notify(t.Context(), checkDown))

	require.Len(t, rec.Cmds, 2)
	want := []string{envPath, "--", "logger", "-t", "understudy"}
	assert.Equal(t, [][]string{want, want}, rec.Argvs(), "the same argv for every event")
	for _, c := range rec.Cmds {
		for _, a := range c.Args {
			for _, v := range []string{"switch_failed", "standby", "primary", "rndc", "check_down"} {
				assert.NotContains(t, a, v, "event values stay out of argv")
			}
		}
	}
	assert.Equal(t, notify.HookEnv(switchFailed), rec.Cmds[0].Env)
	assert.Contains(t, rec.Cmds[1].Env, "UNDERSTUDY_CHECK=primary/http")
	assert.Contains(t, rec.Cmds[1].Env, "UNDERSTUDY_FAILS=3")
	js, err := io.ReadAll(rec.Cmds[1].Stdin)
	require.NoError(t, err)
	var back failover.Event
	require.NoError(t, json.Unmarshal(js, &back))
	assert.Equal(t, checkDown, back)
}

func TestHookEnv(t *testing.T) {
	env := notify.HookEnv(failover.Event{Kind: failover.EventIsolated, Message: "a\x00b"})
	assert.Equal(t, []string{
		"UNDERSTUDY_EVENT=isolated",
		"UNDERSTUDY_NODE=",
		"UNDERSTUDY_CHECK=",
		"UNDERSTUDY_FROM=",
		"UNDERSTUDY_TO=",
		"UNDERSTUDY_FAILS=0",
		"UNDERSTUDY_ERROR=",
		"UNDERSTUDY_MESSAGE=ab",
		"UNDERSTUDY_TIME=",
	}, env)
}

func TestHookFailures(t *testing.T) {
	t.Run("non-zero exit", func(t *testing.T) {
		script := writeScript(t, t.TempDir(), `echo "relay refused: $UNDERSTUDY_EVENT" >&2; exit 3`)
		h, err := notify.NewHook(notify.HookConfig{Command: []string{script}})
		require.NoError(t, err)
		err = h.Notify(t.Context(), switchFailed)
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, 3, ee.ExitCode())
		var ce *cmdrun.Error
		require.ErrorAs(t, err, &ce)
		assert.Contains(t, err.Error(), "relay refused: switch_failed")
		assert.Contains(t, err.Error(), script)
	})
	t.Run("a program that ignores stdin is fine", func(t *testing.T) {
		h, err := notify.NewHook(notify.HookConfig{Command: []string{"true"}})
		require.NoError(t, err)
		require.NoError(t, h.Notify(t.Context(), switchFailed))
	})
	t.Run("timeout", func(t *testing.T) {
		dir := t.TempDir()
		started := filepath.Join(dir, "started")
		// exec replaces the shell, so SIGTERM reaches sleep itself.
		script := writeScript(t, dir, `: > "$1"; exec sleep 60`)
		h, err := notify.NewHook(notify.HookConfig{Command: []string{script, started}, Timeout: 100 * time.Millisecond})
		require.NoError(t, err)
		err = h.Notify(t.Context(), switchFailed)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		_, statErr := os.Stat(started)
		assert.NoError(t, statErr, "the program did start")
	})
	t.Run("command not found", func(t *testing.T) {
		_, err := notify.NewHook(notify.HookConfig{Command: []string{"understudy-no-such-hook"}})
		require.ErrorIs(t, err, exec.ErrNotFound)
	})
	t.Run("no command", func(t *testing.T) {
		_, err := notify.NewHook(notify.HookConfig{})
		require.Error(t, err)
		require.Error(t, notify.HookConfig{Command: []string{""}}.Validate())
	})
	t.Run("runner error is wrapped", func(t *testing.T) {
		boom := errors.New("boom")
		rec := &cmdrun.Recorder{Respond: func(cmdrun.Cmd) (cmdrun.Result, error) { return cmdrun.Result{}, boom }}
		h, err := notify.NewHook(notify.HookConfig{Command: []string{"true"}, Runner: rec})
		require.NoError(t, err)
		require.ErrorIs(t, h.Notify(t.Context(), switchFailed), boom)
	})
}

func TestHookCommandIsCopied(t *testing.T) {
	rec := &cmdrun.Recorder{}
	cmd := []string{"true", "a"}
	h, err := notify.NewHook(notify.HookConfig{Command: cmd, Runner: rec})
	require.NoError(t, err)
	cmd[1] = "changed"
	require.NoError(t, h.Notify(t.Context(), switchFailed))
	assert.True(t, slices.Equal([]string{"a"}, rec.Cmds[0].Args))
}
