package report

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// HandoffDoc is a schedule's handoff document, filled from the outgoing
// week: what happened (incidents by severity, the major ones, escalations,
// recurring alerts, false-positive candidates) and what is still open,
// each open incident with its last status update. What pagerd cannot know
// (planned work, user impact) stays as the template's
// prompts; the week's changes come from the deploy tools that send change
// events (SetChanges). Render writes it in the schedule's template.
type HandoffDoc struct {
	Schedule string `json:"schedule"`
	// Template is the schedule's handoff_template: text or markdown.
	Template string `json:"template"`
	// At is when the document was made; Handoff the handoff it is for (the
	// one nearest At); From and To the outgoing week, [From, To).
	At       time.Time `json:"at"`
	Handoff  time.Time `json:"handoff"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	TimeZone string    `json:"time_zone"`
	// Outgoing and Incoming hold each tier just before and at the handoff,
	// and, for a tier that changes hands within a week, list everyone
	// who holds it in the outgoing week and in the incoming one.
	Outgoing []TierHolder `json:"outgoing"`
	Incoming []TierHolder `json:"incoming"`
	// Incidents counts the week's incidents; ByPriority splits them, every
	// priority of the services' schemes listed.
	Incidents  int             `json:"incidents"`
	ByPriority []PriorityCount `json:"by_priority"`
	// Major are the week's incidents of the two most urgent priorities.
	Major []HandoffIncident `json:"major"`
	// Open are the incidents still open at At, oldest first.
	Open []HandoffIncident `json:"open"`
	// Escalations are the escalations in the week (of its incidents and
	// of older ones still open), in time order.
	Escalations []HandoffEscalation `json:"escalations"`
	// Recurring are the alerts that opened more than RecurringAfter
	// incidents in the week, most frequent first.
	Recurring      []Recurring `json:"recurring"`
	RecurringAfter int         `json:"recurring_after"`
	// FalsePositives are the week's false-positive candidates.
	FalsePositives      []HandoffIncident `json:"false_positive_candidates"`
	FalsePositiveWithin string            `json:"false_positive_within"`
	// Health is the overall state pagerd can see: red with a top-priority
	// incident open, yellow with any other open, green with none.
	Health       string `json:"health"`
	HealthReason string `json:"health_reason"`
	// Changes are the week's change events (deploys, config pushes) of
	// the services that page the schedule, oldest first (SetChanges);
	// ChangesLeftOut counts the earlier ones past MaxHandoffChanges.
	Changes        []Change `json:"changes"`
	ChangesLeftOut int      `json:"changes_left_out,omitempty"`
}

// TierHolder is who holds one tier: User and Name at the time, overrides
// applied (whom its pages go to), and Override when an override holds it
// in place of the rotation's person. When nobody holds the tier at the
// time (a business-hours tier at a Monday 08:00 handoff), they are the
// week's first holder for the incoming week and its last for the
// outgoing one, empty when nobody holds it all week.
//
// Week lists everyone who holds the tier in the week by its rotation and
// layers, with the hours they hold it, when that is more than one person
// in one shift all week: each region of a follow-the-sun tier, the
// holder of a business-hours tier with its hours, each day's of a daily
// rotation. It is left out for a tier one person holds all week.
type TierHolder struct {
	Tier     string       `json:"tier"`
	Title    string       `json:"title"`
	User     string       `json:"user"`
	Name     string       `json:"name"`
	Override *HeldInstead `json:"override,omitempty"`
	Week     []WeekHolder `json:"week,omitempty"`
	// named says which holder User is when nobody holds the tier at the
	// handoff: "first" (the incoming week's), "last" (the outgoing
	// week's); "" for the one at the handoff.
	named string
}

// WeekHolder is someone who holds a tier in a week by its rotation and
// layers (overrides aside; the tier's Override names the one at the
// handoff): Layer is the layer ("" for the tier's own rotation), Hours
// says when in words from the config ("apac: daily 00:00–08:00 UTC",
// "Mon–Fri 09:00–17:00 Europe/Berlin", "other hours"), Shifts are the
// spans exactly, in order.
type WeekHolder struct {
	User   string     `json:"user"`
	Name   string     `json:"name"`
	Layer  string     `json:"layer,omitempty"`
	Hours  string     `json:"hours"`
	Shifts []HeldSpan `json:"shifts"`
}

// HeldSpan is a span [From, Until) a WeekHolder holds the tier.
type HeldSpan struct {
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
}

// HeldInstead is an override that holds a tier at a handoff in place of
// the person the rotation gives it to (the week's person): a holiday's
// coverage, a swap, someone ill. A handoff document names both. Until is
// when it stops covering for that person: the override's end, or the end
// of their turn if that comes first (an override over the handoff covers
// for the outgoing person only up to it, then for the incoming one).
type HeldInstead struct {
	Reason       string    `json:"reason"`
	Until        time.Time `json:"until"`
	RotationUser string    `json:"rotation_user"`
	RotationName string    `json:"rotation_name"`
}

// HandoffIncident is an incident as a handoff document lists it.
type HandoffIncident struct {
	ID        string    `json:"id"`
	Service   string    `json:"service"`
	Priority  string    `json:"priority"`
	Summary   string    `json:"summary"`
	AlertName string    `json:"alertname,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// Status is as of the document's At, and so is the acknowledgement:
	// the one that holds the incident then (an escalation since re-opened
	// it and cleared it), by whoever made it.
	Status         string    `json:"status"`
	AcknowledgedAt time.Time `json:"acknowledged_at,omitzero"`
	AcknowledgedBy string    `json:"acknowledged_by,omitempty"`
	// AcknowledgedByName is the acknowledger's display name.
	AcknowledgedByName string    `json:"acknowledged_by_name,omitempty"`
	ResolvedAt         time.Time `json:"resolved_at,omitzero"`
	// LastUpdate is the last status update before At, if any.
	LastUpdate *StatusUpdate `json:"last_update,omitempty"`
}

