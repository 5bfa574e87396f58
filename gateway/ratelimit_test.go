package gateway

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
)

// TestRateLimitedSMSBurstGoesOutInTurn: Twilio's rate limit (here one SMS
// every 50 s, burst 1) and three incidents for Dan at once, whose SMS come
// due together at 2m, through the real transport chain the daemon builds.
// The first SMS goes at 2m; the others' turns are past what their send
// timeout allows to wait, so they are sent back: not recorded failed, the
// step due again at its turn (2m50s, 3m40s), where each goes out. Nothing
// else of the incidents moves: their calls are still at 5m. (They were
// recorded notify_failed and never sent: a burst lost every SMS past the
// send timeout's worth.)
func TestRateLimitedSMSBurstGoesOutInTurn(t *testing.T) {
	fake := providertest.NewTwilio(t)
	cfg := strings.Replace(twilioAt(fake, twilioConfig), "notifiers:\n",
		"notifiers:\n  storm: {window: 0s}\n  rate_limits: {twilio: {per_second: 0.02, burst: 1}}\n", 1)
	h := newHarness(t, withConfig(cfg), realTransport("twilio"), fastRetries())
	var ids []string
	for _, g := range []string{"g1", "g2", "g3"} {
		r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", g, map[string]string{"alertname": "A" + g, "severity": "critical"}),
			"Authorization", "Bearer "+amKey)
		if r.code != 200 {
			t.Fatalf("webhook: %d %s", r.code, r.body)
		}
		var res struct{ Incidents []string }
		r.json(t, &res)
		ids = append(ids, res.Incidents[0])
	}
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if n := len(fake.Messages()); n != 1 {
		t.Fatalf("at 2m Twilio got %d SMS, want 1 (the others wait their turn)", n)
	}
	h.runUntil(fixedNow.Add(5 * time.Minute))
	if n := len(fake.Messages()); n != 3 {
		t.Fatalf("by 5m Twilio got %d SMS, want 3", n)
	}
	var sentAt []string
	for _, id := range ids {
		calls := 0
		for _, e := range h.incident(id).Timeline {
			switch {
			case e.Type == "notify_failed":
				t.Errorf("%s: %s %s failed: %s", id, e.User, e.Channel, e.Detail)
			case e.Type == "notify" && e.Channel == "sms":
				sentAt = append(sentAt, e.At.Sub(fixedNow).String())
			case e.Type == "notify" && e.Channel == "voice":
				calls++
				if !e.At.Equal(fixedNow.Add(5 * time.Minute)) {
					t.Errorf("%s: call at %v, want 5m", id, e.At.Sub(fixedNow))
				}
			}
		}
		if calls != 1 {
			t.Errorf("%s: %d calls, want 1 at 5m", id, calls)
		}
	}
	sort.Strings(sentAt)
	if strings.Join(sentAt, " ") != "2m0s 2m50s 3m40s" {
		t.Fatalf("SMS recorded sent at %v, want 2m0s 2m50s 3m40s", sentAt)
	}
	if got := metric(t, h.reg, "pagerd_pages_total", "channel", "sms", "result", "rate_limited"); got != 2 {
		t.Fatalf("pagerd_pages_total{result=rate_limited} %v, want 2", got)
	}
}

// stormSMSAt is twilioConfig with storm bundling (10 s window, immediate
// pages at once) and Twilio's rate limit one SMS every 50 s, burst 1.
func stormSMSAt(fake *providertest.Twilio, immediate int) string {
	return strings.Replace(twilioAt(fake, twilioConfig), "notifiers:\n",
		fmt.Sprintf("notifiers:\n  storm: {window: 10s, immediate: %d}\n  rate_limits: {twilio: {per_second: 0.02, burst: 1}}\n", immediate), 1)
}

// danInAStorm starts a daemon on st with stormSMSAt's config, its SMS
// through a fake Twilio, and fires four incidents for dan at once.
func danInAStorm(t *testing.T, st store.Store, immediate int) (*providertest.Twilio, *harness, []string) {
	t.Helper()
	fake := providertest.NewTwilio(t)
	h := newHarness(t, withStore(st), withConfig(stormSMSAt(fake, immediate)), realTransport("twilio"), fastRetries())
	var ids []string
	for i := range 4 {
		r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", fmt.Sprintf("g%d", i),
			map[string]string{"alertname": fmt.Sprintf("A%d", i), "severity": "critical"}), "Authorization", "Bearer "+amKey)
		if r.code != 200 {
			t.Fatalf("webhook: %d %s", r.code, r.body)
		}
		var res struct{ Incidents []string }
		r.json(t, &res)
		ids = append(ids, res.Incidents[0])
	}
	return fake, h, ids
}

