package importer

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// Grafana OnCall: the JSON its HTTP API v1 returns, lists
// ({"count", "next", "previous", "results": [...]}) or single objects:
// /api/v1/users/, /api/v1/schedules/, /api/v1/on_call_shifts/,
// /api/v1/escalation_chains/, /api/v1/escalation_policies/ (the steps of
// the chains), /api/v1/integrations/, /api/v1/routes/ and
// /api/v1/personal_notification_rules/. A schedule's shifts are found by
// the ids in its "shifts" list; shift start times are wall-clock times in
// the shift's time zone or, when the shift has none, the schedule's (a
// calendar schedule) or UTC (a web schedule).

type gUser struct {
	ID       string  `json:"id"`
	Email    string  `json:"email"`
	Username string  `json:"username"`
	Timezone string  `json:"timezone"`
	Slack    gSlacks `json:"slack"`
}

// gSlacks are the Slack users an OnCall user is linked to: a list of
// {user_id, team_id} in OnCall OSS's API, one such object in Grafana
// Cloud's, null or empty when the user has not linked Slack.
type gSlacks []gSlack

type gSlack struct {
	UserID string `json:"user_id"`
	TeamID string `json:"team_id"`
}

// UnmarshalJSON reads the list or the single object. Anything else reads
// as no Slack user: the user is imported without one, and a Slack rule of
// theirs is reported as such.
func (g *gSlacks) UnmarshalJSON(data []byte) error {
	var list []gSlack
	if err := json.Unmarshal(data, &list); err == nil {
		*g = list
		return nil
	}
	var one gSlack
	if err := json.Unmarshal(data, &one); err == nil {
		*g = gSlacks{one}
	}
	return nil
}

// ids are the distinct Slack member ids, in order.
func (g gSlacks) ids() []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range g {
		if s.UserID != "" && !seen[s.UserID] {
			seen[s.UserID] = true
			out = append(out, s.UserID)
		}
	}
	return out
}

type gSchedule struct {
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	Type             string   `json:"type"`
	TimeZone         string   `json:"time_zone"`
	Shifts           []string `json:"shifts"`
	IcalURLPrimary   *string  `json:"ical_url_primary"`
	IcalURLOverrides *string  `json:"ical_url_overrides"`
}

type gShift struct {
	ID                         string     `json:"id"`
	Name                       string     `json:"name"`
	Type                       string     `json:"type"`
	TimeZone                   *string    `json:"time_zone"`
	Level                      int        `json:"level"`
	Start                      string     `json:"start"`
	RotationStart              string     `json:"rotation_start"`
	Duration                   int        `json:"duration"`
	Frequency                  *string    `json:"frequency"`
	Interval                   *int       `json:"interval"`
	Until                      *string    `json:"until"`
	ByDay                      []string   `json:"by_day"`
	WeekStart                  string     `json:"week_start"`
	ByMonth                    []int      `json:"by_month"`
	ByMonthday                 []int      `json:"by_monthday"`
	Users                      []string   `json:"users"`
	RollingUsers               [][]string `json:"rolling_users"`
	StartRotationFromUserIndex *int       `json:"start_rotation_from_user_index"`
}

type gStep struct {
	ID                       string   `json:"id"`
	EscalationChainID        string   `json:"escalation_chain_id"`
	Position                 int      `json:"position"`
	Type                     string   `json:"type"`
	Duration                 *int     `json:"duration"`
	Important                bool     `json:"important"`
	PersonsToNotify          []string `json:"persons_to_notify"`
	PersonsNextEachTime      []string `json:"persons_to_notify_next_each_time"`
	NotifyOnCallFromSchedule string   `json:"notify_on_call_from_schedule"`
	NotifyIfTimeFrom         string   `json:"notify_if_time_from"`
	NotifyIfTimeTo           string   `json:"notify_if_time_to"`
}

type gIntegration struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Type         string `json:"type"`
	DefaultRoute *struct {
		ID                string  `json:"id"`
		EscalationChainID *string `json:"escalation_chain_id"`
	} `json:"default_route"`
	MaintenanceMode *string `json:"maintenance_mode"`
}

