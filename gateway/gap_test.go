package gateway

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// gapTestConfig is testConfig with ann's primary tier held only in
// office hours (09:00-17:00 UTC on weekdays): at fixedNow, Wednesday
// 06:00, nobody holds it.
func gapTestConfig(secondary string) string {
	c := strings.Replace(testConfig, `      - {name: primary, start: 2025-01-06, members: [ann]}`, `      - name: primary
        layers:
          - {name: office, start: 2025-01-06, members: [ann], restrictions: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}]}`, 1)
	return strings.Replace(c, `      - {name: secondary, start: 2025-01-06, members: [bob]}`, secondary, 1)
}

// TestLevelInAGapPagesTheNextLevelAtOnce: an alert at a time the first
// level's tier has nobody on call pages the next level at once, not after
// the first level's 15 minutes, and the incident's timeline says why. When
// no level pages anyone, the timeline, pagerd's log and
// pagerd_paged_nobody_total say so. pagerd_escalations_total counts the
// escalation the alert's intake made (it counted the dispatcher's only),
// not a last level paging nobody.
func TestLevelInAGapPagesTheNextLevelAtOnce(t *testing.T) {
	t.Run("next level", func(t *testing.T) {
		h := newHarness(t, withConfig(gapTestConfig(`      - {name: secondary, start: 2025-01-06, members: [bob]}`)))
		id := fire(h)
		h.runUntil(fixedNow.Add(time.Minute))
		if got, want := h.rec.lines(fixedNow), []string{"0s L2 bob push"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("pages = %q, want %q", got, want)
		}
		var said bool
		for _, e := range h.incident(id).Timeline {
			said = said || (e.Type == "escalate" && e.Level == 2 && strings.Contains(e.Detail, "level primary pages nobody"))
		}
		if !said {
			t.Fatalf("the timeline does not say level primary paged nobody: %+v", h.incident(id).Timeline)
		}
		escalationsCounted(t, h, map[string]float64{"1": 0, "2": 1})
	})
	t.Run("no level", func(t *testing.T) {
		h := newHarness(t, withConfig(gapTestConfig(`      - name: secondary
        layers:
          - {name: office, start: 2025-01-06, members: [bob], restrictions: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}]}`)))
		id := fire(h)
		h.runUntil(fixedNow.Add(time.Minute))
		if got := h.rec.lines(fixedNow); len(got) != 0 {
			t.Fatalf("pages = %q, want none", got)
		}
		var said bool
		for _, e := range h.incident(id).Timeline {
			said = said || (e.Type == "escalate" && strings.Contains(e.Detail, "level secondary pages nobody"))
		}
		if !said {
			t.Fatalf("the timeline does not say nobody was paged: %+v", h.incident(id).Timeline)
		}
		if logs := h.logs.String(); !strings.Contains(logs, `"msg":"escalation paged nobody: nobody is on call for it"`) || !strings.Contains(logs, id) {
			t.Fatalf("pagerd's log does not say nobody was paged:\n%s", logs)
		}
		if n := metric(t, h.reg, "pagerd_paged_nobody_total", "service", "api"); n != 1 {
			t.Fatalf("pagerd_paged_nobody_total{service=api} %v, want 1: an alert rule must see a missed page", n)
		}
		// One escalation, primary to secondary when the alert came; the
		// secondary paging nobody, with no level after it, leaves the
		// incident there.
		escalationsCounted(t, h, map[string]float64{"1": 0, "2": 1, "3": 0})
	})
	t.Run("one level", func(t *testing.T) {
		cfg := strings.Replace(gapTestConfig(`      - {name: secondary, start: 2025-01-06, members: [bob]}`),
			"      - {name: secondary, targets: [{schedule: s, tier: secondary}]}\n", "", 1)
		h := newHarness(t, withConfig(cfg))
		id := fire(h)
		h.runUntil(fixedNow.Add(time.Minute))
		if got := h.rec.lines(fixedNow); len(got) != 0 {
			t.Fatalf("pages = %q, want none", got)
		}
		if !h.timelineHas(id, "escalate", "level primary pages nobody") {
			t.Fatalf("the timeline does not say nobody was paged: %+v", h.incident(id).Timeline)
		}
		if n := metric(t, h.reg, "pagerd_paged_nobody_total", "service", "api"); n != 1 {
			t.Fatalf("pagerd_paged_nobody_total{service=api} %v, want 1", n)
		}
		// The only level paging nobody is no escalation: the incident
		// stays at it.
		escalationsCounted(t, h, map[string]float64{"1": 0, "2": 0})
	})
}

// escalationsCounted fails unless pagerd_escalations_total has want by level.
func escalationsCounted(t *testing.T, h *harness, want map[string]float64) {
	t.Helper()
	for level, n := range want {
		if got := metric(t, h.reg, "pagerd_escalations_total", "level", level); got != n {
			t.Errorf("pagerd_escalations_total{level=%q} %v, want %v", level, got, n)
		}
	}
}
