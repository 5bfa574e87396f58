package gateway

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
)

// unreachedTwilioConfig is dispatchConfig with Ann paged through Twilio
// alone: an SMS at once, a call 5 minutes later. The primary level waits
// 15 minutes for her.
func unreachedTwilioConfig(fake *providertest.Twilio) string {
	cfg := strings.Replace(dispatchConfig,
		`{id: ann, name: Ann, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}`,
		`{id: ann, name: Ann, contacts: [{channel: sms, via: twilio, address: "+15555550111"}, {channel: voice, via: twilio, address: "+15555550111"}], notification_rules: {high: [{after: 0s, channel: sms}, {after: 5m, channel: voice}]}}`, 1)
	cfg += "notifiers:\n  twilio: {account_sid: " + twSID + ", auth_token: " + twToken + `, from: "` + twFrom + `"}` + "\n"
	return twilioAt(fake, cfg)
}

// twice posts a signed callback to u twice at once, as Twilio retrying a
// callback it got no answer to in time, or two replicas behind a load
// balancer each taking one, would: both are answered 204.
func twice(t *testing.T, fake *providertest.Twilio, u string, form url.Values) {
	t.Helper()
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range codes {
		wg.Go(func() { codes[i], _ = fake.Callback(t, u, form) })
	}
	wg.Wait()
	for _, c := range codes {
		if c != 204 && c != 200 {
			t.Fatalf("callback %s answered %v", u, codes)
		}
	}
}

// TestLevelWhosePagesAreReportedNotDeliveredEscalatesAtOnce: Twilio took
// Ann's SMS and call, and reported later that neither reached her (the
// SMS undelivered, the call busy, not answered, failed, or picked up by
// her voicemail). Nothing of the primary level reached anyone and no step
// of hers is left: Bob, the secondary, is paged at once, not when the
// primary's 15 minutes run out, and the timeline says why. Each report
// comes twice at once (Twilio retries callbacks), with two dispatchers
// running: Bob is paged once, one escalation, on both stores. A call
// cancelled says nothing of Ann (pagerd cancels calls after an
// acknowledgement): the primary keeps its timeout.
func TestLevelWhosePagesAreReportedNotDeliveredEscalatesAtOnce(t *testing.T) {
	for name, mk := range stores(t) {
		for _, call := range []string{"no-answer", "busy", "failed", "voicemail", "canceled"} {
			t.Run(name+" "+call, func(t *testing.T) {
				fake := providertest.NewTwilio(t)
				h := newHarness(t, withStore(mk(t)), withConfig(unreachedTwilioConfig(fake)), realTransport("twilio"), replicas(2))
				id := fire(h)
				h.runUntil(fixedNow.Add(time.Minute))
				if n := len(fake.Messages()); n != 1 {
					t.Fatalf("Twilio got %d messages, want 1", n)
				}
				twice(t, fake, fake.Messages()[0].Get("StatusCallback"),
					url.Values{"MessageSid": {providertest.MessageSID(0)}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}})
				// The SMS did not arrive: the call is placed now.
				h.runUntil(fixedNow.Add(2 * time.Minute))
				if n := len(fake.Calls()); n != 1 {
					t.Fatalf("Twilio placed %d calls, want 1", n)
				}
				c := fake.Calls()[0]
				sid := providertest.CallSID(0)
				status := call
				if call == "voicemail" {
					twice(t, fake, c.Get("Url"), url.Values{"CallSid": {sid}, "AnsweredBy": {"machine_end_beep"}, "AccountSid": {twSID}})
					status = "completed"
				}
				twice(t, fake, c.Get("StatusCallback"), url.Values{"CallSid": {sid}, "CallStatus": {status}, "AccountSid": {twSID}})
				h.runUntil(fixedNow.Add(25 * time.Minute))

				wantPages, wantEsc := "2m L2 bob push,4m L2 bob sms,7m L2 bob voice",
					"2m0s L2 every page at level primary failed, nobody was reached: escalated at once"
				if call == "canceled" {
					wantPages, wantEsc = "15m L2 bob push,17m L2 bob sms,20m L2 bob voice", "15m0s L2 not acknowledged within 15m"
				}
				if got := strings.Join(h.rec.lines(fixedNow), ","); got != wantPages {
					var tl []string
					for _, e := range timeline(h, id) {
						tl = append(tl, fmt.Sprintf("%s %s L%d %s %s step=%q ref=%s unreached=%v %s", e.At.Sub(fixedNow), e.Type, e.Level, e.User, e.Channel, e.Step, e.Ref, e.Unreached, e.Detail))
					}
					t.Fatalf("pages sent: %s\nwant: %s\ntimeline:\n%s\nlog:\n%s", got, wantPages, strings.Join(tl, "\n"), h.logs.String())
				}
				var esc []string
				for _, e := range timeline(h, id) {
					if e.Type == "escalate" {
						esc = append(esc, fmt.Sprintf("%s L%d %s", e.At.Sub(fixedNow), e.Level, e.Detail))
					}
				}
				if got := strings.Join(esc, ","); got != wantEsc {
					t.Fatalf("escalations in the timeline: %s\nwant: %s", got, wantEsc)
				}
			})
		}
	}
}

