package gateway

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/acklink"
	"github.com/pagerd/pagerd/gateway/store"
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
	if r := h.do("POST", bobs+"/acknowledge", ""); r.code != 200 || !strings.Contains(r.body, "Already acknowledged by Ann.") {
		t.Fatalf("a second person's ack: %d %s", r.code, r.body)
	}
	if r := h.do("POST", path+"/resolve", ""); r.code != 200 || !strings.Contains(r.body, "Resolved.") {
		t.Fatalf("resolve: %d %s", r.code, r.body)
	}
	if r := h.do("POST", path+"/resolve", ""); r.code != 409 || !strings.Contains(r.body, "Already resolved by Ann") {
		t.Fatalf("second resolve: %d %s", r.code, r.body)
	}
	// The signature's first character changed: its last carries two bits
	// the decoding ignores, and a change there alone (as "xx" for the last
	// two, when they were "xw") left the signature valid one time in 1024.
	dot := strings.LastIndexByte(path, '.')
	other := "A"
	if path[dot+1] == 'A' {
		other = "B"
	}
	tampered := path[:dot+1] + other + path[dot+2:]
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

// readsFailAfterWrite is a store whose reads of incidents fail once a
// write went through (while fail is set): a store that blips between the
// acknowledgement and the page that says so.
type readsFailAfterWrite struct {
	store.Store
	fail, wrote atomic.Bool
}

func (s *readsFailAfterWrite) Update(ctx context.Context, inc *store.Incident, tl []store.Entry) error {
	err := s.Store.Update(ctx, inc, tl)
	if err == nil && s.fail.Load() {
		s.wrote.Store(true)
	}
	return err
}

func (s *readsFailAfterWrite) Get(ctx context.Context, id string) (*store.Incident, error) {
	if s.wrote.Load() {
		return nil, errDiskFull
	}
	return s.Store.Get(ctx, id)
}

// TestAckLinkStoredIsAnsweredAsStored: the page after the button shows
// the incident as the acknowledgement left it, not read again: a store
// that fails that read must not turn a stored acknowledgement into a 503
// saying nothing was stored.
func TestAckLinkStoredIsAnsweredAsStored(t *testing.T) {
	st := &readsFailAfterWrite{Store: boltStore(t)}
	h := newHarness(t, withStore(st), withConfig(linkConfig))
	id := fire(h)
	h.step(fixedNow)
	h.rec.mu.Lock()
	msg := h.rec.msgs[0]
	h.rec.mu.Unlock()
	path := "/ack/" + strings.TrimPrefix(msg.AckURL, "https://pagerd.example.com/ack/")
	st.fail.Store(true)
	r := h.do("POST", path+"/acknowledge", "")
	st.fail.Store(false)
	st.wrote.Store(false)
	if r.code != 200 || !strings.Contains(r.body, "Acknowledged.") {
		t.Fatalf("acknowledge, the read after it failing: %d %s", r.code, r.body)
	}
	if v := h.incident(id); v.Status != "acknowledged" {
		t.Fatalf("status %s", v.Status)
	}
}

// TestAckLinkFailuresArePages: a person who opens a link from a phone,
// or presses its button, while the store fails gets a page like the
// link's others (HTML, not the API's JSON) saying what happened and what
// to do: not recorded, try again; maybe recorded, pressing again does no
// harm (and it does none); the incident gone.
func TestAckLinkFailuresArePages(t *testing.T) {
	fs := &faultyStore{Store: boltStore(t)}
	un := &unconfirmedWrites{Store: fs}
	rr := &failingGets{Store: un}
	h := newHarness(t, withStore(rr), withConfig(linkConfig))
	id := fire(h)
	path := "/ack/" + acklink.Sign(h.config().Server.LinkSecret, id, "ann", fixedNow.Add(time.Hour))
	page := func(r response, code int, says ...string) {
		t.Helper()
		if r.code != code || !strings.HasPrefix(r.hdr.Get("Content-Type"), "text/html") || !strings.Contains(r.body, "<h1>") {
			t.Fatalf("want a %d page: %d %s %s", code, r.code, r.hdr.Get("Content-Type"), r.body)
		}
		for _, s := range says {
			if !strings.Contains(r.body, s) {
				t.Fatalf("the page does not say %q: %s", s, r.body)
			}
		}
		if code == 503 && r.hdr.Get("Retry-After") == "" {
			t.Fatal("a 503 without Retry-After")
		}
	}

	rr.fail.Store(true)
	page(h.do("GET", path, ""), 503, "The incident store is unavailable", "Nothing was changed", "open the link again in a minute")
	rr.fail.Store(false)

	fs.refuseRecords.Store(true)
	page(h.do("POST", path+"/acknowledge", ""), 503, "Your acknowledgement was NOT recorded: the incident store is unavailable", "press the button again")
	fs.refuseRecords.Store(false)
	if v := h.incident(id); v.Status != "triggered" {
		t.Fatalf("status %s after an acknowledgement not recorded", v.Status)
	}

	un.armed.Store(true)
	page(h.do("POST", path+"/acknowledge", ""), 503, "Your acknowledgement may not have been recorded", "pressing the button again does no harm")
	if r := h.do("POST", path+"/acknowledge", ""); r.code != 200 || !strings.Contains(r.body, "Already acknowledged by Ann.") {
		t.Fatalf("pressed again after an unconfirmed acknowledgement: %d %s", r.code, r.body)
	}
	if v := h.incident(id); entries(v, "ack") != 1 {
		t.Fatalf("timeline %s: want one acknowledgement", timelineTypes(v))
	}

	other := id[:len(id)-1] + "z"
	if other == id {
		other = id[:len(id)-1] + "y"
	}
	gone := "/ack/" + acklink.Sign(h.config().Server.LinkSecret, other, "ann", fixedNow.Add(time.Hour))
	page(h.do("GET", gone, ""), 404, "no longer kept")
	page(h.do("POST", gone+"/resolve", ""), 404, "Your resolution was NOT recorded: the incident is no longer kept.")
}

// TestAckLinkBehindAPathPrefix: public_url has a path (a proxy that
// serves pagerd at https://tools.example.com/pagerd/ and strips the
// prefix). The link's page posts its buttons under that prefix, where the
// person's browser reaches pagerd; they posted to /ack/... at the host's
// root, outside pagerd, and the button found nothing there.
func TestAckLinkBehindAPathPrefix(t *testing.T) {
	cfg := strings.Replace(linkConfig, "public_url: https://pagerd.example.com", "public_url: https://tools.example.com/pagerd/", 1)
	h := newHarness(t, withConfig(cfg))
	fire(h)
	h.step(fixedNow)
	h.rec.mu.Lock()
	msg := h.rec.msgs[0]
	h.rec.mu.Unlock()
	const prefix = "https://tools.example.com/pagerd/ack/"
	if !strings.HasPrefix(msg.AckURL, prefix) {
		t.Fatalf("the page's ack link is %q, want it under %s", msg.AckURL, prefix)
	}
	token := strings.TrimPrefix(msg.AckURL, prefix)
	r := h.do("GET", "/ack/"+token, "") // the proxy stripped /pagerd
	want := `action="/pagerd/ack/` + token + `/acknowledge"`
	if r.code != 200 || !strings.Contains(r.body, want) {
		t.Fatalf("open: %d; want a form with %s in %s", r.code, want, r.body)
	}
}
