package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/policy"
)

// providerCheckTimeout bounds one transport's whole check, on top of the
// transports' own timeouts on each call (notifiers.<via>.timeout).
const providerCheckTimeout = time.Minute

// providerRecheckEvery is how soon a transport whose check failed is
// checked again, and then twice as long after each failure, up to
// providerRecheckMax, until it passes: a provider or network that failed
// for a moment at start must not leave the check failed (and its alert
// firing) until the next reload, and one that will never pass (a wrong
// token) must not spend the provider's rate limit, which pages share.
const (
	providerRecheckEvery = 5 * time.Minute
	providerRecheckMax   = time.Hour
)

// providerRecheckPassed is how often a transport whose check passed is
// checked again while pagerd runs: a token revoked, an account suspended
// or a mail password changed after the start is found by the check, its
// alert and its log line, not first by a page failing at night. A check
// that asks once for each contact (Pushover's user keys, the mail
// server's RCPT TO) runs providerRecheckAddressFactor times less often.
const (
	providerRecheckPassed        = 15 * time.Minute
	providerRecheckAddressFactor = 4
)

// providerTickSlack is how much before a check's time a tick of Run's
// ticker may come and still make it: the ticker's times run a few
// nanoseconds either side of a period apart, and half of them fell a hair
// before the time they were meant for. Such a check waited a whole tick
// more: a failed check was tried again 10 minutes later, not 5, and its
// metric stayed 0 long enough for PagerdProviderCheckFailed (for: 10m) to
// fire on a blip the check 5 minutes later would have cleared.
const providerTickSlack = time.Second

// providerProbe is how one transport's provider is asked whether it would
// take pages, sending none: account checks the credentials, address the
// contacts' addresses (Pushover's user keys, the mail server's RCPT TO),
// each address's error by address, none for those that passed. Both nil:
// the transport has no such check, and skipped says why.
type providerProbe struct {
	account func(ctx context.Context) error
	address func(ctx context.Context, addresses []string) map[string]error
	// checked says what passing means, for the log.
	checked string
	skipped string
}

// providerCheck asks the providers pagerd pages through whether they take
// its credentials, in the background after start, after each reload
// that changes what there is to check and every recheckPassed while a
// check passes, so that a wrong Twilio token, a
// dead mail server, a revoked Slack token or a wrong Pushover user key is
// found before the page that needed it. It never sends a page and never
// holds up the start or paging. Each transport's result is a log line (an
// INFO when it passed, a WARN naming what failed and the contacts it
// affects) and pagerd_provider_check_ok{via}.
type providerCheck struct {
	probes  map[string]providerProbe
	log     *slog.Logger
	ok      *prometheus.GaugeVec
	configs chan *policy.Config
	// last is what each transport was last checked for ("" not checked),
	// and retry, for each whose last check failed, when it is tried again
	// and how long it waited then: only Run touches them.
	last  map[string]string
	retry map[string]recheckAt
	// passed is when each transport's check last passed (none: it failed,
	// or is not checked): it is checked again recheckPassed later.
	passed map[string]time.Time
	// recheck is how soon a failed check is tried again
	// (providerRecheckEvery), recheckPassed how soon one that passed is
	// (providerRecheckPassed); tests shorten them before Run.
	recheck, recheckPassed time.Duration
}

// recheckAt is when a failed check is tried again, and how long it waited.
type recheckAt struct {
	at   time.Time
	wait time.Duration
}

func newProviderCheck(probes map[string]providerProbe, log *slog.Logger, reg prometheus.Registerer) *providerCheck {
	p := &providerCheck{probes: probes, log: log, configs: make(chan *policy.Config, 1), last: map[string]string{},
		recheck: providerRecheckEvery, retry: map[string]recheckAt{},
		recheckPassed: providerRecheckPassed, passed: map[string]time.Time{},
		ok: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pagerd_provider_check_ok",
			Help: "1 when the last check of the provider behind transport via (credentials, from number, user keys; nothing sent) passed, 0 when it failed; absent when it is not checked."},
			[]string{"via"})}
	reg.MustRegister(p.ok)
	return p
}

// loaded takes a config taken into use (at start and at every reload):
// Run checks what it changed. A config not checked yet is replaced by the
// newer one.
func (p *providerCheck) loaded(c *policy.Config) {
	select {
	case <-p.configs:
	default:
	}
	p.configs <- c
}

// Run checks the providers of each config loaded until ctx ends, those
// whose check failed again every recheck (less and less often), and those
// whose check passed again every recheckPassed.
func (p *providerCheck) Run(ctx context.Context) {
	tick := time.NewTicker(min(p.recheck, p.recheckPassed))
	defer tick.Stop()
	var cur *policy.Config
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-p.configs:
			cur = c
			p.check(ctx, c, time.Time{})
		case now := <-tick.C:
			if cur != nil {
				p.check(ctx, cur, now)
			}
		}
	}
}

