package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// urgencyLines are the recorded pages as "15:04 Lk user channel urgency",
// on the clock of loc.
func (r *recorder) urgencyLines(loc *time.Location) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.msgs {
		out = append(out, fmt.Sprintf("%s L%d %s %s %s", m.At.In(loc).Format("15:04"), m.Level, m.User, m.Channel, m.Urgency))
	}
	return out
}

// TestDispatcherSendsEachStepWithItsPageUrgency: on AIVO's contract (P3
// off hours is low urgency, push only), a P3 paged at 17:58 New York time
// is high urgency: its primary's SMS at 18:00 and call at 18:03 go out as
// high, though the secondary's escalation page at 18:00 is low and made
// the incident low. Before, the dispatcher took the incident's urgency at
// send time, and the call went out as low (PagerDuty's and ntfy's low
// priority, Pushover's quiet push), and the secondary's push as high.
func TestDispatcherSendsEachStepWithItsPageUrgency(t *testing.T) {
	raw, err := os.ReadFile("../configs/aivo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	at := func(h, m int) time.Time { return time.Date(2025, 9, 10, h, m, 0, 0, ny) } // a Wednesday
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)), withConfig(string(raw)), startAt(at(17, 58)))
			cfg := h.config()
			key := cfg.Service("aivo-production").Integrations.AlertmanagerKey.Reveal()
			r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g", map[string]string{"alertname": "A", "severity": "info"}),
				"Authorization", "Bearer "+key)
			if r.code != 200 {
				t.Fatalf("webhook: %d %s", r.code, r.body)
			}
			var res struct{ Incidents []string }
			r.json(t, &res)
			id := res.Incidents[0]
			h.runUntil(at(18, 0))
			token := cfg.API.Tokens[0].Token.Reveal()
			if r := h.do("POST", "/api/v1/incidents/"+id+"/escalate", "", "Authorization", "Bearer "+token); r.code != 200 {
				t.Fatalf("escalate: %d %s", r.code, r.body)
			}
			h.runUntil(at(18, 10))
			var v incidentView
			if r := h.do("GET", "/api/v1/incidents/"+id, "", "Authorization", "Bearer "+token); r.code != 200 {
				t.Fatalf("get: %d %s", r.code, r.body)
			} else {
				r.json(t, &v)
			}
			primary, secondary := "", ""
			for _, e := range v.Timeline {
				if e.Type == "notify" && e.Level == 1 {
					primary = e.User
				} else if e.Type == "notify" && e.Level == 2 {
					secondary = e.User
				}
			}
			want := []string{
				"17:58 L1 " + primary + " push high",
				"18:00 L1 " + primary + " sms high",
				"18:00 L2 " + secondary + " push low",
				"18:03 L1 " + primary + " voice high",
			}
			if got := h.rec.urgencyLines(ny); !reflect.DeepEqual(got, want) {
				t.Fatalf("pages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if u := v.Urgency; u != policy.UrgencyLow {
				t.Errorf("incident urgency %q, want low: its latest page's", u)
			}
		})
	}
}

// TestDispatcherStepStoredWithoutUrgencyTakesTheIncidents: a step stored
// by a version that kept no urgency on it (its JSON has no "urgency") is
// sent with the incident's, as it was then, on both stores.
func TestDispatcherStepStoredWithoutUrgencyTakesTheIncidents(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)))
			at := fixedNow
			inc := &store.Incident{ID: store.NewID(store.ShardOf("api", "old"), at), Service: "api", DedupKey: "old",
				Source: "alertmanager", Summary: "disk full", CreatedAt: at, UpdatedAt: at, LastSeen: at,
				Details: json.RawMessage(`{}`),
				State: policy.Incident{Service: "api", Priority: "P3", Urgency: policy.UrgencyLow, Status: policy.StatusTriggered,
					Epoch: 1, Seq: 1, TriggeredAt: at, LevelStartedAt: at,
					Pending: []policy.Deadline{{ID: "1.1", At: at.Add(time.Minute), Kind: policy.DeadlineNotify, User: "ann", Channel: "sms", Seq: 1}}}}
			inc.State.ID = inc.ID
			if b, _ := json.Marshal(inc.State.Pending[0]); strings.Contains(string(b), "urgency") {
				t.Fatalf("a step without urgency is not stored as older versions stored it: %s", b)
			}
			if _, _, err := h.store.Trigger(context.Background(), inc, nil); err != nil {
				t.Fatal(err)
			}
			h.runUntil(at.Add(time.Minute))
			want := []string{"06:01 L1 ann sms low"}
			if got := h.rec.urgencyLines(time.UTC); !reflect.DeepEqual(got, want) {
				t.Fatalf("pages %q, want %q", got, want)
			}
		})
	}
}
