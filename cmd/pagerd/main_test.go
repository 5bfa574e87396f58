package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// pagerd runs the CLI in-process with the clock fixed.
func pagerd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	old := now
	now = func() time.Time { return time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC) }
	defer func() { now = old }()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return o.String(), e.String(), code
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/pagerd -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from golden file:\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

const (
	aivo   = "../../configs/aivo.yaml"
	aionr  = "../../configs/aion-r.yaml"
	qstart = "../../configs/quickstart.yaml"
	sun    = "../../configs/follow-the-sun.yaml"
	// mwin has maintenance windows: db-upgrade and db-upgrade-verify back
	// to back over team="db" alerts, psp-cutover over payments.
	mwin = "testdata/simulate/maintenance.yaml"
)

// TestGolden pins the output of every command on the example configs, for
// the scenarios the seeds describe.
func TestGolden(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"check-config.txt", []string{"check-config", aivo, aionr, qstart}},
		{"oncall-aivo-labor-day.txt", []string{"oncall", "--config", aivo, "--at", "2025-08-31T12:00:00-04:00"}},
		{"oncall-aivo-labor-day.json", []string{"oncall", "--config", aivo, "--at", "2025-08-31T12:00:00-04:00", "-o", "json"}},
		{"oncall-aion-r.json", []string{"oncall", "--config", aionr, "--at", "2025-10-21T10:00:00Z", "-o", "json"}},
		{"schedule-aivo-q4.md", []string{"schedule", "--config", aivo, "--from", "2025-08-18", "--weeks", "7"}},
		{"schedule-aion-r.json", []string{"schedule", "--config", aionr, "--from", "2025-10-06", "--weeks", "4", "-o", "json"}},
		{"route-aivo-security-breach.json", []string{"route", "--config", aivo, "--at", "2025-09-10T02:00:00-04:00", "category=security_breach", "-o", "json"}},
		{"route-aivo-p3-off-hours.txt", []string{"route", "--config", aivo, "--at", "2025-09-13T23:00:00-04:00", "severity=info"}},
		{"simulate-aivo-p0-night.txt", []string{"simulate", "--config", aivo, "--at", "2025-09-10T02:00:00-04:00", "--for", "2h", "severity=critical"}},
		{"simulate-aivo-p0-night.json", []string{"simulate", "--config", aivo, "--at", "2025-09-10T02:00:00-04:00", "--for", "2h", "severity=critical", "-o", "json"}},
		{"simulate-aivo-security-breach.txt", []string{"simulate", "--config", aivo, "--at", "2025-09-10T02:00:00-04:00", "--for", "1h", "--ack-after", "8m", "category=security_breach"}},
		{"simulate-aivo-p3-off-hours.txt", []string{"simulate", "--config", aivo, "--at", "2025-09-13T23:00:00-04:00", "--for", "4h", "severity=info"}},
		// A P3 opened in business hours escalates into the night push
		// only; a P2 opened before them gets the high ladder once they
		// begin: each level on the urgency in force when it is paged.
		{"simulate-aivo-p3-into-the-night.txt", []string{"simulate", "--config", aivo, "--at", "2025-09-10T16:00:00-04:00", "--for", "7h", "severity=info"}},
		{"simulate-aivo-p2-into-the-day.txt", []string{"simulate", "--config", aivo, "--at", "2025-09-10T07:30:00-04:00", "--for", "3h", "severity=warning"}},
		{"route-aivo-p2-into-the-day.txt", []string{"route", "--config", aivo, "--at", "2025-09-10T07:30:00-04:00", "severity=warning"}},
		{"simulate-aivo-thanksgiving.txt", []string{"simulate", "--config", aivo, "--at", "2025-11-27T09:00:00-05:00", "--for", "70m", "severity=critical"}},
		{"simulate-aion-r-sev1-unresolved.txt", []string{"simulate", "--config", aionr, "--at", "2025-10-08T03:00:00Z", "--for", "90m", "--ack-after", "3m", "--update-every", "20m", "severity=critical"}},
		// Friday 22:00 to Saturday 02:00 UTC: billable 2h after hours, 2h weekend,
		// and the weekend comp day (it ran into Saturday).
		{"simulate-aion-r-friday-night-pay.txt", []string{"simulate", "--config", aionr, "--at", "2025-10-10T22:00:00Z", "--for", "5h", "--ack-after", "3m", "--update-every", "20m", "--resolve-after", "4h", "severity=critical"}},
		{"simulate-aion-r-missing-updates.json", []string{"simulate", "--config", aionr, "--at", "2025-10-08T03:00:00Z", "--for", "1h", "--ack-after", "4m", "severity=critical", "-o", "json"}},
		{"schedule-follow-the-sun.md", []string{"schedule", "--config", sun, "--from", "2025-10-27", "--weeks", "2"}},
		{"oncall-follow-the-sun-date.txt", []string{"oncall", "--config", sun, "--at", "2025-11-03"}},
		{"oncall-follow-the-sun.json", []string{"oncall", "--config", sun, "--at", "2025-11-03T09:00:00Z", "-o", "json"}},
		{"simulate-follow-the-sun-handoff.txt", []string{"simulate", "--config", sun, "--at", "2025-11-03T15:55:00Z", "--for", "45m", "severity=critical"}},
		{"simulate-quickstart.txt", []string{"simulate", "--config", qstart, "--at", "2025-09-10T06:00:00Z", "--for", "20m", "--ack-after", "3m", "--ack-by", "demo", "--resolve-after", "10m", "severity=critical"}},
		// The config's maintenance windows, as the daemon runs them: held
		// through two windows back to back and paged as new once, at the
		// last end; acknowledged meanwhile, not paged; pages stopped by a
		// window that starts; a window of other alerts changes nothing.
		{"simulate-maintenance-back-to-back.txt", []string{"simulate", "--config", mwin, "--at", "2025-10-13T23:30:00Z", "--for", "100m", "severity=critical", "team=db"}},
		{"simulate-maintenance-acknowledged.json", []string{"simulate", "--config", mwin, "--at", "2025-10-13T23:30:00Z", "--for", "100m", "--ack-after", "10m", "severity=critical", "team=db", "-o", "json"}},
		{"simulate-maintenance-starts.txt", []string{"simulate", "--config", mwin, "--at", "2025-10-15T10:00:00Z", "--for", "40m", "severity=critical", "component=payments"}},
		{"simulate-maintenance-not-covered.txt", []string{"simulate", "--config", mwin, "--at", "2025-10-13T23:30:00Z", "--for", "20m", "severity=critical", "team=web"}},
	}
	unsetSeedSecrets(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := pagerd(t, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if strings.HasSuffix(tc.name, ".json") && !json.Valid([]byte(out)) {
				t.Fatalf("not JSON: %s", out)
			}
			golden(t, tc.name, out)
		})
	}
}

