package gateway

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/policy"
)

// configHolder is the config in force. Everything that reads the config
// (the HTTP server, the incident service, the dispatcher, the callbacks)
// reads it through Load at the moment it needs it, so a reload (POST
// /-/reload, SIGHUP) swaps the whole config at once under all of them. A
// config that does not load, or names a secret that is not there, is
// refused and the old one stays.
type configHolder struct {
	path string
	cur  atomic.Pointer[policy.Config]
	log  *slog.Logger
	now  func() time.Time

	mu     sync.Mutex // one reload at a time
	onLoad []func(*policy.Config)
	// fits, when set, refuses a reloaded config the running daemon cannot
	// page with although it loads (startedTransports).
	fits func(*policy.Config) error
	// keeps, when set, refuses a reloaded config that would leave stored
	// incidents without what pages them (keepsOpenIncidents), given the
	// config in force and the new one.
	keeps func(ctx context.Context, old, next *policy.Config) error
	// inUse is held for reading by each alert being taken in, from the
	// config it is routed by to its store writes, and by a reload to
	// check the stored incidents (keeps) and swap the config in. Without
	// it a trigger routed by the old config and stored after the check
	// made an incident of a service the reload removed or renamed: it was
	// answered 2xx and paged nobody.
	inUse sync.RWMutex

	reloads       *prometheus.CounterVec
	reloadSuccess prometheus.Gauge
	reloadOK      prometheus.Gauge
}

func newConfigHolder(path string, cfg *policy.Config, reg prometheus.Registerer, log *slog.Logger, now func() time.Time) *configHolder {
	h := &configHolder{path: path, log: log, now: now,
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pagerd_config_reloads_total", Help: "Config reloads by result (success, failure).",
		}, []string{"result"}),
		reloadSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pagerd_config_last_reload_success_timestamp_seconds", Help: "When the config was last loaded successfully (at start, or by a reload).",
		}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pagerd_config_last_reload_successful", Help: "Whether the last config (re)load succeeded (1) or was refused and the old config kept (0).",
		}),
	}
	reg.MustRegister(h.reloads, h.reloadSuccess, h.reloadOK)
	for _, r := range []string{"success", "failure"} {
		h.reloads.WithLabelValues(r)
	}
	h.cur.Store(cfg)
	h.loaded()
	return h
}

// LoadConfig reads the config the daemon runs on: the file, and every
// secret it names. The daemon needs them all, at start and at a reload:
// without one it would page through a transport it cannot authenticate to,
// and a reload must not swap in such a config while the old one still pages.
// The read-only commands load with policy.LoadFile and never ask for them.
func LoadConfig(path string) (*policy.Config, error) {
	c, err := policy.LoadFile(path)
	if err != nil {
		return nil, err
	}
	if err := c.CheckSecrets(); err != nil {
		return nil, err
	}
	return c, nil
}

// Load is the config in force.
func (h *configHolder) Load() *policy.Config { return h.cur.Load() }

// OnLoad has f called with every config taken into use from now on,
// starting with the one in force.
func (h *configHolder) OnLoad(f func(*policy.Config)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.onLoad = append(h.onLoad, f)
	f(h.Load())
}

// loaded records a config taken into use, at start or by a reload.
func (h *configHolder) loaded() {
	h.reloadSuccess.Set(float64(h.now().UnixNano()) / 1e9)
	h.reloadOK.Set(1)
}

// Reload reads the config file again and swaps it in if it is valid.
func (h *configHolder) Reload() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := LoadConfig(h.path)
	if err == nil && h.fits != nil {
		err = h.fits(c)
	}
	if err == nil {
		// The alerts being stored finish first (each within the store's
		// budget: the intake holds it from its body's read to its
		// writes), and those that come meanwhile wait for the new config.
		h.inUse.Lock()
		defer h.inUse.Unlock()
	}
	if err == nil && h.keeps != nil {
		ctx, cancel := context.WithTimeout(context.Background(), reloadStoreTimeout)
		err = h.keeps(ctx, h.Load(), c)
		cancel()
	}
	if err != nil {
		h.reloads.WithLabelValues("failure").Inc()
		h.reloadOK.Set(0)
		h.log.Error("config reload failed; keeping the old config", "err", err)
		return err
	}
	old := h.Load()
	h.cur.Store(c)
	for _, f := range h.onLoad {
		f(c)
	}
	h.reloads.WithLabelValues("success").Inc()
	h.loaded()
	h.log.Info("config reloaded", "services", len(c.Services), "users", len(c.Users))
	logHandovers(h.log, old, c, h.now())
	return nil
}

