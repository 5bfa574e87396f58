package providertest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	gopd "github.com/PagerDuty/go-pagerduty"

	"github.com/pagerd/pagerd/gateway/ingest"
)

// PagerDutyWebhookSecret is the fake PagerDuty's webhook signing secret,
// for notifiers.pagerduty.webhook_secret.
const PagerDutyWebhookSecret = "pd-webhook-secret-for-tests"

// PagerDuty is PagerDuty's Events API v2: it validates events the way
// PagerDuty does (pagerd's own decoder, which mirrors it) and answers with
// its bodies and status codes. It keeps alerts by dedup key as PagerDuty
// documents it: a trigger whose key matches an open alert, triggered or
// acknowledged, is folded into that alert and notifies nobody; one whose
// key matches none (never used, or resolved) opens a new alert, which
// notifies (Notified); acknowledge and resolve act on the open alert with
// their key, and are taken and ignored when there is none.
type PagerDuty struct {
	// URL is where the fake listens: the events_url for pagerd.
	URL string

	mu     sync.Mutex
	events []*gopd.V2Event
	alerts map[string]string // dedup key → "triggered", "acknowledged" or "resolved"
	// incidents are PagerDuty's incidents by id (Q1, Q2, ... in the
	// order the alerts that opened them came), and in the incident each
	// open alert is in, by its dedup key: an alert opens an incident of
	// its own, and a merge moves it into another (Merge).
	incidents map[string]*pdIncident
	in        map[string]string
	notified  []string
	failFirst int
	throttled map[string]bool // routing keys answered 429
	// happened counts the webhooks made: each occurred a second after
	// the one before (occurred_at), in the order made, whatever the
	// order they are delivered in.
	happened int
}

// pdEpoch is when the fake's first webhook occurred.
var pdEpoch = time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)

// NewPagerDuty starts a fake PagerDuty for the test.
func NewPagerDuty(t testing.TB) *PagerDuty {
	t.Helper()
	f := &PagerDuty{}
	s := httptest.NewServer(f)
	t.Cleanup(s.Close)
	f.URL = s.URL
	return f
}

// FailFirst makes the next n events fail with a 500.
func (f *PagerDuty) FailFirst(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failFirst = n
}

// Throttle makes every event for routingKey answer 429, as PagerDuty
// does to a service's integration past its rate limit (without
// Retry-After); events for other routing keys are taken as before.
func (f *PagerDuty) Throttle(routingKey string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.throttled == nil {
		f.throttled = map[string]bool{}
	}
	f.throttled[routingKey] = true
}

// Events are the events PagerDuty took, in order.
func (f *PagerDuty) Events() []*gopd.V2Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*gopd.V2Event(nil), f.events...)
}

// Notified are the dedup keys of the alerts the triggers opened, in
// order: each notified the people PagerDuty's rules send it to. A trigger
// folded into an open alert is not among them.
func (f *PagerDuty) Notified() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.notified...)
}

// Alert is the status of the alert last opened with the dedup key
// ("triggered", "acknowledged" or "resolved"), or "" if none was.
func (f *PagerDuty) Alert(dedupKey string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.alerts[dedupKey]
}

// pdIncident is one of PagerDuty's incidents: the key it is named by in
// webhooks (incident_key: its first alert's), its status, and the dedup
// keys of the alerts it holds, open or resolved.
type pdIncident struct {
	id, key, status string
	alerts          []string
}

// take applies an event PagerDuty accepted to its alerts. An acknowledge
// acknowledges the incident the alert is in, every alert of it; a resolve
// resolves the alert alone, and its incident once none is open.
func (f *PagerDuty) take(ev *gopd.V2Event) {
	if f.alerts == nil {
		f.alerts = map[string]string{}
		f.incidents = map[string]*pdIncident{}
		f.in = map[string]string{}
	}
	key, status := ev.DedupKey, f.alerts[ev.DedupKey]
	open := status == "triggered" || status == "acknowledged"
	switch {
	case ev.Action == "trigger" && key == "":
		f.notified = append(f.notified, "") // PagerDuty makes a key of its own
	case ev.Action == "trigger" && !open:
		f.alerts[key] = "triggered"
		f.notified = append(f.notified, key)
		id := fmt.Sprintf("Q%d", len(f.incidents)+1)
		f.incidents[id] = &pdIncident{id: id, key: key, status: "triggered", alerts: []string{key}}
		f.in[key] = id
	case ev.Action == "acknowledge" && open:
		f.acknowledge(f.incidents[f.in[key]])
	case ev.Action == "resolve" && open:
		f.alerts[key] = "resolved"
		f.closeIfDone(f.incidents[f.in[key]])
	}
}

// acknowledge acknowledges an open incident and its open alerts.
func (f *PagerDuty) acknowledge(inc *pdIncident) {
	if inc == nil || inc.status == "resolved" {
		return
	}
	inc.status = "acknowledged"
	for _, k := range inc.alerts {
		if f.alerts[k] == "triggered" && f.in[k] == inc.id {
			f.alerts[k] = "acknowledged"
		}
	}
}

// closeIfDone resolves an incident none of whose alerts is open.
func (f *PagerDuty) closeIfDone(inc *pdIncident) {
	if inc == nil {
		return
	}
	for _, k := range inc.alerts {
		if f.in[k] == inc.id && f.alerts[k] != "resolved" {
			return
		}
	}
	inc.status = "resolved"
}

