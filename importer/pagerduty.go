package importer

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// PagerDuty: the JSON its REST API v2 returns. Users from GET /users with
// include[]=contact_methods and include[]=notification_rules; schedules
// from GET /schedules/{id} (with since and until, so the response carries
// overrides_subschedule); GET /escalation_policies; GET /services. Lists
// ({"users": [...]}) and single objects ({"schedule": {...}}) both work.
//
// Schedule layers are read highest-precedence first, as GET has returned
// them (the reverse of the order they are created in, and of PagerDuty's
// UI, where the bottom layer wins), unless the schedule's final_schedule
// shows the later listed layer winning (pdLayerOrder).

type pdRef struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Summary string `json:"summary"`
	Name    string `json:"name"`
}

func (r pdRef) label() string {
	for _, s := range []string{r.Summary, r.Name, r.ID} {
		if s != "" {
			return s
		}
	}
	return r.Type
}

type pdContactMethod struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	Summary     string `json:"summary"`
	Label       string `json:"label"`
	Address     string `json:"address"`
	CountryCode int    `json:"country_code"`
	// Blacklisted is set on a phone, SMS or push contact PagerDuty no
	// longer messages (the number replied STOP, or PagerDuty flagged it).
	Blacklisted bool `json:"blacklisted"`
	// Enabled, on an SMS contact, is false when PagerDuty cannot text the
	// number; absent elsewhere.
	Enabled *bool `json:"enabled"`
}

// dead says why PagerDuty does not message a contact method, or "".
func (cm pdContactMethod) dead() string {
	switch {
	case cm.Blacklisted:
		return "blacklisted at PagerDuty, which sends it nothing"
	case cm.Enabled != nil && !*cm.Enabled:
		return "disabled at PagerDuty (enabled: false), which sends it nothing"
	}
	return ""
}

type pdUser struct {
	ID                string            `json:"id"`
	Name              string            `json:"name"`
	Email             string            `json:"email"`
	TimeZone          string            `json:"time_zone"`
	ContactMethods    []pdContactMethod `json:"contact_methods"`
	NotificationRules []struct {
		ID                  string          `json:"id"`
		Type                string          `json:"type"`
		StartDelayInMinutes int             `json:"start_delay_in_minutes"`
		ContactMethod       pdContactMethod `json:"contact_method"`
		Urgency             string          `json:"urgency"`
	} `json:"notification_rules"`
}

type pdRestriction struct {
	Type            string `json:"type"`
	StartTimeOfDay  string `json:"start_time_of_day"`
	StartDayOfWeek  int    `json:"start_day_of_week"`
	DurationSeconds int    `json:"duration_seconds"`
}

type pdLayer struct {
	ID                        string   `json:"id"`
	Name                      string   `json:"name"`
	Start                     flexTime `json:"start"`
	End                       flexTime `json:"end"`
	RotationVirtualStart      flexTime `json:"rotation_virtual_start"`
	RotationTurnLengthSeconds int      `json:"rotation_turn_length_seconds"`
	Users                     []struct {
		User pdRef `json:"user"`
	} `json:"users"`
	Restrictions []pdRestriction `json:"restrictions"`
	// RenderedScheduleEntries are who the layer has on call between the
	// since and until of the request.
	RenderedScheduleEntries []pdEntry `json:"rendered_schedule_entries"`
}

type pdEntry struct {
	ID    string   `json:"id"`
	Start flexTime `json:"start"`
	End   flexTime `json:"end"`
	User  pdRef    `json:"user"`
}

type pdSchedule struct {
	ID                   string    `json:"id"`
	Name                 string    `json:"name"`
	TimeZone             string    `json:"time_zone"`
	ScheduleLayers       []pdLayer `json:"schedule_layers"`
	OverridesSubschedule *struct {
		RenderedScheduleEntries []pdEntry `json:"rendered_schedule_entries"`
	} `json:"overrides_subschedule"`
	// FinalSchedule is who PagerDuty pages, layers and overrides applied.
	FinalSchedule *struct {
		RenderedScheduleEntries []pdEntry `json:"rendered_schedule_entries"`
	} `json:"final_schedule"`
	// Overrides is not in the API's schedule; exports that attach GET
	// /schedules/{id}/overrides to it are read too.
	Overrides []pdEntry `json:"overrides"`
}