// StatusUpdate is one status update of an incident.
type StatusUpdate struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	ByName string    `json:"by_name"`
	Text   string    `json:"text"`
}

// HandoffEscalation is one escalation in the week.
type HandoffEscalation struct {
	At        time.Time `json:"at"`
	Incident  string    `json:"incident"`
	Priority  string    `json:"priority"`
	Summary   string    `json:"summary"`
	Level     int       `json:"level"`
	LevelName string    `json:"level_name,omitempty"`
	Detail    string    `json:"detail"`
}

// Recurring is an alert that kept coming back.
type Recurring struct {
	AlertName  string    `json:"alertname"`
	Count      int       `json:"count"`
	Priorities []string  `json:"priorities"`
	First      time.Time `json:"first"`
	Last       time.Time `json:"last"`
	Incidents  []string  `json:"incidents"`
}

// Health values.
const (
	HealthGreen  = "Green"
	HealthYellow = "Yellow"
	HealthRed    = "Red"
)

// HandoffWindow is what a handoff document at `at` reads: the handoff
// nearest to at (the coming one the evening before, the one just past the
// morning after), and the outgoing week [from, to) before it. The caller
// passes Handoff the incidents created in [from, to) and every incident
// still open at at.
func HandoffWindow(cfg *policy.Config, schedule string, at time.Time) (handoff, from, to time.Time, err error) {
	s := cfg.Schedule(schedule)
	if s == nil {
		return time.Time{}, time.Time{}, time.Time{}, fmt.Errorf("no schedule %q is defined", schedule)
	}
	prev, next := s.HandoffAtOrBefore(at), s.NextHandoff(at)
	handoff = prev
	if next.Sub(at) < at.Sub(prev) {
		handoff = next
	}
	return handoff, s.HandoffAtOrBefore(handoff.Add(-time.Nanosecond)), handoff, nil
}

