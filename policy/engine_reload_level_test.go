package policy

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// These tests run an incident under one config, reload a second one that
// takes a level out of its policy, or puts one in, and go on under it: the
// level the incident is at is an index into the policy's levels, which the
// reload shifts.

// reloadZero is engConfig with a level zero before first: taking it out
// moves every level the incident can be at down by one.
func reloadZero(cfg string) string {
	return strings.Replace(cfg, "      - name: first\n",
		"      - name: zero\n        targets: [{user: c}]\n        timeout: 10m\n      - name: first\n", 1)
}

// reloadFourth is cfg with a level fourth after third, so that a level
// skipped is not hidden by the clamp to the last one.
func reloadFourth(cfg string) string {
	return strings.Replace(cfg, engThirdLevel, engThirdLevel+"      - name: fourth\n        targets: [{user: c}]\n        timeout: 10m\n", 1)
}

// reloadAtSecond is a P0 incident of zero, first, second, third, fourth
// standing at second (index 2), paged at 20m.
func reloadAtSecond(t *testing.T) (*Engine, Incident) {
	t.Helper()
	return reloadAtSecondAs(t, "critical")
}

// reloadAtSecondAs is reloadAtSecond of an alert of the severity.
func reloadAtSecondAs(t *testing.T, severity string) (*Engine, Incident) {
	t.Helper()
	c, err := Parse([]byte(reloadFourth(reloadZero(engConfig))), "before.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Config: c}
	inc, _ := engTrigger(t, e, c.Service("svc"), severity)
	inc, lines := engRun(t, e, inc, t0.Add(21*time.Minute))
	if inc.Level != 2 || !slices.Contains(lines, "20m escalate second") {
		t.Fatalf("not at second: %d %v", inc.Level, lines)
	}
	return e, inc
}

// TestEngineMissingStatusUpdateAfterAReloadTookOutAnEarlierLevel: Bob
// acknowledges at second (AION-R: the secondary) and posts no status
// update; meanwhile a reload takes zero out. The incident's level, an
// index, now holds third, and the missing update escalated "one level"
// from there: fourth was paged and third, the level after second, never.
func TestEngineMissingStatusUpdateAfterAReloadTookOutAnEarlierLevel(t *testing.T) {
	_, inc := reloadAtSecond(t)
	after := engReload(t, reloadFourth(engConfig))
	inc, _ = engApply(t, after, inc, Event{Kind: EventAcknowledge, Actor: "b"}, t0.Add(22*time.Minute))
	inc, acts := engApplyUntil(t, after, inc, t0.Add(53*time.Minute))
	lines := engSummary(acts)
	if !slices.Contains(lines, "52m escalate third") || !slices.Contains(lines, "52m notify third d sms") {
		t.Fatalf("no status update 30m after the acknowledgement at second: %v, want third paged", lines)
	}
	if slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "fourth") }) {
		t.Fatalf("fourth paged, third skipped: %v", lines)
	}
	if inc.Level != after.Config.Policy("p").LevelIndex("third") {
		t.Fatalf("at level %d after the escalation, want third", inc.Level)
	}
}

// engUserB is engConfig's user b, as a reload edits them.
const engUserB = "  - {id: b, name: Bob, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}\n"

// TestEngineLevelLeftWithNobodyAfterAReloadTookOutAnEarlierLevel: Bob is
// paged at second (push at 20m) when a reload takes zero out and leaves
// Bob with push alone. At his SMS step nobody else at second is to be
// paged, and the next level is paged at once: by the index, second's
// step stood at third. Dan, third's, was paged as "level third paged
// again" and the incident stayed put; had third paged nobody, fourth
// was paged, third skipped. Second is found by its name, and third, the
// level after it, is paged.
func TestEngineLevelLeftWithNobodyAfterAReloadTookOutAnEarlierLevel(t *testing.T) {
	_, inc := reloadAtSecond(t)
	after := engReload(t, reloadFourth(engConfig), engUserB, "  - {id: b, name: Bob, contacts: [{channel: push, via: log}]}\n")
	inc, acts := engApplyUntil(t, after, inc, t0.Add(22*time.Minute))
	lines := engSummary(acts)
	if !slices.Equal(lines, []string{"22m escalate third", "22m notify third d sms"}) {
		t.Fatalf("Bob's SMS step after the reload: %v, want third paged at once", lines)
	}
	const want = "b has no sms contact in the config any more, nor a channel this page has not used and level second has nobody else to page: escalated at once"
	if acts[0].Detail != want {
		t.Fatalf("the timeline says %q, want %q", acts[0].Detail, want)
	}
	if inc.Level != after.Config.Policy("p").LevelIndex("third") || inc.LevelName != "third" {
		t.Fatalf("at level %d (%s), want third", inc.Level, inc.LevelName)
	}
}

