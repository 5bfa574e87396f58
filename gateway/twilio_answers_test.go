package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/twilio"
)

// twilioCallConfig is twilioConfig with dan's calls through Twilio.
var twilioCallConfig = strings.Replace(twilioConfig, `{channel: voice, via: log}`, `{channel: voice, via: twilio, address: "+15555550111"}`, 1)

// TestKeypressOnAResolvedIncidentSaysSo: a key pressed on the call of an
// incident someone resolved since the call was placed changes nothing, and
// the call says it was already resolved, by whom and when: 6 must not say
// "Resolved." as if this key did it.
func TestKeypressOnAResolvedIncidentSaysSo(t *testing.T) {
	fake := providertest.NewTwilio(t)
	h := newHarness(t, withConfig(twilioAt(fake, twilioCallConfig)), realTransport("twilio"))
	id := fire(h)
	h.runUntil(fixedNow.Add(5 * time.Minute))
	if len(fake.Calls()) != 1 {
		t.Fatalf("%d calls placed", len(fake.Calls()))
	}
	gather := gatherURL(h, fake, 0)
	if r := h.api("POST", "/api/v1/incidents/"+id+"/resolve", ""); r.code != 200 {
		t.Fatalf("resolve: %d %s", r.code, r.body)
	}
	before := h.incident(id)
	for _, key := range []string{"6", "4", "5"} {
		_, body := fake.Callback(t, gather, url.Values{"Digits": {key}})
		if !strings.Contains(body, "Already resolved by api:ops at 06:05 UTC.") {
			t.Errorf("%s on a resolved incident: %s", key, body)
		}
	}
	if after := h.incident(id); after.Status != "resolved" || len(after.Timeline) != len(before.Timeline) {
		t.Fatalf("keys on a resolved incident changed it: %s, %d timeline entries (was %d)", after.Status, len(after.Timeline), len(before.Timeline))
	}
}

// actingFirst is a store that, once armed, runs a function before the
// next read of an incident: another person's resolve landing between the
// reply being matched to an incident and it being acted on.
type actingFirst struct {
	store.Store
	before atomic.Pointer[func()]
}

func (s *actingFirst) Get(ctx context.Context, id string) (*store.Incident, error) {
	if f := s.before.Swap(nil); f != nil {
		(*f)()
	}
	return s.Store.Get(ctx, id)
}

// TestSMSReplyOnAnIncidentResolvedMeanwhileSaysSo: "6" that reaches an
// incident someone else resolved an instant before says it was already
// resolved, by whom and when, naming the incident, and changes nothing;
// "4" on one already acknowledged says by whom and when.
func TestSMSReplyOnAnIncidentResolvedMeanwhileSaysSo(t *testing.T) {
	fake := providertest.NewTwilio(t)
	rs := &actingFirst{Store: boltStore(t)}
	h := newHarness(t, withStore(rs), withConfig(twilioAt(fake, twilioConfig)), realTransport("twilio"))
	id := fire(h)
	h.runUntil(fixedNow.Add(2 * time.Minute))
	text := func(body string) string {
		form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {body}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
		_, out := fake.Callback(t, h.url+twilio.SMSPath, form)
		return out
	}
	code := twilio.ReplyCode(id)
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", ""); r.code != 200 {
		t.Fatalf("acknowledge: %d %s", r.code, r.body)
	}
	if out := text("4"); !strings.Contains(out, "pagerd: [P0] api: disk almost full (code "+code+") was already acknowledged by api:ops at 06:02 UTC") {
		t.Fatalf("4 on an acknowledged incident: %s", out)
	}
	resolve := func() {
		if r := h.api("POST", "/api/v1/incidents/"+id+"/resolve", ""); r.code != 200 {
			t.Errorf("resolve: %d %s", r.code, r.body)
		}
	}
	rs.before.Store(&resolve)
	out := text("6")
	if !strings.Contains(out, "pagerd: [P0] api: disk almost full (code "+code+") was already resolved by api:ops at 06:02 UTC") {
		t.Fatalf("6 on an incident resolved meanwhile: %s", out)
	}
	if v := h.incident(id); v.Status != "resolved" || v.ResolvedBy != "api:ops" {
		t.Fatalf("after 6: %s by %s", v.Status, v.ResolvedBy)
	}
}

