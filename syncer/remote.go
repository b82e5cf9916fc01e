package syncer

import (
	"context"
	"errors"
	"fmt"

	"github.com/understudy-ha/understudy/cmdrun"
)

// ErrStep marks the failure of a step run after a successful sync.
var ErrStep = errors.New("syncer: step after sync failed")

// Step is work done after a successful sync, like the article's
// deletion on the peer of the mail it just pulled.
type Step interface {
	Run(ctx context.Context) error
}

// Then returns a Syncer that runs s and then, only if s succeeded, each
// step in order, stopping at the first failure. A failed step is an
// error wrapping ErrStep, returned with s's Report.
func Then(s Syncer, steps ...Step) Syncer { return then{s: s, steps: steps} }

type then struct {
	s     Syncer
	steps []Step
}

func (t then) Sync(ctx context.Context) (Report, error) {
	rep, err := t.s.Sync(ctx)
	if err != nil {
		return rep, err
	}
	for i, st := range t.steps {
		if err := st.Run(ctx); err != nil {
			return rep, fmt.Errorf("%w (step %d): %w", ErrStep, i+1, err)
		}
	}
	return rep, nil
}

// RemoteCommand runs a command on the peer over ssh. Argv is quoted for
// the remote shell argument by argument ([QuoteRemote]), so values are
// never expanded there.
type RemoteCommand struct {
	SSH  SSH
	Argv []string
	// Runner runs ssh (nil: the real one).
	Runner cmdrun.Runner
}

// Run runs the command; a non-zero exit is an *ExitError of tool "ssh"
// (ErrSSH when ssh itself failed, exit 255).
func (c RemoteCommand) Run(ctx context.Context) error {
	if err := c.SSH.Validate(); err != nil {
		return err
	}
	if len(c.Argv) == 0 {
		return errors.New("syncer: remote command: empty argv")
	}
	argv := c.SSH.Command(c.Argv...)
	res, err := runnerOr(c.Runner).Run(ctx, cmdrun.Cmd{Path: argv[0], Args: argv[1:]})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("syncer: on %s: %w", c.SSH.Host, err)
		}
		return fmt.Errorf("syncer: on %s: %w", c.SSH.Host, sshExit(exitCode(res, err), string(res.Stderr), err))
	}
	return nil
}
