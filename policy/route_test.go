package policy

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// Routing: which priority an alert gets (rules, then the severity label, then
// the default priority), the targets and urgency in force at an instant, and
// how long each escalation level has. Expected values come from the seeds'
// settled readings (PRODUCT.md) and the example configs, written out by hand.
// Calendar helpers (calLoad, calParse, calLoc, calAt, calZ) are in
// calendar_test.go.

// routeLoad loads an example config and returns it with its one service.
func routeLoad(t *testing.T, path, service string) (*Config, *Service) {
	t.Helper()
	cfg := calLoad(t, path)
	s := cfg.Service(service)
	if s == nil {
		t.Fatalf("%s has no service %q", path, service)
	}
	return cfg, s
}

// routeAIVO is the AIVO example config and its service.
func routeAIVO(t *testing.T) (*Config, *Service) {
	t.Helper()
	return routeLoad(t, "../configs/aivo.yaml", "aivo-production")
}

// routeAIONR is the AION-R example config and its service.
func routeAIONR(t *testing.T) (*Config, *Service) {
	t.Helper()
	return routeLoad(t, "../configs/aion-r.yaml", "aion-r-platform")
}

// routeBase is the part of a constructed config every routing test shares:
// one user, a New York office calendar, and a two-level policy (the final
// level, with repeat 0, needs no timeout).
const routeBase = `
business_hours:
  - name: office
    time_zone: America/New_York
    start: "08:00"
    end: "18:00"
users:
  - {id: u, contacts: [{channel: push, via: log}]}
escalation_policies:
  - name: p
    levels:
      - name: first
        targets: [{user: u}]
        timeout: 10m
      - name: second
        targets: [{user: u}]
`

// routeParse parses routeBase with more config appended.
func routeParse(t *testing.T, extra string) *Config {
	t.Helper()
	return calParse(t, routeBase+strings.TrimLeft(extra, "\n"))
}

// routeService returns the named service of cfg.
func routeService(t *testing.T, cfg *Config, name string) *Service {
	t.Helper()
	s := cfg.Service(name)
	if s == nil {
		t.Fatalf("no service %q", name)
	}
	return s
}

// routeTimeout is the Timeout a config spec means: "" unset, a Go duration
// ("15m", "72h"), or "next_business_day". Written by hand so expectations
// do not go through the config loader.
func routeTimeout(t *testing.T, spec string) Timeout {
	t.Helper()
	switch spec {
	case "":
		return Timeout{}
	case "next_business_day":
		return Timeout{Kind: TimeoutNextBusinessDay, set: true}
	}
	d, err := time.ParseDuration(spec)
	if err != nil {
		t.Fatalf("bad duration %q: %v", spec, err)
	}
	return FixedTimeout(d)
}

// routeWed is Wednesday 2025-10-15 at hh:mm in New York (EDT), a plain
// business day for AIVO.
func routeWed(t *testing.T, hhmm string) time.Time {
	t.Helper()
	return calAt(t, calLoc(t, "America/New_York"), "2025-10-15 "+hhmm)
}

func TestRouteDefaultSeverityMapping(t *testing.T) {
	aivoCfg, aivo := routeAIVO(t)
	aionCfg, aion := routeAIONR(t)
	at := routeWed(t, "10:00")
	cases := []struct {
		scheme string
		labels map[string]string
		want   string
		rule   string
	}{
		{"P", map[string]string{"severity": "critical"}, "P0", "severity=critical"},
		{"P", map[string]string{"severity": "error"}, "P1", "severity=error"},
		{"P", map[string]string{"severity": "warning"}, "P2", "severity=warning"},
		{"P", map[string]string{"severity": "info"}, "P3", "severity=info"},
		{"P", map[string]string{"alertname": "X"}, "P1", "default_priority"},
		{"P", nil, "P1", "default_priority"},
		{"P", map[string]string{"severity": ""}, "P1", "default_priority"},
		{"P", map[string]string{"severity": "page"}, "P1", "default_priority"},
		{"P", map[string]string{"severity": "P0"}, "P0", "severity=P0"}, // the scheme's own names
		{"P", map[string]string{"severity": "p3"}, "P3", "severity=p3"},
		{"P", map[string]string{"severity": "SEV-1"}, "P1", "default_priority"}, // another scheme's
		{"P", map[string]string{"severity": "P4"}, "P1", "default_priority"},
		{"P", map[string]string{"level": "critical"}, "P1", "default_priority"},
		{"SEV", map[string]string{"severity": "critical"}, "SEV-1", "severity=critical"},
		{"SEV", map[string]string{"severity": "error"}, "SEV-2", "severity=error"},
		{"SEV", map[string]string{"severity": "warning"}, "SEV-3", "severity=warning"},
		{"SEV", map[string]string{"severity": "info"}, "SEV-4", "severity=info"},
		{"SEV", map[string]string{"alertname": "X"}, "SEV-2", "default_priority"},
		{"SEV", nil, "SEV-2", "default_priority"},
		{"SEV", map[string]string{"severity": "fatal"}, "SEV-2", "default_priority"},
		{"SEV", map[string]string{"severity": "SEV-1"}, "SEV-1", "severity=SEV-1"},
		{"SEV", map[string]string{"severity": "sev-4"}, "SEV-4", "severity=sev-4"},
		{"SEV", map[string]string{"severity": "P0"}, "SEV-2", "default_priority"},
	}
	for _, tc := range cases {
		cfg, svc, policy := aivoCfg, aivo, "aivo"
		if tc.scheme == "SEV" {
			cfg, svc, policy = aionCfg, aion, "aion-r"
		}
		t.Run(svc.Name+"/"+routeLabelString(tc.labels), func(t *testing.T) {
			r := cfg.Route(svc, tc.labels, at)
			if r.Priority != tc.want || r.Rule != tc.rule {
				t.Errorf("Route(%v) = priority %q rule %q, want %q rule %q", tc.labels, r.Priority, r.Rule, tc.want, tc.rule)
			}
			if r.Service != svc {
				t.Errorf("Route.Service = %v, want the service passed in", r.Service)
			}
			if r.EscalationPolicy != policy {
				t.Errorf("Route.EscalationPolicy = %q, want %q", r.EscalationPolicy, policy)
			}
			if len(r.PageImmediately) != 0 {
				t.Errorf("Route.PageImmediately = %v, want none for a severity mapping", r.PageImmediately)
			}
		})
	}
}

