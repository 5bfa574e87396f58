package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The CLI behaves like the tools SREs know: help asked for goes to stdout
// with exit 0, help after a mistake to stderr with exit 2; `pagerd help CMD`
// and `CMD -h` show the command's flags and arguments; --version works.

func TestHelpGolden(t *testing.T) {
	for _, name := range []string{"check-config", "oncall", "route", "simulate", "schedule", "serve", "version", "import", "report", "handoff", "maintenance", "override", "help"} {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := pagerd(t, "help", name)
			if code != 0 || errOut != "" {
				t.Fatalf("pagerd help %s: exit %d, stderr %q", name, code, errOut)
			}
			golden(t, "help-"+name+".txt", out)
			// `CMD -h` and `CMD --help` say the same, on stdout; so do
			// `help -h` and `help --help`, whose flags list -h.
			for _, flag := range []string{"-h", "--help"} {
				o, e, c := pagerd(t, name, flag)
				if c != 0 || e != "" || o != out {
					t.Errorf("pagerd %s %s: exit %d, stderr %q, stdout differs from pagerd help %s:\n%s", name, flag, c, e, name, o)
				}
			}
		})
	}
	out, errOut, code := pagerd(t, "help")
	if code != 0 || errOut != "" {
		t.Fatalf("pagerd help: exit %d, stderr %q", code, errOut)
	}
	golden(t, "help.txt", out)
	for _, args := range [][]string{{"-h"}, {"--help"}} {
		if o, e, c := pagerd(t, args...); c != 0 || e != "" || o != out {
			t.Errorf("pagerd %s: exit %d, stderr %q, stdout %q", args[0], c, e, o)
		}
	}
}

func TestHelpForEveryFlag(t *testing.T) {
	// Every flag a command takes is in its help, with its argument.
	for name, want := range map[string][]string{
		"check-config": {"--config FILE", "--strict", "FILE  "},
		"oncall":       {"--config FILE", "--at TIME", "DATE", "--schedule NAME", "-o FORMAT"},
		"route":        {"--config FILE", "--service NAME", "--at TIME", "-o FORMAT", "LABEL=VALUE  "},
		"simulate": {"--config FILE", "--service NAME", "--at TIME", "--for DUR", "--ack-after DUR", "--ack-by USER",
			"--resolve-after DUR", "--update-every DUR", "--server URL", "--token-file FILE", "-o FORMAT", "LABEL=VALUE  "},
		"schedule": {"--config FILE", "--schedule NAME", "--from DATE", "--weeks N", "-o FORMAT"},
		"serve":    {"--config FILE", "--listen ADDR", "--redis-url URL", "--data-dir DIR", "--log-level LEVEL", "--log-per-second N"},
		"import":   {"-o FILE", "--report FILE", "--scheme SCHEME", "--public-url URL", "FILE  ", "opsgenie|pagerduty|grafana-oncall"},
		"override": {"--server URL", "--token-file FILE", "--schedule NAME", "--tier TIER", "--user USER", "--start TIME", "--end TIME",
			"--for DUR", "--reason TEXT", "--swap-start TIME", "--swap-end TIME", "-o FORMAT", "--ended", "ID...",
			"list: [--ended] [-o text|json]"},
		"report": {"--config FILE", "--from DATE", "--to DATE", "--server URL", "--token-file FILE", "--data-dir DIR", "-o FORMAT",
			"--payroll", "text|json|csv|markdown"},
		"handoff": {"--config FILE", "--schedule NAME", "--at TIME", "--server URL", "--token-file FILE", "--data-dir DIR", "-o FORMAT"},
		"maintenance": {"add|list|rm", "--server URL", "--token-file FILE", "--service SERVICE", "--matcher MATCHER", "--for DUR",
			"--start TIME", "--end TIME", "--name NAME", "--reason TEXT", "--state STATE", "-o FORMAT", "ID  "},
	} {
		out, _, _ := pagerd(t, "help", name)
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("pagerd help %s does not show %q:\n%s", name, w, out)
			}
		}
	}
}

