package policy

import (
	"fmt"
	"strings"
)

// ladderOf is one of a user's ladders: its field, its urgency, and
// whether it is the default (notification_rules left out).
type ladderOf struct {
	field   string
	urgency string
	user    *User
	def     bool
}

// logOnlyLadders warns about a ladder every step of which goes to a
// contact via log while the person has a contact that reaches them: the
// log transport writes the page to pagerd's output and sends it nowhere,
// so their pages of that urgency wake nobody, and the contact that would
// have woken them is never used. The quickstart's person, given a real
// email or Slack contact beside their log ones, is paged on the default
// ladder (push, SMS, voice) through the log alone. A person whose every
// contact is via log is a note (LogOnlyNotes): meant for a first run.
// The low-urgency ladder is judged only when some service pages at low
// urgency.
func (v *validator) logOnlyLadders() {
	low := false
	for i := range v.cfg.Services {
		for _, t := range v.cfg.Services[i].Targets {
			for _, ts := range []*TargetSet{&t.TargetSet, t.BusinessHours, t.OffHours} {
				low = low || (ts != nil && ts.Urgency == UrgencyLow)
			}
		}
	}
	for _, l := range v.ladders {
		if l.urgency == UrgencyLow && !low {
			continue
		}
		u := l.user
		steps := u.NotificationRules.For(l.urgency)
		via := map[string]string{}
		for _, ct := range u.Contacts {
			via[ct.Channel] = ct.Via
		}
		var reaching []string // the channels of the contacts that wake them
		for _, ct := range u.Contacts {
			if ct.Via != "log" {
				reaching = append(reaching, ct.Channel)
			}
		}
		if len(steps) == 0 || len(reaching) == 0 {
			continue
		}
		var at []string
		for _, st := range steps {
			if via[st.Channel] != "log" {
				at = nil
				break
			}
			at = append(at, fmt.Sprintf("%s at %s", st.Channel, st.After))
		}
		if at == nil {
			continue
		}
		which := "every step"
		if l.def {
			which = "every step of the default ladder"
		}
		contacts := "contact"
		if len(reaching) > 1 {
			contacts = "contacts"
		}
		v.warnf(l.field, "%s (%s) goes to a contact via log, which writes the page to %s and sends it nowhere: %s's %s-urgency pages wake nobody and never use their %s %s; add a step on %s to notification_rules.%s, or move those contacts off log",
			which, strings.Join(at, ", "), v.cfg.logWhere(), u.ID, l.urgency, strings.Join(reaching, " and "), contacts, strings.Join(reaching, " or "), l.urgency)
	}
}
