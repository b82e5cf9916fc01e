package failovermetrics_test

import (
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/failover/failovermetrics"
	"github.com/understudy-ha/understudy/failover/failovertest"
)

const interval = 10 * time.Second

// fixture is two nodes, a critical check on each, a witness check, a
// fake switcher, and the Events counters wired to OnEvent.
type fixture struct {
	primary, backup, witness *failovertest.Checker
	sw                       *failovertest.Switcher
	events                   *failovermetrics.Events
	a                        *failover.Arbiter
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		primary: &failovertest.Checker{},
		backup:  &failovertest.Checker{},
		witness: &failovertest.Checker{},
		sw:      &failovertest.Switcher{},
		events:  failovermetrics.NewEvents(),
	}
	// Inside a synctest bubble these delays are exact fake durations.
	f.backup.Delay(250 * time.Millisecond)
	f.witness.Delay(1500 * time.Millisecond)
	a, err := failover.New(failover.Config{
		Policy: failover.Policy{
			Nodes: []failover.Node{
				{Name: "primary", Address: netip.MustParseAddr("192.0.2.1"), Priority: 100},
				{Name: "backup", Address: netip.MustParseAddr("192.0.2.2"), Priority: 50},
			},
			FailAfter: 3,
			RiseAfter: 2,
		},
		Checks: []failover.Check{
			{CheckSpec: failover.CheckSpec{Name: "primary-http", Node: "primary"}, Checker: f.primary},
			{CheckSpec: failover.CheckSpec{Name: "backup-http", Node: "backup", Role: failover.RoleCritical}, Checker: f.backup},
			{CheckSpec: failover.CheckSpec{Name: "checkip", Role: failover.RoleWitness}, Checker: f.witness},
		},
		Switchers:    []failover.Switcher{f.sw},
		Interval:     interval,
		CheckTimeout: 2 * time.Second,
		OnEvent:      f.events.Observe,
	})
	require.NoError(t, err)
	f.a = a
	return f
}

// ticks runs n rounds, interval apart in (fake) time.
func (f *fixture) ticks(t *testing.T, n int) {
	t.Helper()
	for range n {
		_, err := f.a.Tick(t.Context())
		require.NoError(t, err)
		time.Sleep(interval)
	}
}

var gauges = []string{
	"understudy_node_up", "understudy_node_active",
	"understudy_check_up", "understudy_check_consecutive_failures", "understudy_check_latency_seconds",
	"understudy_isolated", "understudy_switch_pending", "understudy_last_round_timestamp_seconds",
}

