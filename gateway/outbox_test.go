package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
)

const pdDaveKey = "davepd0000000000000000000000000b"

// forwardConfig is pdConfig with PagerDuty's Events API at pdURL, Slack's
// Web API at slackURL and the api service's incidents in
// #incident-response: an acknowledgement owes both. With dave, the level
// also pages dave through PagerDuty, on a routing key of his own.
func forwardConfig(t *testing.T, pdURL, slackURL string, dave bool) string {
	t.Helper()
	cfg := pdConfig
	for _, r := range []struct{ old, new string }{
		{"pagerduty: {", "slack: {bot_token: " + providertest.SlackBotToken + ", signing_secret: " + providertest.SlackSigningSecret +
			`, api_url: "` + slackURL + `"}` + "\n  pagerduty: {events_url: " + pdURL + ", "},
		{"    integrations: {", "    slack_channel: \"#incident-response\"\n    integrations: {"},
	} {
		if !strings.Contains(cfg, r.old) {
			t.Fatalf("pdConfig has no %q to change", r.old)
		}
		cfg = strings.Replace(cfg, r.old, r.new, 1)
	}
	if dave {
		level := "targets: [{schedule: s, tier: primary}]"
		if !strings.Contains(cfg, level) {
			t.Fatalf("pdConfig has no %q to change", level)
		}
		cfg = strings.Replace(cfg, level, "targets: [{schedule: s, tier: primary}, {user: dave}]", 1)
		cfg = strings.Replace(cfg, "schedules:", "  - {id: dave, name: Dave, contacts: [{channel: push, via: pagerduty, address: "+pdDaveKey+"}]}\nschedules:", 1)
	}
	return cfg
}

