package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/pagerduty"
)

const pdUserKey = "carolpd000000000000000000000000a"

const pdConfig = `
api:
  tokens: [{name: ops, token: ` + apiToken + `}]
users:
  - {id: carol, name: Carol, contacts: [{channel: push, via: pagerduty, address: ` + pdUserKey + `}, {channel: sms, via: log}]}
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers: [{name: primary, start: 2025-01-06, members: [carol]}]
escalation_policies:
  - name: p
    levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]
services:
  - name: api
    priority_scheme: P0-P3
    escalation_policy: p
    integrations: {alertmanager_key: ` + amKey + `}
notifiers:
  pagerduty: {webhook_secret: ` + providertest.PagerDutyWebhookSecret + `}
`

// pagerDutyAt is pdConfig with PagerDuty's Events API at a fake's URL.
func pagerDutyAt(fake *providertest.PagerDuty) string {
	return strings.Replace(pdConfig, "pagerduty: {", "pagerduty: {events_url: "+fake.URL+", ", 1)
}

// TestPagerDutyPushAndWebhook: the push goes to PagerDuty through
// go-pagerduty (a 500 first, retried), and PagerDuty's signed v3 webhook
// for that incident acknowledges the pagerd incident as the person pushed
// to, which stops the SMS.
func TestPagerDutyPushAndWebhook(t *testing.T) {
	fake := providertest.NewPagerDuty(t)
	fake.FailFirst(1)
	h := newHarness(t, withConfig(pagerDutyAt(fake)), realTransport("pagerduty"), fastRetries())
	id := fire(h)
	h.step(fixedNow)
	if len(fake.Events()) != 1 {
		t.Fatalf("PagerDuty got %d events", len(fake.Events()))
	}
	ev := fake.Events()[0]
	if ev.RoutingKey != pdUserKey || ev.Action != "trigger" || ev.DedupKey != pagerduty.DedupKey(id, "carol", 0) ||
		ev.Payload.Severity != "critical" || !strings.Contains(ev.Payload.Summary, "disk almost full") {
		t.Fatalf("event sent to PagerDuty: %+v %+v", ev, ev.Payload)
	}

	post := func(body, sig string) response {
		hdr := []string{}
		if sig != "" {
			hdr = append(hdr, "X-PagerDuty-Signature", sig)
		}
		return h.do("POST", "/api/v1/pagerduty/webhook", body, hdr...)
	}
	ack := `{"event":{"id":"01ABC","event_type":"incident.acknowledged","agent":{"summary":"Carol"},"data":{"id":"Q1","type":"incident","incident_key":"` + ev.DedupKey + `"}}}`
	for name, tc := range map[string]struct {
		sig  string
		code int
	}{
		"forged":  {providertest.PagerDutySign([]byte(ack), "wrong-secret"), 403},
		"missing": {"", 403},
		// Not hex, and not a v1 signature: malformed, so not PagerDuty's.
		"malformed": {"v1=not-hex", 403},
		"not v1":    {"v0=" + strings.TrimPrefix(providertest.PagerDutySign([]byte(ack), providertest.PagerDutyWebhookSecret), "v1="), 403},
		"no prefix": {"garbage", 403},
	} {
		if r := post(ack, tc.sig); r.code != tc.code {
			t.Fatalf("%s signature: %d %s", name, r.code, r.body)
		}
	}
	var v incidentView
	h.api("GET", "/api/v1/incidents/"+id, "").json(t, &v)
	if v.Status != "triggered" {
		t.Fatal("a refused webhook changed the incident")
	}
	other := `{"event":{"event_type":"incident.priority_updated","data":{"incident_key":"` + ev.DedupKey + `"}}}`
	if code, _ := fake.Webhook(t, h.url+pagerduty.WebhookPath, other); code != 204 {
		t.Fatalf("other event: %d", code)
	}
	if code, body := fake.Webhook(t, h.url+pagerduty.WebhookPath, ack); code != 204 {
		t.Fatalf("signed ack: %d %s", code, body)
	}
	h.api("GET", "/api/v1/incidents/"+id, "").json(t, &v)
	if v.Status != "acknowledged" || v.AcknowledgedBy != "carol" {
		t.Fatalf("after PagerDuty's ack: %s by %q", v.Status, v.AcknowledgedBy)
	}
	h.runUntil(fixedNow.Add(10 * time.Minute))
	if got := h.rec.lines(fixedNow); len(got) != 0 {
		t.Fatalf("the SMS went out after PagerDuty acknowledged: %v", got)
	}
	// Resolving in pagerd resolves what it pushed to PagerDuty (and the ack
	// above was passed back too; PagerDuty takes both idempotently).
	if r := h.api("POST", "/api/v1/incidents/"+id+"/resolve", ""); r.code != 200 {
		t.Fatalf("resolve: %d %s", r.code, r.body)
	}
	// Telling PagerDuty is the dispatcher's work, from the incident's
	// outbox, written with the resolve.
	h.step(h.clock.Now())
	deadline := time.Now().Add(10 * time.Second)
	for {
		var actions []string
		for _, e := range fake.Events() {
			if e.DedupKey == ev.DedupKey && e.RoutingKey == pdUserKey {
				actions = append(actions, e.Action)
			}
		}
		got := strings.Join(actions, ",")
		if got == "trigger,acknowledge,resolve" || got == "trigger,resolve,acknowledge" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PagerDuty got %q for the pushed incident", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	foreign := `{"event":{"event_type":"incident.resolved","data":{"incident_key":"someone-elses"}}}`
	if code, _ := fake.Webhook(t, h.url+pagerduty.WebhookPath, foreign); code != 204 {
		t.Fatalf("foreign incident: %d", code)
	}
}

// TestPagerDutyForwardIsDurable: PagerDuty is down when carol acknowledges
// in pagerd, and the replica that would tell it dies. The acknowledgement
// was stored with the work of telling PagerDuty (the incident's outbox), so
// another dispatcher, on the same store, tells PagerDuty once it answers,
// retrying with backoff, and records it. (It used to be a goroutine's
// best-effort call: lost in a crash, and never retried.)
func TestPagerDutyForwardIsDurable(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewPagerDuty(t)
			st := mk(t)
			h := newHarness(t, withStore(st), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"), fastRetries())
			id := fire(h)
			h.step(fixedNow)
			fake.FailFirst(1000) // PagerDuty goes down
			if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"carol"}`); r.code != 200 {
				t.Fatalf("ack: %d %s", r.code, r.body)
			}
			h.step(fixedNow.Add(time.Second)) // tries, fails, keeps it for later
			acks := func() int { return pdEvents(fake, id, "carol", "acknowledge") }
			if acks() != 0 {
				t.Fatal("PagerDuty down, yet it took the acknowledgement")
			}
			// That replica dies; another takes over, and PagerDuty is back.
			fake.FailFirst(0)
			other, _ := h.dispatcher(nil)
			h.disp = []*dispatch.Dispatcher{other}
			h.runUntil(fixedNow.Add(2 * time.Minute))
			if n := acks(); n != 1 {
				t.Fatalf("PagerDuty got %d acknowledgements after it came back, want 1", n)
			}
			var v incidentView
			h.api("GET", "/api/v1/incidents/"+id, "").json(t, &v)
			last := v.Timeline[len(v.Timeline)-1]
			if last.Type != "forwarded" || !strings.Contains(last.Detail, "acknowledge, for carol") {
				t.Fatalf("timeline ends with %+v", last)
			}
			if at, ok, _ := st.NextDue(context.Background()); ok {
				t.Fatalf("still due at %v after the forward", at)
			}
		})
	}
}

// TestPagerDutyForwardOnlyWhenPushed: an acknowledgement or resolve owes
// PagerDuty a forward (an outbox item: a claim, a timeline read and a
// write) only for an incident a page went to PagerDuty for, as the
// incident records. Never pushed: nothing is stored and PagerDuty hears
// nothing. Pushed, and a reload then took away the PagerDuty contact:
// still owed, and the timeline says PagerDuty could not be told, the
// routing key having gone with the contact. A record from before pagerd
// kept the mark, whose page went there, is still forwarded.
func TestPagerDutyForwardOnlyWhenPushed(t *testing.T) {
	// carol pushes through the log, not PagerDuty; dave, on no schedule,
	// keeps the PagerDuty transport in use.
	notPushed := strings.Replace(pdConfig, "{channel: push, via: pagerduty, address: "+pdUserKey+"}", "{channel: push, via: log}", 1)
	notPushed = strings.Replace(notPushed, "users:\n", "users:\n  - {id: dave, name: Dave, contacts: [{channel: push, via: pagerduty, address: "+pdUserKey+"}]}\n", 1)
	pdItems := func(t *testing.T, st store.Store, id string) int {
		t.Helper()
		inc, err := st.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, o := range inc.Outbox {
			if o.Kind == store.OutboxPagerDuty {
				n++
			}
		}
		return n
	}
	actions := func(fake *providertest.PagerDuty, id string) string {
		var got []string
		for _, e := range fake.Events() {
			if e.DedupKey == pagerduty.DedupKey(id, "carol", 0) {
				got = append(got, e.Action)
			}
		}
		return strings.Join(got, ",")
	}
	act := func(t *testing.T, h *harness, id, what string) {
		t.Helper()
		if r := h.api("POST", "/api/v1/incidents/"+id+"/"+what, `{"user":"carol"}`); r.code != 200 {
			t.Fatalf("%s: %d %s", what, r.code, r.body)
		}
	}
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("never pushed", func(t *testing.T) {
				fake := providertest.NewPagerDuty(t)
				st := mk(t)
				h := newHarness(t, withStore(st), withConfig(strings.Replace(notPushed, "pagerduty: {", "pagerduty: {events_url: "+fake.URL+", ", 1)),
					realTransport("pagerduty"), fastRetries())
				id := fire(h)
				h.step(fixedNow)
				for i, what := range []string{"acknowledge", "resolve"} {
					act(t, h, id, what)
					if n := pdItems(t, st, id); n != 0 {
						t.Fatalf("%s of an incident never pushed to PagerDuty stored %d PagerDuty outbox items", what, n)
					}
					h.step(fixedNow.Add(time.Duration(i+1) * time.Second))
				}
				if n := len(fake.Events()); n != 0 {
					t.Fatalf("PagerDuty got %d events for an incident never pushed there", n)
				}
			})
			t.Run("pushed, contact removed by a reload", func(t *testing.T) {
				fake := providertest.NewPagerDuty(t)
				st := mk(t)
				h := newHarness(t, withStore(st), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"), fastRetries())
				id := fire(h)
				h.step(fixedNow)
				if got := actions(fake, id); got != "trigger" {
					t.Fatalf("PagerDuty got %q", got)
				}
				if err := h.reload(strings.Replace(pdConfig, "{channel: push, via: pagerduty, address: "+pdUserKey+"}", "{channel: push, via: log}", 1)); err != nil {
					t.Fatal(err)
				}
				act(t, h, id, "acknowledge")
				if n := pdItems(t, st, id); n != 1 {
					t.Fatalf("the acknowledgement of an incident pushed to PagerDuty stored %d PagerDuty outbox items, want 1", n)
				}
				h.step(fixedNow.Add(time.Second))
				var v incidentView
				h.api("GET", "/api/v1/incidents/"+id, "").json(t, &v)
				last := v.Timeline[len(v.Timeline)-1]
				if last.Type != "forward_failed" || !strings.Contains(last.Detail, "not told of the acknowledge for carol") {
					t.Fatalf("timeline ends with %+v, want the forward it could not make", last)
				}
				if n := pdItems(t, st, id); n != 0 {
					t.Fatalf("%d PagerDuty outbox items left", n)
				}
			})
			t.Run("pushed, forwarded", func(t *testing.T) {
				fake := providertest.NewPagerDuty(t)
				st := mk(t)
				h := newHarness(t, withStore(st), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"), fastRetries())
				id := fire(h)
				h.step(fixedNow)
				act(t, h, id, "acknowledge")
				h.step(fixedNow.Add(time.Second))
				act(t, h, id, "resolve")
				h.step(fixedNow.Add(2 * time.Second))
				if got := actions(fake, id); got != "trigger,acknowledge,resolve" {
					t.Fatalf("PagerDuty got %q", got)
				}
			})
			t.Run("record from before the mark", func(t *testing.T) {
				// Paged through PagerDuty by a pagerd that kept no mark:
				// the record does not say, the timeline has the page.
				fake := providertest.NewPagerDuty(t)
				st := mk(t)
				h := newHarness(t, withStore(st), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"), fastRetries())
				id := fire(h)
				inc, err := st.Get(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				if !inc.NotPushedToPagerDuty {
					t.Fatal("a new incident is not marked as not pushed to PagerDuty")
				}
				inc.NotPushedToPagerDuty, inc.State.Pending = false, nil
				page := store.Entry{At: fixedNow, Type: "notify", Level: 1, User: "carol", Channel: "push", Detail: "via pagerduty"}
				if err := st.Update(context.Background(), inc, []store.Entry{page}); err != nil {
					t.Fatal(err)
				}
				act(t, h, id, "resolve")
				if n := pdItems(t, st, id); n != 1 {
					t.Fatalf("the resolve of a record that does not say stored %d PagerDuty outbox items, want 1", n)
				}
				h.step(fixedNow.Add(time.Second))
				if got := actions(fake, id); got != "resolve" {
					t.Fatalf("PagerDuty got %q, want the resolve", got)
				}
			})
		})
	}
}

// TestPagerDutyForwardOfAPageRecordedAfterTheAck: carol acknowledges while
// her PagerDuty push is on its way. The acknowledgement, written first,
// found an incident not pushed to PagerDuty and owed it nothing; the
// dispatcher, recording the push on the acknowledged incident, owes it
// then, so PagerDuty is still told.
func TestPagerDutyForwardOfAPageRecordedAfterTheAck(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewPagerDuty(t)
			h := newHarness(t, withStore(mk(t)), withConfig(pagerDutyAt(fake))) // the push goes to the recorder
			id := fire(h)
			var once sync.Once
			h.rec.fail = func(m notify.Message) error {
				once.Do(func() {
					if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"carol"}`); r.code != 200 {
						t.Errorf("ack: %d %s", r.code, r.body)
					}
				})
				return nil
			}
			h.step(fixedNow)
			if len(h.rec.lines(fixedNow)) != 1 {
				t.Fatalf("pages: %v", h.rec.lines(fixedNow))
			}
			if acks := pdEvents(fake, id, "carol", "acknowledge"); acks != 1 {
				t.Fatalf("PagerDuty got %d acknowledgements, want 1 (events %d)", acks, len(fake.Events()))
			}
		})
	}
}

