package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pagerd/pagerd/gateway/heartbeat"
	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/ingest"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/textcut"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/policy"
)

// The Opsgenie-compatible intake: Opsgenie's Alert API v2 (create, close,
// acknowledge) and heartbeat pings, with Opsgenie's bodies and codes, so
// Alertmanager's opsgenie_configs with api_url pointing at pagerd, and any
// Opsgenie client, work unchanged. The key is the service's opsgenie_key,
// presented as Opsgenie's are: Authorization: GenieKey <key>.

// Opsgenie routes.
const (
	opsgenieAlertsPath = "/v2/alerts"
	opsgenieActionPath = "/v2/alerts/:identifier/:action"
	opsgeniePingPath   = "/v2/heartbeats/:name/ping"
)

// genieKey reads "Authorization: GenieKey X" (any case of the scheme).
func genieKey(r *http.Request) string {
	h := r.Header.Get(echo.HeaderAuthorization)
	if len(h) > 9 && strings.EqualFold(h[:9], "geniekey ") {
		return strings.TrimSpace(h[9:])
	}
	return ""
}

// serviceByOpsgenieKey finds the service of an Opsgenie key.
func serviceByOpsgenieKey(c *policy.Config, key string) *policy.Service {
	svc, _ := serviceByIntegrationKey(c, key, "opsgenie_key")
	return svc
}

// opsgenie is one request of the Opsgenie-compatible intake: its start
// (for took) and its request id, a UUID as Opsgenie's are, which also
// replaces the X-Request-ID the server set, so the sender and pagerd's log
// name the same one. A request answered 202 gets, in its place, one that
// says what it did (opsgenie.done), for Opsgenie's request status.
type opsgenie struct {
	c     echo.Context
	start time.Time
	id    string
}

func (s *Server) opsgenieRequest(c echo.Context) *opsgenie {
	id := plainRequestID()
	c.Response().Header().Set(echo.HeaderXRequestID, id)
	return &opsgenie{c: c, start: time.Now(), id: id}
}

func (o *opsgenie) took() float64 {
	return float64(time.Since(o.start).Microseconds()/1000) / 1000
}

// accepted answers 202 {"result":…,"took":…,"requestId":…}.
func (o *opsgenie) accepted(result string) error {
	return o.c.JSON(http.StatusAccepted, ingest.OpsgenieResponse{Result: result, Took: o.took(), RequestID: o.id})
}

// refuse answers an error in Opsgenie's form, and notes why for the log of
// refused alerts.
func (o *opsgenie) refuse(code int, msg string, errs map[string]string) error {
	body := ingest.OpsgenieResponse{Message: msg, Errors: errs, Took: o.took(), RequestID: o.id}
	o.c.Set(ctxRejected, strings.TrimSpace(msg+" "+(&ingest.OpsgenieProblem{Errors: errs}).Error()))
	if code == http.StatusServiceUnavailable {
		o.c.Response().Header().Set("Retry-After", "5")
	}
	return o.c.JSON(code, body)
}

// stored answers what a failed write means, in Opsgenie's form: 503 when
// the store did not take it (senders retry), the refusal otherwise. retry
// says what a retry of that very request does, for a write that may have
// been stored: each request says what is true of its own.
func (o *opsgenie) stored(err error, retry string) error {
	switch {
	case errors.Is(err, store.ErrOutcomeUnknown):
		return o.refuse(http.StatusServiceUnavailable, "The incident store did not confirm the request in time: it may or may not have been processed. "+
			"Please retry: "+retry, nil)
	case errors.Is(err, store.ErrUnavailable):
		return o.refuse(http.StatusServiceUnavailable, "The incident store is unavailable; the request was not processed. Please retry later.", nil)
	}
	return err
}

// opsgenieAlertBucket is the rate-limit bucket (per service) of the
// Opsgenie intake's creates, and opsgenieActBucket that of its closes and
// acknowledgements: a flood of creates must not make the close of an
// alert wait (it ends pages, and the load of them). Updates, two for each
// create from an Alertmanager with update_alerts, have their own
// (opsgenieUpdateBucket): they must not halve the creates' rate. Its heartbeat pings
// are limited in heartbeatPingBucket.
const (
	opsgenieAlertBucket  = "og:"
	opsgenieActBucket    = "og-act:"
	opsgenieUpdateBucket = "og-update:"
)

