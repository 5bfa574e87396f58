package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pagerd/pagerd/gateway/overrides"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// The overrides API: GET, POST /api/v1/schedules/<schedule>/overrides and
// DELETE .../overrides/<id>. The overrides service does the work; these
// handlers read requests and write answers.

func viewOverride(cfg *policy.Config, o overrides.Override) overrides.Made {
	v := overrides.Made{Override: o}
	if u := cfg.User(o.User); u != nil {
		v.Name = u.DisplayName()
	}
	return v
}

func (s *Server) listOverrides(c echo.Context) error {
	ended := false
	if v := c.QueryParam("ended"); v != "" {
		// A typo ("yes", "1 ") silently listing only the overrides in
		// force reads as "none ended": refused, as reports' open= is.
		var err error
		if ended, err = strconv.ParseBool(v); err != nil {
			return badRequest("ended %q: true or false", v)
		}
	}
	list, err := s.o.Overrides.List(c.Request().Context(), c.Param("schedule"), ended)
	if err != nil {
		return overrideError(err)
	}
	cfg := s.config()
	out := make([]overrides.Made, 0, len(list))
	for _, o := range list {
		v := viewOverride(cfg, o)
		v.LeftOut = overrides.LeftOut(cfg, o)
		out = append(out, v)
	}
	return c.JSON(http.StatusOK, map[string]any{"schedule": c.Param("schedule"), "overrides": out})
}

func (s *Server) createOverride(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return err
	}
	if err := jsonContentType(c.Request()); err != nil {
		return err
	}
	var req overrides.CreateBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return badRequest("request body: %v (fields: tier, user, start, end or duration, reason, swap_start, swap_end; times in RFC 3339)", err)
	}
	if req.Start.IsZero() {
		req.Start = s.now().UTC().Truncate(time.Second)
	}
	if req.Duration != "" {
		if !req.End.IsZero() {
			return badRequest("give end or duration, not both")
		}
		d, err := policy.ParseDuration(req.Duration)
		if err != nil || d <= 0 {
			return badRequest("duration %q: a duration like 4h or 90m", req.Duration)
		}
		req.End = req.Start.Add(d)
	}
	actor := "api:" + c.Get(ctxTokenName).(string)
	made, err := s.o.Overrides.Create(c.Request().Context(), c.Param("schedule"), overrides.Request{Tier: req.Tier, User: req.User,
		Start: req.Start, End: req.End, Reason: req.Reason, SwapStart: req.SwapStart, SwapEnd: req.SwapEnd}, actor)
	if err != nil {
		return retrying(overrideError(err), "retry: if it was stored, the retry answers 409, overlapping the override made "+
			"(GET /api/v1/schedules/"+c.Param("schedule")+"/overrides lists it)")
	}
	cfg := s.config()
	v := viewOverride(cfg, made[0])
	if len(made) > 1 {
		pair := viewOverride(cfg, made[1])
		v.SwapOverride = &pair
	}
	for _, o := range made {
		v.Warnings = append(v.Warnings, cfg.OnCallWarnings(o.User, o.Tier, o.Replaces)...)
	}
	return c.JSON(http.StatusCreated, v)
}

func (s *Server) deleteOverride(c echo.Context) error {
	actor := "api:" + c.Get(ctxTokenName).(string)
	gone, err := s.o.Overrides.Delete(c.Request().Context(), c.Param("schedule"), c.Param("id"), actor)
	if err != nil {
		return retrying(overrideError(err), "retry: if it was stored, the retry answers 404, no such override, "+
			"or for one that was under way 409, it has ended")
	}
	cfg := s.config()
	out := make([]overrides.Made, 0, len(gone))
	for _, o := range gone {
		out = append(out, viewOverride(cfg, o))
	}
	return c.JSON(http.StatusOK, map[string]any{"deleted": out})
}

// overrideError turns the overrides service's refusals into answers; the
// store's errors go to the error handler as they are (503).
func overrideError(err error) error {
	switch {
	case errors.Is(err, overrides.ErrNotFound):
		return &inputError{http.StatusNotFound, err.Error()}
	case errors.Is(err, overrides.ErrBadInput):
		return &inputError{http.StatusBadRequest, err.Error()}
	case errors.Is(err, overrides.ErrOverlap), errors.Is(err, overrides.ErrEnded):
		return &inputError{http.StatusConflict, err.Error()}
	case errors.Is(err, store.ErrConflict):
		// Other replicas kept changing the schedule's overrides.
		return &inputError{http.StatusServiceUnavailable, "the schedule's overrides kept changing under this request; try again"}
	}
	return err
}
