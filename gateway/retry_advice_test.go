package gateway

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pagerd/pagerd/gateway/ingest"
	"github.com/pagerd/pagerd/gateway/store"
)

// unconfirmedWrites is a store whose next write, once armed, is stored
// and then reported as a timeout waiting for the reply: the outcome the
// client cannot know (store.ErrOutcomeUnknown).
type unconfirmedWrites struct {
	store.Store
	armed atomic.Bool
}

var errUnconfirmed = fmt.Errorf("%w: %w: redis: i/o timeout", store.ErrUnavailable, store.ErrOutcomeUnknown)

func (s *unconfirmedWrites) after(err error) error {
	if err == nil && s.armed.CompareAndSwap(true, false) {
		return errUnconfirmed
	}
	return err
}

func (s *unconfirmedWrites) Trigger(ctx context.Context, inc *store.Incident, tl []store.Entry) (string, store.Outcome, error) {
	id, o, err := s.Store.Trigger(ctx, inc, tl)
	return id, o, s.after(err)
}

func (s *unconfirmedWrites) Update(ctx context.Context, inc *store.Incident, tl []store.Entry) error {
	return s.after(s.Store.Update(ctx, inc, tl))
}

func (s *unconfirmedWrites) PutDocs(ctx context.Context, kind string, version int64, put map[string][]byte, del []string) (int64, error) {
	v, err := s.Store.PutDocs(ctx, kind, version, put, del)
	return v, s.after(err)
}

func (s *unconfirmedWrites) PutJob(ctx context.Context, j store.Job) error {
	return s.after(s.Store.PutJob(ctx, j))
}

func (s *unconfirmedWrites) PutLaterJobs(ctx context.Context, jobs []store.Job) error {
	return s.after(s.Store.PutLaterJobs(ctx, jobs))
}

