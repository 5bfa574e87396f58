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
