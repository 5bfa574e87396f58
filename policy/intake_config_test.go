package policy

import (
	"strings"
	"testing"
	"time"
)

// intakeBase is a config with two services, to which the tests below add
// heartbeats, maintenance windows, Opsgenie keys and shadow settings.
const intakeBase = `
users:
  - {id: a, contacts: [{channel: push, via: log}]}
escalation_policies:
  - name: p
    repeat: 1
    levels:
      - {name: first, targets: [{user: a}], timeout: 5m}
services:
  - name: web
    priority_scheme: P0-P3
    escalation_policy: p
    integrations: {alertmanager_key: k1, opsgenie_key: og-1}
    heartbeats:
      - {name: watchdog, interval: 1m, grace: 30s, labels: {severity: critical}}
      - {name: nightly-backup, interval: 1d}
    silence_on_acknowledge: {alertmanager_url: "http://alertmanager:9093"}
  - name: db
    priority_scheme: SEV-1-4
    escalation_policy: p
    shadow: true
    integrations: {opsgenie_key_file: og-db-key}
maintenance:
  - name: db-upgrade
    services: [db]
    matchers: ['team="db"']
    start: 2025-10-13T22:00:00Z
    end: 2025-10-14T02:00:00Z
    reason: Postgres 17
  - name: thanksgiving
    matchers: ['env="staging"']
    start: 2025-11-27
    end: 2025-11-28
    time_zone: America/New_York
notifiers:
  webhook: {dry_run: true}
`

