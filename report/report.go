package report

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// Builder gathers a report one incident at a time: New, Add for each
// incident (in any order; those created outside the period are skipped),
// then Report. It keeps counters and the durations percentiles need, never
// the incidents. A Builder is for one goroutine.
type Builder struct {
	cfg        *policy.Config
	from, to   time.Time
	asOf       time.Time
	week       *policy.ReportWeek
	night      policy.NightWindow
	fpWithin   time.Duration
	zones      map[string]zone
	svcScheds  map[string][]string
	total      *acc
	services   map[string]*acc
	schedules  map[string]*acc
	engineers  map[string]*acc
	weeks      map[int64]*weekAcc // by the week start's Unix time
	pay        *payAcc
	unknownSvc map[string]int
	unknownIDs map[string][]string // the first maxUnknownIDs of each, for pay
	keptFrom   time.Time
	scratch    facts
	done       bool
}

// zone is the time zone a person's nights are counted in.
type zone struct {
	loc  *time.Location
	from string
}

// maxUnknownIDs bounds how many incidents of a service the config no
// longer has a report names, for payroll to look at.
const maxUnknownIDs = 20

// MaxPeriod is the longest period a report covers: ten years of weeks,
// far beyond any retention, so a mistyped date cannot make a report of
// half a million empty weeks.
const MaxPeriod = 520 * 7 * 24 * time.Hour

// Options are a report's period and the instant it is made at.
type Options struct {
	// From and To bound the period: incidents created in [From, To).
	From, To time.Time
	// AsOf is when the report is made (the caller's now); zero means To.
	// An open incident whose target deadline is after AsOf has neither met
	// nor missed it yet.
	AsOf time.Time
	// OverridesKeptFrom, when set, is how far back the run-time
	// overrides in the config reach: the store drops those that ended
	// longer ago. Time on call before it is counted without them, and
	// the report says so.
	OverridesKeptFrom time.Time
}

// New starts a report over the config's services, schedules and users.
func New(cfg *policy.Config, o Options) (*Builder, error) {
	if cfg == nil {
		return nil, errors.New("report needs a config")
	}
	if o.From.IsZero() || o.To.IsZero() || !o.To.After(o.From) {
		return nil, fmt.Errorf("report period %s to %s is empty: to must be after from", o.From.Format(time.RFC3339), o.To.Format(time.RFC3339))
	}
	if o.To.Sub(o.From) > MaxPeriod {
		return nil, fmt.Errorf("report period %s to %s is longer than %d weeks: report it in parts", o.From.Format(time.RFC3339), o.To.Format(time.RFC3339), MaxPeriod/(7*24*time.Hour))
	}
	asOf := o.AsOf
	if asOf.IsZero() {
		asOf = o.To
	}
	b := &Builder{
		cfg: cfg, from: o.From, to: o.To, asOf: asOf,
		week:       &cfg.Reports.Week,
		night:      cfg.Reports.Night,
		fpWithin:   time.Duration(cfg.Reports.FalsePositiveWithin),
		zones:      userZones(cfg),
		svcScheds:  serviceSchedules(cfg),
		total:      newAcc(""),
		services:   map[string]*acc{},
		schedules:  map[string]*acc{},
		engineers:  map[string]*acc{},
		weeks:      map[int64]*weekAcc{},
		unknownSvc: map[string]int{},
		unknownIDs: map[string][]string{},
		keptFrom:   o.OverridesKeptFrom,
	}
	if b.fpWithin <= 0 {
		b.fpWithin = policy.DefaultFalsePositiveWithin
	}
	if !b.night.Start.IsSet() {
		b.night = policy.DefaultNight
	}
	for i := range cfg.Services {
		if cfg.CompensationFor(&cfg.Services[i]) != nil {
			b.pay = &payAcc{weeks: map[payKey]*PayWeek{}, onCall: map[payKey]time.Duration{}}
			break
		}
	}
	return b, nil
}

// Build is New, Add of every incident, and Report.
func Build(cfg *policy.Config, o Options, incidents []Incident) (*Report, error) {
	b, err := New(cfg, o)
	if err != nil {
		return nil, err
	}
	for i := range incidents {
		b.Add(&incidents[i])
	}
	return b.Report(), nil
}

