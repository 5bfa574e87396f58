package gateway

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/logtest"
)

// What happened must be visible: refused alerts in the log, who acted on
// an incident, go-redis's own lines as JSON, and pages that say why.

func findLog(lines []map[string]any, msg string, attrs map[string]any) map[string]any {
	for _, l := range lines {
		if l["msg"] != msg {
			continue
		}
		ok := true
		for k, v := range attrs {
			ok = ok && fmt.Sprint(l[k]) == fmt.Sprint(v)
		}
		if ok {
			return l
		}
	}
	return nil
}

// TestRejectedIngestionLogged: every refused alert or event (401, 400, 413,
// 415, 429) is logged at warn with the request id the sender got, the name
// of the key it presented and why, never the key itself.
func TestRejectedIngestionLogged(t *testing.T) {
	h := newHarness(t)
	const wrongKey = "wrong-key-ffffffffffffffffffffffff"
	good := amPayload("firing", "g", map[string]string{"alertname": "A"})
	amName := "services[api].integrations.alertmanager_key"
	cases := []struct {
		name   string
		path   string
		body   string
		hdr    []string
		code   int
		key    string
		reason string
	}{
		{"no key", "/api/v1/alertmanager", good, nil, 401, "none", "missing integration key"},
		{"wrong key", "/api/v1/alertmanager", good, []string{"Authorization", "Bearer " + wrongKey}, 401, "unknown", "unknown Alertmanager integration key"},
		{"wrong key in the path", "/api/v1/alertmanager/" + wrongKey, good, nil, 401, "unknown", "unknown Alertmanager integration key"},
		{"bad payload", "/api/v1/alertmanager", `{"version":"3"}`, []string{"Authorization", "Bearer " + amKey}, 400, amName, "version"},
		{"not JSON", "/api/v1/alertmanager", good, []string{"Authorization", "Bearer " + amKey, "Content-Type", "text/plain"}, 415, amName, "Content-Type text/plain"},
		{"too big", "/api/v1/alertmanager", strings.Repeat(" ", alertmanagerStreamLimit+1), []string{"Authorization", "Bearer " + amKey}, 413, amName, "the limit is"},
		{"rate limited: the first passes", "/api/v1/alertmanager", good, []string{"Authorization", "Bearer " + amKey}, 200, "", ""},
		{"over the rate limit", "/api/v1/alertmanager", good, []string{"Authorization", "Bearer " + amKey}, 503, amName, "too many notifications"},
		{"unknown routing key", "/v2/enqueue", `{"routing_key":"` + wrongKey + `","event_action":"trigger","payload":{"summary":"s","source":"h","severity":"error"}}`, nil, 400, "unknown", "Invalid routing key"},
		{"invalid event", "/v2/enqueue", `{"routing_key":"` + pdKey + `","event_action":"explode"}`, nil, 400, "not read", "'event_action' must be one of"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if strings.HasPrefix(c.name, "rate limited") {
				if err := writeConfig(h.cfg, testConfig+"\nserver: {rate_limit: {per_second: 0.02, burst: 1}}\n"); err != nil {
					t.Fatal(err)
				}
				if err := h.d.Reload(); err != nil {
					t.Fatal(err)
				}
			}
			r := h.do("POST", c.path, c.body, c.hdr...)
			if r.code != c.code {
				t.Fatalf("%d %s, want %d", r.code, r.body, c.code)
			}
			reqID := r.hdr.Get("X-Request-Id")
			line := findLog(logtest.Lines(t, h.logs.String()), "alert rejected", map[string]any{"request_id": reqID})
			if c.code < 400 {
				if line != nil {
					t.Fatalf("a stored alert logged as rejected: %v", line)
				}
				return
			}
			if line == nil {
				t.Fatalf("no warn line for request %s:\n%s", reqID, h.logs.String())
			}
			if line["level"] != "WARN" || fmt.Sprint(line["code"]) != fmt.Sprint(c.code) || line["key"] != c.key ||
				!strings.Contains(fmt.Sprint(line["reason"]), c.reason) {
				t.Errorf("logged %v; want WARN, code %d, key %q, reason with %q", line, c.code, c.key, c.reason)
			}
		})
	}
	for _, secret := range []string{wrongKey, amKey, pdKey} {
		if strings.Contains(h.logs.String(), secret) {
			t.Errorf("the log shows a key: %s", secret)
		}
	}
}

