package gateway

import (
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/notify"
)

// When the incident changes between a step's pages going out and the step
// being recorded (store.ErrConflict from Finish), the dispatcher works the
// fresh incident again: it must neither page again what went out nor lose
// what the timeline says about it.

// unresolvedConfig is dispatchConfig with an unresolved rule that pages the
// secondary after an hour, and a status-update clock on acknowledged
// incidents (so a status update arms a deadline of its own).
var unresolvedConfig = strings.Replace(dispatchConfig,
	"      - {name: secondary, targets: [{schedule: s, tier: secondary}]}\n",
	"      - {name: secondary, targets: [{schedule: s, tier: secondary}]}\n"+
		"    unresolved: [{priorities: [P0], after: 1h, notify: [{level: secondary}]}]\n"+
		"    missing_status_update: [{priorities: [P0], after: 2h}]\n", 1)

// onFirstPage runs what, once, when the first page matching match is sent
// through rec (a person acting while the page goes out, before it is
// recorded).
func onFirstPage(rec *recorder, match func(notify.Message) bool, what func()) {
	var once sync.Once
	rec.fail = func(m notify.Message) error {
		if match(m) {
			once.Do(what)
		}
		return nil
	}
}

// sentTo is what rec delivered as "user channel", each page once per send.
func sentTo(rec *recorder, user, channel string) int {
	n := 0
	for _, p := range delivered(rec) {
		if p == user+" "+channel {
			n++
		}
	}
	return n
}

// TestUnresolvedRuleRacingAStatusUpdatePagesOnce: an unresolved rule fires
// on an acknowledged incident (it reopens it and pushes the secondary at
// once); while the push goes out, someone posts a status update, which
// arms the status-update clock, so the step's write meets a changed
// incident. Fired again on the fresh incident, the rule arms Bob's push
// with another id: it must not go out a second time, and it is recorded
// once, with the rule's escalation and the status update.
func TestUnresolvedRuleRacingAStatusUpdatePagesOnce(t *testing.T) {
	if !strings.Contains(unresolvedConfig, "unresolved:") {
		t.Fatal("the config edit did not apply")
	}
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			h := newHarness(t, withStore(open(t)), withConfig(unresolvedConfig), withNotifier("log", rec))
			id := fire(h)
			h.step(fixedNow)
			h.clock.Set(fixedNow.Add(time.Minute))
			if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("ack: %d %s", r.code, r.body)
			}
			var upd response
			onFirstPage(rec, func(m notify.Message) bool { return m.User == "bob" && m.Channel == "push" }, func() {
				upd = h.api("POST", "/api/v1/incidents/"+id+"/status", `{"user":"ann","message":"still digging"}`)
			})
			h.step(fixedNow.Add(time.Hour))
			if upd.code != 200 {
				t.Fatalf("status update while the push went out: %d %s", upd.code, upd.body)
			}
			if n := sentTo(rec, "bob", "push"); n != 1 {
				t.Fatalf("Bob was pushed %d times by the unresolved rule (delivered %v), want once", n, delivered(rec))
			}
			tl := timeline(h, id)
			if n := len(entriesOf(tl, "notify", "push")); n != 2 { // ann's at 0, bob's at 1h
				t.Fatalf("%d push entries in the timeline, want ann's and bob's: %+v", n, tl)
			}
			if !h.timelineHas(id, "escalate", "unresolved after 1h") || !h.timelineHas(id, "status_update", "still digging") {
				t.Fatalf("the rule's escalation or the status update is not in the timeline: %+v", tl)
			}
			// The rest of Bob's ladder runs once too.
			h.runUntil(fixedNow.Add(time.Hour + 6*time.Minute))
			if got := strings.Join(delivered(rec), ","); got != "ann push,bob push,bob sms" {
				t.Fatalf("delivered %s", got)
			}
		})
	}
}