// pdEvents counts the events of action PagerDuty took for user's page of
// incident id.
func pdEvents(fake *providertest.PagerDuty, id, user, action string) int {
	n := 0
	for _, e := range fake.Events() {
		if e.Action == action && e.DedupKey == pagerduty.DedupKey(id, user, 0) {
			n++
		}
	}
	return n
}

// TestPagerDutyRepageAfterReopenNotifiesAnew: Carol is pushed through
// PagerDuty and acknowledges; pagerd tells PagerDuty. The incident is
// escalated (at its only level: Carol again), which reopens it and pages
// her again through PagerDuty. PagerDuty folds a trigger whose dedup key
// matches an open alert, triggered or acknowledged, into it and notifies
// nobody (the fake models it), so the page after the reopen must go under
// a key of its own: a new PagerDuty alert that notifies Carol. A webhook
// for the new alert comes back to the incident, and the resolve reaches
// every alert pagerd opened for it. Once more round: keys keep apart.
func TestPagerDutyRepageAfterReopenNotifiesAnew(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake, h, id := pushedToCarol(t, mk(t))
			k0, k1, k2 := pagerduty.DedupKey(id, "carol", 0), pagerduty.DedupKey(id, "carol", 1), pagerduty.DedupKey(id, "carol", 2)
			act := carolActs(t, h, id)
			act("acknowledge")
			if got := fake.Alert(k0); got != "acknowledged" {
				t.Fatalf("PagerDuty's alert %s is %q after the acknowledgement", k0, got)
			}
			fake.FailFirst(1) // the page after the reopen is retried: under the same key
			act("escalate")
			if got := fake.Notified(); len(got) != 2 || got[1] != k1 {
				t.Fatalf("the page after the reopen notified nobody in PagerDuty: alerts opened %q, want %q then %q (events %q)",
					got, k0, k1, pdSeq(fake))
			}
			v := h.incident(id)
			if e := v.Timeline[len(v.Timeline)-1]; e.Type != "notify" || !strings.Contains(e.Detail, "dedup key "+k1) {
				t.Fatalf("the page after the reopen does not name its dedup key: %+v", e)
			}
			// Carol acknowledges the new alert in PagerDuty.
			ack := `{"event":{"event_type":"incident.acknowledged","agent":{"id":"PCAROL1","summary":"Carol","type":"user_reference"},"data":{"incident_key":"` + k1 + `"}}}`
			if code, body := fake.Webhook(t, h.url+pagerduty.WebhookPath, ack); code != 204 {
				t.Fatalf("webhook for %s: %d %s", k1, code, body)
			}
			if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "carol" {
				t.Fatalf("PagerDuty's acknowledgement of %s: incident %s by %q", k1, v.Status, v.AcknowledgedBy)
			}
			h.runUntil(h.clock.Now().Add(time.Minute))
			act("escalate")
			act("acknowledge")
			if got := fake.Notified(); len(got) != 3 || got[2] != k2 || fake.Alert(k2) != "acknowledged" {
				t.Fatalf("second reopen: alerts opened %q, %s %q (events %q)", got, k2, fake.Alert(k2), pdSeq(fake))
			}
			act("resolve")
			for _, k := range []string{k0, k1, k2} {
				if got := fake.Alert(k); got != "resolved" {
					t.Errorf("PagerDuty's alert %s is %q after the resolve (events %q)", k, got, pdSeq(fake))
				}
			}
			v = h.incident(id)
			if e := v.Timeline[len(v.Timeline)-1]; e.Type != "forwarded" || !strings.HasSuffix(e.Detail, "resolve, for carol") {
				t.Fatalf("timeline ends with %+v", e)
			}
		})
	}
}