// failingUpdates is a store whose incident writes fail with err while it
// is set.
type failingUpdates struct {
	store.Store
	err atomic.Pointer[error]
}

func (f *failingUpdates) Update(ctx context.Context, inc *store.Incident, tl []store.Entry) error {
	if err := f.err.Load(); err != nil {
		return *err
	}
	return f.Store.Update(ctx, inc, tl)
}

// TestReplyNotRecordedSaysWhy: a reply or key that could not be stored is
// answered with what is true of the error, not "the store is unavailable"
// for every one: a write that may have landed, an incident others kept
// changing, one no longer kept, a fault of pagerd's own. Only where doing
// it again can help and do no harm is the person asked to: not for a
// write that may have landed (an escalation sent again could escalate
// twice), as no channel asks then.
func TestReplyNotRecordedSaysWhy(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		sms, call string
		again     bool
	}{
		{"unavailable", errDiskFull, "was NOT recorded: the incident store is unavailable", "was not recorded: the incident store is unavailable", true},
		{"outcome unknown", store.PartlyStored(errDiskFull), "may not have been recorded: the incident store did not confirm it", "may not have been recorded", false},
		{"conflict", fmt.Errorf("update: %w", store.ErrConflict), "was NOT recorded: others changed the incident", "was not recorded: others changed the incident", true},
		{"not found", fmt.Errorf("update: %w", store.ErrNotFound), "is no longer kept", "This incident no longer exists.", false},
		{"other", errors.New("decode incident: unexpected end of JSON input"), "was NOT recorded: pagerd failed to store it", "was not recorded: pagerd failed to store it", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			fs := &failingUpdates{Store: boltStore(t)}
			h := newHarness(t, withStore(fs), withConfig(twilioAt(fake, twilioCallConfig)), realTransport("twilio"))
			id := fire(h)
			h.runUntil(fixedNow.Add(5 * time.Minute))
			gather := gatherURL(h, fake, 0)
			form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {"4"}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
			fs.err.Store(&tc.err)
			code, sms := fake.Callback(t, h.url+twilio.SMSPath, form)
			_, call := fake.Callback(t, gather, url.Values{"Digits": {"4"}})
			fs.err.Store(nil)
			if code != 200 || !strings.Contains(sms, tc.sms) {
				t.Errorf("SMS reply: %d %s; want %q", code, sms, tc.sms)
			}
			if !strings.Contains(call, tc.call) {
				t.Errorf("keypress: %s; want %q", call, tc.call)
			}
			if again := strings.Contains(sms, "reply again"); again != tc.again {
				t.Errorf("SMS reply %s: asks to reply again %v, want %v", sms, again, tc.again)
			}
			if again := strings.Contains(call, "<Gather"); again != tc.again {
				t.Errorf("keypress %s: asks for the key again %v, want %v", call, again, tc.again)
			}
			if tc.name != "unavailable" && tc.name != "outcome unknown" && (strings.Contains(sms, "unavailable") || strings.Contains(call, "unavailable")) {
				t.Errorf("a %s error said the store is unavailable: %s / %s", tc.name, sms, call)
			}
			if v := h.incident(id); v.Status != "triggered" {
				t.Fatalf("status %s after a failed write", v.Status)
			}
		})
	}
}

// failingGets is a store whose incident reads fail while fail is set.
type failingGets struct {
	store.Store
	fail atomic.Bool
}

func (f *failingGets) Get(ctx context.Context, id string) (*store.Incident, error) {
	if f.fail.Load() {
		return nil, errDiskFull
	}
	return f.Store.Get(ctx, id)
}

