package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
)

const annPushoverKey = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"

func pushoverConfig(apiURL, ntfyURL string) string {
	return `
server:
  public_url: ` + harnessURL + `
  link_secret: pushover-test-link-secret-0123456789
api:
  tokens: [{name: ops, token: ` + apiToken + `, role: admin}]
notifiers:
  pushover: {token: ` + providertest.PushoverToken + `, api_url: "` + apiURL + `", retry: 30s, expire: 2h}
users:
  - {id: ann, name: Ann, contacts: [{channel: push, via: pushover, address: ` + annPushoverKey + `}, {channel: sms, via: log}, {channel: voice, via: log}]}
  - {id: bob, name: Bob, contacts: [{channel: push, via: ntfy, address: "` + ntfyURL + `/oncall-bob"}, {channel: sms, via: log}]}
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: primary, start: 2025-01-06, members: [ann]}
      - {name: secondary, start: 2025-01-06, members: [bob]}
escalation_policies:
  - name: p
    levels:
      - {name: primary, targets: [{schedule: s, tier: primary}], timeout: 15m}
      - {name: secondary, targets: [{schedule: s, tier: secondary}]}
services:
  - name: api
    priority_scheme: P0-P3
    escalation_policy: p
    integrations: {alertmanager_key: ` + amKey + `}
`
}

// Pushover: a high-urgency page is an emergency message (repeating until
// acknowledged in the app) with a signed receipt callback; acknowledging
// in the app acknowledges the incident in pagerd, and the SMS and call
// never go out; a callback pagerd did not sign changes nothing. An
// incident acknowledged in pagerd stops the app's alerts.
func TestPushoverEmergencyAcknowledgedInTheApp(t *testing.T) {
	po := providertest.NewPushover(t)
	h := newHarness(t, withConfig(pushoverConfig(po.URL, "http://127.0.0.1:1")))
	id := fire(h)
	h.step(fixedNow)
	ms := po.Messages()
	if len(ms) != 1 {
		t.Fatalf("messages %+v", ms)
	}
	m := ms[0]
	if m.Priority != 2 || m.Retry != 30 || m.Expire != 7200 || m.Tags != id || m.User != annPushoverKey ||
		!strings.HasPrefix(m.URL, h.url+"/ack/") || !strings.HasPrefix(m.Callback, h.url+"/api/v1/pushover/receipt/") {
		t.Fatalf("emergency message %+v", m)
	}
	// A forged callback (another token) is refused and changes nothing.
	forged := h.url + "/api/v1/pushover/receipt/" + "djF8eHx5fDk5OTk5OTk5OTk.AAAA"
	if code := providertest.PushoverCallback(t, forged, m.Receipt, annPushoverKey, "iphone"); code != 403 {
		t.Fatalf("forged callback: %d", code)
	}
	if st := h.incident(id).Status; st != "triggered" {
		t.Fatalf("a forged callback changed the incident: %s", st)
	}
	// Acknowledged in the app.
	h.clock.Set(fixedNow.Add(time.Minute))
	if code := po.Acknowledge(t, 0, "iphone"); code != 204 {
		t.Fatalf("callback: %d", code)
	}
	inc := h.incident(id)
	if inc.Status != "acknowledged" || inc.AcknowledgedBy != "ann" {
		t.Fatalf("after the app: %s by %s", inc.Status, inc.AcknowledgedBy)
	}
	noted := false
	for _, e := range inc.Timeline {
		noted = noted || (e.Type == "delivery" && e.Detail == "acknowledged in the Pushover app on iphone")
	}
	if !noted {
		t.Fatalf("timeline %+v", inc.Timeline)
	}
	h.runUntil(fixedNow.Add(20 * time.Minute))
	if got := strings.Join(h.rec.lines(fixedNow), "; "); got != "" {
		t.Fatalf("pages after the app's acknowledgement: %s", got)
	}

	// An incident acknowledged in pagerd stops the app's emergency alerts.
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g2", map[string]string{"alertname": "B", "severity": "critical"}),
		"Authorization", "Bearer "+amKey)
	var res struct{ Incidents []string }
	r.json(t, &res)
	h.step(h.clock.Now())
	if r := h.api("POST", "/api/v1/incidents/"+res.Incidents[0]+"/acknowledge", ""); r.code != 200 {
		t.Fatalf("ack: %d", r.code)
	}
	h.step(h.clock.Now())
	// (The first incident's alerts were cancelled too, harmlessly: the app
	// had stopped them when it was acknowledged there.)
	if c := po.Cancels(); len(c) != 2 || c[0] != id || c[1] != res.Incidents[0] {
		t.Fatalf("cancels %v", c)
	}
}