// TestScheduleMatchesTheSeedTable checks `pagerd schedule` against the rows
// of AIVO's published Q4 table, written out here as the seed prints them.
func TestScheduleMatchesTheSeedTable(t *testing.T) {
	seed := []string{
		"| Aug 18-24 | Marcus Rodriguez | Emily Watson | Jennifer Liu |",
		"| Aug 25-31 | Emily Watson | Alex Thompson | David Park |",
		"| Sep 1-7 | Alex Thompson | Jennifer Liu | Marcus Rodriguez |",
		"| Sep 8-14 | Jennifer Liu | Marcus Rodriguez | Emily Watson |",
		"| Sep 15-21 | Marcus Rodriguez | Emily Watson | Alex Thompson |",
		"| Sep 22-28 | Emily Watson | Alex Thompson | Jennifer Liu |",
		"| Sep 29-Oct 5 | Alex Thompson | Jennifer Liu | David Park |",
	}
	out, errOut, code := pagerd(t, "schedule", "--config", aivo, "--from", "2025-08-18", "--weeks", "7")
	if code != 0 {
		t.Fatal(errOut)
	}
	if !strings.Contains(out, "| Week | Primary On-Call | Secondary On-Call | Escalation Lead |") {
		t.Fatalf("header missing:\n%s", out)
	}
	if !strings.Contains(out, strings.Join(seed, "\n")) {
		t.Fatalf("table differs from the seed's:\n%s", out)
	}

	// AION-R: the stated Monday 00:00 UTC handoff wins over the example
	// table's dates, so Engineer A's week starts Monday 2025-10-06.
	out, errOut, code = pagerd(t, "schedule", "--config", aionr, "--from", "2025-10-06", "--weeks", "4")
	if code != 0 {
		t.Fatal(errOut)
	}
	want := strings.Join([]string{
		"| Oct 6-12 | Engineer A | Engineer B | Team Lead X |",
		"| Oct 13-19 | Engineer B | Engineer C | Team Lead X |",
		"| Oct 20-26 | Engineer C | Engineer D | Team Lead Y |",
		"| Oct 27-Nov 2 | Engineer D | Engineer E | Team Lead Y |",
	}, "\n")
	if !strings.Contains(out, want) {
		t.Fatalf("AION-R table:\n%s", out)
	}
}

