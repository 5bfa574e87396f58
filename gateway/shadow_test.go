package gateway

import (
	"strings"
	"testing"
	"time"
)

// TestShadowService: a service in shadow mode works out every page of its
// ladder and records it as notify_shadow ("would have sent"), and sends
// none; another service on the same transport pages as usual.
func TestShadowService(t *testing.T) {
	cfg := strings.Replace(testConfig, "    incident_key: fingerprint\n", "    incident_key: fingerprint\n    shadow: true\n", 1)
	h := newHarness(t, withConfig(cfg))
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g1", map[string]string{"alertname": "A", "severity": "critical"}),
		"Authorization", "Bearer batch-key-0000000000000000000000")
	if r.code != 200 {
		t.Fatal(r.body)
	}
	id := h.list("")[0].ID
	h.runUntil(fixedNow.Add(20 * time.Minute))
	if n := len(h.rec.lines(fixedNow)); n != 0 {
		t.Fatalf("a shadow service sent %d pages: %q", n, h.rec.lines(fixedNow))
	}
	var shadow []string
	for _, e := range h.incident(id).Timeline {
		switch e.Type {
		case "notify":
			t.Fatalf("a shadow page recorded as sent: %+v", e)
		case "notify_shadow":
			if !strings.Contains(e.Detail, "would have sent via log; not sent: service batch is in shadow mode") {
				t.Errorf("detail %q", e.Detail)
			}
			shadow = append(shadow, e.User+" "+e.Channel)
		}
	}
	// The whole ladder, the escalation to level 2 at 15m included.
	want := "ann push,ann sms,ann voice,bob push,bob sms,bob voice"
	if strings.Join(shadow, ",") != want {
		t.Errorf("shadow pages %q, want %q", shadow, want)
	}
	if metric(t, h.reg, "pagerd_pages_total", "channel", "push", "via", "log", "result", "shadow") != 2 {
		t.Error("pagerd_pages_total{result=shadow} does not count them")
	}
	fire(h) // service api is not in shadow mode
	h.step(h.clock.Now())
	if n := len(h.rec.lines(fixedNow)); n != 1 {
		t.Fatalf("the other service sent %d pages, want 1", n)
	}
}

// TestDryRunTransport: notifiers.<via>.dry_run holds back every page on
// that transport, whatever the service, and a reload that turns it off
// pages again (the cut-over).
func TestDryRunTransport(t *testing.T) {
	cfg := strings.Replace(testConfig, "users:\n", "notifiers:\n  log: {dry_run: true}\nusers:\n", 1)
	h := newHarness(t, withConfig(cfg))
	id := fire(h)
	h.step(h.clock.Now())
	if n := len(h.rec.lines(fixedNow)); n != 0 {
		t.Fatalf("a dry-run transport sent %d pages", n)
	}
	if !h.timelineHas(id, "notify_shadow", "not sent: notifiers.log.dry_run") {
		t.Fatalf("timeline %+v", h.incident(id).Timeline)
	}
	if err := h.reload(testConfig); err != nil {
		t.Fatal(err)
	}
	h.step(fixedNow.Add(2 * time.Minute))
	if got := h.rec.lines(fixedNow); len(got) != 1 || got[0] != "2m L1 ann sms" {
		t.Fatalf("after the reload: %q, want the SMS step sent", got)
	}
}
