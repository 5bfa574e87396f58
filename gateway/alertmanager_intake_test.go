package gateway

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/policy"
)

const (
	amInAMKey = "amin-webhook-key-0123456789abcdef"
	amInOGKey = "amin-opsgenie-key-0123456789abcd"
)

// amInConfig is one service that takes Alertmanager's webhook and its
// Opsgenie integration, and watches the Watchdog's heartbeat (scaled down:
// Alertmanager pings it every second or so in the test).
const amInConfig = `
api:
  tokens:
    - {name: amit, token: ` + amITAPIToken + `}
users:
  - {id: carol, name: Carol, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}
escalation_policies:
  - name: p
    repeat: 1
    levels:
      - {name: primary, targets: [{user: carol}], timeout: 15m}
services:
  - name: checkout
    priority_scheme: P0-P3
    escalation_policy: p
    integrations: {alertmanager_key: ` + amInAMKey + `, opsgenie_key: ` + amInOGKey + `}
    heartbeats:
      - {name: alertmanager-watchdog, interval: 5s, grace: 5s, labels: {severity: critical}}
`

// amExample is configs/examples/alertmanager.yml with the test's pagerd
// URL, key files in dir and group timings, and the replacements more.
func amExample(t *testing.T, pagerdURL, dir string, more ...[2]string) string {
	t.Helper()
	example, err := os.ReadFile(filepath.Join("..", "configs", "examples", "alertmanager.yml"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"pagerd-alertmanager-key": amInAMKey, "pagerd-routing-key": "unused", "pagerd-opsgenie-key": amInOGKey}
	cfg := string(example)
	for name, v := range files {
		f := filepath.Join(dir, name)
		// Alertmanager 0.25 sends the Opsgenie key file's content as it
		// is: a trailing newline makes the header invalid (the example's
		// comment says so). The other files may have one.
		if name != "pagerd-opsgenie-key" {
			v += "\n"
		}
		if err := os.WriteFile(f, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg = strings.ReplaceAll(cfg, "/etc/alertmanager/secrets/"+name, f)
	}
	for _, r := range append([][2]string{
		{"http://pagerd:8080", pagerdURL},
		{"  group_wait: 30s\n", "  group_wait: 1s\n"},
		{"  group_interval: 5m\n", "  group_interval: 1s\n"},
	}, more...) {
		if !strings.Contains(cfg, r[0]) {
			t.Fatalf("configs/examples/alertmanager.yml has no %q; the example changed, update the test", r[0])
		}
		cfg = strings.ReplaceAll(cfg, r[0], r[1])
	}
	return cfg
}

// TestRealAlertmanagerOpsgenieAndWatchdog runs the Opsgenie receiver and
// the Watchdog route of configs/examples/alertmanager.yml in Debian's real
// prometheus-alertmanager against pagerd. Alertmanager's opsgenie_configs,
// only their api_url pointed at pagerd, open a pagerd incident with the
// group's labels and priority, update its summary when the group's
// message changes (update_alerts), and close it when the group resolves; the
// always-firing Watchdog pings the service's heartbeat, and when it stops
// (here: resolved, which the route does not send), pagerd raises the
// heartbeat's incident and pages.
func TestRealAlertmanagerOpsgenieAndWatchdog(t *testing.T) {
	amBin := amITLookAlertmanager(t)
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	h := newHarness(t, withConfig(amInConfig), withNow(time.Now), withNotifier("log", rec), maxSleep(50*time.Millisecond), onListener(l))
	pagerdURL := "http://" + l.Addr().String()
	amCfg := amExample(t, pagerdURL, dir,
		// Every other alert goes to the Opsgenie receiver; the Watchdog
		// pings every second.
		[2]string{"  routes:\n", "  routes:\n    - {receiver: pagerd-as-opsgenie, continue: true, repeat_interval: 1s, matchers: ['alertname!=\"Watchdog\"']}\n"},
		[2]string{"      group_interval: 1m\n      repeat_interval: 1m\n", "      group_interval: 1s\n      repeat_interval: 1s\n"},
		// Alertmanager then sends the message and the description again,
		// as updates, after every create.
		[2]string{"        message: '{{ if .CommonAnnotations.summary }}", "        update_alerts: true\n        message: '{{ if .CommonAnnotations.summary }}"})
	h.runFor(t)
	am := amITStartAlertmanager(t, amBin, amCfg)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- Alertmanager's config ---\n%s", amCfg)
			t.Logf("--- Alertmanager's log ---\n%s", amITTail(am.logPath, 60))
			t.Logf("--- pagerd's log ---\n%s", amITTailString(amITWithoutPolling(h.logs.String()), 60))
		}
	})
	api := &amITClient{base: pagerdURL}
	list := func() []incidentView {
		var out struct{ Incidents []incidentView }
		api.get(t, "/api/v1/incidents", &out)
		return out.Incidents
	}
	wait := func(what string, cond func([]incidentView) bool) []incidentView {
		t.Helper()
		deadline := time.Now().Add(amITTimeout)
		for {
			incs := list()
			if cond(incs) {
				return incs
			}
			if time.Now().After(deadline) {
				t.Fatalf("waited %v for %s; incidents: %+v", amITTimeout, what, incs)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	startsAt := time.Now().Add(-time.Minute).UTC()
	disk := amITAlert{Labels: map[string]string{"alertname": "DiskFull", "severity": "critical", "instance": "db1", "team": "db"},
		Annotations: map[string]string{"summary": "disk full on db1"}, StartsAt: startsAt}
	watchdog := amITAlert{Labels: map[string]string{"alertname": "Watchdog", "severity": "none"}, StartsAt: startsAt}
	am.postAlerts(t, disk, watchdog)

	// The Opsgenie receiver opens one incident, routed on the labels it
	// carried.
	incs := wait("the Opsgenie receiver's incident", func(incs []incidentView) bool { return len(incs) >= 1 })
	if len(incs) != 1 {
		t.Fatalf("incidents %+v, want the DiskFull one only", incs)
	}
	inc := incs[0]
	if inc.Source != "opsgenie" || inc.Priority != "P0" || inc.Summary != "disk full on db1" || !strings.HasPrefix(inc.DedupKey, "og:") {
		t.Fatalf("incident %+v", inc)
	}
	for _, want := range []string{`"team":"db"`, `"priority":"P1"`, `"instance":"db1"`} {
		if !strings.Contains(string(inc.Details), want) {
			t.Errorf("the incident's details lack %s: %s", want, inc.Details)
		}
	}
	// The group's summary changes: the update of the alert's message
	// makes it the incident's.
	disk.Annotations = map[string]string{"summary": "disk 99% full on db1"}
	am.postAlerts(t, disk)
	wait("the incident's summary updated", func(incs []incidentView) bool {
		return len(incs) == 1 && incs[0].Summary == "disk 99% full on db1"
	})
	// The Watchdog pings the heartbeat, again and again.
	waitUntil(t, amITTimeout, "three pings of the Watchdog", func() bool {
		return metric(t, h.reg, "pagerd_heartbeat_pings_total", "service", "checkout", "heartbeat", "alertmanager-watchdog") >= 3
	})

	// DiskFull resolves: Alertmanager closes the alias, pagerd resolves.
	disk.EndsAt = time.Now().UTC()
	am.postAlerts(t, disk)
	wait("the incident closed by Alertmanager", func(incs []incidentView) bool {
		return len(incs) == 1 && incs[0].Status == policy.StatusResolved
	})
	if v := list()[0]; v.ResolvedBy != "opsgenie" {
		t.Errorf("resolved by %q, want opsgenie", v.ResolvedBy)
	}

	// The Watchdog stops: within its interval and grace (10s) of the last
	// ping, the heartbeat's incident is raised and paged.
	watchdog.EndsAt = time.Now().UTC()
	am.postAlerts(t, watchdog)
	stopped := time.Now()
	incs = wait("the missed heartbeat's incident", func(incs []incidentView) bool {
		for _, v := range incs {
			if v.Source == "heartbeat" {
				return true
			}
		}
		return false
	})
	raised := time.Since(stopped)
	var hb incidentView
	for _, v := range incs {
		if v.Source == "heartbeat" {
			hb = v
		}
	}
	if hb.Priority != "P0" || !strings.Contains(hb.Summary, "Heartbeat alertmanager-watchdog missed") || raised > 15*time.Second {
		t.Fatalf("heartbeat incident %+v, %v after the Watchdog stopped", hb, raised)
	}
	waitUntil(t, 10*time.Second, "the heartbeat incident's page", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, m := range rec.msgs {
			if m.Incident == hb.ID && m.User == "carol" {
				return true
			}
		}
		return false
	})

	sent, failed := am.notificationMetrics(t)
	for _, integration := range []string{"opsgenie", "webhook"} {
		if sent[integration] < 1 || failed[integration] != 0 {
			t.Errorf("Alertmanager integration %s: %v sent, %v failed", integration, sent[integration], failed[integration])
		}
	}
	t.Logf("heartbeat incident %v after the Watchdog stopped; Alertmanager sent %v opsgenie and %v webhook notifications",
		raised.Round(time.Millisecond), sent["opsgenie"], sent["webhook"])
}

// amMatcher is a silence's matcher as Alertmanager's API v2 lists it.
type amMatcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
}