// TestVoiceGreetingWhileTheStoreFailsStillPages: a paging call answered
// while the store cannot be read is not a 5xx (Twilio would say
// "application error" and hang up, and the person would never hear they
// were paged): it says what the call itself carries (priority, service,
// the incident's code), offers the keys, and logs the failure at error.
func TestVoiceGreetingWhileTheStoreFailsStillPages(t *testing.T) {
	fake := providertest.NewTwilio(t)
	fs := &failingGets{Store: boltStore(t)}
	h := newHarness(t, withStore(fs), withConfig(twilioAt(fake, twilioCallConfig)), realTransport("twilio"))
	id := fire(h)
	h.runUntil(fixedNow.Add(5 * time.Minute))
	if len(fake.Calls()) != 1 {
		t.Fatalf("%d calls placed", len(fake.Calls()))
	}
	fs.fail.Store(true)
	code, body := fake.Callback(t, fake.Calls()[0].Get("Url"), url.Values{"CallSid": {"CA1"}, "AnsweredBy": {"human"}})
	fs.fail.Store(false)
	spelled := strings.Join(strings.Split(twilio.ReplyCode(id), ""), " ")
	if code != 200 || !strings.Contains(body, "<Gather") || !strings.Contains(body, "Press 4 to acknowledge") ||
		!strings.Contains(body, "P 0 incident on api") || !strings.Contains(body, "code "+spelled) {
		t.Fatalf("greeting while the store fails: %d %s", code, body)
	}
	if !strings.Contains(h.logs.String(), `"level":"ERROR"`) || !strings.Contains(h.logs.String(), "call's greeting") {
		t.Fatalf("the failure is not logged at error:\n%s", h.logs.String())
	}
	gather := gatherURL(h, fake, 0)
	if _, body := fake.Callback(t, gather, url.Values{"Digits": {"4"}}); !strings.Contains(body, "Acknowledged.") {
		t.Fatalf("4 once the store is back: %s", body)
	}
}

// TestBareSMSReplyToPagesOfTheSameMomentActsOnNeither: a reply without a
// code acts on the latest page to the number (README, docs/CONFIG.md),
// and its answer names that incident. When two incidents were paged to
// the number at the same moment, "latest" is a coin toss the person
// cannot see: the reply acts on neither and lists their codes; with a
// code it acts on that one. Pages a few seconds apart are not ambiguous:
// the bare reply acts on the newer and names it.
func TestBareSMSReplyToPagesOfTheSameMomentActsOnNeither(t *testing.T) {
	fake := providertest.NewTwilio(t)
	h := newHarness(t, withConfig(twilioAt(fake, twilioConfig)), realTransport("twilio"))
	first := fire(h)
	second := fireLabels(h, "g2", map[string]string{"alertname": "B", "severity": "critical"})
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if len(fake.Messages()) != 2 {
		t.Fatalf("Twilio got %d messages, want both pages", len(fake.Messages()))
	}
	text := func(body string) string {
		form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {body}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
		_, out := fake.Callback(t, h.url+twilio.SMSPath, form)
		return out
	}
	out := text("4")
	if !strings.Contains(out, "nothing was done") || !strings.Contains(out, twilio.ReplyCode(first)) || !strings.Contains(out, twilio.ReplyCode(second)) {
		t.Fatalf("a bare 4 to two pages of the same moment: %s", out)
	}
	if a, b := h.incident(first), h.incident(second); a.Status != "triggered" || b.Status != "triggered" {
		t.Fatalf("an ambiguous bare reply acted: %s %s", a.Status, b.Status)
	}
	if out := text("4 " + twilio.ReplyCode(second)); !strings.Contains(out, "Acknowledged [P0] api: disk almost full (code "+twilio.ReplyCode(second)+")") {
		t.Fatalf("4 with the code: %s", out)
	}

	// A third incident paged 30 s later: the bare reply means it, and
	// says which it acted on.
	h.clock.Set(fixedNow.Add(2*time.Minute + 30*time.Second))
	third := fireLabels(h, "g3", map[string]string{"alertname": "C", "severity": "critical"})
	h.runUntil(fixedNow.Add(4*time.Minute + 30*time.Second))
	if out := text("4"); !strings.Contains(out, "Acknowledged [P0] api: disk almost full (code "+twilio.ReplyCode(third)+")") {
		t.Fatalf("a bare 4 after a newer page: %s", out)
	}
	if a, c := h.incident(first), h.incident(third); a.Status != "triggered" || c.Status != "acknowledged" {
		t.Fatalf("after the bare 4: first %s, third %s", a.Status, c.Status)
	}
}

