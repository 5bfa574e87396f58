package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// The tests in this file break configs on purpose and check that the loader
// says where and what: every problem names the config FILE, the FIELD (as a
// path like escalation_policies[aion-r].levels[primary].targets[0].schedule,
// or a line number for problems found while decoding YAML) and the PROBLEM.
//
// Broken configs are made by small textual edits of the example configs in
// ../configs (each edit must apply, so a test cannot pass because the example
// changed under it) or by the small files in testdata/broken.

// loadExampleText reads an example config from ../configs.
func loadExampleText(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "configs", name))
	if err != nil {
		t.Fatalf("read example config: %v", err)
	}
	return string(b)
}

// loadEdit applies old→new replacement pairs to text, each to the first
// occurrence only, and fails the test if an old string is not there.
func loadEdit(t testing.TB, text string, pairs ...string) string {
	t.Helper()
	if len(pairs)%2 != 0 {
		t.Fatalf("loadEdit: odd number of strings (%d)", len(pairs))
	}
	for i := 0; i < len(pairs); i += 2 {
		old, repl := pairs[i], pairs[i+1]
		if !strings.Contains(text, old) {
			t.Fatalf("loadEdit: the config does not contain %q; the example changed, update the test", old)
		}
		text = strings.Replace(text, old, repl, 1)
	}
	return text
}

// loadLineOf is the 1-based line number of the first line containing s.
func loadLineOf(t testing.TB, text, s string) int {
	t.Helper()
	i := strings.Index(text, s)
	if i < 0 {
		t.Fatalf("loadLineOf: %q is not in the config", s)
	}
	return strings.Count(text[:i], "\n") + 1
}

// loadConfigError asserts err is a *ConfigError for file whose every line
// starts with the file name, and returns it.
func loadConfigError(t testing.TB, err error, file string) *ConfigError {
	t.Helper()
	if err == nil {
		t.Fatalf("config loaded without error, want a *ConfigError")
	}
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("error is %T, want *ConfigError: %v", err, err)
	}
	if ce.File != file {
		t.Errorf("ConfigError.File = %q, want %q", ce.File, file)
	}
	if len(ce.Problems) == 0 {
		t.Errorf("ConfigError has no problems")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(ce.Problems) {
		t.Errorf("error has %d lines for %d problems:\n%v", len(lines), len(ce.Problems), err)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, file+": ") {
			t.Errorf("error line does not start with the file name %q: %q", file+": ", l)
		}
	}
	return ce
}

// loadProblem is the first problem of ce containing every one of want, or "".
func loadProblem(ce *ConfigError, want ...string) string {
	for _, p := range ce.Problems {
		ok := true
		for _, w := range want {
			if !strings.Contains(p, w) {
				ok = false
				break
			}
		}
		if ok {
			return p
		}
	}
	return ""
}

// loadCase is one broken config and what its error must say.
type loadCase struct {
	name string
	// base is the example config edited ("quickstart.yaml", "aion-r.yaml");
	// edits are old, new pairs applied to it in order.
	base  string
	edits []string
	// afterKeys is inserted into quickstart.yaml after its service's
	// integration keys: more fields of that service, or more services.
	afterKeys string
	// append is added at the end of the edited text.
	append string
	// text, when set, is the whole config instead of base, edits and append.
	text string

	// field is the field path the problem must name.
	field string
	// lineOf, when set, is a string whose line the problem must name as
	// "line N:".
	lineOf string
	// fieldOrLine accepts a problem naming either field or the line of lineOf.
	fieldOrLine bool
	// problem are words that describe the problem; all must appear in the
	// same problem line as the field.
	problem []string
}

// loadCheckCase runs one loadCase against the config text.
func loadCheckCase(t *testing.T, c loadCase, text, file string, err error) {
	t.Helper()
	ce := loadConfigError(t, err, file)
	if ce == nil {
		return
	}
	var locators [][]string
	line := ""
	if c.lineOf != "" {
		line = fmt.Sprintf("line %d:", loadLineOf(t, text, c.lineOf))
	}
	switch {
	case c.fieldOrLine:
		locators = [][]string{{c.field}, {line}}
	case c.field != "" && line != "":
		locators = [][]string{{c.field, line}}
	case c.field != "":
		locators = [][]string{{c.field}}
	case line != "":
		locators = [][]string{{line}}
	default:
		locators = [][]string{nil}
	}
	for _, loc := range locators {
		if loadProblem(ce, append(append([]string(nil), loc...), c.problem...)...) != "" {
			return
		}
	}
	want := fmt.Sprintf("field %q", c.field)
	switch {
	case c.fieldOrLine:
		want = fmt.Sprintf("field %q or %q", c.field, line)
	case line != "" && c.field != "":
		want += fmt.Sprintf(" and %q", line)
	case line != "":
		want = fmt.Sprintf("%q", line)
	case c.field == "":
		want = "no field"
	}
	t.Errorf("no problem names %s with %q; got:\n%v", want, c.problem, err)
}

// quickstart.yaml fragments the cases edit.
const (
	loadQContacts = "    contacts:\n      - {channel: push, via: log}\n      - {channel: sms, via: log}\n      - {channel: voice, via: log}\n"
	loadQMembers  = "        members: [demo]\n"
	loadQTarget   = "          - {schedule: demo, tier: primary}\n"
	loadQTimeout  = "        timeout: 15m\n"
	loadQPolicy   = "    escalation_policy: demo\n"
	loadQOGKey    = "      opsgenie_key: demo0000000000000000000000000000\n"
	loadQAMKey    = "      alertmanager_key: demo0000000000000000000000000000\n"
	loadQKeys     = loadQAMKey + "      pagerduty_routing_key: demo0000000000000000000000000000\n"
	// loadQRules starts a rules list; cases insert it after the integration
	// keys of quickstart's only service (afterKeys).
	loadQRules = "    rules:\n"
)

// aion-r.yaml fragments the cases edit.
const (
	loadATimeouts  = "        timeouts: {SEV-1: 10m, SEV-2: 20m, SEV-3: 1h, SEV-4: next_business_day}\n"
	loadAPrimaryT  = "          - {schedule: aion-r-oncall, tier: primary}\n"
	loadASecondary = "          - {schedule: aion-r-oncall, tier: secondary}\n"
	loadAUserTZ    = "    title: Platform Engineer\n    time_zone: UTC\n"
	loadASev1      = "      SEV-1:\n        urgency: high\n        acknowledge: 5m\n"
)

// loadOverrides adds overrides to quickstart's schedule.
func loadOverrides(lines ...string) []string {
	return []string{loadQMembers, loadQMembers + "    overrides:\n" + strings.Join(lines, "")}
}

// loadSecondService is a second quickstart service with the given keys.
func loadSecondService(name, keys string) string {
	return "  - name: " + name + "\n    escalation_policy: demo\n    integrations:\n" + keys
}

