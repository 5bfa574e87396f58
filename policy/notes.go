package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// contactsVia counts the users' contacts on each transport, and lists the
// transports in the order vias names them.
func (c *Config) contactsVia() (order []string, count map[string]int) {
	count = map[string]int{}
	for i := range c.Users {
		for _, ct := range c.Users[i].Contacts {
			count[ct.Via]++
		}
	}
	for _, via := range vias {
		if count[via] > 0 {
			order = append(order, via)
		}
	}
	return order, count
}

func contactsWord(n int) string {
	if n == 1 {
		return "1 contact"
	}
	return fmt.Sprintf("%d contacts", n)
}

// ShadowNotes say what the config keeps from being sent: each service in
// shadow mode and each transport with dry_run that a contact uses. Both
// are meant (a trial next to the old pager), so they are not warnings
// (check-config --strict passes), but left on by mistake they page
// nobody: check-config prints them and pagerd serve logs them at warn
// level at start and at every reload.
func (c *Config) ShadowNotes() []string {
	var out []string
	for i := range c.Services {
		if s := &c.Services[i]; s.Shadow {
			out = append(out, fmt.Sprintf("services[%s].shadow: true, so its pages are recorded in its incidents' timelines and never sent: nobody is paged for it", s.Name))
		}
	}
	order, count := c.contactsVia()
	for _, via := range order {
		if c.DryRun(via) {
			out = append(out, fmt.Sprintf("notifiers.%s.dry_run: true, so pages via %s (%s) are recorded in the timelines and never sent: nobody is paged through it",
				via, via, contactsWord(count[via])))
		}
	}
	return out
}

// LogOnlyNotes name the users whose every contact is via log: the log
// transport is meant for a first run (the quickstart), but a user left
// with it alone (an import that found no contact it could carry over
// gives them one) is woken by nothing. check-config prints it; pagerd
// serve logs it at start and at every reload. The users a schedule or a
// level pages while others are paged through providers are left out:
// those are warnings (logOnlyUsers), since that config is meant to wake
// people and does not wake them.
func (c *Config) LogOnlyNotes() []string {
	warned := c.logOnlyPaged()
	var logOnly []string
	for i := range c.Users {
		if u := &c.Users[i]; isLogOnly(u) && warned[u.ID] == "" {
			logOnly = append(logOnly, u.ID)
		}
	}
	if len(logOnly) == 0 {
		return nil
	}
	who := logOnly
	if len(who) > 5 {
		who = append(who[:5:5], fmt.Sprintf("and %d more", len(logOnly)-5))
	}
	where := c.logWhere()
	users := "users"
	if len(logOnly) == 1 {
		users = "user"
	}
	return []string{fmt.Sprintf("%s %s: every contact is via log, which writes their pages to %s and sends them nowhere: nobody is woken through them",
		users, strings.Join(who, ", "), where)}
}

// UncheckedNotes say, for each transport a contact uses that reaches a
// provider over the network, what check-config could not try: it reads
// the config and never connects, so a mail server that does not resolve,
// a revoked token or a wrong routing key shows only when a page fails.
// check-config prints them; they are not warnings (nothing is known to be
// wrong).
func (c *Config) UncheckedNotes() []string {
	var out []string
	order, count := c.contactsVia()
	for _, via := range order {
		if c.DryRun(via) {
			continue // nothing is sent: ShadowNotes says so
		}
		// what check-config did not check; served, what pagerd serve's
		// provider check tries of it at start ("": nothing, the first
		// page is the first try), and unserved what only a page tries.
		var what, served, unserved string
		switch via {
		case "email":
			what = "whether the mail server resolves, answers and takes mail from the sender"
			if em := c.Notifiers.Email; em.Smarthost != "" && em.From != "" {
				what = fmt.Sprintf("whether %s resolves, answers and takes mail from %s", em.Smarthost, em.From)
			}
			served, unserved = "the connection, TLS and login", "the sender and the contacts' addresses"
		case "twilio":
			what = "whether Twilio takes the account's credentials, the from number and the contacts' numbers"
			served, unserved = "the account's credentials and the from number", "the contacts' numbers"
		case "pagerduty":
			what = "whether PagerDuty knows the contacts' routing keys"
		case "slack":
			what = "whether Slack takes the bot token and knows the contacts' members and channels"
			served, unserved = "the bot token", "the contacts' members and channels"
		case "pushover":
			what = "whether Pushover takes the application token and the contacts' user keys"
			served = "the application token and the contacts' user keys"
		case "webhook", "ntfy":
			what = "whether the contacts' URLs answer"
		default:
			continue
		}
		next := "the first page is the first try, so fire a test alert once pagerd runs"
		if served != "" && c.Notifiers.ChecksProviders() {
			next = "pagerd serve tries " + served + " at start (notifiers.check_at_start)"
			if unserved != "" {
				next += ", and " + unserved + " only at the first page"
			}
		}
		out = append(out, fmt.Sprintf("notifiers.%s: not tried (%s): check-config does not reach the network, so it did not check %s; %s",
			via, contactsWord(count[via]), what, next))
	}
	return out
}

// logWhere is where the log transport writes pages: pagerd's output, or
// the file notifiers.log.path names.
func (c *Config) logWhere() string {
	if p := c.Notifiers.Log.Path; p != "" && p != "-" {
		return p
	}
	return "pagerd's output"
}