// TestReportOfAnEarlierRoundsPageDoesNotCountAgainstTheLevel: the
// policy starts over (repeat) at the primary at 30m, nobody having
// acknowledged; Ann's SMS and call of the first round went out at 0 and
// 5m. Twilio's reports that neither reached her come late, in the second
// round, around her second call (35m), not answered: they are about pages of
// the first round, so Ann's second SMS still counts as gone out and the
// primary keeps its timeout. Once the second SMS is reported undelivered
// too, nothing of the second round reached her: Bob is paged at once.
func TestReportOfAnEarlierRoundsPageDoesNotCountAgainstTheLevel(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			cfg := strings.Replace(unreachedTwilioConfig(fake),
				"      - {name: secondary, targets: [{schedule: s, tier: secondary}]}\n",
				"      - {name: secondary, targets: [{schedule: s, tier: secondary}], timeout: 15m}\n    repeat: 1\n", 1)
			h := newHarness(t, withStore(mk(t)), withConfig(cfg), realTransport("twilio"))
			id := fire(h)
			h.runUntil(fixedNow.Add(31 * time.Minute))
			if n, m := len(fake.Messages()), len(fake.Calls()); n != 2 || m != 1 {
				t.Fatalf("Twilio took %d messages and %d calls by 31m, want 2 and 1", n, m)
			}
			undelivered := func(n int) url.Values {
				return url.Values{"MessageSid": {providertest.MessageSID(n)}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}}
			}
			// The first round's call, not answered, reported late.
			twice(t, fake, fake.Calls()[0].Get("StatusCallback"), url.Values{"CallSid": {providertest.CallSID(0)}, "CallStatus": {"no-answer"}, "AccountSid": {twSID}})
			h.runUntil(fixedNow.Add(36 * time.Minute))
			if n := len(fake.Calls()); n != 2 {
				t.Fatalf("Twilio placed %d calls by 36m, want 2", n)
			}
			twice(t, fake, fake.Calls()[1].Get("StatusCallback"), url.Values{"CallSid": {providertest.CallSID(1)}, "CallStatus": {"no-answer"}, "AccountSid": {twSID}})
			// The first round's SMS, reported undelivered only now.
			twice(t, fake, fake.Messages()[0].Get("StatusCallback"), undelivered(0))
			h.runUntil(fixedNow.Add(40 * time.Minute))
			want := "15m L2 bob push,17m L2 bob sms,20m L2 bob voice"
			if got := strings.Join(h.rec.lines(fixedNow), ","); got != want {
				t.Fatalf("pages sent by 40m: %s\nwant: %s (Ann's second SMS went out at 30m and was not reported)", got, want)
			}
			twice(t, fake, fake.Messages()[1].Get("StatusCallback"), undelivered(1))
			h.runUntil(fixedNow.Add(41 * time.Minute))
			want += ",40m L2 bob push"
			if got := strings.Join(h.rec.lines(fixedNow), ","); got != want {
				t.Fatalf("pages sent by 41m: %s\nwant: %s", got, want)
			}
			var esc []string
			for _, e := range timeline(h, id) {
				if e.Type == "escalate" {
					esc = append(esc, fmt.Sprintf("%s L%d %s", e.At.Sub(fixedNow), e.Level, e.Detail))
				}
			}
			if got := esc[len(esc)-1]; got != "40m0s L2 every page at level primary failed, nobody was reached: escalated at once" {
				t.Fatalf("escalations in the timeline: %q", esc)
			}
		})
	}
}

