package incident

import (
	"fmt"
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

// forwardItem is the outbox item that forwards action to PagerDuty.
func forwardItem(action string, version int64, now time.Time) store.OutboxItem {
	return store.OutboxItem{ID: fmt.Sprintf("pagerduty-%s-%d", action, version), Kind: store.OutboxPagerDuty,
		Action: action, Due: now, Since: now}
}

// silences are the outbox items an acknowledgement or a resolve owes
// Alertmanager, for a service that silences acknowledged incidents
// (silence_on_acknowledge): silence the incident's alerts, or expire the
// silences. Only incidents Alertmanager sent have alerts to silence; a
// shadow service touches nothing outside pagerd.
func silences(cfg *policy.Config, inc *store.Incident, acts []policy.Action, now time.Time) []store.OutboxItem {
	svc := cfg.Service(inc.Service)
	if svc == nil || svc.SilenceOnAcknowledge == nil || svc.Shadow || inc.Source != "alertmanager" {
		return nil
	}
	var out []store.OutboxItem
	for _, a := range acts {
		action := ""
		switch a.Kind {
		case policy.ActionAck:
			action = "create"
		case policy.ActionResolve:
			action = "expire"
		default:
			continue
		}
		out = append(out, store.OutboxItem{ID: fmt.Sprintf("silence-%s-%d", action, inc.Version), Kind: store.OutboxSilence,
			Action: action, Due: now, Since: now})
	}
	return out
}
