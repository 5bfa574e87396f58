package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/acklink"
	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/pagerduty"
	"github.com/pagerd/pagerd/notify/twilio"
	"github.com/pagerd/pagerd/policy"
)

const webKey = "web-key-0123456789abcdef012345678"

// stormConfig pages ann for service api and bob for service web, with the
// default storm bundling (10s window, 3 pages at once) and ack links.
const stormConfig = `
api:
  tokens: [{name: ops, token: ` + apiToken + `}]
server:
  public_url: https://pagerd.example.com
  link_secret: 0123456789abcdef0123456789abcdef
users:
  - {id: ann, name: Ann, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}
  - {id: bob, name: Bob, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: primary, start: 2025-01-06, members: [ann]}
      - {name: web, start: 2025-01-06, members: [bob]}
escalation_policies:
  - name: p
    levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]
  - name: w
    levels: [{name: web, targets: [{schedule: s, tier: web}]}]
services:
  - name: api
    priority_scheme: P0-P3
    escalation_policy: p
    integrations: {alertmanager_key: ` + amKey + `}
  - name: web
    priority_scheme: P0-P3
    escalation_policy: w
    integrations: {alertmanager_key: ` + webKey + `}
`

// fireAs posts one alert of a service (by its key) and returns its incident.
func fireAs(h *harness, key, group, severity string) string {
	h.t.Helper()
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", group, map[string]string{"alertname": group, "severity": severity}),
		"Authorization", "Bearer "+key)
	if r.code != 200 {
		h.t.Fatalf("webhook: %d %s", r.code, r.body)
	}
	var res struct{ Incidents []string }
	r.json(h.t, &res)
	return res.Incidents[0]
}

// storm fires n critical alerts for ann at the clock's time.
func storm(h *harness, n int, prefix string) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fireAs(h, amKey, fmt.Sprintf("%s%02d", prefix, i), "critical")
	}
	return ids
}

// sentTo returns the messages a person got on a channel, in order.
func (r *recorder) sentTo(user, channel string) []notify.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []notify.Message
	for _, m := range r.msgs {
		if m.User == user && m.Channel == channel {
			out = append(out, m)
		}
	}
	return out
}

// split tells the incidents whose page went out at once (the first three
// messages, which claim order picks among incidents due at one instant)
// from those held for the bundle, in ids' order.
func split(t testing.TB, ids []string, msgs []notify.Message) (atOnce, held []string) {
	t.Helper()
	if len(msgs) < 3 {
		t.Fatalf("%d messages, want at least 3 sent at once", len(msgs))
	}
	first := map[string]bool{}
	for _, m := range msgs[:3] {
		first[m.Incident] = true
	}
	for _, id := range ids {
		if first[id] {
			atOnce = append(atOnce, id)
		} else {
			held = append(held, id)
		}
	}
	if len(atOnce) != 3 {
		t.Fatalf("the first three messages are not three of the storm's incidents: %v", msgs[:3])
	}
	return atOnce, held
}

// sameSet compares two lists of ids as sets.
func sameSet(a, b []string) bool {
	x, y := append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(x)
	sort.Strings(y)
	return strings.Join(x, ",") == strings.Join(y, ",")
}

func timeline(h *harness, id string) []store.Entry {
	h.t.Helper()
	var v incidentView
	h.api("GET", "/api/v1/incidents/"+id, "").json(h.t, &v)
	return v.Timeline
}

func entriesOf(tl []store.Entry, typ, channel string) []store.Entry {
	var out []store.Entry
	for _, e := range tl {
		if e.Type == typ && e.Channel == channel {
			out = append(out, e)
		}
	}
	return out
}

// TestStormBundling: twenty incidents page ann at once. Her first three
// pushes go out at once, the other seventeen are held (no worker, no
// claim) while bob's page a second later goes out at once, and when the
// window closes one message names all seventeen, with one link for all of
// them; every incident's timeline says when and how its page went out.
// Two minutes later their SMS steps fold the same way.
func TestStormBundling(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(stormConfig))
			ids := storm(h, 20, "g")
			h.step(fixedNow)
			if got := len(h.rec.sentTo("ann", "push")); got != 3 {
				t.Fatalf("ann got %d pushes at once, want 3", got)
			}
			atOnce, held := split(t, ids, h.rec.sentTo("ann", "push"))
			for _, id := range held {
				held := entriesOf(timeline(h, id), "notify_held", "push")
				if len(held) != 1 || !strings.Contains(held[0].Detail, "at 2025-09-10T06:00:10Z") {
					t.Fatalf("%s: held entries %+v", id, held)
				}
			}
			// Nothing is claimed while the pages wait: the next thing due is
			// the storm's window end.
			if at, ok, _ := h.store.NextDue(context.Background()); !ok || !at.Equal(fixedNow.Add(10*time.Second)) {
				t.Fatalf("next due %v %v, want the window's end", at, ok)
			}
			bobID := fireAs(h, webKey, "other", "critical")
			h.step(fixedNow.Add(time.Second))
			if got := h.rec.sentTo("bob", "push"); len(got) != 1 || got[0].Incident != bobID {
				t.Fatalf("bob's page during ann's storm: %+v", got)
			}
			h.step(fixedNow.Add(10 * time.Second))
			push := h.rec.sentTo("ann", "push")
			if len(push) != 4 {
				t.Fatalf("ann got %d pushes, want 3 and one bundle", len(push))
			}
			b := push[3]
			if !store.IsBundleID(b.Incident) || len(b.Incidents) != 17 || !sameSet(b.Incidents, held) || !b.At.Equal(fixedNow.Add(10*time.Second)) {
				t.Fatalf("bundle %s at %v carries %v, want %v", b.Incident, b.At, b.Incidents, held)
			}
			if !strings.HasPrefix(b.Text, "[P0] 17 incidents (alert storm): 17 P0. [P0] api: disk almost full") ||
				!strings.Contains(b.Text, "; and 12 more.") || !strings.Contains(b.Text, "Ack all: https://pagerd.example.com/ack/") || b.AckURL == "" {
				t.Fatalf("bundle text %q", b.Text)
			}
			for _, id := range held {
				sent := entriesOf(timeline(h, id), "notify", "push")
				if len(sent) != 1 || sent[0].Bundle != b.Incident || !sent[0].At.Equal(fixedNow.Add(10*time.Second)) ||
					sent[0].Detail != "via log, in one message for 17 incidents (alert storm)" {
					t.Fatalf("%s: sent entries %+v", id, sent)
				}
			}
			for _, id := range atOnce {
				if sent := entriesOf(timeline(h, id), "notify", "push"); len(sent) != 1 || sent[0].Bundle != "" || !sent[0].At.Equal(fixedNow) {
					t.Fatalf("%s: sent entries %+v", id, sent)
				}
			}
			// The SMS steps of all twenty come due together at 2m: three at
			// once, one message for the rest when the window closes.
			h.runUntil(fixedNow.Add(2*time.Minute + 10*time.Second))
			sms := h.rec.sentTo("ann", "sms")
			if len(sms) != 4 || len(sms[3].Incidents) != 17 || !sms[3].At.Equal(fixedNow.Add(2*time.Minute+10*time.Second)) {
				t.Fatalf("ann's SMS: %d messages, last %+v", len(sms), sms[len(sms)-1])
			}
		})
	}
}

// TestStormMoreUrgentGoesOutAtOnce: in a storm of P2 pages, a P0 goes out at
// once; a second P0 in the same window waits with the rest, and the bundle
// leads with the most urgent.
func TestStormMoreUrgentGoesOutAtOnce(t *testing.T) {
	h := newHarness(t, withConfig(stormConfig))
	for i := 0; i < 5; i++ {
		fireAs(h, amKey, fmt.Sprintf("warn%d", i), "warning")
	}
	h.step(fixedNow)
	p0 := fireAs(h, amKey, "crit", "critical")
	h.step(fixedNow.Add(time.Second))
	push := h.rec.sentTo("ann", "push")
	if len(push) != 4 || push[3].Incident != p0 || push[3].Priority != "P0" {
		t.Fatalf("pushes %d, last %+v: the P0 was held", len(push), push[len(push)-1])
	}
	p0b := fireAs(h, amKey, "crit2", "critical")
	h.step(fixedNow.Add(2 * time.Second))
	if len(h.rec.sentTo("ann", "push")) != 4 {
		t.Fatal("a second P0 in the window went out at once")
	}
	h.step(fixedNow.Add(10 * time.Second))
	push = h.rec.sentTo("ann", "push")
	if len(push) != 5 || !strings.HasPrefix(push[4].Text, "[P0] 3 incidents (alert storm): 1 P0, 2 P2. [P0] api: disk almost full (incident "+p0b+")") {
		t.Fatalf("bundle %q", push[len(push)-1].Text)
	}
	if push[4].Priority != "P0" {
		t.Fatalf("bundle priority %s", push[4].Priority)
	}
}

// TestStormMessageIsHighWhenAnyPageInItIs: a storm message carries the
// urgency of its most urgent priority's page, unless another page it
// carries is on the high ladder: here P1 is low urgency and P3 high, and
// a message with a P1 and a P3 page must go out high (PagerDuty's
// critical, the loud push), not quietened by the P1.
func TestStormMessageIsHighWhenAnyPageInItIs(t *testing.T) {
	cfg := strings.Replace(stormConfig, "    escalation_policy: p\n", "    escalation_policy: p\n    targets: {P1: {urgency: low}}\n", 1)
	h := newHarness(t, withConfig(cfg))
	for i := 0; i < 4; i++ {
		fireAs(h, amKey, fmt.Sprintf("err%d", i), "error")
	}
	h.step(fixedNow)
	fireAs(h, amKey, "info", "info")
	h.step(fixedNow.Add(time.Second))
	push := h.rec.sentTo("ann", "push")
	if len(push) != 3 {
		t.Fatalf("%d pushes at once, want 3", len(push))
	}
	for _, m := range push {
		if m.Priority != "P1" || m.Urgency != policy.UrgencyLow {
			t.Fatalf("page %s %s: want the P1s on the low ladder", m.Priority, m.Urgency)
		}
	}
	h.step(fixedNow.Add(10 * time.Second))
	push = h.rec.sentTo("ann", "push")
	if len(push) != 4 || !strings.Contains(push[3].Text, "2 incidents (alert storm): 1 P1, 1 P3") {
		t.Fatalf("%d pushes, last %q: want the storm message with the P1 and the P3", len(push), push[len(push)-1].Text)
	}
	if push[3].Priority != "P1" || push[3].Urgency != policy.UrgencyHigh {
		t.Fatalf("storm message %s %s: want P1, high (the P3 page in it is high)", push[3].Priority, push[3].Urgency)
	}
}

// TestStormNewP0LaterInALongStormGoesOutAtOnce: in ann's long storm of P3
// pages, a P0 went out at once in the first window; the windows after it
// sent only P3 storm messages. A new P0 outage in the third window is more
// urgent than everything sent in that window, and goes out at once; it was
// held to the window's end because the first window's P0 was carried from
// window to window for as long as the storm lasted. A second P0 in that
// window is held: a flood of P0s is still bundled.
func TestStormNewP0LaterInALongStormGoesOutAtOnce(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(stormConfig))
			for i := 0; i < 5; i++ {
				fireAs(h, amKey, fmt.Sprintf("info%d", i), "info")
			}
			h.step(fixedNow)
			fireAs(h, amKey, "crit-early", "critical")
			h.step(fixedNow.Add(time.Second))
			if p := h.rec.sentTo("ann", "push"); len(p) != 4 || p[3].Priority != "P0" {
				t.Fatalf("%d pushes: the first P0 did not go out at once", len(p))
			}
			// The storm goes on: windows 2 and 3 send P3 storm messages.
			fireAs(h, amKey, "info-a", "info")
			h.step(fixedNow.Add(5 * time.Second))
			h.step(fixedNow.Add(10 * time.Second))
			fireAs(h, amKey, "info-b", "info")
			h.step(fixedNow.Add(15 * time.Second))
			h.step(fixedNow.Add(20 * time.Second))
			before := len(h.rec.sentTo("ann", "push"))
			p0 := fireAs(h, amKey, "crit-late", "critical")
			h.step(fixedNow.Add(21 * time.Second))
			push := h.rec.sentTo("ann", "push")
			if len(push) != before+1 || push[before].Incident != p0 {
				t.Fatalf("the new P0 at +21s was not paged at once (%d pushes, %d before): %+v", len(push), before,
					entriesOf(timeline(h, p0), "notify_held", "push"))
			}
			p0b := fireAs(h, amKey, "crit-later", "critical")
			h.step(fixedNow.Add(22 * time.Second))
			if len(h.rec.sentTo("ann", "push")) != before+1 {
				t.Fatal("a second P0 in the window went out at once")
			}
			h.step(fixedNow.Add(30 * time.Second))
			push = h.rec.sentTo("ann", "push")
			if got := mentions(push, p0b); len(got) != 1 || !store.IsBundleID(got[0].Incident) {
				t.Fatalf("the second P0's pushes %+v, want it in the window's storm message", got)
			}
		})
	}
}

