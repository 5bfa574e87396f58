package pagerduty

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	gopd "github.com/PagerDuty/go-pagerduty"
	"github.com/PagerDuty/go-pagerduty/webhookv3"

	"github.com/pagerd/pagerd/internal/textcut"
	"github.com/pagerd/pagerd/notify"
)

// Webhook receives PagerDuty's webhooks v3 (at WebhookPath), verified with
// the configured secret, and acts through the Receiver only.
type Webhook struct {
	Receiver notify.Receiver
	// Secret reads notifiers.pagerduty.webhook_secret in force; empty
	// means webhooks are not configured, and they answer 404.
	Secret func() string
	// Logger says which webhooks acted (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now): a webhook refused for a
	// signature made with another secret is logged at warn at most once a
	// minute (refusedSignature).
	Now func() time.Time
	// Merges keeps which of pagerd's alerts PagerDuty merged into which
	// of its incidents (nil: none kept, and an acknowledgement of the
	// incident an alert was merged into acknowledges only the incident
	// its own key names).
	Merges MergeIndex

	refused notify.RefusedCallbacks
}

func (wh *Webhook) log() *slog.Logger {
	if wh.Logger == nil {
		return slog.Default()
	}
	return wh.Logger
}

// refusedSignature logs a webhook that carried a v1 signature not made
// with the configured secret: most likely PagerDuty's, signed with a
// secret pagerd no longer has, so every acknowledgement and resolve made
// in PagerDuty is refused and pagerd goes on escalating incidents their
// people acknowledged (notify.RefusedCallbacks). A webhook without a
// signature, or with a malformed one, is not PagerDuty's and is not
// logged here.
func (wh *Webhook) refusedSignature(r *http.Request) {
	now := time.Now
	if wh.Now != nil {
		now = wh.Now
	}
	wh.refused.Log(wh.log(), r, now(), "pagerduty: a webhook whose X-PagerDuty-Signature does not match notifiers.pagerduty.webhook_secret was refused (403); "+
		"if it was PagerDuty's, acknowledgements and resolves made in PagerDuty do not reach pagerd, which goes on escalating: "+
		"set the webhook subscription's secret as notifiers.pagerduty.webhook_secret")
}

// webhookBody is the part of a PagerDuty v3 webhook pagerd reads.
type webhookBody struct {
	Event webhookEvent `json:"event"`
}

// webhookEvent is the event of a webhook.
type webhookEvent struct {
	EventType string `json:"event_type"`
	// OccurredAt is when it happened in PagerDuty (RFC 3339): PagerDuty
	// keeps no order between webhooks, and a merge's may come after the
	// acknowledgement of the incident merged into (rememberMerge). A
	// string, read by occurredAt: one that does not parse says nothing,
	// and the webhook is still read.
	OccurredAt string `json:"occurred_at"`
	// Agent is who did it in PagerDuty, a reference as PagerDuty's REST
	// API gives one (go-pagerduty's APIObject): a user's (type
	// user_reference) summary is their name; an acknowledgement through
	// an integration or the Events API names the service or
	// integration, or comes with no agent at all. A reference carries no
	// email: its name is what pagerd matches a user by.
	Agent *gopd.APIObject `json:"agent"`
	Data  struct {
		// ID is PagerDuty's incident (Q1ABC...): each of its webhooks,
		// delivered again, names the same one; an alert PagerDuty
		// resolved and pagerd paged again under the same key is
		// another.
		ID          string `json:"id"`
		Type        string `json:"type"`
		IncidentKey string `json:"incident_key"`
		// ResolveReason, on an incident.resolved, says why PagerDuty
		// resolved it when no one resolved it as such: the only reason
		// PagerDuty gives is a merge (merge_resolve_reason), naming the
		// incident it was merged into. Null otherwise.
		ResolveReason *gopd.ResolveReason `json:"resolve_reason"`
		// Service is the PagerDuty service the incident is in: a person
		// paged through two services has an alert under one key in each,
		// and a merge moves only the one in this service (MergedNote).
		Service *gopd.APIObject `json:"service"`
	} `json:"data"`
}

// occurredAt is when the event happened in PagerDuty, zero when the
// webhook does not say (or not in RFC 3339).
func (e *webhookEvent) occurredAt() time.Time {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(e.OccurredAt))
	if err != nil {
		return time.Time{}
	}
	return t
}