// TestUnconfirmedWriteSaysWhatARetryDoes: a write the store took but did
// not confirm answers 503 saying what a retry of that very request does,
// and the retry then does what the answer said. "A retry lands on the
// same incident" is true of an alert, not of an escalation without
// from_level (the next level paged twice), a status update (posted
// twice) or a maintenance window (made twice).
func TestUnconfirmedWriteSaysWhatARetryDoes(t *testing.T) {
	st := &unconfirmedWrites{Store: boltStore(t)}
	h := newHarness(t, withStore(st), withConfig(overridesConfig))
	open := func(group string) string {
		r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", group, map[string]string{"alertname": group, "severity": "critical"}),
			"Authorization", "Bearer "+amKey)
		var res struct{ Incidents []string }
		r.json(t, &res)
		return res.Incidents[0]
	}
	sameIncident := "a retry lands on the same incident"
	for _, tc := range []struct {
		name         string
		method, path string
		body         string
		says, notSay string
		retryCode    int
		after        func(t *testing.T, id string)
	}{
		{name: "alert", method: "POST", path: "/api/v1/alertmanager",
			body: amPayload("firing", "alert", map[string]string{"alertname": "alert"}), says: sameIncident, retryCode: 200,
			after: func(t *testing.T, _ string) {
				if n := len(h.list("")); n != 1 {
					t.Fatalf("%d incidents after the alert's retry, want 1", n)
				}
			}},
		{name: "acknowledge", method: "POST", path: "/api/v1/incidents/{id}/acknowledge", body: `{"user":"ann"}`,
			says: "acknowledging an acknowledged incident changes nothing", notSay: sameIncident, retryCode: 200,
			after: func(t *testing.T, id string) {
				if n := entries(h.incident(id), "ack"); n != 1 {
					t.Fatalf("%d acknowledgements after the retry, the answer said it changes nothing", n)
				}
			}},
		{name: "resolve", method: "POST", path: "/api/v1/incidents/{id}/resolve",
			says: "resolving a resolved incident changes nothing", notSay: sameIncident, retryCode: 200,
			after: func(t *testing.T, id string) {
				if n := entries(h.incident(id), "resolve"); n != 1 {
					t.Fatalf("%d resolves after the retry, the answer said it changes nothing", n)
				}
			}},
		{name: "escalate", method: "POST", path: "/api/v1/incidents/{id}/escalate",
			says: "do not retry as sent: if it was stored, a retry escalates again", notSay: sameIncident, retryCode: 200,
			after: func(t *testing.T, id string) {
				// What the answer warned of: escalated twice.
				if n := entries(h.incident(id), "escalate"); n != 2 {
					t.Fatalf("%d escalations after the retry, the answer said a retry escalates again", n)
				}
			}},
		{name: "escalate from a level", method: "POST", path: "/api/v1/incidents/{id}/escalate",
			body: `{"from_level":1,"from_level_at":"2025-09-10T06:00:00Z"}`,
			says: "retry the same request: if it was stored, the retry answers 409", notSay: sameIncident, retryCode: 409},
		{name: "status", method: "POST", path: "/api/v1/incidents/{id}/status", body: `{"message":"looking"}`,
			says: "a retry posts the update twice", notSay: sameIncident, retryCode: 200,
			after: func(t *testing.T, id string) {
				if n := h.incident(id).StatusUpdates; n != 2 {
					t.Fatalf("%d status updates after the retry, the answer said a retry posts it twice", n)
				}
			}},
		{name: "override", method: "POST", path: "/api/v1/schedules/s/overrides", body: `{"tier":"primary","user":"cat","duration":"4h"}`,
			says: "the retry answers 409, overlapping the override made", notSay: sameIncident, retryCode: 409},
		{name: "maintenance window", method: "POST", path: "/api/v1/maintenance", body: `{"services":["batch"],"duration":"1h"}`,
			says: "a retry adds a second window", notSay: sameIncident, retryCode: 201,
			after: func(t *testing.T, _ string) {
				if n := len(h.windows()); n != 2 {
					t.Fatalf("%d windows after the retry, the answer said a retry adds a second", n)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := ""
			path := tc.path
			if strings.Contains(path, "{id}") {
				id = open(strings.ReplaceAll(tc.name, " ", "-"))
				path = strings.ReplaceAll(path, "{id}", id)
			}
			req := func() response {
				if tc.name == "alert" {
					return h.do(tc.method, path, tc.body, "Authorization", "Bearer "+amKey)
				}
				return h.api(tc.method, path, tc.body)
			}
			st.armed.Store(true)
			r := req()
			st.armed.Store(false)
			if r.code != 503 || !strings.Contains(r.body, "may or may not have been stored; ") || !strings.Contains(r.body, tc.says) ||
				tc.notSay != "" && strings.Contains(r.body, tc.notSay) {
				t.Fatalf("unconfirmed write: %d %s, want 503 saying %q", r.code, r.body, tc.says)
			}
			if r := req(); r.code != tc.retryCode {
				t.Fatalf("the retry: %d %s, want %d as the answer said", r.code, r.body, tc.retryCode)
			}
			if tc.after != nil {
				tc.after(t, id)
			}
		})
	}
}