func TestUsageAfterAMistake(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{nil, "usage: pagerd COMMAND"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"help", "frobnicate"}, `no command "frobnicate"`},
		{[]string{"route", "--nope"}, "usage: pagerd route --config FILE"},
		{[]string{"check-config"}, "name at least one config FILE (or --config FILE)"},
		{[]string{"import", "opsgenie"}, "name the vendor (opsgenie, pagerduty, grafana-oncall) and at least one FILE"},
		{[]string{"import", "splunk", "x.json"}, `unknown vendor "splunk"`},
	}
	for _, tc := range cases {
		out, errOut, code := pagerd(t, tc.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("pagerd %q: exit %d, stdout %q, stderr %q; want exit 2, nothing on stdout, %q on stderr", tc.args, code, out, errOut, tc.want)
		}
	}
}

func TestVersionFlag(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}} {
		out, errOut, code := pagerd(t, args...)
		if code != 0 || errOut != "" || !strings.HasPrefix(out, "pagerd "+version+" (commit ") || !strings.HasSuffix(out, runtime.Version()+", "+runtime.GOOS+"/"+runtime.GOARCH+")\n") {
			t.Errorf("pagerd %s: exit %d, stdout %q, stderr %q", args[0], code, out, errOut)
		}
	}
}

// seedSecrets are the environment variables the seed configs read; the
// tests unset them, whatever the machine has.
var seedSecrets = []string{
	"AIVO_PAGERD_LINK_SECRET", "AIVO_TWILIO_ACCOUNT_SID", "AIVO_TWILIO_AUTH_TOKEN", "AIVO_TWILIO_FROM", "AIVO_PAGERDUTY_WEBHOOK_SECRET",
	"AIVO_PD_KEY_MARCUS", "AIVO_PD_KEY_EMILY", "AIVO_PD_KEY_ALEX", "AIVO_PD_KEY_JENNIFER", "AIVO_PD_KEY_DAVID", "AIVO_PD_KEY_SARAH", "AIVO_PD_KEY_MICHAEL",
	"AIVO_SLACK_BOT_TOKEN", "AIVO_SLACK_SIGNING_SECRET",
	"AION_R_PAGERD_LINK_SECRET", "AION_R_TWILIO_ACCOUNT_SID", "AION_R_TWILIO_AUTH_TOKEN", "AION_R_TWILIO_FROM", "AION_R_PAGERDUTY_WEBHOOK_SECRET",
	"AION_R_PD_KEY_ENG_A", "AION_R_PD_KEY_ENG_B", "AION_R_PD_KEY_ENG_C", "AION_R_PD_KEY_ENG_D", "AION_R_PD_KEY_ENG_E", "AION_R_PD_KEY_ENG_F",
	"AION_R_PD_KEY_ENG_G", "AION_R_PD_KEY_ENG_H", "AION_R_PD_KEY_LEAD_X", "AION_R_PD_KEY_LEAD_Y", "AION_R_PD_KEY_MANAGER", "AION_R_PD_KEY_VP_ENG",
	"AION_R_SMTP_SMARTHOST", "AION_R_SMTP_USERNAME", "AION_R_SMTP_PASSWORD",
	"AION_R_SLACK_BOT_TOKEN", "AION_R_SLACK_SIGNING_SECRET",
}

