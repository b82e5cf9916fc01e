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

// DefaultFenceTimeout bounds the attempt to set read_only on a former
// primary.
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
	// FenceTimeout bounds setting read_only on each other server
	// (default DefaultFenceTimeout).
	FenceTimeout time.Duration
	// Logger receives fencing and promotion at Info (default: discarded).
	Logger *slog.Logger
}

// MySQLSwitcher is the database step of a switch, as a
// [failover.Switcher]: it refuses a target whose replica is behind by more
// than MaxLag (or has unapplied relay log while its source is gone, or
// stopped on an error) unless Force; it sets read_only=1 on every other
// server it can reach (fencing-lite: a former primary that is still up
// stops taking writes from ordinary accounts; accounts with SUPER or READ
// ONLY ADMIN are not stopped by it); then it clears read_only on the
// target. A server that cannot be reached is skipped, but one that
// answers and refuses read_only (no privilege, say) stays writable, so
// the switch stops there, before the target is made writable, unless
// Force. Switch is idempotent.
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

// Switch promotes to's server: fitness check, fence the others, clear
// read_only on the target.
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
		if err := s.setReadOnly(ctx, m, true); err != nil {
			if errno(err) != 0 && !s.cfg.Force {
				// The server answered and is still writable: making the
				// target writable too would leave two primaries.
				return fmt.Errorf("replicate: promote %s: fence %s: %w", to.Name, name, err)
			}
			// A former primary that cannot be reached cannot take writes
			// through this path either; the switch goes on.
			s.log.Warn("fence: cannot set read_only", "node", name, "err", err)
			continue
		}
		s.log.Info("fenced: read_only=1", "node", name)
	}
	if err := s.setReadOnly(ctx, target, false); err != nil {
		return fmt.Errorf("replicate: promote %s: %w", to.Name, err)
	}
	s.log.Info("promoted: read_only=0", "node", to.Name)
	return nil
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

func (s *MySQLSwitcher) setReadOnly(ctx context.Context, m *MySQL, on bool) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.FenceTimeout)
	defer cancel()
	v := 0
	if on {
		v = 1
	}
	if _, err := m.db.ExecContext(ctx, fmt.Sprintf("SET GLOBAL read_only = %d", v)); err != nil {
		return m.wrap(fmt.Sprintf("set read_only=%d", v), err)
	}
	return nil
}