// TestSMSReportFindsItsPageBySID: Ann's SMS of the first round is
// reported undelivered only in the second round, after that round's call
// to her went unanswered, by a callback whose URL's at names the wrong
// page (the second round's SMS's time) or none (a URL given before pages
// carried it). Her SMS's entry keeps the SID Twilio created it with
// (ref), and the report finds its page by it: the first round's, which
// moves no level; both stores. (Before: an SMS was kept without its SID
// and its report was matched by the at alone: a wrong one took it for
// the second round's SMS, nothing of the primary level seemed to have
// reached Ann and Bob was paged at once, though her SMS had arrived; a
// missing one found no page, and the report was counted unmatched.)
func TestSMSReportFindsItsPageBySID(t *testing.T) {
	for name, mk := range stores(t) {
		for _, at := range []string{"wrong", "missing"} {
			t.Run(name+" "+at, func(t *testing.T) {
				fake := providertest.NewTwilio(t)
				cfg := strings.Replace(unreachedTwilioConfig(fake),
					"      - {name: secondary, targets: [{schedule: s, tier: secondary}]}\n",
					"      - {name: secondary, targets: [{schedule: s, tier: secondary}], timeout: 15m}\n    repeat: 1\n", 1)
				h := newHarness(t, withStore(mk(t)), withConfig(cfg), realTransport("twilio"))
				id := fire(h)
				h.runUntil(fixedNow.Add(36 * time.Minute))
				msgs, calls := fake.Messages(), fake.Calls()
				if len(msgs) != 2 || len(calls) != 2 {
					t.Fatalf("Twilio took %d messages and %d calls by 36m, want 2 and 2", len(msgs), len(calls))
				}
				var sms []store.Entry
				for _, e := range entriesOf(timeline(h, id), "notify", "sms") {
					if e.User == "ann" {
						sms = append(sms, e)
					}
				}
				if len(sms) != 2 || sms[0].Ref != providertest.MessageSID(0) || sms[1].Ref != providertest.MessageSID(1) {
					t.Fatalf("Ann's SMS pages: %+v\nwant refs %s and %s", sms, providertest.MessageSID(0), providertest.MessageSID(1))
				}
				twice(t, fake, calls[1].Get("StatusCallback"), url.Values{"CallSid": {providertest.CallSID(1)}, "CallStatus": {"no-answer"}, "AccountSid": {twSID}})
				cb, err := url.Parse(msgs[0].Get("StatusCallback"))
				if err != nil {
					t.Fatal(err)
				}
				q := cb.Query()
				if at == "wrong" {
					later, _ := url.Parse(msgs[1].Get("StatusCallback"))
					q.Set("at", later.Query().Get("at"))
				} else {
					q.Del("at")
				}
				cb.RawQuery = q.Encode()
				twice(t, fake, cb.String(),
					url.Values{"MessageSid": {providertest.MessageSID(0)}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}})
				h.runUntil(fixedNow.Add(40 * time.Minute))
				if got, want := strings.Join(h.rec.lines(fixedNow), ","), "15m L2 bob push,17m L2 bob sms,20m L2 bob voice"; got != want {
					t.Fatalf("pages sent by 40m: %s\nwant: %s (the report is about the first round's SMS)", got, want)
				}
				if n := metric(t, h.reg, "pagerd_delivery_reports_unmatched_total", "channel", "sms"); n != 0 {
					t.Errorf("pagerd_delivery_reports_unmatched_total{channel=sms} %v, want 0: the report names its SMS by SID", n)
				}
			})
		}
	}
}

// reportBeforeRecord is a store whose dispatcher, about to record a page
// (held, a write whose entries hold says is the one), first has the
// page's delivery report posted, and records the page only once the
// report has read an incident's timeline, where the page is not yet:
// Twilio reporting a failure (a landline, a number out of service) within
// the moment the record takes, forced. The claim's write (Finish) records
// a page sent on its own, a storm message's notes (Note) its page in each
// incident.
type reportBeforeRecord struct {
	store.Store
	t    *testing.T
	held func(tl []store.Entry) bool
	post func() // posts the report; called once, on a goroutine of its own
	// untilAnswered holds the record until the report is answered, not
	// only read: a claim held up longer than the report waits.
	untilAnswered bool
	once          sync.Once
	// armed is set while the report is posted and its read awaited; read
	// is closed at the first timeline read then.
	armed atomic.Bool
	read  chan struct{}
}

// hold posts the report and waits for its read, the first time entries
// are the page's record.
func (s *reportBeforeRecord) hold(tl []store.Entry) {
	if s.held == nil || !s.held(tl) {
		return
	}
	s.once.Do(func() {
		if s.untilAnswered {
			s.post()
			return
		}
		s.read = make(chan struct{})
		s.armed.Store(true)
		go s.post()
		select {
		case <-s.read:
		case <-time.After(10 * time.Second):
			s.t.Error("the delivery report never read a timeline")
		}
	})
}

func (s *reportBeforeRecord) Finish(ctx context.Context, c store.Claim, inc *store.Incident, tl []store.Entry) error {
	s.hold(tl)
	return s.Store.Finish(ctx, c, inc, tl)
}

func (s *reportBeforeRecord) Note(ctx context.Context, entries map[string][]store.Entry) error {
	for _, tl := range entries {
		s.hold(tl)
	}
	return s.Store.Note(ctx, entries)
}

func (s *reportBeforeRecord) Timeline(ctx context.Context, id string) ([]store.Entry, error) {
	tl, err := s.Store.Timeline(ctx, id)
	if s.armed.CompareAndSwap(true, false) {
		close(s.read)
	}
	return tl, err
}

