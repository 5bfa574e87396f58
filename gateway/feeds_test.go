package gateway

import (
	"strings"
	"testing"

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
