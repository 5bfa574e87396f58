package gateway

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

const ogKey = "og-key-0123456789abcdef01234567"

// ogConfig is testConfig with an Opsgenie key on service api, whose rules
// are the ones pagerd import writes (a priority label per Opsgenie
// priority), and a rate limit small enough to reach.
var ogConfig = strings.Replace(strings.Replace(testConfig,
	"integrations: {alertmanager_key: "+amKey+", pagerduty_routing_key: "+pdKey+"}",
	"integrations: {alertmanager_key: "+amKey+", pagerduty_routing_key: "+pdKey+", opsgenie_key: "+ogKey+"}\n"+
		"    rules:\n      - {name: opsgenie-P2, matchers: ['priority=\"P2\"'], priority: P1}", 1),
	"api:\n", "server:\n  rate_limit: {per_second: 1, burst: 30}\napi:\n", 1)

type ogAnswer struct {
	Result    string            `json:"result"`
	Message   string            `json:"message"`
	Errors    map[string]string `json:"errors"`
	Took      *float64          `json:"took"`
	RequestID string            `json:"requestId"`
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// og sends an Opsgenie request with the GenieKey and checks the answer's
// code and its Opsgenie shape.
func (h *harness) og(method, path, body string, want int, hdr ...string) ogAnswer {
	h.t.Helper()
	r := h.do(method, path, body, append([]string{"Authorization", "GenieKey " + ogKey}, hdr...)...)
	if r.code != want {
		h.t.Fatalf("%s %s: %d %s, want %d", method, path, r.code, r.body, want)
	}
	var a ogAnswer
	r.json(h.t, &a)
	if a.Took == nil || !uuidRE.MatchString(a.RequestID) || r.hdr.Get("X-Request-ID") != a.RequestID {
		h.t.Fatalf("%s %s: not Opsgenie's answer (took, a UUID requestId, the same X-Request-ID): %s %v", method, path, r.body, r.hdr)
	}
	return a
}

// TestOpsgenieCreateCloseAcknowledge: an Opsgenie create opens an
// incident on the key's service with its priority from the labels (the
// rules import writes, or the severity of the same rank), the alias is its
// dedup key, and close and acknowledge by alias or by id act on it.
func TestOpsgenieCreateCloseAcknowledge(t *testing.T) {
	h := newHarness(t, withConfig(ogConfig))
	a := h.og("POST", "/v2/alerts", `{"message":"DB down","alias":"db-down","priority":"P1","tags":["team:db"],"details":{"region":"eu"}}`, 202)
	if a.Result != "Request will be processed" {
		t.Fatalf("answer %+v", a)
	}
	incs := h.list("")
	if len(incs) != 1 {
		t.Fatalf("%d incidents", len(incs))
	}
	inc := h.incident(incs[0].ID)
	if inc.Service != "api" || inc.Source != "opsgenie" || inc.Priority != "P0" || inc.Summary != "DB down" || inc.DedupKey != "og:db-down" {
		t.Fatalf("incident %+v", inc)
	}
	for _, want := range []string{`"team":"db"`, `"region":"eu"`, `"priority":"P1"`, `"severity":"critical"`} {
		if !strings.Contains(string(inc.Details), want) {
			t.Errorf("details lack %s: %s", want, inc.Details)
		}
	}
	// The same alias again is a repeat; P2 goes through import's rule.
	h.og("POST", "/v2/alerts", `{"message":"DB down","alias":"db-down","priority":"P1"}`, 202)
	h.og("POST", "/v2/alerts", `{"message":"Slow","alias":"slow","priority":"P2"}`, 202)
	if n := len(h.list("")); n != 2 {
		t.Fatalf("%d incidents after a repeat and a new alias, want 2", n)
	}
	if v := h.incident(inc.ID); v.Repeats != 1 {
		t.Errorf("repeats %d, want 1", v.Repeats)
	}
	if got := h.list("?priority=P1"); len(got) != 1 || got[0].DedupKey != "og:slow" || got[0].Rule != "opsgenie-P2" {
		t.Errorf("P2 alert: %+v", got)
	}

	h.og("POST", "/v2/alerts/db-down/acknowledge?identifierType=alias", `{"user":"ann","source":"cli","note":"on it"}`, 202)
	if v := h.incident(inc.ID); v.Status != policy.StatusAcknowledged || v.AcknowledgedBy != "ann" {
		t.Fatalf("after acknowledge: %s by %s", v.Status, v.AcknowledgedBy)
	}
	h.og("POST", "/v2/alerts/db-down/close?identifierType=alias", `{"source":"http://am:9093"}`, 202)
	if v := h.incident(inc.ID); v.Status != policy.StatusResolved || v.ResolvedBy != "opsgenie" {
		t.Fatalf("after close: %s by %s", v.Status, v.ResolvedBy)
	}
	// By id (Opsgenie's default identifier type), with no body.
	slow := h.list("?priority=P1")[0].ID
	h.og("POST", "/v2/alerts/"+slow+"/close", "", 202)
	if v := h.incident(slow); v.Status != policy.StatusResolved {
		t.Fatalf("close by id: %s", v.Status)
	}
	// Closing what is not open, or not there, is accepted and changes
	// nothing, as in Opsgenie (which does it later).
	h.og("POST", "/v2/alerts/db-down/close?identifierType=alias", "", 202)
	h.og("POST", "/v2/alerts/nope/close?identifierType=alias", "", 202)
	h.og("POST", "/v2/alerts/00-nope/acknowledge?identifierType=id", "", 202)
	// Every request is counted, by id as by alias.
	for outcome, want := range map[string]float64{"created": 2, "acknowledged": 1, "resolved": 2, "ignored": 3} {
		if got := metric(t, h.reg, "pagerd_alerts_received_total", "source", "opsgenie", "service", "api", "outcome", outcome); got != want {
			t.Errorf("pagerd_alerts_received_total{outcome=%q} = %v, want %v", outcome, got, want)
		}
	}
}

// TestOpsgenieEscapedAliasActs: an alias holding characters a client
// percent-encodes in the path (Python's quote turns ':' into %3A, '/'
// into %2F) is acknowledged and closed by it, not answered 202 for
// nothing while the alert keeps paging; a literal '%' sent as %25 is not
// unescaped twice.
func TestOpsgenieEscapedAliasActs(t *testing.T) {
	for _, tc := range []struct{ alias, path string }{
		{"db:disk-full", "db%3Adisk-full"},
		{"eu/db1", "eu%2Fdb1"},
		{"db disk full", "db%20disk%20full"},
		{"db[1]", "db%5B1%5D"},
		{"disk 50%41", "disk%2050%2541"},
		{"a:b%41", "a%3Ab%2541"},
		{"ready", "re%61dy"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			h := newHarness(t, withConfig(ogConfig))
			h.og("POST", "/v2/alerts", `{"message":"DB disk","alias":"`+tc.alias+`","priority":"P1"}`, 202)
			id := h.list("")[0].ID
			h.og("POST", "/v2/alerts/"+tc.path+"/acknowledge?identifierType=alias", "", 202)
			if v := h.incident(id); v.Status != policy.StatusAcknowledged {
				t.Fatalf("alias %q acknowledged as %s: 202 answered, incident still %s", tc.alias, tc.path, v.Status)
			}
			h.og("POST", "/v2/alerts/"+tc.path+"/close?identifierType=alias", "", 202)
			if v := h.incident(id); v.Status != policy.StatusResolved {
				t.Fatalf("alias %q closed as %s: 202 answered, incident still %s", tc.alias, tc.path, v.Status)
			}
		})
	}
}

