package main

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/failover"
)

// TestHeartbeatTimings feeds ha.cf's timeline to the example's Policy:
// nothing during initdead, a warning after warntime, a takeover after
// deadtime, and no failback when debian1 returns (auto_failback off).
func TestHeartbeatTimings(t *testing.T) {
	p := policy()
	require.NoError(t, p.Validate())
	var st failover.State
	start := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	down := errors.New("no heartbeat")
	at := func(s int) time.Time { return start.Add(time.Duration(s) * time.Second) }
	step := func(s int, d1 error) failover.Decision {
		d := p.Step(&st, failover.Round{Time: at(s), Results: map[string]error{"debian1/link": d1, "debian2/link": nil}})
		if d.Switch {
			p.Complete(&st, at(s), d.To)
		}
		return d
	}
	// initdead 80: both up, debian1 (first in haresources) becomes active
	// only once the grace period is over.
	for s := 0; s < 80; s += 2 {
		require.False(t, step(s, nil).Switch, "switched during initdead at %ds", s)
	}
	require.True(t, step(80, nil).Switch)
	require.Equal(t, "debian1", st.Active)

	// debian1 stops answering at 100 s.
	var warned, switched int
	for s := 100; s < 200 && switched == 0; s += 2 {
		d := step(s, down)
		for _, e := range d.Events {
			if e.Kind == failover.EventCheckWarn && warned == 0 {
				warned = s - 100 + 2
			}
		}
		if d.Switch {
			switched = s - 100 + 2
			assert.Equal(t, "debian2", d.To)
		}
	}
	assert.Equal(t, 10, warned, "warntime 10")
	assert.Equal(t, 60, switched, "deadtime 60")

	// debian1 comes back: auto_failback off keeps the group on debian2.
	for s := 200; s < 400; s += 2 {
		require.False(t, step(s, nil).Switch, "failed back at %ds", s)
	}
	assert.Equal(t, "debian2", st.Active)
}
