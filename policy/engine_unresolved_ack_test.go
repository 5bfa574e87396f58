package policy

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// ackRun triggers an AION-R alert with these labels at at, has the
// secondary (Engineer B in the week of 2025-10-06) acknowledge it at ackAt
// and post a status update every 20 minutes after, and fires every
// deadline up to until. It returns the incident and what happened after
// the acknowledgement but missed targets, as "offset kind user detail"
// lines, pages as "offset notify user channel".
func ackRun(t *testing.T, labels map[string]string, ackAt, until time.Duration) (Incident, []string) {
	t.Helper()
	c := scenLoad(t, "aion-r.yaml")
	svc := &c.Services[0]
	e := &Engine{Config: c}
	at := time.Date(2025, 10, 8, 3, 0, 0, 0, time.UTC) // Wednesday: A primary, B secondary, Team Lead X tertiary
	rt := c.Route(svc, labels, at)
	inc, _, err := e.Apply(Incident{ID: "ack"}, Event{Kind: EventTrigger, Route: &rt}, at)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	acked := false
	record := func(acts []Action) {
		if !acked {
			return
		}
		for _, a := range acts {
			switch a.Kind {
			case ActionSLABreach:
			case ActionNotify:
				lines = append(lines, fmt.Sprintf("%s notify %s %s", Duration(a.At.Sub(at)), a.User, a.Channel))
			default:
				f := []string{Duration(a.At.Sub(at)).String(), string(a.Kind)}
				if a.User != "" {
					f = append(f, a.User)
				}
				lines = append(lines, strings.Join(append(f, a.Detail), " "))
			}
		}
	}
	fire := func(to time.Time) {
		for {
			d, ok := inc.Next()
			if !ok || d.At.After(to) {
				return
			}
			var acts []Action
			if inc, acts, err = e.Apply(inc, Event{Kind: EventDeadline, Deadline: d.ID}, d.At); err != nil {
				t.Fatal(err)
			}
			record(acts)
		}
	}
	events := []struct {
		off time.Duration
		ev  Event
	}{{ackAt, Event{Kind: EventAcknowledge, Actor: "eng-b"}}}
	for off := ackAt + 20*time.Minute; off <= until; off += 20 * time.Minute {
		events = append(events, struct {
			off time.Duration
			ev  Event
		}{off, Event{Kind: EventStatusUpdate, Actor: "eng-b", Message: "working on it"}})
	}
	for _, ev := range events {
		now := at.Add(ev.off)
		fire(now.Add(-time.Nanosecond))
		if inc, _, err = e.Apply(inc, ev.ev, now); err != nil {
			t.Fatal(err)
		}
		acked = true
	}
	fire(at.Add(until))
	return inc, lines
}

// TestEngineUnresolvedRuleSkipsTheAcknowledger: AION-R "incident
// unresolved after SEV-2: 2 hours → escalate to secondary". The primary
// missed the SEV-2, the secondary acknowledged it at 25 minutes and keeps
// posting status updates. At 2 hours the incident is already in the
// secondary's hands: the rule does not page (and call) them again, nor
// reopen the incident, so Team Lead X is not paged 20 minutes later as if
// nobody owned it. The timeline says the rule found Engineer B
// acknowledging.
func TestEngineUnresolvedRuleSkipsTheAcknowledger(t *testing.T) {
	inc, got := ackRun(t, map[string]string{"severity": "error"}, 25*time.Minute, 3*time.Hour)
	want := []string{"2h already_acknowledged eng-b unresolved after 2h: eng-b acknowledged the incident and is not paged again; the rule pages nobody else"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after Engineer B acknowledged the SEV-2, up to 3h:\n got %q\nwant %q", got, want)
	}
	if inc.Status != StatusAcknowledged || inc.Reopened != 0 || inc.Level != 1 {
		t.Errorf("incident %s, reopened %d times, at level %d: want still acknowledged at the secondary", inc.Status, inc.Reopened, inc.Level+1)
	}
	for _, d := range inc.Pending {
		if d.Kind == DeadlineEscalate || d.Kind == DeadlineNotify {
			t.Errorf("pending %s at %s for %q after the rule: want none", d.Kind, d.At, d.User)
		}
	}
}

// TestEngineUnresolvedRulePagesTheOthersNotTheAcknowledger: AION-R "SEV-1:
// 1 hour → escalate to secondary + management". The secondary acknowledged
// the SEV-1 the primary missed; at 1 hour the team lead and the
// Engineering Manager are paged as before, and the secondary, who is
// working on it, is not.
func TestEngineUnresolvedRulePagesTheOthersNotTheAcknowledger(t *testing.T) {
	_, got := ackRun(t, map[string]string{"severity": "critical"}, 12*time.Minute, time.Hour+time.Minute)
	want := []string{
		"1h escalate unresolved after 1h",
		"1h already_acknowledged eng-b unresolved after 1h: eng-b acknowledged the incident and is not paged again",
		"1h notify lead-x push",
		"1h notify eng-manager push",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after Engineer B acknowledged the SEV-1, up to 1h01m:\n got %q\nwant %q", got, want)
	}
}