// TestOpsgenieLongAliasActs: an alias over Opsgenie's 512 bytes is cut
// (with a digest) when its alert is created; acknowledging and closing by
// the same alias, as sent, act on that alert, not 202 for nothing.
func TestOpsgenieLongAliasActs(t *testing.T) {
	for name, alias := range map[string]string{"ascii": strings.Repeat("a", 600), "utf-8": strings.Repeat("é", 300)} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withConfig(ogConfig))
			h.og("POST", "/v2/alerts", `{"message":"DB disk","alias":"`+alias+`","priority":"P1"}`, 202)
			id := h.list("")[0].ID
			path := "/v2/alerts/" + url.PathEscape(alias)
			h.og("POST", path+"/acknowledge?identifierType=alias", "", 202)
			if v := h.incident(id); v.Status != policy.StatusAcknowledged {
				t.Fatalf("acknowledge of a %d-byte alias answered 202, incident still %s (dedup key %.40q…)", len(alias), v.Status, v.DedupKey)
			}
			h.og("POST", path+"/close?identifierType=alias", "", 202)
			if v := h.incident(id); v.Status != policy.StatusResolved {
				t.Fatalf("close of a %d-byte alias answered 202, incident still %s (dedup key %.40q…)", len(alias), v.Status, v.DedupKey)
			}
		})
	}
}

