package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/notify"
)

// TestInstrumentedStoreAndDispatcherMetrics: one wrapped store times the
// server's and the dispatcher's operations alike, keeps Redis's nudges, and
// the dispatcher counts what it sent.
func TestInstrumentedStoreAndDispatcherMetrics(t *testing.T) {
	raw, _ := redisStore(t)
	reg := prometheus.NewRegistry()
	st := Instrument(raw, reg, nil)
	if _, ok := st.(store.Nudger); !ok {
		t.Fatal("the instrumented Redis store lost its nudges")
	}
	if _, ok := Instrument(boltStore(t), prometheus.NewRegistry(), nil).(store.Nudger); ok {
		t.Fatal("the embedded store cannot nudge; its wrapper must not claim to")
	}
	h := newDispatchHarness(t, st, dispatchConfig, fixedNow, 0)
	rec := &recorder{}
	d := NewDispatcher(DispatcherOptions{Store: st, Config: h.srv.Config, Now: h.clock.Now, Registry: reg,
		Notifiers: map[string]notify.Notifier{"log": rec}})
	h.disp = []*Dispatcher{d}
	fire(h)
	h.runUntil(fixedNow.Add(3 * time.Minute))
	if got := testutil.ToFloat64(d.m.pages.WithLabelValues("push", "log", "sent")); got != 1 {
		t.Fatalf("push pages sent: %v", got)
	}
	if got := testutil.ToFloat64(d.m.pages.WithLabelValues("sms", "log", "sent")); got != 1 {
		t.Fatalf("sms pages sent: %v", got)
	}
	if got := testutil.ToFloat64(d.m.claims); got < 2 {
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