// TestVoicemailPickupWhileTheStoreFailsHangsUpQuietly: a call that
// reached voicemail is recorded in the timeline; when the store refuses
// that write, the answer is still the TwiML that hangs up (a 5xx would
// have Twilio play "application error" into the person's voicemail), the
// failure is logged at error, and readiness counts the refused write.
func TestVoicemailPickupWhileTheStoreFailsHangsUpQuietly(t *testing.T) {
	fake := providertest.NewTwilio(t)
	fs := &failingUpdates{Store: boltStore(t)}
	h := newHarness(t, withStore(fs), withConfig(twilioAt(fake, twilioCallConfig)), realTransport("twilio"))
	id := fire(h)
	h.runUntil(fixedNow.Add(5 * time.Minute))
	if len(fake.Calls()) != 1 {
		t.Fatalf("%d calls placed", len(fake.Calls()))
	}
	if r := h.do("GET", "/-/ready", ""); r.code != 200 {
		t.Fatalf("/-/ready before: %d %s", r.code, r.body)
	}
	before := h.incident(id)
	err := error(errDiskFull)
	fs.err.Store(&err)
	code, body := fake.Callback(t, fake.Calls()[0].Get("Url"), url.Values{"CallSid": {"CA1"}, "AnsweredBy": {"machine_end_beep"}})
	fs.err.Store(nil)
	if code != 200 || !strings.Contains(body, "<Response>") || !strings.Contains(body, "<Hangup") || strings.Contains(body, "<Gather") {
		t.Fatalf("voicemail pickup while the store refuses: %d %s; want TwiML that hangs up", code, body)
	}
	if !strings.Contains(h.logs.String(), `"level":"ERROR"`) || !strings.Contains(h.logs.String(), "voicemail pickup not recorded") {
		t.Fatalf("the failure is not logged at error:\n%s", h.logs.String())
	}
	if r := h.do("GET", "/-/ready", ""); r.code != 503 || !strings.Contains(r.body, "acknowledgements and updates") {
		t.Fatalf("/-/ready after the refused write: %d %s; want 503", r.code, r.body)
	}
	if v := h.incident(id); v.Status != "triggered" || len(v.Timeline) != len(before.Timeline) {
		t.Fatalf("after the refused voicemail note: %s, %d timeline entries (was %d)", v.Status, len(v.Timeline), len(before.Timeline))
	}
}

