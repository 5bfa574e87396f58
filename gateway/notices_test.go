package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/heartbeat"
	"github.com/pagerd/pagerd/gateway/notices"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify"
)

// noticesConfig: ann and bob take weekly turns (bob's week holds
// fixedNow; ann's starts Monday Sep 15 00:00 UTC); notices a day ahead and
// at the handoff, the team's channel told of both.
func noticesConfig(slackURL string) string {
	return `
api:
  tokens: [{name: ops, token: ` + apiToken + `, role: admin}]
notifiers:
  slack: {bot_token: ` + providertest.SlackBotToken + `, signing_secret: ` + providertest.SlackSigningSecret + `, api_url: "` + slackURL + `"}
users:
  - {id: ann, name: Ann, contacts: [{channel: push, via: log}, {channel: sms, via: log}]}
  - {id: bob, name: Bob, contacts: [{channel: push, via: log}, {channel: sms, via: log}], notice_channel: sms}
  - {id: cat, name: Cat, contacts: [{channel: push, via: log}]}
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: primary, start: 2025-01-06, members: [ann, bob]}
    notices: {before: 24h, slack_channel: "#on-call-handoff"}
escalation_policies:
  - {name: p, levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]}
services:
  - {name: api, priority_scheme: P0-P3, escalation_policy: p, integrations: {alertmanager_key: ` + amKey + `}}
`
}

func (r *recorder) notices() []notify.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []notify.Message
	for _, m := range r.msgs {
		if m.Notice {
			out = append(out, m)
		}
	}
	return out
}

// noticeTexts are the shift notices sent, each "Jan 2 15:04 user channel:
// text".
func noticeTexts(h *harness) []string {
	var out []string
	for _, m := range h.rec.notices() {
		out = append(out, m.At.UTC().Format("Jan 2 15:04")+" "+m.User+" "+m.Channel+": "+m.Text)
	}
	return out
}

// teamTexts are the messages in the team's channel of noticesConfig.
func teamTexts(sl *providertest.Slack) []string {
	var out []string
	for _, m := range channelMessages(sl, "CONCALLHANDOFF") {
		out = append(out, m.Text)
	}
	return out
}