func loadCases() []loadCase {
	return []loadCase{
		// Unknown keys, found while decoding: named with their line.
		{
			name: "unknown key at top level", base: "quickstart.yaml",
			edits:  []string{"api:\n", "bogus_top: 1\napi:\n"},
			lineOf: "bogus_top: 1", problem: []string{`unknown field "bogus_top"`, "top level"},
		},
		{
			name: "unknown key in user", base: "quickstart.yaml",
			edits:  []string{"    name: Demo User\n", "    name: Demo User\n    pager_color: red\n"},
			lineOf: "pager_color: red", problem: []string{`unknown field "pager_color"`, "user"},
		},
		{
			name: "unknown key in level", base: "quickstart.yaml",
			edits:  []string{loadQTimeout, loadQTimeout + "        escalate_after: 5m\n"},
			lineOf: "escalate_after: 5m", problem: []string{`unknown field "escalate_after"`, "level"},
		},
		{
			name: "unknown key in flow-style contact", base: "quickstart.yaml",
			edits:  []string{"{channel: sms, via: log}", "{channel: sms, via: log, phone: x}"},
			lineOf: "phone: x", problem: []string{`unknown field "phone"`, "contact"},
		},
		{
			name: "misspelled key in priority targets", base: "aion-r.yaml",
			edits:  []string{"        acknowledge: 5m\n", "        acknowlege: 5m\n"},
			lineOf: "acknowlege: 5m", problem: []string{`unknown field "acknowlege"`},
		},
		{
			name: "misspelled key in schedule", base: "aion-r.yaml",
			edits:  []string{"  - name: aion-r-oncall\n    time_zone: UTC\n", "  - name: aion-r-oncall\n    timezone: UTC\n"},
			lineOf: "timezone: UTC", problem: []string{`unknown field "timezone"`, "schedule"},
		},
		{
			name: "unknown key with a space", base: "quickstart.yaml",
			edits:  []string{"    name: Demo User\n", "    name: Demo User\n    pager color: red\n"},
			lineOf: "pager color: red", problem: []string{`unknown field "pager color"`, "user"},
		},
		{
			// A problem is one line: Error() prefixes every line with the file.
			name: "unknown key with a newline", base: "quickstart.yaml",
			edits:  []string{"    name: Demo User\n", "    name: Demo User\n    \"pager\\ncolor\": red\n"},
			lineOf: "pager\\ncolor", problem: []string{`unknown field "pager\ncolor"`, "user"},
		},
		{
			name: "unknown key in service", base: "quickstart.yaml",
			edits:  []string{loadQPolicy, loadQPolicy + "    escalation: demo\n"},
			lineOf: "escalation: demo", problem: []string{`unknown field "escalation"`, "service"},
		},

		// References to things that are not defined.
		{
			name: "level names a missing schedule", base: "aion-r.yaml",
			edits: []string{loadAPrimaryT, "          - {schedule: aion-r-on-call, tier: primary}\n"},
			field: "escalation_policies[aion-r].levels[primary].targets[0].schedule", problem: []string{`no schedule "aion-r-on-call"`},
		},
		{
			name: "level names a missing tier", base: "aion-r.yaml",
			edits: []string{loadASecondary, "          - {schedule: aion-r-oncall, tier: secundary}\n"},
			field: "escalation_policies[aion-r].levels[secondary].targets[0].tier", problem: []string{`no tier "secundary"`},
		},
		{
			name: "level names a missing user", base: "quickstart.yaml",
			edits: []string{loadQTarget, "          - {user: ghost}\n"},
			field: "escalation_policies[demo].levels[primary].targets[0].user", problem: []string{`no user "ghost"`},
		},
		{
			name: "level target is both user and tier", base: "quickstart.yaml",
			edits: []string{loadQTarget, "          - {schedule: demo, tier: primary, user: demo}\n"},
			field: "escalation_policies[demo].levels[primary].targets[0]", problem: []string{"exactly one"},
		},
		{
			name: "level target is a level", base: "quickstart.yaml",
			edits: []string{loadQTarget, "          - {level: primary}\n"},
			field: "escalation_policies[demo].levels[primary].targets[0].level", problem: []string{"only in unresolved"},
		},
		{
			name: "unresolved rule names a missing level", base: "aion-r.yaml",
			edits: []string{"          - {level: secondary}\n", "          - {level: secundary}\n"},
			field: "escalation_policies[aion-r].unresolved[0].notify[0].level", problem: []string{`no level "secundary"`},
		},
		{
			name: "tier names a missing user", base: "quickstart.yaml",
			edits: []string{loadQMembers, "        members: [demo, ghost]\n"},
			field: "schedules[demo].tiers[primary].members[1]", problem: []string{`no user "ghost"`},
		},
		{
			name: "override names a missing user", base: "quickstart.yaml",
			edits: loadOverrides("      - {from: 2025-09-01, until: 2025-09-02, tiers: {primary: ghost}}\n"),
			field: "schedules[demo].overrides[0].tiers.primary", problem: []string{`no user "ghost"`},
		},
		{
			name: "override names a missing tier", base: "quickstart.yaml",
			edits: loadOverrides("      - {from: 2025-09-01, until: 2025-09-02, tiers: {secondary: demo}}\n"),
			field: "schedules[demo].overrides[0].tiers.secondary", problem: []string{`no tier "secondary"`},
		},
		{
			name: "service names a missing escalation policy", base: "quickstart.yaml",
			edits: []string{loadQPolicy, "    escalation_policy: dmeo\n"},
			field: "services[demo].escalation_policy", problem: []string{`no escalation policy "dmeo"`},
		},
		{
			name: "service without escalation policy", base: "quickstart.yaml",
			edits: []string{loadQPolicy, ""},
			field: "services[demo].escalation_policy", problem: []string{"required"},
		},
		{
			name: "service names a missing calendar", base: "aion-r.yaml",
			edits: []string{"    business_hours: aion-r-office\n", "    business_hours: aion-r-ofice\n"},
			field: "services[aion-r-platform].business_hours", problem: []string{`no business_hours calendar "aion-r-ofice"`},
		},
		{
			name: "rule pages a missing level", base: "quickstart.yaml",
			afterKeys: loadQRules + "      - {name: r, matchers: [team=db], priority: P0, page_immediately: [executives]}\n",
			field:     "services[demo].rules[0].page_immediately[0]", problem: []string{`no level "executives"`},
		},

		// Matchers.
		{
			name: "matcher with a bad regexp", base: "quickstart.yaml",
			afterKeys: loadQRules + "      - name: bad\n        matchers: ['severity=~\"((\"']\n        priority: P0\n",
			field:     "services[demo].rules[0].matchers[0]", problem: []string{"bad matcher", `severity=~`, "missing closing )"},
		},
		{
			name: "matcher without label name", base: "quickstart.yaml",
			afterKeys: loadQRules + "      - name: ok\n        matchers: [severity=critical]\n        priority: P0\n      - name: bad\n        matchers: [team=db, \"=foo\"]\n        priority: P1\n",
			field:     "services[demo].rules[1].matchers[1]", problem: []string{"bad matcher", `"=foo"`},
		},
		{
			// Rules are tried in order and the first match wins: a rule
			// whose every matcher an earlier rule also has is never
			// reached (AIVO's executive trigger below the severity rule
			// would never page the executives at once).
			name: "rule shadowed by an earlier one", base: "quickstart.yaml",
			afterKeys: loadQRules + "      - {name: critical, matchers: [severity=critical], priority: P0}\n" +
				"      - {name: breach, matchers: ['{severity=\"critical\", category=\"security_breach\"}'], priority: P0, page_immediately: [primary]}\n",
			field: "services[demo].rules[1]", problem: []string{"never matches", `rules[0] ("critical")`, `severity="critical"`, "move it above"},
		},
		{
			name: "unnamed rule shadowed by an earlier one", base: "quickstart.yaml",
			afterKeys: loadQRules + "      - {matchers: [team=db, 'env=~\"prod.*\"'], priority: P1}\n" +
				"      - {matchers: ['env=~\"prod.*\"', team=db, tier=1], priority: P0}\n",
			field: "services[demo].rules[1]", problem: []string{"never matches", "rules[0]"},
		},
		{
			name: "matcher without operator", base: "quickstart.yaml",
			afterKeys: loadQRules + "      - {matchers: [database], priority: P1}\n",
			field:     "services[demo].rules[0].matchers[0]", problem: []string{"bad matcher", `"database"`},
		},
		{
			name: "rule without matchers", base: "quickstart.yaml",
			afterKeys: loadQRules + "      - {name: everything, priority: P1}\n",
			field:     "services[demo].rules[0].matchers", problem: []string{"at least one matcher"},
		},

		// Overlapping overrides of one tier.
		{
			name: "overlapping date overrides", base: "quickstart.yaml",
			edits: loadOverrides(
				"      - {reason: Labor Day, from: 2025-08-30, until: 2025-09-02, tiers: {primary: demo}}\n",
				"      - {reason: swap, from: 2025-09-02, until: 2025-09-05, tiers: {primary: demo}}\n"),
			field: "schedules[demo].overrides[1]", problem: []string{"overlaps overrides[0]", `tier "primary"`, "2025-08-30", "2025-09-02"},
		},
		{
			name: "overlapping instant overrides", base: "quickstart.yaml",
			edits: loadOverrides(
				"      - {from: 2025-09-01T09:00:00Z, until: 2025-09-02T09:00:00Z, tiers: {primary: demo}}\n",
				"      - {from: 2025-09-02T08:59:00Z, until: 2025-09-03T09:00:00Z, tiers: {primary: demo}}\n"),
			field: "schedules[demo].overrides[1]", problem: []string{"overlaps overrides[0]", "2025-09-01T09:00:00Z"},
		},
		{
			// An import writes a piece of a vendor's override inside one
			// second to the nanosecond: its bounds are named as written.
			name: "overlapping overrides within one second", base: "quickstart.yaml",
			edits: loadOverrides(
				"      - {from: 2025-09-01T09:00:00.25Z, until: 2025-09-01T09:00:00.75Z, tiers: {primary: demo}}\n",
				"      - {from: 2025-09-01T09:00:00.5Z, until: 2025-09-01T10:00:00Z, tiers: {primary: demo}}\n"),
			field: "schedules[demo].overrides[1]", problem: []string{"overlaps overrides[0]", "2025-09-01T09:00:00.25Z to 2025-09-01T09:00:00.75Z"},
		},
		{
			name: "instant override overlapping a whole-day override", base: "quickstart.yaml",
			edits: loadOverrides(
				"      - {from: 2025-09-01, until: 2025-09-02, tiers: {primary: demo}}\n",
				"      - {from: 2025-09-02T23:00:00Z, until: 2025-09-03T09:00:00Z, tiers: {primary: demo}}\n"),
			field: "schedules[demo].overrides[1]", problem: []string{"overlaps overrides[0]"},
		},
		{
			name: "override contained in another", base: "quickstart.yaml",
			edits: loadOverrides(
				"      - {from: 2025-09-01, until: 2025-09-30, tiers: {primary: demo}}\n",
				"      - {from: 2025-10-01, until: 2025-10-02, tiers: {primary: demo}}\n",
				"      - {from: 2025-09-10T00:00:00+02:00, until: 2025-09-11T00:00:00+02:00, tiers: {primary: demo}}\n"),
			field: "schedules[demo].overrides[2]", problem: []string{"overlaps overrides[0]"},
		},
		{
			name: "override ending before it starts", base: "quickstart.yaml",
			edits: loadOverrides("      - {from: 2025-09-03, until: 2025-09-02, tiers: {primary: demo}}\n"),
			field: "schedules[demo].overrides[0].until", problem: []string{"not after"},
		},
		{
			name: "override with a bad time", base: "quickstart.yaml",
			edits: loadOverrides("      - {from: 2025-09-03, until: \"2025-09-04 12:00\", tiers: {primary: demo}}\n"),
			field: "schedules[demo].overrides[0].until", lineOf: "2025-09-04 12:00", fieldOrLine: true,
			problem: []string{"invalid time", "2025-09-04 12:00"},
		},

		// Priorities that are not in the service's scheme.
		{
			name: "unknown priority in rule", base: "quickstart.yaml",
			afterKeys: loadQRules + "      - {name: db, matchers: [team=db], priority: SEV-1}\n",
			field:     "services[demo].rules[0].priority", problem: []string{`priority "SEV-1" is not in scheme P0-P3`},
		},
		{
			name: "unknown priority in level timeouts", base: "aion-r.yaml",
			edits: []string{loadATimeouts, "        timeouts: {SEV-1: 10m, SEV-2: 20m, SEV-3: 1h, SEV-4: next_business_day, SEV-5: 1d}\n"},
			field: "escalation_policies[aion-r].levels[primary].timeouts.SEV-5", problem: []string{`priority "SEV-5" is not in scheme`},
		},
		{
			name: "unknown priority in targets", base: "aion-r.yaml",
			edits: []string{"      SEV-4:\n", "      P3:\n"},
			field: "services[aion-r-platform].targets.P3", problem: []string{`priority "P3" is not in scheme SEV-1-4`},
		},
		{
			name: "unknown priority in severities", base: "quickstart.yaml",
			edits: []string{loadQPolicy, loadQPolicy + "    severities: {critical: P0, page: P00}\n"},
			field: "services[demo].severities.page", problem: []string{`priority "P00" is not in scheme`},
		},
		{
			name: "unknown priority in unresolved rule", base: "aion-r.yaml",
			edits: []string{"      - priorities: [SEV-3]\n", "      - priorities: [SEV-3, SEV-33]\n"},
			field: "escalation_policies[aion-r].unresolved[2].priorities", problem: []string{`priority "SEV-33" is not in scheme`},
		},
		{
			name: "unknown priority in missing_status_update", base: "aion-r.yaml",
			edits: []string{"    missing_status_update:\n      - priorities: [SEV-1, SEV-2]\n", "    missing_status_update:\n      - priorities: [SEV-1, P1]\n"},
			field: "escalation_policies[aion-r].missing_status_update[0].priorities", problem: []string{`priority "P1" is not in scheme`},
		},
		{
			name: "unknown default priority", base: "quickstart.yaml",
			edits: []string{loadQPolicy, loadQPolicy + "    default_priority: SEV-2\n"},
			field: "services[demo].default_priority", problem: []string{`priority "SEV-2" is not in scheme`},
		},
		{
			name: "unknown priority scheme", base: "quickstart.yaml",
			edits: []string{"priority_scheme: P0-P3", "priority_scheme: P1-P4"},
			field: "services[demo].priority_scheme", problem: []string{`unknown priority scheme "P1-P4"`},
		},

		// Schedules.
		{
			name: "tier start not on the handoff weekday", base: "quickstart.yaml",
			edits: []string{"start: 2025-01-06", "start: 2025-01-07"},
			field: "schedules[demo].tiers[primary].start", problem: []string{"2025-01-07 is a Tuesday", "Monday"},
		},
		{
			name: "handoff weekday not the tiers' start weekday", base: "aion-r.yaml",
			edits: []string{"handoff: {weekday: monday,", "handoff: {weekday: sunday,"},
			field: "schedules[aion-r-oncall].tiers[tertiary].start", problem: []string{"is a Monday", "Sunday"},
		},
		{
			name: "tier without start", base: "quickstart.yaml",
			edits: []string{"        start: 2025-01-06 # a Monday: the first member's first week\n", ""},
			field: "schedules[demo].tiers[primary].start", problem: []string{"start is required"},
		},
		{
			name: "tier without members", base: "quickstart.yaml",
			edits: []string{loadQMembers, "        members: []\n"},
			field: "schedules[demo].tiers[primary].members", problem: []string{"at least one member"},
		},
		{
			name: "negative shift weeks", base: "aion-r.yaml",
			edits: []string{"shift_weeks: 2", "shift_weeks: -2"},
			field: "schedules[aion-r-oncall].tiers[tertiary].shift_weeks", problem: []string{"from 1 to 104"},
		},
		{
			name: "schedule without handoff time", base: "quickstart.yaml",
			edits: []string{`handoff: {weekday: monday, time: "00:00"}`, `handoff: {weekday: monday}`},
			field: "schedules[demo].handoff.time", problem: []string{"handoff time is required"},
		},
		{
			name: "bad handoff time", base: "quickstart.yaml",
			edits: []string{`handoff: {weekday: monday, time: "00:00"}`, `handoff: {weekday: monday, time: "25:00"}`},
			field: "schedules[demo].handoff.time", lineOf: `time: "25:00"`, fieldOrLine: true,
			problem: []string{"invalid time of day", "25:00"},
		},
		{
			name: "bad handoff weekday", base: "quickstart.yaml",
			edits: []string{`handoff: {weekday: monday,`, `handoff: {weekday: mondays,`},
			field: "schedules[demo].handoff.weekday", lineOf: "weekday: mondays", fieldOrLine: true,
			problem: []string{"invalid weekday", "mondays"},
		},
		{
			name: "bad tier start date", base: "quickstart.yaml",
			edits: []string{"start: 2025-01-06", "start: 2025-13-06"},
			field: "schedules[demo].tiers[primary].start", lineOf: "start: 2025-13-06", fieldOrLine: true,
			problem: []string{"invalid date", "2025-13-06"},
		},

		// Durations and timeouts.
		{
			name: "bad level timeout", base: "quickstart.yaml",
			edits: []string{loadQTimeout, "        timeout: 15minutes\n"},
			field: "escalation_policies[demo].levels[primary].timeout", lineOf: "timeout: 15minutes", fieldOrLine: true,
			problem: []string{"invalid timeout", "15minutes"},
		},
		{
			name: "bad level timeout per priority", base: "aion-r.yaml",
			edits: []string{loadATimeouts, "        timeouts: {SEV-1: 10m, SEV-2: 20m, SEV-3: 1h, SEV-4: next business day}\n"},
			field: "escalation_policies[aion-r].levels[primary].timeouts.SEV-4", lineOf: "SEV-4: next business day", fieldOrLine: true,
			problem: []string{"invalid timeout", "next business day"},
		},
		{
			name: "bad notification step delay", base: "quickstart.yaml",
			edits: []string{"{after: 2m, channel: sms}", "{after: 2 minutes, channel: sms}"},
			field: "users[demo].notification_rules.high[1].after", lineOf: "after: 2 minutes", fieldOrLine: true,
			problem: []string{"invalid duration", "2 minutes"},
		},
		{
			name: "bad unresolved delay", base: "aion-r.yaml",
			edits: []string{"        after: 1h\n", "        after: 1 hour\n"},
			field: "escalation_policies[aion-r].unresolved[0].after", lineOf: "after: 1 hour", fieldOrLine: true,
			problem: []string{"invalid duration", "1 hour"},
		},
		{
			name: "bad acknowledge target", base: "aion-r.yaml",
			edits: []string{"        acknowledge: 5m\n", "        acknowledge: 5\n"},
			field: "services[aion-r-platform].targets.SEV-1.acknowledge", lineOf: "acknowledge: 5\n", fieldOrLine: true,
			problem: []string{"invalid timeout", `"5"`},
		},
		{
			name: "zero level timeout", base: "quickstart.yaml",
			edits: []string{loadQTimeout, "        timeout: 0s\n"},
			field: "escalation_policies[demo].levels[primary].timeout", problem: []string{"more than zero"},
		},
		{
			name: "zero unresolved delay", base: "aion-r.yaml",
			edits: []string{"        after: 1h\n", "        after: 0s\n"},
			field: "escalation_policies[aion-r].unresolved[0].after", problem: []string{"more than zero"},
		},
		{
			name: "zero missing_status_update delay", base: "aion-r.yaml",
			edits: []string{"        after: 30m\n", "        after: 0s\n"},
			field: "escalation_policies[aion-r].missing_status_update[0].after", problem: []string{"more than zero"},
		},
		{
			name: "zero acknowledge target", base: "aion-r.yaml",
			edits: []string{"        acknowledge: 10m\n", "        acknowledge: 0s\n"},
			field: "services[aion-r-platform].targets.SEV-2.acknowledge", problem: []string{"more than zero"},
		},
		{
			name: "ack_target used in targets", base: "aion-r.yaml",
			edits: []string{loadASev1, "      SEV-1:\n        urgency: high\n        acknowledge: ack_target\n"},
			field: "services[aion-r-platform].targets.SEV-1.acknowledge", problem: []string{"ack_target is for escalation level timeouts only"},
		},
		{
			name: "ack_target used in an off-hours variant", base: "aion-r.yaml",
			edits: []string{loadASev1, loadASev1 + "        off_hours: {resolution: ack_target}\n"},
			field: "services[aion-r-platform].targets.SEV-1.off_hours.resolution", problem: []string{"ack_target"},
		},
		{
			name: "ack_target level timeout without acknowledge target", base: "quickstart.yaml",
			edits: []string{loadQTimeout, "        timeout: ack_target\n"},
			field: "escalation_policies[demo].levels[primary].timeouts.P0", problem: []string{"ack_target", `service "demo"`, "no acknowledge target for P0"},
		},
		{
			name: "unknown urgency", base: "aion-r.yaml",
			edits: []string{loadASev1, "      SEV-1:\n        urgency: urgent\n        acknowledge: 5m\n"},
			field: "services[aion-r-platform].targets.SEV-1.urgency", problem: []string{`unknown urgency "urgent"`},
		},
		{
			name: "missing timeout on a non-final level", base: "aion-r.yaml",
			edits: []string{loadATimeouts, ""},
			field: "escalation_policies[aion-r].levels[primary].timeout", problem: []string{"no timeout for SEV-1", `service "aion-r-platform"`},
		},
		{
			name: "missing timeout for one priority", base: "aion-r.yaml",
			edits: []string{loadATimeouts, "        timeouts: {SEV-1: 10m, SEV-2: 20m, SEV-3: 1h}\n"},
			field: "escalation_policies[aion-r].levels[primary].timeout", problem: []string{"no timeout for SEV-4", "timeouts.SEV-4"},
		},
		{
			name: "missing timeout on a repeated final level", base: "quickstart.yaml",
			edits: []string{loadQTimeout, ""},
			field: "escalation_policies[demo].levels[primary].timeout", problem: []string{"no timeout for P0"},
		},
		{
			name: "negative repeat", base: "quickstart.yaml",
			edits: []string{"    repeat: 3\n", "    repeat: -1\n"},
			field: "escalation_policies[demo].repeat", problem: []string{"negative"},
		},
		{
			name: "policy without levels", base: "quickstart.yaml",
			edits: []string{"    levels:\n      - name: primary\n        targets:\n" + loadQTarget + loadQTimeout, "    levels: []\n"},
			field: "escalation_policies[demo].levels", problem: []string{"at least one level"},
		},
		{
			name: "level without targets", base: "quickstart.yaml",
			edits: []string{"        targets:\n" + loadQTarget, "        targets: []\n"},
			field: "escalation_policies[demo].levels[primary].targets", problem: []string{"at least one target"},
		},

		// Time zones.
		{
			name: "bad schedule time zone", base: "quickstart.yaml",
			edits: []string{"    time_zone: UTC\n", "    time_zone: Mars/Olympus_Mons\n"},
			field: "schedules[demo].time_zone", problem: []string{`unknown time zone "Mars/Olympus_Mons"`},
		},
		{
			name: "bad user time zone", base: "aion-r.yaml",
			edits: []string{loadAUserTZ, "    title: Platform Engineer\n    time_zone: EST5EDT-ish\n"},
			field: "users[eng-a].time_zone", problem: []string{`unknown time zone "EST5EDT-ish"`},
		},
		{
			name: "EST ignores daylight saving time", base: "aion-r.yaml",
			edits: []string{loadAUserTZ, "    title: Platform Engineer\n    time_zone: EST\n"},
			field: "users[eng-a].time_zone", problem: []string{`"EST" is a fixed offset that ignores daylight saving time`, "America/New_York"},
		},
		{
			name: "MST ignores daylight saving time", base: "aion-r.yaml",
			edits: []string{"  - name: aion-r-oncall\n    time_zone: UTC\n", "  - name: aion-r-oncall\n    time_zone: MST\n"},
			field: "schedules[aion-r-oncall].time_zone", problem: []string{`"MST" is a fixed offset`, "America/Denver"},
		},
		{
			name: "HST is refused like PST", base: "aion-r.yaml",
			edits: []string{"  - name: aion-r-office\n    time_zone: UTC\n", "  - name: aion-r-office\n    time_zone: HST\n"},
			field: "business_hours[aion-r-office].time_zone", problem: []string{`"HST" is a fixed offset`, "Pacific/Honolulu"},
		},
		{
			name: "Local is the machine's zone", base: "aion-r.yaml",
			edits: []string{"  - name: aion-r-oncall\n    time_zone: UTC\n", "  - name: aion-r-oncall\n    time_zone: Local\n"},
			field: "schedules[aion-r-oncall].time_zone", problem: []string{`"Local" is the zone of the machine pagerd runs on`, "Europe/Rome"},
		},
		{
			name: "PST is not a time zone", base: "aion-r.yaml",
			edits: []string{loadAUserTZ, "    title: Platform Engineer\n    time_zone: PST\n"},
			field: "users[eng-a].time_zone", problem: []string{`unknown time zone "PST"`},
		},

		// Transports: a config that loads can page every contact it names.
		{
			// url.Parse takes any digits as a port: every page to it
			// failed with "invalid port" before it was sent.
			name: "webhook URL with a port no connection can have", base: "quickstart.yaml",
			edits: []string{"{channel: push, via: log}", `{channel: push, via: webhook, address: "https://hooks.example.com:70000/page"}`},
			field: "users[demo].contacts[0].address", problem: []string{"port 70000", "1 to 65535", "every page"},
		},
		{
			name: "ntfy URL with port 0", base: "quickstart.yaml",
			edits: []string{"{channel: push, via: log}", `{channel: push, via: ntfy, address: "https://ntfy.example.com:0/oncall"}`},
			field: "users[demo].contacts[0].address", problem: []string{"port 0", "1 to 65535"},
		},
		{
			name: "smarthost with a port no connection can have", base: "quickstart.yaml",
			edits: []string{"api:\n", "notifiers:\n  email: {smarthost: \"smtp.example.com:99999\", from: pagerd@example.com}\napi:\n",
				"{channel: voice, via: log}\n", "{channel: voice, via: log}\n      - {channel: email, address: \"demo@example.com\"}\n"},
			field: "notifiers.email.smarthost", problem: []string{"port 99999", "1 to 65535"},
		},
		{
			// pagerd appends its paths to public_url as text: after a
			// query or a fragment they were part of it, and every ack
			// link, call script and Pushover callback reached the root.
			name: "public URL with a query", base: "quickstart.yaml",
			edits: []string{"public_url: http://127.0.0.1:8080", "public_url: \"https://pagerd.example.com/?team=sre\""},
			field: "server.public_url", problem: []string{"has a query or a fragment", "<public_url>/ack/<token>", "remove it"},
		},
		{
			name: "public URL with an empty query", base: "quickstart.yaml",
			edits: []string{"public_url: http://127.0.0.1:8080", "public_url: \"https://pagerd.example.com/pagerd?\""},
			field: "server.public_url", problem: []string{"has a query or a fragment"},
		},
		{
			name: "public URL with a fragment", base: "quickstart.yaml",
			edits: []string{"public_url: http://127.0.0.1:8080", "public_url: \"https://pagerd.example.com/#pagerd\""},
			field: "server.public_url", problem: []string{"has a query or a fragment", "Twilio call script"},
		},
		{
			name: "public URL with a port no connection can have", base: "quickstart.yaml",
			edits: []string{"public_url: http://127.0.0.1:8080", "public_url: https://pagerd.example.com:65536"},
			field: "server.public_url", problem: []string{"port 65536", "1 to 65535"},
		},
		{
			name: "provider URL with a port no connection can have", base: "quickstart.yaml",
			edits: []string{"api:\n", "notifiers:\n  pagerduty: {events_url: \"https://events.example.com:123456/v2/enqueue\"}\napi:\n"},
			field: "notifiers.pagerduty.events_url", problem: []string{"port 123456", "1 to 65535"},
		},
		{
			name: "sms via twilio without notifiers.twilio", base: "quickstart.yaml",
			edits: []string{"{channel: sms, via: log}", `{channel: sms, via: twilio, address: "+15555550123"}`},
			field: "users[demo].contacts[1].via", problem: []string{"notifiers.twilio is not configured", "would fail"},
		},
		{
			name: "every contact on an unconfigured transport is counted", base: "aion-r.yaml",
			edits: []string{"  twilio:\n    account_sid: ${AION_R_TWILIO_ACCOUNT_SID}\n    auth_token: ${AION_R_TWILIO_AUTH_TOKEN}\n    from: ${AION_R_TWILIO_FROM}\n", ""},
			field: "users[eng-a].contacts[1].via", problem: []string{"notifiers.twilio is not configured", "and 23 more contacts"},
		},
		{
			name: "push via pagerduty without the webhook secret", base: "aion-r.yaml",
			edits: []string{"  pagerduty:\n    webhook_secret: ${AION_R_PAGERDUTY_WEBHOOK_SECRET}\n", ""},
			field: "users[eng-a].contacts[0].via", problem: []string{"notifiers.pagerduty.webhook_secret is not set", "PagerDuty app", "and 11 more contacts"},
		},
		{
			name: "voice via twilio without a public URL", base: "aion-r.yaml",
			edits: []string{"  public_url: https://pagerd.aion.com\n", ""},
			field: "users[eng-a].contacts[2].via", problem: []string{"voice via twilio needs server.public_url"},
		},
		{
			name: "twilio without its auth token", base: "aion-r.yaml",
			edits: []string{"    auth_token: ${AION_R_TWILIO_AUTH_TOKEN}\n", ""},
			field: "notifiers.twilio", problem: []string{"account_sid, auth_token (or auth_token_file) and from go together"},
		},
		{
			name: "twilio auth token that Twilio would refuse", base: "aion-r.yaml",
			edits: []string{"auth_token: ${AION_R_TWILIO_AUTH_TOKEN}", "auth_token: twilio-token-change-me"},
			field: "notifiers.twilio.auth_token", problem: []string{"is not a Twilio auth token", "32 hexadecimal characters"},
		},
		{
			name: "twilio auth token one character short", base: "aion-r.yaml",
			edits: []string{"auth_token: ${AION_R_TWILIO_AUTH_TOKEN}", "auth_token: 0123456789abcdef0123456789abcde"},
			field: "notifiers.twilio.auth_token", problem: []string{"is not a Twilio auth token", "31 characters"},
		},
		{
			// A rotation half done: the new token was never pasted in,
			// and callbacks signed with the new one, once promoted,
			// would be refused.
			name: "twilio previous auth token that is the auth token", base: "aion-r.yaml",
			edits: []string{"auth_token: ${AION_R_TWILIO_AUTH_TOKEN}", "auth_token: 0123456789ABCDEF0123456789abcdef\n    previous_auth_token: 0123456789abcdef0123456789abcdef"},
			field: "notifiers.twilio.previous_auth_token", problem: []string{"is auth_token itself", "secondary"},
		},
		{
			name: "twilio previous auth token that Twilio would not sign with", base: "aion-r.yaml",
			edits: []string{"auth_token: ${AION_R_TWILIO_AUTH_TOKEN}", "auth_token: ${AION_R_TWILIO_AUTH_TOKEN}\n    previous_auth_token: old-token"},
			field: "notifiers.twilio.previous_auth_token", problem: []string{"is not a Twilio auth token", "9 characters", "no callback"},
		},
		{
			name: "twilio previous auth token without the auth token", base: "aion-r.yaml",
			edits: []string{"    auth_token: ${AION_R_TWILIO_AUTH_TOKEN}\n", "    previous_auth_token: 0123456789abcdef0123456789abcdef\n"},
			field: "notifiers.twilio.previous_auth_token", problem: []string{"is set without auth_token"},
		},
		{
			name: "twilio account sid that is not one", base: "aion-r.yaml",
			edits: []string{"account_sid: ${AION_R_TWILIO_ACCOUNT_SID}", "account_sid: twilio-sid-change-me"},
			field: "notifiers.twilio.account_sid", problem: []string{"starts with AC"},
		},
		{
			// "AC" and anything passed: every SMS and call went to
			// /Accounts/ACnotreal/..., which Twilio answers 401.
			name: "twilio account sid with AC but not its shape", base: "aion-r.yaml",
			edits: []string{"account_sid: ${AION_R_TWILIO_ACCOUNT_SID}", "account_sid: ACnotreal"},
			field: "notifiers.twilio.account_sid", problem: []string{"is not a Twilio account SID", "AC and 32 hexadecimal characters", "every SMS and call"},
		},
		{
			name: "twilio account sid a character short", base: "aion-r.yaml",
			edits: []string{"account_sid: ${AION_R_TWILIO_ACCOUNT_SID}", "account_sid: AC0123456789abcdef0123456789abcde"},
			field: "notifiers.twilio.account_sid", problem: []string{"is not a Twilio account SID"},
		},
		{
			name: "twilio from that is not a number", base: "aion-r.yaml",
			edits: []string{"from: ${AION_R_TWILIO_FROM}", "from: \"555-0100\""},
			field: "notifiers.twilio.from", problem: []string{`"555-0100" is not a phone number in E.164 form`},
		},
		{
			name: "twilio from a digit short of a North American number", base: "aion-r.yaml",
			edits: []string{"from: ${AION_R_TWILIO_FROM}", "from: \"+1555550100\""},
			field: "notifiers.twilio.from", problem: []string{`"+1555550100" has 9 digits after the +1`, "Twilio would refuse every SMS and call from it"},
		},
		{
			// E.164 takes 7 to 15 digits, and the provider check at start
			// never tries a contact's number: the first page did.
			name: "sms number a digit short of a North American number", base: "aion-r.yaml",
			edits: []string{`{channel: sms, via: twilio, address: "+15555550101"}`, `{channel: sms, via: twilio, address: "+1555550101"}`},
			field: "users[eng-a].contacts[1].address", problem: []string{`"+1555550101" has 9 digits after the +1, and North American numbers have 10`, "Twilio would refuse every sms to it"},
		},
		{
			// The from number copied into a contact: Twilio answers an SMS
			// to it with 21266 ('To' and 'From' cannot be the same).
			name: "sms to the number pagerd sends from", base: "aion-r.yaml",
			edits: []string{"from: ${AION_R_TWILIO_FROM}", "from: \"+15555550101\""},
			field: "users[eng-a].contacts[1].address", problem: []string{`"+15555550101" is notifiers.twilio.from`, "Twilio refuses an SMS to the number it comes from", "give their own number"},
		},
		{
			name: "sms number not in E.164 form", base: "aion-r.yaml",
			edits: []string{`{channel: sms, via: twilio, address: "+15555550101"}`, `{channel: sms, via: twilio, address: "555-0101"}`},
			field: "users[eng-a].contacts[1].address", problem: []string{"E.164"},
		},
		{
			name: "twilio cannot push", base: "aion-r.yaml",
			edits: []string{`{channel: push, via: pagerduty, address: "${AION_R_PD_KEY_ENG_A}"}`, `{channel: push, via: twilio, address: "+15555550101"}`},
			field: "users[eng-a].contacts[0].channel", problem: []string{"twilio sends sms and voice, not push"},
		},
		{
			// PagerDuty answers every such event 400 "Length of
			// 'routing_key' is incorrect (should be 32 characters)":
			// a REST API key (20 characters) is the usual mix-up.
			name: "pagerduty routing key that PagerDuty would refuse", base: "aion-r.yaml",
			edits: []string{`address: "${AION_R_PD_KEY_ENG_A}"`, `address: "u+Xw3aYzsd1FZ7Qk5T9a"`},
			field: "users[eng-a].contacts[0].address", problem: []string{"is not a PagerDuty Events API v2 routing key", "20 characters", "32", "every page"},
		},
		{
			// The dedup key pagerd:<incident>:<user> would pass PagerDuty's
			// 255 characters, and PagerDuty refuses such an event.
			name: "pagerduty contact of a user whose id is too long for its dedup key", base: "aion-r.yaml",
			edits: []string{"users:\n  - id: eng-a\n", "users:\n  - id: eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\n    contacts:\n      - {channel: push, via: pagerduty, address: \"${AION_R_PD_KEY_ENG_A}\"}\n  - id: eng-a\n"},
			field: "users[eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee].contacts[0].via", problem: []string{"221 characters", "255", "at most 220"},
		},
		{
			name: "pagerduty routing key one character too long", base: "aion-r.yaml",
			edits: []string{`address: "${AION_R_PD_KEY_ENG_A}"`, `address: "0123456789abcdef0123456789abcdef0"`},
			field: "users[eng-a].contacts[0].address", problem: []string{"33 characters"},
		},
		{
			name: "webhook address that is not a URL", base: "quickstart.yaml",
			edits: []string{"{channel: sms, via: log}", "{channel: sms, via: webhook, address: hooks.example.com/page}"},
			field: "users[demo].contacts[1].address", problem: []string{"absolute http(s) URL"},
		},
		{
			name: "bad calendar time zone", base: "aion-r.yaml",
			edits: []string{"  - name: aion-r-office\n    time_zone: UTC\n", "  - name: aion-r-office\n    time_zone: Europe/Londn\n"},
			field: "business_hours[aion-r-office].time_zone", problem: []string{`unknown time zone "Europe/Londn"`},
		},

		// Business hours.
		{
			name: "calendar closing before it opens", base: "aion-r.yaml",
			edits: []string{`end: "17:00"`, `end: "08:00"`},
			field: "business_hours[aion-r-office].end", problem: []string{"must be after start"},
		},
		{
			name: "calendar without opening hours", base: "aion-r.yaml",
			edits: []string{"    start: \"09:00\"\n", ""},
			field: "business_hours[aion-r-office]", problem: []string{"start and end are required"},
		},

		// Users and their contacts.
		{
			name: "user without contacts", base: "quickstart.yaml",
			edits: []string{loadQContacts, "    contacts: []\n"},
			field: "users[demo].contacts", problem: []string{"at least one contact"},
		},
		{
			name: "notification rule on a channel without contact", base: "quickstart.yaml",
			edits: []string{"      - {channel: voice, via: log}\n", ""},
			field: "users[demo].notification_rules.high[2].channel", problem: []string{`no "voice" contact`},
		},
		{
			name: "low urgency rule on a channel without contact", base: "aion-r.yaml",
			edits: []string{"      low: [{after: 0s, channel: email}]\n", "      low: [{after: 0s, channel: slack}]\n"},
			field: "users[eng-a].notification_rules.low[0].channel", problem: []string{`no "slack" contact`},
		},
		{
			name: "unknown contact channel", base: "quickstart.yaml",
			edits: []string{"{channel: push, via: log}", "{channel: pager, via: log}"},
			field: "users[demo].contacts[0].channel", problem: []string{`unknown channel "pager"`},
		},
		{
			name: "two contacts on one channel", base: "quickstart.yaml",
			edits: []string{"{channel: voice, via: log}", "{channel: sms, via: log}"},
			field: "users[demo].contacts[2].channel", problem: []string{"a second sms contact"},
		},
		{
			name: "negative max_inflight", base: "quickstart.yaml",
			edits: []string{"server:\n", "server:\n  admission: {max_inflight: -1}\n"},
			field: "server.admission.max_inflight", problem: []string{"64 on Redis", "256 on the embedded store"},
		},
		{
			name: "brake_behind under 100ms", base: "quickstart.yaml",
			edits: []string{"server:\n", "server:\n  admission: {brake_behind: 10ms}\n"},
			field: "server.admission.brake_behind", problem: []string{"from 100ms to 1h", "the default, 500ms"},
		},
		{
			name: "rate limit of an unknown transport", base: "quickstart.yaml",
			append: "notifiers:\n  rate_limits:\n    carrier-pigeon: {per_second: 1}\n",
			field:  "notifiers.rate_limits.carrier-pigeon", problem: []string{`unknown transport "carrier-pigeon"`, "pushover", "slack", "email"},
		},
		{
			name: "transport rate limit with neither a rate nor a concurrency", base: "quickstart.yaml",
			append: "notifiers:\n  rate_limits:\n    webhook: {burst: 5}\n",
			field:  "notifiers.rate_limits.webhook", problem: []string{"set per_second (more than zero), concurrency (more than zero) or both"},
		},
		{
			name: "negative transport concurrency", base: "quickstart.yaml",
			append: "notifiers:\n  rate_limits:\n    webhook: {per_second: 5, concurrency: -1}\n",
			field:  "notifiers.rate_limits.webhook", problem: []string{"none negative"},
		},
		{
			name: "transport rate below a page a minute", base: "quickstart.yaml",
			append: "notifiers:\n  rate_limits:\n    twilio: {per_second: 0.0001}\n",
			field:  "notifiers.rate_limits.twilio.per_second", problem: []string{"0.0001 is one page every 2h46m40s", "at least 0.0167 (one a minute)", "Twilio"},
		},
		{
			name: "intake rate below a request a minute", base: "quickstart.yaml",
			edits: []string{"server:\n", "server:\n  rate_limit: {per_second: 0.0001}\n"},
			field: "server.rate_limit.per_second", problem: []string{"0.0001 is one request every 2h46m40s", "at least 0.0167 (one a minute)", "per_second: 0 turns the limit off"},
		},
		{
			name: "concurrency on the intake's rate limit", base: "quickstart.yaml",
			edits: []string{"server:\n", "server:\n  rate_limit: {per_second: 5, concurrency: 2}\n"},
			field: "server.rate_limit.concurrency", problem: []string{"is for transports (notifiers.rate_limits)", "server.admission.max_inflight"},
		},
		{
			name: "unknown transport", base: "quickstart.yaml",
			edits: []string{"{channel: sms, via: log}", "{channel: sms, via: carrier-pigeon}"},
			field: "users[demo].contacts[1].via", problem: []string{`unknown transport "carrier-pigeon"`},
		},
		{
			name: "contact without address", base: "aion-r.yaml",
			edits: []string{`{channel: sms, via: twilio, address: "+15555550101"}`, `{channel: sms, via: twilio}`},
			field: "users[eng-a].contacts[1].address", problem: []string{"address is required for sms via twilio"},
		},
		{
			name: "email with a display name", base: "quickstart.yaml",
			edits: []string{"    name: Demo User\n", "    name: Demo User\n    email: Demo <demo@example.com>\n"},
			field: "users[demo].email", problem: []string{`"Demo <demo@example.com>" is not an email address`},
		},
		{
			name: "email without a domain", base: "quickstart.yaml",
			edits: []string{"    name: Demo User\n", "    name: Demo User\n    email: demo\n"},
			field: "users[demo].email", problem: []string{`"demo" is not an email address`},
		},
		{
			name: "two users with one email", base: "aion-r.yaml",
			edits: []string{"    name: Engineer A\n", "    name: Engineer A\n    email: eng@aion.example\n",
				"    name: Engineer B\n", "    name: Engineer B\n    email: ENG@aion.example\n"},
			field: "users[eng-b].email", problem: []string{`user "eng-a" has the same email`},
		},
		{
			name: "user id with a space", base: "quickstart.yaml",
			edits: []string{"  - id: demo\n", "  - id: demo user\n"},
			field: "users[0].id", problem: []string{`id "demo user" may hold only`},
		},

		// Duplicate names.
		{
			name: "duplicate user id", base: "aion-r.yaml",
			edits: []string{"  - id: eng-b\n", "  - id: eng-a\n"},
			field: "users[1].id", problem: []string{`duplicate id "eng-a"`},
		},
		{
			name: "duplicate tier name", base: "aion-r.yaml",
			edits: []string{"      - name: secondary\n        start:", "      - name: primary\n        start:"},
			field: "schedules[aion-r-oncall].tiers[1].name", problem: []string{`duplicate name "primary"`},
		},
		{
			name: "duplicate level name", base: "aion-r.yaml",
			edits: []string{"      - name: secondary\n        targets:", "      - name: primary\n        targets:"},
			field: "escalation_policies[aion-r].levels[1].name", problem: []string{`duplicate name "primary"`},
		},
		{
			name: "duplicate schedule name", base: "quickstart.yaml",
			edits: []string{"# How an incident climbs", "  - name: demo\n    handoff: {weekday: monday, time: \"00:00\"}\n    tiers: [{name: primary, start: 2025-01-06, members: [demo]}]\n\n# How an incident climbs"},
			field: "schedules[1].name", problem: []string{`duplicate name "demo"`},
		},
		{
			name: "duplicate service name", base: "quickstart.yaml",
			afterKeys: loadSecondService("demo", "      alertmanager_key: other0000000000000000000000000000\n"),
			field:     "services[1].name", problem: []string{`duplicate name "demo"`},
		},
		{
			name: "duplicate rule name", base: "quickstart.yaml",
			afterKeys: loadQRules + "      - {name: db, matchers: [team=db], priority: P0}\n      - {name: db, matchers: [team=dba], priority: P1}\n",
			field:     "services[demo].rules[1].name", problem: []string{`duplicate rule name "db"`},
		},
		{
			name: "duplicate api token name", base: "quickstart.yaml",
			edits: []string{"      token: demo-api-token-change-me\n", "      token: demo-api-token-change-me\n    - name: demo\n      token: other-api-token-0123\n"},
			field: "api.tokens[1].name", problem: []string{`duplicate name "demo"`},
		},

		// Integration keys and API tokens.
		{
			name: "alertmanager key shared by two services", base: "quickstart.yaml",
			afterKeys: loadSecondService("demo2", loadQAMKey),
			field:     "services[demo2].integrations.alertmanager_key", problem: []string{`same key is used by service "demo"`},
		},
		{
			name: "pagerduty routing key shared by two services", base: "quickstart.yaml",
			afterKeys: loadSecondService("demo2", "      pagerduty_routing_key: demo0000000000000000000000000000\n"),
			field:     "services[demo2].integrations.pagerduty_routing_key", problem: []string{`same key is used by service "demo"`},
		},
		{
			name: "alertmanager key of one service is the opsgenie key of another", base: "quickstart.yaml",
			afterKeys: loadSecondService("demo2", "      opsgenie_key: demo0000000000000000000000000000\n"),
			field:     "services[demo2].integrations.opsgenie_key", problem: []string{`same key is used by service "demo"`, "alertmanager_key"},
		},
		{
			name: "routing key of one service is the alertmanager key of another", base: "quickstart.yaml",
			edits: []string{loadQKeys, "      alertmanager_key: demo0000000000000000000000000000\n      pagerduty_routing_key: route000000000000000000000000000\n" +
				loadSecondService("demo2", "      alertmanager_key: route000000000000000000000000000\n")},
			field: "services[demo2].integrations.alertmanager_key", problem: []string{`same key is used by service "demo"`, "pagerduty_routing_key"},
		},
		{
			name: "api token given twice", base: "quickstart.yaml",
			edits: []string{"      token: demo-api-token-change-me\n", "      token: demo-api-token-change-me\n    - name: again\n      token: demo-api-token-change-me\n"},
			field: "api.tokens[1].token", problem: []string{"same token is given twice"},
		},
		{
			name: "api token with an unknown role", base: "quickstart.yaml",
			edits: []string{"      token: demo-api-token-change-me\n", "      token: demo-api-token-change-me\n      role: superuser\n"},
			field: "api.tokens[0].role", problem: []string{`"superuser" is not a role`, "viewer", "responder", "admin"},
		},
		{
			name: "api token role in the wrong case", base: "quickstart.yaml",
			edits: []string{"      token: demo-api-token-change-me\n", "      token: demo-api-token-change-me\n      role: Admin\n"},
			field: "api.tokens[0].role", problem: []string{`"Admin" is not a role`},
		},
		{
			name: "api token without value", base: "quickstart.yaml",
			edits: []string{"      token: demo-api-token-change-me\n", ""},
			field: "api.tokens[0].token", problem: []string{"token or token_file is required"},
		},
		{
			// A guessable token is the whole API: acknowledge, resolve,
			// overrides that page someone else.
			name: "api token of one character", base: "quickstart.yaml",
			edits: []string{"      token: demo-api-token-change-me\n", "      token: x\n"},
			field: "api.tokens[0].token", problem: []string{"too short (length 1)", "at least 16 characters", "openssl rand"},
		},
		{
			name: "api token one character short", base: "quickstart.yaml",
			edits: []string{"      token: demo-api-token-change-me\n", "      token: 0123456789abcde\n"},
			field: "api.tokens[0].token", problem: []string{"length 15", "at least 16 characters"},
		},
		{
			name: "unknown incident key", base: "quickstart.yaml",
			edits: []string{loadQPolicy, loadQPolicy + "    incident_key: alertname\n"},
			field: "services[demo].incident_key", problem: []string{`unknown incident key "alertname"`},
		},

		// Whole-file problems.
		{name: "empty file", text: "", problem: []string{"config is empty"}},
		{name: "only comments", text: "# nothing here yet\n\n   \n", problem: []string{"config is empty"}},
		{
			name: "two YAML documents", base: "quickstart.yaml",
			append:  "---\n" + "api: {tokens: []}\n",
			problem: []string{"more than one YAML document"},
		},
		{
			name: "not YAML", text: "users:\n  - id: a\n\tname: tab\n",
			problem: []string{"line ", "tab character"},
		},
		{
			name: "wrong type", base: "quickstart.yaml",
			edits:  []string{"        members: [demo]\n", "        members: demo\n"},
			lineOf: "members: demo", problem: []string{"cannot unmarshal"},
		},
	}
}