// amSilence is a silence as Alertmanager's API v2 lists it.
type amSilence struct {
	ID        string      `json:"id"`
	Matchers  []amMatcher `json:"matchers"`
	CreatedBy string      `json:"createdBy"`
	Comment   string      `json:"comment"`
	Status    struct {
		State string `json:"state"`
	} `json:"status"`
}

func amSilences(t *testing.T, am *amITAlertmanager) []amSilence {
	t.Helper()
	var out []amSilence
	am.getJSON(t, "/api/v2/silences", &out)
	return out
}

// getJSON reads Alertmanager's answer to GET path into v.
func (am *amITAlertmanager) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := http.Get(am.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %d, %v: %s", path, resp.StatusCode, err, b)
	}
}

// amSilencesExpired says whether every silence Alertmanager holds is
// expired.
func amSilencesExpired(t *testing.T, am *amITAlertmanager) bool {
	t.Helper()
	return !slices.ContainsFunc(amSilences(t, am), func(s amSilence) bool { return s.Status.State != "expired" })
}

// amSilencingPagerd starts Debian's real Alertmanager, grouping by
// groupBy (1s group_wait and group_interval, repeat_interval repeat) and
// sending to pagerd's webhook, and pagerd on the clock now, its service
// checkout silencing its acknowledged incidents' alerts at that
// Alertmanager (for 2h). Both logs are printed if the test fails.
func amSilencingPagerd(t *testing.T, groupBy, repeat string, now func() time.Time) (*amITAlertmanager, *harness, *amITClient) {
	t.Helper()
	return amSilencingPagerdAs(t, "pagerd", groupBy, repeat, now)
}

