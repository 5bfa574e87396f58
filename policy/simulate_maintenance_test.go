package policy

import (
	"os"
	"strings"
	"testing"
	"time"
)

// simMaintConfig is the quickstart config (one person, push at 0, SMS at
// 2m, a call at 5m, the level again every 15m) with the maintenance
// windows given, as YAML list entries.
func simMaintConfig(t *testing.T, windows string) *Config {
	t.Helper()
	b, err := os.ReadFile("../configs/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if windows != "" {
		b = append(b, "\nmaintenance:\n"+windows...)
	}
	c, err := Parse(b, "quickstart.yaml", "../configs")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// simMaintLines are scenLines with what each maintenance entry says.
func simMaintLines(res *SimResult) []string {
	lines := scenLines(res)
	for i, e := range res.Events {
		if e.Type == string(ActionMaintenance) {
			lines[i] += ": " + e.Detail
		}
	}
	return lines
}

// TestSimulateHonoursConfigMaintenance: `pagerd simulate` runs the
// config's maintenance windows as the daemon does (gateway/maintenance):
// an alert a window covers is recorded and pages nobody until the window
// ends, then is paged as new from level 1; a window that starts during
// the run stops the pending pages; windows back to back hold the incident
// to the last end and page it once; an acknowledged incident is not paged
// at the end; a window that does not cover the alert changes nothing.
func TestSimulateHonoursConfigMaintenance(t *testing.T) {
	at := scenAt(t, "2025-09-10T06:00:00Z")
	db := map[string]string{"severity": "critical", "team": "db"}
	cases := []struct {
		name    string
		windows string
		opts    SimOptions
		want    string
	}{
		{
			name: "window in force at the alert",
			windows: `  - {name: db-upgrade, matchers: ['team="db"'], start: 2025-09-10T05:30:00Z, end: 2025-09-10T06:20:00Z}
`,
			opts: SimOptions{At: at, For: 25 * time.Minute, Labels: db},
			want: `
				0s maintenance L1: in maintenance window db-upgrade (config-db-upgrade) until 2025-09-10T06:20:00Z: recorded, pages nobody until it ends
				20m maintenance L1: maintenance window db-upgrade (config-db-upgrade) ended: still firing, paged as new
				20m notify L1 demo push
				22m notify L1 demo sms
				25m notify L1 demo voice`,
		},
		{
			name: "window that starts during the run",
			windows: `  - {name: db-upgrade, services: [demo], start: 2025-09-10T06:03:00Z, end: 2025-09-10T06:30:00Z}
`,
			opts: SimOptions{At: at, For: 33 * time.Minute, Labels: db},
			want: `
				0s notify L1 demo push
				2m notify L1 demo sms
				3m maintenance L1: maintenance window db-upgrade (config-db-upgrade) started: pending pages cancelled, nobody is paged until 2025-09-10T06:30:00Z
				30m maintenance L1: maintenance window db-upgrade (config-db-upgrade) ended: still firing, paged as new
				30m notify L1 demo push
				32m notify L1 demo sms`,
		},
		{
			// The window is in force from its start: a page due then is
			// not sent.
			name: "window that starts as a page is due",
			windows: `  - {name: db-upgrade, services: [demo], start: 2025-09-10T06:02:00Z, end: 2025-09-10T06:30:00Z}
`,
			opts: SimOptions{At: at, For: 30 * time.Minute, Labels: db},
			want: `
				0s notify L1 demo push
				2m maintenance L1: maintenance window db-upgrade (config-db-upgrade) started: pending pages cancelled, nobody is paged until 2025-09-10T06:30:00Z
				30m maintenance L1: maintenance window db-upgrade (config-db-upgrade) ended: still firing, paged as new
				30m notify L1 demo push`,
		},
		{
			name: "windows back to back",
			windows: `  - {name: first, matchers: ['team="db"'], start: 2025-09-10T05:00:00Z, end: 2025-09-10T06:10:00Z}
  - {name: second, services: [demo], start: 2025-09-10T06:10:00Z, end: 2025-09-10T06:40:00Z}
`,
			opts: SimOptions{At: at, For: 45 * time.Minute, Labels: db},
			want: `
				0s maintenance L1: in maintenance window first (config-first) until 2025-09-10T06:10:00Z: recorded, pages nobody until it ends
				10m maintenance L1: maintenance window first (config-first) ended; maintenance window second (config-second) still covers it: nobody is paged until 2025-09-10T06:40:00Z
				40m maintenance L1: maintenance window second (config-second) ended: still firing, paged as new
				40m notify L1 demo push
				42m notify L1 demo sms
				45m notify L1 demo voice`,
		},
		{
			// Of two windows in force, the one that ends last holds.
			name: "overlapping windows",
			windows: `  - {name: short, services: [demo], start: 2025-09-10T05:00:00Z, end: 2025-09-10T06:10:00Z}
  - {name: long, matchers: ['team="db"'], start: 2025-09-10T05:30:00Z, end: 2025-09-10T06:20:00Z}
  - {name: later, matchers: ['team="db"'], start: 2025-09-10T06:05:00Z, end: 2025-09-10T06:15:00Z}
`,
			opts: SimOptions{At: at, For: 21 * time.Minute, Labels: db},
			want: `
				0s maintenance L1: in maintenance window long (config-long) until 2025-09-10T06:20:00Z: recorded, pages nobody until it ends
				20m maintenance L1: maintenance window long (config-long) ended: still firing, paged as new
				20m notify L1 demo push`,
		},
		{
			name: "acknowledged during the window",
			windows: `  - {name: db-upgrade, matchers: ['team="db"'], start: 2025-09-10T05:30:00Z, end: 2025-09-10T06:20:00Z}
`,
			opts: SimOptions{At: at, For: 30 * time.Minute, AckAfter: 5 * time.Minute, Labels: db},
			want: `
				0s maintenance L1: in maintenance window db-upgrade (config-db-upgrade) until 2025-09-10T06:20:00Z: recorded, pages nobody until it ends
				5m ack L1 demo
				20m maintenance L1: maintenance window db-upgrade (config-db-upgrade) ended: acknowledged, nobody is paged`,
		},
		{
			name: "window over before the alert",
			windows: `  - {name: db-upgrade, matchers: ['team="db"'], start: 2025-09-10T05:00:00Z, end: 2025-09-10T06:00:00Z}
`,
			opts: SimOptions{At: at, For: 3 * time.Minute, Labels: db},
			want: `
				0s notify L1 demo push
				2m notify L1 demo sms`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := simMaintConfig(t, tc.windows).Simulate(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			scenCheck(t, simMaintLines(res), tc.want)
		})
	}
}

// TestSimulateMaintenanceNotCovering: windows that do not cover the
// alert (other labels, another service's alerts, a window after the run)
// leave its timeline as it is without them.
func TestSimulateMaintenanceNotCovering(t *testing.T) {
	at := scenAt(t, "2025-09-10T06:00:00Z")
	opts := SimOptions{At: at, For: 2 * time.Hour, Labels: map[string]string{"severity": "critical", "team": "web"}}
	base, err := simMaintConfig(t, "").Simulate(opts)
	if err != nil {
		t.Fatal(err)
	}
	res, err := simMaintConfig(t, `  - {name: db, matchers: ['team="db"'], start: 2025-09-10T05:00:00Z, end: 2025-09-10T07:00:00Z}
  - {name: db-later, matchers: ['team="db"'], start: 2025-09-10T06:10:00Z, end: 2025-09-10T07:00:00Z}
  - {name: tomorrow, services: [demo], start: 2025-09-11T06:00:00Z, end: 2025-09-11T07:00:00Z}
`).Simulate(opts)
	if err != nil {
		t.Fatal(err)
	}
	got, want := strings.Join(simMaintLines(res), "\n"), strings.Join(simMaintLines(base), "\n")
	if got != want {
		t.Fatalf("timeline with windows that do not cover the alert:\n%s\n\nwithout them:\n%s", got, want)
	}
	if !strings.Contains(want, "45m escalate L1") {
		t.Fatalf("the run is too short to show anything: %s", want)
	}
}