// TestLoadUserEmail: a user's email is kept as written, and two users may
// have different addresses.
func TestLoadUserEmail(t *testing.T) {
	text := loadEdit(t, loadExampleText(t, "aion-r.yaml"),
		"    name: Engineer A\n", "    name: Engineer A\n    email: Eng.A@aion.example\n",
		"    name: Engineer B\n", "    name: Engineer B\n    email: eng.b@aion.example\n")
	c, err := Parse([]byte(text), "aion-r.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got := c.User("eng-a").Email; got != "Eng.A@aion.example" {
		t.Errorf("eng-a email = %q", got)
	}
	if got := c.User("eng-c").Email; got != "" {
		t.Errorf("eng-c email = %q, want none", got)
	}
}

func TestLoadBaseConfigsValid(t *testing.T) {
	// The cases below edit these; they must load as they are, and survive an
	// empty edit, or every broken case would be meaningless.
	for _, name := range []string{"quickstart.yaml", "aion-r.yaml"} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(loadExampleText(t, name)), name, t.TempDir()); err != nil {
				t.Fatalf("%v", err)
			}
		})
	}
}

func TestLoadBrokenConfigs(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range loadCases() {
		if seen[c.name] {
			t.Fatalf("duplicate case name %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			text := c.text
			if c.base != "" {
				text = loadEdit(t, loadExampleText(t, c.base), c.edits...)
				if c.afterKeys != "" {
					text = loadEdit(t, text, loadQKeys, loadQKeys+c.afterKeys)
				}
				text += c.append
			}
			// The file name is a path, as check-config reports it.
			file := filepath.Join("conf.d", strings.ReplaceAll(c.name, " ", "-")+".yaml")
			cfg, err := Parse([]byte(text), file, t.TempDir())
			if err == nil {
				t.Fatalf("loaded without error (config has %d services); want a problem naming %q with %q", len(cfg.Services), c.field, c.problem)
			}
			loadCheckCase(t, c, text, file, err)
		})
	}
}