// TestOpsgenieIdOfAnotherService: a key acts only on its own service's
// incidents.
func TestOpsgenieIdOfAnotherService(t *testing.T) {
	h := newHarness(t, withConfig(ogConfig))
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g9", map[string]string{"alertname": "X", "severity": "warning"}),
		"Authorization", "Bearer batch-key-0000000000000000000000")
	if r.code != 200 {
		t.Fatal(r.body)
	}
	id := h.list("")[0].ID
	h.og("POST", "/v2/alerts/"+id+"/close", "", 202)
	if v := h.incident(id); v.Status != policy.StatusTriggered {
		t.Fatalf("an Opsgenie key of service api closed an incident of batch: %s", v.Status)
	}
}

// TestOpsgenieKeylessCreateIsOneIncident: a create without an alias,
// retried after a 503 that stored it, is one incident (its alias derived
// from the content, as for a keyless PagerDuty trigger).
func TestOpsgenieKeylessCreateIsOneIncident(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := &storedThenFailed{Store: mk(t)}
			h := newHarness(t, withStore(st), withConfig(ogConfig))
			body := `{"message":"Disk full","tags":["a","b"],"details":{"host":"db1"}}`
			if a := h.og("POST", "/v2/alerts", body, 503); !strings.Contains(a.Message, "retry") {
				t.Errorf("503 answer %+v", a)
			}
			h.og("POST", "/v2/alerts", `{"details":{"host":"db1"},"tags":["b","a"],"message":"Disk full","note":"retry"}`, 202)
			incs := h.list("")
			if len(incs) != 1 || incs[0].Repeats != 1 || !strings.HasPrefix(incs[0].DedupKey, "og:") || len(incs[0].DedupKey) != 35 {
				t.Fatalf("incidents %+v", incs)
			}
			h.og("POST", "/v2/alerts", `{"message":"Disk full","details":{"host":"db2"}}`, 202)
			if n := len(h.list("")); n != 2 {
				t.Fatalf("another keyless alert: %d incidents, want 2", n)
			}
		})
	}
}

