package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pagerd/pagerd/gateway/history"
	"github.com/pagerd/pagerd/gateway/overrides"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
	"github.com/pagerd/pagerd/report"
)

// reportTimeout bounds a report or a history stream: a year of a team's
// history takes well under a second to report, and a few to stream.
const reportTimeout = 30 * time.Second

// reportDeadline gives the report routes their longer deadline.
func reportDeadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), reportTimeout)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

// reportFormats are what GET /api/v1/reports renders, with their content
// types.
var reportFormats = map[string]struct {
	contentType string
	write       func(*report.Report, io.Writer) error
}{
	"json":     {echo.MIMEApplicationJSON, (*report.Report).WriteJSON},
	"text":     {echo.MIMETextPlainCharsetUTF8, (*report.Report).WriteText},
	"markdown": {"text/markdown; charset=utf-8", (*report.Report).WriteMarkdown},
	"csv":      {"text/csv; charset=utf-8", (*report.Report).WriteCSV},
	"payroll":  {"text/csv; charset=utf-8", (*report.Report).WritePayrollCSV},
}

// period reads from and to (history.Period): a period a report cannot
// cover is a 400.
func period(c echo.Context, cfg *policy.Config) (from, to time.Time, err error) {
	from, to, err = history.Period(cfg, c.QueryParam("from"), c.QueryParam("to"))
	if err != nil {
		return from, to, badRequest("%v", err)
	}
	return from, to, nil
}

// historyError is a failure to read history: a store that does not answer
// is a 503 to retry, without the intake's "nothing was stored".
func historyError(err error) error {
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return &inputError{http.StatusServiceUnavailable, "the incident store did not answer in time: retry later"}
	}
	return err
}

// reports answers GET /api/v1/reports: the on-call report of the incidents
// created in [from, to), as of now, held to the config in force, as json
// (default), text, markdown, csv or payroll (the payroll CSV).
func (s *Server) reports(c echo.Context) error {
	cfg := s.config()
	from, to, err := period(c, cfg)
	if err != nil {
		return err
	}
	name := c.QueryParam("format")
	if name == "" {
		name = "json"
	}
	f, ok := reportFormats[name]
	if !ok {
		return badRequest("format %q: use json, text, markdown, csv or payroll", name)
	}
	now := s.now()
	r, err := history.Report(c.Request().Context(), s.o.History, cfg, report.Options{From: from, To: to, AsOf: now, OverridesKeptFrom: now.Add(-overrides.KeepEnded)})
	if err != nil {
		s.log.Error("report failed", "err", err)
		return historyError(err)
	}
	var b bytes.Buffer
	if err := f.write(r, &b); err != nil {
		return err
	}
	if r.Pay != nil {
		// The payroll CSV has no room to say what it leaves out: incidents
		// still open earn nothing yet (pay.open in json).
		c.Response().Header().Set(HeaderPayOpen, strconv.Itoa(r.Pay.Open))
		// Nor that some were acknowledged by someone the config does
		// not know, and paid to nobody (pay.unknown_acknowledger).
		c.Response().Header().Set(HeaderPayUnknownAcknowledger, strconv.Itoa(len(r.Pay.UnknownAcknowledger)))
	}
	return c.Blob(http.StatusOK, f.contentType, b.Bytes())
}

// HeaderPayOpen, on a report of paid services, is how many of their
// incidents are still open: they earn nothing yet and are paid, once
// resolved, in the week they were created, so a payroll run made now
// pays them only when the report is made again.
const HeaderPayOpen = "Pagerd-Pay-Open"

// HeaderPayUnknownAcknowledger, on a report of paid services, is how many
// of their resolved incidents someone the config does not know
// acknowledged (a PagerDuty user outside it, an API token acting on
// nobody's behalf): the payroll CSV pays nobody for them; format=json
// names them (pay.unknown_acknowledger), to be paid by hand.
const HeaderPayUnknownAcknowledger = "Pagerd-Pay-Unknown-Acknowledger"

// reportHistory answers GET /api/v1/reports/history: the history a report
// reads, one incident per line (report.Incident), oldest first, streamed
// as the store reads it. open=true adds the incidents still open from
// before from, first (what a handoff document lists). pagerd report and
// pagerd handoff --server read it and compute with their own config.
func (s *Server) reportHistory(c echo.Context) error {
	from, to, err := period(c, s.config())
	if err != nil {
		return err
	}
	open := false
	if v := c.QueryParam("open"); v != "" {
		if open, err = strconv.ParseBool(v); err != nil {
			return badRequest("open %q: true or false", v)
		}
	}
	w := c.Response()
	enc := json.NewEncoder(w)
	n := 0
	err = s.o.History.Incidents(c.Request().Context(), from, to, open, func(inc *report.Incident) error {
		if n == 0 {
			w.Header().Set(echo.HeaderContentType, history.NDJSON)
			w.WriteHeader(http.StatusOK)
		}
		n++
		return enc.Encode(inc)
	})
	switch {
	case err != nil && n == 0:
		s.log.Error("history failed", "err", err)
		return historyError(err)
	case err != nil:
		// Part of the stream went out: cut the connection, so the reader
		// sees a broken stream rather than a short history.
		s.log.Error("history stream cut off", "incidents_sent", n, "err", err)
		panic(http.ErrAbortHandler)
	case n == 0:
		return c.Blob(http.StatusOK, history.NDJSON, nil)
	}
	return nil
}

// handoffDoc answers GET /api/v1/reports/handoff: a schedule's handoff
// document (the handoff nearest to at, default now), made by the daemon
// with the config in force, in the schedule's template (format text, the
// default) or as JSON. pagerd handoff --server without a config asks it.
func (s *Server) handoffDoc(c echo.Context) error {
	cfg := s.config()
	name := c.QueryParam("schedule")
	if name == "" {
		if len(cfg.Schedules) != 1 {
			return badRequest("schedule is required: the config has %d schedules", len(cfg.Schedules))
		}
		name = cfg.Schedules[0].Name
	}
	if cfg.Schedule(name) == nil {
		return &inputError{http.StatusNotFound, fmt.Sprintf("no schedule %q is defined", name)}
	}
	at := s.now()
	if v := c.QueryParam("at"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return badRequest("at %q: use RFC 3339, like 2025-10-13T07:45:00-04:00", v)
		}
		at = t
	}
	format := c.QueryParam("format")
	if format != "" && format != "text" && format != "json" {
		return badRequest("format %q: use text (the schedule's handoff template) or json", format)
	}
	doc, err := history.Handoff(c.Request().Context(), s.o.History, cfg, name, at)
	if err != nil {
		s.log.Error("handoff document failed", "schedule", name, "err", err)
		return historyError(err)
	}
	if format == "json" {
		return c.JSONPretty(http.StatusOK, doc, "  ") // as pagerd handoff -o json writes it
	}
	contentType := "text/markdown; charset=utf-8"
	if doc.Template == policy.HandoffText {
		contentType = echo.MIMETextPlainCharsetUTF8
	}
	return c.Blob(http.StatusOK, contentType, []byte(doc.String()))
}
