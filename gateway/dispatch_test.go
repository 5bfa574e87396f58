package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/logtest"
	"github.com/pagerd/pagerd/internal/redistest"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/policy"
)

const dispatchConfig = `
api:
  tokens: [{name: ops, token: ` + apiToken + `}]
users:
  - {id: ann, name: Ann, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}
  - {id: bob, name: Bob, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: webhook, address: "http://127.0.0.1:1/unused"}]}
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

func TestDispatcherWalksTheLadder(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(dispatchConfig))
			id := fire(h)
			h.runUntil(fixedNow.Add(25 * time.Minute))
			want := []string{
				"0s L1 ann push", "2m L1 ann sms", "5m L1 ann voice",
				"15m L2 bob push", "17m L2 bob sms", "20m L2 bob voice",
			}
			if got := h.rec.lines(fixedNow); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("pages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			var v incidentView
			h.api("GET", "/api/v1/incidents/"+id, "").json(t, &v)
			var types []string
			for _, e := range v.Timeline {
				types = append(types, e.Type)
			}
			if got := strings.Join(types, ","); got != "trigger,notify,notify,notify,escalate,notify,notify,notify" {
				t.Fatalf("timeline %s", got)
			}
			if v.Level != 2 || v.Status != "triggered" || v.NextStepAt != nil {
				t.Fatalf("after the ladder: %+v", v)
			}
		})
	}
}

// TestPagesOnAServerThatRefusesUndeclaredKeys: on a Redis-compatible
// server that refuses the one-script claim over every shard (Dragonfly by
// default), the whole ladder still pages, on time, each step once.
func TestPagesOnAServerThatRefusesUndeclaredKeys(t *testing.T) {
	refuse := &redistest.RefuseUndeclaredKeys{}
	st, _ := redisStore(t, refuse)
	h := newHarness(t, withStore(st), withConfig(dispatchConfig))
	fire(h)
	h.runUntil(fixedNow.Add(25 * time.Minute))
	want := "0s L1 ann push,2m L1 ann sms,5m L1 ann voice,15m L2 bob push,17m L2 bob sms,20m L2 bob voice"
	if got := h.rec.lines(fixedNow); strings.Join(got, ",") != want {
		t.Fatalf("pages: %v\nwant: %s", got, want)
	}
	if n := refuse.Refused.Load(); n != 1 {
		t.Fatalf("the server refused %d scripts, want the first claim's only", n)
	}
}

func TestAcknowledgeAfterSMSStopsTheRest(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(dispatchConfig))
			id := fire(h)
			h.runUntil(fixedNow.Add(3 * time.Minute))
			if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("ack: %d %s", r.code, r.body)
			}
			h.runUntil(fixedNow.Add(2 * time.Hour))
			if got := h.rec.lines(fixedNow); strings.Join(got, ",") != "0s L1 ann push,2m L1 ann sms" {
				t.Fatalf("pages after an ack at 3m: %v", got)
			}
			if at, ok, _ := h.store.NextDue(context.Background()); ok {
				t.Fatalf("something is still due at %v", at)
			}
		})
	}
}

// TestThreeDispatchersSendEachStepOnce runs three dispatchers on one Redis,
// all working at every instant, over twenty incidents: every step of every
// incident reaches its person once, on its own or in an alert-storm
// message, and the three dispatchers make one storm message per person and
// channel between them, not one each.
func TestThreeDispatchersSendEachStepOnce(t *testing.T) {
	st, _ := redisStore(t)
	h := newHarness(t, withStore(st), withConfig(dispatchConfig), replicas(3))
	for i := 0; i < 20; i++ {
		r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", fmt.Sprintf("g%d", i), map[string]string{"alertname": "A", "severity": "critical"}),
			"Authorization", "Bearer "+amKey)
		if r.code != 200 {
			t.Fatalf("%d %s", r.code, r.body)
		}
	}
	h.runUntil(fixedNow.Add(25 * time.Minute))
	count := map[string]int{}
	h.rec.mu.Lock()
	for _, m := range h.rec.msgs {
		if len(m.Incidents) == 0 {
			count[fmt.Sprintf("%s %s %s", m.Incident, m.User, m.Channel)]++
		}
		for _, id := range m.Incidents {
			count[fmt.Sprintf("%s %s %s", id, m.User, m.Channel)]++
		}
	}
	total := len(h.rec.msgs)
	h.rec.mu.Unlock()
	// Six steps (two people, three channels), each 3 pages at once and
	// one message for the other 17.
	if total != 6*4 || len(count) != 20*6 {
		t.Fatalf("%d messages for %d distinct steps; want 24 and 120", total, len(count))
	}
	for k, n := range count {
		if n != 1 {
			t.Fatalf("step %s sent %d times", k, n)
		}
	}
}

// TestTakeoverAfterLease: a replica claims an incident and dies before
// sending; nobody else touches it during the lease; when the lease ends
// another replica fires the step.
func TestTakeoverAfterLease(t *testing.T) {
	st, _ := redisStore(t)
	h := newHarness(t, withStore(st), withConfig(dispatchConfig))
	fire(h)
	dead, err := st.ClaimDue(context.Background(), fixedNow, 30*time.Second, 10)
	if err != nil || len(dead) != 1 {
		t.Fatalf("claim %v %v", dead, err)
	}
	h.step(fixedNow.Add(29 * time.Second))
	if got := h.rec.lines(fixedNow); len(got) != 0 {
		t.Fatalf("paged during another replica's lease: %v", got)
	}
	h.step(fixedNow.Add(30 * time.Second))
	if got := h.rec.lines(fixedNow); strings.Join(got, ",") != "30s L1 ann push" {
		t.Fatalf("after the lease: %v", got)
	}
	// The ladder goes on from its own times: the SMS is still due at 2m.
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if got := h.rec.lines(fixedNow); strings.Join(got, ",") != "30s L1 ann push,2m L1 ann sms" {
		t.Fatalf("ladder after a takeover: %v", got)
	}
}

// TestFailedChannelDoesNotStallTheLadder: a page that cannot be delivered is
// recorded as such, and the next step still fires on time.
// TestFailedChannelDoesNotStallTheLadder: a failed SMS is recorded, and
// the ladder goes on: the call comes at once (the SMS did not reach Ann),
// not at its own time.
func TestFailedChannelDoesNotStallTheLadder(t *testing.T) {
	h := newHarness(t, withConfig(dispatchConfig))
	h.rec.fail = func(m notify.Message) error {
		if m.Channel == "sms" {
			return fmt.Errorf("carrier said no")
		}
		return nil
	}
	id := fire(h)
	h.runUntil(fixedNow.Add(6 * time.Minute))
	if got := h.rec.lines(fixedNow); strings.Join(got, ",") != "0s L1 ann push,2m L1 ann voice" {
		t.Fatalf("pages: %v", got)
	}
	var v incidentView
	h.api("GET", "/api/v1/incidents/"+id, "").json(t, &v)
	var failed []store.Entry
	for _, e := range v.Timeline {
		if e.Type == "notify_failed" {
			failed = append(failed, e)
		}
	}
	if len(failed) != 1 || failed[0].Channel != "sms" || !strings.Contains(failed[0].Detail, "carrier said no") {
		t.Fatalf("the failure is not in the timeline: %+v", v.Timeline)
	}
}

// TestWebhookTransportRetries: the webhook transport is retried on 5xx and
// delivered; a contact whose endpoint refuses with 4xx is recorded failed.
func TestWebhookTransportRetries(t *testing.T) {
	var calls atomic.Int32
	var got []notify.Message
	var mu sync.Mutex
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			w.WriteHeader(503)
			return
		}
		var m notify.Message
		_ = json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
	}))
	defer hook.Close()
	wh := notify.NewWebhook(hook.Client(), time.Second)
	m := notify.Message{Incident: "i", User: "bob", Channel: "voice", Address: hook.URL, Text: "[P0] api: disk full"}
	tries, err := notify.Retry(context.Background(), wh, m, 3, time.Millisecond)
	if err != nil || tries != 3 || len(got) != 1 || got[0].Text != m.Text || got[0].Address != "" {
		t.Fatalf("tries %d err %v got %+v", tries, err, got)
	}
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) }))
	defer refuse.Close()
	m.Address = refuse.URL
	tries, err = notify.Retry(context.Background(), wh, m, 3, time.Millisecond)
	if err == nil || tries != 1 {
		t.Fatalf("a 404 must not be retried: tries %d err %v", tries, err)
	}
}

// TestDaemonMatchesSimulate drives the daemon, on the fake clock, through
// scenarios of the seed configs, with acknowledgements and status updates
// coming through the API, and compares its timeline with `pagerd
// simulate`'s for the same alert: the same state machine, the same events
// at the same seconds. Where a seed rule pages people after the
// acknowledgement (an outage still open), the daemon must have paged them.
func TestDaemonMatchesSimulate(t *testing.T) {
	U := time.UTC
	labels := func(kv ...string) map[string]string {
		m := map[string]string{"alertname": "A"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name, config, service, ackBy string
		opts                         policy.SimOptions
		// pagedAfterAck are the people the daemon must page after the
		// acknowledgement.
		pagedAfterAck []string
	}{
		{"AION-R acknowledged SEV-1 left unresolved", "aion-r.yaml", "aion-r-platform", "eng-a", policy.SimOptions{
			At: time.Date(2025, 10, 8, 3, 0, 0, 0, time.UTC), For: 90 * time.Minute, AckAfter: 3 * time.Minute, UpdateEvery: 20 * time.Minute,
			Labels: map[string]string{"alertname": "A", "severity": "critical"}}, nil},
		{"AION-R missing status updates", "aion-r.yaml", "aion-r-platform", "eng-a", policy.SimOptions{
			At: time.Date(2025, 10, 8, 3, 0, 0, 0, time.UTC), For: time.Hour, AckAfter: 4 * time.Minute,
			Labels: map[string]string{"alertname": "A", "severity": "critical"}}, nil},
		{"AIVO unacknowledged P0 at night", "aivo.yaml", "aivo-production", "", policy.SimOptions{
			At: time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC), For: 2 * time.Hour,
			Labels: map[string]string{"alertname": "A", "severity": "critical"}}, nil},
		{"AIVO security breach, acknowledged at 8m, resolved at 40m", "aivo.yaml", "aivo-production", "jennifer", policy.SimOptions{
			At: time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC), For: time.Hour, AckAfter: 8 * time.Minute, ResolveAfter: 40 * time.Minute,
			Labels: map[string]string{"alertname": "A", "category": "security_breach"}}, nil},
		{"AIVO P2 off-hours", "aivo.yaml", "aivo-production", "", policy.SimOptions{At: time.Date(2025, 9, 10, 0, 0, 0, 0, U), For: 4 * time.Hour, Labels: labels("severity", "warning")}, nil},
		{"AIVO P2 crossing 18:00", "aivo.yaml", "aivo-production", "", policy.SimOptions{At: time.Date(2025, 9, 9, 21, 30, 0, 0, U), For: 4 * time.Hour, Labels: labels("severity", "warning")}, nil},
		{"AIVO P2 crossing 08:00", "aivo.yaml", "aivo-production", "", policy.SimOptions{At: time.Date(2025, 9, 10, 11, 30, 0, 0, U), For: 3 * time.Hour, Labels: labels("severity", "warning")}, nil},
		{"AIVO P3 Fri 17:00", "aivo.yaml", "aivo-production", "", policy.SimOptions{At: time.Date(2025, 9, 12, 21, 0, 0, 0, U), For: 8 * time.Hour, Labels: labels("severity", "info")}, nil},
		{"AIVO P1 Labor Day override", "aivo.yaml", "aivo-production", "", policy.SimOptions{At: time.Date(2025, 9, 1, 14, 0, 0, 0, U), For: 2 * time.Hour, Labels: labels("severity", "error")}, nil},
		{"AIVO P0 across Monday 08:00 handoff", "aivo.yaml", "aivo-production", "", policy.SimOptions{At: time.Date(2025, 9, 15, 11, 50, 0, 0, U), For: 2 * time.Hour, Labels: labels("severity", "critical")}, nil},
		{"AIVO data loss unacked", "aivo.yaml", "aivo-production", "", policy.SimOptions{At: time.Date(2025, 9, 10, 3, 0, 0, 0, U), For: 2 * time.Hour, Labels: labels("category", "data_loss")}, nil},
		// "Level 4: Executive Team (60+ minutes). Trigger: Extended outage":
		// at the resolution target (P0 1h, P1 4h) the leadership and the CTO.
		{"AIVO acknowledged P0 still down at 1h", "aivo.yaml", "aivo-production", "jennifer", policy.SimOptions{At: time.Date(2025, 9, 10, 3, 0, 0, 0, U), For: 2 * time.Hour,
			AckAfter: 3 * time.Minute, UpdateEvery: 15 * time.Minute, Labels: labels("severity", "critical")}, []string{"emily", "david", "sarah"}},
		{"AIVO acknowledged P1 still down at 4h", "aivo.yaml", "aivo-production", "jennifer", policy.SimOptions{At: time.Date(2025, 9, 10, 3, 0, 0, 0, U), For: 5 * time.Hour,
			AckAfter: 10 * time.Minute, Labels: labels("severity", "error")}, []string{"emily", "david", "sarah"}},
		// At exactly the targets: acknowledged at 5m ("acknowledgment 5
		// minutes"), resolved at 1h ("resolution target 1 hour"), in time.
		{"AIVO P0 acknowledged at 5m, resolved at 1h", "aivo.yaml", "aivo-production", "jennifer", policy.SimOptions{At: time.Date(2025, 9, 10, 14, 0, 0, 0, U), For: 2 * time.Hour,
			AckAfter: 5 * time.Minute, ResolveAfter: time.Hour, Labels: labels("severity", "critical")}, nil},
		{"AION-R SEV-1 unacked", "aion-r.yaml", "aion-r-platform", "", policy.SimOptions{At: time.Date(2025, 10, 7, 10, 0, 0, 0, U), For: 2 * time.Hour, Labels: labels("severity", "critical")}, nil},
		{"AION-R SEV-1 acked no updates 3h", "aion-r.yaml", "aion-r-platform", "eng-a", policy.SimOptions{At: time.Date(2025, 10, 7, 10, 0, 0, 0, U), For: 3 * time.Hour, AckAfter: 3 * time.Minute, Labels: labels("severity", "critical")}, nil},
		{"AION-R SEV-2 acked updates", "aion-r.yaml", "aion-r-platform", "eng-a", policy.SimOptions{At: time.Date(2025, 10, 7, 10, 0, 0, 0, U), For: 3 * time.Hour, AckAfter: 5 * time.Minute, UpdateEvery: 10 * time.Minute, Labels: labels("severity", "error")}, nil},
		{"AION-R SEV-3 acked", "aion-r.yaml", "aion-r-platform", "eng-a", policy.SimOptions{At: time.Date(2025, 10, 7, 10, 0, 0, 0, U), For: 5 * time.Hour, AckAfter: 5 * time.Minute, Labels: labels("severity", "warning")}, nil},
		{"AION-R SEV-4 Fri 16:00", "aion-r.yaml", "aion-r-platform", "", policy.SimOptions{At: time.Date(2025, 10, 10, 16, 0, 0, 0, U), For: 70 * time.Hour, Labels: labels("severity", "info")}, nil},
		{"AION-R SEV-1 across Monday 00:00", "aion-r.yaml", "aion-r-platform", "", policy.SimOptions{At: time.Date(2025, 10, 12, 23, 55, 0, 0, U), For: time.Hour, Labels: labels("severity", "critical")}, nil},
		// Tier 4, "major outages (>4 hours)": the VP at 4 hours.
		{"AION-R acknowledged SEV-1 still open at 4h", "aion-r.yaml", "aion-r-platform", "eng-a", policy.SimOptions{At: time.Date(2025, 10, 7, 10, 0, 0, 0, U), For: 5 * time.Hour,
			AckAfter: 3 * time.Minute, UpdateEvery: 10 * time.Minute, Labels: labels("severity", "critical")}, []string{"vp-eng"}},
		{"AION-R acknowledged SEV-2 still open at 4h", "aion-r.yaml", "aion-r-platform", "eng-a", policy.SimOptions{At: time.Date(2025, 10, 7, 10, 0, 0, 0, U), For: 5 * time.Hour,
			AckAfter: 5 * time.Minute, UpdateEvery: 10 * time.Minute, Labels: labels("severity", "error")}, []string{"vp-eng"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := os.ReadFile("../configs/" + tc.config)
			if err != nil {
				t.Fatal(err)
			}
			o := tc.opts
			h := newHarness(t, withConfig(string(raw)), startAt(o.At), withNotifier("email", &recorder{}))
			cfg := h.config()
			o.AckBy = tc.ackBy
			sim, err := cfg.Simulate(o)
			if err != nil {
				t.Fatal(err)
			}
			key := cfg.Service(tc.service).Integrations.AlertmanagerKey.Reveal()
			r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g", o.Labels), "Authorization", "Bearer "+key)
			if r.code != 200 {
				t.Fatalf("%d %s", r.code, r.body)
			}
			var res struct{ Incidents []string }
			r.json(t, &res)
			id := res.Incidents[0]
			token := cfg.API.Tokens[0].Token.Reveal()
			api := func(path, body string) {
				if r := h.do("POST", "/api/v1/incidents/"+id+path, body, "Authorization", "Bearer "+token); r.code != 200 {
					t.Fatalf("%s: %d %s", path, r.code, r.body)
				}
			}
			// Humans act at their times, before deadlines due at the same
			// instant (the dispatcher never fires one early), as in
			// simulate.
			type human struct {
				at time.Time
				do func()
			}
			var humans []human
			end := o.At.Add(o.For)
			if o.AckAfter > 0 {
				humans = append(humans, human{o.At.Add(o.AckAfter), func() { api("/acknowledge", `{"user":"`+tc.ackBy+`"}`) }})
				if o.UpdateEvery > 0 {
					for u := o.At.Add(o.AckAfter + o.UpdateEvery); !u.After(end); u = u.Add(o.UpdateEvery) {
						humans = append(humans, human{u, func() { api("/status", `{"user":"`+tc.ackBy+`","message":"simulated update"}`) }})
					}
				}
			}
			if o.ResolveAfter > 0 {
				humans = append(humans, human{o.At.Add(o.ResolveAfter), func() { api("/resolve", `{"user":"`+tc.ackBy+`"}`) }})
			}
			sort.SliceStable(humans, func(i, j int) bool { return humans[i].at.Before(humans[j].at) })
			for _, hu := range humans {
				h.runUntil(hu.at.Add(-time.Nanosecond))
				h.clock.Set(hu.at)
				hu.do()
			}
			h.runUntil(end)

			var v incidentView
			if r := h.do("GET", "/api/v1/incidents/"+id, "", "Authorization", "Bearer "+token); r.code != 200 {
				t.Fatalf("get: %d %s", r.code, r.body)
			} else {
				r.json(t, &v)
			}
			var daemon, simulated []string
			paged := map[string]bool{}
			for _, e := range v.Timeline {
				if e.Type == "trigger" {
					continue
				}
				daemon = append(daemon, fmt.Sprintf("%s %s L%d %s %s", policy.Duration(e.At.Sub(o.At)), e.Type, e.Level, e.User, e.Channel))
				if e.Type == "notify" && o.AckAfter > 0 && e.At.After(o.At.Add(o.AckAfter)) {
					paged[e.User] = true
				}
			}
			for _, u := range tc.pagedAfterAck {
				if !paged[u] {
					t.Errorf("%s not paged after the acknowledgement at %s", u, policy.Duration(o.AckAfter))
				}
			}
			for _, e := range sim.Events {
				simulated = append(simulated, fmt.Sprintf("%s %s L%d %s %s", policy.Duration(time.Duration(e.OffsetSeconds)*time.Second), e.Type, e.Level, e.User, e.Channel))
			}
			sort.Strings(daemon)
			sort.Strings(simulated)
			if strings.Join(daemon, "\n") != strings.Join(simulated, "\n") {
				t.Fatalf("daemon:\n%s\n\nsimulate:\n%s", strings.Join(daemon, "\n"), strings.Join(simulated, "\n"))
			}
			if len(daemon) < 4 {
				t.Fatalf("suspiciously short timeline: %v", daemon)
			}
		})
	}
}