// TestOpsgenieRefusals: Opsgenie's codes and bodies for what can never
// succeed, and 429 over the rate limit (which Alertmanager's
// opsgenie_configs retry).
func TestOpsgenieRefusals(t *testing.T) {
	h := newHarness(t, withConfig(ogConfig))
	for _, tc := range []struct {
		name, method, path, body string
		hdr                      []string
		code                     int
		field                    string
	}{
		{"no key", "POST", "/v2/alerts", `{"message":"m"}`, []string{"Authorization", ""}, 401, ""},
		{"bearer, not GenieKey", "POST", "/v2/alerts", `{"message":"m"}`, []string{"Authorization", "Bearer " + ogKey}, 401, ""},
		{"unknown key", "POST", "/v2/alerts", `{"message":"m"}`, []string{"Authorization", "GenieKey " + amKey}, 401, ""},
		{"not JSON", "POST", "/v2/alerts", `{"message":`, nil, 400, ""},
		{"no message", "POST", "/v2/alerts", `{"alias":"x"}`, nil, 422, "message"},
		{"bad priority", "POST", "/v2/alerts", `{"message":"m","priority":"P9"}`, nil, 422, "priority"},
		{"not JSON content", "POST", "/v2/alerts", `{"message":"m"}`, []string{"Content-Type", "text/plain"}, 415, ""},
		{"too large once cut", "POST", "/v2/alerts", `{"message":"m","details":{` + strings.Repeat(`"k":"v",`, 1<<20) + `"a":"b"}}`, nil, 413, ""},
		{"tiny ids", "POST", "/v2/alerts/12/close?identifierType=tiny", ``, nil, 422, "identifierType"},
		{"bad identifier type", "POST", "/v2/alerts/12/close?identifierType=name", ``, nil, 422, "identifierType"},
		{"unknown action", "POST", "/v2/alerts/12/snooze", ``, nil, 404, ""},
		{"unknown heartbeat", "GET", "/v2/heartbeats/nope/ping", ``, nil, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := h.og(tc.method, tc.path, tc.body, tc.code, tc.hdr...)
			if a.Message == "" || a.Result != "" || (tc.field != "" && a.Errors[tc.field] == "") {
				t.Errorf("answer %+v", a)
			}
		})
	}
	if n := len(h.list("")); n != 0 {
		t.Fatalf("refused requests stored %d incidents", n)
	}
	if !strings.Contains(h.logs.String(), `"key":"services[api].integrations.opsgenie_key"`) {
		t.Error("a refused Opsgenie request is not logged with the key's name")
	}
	// Over the rate limit (a burst of 30): 429, with Retry-After.
	var last response
	for i := 0; i < 40; i++ {
		last = h.do("POST", "/v2/alerts", `{"message":"m","alias":"flood"}`, "Authorization", "GenieKey "+ogKey)
	}
	if last.code != 429 || last.hdr.Get("Retry-After") == "" {
		t.Fatalf("over the rate limit: %d %s", last.code, last.body)
	}
}

// TestOpsgenieUpdatesMessageAndDescription: Opsgenie's updates of an open
// alert's message and description, which Alertmanager's opsgenie_configs
// send after every create with update_alerts: true. A message update
// changes the incident's summary, by alias or id, and says so in its
// timeline. The description is the one the alert was created (or
// repeated) with, which Alertmanager's update repeats: that is accepted,
// another is 422, not a 202 for what is not stored. An update to what the
// alert says already writes nothing. (Before: 405, which Alertmanager
// counts as a failed notification, and the incident kept the first
// message its group had.)
func TestOpsgenieUpdatesMessageAndDescription(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) { testOpsgenieUpdates(t, mk(t)) })
	}
}

