package gateway

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// registerReadiness exports what /-/ready answers as pagerd_ready, checked
// at each scrape: probes tell Kubernetes, the metric tells the alert rules
// (deploy/prometheus), and a replica that cannot reach Redis shows as 0
// even while its process is up.
func registerReadiness(reg prometheus.Registerer, h *Health) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "pagerd_ready",
		Help: "What /-/ready answers: 1 when ready; 0 when the store does not answer or take writes, while stopping (--shutdown-delay), while Redis evicts any key (allkeys-* with a maxmemory), and for a minute after Redis lost pagerd's data.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if h.Check(ctx) != nil {
			return 0
		}
		return 1
	}))
}

// registerDataLost counts, in pagerd_store_data_lost_total (0 from the
// start, so an alert rule sees the series), the times a readiness probe
// found the store's data lost, and says each in the log: the pages of the
// incidents it held will not go out, and only people can page for them.
func registerDataLost(reg prometheus.Registerer, log *slog.Logger) func(err error) {
	lost := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "pagerd_store_data_lost_total",
		Help: "Times a readiness probe found the store's data gone (Redis restarted empty, failed over to a replica that had not had it, or flushed): open incidents and their pending pages were lost.",
	})
	reg.MustRegister(lost)
	return func(err error) {
		lost.Inc()
		log.Error("Redis lost pagerd's data: open incidents and their pending pages are gone", "err", err)
	}
}
