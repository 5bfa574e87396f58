package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/twilio"
)

// callRingsFor is how long after a call was placed it may still be
// queued or ringing: Twilio rings a number for 60 seconds by default,
// after a queue of seconds. Calls placed longer ago than this are not
// asked about: they were answered, went to voicemail or gave up.
const callRingsFor = 3 * time.Minute

// twilioCallsOutbox cancels the Twilio calls pagerd placed for an
// incident that was acknowledged or resolved while they were still
// queued or ringing: the dispatcher's handler of store.OutboxTwilio items.
// A second person, or the same person on the next step, is not woken for
// an incident already taken. An answered call is left alone (Twilio
// cancels only calls that are not): the person may be listening.
type twilioCallsOutbox struct {
	n     *twilio.Notifier
	store store.Store
	now   func() time.Time
}

// handle cancels the incident's calls placed in the last callRingsFor,
// and those of the storm bundles they went out in once none of their
// incidents is still triggered. earlier are the entries the claim
// writes besides, which the timeline does not hold yet (a call placed
// while the acknowledgement was written). It records which calls Twilio
// cancelled, none when there were none.
func (o *twilioCallsOutbox) handle(ctx context.Context, inc *store.Incident, item store.OutboxItem, earlier []store.Entry) (store.Entry, error) {
	tl, err := o.store.Timeline(ctx, inc.ID)
	if err != nil {
		return store.Entry{}, err
	}
	tl = append(tl, earlier...)
	now := o.now()
	// A call of the incident alone is cancelled only while the
	// acknowledgement stands: once the incident is paged again
	// (reopened, its acknowledgement run out), its calls must ring.
	stands := dispatch.ActionStands(item.Action, inc.State.Status)
	seen := map[string]bool{}
	// The calls an earlier item cancelled (an acknowledgement, then a
	// resolve): Twilio answers a cancel again with the call canceled, and
	// the timeline would say it was cancelled twice.
	var done []string
	for _, e := range tl {
		if e.Type == "forwarded" && strings.HasPrefix(e.Detail, cancelledDetail) {
			done = append(done, e.Detail)
		}
	}
	var cancelled []string
	for _, e := range tl {
		if e.Type != "notify" || e.Channel != "voice" || e.Ref == "" || !incident.PagedVia(e, "twilio") {
			continue
		}
		if now.Sub(e.At) > callRingsFor || seen[e.Ref] {
			continue
		}
		if slices.ContainsFunc(done, func(d string) bool { return strings.Contains(d, "("+e.Ref+")") }) {
			continue
		}
		seen[e.Ref] = true
		if stop, err := mayStop(ctx, o.store, e, stands); err != nil || !stop {
			if err != nil {
				return store.Entry{}, err
			}
			continue
		}
		ok, err := o.n.CancelCall(ctx, e.Ref)
		if err != nil {
			if notify.IsTemporary(err) || errors.Is(err, notify.ErrMaybeSent) || ctx.Err() != nil {
				return store.Entry{}, err // the calls cancelled so far are asked again: harmless
			}
			return store.Entry{}, dispatch.Refused("Twilio refused to cancel a call; not retried", err, "user", e.User, "call", e.Ref)
		}
		if ok {
			cancelled = append(cancelled, fmt.Sprintf("%s (%s)", e.User, e.Ref))
		}
	}
	if len(cancelled) == 0 {
		return store.Entry{}, nil
	}
	return store.Entry{At: now.UTC().Truncate(time.Millisecond), Type: "forwarded",
		Detail: fmt.Sprintf("%s after the %s: %s", cancelledDetail, item.Action, strings.Join(cancelled, ", "))}, nil
}

// cancelledDetail begins the timeline's word of the calls an item
// cancelled, each named "user (SID)".
const cancelledDetail = "Twilio calls still ringing cancelled"
