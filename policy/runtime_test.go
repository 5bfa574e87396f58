package policy

import (
	"strings"
	"testing"
	"time"
)

// Run-time overrides: merged into a copy of the config (the original is
// untouched), winning over the file's, shown by who-is-on-call, and named
// in the timeline when they change who a level pages.
func TestWithOverridesPagesTheOverrideHolder(t *testing.T) {
	e, svc := engLoad(t)
	base := e.Config
	swap := Override{ID: "ov1", CreatedBy: "api:ops", Reason: "dentist", Tiers: map[string]string{"primary": "c"},
		From:  Moment{Instant: t0.Add(-time.Hour), set: true},
		Until: Moment{Instant: t0.Add(time.Hour), set: true}}
	merged := base.WithOverrides(map[string][]Override{"s": {swap}, "no-such-schedule": {swap}})
	if merged == base || len(base.Schedule("s").Overrides) != 0 {
		t.Fatal("WithOverrides changed the config it was given")
	}
	if merged.Schedule("s") != &merged.Schedules[0] || len(merged.Schedule("s").Overrides) != 1 {
		t.Fatalf("the copy's schedule index does not point at its own schedules")
	}
	if base.WithOverrides(nil) != base {
		t.Fatal("no overrides should be the config itself")
	}

	rows, err := merged.WhoIsOnCall(t0, "s")
	if err != nil {
		t.Fatal(err)
	}
	if r := rows[0]; r.User != "c" || !r.Override || r.Reason != "dentist" || r.OverrideID != "ov1" ||
		!r.From.Equal(t0.Add(-time.Hour)) || !r.Until.Equal(t0.Add(time.Hour)) {
		t.Fatalf("primary at t0: %+v", r)
	}

	me := &Engine{Config: merged}
	rt := merged.Route(svc, map[string]string{"severity": "critical"}, t0)
	_, acts, err := me.Apply(Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, t0)
	if err != nil {
		t.Fatal(err)
	}
	var notes []Action
	for _, a := range acts {
		if a.Kind == ActionOverride {
			notes = append(notes, a)
		}
	}
	if len(notes) != 1 || notes[0].User != "c" || notes[0].Level != 0 ||
		notes[0].Detail != "s primary held by override ov1 (dentist), made by api:ops, instead of a" {
		t.Fatalf("override actions: %+v", notes)
	}
	inc, _ := engTrigger(t, e, svc, "critical")
	for _, d := range inc.Pending {
		if d.Kind == DeadlineNotify && d.User != "a" {
			t.Fatalf("the file's config paged %s", d.User)
		}
	}
	// The same override written in the file is not a run-time one: no note.
	file := swap
	file.ID = ""
	_, acts, _ = (&Engine{Config: base.WithOverrides(map[string][]Override{"s": {file}})}).Apply(Incident{ID: "i2"}, Event{Kind: EventTrigger, Route: &rt}, t0)
	for _, a := range acts {
		if a.Kind == ActionOverride {
			t.Fatalf("a config override was noted: %+v", a)
		}
	}
}

func TestSortOverrides(t *testing.T) {
	at := func(h int) Moment { return Moment{Instant: t0.Add(time.Duration(h) * time.Hour), set: true} }
	os := []Override{{ID: "b", From: at(2)}, {ID: "c", From: at(1)}, {ID: "a", From: at(2)}}
	SortOverrides(time.UTC, os)
	var ids []string
	for _, o := range os {
		ids = append(ids, o.ID)
	}
	if got := strings.Join(ids, ","); got != "c,a,b" {
		t.Fatalf("order %s", got)
	}
}