// smsSentAt is when each incident's SMS was recorded sent, by incident;
// an incident recorded sent twice, or failed, fails the test.
func smsSentAt(t *testing.T, h *harness, ids []string) map[string]time.Duration {
	t.Helper()
	out := map[string]time.Duration{}
	for _, id := range ids {
		for _, e := range h.incident(id).Timeline {
			switch {
			case e.Channel != "sms":
			case e.Type == "notify_failed":
				t.Errorf("%s: SMS failed: %s", id, e.Detail)
			case e.Type == "notify":
				if at, twice := out[id]; twice {
					t.Errorf("%s: SMS recorded sent at %v and at %v", id, at, e.At.Sub(fixedNow))
				}
				out[id] = e.At.Sub(fixedNow)
			}
		}
	}
	return out
}

// noErrorLogs fails the test if the daemon logged at ERROR.
func noErrorLogs(t *testing.T, h *harness) {
	t.Helper()
	for _, line := range strings.Split(h.logs.String(), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) {
			t.Errorf("logged at ERROR: %s", line)
		}
	}
}

// TestRateLimitedStormMessageGoesOutAtItsTurn: four incidents for Dan at
// once, storm bundling with one page at once, Twilio's limit one SMS every
// 50 s. At 2m the first SMS goes; the other three are held, and their
// storm message at 2m10s finds its turn 40 s off, past what its send
// timeout allows to wait: it is sent back (not sent, not failed, counted
// rate_limited, logged at INFO) and goes out at its turn, 2m50s, once,
// with the three incidents. (It was logged ERROR and came back only when
// its claim's lease ended, 2m40s, still 10 s short of its turn, and went
// out at 3m10s.)
func TestRateLimitedStormMessageGoesOutAtItsTurn(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake, h, ids := danInAStorm(t, mk(t), 1)
			h.runUntil(fixedNow.Add(2*time.Minute + 10*time.Second))
			if n := len(fake.Messages()); n != 1 {
				t.Fatalf("by 2m10s Twilio got %d SMS, want 1 (the storm message waits its turn)", n)
			}
			if got := metric(t, h.reg, "pagerd_storm_bundles_total", "channel", "sms", "result", "rate_limited"); got != 1 {
				t.Fatalf("pagerd_storm_bundles_total{result=rate_limited} %v, want 1", got)
			}
			if at, ok, _ := h.store.NextDue(context.Background()); !ok || !at.Equal(fixedNow.Add(2*time.Minute+50*time.Second)) {
				t.Fatalf("next due %v %v, want the storm message's turn, 2m50s", at.Sub(fixedNow), ok)
			}
			h.runUntil(fixedNow.Add(4*time.Minute + 59*time.Second))
			msgs := fake.Messages()
			if len(msgs) != 2 || !strings.Contains(msgs[1].Get("Body"), "3 incidents (alert storm)") {
				t.Fatalf("Twilio got %d SMS, want the first and one storm message for 3 incidents: %v", len(msgs), msgs)
			}
			sentAt := smsSentAt(t, h, ids)
			var bundled int
			for _, id := range ids {
				switch sentAt[id] {
				case 2 * time.Minute:
				case 2*time.Minute + 50*time.Second:
					bundled++
				default:
					t.Errorf("%s: SMS recorded sent at %v, want 2m or (in the storm message) 2m50s", id, sentAt[id])
				}
			}
			if bundled != 3 {
				t.Errorf("%d incidents recorded sent in the storm message at 2m50s, want 3: %v", bundled, sentAt)
			}
			if got := metric(t, h.reg, "pagerd_storm_bundles_total", "channel", "sms", "result", "sent"); got != 1 {
				t.Fatalf("pagerd_storm_bundles_total{result=sent} %v, want 1", got)
			}
			noErrorLogs(t, h)
		})
	}
}

