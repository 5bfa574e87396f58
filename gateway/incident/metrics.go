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
	// deliveries counts providers' reports on pages they had taken: a
	// page the provider took counts as sent in pagerd_pages_total even
	// when it reports later that it never arrived.
	deliveries *prometheus.CounterVec
	// unmatched counts reports that a page reached nobody whose page
	// could not be found in its incident's timeline in time (reportedStep):
	// applied when the dispatcher records the page (EarlyReports, counted
	// in pagerd_delivery_reports_applied_late_total), or else lost, the
	// level keeping its timeout instead of escalating at once, which only
	// a WARN said.
	unmatched *prometheus.CounterVec

	mu             sync.Mutex
	initialisedFor map[string]bool
}

// alertSources and alertOutcomes are the labels of
// pagerd_alerts_received_total, created at zero for every service.
var (
	alertSources  = []string{"alertmanager", "pagerduty", "opsgenie", "heartbeat"}
	alertOutcomes = []string{"created", "repeated", "superseded", "updated", "acknowledged", "resolved", "ignored"}
)

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pagerd_alerts_received_total",
			Help: "Alerts and events received, by source, service and outcome (created, repeated, superseded, updated, acknowledged, resolved, resolve_superseded, ignored).",
		}, []string{"source", "service", "outcome"}),
		timeToAck: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pagerd_time_to_acknowledge_seconds", Help: "Time from trigger to first acknowledgement.",
			Buckets: []float64{10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400},
		}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pagerd_delivery_reports_total",
			Help: "Providers' reports on pages they had taken (Twilio's SMS delivery reports and call outcomes, a voicemail pickup among them), by channel and result (delivered, failed: the page did not reach the person).",
		}, []string{"channel", "result"}),
		unmatched: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pagerd_delivery_reports_unmatched_total",
			Help: "Providers' reports that a page reached nobody whose page pagerd could not find in its incident's timeline within 2 s (the page not recorded yet, its claim held up by a slow send beside it, or the timeline unreadable), by channel, per incident: the report is applied when the dispatcher records the page (pagerd_delivery_reports_applied_late_total); until then, and for good when it never does (a page never recorded), the page counts as gone out, so its level keeps its timeout instead of escalating at once when nothing of it reached anyone.",
		}, []string{"channel"}),
		initialisedFor: map[string]bool{},
	}
	for _, ch := range []string{policy.ChannelPush, policy.ChannelSMS, policy.ChannelVoice} {
		for _, res := range []string{"delivered", "failed"} {
			m.deliveries.WithLabelValues(ch, res)
		}
		m.unmatched.WithLabelValues(ch)
	}
	reg.MustRegister(m.alerts, m.timeToAck, m.deliveries, m.unmatched)
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