// TestLoadIntakeSettings: the settings of the Opsgenie intake,
// heartbeats, maintenance windows, silences and shadow mode load with
// their defaults.
func TestLoadIntakeSettings(t *testing.T) {
	dir := t.TempDir()
	if err := writeFile(dir+"/og-db-key", "og-2\n"); err != nil {
		t.Fatal(err)
	}
	c, err := Parse([]byte(intakeBase), "intake.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	web, db := c.Service("web"), c.Service("db")
	if web.Integrations.OpsgenieKey.Reveal() != "og-1" || db.Integrations.OpsgenieKey.Reveal() != "og-2" {
		t.Errorf("opsgenie keys not read")
	}
	wd := web.Heartbeat("watchdog")
	if wd == nil || wd.Expiry() != 90*time.Second || web.Heartbeat("nightly-backup").Expiry() != 24*time.Hour {
		t.Fatalf("heartbeats: %+v", web.Heartbeats)
	}
	if got := wd.AlertLabels(); got["alertname"] != "HeartbeatMissing" || got["heartbeat"] != "watchdog" || got["severity"] != "critical" {
		t.Errorf("heartbeat labels %v", got)
	}
	if sa := web.SilenceOnAcknowledge; sa == nil || time.Duration(sa.Duration) != DefaultSilenceDuration {
		t.Errorf("silence_on_acknowledge: %+v", sa)
	}
	if c.ShadowOf("db", "log") == "" || c.ShadowOf("web", "log") != "" || c.ShadowOf("web", "webhook") == "" {
		t.Errorf("shadow: db/log %q, web/log %q, web/webhook %q", c.ShadowOf("db", "log"), c.ShadowOf("web", "log"), c.ShadowOf("web", "webhook"))
	}
	w := c.MaintenanceWindow("config-db-upgrade")
	if w == nil || !w.From().Equal(time.Date(2025, 10, 13, 22, 0, 0, 0, time.UTC)) || w.Until().Sub(w.From()) != 4*time.Hour {
		t.Fatalf("window %+v", w)
	}
	if !w.Coverage().Covers("db", []map[string]string{{"team": "db"}}) || w.Coverage().Covers("web", []map[string]string{{"team": "db"}}) ||
		w.Coverage().Covers("db", []map[string]string{{"team": "db"}, {"team": "web"}}) {
		t.Error("coverage: a window covers its services' alerts with matching labels, and a group only when every alert matches")
	}
	ny, _ := time.LoadLocation("America/New_York")
	tg := c.MaintenanceWindow("config-thanksgiving")
	if !tg.From().Equal(time.Date(2025, 11, 27, 0, 0, 0, 0, ny)) || !tg.Until().Equal(time.Date(2025, 11, 29, 0, 0, 0, 0, ny)) {
		t.Errorf("a window of dates covers whole days in its zone: %v to %v", tg.From(), tg.Until())
	}
}

// TestLoadIntakeSettingsRefused: each bad setting is refused, naming its
// field.
func TestLoadIntakeSettingsRefused(t *testing.T) {
	for _, tc := range []struct{ old, new, want string }{
		{"integrations: {opsgenie_key_file: og-db-key}", "integrations: {opsgenie_key: og-1}",
			`services[db].integrations.opsgenie_key: the same key is used by service "web"`},
		{"interval: 1m, grace: 30s", "interval: 500ms", "services[web].heartbeats[watchdog].interval: must be from 1s"},
		{"interval: 1m, grace: 30s", "interval: 1m, grace: 32d", "services[web].heartbeats[watchdog].grace: must be from 0s"},
		{"labels: {severity: critical}", "labels: {alertname: X}", "services[web].heartbeats[watchdog].labels.alertname: pagerd sets alertname itself"},
		{"labels: {severity: critical}", "labels: {bad-name: x}", "services[web].heartbeats[watchdog].labels.bad-name"},
		{"{name: nightly-backup, interval: 1d}", "{name: watchdog, interval: 1d}", `services[web].heartbeats[1].name: duplicate name "watchdog"`},
		{`alertmanager_url: "http://alertmanager:9093"`, `alertmanager_url: "alertmanager:9093"`, "services[web].silence_on_acknowledge.alertmanager_url"},
		{"    shadow: true\n", "    shadow: true\n    alertmanager_url: ftp://am\n", "services[db].alertmanager_url: \"ftp://am\" is not an absolute http(s) URL"},
		{"    services: [db]\n    matchers: ['team=\"db\"']\n", "", "maintenance[db-upgrade]: name the services it covers, or matchers"},
		{"services: [db]", "services: [nope]", `maintenance[db-upgrade].services[0]: no service "nope" is defined`},
		{`matchers: ['team="db"']`, `matchers: ['team=="db"']`, "maintenance[db-upgrade]: matchers[0]: bad matcher"},
		{"end: 2025-10-14T02:00:00Z", "end: 2025-10-13T21:00:00Z", "maintenance[db-upgrade].end: must be after start"},
		{"end: 2025-10-14T02:00:00Z", "end: 2026-10-14T02:00:00Z", "maintenance[db-upgrade].end: a window may last at most"},
		{"    end: 2025-10-14T02:00:00Z\n", "", "maintenance[db-upgrade]: start and end are required"},
		{"  - name: thanksgiving", "  - name: db-upgrade", `maintenance[1].name: duplicate name "db-upgrade"`},
		{"webhook: {dry_run: true}", "webhook: {dry_run: maybe}", "cannot unmarshal"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			dir := t.TempDir()
			if err := writeFile(dir+"/og-db-key", "og-2\n"); err != nil {
				t.Fatal(err)
			}
			text := loadEdit(t, intakeBase, tc.old, tc.new)
			_, err := Parse([]byte(text), "intake.yaml", dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestHeartbeatNeedsIntegrationKey: a heartbeat is pinged with one of its
// service's integration keys (any of them on pagerd's ping path, the
// opsgenie_key on Opsgenie's), so check-config refuses a heartbeat of a
// service that gives none: it could never be pinged and would page
// HeartbeatMissing. A key check-config cannot resolve (an unset ${VAR}, a
// _file only the daemon's machine has) still counts as given.
func TestHeartbeatNeedsIntegrationKey(t *testing.T) {
	const keys = "integrations: {alertmanager_key: k1, opsgenie_key: og-1}"
	for _, tc := range []struct{ name, integrations, want string }{
		{"no integrations", "", `services[web].heartbeats[watchdog]: service "web" has no integration key, so heartbeat "watchdog" could never be pinged`},
		{"empty integrations", "integrations: {}", `services[web].heartbeats[nightly-backup]: service "web" has no integration key, so heartbeat "nightly-backup" could never be pinged`},
		{"alertmanager key only", "integrations: {alertmanager_key: k1}", ""},
		{"pagerduty routing key only", "integrations: {pagerduty_routing_key: k1}", ""},
		{"opsgenie key only", "integrations: {opsgenie_key: og-1}", ""},
		{"unset environment variable", `integrations: {alertmanager_key: "${PAGERD_TEST_UNSET_KEY}"}`, ""},
		{"unreadable key file", "integrations: {alertmanager_key_file: no-such-file}", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := writeFile(dir+"/og-db-key", "og-2\n"); err != nil {
				t.Fatal(err)
			}
			text := loadEdit(t, intakeBase, keys, tc.integrations)
			_, err := Parse([]byte(text), "intake.yaml", dir)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestHeartbeatWithoutGraceWarns: check-config warns of a heartbeat whose
// grace is 0s (set so, or left out): a ping a moment late, or a replica
// whose clock runs a second fast, pages it missed. One with a grace does
// not warn.
func TestHeartbeatWithoutGraceWarns(t *testing.T) {
	dir := t.TempDir()
	if err := writeFile(dir+"/og-db-key", "og-2\n"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, watchdog string }{
		{"left out", "{name: watchdog, interval: 1m}"},
		{"0s", "{name: watchdog, interval: 1m, grace: 0s}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := loadEdit(t, intakeBase, "{name: watchdog, interval: 1m, grace: 30s, labels: {severity: critical}}", tc.watchdog)
			c, err := Parse([]byte(text), "intake.yaml", dir)
			if err != nil {
				t.Fatal(err)
			}
			loadCheckWarning(t, c, "services[web].heartbeats[watchdog].grace", "is 0s", "a replica whose clock runs a second fast")
		})
	}
	c, err := Parse([]byte(intakeBase), "intake.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range c.Warnings() {
		if strings.Contains(w, "heartbeats[watchdog]") {
			t.Errorf("a heartbeat with a grace of 30s warns: %s", w)
		}
	}
}

// TestConfigDocIntakeExamples: the heartbeats, silence and maintenance
// examples of docs/CONFIG.md load as written, into a service checkout.
func TestConfigDocIntakeExamples(t *testing.T) {
	base := `
users:
  - {id: a, contacts: [{channel: push, via: log}]}
escalation_policies:
  - {name: p, repeat: 1, levels: [{name: first, targets: [{user: a}], timeout: 5m}]}
services:
  - name: checkout
    priority_scheme: P0-P3
    escalation_policy: p
    integrations: {alertmanager_key: k1}
`
	hb := docYAML(t, "### Heartbeats", 0)
	si := docYAML(t, "### Silences on acknowledgement", 0)
	mw := docYAML(t, "## `maintenance`", 0)
	c, err := Parse([]byte(base+hb+si+mw), "doc.yaml", t.TempDir())
	if err != nil {
		t.Fatalf("%v\n%s", err, base+hb+si+mw)
	}
	svc := c.Service("checkout")
	if len(svc.Heartbeats) != 2 || svc.SilenceOnAcknowledge == nil || len(c.Maintenance) != 2 || len(svc.Rules) != 1 {
		t.Fatalf("loaded %d heartbeats, silence %v, %d windows", len(svc.Heartbeats), svc.SilenceOnAcknowledge, len(c.Maintenance))
	}
}

// TestHeartbeatNameIsAPathSegment: a heartbeat's name is a path segment
// of /api/v1/heartbeats/<name>/ping, so check-config refuses every name
// no ping could reach, naming the heartbeat's field and what is wrong:
// "." and ".." (clients and proxies remove such segments: the ping
// lands on another path, and the heartbeat pages missed forever), and
// names with '/', '?', '#', '%' or a space. "." and ".." used to get
// "may hold only letters, digits, '.', …", which they do. Names with dots
// inside a segment load (gateway's TestHeartbeatEdgeNamesArePinged pings
// them).
func TestHeartbeatNameIsAPathSegment(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{`"."`, `services[web].heartbeats[0].name: name "." may hold only letters, digits, '.', '_' and '-', and must start with a letter or digit`},
		{`".."`, `services[web].heartbeats[0].name: name ".." may hold only letters, digits, '.', '_' and '-', and must start with a letter or digit`},
		{`"-x"`, `services[web].heartbeats[0].name: name "-x" may hold only letters, digits, '.', '_' and '-', and must start with a letter or digit`},
		{`"a/b"`, `services[web].heartbeats[0].name: name "a/b" may hold only`},
		{`"a?b"`, `services[web].heartbeats[0].name: name "a?b" may hold only`},
		{`"a#b"`, `services[web].heartbeats[0].name: name "a#b" may hold only`},
		{`"a%2Fb"`, `services[web].heartbeats[0].name: name "a%2Fb" may hold only`},
		{`"a b"`, `services[web].heartbeats[0].name: name "a b" may hold only`},
		{`" a"`, `services[web].heartbeats[0].name: name " a" may hold only`},
		{`""`, `services[web].heartbeats[0].name: name is required`},
		{"a..", ""}, {"a.", ""}, {"v1..2", ""}, {"9", ""}, {"A_b-c.d", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := loadEdit(t, intakeBase, "{name: watchdog,", "{name: "+tc.name+",")
			_, err := Parse([]byte(text), "intake.yaml", t.TempDir())
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
