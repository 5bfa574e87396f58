package gateway

import (
	"log/slog"
	"testing"
)

// webhookAllocsBound is what one single-alert webhook that opens an
// incident may allocate on the server, on Redis, logging at info (the
// server's side of BenchmarkAlertmanagerWebhookServerSide): at 340 µs of
// CPU a webhook, a third of it the allocator and the collector, each
// allocation the intake stops making is throughput. Lower it as the
// path gets cheaper; a change that raises it must say why.
const webhookAllocsBound = 240

// TestAlertmanagerWebhookAllocations holds the intake to
// webhookAllocsBound.
func TestAlertmanagerWebhookAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates as it likes: the count is the plain build's")
	}
	e := newBenchEnv(t, logLevel(slog.LevelInfo))
	handler := e.h.d.Handler()
	const runs = 200
	reqs, recs := newWebhookRequests(runs + 1) // AllocsPerRun runs once more to warm up
	i := 0
	allocs := testing.AllocsPerRun(runs, func() {
		handler.ServeHTTP(recs[i], reqs[i])
		if recs[i].Code != 200 {
			t.Fatalf("status %d: %s", recs[i].Code, recs[i].Body)
		}
		i++
	})
	t.Logf("%.0f allocations a webhook", allocs)
	if allocs > webhookAllocsBound {
		t.Errorf("a webhook allocates %.0f times on the server, over the bound of %d", allocs, webhookAllocsBound)
	}
}