type gRoute struct {
	ID                string  `json:"id"`
	IntegrationID     string  `json:"integration_id"`
	EscalationChainID *string `json:"escalation_chain_id"`
	RoutingRegex      string  `json:"routing_regex"`
	Position          int     `json:"position"`
}

type gRule struct {
	ID        string `json:"id"`
	UserID    string `json:"user_id"`
	Position  int    `json:"position"`
	Important bool   `json:"important"`
	Type      string `json:"type"`
	Duration  *int   `json:"duration"`
}

type gExport struct {
	users        []gUser
	schedules    []gSchedule
	shifts       map[string]gShift
	chains       []struct{ ID, Name string }
	steps        map[string][]gStep
	integrations []gIntegration
	routes       []gRoute
	rules        map[string][]gRule
}

func readGrafana(docs []Document, rep *Report) (*source, error) {
	ex := &gExport{shifts: map[string]gShift{}, steps: map[string][]gStep{}, rules: map[string][]gRule{}}
	for _, d := range docs {
		objs, err := d.objects("results")
		if err != nil {
			return nil, err
		}
		reportLaterPages(d, rep)
		unknown, teams := 0, 0
		for _, obj := range objs {
			var err error
			switch {
			case has(obj, "escalation_chain_id", "position", "type"):
				var s gStep
				err = into(obj, &s, d.Name)
				ex.steps[s.EscalationChainID] = append(ex.steps[s.EscalationChainID], s)
			case has(obj, "integration_id", "routing_regex"):
				var r gRoute
				err = into(obj, &r, d.Name)
				ex.routes = append(ex.routes, r)
			case has(obj, "user_id", "type", "position"):
				var r gRule
				err = into(obj, &r, d.Name)
				ex.rules[r.UserID] = append(ex.rules[r.UserID], r)
			case has(obj, "default_route") || has(obj, "link", "type"):
				var i gIntegration
				err = into(obj, &i, d.Name)
				ex.integrations = append(ex.integrations, i)
			case has(obj, "on_call_now") || has(obj, "ical_url_primary") || has(obj, "shifts", "time_zone"):
				var s gSchedule
				err = into(obj, &s, d.Name)
				ex.schedules = append(ex.schedules, s)
			case has(obj, "duration", "type", "start"):
				var s gShift
				err = into(obj, &s, d.Name)
				ex.shifts[s.ID] = s
			case has(obj, "email", "username"):
				var u gUser
				err = into(obj, &u, d.Name)
				ex.users = append(ex.users, u)
			case has(obj, "email", "avatar_url"):
				teams++
			case has(obj, "id", "name") && len(obj) <= 3:
				var c struct{ ID, Name string }
				err = into(obj, &c, d.Name)
				ex.chains = append(ex.chains, c)
			default:
				unknown++
			}
			if err != nil {
				return nil, err
			}
		}
		if teams > 0 {
			rep.add(NotMapped, ref{Kind: "file", Name: d.Name}, "%d Grafana OnCall teams: pagerd has no teams; their users, schedules and escalation chains are imported on their own", teams)
		}
		if unknown > 0 {
			rep.add(NotMapped, ref{Kind: "file", Name: d.Name}, "%d objects pagerd import does not know; not read", unknown)
		}
	}
	// Steps of chains the export does not list are imported under the
	// chain's id.
	known := map[string]bool{}
	for _, c := range ex.chains {
		known[c.ID] = true
	}
	var orphans []string
	for id := range ex.steps {
		if !known[id] {
			orphans = append(orphans, id)
		}
	}
	sort.Strings(orphans)
	for _, id := range orphans {
		ex.chains = append(ex.chains, struct{ ID, Name string }{id, id})
	}
	return ex.model(rep), nil
}

