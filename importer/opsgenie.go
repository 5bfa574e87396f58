package importer

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// Opsgenie: the JSON its REST API v2 returns (GET /v2/users/{id}?expand=contact,
// /v2/teams/{id}, /v2/schedules?expand=rotation, /v2/schedules/{id}/overrides,
// /v2/escalations, /v2/heartbeats), and the files of the
// opsgenie-configuration-backup tool, which wraps the same objects: users/*.json
// is {"user": …, "notificationRuleList": […]}, teams/*.json {"team": …,
// "teamRoutingRules": […]}, schedules/*.json {"schedule": …,
// "scheduleOverrideList": […]}, escalations/*.json the escalation itself.
// Notification rules and routing rules carry no reference to their user or
// team, so they are read only inside those wrappers.

type ogRecipient struct {
	Type     string `json:"type"`
	ID       string `json:"id"`
	Name     string `json:"name"`
	Username string `json:"username"`
}

// key is how other entities refer to the recipient: its id, else its
// username or name.
func (r ogRecipient) key() string {
	switch {
	case r.ID != "":
		return r.ID
	case r.Username != "":
		return r.Username
	}
	return r.Name
}

func (r ogRecipient) label() string {
	for _, s := range []string{r.Username, r.Name, r.ID} {
		if s != "" {
			return s
		}
	}
	return r.Type
}

type ogTimeRestriction struct {
	Type         string   `json:"type"`
	Restriction  *ogSpan  `json:"restriction"`
	Restrictions []ogSpan `json:"restrictions"`
}

type ogSpan struct {
	StartDay  string `json:"startDay"`
	EndDay    string `json:"endDay"`
	StartHour int    `json:"startHour"`
	StartMin  int    `json:"startMin"`
	EndHour   int    `json:"endHour"`
	EndMin    int    `json:"endMin"`
}

// describe says in words when a restricted rotation or rule is on.
func (tr *ogTimeRestriction) describe() string {
	if tr == nil {
		return ""
	}
	day := func(s string) string {
		if d, ok := weekdayNames[strings.ToLower(s)]; ok {
			return d.String()[:3]
		}
		return s
	}
	switch {
	case tr.Restriction != nil:
		r := tr.Restriction
		return fmt.Sprintf("from %s to %s every day", hhmm(r.StartHour, r.StartMin), hhmm(r.EndHour, r.EndMin))
	case len(tr.Restrictions) > 0:
		var parts []string
		for _, r := range tr.Restrictions {
			parts = append(parts, fmt.Sprintf("%s %s to %s %s", day(r.StartDay), hhmm(r.StartHour, r.StartMin), day(r.EndDay), hhmm(r.EndHour, r.EndMin)))
		}
		return "from " + strings.Join(parts, ", from ")
	}
	return "at restricted times (" + tr.Type + ")"
}

// windows reads a rotation's restriction as windows of the week, or says
// why it is not one: "time-of-day" is the same hours every day (running
// past midnight when the end is before the start), "weekday-and-time-of-day"
// spans from one weekday and time to another.
func (tr *ogTimeRestriction) windows() ([]window, string) {
	minute := func(h, m int, end bool) (int, bool) {
		max := 23
		if end {
			max = 24
		}
		v := h*60 + m
		return v, h >= 0 && h <= max && m >= 0 && m < 60 && v <= minutesPerDay
	}
	switch tr.Type {
	case "time-of-day":
		r := tr.Restriction
		if r == nil {
			return nil, "a time-of-day restriction without its hours"
		}
		a, ok1 := minute(r.StartHour, r.StartMin, false)
		e, ok2 := minute(r.EndHour, r.EndMin, true)
		switch {
		case !ok1 || !ok2:
			return nil, fmt.Sprintf("a time-of-day restriction from %s to %s, which are not times of day", hhmm(r.StartHour, r.StartMin), hhmm(r.EndHour, r.EndMin))
		case a == e%minutesPerDay:
			return nil, fmt.Sprintf("a time-of-day restriction from %s to %s, which is no window (empty, or the whole day)", hhmm(r.StartHour, r.StartMin), hhmm(r.EndHour, r.EndMin))
		}
		return []window{{start: a, end: e}}, ""
	case "weekday-and-time-of-day":
		if len(tr.Restrictions) == 0 {
			return nil, "a weekday-and-time-of-day restriction without its spans"
		}
		var out []window
		for _, r := range tr.Restrictions {
			sd, ok1 := weekdayNames[strings.ToLower(r.StartDay)]
			ed, ok2 := weekdayNames[strings.ToLower(r.EndDay)]
			a, ok3 := minute(r.StartHour, r.StartMin, false)
			e, ok4 := minute(r.EndHour, r.EndMin, true)
			if !ok1 || !ok2 || !ok3 || !ok4 {
				return nil, fmt.Sprintf("a span from %s %s to %s %s, which is not a weekday and time of day each", r.StartDay, hhmm(r.StartHour, r.StartMin), r.EndDay, hhmm(r.EndHour, r.EndMin))
			}
			length := floorMod(int(ed)*minutesPerDay+e-(int(sd)*minutesPerDay+a), 7*minutesPerDay)
			if length == 0 {
				return nil, fmt.Sprintf("a span from %s %s to %s %s, which is no window (empty, or the whole week)", r.StartDay, hhmm(r.StartHour, r.StartMin), r.EndDay, hhmm(r.EndHour, r.EndMin))
			}
			out = append(out, weeklyWindow(sd, a, length))
		}
		return out, ""
	}
	return nil, fmt.Sprintf("a restriction of type %q, which is not one Opsgenie documents (time-of-day, weekday-and-time-of-day)", tr.Type)
}

