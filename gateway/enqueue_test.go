package gateway

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pagerd/pagerd/gateway/store"
)

// storedThenFailed stores the first trigger and then answers as if the
// store had failed: what a stalled Redis does when the script runs after
// the client gave up on it.
type storedThenFailed struct {
	store.Store
	failed atomic.Bool
}

func (s *storedThenFailed) Trigger(ctx context.Context, inc *store.Incident, tl []store.Entry) (string, store.Outcome, error) {
	id, out, err := s.Store.Trigger(ctx, inc, tl)
	if err == nil && s.failed.CompareAndSwap(false, true) {
		return "", 0, fmt.Errorf("%w: timed out waiting for the reply", store.ErrUnavailable)
	}
	return id, out, err
}

type enqueueAnswer struct {
	Status   string `json:"status"`
	Message  string `json:"message"`
	DedupKey string `json:"dedup_key"`
}

// TestKeylessTriggerRetriedIsOneIncident: a PagerDuty trigger without a
// dedup_key whose first try was stored but answered 503, retried as the 503
// says, is one incident, and both answers name the same derived key; a
// different keyless event is another incident; the key acknowledges and
// resolves; once resolved, the same event opens a new incident. On both
// stores.
func TestKeylessTriggerRetriedIsOneIncident(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := &storedThenFailed{Store: mk(t)}
			h := newHarness(t, withStore(st))
			keyless := `{"routing_key":"` + pdKey + `","event_action":"trigger","payload":{"summary":"DB down","source":"db1","severity":"critical",` +
				`"timestamp":"2025-09-10T05:59:00Z","custom_details":{"replica":"b","lag_s":42}}}`
			post := func(body string, want int) enqueueAnswer {
				t.Helper()
				r := h.do("POST", "/v2/enqueue", body)
				if r.code != want {
					t.Fatalf("%d %s, want %d", r.code, r.body, want)
				}
				var a enqueueAnswer
				r.json(t, &a)
				return a
			}
			post(keyless, 503) // stored, but the answer says to retry
			// The retry, re-encoded by another client (key order, a new
			// timestamp): the same event.
			retry := `{"event_action":"trigger","routing_key":"` + pdKey + `","payload":{"severity":"critical","source":"db1","summary":"DB down",` +
				`"timestamp":"2025-09-10T05:59:07Z","custom_details":{"lag_s":42,"replica":"b"}}}`
			first := post(retry, 202)
			again := post(keyless, 202)
			if len(first.DedupKey) != 32 || again.DedupKey != first.DedupKey {
				t.Fatalf("dedup keys %q and %q", first.DedupKey, again.DedupKey)
			}
			incs := h.list("")
			if len(incs) != 1 || incs[0].Repeats != 2 || incs[0].DedupKey != "pd:"+first.DedupKey {
				t.Fatalf("after a stored try and two retries: %+v", incs)
			}
			other := post(strings.Replace(keyless, "db1", "db2", 1), 202)
			if other.DedupKey == first.DedupKey || len(h.list("")) != 2 {
				t.Fatalf("a different event: key %q, %d incidents", other.DedupKey, len(h.list("")))
			}
			// The derived key acts on the incident, as PagerDuty's would.
			post(`{"routing_key":"`+pdKey+`","event_action":"resolve","dedup_key":"`+first.DedupKey+`"}`, 202)
			if got := h.incident(incs[0].ID); got.Status != "resolved" {
				t.Fatalf("resolve by the derived key: %s", got.Status)
			}
			// Resolved, the same event is a new problem: a new incident.
			if a := post(keyless, 202); a.DedupKey != first.DedupKey {
				t.Fatalf("key changed: %q", a.DedupKey)
			}
			open := h.list("?status=triggered")
			if len(open) != 2 || open[0].ID == incs[0].ID {
				t.Fatalf("after the resolve: %+v", open)
			}
		})
	}
}

// TestEnqueueResolveOfUnknownKeyAndTriggerAfterResolve: a resolve or an
// acknowledge for a dedup key pagerd never saw is accepted (202, as
// PagerDuty answers) and opens nothing, so the sender does not retry it
// forever; a trigger after the resolve opens a new incident, which pages.
func TestEnqueueResolveOfUnknownKeyAndTriggerAfterResolve(t *testing.T) {
	h := newHarness(t)
	ev := func(action string) string {
		return `{"routing_key":"` + pdKey + `","event_action":"` + action + `","dedup_key":"checkout-5xx",` +
			`"payload":{"summary":"checkout 5xx","source":"lb-1","severity":"warning","custom_details":{"team":"web"}}}`
	}
	for _, a := range []string{"resolve", "acknowledge"} {
		if r := h.do("POST", "/v2/enqueue", ev(a)); r.code != 202 || !strings.Contains(r.body, `"dedup_key":"checkout-5xx"`) {
			t.Fatalf("%s of an unknown key: %d %s", a, r.code, r.body)
		}
	}
	if n := len(h.list("")); n != 0 {
		t.Fatalf("%d incidents after a resolve and an ack of an unknown key", n)
	}
	for i, a := range []string{"trigger", "resolve", "trigger"} {
		if r := h.do("POST", "/v2/enqueue", ev(a)); r.code != 202 {
			t.Fatalf("%d %s: %d %s", i, a, r.code, r.body)
		}
	}
	incs := h.list("")
	if len(incs) != 2 || incs[0].Status == incs[1].Status || incs[0].Priority != "P2" {
		t.Fatalf("after trigger, resolve, trigger: %+v; want one resolved and one new P2 incident", incs)
	}
}

