package report

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func names(hs []TierHolder) string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Tier+"="+h.User)
	}
	return strings.Join(out, " ")
}

func ids(incs []HandoffIncident) string {
	var out []string
	for _, i := range incs {
		out = append(out, i.ID)
	}
	return strings.Join(out, " ")
}

// TestAIVOHandoffByHand: the AIVO handoff of Monday Oct 13, written at
// 07:45, a quarter of an hour before it.
func TestAIVOHandoffByHand(t *testing.T) {
	cfg := loadSeed(t, "aivo.yaml")
	ny := mustZone(t, "America/New_York")
	d, err := Handoff(cfg, "aivo-oncall", time.Date(2025, 10, 13, 7, 45, 0, 0, ny), aivoWeeks(t))
	if err != nil {
		t.Fatal(err)
	}
	// The nearest handoff is the coming one, 08:00 that morning; the
	// outgoing week began the Monday before.
	if !d.Handoff.Equal(time.Date(2025, 10, 13, 8, 0, 0, 0, ny)) || !d.From.Equal(time.Date(2025, 10, 6, 8, 0, 0, 0, ny)) || d.Template != "text" {
		t.Errorf("handoff %s, week from %s, template %s", d.Handoff, d.From, d.Template)
	}
	// Oct 6 is the rotation's eighth week (from Aug 18): primary members[7
	// mod 4] Jennifer, secondary Marcus, escalation lead members[7 mod 5]
	// Marcus; Oct 13: Marcus, Emily, and members[8 mod 5] Emily.
	if got := names(d.Outgoing); got != "primary=jennifer secondary=marcus escalation_lead=marcus" {
		t.Errorf("outgoing %s", got)
	}
	if got := names(d.Incoming); got != "primary=marcus secondary=emily escalation_lead=emily" {
		t.Errorf("incoming %s", got)
	}
	// The ten incidents of the week: P0 A, H; P1 B; P2 C, D, E, F; P3 I,
	// J, G. Major (P0 and P1): A, B, H by time.
	if got := fmt.Sprint(d.Incidents, d.ByPriority); got != "10 [{P0 2 4} {P1 1 1} {P2 4 4} {P3 3 3}]" {
		t.Errorf("incidents %s", got)
	}
	if got := ids(d.Major); got != "00-a 00-b 00-h" {
		t.Errorf("major %s", got)
	}
	// Open at 07:45: G, acknowledged by Jennifer, with her update.
	if len(d.Open) != 1 || d.Open[0].ID != "00-g" || d.Open[0].Status != "acknowledged" || d.Open[0].AcknowledgedByName != "Jennifer Liu" ||
		d.Open[0].LastUpdate == nil || d.Open[0].LastUpdate.Text != "renewal ticket filed, waiting on the vendor" {
		t.Errorf("open %+v", d.Open)
	}
	if d.Health != HealthYellow || d.HealthReason != "1 incident open, the most urgent P3" {
		t.Errorf("health %s (%s)", d.Health, d.HealthReason)
	}
	// Escalations by time: A to the secondary at 03:15 Tuesday, H to the
	// executives at once Thursday, F to the secondary Saturday 10:00.
	var esc []string
	for _, e := range d.Escalations {
		esc = append(esc, fmt.Sprintf("%s %s L%d %s", e.At.In(ny).Format("Mon 15:04"), e.Incident, e.Level, e.LevelName))
	}
	if got := strings.Join(esc, ", "); got != "Tue 03:15 00-a L2 secondary, Thu 15:00 00-h L4 executives, Sat 10:00 00-f L2 secondary" {
		t.Errorf("escalations %s", got)
	}
	// DiskFilling opened C, D, E and F: more than 3 times. BackupSlow (2)
	// does not recur.
	if len(d.Recurring) != 1 || d.Recurring[0].AlertName != "DiskFilling" || d.Recurring[0].Count != 4 ||
		strings.Join(d.Recurring[0].Incidents, " ") != "00-c 00-d 00-e 00-f" {
		t.Errorf("recurring %+v", d.Recurring)
	}
	if got := ids(d.FalsePositives); got != "00-d" {
		t.Errorf("false positives %s", got)
	}
	// The template's prompts stay where pagerd cannot know the answer.
	text := d.String()
	for _, want := range []string{"=== ON-CALL HANDOFF ===\nDate: 2025-10-13\nOutgoing: Jennifer Liu\nIncoming: Marcus Rodriguez\n",
		"- Performance: [Any concerns]", "- [Change 1]: [Impact and monitoring]", "- [Scheduled maintenance]",
		"- [Planned deployments]", "- [Executive communications]", "- [Action 1]: [By when]", "[Any other relevant information]"} {
		if !strings.Contains(text, want) {
			t.Errorf("the document lacks %q", want)
		}
	}
}

