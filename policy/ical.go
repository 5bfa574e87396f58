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
// an override that cuts a shift short updates its event), text escaped and
// lines folded at 75 octets, each ending in CRLF. Subscribers' programs
// poll the feed, so the events are TRANSP:TRANSPARENT: being on call does
// not make anyone busy.
func (c *Config) ICalendar(f Feed) (string, error) {
	if f.Schedule != "" && c.Schedule(f.Schedule) == nil {
		return "", fmt.Errorf("no schedule %q is defined", f.Schedule)
	}
	if f.User != "" && c.User(f.User) == nil {
		return "", fmt.Errorf("no user %q is defined", f.User)
	}
	if !f.Until.After(f.From) {
		return "", errors.New("the feed's range is empty: until must be after from")
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
	for _, sh := range shifts {
		s := &c.Schedules[sh.sched]
		tier := &s.Tiers[sh.tier]
		if sh.User == "" {
			w.gap(s, tier, sh.Shift, f, stamp)
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
		w.prop("BEGIN", "VEVENT")
		w.prop("UID", shiftUID(s.Name, tier.Name, sh.User, sh.From))
		w.prop("DTSTAMP", stamp)
		w.prop("DTSTART", sh.From.UTC().Format(icalUTC))
		w.prop("DTEND", sh.Until.UTC().Format(icalUTC))
		w.prop("SUMMARY", icalText(summary))
		w.prop("DESCRIPTION", icalText(strings.Join(desc, "\n")))
		w.prop("CATEGORIES", "On call")
		w.prop("TRANSP", "TRANSPARENT")
		w.prop("END", "VEVENT")
	}
	if len(shifts) == 0 {
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

// gap writes the event of a span in which nothing covers the tier: the
// engine pages nobody for it then and escalates at once, so a schedule's
// feed shows the hole. A gap without a start or an end (before the tier's
// layers begin) is cut to the feed's range; its UID keeps its real start,
// so it stays one event as the range moves on.
func (w *icalWriter) gap(s *Schedule, tier *Tier, sh Shift, f Feed, stamp string) {
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
	w.prop("BEGIN", "VEVENT")
	w.prop("UID", shiftUID(s.Name, tier.Name, "", sh.From))
	w.prop("DTSTAMP", stamp)
	w.prop("DTSTART", from.UTC().Format(icalUTC))
	w.prop("DTEND", until.UTC().Format(icalUTC))
	w.prop("SUMMARY", icalText(fmt.Sprintf("Nobody on call: %s (%s)", tier.DisplayTitle(), s.Name)))
	w.prop("DESCRIPTION", icalText(strings.Join(desc, "\n")))
	w.prop("CATEGORIES", "On call")
	w.prop("TRANSP", "TRANSPARENT")
	w.prop("END", "VEVENT")
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
