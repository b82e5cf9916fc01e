package demo

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/failover"
)

// The demo's script runs to the end: a failover to the backup, a
// failback to the primary, each visible in the DNS answer it prints.
func TestDemoFailsOverAndBack(t *testing.T) {
	var out strings.Builder
	res, err := Run(t.Context(), &out, Options{Interval: 50 * time.Millisecond, Settle: 2})
	require.NoError(t, err, out.String())

	var switches []string
	for _, e := range res.Events {
		if e.Kind == failover.EventSwitchDone {
			switches = append(switches, e.From+">"+e.To)
		}
	}
	assert.Equal(t, []string{">primary", "primary>backup", "backup>primary"}, switches)
	assert.Positive(t, res.Failover)
	assert.Positive(t, res.Failback)

	s := out.String()
	assert.Contains(t, s, "FAIL 1/3")
	assert.Contains(t, s, "FAIL 2/3")
	assert.Contains(t, s, "www.demo.test  →  127.0.0.2", "the DNS answer after the failover")
	assert.Equal(t, 2, strings.Count(s, "www.demo.test  →  127.0.0.1"), "the answers after the start and the failback")
	assert.Less(t, strings.Index(s, "→  127.0.0.2"), strings.LastIndex(s, "→  127.0.0.1"))
}