// TestReportBeforeItsPageIsRecordedStillCountsTheStep: Twilio reported
// Ann's SMS undelivered while the dispatcher was still recording it. The
// report found no page in the timeline, so the SMS counted as gone out:
// when her call was not answered either, nothing of the primary level had
// reached her, yet Bob was paged only at the level's timeout, 15 minutes
// on. The report now waits a moment for its page's record and names its
// step: Bob is paged once the call is reported not answered, once, on
// both stores, with two replicas.
func TestReportBeforeItsPageIsRecordedStillCountsTheStep(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			answered := make(chan int, 1)
			st := &reportBeforeRecord{Store: mk(t), t: t, held: func(tl []store.Entry) bool {
				return slices.ContainsFunc(tl, func(e store.Entry) bool { return e.Type == "notify" && e.Channel == "sms" })
			}}
			h := newHarness(t, withStore(st), withConfig(unreachedTwilioConfig(fake)), realTransport("twilio"), replicas(2))
			st.post = func() {
				code, _ := fake.Callback(t, fake.Messages()[0].Get("StatusCallback"),
					url.Values{"MessageSid": {providertest.MessageSID(0)}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}})
				answered <- code
			}
			id := fire(h)
			h.runUntil(fixedNow)
			if code := <-answered; code != 204 {
				t.Fatalf("the SMS's report was answered %d", code)
			}
			// The SMS did not arrive: the call is placed now.
			h.runUntil(fixedNow.Add(time.Minute))
			if n := len(fake.Calls()); n != 1 {
				t.Fatalf("Twilio placed %d calls, want 1", n)
			}
			twice(t, fake, fake.Calls()[0].Get("StatusCallback"), url.Values{"CallSid": {providertest.CallSID(0)}, "CallStatus": {"no-answer"}, "AccountSid": {twSID}})
			h.runUntil(fixedNow.Add(25 * time.Minute))
			if got, want := strings.Join(h.rec.lines(fixedNow), ","), "1m L2 bob push,3m L2 bob sms,6m L2 bob voice"; got != want {
				t.Fatalf("pages sent: %s\nwant: %s", got, want)
			}
			var esc []string
			for _, e := range timeline(h, id) {
				if e.Type == "escalate" {
					esc = append(esc, fmt.Sprintf("%s L%d %s", e.At.Sub(fixedNow), e.Level, e.Detail))
				}
			}
			if got, want := strings.Join(esc, ","), "1m0s L2 every page at level primary failed, nobody was reached: escalated at once"; got != want {
				t.Fatalf("escalations in the timeline: %s\nwant: %s", got, want)
			}
		})
	}
}

// TestReportWhosePageIsRecordedTooLateIsCounted: the SMS's claim is held
// up past the 2 s its undelivered report waits for the page's record (a
// slow send beside it): the report finds no page, the SMS counts as gone
// out and the level keeps its timeout. That is not to pass unseen: it is
// counted (pagerd_delivery_reports_unmatched_total), where only a WARN
// said it.
func TestReportWhosePageIsRecordedTooLateIsCounted(t *testing.T) {
	h := reportWhosePageIsNotFound(t, func(held *reportBeforeRecord) store.Store { return held })
	if !strings.Contains(h.logs.String(), "is not in its incident's timeline") {
		t.Errorf("no WARN for the report whose page was not found:\n%s", h.logs.String())
	}
}

// TestReportWhosePageCannotBeLookedForSaysWhy: as above, and the store
// refuses the report's last look at the timeline, after its entry is
// noted: the WARN says the look failed and why, not that the page is
// missing from the timeline.
func TestReportWhosePageCannotBeLookedForSaysWhy(t *testing.T) {
	h := reportWhosePageIsNotFound(t, func(held *reportBeforeRecord) store.Store {
		return &refuseReadAfterReport{reportBeforeRecord: held}
	})
	if logs := h.logs.String(); !strings.Contains(logs, "could not be looked for in its incident's timeline") || !strings.Contains(logs, "refused for the test") {
		t.Errorf("no WARN saying the report's look at the timeline failed, and why:\n%s", logs)
	}
}

// reportWhosePageIsNotFound runs the SMS's undelivered report while its
// claim is held up past the report's wait, on the store wrap makes of the
// one that holds it (TestReportWhosePageIsRecordedTooLateIsCounted), and
// checks it is answered and counted as unmatched.
func reportWhosePageIsNotFound(t *testing.T, wrap func(*reportBeforeRecord) store.Store) *harness {
	t.Helper()
	fake := providertest.NewTwilio(t)
	answered := make(chan int, 1)
	st, _ := redisStore(t)
	held := &reportBeforeRecord{Store: st, t: t, untilAnswered: true, held: func(tl []store.Entry) bool {
		return slices.ContainsFunc(tl, func(e store.Entry) bool { return e.Type == "notify" && e.Channel == "sms" })
	}}
	h := newHarness(t, withStore(wrap(held)), withConfig(unreachedTwilioConfig(fake)), realTransport("twilio"))
	held.post = func() {
		code, _ := fake.Callback(t, fake.Messages()[0].Get("StatusCallback"),
			url.Values{"MessageSid": {providertest.MessageSID(0)}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}})
		answered <- code
	}
	fire(h)
	h.runUntil(fixedNow)
	if code := <-answered; code != 204 {
		t.Fatalf("the SMS's report was answered %d", code)
	}
	if n := metric(t, h.reg, "pagerd_delivery_reports_unmatched_total", "channel", "sms"); n != 1 {
		t.Errorf("pagerd_delivery_reports_unmatched_total{channel=sms} %v, want 1", n)
	}
	return h
}