// routeLabelString prints labels in a stable order for subtest names.
func routeLabelString(l map[string]string) string {
	if len(l) == 0 {
		return "{}"
	}
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + l[k]
	}
	return strings.Join(parts, ",")
}

func TestRouteServiceSeverities(t *testing.T) {
	cfg := routeParse(t, `
services:
  # Its own severity words and label, and a default priority.
  - name: custom-sev
    priority_scheme: SEV-1-4
    escalation_policy: p
    severity_label: level
    default_priority: SEV-4
    severities: {page: SEV-1, critical: SEV-2, ticket: SEV-4}
  # Only adds a word; default_priority left to its default (P1).
  - name: custom-p
    priority_scheme: P0-P3
    escalation_policy: p
    severities: {page: P0}
`)
	sev, p := routeService(t, cfg, "custom-sev"), routeService(t, cfg, "custom-p")
	at := routeWed(t, "10:00")
	cases := []struct {
		name   string
		svc    *Service
		labels map[string]string
		want   string
		rule   string
	}{
		{"own word", sev, map[string]string{"level": "page"}, "SEV-1", "severity=page"},
		{"own table overrides default word", sev, map[string]string{"level": "critical"}, "SEV-2", "severity=critical"},
		{"other default words still map", sev, map[string]string{"level": "warning"}, "SEV-3", "severity=warning"},
		{"own low word", sev, map[string]string{"level": "ticket"}, "SEV-4", "severity=ticket"},
		{"unknown word → default_priority", sev, map[string]string{"level": "bogus"}, "SEV-4", "default_priority"},
		{"severity label is not read when renamed", sev, map[string]string{"severity": "critical"}, "SEV-4", "default_priority"},
		{"missing label → default_priority", sev, map[string]string{}, "SEV-4", "default_priority"},
		{"P added word", p, map[string]string{"severity": "page"}, "P0", "severity=page"},
		{"P default words", p, map[string]string{"severity": "warning"}, "P2", "severity=warning"},
		{"P unknown → P1", p, map[string]string{"severity": "ticket"}, "P1", "default_priority"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := cfg.Route(tc.svc, tc.labels, at)
			if r.Priority != tc.want || r.Rule != tc.rule {
				t.Errorf("Route(%s, %v) = priority %q rule %q, want %q rule %q", tc.svc.Name, tc.labels, r.Priority, r.Rule, tc.want, tc.rule)
			}
		})
	}
}

func TestRouteRules(t *testing.T) {
	cfg := routeParse(t, `
services:
  - name: rules
    priority_scheme: P0-P3
    escalation_policy: p
    rules:
      - name: db-prod                         # rules[0]
        matchers: ['team="db"', 'env="prod"']
        priority: P0
      - name: db-any                          # rules[1]
        matchers: ['team="db"']
        priority: P2
      - name: data-exact                      # rules[2]
        matchers: ['category=~"data"']
        priority: P0
        page_immediately: [second]
      - matchers:                             # rules[3], unnamed
          - 'env!="prod"'
          - 'alertname!~"Watchdog|Heartbeat.*"'
        priority: P3
      - name: disk                            # rules[4], no priority
        matchers: ['alertname=~"Disk.*"']
        page_immediately: [second]
      - matchers: ['alertname="Unnamed"']     # rules[5], unnamed, no priority
      - name: api-eu                        # rules[6], two matchers in one string
        matchers: ['{service="api", region="eu"}']
        priority: P1
`)
	s := routeService(t, cfg, "rules")
	at := routeWed(t, "10:00")
	cases := []struct {
		name   string
		labels map[string]string
		want   string
		rule   string // Route.Rule, exactly unless prefix
		prefix bool   // Route.Rule must start with rule and mention why
		why    string
		page   []string
	}{
		{name: "both db rules match: first wins over severity", labels: map[string]string{"team": "db", "env": "prod", "severity": "info"},
			want: "P0", rule: "db-prod"},
		{name: "all matchers must match: env differs", labels: map[string]string{"team": "db", "env": "prod-eu", "severity": "critical"},
			want: "P2", rule: "db-any"},
		{name: "all matchers must match: env missing", labels: map[string]string{"team": "db"},
			want: "P2", rule: "db-any"},
		{name: "regex matches the whole value", labels: map[string]string{"category": "data", "env": "prod"},
			want: "P0", rule: "data-exact", page: []string{"second"}},
		{name: "regex is anchored at the end", labels: map[string]string{"category": "data_loss", "env": "prod", "severity": "warning"},
			want: "P2", rule: "severity=warning"},
		{name: "regex is anchored at the start", labels: map[string]string{"category": "big_data", "env": "prod", "severity": "error"},
			want: "P1", rule: "severity=error"},
		{name: "regex is case sensitive", labels: map[string]string{"category": "DATA", "env": "prod"},
			want: "P1", rule: "default_priority"},
		{name: "unnamed rule with != and !~", labels: map[string]string{"env": "staging", "alertname": "HighLatency", "severity": "critical"},
			want: "P3", rule: "rules[3]"},
		{name: "!= matches a missing label", labels: map[string]string{"alertname": "HighLatency"},
			want: "P3", rule: "rules[3]"},
		{name: "!= excludes the value", labels: map[string]string{"env": "prod", "alertname": "HighLatency", "severity": "warning"},
			want: "P2", rule: "severity=warning"},
		{name: "!~ excludes a match", labels: map[string]string{"env": "staging", "alertname": "Watchdog"},
			want: "P1", rule: "default_priority"},
		{name: "!~ is anchored: prefix pattern excludes", labels: map[string]string{"env": "staging", "alertname": "HeartbeatMissing", "severity": "info"},
			want: "P3", rule: "severity=info"},
		{name: "!~ is anchored: no partial match", labels: map[string]string{"env": "staging", "alertname": "MyWatchdog", "severity": "critical"},
			want: "P3", rule: "rules[3]"},
		{name: "rule without priority uses severity, keeps name", labels: map[string]string{"env": "prod", "alertname": "DiskFull", "severity": "warning"},
			want: "P2", rule: "disk", prefix: true, why: "severity=warning", page: []string{"second"}},
		{name: "rule without priority, no severity → default_priority", labels: map[string]string{"env": "prod", "alertname": "DiskFull"},
			want: "P1", rule: "disk", prefix: true, why: "default_priority", page: []string{"second"}},
		{name: "rule without priority shadows later rules", labels: map[string]string{"env": "prod", "alertname": "DiskFull", "service": "api", "severity": "info"},
			want: "P3", rule: "disk", prefix: true, why: "severity=info", page: []string{"second"}},
		{name: "unnamed rule without priority", labels: map[string]string{"env": "prod", "alertname": "Unnamed", "severity": "critical"},
			want: "P0", rule: "rules[5]", prefix: true, why: "severity=critical"},
		{name: "two matchers in one string: both match", labels: map[string]string{"env": "prod", "service": "api", "region": "eu", "severity": "info"},
			want: "P1", rule: "api-eu"},
		{name: "two matchers in one string: first matches", labels: map[string]string{"env": "prod", "service": "api", "region": "us", "severity": "info"},
			want: "P3", rule: "severity=info"},
		{name: "two matchers in one string: second matches", labels: map[string]string{"env": "prod", "service": "web", "region": "eu", "severity": "info"},
			want: "P3", rule: "severity=info"},
		{name: "no rule matches", labels: map[string]string{"env": "prod", "severity": "critical"},
			want: "P0", rule: "severity=critical"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := cfg.Route(s, tc.labels, at)
			if r.Priority != tc.want {
				t.Errorf("Route(%v).Priority = %q, want %q (rule %q)", tc.labels, r.Priority, tc.want, r.Rule)
			}
			if tc.prefix {
				if !strings.HasPrefix(r.Rule, tc.rule) || !strings.Contains(r.Rule, tc.why) {
					t.Errorf("Route(%v).Rule = %q, want the rule name %q and the reason %q", tc.labels, r.Rule, tc.rule, tc.why)
				}
			} else if r.Rule != tc.rule {
				t.Errorf("Route(%v).Rule = %q, want %q", tc.labels, r.Rule, tc.rule)
			}
			if !reflect.DeepEqual(routeNonNil(r.PageImmediately), routeNonNil(tc.page)) {
				t.Errorf("Route(%v).PageImmediately = %v, want %v", tc.labels, r.PageImmediately, tc.page)
			}
		})
	}
}

