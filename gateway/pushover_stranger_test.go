package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
)

// TestPushoverStrangersCallbackDoesNotHideTheAppsRefused: the receipt
// path is documented, and anyone can POST to it. A stranger's request,
// its token not even one pagerd could have signed, took the minute's one
// warning, and the Pushover app's own callback refused ten seconds later
// (signed with the link_secret before a rotation: the person believes
// they acknowledged, pagerd goes on paging) was logged at debug only. A
// stranger probing the path each minute hid every such refusal. A token
// that is no signed token at all is logged at debug only, and leaves
// the warning to the app's.
func TestPushoverStrangersCallbackDoesNotHideTheAppsRefused(t *testing.T) {
	po := providertest.NewPushover(t)
	cfg := pushoverConfig(po.URL, "http://127.0.0.1:1")
	h := newHarness(t, withConfig(cfg))
	fire(h)
	h.step(fixedNow)
	if err := h.reload(strings.Replace(cfg, "pushover-test-link-secret-0123456789", "pushover-rotated-link-secret-987654", 1)); err != nil {
		t.Fatal(err)
	}
	const msg = "pushover: a receipt callback was refused (403)"
	warned := func() int {
		n := 0
		for _, l := range strings.Split(h.logs.String(), "\n") {
			if strings.Contains(l, msg) && strings.Contains(l, `"level":"WARN"`) {
				n++
			}
		}
		return n
	}
	for _, junk := range []string{"wp-login.php", "x.y", "AAAA.BBBB"} {
		if r := h.do("POST", "/api/v1/pushover/receipt/"+junk, ""); r.code != 403 && r.code != 404 {
			t.Fatalf("a stranger's callback %q: %d %s", junk, r.code, r.body)
		}
	}
	if n := warned(); n != 0 {
		t.Fatalf("a stranger's callbacks, no token pagerd signs, warned %d times:\n%s", n, h.logs.String())
	}
	h.clock.Set(fixedNow.Add(10 * time.Second))
	if code := po.Acknowledge(t, 0, "iphone"); code != 403 {
		t.Fatalf("the app's callback signed with the secret before the rotation: %d, want 403", code)
	}
	if n := warned(); n != 1 {
		t.Fatalf("the app's refused callback warned %d times, want 1:\n%s", n, h.logs.String())
	}
}