// floorMod is a mod b in [0, b).
func floorMod(a, b int) int {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

type ogRotation struct {
	ID              string             `json:"id"`
	Name            string             `json:"name"`
	Type            string             `json:"type"`
	Length          int                `json:"length"`
	StartDate       flexTime           `json:"startDate"`
	EndDate         flexTime           `json:"endDate"`
	Participants    []ogRecipient      `json:"participants"`
	TimeRestriction *ogTimeRestriction `json:"timeRestriction"`
}

type ogSchedule struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Timezone    string       `json:"timezone"`
	Enabled     *bool        `json:"enabled"`
	OwnerTeam   *ogRecipient `json:"ownerTeam"`
	Rotations   []ogRotation `json:"rotations"`
	// Overrides is not in the API's schedule; exports that attach a
	// schedule's overrides to it (as the Grafana OnCall migrator does) are
	// read too.
	Overrides []ogOverride `json:"overrides"`
}

type ogOverride struct {
	Parent    *ogRecipient  `json:"_parent"`
	Parent2   *ogRecipient  `json:"parent"`
	Alias     string        `json:"alias"`
	User      ogRecipient   `json:"user"`
	StartDate flexTime      `json:"startDate"`
	EndDate   flexTime      `json:"endDate"`
	Rotations []ogRecipient `json:"rotations"`
}

type ogContact struct {
	ID            string `json:"id"`
	Method        string `json:"method"`
	ContactMethod string `json:"contactMethod"`
	To            string `json:"to"`
	Enabled       *bool  `json:"enabled"`
	Status        *struct {
		Enabled bool `json:"enabled"`
	} `json:"status"`
}

func (c ogContact) method() string {
	if c.Method != "" {
		return strings.ToLower(c.Method)
	}
	return strings.ToLower(c.ContactMethod)
}

func (c ogContact) enabled() bool {
	if c.Enabled != nil {
		return *c.Enabled
	}
	if c.Status != nil {
		return c.Status.Enabled
	}
	return true
}

type ogUser struct {
	ID           string      `json:"id"`
	Username     string      `json:"username"`
	FullName     string      `json:"fullName"`
	TimeZone     string      `json:"timeZone"`
	UserContacts []ogContact `json:"userContacts"`
	Blocked      bool        `json:"blocked"`
}

type ogCriteria struct {
	Type       string            `json:"type"`
	Conditions []json.RawMessage `json:"conditions"`
}

type ogNotificationRule struct {
	ID              string             `json:"id"`
	Name            string             `json:"name"`
	ActionType      string             `json:"actionType"`
	Criteria        *ogCriteria        `json:"criteria"`
	Order           int                `json:"order"`
	TimeRestriction *ogTimeRestriction `json:"timeRestriction"`
	Enabled         *bool              `json:"enabled"`
	// Repeat sends the steps again every loopAfter minutes until the
	// alert is acknowledged.
	Repeat *struct {
		LoopAfter int  `json:"loopAfter"`
		Enabled   bool `json:"enabled"`
	} `json:"repeat"`
	Steps []struct {
		Contact   ogContact `json:"contact"`
		SendAfter *ogAmount `json:"sendAfter"`
		Enabled   *bool     `json:"enabled"`
	} `json:"steps"`
}

type ogAmount struct {
	TimeAmount int    `json:"timeAmount"`
	TimeUnit   string `json:"timeUnit"`
}

// duration is the amount as a time.Duration; a missing unit is minutes,
// Opsgenie's default. ok is false for a unit vendorDuration does not know.
func (a ogAmount) duration() (time.Duration, bool) {
	if a.TimeUnit == "" {
		return time.Duration(a.TimeAmount) * time.Minute, true
	}
	return vendorDuration(a.TimeAmount, a.TimeUnit)
}

