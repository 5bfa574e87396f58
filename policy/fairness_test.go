package policy

import (
	"fmt"
	"strings"
	"testing"
)

// Fairness rules: AIVO's "no more than 2 consecutive weeks" and AION-R's
// "no back-to-back weeks", checked on the rotation with overrides applied.

// fairDescribe lists the problems of a schedule over a range, ids as names.
func fairDescribe(s *Schedule, problems []FairnessProblem) []string {
	var out []string
	for _, p := range problems {
		out = append(out, fmt.Sprintf("[%d] %s", p.Rule, p.Describe(s, nil)))
	}
	return out
}

func fairCheck(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The seed configs as written: AION-R's rotation never puts anyone on the
// same tier two weeks running; AIVO's keeps every engineer to two weeks of
// primary and secondary, except that the seed's own Labor Day coverage
// keeps Emily on call 40 hours past her two weeks, which is what the check
// is for.
func TestFairnessSeedConfigs(t *testing.T) {
	aion := loadExample(t, "aion-r.yaml").Schedule("aion-r-oncall")
	fairCheck(t, fairDescribe(aion, aion.FairnessProblems(utc(t, "2025-10-06T00:00:00Z"), utc(t, "2026-10-05T00:00:00Z"))))
	aivo := loadExample(t, "aivo.yaml").Schedule("aivo-oncall")
	ny := aivo.Location()
	fairCheck(t, fairDescribe(aivo, aivo.FairnessProblems(at(t, ny, "2025-08-18T08:00:00"), at(t, ny, "2026-08-17T08:00:00"))),
		"[0] emily is on call for 2 weeks, 1 day and 16 hours without a break, Mon 2025-08-18 08:00 to Wed 2025-09-03 00:00 (America/New_York); the limit is 2 consecutive weeks")
	// Counting the escalation lead too would flag the seed's own table:
	// its five-person rotation drifts against the four engineers.
	aivo.Fairness = []FairnessRule{{MaxConsecutiveWeeks: 2}}
	got := fairDescribe(aivo, aivo.FairnessProblems(at(t, ny, "2025-09-08T08:00:00"), at(t, ny, "2025-09-15T08:00:00")))
	fairCheck(t, got, "[0] marcus is on call for 3 weeks, 2 days and 8 hours without a break, Sat 2025-08-30 00:00 to Mon 2025-09-22 08:00 (America/New_York); the limit is 2 consecutive weeks",
		"[0] emily is on call for 3 weeks without a break, Mon 2025-09-08 08:00 to Mon 2025-09-29 08:00 (America/New_York); the limit is 2 consecutive weeks")
}

// A swap that gives eng-b the primary week after her own breaks AION-R's
// rule; check-config says so, naming the rule's field.
func TestFairnessSwapMakesBackToBack(t *testing.T) {
	text := loadEdit(t, loadExampleText(t, "aion-r.yaml"), "escalation_policies:\n",
		"    overrides:\n      - {reason: swap with eng-c, from: \"2025-10-20T00:00:00Z\", until: \"2025-10-27T00:00:00Z\", tiers: {primary: eng-b}}\n\nescalation_policies:\n")
	cfg, err := Parse([]byte(text), "aion-r.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w := cfg.FairnessWarnings(utc(t, "2025-10-08T12:00:00Z"))
	want := "schedules[aion-r-oncall].fairness[0]: Engineer B (eng-b) is on call for 2 weeks without a break, Mon 2025-10-13 00:00 to Mon 2025-10-27 00:00 (UTC); the schedule allows no back-to-back weeks"
	if len(w) != 1 || w[0] != want {
		t.Errorf("warnings:\n%s\nwant\n%s", strings.Join(w, "\n"), want)
	}
	// The horizon is the 12 weeks from the week asked about: from Jul 21
	// they end as the stretch begins (Oct 13), from Jul 28 they hold its
	// first week.
	if w := cfg.FairnessWarnings(utc(t, "2025-07-21T00:00:00Z")); len(w) != 0 {
		t.Errorf("from Jul 21, warnings: %q", w)
	}
	if w := cfg.FairnessWarnings(utc(t, "2025-07-28T00:00:00Z")); len(w) != 1 {
		t.Errorf("from Jul 28, warnings: %q", w)
	}
	// Nor does it load-time Warnings(): those do not depend on the date.
	for _, l := range cfg.Warnings() {
		if strings.Contains(l, "fairness") {
			t.Errorf("load warning %q", l)
		}
	}
	// pagerd schedule shows it below the weeks it concerns.
	table := cfg.Schedule("aion-r-oncall").MarkdownTable(utc(t, "2025-10-20T00:00:00Z"), 1, nil)
	if !strings.Contains(table, "\nFairness:\n- eng-b is on call for 2 weeks without a break, Mon 2025-10-13 00:00 to Mon 2025-10-27 00:00 (UTC); the schedule allows no back-to-back weeks\n") {
		t.Errorf("table:\n%s", table)
	}
	if table := cfg.Schedule("aion-r-oncall").MarkdownTable(utc(t, "2025-10-27T00:00:00Z"), 4, nil); strings.Contains(table, "Fairness") {
		t.Errorf("a stretch before the weeks shown is listed:\n%s", table)
	}
}

func TestFairnessStretches(t *testing.T) {
	const head = `  - name: s
    time_zone: America/New_York
    handoff: {weekday: monday, time: "08:00"}
    tiers:
      - name: primary
        start: 2025-10-27
`
	cases := []struct {
		name, rest string
		from       string // New York wall clock; the range is four weeks
		want       []string
	}{
		{"two weeks across fall back are two weeks", "        members: [ann, ann, bob, cat]\n    fairness: [{max_consecutive_weeks: 2}]\n",
			"2025-10-27T08:00:00", nil},
		{"and back to back", "        members: [ann, ann, bob, cat]\n    fairness: [{no_back_to_back: true}]\n",
			"2025-10-27T08:00:00", []string{"[0] ann is on call for 2 weeks without a break, Mon 2025-10-27 08:00 to Mon 2025-11-10 08:00 (America/New_York); the schedule allows no back-to-back weeks"}},
		{"measured from its start before the range", "        members: [ann, ann, ann, bob]\n    fairness: [{max_consecutive_weeks: 2}]\n",
			"2025-11-10T08:00:00", []string{
				"[0] ann is on call for 3 weeks without a break, Mon 2025-10-27 08:00 to Mon 2025-11-17 08:00 (America/New_York); the limit is 2 consecutive weeks",
				"[0] ann is on call for 3 weeks without a break, Mon 2025-11-24 08:00 to Mon 2025-12-15 08:00 (America/New_York); the limit is 2 consecutive weeks",
			}},
		{"a two-hour break is no rest", "        members: [ann, bob, cat]\n    fairness: [{no_back_to_back: true}]\n    overrides:\n      - {from: \"2025-11-03T10:00:00-05:00\", until: \"2025-11-10T08:00:00-05:00\", tiers: {primary: ann}}\n",
			"2025-10-27T08:00:00", []string{"[0] ann is on call for 2 weeks without a break, Mon 2025-10-27 08:00 to Mon 2025-11-10 08:00 (America/New_York); the schedule allows no back-to-back weeks"}},
		{"a day's break is", "        members: [ann, bob, cat]\n    fairness: [{no_back_to_back: true}]\n    overrides:\n      - {from: \"2025-11-04T08:00:00-05:00\", until: \"2025-11-10T08:00:00-05:00\", tiers: {primary: ann}}\n",
			"2025-10-27T08:00:00", nil},
		// ann, bob and cat: primary one week, secondary the week before or
		// after, so two weeks running on the pair of tiers, never on one.
		{"rules count only their tiers", "        members: [ann, bob, cat]\n      - name: secondary\n        start: 2025-10-27\n        members: [bob, cat, ann]\n    fairness:\n      - {tiers: [primary], no_back_to_back: true}\n      - {tiers: [primary, secondary], max_consecutive_weeks: 2}\n      - {tiers: [primary, secondary], no_back_to_back: true}\n",
			"2025-10-27T08:00:00", []string{
				"[2] ann is on call for 2 weeks without a break, Mon 2025-10-20 08:00 to Mon 2025-11-03 08:00 (America/New_York); the schedule allows no back-to-back weeks",
				"[2] bob is on call for 2 weeks without a break, Mon 2025-10-27 08:00 to Mon 2025-11-10 08:00 (America/New_York); the schedule allows no back-to-back weeks",
				"[2] cat is on call for 2 weeks without a break, Mon 2025-11-03 08:00 to Mon 2025-11-17 08:00 (America/New_York); the schedule allows no back-to-back weeks",
				"[2] ann is on call for 2 weeks without a break, Mon 2025-11-10 08:00 to Mon 2025-11-24 08:00 (America/New_York); the schedule allows no back-to-back weeks",
				"[2] bob is on call for 2 weeks without a break, Mon 2025-11-17 08:00 to Mon 2025-12-01 08:00 (America/New_York); the schedule allows no back-to-back weeks",
			}},
	}
	for _, c := range cases[:5] {
		t.Run(c.name, func(t *testing.T) {
			s := rotConfig(t, head+c.rest).Schedule("s")
			from := at(t, s.Location(), c.from)
			fairCheck(t, fairDescribe(s, s.FairnessProblems(from, from.AddDate(0, 0, 28))), c.want...)
		})
	}
}
