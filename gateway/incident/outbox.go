package incident

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// forwards are the outbox items an acknowledgement or a resolve owes
// PagerDuty, stored in the same write as the change: the dispatcher tells
// PagerDuty (and retries), so a crash cannot lose it (dispatch's outbox).
func forwards(acts []policy.Action, version int64, now time.Time) []store.OutboxItem {
	var out []store.OutboxItem
	for _, a := range acts {
		switch a.Kind {
		case policy.ActionAck:
			out = append(out, forwardItem("acknowledge", version, now))
		case policy.ActionResolve:
			out = append(out, forwardItem("resolve", version, now))
		}
	}
	return out
}

// LateForward is the outbox item owed PagerDuty by a page that went there
// but was recorded only after the incident was acknowledged or resolved
// (the acknowledgement, written first, saw an incident not pushed there and
// owed nothing): it tells PagerDuty of the incident's status, the one the
// write stores. None for an incident still triggered. Its id is the same in every try of the
// write, so a retried write does not tell PagerDuty twice.
func LateForward(status policy.Status, now time.Time) []store.OutboxItem {
	action := ""
	switch status {
	case policy.StatusAcknowledged:
		action = "acknowledge"
	case policy.StatusResolved:
		action = "resolve"
	default:
		return nil
	}
	return []store.OutboxItem{{ID: "pagerduty-" + action + "-late", Kind: store.OutboxPagerDuty, Action: action, Due: now, Since: now}}
}

// forwardItem is the outbox item that forwards action to PagerDuty.
func forwardItem(action string, version int64, now time.Time) store.OutboxItem {
	return store.OutboxItem{ID: fmt.Sprintf("pagerduty-%s-%d", action, version), Kind: store.OutboxPagerDuty,
		Action: action, Due: now, Since: now}
}

// silences are the outbox items an acknowledgement or a resolve owes
// Alertmanager (a reopen's are Reopened's), for a service that silences
// acknowledged incidents (silence_on_acknowledge): silence the
// incident's alerts, or expire the silences. Only incidents Alertmanager
// sent have alerts to silence; a shadow service touches nothing outside
// pagerd. An acknowledgement records the Alertmanager it silences at on
// the incident (SilencedAt, in the same write), and the create item
// names it: the resolve owes an
// expire at every Alertmanager recorded, whatever the config says then,
// since a silence left behind would mute the alerts when they fire again.
// An acknowledgement also owes the start of the check that resolves the
// incident once Alertmanager lists none of its alerts (amresolve): the
// silences mute the resolved notification too.
func silences(cfg *policy.Config, inc *store.Incident, acts []policy.Action, now time.Time) []store.OutboxItem {
	svc := cfg.Service(inc.Service)
	configured := svc != nil && svc.SilenceOnAcknowledge != nil && !svc.Shadow && inc.Source == "alertmanager"
	var out []store.OutboxItem
	for _, a := range acts {
		switch a.Kind {
		case policy.ActionAck:
			if !configured {
				continue
			}
			base := svc.SilenceOnAcknowledge.AlertmanagerURL
			if !slices.Contains(inc.SilencedAt, base) {
				inc.SilencedAt = append(inc.SilencedAt, base)
			}
			// An expiry a reopen owed there and not yet done would
			// expire the silences this acknowledgement wants (the
			// create reuses those still active): it is owed no more.
			inc.Outbox = slices.DeleteFunc(inc.Outbox, func(o store.OutboxItem) bool { return isExpiry(o) && o.URL == base })
			out = append(out, store.OutboxItem{ID: fmt.Sprintf("silence-create-%d", inc.Version), Kind: store.OutboxSilence,
				Action: "create", Due: now, Since: now, URL: base})
			if svc.AlertmanagerAPI() != "" {
				// Alertmanager mutes the silenced alerts' resolve too:
				// pagerd asks it whether they still fire.
				out = append(out, store.OutboxItem{ID: fmt.Sprintf("resolve-check-%d", inc.Version), Kind: store.OutboxResolveCheck,
					Action: "start", Due: now, Since: now})
			}
		case policy.ActionResolve:
			// Records stored before SilencedAt was kept name none: the
			// configured Alertmanager is expired at, as before.
			bases := slices.Clone(inc.SilencedAt)
			if configured && !slices.Contains(bases, svc.SilenceOnAcknowledge.AlertmanagerURL) {
				bases = append(bases, svc.SilenceOnAcknowledge.AlertmanagerURL)
			}
			out = append(out, expiries("silence-expire-", bases, inc.Version, now)...)
		}
	}
	return out
}

// Reopened are the outbox items a write owes Alertmanager when it puts an
// acknowledged incident back to triggered (policy: an escalation, a
// raised priority, an auto-escalation, an unresolved or
// missing_status_update rule): next is the state it stores, inc the
// incident as read. The silences the acknowledgement made are expired at
// every Alertmanager it recorded, as at a resolve: left in place, they
// would mute the alerts' notifications, their resolve too, while the
// incident pages again, and its check for an end (amresolve) runs only
// while it is acknowledged, so it would page until the silences end.
// SilencedAt is emptied (the incident is no longer silenced by an
// acknowledgement; the next one silences again). The service's writes
// and the dispatcher's (which reopens at a rule's step) both store them.
func Reopened(inc *store.Incident, next policy.Incident, now time.Time) []store.OutboxItem {
	if inc.State.Status != policy.StatusAcknowledged || next.Status != policy.StatusTriggered || len(inc.SilencedAt) == 0 {
		return nil
	}
	out := expiries("silence-expire-reopen-", inc.SilencedAt, inc.Version, now)
	inc.SilencedAt = nil
	return out
}

