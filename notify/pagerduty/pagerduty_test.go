package pagerduty_test

import (
	"testing"

	"github.com/pagerd/pagerd/notify/pagerduty"
)

func TestPagerDutyDedupKeyRoundTrip(t *testing.T) {
	for _, c := range []struct {
		incident, user string
		reopened       int
		key            string
	}{
		// Before any reopen, the key pagerd always sent: stored incidents
		// and PagerDuty's open alerts keep working.
		{"0a-06h0", "eng-a", 0, "pagerd:0a-06h0:eng-a"},
		{"0a-06h0:x", "eng-a", 0, "pagerd:0a-06h0:x:eng-a"},
		{"0a-06h0", "eng-a", 1, "pagerd:0a-06h0:eng-a:1"},
		{"0a-06h0", "eng-a", 12, "pagerd:0a-06h0:eng-a:12"},
		// A user id that is a number is not a count.
		{"0a-06h0", "7", 0, "pagerd:0a-06h0:7"},
		{"0a-06h0", "7", 3, "pagerd:0a-06h0:7:3"},
		{"b0a-06h0", "eng-a", 0, "pagerd:b0a-06h0:eng-a"},
	} {
		if k := pagerduty.DedupKey(c.incident, c.user, c.reopened); k != c.key {
			t.Errorf("DedupKey(%q, %q, %d) = %q, want %q", c.incident, c.user, c.reopened, k, c.key)
		}
		inc, user, n, ok := pagerduty.ParseDedupKey(c.key)
		if !ok || inc != c.incident || user != c.user || n != c.reopened {
			t.Errorf("ParseDedupKey(%q) = %q %q %d %v", c.key, inc, user, n, ok)
		}
	}
	// Not counts: read as the old form, the last part the user.
	for key, want := range map[string][2]string{"pagerd:0a-06h0:eng-a:01": {"0a-06h0:eng-a", "01"}, "pagerd:0a-06h0:eng-a:0": {"0a-06h0:eng-a", "0"}} {
		if inc, user, n, ok := pagerduty.ParseDedupKey(key); !ok || inc != want[0] || user != want[1] || n != 0 {
			t.Errorf("ParseDedupKey(%q) = %q %q %d %v", key, inc, user, n, ok)
		}
	}
	for _, bad := range []string{"", "pagerd:", "pagerd:x", "pagerd:x:", "other:x:y", "pagerd::1"} {
		if _, _, _, ok := pagerduty.ParseDedupKey(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}
