package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/acklink"
	"github.com/pagerd/pagerd/policy"
)

const linkConfig = dispatchConfig + `
server:
  public_url: https://pagerd.example.com
  link_secret: 0123456789abcdef0123456789abcdef
  link_ttl: 1h
`

// TestAckLinkFlow: the page carries the person's link; opening it shows the
// incident and changes nothing; the button acknowledges as that person and
// stops the ladder; a tampered or expired link gets 403.
func TestAckLinkFlow(t *testing.T) {
	h := newHarness(t, withConfig(linkConfig))
	id := fire(h)
	h.step(fixedNow)
	h.rec.mu.Lock()
	msg := h.rec.msgs[0]
	h.rec.mu.Unlock()
	const prefix = "https://pagerd.example.com/ack/"
	if !strings.HasPrefix(msg.AckURL, prefix) || !strings.Contains(msg.Text, "Ack: "+msg.AckURL) {
		t.Fatalf("the page has no ack link: %+v", msg)
	}
	path := "/ack/" + strings.TrimPrefix(msg.AckURL, prefix)

	for i := 0; i < 2; i++ { // a link preview, then the person
		r := h.do("GET", path, "")
		if r.code != 200 || !strings.Contains(r.body, ">Acknowledge</button>") || !strings.Contains(r.body, "triggered") ||
			r.hdr.Get("Cache-Control") != "no-store" {
			t.Fatalf("open: %d %s", r.code, r.body)
		}
	}
	var v incidentView
	h.api("GET", "/api/v1/incidents/"+id, "").json(t, &v)
	if v.Status != "triggered" {
		t.Fatalf("opening the link changed the incident: %s", v.Status)
	}
	r := h.do("POST", path+"/acknowledge", "")
	if r.code != 200 || !strings.Contains(r.body, "Acknowledged.") || strings.Contains(r.body, ">Acknowledge</button>") {
		t.Fatalf("acknowledge: %d %s", r.code, r.body)
	}
	h.api("GET", "/api/v1/incidents/"+id, "").json(t, &v)
	if v.Status != "acknowledged" || v.AcknowledgedBy != "ann" {
		t.Fatalf("after the link: %s by %q", v.Status, v.AcknowledgedBy)
	}
	h.runUntil(fixedNow.Add(50 * time.Minute))
	if got := h.rec.lines(fixedNow); len(got) != 1 {
		t.Fatalf("pages after the link acknowledged: %v", got)
	}
	bobs := "/ack/" + acklink.Sign(h.config().Server.LinkSecret, id, "bob", fixedNow.Add(time.Hour))
	if r := h.do("POST", bobs+"/acknowledge", ""); r.code != 200 || !strings.Contains(r.body, "Already acknowledged by ann.") {
		t.Fatalf("a second person's ack: %d %s", r.code, r.body)
	}
	if r := h.do("POST", path+"/resolve", ""); r.code != 200 || !strings.Contains(r.body, "Resolved.") {
		t.Fatalf("resolve: %d %s", r.code, r.body)
	}
	if r := h.do("POST", path+"/resolve", ""); r.code != 409 || !strings.Contains(r.body, "Already resolved by ann") {
		t.Fatalf("second resolve: %d %s", r.code, r.body)
	}
	tampered := path[:len(path)-2] + "xx"
	if r := h.do("GET", tampered, ""); r.code != 403 {
		t.Fatalf("tampered: %d", r.code)
	}
	h.clock.Set(fixedNow.Add(time.Hour))
	if r := h.do("POST", path+"/acknowledge", ""); r.code != 403 || !strings.Contains(r.body, "expired") {
		t.Fatalf("expired: %d %s", r.code, r.body)
	}
}

func TestLinkSecretIsChecked(t *testing.T) {
	if _, err := policy.Parse([]byte(dispatchConfig+"\nserver: {link_secret: short}\n"), "x.yaml", ""); err == nil ||
		!strings.Contains(err.Error(), "server.link_secret: must be at least 16 bytes") || strings.Contains(err.Error(), "short") {
		t.Fatalf("err = %v", err)
	}
}
