package gateway

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
)

// TestFloodOfOneServiceQueuesNoOtherBehindIt: a new incident's first page
// is queued a second ahead of its time, but one service's new incidents
// have that lead only for a burst of 20 (and 2 a second after it). Api
// repeats one alert 25 times (one incident; repeats spend no lead), then
// opens 30 incidents at once; batch opens one after them. A dispatcher
// with room for 21 claims api's first incident, the first 19 of its flood
// and batch's, not batch's behind the whole flood. Before the budget,
// batch's page waited behind all 31 (in the load run, 250-430 ms behind a
// flood of 10,000 on the embedded store).
func TestFloodOfOneServiceQueuesNoOtherBehindIt(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)))
			post := func(key, group string) string {
				t.Helper()
				r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", group, map[string]string{"alertname": group, "severity": "critical"}),
					"Authorization", "Bearer "+key)
				var got struct{ Incidents []string }
				r.json(t, &got)
				if r.code != 200 || len(got.Incidents) != 1 {
					t.Fatalf("%s: %d %s", group, r.code, r.body)
				}
				return got.Incidents[0]
			}
			var want []string
			for range 25 {
				if id := post(amKey, "again"); len(want) == 0 {
					want = append(want, id)
				} else if id != want[0] {
					t.Fatalf("a repeat opened %s, want %s", id, want[0])
				}
			}
			for i := range 30 {
				if id := post(amKey, fmt.Sprintf("flood-%02d", i)); i < 19 {
					want = append(want, id)
				}
			}
			want = append(want, post("batch-key-0000000000000000000000", "other"))
			cs, err := h.store.ClaimDue(context.Background(), h.clock.Now(), time.Minute, 21)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range cs {
				got = append(got, c.Incident)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("claimed %v,\nwant api's repeated incident, the first 19 of its flood and batch's %v", got, want)
			}
		})
	}
}

// TestMaintenanceWindowSpendsNoLead: an incident a maintenance window
// holds has no first page due, so it spends none of its service's leads.
// Api opens 25 incidents inside a window (more than the burst of 20), then
// one outside it: that one is still queued a second ahead of its page.
// Before, the held incidents had spent the burst, and it was queued at its
// own time, behind whatever was due before it.
func TestMaintenanceWindowSpendsNoLead(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(mwConfig))
			h.addWindow(`{"name":"failover","services":["api"],"matchers":["team=\"db\""],"duration":"30m","reason":"planned failover"}`, 201)
			for i := range 25 {
				fireLabels(h, fmt.Sprintf("g-db-%d", i), map[string]string{"alertname": fmt.Sprintf("Replication%d", i), "severity": "critical", "team": "db"})
			}
			paged := fireLabels(h, "g-web", map[string]string{"alertname": "HTTP", "severity": "critical", "team": "web"})
			cs, err := h.store.ClaimDue(context.Background(), h.clock.Now().Add(-store.FirstPageLead/2), time.Minute, 30)
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) != 1 || cs[0].Incident != paged {
				t.Fatalf("claimed %+v half a lead before now, want only %s, its first page queued a lead ahead", cs, paged)
			}
		})
	}
}