func (ex *gExport) model(rep *Report) *source {
	src := &source{}
	for _, u := range ex.users {
		src.people = append(src.people, ex.person(u, rep))
	}
	if len(ex.users) > 0 {
		rep.add(NotMapped, ref{Kind: "Grafana OnCall users"}, "the API gives no phone numbers or app devices, so SMS, phone-call and app notification steps have no contact to be imported with: add their SMS and voice numbers by hand (email and Slack steps are imported, to the user's email and the Slack user they linked)")
	}
	for _, s := range ex.schedules {
		if sc := ex.schedule(s, rep); sc != nil {
			src.schedules = append(src.schedules, sc)
		}
	}
	for _, c := range ex.chains {
		src.ladders = append(src.ladders, ex.ladder(c.ID, c.Name, rep))
	}
	for _, in := range ex.integrations {
		if s := ex.service(in, rep); s != nil {
			src.services = append(src.services, s)
		}
	}
	ex.reportUnattached(rep)
	return src
}

// reportUnattached reports what the export holds but nothing in it leads
// to: shifts no schedule lists, routes of integrations and personal rules
// of users that are not in the export. Each is left out, and doc.go
// promises a line for everything left out.
func (ex *gExport) reportUnattached(rep *Report) {
	listed := map[string]bool{}
	for _, s := range ex.schedules {
		for _, id := range s.Shifts {
			listed[id] = true
		}
	}
	var shifts []string
	for id := range ex.shifts {
		if !listed[id] {
			shifts = append(shifts, id)
		}
	}
	sort.Strings(shifts)
	for _, id := range shifts {
		sh := ex.shifts[id]
		rep.add(NotMapped, ref{Kind: "Grafana OnCall shift", Name: sh.Name, ID: id}, "is in no schedule of the export (export /api/v1/schedules/ with it); not imported")
	}
	integrations := map[string]bool{}
	for _, in := range ex.integrations {
		integrations[in.ID] = true
	}
	for _, rt := range ex.routes {
		if !integrations[rt.IntegrationID] {
			rep.add(NotMapped, ref{Kind: "Grafana OnCall route", Name: rt.RoutingRegex, ID: rt.ID}, "belongs to integration %s, which is not in the export (export /api/v1/integrations/); not imported", rt.IntegrationID)
		}
	}
	users := map[string]bool{}
	for _, u := range ex.users {
		users[u.ID] = true
	}
	var owners []string
	for id := range ex.rules {
		if !users[id] {
			owners = append(owners, id)
		}
	}
	sort.Strings(owners)
	for _, id := range owners {
		rep.add(NotMapped, ref{Kind: "Grafana OnCall user", ID: id}, "has %d personal notification rules, but is not in the export (export /api/v1/users/); not imported", len(ex.rules[id]))
	}
}

// gChannel is the pagerd channel of a personal notification rule type.
func gChannel(typ string) string {
	switch t := strings.TrimPrefix(typ, "notify_by_"); {
	case t == "sms":
		return policy.ChannelSMS
	case t == "phone_call":
		return policy.ChannelVoice
	case strings.HasPrefix(t, "mobile_app"):
		return policy.ChannelPush
	case t == "email":
		return policy.ChannelEmail
	case t == "slack":
		return policy.ChannelSlack
	default:
		return t
	}
}