// incidentNamed names PagerDuty's incident in a note (" (incident Q1)"),
// "" when the webhook names none. A note not applied is written once per
// text (NotApplied): PagerDuty's incident is what tells a webhook
// delivered again from the same thing done again to another PagerDuty
// incident under the same key (pagerd's page repeated after PagerDuty
// auto-resolved the first), which must be noted too.
func (e *webhookEvent) incidentNamed() string {
	if id := textcut.Line(e.Data.ID, 50); id != "" {
		return " (incident " + id + ")"
	}
	return ""
}

// mergeResolveReason is resolve_reason's type for an incident PagerDuty
// resolved because someone merged it into another.
const mergeResolveReason = "merge_resolve_reason"

// mergedInto reports whether the event is PagerDuty resolving an incident
// merged into another, and names that one ("Q7 ([#7] database latency)").
func (e *webhookEvent) mergedInto() (into string, merged bool) {
	rr := e.Data.ResolveReason
	if rr == nil || rr.Type != mergeResolveReason {
		return "", false
	}
	into = textcut.Line(rr.Incident.ID, 50)
	if sum := textcut.Line(rr.Incident.Summary, 100); sum != "" {
		into = strings.TrimSpace(into + " (" + sum + ")")
	}
	if into == "" {
		into = "another incident"
	}
	return into, true
}

// service names the PagerDuty service of the event's incident for a note
// ("PF9KMXH (API Service)"), "" when the webhook names none, or an id not
// of PagerDuty's form (the note is read back by MergedAlert).
func (e *webhookEvent) service() string {
	sv := e.Data.Service
	if sv == nil || !serviceIDRE.MatchString(sv.ID) {
		return ""
	}
	if sum := textcut.Line(sv.Summary, 100); sum != "" {
		return sv.ID + " (" + sum + ")"
	}
	return sv.ID
}

// serviceIDRE is the form of a PagerDuty service id (PF9KMXH).
var serviceIDRE = regexp.MustCompile(`^[A-Za-z0-9]{1,20}$`)

// agentName is the name of whoever PagerDuty says acted: the agent's
// summary (a user's name), else its id; "" when there is no agent.
func (e *webhookEvent) agentName() string {
	if e.Agent == nil {
		return ""
	}
	if strings.TrimSpace(e.Agent.Summary) != "" {
		return e.Agent.Summary
	}
	return e.Agent.ID
}

// byPerson reports whether the event's agent is a person: a user's
// reference (type user_reference, or user in a full object). A service's
// auto-resolve timeout, an integration or the Events API, an Event
// Orchestration or PagerDuty itself is not; neither is an event without an
// agent.
func (e *webhookEvent) byPerson() bool {
	return e.Agent != nil && (e.Agent.Type == "user_reference" || e.Agent.Type == "user")
}

// notAPerson reports whether the event's agent says it is not a person:
// its type is given and is not a user's (a service, an integration, the
// Events API). An event without an agent, or whose agent has no type, is
// not known to be either.
func (e *webhookEvent) notAPerson() bool {
	return e.Agent != nil && strings.TrimSpace(e.Agent.Type) != "" && !e.byPerson()
}

// agentType is the agent's type as PagerDuty gives it, "none" when the
// event has no agent.
func (e *webhookEvent) agentType() string {
	switch {
	case e.Agent == nil:
		return "none"
	case strings.TrimSpace(e.Agent.Type) == "":
		return "unknown"
	}
	return textcut.Line(e.Agent.Type, 50)
}

func badRequest(format string, args ...any) error {
	return &notify.RequestError{Status: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...)}
}

