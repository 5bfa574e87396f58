package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/policy"
)

// An acknowledgement stops every pending step of its incident, the pages
// already being retried or waiting for their provider included: before
// each try after the first, and after a wait for a rate limit or a
// connection, the send asks the store whether the page's step is still
// pending (notify.WithStillDue).

// daemonChain is the notifier chain as the daemon builds it (breaker,
// retries) around rec, with fast retries.
func daemonChain(rec notify.Notifier, edit func(*notify.ChainOptions)) notify.Notifier {
	o := notify.DefaultChainOptions
	o.RetryBase = time.Millisecond
	if edit != nil {
		edit(&o)
	}
	return notify.Chain(rec, o)
}

// delivered lists the messages rec got as "user channel".
func delivered(rec *recorder) []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []string
	for _, m := range rec.msgs {
		out = append(out, m.User+" "+m.Channel)
	}
	return out
}

// pageEntries lists a timeline's page entries (notify, notify_failed) as
// "type:channel".
func pageEntries(tl []store.Entry) []string {
	var out []string
	for _, e := range tl {
		if strings.HasPrefix(e.Type, "notify") {
			out = append(out, e.Type+":"+e.Channel)
		}
	}
	return out
}

// failOnceWhile makes rec's first sms answer a 503 after doing what (a
// person acting meanwhile), and counts rec's sms tries.
func failOnceWhile(rec *recorder, what func()) *atomic.Int32 {
	return failOnceFor(rec, func(m notify.Message) bool { return m.Channel == "sms" }, what)
}

// failOnceFor is failOnceWhile for the messages match picks.
func failOnceFor(rec *recorder, match func(notify.Message) bool, what func()) *atomic.Int32 {
	return failOnceWith(rec, match, notify.Temporary(errors.New("twilio: 503 service unavailable")), what)
}

// failOnceWith is failOnceFor with the provider's answer fail (a 429, say).
func failOnceWith(rec *recorder, match func(notify.Message) bool, fail error, what func()) *atomic.Int32 {
	var once sync.Once
	tries := &atomic.Int32{}
	rec.fail = func(m notify.Message) error {
		if !match(m) {
			return nil
		}
		tries.Add(1)
		var err error
		once.Do(func() {
			what()
			err = fail
		})
		return err
	}
	return tries
}