type ogTeam struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Members     []struct {
		User ogRecipient `json:"user"`
		Role string      `json:"role"`
	} `json:"members"`
}

type ogRoutingRule struct {
	ID              string             `json:"id"`
	Name            string             `json:"name"`
	IsDefault       bool               `json:"isDefault"`
	Order           int                `json:"order"`
	Criteria        *ogCriteria        `json:"criteria"`
	TimeRestriction *ogTimeRestriction `json:"timeRestriction"`
	Notify          ogRecipient        `json:"notify"`
}

// limits names what narrows the alerts a routing rule takes, "" when it
// takes every alert at every time.
func (rr *ogRoutingRule) limits() string {
	var ls []string
	if rr.Criteria != nil && rr.Criteria.Type != "" && rr.Criteria.Type != "match-all" {
		ls = append(ls, fmt.Sprintf("criteria (%s, %d conditions)", rr.Criteria.Type, len(rr.Criteria.Conditions)))
	}
	if rr.TimeRestriction != nil {
		ls = append(ls, "time restriction ("+rr.TimeRestriction.describe()+")")
	}
	return strings.Join(ls, " and ")
}

type ogEscalation struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	OwnerTeam   *ogRecipient `json:"ownerTeam"`
	Rules       []struct {
		Condition  string      `json:"condition"`
		NotifyType string      `json:"notifyType"`
		Delay      ogAmount    `json:"delay"`
		Recipient  ogRecipient `json:"recipient"`
	} `json:"rules"`
	Repeat *struct {
		WaitInterval       int  `json:"waitInterval"`
		Count              int  `json:"count"`
		CloseAlertAfterAll bool `json:"closeAlertAfterAll"`
	} `json:"repeat"`
}

type ogHeartbeat struct {
	Name          string       `json:"name"`
	Interval      int          `json:"interval"`
	IntervalUnit  string       `json:"intervalUnit"`
	Enabled       *bool        `json:"enabled"`
	OwnerTeam     *ogRecipient `json:"ownerTeam"`
	AlertPriority string       `json:"alertPriority"`
}

// ogExport is everything read from an Opsgenie export, before mapping.
type ogExport struct {
	users      []ogUser
	rules      map[string][]ogNotificationRule // by user id
	teams      []ogTeam
	routing    map[string][]ogRoutingRule // by team id
	schedules  []*ogSchedule
	overrides  []ogOverride // standalone, with a parent
	escalation []ogEscalation
	heartbeats []ogHeartbeat
}

func readOpsgenie(docs []Document, rep *Report) (*source, error) {
	ex := &ogExport{rules: map[string][]ogNotificationRule{}, routing: map[string][]ogRoutingRule{}}
	for _, d := range docs {
		objs, err := d.objects("data")
		if err != nil {
			return nil, err
		}
		reportLaterPages(d, rep)
		if err := ex.read(d, objs, rep); err != nil {
			return nil, err
		}
	}
	ex.dedupe()
	return ex.model(rep), nil
}

// dedupe merges entities read twice, as an export of list and get
// responses has them (GET /v2/users lists users without contacts, GET
// /v2/users/{id}?expand=contact has them; the teams list has no members):
// the later copy wins, keeping what only the earlier one had.
func (ex *ogExport) dedupe() {
	users := map[string]int{}
	var us []ogUser
	for _, u := range ex.users {
		if i, ok := users[u.ID]; ok && u.ID != "" {
			if len(u.UserContacts) == 0 {
				u.UserContacts = us[i].UserContacts
			}
			us[i] = u
			continue
		}
		users[u.ID] = len(us)
		us = append(us, u)
	}
	ex.users = us
	teams := map[string]int{}
	var ts []ogTeam
	for _, t := range ex.teams {
		if i, ok := teams[t.ID]; ok && t.ID != "" {
			if len(t.Members) == 0 {
				t.Members = ts[i].Members
			}
			if t.Description == "" {
				t.Description = ts[i].Description
			}
			ts[i] = t
			continue
		}
		teams[t.ID] = len(ts)
		ts = append(ts, t)
	}
	ex.teams = ts
	scheds := map[string]int{}
	var ss []*ogSchedule
	for _, s := range ex.schedules {
		if i, ok := scheds[s.ID]; ok && s.ID != "" {
			s.Overrides = append(ss[i].Overrides, s.Overrides...)
			if len(s.Rotations) == 0 {
				s.Rotations = ss[i].Rotations
			}
			ss[i] = s
			continue
		}
		scheds[s.ID] = len(ss)
		ss = append(ss, s)
	}
	ex.schedules = ss
	escs := map[string]int{}
	var es []ogEscalation
	for _, e := range ex.escalation {
		if i, ok := escs[e.ID]; ok && e.ID != "" {
			es[i] = e
			continue
		}
		escs[e.ID] = len(es)
		es = append(es, e)
	}
	ex.escalation = es
}