// loadBrokenFiles are the standalone configs in testdata/broken and what
// LoadFile must say about them.
var loadBrokenFiles = map[string]loadCase{
	"unknown-field-in-override.yaml": {
		lineOf: "user: bob", problem: []string{`unknown field "user"`, "override"},
	},
	"unknown-field-in-target.yaml": {
		lineOf: "teir: primary", problem: []string{`unknown field "teir"`, "target"},
	},
	"bad-matcher.yaml": {
		field: "services[web].rules[0].matchers[1]", problem: []string{"bad matcher", `severity=~\"((\"`},
	},
	"overlapping-overrides.yaml": {
		field: "schedules[web].overrides[1]", problem: []string{"overlaps overrides[0]", `tier "primary"`},
	},
	"two-documents.yaml": {
		problem: []string{"more than one YAML document"},
	},
	"empty.yaml": {
		problem: []string{"config is empty"},
	},
	"missing-references.yaml": {
		field: "escalation_policies[web].levels[first].targets[0].schedule", problem: []string{`no schedule "wbe"`},
	},
	"wrong-type.yaml": {
		lineOf: "contacts: bob@example.com", problem: []string{"cannot unmarshal", "[]policy.Contact"},
	},
}

func TestLoadBrokenFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "broken", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, f := range files {
		found[filepath.Base(f)] = true
	}
	for name := range loadBrokenFiles {
		if !found[name] {
			t.Errorf("testdata/broken/%s is missing", name)
		}
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			c, ok := loadBrokenFiles[name]
			if !ok {
				t.Fatalf("%s has no expectation in loadBrokenFiles", f)
			}
			text, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := LoadFile(f)
			if err == nil {
				t.Fatalf("loaded without error (%d services)", len(cfg.Services))
			}
			loadCheckCase(t, c, string(text), f, err)
		})
	}
}