// TestAckDuringARetriedPageStopsIt: the SMS step is claimed and Twilio
// answers its first try with a 503; while the retrier backs off, the
// person acknowledges through the API and is told "acknowledged". The
// retry is not made: no SMS goes out after the acknowledgement, the
// timeline records no page for it (nor a failure), the page counts as
// called off, and the rest of the ladder (the call, the next level) stays
// stopped.
func TestAckDuringARetriedPageStopsIt(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			h := newHarness(t, withStore(open(t)), withNotifier("log", daemonChain(rec, nil)))
			var id string
			var ack response
			tries := failOnceWhile(rec, func() {
				ack = h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`)
			})
			id = fire(h)
			h.step(fixedNow)
			h.step(fixedNow.Add(2 * time.Minute))
			if ack.code != 200 || !strings.Contains(ack.body, `"acknowledged"`) {
				t.Fatalf("ack: %d %s", ack.code, ack.body)
			}
			if got := delivered(rec); strings.Join(got, ",") != "ann push" || tries.Load() != 1 {
				t.Fatalf("delivered %v after %d sms tries; want the push alone, the SMS tried once (not after the ack)", got, tries.Load())
			}
			if got := pageEntries(timeline(h, id)); strings.Join(got, ",") != "notify:push" {
				t.Fatalf("timeline pages %v, want notify:push alone", got)
			}
			if v := metric(t, h.reg, "pagerd_pages_total", "channel", "sms", "result", "called_off"); v != 1 {
				t.Fatalf("pagerd_pages_total{channel=sms,result=called_off} = %v, want 1", v)
			}
			if v := metric(t, h.reg, "pagerd_pages_total", "channel", "sms", "result", "failed"); v != 0 {
				t.Fatalf("pagerd_pages_total{channel=sms,result=failed} = %v, want 0", v)
			}
			h.runUntil(fixedNow.Add(time.Hour))
			if got := delivered(rec); strings.Join(got, ",") != "ann push" {
				t.Fatalf("delivered %v within the hour after the ack; want the push alone", got)
			}
			if s := h.incident(id).Status; s != "acknowledged" {
				t.Fatalf("status %q", s)
			}
		})
	}
}

// TestOtherChangeDuringARetriedPageSendsIt: what changes the incident
// without taking the step out (a status update) does not call the retry
// off: the SMS goes out on its second try and is recorded once.
func TestOtherChangeDuringARetriedPageSendsIt(t *testing.T) {
	rec := &recorder{}
	h := newHarness(t, withNotifier("log", daemonChain(rec, nil)))
	var id string
	var upd response
	tries := failOnceWhile(rec, func() {
		upd = h.api("POST", "/api/v1/incidents/"+id+"/status", `{"user":"ann","message":"looking"}`)
	})
	id = fire(h)
	h.step(fixedNow)
	h.step(fixedNow.Add(2 * time.Minute))
	if upd.code != 200 {
		t.Fatalf("status update: %d %s", upd.code, upd.body)
	}
	if got := delivered(rec); strings.Join(got, ",") != "ann push,ann sms" || tries.Load() != 2 {
		t.Fatalf("delivered %v after %d sms tries; want push and sms, on its second try", got, tries.Load())
	}
	if got := pageEntries(timeline(h, id)); strings.Join(got, ",") != "notify:push,notify:sms" {
		t.Fatalf("timeline pages %v, want notify:push,notify:sms", got)
	}
	if v := metric(t, h.reg, "pagerd_pages_total", "result", "called_off"); v != 0 {
		t.Fatalf("pagerd_pages_total{result=called_off} = %v, want 0", v)
	}
}

// rulesAtOnceConfig is testConfig with ann's push and SMS both due at
// once.
var rulesAtOnceConfig = strings.Replace(testConfig,
	`{id: ann, name: Ann, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}`,
	`{id: ann, name: Ann, contacts: [{channel: push, via: log}, {channel: sms, via: log}], notification_rules: {high: [{after: 0s, channel: push}, {after: 0s, channel: sms}]}}`, 1)

// TestAckDuringARateLimitWaitStopsThePage: ann's push and SMS are due at
// once through a provider that takes one page every 2 s. The first to get
// through is answered with an acknowledgement; the other, waiting for the
// rate limit meanwhile, is not sent when its turn comes.
func TestAckDuringARateLimitWaitStopsThePage(t *testing.T) {
	if !strings.Contains(rulesAtOnceConfig, "after: 0s, channel: sms") {
		t.Fatal("the config edit did not apply")
	}
	rec := &recorder{}
	h := newHarness(t, withConfig(rulesAtOnceConfig),
		withNotifier("log", daemonChain(rec, func(o *notify.ChainOptions) { o.PerSecond, o.Burst = 0.5, 1 })))
	var id string
	var once sync.Once
	var ack response
	rec.fail = func(notify.Message) error {
		once.Do(func() { ack = h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`) })
		return nil
	}
	id = fire(h)
	h.step(fixedNow)
	if ack.code != 200 {
		t.Fatalf("ack: %d %s", ack.code, ack.body)
	}
	got := delivered(rec)
	if len(got) != 1 {
		t.Fatalf("delivered %v; want one page, the other called off in its rate-limit wait", got)
	}
	channel := strings.TrimPrefix(got[0], "ann ")
	if pages := pageEntries(timeline(h, id)); strings.Join(pages, ",") != "notify:"+channel {
		t.Fatalf("timeline pages %v, want notify:%s alone", pages, channel)
	}
	if v := metric(t, h.reg, "pagerd_pages_total", "result", "called_off"); v != 1 {
		t.Fatalf("pagerd_pages_total{result=called_off} = %v, want 1", v)
	}
}