// blockingRecorder holds pages for one user until released.
type blockingRecorder struct {
	recorder
	user    string
	entered chan struct{}
	release chan struct{}
}

func (b *blockingRecorder) Notify(ctx context.Context, m notify.Message) error {
	if m.User == b.user {
		b.entered <- struct{}{}
		<-b.release
	}
	return b.recorder.Notify(ctx, m)
}

// TestSlowProviderDoesNotHoldUpOthers: while one person's page hangs on a
// slow provider, other incidents' pages go out.
func TestSlowProviderDoesNotHoldUpOthers(t *testing.T) {
	h := newHarness(t, withConfig(dispatchConfig), replicas(0))
	slow := &blockingRecorder{user: "bob", entered: make(chan struct{}, 1), release: make(chan struct{})}
	d, _ := h.dispatcher(func(o *dispatch.Options) {
		o.Notifiers = map[string]notify.Notifier{"log": slow, "webhook": slow}
		o.Workers = 4
	})
	first := fire(h)
	// Escalated at once: bob's push, which will hang, is due with ann's.
	if r := h.api("POST", "/api/v1/incidents/"+first+"/escalate", `{"level":"secondary"}`); r.code != 200 {
		t.Fatalf("escalate: %d %s", r.code, r.body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = d.Run(ctx) }()
	<-slow.entered
	// A second incident while bob's page is stuck: ann must get its push
	// from the same running dispatcher.
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "other", map[string]string{"alertname": "B", "severity": "critical"}),
		"Authorization", "Bearer "+amKey)
	var res struct{ Incidents []string }
	r.json(t, &res)
	d.Wake()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := 0
		slow.mu.Lock()
		for _, m := range slow.msgs {
			if m.Incident == res.Incidents[0] && m.User == "ann" {
				n++
			}
		}
		slow.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second incident was not paged while bob's provider hung: %v", slow.lines(fixedNow))
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(slow.release)
	cancel()
	<-ran
}

