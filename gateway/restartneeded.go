package gateway

import (
	"log/slog"
	"reflect"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/policy"
)

// Some settings are read only at start: the transports are built then
// (their accounts, senders, URLs, timeouts, rate limits and breakers), and
// so are the intake's limits and the dispatcher's lease. A reload that
// changes one of them loads, and the new value is not used until pagerd
// restarts. (The transports' secrets, Twilio's auth token, Slack's bot
// token, Pushover's token and the mail server's password, are read at
// every call, so a reload rotates them: they would be the worst kind of
// quiet here, pages going out with the old one until it was revoked. A
// secret follows its account, though: a reload that moves Twilio to
// another account_sid, or the mail login to another username or server,
// keeps the started secret until the restart, as twilioSettings and
// emailPassword say.)
// So a reload that changes one says so (WARN, naming the settings, never
// their values) and pagerd_config_restart_needed is 1 until a restart, or
// a reload that puts them back.

// readAtStart is a setting read only at start: its key, as the config
// file spells it, and its value in a config.
type readAtStart struct {
	key string
	of  func(*policy.Config) any
}

// startOnly are the settings a reload does not change (docs/CONFIG.md,
// "notifiers", and the server keys that say "read at start").
var startOnly = []readAtStart{
	{"server.trusted_proxies", func(c *policy.Config) any { return c.Server.TrustedProxies }},
	{"server.admission", func(c *policy.Config) any { return c.Server.Admission }},
	{"server.lease", func(c *policy.Config) any { return c.Server.Lease }},
	{"notifiers.log.path", func(c *policy.Config) any { return c.Notifiers.Log.Path }},
	{"notifiers.webhook.timeout", func(c *policy.Config) any { return c.Notifiers.Webhook.Timeout }},
	{"notifiers.webhook.max_attempts", func(c *policy.Config) any { return c.Notifiers.Webhook.MaxAttempts }},
	{"notifiers.pagerduty.events_url", func(c *policy.Config) any { return c.Notifiers.PagerDuty.EventsURL }},
	{"notifiers.pagerduty.timeout", func(c *policy.Config) any { return c.Notifiers.PagerDuty.Timeout }},
	{"notifiers.twilio.account_sid", func(c *policy.Config) any { return c.Notifiers.Twilio.AccountSID }},
	{"notifiers.twilio.from", func(c *policy.Config) any { return c.Notifiers.Twilio.From }},
	{"notifiers.twilio.api_url", func(c *policy.Config) any { return c.Notifiers.Twilio.APIURL }},
	{"notifiers.twilio.timeout", func(c *policy.Config) any { return c.Notifiers.Twilio.Timeout }},
	{"notifiers.slack.api_url", func(c *policy.Config) any { return c.Notifiers.Slack.APIURL }},
	{"notifiers.slack.timeout", func(c *policy.Config) any { return c.Notifiers.Slack.Timeout }},
	{"notifiers.email.smarthost", func(c *policy.Config) any { return c.Notifiers.Email.Smarthost }},
	{"notifiers.email.from", func(c *policy.Config) any { return c.Notifiers.Email.From }},
	{"notifiers.email.username", func(c *policy.Config) any { return c.Notifiers.Email.Username }},
	{"notifiers.email.tls", func(c *policy.Config) any { return c.Notifiers.Email.TLS }},
	{"notifiers.email.ca_file", func(c *policy.Config) any { return c.Notifiers.Email.CAFile }},
	{"notifiers.email.timeout", func(c *policy.Config) any { return c.Notifiers.Email.Timeout }},
	{"notifiers.pushover.api_url", func(c *policy.Config) any { return c.Notifiers.Pushover.APIURL }},
	{"notifiers.pushover.retry", func(c *policy.Config) any { return c.Notifiers.Pushover.Retry }},
	{"notifiers.pushover.expire", func(c *policy.Config) any { return c.Notifiers.Pushover.Expire }},
	{"notifiers.pushover.timeout", func(c *policy.Config) any { return c.Notifiers.Pushover.Timeout }},
	{"notifiers.rate_limits", func(c *policy.Config) any { return c.Notifiers.RateLimits }},
	{"notifiers.breaker", func(c *policy.Config) any { return c.Notifiers.Breaker }},
	// Where pagerd listens and keeps its incidents: a reload that moved
	// the store (another Redis, another prefix, another data dir) said
	// nothing, and the restart that took it, maybe days later at a node's
	// drain, started on a store without the open incidents, which paged
	// nobody again. A flag that sets one (--listen, --redis-url,
	// --data-dir) wins over the config, so its key is left out then
	// (startFlags).
	{"server.listen", func(c *policy.Config) any { return c.Server.Listen }},
	{"server.data_dir", func(c *policy.Config) any { return c.Server.DataDir }},
	{"server.redis.url", func(c *policy.Config) any { return [2]string{c.Server.Redis.URL.Reveal(), c.Server.Redis.URLFile} }},
	{"server.redis.prefix", func(c *policy.Config) any { return c.Server.Redis.Prefix }},
}

