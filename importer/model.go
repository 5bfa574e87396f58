package importer

import (
	"fmt"
	"strings"
	"time"
)

// The vendor-neutral model: what each vendor's JSON is read into, and what
// the builder maps onto pagerd. References between entities are vendor keys
// (ids, and the names or usernames vendors also refer by).

// ref names a source entity in the report: vendor kind "name" (id ...),
// optionally inside another entity.
type ref struct {
	Kind, Name, ID string
	Parent         *ref
}

func (r ref) String() string {
	s := r.Kind
	if r.Name != "" {
		s += fmt.Sprintf(" %q", r.Name)
	}
	if r.ID != "" && r.ID != r.Name {
		s += " (id " + r.ID + ")"
	}
	if r.Parent != nil {
		return r.Parent.String() + ", " + s
	}
	return s
}

// in is the ref of an entity inside r.
func (r ref) in(kind, name, id string) ref {
	p := r
	return ref{Kind: kind, Name: name, ID: id, Parent: &p}
}

// source is one vendor's configuration in the neutral model.
type source struct {
	people    []*person
	schedules []*schedule
	ladders   []*ladder
	services  []*service
}

// person is someone who can be paged.
type person struct {
	ref ref
	// keys are what other entities refer to the person by.
	keys []string
	// hint is the pagerd id wanted (an email's local part, a username).
	hint            string
	name, email, tz string
	// slackUser is the person's Slack member id, when the source links
	// them to Slack.
	slackUser string
	contacts  []contact
	// high and low are the person's own ladders, if the source has them.
	high, low []step
}

// contact is one way to page the person: channel "sms" or "voice" with an
// E.164 number (already normalised), "email" with an address, or "slack"
// with a Slack member id (the builder checks those two).
type contact struct {
	channel, address string
	ref              ref
}

// step sends on a channel some time after the person is paged.
type step struct {
	after   time.Duration
	channel string
}

// schedule is who is on call: layers of rotations, the first layer taking
// precedence over the ones after it (PagerDuty layers, Grafana OnCall
// levels); within a layer every rotation is on call at once (Opsgenie's
// rotations). Overrides replace the holders of some rotations for a span.
type schedule struct {
	ref       ref
	keys      []string
	name, tz  string
	layers    [][]*rotation
	overrides []*override
	// disabled schedules page nobody at the source; they are reported and
	// left out.
	disabled bool
	// final, when the export has it, is who the source itself says is on
	// call over a span (PagerDuty's final schedule), layers and overrides
	// applied: the import checks its schedule against it.
	final []finalEntry
}

// finalEntry is one person on call, by key, from an instant until another,
// as the source rendered its schedule.
type finalEntry struct {
	person      string
	from, until time.Time
}

// rotation is turns of fixed length handed from one group of people to the
// next: turn k from start+k·length belongs to groups[k mod len(groups)].
type rotation struct {
	ref  ref
	keys []string
	name string
	// start is the instant group 0's first turn begins.
	start time.Time
	// from, when set, is when the rotation is first on call, if that is not
	// start (PagerDuty's virtual start only sets the phase of the turns).
	from time.Time
	// unit is "week", "day" or "hour"; length counts them.
	unit   string
	length int
	// groups are the people of each turn, in order (one person each for
	// Opsgenie and PagerDuty); an empty group is a turn with nobody.
	groups [][]string
	// restriction, when set, says in words when the rotation is on call
	// ("Mon-Fri 09:00-17:00"): it is off the rest of the time.
	restriction string
	// windows are that restriction as windows of the week on the
	// schedule's wall clock. A rotation with a restriction and no windows
	// is one whose restriction pagerd cannot express; the vendor reader
	// says why in unmappable.
	windows []window
	// end, when set, is when the rotation stops.
	end time.Time
	// unmappable, when set, is why the vendor file already knows this
	// rotation cannot be carried over.
	unmappable string
}

// window is a span of the week in which a restricted rotation is on call,
// in wall-clock minutes from midnight in the schedule's zone (end may be
// 1440, midnight ending the day): on each of days (every day when none)
// from start to end, running past midnight when end is at or before start;
// or, weekly, one span from startDay at start to endDay at end.
type window struct {
	weekly           bool
	days             []time.Weekday
	startDay, endDay time.Weekday
	start, end       int
}

