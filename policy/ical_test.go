package policy

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	ics "github.com/arran4/golang-ical"
)

// The calendar feed is read back with a real iCalendar parser, and checked
// against the shifts the schedule reports.

// icalParse parses a feed or fails the test, after checking what the parser
// forgives: CRLF line ends and lines of at most 75 octets.
func icalParse(t *testing.T, feed string) *ics.Calendar {
	t.Helper()
	if !strings.HasSuffix(feed, "\r\n") {
		t.Errorf("feed does not end in CRLF")
	}
	for i, l := range strings.Split(strings.TrimSuffix(feed, "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Errorf("line %d is %d octets: %q", i+1, len(l), l)
		}
		if strings.ContainsAny(l, "\r\n") {
			t.Errorf("line %d holds a bare CR or LF: %q", i+1, l)
		}
		if !utf8.ValidString(l) {
			t.Errorf("line %d splits a UTF-8 sequence: %q", i+1, l)
		}
	}
	cal, err := ics.ParseCalendar(strings.NewReader(feed))
	if err != nil {
		t.Fatalf("parse feed: %v\n%s", err, feed)
	}
	return cal
}

func icalProp(e *ics.VEvent, p ics.ComponentProperty) string {
	if v := e.GetProperty(p); v != nil {
		return v.Value
	}
	return ""
}

