package gateway

import (
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/pagerd/pagerd/gateway/acklink"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/email"
	"github.com/pagerd/pagerd/notify/pagerduty"
	"github.com/pagerd/pagerd/notify/pushover"
	"github.com/pagerd/pagerd/notify/slack"
	"github.com/pagerd/pagerd/notify/twilio"
	"github.com/pagerd/pagerd/policy"
)

// transports are the transports pages go out on, by contact "via", each
// wrapped the way the daemon sends (notify.Chain), and what building them
// opened, for the teardown.
type transports struct {
	byVia map[string]notify.Notifier
	close func() error
	// slack is the Slack Web API client, when Slack is configured: pages
	// by direct message use it, and so do incidents' channel messages and
	// shift notices.
	slack *slack.Client
	// email sends email, when it is configured (pages and shift notices).
	email *email.Notifier
	// pushover pushes through Pushover, when it is configured; the outbox
	// cancels its emergency pages.
	pushover *pushover.Notifier
	// twilio sends SMS and places calls, when it is configured.
	twilio *twilio.Notifier
}

// buildNotifiers makes the transports pages go out on. The log transport
// writes to stdout (the daemon's own logs go to stderr) or to a file. The
// providers' URLs and timeouts left unset in the config are their own
// defaults; hc carries their calls (nil: clients on one transport, which
// keeps connections to each provider for the next pages).
// retryBase is the first wait between a page's tries (0: notify's
// default). current is the config in force, for what a page reads when it
// is sent rather than at start (nil: cfg). watches is told what the
// breakers do (nil: nobody).
func buildNotifiers(cfg *policy.Config, current func() *policy.Config, stdout io.Writer, hc func() *http.Client, retryBase time.Duration, now func() time.Time, watches *breakerWatches) (transports, error) {
	if current == nil {
		current = func() *policy.Config { return cfg }
	}
	out := transports{close: func() error { return nil }}
	if hc == nil {
		shared := notify.NewTransport()
		// Every transport's client follows only the redirects that keep
		// the page's POST (PagerDuty's and Slack's too).
		hc = func() *http.Client { return notify.KeepMethodOnRedirect(&http.Client{Transport: shared}) }
	}
	w := stdout
	if p := cfg.Notifiers.Log.Path; p != "" && p != "-" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return out, fmt.Errorf("notifiers.log.path: %w", err)
		}
		w, out.close = f, f.Close
	}
	n := cfg.Notifiers
	tries := notify.DefaultChainOptions.Attempts
	webhookTries := n.Webhook.MaxAttempts
	if webhookTries == 0 {
		webhookTries = tries
	}
	chain := func(via string, t notify.Notifier, attempts int) notify.Notifier {
		rl := n.RateLimits[via]
		return notify.Chain(t, notify.ChainOptions{Attempts: attempts, RetryBase: retryBase, PerSecond: rl.PerSecond, Burst: rl.Burst, Concurrency: rl.Concurrency,
			BreakerFailures: *n.Breaker.Failures, BreakerCooldown: time.Duration(n.Breaker.Cooldown), BreakerByAddress: via == "pagerduty", BreakerWatch: watches.forVia(via), Now: now})
	}
	out.byVia = map[string]notify.Notifier{
		"log":       chain("log", notify.NewLog(w), 1),
		"webhook":   chain("webhook", notify.NewWebhook(hc(), time.Duration(n.Webhook.Timeout)), webhookTries),
		"pagerduty": chain("pagerduty", pagerduty.New(n.PagerDuty.EventsURL, hc(), time.Duration(n.PagerDuty.Timeout)), tries),
		"ntfy":      chain("ntfy", notify.NewNtfy(hc(), time.Duration(n.Webhook.Timeout)), webhookTries),
	}
	if sl := n.Slack; sl.Configured() {
		// The credentials (here, and Pushover's, the mail server's and
		// Twilio's below) are read at every call: a secret rotated by a
		// reload is the one the next page sends.
		out.slack = slack.New(slack.Options{APIURL: sl.APIURL, HTTPClient: hc(), Timeout: time.Duration(sl.Timeout),
			TokenFunc: func() string { return current().Notifiers.Slack.BotToken.Reveal() }})
		out.byVia["slack"] = chain("slack", slack.NewNotifier(out.slack), tries)
	}
	if em := n.Email; em.Smarthost != "" {
		var pool *x509.CertPool
		if em.CAFile != "" {
			var err error
			if pool, err = policy.LoadCAFile(em.CAFile); err != nil {
				_ = out.close()
				return out, fmt.Errorf("notifiers.email.ca_file: %w", err)
			}
		}
		e, err := email.New(email.Options{Smarthost: em.Smarthost, From: em.From, Username: em.Username, Password: em.Password.Reveal(),
			TLS: em.TLS, RootCAs: pool, Timeout: time.Duration(em.Timeout),
			PasswordFunc: func() string { return emailPassword(cfg, current()) }})
		if err != nil {
			_ = out.close()
			return out, fmt.Errorf("notifiers.email: %w", err)
		}
		out.email = e
		out.byVia["email"] = chain("email", e, tries)
	}
	if po := n.Pushover; po.Token != "" {
		// Pushover calls back when someone acknowledges in the app, on a
		// URL signed like an ack link but not one (it signs nothing
		// itself; acklink.SignReceipt), valid for
		// as long as the page can alert and the link lifetime besides.
		// Signed with the config in force when the page goes out, as the
		// callback is checked (pushoverVerify): a link_secret rotated by
		// a reload must not leave new pages' callbacks refused, and the
		// person's acknowledgement in the app lost.
		callback := func(target, user string, reopened int) string {
			sv := current().Server
			valid := time.Duration(po.Expire) + time.Duration(sv.LinkTTL)
			if sv.PublicURL == "" || sv.LinkSecret == "" {
				return ""
			}
			return strings.TrimRight(sv.PublicURL, "/") + pushover.CallbackPath + "/" + acklink.SignReceipt(sv.LinkSecret, target, user, reopened, now().Add(valid))
		}
		out.pushover = pushover.New(pushover.Options{APIURL: po.APIURL, Retry: time.Duration(po.Retry),
			Expire: time.Duration(po.Expire), Callback: callback, HTTPClient: hc(), Timeout: time.Duration(po.Timeout),
			TokenFunc: func() string { return current().Notifiers.Pushover.Token.Reveal() }})
		out.byVia["pushover"] = chain("pushover", out.pushover, tries)
	}
	if tw := n.Twilio; tw.AccountSID != "" {
		// The auth token and the public URL are read at every page, as
		// the callbacks read them: a token rotated by a reload sends
		// with the token Twilio's callbacks are checked with.
		t, err := twilio.New(twilio.Options{AccountSID: tw.AccountSID, From: tw.From,
			APIURL: tw.APIURL, HTTPClient: hc(), Timeout: time.Duration(tw.Timeout), Settings: func() twilio.Settings {
				return twilioSettings(cfg, current())
			}})
		if err != nil {
			_ = out.close()
			return out, fmt.Errorf("notifiers.twilio: %w", err)
		}
		out.twilio = t
		out.byVia["twilio"] = chain("twilio", t, tries)
	}
	return out, nil
}

