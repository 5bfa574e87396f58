package policy

import (
	"fmt"
	"net/url"
	"time"

	"github.com/prometheus/common/model"
)

// Heartbeat is a dead-man's switch of a service: something (Alertmanager's
// always-firing Watchdog, a cron job) pings it at least every Interval; when
// no ping came for Interval plus Grace, an incident is raised through the
// service's rules, with the heartbeat's Labels and the labels
// alertname=HeartbeatMissing and heartbeat=<name>. The next ping resolves
// it.
type Heartbeat struct {
	Name        string            `yaml:"name"`
	Interval    Duration          `yaml:"interval"`
	Grace       Duration          `yaml:"grace"`
	Labels      map[string]string `yaml:"labels"`
	Description string            `yaml:"description"`
}

// Labels every heartbeat incident carries, which rules can match on.
const (
	// HeartbeatAlertname is the alertname of a missed heartbeat.
	HeartbeatAlertname = "HeartbeatMissing"
	// HeartbeatLabel is the label that names the heartbeat.
	HeartbeatLabel = "heartbeat"
)

// Expiry is how long after a ping the heartbeat is missed: its interval
// and its grace.
func (h *Heartbeat) Expiry() time.Duration { return time.Duration(h.Interval + h.Grace) }

// AlertLabels are the labels of the heartbeat's incident: its own labels,
// alertname=HeartbeatMissing and heartbeat=<name>.
func (h *Heartbeat) AlertLabels() map[string]string {
	out := make(map[string]string, len(h.Labels)+2)
	for k, v := range h.Labels {
		out[k] = v
	}
	out["alertname"] = HeartbeatAlertname
	out[HeartbeatLabel] = h.Name
	return out
}

// Heartbeat returns the service's heartbeat with the name, or nil.
func (s *Service) Heartbeat(name string) *Heartbeat {
	for i := range s.Heartbeats {
		if s.Heartbeats[i].Name == name {
			return &s.Heartbeats[i]
		}
	}
	return nil
}

// Heartbeat intervals pagerd takes: a second (tests, fast loops) to a
// month (monthly jobs).
const (
	MinHeartbeatInterval = time.Second
	MaxHeartbeatInterval = 31 * 24 * time.Hour
)

// heartbeats checks the service's heartbeats. keyed says whether the
// service gives an integration key: a ping authenticates with one (any of
// them on /api/v1/heartbeats/<name>/ping, the opsgenie_key on Opsgenie's
// /v2/heartbeats/<name>/ping), so a heartbeat of a service without one
// could never be pinged and would page HeartbeatMissing after its first
// interval and grace.
func (v *validator) heartbeats(f string, s *Service, keyed bool) {
	seen := map[string]bool{}
	for i := range s.Heartbeats {
		h := &s.Heartbeats[i]
		hf, ok := v.entry(f+".heartbeats", i, "name", h.Name, seen)
		if !keyed {
			v.errf(hf, "service %q has no integration key, so heartbeat %q could never be pinged and would page HeartbeatMissing; "+
				"give the service one under integrations (alertmanager_key, pagerduty_routing_key or opsgenie_key) to ping it with", s.Name, h.Name)
		}
		if ok && url.PathEscape(h.Name) != h.Name {
			v.errf(hf+".name", "must be usable in a URL path as it is")
		}
		if h.Interval < Duration(MinHeartbeatInterval) || h.Interval > Duration(MaxHeartbeatInterval) {
			v.errf(hf+".interval", "must be from %s to %s (how often the heartbeat is pinged)", Duration(MinHeartbeatInterval), Duration(MaxHeartbeatInterval))
		}
		if h.Grace < 0 || h.Grace > Duration(MaxHeartbeatInterval) {
			v.errf(hf+".grace", "must be from 0s to %s", Duration(MaxHeartbeatInterval))
		} else if h.Grace == 0 {
			// The expiry is set on the clock of the replica that took the
			// ping and checked on the clock of the one that claims it.
			v.warnf(hf+".grace", "is 0s: a ping a moment late pages HeartbeatMissing, and so does a replica whose clock runs a second fast; "+
				"give it a grace well over how late a ping may come and how far the replicas' clocks may drift apart")
		}
		for k, val := range h.Labels {
			switch {
			case !model.LegacyValidation.IsValidLabelName(k):
				v.errf(hf+".labels."+k, "%q is not a label name (letters, digits and _, not starting with a digit)", k)
			case k == "alertname" || k == HeartbeatLabel:
				v.errf(hf+".labels."+k, "pagerd sets %s itself (alertname=%s, heartbeat=<name>)", k, HeartbeatAlertname)
			case val == "":
				v.errf(hf+".labels."+k, "an empty value is no label; leave it out")
			}
		}
	}
}

