package gateway

import (
	"context"
	"errors"
	"fmt"
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

// failingTrigger is a store whose writes of alerts fail with err.
type failingTrigger struct {
	store.Store
	err error
}

func (f failingTrigger) Trigger(context.Context, *store.Incident, []store.Entry) (string, store.Outcome, error) {
	return "", 0, f.err
}

// TestStoreErrorsLeaveOutHungUpSenders: pagerd_store_errors_total agrees
// with readiness. A write that failed because its sender hung up
// (context.Canceled) says nothing about the store and is not counted, so
// clients that disconnect do not fire PagerdStoreErrors; one that ran out
// of time is counted, as is a refused one.
func TestStoreErrorsLeaveOutHungUpSenders(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want float64
	}{
		{"the sender hung up", fmt.Errorf("%w: %w: the commit did not finish in time: %w", store.ErrUnavailable, store.ErrOutcomeUnknown, context.Canceled), 0},
		{"the store ran out of time", fmt.Errorf("%w: %w: the commit did not finish in time: %w", store.ErrUnavailable, store.ErrOutcomeUnknown, context.DeadlineExceeded), 1},
		{"the store refused", fmt.Errorf("%w: disk full", store.ErrUnavailable), 1},
		{"not the store's failure", errors.New("incident too large"), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			st := Instrument(failingTrigger{Store: boltStore(t), err: tc.err}, reg, nil)
			if _, _, err := st.Trigger(context.Background(), &store.Incident{}, nil); !errors.Is(err, tc.err) {
				t.Fatalf("the wrapper answered %v, want %v", err, tc.err)
			}
			if got := metric(t, reg, "pagerd_store_errors_total", "op", "trigger"); got != tc.want {
				t.Errorf("pagerd_store_errors_total{op=\"trigger\"} %v after %v, want %v", got, tc.err, tc.want)
			}
		})
	}

	// What each store really answers a sender that hung up.
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			st := Instrument(open(t), reg, nil)
			err := triggerHungUp(st)
			if err == nil {
				t.Skip("the store took a write whose context was canceled")
			}
			if got := metric(t, reg, "pagerd_store_errors_total", "op", "trigger"); got != 0 {
				t.Errorf("a write given up by its sender (%v) counted as %v store errors", err, got)
			}
		})
	}
}
