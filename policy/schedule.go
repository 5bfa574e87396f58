package policy

import (
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Shift is a span during which one user holds one tier of a schedule.
type Shift struct {
	Schedule string
	Tier     string
	User     string
	// From is the start of the span of constant holder containing the
	// query instant.
	From time.Time
	// Until is the end of that span (exclusive).
	Until time.Time
	// Override is the Reason of the override that sets this holder
	// ("override" when the override gives none), or "" for the regular
	// rotation.
	Override string
}

// WeekRow is one row of a published rotation table: the regular rotation
// holders of each tier for one handoff week.
type WeekRow struct {
	// Start and End are the handoff instants that open and close the week.
	Start, End time.Time
	// Holders are user ids, one per tier in tier order (regular rotation,
	// overrides not applied).
	Holders []string
}

// defaultOverrideReason labels an override that gives no reason.
const defaultOverrideReason = "override"

// floorDiv divides rounding towards negative infinity.
func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// floorMod is the non-negative remainder matching floorDiv (for b > 0).
func floorMod(a, b int) int {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// dayNumber counts days since 1970-01-01 for a calendar date. It uses Unix
// seconds rather than time.Duration so it cannot overflow for far dates.
func dayNumber(d Date) int {
	return floorDiv(int(d.In(time.UTC).Unix()), 86400)
}

// handoffAt is the handoff instant on the calendar date d (which should be a
// handoff weekday). time.Date keeps it at the handoff wall-clock time whatever
// DST does in between, so weeks spanning a DST change are 167 or 169 hours.
func (s *Schedule) handoffAt(d Date) time.Time {
	return wallClock(d, s.Handoff.Time, s.Location())
}

// handoffDateAtOrBefore is the calendar date (a handoff weekday) of the
// latest handoff instant <= t.
func (s *Schedule) handoffDateAtOrBefore(t time.Time) Date {
	local := t.In(s.Location())
	d := DateOf(local)
	back := floorMod(int(local.Weekday())-int(s.Handoff.Day()), 7)
	hd := d.AddDays(-back)
	if s.handoffAt(hd).After(t) {
		hd = hd.AddDays(-7)
	}
	return hd
}

// HandoffAtOrBefore returns the latest handoff instant <= t.
func (s *Schedule) HandoffAtOrBefore(t time.Time) time.Time {
	return s.handoffAt(s.handoffDateAtOrBefore(t))
}

// NextHandoff returns the first handoff instant > t.
func (s *Schedule) NextHandoff(t time.Time) time.Time {
	return s.handoffAt(s.handoffDateAtOrBefore(t).AddDays(7))
}

// anchor is the date of the handoff at which the tier's first member begins:
// the first handoff weekday on or after Start. A tier without a Start (which
// validation rejects) is anchored at the first handoff of 1970.
func (s *Schedule) anchor(tier *Tier) Date {
	start := tier.Start
	if start.IsZero() {
		start = Date{1970, time.January, 1}
	}
	return start.AddDays(floorMod(int(s.Handoff.Day())-int(start.Weekday()), 7))
}

// shiftWeeks is the tier's shift length in weeks (at least 1).
func shiftWeeks(tier *Tier) int {
	if tier.ShiftWeeks < 1 {
		return 1
	}
	return tier.ShiftWeeks
}

// RotationHolder returns the rotation member (ignoring overrides) of the tier
// at t, with the regular shift span [From, Until); for a tier with ShiftWeeks
// of 2 the span is both weeks. The rotation extends backwards before the
// tier's Start. User is empty when the tier has no members.
func (s *Schedule) RotationHolder(tier *Tier, t time.Time) Shift {
	anchor := s.anchor(tier)
	weeks := floorDiv(dayNumber(s.handoffDateAtOrBefore(t))-dayNumber(anchor), 7)
	sw := shiftWeeks(tier)
	shift := floorDiv(weeks, sw)
	sh := Shift{
		Schedule: s.Name,
		Tier:     tier.Name,
		From:     s.handoffAt(anchor.AddDays(shift * sw * 7)),
		Until:    s.handoffAt(anchor.AddDays((shift + 1) * sw * 7)),
	}
	if len(tier.Members) > 0 {
		sh.User = tier.Members[floorMod(shift, len(tier.Members))]
	}
	return sh
}

// OverrideSpan returns the [from, until) instants an override covers in the
// schedule's time zone: dates cover whole days (Until inclusive), instants
// are used as given.
func (s *Schedule) OverrideSpan(o *Override) (from, until time.Time) {
	loc := s.Location()
	return o.From.Start(loc), o.Until.EndInclusive(loc)
}

// overrideUser is the user an override puts on the tier, if it names it.
func overrideUser(o *Override, tier string) (string, bool) {
	u, ok := o.Tiers[tier]
	return u, ok && u != ""
}

// overrideReason is the override's reason, or "override" when it has none.
func overrideReason(o *Override) string {
	if o.Reason == "" {
		return defaultOverrideReason
	}
	return o.Reason
}

// clip narrows [from, until), which contains t, so that it does not overlap
// the span [of, ou): an override span ending at or before t moves from to its
// end, one starting after t moves until to its start.
func clip(from, until, t, of, ou time.Time) (time.Time, time.Time) {
	if !ou.After(t) && ou.After(from) {
		from = ou
	}
	if of.After(t) && of.Before(until) {
		until = of
	}
	return from, until
}

// OnCallTier returns who holds the tier at t, overrides applied. From and
// Until bound the maximal span around t during which the same assignment
// source holds: for the regular holder, the rotation shift clipped by the
// overrides of that tier ending before or starting after t; for an override
// holder, the override's span (clipped by later-listed overlapping overrides,
// which win). ok is false if the tier does not exist or has no members.
func (s *Schedule) OnCallTier(tier string, t time.Time) (Shift, bool) {
	tr := s.Tier(tier)
	if tr == nil || len(tr.Members) == 0 {
		return Shift{}, false
	}
	active := -1
	for i := range s.Overrides {
		o := &s.Overrides[i]
		if _, ok := overrideUser(o, tier); !ok {
			continue
		}
		from, until := s.OverrideSpan(o)
		if !from.After(t) && until.After(t) {
			active = i
		}
	}
	if active < 0 {
		sh := s.RotationHolder(tr, t)
		for i := range s.Overrides {
			o := &s.Overrides[i]
			if _, ok := overrideUser(o, tier); !ok {
				continue
			}
			of, ou := s.OverrideSpan(o)
			if !of.Before(ou) {
				continue
			}
			sh.From, sh.Until = clip(sh.From, sh.Until, t, of, ou)
		}
		return sh, true
	}
	o := &s.Overrides[active]
	user, _ := overrideUser(o, tier)
	from, until := s.OverrideSpan(o)
	for i := active + 1; i < len(s.Overrides); i++ {
		if _, ok := overrideUser(&s.Overrides[i], tier); !ok {
			continue
		}
		of, ou := s.OverrideSpan(&s.Overrides[i])
		if !of.Before(ou) {
			continue
		}
		from, until = clip(from, until, t, of, ou)
	}
	return Shift{
		Schedule: s.Name,
		Tier:     tier,
		User:     user,
		From:     from,
		Until:    until,
		Override: overrideReason(o),
	}, true
}

// OnCall returns OnCallTier for every tier, in the order the tiers are
// listed. A tier without members appears with only Schedule and Tier set.
func (s *Schedule) OnCall(t time.Time) []Shift {
	out := make([]Shift, 0, len(s.Tiers))
	for i := range s.Tiers {
		sh, ok := s.OnCallTier(s.Tiers[i].Name, t)
		if !ok {
			sh = Shift{Schedule: s.Name, Tier: s.Tiers[i].Name}
		}
		out = append(out, sh)
	}
	return out
}

// Weeks returns n consecutive handoff weeks starting with the week
// containing from, with each tier's regular rotation holder.
func (s *Schedule) Weeks(from time.Time, n int) []WeekRow {
	if n <= 0 {
		return nil
	}
	d := s.handoffDateAtOrBefore(from)
	rows := make([]WeekRow, 0, n)
	for i := 0; i < n; i++ {
		start := s.handoffAt(d.AddDays(7 * i))
		row := WeekRow{
			Start:   start,
			End:     s.handoffAt(d.AddDays(7 * (i + 1))),
			Holders: make([]string, len(s.Tiers)),
		}
		for j := range s.Tiers {
			row.Holders[j] = s.RotationHolder(&s.Tiers[j], start).User
		}
		rows = append(rows, row)
	}
	return rows
}

// WeekLabel formats a week the way the published tables do: the local date
// of Start and the date six days later, "Aug 18-24", "Sep 29-Oct 5" when the
// month changes, "Dec 29-Jan 4" across years.
func (s *Schedule) WeekLabel(w WeekRow) string {
	first := DateOf(w.Start.In(s.Location()))
	last := first.AddDays(6)
	if first.Month == last.Month && first.Year == last.Year {
		return fmt.Sprintf("%s %d-%d", first.Month.String()[:3], first.Day, last.Day)
	}
	return fmt.Sprintf("%s %d-%s %d", first.Month.String()[:3], first.Day, last.Month.String()[:3], last.Day)
}

// DisplayTitle is the tier's Title, or when it has none its Name with '_'
// and '-' turned into spaces and each word capitalised ("escalation_lead"
// becomes "Escalation Lead").
func (t *Tier) DisplayTitle() string {
	if t.Title != "" {
		return t.Title
	}
	words := strings.Fields(strings.NewReplacer("_", " ", "-", " ").Replace(t.Name))
	for i, w := range words {
		r, n := utf8.DecodeRuneInString(w)
		words[i] = string(unicode.ToUpper(r)) + w[n:]
	}
	return strings.Join(words, " ")
}

// mdCell escapes text for a markdown table cell.
func mdCell(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}

// MarkdownTable renders the rotation table published weeks ahead: a header
// of "Week" and each tier's DisplayTitle, then one row per handoff week
// starting with the week containing from, each cell the display name of the
// regular rotation holder (name maps user ids to names; nil shows ids).
// When overrides intersect the weeks shown, a blank line, "Overrides:" and
// one bullet per such override follow, in listed order, with its moments
// written as in config and its holders in tier order. Every line ends in a
// newline.
func (s *Schedule) MarkdownTable(from time.Time, weeks int, name func(userID string) string) string {
	if name == nil {
		name = func(id string) string { return id }
	}
	var b strings.Builder
	b.WriteString("| Week |")
	for i := range s.Tiers {
		b.WriteString(" " + mdCell(s.Tiers[i].DisplayTitle()) + " |")
	}
	b.WriteString("\n|------|")
	for i := range s.Tiers {
		b.WriteString(strings.Repeat("-", utf8.RuneCountInString(mdCell(s.Tiers[i].DisplayTitle()))+2) + "|")
	}
	b.WriteString("\n")
	rows := s.Weeks(from, weeks)
	for _, w := range rows {
		b.WriteString("| " + s.WeekLabel(w) + " |")
		for _, id := range w.Holders {
			b.WriteString(" " + mdCell(name(id)) + " |")
		}
		b.WriteString("\n")
	}
	if len(rows) == 0 {
		return b.String()
	}
	start, end := rows[0].Start, rows[len(rows)-1].End
	header := false
	for i := range s.Overrides {
		o := &s.Overrides[i]
		of, ou := s.OverrideSpan(o)
		if !of.Before(end) || !ou.After(start) || !of.Before(ou) {
			continue
		}
		if !header {
			b.WriteString("\nOverrides:\n")
			header = true
		}
		b.WriteString(fmt.Sprintf("- %s (%s to %s): %s\n", overrideReason(o), o.From, o.Until, s.overrideHolders(o, name)))
	}
	return b.String()
}

// overrideHolders lists "Title: Name" for each tier an override sets, in the
// schedule's tier order, then any tiers the schedule lacks sorted by name.
func (s *Schedule) overrideHolders(o *Override, name func(string) string) string {
	var parts []string
	known := map[string]bool{}
	for i := range s.Tiers {
		known[s.Tiers[i].Name] = true
		if u, ok := overrideUser(o, s.Tiers[i].Name); ok {
			parts = append(parts, s.Tiers[i].DisplayTitle()+": "+name(u))
		}
	}
	var unknown []string
	for t := range o.Tiers {
		if _, ok := overrideUser(o, t); ok && !known[t] {
			unknown = append(unknown, t)
		}
	}
	sort.Strings(unknown)
	for _, t := range unknown {
		parts = append(parts, (&Tier{Name: t}).DisplayTitle()+": "+name(o.Tiers[t]))
	}
	return strings.Join(parts, ", ")
}