func TestLoadConfigErrorListsEveryProblem(t *testing.T) {
	text := loadEdit(t, loadExampleText(t, "aion-r.yaml"),
		loadAPrimaryT, "          - {schedule: nowhere, tier: primary}\n",
		"members: [lead-x, lead-y]", "members: [lead-x, lead-z]",
		"    business_hours: aion-r-office\n", "    business_hours: aion-r-office\n    default_priority: P1\n",
		loadAUserTZ, "    title: Platform Engineer\n    time_zone: Moon/Tranquility\n",
		`{channel: sms, via: twilio, address: "+15555550102"}`, `{channel: sms, via: twilio}`,
		"      - priorities: [SEV-2]\n", "      - priorities: [SEV-2]\n        after: 0s\n        notify: [{user: nobody}]\n      - priorities: [SEV-2]\n",
	)
	file := "/etc/pagerd/aion-r.yaml"
	_, err := Parse([]byte(text), file, t.TempDir())
	ce := loadConfigError(t, err, file)
	if ce == nil {
		return
	}
	want := [][]string{
		{"escalation_policies[aion-r].levels[primary].targets[0].schedule", `no schedule "nowhere"`},
		{"schedules[aion-r-oncall].tiers[tertiary].members[1]", `no user "lead-z"`},
		{"services[aion-r-platform].default_priority", `"P1" is not in scheme SEV-1-4`},
		{"users[eng-a].time_zone", `"Moon/Tranquility"`},
		{"users[eng-b].contacts[1].address", "address is required"},
		{"escalation_policies[aion-r].unresolved[1].after", "more than zero"},
		{"escalation_policies[aion-r].unresolved[1].notify[0].user", `no user "nobody"`},
	}
	for _, w := range want {
		if loadProblem(ce, w...) == "" {
			t.Errorf("no problem says %q", w)
		}
	}
	if len(ce.Problems) < len(want) {
		t.Errorf("%d problems, want at least %d:\n%v", len(ce.Problems), len(want), err)
	}
	// Each problem is reported once.
	dup := map[string]bool{}
	for _, p := range ce.Problems {
		if dup[p] {
			t.Errorf("problem reported twice: %s", p)
		}
		dup[p] = true
	}
}

// TestLoadConfigErrorListsEveryDecodeProblem: problems found while decoding
// YAML are listed together too, each with its line: unknown keys, and bad
// durations, timeouts, dates, times of day and weekdays. A bad value must not
// stop decoding and hide the problems after it.
func TestLoadConfigErrorListsEveryDecodeProblem(t *testing.T) {
	text := loadEdit(t, loadExampleText(t, "quickstart.yaml"),
		"    name: Demo User\n", "    name: Demo User\n    pager_color: red\n",
		"{after: 2m, channel: sms}", "{after: 2 minutes, channel: sms}",
		loadQTimeout, "        timeout: fifteen minutes\n",
		"        members: [demo]\n", "        members: [demo]\n        rotation: weekly\n",
	)
	file := "quickstart.yaml"
	_, err := Parse([]byte(text), file, t.TempDir())
	ce := loadConfigError(t, err, file)
	if ce == nil {
		return
	}
	for _, w := range [][]string{
		{fmt.Sprintf("line %d:", loadLineOf(t, text, "pager_color")), `unknown field "pager_color"`},
		{fmt.Sprintf("line %d:", loadLineOf(t, text, "rotation: weekly")), `unknown field "rotation"`},
		{fmt.Sprintf("line %d:", loadLineOf(t, text, "after: 2 minutes")), `"2 minutes"`},
		{fmt.Sprintf("line %d:", loadLineOf(t, text, "timeout: fifteen minutes")), `"fifteen minutes"`},
	} {
		if loadProblem(ce, w...) == "" {
			t.Errorf("no problem says %q", w)
		}
	}
	if t.Failed() {
		t.Logf("got:\n%v", err)
	}
}

// TestLoadEmptyMatcherIsRejected: "a rule needs at least one matcher (write
// alertname=~".*" to match every alert …)" is what the loader says to a rule
// without matchers, so that no rule matches every alert by accident. A
// matcher that is an empty string (say, an unexpanded template) or "{}"
// parses to no matchers at all, and would make the rule match every alert.
func TestLoadEmptyMatcherIsRejected(t *testing.T) {
	for _, m := range []string{`""`, `"{}"`, `" "`} {
		t.Run(m, func(t *testing.T) {
			text := loadEdit(t, loadExampleText(t, "quickstart.yaml"), loadQKeys, loadQKeys+loadQRules+
				"      - {name: oops, matchers: ["+m+"], priority: P0}\n")
			cfg, err := Parse([]byte(text), "quickstart.yaml", t.TempDir())
			if err == nil {
				r := cfg.Route(&cfg.Services[0], map[string]string{"alertname": "DiskAlmostFull", "severity": "info"}, time.Date(2025, 10, 6, 12, 0, 0, 0, time.UTC))
				t.Fatalf("matchers: [%s] loaded; an info alert now routes to %s by rule %q", m, r.Priority, r.Rule)
			}
			loadCheckCase(t, loadCase{field: "services[demo].rules[0].matchers[0]"}, text, "quickstart.yaml", err)
		})
	}
}

// TestLoadEmptyMatcherHintMatchesEveryAlert: the matcher the refusal of a
// rule without matchers suggests matches every alert, a PagerDuty event's
// or an Opsgenie alert's too, which have no alertname label: the hint was
// alertname=~".+", which they do not meet, so a rule written as told sent
// them to the default priority.
func TestLoadEmptyMatcherHintMatchesEveryAlert(t *testing.T) {
	base := loadExampleText(t, "quickstart.yaml")
	_, err := Parse([]byte(loadEdit(t, base, loadQKeys, loadQKeys+loadQRules+"      - {name: oops, matchers: [], priority: P0}\n")), "quickstart.yaml", t.TempDir())
	if err == nil {
		t.Fatal("a rule without matchers loaded")
	}
	hint := regexp.MustCompile("`(alertname=~[^`]+)`").FindStringSubmatch(err.Error())
	if hint == nil {
		t.Fatalf("the refusal suggests no matcher: %v", err)
	}
	cfg, err := Parse([]byte(loadEdit(t, base, loadQKeys, loadQKeys+loadQRules+"      - {name: all, matchers: ['"+hint[1]+"'], priority: P0}\n")), "quickstart.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 10, 6, 12, 0, 0, 0, time.UTC)
	for _, labels := range []map[string]string{{"alertname": "DiskAlmostFull"}, {"severity": "critical", "source": "pagerduty"}} {
		if r := cfg.Route(&cfg.Services[0], labels, at); r.Rule != "all" {
			t.Errorf("%s: labels %v route by rule %q, want the rule written as the hint says", hint[1], labels, r.Rule)
		}
	}
}

// loadOverrideConfig is aion-r.yaml with the overrides added to its schedule.
func loadOverrideConfig(t *testing.T, overrides string) (*Config, error) {
	t.Helper()
	text := loadEdit(t, loadExampleText(t, "aion-r.yaml"),
		"        members: [lead-x, lead-y]\n", "        members: [lead-x, lead-y]\n    overrides:\n"+overrides)
	return Parse([]byte(text), "aion-r.yaml", t.TempDir())
}

func TestLoadAdjacentOverridesAccepted(t *testing.T) {
	for _, c := range []struct {
		name      string
		overrides string
		// at each instant, the primary is the user
		checks map[string]string
	}{
		{
			name: "dates, one ends the day before the next starts",
			overrides: "      - {reason: Labor Day, from: 2025-08-30, until: 2025-09-02, tiers: {primary: eng-c}}\n" +
				"      - {reason: swap, from: 2025-09-03, until: 2025-09-05, tiers: {primary: eng-d}}\n",
			checks: map[string]string{
				"2025-08-30T00:00:00Z": "eng-c",
				"2025-09-02T23:59:59Z": "eng-c",
				"2025-09-03T00:00:00Z": "eng-d",
				"2025-09-05T23:59:59Z": "eng-d",
			},
		},
		{
			name: "instants, one ends when the next starts",
			overrides: "      - {from: 2025-09-01T09:00:00Z, until: 2025-09-02T09:00:00Z, tiers: {primary: eng-c}}\n" +
				"      - {from: 2025-09-02T09:00:00Z, until: 2025-09-03T09:00:00Z, tiers: {primary: eng-d}}\n",
			checks: map[string]string{
				"2025-09-02T08:59:59Z": "eng-c",
				"2025-09-02T09:00:00Z": "eng-d",
			},
		},
		{
			name: "a date, then an instant at the next midnight",
			overrides: "      - {from: 2025-09-01, until: 2025-09-02, tiers: {primary: eng-c}}\n" +
				"      - {from: 2025-09-03T00:00:00Z, until: 2025-09-03T12:00:00Z, tiers: {primary: eng-d}}\n",
			checks: map[string]string{
				"2025-09-02T23:59:59Z": "eng-c",
				"2025-09-03T00:00:00Z": "eng-d",
			},
		},
		{
			name: "overlapping spans on different tiers",
			overrides: "      - {from: 2025-09-01, until: 2025-09-05, tiers: {primary: eng-c}}\n" +
				"      - {from: 2025-09-02, until: 2025-09-03, tiers: {secondary: eng-d}}\n",
			checks: map[string]string{"2025-09-02T12:00:00Z": "eng-c"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := loadOverrideConfig(t, c.overrides)
			if err != nil {
				t.Fatalf("%v", err)
			}
			s := cfg.Schedule("aion-r-oncall")
			for at, want := range c.checks {
				tm, err := time.Parse(time.RFC3339, at)
				if err != nil {
					t.Fatal(err)
				}
				sh, ok := s.OnCallTier("primary", tm)
				if !ok || sh.User != want {
					t.Errorf("primary at %s is %q (ok %v), want %q", at, sh.User, ok, want)
				}
			}
		})
	}
}

// Secrets.

// loadSecretConfig is quickstart.yaml with its API token and integration
// keys replaced by these YAML lines.
func loadSecretConfig(t *testing.T, token, keys string) string {
	t.Helper()
	return loadEdit(t, loadExampleText(t, "quickstart.yaml"),
		"      token: demo-api-token-change-me\n", token,
		loadQKeys, keys)
}

func TestSecretFilesRelativeToConfigDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, val := range map[string]string{
		"secrets/api-token": "file-api-token-7f3a9c\n",
		"am-key":            "  file-am-key-51be0d  \n",
		"/pd-key":           "file-pd-key-c0ffee",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(val), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	text := loadSecretConfig(t,
		"      token_file: secrets/api-token\n",
		"      alertmanager_key_file: am-key\n      pagerduty_routing_key_file: "+filepath.Join(dir, "pd-key")+"\n")
	path := filepath.Join(dir, "pagerd.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	// The test runs in the package directory, where none of these files
	// exist: only the config's directory can resolve them.
	cfg, err := LoadFile(path)
	if err != nil {
		t.Fatalf("%v", err)
	}
	if got := cfg.API.Tokens[0].Token.Reveal(); got != "file-api-token-7f3a9c" {
		t.Errorf("api token %q, want the trimmed file content", got)
	}
	in := cfg.Services[0].Integrations
	if got := in.AlertmanagerKey.Reveal(); got != "file-am-key-51be0d" {
		t.Errorf("alertmanager key %q, want the trimmed file content", got)
	}
	if got := in.PagerDutyRoutingKey.Reveal(); got != "file-pd-key-c0ffee" {
		t.Errorf("pagerduty routing key %q, want the file content (absolute path)", got)
	}
}

func TestSecretFileProblems(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "empty-token"), []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, token, keys string
		field             string
		problem           []string
		// missing: the file is not there, which only `pagerd serve` refuses
		// (CheckSecrets); loading (check-config, the query commands) works
		// and warns.
		missing bool
	}{
		{
			name: "missing token file", token: "      token_file: no-such-token\n", keys: loadQKeys, missing: true,
			field: "api.tokens[0].token", problem: []string{"read secret file", "no-such-token"},
		},
		{
			name: "empty token file", token: "      token_file: empty-token\n", keys: loadQKeys,
			field: "api.tokens[0].token", problem: []string{"empty-token", "is empty"},
		},
		{
			name: "token and token_file", token: "      token: demo-api-token-change-me\n      token_file: empty-token\n", keys: loadQKeys,
			field: "api.tokens[0].token", problem: []string{"not both"},
		},
		{
			name: "missing key file", token: "      token: demo-api-token-change-me\n", keys: "      alertmanager_key_file: keys/am\n", missing: true,
			field: "services[demo].integrations.alertmanager_key", problem: []string{"read secret file", "keys/am"},
		},
		{
			name: "key and key file", token: "      token: demo-api-token-change-me\n", keys: "      pagerduty_routing_key: abc\n      pagerduty_routing_key_file: empty-token\n",
			field: "services[demo].integrations.pagerduty_routing_key", problem: []string{"not both"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "pagerd.yaml")
			if err := os.WriteFile(path, []byte(loadSecretConfig(t, c.token, c.keys)), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := LoadFile(path)
			if c.missing {
				if err != nil {
					t.Fatalf("a missing secret file must not stop the config from loading: %v", err)
				}
				loadCheckWarning(t, cfg, c.field, c.problem...)
				err = cfg.CheckSecrets()
			}
			loadCheckCase(t, loadCase{field: c.field, problem: c.problem}, "", path, err)
		})
	}
}

