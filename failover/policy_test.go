package failover

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// errRefused is the failure the timelines feed to failing checks.
var errRefused = errors.New("connection refused")

// results builds one round's results from a compact spec: "+p" means
// check p passed, "-p" means it failed; checks not named did not run.
func results(spec string) map[string]error {
	res := make(map[string]error)
	for _, f := range strings.Fields(spec) {
		switch f[0] {
		case '+':
			res[f[1:]] = nil
		case '-':
			res[f[1:]] = errRefused
		default:
			panic("bad result spec " + f)
		}
	}
	return res
}

// row is one round of a timeline and what the Policy must answer.
type row struct {
	// at is the round's time as an offset from t0; zero means 10s after
	// the previous round (t0 for the first).
	at time.Duration
	// res is the results spec (see results).
	res string
	// events are the kinds of the events expected, space-separated, in
	// order. Empty means no event at all.
	events string
	// sw is the expected switch as "to/reason", or "" for no switch.
	sw string
	// keep, with a switch, means the caller does not Complete it (the
	// switch failed), so the next round starts from the same Active.
	keep bool
}

// play feeds rows to p starting from st, checks each Decision and
// completes each switch (unless the row says keep). It also checks the
// invariants every decision must satisfy.
func play(t *testing.T, p *Policy, st *State, rows []row) {
	t.Helper()
	now := t0
	for i, r := range rows {
		switch {
		case r.at != 0 || i == 0:
			now = t0.Add(r.at)
		default:
			now = now.Add(10 * time.Second)
		}
		active := st.Active
		d := p.Step(st, Round{Time: now, Results: results(r.res)})
		where := fmt.Sprintf("round %d (t0+%s, %q)", i, now.Sub(t0), r.res)

		var kinds []string
		for _, e := range d.Events {
			kinds = append(kinds, string(e.Kind))
			assert.Equal(t, now, e.Time, "%s: event %s time", where, e.Kind)
			assert.NotEmpty(t, e.Message, "%s: event %s message", where, e.Kind)
		}
		assert.Equal(t, r.events, strings.Join(kinds, " "), "%s: events", where)

		got := ""
		if d.Switch {
			got = d.To + "/" + d.Reason
			assert.Equal(t, active, d.From, "%s: From", where)
			assert.NotEqual(t, d.From, d.To, "%s: From == To", where)
			assert.Equal(t, StatusUp, st.Nodes[d.To].Status, "%s: switch to a node that is not up", where)
			assert.False(t, st.Isolated, "%s: switch while isolated", where)
		}
		assert.Equal(t, r.sw, got, "%s: switch", where)
		assert.Equal(t, active, st.Active, "%s: Step changed Active", where)
		if d.Switch && !r.keep {
			p.Complete(st, now, d.To)
		}
	}
}

// twoNodes is the article's setup: a primary and a backup, one critical
// check each.
func twoNodes() *Policy {
	return &Policy{
		Nodes: []Node{
			{Name: "primary", Address: netip.MustParseAddr("192.0.2.1"), Priority: 100},
			{Name: "backup", Address: netip.MustParseAddr("192.0.2.2"), Priority: 50},
		},
		Checks: []CheckSpec{
			{Name: "p", Node: "primary"},
			{Name: "b", Node: "backup"},
		},
	}
}

func threeNodes() *Policy {
	p := twoNodes()
	p.Nodes = append(p.Nodes, Node{Name: "third", Address: netip.MustParseAddr("192.0.2.3"), Priority: 10})
	p.Checks = append(p.Checks, CheckSpec{Name: "t", Node: "third"})
	return p
}

func with(p *Policy, f func(p *Policy)) *Policy {
	f(p)
	return p
}