// TestRateLimitedPageInAStormGoesOutAtItsTurn: four incidents for Dan at
// once, storm bundling with two pages at once, Twilio's limit one SMS
// every 50 s. At 2m two SMS are let out and two held; the first goes, the
// second's turn (2m50s) is too far off and it is sent back, and the storm
// message at 2m10s is sent back to its own turn behind it (3m40s). The
// page sent back goes out at its turn, on its own, once; the storm message
// at its turn with the two held. (At its turn the page asked the storm
// again, was held for the message, and went out 50 s later in it, its
// turn at 2m50s going unused.)
func TestRateLimitedPageInAStormGoesOutAtItsTurn(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake, h, ids := danInAStorm(t, mk(t), 2)
			h.runUntil(fixedNow.Add(4*time.Minute + 59*time.Second))
			msgs := fake.Messages()
			if len(msgs) != 3 || strings.Contains(msgs[1].Get("Body"), "alert storm") || !strings.Contains(msgs[2].Get("Body"), "2 incidents (alert storm)") {
				t.Fatalf("Twilio got %d SMS, want two pages and one storm message for 2 incidents: %v", len(msgs), msgs)
			}
			sentAt := smsSentAt(t, h, ids)
			var got []string
			for _, id := range ids {
				got = append(got, sentAt[id].String())
			}
			sort.Strings(got)
			if strings.Join(got, " ") != "2m0s 2m50s 3m40s 3m40s" {
				t.Fatalf("SMS recorded sent at %v, want 2m0s, 2m50s (the page sent back, at its turn) and 3m40s twice (the storm message)", got)
			}
			if got := metric(t, h.reg, "pagerd_pages_total", "channel", "sms", "result", "rate_limited"); got != 1 {
				t.Fatalf("pagerd_pages_total{result=rate_limited} %v, want 1", got)
			}
			noErrorLogs(t, h)
		})
	}
}

// TestRateLimitedPageCountsItsLatenessFromItsStep: three SMS due at 2m,
// Twilio's limit one every 50 s: they go out at 2m, 2m50s and 3m40s, and
// pagerd_dispatch_lateness_seconds says so (0, 50 s and 100 s late), so
// that PagerdDispatchLate, which names rate limits as a cause, sees them.
// (A page sent back was measured from its turn, not its step: the burst
// read as on time.)
func TestRateLimitedPageCountsItsLatenessFromItsStep(t *testing.T) {
	fake := providertest.NewTwilio(t)
	cfg := strings.Replace(twilioAt(fake, twilioConfig), "notifiers:\n",
		"notifiers:\n  storm: {window: 0s}\n  rate_limits: {twilio: {per_second: 0.02, burst: 1}}\n", 1)
	h := newHarness(t, withConfig(cfg), realTransport("twilio"), fastRetries())
	for _, g := range []string{"g1", "g2", "g3"} {
		r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", g, map[string]string{"alertname": "A" + g, "severity": "critical"}),
			"Authorization", "Bearer "+amKey)
		if r.code != 200 {
			t.Fatalf("webhook: %d %s", r.code, r.body)
		}
	}
	h.runUntil(fixedNow.Add(2*time.Minute - time.Second))
	before := histogramSum(t, h, "pagerd_dispatch_lateness_seconds")
	h.runUntil(fixedNow.Add(4 * time.Minute))
	if n := len(fake.Messages()); n != 3 {
		t.Fatalf("by 4m Twilio got %d SMS, want 3", n)
	}
	if got := histogramSum(t, h, "pagerd_dispatch_lateness_seconds") - before; got < 150 {
		t.Fatalf("the three SMS were %v s late in all by pagerd_dispatch_lateness_seconds, want 150 (0, 50 and 100)", got)
	}
}

// histogramSum is the sum of a histogram's observations.
func histogramSum(t testing.TB, h *harness, name string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetHistogram().GetSampleSum()
		}
	}
	return 0
}

// TestRateLimitedStormMessageCountsItsLatenessFromItsWindowsEnd: Dan's
// storm message is due at its window's end, 2m10s; Twilio's limit sends
// it back to its turn, 2m50s, where it goes out. It went out 40 s late,
// and pagerd_dispatch_lateness_seconds says so, on either store, so that
// PagerdDispatchLate sees storm messages the rate limit holds up. (On
// Redis it was measured from its turn: on time.)
func TestRateLimitedStormMessageCountsItsLatenessFromItsWindowsEnd(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake, h, _ := danInAStorm(t, mk(t), 1)
			h.runUntil(fixedNow.Add(2*time.Minute + time.Second))
			before := histogramSum(t, h, "pagerd_dispatch_lateness_seconds")
			h.runUntil(fixedNow.Add(4*time.Minute + 59*time.Second))
			if msgs := fake.Messages(); len(msgs) != 2 || !strings.Contains(msgs[1].Get("Body"), "alert storm") {
				t.Fatalf("Twilio got %d SMS, want the first and the storm message: %v", len(msgs), msgs)
			}
			if got := histogramSum(t, h, "pagerd_dispatch_lateness_seconds") - before; got < 40 || got > 45 {
				t.Fatalf("the storm message was %v s late by pagerd_dispatch_lateness_seconds, want 40 (due 2m10s, sent 2m50s)", got)
			}
		})
	}
}