// A link_secret rotated by a reload signs the receipt callbacks of the
// pages sent after it, as it checks them: acknowledging in the app still
// acknowledges in pagerd (the callback was signed with the secret pagerd
// started with, and refused).
func TestPushoverCallbackAfterLinkSecretRotated(t *testing.T) {
	po := providertest.NewPushover(t)
	cfg := pushoverConfig(po.URL, "http://127.0.0.1:1")
	h := newHarness(t, withConfig(cfg))
	if err := h.reload(strings.Replace(cfg, "pushover-test-link-secret-0123456789", "pushover-rotated-link-secret-987654", 1)); err != nil {
		t.Fatal(err)
	}
	id := fire(h)
	h.step(fixedNow)
	if ms := po.Messages(); len(ms) != 1 {
		t.Fatalf("messages %+v", ms)
	}
	if code := po.Acknowledge(t, 0, "iphone"); code != 204 {
		t.Fatalf("the app's callback after the secret was rotated: %d, want 204", code)
	}
	if inc := h.incident(id); inc.Status != "acknowledged" || inc.AcknowledgedBy != "ann" {
		t.Fatalf("after the app: %s by %s", inc.Status, inc.AcknowledgedBy)
	}
}

// ntfy: a page carries an Acknowledge action that POSTs to the signed ack
// link, and pressing it acknowledges.
func TestNtfyAcknowledgeAction(t *testing.T) {
	var mu sync.Mutex
	var actions []string
	ntfy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		actions = append(actions, r.Header.Get("Actions"))
		mu.Unlock()
	}))
	defer ntfy.Close()
	po := providertest.NewPushover(t)
	h := newHarness(t, withConfig(pushoverConfig(po.URL, ntfy.URL)), realTransport("ntfy"))
	id := fire(h)
	h.runUntil(fixedNow.Add(15 * time.Minute)) // bob is paged at level 2
	mu.Lock()
	defer mu.Unlock()
	if len(actions) != 1 {
		t.Fatalf("ntfy messages: %v", actions)
	}
	parts := strings.Split(actions[0], ", ")
	if len(parts) != 5 || parts[0] != "http" || parts[1] != "Acknowledge" || parts[3] != "method=POST" {
		t.Fatalf("Actions %q", actions[0])
	}
	resp, err := http.Post(parts[2], "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if inc := h.incident(id); resp.StatusCode != 200 || inc.Status != "acknowledged" || inc.AcknowledgedBy != "bob" {
		t.Fatalf("the action: %d, %s by %s", resp.StatusCode, inc.Status, inc.AcknowledgedBy)
	}
}

// TestPushoverCallbackIsNotAnAckLink: the receipt callback's token is handed
// to Pushover, a third party, and lives longer than an ack link (the
// emergency's expire on top of server.link_ttl). It acknowledges through
// the receipt callback and nothing else: presented as an ack link it is
// refused and changes nothing, so whoever holds Pushover's copy cannot
// resolve the incident with it.
func TestPushoverCallbackIsNotAnAckLink(t *testing.T) {
	po := providertest.NewPushover(t)
	h := newHarness(t, withConfig(pushoverConfig(po.URL, "http://127.0.0.1:1")))
	id := fire(h)
	h.step(fixedNow)
	ms := po.Messages()
	if len(ms) != 1 {
		t.Fatalf("messages %+v", ms)
	}
	tok := strings.TrimPrefix(ms[0].Callback, h.url+"/api/v1/pushover/receipt/")
	if tok == ms[0].Callback || tok == "" {
		t.Fatalf("callback %q", ms[0].Callback)
	}
	for _, action := range []string{"resolve", "acknowledge"} {
		if r := h.do("POST", "/ack/"+tok+"/"+action, ""); r.code != http.StatusForbidden {
			t.Fatalf("the callback's token as an ack link (%s): %d %s", action, r.code, r.body)
		}
	}
	if r := h.do("GET", "/ack/"+tok, ""); r.code != http.StatusForbidden {
		t.Fatalf("the callback's token shown as an ack link: %d", r.code)
	}
	if st := h.incident(id).Status; st != "triggered" {
		t.Fatalf("the callback's token changed the incident as an ack link: %s", st)
	}
	// The callback itself still acknowledges.
	if code := po.Acknowledge(t, 0, "iphone"); code != 204 {
		t.Fatalf("callback: %d", code)
	}
	if st := h.incident(id).Status; st != "acknowledged" {
		t.Fatalf("after the app: %s", st)
	}
}