// TestEngineLevelNamedAfterAReloadTookOutAnEarlierLevel: an incident at
// second when a reload takes zero out. Its level's index holds third now,
// and what named the level by it said third: the timeline of a status
// update and of Bob's page on the channels he has left, the API, Slack
// and the console (Config.IncidentLevelName). Nobody was paged at third,
// and the incident is not there.
func TestEngineLevelNamedAfterAReloadTookOutAnEarlierLevel(t *testing.T) {
	_, inc := reloadAtSecond(t)
	const emailB = "  - {id: b, name: Bob, contacts: [{channel: push, via: log}, {channel: email, via: log, address: b@example.com}], " +
		"notification_rules: {high: [{after: 0s, channel: push}, {after: 1m, channel: email}]}}\n"
	after := engReload(t, reloadFourth(engConfig), engUserB, emailB)
	if got := after.Config.IncidentLevelName(&inc); got != "second" {
		t.Fatalf("the incident's level is named %q after the reload, want second", got)
	}
	inc, acts := engApply(t, after, inc, Event{Kind: EventStatusUpdate, Actor: "b", Message: "looking"}, t0.Add(21*time.Minute))
	inc, more := engApplyUntil(t, after, inc, t0.Add(24*time.Minute))
	acts = append(acts, more...)
	want := []string{"21m status_update second b", "22m escalate second", "22m notify second b email"}
	if got := engSummary(acts); !slices.Equal(got, want) {
		t.Fatalf("after the reload:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d := acts[1].Detail; !strings.Contains(d, "paged again at level second,") {
		t.Fatalf("Bob's page on email says %q, want it at level second", d)
	}
	if got := after.Config.IncidentLevelName(&inc); got != "second" {
		t.Fatalf("the incident's level is named %q after events under the new config, want second", got)
	}
	// A level the config no longer has is not named by the one that
	// took its index.
	noSecond := engReload(t, reloadFourth(engConfig), "      - name: second\n", "      - name: other\n", "{level: second}", "{level: other}")
	if got := noSecond.Config.IncidentLevelName(&inc); got != "" {
		t.Fatalf("the incident's level, taken out, is named %q, want none", got)
	}
	// An incident stored before level names were kept is named by its index.
	old := inc
	old.LevelName = ""
	if got := after.Config.IncidentLevelName(&old); got != "third" {
		t.Fatalf("an incident without a level name is named %q, want the level at its index", got)
	}
}

// engExtraLevel is a level a reload puts in after engConfig's first.
const engExtraLevel = "      - name: extra\n        targets: [{user: c}]\n        timeout: 10m\n"

// TestEngineLevelPutInAfterTheIncidentsIsPagedNext: an incident at first
// when a reload puts a level in right after it (a team lead added between
// primary and secondary). The level's timeout, armed before, names the
// level that came next then, second, and went there: the new level was
// skipped for the incident, though every incident opened after the reload
// pages it, and a person escalating by hand or a level nobody could be
// reached at did the same. The level after the incident's, by the config
// as it is now, is paged next. Only when the reload took the incident's
// own level out does its timeout's name decide (there is no "after it"),
// and an incident stored before level names were kept goes by it too.
// The console says where the timeout goes by the same rule
// (Config.NextLevel).
func TestEngineLevelPutInAfterTheIncidentsIsPagedNext(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "critical")
	inc, _ = engRun(t, e, inc, t0.Add(5*time.Minute))
	second := "      - name: second\n"
	inserted := engReload(t, engConfig, second, engExtraLevel+second)
	// What the console says first's timeout will do.
	if next, name, ok := inserted.Config.NextLevel(&inc); !ok || next != 1 || name != "extra" {
		t.Fatalf("the next level after the reload: %d %q %v, want extra (1)", next, name, ok)
	}

	t.Run("timeout", func(t *testing.T) {
		_, acts := engApplyUntil(t, inserted, inc, t0.Add(10*time.Minute))
		if lines := engSummary(acts); !slices.Contains(lines, "10m escalate extra") || !slices.Contains(lines, "10m notify extra c push") {
			t.Fatalf("first's timeout after extra was put in after it: %v, want extra paged", lines)
		}
	})
	t.Run("escalate", func(t *testing.T) {
		from := Event{Kind: EventEscalate, Actor: "a", FromLevel: 0, FromLevelSet: true, FromLevelAt: t0}
		_, acts := engApply(t, inserted, inc, from, t0.Add(6*time.Minute))
		if lines := engSummary(acts); !slices.Contains(lines, "6m escalate extra") {
			t.Fatalf("a's escalation from first after extra was put in after it: %v, want extra paged", lines)
		}
	})
	t.Run("first taken out", func(t *testing.T) {
		gone := engReload(t, engConfig, "      - name: first\n        targets: [{schedule: s, tier: primary}]\n        timeout: 10m\n", "")
		_, acts := engApplyUntil(t, gone, inc, t0.Add(10*time.Minute))
		if lines := engSummary(acts); !slices.Contains(lines, "10m escalate second") {
			t.Fatalf("first's timeout after first was taken out: %v, want second, the level its timeout names", lines)
		}
	})
	t.Run("stored before level names", func(t *testing.T) {
		old := inc
		old.LevelName = ""
		_, acts := engApplyUntil(t, inserted, old, t0.Add(10*time.Minute))
		if lines := engSummary(acts); !slices.Contains(lines, "10m escalate second") {
			t.Fatalf("first's timeout of an incident stored without its level's name: %v, want the level the timeout names", lines)
		}
	})
}

