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

// reloadAtSecond is an incident of zero, first, second, third, fourth
// standing at second (index 2), paged at 20m.
func reloadAtSecond(t *testing.T) (*Engine, Incident) {
	t.Helper()
	c, err := Parse([]byte(reloadFourth(reloadZero(engConfig))), "before.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Config: c}
	inc, _ := engTrigger(t, e, c.Service("svc"), "critical")
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
