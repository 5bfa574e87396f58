package policy

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// SimOptions describe one alert and what the humans do about it, for
// Simulate. Zero durations mean "never".
type SimOptions struct {
	Service      string
	Labels       map[string]string
	At           time.Time
	For          time.Duration // how far to run; default 24h
	AckAfter     time.Duration
	AckBy        string // user id; default the first person paged at the current level
	ResolveAfter time.Duration
	UpdateEvery  time.Duration // status updates from the acknowledger, every so often after the ack
}

// SimEvent is one line of a simulated timeline.
type SimEvent struct {
	At            time.Time `json:"at"`
	OffsetSeconds int64     `json:"offset_seconds"`
	Type          string    `json:"type"`
	Level         int       `json:"level"`
	LevelName     string    `json:"level_name,omitempty"`
	User          string    `json:"user,omitempty"`
	Name          string    `json:"name,omitempty"`
	Channel       string    `json:"channel,omitempty"`
	Detail        string    `json:"detail,omitempty"`
}

// SimResult is the route an alert gets and the timeline it causes.
type SimResult struct {
	Route    Route      `json:"-"`
	Priority string     `json:"priority"`
	Urgency  string     `json:"urgency"`
	Rule     string     `json:"rule"`
	Service  string     `json:"service"`
	Policy   string     `json:"escalation_policy"`
	Events   []SimEvent `json:"events"`
	// Compensation is what the acknowledger earns, when the incident was
	// resolved within the run and the service has a compensation policy.
	Compensation *Pay `json:"compensation,omitempty"`
}

// DefaultSimDuration is how far Simulate runs when For is zero.
const DefaultSimDuration = 24 * time.Hour

// Simulate runs an alert through the escalation machine on a virtual clock:
// it triggers at At, then hands the machine every deadline in time order and
// the human actions at their times. Deadlines due at the same instant as a
// human action come first: an acknowledgement at exactly 2m arrives after
// the 2m SMS has gone out, as it would in the daemon. A status update is the
// exception: one due as the status-update clock runs out is in time (the
// seeds' "no status update in 30 minutes" is met by an update at 30).
//
// The config's maintenance windows act as in the daemon: an alert a window
// covers is recorded and pages nobody until the window ends; a window that
// starts during the run stops the pending pages (it is in force from its
// start: a page due then is not sent); at a window's end another window
// covering the alert then holds it on. Windows made at run time through
// the API are the daemon's alone: Simulate cannot know them.
func (c *Config) Simulate(o SimOptions) (*SimResult, error) {
	svc, err := c.PickService(o.Service)
	if err != nil {
		return nil, err
	}
	if o.For <= 0 {
		o.For = DefaultSimDuration
	}
	if o.AckBy != "" && c.User(o.AckBy) == nil {
		return nil, fmt.Errorf("the acknowledger %q is not a user of the config", o.AckBy)
	}
	route := c.Route(svc, o.Labels, o.At)
	res := &SimResult{Route: route, Priority: route.Priority, Urgency: route.Urgency, Rule: route.Rule, Service: svc.Name, Policy: svc.EscalationPolicy}
	eng := &Engine{Config: c}
	end := o.At.Add(o.For)

	var firstPaged string
	record := func(acts []Action) {
		for _, a := range acts {
			ev := SimEvent{At: a.At, OffsetSeconds: int64(a.At.Sub(o.At) / time.Second), Type: string(a.Kind),
				Level: a.Level + 1, LevelName: a.LevelName, User: a.User, Channel: a.Channel, Detail: a.Detail}
			if u := c.User(a.User); u != nil {
				ev.Name = u.DisplayName()
			}
			if a.Kind == ActionNotify && firstPaged == "" {
				firstPaged = a.User
			}
			res.Events = append(res.Events, ev)
		}
	}

	sets := []map[string]string{o.Labels}
	inc, acts, err := eng.Apply(Incident{ID: "simulated"}, Event{Kind: EventTrigger, Route: &route, Hold: c.MaintenanceHold(svc.Name, sets, o.At)}, o.At)
	if err != nil {
		return nil, err
	}
	record(acts)

	type human struct {
		at   time.Time
		kind EventKind
	}
	var humans []human
	if o.AckAfter > 0 {
		humans = append(humans, human{o.At.Add(o.AckAfter), EventAcknowledge})
	}
	if o.ResolveAfter > 0 {
		humans = append(humans, human{o.At.Add(o.ResolveAfter), EventResolve})
	}
	sort.SliceStable(humans, func(i, j int) bool { return humans[i].at.Before(humans[j].at) })
	// Status updates start after the acknowledgement: pagerd can only be told
	// of them by someone working the incident.
	var nextUpdate time.Time
	if o.UpdateEvery > 0 && o.AckAfter > 0 {
		nextUpdate = o.At.Add(o.AckAfter + o.UpdateEvery)
	}

	starts := c.maintenanceStarts(svc.Name, sets, o.At, end)

	for hi, wi := 0, 0; inc.Status != StatusResolved; {
		const none, deadline, person, update, window = 0, 1, 2, 3, 4
		kind, next := none, end.Add(time.Nanosecond)
		d, ok := inc.Next()
		if ok {
			kind, next = deadline, d.At
		}
		// A window starting as a page is due stops it; as another window
		// ends, that end comes first and hands the incident over.
		if wi < len(starts) && (starts[wi].From().Before(next) || starts[wi].From().Equal(next) && d.Kind != DeadlineMaintenance) {
			kind, next = window, starts[wi].From()
		}
		// A person acting as a deadline falls due comes first: a target is
		// "within", so an acknowledgement at 5 minutes meets a 5-minute
		// target and one at 15 minutes stops a 15-minute level before it
		// escalates, as reports count it and as the daemon does it (its
		// dispatcher never fires a deadline before it is due).
		if hi < len(humans) && (humans[hi].at.Before(next) || humans[hi].at.Equal(next) && kind == deadline) {
			kind, next = person, humans[hi].at
		}
		// A status update due with a deadline comes first: "no status
		// update provided in 30 minutes" is met by one at 30 minutes, so
		// updates every 30 minutes escalate nothing.
		if !nextUpdate.IsZero() && !nextUpdate.After(next) {
			kind, next = update, nextUpdate
		}
		if kind == none || next.After(end) {
			break
		}
		switch kind {
		case deadline:
			ev := Event{Kind: EventDeadline, Deadline: d.ID}
			if d.Kind == DeadlineMaintenance {
				ev.Then = c.MaintenanceHold(svc.Name, sets, next)
			}
			inc, acts, err = eng.Apply(inc, ev, next)
		case window:
			inc, acts, err = eng.Apply(inc, Event{Kind: EventHold, Hold: starts[wi].Hold()}, next)
			wi++
		case person:
			h := humans[hi]
			hi++
			actor := o.AckBy
			if actor == "" {
				actor = c.firstAtLevel(svc, inc, firstPaged)
			}
			inc, acts, err = eng.Apply(inc, Event{Kind: h.kind, Actor: actor}, next)
		case update:
			nextUpdate = nextUpdate.Add(o.UpdateEvery)
			inc, acts, err = eng.Apply(inc, Event{Kind: EventStatusUpdate, Actor: inc.AcknowledgedBy, Message: "simulated update"}, next)
		}
		if errors.Is(err, ErrResolved) {
			err = nil
		}
		if err != nil {
			return nil, err
		}
		record(acts)
	}
	if cp := c.CompensationFor(svc); cp != nil && inc.Status == StatusResolved && inc.AcknowledgedBy != "" {
		pay := c.Pay(cp, inc.Priority, inc.AcknowledgedBy, inc.TriggeredAt, inc.ResolvedAt)
		res.Compensation = &pay
	}
	return res, nil
}