func (ex *gExport) person(u gUser, rep *Report) *person {
	r := ref{Kind: "Grafana OnCall user", Name: u.Username, ID: u.ID}
	p := &person{ref: r, keys: lowerKeys(u.ID, u.Username, u.Email), hint: u.Username, email: u.Email, tz: u.Timezone}
	if p.hint == "" {
		p.hint = localPart(u.Email)
	}
	rules := append([]gRule(nil), ex.rules[u.ID]...)
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].Position < rules[j].Position })
	// The Slack user they linked is who pressing a button in Slack acts
	// as, and who notify_by_slack messages.
	slack := u.Slack.ids()
	if len(slack) > 0 {
		p.slackUser = slack[0]
	}
	if len(slack) > 1 {
		rep.add(NotMapped, r, "linked to %d Slack users (%s): pagerd knows a person as one; the first is imported", len(slack), strings.Join(slack, ", "))
	}
	// The user's email is where notify_by_email sends, their Slack user
	// where notify_by_slack does: a contact on each channel any of their
	// rules uses (important ones too, so a ladder rebuilt by hand has it).
	used := map[string]bool{}
	for _, nr := range rules {
		ch := gChannel(nr.Type)
		if used[ch] {
			continue
		}
		used[ch] = true
		switch {
		case ch == policy.ChannelEmail && u.Email == "":
			rep.add(NotMapped, r, "notifies by email (notify_by_email), but the export has no email for them; not imported")
		case ch == policy.ChannelEmail:
			p.contacts = append(p.contacts, contact{channel: ch, address: u.Email, ref: r.in("email", u.Email, "")})
		case ch == policy.ChannelSlack && len(slack) == 0:
			rep.add(NotMapped, r, "notifies by Slack (notify_by_slack), but the export has no Slack member id for them (the users API's slack is empty while their OnCall user is not linked to Slack); not imported: add slack_user and a slack contact by hand")
		case ch == policy.ChannelSlack:
			p.contacts = append(p.contacts, contact{channel: ch, address: slack[0], ref: r.in("Slack user", slack[0], "")})
		}
	}
	var at time.Duration
	var important []string
	for _, nr := range rules {
		if nr.Important {
			important = append(important, strings.TrimPrefix(nr.Type, "notify_by_"))
			continue
		}
		if nr.Type == "wait" {
			if nr.Duration != nil {
				at += time.Duration(*nr.Duration) * time.Second
			}
			continue
		}
		p.high = append(p.high, step{after: at, channel: gChannel(nr.Type)})
	}
	if len(important) > 0 {
		rep.add(NotMapped, r, "important notification rules (%s): pagerd has one ladder per urgency, which the alert's priority picks; the default rules became the high-urgency ladder", strings.Join(important, ", "))
	}
	return p
}

// shiftTime reads a shift's start or until: a wall-clock time in loc, or
// an instant with a zone.
func shiftTime(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.ParseInLocation("2006-01-02T15:04:05", s, loc)
}

