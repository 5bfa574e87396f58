package gateway

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pagerd/pagerd/gateway/changes"
)

// listChanges answers GET /api/v1/changes: the change events kept
// (POST /v2/change/enqueue), newest first (by when they happened), of one
// service or of all, that happened in [since, until) (RFC 3339, either
// open), at most limit (default 100, at most 1,000); more says some were
// left out: narrow the span.
func (s *Server) listChanges(c echo.Context) error {
	q := c.QueryParams()
	limit := 100
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxListLimit {
			return badRequest("limit %q: a number from 1 to %d", l, maxListLimit)
		}
		limit = n
	}
	var since, until time.Time
	for _, p := range []struct {
		name string
		to   *time.Time
	}{{"since", &since}, {"until", &until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return badRequest("%s %q: use RFC 3339, like 2025-09-10T02:00:00Z", p.name, v)
			}
			*p.to = t
		}
	}
	cfg := s.config()
	var services []string
	if name := q.Get("service"); name != "" {
		if cfg.Service(name) == nil {
			return &inputError{http.StatusNotFound, fmt.Sprintf("no service %q is defined", name)}
		}
		services = []string{name}
	} else {
		for i := range cfg.Services {
			services = append(services, cfg.Services[i].Name)
		}
	}
	if s.o.Changes == nil {
		return c.JSON(http.StatusOK, changesPage{Changes: []changes.Change{}})
	}
	list, err := s.o.Changes.List(c.Request().Context(), services, since, until, limit+1)
	if err != nil {
		return err
	}
	page := changesPage{Changes: list}
	if page.Changes == nil {
		page.Changes = []changes.Change{}
	}
	if len(list) > limit {
		page.Changes, page.More = list[:limit], true
	}
	return c.JSON(http.StatusOK, page)
}

// changesPage is GET /api/v1/changes's answer.
type changesPage struct {
	Changes []changes.Change `json:"changes"`
	More    bool             `json:"more,omitempty"`
}