// service authenticates the request by its GenieKey and applies the
// service's rate limit in the bucket; nil when it answered already.
func (s *Server) opsgenieService(o *opsgenie, cfg *policy.Config, bucket string) (*policy.Service, error) {
	key := genieKey(o.c.Request())
	if key == "" {
		o.c.Set(ctxKeyName, "none")
		return nil, o.refuse(http.StatusUnauthorized, "Could not authenticate: send Authorization: GenieKey <key> (the service's opsgenie_key)", nil)
	}
	svc := serviceByOpsgenieKey(cfg, key)
	if svc == nil {
		o.c.Set(ctxKeyName, "unknown")
		if replica, ok := s.unknownKey(o.c.Request().Context()); ok {
			return nil, o.refuse(http.StatusServiceUnavailable, "Could not authenticate with this replica's config, but "+newerConfigHas(replica)+
				"; the request was not processed. Please retry.", nil)
		}
		return nil, o.refuse(http.StatusUnauthorized, "Could not authenticate", nil)
	}
	o.c.Set(ctxKeyName, "services["+svc.Name+"].integrations.opsgenie_key")
	if !s.allow(cfg, bucket, svc.Name) {
		o.c.Response().Header().Set("Retry-After", "1")
		return nil, o.refuse(http.StatusTooManyRequests, "You are making too many requests! To prevent abuse, requests are limited (server.rate_limit). Please retry later.", nil)
	}
	return svc, nil
}

// body reads the body; ok is false when it answered instead (err is then
// the answer's). A body over Opsgenie's limit (MaxOpsgenieBytes) is read
// as a stream with its strings cut (ingest.ReadOpsgenieCut), one at a
// time, as the Alertmanager intake reads a notification over its own:
// Alertmanager's opsgenie_configs put a group's every alert in the
// description, and a 413, which Alertmanager does not retry, paged nobody
// for an outage of 15,000 alerts. One whose Content-Length says so is not
// read before its turn (streamHead).
func (o *opsgenie) body(s *Server) (b []byte, ok bool, err error) {
	r := o.c.Request()
	if r.ContentLength > ingest.MaxOpsgenieStreamBytes {
		return nil, false, o.refuse(http.StatusRequestEntityTooLarge, fmt.Sprintf("Request body is larger than %d bytes", ingest.MaxOpsgenieStreamBytes), nil)
	}
	b, whole, err := streamHead(r, ingest.MaxOpsgenieBytes)
	if err != nil {
		return nil, false, o.unread(err)
	}
	if (len(b) > 0 || !whole) && jsonContentType(r) != nil {
		return nil, false, o.refuse(http.StatusUnsupportedMediaType, "Content-Type must be application/json", nil)
	}
	if whole {
		return b, true, nil
	}
	if !s.takeStream(r.Context()) {
		return nil, false, o.refuse(http.StatusServiceUnavailable, fmt.Sprintf("Another request over %d MiB was being read; this one was not processed. Please retry.",
			ingest.MaxOpsgenieBytes>>20), nil)
	}
	defer s.endStream()
	b, err = ingest.ReadOpsgenieCut(io.MultiReader(bytes.NewReader(b), r.Body))
	switch {
	case errors.Is(err, ingest.ErrOpsgenieTooLarge):
		return nil, false, o.refuse(http.StatusRequestEntityTooLarge, fmt.Sprintf("Request body is larger than %d bytes, or than %d bytes with each field cut to Opsgenie's limits",
			ingest.MaxOpsgenieStreamBytes, ingest.MaxOpsgenieBytes), nil)
	case err != nil:
		return nil, false, o.unread(err)
	}
	s.log.Warn(fmt.Sprintf("read an Opsgenie request over %d MiB as a stream, its fields cut to Opsgenie's limits", ingest.MaxOpsgenieBytes>>20),
		"path", r.URL.Path, "read_bytes", len(b))
	return b, true, nil
}

// unread answers a body whose read failed: 400 when the same request
// fails again (malformedBody), else 503, retried.
func (o *opsgenie) unread(err error) error {
	if malformedBody(err) {
		return o.refuse(http.StatusBadRequest, "Could not read the request body: "+err.Error(), nil)
	}
	return o.refuse(http.StatusServiceUnavailable, "Could not read the request body; the request was not processed. Please retry.", nil)
}

