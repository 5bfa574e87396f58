package maintenance

import (
	"reflect"
	"testing"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// TestSimulateHoldsAsTheDaemon: `pagerd simulate` finds the window that
// holds an alert with policy.Config.MaintenanceHold, the daemon with
// covering over the config's windows (and the API's). Over the config's
// windows alone the two must agree at every instant (in force from the
// start, not at the end, the one ending last), or simulate says what the
// daemon does not do.
func TestSimulateHoldsAsTheDaemon(t *testing.T) {
	cfg := windowsConfig(t, `
  - {name: a, services: [api], start: "2025-10-13T22:00:00Z", end: "2025-10-14T00:00:00Z"}
  - {name: b, services: [api], start: "2025-10-14T00:00:00Z", end: "2025-10-14T01:00:00Z"}
  - {name: c, matchers: ['team="db"'], start: "2025-10-13T23:00:00Z", end: "2025-10-14T02:00:00Z"}
  - {name: d, services: [db], start: "2025-10-13T21:00:00Z", end: "2025-10-13T23:30:00Z"}
`)
	var ws []Window
	for i := range cfg.Maintenance {
		ws = append(ws, fromConfig(&cfg.Maintenance[i]))
	}
	from := time.Date(2025, 10, 13, 20, 0, 0, 0, time.UTC)
	held := 0
	for _, svc := range []string{"api", "db"} {
		for _, labels := range []map[string]string{{"team": "db"}, {"team": "web"}} {
			sets := []map[string]string{labels}
			for at := from; at.Before(from.Add(7 * time.Hour)); at = at.Add(15 * time.Minute) {
				for _, t0 := range []time.Time{at, at.Add(-time.Millisecond)} {
					daemon, sim := covering(ws, svc, sets, t0), cfg.MaintenanceHold(svc, sets, t0)
					if !reflect.DeepEqual(daemon, sim) {
						t.Fatalf("%s %v at %s: the daemon holds by %+v, simulate by %+v", svc, labels, t0.Format(time.RFC3339Nano), daemon, sim)
					}
					if daemon != nil {
						held++
					}
				}
			}
		}
	}
	if held == 0 {
		t.Fatal("no instant was held: the test compares nothing")
	}
}

// windowsConfig is a config of services api and db, paging ann, with the
// maintenance windows given (the YAML list items).
func windowsConfig(t *testing.T, windows string) *policy.Config {
	t.Helper()
	cfg, err := policy.Parse([]byte(`
users:
  - {id: ann, name: Ann, contacts: [{channel: push, via: log}]}
escalation_policies:
  - name: p
    levels:
      - {name: primary, targets: [{user: ann}]}
services:
  - {name: api, priority_scheme: P0-P3, escalation_policy: p}
  - {name: db, priority_scheme: P0-P3, escalation_policy: p}
maintenance:`+windows), "test.yaml", ".")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