// secondAckFails is PagerDuty's Events API in front of the fake: once
// armed, it answers 500 to the second acknowledgement it gets (whoever's
// it is), once, after calling meanwhile (unless nil), and passes
// everything else on. It returns its URL and what arms it.
func secondAckFails(t *testing.T, fake *providertest.PagerDuty, meanwhile func()) (string, func()) {
	var mu sync.Mutex
	acks := -1 // not armed
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			Action string `json:"event_action"`
		}
		_ = json.Unmarshal(body, &ev)
		mu.Lock()
		if acks >= 0 && ev.Action == "acknowledge" {
			acks++
		}
		fail := acks == 2
		mu.Unlock()
		if fail {
			if meanwhile != nil {
				meanwhile()
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(500)
			_, _ = w.Write([]byte(`{"status":"error","message":"internal error"}`))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s.URL, func() { mu.Lock(); defer mu.Unlock(); acks = 0 }
}

// TestOutboxRetriesOnlyWhatFailed: an acknowledgement owes PagerDuty (for
// every person pushed there) and the incident's Slack message (updated in
// place, with a reply in its thread). One of them fails once, the others
// go through; the retry, 30s later, does what failed, and nothing that
// already went out is sent again: Slack's thread says "Acknowledged" once,
// and PagerDuty takes one acknowledgement per alert pushed there, also
// when the failure was one person's of two (the item records who was
// told, so its retry tells only the other), and when the incident changed
// while that call failed (the dispatcher's write, refused, is tried again
// on the new record: the failed item is kept as it was tried, not tried
// again at once without its record of who was told).
func TestOutboxRetriesOnlyWhatFailed(t *testing.T) {
	for _, tc := range []struct {
		name string
		dave bool // dave is paged through PagerDuty too
		// fail makes one call of the acknowledgement's fail once; with
		// secondAck, PagerDuty fails the second person's (secondAckFails),
		// and with meanwhile, carol posts a status update as it fails.
		fail                 func(pd *providertest.PagerDuty, sl *providertest.Slack)
		secondAck, meanwhile bool
		kept                 string   // the kind of the outbox item retried
		replies              []string // in the Slack thread at the end, beyond "Acknowledged by Carol"
	}{
		{name: "PagerDuty fails once", fail: func(pd *providertest.PagerDuty, _ *providertest.Slack) { pd.FailFirst(1) }, kept: store.OutboxPagerDuty},
		{name: "Slack's update fails once", fail: func(_ *providertest.PagerDuty, sl *providertest.Slack) { sl.Fail("chat.update", "internal_error") },
			kept: store.OutboxSlack},
		{name: "Slack's reply fails once", fail: func(_ *providertest.PagerDuty, sl *providertest.Slack) { sl.Fail("chat.postMessage", "ratelimited") },
			kept: store.OutboxSlack},
		{name: "PagerDuty fails once for the second of two people", dave: true, secondAck: true, kept: store.OutboxPagerDuty},
		{name: "PagerDuty fails once for the second of two people as the incident changes", dave: true, secondAck: true, meanwhile: true,
			kept: store.OutboxPagerDuty, replies: []string{"Status update by Carol: looking"}},
	} {
		for name, mk := range stores(t) {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				pd := providertest.NewPagerDuty(t)
				sl := providertest.NewSlack(t)
				var h *harness
				var id string
				var meanwhile func()
				if tc.meanwhile {
					meanwhile = func() {
						if err := statusUpdate(h.url, id, "carol", "looking"); err != nil {
							t.Error(err)
						}
					}
				}
				pdURL, arm := pd.URL, func() { tc.fail(pd, sl) }
				if tc.secondAck {
					pdURL, arm = secondAckFails(t, pd, meanwhile)
				}
				h = newHarness(t, withStore(mk(t)), withConfig(forwardConfig(t, pdURL, sl.URL, tc.dave)), realTransport("pagerduty"), fastRetries())
				id = fire(h)
				h.step(fixedNow)
				people := []string{"carol"}
				if tc.dave {
					people = append(people, "dave")
				}
				events := func(user, action string) int { return pdEvents(pd, id, user, action) }
				for _, u := range people {
					if n := events(u, "trigger"); n != 1 {
						t.Fatalf("PagerDuty got %d pushes for %s, want 1", n, u)
					}
				}
				if m := sl.Messages(); len(m) != 1 || len(m[0].Replies) != 0 {
					t.Fatalf("Slack messages before the acknowledgement: %+v", m)
				}
				// The failure is the acknowledgement's, not the page's or
				// the channel message's.
				arm()
				if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"carol"}`); r.code != 200 {
					t.Fatalf("ack: %d %s", r.code, r.body)
				}
				h.step(fixedNow.Add(time.Second)) // one call fails: its item is retried 30s later
				if inc, err := h.store.Get(context.Background(), id); err != nil || len(inc.Outbox) != 1 || inc.Outbox[0].Kind != tc.kept {
					t.Errorf("after the failure: outbox %+v (%v), want the %s item kept, alone", inc.Outbox, err, tc.kept)
				}
				h.runUntil(fixedNow.Add(10 * time.Minute))

				for _, u := range people {
					if n := events(u, "acknowledge"); n != 1 {
						t.Errorf("PagerDuty got %d acknowledgements for %s, want 1", n, u)
					}
				}
				m := sl.Messages()
				replies := append([]string{"Acknowledged by Carol"}, tc.replies...)
				if len(m) != 1 || !slices.Equal(m[0].Replies, replies) {
					t.Errorf("Slack messages %+v, want one, with the replies %q", m, replies)
				} else if !strings.Contains(m[0].Blocks, "acknowledged") {
					t.Errorf("Slack message not brought up to date: %s", m[0].Blocks)
				}
				inc, err := h.store.Get(context.Background(), id)
				if err != nil || len(inc.Outbox) != 0 {
					t.Fatalf("after the retry: outbox %+v (%v), want nothing owed", inc.Outbox, err)
				}
				f := entriesOf(timeline(h, id), "forwarded", "")
				if len(f) != 1 || !strings.Contains(f[0].Detail, "PagerDuty told of the acknowledge, for "+strings.Join(people, ", ")) {
					t.Errorf("forwarded entries %+v, want one telling PagerDuty for %s", f, strings.Join(people, ", "))
				}
				if at, ok, _ := h.store.NextDue(context.Background()); ok {
					t.Errorf("still due at %v", at)
				}
			})
		}
	}
}

// statusUpdate posts a status update as user through the API, from
// outside the test's goroutine (no t.Fatal there).
func statusUpdate(base, id, user, message string) error {
	body, err := json.Marshal(map[string]string{"user": user, "message": message})
	if err != nil {
		return err
	}
	return apiPost(base, "/api/v1/incidents/"+id+"/status", string(body))
}

// daveAcksAnswer is PagerDuty's Events API in front of the fake: dave's
// acknowledgements get code and body, and are counted; everything else is
// passed on.
func daveAcksAnswer(t *testing.T, fake *providertest.PagerDuty, code int, body string) (string, func() int) {
	var mu sync.Mutex
	n := 0
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ev struct {
			Action string `json:"event_action"`
			Key    string `json:"routing_key"`
		}
		_ = json.Unmarshal(b, &ev)
		if ev.Action == "acknowledge" && ev.Key == pdDaveKey {
			mu.Lock()
			n++
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_, _ = w.Write([]byte(body))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s.URL, func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// TestOutboxGivenUpSaysWhoWasTold: PagerDuty fails dave's acknowledgement
// with a 500 for a day; carol's went through at the first try. The entry
// that gives the item up says so, instead of reading as if PagerDuty was
// told of nothing.
func TestOutboxGivenUpSaysWhoWasTold(t *testing.T) {
	pd := providertest.NewPagerDuty(t)
	sl := providertest.NewSlack(t)
	url, _ := daveAcksAnswer(t, pd, 500, `{"status":"error","message":"internal error"}`)
	h := newHarness(t, withConfig(forwardConfig(t, url, sl.URL, true)), realTransport("pagerduty"), fastRetries())
	id := fire(h)
	h.step(fixedNow)
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"carol"}`); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	h.runUntil(fixedNow.Add(25 * time.Hour))
	f := entriesOf(timeline(h, id), "forward_failed", "")
	if len(f) != 1 || !strings.Contains(f[0].Detail, "given up (told or settled before: carol)") {
		t.Errorf("forward_failed entries %+v, want one giving up that names carol as told", f)
	}
}

// TestOutboxDoesNotRetryWhatPagerDutyRefusesForGood: PagerDuty answers a
// 400 to dave's acknowledgement (one it will refuse however often it is
// sent) and takes carol's. The item is not kept for a day of retries: it
// is done at once, carol's acknowledgement is recorded as told and
// dave's as refused, with PagerDuty's answer, for whoever closes
// PagerDuty's incident by hand.
func TestOutboxDoesNotRetryWhatPagerDutyRefusesForGood(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			pd := providertest.NewPagerDuty(t)
			sl := providertest.NewSlack(t)
			url, daveAcks := daveAcksAnswer(t, pd, 400, `{"status":"invalid event","message":"Event object is invalid","errors":["Invalid routing key"]}`)
			h := newHarness(t, withStore(mk(t)), withConfig(forwardConfig(t, url, sl.URL, true)), realTransport("pagerduty"), fastRetries())
			id := fire(h)
			h.step(fixedNow)
			if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"carol"}`); r.code != 200 {
				t.Fatalf("ack: %d %s", r.code, r.body)
			}
			h.step(fixedNow.Add(time.Second))
			if inc, err := h.store.Get(context.Background(), id); err != nil || len(inc.Outbox) != 0 {
				t.Errorf("after PagerDuty refused dave's acknowledgement: outbox %+v (%v), want nothing kept to retry", inc.Outbox, err)
			}
			h.runUntil(fixedNow.Add(10 * time.Minute))
			if n := daveAcks(); n != 1 {
				t.Errorf("dave's acknowledgement sent %d times, want once: PagerDuty refuses it for good", n)
			}
			if carol := pdEvents(pd, id, "carol", "acknowledge"); carol != 1 {
				t.Errorf("PagerDuty got %d acknowledgements for carol, want 1", carol)
			}
			f := entriesOf(timeline(h, id), "forwarded", "")
			if len(f) != 1 || !strings.Contains(f[0].Detail, "PagerDuty told of the acknowledge, for carol") ||
				!strings.Contains(f[0].Detail, "PagerDuty refused the acknowledge for dave (pagerduty acknowledge: events API answered 400: Event object is invalid: Invalid routing key); not retried") {
				t.Errorf("forwarded entries %+v, want carol told and dave refused", f)
			}
		})
	}
}

// outboxItems is pagerd_outbox_items_total{kind,result}.
func outboxItems(t *testing.T, h *harness, kind, result string) float64 {
	t.Helper()
	return metric(t, h.reg, "pagerd_outbox_items_total", "kind", kind, "result", result)
}

// TestOutboxFailuresAreSeen: what an incident owes PagerDuty and does not
// get there is seen outside its timeline. Every kind and result of
// pagerd_outbox_items_total is reported at 0 from the start (so that
// increase() sees the first). PagerDuty failing dave's acknowledgement
// with a 500 for a day: each failed try counts as retried, logged at Warn
// the first time only, and the item given up after a day counts as
// given_up, logged once at Error with the incident, kind, action, tries
// and error. PagerDuty answering a 400: counted as refused, logged once at
// Error with whose, and not retried. carol's acknowledgement went through
// in both, and the Slack message's update too: done.
func TestOutboxFailuresAreSeen(t *testing.T) {
	for _, tc := range []struct {
		name    string
		code    int
		body    string
		until   time.Duration
		result  string // dave's item
		retried bool
		msg     string
		err     string
	}{
		{"given up", 500, `{"status":"error","message":"internal error"}`, 25 * time.Hour, "given_up", true,
			"outbox item given up after a day of failed tries; not done", "internal error"},
		{"refused", 400, `{"status":"invalid event","message":"Event object is invalid","errors":["Invalid routing key"]}`, 10 * time.Minute, "refused", false,
			"PagerDuty refused to be told; not retried: close PagerDuty's incident by hand", "dave (pagerduty acknowledge: events API answered 400"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pd := providertest.NewPagerDuty(t)
			sl := providertest.NewSlack(t)
			url, _ := daveAcksAnswer(t, pd, tc.code, tc.body)
			h := newHarness(t, withConfig(forwardConfig(t, url, sl.URL, true)), realTransport("pagerduty"), fastRetries())
			body := h.do("GET", "/metrics", "").body
			for _, kind := range []string{"pagerduty", "alertmanager_silence", "slack", "pushover", "alertmanager_resolve_check"} {
				for _, res := range []string{"done", "retried", "given_up", "refused", "dropped"} {
					if want := `pagerd_outbox_items_total{kind="` + kind + `",result="` + res + `"} 0`; !strings.Contains(body, want) {
						t.Errorf("/metrics lacks %s", want)
					}
				}
			}

			id := fire(h)
			h.step(fixedNow)
			if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"carol"}`); r.code != 200 {
				t.Fatalf("ack: %d %s", r.code, r.body)
			}
			h.runUntil(fixedNow.Add(tc.until))
			if got := outboxItems(t, h, "pagerduty", tc.result); got != 1 {
				t.Errorf("pagerduty %s = %v, want 1", tc.result, got)
			}
			if got := outboxItems(t, h, "slack", "done"); got < 1 {
				t.Errorf("slack done = %v, want the message's posting and update", got)
			}
			retried := outboxItems(t, h, "pagerduty", "retried")
			if (retried > 0) != tc.retried {
				t.Errorf("pagerduty retried = %v, want retries: %v", retried, tc.retried)
			}
			for _, res := range []string{"done", "given_up", "refused", "dropped"} {
				if got := outboxItems(t, h, "pagerduty", res); res != tc.result && got != 0 {
					t.Errorf("pagerduty %s = %v, want 0", res, got)
				}
			}
			logs := logsSaying(t, h.logs, tc.msg)
			if len(logs) != 1 || logs[0]["level"] != "ERROR" || logs[0]["incident"] != id || logs[0]["kind"] != "pagerduty" ||
				logs[0]["action"] != "acknowledge" || logs[0]["attempts"] != retried+1 || !strings.Contains(fmt.Sprint(logs[0]["err"]), tc.err) {
				t.Fatalf("logs saying %q: %v; want one at ERROR naming the incident, kind, action, %v attempts and the error", tc.msg, logs, retried+1)
			}
			warned := 0
			for _, l := range logsSaying(t, h.logs, "outbox item not done; will retry") {
				if l["level"] == "WARN" {
					warned++
				}
			}
			if tc.retried && warned != 1 {
				t.Errorf("%d retries of one item logged at WARN, want the first only", warned)
			}
		})
	}
}