// TestEnqueueRoutingKeyInTheHeader: PagerDuty takes the routing key from
// the X-Routing-Key header when the body has none (pdpyras before 4.1.3
// sent it only there), so pagerd does too; the body's wins when both are
// given. (Before: 400 "'routing_key' is missing or blank", which clients do
// not retry: the alert was dropped.)
func TestEnqueueRoutingKeyInTheHeader(t *testing.T) {
	h := newHarness(t)
	r := h.do("POST", "/v2/enqueue", `{"event_action":"trigger","payload":{"summary":"DB down","source":"db1","severity":"critical"}}`,
		"X-Routing-Key", pdKey)
	if r.code != 202 {
		t.Fatalf("an event with the routing key in X-Routing-Key: %d %s, want 202", r.code, r.body)
	}
	r = h.do("POST", "/v2/enqueue", `{"routing_key":"wrongwrongwrongwrongwrongwrong00","event_action":"trigger","payload":{"summary":"x","source":"y","severity":"critical"}}`,
		"X-Routing-Key", pdKey)
	if r.code != 400 || !strings.Contains(r.body, "Invalid routing key") {
		t.Fatalf("a body's routing key that is wrong, with a right one in the header: %d %s, want 400", r.code, r.body)
	}
	if n := len(h.list("")); n != 1 {
		t.Fatalf("%d incidents, want 1", n)
	}
}

// TestEnqueueSeverityWithServiceSeverityLabel: a service whose
// severity_label is not "severity" routes a PagerDuty event by its
// payload.severity all the same, as CONFIG.md says ("the value of
// severity_label (for PagerDuty events, payload.severity)"), and a
// custom_details entry of that name does not override it. (Before: the
// severity went only to the label "severity", which that service does not
// read, so a critical event opened at default_priority, P1, and paged at
// P1's targets and urgency instead of P0's.)
func TestEnqueueSeverityWithServiceSeverityLabel(t *testing.T) {
	cfg := strings.Replace(testConfig, "    priority_scheme: P0-P3\n", "    priority_scheme: P0-P3\n    severity_label: level\n", 1)
	h := newHarness(t, withConfig(cfg))
	for key, body := range map[string]string{
		"crit": `{"routing_key":"` + pdKey + `","event_action":"trigger","dedup_key":"crit","payload":{"summary":"DB down","source":"db1","severity":"critical"}}`,
		"info": `{"routing_key":"` + pdKey + `","event_action":"trigger","dedup_key":"info","payload":{"summary":"DB slow","source":"db1","severity":"info",` +
			`"custom_details":{"level":"critical"}}}`,
	} {
		if r := h.do("POST", "/v2/enqueue", body); r.code != 202 {
			t.Fatalf("%s: %d %s", key, r.code, r.body)
		}
	}
	want := map[string]string{"pd:crit": "P0", "pd:info": "P3"}
	incs := h.list("")
	if len(incs) != 2 {
		t.Fatalf("%d incidents, want 2", len(incs))
	}
	for _, inc := range incs {
		if inc.Priority != want[inc.DedupKey] || !strings.HasPrefix(inc.Rule, "severity=") {
			t.Errorf("%s: priority %s by %q, want %s by its payload.severity", inc.DedupKey, inc.Priority, inc.Rule, want[inc.DedupKey])
		}
	}
}

// TestEnqueueEventsAPIv1SaysSo: an Events API v1 event (service_key,
// event_type: what Alertmanager's pagerduty_configs send when configured
// with service_key instead of routing_key) sent to /v2/enqueue is refused
// with 400, as it can never succeed, and the answer says what it is and
// what to change; it stores nothing. (Before: "'routing_key' is missing or
// blank" and "'event_action' is missing or blank", for a sender that did
// send its key, under another name.)
func TestEnqueueEventsAPIv1SaysSo(t *testing.T) {
	h := newHarness(t)
	v1 := `{"service_key":"` + pdKey + `","event_type":"trigger","incident_key":"g1","description":"[FIRING:1] DiskFull",` +
		`"client":"Alertmanager","client_url":"http://am:9093","details":{"firing":"..."}}`
	r := h.do("POST", "/v2/enqueue", v1)
	if r.code != 400 || !strings.Contains(r.body, "Events API v1") || !strings.Contains(r.body, "routing_key instead of service_key") {
		t.Fatalf("an Events API v1 event: %d %s, want 400 saying it is v1 and to use routing_key", r.code, r.body)
	}
	if n := len(h.list("")); n != 0 {
		t.Fatalf("%d incidents", n)
	}
}