// TestPagerDutyLateAcknowledgementOfTheOldAlert: Carol acknowledges in
// pagerd, which tells PagerDuty under the first key; before PagerDuty's
// incident.acknowledged webhook for that alert comes back, the incident is
// escalated, reopened and pushed to her anew under a new key. The late
// webhook (or Carol tapping acknowledge on the old alert) answers a page
// the reopen superseded: it is answered 204 and changes nothing, the
// timeline says why, and the pages go on (her SMS comes). The webhook for
// the new alert acknowledges; a resolve from the old alert resolves.
func TestPagerDutyLateAcknowledgementOfTheOldAlert(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake, h, id := pushedToCarol(t, mk(t))
			k0, k1 := pagerduty.DedupKey(id, "carol", 0), pagerduty.DedupKey(id, "carol", 1)
			act := carolActs(t, h, id)
			webhook := func(event, key string) {
				t.Helper()
				body := `{"event":{"event_type":"incident.` + event + `","agent":{"id":"PCAROL1","summary":"Carol","type":"user_reference"},"data":{"type":"incident","incident_key":"` + key + `"}}}`
				if code, resp := fake.Webhook(t, h.url+pagerduty.WebhookPath, body); code != 204 {
					t.Fatalf("webhook %s for %s: %d %s", event, key, code, resp)
				}
			}
			act("acknowledge")
			if got := fake.Alert(k0); got != "acknowledged" {
				t.Fatalf("the acknowledgement was not forwarded: %s is %q (events %q)", k0, got, pdSeq(fake))
			}
			act("escalate")
			if got := fake.Notified(); len(got) != 2 || got[1] != k1 {
				t.Fatalf("the page after the reopen: alerts opened %q, want %q then %q", got, k0, k1)
			}
			sms := len(h.rec.lines(fixedNow))

			webhook("acknowledged", k0)
			v := h.incident(id)
			if v.Status != "triggered" {
				t.Fatalf("PagerDuty's late acknowledgement of %s silenced the reopened incident: %s by %q", k0, v.Status, v.AcknowledgedBy)
			}
			if e := v.Timeline[len(v.Timeline)-1]; e.Type != "ack_ignored" || e.User != "carol" {
				t.Fatalf("the timeline does not say why the acknowledgement changed nothing: ends with %+v", e)
			}
			h.runUntil(h.clock.Now().Add(30 * time.Minute))
			if got := h.rec.lines(fixedNow); len(got) <= sms {
				t.Fatalf("no page went out after the late acknowledgement: %v", got)
			}

			webhook("acknowledged", k1)
			if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "carol" {
				t.Fatalf("PagerDuty's acknowledgement of %s: incident %s by %q", k1, v.Status, v.AcknowledgedBy)
			}
			act("escalate") // reopened again: k0 and k1 are both old now
			webhook("resolved", k0)
			if v := h.incident(id); v.Status != "resolved" || v.ResolvedBy != "carol" {
				t.Fatalf("a resolve from the alert before the reopens: incident %s by %q", v.Status, v.ResolvedBy)
			}
		})
	}
}

