package policy

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestEngineAckTargetFollowsTheEndOfBusinessHours: AIVO's P3 must be
// acknowledged within 4 hours in business hours, and "during off-hours
// (6 PM - 8 AM) ... acknowledge P2/P3 alerts within 1 hour". A P3 opened
// at 17:59 is off-hours a minute later: its primary has until 19:00, as
// one opened at 18:00 does, not until 21:59; the secondary is paged then
// and the acknowledge target is missed then. A P3 opened at 07:00 keeps
// its off-hours hour (08:00): business hours opening never make a target
// later.
func TestEngineAckTargetFollowsTheEndOfBusinessHours(t *testing.T) {
	cfg := loadExample(t, "aivo.yaml")
	ny := exampleLoc(t, "America/New_York")
	svc := cfg.Service("aivo-production")
	e := &Engine{Config: cfg}
	for _, tc := range []struct {
		name  string
		start time.Time
		want  []string
	}{
		{"opened at 17:59", time.Date(2025, 10, 7, 17, 59, 0, 0, ny), []string{"19:00 sla_breach acknowledge", "19:00 escalate secondary"}},
		{"opened at 18:00", time.Date(2025, 10, 7, 18, 0, 0, 0, ny), []string{"19:00 sla_breach acknowledge", "19:00 escalate secondary"}},
		{"opened at 07:00", time.Date(2025, 10, 7, 7, 0, 0, 0, ny), []string{"08:00 sla_breach acknowledge", "08:00 escalate secondary"}},
		{"opened at 14:00", time.Date(2025, 10, 7, 14, 0, 0, 0, ny), []string{"18:00 sla_breach acknowledge", "18:00 escalate secondary"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := cfg.Route(svc, map[string]string{"alertname": "Disk", "severity": "info"}, tc.start)
			if rt.Priority != "P3" {
				t.Fatalf("priority %s, want P3", rt.Priority)
			}
			inc, _ := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, tc.start)
			var got []string
			for len(got) < 2 {
				d, ok := inc.Next()
				if !ok || d.At.After(tc.start.Add(5*time.Hour)) {
					break
				}
				var acts []Action
				inc, acts, _ = engFire(t, e, inc)
				for _, a := range acts {
					at := a.At.In(ny).Format("15:04")
					switch {
					case a.Kind == ActionSLABreach && a.Detail == "acknowledge":
						got = append(got, at+" sla_breach acknowledge")
					case a.Kind == ActionEscalate:
						got = append(got, at+" escalate "+a.LevelName)
					}
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestEngineAIVOHolidayCoverageDaysAreOffHours: AIVO's off-hours are "6 PM
// - 8 AM, Weekends, Holidays", and the seed's holidays are its "Holiday
// Coverage" days: Labor Day Weekend (Aug 30 - Sep 2) and Thanksgiving
// (Nov 27-29). A P3 at 10:00 on Tuesday Sep 2, as on Friday Nov 28, pages
// the holiday primary with a push only and the secondary after an hour
// ("acknowledge P2/P3 alerts within 1 hour"), not SMS and a call and then
// four hours of nothing. A P3 on an ordinary Tuesday gets the business
// hours ladder.
func TestEngineAIVOHolidayCoverageDaysAreOffHours(t *testing.T) {
	cfg := loadExample(t, "aivo.yaml")
	ny := exampleLoc(t, "America/New_York")
	svc := cfg.Service("aivo-production")
	e := &Engine{Config: cfg}
	for _, tc := range []struct {
		name  string
		start time.Time
		want  []string
	}{
		{"Tue Sep 2, Labor Day weekend", time.Date(2025, 9, 2, 10, 0, 0, 0, ny), []string{"10:00 notify emily push", "11:00 escalate secondary", "11:00 notify marcus push"}},
		{"Fri Nov 28, Thanksgiving", time.Date(2025, 11, 28, 10, 0, 0, 0, ny), []string{"10:00 notify jennifer push", "11:00 escalate secondary", "11:00 notify alex push"}},
		{"Tue Sep 9, a working day", time.Date(2025, 9, 9, 10, 0, 0, 0, ny), []string{"10:00 notify jennifer push", "10:02 notify jennifer sms", "10:05 notify jennifer voice", "14:00 escalate secondary", "14:00 notify marcus push"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := cfg.Route(svc, map[string]string{"alertname": "Disk", "severity": "info"}, tc.start)
			inc, acts := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, tc.start)
			var got []string
			note := func(acts []Action) {
				for _, a := range acts {
					at := a.At.In(ny).Format("15:04")
					switch a.Kind {
					case ActionNotify:
						got = append(got, at+" notify "+a.User+" "+a.Channel)
					case ActionEscalate:
						got = append(got, at+" escalate "+a.LevelName)
					}
				}
			}
			note(acts)
			for len(got) < len(tc.want) {
				d, ok := inc.Next()
				if !ok || d.At.After(tc.start.Add(5*time.Hour)) {
					break
				}
				inc, acts, _ = engFire(t, e, inc)
				note(acts)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestEngineStatusUpdateTargetFollowsTheEndOfBusinessHours: the
// status-update target counts across business hours closing as the
// other targets do. A SEV-1 with a status update due every hour in
// business hours and every 30 minutes off-hours, opened at 16:45 (AION-R
// closes at 17:00), is due an update at 17:30: `pagerd route` said so,
// while the engine recorded the breach at 17:45, the business-hours hour
// counted whole. An update at 16:50 restarts the clock the same way
// (17:30 again, not 17:50).
func TestEngineStatusUpdateTargetFollowsTheEndOfBusinessHours(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "configs", "aion-r.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const base = "        status_update: 30m\n      SEV-2:"
	if !strings.Contains(string(b), base) {
		t.Fatal("aion-r.yaml's SEV-1 status_update target moved: update the test")
	}
	y := strings.Replace(string(b), base, "        status_update: 1h\n        off_hours: {status_update: 30m}\n      SEV-2:", 1)
	cfg, err := Parse([]byte(y), "aion-r.yaml", filepath.Join("..", "configs"))
	if err != nil {
		t.Fatal(err)
	}
	svc := cfg.Service("aion-r-platform")
	lbls := map[string]string{"alertname": "Down", "severity": "critical"}
	start := time.Date(2025, 10, 7, 16, 45, 0, 0, time.UTC) // a Tuesday
	want := time.Date(2025, 10, 7, 17, 30, 0, 0, time.UTC)
	if got := cfg.Preview(svc, lbls, start).Targets["status_update"].Due; !got.Equal(want) {
		t.Fatalf("route: status update due %s, want %s", got.UTC(), want)
	}
	statusDue := func(inc Incident) time.Time {
		for _, d := range inc.Pending {
			if d.Kind == DeadlineSLA && d.Target == "status_update" {
				return d.At
			}
		}
		return time.Time{}
	}
	e := &Engine{Config: cfg}
	rt := cfg.Route(svc, lbls, start)
	inc, _ := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, start)
	if got := statusDue(inc); !got.Equal(want) {
		t.Errorf("armed at the trigger: status update due %s, want %s, as route says", got.UTC(), want)
	}
	inc, _ = engApply(t, e, inc, Event{Kind: EventAcknowledge, Actor: "eng-a"}, start.Add(2*time.Minute))
	inc, _ = engApply(t, e, inc, Event{Kind: EventStatusUpdate, Actor: "eng-a", Message: "looking"}, start.Add(5*time.Minute))
	if got := statusDue(inc); !got.Equal(want) {
		t.Errorf("after an update at 16:50: status update due %s, want %s", got.UTC(), want)
	}
}

// TestTargetDueAtSkipsOnlyEdgesThatCannotMatter: a fixed target that no
// variant of its priority sets is not walked across business hours'
// edges (from a later edge the same duration ends later). Every target
// of the example configs' priorities, started every 7 minutes of 2025,
// falls due as the full walk says.
func TestTargetDueAtSkipsOnlyEdgesThatCannotMatter(t *testing.T) {
	for _, file := range []string{"aivo.yaml", "aion-r.yaml"} {
		cfg := loadExample(t, file)
		for i := range cfg.Services {
			svc := &cfg.Services[i]
			cal := cfg.Calendar(svc)
			for prio := range svc.Targets {
				for _, name := range TargetNames {
					from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
					for start := from; start.Before(from.AddDate(1, 0, 0)); start = start.Add(7 * time.Minute) {
						to := cfg.targetAt(svc, prio, name, start)
						got, ok := cfg.TargetDueAt(svc, prio, name, start)
						if ok != to.IsSet() {
							t.Fatalf("%s %s %s at %s: ok %v", svc.Name, prio, name, start, ok)
						}
						if !ok {
							continue
						}
						want := cfg.DueAt(svc, prio, to, start)
						for edge := cal.nextEdge(start); edge.Before(want); edge = cal.nextEdge(edge) {
							if to := cfg.targetAt(svc, prio, name, edge); to.IsSet() {
								if d := cfg.DueAt(svc, prio, to, edge); d.Before(want) {
									want = d
								}
							}
						}
						if !got.Equal(want) {
							t.Fatalf("%s %s %s at %s: due %s, the full walk says %s", svc.Name, prio, name, start, got, want)
						}
					}
				}
			}
		}
	}
}