type pdPolicy struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	NumLoops        int    `json:"num_loops"`
	EscalationRules []struct {
		ID                       string  `json:"id"`
		EscalationDelayInMinutes int     `json:"escalation_delay_in_minutes"`
		Targets                  []pdRef `json:"targets"`
		AssignmentStrategy       *struct {
			Type string `json:"type"`
		} `json:"escalation_rule_assignment_strategy"`
	} `json:"escalation_rules"`
}

type pdUrgencyRule struct {
	Type                string         `json:"type"`
	Urgency             string         `json:"urgency"`
	DuringSupportHours  *pdUrgencyRule `json:"during_support_hours"`
	OutsideSupportHours *pdUrgencyRule `json:"outside_support_hours"`
}

type pdService struct {
	ID                     string         `json:"id"`
	Name                   string         `json:"name"`
	Description            string         `json:"description"`
	Status                 string         `json:"status"`
	EscalationPolicy       pdRef          `json:"escalation_policy"`
	AcknowledgementTimeout *int           `json:"acknowledgement_timeout"`
	AutoResolveTimeout     *int           `json:"auto_resolve_timeout"`
	IncidentUrgencyRule    *pdUrgencyRule `json:"incident_urgency_rule"`
	SupportHours           *struct {
		Type       string `json:"type"`
		TimeZone   string `json:"time_zone"`
		StartTime  string `json:"start_time"`
		EndTime    string `json:"end_time"`
		DaysOfWeek []int  `json:"days_of_week"`
	} `json:"support_hours"`
	ScheduledActions []json.RawMessage `json:"scheduled_actions"`
	Integrations     []pdRef           `json:"integrations"`
}

// pdLists are the keys of PagerDuty's list and get responses.
var pdLists = map[string]string{
	"users": "user", "user": "user",
	"schedules": "schedule", "schedule": "schedule",
	"escalation_policies": "escalation_policy", "escalation_policy": "escalation_policy",
	"services": "service", "service": "service",
}

// pdPaging are the keys of a list response's paging (reportLaterPages
// reads them), which hold no objects.
var pdPaging = map[string]bool{"limit": true, "offset": true, "more": true, "total": true}

// pdDoc is a document's lists, decoded once for both passes.
type pdDoc struct {
	Document
	top  map[string]json.RawMessage
	keys []string
	objs map[string][]map[string]json.RawMessage
}

func readPagerDuty(docs []Document, rep *Report, now time.Time) (*source, error) {
	// First pass: decode, and pick which copy of an object read twice (a
	// list and a get) is imported: the later one, unless it is a bare
	// reference and the earlier one is not, as Opsgenie's dedupe keeps the
	// fuller copy.
	var pds []pdDoc
	type pick struct{ doc, obj int }
	winner := map[string]pick{}
	winnerObj := map[string]map[string]json.RawMessage{}
	for _, d := range docs {
		pd := pdDoc{Document: d, objs: map[string][]map[string]json.RawMessage{}}
		if err := d.decode(&pd.top); err != nil {
			return nil, err
		}
		for k := range pd.top {
			pd.keys = append(pd.keys, k)
		}
		sort.Strings(pd.keys)
		for _, key := range pd.keys {
			kind, ok := pdLists[key]
			if !ok {
				continue
			}
			objs, err := unwrap(pd.top[key], nil, d.Name)
			if err != nil {
				return nil, err
			}
			pd.objs[key] = objs
			for i, obj := range objs {
				var id string
				_ = json.Unmarshal(obj["id"], &id)
				if id == "" {
					continue
				}
				k := kind + "/" + id
				if old, ok := winnerObj[k]; ok && pdFullness(obj) < pdFullness(old) {
					continue // the fuller copy is imported, whichever came first
				}
				winner[k] = pick{len(pds), i}
				winnerObj[k] = obj
			}
		}
		pds = append(pds, pd)
	}
	src := &source{}
	for di, pd := range pds {
		d := pd.Document
		reportLaterPages(d, rep)
		read := false
		var unknown []string
		for _, key := range pd.keys {
			kind, ok := pdLists[key]
			if !ok {
				if !pdPaging[key] {
					unknown = append(unknown, key)
				}
				continue
			}
			read = true
			for i, obj := range pd.objs[key] {
				var id string
				_ = json.Unmarshal(obj["id"], &id)
				if w, ok := winner[kind+"/"+id]; ok && id != "" && w != (pick{di, i}) {
					continue // the same object from a list and a get: the other copy is imported
				}
				if err := pdObject(kind, obj, d.Name, src, rep, now); err != nil {
					return nil, err
				}
			}
		}
		if !read {
			what := "no users, schedules, escalation_policies or services"
			for _, k := range []string{"overrides", "contact_methods", "notification_rules"} {
				if _, ok := pd.top[k]; ok {
					what = k + " without the schedule or user they belong to (see docs/MIGRATING.md for the requests that include them)"
				}
			}
			rep.add(NotMapped, ref{Kind: "file", Name: d.Name}, "%s; not read", what)
		} else if len(unknown) > 0 {
			rep.add(NotMapped, ref{Kind: "file", Name: d.Name}, "keys pagerd import does not know (%s), next to the ones it read; not read", strings.Join(unknown, ", "))
		}
	}
	return src, nil
}