// pushedToCarol starts a daemon on st that pushes through a fake
// PagerDuty, and fires an incident that is pushed to carol.
func pushedToCarol(t *testing.T, st store.Store) (*providertest.PagerDuty, *harness, string) {
	fake := providertest.NewPagerDuty(t)
	h := newHarness(t, withStore(st), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"), fastRetries())
	id := fire(h)
	h.step(fixedNow)
	return fake, h, id
}

// carolActs returns what has carol act on incident id through the API
// (acknowledge, escalate, resolve) and lets the dispatcher work a minute.
func carolActs(t *testing.T, h *harness, id string) func(what string) {
	return func(what string) {
		t.Helper()
		if r := h.api("POST", "/api/v1/incidents/"+id+"/"+what, `{"user":"carol"}`); r.code != 200 {
			t.Fatalf("%s: %d %s", what, r.code, r.body)
		}
		h.runUntil(h.clock.Now().Add(time.Minute))
	}
}

// pdSeq is what PagerDuty was sent, for failure messages.
func pdSeq(fake *providertest.PagerDuty) []string {
	var seq []string
	for _, ev := range fake.Events() {
		seq = append(seq, ev.Action+" "+ev.DedupKey)
	}
	return seq
}

// TestAcknowledgementToldLateSparesTheReopenedIncident: carol acknowledges
// her PagerDuty page, and before the dispatcher tells PagerDuty, the
// incident is reopened (here her own escalate; an escalation, a worse
// repeat or a rule do the same) and paged under a new key. The late
// forward acknowledged every page in the timeline, the new one too:
// PagerDuty stopped notifying her, and its webhook for the new alert
// acknowledged the reopened incident in pagerd. Now only the pages of the
// incident as it was are told.
func TestAcknowledgementToldLateSparesTheReopenedIncident(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake, h, id := pushedToCarol(t, mk(t))
			k0, k1 := pagerduty.DedupKey(id, "carol", 0), pagerduty.DedupKey(id, "carol", 1)
			for _, what := range []string{"acknowledge", "escalate"} { // no dispatcher run between them
				if r := h.api("POST", "/api/v1/incidents/"+id+"/"+what, `{"user":"carol"}`); r.code != 200 {
					t.Fatalf("%s: %d %s", what, r.code, r.body)
				}
			}
			h.runUntil(h.clock.Now().Add(time.Minute))
			if fake.Alert(k1) != "triggered" || fake.Alert(k0) != "acknowledged" {
				t.Fatalf("PagerDuty's alerts: %s %s, %s %s; want the old one acknowledged, the reopened one triggered (sent %q)",
					k0, fake.Alert(k0), k1, fake.Alert(k1), pdSeq(fake))
			}
			if v := h.incident(id); v.Status != "triggered" {
				t.Fatalf("the reopened incident: %s", v.Status)
			}
		})
	}
}