// ServeWebhook acts on one webhook: incident.acknowledged and
// incident.resolved on an incident pagerd pushed through PagerDuty act on
// the pagerd incident, which stops the ladder for everyone. An
// acknowledgement or a resolve is recorded as made by the event's agent
// (the pagerd user PagerDuty's name for them matches, else that name,
// marked as PagerDuty's; "pagerduty" when there is no agent), not by the
// person the alert was pushed to; an acknowledgement of an alert opened
// before the incident's latest reopen (its dedup key's count is lower) changes
// nothing, and so does a resolve not made by a person (resolveNotByAPerson:
// a service's auto-resolve timeout). A person's merge of PagerDuty's
// incident into another, which PagerDuty reports as incident.resolved, is
// their acknowledgement, not a resolve (mergedAway), of its alert and of
// those merged into it before (keepMerges). Other events, and incidents pagerd did not push, are
// accepted and ignored, so PagerDuty does not redeliver them.
func (wh *Webhook) ServeWebhook(w http.ResponseWriter, r *http.Request) error {
	secret := wh.Secret()
	if secret == "" {
		return &notify.RequestError{Status: http.StatusNotFound, Msg: "PagerDuty webhooks are not configured (notifiers.pagerduty.webhook_secret)"}
	}
	// A missing, malformed or wrong signature is one answer, 403: the
	// request is not from PagerDuty. Only a body that cannot be read (over
	// the limit: 413) or is empty (400) is answered otherwise.
	var mbe *http.MaxBytesError
	switch err := webhookv3.VerifySignature(r, secret); {
	case err == nil:
	case errors.Is(err, webhookv3.ErrNoValidSignatures):
		wh.refusedSignature(r)
		return &notify.RequestError{Status: http.StatusForbidden, Msg: "bad X-PagerDuty-Signature: it does not match notifiers.pagerduty.webhook_secret"}
	case errors.Is(err, webhookv3.ErrMalformedHeader):
		return &notify.RequestError{Status: http.StatusForbidden, Msg: "missing or malformed X-PagerDuty-Signature (want v1=<hex HMAC-SHA256 of the body>)"}
	case errors.As(err, &mbe):
		return &notify.RequestError{Status: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("request body is over the limit of %d bytes", mbe.Limit)}
	case errors.Is(err, webhookv3.ErrMalformedBody):
		return badRequest("empty webhook body")
	default:
		return badRequest("reading the webhook body: %v", err)
	}
	var body webhookBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		// Signed by PagerDuty, so not noise: a 400 is not delivered
		// again, and an acknowledgement in it is lost for good.
		wh.log().Warn("PagerDuty webhook signed with the secret could not be read; answered 400, and PagerDuty does not deliver it again (an acknowledgement or resolve made in PagerDuty did not reach pagerd)",
			"err", err)
		return badRequest("webhook body: %v", err)
	}
	var action notify.Action
	switch body.Event.EventType {
	case "incident.acknowledged":
		action = notify.Acknowledge
	case "incident.resolved":
		action = notify.Resolve
	default:
		// incident.escalated among them: it is PagerDuty's own policy
		// moving the incident pagerd pushed to one person (the dedup key
		// names the incident and the person, never the level), not that
		// person asking pagerd to escalate, and it is delivered again on
		// every retry. Mapped to an escalation it could name no level to
		// escalate from (so escalate once), and it would page pagerd's
		// next level on PagerDuty's schedule rather than pagerd's; the
		// ladder goes on in pagerd by itself.
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	// The event's own alert first, then the alerts of pagerd's that
	// PagerDuty merged into its incident (keepMerges): a merges' record
	// the store refused (its documents on a Redis Cluster node that is
	// down) held up, before, every acknowledgement and resolve made in
	// PagerDuty, each answered 5xx, where it needs no such record. The
	// answer waits for both: 5xx, and PagerDuty delivers the webhook
	// again, when either was not stored (the event's own changes nothing
	// the second time: an acknowledged incident stays so, a note is
	// written once).
	held := &heldAnswer{ResponseWriter: w}
	var pushed bool
	err := wh.serveEvent(held, r, &body, action, &pushed)
	if merr := wh.keepMerges(r.Context(), &body.Event, action, pushed); err == nil {
		err = merr
	}
	if err != nil {
		return err
	}
	held.send()
	return nil
}

// keepMerges acts on the alerts of pagerd's that PagerDuty merged into the
// event's incident, whatever its own alert is (pagerd's or not): they are
// acknowledged with it (ackMoved), by a person's acknowledgement or merge
// of it, carried on when it is merged in turn with its own alert if
// pagerd pushed it (rememberMerge), and their merge
// ends when it is resolved (mergeOver). An error is a 5xx: PagerDuty
// delivers the webhook again.
func (wh *Webhook) keepMerges(ctx context.Context, ev *webhookEvent, action notify.Action, pushed bool) error {
	switch _, merged := ev.mergedInto(); {
	case action == notify.Acknowledge:
		return wh.ackMoved(ctx, ev)
	case merged:
		// A person's merge is their acknowledgement of everything the
		// incident held when they made it, as theirs of it would be
		// (its own alert's is mergedAway's): PagerDuty stops notifying
		// from it for every alert it held. Recorded before the merge
		// carries its alerts on, which keeps it with the merge away:
		// a merge into it made before, delivered after, finds it on
		// the way (Merge's AckedAt).
		if err := wh.ackMoved(ctx, ev); err != nil {
			return err
		}
		return wh.rememberMerge(ctx, ev, pushed)
	default:
		return wh.mergeOver(ctx, ev)
	}
}