// pdIsReference reports whether an object is a bare reference
// ("type": "user_reference" and the like), which PagerDuty gives in place
// of the object where a response does not include it.
// pdDetailKeys are the fields a list request leaves out, or gives as
// references, and a get of the object (or include[]) gives whole: the
// schedule's layers, the policy's rules, the user's contact methods and
// notification rules.
var pdDetailKeys = []string{"schedule_layers", "escalation_rules", "contact_methods", "notification_rules", "overrides_subschedule", "final_schedule"}

// pdFullness ranks two copies of one object (a list's and a get's, or
// two lists', files in any order): a whole object over a reference, then
// the one with more of pdDetailKeys given whole (not as references), then
// more fields. A list copy read after the get (schedules.json sorts after
// schedule-S1.json) replaced it, and the schedule, its layers and every
// escalation to it were left out.
func pdFullness(obj map[string]json.RawMessage) int {
	n := len(obj)
	if !pdIsReference(obj) {
		n += 1 << 20
	}
	for _, k := range pdDetailKeys {
		var items []map[string]json.RawMessage
		if json.Unmarshal(obj[k], &items) != nil {
			var one map[string]json.RawMessage // final_schedule, overrides_subschedule: an object
			if json.Unmarshal(obj[k], &one) == nil && len(one) > 0 {
				n += 1 << 10
			}
			continue
		}
		for _, it := range items {
			if !pdIsReference(it) {
				n += 1 << 10
				break
			}
		}
	}
	return n
}

func pdIsReference(obj map[string]json.RawMessage) bool {
	var typ string
	_ = json.Unmarshal(obj["type"], &typ)
	return strings.HasSuffix(typ, "_reference")
}

func pdObject(kind string, obj map[string]json.RawMessage, name string, src *source, rep *Report, now time.Time) error {
	switch kind {
	case "user":
		var u pdUser
		if err := into(obj, &u, name); err != nil {
			return err
		}
		src.people = append(src.people, pdPerson(u, rep))
	case "schedule":
		var s pdSchedule
		if err := into(obj, &s, name); err != nil {
			return err
		}
		src.schedules = append(src.schedules, pdScheduleModel(s, rep))
	case "escalation_policy":
		var p pdPolicy
		if err := into(obj, &p, name); err != nil {
			return err
		}
		src.ladders = append(src.ladders, pdLadder(p, rep))
	case "service":
		var s pdService
		if err := into(obj, &s, name); err != nil {
			return err
		}
		src.services = append(src.services, pdServiceModel(s, rep))
	}
	return nil
}

// pdChannel is the pagerd channel of a PagerDuty contact method type.
func pdChannel(typ string) string {
	switch strings.TrimSuffix(typ, "_reference") {
	case "sms_contact_method":
		return policy.ChannelSMS
	case "phone_contact_method":
		return policy.ChannelVoice
	case "push_notification_contact_method":
		return policy.ChannelPush
	case "email_contact_method":
		return policy.ChannelEmail
	}
	return typ
}

