package failovermetrics_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"net/netip"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/failover/failovermetrics"
	"github.com/understudy-ha/understudy/failover/failovertest"
)

// Wire the event counters into OnEvent before the arbiter is built, then
// register both collectors on a registry of your own and serve it.
func Example() {
	events := failovermetrics.NewEvents()
	a, err := failover.New(failover.Config{
		Policy: failover.Policy{Nodes: []failover.Node{
			{Name: "web1", Address: netip.MustParseAddr("192.0.2.1"), Priority: 100},
			{Name: "web2", Address: netip.MustParseAddr("192.0.2.2"), Priority: 50},
		}},
		Checks: []failover.Check{
			{CheckSpec: failover.CheckSpec{Name: "web1-http", Node: "web1"}, Checker: &failovertest.Checker{}},
			{CheckSpec: failover.CheckSpec{Name: "web2-http", Node: "web2"}, Checker: &failovertest.Checker{}},
		},
		// Chain keeps an OnEvent you already have.
		OnEvent: failovermetrics.Chain(nil, events.Observe),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(failovermetrics.NewCollector(a), events)

	if _, err := a.Tick(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	// In a daemon: http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{})).
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for line := range strings.Lines(string(body)) {
		if strings.HasPrefix(line, "understudy_node_") || strings.HasPrefix(line, "understudy_switches_total") {
			fmt.Print(line)
		}
	}
	// Output:
	// understudy_node_active{node="web1"} 1
	// understudy_node_active{node="web2"} 0
	// understudy_node_up{node="web1"} 1
	// understudy_node_up{node="web2"} 1
	// understudy_switches_total{to="web1"} 1
}
