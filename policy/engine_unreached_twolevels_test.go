package policy

import (
	"strings"
	"testing"
	"time"
)

// TestEngineLevelWithAPersonPagedAtAnotherLevelIsNotUnreached: Ann is at
// level first with Cat, and at level third, which the db rule pages at
// once. Paged at third, her ladder runs there (one ladder a person), and
// it goes out; Cat's pages are all refused. Someone at level first was
// reached, Ann: the level keeps its timeout, and second is not paged at
// once with a timeline saying nobody was reached.
func TestEngineLevelWithAPersonPagedAtAnotherLevelIsNotUnreached(t *testing.T) {
	text := strings.Replace(engConfig, "        targets: [{schedule: s, tier: primary}]\n",
		"        targets: [{schedule: s, tier: primary}, {user: c}]\n", 1)
	text = strings.Replace(text, "        targets: [{user: d}]\n", "        targets: [{user: d}, {user: a}]\n", 1)
	text = strings.Replace(text, "    escalation_policy: p\n",
		"    escalation_policy: p\n    rules:\n      - {name: db, matchers: ['team=\"db\"'], priority: P0, page_immediately: [third]}\n", 1)
	c, err := Parse([]byte(text), "engine.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Config: c}
	rt := c.Route(c.Service("svc"), map[string]string{"severity": "critical", "team": "db"}, t0)
	inc, _ := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, t0)
	var escalations []string
	note := func(acts []Action) {
		for _, a := range acts {
			if a.Kind == ActionEscalate {
				escalations = append(escalations, Duration(a.At.Sub(t0)).String()+" "+a.LevelName+": "+a.Detail)
			}
		}
	}
	ann := 0
	for {
		d, ok := inc.Next()
		if !ok || d.At.After(t0.Add(11*time.Minute)) {
			break
		}
		var acts []Action
		inc, acts = engApply(t, e, inc, Event{Kind: EventDeadline, Deadline: d.ID}, d.At)
		note(acts)
		for _, a := range acts {
			switch {
			case a.Kind == ActionNotify && a.User == "c":
				inc, acts = engApply(t, e, inc, Event{Kind: EventChannelFailed, Actor: "c", Channel: a.Channel, Step: d.ID}, a.At)
				note(acts)
			case a.Kind == ActionNotify && a.User == "a":
				ann++
			}
		}
	}
	if ann == 0 {
		t.Fatal("Ann was never paged: the test does not test what it says")
	}
	if want := "10m second: not acknowledged within 10m"; len(escalations) != 1 || escalations[0] != want {
		t.Fatalf("escalations %q, want [%q]", escalations, want)
	}
}