func testOpsgenieUpdates(t *testing.T, st store.Store) {
	h := newHarness(t, withStore(st), withConfig(ogConfig))
	h.og("POST", "/v2/alerts", `{"message":"disk 90% full","alias":"disk","description":"db1 /var","priority":"P1"}`, 202)
	id := h.list("")[0].ID
	description := func() string {
		var d struct {
			Alert struct{ Description string } `json:"alert"`
		}
		if err := json.Unmarshal(h.incident(id).Details, &d); err != nil {
			t.Fatal(err)
		}
		return d.Alert.Description
	}
	updates := func() int {
		n := 0
		for _, e := range h.incident(id).Timeline {
			if e.Type == "updated" {
				n++
			}
		}
		return n
	}

	// As Alertmanager sends them: the create (a repeat), then the updates.
	h.og("POST", "/v2/alerts", `{"message":"disk 99% full","alias":"disk","description":"db1 /var, 3 GB left","priority":"P1"}`, 202)
	h.og("PUT", "/v2/alerts/disk/message?identifierType=alias", `{"message":"disk 99% full"}`, 202)
	h.og("PUT", "/v2/alerts/disk/description?identifierType=alias", `{"description":"db1 /var, 3 GB left"}`+"\n", 202)
	if v := h.incident(id); v.Summary != "disk 99% full" || description() != "db1 /var, 3 GB left" || v.Status != policy.StatusTriggered {
		t.Fatalf("after the updates: %q, %q, %s", v.Summary, description(), v.Status)
	}
	if l := h.list(""); len(l) != 1 || l[0].Summary != "disk 99% full" {
		t.Fatalf("the list shows %+v after the message update", l)
	}
	if !h.timelineHas(id, "updated", `message: "disk 99% full" (was "disk 90% full")`) || updates() != 1 {
		t.Fatalf("the timeline does not say what the update changed: %+v", h.incident(id).Timeline)
	}
	// A description the alert was not sent with is not stored: 422.
	if a := h.og("PUT", "/v2/alerts/disk/description?identifierType=alias", `{"description":"something else"}`, 422); a.Errors["description"] == "" {
		t.Errorf("an update to a description not kept: %+v", a)
	}
	if got := description(); got != "db1 /var, 3 GB left" {
		t.Errorf("description after a refused update: %q", got)
	}
	// The same again (Alertmanager sends them with every repeat), by id:
	// nothing is written.
	h.og("PUT", "/v2/alerts/"+id+"/message", `{"message":"disk 99% full"}`, 202)
	h.og("PUT", "/v2/alerts/"+id+"/description?identifierType=id", `{"description":"db1 /var, 3 GB left"}`, 202)
	if n := updates(); n != 1 {
		t.Fatalf("updates to what the alert says already wrote %d entries, want none", n-1)
	}
	// A message over Opsgenie's 130 characters is cut, as a create's is.
	long := strings.Repeat("m", 200)
	h.og("PUT", "/v2/alerts/disk/message?identifierType=alias", `{"message":"`+long+`"}`, 202)
	if got := h.incident(id).Summary; len([]rune(got)) != 130 || !strings.HasPrefix(got, "mmm") {
		t.Fatalf("a long message became %q (%d runes), want it cut to 130", got, len([]rune(got)))
	}

	// What can never succeed is refused, and changes nothing.
	for _, tc := range []struct {
		path, body string
		code       int
		field      string
	}{
		{"/v2/alerts/disk/message?identifierType=alias", `{"message":"  "}`, 422, "message"},
		{"/v2/alerts/disk/message?identifierType=alias", `{"description":"d"}`, 422, "message"},
		{"/v2/alerts/disk/description?identifierType=alias", `{"description":7}`, 422, "description"},
		{"/v2/alerts/disk/message?identifierType=tiny", `{"message":"m"}`, 422, "identifierType"},
		{"/v2/alerts/disk/priority?identifierType=alias", `{"priority":"P2"}`, 404, ""},
		{"/v2/alerts/disk/message?identifierType=alias", `{"message":`, 400, ""},
	} {
		a := h.og("PUT", tc.path, tc.body, tc.code)
		if a.Message == "" || (tc.field != "" && a.Errors[tc.field] == "") {
			t.Errorf("PUT %s %s: %+v", tc.path, tc.body, a)
		}
	}
	if n := updates(); n != 2 {
		t.Fatalf("refused updates wrote %d entries", n-2)
	}
	// An incident another intake opened has no Opsgenie description: 422,
	// not a 202 for nothing stored. Its message is its summary.
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g1", map[string]string{"alertname": "A", "severity": "critical"}), "Authorization", "Bearer "+amKey)
	if r.code != 200 {
		t.Fatalf("alert: %d %s", r.code, r.body)
	}
	var am string
	for _, v := range h.list("") {
		if v.Source == "alertmanager" {
			am = v.ID
		}
	}
	if a := h.og("PUT", "/v2/alerts/"+am+"/description", `{"description":"d"}`, 422); a.Errors["identifier"] == "" {
		t.Errorf("a description update of an Alertmanager incident: %+v", a)
	}
	h.og("PUT", "/v2/alerts/"+am+"/message", `{"message":"A on db1"}`, 202)
	if got := h.incident(am).Summary; got != "A on db1" {
		t.Errorf("the Alertmanager incident's summary after a message update: %q", got)
	}
	// Like a close, an update of no open alert is accepted and changes
	// nothing (Opsgenie does it later).
	h.og("POST", "/v2/alerts/disk/close?identifierType=alias", ``, 202)
	h.og("PUT", "/v2/alerts/disk/message?identifierType=alias", `{"message":"after the close"}`, 202)
	h.og("PUT", "/v2/alerts/nope/message?identifierType=alias", `{"message":"m"}`, 202)
	if got := h.incident(id).Summary; got == "after the close" {
		t.Errorf("an update after the close changed the resolved incident")
	}
	for outcome, want := range map[string]float64{"created": 1, "updated": 3, "repeated": 4, "ignored": 2} {
		if got := metric(t, h.reg, "pagerd_alerts_received_total", "source", "opsgenie", "service", "api", "outcome", outcome); got != want {
			t.Errorf("pagerd_alerts_received_total{outcome=%q} = %v, want %v", outcome, got, want)
		}
	}
}

