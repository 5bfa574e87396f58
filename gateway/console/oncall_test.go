package console

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // America/Santiago loads without the system's zoneinfo

	"github.com/pagerd/pagerd/policy"
)

// TestScheduleCalendarOnADayMidnightIsSkipped: Santiago's clocks skip from
// 00:00 to 01:00 on Sunday 2025-09-07, so that day begins at 01:00. The
// calendar shows it as Sunday (not a second Saturday, from 23:00), held by
// the holiday override alone: the rotation's hour before it is Saturday's.
func TestScheduleCalendarOnADayMidnightIsSkipped(t *testing.T) {
	cfg := santiago(t)
	now := time.Date(2025, 9, 3, 12, 0, 0, 0, time.UTC)
	c := New(Options{Now: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	v := &viewer{User: cfg.User("a"), Role: policy.RoleViewer, cfg: cfg}
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/ui/schedules/s?from=2025-09-01&weeks=1", nil)
	c.renderSchedule(w, r, v, cfg.Schedule("s"), http.StatusOK, "", "")
	if w.Code != http.StatusOK {
		t.Fatalf("the calendar: %d\n%s", w.Code, w.Body.String())
	}
	rows := map[string]string{}
	for _, row := range strings.Split(w.Body.String(), "<tr")[1:] {
		if _, day, ok := strings.Cut(row, `<th scope="row">`); ok {
			day, _, _ = strings.Cut(day, "<")
			day = strings.TrimSpace(day)
			if _, seen := rows[day]; seen {
				t.Errorf("%s is shown twice", day)
			}
			rows[day] = row
		}
	}
	sun, ok := rows["Sun 7 Sep"]
	if !ok {
		t.Fatalf("no row for Sun 7 Sep; the days shown: %v", keys(rows))
	}
	if !strings.Contains(sun, "Hol") || strings.Contains(sun, "Ana") {
		t.Errorf("Sun 7 Sep, which begins at 01:00, shows:\n%s\nwant Hol alone", sun)
	}
	if sat := rows["Sat 6 Sep"]; !strings.Contains(sat, "Ana") || strings.Contains(sat, "Hol") {
		t.Errorf("Sat 6 Sep shows:\n%s\nwant Ana alone", sat)
	}
}

// santiago is a config of three users and one weekly schedule in
// America/Santiago with a holiday override.
func santiago(t *testing.T) *policy.Config {
	t.Helper()
	cfg, err := policy.Parse([]byte(`
users:
  - {id: a, name: Ana, contacts: [{channel: push, via: log}]}
  - {id: b, name: Bo, contacts: [{channel: push, via: log}]}
  - {id: h, name: Hol, contacts: [{channel: push, via: log}]}
schedules:
  - name: s
    time_zone: America/Santiago
    handoff: {weekday: monday, time: "09:00"}
    tiers:
      - {name: primary, start: 2025-09-01, members: [a, b]}
    overrides:
      - {reason: holiday, from: 2025-09-07, until: 2025-09-07, tiers: {primary: h}}
escalation_policies:
  - name: p
    levels:
      - {name: first, targets: [{schedule: s, tier: primary}]}
services:
  - {name: svc, priority_scheme: P0-P3, escalation_policy: p}
`), "santiago.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestOnCallLeavesOutForeverBounds: a span bounded by "forever" on one
// side (a gap before a tier's first layer begins, a span that never ends)
// shows only the bound that is an instant, "until …" or "from …", never
// year 1 or 9999, as GET /api/v1/oncall leaves such bounds out.
func TestOnCallLeavesOutForeverBounds(t *testing.T) {
	cfg := santiago(t)
	at := time.Date(2025, 10, 6, 8, 0, 0, 0, time.UTC)
	// What policy's "forever" bounds are: they are not exported, and
	// these are on or past them.
	past, future := time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, time.December, 31, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		sh        policy.Shift
		want, not string
	}{
		{"a gap since forever", policy.Shift{Tier: "primary", From: past, Until: at}, "until Mon 6 Oct 08:00 UTC", "Mon 1 Jan"},
		{"a span that never ends", policy.Shift{Tier: "primary", User: "a", From: at, Until: future}, "from Mon 6 Oct 08:00 UTC", "31 Dec"},
		{"both bounds", policy.Shift{Tier: "primary", User: "a", From: at, Until: at.Add(8 * time.Hour)}, "Mon 6 Oct 08:00 – Mon 6 Oct 16:00 UTC", "until"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := []scheduleNow{{Name: "s", TimeZone: "UTC", Tiers: []tierNow{{Tier: "Primary", Now: holderOf(cfg, tc.sh, time.UTC)}}}}
			c := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			w := httptest.NewRecorder()
			c.render(w, http.StatusOK, "oncall.html", page{Title: "On call", Body: body})
			got := w.Body.String()
			if !strings.Contains(got, tc.want) || strings.Contains(got, tc.not) || strings.Contains(got, "0001") || strings.Contains(got, "9999") {
				t.Errorf("the page shows:\n%s\nwant %q and no %q", got, tc.want, tc.not)
			}
		})
	}
}
