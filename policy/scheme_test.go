package policy

import "testing"

// TestFromOpsgenie pins the published table: Opsgenie's P1–P5 onto the four
// priorities of each scheme, P4 and P5 both the lowest.
func TestFromOpsgenie(t *testing.T) {
	want := map[*Scheme][]string{
		SchemeP:   {"P0", "P1", "P2", "P3", "P3"},
		SchemeSEV: {"SEV-1", "SEV-2", "SEV-3", "SEV-4", "SEV-4"},
	}
	for sc, prios := range want {
		for i, og := range OpsgeniePriorities {
			got, ok := sc.FromOpsgenie(og)
			if !ok || got != prios[i] {
				t.Errorf("%s: %s maps to %q (%v), want %q", sc.Name, og, got, ok, prios[i])
			}
		}
		for _, bad := range []string{"P0", "P6", "p1", ""} {
			if got, ok := sc.FromOpsgenie(bad); ok {
				t.Errorf("%s: %q maps to %q, want no mapping", sc.Name, bad, got)
			}
		}
	}
}
