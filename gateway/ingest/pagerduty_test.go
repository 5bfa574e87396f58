package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/PagerDuty/go-pagerduty"
	ampagerduty "github.com/prometheus/alertmanager/notify/pagerduty"
	"github.com/prometheus/alertmanager/types"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

const testRoutingKey = "R015ZRP8WF2TNCCRU3LZ8ZS4DHXXIPB6"

var hexKey = regexp.MustCompile(`^[0-9a-f]{32}$`)

// enqueueServer stands in for the HTTP layer: it serves POST /v2/enqueue
// with DecodeEvent and answers as PagerDuty does. It records every event it
// accepted and every path it was asked for.
type enqueueServer struct {
	*httptest.Server
	mu     sync.Mutex
	events []*pagerduty.V2Event
	paths  []string
}

func newEnqueueServer(t *testing.T) *enqueueServer {
	t.Helper()
	s := &enqueueServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.paths = append(s.paths, r.Method+" "+r.URL.Path)
		s.mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue" {
			http.NotFound(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxEventBytes+1))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		ev, errs := DecodeEvent(body)
		w.Header().Set("Content-Type", "application/json")
		if errs != nil {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(Invalid(errs))
			return
		}
		if ev.DedupKey == "" {
			ev.DedupKey = DerivedDedupKey(ev)
		}
		s.mu.Lock()
		s.events = append(s.events, ev)
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(Accepted(ev.DedupKey))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *enqueueServer) last(t *testing.T) *pagerduty.V2Event {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.events) == 0 {
		t.Fatal("server accepted no event")
	}
	return s.events[len(s.events)-1]
}

// TestGoPagerDutyClientRoundTrip drives go-pagerduty's own client against
// DecodeEvent. The client POSTs to WithV2EventsAPIEndpoint + "/v2/enqueue",
// treats any 2xx as success and decodes the body as V2EventResponse.
func TestGoPagerDutyClientRoundTrip(t *testing.T) {
	srv := newEnqueueServer(t)
	client := pagerduty.NewClient("", pagerduty.WithV2EventsAPIEndpoint(srv.URL))
	ctx := context.Background()

	tests := []struct {
		name    string
		event   pagerduty.V2Event
		wantKey string // "" means a generated 32-hex key
	}{
		{
			name: "trigger with dedup key",
			event: pagerduty.V2Event{RoutingKey: testRoutingKey, Action: "trigger", DedupKey: "db-primary-down",
				Client: "Grafana", ClientURL: "https://grafana.example",
				Links:  []any{map[string]any{"href": "https://rb.example/db", "text": "Runbook"}},
				Images: []any{map[string]any{"src": "https://grafana.example/x.png"}},
				Payload: &pagerduty.V2Payload{Summary: "DB primary down", Source: "db-1", Severity: "critical",
					Timestamp: "2026-01-12T03:15:00.000+0000", Component: "postgres", Group: "prod", Class: "availability",
					Details: map[string]any{"team": "storage", "lag_seconds": 42}}},
			wantKey: "db-primary-down",
		},
		{
			name: "trigger without dedup key gets one",
			event: pagerduty.V2Event{RoutingKey: testRoutingKey, Action: "trigger",
				Payload: &pagerduty.V2Payload{Summary: "Disk full", Source: "web-3", Severity: "warning"}},
		},
		{
			name:    "acknowledge",
			event:   pagerduty.V2Event{RoutingKey: testRoutingKey, Action: "acknowledge", DedupKey: "db-primary-down"},
			wantKey: "db-primary-down",
		},
		{
			name:    "resolve",
			event:   pagerduty.V2Event{RoutingKey: testRoutingKey, Action: "resolve", DedupKey: "db-primary-down"},
			wantKey: "db-primary-down",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client.ManageEventWithContext(ctx, &tt.event)
			if err != nil {
				t.Fatalf("ManageEventWithContext: %v", err)
			}
			if resp.Status != "success" || resp.Message != "Event processed" {
				t.Errorf("response %+v", resp)
			}
			if tt.wantKey != "" && resp.DedupKey != tt.wantKey {
				t.Errorf("dedup key %q, want %q", resp.DedupKey, tt.wantKey)
			}
			if tt.wantKey == "" && !hexKey.MatchString(resp.DedupKey) {
				t.Errorf("generated dedup key %q is not 32 lowercase hex characters", resp.DedupKey)
			}
			got := srv.last(t)
			if got.Action != tt.event.Action || got.RoutingKey != testRoutingKey {
				t.Errorf("server decoded %+v", got)
			}
			if tt.event.Payload != nil {
				want := *tt.event.Payload
				if want.Details != nil { // numbers come back as json.Number
					b, _ := json.Marshal(want.Details)
					gb, _ := json.Marshal(got.Payload.Details)
					if string(b) != string(gb) {
						t.Errorf("custom_details %s, want %s", gb, b)
					}
					want.Details, got.Payload.Details = nil, nil
				}
				if !reflect.DeepEqual(*got.Payload, want) {
					t.Errorf("payload %+v, want %+v", *got.Payload, want)
				}
			}
		})
	}

	srv.mu.Lock()
	for _, p := range srv.paths {
		if p != "POST /v2/enqueue" {
			t.Errorf("client requested %q, want POST /v2/enqueue", p)
		}
	}
	srv.mu.Unlock()
}

