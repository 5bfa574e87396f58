package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// Render writes the document in its schedule's template: AIVO's plain text
// ("=== ON-CALL HANDOFF ===") or AION-R's markdown ("# On-Call Handoff").
func (d *HandoffDoc) Render(w io.Writer) error {
	if d.Template == policy.HandoffText {
		return d.RenderText(w)
	}
	return d.RenderMarkdown(w)
}

// String is the document rendered in its template.
func (d *HandoffDoc) String() string {
	var b strings.Builder
	_ = d.Render(&b)
	return b.String()
}

// loc is the schedule's zone, in which the document writes times.
func (d *HandoffDoc) loc() *time.Location {
	if l, err := time.LoadLocation(d.TimeZone); err == nil {
		return l
	}
	return time.UTC
}

// stamp writes an instant on the schedule's clock: "Tue 2025-10-07 03:00".
func (d *HandoffDoc) stamp(t time.Time) string { return t.In(d.loc()).Format("Mon 2006-01-02 15:04") }

// holder is the first tier's holder, or "nobody".
func (d *HandoffDoc) holder(hs []TierHolder) string {
	if len(hs) == 0 {
		return "nobody"
	}
	return d.tierHolder(hs[0])
}

// tierHolder is a tier's holder, with the rotation's person when an
// override holds it instead: "Emily Watson (covering for Alex Thompson
// until Wed 2025-09-03 00:00: Labor Day weekend)". A tier that changes
// hands within the week names everyone who holds it in the week, each
// with their hours, and after them the override at the handoff if one
// holds it: "Ann Lee (apac: daily 00:00–08:00 UTC), Cat Byrne (emea:
// daily 08:00–16:00 UTC); at the handoff Dan Okafor (covering for Ann Lee
// until ...)", or when nobody holds the tier at the handoff, the one
// that is the week's first (incoming) or last (outgoing) holder: "; first
// Bob (covering for Ann until ...)".
func (d *HandoffDoc) tierHolder(th TierHolder) string {
	if len(th.Week) == 0 {
		return d.heldBy(th)
	}
	parts := make([]string, 0, len(th.Week))
	for _, w := range th.Week {
		parts = append(parts, fmt.Sprintf("%s (%s)", nameOr(w.Name), w.Hours))
	}
	s := strings.Join(parts, ", ")
	if th.Override != nil {
		// An override that holds the tier after the handoff, or held it
		// before, when nobody holds it at the handoff, is the week's
		// first or last holder, not the one at the handoff.
		at := "at the handoff"
		if th.named != "" {
			at = th.named
		}
		s += "; " + at + " " + d.heldBy(th)
	}
	return s
}

// heldBy is who holds a tier at the handoff, and whom an override there
// covers for.
func (d *HandoffDoc) heldBy(th TierHolder) string {
	o := th.Override
	switch {
	case o == nil:
		return nameOr(th.Name)
	case o.RotationName == "":
		return fmt.Sprintf("%s (override until %s: %s)", nameOr(th.Name), d.stamp(o.Until), oneLine(o.Reason))
	}
	return fmt.Sprintf("%s (covering for %s until %s: %s)", nameOr(th.Name), o.RotationName, d.stamp(o.Until), oneLine(o.Reason))
}

// counts writes incidents by priority: "8 incidents (P0 1, P1 2, P2 4, P3 1)",
// or "8 (SEV-1: 1, ...)" without the word.
func (d *HandoffDoc) counts(sep string, word bool) string {
	parts := make([]string, 0, len(d.ByPriority))
	for _, c := range d.ByPriority {
		parts = append(parts, c.Priority+sep+fmt.Sprint(c.Incidents))
	}
	n := fmt.Sprint(d.Incidents)
	if word {
		n += " " + plural(d.Incidents, "incident", "incidents")
	}
	return fmt.Sprintf("%s (%s)", n, strings.Join(parts, ", "))
}

// line names an incident: "[P0] API down (00-abc)".
func line(i HandoffIncident) string {
	return fmt.Sprintf("[%s] %s (%s)", i.Priority, oneLine(i.Summary), i.ID)
}

// oneLine keeps a text on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// state says where an open incident stands: who acknowledged it and its
// last status update.
func (d *HandoffDoc) state(i HandoffIncident) string {
	var parts []string
	if i.Status == "acknowledged" {
		parts = append(parts, fmt.Sprintf("acknowledged by %s at %s", i.AcknowledgedByName, d.stamp(i.AcknowledgedAt)))
	} else {
		parts = append(parts, "not acknowledged")
	}
	if u := i.LastUpdate; u != nil {
		parts = append(parts, fmt.Sprintf("last update %s by %s: %q", d.stamp(u.At), u.ByName, oneLine(u.Text)))
	} else {
		parts = append(parts, "no status update")
	}
	return fmt.Sprintf("open since %s, %s", d.stamp(i.CreatedAt), strings.Join(parts, "; "))
}

