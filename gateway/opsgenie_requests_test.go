package gateway

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

type ogStatus struct {
	Data struct {
		Success     bool   `json:"success"`
		Action      string `json:"action"`
		ProcessedAt string `json:"processedAt"`
		IsSuccess   bool   `json:"isSuccess"`
		Status      string `json:"status"`
		AlertID     string `json:"alertId"`
		Alias       string `json:"alias"`
	} `json:"data"`
	Took      *float64 `json:"took"`
	RequestID string   `json:"requestId"`
}

// TestOpsgenieRequestStatus: Opsgenie's SDKs ask GET
// /v2/alerts/requests/<requestId> how a request went and for the alert's
// id (the Go SDK's RetrieveStatus). It was 405, and a script that created
// an alert and asked for its id failed after the alert paged. The
// request id of a 202 says what the request did, on any replica: the
// create's gives the incident's id, which closes it by id; a close of an
// alias that names no open alert says the alert does not exist; an id
// pagerd did not give, or one of another service's incident, is 404.
func TestOpsgenieRequestStatus(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(ogConfig))
			status := func(rid string, want int) ogStatus {
				t.Helper()
				r := h.do("GET", "/v2/alerts/requests/"+rid, "", "Authorization", "GenieKey "+ogKey)
				if r.code != want {
					t.Fatalf("GET request %s: %d %s, want %d", rid, r.code, r.body, want)
				}
				var s ogStatus
				r.json(t, &s)
				if s.Took == nil || !uuidRE.MatchString(s.RequestID) {
					t.Fatalf("not Opsgenie's answer: %s", r.body)
				}
				return s
			}
			created := h.og("POST", "/v2/alerts", `{"message":"DB down","alias":"db-down","priority":"P1"}`, 202)
			id := h.list("")[0].ID
			s := status(created.RequestID, 200)
			if d := s.Data; !d.Success || !d.IsSuccess || d.Action != "Create" || d.AlertID != id || d.Alias != "db-down" || d.Status != "Created alert" {
				t.Fatalf("the create's status: %+v, want alert %s", d, id)
			}
			if at, err := time.Parse(time.RFC3339, s.Data.ProcessedAt); err != nil || at.Sub(h.incident(id).CreatedAt).Abs() > time.Second {
				t.Errorf("processedAt %q, the incident was created at %v", s.Data.ProcessedAt, h.incident(id).CreatedAt)
			}
			acked := h.og("POST", "/v2/alerts/"+s.Data.AlertID+"/acknowledge", `{"user":"ann"}`, 202)
			if v := h.incident(id); v.Status != policy.StatusAcknowledged {
				t.Fatalf("acknowledged by the alertId of the request status: %s", v.Status)
			}
			if d := status(acked.RequestID, 200).Data; d.Action != "Acknowledge" || !d.IsSuccess || d.AlertID != id {
				t.Errorf("the acknowledgement's status: %+v", d)
			}
			closed := h.og("POST", "/v2/alerts/db-down/close?identifierType=alias", `{}`, 202)
			if d := status(closed.RequestID, 200).Data; d.Action != "Close" || !d.IsSuccess || d.AlertID != id || d.Status != "Closed alert" {
				t.Errorf("the close's status: %+v", d)
			}
			again := h.og("POST", "/v2/alerts/db-down/close?identifierType=alias", `{}`, 202)
			if d := status(again.RequestID, 200).Data; d.Action != "Close" || d.IsSuccess || d.AlertID != "" || d.Status != "Alert does not exist" {
				t.Errorf("the status of a close of no open alert: %+v", d)
			}
			if again.RequestID == closed.RequestID {
				t.Error("two closes have one request id")
			}
			// An alert aliased "requests" is still closed by its alias.
			h.og("POST", "/v2/alerts", `{"message":"m","alias":"requests"}`, 202)
			h.og("POST", "/v2/alerts/requests/close?identifierType=alias", ``, 202)
			for _, v := range h.list("") {
				if v.DedupKey == "og:requests" && v.Status != policy.StatusResolved {
					t.Errorf("the alert aliased requests: %s", v.Status)
				}
			}
			// Unknown: a refused request's id, a made-up one, another
			// service's incident, no key.
			refused := h.og("POST", "/v2/alerts", `{"alias":"x"}`, 422)
			status(refused.RequestID, 404)
			status("2d2b7c6e-1c75-442e-a271-731070a7fa4d", 404)
			status("not-a-request-id", 404)
			// Ids that read as pagerd's but cannot be: an incident that
			// is not stored, one made tomorrow, a request done in 3025.
			for _, rid := range []string{
				must(ogRequestID(ogAcknowledge, store.NewID(3, fixedNow.Add(-time.Hour)), fixedNow)),
				must(ogRequestID(ogCreate, store.NewID(3, fixedNow.Add(24*time.Hour)), fixedNow)),
				must(ogRequestID(ogClose, "", fixedNow.AddDate(1000, 0, 0))),
			} {
				status(rid, 404)
			}
			r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g9", map[string]string{"alertname": "X", "severity": "warning"}),
				"Authorization", "Bearer batch-key-0000000000000000000000")
			if r.code != 200 {
				t.Fatal(r.body)
			}
			var other string
			for _, v := range h.list("") {
				if v.Service != "api" {
					other = v.ID
				}
			}
			forged, ok := ogRequestID(ogCreate, other, fixedNow)
			if !ok {
				t.Fatalf("no request id for %s", other)
			}
			if s := status(forged, 404); strings.Contains(s.Data.AlertID, other) {
				t.Errorf("another service's incident: %+v", s)
			}
			if r := h.do("GET", "/v2/alerts/requests/"+created.RequestID, ""); r.code != 401 {
				t.Errorf("without a key: %d %s", r.code, r.body)
			}
		})
	}
}