// startFlags are the start-only settings a command-line flag, or a
// listener or store handed to the daemon, decides instead of the config:
// changing them in the config changes nothing, at a restart either.
func startFlags(o Options) map[string]bool {
	return map[string]bool{
		"server.listen":       o.Listen != "" || o.Listener != nil,
		"server.data_dir":     o.Store != nil || o.DataDir != "",
		"server.redis.url":    o.Store != nil || o.RedisURL != "",
		"server.redis.prefix": o.Store != nil,
	}
}

// changedAtStart lists the settings read only at start whose value in
// next differs from started's, but those flags decide (startFlags).
func changedAtStart(started, next *policy.Config, flags map[string]bool) []string {
	var out []string
	for _, s := range startOnly {
		if !flags[s.key] && !reflect.DeepEqual(s.of(started), s.of(next)) {
			out = append(out, s.key)
		}
	}
	return out
}

// restartWatch compares every config taken into use with the one pagerd
// started with.
type restartWatch struct {
	started *policy.Config
	flags   map[string]bool // startFlags
	log     *slog.Logger
	needed  prometheus.Gauge
	said    []string // the settings last warned about
}

func newRestartWatch(started *policy.Config, flags map[string]bool, log *slog.Logger, reg prometheus.Registerer) *restartWatch {
	w := &restartWatch{started: started, flags: flags, log: log, needed: prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "pagerd_config_restart_needed",
		Help: "1 while the config in force changes a setting pagerd reads only at start (a transport's account, sender, URL or timeout, rate limits, the intake's limits, where it listens and keeps its incidents): it takes effect at the next restart.",
	})}
	reg.MustRegister(w.needed)
	return w
}

// loaded is called with each config taken into use (configHolder.OnLoad).
func (w *restartWatch) loaded(c *policy.Config) {
	changed := changedAtStart(w.started, c, w.flags)
	if len(changed) == 0 {
		w.needed.Set(0)
		if w.said != nil {
			w.log.Info("config: the settings read at start are again as pagerd started with them; no restart needed")
		}
		w.said = nil
		return
	}
	w.needed.Set(1)
	if slices.Equal(changed, w.said) {
		return
	}
	w.said = changed
	msg := "config: reloaded, but pagerd reads these settings only at start, and uses the values it started with until it restarts (pages through a transport go out with its old settings): restart pagerd to take them"
	if slices.ContainsFunc(changed, func(k string) bool { return k == "server.data_dir" || strings.HasPrefix(k, "server.redis.") }) {
		msg += "; a new store (server.redis, server.data_dir) starts without the incidents open in this one, which nobody is paged for then: resolve them first, or move them (docs/OPERATIONS.md)"
	}
	w.log.Warn(msg, "settings", strings.Join(changed, ", "))
}
