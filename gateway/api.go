package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// listIncidents answers GET /api/v1/incidents: newest first (creation
// time, then id), filtered by status, service, priority and creation time
// (since inclusive, until exclusive, RFC 3339), a page of limit (default
// 100, at most 1,000) at a time. When more may follow, the answer carries
// an opaque cursor; ?cursor= with it returns the next page. New incidents
// enter at the head of the order, so paging neither skips nor repeats one
// while they keep arriving.
func (s *Server) listIncidents(c echo.Context) error {
	q := c.QueryParams()
	f := store.Filter{Service: q.Get("service"), Priority: q.Get("priority"), Status: policy.Status(q.Get("status"))}
	switch f.Status {
	case "", policy.StatusTriggered, policy.StatusAcknowledged, policy.StatusResolved:
	default:
		return badRequest("status %q: use triggered, acknowledged or resolved", f.Status)
	}
	limit := store.DefaultListLimit
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxListLimit {
			return badRequest("limit %q: a number from 1 to %d", l, maxListLimit)
		}
		limit = n
	}
	for _, p := range []struct {
		name string
		to   *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return badRequest("%s %q: use RFC 3339, like 2025-09-10T02:00:00Z", p.name, v)
			}
			*p.to = t
		}
	}
	if v := q.Get("cursor"); v != "" {
		cur, err := decodeCursor(v)
		if err != nil {
			return badRequest("cursor %q is not one this API gave out: start again without it", v)
		}
		f.After = &cur
	}
	// One more than the page, to know whether another page follows.
	f.Limit = limit + 1
	incs, err := s.o.Incidents.List(c.Request().Context(), f)
	if err != nil {
		return err
	}
	page := listPage{Incidents: make([]incidentView, 0, min(len(incs), limit))}
	if len(incs) > limit {
		incs = incs[:limit]
		page.Cursor = encodeCursor(store.CursorOf(incs[limit-1]))
	}
	cfg := s.config()
	for _, inc := range incs {
		page.Incidents = append(page.Incidents, view(cfg, inc))
	}
	return c.JSON(http.StatusOK, page)
}

// maxListLimit is the largest page of incidents the API answers with.
const maxListLimit = 1000

// listPage is GET /api/v1/incidents's answer.
type listPage struct {
	Incidents []incidentView `json:"incidents"`
	// Cursor, when more incidents may follow, fetches them: ?cursor=.
	Cursor string `json:"cursor,omitempty"`
}

// encodeCursor makes a cursor opaque: its form may change, so clients must
// only pass it back.
func encodeCursor(c store.Cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte("1." + strconv.FormatInt(c.CreatedAt.UnixMilli(), 10) + "." + c.ID))
}

func decodeCursor(s string) (store.Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return store.Cursor{}, err
	}
	parts := strings.SplitN(string(b), ".", 3)
	if len(parts) != 3 || parts[0] != "1" {
		return store.Cursor{}, errors.New("not a cursor")
	}
	ms, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return store.Cursor{}, err
	}
	if _, err := store.ShardOfID(parts[2]); err != nil {
		return store.Cursor{}, err
	}
	return store.Cursor{CreatedAt: time.UnixMilli(ms).UTC(), ID: parts[2]}, nil
}

