package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/pagerduty"
)

// pdMergedIn is pdMerged for PagerDuty's incident in the service whose id
// is service, as PagerDuty's webhooks v3 name it (data.service).
func pdMergedIn(key, agent, into, service string) string {
	return strings.Replace(pdMerged(key, agent, into), `"status":"resolved",`,
		`"status":"resolved","service":{"id":"`+service+`","type":"service_reference","summary":"Carol's `+service+`"},`, 1)
}

// TestPagerDutyMergeInOneServiceLeavesTheOtherTold: carol's push goes
// through one PagerDuty service and her call through another, so the
// ladder opened an alert under one dedup key in each. She merges the
// push's PagerDuty incident into another: pagerd's incident is hers
// (acknowledged), and the push's alert, now in the other incident, must
// not be told of it. The merge marked the key merged in both services,
// and the call's PagerDuty incident, which nobody merged, was not told of
// the acknowledgement: it went on calling her until the resolve. With the
// contacts' PagerDuty services named (pagerduty_service), the mark is the
// merged service's only, and the call's service is told; without, pagerd
// cannot tell which alert went, and tells neither, as before.
func TestPagerDutyMergeInOneServiceLeavesTheOtherTold(t *testing.T) {
	const callKey = "carolpd000000000000000000000000b"
	for name, tc := range map[string]struct {
		push, call      string // the contacts' pagerduty_service settings
		wantPushAck     string
		wantCallAck     string
		mergedServiceID string
	}{
		"services named":   {", pagerduty_service: PPUSH01", ", pagerduty_service: PCALL01", "trigger", "trigger,acknowledge", "PPUSH01"},
		"services unnamed": {"", "", "trigger", "trigger", "PPUSH01"},
		// A typo in pagerduty_service (PPUSH0I for PPUSH01) passes the
		// check of its form: the merge's service matched no contact, so
		// each was taken for another service's and told, and the push's
		// routing key acknowledged, under the merged alert's key, the
		// PagerDuty incident it was merged into (someone else's
		// outage: PagerDuty stopped paging for it). A merge in a service
		// no contact names says as little as one in no service named.
		"a service misnamed": {", pagerduty_service: PPUSH0I", ", pagerduty_service: PCALL01", "trigger", "trigger", "PPUSH01"},
		// The push's service unnamed, the call's named: a merge in
		// another service than the call's may be the push's, which
		// explains it, and the call's alert, which nobody merged, is
		// told. Taken for a misnamed service, it was told nothing: its
		// PagerDuty incident went on calling carol after she
		// acknowledged (rev28).
		"one service unnamed": {"", ", pagerduty_service: PCALL01", "trigger", "trigger,acknowledge", "PPUSH01"},
	} {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewPagerDuty(t)
			cfg := pagerDutyAt(fake)
			push := "{channel: push, via: pagerduty, address: " + pdUserKey + "}"
			if !strings.Contains(cfg, push) {
				t.Fatal("the config has no PagerDuty push contact")
			}
			cfg = strings.Replace(cfg, push, "{channel: push, via: pagerduty, address: "+pdUserKey+tc.push+"}", 1)
			cfg = strings.Replace(cfg, "{channel: sms, via: log}",
				"{channel: sms, via: log}, {channel: voice, via: pagerduty, address: "+callKey+tc.call+"}", 1)
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
			if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, pdMergedIn(key, pdAgentCarol, "Q7", tc.mergedServiceID)); code != 204 {
				t.Fatalf("merge webhook: %d %s", code, out)
			}
			if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "carol" {
				t.Fatalf("after the merge: %s by %q", v.Status, v.AcknowledgedBy)
			}
			h.runUntil(h.clock.Now().Add(10 * time.Minute))
			if told(pdUserKey) != tc.wantPushAck || told(callKey) != tc.wantCallAck {
				t.Fatalf("after the merge in the push's service: the push's service was told %q, the call's %q; want %q and %q",
					told(pdUserKey), told(callKey), tc.wantPushAck, tc.wantCallAck)
			}
			const misnamed = "a PagerDuty merge was made in a service none of the person's contacts via pagerduty names"
			if warned := strings.Contains(h.logs.String(), misnamed); warned != (name == "a service misnamed") {
				t.Errorf("warned of a misnamed pagerduty_service: %v", warned)
			}
			carolActs(t, h, id)("resolve")
			if !strings.HasSuffix(told(pdUserKey), ",resolve") || !strings.HasSuffix(told(callKey), ",resolve") {
				t.Fatalf("after carol resolved: the push's service was told %q, the call's %q; want each told of the resolve", told(pdUserKey), told(callKey))
			}
		})
	}
}
