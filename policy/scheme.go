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