// read sorts a document's objects by what they are.
func (ex *ogExport) read(d Document, objs []map[string]json.RawMessage, rep *Report) error {
	orphans := map[string]int{}
	for _, obj := range objs {
		switch {
		case has(obj, "heartbeats"):
			inner, err := unwrap(obj["heartbeats"], nil, d.Name)
			if err != nil {
				return err
			}
			for _, hb := range inner {
				var h ogHeartbeat
				if err := into(hb, &h, d.Name); err != nil {
					return err
				}
				ex.heartbeats = append(ex.heartbeats, h)
			}
		case has(obj, "startDate", "user"):
			var o ogOverride
			if err := into(obj, &o, d.Name); err != nil {
				return err
			}
			if o.Parent == nil && o.Parent2 == nil {
				orphans["schedule overrides without the schedule they belong to (_parent)"]++
				continue
			}
			ex.overrides = append(ex.overrides, o)
		case has(obj, "schedule"): // backup: ScheduleConfig
			var w struct {
				Schedule  ogSchedule   `json:"schedule"`
				Overrides []ogOverride `json:"scheduleOverrideList"`
			}
			if err := into(obj, &w, d.Name); err != nil {
				return err
			}
			w.Schedule.Overrides = append(w.Schedule.Overrides, w.Overrides...)
			ex.schedules = append(ex.schedules, &w.Schedule)
		case has(obj, "user") && !has(obj, "startDate"): // backup: UserConfig
			var w struct {
				User  ogUser               `json:"user"`
				Rules []ogNotificationRule `json:"notificationRuleList"`
			}
			if err := into(obj, &w, d.Name); err != nil {
				return err
			}
			ex.users = append(ex.users, w.User)
			ex.rules[w.User.ID] = append(ex.rules[w.User.ID], w.Rules...)
		case has(obj, "team"): // backup: TeamConfig
			var w struct {
				Team    ogTeam          `json:"team"`
				Routing []ogRoutingRule `json:"teamRoutingRules"`
			}
			if err := into(obj, &w, d.Name); err != nil {
				return err
			}
			ex.teams = append(ex.teams, w.Team)
			ex.routing[w.Team.ID] = append(ex.routing[w.Team.ID], w.Routing...)
		case has(obj, "rotations") || (has(obj, "timezone") && has(obj, "enabled") && !has(obj, "username")):
			var s ogSchedule
			if err := into(obj, &s, d.Name); err != nil {
				return err
			}
			ex.schedules = append(ex.schedules, &s)
		case has(obj, "rules") && !has(obj, "actionType"):
			var e ogEscalation
			if err := into(obj, &e, d.Name); err != nil {
				return err
			}
			ex.escalation = append(ex.escalation, e)
		case has(obj, "username"):
			var u ogUser
			if err := into(obj, &u, d.Name); err != nil {
				return err
			}
			ex.users = append(ex.users, u)
		case has(obj, "intervalUnit"):
			var h ogHeartbeat
			if err := into(obj, &h, d.Name); err != nil {
				return err
			}
			ex.heartbeats = append(ex.heartbeats, h)
		case has(obj, "members") || (has(obj, "id", "name") && len(obj) <= 4 && !has(obj, "type")):
			var t ogTeam
			if err := into(obj, &t, d.Name); err != nil {
				return err
			}
			ex.teams = append(ex.teams, t)
		case has(obj, "actionType"):
			orphans["notification rules without their user (export them inside users/*.json, as the backup tool does)"]++
		case has(obj, "notify", "criteria"):
			orphans["team routing rules without their team (export them inside teams/*.json, as the backup tool does)"]++
		case has(obj, "to") && (has(obj, "method") || has(obj, "contactMethod")):
			orphans["contacts without their user (export users with ?expand=contact)"]++
		default:
			orphans["objects pagerd import does not know"]++
		}
	}
	kinds := make([]string, 0, len(orphans))
	for k := range orphans {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		rep.add(NotMapped, ref{Kind: "file", Name: d.Name}, "%d %s; not read", orphans[k], k)
	}
	return nil
}