// heldAnswer holds the status the event's own handling answers with
// (always 204: those answers have no body) until keepMerges is done.
type heldAnswer struct {
	http.ResponseWriter
	code int
}

func (h *heldAnswer) WriteHeader(code int) { h.code = code }

// send writes the status held, 204 when none was.
func (h *heldAnswer) send() {
	if h.code == 0 {
		h.code = http.StatusNoContent
	}
	h.ResponseWriter.WriteHeader(h.code)
}

// serveEvent is ServeWebhook's answer to the event's own alert; it sets
// pushed when the alert is one pagerd pushed to a person it knows.
func (wh *Webhook) serveEvent(w http.ResponseWriter, r *http.Request, body *webhookBody, action notify.Action, pushed *bool) error {
	id, user, reopened, ok := ParseDedupKey(body.Event.Data.IncidentKey)
	if !ok {
		w.WriteHeader(http.StatusNoContent) // not an alert pagerd pushed
		return nil
	}
	if !wh.Receiver.KnowsUser(user) {
		// Pushed to a person a reload has taken out of the config since:
		// nobody pagerd knows acts, and the ladder goes on. Said, not
		// dropped in silence: someone acknowledged in PagerDuty and the
		// next level is still paged.
		wh.log().Warn("PagerDuty webhook not applied: the person its alert was pushed to is no longer in the config; the incident's ladder goes on in pagerd",
			"incident", id, "user", user, "event", body.Event.EventType, "agent", textcut.Line(body.Event.agentName(), 100))
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	// PagerDuty signs the webhooks of every incident the subscription
	// covers, whoever opened it: anyone with a routing key of one of its
	// services, or a PagerDuty login, can open one under a key of
	// pagerd's form naming any incident and any person, and resolve it.
	// Only an alert pagerd pushed to that person acts, as them.
	switch pushed, err := wh.Receiver.PagedVia(r.Context(), id, user, "pagerduty"); {
	case errors.Is(err, notify.ErrNotRecordedYet):
		// Answered before pagerd recorded the push (a slow send beside
		// it holds the record up): PagerDuty sends it again, and by then
		// it is.
		wh.log().Info("PagerDuty webhook answers a push not recorded yet; PagerDuty is asked to send it again", "incident", id, "user", user,
			"event", body.Event.EventType)
		return &notify.RequestError{Status: http.StatusServiceUnavailable, Msg: "the push this webhook answers is not recorded yet; send it again"}
	case err != nil:
		return err // 5xx: PagerDuty delivers it again
	case !pushed:
		wh.log().Warn("PagerDuty webhook not applied: pagerd never pushed that incident to that person through PagerDuty (an incident someone else opened there under a key of pagerd's form?)",
			"incident", id, "user", user, "event", body.Event.EventType, "agent", textcut.Line(body.Event.agentName(), 100))
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	*pushed = true
	if into, merged := body.Event.mergedInto(); action == notify.Resolve && merged && body.Event.byPerson() {
		return wh.mergedAway(w, r, id, user, reopened, into, &body.Event)
	}
	if action == notify.Resolve && !body.Event.byPerson() {
		return wh.resolveNotByAPerson(w, r, id, user, &body.Event)
	}
	if action == notify.Acknowledge && body.Event.notAPerson() {
		return wh.ackNotByAPerson(w, r, id, user, reopened, &body.Event)
	}
	var acted notify.Acted
	var err error
	if action == notify.Acknowledge {
		// The alert's key says which round of pages it was: an
		// acknowledgement of an alert from before the incident's latest
		// reopen (pagerd's own acknowledgement coming back late, a tap on
		// the old alert) must not stop the pages since. A person's
		// resolve from any alert resolves.
		// Whoever PagerDuty says acknowledged is recorded, not the
		// person the alert was pushed to: a colleague may have taken
		// it in PagerDuty.
		acted, err = wh.Receiver.AcknowledgePage(r.Context(), user, notify.Page{Target: id, Reopened: reopened,
			Source: notify.SourcePagerDuty, By: body.Event.agentName()})
	} else {
		acted, err = wh.Receiver.ResolvePage(r.Context(), user, notify.Page{Target: id, Source: notify.SourcePagerDuty, By: body.Event.agentName()})
	}
	if err == nil && acted.AlreadyResolved || errors.Is(err, notify.ErrNotFound) {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if err != nil {
		return err
	}
	if acted.NotStored > 0 {
		return storedInPart(acted)
	}
	log := wh.log()
	if acted.ReopenedSince {
		// Answered 2xx all the same: PagerDuty must not deliver it again.
		log.Info("PagerDuty webhook not applied: the incident was reopened after the alert it acknowledges", "incident", id, "user", user,
			"event", body.Event.EventType, "dedup_key", body.Event.Data.IncidentKey)
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	log.Info("PagerDuty webhook applied", "incident", id, "user", user, "event", body.Event.EventType, "agent", textcut.Line(body.Event.agentName(), 100))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// storedInPart answers a storm message's webhook whose action the store
// took for some of its incidents and failed for the others
// (notify.Acted.NotStored; logged at error where the store failed): a 2xx
// would have PagerDuty never deliver it again, and those incidents would
// go on paging and escalating though the person acted on them in
// PagerDuty, with nobody told. A 503 has PagerDuty deliver it again, which
// acts on the rest; the incidents that took it change no more.
func storedInPart(acted notify.Acted) error {
	return &notify.RequestError{Status: http.StatusServiceUnavailable,
		Msg: fmt.Sprintf("stored in part, %d of the storm message's incidents not (%s): send it again", acted.NotStored, acted.Storm)}
}

// resolveNotByAPerson answers an incident.resolved whose agent is not a
// person: a PagerDuty service's auto-resolve timeout (on by default on many
// services, 4 hours) resolves its incident by itself, as an integration or
// an Event Orchestration may. pagerd is the source of truth and PagerDuty
// one way of paging: the problem is still there, and resolving pagerd's
// incident would stop its ladder, its unresolved rules ("P1 unresolved
// after 4h pages the manager") and its status-update escalations, so that
// nobody is paged for them. It is not applied: answered 204 (PagerDuty
// must not deliver it again), logged at warn and noted in the incident's
// timeline (resolve_ignored). Unless pagerd's incident is resolved
// already: pagerd's own resolve, passed on to PagerDuty, comes back so.
func (wh *Webhook) resolveNotByAPerson(w http.ResponseWriter, r *http.Request, id, user string, ev *webhookEvent) error {
	agent := textcut.Line(ev.agentName(), 100)
	what := "no agent"
	if ev.Agent != nil {
		what = fmt.Sprintf("%s %q", ev.agentType(), agent)
	}
	why := "resolved in PagerDuty" + ev.incidentNamed() + " by " + what + ", not by a person (a service's auto-resolve timeout, an integration or an Event Orchestration): " +
		"not applied; pagerd's incident stays open and its escalations and rules go on. Resolve it in pagerd when the problem is over"
	if into, merged := ev.mergedInto(); merged {
		why = MergedNote(ev.Data.IncidentKey, ev.service(), into, what, "not by a person, not applied; pagerd's incident stays open and its escalations and rules go on, "+
			"and PagerDuty is not told of pagerd's acknowledgements under this alert's key, which would acknowledge incident "+into+
			". Resolve it in pagerd when the problem is over")
	}
	if done, err := wh.notApplied(w, r, user, notify.Page{Target: id, Source: notify.SourcePagerDuty, By: ev.agentName()}, notify.Resolve, why); done {
		return err
	}
	wh.log().Warn("PagerDuty webhook not applied: incident.resolved not made by a person (a PagerDuty service's auto-resolve timeout, an integration or an Event Orchestration); "+
		"pagerd's incident stays open and its ladder and rules go on: resolve it in pagerd when the problem is over",
		"incident", id, "user", user, "agent_type", ev.agentType(), "agent", agent)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ackNotByAPerson answers an incident.acknowledged whose agent is not a
// person (an integration's: the Events API). For a pagerd key, that is
// pagerd's own acknowledgement, passed on to PagerDuty, coming back: no
// news once pagerd's incident is acknowledged (or resolved). While it is
// not, it is another incident's: an Events API acknowledge acknowledges
// the PagerDuty incident its alert is in, and with alert grouping (or a
// merge) that holds alerts of several pagerd incidents, keyed by the
// first. Applied, pagerd's acknowledgement of one incident would stop the
// ladder of another nobody acknowledged. It is not applied: answered 204
// (PagerDuty must not deliver it again), logged at warn and noted in the
// timeline (ack_ignored). One of an alert from before the incident's
// latest reopen (its key's count, reopened, is lower) is most likely
// pagerd's own acknowledgement of that alert, told after the reopen
// (the dispatcher tells the old alerts of a reopened incident), coming
// back: not applied either, but noted and logged at info as such, not
// blamed on alert grouping.
func (wh *Webhook) ackNotByAPerson(w http.ResponseWriter, r *http.Request, id, user string, reopened int, ev *webhookEvent) error {
	about, err := wh.Receiver.About(r.Context(), id)
	switch {
	case errors.Is(err, notify.ErrNotFound):
		w.WriteHeader(http.StatusNoContent)
		return nil
	case err != nil:
		return err // 5xx: PagerDuty delivers it again
	case about.Storm && about.Unacknowledged == 0, !about.Storm && about.Status != "triggered":
		w.WriteHeader(http.StatusNoContent) // pagerd's own, coming back
		return nil
	}
	agent := textcut.Line(ev.agentName(), 100)
	what := fmt.Sprintf("%s %q", ev.agentType(), agent)
	old := !about.Storm && reopened < about.Reopened
	why := "acknowledged in PagerDuty" + ev.incidentNamed() + " by " + what + ", not by a person: pagerd's acknowledgement of another incident whose alert PagerDuty put in the same PagerDuty incident " +
		"(alert grouping, a merge) comes back so; not applied, the ladder goes on. Acknowledge it in pagerd, or in PagerDuty as a person"
	if old {
		why = fmt.Sprintf("acknowledged in PagerDuty%s by %s, not by a person, for an alert from before the incident's latest reopen (it had been reopened %d times then): "+
			"pagerd's own acknowledgement of that alert, told after the reopen, comes back so; not applied, the pages since go on", ev.incidentNamed(), what, reopened)
	}
	if done, err := wh.notApplied(w, r, user, notify.Page{Target: id, Source: notify.SourcePagerDuty, By: ev.agentName()}, notify.Acknowledge, why); done {
		return err
	}
	if old {
		wh.log().Info("PagerDuty webhook not applied: incident.acknowledged not made by a person, of an alert from before the incident's latest reopen (pagerd's own acknowledgement of it, told late); the pages since go on",
			"incident", id, "user", user, "agent_type", ev.agentType(), "agent", agent, "dedup_key", ev.Data.IncidentKey)
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	wh.log().Warn("PagerDuty webhook not applied: incident.acknowledged not made by a person, of an incident pagerd has not acknowledged "+
		"(PagerDuty grouped or merged its alert with another incident's, which pagerd acknowledged); its ladder goes on",
		"incident", id, "user", user, "agent_type", ev.agentType(), "agent", agent)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// notApplied notes what was not applied (Receiver.NotApplied) and says
// whether the webhook is answered already: 204 for an incident gone or
// resolved, which is no news; err (a 5xx, so that PagerDuty delivers it
// again, and it is noted then) for a note that could not be stored.
func (wh *Webhook) notApplied(w http.ResponseWriter, r *http.Request, user string, page notify.Page, a notify.Action, why string) (done bool, err error) {
	acted, err := wh.Receiver.NotApplied(r.Context(), user, page, a, why)
	switch {
	case errors.Is(err, notify.ErrNotFound), err == nil && acted.AlreadyResolved:
		w.WriteHeader(http.StatusNoContent)
		return true, nil
	case err != nil:
		return true, err
	}
	return false, nil
}

// mergedAway answers the incident.resolved of an incident a person merged
// into another in PagerDuty: PagerDuty resolves the incident merged away
// and moves its alert, still open, to the other one, which now notifies
// for it. The person said the other incident covers this one, not that
// the problem is over: resolving pagerd's incident would stop its ladder,
// its unresolved rules and status-update escalations for an alert that
// still fires, and nothing would page for it again. It is taken as that
// person's acknowledgement of the page (one of an alert from before the
// incident's latest reopen changes nothing, as for incident.acknowledged),
// the incident stays open, and its timeline says it was merged and into
// what (resolve_ignored, MergedNote). The alerts merged into the incident
// before are acknowledged with it, as a person's acknowledgement of it
// would (keepMerges). Resolve it in pagerd, or the alert
// resolves it. Noted first, acknowledged after: the note is what keeps
// the dispatcher from telling PagerDuty of the acknowledgement under the
// alert's key (MergedKey), which would acknowledge the incident it was
// merged into. A failed acknowledgement is answered 5xx and PagerDuty
// delivers the webhook again, which finds it noted (noted once).
func (wh *Webhook) mergedAway(w http.ResponseWriter, r *http.Request, id, user string, reopened int, into string, ev *webhookEvent) error {
	page := notify.Page{Target: id, Reopened: reopened, Source: notify.SourcePagerDuty, By: ev.agentName()}
	agent := textcut.Line(ev.agentName(), 100)
	// The note's text is what a delivery again is known by (noted
	// once), on replicas of every version: keep it as it is. The
	// alerts merged into the incident before are acknowledged with
	// their own note (ackedNote).
	why := MergedNote(ev.Data.IncidentKey, ev.service(), into, agent, "PagerDuty resolved the incident merged away and moved its alert, still open, to that one: "+
		"not applied as a resolve. pagerd's incident stays open and its rules go on; the merge counts as "+agent+"'s acknowledgement of this alert "+
		"(not if the incident was reopened after it), and PagerDuty is not told of pagerd's acknowledgements under this alert's key, which would acknowledge incident "+into+
		". Resolve it in pagerd when the problem is over")
	if done, err := wh.notApplied(w, r, user, page, notify.Resolve, why); done {
		return err
	}
	acted, err := wh.Receiver.AcknowledgePage(r.Context(), user, page)
	switch {
	case errors.Is(err, notify.ErrNotFound), err == nil && acted.AlreadyResolved:
		w.WriteHeader(http.StatusNoContent)
		return nil
	case err != nil:
		return err // 5xx: PagerDuty delivers it again
	case acted.NotStored > 0:
		return storedInPart(acted)
	}
	wh.log().Info("PagerDuty webhook: incident merged into another in PagerDuty; pagerd's incident is not resolved but acknowledged by whoever merged it, and stays open",
		"incident", id, "user", user, "agent", agent, "merged_into", into, "reopened_since", acted.ReopenedSince)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// mergedNotePrefix begins the timeline note of an alert whose PagerDuty
// incident was merged into another (MergedNote).
const mergedNotePrefix = "merged in PagerDuty: alert "

// MergedNote is the timeline note (resolve_ignored) of the alert pagerd
// pushed under key whose PagerDuty incident, in service (its id, then its
// name; "" when the webhook names none), by merged into the incident
// into, followed by what pagerd made of it. The dispatcher reads the key
// and the service back (MergedAlert): the alert now lives in that other
// incident, and an Events API acknowledge under its key, through that
// service's routing key, would acknowledge that one.
func MergedNote(key, service, into, by, rest string) string {
	in := ""
	if service != "" {
		in = " " + mergedServiceMark + service
	}
	return mergedNotePrefix + key + in + " into incident " + into + " by " + by + ": " + rest
}

// mergedServiceMark comes before the service in a MergedNote.
const mergedServiceMark = "in service "

// MergedKey is the dedup key of the alert a timeline note written by
// MergedNote names; false for any other note.
func MergedKey(note string) (key string, ok bool) {
	key, _, ok = MergedAlert(note)
	return key, ok
}

// MergedAlert is the dedup key of the alert a timeline note written by
// MergedNote names, and the id of the PagerDuty service it was merged in:
// "" for a note that names none (a webhook without one, or a note written
// before notes named it), which is read as a merge in every service the
// key went to. False for any other note.
func MergedAlert(note string) (key, service string, ok bool) {
	after, ok := strings.CutPrefix(note, mergedNotePrefix)
	if !ok {
		return "", "", false
	}
	key, rest, ok := strings.Cut(after, " ")
	if _, _, _, valid := ParseDedupKey(key); !ok || !valid {
		return "", "", false
	}
	if in, ok := strings.CutPrefix(rest, mergedServiceMark); ok {
		service, _, _ = strings.Cut(in, " ")
		if !serviceIDRE.MatchString(service) {
			service = ""
		}
	}
	return key, service, true
}