// TestOutboxDroppedIsCounted: a reload takes away the PagerDuty contact
// dave was paged through, so his acknowledgement cannot be forwarded (the
// routing key went with it): the item counts as dropped, and is logged at
// Warn (the operator's reload did it), once, naming him.
func TestOutboxDroppedIsCounted(t *testing.T) {
	pd := providertest.NewPagerDuty(t)
	sl := providertest.NewSlack(t)
	cfg := forwardConfig(t, pd.URL, sl.URL, true)
	h := newHarness(t, withConfig(cfg), realTransport("pagerduty"))
	id := fire(h)
	h.step(fixedNow)
	if err := h.reload(strings.Replace(cfg, "{channel: push, via: pagerduty, address: "+pdDaveKey+"}",
		"{channel: sms, via: pagerduty, address: "+pdDaveKey+"}", 1)); err != nil {
		t.Fatal(err)
	}
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"carol"}`); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	h.step(fixedNow.Add(time.Second))
	if got := outboxItems(t, h, "pagerduty", "dropped"); got != 1 {
		t.Errorf("pagerduty dropped = %v, want 1", got)
	}
	logs := logsSaying(t, h.logs, "PagerDuty not told: the contact the page went through is no longer in the config")
	if len(logs) != 1 || logs[0]["level"] != "WARN" || logs[0]["kind"] != "pagerduty" || fmt.Sprint(logs[0]["users"]) != "[dave]" {
		t.Errorf("logs: %v", logs)
	}
}

// TestOutboxCountedOnceWhenItsRecordIsRefused: dave's acknowledgement is
// told to PagerDuty, and the store refuses the write that records it past
// the claim's retries; the next claim tells PagerDuty again (the record
// says nobody was told) and is recorded. The item is counted done once,
// when it is recorded: counted at each try, it counted twice.
func TestOutboxCountedOnceWhenItsRecordIsRefused(t *testing.T) {
	pd := providertest.NewPagerDuty(t)
	sl := providertest.NewSlack(t)
	url, told := daveAcksAnswer(t, pd, 202, `{"status":"success","message":"Event processed","dedup_key":"k"}`)
	fs := &faultyStore{Store: boltStore(t)}
	h := newHarness(t, withStore(fs), withConfig(forwardConfig(t, url, sl.URL, true)), realTransport("pagerduty"), replicas(0))
	a, reg := h.dispatcher(func(o *dispatch.Options) { o.Lease, o.RecordRetry = 5*time.Second, 30*time.Millisecond })
	h.disp = []*dispatch.Dispatcher{a}
	id := fire(h)
	h.step(fixedNow)
	at := fixedNow.Add(time.Minute)
	h.clock.Set(at)
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"carol"}`); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	fs.refuseRecords.Store(true)
	h.step(at)
	fs.refuseRecords.Store(false)
	h.step(at.Add(6 * time.Second)) // the lease's end: claimed again
	if n := told(); n != 2 {
		t.Fatalf("PagerDuty told of dave's acknowledgement %d times, want 2 (once more after the refused record)", n)
	}
	if got := metric(t, reg, "pagerd_outbox_items_total", "kind", "pagerduty", "result", "done"); got != 1 {
		t.Fatalf("pagerduty done = %v, want 1: the item was recorded once", got)
	}
}
