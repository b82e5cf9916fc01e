package failovermetrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy-ha/understudy/failover"
)

// Compile-time guards.
var (
	_ prometheus.Collector = (*Collector)(nil)
	_ prometheus.Collector = (*Events)(nil)
)

// Collector is a [prometheus.Collector] of an arbiter's situation (the
// gauges listed in the package doc), read from [failover.Arbiter.Snapshot]
// at each scrape.
type Collector struct {
	arbiter *failover.Arbiter

	nodeUp, nodeActive                   *prometheus.Desc
	checkUp, checkFails, checkLatency    *prometheus.Desc
	isolated, switchPending, lastRoundTS *prometheus.Desc
}

// NewCollector returns a Collector reading a.
func NewCollector(a *failover.Arbiter) *Collector {
	checkLabels := []string{"check", "node", "role"}
	return &Collector{
		arbiter: a,
		nodeUp: prometheus.NewDesc("understudy_node_up",
			"Whether the node is up (1) or down (0); no sample while its status is unknown.", []string{"node"}, nil),
		nodeActive: prometheus.NewDesc("understudy_node_active",
			"Whether the node carries the traffic (1) or not (0).", []string{"node"}, nil),
		checkUp: prometheus.NewDesc("understudy_check_up",
			"Whether the check is up (1) or down (0) after its thresholds; no sample while its status is unknown.", checkLabels, nil),
		checkFails: prometheus.NewDesc("understudy_check_consecutive_failures",
			"Consecutive failures of the check.", checkLabels, nil),
		checkLatency: prometheus.NewDesc("understudy_check_latency_seconds",
			"Duration of the check's last run; no sample before it has run.", checkLabels, nil),
		isolated: prometheus.NewDesc("understudy_isolated",
			"Whether the witness checks fail (1): the arbiter may be cut off and makes no switch.", nil, nil),
		switchPending: prometheus.NewDesc("understudy_switch_pending",
			"Whether a decided switch has not completed yet (1).", nil, nil),
		lastRoundTS: prometheus.NewDesc("understudy_last_round_timestamp_seconds",
			"Unix time of the arbiter's last round; 0 before the first.", nil, nil),
	}
}

// Describe sends the descriptors of every metric Collect may send.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.nodeUp, c.nodeActive, c.checkUp, c.checkFails, c.checkLatency, c.isolated, c.switchPending, c.lastRoundTS} {
		ch <- d
	}
}

// Collect takes one snapshot of the arbiter and sends its metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.arbiter.Snapshot()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, n := range s.Nodes {
		if up, known := statusValue(n.Status); known {
			gauge(c.nodeUp, up, n.Name)
		}
		gauge(c.nodeActive, boolValue(n.Active), n.Name)
	}
	for _, cs := range s.Checks {
		role := cs.Role
		if role == "" {
			role = failover.RoleCritical
		}
		labels := []string{cs.Name, cs.Node, string(role)}
		if up, known := statusValue(cs.Status); known {
			gauge(c.checkUp, up, labels...)
		}
		gauge(c.checkFails, float64(cs.Fails), labels...)
		if !cs.Last.Time.IsZero() {
			gauge(c.checkLatency, cs.Last.Latency.Seconds(), labels...)
		}
	}
	gauge(c.isolated, boolValue(s.Isolated))
	gauge(c.switchPending, boolValue(s.Pending != nil))
	var last float64
	if !s.LastRound.IsZero() {
		last = float64(s.LastRound.UnixNano()) / 1e9
	}
	gauge(c.lastRoundTS, last)
}

// statusValue maps up to 1 and down to 0; known is false otherwise.
func statusValue(s failover.Status) (v float64, known bool) {
	switch s {
	case failover.StatusUp:
		return 1, true
	case failover.StatusDown:
		return 0, true
	}
	return 0, false
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