// countingBlocker holds every page until released, counting how many it
// holds at once.
type countingBlocker struct {
	held    atomic.Int64
	most    atomic.Int64
	release chan struct{}
}

func (b *countingBlocker) Notify(ctx context.Context, m notify.Message) error {
	n := b.held.Add(1)
	for m := b.most.Load(); n > m && !b.most.CompareAndSwap(m, n); m = b.most.Load() {
	}
	defer b.held.Add(-1)
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestDispatcherWorksABurstAtOnce: with the default Workers, a burst of 128
// new incidents whose pages each take a while (a provider's round trip)
// are all paged at once, not 64 at a time: at 8,000 alerts a second on
// Redis, 64 at a time left the dispatcher a second behind with CPU to spare.
func TestDispatcherWorksABurstAtOnce(t *testing.T) {
	const burst = 128
	h := newHarness(t, withConfig(dispatchConfig+"notifiers: {storm: {window: 0s}}\n"), replicas(0))
	for i := range burst {
		if r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", fmt.Sprintf("g%d", i), map[string]string{"alertname": "A", "severity": "critical"}),
			"Authorization", "Bearer "+amKey); r.code != 200 {
			t.Fatalf("webhook: %d %s", r.code, r.body)
		}
	}
	slow := &countingBlocker{release: make(chan struct{})}
	d, _ := h.dispatcher(func(o *dispatch.Options) {
		o.Notifiers = map[string]notify.Notifier{"log": slow, "webhook": slow}
	})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = d.Run(ctx) }()
	defer func() { close(slow.release); cancel(); <-ran }()
	// Waited on most, not held: the notifier counts a page in held before
	// it updates most, so the last page seen in held could still be
	// missing from most (a CI run read 127 of 128 so).
	deadline := time.Now().Add(10 * time.Second)
	for slow.most.Load() < burst && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := slow.most.Load(); n < burst {
		t.Fatalf("%d of %d due pages in flight at once, at most", n, burst)
	}
}