// TestEngineRaiseAfterAReloadTookOutAnEarlierLevelPagesTheIncidentsLevel:
// a P1 at second when a reload takes zero out, and its alert then fires
// as critical. A raise pages the level the incident is at again, on the
// new priority's ladder: by the index, that was third, and Dan was paged
// as if second were his, Bob never told the incident is now a P0, and
// the incident put at third without an escalation.
func TestEngineRaiseAfterAReloadTookOutAnEarlierLevelPagesTheIncidentsLevel(t *testing.T) {
	_, inc := reloadAtSecondAs(t, "error")
	after := engReload(t, reloadFourth(engConfig))
	rt := after.Config.Route(after.Config.Service("svc"), map[string]string{"severity": "critical"}, t0)
	inc, acts := engApply(t, after, inc, Event{Kind: EventTrigger, Route: &rt}, t0.Add(22*time.Minute))
	lines := engSummary(acts)
	if !slices.Contains(lines, "22m escalate second") || !slices.ContainsFunc(acts, func(a Action) bool {
		return a.Kind == ActionEscalate && strings.Contains(a.Detail, "priority raised from P1 to P0")
	}) {
		t.Fatalf("the raise after the reload: %v, want second paged again", lines)
	}
	if !slices.ContainsFunc(inc.Pending, func(d Deadline) bool {
		return d.Kind == DeadlineNotify && d.User == "b" && d.At.Equal(t0.Add(22*time.Minute))
	}) ||
		slices.ContainsFunc(inc.Pending, func(d Deadline) bool { return d.Kind == DeadlineNotify && d.User == "d" }) {
		t.Fatalf("the raise after the reload pages %v, want Bob (second) and not Dan (third)", inc.Pending)
	}
	if got := after.Config.IncidentLevelName(&inc); got != "second" {
		t.Fatalf("after the raise the incident is at %q, want second", got)
	}
}