func TestICalendarAIVO(t *testing.T) {
	cfg := loadExample(t, "aivo.yaml")
	s := cfg.Schedule("aivo-oncall")
	ny := s.Location()
	from, until := at(t, ny, "2025-08-25T08:00:00"), at(t, ny, "2025-09-08T08:00:00")
	stamp := utc(t, "2025-08-20T10:00:00Z")
	feed, err := cfg.ICalendar(Feed{Schedule: "aivo-oncall", From: from, Until: until, Stamp: stamp})
	if err != nil {
		t.Fatal(err)
	}
	cal := icalParse(t, feed)
	events := cal.Events()
	shifts := s.Shifts(from, until)
	if len(events) != len(shifts) || len(events) == 0 {
		t.Fatalf("%d events for %d shifts:\n%s", len(events), len(shifts), feed)
	}
	uids := map[string]bool{}
	for i, e := range events {
		sh := shifts[i]
		start, err := e.GetStartAt()
		if err != nil {
			t.Fatal(err)
		}
		end, err := e.GetEndAt()
		if err != nil {
			t.Fatal(err)
		}
		// Shifts cuts to the range; the feed shows each shift whole.
		if !start.Equal(sh.From) && !(sh.From.Equal(from) && start.Before(from)) {
			t.Errorf("event %d starts %s, shift %s", i, start, sh.From)
		}
		if !end.Equal(sh.Until) && !(sh.Until.Equal(until) && end.After(until)) {
			t.Errorf("event %d ends %s, shift %s", i, end, sh.Until)
		}
		if got, err := e.GetDtStampTime(); err != nil || !got.Equal(stamp) {
			t.Errorf("DTSTAMP %s, %v", got, err)
		}
		if uids[e.Id()] {
			t.Errorf("UID %s twice", e.Id())
		}
		uids[e.Id()] = true
		name := cfg.User(sh.User).DisplayName()
		if sum := icalProp(e, ics.ComponentPropertySummary); !strings.HasPrefix(sum, name+" on call: ") {
			t.Errorf("summary %q does not name %s", sum, name)
		}
	}
	// Labor Day: the override's own event, with its reason; the rotation's
	// shift before it ends where it begins.
	var labor []string
	for _, e := range events {
		if strings.Contains(icalProp(e, ics.ComponentPropertySummary), "override: Labor Day weekend") {
			st, _ := e.GetStartAt()
			en, _ := e.GetEndAt()
			labor = append(labor, fmt.Sprintf("%s %s %s", icalProp(e, ics.ComponentPropertySummary), st.In(ny).Format(time.RFC3339), en.In(ny).Format(time.RFC3339)))
		}
	}
	want := []string{
		"Emily Watson on call: Primary On-Call (aivo-oncall), override: Labor Day weekend 2025-08-30T00:00:00-04:00 2025-09-03T00:00:00-04:00",
		"Marcus Rodriguez on call: Secondary On-Call (aivo-oncall), override: Labor Day weekend 2025-08-30T00:00:00-04:00 2025-09-03T00:00:00-04:00",
		"David Park on call: Escalation Lead (aivo-oncall), override: Labor Day weekend 2025-08-30T00:00:00-04:00 2025-09-03T00:00:00-04:00",
	}
	if fmt.Sprint(labor) != fmt.Sprint(want) {
		t.Errorf("Labor Day events:\n%s\nwant\n%s", strings.Join(labor, "\n"), strings.Join(want, "\n"))
	}
	if desc := icalProp(events[0], ics.ComponentPropertyDescription); !strings.Contains(desc, "Schedule: aivo-oncall\nTier: Primary On-Call (primary)\nOn call: Emily Watson (emily)") {
		t.Errorf("description %q", desc)
	}
	if v := cal.CalendarProperties; len(v) == 0 {
		t.Error("no calendar properties")
	}

	// Rendered again later, over a range a week on, the shifts both show
	// keep their UIDs; only DTSTAMP moves.
	again, err := cfg.ICalendar(Feed{Schedule: "aivo-oncall", From: from.AddDate(0, 0, 7), Until: until.AddDate(0, 0, 7), Stamp: stamp.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	for _, e := range icalParse(t, again).Events() {
		if uids[e.Id()] {
			kept++
		}
	}
	if kept == 0 || kept == len(uids) {
		t.Errorf("%d of %d UIDs kept over the overlapping week", kept, len(uids))
	}
	if again == feed {
		t.Error("the later render is the same")
	}
}

func TestICalendarPerUser(t *testing.T) {
	cfg := loadExample(t, "aivo.yaml")
	ny := cfg.Schedule("aivo-oncall").Location()
	from, until := at(t, ny, "2025-08-18T08:00:00"), at(t, ny, "2025-10-06T08:00:00")
	feed, err := cfg.ICalendar(Feed{User: "marcus", From: from, Until: until, Stamp: from})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range icalParse(t, feed).Events() {
		st, _ := e.GetStartAt()
		sum := icalProp(e, ics.ComponentPropertySummary)
		got = append(got, st.In(ny).Format("Jan 2 15:04")+" "+strings.TrimPrefix(sum, "Marcus Rodriguez on call: "))
	}
	// The seed's table, Marcus's rows, and the Labor Day override that
	// makes him secondary, and David escalation lead until Sep 3.
	want := []string{
		"Aug 18 08:00 Primary On-Call (aivo-oncall)",
		"Aug 30 00:00 Secondary On-Call (aivo-oncall), override: Labor Day weekend",
		"Sep 3 00:00 Escalation Lead (aivo-oncall)",
		"Sep 8 08:00 Secondary On-Call (aivo-oncall)",
		"Sep 15 08:00 Primary On-Call (aivo-oncall)",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Marcus's feed:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(feed, "X-WR-CALNAME:pagerd on call: Marcus Rodriguez\r\n") {
		t.Errorf("calendar name:\n%s", feed)
	}
}

func TestICalendarEscapingAndFolding(t *testing.T) {
	cfg := rotConfig(t, `  - name: s
    time_zone: Europe/Madrid
    handoff: {weekday: monday, time: "09:00"}
    tiers:
      - name: primary
        title: "Guardia; nivel 1, día"
        start: 2025-10-06
        members: [ann]
    overrides:
      - reason: "Cobertura de vacaciones: Año Nuevo, Reyes; \\ y más días festivos de la temporada navideña en España"
        from: 2025-10-08
        until: 2025-10-09
        tiers: {primary: bob}
`)
	feed, err := cfg.ICalendar(Feed{Schedule: "s", From: utc(t, "2025-10-06T07:00:00Z"), Until: utc(t, "2025-10-13T07:00:00Z"), Stamp: utc(t, "2025-10-01T00:00:00Z")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(feed, "\r\n ") {
		t.Fatalf("nothing was folded:\n%s", feed)
	}
	events := icalParse(t, feed).Events()
	if len(events) != 3 {
		t.Fatalf("%d events, want ann, bob's override, ann:\n%s", len(events), feed)
	}
	want := "Bob on call: Guardia; nivel 1, día (s), override: Cobertura de vacaciones: Año Nuevo, Reyes; \\ y más días festivos de la temporada navideña en España"
	if got := icalProp(events[1], ics.ComponentPropertySummary); got != want {
		t.Errorf("summary read back:\n%q\nwant\n%q", got, want)
	}
	if !strings.Contains(feed, `Guardia\; nivel 1\, día`) {
		t.Errorf("text not escaped:\n%s", feed)
	}
}

func TestICalendarEmptyAndErrors(t *testing.T) {
	cfg := loadExample(t, "aivo.yaml")
	from := utc(t, "2025-09-01T00:00:00Z")
	feed, err := cfg.ICalendar(Feed{User: "michael", From: from, Until: from.AddDate(0, 0, 28), Stamp: from})
	if err != nil {
		t.Fatal(err)
	}
	cal := icalParse(t, feed)
	if len(cal.Events()) != 0 || len(cal.Components) != 1 {
		t.Errorf("the CEO, on no tier, has %d events and %d components", len(cal.Events()), len(cal.Components))
	}
	for _, f := range []Feed{
		{Schedule: "nope", From: from, Until: from.Add(time.Hour)},
		{User: "nobody", From: from, Until: from.Add(time.Hour)},
		{From: from, Until: from},
	} {
		if _, err := cfg.ICalendar(f); err == nil {
			t.Errorf("ICalendar(%+v) gives no error", f)
		}
	}
}

// TestICalendarShowsGaps: where nothing covers a tier, the escalation
// engine pages nobody for it and escalates at once; a schedule's feed
// shows that span as an event of its own ("Nobody on call"), whole as
// shifts are (only a gap without end is cut to the feed's range), so the
// team sees the hole in the calendar they subscribe to rather than
// nothing. A person's feed has only their own shifts.
func TestICalendarShowsGaps(t *testing.T) {
	c, err := Parse([]byte(gapConfig), "gap.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	from, until := utc(t, "2025-01-08T00:00:00Z"), utc(t, "2025-01-09T00:00:00Z") // Wed
	feed, err := c.ICalendar(Feed{Schedule: "s", From: from, Until: until, Stamp: from})
	if err != nil {
		t.Fatal(err)
	}
	var gaps []string
	for _, e := range icalParse(t, feed).Events() {
		if s := icalProp(e, ics.ComponentPropertySummary); strings.HasPrefix(s, "Nobody on call") {
			gaps = append(gaps, icalProp(e, ics.ComponentPropertyDtStart)+"-"+icalProp(e, ics.ComponentPropertyDtEnd)+" "+s)
		}
	}
	// primary is held 09:00-17:00 on weekdays, night 22:00-23:00: the
	// rest is a gap.
	want := []string{
		"20250107T170000Z-20250108T090000Z Nobody on call: Primary (s)",
		"20250107T230000Z-20250108T220000Z Nobody on call: Night (s)",
		"20250108T170000Z-20250109T090000Z Nobody on call: Primary (s)",
		"20250108T230000Z-20250109T220000Z Nobody on call: Night (s)",
	}
	if strings.Join(gaps, "\n") != strings.Join(want, "\n") {
		t.Errorf("gap events:\n%s\nwant:\n%s", strings.Join(gaps, "\n"), strings.Join(want, "\n"))
	}
	// Every instant the engine pages nobody for primary is in a gap event.
	for at := from; at.Before(until); at = at.Add(30 * time.Minute) {
		if sh, _ := c.Schedule("s").OnCallTier("primary", at); sh.User == "" {
			in := false
			for _, g := range gaps {
				if strings.HasSuffix(g, "Primary (s)") {
					a, _ := time.Parse("20060102T150405Z", g[:16])
					b, _ := time.Parse("20060102T150405Z", g[17:33])
					in = in || (!a.After(at) && b.After(at))
				}
			}
			if !in {
				t.Errorf("at %v primary is in a gap that no event shows", at)
			}
		}
	}
	// Before its layers begin a tier has been empty for ever: that gap
	// starts where the feed does.
	early, err := c.ICalendar(Feed{Schedule: "s", From: utc(t, "2024-12-30T00:00:00Z"), Until: utc(t, "2025-01-06T00:00:00Z"), Stamp: from})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(early, "DTSTART:20241230T000000Z\r\nDTEND:20250106T090000Z\r\nSUMMARY:Nobody on call: Primary (s)") {
		t.Errorf("the gap before the layers begin, from the feed's start:\n%s", early)
	}
	mine, err := c.ICalendar(Feed{Schedule: "s", User: "a", From: from, Until: until, Stamp: from})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(mine, "Nobody") {
		t.Errorf("a person's feed shows gaps:\n%s", mine)
	}
}

// TestICalFoldsBytesThatAreNotUTF8: a line of bytes that start no UTF-8
// character is still folded at 75 octets; the fold looked back for a
// character's start and never ended.
func TestICalFoldsBytesThatAreNotUTF8(t *testing.T) {
	var w icalWriter
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.prop("SUMMARY", strings.Repeat("\x80", 200))
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("folding a line that is not UTF-8 never ended")
	}
	for _, l := range strings.Split(strings.TrimSuffix(w.b.String(), "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Fatalf("a line of %d octets", len(l))
		}
	}
}

// dstTiersConfig has a weekly, a daily, an hourly and a layered tier on
// America/New_York, handoffs in the hours its clocks skip and repeat, and
// overrides across both changes of 2026.
const dstTiersConfig = `
users:
  - {id: a, time_zone: Europe/London, contacts: [{channel: push, via: log}]}
  - {id: b, time_zone: Asia/Tokyo, contacts: [{channel: push, via: log}]}
  - {id: c, contacts: [{channel: push, via: log}]}
  - {id: d, contacts: [{channel: push, via: log}]}
schedules:
  - name: s
    time_zone: America/New_York
    handoff: {weekday: sunday, time: "02:30"}
    tiers:
      - {name: primary, start: 2026-01-04, members: [a, b, c]}
      - {name: secondary, start: 2026-01-04, shift_days: 1, handoff_time: "02:30", members: [b, c, d]}
      - {name: hourly, start: 2026-01-04, shift_hours: 1, handoff_time: "01:30", members: [c, d, a]}
      - name: layered
        members: [d]
        start: 2026-01-04
        layers:
          - {name: night, start: 2026-01-04, members: [a, b], restrictions: [{start: "22:00", end: "06:00"}]}
          - {name: wknd, start: 2026-01-04, members: [c], restrictions: [{start_day: saturday, start: "01:30", end_day: sunday, end: "02:30"}]}
    overrides:
      - {from: 2026-03-07, until: 2026-03-08, tiers: {primary: d}, reason: swap}
      - {from: "2026-10-31T23:00:00-04:00", until: "2026-11-01T01:30:00-05:00", tiers: {layered: b}, reason: cover}
escalation_policies:
  - {name: p, levels: [{name: one, targets: [{schedule: s, tier: primary}]}]}
services:
  - {name: api, priority_scheme: P0-P3, escalation_policy: p}
`

var feedTierRE = regexp.MustCompile(`Tier: [^(]*\(([a-z]+)\)`)

// TestICalendarFeedMatchesOnCallAcrossDST: every instant, each person's
// feed has an event for exactly the tiers OnCallTier (what the engine
// pages by) gives them, across both DST changes of America/New_York, for
// weekly, daily, hourly and layered tiers with handoffs in the hours
// clocks skip and repeat.
func TestICalendarFeedMatchesOnCallAcrossDST(t *testing.T) {
	c, err := Parse([]byte(dstTiersConfig), "z.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Schedule("s")
	for _, rg := range [][2]time.Time{
		{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC)},
	} {
		type ev struct {
			tier     string
			from, to time.Time
		}
		feeds := map[string][]ev{}
		for _, u := range []string{"a", "b", "c", "d"} {
			out, err := c.ICalendar(Feed{Schedule: "s", User: u, From: rg[0], Until: rg[1], Stamp: rg[0]})
			if err != nil {
				t.Fatal(err)
			}
			cal, err := ics.ParseCalendar(strings.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range cal.Events() {
				f, _ := time.Parse(icalUTC, e.GetProperty(ics.ComponentPropertyDtStart).Value)
				to, _ := time.Parse(icalUTC, e.GetProperty(ics.ComponentPropertyDtEnd).Value)
				m := feedTierRE.FindStringSubmatch(e.GetProperty(ics.ComponentPropertyDescription).Value)
				if m == nil {
					t.Fatalf("no tier in %q", e.GetProperty(ics.ComponentPropertyDescription).Value)
				}
				if !to.After(f) {
					t.Errorf("user %s: empty or backwards event %s %v..%v", u, m[1], f, to)
				}
				feeds[u] = append(feeds[u], ev{m[1], f, to})
			}
		}
		bad := 0
		for tt := rg[0]; tt.Before(rg[1]); tt = tt.Add(5 * time.Minute) {
			for _, tier := range []string{"primary", "secondary", "hourly", "layered"} {
				sh, _ := s.OnCallTier(tier, tt)
				for _, u := range []string{"a", "b", "c", "d"} {
					n := 0
					for _, e := range feeds[u] {
						if e.tier == tier && !e.from.After(tt) && e.to.After(tt) {
							n++
						}
					}
					want := 0
					if sh.User == u {
						want = 1
					}
					if n != want && bad < 20 {
						bad++
						t.Errorf("%s %s: %s holds it per OnCallTier (%q), %s's feed has %d events covering it", tt.Format(time.RFC3339), tier, sh.User, sh.Override, u, n)
					}
				}
			}
		}
	}
}

// TestICalendarLeavesOutAShiftInsideOneSecond: an override an import
// wrote to the nanosecond can hand a tier over for less than a second.
// iCalendar times are whole seconds, and an event must end after it
// starts (RFC 5545 3.8.2.2): such a shift is no event, and the shifts on
// either side of it meet.
func TestICalendarLeavesOutAShiftInsideOneSecond(t *testing.T) {
	cfg := loadExample(t, "aivo.yaml")
	s := cfg.Schedule("aivo-oncall")
	s.Overrides = append(s.Overrides, Override{Reason: "piece", From: instantMoment(t, "2025-08-26T12:00:00.25Z"),
		Until: instantMoment(t, "2025-08-26T12:00:00.75Z"), Tiers: map[string]string{"primary": "david"}})
	ny := s.Location()
	from, until := at(t, ny, "2025-08-25T08:00:00"), at(t, ny, "2025-09-01T08:00:00")
	for _, f := range []Feed{{Schedule: "aivo-oncall"}, {User: "david"}} {
		f.From, f.Until, f.Stamp = from, until, from
		feed, err := cfg.ICalendar(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range icalParse(t, feed).Events() {
			st, end := icalProp(e, ics.ComponentPropertyDtStart), icalProp(e, ics.ComponentPropertyDtEnd)
			if end <= st {
				t.Errorf("feed %+v: event %q from %s to %s", f, icalProp(e, ics.ComponentPropertySummary), st, end)
			}
		}
		evs, err := cfg.FeedEvents(f)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, ev := range evs {
			if seen[ev.UID] {
				t.Errorf("feed %+v: UID %s twice", f, ev.UID)
			}
			seen[ev.UID] = true
		}
	}
}
