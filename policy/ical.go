package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Feed says which shifts a calendar feed holds: those of one schedule, of
// one person, or both limits at once, that overlap [From, Until).
type Feed struct {
	// Schedule limits the feed to one schedule ("" for every schedule).
	Schedule string
	// User limits the feed to one person's shifts ("" for everyone's).
	User string
	// From and Until bound the shifts shown; a shift that overlaps them is
	// shown whole, so its event does not change as the range moves on.
	From, Until time.Time
	// Stamp is when the feed is rendered: every event's DTSTAMP.
	Stamp time.Time
	// Revisions are the events' revisions by UID, as the server of a
	// feed that calendar programs subscribe to keeps them (from the
	// events' Digest, FeedEvents): each event then carries its SEQUENCE
	// and LAST-MODIFIED, so a program that has it updates it when it
	// changes (an override that cuts a shift short keeps its UID). Nil,
	// in a one-off export, writes neither.
	Revisions map[string]Revision
}

// Revision is how often an event of a feed changed and when it last did:
// its SEQUENCE (0 as first published, one more at each change of what it
// says, RFC 5545 3.8.7.4) and LAST-MODIFIED.
type Revision struct {
	Sequence int
	Modified time.Time
}

// FeedEvent is an event of a feed as its server tracks its revisions: its
// UID, a Digest of everything it says but its UID and stamps (it differs
// once any of that changes), and its end.
type FeedEvent struct {
	UID    string
	Digest string
	Until  time.Time
}

// icalUTC is how iCalendar writes an instant in UTC (RFC 5545 3.3.5, form 2).
const icalUTC = "20060102T150405Z"

// feedShift is a shift with the schedule it belongs to, for ordering.
type feedShift struct {
	Shift
	sched, tier int
}

// ICalendar renders the shifts a feed selects, overrides applied, as an
// RFC 5545 calendar: one VEVENT per shift (and, in a feed not limited to
// one person, per gap in which nobody holds a tier), with times in UTC (calendar
// programs show them in their own zone), a UID that depends only on the
// schedule, tier, person and start (so it is the same on every render and
// an override that cuts a shift short updates its event; with
// f.Revisions, a SEQUENCE that rises at each such change, which calendar
// programs need to take it), text escaped and
// lines folded at 75 octets, each ending in CRLF. Subscribers' programs
// poll the feed, so the events are TRANSP:TRANSPARENT: being on call does
// not make anyone busy.
func (c *Config) ICalendar(f Feed) (string, error) {
	events, err := c.feedEvents(f)
	if err != nil {
		return "", err
	}
	var w icalWriter
	w.prop("BEGIN", "VCALENDAR")
	w.prop("VERSION", "2.0")
	w.prop("PRODID", "-//pagerd//pagerd on-call schedule//EN")
	w.prop("CALSCALE", "GREGORIAN")
	w.prop("METHOD", "PUBLISH")
	w.prop("X-WR-CALNAME", icalText(c.feedName(f)))
	if f.Schedule != "" {
		w.prop("X-WR-TIMEZONE", c.Schedule(f.Schedule).Location().String())
	}
	stamp := f.Stamp.UTC().Format(icalUTC)
	for _, ev := range events {
		w.prop("BEGIN", "VEVENT")
		w.prop("UID", ev.uid)
		w.prop("DTSTAMP", stamp)
		if f.Revisions != nil {
			rev := f.Revisions[ev.uid]
			w.prop("SEQUENCE", fmt.Sprint(rev.Sequence))
			if !rev.Modified.IsZero() {
				w.prop("LAST-MODIFIED", rev.Modified.UTC().Format(icalUTC))
			}
		}
		for _, p := range ev.props {
			w.prop(p[0], p[1])
		}
		w.prop("END", "VEVENT")
	}
	if len(events) == 0 {
		// A calendar holds at least one component (RFC 5545 3.6): a feed
		// with no shift in its range carries the UTC zone instead.
		for _, l := range []string{"BEGIN:VTIMEZONE", "TZID:UTC", "BEGIN:STANDARD", "DTSTART:19700101T000000",
			"TZOFFSETFROM:+0000", "TZOFFSETTO:+0000", "TZNAME:UTC", "END:STANDARD", "END:VTIMEZONE"} {
			w.line(l)
		}
	}
	w.prop("END", "VCALENDAR")
	return w.b.String(), nil
}