// Handoff fills a schedule's handoff document at `at` from the incidents
// of the services whose escalation policy pages the schedule: those
// created in the outgoing week (up to at) make its summary, those open at
// at its active issues. Other incidents are ignored, so the caller may pass
// more than HandoffWindow asks for. Timeline entries after at are ignored.
func Handoff(cfg *policy.Config, schedule string, at time.Time, incidents []Incident) (*HandoffDoc, error) {
	h, from, to, err := HandoffWindow(cfg, schedule, at)
	if err != nil {
		return nil, err
	}
	s := cfg.Schedule(schedule)
	d := &HandoffDoc{Schedule: s.Name, Template: s.HandoffTemplate, At: at, Handoff: h, From: from, To: to,
		TimeZone: s.Location().String(), RecurringAfter: cfg.Reports.RecurringAfter,
		FalsePositiveWithin: cfg.Reports.FalsePositiveWithin.String(),
		Major:               []HandoffIncident{}, Open: []HandoffIncident{}, Escalations: []HandoffEscalation{},
		Recurring: []Recurring{}, FalsePositives: []HandoffIncident{}, Changes: []Change{}}
	if d.Template == "" {
		d.Template = policy.HandoffMarkdown
	}
	if d.RecurringAfter <= 0 {
		d.RecurringAfter = policy.DefaultRecurringAfter
	}
	fpWithin := time.Duration(cfg.Reports.FalsePositiveWithin)
	if fpWithin <= 0 {
		fpWithin = policy.DefaultFalsePositiveWithin
		d.FalsePositiveWithin = policy.Duration(fpWithin).String()
	}
	for _, t := range s.Tiers {
		// Who holds the tier, and the week's person by the rotation when
		// an override holds it instead: on a holiday the override's
		// people hold the handoff itself, and named alone, they were both
		// the outgoing and the incoming, the week's people nowhere.
		holder := func(when time.Time) TierHolder {
			th := TierHolder{Tier: t.Name, Title: t.DisplayTitle()}
			sh, ok := s.OnCallTier(t.Name, when)
			if !ok {
				return th
			}
			if sh.User != "" {
				th.User, th.Name = sh.User, cfg.UserName(sh.User)
			}
			if sh.Override != "" {
				if week := s.RotationHolder(s.Tier(t.Name), when); week.User != sh.User {
					// Until the override ends, or the rotation's person's
					// turn does if that comes first: an override over the
					// handoff covers for the outgoing person only up to it.
					until := sh.Until
					if week.User != "" && week.Until.Before(until) {
						until = week.Until
					}
					th.Override = &HeldInstead{Reason: sh.Override, Until: until, RotationUser: week.User}
					if week.User != "" {
						th.Override.RotationName = cfg.UserName(week.User)
					}
				}
			}
			return th
		}
		// Nobody holds it at the handoff (a tier held in restricted
		// hours, at a handoff outside them): the outgoing week's last
		// holder hands over, the incoming week's first takes over.
		next := s.NextHandoff(h)
		out, in := holder(h.Add(-time.Nanosecond)), holder(h)
		if out.User == "" {
			if sh := tierShifts(s, t.Name, from, to); len(sh) > 0 {
				out = holder(sh[len(sh)-1].Until.Add(-time.Nanosecond))
				out.named = "last"
			}
		}
		if in.User == "" {
			if sh := tierShifts(s, t.Name, to, next); len(sh) > 0 {
				in = holder(sh[0].From)
				in.named = "first"
			}
		}
		out.Week, in.Week = weekHolders(cfg, s, t.Name, from, to), weekHolders(cfg, s, t.Name, to, next)
		d.Outgoing = append(d.Outgoing, out)
		d.Incoming = append(d.Incoming, in)
	}

	// The services that page this schedule, and the priorities of their
	// schemes, most urgent first.
	services := map[string]*policy.Service{}
	var prios []string
	for name, scheds := range serviceSchedules(cfg) {
		if slices.Contains(scheds, s.Name) {
			services[name] = cfg.Service(name)
		}
	}
	for i := range cfg.Services {
		if sv := services[cfg.Services[i].Name]; sv != nil {
			for _, p := range sv.Scheme().Priorities {
				if !slices.Contains(prios, p) {
					prios = append(prios, p)
				}
			}
		}
	}
	counts := make([]PriorityCount, len(prios))
	for i, p := range prios {
		counts[i].Priority = p
	}
	weekEnd := to
	if at.Before(weekEnd) {
		weekEnd = at
	}
	recurring := map[string]*Recurring{}
	worst := -1
	for i := range incidents {
		inc := &incidents[i]
		svc := services[inc.Service]
		if svc == nil || !inc.CreatedAt.Before(at) {
			continue
		}
		inWeek := !inc.CreatedAt.Before(from) && inc.CreatedAt.Before(weekEnd)
		if res, _ := inc.resolveTime(); !inWeek && !res.IsZero() && !res.After(at) {
			continue // history: neither this week's nor open
		}
		rank := svc.Scheme().Rank(inc.Priority)
		hi := handoffIncident(cfg, inc, at)
		if hi.Status != "resolved" {
			d.Open = append(d.Open, hi)
			if rank >= 0 && (worst < 0 || rank < worst) {
				worst = rank
			}
		}
		pol := cfg.Policy(svc.EscalationPolicy)
		for j := range inc.Timeline {
			e := &inc.Timeline[j]
			if !isEscalation(e) || e.At.Before(from) || !e.At.Before(weekEnd) {
				continue
			}
			he := HandoffEscalation{At: e.At, Incident: inc.ID, Priority: inc.Priority, Summary: inc.Summary, Level: e.Level, Detail: e.Detail,
				LevelName: pol.LevelName(e.Level - 1)}
			d.Escalations = append(d.Escalations, he)
		}
		if !inWeek {
			continue
		}
		d.Incidents++
		if j := slices.Index(prios, inc.Priority); j >= 0 {
			counts[j].Incidents++
			counts[j].Alerts += alertCount(inc.Details)
		}
		if rank >= 0 && rank <= 1 {
			d.Major = append(d.Major, hi)
		}
		if ack, _ := inc.ackTime(); hi.Status == "resolved" && (ack.IsZero() || ack.After(hi.ResolvedAt)) && hi.ResolvedAt.Sub(hi.CreatedAt) <= fpWithin {
			d.FalsePositives = append(d.FalsePositives, hi)
		}
		if hi.AlertName != "" {
			r := recurring[hi.AlertName]
			if r == nil {
				r = &Recurring{AlertName: hi.AlertName, First: inc.CreatedAt, Last: inc.CreatedAt}
				recurring[hi.AlertName] = r
			}
			r.Count++
			r.Incidents = append(r.Incidents, inc.ID)
			if !slices.Contains(r.Priorities, inc.Priority) {
				r.Priorities = append(r.Priorities, inc.Priority)
			}
			if inc.CreatedAt.Before(r.First) {
				r.First = inc.CreatedAt
			}
			if inc.CreatedAt.After(r.Last) {
				r.Last = inc.CreatedAt
			}
		}
	}
	d.ByPriority = counts
	byTime := func(a, b time.Time, ida, idb string) bool {
		if !a.Equal(b) {
			return a.Before(b)
		}
		return ida < idb
	}
	for _, l := range [][]HandoffIncident{d.Major, d.Open, d.FalsePositives} {
		sort.Slice(l, func(i, j int) bool { return byTime(l[i].CreatedAt, l[j].CreatedAt, l[i].ID, l[j].ID) })
	}
	sort.SliceStable(d.Escalations, func(i, j int) bool {
		return byTime(d.Escalations[i].At, d.Escalations[j].At, d.Escalations[i].Incident, d.Escalations[j].Incident)
	})
	for _, r := range recurring {
		if r.Count > d.RecurringAfter {
			slices.SortFunc(r.Priorities, func(a, b string) int { return slices.Index(prios, a) - slices.Index(prios, b) })
			d.Recurring = append(d.Recurring, *r)
		}
	}
	sort.Slice(d.Recurring, func(i, j int) bool {
		if d.Recurring[i].Count != d.Recurring[j].Count {
			return d.Recurring[i].Count > d.Recurring[j].Count
		}
		return d.Recurring[i].AlertName < d.Recurring[j].AlertName
	})
	switch {
	case len(d.Open) == 0:
		d.Health, d.HealthReason = HealthGreen, "no incident open"
	default:
		d.Health = HealthYellow
		if worst == 0 {
			d.Health = HealthRed
		}
		top := ""
		if worst >= 0 && worst < len(prios) {
			top = ", the most urgent " + mostUrgent(d.Open, prios)
		}
		d.HealthReason = fmt.Sprintf("%d %s open%s", len(d.Open), plural(len(d.Open), "incident", "incidents"), top)
	}
	return d, nil
}