// model maps the export onto the neutral model.
func (ex *ogExport) model(rep *Report) *source {
	src := &source{}
	for _, u := range ex.users {
		src.people = append(src.people, ex.person(u, rep))
	}
	teamByKey := keyIndex[*ogTeam]{}
	for i := range ex.teams {
		t := &ex.teams[i]
		teamByKey.add([]string{t.ID, t.Name}, t)
	}
	schedByKey := keyIndex[*ogSchedule]{}
	for _, s := range ex.schedules {
		schedByKey.add([]string{s.ID, s.Name}, s)
	}
	for _, o := range ex.overrides {
		p := o.Parent
		if p == nil {
			p = o.Parent2
		}
		if s := schedByKey[p.key()]; s != nil {
			s.Overrides = append(s.Overrides, o)
		} else if s := schedByKey[p.Name]; s != nil {
			s.Overrides = append(s.Overrides, o)
		} else {
			rep.add(NotMapped, ref{Kind: "Opsgenie schedule override", Name: o.Alias}, "belongs to schedule %q, which is not in the export; not imported", p.label())
		}
	}
	for _, s := range ex.schedules {
		src.schedules = append(src.schedules, ogScheduleModel(s, rep))
	}
	for _, e := range ex.escalation {
		src.ladders = append(src.ladders, ogLadder(e, teamByKey, rep))
	}
	byTeam := map[string]*service{}
	for i := range ex.teams {
		t := &ex.teams[i]
		if s := ex.service(t, src, rep); s != nil {
			src.services = append(src.services, s)
			byTeam[t.ID], byTeam[t.Name] = s, s
		}
	}
	for _, h := range ex.heartbeats {
		ex.heartbeat(h, byTeam, rep)
	}
	if len(ex.teams) == 0 && len(ex.escalation) > 0 {
		rep.add(Changed, ref{Kind: "Opsgenie export"}, "has no teams, so no services were written (one per team); add a service for each sender, with one of the escalation policies")
	}
	return src
}

// heartbeat puts an Opsgenie heartbeat on the service of its team: the
// same interval, no grace (Opsgenie has none), and its alert priority as
// the label priority, which the service's rules route by the published
// table.
func (ex *ogExport) heartbeat(h ogHeartbeat, byTeam map[string]*service, rep *Report) {
	r := ref{Kind: "Opsgenie heartbeat", Name: h.Name}
	prio := h.AlertPriority
	if prio == "" {
		prio = "P3"
	}
	unit, ok := vendorDuration(1, h.IntervalUnit)
	interval := time.Duration(h.Interval) * unit
	// Compared by unit, so that no count of days overflows past the limit.
	inRange := unit > 0 && time.Duration(h.Interval) <= policy.MaxHeartbeatInterval/unit && interval >= policy.MinHeartbeatInterval
	var s *service
	if h.OwnerTeam != nil {
		if s = byTeam[h.OwnerTeam.ID]; s == nil {
			s = byTeam[h.OwnerTeam.Name]
		}
	}
	switch {
	case !ok || h.Interval < 1:
		rep.add(NotMapped, r, "expects a ping every %d %s, which is no interval pagerd reads; not imported: add it by hand (docs/CONFIG.md, heartbeats)", h.Interval, h.IntervalUnit)
	case !inRange:
		rep.add(NotMapped, r, "expects a ping every %d %s and raises a %s alert when one is missed, but pagerd's heartbeats are pinged at least every %s (heartbeats[].interval is %s to %s); not imported: have its job ping more often and add it by hand (docs/CONFIG.md, heartbeats)",
			h.Interval, h.IntervalUnit, prio, policy.Duration(policy.MaxHeartbeatInterval), policy.Duration(policy.MinHeartbeatInterval), policy.Duration(policy.MaxHeartbeatInterval))
	case h.Enabled != nil && !*h.Enabled:
		rep.add(NotMapped, r, "expects a ping every %d %s (disabled) and raises a %s alert when one is missed: disabled, so not imported; add it to its team's service when you turn it on", h.Interval, h.IntervalUnit, prio)
	case s == nil:
		rep.add(NotMapped, r, "expects a ping every %d %s and raises a %s alert when one is missed, but its team has no service here; not imported: add it to a service by hand", h.Interval, h.IntervalUnit, prio)
	default:
		s.heartbeats = append(s.heartbeats, heartbeat{ref: r, name: h.Name, interval: interval, priority: prio})
	}
}