// userZones is the zone each user's nights are counted in: their own
// clock as policy reads it (Config.PersonZone), the one their pay is
// counted on too.
func userZones(cfg *policy.Config) map[string]zone {
	out := make(map[string]zone, len(cfg.Users))
	for i := range cfg.Users {
		loc, from := cfg.PersonZone(cfg.Users[i].ID)
		out[cfg.Users[i].ID] = zone{loc, from}
	}
	return out
}

// serviceSchedules lists, per service, the schedules its escalation policy
// pages (levels and unresolved rules), in config order.
func serviceSchedules(cfg *policy.Config) map[string][]string {
	out := map[string][]string{}
	for i := range cfg.Services {
		s := &cfg.Services[i]
		p := cfg.Policy(s.EscalationPolicy)
		if p == nil {
			continue
		}
		used := map[string]bool{}
		for _, t := range pagedTargets(p) {
			used[t.Schedule] = true
		}
		for j := range cfg.Schedules {
			if used[cfg.Schedules[j].Name] {
				out[s.Name] = append(out[s.Name], cfg.Schedules[j].Name)
			}
		}
	}
	return out
}

// pagedTargets are the targets an escalation policy may page: its levels'
// and its "unresolved after" rules'.
func pagedTargets(p *policy.EscalationPolicy) []policy.Target {
	var out []policy.Target
	for _, l := range p.Levels {
		out = append(out, l.Targets...)
	}
	for _, r := range p.Unresolved {
		out = append(out, r.Notify...)
	}
	return out
}

// Verdicts of an incident against a target.
const (
	notDue = iota
	kept
	missed
)

// page is one page sent, as the figures count it.
type sentPage struct {
	user, channel string
	bundle        string
	offHours      bool
	night         bool
	nightOf       policy.Date
}

// facts are what one incident contributes to every set it belongs to.
type facts struct {
	priority       string
	alerts         int
	week           time.Time
	acked          bool
	ackBy          string
	mtta           time.Duration
	resolved       bool
	resolvedBy     string
	resolvedAt     time.Time // on the wall clock, held time included
	mttr           time.Duration
	ackVerdict     int
	resolveVerdict int
	escalated      bool
	falsePositive  bool
	pages          []sentPage
	failed         []sentPage // notify_failed: pages that did not go out
	paged          []string   // users with a page sent, in order, once each
	involved       []string   // paged, failed or acknowledged, in order, once each
}

// Add counts one incident. Incidents created outside the period are
// skipped; the incident is not kept.
func (b *Builder) Add(inc *Incident) {
	if b.done || inc.CreatedAt.Before(b.from) || !inc.CreatedAt.Before(b.to) {
		return
	}
	svc := b.cfg.Service(inc.Service)
	if svc == nil {
		b.unknownSvc[inc.Service]++
		if b.pay != nil && len(b.unknownIDs[inc.Service]) < maxUnknownIDs {
			b.unknownIDs[inc.Service] = append(b.unknownIDs[inc.Service], inc.ID)
		}
	}
	f := b.facts(inc, svc)
	b.total.add(f, "")
	sa := b.services[inc.Service]
	if sa == nil {
		sa = newAcc(inc.Service)
		b.services[inc.Service] = sa
	}
	sa.add(f, "")
	for _, s := range b.svcScheds[inc.Service] {
		a := b.schedules[s]
		if a == nil {
			a = newAcc(s)
			b.schedules[s] = a
		}
		a.add(f, "")
	}
	for _, u := range f.involved {
		if b.cfg.User(u) == nil {
			continue
		}
		a := b.engineers[u]
		if a == nil {
			a = newAcc(u)
			b.engineers[u] = a
		}
		a.add(f, u)
		if f.acked && f.ackBy == u {
			a.ackedByThem++
		}
	}
	w := b.weeks[f.week.Unix()]
	if w == nil {
		w = &weekAcc{}
		b.weeks[f.week.Unix()] = w
	}
	w.add(f)
	if b.pay != nil && svc != nil {
		b.pay.add(b.cfg, svc, inc, f)
	}
}