func TestPolicyTimelines(t *testing.T) {
	tests := []struct {
		name   string
		policy *Policy
		active string // initial State.Active
		rows   []row
	}{
		{
			name:   "check down exactly at FailAfter, not before",
			policy: twoNodes(),
			active: "primary",
			rows: []row{
				{res: "+p +b"},
				{res: "-p +b", events: "check_warn"},
				{res: "-p +b"},
				{res: "-p +b", events: "check_down node_down", sw: "backup/node_down"},
				{res: "-p +b"},
			},
		},
		{
			name:   "policy FailAfter 2",
			policy: with(twoNodes(), func(p *Policy) { p.FailAfter = 2 }),
			active: "primary",
			rows: []row{
				{res: "+p +b"},
				{res: "-p +b", events: "check_warn"},
				{res: "-p +b", events: "check_down node_down", sw: "backup/node_down"},
			},
		},
		{
			name:   "per-check FailAfter override",
			policy: with(twoNodes(), func(p *Policy) { p.FailAfter = 5; p.Checks[0].FailAfter = 1 }),
			active: "primary",
			rows: []row{
				{res: "+p +b"},
				{res: "-p +b", events: "check_down node_down", sw: "backup/node_down"},
			},
		},
		{
			name: "per-check RiseAfter override and auto failback",
			policy: with(twoNodes(), func(p *Policy) {
				p.Checks[0].FailAfter = 1
				p.Checks[0].RiseAfter = 3
			}),
			active: "primary",
			rows: []row{
				{res: "-p +b", events: "check_down node_down", sw: "backup/node_down"},
				{res: "+p +b"},
				{res: "+p +b"},
				{res: "+p +b", events: "check_up node_up", sw: "primary/failback"},
			},
		},
		{
			name:   "recovery hysteresis: a success between failures does not bring a check up",
			policy: with(twoNodes(), func(p *Policy) { p.Failback = FailbackManual }),
			active: "primary",
			rows: []row{
				{res: "-p +b", events: "check_warn"},
				{res: "-p +b"},
				{res: "-p +b", events: "check_down node_down", sw: "backup/node_down"},
				{res: "+p +b"},
				{res: "-p +b"},
				{res: "+p +b"},
				{res: "+p +b", events: "check_up node_up failback_pending"},
				{res: "+p +b"},
			},
		},
		{
			name:   "warn after WarnAfter failures, once, before down",
			policy: with(twoNodes(), func(p *Policy) { p.FailAfter = 4; p.WarnAfter = 2 }),
			active: "primary",
			rows: []row{
				{res: "+p +b"},
				{res: "-p +b"},
				{res: "-p +b", events: "check_warn"},
				{res: "-p +b"},
				{res: "-p +b", events: "check_down node_down", sw: "backup/node_down"},
			},
		},
		{
			name:   "warning re-armed only after RiseAfter successes",
			policy: twoNodes(),
			active: "primary",
			rows: []row{
				{res: "+p +b"},
				{res: "-p +b", events: "check_warn"},
				{res: "+p +b"},
				{res: "-p +b"},
				{res: "+p +b"},
				{res: "+p +b"},
				{res: "-p +b", events: "check_warn"},
			},
		},
		{
			name:   "WarnAfter at FailAfter disables the warning",
			policy: with(twoNodes(), func(p *Policy) { p.WarnAfter = 3 }),
			active: "primary",
			rows: []row{
				{res: "-p +b"},
				{res: "-p +b"},
				{res: "-p +b", events: "check_down node_down", sw: "backup/node_down"},
			},
		},
		{
			name: "notify-only check reports but never switches",
			policy: with(twoNodes(), func(p *Policy) {
				p.Checks = append(p.Checks, CheckSpec{Name: "ssh", Node: "primary", Role: RoleNotify})
			}),
			active: "primary",
			rows: []row{
				{res: "+p +b +ssh"},
				{res: "+p +b -ssh", events: "check_warn"},
				{res: "+p +b -ssh"},
				{res: "+p +b -ssh", events: "check_down"},
				{res: "+p +b -ssh"},
				{res: "+p +b -ssh"},
				{res: "+p +b +ssh"},
				{res: "+p +b +ssh", events: "check_up"},
			},
		},
		{
			name: "DownAny: one critical check down takes the node down",
			policy: with(twoNodes(), func(p *Policy) {
				p.FailAfter = 1
				p.Checks = append(p.Checks, CheckSpec{Name: "db", Node: "primary"})
			}),
			active: "primary",
			rows: []row{
				{res: "+p +db +b"},
				{res: "+p -db +b", events: "check_down node_down", sw: "backup/node_down"},
			},
		},
		{
			name: "DownAll: the node is down only when all its critical checks are",
			policy: with(twoNodes(), func(p *Policy) {
				p.FailAfter = 1
				p.DownWhen = DownAll
				p.Checks = append(p.Checks, CheckSpec{Name: "db", Node: "primary"})
			}),
			active: "primary",
			rows: []row{
				{res: "+p +db +b"},
				{res: "+p -db +b", events: "check_down"},
				{res: "+p -db +b"},
				{res: "-p -db +b", events: "check_down node_down", sw: "backup/node_down"},
			},
		},
		{
			name:   "three nodes: the best standby that is up, by priority",
			policy: with(threeNodes(), func(p *Policy) { p.FailAfter = 1 }),
			active: "primary",
			rows: []row{
				{res: "+p +b +t"},
				{res: "-p +b +t", events: "check_down node_down", sw: "backup/node_down"},
			},
		},
		{
			name:   "three nodes: skip a down standby",
			policy: with(threeNodes(), func(p *Policy) { p.FailAfter = 1 }),
			active: "primary",
			rows: []row{
				{res: "+p +b +t"},
				{res: "+p -b +t", events: "check_down node_down"},
				{res: "-p -b +t", events: "check_down node_down", sw: "third/node_down"},
			},
		},
		{
			name:   "three nodes: never to an unknown standby",
			policy: with(threeNodes(), func(p *Policy) { p.FailAfter = 1 }),
			active: "primary",
			rows: []row{
				{res: "+p +t"},
				{res: "-p +t", events: "check_down node_down", sw: "third/node_down"},
			},
		},
		{
			name: "three nodes: equal priority broken by order",
			policy: with(threeNodes(), func(p *Policy) {
				p.FailAfter = 1
				p.Nodes[1].Priority = 10 // backup ties with third; backup is listed first
			}),
			active: "primary",
			rows: []row{
				{res: "+p +b +t"},
				{res: "-p +b +t", events: "check_down node_down", sw: "backup/node_down"},
			},
		},
		{
			name: "three nodes: failback from the third goes to the best node up",
			policy: with(threeNodes(), func(p *Policy) {
				p.FailAfter = 1
				p.RiseAfter = 1
			}),
			active: "third",
			rows: []row{
				{res: "-p -b +t", events: "check_down check_down node_down node_down"},
				{res: "-p +b +t", events: "check_up node_up", sw: "backup/failback"},
				{res: "+p +b +t", events: "check_up node_up", sw: "primary/failback"},
			},
		},
		{
			name: "no failback to a node of equal priority",
			policy: with(twoNodes(), func(p *Policy) {
				p.FailAfter = 1
				p.Nodes[1].Priority = 100
			}),
			active: "primary",
			rows: []row{
				{res: "-p +b", events: "check_down node_down", sw: "backup/node_down"},
				{res: "+p +b"},
				{res: "+p +b", events: "check_up node_up"},
				{res: "+p +b"},
			},
		},
		{
			name:   "no healthy standby: stay, one event across many rounds, then switch",
			policy: with(twoNodes(), func(p *Policy) { p.FailAfter = 1 }),
			active: "primary",
			rows: []row{
				{res: "+p -b", events: "check_down node_down"},
				{res: "-p -b", events: "check_down node_down no_healthy_node"},
				{res: "-p -b"},
				{res: "-p -b"},
				{res: "-p -b"},
				{res: "-p +b"},
				{res: "-p +b", events: "check_up node_up", sw: "backup/node_down"},
			},
		},
		{
			name:   "no healthy standby again after a recovery emits the event again",
			policy: with(twoNodes(), func(p *Policy) { p.FailAfter = 1; p.RiseAfter = 1 }),
			active: "primary",
			rows: []row{
				{res: "-p -b", events: "check_down check_down node_down node_down no_healthy_node"},
				{res: "+p -b", events: "check_up node_up"},
				{res: "-p -b", events: "check_down node_down no_healthy_node"},
			},
		},
		{
			name: "witness down: no switch; the switch happens once the witness is back",
			policy: with(twoNodes(), func(p *Policy) {
				p.FailAfter = 1
				p.Checks = append(p.Checks,
					CheckSpec{Name: "w1", Role: RoleWitness},
					CheckSpec{Name: "w2", Role: RoleWitness, FailAfter: 5})
			}),
			active: "primary",
			rows: []row{
				{res: "+p +b +w1 +w2"},
				{res: "-p +b -w1 -w2", events: "check_down check_down check_warn node_down isolated"},
				{res: "-p +b -w1 -w2"},
				{res: "-p +b -w1 -w2"},
				{res: "-p +b -w1 +w2", events: "witness_ok", sw: "backup/node_down"},
			},
		},
		{
			name: "one witness of two failing is no isolation",
			policy: with(twoNodes(), func(p *Policy) {
				p.FailAfter = 1
				p.Checks = append(p.Checks,
					CheckSpec{Name: "w1", Role: RoleWitness},
					CheckSpec{Name: "w2", Role: RoleWitness})
			}),
			active: "primary",
			rows: []row{
				{res: "+p +b +w1 +w2"},
				{res: "-p +b -w1 +w2", events: "check_down check_down node_down", sw: "backup/node_down"},
			},
		},
		{
			name: "isolated: no failback either, and no event repeated after",
			policy: with(twoNodes(), func(p *Policy) {
				p.FailAfter = 1
				p.RiseAfter = 1
				p.Failback = FailbackManual
				p.Checks = append(p.Checks, CheckSpec{Name: "w", Role: RoleWitness, FailAfter: 10, RiseAfter: 1})
			}),
			active: "backup",
			rows: []row{
				{res: "-p +b +w", events: "check_down node_down"},
				{res: "+p +b +w", events: "check_up node_up failback_pending"},
				{res: "+p +b -w", events: "check_warn isolated"},
				{res: "+p +b +w", events: "witness_ok"},
			},
		},
		{
			name: "grace: no switch before Grace has passed since the first round",
			policy: with(twoNodes(), func(p *Policy) {
				p.FailAfter = 1
				p.Grace = time.Minute
			}),
			active: "primary",
			rows: []row{
				{at: 0, res: "-p +b", events: "check_down node_down"},
				{at: 30 * time.Second, res: "-p +b"},
				{at: 59 * time.Second, res: "-p +b"},
				{at: 60 * time.Second, res: "-p +b", sw: "backup/node_down"},
			},
		},
		{
			name: "hold-down defers a failback, then makes it",
			policy: with(twoNodes(), func(p *Policy) {
				p.FailAfter = 1
				p.RiseAfter = 1
				p.HoldDown = 5 * time.Minute
			}),
			active: "primary",
			rows: []row{
				{at: 0, res: "-p +b", events: "check_down node_down", sw: "backup/node_down"},
				{at: time.Minute, res: "+p +b", events: "check_up node_up held_down"},
				{at: 2 * time.Minute, res: "+p +b"},
				{at: 4*time.Minute + 59*time.Second, res: "+p +b"},
				{at: 5 * time.Minute, res: "+p +b", sw: "primary/failback"},
			},
		},
		{
			name: "hold-down: the deferred switch is dropped when no longer wanted",
			policy: with(twoNodes(), func(p *Policy) {
				p.FailAfter = 1
				p.RiseAfter = 1
				p.HoldDown = 5 * time.Minute
			}),
			active: "primary",
			rows: []row{
				{at: 0, res: "-p +b", events: "check_down node_down", sw: "backup/node_down"},
				{at: time.Minute, res: "+p +b", events: "check_up node_up held_down"},
				{at: 2 * time.Minute, res: "-p +b", events: "check_down node_down"},
				{at: 6 * time.Minute, res: "-p +b"},
				{at: 7 * time.Minute, res: "+p +b", events: "check_up node_up", sw: "primary/failback"},
			},
		},
		{
			name:   "failback auto",
			policy: with(twoNodes(), func(p *Policy) { p.FailAfter = 1 }),
			active: "primary",
			rows: []row{
				{res: "-p +b", events: "check_down node_down", sw: "backup/node_down"},
				{res: "+p +b"},
				{res: "+p +b", events: "check_up node_up", sw: "primary/failback"},
				{res: "+p +b"},
			},
		},
		{
			name: "failback delayed",
			policy: with(twoNodes(), func(p *Policy) {
				p.FailAfter = 1
				p.RiseAfter = 1
				p.Failback = FailbackDelayed
				p.FailbackDelay = 3 * time.Minute
			}),
			active: "primary",
			rows: []row{
				{at: 0, res: "-p +b", events: "check_down node_down", sw: "backup/node_down"},
				{at: time.Minute, res: "+p +b", events: "check_up node_up failback_pending"},
				{at: 2 * time.Minute, res: "+p +b"},
				{at: 3*time.Minute + 59*time.Second, res: "+p +b"},
				{at: 4 * time.Minute, res: "+p +b", sw: "primary/failback"},
			},
		},
		{
			name: "failback delayed: the delay restarts when the preferred node goes down again",
			policy: with(twoNodes(), func(p *Policy) {
				p.FailAfter = 1
				p.RiseAfter = 1
				p.Failback = FailbackDelayed
				p.FailbackDelay = 3 * time.Minute
			}),
			active: "primary",
			rows: []row{
				{at: 0, res: "-p +b", events: "check_down node_down", sw: "backup/node_down"},
				{at: time.Minute, res: "+p +b", events: "check_up node_up failback_pending"},
				{at: 2 * time.Minute, res: "-p +b", events: "check_down node_down"},
				{at: 3 * time.Minute, res: "+p +b", events: "check_up node_up failback_pending"},
				{at: 4 * time.Minute, res: "+p +b"},
				{at: 6 * time.Minute, res: "+p +b", sw: "primary/failback"},
			},
		},
		{
			name: "failback manual: pending once, never by itself",
			policy: with(twoNodes(), func(p *Policy) {
				p.FailAfter = 1
				p.RiseAfter = 1
				p.Failback = FailbackManual
			}),
			active: "primary",
			rows: []row{
				{res: "-p +b", events: "check_down node_down", sw: "backup/node_down"},
				{res: "+p +b", events: "check_up node_up failback_pending"},
				{res: "+p +b"},
				{res: "+p +b"},
				{at: 24 * time.Hour, res: "+p +b"},
			},
		},
		{
			name:   "a failed switch is decided again next round, without events",
			policy: with(twoNodes(), func(p *Policy) { p.FailAfter = 1 }),
			active: "primary",
			rows: []row{
				{res: "-p +b", events: "check_down node_down", sw: "backup/node_down", keep: true},
				{res: "-p +b", sw: "backup/node_down", keep: true},
				{res: "-p +b", sw: "backup/node_down"},
				{res: "-p +b"},
			},
		},
		{
			name:   "unknown active converges on the primary",
			policy: twoNodes(),
			rows: []row{
				{res: "+p +b", sw: "primary/converge"},
				{res: "+p +b"},
			},
		},
		{
			name:   "unknown active waits while the preferred node is unknown, then takes the standby",
			policy: twoNodes(),
			rows: []row{
				{res: "-p +b", events: "check_warn"},
				{res: "-p +b"},
				{res: "-p +b", events: "check_down node_down", sw: "backup/converge"},
			},
		},
		{
			name:   "unknown active: nothing while nothing is up, said once",
			policy: with(twoNodes(), func(p *Policy) { p.FailAfter = 1 }),
			rows: []row{
				{res: ""},
				{res: "-p -b", events: "check_down check_down node_down node_down no_healthy_node"},
				{res: "-p -b"},
				{res: "-p +b"},
				{res: "-p +b", events: "check_up node_up", sw: "backup/converge"},
			},
		},
		{
			name: "a node with no critical checks is always up",
			policy: with(twoNodes(), func(p *Policy) {
				p.FailAfter = 1
				p.Checks = p.Checks[:1]
			}),
			active: "primary",
			rows: []row{
				{res: "-p", events: "check_down node_down", sw: "backup/node_down"},
			},
		},
		{
			name:   "results for unknown checks are ignored; missing checks keep their counters",
			policy: twoNodes(),
			active: "primary",
			rows: []row{
				{res: "+p +b -nosuch"},
				{res: "-p +b", events: "check_warn"},
				{res: "-p +b"},
				{res: "+b"},
				{res: "+b -nosuch"},
				{res: "-p +b", events: "check_down node_down", sw: "backup/node_down"},
			},
		},
		{
			name:   "active of unknown status: neither failover nor failback",
			policy: with(threeNodes(), func(p *Policy) { p.FailAfter = 1 }),
			active: "backup",
			rows: []row{
				{res: "+p +t"},
				{res: "+p +t"},
				{res: "+p -b +t", events: "check_down node_down", sw: "primary/node_down"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, tt.policy.Validate())
			st := &State{Active: tt.active}
			play(t, tt.policy, st, tt.rows)
		})
	}
}