func (ex *ogExport) person(u ogUser, rep *Report) *person {
	r := ref{Kind: "Opsgenie user", Name: u.Username, ID: u.ID}
	p := &person{ref: r, keys: lowerKeys(u.ID, u.Username), hint: localPart(u.Username), name: u.FullName, tz: u.TimeZone}
	if looksLikeEmail(u.Username) {
		p.email = u.Username
	}
	if u.Blocked {
		rep.add(Changed, r, "blocked in Opsgenie (it notifies them nothing); imported as a user who can be paged: remove them if they left")
	}
	var cannot []string
	for _, c := range u.UserContacts {
		cr := r.in("contact", c.method()+" "+c.To, c.ID)
		switch m := c.method(); {
		case !c.enabled():
			cannot = append(cannot, "disabled "+m+" "+c.To)
		case m == "sms" || m == "voice":
			num, ok := phone("", c.To)
			if !ok {
				rep.add(NotMapped, cr, "%q is not a phone number pagerd can page (E.164, like +15555550100); not imported", c.To)
				continue
			}
			p.contacts = append(p.contacts, contact{channel: m, address: num, ref: cr})
		case m == "email":
			p.contacts = append(p.contacts, contact{channel: policy.ChannelEmail, address: c.To, ref: cr})
		case m == "mobile":
			cannot = append(cannot, fmt.Sprintf("the Opsgenie app (%s)", c.To))
		default:
			cannot = append(cannot, m+" "+c.To)
		}
	}
	if len(cannot) > 0 {
		rep.add(NotMapped, r, "contacts pagerd cannot page: %s (pagerd pages by SMS and calls through Twilio and by email, and pushes through PagerDuty, ntfy or Pushover, not the Opsgenie app: add a push contact by hand)", strings.Join(cannot, ", "))
	}
	rules := append([]ogNotificationRule(nil), ex.rules[u.ID]...)
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].Order < rules[j].Order })
	var other []string
	used := false
	for _, nr := range rules {
		rr := r.in("notification rule", nr.Name, nr.ID)
		switch {
		case nr.ActionType != "create-alert":
			other = append(other, fmt.Sprintf("%q (%s)", nr.Name, nr.ActionType))
		case nr.Enabled != nil && !*nr.Enabled:
			other = append(other, fmt.Sprintf("%q (disabled)", nr.Name))
		case used:
			rep.add(NotMapped, rr, "a second rule for new alerts: pagerd has one ladder per urgency; the first rule was imported")
		case nr.Criteria != nil && nr.Criteria.Type != "" && nr.Criteria.Type != "match-all":
			rep.add(NotMapped, rr, "applies only to alerts matching conditions (%s): pagerd's ladder is per urgency, not per alert; not imported", nr.Criteria.Type)
		case nr.TimeRestriction != nil:
			rep.add(NotMapped, rr, "applies only %s: pagerd's ladder applies at every hour; not imported", nr.TimeRestriction.describe())
		default:
			used = true
			if rp := nr.Repeat; rp != nil && rp.Enabled && rp.LoopAfter > 0 {
				rep.add(NotMapped, rr, "repeats its steps every %s until the alert is acknowledged: pagerd sends each step of the ladder once (the escalation policy's levels and repeat page again); not imported", policy.Duration(time.Duration(rp.LoopAfter)*time.Minute))
			}
			for _, s := range nr.Steps {
				if s.Enabled != nil && !*s.Enabled {
					continue
				}
				ch := s.Contact.method()
				if ch == "mobile" {
					ch = "push"
				}
				var after time.Duration
				if s.SendAfter != nil {
					var ok bool
					if after, ok = s.SendAfter.duration(); !ok {
						rep.add(NotMapped, rr, "a %s step after %d %s, a time unit pagerd import does not know; not imported: add it by hand", ch, s.SendAfter.TimeAmount, s.SendAfter.TimeUnit)
						continue
					}
				}
				p.high = append(p.high, step{after: after, channel: ch})
			}
		}
	}
	if len(other) > 0 {
		rep.add(NotMapped, r, "notification rules for other events not imported: %s (pagerd pages for new and escalated incidents)", strings.Join(other, ", "))
	}
	return p
}