// TestGoPagerDutyClientSeesInvalidEvent checks that an invalid event
// reaches go-pagerduty's client as an error carrying the status code, and
// that the body holds PagerDuty's invalid-event object with our errors.
// (go-pagerduty v1.8.0's Client decodes error bodies as REST API errors, so
// the errors list is only reachable through the captured response; the
// package-level ManageEventWithContext does parse it, see below.)
func TestGoPagerDutyClientSeesInvalidEvent(t *testing.T) {
	srv := newEnqueueServer(t)
	client := pagerduty.NewClient("", pagerduty.WithV2EventsAPIEndpoint(srv.URL))
	client.SetDebugFlag(pagerduty.DebugCaptureLastResponse)

	_, err := client.ManageEventWithContext(context.Background(), &pagerduty.V2Event{
		Action:  "trigger",
		Payload: &pagerduty.V2Payload{Summary: "x", Severity: "fatal"},
	})
	var apiErr pagerduty.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest {
		t.Fatalf("error %T %v, want a pagerduty.APIError with status 400", err, err)
	}
	resp, ok := client.LastAPIResponse()
	if !ok {
		t.Fatal("no captured response")
	}
	var body EventResponse
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	want := Invalid([]string{
		"'routing_key' is missing or blank",
		"'payload.source' is missing or blank",
		"'payload.severity' must be one of: critical, error, warning, info",
	})
	if !reflect.DeepEqual(body, want) {
		t.Errorf("body %+v, want %+v", body, want)
	}
}

// redirectTransport sends every request to target, whatever its host.
type redirectTransport struct{ target *url.URL }

func (rt redirectTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = rt.target.Scheme, rt.target.Host
	return http.DefaultTransport.RoundTrip(r)
}

// TestGoPagerDutyPackageFunction uses go-pagerduty's package-level
// ManageEventWithContext, which posts to events.pagerduty.com/v2/enqueue with
// http.DefaultClient, wants exactly 202 and parses 400 bodies as
// EventsAPIV2Error: the errors must surface in the error.
func TestGoPagerDutyPackageFunction(t *testing.T) {
	srv := newEnqueueServer(t)
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	saved := http.DefaultClient.Transport
	http.DefaultClient.Transport = redirectTransport{target}
	t.Cleanup(func() { http.DefaultClient.Transport = saved })
	ctx := context.Background()

	resp, err := pagerduty.ManageEventWithContext(ctx, pagerduty.V2Event{RoutingKey: testRoutingKey, Action: "trigger",
		Payload: &pagerduty.V2Payload{Summary: "s", Source: "h", Severity: "info"}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != "success" || !hexKey.MatchString(resp.DedupKey) {
		t.Errorf("response %+v", resp)
	}

	_, err = pagerduty.ManageEventWithContext(ctx, pagerduty.V2Event{RoutingKey: testRoutingKey, Action: "resolve"})
	var evErr pagerduty.EventsAPIV2Error
	if !errors.As(err, &evErr) {
		t.Fatalf("error %T %v, want EventsAPIV2Error", err, err)
	}
	if !evErr.BadRequest() || !evErr.APIError.Valid {
		t.Fatalf("error %+v", evErr)
	}
	eo := evErr.APIError.ErrorObject
	if eo.Status != "invalid event" || eo.Message != "Event object is invalid" ||
		!reflect.DeepEqual(eo.Errors, []string{"'dedup_key' is required for acknowledge and resolve events"}) {
		t.Errorf("error object %+v", eo)
	}
	if !strings.Contains(err.Error(), "'dedup_key' is required") {
		t.Errorf("error text %q does not carry the problem", err)
	}
}

// TestAlertmanagerPagerDutyNotifier points Alertmanager's own
// pagerduty_configs (with url:) at DecodeEvent: what Alertmanager sends for
// a firing and then a resolved group must be accepted, and a resolve must
// carry the trigger's dedup key.
func TestAlertmanagerPagerDutyNotifier(t *testing.T) {
	srv := newEnqueueServer(t)
	var conf ampagerduty.PagerdutyConfig
	cfgYAML := fmt.Sprintf("routing_key: %s\nurl: %s/v2/enqueue\nseverity: '{{ .CommonLabels.severity }}'\ncomponent: '{{ .CommonLabels.job }}'\n", testRoutingKey, srv.URL)
	if err := yaml.Unmarshal([]byte(cfgYAML), &conf); err != nil {
		t.Fatal(err)
	}
	conf.HTTPConfig = &commoncfg.HTTPClientConfig{}
	n, err := ampagerduty.New(&conf, newTemplate(t), discardLogger)
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"alertname": "HighErrorRate", "job": "api", "severity": "critical", "instance": "api-1"}
	ctx := notifyContext(`{}:{alertname="HighErrorRate"}`, "pagerd", model.LabelSet{"alertname": "HighErrorRate"})

	steps := []struct {
		name   string
		alert  *types.Alert
		action string
	}{
		{"firing", amAlert(labels, map[string]string{"summary": "API error rate above 5%"}, t0, time.Time{}, "http://prom/graph"), "trigger"},
		{"resolved", amAlert(labels, map[string]string{"summary": "API error rate above 5%"}, t0, past, "http://prom/graph"), "resolve"},
	}
	var triggerKey string
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if _, err := n.Notify(ctx, st.alert); err != nil {
				t.Fatalf("Alertmanager's notifier failed: %v", err)
			}
			ev := srv.last(t)
			if ev.Action != st.action || len(ev.DedupKey) != 64 {
				t.Fatalf("decoded %+v", ev)
			}
			if st.action == "trigger" {
				triggerKey = ev.DedupKey
				lbls, summary, details := EventGroup(ev)
				if lbls["severity"] != "critical" || lbls["component"] != "api" || lbls["source"] == "" {
					t.Errorf("labels %v", lbls)
				}
				if !strings.Contains(summary, "HighErrorRate") {
					t.Errorf("summary %q", summary)
				}
				if !json.Valid(details) || strings.Contains(string(details), testRoutingKey) {
					t.Errorf("details %s", details)
				}
			} else if ev.DedupKey != triggerKey {
				t.Errorf("resolve key %q, trigger key %q", ev.DedupKey, triggerKey)
			}
		})
	}
}

