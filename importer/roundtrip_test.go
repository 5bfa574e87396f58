package importer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// The round trip of the rotation shapes: daily, N-day and hourly turns,
// time-of-day and weekday restrictions (one crossing midnight) and stacked
// layers, from each vendor's JSON (testdata/shapes). Who the source has on
// call is worked out here from the same JSON, independently of the
// importer and of pagerd's rotation code: turns are stepped on the
// schedule's wall clock with time.Date, restrictions read as the vendor
// documents them, and for Grafana OnCall the events themselves are
// enumerated and the highest level covering an instant wins. The imported
// config must answer the same at every sample instant: every 15 minutes,
// and the minute before, over two weeks around the autumn and the spring
// daylight saving changes.

// sampleInstants are every 15 minutes, and the minute before each, in the
// spans [from, from+14 days).
func sampleInstants(froms ...time.Time) []time.Time {
	var out []time.Time
	for _, from := range froms {
		for t := from; t.Before(from.AddDate(0, 0, 14)); t = t.Add(15 * time.Minute) {
			out = append(out, t.Add(-time.Minute), t)
		}
	}
	return out
}

// wallTurn is the index of the turn holding t, for turns starting at
// start's wall clock in loc plus k·step (step applies to the wall clock).
func wallTurn(t, start time.Time, loc *time.Location, step func(l time.Time, k int) time.Time, approx time.Duration) int {
	l := start.In(loc)
	k := int(t.Sub(start) / approx)
	for step(l, k).After(t) {
		k--
	}
	for !step(l, k+1).After(t) {
		k++
	}
	return k
}

func stepHours(n int) func(time.Time, int) time.Time {
	return func(l time.Time, k int) time.Time {
		return time.Date(l.Year(), l.Month(), l.Day(), l.Hour()+k*n, l.Minute(), 0, 0, l.Location())
	}
}

func stepDays(n int) func(time.Time, int) time.Time {
	return func(l time.Time, k int) time.Time {
		return time.Date(l.Year(), l.Month(), l.Day()+k*n, l.Hour(), l.Minute(), 0, 0, l.Location())
	}
}

func mod(a, b int) int { return ((a % b) + b) % b }

// inSpan reports whether minute m is in [from, from+length) on a circle of
// size.
func inSpan(m, from, length, size int) bool { return mod(m-from, size) < length }

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "shapes", path))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

func sortedSet(m map[string]bool) []string {
	var out []string
	for u := range m {
		if u != "" {
			out = append(out, u)
		}
	}
	sort.Strings(out)
	return out
}

// tierOf finds the tier of a name in any schedule of the config.
func tierOf(t *testing.T, cfg *policy.Config, name string) *policy.Schedule {
	t.Helper()
	for i := range cfg.Schedules {
		if cfg.Schedules[i].Tier(name) != nil {
			return &cfg.Schedules[i]
		}
	}
	t.Fatalf("no tier %s in the imported config", name)
	return nil
}