// routeNonNil makes nil and empty lists compare equal.
func routeNonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestRouteRuleOrder(t *testing.T) {
	// The same two rules in both orders: an alert matching both gets the
	// priority of whichever comes first.
	const teamRule = `
      - name: team
        matchers: ['team="db"']
        priority: P0
`
	const sevRule = `
      - name: any-severity
        matchers: ['severity=~".+"']
        priority: P3
`
	cfg := routeParse(t, `
services:
  - name: team-first
    priority_scheme: P0-P3
    escalation_policy: p
    rules:`+teamRule+sevRule+`
  - name: severity-first
    priority_scheme: P0-P3
    escalation_policy: p
    rules:`+sevRule+teamRule)
	at := routeWed(t, "10:00")
	both := map[string]string{"team": "db", "severity": "warning"}
	cases := []struct {
		service string
		labels  map[string]string
		want    string
		rule    string
	}{
		{"team-first", both, "P0", "team"},
		{"severity-first", both, "P3", "any-severity"},
		{"team-first", map[string]string{"severity": "critical"}, "P3", "any-severity"},
		{"severity-first", map[string]string{"team": "db"}, "P0", "team"},
	}
	for _, tc := range cases {
		t.Run(tc.service+"/"+routeLabelString(tc.labels), func(t *testing.T) {
			r := cfg.Route(routeService(t, cfg, tc.service), tc.labels, at)
			if r.Priority != tc.want || r.Rule != tc.rule {
				t.Errorf("Route = priority %q rule %q, want %q rule %q", r.Priority, r.Rule, tc.want, tc.rule)
			}
		})
	}
}

func TestRouteAIVOExecutiveTriggers(t *testing.T) {
	cfg, s := routeAIVO(t)
	if i := cfg.Policy("aivo").LevelIndex("executives"); i != 3 {
		t.Fatalf("executives is level %d of policy aivo, want 3 (the last, Level 4)", i)
	}
	at := routeWed(t, "22:00") // off-hours: a P0 stays high urgency
	triggers := []string{"security_breach", "data_loss", "revenue_impact", "customer_data_exposure", "legal_violation"}
	for _, cat := range triggers {
		for _, sev := range []string{"info", "warning", "critical", ""} {
			labels := map[string]string{"alertname": "X", "category": cat}
			if sev != "" {
				labels["severity"] = sev
			}
			t.Run(cat+"/severity="+sev, func(t *testing.T) {
				r := cfg.Route(s, labels, at)
				if r.Priority != "P0" || r.Rule != "executive-trigger" {
					t.Errorf("Route(%v) = priority %q rule %q, want P0 rule executive-trigger", labels, r.Priority, r.Rule)
				}
				if !reflect.DeepEqual(r.PageImmediately, []string{"executives"}) {
					t.Errorf("Route(%v).PageImmediately = %v, want [executives]", labels, r.PageImmediately)
				}
				if r.Urgency != UrgencyHigh {
					t.Errorf("Route(%v).Urgency = %q, want high", labels, r.Urgency)
				}
				if r.EscalationPolicy != "aivo" {
					t.Errorf("Route(%v).EscalationPolicy = %q, want aivo", labels, r.EscalationPolicy)
				}
			})
		}
	}
	// Not triggers: other categories, and near misses the anchored regex
	// must reject.
	others := []struct {
		category, severity, want, rule string
	}{
		{"other", "warning", "P2", "severity=warning"},
		{"other", "info", "P3", "severity=info"},
		{"other", "", "P1", "default_priority"},
		{"data", "info", "P3", "severity=info"},
		{"security", "info", "P3", "severity=info"},
		{"security_breach_suspected", "info", "P3", "severity=info"},
		{"possible_data_loss", "warning", "P2", "severity=warning"},
		{"Security_Breach", "info", "P3", "severity=info"},
		{"security_breach|data_loss", "info", "P3", "severity=info"},
	}
	for _, tc := range others {
		labels := map[string]string{"category": tc.category}
		if tc.severity != "" {
			labels["severity"] = tc.severity
		}
		t.Run("not a trigger/"+tc.category+"/severity="+tc.severity, func(t *testing.T) {
			r := cfg.Route(s, labels, at)
			if r.Priority != tc.want || r.Rule != tc.rule {
				t.Errorf("Route(%v) = priority %q rule %q, want %q rule %q", labels, r.Priority, r.Rule, tc.want, tc.rule)
			}
			if len(r.PageImmediately) != 0 {
				t.Errorf("Route(%v).PageImmediately = %v, want none", labels, r.PageImmediately)
			}
		})
	}
}

