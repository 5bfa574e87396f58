package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/pagerd/pagerd/gateway/maintenance"
)

// maintenanceView is a window as the API shows it: the window and its
// state (scheduled, active, ended) now.
type maintenanceView struct {
	maintenance.Window
	State string `json:"state"`
}

// listMaintenance is GET /api/v1/maintenance: every window, the config's
// and the API's, with its state; ?state= keeps one state.
func (s *Server) listMaintenance(c echo.Context) error {
	state := c.QueryParam("state")
	switch state {
	case "", "scheduled", "active", "ended":
	default:
		return badRequest("state %q: use scheduled, active or ended", state)
	}
	ws, err := s.o.Maintenance.List(c.Request().Context())
	if err != nil {
		return err
	}
	now := s.now()
	out := make([]maintenanceView, 0, len(ws))
	for _, w := range ws {
		v := maintenanceView{Window: w, State: w.State(now)}
		if state == "" || v.State == state {
			out = append(out, v)
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"windows": out})
}

// addMaintenance is POST /api/v1/maintenance: a window now for a duration
// ({"services":[…],"matchers":[…],"duration":"90m","reason":…}) or
// scheduled ({…,"start":…,"end":…}). 201 with the window, stored with its
// start and end.
func (s *Server) addMaintenance(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return err
	}
	if err := jsonContentType(c.Request()); err != nil {
		return err
	}
	var req maintenance.Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return badRequest("request body: %v (fields: name, services, matchers, start, end, duration, reason)", err)
	}
	w, err := s.o.Maintenance.Add(c.Request().Context(), req, "api:"+c.Get(ctxTokenName).(string))
	if errors.Is(err, maintenance.ErrBadInput) {
		return badRequest("%v", err)
	}
	if err != nil {
		return retrying(err, "list the windows (GET /api/v1/maintenance) before retrying: if it was stored, "+
			"a retry adds a second window, and the maintenance lasts until both are deleted")
	}
	return c.JSON(http.StatusCreated, maintenanceView{Window: *w, State: w.State(s.now())})
}

// deleteMaintenance is DELETE /api/v1/maintenance/<id>: the window ends
// now; the incidents it held that still fire are paged as new.
func (s *Server) deleteMaintenance(c echo.Context) error {
	w, err := s.o.Maintenance.Delete(c.Request().Context(), c.Param("id"), "api:"+c.Get(ctxTokenName).(string))
	switch {
	case errors.Is(err, maintenance.ErrNotFound):
		return &inputError{http.StatusNotFound, "no maintenance window " + c.Param("id")}
	case errors.Is(err, maintenance.ErrInConfig):
		return &inputError{http.StatusConflict, "maintenance window " + c.Param("id") + " is written in the config (maintenance:): remove it there and reload"}
	case err != nil:
		return retrying(err, "retry: deleting again ends the same window (404 once it is gone)")
	}
	return c.JSON(http.StatusOK, maintenanceView{Window: *w, State: "ended"})
}
