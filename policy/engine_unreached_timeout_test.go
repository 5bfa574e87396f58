package policy

import (
	"strings"
	"testing"
	"time"
)

// unreachedEscalations triggers a P0 on the config text at t0, applies
// each event in at (by offset, in order, before the steps due then), and
// fires the steps to end, each of Ann's pages refused for certain 20
// seconds after it is sent; reload, when set, is the config from its offset on. It returns the
// escalations, "offset level: detail".
func unreachedEscalations(t *testing.T, text string, at map[time.Duration]Event, reload string, reloadAt, end time.Duration) []string {
	t.Helper()
	load := func(text string) *Engine {
		c, err := Parse([]byte(text), "engine.yaml", "")
		if err != nil {
			t.Fatal(err)
		}
		return &Engine{Config: c}
	}
	e := load(text)
	rt := e.Config.Route(e.Config.Service("svc"), map[string]string{"severity": "critical"}, t0)
	inc, _ := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, t0)
	var out []string
	note := func(acts []Action) {
		for _, a := range acts {
			if a.Kind == ActionEscalate {
				out = append(out, Duration(a.At.Sub(t0)).String()+" "+a.LevelName+": "+a.Detail)
			}
		}
	}
	refusals := map[time.Duration][]Event{}
	for off := time.Duration(0); off <= end; off += time.Second {
		now := t0.Add(off)
		if reload != "" && off == reloadAt {
			e = load(reload)
		}
		if ev, ok := at[off]; ok {
			var acts []Action
			inc, acts = engApply(t, e, inc, ev, now)
			note(acts)
		}
		for _, ev := range refusals[off] {
			var acts []Action
			inc, acts = engApply(t, e, inc, ev, now)
			note(acts)
		}
		for {
			d, ok := inc.Next()
			if !ok || d.At.After(now) {
				break
			}
			var acts []Action
			inc, acts = engApply(t, e, inc, Event{Kind: EventDeadline, Deadline: d.ID}, now)
			note(acts)
			for _, a := range acts {
				if a.Kind == ActionNotify && a.User == "a" {
					later := off + 20*time.Second
					refusals[later] = append(refusals[later], Event{Kind: EventChannelFailed, Actor: "a", Channel: a.Channel, Step: d.ID})
				}
			}
		}
	}
	return out
}

// TestEngineLevelNobodyCanBeReachedGoesWhereItsTimeoutWould: a level
// nobody can be reached at is paged past at once in its timeout's place,
// so it goes where the timeout would have gone: a reload that took a level
// before it out of the policy moved the levels' indexes, and the next
// index was the level after the next one.
func TestEngineLevelNobodyCanBeReachedGoesWhereItsTimeoutWould(t *testing.T) {
	// Level zero (Cat) before first (Ann).
	withZero := strings.Replace(engConfig, "      - name: first\n",
		"      - name: zero\n        targets: [{user: c}]\n        timeout: 10m\n      - name: first\n", 1)
	t.Run("a reload took out a level before", func(t *testing.T) {
		// Escalated by hand to first at 30s; zero is taken out of the
		// policy at 40s, before Ann's push is refused at 50s (her SMS
		// at 1m10s, her call at 1m30s). The timeout would page second
		// (by name, as armed); third (Dan) is not paged ahead of it.
		got := unreachedEscalations(t, withZero, map[time.Duration]Event{
			30 * time.Second: {Kind: EventEscalate, ToLevel: "first"},
		}, engConfig, 40*time.Second, 2*time.Minute)
		if len(got) < 2 || !strings.HasPrefix(got[1], "1m30s second: ") {
			t.Fatalf("escalations %q: want the second one to page level second at 1m30s", got)
		}
	})
}
