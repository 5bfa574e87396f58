package gateway

import (
	"context"
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
		Help: "1 when the store answers and takes writes (as /-/ready), 0 when it does not.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if h.Check(ctx) != nil {
			return 0
		}
		return 1
	}))
}