// routeTargets is a TargetSet written as config specs.
type routeTargets struct {
	urgency, ack, initial, resolution, status string
}

func (w routeTargets) set(t *testing.T) TargetSet {
	t.Helper()
	return TargetSet{
		Urgency:         w.urgency,
		Acknowledge:     routeTimeout(t, w.ack),
		InitialResponse: routeTimeout(t, w.initial),
		Resolution:      routeTimeout(t, w.resolution),
		StatusUpdate:    routeTimeout(t, w.status),
	}
}

func TestRouteTargetsAIVO(t *testing.T) {
	cfg, s := routeAIVO(t)
	ny := calLoc(t, "America/New_York")
	wed10, wed22 := routeWed(t, "10:00"), routeWed(t, "22:00")
	sat := calAt(t, ny, "2025-10-18 12:00")
	labor := calAt(t, ny, "2025-09-01 10:00")
	// Seed "Response Time Targets"; off-hours P2/P3 are low urgency with a
	// 1h acknowledge target, the rest of their targets unchanged.
	p0 := routeTargets{"high", "5m", "15m", "1h", ""}
	p1 := routeTargets{"high", "15m", "30m", "4h", ""}
	p2 := routeTargets{"high", "1h", "2h", "24h", ""}
	p2off := routeTargets{"low", "1h", "2h", "24h", ""}
	p3 := routeTargets{"high", "4h", "next_business_day", "72h", ""}
	p3off := routeTargets{"low", "1h", "next_business_day", "72h", ""}
	cases := []struct {
		name     string
		severity string
		at       time.Time
		priority string
		business bool
		want     routeTargets
	}{
		{"P0 Wed 10:00", "critical", wed10, "P0", true, p0},
		{"P0 Wed 22:00 stays high", "critical", wed22, "P0", false, p0},
		{"P0 Saturday stays high", "critical", sat, "P0", false, p0},
		{"P1 Wed 10:00", "error", wed10, "P1", true, p1},
		{"P1 Wed 22:00 stays high", "error", wed22, "P1", false, p1},
		{"P2 Wed 10:00 high, ack 1h", "warning", wed10, "P2", true, p2},
		{"P2 Wed 22:00 low, ack 1h", "warning", wed22, "P2", false, p2off},
		{"P2 Saturday noon is off-hours", "warning", sat, "P2", false, p2off},
		{"P2 Labor Day is off-hours", "warning", labor, "P2", false, p2off},
		{"P3 Wed 10:00 high, ack 4h", "info", wed10, "P3", true, p3},
		{"P3 Wed 22:00 low, ack 1h", "info", wed22, "P3", false, p3off},
		{"P3 Saturday noon low, ack 1h", "info", sat, "P3", false, p3off},
		{"P3 Labor Day low, ack 1h", "info", labor, "P3", false, p3off},
		{"P3 Thanksgiving low", "info", calAt(t, ny, "2025-11-27 10:00"), "P3", false, p3off},
		{"P3 Wed 07:59 off-hours", "info", routeWed(t, "07:59"), "P3", false, p3off},
		{"P3 Wed 08:00 business hours", "info", routeWed(t, "08:00"), "P3", true, p3},
		{"P3 Wed 17:59 business hours", "info", routeWed(t, "17:59"), "P3", true, p3},
		{"P3 Wed 18:00 off-hours", "info", routeWed(t, "18:00"), "P3", false, p3off},
		{"P3 21:30Z = 17:30 EDT business hours", "info", calZ(t, "2025-10-15T21:30:00Z"), "P3", true, p3},
		{"P3 11:30Z = 07:30 EDT off-hours", "info", calZ(t, "2025-10-15T11:30:00Z"), "P3", false, p3off},
		{"P3 2025-11-03 13:30Z = 08:30 EST business hours", "info", calZ(t, "2025-11-03T13:30:00Z"), "P3", true, p3},
		{"P3 2025-11-03 12:30Z = 07:30 EST off-hours", "info", calZ(t, "2025-11-03T12:30:00Z"), "P3", false, p3off},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want.set(t)
			r := cfg.Route(s, map[string]string{"severity": tc.severity}, tc.at)
			if r.Priority != tc.priority {
				t.Fatalf("Route(severity=%s).Priority = %q, want %q", tc.severity, r.Priority, tc.priority)
			}
			if r.BusinessHours != tc.business {
				t.Errorf("Route.BusinessHours = %v, want %v", r.BusinessHours, tc.business)
			}
			if r.Urgency != want.Urgency {
				t.Errorf("Route.Urgency = %q, want %q", r.Urgency, want.Urgency)
			}
			if r.Targets != want {
				t.Errorf("Route.Targets = %+v, want %+v", r.Targets, want)
			}
			if got := cfg.TargetsAt(s, tc.priority, tc.at); got != want {
				t.Errorf("TargetsAt(%s) = %+v, want %+v", tc.priority, got, want)
			}
		})
	}
}

