package failovermetrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy-ha/understudy/failover"
)

// knownKinds are the event kinds whose counters start at 0, so that
// rate() and increase() see their first event. Other kinds are counted
// from their first occurrence.
var knownKinds = []failover.EventKind{
	failover.EventCheckWarn, failover.EventCheckDown, failover.EventCheckUp,
	failover.EventNodeDown, failover.EventNodeUp,
	failover.EventIsolated, failover.EventWitnessOK,
	failover.EventNoHealthyNode, failover.EventHeldDown, failover.EventFailbackPending,
	failover.EventSwitchIntended, failover.EventSwitchResumed, failover.EventSwitchDone, failover.EventSwitchFailed,
	failover.EventStateReset, failover.EventAddressChanged,
}

// Events is a [prometheus.Collector] of counters fed by [Events.Observe]:
// understudy_events_total{kind}, understudy_switches_total{to} and
// understudy_switch_failures_total. The counters start at zero with the
// Events value: they count what this process saw, as Prometheus counters
// do, and are not restored from the state file.
type Events struct {
	events         *prometheus.CounterVec
	switches       *prometheus.CounterVec
	switchFailures prometheus.Counter
}

// NewEvents returns counters at zero.
func NewEvents() *Events {
	e := &Events{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "understudy_events_total",
			Help: "Events emitted by the arbiter, by kind.",
		}, []string{"kind"}),
		switches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "understudy_switches_total",
			Help: "Switches completed (every switcher succeeded), by target node.",
		}, []string{"to"}),
		switchFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "understudy_switch_failures_total",
			Help: "Switches that failed after their retries (counted once per intended switch).",
		}),
	}
	for _, k := range knownKinds {
		e.events.WithLabelValues(string(k))
	}
	return e
}

// Observe counts ev. It has the signature of [failover.Config.OnEvent]
// and is safe for concurrent use.
func (e *Events) Observe(ev failover.Event) {
	e.events.WithLabelValues(string(ev.Kind)).Inc()
	switch ev.Kind {
	case failover.EventSwitchDone:
		e.switches.WithLabelValues(ev.To).Inc()
	case failover.EventSwitchFailed:
		e.switchFailures.Inc()
	}
}

// Describe sends the descriptors of the counters.
func (e *Events) Describe(ch chan<- *prometheus.Desc) {
	e.events.Describe(ch)
	e.switches.Describe(ch)
	e.switchFailures.Describe(ch)
}

// Collect sends the counters.
func (e *Events) Collect(ch chan<- prometheus.Metric) {
	e.events.Collect(ch)
	e.switches.Collect(ch)
	e.switchFailures.Collect(ch)
}

// Chain returns an OnEvent function that calls each non-nil f in order,
// so that Observe can be added to a [failover.Config] whose OnEvent is
// already set. With no non-nil f it returns nil.
func Chain(fs ...func(failover.Event)) func(failover.Event) {
	var set []func(failover.Event)
	for _, f := range fs {
		if f != nil {
			set = append(set, f)
		}
	}
	switch len(set) {
	case 0:
		return nil
	case 1:
		return set[0]
	}
	return func(ev failover.Event) {
		for _, f := range set {
			f(ev)
		}
	}
}
