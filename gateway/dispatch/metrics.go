package dispatch

import (
	"strconv"

	"github.com/pagerd/pagerd/policy"
)

// InitMetrics creates the dispatcher's labelled counters at zero for what
// the config can page: pages and storm bundles on every channel and
// transport its contacts use, every result; pages and storm bundles that
// failed on each channel for want of a contact on it (via "none"), which
// a rate() would otherwise miss the first of; every escalation level;
// every response target; escalations that paged nobody, by service. Call
// it once the dispatcher is built (the daemon does).
func (d *Dispatcher) InitMetrics(cfg *policy.Config) {
	for _, ch := range []string{policy.ChannelPush, policy.ChannelSMS, policy.ChannelVoice, policy.ChannelSlack, policy.ChannelEmail} {
		d.m.pages.WithLabelValues(ch, "none", "failed")
		d.m.bundles.WithLabelValues(ch, "none", "failed")
	}
	for _, u := range cfg.Users {
		for _, c := range u.Contacts {
			for _, res := range []string{"sent", "failed", "held", "shadow"} {
				d.m.pages.WithLabelValues(c.Channel, c.Via, res)
			}
			for _, res := range []string{"sent", "failed"} {
				d.m.bundles.WithLabelValues(c.Channel, c.Via, res)
			}
		}
	}
	levels := 0
	for _, p := range cfg.EscalationPolicies {
		levels = max(levels, len(p.Levels))
	}
	for l := 1; l <= levels; l++ {
		d.m.escalation.WithLabelValues(strconv.Itoa(l))
	}
	for _, svc := range cfg.Services {
		d.m.nobody.WithLabelValues(svc.Name)
	}
	for _, t := range []string{"acknowledge", "initial_response", "resolution", "status_update"} {
		d.m.breaches.WithLabelValues(t)
	}
}
