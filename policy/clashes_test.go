package policy

import (
	"strings"
	"testing"
)

// TestTierClashesSeedConfigs: the seed's AIVO table (to Oct 5) puts nobody
// on two tiers at once; past it the five escalation leads drift against
// the four engineers and do, week after week, which `pagerd schedule`
// lists so that swaps can be made when the table is published. The
// Thanksgiving override, which gives the escalation lead to Sarah, splits
// Alex's clash around it. AION-R's rotations never clash.
func TestTierClashesSeedConfigs(t *testing.T) {
	aivo := loadExample(t, "aivo.yaml").Schedule("aivo-oncall")
	ny := aivo.Location()
	describe := func(cs []TierClash) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Describe(aivo, nil))
		}
		return strings.Join(out, "\n")
	}
	if got := describe(aivo.TierClashes(at(t, ny, "2025-08-18T08:00:00"), at(t, ny, "2025-10-06T08:00:00"))); got != "" {
		t.Errorf("the seed's own table has clashes:\n%s", got)
	}
	got := describe(aivo.TierClashes(at(t, ny, "2025-10-06T08:00:00"), at(t, ny, "2025-10-13T08:00:00")))
	want := "marcus holds Secondary On-Call and Escalation Lead at once, Mon 2025-10-06 08:00 to Mon 2025-10-13 08:00 (America/New_York): an escalation from one to the other pages them again, nobody new"
	if got != want {
		t.Errorf("Oct 6 week:\n%s\nwant:\n%s", got, want)
	}
	got = describe(aivo.TierClashes(at(t, ny, "2025-11-24T08:00:00"), at(t, ny, "2025-12-01T08:00:00")))
	want = "alex holds Primary On-Call and Escalation Lead at once, Mon 2025-11-24 08:00 to Thu 2025-11-27 00:00 (America/New_York): an escalation from one to the other pages them again, nobody new\n" +
		"alex holds Primary On-Call and Escalation Lead at once, Sun 2025-11-30 00:00 to Mon 2025-12-01 08:00 (America/New_York): an escalation from one to the other pages them again, nobody new"
	if got != want {
		t.Errorf("Thanksgiving week:\n%s\nwant:\n%s", got, want)
	}
	// Two weeks running on the same pair of tiers are one span each week:
	// the holder changes at the handoff.
	if n := len(aivo.TierClashes(at(t, ny, "2025-10-06T08:00:00"), at(t, ny, "2025-11-03T08:00:00"))); n != 4 {
		t.Errorf("%d clashes Oct 6 to Nov 3, want 4 (one a week)", n)
	}
	aion := loadExample(t, "aion-r.yaml").Schedule("aion-r-oncall")
	if cs := aion.TierClashes(utc(t, "2025-10-06T00:00:00Z"), utc(t, "2026-10-05T00:00:00Z")); len(cs) > 0 {
		t.Errorf("AION-R clashes: %v", cs)
	}
}

// TestTierClashAcrossAnOverrideIsOneSpan: a clash lasts as long as the
// person holds both tiers, across the holder's spans of either: an
// override that gives Marcus the escalation lead he already holds (Oct 8
// to 10) splits that tier's spans but not his clash. One that keeps him
// escalation lead into the next week, where he is primary, is a clash of
// those two tiers from the handoff to its end, and Emily's from there.
func TestTierClashAcrossAnOverrideIsOneSpan(t *testing.T) {
	thanksgiving := "        tiers: {primary: jennifer, secondary: alex, escalation_lead: sarah}\n"
	text := loadEdit(t, loadExampleText(t, "aivo.yaml"), thanksgiving, thanksgiving+
		"      - {reason: cover, from: \"2025-10-08T00:00:00-04:00\", until: \"2025-10-10T00:00:00-04:00\", tiers: {escalation_lead: marcus}}\n"+
		"      - {reason: swap, from: \"2025-10-13T08:00:00-04:00\", until: \"2025-10-15T00:00:00-04:00\", tiers: {escalation_lead: marcus}}\n")
	cfg, err := Parse([]byte(text), "aivo.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Schedule("aivo-oncall")
	ny := s.Location()
	var got []string
	for _, c := range s.TierClashes(at(t, ny, "2025-10-06T08:00:00"), at(t, ny, "2025-10-20T08:00:00")) {
		got = append(got, c.User+" "+c.Tiers[0]+"+"+c.Tiers[1]+" "+c.From.In(ny).Format(stampLayout)+" - "+c.Until.In(ny).Format(stampLayout))
	}
	want := []string{
		"marcus secondary+escalation_lead Mon 2025-10-06 08:00 - Mon 2025-10-13 08:00",
		"marcus primary+escalation_lead Mon 2025-10-13 08:00 - Wed 2025-10-15 00:00",
		"emily secondary+escalation_lead Wed 2025-10-15 00:00 - Mon 2025-10-20 08:00",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("clashes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