func pdPerson(u pdUser, rep *Report) *person {
	r := ref{Kind: "PagerDuty user", Name: u.Name, ID: u.ID}
	hint := localPart(u.Email)
	if hint == "" {
		hint = u.Name
	}
	p := &person{ref: r, keys: lowerKeys(u.ID, u.Email), hint: hint, name: u.Name, email: u.Email, tz: u.TimeZone}
	byID := map[string]pdContactMethod{}
	var cannot []string
	refs := false
	for _, cm := range u.ContactMethods {
		byID[cm.ID] = cm
		if strings.HasSuffix(cm.Type, "_reference") {
			refs = true
			continue
		}
		ch := pdChannel(cm.Type)
		cr := r.in("contact method", cm.Label, cm.ID)
		if why := cm.dead(); why != "" {
			addr := cm.Address
			if cm.CountryCode != 0 {
				addr = fmt.Sprintf("+%d %s", cm.CountryCode, addr)
			}
			rep.add(NotMapped, cr, "%s %s is %s; not imported", ch, addr, why)
			continue
		}
		switch ch {
		case policy.ChannelSMS, policy.ChannelVoice:
			num, ok := phone(strconv.Itoa(cm.CountryCode), cm.Address)
			if !ok {
				rep.add(NotMapped, cr, "%q is not a phone number pagerd can page (E.164); not imported", cm.Address)
				continue
			}
			p.contacts = append(p.contacts, contact{channel: ch, address: num, ref: cr})
		case policy.ChannelEmail:
			p.contacts = append(p.contacts, contact{channel: ch, address: cm.Address, ref: cr})
		case policy.ChannelPush:
			cannot = append(cannot, "push to the PagerDuty app ("+cm.Label+")")
		default:
			cannot = append(cannot, ch+" "+cm.Address)
		}
	}
	if refs {
		rep.add(NotMapped, r, "its contact methods are references without addresses: export users with include[]=contact_methods")
	}
	if len(cannot) > 0 {
		rep.add(NotMapped, r, "contacts pagerd cannot page: %s (pagerd pages by SMS and calls through Twilio and by email; for the PagerDuty app, give them a push contact via pagerduty with a routing key of their own)", strings.Join(cannot, ", "))
	}
	for _, nr := range u.NotificationRules {
		if strings.HasSuffix(nr.Type, "_reference") {
			rep.add(NotMapped, r, "its notification rules are references: export users with include[]=notification_rules")
			break
		}
		cm := nr.ContactMethod
		if full, ok := byID[cm.ID]; ok && strings.HasSuffix(cm.Type, "_reference") {
			cm = full
		}
		st := step{after: time.Duration(nr.StartDelayInMinutes) * time.Minute, channel: pdChannel(cm.Type)}
		if nr.Urgency == policy.UrgencyLow {
			p.low = append(p.low, st)
		} else {
			p.high = append(p.high, st)
		}
	}
	sort.SliceStable(p.high, func(i, j int) bool { return p.high[i].after < p.high[j].after })
	sort.SliceStable(p.low, func(i, j int) bool { return p.low[i].after < p.low[j].after })
	return p
}