// TestOncallEveryWeek asks `pagerd oncall -o json` at the middle of every
// week of the seed tables and at the edges of the holiday overrides.
func TestOncallEveryWeek(t *testing.T) {
	type row struct {
		Tier, User, Name string
		Override         bool
	}
	cases := []struct {
		config, at string
		want       []string // primary, secondary, third tier
		override   bool
	}{
		{aivo, "2025-08-20T12:00:00-04:00", []string{"marcus", "emily", "jennifer"}, false},
		{aivo, "2025-08-27T12:00:00-04:00", []string{"emily", "alex", "david"}, false},
		{aivo, "2025-08-29T23:59:59-04:00", []string{"emily", "alex", "david"}, false},
		{aivo, "2025-08-30T00:00:00-04:00", []string{"emily", "marcus", "david"}, true},
		{aivo, "2025-09-01T08:00:00-04:00", []string{"emily", "marcus", "david"}, true},
		{aivo, "2025-09-02T23:59:59-04:00", []string{"emily", "marcus", "david"}, true},
		{aivo, "2025-09-03T00:00:00-04:00", []string{"alex", "jennifer", "marcus"}, false},
		{aivo, "2025-09-10T12:00:00-04:00", []string{"jennifer", "marcus", "emily"}, false},
		{aivo, "2025-09-17T12:00:00-04:00", []string{"marcus", "emily", "alex"}, false},
		{aivo, "2025-09-24T12:00:00-04:00", []string{"emily", "alex", "jennifer"}, false},
		{aivo, "2025-10-01T12:00:00-04:00", []string{"alex", "jennifer", "david"}, false},
		{aivo, "2025-11-26T23:59:59-05:00", []string{"alex", "jennifer", "alex"}, false},
		{aivo, "2025-11-27T00:00:00-05:00", []string{"jennifer", "alex", "sarah"}, true},
		{aivo, "2025-11-29T23:00:00-05:00", []string{"jennifer", "alex", "sarah"}, true},
		{aionr, "2025-10-06T00:00:00Z", []string{"eng-a", "eng-b", "lead-x"}, false},
		{aionr, "2025-10-12T23:59:59Z", []string{"eng-a", "eng-b", "lead-x"}, false},
		{aionr, "2025-10-13T00:00:00Z", []string{"eng-b", "eng-c", "lead-x"}, false},
		{aionr, "2025-10-22T12:00:00Z", []string{"eng-c", "eng-d", "lead-y"}, false},
		{aionr, "2025-10-30T12:00:00Z", []string{"eng-d", "eng-e", "lead-y"}, false},
	}
	for _, tc := range cases {
		t.Run(filepath.Base(tc.config)+"@"+tc.at, func(t *testing.T) {
			out, errOut, code := pagerd(t, "oncall", "--config", tc.config, "--at", tc.at, "-o", "json")
			if code != 0 {
				t.Fatal(errOut)
			}
			var rows []row
			if err := json.Unmarshal([]byte(out), &rows); err != nil {
				t.Fatal(err)
			}
			if len(rows) != 3 {
				t.Fatalf("%d rows", len(rows))
			}
			for i, r := range rows {
				if r.User != tc.want[i] || r.Override != tc.override {
					t.Errorf("%s: %s (override %v), want %s (override %v)", r.Tier, r.User, r.Override, tc.want[i], tc.override)
				}
			}
		})
	}
}