// amSilencingPagerdAs is amSilencingPagerd with Alertmanager's receiver
// named receiver.
func amSilencingPagerdAs(t *testing.T, receiver, groupBy, repeat string, now func() time.Time) (*amITAlertmanager, *harness, *amITClient) {
	t.Helper()
	amBin := amITLookAlertmanager(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pagerdURL := "http://" + l.Addr().String()
	am := amITStartAlertmanager(t, amBin, `
route:
  receiver: '`+receiver+`'
  group_by: [`+groupBy+`]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: `+repeat+`
receivers:
  - name: '`+receiver+`'
    webhook_configs:
      - url: '`+pagerdURL+`/api/v1/alertmanager'
        send_resolved: true
        http_config:
          authorization: {type: Bearer, credentials: '`+amInAMKey+`'}
`)
	cfg := strings.Replace(amInConfig, "    heartbeats:\n      - {name: alertmanager-watchdog, interval: 5s, grace: 5s, labels: {severity: critical}}\n",
		"    silence_on_acknowledge: {alertmanager_url: '"+am.url+"', duration: 2h}\n", 1)
	h := newHarness(t, withConfig(cfg), withNow(now), maxSleep(50*time.Millisecond), onListener(l))
	h.runFor(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- Alertmanager's log ---\n%s", amITTail(am.logPath, 60))
			t.Logf("--- pagerd's log ---\n%s", amITTailString(amITWithoutPolling(h.logs.String()), 60))
		}
	})
	return am, h, &amITClient{base: pagerdURL}
}