func pdScheduleModel(s pdSchedule, rep *Report) *schedule {
	r := ref{Kind: "PagerDuty schedule", Name: s.Name, ID: s.ID}
	out := &schedule{ref: r, keys: []string{s.ID, s.Name}, name: s.Name, tz: s.TimeZone}
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	layers := s.ScheduleLayers
	switch top, bottom := pdLayerOrder(s); {
	case bottom != "" && top == "":
		layers = make([]pdLayer, len(s.ScheduleLayers))
		for i, l := range s.ScheduleLayers {
			layers[len(layers)-1-i] = l
		}
		rep.add(Changed, r, "lists its layers lowest first, but PagerDuty's final schedule has the later listed layer on call where two both have someone (%s): read in that order, the last listed highest", bottom)
	case bottom != "":
		rep.add(Changed, r, "PagerDuty's final schedule has the layer listed first on call where two both have someone at some times (%s) and the one listed later at others (%s): read highest first, as GET /schedules lists them; compare who is on call with PagerDuty", top, bottom)
	}
	for _, l := range layers {
		rot := &rotation{
			ref: r.in("layer", l.Name, l.ID), keys: []string{l.ID, l.Name}, name: l.Name,
			start: l.RotationVirtualStart.Time, from: l.Start.Time, end: l.End.Time,
		}
		if rot.start.IsZero() {
			rot.start = l.Start.Time
		}
		secs := l.RotationTurnLengthSeconds
		switch {
		case secs <= 0:
			rot.unmappable = "has no rotation_turn_length_seconds"
		case secs%(7*86400) == 0:
			rot.unit, rot.length = "week", secs/(7*86400)
		case secs%86400 == 0:
			rot.unit, rot.length = "day", secs/86400
		case secs%3600 == 0:
			rot.unit, rot.length = "hour", secs/3600
		default:
			rot.unmappable = fmt.Sprintf("turns of %d seconds: not whole hours", secs)
		}
		for _, u := range l.Users {
			rot.groups = append(rot.groups, []string{u.User.ID})
		}
		rot.restriction = pdRestrictions(l.Restrictions, loc)
		if rot.restriction != "" {
			ws, why := pdWindows(l.Restrictions)
			if why != "" && rot.unmappable == "" {
				rot.unmappable = fmt.Sprintf("on call only %s: %s, which pagerd cannot restrict a rotation to", rot.restriction, why)
			}
			rot.windows = ws
		}
		out.layers = append(out.layers, []*rotation{rot})
	}
	// PagerDuty gives the override created last priority where overrides
	// overlap, and neither list says when one was created. The rendered
	// overrides (overrides_subschedule) are PagerDuty's own answer, so they
	// outrank the listed ones (GET /schedules/{id}/overrides) where the two
	// disagree.
	add := func(e pdEntry, rank int, wins string) {
		out.overrides = append(out.overrides, &override{
			ref: r.in("override", e.User.label()+" "+e.Start.Format(time.RFC3339), e.ID), person: e.User.ID,
			from: e.Start.Time, until: e.End.Time, reason: "PagerDuty override", rank: rank, wins: wins,
		})
	}
	for _, e := range s.Overrides {
		add(e, 0, "")
	}
	if s.FinalSchedule != nil {
		for _, e := range s.FinalSchedule.RenderedScheduleEntries {
			if e.End.After(e.Start.Time) {
				out.final = append(out.final, finalEntry{person: e.User.ID, from: e.Start.Time, until: e.End.Time})
			}
		}
	}
	if s.OverridesSubschedule != nil {
		// Rendered entries are cut at the request's until, which the
		// response does not give: the latest end of the final schedule's
		// (and the layers') rendered entries is where it was, when the
		// export has a final schedule at all. An override rendered up to
		// there may go on after it at PagerDuty, and pagerd's would end
		// there, the rotation's person on call again: say so, unless the
		// listed overrides carry it on.
		var horizon time.Time
		for _, e := range s.finalEntries() {
			if e.End.After(horizon) {
				horizon = e.End.Time
			}
		}
		for _, l := range s.ScheduleLayers {
			for _, e := range l.RenderedScheduleEntries {
				if !horizon.IsZero() && e.End.After(horizon) {
					horizon = e.End.Time
				}
			}
		}
		for _, e := range s.OverridesSubschedule.RenderedScheduleEntries {
			add(e, 1, "PagerDuty's rendered overrides show on call then (PagerDuty pages the override created last)")
			if horizon.IsZero() || !e.End.Equal(horizon) {
				continue
			}
			listed := false
			for _, o := range s.Overrides {
				listed = listed || (o.User.ID == e.User.ID && !o.Start.After(e.End.Time) && o.End.After(e.End.Time))
			}
			if !listed {
				rep.add(Changed, out.overrides[len(out.overrides)-1].ref, "is rendered until %s, where the export's rendered schedule ends (the until of the request): at PagerDuty it may go on after that, and here it ends then; check it there, and extend it here if it does (or export GET /schedules/%s/overrides with a later until too)",
					e.End.In(loc).Format(time.RFC3339), s.ID)
			}
		}
	}
	return out
}

// finalEntries are the final schedule's rendered entries, if the export
// has them.
func (s pdSchedule) finalEntries() []pdEntry {
	if s.FinalSchedule == nil {
		return nil
	}
	return s.FinalSchedule.RenderedScheduleEntries
}