// TestSMSReplyWithTheCodeOfAResolvedIncidentSaysSo: a reply whose code
// names an incident paged to the number and resolved since is told it was
// already resolved, by whom (a user by name, an API key by its name) and
// when, and nothing changes; "no open incident with code X" was true but
// left the person wondering. An incident with the code that was never
// paged to the number by SMS is not named.
func TestSMSReplyWithTheCodeOfAResolvedIncidentSaysSo(t *testing.T) {
	fake := providertest.NewTwilio(t)
	h := newHarness(t, withConfig(twilioAt(fake, twilioConfig)), realTransport("twilio"))
	first := fire(h)
	h.runUntil(fixedNow.Add(2 * time.Minute))
	text := func(body string) string {
		form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {body}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
		_, out := fake.Callback(t, h.url+twilio.SMSPath, form)
		return out
	}
	code := twilio.ReplyCode(first)
	if r := h.api("POST", "/api/v1/incidents/"+first+"/resolve", ""); r.code != 200 {
		t.Fatalf("resolve: %d %s", r.code, r.body)
	}
	before := h.incident(first)
	for _, action := range []string{"4", "5", "6"} {
		want := "pagerd: [P0] api: disk almost full (code " + code + ") was already resolved by api:ops at 06:02 UTC; nothing changed."
		if out := text(action + " " + code); !strings.Contains(out, want) {
			t.Errorf("%s with the code of a resolved incident: %s; want %q", action, out, want)
		}
	}
	if after := h.incident(first); after.Status != "resolved" || len(after.Timeline) != len(before.Timeline) {
		t.Fatalf("a reply to a resolved incident changed it: %s, %d timeline entries (was %d)", after.Status, len(after.Timeline), len(before.Timeline))
	}

	// Resolved by Dan's own reply: named as a person hears it.
	h.clock.Set(fixedNow.Add(3 * time.Minute))
	second := fireLabels(h, "g2", map[string]string{"alertname": "B", "severity": "critical"})
	h.runUntil(fixedNow.Add(5 * time.Minute))
	if out := text("6 " + twilio.ReplyCode(second)); !strings.Contains(out, "Resolved") {
		t.Fatalf("6 with the code: %s", out)
	}
	if out := text("4 " + twilio.ReplyCode(second)); !strings.Contains(out, "was already resolved by Dan at 06:05 UTC; nothing changed.") {
		t.Fatalf("4 after Dan resolved it: %s", out)
	}

	// Resolved before its SMS went out: never paged to this number by
	// SMS, so its code names nothing here.
	third := fireLabels(h, "g3", map[string]string{"alertname": "C", "severity": "critical"})
	if r := h.api("POST", "/api/v1/incidents/"+third+"/resolve", ""); r.code != 200 {
		t.Fatalf("resolve: %d %s", r.code, r.body)
	}
	h.runUntil(fixedNow.Add(8 * time.Minute))
	if out := text("4 " + twilio.ReplyCode(third)); !strings.Contains(out, "no open incident with code "+twilio.ReplyCode(third)+" was paged to this number.") {
		t.Fatalf("4 with the code of an incident never texted to this number: %s", out)
	}

	// Past a day since it was created, a code is no longer looked for
	// among resolved incidents: four characters would name the wrong one.
	h.clock.Set(fixedNow.Add(25 * time.Hour))
	if out := text("4 " + code); !strings.Contains(out, "no open incident with code "+code+" was paged to this number.") {
		t.Fatalf("4 with the code of an incident resolved over a day ago: %s", out)
	}
}

// TestBareSMSReplyWhenNothingIsOpenNamesTheLatestPageResolved: a reply
// without a code when no open incident was paged to the number answers
// to the number's latest page: when that incident was resolved since, it
// says so, by whom and when, naming it (the latest page, not the latest
// resolved), and changes nothing. Past the day ResolvedPaged looks back,
// or when the latest pages were of two incidents at once, the plain
// answer stays.
func TestBareSMSReplyWhenNothingIsOpenNamesTheLatestPageResolved(t *testing.T) {
	fake := providertest.NewTwilio(t)
	h := newHarness(t, withConfig(twilioAt(fake, twilioConfig)), realTransport("twilio"))
	text := func(body string) string {
		form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {body}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
		_, out := fake.Callback(t, h.url+twilio.SMSPath, form)
		return out
	}
	first := fire(h)
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if r := h.api("POST", "/api/v1/incidents/"+first+"/resolve", ""); r.code != 200 {
		t.Fatalf("resolve: %d %s", r.code, r.body)
	}
	want := "pagerd: your latest page, [P0] api: disk almost full (code " + twilio.ReplyCode(first) + "), was already resolved by api:ops at 06:02 UTC; nothing changed."
	if out := text("4"); !strings.Contains(out, want) {
		t.Fatalf("a bare 4 after the latest page's incident was resolved: %s; want %q", out, want)
	}

	// Two more: the second's SMS is the latest page, resolved by Dan's
	// reply; the other's came before it, resolved after: the latest
	// page is the second's all the same.
	h.clock.Set(fixedNow.Add(2*time.Minute + 30*time.Second))
	earlier := fireLabels(h, "g5", map[string]string{"alertname": "E", "severity": "critical"})
	h.clock.Set(fixedNow.Add(3 * time.Minute))
	second := fireLabels(h, "g2", map[string]string{"alertname": "B", "severity": "critical"})
	h.runUntil(fixedNow.Add(5 * time.Minute))
	if len(fake.Messages()) != 3 {
		t.Fatalf("Twilio got %d messages, want three pages", len(fake.Messages()))
	}
	if out := text("6 " + twilio.ReplyCode(second)); !strings.Contains(out, "Resolved") {
		t.Fatalf("6 with the code: %s", out)
	}
	h.clock.Set(fixedNow.Add(6 * time.Minute))
	if r := h.api("POST", "/api/v1/incidents/"+earlier+"/resolve", ""); r.code != 200 {
		t.Fatalf("resolve: %d %s", r.code, r.body)
	}
	before := map[string]incidentView{first: h.incident(first), second: h.incident(second), earlier: h.incident(earlier)}
	want = "pagerd: your latest page, [P0] api: disk almost full (code " + twilio.ReplyCode(second) + "), was already resolved by Dan at 06:05 UTC; nothing changed."
	for _, action := range []string{"4", "5", "6"} {
		if out := text(action); !strings.Contains(out, want) {
			t.Errorf("a bare %s after the latest page's incident was resolved: %s; want %q", action, out, want)
		}
	}
	for id, b := range before {
		if a := h.incident(id); a.Status != "resolved" || len(a.Timeline) != len(b.Timeline) || a.ResolvedBy != b.ResolvedBy {
			t.Fatalf("a bare reply changed %s: %s by %s, %d timeline entries (was %d)", id, a.Status, a.ResolvedBy, len(a.Timeline), len(b.Timeline))
		}
	}

	// Past a day, those incidents are no longer looked for.
	h.clock.Set(fixedNow.Add(25 * time.Hour))
	plain := "pagerd: no open incident was paged to this number."
	if out := text("4"); !strings.Contains(out, plain) {
		t.Fatalf("a bare 4 a day later: %s", out)
	}
	// Two incidents paged at the same moment, both resolved: which one
	// the reply answers nobody can say.
	third := fireLabels(h, "g3", map[string]string{"alertname": "C", "severity": "critical"})
	fourth := fireLabels(h, "g4", map[string]string{"alertname": "D", "severity": "critical"})
	h.runUntil(fixedNow.Add(25*time.Hour + 2*time.Minute))
	for _, id := range []string{third, fourth} {
		if r := h.api("POST", "/api/v1/incidents/"+id+"/resolve", ""); r.code != 200 {
			t.Fatalf("resolve: %d %s", r.code, r.body)
		}
	}
	if out := text("4"); !strings.Contains(out, plain) {
		t.Fatalf("a bare 4 after two pages of the same moment were resolved: %s", out)
	}
}

