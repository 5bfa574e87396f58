package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/pagerduty"
)

// TestPagerDutyToldOnEveryChannelPagedThrough: carol's push and her call
// both go through PagerDuty, each to a service of its own (one that
// notifies her by push, one that calls her), so the ladder's push at 0
// and call at 5 minutes open an alert in each, under the same dedup key.
// She acknowledges in pagerd at 6 minutes: only the push's service was
// told, and the other PagerDuty incident went on notifying her, calling
// her again at its own pace, after she had acknowledged; resolved, it
// stayed open in PagerDuty. Each service an alert was opened in is told,
// once per routing key.
func TestPagerDutyToldOnEveryChannelPagedThrough(t *testing.T) {
	const callKey = "carolpd000000000000000000000000b"
	fake := providertest.NewPagerDuty(t)
	cfg := strings.Replace(pagerDutyAt(fake), "{channel: sms, via: log}",
		"{channel: sms, via: log}, {channel: voice, via: pagerduty, address: "+callKey+"}", 1)
	h := newHarness(t, withConfig(cfg), realTransport("pagerduty"), fastRetries())
	id := fire(h)
	h.step(fixedNow)
	h.runUntil(fixedNow.Add(6 * time.Minute))
	key := pagerduty.DedupKey(id, "carol", 0)
	told := func(routingKey string) string {
		var got []string
		for _, ev := range fake.Events() {
			if ev.RoutingKey == routingKey && ev.DedupKey == key {
				got = append(got, ev.Action)
			}
		}
		return strings.Join(got, ",")
	}
	if told(pdUserKey) != "trigger" || told(callKey) != "trigger" {
		t.Fatalf("pushed %q to the push's service and %q to the call's, want a trigger in each", told(pdUserKey), told(callKey))
	}
	act := carolActs(t, h, id)
	act("acknowledge")
	if told(pdUserKey) != "trigger,acknowledge" || told(callKey) != "trigger,acknowledge" {
		t.Fatalf("after carol acknowledged: the push's service was told %q, the call's %q; want each told of the acknowledgement",
			told(pdUserKey), told(callKey))
	}
	act("resolve")
	if told(pdUserKey) != "trigger,acknowledge,resolve" || told(callKey) != "trigger,acknowledge,resolve" {
		t.Fatalf("after carol resolved: the push's service was told %q, the call's %q; want each told of the resolve",
			told(pdUserKey), told(callKey))
	}
}