// refuseReadAfterReport refuses the first timeline read after a delivery
// report's entry is noted.
type refuseReadAfterReport struct {
	*reportBeforeRecord
	armed atomic.Bool
}

func (s *refuseReadAfterReport) Update(ctx context.Context, inc *store.Incident, tl []store.Entry) error {
	err := s.reportBeforeRecord.Update(ctx, inc, tl)
	if err == nil && slices.ContainsFunc(tl, func(e store.Entry) bool { return e.Type == "delivery_failed" }) {
		s.armed.Store(true)
	}
	return err
}

func (s *refuseReadAfterReport) Timeline(ctx context.Context, id string) ([]store.Entry, error) {
	if s.armed.CompareAndSwap(true, false) {
		return nil, fmt.Errorf("%w: refused for the test", store.ErrUnavailable)
	}
	return s.reportBeforeRecord.Timeline(ctx, id)
}

// TestReportBeforeItsPageIsRecordedCountsOnceThePageIs: Twilio reported
// Ann's SMS undelivered while the SMS's claim was held up longer than the
// 2 s the report waits for the page's record (a slow send beside it, the
// email server's 30 s): the report found no page and counted it as gone
// out, so the primary kept its 15 minutes though nothing of it had reached
// Ann. The report's effect now comes when the dispatcher records the page:
// with an SMS alone on her ladder, the secondary is paged as the page is
// recorded; with a call after it, once the call is reported not answered
// too. Once (one escalation, Bob paged once), with two replicas, on both
// stores; the report is still counted unmatched when it comes, and the
// dispatcher counts it applied late.
func TestReportBeforeItsPageIsRecordedCountsOnceThePageIs(t *testing.T) {
	for name, mk := range stores(t) {
		for _, ladder := range []string{"sms alone", "sms and call"} {
			t.Run(name+" "+ladder, func(t *testing.T) {
				fake := providertest.NewTwilio(t)
				answered := make(chan int, 1)
				cfg := unreachedTwilioConfig(fake)
				n := 2
				if ladder == "sms alone" {
					cfg = strings.Replace(cfg, "{after: 0s, channel: sms}, {after: 5m, channel: voice}", "{after: 0s, channel: sms}", 1)
					n = 1 // the dispatcher's counter is read from the daemon's registry
				}
				st := &reportBeforeRecord{Store: mk(t), t: t, untilAnswered: true, held: func(tl []store.Entry) bool {
					return slices.ContainsFunc(tl, func(e store.Entry) bool { return e.Type == "notify" && e.Channel == "sms" })
				}}
				h := newHarness(t, withStore(st), withConfig(cfg), realTransport("twilio"), replicas(n))
				st.post = func() {
					code, _ := fake.Callback(t, fake.Messages()[0].Get("StatusCallback"),
						url.Values{"MessageSid": {providertest.MessageSID(0)}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}})
					answered <- code
				}
				id := fire(h)
				h.runUntil(fixedNow)
				if code := <-answered; code != 204 {
					t.Fatalf("the SMS's report was answered %d", code)
				}
				if got := metric(t, h.reg, "pagerd_delivery_reports_unmatched_total", "channel", "sms"); got != 1 {
					t.Errorf("pagerd_delivery_reports_unmatched_total{channel=sms} %v, want 1: its page was not recorded within the report's wait", got)
				}
				wantPages, wantEsc := "0s L2 bob push,2m L2 bob sms,5m L2 bob voice", "0s L2 every page at level primary failed, nobody was reached: escalated at once"
				if ladder == "sms and call" {
					// The SMS did not arrive: the call is placed now.
					h.runUntil(fixedNow.Add(time.Minute))
					if n := len(fake.Calls()); n != 1 {
						t.Fatalf("Twilio placed %d calls, want 1", n)
					}
					twice(t, fake, fake.Calls()[0].Get("StatusCallback"), url.Values{"CallSid": {providertest.CallSID(0)}, "CallStatus": {"no-answer"}, "AccountSid": {twSID}})
					wantPages, wantEsc = "1m L2 bob push,3m L2 bob sms,6m L2 bob voice", "1m0s L2 every page at level primary failed, nobody was reached: escalated at once"
				} else if got := metric(t, h.reg, "pagerd_delivery_reports_applied_late_total", "channel", "sms"); got != 1 {
					t.Errorf("pagerd_delivery_reports_applied_late_total{channel=sms} %v, want 1", got)
				}
				h.runUntil(fixedNow.Add(25 * time.Minute))
				if got := strings.Join(h.rec.lines(fixedNow), ","); got != wantPages {
					t.Fatalf("pages sent: %s\nwant: %s", got, wantPages)
				}
				var esc []string
				for _, e := range timeline(h, id) {
					if e.Type == "escalate" {
						esc = append(esc, fmt.Sprintf("%s L%d %s", e.At.Sub(fixedNow), e.Level, e.Detail))
					}
				}
				if got := strings.Join(esc, ","); got != wantEsc {
					t.Fatalf("escalations in the timeline: %s\nwant: %s", got, wantEsc)
				}
			})
		}
	}
}