// TestEngineUnresolvedRuleAfterAReloadTookOutAnEarlierLevel: a P0 at
// second, acknowledged by Ann, when a reload takes zero out; an hour in,
// its unresolved rule pages second. The rule moves the incident up to
// the highest level it pages, compared with the incident's level by
// index: second's index held third now, so the incident was put at third
// though nobody there was paged, and third's timeout then paged fourth.
// Third was skipped.
func TestEngineUnresolvedRuleAfterAReloadTookOutAnEarlierLevel(t *testing.T) {
	_, inc := reloadAtSecond(t)
	after := engReload(t, reloadFourth(engConfig), "notify: [{level: second}, {user: d}]", "notify: [{level: second}]")
	inc, _ = engApply(t, after, inc, Event{Kind: EventAcknowledge, Actor: "a"}, t0.Add(22*time.Minute))
	inc, _ = engApply(t, after, inc, Event{Kind: EventStatusUpdate, Actor: "a", Message: "on it"}, t0.Add(45*time.Minute))
	inc, acts := engApplyUntil(t, after, inc, t0.Add(71*time.Minute))
	lines := engSummary(acts)
	for _, want := range []string{"1h escalate second", "1h notify second b push", "1h10m escalate third", "1h10m notify third d sms"} {
		if !slices.Contains(lines, want) {
			t.Fatalf("the unresolved rule after the reload: %v, want %q", lines, want)
		}
	}
	if slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "fourth") }) {
		t.Fatalf("fourth paged, third skipped: %v", lines)
	}
	if got := after.Config.IncidentLevelName(&inc); got != "third" {
		t.Fatalf("at %q, want third", got)
	}
}

