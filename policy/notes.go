package policy

import (
	"fmt"
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
// serve logs it at start and at every reload.
func (c *Config) LogOnlyNotes() []string {
	var logOnly []string
	for i := range c.Users {
		u := &c.Users[i]
		if len(u.Contacts) > 0 && !slices.ContainsFunc(u.Contacts, func(ct Contact) bool { return ct.Via != "log" }) {
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
