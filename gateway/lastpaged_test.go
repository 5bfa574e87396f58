package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// An SMS reply finds the open incident paged to the number even when more
// than a thousand newer incidents have been resolved since (before, it
// looked only at the newest thousand incidents of any status).
func TestLastPagedLooksPastResolvedIncidents(t *testing.T) {
	ctx := context.Background()
	st := boltStore(t)
	at := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	put := func(dedup string, at time.Time, status policy.Status, tl ...store.Entry) string {
		t.Helper()
		inc := &store.Incident{ID: store.NewID(store.ShardOf("api", dedup), at), Service: "api", DedupKey: dedup,
			Source: "alertmanager", Summary: dedup, CreatedAt: at, UpdatedAt: at, LastSeen: at,
			Details: json.RawMessage(`{}`),
			State:   policy.Incident{Service: "api", Priority: "P1", Urgency: "high", Status: status, Epoch: 1, TriggeredAt: at, LevelStartedAt: at}}
		inc.State.ID = inc.ID
		id, _, err := st.Trigger(ctx, inc, tl)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	paged := put("paged", at, policy.StatusTriggered, store.Entry{At: at, Type: "notify", User: "ann", Channel: "sms"})
	for i := 0; i < 1001; i++ {
		put(fmt.Sprintf("later-%d", i), at.Add(time.Duration(i+1)*time.Second), policy.StatusResolved)
	}
	svc := incident.New(incident.Options{Store: st, Config: func() *policy.Config { return &policy.Config{} }})
	got, err := svc.LastPaged(ctx, "ann", "sms", true, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if got.Target != paged {
		t.Errorf("last paged to ann by SMS: %q, want %s", got.Target, paged)
	}
}

// goneTimeline is a store in which one incident is deleted (retention)
// between being listed and its timeline being read.
type goneTimeline struct {
	store.Store
	gone string
}

func (g goneTimeline) Timeline(ctx context.Context, id string) ([]store.Entry, error) {
	if id == g.gone {
		return nil, fmt.Errorf("%w: %s", store.ErrNotFound, id)
	}
	return g.Store.Timeline(ctx, id)
}

// An incident that is gone by the time its timeline is read was paged to
// nobody any more: an SMS reply still finds the others, rather than being
// told it was not recorded.
func TestLastPagedSkipsAnIncidentGoneSinceListed(t *testing.T) {
	ctx := context.Background()
	st := boltStore(t)
	at := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	put := func(dedup string, at time.Time) string {
		t.Helper()
		inc := &store.Incident{ID: store.NewID(store.ShardOf("api", dedup), at), Service: "api", DedupKey: dedup,
			Source: "alertmanager", Summary: dedup, CreatedAt: at, UpdatedAt: at, LastSeen: at,
			Details: json.RawMessage(`{}`),
			State:   policy.Incident{Service: "api", Priority: "P1", Urgency: "high", Status: policy.StatusTriggered, Epoch: 1, TriggeredAt: at, LevelStartedAt: at}}
		inc.State.ID = inc.ID
		id, _, err := st.Trigger(ctx, inc, []store.Entry{{At: at, Type: "notify", User: "ann", Channel: "sms"}})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	paged := put("paged", at)
	gone := put("gone", at.Add(time.Minute))
	svc := incident.New(incident.Options{Store: goneTimeline{st, gone}, Config: func() *policy.Config { return &policy.Config{} }})
	got, err := svc.LastPaged(ctx, "ann", "sms", true, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if got.Target != paged {
		t.Errorf("last paged to ann by SMS: %q, want %s", got.Target, paged)
	}
}

// reopenAfterList is a store in which an acknowledged incident is
// reopened just after the first list of incidents is read.
type reopenAfterList struct {
	store.Store
	once func()
}

func (r *reopenAfterList) List(ctx context.Context, f store.Filter) ([]*store.Incident, error) {
	incs, err := r.Store.List(ctx, f)
	if r.once != nil {
		r.once()
		r.once = nil
	}
	return incs, err
}

// An incident reopened while the open incidents are read is still found:
// read status by status (triggered, then acknowledged), it was in
// neither list, and a reply to its page was told nothing was paged.
func TestLastPagedFindsAnIncidentReopenedWhileListing(t *testing.T) {
	ctx := context.Background()
	st := boltStore(t)
	at := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	inc := &store.Incident{ID: store.NewID(store.ShardOf("api", "reopened"), at), Service: "api", DedupKey: "reopened",
		Source: "alertmanager", Summary: "reopened", CreatedAt: at, UpdatedAt: at, LastSeen: at,
		Details: json.RawMessage(`{}`),
		State: policy.Incident{Service: "api", Priority: "P1", Urgency: "high", Status: policy.StatusAcknowledged, Epoch: 1,
			TriggeredAt: at, AcknowledgedAt: at, AcknowledgedBy: "ann", LevelStartedAt: at}}
	inc.State.ID = inc.ID
	id, _, err := st.Trigger(ctx, inc, []store.Entry{{At: at, Type: "notify", User: "ann", Channel: "sms"}})
	if err != nil {
		t.Fatal(err)
	}
	r := &reopenAfterList{Store: st, once: func() {
		got, err := st.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got.State.Status, got.State.AcknowledgedAt, got.State.AcknowledgedBy = policy.StatusTriggered, time.Time{}, ""
		if err := st.Update(ctx, got, []store.Entry{{At: at.Add(time.Minute), Type: "reopen"}}); err != nil {
			t.Fatal(err)
		}
	}}
	svc := incident.New(incident.Options{Store: r, Config: func() *policy.Config { return &policy.Config{} }})
	got, err := svc.LastPaged(ctx, "ann", "sms", true, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if got.Target != id {
		t.Errorf("last paged to ann by SMS: %q, want %s", got.Target, id)
	}
}