// TestDispatcherSaysHowFarBehindItIs: Behind is how long ago the step it
// last claimed was due, kept while every worker is busy, and back to 0
// when a look finds nothing due; the daemon's intake brakes on it.
func TestDispatcherSaysHowFarBehindItIs(t *testing.T) {
	h := newHarness(t, withConfig(dispatchConfig), replicas(0))
	if h.d.server.adm.behind == nil {
		t.Fatal("the daemon's intake does not know how far behind its dispatcher is")
	}
	slow := &blockingRecorder{user: "ann", entered: make(chan struct{}, 1), release: make(chan struct{})}
	d, _ := h.dispatcher(func(o *dispatch.Options) {
		o.Notifiers = map[string]notify.Notifier{"log": slow, "webhook": slow}
		o.Workers = 1
	})
	fire(h) // ann's push is due now
	h.clock.Set(fixedNow.Add(10 * time.Second))
	if b := d.Behind(); b != 0 {
		t.Fatalf("behind %v before running", b)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = d.Run(ctx) }()
	defer func() { cancel(); <-ran }()
	<-slow.entered // its only worker pages ann, so it claims no more
	if b := d.Behind(); b != 10*time.Second {
		t.Fatalf("behind %v with a push claimed 10 s after it was due, want 10s", b)
	}
	close(slow.release)
	waitUntil(t, 5*time.Second, "the dispatcher to find nothing due", func() bool { return d.Behind() == 0 })
}

