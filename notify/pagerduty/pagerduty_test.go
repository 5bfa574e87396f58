package pagerduty_test

import (
	"testing"

	"github.com/pagerd/pagerd/notify/pagerduty"
)

func TestPagerDutyDedupKeyRoundTrip(t *testing.T) {
	inc, user, ok := pagerduty.ParseDedupKey(pagerduty.DedupKey("0a-06h0:x", "eng-a"))
	if !ok || inc != "0a-06h0:x" || user != "eng-a" {
		t.Fatalf("%q %q %v", inc, user, ok)
	}
	for _, bad := range []string{"", "pagerd:", "pagerd:x", "pagerd:x:", "other:x:y"} {
		if _, _, ok := pagerduty.ParseDedupKey(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}
