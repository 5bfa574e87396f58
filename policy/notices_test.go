package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const noticesConfig = `
users:
  - {id: a, contacts: [{channel: push, via: log}]}
  - {id: b, contacts: [{channel: push, via: log}]}
  - {id: c, contacts: [{channel: push, via: log}]}
schedules:
  - name: s
    time_zone: America/New_York
    handoff: {weekday: monday, time: "08:00"}
    tiers:
      - {name: primary, start: 2025-08-18, members: [a, b]}
      - {name: secondary, start: 2025-08-18, members: [b, a]}
    notices: {before: 24h, tiers: [primary]}
escalation_policies:
  - {name: p, levels: [{name: one, targets: [{schedule: s, tier: primary}]}]}
services:
  - {name: api, priority_scheme: P0-P3, escalation_policy: p}
`

func noticeLines(ns []ShiftNotice) string {
	var out []string
	for _, n := range ns {
		out = append(out, fmt.Sprintf("%s %s %s %s<-%s %s", n.At.UTC().Format(time.RFC3339), n.Kind, n.Shift.Tier, n.Shift.User, n.Outgoing,
			n.Shift.Until.UTC().Format(time.RFC3339)))
	}
	return strings.Join(out, "\n")
}

// Notices come at each change of holder and Before it, only for the tiers
// named; an override that changes the holder brings notices of its own,
// and the shift after it starts again with one.
func TestShiftNotices(t *testing.T) {
	c, err := Parse([]byte(noticesConfig), "n.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Schedule("s")
	// Week of Aug 25 is b's; Sep 1 a's. 08:00 EDT is 12:00 UTC.
	from, until := time.Date(2025, 8, 30, 0, 0, 0, 0, time.UTC), time.Date(2025, 9, 2, 0, 0, 0, 0, time.UTC)
	want := "2025-08-31T12:00:00Z before primary a<-b 2025-09-08T12:00:00Z\n" +
		"2025-09-01T12:00:00Z handoff primary a<-b 2025-09-08T12:00:00Z"
	if got := noticeLines(s.ShiftNotices(from, until)); got != want {
		t.Fatalf("notices:\n%s\nwant\n%s", got, want)
	}
	// The range is (from, until]: a notice at from is not in it, one at
	// until is.
	if got := s.ShiftNotices(time.Date(2025, 9, 1, 12, 0, 0, 0, time.UTC), until); len(got) != 0 {
		t.Fatalf("a notice at from: %s", noticeLines(got))
	}
	if at, ok := s.NextNotice(from, 30*24*time.Hour); !ok || !at.Equal(time.Date(2025, 8, 31, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("next notice %v %v", at, ok)
	}

	// c takes four hours of a's week: notices for c, and for a taking it back.
	ov := Override{ID: "ov1", Tiers: map[string]string{"primary": "c"},
		From: InstantMoment(time.Date(2025, 9, 3, 14, 0, 0, 0, time.UTC)), Until: InstantMoment(time.Date(2025, 9, 3, 18, 0, 0, 0, time.UTC))}
	m := c.WithOverrides(map[string][]Override{"s": {ov}})
	got := noticeLines(m.Schedule("s").ShiftNotices(until, time.Date(2025, 9, 4, 0, 0, 0, 0, time.UTC)))
	want = "2025-09-02T14:00:00Z before primary c<-a 2025-09-03T18:00:00Z\n" +
		"2025-09-02T18:00:00Z before primary a<-c 2025-09-08T12:00:00Z\n" +
		"2025-09-03T14:00:00Z handoff primary c<-a 2025-09-03T18:00:00Z\n" +
		"2025-09-03T18:00:00Z handoff primary a<-c 2025-09-08T12:00:00Z"
	if got != want {
		t.Fatalf("with an override:\n%s\nwant\n%s", got, want)
	}
	// An override that keeps the holder is no change.
	same := ov
	same.Tiers = map[string]string{"primary": "a"}
	if got := c.WithOverrides(map[string][]Override{"s": {same}}).Schedule("s").ShiftNotices(until, time.Date(2025, 9, 4, 0, 0, 0, 0, time.UTC)); len(got) != 0 {
		t.Fatalf("notices for no change: %s", noticeLines(got))
	}
}

// TestShiftNoticesAreTheHolderChangesAcrossDST: handoff notices are
// exactly the changes of holder OnCallTier shows, sampled each minute,
// across both DST changes, and each notice before a shift is Before its
// start.
func TestShiftNoticesAreTheHolderChangesAcrossDST(t *testing.T) {
	c, err := Parse([]byte(strings.Replace(dstTiersConfig, "    overrides:", "    notices: {before: 1h}\n    overrides:", 1)), "z.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Schedule("s")
	for _, rg := range [][2]time.Time{
		{time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 10, 30, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)},
	} {
		want := map[string]bool{}
		for _, tier := range []string{"primary", "secondary", "hourly", "layered"} {
			prev, _ := s.OnCallTier(tier, rg[0])
			for tt := rg[0].Add(time.Minute); !tt.After(rg[1]); tt = tt.Add(time.Minute) {
				sh, _ := s.OnCallTier(tier, tt)
				if sh.User != "" && sh.User != prev.User {
					want[tt.UTC().Format(time.RFC3339)+" "+tier+" "+sh.User] = true
				}
				prev = sh
			}
		}
		got := map[string]bool{}
		for _, n := range s.ShiftNotices(rg[0], rg[1]) {
			if n.Kind == NoticeHandoff {
				got[n.At.UTC().Format(time.RFC3339)+" "+n.Shift.Tier+" "+n.Shift.User] = true
			} else if !n.Shift.From.Add(-time.Hour).Equal(n.At) {
				t.Errorf("before notice at %v for shift at %v", n.At, n.Shift.From)
			}
		}
		for k := range want {
			if !got[k] {
				t.Errorf("holder change %s: no handoff notice", k)
			}
		}
		for k := range got {
			if !want[k] {
				t.Errorf("handoff notice %s: no holder change", k)
			}
		}
	}
}

// TestShiftNoticesLeaveOutAHolderOfLessThanASecond: an override piece
// inside one second (pagerd import writes a vendor's override instants
// exactly, and a piece of one can hand a tier over for a quarter of a
// second) is no shift anyone works: it sent "you are on call from 12:00
// until 12:00" to its holder and told the week's person again. The
// change of holder is told once, from the holder before it to the one
// after, at the piece's start.
func TestShiftNoticesLeaveOutAHolderOfLessThanASecond(t *testing.T) {
	cfg := strings.Replace(noticesConfig, "    notices: {before: 24h, tiers: [primary]}\n",
		"    notices: {before: 24h, tiers: [primary]}\n    overrides:\n"+
			"      - {from: \"2025-09-01T12:00:00.25Z\", until: \"2025-09-01T12:00:00.75Z\", tiers: {primary: c}}\n", 1)
	s := noticesSchedule(t, cfg)
	from, until := time.Date(2025, 8, 30, 0, 0, 0, 0, time.UTC), time.Date(2025, 9, 2, 0, 0, 0, 0, time.UTC)
	want := "2025-08-31T12:00:00Z before primary a<-b 2025-09-08T12:00:00Z\n" +
		"2025-09-01T12:00:00Z handoff primary a<-b 2025-09-08T12:00:00Z"
	if got := noticeLines(s.ShiftNotices(from, until)); got != want {
		t.Fatalf("notices:\n%s\nwant\n%s", got, want)
	}
}

// TestShiftNoticesAtTheRangesEdges: a range that starts half a second
// before a handoff, or ends at one, still tells it: the spans the range
// cuts short are not pieces of less than a second.
func TestShiftNoticesAtTheRangesEdges(t *testing.T) {
	s := noticesSchedule(t, noticesConfig)
	handoff := time.Date(2025, 9, 1, 12, 0, 0, 0, time.UTC)
	for _, r := range [][2]time.Time{
		{handoff.Add(-500 * time.Millisecond), handoff.Add(time.Hour)},
		{handoff.Add(-time.Hour), handoff},
		{handoff.Add(-time.Hour), handoff.Add(500 * time.Millisecond)},
	} {
		if got := noticeLines(s.ShiftNotices(r[0], r[1])); got != "2025-09-01T12:00:00Z handoff primary a<-b 2025-09-08T12:00:00Z" {
			t.Errorf("notices in (%s, %s]:\n%s", r[0].Format(time.RFC3339Nano), r[1].Format(time.RFC3339Nano), got)
		}
	}
}

// noticesSchedule is schedule "s" of a notices config.
func noticesSchedule(t *testing.T, cfg string) *Schedule {
	t.Helper()
	c, err := Parse([]byte(cfg), "n.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	return c.Schedule("s")
}