// facts works out what the incident counts for. The result is only good
// until the next call: nothing may keep it.
func (b *Builder) facts(inc *Incident, svc *policy.Service) *facts {
	// One incident at a time: its facts reuse the last one's memory.
	f := &b.scratch
	*f = facts{priority: inc.Priority, alerts: alertCount(inc.Details), week: b.week.Start(inc.CreatedAt),
		pages: f.pages[:0], paged: f.paged[:0], involved: f.involved[:0], failed: f.failed[:0]}
	ackAt, ackBy := inc.ackTime()
	resAt, resBy := inc.resolveTime()
	// Times to acknowledge and to resolve, and the targets, leave out the
	// time a maintenance window held the incident: nobody was paged then
	// (an incident held from its creation counts from the window's end),
	// and the engine's SLA targets stopped too, so a target the timeline
	// shows kept is kept here.
	if !ackAt.IsZero() && (resAt.IsZero() || !ackAt.After(resAt)) {
		f.acked, f.ackBy, f.mtta = true, ackBy, inc.unheld(ackAt).Sub(inc.CreatedAt)
	}
	if !resAt.IsZero() {
		f.resolved, f.resolvedBy, f.resolvedAt, f.mttr = true, resBy, resAt, inc.unheld(resAt).Sub(inc.CreatedAt)
		// Whether it went away by itself is a matter of the alert, not of
		// paging: wall-clock time.
		f.falsePositive = !f.acked && resAt.Sub(inc.CreatedAt) <= b.fpWithin
	}
	var cal *policy.BusinessHours
	if svc != nil {
		cal = b.cfg.Calendar(svc)
		prio := inc.createdPriority(svc.Scheme())
		asOf := inc.unheld(b.asOf)
		raises := inc.raises(svc.Scheme())
		// A target not met by a raise falls due at the earlier of its time
		// so far and the new priority's, counted from the raise, as the
		// engine arms it; one met before the raise stays met. One the
		// created priority lacked is the raised one's, as the engine arms
		// it at the raise.
		due := func(target string, met time.Time) (time.Time, bool) {
			at, ok := b.cfg.TargetDueAt(svc, prio, target, inc.CreatedAt)
			for _, r := range raises {
				if !met.IsZero() && !met.After(r.at) {
					break
				}
				if d, rok := b.cfg.TargetDueAt(svc, r.to, target, inc.unheld(r.at)); rok && (!ok || d.Before(at)) {
					at, ok = d, true
				}
			}
			return at, ok
		}
		ackDue, ackSet := due("acknowledge", ackAt)
		f.ackVerdict = targetVerdict(ackDue, ackSet, inc.unheld(ackAt), inc.unheld(resAt), asOf)
		resDue, resSet := due("resolution", resAt)
		f.resolveVerdict = targetVerdict(resDue, resSet, inc.unheld(resAt), time.Time{}, asOf)
	}
	// An incident pages a handful of people: slices beat maps here.
	involve := func(u string) {
		if u != "" && !slices.Contains(f.involved, u) {
			f.involved = append(f.involved, u)
		}
	}
	for i := range inc.Timeline {
		e := &inc.Timeline[i]
		switch {
		case e.Type == EntryNotify && e.User != "":
			z := b.zone(e.User)
			local := e.At.In(z.loc)
			p := sentPage{user: e.User, channel: e.Channel, bundle: e.Bundle, offHours: cal != nil && !cal.IsOpen(e.At)}
			if b.night.Contains(local) {
				p.night, p.nightOf = true, b.night.NightOf(local)
			}
			f.pages = append(f.pages, p)
			if !slices.Contains(f.paged, e.User) {
				f.paged = append(f.paged, e.User)
			}
			involve(e.User)
		case e.Type == EntryNotifyFailed && e.User != "":
			f.failed = append(f.failed, sentPage{user: e.User, channel: e.Channel, bundle: e.Bundle})
			involve(e.User)
		case isEscalation(e):
			f.escalated = true
		}
	}
	if f.acked {
		involve(f.ackBy)
	}
	return f
}