// TestHandoffNearestHandoff: the document is for the handoff nearest to
// when it is written; what happened after the handoff is open business
// for the incoming engineer, not the outgoing week's.
func TestHandoffNearestHandoff(t *testing.T) {
	cfg := loadSeed(t, "aivo.yaml")
	ny := mustZone(t, "America/New_York")
	for _, tc := range []struct {
		at, handoff     time.Time
		incidents       int
		open, outgoing  string
		health          string
		majorOrEscalate string
	}{
		// Half an hour after the handoff: the same week, and the P0 opened
		// at 08:00 is open.
		{time.Date(2025, 10, 13, 8, 30, 0, 0, ny), time.Date(2025, 10, 13, 8, 0, 0, 0, ny), 10, "00-g 00-after", "jennifer", HealthRed, "00-a 00-b 00-h"},
		// Thursday noon is nearer the Monday before (3d4h) than the next
		// (3d20h): the week of Sep 29 (K, L), Alex going off; C is open
		// then (resolved Thursday 16:00).
		{time.Date(2025, 10, 9, 12, 0, 0, 0, ny), time.Date(2025, 10, 6, 8, 0, 0, 0, ny), 2, "00-c", "alex", HealthYellow, "00-k 00-l"},
		// Friday 17:00 (AIVO's weekend handoff) is nearer the coming
		// Monday: the week so far, E and later not yet there.
		{time.Date(2025, 10, 10, 17, 0, 0, 0, ny), time.Date(2025, 10, 13, 8, 0, 0, 0, ny), 7, "", "jennifer", HealthGreen, "00-a 00-b 00-h"},
	} {
		d, err := Handoff(cfg, "aivo-oncall", tc.at, aivoWeeks(t))
		if err != nil {
			t.Fatal(err)
		}
		if !d.Handoff.Equal(tc.handoff) || d.Incidents != tc.incidents || ids(d.Open) != tc.open || d.Outgoing[0].User != tc.outgoing ||
			d.Health != tc.health || ids(d.Major) != tc.majorOrEscalate {
			t.Errorf("at %s: handoff %s, %d incidents, open %q, outgoing %s, health %s, major %q", tc.at, d.Handoff, d.Incidents,
				ids(d.Open), d.Outgoing[0].User, d.Health, ids(d.Major))
		}
	}
	// C seen on Thursday at noon: acknowledged, no update yet.
	d, _ := Handoff(cfg, "aivo-oncall", time.Date(2025, 10, 9, 12, 0, 0, 0, ny), aivoWeeks(t))
	if c := d.Open[0]; c.Status != "acknowledged" || c.LastUpdate != nil || !c.ResolvedAt.IsZero() {
		t.Errorf("C on Thursday %+v", c)
	}
	if _, err := Handoff(cfg, "nope", time.Now(), nil); err == nil || err.Error() != `no schedule "nope" is defined` {
		t.Errorf("err = %v", err)
	}
}

// TestAIONRHandoffByHand: the AION-R handoff of Monday Oct 13 00:00 UTC,
// written the evening before.
func TestAIONRHandoffByHand(t *testing.T) {
	cfg := loadSeed(t, "aion-r.yaml")
	d, err := Handoff(cfg, "aion-r-oncall", time.Date(2025, 10, 12, 22, 0, 0, 0, time.UTC), aionWeek(t))
	if err != nil {
		t.Fatal(err)
	}
	if d.Template != "markdown" || names(d.Outgoing) != "primary=eng-a secondary=eng-b tertiary=lead-x" || names(d.Incoming) != "primary=eng-b secondary=eng-c tertiary=lead-x" {
		t.Errorf("template %s, outgoing %s, incoming %s", d.Template, names(d.Outgoing), names(d.Incoming))
	}
	// SEV-1 P2, P4; SEV-2 P5, P1 (major, by time: P5, P1, P2, P4); SEV-3
	// P9, P6, P3, P8; SEV-4 P7.
	if got := fmt.Sprint(d.Incidents, d.ByPriority); got != "9 [{SEV-1 2 3} {SEV-2 2 2} {SEV-3 4 4} {SEV-4 1 1}]" {
		t.Errorf("incidents %s", got)
	}
	if got := ids(d.Major); got != "01-p5 01-p1 01-p2 01-p4" {
		t.Errorf("major %s", got)
	}
	// ReplicaLag: P9, P6, P3, P8, more than 3.
	if len(d.Recurring) != 1 || d.Recurring[0].AlertName != "ReplicaLag" || d.Recurring[0].Count != 4 {
		t.Errorf("recurring %+v", d.Recurring)
	}
	if len(d.Open) != 1 || d.Open[0].ID != "01-p8" || d.Open[0].LastUpdate.Text != "lag from the nightly batch; watching" {
		t.Errorf("open %+v", d.Open)
	}
	if len(d.Escalations) != 2 || d.Escalations[0].Incident != "01-p5" || d.Escalations[1].Detail != "unresolved after 1h" || d.Escalations[1].LevelName != "tertiary" {
		t.Errorf("escalations %+v", d.Escalations)
	}
	md := d.String()
	for _, want := range []string{"# On-Call Handoff - 2025-10-13\n", "## Active Issues\n### Issue 1: [SEV-3] Replica lag on pg-2\n",
		"- Impact: [User impact]", "- Owner: Engineer A", "## Recurring Problems\n- ReplicaLag\n- Frequency: 4 incidents this week",
		"- Mitigation: [Current workaround]", "## Recent Changes\n- [Date]: [Deployment or change]", "- [Alert tuning needed]"} {
		if !strings.Contains(md, want) {
			t.Errorf("the document lacks %q", want)
		}
	}
}