// TestPagerDutyForwardOfAPageThatMayHaveBeenSent: PagerDuty took the push
// and answered too late: the page is recorded failed, "may have been
// sent", but PagerDuty has the alert open and notifies the person by its
// own rules. The acknowledgement in pagerd is told to PagerDuty all the
// same. (Before: only pages recorded sent were forwarded, and PagerDuty
// went on notifying the person of an incident acknowledged in pagerd.)
func TestPagerDutyForwardOfAPageThatMayHaveBeenSent(t *testing.T) {
	fake := providertest.NewPagerDuty(t)
	var slow atomic.Bool
	slow.Store(true)
	late := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slow.Load() {
			fake.ServeHTTP(w, r)
			return
		}
		fake.ServeHTTP(httptest.NewRecorder(), r) // taken, then answered too late
		<-r.Context().Done()
	}))
	defer late.Close()
	cfg := strings.Replace(pdConfig, "pagerduty: {", "pagerduty: {events_url: "+late.URL+", timeout: 200ms, ", 1)
	h := newHarness(t, withConfig(cfg), realTransport("pagerduty"), fastRetries())
	id := fire(h)
	h.step(fixedNow)
	if n := pdEvents(fake, id, "carol", "trigger"); n == 0 || !h.timelineHas(id, "notify_failed", "may have been sent") {
		t.Fatalf("%d triggers at PagerDuty; timeline %+v", n, h.incident(id).Timeline)
	}
	slow.Store(false)
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"carol"}`); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	h.step(fixedNow.Add(time.Second))
	if n := pdEvents(fake, id, "carol", "acknowledge"); n != 1 {
		t.Fatalf("PagerDuty got %d acknowledgements of the alert it may have opened, want 1; timeline %+v", n, h.incident(id).Timeline)
	}
	if got := fake.Alert(pagerduty.DedupKey(id, "carol", 0)); got != "acknowledged" {
		t.Fatalf("PagerDuty's alert is %q after the acknowledgement", got)
	}
}

// TestPagerDutyPageThatMayHaveBeenSentInAStormIsAcknowledgedUnderItsKey:
// ann's pushes go through PagerDuty and five P2 incidents start a storm;
// X's push is held for the storm message. Ann acknowledges X, then a
// critical alert raises it to P0: reopened, it is pushed at once under a
// key of its own (pagerd:X:ann:1), listed in the storm while the others
// wait. PagerDuty takes that trigger and answers too late: the page is
// "may have been sent", held again for the message, and PagerDuty has an
// alert open under the new key. Ann's acknowledgement must reach that
// alert. (Before: the hold's note followed the dedup key in the timeline
// entry, "…:ann:1; alert storm: …", the key read back as "…:1;" did not
// parse, and the acknowledgement went to the first key: PagerDuty went on
// notifying ann of an incident acknowledged in pagerd.)
func TestPagerDutyPageThatMayHaveBeenSentInAStormIsAcknowledgedUnderItsKey(t *testing.T) {
	fake := providertest.NewPagerDuty(t)
	var slowKey atomic.Value
	slowKey.Store("")
	late := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if k := slowKey.Load().(string); k == "" || !bytes.Contains(body, []byte(`"`+k+`"`)) {
			fake.ServeHTTP(w, r)
			return
		}
		fake.ServeHTTP(httptest.NewRecorder(), r) // taken, then answered too late
		<-r.Context().Done()
	}))
	defer late.Close()
	cfg := strings.Replace(stormConfig, "{id: ann, name: Ann, contacts: [{channel: push, via: log}",
		"{id: ann, name: Ann, contacts: [{channel: push, via: pagerduty, address: "+pdUserKey+"}", 1) +
		"notifiers:\n  pagerduty: {events_url: " + late.URL + ", timeout: 200ms, webhook_secret: " + providertest.PagerDutyWebhookSecret + "}\n"
	h := newHarness(t, withConfig(cfg), realTransport("pagerduty"), fastRetries())
	var ids, held []string
	for i := 0; i < 5; i++ {
		ids = append(ids, fireAs(h, amKey, fmt.Sprintf("warn%d", i), "warning"))
	}
	h.step(fixedNow)
	for _, id := range ids {
		if len(entriesOf(timeline(h, id), "notify_held", "push")) == 1 {
			held = append(held, id)
		}
	}
	if len(held) != 2 {
		t.Fatalf("%d pushes held for the storm message, want 2", len(held))
	}
	x := held[0]
	h.clock.Set(fixedNow.Add(time.Second))
	if r := h.api("POST", "/api/v1/incidents/"+x+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	k1 := pagerduty.DedupKey(x, "ann", 1)
	slowKey.Store(k1)
	h.clock.Set(fixedNow.Add(2 * time.Second))
	raise(h, fmt.Sprintf("warn%d", slices.Index(ids, x)))
	h.step(fixedNow.Add(2 * time.Second))
	slowKey.Store("")
	if !h.timelineHas(x, "notify_failed", "may have been sent") || !h.timelineHas(x, "notify_failed", "held to go out") ||
		fake.Alert(k1) != "triggered" {
		t.Fatalf("PagerDuty's alert %s is %q; timeline %+v", k1, fake.Alert(k1), h.incident(x).Timeline)
	}
	h.clock.Set(fixedNow.Add(3 * time.Second))
	if r := h.api("POST", "/api/v1/incidents/"+x+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	h.step(fixedNow.Add(3 * time.Second))
	if got := fake.Alert(k1); got != "acknowledged" {
		t.Fatalf("PagerDuty's alert %s, of the page that may have been sent, is %q after the acknowledgement; timeline %+v",
			k1, got, h.incident(x).Timeline)
	}
}

// TestPagerDutyWebhookWrongSecretIsWarned: a webhook signed with another
// secret (PagerDuty's, after a rotation on one side only) is refused, and
// said at warn, once a minute with the count refused since: before, only
// the request line at debug said so, while every acknowledgement made in
// PagerDuty was refused and pagerd went on escalating. Webhooks without a
// signature, or with a malformed one, are no one's: they stay at debug.
func TestPagerDutyWebhookWrongSecretIsWarned(t *testing.T) {
	h := newHarness(t, withConfig(pdConfig))
	ack := `{"event":{"event_type":"incident.acknowledged","data":{"incident_key":"x"}}}`
	post := func(sig string) {
		t.Helper()
		hdr := []string{}
		if sig != "" {
			hdr = append(hdr, "X-PagerDuty-Signature", sig)
		}
		if r := h.do("POST", pagerduty.WebhookPath, ack, hdr...); r.code != 403 {
			t.Fatalf("webhook signed %q: %d %s", sig, r.code, r.body)
		}
	}
	const msg = "pagerduty: a webhook whose X-PagerDuty-Signature does not match notifiers.pagerduty.webhook_secret was refused"
	warned := func() []string { return h.logLines("WARN", msg) }
	post("")
	post("v1=not-hex")
	if got := warned(); len(got) != 0 {
		t.Fatalf("a webhook without a valid-looking signature warned: %v", got)
	}
	forged := providertest.PagerDutySign([]byte(ack), "the-old-secret")
	post(forged)
	post(forged)
	post(forged)
	if got := warned(); len(got) != 1 {
		t.Fatalf("%d warnings for 3 webhooks with the wrong secret within a minute, want 1:\n%s", len(got), h.logs.String())
	}
	h.clock.Set(fixedNow.Add(time.Minute))
	post(forged)
	got := warned()
	if len(got) != 2 || !strings.Contains(got[1], `"refused_since_last_warning":2`) {
		t.Fatalf("a minute later: %v, want a second warning counting the 2 refused since", got)
	}
}