// outcome says how a major incident went: "resolved after 47m" or its state.
func (d *HandoffDoc) outcome(i HandoffIncident) string {
	if i.Status == "resolved" {
		return fmt.Sprintf("%s, resolved after %s", d.stamp(i.CreatedAt), FormatDuration(i.ResolvedAt.Sub(i.CreatedAt)))
	}
	return fmt.Sprintf("%s, still open", d.stamp(i.CreatedAt))
}

// escalation writes one escalation.
func (d *HandoffDoc) escalation(e HandoffEscalation) string {
	lvl := fmt.Sprintf("level %d", e.Level)
	if e.LevelName != "" {
		lvl += " (" + e.LevelName + ")"
	}
	return fmt.Sprintf("%s [%s] %s (%s): %s, to %s", d.stamp(e.At), e.Priority, oneLine(e.Summary), e.Incident, e.Detail, lvl)
}

// recurring writes one recurring alert.
func (d *HandoffDoc) recurring(r Recurring) string {
	return fmt.Sprintf("%s: %d incidents (%s), %s to %s", oneLine(r.AlertName), r.Count, strings.Join(r.Priorities, ", "), d.stamp(r.First), d.stamp(r.Last))
}

// RenderText writes AIVO's handoff template, its bracketed prompts kept
// where pagerd cannot know the answer.
func (d *HandoffDoc) RenderText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format+"\n", args...) }
	p("=== ON-CALL HANDOFF ===")
	p("Date: %s", d.Handoff.In(d.loc()).Format("2006-01-02"))
	p("Outgoing: %s", d.holder(d.Outgoing))
	p("Incoming: %s", d.holder(d.Incoming))
	p("")
	p("SYSTEM STATUS:")
	p("- Overall health: %s (%s)", d.Health, d.HealthReason)
	if len(d.Open) == 0 {
		p("- Active alerts: 0")
	} else {
		var names []string
		for _, i := range d.Open {
			names = append(names, line(i))
		}
		p("- Active alerts: %d: %s", len(d.Open), strings.Join(names, "; "))
	}
	p("- Performance: [Any concerns]")
	p("")
	p("ONGOING ISSUES:")
	if len(d.Open) == 0 {
		p("- none open at handoff")
	}
	for _, i := range d.Open {
		p("- %s: %s; next steps: [Status and next steps]", line(i), d.state(i))
	}
	p("")
	p("RECENT CHANGES:")
	if len(d.Changes) == 0 {
		p("- [Change 1]: [Impact and monitoring]")
		p("- [Change 2]: [Impact and monitoring]")
	}
	if d.ChangesLeftOut > 0 {
		p("- %s", d.changesLeftOut())
	}
	for _, c := range d.Changes {
		p("- %s: [Impact and monitoring]", d.change(c))
	}
	p("")
	p("UPCOMING:")
	p("- [Scheduled maintenance]")
	p("- [Planned deployments]")
	p("- [Known issues to watch]")
	p("")
	p("ESCALATIONS:")
	if len(d.Escalations) == 0 {
		p("- no escalations this week")
	}
	for _, e := range d.Escalations {
		p("- %s", d.escalation(e))
	}
	p("- [Executive communications]")
	p("")
	p("FOLLOW-UP REQUIRED:")
	p("- [Action 1]: [By when]")
	p("- [Action 2]: [By when]")
	p("")
	p("ADDITIONAL NOTES:")
	p("- Week %s to %s (%s): %s", d.stamp(d.From), d.stamp(d.To), d.TimeZone, d.counts(" ", true))
	if len(d.Major) == 0 {
		p("- Major incidents: none")
	}
	for _, i := range d.Major {
		p("- Major incident: %s, %s", line(i), d.outcome(i))
	}
	if len(d.Recurring) == 0 {
		p("- Recurring alerts: none opened more than %d incidents", d.RecurringAfter)
	}
	for _, r := range d.Recurring {
		p("- Recurring alert %s", d.recurring(r))
	}
	for _, i := range d.FalsePositives {
		p("- False-positive candidate (resolved unacknowledged within %s): %s", d.FalsePositiveWithin, line(i))
	}
	p("[Any other relevant information]")
	return bw.Flush()
}