func TestOpsgenieShapesRoundTrip(t *testing.T) {
	res, cfg := importFixture(t, Opsgenie, Options{}, "shapes/opsgenie")
	var users struct {
		Data []struct{ ID, Username string }
	}
	readJSON(t, "opsgenie/users.json", &users)
	id := map[string]string{}
	for _, u := range users.Data {
		id[u.ID] = strings.Split(u.Username, "@")[0]
	}
	var sched struct {
		Data struct {
			Timezone  string
			Rotations []struct {
				Name, Type   string
				Length       int
				StartDate    time.Time
				Participants []struct{ ID string }
				// As the Opsgenie Schedule Rotation API documents it.
				TimeRestriction *struct {
					Type         string
					Restriction  *struct{ StartHour, StartMin, EndHour, EndMin int }
					Restrictions []struct {
						StartDay, EndDay                     string
						StartHour, StartMin, EndHour, EndMin int
					}
				}
			}
		}
	}
	readJSON(t, "opsgenie/schedule.json", &sched)
	loc, _ := time.LoadLocation(sched.Data.Timezone)
	days := map[string]int{"sunday": 0, "monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5, "saturday": 6}
	// source is who the rotation has on call at t ("" for nobody).
	source := func(i int, at time.Time) string {
		r := sched.Data.Rotations[i]
		var step func(time.Time, int) time.Time
		approx := time.Hour * time.Duration(r.Length)
		switch r.Type {
		case "hourly":
			step = stepHours(r.Length)
		case "daily":
			step, approx = stepDays(r.Length), approx*24
		case "weekly":
			step, approx = stepDays(7*r.Length), approx*24*7
		}
		if tr := r.TimeRestriction; tr != nil {
			l := at.In(loc)
			m := l.Hour()*60 + l.Minute()
			in := false
			switch tr.Type {
			case "time-of-day":
				x := tr.Restriction
				a, e := x.StartHour*60+x.StartMin, x.EndHour*60+x.EndMin
				in = inSpan(m, a, mod(e-a, 1440), 1440)
			case "weekday-and-time-of-day":
				wm := int(l.Weekday())*1440 + m
				for _, x := range tr.Restrictions {
					a := days[x.StartDay]*1440 + x.StartHour*60 + x.StartMin
					e := days[x.EndDay]*1440 + x.EndHour*60 + x.EndMin
					in = in || inSpan(wm, a, mod(e-a, 7*1440), 7*1440)
				}
			}
			if !in {
				return ""
			}
		}
		k := wallTurn(at, r.StartDate, loc, step, approx)
		return id[r.Participants[mod(k, len(r.Participants))].ID]
	}
	tiers := map[int]string{0: "daily", 1: "three-day", 2: "twelve-hours", 3: "business-hours", 4: "nights"}
	for _, at := range sampleInstants(time.Date(2025, 10, 27, 0, 0, 0, 0, loc), time.Date(2026, 3, 2, 0, 0, 0, 0, loc)) {
		want := map[string]bool{}
		for i, tier := range tiers {
			who := source(i, at)
			want[who] = true
			sh, _ := tierOf(t, cfg, tier).OnCallTier(tier, at)
			if sh.User != who {
				t.Fatalf("%s: %s held by %q, the source has %q", at.In(loc).Format(time.RFC3339), tier, sh.User, who)
			}
		}
		if got := onCallUsers(t, cfg, at); !reflect.DeepEqual(got, sortedSet(want)) {
			t.Fatalf("%s: on call %v, the source %v", at.In(loc).Format(time.RFC3339), got, sortedSet(want))
		}
	}
	for _, w := range [][]string{
		{`rotation "Odd hours"`, "turns of 200 hours", "1 to 168 hours"},
		{`rotation "Empty window"`, "from 09:00 to 09:00", "no window"},
	} {
		if issueWith(res.Report, NotMapped, w...) == nil {
			t.Errorf("the report has no not-imported issue with %q:\n%+v", w, res.Report.Issues)
		}
	}
	if n := res.Report.Count(NotMapped); n != 2 {
		t.Errorf("%d rotations reported, want 2 (Odd hours, Empty window):\n%+v", n, res.Report.Issues)
	}
}

func TestPagerDutyShapesRoundTrip(t *testing.T) {
	res, cfg := importFixture(t, PagerDuty, Options{}, "shapes/pagerduty")
	var users struct {
		Users []struct{ ID, Email string }
	}
	readJSON(t, "pagerduty/users.json", &users)
	id := map[string]string{}
	for _, u := range users.Users {
		id[u.ID] = strings.Split(u.Email, "@")[0]
	}
	var doc struct {
		Schedule struct {
			TimeZone       string `json:"time_zone"`
			ScheduleLayers []struct {
				Name         string
				Start        time.Time
				VirtualStart time.Time `json:"rotation_virtual_start"`
				TurnSeconds  int       `json:"rotation_turn_length_seconds"`
				Users        []struct{ User struct{ ID string } }
				Restrictions []struct {
					Type            string
					StartTimeOfDay  string `json:"start_time_of_day"`
					StartDayOfWeek  int    `json:"start_day_of_week"`
					DurationSeconds int    `json:"duration_seconds"`
				}
			} `json:"schedule_layers"`
		}
	}
	readJSON(t, "pagerduty/schedule.json", &doc)
	loc, _ := time.LoadLocation(doc.Schedule.TimeZone)
	// PagerDuty's final schedule: the first layer (highest) that has
	// someone on call at t.
	source := func(at time.Time) string {
		l := at.In(loc)
		m := l.Hour()*60 + l.Minute()
		for _, layer := range doc.Schedule.ScheduleLayers {
			if at.Before(layer.Start) {
				continue
			}
			in := len(layer.Restrictions) == 0
			for _, r := range layer.Restrictions {
				hm, _ := time.Parse("15:04:05", r.StartTimeOfDay)
				a, n := hm.Hour()*60+hm.Minute(), r.DurationSeconds/60
				if r.Type == "daily_restriction" {
					in = in || inSpan(m, a, n, 1440)
				} else {
					in = in || inSpan(int(l.Weekday())*1440+m, mod(r.StartDayOfWeek, 7)*1440+a, n, 7*1440)
				}
			}
			if !in {
				continue
			}
			step := stepHours(layer.TurnSeconds / 3600)
			if layer.TurnSeconds%86400 == 0 {
				step = stepDays(layer.TurnSeconds / 86400)
			}
			k := wallTurn(at, layer.VirtualStart, loc, step, time.Duration(layer.TurnSeconds)*time.Second)
			return id[layer.Users[mod(k, len(layer.Users))].User.ID]
		}
		return ""
	}
	for _, at := range sampleInstants(time.Date(2025, 10, 20, 0, 0, 0, 0, loc), time.Date(2026, 3, 23, 0, 0, 0, 0, loc)) {
		want := source(at)
		if got := onCallUsers(t, cfg, at); !reflect.DeepEqual(got, []string{want}) {
			t.Fatalf("%s: on call %v, PagerDuty has %s", at.In(loc).Format(time.RFC3339), got, want)
		}
	}
	// One tier: the layer under the others is its own rotation, the
	// restricted ones stacked on it.
	s := cfg.Schedule("support")
	if s == nil || len(s.Tiers) != 1 || s.Tiers[0].ShiftHours != 12 || len(s.Tiers[0].Layers) != 2 ||
		s.Tiers[0].Layers[0].Name != "office" || s.Tiers[0].Layers[0].ShiftDays != 1 || s.Tiers[0].Layers[1].ShiftDays != 2 {
		t.Errorf("schedule support: %+v", s)
	}
	if issueWith(res.Report, NotMapped, `layer "Hidden"`, "never on call", `"Twelve"`) == nil {
		t.Errorf("the hidden layer is not reported:\n%+v", res.Report.Issues)
	}
}

func TestGrafanaShapesRoundTrip(t *testing.T) {
	res, cfg := importFixture(t, GrafanaOnCall, Options{}, "shapes/grafana-oncall")
	var users struct {
		Results []struct{ ID, Username string }
	}
	readJSON(t, "grafana-oncall/users.json", &users)
	id := map[string]string{}
	for _, u := range users.Results {
		id[u.ID] = u.Username
	}
	var shifts struct {
		Results []struct {
			ID, Name, Type, Start     string
			Frequency                 string
			WeekStart                 string `json:"week_start"`
			Level, Duration, Interval int
			ByDay                     []string   `json:"by_day"`
			Users                     []string   `json:"users"`
			RollingUsers              [][]string `json:"rolling_users"`
		}
	}
	readJSON(t, "grafana-oncall/on_call_shifts.json", &shifts)
	var scheds struct {
		Results []struct {
			Name     string
			TimeZone string `json:"time_zone"`
			Shifts   []string
		}
	}
	readJSON(t, "grafana-oncall/schedules.json", &scheds)
	ical := map[string]time.Weekday{"SU": 0, "MO": 1, "TU": 2, "WE": 3, "TH": 4, "FR": 5, "SA": 6}
	// events are the users of the shift's events covering at: events start
	// at the shift's start (on the schedule's clock: the shifts have no
	// time_zone, and the schedules are calendar schedules, which Grafana
	// OnCall lays out in their own zone) plus interval units on the wall clock (on the
	// by_day days of each week for those), last duration on the wall
	// clock, and rolling_users hands each occurrence (each week, for
	// weekly shifts with by_day) to the next group.
	events := func(i int, loc *time.Location, at time.Time) []string {
		sh := shifts.Results[i]
		start, _ := time.ParseInLocation("2006-01-02T15:04:05", sh.Start, loc)
		groups := sh.RollingUsers
		if sh.Type != "rolling_users" {
			groups = [][]string{sh.Users}
		}
		covers := func(from time.Time) bool {
			until := time.Date(from.Year(), from.Month(), from.Day(), from.Hour(), from.Minute(), from.Second()+sh.Duration, 0, loc)
			return !from.After(at) && at.Before(until)
		}
		var out []string
		if len(sh.ByDay) > 0 {
			weekStart := ical[sh.WeekStart]
			weekOf := func(d time.Time) time.Time {
				return time.Date(d.Year(), d.Month(), d.Day()-mod(int(d.Weekday())-int(weekStart), 7), 0, 0, 0, 0, loc)
			}
			selected := map[time.Weekday]bool{}
			for _, d := range sh.ByDay {
				selected[ical[d]] = true
			}
			first := start
			for !selected[first.Weekday()] {
				first = first.AddDate(0, 0, 1)
			}
			l := at.In(loc)
			for back := 0; back <= 2; back++ {
				occ := time.Date(l.Year(), l.Month(), l.Day()-back, start.Hour(), start.Minute(), 0, 0, loc)
				if occ.Before(first) || !selected[occ.Weekday()] || !covers(occ) {
					continue
				}
				w := int(weekOf(occ).Sub(weekOf(first)).Hours()+12) / (24 * 7)
				out = append(out, groups[mod(w, len(groups))]...)
			}
			return out
		}
		step, approx := stepHours(sh.Interval), time.Duration(sh.Interval)*time.Hour
		switch sh.Frequency {
		case "daily":
			step, approx = stepDays(sh.Interval), approx*24
		case "weekly":
			step, approx = stepDays(7*sh.Interval), approx*24*7
		}
		k := wallTurn(at, start, loc, step, approx)
		for j := k - 2; j <= k; j++ {
			if occ := step(start, j); j >= 0 && covers(occ) {
				out = append(out, groups[mod(j, len(groups))]...)
			}
		}
		return out
	}
	mapped := map[string]bool{"Daily": true, "Twelve": true, "Mornings": true, "Nights": true, "Two-day": true, "Weekend": true, "Base": true}
	for _, sc := range scheds.Results {
		loc, _ := time.LoadLocation(sc.TimeZone)
		name := strings.ToLower(sc.Name)
		for _, at := range sampleInstants(time.Date(2025, 10, 20, 0, 0, 0, 0, loc), time.Date(2026, 3, 23, 0, 0, 0, 0, loc)) {
			// The highest level with an event covering at wins; within it,
			// everyone on call together.
			byLevel := map[int]map[string]bool{}
			top := -1
			for i, sh := range shifts.Results {
				in := false
				for _, s := range sc.Shifts {
					in = in || s == sh.ID
				}
				if !in || !mapped[sh.Name] {
					continue
				}
				for _, u := range events(i, loc, at) {
					if byLevel[sh.Level] == nil {
						byLevel[sh.Level] = map[string]bool{}
					}
					byLevel[sh.Level][id[u]] = true
					if sh.Level > top {
						top = sh.Level
					}
				}
			}
			want := sortedSet(byLevel[top])
			var got []string
			seen := map[string]bool{}
			// The source schedule's pagerd schedules: calendar, and calendar-... for
			// rotations handing off at other times.
			for _, ps := range cfg.Schedules {
				if ps.Name != name && !strings.HasPrefix(ps.Name, name+"-") {
					continue
				}
				rows, err := cfg.WhoIsOnCall(at, ps.Name)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rows {
					if r.User != "" && !seen[r.User] {
						seen[r.User] = true
						got = append(got, r.User)
					}
				}
			}
			sort.Strings(got)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s, %s: on call %v, Grafana OnCall has %v", sc.Name, at.In(loc).Format(time.RFC3339), got, want)
			}
		}
	}
	for _, w := range [][]string{
		{`shift "Masked days"`, "hands the turn on at each selected day only"},
		{`shift "Monthly"`, "some days of the month", "repeat every week"},
	} {
		if issueWith(res.Report, NotMapped, w...) == nil {
			t.Errorf("the report has no not-imported issue with %q:\n%+v", w, res.Report.Issues)
		}
	}
	if s := cfg.Schedule("stacked"); s == nil || len(s.Tiers) != 1 || len(s.Tiers[0].Layers) != 1 || s.Tiers[0].Layers[0].Name != "weekend" {
		t.Errorf("schedule stacked: %+v, want tier base with layer weekend", s)
	}
}