// pageGates holds each incident's page until the test opens its gate, and
// says on entered which incident's page is waiting.
type pageGates struct {
	recorder
	entered chan string
	mu      sync.Mutex
	gates   map[string]chan struct{}
}

func newPageGates() *pageGates {
	return &pageGates{entered: make(chan string, 16), gates: map[string]chan struct{}{}}
}

func (g *pageGates) gate(id string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gates[id] == nil {
		g.gates[id] = make(chan struct{})
	}
	return g.gates[id]
}

func (g *pageGates) open(id string) { close(g.gate(id)) }

func (g *pageGates) Notify(ctx context.Context, m notify.Message) error {
	g.entered <- m.Incident
	select {
	case <-g.gate(m.Incident):
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.recorder.Notify(ctx, m)
}

// waitEntered waits for the pages of want, in any order, to be held.
func (g *pageGates) waitEntered(t *testing.T, want ...string) {
	t.Helper()
	got := map[string]bool{}
	for range want {
		select {
		case id := <-g.entered:
			got[id] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("pages held %v, want %v", got, want)
		}
	}
	for _, id := range want {
		if !got[id] {
			t.Fatalf("pages held %v, want %v", got, want)
		}
	}
}

// TestBehindWithSeveralWorkers: with more than one worker, Behind is the
// lateness of the earliest step of the last claim that filled every free
// worker, whichever worker frees up first, and 0 once a look claims
// everything due, even while a worker still hangs on a page.
func TestBehindWithSeveralWorkers(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) { behindWithSeveralWorkers(t, mk(t)) })
	}
}