// TestStormLeavesOutWhatWasAcknowledged: incidents acknowledged while their
// page waited are not in the bundle, the message says which, and their
// timelines record no page; the others' pages go on.
func TestStormLeavesOutWhatWasAcknowledged(t *testing.T) {
	h := newHarness(t, withConfig(stormConfig))
	ids := storm(h, 8, "g")
	h.step(fixedNow)
	_, held := split(t, ids, h.rec.sentTo("ann", "push"))
	for _, id := range held[:2] {
		if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"bob"}`); r.code != 200 {
			t.Fatalf("ack: %d %s", r.code, r.body)
		}
	}
	h.step(fixedNow.Add(10 * time.Second))
	push := h.rec.sentTo("ann", "push")
	if len(push) != 4 || !sameSet(push[3].Incidents, held[2:]) {
		t.Fatalf("bundle carries %v, want %v", push[len(push)-1].Incidents, held[2:])
	}
	gone := push[3].Text[strings.Index(push[3].Text, "Not included, acknowledged or resolved meanwhile: ")+50:]
	gone = gone[:strings.Index(gone, ".")]
	if !sameSet(strings.Split(gone, ", "), held[:2]) {
		t.Fatalf("bundle text %q does not name %v as left out", push[3].Text, held[:2])
	}
	for _, id := range held[:2] {
		if sent := entriesOf(timeline(h, id), "notify", "push"); len(sent) != 0 {
			t.Fatalf("%s was acknowledged before the bundle, yet records a page: %+v", id, sent)
		}
	}
}

// stormLink returns the path of a message's ack link on the test server.
func stormLink(t *testing.T, m notify.Message) string {
	t.Helper()
	u, err := url.Parse(m.AckURL)
	if err != nil || !strings.HasPrefix(u.Path, "/ack/") {
		t.Fatalf("ack link %q", m.AckURL)
	}
	return u.Path
}

// TestStormAckLinkActsOnTheBundle: the bundle's link shows its incidents
// and acknowledges all of them as the person it was sent to, which stops
// their SMS; the three pages sent on their own are untouched and their SMS
// goes out. Someone else's link to the bundle acts on nothing.
func TestStormAckLinkActsOnTheBundle(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(stormConfig))
			ids := storm(h, 12, "g")
			h.step(fixedNow)
			atOnce, held := split(t, ids, h.rec.sentTo("ann", "push"))
			if r := h.api("POST", "/api/v1/incidents/"+held[8]+"/resolve", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("resolve: %d", r.code)
			}
			h.step(fixedNow.Add(10 * time.Second))
			bundle := h.rec.sentTo("ann", "push")[3]
			link := stormLink(t, bundle)
			page := h.do("GET", link, "")
			if page.code != 200 || !strings.Contains(page.body, "8 incidents, the most urgent P0 on api: disk almost full") ||
				!strings.Contains(page.body, "8 still unacknowledged") || !strings.Contains(page.body, "Acknowledge all") {
				t.Fatalf("bundle page: %d %s", page.code, page.body)
			}
			// Someone acknowledges one of them first.
			if r := h.api("POST", "/api/v1/incidents/"+held[0]+"/acknowledge", `{"user":"bob"}`); r.code != 200 {
				t.Fatalf("ack: %d", r.code)
			}
			bobLink := "/ack/" + acklink.Sign(h.config().Server.LinkSecret, bundle.Incident, "bob", fixedNow.Add(time.Hour))
			if r := h.do("POST", bobLink+"/acknowledge", ""); r.code != 403 {
				t.Fatalf("bob's link to ann's bundle: %d %s", r.code, r.body)
			}
			r := h.do("POST", link+"/acknowledge", "")
			if r.code != 200 || !strings.Contains(r.body, "Acknowledged 7 of 8 incidents; 1 already acknowledged by Bob.") {
				t.Fatalf("acknowledge all: %d %s", r.code, r.body)
			}
			for i, id := range append(atOnce, held...) {
				var v incidentView
				h.api("GET", "/api/v1/incidents/"+id, "").json(t, &v)
				want, by := "acknowledged", "ann"
				switch {
				case i < 3:
					want, by = "triggered", ""
				case i == 3:
					by = "bob"
				case i == 11:
					want, by = "resolved", ""
				}
				if string(v.Status) != want || v.AcknowledgedBy != by {
					t.Fatalf("incident %d: %s by %q, want %s by %q", i, v.Status, v.AcknowledgedBy, want, by)
				}
			}
			h.runUntil(fixedNow.Add(3 * time.Minute))
			sms := h.rec.sentTo("ann", "sms")
			var got []string
			for _, m := range sms {
				got = append(got, m.Incident)
			}
			if !sameSet(got, atOnce) {
				t.Fatalf("SMS after the bundle ack went to %v, want only the three sent on their own %v", got, atOnce)
			}
			r = h.do("POST", link+"/resolve", "")
			if r.code != 200 || !strings.Contains(r.body, "Resolved 8 of 8 incidents.") {
				t.Fatalf("resolve all: %d %s", r.code, r.body)
			}
		})
	}
}

// annSMSByTwilio is cfg with ann's SMS (and her calls, with calls) sent
// through Twilio's fake at twilioURL, and the harness's public URL.
func annSMSByTwilio(cfg, twilioURL string, calls bool) string {
	voice := "log"
	if calls {
		voice = `twilio, address: "+15555550111"`
	}
	cfg = strings.Replace(cfg, `{id: ann, name: Ann, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}`,
		`{id: ann, name: Ann, contacts: [{channel: push, via: log}, {channel: sms, via: twilio, address: "+15555550111"}, {channel: voice, via: `+voice+`}]}`, 1)
	cfg = strings.Replace(cfg, "https://pagerd.example.com", harnessURL, 1)
	return cfg + "notifiers:\n  twilio: {account_sid: " + twSID + ", auth_token: " + twToken + ", from: \"" + twFrom + "\", api_url: " + twilioURL + "}\n"
}

// TestStormSMSReplyAndKeypressActOnTheBundle: the storm's SMS goes through
// Twilio with the bundle's reply code, and "4" acknowledges every incident
// in it; the storm's call reads the bundle out and 4 acknowledges all of
// it; the call's delivery report lands in every incident's timeline.
func TestStormSMSReplyAndKeypressActOnTheBundle(t *testing.T) {
	fake := providertest.NewTwilio(t)
	cfgText := annSMSByTwilio(stormConfig, fake.URL, true)
	h := newHarness(t, withConfig(cfgText), realTransport("twilio"))
	smsIDs := storm(h, 10, "s")
	h.runUntil(fixedNow.Add(2*time.Minute + 10*time.Second))
	if len(fake.Messages()) != 4 {
		t.Fatalf("Twilio got %d SMS, want 3 and one bundle", len(fake.Messages()))
	}
	body := fake.Messages()[3].Get("Body")
	var atOnce []string
	for _, m := range fake.Messages()[:3] {
		cb, _ := url.Parse(m.Get("StatusCallback"))
		atOnce = append(atOnce, cb.Query().Get("incident"))
	}
	if !strings.HasPrefix(body, "[P0] 7 incidents (alert storm)") || !strings.Contains(body, "Reply 4 to ack") {
		t.Fatalf("storm SMS %q", body)
	}
	code := body[strings.LastIndex(body, "(code ")+6 : strings.LastIndex(body, ")")]
	text := func(body string) string {
		form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {body}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
		_, out := fake.Callback(t, h.url+"/api/v1/twilio/sms", form)
		return out
	}
	if out := text("4 " + code); !strings.Contains(out, "pagerd: Acknowledged 7 of 7 incidents (code "+code+")") {
		t.Fatalf("reply to the storm SMS: %s", out)
	}
	checkAcked(t, h, smsIDs, atOnce)

	// The call: a second storm, left unacknowledged until its voice steps.
	callIDs := storm(h, 10, "c")
	start := h.clock.Now()
	h.runUntil(start.Add(5*time.Minute + 10*time.Second))
	calls := append([]url.Values(nil), fake.Calls()...)
	var bundleCall url.Values
	for _, c := range calls {
		u, _ := url.Parse(c.Get("Url"))
		if store.IsBundleID(u.Query().Get("incident")) && strings.HasPrefix(u.Query().Get("incident"), "b") {
			bundleCall = c
		}
	}
	if bundleCall == nil {
		t.Fatalf("no storm call among %d calls", len(calls))
	}
	_, say := fake.Callback(t, bundleCall.Get("Url"), url.Values{"CallSid": {"CA9"}, "AnsweredBy": {"human"}})
	if !strings.Contains(say, "alert storm: 7 incidents, 7 of them not acknowledged. The most urgent, P 0, on api: disk almost full") {
		t.Fatalf("the storm call says: %s", say)
	}
	gather := h.url + "/api/v1/twilio/voice/gather?" + strings.SplitN(bundleCall.Get("Url"), "?", 2)[1]
	if _, out := fake.Callback(t, gather, url.Values{"Digits": {"4"}}); !strings.Contains(out, "Acknowledged 7 of 7 incidents.") {
		t.Fatalf("4 on the storm call: %s", out)
	}
	acked := 0
	for _, id := range callIDs {
		var v incidentView
		h.api("GET", "/api/v1/incidents/"+id, "").json(t, &v)
		if v.Status == "acknowledged" && v.AcknowledgedBy == "ann" {
			acked++
		}
	}
	if acked != 7 {
		t.Fatalf("%d of the storm's incidents acknowledged by the keypress, want 7", acked)
	}
	status, _ := url.Parse(bundleCall.Get("StatusCallback"))
	if code, _ := fake.Callback(t, h.url+status.RequestURI(), url.Values{"CallSid": {"CA9"}, "CallStatus": {"completed"}}); code != 204 {
		t.Fatalf("status callback: %d", code)
	}
	cb, _ := url.Parse(bundleCall.Get("Url"))
	b, err := h.store.GetBundle(context.Background(), cb.Query().Get("incident"))
	if err != nil || len(b.Incidents) != 7 {
		t.Fatalf("the call's bundle: %+v %v", b, err)
	}
	for _, id := range b.Incidents {
		if d := entriesOf(timeline(h, id), "delivery", "voice"); len(d) != 1 || d[0].Detail != "completed" {
			t.Fatalf("%s: delivery entries %+v", id, d)
		}
	}
}

// TestStormSMSReplyEscalateTwiceEscalatesOnce: a "5" to a storm message
// escalates each of its incidents from the level its page in the message
// was for, once: resent, it escalates none of them again.
func TestStormSMSReplyEscalateTwiceEscalatesOnce(t *testing.T) {
	fake := providertest.NewTwilio(t)
	cfgText := annSMSByTwilio(stormConfig, fake.URL, false)
	cfgText = strings.Replace(cfgText, `levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]`, `levels:
      - {name: primary, targets: [{schedule: s, tier: primary}], timeout: 30m}
      - {name: secondary, targets: [{user: bob}], timeout: 30m}
      - {name: tertiary, targets: [{user: bob}], timeout: 30m}`, 1)
	h := newHarness(t, withConfig(cfgText), realTransport("twilio"))
	storm(h, 10, "s")
	h.runUntil(fixedNow.Add(2*time.Minute + 10*time.Second))
	if len(fake.Messages()) != 4 {
		t.Fatalf("Twilio got %d SMS, want 3 and one bundle", len(fake.Messages()))
	}
	body := fake.Messages()[3].Get("Body")
	code := body[strings.LastIndex(body, "(code ")+6 : strings.LastIndex(body, ")")]
	form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {"5 " + code}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
	h.runUntil(fixedNow.Add(2*time.Minute + 30*time.Second))
	if _, out := fake.Callback(t, h.url+"/api/v1/twilio/sms", form); !strings.Contains(out, "pagerd: Escalated 7 of 7 incidents") {
		t.Fatalf("the first 5: %s", out)
	}
	h.runUntil(fixedNow.Add(3 * time.Minute))
	form.Set("MessageSid", providertest.ReplySID()) // sent again: another message
	if _, out := fake.Callback(t, h.url+"/api/v1/twilio/sms", form); !strings.Contains(out, "pagerd: Escalated 0 of 7 incidents; 7 already escalated") {
		t.Fatalf("the second 5: %s", out)
	}
	cb, _ := url.Parse(fake.Messages()[3].Get("StatusCallback"))
	b, err := h.store.GetBundle(context.Background(), cb.Query().Get("incident"))
	if err != nil || len(b.Incidents) != 7 {
		t.Fatalf("the bundle: %+v %v", b, err)
	}
	for _, id := range b.Incidents {
		if v := h.incident(id); v.LevelName != "secondary" {
			t.Fatalf("%s after two 5s: level %d (%s), want secondary", id, v.Level, v.LevelName)
		}
	}
}

// TestStormPagerDutyActsOnTheBundle: the storm's push goes to PagerDuty as
// one event whose dedup key names the bundle; PagerDuty's webhook
// acknowledging it acknowledges every incident in it.
func TestStormPagerDutyActsOnTheBundle(t *testing.T) {
	fake := providertest.NewPagerDuty(t)
	h := newHarness(t, withConfig(pagerDutyAt(fake)), realTransport("pagerduty"))
	ids := storm(h, 6, "g")
	h.step(fixedNow)
	h.step(fixedNow.Add(10 * time.Second))
	if len(fake.Events()) != 4 {
		t.Fatalf("PagerDuty got %d events, want 3 and one bundle", len(fake.Events()))
	}
	key := fake.Events()[3].DedupKey
	bundle, user, _, ok := pagerduty.ParseDedupKey(key)
	if !ok || user != "carol" || !store.IsBundleID(bundle) {
		t.Fatalf("bundle event dedup key %q", key)
	}
	body := `{"event":{"id":"01ABC","event_type":"incident.acknowledged","agent":{"summary":"Carol"},"data":{"id":"Q1","type":"incident","incident_key":"` + key + `"}}}`
	if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, body); code != 204 {
		t.Fatalf("webhook: %d %s", code, out)
	}
	checkAcked(t, h, ids, ids3(fake))
}

// ids3 is the incidents of the first three PagerDuty events.
func ids3(f *providertest.PagerDuty) []string {
	var out []string
	for _, ev := range f.Events()[:3] {
		id, _, _, _ := pagerduty.ParseDedupKey(ev.DedupKey)
		out = append(out, id)
	}
	return out
}

// checkAcked: every incident but those paged at once is acknowledged (by
// acting on the bundle), and those are still triggered.
func checkAcked(t *testing.T, h *harness, ids, atOnce []string) {
	t.Helper()
	for _, id := range ids {
		var v incidentView
		h.api("GET", "/api/v1/incidents/"+id, "").json(t, &v)
		want := policy.StatusAcknowledged
		if slices.Contains(atOnce, id) {
			want = policy.StatusTriggered
		}
		if v.Status != want {
			t.Fatalf("incident %s: %s, want %s", id, v.Status, want)
		}
	}
}

// stuckTransport holds one person's messages until released and counts
// how many are stuck; everyone else's go through at once.
type stuckTransport struct {
	recorder
	user    string
	release chan struct{}
	mu      sync.Mutex
	stuck   int
}

func (s *stuckTransport) Notify(ctx context.Context, m notify.Message) error {
	if m.User == s.user {
		s.mu.Lock()
		s.stuck++
		s.mu.Unlock()
		select {
		case <-s.release:
		case <-ctx.Done():
			return notify.Temporary(ctx.Err())
		}
	}
	return s.recorder.Notify(ctx, m)
}

func (s *stuckTransport) stuckNow() int { s.mu.Lock(); defer s.mu.Unlock(); return s.stuck }

// TestStormHoldsNobodyElse: ann's provider hangs and ten thousand of her
// pages are held in a storm. Bob's pages, and his own storm's message,
// still go out while all of it is stuck: held pages take no worker, and
// ann's hung sends take only the workers they are in.
func TestStormHoldsNobodyElse(t *testing.T) {
	st, _ := redisStore(t)
	h := newHarness(t, withStore(st), withConfig(stormConfig), replicas(0))
	slow := &stuckTransport{user: "ann", release: make(chan struct{})}
	d, reg := h.dispatcher(func(o *dispatch.Options) {
		o.Notifiers = map[string]notify.Notifier{"log": slow}
		o.Workers, o.SendTimeout = 16, time.Minute
	})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = d.Run(ctx) }()
	defer func() { cancel(); <-ran }()
	defer close(slow.release)

	const n = 10000
	cfg := h.config()
	svc := cfg.Service("api")
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			if _, _, err := h.d.Incidents().Trigger(context.Background(), cfg, incident.Alert{Service: svc, DedupKey: fmt.Sprintf("storm-%05d", i),
				Source: "test", Labels: []map[string]string{{"severity": "critical"}}, Summary: fmt.Sprintf("storm %d", i)}); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	d.Wake()
	waitUntil(t, 2*time.Minute, "ann's pages to be sent or held", func() bool {
		return metric(t, reg, "pagerd_pages_total", "channel", "push", "via", "log", "result", "held") == n-3 && slow.stuckNow() == 3
	})
	// The window closes: the bundle's send hangs too.
	h.clock.Set(fixedNow.Add(10 * time.Second))
	d.Wake()
	waitUntil(t, time.Minute, "the storm message to be sent", func() bool { return slow.stuckNow() == 4 })
	for i := 0; i < 10; i++ {
		fireAs(h, webKey, fmt.Sprintf("bob%d", i), "critical")
	}
	d.Wake()
	// Bob's own burst: three at once, and his storm's message at the end
	// of his window, while ann's is still stuck.
	waitUntil(t, 30*time.Second, "bob's first three pages, and his other seven held", func() bool {
		return len(slow.sentTo("bob", "push")) == 3 &&
			metric(t, reg, "pagerd_pages_total", "channel", "push", "via", "log", "result", "held") == n-3+7
	})
	h.clock.Set(fixedNow.Add(20 * time.Second))
	d.Wake()
	waitUntil(t, 30*time.Second, "bob's storm message", func() bool {
		p := slow.sentTo("bob", "push")
		return len(p) == 4 && len(p[3].Incidents) == 7
	})
	if got := slow.stuckNow(); got != 4 {
		t.Fatalf("%d of ann's messages went to her provider, want 3 and one bundle", got)
	}
	if got := len(slow.sentTo("ann", "push")); got != 0 {
		t.Fatalf("ann's stuck provider delivered %d", got)
	}
}

// turnCounter is a store that counts how many storm flushes' bulk calls
// run at once, each taking a while (as thousands of held pages do).
type turnCounter struct {
	store.Store
	in, most, calls atomic.Int32
}

func (c *turnCounter) enter() func() {
	n := c.in.Add(1)
	for {
		m := c.most.Load()
		if n <= m || c.most.CompareAndSwap(m, n) {
			break
		}
	}
	c.calls.Add(1)
	time.Sleep(20 * time.Millisecond)
	return func() { c.in.Add(-1) }
}

func (c *turnCounter) Held(ctx context.Context, key string) ([]store.HeldPage, error) {
	defer c.enter()()
	return c.Store.Held(ctx, key)
}

func (c *turnCounter) Statuses(ctx context.Context, ids []string) (map[string]policy.Status, error) {
	defer c.enter()()
	return c.Store.Statuses(ctx, ids)
}

func (c *turnCounter) PutBundle(ctx context.Context, b *store.Bundle, ttl time.Duration) error {
	defer c.enter()()
	return c.Store.PutBundle(ctx, b, ttl)
}

func (c *turnCounter) Note(ctx context.Context, entries map[string][]store.Entry) error {
	defer c.enter()()
	return c.Store.Note(ctx, entries)
}

// TestStormFlushesTakeTurns: storms whose windows close together (ann's
// and bob's) are flushed together, but their bulk store calls (held pages,
// statuses, bundle, notes) run one at a time: a flood's storms all closing
// at once took a core from the alerts coming in (see inTurn). Both
// messages go out, each with its held pages.
func TestStormFlushesTakeTurns(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := &turnCounter{Store: mk(t)}
			h := newHarness(t, withStore(st), withConfig(stormConfig))
			for i := range 5 {
				fireAs(h, amKey, fmt.Sprintf("ann%d", i), "critical")
				fireAs(h, webKey, fmt.Sprintf("bob%d", i), "critical")
			}
			h.step(fixedNow)
			if a, b := len(h.rec.sentTo("ann", "push")), len(h.rec.sentTo("bob", "push")); a != 3 || b != 3 {
				t.Fatalf("pushes at once: ann %d, bob %d, want 3 each", a, b)
			}
			st.calls.Store(0)
			st.most.Store(0)
			h.step(fixedNow.Add(10 * time.Second))
			for _, u := range []string{"ann", "bob"} {
				if p := h.rec.sentTo(u, "push"); len(p) != 4 || len(p[3].Incidents) != 2 {
					t.Fatalf("%s's pushes %+v, want 3 and a message for the 2 held", u, p)
				}
			}
			if n := st.calls.Load(); n < 8 {
				t.Fatalf("%d bulk store calls for two storms' flushes, want at least 8", n)
			}
			if m := st.most.Load(); m != 1 {
				t.Fatalf("%d storm flushes' bulk store calls ran at once, want one at a time", m)
			}
		})
	}
}

// TestStormPagerDutyForwardsHeldPages: a page held for an alert-storm
// message through PagerDuty marks its incident as pushed there when it is
// held (the message is recorded in the timelines without a write of the
// incidents), so resolving the incidents in pagerd resolves the bundle's
// PagerDuty alert once all of them are resolved.
func TestStormPagerDutyForwardsHeldPages(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake, h, ids, key := stormToPagerDuty(t, mk(t))
			// Each held incident's resolve finds the bundle settled when
			// they are all resolved at once; PagerDuty takes the repeats
			// as one.
			resolved := resolveAll(h, fake, ids)
			if !slices.Contains(resolved, key) || len(resolved) != 4 {
				t.Fatalf("PagerDuty got resolves for %v, want the three pushed alone and the bundle %s", resolved, key)
			}
		})
	}
}

// stormToPagerDuty starts a daemon on st that pushes carol's pages through
// a fake PagerDuty, and fires six incidents for her: three pushed at once,
// three in one storm message, whose dedup key it returns.
func stormToPagerDuty(t *testing.T, st store.Store) (*providertest.PagerDuty, *harness, []string, string) {
	t.Helper()
	fake := providertest.NewPagerDuty(t)
	h := newHarness(t, withStore(st), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"))
	ids := storm(h, 6, "g")
	h.step(fixedNow)
	h.step(fixedNow.Add(10 * time.Second))
	if len(fake.Events()) != 4 {
		t.Fatalf("PagerDuty got %d events, want 3 and one bundle", len(fake.Events()))
	}
	return fake, h, ids, fake.Events()[3].DedupKey
}

// TestStormMessageSwitchedToPagerDutyForwardsTheResolve: pages held while
// the person's contact was not PagerDuty, sent in a storm message after a
// reload switched it to PagerDuty, mark their incidents as pushed there,
// so resolving them resolves the message's incident in PagerDuty. (Before:
// only a hold through a PagerDuty contact marked the incident, and
// PagerDuty's incident stayed open until closed by hand.)
func TestStormMessageSwitchedToPagerDutyForwardsTheResolve(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewPagerDuty(t)
			viaPD := pagerDutyAt(fake)
			viaLog := strings.Replace(viaPD, "{channel: push, via: pagerduty, address: "+pdUserKey+"}", "{channel: push, via: log}", 1)
			if viaLog == viaPD {
				t.Fatal("the config has no PagerDuty push contact to switch")
			}
			h := newHarness(t, withStore(mk(t)), withConfig(viaLog), realTransport("pagerduty"))
			ids := storm(h, 6, "g")
			h.step(fixedNow) // three pushes on their own, three held
			if n := len(fake.Events()); n != 0 {
				t.Fatalf("PagerDuty got %d events before the switch", n)
			}
			if err := h.reload(viaPD); err != nil {
				t.Fatal(err)
			}
			h.step(fixedNow.Add(10 * time.Second)) // the storm message, now through PagerDuty
			if len(fake.Events()) != 1 {
				t.Fatalf("PagerDuty got %d events, want the storm message", len(fake.Events()))
			}
			key := fake.Events()[0].DedupKey
			if resolved := resolveAll(h, fake, ids); !slices.Equal(resolved, []string{key}) {
				t.Fatalf("PagerDuty got resolves for %v, want the storm message %s alone", resolved, key)
			}
		})
	}
}

// resolveAll resolves the incidents as carol, lets the dispatcher tell
// PagerDuty, and returns the dedup keys PagerDuty got a resolve for, each
// once, in order.
func resolveAll(h *harness, fake *providertest.PagerDuty, ids []string) []string {
	h.t.Helper()
	for _, id := range ids {
		if r := h.api("POST", "/api/v1/incidents/"+id+"/resolve", `{"user":"carol"}`); r.code != 200 {
			h.t.Fatalf("resolve: %d %s", r.code, r.body)
		}
	}
	h.runUntil(h.clock.Now().Add(50 * time.Second))
	var resolved []string
	for _, ev := range fake.Events() {
		if ev.Action == "resolve" && !slices.Contains(resolved, ev.DedupKey) {
			resolved = append(resolved, ev.DedupKey)
		}
	}
	return resolved
}

// updatesAllowed is a store that takes only the next allow Updates once
// limited, and refuses the rest as a full disk does.
type updatesAllowed struct {
	store.Store
	limited atomic.Bool
	allow   atomic.Int64
}

func (u *updatesAllowed) Update(ctx context.Context, inc *store.Incident, tl []store.Entry) error {
	if u.limited.Load() && u.allow.Add(-1) < 0 {
		return errDiskFull
	}
	return u.Store.Update(ctx, inc, tl)
}

// TestStormAckLinkPartlyStoredDoesNotSayNothingStored: the bundle's link
// acknowledges some of its incidents before the store refuses the rest.
// The answer is a 503 (the person tries again), and it must not say that
// nothing was stored: some incidents are acknowledged. It says how many,
// shows the one acknowledged so, and says the rest were not and why
// ("Maybe not recorded" for the whole message left the person unsure
// whether anything was).
func TestStormAckLinkPartlyStoredDoesNotSayNothingStored(t *testing.T) {
	st := &updatesAllowed{Store: boltStore(t)}
	h := newHarness(t, withStore(st), withConfig(stormConfig))
	ids := storm(h, 12, "g")
	h.step(fixedNow)
	_, held := split(t, ids, h.rec.sentTo("ann", "push"))
	h.step(fixedNow.Add(10 * time.Second))
	link := stormLink(t, h.rec.sentTo("ann", "push")[3])
	st.allow.Store(1)
	st.limited.Store(true)
	r := h.do("POST", link+"/acknowledge", "")
	st.limited.Store(false)
	acked := 0
	for _, id := range held {
		if h.incident(id).Status == "acknowledged" {
			acked++
		}
	}
	if acked != 1 {
		t.Fatalf("%d incidents acknowledged, want the 1 the store took: the test does not test what it says", acked)
	}
	if r.code != 503 || strings.Contains(r.body, "nothing was stored") {
		t.Fatalf("1 of %d acknowledged, the answer: %d %s", len(held), r.code, r.body)
	}
	for _, want := range []string{fmt.Sprintf("Acknowledged 1 of %d incidents", len(held)),
		fmt.Sprintf("%d NOT acknowledged (incident ", len(held)-1), "): the incident store is unavailable", "<span class=\"st\">acknowledged</span>"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the answer does not say %q: %s", want, r.body)
		}
	}
}

// TestStormMessageForwardsAnAckThatCameWhileItWasSent: pages held while
// the person's contact was not PagerDuty go out after a reload in a storm
// message through PagerDuty, and the incidents are acknowledged in pagerd
// while that message is on its way. The acknowledgements, written first,
// saw incidents not pushed to PagerDuty and owed it nothing; recording the
// message then owes PagerDuty the acknowledgement (incident.LateForward in
// markPushed), and the dispatcher tells it, so PagerDuty's incident for
// the message stops notifying.
func TestStormMessageForwardsAnAckThatCameWhileItWasSent(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewPagerDuty(t)
			var h *harness
			var held []string
			acked := make(chan error, 1)
			// PagerDuty, with the held incidents acknowledged in pagerd
			// while the storm message is being sent to it.
			pd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				var ev struct {
					Action   string `json:"event_action"`
					DedupKey string `json:"dedup_key"`
				}
				_ = json.Unmarshal(body, &ev)
				if bundle, _, _, ok := pagerduty.ParseDedupKey(ev.DedupKey); ok && ev.Action == "trigger" && store.IsBundleID(bundle) {
					acked <- ackAll(h.url, held)
				}
				r.Body = io.NopCloser(bytes.NewReader(body))
				fake.ServeHTTP(w, r)
			}))
			t.Cleanup(pd.Close)
			viaPD := strings.Replace(pdConfig, "pagerduty: {", "pagerduty: {events_url: "+pd.URL+", ", 1)
			viaLog := strings.Replace(viaPD, "{channel: push, via: pagerduty, address: "+pdUserKey+"}", "{channel: push, via: log}", 1)
			if viaLog == viaPD {
				t.Fatal("the config has no PagerDuty push contact to switch")
			}
			h = newHarness(t, withStore(mk(t)), withConfig(viaLog), realTransport("pagerduty"))
			ids := storm(h, 6, "g")
			h.step(fixedNow) // three pushes on their own, three held
			_, held = split(t, ids, h.rec.sentTo("carol", "push"))
			if err := h.reload(viaPD); err != nil {
				t.Fatal(err)
			}
			h.step(fixedNow.Add(10 * time.Second)) // the storm message, through PagerDuty, then the outbox
			select {
			case err := <-acked:
				if err != nil {
					t.Fatal(err)
				}
			default:
				t.Fatalf("no storm message reached PagerDuty: %d events", len(fake.Events()))
			}
			evs := fake.Events()
			if len(evs) == 0 || evs[0].Action != "trigger" {
				t.Fatalf("PagerDuty events %+v, want the storm message first", evs)
			}
			key := evs[0].DedupKey
			var acks int
			for _, ev := range evs[1:] {
				if ev.Action != "acknowledge" || ev.DedupKey != key {
					t.Fatalf("PagerDuty got %s for %s, want only acknowledgements of the storm message %s", ev.Action, ev.DedupKey, key)
				}
				acks++
			}
			if acks == 0 {
				t.Fatalf("PagerDuty was not told that the storm message's incidents were acknowledged while it was sent: events %d", len(evs))
			}
			for _, id := range held {
				if f := entriesOf(timeline(h, id), "forwarded", ""); len(f) != 1 || !strings.Contains(f[0].Detail, "PagerDuty told of the acknowledge, for carol") {
					t.Errorf("%s: forwarded entries %+v, want one telling PagerDuty of the acknowledge", id, f)
				}
				inc, err := h.store.Get(context.Background(), id)
				if err != nil || inc.NotPushedToPagerDuty || len(inc.Outbox) != 0 {
					t.Errorf("%s after the outbox ran: %+v %v; want marked as pushed to PagerDuty, nothing owed", id, inc, err)
				}
			}
		})
	}
}

// ackAll acknowledges the incidents as carol through the API, from outside
// the test's goroutine (no t.Fatal there).
func ackAll(base string, ids []string) error {
	for _, id := range ids {
		if err := apiPost(base, "/api/v1/incidents/"+id+"/acknowledge", `{"user":"carol"}`); err != nil {
			return err
		}
	}
	return nil
}

// apiPost posts body to the API at path, from outside the test's goroutine
// (no t.Fatal there): an error unless it is answered 200.
func apiPost(base, path, body string) error {
	req, err := http.NewRequest("POST", base+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("POST %s: %d %s", path, resp.StatusCode, b)
	}
	return nil
}

// stormLadderConfig is stormConfig with api's policy on two levels: ann
// (primary), then bob and ann again (web, primary).
var stormLadderConfig = strings.Replace(stormConfig,
	"    levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]\n",
	"    levels:\n      - {name: primary, targets: [{schedule: s, tier: primary}], timeout: 15m}\n"+
		"      - {name: both, targets: [{schedule: s, tier: web}, {schedule: s, tier: primary}]}\n", 1)

// mentions returns the messages among msgs that page for the incident, on
// their own or in a storm message.
func mentions(msgs []notify.Message, id string) []notify.Message {
	var out []notify.Message
	for _, m := range msgs {
		if m.Incident == id || slices.Contains(m.Incidents, id) {
			out = append(out, m)
		}
	}
	return out
}

// TestStormEscalatedWhileHeldPagesEachPersonOnce: an incident whose push
// to ann waits for her storm message is escalated to a level that pages
// bob and ann again. Bob gets his push at once; ann's new push joins her
// held one, and her storm message names the incident once: nobody is
// paged twice for it. A held page of a level escalated past still goes out
// in the message, as the rest of that level's ladder does (escalating adds
// people, it does not stand the first level down): ann has not heard of
// the incident yet.
func TestStormEscalatedWhileHeldPagesEachPersonOnce(t *testing.T) {
	if stormLadderConfig == stormConfig {
		t.Fatal("config edit did not apply")
	}
	h := newHarness(t, withConfig(stormLadderConfig))
	ids := storm(h, 6, "g")
	h.step(fixedNow)
	_, held := split(t, ids, h.rec.sentTo("ann", "push"))
	x := held[0]
	h.clock.Set(fixedNow.Add(2 * time.Second))
	if r := h.api("POST", "/api/v1/incidents/"+x+"/escalate", `{"user":"ann"}`); r.code != 200 {
		t.Fatalf("escalate: %d %s", r.code, r.body)
	}
	h.step(fixedNow.Add(2 * time.Second))
	if got := mentions(h.rec.sentTo("bob", "push"), x); len(got) != 1 || got[0].Level != 2 {
		t.Fatalf("bob's pushes for the escalated incident: %+v, want one at level 2", got)
	}
	h.runUntil(fixedNow.Add(10 * time.Second))
	got := mentions(h.rec.sentTo("ann", "push"), x)
	if len(got) != 1 || !store.IsBundleID(got[0].Incident) {
		t.Fatalf("ann's pushes naming the escalated incident: %d, want it once, in her storm message: %+v", len(got), got)
	}
	if n := strings.Count(got[0].Text, x); n != 1 {
		t.Fatalf("the storm message names the incident %d times: %q", n, got[0].Text)
	}
}

// raise posts, for the incident of fireAs's group g (warning), the group
// with a critical alert joined: its priority goes to P0.
func raise(h *harness, g string) {
	h.t.Helper()
	worse := amPayload("firing", g, map[string]string{"alertname": g, "severity": "warning"},
		map[string]string{"alertname": g, "severity": "critical", "instance": "db2"})
	if r := h.do("POST", "/api/v1/alertmanager", worse, "Authorization", "Bearer "+amKey); r.code != 200 {
		h.t.Fatalf("raise: %d %s", r.code, r.body)
	}
}

// warnStorm fires five P2 (warning) incidents for ann at fixedNow and runs
// the dispatcher: three go out at once, two are held.
func warnStorm(h *harness) (ids, held []string) {
	for i := 0; i < 5; i++ {
		ids = append(ids, fireAs(h, amKey, fmt.Sprintf("warn%d", i), "warning"))
	}
	h.step(fixedNow)
	_, held = split(h.t, ids, h.rec.sentTo("ann", "push"))
	return ids, held
}

// TestStormRaisedWhileHeldPagesOnce: a P2 incident whose push to ann waits
// for her storm message is raised to P0 by a critical alert. The raise
// pages her level again, and a P0 is more urgent than anything sent in the
// window, so her new push goes out at once. The storm message then named
// the incident again, as a P2, eight seconds later: ann was paged twice for
// it. Now the page sent at once is listed in the storm (HeldPage.Sent),
// and the message leaves out what was held of its incident before it.
func TestStormRaisedWhileHeldPagesOnce(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(stormConfig))
			ids, held := warnStorm(h)
			x := held[0]
			h.clock.Set(fixedNow.Add(2 * time.Second))
			raise(h, fmt.Sprintf("warn%d", slices.Index(ids, x)))
			h.step(fixedNow.Add(2 * time.Second))
			if got := mentions(h.rec.sentTo("ann", "push"), x); len(got) != 1 || got[0].Incident != x || got[0].Priority != "P0" {
				t.Fatalf("ann's pushes for the raised incident: %+v, want its P0 at once", got)
			}
			h.runUntil(fixedNow.Add(10 * time.Second))
			if got := mentions(h.rec.sentTo("ann", "push"), x); len(got) != 1 {
				t.Fatalf("ann got %d pushes naming the raised incident, want 1: the storm message named it again: %q",
					len(got), got[len(got)-1].Text)
			}
			push := h.rec.sentTo("ann", "push")
			if b := push[len(push)-1]; !store.IsBundleID(b.Incident) || !slices.Equal(b.Incidents, held[1:]) {
				t.Fatalf("the storm message carries %v, want the other held incident %v", b.Incidents, held[1:])
			}
			tl := timeline(h, x)
			if sent := entriesOf(tl, "notify", "push"); len(sent) != 1 || sent[0].Bundle != "" {
				t.Fatalf("the raised incident's pushes recorded: %+v, want the one sent on its own", sent)
			}
		})
	}
}

// TestStormRaisedWhileHeldAndFailedGoesInTheMessage: X's P2 push waits in
// ann's storm; X is raised to P0 and its new push goes out at once, listed
// in the storm as sent, but the provider fails it (503). The storm message
// then left X out as "went out on its own", and ann was never pushed for
// it. Now the failed page is held again: the message names X, once, as the
// P0 it is, and X's timeline says where its push went.
func TestStormRaisedWhileHeldAndFailedGoesInTheMessage(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(stormConfig))
			ids, held := warnStorm(h)
			x := held[0]
			h.rec.fail = func(m notify.Message) error {
				if m.Incident == x && m.Channel == "push" {
					return errors.New("provider: 503 Service Unavailable")
				}
				return nil
			}
			h.clock.Set(fixedNow.Add(2 * time.Second))
			raise(h, fmt.Sprintf("warn%d", slices.Index(ids, x)))
			h.step(fixedNow.Add(2 * time.Second))
			h.rec.fail = nil
			h.step(fixedNow.Add(10 * time.Second))
			got := mentions(h.rec.sentTo("ann", "push"), x)
			if len(got) != 1 || !store.IsBundleID(got[0].Incident) || !sameSet(got[0].Incidents, held) {
				t.Fatalf("ann's pushes naming X: %+v, want the storm message, with every held incident", got)
			}
			if n := strings.Count(got[0].Text, x); n != 1 || !strings.HasPrefix(got[0].Text, "[P0] 2 incidents (alert storm): 1 P0, 1 P2.") {
				t.Fatalf("the storm message %q, want X once, as a P0", got[0].Text)
			}
			tl := timeline(h, x)
			failed := entriesOf(tl, "notify_failed", "push")
			if len(failed) != 1 || !strings.Contains(failed[0].Detail, "503") ||
				!strings.Contains(failed[0].Detail, "held to go out with ann's other push pages in one message at 2025-09-10T06:00:10Z") {
				t.Fatalf("the failed push's timeline entries %+v, want the failure and when it goes out instead", failed)
			}
			if sent := entriesOf(tl, "notify", "push"); len(sent) != 1 || sent[0].Bundle != got[0].Incident {
				t.Fatalf("X's pushes recorded %+v, want the storm message", sent)
			}
			if strings.Contains(h.logs.String(), "went out on their own") {
				t.Fatal("the log says a page went out on its own; none did")
			}
		})
	}
}

// blockBundles holds storm messages until release is closed.
type blockBundles struct {
	rec     *recorder
	started chan struct{}
	release chan struct{}
}

func (b *blockBundles) Notify(ctx context.Context, m notify.Message) error {
	if store.IsBundleID(m.Incident) {
		close(b.started)
		<-b.release
	}
	return b.rec.Notify(ctx, m)
}

// TestStormHeldWhileItsMessageIsSentSaysBy: a page held while the storm's
// message is being sent (after the flush read the held pages) goes out in
// the next window's message. Its timeline said it went out "at" the window's
// end that had just passed; it now says "by" the next window's end, and
// the page goes out by then.
func TestStormHeldWhileItsMessageIsSentSaysBy(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(stormConfig), replicas(0))
			bb := &blockBundles{rec: h.rec, started: make(chan struct{}), release: make(chan struct{})}
			d1, _ := h.dispatcher(func(o *dispatch.Options) { o.Notifiers = map[string]notify.Notifier{"log": bb} })
			d2, _ := h.dispatcher(nil)
			storm(h, 6, "g")
			h.clock.Set(fixedNow)
			if _, err := d2.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			h.clock.Set(fixedNow.Add(10 * time.Second))
			done := make(chan struct{})
			go func() { defer close(done); _, _ = d1.RunOnce(context.Background()) }()
			<-bb.started
			late := fireAs(h, amKey, "late", "critical")
			if _, err := d2.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			close(bb.release)
			<-done
			held := entriesOf(timeline(h, late), "notify_held", "push")
			if len(held) != 1 || !strings.HasSuffix(held[0].Detail, "in one message by 2025-09-10T06:00:20Z") {
				t.Fatalf("the page held while the message was sent: %+v, want it held by the next window's end", held)
			}
			if _, err := d2.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := len(entriesOf(timeline(h, late), "notify", "push")); n != 0 {
				t.Fatalf("the late page went out at +10s, %d times", n)
			}
			h.clock.Set(fixedNow.Add(20 * time.Second))
			if _, err := d2.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if sent := entriesOf(timeline(h, late), "notify", "push"); len(sent) != 1 || sent[0].At.After(fixedNow.Add(20*time.Second)) {
				t.Fatalf("the late page's pushes %+v, want one by +20s", sent)
			}
		})
	}
}

// TestStormRaisedWhileHeldGoesOutAsRaised: in ann's storm of P0 pages, a
// P2 incident's push is held, and a critical alert raises it to P0: its
// new push is no more urgent than what the window sent, and is held with
// the first. The storm message names it once, as the P0 it is.
func TestStormRaisedWhileHeldGoesOutAsRaised(t *testing.T) {
	h := newHarness(t, withConfig(stormConfig))
	storm(h, 3, "crit")
	h.step(fixedNow)
	h.clock.Set(fixedNow.Add(time.Second))
	x := fireAs(h, amKey, "warn", "warning")
	h.step(fixedNow.Add(time.Second))
	if got := mentions(h.rec.sentTo("ann", "push"), x); len(got) != 0 {
		t.Fatalf("the P2 went out at once in a storm of P0s: %+v", got)
	}
	h.clock.Set(fixedNow.Add(2 * time.Second))
	raise(h, "warn")
	h.runUntil(fixedNow.Add(10 * time.Second))
	got := mentions(h.rec.sentTo("ann", "push"), x)
	if len(got) != 1 || !store.IsBundleID(got[0].Incident) {
		t.Fatalf("ann's pushes naming the raised incident: %+v, want one storm message", got)
	}
	if got[0].Priority != "P0" || !strings.HasPrefix(got[0].Text, "[P0] 1 incidents (alert storm): 1 P0. [P0] api:") {
		t.Fatalf("the storm message for the raised incident: %s %q, want it as a P0", got[0].Priority, got[0].Text)
	}
}

// bundlesGone is a store whose storm bundles, once gone is set, are no
// longer kept: past their link lifetime.
type bundlesGone struct {
	store.Store
	gone atomic.Bool
}

func (s *bundlesGone) GetBundle(ctx context.Context, id string) (*store.Bundle, error) {
	if s.gone.Load() {
		return nil, fmt.Errorf("%w: bundle %s", store.ErrNotFound, id)
	}
	return s.Store.GetBundle(ctx, id)
}

// TestStormSMSReplyWithAnIncidentsCodeActsOnThatIncident: a storm message
// names its incidents, and a reply with one incident's own code acts on
// that one only, and names it; once the message is no longer kept, a bare
// reply is told to reply with each incident's code, and that works: the
// incident's own timeline says its page went out in the message. A code
// of an incident from the message resolved since says so.
func TestStormSMSReplyWithAnIncidentsCodeActsOnThatIncident(t *testing.T) {
	fake := providertest.NewTwilio(t)
	cfgText := annSMSByTwilio(stormConfig, fake.URL, false)
	st := &bundlesGone{Store: boltStore(t)}
	h := newHarness(t, withStore(st), withConfig(cfgText), realTransport("twilio"))
	ids := storm(h, 10, "s")
	h.runUntil(fixedNow.Add(2*time.Minute + 10*time.Second))
	if len(fake.Messages()) != 4 {
		t.Fatalf("Twilio got %d SMS, want 3 and one bundle", len(fake.Messages()))
	}
	cb, _ := url.Parse(fake.Messages()[3].Get("StatusCallback"))
	b, err := h.store.GetBundle(context.Background(), cb.Query().Get("incident"))
	if err != nil || len(b.Incidents) != 7 {
		t.Fatalf("the bundle: %+v %v", b, err)
	}
	text := func(body string) string {
		form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {body}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
		_, out := fake.Callback(t, h.url+"/api/v1/twilio/sms", form)
		return out
	}
	status := func() map[string]string {
		out := map[string]string{}
		for _, id := range ids {
			out[id] = string(h.incident(id).Status)
		}
		return out
	}
	want := status()
	// While the message is kept.
	first := b.Incidents[1]
	if out := text("4 " + twilio.ReplyCode(first)); !strings.Contains(out, "pagerd: Acknowledged [P0] api: disk almost full (code "+twilio.ReplyCode(first)+").") {
		t.Fatalf("4 with the code of an incident in the storm message: %s", out)
	}
	want[first] = "acknowledged"
	if got := status(); !maps.Equal(got, want) {
		t.Fatalf("after 4 with one incident's code: %v, want %v", got, want)
	}

	// Past the message's lifetime: its code no longer acts, each
	// incident's still does.
	st.gone.Store(true)
	if out := text("4"); !strings.Contains(out, "that alert-storm message is no longer kept; reply with each incident&#39;s code.") {
		t.Fatalf("a bare 4 to a storm message no longer kept: %s", out)
	}
	second := b.Incidents[2]
	if out := text("4 " + twilio.ReplyCode(second)); !strings.Contains(out, "pagerd: Acknowledged [P0] api: disk almost full (code "+twilio.ReplyCode(second)+").") {
		t.Fatalf("4 with an incident's code after the storm message is gone: %s", out)
	}
	want[second] = "acknowledged"
	third := b.Incidents[3]
	if out := text("6 " + twilio.ReplyCode(third)); !strings.Contains(out, "pagerd: Resolved [P0] api: disk almost full (code "+twilio.ReplyCode(third)+").") {
		t.Fatalf("6 with an incident's code after the storm message is gone: %s", out)
	}
	want[third] = "resolved"
	if got := status(); !maps.Equal(got, want) {
		t.Fatalf("after replies with incidents' codes: %v, want %v", got, want)
	}
	if out := text("4 " + twilio.ReplyCode(third)); !strings.Contains(out, "(code "+twilio.ReplyCode(third)+") was already resolved by Ann at 06:02 UTC; nothing changed.") {
		t.Fatalf("4 with the code of an incident of the message resolved since: %s", out)
	}
	if got := status(); !maps.Equal(got, want) {
		t.Fatalf("a reply to a resolved incident changed something: %v, want %v", got, want)
	}
}

// TestStormSMSReplyCodeSharedActsOnNeither: an incident's code read from a
// storm message follows the rule of every code: shared by two open
// incidents paged to the number, it acts on neither.
func TestStormSMSReplyCodeSharedActsOnNeither(t *testing.T) {
	fake := providertest.NewTwilio(t)
	cfgText := annSMSByTwilio(stormConfig, fake.URL, false)
	h := newHarness(t, withStore(sameCodeIDs{boltStore(t), new(atomic.Int32)}), withConfig(cfgText), realTransport("twilio"))
	ids := storm(h, 5, "s")
	h.runUntil(fixedNow.Add(2*time.Minute + 10*time.Second))
	if len(fake.Messages()) != 4 {
		t.Fatalf("Twilio got %d SMS, want 3 and one bundle", len(fake.Messages()))
	}
	form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {"4 ZZ12"}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
	if _, out := fake.Callback(t, h.url+"/api/v1/twilio/sms", form); !strings.Contains(out, "code ZZ12 matches 5 incidents paged to this number; nothing was done.") {
		t.Fatalf("a code five incidents share: %s", out)
	}
	for _, id := range ids {
		if v := h.incident(id); v.Status != "triggered" {
			t.Fatalf("a shared code acted on %s: %s", id, v.Status)
		}
	}
}

// TestStormPagerDutyLateAcknowledgementLeavesAReopenedIncident: six
// incidents for carol, three pushed to PagerDuty at once and three held
// for one message, whose alert is keyed by its bundle. One of the three is
// acknowledged in pagerd and reopened (escalated) before PagerDuty's
// webhook for the message's acknowledgement comes: that late webhook
// acknowledges the other two, and leaves the reopened one triggered, with
// ack_ignored in its timeline, as a late acknowledgement of a single
// page's alert does. (It acknowledged it too, and silenced its new pages.)
func TestStormPagerDutyLateAcknowledgementLeavesAReopenedIncident(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake, h, ids, key := stormToPagerDuty(t, mk(t))
			bundle, _, _, _ := pagerduty.ParseDedupKey(key)
			b, err := h.store.GetBundle(context.Background(), bundle)
			if err != nil || len(b.Incidents) != 3 {
				t.Fatalf("bundle %+v %v", b, err)
			}
			reopened := b.Incidents[0]
			act := carolActs(t, h, reopened)
			act("acknowledge")
			act("escalate")
			if v := h.incident(reopened); v.Status != "triggered" {
				t.Fatalf("the escalation did not reopen %s: %s", reopened, v.Status)
			}
			body := `{"event":{"event_type":"incident.acknowledged","agent":{"id":"PCAROL1","summary":"Carol","type":"user_reference"},"data":{"type":"incident","incident_key":"` + key + `"}}}`
			if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, body); code != 204 {
				t.Fatalf("webhook: %d %s", code, out)
			}
			v := h.incident(reopened)
			if v.Status != "triggered" {
				t.Fatalf("PagerDuty's late acknowledgement of the storm message silenced %s, reopened since: %s by %q", reopened, v.Status, v.AcknowledgedBy)
			}
			if e := v.Timeline[len(v.Timeline)-1]; e.Type != "ack_ignored" || e.User != "carol" {
				t.Fatalf("the timeline does not say why the acknowledgement changed nothing: ends with %+v", e)
			}
			for _, id := range b.Incidents[1:] {
				if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "carol" {
					t.Fatalf("%s, in the message and not reopened: %s by %q, want acknowledged by carol", id, v.Status, v.AcknowledgedBy)
				}
			}
			for _, id := range ids {
				if !slices.Contains(b.Incidents, id) {
					if v := h.incident(id); v.Status != "triggered" {
						t.Fatalf("%s, pushed on its own: %s", id, v.Status)
					}
				}
			}
		})
	}
}

// TestStormPagerDutyAcknowledgementOfABundleKeptWithoutCounts: a storm
// message's bundle stored by an earlier version carries no reopen counts;
// PagerDuty's acknowledgement of its alert acknowledges every incident in
// it, as it did then, rather than failing or refusing them all.
func TestStormPagerDutyAcknowledgementOfABundleKeptWithoutCounts(t *testing.T) {
	fake, h, _, key := stormToPagerDuty(t, boltStore(t))
	bundle, _, _, _ := pagerduty.ParseDedupKey(key)
	ctx := context.Background()
	b, err := h.store.GetBundle(ctx, bundle)
	if err != nil || len(b.Incidents) != 3 || len(b.Reopened) != 3 {
		t.Fatalf("bundle %+v %v", b, err)
	}
	b.Reopened = nil
	if err := h.store.PutBundle(ctx, b, time.Hour); err != nil {
		t.Fatal(err)
	}
	body := `{"event":{"event_type":"incident.acknowledged","agent":{"id":"PCAROL1","summary":"Carol","type":"user_reference"},"data":{"type":"incident","incident_key":"` + key + `"}}}`
	if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, body); code != 204 {
		t.Fatalf("webhook: %d %s", code, out)
	}
	for _, id := range b.Incidents {
		if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "carol" {
			t.Fatalf("%s, in a message kept without counts: %s by %q, want acknowledged by carol", id, v.Status, v.AcknowledgedBy)
		}
	}
}

// TestStormMessageRefusedBringsTheNextStepsForward: ann's push storm
// message is refused by the provider. Like a single page refused (and like
// a delivery report saying the message did not arrive), that brings the
// next step of every incident it carried forward: their SMS go out now, not
// at their own time two minutes later.
func TestStormMessageRefusedBringsTheNextStepsForward(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(stormConfig))
			h.rec.fail = func(m notify.Message) error {
				if m.Channel == "push" && store.IsBundleID(m.Incident) {
					return errors.New("provider: 400 refused")
				}
				return nil
			}
			ids := storm(h, 8, "g")
			h.step(fixedNow)
			_, held := split(t, ids, h.rec.sentTo("ann", "push"))
			h.runUntil(fixedNow.Add(30 * time.Second))
			sms := h.rec.sentTo("ann", "sms")
			for _, id := range held {
				if len(mentions(sms, id)) == 0 {
					t.Fatalf("%s: its storm message was refused at 10s, and no SMS named it by 30s (pages %v)", id, h.rec.lines(fixedNow))
				}
			}
		})
	}
}

// TestStormMessageThatFailedDoesNotHoldTheNextP0: ann's P0 storm message
// fails, so she has had no P0 page since the window it opened. A new P0
// two seconds later is more urgent than anything sent to her in that
// window and goes out at once, not held to the window's end behind a
// message she never got.
func TestStormMessageThatFailedDoesNotHoldTheNextP0(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(stormConfig))
			h.rec.fail = func(m notify.Message) error {
				if m.Channel == "push" && store.IsBundleID(m.Incident) {
					return errors.New("provider: 503 unavailable")
				}
				return nil
			}
			storm(h, 4, "g")
			h.step(fixedNow)
			h.step(fixedNow.Add(10 * time.Second))
			if got := len(h.rec.sentTo("ann", "push")); got != 3 {
				t.Fatalf("%d pushes delivered, want the three at once (the storm message failed)", got)
			}
			p0 := fireAs(h, amKey, "late", "critical")
			h.step(fixedNow.Add(12 * time.Second))
			if got := mentions(h.rec.sentTo("ann", "push"), p0); len(got) != 1 || got[0].Incident != p0 {
				t.Fatalf("the new P0 at +12s was not pushed at once: %+v", entriesOf(timeline(h, p0), "notify_held", "push"))
			}
		})
	}
}

// TestStormUnresolvedRulePageHeldSurvivesAReacknowledgement: ann
// acknowledged her P0 a minute in; an hour later it is still open, and the
// unresolved rule pages bob, the secondary, whose push joins his storm (he
// has had three pages in the window). Ann acknowledges again two seconds
// later. The rule pages acknowledged incidents (a page of it on its way is
// not called off by an acknowledgement either): bob's held push still goes
// out in his storm message, instead of being left out as "acknowledged
// meanwhile", which told him nothing of the incident at all.
func TestStormUnresolvedRulePageHeldSurvivesAReacknowledgement(t *testing.T) {
	cfg := strings.Replace(stormConfig, "    levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]\n",
		"    levels: [{name: primary, timeout: 2h, targets: [{schedule: s, tier: primary}]}, {name: secondary, targets: [{schedule: s, tier: web}]}]\n"+
			"    unresolved: [{priorities: [P0], after: 1h, notify: [{level: secondary}]}]\n", 1)
	if cfg == stormConfig {
		t.Fatal("the config edit did not apply")
	}
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(cfg))
			x := fireAs(h, amKey, "x", "critical")
			h.step(fixedNow)
			h.clock.Set(fixedNow.Add(time.Minute))
			if r := h.api("POST", "/api/v1/incidents/"+x+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("ack: %d %s", r.code, r.body)
			}
			h.clock.Set(fixedNow.Add(time.Hour - time.Second))
			for i := 0; i < 3; i++ {
				fireAs(h, webKey, fmt.Sprintf("w%d", i), "critical")
			}
			h.step(fixedNow.Add(time.Hour - time.Second))
			h.step(fixedNow.Add(time.Hour))
			if held := entriesOf(timeline(h, x), "notify_held", "push"); len(held) != 1 || held[0].User != "bob" {
				t.Fatalf("bob's push from the unresolved rule was not held: %+v", held)
			}
			h.clock.Set(fixedNow.Add(time.Hour + 2*time.Second))
			if r := h.api("POST", "/api/v1/incidents/"+x+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("ack again: %d %s", r.code, r.body)
			}
			h.runUntil(fixedNow.Add(time.Hour + 10*time.Second))
			if got := mentions(h.rec.sentTo("bob", "push"), x); len(got) != 1 || !store.IsBundleID(got[0].Incident) {
				t.Fatalf("bob's pushes naming the incident: %+v, want his storm message (pages %v)", got, h.rec.lines(fixedNow))
			}
		})
	}
}

// bobsRulePageHeld is the start of the tests of a held unresolved rule's
// page below: X, a P2 in a policy whose second level is bob, escalates to
// him at 5m and ann acknowledges it at 6m; an hour after it opened, three
// P2s of another service have just pushed bob at once, and X's rule
// (unresolved P2s after 1h page the second level) has its push to bob
// held in his storm. Pages go through a retrying chain to rec.
func bobsRulePageHeld(t *testing.T, st store.Store) (*harness, *recorder, string) {
	t.Helper()
	cfg := strings.Replace(stormConfig, "    levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]\n",
		"    levels: [{name: primary, timeout: 5m, targets: [{schedule: s, tier: primary}]}, {name: secondary, targets: [{schedule: s, tier: web}]}]\n"+
			"    unresolved: [{priorities: [P2], after: 1h, notify: [{level: secondary}]}]\n", 1)
	if cfg == stormConfig {
		t.Fatal("the config edit did not apply")
	}
	rec := &recorder{}
	h := newHarness(t, withStore(st), withConfig(cfg), withNotifier("log", daemonChain(rec, nil)))
	x := fireAs(h, amKey, "x", "warning")
	h.runUntil(fixedNow.Add(6 * time.Minute))
	if got := mentions(rec.sentTo("bob", "push"), x); len(got) != 1 {
		t.Fatalf("bob's pushes for X by 6m: %+v, want the second level's", got)
	}
	if r := h.api("POST", "/api/v1/incidents/"+x+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	h.clock.Set(fixedNow.Add(time.Hour - time.Second))
	for i := 0; i < 3; i++ {
		fireAs(h, webKey, fmt.Sprintf("w%d", i), "warning")
	}
	h.runUntil(fixedNow.Add(time.Hour))
	if held := entriesOf(timeline(h, x), "notify_held", "push"); len(held) != 1 || held[0].User != "bob" {
		t.Fatalf("bob's push from the unresolved rule was not held: %+v (timeline %+v)", held, timeline(h, x))
	}
	return h, rec, x
}

// bobsPushOf picks bob's pushes of incident x.
func bobsPushOf(x string) func(notify.Message) bool {
	return func(m notify.Message) bool { return m.Incident == x && m.User == "bob" && m.Channel == "push" }
}

// TestStormUnresolvedRulePageHeldSurvivesACalledOffRaise: X, a P2 that ann
// acknowledged once it had escalated to bob, is an hour unresolved, and its rule's
// push to bob is held in his storm (three P2 pushes went out at once a
// second before). X is then raised to P0, which reopens it and pushes bob
// at once (more urgent than anything sent in the window), listed in the
// storm as sent. Its provider answers 503, and ann acknowledges X while
// the push waits for its retry: the retry is called off. The storm message
// then left X out, as gone out on its own, and bob never got the unresolved
// rule's page (which pages acknowledged incidents too). Now the page called
// off is held again, as a failed one is, and the message names X.
func TestStormUnresolvedRulePageHeldSurvivesACalledOffRaise(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h, rec, x := bobsRulePageHeld(t, mk(t))
			var ack response
			failOnceFor(rec, bobsPushOf(x), func() {
				ack = h.api("POST", "/api/v1/incidents/"+x+"/acknowledge", `{"user":"ann"}`)
			})
			h.clock.Set(fixedNow.Add(time.Hour + 2*time.Second))
			raise(h, "x")
			h.step(fixedNow.Add(time.Hour + 2*time.Second))
			if ack.code != 200 {
				t.Fatalf("the raise's push to bob was not tried, or ann's ack during it failed: %d %s", ack.code, ack.body)
			}
			if got := mentions(rec.sentTo("bob", "push"), x); len(got) != 1 {
				t.Fatalf("bob's pushes naming X after the raise's was called off: %+v, want only the one at 5m", got)
			}
			h.runUntil(fixedNow.Add(time.Hour + 15*time.Second))
			got := mentions(rec.sentTo("bob", "push"), x)
			if len(got) != 2 || !store.IsBundleID(got[1].Incident) {
				t.Fatalf("bob's pushes naming X: %+v, want his storm message after the one at 5m (pages %v)", got, rec.lines(fixedNow))
			}
		})
	}
}

// TestStormUnresolvedRulePageHeldSurvivesARaiseCalledOffAcrossItsMessage:
// as above, but the window's message goes out while the raise's push to
// bob waits for its retry, and ann acknowledges in that wait. The message
// left out the unresolved rule's page (the raise's push was listed as
// gone out on its own), then the push was called off and held again, and
// the next message left it out as acknowledged: bob was never paged for
// the rule. The push held again now stands for the page it hid
// (store.Admission.Acknowledged), and the next message names X.
func TestStormUnresolvedRulePageHeldSurvivesARaiseCalledOffAcrossItsMessage(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h, rec, x := bobsRulePageHeld(t, mk(t))
			var ack response
			failOnceFor(rec, bobsPushOf(x), func() {
				ack = h.api("POST", "/api/v1/incidents/"+x+"/acknowledge", `{"user":"ann"}`)
				// The window ends while the push waits for its retry:
				// its message goes out.
				h.clock.Set(fixedNow.Add(time.Hour + 10*time.Second))
				for _, d := range h.disp {
					d.RunOnce(context.Background())
				}
			})
			h.clock.Set(fixedNow.Add(time.Hour + 8*time.Second))
			raise(h, "x")
			h.step(fixedNow.Add(time.Hour + 8*time.Second))
			if ack.code != 200 {
				t.Fatalf("the raise's push to bob was not tried, or ann's ack during it failed: %d %s", ack.code, ack.body)
			}
			if got := mentions(rec.sentTo("bob", "push"), x); len(got) != 1 || !strings.Contains(h.logs.String(), "left out pages whose incidents went out on their own") {
				t.Fatalf("bob's pushes naming X %+v; want only the one at 5m, and the window's flush to have left the rule's page out for the raise's (the test does not test what it says)", got)
			}
			h.runUntil(fixedNow.Add(time.Hour + 40*time.Second))
			got := mentions(rec.sentTo("bob", "push"), x)
			if len(got) != 2 || !store.IsBundleID(got[1].Incident) {
				t.Fatalf("bob's pushes naming X: %+v, want the next storm message after the one at 5m (pages %v)", got, rec.lines(fixedNow))
			}
		})
	}
}

// TestStormPageCalledOffAfterATakeoverSentItIsNotHeldAgain: ann's storm (a
// 5 m window, 3 pages at once) let three P2 pushes out and held a fourth.
// At 4m50s replica a claims a new P0's push, let out at once (more urgent
// than anything sent) and listed in the storm as sent. Its provider
// answers 503; while a's retrier backs off, the window's message goes out
// at 5m (leaving the P0 out, as gone out on its own), a's 30 s lease runs
// out, and replica b takes the incident over at 5m21s and pushes the P0
// at once (more urgent than the message that opened the next window).
// a's retry finds the step gone and is called off. Held again for the
// storm's message (as a page called off by an acknowledgement is), the
// P0 was named again in the next window's message: ann was paged twice for
// it. A step another claim paged after this one started is not held again.
func TestStormPageCalledOffAfterATakeoverSentItIsNotHeldAgain(t *testing.T) {
	takeoverPushesOnce(t, 3, nil, "page called off", "a's retry was not called off (the test does not test what it says)")
}

// TestStormPageFailedAfterATakeoverSentItIsNotHeldAgain: as above, but
// a's try is its last (a send that hung until the takeover, then failed):
// the failed page was held again for the storm's message, as a failed page
// listed as sent is, and ann was paged twice for the P0.
func TestStormPageFailedAfterATakeoverSentItIsNotHeldAgain(t *testing.T) {
	takeoverPushesOnce(t, 1, nil, "page failed", "a's page did not fail (the test does not test what it says)")
}

// TestStormPageSentBackAfterATakeoverSentItIsNotHeldAgain: as above, but
// the provider answers a's try, after the takeover, with its 429 and a
// Retry-After (nothing went out): the page was held again for the storm's
// message, as a listed page sent back is, and ann was paged twice for the
// P0.
func TestStormPageSentBackAfterATakeoverSentItIsNotHeldAgain(t *testing.T) {
	takeoverPushesOnce(t, 3, notify.OverRateLimit(10*time.Second, "provider: 429, Retry-After 10"), "page sent back by the rate limit", "a's page was not sent back (the test does not test what it says)")
}

// takeoverPushesOnce runs the tests above on each store: a's push is tried
// attempts times, its first try failing with fail (nil: a 503); a's log
// must say says (else the test does not test what it says: notSaid), and
// ann must be pushed the P0 once, by b.
func takeoverPushesOnce(t *testing.T, attempts int, fail error, says, notSaid string) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h, rec, b, x := takeoverPushesWhileAWaits(t, mk(t), attempts, fail)
			if !strings.Contains(h.logs.String(), says) {
				t.Fatal(notSaid)
			}
			if paged := pushedThroughTheNextWindow(t, h, b, rec, x); len(paged) != 1 {
				t.Errorf("ann was pushed the P0 at %v: want once, by b at 5m21s (pages %v)", paged, rec.lines(fixedNow))
			}
		})
	}
}

// takeoverPushesWhileAWaits sets up the tests above on st, with a
// transport chain making attempts tries of a page around rec, whose first
// try of a's push fails with fail (nil: a 503), and returns b and the P0.
func takeoverPushesWhileAWaits(t *testing.T, st store.Store, attempts int, fail error) (*harness, *recorder, *dispatch.Dispatcher, string) {
	t.Helper()
	rec := &recorder{}
	h, a, _, b := stormTakeover(t, st, func(st store.Store) store.Store { return &oneClaim{Store: st} }, 0,
		withNotifier("log", daemonChain(rec, func(o *notify.ChainOptions) { o.Attempts = attempts })))
	for i := 0; i < 4; i++ {
		fireAs(h, amKey, fmt.Sprintf("w%d", i), "warning")
	}
	if _, err := b.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(rec.sentTo("ann", "push")); got != 3 {
		t.Fatalf("ann got %d pushes at once, want 3 (the fourth held)", got)
	}
	h.clock.Set(fixedNow.Add(4*time.Minute + 50*time.Second))
	if _, err := b.RunOnce(context.Background()); err != nil { // the P2s' SMS: a claims the P0 alone
		t.Fatal(err)
	}
	x := fireAs(h, amKey, "x", "critical")
	var takenOver atomic.Bool // b's push of it goes out
	if fail == nil {
		fail = notify.Temporary(errors.New("provider: 503 service unavailable"))
	}
	tries := failOnceWith(rec, func(m notify.Message) bool { return m.Incident == x && m.Channel == "push" && !takenOver.Load() }, fail, func() {
		// While a's push is tried: the window's message, then b's
		// takeover past a's lease.
		takenOver.Store(true)
		for _, at := range []time.Duration{5 * time.Minute, 5*time.Minute + 21*time.Second} {
			h.clock.Set(fixedNow.Add(at))
			if _, err := b.RunOnce(context.Background()); err != nil {
				t.Error(err)
			}
		}
	})
	if _, err := a.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := mentions(rec.sentTo("ann", "push"), x); tries.Load() != 1 || len(got) != 1 || got[0].Incident != x {
		t.Fatalf("after %d tries of the P0's push by a, ann's pushes naming it: %+v; want a's first try failed, b's push at 5m21s (the test does not test what it says; pages %v, timeline %+v)", tries.Load(), got, rec.lines(fixedNow), timeline(h, x))
	}
	return h, rec, b, x
}

// oneClaim is a store a replica claims due work from once: what comes due
// after (a storm's window end, while the first claim's page is tried) is
// left to the other replicas.
type oneClaim struct {
	store.Store
	claimed atomic.Bool
}

func (s *oneClaim) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]store.Claim, error) {
	if s.claimed.Load() {
		return nil, nil
	}
	cs, err := s.Store.ClaimDue(ctx, now, lease, max)
	if len(cs) > 0 {
		s.claimed.Store(true)
	}
	return cs, err
}

// pushedThroughTheNextWindow runs b at the end of the storm's next window
// (at 11m) and says when (from fixedNow) ann was pushed anything naming x.
func pushedThroughTheNextWindow(t *testing.T, h *harness, b *dispatch.Dispatcher, rec *recorder, x string) []string {
	t.Helper()
	h.clock.Set(fixedNow.Add(11 * time.Minute))
	if _, err := b.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	var paged []string
	for _, m := range mentions(rec.sentTo("ann", "push"), x) {
		paged = append(paged, m.At.Sub(fixedNow).String())
	}
	return paged
}

// TestStormMessageWithNoWayToSendIsOneMessage: a reload took ann's push
// contact away while her pages were held; the storm message cannot go. Its
// failure is one message, as one refused by the provider is: the entries
// in its incidents share one bundle id, so reports count one failed page,
// not one for each incident it was to carry.
func TestStormMessageWithNoWayToSendIsOneMessage(t *testing.T) {
	h := newHarness(t, withConfig(stormConfig))
	ids := storm(h, 8, "g")
	h.step(fixedNow)
	_, held := split(t, ids, h.rec.sentTo("ann", "push"))
	if err := h.reload(strings.Replace(stormConfig, "{id: ann, name: Ann, contacts: [{channel: push, via: log}, ", "{id: ann, name: Ann, contacts: [", 1)); err != nil {
		t.Fatal(err)
	}
	h.runUntil(fixedNow.Add(15 * time.Second))
	bundles := map[string]bool{}
	for _, id := range held {
		failed := entriesOf(timeline(h, id), "notify_failed", "push")
		if len(failed) != 1 {
			t.Fatalf("%s: %d failed push entries, want 1: %+v", id, len(failed), timeline(h, id))
		}
		bundles[failed[0].Bundle] = true
	}
	if len(bundles) != 1 || bundles[""] {
		t.Fatalf("the failed storm message's entries carry bundles %v, want one id for all %d", bundles, len(held))
	}
}

// TestStormFailedPageSentAtOnceDoesNotHoldTheNextP0: of the three pages
// ann's storm lets out at once, her P0's fails; she has had only P2 pages
// in the window. A new P0 two seconds later is more urgent than anything
// she got in it and goes out at once, not held to the window's end behind
// a page she never got.
func TestStormFailedPageSentAtOnceDoesNotHoldTheNextP0(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(stormConfig))
			first := fireAs(h, amKey, "first", "critical")
			h.rec.fail = func(m notify.Message) error {
				if m.Channel == "push" && m.Incident == first {
					return errors.New("provider: 503 unavailable")
				}
				return nil
			}
			fireAs(h, amKey, "warn0", "warning")
			fireAs(h, amKey, "warn1", "warning")
			h.step(fixedNow)
			if got := len(h.rec.sentTo("ann", "push")); got != 2 {
				t.Fatalf("%d pushes delivered, want the two P2s (the P0's failed)", got)
			}
			p0 := fireAs(h, amKey, "late", "critical")
			h.step(fixedNow.Add(2 * time.Second))
			if got := mentions(h.rec.sentTo("ann", "push"), p0); len(got) != 1 || got[0].Incident != p0 {
				t.Fatalf("the new P0 at +2s was not pushed at once: %+v", entriesOf(timeline(h, p0), "notify_held", "push"))
			}
		})
	}
}

// TestStormMessageAfterDryRunIsNotSent: ann's push pages are held in a
// storm, then a reload sets notifiers.log.dry_run, her push transport's.
// The storm message obeys the config in force when it goes: it is not
// sent, and each incident it carried records the push it would have been
// (notify_shadow), as a single page in dry run does.
func TestStormMessageAfterDryRunIsNotSent(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(stormConfig))
			ids := storm(h, 8, "g")
			h.step(fixedNow)
			_, held := split(t, ids, h.rec.sentTo("ann", "push"))
			if err := h.reload("notifiers: {log: {dry_run: true}}\n" + stormConfig); err != nil {
				t.Fatal(err)
			}
			h.runUntil(fixedNow.Add(15 * time.Second))
			if push := h.rec.sentTo("ann", "push"); len(push) != 3 {
				t.Fatalf("ann got %d pushes, want only the three before dry_run: %v", len(push), h.rec.lines(fixedNow))
			}
			for _, id := range held {
				tl := timeline(h, id)
				if shadow := entriesOf(tl, "notify_shadow", "push"); len(shadow) != 1 || !strings.Contains(shadow[0].Detail, "notifiers.log.dry_run") {
					t.Fatalf("%s: push entries %+v, want one notify_shadow naming dry_run", id, tl)
				}
				if sent := entriesOf(tl, "notify", "push"); len(sent) != 0 {
					t.Fatalf("%s: recorded as pushed in dry run: %+v", id, sent)
				}
			}
		})
	}
}

// TestStormMessageLeavesOutServicesPutInShadow: ann is paged for api and
// web, and her pages of both are held in a storm; a reload puts api in
// shadow mode. Her storm message carries the web incidents only; the api
// ones record the push they would have been (notify_shadow), as a single
// page of a service in shadow mode does.
func TestStormMessageLeavesOutServicesPutInShadow(t *testing.T) {
	cfg := strings.Replace(stormConfig, "    levels: [{name: web, targets: [{schedule: s, tier: web}]}]\n",
		"    levels: [{name: web, targets: [{schedule: s, tier: primary}]}]\n", 1)
	if cfg == stormConfig {
		t.Fatal("the config edit did not apply")
	}
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(cfg))
			api := storm(h, 4, "a")
			var web []string
			for i := 0; i < 4; i++ {
				web = append(web, fireAs(h, webKey, fmt.Sprintf("w%02d", i), "critical"))
			}
			h.step(fixedNow)
			_, held := split(t, append(slices.Clone(api), web...), h.rec.sentTo("ann", "push"))
			shadow := strings.Replace(cfg, "    escalation_policy: p\n", "    escalation_policy: p\n    shadow: true\n", 1)
			if err := h.reload(shadow); err != nil {
				t.Fatal(err)
			}
			h.runUntil(fixedNow.Add(15 * time.Second))
			push := h.rec.sentTo("ann", "push")
			if len(push) != 4 || !store.IsBundleID(push[3].Incident) {
				t.Fatalf("ann's pushes %v, want three at once and the storm message", h.rec.lines(fixedNow))
			}
			for _, id := range held {
				tl := timeline(h, id)
				if slices.Contains(api, id) {
					if slices.Contains(push[3].Incidents, id) || len(entriesOf(tl, "notify_shadow", "push")) != 1 {
						t.Fatalf("api incident %s, in shadow mode: in the message %v, entries %+v", id, push[3].Incidents, tl)
					}
				} else if !slices.Contains(push[3].Incidents, id) || len(entriesOf(tl, "notify", "push")) != 1 {
					t.Fatalf("web incident %s: not in the message %v, entries %+v", id, push[3].Incidents, tl)
				}
			}
		})
	}
}

// TestStormMessageLeavesOutIncidentsAWindowHolds: a maintenance window
// that starts while a storm holds pages holds their incidents (nobody is
// paged until it ends, and then each is paged as new). The storm's
// message, due inside the window, must not page them: it went out naming
// them, and the window's end paged every one of them again.
func TestStormMessageLeavesOutIncidentsAWindowHolds(t *testing.T) {
	for st, mk := range stores(t) {
		t.Run(st, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(stormConfig))
			ids := storm(h, 5, "mw")
			h.step(h.clock.Now())
			_, held := split(t, ids, h.rec.sentTo("ann", "push"))
			start := h.clock.Now().Add(2 * time.Second)
			h.runUntil(start)
			w := h.addWindow(`{"name":"db upgrade","services":["api"],"end":"`+start.Add(time.Hour).Format(time.RFC3339)+`"}`, 201)
			h.runUntil(start.Add(30 * time.Minute))
			if got := h.rec.sentTo("ann", "push"); len(got) != 3 {
				t.Errorf("%d pushes to ann by the window's middle, want the 3 sent before it: %v", len(got), got)
			}
			for _, id := range held {
				if s := h.incident(id).Status; s != "triggered" {
					t.Fatalf("held incident %s is %s", id, s)
				}
			}
			h.runUntil(w.End.Add(time.Minute))
			named := map[string]int{}
			for _, m := range h.rec.sentTo("ann", "push")[3:] {
				for _, id := range ids {
					if m.Incident == id || strings.Contains(m.Text, id) {
						named[id]++
					}
				}
			}
			for _, id := range ids {
				if named[id] != 1 {
					t.Errorf("incident %s named in %d pushes after the window, want 1", id, named[id])
				}
			}
		})
	}
}

// getsCounted is a store that counts the Gets of the incidents named in
// watch, once counting is on.
type getsCounted struct {
	store.Store
	mu    sync.Mutex
	watch map[string]bool
	gets  int
}

func (g *getsCounted) Get(ctx context.Context, id string) (*store.Incident, error) {
	g.mu.Lock()
	if g.watch[id] {
		g.gets++
	}
	g.mu.Unlock()
	return g.Store.Get(ctx, id)
}

// TestStormMessageDoesNotReadIncidentsNoWindowCanHold: a window in force
// for web cannot hold api's incidents, so the flush of a storm of api
// pages must not read each of them whole (one round trip each, outside
// the flush's turn, for every incident of a flood and every person's
// storm) to look for a hold none can have: it did while any window of
// any service was in force. The message still names them all.
func TestStormMessageDoesNotReadIncidentsNoWindowCanHold(t *testing.T) {
	st := &getsCounted{Store: boltStore(t)}
	h := newHarness(t, withStore(st), withConfig(stormConfig))
	h.addWindow(`{"name":"web upgrade","services":["web"],"end":"`+h.clock.Now().Add(time.Hour).Format(time.RFC3339)+`"}`, 201)
	ids := storm(h, 5, "nw")
	h.step(h.clock.Now())
	_, held := split(t, ids, h.rec.sentTo("ann", "push"))
	st.mu.Lock()
	st.watch = map[string]bool{}
	for _, id := range held {
		st.watch[id] = true
	}
	st.mu.Unlock()
	h.runUntil(h.clock.Now().Add(15 * time.Second))
	msgs := h.rec.sentTo("ann", "push")
	if len(msgs) != 4 {
		t.Fatalf("%d pushes to ann, want 3 at once and the storm's message", len(msgs))
	}
	for _, id := range held {
		if !strings.Contains(msgs[3].Text, id) && !slices.Contains(msgs[3].Incidents, id) {
			t.Errorf("the storm's message leaves out %s: %s", id, msgs[3].Text)
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.gets != 0 {
		t.Errorf("the flush read %d held incidents whole, that no window in force can hold", st.gets)
	}
}

// bundleReadsFailAfterWrite is a store whose reads of storm bundles and
// incident statuses fail once an incident write went through (while fail
// is set): a store that blips between a bundle's acknowledgement and the
// page that says so.
type bundleReadsFailAfterWrite struct {
	store.Store
	fail, wrote atomic.Bool
}

func (s *bundleReadsFailAfterWrite) Update(ctx context.Context, inc *store.Incident, tl []store.Entry) error {
	err := s.Store.Update(ctx, inc, tl)
	if err == nil && s.fail.Load() {
		s.wrote.Store(true)
	}
	return err
}

func (s *bundleReadsFailAfterWrite) GetBundle(ctx context.Context, id string) (*store.Bundle, error) {
	if s.wrote.Load() {
		return nil, errDiskFull
	}
	return s.Store.GetBundle(ctx, id)
}

func (s *bundleReadsFailAfterWrite) Statuses(ctx context.Context, ids []string) (map[string]policy.Status, error) {
	if s.wrote.Load() {
		return nil, errDiskFull
	}
	return s.Store.Statuses(ctx, ids)
}

// TestStormAckLinkStoredIsAnsweredAsStored: the bundle's Acknowledge all
// acknowledged every incident, and the store failed the reads of the page
// that shows them after. The answer must say what was done, not "Nothing
// was changed" with a 503: the person would believe the paging goes on.
func TestStormAckLinkStoredIsAnsweredAsStored(t *testing.T) {
	st := &bundleReadsFailAfterWrite{Store: boltStore(t)}
	h := newHarness(t, withStore(st), withConfig(stormConfig))
	ids := storm(h, 12, "g")
	h.step(fixedNow)
	_, held := split(t, ids, h.rec.sentTo("ann", "push"))
	h.step(fixedNow.Add(10 * time.Second))
	link := stormLink(t, h.rec.sentTo("ann", "push")[3])
	st.fail.Store(true)
	r := h.do("POST", link+"/acknowledge", "")
	st.fail.Store(false)
	st.wrote.Store(false)
	for _, id := range held {
		if v := h.incident(id); v.Status != "acknowledged" {
			t.Fatalf("incident %s is %s after Acknowledge all: the test does not test what it says", id, v.Status)
		}
	}
	if r.code != 200 || !strings.Contains(r.body, "Acknowledged 9 of 9 incidents.") || strings.Contains(r.body, "Nothing was changed") {
		t.Fatalf("Acknowledge all stored, the reads after it failing: %d %s", r.code, r.body)
	}
}