// maintenanceStarts are the config's windows that start after from, no
// later than to, and cover an alert of the service with these label sets,
// in the order they start.
func (c *Config) maintenanceStarts(service string, sets []map[string]string, from, to time.Time) []*MaintenanceWindow {
	var out []*MaintenanceWindow
	for i := range c.Maintenance {
		w := &c.Maintenance[i]
		if w.From().After(from) && !w.From().After(to) && w.Coverage().Covers(service, sets) {
			out = append(out, w)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].From().Before(out[j].From()) })
	return out
}

// firstAtLevel is who acknowledges in a simulation when AckBy is not
// set: the first person paged at the incident's current level.
func (c *Config) firstAtLevel(svc *Service, inc Incident, fallback string) string {
	p := c.Policy(svc.EscalationPolicy)
	r := &run{c: c, svc: svc, pol: p, inc: inc}
	if us := r.levelUsers(inc.Level, inc.LevelStartedAt); len(us) > 0 {
		return us[0]
	}
	return fallback
}

// ErrServiceNotNamed is PickService's answer when no name was given and the
// config has several services: the caller says how to name one.
var ErrServiceNotNamed = errors.New("name one")

// PickService finds the named service, or the only one when no name is
// given.
func (c *Config) PickService(name string) (*Service, error) {
	if name != "" {
		s := c.Service(name)
		if s == nil {
			return nil, fmt.Errorf("no service %q is defined", name)
		}
		return s, nil
	}
	if len(c.Services) == 1 {
		return &c.Services[0], nil
	}
	names := make([]string, 0, len(c.Services))
	for _, s := range c.Services {
		names = append(names, s.Name)
	}
	return nil, fmt.Errorf("the config has %d services %v: %w", len(c.Services), names, ErrServiceNotNamed)
}