func behindWithSeveralWorkers(t *testing.T, st store.Store) {
	h := newHarness(t, withStore(st), withConfig(dispatchConfig+"notifiers: {storm: {window: 0s}}\n"), replicas(0))
	gates := newPageGates()
	d, _ := h.dispatcher(func(o *dispatch.Options) {
		o.Notifiers = map[string]notify.Notifier{"log": gates, "webhook": gates}
		o.Workers = 2
	})
	var ids []string
	for i := range 4 {
		h.clock.Set(fixedNow.Add(time.Duration(2*i) * time.Second))
		r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", fmt.Sprintf("g%d", i), map[string]string{"alertname": "A", "severity": "critical"}),
			"Authorization", "Bearer "+amKey)
		var res struct{ Incidents []string }
		r.json(t, &res)
		ids = append(ids, res.Incidents[0])
	}
	// Four pushes due 10, 8, 6 and 4 s ago; two workers.
	h.clock.Set(fixedNow.Add(10 * time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = d.Run(ctx) }()
	defer func() {
		cancel()
		for _, id := range ids {
			select {
			case <-gates.gate(id):
			default:
				gates.open(id)
			}
		}
		<-ran
	}()
	gates.waitEntered(t, ids[0], ids[1])
	if b := d.Behind(); b != 10*time.Second {
		t.Fatalf("behind %v after claiming the two earliest of four, 10 s late, want 10s", b)
	}
	// The second worker frees first: the claim for it takes the third
	// push, 6 s late, while the first still hangs.
	gates.open(ids[1])
	gates.waitEntered(t, ids[2])
	waitUntil(t, 5*time.Second, "behind to be the third push's 6 s", func() bool { return d.Behind() == 6*time.Second })
	gates.open(ids[2])
	gates.waitEntered(t, ids[3])
	waitUntil(t, 5*time.Second, "behind to be the last push's 4 s", func() bool { return d.Behind() == 4*time.Second })
	// The last push goes out; nothing else is due while the first push
	// still hangs: caught up.
	gates.open(ids[3])
	waitUntil(t, 5*time.Second, "the dispatcher to find nothing due", func() bool { return d.Behind() == 0 })
	gates.open(ids[0])
}

// finishConflicts answers every Finish with a conflict while on: someone
// else writes the incident each time the dispatcher tries to record its
// step.
type finishConflicts struct {
	store.Store
	on       atomic.Bool
	finishes atomic.Int64
}

func (f *finishConflicts) Finish(ctx context.Context, c store.Claim, inc *store.Incident, tl []store.Entry) error {
	if f.on.Load() {
		f.finishes.Add(1)
		return store.ErrConflict
	}
	return f.Store.Finish(ctx, c, inc, tl)
}