// TestPushoverAcknowledgementToldLateSparesTheReopenedIncident: ann's
// incident is acknowledged in pagerd and, before the dispatcher cancels
// her Pushover emergency alerts, reopened (here an escalate) and paged
// again. The cancel is by the incident's tag, so it stopped the alerts of
// the incident as it is now too. It is left out now: the incident pages.
func TestPushoverAcknowledgementToldLateSparesTheReopenedIncident(t *testing.T) {
	po := providertest.NewPushover(t)
	h := newHarness(t, withConfig(pushoverConfig(po.URL, "http://127.0.0.1:1")))
	id := fire(h)
	h.step(fixedNow)
	for _, what := range []string{"acknowledge", "escalate"} { // no dispatcher run between them
		if r := h.api("POST", "/api/v1/incidents/"+id+"/"+what, `{"user":"ann"}`); r.code != 200 {
			t.Fatalf("%s: %d %s", what, r.code, r.body)
		}
	}
	h.step(fixedNow)
	if c := po.Cancels(); len(c) != 0 {
		t.Fatalf("cancels %v of an incident paged again since its acknowledgement", c)
	}
	if v := h.incident(id); v.Status != "triggered" {
		t.Fatalf("the reopened incident: %s", v.Status)
	}
}

// TestPushoverOldEmergencyAcknowledgedAfterAReopenIsIgnored: ann
// acknowledges in pagerd, then escalates (a reopen) before the dispatcher
// cancels her emergency, which is left alerting. She taps Acknowledge in
// the Pushover app to silence it. That answers the page sent before the
// reopen: it must not acknowledge the reopened incident and stop bob's
// pages (as a PagerDuty alert's or a Slack button's acknowledgement does
// not), and the timeline says it was not applied. A page sent after the
// reopen still acknowledges from the app.
func TestPushoverOldEmergencyAcknowledgedAfterAReopenIsIgnored(t *testing.T) {
	po := providertest.NewPushover(t)
	h := newHarness(t, withConfig(pushoverConfig(po.URL, "http://127.0.0.1:1")))
	id := fire(h)
	h.step(fixedNow)
	for _, what := range []string{"acknowledge", "escalate"} { // no dispatcher run between them
		if r := h.api("POST", "/api/v1/incidents/"+id+"/"+what, `{"user":"ann"}`); r.code != 200 {
			t.Fatalf("%s: %d %s", what, r.code, r.body)
		}
	}
	h.step(fixedNow)
	if code := po.Acknowledge(t, 0, "iphone"); code != 204 {
		t.Fatalf("callback: %d", code)
	}
	v := h.incident(id)
	if v.Status != "triggered" {
		t.Fatalf("the old emergency's acknowledgement acknowledged the reopened incident: %s by %s", v.Status, v.AcknowledgedBy)
	}
	ignored := false
	for _, e := range v.Timeline {
		ignored = ignored || (e.Type == "ack_ignored" && e.User == "ann")
	}
	if !ignored {
		t.Fatalf("timeline %+v", v.Timeline)
	}

	// An incident raised (reopened) after ann acknowledged it pages her
	// again: that emergency's acknowledgement is applied, the old one's
	// would not be.
	raised := fireLabels(h, "g5", map[string]string{"alertname": "C", "severity": "error"})
	h.step(h.clock.Now())
	if r := h.api("POST", "/api/v1/incidents/"+raised+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
		t.Fatalf("acknowledge: %d %s", r.code, r.body)
	}
	h.step(h.clock.Now())
	if again := fireLabels(h, "g5", map[string]string{"alertname": "C", "severity": "critical"}); again != raised {
		t.Fatalf("raised as another incident %s", again)
	}
	h.step(h.clock.Now())
	ms := po.Messages()
	if len(ms) != 3 || ms[1].Tags != raised || ms[2].Tags != raised || ms[2].Priority != 2 {
		t.Fatalf("messages %+v", ms)
	}
	if code := po.Acknowledge(t, 1, "iphone"); code != 204 {
		t.Fatalf("callback: %d", code)
	}
	if v := h.incident(raised); v.Status != "triggered" {
		t.Fatalf("the page before the raise acknowledged it: %s", v.Status)
	}
	if code := po.Acknowledge(t, 2, "iphone"); code != 204 {
		t.Fatalf("callback: %d", code)
	}
	if v := h.incident(raised); v.Status != "acknowledged" || v.AcknowledgedBy != "ann" {
		t.Fatalf("the page after the raise, acknowledged in the app: %s by %s", v.Status, v.AcknowledgedBy)
	}
}

// TestPushoverEmergencyThatMayHaveBeenSentIsCancelled: Pushover takes
// ann's emergency push but answers after the timeout, so the page is
// recorded notify_failed, "may have been sent", and her phone does alert
// every retry. Once the incident is acknowledged in pagerd, that
// emergency is cancelled like one recorded sent: left alone, her phone
// went on alerting about an acknowledged (or resolved) incident until it
// expired, up to 3 hours.
func TestPushoverEmergencyThatMayHaveBeenSentIsCancelled(t *testing.T) {
	po := providertest.NewPushover(t)
	late := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/1/messages.json" {
			po.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		po.ServeHTTP(rec, r) // taken, then answered too late
		<-r.Context().Done()
	}))
	defer late.Close()
	maybeSentEmergencyIsCancelled(t, po, late.URL)
}