func TestRouteTargetsAIONR(t *testing.T) {
	cfg, s := routeAIONR(t)
	// The seed's acknowledgement and initial status update targets; SEV-1/2
	// expect a status update every 30 minutes. The targets do not change
	// with business hours (the calendar only drives SEV-4's next business
	// day). SEV-1 to SEV-3 follow the seed's push/SMS/phone rules: high
	// urgency. SEV-4's urgency is the config's choice (the seed sends
	// non-critical alerts to email), so only its constancy is checked.
	want := map[string]routeTargets{
		"SEV-1": {"high", "5m", "15m", "", "30m"},
		"SEV-2": {"high", "10m", "30m", "", "30m"},
		"SEV-3": {"high", "30m", "1h", "", ""},
		"SEV-4": {"", "2h", "4h", "", ""},
	}
	sev := map[string]string{"SEV-1": "critical", "SEV-2": "error", "SEV-3": "warning", "SEV-4": "info"}
	times := []struct {
		name     string
		at       string
		business bool
	}{
		{"Fri 10:00Z", "2025-10-10T10:00:00Z", true},
		{"Fri 20:00Z", "2025-10-10T20:00:00Z", false},
		{"Sat 12:00Z", "2025-10-11T12:00:00Z", false},
	}
	sev4Urgency := ""
	for _, tm := range times {
		for _, pr := range []string{"SEV-1", "SEV-2", "SEV-3", "SEV-4"} {
			t.Run(tm.name+"/"+pr, func(t *testing.T) {
				at := calZ(t, tm.at)
				r := cfg.Route(s, map[string]string{"severity": sev[pr]}, at)
				w := want[pr].set(t)
				if pr == "SEV-4" {
					if sev4Urgency == "" {
						sev4Urgency = r.Urgency
					}
					if r.Urgency != sev4Urgency {
						t.Errorf("SEV-4 urgency = %q at %s but %q at an earlier instant; AION-R targets have no business-hours variant", r.Urgency, tm.at, sev4Urgency)
					}
					w.Urgency = r.Urgency
				}
				if r.Priority != pr || r.BusinessHours != tm.business || r.Urgency != w.Urgency || r.Targets != w {
					t.Errorf("Route(severity=%s) = %s business=%v urgency=%s targets=%+v, want %s business=%v urgency=%s targets=%+v",
						sev[pr], r.Priority, r.BusinessHours, r.Urgency, r.Targets, pr, tm.business, w.Urgency, w)
				}
			})
		}
	}
}

func TestRouteTargetVariantsAndUrgencyDefault(t *testing.T) {
	cfg := routeParse(t, `
services:
  - name: variants
    priority_scheme: P0-P3
    escalation_policy: p
    business_hours: office
    targets:
      # No urgency anywhere: high.
      P0:
        acknowledge: 5m
      # Business-hours variant only; off-hours keeps the base.
      P1:
        urgency: low
        acknowledge: 2h
        resolution: 8h
        business_hours: {urgency: high, acknowledge: 15m}
      # Off-hours variant without urgency keeps the base urgency.
      P2:
        urgency: low
        acknowledge: 1h
        initial_response: 2h
        off_hours: {acknowledge: next_business_day, status_update: 4h}
      # P3: no targets at all.
  - name: no-calendar
    priority_scheme: P0-P3
    escalation_policy: p
    targets:
      P2:
        acknowledge: 1h
        off_hours: {urgency: low, acknowledge: 3h}
`)
	v, nc := routeService(t, cfg, "variants"), routeService(t, cfg, "no-calendar")
	wed10, wed22 := routeWed(t, "10:00"), routeWed(t, "22:00")
	sat := calAt(t, calLoc(t, "America/New_York"), "2025-10-18 03:00")
	cases := []struct {
		name     string
		svc      *Service
		priority string
		at       time.Time
		want     routeTargets
	}{
		{"urgency unset → high (business)", v, "P0", wed10, routeTargets{"high", "5m", "", "", ""}},
		{"urgency unset → high (off-hours)", v, "P0", wed22, routeTargets{"high", "5m", "", "", ""}},
		{"business_hours variant replaces what it sets", v, "P1", wed10, routeTargets{"high", "15m", "", "8h", ""}},
		{"business_hours variant not used off-hours", v, "P1", wed22, routeTargets{"low", "2h", "", "8h", ""}},
		{"off_hours variant not used in business hours", v, "P2", wed10, routeTargets{"low", "1h", "2h", "", ""}},
		{"off_hours variant without urgency keeps base urgency", v, "P2", wed22, routeTargets{"low", "next_business_day", "2h", "", "4h"}},
		{"no targets for the priority → high, nothing set", v, "P3", wed22, routeTargets{"high", "", "", "", ""}},
		{"service without calendar: never off-hours", nc, "P2", sat, routeTargets{"high", "1h", "", "", ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want.set(t)
			if got := cfg.TargetsAt(tc.svc, tc.priority, tc.at); got != want {
				t.Errorf("TargetsAt(%s, %s, %s) = %+v, want %+v", tc.svc.Name, tc.priority, tc.at.Format(time.RFC3339), got, want)
			}
		})
	}
	t.Run("Route urgency follows the variant", func(t *testing.T) {
		if r := cfg.Route(v, map[string]string{"severity": "error"}, wed10); r.Priority != "P1" || r.Urgency != UrgencyHigh || !r.BusinessHours {
			t.Errorf("Route P1 Wed 10:00 = %s urgency %q business %v, want P1 high true", r.Priority, r.Urgency, r.BusinessHours)
		}
		if r := cfg.Route(v, map[string]string{"severity": "error"}, wed22); r.Priority != "P1" || r.Urgency != UrgencyLow || r.BusinessHours {
			t.Errorf("Route P1 Wed 22:00 = %s urgency %q business %v, want P1 low false", r.Priority, r.Urgency, r.BusinessHours)
		}
		if r := cfg.Route(nc, map[string]string{"severity": "warning"}, sat); !r.BusinessHours || r.Urgency != UrgencyHigh {
			t.Errorf("Route without calendar Sat 03:00 = business %v urgency %q, want true high", r.BusinessHours, r.Urgency)
		}
	})
}

// routeDeadline is one expected LevelTimeout answer: ok false means the
// level has no timeout for the priority.
type routeDeadline struct {
	want time.Time
	ok   bool
}

func routeCheckLevelTimeout(t *testing.T, cfg *Config, s *Service, level int, priority string, from time.Time, want routeDeadline) {
	t.Helper()
	got, ok := cfg.LevelTimeout(s, level, priority, from)
	switch {
	case ok != want.ok:
		t.Errorf("LevelTimeout(level %d, %s, %s) ok = %v (%s), want %v", level, priority, from.Format(time.RFC3339), ok, got.Format(time.RFC3339), want.ok)
	case ok && !got.Equal(want.want):
		t.Errorf("LevelTimeout(level %d, %s, %s) = %s (%s UTC), want %s (%s UTC)", level, priority, from.Format(time.RFC3339),
			got.Format(time.RFC3339), got.UTC().Format(time.RFC3339), want.want.Format(time.RFC3339), want.want.UTC().Format(time.RFC3339))
	}
}