// TestStepNotWorkedSaysWhyAndComesBack: a claim the dispatcher cannot
// work (the incident changes under every write) is left to its lease with
// an error line that names the incident and says why and what happens
// next; when the lease ends the step is recorded, and its page, which
// went out, is not sent again.
func TestStepNotWorkedSaysWhyAndComesBack(t *testing.T) {
	st := &finishConflicts{Store: boltStore(t)}
	h := newHarness(t, withStore(st), withConfig(dispatchConfig))
	id := fire(h)
	st.on.Store(true)
	h.step(fixedNow)
	if n := st.finishes.Load(); n != 10 {
		t.Fatalf("%d writes of the step tried, want 10", n)
	}
	line := findLog(logtest.Lines(t, h.logs.String()), "dispatcher: incident step failed; it comes due again when the lease ends",
		map[string]any{"level": "ERROR", "incident": id, "err": "the incident kept changing under the dispatcher"})
	if line == nil {
		t.Fatalf("no error line saying why the step was left to its lease:\n%s", h.logs.String())
	}
	if got := h.rec.lines(fixedNow); strings.Join(got, ",") != "0s L1 ann push" {
		t.Fatalf("pages while the step could not be recorded: %v", got)
	}
	st.on.Store(false)
	h.runUntil(fixedNow.Add(time.Minute))
	if got := h.rec.lines(fixedNow); strings.Join(got, ",") != "0s L1 ann push" {
		t.Fatalf("pages after the lease: %v, want the push once", got)
	}
	if !h.timelineHas(id, "notify", "") {
		t.Fatalf("the push is not in the timeline after the lease: %+v", h.incident(id).Timeline)
	}
}

// lateClaims is a store whose claims come back after the clock moved on
// by late: the next claim once armed (a store that stalled with the claim
// in its buffer and ran it when it came back), or every claim (a store
// slow every time).
type lateClaims struct {
	store.Store
	armed atomic.Bool
	every bool
	clock *fakeClock
	late  time.Duration
	// onLate, if set, runs once the clock has moved (what other
	// replicas do while the claim is on its way back).
	onLate func()
	// slowKeeps moves the clock on by late at each Extend too (a store
	// slow at every call).
	slowKeeps bool
}

func (l *lateClaims) Extend(ctx context.Context, c store.Claim, until time.Time) (bool, error) {
	held, err := l.Store.Extend(ctx, c, until)
	if l.slowKeeps {
		l.clock.Set(l.clock.Now().Add(l.late))
	}
	return held, err
}

func (l *lateClaims) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]store.Claim, error) {
	cs, err := l.Store.ClaimDue(ctx, now, lease, max)
	if len(cs) > 0 && (l.every || l.armed.Load()) {
		l.clock.Set(now.Add(l.late))
		if l.onLate != nil {
			l.onLate()
		}
		l.armed.Store(false)
	}
	return cs, err
}

// TestClaimsThatCameBackLateAreKeptThenWorked: a claim that comes back
// after most of its lease is gone (a store that stalled with the claim in
// its buffer) could run out mid-send, and the incident be claimed and
// paged again. It is kept a lease ahead first, then worked: the page goes
// out at once, and once, with a warning in the log. Before, it was left to
// run out and paged from a claim made afresh, a lease late. In a full CI
// run a stalled Redis paged one incident twice before either.
func TestClaimsThatCameBackLateAreKeptThenWorked(t *testing.T) {
	ls := &lateClaims{Store: boltStore(t), late: 25 * time.Second}
	h := newHarness(t, withStore(ls), withConfig(dispatchConfig), replicas(0))
	ls.clock = h.clock
	id := fire(h) // ann's push is due now
	ls.armed.Store(true)
	d, reg := h.dispatcher(func(o *dispatch.Options) { o.Lease = 30 * time.Second })
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = d.Run(ctx) }()
	defer func() { cancel(); <-ran }()
	waitUntil(t, 5*time.Second, "the late claim's page", func() bool { return len(h.rec.lines(fixedNow)) == 1 })
	if !strings.Contains(h.logs.String(), "claims came back after more than half their lease") {
		t.Errorf("not logged:\n%s", h.logs.String())
	}
	if got := metric(t, reg, "pagerd_dispatch_lease_keeps_total", "result", "kept"); got != 1 {
		t.Errorf("pagerd_dispatch_lease_keeps_total{result=kept} = %v, want 1", got)
	}
	waitUntil(t, 5*time.Second, "the push recorded", func() bool { return h.timelineHas(id, "notify", "") })
	h.clock.Set(fixedNow.Add(31 * time.Second)) // the claim's first lease has run out
	d.Wake()
	time.Sleep(100 * time.Millisecond)
	if got := h.rec.lines(fixedNow); len(got) != 1 {
		t.Fatalf("pages %v, want the push once", got)
	}
}

