package main

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/failover"
)

type currentSwitcher struct{ deadline time.Duration }

func (c *currentSwitcher) Switch(ctx context.Context, _ failover.Node) error {
	d, ok := ctx.Deadline()
	if ok {
		c.deadline = time.Until(d)
	}
	return nil
}

func (c *currentSwitcher) Current(context.Context) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("192.0.2.1")}, nil
}

// A per-switcher timeout keeps the switcher's Current, and bounds Switch.
func TestWithTimeoutKeepsCurrent(t *testing.T) {
	inner := &currentSwitcher{}
	sw := withTimeout(inner, time.Second)
	c, ok := sw.(failover.Currenter)
	require.True(t, ok, "Current is passed through")
	got, err := c.Current(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("192.0.2.1")}, got)
	require.NoError(t, sw.Switch(context.Background(), failover.Node{}))
	assert.InDelta(t, time.Second, inner.deadline, float64(100*time.Millisecond))

	plain := withTimeout(failover.SwitcherFunc(func(context.Context, failover.Node) error { return nil }), time.Second)
	_, ok = plain.(failover.Currenter)
	assert.False(t, ok, "no Current where the switcher has none")
}