func TestAcceptedAndInvalidBodies(t *testing.T) {
	tests := []struct {
		name string
		resp EventResponse
		want string
	}{
		{"accepted", Accepted("2054032b780743fe87c80707d111ea59"), `{"status":"success","message":"Event processed","dedup_key":"2054032b780743fe87c80707d111ea59"}`},
		{"invalid", Invalid([]string{"'routing_key' is missing or blank", "'event_action' is missing or blank"}),
			`{"status":"invalid event","message":"Event object is invalid","errors":["'routing_key' is missing or blank","'event_action' is missing or blank"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.resp)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestDerivedDedupKey: a keyless trigger's key is 32 hex digits derived
// from what the event says (summary, source, severity, component, group,
// class, custom_details), so the same event sent twice has the same key
// and a different one another; what a resend may change (timestamp,
// client, links, images) and the routing key do not count, nor does the
// order of custom_details' keys.
func TestDerivedDedupKey(t *testing.T) {
	decode := func(body string) *pagerduty.V2Event {
		t.Helper()
		ev, errs := DecodeEvent([]byte(body))
		if errs != nil {
			t.Fatalf("%s: %v", body, errs)
		}
		return ev
	}
	full := func(ev, p map[string]any) {
		p["component"], p["group"], p["class"] = "disk", "web", "capacity"
		p["custom_details"] = map[string]any{"free": "1%", "mount": "/var", "n": 3}
	}
	base := DerivedDedupKey(decode(event(full)))
	if !hexKey.MatchString(base) {
		t.Fatalf("%q is not 32 lowercase hex characters", base)
	}
	if again := DerivedDedupKey(decode(event(full))); again != base {
		t.Fatalf("the same event: %s then %s", base, again)
	}
	same := map[string]func(ev, p map[string]any){
		"timestamp":   func(ev, p map[string]any) { p["timestamp"] = "2025-09-10T06:00:00Z" },
		"client":      func(ev, p map[string]any) { ev["client"], ev["client_url"] = "Nagios", "http://nagios" },
		"links":       func(ev, p map[string]any) { ev["links"] = []any{map[string]any{"href": "http://x"}} },
		"images":      func(ev, p map[string]any) { ev["images"] = []any{map[string]any{"src": "http://x.png"}} },
		"routing key": func(ev, p map[string]any) { ev["routing_key"] = "another-routing-key-0123456789ab" },
	}
	for name, mut := range same {
		if k := DerivedDedupKey(decode(event(func(ev, p map[string]any) { full(ev, p); mut(ev, p) }))); k != base {
			t.Errorf("%s changed the key", name)
		}
	}
	reordered := `{"routing_key":"` + testRoutingKey + `","event_action":"trigger","payload":{"custom_details":{"n":3,"mount":"/var","free":"1%"},` +
		`"class":"capacity","group":"web","component":"disk","severity":"warning","source":"web-3","summary":"Disk full"}}`
	if k := DerivedDedupKey(decode(reordered)); k != base {
		t.Errorf("the order of the JSON keys changed the key")
	}
	seen := map[string]string{base: "base"}
	for name, mut := range map[string]func(ev, p map[string]any){
		"summary":        func(ev, p map[string]any) { p["summary"] = "Disk full!" },
		"source":         func(ev, p map[string]any) { p["source"] = "web-4" },
		"severity":       func(ev, p map[string]any) { p["severity"] = "critical" },
		"component":      func(ev, p map[string]any) { p["component"] = "disk2" },
		"group":          func(ev, p map[string]any) { p["group"] = "api" },
		"class":          func(ev, p map[string]any) { p["class"] = "io" },
		"custom_details": func(ev, p map[string]any) { p["custom_details"].(map[string]any)["free"] = "2%" },
		"no details":     func(ev, p map[string]any) { delete(p, "custom_details") },
		// Fields must not run into each other.
		"moved text": func(ev, p map[string]any) { p["component"], p["group"] = "diskw", "eb" },
	} {
		k := DerivedDedupKey(decode(event(func(ev, p map[string]any) { full(ev, p); mut(ev, p) })))
		if prev, dup := seen[k]; dup {
			t.Errorf("%s gives the same key as %s", name, prev)
		}
		seen[k] = name
	}
}

// event returns a valid trigger body with mut applied to its JSON tree.
func event(mut func(ev, payload map[string]any)) string {
	payload := map[string]any{"summary": "Disk full", "source": "web-3", "severity": "warning"}
	ev := map[string]any{"routing_key": testRoutingKey, "event_action": "trigger", "payload": payload}
	if mut != nil {
		mut(ev, payload)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestDecodeEventInvalid(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"routing_key missing", event(func(ev, _ map[string]any) { delete(ev, "routing_key") }), []string{"'routing_key' is missing or blank"}},
		{"routing_key blank", event(func(ev, _ map[string]any) { ev["routing_key"] = "  " }), []string{"'routing_key' is missing or blank"}},
		{"routing_key null", event(func(ev, _ map[string]any) { ev["routing_key"] = nil }), []string{"'routing_key' is missing or blank"}},
		{"routing_key number", event(func(ev, _ map[string]any) { ev["routing_key"] = 42 }), []string{"'routing_key' must be a string"}},
		{"event_action missing", event(func(ev, _ map[string]any) { delete(ev, "event_action") }), []string{"'event_action' is missing or blank"}},
		{"event_action unknown", event(func(ev, _ map[string]any) { ev["event_action"] = "escalate" }), []string{"'event_action' must be one of: trigger, acknowledge, resolve"}},
		{"event_action is case sensitive", event(func(ev, _ map[string]any) { ev["event_action"] = "Trigger" }), []string{"'event_action' must be one of: trigger, acknowledge, resolve"}},
		{"event_action bool", event(func(ev, _ map[string]any) { ev["event_action"] = true }), []string{"'event_action' must be a string"}},
		{"acknowledge without dedup_key", `{"routing_key":"k","event_action":"acknowledge"}`, []string{"'dedup_key' is required for acknowledge and resolve events"}},
		{"resolve with blank dedup_key", `{"routing_key":"k","event_action":"resolve","dedup_key":" "}`, []string{"'dedup_key' is required for acknowledge and resolve events"}},
		{"dedup_key too long", event(func(ev, _ map[string]any) { ev["dedup_key"] = strings.Repeat("k", 256) }), []string{"'dedup_key' must be at most 255 characters"}},
		{"dedup_key too long (runes)", event(func(ev, _ map[string]any) { ev["dedup_key"] = strings.Repeat("ü", 256) }), []string{"'dedup_key' must be at most 255 characters"}},
		{"dedup_key number", event(func(ev, _ map[string]any) { ev["dedup_key"] = 7 }), []string{"'dedup_key' must be a string"}},
		{"payload missing", event(func(ev, _ map[string]any) { delete(ev, "payload") }), []string{"'payload' is missing"}},
		{"payload null", event(func(ev, _ map[string]any) { ev["payload"] = nil }), []string{"'payload' is missing"}},
		{"payload string", event(func(ev, _ map[string]any) { ev["payload"] = "boom" }), []string{"'payload' must be a JSON object"}},
		{"payload array", event(func(ev, _ map[string]any) { ev["payload"] = []any{} }), []string{"'payload' must be a JSON object"}},
		{"summary missing", event(func(_, p map[string]any) { delete(p, "summary") }), []string{"'payload.summary' is missing or blank"}},
		{"summary blank", event(func(_, p map[string]any) { p["summary"] = "\t" }), []string{"'payload.summary' is missing or blank"}},
		{"summary object", event(func(_, p map[string]any) { p["summary"] = map[string]any{} }), []string{"'payload.summary' must be a string"}},
		{"source missing", event(func(_, p map[string]any) { delete(p, "source") }), []string{"'payload.source' is missing or blank"}},
		{"severity missing", event(func(_, p map[string]any) { delete(p, "severity") }), []string{"'payload.severity' is missing or blank"}},
		{"severity unknown", event(func(_, p map[string]any) { p["severity"] = "high" }), []string{"'payload.severity' must be one of: critical, error, warning, info"}},
		{"severity upper case", event(func(_, p map[string]any) { p["severity"] = "CRITICAL" }), []string{"'payload.severity' must be one of: critical, error, warning, info"}},
		{"severity number", event(func(_, p map[string]any) { p["severity"] = 1 }), []string{"'payload.severity' must be a string"}},
		{"timestamp bad", event(func(_, p map[string]any) { p["timestamp"] = "yesterday" }), []string{"'payload.timestamp' is not a valid ISO 8601 timestamp"}},
		{"timestamp impossible date", event(func(_, p map[string]any) { p["timestamp"] = "2025-02-30T10:00:00Z" }), []string{"'payload.timestamp' is not a valid ISO 8601 timestamp"}},
		{"timestamp number", event(func(_, p map[string]any) { p["timestamp"] = 1700000000 }), []string{"'payload.timestamp' must be a string"}},
		{"component number", event(func(_, p map[string]any) { p["component"] = 1 }), []string{"'payload.component' must be a string"}},
		{"group bool", event(func(_, p map[string]any) { p["group"] = false }), []string{"'payload.group' must be a string"}},
		{"class array", event(func(_, p map[string]any) { p["class"] = []any{"a"} }), []string{"'payload.class' must be a string"}},
		{"client number", event(func(ev, _ map[string]any) { ev["client"] = 1 }), []string{"'client' must be a string"}},
		{"client_url object", event(func(ev, _ map[string]any) { ev["client_url"] = map[string]any{} }), []string{"'client_url' must be a string"}},
		{"links object", event(func(ev, _ map[string]any) { ev["links"] = map[string]any{"href": "x"} }), []string{"'links' must be an array"}},
		{"images string", event(func(ev, _ map[string]any) { ev["images"] = "x.png" }), []string{"'images' must be an array"}},
		{
			"every problem at once",
			`{"event_action":"trigger","dedup_key":"` + strings.Repeat("x", 300) + `","payload":{"severity":"bad","timestamp":"nope"}}`,
			[]string{
				"'routing_key' is missing or blank",
				"'dedup_key' must be at most 255 characters",
				"'payload.summary' is missing or blank",
				"'payload.source' is missing or blank",
				"'payload.severity' must be one of: critical, error, warning, info",
				"'payload.timestamp' is not a valid ISO 8601 timestamp",
			},
		},
		{"empty object", `{}`, []string{"'routing_key' is missing or blank", "'event_action' is missing or blank"}},
		{"empty body", ``, []string{"Malformed JSON: empty body"}},
		{"syntax error", `{"routing_key": "k",}`, []string{"Malformed JSON: invalid character '}' looking for beginning of object key string at byte 21"}},
		{"truncated", `{"routing_key": "k"`, []string{"Malformed JSON: unexpected end of input at byte 19"}},
		{"trailing data", event(nil) + `{}`, []string{fmt.Sprintf("Malformed JSON: unexpected data after the event object at byte %d", len(event(nil)))}},
		{"array", `[{"routing_key":"k"}]`, []string{"Malformed JSON: the event must be a JSON object, got array"}},
		{"string", `"trigger"`, []string{"Malformed JSON: the event must be a JSON object, got string"}},
		{"null", `null`, []string{"Malformed JSON: the event must be a JSON object, got null"}},
		{"too large", `{"pad":"` + strings.Repeat("x", MaxEventBytes) + `"}`, []string{fmt.Sprintf("Event object is too large: %d bytes, the limit is %d bytes", MaxEventBytes+10, MaxEventBytes)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, errs := DecodeEvent([]byte(tt.body))
			if ev != nil {
				t.Errorf("event %+v returned with errors", ev)
			}
			if !reflect.DeepEqual(errs, tt.want) {
				t.Errorf("errors\n got %q\nwant %q", errs, tt.want)
			}
		})
	}
}

func TestDecodeEventValid(t *testing.T) {
	longSummary := strings.Repeat("ß", 3000)
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, ev *pagerduty.V2Event)
	}{
		{"fixture", "", func(t *testing.T, ev *pagerduty.V2Event) {
			want := pagerduty.V2Event{
				RoutingKey: testRoutingKey, Action: "trigger", DedupKey: "checkout-latency-eu-west-1",
				Client: "Grafana", ClientURL: "https://grafana.example/d/checkout",
				Links:  []any{map[string]any{"href": "https://runbooks.example/checkout-latency", "text": "Runbook"}},
				Images: []any{map[string]any{"src": "https://grafana.example/render/checkout.png", "href": "https://grafana.example/d/checkout", "alt": "p99 latency"}},
				Payload: &pagerduty.V2Payload{
					Summary: "Checkout p99 latency above 2s in eu-west-1", Source: "checkout-lb.eu-west-1", Severity: "critical",
					Timestamp: "2015-07-17T08:42:58.315+0000", Component: "checkout", Group: "prod-eu", Class: "latency",
					Details: map[string]any{"p99_ms": json.Number("2350"), "region": "eu-west-1", "team": "payments",
						"thresholds": map[string]any{"warn": json.Number("1000"), "crit": json.Number("2000")}},
				},
			}
			if !reflect.DeepEqual(*ev, want) || !reflect.DeepEqual(*ev.Payload, *want.Payload) {
				t.Errorf("got  %+v %+v\nwant %+v %+v", *ev, *ev.Payload, want, *want.Payload)
			}
		}},
		{"long summary is truncated, not rejected", event(func(_, p map[string]any) { p["summary"] = longSummary }), func(t *testing.T, ev *pagerduty.V2Event) {
			if ev.Payload.Summary != longSummary[:2*MaxEventSummaryChars] || utf8.RuneCountInString(ev.Payload.Summary) != MaxEventSummaryChars {
				t.Errorf("summary of %d runes", utf8.RuneCountInString(ev.Payload.Summary))
			}
		}},
		{"255-character dedup key", event(func(ev, _ map[string]any) { ev["dedup_key"] = strings.Repeat("ü", 255) }), func(t *testing.T, ev *pagerduty.V2Event) {
			if utf8.RuneCountInString(ev.DedupKey) != 255 {
				t.Errorf("dedup key %q", ev.DedupKey)
			}
		}},
		{"blank dedup key on trigger is absent", event(func(ev, _ map[string]any) { ev["dedup_key"] = "  " }), func(t *testing.T, ev *pagerduty.V2Event) {
			if ev.DedupKey != "" {
				t.Errorf("dedup key %q", ev.DedupKey)
			}
		}},
		{"acknowledge needs no payload", `{"routing_key":"k","event_action":"acknowledge","dedup_key":"d"}`, func(t *testing.T, ev *pagerduty.V2Event) {
			if ev.Action != "acknowledge" || ev.DedupKey != "d" || ev.Payload != nil {
				t.Errorf("%+v", ev)
			}
		}},
		{"resolve ignores a broken payload", `{"routing_key":"k","event_action":"resolve","dedup_key":"d","payload":{"severity":"nope","summary":7}}`, func(t *testing.T, ev *pagerduty.V2Event) {
			if ev.Action != "resolve" || ev.Payload == nil || ev.Payload.Severity != "nope" || ev.Payload.Summary != "" {
				t.Errorf("%+v %+v", ev, ev.Payload)
			}
		}},
		{"resolve ignores a non-object payload", `{"routing_key":"k","event_action":"resolve","dedup_key":"d","payload":"x"}`, func(t *testing.T, ev *pagerduty.V2Event) {
			if ev.Payload != nil {
				t.Errorf("%+v", ev.Payload)
			}
		}},
		{"unknown and null fields", `{"routing_key":"k","event_action":"trigger","dedup_key":null,"client":null,"links":null,"future":{"a":[1]},"payload":{"summary":"s","source":"h","severity":"error","timestamp":null,"component":null,"custom_details":null,"extra":1}}`, func(t *testing.T, ev *pagerduty.V2Event) {
			if ev.DedupKey != "" || ev.Links != nil || ev.Payload.Details != nil || ev.Payload.Severity != "error" {
				t.Errorf("%+v %+v", ev, ev.Payload)
			}
		}},
		{"custom_details may be a string", event(func(_, p map[string]any) { p["custom_details"] = "free text" }), func(t *testing.T, ev *pagerduty.V2Event) {
			if ev.Payload.Details != "free text" {
				t.Errorf("%#v", ev.Payload.Details)
			}
		}},
		{"big numbers keep their digits", event(func(_, p map[string]any) {
			p["custom_details"] = json.RawMessage(`{"id":12345678901234567890123,"f":1e400}`)
		}), func(t *testing.T, ev *pagerduty.V2Event) {
			d := ev.Payload.Details.(map[string]any)
			if d["id"] != json.Number("12345678901234567890123") || d["f"] != json.Number("1e400") {
				t.Errorf("%#v", d)
			}
		}},
		{"whitespace around", "\n " + event(nil) + " \r\n", func(t *testing.T, ev *pagerduty.V2Event) {
			if ev.Payload.Summary != "Disk full" {
				t.Errorf("%+v", ev.Payload)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			if tt.body == "" {
				body = readFixture(t, "pagerduty-trigger.json")
			}
			ev, errs := DecodeEvent(body)
			if errs != nil {
				t.Fatalf("errors %q", errs)
			}
			tt.check(t, ev)
		})
	}
}

func TestParseTimestamp(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2015-07-17T08:42:58.315+0000", utc(2015, 7, 17, 8, 42, 58, 315000000), true},
		{"2015-07-17T08:42:58Z", utc(2015, 7, 17, 8, 42, 58, 0), true},
		{"2015-07-17T08:42:58.123456789Z", utc(2015, 7, 17, 8, 42, 58, 123456789), true},
		{"2015-07-17T10:42:58+02:00", utc(2015, 7, 17, 8, 42, 58, 0), true},
		{"2015-07-17T10:42:58+02", utc(2015, 7, 17, 8, 42, 58, 0), true},
		{"2015-07-17 08:42:58Z", utc(2015, 7, 17, 8, 42, 58, 0), true},
		{"2015-07-17t08:42:58z", utc(2015, 7, 17, 8, 42, 58, 0), true},
		{"2015-07-17T08:42:58", utc(2015, 7, 17, 8, 42, 58, 0), true},
		{"2015-07-17T08:42:58,5Z", utc(2015, 7, 17, 8, 42, 58, 500000000), true},
		{"2015-07-17T08:42Z", utc(2015, 7, 17, 8, 42, 0, 0), true},
		{"2015-07-17T08:42", utc(2015, 7, 17, 8, 42, 0, 0), true},
		{"2015-07-17", utc(2015, 7, 17, 0, 0, 0, 0), true},
		{"", time.Time{}, false},
		{"17/07/2015", time.Time{}, false},
		{"2015-13-01T00:00:00Z", time.Time{}, false},
		{"2015-07-17T25:00:00Z", time.Time{}, false},
		{"1437122578", time.Time{}, false},
		{"2015-07-17T08:42:58Zjunk", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := ParseTimestamp(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseTimestamp(%q) error %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && !got.Equal(tt.want) {
			t.Errorf("ParseTimestamp(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestEventGroup(t *testing.T) {
	tests := []struct {
		name        string
		ev          *pagerduty.V2Event
		wantLabels  map[string]string
		wantSummary string
	}{
		{
			name: "standard fields and string custom details",
			ev: &pagerduty.V2Event{RoutingKey: testRoutingKey, Action: "trigger", DedupKey: "d",
				Payload: &pagerduty.V2Payload{Summary: " Checkout slow ", Source: "lb-1", Severity: "critical", Component: "checkout", Group: "prod", Class: "latency",
					Details: map[string]any{
						"team": "payments", "category": "revenue_impact", // become labels
						"severity": "info", "source": "spoofed", // never override the standard fields
						"count": json.Number("3"), "nested": map[string]any{"a": "b"}, "flag": true, // not strings
						"bad-name": "x", "1st": "x", "__reserved": "x", "ünï": "x", "empty": "", // not label names, or empty
					}}},
			wantLabels: map[string]string{"severity": "critical", "source": "lb-1", "component": "checkout", "group": "prod", "class": "latency",
				"team": "payments", "category": "revenue_impact"},
			wantSummary: "Checkout slow",
		},
		{
			name: "optional fields absent",
			ev: &pagerduty.V2Event{Action: "trigger",
				Payload: &pagerduty.V2Payload{Summary: "Disk full", Source: "web-3", Severity: "warning", Details: "free text"}},
			wantLabels:  map[string]string{"severity": "warning", "source": "web-3"},
			wantSummary: "Disk full",
		},
		{
			name:        "no payload",
			ev:          &pagerduty.V2Event{Action: "resolve", DedupKey: "d"},
			wantLabels:  map[string]string{},
			wantSummary: "PagerDuty event",
		},
		{
			name:        "blank summary falls back",
			ev:          &pagerduty.V2Event{Action: "trigger", Payload: &pagerduty.V2Payload{Summary: " ", Source: "h", Severity: "info"}},
			wantLabels:  map[string]string{"severity": "info", "source": "h"},
			wantSummary: "PagerDuty event from h",
		},
		{
			name:        "nil event",
			ev:          nil,
			wantLabels:  map[string]string{},
			wantSummary: "PagerDuty event",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			labels, summary, details := EventGroup(tt.ev)
			if !reflect.DeepEqual(labels, tt.wantLabels) {
				t.Errorf("labels %v, want %v", labels, tt.wantLabels)
			}
			if summary != tt.wantSummary {
				t.Errorf("summary %q, want %q", summary, tt.wantSummary)
			}
			var d struct {
				Source string                     `json:"source"`
				Event  map[string]json.RawMessage `json:"event"`
			}
			if err := json.Unmarshal(details, &d); err != nil {
				t.Fatalf("details %s: %v", details, err)
			}
			if d.Source != "pagerduty" {
				t.Errorf("details source %q", d.Source)
			}
			if _, ok := d.Event["routing_key"]; ok || strings.Contains(string(details), testRoutingKey) {
				t.Errorf("details leak the routing key: %s", details)
			}
			if tt.ev != nil && string(d.Event["event_action"]) != `"`+tt.ev.Action+`"` {
				t.Errorf("details %s", details)
			}
		})
	}
}

// TestEventGroupDetailsFromFixture pins the Details shape for a full event.
func TestEventGroupDetailsFromFixture(t *testing.T) {
	ev, errs := DecodeEvent(readFixture(t, "pagerduty-trigger.json"))
	if errs != nil {
		t.Fatal(errs)
	}
	_, _, details := EventGroup(ev)
	want := `{"source":"pagerduty","event":{"event_action":"trigger","dedup_key":"checkout-latency-eu-west-1",` +
		`"images":[{"alt":"p99 latency","href":"https://grafana.example/d/checkout","src":"https://grafana.example/render/checkout.png"}],` +
		`"links":[{"href":"https://runbooks.example/checkout-latency","text":"Runbook"}],"client":"Grafana","client_url":"https://grafana.example/d/checkout",` +
		`"payload":{"summary":"Checkout p99 latency above 2s in eu-west-1","source":"checkout-lb.eu-west-1","severity":"critical",` +
		`"timestamp":"2015-07-17T08:42:58.315+0000","component":"checkout","group":"prod-eu","class":"latency",` +
		`"custom_details":{"p99_ms":2350,"region":"eu-west-1","team":"payments","thresholds":{"crit":2000,"warn":1000}}}}}`
	if string(details) != want {
		t.Errorf("details\n got %s\nwant %s", details, want)
	}
}

func FuzzDecodeEvent(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "pagerduty-*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed fixtures: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(event(nil)))
	f.Add([]byte(`{"routing_key":"k","event_action":"acknowledge","dedup_key":"d","payload":{"custom_details":[1,{"a":null}]}}`))
	f.Add([]byte(`{"event_action":"trigger","payload":{"summary":"s","source":"h","severity":"info","timestamp":"2015-07-17T08:42:58.315+0000","custom_details":{"team":"x","n":1e999}}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, errs := DecodeEvent(body)
		if (ev == nil) == (errs == nil) {
			t.Fatalf("want exactly one of event and errors, got %+v and %q", ev, errs)
		}
		if errs != nil {
			for _, e := range errs {
				if e == "" {
					t.Fatal("empty error")
				}
			}
			if _, err := json.Marshal(Invalid(errs)); err != nil {
				t.Fatal(err)
			}
			return
		}
		if strings.TrimSpace(ev.RoutingKey) == "" {
			t.Fatal("accepted an event without routing key")
		}
		switch ev.Action {
		case "trigger":
			if ev.Payload == nil || strings.TrimSpace(ev.Payload.Summary) == "" || !isSeverity(ev.Payload.Severity) {
				t.Fatalf("accepted trigger %+v", ev)
			}
			if utf8.RuneCountInString(ev.Payload.Summary) > MaxEventSummaryChars {
				t.Fatal("summary not truncated")
			}
		case "acknowledge", "resolve":
			if ev.DedupKey == "" {
				t.Fatal("accepted acknowledge/resolve without dedup key")
			}
		default:
			t.Fatalf("accepted action %q", ev.Action)
		}
		if utf8.RuneCountInString(ev.DedupKey) > MaxDedupKeyChars {
			t.Fatal("dedup key too long")
		}
		labels, summary, details := EventGroup(ev)
		if summary == "" || labels == nil || !json.Valid(details) {
			t.Fatalf("EventGroup gave %v %q %s", labels, summary, details)
		}
		if ev.Action == "trigger" && labels["severity"] != ev.Payload.Severity {
			t.Fatalf("severity label %q, payload %q", labels["severity"], ev.Payload.Severity)
		}
		// What we accepted must survive being forwarded: go-pagerduty
		// marshals it and we accept it again.
		again, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, errs := DecodeEvent(again); errs != nil && len(again) <= MaxEventBytes {
			t.Fatalf("re-decoding %s: %q", again, errs)
		}
	})
}