// unsetSeedSecrets unsets the seeds' secrets for the test, whatever the
// machine has, and puts them back after (t.Setenv cannot unset, and a
// variable set to "" is reported as empty, not unset).
func unsetSeedSecrets(t *testing.T) {
	for _, s := range seedSecrets {
		t.Setenv(s, "")
		if err := os.Unsetenv(s); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCheckConfigWarnings: the seed configs pass check-config without their
// secrets, which it lists as warnings; --strict makes warnings errors; the
// quickstart has none; --config works like the arguments.
func TestCheckConfigWarnings(t *testing.T) {
	unsetSeedSecrets(t)
	out, errOut, code := pagerd(t, "check-config", aivo, "--config", aionr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "check-config-seeds.txt", out)
	golden(t, "check-config-seeds.stderr.txt", errOut)

	out, errOut, code = pagerd(t, "check-config", "--strict", aivo)
	if code != 1 || out != "" || !strings.Contains(errOut, aivo+": 14 warning(s), and --strict makes them errors") ||
		!strings.Contains(errOut, aivo+": warning: notifiers.twilio.auth_token: environment variable AIVO_TWILIO_AUTH_TOKEN is not set (pagerd serve needs it)") {
		t.Errorf("check-config --strict on the seed without secrets: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	out, errOut, code = pagerd(t, "check-config", "--strict", "--config", qstart)
	if code != 0 || errOut != "" || !strings.HasPrefix(out, qstart+": ok (") {
		t.Errorf("check-config --strict on the quickstart: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// A warning that is not about a secret: paging that stops.
	dir := t.TempDir()
	q, err := os.ReadFile(qstart)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "stops.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(string(q), "    repeat: 3\n", "    repeat: 0\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = pagerd(t, "check-config", path)
	if code != 0 || !strings.Contains(out, "2 warning(s)") ||
		!strings.Contains(errOut, path+": warning: escalation_policies[demo].levels[primary].timeout: never fires") ||
		!strings.Contains(errOut, path+": warning: escalation_policies[demo].repeat: P0 and P1 incidents") {
		t.Errorf("exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	if _, _, code := pagerd(t, "check-config", "--strict", path); code != 1 {
		t.Errorf("--strict with warnings: exit %d, want 1", code)
	}
}

// TestCheckConfigTrustedProxies: check-config refuses a
// server.trusted_proxies entry that is not a CIDR, naming the entry and
// what to write, and takes IPv4 and IPv6 ones.
func TestCheckConfigTrustedProxies(t *testing.T) {
	q, err := os.ReadFile(qstart)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, tc := range map[string]struct{ list, want string }{
		"cidrs":         {`["10.0.0.0/8", "fd00::/8"]`, ""},
		"an address":    {`["10.0.0.0/8", "10.1.2.3"]`, `server.trusted_proxies[1]: "10.1.2.3" is not a CIDR like 10.0.0.0/8 or fd00::/8 (one address is 10.1.2.3/32)`},
		"a v6 address":  {`["fd00::1"]`, `server.trusted_proxies[0]: "fd00::1" is not a CIDR like 10.0.0.0/8 or fd00::/8 (one address is fd00::1/128)`},
		"a bad prefix":  {`["10.0.0.0/33"]`, `server.trusted_proxies[0]: "10.0.0.0/33" is not a CIDR`},
		"not a network": {`[pod-network]`, `server.trusted_proxies[0]: "pod-network" is not a CIDR like 10.0.0.0/8 or fd00::/8: list the addresses of the proxies`},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
			cfg := strings.Replace(string(q), "server:\n", "server:\n  trusted_proxies: "+tc.list+"\n", 1)
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := pagerd(t, "check-config", path)
			if tc.want == "" {
				if code != 0 || !strings.HasPrefix(out, path+": ok (") {
					t.Errorf("exit %d, stdout %q, stderr:\n%s", code, out, errOut)
				}
				return
			}
			if code != 1 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, want 1 and %q in stderr:\n%s", code, tc.want, errOut)
			}
		})
	}
}

// TestQueryCommandsWorkWithoutSecrets: oncall, route, simulate and schedule
// on the seed configs need none of the secrets serve needs.
func TestQueryCommandsWorkWithoutSecrets(t *testing.T) {
	unsetSeedSecrets(t)
	for _, args := range [][]string{
		{"oncall", "--config", aivo},
		{"route", "--config", aionr, "severity=critical"},
		{"simulate", "--config", aivo, "--for", "1h", "category=data_loss"},
		{"schedule", "--config", aionr, "--weeks", "2"},
	} {
		if _, errOut, code := pagerd(t, args...); code != 0 || errOut != "" {
			t.Errorf("pagerd %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
		}
	}
}

// TestOncallOnADate: --at takes a date, and then lists every shift that
// covers part of that day: on Monday 2025-09-08 AIVO hands off at 08:00.
func TestOncallOnADate(t *testing.T) {
	out, errOut, code := pagerd(t, "oncall", "--config", aivo, "--at", "2025-09-08")
	if code != 0 {
		t.Fatal(errOut)
	}
	golden(t, "oncall-aivo-date.txt", out)
	if n := strings.Count(out, "aivo-oncall"); n != 6 {
		t.Errorf("%d shifts on the handoff day, want 6 (two per tier)", n)
	}
	out, errOut, code = pagerd(t, "oncall", "--config", aivo, "--at", "2025-09-01", "-o", "json")
	if code != 0 || strings.Count(out, `"override": true`) != 3 || !strings.Contains(out, `"reason": "Labor Day weekend"`) {
		t.Errorf("Labor Day: exit %d, stderr %q:\n%s", code, errOut, out)
	}
}

// TestOncallSaysNobodyInAGap: where nothing covers a tier (here before
// follow-the-sun's layers begin), levels that page it page nobody, and the
// table says so in words, as `pagerd schedule` and the console do: a blank
// cell reads as a missing value, and shifts the columns a script splits on.
func TestOncallSaysNobodyInAGap(t *testing.T) {
	out, errOut, code := pagerd(t, "oncall", "--config", sun, "--at", "2025-09-13T12:00:00Z")
	if code != 0 {
		t.Fatal(errOut)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		if f := strings.Fields(line); len(f) < 6 {
			t.Errorf("a row with blank cells (%d fields, want 6 or more): %q", len(f), line)
		}
	}
	if !strings.Contains(out, "nobody") {
		t.Errorf("the gap in primary is not said:\n%s", out)
	}
}

// TestScheduleJSONAgreesWithOncall: `pagerd schedule -o json` is the table
// bars publish weeks ahead; the weeks' shifts in it are who is paged, as
// `pagerd oncall` says for any instant of them: AIVO's Labor Day coverage
// (an override) included, marked override: true, not only the rotation's
// regular holder of the week.
func TestScheduleJSONAgreesWithOncall(t *testing.T) {
	out, errOut, code := pagerd(t, "schedule", "--config", aivo, "--from", "2025-08-25", "--weeks", "2", "-o", "json")
	if code != 0 {
		t.Fatal(errOut)
	}
	var weeks []struct {
		Shifts []struct {
			Tier, User  string
			From, Until time.Time
			Override    bool
		}
	}
	if err := json.Unmarshal([]byte(out), &weeks); err != nil {
		t.Fatal(err)
	}
	for _, at := range []string{"2025-08-29T12:00:00Z", "2025-08-31T12:00:00Z", "2025-09-01T12:00:00Z", "2025-09-01T11:59:59Z",
		"2025-09-03T04:00:00Z", "2025-09-03T03:59:59Z", "2025-09-04T12:00:00Z"} {
		tm, _ := time.Parse(time.RFC3339, at)
		oc, errOut, code := pagerd(t, "oncall", "--config", aivo, "--at", at, "-o", "json")
		if code != 0 {
			t.Fatal(errOut)
		}
		var rows []struct {
			Tier, User string
			Override   bool
		}
		if err := json.Unmarshal([]byte(oc), &rows); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			var got []string
			for _, w := range weeks {
				for _, s := range w.Shifts {
					if s.Tier == r.Tier && !s.From.After(tm) && s.Until.After(tm) {
						got = append(got, fmt.Sprintf("%s %v", s.User, s.Override))
					}
				}
			}
			if want := fmt.Sprintf("%s %v", r.User, r.Override); len(got) != 1 || got[0] != want {
				t.Errorf("at %s tier %s: schedule -o json has %q, oncall says %q", at, r.Tier, got, want)
			}
		}
	}
}

// emptyLastLevelConfig has a last level nobody is on call for at night (an
// office-hours tier) under a policy that repeats once.
const emptyLastLevelConfig = `
users:
  - {id: ann, name: Ann, contacts: [{channel: push, via: log}]}
  - {id: bob, name: Bob, contacts: [{channel: push, via: log}]}
schedules:
  - name: s
    time_zone: UTC
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: night, start: 2025-01-06, members: [bob]}
      - name: office
        layers:
          - name: office
            start: 2025-01-06
            members: [ann]
            restrictions: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}]
escalation_policies:
  - name: p
    repeat: 1
    levels:
      - {name: first, targets: [{schedule: s, tier: night}], timeout: 15m}
      - {name: office, targets: [{schedule: s, tier: office}], timeout: 10m}
services:
  - {name: svc, priority_scheme: P0-P3, escalation_policy: p}
`

// TestRouteOfAnEmptyLastLevelWithRepeat: at night nobody is on call for
// the last level; pagerd pages level 1 again at once (repeat: 1), and
// pagerd route says so, where it said only that the level pages nobody.
// Without repeat, nothing comes after it, and route says only that.
func TestRouteOfAnEmptyLastLevelWithRepeat(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, cfg, want string }{
		{"repeat", emptyLastLevelConfig,
			"  2 office       nobody (nobody is on call for it: starts over at level 1 at once, at 2025-09-10T03:15:00Z; repeat: 1)\n"},
		{"no repeat", strings.Replace(emptyLastLevelConfig, "    repeat: 1\n", "", 1),
			"  2 office       nobody (nobody is on call for it)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
			if err := os.WriteFile(path, []byte(tc.cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := pagerd(t, "route", "--config", path, "--at", "2025-09-10T03:00:00Z", "severity=critical")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if !strings.Contains(out, "  1 first        Bob (escalates after 15m, at 2025-09-10T03:15:00Z)\n") || !strings.HasSuffix(out, tc.want) {
				t.Fatalf("route:\n%s\nwant it to end with:\n%s", out, tc.want)
			}
		})
	}
}

// TestRouteOfAnAlertInAGapSaysItWaits: at night nobody is on call for any
// level: pagerd route says the alert waits for the next person on call,
// as the engine has it wait, where it said only that the levels page
// nobody; in office hours, when ann is on call, it says nothing of it.
func TestRouteOfAnAlertInAGapSaysItWaits(t *testing.T) {
	cfg := strings.Replace(strings.Replace(emptyLastLevelConfig, "    repeat: 1\n", "", 1),
		"      - {name: first, targets: [{schedule: s, tier: night}], timeout: 15m}\n", "", 1)
	path := filepath.Join(t.TempDir(), "gap.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	const waits = "then:       waits for the next person on call and pages them from level 1 when they come on call\n" +
		"            (until someone acknowledges; an unresolved rule's page ends the wait only if it reaches someone on call at a level)\n"
	for at, want := range map[string]bool{"2025-09-10T03:00:00Z": true, "2025-09-10T10:00:00Z": false} {
		out, errOut, code := pagerd(t, "route", "--config", path, "--at", at, "severity=critical")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if strings.HasSuffix(out, waits) != want {
			t.Fatalf("route at %s:\n%s\nwant the wait said: %v", at, out, want)
		}
	}
}

// gapWithManagerRule writes emptyLastLevelConfig with one level, held
// from 09:00, and an unresolved rule paging bob, a manager on call at no
// level, 30 minutes into a P0, and returns its path.
func gapWithManagerRule(t *testing.T) string {
	t.Helper()
	cfg := strings.Replace(strings.Replace(emptyLastLevelConfig, "    repeat: 1\n", "", 1),
		"      - {name: first, targets: [{schedule: s, tier: night}], timeout: 15m}\n", "", 1)
	cfg = strings.Replace(cfg, "services:\n", "    unresolved:\n      - {priorities: [P0], after: 30m, notify: [{user: bob}]}\nservices:\n", 1)
	path := filepath.Join(t.TempDir(), "gap.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRouteOfAnAlertInAGapSaysTheUnresolvedRulePagesAndTheWaitGoesOn: an
// unresolved rule paging bob, a manager on call at no level of the
// policy, 30 minutes into a night nobody is on call for: pagerd route
// says the rule pages him then and that the wait goes on (the engine
// pages ann when she comes on call at 09:00), where it said only that
// the alert waits, as if nothing came before the next person on call.
// The JSON says it too.
func TestRouteOfAnAlertInAGapSaysTheUnresolvedRulePagesAndTheWaitGoesOn(t *testing.T) {
	path := gapWithManagerRule(t)
	out, errOut, code := pagerd(t, "route", "--config", path, "--at", "2025-09-10T03:00:00Z", "severity=critical")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if want := "unresolved:\n  after 30m         Bob, at 2025-09-10T03:30:00Z (the wait goes on)\nthen:       waits for the next person on call"; !strings.Contains(out, want) {
		t.Fatalf("route:\n%s\nwant it to say:\n%s", out, want)
	}
	out, errOut, code = pagerd(t, "route", "--config", path, "--at", "2025-09-10T03:00:00Z", "-o", "json", "severity=critical")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res struct {
		Waits      bool `json:"waits_for_on_call"`
		Unresolved []struct {
			After    string    `json:"after"`
			At       time.Time `json:"at"`
			Users    []string  `json:"users"`
			EndsWait bool      `json:"ends_wait"`
		} `json:"unresolved"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !res.Waits || len(res.Unresolved) != 1 || res.Unresolved[0].After != "30m" || !reflect.DeepEqual(res.Unresolved[0].Users, []string{"bob"}) ||
		res.Unresolved[0].EndsWait || !res.Unresolved[0].At.Equal(time.Date(2025, 9, 10, 3, 30, 0, 0, time.UTC)) {
		t.Fatalf("route -o json: %s", out)
	}
}

// TestRouteOfAnAlertInAGapSaysTheRuleComesAfterTheWait: an alert at
// 08:45 waits only until 09:00, when ann comes on call and is paged;
// the rule's page to bob at 09:15 comes after the wait, and pagerd route
// says so (wait_over), where it said the wait goes on, which simulate
// and the engine contradict.
func TestRouteOfAnAlertInAGapSaysTheRuleComesAfterTheWait(t *testing.T) {
	path := gapWithManagerRule(t)
	out, errOut, code := pagerd(t, "route", "--config", path, "--at", "2025-09-10T08:45:00Z", "severity=critical")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if want := "  after 30m         Bob, at 2025-09-10T09:15:00Z (after the wait: someone came on call at a level before it and was paged)\n"; !strings.Contains(out, want) {
		t.Fatalf("route:\n%s\nwant it to say:\n%s", out, want)
	}
	out, errOut, code = pagerd(t, "route", "--config", path, "--at", "2025-09-10T08:45:00Z", "-o", "json", "severity=critical")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res struct {
		Unresolved []struct {
			WaitOver bool `json:"wait_over"`
			EndsWait bool `json:"ends_wait"`
		} `json:"unresolved"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(res.Unresolved) != 1 || !res.Unresolved[0].WaitOver || res.Unresolved[0].EndsWait {
		t.Fatalf("route -o json: %s", out)
	}
}

// TestSimulateOfAnAlertInAGapSaysTheWaitApart: the incident beginning to
// wait for someone on call is in simulate's JSON under wait_on_call, once
// over a night of looks, not among the events, whose types the product
// contract lists; the text says it in its place.
func TestSimulateOfAnAlertInAGapSaysTheWaitApart(t *testing.T) {
	cfg := strings.Replace(strings.Replace(emptyLastLevelConfig, "    repeat: 1\n", "", 1),
		"      - {name: first, targets: [{schedule: s, tier: night}], timeout: 15m}\n", "", 1)
	path := filepath.Join(t.TempDir(), "gap.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := pagerd(t, "simulate", "--config", path, "--at", "2025-09-10T03:00:00Z", "--for", "7h", "-o", "json", "severity=critical")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res struct {
		Events []struct {
			Type string `json:"type"`
		} `json:"events"`
		Wait []struct {
			Type   string `json:"type"`
			Detail string `json:"detail"`
		} `json:"wait_on_call"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(res.Wait) != 1 || res.Wait[0].Type != "wait_on_call" ||
		res.Wait[0].Detail != "nobody is on call at any level of p; waiting for the next person on call (next look 2025-09-10T03:15:00Z)" {
		t.Fatalf("wait_on_call %+v, want the wait's beginning once", res.Wait)
	}
	for _, e := range res.Events {
		if e.Type == "wait_on_call" {
			t.Fatalf("events hold a wait_on_call: %s", out)
		}
	}
	out, _, _ = pagerd(t, "simulate", "--config", path, "--at", "2025-09-10T03:00:00Z", "--for", "7h", "severity=critical")
	if strings.Count(out, "waiting for the next person on call") != 1 {
		t.Fatalf("simulate:\n%s\nwant the wait said once", out)
	}
}

// TestCheckConfigSaysWhatItDidNotCheck: a config that pages nobody on
// purpose (a service in shadow mode, a transport with dry_run) or pages
// through a provider check-config cannot reach (it never connects: an
// SMTP host that does not resolve passes) is accepted, and check-config
// says so in a note: before, it answered a plain "ok", and a dry_run left
// on after a trial paged nobody without a word. --strict still passes.
func TestCheckConfigSaysWhatItDidNotCheck(t *testing.T) {
	q, err := os.ReadFile(qstart)
	if err != nil {
		t.Fatal(err)
	}
	email := strings.Replace(string(q), "users:\n", `notifiers:
  email: {smarthost: "smtp.nonexistent.invalid:587", from: pagerd@example.com}
users:
`, 1)
	email = strings.Replace(email, "      - {channel: voice, via: log}\n", "      - {channel: voice, via: log}\n      - {channel: email, address: demo@example.com}\n", 1)
	// A step on it: an email contact no step uses is a warning, which
	// --strict fails on.
	email = strings.Replace(email, "        - {after: 5m, channel: voice}\n", "        - {after: 5m, channel: voice}\n        - {after: 10m, channel: email}\n", 1)
	dir := t.TempDir()
	for name, tc := range map[string]struct{ cfg, want string }{
		"log dry_run": {strings.Replace(string(q), "users:\n", "notifiers: {log: {dry_run: true}}\nusers:\n", 1),
			"note: notifiers.log.dry_run: true, so pages via log (3 contacts) are recorded in the timelines and never sent: nobody is paged through it"},
		"shadow service": {strings.Replace(string(q), "    escalation_policy: demo\n", "    escalation_policy: demo\n    shadow: true\n", 1),
			"note: services[demo].shadow: true, so its pages are recorded in its incidents' timelines and never sent: nobody is paged for it"},
		"email": {email,
			"note: notifiers.email: not tried (1 contact): check-config does not reach the network, so it did not check whether smtp.nonexistent.invalid:587 resolves"},
	} {
		t.Run(name, func(t *testing.T) {
			if tc.cfg == string(q) || (name == "email" && !strings.Contains(tc.cfg, "channel: email")) {
				t.Fatal("the quickstart was not changed: the test tests nothing")
			}
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
			if err := os.WriteFile(path, []byte(tc.cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := pagerd(t, "check-config", "--strict", path)
			if code != 0 || !strings.Contains(out, path+": "+tc.want) {
				t.Errorf("exit %d, want 0 and %q in stdout %q; stderr:\n%s", code, tc.want, out, errOut)
			}
		})
	}
}

// TestRouteWithServerCountsRunTimeOverrides: an override made at run time
// (through the API, kept in the store) putting bob on the office tier
// from 03:30 makes the unresolved rule's page to him, at 03:30, a page to
// someone on call at a level: it ends the wait, as the daemon, which
// pages by the run-time overrides, does. pagerd route --server merges
// them, as pagerd oncall --server does, where route read only the file
// and said the wait goes on.
func TestRouteWithServerCountsRunTimeOverrides(t *testing.T) {
	path := gapWithManagerRule(t)
	srv := bobOnOfficeServer(t, "2025-09-10T03:30:00Z")
	out, errOut, code := pagerd(t, "route", "--config", path, "--server", srv.URL, "--at", "2025-09-10T03:00:00Z", "severity=critical")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if want := "  after 30m         Bob, at 2025-09-10T03:30:00Z (on call at a level: ends the wait)\n"; !strings.Contains(out, want) {
		t.Fatalf("route --server:\n%s\nwant it to say:\n%s", out, want)
	}
	out, errOut, code = pagerd(t, "route", "--config", path, "--server", srv.URL, "--at", "2025-09-10T03:00:00Z", "-o", "json", "severity=critical")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res struct {
		Unresolved []struct {
			EndsWait bool `json:"ends_wait"`
			WaitOver bool `json:"wait_over"`
		} `json:"unresolved"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(res.Unresolved) != 1 || !res.Unresolved[0].EndsWait || res.Unresolved[0].WaitOver {
		t.Fatalf("route --server -o json: %s", out)
	}
}

// TestReadmeCommandsTableNamesEveryFlag: README's Commands table has a row
// for every command `pagerd help` lists, and each row names every flag the
// command's own help lists, so a reader of the table is not left to find a
// flag (--server on oncall and schedule, -o on override) by trying -h.
func TestReadmeCommandsTableNamesEveryFlag(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "\n## Commands\n")
	if i < 0 {
		t.Fatal("README has no Commands section")
	}
	table := readme[i+1:]
	table = table[:strings.Index(table, "\n## ")]
	flagLine := regexp.MustCompile(`^  (?:-\w, )?(-{1,2}[\w-]+)`)
	for name := range helps {
		var rows []string
		for _, line := range strings.Split(table, "\n") {
			if first, _, ok := strings.Cut(strings.TrimPrefix(line, "| "), " |"); ok && strings.Contains(first, "`pagerd "+name) {
				rows = append(rows, line)
			}
		}
		if len(rows) == 0 {
			t.Errorf("README's Commands table has no row for pagerd %s", name)
			continue
		}
		row := strings.Join(rows, "\n")
		out, _, code := pagerd(t, "help", name)
		if code != 0 {
			t.Fatalf("pagerd help %s: exit %d", name, code)
		}
		_, flags, _ := strings.Cut(out, "\nflags:\n")
		for _, line := range strings.Split(flags, "\n") {
			m := flagLine.FindStringSubmatch(line)
			if m == nil || m[1] == "--help" || m[1] == "-h" {
				continue
			}
			if !regexp.MustCompile("(^|[\\s\\[(|`])" + regexp.QuoteMeta(m[1]) + `([\s\]|)]|$)`).MatchString(row) {
				t.Errorf("README's Commands row for pagerd %s does not name %s, which pagerd help %s lists:\n%s", name, m[1], name, row)
			}
		}
	}
}

// TestSimulateWithServerCountsRunTimeOverrides: an override made at run
// time putting bob on the office tier from 03:30 to 04:00, in a night
// nobody is on call for. The daemon, paging by the run-time overrides,
// pages bob as on call at the level when he comes on; pagerd simulate
// --server merges them, as route --server does, where simulate read
// only the file and showed the alert waiting for someone on call.
func TestSimulateWithServerCountsRunTimeOverrides(t *testing.T) {
	path := gapWithManagerRule(t)
	srv := bobOnOfficeServer(t, "2025-09-10T03:10:00Z")
	file, errOut, code := pagerd(t, "simulate", "--config", path, "--at", "2025-09-10T03:00:00Z", "--for", "20m", "severity=critical")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	out, errOut, code := pagerd(t, "simulate", "--config", path, "--server", srv.URL, "--at", "2025-09-10T03:00:00Z", "--for", "20m", "severity=critical")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(file, "Bob") {
		t.Fatalf("simulate without --server pages bob, whom only a run-time override puts on call:\n%s", file)
	}
	for _, want := range []string{"(next look 2025-09-10T03:10:00Z)", "s office held by override ov-1, made by api:ops",
		"+00:10:00  Wed 2025-09-10 03:10:00 UTC  notify        L1 office  Bob (bob)  push"} {
		if !strings.Contains(out, want) {
			t.Fatalf("simulate --server:\n%s\nwant it to say:\n%s", out, want)
		}
	}
}

// bobOnOfficeServer is a pagerd whose API lists one override made at run
// time, bob on schedule s's office tier from start until 04:00 on
// 2025-09-10, to the token "t" (set as $PAGERD_API_TOKEN).
func bobOnOfficeServer(t *testing.T, start string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/schedules/s/overrides" || r.Header.Get("Authorization") != "Bearer t" {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"schedule":"s","overrides":[{"id":"ov-1","schedule":"s","tier":"office","user":"bob",`+
			`"start":"`+start+`","end":"2025-09-10T04:00:00Z","created_by":"api:ops","created_at":"2025-09-10T02:00:00Z"}]}`)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("PAGERD_API_TOKEN", "t")
	return srv
}

// TestCheckConfigLogOnlyBesideProviders: the quickstart's person, whose
// every contact is via log, is a note while everyone is (a demo); in a
// config where another person is paged through a provider, the one a
// tier still pages through the log alone is a warning on stderr (exit 0,
// --strict fails), naming them and the fix, and no longer a note.
func TestCheckConfigLogOnlyBesideProviders(t *testing.T) {
	q, err := os.ReadFile(qstart)
	if err != nil {
		t.Fatal(err)
	}
	mixed := strings.Replace(string(q), "        - {after: 5m, channel: voice}\n",
		"        - {after: 5m, channel: voice}\n  - {id: bob, contacts: [{channel: push, via: ntfy, address: \"https://ntfy.sh/oncall-bob\"}]}\n", 1)
	if mixed == string(q) {
		t.Fatal("the quickstart was not changed: the test tests nothing")
	}
	path := filepath.Join(t.TempDir(), "mixed.yaml")
	if err := os.WriteFile(path, []byte(mixed), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := pagerd(t, "check-config", path)
	want := path + ": warning: users[demo].contacts: every contact is via log, which writes their pages to pagerd's output and sends them nowhere, while other users are paged through ntfy: schedules[demo].tiers[primary] pages demo, who is woken by nothing; give them a contact that reaches them (via ntfy, as the others have), or take them out of schedules[demo].tiers[primary]"
	if code != 0 || !strings.Contains(errOut, want) || !strings.Contains(out, "1 warning(s)") || strings.Contains(out, "note: user demo") {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant the warning %q", code, out, errOut, want)
	}
	if _, _, code := pagerd(t, "check-config", "--strict", path); code != 1 {
		t.Errorf("--strict: exit %d, want 1", code)
	}
	out, errOut, code = pagerd(t, "check-config", "--strict", qstart)
	if code != 0 || errOut != "" || !strings.Contains(out, qstart+": note: user demo: every contact is via log") {
		t.Errorf("the quickstart: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