// loadCheckWarning fails the test unless one of cfg's warnings names the
// field and says every one of want.
func loadCheckWarning(t *testing.T, cfg *Config, field string, want ...string) {
	t.Helper()
	for _, w := range cfg.Warnings() {
		ok := strings.HasPrefix(w, field+": ")
		for _, s := range want {
			ok = ok && strings.Contains(w, s)
		}
		if ok {
			return
		}
	}
	t.Errorf("no warning names %s with %q; warnings:\n%s", field, want, strings.Join(cfg.Warnings(), "\n"))
}

func TestSecretEnvExpansion(t *testing.T) {
	t.Setenv("PAGERD_TEST_API_TOKEN", "env-api-token-4d2e8b")
	t.Setenv("PAGERD_TEST_AM_KEY", "env-am-key-93ac11")
	t.Setenv("PAGERD_TEST_PD_KEY", "env-pd-key-77f0e2")
	text := loadSecretConfig(t,
		"      token: ${PAGERD_TEST_API_TOKEN}\n",
		"      alertmanager_key: ${PAGERD_TEST_AM_KEY}\n      pagerduty_routing_key: \"${PAGERD_TEST_PD_KEY}\"\n")
	cfg, err := Parse([]byte(text), "pagerd.yaml", t.TempDir())
	if err != nil {
		t.Fatalf("%v", err)
	}
	for what, c := range map[string]struct {
		got  Secret
		want string
	}{
		"api token":             {cfg.API.Tokens[0].Token, "env-api-token-4d2e8b"},
		"alertmanager key":      {cfg.Services[0].Integrations.AlertmanagerKey, "env-am-key-93ac11"},
		"pagerduty routing key": {cfg.Services[0].Integrations.PagerDutyRoutingKey, "env-pd-key-77f0e2"},
	} {
		if c.got.Reveal() != c.want {
			t.Errorf("%s is %q, want %q", what, c.got.Reveal(), c.want)
		}
	}
}

func TestSecretMissingEnvVar(t *testing.T) {
	t.Setenv("PAGERD_TEST_EMPTY", "")
	for _, c := range []struct {
		name, token, keys, field, variable, says string
	}{
		{"api token", "      token: ${PAGERD_TEST_UNSET_TOKEN}\n", loadQKeys, "api.tokens[0].token", "PAGERD_TEST_UNSET_TOKEN", "is not set"},
		{"empty variable", "      token: ${PAGERD_TEST_EMPTY}\n", loadQKeys, "api.tokens[0].token", "PAGERD_TEST_EMPTY", "is set but empty"},
		{"alertmanager key", "      token: t-0123456789abcdef\n", "      alertmanager_key: ${PAGERD_TEST_UNSET_AM}\n", "services[demo].integrations.alertmanager_key", "PAGERD_TEST_UNSET_AM", "is not set"},
		{"pagerduty routing key", "      token: t-0123456789abcdef\n", "      pagerduty_routing_key: ${PAGERD_TEST_UNSET_PD}\n", "services[demo].integrations.pagerduty_routing_key", "PAGERD_TEST_UNSET_PD", "is not set"},
	} {
		t.Run(c.name, func(t *testing.T) {
			text := loadSecretConfig(t, c.token, c.keys)
			// Loading works (check-config, oncall, route...) and warns;
			// only `pagerd serve` refuses, through CheckSecrets.
			cfg, err := Parse([]byte(text), "pagerd.yaml", t.TempDir())
			if err != nil {
				t.Fatalf("an unset variable must not stop the config from loading: %v", err)
			}
			problem := []string{"environment variable " + c.variable + " " + c.says}
			loadCheckWarning(t, cfg, c.field, append(problem, "pagerd serve needs it")...)
			loadCheckCase(t, loadCase{field: c.field, problem: problem}, text, "pagerd.yaml", cfg.CheckSecrets())
		})
	}
}

// loadSecretValues are the secrets loadSecretFixture loads.
var loadSecretValues = []string{
	"tok-from-file-2b7e151628aed2a6",
	"tok-from-env-abf7158809cf4f3c",
	"am-from-env-762e7160f38b4da5",
	"pd-inline-6a784d9045190cfe",
}

// loadSecretFixture loads quickstart.yaml with two API tokens (from a file
// and from the environment), an Alertmanager key from the environment and an
// inline PagerDuty routing key: loadSecretValues, in that order.
func loadSecretFixture(t *testing.T) *Config {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(loadSecretValues[0]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PAGERD_TEST_SECRET_TOKEN", loadSecretValues[1])
	t.Setenv("PAGERD_TEST_SECRET_AM", loadSecretValues[2])
	text := loadEdit(t, loadExampleText(t, "quickstart.yaml"),
		"      token: demo-api-token-change-me\n", "      token_file: token\n    - name: second\n      token: ${PAGERD_TEST_SECRET_TOKEN}\n",
		loadQKeys, "      alertmanager_key: ${PAGERD_TEST_SECRET_AM}\n      pagerduty_routing_key: "+loadSecretValues[3]+"\n")
	path := filepath.Join(dir, "pagerd.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadFile(path)
	if err != nil {
		t.Fatalf("%v", err)
	}
	got := []string{
		cfg.API.Tokens[0].Token.Reveal(), cfg.API.Tokens[1].Token.Reveal(),
		cfg.Services[0].Integrations.AlertmanagerKey.Reveal(), cfg.Services[0].Integrations.PagerDutyRoutingKey.Reveal(),
	}
	for i := range got {
		if got[i] != loadSecretValues[i] {
			t.Fatalf("secret %d loaded as %q, want %q", i, got[i], loadSecretValues[i])
		}
	}
	return cfg
}

// loadNoSecret fails the test if out shows any of loadSecretValues, as is
// or hex-encoded.
func loadNoSecret(t *testing.T, how, out string) {
	t.Helper()
	for _, s := range loadSecretValues {
		if strings.Contains(out, s) || strings.Contains(out, fmt.Sprintf("%x", s)) {
			t.Errorf("%s shows the secret %q", how, s)
		}
	}
}

// TestSecretNeverPrintedByFmt prints the whole loaded config, and parts of
// it, with the fmt verbs a log line might use.
func TestSecretNeverPrintedByFmt(t *testing.T) {
	cfg := loadSecretFixture(t)
	values := []struct {
		name string
		v    any
	}{
		{"*Config", cfg},
		{"Config", *cfg},
		{"Service", cfg.Services[0]},
		{"Integrations", cfg.Services[0].Integrations},
		{"APIConfig", cfg.API},
		{"Secret", cfg.API.Tokens[0].Token},
		{"*Secret", &cfg.API.Tokens[1].Token},
	}
	for _, verb := range []string{"%v", "%+v", "%s", "%#v", "%q", "%x", "%d"} {
		for _, v := range values {
			t.Run(verb+" "+v.name, func(t *testing.T) {
				loadNoSecret(t, fmt.Sprintf("fmt.Sprintf(%q, %s)", verb, v.name), fmt.Sprintf(verb, v.v))
			})
		}
	}
	if got := fmt.Sprint(cfg.API.Tokens[0].Token); got != "<secret>" {
		t.Errorf("fmt.Sprint(secret) = %q, want <secret>", got)
	}
	if got := fmt.Sprint(Secret("")); got != "" {
		t.Errorf("fmt.Sprint of an empty secret = %q, want empty", got)
	}
}

func TestSecretNeverPrintedByMarshal(t *testing.T) {
	cfg := loadSecretFixture(t)
	y, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatalf("yaml.Marshal: %v", err)
	}
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	ji, err := json.MarshalIndent(cfg.Services, "", "  ")
	if err != nil {
		t.Fatalf("json.MarshalIndent: %v", err)
	}
	loadNoSecret(t, "yaml.Marshal(*Config)", string(y))
	loadNoSecret(t, "json.Marshal(*Config)", string(j))
	loadNoSecret(t, "json.MarshalIndent(Services)", string(ji))
	// The fields are still there, hidden: two tokens, three keys and the
	// quickstart's link secret.
	if n := strings.Count(string(y), "<secret>"); n != 6 {
		t.Errorf("yaml shows <secret> %d times, want 6:\n%s", n, y)
	}
	if n := strings.Count(string(j), `"<secret>"`) + strings.Count(string(j), `"\u003csecret\u003e"`); n != 6 {
		t.Errorf("json shows <secret> %d times, want 6:\n%s", n, j)
	}
}

func TestSecretNotInErrors(t *testing.T) {
	const token = "dup-token-0123456789abcdef"
	const key = "dup-key-fedcba9876543210"
	text := loadEdit(t, loadExampleText(t, "quickstart.yaml"),
		"      token: demo-api-token-change-me\n", "      token: "+token+"\n    - name: again\n      token: "+token+"\n",
		loadQKeys, "      alertmanager_key: "+key+"\n      pagerduty_routing_key: "+key+"\n"+
			loadSecondService("demo2", "      alertmanager_key: "+key+"\n      pagerduty_routing_key: "+key+"\n"))
	_, err := Parse([]byte(text), "pagerd.yaml", t.TempDir())
	ce := loadConfigError(t, err, "pagerd.yaml")
	if ce == nil {
		return
	}
	for _, w := range []string{"api.tokens[1].token", "services[demo2].integrations.alertmanager_key", "services[demo2].integrations.pagerduty_routing_key"} {
		if loadProblem(ce, w) == "" {
			t.Errorf("no problem names %s:\n%v", w, err)
		}
	}
	for _, s := range []string{token, key} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error shows the secret %q:\n%v", s, err)
		}
	}
}

