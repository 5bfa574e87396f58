package providertest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

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

	mu        sync.Mutex
	events    []*gopd.V2Event
	alerts    map[string]string // dedup key → "triggered", "acknowledged" or "resolved"
	notified  []string
	failFirst int
	throttled map[string]bool // routing keys answered 429
}

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

// take applies an event PagerDuty accepted to its alerts.
func (f *PagerDuty) take(ev *gopd.V2Event) {
	if f.alerts == nil {
		f.alerts = map[string]string{}
	}
	key, status := ev.DedupKey, f.alerts[ev.DedupKey]
	open := status == "triggered" || status == "acknowledged"
	switch {
	case ev.Action == "trigger" && key == "":
		f.notified = append(f.notified, "") // PagerDuty makes a key of its own
	case ev.Action == "trigger" && !open:
		f.alerts[key] = "triggered"
		f.notified = append(f.notified, key)
	case ev.Action == "acknowledge" && open:
		f.alerts[key] = "acknowledged"
	case ev.Action == "resolve" && open:
		f.alerts[key] = "resolved"
	}
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