// tierShifts are the shifts of one tier in [a, b), overrides applied, the
// spans nobody holds left out.
func tierShifts(s *policy.Schedule, tier string, a, b time.Time) []policy.Shift {
	var out []policy.Shift
	for _, sh := range s.Shifts(a, b) {
		if sh.Tier == tier {
			out = append(out, sh)
		}
	}
	return out
}

// weekHolders are the tier's holders in the week [a, b) with their hours,
// or nil when one person holds it all week in one shift, as a weekly
// tier's person does: the document names them as it always has.
func weekHolders(cfg *policy.Config, s *policy.Schedule, tier string, a, b time.Time) []WeekHolder {
	turns := s.Turns(tier, a, b)
	if len(turns) == 0 || len(turns) == 1 && len(turns[0].Shifts) == 1 && turns[0].Shifts[0].From.Equal(a) && turns[0].Shifts[0].Until.Equal(b) {
		return nil
	}
	loc := s.Location()
	out := make([]WeekHolder, 0, len(turns))
	for _, tu := range turns {
		w := WeekHolder{User: tu.User, Name: cfg.UserName(tu.User), Layer: tu.Layer, Hours: tu.Hours, Shifts: make([]HeldSpan, 0, len(tu.Shifts))}
		for _, sh := range tu.Shifts {
			w.Shifts = append(w.Shifts, HeldSpan{From: sh.From.In(loc), Until: sh.Until.In(loc)})
		}
		out = append(out, w)
	}
	return out
}

