package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/notify/pushover"
	"github.com/pagerd/pagerd/policy"
)

// pushoverOutbox stops Pushover's emergency alerts for an incident that
// was acknowledged or resolved in pagerd: the dispatcher's handler of
// store.OutboxPushover items.
type pushoverOutbox struct {
	n     *pushover.Notifier
	store store.Store
	now   func() time.Time
}

// handle cancels the emergency pages pagerd pushed for the incident, and
// those of the storm bundles it went out in once none of their incidents
// is still triggered. With nothing pushed through Pushover, it does
// nothing.
func (o *pushoverOutbox) handle(ctx context.Context, inc *store.Incident, item store.OutboxItem, _ []store.Entry) (store.Entry, error) {
	tl, err := o.store.Timeline(ctx, inc.ID)
	if err != nil {
		return store.Entry{}, err
	}
	// The incident's emergency alerts are cancelled by its tag, those
	// sent since too: once it is paged again (reopened, its
	// acknowledgement run out), they are left to go on.
	stands := dispatch.ActionStands(item.Action, inc.State.Status)
	seen := map[string]bool{}
	var stopped []string
	for _, e := range tl {
		if !incident.PagedVia(e, "pushover") {
			continue
		}
		if !stands && e.Bundle == "" {
			continue
		}
		target := inc.ID
		if e.Bundle != "" {
			target = e.Bundle
		}
		if seen[target] {
			continue
		}
		seen[target] = true
		if stop, err := mayStop(ctx, o.store, e, stands); err != nil || !stop {
			if err != nil {
				return store.Entry{}, err
			}
			continue
		}
		if err := o.n.Cancel(ctx, target); err != nil {
			return store.Entry{}, err
		}
		stopped = append(stopped, target)
	}
	if len(stopped) == 0 {
		return store.Entry{}, nil
	}
	return store.Entry{At: o.now().UTC().Truncate(time.Millisecond), Type: "forwarded",
		Detail: "Pushover's emergency alerts stopped after the " + item.Action}, nil
}

// mayStop reports whether what page e left going (Pushover's emergency
// alert, Twilio's ringing call) may be stopped after an acknowledgement
// or resolve that stands (dispatch.ActionStands): a page of the incident
// alone while it stands, a storm message's once none of its incidents is
// triggered (stormSettled), whatever became of this one.
func mayStop(ctx context.Context, st store.Store, e store.Entry, stands bool) (bool, error) {
	if e.Bundle == "" {
		return stands, nil
	}
	return stormSettled(ctx, st, e.Bundle)
}

// stormSettled reports whether none of a storm bundle's incidents is
// still triggered: what a page that went out in the bundle's one message
// (Pushover's emergency, Twilio's call) waits for to be stopped.
func stormSettled(ctx context.Context, st store.Store, id string) (bool, error) {
	b, err := st.GetBundle(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	statuses, err := st.Statuses(ctx, b.Incidents)
	if err != nil {
		return false, err
	}
	for _, s := range statuses {
		if s == policy.StatusTriggered {
			return false, nil
		}
	}
	return true, nil
}
