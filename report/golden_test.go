package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// golden compares got with testdata/golden/name; -update rewrites it.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test ./report -update rewrites it; review the diff):\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

func render(t *testing.T, f func(*bytes.Buffer) error) string {
	t.Helper()
	var b bytes.Buffer
	if err := f(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func aionReport(t testing.TB) *Report {
	t.Helper()
	r, err := Build(loadSeed(t, "aion-r.yaml"), Options{From: time.Date(2025, 10, 6, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 10, 13, 0, 0, 0, 0, time.UTC)}, aionWeek(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestGoldenReports: every renderer, on the hand-checked weeks.
func TestGoldenReports(t *testing.T) {
	aivo, aion := aivoReport(t), aionReport(t)
	for _, tc := range []struct {
		name string
		f    func(*bytes.Buffer) error
	}{
		{"aivo-report.txt", func(b *bytes.Buffer) error { return aivo.WriteText(b) }},
		{"aivo-report.md", func(b *bytes.Buffer) error { return aivo.WriteMarkdown(b) }},
		{"aivo-report.csv", func(b *bytes.Buffer) error { return aivo.WriteCSV(b) }},
		{"aivo-report.json", func(b *bytes.Buffer) error { return aivo.WriteJSON(b) }},
		{"aion-r-report.txt", func(b *bytes.Buffer) error { return aion.WriteText(b) }},
		{"aion-r-report.md", func(b *bytes.Buffer) error { return aion.WriteMarkdown(b) }},
		{"aion-r-payroll.csv", func(b *bytes.Buffer) error { return aion.WritePayrollCSV(b) }},
	} {
		t.Run(tc.name, func(t *testing.T) { golden(t, tc.name, render(t, tc.f)) })
	}
	for _, c := range aivo.Charts() {
		t.Run(c.Name, func(t *testing.T) {
			golden(t, "aivo-"+c.Name+".svg", c.SVG)
			// Well-formed XML, so a browser draws it inline or as a file.
			dec := xml.NewDecoder(strings.NewReader(c.SVG))
			for {
				if _, err := dec.Token(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("chart %s: %v", c.Name, err)
				}
			}
			// Self-contained: nothing fetched, nothing run.
			for _, bad := range []string{"<script", "href", "@import", "url(", "<style"} {
				if strings.Contains(c.SVG, bad) {
					t.Errorf("chart %s holds %q", c.Name, bad)
				}
			}
		})
	}
	// The payroll CSV of a config without pay is just its header.
	if got := render(t, func(b *bytes.Buffer) error { return aivo.WritePayrollCSV(b) }); got != "week,user,name,billable_minutes,billable_hours,comp_days,incidents,on_call_minutes,on_call_hours,weekend_minutes,weekend_hours,after_hours_minutes,after_hours_hours\n" {
		t.Errorf("AIVO payroll %q", got)
	}
}

// TestGoldenHandoffs: both templates, from the hand-checked weeks.
func TestGoldenHandoffs(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	aivo, err := Handoff(loadSeed(t, "aivo.yaml"), "aivo-oncall", time.Date(2025, 10, 13, 7, 45, 0, 0, ny), aivoWeeks(t))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "aivo-handoff.txt", aivo.String())
	golden(t, "aivo-handoff.json", render(t, func(b *bytes.Buffer) error {
		enc := json.NewEncoder(b)
		enc.SetIndent("", "  ")
		return enc.Encode(aivo)
	}))
	aion, err := Handoff(loadSeed(t, "aion-r.yaml"), "aion-r-oncall", time.Date(2025, 10, 12, 22, 0, 0, 0, time.UTC), aionWeek(t))
	if err != nil {
		t.Fatal(err)
	}
	aion.SetChanges(aionChanges())
	golden(t, "aion-r-handoff.md", aion.String())
}

// TestReportJSONRoundTrip: a report read back from its JSON (what the API
// answers) renders the same, charts and goal lines included.
func TestReportJSONRoundTrip(t *testing.T) {
	r := aivoReport(t)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	md := func(r *Report) string { return render(t, func(b *bytes.Buffer) error { return r.WriteMarkdown(b) }) }
	if md(&back) != md(r) {
		t.Error("the report read back from JSON renders differently")
	}
}

// TestIncidentsFromTheAPI: the incident API's JSON (GET
// /api/v1/incidents/<id>, with fields reports do not read) decodes into
// Incident; the test weeks written as the API would answer them
// (testdata/aivo-weeks.json) give the same report.
func TestIncidentsFromTheAPI(t *testing.T) {
	const view = `{"id":"00-06h2r7q045w2p9j9","service":"aivo-production","status":"resolved","priority":"P0","urgency":"high",
	"summary":"Disk almost full on db1","created_at":"2025-10-07T07:00:00Z","updated_at":"2025-10-07T07:40:00Z",
	"acknowledged_at":"2025-10-07T07:04:00Z","acknowledged_by":"jennifer","resolved_at":"2025-10-07T07:40:00Z","resolved_by":"jennifer",
	"level":1,"level_name":"primary","rule":"severity=critical","source":"alertmanager","dedup_key":"{}:{alertname=\"DiskFull\"}",
	"repeats":2,"last_seen":"2025-10-07T07:20:00Z","status_updates":0,
	"details":{"source":"alertmanager","status":"firing","receiver":"pagerd","group_key":"{}:{alertname=\"DiskFull\"}","group_labels":{"alertname":"DiskFull"},"alerts_total":2,"alerts":[]},
	"timeline":[{"at":"2025-10-07T07:00:00Z","type":"trigger","actor":"alertmanager","detail":"P0, high urgency, rule severity=critical"},
	{"at":"2025-10-07T07:00:00.01Z","type":"notify","level":1,"user":"jennifer","channel":"push","detail":"via pagerduty"},
	{"at":"2025-10-07T07:04:00Z","type":"ack","actor":"jennifer","level":1,"user":"jennifer","detail":"level primary"},
	{"at":"2025-10-07T07:40:00Z","type":"resolve","actor":"jennifer","level":1,"user":"jennifer","detail":"level primary"}]}`
	var inc Incident
	if err := json.Unmarshal([]byte(view), &inc); err != nil {
		t.Fatal(err)
	}
	if inc.AcknowledgedBy != "jennifer" || inc.ResolvedAt.IsZero() || len(inc.Timeline) != 4 || inc.Timeline[1].Channel != "push" ||
		alertCount(inc.Details) != 2 || AlertName(inc.Details) != "DiskFull" {
		t.Errorf("decoded %+v", inc)
	}

	want := aivoWeeks(t)
	path := filepath.Join("testdata", "aivo-weeks.json")
	if *update {
		b, err := json.MarshalIndent(want, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []Incident
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	// Compared as compact JSON: the file indents the details it carries.
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if !bytes.Equal(gj, wj) || len(got) != len(want) {
		t.Error("testdata/aivo-weeks.json decodes to other incidents than aivoWeeks (go test ./report -update rewrites it)")
	}
	// Its indented details count their alerts all the same.
	ny := mustZone(t, "America/New_York")
	fromFile, err := Build(loadSeed(t, "aivo.yaml"), Options{From: time.Date(2025, 9, 29, 8, 0, 0, 0, ny), To: time.Date(2025, 10, 13, 8, 0, 0, 0, ny)}, got)
	if err != nil {
		t.Fatal(err)
	}
	text := func(r *Report) string { return render(t, func(b *bytes.Buffer) error { return r.WriteText(b) }) }
	if text(fromFile) != text(aivoReport(t)) {
		t.Error("the report of testdata/aivo-weeks.json differs from the report of aivoWeeks")
	}
}

// TestReadmeShowsTheGoldens: the samples in README's Reports section are
// what the package renders, not a hand-edited copy.
func TestReadmeShowsTheGoldens(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", "golden", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	md := read("aivo-report.md")
	for name, sample := range map[string]string{
		"the AIVO handoff":        "```text\n" + read("aivo-handoff.txt") + "```",
		"the AION-R payroll":      "```csv\n" + read("aion-r-payroll.csv") + "```",
		"the figures table":       md[strings.Index(md, "| Figure |"):strings.Index(md, "\nThe figures of service")],
		"the engineers table":     md[strings.Index(md, "| Engineer | Time zone"):strings.Index(md, "\nAn engineer")],
		"the chart it links to":   "(report/testdata/golden/aivo-mtta.svg)",
		"the AION-R handoff link": "(report/testdata/golden/aion-r-handoff.md)",
	} {
		if !strings.Contains(string(readme), sample) {
			t.Errorf("README does not show %s as the package renders it", name)
		}
	}
}

// TestAionChangesFile: AION-R's test changes as GET /api/v1/changes
// writes them (testdata/aion-r-changes.json), for cmd/pagerd's tests that
// put them in a store with the week and run pagerd handoff over it.
func TestAionChangesFile(t *testing.T) {
	type stored struct {
		Service string    `json:"service"`
		Summary string    `json:"summary"`
		Source  string    `json:"source,omitempty"`
		At      time.Time `json:"timestamp"`
		Links   []struct {
			Href string `json:"href"`
		} `json:"links,omitempty"`
	}
	var want []stored
	for _, c := range aionChanges() {
		s := stored{Service: c.Service, Summary: c.Summary, Source: c.Source, At: c.At}
		if c.Link != "" {
			s.Links = append(s.Links, struct {
				Href string `json:"href"`
			}{c.Link})
		}
		want = append(want, s)
	}
	path := filepath.Join("testdata", "aion-r-changes.json")
	wj, _ := json.MarshalIndent(want, "", "  ")
	if *update {
		if err := os.WriteFile(path, append(wj, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(b), wj) {
		t.Error("testdata/aion-r-changes.json differs from aionChanges (go test ./report -run TestAionChangesFile -update rewrites it)")
	}
}

// TestAionWeekFile: AION-R's test week written as the incident API writes
// incidents (testdata/aion-r-week.json, like aivo-weeks.json), for the
// tests that put the weeks in a store and run pagerd report and pagerd
// handoff over it (cmd/pagerd): they must give these goldens.
func TestAionWeekFile(t *testing.T) {
	want := aionWeek(t)
	path := filepath.Join("testdata", "aion-r-week.json")
	if *update {
		b, err := json.MarshalIndent(want, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []Incident
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if !bytes.Equal(gj, wj) {
		t.Error("testdata/aion-r-week.json decodes to other incidents than aionWeek (go test ./report -run TestAionWeekFile -update rewrites it)")
	}
}
