package policy

import (
	"os"
	"testing"
	"time"
)

// The policy core runs on every alert and every deadline the daemon fires,
// so its cost bounds the daemon's throughput. `make bench` runs these; the
// figures are in docs/BENCHMARKS.md.

func benchConfig(b testing.TB, name string) *Config {
	b.Helper()
	c, err := LoadFile("../configs/" + name)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

var benchAt = time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)

func BenchmarkLoadConfig(b *testing.B) {
	data, err := os.ReadFile("../configs/aivo.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data, "aivo.yaml", "../configs"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRoute(b *testing.B) {
	c := benchConfig(b, "aivo.yaml")
	s := c.Service("aivo-production")
	lbls := map[string]string{"alertname": "HighErrorRate", "severity": "critical", "category": "availability", "service": "api"}
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Route(s, lbls, benchAt)
	}
}

func BenchmarkOnCall(b *testing.B) {
	c := benchConfig(b, "aivo.yaml")
	s := c.Schedule("aivo-oncall")
	b.ReportAllocs()
	for b.Loop() {
		_ = s.OnCall(benchAt)
	}
}

func BenchmarkApplyTrigger(b *testing.B) {
	c := benchConfig(b, "aivo.yaml")
	e := &Engine{Config: c}
	rt := c.Route(c.Service("aivo-production"), map[string]string{"severity": "critical"}, benchAt)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := e.Apply(Incident{ID: "x"}, Event{Kind: EventTrigger, Route: &rt}, benchAt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyTriggerP3 is a new AIVO P3 in business hours: its
// targets have an off-hours variant, so they follow business hours'
// openings and closings (Config.TargetDueAt), which the P0 above skips.
func BenchmarkApplyTriggerP3(b *testing.B) {
	c := benchConfig(b, "aivo.yaml")
	e := &Engine{Config: c}
	at := time.Date(2025, 9, 9, 20, 0, 0, 0, time.UTC) // Tuesday 16:00 in New York
	rt := c.Route(c.Service("aivo-production"), map[string]string{"severity": "info"}, at)
	if rt.Priority != "P3" {
		b.Fatalf("priority %s, want P3", rt.Priority)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := e.Apply(Incident{ID: "x"}, Event{Kind: EventTrigger, Route: &rt}, at); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkApplyDeadline(b *testing.B) {
	c := benchConfig(b, "aivo.yaml")
	e := &Engine{Config: c}
	rt := c.Route(c.Service("aivo-production"), map[string]string{"severity": "critical"}, benchAt)
	inc, _, err := e.Apply(Incident{ID: "x"}, Event{Kind: EventTrigger, Route: &rt}, benchAt)
	if err != nil {
		b.Fatal(err)
	}
	d, _ := inc.Next()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := e.Apply(inc, Event{Kind: EventDeadline, Deadline: d.ID}, d.At); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSimulateP0Night(b *testing.B) {
	c := benchConfig(b, "aivo.yaml")
	o := SimOptions{At: benchAt, For: 2 * time.Hour, Labels: map[string]string{"severity": "critical"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Simulate(o); err != nil {
			b.Fatal(err)
		}
	}
}