// TestSMSAnswerAboutALongSummaryFitsOneMessage: Twilio refuses a TwiML
// message over 1,600 characters (error 21617) and sends nothing, so the
// answer to a "4" that repeated a summary of a thousand emoji (2,000
// UTF-16 units) never reached the person. The answer shortens the summary
// and still says what was done, to which incident.
func TestSMSAnswerAboutALongSummaryFitsOneMessage(t *testing.T) {
	fake := providertest.NewTwilio(t)
	h := newHarness(t, withConfig(twilioAt(fake, twilioConfig)), realTransport("twilio"))
	long := strings.Repeat("🔥", 1000)
	r := h.do("POST", "/api/v1/alertmanager", strings.Replace(amPayload("firing", "g1", map[string]string{"alertname": "A", "severity": "critical"}),
		`"summary":"disk almost full"`, `"summary":"`+long+`"`, 1), "Authorization", "Bearer "+amKey)
	var res struct{ Incidents []string }
	r.json(t, &res)
	id := res.Incidents[0]
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if len(fake.Messages()) != 1 {
		t.Fatalf("Twilio got %d messages", len(fake.Messages()))
	}
	form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {"4"}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
	for _, want := range []string{"pagerd: Acknowledged [P0] api: 🔥", "already acknowledged by Dan"} {
		form.Set("MessageSid", providertest.ReplySID()) // each reply another message
		code, body := fake.Callback(t, h.url+twilio.SMSPath, form)
		msg := strings.TrimSuffix(strings.TrimPrefix(body, `<?xml version="1.0" encoding="UTF-8"?><Response><Message>`), `</Message></Response>`)
		if n := len(utf16.Encode([]rune(msg))); code != 200 || n > twilio.MaxSMS || !strings.Contains(msg, want) ||
			!strings.Contains(msg, "(code "+twilio.ReplyCode(id)+")") {
			t.Fatalf("answer (%d UTF-16 units, Twilio takes %d): %d %s", n, twilio.MaxSMS, code, body)
		}
	}
	if v := h.incident(id); v.Status != "acknowledged" {
		t.Fatalf("after the reply: %s", v.Status)
	}
}