// TestAckBetweenSendAndRecordKeepsTheEscalation: the level timeout at 15
// min pages the secondary; Bob acknowledges as his push arrives, before
// the step is recorded. The fresh incident no longer has the timeout (the
// acknowledgement took it out), so it is not fired again, yet its page
// went out: the timeline records the escalation that explains it, the
// push and the acknowledgement, and Bob is not pushed again.
func TestAckBetweenSendAndRecordKeepsTheEscalation(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			h := newHarness(t, withStore(open(t)), withConfig(dispatchConfig), withNotifier("log", rec))
			id := fire(h)
			h.runUntil(fixedNow.Add(14 * time.Minute))
			var ack response
			onFirstPage(rec, func(m notify.Message) bool { return m.User == "bob" }, func() {
				ack = h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"bob"}`)
			})
			h.step(fixedNow.Add(15 * time.Minute))
			if ack.code != 200 {
				t.Fatalf("ack: %d %s", ack.code, ack.body)
			}
			var got []string
			for _, e := range timeline(h, id) {
				if e.At.Before(fixedNow.Add(15 * time.Minute)) {
					continue
				}
				got = append(got, e.Type+" "+e.User+" "+e.Channel)
			}
			sort.Strings(got) // the order of one instant's entries is the order of their writes
			if want := "ack bob ,escalate  ,notify bob push"; strings.Join(got, ",") != want {
				t.Fatalf("timeline from 15m: %q, want %q", got, want)
			}
			if !h.timelineHas(id, "escalate", "not acknowledged within 15m") {
				t.Fatalf("the escalation does not say why: %+v", timeline(h, id))
			}
			h.runUntil(fixedNow.Add(time.Hour))
			if n := sentTo(rec, "bob", "push"); n != 1 {
				t.Fatalf("Bob pushed %d times, want once", n)
			}
		})
	}
}

// TestRefusedPageBringsTheNextStepForward: Twilio refuses Dan's SMS at
// once, for good (21610: he texted STOP). Like an "undelivered" report of
// the same SMS, the refusal brings his call to now, not 3 minutes later.
func TestRefusedPageBringsTheNextStepForward(t *testing.T) {
	refuse := &recorder{fail: func(m notify.Message) error {
		return errors.New("twilio: 400 Attempt to send to unsubscribed recipient (code 21610)")
	}}
	h := newHarness(t, withConfig(twilioConfig), withNotifier("twilio", refuse))
	id := fire(h)
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if got := strings.Join(h.rec.lines(fixedNow), ","); got != "0s L1 dan push,2m L1 dan voice" {
		t.Fatalf("SMS refused for good at 2m; pages through log by then: %s, want the call at 2m", got)
	}
	h.runUntil(fixedNow.Add(10 * time.Minute))
	if got := strings.Join(h.rec.lines(fixedNow), ","); got != "0s L1 dan push,2m L1 dan voice" {
		t.Fatalf("pages through log: %s", got)
	}
	if got := pageEntries(timeline(h, id)); strings.Join(got, ",") != "notify:push,notify_failed:sms,notify:voice" {
		t.Fatalf("timeline pages %v", got)
	}
}

// TestRefusedPageRacingAnUpdateBringsTheNextStepForward: the SMS is
// refused while a status update changes the incident; the write of the
// step is worked again on the fresh incident, and the call still comes
// forward, once.
func TestRefusedPageRacingAnUpdateBringsTheNextStepForward(t *testing.T) {
	rec := &recorder{}
	h := newHarness(t, withConfig(dispatchConfig), withNotifier("log", rec))
	var id string
	var once sync.Once
	var upd response
	rec.fail = func(m notify.Message) error {
		if m.Channel != "sms" {
			return nil
		}
		once.Do(func() { upd = h.api("POST", "/api/v1/incidents/"+id+"/status", `{"user":"ann","message":"on it"}`) })
		return errors.New("carrier said no")
	}
	id = fire(h)
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if upd.code != 200 {
		t.Fatalf("status update: %d %s", upd.code, upd.body)
	}
	h.runUntil(fixedNow.Add(10 * time.Minute))
	if got := strings.Join(delivered(rec), ","); got != "ann push,ann voice" {
		t.Fatalf("delivered %s", got)
	}
	var voiceAt []time.Time
	for _, e := range entriesOf(timeline(h, id), "notify", "voice") {
		voiceAt = append(voiceAt, e.At)
	}
	if len(voiceAt) != 1 || !voiceAt[0].Equal(fixedNow.Add(2*time.Minute)) {
		t.Fatalf("voice recorded at %v, want once at 2m", voiceAt)
	}
	if n := len(entriesOf(timeline(h, id), "notify_failed", "sms")); n != 1 {
		t.Fatalf("%d sms failures recorded, want 1", n)
	}
}

// TestJournaledEscalationPageIsRecordedWithItsEscalation: the level
// timeout at 15 min pushes Bob and the store refuses the record. The
// timeout is still pending, so the push belongs to its firing: the
// journal's own look at the incident (recordJournal, before any claim)
// leaves it to the claim, and the claim records it, with the escalation,
// without pushing Bob again. Recorded on its own first, the push left the
// timeout to fire again and push Bob a second time.
func TestJournaledEscalationPageIsRecordedWithItsEscalation(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fs := &faultyStore{Store: open(t)}
			h := newHarness(t, withStore(fs), withConfig(dispatchConfig), replicas(0))
			a, _ := h.dispatcher(func(o *dispatch.Options) { o.Lease, o.RecordRetry = 5*time.Second, 30*time.Millisecond })
			h.disp = []*dispatch.Dispatcher{a}
			id := fire(h)
			h.runUntil(fixedNow.Add(14 * time.Minute))
			fs.refuseRecords.Store(true)
			h.step(fixedNow.Add(15 * time.Minute))
			fs.refuseRecords.Store(false)
			fs.hideClaims.Store(true)
			h.step(fixedNow.Add(15*time.Minute + 5*time.Second)) // the lease's end: the journal looks first
			fs.hideClaims.Store(false)
			h.step(fixedNow.Add(15*time.Minute + 5*time.Second))
			if got := strings.Join(h.rec.lines(fixedNow), ","); got != "0s L1 ann push,2m L1 ann sms,5m L1 ann voice,15m L2 bob push" {
				t.Fatalf("pages: %s", got)
			}
			if got := timelineTypes(h.incident(id)); got != "trigger,notify,notify,notify,escalate,notify" {
				t.Fatalf("timeline %s", got)
			}
		})
	}
}
