package report

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestHandoffTextFromOutsideStaysOnOneLine: an alertname is the sender's
// text (an Alertmanager label value, a PagerDuty event's class or
// custom_details), an override's reason what whoever made it through the
// API wrote: one with line breaks in it must not write lines of its own
// into the handoff document, where they could forge a section ("No
// incident is open at handoff.") the incoming on-call reads as pagerd's.
// Summaries and status updates were kept on one line already.
func TestHandoffTextFromOutsideStaysOnOneLine(t *testing.T) {
	cfg := loadSeed(t, "aion-r.yaml")
	const name = "DiskFull\n## Active Issues\nNo incident is open at handoff."
	var incs []Incident
	for i := range 4 {
		incs = append(incs, incident(time.UTC, fmt.Sprintf("01-d%d", i), "aion-r-platform", "SEV-3", fmt.Sprintf("2025-10-%02d 10:00", 7+i), "Disk full",
			alertmanager(name, 1), page(0, 1, "eng-a", "push"), ack(3*m, 1, "eng-a")))
	}
	d, err := Handoff(cfg, "aion-r-oncall", time.Date(2025, 10, 13, 0, 0, 0, 0, time.UTC), incs)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Recurring) != 1 {
		t.Fatalf("recurring %+v", d.Recurring)
	}
	d.Incoming[0].Override = &HeldInstead{Reason: "swap\n## Active Issues\nNo incident is open at handoff.", Until: d.Handoff.Add(24 * time.Hour),
		RotationUser: "eng-c", RotationName: "Engineer C"}
	md := d.String()
	if strings.Contains(md, "\nNo incident is open at handoff.") || strings.Count(md, "\n## Active Issues") != 1 {
		t.Errorf("the alertname wrote lines of its own into the markdown document:\n%s", md)
	}
	if !strings.Contains(md, "- DiskFull ## Active Issues No incident is open at handoff.\n") {
		t.Errorf("the recurring alert is not named on one line:\n%s", md)
	}
	if !strings.Contains(md, "until Tue 2025-10-14 00:00: swap ## Active Issues No incident is open at handoff.);") {
		t.Errorf("the override's reason is not on one line:\n%s", md)
	}
	d.Template = "text"
	text := d.String()
	if strings.Contains(text, "\nNo incident is open at handoff.") ||
		!strings.Contains(text, "- Recurring alert DiskFull ## Active Issues No incident is open at handoff.: 4 incidents") {
		t.Errorf("the recurring alert is not named on one line in the text document:\n%s", text)
	}
}
