package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/failover"
)

// DefaultHookTimeout bounds one hook run when HookConfig.Timeout is zero.
const DefaultHookTimeout = 30 * time.Second

// HookConfig configures a [Hook]. The zero value of each field means its
// default.
type HookConfig struct {
	// Command is the argv of the program to run, fixed at construction:
	// event values are never added to it. Command[0] is looked up in PATH
	// (exec.LookPath) by NewHook. Required.
	Command []string
	// Timeout bounds one run (default 30s); at its end the program gets
	// SIGTERM, then SIGKILL.
	Timeout time.Duration
	// Runner runs the program (default cmdrun.Exec{}).
	Runner cmdrun.Runner
	// Logger receives a Debug line per run (default: discard).
	Logger *slog.Logger
}

// Hook runs a program for each event, the way the articles' scripts
// called mutt: no shell, the event in the environment and on stdin. The
// program inherits the arbiter's environment plus:
//
//	UNDERSTUDY_EVENT    the kind (node_down, switch_done, …)
//	UNDERSTUDY_NODE     the node concerned
//	UNDERSTUDY_CHECK    the check concerned
//	UNDERSTUDY_FROM     the node a switch moves away from
//	UNDERSTUDY_TO       the node a switch moves to
//	UNDERSTUDY_FAILS    consecutive failures ("0" when not relevant)
//	UNDERSTUDY_ERROR    the last error text (may span lines)
//	UNDERSTUDY_MESSAGE  the one-line description
//	UNDERSTUDY_TIME     the event's time, RFC 3339 (empty if unset)
//
// Every variable is set, empty when the event has no such value, so a
// stale value from the arbiter's own environment never shows through.
// NUL bytes, which an environment cannot hold, are dropped. Stdin carries
// the event as one JSON object (the [failover.Event] encoding) and is
// closed after it; a program that does not read it is fine.
//
// A run that exits non-zero is an error carrying the exit code and the
// start of stderr (a *cmdrun.Error). Hook is safe for concurrent use if
// its Runner is.
type Hook struct {
	path    string
	args    []string
	timeout time.Duration
	run     cmdrun.Runner
	log     *slog.Logger
}

var _ failover.Notifier = (*Hook)(nil)

// Validate reports what is wrong with c, including a Command[0] that
// cannot be found.
func (c HookConfig) Validate() error {
	_, err := c.resolve()
	return err
}

// NewHook checks cfg, resolves Command[0] and returns a Hook.
func NewHook(cfg HookConfig) (*Hook, error) {
	return cfg.resolve()
}

func (c HookConfig) resolve() (*Hook, error) {
	if len(c.Command) == 0 || c.Command[0] == "" {
		return nil, errors.New("notify: hook config: no command")
	}
	path, err := exec.LookPath(c.Command[0])
	if err != nil {
		return nil, fmt.Errorf("notify: hook config: %w", err)
	}
	if c.Timeout < 0 {
		return nil, fmt.Errorf("notify: hook config: negative timeout %s", c.Timeout)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultHookTimeout
	}
	if c.Runner == nil {
		c.Runner = cmdrun.Exec{}
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hook{path: path, args: slices.Clone(c.Command[1:]), timeout: c.Timeout, run: c.Runner, log: log}, nil
}

// Notify runs the hook for e and waits for it to exit.
func (h *Hook) Notify(ctx context.Context, e failover.Event) error {
	js, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("notify: hook %s: encode event: %w", h.path, err)
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	cmd := cmdrun.Cmd{
		Path:  h.path,
		Args:  slices.Clone(h.args),
		Env:   HookEnv(e),
		Stdin: bytes.NewReader(append(js, '\n')),
	}
	if _, err := h.run.Run(ctx, cmd); err != nil {
		// cmdrun's error names the command and carries stderr.
		return fmt.Errorf("notify: hook: %w", err)
	}
	h.log.DebugContext(ctx, "hook ran", "kind", string(e.Kind), "command", h.path)
	return nil
}

// HookEnv returns the environment entries ("NAME=value") a [Hook] adds
// for e.
func HookEnv(e failover.Event) []string {
	t := ""
	if !e.Time.IsZero() {
		t = e.Time.Format(time.RFC3339)
	}
	env := []struct{ name, value string }{
		{"UNDERSTUDY_EVENT", string(e.Kind)},
		{"UNDERSTUDY_NODE", e.Node},
		{"UNDERSTUDY_CHECK", e.Check},
		{"UNDERSTUDY_FROM", e.From},
		{"UNDERSTUDY_TO", e.To},
		{"UNDERSTUDY_FAILS", strconv.Itoa(e.Fails)},
		{"UNDERSTUDY_ERROR", e.Err},
		{"UNDERSTUDY_MESSAGE", e.Message},
		{"UNDERSTUDY_TIME", t},
	}
	out := make([]string, len(env))
	for i, v := range env {
		out[i] = v.name + "=" + strings.ReplaceAll(v.value, "\x00", "")
	}
	return out
}