func (ex *gExport) schedule(s gSchedule, rep *Report) *schedule {
	r := ref{Kind: "Grafana OnCall schedule", Name: s.Name, ID: s.ID}
	if s.Type == "ical" || (s.IcalURLPrimary != nil && *s.IcalURLPrimary != "") {
		rep.add(NotMapped, r, "an iCal schedule: its shifts live in an external calendar pagerd cannot read; recreate them as rotations (escalations to it are left out)")
		return nil
	}
	if s.IcalURLOverrides != nil && *s.IcalURLOverrides != "" {
		rep.add(NotMapped, r, "takes overrides from an iCal calendar pagerd cannot read; add them as pagerd overrides")
	}
	tz := s.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		// Its shifts' start times are wall-clock times in this zone: read
		// in UTC instead, every handoff would move by the zone's offset.
		rep.add(NotMapped, r, "time zone %q is not one pagerd knows, and its shifts' times are on that zone's clock (read in UTC, every handoff would move by hours); not imported (escalations to it are left out)", tz)
		return nil
	}
	out := &schedule{ref: r, keys: []string{s.ID, s.Name}, name: s.Name, tz: tz}
	byLevel := map[int][]*rotation{}
	var inUTC []string // a web schedule's shifts without a zone, read in UTC
	for _, id := range s.Shifts {
		sh, ok := ex.shifts[id]
		sr := r.in("shift", sh.Name, id)
		if !ok {
			rep.add(NotMapped, r.in("shift", "", id), "is not in the export (export /api/v1/on_call_shifts/); not imported")
			continue
		}
		// A shift's times are on its own zone's clock; without one, on
		// the schedule's in a calendar schedule (shifts made through the
		// API), but in UTC in a web schedule, whose UI stores them in UTC
		// and whose events Grafana OnCall lays out without the schedule's
		// zone (OnCallScheduleWeb's iCal).
		sloc := loc
		if s.Type == "web" {
			sloc = time.UTC
			if (sh.TimeZone == nil || *sh.TimeZone == "") && loc.String() != time.UTC.String() {
				inUTC = append(inUTC, fmt.Sprintf("%q", sh.Name))
			}
		}
		if sh.TimeZone != nil && *sh.TimeZone != "" {
			if l, err := time.LoadLocation(*sh.TimeZone); err == nil {
				sloc = l
			} else {
				rep.add(Changed, sr, "time zone %q is not one pagerd knows; its times are read in the schedule's zone (%s): check its handoffs", *sh.TimeZone, loc)
				sloc = loc
			}
		}
		if sloc.String() != loc.String() && sh.Type != "override" && sh.Type != "single_event" {
			rep.add(Changed, sr, "keeps its handoff time in %s; pagerd keeps it in the schedule's zone (%s), which can move it by an hour across a daylight saving change one zone has and the other not", sloc, loc)
		}
		start, err := shiftTime(sh.Start, sloc)
		if err != nil {
			rep.add(NotMapped, sr, "start %q is not a time; not imported", sh.Start)
			continue
		}
		switch sh.Type {
		case "override":
			until := start.Add(time.Duration(sh.Duration) * time.Second)
			span := start.In(loc).Format(time.RFC3339) + " to " + until.In(loc).Format(time.RFC3339)
			switch {
			case len(sh.Users) == 0:
				// The web UI keeps an override's people in rolling_users,
				// which the API leaves out of overrides.
				rep.add(NotMapped, sr, "an override from %s, but the export does not say who covers (Grafana OnCall's API gives no users for overrides made in its web UI); not imported: add it as a pagerd override by hand", span)
				continue
			case len(sh.Users) > 1:
				rep.add(NotMapped, sr, "an override from %s with %d people: pagerd overrides put one person on each tier; not imported", span, len(sh.Users))
				continue
			}
			out.overrides = append(out.overrides, &override{
				ref: sr, person: sh.Users[0], from: start, until: until, reason: "Grafana OnCall override " + sh.Name,
			})
			continue
		case "single_event":
			rep.add(NotMapped, sr, "a one-off shift from %s: pagerd has rotations and overrides; add it as an override if it is still to come", start.Format(time.RFC3339))
			continue
		}
		byLevel[sh.Level] = append(byLevel[sh.Level], gRotation(sh, sr, start, sloc, loc, rep))
	}
	var levels []int
	for l := range byLevel {
		levels = append(levels, l)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(levels)))
	for _, l := range levels {
		out.layers = append(out.layers, byLevel[l])
	}
	if len(inUTC) > 0 {
		// Which clock these shifts are on is the one thing the export
		// does not say: current Grafana OnCall lays them out in UTC,
		// older versions on the schedule's clock.
		rep.add(Changed, r, "is a web schedule: its shifts without a time_zone (%s) are read in UTC, as current Grafana OnCall lays out a web schedule; "+
			"older versions laid them out in the schedule's zone (%s). If the handoffs and overrides imported are off by that zone's offset from UTC, "+
			"set their \"time_zone\" to %q in the exported shifts and import again", strings.Join(inUTC, ", "), loc, loc.String())
	}
	return out
}