// twilioSettings are the Twilio settings of c that a reload changes: the
// auth token (and the previous one, which callbacks may be signed with
// while it is rotated) and the public URL, read by the transport at every page and
// by the callbacks at every request. The token is the account's, and the
// account (account_sid) is the one pagerd started with until it restarts:
// a reload that moves to another account keeps the started account's
// token, or pages would go out under the old account with the new one's
// token, every one refused, and the old account's callbacks would be
// refused too.
func twilioSettings(started, c *policy.Config) twilio.Settings {
	tw := c.Notifiers.Twilio
	if tw.AccountSID != started.Notifiers.Twilio.AccountSID {
		tw = started.Notifiers.Twilio
	}
	return twilio.Settings{AuthToken: tw.AuthToken.Reveal(), PreviousAuthToken: tw.PreviousAuthToken.Reveal(), PublicURL: c.Server.PublicURL}
}

// emailPassword is the mail server's password in force at a login: c's,
// while c logs in as pagerd started (the same server and username, read
// only at start), so that a reload rotates it; the started one once a
// reload changed the login, which pagerd takes at its restart, or the old
// username would go with the new password and every page by email be
// refused.
func emailPassword(started, c *policy.Config) string {
	was, now := started.Notifiers.Email, c.Notifiers.Email
	if now.Username != was.Username || now.Smarthost != was.Smarthost {
		return was.Password.Reveal()
	}
	return now.Password.Reveal()
}
