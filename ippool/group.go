package ippool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/understudy-ha/understudy/failover"
)

// Step is one resource of a [Group]: Takeover brings it up on this node,
// Release gives it up. Both must be idempotent, because a group is
// retried and resumed after crashes. A Step is used by one group at a
// time; its methods are not called concurrently.
type Step interface {
	Takeover(ctx context.Context) error
	Release(ctx context.Context) error
}

// StepFuncs adapts two functions to [Step]; a nil function does nothing.
type StepFuncs struct {
	TakeoverFunc func(ctx context.Context) error
	ReleaseFunc  func(ctx context.Context) error
}

// Takeover calls TakeoverFunc.
func (s StepFuncs) Takeover(ctx context.Context) error {
	if s.TakeoverFunc == nil {
		return nil
	}
	return s.TakeoverFunc(ctx)
}

// Release calls ReleaseFunc.
func (s StepFuncs) Release(ctx context.Context) error {
	if s.ReleaseFunc == nil {
		return nil
	}
	return s.ReleaseFunc(ctx)
}

// SwitcherStep turns a node-local failover.Switcher (a DRBD promoter, a
// VIP) into a Step: Takeover is Switch(ctx, self) and Release is
// Switch(ctx, failover.Node{}), the zero Node, which such a switcher
// reads as "not this node: give it up here".
func SwitcherStep(sw failover.Switcher, self failover.Node) Step {
	return StepFuncs{
		TakeoverFunc: func(ctx context.Context) error { return sw.Switch(ctx, self) },
		ReleaseFunc:  func(ctx context.Context) error { return sw.Switch(ctx, failover.Node{}) },
	}
}

// GroupStep is a named Step.
type GroupStep struct {
	// Name appears in logs and errors ("IPaddr", "drbddisk::repl").
	Name string
	Step Step
}

// GroupConfig configures a resource group.
type GroupConfig struct {
	// Name names the group in logs and errors (default "group").
	Name string
	// Self is the node this process runs on (required): a switch to Self
	// takes the group over, a switch to another node releases it.
	Self string
	// Steps are taken over in order and released in reverse order.
	Steps []GroupStep
	// Logger receives each step at Info (nil: discard).
	Logger *slog.Logger
	// OnStep, when set, is called after each step with its name, the
	// operation ("takeover", "release", "rollback") and its error.
	OnStep func(step, op string, err error)
}

// Group is a Heartbeat resource group (haresources): resources taken over
// together, in order, by the node that becomes active, and released in
// reverse order by the others. A takeover that fails at a step releases
// the steps already taken over, in reverse order, and returns a
// *StepError (errors.Is ErrStepFailed); the arbiter retries the switch.
// A release stops at the first step that fails to release (do not demote
// DRBD under a file system that would not unmount) and returns a
// *StepError too. A Group is a failover.Switcher and a Step, so groups
// nest. Calls must not be made concurrently.
type Group struct {
	cfg GroupConfig
	log *slog.Logger
}

var (
	_ failover.Switcher = (*Group)(nil)
	_ Step              = (*Group)(nil)
)

// NewGroup returns a Group after checking cfg.
func NewGroup(cfg GroupConfig) (*Group, error) {
	if cfg.Name == "" {
		cfg.Name = "group"
	}
	if cfg.Self == "" {
		return nil, fmt.Errorf("ippool: group %s: self (this node's name) is required", cfg.Name)
	}
	for i, s := range cfg.Steps {
		if s.Step == nil {
			return nil, fmt.Errorf("ippool: group %s: step %d (%q) is nil", cfg.Name, i, s.Name)
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Group{cfg: cfg, log: log.With("group", cfg.Name)}, nil
}

// StepError says which step of which group failed, and what the rollback
// that followed a failed takeover gave.
type StepError struct {
	Group string
	Step  string
	// Op is "takeover" or "release".
	Op  string
	Err error
	// RollbackErr joins the errors of steps that failed to release during
	// the rollback (nil when it went cleanly or there was none).
	RollbackErr error
}

func (e *StepError) Error() string {
	msg := fmt.Sprintf("ippool: group %s: %s of %s: %v", e.Group, e.Op, e.Step, e.Err)
	if e.RollbackErr != nil {
		msg += fmt.Sprintf(" (rollback incomplete: %v)", e.RollbackErr)
	}
	return msg
}

// Unwrap returns the step's error.
func (e *StepError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrStepFailed) true.
func (e *StepError) Is(target error) bool { return target == ErrStepFailed }

// Switch takes the group over when to is this node, and releases it
// otherwise.
func (g *Group) Switch(ctx context.Context, to failover.Node) error {
	if to.Name == g.cfg.Self {
		return g.Takeover(ctx)
	}
	return g.Release(ctx)
}

// Takeover runs every step's Takeover in order; on a failure it releases
// the steps done so far in reverse order.
func (g *Group) Takeover(ctx context.Context) error {
	for i, s := range g.cfg.Steps {
		err := s.Step.Takeover(ctx)
		g.report(s.Name, "takeover", err)
		if err == nil {
			continue
		}
		var rb []error
		for j := i - 1; j >= 0; j-- {
			r := g.cfg.Steps[j]
			// The rollback runs even if ctx has ended: a half-taken-over
			// group is worse than a late release.
			rerr := r.Step.Release(context.WithoutCancel(ctx))
			g.report(r.Name, "rollback", rerr)
			if rerr != nil {
				rb = append(rb, fmt.Errorf("%s: %w", r.Name, rerr))
			}
		}
		return &StepError{Group: g.cfg.Name, Step: s.Name, Op: "takeover", Err: err, RollbackErr: errors.Join(rb...)}
	}
	return nil
}

// Release runs every step's Release in reverse order, stopping at the
// first failure.
func (g *Group) Release(ctx context.Context) error {
	for i := len(g.cfg.Steps) - 1; i >= 0; i-- {
		s := g.cfg.Steps[i]
		err := s.Step.Release(ctx)
		g.report(s.Name, "release", err)
		if err != nil {
			return &StepError{Group: g.cfg.Name, Step: s.Name, Op: "release", Err: err}
		}
	}
	return nil
}

func (g *Group) report(step, op string, err error) {
	// Failures are not logged here: they are in the returned *StepError.
	if err == nil {
		g.log.Info("step done", "step", step, "op", op)
	}
	if g.cfg.OnStep != nil {
		g.cfg.OnStep(step, op, err)
	}
}