// TestClaimThatCameBackLateAfterATakeoverIsNotWorked: a claim that comes
// back late from a store that stalled past its lease, when another replica
// has taken the incident over meanwhile and paged: its keep finds the
// claim no longer its own, and it is not worked. The push goes out once.
func TestClaimThatCameBackLateAfterATakeoverIsNotWorked(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(dispatchConfig), replicas(0))
			b, _ := h.dispatcher(func(o *dispatch.Options) { o.Lease = 30 * time.Second })
			ls := &lateClaims{Store: h.store, late: 31 * time.Second, clock: h.clock}
			// When a's claim comes back, b has taken it over and paged.
			ls.onLate = func() {
				if _, err := b.RunOnce(context.Background()); err != nil {
					t.Error(err)
				}
			}
			fire(h)
			ls.armed.Store(true)
			a, _ := h.dispatcher(func(o *dispatch.Options) { o.Lease, o.Store = 30*time.Second, ls })
			ctx, cancel := context.WithCancel(context.Background())
			ran := make(chan struct{})
			go func() { defer close(ran); _ = a.Run(ctx) }()
			defer func() { cancel(); <-ran }()
			waitUntil(t, 5*time.Second, "the late claim", func() bool { return !ls.armed.Load() })
			waitUntil(t, 5*time.Second, "a's keep", func() bool {
				return strings.Contains(h.logs.String(), "is no longer this replica's")
			})
			time.Sleep(100 * time.Millisecond)
			if got := h.rec.lines(fixedNow); len(got) != 1 {
				t.Fatalf("pages %v, want the push once (b's)", got)
			}
		})
	}
}

// TestAConsistentlySlowStoreStillPages: with a 2 s lease (allowed, with a
// warning) and a store whose claims each take 1.6 s, within the
// dispatcher's 5 s store timeout, every claim comes back after half its
// lease and is kept a lease ahead before it is worked. With slowKeeps the
// keeps take 1.6 s too: past half a lease, so the pages get a quarter
// lease from the keep's answer (a store slow every time: leaving every
// claim would page nobody; a page sent twice beats none).
func TestAConsistentlySlowStoreStillPages(t *testing.T) {
	for _, slowKeeps := range []bool{false, true} {
		t.Run(fmt.Sprintf("slow_keeps=%v", slowKeeps), func(t *testing.T) {
			ls := &lateClaims{Store: boltStore(t), every: true, late: 1600 * time.Millisecond, slowKeeps: slowKeeps}
			h := newHarness(t, withStore(ls), withConfig(dispatchConfig), replicas(0))
			ls.clock = h.clock
			fire(h)
			d, reg := h.dispatcher(func(o *dispatch.Options) { o.Lease = 2 * time.Second })
			ctx, cancel := context.WithCancel(context.Background())
			ran := make(chan struct{})
			go func() { defer close(ran); _ = d.Run(ctx) }()
			defer func() { cancel(); <-ran }()
			for i := 0; i < 20 && len(h.rec.lines(fixedNow)) == 0; i++ {
				h.clock.Set(h.clock.Now().Add(time.Second))
				d.Wake()
				time.Sleep(50 * time.Millisecond)
			}
			if len(h.rec.lines(fixedNow)) == 0 {
				t.Fatalf("a store whose claims (and keeps: %v) take 1.6 s of a 2 s lease: nobody was paged in 20 tries", slowKeeps)
			}
			if got := metric(t, reg, "pagerd_dispatch_lease_keeps_total", "result", "kept"); got < 1 {
				t.Errorf("pagerd_dispatch_lease_keeps_total{result=kept} = %v: the late claim was not kept", got)
			}
			if slowKeeps && !strings.Contains(h.logs.String(), "came back late too") {
				t.Errorf("the keep that came back late is not logged:\n%s", h.logs.String())
			}
		})
	}
}

// TestPagesCarryTheirStepsKey: every page the dispatcher sends carries its
// step's key (notify.Message.Key, email's Message-ID comes from it), and
// each step of the ladder its own, so that a provider can tell a second
// try of one page from another page: the same step again, when a policy of
// one level starts over, is another page (an email with the first's
// Message-ID would be dropped by the person's mail client).
func TestPagesCarryTheirStepsKey(t *testing.T) {
	oneLevel := strings.Replace(dispatchConfig, "  - name: p\n    levels:\n", "  - name: p\n    repeat: 1\n    levels:\n", 1)
	oneLevel = strings.Replace(oneLevel, "      - {name: secondary, targets: [{schedule: s, tier: secondary}]}\n", "", 1)
	h := newHarness(t, withConfig(oneLevel))
	fire(h)
	h.runUntil(fixedNow.Add(21 * time.Minute)) // the ladder, and again after its 15-minute start over
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	if len(h.rec.msgs) != 6 {
		t.Fatalf("%d pages, want the ladder's 3 twice", len(h.rec.msgs))
	}
	seen := map[string]bool{}
	for _, m := range h.rec.msgs {
		if m.Key == "" || seen[m.Key] {
			t.Fatalf("page %s %s at %s has key %q (keys so far %v)", m.User, m.Channel, m.At, m.Key, seen)
		}
		seen[m.Key] = true
	}
}