// TestLoadStormWindow: a held page holds no claim, so the window is free of
// the lease; it defaults to 10s and 3 immediate pages, 0s turns it off, and
// over 10m is refused.
func TestLoadStormWindow(t *testing.T) {
	base := loadExampleText(t, "quickstart.yaml")
	for _, tc := range []struct {
		extra     string
		window    time.Duration
		immediate int
	}{
		{"", 10 * time.Second, 3},
		{"lease 2s", 10 * time.Second, 3},
		{"\nnotifiers: {storm: {window: 2m, immediate: 1}}\n", 2 * time.Minute, 1},
		{"\nnotifiers: {storm: {window: 0s}}\n", 0, 3},
	} {
		text := base + tc.extra
		if lease, ok := strings.CutPrefix(tc.extra, "lease "); ok {
			// The quickstart has a server section: the lease goes in it.
			text = loadEdit(t, base, "server:\n", "server:\n  lease: "+lease+"\n")
		}
		c, err := Parse([]byte(text), "q.yaml", t.TempDir())
		if err != nil {
			t.Fatalf("%q: %v", tc.extra, err)
		}
		if got := time.Duration(*c.Notifiers.Storm.Window); got != tc.window || c.Notifiers.Storm.Immediate != tc.immediate {
			t.Errorf("%q: window %s immediate %d, want %s %d", tc.extra, got, c.Notifiers.Storm.Immediate, tc.window, tc.immediate)
		}
	}
	_, err := Parse([]byte(base+"\nnotifiers: {storm: {window: 11m}}\n"), "q.yaml", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "notifiers.storm.window: must be from 0s (off) to 10m") {
		t.Fatalf("err = %v", err)
	}
}

// TestTwilioAuthTokenChecked: check-config refuses an auth token Twilio
// would refuse (the field is named, the token never printed), from the
// config, a file or the environment; a real token's shape passes.
func TestTwilioAuthTokenChecked(t *testing.T) {
	base := loadExampleText(t, "aion-r.yaml")
	const bad = "my-twilio-password-do-not-print"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tw-token"), []byte(bad+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PAGERD_TEST_TW_TOKEN", bad)
	for _, tc := range []struct{ name, line string }{
		{"literal", "auth_token: " + bad},
		{"file", "auth_token_file: tw-token"},
		{"env", "auth_token: ${PAGERD_TEST_TW_TOKEN}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := loadEdit(t, base, "auth_token: ${AION_R_TWILIO_AUTH_TOKEN}", tc.line)
			_, err := Parse([]byte(text), "pagerd.yaml", dir)
			ce := loadConfigError(t, err, "pagerd.yaml")
			if ce == nil {
				return
			}
			if loadProblem(ce, "notifiers.twilio.auth_token") == "" {
				t.Errorf("no problem names notifiers.twilio.auth_token:\n%v", err)
			}
			if strings.Contains(err.Error(), bad) {
				t.Errorf("the error prints the token:\n%v", err)
			}
		})
	}
	for _, good := range []string{"0123456789abcdef0123456789abcdef", "0123456789ABCDEF0123456789ABCDEF"} {
		text := loadEdit(t, base, "auth_token: ${AION_R_TWILIO_AUTH_TOKEN}", "auth_token: "+good)
		if _, err := Parse([]byte(text), "pagerd.yaml", dir); err != nil {
			t.Errorf("%s: %v", good, err)
		}
	}
}

// TestAPITokenRoles: roles load as written; a token without one has none
// (the gateway gives it a responder's powers).
func TestAPITokenRoles(t *testing.T) {
	text := loadEdit(t, loadExampleText(t, "quickstart.yaml"), "      token: demo-api-token-change-me\n",
		"      token: demo-api-token-change-me\n    - {name: v, token: viewer-token-0123456789, role: viewer}\n    - {name: r, token: responder-token-0123456789, role: responder}\n    - {name: a, token: admin-token-0123456789, role: admin}\n")
	cfg, err := Parse([]byte(text), "pagerd.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tok := range cfg.API.Tokens {
		got = append(got, tok.Name+"="+string(tok.Role))
	}
	if strings.Join(got, " ") != "demo= v=viewer r=responder a=admin" {
		t.Fatalf("roles %v", got)
	}
}

// TestAPITokenMinimumLength: a token read from a file or the environment
// is held to the same minimum as one written in the config, the error names
// the field and never shows the token, and a token of exactly the minimum
// loads.
func TestAPITokenMinimumLength(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "short"), []byte("hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PAGERD_TEST_SHORT_TOKEN", "s3cr3t")
	quick := loadExampleText(t, "quickstart.yaml")
	for _, c := range []struct{ name, token, field string }{
		{"token_file", "      token_file: short\n", "api.tokens[0].token"},
		{"environment", "      token: ${PAGERD_TEST_SHORT_TOKEN}\n", "api.tokens[0].token"},
	} {
		t.Run(c.name, func(t *testing.T) {
			text := loadEdit(t, quick, "      token: demo-api-token-change-me\n", c.token)
			_, err := Parse([]byte(text), "pagerd.yaml", dir)
			loadCheckCase(t, loadCase{field: c.field, problem: []string{"too short", "at least 16 characters"}}, text, "pagerd.yaml", err)
			if err != nil && (strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "s3cr3t")) {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
	text := loadEdit(t, quick, "      token: demo-api-token-change-me\n", "      token: 0123456789abcdef\n")
	if _, err := Parse([]byte(text), "pagerd.yaml", dir); err != nil {
		t.Fatalf("a token of 16 characters: %v", err)
	}
}

// TestIngestRateLimitDefault: unset, the per-key limit is the default
// (1,000 at once, then 100 a second); per_second 0 turns it off; a burst
// left out follows the rate.
func TestIngestRateLimitDefault(t *testing.T) {
	base := loadExampleText(t, "quickstart.yaml")
	for _, tc := range []struct {
		extra string
		want  RateLimit
	}{
		{"", RateLimit{PerSecond: 100, Burst: 1000}},
		{"  rate_limit: {per_second: 0}\n", RateLimit{}},
		{"  rate_limit: {per_second: 5}\n", RateLimit{PerSecond: 5, Burst: 6}},
		{"  rate_limit: {per_second: 5, burst: 50}\n", RateLimit{PerSecond: 5, Burst: 50}},
		{"  rate_limit: {per_second: 0.0167}\n", RateLimit{PerSecond: 0.0167, Burst: 1}}, // the floor: one a minute
	} {
		text := loadEdit(t, base, "server:\n", "server:\n"+tc.extra)
		cfg, err := Parse([]byte(text), "pagerd.yaml", t.TempDir())
		if err != nil {
			t.Fatalf("%q: %v", tc.extra, err)
		}
		if *cfg.Server.RateLimit != tc.want {
			t.Errorf("%q: rate limit %+v, want %+v", tc.extra, *cfg.Server.RateLimit, tc.want)
		}
	}
}

// TestTransportRateLimits: a transport's limits (notifiers.rate_limits)
// may be a rate, a concurrency, or both: a concurrency alone (a provider
// that caps connections, not requests a second) is accepted as it is,
// with no rate.
func TestTransportRateLimits(t *testing.T) {
	base := loadExampleText(t, "quickstart.yaml")
	for _, tc := range []struct {
		limits string
		want   RateLimit
	}{
		{"{concurrency: 1}", RateLimit{Concurrency: 1}},
		{"{per_second: 5, burst: 10}", RateLimit{PerSecond: 5, Burst: 10}},
		{"{per_second: 5, burst: 10, concurrency: 4}", RateLimit{PerSecond: 5, Burst: 10, Concurrency: 4}},
		// The lowest rates providers document, and the floor, one a minute.
		{"{per_second: 0.2, burst: 60}", RateLimit{PerSecond: 0.2, Burst: 60}}, // ntfy.sh: one request every 5 s
		{"{per_second: 0.0167}", RateLimit{PerSecond: 0.0167}},
	} {
		text := base + "notifiers:\n  rate_limits:\n    webhook: " + tc.limits + "\n"
		cfg, err := Parse([]byte(text), "pagerd.yaml", t.TempDir())
		if err != nil {
			t.Fatalf("%s: %v", tc.limits, err)
		}
		if got := cfg.Notifiers.RateLimits["webhook"]; got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.limits, got, tc.want)
		}
	}
}

// TestContactForms: the forms the exported checks take, which pagerd
// import writes by, are the ones the loader takes: each value is checked
// with its function and loaded in the field it is for, and the two agree.
func TestContactForms(t *testing.T) {
	load := func(user string) error {
		_, err := Parse([]byte(`notifiers:
  twilio: {account_sid: AC0123456789abcdef0123456789abcdef, auth_token: 0123456789abcdef0123456789abcdef, from: "+15555550199"}
  email: {smarthost: "smtp.example.com:587", from: pagerd@example.com}
  slack: {bot_token: xoxb-0123, signing_secret: 0123456789abcdef}
users:
  - {id: x, `+user+`}
`), "c.yaml", "")
		return err
	}
	q := strconv.Quote
	push := ", contacts: [{channel: push, via: log}]"
	for _, c := range []struct {
		check func(string) bool
		field func(string) string
		in    []string
		want  []bool
	}{
		{IsE164, func(s string) string { return "contacts: [{channel: sms, via: twilio, address: " + q(s) + "}]" },
			[]string{"+15555550100", "+3534567", "+353456789012345", "+353456", "+3534567890123456", "+05555550100", "15555550100", "+1 555 555 0100",
				// North America (+1): ten digits, area code and exchange
				// from 2: a digit dropped or doubled, or a 0 or 1 where
				// neither can be, is a number Twilio refuses.
				"+1555550100", "+155555501000", "+10555550100", "+15551550100", "+12025550100"},
			[]bool{true, true, true, false, false, false, false, false, false, false, false, false, true}},
		{IsPlainEmail, func(s string) string { return "email: " + q(s) + push },
			[]string{"jane@example.com", "Jane+pager@Example.COM", "Jane <jane@example.com>", "<jane@example.com>", "jane@example.com (Jane)", "a@b@c", "jane@example.com, joe@example.com", " jane@example.com"},
			[]bool{true, true, false, false, false, false, false, false}},
		{IsPlainEmail, func(s string) string { return "contacts: [{channel: email, via: email, address: " + q(s) + "}]" },
			[]string{"jane@example.com", "Jane <jane@example.com>", "jane@example.com (Jane)"},
			[]bool{true, false, false}},
		{IsSlackMemberID, func(s string) string { return "slack_user: " + q(s) + push },
			[]string{"U0123ABC", "W012ABC", "U01", "U1", "u0123ABC", "U0123abc", "C0123ABC", "#general"},
			[]bool{true, true, true, false, false, false, false, false}},
		{func(s string) bool { _, err := LoadZone(s); return err == nil }, func(s string) string { return "time_zone: " + q(s) + push },
			[]string{"Europe/Madrid", "", "UTC", "EST5EDT", "EST", "MST", "HST", "Mars/Olympus", "utc", "Local"},
			[]bool{true, true, true, true, false, false, false, false, false, false}},
	} {
		for i, in := range c.in {
			got := c.check(in)
			err := load(c.field(in))
			if got != c.want[i] || got != (err == nil) {
				t.Errorf("%q: check %v, want %v; the loader: %v", in, got, c.want[i], err)
			}
		}
	}
	if _, err := LoadZone("EST"); err == nil || !strings.Contains(err.Error(), "America/New_York") {
		t.Errorf("LoadZone(EST): %v, want the zone to use instead", err)
	}
}

// TestEtcGMTZoneWarnsOfItsSign: Etc/GMT+5 is UTC−5 (POSIX signs are the
// other way round), so someone in UTC+5 who writes it gets handoffs and
// business hours ten hours off. It loads, as the zone is valid, with a
// warning that says which offset it is and what to write for the other;
// the zones at UTC itself say nothing.
func TestEtcGMTZoneWarnsOfItsSign(t *testing.T) {
	for _, c := range []struct{ tz, want string }{
		{"Etc/GMT+5", "time_zone Etc/GMT+5 is UTC−05:00 (the POSIX sign is inverted); name a city (e.g. Asia/Karachi) or use Etc/GMT-5 for UTC+05:00"},
		{"Etc/GMT-10", "time_zone Etc/GMT-10 is UTC+10:00 (the POSIX sign is inverted); name a city (e.g. Pacific/Honolulu) or use Etc/GMT+10 for UTC−10:00"},
		// Nobody keeps UTC−12 all year: no city to name.
		{"Etc/GMT-12", "time_zone Etc/GMT-12 is UTC+12:00 (the POSIX sign is inverted); name a city or use Etc/GMT+12 for UTC−12:00"},
		{"Etc/GMT+0", ""}, {"Etc/GMT-0", ""}, {"Etc/GMT", ""}, {"Etc/UTC", ""}, {"Asia/Karachi", ""},
	} {
		t.Run(c.tz, func(t *testing.T) {
			cfg := rotConfig(t, "  - name: s\n    time_zone: "+c.tz+"\n    handoff: {weekday: monday, time: \"09:00\"}\n    tiers:\n      - name: primary\n        start: 2025-01-06\n        members: [ann, bob]\n")
			w := cfg.Warnings()
			if c.want == "" {
				if len(w) != 0 {
					t.Fatalf("warnings: %q", w)
				}
				return
			}
			if want := "schedules[s].time_zone: " + c.want; len(w) != 1 || w[0] != want {
				t.Fatalf("warnings: %q\nwant %q", w, want)
			}
		})
	}
	// The sign is what it says: UTC−5.
	loc, err := LoadZone("Etc/GMT+5")
	if err != nil {
		t.Fatal(err)
	}
	if _, off := time.Date(2026, 7, 1, 12, 0, 0, 0, loc).Zone(); off != -5*3600 {
		t.Errorf("Etc/GMT+5 is %ds from UTC", off)
	}
}

// TestZoneAbbreviationsThatLoad: CET, MET, EET and WET are zones with the
// EU's daylight saving time, not fixed offsets like EST, so they load (and
// docs/CONFIG.md says so); PST, CEST and IST are not in the zone database.
func TestZoneAbbreviationsThatLoad(t *testing.T) {
	for tz, summer := range map[string]int{"CET": 2, "MET": 2, "EET": 3, "WET": 1} {
		loc, err := LoadZone(tz)
		if err != nil {
			t.Errorf("LoadZone(%q): %v", tz, err)
			continue
		}
		if _, off := time.Date(2026, 7, 1, 12, 0, 0, 0, loc).Zone(); off != summer*3600 {
			t.Errorf("%s in July is %ds from UTC, want %dh", tz, off, summer)
		}
	}
	for _, tz := range []string{"PST", "CEST", "IST"} {
		if _, err := LoadZone(tz); err == nil {
			t.Errorf("LoadZone(%q) accepted", tz)
		}
	}
}