// TestIncidentActionsLogged: acknowledging, updating, escalating and
// resolving are logged with who did it.
func TestIncidentActionsLogged(t *testing.T) {
	h := newHarness(t)
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g", map[string]string{"alertname": "A", "severity": "critical"}), "Authorization", "Bearer "+amKey)
	if r.code != 200 {
		t.Fatal(r.body)
	}
	id := h.list("")[0].ID
	for _, a := range []struct{ path, body string }{
		{"/acknowledge", `{"user":"ann"}`},
		{"/status", `{"user":"ann","message":"looking"}`},
		{"/escalate", ""},
	} {
		if r := h.api("POST", "/api/v1/incidents/"+id+a.path, a.body); r.code != 200 {
			t.Fatalf("%s: %d %s", a.path, r.code, r.body)
		}
	}
	if r := h.do("POST", "/api/v1/alertmanager", strings.ReplaceAll(amPayload("firing", "g", map[string]string{"alertname": "A", "severity": "critical"}), `"firing"`, `"resolved"`),
		"Authorization", "Bearer "+amKey); r.code != 200 {
		t.Fatal(r.body)
	}
	lines := logtest.Lines(t, h.logs.String())
	for msg, actor := range map[string]string{
		"incident acknowledged":  "ann",
		"incident status update": "ann",
		"incident escalated":     "api:ops",
		"incident resolved":      "alertmanager",
	} {
		if findLog(lines, msg, map[string]any{"incident": id, "actor": actor, "level": "INFO"}) == nil {
			t.Errorf("no %q by %s logged:\n%s", msg, actor, h.logs.String())
		}
	}
}

// TestAlertmanagerResolveAnswersWithIncidents: a resolved notification
// answers with the incidents it resolved, and nothing when there was none.
func TestAlertmanagerResolveAnswersWithIncidents(t *testing.T) {
	h := newHarness(t)
	firing := amPayload("firing", "g", map[string]string{"alertname": "A", "severity": "critical"})
	r := h.do("POST", "/api/v1/alertmanager", firing, "Authorization", "Bearer "+amKey)
	var opened struct{ Incidents, Resolved []string }
	r.json(t, &opened)
	if r.code != 200 || len(opened.Incidents) != 1 || opened.Resolved == nil || len(opened.Resolved) != 0 {
		t.Fatalf("firing: %d %s", r.code, r.body)
	}
	resolved := strings.ReplaceAll(firing, `"firing"`, `"resolved"`)
	for i, want := range [][]string{opened.Incidents, {}} {
		r := h.do("POST", "/api/v1/alertmanager", resolved, "Authorization", "Bearer "+amKey)
		var got struct {
			Status              string
			Incidents, Resolved []string
		}
		r.json(t, &got)
		if r.code != 200 || got.Status != "success" || len(got.Incidents) != 0 || fmt.Sprint(got.Resolved) != fmt.Sprint(want) {
			t.Errorf("resolved notification %d: %d %s, want resolved %v", i+1, r.code, r.body, want)
		}
	}
}

// TestRaisedPageNamesTheAlert: when a critical alert joins a warning group,
// the pages for the raised incident name that alert and how many alerts
// are firing, and so does the timeline.
func TestRaisedPageNamesTheAlert(t *testing.T) {
	h := newHarness(t, withConfig(dispatchConfig))
	latency := map[string]string{"alertname": "HighLatency", "severity": "warning"}
	disk := map[string]string{"alertname": "DiskFull", "severity": "critical", "instance": "db2"}
	if r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g", latency), "Authorization", "Bearer "+amKey); r.code != 200 {
		t.Fatal(r.body)
	}
	h.step(fixedNow)
	at := fixedNow.Add(time.Minute)
	h.clock.Set(at)
	if r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g", latency, disk), "Authorization", "Bearer "+amKey); r.code != 200 {
		t.Fatal(r.body)
	}
	h.step(at)
	h.rec.mu.Lock()
	msgs := append(h.rec.msgs[:0:0], h.rec.msgs...)
	h.rec.mu.Unlock()
	if len(msgs) != 2 {
		t.Fatalf("%d pages, want the first push and the raised one", len(msgs))
	}
	const want = "DiskFull on db2: disk almost full (raised from P2 to P0; 2 alerts firing)"
	if m := msgs[1]; m.Priority != "P0" || !strings.Contains(m.Text, want) {
		t.Errorf("the raised page says %q (%s), want it to name the alert: %q", m.Text, m.Priority, want)
	}
	var v incidentView
	h.api("GET", "/api/v1/incidents/"+msgs[0].Incident, "").json(t, &v)
	found := false
	for _, e := range v.Timeline {
		found = found || (e.Type == "escalate" && strings.Contains(e.Detail, "priority raised from P2 to P0") &&
			strings.Contains(e.Detail, "by DiskFull on db2: disk almost full; 2 alerts firing"))
	}
	if !found || v.Summary != want {
		t.Errorf("summary %q, timeline %+v", v.Summary, v.Timeline)
	}
}