// mostUrgent is the most urgent priority among the incidents.
func mostUrgent(incs []HandoffIncident, prios []string) string {
	best := ""
	for _, i := range incs {
		r := slices.Index(prios, i.Priority)
		if r >= 0 && (best == "" || r < slices.Index(prios, best)) {
			best = i.Priority
		}
	}
	return best
}

// handoffIncident is the incident as of at.
func handoffIncident(cfg *policy.Config, inc *Incident, at time.Time) HandoffIncident {
	hi := HandoffIncident{ID: inc.ID, Service: inc.Service, Priority: inc.Priority, Summary: inc.Summary,
		AlertName: AlertName(inc.Details), CreatedAt: inc.CreatedAt, Status: "triggered"}
	if t, by := inc.ackStanding(at); !t.IsZero() {
		hi.Status, hi.AcknowledgedAt, hi.AcknowledgedBy, hi.AcknowledgedByName = "acknowledged", t, by, cfg.UserName(by)
	}
	if t, _ := inc.resolveTime(); !t.IsZero() && !t.After(at) {
		hi.Status, hi.ResolvedAt = "resolved", t
		if !hi.AcknowledgedAt.IsZero() && hi.AcknowledgedAt.After(t) {
			hi.AcknowledgedAt, hi.AcknowledgedBy, hi.AcknowledgedByName = time.Time{}, "", ""
		}
	}
	for i := len(inc.Timeline) - 1; i >= 0; i-- {
		e := &inc.Timeline[i]
		if e.Type == EntryStatusUpdate && !e.At.After(at) {
			by := e.User
			if by == "" {
				by = e.Actor
			}
			hi.LastUpdate = &StatusUpdate{At: e.At, By: by, ByName: cfg.UserName(by), Text: e.Detail}
			break
		}
	}
	return hi
}