// opsgenieCreate is POST /v2/alerts: Opsgenie's create alert. The alias is
// the dedup key (one open incident per alias); an alert without one gets
// an alias derived from its content (ingest.OpsgenieAlert.DerivedAlias), so
// a retry is the same incident.
func (s *Server) opsgenieCreate(c echo.Context) error {
	received, read := s.o.Arrival(c.Request()) // read: the latest it may have arrived (incident.WithReadAt)
	o := s.opsgenieRequest(c)
	cfg := s.config()
	svc, err := s.opsgenieService(o, cfg, opsgenieAlertBucket)
	if svc == nil {
		return err
	}
	body, ok, err := o.body(s)
	if !ok {
		return err
	}
	// The body read, the config it is routed by is held until it is
	// stored (a reload waits), and read again.
	s.takeIn()
	defer s.takenIn()
	if now := s.config(); now != cfg {
		cfg = now
		if svc = serviceByOpsgenieKey(cfg, genieKey(c.Request())); svc == nil {
			c.Set(ctxKeyName, "unknown")
			return o.refuse(http.StatusUnauthorized, "Could not authenticate", nil)
		}
	}
	a, p := ingest.DecodeOpsgenieAlert(body)
	if p != nil {
		return o.refuse(p.Code, p.Message, p.Errors)
	}
	alias := a.Alias
	if alias == "" {
		alias = a.DerivedAlias()
	}
	labels := a.Labels(svc.SeverityLabel)
	ctx, cancel := storeBudget(c.Request())
	ctx = incident.WithReadAt(ctx, read)
	defer cancel()
	id, _, err := s.o.Incidents.Trigger(ctx, cfg, incident.Alert{Service: svc, DedupKey: ingest.OpsgenieDedupKey(alias),
		Source: "opsgenie", Actor: "opsgenie", Labels: []map[string]string{labels}, Titles: []string{a.Summary()}, Summary: a.Summary(),
		Details: a.IncidentDetails(labels), Received: received})
	if err != nil {
		return o.stored(err, "a retry lands on the same alert, it never opens a second one.")
	}
	return o.done(ogCreate, id, s.now(), ingest.OpsgenieAccepted)
}

// opsgenieAct is POST /v2/alerts/<identifier>/close and /acknowledge, the
// identifier an alias or (Opsgenie's default) an id, as identifierType
// says: a pagerd incident id of the key's service. Like Opsgenie, which
// does the request later, an identifier that names no open alert is
// accepted and changes nothing.
//
// The body's user is who acted (policy.Config.ExternalActor) and its
// note is kept in the ack or resolve timeline entry, both cleaned and
// cut (Opsgenie takes notes of 25,000 characters; pagerd keeps
// policy.MaxNoteBytes).
func (s *Server) opsgenieAct(c echo.Context) error {
	received, read := s.o.Arrival(c.Request()) // read: the latest its close may have arrived
	o := s.opsgenieRequest(c)
	cfg := s.config()
	svc, err := s.opsgenieService(o, cfg, opsgenieActBucket)
	if svc == nil {
		return err
	}
	if c.Param("action") == "notes" {
		return s.opsgenieNote(o, cfg, svc)
	}
	var ev policy.Event
	outcome, retry, action := "", "", ogAction(0)
	switch c.Param("action") {
	case "close":
		ev, outcome, action = policy.Event{Kind: policy.EventResolve, Received: received}, "resolved", ogClose
		retry = "closing a closed alert changes nothing."
	case "acknowledge":
		ev, outcome, action = policy.Event{Kind: policy.EventAcknowledge}, "acknowledged", ogAcknowledge
		retry = "acknowledging an acknowledged alert changes nothing."
	default:
		return o.refuse(http.StatusNotFound, fmt.Sprintf("pagerd takes close, acknowledge and notes of an alert, not %q", c.Param("action")), nil)
	}
	body, ok, err := o.body(s)
	if !ok {
		return err
	}
	a, p := ingest.DecodeOpsgenieAction(body)
	if p != nil {
		return o.refuse(p.Code, p.Message, p.Errors)
	}
	// The request names who acted (user) and what they wrote (note):
	// the timeline, the reports and the Slack card say that person, the
	// config user the name is or else the name marked as Opsgenie's,
	// never the person paged; without a user, "opsgenie".
	ev.Actor = cfg.ExternalActor(notify.SourceOpsgenie, a.User)
	ev.Note = textcut.Line(a.Note, policy.MaxNoteBytes)
	ref, byDedup, ok, err := o.identifier()
	if !ok {
		return err
	}
	ctx, cancel := storeBudget(c.Request())
	ctx = incident.WithReadAt(ctx, read)
	defer cancel()
	var id string
	if byDedup {
		id, err = s.o.Incidents.ActByDedup(ctx, svc, ref, "opsgenie", ev, outcome)
	} else {
		id, err = s.o.Incidents.ActByID(ctx, svc, ref, "opsgenie", ev, outcome)
	}
	if err != nil {
		return o.stored(err, retry)
	}
	return o.done(action, id, s.now(), ingest.OpsgenieAccepted)
}