// recordedAfterWait is a store whose dispatcher, about to record a page
// (held: a write whose entries hold says is the one), has the page's
// delivery report posted, and records the page only once the report,
// its wait for the page over, is noting itself: the page's record gets
// in between the report's last look for it and its note.
type recordedAfterWait struct {
	store.Store
	held     func(tl []store.Entry) bool
	post     func() // posts the report; called once, on a goroutine of its own
	once     sync.Once
	noted    sync.Once
	release  chan struct{} // closed when the report notes itself
	recorded chan struct{} // closed once the page's record is in
}

func (s *recordedAfterWait) Finish(ctx context.Context, c store.Claim, inc *store.Incident, tl []store.Entry) error {
	if s.held == nil || !s.held(tl) {
		return s.Store.Finish(ctx, c, inc, tl)
	}
	first := false
	s.once.Do(func() { first = true })
	if !first {
		return s.Store.Finish(ctx, c, inc, tl)
	}
	go s.post()
	select {
	case <-s.release:
	case <-time.After(10 * time.Second):
	}
	defer close(s.recorded)
	return s.Store.Finish(ctx, c, inc, tl)
}

func (s *recordedAfterWait) Update(ctx context.Context, inc *store.Incident, tl []store.Entry) error {
	if slices.ContainsFunc(tl, func(e store.Entry) bool { return e.Type == "delivery_failed" }) {
		s.noted.Do(func() {
			close(s.release)
			select {
			case <-s.recorded:
			case <-time.After(10 * time.Second):
			}
		})
	}
	return s.Store.Update(ctx, inc, tl)
}

// TestReportNotedJustAfterItsPageIsRecordedCounts: Twilio reported Ann's
// SMS undelivered, her SMS alone on her ladder; the report looked for its
// page for 2 s in vain, and the page's record got in between its last
// look and its note. The dispatcher's write found no report to apply, and
// the report counted its page as gone out: the primary kept its 15
// minutes. The report now looks once more after its note: its page is
// recorded before it, so the report counts its step, and the secondary is
// paged at once; once, with two replicas, on both stores; and the report
// is not counted unmatched, its page found.
func TestReportNotedJustAfterItsPageIsRecordedCounts(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			answered := make(chan int, 1)
			cfg := strings.Replace(unreachedTwilioConfig(fake), "{after: 0s, channel: sms}, {after: 5m, channel: voice}", "{after: 0s, channel: sms}", 1)
			st := &recordedAfterWait{Store: mk(t), release: make(chan struct{}), recorded: make(chan struct{}), held: func(tl []store.Entry) bool {
				return slices.ContainsFunc(tl, func(e store.Entry) bool { return e.Type == "notify" && e.Channel == "sms" })
			}}
			h := newHarness(t, withStore(st), withConfig(cfg), realTransport("twilio"), replicas(2))
			st.post = func() {
				code, _ := fake.Callback(t, fake.Messages()[0].Get("StatusCallback"),
					url.Values{"MessageSid": {providertest.MessageSID(0)}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}})
				answered <- code
			}
			id := fire(h)
			h.runUntil(fixedNow)
			if code := <-answered; code != 204 {
				t.Fatalf("the SMS's report was answered %d", code)
			}
			h.runUntil(fixedNow.Add(25 * time.Minute))
			if got, want := strings.Join(h.rec.lines(fixedNow), ","), "0s L2 bob push,2m L2 bob sms,5m L2 bob voice"; got != want {
				t.Fatalf("pages sent: %s\nwant: %s", got, want)
			}
			var esc []string
			for _, e := range timeline(h, id) {
				if e.Type == "escalate" {
					esc = append(esc, fmt.Sprintf("%s L%d %s", e.At.Sub(fixedNow), e.Level, e.Detail))
				}
			}
			if got, want := strings.Join(esc, ","), "0s L2 every page at level primary failed, nobody was reached: escalated at once"; got != want {
				t.Fatalf("escalations in the timeline: %s\nwant: %s", got, want)
			}
			if got := metric(t, h.reg, "pagerd_delivery_reports_unmatched_total", "channel", "sms"); got != 0 {
				t.Errorf("pagerd_delivery_reports_unmatched_total{channel=sms} %v, want 0: the report found its page once noted", got)
			}
		})
	}
}

