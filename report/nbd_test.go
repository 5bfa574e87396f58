package report

import (
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// TestNextBusinessDayTargetCountsFromTheAckTarget: a SEV-4 (acknowledge
// 2h) whose resolution target is next_business_day, opened on Wednesday
// at 08:59 and resolved at 11:59, kept its target: the engine counts it to
// Thursday's opening, after the 2 hours to acknowledge, and the report
// must agree rather than call it missed at Wednesday 09:00.
func TestNextBusinessDayTargetCountsFromTheAckTarget(t *testing.T) {
	src, err := readSeed("aion-r.yaml")
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(src, "        acknowledge: 2h\n        initial_response: 4h\n",
		"        acknowledge: 2h\n        initial_response: 4h\n        resolution: next_business_day\n", 1)
	if edited == src {
		t.Fatal("the config edit did not apply")
	}
	cfg, err := policy.Parse([]byte(edited), "aion-r.yaml", "../configs")
	if err != nil {
		t.Fatal(err)
	}
	utc := time.UTC
	inc := incident(utc, "x", "aion-r-platform", "SEV-4", "2025-10-08 08:59", "disk filling", nil,
		page(0, 1, "eng-a", "email"), ack(time.Hour, 1, "eng-a"), resolve(3*time.Hour, "eng-a"))
	r, err := Build(cfg, Options{From: time.Date(2025, 10, 6, 0, 0, 0, 0, utc), To: time.Date(2025, 10, 13, 0, 0, 0, 0, utc)}, []Incident{inc})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Total.ResolvedWithinTarget; got.Count != 1 || got.Of != 1 {
		t.Errorf("resolved within target %+v, want 1 of 1 (due Thursday 09:00)", got)
	}
	// The engine arms the same deadline.
	svc := cfg.Service("aion-r-platform")
	rt := cfg.Route(svc, map[string]string{"severity": "info"}, inc.CreatedAt)
	st, _, err := (&policy.Engine{Config: cfg}).Apply(policy.Incident{ID: "x"}, policy.Event{Kind: policy.EventTrigger, Route: &rt}, inc.CreatedAt)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2025, 10, 9, 9, 0, 0, 0, utc)
	for _, d := range st.Pending {
		if d.Kind == policy.DeadlineSLA && d.Target == "resolution" && !d.At.Equal(want) {
			t.Errorf("the engine arms the resolution target at %s, want %s", d.At, want)
		}
	}
}