// opsgenieNote is POST /v2/alerts/<identifier>/notes: Opsgenie's add
// note, {"note","user","source"}, the note required. It is kept in the
// incident's timeline as a note entry by the body's user (cleaned and cut
// as an acknowledgement's note), on the alert open or closed, as Opsgenie
// takes it; it changes no state and pages nobody. Like a close, an
// identifier that names no alert is accepted and changes nothing.
func (s *Server) opsgenieNote(o *opsgenie, cfg *policy.Config, svc *policy.Service) error {
	body, ok, err := o.body(s)
	if !ok {
		return err
	}
	a, p := ingest.DecodeOpsgenieAction(body)
	if p != nil {
		return o.refuse(p.Code, p.Message, p.Errors)
	}
	note := textcut.Line(a.Note, policy.MaxNoteBytes)
	if strings.TrimSpace(note) == "" {
		return o.refuse(http.StatusUnprocessableEntity, "Request body is not processable. Please check the errors.",
			map[string]string{"note": "Note can not be empty."})
	}
	ref, byDedup, ok, err := o.identifier()
	if !ok {
		return err
	}
	ctx, cancel := storeBudget(o.c.Request())
	defer cancel()
	actor := cfg.ExternalActor(notify.SourceOpsgenie, a.User)
	id, err := s.o.Incidents.NoteOn(ctx, svc, ref, byDedup, "opsgenie",
		store.Entry{At: s.now(), Type: "note", Actor: actor, User: actor, Note: note})
	if err != nil {
		return o.stored(err, "a note added again is in the timeline twice.")
	}
	return o.done(ogAddNote, id, s.now(), ingest.OpsgenieAccepted)
}

// opsgenieUpdate is PUT /v2/alerts/<identifier>/message and /description,
// Opsgenie's updates of an alert's message and description, by alias or id
// as opsgenieAct takes them: Alertmanager's opsgenie_configs with
// update_alerts: true send both after every create, so that an open alert
// says what its group says now. A message becomes the incident's summary.
// The description is kept in the incident's details, which only an alert
// (a create again, a repeat) writes: an update to the description the
// alert has is accepted (Alertmanager's, after the create that carried
// it), any other is 422, never a 202 for a change not stored. An update
// changes no state and pages nobody; like Opsgenie, an identifier that
// names no open alert is accepted and changes nothing.
func (s *Server) opsgenieUpdate(c echo.Context) error {
	o := s.opsgenieRequest(c)
	field := c.Param("action")
	if field != ingest.OpsgenieUpdateMessage && field != ingest.OpsgenieUpdateDescription {
		return o.refuse(http.StatusNotFound, fmt.Sprintf("pagerd takes updates of an alert's message and description, not %q", field), nil)
	}
	cfg := s.config()
	svc, err := s.opsgenieService(o, cfg, opsgenieUpdateBucket)
	if svc == nil {
		return err
	}
	body, ok, err := o.body(s)
	if !ok {
		return err
	}
	value, p := ingest.DecodeOpsgenieUpdate(body, field)
	if p != nil {
		return o.refuse(p.Code, p.Message, p.Errors)
	}
	ident, byDedup, ok, err := o.identifier()
	if !ok {
		return err
	}
	edit := func(inc *store.Incident) (string, bool, error) {
		summary := ingest.OpsgenieMessageSummary(value)
		if inc.Summary == summary {
			return "", false, nil
		}
		detail := fmt.Sprintf("message: %q (was %q)", summary, inc.Summary)
		inc.Summary = summary
		return detail, true, nil
	}
	if field == ingest.OpsgenieUpdateDescription {
		edit = func(inc *store.Incident) (string, bool, error) {
			had, err := ingest.OpsgenieDescription(inc.Details)
			if err == nil && had != value {
				err = errDescriptionNotKept
			}
			return "", false, err
		}
	}
	ctx, cancel := storeBudget(c.Request())
	defer cancel()
	id, err := s.o.Incidents.EditOpen(ctx, svc, ident, byDedup, "opsgenie", edit)
	switch {
	case errors.Is(err, ingest.ErrNotOpsgenieDetails):
		return o.refuse(http.StatusUnprocessableEntity, "Request body is not processable. Please check the errors.",
			map[string]string{"identifier": "names an incident opened by another intake, which has no Opsgenie description"})
	case errors.Is(err, errDescriptionNotKept):
		return o.refuse(http.StatusUnprocessableEntity, "Request body is not processable. Please check the errors.",
			map[string]string{"description": "pagerd keeps the description an alert was created (or repeated) with: send the alert again, same alias, with this description"})
	case err != nil:
		return o.stored(err, "updating an alert to what it says changes nothing.")
	}
	action := ogUpdateMessage
	if field == ingest.OpsgenieUpdateDescription {
		action = ogUpdateDescription
	}
	return o.done(action, id, s.now(), ingest.OpsgenieAccepted)
}