// targetVerdict says whether a target was kept: due is when it falls due,
// as the engine arms it (policy.Config.TargetDueAt, and a raise's), and
// set whether the incident has that target at all; done is when it was
// done (zero: not done), ended is when the incident ended without it
// being done (an acknowledge target of an incident resolved
// unacknowledged), asOf is when the report is made.
func targetVerdict(due time.Time, set bool, done, ended, asOf time.Time) int {
	if !set {
		return notDue
	}
	switch {
	case !done.IsZero() && (ended.IsZero() || !done.After(ended)):
		if done.After(due) {
			return missed
		}
		return kept
	case !ended.IsZero():
		if ended.After(due) {
			return missed
		}
		return notDue
	case asOf.After(due):
		return missed
	}
	return notDue
}

func (b *Builder) zone(user string) zone {
	if z, ok := b.zones[user]; ok {
		return z
	}
	return zone{time.UTC, "not in the config: UTC"}
}

// acc accumulates one set's figures.
type acc struct {
	name        string
	fig         Figures
	prio        []PriorityCount
	mtta, mttr  []time.Duration
	ackKept     int
	ackDue      int
	resKept     int
	resDue      int
	escalated   int
	fps         int
	channels    map[string]int
	bundles     map[string]bool
	nights      map[policy.Date]bool
	perWeek     map[int64]int // by the week start's Unix time
	ackedByThem int
}

func newAcc(name string) *acc {
	return &acc{name: name, channels: map[string]int{}}
}

// add counts an incident; for an engineer's set (user set), only their
// own pages count.
func (a *acc) add(f *facts, user string) {
	a.fig.Incidents++
	a.fig.Alerts += f.alerts
	found := false
	for i := range a.prio {
		if a.prio[i].Priority == f.priority {
			a.prio[i].Incidents++
			a.prio[i].Alerts += f.alerts
			found = true
			break
		}
	}
	if !found {
		a.prio = append(a.prio, PriorityCount{Priority: f.priority, Incidents: 1, Alerts: f.alerts})
	}
	if f.acked {
		a.fig.Acknowledged++
		// An engineer's MTTA is their own: the incidents they acknowledged.
		if user == "" || f.ackBy == user {
			a.mtta = append(a.mtta, f.mtta)
		}
	}
	if f.resolved {
		a.fig.Resolved++
		a.mttr = append(a.mttr, f.mttr)
	}
	switch f.ackVerdict {
	case kept:
		a.ackKept++
		a.ackDue++
	case missed:
		a.ackDue++
	}
	switch f.resolveVerdict {
	case kept:
		a.resKept++
		a.resDue++
	case missed:
		a.resDue++
	}
	if f.escalated {
		a.escalated++
	}
	if f.falsePositive {
		a.fps++
	}
	for _, p := range f.pages {
		if user != "" && p.user != user {
			continue
		}
		if a.seenBundle("", p) {
			continue
		}
		a.fig.Pages.Total++
		a.channels[p.channel]++
		if p.offHours {
			a.fig.Pages.OffHours++
		}
		if p.night {
			a.fig.Pages.Night++
			if user != "" {
				if a.nights == nil {
					a.nights = map[policy.Date]bool{}
				}
				a.nights[p.nightOf] = true
			}
		}
	}
	for _, p := range f.failed {
		if (user == "" || p.user == user) && !a.seenBundle("failed/", p) {
			a.fig.Pages.Failed++
		}
	}
	if user != "" && slices.Contains(f.paged, user) {
		if a.perWeek == nil {
			a.perWeek = map[int64]int{}
		}
		a.perWeek[f.week.Unix()]++
	}
}

// seenBundle reports whether the page is part of a storm message the set
// has counted already (one message carried many incidents' pages: it is
// one page, sent or failed), and notes it. kind keeps sent and failed
// apart.
func (a *acc) seenBundle(kind string, p sentPage) bool {
	if p.bundle == "" {
		return false
	}
	key := kind + p.user + "/" + p.channel + "/" + p.bundle
	if a.bundles == nil {
		a.bundles = map[string]bool{}
	}
	if a.bundles[key] {
		return true
	}
	a.bundles[key] = true
	return false
}