// TestPolicyClockBackwards plays timelines in which the clock jumps back
// (NTP correcting a clock that ran ahead) after a time was recorded in the
// State. Each period (grace, hold-down, failback delay) must end at most
// its own length after the jump, not when the clock catches up again.
func TestPolicyClockBackwards(t *testing.T) {
	const ahead = 24 * time.Hour
	tests := []struct {
		name   string
		policy *Policy
		active string
		rows   []row
	}{
		{
			name:   "grace started while the clock was ahead",
			policy: with(twoNodes(), func(p *Policy) { p.Grace = 30 * time.Second }),
			active: "primary",
			rows: []row{
				{at: ahead, res: "+p +b"},
				{at: time.Second, res: "-p +b", events: "check_warn"},
				{res: "-p +b"},
				{res: "-p +b", events: "check_down node_down"},
				{res: "-p +b", sw: "backup/node_down"},
			},
		},
		{
			name: "hold-down started while the clock was ahead",
			policy: with(twoNodes(), func(p *Policy) {
				p.FailAfter, p.RiseAfter, p.HoldDown = 1, 1, 5*time.Minute
			}),
			active: "primary",
			rows: []row{
				{at: ahead, res: "+p +b"},
				{at: ahead + 10*time.Second, res: "-p +b", events: "check_down node_down", sw: "backup/node_down"},
				{at: time.Second, res: "+p +b", events: "check_up node_up held_down"},
				{at: 5 * time.Minute, res: "+p +b"},
				{at: 5*time.Minute + time.Second, res: "+p +b", sw: "primary/failback"},
			},
		},
		{
			name: "preferred node up since a time ahead of the clock",
			policy: with(twoNodes(), func(p *Policy) {
				p.FailAfter, p.RiseAfter = 1, 1
				p.Failback, p.FailbackDelay = FailbackDelayed, 2*time.Minute
			}),
			active: "backup",
			rows: []row{
				{at: ahead, res: "-p +b", events: "check_down node_down"},
				{at: ahead + 10*time.Second, res: "+p +b", events: "check_up node_up failback_pending"},
				{at: time.Second, res: "+p +b"},
				{at: 2 * time.Minute, res: "+p +b"},
				{at: 2*time.Minute + time.Second, res: "+p +b", sw: "primary/failback"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, tt.policy.Validate())
			st := &State{Active: tt.active}
			play(t, tt.policy, st, tt.rows)
			for name, ns := range st.Nodes {
				assert.False(t, ns.Since.After(t0.Add(time.Hour)), "node %s: Since left ahead of the clock", name)
			}
			for name, cs := range st.Checks {
				assert.False(t, cs.Since.After(t0.Add(time.Hour)), "check %s: Since left ahead of the clock", name)
			}
		})
	}
}