// TestStormMessageReportedNotDeliveredCountsForEachIncident: five
// incidents page Ann at once; three of her SMS go out on their own, the
// other two in one alert-storm SMS, which Twilio reports undelivered, and
// then neither of those two incidents' calls is answered. Nothing of the
// primary level reached Ann for those two: each pages Bob at once, as a
// page sent on its own would, where the storm message used to count as
// gone out and kept the primary's 15 minutes. The three whose SMS were not
// reported keep their timeout. Each report comes twice at once, with two
// replicas, on both stores; and the storm SMS's report once more while
// the message's notes are being written, before its incidents' timelines
// say it went out.
func TestStormMessageReportedNotDeliveredCountsForEachIncident(t *testing.T) {
	undelivered := url.Values{"MessageSid": {providertest.MessageSID(3)}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}}
	for name, mk := range stores(t) {
		for _, race := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s reported before its notes %v", name, race), func(t *testing.T) {
				fake := providertest.NewTwilio(t)
				st := &reportBeforeRecord{Store: mk(t), t: t}
				answered := make(chan int, 1)
				if race {
					st.held = func(tl []store.Entry) bool {
						return slices.ContainsFunc(tl, func(e store.Entry) bool { return e.Type == "notify" && e.Bundle != "" })
					}
					st.post = func() {
						code, _ := fake.Callback(t, fake.Messages()[3].Get("StatusCallback"), undelivered)
						answered <- code
					}
				}
				h := newHarness(t, withStore(st), withConfig(unreachedTwilioConfig(fake)), realTransport("twilio"), replicas(2))
				ids := storm(h, 5, "u")
				h.runUntil(fixedNow.Add(30 * time.Second))
				msgs := fake.Messages()
				if len(msgs) != 4 {
					t.Fatalf("Twilio got %d messages, want 3 on their own and one storm message", len(msgs))
				}
				cb, _ := url.Parse(msgs[3].Get("StatusCallback"))
				bundle := cb.Query().Get("incident")
				b, err := h.store.GetBundle(context.Background(), bundle)
				if err != nil || len(b.Incidents) != 2 {
					t.Fatalf("the storm message's bundle %q: %+v %v", bundle, b, err)
				}
				if race {
					if code := <-answered; code != 204 {
						t.Fatalf("the storm SMS's report was answered %d", code)
					}
				} else {
					twice(t, fake, msgs[3].Get("StatusCallback"), undelivered)
				}
				// The storm SMS did not arrive: its incidents' calls are
				// placed now; the others' come at 5m.
				h.runUntil(fixedNow.Add(time.Minute))
				for _, id := range b.Incidents {
					for _, e := range timeline(h, id) {
						if e.Type == "notify" && e.Bundle == bundle && e.Ref != providertest.MessageSID(3) {
							t.Errorf("incident %s's page in the storm SMS: ref %q, want the message's SID %s", id, e.Ref, providertest.MessageSID(3))
						}
					}
				}
				calls := fake.Calls()
				if len(calls) != 2 {
					t.Fatalf("Twilio placed %d calls by 1m, want the storm message's 2", len(calls))
				}
				for i, c := range calls {
					u, _ := url.Parse(c.Get("Url"))
					if inc := u.Query().Get("incident"); !slices.Contains(b.Incidents, inc) {
						t.Fatalf("call %d is for %s, not one of the storm message's %v", i, inc, b.Incidents)
					}
					twice(t, fake, c.Get("StatusCallback"), url.Values{"CallSid": {providertest.CallSID(i)}, "CallStatus": {"no-answer"}, "AccountSid": {twSID}})
				}
				wantStormEscalations(t, h, ids, b.Incidents)
			})
		}
	}
}