// entries counts the incident's timeline entries of a type.
func entries(v incidentView, typ string) int {
	n := 0
	for _, e := range v.Timeline {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// TestOpsgenieUnconfirmedWriteSaysWhatARetryDoes: the Opsgenie intake's
// 503 for a write the store took but did not confirm says what a retry of
// that very request does, and the retry does it. Close and acknowledge
// said "a retry lands on the same alert", as a create does: a retried
// close finds the alert closed and changes nothing (by alias, it finds no
// open alert; by id, a closed one), and so does a retried acknowledge.
func TestOpsgenieUnconfirmedWriteSaysWhatARetryDoes(t *testing.T) {
	st := &unconfirmedWrites{Store: boltStore(t)}
	h := newHarness(t, withStore(st), withConfig(hbConfig))
	create := func(alias string) string {
		h.og("POST", "/v2/alerts", `{"message":"DB down","alias":"`+alias+`"}`, 202)
		for _, v := range h.list("") {
			if v.DedupKey == ingest.OpsgenieDedupKey(alias) {
				return v.ID
			}
		}
		t.Fatalf("no incident of alias %s", alias)
		return ""
	}
	sameAlert := "a retry lands on the same alert"
	for _, tc := range []struct {
		name, path, body string
		says, notSay     string
		once             string // the timeline entry the alert has once after the retry
		after            func(t *testing.T, id string)
	}{
		{name: "create", path: "/v2/alerts", body: `{"message":"DB down","alias":"create"}`, says: sameAlert,
			after: func(t *testing.T, _ string) {
				n := 0
				for _, v := range h.list("") {
					if v.DedupKey == ingest.OpsgenieDedupKey("create") {
						n++
					}
				}
				if n != 1 {
					t.Fatalf("%d incidents after the create's retry, the answer said it lands on the same alert", n)
				}
			}},
		{name: "close by alias", path: "/v2/alerts/{alias}/close?identifierType=alias", body: `{}`,
			says: "closing a closed alert changes nothing", notSay: sameAlert, once: "resolve"},
		{name: "close by id", path: "/v2/alerts/{id}/close", body: `{}`,
			says: "closing a closed alert changes nothing", notSay: sameAlert, once: "resolve"},
		{name: "acknowledge", path: "/v2/alerts/{alias}/acknowledge?identifierType=alias", body: `{}`,
			says: "acknowledging an acknowledged alert changes nothing", notSay: sameAlert, once: "ack"},
		{name: "heartbeat ping", path: "/v2/heartbeats/watchdog/ping",
			says: "a ping again sets the same expiry", notSay: sameAlert},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, path, alias := "", tc.path, strings.ReplaceAll(tc.name, " ", "-")
			if strings.Contains(path, "{") {
				id = create(alias)
				path = strings.NewReplacer("{id}", id, "{alias}", alias).Replace(path)
			}
			st.armed.Store(true)
			a := h.og("POST", path, tc.body, 503)
			st.armed.Store(false)
			if !strings.Contains(a.Message, "may or may not have been processed. Please retry: ") || !strings.Contains(a.Message, tc.says) ||
				tc.notSay != "" && strings.Contains(a.Message, tc.notSay) {
				t.Fatalf("unconfirmed write: %q, want it to say %q", a.Message, tc.says)
			}
			h.og("POST", path, tc.body, 202) // the retry
			if tc.once != "" {
				if n := entries(h.incident(id), tc.once); n != 1 {
					t.Fatalf("%d %s entries after the retry, the answer said it changes nothing", n, tc.once)
				}
			}
			if tc.after != nil {
				tc.after(t, id)
			}
		})
	}
}

// TestEnqueueUnconfirmedWriteSaysWhatARetryDoes: an Events API v2 event
// the store took but did not confirm answers 503 saying what a retry of
// that action does (it said "a retry lands on the same incident" for an
// acknowledgement and a resolve too), and the retry does it: one
// incident, acknowledged once, resolved once.
func TestEnqueueUnconfirmedWriteSaysWhatARetryDoes(t *testing.T) {
	st := &unconfirmedWrites{Store: boltStore(t)}
	h := newHarness(t, withStore(st))
	ev := func(action string) string {
		return `{"routing_key":"` + pdKey + `","event_action":"` + action + `","dedup_key":"checkout-5xx",` +
			`"payload":{"summary":"checkout 5xx","source":"lb-1","severity":"warning"}}`
	}
	for _, tc := range []struct{ action, says string }{
		{"trigger", "a retry lands on the same incident, it never opens a second one"},
		{"acknowledge", "acknowledging an acknowledged incident changes nothing"},
		{"resolve", "resolving a resolved incident changes nothing"},
	} {
		st.armed.Store(true)
		if r := h.do("POST", "/v2/enqueue", ev(tc.action)); r.code != 503 || !strings.Contains(r.body, tc.says) {
			t.Fatalf("%s not confirmed: %d %s; want a 503 saying %q", tc.action, r.code, r.body, tc.says)
		}
		if r := h.do("POST", "/v2/enqueue", ev(tc.action)); r.code != 202 {
			t.Fatalf("%s retried: %d %s", tc.action, r.code, r.body)
		}
	}
	incs := h.list("")
	if len(incs) != 1 || incs[0].Status != "resolved" {
		t.Fatalf("incidents %+v, want one, resolved", incs)
	}
	v := h.incident(incs[0].ID)
	if types := entryCounts(v); types["ack"] != 1 || types["resolve"] != 1 || types["trigger"] != 1 {
		t.Fatalf("timeline %+v, want one trigger, one acknowledgement, one resolve", v.Timeline)
	}
}
