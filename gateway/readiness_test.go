package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
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

// TestReadinessIgnoresHungUpSendersOnEveryStore: the error each store
// returns for a write whose sender hung up is one readiness ignores; the
// Redis store's errors once kept only the text of context.Canceled, so a
// sender that hung up still turned a healthy replica red for 10 s.
func TestReadinessIgnoresHungUpSendersOnEveryStore(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			err := triggerHungUp(st)
			if err == nil {
				t.Skip("the store took a write whose context was canceled")
			}
			h := NewHealth(st, 0)
			h.write(writeAlert, err)
			if cerr := h.Check(context.Background()); cerr != nil {
				t.Fatalf("a write given up by its sender (%v) turned readiness red: %v", err, cerr)
			}
		})
	}
}

// triggerHungUp writes a new incident to st for a sender that has already
// hung up (its context canceled), and is the store's answer.
func triggerHungUp(st store.Store) error {
	at := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	inc := &store.Incident{ID: store.NewID(store.ShardOf("api", "k"), at), Service: "api", DedupKey: "k",
		Source: "alertmanager", Summary: "k", CreatedAt: at, UpdatedAt: at, LastSeen: at,
		Details: json.RawMessage(`{}`),
		State:   policy.Incident{Service: "api", Priority: "P1", Urgency: "high", Status: policy.StatusTriggered, Epoch: 1, TriggeredAt: at, LevelStartedAt: at}}
	inc.State.ID = inc.ID
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := st.Trigger(ctx, inc, nil)
	return err
}

// lostWhileRefused is a store whose probe finds the data of part of it lost
// while another part refuses the probe (a Redis Cluster master came back
// empty while another does not answer).
type lostWhileRefused struct{ store.Store }

func (lostWhileRefused) Probe(context.Context) error {
	return fmt.Errorf("%w: markers put back; and %w", store.ErrDataLost, fmt.Errorf("%w: i/o timeout", store.ErrUnavailable))
}

// A probe that found a loss while part of the store refused it says the
// loss (counted, logged) and keeps readiness red for the refusal, as a
// probe that failed outright does.
func TestProbeFindingALossWhileRefusedSaysBoth(t *testing.T) {
	h := NewHealth(lostWhileRefused{boltStore(t)}, 0)
	lost := 0
	h.OnDataLost(func(error) { lost++ })
	h.probe(context.Background())
	if lost != 1 {
		t.Fatalf("the loss was told %d times, want once", lost)
	}
	if err := h.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "refuses writes") {
		t.Fatalf("readiness after a probe refused in part: %v, want red for the refusal", err)
	}
}