// eveConfig adds to twilioConfig Eve, on call for the service ops, whose
// first page is an SMS, and Twilio's limit one SMS every 50 s, burst 1.
func eveConfig(fake *providertest.Twilio) string {
	cfg := twilioAt(fake, twilioConfig)
	cfg = strings.Replace(cfg, "schedules:\n",
		`  - {id: eve, name: Eve, contacts: [{channel: sms, via: twilio, address: "+15555550122"}], notification_rules: {high: [{after: 0s, channel: sms}]}}
schedules:
  - name: ops
    handoff: {weekday: monday, time: "00:00"}
    tiers: [{name: primary, start: 2025-01-06, members: [eve]}]
`, 1)
	cfg = strings.Replace(cfg, "services:\n", `  - name: ops
    levels: [{name: primary, targets: [{schedule: ops, tier: primary}]}]
services:
  - name: ops
    priority_scheme: P0-P3
    escalation_policy: ops
    integrations: {alertmanager_key: `+batchKey+`}
`, 1)
	return strings.Replace(cfg, "notifiers:\n", "notifiers:\n  storm: {window: 0s}\n  rate_limits: {twilio: {per_second: 0.02, burst: 1}}\n", 1)
}

// TestRateLimitedFirstPageGoesAheadOfQueuedLaterSteps: three incidents
// for Dan at once, whose SMS (their second step) come due at 2m; Twilio's
// limit, one SMS every 50 s, sends the second and third back to their
// turns, 2m50s and 3m40s. At 2m10s a new incident pages Eve, whose first
// step is an SMS: nobody has been told of it yet, so it takes the first
// turn, 2m50s, and Dan's two SMS go out at 3m40s and 4m30s, in the order
// they came. (It waited behind them, for 4m30s: 2m20s after its alert.)
func TestRateLimitedFirstPageGoesAheadOfQueuedLaterSteps(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			h := newHarness(t, withStore(mk(t)), withConfig(eveConfig(fake)), realTransport("twilio"), fastRetries())
			post := func(key, group string) string {
				t.Helper()
				r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", group, map[string]string{"alertname": group, "severity": "critical"}),
					"Authorization", "Bearer "+key)
				var res struct{ Incidents []string }
				r.json(t, &res)
				if r.code != 200 || len(res.Incidents) != 1 {
					t.Fatalf("webhook %s: %d %s", group, r.code, r.body)
				}
				return res.Incidents[0]
			}
			var dan []string
			for _, g := range []string{"g1", "g2", "g3"} {
				dan = append(dan, post(amKey, g))
			}
			h.runUntil(fixedNow.Add(2*time.Minute + 10*time.Second))
			if n := len(fake.Messages()); n != 1 {
				t.Fatalf("by 2m10s Twilio got %d SMS, want 1 (the other two wait their turns)", n)
			}
			eve := post(batchKey, "new")
			h.runUntil(fixedNow.Add(4*time.Minute + 59*time.Second))
			sentAt := smsSentAt(t, h, append(slices.Clone(dan), eve))
			var danAt []time.Duration
			for _, id := range dan {
				danAt = append(danAt, sentAt[id])
			}
			slices.Sort(danAt)
			if got, want := fmt.Sprint(sentAt[eve], danAt), "2m50s [2m0s 3m40s 4m30s]"; got != want {
				t.Fatalf("Eve's first page and Dan's SMS sent at %s, want %s: Eve's at the first turn after her alert, Dan's one turn later each", got, want)
			}
			if n := len(fake.Messages()); n != 4 {
				t.Fatalf("Twilio got %d SMS, want 4, each once", n)
			}
			noErrorLogs(t, h)
		})
	}
}