func ogScheduleModel(s *ogSchedule, rep *Report) *schedule {
	r := ref{Kind: "Opsgenie schedule", Name: s.Name, ID: s.ID}
	out := &schedule{ref: r, keys: []string{s.ID, s.Name}, name: s.Name, tz: s.Timezone, disabled: s.Enabled != nil && !*s.Enabled}
	var layer []*rotation
	for _, ro := range s.Rotations {
		rot := &rotation{
			ref:   r.in("rotation", ro.Name, ro.ID),
			keys:  []string{ro.ID, ro.Name},
			name:  ro.Name,
			start: ro.StartDate.Time,
			end:   ro.EndDate.Time,
		}
		switch ro.Type {
		case "weekly":
			rot.unit = "week"
		case "daily":
			rot.unit = "day"
		case "hourly":
			rot.unit = "hour"
		default:
			rot.unmappable = fmt.Sprintf("rotation type %q is not one Opsgenie documents (hourly, daily, weekly)", ro.Type)
		}
		rot.length = ro.Length
		if rot.length == 0 {
			rot.length = 1
		}
		if ro.StartDate.IsZero() {
			rot.unmappable = "has no startDate"
		}
		for _, pt := range ro.Participants {
			switch pt.Type {
			case "user":
				rot.groups = append(rot.groups, []string{pt.key()})
			case "none":
				rot.groups = append(rot.groups, nil)
			default:
				rot.unmappable = fmt.Sprintf("participant %q is a %s: pagerd tiers hold users; list its people instead", pt.label(), pt.Type)
			}
		}
		if tr := ro.TimeRestriction; tr != nil {
			rot.restriction = tr.describe()
			ws, why := tr.windows()
			if why != "" && rot.unmappable == "" {
				rot.unmappable = fmt.Sprintf("on call only %s: %s, which pagerd cannot restrict a rotation to", rot.restriction, why)
			}
			rot.windows = ws
		}
		layer = append(layer, rot)
	}
	out.layers = [][]*rotation{layer}
	for _, o := range s.Overrides {
		or := r.in("override", o.Alias, "")
		if o.User.Type == "none" {
			rep.add(NotMapped, or, "puts nobody on call from %s to %s: pagerd tiers always have someone; not imported", o.StartDate.Format(time.RFC3339), o.EndDate.Format(time.RFC3339))
			continue
		}
		ov := &override{ref: or, person: o.User.key(), from: o.StartDate.Time, until: o.EndDate.Time, reason: "Opsgenie override"}
		if o.Alias != "" {
			ov.reason += " " + o.Alias
		}
		for _, rr := range o.Rotations {
			ov.rotations = append(ov.rotations, rr.key())
		}
		out.overrides = append(out.overrides, ov)
	}
	return out
}

func ogLadder(e ogEscalation, teams keyIndex[*ogTeam], rep *Report) *ladder {
	r := ref{Kind: "Opsgenie escalation", Name: e.Name, ID: e.ID}
	l := &ladder{ref: r, keys: []string{e.ID, e.Name}, name: e.Name}
	var lastAt time.Duration
	for i, rule := range e.Rules {
		rr := r.in("rule", fmt.Sprint(i+1), "")
		at, ok := rule.Delay.duration()
		if !ok {
			rep.add(NotMapped, rr, "notifies %s %q after %d %s, a time unit pagerd import does not know; not imported: add it by hand", rule.Recipient.Type, rule.Recipient.label(), rule.Delay.TimeAmount, rule.Delay.TimeUnit)
			continue
		}
		if rule.Condition != "if-not-closed" {
			lastAt = max(lastAt, at) // imported or not, the repeat waits from it
		}
		rc := rule.Recipient
		var ts []target
		switch {
		case rc.Type == "user":
			ts = []target{{person: rc.key()}}
		case rc.Type == "schedule" && (rule.NotifyType == "" || rule.NotifyType == "default"):
			ts = []target{{schedule: rc.key()}}
		case rc.Type == "schedule":
			rep.add(NotMapped, rr, "notifies the %s on-call user of schedule %q: pagerd pages who is on call now; not imported", rule.NotifyType, rc.label())
			continue
		case rc.Type == "team" && (rule.NotifyType == "users" || rule.NotifyType == "admins"):
			t := teams[rc.key()]
			if t == nil {
				t = teams[rc.Name]
			}
			if t == nil {
				rep.add(NotMapped, rr, "notifies the %s of team %q, which is not in the export; not imported", rule.NotifyType, rc.label())
				continue
			}
			for _, m := range t.Members {
				if rule.NotifyType == "users" || m.Role == "admin" {
					ts = append(ts, target{person: m.User.key()})
				}
			}
			if len(ts) == 0 {
				rep.add(NotMapped, rr, "notifies the %s of team %q, which has none in the export (export the team with its members); not imported", rule.NotifyType, rc.label())
				continue
			}
			rep.add(Changed, rr, "notifies the %s of team %q: imported as those people as they are now (%d); pagerd does not follow later changes to the team", rule.NotifyType, rc.label(), len(ts))
		case rc.Type == "team" && (rule.NotifyType == "" || rule.NotifyType == "default"):
			rep.add(NotMapped, rr, "notifies team %q through its routing rules: pagerd routes by service; page a schedule or users instead", rc.label())
			continue
		case rc.Type == "team" && rule.NotifyType == "random":
			rep.add(NotMapped, rr, "notifies a random member of team %q: pagerd pages every target of a level; not imported: page a schedule or users instead", rc.label())
			continue
		case rc.Type == "team":
			rep.add(NotMapped, rr, "notifies team %q as %q, which pagerd import does not know; not imported: page a schedule or users instead", rc.label(), rule.NotifyType)
			continue
		default:
			rep.add(NotMapped, rr, "notifies a %s (%q): pagerd pages users and schedules; not imported", rc.Type, rc.label())
			continue
		}
		rg := rung{ref: rr, at: at, targets: ts}
		if rule.Condition == "if-not-closed" {
			l.unresolved = append(l.unresolved, rg)
		} else {
			l.rungs = append(l.rungs, rg)
		}
	}
	if e.Repeat != nil && e.Repeat.Count > 0 {
		l.repeat = e.Repeat.Count
		// waitInterval runs from the last rule, imported or not.
		l.restartAt = lastAt + time.Duration(e.Repeat.WaitInterval)*time.Minute
		if e.Repeat.CloseAlertAfterAll {
			rep.add(NotMapped, r, "closes the alert after its last repeat: pagerd never closes an incident on its own; it stays open at the last level")
		}
	}
	return l
}