// Shift notices go out once across replicas, to the incoming person on
// their notice channel and to the team's Slack channel, a day ahead and
// at the handoff; an override made at run time brings its own, in time.
func TestShiftNoticesOnceAcrossReplicas(t *testing.T) {
	sl := providertest.NewSlack(t)
	st, _ := redisStore(t)
	h := newHarness(t, withStore(st), withConfig(noticesConfig(sl.URL)), replicas(3))
	// What Run does at start: the schedule's notice job, due at ann's
	// notice on Sunday.
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	if at, ok, _ := st.NextDue(context.Background()); !ok || !at.Equal(time.Date(2025, 9, 14, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("the notice job is due %v %v", at, ok)
	}

	// Cat takes Thursday afternoon (Sep 11, 14:00-18:00 UTC) from bob.
	if r := h.api("POST", "/api/v1/schedules/s/overrides", `{"tier":"primary","user":"cat","start":"2025-09-11T14:00:00Z","end":"2025-09-11T18:00:00Z","reason":"bob at the dentist"}`); r.code != 201 {
		t.Fatalf("override: %d %s", r.code, r.body)
	}
	// The override moved the job to its own first notice.
	if at, _, _ := st.NextDue(context.Background()); !at.Equal(time.Date(2025, 9, 10, 14, 0, 0, 0, time.UTC)) {
		t.Fatalf("after the override the notice job is due %v", at)
	}
	h.runUntil(time.Date(2025, 9, 15, 1, 0, 0, 0, time.UTC))

	got := noticeTexts(h)
	want := []string{
		"Sep 10 14:00 cat push: Your on-call shift starts in 1d: Primary of s, from Thu Sep 11 14:00 UTC until Thu Sep 11 18:00 UTC (override: bob at the dentist). You take over from Bob.",
		"Sep 10 18:00 bob sms: Your on-call shift starts in 1d: Primary of s, from Thu Sep 11 18:00 UTC until Mon Sep 15 00:00 UTC. You take over from Cat.",
		"Sep 11 14:00 cat push: You are on call now: Primary of s, until Thu Sep 11 18:00 UTC (override: bob at the dentist). You take over from Bob.",
		"Sep 11 18:00 bob sms: You are on call now: Primary of s, until Mon Sep 15 00:00 UTC. You take over from Cat.",
		"Sep 14 00:00 ann push: Your on-call shift starts in 1d: Primary of s, from Mon Sep 15 00:00 UTC until Mon Sep 22 00:00 UTC. You take over from Bob.",
		"Sep 15 00:00 ann push: You are on call now: Primary of s, until Mon Sep 22 00:00 UTC. You take over from Bob.",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("notices:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	team := teamTexts(sl)
	if len(team) != 6 || team[5] != "On-call handoff of s, Mon Sep 15 00:00 UTC: Primary: Bob → Ann" ||
		team[4] != "s hands off in 1d, Mon Sep 15 00:00 UTC: Primary: Bob → Ann" {
		t.Fatalf("team channel:\n%s", strings.Join(team, "\n"))
	}
	if pages := h.rec.lines(fixedNow); len(pages) != len(got) {
		t.Fatalf("pages besides the notices: %v", pages)
	}
}

// TestShiftNoticesOfAnOverrideInsideTheBeforeWindow: ann was told a day
// ahead (Sunday 00:00) that her week starts Monday 00:00; at Sunday 12:00
// an override gives the week to cat. Cat is told at once, with the time
// left; ann, that the week is no longer hers; the team's channel, that
// the plan changed; each once across replicas. The override removed at
// 18:00, it goes back the other way. (Before: cat heard nothing until
// Monday's "on call now", ann and the team never learnt of the change.)
func TestShiftNoticesOfAnOverrideInsideTheBeforeWindow(t *testing.T) {
	sl := providertest.NewSlack(t)
	st, _ := redisStore(t)
	h := newHarness(t, withStore(st), withConfig(noticesConfig(sl.URL)), replicas(3))
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.runUntil(time.Date(2025, 9, 14, 12, 0, 0, 0, time.UTC))
	r := h.api("POST", "/api/v1/schedules/s/overrides", `{"tier":"primary","user":"cat","start":"2025-09-15T00:00:00Z","end":"2025-09-22T00:00:00Z","reason":"ann ill"}`)
	if r.code != 201 {
		t.Fatalf("override: %d %s", r.code, r.body)
	}
	var made struct{ ID string }
	r.json(t, &made)
	if at, _, _ := st.NextDue(context.Background()); !at.Equal(h.clock.Now()) {
		t.Fatalf("after the override the notice job is due %v, want now", at)
	}
	h.runUntil(time.Date(2025, 9, 14, 18, 0, 0, 0, time.UTC))
	if r := h.api("DELETE", "/api/v1/schedules/s/overrides/"+made.ID, ""); r.code != 200 {
		t.Fatalf("delete the override: %d %s", r.code, r.body)
	}
	h.runUntil(time.Date(2025, 9, 15, 1, 0, 0, 0, time.UTC))

	got := noticeTexts(h)
	want := []string{
		"Sep 14 00:00 ann push: Your on-call shift starts in 1d: Primary of s, from Mon Sep 15 00:00 UTC until Mon Sep 22 00:00 UTC. You take over from Bob.",
		"Sep 14 12:00 ann push: Change: you are no longer on call from Mon Sep 15 00:00 UTC: Primary of s is Cat's then (override: ann ill), not yours.",
		"Sep 14 12:00 cat push: Your on-call shift starts in 12h: Primary of s, from Mon Sep 15 00:00 UTC until Mon Sep 22 00:00 UTC (override: ann ill). You take over from Bob.",
		"Sep 14 18:00 cat push: Change: you are no longer on call from Mon Sep 15 00:00 UTC: Primary of s is Ann's then, not yours.",
		"Sep 14 18:00 ann push: Your on-call shift starts in 6h: Primary of s, from Mon Sep 15 00:00 UTC until Mon Sep 22 00:00 UTC. You take over from Bob.",
		"Sep 15 00:00 ann push: You are on call now: Primary of s, until Mon Sep 22 00:00 UTC. You take over from Bob.",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("notices:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	team := teamTexts(sl)
	wantTeam := []string{
		"s hands off in 1d, Mon Sep 15 00:00 UTC: Primary: Bob → Ann",
		"The on-call plan of s changed: Primary from Mon Sep 15 00:00 UTC: Cat, not Ann (override: ann ill)",
		"The on-call plan of s changed: Primary from Mon Sep 15 00:00 UTC: Ann, not Cat",
		"On-call handoff of s, Mon Sep 15 00:00 UTC: Primary: Bob → Ann",
	}
	if strings.Join(team, "\n") != strings.Join(wantTeam, "\n") {
		t.Errorf("team channel:\n%s\nwant\n%s", strings.Join(team, "\n"), strings.Join(wantTeam, "\n"))
	}
}

// TestShiftNoticeJobOverriddenWhileItRuns: an override made while the
// notice job sends its notices neither sends them again nor loses the
// override's own. (Before: arming after the override replaced the job
// being worked with the state it had before its notices went out, and the
// job, due again at once, sent ann's notice a second time.)
func TestShiftNoticeJobOverriddenWhileItRuns(t *testing.T) {
	sl := providertest.NewSlack(t)
	h := newHarness(t, withConfig(noticesConfig(sl.URL)))
	ctx := context.Background()
	if err := h.d.Arm(ctx); err != nil {
		t.Fatal(err)
	}
	// Ann's notice a day ahead is due at Sep 14 00:00: a dispatcher claims
	// the job and begins it.
	h.clock.Set(time.Date(2025, 9, 14, 0, 0, 30, 0, time.UTC))
	claims, err := h.store.ClaimDue(ctx, h.clock.Now(), time.Minute, 10)
	if err != nil || len(claims) != 1 || claims[0].Job == nil {
		t.Fatalf("claims %+v %v, want the notice job", claims, err)
	}
	// Meanwhile cat takes Sunday morning (from 06:00), bob the rest of
	// Sunday: the arming that follows finds the job claimed.
	if r := h.api("POST", "/api/v1/schedules/s/overrides", `{"tier":"primary","user":"cat","start":"2025-09-14T06:00:00Z","end":"2025-09-14T10:00:00Z","reason":"swap"}`); r.code != 201 {
		t.Fatalf("override: %d %s", r.code, r.body)
	}
	next, err := h.d.notices.Handle(ctx, claims[0].Job)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.store.FinishJob(ctx, claims[0], next); err != nil {
		t.Fatal(err)
	}
	h.runUntil(time.Date(2025, 9, 15, 1, 0, 0, 0, time.UTC))
	var got []string
	for _, m := range h.rec.notices() {
		got = append(got, m.At.UTC().Format("Jan 2 15:04")+" "+m.User+": "+m.Text)
	}
	count := func(prefix string) int {
		n := 0
		for _, g := range got {
			if strings.HasPrefix(g, prefix) {
				n++
			}
		}
		return n
	}
	if count("Sep 14 00:00 ann: Your on-call shift starts in 1d") != 1 || count("Sep 14 06:00 cat: You are on call now") != 1 ||
		count("Sep 15 00:00 ann: You are on call now") != 1 {
		t.Fatalf("notices:\n%s\nwant ann's day-ahead notice once, cat's at 06:00 and ann's at the handoff", strings.Join(got, "\n"))
	}
}

// jobRunAfterRead is a store whose next read of a notice job, once set,
// runs afterRead before it answers with what it read: what another
// replica's dispatcher did between the read and the write that follows.
type jobRunAfterRead struct {
	store.Store
	afterRead atomic.Pointer[func()]
}

func (s *jobRunAfterRead) GetJob(ctx context.Context, kind, key string) (*store.Job, error) {
	j, err := s.Store.GetJob(ctx, kind, key)
	if kind == notices.Kind {
		if f := s.afterRead.Swap(nil); f != nil {
			(*f)()
		}
	}
	return j, err
}

// TestShiftNoticeJobRunBetweenArmingsReadAndWrite: at Sep 13 23:59 an
// override gives cat Sunday 06:00-10:00, and arming reads the notice job
// (due at ann's notice a day ahead, Sep 14 00:00) to move it to cat's
// notice. Before it writes, a dispatcher claims the job: it sends ann's,
// cat's and bob's notices and stores what it sent, or is still sending
// them (its replica's clock a minute ahead). Arming's write keeps what the
// run stores, and arming leaves a job being worked to it without an
// error: every notice goes out once. (Before: arming wrote the job back as
// read, from before the notices went out, due earlier, and they all went
// out a second time.)
func TestShiftNoticeJobRunBetweenArmingsReadAndWrite(t *testing.T) {
	sunday := time.Date(2025, 9, 14, 0, 0, 0, 0, time.UTC)
	for _, finished := range []bool{true, false} {
		for name, mk := range stores(t) {
			t.Run(fmt.Sprintf("finished=%v/%s", finished, name), func(t *testing.T) {
				sl := providertest.NewSlack(t)
				st := &jobRunAfterRead{Store: mk(t)}
				h := newHarness(t, withStore(st), withConfig(noticesConfig(sl.URL)))
				ctx := context.Background()
				if err := h.d.Arm(ctx); err != nil {
					t.Fatal(err)
				}
				h.clock.Set(sunday.Add(-time.Minute))
				var claims []store.Claim
				finish := func() {
					h.clock.Set(sunday)
					next, err := h.d.notices.Handle(ctx, claims[0].Job)
					if err == nil {
						err = st.FinishJob(ctx, claims[0], next)
					}
					if err != nil {
						t.Error(err)
					}
				}
				run := func() {
					var err error
					if claims, err = st.ClaimDue(ctx, sunday, time.Minute, 10); err != nil || len(claims) != 1 || claims[0].Job == nil {
						t.Errorf("claims %+v %v, want the notice job", claims, err)
						claims = nil
						return
					}
					if finished {
						finish()
					}
				}
				st.afterRead.Store(&run)
				if r := h.api("POST", "/api/v1/schedules/s/overrides", `{"tier":"primary","user":"cat","start":"2025-09-14T06:00:00Z","end":"2025-09-14T10:00:00Z","reason":"swap"}`); r.code != 201 {
					t.Fatalf("override: %d %s", r.code, r.body)
				}
				if claims == nil {
					t.Fatal("the override's arming did not read the notice job, or no dispatcher claimed it")
				}
				if !finished {
					finish()
				}
				if strings.Contains(h.logs.String(), "jobs not armed") {
					t.Errorf("arming failed:\n%s", h.logs.String())
				}
				h.runUntil(time.Date(2025, 9, 15, 1, 0, 0, 0, time.UTC))
				seen := map[string]int{}
				var got []string
				for _, m := range h.rec.notices() {
					got = append(got, m.At.UTC().Format("Jan 2 15:04")+" "+m.User+": "+m.Text)
					seen[m.User+": "+m.Text]++
				}
				for text, n := range seen {
					if n > 1 {
						t.Errorf("sent %d times: %s", n, text)
					}
				}
				if seen["ann: Your on-call shift starts in 1d: Primary of s, from Mon Sep 15 00:00 UTC until Mon Sep 22 00:00 UTC. You take over from Bob."] != 1 ||
					len(got) != 6 {
					t.Fatalf("notices:\n%s\nwant six, ann's a day ahead once", strings.Join(got, "\n"))
				}
			})
		}
	}
}

// TestShiftNoticeRearmedAfterTheStoreLostItsJob: a store that loses its
// data while pagerd runs loses the schedules' notice jobs; the periodic
// re-arm (the heartbeats') puts a missing one back, so a notice due after
// the re-arm still goes out, without waiting for the hourly arming, a
// restart or a reload. On both stores.
func TestShiftNoticeRearmedAfterTheStoreLostItsJob(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			sl := providertest.NewSlack(t)
			h := newHarness(t, withStore(mk(t)), withConfig(noticesConfig(sl.URL)))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if err := h.d.Arm(ctx); err != nil {
				t.Fatal(err)
			}
			go h.d.rearmJobs(ctx)
			// Ten minutes before ann's notice a day ahead (Sep 14 00:00),
			// the data is lost.
			lost := time.Date(2025, 9, 13, 23, 50, 0, 0, time.UTC)
			h.clock.Set(lost)
			if err := h.store.DeleteJob(ctx, notices.Kind, "s"); err != nil {
				t.Fatal(err)
			}
			h.clock.Set(lost.Add(heartbeat.RearmEvery))
			waitUntil(t, 5*time.Second, "the notice job re-armed", func() bool {
				_, err := h.store.GetJob(ctx, notices.Kind, "s")
				return err == nil
			})
			h.runUntil(time.Date(2025, 9, 14, 0, 5, 0, 0, time.UTC))
			var got []string
			for _, m := range h.rec.notices() {
				got = append(got, m.At.UTC().Format("Jan 2 15:04")+" "+m.User+" "+m.Channel)
			}
			if strings.Join(got, ",") != "Sep 14 00:00 ann push" {
				t.Fatalf("notices after the loss: %q; want ann's a day ahead", got)
			}
		})
	}
}

// noticesByTwilio: bob's shift starts Monday Sep 15 00:00 UTC, and his
// shift notices (a day ahead, and at the handoff) go by SMS through
// Twilio, at api_url, which answers after 100ms at the latest.
func noticesByTwilio(apiURL string) string {
	return `
users:
  - {id: ann, name: Ann, contacts: [{channel: push, via: log}]}
  - {id: bob, name: Bob, contacts: [{channel: push, via: log}, {channel: sms, via: twilio, address: "+15555550111"}], notice_channel: sms}
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: primary, start: 2025-01-06, members: [bob, ann]}
    notices: {before: 24h}
escalation_policies:
  - {name: p, levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]}
services:
  - {name: api, priority_scheme: P0-P3, escalation_policy: p, integrations: {alertmanager_key: ` + amKey + `}}
notifiers:
  twilio: {account_sid: ` + twSID + `, auth_token: ` + twToken + `, from: "` + twFrom + `", api_url: ` + apiURL + `, timeout: 100ms}
`
}

// smsTexts are the bodies of the SMS the fake Twilio took.
func smsTexts(fake *providertest.Twilio) []string {
	var out []string
	for _, m := range fake.Messages() {
		out = append(out, m.Get("Body"))
	}
	return out
}

// TestShiftNoticeMaybeSentIsNotSentAgain: Twilio takes bob's notice a day
// ahead and answers after the timeout. The notice job tried it again a
// minute later (a second SMS: bob had it twice) and at the handoff did the
// same; a notice that may have been sent is not tried again, and the log
// says at WARN that it may have been sent, not that it was given up.
func TestShiftNoticeMaybeSentIsNotSentAgain(t *testing.T) {
	fake := providertest.NewTwilio(t)
	late := providertest.LateAnswers(t, fake)
	h := newHarness(t, withConfig(noticesByTwilio(late.URL)), realTransport("twilio"), fastRetries())
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.runUntil(time.Date(2025, 9, 15, 0, 30, 0, 0, time.UTC))
	sms := smsTexts(fake)
	if len(sms) != 2 || !strings.HasPrefix(sms[0], "Your on-call shift starts in 1d") || !strings.HasPrefix(sms[1], "You are on call now") {
		t.Fatalf("bob's SMS:\n%s\nwant his notice a day ahead once and the one at the handoff once", strings.Join(sms, "\n"))
	}
	var maybe int
	for _, line := range strings.Split(h.logs.String(), "\n") {
		if !strings.Contains(line, "shift notice") || !strings.Contains(line, `"to":"user:bob"`) {
			continue
		}
		switch {
		case strings.Contains(line, "given up") || strings.Contains(line, "will retry"):
			t.Errorf("a notice that may have been sent is logged as failed: %s", line)
		case strings.Contains(line, "may have been sent") && strings.Contains(line, `"level":"WARN"`):
			maybe++
		}
	}
	if maybe != 2 {
		t.Errorf("%d WARN lines say bob's notices may have been sent, want 2:\n%s", maybe, h.logs.String())
	}
}

// TestShiftNoticeTemporaryFailureIsRetried: Twilio answers 503 to every
// try the transport makes of bob's notice a day ahead (its retries too);
// the notice job tries it again a minute later, and bob has it once.
func TestShiftNoticeTemporaryFailureIsRetried(t *testing.T) {
	fake := providertest.NewTwilio(t)
	var mu sync.Mutex
	refuse := notify.DefaultChainOptions.Attempts
	unavailable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fail := r.Method == http.MethodPost && refuse > 0
		if fail {
			refuse--
		}
		mu.Unlock()
		if fail {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"code": 20503, "message": "Service unavailable", "status": 503}`))
			return
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(unavailable.Close)
	h := newHarness(t, withConfig(noticesByTwilio(unavailable.URL)), realTransport("twilio"), fastRetries())
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.runUntil(time.Date(2025, 9, 14, 0, 30, 0, 0, time.UTC))
	sms := smsTexts(fake)
	if len(sms) != 1 || !strings.HasPrefix(sms[0], "Your on-call shift starts in 1d") || refuse != 0 {
		t.Fatalf("bob's SMS after %d refusals left: %q; want his notice a day ahead once, after the 503s", refuse, sms)
	}
	if !strings.Contains(h.logs.String(), "shift notice failed; will retry") {
		t.Fatalf("the 503s did not make the notice job retry:\n%s", h.logs.String())
	}
}

// noticeFaults is a transport whose sends fail by whom they are to: with
// errs[user] each time, or not at all.
type noticeFaults struct {
	errs map[string]error
}

func (f *noticeFaults) Notify(_ context.Context, m notify.Message) error { return f.errs[m.User] }

// TestShiftNoticesCounted: pagerd_shift_notices_total counts what each
// try of a notice came to, once, by transport: there at zero from the
// start, every result. Cat holds Thursday 14:00-14:02 (Sep 11): every try
// of her notices fails for a while (503): her notice a day ahead is tried
// six times and given up, the one at her handoff twice before her shift
// is over, and dropped then. Bob's two may have been sent (the provider
// answered late), ann's two go out, and so do the team channel's six.
func TestShiftNoticesCounted(t *testing.T) {
	sl := providertest.NewSlack(t)
	tr := &noticeFaults{errs: map[string]error{
		"cat": notify.Temporary(errors.New("twilio: 503")),
		"bob": notify.MaybeSent(errors.New("twilio: context deadline exceeded")),
	}}
	h := newHarness(t, withConfig(noticesConfig(sl.URL)), withNotifier("log", tr))
	body := h.do("GET", "/metrics", "").body
	for _, via := range []string{"log", "slack", "none"} {
		for _, res := range []string{"sent", "failed", "given_up", "maybe_sent", "dropped", "shadow"} {
			if want := `pagerd_shift_notices_total{result="` + res + `",via="` + via + `"} 0`; !strings.Contains(body, want) {
				t.Errorf("/metrics at start lacks %s", want)
			}
		}
	}
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := h.api("POST", "/api/v1/schedules/s/overrides", `{"tier":"primary","user":"cat","start":"2025-09-11T14:00:00Z","end":"2025-09-11T14:02:00Z","reason":"swap"}`); r.code != 201 {
		t.Fatalf("override: %d %s", r.code, r.body)
	}
	h.runUntil(time.Date(2025, 9, 15, 1, 0, 0, 0, time.UTC))
	want := map[string]map[string]float64{
		"log":   {"sent": 2, "failed": 5 + 2, "given_up": 1, "maybe_sent": 2, "dropped": 1, "shadow": 0},
		"slack": {"sent": 6, "failed": 0, "given_up": 0, "maybe_sent": 0, "dropped": 0, "shadow": 0},
	}
	for via, results := range want {
		for res, n := range results {
			if got := metric(t, h.reg, "pagerd_shift_notices_total", "via", via, "result", res); got != n {
				t.Errorf("pagerd_shift_notices_total{via=%q, result=%q} = %v, want %v", via, res, got, n)
			}
		}
	}
	if n := len(channelMessages(sl, "CONCALLHANDOFF")); n != 6 {
		t.Errorf("the team channel had %d notices, want 6", n)
	}
}

// TestShiftNoticesInDryRunCountedShadow: a notice not sent because its
// transport is dry_run counts as shadow, not sent.
func TestShiftNoticesInDryRunCountedShadow(t *testing.T) {
	sl := providertest.NewSlack(t)
	cfg := strings.Replace(noticesConfig(sl.URL), `api_url: "`+sl.URL+`"}`, `api_url: "`+sl.URL+`", dry_run: true}`, 1)
	if cfg == noticesConfig(sl.URL) {
		t.Fatal("the notices config changed: slack.dry_run not set")
	}
	h := newHarness(t, withConfig(cfg))
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.runUntil(time.Date(2025, 9, 15, 1, 0, 0, 0, time.UTC))
	for _, c := range []struct {
		via, result string
		n           float64
	}{{"slack", "shadow", 2}, {"slack", "sent", 0}, {"log", "sent", 2}, {"log", "shadow", 0}} {
		if got := metric(t, h.reg, "pagerd_shift_notices_total", "via", c.via, "result", c.result); got != c.n {
			t.Errorf("pagerd_shift_notices_total{via=%q, result=%q} = %v, want %v", c.via, c.result, got, c.n)
		}
	}
	if n := len(channelMessages(sl, "CONCALLHANDOFF")); n != 0 {
		t.Errorf("slack.dry_run, and the team channel had %d notices", n)
	}
}

// TestOverrideNoticeByAReplicaNotYetAware: an override made on replica A
// inside the notices' before window moves the schedule's notice job to
// now; replica B's dispatcher claims it before B has heard of the override
// (the job's move and the overrides' broadcast race). B reads the
// schedule's overrides before it works the job, so the change is told.
// (Before: B found nothing changed and stored the job's state as of now:
// cat never learned she was on call Monday, nor ann that the week was no
// longer hers.)
func TestOverrideNoticeByAReplicaNotYetAware(t *testing.T) {
	sl := providertest.NewSlack(t)
	st, _ := redisStore(t)
	a := newHarness(t, withStore(st), withConfig(noticesConfig(sl.URL)))
	b := newHarness(t, withStore(st), withConfig(noticesConfig(sl.URL)))
	if err := a.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	noon := time.Date(2025, 9, 14, 12, 0, 0, 0, time.UTC)
	a.runUntil(noon)
	b.clock.Set(noon)
	r := a.api("POST", "/api/v1/schedules/s/overrides", `{"tier":"primary","user":"cat","start":"2025-09-15T00:00:00Z","end":"2025-09-22T00:00:00Z","reason":"ann ill"}`)
	if r.code != 201 {
		t.Fatalf("override: %d %s", r.code, r.body)
	}
	// B's dispatcher takes the job that was moved to now, a moment before
	// B's overrides reader takes in the nudge.
	b.step(noon)
	if err := b.d.Overrides().Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	end := time.Date(2025, 9, 15, 1, 0, 0, 0, time.UTC)
	b.clock.Set(end)
	a.runUntil(end)
	got := append(noticeTexts(a), noticeTexts(b)...)
	all := strings.Join(got, "\n")
	if !strings.Contains(all, "cat push: Your on-call shift starts in") || !strings.Contains(all, "ann push: Change: you are no longer on call") {
		t.Errorf("the override's notices were never sent:\n%s", all)
	}
}

// TestShiftNoticesNotStartedPastTheClaimsSendWindow: a notice job's run
// whose first notice takes 25 s (a provider that answers slowly) is past
// its lease's send window (22.5 s of the default 30 s lease) before its
// next notice: it leaves the rest for the job's next run, rather than send
// them while another replica, the lease over, takes the job over and
// sends every notice of the run again. (Before: bob, ann and the team's
// channel each got the day-ahead notice twice.)
func TestShiftNoticesNotStartedPastTheClaimsSendWindow(t *testing.T) {
	sl := providertest.NewSlack(t)
	st, _ := redisStore(t)
	cfg := strings.Replace(noticesConfig(sl.URL), "      - {name: primary, start: 2025-01-06, members: [ann, bob]}\n",
		"      - {name: primary, start: 2025-01-06, members: [ann, bob]}\n      - {name: secondary, start: 2025-01-06, members: [bob, ann]}\n", 1)
	h := newHarness(t, withStore(st), withConfig(cfg))
	other, _ := h.dispatcher(nil)
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.runUntil(time.Date(2025, 9, 13, 23, 0, 0, 0, time.UTC))
	start := time.Date(2025, 9, 14, 0, 0, 0, 0, time.UTC)
	var calls atomic.Int32
	h.rec.fail = func(m notify.Message) error {
		switch calls.Add(1) {
		case 1:
			h.clock.Set(h.clock.Now().Add(25 * time.Second)) // a slow provider
		case 2:
			// The lease of the run that began at start is over: another
			// replica takes the job over.
			h.clock.Set(start.Add(31 * time.Second))
			if _, err := other.RunOnce(context.Background()); err != nil {
				t.Error(err)
			}
		}
		return nil
	}
	h.runUntil(time.Date(2025, 9, 14, 1, 0, 0, 0, time.UTC))
	got := noticeTexts(h)
	team := teamTexts(sl)
	if len(got) != 2 || len(team) != 1 {
		t.Fatalf("notices:\n%s\nteam channel:\n%s\nwant ann's and bob's day-ahead notices and the team's, each once",
			strings.Join(got, "\n"), strings.Join(team, "\n"))
	}
}

// TestShiftNoticeOfAnOverrideThatStartedBeforeItWasMade: the daemon arms
// the notice job at 06:00 (bob's week); at 06:10 an override gives cat
// the tier from 06:00 ("from the top of the hour") to 12:00. It starts
// at 06:10, as it was made (bob held 06:00-06:10, and was paged then).
// Cat is told at once that she is on call now, and the team's channel of
// the handoff; each once across replicas. (Before: her handoff was not
// after the job's last run, so no notice was due: cat learnt she was on
// call from a page.)
func TestShiftNoticeOfAnOverrideThatStartedBeforeItWasMade(t *testing.T) {
	sl := providertest.NewSlack(t)
	st, _ := redisStore(t)
	h := newHarness(t, withStore(st), withConfig(noticesConfig(sl.URL)), replicas(3))
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.runUntil(fixedNow.Add(10 * time.Minute))
	if r := h.api("POST", "/api/v1/schedules/s/overrides", `{"tier":"primary","user":"cat","start":"2025-09-10T06:00:00Z","end":"2025-09-10T12:00:00Z","reason":"cover"}`); r.code != 201 {
		t.Fatalf("override: %d %s", r.code, r.body)
	}
	h.runUntil(fixedNow.Add(time.Hour))
	want := []string{
		"Sep 10 06:10 cat push: You are on call now: Primary of s, until Wed Sep 10 12:00 UTC (override: cover). You take over from Bob.",
	}
	if got := noticeTexts(h); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("notices:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	wantTeam := []string{"On-call handoff of s, Wed Sep 10 06:10 UTC: Primary: Bob → Cat (override: cover)"}
	if team := teamTexts(sl); strings.Join(team, "\n") != strings.Join(wantTeam, "\n") {
		t.Errorf("team channel:\n%s\nwant\n%s", strings.Join(team, "\n"), strings.Join(wantTeam, "\n"))
	}
}

// TestShiftNoticeBeforeNotRetriedOnceTheShiftBegan: ann's notice a day
// ahead (Sunday 00:00) fails, and so does the team channel's (a 503, a
// Slack outage); both wait for their retry at 00:01. The notice job next
// runs late, at Monday 00:30 (every replica down, or the store away, for
// a day): ann's week began at 00:00. She is told once that she is on
// call now, and the channel once of the handoff. (Before: the retries went
// out as well, after the handoff notices or with them: "Your on-call shift
// starts in 1d" to ann, already on call, and "s hands off in 1d" to the
// channel, a second notice each of the one shift, and an untrue one.)
func TestShiftNoticeBeforeNotRetriedOnceTheShiftBegan(t *testing.T) {
	sl := providertest.NewSlack(t)
	st, _ := redisStore(t)
	h := newHarness(t, withStore(st), withConfig(noticesConfig(sl.URL)), replicas(2), fastRetries())
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.runUntil(time.Date(2025, 9, 13, 23, 0, 0, 0, time.UTC))
	outage := time.Date(2025, 9, 14, 0, 10, 0, 0, time.UTC)
	h.rec.fail = func(m notify.Message) error {
		if m.User == "ann" && h.clock.Now().Before(outage) {
			return notify.Temporary(errors.New("push: 503"))
		}
		return nil
	}
	sl.Fail("chat.postMessage", "service_unavailable")
	h.step(time.Date(2025, 9, 14, 0, 0, 0, 0, time.UTC))
	if got, team := noticeTexts(h), teamTexts(sl); len(got) != 0 || len(team) != 0 {
		t.Fatalf("the notices a day ahead did not fail: %q, team %q", got, team)
	}
	// Nothing runs the job until Monday 00:30.
	h.step(time.Date(2025, 9, 15, 0, 30, 0, 0, time.UTC))
	h.runUntil(time.Date(2025, 9, 15, 2, 0, 0, 0, time.UTC))
	want := []string{"Sep 15 00:30 ann push: You are on call now: Primary of s, until Mon Sep 22 00:00 UTC. You take over from Bob."}
	if got := noticeTexts(h); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("notices:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	wantTeam := []string{"On-call handoff of s, Mon Sep 15 00:00 UTC: Primary: Bob → Ann"}
	if team := teamTexts(sl); strings.Join(team, "\n") != strings.Join(wantTeam, "\n") {
		t.Errorf("team channel:\n%s\nwant\n%s", strings.Join(team, "\n"), strings.Join(wantTeam, "\n"))
	}
	if got := metric(t, h.reg, "pagerd_shift_notices_total", "result", "superseded"); got != 2 {
		t.Errorf("pagerd_shift_notices_total{result=\"superseded\"} = %v, want 2 (ann's and the channel's retries)", got)
	}
}

// TestShiftNoticeOfAHolderBackAfterTheGapOnce: ann is told a day ahead
// (Sunday 00:00) that her week starts Monday 00:00. pagerd is down from
// then until Monday 00:30, and comes back with a config that has ann
// cover bob from Saturday 20:00 to Sunday 08:00: ann held the tier at the
// job's last run, bob took it back, and her week began at 00:00. She is
// told once that she is on call now, and the channel once of the
// handoff. (Before: the job found ann holding the tier from before its
// last run, which it told as a change ("on call now", "the plan of s
// changed: Primary from Mon Sep 15 00:00 UTC: Bob → Ann"), and told the
// handoff of 00:00 to her too: twice each.)
func TestShiftNoticeOfAHolderBackAfterTheGapOnce(t *testing.T) {
	sl := providertest.NewSlack(t)
	st, _ := redisStore(t)
	h := newHarness(t, withStore(st), withConfig(noticesConfig(sl.URL)), replicas(2))
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.runUntil(time.Date(2025, 9, 14, 0, 1, 0, 0, time.UTC))
	notices := `    notices: {before: 24h, slack_channel: "#on-call-handoff"}` + "\n"
	cover := strings.Replace(noticesConfig(sl.URL), notices, notices+`    overrides:
      - {reason: cover, from: "2025-09-13T20:00:00Z", until: "2025-09-14T08:00:00Z", tiers: {primary: ann}}
`, 1)
	if cover == noticesConfig(sl.URL) {
		t.Fatal("the notices config changed: the override not added")
	}
	h.clock.Set(time.Date(2025, 9, 15, 0, 30, 0, 0, time.UTC))
	if err := h.reload(cover); err != nil {
		t.Fatal(err)
	}
	h.runUntil(time.Date(2025, 9, 15, 2, 0, 0, 0, time.UTC))
	want := []string{
		"Sep 14 00:00 ann push: Your on-call shift starts in 1d: Primary of s, from Mon Sep 15 00:00 UTC until Mon Sep 22 00:00 UTC. You take over from Bob.",
		"Sep 15 00:30 ann push: You are on call now: Primary of s, until Mon Sep 22 00:00 UTC. You take over from Bob.",
	}
	if got := noticeTexts(h); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("notices:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	wantTeam := []string{
		"s hands off in 1d, Mon Sep 15 00:00 UTC: Primary: Bob → Ann",
		"On-call handoff of s, Mon Sep 15 00:00 UTC: Primary: Bob → Ann",
	}
	if team := teamTexts(sl); strings.Join(team, "\n") != strings.Join(wantTeam, "\n") {
		t.Errorf("team channel:\n%s\nwant\n%s", strings.Join(team, "\n"), strings.Join(wantTeam, "\n"))
	}
}
