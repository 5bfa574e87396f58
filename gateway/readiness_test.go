package gateway

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pagerd/pagerd/gateway/store"
)

// pagerd_ready says at each scrape what /-/ready says: 0 while Redis is
// down, 1 once it is back.
func TestReadyMetric(t *testing.T) {
	st, r := redisStore(t)
	h := newHarness(t, withStore(st))
	ready := func() string {
		t.Helper()
		for _, l := range strings.Split(h.do("GET", "/metrics", "").body, "\n") {
			if strings.HasPrefix(l, "pagerd_ready ") {
				return strings.TrimPrefix(l, "pagerd_ready ")
			}
		}
		t.Fatal("no pagerd_ready in /metrics")
		return ""
	}
	if v := ready(); v != "1" {
		t.Fatalf("pagerd_ready %s with Redis up", v)
	}
	r.Stop(t)
	if v := ready(); v != "0" {
		t.Fatalf("pagerd_ready %s with Redis down", v)
	}
	r.Restart(t)
	if v := ready(); v != "1" {
		t.Fatalf("pagerd_ready %s after Redis came back", v)
	}
}

// TestReadinessIgnoresWritesTheirSenderGaveUp: a write that failed because
// its sender hung up (context.Canceled) says nothing about the store and
// leaves readiness green; one that ran out of time turns it red, as does
// a refused one.
func TestReadinessIgnoresWritesTheirSenderGaveUp(t *testing.T) {
	h := NewHealth(boltStore(t), 0)
	ctx := context.Background()
	gaveUp := fmt.Errorf("%w: %w: the commit did not finish in time: %w", store.ErrUnavailable, store.ErrOutcomeUnknown, context.Canceled)
	h.write(writeAlert, gaveUp)
	if err := h.Check(ctx); err != nil {
		t.Fatalf("a sender that hung up turned readiness red: %v", err)
	}
	slow := fmt.Errorf("%w: %w: the commit did not finish in time: %w", store.ErrUnavailable, store.ErrOutcomeUnknown, context.DeadlineExceeded)
	h.write(writeAlert, slow)
	if err := h.Check(ctx); err == nil || !strings.Contains(err.Error(), "writes of alerts") {
		t.Fatalf("a write that ran out of time: readiness %v", err)
	}
	h.write(writeAlert, nil)
	h.write(writeUpdate, fmt.Errorf("%w: disk full", store.ErrUnavailable))
	if err := h.Check(ctx); err == nil || !strings.Contains(err.Error(), "acknowledgements") {
		t.Fatalf("a refused acknowledgement: readiness %v", err)
	}
}