// unsetenv unsets an environment variable for the test (t.Setenv cannot,
// and a variable set to "" is reported as empty, not unset), and puts back
// what it was after.
func unsetenv(t *testing.T, name string) {
	t.Helper()
	t.Setenv(name, "")
	if err := os.Unsetenv(name); err != nil {
		t.Fatal(err)
	}
}

// TestEmptyEnvVariableSaysSetButEmpty: a secret from ${NAME} with NAME
// set to "" (an `export NAME=`, a CI variable left empty) is missing like
// an unset one, but is reported as set and empty: "is not set" sends
// whoever checks `env | grep NAME` (it is there) the wrong way.
func TestEmptyEnvVariableSaysSetButEmpty(t *testing.T) {
	t.Setenv("PAGERD_TEST_EMPTY_LINK_SECRET", "")
	unsetenv(t, "PAGERD_TEST_UNSET_LINK_SECRET")
	for _, c := range []struct{ name, env, want string }{
		{"empty", "PAGERD_TEST_EMPTY_LINK_SECRET", "server.link_secret: environment variable PAGERD_TEST_EMPTY_LINK_SECRET is set but empty (pagerd serve needs it)"},
		{"unset", "PAGERD_TEST_UNSET_LINK_SECRET", "server.link_secret: environment variable PAGERD_TEST_UNSET_LINK_SECRET is not set (pagerd serve needs it)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			text := "server:\n  public_url: http://127.0.0.1:8080\n  link_secret: ${" + c.env + "}\n" +
				rotText("  - name: s\n    handoff: {weekday: monday, time: \"09:00\"}\n    tiers:\n      - name: primary\n        start: 2025-01-06\n        members: [ann, bob]\n")
			cfg, err := Parse([]byte(text), "e.yaml", t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if w := cfg.Warnings(); !slices.Contains(w, c.want) {
				t.Errorf("warnings: %q\nwant %q", w, c.want)
			}
		})
	}
}

// TestEnvValueTrimmedLikeAFile: a value read from the environment has its
// surrounding whitespace trimmed, as a _file's has. A Kubernetes secret
// made from a file ends with its newline, and kept, a Slack bot token
// "xoxb-…\n" loaded (it starts with xoxb-) and was refused as a header
// value at every Slack page, and a PagerDuty webhook secret with it never
// verified an acknowledgement made in the PagerDuty app, so pagerd paged
// on. One of whitespace only is missing, and says so.
func TestEnvValueTrimmedLikeAFile(t *testing.T) {
	t.Setenv("PAGERD_TEST_SLACK_TOKEN", "xoxb-0123\n")
	t.Setenv("PAGERD_TEST_PD_SECRET", " pd-webhook-secret\r\n")
	t.Setenv("PAGERD_TEST_PHONE", "+15555550123\n")
	t.Setenv("PAGERD_TEST_BLANK", " \n")
	text := loadEdit(t, loadExampleText(t, "quickstart.yaml"),
		"      - {channel: sms, via: log}\n", "      - {channel: sms, via: twilio, address: \"${PAGERD_TEST_PHONE}\"}\n",
	) + `
notifiers:
  twilio: {account_sid: AC0123456789abcdef0123456789abcdef, auth_token: 0123456789abcdef0123456789abcdef, from: "+15555550100", api_url: "http://127.0.0.1:9999"}
  slack: {bot_token: "${PAGERD_TEST_SLACK_TOKEN}", signing_secret: "${PAGERD_TEST_BLANK}"}
  pagerduty: {webhook_secret: "${PAGERD_TEST_PD_SECRET}"}
`
	cfg, err := Parse([]byte(text), "q.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.Notifiers
	if got := n.Slack.BotToken.Reveal(); got != "xoxb-0123" {
		t.Errorf("slack bot token %q, want it without its newline", got)
	}
	if got := n.PagerDuty.WebhookSecret.Reveal(); got != "pd-webhook-secret" {
		t.Errorf("pagerduty webhook secret %q, want it without its spaces", got)
	}
	if got := cfg.User("demo").Contacts[1].Address; got != "+15555550123" {
		t.Errorf("sms address %q, want it without its newline", got)
	}
	want := "notifiers.slack.signing_secret: environment variable PAGERD_TEST_BLANK holds only whitespace (pagerd serve needs it)"
	if w := cfg.Warnings(); !slices.Contains(w, want) {
		t.Errorf("warnings: %q\nwant %q", w, want)
	}
}

// TestEnvReferenceInsideAValue: only a whole value is read from the
// environment. A ${NAME} inside a longer one (a topic in an ntfy URL, a
// host in a smarthost, a prefix on a token) would be sent as it is written,
// and every page on it would go to the wrong place or be refused, with a
// config that loads and a daemon that starts. It is an error naming the
// field and the variable, never the value.
func TestEnvReferenceInsideAValue(t *testing.T) {
	t.Setenv("PAGERD_TEST_TOPIC", "oncall-demo")
	t.Setenv("PAGERD_TEST_SMTP_HOST", "smtp.example.com")
	t.Setenv("PAGERD_TEST_TOKEN_PART", "0123456789abcdef")
	for _, c := range []loadCase{
		{name: "ntfy topic in a contact's URL",
			edits: []string{"      - {channel: push, via: log}\n", "      - {channel: push, via: ntfy, address: \"https://ntfy.sh/${PAGERD_TEST_TOPIC}\"}\n"},
			field: "users[demo].contacts[0].address", problem: []string{"${PAGERD_TEST_TOPIC}", "whole value"}},
		{name: "smarthost host",
			edits: []string{"      - {channel: push, via: log}\n", "      - {channel: push, via: log}\n      - {channel: email, address: demo@example.com}\n",
				"users:\n", "notifiers:\n  email: {smarthost: \"${PAGERD_TEST_SMTP_HOST}:587\", from: pagerd@example.com}\nusers:\n"},
			field: "notifiers.email.smarthost", problem: []string{"${PAGERD_TEST_SMTP_HOST}", "whole value"}},
		{name: "secret with a prefix",
			edits: []string{"      token: demo-api-token-change-me\n", "      token: \"tok-${PAGERD_TEST_TOKEN_PART}\"\n"},
			field: "api.tokens[0].token", problem: []string{"${PAGERD_TEST_TOKEN_PART}", "whole value"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			text := loadEdit(t, loadExampleText(t, "quickstart.yaml"), c.edits...)
			_, err := Parse([]byte(text), "pagerd.yaml", t.TempDir())
			loadCheckCase(t, c, text, "pagerd.yaml", err)
			if err != nil && strings.Contains(err.Error(), "0123456789abcdef") {
				t.Errorf("the error shows the secret's value: %v", err)
			}
		})
	}
}

// TestPagerDutyRoutingKeyLength: PagerDuty's Events API v2 refuses, with a
// 400, every event whose routing_key is not 32 characters long, so a push
// contact via pagerduty with such a key could never be paged and the config
// is refused. Only the length is certain (Event Orchestration keys have
// capitals, the services' integration keys not), and only PagerDuty says
// so: an events_url that points at a stand-in may take any key. The key is
// a credential and never appears in the problem.
func TestPagerDutyRoutingKeyLength(t *testing.T) {
	const short = "u+Xw3aYzsd1FZ7Qk5T9a" // a REST API key's length
	base := loadEdit(t, loadExampleText(t, "quickstart.yaml"),
		"      - {channel: push, via: log}\n", "      - {channel: push, via: pagerduty, address: \"${PAGERD_TEST_PD_KEY}\"}\n",
		"users:\n", "notifiers:\n  pagerduty: {webhook_secret: whsec-0123456789abcdef}\nusers:\n")
	cases := []struct {
		name, key, eventsURL string
		refused              bool
	}{
		{"a services' integration key", "0123456789abcdef0123456789abcdef", "", false},
		{"an Event Orchestration key, with capitals", "R02E4A0HBAFQ4J5EF0XTK8Q5SNMAAAAA", "", false},
		{"a REST API key", short, "", true},
		{"a REST API key at a regional edge", short, "https://events.eu.pagerduty.com", true},
		{"a REST API key at a stand-in", short, "http://127.0.0.1:9999", false},
		{"unset: pagerd serve refuses it instead", "", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("PAGERD_TEST_PD_KEY", c.key)
			text := base
			if c.eventsURL != "" {
				text = loadEdit(t, text, "{webhook_secret:", "{events_url: \""+c.eventsURL+"\", webhook_secret:")
			}
			_, err := Parse([]byte(text), "q.yaml", t.TempDir())
			switch {
			case c.refused && err == nil:
				t.Fatal("loaded; want users[demo].contacts[0].address refused")
			case c.refused && (!strings.Contains(err.Error(), "q.yaml: users[demo].contacts[0].address, from environment variable PAGERD_TEST_PD_KEY: is not a PagerDuty Events API v2 routing key") ||
				!strings.Contains(err.Error(), "20 characters")):
				t.Fatalf("the problem does not name the address and its length:\n%v", err)
			case c.refused && strings.Contains(err.Error(), short):
				t.Fatalf("the problem shows the key:\n%v", err)
			case !c.refused && err != nil:
				t.Fatalf("refused: %v", err)
			}
		})
	}
}

// TestLoadPagerDutyUserIDLongestThatFits: a user id is refused with a
// pagerduty contact only when the dedup key pagerd sends could pass the
// 255 characters PagerDuty takes. The longest key is an alert-storm
// message's (id "b" and 19 characters) after 999999 reopens:
// pagerd:<20>:<user>:999999, which fits a 220-character id. The limit was
// 200, so a config with an id of 201 to 220 characters, which pages, was
// refused and pagerd would not start.
func TestLoadPagerDutyUserIDLongestThatFits(t *testing.T) {
	if key := "pagerd:" + "b" + strings.Repeat("0", 19) + ":" + strings.Repeat("e", 220) + ":999999"; len(key) > 255 {
		t.Fatalf("the longest dedup key of a 220-character id is %d characters", len(key))
	}
	for _, tc := range []struct {
		n  int
		ok bool
	}{{220, true}, {221, false}} {
		id := strings.Repeat("e", tc.n)
		text := loadEdit(t, loadExampleText(t, "aion-r.yaml"), "users:\n  - id: eng-a\n",
			"users:\n  - id: "+id+"\n    contacts:\n      - {channel: push, via: pagerduty, address: \"${AION_R_PD_KEY_ENG_A}\"}\n  - id: eng-a\n")
		_, err := Parse([]byte(text), "aion-r.yaml", t.TempDir())
		if tc.ok && err != nil {
			t.Errorf("an id of %d characters: refused: %v", tc.n, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), fmt.Sprintf("users[%s].contacts[0].via: the user's id is %d characters", id, tc.n)) || !strings.Contains(err.Error(), "at most 220")) {
			t.Errorf("an id of %d characters: want it refused, saying at most 220, got: %v", tc.n, err)
		}
	}
}

// TestPagerDutyServiceOfAContact: pagerduty_service names the PagerDuty
// service of a contact via pagerduty by its id, as PagerDuty's webhooks
// give it (a merge there is that service's only); a name, or the setting
// on a contact of another transport, is an error naming the field.
func TestPagerDutyServiceOfAContact(t *testing.T) {
	load := func(contact string) error {
		_, err := Parse([]byte(`notifiers:
  pagerduty: {webhook_secret: 0123456789abcdef}
users:
  - {id: x, contacts: [`+contact+`]}
`), "c.yaml", "")
		return err
	}
	const key = "0123456789abcdef0123456789abcdef"
	for contact, problem := range map[string]string{
		"{channel: push, via: pagerduty, address: " + key + ", pagerduty_service: PF9KMXH}":     "",
		"{channel: push, via: pagerduty, address: " + key + "}":                                 "",
		"{channel: push, via: pagerduty, address: " + key + ", pagerduty_service: \"API svc\"}": "users[x].contacts[0].pagerduty_service",
		"{channel: push, via: log, pagerduty_service: PF9KMXH}":                                 "users[x].contacts[0].pagerduty_service",
	} {
		err := load(contact)
		switch {
		case problem == "" && err != nil:
			t.Errorf("%s: %v", contact, err)
		case problem != "" && (err == nil || !strings.Contains(err.Error(), problem)):
			t.Errorf("%s: %v, want an error naming %s", contact, err, problem)
		}
	}
}

// TestPagerDutyServiceNamedForSomeContactsWarns: a person whose contacts
// via pagerduty go through two routing keys (two PagerDuty services) and
// name the service of one only is warned of, naming the contacts: a merge
// in a service none names is taken for the unnamed one's, and the named
// one is told of acknowledgements, so a typo in its pagerduty_service
// acknowledged, unnoticed, the PagerDuty incident its alert was merged
// into (someone else's outage; rev29, after 9a0424e). Each named, or none,
// or one routing key for both, is no warning.
func TestPagerDutyServiceNamedForSomeContactsWarns(t *testing.T) {
	const push, call = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
	for name, tc := range map[string]struct {
		pushSvc, callSvc, callKey string
		warn                      bool
	}{
		"one named":          {"", ", pagerduty_service: PCALL01", call, true},
		"each named":         {", pagerduty_service: PPUSH01", ", pagerduty_service: PCALL01", call, false},
		"none named":         {"", "", call, false},
		"one key, one named": {"", ", pagerduty_service: PCALL01", push, false},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := Parse([]byte(`notifiers:
  pagerduty: {webhook_secret: 0123456789abcdef}
users:
  - {id: x, contacts: [{channel: push, via: pagerduty, address: `+push+tc.pushSvc+`}, {channel: voice, via: pagerduty, address: `+tc.callKey+tc.callSvc+`}]}
`), "c.yaml", "")
			if err != nil {
				t.Fatal(err)
			}
			if !tc.warn {
				for _, w := range cfg.Warnings() {
					if strings.Contains(w, "pagerduty_service") {
						t.Fatalf("warned: %s", w)
					}
				}
				return
			}
			loadCheckWarning(t, cfg, "users[x].contacts", "push contact via pagerduty names no pagerduty_service", "name the service of each contact")
		})
	}
}
