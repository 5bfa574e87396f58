package report

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// Chart is one of a report's weekly charts as a self-contained SVG image
// (no script, no stylesheet, no font to fetch): what the markdown report
// embeds and the web console can serve or inline as it is.
type Chart struct {
	// Name is a file name stem: incidents, mtta, night-pages.
	Name  string `json:"name"`
	Title string `json:"title"`
	SVG   string `json:"svg"`
}

// Charts draws the report's weeks: incidents per week, MTTA (mean) per
// week with the MTTA goal when one is set, and pages at night per week.
func (r *Report) Charts() []Chart {
	labels := make([]string, len(r.Weeks))
	inc := make([]float64, len(r.Weeks))
	mtta := make([]float64, len(r.Weeks))
	night := make([]float64, len(r.Weeks))
	for i, w := range r.Weeks {
		labels[i] = w.Start.In(r.loc()).Format("Jan 2")
		inc[i] = float64(w.Incidents)
		// A week with no acknowledged incident has no MTTA: no bar, rather
		// than one of zero that reads as the fastest response of all.
		mtta[i] = math.NaN()
		if w.MTTA.Count > 0 {
			mtta[i] = time.Duration(w.MTTA.Mean).Seconds()
		}
		night[i] = float64(w.NightPages)
	}
	count := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	dur := func(v float64) string {
		if v == 0 {
			return "0"
		}
		return FormatDuration(time.Duration(v * float64(time.Second)))
	}
	var goal *GoalValue
	for i := range r.Goals {
		if r.Goals[i].Figure == "mtta" {
			goal = &r.Goals[i]
		}
	}
	return []Chart{
		{Name: "incidents", Title: "Incidents per week", SVG: barChart("Incidents per week", labels, inc, count, nil, "#4e79a7", niceCeil)},
		{Name: "mtta", Title: "Mean time to acknowledge per week", SVG: barChart("Mean time to acknowledge per week", labels, mtta, dur, goal, "#f28e2b", niceSeconds)},
		{Name: "night-pages", Title: "Pages at night per week", SVG: barChart("Pages at night per week ("+r.Night+", each person's clock)", labels, night, count, nil, "#76b7b2", niceCeil)},
	}
}

// Chart geometry, in SVG user units.
const (
	chartW, chartH               = 640, 220
	padLeft, padRight            = 56, 16
	padTop, padBottom            = 36, 40
	plotW                        = chartW - padLeft - padRight
	plotH                        = chartH - padTop - padBottom
	maxBarWidth, barFill float64 = 48, 0.6
)

// barChart draws one bar per week with its value above it, a scale of
// three grid lines and, when goal is set, the goal as a dashed line. A
// value that is NaN has none: its week gets no bar, only a dash.
func barChart(title string, labels []string, values []float64, format func(float64) string, goal *GoalValue, color string, nice func(float64) float64) string {
	top := 0.0
	for _, v := range values {
		if !math.IsNaN(v) {
			top = math.Max(top, v)
		}
	}
	if goal != nil {
		top = math.Max(top, goal.Value)
	}
	top = nice(top)
	y := func(v float64) float64 { return padTop + plotH - plotH*v/top }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s" font-family="sans-serif" font-size="11">`+"\n",
		chartW, chartH, chartW, chartH, html.EscapeString(title))
	fmt.Fprintf(&b, "<title>%s</title>\n", html.EscapeString(title))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", chartW, chartH)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="13" font-weight="bold" fill="#222222">%s</text>`+"\n", padLeft, html.EscapeString(title))
	for _, f := range []float64{0, 0.5, 1} {
		v := top * f
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#dddddd"/>`+"\n", padLeft, y(v), chartW-padRight, y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#555555">%s</text>`+"\n", padLeft-6, y(v)+4, html.EscapeString(format(v)))
	}
	n := len(values)
	if n > 0 {
		slot := float64(plotW) / float64(n)
		w := math.Min(maxBarWidth, slot*barFill)
		every := (n + 11) / 12 // at most 12 week labels
		for i, v := range values {
			x := float64(padLeft) + slot*float64(i) + (slot-w)/2
			switch {
			case math.IsNaN(v) && n <= 26:
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555555"><title>%s: none</title>–</text>`+"\n", x+w/2, y(0)-4, html.EscapeString(labels[i]))
			case math.IsNaN(v):
			default:
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s</title></rect>`+"\n",
					x, y(v), w, y(0)-y(v), color, html.EscapeString(labels[i]), html.EscapeString(format(v)))
				if v > 0 && n <= 26 {
					fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#222222">%s</text>`+"\n", x+w/2, y(v)-4, html.EscapeString(format(v)))
				}
			}
			if i%every == 0 {
				fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555555">%s</text>`+"\n", x+w/2, chartH-padBottom+16, html.EscapeString(labels[i]))
			}
		}
	}
	if goal != nil {
		gy := y(goal.Value)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e15759" stroke-width="1.5" stroke-dasharray="6 4"/>`+"\n", padLeft, gy, chartW-padRight, gy)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#e15759">goal %s</text>`+"\n", chartW-padRight, gy-4, html.EscapeString(goal.Text))
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#555555"/>`+"\n", padLeft, y(0), chartW-padRight, y(0))
	b.WriteString("</svg>\n")
	return b.String()
}

// niceCeil rounds a chart's top up to 1, 2 or 5 times a power of ten (at
// least 1), so grid lines fall on round values. Durations in seconds
// round the same way.
func niceCeil(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// niceSeconds rounds a duration chart's top (in seconds) up to a round
// span of minutes or hours.
func niceSeconds(v float64) float64 {
	for _, m := range []float64{1, 2, 4, 6, 10, 20, 30, 60, 120, 240, 360, 720, 1440, 2880, 10080} {
		if v <= m*60 {
			return m * 60
		}
	}
	return niceCeil(v/86400) * 86400
}
