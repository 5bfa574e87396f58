package policy

import (
	"strings"
	"testing"
	"time"
)

// TestEngineNextBusinessDayIsNeverSoonerThanTheAckTarget: AION-R's SEV-4
// acknowledgement target is 2 hours, its maximum "next business day", and
// an alert not acknowledged within the maximum escalates. The maximum
// counts from the 2 hours' end: a SEV-4 paged on Wednesday at 08:59 goes to
// the secondary on Thursday at 09:00, not at Wednesday's opening a minute
// later; one paged at 06:00 or 07:00 on Wednesday at 09:00; one on Friday
// at 20:00 on Monday at 09:00.
func TestEngineNextBusinessDayIsNeverSoonerThanTheAckTarget(t *testing.T) {
	for _, tc := range []struct{ name, at, want, secondary string }{
		// Engineer B is the secondary in the week of 2025-10-06,
		// Engineer C from Monday 2025-10-13.
		{"Wed 08:59", "2025-10-08T08:59:00Z", "2025-10-09T09:00:00Z", "eng-b"},
		{"Wed 06:00", "2025-10-08T06:00:00Z", "2025-10-08T09:00:00Z", "eng-b"},
		// The 2 hours end at the opening: due then, not a day later.
		{"Wed 07:00", "2025-10-08T07:00:00Z", "2025-10-08T09:00:00Z", "eng-b"},
		{"Fri 20:00", "2025-10-10T20:00:00Z", "2025-10-13T09:00:00Z", "eng-c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at, want := scenAt(t, tc.at), scenAt(t, tc.want)
			pages := seedRun(t, "aion-r.yaml", at, map[string]string{"severity": "info"}, want.Sub(at)+time.Minute, nil)
			first := ""
			for _, p := range pages {
				if !strings.HasPrefix(p, "0s ") {
					first = p
					break
				}
			}
			if w := Duration(want.Sub(at)).String() + " " + tc.secondary + " email low"; first != w {
				t.Errorf("the secondary's first page: %q, want %q (pages %q)", first, w, pages)
			}
		})
	}
}

// TestDueAtNextBusinessDayCountsFromTheAckTarget: every deadline counted
// in next_business_day (response targets too, as reports and `pagerd
// route` show them) starts after the priority's acknowledge target, with
// its business-hours or off-hours variant: AIVO's P3 (acknowledge 4h, 1h
// off-hours; initial response next business day) opened at 07:30 New
// York, off-hours, is to be acknowledged by 08:30, after the office
// opened, so its initial response is due the next morning.
func TestDueAtNextBusinessDayCountsFromTheAckTarget(t *testing.T) {
	c := scenLoad(t, "aivo.yaml")
	svc := &c.Services[0]
	ny, _ := time.LoadLocation("America/New_York")
	nbd := Timeout{Kind: TimeoutNextBusinessDay, set: true}
	for _, tc := range []struct {
		prio     string
		at, want time.Time
	}{
		{"P3", time.Date(2025, 9, 9, 7, 30, 0, 0, ny), time.Date(2025, 9, 10, 8, 0, 0, 0, ny)},
		{"P3", time.Date(2025, 9, 9, 6, 30, 0, 0, ny), time.Date(2025, 9, 9, 8, 0, 0, 0, ny)},
		// Business hours: 4h from 13:00 is 17:00, so the next morning.
		{"P3", time.Date(2025, 9, 9, 13, 0, 0, 0, ny), time.Date(2025, 9, 10, 8, 0, 0, 0, ny)},
	} {
		if got := c.DueAt(svc, tc.prio, nbd, tc.at); !got.Equal(tc.want) {
			t.Errorf("%s at %s: next_business_day due %s, want %s", tc.prio, tc.at, got, tc.want)
		}
		p := c.Preview(svc, map[string]string{"severity": "info"}, tc.at)
		if got := p.Targets["initial_response"].Due; !got.Equal(tc.want) {
			t.Errorf("P3 at %s: route shows initial_response due %s, want %s", tc.at, got, tc.want)
		}
		rt := c.Route(svc, map[string]string{"severity": "info"}, tc.at)
		inc, _, err := (&Engine{Config: c}).Apply(Incident{ID: "nbd"}, Event{Kind: EventTrigger, Route: &rt}, tc.at)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range inc.Pending {
			if d.Kind == DeadlineSLA && d.Target == "initial_response" && !d.At.Equal(tc.want) {
				t.Errorf("P3 at %s: the engine arms initial_response at %s, want %s", tc.at, d.At, tc.want)
			}
		}
	}
}
