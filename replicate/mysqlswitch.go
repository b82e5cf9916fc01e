package replicate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/understudy-ha/understudy/failover"
)

// ErrBehind: the replica to promote has not applied what it should have;
// promotion is refused unless forced.
var ErrBehind = errors.New("replicate: replica behind, promotion refused")

// DefaultFenceTimeout bounds the attempt to fence a former primary
// (read_only, super_read_only, read back).
const DefaultFenceTimeout = 3 * time.Second

// MySQLSwitcherConfig configures a [MySQLSwitcher].
type MySQLSwitcherConfig struct {
	// Servers maps each node's name to its MySQL/MariaDB server (at least
	// the node switched to).
	Servers map[string]*MySQL
	// MaxLag is the largest lag a replica may have to be promoted
	// (default DefaultMaxLag).
	MaxLag time.Duration
	// Force promotes even a replica that is behind or broken.
	Force bool
	// FenceTimeout bounds fencing each other server and making the
	// target writable, read-back included (default DefaultFenceTimeout).
	FenceTimeout time.Duration
	// Logger receives fencing and promotion at Info (default: discarded).
	Logger *slog.Logger
}

// MySQLSwitcher is the database step of a switch, as a
// [failover.Switcher]: it refuses a target whose replica is behind by more
// than MaxLag (or has unapplied relay log while its source is gone, or
// stopped on an error) unless Force; it fences every other server it can
// reach (read_only=1, and super_read_only=1 where the server has it:
// MySQL; MariaDB has no super_read_only, so accounts with READ_ONLY ADMIN
// or SUPER can still write there), reading the variables back; then it
// makes the target writable and verifies that too. A server that cannot
// be reached is skipped, but one that answers and refuses (no privilege,
// say) or does not read back as fenced stays writable, so the switch
// stops there, before the target is made writable, unless Force. Switch
// is idempotent.
type MySQLSwitcher struct {
	cfg MySQLSwitcherConfig
	log *slog.Logger
}

var _ failover.Switcher = (*MySQLSwitcher)(nil)

// NewMySQLSwitcher validates cfg and returns the switcher.
func NewMySQLSwitcher(cfg MySQLSwitcherConfig) (*MySQLSwitcher, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("replicate: mysql switcher: no servers")
	}
	if cfg.MaxLag <= 0 {
		cfg.MaxLag = DefaultMaxLag
	}
	if cfg.FenceTimeout <= 0 {
		cfg.FenceTimeout = DefaultFenceTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &MySQLSwitcher{cfg: cfg, log: log}, nil
}

// Switch promotes to's server: fitness check, fence the others, make
// the target writable; each verified by reading the variables back.
func (s *MySQLSwitcher) Switch(ctx context.Context, to failover.Node) error {
	target, ok := s.cfg.Servers[to.Name]
	if !ok {
		return fmt.Errorf("replicate: mysql switcher: no server for node %q", to.Name)
	}
	if err := s.Fit(ctx, target); err != nil && !s.cfg.Force {
		return err
	} else if err != nil {
		s.log.Warn("promoting despite", "node", to.Name, "err", err)
	}
	for name, m := range s.cfg.Servers {
		if name == to.Name {
			continue
		}
		st, err := s.fence(ctx, m, true)
		if err != nil {
			if answered(err) && !s.cfg.Force {
				// The server answered and is still writable: making the
				// target writable too would leave two primaries.
				return fmt.Errorf("replicate: promote %s: fence %s: %w", to.Name, name, err)
			}
			// A former primary that cannot be reached cannot take writes
			// through this path either; the switch goes on.
			s.log.Warn("fence: cannot make read-only", "node", name, "err", err)
			continue
		}
		s.log.Info("fenced", "node", name, "state", st.String())
	}
	st, err := s.fence(ctx, target, false)
	if err != nil {
		return fmt.Errorf("replicate: promote %s: %w", to.Name, err)
	}
	s.log.Info("promoted: writable", "node", to.Name, "state", st.String())
	return nil
}

// answered reports whether err came from a server that answered: it
// refused a statement, or read back another state than set.
func answered(err error) bool {
	return errno(err) != 0 || errors.Is(err, ErrFenceUnverified)
}

// Fit returns nil when m may be promoted: it has no replica configured,
// or its replica is within MaxLag, or (source unreachable, lag unknown)
// its SQL thread runs and has applied everything received. Otherwise an
// error wrapping [ErrBehind].
func (s *MySQLSwitcher) Fit(ctx context.Context, m *MySQL) error {
	st, err := m.ReplicaStatus(ctx)
	switch {
	case errors.Is(err, ErrNotConfigured):
		return nil
	case err != nil:
		return fmt.Errorf("%w: %w", ErrBehind, err)
	case !st.SQLRunning:
		return fmt.Errorf("replicate: %s: %w: SQL thread stopped: %s", m.Name(), ErrBehind, st.Err())
	case st.Lag > s.cfg.MaxLag:
		return fmt.Errorf("replicate: %s: %w: %v behind (limit %v)", m.Name(), ErrBehind, st.Lag, s.cfg.MaxLag)
	case st.Lag < 0 && !st.Caught():
		return fmt.Errorf("replicate: %s: %w: lag unknown and relay log not applied (read %s:%d, executed %s:%d)",
			m.Name(), ErrBehind, st.SourceLogFile, st.ReadSourceLogPos, st.ExecSourceLogFile, st.ExecSourceLogPos)
	}
	return nil
}

func (s *MySQLSwitcher) fence(ctx context.Context, m *MySQL, on bool) (ReadOnlyState, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.FenceTimeout)
	defer cancel()
	return m.SetReadOnly(ctx, on)
}