// figures finishes the set's figures.
func (a *acc) figures(order []string) Figures {
	f := a.fig
	f.Name = a.name
	f.ByPriority = sortPriorities(a.prio, order)
	f.MTTA = stats(a.mtta)
	f.MTTR = stats(a.mttr)
	f.AckWithinTarget = ratio(a.ackKept, a.ackDue)
	f.ResolvedWithinTarget = ratio(a.resKept, a.resDue)
	f.Escalated = ratio(a.escalated, f.Incidents)
	f.FalsePositives = ratio(a.fps, f.Incidents)
	f.Pages.ByChannel = channelCounts(a.channels)
	return f
}

// sortPriorities orders priority counts as the schemes rank them (P0..P3,
// then SEV-1..SEV-4, then any other by name).
func sortPriorities(ps []PriorityCount, order []string) []PriorityCount {
	out := append([]PriorityCount{}, ps...)
	rank := func(p string) int {
		if i := slices.Index(order, p); i >= 0 {
			return i
		}
		return len(order)
	}
	sort.SliceStable(out, func(i, j int) bool {
		ri, rj := rank(out[i].Priority), rank(out[j].Priority)
		if ri != rj {
			return ri < rj
		}
		return out[i].Priority < out[j].Priority
	})
	return out
}

// channelOrder is how channels are listed: the ladder's order.
var channelOrder = []string{policy.ChannelPush, policy.ChannelSMS, policy.ChannelVoice}

func channelCounts(m map[string]int) []ChannelCount {
	out := make([]ChannelCount, 0, len(m))
	for c, n := range m {
		out = append(out, ChannelCount{c, n})
	}
	rank := func(c string) int {
		if i := slices.Index(channelOrder, c); i >= 0 {
			return i
		}
		return len(channelOrder)
	}
	sort.Slice(out, func(i, j int) bool {
		if ri, rj := rank(out[i].Channel), rank(out[j].Channel); ri != rj {
			return ri < rj
		}
		return out[i].Channel < out[j].Channel
	})
	return out
}

// stats summarises durations: mean (to the millisecond), and the median
// and p90 by nearest rank.
func stats(ds []time.Duration) Stats {
	n := len(ds)
	if n == 0 {
		return Stats{}
	}
	sorted := append([]time.Duration(nil), ds...)
	slices.Sort(sorted)
	var ms int64
	for _, d := range sorted {
		ms += d.Milliseconds()
	}
	mean := time.Duration((ms+int64(n)/2)/int64(n)) * time.Millisecond
	return Stats{Count: n, Mean: Seconds(mean), Median: Seconds(nearestRank(sorted, 50)), P90: Seconds(nearestRank(sorted, 90))}
}

// nearestRank is the p-th percentile of sorted values: the smallest value
// with at least p% of the values at or below it.
func nearestRank(sorted []time.Duration, p int) time.Duration {
	k := (p*len(sorted) + 99) / 100
	return sorted[max(k, 1)-1]
}

// weekAcc accumulates one report week.
type weekAcc struct {
	incidents, alerts, escalated, fps, pages, night int
	mtta                                            []time.Duration
	bundles                                         map[string]bool
}

func (w *weekAcc) add(f *facts) {
	w.incidents++
	w.alerts += f.alerts
	if f.acked {
		w.mtta = append(w.mtta, f.mtta)
	}
	if f.escalated {
		w.escalated++
	}
	if f.falsePositive {
		w.fps++
	}
	for _, p := range f.pages {
		if p.bundle != "" {
			key := p.user + "/" + p.channel + "/" + p.bundle
			if w.bundles == nil {
				w.bundles = map[string]bool{}
			}
			if w.bundles[key] {
				continue
			}
			w.bundles[key] = true
		}
		w.pages++
		if p.night {
			w.night++
		}
	}
}