// RenderMarkdown writes AION-R's handoff template, its bracketed prompts
// kept where pagerd cannot know the answer.
func (d *HandoffDoc) RenderMarkdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format+"\n", args...) }
	p("# On-Call Handoff - %s", d.Handoff.In(d.loc()).Format("2006-01-02"))
	p("")
	p("Schedule %s, week %s to %s (%s).", mdText(d.Schedule), d.stamp(d.From), d.stamp(d.To), d.TimeZone)
	p("")
	// Tier by tier on one line; a tier that changes hands within the
	// week names several people with their hours, so then each tier
	// has a line of its own.
	for _, side := range []struct {
		label   string
		holders []TierHolder
	}{{"Outgoing", d.Outgoing}, {"Incoming", d.Incoming}} {
		tiers := make([]string, len(side.holders))
		lines := false
		for i, th := range side.holders {
			tiers[i] = mdText(fmt.Sprintf("%s: %s", th.Title, d.tierHolder(th)))
			lines = lines || len(th.Week) > 0
		}
		if !lines {
			p("- %s: %s", side.label, strings.Join(tiers, "; "))
			continue
		}
		p("- %s:", side.label)
		for _, t := range tiers {
			p("  - %s", t)
		}
	}
	p("")
	p("## Summary")
	p("- Incidents this week: %s", d.counts(": ", false))
	if len(d.Major) == 0 {
		p("- Major incidents: none")
	} else {
		p("- Major incidents:")
		for _, i := range d.Major {
			p("  - %s, %s", mdText(line(i)), d.outcome(i))
		}
	}
	if len(d.Escalations) == 0 {
		p("- Escalations: none")
	} else {
		p("- Escalations:")
		for _, e := range d.Escalations {
			p("  - %s", mdText(d.escalation(e)))
		}
	}
	p("- System health: %s (%s)", d.Health, d.HealthReason)
	p("")
	p("## Active Issues")
	if len(d.Open) == 0 {
		p("No incident is open at handoff.")
	}
	for n, i := range d.Open {
		if n > 0 {
			p("")
		}
		p("### Issue %d: [%s] %s", n+1, i.Priority, mdText(oneLine(i.Summary)))
		p("- Incident: %s (%s)", i.ID, mdText(i.Service))
		p("- Status: %s", mdText(d.state(i)))
		p("- Impact: [User impact]")
		p("- Next steps: [What needs doing]")
		owner := "[If not resolved]"
		if i.AcknowledgedByName != "" {
			owner = i.AcknowledgedByName
		}
		p("- Owner: %s", mdText(owner))
	}
	p("")
	p("## Recurring Problems")
	if len(d.Recurring) == 0 {
		p("No alert opened more than %d incidents this week.", d.RecurringAfter)
	}
	for n, r := range d.Recurring {
		if n > 0 {
			p("")
		}
		p("- %s", mdText(oneLine(r.AlertName)))
		p("- Frequency: %d incidents this week (%s), %s to %s", r.Count, strings.Join(r.Priorities, ", "), d.stamp(r.First), d.stamp(r.Last))
		p("- Mitigation: [Current workaround]")
		p("- Action item: [Long-term fix needed]")
	}
	p("")
	p("## Known Issues")
	p("- [Issue 1]: [Description and impact]")
	p("- [Issue 2]: [Description and impact]")
	p("")
	p("## Recent Changes")
	if len(d.Changes) == 0 {
		p("- [Date]: [Deployment or change]")
	}
	if d.ChangesLeftOut > 0 {
		p("- %s", mdText(d.changesLeftOut()))
	}
	for _, c := range d.Changes {
		p("- %s", mdText(d.change(c)))
	}
	p("- Impact: [Any issues observed]")
	p("")
	p("## Monitoring Notes")
	for _, i := range d.FalsePositives {
		p("- False-positive candidate (resolved unacknowledged within %s): %s", d.FalsePositiveWithin, mdText(line(i)))
	}
	p("- [Any monitoring anomalies]")
	p("- [Dashboard issues]")
	p("- [Alert tuning needed]")
	p("")
	p("## Recommendations")
	p("- [Suggested improvements]")
	p("- [Documentation updates needed]")
	p("- [Tools or access issues]")
	return bw.Flush()
}

func nameOr(n string) string {
	if n == "" {
		return "nobody"
	}
	return n
}

// mdText escapes what markdown would read as markup in a summary or name
// an alert sender chose; the template's own brackets are written as they
// are, and so is an underscore inside a word (America/New_York), which
// markdown leaves alone. A closing bracket right before a parenthesis is
// escaped, so that "[Runbook](https://…)" or "![x](https://…)" in a
// sender's text is shown as written, never made a link with text of the
// sender's choosing, or an image the reader's client fetches.
func mdText(s string) string {
	var b strings.Builder
	word := func(i int) bool {
		if i < 0 || i >= len(s) {
			return false
		}
		c := s[i]
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '`', '*', '|':
			b.WriteByte('\\')
			b.WriteByte(c)
		case ']':
			if i+1 < len(s) && s[i+1] == '(' {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		case '_':
			if !word(i-1) || !word(i+1) {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