// TestStormReportBeforeItsNotesCountsOnceTheyAre: an alert-storm SMS
// carrying two incidents was reported undelivered while the message's
// notes were held up longer than the 2 s the report waits for them: the
// report found its page in neither incident, brought both calls forward
// and counted the message as gone out in both, so when neither call was
// answered either, both primaries kept their 15 minutes. The flush that
// writes the notes now applies the report: each incident counts its page
// in the message as reaching nobody, and pages Bob at once when its call
// is not answered; once, with two replicas, on both stores.
func TestStormReportBeforeItsNotesCountsOnceTheyAre(t *testing.T) {
	undelivered := url.Values{"MessageSid": {providertest.MessageSID(3)}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}}
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			answered := make(chan int, 1)
			st := &reportBeforeRecord{Store: mk(t), t: t, untilAnswered: true, held: func(tl []store.Entry) bool {
				return slices.ContainsFunc(tl, func(e store.Entry) bool { return e.Type == "notify" && e.Bundle != "" })
			}}
			st.post = func() {
				code, _ := fake.Callback(t, fake.Messages()[3].Get("StatusCallback"), undelivered)
				answered <- code
			}
			h := newHarness(t, withStore(st), withConfig(unreachedTwilioConfig(fake)), realTransport("twilio"), replicas(2))
			ids := storm(h, 5, "u")
			h.runUntil(fixedNow.Add(30 * time.Second))
			if code := <-answered; code != 204 {
				t.Fatalf("the storm SMS's report was answered %d", code)
			}
			_, b := stormSMSBundle(t, h, fake)
			if got := metric(t, h.reg, "pagerd_delivery_reports_unmatched_total", "channel", "sms"); got != 2 {
				t.Errorf("pagerd_delivery_reports_unmatched_total{channel=sms} %v, want 2: the message's notes were held past the report's wait", got)
			}
			h.runUntil(fixedNow.Add(time.Minute))
			calls := fake.Calls()
			if len(calls) != 2 {
				t.Fatalf("Twilio placed %d calls by 1m, want the storm message's 2", len(calls))
			}
			for i, c := range calls {
				twice(t, fake, c.Get("StatusCallback"), url.Values{"CallSid": {providertest.CallSID(i)}, "CallStatus": {"no-answer"}, "AccountSid": {twSID}})
			}
			wantStormEscalations(t, h, ids, b.Incidents)
		})
	}
}

// TestDeliveryReportNamesItsPageBySID: Ann's SMS came back undelivered
// and her call not answered. Their delivery reports in the timeline named
// their pages only by when they went out: whoever asked Twilio's support
// why the SMS never arrived had to find it by time and number, and a
// call's report could not be matched to the call's entry by its SID. Each
// report's entry now carries the SID Twilio reported (ref): each page's
// entry carries the SID Twilio created it with, the SMS's as the call's;
// both stores.
func TestDeliveryReportNamesItsPageBySID(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			h := newHarness(t, withStore(mk(t)), withConfig(unreachedTwilioConfig(fake)), realTransport("twilio"))
			id := fire(h)
			h.runUntil(fixedNow.Add(time.Minute))
			smsSID := providertest.MessageSID(0)
			if code, body := fake.Callback(t, fake.Messages()[0].Get("StatusCallback"),
				url.Values{"MessageSid": {smsSID}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}}); code != 204 {
				t.Fatalf("the SMS's report: %d %s", code, body)
			}
			h.runUntil(fixedNow.Add(2 * time.Minute))
			if n := len(fake.Calls()); n != 1 {
				t.Fatalf("Twilio placed %d calls, want 1", n)
			}
			if code, body := fake.Callback(t, fake.Calls()[0].Get("StatusCallback"),
				url.Values{"CallSid": {providertest.CallSID(0)}, "CallStatus": {"no-answer"}, "AccountSid": {twSID}}); code != 204 {
				t.Fatalf("the call's report: %d %s", code, body)
			}
			tl := timeline(h, id)
			calls := entriesOf(tl, "notify", "voice")
			if len(calls) != 1 || calls[0].Ref != providertest.CallSID(0) {
				t.Fatalf("the call's page: %+v", calls)
			}
			if sms := entriesOf(tl, "notify", "sms"); len(sms) != 1 || sms[0].Ref != smsSID {
				t.Fatalf("the SMS's page: %+v\nwant ref %s", sms, smsSID)
			}
			for channel, want := range map[string]string{"sms": smsSID, "voice": calls[0].Ref} {
				got := entriesOf(tl, "delivery_failed", channel)
				if len(got) != 1 || got[0].Ref != want || got[0].PageAt.IsZero() {
					t.Errorf("the %s report's entry: %+v\nwant ref %s and its page's time", channel, got, want)
				}
			}
		})
	}
}

// wantStormEscalations runs h to 25m and checks each incident of ids
// escalated once: at 1m those of the storm message (inStorm), whose every
// page at the first level failed, at the level's 15m timeout the others.
func wantStormEscalations(t *testing.T, h *harness, ids, inStorm []string) {
	t.Helper()
	h.runUntil(fixedNow.Add(25 * time.Minute))
	for _, id := range ids {
		var esc []string
		for _, e := range timeline(h, id) {
			if e.Type == "escalate" {
				esc = append(esc, fmt.Sprintf("%s L%d %s", e.At.Sub(fixedNow), e.Level, e.Detail))
			}
		}
		want := "15m0s L2 not acknowledged within 15m"
		if slices.Contains(inStorm, id) {
			want = "1m0s L2 every page at level primary failed, nobody was reached: escalated at once"
		}
		if got := strings.Join(esc, ","); got != want {
			t.Errorf("%s (in the storm message: %v): escalations %s\nwant: %s", id, slices.Contains(inStorm, id), got, want)
		}
	}
}