// FeedEvents are the events ICalendar writes for f, for its server to
// keep their revisions (Feed.Revisions).
func (c *Config) FeedEvents(f Feed) ([]FeedEvent, error) {
	events, err := c.feedEvents(f)
	if err != nil {
		return nil, err
	}
	out := make([]FeedEvent, 0, len(events))
	for _, ev := range events {
		h := sha256.New()
		for _, p := range ev.props {
			fmt.Fprintf(h, "%s:%s\n", p[0], p[1])
		}
		out = append(out, FeedEvent{UID: ev.uid, Digest: hex.EncodeToString(h.Sum(nil)[:16]), Until: ev.until})
	}
	return out, nil
}

// icalEvent is one VEVENT of a feed: its UID, the properties that say
// what it is (all but UID, DTSTAMP, SEQUENCE and LAST-MODIFIED), in
// order, and its end.
type icalEvent struct {
	uid   string
	props [][2]string
	until time.Time
}

// feedEvents are the events of the shifts f selects, in order.
func (c *Config) feedEvents(f Feed) ([]icalEvent, error) {
	if f.Schedule != "" && c.Schedule(f.Schedule) == nil {
		return nil, fmt.Errorf("no schedule %q is defined", f.Schedule)
	}
	if f.User != "" && c.User(f.User) == nil {
		return nil, fmt.Errorf("no user %q is defined", f.User)
	}
	if !f.Until.After(f.From) {
		return nil, errors.New("the feed's range is empty: until must be after from")
	}
	var shifts []feedShift
	for i := range c.Schedules {
		s := &c.Schedules[i]
		if f.Schedule != "" && s.Name != f.Schedule {
			continue
		}
		for j := range s.Tiers {
			for _, sh := range s.wholeSpans(&s.Tiers[j], f.From, f.Until) {
				if sh.User != "" && (f.User == "" || sh.User == f.User) || sh.User == "" && f.User == "" {
					shifts = append(shifts, feedShift{sh, i, j})
				}
			}
		}
	}
	sort.SliceStable(shifts, func(a, b int) bool {
		x, y := shifts[a], shifts[b]
		switch {
		case !x.From.Equal(y.From):
			return x.From.Before(y.From)
		case x.sched != y.sched:
			return x.sched < y.sched
		}
		return x.tier < y.tier
	})
	var events []icalEvent
	for _, sh := range shifts {
		s := &c.Schedules[sh.sched]
		tier := &s.Tiers[sh.tier]
		if sh.From.Truncate(time.Second).Equal(sh.Until.Truncate(time.Second)) {
			// Inside one second (an imported override's piece, written
			// to the nanosecond): iCalendar times are whole seconds and
			// an event ends after it starts, so it is none, and the
			// shifts on either side of it meet.
			continue
		}
		if sh.User == "" {
			events = append(events, gap(s, tier, sh.Shift, f))
			continue
		}
		who := c.UserName(sh.User)
		summary := fmt.Sprintf("%s on call: %s (%s)", who, tier.DisplayTitle(), s.Name)
		desc := []string{"Schedule: " + s.Name, "Tier: " + tier.DisplayTitle() + " (" + tier.Name + ")", "On call: " + who + " (" + sh.User + ")"}
		if sh.Layer != "" {
			desc = append(desc, "Layer: "+sh.Layer)
		}
		if sh.Override != "" {
			summary += ", override: " + sh.Override
			desc = append(desc, "Override: "+sh.Override)
		}
		loc := s.Location()
		desc = append(desc, fmt.Sprintf("From %s to %s (%s)", sh.From.In(loc).Format(stampLayout), sh.Until.In(loc).Format(stampLayout), loc))
		events = append(events, icalEvent{uid: shiftUID(s.Name, tier.Name, sh.User, sh.From), until: sh.Until, props: [][2]string{
			{"DTSTART", sh.From.UTC().Format(icalUTC)},
			{"DTEND", sh.Until.UTC().Format(icalUTC)},
			{"SUMMARY", icalText(summary)},
			{"DESCRIPTION", icalText(strings.Join(desc, "\n"))},
			{"CATEGORIES", "On call"},
			{"TRANSP", "TRANSPARENT"},
		}})
	}
	return events, nil
}

