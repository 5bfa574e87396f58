package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/policy"
)

// TestIncidentOfAPriorityTheSchemeLacksEscalates: a P0 incident of
// service api is paged by a pagerd on P0–P3 (ann at once), which then
// restarts on a config that moves api to SEV-1–4 (restarts, unlike
// reloads, are not checked against open incidents), whose levels time
// out after 3m for SEV-1 and 15m for the rest. The first level's
// timeout, armed before the restart, pages secondary (bob) at 5m; the
// secondary level then times out on SEV-1's 3m and everyone is paged at
// 8m. It used to find no timeout for P0 there and stop: level 3 was
// never paged, and nothing said so. Now the timeline says once that P0
// is escalated as SEV-1, the log once (ERROR), and every claim of it is
// counted (pagerd_dispatch_errors_total{reason="unknown_priority"}); a
// second restart, at 6m, does not say it again in the timeline.
func TestIncidentOfAPriorityTheSchemeLacksEscalates(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			before := newHarness(t, withStore(st), withConfig(schemeConfig(policy.SchemeP, "5m", "")))
			id := fire(before)
			before.step(fixedNow)
			if got := strings.Join(before.rec.lines(fixedNow), ","); got != "0s L1 ann push" {
				t.Fatalf("pages before the restart: %s", got)
			}
			sev := schemeConfig(policy.SchemeSEV, "3m", "")
			h := newHarness(t, withStore(st), withConfig(sev))
			h.runUntil(fixedNow.Add(6 * time.Minute))
			// Restarted again: the timeline said it already.
			again := newHarness(t, withStore(st), withConfig(sev), startAt(fixedNow.Add(6*time.Minute)))
			again.runUntil(fixedNow.Add(30 * time.Minute))
			got := strings.Join(append(h.rec.lines(fixedNow), again.rec.lines(fixedNow)...), ",")
			for _, want := range []string{"5m L2 bob push", "8m L3 ann push", "8m L3 bob push"} {
				if !strings.Contains(got, want) {
					t.Errorf("pages after the restart: %s; want %s", got, want)
				}
			}
			if v := h.incident(id); v.Priority != "P0" {
				t.Errorf("priority %s, want P0 kept (the incident says what it was opened with)", v.Priority)
			}
			notes := entriesOf(h.incident(id).Timeline, dispatch.UnknownPriority, "")
			if len(notes) != 1 || notes[0].Detail != "priority P0 is not in the service's scheme SEV-1-4 (config changed while it was open): escalating on SEV-1's timeouts, targets and rules" {
				t.Errorf("timeline says %+v, want once that P0 is escalated as SEV-1", notes)
			}
			if n := metric(t, again.reg, "pagerd_dispatch_errors_total", "reason", "unknown_priority"); n < 2 {
				t.Errorf("pagerd_dispatch_errors_total{reason=unknown_priority} = %v from 6m to 30m, want every claim counted", n)
			}
			for _, h := range []*harness{h, again} {
				logs := h.logs.String()
				if n := strings.Count(logs, `"level":"ERROR","msg":"dispatcher: an incident's priority is not in its service's scheme`); n != 1 {
					t.Errorf("%d ERROR lines about it from one pagerd, want 1", n)
				}
				if !strings.Contains(logs, `"priority":"P0","scheme":"SEV-1-4","escalated_as":"SEV-1"`) {
					t.Error("the ERROR line does not name the priority, the scheme and what it is escalated as")
				}
			}
		})
	}
}