func TestPolicyManualHoldDownAheadOfClock(t *testing.T) {
	p := with(twoNodes(), func(p *Policy) { p.HoldDown = 10 * time.Minute })
	st := &State{Active: "primary"}
	p.Step(st, Round{Time: t0, Results: results("+p +b")})
	st.LastSwitch = t0.Add(24 * time.Hour) // recorded while the clock ran a day ahead
	p.Step(st, Round{Time: t0, Results: results("+p +b")})

	_, err := p.Manual(st, t0, "backup", false)
	require.ErrorIs(t, err, ErrUnsafe, "the hold-down counts from now at most")
	d, err := p.Manual(st, t0.Add(10*time.Minute), "backup", false)
	require.NoError(t, err, "the hold-down ends one HoldDown after the jump at the latest")
	assert.True(t, d.Switch)
}

func TestPolicyFlappingNeverSwitches(t *testing.T) {
	p := twoNodes()
	st := &State{Active: "primary"}
	rows := []row{{res: "+p +b"}}
	for i := range 50 {
		if i%2 == 0 {
			r := row{res: "-p +b"}
			if i == 0 {
				r.events = "check_warn" // once, not every other round
			}
			rows = append(rows, r)
		} else {
			rows = append(rows, row{res: "+p +b"})
		}
	}
	play(t, p, st, rows)
	assert.Equal(t, StatusUp, st.Checks["p"].Status)
	assert.Equal(t, "primary", st.Active)
}

