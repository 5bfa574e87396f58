package policy

import (
	"net/url"
	"testing"
)

// TestShownURL: an Alertmanager URL is shown as url.URL.Redacted writes
// it (a password blanked), "" as "" without an allocation (a webhook of a
// service without an Alertmanager URL shows it), and one that does not
// parse as the service's Alertmanager.
func TestShownURL(t *testing.T) {
	for _, raw := range []string{"", "http://am:9093", "https://user:secret@am.example.com/prefix", "http://user@am", "HTTP://AM:9093/", "http://am/a%2fb?x=1#f", "am:9093", "/relative"} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ShownURL(raw), u.Redacted(); got != want {
			t.Errorf("ShownURL(%q) = %q, want %q", raw, got, want)
		}
	}
	if got := ShownURL("http://am:9093/\x7f"); got != "the service's Alertmanager" {
		t.Errorf("an URL that does not parse is shown as %q", got)
	}
	if raceEnabled {
		return
	}
	if n := testing.AllocsPerRun(100, func() { _ = ShownURL("") }); n > 0 {
		t.Errorf("showing no URL allocates %.0f times, want 0", n)
	}
}
