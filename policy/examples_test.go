package policy

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// The example configs in ../configs are documentation users copy from, and
// the encoding of the two reference organisations' on-call documents. These
// tests load every one of them and check that they say what the seeds say.

func loadExample(t *testing.T, name string) *Config {
	t.Helper()
	cfg, err := LoadFile(filepath.Join("..", "configs", name))
	if err != nil {
		t.Fatalf("load %s:\n%v", name, err)
	}
	return cfg
}

func exampleLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestExampleConfigsLoad(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "configs", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("found %d example configs in ../configs, want at least 3 (aivo, aion-r, quickstart)", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := LoadFile(f); err != nil {
				t.Fatalf("%v", err)
			}
		})
	}
}

func exampleLevelNames(p *EscalationPolicy) []string {
	var out []string
	for _, l := range p.Levels {
		out = append(out, l.Name)
	}
	return out
}

// exampleLevelTimeout is the timeout a level has for a priority: its per-priority
// entry, else its plain timeout.
func exampleLevelTimeout(l Level, pr string) Timeout {
	if t, ok := l.Timeouts[pr]; ok {
		return t
	}
	return l.Timeout
}

// exampleRotation renders Weeks as display names, "|"-joined per row.
func exampleRotation(cfg *Config, s *Schedule, from time.Time, n int) []string {
	var rows []string
	for _, w := range s.Weeks(from, n) {
		cells := []string{s.WeekLabel(w)}
		for _, id := range w.Holders {
			cells = append(cells, cfg.User(id).DisplayName())
		}
		rows = append(rows, strings.Join(cells, "|"))
	}
	return rows
}

func exampleHolder(t *testing.T, s *Schedule, tier string, at time.Time) Shift {
	t.Helper()
	sh, ok := s.OnCallTier(tier, at)
	if !ok {
		t.Fatalf("schedule %s has no tier %s", s.Name, tier)
	}
	return sh
}