func TestMarkdownEscapesSenderText(t *testing.T) {
	for in, want := range map[string]string{
		"America/New_York":       "America/New_York",
		"_emphasis_ and *bold*":  `\_emphasis\_ and \*bold\*`,
		"a | b <script> `code`":  "a \\| b &lt;script&gt; \\`code\\`",
		"[P0] API down (00-abc)": "[P0] API down (00-abc)",
		// A sender's link or image is shown as written, not made one.
		"see [runbook](https://evil.example/login)": `see [runbook\](https://evil.example/login)`,
		"![x](https://evil.example/p.png) [P1]":     `![x\](https://evil.example/p.png) [P1]`,
	} {
		if got := mdText(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// TestHandoffEscalationOfAnOlderIncident: an incident from before the
// week, still open, that escalated during it is in the week's escalations
// and among the open issues, not in the week's count.
func TestHandoffEscalationOfAnOlderIncident(t *testing.T) {
	cfg := loadSeed(t, "aion-r.yaml")
	old := incident(time.UTC, "01-old", "aion-r-platform", "SEV-3", "2025-10-02 10:00", "Slow leak in the cache", nil,
		page(0, 1, "eng-h", "push"), ack(10*m, 1, "eng-h"), escalate(6*24*time.Hour, 2, "escalated by eng-a"), page(6*24*time.Hour, 2, "eng-b", "push"))
	d, err := Handoff(cfg, "aion-r-oncall", time.Date(2025, 10, 12, 22, 0, 0, 0, time.UTC), append(aionWeek(t), old))
	if err != nil {
		t.Fatal(err)
	}
	if d.Incidents != 9 || ids(d.Open) != "01-old 01-p8" {
		t.Errorf("%d incidents, open %s", d.Incidents, ids(d.Open))
	}
	var esc []string
	for _, e := range d.Escalations {
		esc = append(esc, e.Incident)
	}
	// Oct 8 10:00 (the old one), between P5's (Oct 7) and P2's (Oct 8 21:00).
	if got := strings.Join(esc, " "); got != "01-p5 01-old 01-p2" {
		t.Errorf("escalations %s", got)
	}
}

// TestAIVOLaborDayHandoffNamesTheWeeksPeople: the AIVO handoff of Monday
// Sep 1, 08:00, falls in the seed's Labor Day coverage (Emily, Marcus,
// David until Wed Sep 3 00:00). The document names who holds each tier
// and the rotation's person they cover for, outgoing (Aug 25-31: Emily,
// Alex, David) and incoming (Sep 1-7: Alex, Jennifer, Marcus), and until
// when.
// (Before, it named only who held each tier at the instant: the
// coverage's people, outgoing and incoming both, and the week's people
// nowhere.)
func TestAIVOLaborDayHandoffNamesTheWeeksPeople(t *testing.T) {
	cfg := loadSeed(t, "aivo.yaml")
	ny := mustZone(t, "America/New_York")
	d, err := Handoff(cfg, "aivo-oncall", time.Date(2025, 9, 1, 8, 0, 0, 0, ny), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Whom pages go to: the coverage's people.
	for _, hs := range [][]TierHolder{d.Outgoing, d.Incoming} {
		if got := names(hs); got != "primary=emily secondary=marcus escalation_lead=david" {
			t.Errorf("holders %s", got)
		}
	}
	weeks := func(hs []TierHolder) string {
		var out []string
		for _, h := range hs {
			if o := h.Override; o != nil {
				out = append(out, fmt.Sprintf("%s=%s until %s (%s)", h.Tier, o.RotationUser, o.Until.In(ny).Format("Jan 2 15:04"), o.Reason))
			}
		}
		return strings.Join(out, " ")
	}
	// Emily and David held their tiers the week before too.
	if got := weeks(d.Outgoing); got != "secondary=alex until Sep 1 08:00 (Labor Day weekend)" {
		t.Errorf("outgoing, the rotation's: %s", got)
	}
	if got, want := weeks(d.Incoming), "primary=alex until Sep 3 00:00 (Labor Day weekend) secondary=jennifer until Sep 3 00:00 (Labor Day weekend) "+
		"escalation_lead=marcus until Sep 3 00:00 (Labor Day weekend)"; got != want {
		t.Errorf("incoming, the rotation's: %s", got)
	}
	var text strings.Builder
	if err := d.RenderText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Outgoing: Emily Watson\n",
		"Incoming: Emily Watson (covering for Alex Thompson until Wed 2025-09-03 00:00: Labor Day weekend)\n"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the text does not say %q:\n%s", want, text.String())
		}
	}
	var md strings.Builder
	if err := d.RenderMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if want := "Secondary On-Call: Marcus Rodriguez (covering for Jennifer Liu until Wed 2025-09-03 00:00: Labor Day weekend)"; !strings.Contains(md.String(), want) {
		t.Errorf("the markdown does not say %q:\n%s", want, md.String())
	}
}

// TestHandoffOutgoingCoverEndsWithTheWeek: Labor Day's coverage runs
// past the handoff of Monday Sep 1 08:00, but Alex's turn as secondary
// ends at it: Marcus covers for Alex until then, and for Jennifer (the
// incoming week's) from then on until Wednesday. Saying he covers for
// Alex until Wednesday told Alex his shift came back to him then.
func TestHandoffOutgoingCoverEndsWithTheWeek(t *testing.T) {
	cfg := loadSeed(t, "aivo.yaml")
	ny := mustZone(t, "America/New_York")
	d, err := Handoff(cfg, "aivo-oncall", time.Date(2025, 9, 1, 8, 0, 0, 0, ny), nil)
	if err != nil {
		t.Fatal(err)
	}
	until := func(hs []TierHolder, tier string) string {
		for _, h := range hs {
			if h.Tier == tier && h.Override != nil {
				return h.Override.RotationUser + " until " + h.Override.Until.In(ny).Format("Jan 2 15:04")
			}
		}
		return "no override"
	}
	if got := until(d.Outgoing, "secondary"); got != "alex until Sep 1 08:00" {
		t.Errorf("outgoing secondary: %s", got)
	}
	if got := until(d.Incoming, "secondary"); got != "jennifer until Sep 3 00:00" {
		t.Errorf("incoming secondary: %s", got)
	}
	var md strings.Builder
	if err := d.RenderMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if want := "Secondary On-Call: Marcus Rodriguez (covering for Alex Thompson until Mon 2025-09-01 08:00: Labor Day weekend)"; !strings.Contains(md.String(), want) {
		t.Errorf("the markdown does not say %q:\n%s", want, md.String())
	}
}

// TestHandoffListsTheWeeksChanges: the text template's RECENT CHANGES
// lists the week's changes, each with its impact prompt kept, the latest
// MaxHandoffChanges of them and a count of the rest; with none, the
// template's prompts stay.
func TestHandoffListsTheWeeksChanges(t *testing.T) {
	cfg := loadSeed(t, "aivo.yaml")
	ny := mustZone(t, "America/New_York")
	d, err := Handoff(cfg, "aivo-oncall", time.Date(2025, 10, 13, 7, 45, 0, 0, ny), aivoWeeks(t))
	if err != nil {
		t.Fatal(err)
	}
	d.SetChanges(nil)
	if !strings.Contains(d.String(), "RECENT CHANGES:\n- [Change 1]: [Impact and monitoring]\n- [Change 2]: [Impact and monitoring]\n\n") {
		t.Fatalf("no changes:\n%s", d)
	}
	var list []Change
	for i := range MaxHandoffChanges + 2 {
		list = append(list, Change{At: time.Date(2025, 10, 7, 12, i, 0, 0, time.UTC), Service: "aivo-production", Summary: fmt.Sprintf("deploy %d", i),
			Source: "github-actions", Link: fmt.Sprintf("https://ci.example.com/%d", i)})
	}
	d.SetChanges(list)
	want := "RECENT CHANGES:\n- 2 earlier changes this week not listed: GET /api/v1/changes?since=2025-10-06T12:00:00Z\n" +
		"- Tue 2025-10-07 08:02 aivo-production: deploy 2 (from github-actions) https://ci.example.com/2: [Impact and monitoring]\n"
	if got := d.String(); !strings.Contains(got, want) || !strings.Contains(got, "deploy 31 (from github-actions) https://ci.example.com/31: [Impact and monitoring]\n\nUPCOMING:") ||
		d.ChangesLeftOut != 2 || len(d.Changes) != MaxHandoffChanges {
		t.Fatalf("%d changes:\n%s\nwant in it:\n%s", len(list), got, want)
	}
}