// Report finishes the report. The builder takes no more incidents after it.
func (b *Builder) Report() *Report {
	b.done = true
	cfg := b.cfg
	order := append(append([]string{}, policy.SchemeP.Priorities...), policy.SchemeSEV.Priorities...)
	r := &Report{
		From: b.from, To: b.to, AsOf: b.asOf,
		Week:                b.week.String(),
		TimeZone:            b.week.Location().String(),
		Night:               b.night.String(),
		FalsePositiveWithin: policy.Duration(b.fpWithin).String(),
		Services:            []Figures{},
		Schedules:           []Figures{},
		Engineers:           []Engineer{},
		Weeks:               []Week{},
		Fairness:            []Fairness{},
	}
	if b.week.From != "" {
		r.Week += " (" + b.week.From + ")"
	}
	targets := &cfg.Reports.Targets
	r.Goals = goalValues(targets)
	r.Total = b.total.figures(order)
	r.Total.Name = ""
	r.Total.Checks = incidentChecks(&r.Total, targets)
	for i := range cfg.Services {
		if a := b.services[cfg.Services[i].Name]; a != nil {
			f := a.figures(order)
			f.Checks = incidentChecks(&f, targets)
			r.Services = append(r.Services, f)
		}
	}
	var gone []string
	for name := range b.services {
		if cfg.Service(name) == nil {
			gone = append(gone, name)
		}
	}
	sort.Strings(gone)
	for _, name := range gone {
		f := b.services[name].figures(order)
		f.Checks = incidentChecks(&f, targets)
		r.Services = append(r.Services, f)
		note := fmt.Sprintf("service %q is not in the config: its %d incident(s) are counted without targets or business hours", name, b.unknownSvc[name])
		if b.pay != nil {
			// Renamed or removed since, it may have been a paid service:
			// its incidents' time is in no pay week, and the payroll CSV
			// cannot say so.
			ids := strings.Join(b.unknownIDs[name], " ")
			if more := b.unknownSvc[name] - len(b.unknownIDs[name]); more > 0 {
				ids += fmt.Sprintf(" and %d more", more)
			}
			note += fmt.Sprintf(", and earn no pay (no compensation policy is known for them): if the service was paid, pay them by hand (%s)", ids)
		}
		r.Notes = append(r.Notes, note)
	}
	for i := range cfg.Schedules {
		if a := b.schedules[cfg.Schedules[i].Name]; a != nil {
			f := a.figures(order)
			f.Checks = incidentChecks(&f, targets)
			r.Schedules = append(r.Schedules, f)
		}
	}

	// Weeks: every report week that overlaps the period, empty ones too.
	var weekStarts []time.Time
	for s := b.week.Start(b.from); s.Before(b.to); s = b.week.Next(s) {
		weekStarts = append(weekStarts, s)
	}
	for _, s := range weekStarts {
		w := Week{Start: s, End: b.week.Next(s)}
		if a := b.weeks[s.Unix()]; a != nil {
			w.Incidents, w.Alerts, w.Escalated, w.FalsePositives = a.incidents, a.alerts, a.escalated, a.fps
			w.Pages, w.NightPages, w.MTTA = a.pages, a.night, stats(a.mtta)
		}
		r.Weeks = append(r.Weeks, w)
	}

	// Fairness over the period, from the schedules' own rules.
	perUser := map[string]int{}
	for i := range cfg.Schedules {
		s := &cfg.Schedules[i]
		for _, p := range s.FairnessProblems(b.from, b.to) {
			fr := Fairness{Schedule: s.Name, Rule: fmt.Sprintf("schedules[%s].fairness[%d]", s.Name, p.Rule), User: p.User,
				Name: cfg.UserName(p.User), From: p.From, Until: p.Until, Limit: p.Limit,
				Text: p.Describe(s, cfg.UserName)}
			r.Fairness = append(r.Fairness, fr)
			perUser[p.User]++
		}
	}

	// Engineers, in config order.
	limit := targets.AlertsPerEngineerWeek
	var allPages, allNight int
	allPages, allNight = r.Total.Pages.Total, r.Total.Pages.Night
	worstWeek, worstWho, over := 0, "", 0
	guessed := map[string]bool{} // users whose zone the report must name
	if b.pay != nil {
		for _, p := range b.pay.items {
			guessed[p.User] = true
		}
	}
	for i := range cfg.Users {
		u := &cfg.Users[i]
		a := b.engineers[u.ID]
		if a == nil {
			continue
		}
		z := b.zone(u.ID)
		e := Engineer{User: u.ID, Figures: a.figures(order), TimeZone: z.loc.String(), ZoneFrom: z.from,
			AcknowledgedByThem: a.ackedByThem, NightsInterrupted: len(a.nights), FairnessProblems: perUser[u.ID]}
		e.Name = u.DisplayName()
		if allPages > 0 {
			e.ShareOfPages = 100 * float64(e.Pages.Total) / float64(allPages)
		}
		if allNight > 0 {
			e.ShareOfNightPages = 100 * float64(e.Pages.Night) / float64(allNight)
		}
		e.AlertsPerWeek = []WeekCount{}
		for _, s := range weekStarts {
			n := a.perWeek[s.Unix()]
			e.AlertsPerWeek = append(e.AlertsPerWeek, WeekCount{Week: s, Alerts: n})
			e.MaxAlertsInWeek = max(e.MaxAlertsInWeek, n)
			if limit != nil && limit.Op() != "" && !limit.Met(float64(n)) {
				e.WeeksOverLimit++
			}
		}
		if e.MaxAlertsInWeek > worstWeek {
			worstWeek, worstWho = e.MaxAlertsInWeek, u.ID
		}
		over += e.WeeksOverLimit
		e.Checks = engineerChecks(&e, targets, cfg)
		if e.Pages.Total > 0 {
			guessed[u.ID] = true
		}
		r.Engineers = append(r.Engineers, e)
	}
	// Whose clock is a guess, where it matters: the people paged (their
	// nights) and the people paid (their billable time), paged or not.
	for i := range cfg.Users {
		u := &cfg.Users[i]
		if z := b.zone(u.ID); z.from != "user" && guessed[u.ID] {
			what := "nights are"
			if b.pay != nil {
				what = "nights and billable time are"
			}
			r.Notes = append(r.Notes, fmt.Sprintf("%s (%s) has no time_zone: %s counted in %s (%s)", u.DisplayName(), u.ID, what, z.loc, z.from))
		}
	}
	if limit != nil && limit.Op() != "" {
		c := Check{Figure: "alerts_per_engineer_week", Target: limit.String(), Source: "reports.targets.alerts_per_engineer_week",
			Value: fmt.Sprintf("%d", worstWeek), Status: StatusMet}
		if worstWho != "" {
			c.Value = fmt.Sprintf("%d (%s)", worstWeek, worstWho)
		}
		if over > 0 {
			c.Status = StatusMissed
		}
		if len(r.Engineers) == 0 {
			c.Status = StatusNoData
		}
		r.Total.Checks = append(r.Total.Checks, c)
	}
	if len(r.Fairness) > 0 || hasFairness(cfg) {
		c := Check{Figure: "consecutive_weeks", Target: "schedules' fairness rules", Source: "schedules[].fairness",
			Value: stretches(len(r.Fairness)), Status: StatusMet}
		if len(r.Fairness) > 0 {
			c.Status = StatusMissed
		}
		r.Total.Checks = append(r.Total.Checks, c)
	}
	if b.pay != nil {
		// Time on call counts up to now: a week not yet over is paid for
		// what was served of it.
		until := b.to
		if b.asOf.Before(until) {
			until = b.asOf
		}
		b.pay.addOnCall(cfg, b.week, b.from, until)
		r.Pay = b.pay.finish(cfg)
		if !b.keptFrom.IsZero() && b.from.Before(b.keptFrom) && len(r.Pay.OnCallRotations) > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("overrides made at run time that ended before %s may no longer be kept (the store drops them %d days after they end): time on call before then may be counted without them",
				b.keptFrom.In(b.week.Location()).Format("Mon 2006-01-02 15:04"), int(b.asOf.Sub(b.keptFrom).Round(24*time.Hour)/(24*time.Hour))))
		}
	}
	return r
}

