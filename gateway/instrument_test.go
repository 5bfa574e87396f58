package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/gateway/store"
)

// TestInstrumentedStoreAndDispatcherMetrics: one wrapped store times the
// server's and the dispatcher's operations alike, keeps Redis's nudges and
// broadcasts, and the dispatcher counts what it sent.
func TestInstrumentedStoreAndDispatcherMetrics(t *testing.T) {
	raw, _ := redisStore(t)
	h := newHarness(t, withStore(raw), withConfig(dispatchConfig))
	if _, ok := h.d.Store().(store.Nudger); !ok {
		t.Fatal("the instrumented Redis store lost its nudges")
	}
	if _, ok := h.d.Store().(store.Broadcaster); !ok {
		t.Fatal("the instrumented Redis store lost its broadcasts")
	}
	embedded := Instrument(boltStore(t), prometheus.NewRegistry(), nil)
	if _, ok := embedded.(store.Nudger); ok {
		t.Fatal("the embedded store cannot nudge; its wrapper must not claim to")
	}
	if _, ok := embedded.(store.Broadcaster); ok {
		t.Fatal("the embedded store cannot broadcast; its wrapper must not claim to")
	}
	reg := h.reg
	fire(h)
	h.runUntil(fixedNow.Add(3 * time.Minute))
	if got := metric(t, reg, "pagerd_pages_total", "channel", "push", "via", "log", "result", "sent"); got != 1 {
		t.Fatalf("push pages sent: %v", got)
	}
	if got := metric(t, reg, "pagerd_pages_total", "channel", "sms", "via", "log", "result", "sent"); got != 1 {
		t.Fatalf("sms pages sent: %v", got)
	}
	if got := metric(t, reg, "pagerd_dispatch_claims_total"); got < 2 {
		t.Fatalf("claims: %v", got)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, mf := range mfs {
		if mf.GetName() == "pagerd_store_operation_duration_seconds" {
			for _, m := range mf.GetMetric() {
				ops = append(ops, m.GetLabel()[0].GetValue())
			}
		}
	}
	for _, op := range []string{"trigger", "claim", "storm_admit", "finish"} {
		if !strings.Contains(strings.Join(ops, ","), op) {
			t.Errorf("store operation %q not timed; timed: %v", op, ops)
		}
	}
}
