package incident

import (
	"testing"

	"github.com/pagerd/pagerd/policy"
)

// TestNewAtOnceIsWhatTheEnginePages: a repeat of an alert whose rule pages
// a level at once is worth the engine's write only when that level is one
// it would page: not paged at once already, in the policy, and above the
// incident's level. Anything else cost every repeat of the alert a write
// that changed nothing.
func TestNewAtOnceIsWhatTheEnginePages(t *testing.T) {
	c, err := policy.Parse([]byte(`
users:
  - {id: a, name: Ann, contacts: [{channel: push, via: log}]}
escalation_policies:
  - name: p
    levels:
      - {name: first, targets: [{user: a}], timeout: 10m}
      - {name: second, targets: [{user: a}], timeout: 10m}
      - {name: third, targets: [{user: a}]}
services:
  - {name: svc, priority_scheme: P0-P3, escalation_policy: p}
`), "t.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	pol := c.Policy("p")
	for _, tc := range []struct {
		name   string
		atOnce []string // the route's
		st     policy.Incident
		want   bool
	}{
		{"a level above, not paged yet", []string{"third"}, policy.Incident{Level: 0}, true},
		{"paged at once already", []string{"third"}, policy.Incident{Level: 0, PageImmediately: []string{"third"}}, false},
		{"the incident stands at it", []string{"third"}, policy.Incident{Level: 2}, false},
		{"the incident is past it", []string{"second"}, policy.Incident{Level: 2}, false},
		{"not a level of the policy", []string{"executives"}, policy.Incident{Level: 0}, false},
		{"one of two new", []string{"second", "third"}, policy.Incident{Level: 0, PageImmediately: []string{"third"}}, true},
		{"none", nil, policy.Incident{Level: 0}, false},
	} {
		if got := newAtOnce(policy.Route{PageImmediately: tc.atOnce}, tc.st, pol); got != tc.want {
			t.Errorf("%s: newAtOnce %v, want %v", tc.name, got, tc.want)
		}
	}
}
