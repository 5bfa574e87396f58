package gateway

import (
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
)

// Calendar feeds: a secret URL per schedule and per person, whose GET (no
// other credential) answers RFC 5545 that a real parser reads back, with
// the run-time overrides in it; a new URL retires the old one.
func TestCalendarFeeds(t *testing.T) {
	h := newHarness(t, withConfig(overridesConfig))
	if r := h.api("POST", "/api/v1/schedules/s/overrides", `{"tier":"primary","user":"cat","start":"2025-09-11T00:00:00Z","end":"2025-09-12T00:00:00Z","reason":"swap"}`); r.code != 201 {
		t.Fatalf("override: %d %s", r.code, r.body)
	}
	var got struct{ URL string }
	r := h.do("GET", "/api/v1/schedules/s/feed", "", "Authorization", "Bearer viewer-token-0123456789")
	if r.code != 200 {
		t.Fatalf("feed url: %d %s", r.code, r.body)
	}
	r.json(t, &got)
	if !strings.HasPrefix(got.URL, h.url+"/feeds/") || !strings.HasSuffix(got.URL, ".ics") || len(got.URL) < len(h.url)+40 {
		t.Fatalf("url %q", got.URL)
	}
	// Asking again gives the same URL.
	var again struct{ URL string }
	h.api("GET", "/api/v1/schedules/s/feed", "").json(t, &again)
	if again.URL != got.URL {
		t.Fatalf("the feed URL changed: %s, %s", got.URL, again.URL)
	}
	path := strings.TrimPrefix(got.URL, h.url)
	r = h.do("GET", path, "")
	if r.code != 200 || !strings.HasPrefix(r.hdr.Get("Content-Type"), "text/calendar") {
		t.Fatalf("feed: %d %s %s", r.code, r.hdr.Get("Content-Type"), r.body)
	}
	cal, err := ics.ParseCalendar(strings.NewReader(r.body))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, r.body)
	}
	var cats, anns int
	for _, ev := range cal.Events() {
		s := ev.GetProperty(ics.ComponentPropertySummary).Value
		if strings.Contains(s, "Cat on call") && strings.Contains(s, "override: swap") {
			cats++
		}
		if strings.Contains(s, "Ann on call") {
			anns++
		}
	}
	if cats != 1 || anns < 4 {
		t.Fatalf("%d override events for cat, %d shifts of ann:\n%s", cats, anns, r.body)
	}

	// One person's feed holds only their shifts.
	var ann struct{ URL string }
	h.api("GET", "/api/v1/schedules/s/feed?user=ann", "").json(t, &ann)
	r = h.do("GET", strings.TrimPrefix(ann.URL, h.url), "")
	if r.code != 200 || strings.Contains(r.body, "Bob on call") || !strings.Contains(r.body, "Ann on call") {
		t.Fatalf("ann's feed: %d %s", r.code, r.body)
	}

	// A wrong token, or one made anew, is 404; viewers cannot make anew.
	if r := h.do("GET", path[:len(path)-8]+"AAAA.ics", ""); r.code != 404 {
		t.Fatalf("wrong token: %d", r.code)
	}
	if r := h.do("POST", "/api/v1/schedules/s/feed", "", "Authorization", "Bearer viewer-token-0123456789"); r.code != 403 {
		t.Fatalf("viewer rotates: %d", r.code)
	}
	var fresh struct{ URL string }
	h.api("POST", "/api/v1/schedules/s/feed", "").json(t, &fresh)
	if fresh.URL == got.URL {
		t.Fatal("POST did not make a new URL")
	}
	if r := h.do("GET", path, ""); r.code != 404 {
		t.Fatalf("old URL after rotation: %d", r.code)
	}
	if r := h.do("GET", strings.TrimPrefix(fresh.URL, h.url), ""); r.code != 200 {
		t.Fatalf("new URL: %d", r.code)
	}
	for _, p := range []string{"/api/v1/schedules/nope/feed", "/api/v1/schedules/s/feed?user=zed"} {
		if r := h.api("GET", p, ""); r.code != 404 {
			t.Errorf("%s: %d", p, r.code)
		}
	}
	if strings.Contains(h.logs.String(), strings.TrimSuffix(strings.TrimPrefix(path, "/feeds/"), ".ics")) {
		t.Fatal("a feed token is in the log")
	}
}