// check checks, side by side, each transport whose subject changed since
// its last check or whose last check failed, at a reload (zero at: after
// the fix at the provider); at a tick (at), those whose failed check is
// due again, and those whose passed check is.
func (p *providerCheck) check(ctx context.Context, c *policy.Config, at time.Time) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var checked []string
	var failed []string // by the checks running side by side
	for _, via := range slices.Sorted(maps.Keys(p.probes)) {
		subject := p.subject(c, via)
		pr := p.probes[via]
		r, failedBefore := p.retry[via]
		passedAt, passedBefore := p.passed[via]
		again := false // a check that passed, made again: quiet when it passes
		switch {
		case subject != p.last[via]:
		case failedBefore:
			if !at.IsZero() && at.Add(providerTickSlack).Before(r.at) {
				continue
			}
		case passedBefore && !at.IsZero():
			every := p.recheckPassed
			if pr.address != nil {
				every *= providerRecheckAddressFactor
			}
			if at.Add(providerTickSlack).Before(passedAt.Add(every)) {
				continue
			}
			again = true
		default:
			continue
		}
		p.last[via] = subject
		checked = append(checked, via)
		if subject == "" {
			p.ok.DeleteLabelValues(via)
			continue
		}
		if pr.account == nil && pr.address == nil {
			p.log.Info(fmt.Sprintf("notifiers.%s: not checked at start: %s", via, pr.skipped), "via", via)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !p.run(ctx, c, via, pr, again) {
				mu.Lock()
				failed = append(failed, via)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	now := at
	if now.IsZero() {
		now = time.Now()
	}
	for _, via := range checked {
		delete(p.passed, via)
		if !slices.Contains(failed, via) {
			delete(p.retry, via) // passed, or no longer checked
			if pr := p.probes[via]; p.last[via] != "" && (pr.account != nil || pr.address != nil) {
				p.passed[via] = now
			}
		}
	}
	for _, via := range failed {
		r := p.retry[via]
		r.wait = min(max(2*r.wait, p.recheck), max(providerRecheckMax, p.recheck))
		r.at = now.Add(r.wait)
		p.retry[via] = r
	}
}

// subject is what there is to check of transport via in config c: ""
// when nothing is (checks turned off, the transport in dry_run, a user
// key check without contacts), the contacts' addresses when they are
// checked, and "on" otherwise; with the transport's secret's fingerprint
// (secretOf), as a secret rotated by a reload is what the next page
// sends: a reload that rotates it to a value the provider refuses is
// checked, and says so, before a page fails on it.
func (p *providerCheck) subject(c *policy.Config, via string) string {
	pr := p.probes[via]
	if !c.Notifiers.ChecksProviders() || c.DryRun(via) {
		return ""
	}
	users := contactsOf(c, via)
	secret := ""
	if s := secretOf(c, via); s != "" {
		sum := sha256.Sum256([]byte(s))
		secret = "\nsecret " + hex.EncodeToString(sum[:8])
	}
	if pr.address != nil && (len(users) > 0 || pr.account == nil) {
		return strings.Join(slices.Sorted(maps.Keys(users)), "\n") + secret
	}
	if pr.account == nil && len(users) == 0 {
		return "" // nothing pages through it: no need to say it is not checked
	}
	return "on" + secret
}

// secretOf is the secret transport via sends with, read at every call
// (gateway/notifiers.go), "" for one without.
func secretOf(c *policy.Config, via string) string {
	n := c.Notifiers
	switch via {
	case "twilio":
		return n.Twilio.AuthToken.Reveal()
	case "slack":
		return n.Slack.BotToken.Reveal()
	case "pushover":
		return n.Pushover.Token.Reveal()
	case "email":
		return n.Email.Password.Reveal()
	}
	return ""
}

// contactsOf maps the addresses of the contacts via a transport to the
// users who have them.
func contactsOf(c *policy.Config, via string) map[string][]string {
	out := map[string][]string{}
	for i := range c.Users {
		u := &c.Users[i]
		for _, ct := range u.Contacts {
			if ct.Via == via && !slices.Contains(out[ct.Address], u.ID) {
				out[ct.Address] = append(out[ct.Address], u.ID)
			}
		}
	}
	return out
}

// run checks one transport, logs the outcome and sets its metric; it
// reports whether the check passed. Failures of several addresses with
// the same error (a token the provider refuses) make one line. again
// says the check passed the last time: passing again is logged at debug.
func (p *providerCheck) run(parent context.Context, c *policy.Config, via string, pr providerProbe, again bool) bool {
	ctx, cancel := context.WithTimeout(parent, providerCheckTimeout)
	defer cancel()
	byAddress := contactsOf(c, via)
	var all []string
	for _, users := range byAddress {
		all = append(all, users...)
	}
	type failure struct {
		err   string
		users []string
		// temporary: the provider or the network did not answer (a
		// timeout, a 5xx), which says nothing changed at the provider.
		temporary bool
	}
	var failures []failure
	fail := func(err error, users []string) {
		for i := range failures {
			if failures[i].err == err.Error() {
				failures[i].users = append(failures[i].users, users...)
				return
			}
		}
		// A 5xx, or no answer after the request was written, is marked
		// may-have-been-sent by the transports (a page's rule: never
		// sent twice), not temporary: for a check, which sends nothing,
		// it is a blip all the same.
		failures = append(failures, failure{err.Error(), users, notify.IsTemporary(err) || errors.Is(err, notify.ErrMaybeSent)})
	}
	if pr.account != nil {
		if err := pr.account(ctx); err != nil {
			fail(err, all)
		}
	}
	if pr.address != nil && len(failures) == 0 && len(byAddress) > 0 {
		addrs := slices.Sorted(maps.Keys(byAddress))
		errs := pr.address(ctx, addrs)
		for _, a := range addrs {
			if err := errs[a]; err != nil {
				fail(err, byAddress[a])
			}
		}
	}
	if parent.Err() != nil {
		return true // stopping: no verdict
	}
	if len(failures) == 0 {
		p.ok.WithLabelValues(via).Set(1)
		if again {
			p.log.Debug(fmt.Sprintf("notifiers.%s: provider check passed again (%s)", via, pr.checked), "via", via)
			return true
		}
		p.log.Info(fmt.Sprintf("notifiers.%s: provider check passed (%s)", via, pr.checked), "via", via)
		return true
	}
	p.ok.WithLabelValues(via).Set(0)
	for _, f := range failures {
		since := ""
		switch {
		case again && f.temporary:
			// A blip is no news of the provider: saying it changed
			// sends the person reading it after a revoked token.
			since = " (it passed before: the provider or the network did not answer this time)"
		case again:
			since = " (it passed before: something changed at the provider)"
		}
		slices.Sort(f.users)
		f.users = slices.Compact(f.users)
		affects := "no contact pages through it"
		if len(f.users) > 0 {
			affects = "pages via " + via + " to " + strings.Join(f.users, ", ") + " will fail"
		}
		p.log.Warn(fmt.Sprintf("notifiers.%s: provider check failed%s: %s; %s until it is fixed (checked again on its own, less and less often, up to hourly; a reload checks it at once)", via, since, f.err, affects),
			"via", via, "err", f.err, "users", f.users)
	}
	return false
}

// probes are the checks of the transports the daemon built, leaving out
// those replaced (Options.Notifiers: not the provider). Events v2 has no
// call that checks a routing key without sending an event, and a webhook
// or ntfy URL has no request that is harmless at every receiver (one that
// pages on any POST, or on any request at all): they are not checked, and
// the log says so.
func (tr transports) probes(replaced map[string]notify.Notifier) map[string]providerProbe {
	out := map[string]providerProbe{
		"pagerduty": {skipped: "PagerDuty's Events API v2 has no call that checks a routing key without sending an event; fire a test alert"},
		"webhook":   {skipped: "no request is harmless at every receiver; fire a test alert"},
		"ntfy":      {skipped: "no request is harmless at every ntfy server; fire a test alert"},
	}
	if tr.twilio != nil {
		out["twilio"] = providerProbe{account: tr.twilio.Check, checked: "account credentials, from number"}
	}
	if tr.email != nil {
		out["email"] = providerProbe{account: tr.email.Check, address: tr.email.CheckAddresses,
			checked: "the server answers, with TLS and login as configured; it takes the sender, and each contact's address as recipient (no mail sent)"}
	}
	if tr.slack != nil {
		out["slack"] = providerProbe{account: tr.slack.Check, checked: "bot token, its chat:write scope"}
	}
	if tr.pushover != nil {
		out["pushover"] = providerProbe{address: oneByOne(tr.pushover.ValidateUser), checked: "application token, contacts' user keys"}
	}
	for via := range replaced {
		delete(out, via)
	}
	return out
}

// oneByOne is a check of one address at a time as a providerProbe's
// address check.
func oneByOne(check func(ctx context.Context, address string) error) func(context.Context, []string) map[string]error {
	return func(ctx context.Context, addrs []string) map[string]error {
		errs := map[string]error{}
		for _, a := range addrs {
			if err := check(ctx, a); err != nil {
				errs[a] = err
			}
		}
		return errs
	}
}
