package policy

import "fmt"

// Scheme is a set of four priorities ordered from most to least urgent.
// AIVO uses P0–P3, AION-R SEV-1–4; both map the four Alertmanager severities
// the same way by rank.
type Scheme struct {
	Name       string
	Priorities []string
}

// The priority schemes pagerd knows.
var (
	SchemeP   = &Scheme{Name: "P0-P3", Priorities: []string{"P0", "P1", "P2", "P3"}}
	SchemeSEV = &Scheme{Name: "SEV-1-4", Priorities: []string{"SEV-1", "SEV-2", "SEV-3", "SEV-4"}}
)

// LookupScheme finds a scheme by its config name.
func LookupScheme(name string) (*Scheme, error) {
	switch name {
	case SchemeP.Name, "P", "p":
		return SchemeP, nil
	case SchemeSEV.Name, "SEV", "sev":
		return SchemeSEV, nil
	}
	return nil, fmt.Errorf("unknown priority scheme %q (use %q or %q)", name, SchemeP.Name, SchemeSEV.Name)
}

// Rank is the priority's position, 0 the most urgent, or -1 if the scheme
// has no such priority.
func (s *Scheme) Rank(priority string) int {
	for i, p := range s.Priorities {
		if p == priority {
			return i
		}
	}
	return -1
}

// Has reports whether the priority belongs to the scheme.
func (s *Scheme) Has(priority string) bool { return s.Rank(priority) >= 0 }

// defaultSeverityRanks maps Alertmanager's and PagerDuty's severity words to
// a rank: critical is the top priority, info the lowest.
var defaultSeverityRanks = map[string]int{
	"critical": 0,
	"error":    1,
	"warning":  2,
	"info":     3,
}

// DefaultSeverity returns the priority a severity word maps to by default.
func (s *Scheme) DefaultSeverity(severity string) (string, bool) {
	r, ok := defaultSeverityRanks[severity]
	if !ok {
		return "", false
	}
	return s.Priorities[r], true
}

// opsgenieRanks is the table that maps Opsgenie's five alert priorities onto
// pagerd's four: P1 is the most urgent, and Opsgenie's two lowest (P4,
// "low", and P5, "informational") both become the scheme's lowest. With
// P0–P3 that is P1→P0, P2→P1, P3→P2, P4→P3, P5→P3; with SEV-1–4, P1→SEV-1,
// P2→SEV-2, P3→SEV-3, P4 and P5→SEV-4. The importer writes it as routing
// rules and docs/MIGRATING.md publishes it.
var opsgenieRanks = map[string]int{"P1": 0, "P2": 1, "P3": 2, "P4": 3, "P5": 3}

// OpsgeniePriorities are Opsgenie's priorities, most urgent first.
var OpsgeniePriorities = []string{"P1", "P2", "P3", "P4", "P5"}

// FromOpsgenie returns the priority of the scheme an Opsgenie priority
// (P1–P5) maps to, by the table above.
func (s *Scheme) FromOpsgenie(priority string) (string, bool) {
	r, ok := opsgenieRanks[priority]
	if !ok {
		return "", false
	}
	return s.Priorities[r], true
}
