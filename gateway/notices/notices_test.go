package notices

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

func parse(t *testing.T, before string) *policy.Config {
	t.Helper()
	cfg, err := policy.Parse([]byte(`
users:
  - {id: ann, name: Ann, contacts: [{channel: push, via: log}]}
  - {id: bob, name: Bob, contacts: [{channel: push, via: log}]}
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: primary, start: 2025-01-06, members: [ann, bob]}
    notices: {before: `+before+`}
escalation_policies:
  - {name: p, levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]}
services:
  - {name: api, priority_scheme: P0-P3, escalation_policy: p, integrations: {alertmanager_key: am-key-0123456789abcdef0123456789}}
`), "test.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestHandleTakesItsNextDueFromTheConfigAtItsEnd: a config that changed
// while the job ran (a reload, an override: arming leaves a due job
// alone) sets when the job is due next, not the config it began with.
func TestHandleTakesItsNextDueFromTheConfigAtItsEnd(t *testing.T) {
	began, changed := parse(t, "24h"), parse(t, "48h")
	calls := 0
	at := time.Date(2025, 9, 10, 12, 0, 0, 0, time.UTC) // Wednesday; the handoff is Monday Sep 15
	s := New(Options{Config: func() *policy.Config {
		calls++
		if calls == 1 {
			return began
		}
		return changed
	}, Now: func() time.Time { return at }})
	data, _ := json.Marshal(state{Last: at.Add(-time.Minute)})
	nextJob, err := s.Handle(context.Background(), &store.Job{Kind: Kind, Key: "s", Due: at, Data: data})
	if err != nil || nextJob == nil {
		t.Fatalf("Handle: %v %v", nextJob, err)
	}
	want, stale := time.Date(2025, 9, 13, 0, 0, 0, 0, time.UTC), time.Date(2025, 9, 14, 0, 0, 0, 0, time.UTC)
	if !nextJob.Due.Equal(want) {
		t.Fatalf("next due %v, want %v (two days ahead, as the config says now; %v is the config it began with)", nextJob.Due, want, stale)
	}
}