// TestRateLimitedFirstPageAfterItsIncidentWasOpenedGoesAheadOfQueuedLaterSteps:
// as TestRateLimitedFirstPageGoesAheadOfQueuedLaterSteps, but Eve's
// incident is opened at 0, with Dan's, and its first page comes due at
// 2m10s, later than the incident was opened: held by a maintenance window
// that ends then, or Eve's first step is an SMS 2m10s after she is paged.
// Nobody has been told of it yet either way, so it takes the first turn,
// 2m50s, ahead of Dan's SMS. (It was not marked a first page, not being due
// when its incident was opened, and waited behind them, to 4m30s.)
func TestRateLimitedFirstPageAfterItsIncidentWasOpenedGoesAheadOfQueuedLaterSteps(t *testing.T) {
	for how, edit := range map[string]func(cfg string) string{
		"maintenance window": func(cfg string) string {
			return cfg + `
maintenance:
  - name: ops-upgrade
    services: [ops]
    start: 2025-09-10T05:00:00Z
    end: 2025-09-10T06:02:10Z
`
		},
		"first step later": func(cfg string) string {
			return strings.Replace(cfg, "notification_rules: {high: [{after: 0s, channel: sms}]}", "notification_rules: {high: [{after: 2m10s, channel: sms}]}", 1)
		},
	} {
		for name, mk := range stores(t) {
			t.Run(how+"/"+name, func(t *testing.T) {
				fake := providertest.NewTwilio(t)
				h := newHarness(t, withStore(mk(t)), withConfig(edit(eveConfig(fake))), realTransport("twilio"), fastRetries())
				post := func(key, group string) string {
					t.Helper()
					r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", group, map[string]string{"alertname": group, "severity": "critical"}),
						"Authorization", "Bearer "+key)
					var res struct{ Incidents []string }
					r.json(t, &res)
					if r.code != 200 || len(res.Incidents) != 1 {
						t.Fatalf("webhook %s: %d %s", group, r.code, r.body)
					}
					return res.Incidents[0]
				}
				eve := post(batchKey, "new")
				var dan []string
				for _, g := range []string{"g1", "g2", "g3"} {
					dan = append(dan, post(amKey, g))
				}
				h.runUntil(fixedNow.Add(4*time.Minute + 59*time.Second))
				sentAt := smsSentAt(t, h, append(slices.Clone(dan), eve))
				var danAt []time.Duration
				for _, id := range dan {
					danAt = append(danAt, sentAt[id])
				}
				slices.Sort(danAt)
				if got, want := fmt.Sprint(sentAt[eve], danAt), "2m50s [2m0s 3m40s 4m30s]"; got != want {
					t.Fatalf("Eve's first page and Dan's SMS sent at %s, want %s: Eve's at the first turn after it came due, Dan's one turn later each", got, want)
				}
				if n := len(fake.Messages()); n != 4 {
					t.Fatalf("Twilio got %d SMS, want 4, each once", n)
				}
				noErrorLogs(t, h)
			})
		}
	}
}

// TestStormMessageTwilioKeepsSendingBackFails: Dan's storm of four, as
// above, and after the first SMS Twilio answers every request 429 with
// Retry-After: 30 (the account over its limit, for as long as it stays
// so). The storm message was sent back at each of its turns, for good:
// never sent, nothing in its incidents' timelines, counted only as
// rate_limited (which no alert watches), and Dan's next step not brought
// forward. Held a minute past its window's end on Twilio's word, it now
// fails: notify_failed in each incident's timeline, counted failed.
func TestStormMessageTwilioKeepsSendingBackFails(t *testing.T) {
	fake, h, ids := danInAStorm(t, boltStore(t), 1)
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if n := len(fake.Messages()); n != 1 {
		t.Fatalf("by 2m Twilio got %d SMS, want the first", n)
	}
	fake.RateLimitFirst(1000, "30")
	h.runUntil(fixedNow.Add(4 * time.Minute))
	if got := metric(t, h.reg, "pagerd_storm_bundles_total", "channel", "sms", "result", "failed"); got != 1 {
		t.Fatalf("pagerd_storm_bundles_total{result=failed} %v, want 1 (rate_limited %v)", got,
			metric(t, h.reg, "pagerd_storm_bundles_total", "channel", "sms", "result", "rate_limited"))
	}
	failed := 0
	for _, id := range ids {
		for _, e := range h.incident(id).Timeline {
			if e.Type == "notify_failed" && e.Channel == "sms" && strings.Contains(e.Detail, "alert storm") && strings.Contains(e.Detail, "429") {
				failed++
			}
		}
	}
	if failed != 3 {
		t.Fatalf("%d incidents record the storm message failed, want the 3 it carried", failed)
	}
}

// stormMessageFailures counts the incidents among ids whose timeline says
// their storm message failed on SMS with Twilio's 429.
func stormMessageFailures(h *harness, ids []string) int {
	h.t.Helper()
	failed := 0
	for _, id := range ids {
		for _, e := range h.incident(id).Timeline {
			if e.Type == "notify_failed" && e.Channel == "sms" && strings.Contains(e.Detail, "alert storm") {
				failed++
			}
		}
	}
	return failed
}