// SilenceOnAcknowledge makes acknowledging an incident that Alertmanager
// sent silence its alerts there (Alertmanager's API v2), for Duration or
// until pagerd resolves the incident, which expires the silence.
type SilenceOnAcknowledge struct {
	// AlertmanagerURL is Alertmanager's base URL (what its
	// --web.external-url or a service in front of it answers on).
	AlertmanagerURL string `yaml:"alertmanager_url"`
	// Duration is how long a silence lasts at most (default 24h).
	Duration Duration `yaml:"duration"`
}

// DefaultSilenceDuration is silence_on_acknowledge.duration unset.
const DefaultSilenceDuration = 24 * time.Hour

func (v *validator) silences(f string, s *Service) {
	if s.AlertmanagerURL != "" {
		v.alertmanagerURL(f+".alertmanager_url", s.AlertmanagerURL)
	}
	sa := s.SilenceOnAcknowledge
	if sa == nil {
		return
	}
	f += ".silence_on_acknowledge"
	v.alertmanagerURL(f+".alertmanager_url", sa.AlertmanagerURL)
	if sa.Duration == 0 {
		sa.Duration = Duration(DefaultSilenceDuration)
	}
	if sa.Duration < Duration(time.Minute) || sa.Duration > Duration(MaxMaintenance) {
		v.errf(f+".duration", "must be from 1m to %s", Duration(MaxMaintenance))
	}
}

// ShownURL is an Alertmanager URL as timelines and logs show it: a
// password in it (http://user:password@host, which pagerd sends as basic
// auth) blanked as "xxxxx". "" stays "", without parsing: a service
// without an Alertmanager URL (the default) has its "" shown on every
// webhook.
func ShownURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "the service's Alertmanager" // never one that passed check-config
	}
	return u.Redacted()
}

// alertmanagerURL checks an Alertmanager base URL.
func (v *validator) alertmanagerURL(f, raw string) {
	if u, err := url.Parse(raw); raw == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.errf(f, "%q is not an absolute http(s) URL (Alertmanager's, like http://alertmanager:9093)", raw)
	}
}

// DryRun reports whether pages on the transport via are computed and
// recorded but not sent (notifiers.<via>.dry_run).
func (c *Config) DryRun(via string) bool {
	n := &c.Notifiers
	switch via {
	case "log":
		return n.Log.DryRun
	case "webhook":
		return n.Webhook.DryRun
	case "ntfy":
		return n.Ntfy.DryRun
	case "pagerduty":
		return n.PagerDuty.DryRun
	case "twilio":
		return n.Twilio.DryRun
	case "slack":
		return n.Slack.DryRun
	case "email":
		return n.Email.DryRun
	case "pushover":
		return n.Pushover.DryRun
	}
	return false
}

// ShadowOf says why pages of the service on the transport via are not
// sent (a shadow service, a dry-run transport), or "" when they are.
func (c *Config) ShadowOf(service, via string) string {
	if s := c.Service(service); s != nil && s.Shadow {
		return fmt.Sprintf("service %s is in shadow mode (services[].shadow)", service)
	}
	if c.DryRun(via) {
		return fmt.Sprintf("notifiers.%s.dry_run", via)
	}
	return ""
}
