package gateway

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/pagerd/pagerd/gateway/feeds"
)

// Calendar feeds: GET /api/v1/schedules/<schedule>/feed[?user=ID] answers
// the feed's secret URL (POST makes a new one, and the old one stops
// working); GET /feeds/<token>.ics answers the calendar, with no other
// credential than the token.

func (s *Server) feedURL(c echo.Context) error {
	actor := "api:" + c.Get(ctxTokenName).(string)
	rotate := c.Request().Method == http.MethodPost
	tok, err := s.o.Feeds.Token(c.Request().Context(), c.Param("schedule"), c.QueryParam("user"), actor, rotate)
	if errors.Is(err, feeds.ErrNotFound) {
		return &inputError{http.StatusNotFound, err.Error()}
	}
	if err != nil {
		return retrying(err, "retry: the URL the retry answers is the one that works")
	}
	base := s.config().Server.PublicURL
	if base == "" {
		base = c.Scheme() + "://" + c.Request().Host
	}
	if rotate {
		s.log.Info("calendar feed URL made anew; the old one no longer works", "schedule", c.Param("schedule"),
			"user", c.QueryParam("user"), "actor", actor)
	}
	return c.JSON(http.StatusOK, map[string]string{"url": feeds.URL(base, tok)})
}

func (s *Server) feed(c echo.Context) error {
	tok := strings.TrimSuffix(c.Param("token"), ".ics")
	weeks := feeds.DefaultWeeks
	if v := c.QueryParam("weeks"); v != "" {
		// Said at once, when the calendar is subscribed: a feed quietly
		// four weeks long where 12 were asked for is found out only when
		// someone's shift is missing from it.
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > feeds.MaxWeeks {
			return badRequest("weeks %q: a whole number of weeks from 1 to %d", v, feeds.MaxWeeks)
		}
		weeks = n
	}
	cal, err := s.o.Feeds.Render(c.Request().Context(), tok, weeks)
	if errors.Is(err, feeds.ErrNotFound) {
		return &inputError{http.StatusNotFound, "no such calendar feed (its URL may have been made anew)"}
	}
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "private, max-age=300")
	h.Set("Referrer-Policy", "no-referrer")
	return c.Blob(http.StatusOK, "text/calendar; charset=utf-8", []byte(cal))
}
