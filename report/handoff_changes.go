package report

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// Change is a change event (a deploy, a config push) as a handoff
// document lists it under its template's recent changes.
type Change struct {
	At      time.Time `json:"at"`
	Service string    `json:"service"`
	Summary string    `json:"summary"`
	Source  string    `json:"source,omitempty"`
	// Link is the change's first link, if it has one.
	Link string `json:"link,omitempty"`
}

// MaxHandoffChanges is how many changes a handoff document lists: the
// latest of the week. The rest are counted (ChangesLeftOut); GET
// /api/v1/changes has them all.
const MaxHandoffChanges = 30

// HandoffServices are the services whose escalation policy pages the
// schedule: those whose incidents and changes its handoff document lists.
func HandoffServices(cfg *policy.Config, schedule string) []string {
	var out []string
	scheds := serviceSchedules(cfg)
	for i := range cfg.Services {
		if name := cfg.Services[i].Name; slices.Contains(scheds[name], schedule) {
			out = append(out, name)
		}
	}
	return out
}

// SetChanges lists under recent changes those of changes made in the
// outgoing week (up to At), oldest first, the latest MaxHandoffChanges of
// them. The caller passes the changes of HandoffServices.
func (d *HandoffDoc) SetChanges(changes []Change) {
	end := d.To
	if d.At.Before(end) {
		end = d.At
	}
	d.Changes, d.ChangesLeftOut = []Change{}, 0
	for _, c := range changes {
		if !c.At.Before(d.From) && c.At.Before(end) {
			d.Changes = append(d.Changes, c)
		}
	}
	sort.SliceStable(d.Changes, func(i, j int) bool { return d.Changes[i].At.Before(d.Changes[j].At) })
	if n := len(d.Changes) - MaxHandoffChanges; n > 0 {
		d.Changes, d.ChangesLeftOut = d.Changes[n:], n
	}
}

// change is one change on a line: when, where, what, from what, and its
// first link.
func (d *HandoffDoc) change(c Change) string {
	s := fmt.Sprintf("%s %s: %s", d.stamp(c.At), c.Service, oneLine(c.Summary))
	if c.Source != "" {
		s += " (from " + oneLine(c.Source) + ")"
	}
	if c.Link != "" {
		s += " " + oneLine(c.Link)
	}
	return s
}

// changesLeftOut says how many earlier changes the document leaves out.
func (d *HandoffDoc) changesLeftOut() string {
	return fmt.Sprintf("%d earlier changes this week not listed: GET /api/v1/changes?since=%s", d.ChangesLeftOut,
		d.From.UTC().Format(time.RFC3339))
}
