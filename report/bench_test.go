package report

import (
	"fmt"
	"io"
	"testing"
	"time"
)

// yearOfHistory is a year of a team of ten (AION-R's eight engineers and
// two team leads) at 20,000 incidents, one every 26 minutes: each with an
// Alertmanager group in its details and a timeline of a trigger, the
// ladder (push, SMS, call), an acknowledgement, status updates and the
// resolution; one in five escalates to the secondary first, one in twenty
// resolves itself unacknowledged.
func yearOfHistory(tb testing.TB) []Incident {
	tb.Helper()
	engineers := []string{"eng-a", "eng-b", "eng-c", "eng-d", "eng-e", "eng-f", "eng-g", "eng-h"}
	leads := []string{"lead-x", "lead-y"}
	prios := []string{"SEV-1", "SEV-2", "SEV-3", "SEV-3", "SEV-4"}
	names := []string{"HighErrorRate", "ReplicaLag", "DiskFilling", "QueueSaturated", "CertExpiry", "PodCrashLooping", "HighLatency"}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 20000
	every := 365 * 24 * time.Hour / n
	out := make([]Incident, 0, n)
	for i := range n {
		at := start.Add(time.Duration(i) * every)
		week := int(at.Sub(start) / (7 * 24 * time.Hour))
		primary, secondary := engineers[week%8], engineers[(week+1)%8]
		lead := leads[week/2%2]
		prio := prios[i%len(prios)]
		steps := []step{page(0, 1, primary, "push"), page(2*m, 1, primary, "sms"), page(5*m, 1, primary, "voice")}
		acker, ackAfter := primary, time.Duration(3+i%9)*m
		switch {
		case i%20 == 7:
			steps = []step{page(0, 1, primary, "push"), resolve(time.Duration(1+i%4)*m, "alertmanager")}
		case i%5 == 3:
			steps = append(steps, escalate(10*m, 2, "not acknowledged within 10m"), page(10*m, 2, secondary, "push"),
				page(12*m, 2, secondary, "sms"), page(12*m, 3, lead, "push"))
			acker, ackAfter = secondary, 13*m
			fallthrough
		default:
			steps = append(steps, ack(ackAfter, 1, acker), statusUpdate(ackAfter+10*m, acker, "investigating"),
				statusUpdate(ackAfter+30*m, acker, "mitigated"), resolve(ackAfter+time.Duration(20+i%300)*m, acker))
		}
		inc := incident(time.UTC, fmt.Sprintf("%02x-%016x", i%32, i), "aion-r-platform", prio, at.Format("2006-01-02 15:04"),
			"Something is wrong on node "+fmt.Sprint(i%40), alertmanager(names[i%len(names)], 1+i%3), steps...)
		out = append(out, inc)
	}
	return out
}

// BenchmarkYearOfHistory: the report of a year of a team's history, built
// incident by incident as the store streams them, then rendered the ways
// the CLI and the API answer.
func BenchmarkYearOfHistory(b *testing.B) {
	cfg := loadSeed(b, "aion-r.yaml")
	incs := yearOfHistory(b)
	o := Options{From: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b.Run("build", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := Build(cfg, o, incs)
			if err != nil || r.Total.Incidents != len(incs) {
				b.Fatalf("%v, %d incidents", err, r.Total.Incidents)
			}
		}
	})
	b.Run("build+render", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, _ := Build(cfg, o, incs)
			for _, f := range []func(io.Writer) error{r.WriteText, r.WriteMarkdown, r.WriteCSV, r.WriteJSON, r.WritePayrollCSV} {
				if err := f(io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("handoff", func(b *testing.B) {
		b.ReportAllocs()
		at := time.Date(2025, 10, 13, 0, 0, 0, 0, time.UTC)
		for b.Loop() {
			if _, err := Handoff(cfg, "aion-r-oncall", at, incs); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestYearOfHistoryReports: a year of a team's history (20,000 incidents)
// reports whole, every week, engineer and pay week. How fast is
// BenchmarkYearOfHistory's to say (make bench), not a timed test's: on a shared,
// race-instrumented machine a time limit here failed runs that had
// nothing wrong.
func TestYearOfHistoryReports(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	cfg := loadSeed(t, "aion-r.yaml")
	incs := yearOfHistory(t)
	o := Options{From: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	r, err := Build(cfg, o, incs)
	if err != nil {
		t.Fatal(err)
	}
	if r.Total.Incidents != 20000 || len(r.Weeks) != 53 || len(r.Engineers) != 10 || r.Pay == nil || len(r.Pay.Weeks) == 0 {
		t.Errorf("%d incidents, %d weeks, %d engineers", r.Total.Incidents, len(r.Weeks), len(r.Engineers))
	}
}