func TestExampleAIVO(t *testing.T) {
	cfg := loadExample(t, "aivo.yaml")
	ny := exampleLoc(t, "America/New_York")

	svc := cfg.Service("aivo-production")
	if svc == nil {
		t.Fatal("no service aivo-production")
	}
	if svc.Scheme().Name != "P0-P3" {
		t.Errorf("scheme %s, want P0-P3", svc.Scheme().Name)
	}
	if svc.Description != "AIVO Production Systems" {
		t.Errorf("description %q", svc.Description)
	}
	if svc.DefaultPriority != "P1" || svc.SeverityLabel != "severity" || svc.IncidentKey != "group" {
		t.Errorf("defaults not filled: default_priority %q severity_label %q incident_key %q",
			svc.DefaultPriority, svc.SeverityLabel, svc.IncidentKey)
	}

	// Business hours: 08:00-18:00 New York, weekdays, holidays closed.
	cal := cfg.Calendar(svc)
	if cal == nil || cal.Name != "aivo-office" {
		t.Fatalf("calendar %v, want aivo-office", cal)
	}
	for _, c := range []struct {
		at   time.Time
		open bool
	}{
		{time.Date(2025, 9, 9, 8, 0, 0, 0, ny), true},     // Tuesday opening
		{time.Date(2025, 9, 9, 7, 59, 0, 0, ny), false},   // before opening
		{time.Date(2025, 9, 9, 18, 0, 0, 0, ny), false},   // 6 PM is off-hours
		{time.Date(2025, 9, 9, 17, 59, 0, 0, ny), true},   // just before
		{time.Date(2025, 9, 6, 12, 0, 0, 0, ny), false},   // Saturday
		{time.Date(2025, 9, 1, 12, 0, 0, 0, ny), false},   // Labor Day
		{time.Date(2025, 9, 2, 12, 0, 0, 0, ny), false},   // Labor Day weekend's holiday coverage
		{time.Date(2025, 11, 27, 12, 0, 0, 0, ny), false}, // Thanksgiving
		{time.Date(2025, 11, 28, 12, 0, 0, 0, ny), false}, // day after
		{time.Date(2025, 12, 1, 12, 0, 0, 0, ny), true},
	} {
		if got := cal.IsOpen(c.at); got != c.open {
			t.Errorf("IsOpen(%s) = %v, want %v", c.at, got, c.open)
		}
	}
	// P3 "next business day" from the Wednesday before Thanksgiving is the
	// Monday after it.
	if got, want := cal.NextBusinessDay(time.Date(2025, 11, 26, 15, 0, 0, 0, ny)), time.Date(2025, 12, 1, 8, 0, 0, 0, ny); !got.Equal(want) {
		t.Errorf("NextBusinessDay = %s, want %s", got, want)
	}

	// Users: seven people, contacts with the default transports, default ladder.
	for _, id := range []string{"marcus", "emily", "alex", "jennifer", "david", "sarah", "michael"} {
		u := cfg.User(id)
		if u == nil {
			t.Errorf("no user %s", id)
			continue
		}
		if len(u.Contacts) != 3 {
			t.Errorf("user %s has %d contacts, want push, sms, voice", id, len(u.Contacts))
		}
		for _, ct := range u.Contacts {
			want := map[string]string{ChannelPush: "pagerduty", ChannelSMS: "twilio", ChannelVoice: "twilio"}[ct.Channel]
			if ct.Via != want {
				t.Errorf("user %s %s via %s, want %s", id, ct.Channel, ct.Via, want)
			}
			if ct.Channel != ChannelPush && (!strings.HasPrefix(ct.Address, "+1555555") || len(ct.Address) != 12) {
				t.Errorf("user %s %s address %q is not the E.164 form of a seed number", id, ct.Channel, ct.Address)
			}
		}
		if !reflect.DeepEqual(u.NotificationRules.High, defaultHigh) || !reflect.DeepEqual(u.NotificationRules.Low, defaultLow) {
			t.Errorf("user %s notification rules %+v, want the defaults", id, u.NotificationRules)
		}
	}
	if u := cfg.User("emily"); u.Location().String() != "America/Los_Angeles" || u.Title != "Senior Platform Engineer" {
		t.Errorf("emily: %s %q", u.Location(), u.Title)
	}
	if u := cfg.User("alex"); u.Location().String() != "America/Chicago" {
		t.Errorf("alex in %s, want America/Chicago", u.Location())
	}
	if b := cfg.User("marcus").Backup; b == nil || b.Name != "Jessica Rodriguez" || b.Relation != "spouse" {
		t.Errorf("marcus backup contact %+v", b)
	}

	// The schedule reproduces the seed's Q4 2025 table.
	s := cfg.Schedule("aivo-oncall")
	if s == nil {
		t.Fatal("no schedule aivo-oncall")
	}
	if s.Location().String() != "America/New_York" || s.Handoff.Day() != time.Monday || s.Handoff.Time.String() != "08:00" {
		t.Errorf("handoff %s %s %s, want Monday 08:00 America/New_York", s.Location(), s.Handoff.Day(), s.Handoff.Time)
	}
	if got := s.Tier("escalation_lead").DisplayTitle(); got != "Escalation Lead" {
		t.Errorf("escalation_lead title %q", got)
	}
	want := []string{
		"Aug 18-24|Marcus Rodriguez|Emily Watson|Jennifer Liu",
		"Aug 25-31|Emily Watson|Alex Thompson|David Park",
		"Sep 1-7|Alex Thompson|Jennifer Liu|Marcus Rodriguez",
		"Sep 8-14|Jennifer Liu|Marcus Rodriguez|Emily Watson",
		"Sep 15-21|Marcus Rodriguez|Emily Watson|Alex Thompson",
		"Sep 22-28|Emily Watson|Alex Thompson|Jennifer Liu",
		"Sep 29-Oct 5|Alex Thompson|Jennifer Liu|David Park",
	}
	if got := exampleRotation(cfg, s, time.Date(2025, 8, 18, 12, 0, 0, 0, ny), 7); !reflect.DeepEqual(got, want) {
		t.Errorf("Q4 table:\n got %q\nwant %q", got, want)
	}
	// Weeks start at 08:00 New York time.
	if sh := exampleHolder(t, s, "primary", time.Date(2025, 8, 25, 7, 59, 0, 0, ny)); sh.User != "marcus" {
		t.Errorf("primary just before Monday 08:00 is %s, want marcus", sh.User)
	}
	if sh := exampleHolder(t, s, "primary", time.Date(2025, 8, 25, 8, 0, 0, 0, ny)); sh.User != "emily" || sh.Override != "" {
		t.Errorf("primary at Monday 08:00 is %s (%q), want emily", sh.User, sh.Override)
	}

	// Holiday coverage replaces all three tiers for whole days, inclusive.
	for _, c := range []struct {
		at                    time.Time
		primary, second, lead string
		override              string
	}{
		{time.Date(2025, 8, 29, 23, 59, 0, 0, ny), "emily", "alex", "david", ""},
		{time.Date(2025, 8, 30, 0, 0, 0, 0, ny), "emily", "marcus", "david", "Labor Day weekend"},
		{time.Date(2025, 9, 1, 12, 0, 0, 0, ny), "emily", "marcus", "david", "Labor Day weekend"},
		{time.Date(2025, 9, 2, 23, 59, 0, 0, ny), "emily", "marcus", "david", "Labor Day weekend"},
		{time.Date(2025, 9, 3, 0, 0, 0, 0, ny), "alex", "jennifer", "marcus", ""},
		// Week of Nov 24: the five-member escalation-lead rotation puts Alex
		// on two tiers; the Thanksgiving override covers most of it.
		{time.Date(2025, 11, 26, 23, 59, 0, 0, ny), "alex", "jennifer", "alex", ""},
		{time.Date(2025, 11, 27, 0, 0, 0, 0, ny), "jennifer", "alex", "sarah", "Thanksgiving"},
		{time.Date(2025, 11, 29, 23, 59, 0, 0, ny), "jennifer", "alex", "sarah", "Thanksgiving"},
		{time.Date(2025, 11, 30, 0, 0, 0, 0, ny), "alex", "jennifer", "alex", ""},
		{time.Date(2025, 12, 1, 8, 0, 0, 0, ny), "jennifer", "marcus", "jennifer", ""},
	} {
		p, sec, l := exampleHolder(t, s, "primary", c.at), exampleHolder(t, s, "secondary", c.at), exampleHolder(t, s, "escalation_lead", c.at)
		if p.User != c.primary || sec.User != c.second || l.User != c.lead || p.Override != c.override || l.Override != c.override {
			t.Errorf("at %s: %s/%s/%s (%q), want %s/%s/%s (%q)", c.at, p.User, sec.User, l.User, p.Override,
				c.primary, c.second, c.lead, c.override)
		}
	}

	// The policy: four levels, P0/P1 at 15/15/30 minutes, P2/P3 on ack targets.
	p := cfg.Policy(svc.EscalationPolicy)
	if p == nil || p.Name != "aivo" {
		t.Fatalf("policy %q", svc.EscalationPolicy)
	}
	if got := exampleLevelNames(p); !reflect.DeepEqual(got, []string{"primary", "secondary", "leadership", "executives"}) {
		t.Errorf("levels %v", got)
	}
	// After the executives' 30 minutes the policy starts over, twice: an
	// unacknowledged P0 never goes quiet at the CTO.
	if p.Repeat != 2 {
		t.Errorf("repeat %d, want 2", p.Repeat)
	}
	var start time.Duration
	for i, want := range []time.Duration{15 * time.Minute, 15 * time.Minute, 30 * time.Minute, 30 * time.Minute} {
		for _, pr := range []string{"P0", "P1"} {
			to := exampleLevelTimeout(p.Levels[i], pr)
			if to.Kind != TimeoutFixed || to.Duration != want {
				t.Errorf("level %s %s timeout %s, want %s", p.Levels[i].Name, pr, to, want)
			}
		}
		for _, pr := range []string{"P2", "P3"} {
			if to := exampleLevelTimeout(p.Levels[i], pr); to.Kind != TimeoutAckTarget {
				t.Errorf("level %s %s timeout %s, want ack_target", p.Levels[i].Name, pr, to)
			}
		}
		start += want
	}
	if start != 90*time.Minute {
		t.Errorf("P0 starts over after %s, want 1h30m (executives at 1h)", start)
	}
	if lead := p.Levels[2].Targets; !reflect.DeepEqual(lead, []Target{{Schedule: "aivo-oncall", Tier: "escalation_lead"}, {User: "david"}}) {
		t.Errorf("leadership targets %+v", lead)
	}
	if ex := p.Levels[3].Targets; !reflect.DeepEqual(ex, []Target{{User: "sarah"}}) {
		t.Errorf("executives targets %+v", ex)
	}
	// The CEO is on no level ("major incidents only").
	for _, l := range p.Levels {
		for _, tg := range l.Targets {
			if tg.User == "michael" {
				t.Errorf("michael is on level %s", l.Name)
			}
		}
	}

	// Targets table.
	for pr, want := range map[string][3]string{
		"P0": {"5m", "15m", "1h"},
		"P1": {"15m", "30m", "4h"},
		"P2": {"1h", "2h", "1d"},
		"P3": {"4h", "next_business_day", "3d"},
	} {
		tg, ok := svc.Targets[pr]
		if !ok {
			t.Errorf("no targets for %s", pr)
			continue
		}
		got := [3]string{tg.Acknowledge.String(), tg.InitialResponse.String(), tg.Resolution.String()}
		if got != want {
			t.Errorf("%s targets %v, want %v", pr, got, want)
		}
		if tg.Urgency != UrgencyHigh {
			t.Errorf("%s urgency %q, want high", pr, tg.Urgency)
		}
	}
	for _, pr := range []string{"P0", "P1"} {
		if svc.Targets[pr].OffHours != nil || svc.Targets[pr].BusinessHours != nil {
			t.Errorf("%s has variants; P0/P1 are the same day and night", pr)
		}
	}
	for _, pr := range []string{"P2", "P3"} {
		off := svc.Targets[pr].OffHours
		if off == nil || off.Urgency != UrgencyLow || off.Acknowledge.String() != "1h" {
			t.Errorf("%s off_hours %+v, want low urgency, acknowledge 1h", pr, off)
		}
	}

	// The executive trigger: P0, executives paged at once.
	if len(svc.Rules) != 1 {
		t.Fatalf("%d rules, want 1", len(svc.Rules))
	}
	r := svc.Rules[0]
	if r.Name != "executive-trigger" || r.Priority != "P0" || !reflect.DeepEqual(r.PageImmediately, []string{"executives"}) {
		t.Errorf("rule %+v", r)
	}
	for _, cat := range []string{"security_breach", "data_loss", "revenue_impact", "customer_data_exposure", "legal_violation"} {
		if !r.matchers.Matches(model.LabelSet{"alertname": "X", "category": model.LabelValue(cat)}) {
			t.Errorf("rule does not match category=%s", cat)
		}
	}
	for _, ls := range []model.LabelSet{
		{"alertname": "X"},
		{"alertname": "X", "category": "security"},
		{"alertname": "X", "category": "data_loss_suspected"},
	} {
		if r.matchers.Matches(ls) {
			t.Errorf("rule matches %v", ls)
		}
	}
	if svc.Integrations.AlertmanagerKey.Reveal() == "" || svc.Integrations.PagerDutyRoutingKey.Reveal() == "" {
		t.Error("integration keys missing")
	}
}

