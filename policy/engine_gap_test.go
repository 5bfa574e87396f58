package policy

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// gapConfig has a primary tier held only in office hours (a layer with
// restrictions and nothing under it) and a secondary held all the time.
const gapConfig = `
users:
  - {id: a, name: Ann, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}
  - {id: b, name: Bob, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}
schedules:
  - name: s
    time_zone: UTC
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - name: primary
        layers:
          - name: office
            start: 2025-01-06
            members: [a]
            restrictions: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}]
      - name: night
        layers:
          - name: night
            start: 2025-01-06
            members: [a]
            restrictions: [{days: [mon, tue, wed, thu, fri], start: "22:00", end: "23:00"}]
      - {name: secondary, start: 2025-01-06, members: [b]}
escalation_policies:
  - name: p
    repeat: 1
    levels:
      - name: first
        targets: [{schedule: s, tier: primary}]
        timeout: 15m
      - name: second
        targets: [{schedule: s, tier: secondary}]
        timeout: 15m
    unresolved:
      - {priorities: [P0], after: 1h, notify: [{schedule: s, tier: primary}]}
  - name: empty
    repeat: 1
    levels:
      - name: first
        targets: [{schedule: s, tier: primary}]
        timeout: 15m
      - name: second
        targets: [{schedule: s, tier: night}]
        timeout: 15m
services:
  - name: svc
    priority_scheme: P0-P3
    escalation_policy: p
  - name: nobody
    priority_scheme: P0-P3
    escalation_policy: empty
`

