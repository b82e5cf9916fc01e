package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"time"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/failover"
)

// execSwitcher runs a program to point traffic at a node. The node is
// passed in the environment (UNDERSTUDY_NODE, UNDERSTUDY_ADDRESS,
// UNDERSTUDY_ADDRESS6), never in argv, and the program must be
// idempotent like every Switcher. Exit 0 means done.
type execSwitcher struct {
	path string
	args []string
	run  cmdrun.Runner
}

var _ failover.Switcher = (*execSwitcher)(nil)

// newExecSwitcher resolves argv[0] in PATH now, so that a typo shows at
// start-up rather than at the first failover.
func newExecSwitcher(argv []string, runner cmdrun.Runner) (*execSwitcher, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("no command")
	}
	path := argv[0]
	if runner == nil {
		p, err := exec.LookPath(path)
		if err != nil {
			return nil, err
		}
		path, runner = p, cmdrun.Exec{}
	}
	return &execSwitcher{path: path, args: argv[1:], run: runner}, nil
}

// Switch runs the program for node to.
func (s *execSwitcher) Switch(ctx context.Context, to failover.Node) error {
	addr6 := ""
	if to.Address6.IsValid() {
		addr6 = to.Address6.String()
	}
	c := cmdrun.Cmd{Path: s.path, Args: s.args, Env: []string{
		"UNDERSTUDY_NODE=" + to.Name,
		"UNDERSTUDY_ADDRESS=" + to.Address.String(),
		"UNDERSTUDY_ADDRESS6=" + addr6,
	}}
	if _, err := s.run.Run(ctx, c); err != nil {
		return fmt.Errorf("exec switcher to %s: %w", to.Name, err)
	}
	return nil
}

// timeoutSwitcher bounds each call of a switcher whose configured timeout
// is shorter than the arbiter's.
type timeoutSwitcher struct {
	failover.Switcher
	timeout time.Duration
}

// withTimeout bounds every Switch of sw by d, keeping sw's optional
// failover.Currenter (the arbiter reads where traffic points through it).
func withTimeout(sw failover.Switcher, d time.Duration) failover.Switcher {
	t := timeoutSwitcher{sw, d}
	if c, ok := sw.(failover.Currenter); ok {
		return timeoutCurrenter{t, c}
	}
	return t
}

// timeoutCurrenter is a timeoutSwitcher whose switcher can also tell
// where traffic points.
type timeoutCurrenter struct {
	timeoutSwitcher
	c failover.Currenter
}

// Current asks the wrapped switcher.
func (t timeoutCurrenter) Current(ctx context.Context) ([]netip.Addr, error) { return t.c.Current(ctx) }

// Switch calls the wrapped switcher with the shorter deadline.
func (t timeoutSwitcher) Switch(ctx context.Context, to failover.Node) error {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	return t.Switcher.Switch(ctx, to)
}
