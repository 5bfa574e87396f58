package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the daemon's Prometheus series. They hang off a registry the
// caller passes in; there are no package-level globals.
type metrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	alerts        *prometheus.CounterVec
	reloads       *prometheus.CounterVec
	reloadSuccess prometheus.Gauge
	timeToAck     prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pagerd_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pagerd_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pagerd_alerts_received_total",
			Help: "Alerts and events received, by source, service and outcome (created, repeated, acknowledged, resolved, ignored).",
		}, []string{"source", "service", "outcome"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pagerd_config_reloads_total", Help: "Config reloads by result (success, failure).",
		}, []string{"result"}),
		reloadSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pagerd_config_last_reload_success_timestamp_seconds", Help: "When the config was last loaded successfully.",
		}),
		timeToAck: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pagerd_time_to_acknowledge_seconds", Help: "Time from trigger to first acknowledgement.",
			Buckets: []float64{10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400},
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.alerts, m.reloads, m.reloadSuccess, m.timeToAck)
	return m
}
