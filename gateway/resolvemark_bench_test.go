package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/ingest"
)

// BenchmarkFingerprintResolveNothingOpen is what a resolved notification
// of 1,000 alerts costs in fingerprint mode when none of them has an
// incident open: the second Alertmanager of an HA pair sends every
// resolve again, and each finds nothing to end, so each leaves a resolve
// mark. The handler is called in-process, as in
// BenchmarkAlertmanagerWebhookServerSide, on each store, on the real
// clock: each notification's marks replace the last one's.
func BenchmarkFingerprintResolveNothingOpen(b *testing.B) {
	body := manyAlerts("resolved", "g-resolved", ingest.MaxAlertsPerMessage)
	for _, name := range []string{"redis", "embedded"} {
		b.Run(name, func(b *testing.B) {
			var h *harness
			if name == "redis" {
				h = newBenchEnv(b).h
			} else {
				h = newHarness(b, withStore(boltStore(b)), withConfig(testConfig+"server: {rate_limit: {per_second: 0}}\n"), withNow(time.Now), quiet())
			}
			handler := h.d.Handler()
			reqs := make([]*http.Request, b.N)
			recs := make([]*httptest.ResponseRecorder, b.N)
			for i := range reqs {
				reqs[i] = httptest.NewRequest("POST", "/api/v1/alertmanager", strings.NewReader(body))
				reqs[i].Header.Set("Content-Type", "application/json")
				reqs[i].Header.Set("Authorization", "Bearer "+batchKey)
				recs[i] = httptest.NewRecorder()
			}
			start := time.Now()
			serveTimed(b, handler, reqs, recs)
			b.StopTimer()
			// The marks were written: the store's next due is theirs.
			at, ok, err := h.d.store.NextDue(context.Background())
			if err != nil || !ok || at.Before(start.Add(incident.ResolveMarkKeep-time.Minute)) {
				b.Fatalf("no resolve mark stored: next due %v, %v, %v", at, ok, err)
			}
		})
	}
}