func TestPolicyFlappingWhileDownStaysDown(t *testing.T) {
	p := with(twoNodes(), func(p *Policy) { p.Failback = FailbackAuto })
	st := &State{Active: "primary"}
	rows := []row{
		{res: "-p +b", events: "check_warn"},
		{res: "-p +b"},
		{res: "-p +b", events: "check_down node_down", sw: "backup/node_down"},
	}
	for i := range 50 {
		if i%2 == 0 {
			rows = append(rows, row{res: "+p +b"})
		} else {
			rows = append(rows, row{res: "-p +b"})
		}
	}
	play(t, p, st, rows)
	assert.Equal(t, StatusDown, st.Checks["p"].Status)
	assert.Equal(t, "backup", st.Active)
}

func TestPolicyEventFields(t *testing.T) {
	p := with(twoNodes(), func(p *Policy) { p.Checks[0].Name = "primary/http" })
	st := &State{Active: "primary"}
	now := t0
	var d Decision
	for range 3 {
		now = now.Add(time.Second)
		d = p.Step(st, Round{Time: now, Results: map[string]error{"primary/http": errRefused, "b": nil}})
	}
	require.Len(t, d.Events, 2)
	assert.Equal(t, Event{
		Time: now, Kind: EventCheckDown, Node: "primary", Check: "primary/http", Fails: 3,
		Err: "connection refused", Message: `check "primary/http" down after 3 failures: connection refused`,
	}, d.Events[0])
	assert.Equal(t, EventNodeDown, d.Events[1].Kind)
	assert.Equal(t, "primary", d.Events[1].Node)
	assert.Equal(t, "primary/http", d.Events[1].Check)
	assert.Equal(t, "connection refused", d.Events[1].Err)
	assert.Equal(t, Decision{Switch: true, From: "primary", To: "backup", Reason: ReasonNodeDown, Events: d.Events}, d)

	cs := st.Checks["primary/http"]
	assert.Equal(t, CheckState{Status: StatusDown, Fails: 3, Since: now, LastErr: "connection refused"}, *cs)
	assert.Equal(t, NodeState{Status: StatusDown, Since: now}, *st.Nodes["primary"])
}

func TestPolicyHeldDownEventFields(t *testing.T) {
	p := with(twoNodes(), func(p *Policy) { p.FailAfter = 1; p.HoldDown = time.Hour })
	st := &State{Active: "primary", LastSwitch: t0}
	d := p.Step(st, Round{Time: t0.Add(time.Minute), Results: results("-p +b")})
	require.False(t, d.Switch)
	require.Len(t, d.Events, 3)
	e := d.Events[2]
	assert.Equal(t, EventHeldDown, e.Kind)
	assert.Equal(t, "primary", e.From)
	assert.Equal(t, "backup", e.To)
	assert.Contains(t, e.Message, "2026-03-01T13:00:00Z")
}