// ackWhileTheSMSIsRetried fires an alert on st and has ann acknowledge it
// while its SMS is retried (Twilio's 503 to the first try), arming st's
// next failed reads meanwhile; it returns the harness, what was delivered
// and the incident.
func ackWhileTheSMSIsRetried(t *testing.T, st *getFails, failed int32) (*harness, *recorder, string) {
	t.Helper()
	rec := &recorder{}
	h := newHarness(t, withStore(st), withNotifier("log", daemonChain(rec, nil)))
	var id string
	var ack response
	failOnceWhile(rec, func() {
		ack = h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`)
		st.armed.Store(failed)
	})
	id = fire(h)
	h.step(fixedNow)
	h.step(fixedNow.Add(2 * time.Minute))
	if ack.code != 200 {
		t.Fatalf("ack: %d %s", ack.code, ack.body)
	}
	return h, rec, id
}

// getFails is a store whose next Gets fail (armed: how many), each with
// fail (a store that does not answer when nil).
type getFails struct {
	store.Store
	armed  atomic.Int32
	failed atomic.Int32
	fail   error
}

func (g *getFails) Get(ctx context.Context, id string) (*store.Incident, error) {
	if g.armed.Add(-1) >= 0 {
		g.failed.Add(1)
		if g.fail != nil {
			return nil, g.fail
		}
		return nil, fmt.Errorf("%w: redis: dial tcp 127.0.0.1:6379: connect: connection refused", store.ErrUnavailable)
	}
	g.armed.Store(0)
	return g.Store.Get(ctx, id)
}

// TestStillDueReadFailureSendsThePage: the person acknowledges while the
// SMS is retried, but the store read that would tell fails: the SMS goes
// out (a page after an acknowledgement beats a missed page), is recorded,
// and the daemon says why it went.
func TestStillDueReadFailureSendsThePage(t *testing.T) {
	st := &getFails{Store: boltStore(t)}
	h, rec, id := ackWhileTheSMSIsRetried(t, st, 2)
	if st.failed.Load() != 2 {
		t.Fatalf("%d store reads failed, want the check's two (the read and the one more try)", st.failed.Load())
	}
	if got := delivered(rec); strings.Join(got, ",") != "ann push,ann sms" {
		t.Fatalf("delivered %v; want the SMS sent when the check could not tell", got)
	}
	if got := pageEntries(timeline(h, id)); strings.Join(got, ",") != "notify:push,notify:sms" {
		t.Fatalf("timeline pages %v, want notify:push,notify:sms", got)
	}
	if !strings.Contains(h.logs.String(), "could not tell whether a page retried is still due; it goes out") {
		t.Fatalf("no warning that the check failed:\n%s", h.logs.String())
	}
}

// TestStillDueReadFailingOnceIsMadeAgain: the person acknowledges while
// the SMS is retried, and the store read that would tell fails at once,
// as the first command on a connection a Redis restart closed does (EOF):
// it is made once more, which tells, and the SMS is called off. Sent, it
// paged after the acknowledgement (the fault soak: 3.4 s after a
// resolve). A read that ran out of time is not made again: the page
// would wait that long once more.
func TestStillDueReadFailingOnceIsMadeAgain(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fail  error
		sent  bool
		reads int32
	}{
		{"connection closed", fmt.Errorf("%w: redis: %w", store.ErrUnavailable, io.EOF), false, 1},
		{"timed out", fmt.Errorf("%w: redis: %w", store.ErrUnavailable, context.DeadlineExceeded), true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &getFails{Store: boltStore(t), fail: tc.fail}
			_, rec, _ := ackWhileTheSMSIsRetried(t, st, 1)
			if st.failed.Load() != tc.reads {
				t.Fatalf("%d store reads failed, want %d", st.failed.Load(), tc.reads)
			}
			want := "ann push"
			if tc.sent {
				want = "ann push,ann sms"
			}
			if got := delivered(rec); strings.Join(got, ",") != want {
				t.Fatalf("delivered %v; want %s", got, want)
			}
		})
	}
}

// TestAckDuringARetriedStormMessage: an alert-storm message carries two
// held incidents and its first try fails. Acknowledged both meanwhile, it
// is not sent again and their timelines keep only notify_held; with one
// of them still triggered, it goes again naming that one only (before, it
// named the acknowledged one too), and the acknowledged one's timeline
// keeps only notify_held.
func TestAckDuringARetriedStormMessage(t *testing.T) {
	for _, acked := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d of 2 acknowledged", acked), func(t *testing.T) {
			rec := &recorder{}
			h := newHarness(t, withConfig(stormConfig), withNotifier("log", daemonChain(rec, nil)))
			ids := storm(h, 5, "a")
			h.step(fixedNow)
			_, held := split(t, ids, rec.sentTo("ann", "push"))
			var once sync.Once
			tries := 0
			rec.fail = func(m notify.Message) error {
				if len(m.Incidents) == 0 {
					return nil
				}
				tries++
				var err error
				once.Do(func() {
					for _, id := range held[:acked] {
						if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
							t.Errorf("ack %s: %d %s", id, r.code, r.body)
						}
					}
					err = notify.Temporary(errors.New("503"))
				})
				return err
			}
			h.step(fixedNow.Add(10 * time.Second))
			bundles := 0
			for _, m := range rec.sentTo("ann", "push") {
				if len(m.Incidents) > 0 {
					bundles++
				}
			}
			want := map[int]int{1: 1, 2: 0}[acked]
			if bundles != want || tries != 1+want {
				t.Fatalf("%d storm messages delivered after %d tries, want %d", bundles, tries, want)
			}
			for _, m := range rec.sentTo("ann", "push") {
				if len(m.Incidents) > 0 && !slices.Equal(m.Incidents, held[acked:]) {
					t.Fatalf("the storm message names %v, want %v (not those acknowledged)", m.Incidents, held[acked:])
				}
			}
			for i, id := range held {
				more := 0
				if i >= acked {
					more = want
				}
				if got := pageEntries(timeline(h, id)); len(got) != 1+more {
					t.Fatalf("incident %s: timeline pages %v, want notify_held and %d more", id, got, more)
				}
			}
			if v := metric(t, h.reg, "pagerd_storm_bundles_total", "result", "called_off"); v != float64(1-want) {
				t.Fatalf("pagerd_storm_bundles_total{result=called_off} = %v, want %d", v, 1-want)
			}
		})
	}
}

// TestStormMessageStillDueReadFailingOnceIsMadeAgain: both incidents of
// a retried alert-storm message are acknowledged, and the read of their
// statuses fails at once (EOF, a connection a Redis restart closed): it
// is made once more, which tells, and the message is called off.
func TestStormMessageStillDueReadFailingOnceIsMadeAgain(t *testing.T) {
	st := &statusesFail{Store: boltStore(t)}
	rec := &recorder{}
	h := newHarness(t, withStore(st), withConfig(stormConfig), withNotifier("log", daemonChain(rec, nil)))
	ids := storm(h, 5, "a")
	h.step(fixedNow)
	_, held := split(t, ids, rec.sentTo("ann", "push"))
	var once sync.Once
	rec.fail = func(m notify.Message) error {
		if len(m.Incidents) == 0 {
			return nil
		}
		var err error
		once.Do(func() {
			for _, id := range held {
				if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
					t.Errorf("ack %s: %d %s", id, r.code, r.body)
				}
			}
			st.armed.Store(true)
			err = notify.Temporary(errors.New("503"))
		})
		return err
	}
	h.step(fixedNow.Add(10 * time.Second))
	if st.failed.Load() != 1 {
		t.Fatalf("%d status reads failed, want 1", st.failed.Load())
	}
	for _, m := range rec.sentTo("ann", "push") {
		if len(m.Incidents) > 0 {
			t.Fatalf("a storm message of acknowledged incidents went out: %+v", m)
		}
	}
	if v := metric(t, h.reg, "pagerd_storm_bundles_total", "result", "called_off"); v != 1 {
		t.Fatalf("pagerd_storm_bundles_total{result=called_off} = %v, want 1", v)
	}
}

// statusesFail is a store whose next Statuses fails at once (armed), as a
// connection a Redis restart closed.
type statusesFail struct {
	store.Store
	armed  atomic.Bool
	failed atomic.Int32
}

func (s *statusesFail) Statuses(ctx context.Context, ids []string) (map[string]policy.Status, error) {
	if s.armed.CompareAndSwap(true, false) {
		s.failed.Add(1)
		return nil, fmt.Errorf("%w: redis: %w", store.ErrUnavailable, io.EOF)
	}
	return s.Store.Statuses(ctx, ids)
}

// TestEscalationPageRetried: the level's timeout escalates to bob, whose
// push, armed and due in the same claim, fails its first try. An
// acknowledgement meanwhile took the escalation out of the incident: the
// push is called off. A status update took nothing out: it goes out on its
// second try, not called off.
func TestEscalationPageRetried(t *testing.T) {
	for _, tc := range []struct {
		name, action string
		sent         bool
	}{
		{"acknowledged", "acknowledge", false},
		{"status update", "status", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			h := newHarness(t, withNotifier("log", daemonChain(rec, nil)))
			id := fire(h)
			h.runUntil(fixedNow.Add(10 * time.Minute))
			var once sync.Once
			var r response
			rec.fail = func(m notify.Message) error {
				if m.User != "bob" {
					return nil
				}
				var err error
				once.Do(func() {
					r = h.api("POST", "/api/v1/incidents/"+id+"/"+tc.action, `{"user":"bob","message":"looking"}`)
					err = notify.Temporary(errors.New("503"))
				})
				return err
			}
			h.step(fixedNow.Add(15 * time.Minute))
			if r.code != 200 {
				t.Fatalf("%s: %d %s", tc.action, r.code, r.body)
			}
			want := "ann push,ann sms,ann voice"
			if tc.sent {
				want += ",bob push"
			}
			if got := strings.Join(delivered(rec), ","); got != want {
				t.Fatalf("delivered %s, want %s", got, want)
			}
			calledOff := metric(t, h.reg, "pagerd_pages_total", "result", "called_off")
			if want := map[bool]float64{true: 0, false: 1}[tc.sent]; calledOff != want {
				t.Fatalf("pagerd_pages_total{result=called_off} = %v, want %v", calledOff, want)
			}
		})
	}
}

// TestAckDuringARetriedPageAtAWindowEndStopsIt: a maintenance window ends
// and pages the incident it held as new; the push fails its first try and
// the person acknowledges meanwhile. The window's end stays pending (an
// acknowledgement leaves it), but it pages only a triggered incident: the
// push is called off.
func TestAckDuringARetriedPageAtAWindowEndStopsIt(t *testing.T) {
	rec := &recorder{}
	h := newHarness(t, withConfig(mwConfig), withNotifier("log", daemonChain(rec, nil)))
	w := h.addWindow(`{"name":"failover","services":["api"],"matchers":["team=\"db\""],"duration":"30m","reason":"planned failover"}`, 201)
	held := fireLabels(h, "g-db", map[string]string{"alertname": "Replication", "severity": "critical", "team": "db"})
	h.runUntil(w.End.Add(-time.Minute))
	var once sync.Once
	var ack response
	rec.fail = func(notify.Message) error {
		var err error
		once.Do(func() {
			ack = h.api("POST", "/api/v1/incidents/"+held+"/acknowledge", `{"user":"ann"}`)
			err = notify.Temporary(errors.New("503"))
		})
		return err
	}
	h.step(w.End)
	if ack.code != 200 {
		t.Fatalf("ack: %d %s", ack.code, ack.body)
	}
	if got := delivered(rec); len(got) != 0 {
		t.Fatalf("delivered %v, want nothing after the acknowledgement", got)
	}
	if got := pageEntries(timeline(h, held)); len(got) != 0 {
		t.Fatalf("timeline pages %v, want none", got)
	}
	if v := metric(t, h.reg, "pagerd_pages_total", "result", "called_off"); v != 1 {
		t.Fatalf("pagerd_pages_total{result=called_off} = %v, want 1", v)
	}
}