// TestRealAlertmanagerSilenceOnAcknowledge: for a service with
// silence_on_acknowledge, acknowledging an incident in pagerd silences its
// alerts in Debian's real Alertmanager (one silence per alert, by its
// labels: Alertmanager shows the alerts suppressed, the one whose label
// value pagerd cut too, by a regex on the part kept), and resolving it
// expires the silences; both through the incident's outbox, recorded in
// its timeline.
func TestRealAlertmanagerSilenceOnAcknowledge(t *testing.T) {
	am, _, api := amSilencingPagerd(t, "alertname", "1h", time.Now)
	startsAt := time.Now().Add(-time.Minute).UTC()
	db1 := amITAlert{Labels: map[string]string{"alertname": "DiskFull", "severity": "critical", "instance": "db1"}, StartsAt: startsAt}
	// db2's path is longer than pagerd keeps of a label value: its
	// silence matches it by a regex on the kept part, which the real
	// Alertmanager must take and match it by.
	longPath := "/var/lib/" + strings.Repeat("x", 3000) + "\n(tail)"
	db2 := amITAlert{Labels: map[string]string{"alertname": "DiskFull", "severity": "critical", "instance": "db2", "path": longPath}, StartsAt: startsAt}
	am.postAlerts(t, db1, db2)
	var id string
	waitUntil(t, amITTimeout, "the group's incident with both alerts", func() bool {
		var out struct{ Incidents []incidentView }
		api.get(t, "/api/v1/incidents", &out)
		if len(out.Incidents) == 1 && strings.Contains(string(out.Incidents[0].Details), `"alerts_total":2`) {
			id = out.Incidents[0].ID
			return true
		}
		return false
	})
	api.act(t, id, "acknowledge")
	var active []amSilence
	waitUntil(t, 10*time.Second, "two active silences", func() bool {
		active = nil
		for _, s := range amSilences(t, am) {
			if s.Status.State == "active" {
				active = append(active, s)
			}
		}
		return len(active) == 2
	})
	instances := map[string]bool{}
	for _, s := range active {
		want := 3
		if slices.ContainsFunc(s.Matchers, func(m amMatcher) bool { return m.Name == "path" }) {
			want = 4
		}
		if s.CreatedBy != "pagerd" || !strings.Contains(s.Comment, id) || len(s.Matchers) != want {
			t.Errorf("silence %+v", s)
		}
		for _, m := range s.Matchers {
			if m.Name == "instance" {
				instances[m.Value] = true
			}
		}
	}
	if !instances["db1"] || !instances["db2"] {
		t.Errorf("silences for %v, want one per alert", instances)
	}
	// Alertmanager shows the alerts suppressed by them.
	var b []byte
	waitUntil(t, 10*time.Second, "both alerts suppressed in Alertmanager", func() bool {
		resp, err := http.Get(am.url + "/api/v2/alerts?silenced=true&active=false")
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		return strings.Count(string(b), `"state":"suppressed"`) == 2
	})
	// The dispatcher records the silences once Alertmanager has answered
	// for both, so the timeline may lag them by a moment.
	waitUntil(t, 10*time.Second, "silenced in the timeline", func() bool {
		return strings.Contains(strings.Join(api.timeline(t, id), ","), "silenced")
	})

	api.act(t, id, "resolve")
	waitUntil(t, 10*time.Second, "the silences expired", func() bool { return amSilencesExpired(t, am) })
	// The silences expire in Alertmanager before the dispatcher records
	// that they did, so the timeline may lag them by a moment.
	waitUntil(t, 10*time.Second, "resolve, then unsilenced, in the timeline", func() bool {
		return strings.HasSuffix(strings.Join(api.timeline(t, id), ","), "resolve,unsilenced")
	})
}