// gRotation reads a rolling_users or recurrent_event shift as a rotation:
// its events recur every interval hours, days or weeks from start, in the
// shift's zone (sloc); rolling_users hands each occurrence to the next
// group. An event shorter than the recurrence, or one on some weekdays
// only (by_day), makes a restricted rotation, whose windows are written on
// the schedule's wall clock (loc).
func gRotation(sh gShift, r ref, start time.Time, sloc, loc *time.Location, rep *Report) *rotation {
	rot := &rotation{ref: r, keys: []string{sh.ID, sh.Name}, name: sh.Name, start: start, length: 1}
	if sh.Interval != nil && *sh.Interval > 0 {
		rot.length = *sh.Interval
	}
	freq := ""
	if sh.Frequency != nil {
		freq = *sh.Frequency
	}
	var unit time.Duration
	switch freq {
	case "weekly":
		rot.unit, unit = "week", 7*24*time.Hour
	case "daily":
		rot.unit, unit = "day", 24*time.Hour
	case "hourly":
		rot.unit, unit = "hour", time.Hour
	default:
		rot.unmappable = fmt.Sprintf("repeats %q: pagerd's shifts are whole weeks, days or hours", freq)
	}
	if sh.Type == "rolling_users" {
		groups := sh.RollingUsers
		if i := sh.StartRotationFromUserIndex; i != nil && *i > 0 && len(groups) > 0 {
			k := *i % len(groups)
			groups = append(append([][]string(nil), groups[k:]...), groups[:k]...)
		}
		rot.groups = groups
	} else {
		rot.groups = [][]string{sh.Users}
	}
	if sh.RotationStart != "" {
		rs, err := shiftTime(sh.RotationStart, sloc)
		switch {
		case err != nil:
			rep.add(Changed, r, "rotation_start %q is not a time; imported as on call from its start (%s): check when it begins", sh.RotationStart, start.Format(time.RFC3339))
		case rs.After(start):
			rot.from = rs
		}
	}
	if sh.Until != nil && *sh.Until != "" {
		if u, err := shiftTime(*sh.Until, sloc); err == nil {
			rot.end = u
		} else {
			rep.add(Changed, r, "until %q is not a time; imported as if it never ends: if it has ended, remove it from the config", *sh.Until)
		}
	}
	if rot.unmappable != "" {
		return rot
	}
	period := time.Duration(rot.length) * unit
	dur := time.Duration(sh.Duration) * time.Second
	turns := len(distinctGroups(rot.groups))
	// Where the events start on the schedule's wall clock: minute of the
	// day, weekday, and how many days the schedule's date is ahead of the
	// shift's (by_day names the shift's days).
	ls, ss := start.In(loc), start.In(sloc)
	tod := ls.Hour()*60 + ls.Minute()
	dayShift := int(time.Date(ls.Year(), ls.Month(), ls.Day(), 0, 0, 0, 0, time.UTC).Sub(time.Date(ss.Year(), ss.Month(), ss.Day(), 0, 0, 0, 0, time.UTC)).Hours() / 24)
	restrict := func(words string, ws []window, why string) {
		rot.restriction = words
		if why != "" {
			rot.unmappable = fmt.Sprintf("on call only %s: %s", words, why)
			return
		}
		rot.windows = ws
		rot.restriction = describeWindows(ws)
	}
	var byDay []time.Weekday
	for _, d := range sh.ByDay {
		wd, ok := weekdayNames[strings.ToUpper(d)]
		if !ok || len(d) != 2 {
			rot.unmappable = fmt.Sprintf("by_day %q is not an iCal weekday (MO to SU)", d)
			return rot
		}
		byDay = append(byDay, wd)
	}
	everyDay := len(distinctDays(byDay)) == 7 && freq == "daily" && rot.length == 1
	switch {
	case dur <= 0 || dur%time.Minute != 0:
		rot.unmappable = fmt.Sprintf("its events last %d seconds, not a whole number of minutes", sh.Duration)
	case len(sh.ByMonth) > 0 || len(sh.ByMonthday) > 0:
		restrict("in some months or on some days of the month", nil, "pagerd's restriction windows repeat every week")
	case len(byDay) > 0 && !everyDay:
		words := fmt.Sprintf("on %s, %s from %s", strings.Join(sh.ByDay, ","), policy.Duration(dur), ss.Format("15:04"))
		var ws []window
		set := distinctDays(byDay)
		for i := 1; i <= 7; i++ {
			if !set[time.Weekday(i%7)] {
				continue
			}
			day := time.Weekday(floorMod(i%7+dayShift, 7))
			if dur == 24*time.Hour {
				ws = append(ws, weeklyWindow(day, tod, minutesPerDay))
			} else {
				ws = append(ws, window{days: []time.Weekday{day}, start: tod, end: (tod + int(dur.Minutes())) % minutesPerDay})
			}
		}
		ws = mergeDaily(ws)
		switch {
		case dur > 24*time.Hour:
			restrict(words, nil, fmt.Sprintf("its events (%s) are longer than a day, so they overlap", policy.Duration(dur)))
		case freq == "hourly":
			restrict(words, nil, "hourly turns on some weekdays only, which pagerd's windows cannot follow")
		case rot.length > 1:
			restrict(words, nil, fmt.Sprintf("on those days every %d %ss only, and pagerd's restriction windows repeat every week", rot.length, rot.unit))
		case freq == "daily" && turns > 1:
			restrict(words, nil, "Grafana OnCall hands the turn on at each selected day only, skipping the others, and pagerd's daily turns count every day")
		default:
			restrict(words, ws, "")
			if freq == "weekly" && turns > 1 {
				// Turns pass at the start of each week (week_start), at
				// the events' time, from the week of the first event.
				weekStart := time.Monday
				if d, ok := weekdayNames[strings.ToUpper(sh.WeekStart)]; ok && len(sh.WeekStart) == 2 {
					weekStart = d
				}
				first := ss
				if !set[first.Weekday()] {
					for i := 0; i < 7; i++ {
						if d := time.Weekday((int(weekStart) + i) % 7); set[d] {
							first = first.AddDate(0, 0, floorMod(int(d)-int(first.Weekday()), 7))
							break
						}
					}
				}
				rot.start = first.AddDate(0, 0, -floorMod(int(first.Weekday())-int(weekStart), 7))
			}
		}
	case dur > period:
		rot.unmappable = fmt.Sprintf("its events (%s) are longer than they repeat (%s), so they overlap", policy.Duration(dur), policy.Duration(period))
	case dur < period:
		words := fmt.Sprintf("%s from %s of every %s", policy.Duration(dur), ss.Format("Mon 15:04"), policy.Duration(period))
		week, day := 7*24*time.Hour, 24*time.Hour
		var ws []window
		switch {
		case day%period == 0:
			for k := 0; time.Duration(k)*period < day; k++ {
				a := (tod + k*int(period.Minutes())) % minutesPerDay
				ws = append(ws, window{start: a, end: (a + int(dur.Minutes())) % minutesPerDay})
			}
		case week%period == 0:
			for k := 0; time.Duration(k)*period < week; k++ {
				a := int(ls.Weekday())*minutesPerDay + tod + k*int(period.Minutes())
				ws = append(ws, weeklyWindow(time.Weekday(a/minutesPerDay%7), a%minutesPerDay, int(dur.Minutes())))
			}
		default:
			restrict(words, nil, fmt.Sprintf("that repeats every %s, not with the week, and pagerd's restriction windows repeat every week", policy.Duration(period)))
			return rot
		}
		restrict(words, ws, "")
	}
	return rot
}

