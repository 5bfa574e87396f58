package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

const opsgenieBackup = "../../importer/testdata/opsgenie/OpsGenieBackups"

// TestImportOpsgenieDoneWhen is issue 16's done-when test, on the command
// line: an Opsgenie export of a team with two rotations, a third
// restricted to business hours, an override and an escalation imports;
// the report lists what did not map; check-config accepts the result
// (strictly, once the secrets it reads are set: Twilio's, the SMTP
// server's the email contacts go through, and the service's key); and
// `pagerd oncall` on it matches the source for a week of instants.
//
// Who the source has on call, by hand from the fixture, America/New_York
// (EDT, UTC-4): Primary weekly from Mon 2025-10-06 09:00, alice, bob,
// carol, with dave overriding it Wed Oct 8 13:00-21:00; Secondary seven
// days a turn from Wed Oct 1 12:00, dave then alice. Business hours (carol
// Mon-Fri 09:00-17:00 that week) is restricted, so it is in the report and
// not in the config until pagerd can restrict rotations.
func TestImportOpsgenieDoneWhen(t *testing.T) {
	dir := t.TempDir()
	cfg, report := filepath.Join(dir, "pagerd.yaml"), filepath.Join(dir, "import-report.md")
	out, errOut, code := pagerd(t, "import", "opsgenie", "-o", cfg, "--report", report, "--public-url", "https://pagerd.example.com", opsgenieBackup)
	if code != 0 || out != "" {
		t.Fatalf("import: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "wrote "+cfg+". Imported 4 users, 2 schedules (3 tiers), 1 escalation policies and 1 services") {
		t.Errorf("import's summary: %q", errOut)
	}
	rep, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"platform_schedule/business-hours",
		"schedules[platform_schedule].tiers[business-hours]: nobody holds the tier 128 of 168 hours a week: Mon 17:00–Tue 09:00, Tue 17:00–Wed 09:00",
		`heartbeat "platform-watchdog"`,
		`rule "2"`, "next on-call user",
		`routing rule "Databases at night"`,
		"## To do before pagerd serve: what check-config says",
	} {
		if !strings.Contains(string(rep), want) {
			t.Errorf("the report does not say %q:\n%s", want, rep)
		}
	}

	// check-config accepts it; strictly once its secrets are there.
	if out, errOut, code := pagerd(t, "check-config", cfg); code != 0 || !strings.Contains(out, "ok (1 services, 4 users, 2 schedules, 1 escalation policies, 10 warning(s))") ||
		!strings.Contains(errOut, "notifiers.email.smarthost: environment variable PAGERD_SMTP_SMARTHOST is not set") {
		t.Errorf("check-config: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	for _, env := range []string{"PAGERD_TWILIO_ACCOUNT_SID=AC0123456789abcdef0123456789abcdef", "PAGERD_TWILIO_AUTH_TOKEN=0123456789abcdef0123456789abcdef", "PAGERD_TWILIO_FROM=+15555550100",
		"PAGERD_SMTP_SMARTHOST=smtp.example.com:587", "PAGERD_SMTP_FROM=pagerd@example.com", "PAGERD_SMTP_USERNAME=pagerd", "PAGERD_SMTP_PASSWORD=smtp-password",
		"PAGERD_PLATFORM_ALERTMANAGER_KEY=platform-key"} {
		k, v, _ := strings.Cut(env, "=")
		t.Setenv(k, v)
	}
	// What is left is true of the source: the business-hours rotation is
	// on call in business hours only, so its tier has nobody the rest of
	// the week; the heartbeat has no grace (Opsgenie's have none), which
	// across replicas pages a ping a moment late or a clock a second fast.
	if out, errOut, code := pagerd(t, "check-config", "--strict", cfg); code != 1 || strings.Count(errOut, "warning: ") != 2 ||
		!strings.Contains(errOut, "warning: schedules[platform_schedule].tiers[business-hours]: nobody holds the tier 128 of 168 hours a week: Mon 17:00–Tue 09:00, Tue 17:00–Wed 09:00") ||
		!strings.Contains(errOut, "warning: services[platform].heartbeats[platform-watchdog].grace: is 0s") {
		t.Errorf("check-config --strict with the secrets set: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}

	for _, c := range []struct {
		at   string
		want []string
	}{
		{"2025-10-06T10:00:00-04:00", []string{"alice", "carol", "dave"}}, // carol: business hours
		{"2025-10-06T20:00:00-04:00", []string{"alice", "dave"}},
		{"2025-10-07T03:00:00-04:00", []string{"alice", "dave"}},
		{"2025-10-08T11:59:00-04:00", []string{"alice", "carol", "dave"}},
		{"2025-10-08T12:00:00-04:00", []string{"alice", "carol"}},
		{"2025-10-08T14:00:00-04:00", []string{"alice", "carol", "dave"}}, // dave overrides alice on primary; alice on secondary
		{"2025-10-08T21:00:00-04:00", []string{"alice"}},
		{"2025-10-10T16:59:00-04:00", []string{"alice", "carol"}},
		{"2025-10-11T12:00:00-04:00", []string{"alice"}},
		{"2025-10-12T23:00:00-04:00", []string{"alice"}},
		{"2025-10-13T08:59:00-04:00", []string{"alice"}},
		{"2025-10-13T09:00:00-04:00", []string{"alice", "bob", "dave"}},
		{"2025-10-13T17:00:00-04:00", []string{"alice", "bob"}},
	} {
		out, errOut, code := pagerd(t, "oncall", "--config", cfg, "--at", c.at, "-o", "json")
		if code != 0 {
			t.Fatalf("oncall --at %s: exit %d: %s", c.at, code, errOut)
		}
		var rows []struct {
			Tier, User string
			Override   bool
		}
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("oncall -o json: %v\n%s", err, out)
		}
		got := map[string]bool{}
		var list []string
		for _, r := range rows {
			if r.User != "" && !got[r.User] { // "": nobody holds a restricted tier then
				got[r.User] = true
				list = append(list, r.User)
			}
			if r.Override != (c.at == "2025-10-08T14:00:00-04:00" && r.Tier == "primary") {
				t.Errorf("%s: tier %s override %v", c.at, r.Tier, r.Override)
			}
		}
		sort.Strings(list)
		if !reflect.DeepEqual(list, c.want) {
			t.Errorf("%s: pagerd oncall says %v, the source %v", c.at, list, c.want)
		}
	}
}

// TestImportToStdout: without -o the config goes to stdout and the report
// to stderr; the config loads as written.
func TestImportToStdout(t *testing.T) {
	out, errOut, code := pagerd(t, "import", "pagerduty", "--scheme", "SEV-1-4", "../../importer/testdata/pagerduty")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "priority_scheme: SEV-1-4") || !strings.Contains(errOut, "# pagerd import pagerduty") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", out, errOut)
	}
	cfg := filepath.Join(t.TempDir(), "pd.yaml")
	if err := os.WriteFile(cfg, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := pagerd(t, "check-config", cfg); code != 0 {
		t.Errorf("check-config on the imported config: exit %d: %s", code, errOut)
	}
}

// TestImportErrors: input that is not the vendor's, or not JSON, fails
// with the file named, and writes nothing.
func TestImportErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "out.yaml")
	_, errOut, code := pagerd(t, "import", "opsgenie", "-o", cfg, bad)
	if code != 1 || !strings.Contains(errOut, bad+": not JSON") {
		t.Errorf("not JSON: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = pagerd(t, "import", "grafana-oncall", "-o", cfg, "../../importer/testdata/pagerduty/services.json")
	if code != 1 || !strings.Contains(errOut, "found no users, schedules, escalations or services") {
		t.Errorf("another vendor's file: exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(cfg); !os.IsNotExist(err) {
		t.Errorf("a failed import left %s behind", cfg)
	}
	_, errOut, code = pagerd(t, "import", "opsgenie", "--scheme", "P1-P5", opsgenieBackup)
	if code != 1 || !strings.Contains(errOut, `--scheme: unknown priority scheme "P1-P5"`) {
		t.Errorf("bad scheme: exit %d, stderr %q", code, errOut)
	}
}

// TestImportNamesAMalformedEnvironmentVariable: the imported config reads
// its addresses and secrets from PAGERD_* variables, and is checked with
// them as the importing shell sets them. One set to a value pagerd cannot
// use fails the import with a message that names the variable and what is
// wrong with it, not "a bug in pagerd import" (nor the source file), and
// check-config and serve name it too. (Before: "the imported config does
// not load, which is a bug in pagerd import (please report it with the
// input)", and nothing named the variable.)
func TestImportNamesAMalformedEnvironmentVariable(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "pagerd.yaml")
	if _, errOut, code := pagerd(t, "import", "opsgenie", "-o", cfg, "--report", filepath.Join(dir, "r.md"), opsgenieBackup); code != 0 {
		t.Fatalf("import: exit %d:\n%s", code, errOut)
	}
	t.Setenv("PAGERD_SMTP_SMARTHOST", "smtp.example.com")
	out, errOut, code := pagerd(t, "import", "opsgenie", "-o", filepath.Join(dir, "again.yaml"), "--report", filepath.Join(dir, "r2.md"), opsgenieBackup)
	if code != 1 || out != "" {
		t.Fatalf("import: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"environment variable PAGERD_SMTP_SMARTHOST, which the imported config reads, is set here to a value pagerd cannot use",
		`notifiers.email.smarthost, from environment variable PAGERD_SMTP_SMARTHOST: "smtp.example.com" is not host:port`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("import's error does not say %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "bug in pagerd import") || strings.Contains(errOut, "OpsGenieBackups") {
		t.Errorf("import's error blames the import or the source:\n%s", errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "again.yaml")); err == nil {
		t.Error("the config was written")
	}
	_, errOut, code = pagerd(t, "check-config", cfg)
	if code == 0 || !strings.Contains(errOut, `notifiers.email.smarthost, from environment variable PAGERD_SMTP_SMARTHOST: "smtp.example.com" is not host:port`) {
		t.Errorf("check-config: exit %d, stderr:\n%s", code, errOut)
	}
}