func (s *Server) getIncident(c echo.Context) error {
	ctx := c.Request().Context()
	inc, err := s.o.Incidents.Get(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	tl, err := s.o.Incidents.Timeline(ctx, inc.ID)
	if err != nil {
		return err
	}
	v := view(s.config(), inc)
	v.Timeline = tl
	return c.JSON(http.StatusOK, v)
}

// actionRequest is the optional body of an incident action.
type actionRequest struct {
	// User is who acts, a user id from the config; default the API token.
	User string `json:"user"`
	// Message is the text of a status update (required for status).
	Message string `json:"message"`
	// Level, for escalate, is the level to go to (default the next).
	Level string `json:"level"`
	// FromLevel, for escalate, is the level (counted from 1, as the
	// incident's level shows it) the escalation is from: when the incident
	// has left it already, nothing changes and the answer is 409. A
	// client that escalates on a person's behalf sends it, so a request
	// repeated escalates once. Unset, the escalation is from wherever the
	// incident is.
	FromLevel *int `json:"from_level"`
	// FromLevelAt, with FromLevel, is when that level started as the
	// client read it (the incident's level_started_at), or when the page
	// it answers went out (RFC 3339): at the last level, which an
	// escalation starts again rather than leaving, the request repeated
	// is refused with 409 too. A time to the second stands for the end of
	// that second, so a time read to the second never refuses the
	// escalation it asks for.
	FromLevelAt string `json:"from_level_at"`
	// Reopened, for acknowledge, is the incident's reopened count as the
	// client read it (0 when the incident shows none): when the incident
	// was re-opened since, nothing changes and the answer is 409. An
	// acknowledgement whose answer was lost, retried after the incident
	// was acknowledged and re-opened (an escalation, a raised priority, a
	// rule), would otherwise acknowledge pages nobody has seen.
	Reopened *int `json:"reopened"`
}

var actionEvents = map[string]policy.EventKind{
	"acknowledge": policy.EventAcknowledge,
	"resolve":     policy.EventResolve,
	"escalate":    policy.EventEscalate,
	"status":      policy.EventStatusUpdate,
}

func (s *Server) incidentAction(c echo.Context) error {
	kind, ok := actionEvents[c.Param("action")]
	if !ok {
		return &inputError{http.StatusNotFound, "unknown action " + strconv.Quote(c.Param("action")) + ": use acknowledge, resolve, escalate or status"}
	}
	var req actionRequest
	body, err := readBody(c)
	if err != nil {
		return err
	}
	if len(body) > 0 {
		if err := jsonContentType(c.Request()); err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return badRequest("request body: %v (fields: user, message, level, from_level, from_level_at, reopened)", err)
		}
	}
	actor := "api:" + c.Get(ctxTokenName).(string)
	if req.User != "" {
		if s.config().User(req.User) == nil {
			return badRequest("user %q is not in the config", req.User)
		}
		actor = req.User
	}
	if kind == policy.EventStatusUpdate && req.Message == "" {
		return badRequest("a status update needs a message")
	}
	ev := policy.Event{Kind: kind, Actor: actor, Message: req.Message, ToLevel: req.Level}
	if req.FromLevel != nil {
		if kind != policy.EventEscalate || *req.FromLevel < 1 {
			return badRequest("from_level is for escalate, a level counted from 1")
		}
		ev.FromLevel, ev.FromLevelSet = *req.FromLevel-1, true
	}
	if req.Reopened != nil {
		if kind != policy.EventAcknowledge || *req.Reopened < 0 {
			return badRequest("reopened is for acknowledge: the incident's reopened as read (0 when it shows none)")
		}
		ev.AckReopened, ev.AckReopenedSet = *req.Reopened, true
	}
	if req.FromLevelAt != "" {
		if req.FromLevel == nil {
			return badRequest("from_level_at goes with from_level: the level it started, as read")
		}
		t, err := time.Parse(time.RFC3339Nano, req.FromLevelAt)
		if err != nil {
			return badRequest("from_level_at %q: use RFC 3339, like the incident's level_started_at", req.FromLevelAt)
		}
		if t.Nanosecond() == 0 {
			// Maybe read to the second: the level may have started
			// later in it.
			t = t.Add(time.Second - time.Millisecond)
		}
		ev.FromLevelAt = t
	}
	inc, _, err := s.o.Incidents.Apply(c.Request().Context(), c.Param("id"), ev)
	if errors.Is(err, incident.ErrAlreadyEscalated) && inc != nil {
		v := view(s.config(), inc)
		at := fmt.Sprintf("level %d", v.Level)
		if v.LevelName != "" {
			// A level a reload took out has no name.
			at += " (" + v.LevelName + ")"
		}
		return &inputError{http.StatusConflict, fmt.Sprintf("already escalated from level %d: the incident is at %s since %s",
			*req.FromLevel, at, inc.State.LevelStartedAt.UTC().Format(time.RFC3339))}
	}
	if errors.Is(err, incident.ErrReopenedSince) && inc != nil {
		return &inputError{http.StatusConflict, fmt.Sprintf("the incident was re-opened after the reading acknowledged (reopened %d, now %d) and pages again: "+
			"read it (GET /api/v1/incidents/%s) and acknowledge with its reopened to stop those pages", *req.Reopened, inc.State.Reopened, inc.ID)}
	}
	if err != nil {
		return retrying(err, actionRetry(kind, req))
	}
	return c.JSON(http.StatusOK, view(s.config(), inc))
}

// actionRetry is what a retry of an incident action does, for the 503 of
// one that may or may not have been stored. An escalation without
// from_level escalates again from wherever the incident is: sent twice,
// it pages the next level twice, or skips one.
func actionRetry(kind policy.EventKind, req actionRequest) string {
	switch {
	case kind == policy.EventAcknowledge && req.Reopened != nil:
		return "retry the same request: acknowledging an acknowledged incident changes nothing, and one re-opened since answers 409"
	case kind == policy.EventAcknowledge:
		return "retry: acknowledging an acknowledged incident changes nothing " +
			"(but if it was acknowledged and re-opened meanwhile, the retry acknowledges the re-opening: send reopened, the incident's count as read, and it answers 409 instead)"
	case kind == policy.EventResolve:
		return "retry: resolving a resolved incident changes nothing"
	case kind == policy.EventStatusUpdate:
		return "read the incident's timeline (GET /api/v1/incidents/<id>) before retrying: if it was stored, a retry posts the update twice"
	case req.FromLevel != nil && req.FromLevelAt != "":
		return "retry the same request: if it was stored, the retry answers 409, already escalated"
	case req.FromLevel != nil:
		return "retry the same request: if it was stored, the retry answers 409, already escalated " +
			"(at the last level, which an escalation starts again, only with from_level_at too: add the incident's level_started_at)"
	}
	return "do not retry as sent: if it was stored, a retry escalates again and pages the next level twice. " +
		"Read the incident (GET /api/v1/incidents/<id>) and send its level as from_level and its level_started_at as from_level_at: " +
		"that request escalates once, however often it is sent"
}

func (s *Server) oncall(c echo.Context) error {
	at := s.now()
	if v := c.QueryParam("at"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return badRequest("at %q: use RFC 3339, like 2025-09-10T02:00:00-04:00", v)
		}
		at = t
	}
	rows, err := s.config().WhoIsOnCall(at, c.QueryParam("schedule"))
	if err != nil {
		return &inputError{http.StatusNotFound, err.Error()}
	}
	return c.JSON(http.StatusOK, map[string]any{"at": at, "oncall": rows})
}