// TestEngineLevelInAGapEscalatesAtOnceAndSaysSo: an incident whose level
// targets a tier nobody holds at that instant (a layer's gap) is not
// left waiting out the level's timeout with nobody paged, and nothing on
// its timeline saying so: the next level is paged at once and the
// escalation says why. When no level pages anyone, the timeline says that
// (PagedNobody, which the daemon logs) and the machine does not spin
// through the levels; an unresolved rule that reaches nobody says so too.
func TestEngineLevelInAGapEscalatesAtOnceAndSaysSo(t *testing.T) {
	c, err := Parse([]byte(gapConfig), "gap.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Config: c}
	night := time.Date(2025, 1, 8, 3, 0, 0, 0, time.UTC) // Wed 03:00: primary is in its gap
	trigger := func(svc string) (Incident, []Action) {
		rt := c.Route(c.Service(svc), map[string]string{"severity": "critical"}, night)
		inc, acts, err := e.Apply(Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, night)
		if err != nil {
			t.Fatal(err)
		}
		return inc, acts
	}
	summary := func(acts []Action) []string {
		var out []string
		for _, a := range acts {
			s := Duration(a.At.Sub(night)).String() + " " + string(a.Kind) + " " + a.LevelName + " " + a.User + a.Channel + " " + a.Detail
			if a.PagedNobody {
				s += " [nobody]"
			}
			out = append(out, s)
		}
		return out
	}

	t.Run("the next level is paged at once", func(t *testing.T) {
		inc, acts := trigger("svc")
		want := []string{"0s escalate second  level first pages nobody (nobody is on call for it): escalated at once"}
		if got := summary(acts); !reflect.DeepEqual(got, want) {
			t.Fatalf("trigger acts = %q, want %q", got, want)
		}
		if inc.Level != 1 {
			t.Fatalf("level = %d, want 1 (second)", inc.Level)
		}
		var pushAt time.Time
		for _, d := range inc.Pending {
			if d.Kind == DeadlineNotify && d.User == "b" && d.Channel == "push" {
				pushAt = d.At
			}
		}
		if !pushAt.Equal(night) {
			t.Fatalf("bob's push is due at %v, want at once (%v); pending %+v", pushAt, night, inc.Pending)
		}
		// The unresolved rule pages the primary tier, still in its gap.
		var lines []string
		for {
			d, ok := inc.Next()
			if !ok || d.At.After(night.Add(time.Hour)) {
				break
			}
			inc, acts, err = e.Apply(inc, Event{Kind: EventDeadline, Deadline: d.ID}, d.At)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range summary(acts) {
				if acts[0].Kind != ActionNotify {
					lines = append(lines, l)
				}
			}
		}
		want = []string{
			// Round 2 starts at level 1, empty again: straight on to second.
			"15m escalate first  not acknowledged within 15m",
			"15m escalate second  level first pages nobody (nobody is on call for it): escalated at once",
			"1h escalate second  unresolved after 1h: the rule pages nobody (nobody is on call for it) [nobody]",
		}
		if !reflect.DeepEqual(lines, want) {
			t.Fatalf("escalations = %q, want %q", lines, want)
		}
	})

	t.Run("no level pages anyone", func(t *testing.T) {
		inc, acts := trigger("nobody")
		want := []string{"0s escalate second  level first pages nobody (nobody is on call for it): escalated at once: level second pages nobody (nobody is on call for it) [nobody]"}
		if got := summary(acts); !reflect.DeepEqual(got, want) {
			t.Fatalf("trigger acts = %q, want %q", got, want)
		}
		// The last level keeps its timeout, so the next round tries again.
		if k := engPendingKinds(inc); k[DeadlineEscalate] != 1 || k[DeadlineNotify] != 0 {
			t.Fatalf("pending = %+v", inc.Pending)
		}
	})
}

// TestPreviewOfALevelInAGap: `pagerd route` says when each level is paged
// as the engine pages it: a level nobody is on call for is not waited on,
// so the preview shows it paging nobody and escalating at once, and the
// next level paged at the alert's arrival, as the engine does, not a
// timeout later.
func TestPreviewOfALevelInAGap(t *testing.T) {
	c, err := Parse([]byte(gapConfig), "gap.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	night := time.Date(2025, 1, 8, 3, 0, 0, 0, time.UTC) // Wed 03:00: primary is in its gap
	lbls := map[string]string{"severity": "critical"}
	p := c.Preview(c.Service("svc"), lbls, night)
	rt := c.Route(c.Service("svc"), lbls, night)
	inc, _, err := (&Engine{Config: c}).Apply(Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, night)
	if err != nil {
		t.Fatal(err)
	}
	var bobPaged time.Time
	for _, d := range inc.Pending {
		if d.Kind == DeadlineNotify && d.User == "b" && (bobPaged.IsZero() || d.At.Before(bobPaged)) {
			bobPaged = d.At
		}
	}
	first, second := p.Levels[0], p.Levels[1]
	if len(first.Users) != 0 || !first.PagesNobody || !first.Next.Equal(night) {
		t.Errorf("level 1 previewed as %+v, want nobody paged and escalating at once (%v)", first, night)
	}
	if len(second.Users) != 1 || second.Users[0] != "b" || !bobPaged.Equal(first.Next) {
		t.Errorf("the preview pages level 2 (%v) at %v; the engine pages bob at %v", second.Users, first.Next, bobPaged)
	}
	// In office hours, primary is held: the level waits out its timeout.
	day := time.Date(2025, 1, 8, 10, 0, 0, 0, time.UTC)
	if l := c.Preview(c.Service("svc"), lbls, day).Levels[0]; l.PagesNobody || !l.Next.Equal(day.Add(15*time.Minute)) {
		t.Errorf("in office hours level 1 is previewed as %+v", l)
	}
}

// lastLevelGapConfig is gapConfig with policies whose last level is the
// primary tier, nobody on call for it at night, with and without repeat.
var lastLevelGapConfig = strings.Replace(gapConfig, "services:\n", `  - name: last-repeats
    repeat: 1
    levels:
      - {name: bob, targets: [{schedule: s, tier: secondary}], timeout: 15m}
      - {name: office, targets: [{schedule: s, tier: primary}], timeout: 10m}
  - name: last-stops
    levels:
      - {name: bob, targets: [{schedule: s, tier: secondary}], timeout: 15m}
      - {name: office, targets: [{schedule: s, tier: primary}]}
  - name: all-empty
    repeat: 1
    levels:
      - {name: office, targets: [{schedule: s, tier: primary}], timeout: 15m}
      - {name: late, targets: [{schedule: s, tier: night}], timeout: 10m}
services:
  - {name: repeats, priority_scheme: P0-P3, escalation_policy: last-repeats}
  - {name: stops, priority_scheme: P0-P3, escalation_policy: last-stops}
  - {name: all-empty, priority_scheme: P0-P3, escalation_policy: all-empty}
`, 1)

// TestPreviewOfAnEmptyLastLevelWithRepeat: `pagerd route` says what the
// engine does after a last level nobody is on call for. With repeat, the
// engine does not wait on it: level 1 is paged again at once, and the
// preview says the last level starts over at once, at the time the engine
// pages level 1 again. Without repeat, paging stops there, and the preview
// has nothing after it. When no level pages anyone, the last keeps its
// timeout for the next round, and the preview says when that is.
func TestPreviewOfAnEmptyLastLevelWithRepeat(t *testing.T) {
	c, err := Parse([]byte(lastLevelGapConfig), "gap.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	night := time.Date(2025, 1, 8, 3, 0, 0, 0, time.UTC) // Wed 03:00: primary is in its gap
	lbls := map[string]string{"severity": "critical"}
	// engine runs an untouched incident of svc for two hours and returns
	// when each user's push goes out and when escalations are pending.
	engine := func(svc string) (pushes map[string][]time.Time, escalation []time.Time) {
		t.Helper()
		rt := c.Route(c.Service(svc), lbls, night)
		e := &Engine{Config: c}
		inc, _, err := e.Apply(Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, night)
		if err != nil {
			t.Fatal(err)
		}
		pushes = map[string][]time.Time{}
		for {
			d, ok := inc.Next()
			if !ok || d.At.After(night.Add(2*time.Hour)) {
				return pushes, escalation
			}
			if d.Kind == DeadlineNotify && d.Channel == "push" {
				pushes[d.User] = append(pushes[d.User], d.At)
			}
			if d.Kind == DeadlineEscalate {
				escalation = append(escalation, d.At)
			}
			if inc, _, err = e.Apply(inc, Event{Kind: EventDeadline, Deadline: d.ID}, d.At); err != nil {
				t.Fatal(err)
			}
		}
	}

	t.Run("repeat", func(t *testing.T) {
		p := c.Preview(c.Service("repeats"), lbls, night)
		last := p.Levels[1]
		if !last.PagesNobody || !last.StartsOver || !last.Next.Equal(night.Add(15*time.Minute)) || p.Repeat != 1 {
			t.Fatalf("last level previewed as %+v (repeat %d), want nobody paged and level 1 again at once, at +15m", last, p.Repeat)
		}
		pushes, _ := engine("repeats")
		if got := pushes["b"]; len(got) != 2 || !got[1].Equal(last.Next) {
			t.Fatalf("the engine pushes bob at %v; the preview starts over at level 1 at %v", got, last.Next)
		}
	})
	t.Run("no repeat", func(t *testing.T) {
		p := c.Preview(c.Service("stops"), lbls, night)
		last := p.Levels[1]
		if !last.PagesNobody || last.StartsOver || !last.Next.IsZero() || p.Repeat != 0 {
			t.Fatalf("last level previewed as %+v, want nobody paged and nothing after", last)
		}
		if pushes, _ := engine("stops"); len(pushes["b"]) != 1 {
			t.Fatalf("the engine pushes bob at %v, want once", pushes["b"])
		}
	})
	t.Run("no level pages anyone", func(t *testing.T) {
		p := c.Preview(c.Service("all-empty"), lbls, night)
		last := p.Levels[1]
		if !last.PagesNobody || !last.StartsOver || last.Timeout != "10m" || !last.Next.Equal(night.Add(10*time.Minute)) {
			t.Fatalf("last level previewed as %+v, want nobody paged and level 1 tried again after its 10m", last)
		}
		if _, esc := engine("all-empty"); len(esc) == 0 || !esc[0].Equal(last.Next) {
			t.Fatalf("the engine's escalations are due at %v; the preview starts over at %v", esc, last.Next)
		}
	})
}
