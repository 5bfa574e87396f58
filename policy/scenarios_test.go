package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The scenarios the seeds describe, run through Simulate on the example
// configs. Every expected line is worked out from the seed documents and
// the settled readings in PRODUCT.md, to the second: offset, what happens,
// the level, who, and on which channel (or which target was missed).

func scenLoad(t *testing.T, name string) *Config {
	t.Helper()
	c, err := LoadFile("../configs/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func scenAt(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func scenLines(res *SimResult) []string {
	var out []string
	for _, e := range res.Events {
		l := fmt.Sprintf("%s %s L%d", Duration(time.Duration(e.OffsetSeconds)*time.Second), e.Type, e.Level)
		if e.User != "" {
			l += " " + e.User
		}
		switch e.Type {
		case "notify":
			l += " " + e.Channel
		case "sla_breach":
			l += " " + e.Detail
		}
		out = append(out, l)
	}
	return out
}

func scenCheck(t *testing.T, got []string, want string) {
	t.Helper()
	var w []string
	for _, l := range strings.Split(strings.TrimSpace(want), "\n") {
		w = append(w, strings.Join(strings.Fields(l), " "))
	}
	if strings.Join(got, "\n") != strings.Join(w, "\n") {
		t.Fatalf("timeline:\n%s\n\nwant:\n%s", strings.Join(got, "\n"), strings.Join(w, "\n"))
	}
}

func TestScenarioAIVO(t *testing.T) {
	c := scenLoad(t, "aivo.yaml")
	cases := []struct {
		name     string
		opts     SimOptions
		priority string
		urgency  string
		want     string
	}{
		{
			// Week of Sep 8: Jennifer primary, Marcus secondary, Emily
			// escalation lead. 15 minutes a level; leadership is the lead
			// and the VP; the CTO from 60 minutes, when the P0's 1h
			// resolution target passes and its unresolved rule pages the
			// leadership again with the CTO ("extended outage"); after the
			// CTO's 30 minutes the policy starts over at the primary
			// (repeat).
			name:     "unacknowledged P0 at night",
			opts:     SimOptions{At: scenAt(t, "2025-09-10T02:00:00-04:00"), For: 2 * time.Hour, Labels: map[string]string{"severity": "critical"}},
			priority: "P0", urgency: "high",
			want: `
				0s notify L1 jennifer push
				2m notify L1 jennifer sms
				5m sla_breach L1 acknowledge
				5m notify L1 jennifer voice
				15m sla_breach L1 initial_response
				15m escalate L2
				15m notify L2 marcus push
				17m notify L2 marcus sms
				20m notify L2 marcus voice
				30m escalate L3
				30m notify L3 emily push
				30m notify L3 david push
				32m notify L3 emily sms
				32m notify L3 david sms
				35m notify L3 emily voice
				35m notify L3 david voice
				1h sla_breach L3 resolution
				1h escalate L4
				1h notify L3 emily push
				1h notify L3 david push
				1h notify L4 sarah push
				1h2m notify L3 emily sms
				1h2m notify L3 david sms
				1h2m notify L4 sarah sms
				1h5m notify L3 emily voice
				1h5m notify L3 david voice
				1h5m notify L4 sarah voice
				1h30m escalate L1
				1h30m notify L1 jennifer push
				1h32m notify L1 jennifer sms
				1h35m notify L1 jennifer voice
				1h45m escalate L2
				1h45m notify L2 marcus push
				1h47m notify L2 marcus sms
				1h50m notify L2 marcus voice
				2h escalate L3
				2h notify L3 emily push
				2h notify L3 david push`,
		},
		{
			// The acknowledgement stops the call and the ladder; the P0
			// still open at its 1h resolution target pages the leadership
			// and the CTO (an "extended outage").
			name:     "acknowledged P0 after the SMS stops the call and the escalation",
			opts:     SimOptions{At: scenAt(t, "2025-09-10T02:00:00-04:00"), For: 2 * time.Hour, AckAfter: 3 * time.Minute, Labels: map[string]string{"severity": "critical"}},
			priority: "P0", urgency: "high",
			want: `
				0s notify L1 jennifer push
				2m notify L1 jennifer sms
				3m ack L1 jennifer
				15m sla_breach L1 initial_response
				1h sla_breach L1 resolution
				1h escalate L4
				1h notify L3 emily push
				1h notify L3 david push
				1h notify L4 sarah push
				1h2m notify L3 emily sms
				1h2m notify L3 david sms
				1h2m notify L4 sarah sms
				1h5m notify L3 emily voice
				1h5m notify L3 david voice
				1h5m notify L4 sarah voice`,
		},
		{
			// A security breach pages the executive level at once, in
			// addition to the normal ladder, whatever its severity label.
			name:     "security breach",
			opts:     SimOptions{At: scenAt(t, "2025-09-10T14:00:00-04:00"), For: 20 * time.Minute, Labels: map[string]string{"category": "security_breach", "severity": "warning"}},
			priority: "P0", urgency: "high",
			want: `
				0s escalate L4
				0s notify L1 jennifer push
				0s notify L4 sarah push
				2m notify L1 jennifer sms
				2m notify L4 sarah sms
				5m sla_breach L1 acknowledge
				5m notify L1 jennifer voice
				5m notify L4 sarah voice
				15m sla_breach L1 initial_response
				15m escalate L2
				15m notify L2 marcus push
				17m notify L2 marcus sms
				20m notify L2 marcus voice`,
		},
		{
			// Off-hours P3: low urgency (push only) and escalate after an
			// hour; the CTO is not reached within the first hour.
			name:     "off-hours P3",
			opts:     SimOptions{At: scenAt(t, "2025-09-13T23:00:00-04:00"), For: 4 * time.Hour, Labels: map[string]string{"severity": "info"}},
			priority: "P3", urgency: "low",
			want: `
				0s notify L1 jennifer push
				1h sla_breach L1 acknowledge
				1h escalate L2
				1h notify L2 marcus push
				2h escalate L3
				2h notify L3 emily push
				2h notify L3 david push
				3h escalate L4
				3h notify L4 sarah push
				4h escalate L1
				4h notify L1 jennifer push`,
		},
		{
			// Business-hours P2 escalates on its own 1h ack target.
			name:     "business-hours P2",
			opts:     SimOptions{At: scenAt(t, "2025-09-10T10:00:00-04:00"), For: 190 * time.Minute, Labels: map[string]string{"severity": "warning"}},
			priority: "P2", urgency: "high",
			want: `
				0s notify L1 jennifer push
				2m notify L1 jennifer sms
				5m notify L1 jennifer voice
				1h sla_breach L1 acknowledge
				1h escalate L2
				1h notify L2 marcus push
				1h2m notify L2 marcus sms
				1h5m notify L2 marcus voice
				2h sla_breach L2 initial_response
				2h escalate L3
				2h notify L3 emily push
				2h notify L3 david push
				2h2m notify L3 emily sms
				2h2m notify L3 david sms
				2h5m notify L3 emily voice
				2h5m notify L3 david voice
				3h escalate L4
				3h notify L4 sarah push
				3h2m notify L4 sarah sms
				3h5m notify L4 sarah voice`,
		},
		{
			// Labor Day coverage: Emily, Marcus and David hold the three
			// tiers for the whole of Aug 30 - Sep 2. David is both the
			// holiday escalation lead and the VP: paged once at 30m, and
			// once again with the CTO at the 1h resolution target.
			name:     "Labor Day",
			opts:     SimOptions{At: scenAt(t, "2025-09-01T03:00:00-04:00"), For: 61 * time.Minute, Labels: map[string]string{"severity": "critical"}},
			priority: "P0", urgency: "high",
			want: `
				0s notify L1 emily push
				2m notify L1 emily sms
				5m sla_breach L1 acknowledge
				5m notify L1 emily voice
				15m sla_breach L1 initial_response
				15m escalate L2
				15m notify L2 marcus push
				17m notify L2 marcus sms
				20m notify L2 marcus voice
				30m escalate L3
				30m notify L3 david push
				32m notify L3 david sms
				35m notify L3 david voice
				1h sla_breach L3 resolution
				1h escalate L4
				1h notify L3 david push
				1h notify L4 sarah push`,
		},
		{
			// Thanksgiving coverage: Jennifer, Alex, and the CTO as holiday
			// escalation lead.
			name:     "Thanksgiving",
			opts:     SimOptions{At: scenAt(t, "2025-11-28T23:30:00-05:00"), For: 31 * time.Minute, Labels: map[string]string{"severity": "critical"}},
			priority: "P0", urgency: "high",
			want: `
				0s notify L1 jennifer push
				2m notify L1 jennifer sms
				5m sla_breach L1 acknowledge
				5m notify L1 jennifer voice
				15m sla_breach L1 initial_response
				15m escalate L2
				15m notify L2 alex push
				17m notify L2 alex sms
				20m notify L2 alex voice
				30m escalate L3
				30m notify L3 sarah push
				30m notify L3 david push`,
		},
		{
			// The override ends with Nov 29 (inclusive): from Nov 30 00:00
			// the regular week of Nov 24 holds again (Alex, Jennifer, Alex).
			name:     "after Thanksgiving",
			opts:     SimOptions{At: scenAt(t, "2025-11-30T00:00:00-05:00"), For: time.Minute, Labels: map[string]string{"severity": "critical"}},
			priority: "P0", urgency: "high",
			want: `
				0s notify L1 alex push`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := c.Simulate(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Priority != tc.priority || res.Urgency != tc.urgency {
				t.Fatalf("priority %s %s, want %s %s", res.Priority, res.Urgency, tc.priority, tc.urgency)
			}
			scenCheck(t, scenLines(res), tc.want)
		})
	}
}

func TestScenarioAIONR(t *testing.T) {
	c := scenLoad(t, "aion-r.yaml")
	// Week of Oct 6 (Monday 00:00 UTC): Engineer A primary, B secondary,
	// Team Lead X tertiary.
	at := scenAt(t, "2025-10-08T03:00:00Z")
	cases := []struct {
		name string
		opts SimOptions
		want string
	}{
		{
			name: "unacknowledged SEV-1 escalates every 10 minutes",
			opts: SimOptions{At: at, For: 25 * time.Minute, Labels: map[string]string{"severity": "critical"}},
			want: `
				0s notify L1 eng-a push
				2m notify L1 eng-a sms
				5m sla_breach L1 acknowledge
				5m notify L1 eng-a voice
				10m escalate L2
				10m notify L2 eng-b push
				12m notify L2 eng-b sms
				15m sla_breach L2 initial_response
				15m notify L2 eng-b voice
				20m escalate L3
				20m notify L3 lead-x push
				22m notify L3 lead-x sms
				25m notify L3 lead-x voice`,
		},
		{
			// Acknowledged and updated, but still open after an hour: the
			// secondary and management are paged. Management is the on-call
			// team lead (tertiary: "escalation for SEV-1 or >1 hour
			// incidents") and the Engineering Manager; the incident moves
			// up to the tertiary level.
			name: "acknowledged SEV-1 left unresolved",
			opts: SimOptions{At: at, For: 66 * time.Minute, AckAfter: 3 * time.Minute, UpdateEvery: 20 * time.Minute, Labels: map[string]string{"severity": "critical"}},
			want: `
				0s notify L1 eng-a push
				2m notify L1 eng-a sms
				3m ack L1 eng-a
				15m sla_breach L1 initial_response
				23m status_update L1 eng-a
				43m status_update L1 eng-a
				1h escalate L3
				1h notify L2 eng-b push
				1h notify L3 lead-x push
				1h notify L3 eng-manager push
				1h2m notify L2 eng-b sms
				1h2m notify L3 lead-x sms
				1h2m notify L3 eng-manager sms
				1h3m status_update L3 eng-a
				1h5m notify L2 eng-b voice
				1h5m notify L3 lead-x voice
				1h5m notify L3 eng-manager voice`,
		},
		{
			// No status update for 30 minutes after the ack: one level up.
			name: "missing status updates",
			opts: SimOptions{At: at, For: 40 * time.Minute, AckAfter: 4 * time.Minute, Labels: map[string]string{"severity": "critical"}},
			want: `
				0s notify L1 eng-a push
				2m notify L1 eng-a sms
				4m ack L1 eng-a
				15m sla_breach L1 initial_response
				30m sla_breach L1 status_update
				34m escalate L2
				34m notify L2 eng-b push
				36m notify L2 eng-b sms
				39m notify L2 eng-b voice`,
		},
		{
			name: "acknowledged SEV-2 unresolved after 2 hours pages the secondary",
			opts: SimOptions{At: at, For: 2 * time.Hour, AckAfter: time.Minute, UpdateEvery: 25 * time.Minute, Labels: map[string]string{"severity": "error"}},
			want: `
				0s notify L1 eng-a push
				1m ack L1 eng-a
				26m status_update L1 eng-a
				51m status_update L1 eng-a
				1h16m status_update L1 eng-a
				1h41m status_update L1 eng-a
				2h escalate L2
				2h notify L2 eng-b push`,
		},
		{
			name: "acknowledged SEV-3 unresolved after 4 hours pages the team lead",
			opts: SimOptions{At: at, For: 4 * time.Hour, AckAfter: 10 * time.Minute, Labels: map[string]string{"severity": "warning"}},
			want: `
				0s notify L1 eng-a push
				2m notify L1 eng-a sms
				5m notify L1 eng-a voice
				10m ack L1 eng-a
				1h sla_breach L1 initial_response
				4h escalate L3
				4h notify L3 lead-x push`,
		},
		{
			// SEV-4 waits for the next business day (09:00 UTC): a Friday
			// night alert reaches the secondary Monday morning; being
			// non-critical, by email.
			name: "SEV-4 on a Friday night",
			opts: SimOptions{At: scenAt(t, "2025-10-10T20:00:00Z"), For: 62 * time.Hour, Labels: map[string]string{"severity": "info"}},
			want: `
				0s notify L1 eng-a email
				2h sla_breach L1 acknowledge
				4h sla_breach L1 initial_response
				2d13h escalate L2
				2d13h notify L2 eng-c email`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := c.Simulate(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			scenCheck(t, scenLines(res), tc.want)
		})
	}
}