// pdLayerOrder reads from the export's final schedule which layer
// PagerDuty puts on call where several have someone: at the start of each
// layer's rendered entries (where no override holds), the one layer whose
// person the final schedule has wins over the others on call with someone
// else. top says where one listed earlier wins, bottom where one listed
// later does, as "layer ... over ... at <instant>", "" when no instant
// says so. Which layer is highest is no field of the layers, only their
// order in the response, and PagerDuty has listed them both ways.
func pdLayerOrder(s pdSchedule) (top, bottom string) {
	if s.FinalSchedule == nil || len(s.FinalSchedule.RenderedScheduleEntries) == 0 {
		return "", ""
	}
	at := func(es []pdEntry, t time.Time) *pdEntry {
		for i := range es {
			if !t.Before(es[i].Start.Time) && t.Before(es[i].End.Time) {
				return &es[i]
			}
		}
		return nil
	}
	var overrides []pdEntry
	if s.OverridesSubschedule != nil {
		overrides = s.OverridesSubschedule.RenderedScheduleEntries
	}
	ls := s.ScheduleLayers
	for _, l := range ls {
		for _, e := range l.RenderedScheduleEntries {
			t := e.Start.Time
			final := at(s.FinalSchedule.RenderedScheduleEntries, t)
			if final == nil || at(overrides, t) != nil {
				continue
			}
			winner, winners := -1, 0
			var on []int
			for k := range ls {
				if le := at(ls[k].RenderedScheduleEntries, t); le != nil {
					on = append(on, k)
					if le.User.ID == final.User.ID {
						winner, winners = k, winners+1
					}
				}
			}
			if winners != 1 {
				continue
			}
			for _, k := range on {
				if at(ls[k].RenderedScheduleEntries, t).User.ID == final.User.ID {
					continue
				}
				what := fmt.Sprintf("layer %q over %q at %s", ls[winner].Name, ls[k].Name, t.Format(time.RFC3339))
				switch {
				case winner < k && top == "":
					top = what
				case winner > k && bottom == "":
					bottom = what
				}
			}
		}
	}
	return top, bottom
}