// TestOpsgenieRequestIDRoundTrip: every shard and time comes back out of
// the request id as it went in.
func TestOpsgenieRequestIDRoundTrip(t *testing.T) {
	now := time.Date(2026, 12, 7, 16, 0, 0, 0, time.UTC)
	for shard := range 32 {
		id := store.NewID(shard, now.Add(-time.Hour))
		rid, ok := ogRequestID(ogClose, id, now)
		if !ok || !uuidRE.MatchString(rid) {
			t.Fatalf("shard %d: %q %v", shard, rid, ok)
		}
		r, ok := parseOgRequestID(rid, now)
		if !ok || r.action != ogClose || !r.found || r.incident != id || !r.processed.Equal(now) {
			t.Fatalf("shard %d: %+v %v, want %s at %v", shard, r, ok, id, now)
		}
	}
	rid, _ := ogRequestID(ogAcknowledge, "", now)
	if r, ok := parseOgRequestID(rid, now); !ok || r.found || r.action != ogAcknowledge || !r.processed.Equal(now) {
		t.Fatalf("a request that found nothing: %+v %v", r, ok)
	}
}

// TestOpsgenieAddNote: Opsgenie's add note (POST
// /v2/alerts/<identifier>/notes) was 404, and a script that noted what it
// did on an alert failed. The note is kept in the incident's timeline, by
// the body's user, on an open or a closed alert, by alias or id; it
// changes nothing else. No alert: 202, and the request status says it
// does not exist. An empty note is 422.
func TestOpsgenieAddNote(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(ogConfig))
			h.og("POST", "/v2/alerts", `{"message":"DB down","alias":"db-down","priority":"P1"}`, 202)
			id := h.list("")[0].ID
			notes := func() []string {
				var out []string
				for _, e := range h.incident(id).Timeline {
					if e.Type == "note" {
						out = append(out, e.Actor+": "+e.Note)
					}
				}
				return out
			}
			h.og("POST", "/v2/alerts/db-down/notes?identifierType=alias", `{"user":"bob","source":"cli","note":"failing over\nto db2"}`, 202)
			if got := notes(); len(got) != 1 || got[0] != "bob: failing over to db2" {
				t.Fatalf("notes %q", got)
			}
			if v := h.incident(id); v.Status != policy.StatusTriggered {
				t.Fatalf("a note changed the incident: %s", v.Status)
			}
			h.og("POST", "/v2/alerts/db-down/close?identifierType=alias", ``, 202)
			a := h.og("POST", "/v2/alerts/"+id+"/notes", `{"note":"root cause: disk"}`, 202)
			if got := notes(); len(got) != 2 || got[1] != "opsgenie: root cause: disk" {
				t.Fatalf("a note on the closed alert: %q", got)
			}
			r := h.do("GET", "/v2/alerts/requests/"+a.RequestID, "", "Authorization", "GenieKey "+ogKey)
			if r.code != 200 || !strings.Contains(r.body, `"action":"AddNote"`) || !strings.Contains(r.body, `"alertId":"`+id+`"`) {
				t.Errorf("the note's request status: %d %s", r.code, r.body)
			}
			none := h.og("POST", "/v2/alerts/nope/notes?identifierType=alias", `{"note":"n"}`, 202)
			r = h.do("GET", "/v2/alerts/requests/"+none.RequestID, "", "Authorization", "GenieKey "+ogKey)
			if r.code != 200 || !strings.Contains(r.body, `"isSuccess":false`) {
				t.Errorf("the status of a note on no alert: %d %s", r.code, r.body)
			}
			if a := h.og("POST", "/v2/alerts/db-down/notes?identifierType=alias", `{"user":"bob"}`, 422); a.Errors["note"] == "" {
				t.Errorf("a note without one: %+v", a)
			}
			if got := notes(); len(got) != 2 {
				t.Fatalf("notes %q", got)
			}
		})
	}
}

// TestOpsgenieRefusedRequestIDIsNotRead: a refused request's id is random,
// and one in twenty was read as a request that created or acknowledged an
// alert (CI failed on one: "Acknowledged alert", processed in 3536).
func TestOpsgenieRefusedRequestIDIsNotRead(t *testing.T) {
	for range 10000 {
		rid := plainRequestID()
		if !uuidRE.MatchString(rid) {
			t.Fatalf("not a UUID: %q", rid)
		}
		if d, _ := strconv.ParseUint(rid[:1], 16, 8); d>>1 == ogTag {
			t.Fatalf("%s has the tag of a request id that says what it did", rid)
		}
		if r, ok := parseOgRequestID(rid, fixedNow); ok {
			t.Fatalf("%s reads as %+v", rid, r)
		}
	}
}

func must(rid string, ok bool) string {
	if !ok {
		panic("no request id")
	}
	return rid
}
