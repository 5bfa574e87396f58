package console

import (
	"bytes"
	"encoding/base64"
	"html/template"
	"net/http"
	"unicode"
	"unicode/utf8"

	"github.com/pagerd/pagerd/gateway/history"
	"github.com/pagerd/pagerd/gateway/overrides"
	"github.com/pagerd/pagerd/policy"
	"github.com/pagerd/pagerd/report"
)

// reportView is the reports page: the period asked for, and the report
// made of it the way GET /api/v1/reports makes it (history.Report on the
// store), its figures, charts and the full text.
type reportView struct {
	From, To string
	Report   *report.Report
	Rows     []report.Figures
	Charts   []chartView
	Text     string
}

type chartView struct {
	Title string
	// Src is the SVG as a data: URL, shown as an image: the chart is
	// drawn by pagerd, and an image cannot run anything in the page.
	Src template.URL
}

// reports renders the on-call report of a period (default the last four
// weeks): figures per service and schedule, the charts, and the text.
func (c *Console) reports(w http.ResponseWriter, r *http.Request, v *viewer) {
	cfg := v.cfg
	q := r.URL.Query()
	now := c.o.Now()
	loc := cfg.Reports.Week.Location()
	rv := reportView{From: q.Get("from"), To: q.Get("to")}
	if rv.To == "" {
		rv.To = policy.DateOf(now.In(loc)).AddDays(1).String()
	}
	if rv.From == "" {
		if d, err := policy.ParseDate(rv.To); err == nil {
			rv.From = d.AddDays(-28).String()
		}
	}
	p := page{Title: "Reports", Nav: "reports", Viewer: v, Body: &rv}
	from, to, err := history.Period(cfg, rv.From, rv.To)
	if err != nil {
		p.Error = sentence(err.Error())
		c.render(w, http.StatusBadRequest, "reports.html", p)
		return
	}
	rep, err := history.Report(r.Context(), c.o.History, cfg, report.Options{From: from, To: to, AsOf: now, OverridesKeptFrom: now.Add(-overrides.KeepEnded)})
	if err != nil {
		c.failErr(w, r, v, err)
		return
	}
	rv.Report = rep
	rv.Rows = append(append([]report.Figures{rep.Total}, rep.Services...), rep.Schedules...)
	rv.Rows[0].Name = "All services"
	for _, ch := range rep.Charts() {
		rv.Charts = append(rv.Charts, chartView{Title: ch.Title,
			Src: template.URL("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString([]byte(ch.SVG)))})
	}
	var b bytes.Buffer
	if err := rep.WriteText(&b); err == nil {
		rv.Text = b.String()
	}
	c.render(w, http.StatusOK, "reports.html", p)
}

// sentence shows an error written the Go way (lower case, no full stop) as
// a sentence on a page.
func sentence(msg string) string {
	r, n := utf8.DecodeRuneInString(msg)
	return string(unicode.ToUpper(r)) + msg[n:] + "."
}