// distinctDays is a set of weekdays.
func distinctDays(ds []time.Weekday) map[time.Weekday]bool {
	out := map[time.Weekday]bool{}
	for _, d := range ds {
		out[d] = true
	}
	return out
}

// mergeDaily joins daily windows with the same hours into one with their
// days, in week order from Monday.
func mergeDaily(ws []window) []window {
	var out []window
	for _, w := range ws {
		if w.weekly {
			out = append(out, w)
			continue
		}
		merged := false
		for i := range out {
			if !out[i].weekly && out[i].start == w.start && out[i].end == w.end {
				out[i].days = append(out[i].days, w.days...)
				merged = true
			}
		}
		if !merged {
			out = append(out, w)
		}
	}
	for i := range out {
		sort.Slice(out[i].days, func(a, b int) bool { return (out[i].days[a]+6)%7 < (out[i].days[b]+6)%7 })
	}
	sort.SliceStable(out, func(a, b int) bool {
		return out[a].weekly && out[b].weekly && (out[a].startDay+6)%7 < (out[b].startDay+6)%7
	})
	return out
}

// ladder reads an escalation chain's steps: waits add up; each notify step
// is paged at the time reached; repeat_escalation starts the chain over
// (Grafana OnCall repeats it up to five times). The steps after it run
// only once the repeats are done (Grafana goes on past the repeat step
// then): a pagerd policy has no level after its repeats, so they are
// reported, not imported; read as more levels, they paged their people
// (a manager, often) on the first pass, twenty minutes early.
func (ex *gExport) ladder(id, name string, rep *Report) *ladder {
	r := ref{Kind: "Grafana OnCall escalation chain", Name: name, ID: id}
	l := &ladder{ref: r, keys: []string{id, name}, name: name}
	steps := append([]gStep(nil), ex.steps[id]...)
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].Position < steps[j].Position })
	var at time.Duration
	for _, st := range steps {
		sr := r.in("step", fmt.Sprintf("%d %s", st.Position, st.Type), st.ID)
		if l.repeat > 0 && st.Type != "wait" {
			rep.add(NotMapped, sr, "comes after repeat_escalation, so Grafana OnCall runs it only once the chain has repeated 5 times unanswered: "+
				"a pagerd policy repeats its levels and has no level after the repeats; not imported (add it by hand as a last level, whose pages then repeat too, or page it with an unresolved rule)")
			continue
		}
		if st.Important {
			rep.add(Changed, sr, "notifies with the people's important rules: pagerd's ladder follows the alert's urgency")
		}
		switch st.Type {
		case "wait":
			if st.Duration != nil {
				at += time.Duration(*st.Duration) * time.Second
			}
		case "notify_one_person":
			// Grafana OnCall's legacy "Notify User" step, which it no
			// longer makes (notify_persons took its place) and whose
			// person its API leaves out: paged as notify_persons is, when
			// the export names them.
			if len(st.PersonsToNotify) == 0 {
				rep.add(NotMapped, sr, "a legacy notify_one_person step, and the export does not say whom it notifies (Grafana OnCall's API leaves its person out); "+
					"add them by hand to the level paged %s after the alert", policy.Duration(at))
				continue
			}
			fallthrough
		case "notify_persons":
			rg := rung{ref: sr, at: at}
			for _, p := range st.PersonsToNotify {
				rg.targets = append(rg.targets, target{person: p})
			}
			l.rungs = append(l.rungs, rg)
		case "notify_on_call_from_schedule":
			l.rungs = append(l.rungs, rung{ref: sr, at: at, targets: []target{{schedule: st.NotifyOnCallFromSchedule}}})
		case "repeat_escalation":
			l.repeat = 5
			l.restartAt = at
		case "notify_person_next_each_time":
			rep.add(NotMapped, sr, "notifies one of %d people in turn: pagerd pages everyone a level names; make a schedule of them", len(st.PersonsNextEachTime))
		case "notify_if_time_from_to":
			rep.add(NotMapped, sr, "continues only between %s and %s: pagerd's policies do not change with the time of day (its urgency does, with business hours)", st.NotifyIfTimeFrom, st.NotifyIfTimeTo)
		case "resolve":
			rep.add(NotMapped, sr, "resolves the alert group: pagerd never resolves an incident on its own")
		default:
			rep.add(NotMapped, sr, "a %s step: pagerd pages users and schedules; not imported", st.Type)
		}
	}
	return l
}