func TestPolicyZeroState(t *testing.T) {
	for _, name := range []string{"zero value", "nil maps with active", "nil entries"} {
		t.Run(name, func(t *testing.T) {
			p := twoNodes()
			var st State
			switch name {
			case "nil maps with active":
				st.Active = "primary"
			case "nil entries":
				st.Active = "primary"
				st.Checks = map[string]*CheckState{"p": nil}
				st.Nodes = map[string]*NodeState{"primary": nil}
			}
			d := p.Step(&st, Round{Time: t0, Results: results("+p +b")})
			assert.Equal(t, t0, st.Started)
			assert.Equal(t, StatusUp, st.Nodes["primary"].Status)
			assert.Equal(t, StatusUp, st.Checks["p"].Status)
			assert.Equal(t, st.Active == "", d.Switch, "converge only when no node is active")
		})
	}
}

func TestPolicyStaleState(t *testing.T) {
	// A State written by a configuration with a node "old" (active) and a
	// check "gone", read by a Policy that has neither but has a new check.
	st := &State{
		Active:  "old",
		Started: t0.Add(-time.Hour),
		Checks: map[string]*CheckState{
			"gone": {Status: StatusDown, Fails: 9},
			"p":    {Status: StatusUp, Oks: 4},
			"b":    {Status: "bogus"},
		},
		Nodes: map[string]*NodeState{
			"old":     {Status: StatusUp},
			"primary": {Status: StatusUp},
		},
		Latches: map[string]bool{
			"warn:gone":                true,
			"failback_pending:old":     true,
			latchNoHealthy:             true,
			"some_key_from_the_future": true,
		},
	}
	p := with(twoNodes(), func(p *Policy) {
		p.Checks = append(p.Checks, CheckSpec{Name: "new", Node: "primary"})
	})
	d := p.Step(st, Round{Time: t0, Results: results("+p")})

	assert.NotContains(t, st.Checks, "gone")
	assert.NotContains(t, st.Nodes, "old")
	assert.Equal(t, StatusUnknown, st.Checks["new"].Status)
	assert.Equal(t, StatusUnknown, st.Checks["b"].Status)
	assert.Equal(t, StatusUnknown, st.Nodes["primary"].Status, "primary's new check has not reported")
	assert.Equal(t, "", st.Active, "an active node no longer configured is forgotten")
	assert.NotContains(t, st.Latches, "warn:gone")
	assert.NotContains(t, st.Latches, "failback_pending:old")
	assert.Equal(t, t0.Add(-time.Hour), st.Started, "Started is kept")
	assert.False(t, d.Switch)

	d = p.Step(st, Round{Time: t0.Add(time.Second), Results: results("+p +new +b")})
	assert.Equal(t, Decision{Switch: true, To: "primary", Reason: ReasonConverge}, d)
}

func TestPolicyJSONRoundTrip(t *testing.T) {
	p := with(threeNodes(), func(p *Policy) {
		p.HoldDown = time.Minute
		p.Failback = FailbackDelayed
		p.FailbackDelay = 2 * time.Minute
		p.Checks = append(p.Checks, CheckSpec{Name: "w", Role: RoleWitness})
	})
	// A timeline touching every kind of state: warnings, downs, isolation,
	// no healthy node, hold-down, delayed failback.
	specs := []string{
		"+p +b +t +w", "-p +b +t +w", "-p +b +t -w", "-p -b +t -w", "-p -b +t +w",
		"-p -b -t +w", "-p -b -t +w", "-p -b -t +w", "-p -b +t +w", "+p -b +t +w",
		"+p +b +t +w", "+p +b +t +w", "+p +b +t +w", "+p +b +t +w", "+p +b +t +w",
		"+p +b +t +w", "+p +b +t +w", "+p +b +t +w", "+p +b +t +w", "+p +b +t +w",
	}
	run := func(persist bool) []Decision {
		var st State
		var out []Decision
		now := t0
		for _, spec := range specs {
			now = now.Add(15 * time.Second)
			if persist {
				b, err := json.Marshal(&st)
				require.NoError(t, err)
				st = State{}
				require.NoError(t, json.Unmarshal(b, &st))
			}
			d := p.Step(&st, Round{Time: now, Results: results(spec)})
			if d.Switch {
				p.Complete(&st, now, d.To)
			}
			out = append(out, d)
		}
		return out
	}
	straight, persisted := run(false), run(true)
	assert.Equal(t, straight, persisted)

	var kinds []EventKind
	switches := 0
	for _, d := range straight {
		for _, e := range d.Events {
			kinds = append(kinds, e.Kind)
		}
		if d.Switch {
			switches++
		}
	}
	// The timeline is only worth its salt if it goes through these.
	for _, k := range []EventKind{EventIsolated, EventWitnessOK, EventNoHealthyNode, EventHeldDown, EventFailbackPending, EventCheckUp} {
		assert.Contains(t, kinds, k)
	}
	assert.GreaterOrEqual(t, switches, 3)
}

