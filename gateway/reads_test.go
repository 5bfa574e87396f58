package gateway

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/pagerd/pagerd/gateway/store"
)

// readCounter counts the incident reads made through it.
type readCounter struct {
	store.Store
	gets, finds atomic.Int64
}

func (r *readCounter) Get(ctx context.Context, id string) (*store.Incident, error) {
	r.gets.Add(1)
	return r.Store.Get(ctx, id)
}

func (r *readCounter) FindByDedup(ctx context.Context, service, key string) (*store.Incident, error) {
	r.finds.Add(1)
	return r.Store.FindByDedup(ctx, service, key)
}

// TestResolveAndRaiseReadTheIncidentOnce: an Alertmanager resolve finds
// its incident by the group's key and resolves what it found, and a repeat
// that raises the priority reads the incident once and raises what it
// read, instead of reading it again for the write (on Redis a find is two
// round trips and a read one: a resolve took four, now three).
func TestResolveAndRaiseReadTheIncidentOnce(t *testing.T) {
	rc := &readCounter{Store: boltStore(t)}
	h := newHarness(t, withStore(rc))
	post := func(status, severity string) {
		t.Helper()
		r := h.do("POST", "/api/v1/alertmanager", amPayload(status, "g1", map[string]string{"alertname": "A", "severity": severity}),
			"Authorization", "Bearer "+amKey)
		if r.code != 200 {
			t.Fatalf("webhook %s %s: %d %s", status, severity, r.code, r.body)
		}
	}
	post("firing", "warning")
	id := h.list("")[0].ID
	rc.gets.Store(0)
	post("firing", "critical") // a repeat that raises the priority
	if n := rc.gets.Load(); n != 1 {
		t.Errorf("a repeat that raised the priority read the incident %d times, want 1", n)
	}
	if p := h.incident(id).Priority; p != "P0" {
		t.Fatalf("the repeat did not raise the priority: %s", p)
	}
	rc.gets.Store(0)
	rc.finds.Store(0)
	post("resolved", "critical")
	if g, f := rc.gets.Load(), rc.finds.Load(); g != 0 || f != 1 {
		t.Errorf("a resolve read the incident %d times by id and found it %d times by key, want 0 and 1", g, f)
	}
	if st := h.incident(id).Status; st != "resolved" {
		t.Fatalf("not resolved: %s", st)
	}
}