// TestOncallJSONBeforeAnyRotationBegins: a tier of layers none of which
// has begun is held by nobody since forever. `oncall -o json` left out no
// start for that gap but the zero time (0001-01-01, printed in New York's
// local mean time as 0000-12-31T19:03:58-04:56); a gap that began at no
// instant has no "from", and its "until" is when the first layer begins.
func TestOncallJSONBeforeAnyRotationBegins(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "later.yaml")
	if err := os.WriteFile(cfg, []byte(`
users:
  - {id: ann, contacts: [{channel: push, via: log}]}
  - {id: bob, contacts: [{channel: push, via: log}]}
schedules:
  - name: s
    time_zone: America/New_York
    handoff: {weekday: monday, time: "08:00"}
    tiers:
      - name: primary
        layers:
          - {name: days, start: 2025-11-03, members: [ann, bob]}
escalation_policies:
  - name: p
    levels:
      - {name: first, targets: [{schedule: s, tier: primary}]}
services:
  - {name: svc, priority_scheme: P0-P3, escalation_policy: p, integrations: {alertmanager_key: k0000000000000000000000000000000}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, at := range []string{"2025-10-01T10:00:00Z", "2025-10-01"} {
		t.Run(at, func(t *testing.T) {
			out, errOut, code := pagerd(t, "oncall", "--config", cfg, "--at", at, "-o", "json")
			if code != 0 {
				t.Fatal(errOut)
			}
			var rows []map[string]any
			if err := json.Unmarshal([]byte(out), &rows); err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 || rows[0]["user"] != "" {
				t.Fatalf("want one row, the gap: %s", out)
			}
			if from, ok := rows[0]["from"]; ok {
				t.Errorf("the gap began at no instant, but from is %v", from)
			}
			if until := rows[0]["until"]; until != "2025-11-03T08:00:00-05:00" {
				t.Errorf("until %v, want the first layer's start, 2025-11-03T08:00:00-05:00", until)
			}
		})
	}
}

func TestCLIErrors(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.yaml")
	q, err := os.ReadFile(qstart)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, append(q, []byte("\nsurprise: true\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, 2, "usage: pagerd"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"check-config without files", []string{"check-config"}, 2, "name at least one config FILE"},
		{"broken config", []string{"check-config", qstart, broken}, 1, broken + `: line`},
		{"broken config names the key", []string{"check-config", broken}, 1, `unknown field "surprise"`},
		{"missing config flag", []string{"oncall"}, 1, "--config FILE is required"},
		{"bad --at", []string{"oncall", "--config", qstart, "--at", "tomorrow"}, 1, "RFC 3339"},
		{"bad label", []string{"route", "--config", qstart, "severity"}, 1, "LABEL=VALUE"},
		{"bad output", []string{"route", "--config", qstart, "-o", "yaml"}, 1, `-o "yaml"`},
		{"unknown service", []string{"route", "--config", qstart, "--service", "nope"}, 1, `no service "nope"`},
		{"unknown schedule", []string{"oncall", "--config", qstart, "--schedule", "nope"}, 1, `no schedule "nope"`},
		{"bad duration", []string{"simulate", "--config", qstart, "--for", "soon"}, 1, "--for"},
		{"unknown ack-by", []string{"simulate", "--config", qstart, "--ack-by", "nobody", "--ack-after", "1m"}, 1, `no user "nobody"`},
		{"bad weeks", []string{"schedule", "--config", qstart, "--weeks", "0"}, 1, "--weeks 0"},
		{"unknown flag", []string{"oncall", "--nope"}, 2, "flag provided but not defined"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := pagerd(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d (stdout %q, stderr %q)", code, tc.code, out, errOut)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Fatalf("stderr %q does not say %q", errOut, tc.want)
			}
		})
	}
}

func TestVersionAndFlagsAfterArguments(t *testing.T) {
	out, _, code := pagerd(t, "version")
	if code != 0 || !strings.HasPrefix(out, "pagerd ") {
		t.Fatalf("version: %q %d", out, code)
	}
	// Labels before flags work as well as after them.
	a, _, c1 := pagerd(t, "route", "severity=critical", "--config", qstart, "--at", "2025-09-10T06:00:00Z", "-o", "json")
	b, _, c2 := pagerd(t, "route", "--config", qstart, "--at", "2025-09-10T06:00:00Z", "-o", "json", "severity=critical")
	if c1 != 0 || c2 != 0 || a != b || !strings.Contains(a, `"priority": "P0"`) {
		t.Fatalf("route output differs by argument order:\n%s\n%s", a, b)
	}
}

// TestSimulateJSONEventsKeepToTheContractTypes: an AION-R SEV-2 the
// secondary (eng-d) acknowledged, kept up to date, is still open at 2
// hours, when the SEV-2 unresolved rule would page the secondary: the
// rule leaves eng-d out (already_acknowledged). simulate -o json's events
// are of the types the product contract names (notify, escalate, ack,
// resolve, status_update, sla_breach), which bars parse by; what the rule
// left out is apart from them, as maintenance is.
func TestSimulateJSONEventsKeepToTheContractTypes(t *testing.T) {
	unsetSeedSecrets(t)
	out, errOut, code := pagerd(t, "simulate", "--config", aionr, "--at", "2025-10-21T10:00:00Z", "--for", "150m",
		"--ack-after", "25m", "--ack-by", "eng-d", "--update-every", "20m", "severity=error", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res struct {
		Priority string `json:"priority"`
		Events   []struct {
			Type string `json:"type"`
			User string `json:"user"`
		} `json:"events"`
		AlreadyAcknowledged []struct {
			Type string `json:"type"`
			User string `json:"user"`
		} `json:"already_acknowledged"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.Priority != "SEV-2" {
		t.Fatalf("priority %q, want SEV-2", res.Priority)
	}
	contract := map[string]bool{"notify": true, "escalate": true, "ack": true, "resolve": true, "status_update": true, "sla_breach": true}
	for _, e := range res.Events {
		if !contract[e.Type] {
			t.Errorf("an event of type %q (user %q) among the events: the contract's types are notify, escalate, ack, resolve, status_update, sla_breach", e.Type, e.User)
		}
	}
	if len(res.AlreadyAcknowledged) != 1 || res.AlreadyAcknowledged[0].User != "eng-d" {
		t.Errorf("already_acknowledged %+v, want eng-d left out by the SEV-2 rule", res.AlreadyAcknowledged)
	}
}