func TestExampleAIONR(t *testing.T) {
	cfg := loadExample(t, "aion-r.yaml")

	svc := cfg.Service("aion-r-platform")
	if svc == nil {
		t.Fatal("no service aion-r-platform")
	}
	if svc.Scheme().Name != "SEV-1-4" {
		t.Errorf("scheme %s, want SEV-1-4", svc.Scheme().Name)
	}
	if svc.DefaultPriority != "SEV-2" {
		t.Errorf("default priority %s, want SEV-2", svc.DefaultPriority)
	}
	if len(svc.Rules) != 0 {
		t.Errorf("%d rules, want none (severity decides)", len(svc.Rules))
	}

	cal := cfg.Calendar(svc)
	if cal == nil || cal.Name != "aion-r-office" || cal.Location() != time.UTC {
		t.Fatalf("calendar %+v", cal)
	}
	// SEV-4 "next business day": a Friday evening alert is due Monday 09:00 UTC.
	if got, want := cal.NextBusinessDay(time.Date(2025, 10, 10, 20, 0, 0, 0, time.UTC)), time.Date(2025, 10, 13, 9, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("NextBusinessDay = %s, want %s", got, want)
	}
	if cal.IsOpen(time.Date(2025, 10, 6, 17, 0, 0, 0, time.UTC)) || !cal.IsOpen(time.Date(2025, 10, 6, 9, 0, 0, 0, time.UTC)) {
		t.Error("business hours are not 09:00-17:00 UTC")
	}

	// Engineers carry the seed's notification rules explicitly.
	for _, id := range []string{"eng-a", "eng-b", "eng-c", "eng-d", "eng-e", "eng-f", "eng-g", "eng-h"} {
		u := cfg.User(id)
		if u == nil {
			t.Errorf("no user %s", id)
			continue
		}
		if want := "Engineer " + strings.ToUpper(id[4:]); u.Name != want {
			t.Errorf("user %s named %q, want %q", id, u.Name, want)
		}
		if !reflect.DeepEqual(u.NotificationRules.High, defaultHigh) {
			t.Errorf("user %s high rules %+v, want push 0s, sms 2m, voice 5m", id, u.NotificationRules.High)
		}
	}
	for id, name := range map[string]string{"lead-x": "Team Lead X", "lead-y": "Team Lead Y", "eng-manager": "Engineering Manager", "vp-eng": "VP Engineering"} {
		if u := cfg.User(id); u == nil || u.Name != name {
			t.Errorf("user %s: %+v, want %q", id, u, name)
		}
	}

	// Schedule: Monday 00:00 UTC; Engineer A's week starts 2025-10-06.
	s := cfg.Schedule("aion-r-oncall")
	if s == nil {
		t.Fatal("no schedule aion-r-oncall")
	}
	if s.Location() != time.UTC || s.Handoff.Day() != time.Monday || s.Handoff.Time.Minutes() != 0 {
		t.Errorf("handoff %s %s %s, want Monday 00:00 UTC", s.Location(), s.Handoff.Day(), s.Handoff.Time)
	}
	if tt := s.Tier("tertiary"); tt == nil || tt.ShiftWeeks != 2 || tt.DisplayTitle() != "Tertiary (Team Lead)" {
		t.Errorf("tertiary tier %+v, want two-week shifts titled Tertiary (Team Lead)", tt)
	}
	if s.Tier("primary").ShiftWeeks != 1 {
		t.Errorf("primary shift_weeks %d, want the default 1", s.Tier("primary").ShiftWeeks)
	}
	want := []string{
		"Oct 6-12|Engineer A|Engineer B|Team Lead X",
		"Oct 13-19|Engineer B|Engineer C|Team Lead X",
		"Oct 20-26|Engineer C|Engineer D|Team Lead Y",
		"Oct 27-Nov 2|Engineer D|Engineer E|Team Lead Y",
	}
	if got := exampleRotation(cfg, s, time.Date(2025, 10, 6, 0, 0, 0, 0, time.UTC), 4); !reflect.DeepEqual(got, want) {
		t.Errorf("example rotation:\n got %q\nwant %q", got, want)
	}
	if sh := exampleHolder(t, s, "primary", time.Date(2025, 10, 5, 23, 59, 59, 0, time.UTC)); sh.User == "eng-a" {
		t.Error("Engineer A is on call before Monday 2025-10-06 00:00 UTC")
	}
	if sh := exampleHolder(t, s, "primary", time.Date(2025, 10, 6, 0, 0, 0, 0, time.UTC)); sh.User != "eng-a" {
		t.Errorf("primary at 2025-10-06 00:00 UTC is %s, want eng-a", sh.User)
	}
	// The secondary is always the next week's primary.
	for w := 0; w < 16; w++ {
		at := time.Date(2025, 10, 6+7*w, 12, 0, 0, 0, time.UTC)
		if sec, next := exampleHolder(t, s, "secondary", at).User, exampleHolder(t, s, "primary", at.AddDate(0, 0, 7)).User; sec != next {
			t.Errorf("week of %s: secondary %s, next primary %s", at.Format("2006-01-02"), sec, next)
		}
	}

	// Policy: three levels, ack maxima as timeouts.
	p := cfg.Policy(svc.EscalationPolicy)
	if p == nil || p.Name != "aion-r" {
		t.Fatalf("policy %q", svc.EscalationPolicy)
	}
	if got := exampleLevelNames(p); !reflect.DeepEqual(got, []string{"primary", "secondary", "tertiary"}) {
		t.Errorf("levels %v", got)
	}
	if p.Repeat != 2 {
		t.Errorf("repeat %d, want 2 (the policy starts over after the team lead)", p.Repeat)
	}
	for _, l := range p.Levels {
		for pr, want := range map[string]string{"SEV-1": "10m", "SEV-2": "20m", "SEV-3": "1h", "SEV-4": "next_business_day"} {
			if got := exampleLevelTimeout(l, pr).String(); got != want {
				t.Errorf("level %s %s timeout %s, want %s", l.Name, pr, got, want)
			}
		}
	}
	if got := p.Levels[2].Targets; !reflect.DeepEqual(got, []Target{{Schedule: "aion-r-oncall", Tier: "tertiary"}}) {
		t.Errorf("tertiary targets %+v", got)
	}

	// Unresolved escalations.
	wantUnresolved := []UnresolvedRule{
		// "Secondary + management": the on-call team lead (tertiary) and
		// the Engineering Manager.
		{Priorities: []string{"SEV-1"}, After: Duration(time.Hour), Notify: []Target{{Level: "secondary"}, {Level: "tertiary"}, {User: "eng-manager"}}},
		{Priorities: []string{"SEV-2"}, After: Duration(2 * time.Hour), Notify: []Target{{Level: "secondary"}}},
		{Priorities: []string{"SEV-3"}, After: Duration(4 * time.Hour), Notify: []Target{{Schedule: "aion-r-oncall", Tier: "tertiary"}}},
		// Tier 4, "major outages (>4 hours)": the VP.
		{Priorities: []string{"SEV-1", "SEV-2"}, After: Duration(4 * time.Hour), Notify: []Target{{User: "vp-eng"}}},
	}
	if !reflect.DeepEqual(p.Unresolved, wantUnresolved) {
		t.Errorf("unresolved rules:\n got %+v\nwant %+v", p.Unresolved, wantUnresolved)
	}
	wantStatus := []StatusUpdateRule{{Priorities: []string{"SEV-1", "SEV-2"}, After: Duration(30 * time.Minute)}}
	if !reflect.DeepEqual(p.MissingStatusUpdate, wantStatus) {
		t.Errorf("missing_status_update %+v, want %+v", p.MissingStatusUpdate, wantStatus)
	}

	// Targets.
	for pr, want := range map[string][3]string{
		"SEV-1": {"5m", "15m", "30m"},
		"SEV-2": {"10m", "30m", "30m"},
		"SEV-3": {"30m", "1h", ""},
		"SEV-4": {"2h", "4h", ""},
	} {
		tg, ok := svc.Targets[pr]
		if !ok {
			t.Errorf("no targets for %s", pr)
			continue
		}
		got := [3]string{tg.Acknowledge.String(), tg.InitialResponse.String(), tg.StatusUpdate.String()}
		if got != want {
			t.Errorf("%s ack/initial/status_update %v, want %v", pr, got, want)
		}
		wantUrgency := UrgencyHigh
		if pr == "SEV-4" {
			wantUrgency = UrgencyLow // non-critical: push only, never a night call
		}
		if tg.Urgency != wantUrgency || tg.OffHours != nil || tg.BusinessHours != nil {
			t.Errorf("%s: urgency %q, variants %v %v; want %s, no variants", pr, tg.Urgency, tg.BusinessHours, tg.OffHours, wantUrgency)
		}
	}
}