func TestCollector(t *testing.T) {
	tests := []struct {
		name string
		// drive brings the fixture to the situation under test.
		drive func(t *testing.T, f *fixture)
		want  string
	}{
		{
			name:  "before the first round",
			drive: func(t *testing.T, f *fixture) {},
			// Unknown statuses and checks never run have no sample.
			want: `
# HELP understudy_check_consecutive_failures Consecutive failures of the check.
# TYPE understudy_check_consecutive_failures gauge
understudy_check_consecutive_failures{check="backup-http",node="backup",role="critical"} 0
understudy_check_consecutive_failures{check="checkip",node="",role="witness"} 0
understudy_check_consecutive_failures{check="primary-http",node="primary",role="critical"} 0
# HELP understudy_isolated Whether the witness checks fail (1): the arbiter may be cut off and makes no switch.
# TYPE understudy_isolated gauge
understudy_isolated 0
# HELP understudy_last_round_timestamp_seconds Unix time of the arbiter's last round; 0 before the first.
# TYPE understudy_last_round_timestamp_seconds gauge
understudy_last_round_timestamp_seconds 0
# HELP understudy_node_active Whether the node carries the traffic (1) or not (0).
# TYPE understudy_node_active gauge
understudy_node_active{node="backup"} 0
understudy_node_active{node="primary"} 0
# HELP understudy_switch_pending Whether a decided switch has not completed yet (1).
# TYPE understudy_switch_pending gauge
understudy_switch_pending 0
`,
		},
		{
			name: "primary check down, switched to the backup",
			drive: func(t *testing.T, f *fixture) {
				f.ticks(t, 1) // converges on the primary
				f.primary.Fail(nil)
				f.ticks(t, 3) // the third failure switches
				require.Equal(t, []string{"primary", "backup"}, f.sw.Targets())
			},
			// The last of the 4 rounds starts at 30s plus the time the
			// earlier rounds took (1.5s each, the witness's delay).
			want: `
# HELP understudy_check_consecutive_failures Consecutive failures of the check.
# TYPE understudy_check_consecutive_failures gauge
understudy_check_consecutive_failures{check="backup-http",node="backup",role="critical"} 0
understudy_check_consecutive_failures{check="checkip",node="",role="witness"} 0
understudy_check_consecutive_failures{check="primary-http",node="primary",role="critical"} 3
# HELP understudy_check_latency_seconds Duration of the check's last run; no sample before it has run.
# TYPE understudy_check_latency_seconds gauge
understudy_check_latency_seconds{check="backup-http",node="backup",role="critical"} 0.25
understudy_check_latency_seconds{check="checkip",node="",role="witness"} 1.5
understudy_check_latency_seconds{check="primary-http",node="primary",role="critical"} 0
# HELP understudy_check_up Whether the check is up (1) or down (0) after its thresholds; no sample while its status is unknown.
# TYPE understudy_check_up gauge
understudy_check_up{check="backup-http",node="backup",role="critical"} 1
understudy_check_up{check="checkip",node="",role="witness"} 1
understudy_check_up{check="primary-http",node="primary",role="critical"} 0
# HELP understudy_isolated Whether the witness checks fail (1): the arbiter may be cut off and makes no switch.
# TYPE understudy_isolated gauge
understudy_isolated 0
# HELP understudy_last_round_timestamp_seconds Unix time of the arbiter's last round; 0 before the first.
# TYPE understudy_last_round_timestamp_seconds gauge
understudy_last_round_timestamp_seconds 9.466848345e+08
# HELP understudy_node_active Whether the node carries the traffic (1) or not (0).
# TYPE understudy_node_active gauge
understudy_node_active{node="backup"} 1
understudy_node_active{node="primary"} 0
# HELP understudy_node_up Whether the node is up (1) or down (0); no sample while its status is unknown.
# TYPE understudy_node_up gauge
understudy_node_up{node="backup"} 1
understudy_node_up{node="primary"} 0
# HELP understudy_switch_pending Whether a decided switch has not completed yet (1).
# TYPE understudy_switch_pending gauge
understudy_switch_pending 0
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t)
				tt.drive(t, f)
				c := failovermetrics.NewCollector(f.a)
				assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(tt.want), gauges...))
				problems, err := testutil.CollectAndLint(c)
				require.NoError(t, err)
				assert.Empty(t, problems)
			})
		})
	}
}

func TestEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		f.ticks(t, 1) // converges on the primary: one switch
		f.primary.Fail(nil)
		f.sw.FailAlways(nil)
		f.ticks(t, 5) // the switch to the backup is decided in round 4 and keeps failing
		require.Equal(t, 1, testutil.CollectAndCount(failovermetrics.NewCollector(f.a), "understudy_switch_pending"))
		assert.True(t, f.a.Snapshot().Pending != nil, "the failed switch is still pending")

		want := `
# HELP understudy_switch_failures_total Switches that failed after their retries (counted once per intended switch).
# TYPE understudy_switch_failures_total counter
understudy_switch_failures_total 1
# HELP understudy_switches_total Switches completed (every switcher succeeded), by target node.
# TYPE understudy_switches_total counter
understudy_switches_total{to="primary"} 1
`
		assert.NoError(t, testutil.CollectAndCompare(f.events, strings.NewReader(want),
			"understudy_switches_total", "understudy_switch_failures_total"))

		// Known kinds start at zero; switch_failed is counted once per
		// intent, not once per failing round.
		wantEvents := `
# HELP understudy_events_total Events emitted by the arbiter, by kind.
# TYPE understudy_events_total counter
understudy_events_total{kind="address_changed"} 0
understudy_events_total{kind="check_down"} 1
understudy_events_total{kind="check_up"} 0
understudy_events_total{kind="check_warn"} 1
understudy_events_total{kind="failback_pending"} 0
understudy_events_total{kind="held_down"} 0
understudy_events_total{kind="isolated"} 0
understudy_events_total{kind="no_healthy_node"} 0
understudy_events_total{kind="node_down"} 1
understudy_events_total{kind="node_up"} 0
understudy_events_total{kind="state_reset"} 0
understudy_events_total{kind="switch_done"} 1
understudy_events_total{kind="switch_failed"} 1
understudy_events_total{kind="switch_intended"} 2
understudy_events_total{kind="switch_resumed"} 0
understudy_events_total{kind="witness_ok"} 0
`
		assert.NoError(t, testutil.CollectAndCompare(f.events, strings.NewReader(wantEvents), "understudy_events_total"))
		problems, err := testutil.CollectAndLint(f.events)
		require.NoError(t, err)
		assert.Empty(t, problems)
	})
}

func TestChain(t *testing.T) {
	var got []string
	rec := func(name string) func(failover.Event) {
		return func(failover.Event) { got = append(got, name) }
	}
	tests := []struct {
		name  string
		fs    []func(failover.Event)
		want  []string
		isNil bool
	}{
		{name: "none", isNil: true},
		{name: "only nils", fs: []func(failover.Event){nil, nil}, isNil: true},
		{name: "one", fs: []func(failover.Event){nil, rec("a")}, want: []string{"a"}},
		{name: "in order", fs: []func(failover.Event){rec("a"), nil, rec("b")}, want: []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			f := failovermetrics.Chain(tt.fs...)
			if tt.isNil {
				assert.Nil(t, f)
				return
			}
			require.NotNil(t, f)
			f(failover.Event{Kind: failover.EventNodeDown})
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestRegisterTogether(t *testing.T) {
	// Both collectors on one registry: no descriptor clashes, and every
	// metric is described.
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		f.ticks(t, 1)
		reg := prometheus.NewPedanticRegistry()
		require.NoError(t, reg.Register(failovermetrics.NewCollector(f.a)))
		require.NoError(t, reg.Register(f.events))
		mfs, err := reg.Gather()
		require.NoError(t, err)
		assert.Len(t, mfs, len(gauges)+3)
	})
}
