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

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