func TestPolicyManual(t *testing.T) {
	p := with(twoNodes(), func(p *Policy) {
		p.HoldDown = 10 * time.Minute
		p.Checks = append(p.Checks, CheckSpec{Name: "w", Role: RoleWitness})
	})
	healthy := func() *State {
		st := &State{Active: "primary"}
		p.Step(st, Round{Time: t0, Results: results("+p +b +w")})
		return st
	}
	tests := []struct {
		name    string
		state   func() *State
		to      string
		force   bool
		want    Decision
		wantErr error
	}{
		{name: "healthy target", state: healthy, to: "backup",
			want: Decision{Switch: true, From: "primary", To: "backup", Reason: ReasonManual}},
		{name: "unknown node", state: healthy, to: "nosuch", wantErr: ErrUnknownNode},
		{name: "unknown node even forced", state: healthy, to: "nosuch", force: true, wantErr: ErrUnknownNode},
		{name: "already active", state: healthy, to: "primary", want: Decision{}},
		{name: "target down", state: func() *State {
			st := healthy()
			st.Nodes["backup"].Status = StatusDown
			return st
		}, to: "backup", wantErr: ErrUnsafe},
		{name: "target unknown", state: func() *State { return &State{Active: "primary"} }, to: "backup", wantErr: ErrUnsafe},
		{name: "target down, forced", state: func() *State {
			st := healthy()
			st.Nodes["backup"].Status = StatusDown
			return st
		}, to: "backup", force: true,
			want: Decision{Switch: true, From: "primary", To: "backup", Reason: ReasonManual}},
		{name: "isolated", state: func() *State {
			st := healthy()
			p.Step(st, Round{Time: t0, Results: results("+p +b -w")})
			require.True(t, st.Isolated)
			return st
		}, to: "backup", wantErr: ErrUnsafe},
		{name: "isolated, forced", state: func() *State {
			st := healthy()
			st.Isolated = true
			return st
		}, to: "backup", force: true,
			want: Decision{Switch: true, From: "primary", To: "backup", Reason: ReasonManual}},
		{name: "within hold-down", state: func() *State {
			st := healthy()
			st.LastSwitch = t0.Add(-9 * time.Minute)
			return st
		}, to: "backup", wantErr: ErrUnsafe},
		{name: "hold-down just passed", state: func() *State {
			st := healthy()
			st.LastSwitch = t0.Add(-10 * time.Minute)
			return st
		}, to: "backup",
			want: Decision{Switch: true, From: "primary", To: "backup", Reason: ReasonManual}},
		{name: "within hold-down, forced", state: func() *State {
			st := healthy()
			st.LastSwitch = t0.Add(-time.Minute)
			return st
		}, to: "backup", force: true,
			want: Decision{Switch: true, From: "primary", To: "backup", Reason: ReasonManual}},
		{name: "active node no longer configured", state: func() *State {
			st := healthy()
			st.Active = "old"
			return st
		}, to: "backup",
			want: Decision{Switch: true, To: "backup", Reason: ReasonManual}},
		{name: "no active node", state: func() *State {
			st := healthy()
			st.Active = ""
			return st
		}, to: "backup",
			want: Decision{Switch: true, To: "backup", Reason: ReasonManual}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.state()
			before, err := json.Marshal(st)
			require.NoError(t, err)
			d, err := p.Manual(st, t0, tt.to, tt.force)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Contains(t, err.Error(), fmt.Sprintf("%q", tt.to))
				assert.Equal(t, Decision{}, d)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tt.want, d)
			}
			after, err := json.Marshal(st)
			require.NoError(t, err)
			assert.JSONEq(t, string(before), string(after), "Manual must not change the State")
		})
	}
}