// maybeSentEmergencyIsCancelled pages ann at emergency priority through
// front, a Pushover whose answer does not come whole within the 200 ms
// timeout, and requires the page recorded "may have been sent" and its
// emergency cancelled once she acknowledges in pagerd.
func maybeSentEmergencyIsCancelled(t *testing.T, po *providertest.Pushover, front string) {
	t.Helper()
	cfg := strings.Replace(pushoverConfig(front, "http://127.0.0.1:1"), "retry: 30s, expire: 2h}", "retry: 30s, expire: 2h, timeout: 200ms}", 1)
	h := newHarness(t, withConfig(cfg))
	id := fire(h)
	h.step(fixedNow)
	if ms := po.Messages(); len(ms) != 1 || ms[0].Priority != 2 {
		t.Fatalf("messages %+v", ms)
	}
	if !h.timelineHas(id, "notify_failed", "may have been sent") {
		t.Fatalf("timeline %+v", h.incident(id).Timeline)
	}
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	h.step(fixedNow)
	if c := po.Cancels(); len(c) != 1 || c[0] != id {
		t.Fatalf("cancels %v: the emergency that may have been sent goes on alerting after the acknowledgement", c)
	}
}

// TestPushoverEmergencyWhoseAnswerIsCutIsCancelled: Pushover takes ann's
// emergency push and answers 200, but its answer's body does not arrive
// whole (the connection cut, or stalled past the timeout, after the status
// line). The cut body read as a refusal: recorded notify_failed as a page
// that went nowhere, so the level could escalate as one nobody was reached
// at, the breaker did not count it, and, once the incident was
// acknowledged, the emergency was not cancelled: her phone went on alerting
// every retry about an acknowledged incident. A 2xx whose answer was cut
// may have been sent.
func TestPushoverEmergencyWhoseAnswerIsCutIsCancelled(t *testing.T) {
	po := providertest.NewPushover(t)
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/1/messages.json" {
			po.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		po.ServeHTTP(rec, r) // taken
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(rec.Body.Len()))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes()[:rec.Body.Len()/2])
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the rest never comes
	}))
	defer cut.Close()
	maybeSentEmergencyIsCancelled(t, po, cut.URL)
}

// TestPushoverCallbackRefusedIsWarned: an emergency page sent before a
// reload rotated server.link_secret, acknowledged in the app after it, is
// refused (its token was signed with the old secret), and said at warn:
// before, only the request line at debug said so, while the person
// believed they had acknowledged and pagerd went on paging and
// escalating. Once a minute at most, with the count refused since.
func TestPushoverCallbackRefusedIsWarned(t *testing.T) {
	po := providertest.NewPushover(t)
	cfg := pushoverConfig(po.URL, "http://127.0.0.1:1")
	h := newHarness(t, withConfig(cfg))
	id := fire(h)
	h.step(fixedNow)
	if ms := po.Messages(); len(ms) != 1 {
		t.Fatalf("messages %+v", ms)
	}
	if err := h.reload(strings.Replace(cfg, "pushover-test-link-secret-0123456789", "pushover-rotated-link-secret-987654", 1)); err != nil {
		t.Fatal(err)
	}
	const msg = "pushover: a receipt callback was refused (403)"
	warned := func() []string { return h.logLines("WARN", msg) }
	for range 2 {
		if code := po.Acknowledge(t, 0, "iphone"); code != 403 {
			t.Fatalf("the app's callback signed with the secret before the rotation: %d, want 403", code)
		}
	}
	if st := h.incident(id).Status; st != "triggered" {
		t.Fatalf("a refused callback changed the incident: %s", st)
	}
	if got := warned(); len(got) != 1 {
		t.Fatalf("%d warnings for 2 refused callbacks within a minute, want 1:\n%s", len(got), h.logs.String())
	}
	// The callback's token acknowledges the incident: never in the log.
	tok := po.Messages()[0].Callback
	tok = tok[strings.LastIndex(tok, "/")+1:]
	if tok == "" || strings.Contains(h.logs.String(), tok) {
		t.Fatalf("the log holds the callback's token %q:\n%s", tok, h.logs.String())
	}
	h.clock.Set(fixedNow.Add(time.Minute))
	if code := po.Acknowledge(t, 0, "iphone"); code != 403 {
		t.Fatalf("callback: %d", code)
	}
	if got := warned(); len(got) != 2 || !strings.Contains(got[1], `"refused_since_last_warning":1`) {
		t.Fatalf("a minute later: %v, want a second warning counting the one refused since", got)
	}
}
