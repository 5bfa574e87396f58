package gateway

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
)

// listHook is a store that runs a function once, right after the first
// List it answers: a change that lands between two reads of one page.
type listHook struct {
	store.Store
	mu    sync.Mutex
	after func()
}

func (s *listHook) List(ctx context.Context, f store.Filter) ([]*store.Incident, error) {
	incs, err := s.Store.List(ctx, f)
	s.mu.Lock()
	after := s.after
	s.after = nil
	s.mu.Unlock()
	if after != nil {
		after()
	}
	return incs, err
}

// TestConsoleListShowsAnIncidentReopenedWhileItIsRead: the incident list
// reads its open incidents; an acknowledged one that is re-opened (a
// missing status update, an escalation, a raise) while the page is being
// made is still on it. (Before, the list read the triggered incidents,
// then their timelines, then the acknowledged ones: an incident re-opened
// between those reads was in neither, and the page of a storm, where the
// timelines take longest, left out the very incident that paged again.)
func TestConsoleListShowsAnIncidentReopenedWhileItIsRead(t *testing.T) {
	st := &listHook{Store: boltStore(t)}
	h := newHarness(t, withConfig(consoleConfig(t, "")), withStore(st))
	id := fire(h)
	h.step(fixedNow)
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"bob"}`); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	ann := newUIClient(t, h.url)
	ann.signIn("ann", consolePassword)
	h.clock.Set(fixedNow.Add(time.Minute))
	st.mu.Lock()
	st.after = func() {
		if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"bob"}`); r.code != 200 {
			t.Errorf("escalate: %d %s", r.code, r.body)
		}
	}
	st.mu.Unlock()
	r := ann.get("/ui/incidents")
	if r.code != http.StatusOK {
		t.Fatalf("list: %d %s", r.code, r.body)
	}
	if n := strings.Count(r.body, `href="/ui/incidents/`+id+`"`); n != 1 {
		t.Fatalf("the incident re-opened while the list was read is on it %d times, want once:\n%s", n, r.body)
	}
	if v := h.incident(id); v.Status != "triggered" {
		t.Fatalf("the escalation did not re-open it: %s", v.Status)
	}
}