func (ex *gExport) service(in gIntegration, rep *Report) *service {
	r := ref{Kind: "Grafana OnCall integration", Name: in.Name, ID: in.ID}
	if in.DefaultRoute == nil || in.DefaultRoute.EscalationChainID == nil || *in.DefaultRoute.EscalationChainID == "" {
		rep.add(NotMapped, r, "its default route has no escalation chain, so its alerts page nobody; no service written")
		return nil
	}
	for _, rt := range ex.routes {
		if rt.IntegrationID != in.ID || rt.ID == in.DefaultRoute.ID {
			continue
		}
		chain := "no escalation chain"
		if rt.EscalationChainID != nil {
			chain = "escalation chain " + *rt.EscalationChainID
		}
		rep.add(NotMapped, r.in("route", rt.RoutingRegex, rt.ID), "sends alerts matching %q to %s: a pagerd service has one escalation policy; make a service for them (rules set priorities, not policies)", rt.RoutingRegex, chain)
	}
	if in.MaintenanceMode != nil && *in.MaintenanceMode != "" {
		rep.add(NotMapped, r, "is in %s mode, a state of the moment rather than config: make a pagerd maintenance window for it (pagerd maintenance add --service ... --for ...) if it should go on", *in.MaintenanceMode)
	}
	return &service{
		ref: r, name: in.Name, description: "Grafana OnCall " + in.Type + " integration",
		ladder: *in.DefaultRoute.EscalationChainID, senders: []ref{r},
	}
}