// ReopenedSilenced reports whether inc was re-opened (triggered) and
// still owes the expiry of the silences its acknowledgement made
// (Reopened stores it, and empties SilencedAt). Until Alertmanager takes
// it (it may refuse; it is retried), pagerd's own silence mutes the
// incident's alerts, and Alertmanager leaves them out of the group's
// notifications, its resolve too: a resolve then says nothing of them,
// as while the incident is acknowledged.
func ReopenedSilenced(inc *store.Incident) bool {
	return inc.State.Status == policy.StatusTriggered && slices.ContainsFunc(inc.Outbox, isExpiry)
}

// isExpiry says whether o expires silences (expiries makes them).
func isExpiry(o store.OutboxItem) bool { return o.Kind == store.OutboxSilence && o.Action == "expire" }

// expiries are the outbox items that expire an incident's silences at
// each of bases, with ids of prefix and the write's version (one write
// owes at most one set). A reopen's prefix is not a resolve's: the
// dispatcher's claim that reopens and a resolve written meanwhile may
// read the same version, and a claim tried again after the conflict takes
// an id it tried for done.
func expiries(prefix string, bases []string, version int64, now time.Time) []store.OutboxItem {
	out := make([]store.OutboxItem, 0, len(bases))
	for i, base := range bases {
		id := fmt.Sprintf("%s%d", prefix, version)
		if i > 0 {
			id += fmt.Sprintf(".%d", i)
		}
		out = append(out, store.OutboxItem{ID: id, Kind: store.OutboxSilence, Action: "expire", Due: now, Since: now, URL: base})
	}
	return out
}

// pushoverItems are the outbox items an acknowledgement or a resolve owes
// Pushover, when pagerd pushes through it: its emergency pages for the
// incident stop alerting (the handler looks whether there were any).
func pushoverItems(cfg *policy.Config, acts []policy.Action, version int64, now time.Time) []store.OutboxItem {
	if cfg.Notifiers.Pushover.Token == "" {
		return nil
	}
	return forwardsAs(store.OutboxPushover, "pushover-", acts, version, now)
}

// twilioItems are the outbox items an acknowledgement or a resolve owes
// Twilio, when pagerd calls through it: the incident's calls still
// queued or ringing are cancelled, so that nobody is woken by a call for
// an incident already taken (the handler looks whether there are any).
func twilioItems(cfg *policy.Config, acts []policy.Action, version int64, now time.Time) []store.OutboxItem {
	if cfg.Notifiers.Twilio.AccountSID == "" {
		return nil
	}
	return forwardsAs(store.OutboxTwilio, "twilio-calls-", acts, version, now)
}

// forwardsAs are the items forwards makes for PagerDuty, of another kind
// and with ids of another prefix: what an acknowledgement or a resolve
// owes another provider.
func forwardsAs(kind, prefix string, acts []policy.Action, version int64, now time.Time) []store.OutboxItem {
	out := forwards(acts, version, now)
	for i := range out {
		out[i].ID = strings.Replace(out[i].ID, "pagerduty-", prefix, 1)
		out[i].Kind = kind
	}
	return out
}

// chatActions are the changes an incident's chat message is updated for,
// and the outbox Action each is stored as.
var chatActions = map[policy.ActionKind]string{
	policy.ActionAck:          "acknowledge",
	policy.ActionResolve:      "resolve",
	policy.ActionEscalate:     "escalate",
	policy.ActionStatusUpdate: "status_update",
	// A maintenance window holding the incident, re-opening it, or
	// releasing it to be paged as new from level 1: the message is
	// brought up to date (its level, its status, and the level its
	// Escalate button escalates from), without a thread reply.
	policy.ActionMaintenance: ChatSummary,
}

// ChatItems are the outbox items the actions owe the incident's message in
// its service's Slack channel (none when the service has no channel or
// Slack is not configured). The dispatcher stores them for the actions it
// takes (escalations) as the service does for the rest. An item's id
// comes from its action, so a write tried again does not owe it twice.
func ChatItems(cfg *policy.Config, service string, acts []policy.Action, now time.Time) []store.OutboxItem {
	if !ChatConfigured(cfg, service) {
		return nil
	}
	var out []store.OutboxItem
	for _, a := range acts {
		if action, ok := chatActions[a.Kind]; ok {
			out = append(out, chatItem(action, fmt.Sprintf("%d.%d", a.At.UnixMilli(), a.Level), now))
		}
	}
	return out
}

// ChatConfigured reports whether the service's incidents have a Slack
// message: a channel, Slack configured and not in dry run, and not a
// shadow service (which touches nothing outside pagerd). The outbox asks
// it again when an item goes out: a reload may have set dry_run or shadow
// since the item was owed.
func ChatConfigured(cfg *policy.Config, service string) bool {
	svc := cfg.Service(service)
	return svc != nil && svc.SlackChannel != "" && !svc.Shadow && cfg.Notifiers.Slack.Configured() && !cfg.Notifiers.Slack.DryRun
}

// ChatSummary is the outbox Action of a change of what an incident says
// (its summary, EditOpen): its chat message is brought up to date, with
// no reply in its thread, since an alert's message can change with every
// notification of its group (the count of alerts firing).
const ChatSummary = "summary"

// chatItem is the outbox item that brings the chat message up to date.
func chatItem(action, key string, now time.Time) store.OutboxItem {
	return store.OutboxItem{ID: "slack-" + action + "-" + key, Kind: store.OutboxSlack, Action: action, Due: now, Since: now}
}
