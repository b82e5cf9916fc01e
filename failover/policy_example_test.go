package failover_test

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/understudy-ha/understudy/failover"
)

// A primary and a backup web server, each judged by its HTTP check, and a
// witness check that proves the arbiter itself is online. The primary
// fails three rounds in a row: the Policy moves the traffic to the backup,
// and back again once the primary has passed twice.
func ExamplePolicy() {
	p := &failover.Policy{
		Nodes: []failover.Node{
			{Name: "primary", Address: netip.MustParseAddr("192.0.2.1"), Priority: 100},
			{Name: "backup", Address: netip.MustParseAddr("192.0.2.2"), Priority: 50},
		},
		Checks: []failover.CheckSpec{
			{Name: "primary/http", Node: "primary"},
			{Name: "backup/http", Node: "backup"},
			{Name: "checkip", Role: failover.RoleWitness},
		},
		// FailAfter 3, RiseAfter 2, automatic failback: the defaults.
	}
	if err := p.Validate(); err != nil {
		fmt.Println(err)
		return
	}

	refused := errors.New("connection refused")
	st := &failover.State{Active: "primary"} // normally loaded from disk
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	primaryResults := []error{nil, refused, refused, refused, nil, nil}
	for i, primary := range primaryResults {
		now := start.Add(time.Duration(i) * time.Minute)
		d := p.Step(st, failover.Round{Time: now, Results: map[string]error{
			"primary/http": primary,
			"backup/http":  nil,
			"checkip":      nil,
		}})
		for _, e := range d.Events {
			fmt.Printf("%s %s: %s\n", now.Format("15:04"), e.Kind, e.Message)
		}
		if d.Switch {
			fmt.Printf("%s switch %s -> %s (%s)\n", now.Format("15:04"), d.From, d.To, d.Reason)
			// Carry the switch out (DNS, floating IP...), then:
			p.Complete(st, now, d.To)
		}
	}
	fmt.Println("active:", st.Active)
	// Output:
	// 12:01 check_warn: check "primary/http" failing (1 of 3): connection refused
	// 12:03 check_down: check "primary/http" down after 3 failures: connection refused
	// 12:03 node_down: node "primary" down: check "primary/http" down: connection refused
	// 12:03 switch primary -> backup (node_down)
	// 12:05 check_up: check "primary/http" up after 2 successes
	// 12:05 node_up: node "primary" up
	// 12:05 switch backup -> primary (failback)
	// active: primary
}

// An operator asks to move the traffic to a node that is down: the Policy
// refuses unless the request is forced.
func ExamplePolicy_Manual() {
	p := &failover.Policy{
		Nodes: []failover.Node{
			{Name: "primary", Address: netip.MustParseAddr("192.0.2.1"), Priority: 100},
			{Name: "backup", Address: netip.MustParseAddr("192.0.2.2"), Priority: 50},
		},
		Checks: []failover.CheckSpec{
			{Name: "primary/http", Node: "primary"},
			{Name: "backup/http", Node: "backup", FailAfter: 1},
		},
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	st := &failover.State{Active: "primary"}
	p.Step(st, failover.Round{Time: now, Results: map[string]error{
		"primary/http": nil,
		"backup/http":  errors.New("503 Service Unavailable"),
	}})

	_, err := p.Manual(st, now, "backup", false)
	fmt.Println(err)
	fmt.Println(errors.Is(err, failover.ErrUnsafe))

	d, err := p.Manual(st, now, "backup", true)
	fmt.Println(d.Switch, d.From, d.To, d.Reason, err)
	// Output:
	// manual switch to "backup": node is down: failover: unsafe switch refused
	// true
	// true primary backup manual <nil>
}