func TestExampleQuickstart(t *testing.T) {
	cfg := loadExample(t, "quickstart.yaml")
	svc := cfg.Service("demo")
	if svc == nil {
		t.Fatal("no service demo")
	}
	if svc.Scheme().Name != "P0-P3" {
		t.Errorf("scheme %s", svc.Scheme().Name)
	}
	if svc.Integrations.AlertmanagerKey.Reveal() != "demo0000000000000000000000000000" ||
		svc.Integrations.PagerDutyRoutingKey.Reveal() != "demo0000000000000000000000000000" {
		t.Error("demo integration keys changed")
	}
	if len(cfg.API.Tokens) != 1 || cfg.API.Tokens[0].Token.Reveal() != "demo-api-token-change-me" {
		t.Errorf("api tokens %+v", cfg.API.Tokens)
	}
	u := cfg.User("demo")
	if u == nil || u.Name != "Demo User" {
		t.Fatalf("user demo %+v", u)
	}
	for _, ct := range u.Contacts {
		if ct.Via != "log" {
			t.Errorf("demo %s contact via %s, want log", ct.Channel, ct.Via)
		}
	}
	if !reflect.DeepEqual(u.NotificationRules.High, defaultHigh) {
		t.Errorf("demo high rules %+v", u.NotificationRules.High)
	}
	s := cfg.Schedule("demo")
	if sh := exampleHolder(t, s, "primary", time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)); sh.User != "demo" {
		t.Errorf("demo schedule holder %q", sh.User)
	}
	p := cfg.Policy("demo")
	// The escalation at 15 minutes exists: the ladder starts over.
	if got := exampleLevelNames(p); !reflect.DeepEqual(got, []string{"primary"}) || p.Levels[0].Timeout.String() != "15m" || p.Repeat < 1 {
		t.Errorf("demo policy levels %v timeout %s repeat %d", got, p.Levels[0].Timeout, p.Repeat)
	}
	// Loopback only, and pages carry a working ack link.
	if cfg.Server.Listen != "127.0.0.1:8080" || cfg.Server.PublicURL != "http://127.0.0.1:8080" || cfg.Server.LinkSecret.Reveal() == "" {
		t.Errorf("server %+v", cfg.Server)
	}
	if w := cfg.Warnings(); len(w) != 0 {
		t.Errorf("the quickstart has warnings: %q", w)
	}
}