// TestCalendarFeedEventChangedRisesItsSequence: ann's week from Monday Sep
// 15 is one event (its UID is her start); an override that gives its last
// day to cat shortens it. A calendar program keeps an event whose
// SEQUENCE did not rise as it has it (RFC 5545 3.8.7.4; Outlook does), so
// the event comes with a SEQUENCE that rises with each change and with
// none else, and a LAST-MODIFIED of the change. (Before: no SEQUENCE, and
// a subscriber's calendar still showed ann on call on Sunday, cat's day.)
func TestCalendarFeedEventChangedRisesItsSequence(t *testing.T) {
	h := newHarness(t, withConfig(overridesConfig))
	var feed struct{ URL string }
	h.api("GET", "/api/v1/schedules/s/feed", "").json(t, &feed)
	path := strings.TrimPrefix(feed.URL, h.url)
	// ann's week: its end, SEQUENCE and LAST-MODIFIED, as the feed says.
	week := func() (end, seq, modified string) {
		t.Helper()
		r := h.do("GET", path, "")
		if r.code != 200 {
			t.Fatalf("feed: %d %s", r.code, r.body)
		}
		cal, err := ics.ParseCalendar(strings.NewReader(r.body))
		if err != nil {
			t.Fatalf("parse: %v\n%s", err, r.body)
		}
		for _, ev := range cal.Events() {
			if strings.HasPrefix(ev.GetProperty(ics.ComponentPropertySummary).Value, "Ann on call") &&
				ev.GetProperty(ics.ComponentPropertyDtStart).Value == "20250915T000000Z" {
				value := func(p ics.ComponentProperty) string {
					if v := ev.GetProperty(p); v != nil {
						return v.Value
					}
					return ""
				}
				return value(ics.ComponentPropertyDtEnd), value(ics.ComponentPropertySequence), value(ics.ComponentPropertyLastModified)
			}
		}
		t.Fatalf("no event of ann's week from Sep 15:\n%s", r.body)
		return
	}
	step := func(what, wantEnd, wantSeq string) string {
		t.Helper()
		end, seq, modified := week()
		if end != wantEnd || seq != wantSeq || modified == "" {
			t.Fatalf("%s: ann's week ends %s, SEQUENCE %q, LAST-MODIFIED %q; want %s, SEQUENCE %s and a LAST-MODIFIED", what, end, seq, modified, wantEnd, wantSeq)
		}
		return modified
	}
	step("first", "20250922T000000Z", "0")
	step("again, nothing changed", "20250922T000000Z", "0")

	h.clock.Set(h.clock.Now().Add(time.Hour))
	var made struct{ ID string }
	if r := h.api("POST", "/api/v1/schedules/s/overrides", `{"tier":"primary","user":"cat","start":"2025-09-21T00:00:00Z","end":"2025-09-22T00:00:00Z","reason":"swap"}`); r.code != 201 {
		t.Fatalf("override: %d %s", r.code, r.body)
	} else {
		r.json(t, &made)
	}
	if modified := step("shortened", "20250921T000000Z", "1"); modified != h.clock.Now().UTC().Format("20060102T150405Z") {
		t.Fatalf("LAST-MODIFIED %s, want the change's %v", modified, h.clock.Now().UTC())
	}
	h.clock.Set(h.clock.Now().Add(time.Hour))
	step("again, nothing changed", "20250921T000000Z", "1")
	if r := h.api("DELETE", "/api/v1/schedules/s/overrides/"+made.ID, ""); r.code != 200 {
		t.Fatalf("delete: %d %s", r.code, r.body)
	}
	step("override deleted", "20250922T000000Z", "2")
}

// A feed URL's ?weeks= is 1 to 52; anything else is 400 saying so, not a
// feed quietly four weeks long (found out only when someone's shift is
// missing from it).
func TestCalendarFeedWeeksParam(t *testing.T) {
	h := newHarness(t, withConfig(overridesConfig))
	var feed struct{ URL string }
	h.api("GET", "/api/v1/schedules/s/feed", "").json(t, &feed)
	path := strings.TrimPrefix(feed.URL, h.url)
	events := func(q string) int {
		t.Helper()
		r := h.do("GET", path+q, "")
		if r.code != 200 {
			t.Fatalf("%s: %d %s", q, r.code, r.body)
		}
		return strings.Count(r.body, "BEGIN:VEVENT")
	}
	if four, twelve := events(""), events("?weeks=12"); twelve <= four {
		t.Fatalf("weeks=12 gives %d events, the default %d", twelve, four)
	}
	for _, q := range []string{"0", "53", "abc", "4w", "-1"} {
		if r := h.do("GET", path+"?weeks="+q, ""); r.code != 400 || !strings.Contains(r.body, "weeks") {
			t.Errorf("weeks=%s: %d %s", q, r.code, r.body)
		}
	}
}