func hasFairness(cfg *policy.Config) bool {
	for i := range cfg.Schedules {
		if len(cfg.Schedules[i].Fairness) > 0 {
			return true
		}
	}
	return false
}

// incidentChecks holds a set's incident figures to the goals.
func incidentChecks(f *Figures, t *policy.ReportTargets) []Check {
	var out []Check
	share := func(name string, g *policy.Goal, r Ratio) {
		if g == nil || g.Op() == "" {
			return
		}
		c := Check{Figure: name, Target: g.String(), Source: "reports.targets." + name, Value: formatPercent(r.Percent)}
		switch {
		case r.Of == 0:
			c.Status, c.Value = StatusNoData, "-"
		case g.Met(r.Percent):
			c.Status = StatusMet
		default:
			c.Status = StatusMissed
		}
		out = append(out, c)
	}
	mean := func(name string, g *policy.Goal, s Stats) {
		if g == nil || g.Op() == "" {
			return
		}
		c := Check{Figure: name, Target: g.String(), Source: "reports.targets." + name, Value: FormatDuration(time.Duration(s.Mean))}
		switch {
		case s.Count == 0:
			c.Status, c.Value = StatusNoData, "-"
		case g.Met(time.Duration(s.Mean).Seconds()):
			c.Status = StatusMet
		default:
			c.Status = StatusMissed
		}
		out = append(out, c)
	}
	share("ack_within_target", t.AckWithinTarget, f.AckWithinTarget)
	share("resolved_within_target", t.ResolvedWithinTarget, f.ResolvedWithinTarget)
	mean("mtta", t.MTTA, f.MTTA)
	mean("mttr", t.MTTR, f.MTTR)
	share("false_positive_rate", t.FalsePositiveRate, f.FalsePositives)
	share("escalation_rate", t.EscalationRate, f.Escalated)
	return out
}

