package policy

import (
	"fmt"
	"slices"
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
	// Layer is the name of the tier's layer that sets the holder, or ""
	// for the tier's own rotation and for overrides.
	Layer string
	// User is empty when nothing covers the tier in the span (a gap
	// between restricted layers).
	User string
	// From is the start of the span of constant holder containing the
	// query instant.
	From time.Time
	// Until is the end of that span (exclusive).
	Until time.Time
	// Override is the Reason of the override that sets this holder
	// ("override" when the override gives none), or "" for the regular
	// rotation.
	Override string
	// OverrideID is the ID of that override when it was made at run time
	// (Override.ID), "" otherwise.
	OverrideID string
}

// WeekRow is one row of a published rotation table: the regular rotation
// holders of each tier for one handoff week.
type WeekRow struct {
	// Start and End are the handoff instants that open and close the week.
	Start, End time.Time
	// Holders are user ids, one per tier in tier order: who holds it at
	// Start (regular rotation and layers, overrides not applied; "" for a
	// gap).
	Holders []string
	// During lists, per tier in tier order, everyone who holds it at some
	// time in the week, in the order their turns come ("" for a gap): one
	// entry for a weekly rotation, several for daily or hourly shifts and
	// layers.
	During [][]string
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
	return floorDiv(int(d.utcMidnight().Unix()), 86400)
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

// RotationHolder returns who holds the tier at t by its rotation and
// layers, overrides aside, with the span [From, Until) in which that stays
// so: the holder's shift (both weeks of a two-week shift), cut to the
// restriction window and to the gaps of the layers above. The tier's own
// rotation extends backwards before its Start. User is empty when nothing
// covers the tier at t.
func (s *Schedule) RotationHolder(tier *Tier, t time.Time) Shift {
	return s.regular(tier, t)
}

// Lists reports whether a user takes turns in the schedule (a tier's or
// a layer's members, a roster change's included) or covers one of its
// overrides.
func (s *Schedule) Lists(user string) bool {
	takesTurns := func(members []string, changes []RosterChange) bool {
		return slices.Contains(members, user) || slices.ContainsFunc(changes, func(rc RosterChange) bool { return slices.Contains(rc.Members, user) })
	}
	for _, t := range s.Tiers {
		if takesTurns(t.Members, t.RosterChanges) || slices.ContainsFunc(t.Layers, func(l Layer) bool { return takesTurns(l.Members, l.RosterChanges) }) {
			return true
		}
	}
	for _, o := range s.Overrides {
		for _, u := range o.Tiers {
			if u == user {
				return true
			}
		}
	}
	return false
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

// OnCallTier returns who holds the tier at t, overrides applied. From and
// Until bound the maximal span around t during which the same assignment
// source holds: for the regular holder, the rotation shift clipped by the
// overrides of that tier ending before or starting after t; for an override
// holder, the override's span (clipped by later-listed overlapping overrides,
// which win). In a gap that no layer covers and no override fills, User is
// empty and the span is the gap's. ok is false if the tier does not exist or
// has neither members nor layers.
func (s *Schedule) OnCallTier(tier string, t time.Time) (Shift, bool) {
	tr := s.Tier(tier)
	if tr == nil || !tr.hasRotation() {
		return Shift{}, false
	}
	// One pass, each override's span made once (two zone conversions of
	// a date): the last override that holds t wins, and is cut by those
	// of the tier listed after it; with none, the rotation's shift is cut
	// by all of them.
	active := -1
	var af, au time.Time
	var all, after spanCut
	for i := range s.Overrides {
		o := &s.Overrides[i]
		if _, ok := overrideUser(o, tier); !ok {
			continue
		}
		of, ou := s.OverrideSpan(o)
		if !of.After(t) && ou.After(t) {
			active, af, au, after = i, of, ou, spanCut{}
			continue
		}
		if of.Before(ou) {
			all.add(t, of, ou)
			after.add(t, of, ou)
		}
	}
	if active < 0 {
		sh := s.RotationHolder(tr, t)
		sh.From, sh.Until = all.apply(sh.From, sh.Until)
		return sh, true
	}
	o := &s.Overrides[active]
	user, _ := overrideUser(o, tier)
	from, until := after.apply(af, au)
	return Shift{
		Schedule:   s.Name,
		Tier:       tier,
		User:       user,
		From:       from,
		Until:      until,
		Override:   overrideReason(o),
		OverrideID: o.ID,
	}, true
}

// spanCut gathers how override spans that do not hold t cut a span around
// t: none may overlap it, so the latest end at or before t moves its start
// there and the earliest start after t its end there (the first listed of
// equal instants, which may differ in zone, is the one kept).
type spanCut struct {
	end, start       time.Time
	hasEnd, hasStart bool
}

// add takes in the override span [of, ou), which does not hold t.
func (c *spanCut) add(t, of, ou time.Time) {
	if !ou.After(t) && (!c.hasEnd || ou.After(c.end)) {
		c.end, c.hasEnd = ou, true
	}
	if of.After(t) && (!c.hasStart || of.Before(c.start)) {
		c.start, c.hasStart = of, true
	}
}

// apply is [from, until), which holds t, cut by every span added.
func (c *spanCut) apply(from, until time.Time) (time.Time, time.Time) {
	if c.hasEnd && c.end.After(from) {
		from = c.end
	}
	if c.hasStart && c.start.Before(until) {
		until = c.start
	}
	return from, until
}

// OnCall returns OnCallTier for every tier, in the order the tiers are
// listed. A tier without members or layers appears with only Schedule and
// Tier set.
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

// NextOnCall is who holds the tier next: from until, when the shift that
// holds it at t ends. ok is false when there is no next: that shift does
// not end after t (a tier without members or layers has a zero until) or
// the tier has no rotation. The console's on-call page and Slack's /oncall
// both say who is next through it.
func (s *Schedule) NextOnCall(tier string, until, t time.Time) (Shift, bool) {
	if !until.After(t) {
		return Shift{}, false
	}
	return s.OnCallTier(tier, until)
}

// Weeks returns n consecutive handoff weeks starting with the week
// containing from, with each tier's regular holders (rotation and layers,
// overrides aside).
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
			During:  make([][]string, len(s.Tiers)),
		}
		for j := range s.Tiers {
			tier := &s.Tiers[j]
			seen := map[string]bool{}
			for k, sh := range s.tierSpans(tier, row.Start, row.End, false) {
				if k == 0 {
					row.Holders[j] = sh.User
				}
				if !seen[sh.User] {
					seen[sh.User] = true
					row.During[j] = append(row.During[j], sh.User)
				}
			}
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
// A cell lists everyone who holds the tier during the week, in turn order
// ("nobody" for a gap), so a daily or hourly rotation shows several names.
// When overrides intersect the weeks shown, a blank line, "Overrides:" and
// one bullet per such override follow, in listed order, with its moments
// written as in config and its holders in tier order. Then, when there are
// any in those weeks, "Roster changes:" (members changed from a date, layers
// that begin), "Fairness:" (stretches on call over a fairness rule's limit)
// and "Two tiers at once:" (a person who holds two tiers at the same time,
// TierClashes). Every line ends in a newline.
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
		for _, ids := range w.During {
			names := make([]string, len(ids))
			for k, id := range ids {
				names[k] = nobody
				if id != "" {
					names[k] = name(id)
				}
			}
			b.WriteString(" " + mdCell(strings.Join(names, ", ")) + " |")
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
	if notes := s.rosterNotes(start, end, name); len(notes) > 0 {
		b.WriteString("\nRoster changes:\n")
		for _, n := range notes {
			b.WriteString("- " + n + "\n")
		}
	}
	if ps := s.FairnessProblems(start, end); len(ps) > 0 {
		b.WriteString("\nFairness:\n")
		for _, p := range ps {
			b.WriteString("- " + mdLine(p.Describe(s, name)) + "\n")
		}
	}
	if cs := s.TierClashes(start, end); len(cs) > 0 {
		b.WriteString("\nTwo tiers at once:\n")
		for _, c := range cs {
			b.WriteString("- " + mdLine(c.Describe(s, name)) + "\n")
		}
	}
	return b.String()
}

// mdLine keeps text on one markdown line.
func mdLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// rosterNotes describes the roster changes that take effect, and the layers
// that begin, in [start, end), in tier order and then in time: "Primary
// On-Call from Mon 2025-11-03 08:00: Marcus Rodriguez, Priya Patel (adds
// Priya Patel)".
func (s *Schedule) rosterNotes(start, end time.Time, name func(string) string) []string {
	type note struct {
		at   time.Time
		text string
	}
	loc := s.Location()
	names := func(ids []string) string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = name(id)
		}
		return strings.Join(out, ", ")
	}
	var out []string
	for i := range s.Tiers {
		tier := &s.Tiers[i]
		var notes []note
		for _, r := range s.rotations(tier) {
			what := tier.DisplayTitle()
			if r.layer {
				what += ", layer " + r.name + ","
			}
			if first := r.boundary(0); r.layer && !first.Before(start) && first.Before(end) {
				notes = append(notes, note{first, fmt.Sprintf("%s starts %s: %s", what, first.In(loc).Format(stampLayout), names(r.members))})
			}
			prev := r.members
			for _, c := range r.changes {
				k, _ := r.changeShift(c)
				at := r.boundary(k)
				if !at.Before(start) && at.Before(end) {
					notes = append(notes, note{at, fmt.Sprintf("%s from %s: %s%s", what, at.In(loc).Format(stampLayout), names(c.Members), rosterDiff(prev, c.Members, name))})
				}
				prev = c.Members
			}
		}
		sort.SliceStable(notes, func(a, b int) bool { return notes[a].at.Before(notes[b].at) })
		for _, n := range notes {
			out = append(out, mdLine(n.text))
		}
	}
	return out
}

// rosterDiff says who a roster change adds and removes: " (adds A; removes
// B)", or "" when it only reorders.
func rosterDiff(old, next []string, name func(string) string) string {
	var adds, removes []string
	for _, id := range next {
		if !slices.Contains(old, id) {
			adds = append(adds, name(id))
		}
	}
	for _, id := range old {
		if !slices.Contains(next, id) {
			removes = append(removes, name(id))
		}
	}
	var parts []string
	if len(adds) > 0 {
		parts = append(parts, "adds "+strings.Join(adds, ", "))
	}
	if len(removes) > 0 {
		parts = append(parts, "removes "+strings.Join(removes, ", "))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
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
