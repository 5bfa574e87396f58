package policy

import (
	"encoding/json"
	"testing"
	"time"
)

// olderWrite is the incident as a replica of the version before a level's
// unreached pages were kept writes it back: it decodes what it knows and
// drops the rest.
func olderWrite(t *testing.T, inc Incident) Incident {
	t.Helper()
	b, err := json.Marshal(inc)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"level_pages", "level_pages_kept"} {
		delete(doc, k)
	}
	if b, err = json.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	var out Incident
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEngineLevelPagedByAnOlderReplicaIsNotUnreached: during a rolling
// upgrade (or for an incident opened before it) an older replica sends
// Ann's push and SMS and writes the incident without the level's pages.
// When the new version then sends her call and Twilio refuses it (an open
// circuit, say), the level's pages it knows of are all refused, but the
// push and the SMS went out: Ann was reached, and the next level is paged
// at the level's timeout, not at once with a timeline saying nobody was.
func TestEngineLevelPagedByAnOlderReplicaIsNotUnreached(t *testing.T) {
	for _, tc := range []struct {
		name string
		// older are the offsets after which an older replica wrote the
		// incident (it fired the steps due then).
		older []time.Duration
	}{
		{"the level started and paged by an older replica", []time.Duration{0, 2 * time.Minute}},
		{"a page of the level sent by an older replica", []time.Duration{2 * time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, s := engLoad(t)
			rt := e.Config.Route(s, map[string]string{"severity": "critical"}, t0)
			inc, _ := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, t0)
			if tc.older[0] == 0 {
				inc = olderWrite(t, inc)
			}
			var escalations []string
			for {
				d, ok := inc.Next()
				if !ok || d.At.After(t0.Add(11*time.Minute)) {
					break
				}
				var acts []Action
				inc, acts = engApply(t, e, inc, Event{Kind: EventDeadline, Deadline: d.ID}, d.At)
				for _, a := range acts {
					if a.Kind == ActionEscalate {
						escalations = append(escalations, Duration(a.At.Sub(t0)).String()+" "+a.Detail)
					}
					if a.Kind == ActionNotify && a.User == "a" && a.Channel == "voice" {
						// Refused for certain: the step is named.
						inc, acts = engApply(t, e, inc, Event{Kind: EventChannelFailed, Actor: "a", Channel: "voice", Step: d.ID}, a.At)
						for _, a := range acts {
							if a.Kind == ActionEscalate {
								escalations = append(escalations, Duration(a.At.Sub(t0)).String()+" "+a.Detail)
							}
						}
					}
				}
				for _, off := range tc.older {
					if off != 0 && d.At.Equal(t0.Add(off)) {
						inc = olderWrite(t, inc)
					}
				}
			}
			if want := []string{"10m not acknowledged within 10m"}; len(escalations) != 1 || escalations[0] != want[0] {
				t.Fatalf("escalations %q, want %q", escalations, want)
			}
		})
	}
}