func TestLevelTimeoutAIVO(t *testing.T) {
	cfg, s := routeAIVO(t)
	ny := calLoc(t, "America/New_York")
	wed10, wed16, wed22 := routeWed(t, "10:00"), routeWed(t, "16:00"), routeWed(t, "22:00")
	sat := calAt(t, ny, "2025-10-18 12:00")
	labor := calAt(t, ny, "2025-09-01 10:00")
	after := func(from time.Time, d time.Duration) routeDeadline { return routeDeadline{from.Add(d), true} }
	none := routeDeadline{}
	cases := []struct {
		name     string
		priority string
		level    int
		from     time.Time
		want     routeDeadline
	}{
		// P0/P1: primary 15m, secondary 15m, leadership 30m, executives 30m
		// (then the policy starts over: repeat 2).
		{"P0 primary", "P0", 0, wed10, after(wed10, 15*time.Minute)},
		{"P0 secondary", "P0", 1, wed10, after(wed10, 15*time.Minute)},
		{"P0 leadership", "P0", 2, wed10, after(wed10, 30*time.Minute)},
		{"P0 executives: 30m, then the policy starts over", "P0", 3, wed10, after(wed10, 30*time.Minute)},
		{"P0 off-hours primary", "P0", 0, wed22, after(wed22, 15*time.Minute)},
		{"P0 Saturday leadership", "P0", 2, sat, after(sat, 30*time.Minute)},
		{"P1 primary", "P1", 0, wed22, after(wed22, 15*time.Minute)},
		{"P1 secondary", "P1", 1, wed22, after(wed22, 15*time.Minute)},
		{"P1 leadership", "P1", 2, wed22, after(wed22, 30*time.Minute)},
		{"P1 executives: 30m", "P1", 3, wed22, after(wed22, 30*time.Minute)},
		// P2: ack_target, 1h day and night.
		{"P2 business hours primary: ack 1h", "P2", 0, wed10, after(wed10, time.Hour)},
		{"P2 business hours leadership: ack 1h", "P2", 2, wed10, after(wed10, time.Hour)},
		{"P2 off-hours primary: 1h", "P2", 0, wed22, after(wed22, time.Hour)},
		{"P2 executives: ack 1h", "P2", 3, wed10, after(wed10, time.Hour)},
		// P3: ack_target, 4h in business hours, 1h off-hours.
		{"P3 business hours primary: ack 4h", "P3", 0, wed10, after(wed10, 4*time.Hour)},
		{"P3 business hours secondary: ack 4h", "P3", 1, wed10, after(wed10, 4*time.Hour)},
		// Off-hours from 18:00: "acknowledge P2/P3 alerts within 1 hour" from then.
		{"P3 business hours, deadline past closing: the off-hours hour from 18:00", "P3", 0, wed16, after(wed16, 3*time.Hour)},
		{"P3 off-hours primary: 1h", "P3", 0, wed22, after(wed22, time.Hour)},
		{"P3 off-hours leadership: 1h", "P3", 2, wed22, after(wed22, time.Hour)},
		{"P3 Saturday: 1h", "P3", 0, sat, after(sat, time.Hour)},
		{"P3 Labor Day: 1h", "P3", 0, labor, after(labor, time.Hour)},
		{"P3 07:59 off-hours: 1h", "P3", 0, routeWed(t, "07:59"), after(routeWed(t, "07:59"), time.Hour)},
		{"P3 08:00 business hours: 4h", "P3", 0, routeWed(t, "08:00"), after(routeWed(t, "08:00"), 4*time.Hour)},
		{"P3 executives: ack 4h", "P3", 3, wed10, after(wed10, 4*time.Hour)},
		// Out of range.
		{"level 4 does not exist", "P0", 4, wed10, none},
		{"level -1 does not exist", "P0", -1, wed10, none},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			routeCheckLevelTimeout(t, cfg, s, tc.level, tc.priority, tc.from, tc.want)
		})
	}
}

func TestLevelTimeoutAIVOLadderReachesExecutives(t *testing.T) {
	// Walk the ladder with nobody acknowledging, each level paged when the
	// previous one timed out. P0/P1 reach the executives at 60 minutes; P2
	// and P3 never within the first hour. P3 from Wed 10:00: primary until
	// 14:00 (4h), secondary until 18:00 (paged 14:00, business hours, 4h),
	// leadership paged at 18:00 (closed: off-hours, 1h) until 19:00.
	cfg, s := routeAIVO(t)
	cases := []struct {
		name     string
		priority string
		from     time.Time
		paged    []time.Time // when levels 1, 2 and 3 (executives) are paged
	}{
		{"P0 business hours", "P0", routeWed(t, "10:00"), []time.Time{routeWed(t, "10:15"), routeWed(t, "10:30"), routeWed(t, "11:00")}},
		{"P1 off-hours", "P1", routeWed(t, "22:00"), []time.Time{routeWed(t, "22:15"), routeWed(t, "22:30"), routeWed(t, "23:00")}},
		{"P2 business hours", "P2", routeWed(t, "10:00"), []time.Time{routeWed(t, "11:00"), routeWed(t, "12:00"), routeWed(t, "13:00")}},
		{"P2 business hours into the evening", "P2", routeWed(t, "17:30"), []time.Time{routeWed(t, "18:30"), routeWed(t, "19:30"), routeWed(t, "20:30")}},
		{"P3 business hours", "P3", routeWed(t, "10:00"), []time.Time{routeWed(t, "14:00"), routeWed(t, "18:00"), routeWed(t, "19:00")}},
		{"P3 off-hours", "P3", routeWed(t, "22:00"), []time.Time{routeWed(t, "23:00"), calAt(t, calLoc(t, "America/New_York"), "2025-10-16 00:00"), calAt(t, calLoc(t, "America/New_York"), "2025-10-16 01:00")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			at := tc.from
			for level, want := range tc.paged {
				next, ok := cfg.LevelTimeout(s, level, tc.priority, at)
				if !ok {
					t.Fatalf("level %d has no timeout for %s", level, tc.priority)
				}
				if !next.Equal(want) {
					t.Fatalf("level %d paged %s times out %s, want %s", level, at.Format(time.RFC3339), next.Format(time.RFC3339), want.Format(time.RFC3339))
				}
				at = next
			}
			if _, ok := cfg.LevelTimeout(s, len(tc.paged), tc.priority, at); !ok {
				t.Errorf("the executives level has no timeout for %s: the policy could not start over (repeat)", tc.priority)
			}
			reached := tc.paged[len(tc.paged)-1].Sub(tc.from)
			if tc.priority == "P0" || tc.priority == "P1" {
				if reached != time.Hour {
					t.Errorf("%s reaches the executives after %s, want 1h", tc.priority, reached)
				}
			} else if reached <= time.Hour {
				t.Errorf("%s reaches the executives after %s, want more than 1h", tc.priority, reached)
			}
		})
	}
}