// TestStormMessageLateAndSentBackOnceGoesOutAtItsTurn: Dan's storm of
// four, as above: the first SMS at 2m, three held for the message at the
// window's end (2m10s). The dispatcher is behind (a restart, a takeover,
// a backlog) and first tries the message at 3m30s, when Twilio answers
// that one try 429 with Retry-After: 30. The minute a storm message is
// held on the provider's word counted from its window's end, so the
// message failed at Twilio's first 429, never tried again, though Twilio
// took it 30 s later. It counts from the provider's first 429, as for a
// page (d46ffb1): the message goes out at its turn.
func TestStormMessageLateAndSentBackOnceGoesOutAtItsTurn(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake, h, ids := danInAStorm(t, open(t), 1)
			h.runUntil(fixedNow.Add(2 * time.Minute))
			if n := len(fake.Messages()); n != 1 {
				t.Fatalf("by 2m Twilio got %d SMS, want the first", n)
			}
			fake.RateLimitFirst(1, "30")
			h.step(fixedNow.Add(3*time.Minute + 30*time.Second))
			if n := stormMessageFailures(h, ids); n != 0 {
				t.Fatalf("at Twilio's first 429 (3m30s, 80 s after the window's end), %d incidents record the storm message failed", n)
			}
			if n := metric(t, h.reg, "pagerd_storm_bundles_total", "channel", "sms", "result", "rate_limited"); n != 1 {
				t.Fatalf("at 3m30s the storm message was not sent back once (rate_limited %v): the test does not test what it says", n)
			}
			h.runUntil(fixedNow.Add(4*time.Minute + 30*time.Second))
			if n := stormMessageFailures(h, ids); n != 0 {
				t.Errorf("%d incidents record the storm message failed: Twilio sent it back once, 80 s after its window's end", n)
			}
			if got := metric(t, h.reg, "pagerd_storm_bundles_total", "channel", "sms", "result", "sent"); got != 1 {
				t.Fatalf("pagerd_storm_bundles_total{result=sent} %v, want the message sent at its turn", got)
			}
			if n := len(fake.Messages()); n != 2 {
				t.Fatalf("Twilio took %d SMS, want the first and the storm message", n)
			}
		})
	}
}

// TestStormMessageSentBackCountsItsMinuteAcrossReplicas: as above, but
// Twilio keeps answering 429, and the message's later tries are another
// replica's (or this one's after a restart). It fails a minute after
// Twilio's first 429 (3m30s), at the try at 4m30s: the first 429 is kept
// in the storm's state in the store, not in the replica that saw it,
// which would give the message a fresh minute at every takeover.
func TestStormMessageSentBackCountsItsMinuteAcrossReplicas(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake, h, ids := danInAStorm(t, open(t), 1)
			h.runUntil(fixedNow.Add(2 * time.Minute))
			fake.RateLimitFirst(1000, "30")
			h.step(fixedNow.Add(3*time.Minute + 30*time.Second))
			if n := stormMessageFailures(h, ids); n != 0 {
				t.Fatalf("at its first 429 (3m30s), %d incidents record the storm message failed", n)
			}
			other, reg := h.dispatcher(nil)
			ctx := context.Background()
			for _, at := range []time.Duration{4 * time.Minute, 4*time.Minute + 30*time.Second} {
				h.clock.Set(fixedNow.Add(at))
				if _, err := other.RunOnce(ctx); err != nil {
					t.Fatal(err)
				}
				switch failed := stormMessageFailures(h, ids); {
				case at < 4*time.Minute+30*time.Second && failed != 0:
					t.Fatalf("at %v, 30 s after Twilio's first 429, %d incidents record the storm message failed", at, failed)
				case at == 4*time.Minute+30*time.Second && failed != 3:
					t.Fatalf("at %v, a minute after Twilio's first 429, %d incidents record the storm message failed, want the 3 it carried (rate_limited %v)",
						at, failed, metric(t, reg, "pagerd_storm_bundles_total", "channel", "sms", "result", "rate_limited"))
				}
			}
			if got := metric(t, reg, "pagerd_storm_bundles_total", "channel", "sms", "result", "failed"); got != 1 {
				t.Fatalf("the other replica's pagerd_storm_bundles_total{result=failed} %v, want 1", got)
			}
		})
	}
}
