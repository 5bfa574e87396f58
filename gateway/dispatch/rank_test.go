package dispatch

import (
	"testing"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// TestRankOfAPriorityTheSchemeLacks: an incident whose priority its
// service's scheme no longer has (P0 under SEV-1–4, the config changed
// while it was open) is escalated as the scheme's most urgent, so an
// alert storm ranks it so too: it goes out at once as a SEV-1 would,
// not last, behind every page held.
func TestRankOfAPriorityTheSchemeLacks(t *testing.T) {
	cfg, err := policy.Parse([]byte(`
users:
  - {id: ann, name: Ann, contacts: [{channel: push, via: log}]}
escalation_policies:
  - name: p
    levels:
      - {name: primary, targets: [{user: ann}]}
services:
  - {name: api, priority_scheme: SEV-1-4, escalation_policy: p}
`), "test.yaml", ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		service, priority string
		want              int
	}{
		{"api", "SEV-1", 0},
		{"api", "SEV-3", 2},
		{"api", "P0", 0},
		{"api", "P3", 0},
		{"gone", "SEV-1", store.NoRank - 1},
	} {
		if got := rank(cfg, c.service, c.priority); got != c.want {
			t.Errorf("rank(%s, %s) = %d, want %d", c.service, c.priority, got, c.want)
		}
	}
}