// TestVoiceGreetingOfAnIncidentAcknowledgedOrResolvedSinceTheCall: a call
// placed while the incident was open is answered after someone
// acknowledged it, then after someone resolved it (the cancel came too
// late: it was ringing). The greeting said "It is resolved." and offered
// "Press 4 to acknowledge, 5 to escalate, 6 to resolve" all the same, and
// each key then answered "Already resolved": the person woken up for it
// was asked to act on something nobody can act on. Now it says who
// acknowledged it and when, and offers only what still applies (5, which
// pages the next level again, and 6); resolved, it says who resolved it
// and when, and hangs up without asking for a key.
func TestVoiceGreetingOfAnIncidentAcknowledgedOrResolvedSinceTheCall(t *testing.T) {
	fake := providertest.NewTwilio(t)
	h := newHarness(t, withConfig(twilioAt(fake, twilioCallConfig)), realTransport("twilio"))
	id := fire(h)
	h.runUntil(fixedNow.Add(5 * time.Minute))
	if len(fake.Calls()) != 1 {
		t.Fatalf("%d calls placed", len(fake.Calls()))
	}
	voice := fake.Calls()[0].Get("Url")
	answer := func() string {
		t.Helper()
		code, body := fake.Callback(t, voice, url.Values{"CallSid": {"CA1"}, "AnsweredBy": {"human"}})
		if code != 200 {
			t.Fatalf("answered: %d %s", code, body)
		}
		return body
	}

	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", ""); r.code != 200 {
		t.Fatalf("acknowledge: %d %s", r.code, r.body)
	}
	body := answer()
	if !strings.Contains(body, "P 0 incident on api: disk almost full. It was acknowledged by api:ops at 06:05 UTC.") ||
		!strings.Contains(body, "<Gather") || !strings.Contains(body, "Press 5 to escalate, 6 to resolve, or star to repeat.") ||
		strings.Contains(body, "4 to acknowledge") {
		t.Fatalf("answered once acknowledged: %s", body)
	}
	if _, body := fake.Callback(t, gatherURL(h, fake, 0), url.Values{"Digits": {"4"}}); !strings.Contains(body, "Already acknowledged by api:ops at 06:05 UTC.") {
		t.Fatalf("4 pressed anyway: %s", body)
	}

	if r := h.api("POST", "/api/v1/incidents/"+id+"/resolve", ""); r.code != 200 {
		t.Fatalf("resolve: %d %s", r.code, r.body)
	}
	before := h.incident(id)
	body = answer()
	if !strings.Contains(body, "P 0 incident on api: disk almost full. It was resolved by api:ops at 06:05 UTC. Nothing is left to do. Goodbye.") ||
		!strings.Contains(body, "<Hangup") || strings.Contains(body, "<Gather") || strings.Contains(body, "Press") {
		t.Fatalf("answered once resolved: %s", body)
	}
	if after := h.incident(id); after.Status != "resolved" || len(after.Timeline) != len(before.Timeline) {
		t.Fatalf("answering the call changed the incident: %s, %d timeline entries (was %d)", after.Status, len(after.Timeline), len(before.Timeline))
	}
}

// twilioReackConfig is twilioCallConfig with Bob and Carol, who
// acknowledge through the API.
var twilioReackConfig = strings.Replace(twilioCallConfig, "users:\n", "users:\n"+
	"  - {id: bob, name: Bob, contacts: [{channel: push, via: log}]}\n"+
	"  - {id: carol, name: Carol, contacts: [{channel: push, via: log}]}\n", 1)

