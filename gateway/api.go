package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

func (s *Server) listIncidents(c echo.Context) error {
	q := c.QueryParams()
	f := store.Filter{Service: q.Get("service"), Priority: q.Get("priority"), Status: policy.Status(q.Get("status"))}
	switch f.Status {
	case "", policy.StatusTriggered, policy.StatusAcknowledged, policy.StatusResolved:
	default:
		return badRequest("status %q: use triggered, acknowledged or resolved", f.Status)
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return badRequest("limit %q: a number from 1 to 1000", l)
		}
		f.Limit = n
	}
	incs, err := s.store.List(c.Request().Context(), f)
	if err != nil {
		return err
	}
	cfg := s.Config()
	out := make([]incidentView, 0, len(incs))
	for _, inc := range incs {
		out = append(out, view(cfg, inc))
	}
	return c.JSON(http.StatusOK, map[string]any{"incidents": out})
}

func (s *Server) getIncident(c echo.Context) error {
	ctx := c.Request().Context()
	inc, err := s.store.Get(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	tl, err := s.store.Timeline(ctx, inc.ID)
	if err != nil {
		return err
	}
	v := view(s.Config(), inc)
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
			return badRequest("request body: %v (fields: user, message, level)", err)
		}
	}
	actor := "api:" + c.Get(ctxTokenName).(string)
	if req.User != "" {
		if s.Config().User(req.User) == nil {
			return badRequest("user %q is not in the config", req.User)
		}
		actor = req.User
	}
	if kind == policy.EventStatusUpdate && req.Message == "" {
		return badRequest("a status update needs a message")
	}
	inc, _, err := s.apply(c.Request().Context(), c.Param("id"), policy.Event{Kind: kind, Actor: actor, Message: req.Message, ToLevel: req.Level})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, view(s.Config(), inc))
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
	rows, err := s.Config().WhoIsOnCall(at, c.QueryParam("schedule"))
	if err != nil {
		return &inputError{http.StatusNotFound, err.Error()}
	}
	return c.JSON(http.StatusOK, map[string]any{"at": at, "oncall": rows})
}
