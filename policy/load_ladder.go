package policy

import (
	"fmt"
	"strings"
	"time"
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
// contact is via log is logOnlyUsers' (a warning when others are paged
// through providers, else a note: meant for a first run).
// The low-urgency ladder is judged only when some service pages at low
// urgency.
func (v *validator) logOnlyLadders() {
	low := v.pagesLow()
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
		v.ladderWarnf(l, "%s (%s) goes to a contact via log, which writes the page to %s and sends it nowhere: %s's %s-urgency pages wake nobody and never use their %s %s; add a step on %s to notification_rules.%s, or move those contacts off log",
			which, strings.Join(at, ", "), v.cfg.logWhere(), u.ID, l.urgency, strings.Join(reaching, " and "), contacts, strings.Join(reaching, " or "), l.urgency)
	}
}

// pagesLow is whether some service pages at low urgency, so that the
// users' low-urgency ladders run.
func (v *validator) pagesLow() bool {
	for i := range v.cfg.Services {
		for _, t := range v.cfg.Services[i].Targets {
			for _, ts := range []*TargetSet{&t.TargetSet, t.BusinessHours, t.OffHours} {
				if ts != nil && ts.Urgency == UrgencyLow {
					return true
				}
			}
		}
	}
	return false
}

// MaxFirstStep is the latest a ladder's first step may come after the
// person is paged without a warning. The reference organisations' slowest
// fixed escalation is an hour (AIVO's off-hours P2/P3, AION-R's SEV-3;
// SEV-4's next business day is how long a level waits, not when its
// person hears of it): a first step later than that comes after the
// level has escalated, or, at a last level with repeat:
// 0, after nothing else pages anyone, an incident that wakes nobody for
// that long (30d for 30s, 5h for 5m). Paged again before then (a repeat,
// a later level, an unresolved rule), the person's ladder starts over, so
// the step may never come.
const MaxFirstStep = time.Hour

// lateFirstSteps warns about a ladder whose first step comes more than
// MaxFirstStep after the person is paged. A warning, not an error: the
// page does go out, and a vendor's export (PagerDuty's
// start_delay_in_minutes, Opsgenie's delays) may hold such a rule, which
// pagerd import must carry into a config that loads, its report listing
// the warning. When others are paged through providers, the first step
// judged is the first that reaches the person (its contact not via log):
// a log step at 0s and SMS at 30d wake nobody for 30 days as surely as
// SMS at 30d alone. A ladder no step of which reaches them is
// logOnlyLadders' or logOnlyUsers' to warn of; in an all-log config (the
// quickstart) the first step is judged, whatever its transport. The
// low-urgency ladder is judged only when some service pages at low
// urgency; the defaults start at 0s.
func (v *validator) lateFirstSteps() {
	low := v.pagesLow()
	providers := len(v.cfg.providerVias()) > 0
	for _, l := range v.ladders {
		if l.urgency == UrgencyLow && !low {
			continue
		}
		steps := l.user.NotificationRules.For(l.urgency)
		if len(steps) == 0 {
			continue
		}
		first, logged := steps[0], []string(nil) // sorted by after: the first is the earliest
		if providers {
			first, logged = firstReaching(l.user, steps)
		}
		if time.Duration(first.After) <= MaxFirstStep {
			continue
		}
		if len(logged) > 0 {
			v.ladderWarnf(l, "the first step that reaches them (%s at %s) comes more than %s after %s is paged, and before it only steps via log (%s), which write the page to %s and send it nowhere: their %s-urgency pages wake nobody for %s (paged again meanwhile, by a repeat or a later level, their ladder starts over, so it may never come); bring a step on a contact not via log within %s",
				first.Channel, first.After, Duration(MaxFirstStep), l.user.ID, strings.Join(logged, ", "), v.cfg.logWhere(), l.urgency, first.After, Duration(MaxFirstStep))
			continue
		}
		v.ladderWarnf(l, "the first step (%s at %s) comes more than %s after %s is paged, and nothing reaches them before it: their %s-urgency pages wake nobody for %s (paged again meanwhile, by a repeat or a later level, their ladder starts over, so it may never come); bring the first step within %s (0s pages at once, as the default ladder does)",
			first.Channel, first.After, Duration(MaxFirstStep), l.user.ID, l.urgency, first.After, Duration(MaxFirstStep))
	}
}

// firstReaching is the first of u's steps whose contact is not via log,
// with the steps via log before it ("push at 0s"); the first step, and
// none, when every step is via log.
func firstReaching(u *User, steps []NotifyStep) (NotifyStep, []string) {
	via := map[string]string{}
	for _, ct := range u.Contacts {
		via[ct.Channel] = ct.Via
	}
	var logged []string
	for _, st := range steps {
		if via[st.Channel] != "log" {
			return st, logged
		}
		logged = append(logged, fmt.Sprintf("%s at %s", st.Channel, st.After))
	}
	return steps[0], nil
}

// logOnlyUsers warns about each user whose every contact is via log and
// whom a schedule or a level pages, while other users are paged through
// providers (Config.logOnlyPaged): the log writes their pages to pagerd's
// output and sends them nowhere, so in production they are woken by
// nothing (pagerd import gives one such contact to a person it found none
// to carry over for; a person copied from the quickstart keeps theirs).
// When every user is log-only (the quickstart, a demo) it is a note
// (LogOnlyNotes), as it is for one nothing pages (a console viewer).
func (v *validator) logOnlyUsers() {
	paged := v.cfg.logOnlyPaged()
	if len(paged) == 0 {
		return
	}
	vias := v.cfg.providerVias()
	and, or := series(vias, "and"), series(vias, "or")
	for i := range v.cfg.Users {
		u := &v.cfg.Users[i]
		where := paged[u.ID]
		if where == "" {
			continue
		}
		v.warnf(fmt.Sprintf("users[%s].contacts", u.ID), "every contact is via log, which writes their pages to %s and sends them nowhere, while other users are paged through %s: %s pages %s, who is woken by nothing; give them a contact that reaches them (via %s, as the others have), or take them out of %s and every other schedule and level that names them",
			v.cfg.logWhere(), and, where, u.ID, or, where)
	}
}

// series lists items as a sentence does: "a", "a and b", "a, b and c"
// (conj "and", or "or").
func series(items []string, conj string) string {
	if n := len(items); n > 1 {
		return strings.Join(items[:n-1], ", ") + " " + conj + " " + items[n-1]
	}
	return strings.Join(items, "")
}