// acknowledgeAt has user acknowledge the incident through the API at at.
func acknowledgeAt(h *harness, id, user string, at time.Time) {
	h.t.Helper()
	h.runUntil(at)
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"`+user+`"}`); r.code != 200 {
		h.t.Fatalf("%s acknowledges: %d %s", user, r.code, r.body)
	}
}

// reopenAt has the API escalate the incident at at: at its one level, it
// reopens the acknowledged incident and pages the level again.
func reopenAt(h *harness, id string, at time.Time) {
	h.t.Helper()
	h.runUntil(at)
	if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", ""); r.code != 200 {
		h.t.Fatalf("escalate: %d %s", r.code, r.body)
	}
	if v := h.incident(id); v.Status != "triggered" || v.Reopened != 1 {
		h.t.Fatalf("after the escalation: %s, reopened %d", v.Status, v.Reopened)
	}
}

// TestSMSReplyOnAnIncidentAcknowledgedAgainSaysWhenThatPersonDid: Bob
// acknowledged at 06:01, an escalation reopened the incident, Carol
// acknowledged it again at 06:05. Dan's "4" to the page of the reopen was
// answered "already acknowledged by Carol at 06:01 UTC": Carol's name with
// Bob's time (the first acknowledgement, which the incident keeps for the
// time to acknowledge), so Dan took it that Carol had had it from before
// the reopen. It says Carol at 06:05.
func TestSMSReplyOnAnIncidentAcknowledgedAgainSaysWhenThatPersonDid(t *testing.T) {
	fake := providertest.NewTwilio(t)
	h := newHarness(t, withConfig(twilioAt(fake, twilioReackConfig)), realTransport("twilio"))
	id := fire(h)
	acknowledgeAt(h, id, "bob", fixedNow.Add(time.Minute))
	reopenAt(h, id, fixedNow.Add(2*time.Minute))
	h.runUntil(fixedNow.Add(4 * time.Minute)) // the reopen's SMS to Dan
	if len(fake.Messages()) != 1 {
		t.Fatalf("Twilio got %d messages, want the reopen's SMS", len(fake.Messages()))
	}
	acknowledgeAt(h, id, "carol", fixedNow.Add(5*time.Minute))
	form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {"4"}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
	_, out := fake.Callback(t, h.url+twilio.SMSPath, form)
	if !strings.Contains(out, "(code "+twilio.ReplyCode(id)+") was already acknowledged by Carol at 06:05 UTC; nothing changed.") {
		t.Fatalf("4 on an incident Carol acknowledged again at 06:05: %s", out)
	}
	if v := h.incident(id); v.AcknowledgedAt == nil || !v.AcknowledgedAt.Equal(fixedNow.Add(time.Minute)) {
		t.Fatalf("acknowledged_at is the first acknowledgement (06:01): %v", v.AcknowledgedAt)
	}
}

// TestCallOnAnIncidentAcknowledgedAgainSaysWhenThatPersonDid: the call of
// the reopen, answered after Carol acknowledged the incident again, said
// "It was acknowledged by Carol at" the time Bob first acknowledged it,
// and 4 pressed anyway "Already acknowledged by Carol at" that time too.
// Both say Carol's own time.
func TestCallOnAnIncidentAcknowledgedAgainSaysWhenThatPersonDid(t *testing.T) {
	fake := providertest.NewTwilio(t)
	h := newHarness(t, withConfig(twilioAt(fake, twilioReackConfig)), realTransport("twilio"))
	id := fire(h)
	acknowledgeAt(h, id, "bob", fixedNow.Add(time.Minute))
	reopenAt(h, id, fixedNow.Add(2*time.Minute))
	h.runUntil(fixedNow.Add(7 * time.Minute)) // the reopen's call to Dan
	if len(fake.Calls()) != 1 {
		t.Fatalf("%d calls placed, want the reopen's", len(fake.Calls()))
	}
	acknowledgeAt(h, id, "carol", fixedNow.Add(8*time.Minute))
	code, body := fake.Callback(t, fake.Calls()[0].Get("Url"), url.Values{"CallSid": {"CA1"}, "AnsweredBy": {"human"}})
	if code != 200 || !strings.Contains(body, "It was acknowledged by Carol at 06:08 UTC.") {
		t.Errorf("answered after Carol acknowledged again at 06:08: %d %s", code, body)
	}
	if _, body := fake.Callback(t, gatherURL(h, fake, 0), url.Values{"Digits": {"4"}}); !strings.Contains(body, "Already acknowledged by Carol at 06:08 UTC.") {
		t.Errorf("4 pressed anyway: %s", body)
	}
}