// weeklyWindow is the window of the week that opens on day at minute
// start (from that day's midnight) and lasts length minutes, shorter than
// a week.
func weeklyWindow(day time.Weekday, start, length int) window {
	startAbs := int(day)*minutesPerDay + start
	endAbs := startAbs + length
	endDay := time.Weekday((endAbs / minutesPerDay) % 7)
	end := endAbs % minutesPerDay
	startDay := time.Weekday(startAbs / minutesPerDay % 7)
	if end == 0 && (endDay+6)%7 != startDay {
		// Midnight ending the day before reads better than 00:00 (but a
		// window of one day, from its midnight to the next, is written to
		// the next day: pagerd reads a span from a day to the same day as
		// the whole week).
		endDay, end = (endDay+6)%7, minutesPerDay
	}
	return window{weekly: true, startDay: startDay, endDay: endDay, start: startAbs % minutesPerDay, end: end}
}

const minutesPerDay = 24 * 60

// override puts one person on call instead of the rotations named (every
// rotation of the schedule when none is).
type override struct {
	ref         ref
	person      string
	from, until time.Time
	rotations   []string
	reason      string
	// rank orders overrides that overlap: the higher one holds the time
	// they share, as at the source; wins says why, for the report.
	rank int
	wins string
}

// ladder is an escalation: rungs paged at offsets from the incident's
// creation while nobody acknowledges, then over again repeat times, from
// restartAt (counted from the creation, as the rungs are, so that it
// stays put when the source's last rules are not imported); unresolved
// rungs page at their offset while the incident is open, acknowledged or
// not.
type ladder struct {
	ref        ref
	keys       []string
	name       string
	rungs      []rung
	repeat     int
	restartAt  time.Duration
	unresolved []rung
}

// rung is one step of a ladder.
type rung struct {
	ref     ref
	at      time.Duration
	targets []target
}

// target is a schedule (whoever is on call in it) or a person, by key.
type target struct {
	schedule, person string
}

// service is where alerts arrive.
type service struct {
	ref         ref
	name        string
	description string
	// ladder is the key of the escalation it uses.
	ladder string
	// opsgeniePriorities: alerts carry an Opsgenie priority label, mapped
	// to the scheme by rules.
	opsgeniePriorities bool
	// pagerDutyKey: senders use a PagerDuty routing key.
	pagerDutyKey bool
	// urgency, when set, is the urgency per priority rank.
	urgency *urgencyRule
	// senders are the source's integrations: what must be pointed at pagerd.
	senders []ref
	// heartbeats are the source's heartbeats of this service.
	heartbeats []heartbeat
}

// heartbeat is a dead-man's switch of a service: pinged every interval,
// its incident raised with an Opsgenie priority label when it is missed.
type heartbeat struct {
	ref      ref
	name     string
	interval time.Duration
	priority string
}

// urgencyRule is PagerDuty's incident urgency: one urgency per priority
// rank, or one during support hours and one outside them.
type urgencyRule struct {
	// always[rank] is the urgency when there are no support hours.
	always [4]string
	// inHours and offHours apply with a calendar.
	inHours, offHours [4]string
	calendar          *calendar
}

// calendar is support hours: days and a daily span in a time zone.
type calendar struct {
	tz         string
	days       []time.Weekday
	start, end string
}

// keyIndex finds entities by any of their keys.
type keyIndex[T any] map[string]T

func (k keyIndex[T]) add(keys []string, v T) {
	for _, key := range keys {
		if key == "" {
			continue
		}
		if _, ok := k[key]; !ok {
			k[key] = v
		}
	}
}

// get finds the entity key names: as it is, else in lower case, which
// lowerKeys indexed (a rotation naming a participant "Ann@Example.com",
// a user "ann@example.com").
func (k keyIndex[T]) get(key string) T {
	if v, ok := k[key]; ok {
		return v
	}
	return k[strings.ToLower(key)]
}

// lowerKeys adds lower-cased copies of keys (emails and usernames compare
// without case): looked up through get.
func lowerKeys(keys ...string) []string {
	out := append([]string(nil), keys...)
	for _, k := range keys {
		if l := strings.ToLower(k); l != k {
			out = append(out, l)
		}
	}
	return out
}