// TestExampleConfigsWarnOnlyAboutSecrets: the seed configs behave as
// written (no paging that stops while a P0 is unacknowledged, no timeout
// that never fires); their only warnings are the secrets pagerd serve needs,
// which this machine does not have, and with those set they are clean.
func TestExampleConfigsWarnOnlyAboutSecrets(t *testing.T) {
	for name, secrets := range map[string][]string{
		"aivo.yaml": {"AIVO_PAGERD_LINK_SECRET", "AIVO_TWILIO_ACCOUNT_SID", "AIVO_TWILIO_AUTH_TOKEN", "AIVO_TWILIO_FROM",
			"AIVO_PAGERDUTY_WEBHOOK_SECRET", "AIVO_PD_KEY_MARCUS", "AIVO_PD_KEY_EMILY", "AIVO_PD_KEY_ALEX", "AIVO_PD_KEY_JENNIFER",
			"AIVO_PD_KEY_DAVID", "AIVO_PD_KEY_SARAH", "AIVO_PD_KEY_MICHAEL", "AIVO_SLACK_BOT_TOKEN", "AIVO_SLACK_SIGNING_SECRET"},
		"aion-r.yaml": {"AION_R_PAGERD_LINK_SECRET", "AION_R_TWILIO_ACCOUNT_SID", "AION_R_TWILIO_AUTH_TOKEN", "AION_R_TWILIO_FROM",
			"AION_R_PAGERDUTY_WEBHOOK_SECRET", "AION_R_PD_KEY_ENG_A", "AION_R_PD_KEY_ENG_B", "AION_R_PD_KEY_ENG_C", "AION_R_PD_KEY_ENG_D",
			"AION_R_PD_KEY_ENG_E", "AION_R_PD_KEY_ENG_F", "AION_R_PD_KEY_ENG_G", "AION_R_PD_KEY_ENG_H", "AION_R_PD_KEY_LEAD_X",
			"AION_R_PD_KEY_LEAD_Y", "AION_R_PD_KEY_MANAGER", "AION_R_PD_KEY_VP_ENG", "AION_R_SMTP_SMARTHOST", "AION_R_SMTP_USERNAME", "AION_R_SMTP_PASSWORD",
			"AION_R_SLACK_BOT_TOKEN", "AION_R_SLACK_SIGNING_SECRET"},
	} {
		t.Run(name, func(t *testing.T) {
			for _, s := range secrets {
				unsetenv(t, s) // for this test, whatever the machine has
			}
			cfg := loadExample(t, name)
			w := cfg.Warnings()
			if len(w) != len(secrets) {
				t.Errorf("%d warnings, want one per secret (%d):\n%s", len(w), len(secrets), strings.Join(w, "\n"))
			}
			for _, s := range secrets {
				found := false
				for _, l := range w {
					found = found || strings.Contains(l, "environment variable "+s+" is not set (pagerd serve needs it)")
				}
				if !found {
					t.Errorf("no warning names %s:\n%s", s, strings.Join(w, "\n"))
				}
			}
			if err := cfg.CheckSecrets(); err == nil {
				t.Error("CheckSecrets passes without the secrets")
			}
			values := map[string]string{"AIVO_TWILIO_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef", "AION_R_TWILIO_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef",
				"AIVO_TWILIO_FROM": "+15555550100", "AION_R_TWILIO_FROM": "+15555550100", "AION_R_SMTP_SMARTHOST": "smtp.aion-r.example:587",
				"AIVO_SLACK_BOT_TOKEN": "xoxb-1-2-test", "AION_R_SLACK_BOT_TOKEN": "xoxb-1-2-test",
				"AIVO_TWILIO_AUTH_TOKEN": "0123456789abcdef0123456789abcdef", "AION_R_TWILIO_AUTH_TOKEN": "0123456789abcdef0123456789abcdef"}
			for _, s := range secrets {
				v, ok := values[s]
				if !ok {
					v = "test-value-for-" + strings.ToLower(s)
				}
				if strings.Contains(s, "_PD_KEY_") {
					v = strings.Repeat("0", 32) // a routing key is 32 characters
				}
				t.Setenv(s, v)
			}
			cfg = loadExample(t, name)
			if w := cfg.Warnings(); len(w) != 0 {
				t.Errorf("with every secret set, warnings:\n%s", strings.Join(w, "\n"))
			}
			if err := cfg.CheckSecrets(); err != nil {
				t.Errorf("CheckSecrets: %v", err)
			}
		})
	}
}

// A level's name, from the index an incident's state counts from 0; ""
// for one the service's policy does not have, or a service not in the
// config (a reload took them out), never a panic.
func TestLevelName(t *testing.T) {
	cfg := loadExample(t, "aivo.yaml")
	for _, tc := range []struct {
		service string
		level   int
		want    string
	}{
		{"aivo-production", 0, "primary"},
		{"aivo-production", 3, "executives"},
		{"aivo-production", 4, ""},
		{"aivo-production", -1, ""},
		{"gone", 0, ""},
	} {
		if got := cfg.LevelName(tc.service, tc.level); got != tc.want {
			t.Errorf("LevelName(%q, %d) = %q, want %q", tc.service, tc.level, got, tc.want)
		}
	}
	var none *EscalationPolicy
	if got := none.LevelName(0); got != "" {
		t.Errorf("a nil policy's level: %q", got)
	}
}
