package gateway

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// TestRealAlertmanagerExampleConfig runs configs/examples/alertmanager.yml,
// the file README tells users to copy, in Debian's real
// prometheus-alertmanager against pagerd with a dispatcher, through both of
// its receivers. Only what a test must change is changed: the pagerd URL,
// the key files and the group timings.
//
// The PagerDuty receiver is the one whose defaults lose what rules need:
// with the example's severity and details templates, a security breach
// labelled severity=warning, category=security_breach reaches pagerd's
// executive-trigger rule and pages the executive level at once, and a
// critical alert is P0, not the P1 Alertmanager's default "error" makes it.
func TestRealAlertmanagerExampleConfig(t *testing.T) {
	amBin := amITLookAlertmanager(t)
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	h := newHarness(t, withConfig(amExConfig), withNow(time.Now), withNotifier("log", rec), maxSleep(50*time.Millisecond), onListener(l))
	pagerdLog := h.logs
	h.runFor(t)
	pagerdURL := "http://" + l.Addr().String()

	// The example, with the test's URL, keys and timings.
	example, err := os.ReadFile(filepath.Join("..", "configs", "examples", "alertmanager.yml"))
	if err != nil {
		t.Fatal(err)
	}
	amKeyFile, pdKeyFile, ogKeyFile := filepath.Join(dir, "am-key"), filepath.Join(dir, "pd-key"), filepath.Join(dir, "og-key")
	for f, v := range map[string]string{amKeyFile: amExAMKey + "\n", pdKeyFile: amExPDKey + "\n", ogKeyFile: "unused\n"} {
		if err := os.WriteFile(f, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	amCfg := string(example)
	for _, r := range [][2]string{
		{"http://pagerd:8080", pagerdURL},
		{"/etc/alertmanager/secrets/pagerd-alertmanager-key", amKeyFile},
		{"/etc/alertmanager/secrets/pagerd-routing-key", pdKeyFile},
		{"/etc/alertmanager/secrets/pagerd-opsgenie-key", ogKeyFile},
		{"  group_wait: 30s\n", "  group_wait: 1s\n"},
		{"  group_interval: 5m\n", "  group_interval: 1s\n"},
		// Both receivers get every alert.
		{"  routes:\n", "  routes:\n    - {receiver: pagerd, continue: true}\n    - {receiver: pagerd-as-pagerduty, continue: true}\n"},
	} {
		if !strings.Contains(amCfg, r[0]) {
			t.Fatalf("configs/examples/alertmanager.yml has no %q; the example changed, update the test", r[0])
		}
		amCfg = strings.ReplaceAll(amCfg, r[0], r[1])
	}
	am := amITStartAlertmanager(t, amBin, amCfg)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- Alertmanager's log ---\n%s", amITTail(am.logPath, 60))
			t.Logf("--- pagerd's log ---\n%s", amITTailString(amITWithoutPolling(pagerdLog.String()), 60))
		}
	})

	startsAt := time.Now().Add(-time.Minute).UTC()
	breach := amITAlert{Labels: map[string]string{"alertname": "DataExfiltration", "severity": "warning", "category": "security_breach", "service": "checkout"},
		Annotations: map[string]string{"summary": "customer table read by an unknown client"}, StartsAt: startsAt}
	disk := amITAlert{Labels: map[string]string{"alertname": "DiskFull", "severity": "critical", "service": "checkout", "instance": "db1"},
		Annotations: map[string]string{"summary": "disk full on db1"}, StartsAt: startsAt}
	// One group whose alerts disagree on severity: its common labels have
	// none, and the example's template takes the most severe firing one.
	slowA := amITAlert{Labels: map[string]string{"alertname": "HighLatency", "severity": "warning", "service": "web", "instance": "a"},
		Annotations: map[string]string{"summary": "p99 latency above 2s"}, StartsAt: startsAt}
	slowB := slowA
	slowB.Labels = map[string]string{"alertname": "HighLatency", "severity": "critical", "service": "web", "instance": "b"}
	am.postAlerts(t, breach, disk, slowA, slowB)

	api := &amITClient{base: pagerdURL}
	type key struct{ source, alert string }
	incidents := func() map[key]incidentView {
		var l struct{ Incidents []incidentView }
		api.get(t, "/api/v1/incidents", &l)
		out := map[key]incidentView{}
		for _, v := range l.Incidents {
			name := "DiskFull"
			for _, n := range []string{"DataExfiltration", "HighLatency"} {
				if strings.Contains(string(v.Details), n) {
					name = n
				}
			}
			out[key{v.Source, name}] = v
		}
		return out
	}
	var incs map[key]incidentView
	deadline := time.Now().Add(amITTimeout)
	// Alertmanager may send the mixed group first with only its warning and
	// the critical alert in the next notification (which raises the
	// incident): wait for both groups' final priority too.
	settled := func(incs map[key]incidentView) bool {
		return len(incs) == 6 && incs[key{"alertmanager", "HighLatency"}].Priority == "P0" &&
			incs[key{"pagerduty", "HighLatency"}].Priority == "P0"
	}
	for incs = incidents(); !settled(incs); incs = incidents() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for 6 incidents (3 groups x 2 receivers), the mixed groups at P0; have %v", amITTimeout, incs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, source := range []string{"alertmanager", "pagerduty"} {
		b, d := incs[key{source, "DataExfiltration"}], incs[key{source, "DiskFull"}]
		if b.Priority != "P0" || b.Rule != "executive-trigger" || b.Summary != "customer table read by an unknown client" {
			t.Errorf("%s security breach: priority %s, rule %q, summary %q; want P0 by executive-trigger", source, b.Priority, b.Rule, b.Summary)
		}
		if d.Priority != "P0" || d.Rule != "severity=critical" || d.Summary != "disk full on db1" {
			t.Errorf("%s critical alert: priority %s, rule %q, summary %q; want P0 by severity=critical", source, d.Priority, d.Rule, d.Summary)
		}
		if l := incs[key{source, "HighLatency"}]; l.Priority != "P0" || l.Rule != "severity=critical" {
			t.Errorf("%s group of a warning and a critical alert: priority %s, rule %q; want P0 by severity=critical", source, l.Priority, l.Rule)
		}
	}
	if d := string(incs[key{"pagerduty", "DataExfiltration"}].Details); !strings.Contains(d, `"category":"security_breach"`) {
		t.Errorf("the PagerDuty event's custom_details lack the category: %s", d)
	}

	// The executive is paged at once for the breach, through both receivers.
	waitPage := func(id, user string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			rec.mu.Lock()
			for _, m := range rec.msgs {
				if m.Incident == id && m.User == user && m.Level == 2 {
					rec.mu.Unlock()
					return
				}
			}
			rec.mu.Unlock()
			if time.Now().After(deadline) {
				t.Fatalf("%s was not paged at the executives level for incident %s", user, id)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitPage(incs[key{"pagerduty", "DataExfiltration"}].ID, "cto")
	waitPage(incs[key{"alertmanager", "DataExfiltration"}].ID, "cto")
	rec.mu.Lock()
	for _, m := range rec.msgs {
		if m.User == "cto" && (m.Incident == incs[key{"pagerduty", "DiskFull"}].ID || m.Incident == incs[key{"alertmanager", "DiskFull"}].ID) {
			t.Errorf("the executive was paged for a disk alert: %+v", m)
		}
	}
	rec.mu.Unlock()

	// Resolved, through both receivers.
	now := time.Now().UTC()
	breach.EndsAt, disk.EndsAt, slowA.EndsAt, slowB.EndsAt = now, now, now, now
	am.postAlerts(t, breach, disk, slowA, slowB)
	deadline = time.Now().Add(amITTimeout)
	for {
		incs = incidents()
		open := 0
		for _, v := range incs {
			if v.Status != policy.StatusResolved {
				open++
			}
		}
		if open == 0 && len(incs) == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for all six incidents to resolve: %v", amITTimeout, incs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	sent, failed := am.notificationMetrics(t)
	for _, integration := range []string{"webhook", "pagerduty"} {
		if sent[integration] < 1 || failed[integration] != 0 {
			t.Errorf("Alertmanager integration %s: %v sent, %v failed", integration, sent[integration], failed[integration])
		}
	}
}

const (
	amExAMKey = "amex-webhook-key-0123456789abcdef"
	amExPDKey = "amexpdroutingkey0123456789abcdef"
)

// amExConfig is AIVO's shape in small: a primary and an executive level,
// and the executive trigger on category.
const amExConfig = `
api:
  tokens:
    - {name: amex, token: ` + amITAPIToken + `}
users:
  - {id: ann, name: Ann, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}
  - {id: cto, name: The CTO, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}
schedules:
  - name: oncall
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: primary, start: 2025-01-06, members: [ann]}
escalation_policies:
  - name: checkout
    repeat: 1
    levels:
      - {name: primary, targets: [{schedule: oncall, tier: primary}], timeout: 15m}
      - {name: executives, targets: [{user: cto}], timeout: 30m}
services:
  - name: checkout
    priority_scheme: P0-P3
    escalation_policy: checkout
    integrations: {alertmanager_key: ` + amExAMKey + `, pagerduty_routing_key: ` + amExPDKey + `}
    rules:
      - name: executive-trigger
        matchers: ['category=~"security_breach|data_loss"']
        priority: P0
        page_immediately: [executives]
`