// gap is the event of a span in which nothing covers the tier: the
// engine pages nobody for it then and escalates at once, so a schedule's
// feed shows the hole. A gap without a start or an end (before the tier's
// layers begin) is cut to the feed's range; its UID keeps its real start,
// so it stays one event as the range moves on.
func gap(s *Schedule, tier *Tier, sh Shift, f Feed) icalEvent {
	from, until := sh.From, sh.Until
	if from.Equal(farPast) {
		from = f.From
	}
	if until.Equal(farFuture) {
		until = f.Until
	}
	loc := s.Location()
	desc := []string{"Schedule: " + s.Name, "Tier: " + tier.DisplayTitle() + " (" + tier.Name + ")",
		"Nobody holds the tier: escalation levels that page it page nobody and escalate at once.",
		fmt.Sprintf("From %s to %s (%s)", from.In(loc).Format(stampLayout), until.In(loc).Format(stampLayout), loc)}
	return icalEvent{uid: shiftUID(s.Name, tier.Name, "", sh.From), until: until, props: [][2]string{
		{"DTSTART", from.UTC().Format(icalUTC)},
		{"DTEND", until.UTC().Format(icalUTC)},
		{"SUMMARY", icalText(fmt.Sprintf("Nobody on call: %s (%s)", tier.DisplayTitle(), s.Name))},
		{"DESCRIPTION", icalText(strings.Join(desc, "\n"))},
		{"CATEGORIES", "On call"},
		{"TRANSP", "TRANSPARENT"},
	}}
}

// feedName is the calendar's title.
func (c *Config) feedName(f Feed) string {
	var parts []string
	if f.User != "" {
		parts = append(parts, c.User(f.User).DisplayName())
	}
	if f.Schedule != "" {
		parts = append(parts, f.Schedule)
	}
	if len(parts) == 0 {
		return "pagerd on call"
	}
	return "pagerd on call: " + strings.Join(parts, ", ")
}

// shiftUID identifies a shift's event across renders.
func shiftUID(schedule, tier, user string, from time.Time) string {
	h := sha256.Sum256([]byte(schedule + "\x00" + tier + "\x00" + user + "\x00" + from.UTC().Format(time.RFC3339)))
	return hex.EncodeToString(h[:16]) + "@pagerd"
}

// wholeSpans are the tier's spans, overrides applied, that overlap [a, b),
// each with its real start and end even where that lies outside.
func (s *Schedule) wholeSpans(tier *Tier, a, b time.Time) []Shift {
	var out []Shift
	if !tier.hasRotation() {
		return nil
	}
	for t := a; t.Before(b); {
		sh, _ := s.OnCallTier(tier.Name, t)
		if !sh.Until.After(t) {
			break
		}
		out = append(out, sh)
		t = sh.Until
	}
	return out
}

// icalText escapes a TEXT value (RFC 5545 3.3.11).
func icalText(s string) string {
	return strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`).Replace(s)
}

// icalWriter writes content lines folded at 75 octets (RFC 5545 3.1),
// never inside a UTF-8 sequence, each ending in CRLF.
type icalWriter struct{ b strings.Builder }

func (w *icalWriter) prop(name, value string) { w.line(name + ":" + value) }

func (w *icalWriter) line(l string) {
	limit := 75
	for len(l) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(l[cut]) {
			cut--
		}
		if cut == 0 {
			// Not UTF-8 (no character starts in limit bytes): cut
			// anywhere rather than loop for ever.
			cut = limit
		}
		w.b.WriteString(l[:cut] + "\r\n ")
		l = l[cut:]
		limit = 74 // the space that starts a continuation line counts
	}
	w.b.WriteString(l + "\r\n")
}