func TestPolicyCompleteClearsLatches(t *testing.T) {
	p := with(twoNodes(), func(p *Policy) { p.FailAfter = 1; p.RiseAfter = 1; p.Failback = FailbackManual })
	st := &State{Active: "backup"}
	play(t, p, st, []row{
		{res: "+p +b", events: "failback_pending"},
		{res: "+p +b"},
		{res: "-p +b", events: "check_down node_down"},
		{res: "+p +b", events: "check_up node_up failback_pending"},
		{res: "+p -b", events: "check_down node_down", sw: "primary/node_down"},
	})
	assert.Equal(t, "primary", st.Active)
	assert.Equal(t, t0.Add(40*time.Second), st.LastSwitch)
	assert.NotContains(t, st.Latches, latchFailbackPending+"primary")

	// A manual switch completed with a pending failback clears it.
	st = &State{Active: "backup"}
	p.Step(st, Round{Time: t0, Results: results("+p +b")})
	require.True(t, st.Latches[latchFailbackPending+"primary"])
	d, err := p.Manual(st, t0, "primary", false)
	require.NoError(t, err)
	p.Complete(st, t0, d.To)
	assert.Equal(t, "primary", st.Active)
	assert.Empty(t, st.Latches)
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(p *Policy)
		wantErr string // "" for valid
	}{
		{name: "valid", mutate: func(*Policy) {}},
		{name: "valid with everything", mutate: func(p *Policy) {
			p.FailAfter, p.RiseAfter, p.WarnAfter = 4, 3, 2
			p.DownWhen = DownAll
			p.Grace, p.HoldDown = time.Minute, time.Minute
			p.Failback, p.FailbackDelay = FailbackDelayed, time.Minute
			p.Checks = append(p.Checks,
				CheckSpec{Name: "ssh", Node: "primary", Role: RoleNotify, FailAfter: 1, RiseAfter: 1},
				CheckSpec{Name: "w", Role: RoleWitness},
				CheckSpec{Name: "c", Node: "backup", Role: RoleCritical})
		}},
		{name: "no nodes", mutate: func(p *Policy) { p.Nodes = nil; p.Checks = nil }, wantErr: "policy: no nodes"},
		{name: "empty node name", mutate: func(p *Policy) { p.Nodes[1].Name = "" }, wantErr: "policy: node 1: empty name"},
		{name: "duplicate node", mutate: func(p *Policy) { p.Nodes[1].Name = "primary" }, wantErr: `policy: node "primary": duplicate name`},
		{name: "empty check name", mutate: func(p *Policy) { p.Checks[0].Name = "" }, wantErr: "policy: check 0: empty name"},
		{name: "duplicate check", mutate: func(p *Policy) { p.Checks[1].Name = "p" }, wantErr: `policy: check "p": duplicate name`},
		{name: "unknown node", mutate: func(p *Policy) { p.Checks[0].Node = "x" }, wantErr: `policy: check "p": unknown node "x"`},
		{name: "critical check without node", mutate: func(p *Policy) { p.Checks[0].Node = "" }, wantErr: `policy: check "p": no node`},
		{name: "witness with node", mutate: func(p *Policy) { p.Checks[0].Role = RoleWitness }, wantErr: `policy: check "p": witness check names node "primary"`},
		{name: "unknown role", mutate: func(p *Policy) { p.Checks[0].Role = "vital" }, wantErr: `policy: check "p": unknown role "vital"`},
		{name: "negative check fail_after", mutate: func(p *Policy) { p.Checks[0].FailAfter = -1 }, wantErr: `policy: check "p": negative fail_after -1`},
		{name: "negative check rise_after", mutate: func(p *Policy) { p.Checks[0].RiseAfter = -1 }, wantErr: `policy: check "p": negative rise_after -1`},
		{name: "negative fail_after", mutate: func(p *Policy) { p.FailAfter = -1 }, wantErr: "policy: negative fail_after -1"},
		{name: "negative rise_after", mutate: func(p *Policy) { p.RiseAfter = -2 }, wantErr: "policy: negative rise_after -2"},
		{name: "negative warn_after", mutate: func(p *Policy) { p.WarnAfter = -3 }, wantErr: "policy: negative warn_after -3"},
		{name: "negative grace", mutate: func(p *Policy) { p.Grace = -time.Second }, wantErr: "policy: negative grace -1s"},
		{name: "negative hold_down", mutate: func(p *Policy) { p.HoldDown = -time.Second }, wantErr: "policy: negative hold_down -1s"},
		{name: "negative failback_delay", mutate: func(p *Policy) { p.FailbackDelay = -time.Second }, wantErr: "policy: negative failback_delay -1s"},
		{name: "unknown down_when", mutate: func(p *Policy) { p.DownWhen = "most" }, wantErr: `policy: unknown down_when "most"`},
		{name: "unknown failback", mutate: func(p *Policy) { p.Failback = "sometimes" }, wantErr: `policy: unknown failback "sometimes"`},
		{name: "delayed without delay", mutate: func(p *Policy) { p.Failback = FailbackDelayed }, wantErr: `policy: failback "delayed" needs a positive failback_delay`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := twoNodes()
			tt.mutate(p)
			err := p.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidPolicy)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

// FuzzPolicyStep feeds random timelines to a three-node policy with a
// witness and a notify check, completing most switches and issuing some
// manual ones, and checks the invariants every decision must keep.
func FuzzPolicyStep(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, uint8(0))
	f.Add([]byte{0xff, 0xfe, 0x01, 0x80, 0x7f, 0x00, 0x00, 0x3c}, uint8(7))
	f.Add([]byte("the primary falls over and the witness is gone"), uint8(42))
	names := []string{"p", "b", "t", "w", "ssh"}
	f.Fuzz(func(t *testing.T, data []byte, cfg uint8) {
		p := threeNodes()
		p.Checks = append(p.Checks,
			CheckSpec{Name: "w", Role: RoleWitness},
			CheckSpec{Name: "ssh", Node: "primary", Role: RoleNotify})
		p.FailAfter = int(cfg%4) + 1
		p.RiseAfter = int(cfg/4%3) + 1
		p.Failback = []FailbackMode{FailbackAuto, FailbackDelayed, FailbackManual}[cfg/12%3]
		p.FailbackDelay = time.Minute
		if cfg&0x80 != 0 {
			p.DownWhen = DownAll
			p.HoldDown = 2 * time.Minute
			p.Grace = time.Minute
		}
		require.NoError(t, p.Validate())

		var st State
		now := t0
		for i := 0; i+1 < len(data); i += 2 {
			mask, ctl := data[i], data[i+1]
			now = now.Add(time.Duration(ctl&0x3f) * 5 * time.Second)
			res := make(map[string]error)
			for j, name := range names {
				switch (mask >> (j % 4 * 2)) & 3 { // two bits per check; ssh shares p's
				case 0:
					res[name] = errRefused
				case 1, 2:
					res[name] = nil
				}
			}
			if ctl&0x40 != 0 {
				to := []string{"primary", "backup", "third", "nosuch"}[mask%4]
				d, err := p.Manual(&st, now, to, ctl&0x80 != 0)
				if err == nil && d.Switch {
					require.NotEqual(t, d.From, d.To)
					p.Complete(&st, now, d.To)
				}
				continue
			}
			active := st.Active
			d := p.Step(&st, Round{Time: now, Results: res})
			if !d.Switch {
				continue
			}
			require.NotEqual(t, d.From, d.To, "switch From == To")
			require.Equal(t, active, d.From)
			require.Equal(t, StatusUp, st.Nodes[d.To].Status, "switch to a node that is not up")
			require.False(t, st.Isolated, "switch while isolated")
			require.False(t, now.Before(st.Started.Add(p.Grace)), "switch in grace")
			require.False(t, p.heldDown(&st, now), "switch within hold-down")
			if ctl&0x20 == 0 {
				p.Complete(&st, now, d.To)
			}
		}
	})
}

func BenchmarkPolicyStep(b *testing.B) {
	p := threeNodes()
	p.Checks = append(p.Checks,
		CheckSpec{Name: "w", Role: RoleWitness},
		CheckSpec{Name: "ssh", Node: "primary", Role: RoleNotify},
		CheckSpec{Name: "db", Node: "primary"})
	rounds := []map[string]error{
		results("+p +b +t +w +ssh +db"),
		results("-p +b +t +w -ssh +db"),
		results("-p +b +t +w +ssh -db"),
		results("+p +b -t +w +ssh +db"),
	}
	var st State
	now := t0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		now = now.Add(time.Second)
		d := p.Step(&st, Round{Time: now, Results: rounds[i%len(rounds)]})
		if d.Switch {
			p.Complete(&st, now, d.To)
		}
	}
}
