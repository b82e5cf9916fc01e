package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/failover/failovermetrics"
)

// metricsHandler serves the Prometheus metrics of the daemon from a
// registry of its own: the arbiter's state (read at scrape time), the
// event counters, the notifications lost to a notifier that could not
// keep up, the Go runtime and the process. Nothing is registered on the
// global default registry.
func metricsHandler(a *failover.Arbiter, events *failovermetrics.Events) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		failovermetrics.NewCollector(a),
		events,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "understudy_notifications_dropped_total",
			Help: "Notifications never sent or cut short because a notifier's queue was full or the daemon stopped.",
		}, func() float64 { return float64(a.DroppedNotifications()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}