// TestEngineLevelUnreachedAfterAReloadTookOutAnEarlierLevel: a P0 whose
// rule pages third at once (Dan, SMS now and at 24m) stands at second
// when a reload takes zero out; every page to Bob, second's, is refused.
// Nobody at second was reached, and third is paged at once. The pages
// counted as the level's were those of the people of the level at its
// index, third now: Dan's SMS of the page at once counted as reaching
// second, and second waited out its timeout with nobody told.
func TestEngineLevelUnreachedAfterAReloadTookOutAnEarlierLevel(t *testing.T) {
	edits := func(cfg string) string {
		cfg = strings.Replace(cfg, "{after: 1m, channel: sms}", "{after: 24m, channel: sms}", 1)
		return strings.Replace(cfg, "    escalation_policy: p\n",
			"    escalation_policy: p\n    rules:\n      - {name: db, matchers: ['team=\"db\"'], priority: P0, page_immediately: [third]}\n", 1)
	}
	c, err := Parse([]byte(edits(reloadFourth(reloadZero(engConfig)))), "before.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	before := &Engine{Config: c}
	after := engReload(t, edits(reloadFourth(engConfig)))
	rt := c.Route(c.Service("svc"), map[string]string{"severity": "critical", "team": "db"}, t0)
	inc, _ := engApply(t, before, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, t0)
	var bob []Deadline
	fire := func(e *Engine, end time.Time) {
		for d, ok := inc.Next(); ok && !d.At.After(end); d, ok = inc.Next() {
			inc, _, _ = engFire(t, e, inc)
			if d.Kind == DeadlineNotify && d.User == "b" {
				bob = append(bob, d)
			}
		}
	}
	fire(before, t0.Add(21*time.Minute))
	if inc.LevelName != "second" {
		t.Fatalf("at %q, want second", inc.LevelName)
	}
	fire(after, t0.Add(25*time.Minute))
	if len(bob) != 3 {
		t.Fatalf("Bob's pages at second: %v, want push, sms and voice", bob)
	}
	var acts []Action
	for _, d := range bob {
		var more []Action
		inc, more = engApply(t, after, inc, Event{Kind: EventChannelFailed, Actor: "b", Channel: d.Channel, Step: d.ID}, t0.Add(26*time.Minute))
		acts = append(acts, more...)
	}
	if lines := engSummary(acts); !slices.Contains(lines, "26m escalate third") || !slices.ContainsFunc(inc.Pending, func(d Deadline) bool {
		return d.Kind == DeadlineNotify && d.User == "d" && d.At.Equal(t0.Add(26*time.Minute))
	}) {
		t.Fatalf("every page to Bob refused after the reload: %v, want third paged at once", lines)
	}
}

// TestEngineLevelPagedAgainAfterAReloadAnswersAsTheLevel: Bob is paged at
// second when a reload takes zero out, leaves Bob with push alone and
// puts Cat at second with him. At Bob's SMS step second is paged again
// without him: Cat. Her page is one of the level the incident is at,
// and her "escalate" answering it pages third; numbered as the level's
// place in the new config while the incident kept the number its pages
// went out with, it was refused as answered already.
func TestEngineLevelPagedAgainAfterAReloadAnswersAsTheLevel(t *testing.T) {
	_, inc := reloadAtSecond(t)
	after := engReload(t, reloadFourth(engConfig), engUserB, "  - {id: b, name: Bob, contacts: [{channel: push, via: log}]}\n",
		"targets: [{schedule: s, tier: secondary}, {user: b}]", "targets: [{schedule: s, tier: secondary}, {user: b}, {user: c}]")
	inc, acts := engApplyUntil(t, after, inc, t0.Add(22*time.Minute))
	if lines := engSummary(acts); !slices.Equal(lines, []string{"22m escalate second", "22m notify second c push"}) {
		t.Fatalf("Bob's SMS step after the reload: %v, want second paged again without him", lines)
	}
	var page Action
	for _, a := range acts {
		if a.Kind == ActionNotify {
			page = a
		}
	}
	from := Event{Kind: EventEscalate, Actor: "c", FromLevel: page.Level, FromLevelSet: true, FromLevelAt: page.At}
	_, acts, err := after.Apply(inc, from, t0.Add(23*time.Minute))
	if err != nil || !slices.Contains(engSummary(acts), "23m escalate third") {
		t.Fatalf("Cat's escalation answering her page at second: %v %v, want third paged", err, engSummary(acts))
	}
}

// TestEngineUnresolvedRulePageAfterAReloadAnswersAsTheLevel: a P0 at
// second (whose timeout is 2h), not acknowledged, when a reload takes
// zero out; an hour in, its unresolved rule pages second again, which
// leaves the incident where it is. Bob's page was numbered as second's
// place in the new config, while the incident kept the number its pages
// went out with: his "escalate" answering it was refused as answered
// already.
func TestEngineUnresolvedRulePageAfterAReloadAnswersAsTheLevel(t *testing.T) {
	edits := func(cfg string) string {
		cfg = strings.Replace(cfg, "notify: [{level: second}, {user: d}]", "notify: [{level: second}]", 1)
		return strings.Replace(cfg, "        timeout: 10m\n        timeouts: {P1: 20m}\n", "        timeout: 2h\n", 1)
	}
	c, err := Parse([]byte(edits(reloadFourth(reloadZero(engConfig)))), "before.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	before := &Engine{Config: c}
	inc, _ := engTrigger(t, before, c.Service("svc"), "critical")
	inc, _ = engRun(t, before, inc, t0.Add(21*time.Minute))
	if inc.LevelName != "second" {
		t.Fatalf("at %q, want second", inc.LevelName)
	}
	after := engReload(t, edits(reloadFourth(engConfig)))
	inc, acts := engApplyUntil(t, after, inc, t0.Add(time.Hour))
	if lines := engSummary(acts); !slices.Contains(lines, "1h escalate second") || !slices.Contains(lines, "1h notify second b push") {
		t.Fatalf("the unresolved rule after the reload: %v, want second paged again", lines)
	}
	from := Event{Kind: EventEscalate, Actor: "b", FromLevel: acts[len(acts)-1].Level, FromLevelSet: true, FromLevelAt: t0.Add(time.Hour)}
	_, acts, err = after.Apply(inc, from, t0.Add(61*time.Minute))
	if err != nil || !slices.Contains(engSummary(acts), "1h1m escalate third") {
		t.Fatalf("Bob's escalation answering the rule's page: %v %v, want third paged", err, engSummary(acts))
	}
}