func TestLevelTimeoutAIONR(t *testing.T) {
	cfg, s := routeAIONR(t)
	fri20 := calZ(t, "2025-10-10T20:00:00Z")
	tue10 := calZ(t, "2025-10-14T10:00:00Z")
	after := func(from time.Time, d time.Duration) routeDeadline { return routeDeadline{from.Add(d), true} }
	at := func(s string) routeDeadline { return routeDeadline{calZ(t, s), true} }
	none := routeDeadline{}
	cases := []struct {
		name     string
		priority string
		level    int
		from     time.Time
		want     routeDeadline
	}{
		{"SEV-1 primary 10m", "SEV-1", 0, tue10, after(tue10, 10*time.Minute)},
		{"SEV-1 secondary 10m", "SEV-1", 1, fri20, after(fri20, 10*time.Minute)},
		{"SEV-1 tertiary 10m, then the policy starts over", "SEV-1", 2, tue10, after(tue10, 10*time.Minute)},
		{"SEV-2 primary 20m", "SEV-2", 0, tue10, after(tue10, 20*time.Minute)},
		{"SEV-2 secondary 20m", "SEV-2", 1, fri20, after(fri20, 20*time.Minute)},
		{"SEV-2 tertiary 20m", "SEV-2", 2, fri20, after(fri20, 20*time.Minute)},
		{"SEV-3 primary 1h", "SEV-3", 0, tue10, after(tue10, time.Hour)},
		{"SEV-3 secondary 1h off-hours", "SEV-3", 1, fri20, after(fri20, time.Hour)},
		{"SEV-3 tertiary 1h", "SEV-3", 2, tue10, after(tue10, time.Hour)},
		{"SEV-4 Fri 20:00Z → Mon 09:00Z", "SEV-4", 0, fri20, at("2025-10-13T09:00:00Z")},
		{"SEV-4 Sat → Mon 09:00Z", "SEV-4", 0, calZ(t, "2025-10-11T12:00:00Z"), at("2025-10-13T09:00:00Z")},
		{"SEV-4 Tue 10:00Z → Wed 09:00Z", "SEV-4", 0, tue10, at("2025-10-15T09:00:00Z")},
		{"SEV-4 secondary paged Mon 09:00Z → Tue 09:00Z", "SEV-4", 1, calZ(t, "2025-10-13T09:00:00Z"), at("2025-10-14T09:00:00Z")},
		{"SEV-4 tertiary Fri 20:00Z → Mon 09:00Z", "SEV-4", 2, fri20, at("2025-10-13T09:00:00Z")},
		{"level 3 does not exist", "SEV-1", 3, tue10, none},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			routeCheckLevelTimeout(t, cfg, s, tc.level, tc.priority, tc.from, tc.want)
		})
	}
}

func TestLevelTimeoutPriorityOverridesDefault(t *testing.T) {
	cfg := calParse(t, `
business_hours:
  - name: office
    time_zone: America/New_York
    start: "08:00"
    end: "18:00"
users:
  - {id: u, contacts: [{channel: push, via: log}]}
escalation_policies:
  - name: mixed
    levels:
      - name: one
        targets: [{user: u}]
        timeout: 30m
        timeouts: {P0: 5m, P3: ack_target}
      - name: two
        targets: [{user: u}]
        timeout: next_business_day
        timeouts: {P0: 10m, P1: 2h}
      - name: three
        targets: [{user: u}]
        timeouts: {P0: 1h}
services:
  - name: svc
    priority_scheme: P0-P3
    escalation_policy: mixed
    business_hours: office
    targets:
      P3:
        acknowledge: 4h
        off_hours: {urgency: low, acknowledge: next_business_day}
`)
	s := routeService(t, cfg, "svc")
	ny := calLoc(t, "America/New_York")
	wed10 := routeWed(t, "10:00")
	fri20 := calAt(t, ny, "2025-10-17 20:00")
	monOpen := calAt(t, ny, "2025-10-20 08:00")
	thuOpen := calAt(t, ny, "2025-10-16 08:00")
	after := func(from time.Time, d time.Duration) routeDeadline { return routeDeadline{from.Add(d), true} }
	cases := []struct {
		name     string
		priority string
		level    int
		from     time.Time
		want     routeDeadline
	}{
		{"P0 uses its own 5m, not the level's 30m", "P0", 0, wed10, after(wed10, 5*time.Minute)},
		{"P1 falls back to the level's 30m", "P1", 0, wed10, after(wed10, 30*time.Minute)},
		{"P2 falls back to the level's 30m", "P2", 0, fri20, after(fri20, 30*time.Minute)},
		{"P3 ack_target in business hours: 4h", "P3", 0, wed10, after(wed10, 4*time.Hour)},
		{"P3 ack_target off-hours: next business day", "P3", 0, fri20, routeDeadline{monOpen, true}},
		{"P0 level two: own 10m over next_business_day", "P0", 1, wed10, after(wed10, 10*time.Minute)},
		{"P1 level two: own 2h", "P1", 1, fri20, after(fri20, 2*time.Hour)},
		{"P2 level two: level's next_business_day", "P2", 1, wed10, routeDeadline{thuOpen, true}},
		{"P3 level two: level's next_business_day", "P3", 1, fri20, routeDeadline{monOpen, true}},
		{"P0 final level with its own timeout", "P0", 2, wed10, after(wed10, time.Hour)},
		{"P1 final level without one", "P1", 2, wed10, routeDeadline{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			routeCheckLevelTimeout(t, cfg, s, tc.level, tc.priority, tc.from, tc.want)
		})
	}
}