// errDescriptionNotKept is an update of an alert's description to one it
// does not have (opsgenieUpdate).
var errDescriptionNotKept = errors.New("pagerd keeps the description an alert was created with")

// identifier reads the alert a close, acknowledge or update names: the
// dedup key of an alias (identifierType=alias), or an id (id, Opsgenie's
// default: a pagerd incident id). ok is false when it answered instead
// (err is then the answer's): pagerd has no tiny ids.
func (o *opsgenie) identifier() (ref string, byDedup, ok bool, err error) {
	ref = pathParam(o.c, "identifier")
	switch o.c.QueryParam("identifierType") {
	case "alias":
		return ingest.OpsgenieDedupKey(ref), true, true, nil
	case "", "id":
		return ref, false, true, nil
	case "tiny":
		return "", false, false, o.refuse(http.StatusUnprocessableEntity, "Request body is not processable. Please check the errors.",
			map[string]string{"identifierType": "pagerd has no tiny ids: use alias, or id (the pagerd incident id)"})
	}
	return "", false, false, o.refuse(http.StatusUnprocessableEntity, "Request body is not processable. Please check the errors.",
		map[string]string{"identifierType": "should be one of [id, alias, tiny]"})
}

// pathParam is the path parameter name as the sender meant it. echo
// routes on the escaped path when it differs from the default escaping
// (an alias "db:disk-full" sent as db%3Adisk-full, "eu/db1" as eu%2Fdb1)
// and gives its parameters still escaped: looked up as sent, such an
// alias names no alert and its close or acknowledge does nothing. Routed
// on the unescaped path, the parameter is already unescaped (a literal
// "50%41" sent as 50%2541 must not be unescaped twice). A parameter that
// does not unescape is kept as sent.
func pathParam(c echo.Context, name string) string {
	v := c.Param(name)
	if c.Request().URL.RawPath == "" {
		return v
	}
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

// opsgeniePing is GET|POST|PUT /v2/heartbeats/<name>/ping: Opsgenie's
// heartbeat ping, for the service of the GenieKey, limited with the
// service's other pings, not with its alerts. Its store writes are kept
// from a sender that hangs up, as heartbeatPing's are.
func (s *Server) opsgeniePing(c echo.Context) error {
	o := s.opsgenieRequest(c)
	cfg := s.config()
	svc, err := s.opsgenieService(o, cfg, heartbeatPingBucket)
	if svc == nil {
		return err
	}
	name := c.Param("name")
	ctx, cancel := storeBudget(c.Request())
	defer cancel()
	_, _, err = s.o.Heartbeats.Ping(ctx, svc, name)
	if errors.Is(err, heartbeat.ErrUnknown) {
		// Watched by a replica whose config has it (heartbeatPing).
		var watched bool
		if watched, err = s.o.Heartbeats.Watched(ctx, svc.Name, name); err == nil && watched {
			return o.refuse(http.StatusServiceUnavailable, fmt.Sprintf("Heartbeat with name [%s] is not in this replica's config of service %s, but in another's "+
				"(a config being rolled out?); the ping was not processed. Please retry.", name, svc.Name), nil)
		}
		if err == nil {
			return o.refuse(http.StatusNotFound, fmt.Sprintf("Heartbeat with name [%s] does not exist in service %s", name, svc.Name), nil)
		}
	}
	if err != nil {
		return o.stored(err, "a ping again sets the same expiry, and resolves nothing twice.")
	}
	return o.accepted(ingest.OpsgeniePong)
}
