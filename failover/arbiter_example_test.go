package failover_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/health"
)

// ExampleArbiter watches two web servers and moves traffic to the backup
// once the primary has failed three rounds in a row. A daemon calls Run;
// here each round is a Tick, as cron would make it.
func ExampleArbiter() {
	var primaryDown atomic.Bool
	primary := health.CheckerFunc(func(ctx context.Context) error {
		if primaryDown.Load() {
			return errors.New("connection refused")
		}
		return nil
	})
	backup := health.CheckerFunc(func(ctx context.Context) error { return nil })
	dns := failover.SwitcherFunc(func(ctx context.Context, to failover.Node) error {
		fmt.Println("  DNS now points at", to.Address)
		return nil
	})

	a, err := failover.New(failover.Config{
		Policy: failover.Policy{
			Nodes: []failover.Node{
				{Name: "primary", Address: netip.MustParseAddr("192.0.2.1"), Priority: 100},
				{Name: "backup", Address: netip.MustParseAddr("192.0.2.2"), Priority: 50},
			},
			FailAfter: 3,
		},
		Checks: []failover.Check{
			{CheckSpec: failover.CheckSpec{Name: "primary-http", Node: "primary"}, Checker: primary},
			{CheckSpec: failover.CheckSpec{Name: "backup-http", Node: "backup"}, Checker: backup},
		},
		Switchers: []failover.Switcher{dns},
		// StatePath: "/var/lib/understudy/state.json" keeps counters and
		// pending switches across restarts.
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for round := 1; round <= 4; round++ {
		if round == 2 {
			primaryDown.Store(true)
		}
		fmt.Printf("round %d:\n", round)
		rep, err := a.Tick(context.Background())
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, e := range rep.Events {
			fmt.Println("  " + describe(e))
		}
	}
	fmt.Println("active:", a.Snapshot().Active)
	// Output:
	// round 1:
	//   DNS now points at 192.0.2.1
	//   switch_intended to primary
	//   switch_done to primary
	// round 2:
	//   check_warn primary-http
	// round 3:
	// round 4:
	//   DNS now points at 192.0.2.2
	//   check_down primary-http
	//   node_down primary
	//   switch_intended primary to backup
	//   switch_done primary to backup
	// active: backup
}

// describe formats an event on one line: its kind and what it concerns.
func describe(e failover.Event) string {
	s := string(e.Kind)
	switch {
	case strings.HasPrefix(s, "check_"):
		s += " " + e.Check
	case e.Node != "":
		s += " " + e.Node
	}
	if e.From != "" {
		s += " " + e.From
	}
	if e.To != "" {
		s += " to " + e.To
	}
	return s
}
