package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/pagerd/pagerd/policy"
)

// `pagerd schedule -o ics` writes the weeks it would print as a calendar
// feed that a real iCalendar parser reads back, stamped with the clock.
func TestScheduleICS(t *testing.T) {
	out, errOut, code := pagerd(t, "schedule", "--config", aivo, "--from", "2025-08-25", "--weeks", "2", "-o", "ics")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, "BEGIN:VCALENDAR\r\n") || !strings.HasSuffix(out, "END:VCALENDAR\r\n") {
		t.Fatalf("not a calendar:\n%s", out)
	}
	cal, err := ics.ParseCalendar(strings.NewReader(out))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, out)
	}
	events := cal.Events()
	// Aug 25 to Sep 8, three tiers: each tier's week before Labor Day, the
	// override, and the rest of the next week after it.
	if len(events) != 9 {
		var sums []string
		for _, e := range events {
			sums = append(sums, e.GetProperty(ics.ComponentPropertySummary).Value)
		}
		t.Fatalf("%d events:\n%s", len(events), strings.Join(sums, "\n"))
	}
	for _, e := range events {
		if st, err := e.GetDtStampTime(); err != nil || !st.Equal(time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)) {
			t.Errorf("DTSTAMP %s %v, want the clock", st, err)
		}
	}

	out, errOut, code = pagerd(t, "schedule", "--config", aivo, "--from", "2025-08-25", "--weeks", "2", "-o", "ics", "--user", "david")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	cal, err = ics.ParseCalendar(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range cal.Events() {
		st, _ := e.GetStartAt()
		en, _ := e.GetEndAt()
		got = append(got, st.Format(time.RFC3339)+" "+en.Format(time.RFC3339))
	}
	// David is escalation lead Aug 25-Sep 1 and holds it through Labor Day.
	want := []string{"2025-08-25T12:00:00Z 2025-08-30T04:00:00Z", "2025-08-30T04:00:00Z 2025-09-03T04:00:00Z"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("David's feed:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// check-config prints fairness problems in the 12 weeks from --at as
// warnings (exit 0); --strict fails on them.
func TestCheckConfigFairness(t *testing.T) {
	unsetSeedSecrets(t)
	text, err := os.ReadFile(aionr)
	if err != nil {
		t.Fatal(err)
	}
	swapped := strings.Replace(string(text), "\nescalation_policies:\n",
		"    overrides:\n      - {reason: swap, from: \"2025-10-20T00:00:00Z\", until: \"2025-10-27T00:00:00Z\", tiers: {primary: eng-b}}\n\nescalation_policies:\n", 1)
	f := filepath.Join(t.TempDir(), "aion-r.yaml")
	if err := os.WriteFile(f, []byte(swapped), 0o644); err != nil {
		t.Fatal(err)
	}
	want := f + ": warning: schedules[aion-r-oncall].fairness[0]: Engineer B (eng-b) is on call for 2 weeks without a break, Mon 2025-10-13 00:00 to Mon 2025-10-27 00:00 (UTC); the schedule allows no back-to-back weeks\n"
	// The test clock is 2025-09-10: the 12 weeks from Sep 8 reach Oct 13.
	out, errOut, code := pagerd(t, "check-config", f)
	if code != 0 || !strings.Contains(errOut, want) || !strings.Contains(out, "23 warning(s)") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if _, errOut, _ = pagerd(t, "check-config", "--at", "2026-01-05T00:00:00Z", f); strings.Contains(errOut, "fairness") {
		t.Errorf("from January, the October swap is out of sight:\n%s", errOut)
	}
	if _, errOut, code = pagerd(t, "check-config", "--strict", "--at", "2025-10-01T00:00:00Z", f); code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("--strict: exit %d\n%s", code, errOut)
	}
	if _, errOut, code = pagerd(t, "check-config", "--at", "soon", f); code != 1 || !strings.Contains(errOut, "RFC 3339") {
		t.Errorf("bad --at: exit %d\n%s", code, errOut)
	}
	// pagerd schedule -o json says it on stderr.
	out, errOut, code = pagerd(t, "schedule", "--config", f, "--from", "2025-10-13", "--weeks", "2", "-o", "json")
	if code != 0 || !strings.Contains(errOut, "pagerd schedule: warning: schedules[aion-r-oncall].fairness[0]: Engineer B is on call for 2 weeks") || !strings.HasPrefix(out, "[") {
		t.Errorf("schedule -o json: exit %d\n%s", code, errOut)
	}
}

func TestScheduleFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"schedule", "--config", qstart, "-o", "yaml"}, `-o "yaml": use text, json or ics`},
		{[]string{"schedule", "--config", qstart, "--user", "demo"}, "--user works with -o ics"},
		{[]string{"schedule", "--config", qstart, "-o", "ics", "--user", "ghost"}, `no user "ghost"`},
	} {
		_, errOut, code := pagerd(t, tc.args...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("pagerd %q: exit %d, stderr %q; want %q", tc.args, code, errOut, tc.want)
		}
	}
}

// TestScheduleFromOnADayMidnightIsSkipped: `--from` a date is that day's
// handoff; with a 00:00 handoff in Santiago on the day its clocks skip
// midnight, that is 01:00 that day, not 23:00 the day before (whose week
// would be shown instead).
func TestScheduleFromOnADayMidnightIsSkipped(t *testing.T) {
	cfg, err := policy.Parse([]byte(`
users:
  - {id: ann, name: Ann, contacts: [{channel: sms, via: log}]}
schedules:
  - name: s
    time_zone: America/Santiago
    handoff: {weekday: sunday, time: "00:00"}
    tiers: [{name: primary, start: 2026-08-30, members: [ann]}]
escalation_policies:
  - name: p
    levels: [{name: primary, targets: [{schedule: s, tier: primary}], timeout: 15m}]
services:
  - {name: api, priority_scheme: P0-P3, escalation_policy: p}
`), "skip.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	scl, _ := time.LoadLocation("America/Santiago")
	got, err := parseFrom("2026-09-06", cfg.Schedule("s"))
	if want := time.Date(2026, 9, 6, 1, 0, 0, 0, scl); err != nil || !got.Equal(want) {
		t.Fatalf("--from 2026-09-06 is %s %v, want %s", got.In(scl), err, want)
	}
}