// engineerChecks holds a person's weeks to the alert limit and their
// stretches on call to the fairness rules.
func engineerChecks(e *Engineer, t *policy.ReportTargets, cfg *policy.Config) []Check {
	var out []Check
	if g := t.AlertsPerEngineerWeek; g != nil && g.Op() != "" {
		c := Check{Figure: "alerts_per_engineer_week", Target: g.String(), Source: "reports.targets.alerts_per_engineer_week",
			Value: fmt.Sprintf("%d", e.MaxAlertsInWeek), Status: StatusMet}
		if e.WeeksOverLimit > 0 {
			c.Status = StatusMissed
		}
		out = append(out, c)
	}
	if hasFairness(cfg) {
		c := Check{Figure: "consecutive_weeks", Target: "schedules' fairness rules", Source: "schedules[].fairness",
			Value: stretches(e.FairnessProblems), Status: StatusMet}
		if e.FairnessProblems > 0 {
			c.Status = StatusMissed
		}
		out = append(out, c)
	}
	return out
}

// FormatDuration writes a duration the way reports show it: to the second
// under an hour, to the minute from an hour on, zero units left out: "45s",
// "20m", "22m44s", "1h", "3h18m", "26h".
func FormatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d >= time.Hour:
		d = d.Round(time.Minute)
		if d%time.Hour == 0 {
			return fmt.Sprintf("%dh", int(d/time.Hour))
		}
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	case d >= time.Minute:
		if d%time.Minute == 0 {
			return fmt.Sprintf("%dm", int(d/time.Minute))
		}
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	}
	return fmt.Sprintf("%ds", int(d/time.Second))
}

// formatPercent writes a share to one decimal: "85.7%", "100%".
func formatPercent(p float64) string {
	s := fmt.Sprintf("%.1f", p)
	return strings.TrimSuffix(s, ".0") + "%"
}

// goalValues lists the config's goals.
func goalValues(t *policy.ReportTargets) []GoalValue {
	out := []GoalValue{}
	units := map[policy.GoalKind]string{policy.GoalPercent: "percent", policy.GoalDuration: "seconds", policy.GoalCount: "count"}
	for _, g := range []struct {
		name string
		goal *policy.Goal
	}{
		{"ack_within_target", t.AckWithinTarget},
		{"resolved_within_target", t.ResolvedWithinTarget},
		{"mtta", t.MTTA},
		{"mttr", t.MTTR},
		{"alerts_per_engineer_week", t.AlertsPerEngineerWeek},
		{"false_positive_rate", t.FalsePositiveRate},
		{"escalation_rate", t.EscalationRate},
	} {
		if g.goal != nil && g.goal.Op() != "" {
			out = append(out, GoalValue{Figure: g.name, Op: g.goal.Op(), Value: g.goal.Value(), Unit: units[g.goal.Kind()], Text: g.goal.String()})
		}
	}
	return out
}

// stretches says how many stretches on call went over a fairness rule.
func stretches(n int) string {
	return fmt.Sprintf("%d %s over", n, plural(n, "stretch", "stretches"))
}

// plural picks the word for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