// logHandovers warns, after a reload, of every tier whose holder at now the
// new config changed: an edit of a rotation's members, start or shift
// length moves whoever's turn it is at once (docs/CONFIG.md: roster_changes
// do it from a date), and the person who is now on call was told nothing.
// By the config's rotations and overrides; overrides made through the API
// apply on top of both. A tier added or removed is not a handover.
func logHandovers(log *slog.Logger, old, cur *policy.Config, now time.Time) {
	for i := range cur.Schedules {
		s := &cur.Schedules[i]
		was := old.Schedule(s.Name)
		if was == nil {
			continue
		}
		for _, t := range s.Tiers {
			before, okBefore := was.OnCallTier(t.Name, now)
			after, okAfter := s.OnCallTier(t.Name, now)
			if !okBefore || !okAfter || before.User == after.User {
				continue
			}
			log.Warn("config reload changed who is on call now: tell them", "schedule", s.Name, "tier", t.Name,
				"was", cmp.Or(before.User, "nobody"), "now", cmp.Or(after.User, "nobody"))
		}
	}
}

// startedTransports is the check a reloaded config must pass besides
// loading: it pages only through transports the daemon has. They are built
// once, at start (their credentials, connections, rate limits and
// breakers), and a reload does not build new ones, so a contact on a
// transport the daemon started without (notifiers.email added with the
// contacts that use it), or a service's or a schedule's slack_channel when
// it started without Slack, would load and then fail at every page ("the
// email transport is not available"). The error names the first field of
// each such transport and says to restart.
//
// toPagerDuty says whether pages via pagerduty go to PagerDuty itself
// (notifiers.pagerduty.events_url as pagerd started with it): the URL is
// read at start too, so a reload that points it at a stand-in, which may
// take any routing key, still sends to PagerDuty until the restart, and a
// contact whose key PagerDuty refuses is refused here.
//
// twilioFrom is notifiers.twilio.from as pagerd started with it, which
// its SMS and calls come from until a restart: a reload that moves from
// to a new number and gives a person the old one loaded (the config's
// check compares contacts with the new from), and Twilio refused every
// SMS to them until the restart.
func startedTransports(have map[string]notify.Notifier, slack, toPagerDuty bool, twilioFrom string) func(*policy.Config) error {
	return func(c *policy.Config) error {
		var problems []string
		first, count := map[string]string{}, map[string]int{}
		var order []string
		need := func(via, field, what string) {
			if _, ok := first[via]; !ok {
				order = append(order, via)
				first[via] = field + ": " + what
			}
			count[via]++
		}
		for _, u := range c.Users {
			for j, ct := range u.Contacts {
				if have[ct.Via] == nil {
					need(ct.Via, fmt.Sprintf("users[%s].contacts[%d].via", u.ID, j), "pages via "+ct.Via)
				}
				if p := policy.PagerDutyRoutingKeyProblem(ct.Address); ct.Via == "pagerduty" && toPagerDuty && ct.Address != "" && p != "" && !policy.SendsToPagerDuty(c.Notifiers.PagerDuty.EventsURL) {
					problems = append(problems, fmt.Sprintf("users[%s].contacts[%d].address: %s: pagerd started sending to PagerDuty itself, and notifiers.pagerduty.events_url is read at start, so pages keep going there, not to the new events_url, until a restart; restart pagerd (not reload) to take this config", u.ID, j, p))
				}
				if ct.Via == "twilio" && twilioFrom != "" && ct.Address == twilioFrom && c.Notifiers.Twilio.From != twilioFrom {
					problems = append(problems, fmt.Sprintf("users[%s].contacts[%d].address: %q is the Twilio number pagerd pages from until a restart (notifiers.twilio.from is read at start): Twilio refuses an SMS to the number it comes from, and a call to it never rings them; restart pagerd (not reload) to take this config", u.ID, j, ct.Address))
				}
			}
		}
		if !slack {
			for _, s := range c.Services {
				if s.SlackChannel != "" {
					need("slack", fmt.Sprintf("services[%s].slack_channel", s.Name), "posts to a Slack channel")
				}
			}
			for _, s := range c.Schedules {
				if s.Notices != nil && s.Notices.SlackChannel != "" {
					need("slack", fmt.Sprintf("schedules[%s].notices.slack_channel", s.Name), "posts to a Slack channel")
				}
			}
		}
		for _, via := range order {
			msg := fmt.Sprintf("%s, but pagerd started without the %s transport, and a reload does not start one: every page on it would fail; restart pagerd (not reload) to take this config", first[via], via)
			if n := count[via] - 1; n == 1 {
				msg += " (and 1 more field needs it)"
			} else if n > 1 {
				msg += fmt.Sprintf(" (and %d more fields need it)", n)
			}
			problems = append(problems, msg)
		}
		if len(problems) == 0 {
			return nil
		}
		return &policy.ConfigError{File: c.File, Problems: problems}
	}
}