// isLogOnly is whether every one of u's contacts is via log.
func isLogOnly(u *User) bool {
	return len(u.Contacts) > 0 && !slices.ContainsFunc(u.Contacts, func(ct Contact) bool { return ct.Via != "log" })
}

// providerVias are the transports other than log that contacts use, in
// the order vias names them.
func (c *Config) providerVias() []string {
	order, _ := c.contactsVia()
	return slices.DeleteFunc(order, func(via string) bool { return via == "log" })
}

// logOnlyPaged is, when some user is paged through a provider, each user
// whose every contact is via log and whom a schedule or a level pages,
// with the first field that pages them (pagedFrom). Among people a
// provider wakes, such a user is no demo: their pages reach nobody.
// Empty when every contact is via log (the quickstart, a demo).
func (c *Config) logOnlyPaged() map[string]string {
	vias := c.providerVias()
	if len(vias) == 0 {
		return nil
	}
	from := c.pagedFrom()
	out := map[string]string{}
	for i := range c.Users {
		if u := &c.Users[i]; wokenByNothing(u, vias) && from[u.ID] != "" {
			out[u.ID] = from[u.ID]
		}
	}
	return out
}

// wokenByNothing is whether u, paged, is woken by nothing while others
// are woken through vias (providerVias): every contact of u's is via log.
func wokenByNothing(u *User, vias []string) bool {
	return len(vias) > 0 && isLogOnly(u)
}

// OnCallWarnings say why user, put on tier at run time (an override) in
// place of replaces ("" when nobody held it), would not be woken for
// real, by check-config's own rules: every contact of theirs is via log
// while others are paged through providers (logOnlyPaged's rule), or a
// ladder of theirs pages through the log alone or reaches them only
// after MaxFirstStep (the warnings logOnlyLadders and lateFirstSteps gave
// as the config loaded). The override stands (the config says who may
// be paged), but whoever makes it must be told, as check-config tells of
// such a user in a tier of the file. None for a user the config lacks.
func (c *Config) OnCallWarnings(user, tier, replaces string) []string {
	u := c.User(user)
	if u == nil {
		return nil
	}
	var out []string
	if vias := c.providerVias(); wokenByNothing(u, vias) {
		others := "other users are paged through " + series(vias, "and")
		if r := c.User(replaces); r != nil {
			if theirs := pagedThrough(r); len(theirs) > 0 {
				others = fmt.Sprintf("%s, whom they replace on %s, is paged through %s", r.ID, tier, series(theirs, "and"))
			}
		}
		out = append(out, fmt.Sprintf("%s's every contact is via log, which writes their pages to %s and sends them nowhere, while %s: on %s, %s is woken by nothing; give them a contact that reaches them (via %s) in the config, or put on call someone who has one",
			u.ID, c.logWhere(), others, tier, u.ID, series(vias, "or")))
	}
	return append(out, c.ladderWarnings[u.ID]...)
}

// pagedThrough are the transports other than log that u's ladders page
// u through: those of the contacts their steps use, not of every contact
// (one their notification rules never use pages them through nothing).
func pagedThrough(u *User) []string {
	via := map[string]string{}
	for _, ct := range u.Contacts {
		via[ct.Channel] = ct.Via
	}
	var out []string
	for _, st := range append(slices.Clone(u.NotificationRules.High), u.NotificationRules.Low...) {
		if v := via[st.Channel]; v != "" && v != "log" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// pagedFrom is, for each user the config pages, the first field that
// names them: a schedule's tier (its members, its layers', their roster
// changes), a schedule's override, a level's targets or an unresolved
// rule's notify. A user in none of them is never paged (a console
// viewer, who needs a contact all the same), but by an override made at
// run time.
func (c *Config) pagedFrom() map[string]string {
	from := map[string]string{}
	add := func(where string, ids ...string) {
		for _, id := range ids {
			if _, ok := from[id]; !ok && id != "" {
				from[id] = where
			}
		}
	}
	for i := range c.Schedules {
		s := &c.Schedules[i]
		for j := range s.Tiers {
			t := &s.Tiers[j]
			where := fmt.Sprintf("schedules[%s].tiers[%s]", s.Name, t.Name)
			add(where, t.Members...)
			for _, rc := range t.RosterChanges {
				add(where, rc.Members...)
			}
			for _, l := range t.Layers {
				add(where, l.Members...)
				for _, rc := range l.RosterChanges {
					add(where, rc.Members...)
				}
			}
		}
		for k, o := range s.Overrides {
			for _, tier := range slices.Sorted(maps.Keys(o.Tiers)) {
				add(fmt.Sprintf("schedules[%s].overrides[%d]", s.Name, k), o.Tiers[tier])
			}
		}
	}
	for i := range c.EscalationPolicies {
		p := &c.EscalationPolicies[i]
		for _, l := range p.Levels {
			for _, t := range l.Targets {
				add(fmt.Sprintf("escalation_policies[%s].levels[%s]", p.Name, l.Name), t.User)
			}
		}
		for j, r := range p.Unresolved {
			for _, t := range r.Notify {
				add(fmt.Sprintf("escalation_policies[%s].unresolved[%d]", p.Name, j), t.User)
			}
		}
	}
	return from
}