// pdRestrictions describes a layer's restrictions, or "" when they cover
// every hour (a daily restriction of 24 hours, a weekly one of 7 days).
func pdRestrictions(rs []pdRestriction, loc *time.Location) string {
	var parts []string
	for _, r := range rs {
		hours := time.Duration(r.DurationSeconds) * time.Second
		switch {
		case r.Type == "daily_restriction" && r.DurationSeconds >= 86400,
			r.Type == "weekly_restriction" && r.DurationSeconds >= 7*86400:
			return ""
		case r.Type == "weekly_restriction":
			day := time.Weekday(r.StartDayOfWeek % 7).String()[:3]
			parts = append(parts, fmt.Sprintf("from %s %s for %s", day, trimSeconds(r.StartTimeOfDay), policy.Duration(hours)))
		default:
			parts = append(parts, fmt.Sprintf("from %s for %s every day", trimSeconds(r.StartTimeOfDay), policy.Duration(hours)))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, ", ") + " (" + loc.String() + ")"
}

// pdWindows reads a layer's restrictions as windows of the week: a daily
// restriction is duration_seconds from start_time_of_day every day, a
// weekly one from start_time_of_day on start_day_of_week (1 is Monday, 7
// Sunday). They are called only when some restriction leaves hours out.
func pdWindows(rs []pdRestriction) ([]window, string) {
	var out []window
	for _, r := range rs {
		t, err := time.Parse("15:04:05", r.StartTimeOfDay)
		if err != nil {
			t, err = time.Parse("15:04", r.StartTimeOfDay)
		}
		switch {
		case err != nil || t.Second() != 0:
			return nil, fmt.Sprintf("a restriction starting at %q, not a whole minute of the day", r.StartTimeOfDay)
		case r.DurationSeconds <= 0 || r.DurationSeconds%60 != 0:
			return nil, fmt.Sprintf("a restriction of %d seconds, not a whole number of minutes", r.DurationSeconds)
		}
		start, length := t.Hour()*60+t.Minute(), r.DurationSeconds/60
		switch r.Type {
		case "daily_restriction":
			end := start + length
			if end > minutesPerDay {
				end -= minutesPerDay
			}
			out = append(out, window{start: start, end: end})
		case "weekly_restriction":
			if r.StartDayOfWeek < 1 || r.StartDayOfWeek > 7 {
				return nil, fmt.Sprintf("a weekly restriction on day %d of the week, not 1 (Monday) to 7 (Sunday)", r.StartDayOfWeek)
			}
			out = append(out, weeklyWindow(time.Weekday(r.StartDayOfWeek%7), start, length))
		default:
			return nil, fmt.Sprintf("a restriction of type %q, not one PagerDuty documents (daily_restriction, weekly_restriction)", r.Type)
		}
	}
	return out, ""
}

func trimSeconds(hms string) string {
	if len(hms) == 8 && strings.HasSuffix(hms, ":00") {
		return hms[:5]
	}
	return hms
}

func pdLadder(p pdPolicy, rep *Report) *ladder {
	r := ref{Kind: "PagerDuty escalation policy", Name: p.Name, ID: p.ID}
	l := &ladder{ref: r, keys: []string{p.ID, p.Name}, name: p.Name, repeat: p.NumLoops}
	var at time.Duration
	for i, er := range p.EscalationRules {
		rr := r.in("rule", strconv.Itoa(i+1), er.ID)
		rg := rung{ref: rr, at: at}
		for _, t := range er.Targets {
			switch strings.TrimSuffix(t.Type, "_reference") {
			case "user":
				rg.targets = append(rg.targets, target{person: t.ID})
			case "schedule":
				rg.targets = append(rg.targets, target{schedule: t.ID})
			default:
				rep.add(NotMapped, rr, "pages a %s (%s): pagerd pages users and schedules; not imported", t.Type, t.label())
			}
		}
		if er.AssignmentStrategy != nil && er.AssignmentStrategy.Type == "round_robin" {
			rep.add(Changed, rr, "pages one of its targets in turn (round robin); pagerd pages all of a level's targets")
		}
		l.rungs = append(l.rungs, rg)
		at += time.Duration(er.EscalationDelayInMinutes) * time.Minute
		if i == len(p.EscalationRules)-1 {
			l.restartAt = at // the sum of every rule's delay
		}
	}
	return l
}

// pdUrgency is the urgency a rule gives each priority rank: constant, or
// by the alert's severity (critical and error high, warning and info low,
// PagerDuty's mapping).
func pdUrgency(u *pdUrgencyRule) [4]string {
	out := [4]string{policy.UrgencyHigh, policy.UrgencyHigh, policy.UrgencyHigh, policy.UrgencyHigh}
	if u == nil {
		return out
	}
	switch u.Type {
	case "constant":
		if u.Urgency == policy.UrgencyLow {
			out = [4]string{policy.UrgencyLow, policy.UrgencyLow, policy.UrgencyLow, policy.UrgencyLow}
		}
	case "severity_based":
		out[2], out[3] = policy.UrgencyLow, policy.UrgencyLow
	}
	return out
}

func pdServiceModel(s pdService, rep *Report) *service {
	r := ref{Kind: "PagerDuty service", Name: s.Name, ID: s.ID}
	out := &service{ref: r, name: s.Name, description: s.Description, ladder: s.EscalationPolicy.ID, pagerDutyKey: true}
	if s.Status == "disabled" {
		rep.add(Changed, r, "disabled in PagerDuty; imported as a service that takes alerts")
	}
	if u := s.IncidentUrgencyRule; u != nil {
		ur := &urgencyRule{always: pdUrgency(u)}
		if u.Type == "use_support_hours" && s.SupportHours != nil {
			sh := s.SupportHours
			cal := &calendar{tz: sh.TimeZone, start: trimSeconds(sh.StartTime), end: trimSeconds(sh.EndTime)}
			for _, d := range sh.DaysOfWeek {
				cal.days = append(cal.days, time.Weekday(d%7))
			}
			ur.calendar = cal
			ur.inHours, ur.offHours = pdUrgency(u.DuringSupportHours), pdUrgency(u.OutsideSupportHours)
		} else if u.Type == "use_support_hours" {
			rep.add(NotMapped, r, "its urgency follows support hours (use_support_hours), but the export has no support_hours for it: every priority is imported as high urgency, and its urgencies during and outside support hours are not: export the service again with its support_hours, or set its business hours and urgencies by hand")
		}
		out.urgency = ur
	}
	if t := s.AcknowledgementTimeout; t != nil && *t > 0 {
		rep.add(NotMapped, r, "re-triggers acknowledged incidents after %s: pagerd does not; a missing_status_update rule on its policy escalates acknowledged incidents whose updates stop", policy.Duration(time.Duration(*t)*time.Second))
	}
	if t := s.AutoResolveTimeout; t != nil && *t > 0 {
		rep.add(NotMapped, r, "resolves incidents on its own after %s: pagerd resolves when the sender does, or a person", policy.Duration(time.Duration(*t)*time.Second))
	}
	if len(s.ScheduledActions) > 0 {
		rep.add(NotMapped, r, "has %d scheduled urgency change(s): pagerd's urgency follows the business-hours calendar only", len(s.ScheduledActions))
	}
	for _, in := range s.Integrations {
		out.senders = append(out.senders, r.in("integration", in.label(), in.ID))
	}
	return out
}