// service makes a team's pagerd service: the escalation its default routing
// rule notifies (or, with no routing rules in the export, the one escalation
// or schedule the team owns), and rules for Opsgenie priorities.
func (ex *ogExport) service(t *ogTeam, src *source, rep *Report) *service {
	r := ref{Kind: "Opsgenie team", Name: t.Name, ID: t.ID}
	s := &service{ref: r, name: t.Name, description: t.Description, opsgeniePriorities: true}
	rules := append([]ogRoutingRule(nil), ex.routing[t.ID]...)
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].Order < rules[j].Order })
	// The default rule is the service's escalation: the one marked
	// isDefault or, with none marked, the last in order, which Opsgenie
	// tries when no other matches. It is picked before the others are
	// reported, so the one imported is never also called not imported.
	var def *ogRoutingRule
	for i := range rules {
		if rules[i].IsDefault {
			def = &rules[i]
			break
		}
	}
	if def == nil && len(rules) > 0 {
		def = &rules[len(rules)-1]
		if limited := def.limits(); limited != "" {
			rep.add(Changed, r.in("routing rule", def.Name, def.ID), "no routing rule is the default (isDefault), so this one, the last, sends the service's alerts to %s %q: its %s is ignored, and it gets every alert the other rules do not", def.Notify.Type, def.Notify.label(), limited)
		}
	}
	for i := range rules {
		rr := &rules[i]
		if rr == def {
			continue
		}
		when := ""
		if rr.TimeRestriction != nil {
			when = " " + rr.TimeRestriction.describe()
		}
		rep.add(NotMapped, r.in("routing rule", rr.Name, rr.ID), "sends some alerts%s to %s %q: a pagerd service has one escalation policy; make a service for those alerts and point their senders at it", when, rr.Notify.Type, rr.Notify.label())
	}
	var notify ogRecipient
	switch {
	case def != nil:
		notify = def.Notify
	default:
		var owned []ogRecipient
		for _, e := range ex.escalation {
			if e.OwnerTeam != nil && (e.OwnerTeam.ID == t.ID || e.OwnerTeam.Name == t.Name) {
				owned = append(owned, ogRecipient{Type: "escalation", ID: e.ID, Name: e.Name})
			}
		}
		if len(owned) == 0 {
			for _, sc := range ex.schedules {
				if sc.OwnerTeam != nil && (sc.OwnerTeam.ID == t.ID || sc.OwnerTeam.Name == t.Name) {
					owned = append(owned, ogRecipient{Type: "schedule", ID: sc.ID, Name: sc.Name})
				}
			}
		}
		if len(owned) != 1 {
			rep.add(NotMapped, r, "which escalation gets its alerts is in its routing rules, which the export lacks, and it owns %d escalations and schedules; no service written (export teams/*.json with teamRoutingRules, or add the service by hand)", len(owned))
			return nil
		}
		notify = owned[0]
	}
	switch notify.Type {
	case "escalation":
		s.ladder = notify.key()
	case "schedule":
		key := "team:" + t.ID
		src.ladders = append(src.ladders, &ladder{
			ref: r.in("routing to schedule", notify.label(), ""), keys: []string{key}, name: t.Name,
			rungs: []rung{{ref: r, targets: []target{{schedule: notify.key()}}}},
		})
		s.ladder = key
		rep.add(Changed, r, "sends its alerts straight to schedule %q: imported as a one-level escalation policy that pages it and never repeats", notify.label())
	default:
		rep.add(NotMapped, r, "sends its alerts to nobody (%s); no service written", notify.Type)
		return nil
	}
	return s
}