// Incident is the id of the PagerDuty incident the alert last opened
// with the dedup key is in (a merge moves it), "" if none was opened.
func (f *PagerDuty) Incident(dedupKey string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.in[dedupKey]
}

// IncidentStatus is the status of PagerDuty's incident id, "" for none.
func (f *PagerDuty) IncidentStatus(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if inc := f.incidents[id]; inc != nil {
		return inc.status
	}
	return ""
}

// PagerDutyService is the service the fake's incidents are in, as its
// webhooks name it (data.service).
const PagerDutyService = `{"id":"PF9KMXH","type":"service_reference","summary":"API Service"}`

// webhookBody is a webhook v3 body of PagerDuty's for incident inc,
// occurred a second after the fake's last one: eventType, agent as given (a JSON member and its comma, "" for none)
// and extra members of data (each with its trailing comma).
func (f *PagerDuty) webhookBody(eventType, agent string, inc *pdIncident, extra string) string {
	f.happened++
	at := pdEpoch.Add(time.Duration(f.happened) * time.Second).Format(time.RFC3339Nano)
	return `{"event":{"id":"01` + inc.id + `","event_type":"` + eventType + `","resource_type":"incident","occurred_at":"` + at + `",` + agent +
		`"data":{"id":"` + inc.id + `","type":"incident","status":"` + inc.status + `",` + extra +
		`"service":` + PagerDutyService + `,"incident_key":"` + inc.key + `"}}}`
}

// Merge merges the PagerDuty incident the alert keyed key is in into the
// one the alert keyed into is in, as a person in the web app, the REST
// API or PagerDuty's own alert grouping (an Event Orchestration, Intelligent
// Alert Grouping) does: the alerts move, still open, and the incident
// merged away is resolved, its resolve_reason naming the other. It returns
// the incident.resolved webhook PagerDuty sends for the incident merged
// away, with agent as given (a JSON member and its comma, "" for none).
func (f *PagerDuty) Merge(key, into, agent string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	from, to := f.incidents[f.in[key]], f.incidents[f.in[into]]
	if from == nil || to == nil || from == to {
		panic("providertest: merge of alerts not in two PagerDuty incidents")
	}
	for _, k := range from.alerts {
		if f.in[k] == from.id {
			f.in[k] = to.id
			to.alerts = append(to.alerts, k)
			if f.alerts[k] != "resolved" {
				f.alerts[k] = "triggered"
				if to.status == "acknowledged" {
					f.alerts[k] = "acknowledged"
				}
			}
		}
	}
	from.status = "resolved"
	return f.webhookBody("incident.resolved", agent, from, `"resolve_reason":{"type":"merge_resolve_reason","incident":{"id":"`+to.id+
		`","type":"incident_reference","summary":"[#`+strings.TrimPrefix(to.id, "Q")+`] `+to.key+`"}},`)
}

// AcknowledgeIncident acknowledges PagerDuty's incident id (as a person
// does in the app: agent as for Merge) and returns its
// incident.acknowledged webhook, named by the incident's own key.
func (f *PagerDuty) AcknowledgeIncident(id, agent string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	inc := f.incidents[id]
	f.acknowledge(inc)
	return f.webhookBody("incident.acknowledged", agent, inc, "")
}

// ResolveIncident resolves PagerDuty's incident id and every alert in it
// (as a person, or a service's auto-resolve timeout, does: agent as for
// Merge) and returns its incident.resolved webhook.
func (f *PagerDuty) ResolveIncident(id, agent string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	inc := f.incidents[id]
	for _, k := range inc.alerts {
		if f.in[k] == id {
			f.alerts[k] = "resolved"
		}
	}
	inc.status = "resolved"
	return f.webhookBody("incident.resolved", agent, inc, "")
}

// ServeHTTP answers as the Events API v2.
func (f *PagerDuty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v2/enqueue" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if f.failFirst > 0 {
		f.failFirst--
		w.WriteHeader(500)
		_, _ = w.Write([]byte(`{"status":"error","message":"internal error"}`))
		return
	}
	ev, errs := ingest.DecodeEvent(body)
	if len(errs) > 0 {
		w.WriteHeader(400)
		_ = json.NewEncoder(w).Encode(ingest.Invalid(errs))
		return
	}
	if f.throttled[ev.RoutingKey] {
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"status":"throttle event","message":"Requests for this service are arriving too quickly. Please retry later."}`))
		return
	}
	f.events = append(f.events, ev)
	f.take(ev)
	w.WriteHeader(202)
	_ = json.NewEncoder(w).Encode(ingest.Accepted(ev.DedupKey))
}

// PagerDutySign is PagerDuty's X-PagerDuty-Signature for a webhook v3
// body: "v1=" and the hex HMAC-SHA256 of the body, keyed with the secret.
func PagerDutySign(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// Webhook posts a webhook v3 body to pagerd's receiver at u, signed as
// PagerDuty signs it with PagerDutyWebhookSecret, and returns the answer's
// status and body.
func (f *PagerDuty) Webhook(t testing.TB, u, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", u, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-PagerDuty-Signature", PagerDutySign([]byte(body), PagerDutyWebhookSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
