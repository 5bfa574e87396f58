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

// TestConsoleSecondPressIsNotSomeoneElses: an Acknowledge or Resolve
// pressed twice (a double tap on a phone, a form sent again) changes
// nothing the second time, and the page says the person had done it
// already. (Before, it said "someone got there first": the person who had
// just acknowledged it read that someone else was on it.) When someone
// else did get there first, the page still says so.
func TestConsoleSecondPressIsNotSomeoneElses(t *testing.T) {
	h, id, ann := annSignedInOnAPagedIncident(t)
	page := ann.get("/ui/incidents/" + id)
	for _, action := range []string{"acknowledge", "resolve"} {
		path := "/ui/incidents/" + id + "/" + action
		first := ann.follow(ann.post(page.body, path, hiddenFields(t, page.body, path)))
		mustNotContain(t, action+" pressed once", first.body, "Nothing changed")
		again := ann.follow(ann.post(page.body, path, hiddenFields(t, page.body, path)))
		mustContain(t, action+" pressed twice", again.body, "Nothing changed: you had done it already")
		mustNotContain(t, action+" pressed twice", again.body, "someone got there first")
	}

	other := fireLabels(h, "g2", map[string]string{"alertname": "B", "severity": "critical"})
	page = ann.get("/ui/incidents/" + other)
	if r := h.api("POST", "/api/v1/incidents/"+other+"/acknowledge", `{"user":"bob"}`); r.code != 200 {
		t.Fatalf("bob's ack: %d %s", r.code, r.body)
	}
	path := "/ui/incidents/" + other + "/acknowledge"
	mustContain(t, "ann's ack after bob's", ann.follow(ann.post(page.body, path, hiddenFields(t, page.body, path))).body,
		"Nothing changed: someone got there first")
}

// TestConsoleActionMessageIsThisSessions: what an incident page says a
// button did comes only from this session's own redirect. A link someone
// made, or copied from their address bar, with ?done=escalate says nothing
// of an escalation, and one with ?done=nothing does not say "someone got
// there first" of an incident nobody has acknowledged. (Before, anyone's
// link made the page say "Escalated." or that someone was on it, while
// nothing had been done and the incident paged on; the calendar's
// messages were signed already.)
func TestConsoleActionMessageIsThisSessions(t *testing.T) {
	h, id, ann := annSignedInOnAPagedIncident(t)
	for done, claim := range map[string]string{"escalate": "Escalated.", "nothing": "someone got there first", "status": "Status update posted"} {
		mustNotContain(t, "a link with ?done="+done, ann.get("/ui/incidents/"+id+"?done="+done).body, claim)
	}
	page := ann.get("/ui/incidents/" + id)
	path := "/ui/incidents/" + id + "/escalate"
	r := ann.post(page.body, path, hiddenFields(t, page.body, path))
	landed := r.hdr.Get("Location")
	mustContain(t, "the page escalating landed on", ann.get(landed).body, "Escalated.")
	bob := newUIClient(t, h.url)
	bob.signIn("ann", consolePassword) // another session of hers: another browser
	mustNotContain(t, "her redirect opened in another session", bob.get(landed).body, "Escalated.")
}

// TestConsoleResolveOfAPageShownBeforeARaiseIsRefused: ann opens a P2
// incident; before she presses Resolve, a critical alert joins its group
// and raises it to P0. Her press, from the page that showed the P2, answers
// 409 and leaves it open, paging; the page loaded again (showing the P0)
// resolves it. (Before, the press resolved the P0 she had never seen: its
// pages stopped, and the alert still firing opened nothing until
// Alertmanager sent the group again.)
func TestConsoleResolveOfAPageShownBeforeARaiseIsRefused(t *testing.T) {
	h, _ := consoleHarness(t)
	warn := map[string]string{"alertname": "A", "severity": "warning"}
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g1", warn), "Authorization", "Bearer "+amKey)
	var res struct{ Incidents []string }
	r.json(h.t, &res)
	id := res.Incidents[0]
	h.step(fixedNow)
	ann := newUIClient(t, h.url)
	ann.signIn("ann", consolePassword)
	page := ann.get("/ui/incidents/" + id)
	h.clock.Set(fixedNow.Add(time.Minute))
	r = h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g1", warn, map[string]string{"alertname": "B", "severity": "critical"}),
		"Authorization", "Bearer "+amKey)
	if r.code != 200 {
		t.Fatalf("the raising alert: %d %s", r.code, r.body)
	}
	if v := h.incident(id); v.Priority != "P0" {
		t.Fatalf("not raised: %s", v.Priority)
	}
	path := "/ui/incidents/" + id + "/resolve"
	r = ann.post(page.body, path, hiddenFields(t, page.body, path))
	if v := h.incident(id); r.code != http.StatusConflict || v.Status == "resolved" {
		t.Fatalf("ann's Resolve from the page of the P2: %d; the incident %s %s", r.code, v.Priority, v.Status)
	}
	mustContain(t, "the refusal", r.body, "Not resolved", "P0")
	page = ann.get("/ui/incidents/" + id)
	r = ann.post(page.body, path, hiddenFields(t, page.body, path))
	if v := h.incident(id); r.code != http.StatusSeeOther || v.Status != "resolved" {
		t.Fatalf("ann's Resolve from the page loaded again: %d; the incident %s", r.code, v.Status)
	}
}