// TestRouteLoaderGuards covers configs the loader must refuse or accept
// around targets: next_business_day needs a calendar (or it would mean "the
// next UTC midnight", weekends included), and ack_target is fine when both
// variants set an acknowledge target even if the base does not.
func TestRouteLoaderGuards(t *testing.T) {
	base := `
users:
  - {id: u, contacts: [{channel: push, via: log}]}
business_hours:
  - {name: office, time_zone: UTC, start: "09:00", end: "17:00"}
escalation_policies:
  - name: p
    levels:
      - {targets: [{user: u}], timeout: TIMEOUT}
      - {targets: [{user: u}]}
services:
  - name: svc
    priority_scheme: P0-P3
    escalation_policy: p
    CALENDAR
    targets:
      P1: TARGETS
`
	cases := []struct {
		name, timeout, calendar, targets, want string
	}{
		{"level next_business_day without calendar", "next_business_day", "", "{acknowledge: 5m}", `escalation_policies[p].levels[level-1].timeouts.P0: next_business_day, but service "svc" names no business_hours calendar`},
		{"target next_business_day without calendar", "15m", "", "{initial_response: next_business_day}", "services[svc].targets.P1: next_business_day needs the service to name a business_hours calendar"},
		{"variant next_business_day without calendar", "15m", "", "{off_hours: {resolution: next_business_day}}", "services[svc].targets.P1: next_business_day needs"},
		{"next_business_day with calendar", "next_business_day", "business_hours: office", "{initial_response: next_business_day}", ""},
		{"ack_target from both variants", "ack_target", "business_hours: office", "{business_hours: {acknowledge: 5m}, off_hours: {acknowledge: 1h}}", `timeouts.P0: ack_target, but service "svc" sets no acknowledge target for P0`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.NewReplacer("TIMEOUT", tc.timeout, "CALENDAR", tc.calendar, "TARGETS", tc.targets).Replace(base)
			_, err := Parse([]byte(src), "guards.yaml", "")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
	// With ack targets in both variants for every priority, ack_target loads
	// and follows the variant in force.
	src := strings.NewReplacer("TIMEOUT", "ack_target", "CALENDAR", "business_hours: office",
		"      P1: TARGETS", "      P0: &v {business_hours: {acknowledge: 5m}, off_hours: {acknowledge: 1h}}\n      P1: *v\n      P2: *v\n      P3: *v").Replace(base)
	c, err := Parse([]byte(src), "guards.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Service("svc")
	for at, want := range map[string]time.Duration{"2025-10-14T10:00:00Z": 5 * time.Minute, "2025-10-14T20:00:00Z": time.Hour} {
		from, _ := time.Parse(time.RFC3339, at)
		got, ok := c.LevelTimeout(s, 0, "P2", from)
		if !ok || got.Sub(from) != want {
			t.Errorf("at %s: level timeout %v (ok %v), want %s", at, got.Sub(from), ok, want)
		}
	}
}

func TestRouteSeverityIsCaseInsensitive(t *testing.T) {
	c, err := LoadFile("../configs/aivo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, sev := range []string{"CRITICAL", "Critical", "critical"} {
		if r := c.Route(c.Service("aivo-production"), map[string]string{"severity": sev}, time.Date(2025, 10, 14, 12, 0, 0, 0, time.UTC)); r.Priority != "P0" || r.Rule != "severity="+sev {
			t.Errorf("severity=%s: %s (%s), want P0", sev, r.Priority, r.Rule)
		}
	}
}

// TestRouteGroupTieBreak pins RouteGroup's rule for a group of alerts: the
// most urgent wins; among equally urgent ones, the first whose rule pages
// levels at once wins (its rule names the auto-escalation), else the first
// of them; and the levels any alert's rule pages at once are paged at once
// whichever alert wins.
func TestRouteGroupTieBreak(t *testing.T) {
	cfg := routeParse(t, `
services:
  - name: group
    priority_scheme: P0-P3
    escalation_policy: p
    rules:
      - {name: breach, matchers: ['category="breach"'], priority: P1, page_immediately: [second]}
      - {name: leak, matchers: ['category="leak"'], priority: P1, page_immediately: [second]}
      - {name: db, matchers: ['team="db"'], priority: P1}
      - {name: cache, matchers: ['team="cache"'], priority: P1}
      - {name: down, matchers: ['team="web"'], priority: P0}
`)
	s := routeService(t, cfg, "group")
	at := routeWed(t, "10:00")
	alert := map[string]map[string]string{
		"breach": {"category": "breach"}, "leak": {"category": "leak"},
		"db": {"team": "db"}, "cache": {"team": "cache"}, "down": {"team": "web"},
	}
	for _, tc := range []struct {
		group    []string
		rule     string
		decided  int
		priority string
		page     []string
	}{
		{[]string{"db", "cache"}, "db", 0, "P1", nil},
		{[]string{"db", "breach"}, "breach", 1, "P1", []string{"second"}},
		{[]string{"breach", "db"}, "breach", 0, "P1", []string{"second"}},
		{[]string{"breach", "leak"}, "breach", 0, "P1", []string{"second"}},
		{[]string{"db", "cache", "leak", "breach"}, "leak", 2, "P1", []string{"second"}},
		{[]string{"breach", "down", "db"}, "down", 1, "P0", []string{"second"}},
	} {
		t.Run(strings.Join(tc.group, ","), func(t *testing.T) {
			var sets []map[string]string
			for _, name := range tc.group {
				sets = append(sets, alert[name])
			}
			r, decided := cfg.RouteGroup(s, sets, at)
			if r.Rule != tc.rule || decided != tc.decided || r.Priority != tc.priority || !slices.Equal(r.PageImmediately, tc.page) {
				t.Errorf("rule %q (alert %d), %s, page at once %v; want %q (alert %d), %s, %v",
					r.Rule, decided, r.Priority, r.PageImmediately, tc.rule, tc.decided, tc.priority, tc.page)
			}
		})
	}
}
