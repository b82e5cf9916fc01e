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
// event counters, the Go runtime and the process. Nothing is registered
// on the global default registry.
func metricsHandler(a *failover.Arbiter, events *failovermetrics.Events) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		failovermetrics.NewCollector(a),
		events,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}