// TestOpsgenieCloseNotHeldBackByCreates: Opsgenie's close and acknowledge
// shared the service's rate-limit bucket with its creates, so a burst of
// creates made the close of an alert 429 (and its pages go on). They have
// a bucket of their own.
func TestOpsgenieCloseNotHeldBackByCreates(t *testing.T) {
	cfg := strings.Replace(ogConfig, "rate_limit: {per_second: 1, burst: 30}", "rate_limit: {per_second: 0.02, burst: 3}", 1)
	h := newHarness(t, withConfig(cfg))
	for _, alias := range []string{"disk", "a", "b"} {
		h.og("POST", "/v2/alerts", `{"message":"`+alias+` full","alias":"`+alias+`"}`, 202)
	}
	h.og("POST", "/v2/alerts", `{"message":"c","alias":"c"}`, 429)
	h.og("POST", "/v2/alerts/disk/acknowledge?identifierType=alias", `{}`, 202)
	h.og("POST", "/v2/alerts/disk/close?identifierType=alias", `{}`, 202)
}

// TestOpsgenieRoutesOnDetailsBeforeTheyAreCut: Alertmanager's
// opsgenie_configs sends the group's labels in details, with the
// receiver's own (a long description template); over Opsgenie's 8,000
// characters the details kept are cut, keys in order, but routing reads
// them as sent, as it reads an Alertmanager alert's labels. (Before: the
// cut dropped severity=critical, sorting after the long key, and the
// alert was routed on its priority's default, P3: a P2, push only off
// hours.)
func TestOpsgenieRoutesOnDetailsBeforeTheyAreCut(t *testing.T) {
	h := newHarness(t, withConfig(ogConfig))
	details := map[string]string{
		"alertname":   "DBDown",
		"annotations": strings.Repeat("x", 7970),
		"severity":    "critical",
	}
	b, _ := json.Marshal(map[string]any{"message": "DB down", "alias": "grp-1", "details": details})
	h.og("POST", "/v2/alerts", string(b), 202)
	incs := h.list("")
	if len(incs) != 1 || incs[0].Priority != "P0" {
		t.Fatalf("an alert with severity=critical in details cut to the budget: %+v, want P0", incs)
	}
	var kept struct {
		Alert struct {
			Details map[string]string `json:"details"`
		} `json:"alert"`
		Truncated []string `json:"truncated_by_pagerd"`
	}
	if err := json.Unmarshal(h.incident(incs[0].ID).Details, &kept); err != nil {
		t.Fatal(err)
	}
	if _, ok := kept.Alert.Details["severity"]; ok || len(kept.Truncated) == 0 {
		t.Errorf("the details kept are not cut to Opsgenie's budget: %+v", kept)
	}
}
