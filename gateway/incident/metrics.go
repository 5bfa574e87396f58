package incident

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/policy"
)

// metrics are what the service counts, on the registry it was given.
type metrics struct {
	alerts    *prometheus.CounterVec
	timeToAck prometheus.Histogram

	mu             sync.Mutex
	initialisedFor map[string]bool
}

// alertSources and alertOutcomes are the labels of
// pagerd_alerts_received_total, created at zero for every service.
var (
	alertSources  = []string{"alertmanager", "pagerduty", "opsgenie", "heartbeat"}
	alertOutcomes = []string{"created", "repeated", "updated", "acknowledged", "resolved", "ignored"}
)

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pagerd_alerts_received_total",
			Help: "Alerts and events received, by source, service and outcome (created, repeated, updated, acknowledged, resolved, ignored).",
		}, []string{"source", "service", "outcome"}),
		timeToAck: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pagerd_time_to_acknowledge_seconds", Help: "Time from trigger to first acknowledgement.",
			Buckets: []float64{10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400},
		}),
		initialisedFor: map[string]bool{},
	}
	reg.MustRegister(m.alerts, m.timeToAck)
	return m
}

// InitMetrics creates the counters of every service of cfg at zero, so a
// rate() over them works from the first scrape and an absent series
// always means something. The daemon calls it for every config it takes
// into use.
func (s *Service) InitMetrics(cfg *policy.Config) {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, svc := range cfg.Services {
		if m.initialisedFor[svc.Name] {
			continue
		}
		m.initialisedFor[svc.Name] = true
		for _, src := range alertSources {
			for _, out := range alertOutcomes {
				m.alerts.WithLabelValues(src, svc.Name, out)
			}
		}
	}
}
