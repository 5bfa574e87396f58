package gateway

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/twilio"
)

const (
	twSID   = providertest.TwilioSID
	twToken = providertest.TwilioToken
	twFrom  = providertest.TwilioFrom
)

const twilioConfig = `
api:
  tokens: [{name: ops, token: ` + apiToken + `}]
users:
  - {id: dan, name: Dan, contacts: [{channel: push, via: log}, {channel: sms, via: twilio, address: "+15555550111"}, {channel: voice, via: log}]}
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers: [{name: primary, start: 2025-01-06, members: [dan]}]
escalation_policies:
  - name: p
    levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]
services:
  - name: api
    priority_scheme: P0-P3
    escalation_policy: p
    integrations: {alertmanager_key: ` + amKey + `}
notifiers:
  twilio: {account_sid: ` + twSID + `, auth_token: ` + twToken + `, from: "` + twFrom + `"}
`

// twilioAt is a config with Twilio's API at the fake's URL and pagerd's
// public URL the harness's, where the fake calls back.
func twilioAt(fake *providertest.Twilio, config string) string {
	return strings.Replace(config, `from: "`+twFrom+`"}`, `from: "`+twFrom+`", api_url: `+fake.URL+`}`, 1) +
		"server: {public_url: " + harnessURL + "}\n"
}

// TestTwilioSMSAndStatusCallback: the SMS goes through twilio-go to a fake
// Twilio REST API (two 503s first, then it recovers and the retry gets
// through), and Twilio's signed delivery report lands in the timeline; a
// forged one is refused.
func TestTwilioSMSAndStatusCallback(t *testing.T) {
	fake := providertest.NewTwilio(t)
	fake.FailFirst(2)
	h := newHarness(t, withConfig(twilioAt(fake, twilioConfig)), realTransport("twilio"), fastRetries())
	id := fire(h)
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if len(fake.Messages()) != 1 {
		t.Fatalf("Twilio got %d messages", len(fake.Messages()))
	}
	msg := fake.Messages()[0]
	if msg.Get("To") != "+15555550111" || msg.Get("From") != twFrom || !strings.Contains(msg.Get("Body"), "[P0] api: disk almost full") {
		t.Fatalf("message sent: %v", msg)
	}
	cb, err := url.Parse(msg.Get("StatusCallback"))
	if err != nil || cb.Query().Get("incident") != id || cb.Query().Get("user") != "dan" {
		t.Fatalf("status callback %q", msg.Get("StatusCallback"))
	}

	report := url.Values{"MessageSid": {providertest.MessageSID(0)}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}}
	full := h.url + cb.RequestURI()
	send := func(sig string) int {
		code, _ := providertest.TwilioPost(t, full, report, sig)
		return code
	}
	if code := send(providertest.TwilioSign("wrong-token", full, report)); code != 403 {
		t.Fatalf("forged signature: %d", code)
	}
	if code := send(""); code != 403 {
		t.Fatalf("no signature: %d", code)
	}
	if code := send(providertest.TwilioSign(twToken, full, report)); code != 204 {
		t.Fatalf("signed report: %d", code)
	}
	var v incidentView
	h.api("GET", "/api/v1/incidents/"+id, "").json(t, &v)
	// The report, then the record that it was applied, which the same
	// report again finds.
	last, applied := v.Timeline[len(v.Timeline)-2], v.Timeline[len(v.Timeline)-1]
	if last.Type != incident.DeliveryFailed || last.User != "dan" || last.Channel != "sms" || last.Detail != "undelivered (Twilio error 30003)" {
		t.Fatalf("timeline's report: %+v", last)
	}
	if applied.Type != incident.ReportApplied || applied.User != "dan" || applied.Channel != "sms" || applied.Ref != providertest.MessageSID(0) {
		t.Fatalf("timeline ends with %+v, want the report's record of it applied", applied)
	}
	// The SMS did not arrive: the next step is due now, not at 5m.
	if v.NextStepAt == nil || !v.NextStepAt.Equal(fixedNow.Add(2*time.Minute)) {
		t.Fatalf("next step at %v, want now (2m)", v.NextStepAt)
	}
}

// A Twilio auth token rotated by a reload is the one the next page is sent
// with (and the one callbacks are checked with): the old one deleted at
// Twilio, pages still go out.
func TestTwilioTokenRotatedByReload(t *testing.T) {
	fake := providertest.NewTwilio(t)
	cfg := twilioAt(fake, twilioConfig)
	h := newHarness(t, withConfig(cfg), realTransport("twilio"), fastRetries())
	const rotated = "fedcba9876543210fedcba9876543210"
	fake.RotateToken(rotated)
	if err := h.reload(strings.Replace(cfg, "auth_token: "+twToken, "auth_token: "+rotated, 1)); err != nil {
		t.Fatal(err)
	}
	fire(h)
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if n := len(fake.Messages()); n != 1 {
		t.Fatalf("Twilio took %d messages after the token was rotated by a reload, want 1", n)
	}
	if got := h.logLines("WARN", "only at start"); len(got) != 0 {
		t.Fatalf("a rotated Twilio token was said to need a restart:\n%s", got)
	}
}

// TestTwilioTokenRotationTakesCallbacksThroughout: the auth token rotated
// as Twilio has it done (a secondary token made in the Console and put in
// pagerd's config, then promoted, which deletes the old one) with
// previous_auth_token leaves no time in which a callback is refused: pages
// go out with the new token while Twilio still signs with the old
// primary, and a reply signed with it acknowledges; once the new one is
// promoted, replies signed with it do. Without previous_auth_token, the
// reply in between is refused (403, which Twilio drops silently: the
// person who texted "4" is paged on).
func TestTwilioTokenRotationTakesCallbacksThroughout(t *testing.T) {
	fake := providertest.NewTwilio(t)
	cfg := twilioAt(fake, twilioConfig)
	h := newHarness(t, withConfig(cfg), realTransport("twilio"), fastRetries())
	const next = "fedcba9876543210fedcba9876543210"
	fake.AddSecondaryToken(next)
	rotating := strings.Replace(cfg, "auth_token: "+twToken, "auth_token: "+next, 1)
	if err := h.reload(rotating); err != nil {
		t.Fatal(err)
	}
	first := fire(h)
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if n := len(fake.Messages()); n != 1 {
		t.Fatalf("Twilio took %d messages sent with the secondary token, want 1", n)
	}
	reply := func(body string) (int, string) {
		form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {body}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
		return fake.Callback(t, h.url+twilio.SMSPath, form)
	}
	status := func(id string) string {
		var v incidentView
		h.api("GET", "/api/v1/incidents/"+id, "").json(t, &v)
		return string(v.Status)
	}
	if code, _ := reply("4"); code != 403 {
		t.Fatalf("a reply signed with the primary while pagerd has only the secondary: %d, want 403 (the window previous_auth_token closes)", code)
	}
	if err := h.reload(strings.Replace(rotating, "auth_token: "+next, "auth_token: "+next+", previous_auth_token: "+twToken, 1)); err != nil {
		t.Fatal(err)
	}
	if code, body := reply("4"); code != 200 || !strings.Contains(body, "pagerd: Acknowledged [P0] api") {
		t.Fatalf("a reply signed with the primary Twilio still signs with, previous_auth_token set: %d %s", code, body)
	}
	if st := status(first); st != "acknowledged" {
		t.Fatalf("the incident is %s after the reply", st)
	}
	if got := h.logLines("INFO", "signed with notifiers.twilio.previous_auth_token", "remove previous_auth_token"); len(got) != 1 {
		t.Fatalf("the reply taken by the previous token was not logged once at info; logs:\n%s", h.logs.String())
	}

	fake.PromoteSecondary()
	second := fireLabels(h, "g2", map[string]string{"alertname": "B", "severity": "critical"})
	h.runUntil(fixedNow.Add(4 * time.Minute))
	if n := len(fake.Messages()); n != 2 {
		t.Fatalf("Twilio took %d messages after the promotion, want 2", n)
	}
	if code, body := reply("4"); code != 200 || !strings.Contains(body, "pagerd: Acknowledged [P0] api") {
		t.Fatalf("a reply signed with the promoted token: %d %s", code, body)
	}
	if st := status(second); st != "acknowledged" {
		t.Fatalf("the second incident is %s after the reply", st)
	}
	if got := h.logLines("INFO", "signed with notifiers.twilio.previous_auth_token"); len(got) != 1 {
		t.Fatalf("a reply signed with the new token was logged as the previous one's: %d lines", len(got))
	}
	if got := h.logLines("WARN", "only at start"); len(got) != 0 {
		t.Fatalf("a rotation's tokens were said to need a restart:\n%s", got)
	}
}

// TestSMSReplies: a paged person acts by replying to the SMS, alone (the
// latest incident paged to them) or with its code; other numbers, unknown
// words and forged requests get nowhere.
func TestSMSReplies(t *testing.T) {
	fake := providertest.NewTwilio(t)
	h := newHarness(t, withConfig(twilioAt(fake, twilioConfig)), realTransport("twilio"))
	first := fire(h)
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "second", map[string]string{"alertname": "B", "severity": "critical"}),
		"Authorization", "Bearer "+amKey)
	var res struct{ Incidents []string }
	r.json(t, &res)
	second := res.Incidents[0]
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if len(fake.Messages()) != 2 || !strings.Contains(fake.Messages()[0].Get("Body"), "Reply 4 to ack") {
		t.Fatalf("sent %v", fake.Messages())
	}

	text := func(from, body, sig string) (int, string) {
		form := url.Values{"From": {from}, "To": {twFrom}, "Body": {body}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
		u := h.url + twilio.SMSPath
		if sig == "" {
			return fake.Callback(t, u, form)
		}
		return providertest.TwilioPost(t, u, form, sig)
	}
	status := func(id string) (string, string) {
		var v incidentView
		h.api("GET", "/api/v1/incidents/"+id, "").json(t, &v)
		return string(v.Status), v.AcknowledgedBy
	}
	if code, _ := text("+15555550111", "4", "forged"); code != 403 {
		t.Fatalf("forged: %d", code)
	}
	if _, body := text("+15555550999", "4", ""); !strings.Contains(body, "not on call") {
		t.Fatalf("unknown number: %s", body)
	}
	if _, body := text("+15555550111", "hello?", ""); !strings.Contains(body, "reply 4 (ack)") {
		t.Fatalf("unknown reply: %s", body)
	}
	if _, body := text("+15555550111", "4 ZZZZ", ""); !strings.Contains(body, "no open incident with code ZZZZ") {
		t.Fatalf("wrong code: %s", body)
	}
	// "4" alone: the latest incident paged to this number (both were paged
	// at the same instants; either is "latest", so name one by its code).
	code, body := text("+15555550111", "ack "+strings.ToLower(twilio.ReplyCode(first)), "")
	if code != 200 || !strings.Contains(body, "<Response><Message>pagerd: Acknowledged [P0] api") {
		t.Fatalf("ack by code: %d %s", code, body)
	}
	if st, by := status(first); st != "acknowledged" || by != "dan" {
		t.Fatalf("first: %s by %s", st, by)
	}
	if st, _ := status(second); st != "triggered" {
		t.Fatalf("the other incident changed: %s", st)
	}
	if _, body := text("+15555550111", "4 "+twilio.ReplyCode(first), ""); !strings.Contains(body, "already acknowledged by Dan") {
		t.Fatalf("second ack: %s", body)
	}
	// The ack by SMS stopped the first incident's call at 5m, for everyone.
	h.runUntil(fixedNow.Add(6 * time.Minute))
	h.rec.mu.Lock()
	for _, m := range h.rec.msgs {
		if m.Incident == first && m.Channel == "voice" {
			t.Errorf("the call went out after the SMS ack: %+v", m)
		}
	}
	h.rec.mu.Unlock()
	// "6" alone: both were paged at the same instant, so which is the
	// latest the person cannot know: it acts on neither and lists both.
	if _, body := text("+15555550111", "6", ""); !strings.Contains(body, "nothing was done") || !strings.Contains(body, twilio.ReplyCode(second)) {
		t.Fatalf("resolve the latest of two paged at once: %s", body)
	}
	if st, _ := status(second); st != "triggered" {
		t.Fatalf("an ambiguous 6 changed the second incident: %s", st)
	}
	if _, body := text("+15555550111", "6 "+twilio.ReplyCode(second), ""); !strings.Contains(body, "Resolved [P0] api") {
		t.Fatalf("resolve by code: %s", body)
	}
}

// TestVoiceCallWithKeypress: the call step places a call with answering
// machine detection; answered by a person, it says the incident and gathers
// a key; 4 acknowledges as the person called and says so; a voicemail
// pickup is recorded and is not an acknowledgement.
func TestVoiceCallWithKeypress(t *testing.T) {
	fake := providertest.NewTwilio(t)
	// A voice contact needs a public URL: Twilio fetches the call's script
	// from it.
	cfgText := strings.Replace(twilioConfig, `{channel: voice, via: log}`, `{channel: voice, via: twilio, address: "+15555550111"}`, 1)
	h := newHarness(t, withConfig(twilioAt(fake, cfgText)), realTransport("twilio"))
	id := fire(h)
	h.runUntil(fixedNow.Add(5 * time.Minute))
	if len(fake.Calls()) != 1 {
		t.Fatalf("%d calls placed", len(fake.Calls()))
	}
	call := fake.Calls()[0]
	if call.Get("To") != "+15555550111" || call.Get("MachineDetection") != "Enable" || !strings.Contains(call.Get("Url"), "/api/v1/twilio/voice?") {
		t.Fatalf("call placed: %v", call)
	}
	callback := func(u string, form url.Values) (int, string) { return fake.Callback(t, u, form) }
	state := func() incidentView {
		var v incidentView
		h.api("GET", "/api/v1/incidents/"+id, "").json(t, &v)
		return v
	}

	// A voicemail picks up: recorded, hung up, not acknowledged.
	code, body := callback(call.Get("Url"), url.Values{"CallSid": {"CA1"}, "AnsweredBy": {"machine_start"}})
	if code != 200 || !strings.Contains(body, "<Hangup") || strings.Contains(body, "<Gather") {
		t.Fatalf("voicemail: %d %s", code, body)
	}
	if v := state(); v.Status != "triggered" || !strings.Contains(v.Timeline[len(v.Timeline)-1].Detail, "voicemail pickup") {
		t.Fatalf("after a voicemail: %s %+v", v.Status, v.Timeline[len(v.Timeline)-1])
	}

	// A person answers: the incident is read out and a key gathered.
	code, body = callback(call.Get("Url"), url.Values{"CallSid": {"CA1"}, "AnsweredBy": {"human"}})
	if code != 200 || !strings.Contains(body, `<Gather`) || !strings.Contains(body, `numDigits="1"`) ||
		!strings.Contains(body, "P 0 incident on api: disk almost full") || !strings.Contains(body, "Press 4 to acknowledge") {
		t.Fatalf("answered: %d %s", code, body)
	}
	gather := h.url + "/api/v1/twilio/voice/gather?" + strings.SplitN(call.Get("Url"), "?", 2)[1]
	if !strings.Contains(body, strings.ReplaceAll(gather, "&", "&amp;")) {
		t.Fatalf("the gather does not post back to %s: %s", gather, body)
	}
	if _, body := callback(gather, url.Values{"Digits": {"*"}}); !strings.Contains(body, "<Redirect") {
		t.Fatalf("star: %s", body)
	}
	if _, body := callback(gather, url.Values{"Digits": {"9"}}); !strings.Contains(body, "does nothing") {
		t.Fatalf("9: %s", body)
	}
	if _, body := callback(gather, url.Values{"Digits": {"4"}}); !strings.Contains(body, "Acknowledged.") {
		t.Fatalf("4: %s", body)
	}
	if v := state(); v.Status != "acknowledged" || v.AcknowledgedBy != "dan" {
		t.Fatalf("after pressing 4: %s by %s", v.Status, v.AcknowledgedBy)
	}
	if _, body := callback(gather, url.Values{"Digits": {"4"}}); !strings.Contains(body, "Already acknowledged by Dan at 06:05 UTC.") {
		t.Fatalf("4 again: %s", body)
	}
	forged := url.Values{"Digits": {"6"}}
	if code, body := providertest.TwilioPost(t, gather, forged, providertest.TwilioSign("not-the-token", gather, forged)); code != 403 {
		t.Fatalf("forged keypress: %d %s", code, body)
	}
	if v := state(); v.Status != "acknowledged" {
		t.Fatalf("a forged keypress changed the incident: %s", v.Status)
	}
}

// TestProviderSecretsNeverLogged drives every provider path, failures
// included, with a logger that keeps everything, and looks for the secrets.
func TestProviderSecretsNeverLogged(t *testing.T) {
	const pdSecret, linkSecret = "pd-webhook-secret-value-77", "link-secret-value-0123456789"
	fake := providertest.NewTwilio(t)
	fake.FailFirst(100) // Twilio keeps failing: errors get logged
	cfgText := strings.Replace(twilioAt(fake, twilioConfig+"  pagerduty: {webhook_secret: "+pdSecret+"}\n"),
		"public_url: "+harnessURL, "public_url: "+harnessURL+", link_secret: "+linkSecret, 1)
	// The harness's logger keeps everything, the dispatcher's lines too.
	h := newHarness(t, withConfig(cfgText), realTransport("twilio"), fastRetries())
	logs, log := h.logs, h.log
	id := fire(h)
	h.runUntil(fixedNow.Add(6 * time.Minute))
	bad := url.Values{"MessageStatus": {"failed"}}
	for _, path := range []string{"/api/v1/twilio/status?incident=" + id + "&user=dan&channel=sms", "/api/v1/twilio/sms", "/api/v1/twilio/voice"} {
		providertest.TwilioPost(t, h.url+path, bad, providertest.TwilioSign("guess", h.url+path, bad))
	}
	h.do("POST", "/api/v1/pagerduty/webhook", `{"event":{}}`, "X-PagerDuty-Signature", "v1=00")
	h.do("GET", "/ack/forged.token", "")
	log.Info("config", "cfg", h.config())
	out := logs.String()
	if !strings.Contains(out, "page failed") {
		t.Fatalf("the failing provider was not logged at all:\n%s", out)
	}
	for _, secret := range []string{twToken, pdSecret, linkSecret, apiToken, amKey} {
		if strings.Contains(out, secret) {
			t.Fatalf("a secret is in the logs:\n%s", out)
		}
	}
}

// refusingUpdates is a store that refuses the next n Updates that do not
// note a delivery report: a store that blips after the report is noted.
type refusingUpdates struct {
	store.Store
	n atomic.Int64
}

func (r *refusingUpdates) Update(ctx context.Context, inc *store.Incident, tl []store.Entry) error {
	if !slices.ContainsFunc(tl, func(e store.Entry) bool { return e.Type == "delivery" || e.Type == incident.DeliveryFailed }) && r.n.Add(-1) >= 0 {
		return errDiskFull
	}
	return r.Store.Update(ctx, inc, tl)
}

// TestUndeliveredSMSBringsTheCallForwardThroughAStoreBlip: Twilio sends a
// delivery report once, whatever pagerd answers. While the store refuses
// the write that brings the person's call forward, the answer is a 503
// that does not claim nothing was stored (the report is in the timeline);
// when it refuses twice and then takes it, it is asked again within the
// request, and the call is due now.
func TestUndeliveredSMSBringsTheCallForwardThroughAStoreBlip(t *testing.T) {
	fake := providertest.NewTwilio(t)
	rs := &refusingUpdates{Store: boltStore(t)}
	h := newHarness(t, withStore(rs), withConfig(twilioAt(fake, twilioConfig)), realTransport("twilio"))
	id := fire(h)
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if len(fake.Messages()) != 1 {
		t.Fatalf("Twilio got %d messages", len(fake.Messages()))
	}
	cb, err := url.Parse(fake.Messages()[0].Get("StatusCallback"))
	if err != nil {
		t.Fatal(err)
	}
	report := url.Values{"MessageSid": {providertest.MessageSID(0)}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}}
	full := h.url + cb.RequestURI()
	send := func() (int, string) {
		return providertest.TwilioPost(t, full, report, providertest.TwilioSign(twToken, full, report))
	}
	rs.n.Store(100)
	code, body := send()
	rs.n.Store(0)
	if code != 503 || strings.Contains(body, "nothing was stored") {
		t.Fatalf("report while the store refuses: %d %s; want a 503 that does not say nothing was stored", code, body)
	}
	rs.n.Store(2)
	if code, body := send(); code != 204 {
		t.Fatalf("report while the store refused twice: %d %s", code, body)
	}
	var v incidentView
	h.api("GET", "/api/v1/incidents/"+id, "").json(t, &v)
	if v.NextStepAt == nil || !v.NextStepAt.Equal(fixedNow.Add(2*time.Minute)) {
		t.Fatalf("next step at %v, want now (2m): the call was not brought forward", v.NextStepAt)
	}
}

// TestSMSReplyWhileTheStoreRefusesTellsThePerson: Twilio does not retry
// an incoming-message webhook that fails, and sends no reply: a 5xx would
// leave the person who texted "4" believing it worked while the ladder
// goes on. The answer is a message saying the reply was not recorded and
// the paging goes on; once the store is back, the same reply acknowledges.
func TestSMSReplyWhileTheStoreRefusesTellsThePerson(t *testing.T) {
	fake := providertest.NewTwilio(t)
	rs := &refusingUpdates{Store: boltStore(t)}
	h := newHarness(t, withStore(rs), withConfig(twilioAt(fake, twilioConfig)), realTransport("twilio"))
	id := fire(h)
	h.runUntil(fixedNow.Add(2 * time.Minute))
	text := func(body string) (int, string) {
		form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {body}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
		return fake.Callback(t, h.url+twilio.SMSPath, form)
	}
	rs.n.Store(100)
	code, body := text("4")
	rs.n.Store(0)
	if code != 200 || !strings.Contains(body, "<Message>") || !strings.Contains(body, "NOT recorded") {
		t.Fatalf("reply while the store refuses: %d %s; want 200 with a message saying it was not recorded", code, body)
	}
	if v := h.incident(id); v.Status != "triggered" {
		t.Fatalf("status %s after a refused write", v.Status)
	}
	if !strings.Contains(h.logs.String(), "SMS reply not recorded") {
		t.Fatalf("the failure is not logged:\n%s", h.logs.String())
	}
	if code, body := text("4"); code != 200 || !strings.Contains(body, "Acknowledged") {
		t.Fatalf("reply once the store is back: %d %s", code, body)
	}
}

// TestKeypressWhileTheStoreRefusesAsksAgain: a key pressed while the store
// refuses the write is not an application error that hangs up (what
// Twilio plays for a 5xx): the call says it was not recorded and gathers
// the key again, and pressing it again once the store is back acts.
func TestKeypressWhileTheStoreRefusesAsksAgain(t *testing.T) {
	fake := providertest.NewTwilio(t)
	rs := &refusingUpdates{Store: boltStore(t)}
	cfgText := strings.Replace(twilioConfig, `{channel: voice, via: log}`, `{channel: voice, via: twilio, address: "+15555550111"}`, 1)
	h := newHarness(t, withStore(rs), withConfig(twilioAt(fake, cfgText)), realTransport("twilio"))
	id := fire(h)
	h.runUntil(fixedNow.Add(5 * time.Minute))
	if len(fake.Calls()) != 1 {
		t.Fatalf("%d calls placed", len(fake.Calls()))
	}
	gather := gatherURL(h, fake, 0)
	rs.n.Store(100)
	code, body := fake.Callback(t, gather, url.Values{"Digits": {"4"}})
	rs.n.Store(0)
	if code != 200 || !strings.Contains(body, "not recorded") || !strings.Contains(body, "<Gather") {
		t.Fatalf("keypress while the store refuses: %d %s; want 200 saying so and gathering again", code, body)
	}
	if !strings.Contains(body, strings.ReplaceAll(gather, "&", "&amp;")) {
		t.Fatalf("the gather does not post back to %s: %s", gather, body)
	}
	if v := h.incident(id); v.Status != "triggered" {
		t.Fatalf("status %s after a refused write", v.Status)
	}
	if _, body := fake.Callback(t, gather, url.Values{"Digits": {"4"}}); !strings.Contains(body, "Acknowledged.") {
		t.Fatalf("4 again: %s", body)
	}
}

// sameCodeIDs is a store whose new incidents all end in the same four
// characters, so they share a reply code: the one-in-a-million collision
// of two open incidents paged to the same number, made certain. The two
// characters before those differ from one incident to the next: random
// too, with the time's before them alike for incidents made in one
// millisecond, the last 8 characters of two such ids were alike one time
// in 4096, and more of the id could not tell them apart.
type sameCodeIDs struct {
	store.Store
	n *atomic.Int32
}

func (s sameCodeIDs) Trigger(ctx context.Context, inc *store.Incident, tl []store.Entry) (string, store.Outcome, error) {
	inc.ID = fmt.Sprintf("%s%02dzz12", inc.ID[:len(inc.ID)-6], s.n.Add(1)%100)
	inc.State.ID = inc.ID
	return s.Store.Trigger(ctx, inc, tl)
}

// TestSMSReplyCodeSharedByTwoIncidentsActsOnNeither: a reply code is the
// last four characters of an incident id, so two open incidents paged to
// one number can share it. "4 ZZ12" must not acknowledge whichever was
// paged last, which may not be the one the person looked at (the other
// would go on paging, and the one acknowledged might be missed): it acts
// on neither and asks for more of the id, which then picks one.
func TestSMSReplyCodeSharedByTwoIncidentsActsOnNeither(t *testing.T) {
	fake := providertest.NewTwilio(t)
	h := newHarness(t, withStore(sameCodeIDs{boltStore(t), new(atomic.Int32)}), withConfig(twilioAt(fake, twilioConfig)), realTransport("twilio"))
	first := fire(h)
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "second", map[string]string{"alertname": "B", "severity": "critical"}),
		"Authorization", "Bearer "+amKey)
	var res struct{ Incidents []string }
	r.json(t, &res)
	second := res.Incidents[0]
	if twilio.ReplyCode(first) != twilio.ReplyCode(second) || first == second {
		t.Fatalf("the incidents %s and %s do not share a code", first, second)
	}
	h.runUntil(fixedNow.Add(2 * time.Minute))
	text := func(body string) string {
		form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {body}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
		_, out := fake.Callback(t, h.url+twilio.SMSPath, form)
		return out
	}
	if out := text("4 ZZ12"); !strings.Contains(out, "matches 2 incidents") {
		t.Fatalf("a code two incidents share: %s", out)
	}
	if a, b := h.incident(first), h.incident(second); a.Status != "triggered" || b.Status != "triggered" {
		t.Fatalf("a shared code acted: %s %s", a.Status, b.Status)
	}
	longer := strings.ToUpper(strings.ReplaceAll(first, "-", "")[len(strings.ReplaceAll(first, "-", ""))-8:])
	if out := text("4 " + longer); !strings.Contains(out, "Acknowledged") {
		t.Fatalf("more of the id (%s): %s", longer, out)
	}
	if a, b := h.incident(first), h.incident(second); a.Status != "acknowledged" || b.Status != "triggered" {
		t.Fatalf("after more of the id: first %s, second %s", a.Status, b.Status)
	}
}

// TestSMSReplyFromANumberTwoPeopleShare: a number in two people's
// contacts (a team's on-call handset, one person in two roles) acts as
// whichever of them the page it answers went to, not as the last of them
// in the config, who was never paged and would be told nothing was.
func TestSMSReplyFromANumberTwoPeopleShare(t *testing.T) {
	fake := providertest.NewTwilio(t)
	cfgText := strings.Replace(twilioConfig, "schedules:", `  - {id: eve, name: Eve, contacts: [{channel: sms, via: twilio, address: "+15555550111"}]}
schedules:`, 1)
	h := newHarness(t, withConfig(twilioAt(fake, cfgText)), realTransport("twilio"))
	id := fire(h)
	h.runUntil(fixedNow.Add(2 * time.Minute))
	form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {"4"}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
	if _, out := fake.Callback(t, h.url+twilio.SMSPath, form); !strings.Contains(out, "Acknowledged") {
		t.Fatalf("a reply from the shared number: %s", out)
	}
	if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "dan" {
		t.Fatalf("after the reply: %s by %q, want acknowledged by dan (who was paged)", v.Status, v.AcknowledgedBy)
	}
}

// twilioLadderConfig is twilioConfig with three levels: dan (SMS and call
// through Twilio), then bob, then cat (both through the log transport, so
// the recorder sees who was paged).
var twilioLadderConfig = strings.NewReplacer(
	`{channel: voice, via: log}]}`, `{channel: voice, via: twilio, address: "+15555550111"}]}
  - {id: bob, name: Bob, contacts: [{channel: push, via: log}]}
  - {id: cat, name: Cat, contacts: [{channel: push, via: log}]}`,
	`levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]`, `levels:
      - {name: primary, targets: [{schedule: s, tier: primary}], timeout: 30m}
      - {name: secondary, targets: [{user: bob}], timeout: 30m}
      - {name: tertiary, targets: [{user: cat}], timeout: 30m}`,
).Replace(twilioConfig)

// pagedUsers counts the pages the recorder saw, by person.
func pagedUsers(h *harness) map[string]int {
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	n := map[string]int{}
	for _, m := range h.rec.msgs {
		n[m.User]++
	}
	return n
}

// TestSMSReplyEscalateTwiceEscalatesOnce: people resend "5" when the first
// answer seems slow. The second "5" answers the same page, of the first
// level: it must not escalate past the second level and page the third
// (cat, who was not needed); the person is told it was already escalated,
// and by whom.
func TestSMSReplyEscalateTwiceEscalatesOnce(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			h := newHarness(t, withConfig(twilioAt(fake, twilioLadderConfig)), realTransport("twilio"), withStore(st(t)))
			id := fire(h)
			h.runUntil(fixedNow.Add(2 * time.Minute))
			if len(fake.Messages()) != 1 {
				t.Fatalf("Twilio got %d SMS, want dan's one", len(fake.Messages()))
			}
			form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {"5"}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
			if _, out := fake.Callback(t, h.url+twilio.SMSPath, form); !strings.Contains(out, "pagerd: Escalated [P0] api") {
				t.Fatalf("the first 5: %s", out)
			}
			h.runUntil(fixedNow.Add(3 * time.Minute))
			form.Set("MessageSid", providertest.ReplySID()) // sent again: another message
			if _, out := fake.Callback(t, h.url+twilio.SMSPath, form); !strings.Contains(out, "already escalated to level 2 (secondary) by Dan") {
				t.Fatalf("the second 5: %s", out)
			}
			h.runUntil(fixedNow.Add(10 * time.Minute))
			if v := h.incident(id); v.LevelName != "secondary" {
				t.Fatalf("after two 5s: level %d (%s), want secondary", v.Level, v.LevelName)
			}
			if n := pagedUsers(h); n["bob"] != 1 || n["cat"] != 0 {
				t.Fatalf("pages after two 5s: %v (%s), want bob once and never cat", n, strings.Join(h.rec.lines(fixedNow), "; "))
			}
		})
	}
}

// TestKeypressEscalateTwiceEscalatesOnce: 5 pressed twice on the call of
// the first level (a key that seemed not to take) escalates once: the
// third level is never paged.
func TestKeypressEscalateTwiceEscalatesOnce(t *testing.T) {
	fake := providertest.NewTwilio(t)
	h := newHarness(t, withConfig(twilioAt(fake, twilioLadderConfig)), realTransport("twilio"))
	id := fire(h)
	h.runUntil(fixedNow.Add(5 * time.Minute))
	if len(fake.Calls()) != 1 {
		t.Fatalf("%d calls placed, want dan's one", len(fake.Calls()))
	}
	gather := gatherURL(h, fake, 0)
	if _, body := fake.Callback(t, gather, url.Values{"Digits": {"5"}}); !strings.Contains(body, "Escalated to the next level.") {
		t.Fatalf("the first 5: %s", body)
	}
	if _, body := fake.Callback(t, gather, url.Values{"Digits": {"5"}}); !strings.Contains(body, "already escalated to level 2 (secondary) by Dan") {
		t.Fatalf("the second 5: %s", body)
	}
	h.runUntil(fixedNow.Add(10 * time.Minute))
	if v := h.incident(id); v.LevelName != "secondary" {
		t.Fatalf("after two 5s: level %d (%s), want secondary", v.Level, v.LevelName)
	}
	if n := pagedUsers(h); n["bob"] != 1 || n["cat"] != 0 {
		t.Fatalf("pages after two 5s: %v, want bob once and never cat", n)
	}
}

// twilioOneLevelConfig pages dan by SMS and by a Twilio call, at the one
// level of its policy, which is thus the last.
var twilioOneLevelConfig = strings.Replace(twilioConfig, `{channel: voice, via: log}]}`,
	`{channel: voice, via: twilio, address: "+15555550111"}]}`, 1)

// TestEscalateTwiceAtTheLastLevelEscalatesOnce: at the last level an
// escalation pages that level again instead of leaving it, so the level of
// the page answered is still the incident's. A "5" sent twice (an SMS
// resent, a key pressed twice) still answers one page: the second pages
// nobody again and says it was already escalated.
func TestEscalateTwiceAtTheLastLevelEscalatesOnce(t *testing.T) {
	t.Run("sms", func(t *testing.T) {
		fake := providertest.NewTwilio(t)
		h := newHarness(t, withConfig(twilioAt(fake, twilioOneLevelConfig)), realTransport("twilio"))
		fire(h)
		h.runUntil(fixedNow.Add(2 * time.Minute))
		h.runUntil(fixedNow.Add(2*time.Minute + 20*time.Second)) // read, and answered
		form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {"5"}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
		if _, out := fake.Callback(t, h.url+twilio.SMSPath, form); !strings.Contains(out, "pagerd: Escalated [P0] api") {
			t.Fatalf("the first 5: %s", out)
		}
		h.runUntil(fixedNow.Add(3 * time.Minute))
		form.Set("MessageSid", providertest.ReplySID()) // sent again: another message
		if _, out := fake.Callback(t, h.url+twilio.SMSPath, form); !strings.Contains(out, "already escalated to level 1 (primary) by Dan") {
			t.Fatalf("the second 5: %s", out)
		}
		h.runUntil(fixedNow.Add(3*time.Minute + 30*time.Second))
		if n := pushes(h, "dan"); n != 2 {
			t.Fatalf("dan got %d pushes, want 2 (the page and the one escalation): %s", n, strings.Join(h.rec.lines(fixedNow), "; "))
		}
	})
	t.Run("keypress", func(t *testing.T) {
		fake := providertest.NewTwilio(t)
		h := newHarness(t, withConfig(twilioAt(fake, twilioOneLevelConfig)), realTransport("twilio"))
		fire(h)
		h.runUntil(fixedNow.Add(5 * time.Minute))
		if len(fake.Calls()) != 1 {
			t.Fatalf("%d calls placed, want dan's one", len(fake.Calls()))
		}
		gather := gatherURL(h, fake, 0)
		h.runUntil(fixedNow.Add(5*time.Minute + 20*time.Second)) // answered, and listened to
		if _, body := fake.Callback(t, gather, url.Values{"Digits": {"5"}}); !strings.Contains(body, "Escalated to the next level.") {
			t.Fatalf("the first 5: %s", body)
		}
		h.runUntil(fixedNow.Add(5*time.Minute + 25*time.Second))
		if _, body := fake.Callback(t, gather, url.Values{"Digits": {"5"}}); !strings.Contains(body, "already escalated to level 1 (primary) by Dan") {
			t.Fatalf("the second 5: %s", body)
		}
		h.runUntil(fixedNow.Add(5*time.Minute + 30*time.Second))
		if n := pushes(h, "dan"); n != 2 {
			t.Fatalf("dan got %d pushes, want 2 (the page and the one escalation): %s", n, strings.Join(h.rec.lines(fixedNow), "; "))
		}
	})
}

// pushes counts the push pages the recorder saw for user.
func pushes(h *harness, user string) int {
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	n := 0
	for _, m := range h.rec.msgs {
		if m.User == user && m.Channel == "push" {
			n++
		}
	}
	return n
}

// TestSMSReplyEscalateFromALevelPagedAtOnceEscalates: a rule pages the
// third level (dan) at once, besides the ladder's first (bob). Dan's "5"
// names a level the incident never climbed to; it was refused as "already
// escalated to level 1" and the escalation dan asked for was lost. It
// escalates the incident from where it stands. Sent again it escalates
// again, up to dan's own level: the incident cannot tell the same 5 from
// one after the ladder moved on by itself, and a lost escalation is worse
// (TestEngineEscalateFromALevelPagedAtOnceAfterTheLadderMoved).
func TestSMSReplyEscalateFromALevelPagedAtOnceEscalates(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			cfg := strings.NewReplacer(
				"tiers: [{name: primary, start: 2025-01-06, members: [dan]}]", "tiers: [{name: primary, start: 2025-01-06, members: [bob]}]",
				"{name: secondary, targets: [{user: bob}]", "{name: secondary, targets: [{user: cat}]",
				"{name: tertiary, targets: [{user: cat}]", "{name: tertiary, targets: [{user: dan}]",
				"    escalation_policy: p\n", "    escalation_policy: p\n    rules: [{name: breach, matchers: ['severity=\"critical\"'], priority: P0, page_immediately: [tertiary]}]\n",
			).Replace(twilioLadderConfig)
			h := newHarness(t, withConfig(twilioAt(fake, cfg)), realTransport("twilio"), withStore(st(t)))
			id := fire(h)
			h.runUntil(fixedNow.Add(2 * time.Minute))
			if len(fake.Messages()) != 1 {
				t.Fatalf("Twilio got %d SMS, want dan's one (%s)", len(fake.Messages()), strings.Join(h.rec.lines(fixedNow), "; "))
			}
			if v := h.incident(id); v.LevelName != "primary" {
				t.Fatalf("before dan's 5: level %d (%s), want primary", v.Level, v.LevelName)
			}
			form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {"5"}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
			h.clock.Set(fixedNow.Add(150 * time.Second))
			if _, out := fake.Callback(t, h.url+twilio.SMSPath, form); !strings.Contains(out, "pagerd: Escalated [P0] api") {
				t.Fatalf("dan's 5: %s", out)
			}
			h.runUntil(fixedNow.Add(3 * time.Minute))
			if v := h.incident(id); v.LevelName != "secondary" {
				t.Fatalf("after dan's 5: level %d (%s), want secondary", v.Level, v.LevelName)
			}
			form.Set("MessageSid", providertest.ReplySID()) // sent again: another message
			if _, out := fake.Callback(t, h.url+twilio.SMSPath, form); !strings.Contains(out, "pagerd: Escalated [P0] api") {
				t.Fatalf("dan's 5 again: %s", out)
			}
			h.runUntil(fixedNow.Add(10 * time.Minute))
			if v := h.incident(id); v.LevelName != "tertiary" {
				t.Fatalf("after two 5s: level %d (%s), want tertiary", v.Level, v.LevelName)
			}
			if n := pagedUsers(h); n["cat"] != 1 || n["dan"] != 2 {
				t.Fatalf("pages after two 5s: %v (%s), want cat once and dan twice (at once, then at his level)", n, strings.Join(h.rec.lines(fixedNow), "; "))
			}
		})
	}
}

// gatherURL is where Twilio posts the keys pressed on the n-th call placed:
// the gather path with the call's own query (incident, person, level).
func gatherURL(h *harness, fake *providertest.Twilio, n int) string {
	return h.url + twilio.GatherPath + "?" + strings.SplitN(fake.Calls()[n].Get("Url"), "?", 2)[1]
}

// TestTwilioLateAnswerSaysMayHaveBeenSent: Twilio creates the SMS and
// answers after notifiers.twilio.timeout. The daemon sent it 3 times (its
// retries) and recorded a plain failure; it sends it once, and the
// timeline says the page may have been sent.
func TestTwilioLateAnswerSaysMayHaveBeenSent(t *testing.T) {
	fake := providertest.NewTwilio(t)
	late := providertest.LateAnswers(t, fake)
	cfg := strings.Replace(twilioConfig, `from: "`+twFrom+`"}`, `from: "`+twFrom+`", api_url: `+late.URL+`, timeout: 100ms}`, 1) +
		"server: {public_url: " + harnessURL + "}\n"
	h := newHarness(t, withConfig(cfg), realTransport("twilio"), fastRetries())
	id := fire(h)
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if n := len(fake.Messages()); n != 1 {
		t.Errorf("one page, %d SMS", n)
	}
	h.recordedMaybeSent(id, "sms", "via twilio: may have been sent: twilio: ")
}

// recordedMaybeSent checks that the incident's page on channel is in its
// timeline, each time as notify_failed with a detail that starts with
// prefix (the transport's "may have been sent").
func (h *harness) recordedMaybeSent(id, channel, prefix string) {
	h.t.Helper()
	var found bool
	for _, e := range h.incident(id).Timeline {
		if e.Channel == channel {
			found = true
			if e.Type != "notify_failed" || !strings.HasPrefix(e.Detail, prefix) {
				h.t.Errorf("the %s page is recorded %s %q", channel, e.Type, e.Detail)
			}
		}
	}
	if !found {
		h.t.Errorf("the %s page is not in the timeline", channel)
	}
}

// TestVoicemailPickupBringsTheNextStepForward: a ladder that calls first
// and pushes 5 minutes later. A call Twilio reports no-answer brings the
// push to now; so does a call a voicemail picked up (pagerd hangs up on
// it: the person was not reached), which left the push at 5m, and its
// final status, "completed", does not put it back.
func TestVoicemailPickupBringsTheNextStepForward(t *testing.T) {
	cfgText := strings.Replace(twilioConfig, `{channel: voice, via: log}]}`,
		`{channel: voice, via: twilio, address: "+15555550111"}], notification_rules: {high: [{after: 0s, channel: voice}, {after: 5m, channel: push}]}}`, 1)
	for _, how := range []string{"no-answer", "voicemail"} {
		t.Run(how, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			h := newHarness(t, withConfig(twilioAt(fake, cfgText)), realTransport("twilio"))
			id := fire(h)
			h.runUntil(fixedNow.Add(time.Minute))
			if len(fake.Calls()) != 1 {
				t.Fatalf("%d calls", len(fake.Calls()))
			}
			call := fake.Calls()[0]
			if how == "voicemail" {
				if code, _ := fake.Callback(t, call.Get("Url"), url.Values{"CallSid": {"CA1"}, "AnsweredBy": {"machine_end_beep"}}); code != 200 {
					t.Fatal(code)
				}
			}
			status := map[string]string{"no-answer": "no-answer", "voicemail": "completed"}[how]
			if code, body := fake.Callback(t, call.Get("StatusCallback"), url.Values{"CallSid": {"CA1"}, "CallStatus": {status}, "AccountSid": {twSID}}); code != 204 {
				t.Fatalf("status: %d %s", code, body)
			}
			if v := h.incident(id); v.NextStepAt == nil || !v.NextStepAt.Equal(fixedNow.Add(time.Minute)) {
				t.Errorf("%s: the person was not reached, the next step is at %v, not now (1m)", how, v.NextStepAt)
			}
		})
	}
}

// TestBareReplyToAResolvedPageActsOnNothing: dan is paged for A, then for
// B; Alertmanager resolves B, and dan replies "4" to B's SMS, the latest
// on his phone. The reply acknowledged A, which he may never have looked
// at (its call and escalation stopped): the latest page among open
// incidents was A's. Now nothing is done, and the answer says B was
// resolved and how to act on A.
func TestBareReplyToAResolvedPageActsOnNothing(t *testing.T) {
	fake := providertest.NewTwilio(t)
	h := newHarness(t, withConfig(twilioAt(fake, twilioConfig)), realTransport("twilio"))
	a := fire(h)
	h.runUntil(fixedNow.Add(2 * time.Minute))
	h.clock.Set(fixedNow.Add(3 * time.Minute))
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "second", map[string]string{"alertname": "B", "severity": "critical"}),
		"Authorization", "Bearer "+amKey)
	var res struct{ Incidents []string }
	r.json(t, &res)
	b := res.Incidents[0]
	h.runUntil(fixedNow.Add(5 * time.Minute))
	if r := h.do("POST", "/api/v1/alertmanager", amPayload("resolved", "second", map[string]string{"alertname": "B", "severity": "critical"}),
		"Authorization", "Bearer "+amKey); r.code != 200 {
		t.Fatalf("resolve B: %d %s", r.code, r.body)
	}
	form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {"4"}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
	_, out := fake.Callback(t, h.url+twilio.SMSPath, form)
	if v := h.incident(a); v.Status != "triggered" {
		t.Fatalf("a bare 4 answering B's page (B resolved since) left A %s; reply %q", v.Status, out)
	}
	if !strings.Contains(out, "already resolved") || !strings.Contains(out, twilio.ReplyCode(b)) || !strings.Contains(out, twilio.ReplyCode(a)) {
		t.Fatalf("reply %q: want it to say B (%s) was resolved, and how to act on A (%s)", out, twilio.ReplyCode(b), twilio.ReplyCode(a))
	}
}

// TestBareReplyToALongRunningResolvedPageActsOnNothing: B opened a day
// and more ago; dan acknowledged it, and its unresolved rule pages him
// again after 26 h (Eve acknowledged it), after A (opened at 25 h) paged him. Alertmanager
// resolves B and dan replies "4" to B's SMS, the latest on his phone.
// The check for "your latest page was resolved" listed the resolved
// incidents created in the last day: B, created 26 h before, was not
// among them, and the reply acknowledged A, which dan thought was the
// incident he had just been paged for. Nothing is done, and the answer
// says B was resolved, as it does for an incident created the same day;
// with nothing open, it still names B as the latest page, resolved.
func TestBareReplyToALongRunningResolvedPageActsOnNothing(t *testing.T) {
	for name, st := range map[string]func(t *testing.T) store.Store{
		"embedded": func(t *testing.T) store.Store { return boltStore(t) },
		"redis":    func(t *testing.T) store.Store { st, _ := redisStore(t); return st },
	} {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			cfg := strings.Replace(twilioConfig, "    levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]\n",
				"    levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]\n"+
					"    unresolved: [{priorities: [P0], after: 26h, notify: [{user: dan}]}]\n", 1)
			cfg = strings.Replace(cfg, "users:\n", "users:\n  - {id: eve, name: Eve, contacts: [{channel: push, via: log}]}\n", 1)
			h := newHarness(t, withConfig(twilioAt(fake, cfg)), realTransport("twilio"), withStore(st(t)))
			b := fireLabels(h, "second", map[string]string{"alertname": "B", "severity": "critical"})
			h.runUntil(fixedNow.Add(2 * time.Minute))
			if r := h.api("POST", "/api/v1/incidents/"+b+"/acknowledge", `{"user":"eve"}`); r.code != 200 {
				t.Fatalf("acknowledge B: %d %s", r.code, r.body)
			}
			h.runUntil(fixedNow.Add(25 * time.Hour))
			a := fireLabels(h, "g1", map[string]string{"alertname": "A", "severity": "critical"})
			h.runUntil(fixedNow.Add(25*time.Hour + 2*time.Minute))
			sent := len(fake.Messages())
			h.runUntil(fixedNow.Add(26*time.Hour + 3*time.Minute))
			if len(fake.Messages()) == sent {
				t.Fatalf("B's unresolved rule sent dan no SMS after A's (%d messages)", sent)
			}
			if r := h.do("POST", "/api/v1/alertmanager", amPayload("resolved", "second", map[string]string{"alertname": "B", "severity": "critical"}),
				"Authorization", "Bearer "+amKey); r.code != 200 {
				t.Fatalf("resolve B: %d %s", r.code, r.body)
			}
			if v := h.incident(b); v.Status != "resolved" {
				t.Fatalf("B is %s, want resolved", v.Status)
			}
			form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {"4"}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
			_, out := fake.Callback(t, h.url+twilio.SMSPath, form)
			if v := h.incident(a); v.Status != "triggered" {
				t.Fatalf("a bare 4 answering B's page (B, opened 26 h ago, resolved since) left A %s; reply %q", v.Status, out)
			}
			if !strings.Contains(out, "already resolved") || !strings.Contains(out, twilio.ReplyCode(b)) || !strings.Contains(out, twilio.ReplyCode(a)) {
				t.Fatalf("reply %q: want it to say B (%s) was resolved, and how to act on A (%s)", out, twilio.ReplyCode(b), twilio.ReplyCode(a))
			}
			// Nothing open: the answer still names B, the latest page.
			if r := h.api("POST", "/api/v1/incidents/"+a+"/resolve", `{"user":"dan"}`); r.code != 200 {
				t.Fatalf("resolve A: %d %s", r.code, r.body)
			}
			form.Set("MessageSid", providertest.ReplySID())
			if _, out := fake.Callback(t, h.url+twilio.SMSPath, form); !strings.Contains(out, "your latest page") || !strings.Contains(out, twilio.ReplyCode(b)) {
				t.Fatalf("reply %q with nothing open: want it to name B (%s), the latest page, resolved", out, twilio.ReplyCode(b))
			}
		})
	}
}

// TestUndeliveredPageIsCountedAndLogged: Twilio takes an SMS (201), so
// pagerd_pages_total counts it sent, and reports later that it never
// arrived (30034: a US number not registered for A2P 10DLC, whose every
// SMS is blocked so). Only the incident's timeline said so: the page
// failure alerts watch pagerd_pages_total, the provider check passes and
// nothing was logged, so SMS paging could be dead for everyone unseen. A
// report that a page did not arrive is counted and logged at warn; one
// that it did is counted too, for the ratio.
func TestUndeliveredPageIsCountedAndLogged(t *testing.T) {
	fake := providertest.NewTwilio(t)
	h := newHarness(t, withConfig(twilioAt(fake, twilioConfig)), realTransport("twilio"))
	id := fire(h)
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if len(fake.Messages()) != 1 {
		t.Fatalf("Twilio got %d messages", len(fake.Messages()))
	}
	if v := metric(t, h.reg, "pagerd_pages_total", "channel", "sms", "result", "sent"); v != 1 {
		t.Fatalf("pagerd_pages_total{channel=sms,result=sent} = %v, want 1", v)
	}
	cb := fake.Messages()[0].Get("StatusCallback")
	report := func(status, code string) {
		form := url.Values{"MessageSid": {providertest.MessageSID(0)}, "MessageStatus": {status}, "AccountSid": {twSID}}
		if code != "" {
			form.Set("ErrorCode", code)
		}
		if code, body := fake.Callback(t, cb, form); code != 204 {
			t.Fatalf("report %s: %d %s", status, code, body)
		}
	}
	report("undelivered", "30034")
	if v := metric(t, h.reg, "pagerd_delivery_reports_total", "channel", "sms", "result", "failed"); v != 1 {
		t.Errorf("pagerd_delivery_reports_total{channel=sms,result=failed} = %v, want 1", v)
	}
	if got := h.logLines("WARN", id, "undelivered (Twilio error 30034)"); len(got) != 1 {
		t.Errorf("the undelivered page was logged %d times at warn, want once:\n%s", len(got), h.logs.String())
	}
	report("delivered", "")
	if v := metric(t, h.reg, "pagerd_delivery_reports_total", "channel", "sms", "result", "delivered"); v != 1 {
		t.Errorf("pagerd_delivery_reports_total{channel=sms,result=delivered} = %v, want 1", v)
	}
}

// TestVoicemailCallIsNotCountedDelivered: a call a voicemail picked up is
// counted failed when it picks up; Twilio's report that the call then
// completed (AnsweredBy still says the machine) is not a page delivered.
func TestVoicemailCallIsNotCountedDelivered(t *testing.T) {
	fake := providertest.NewTwilio(t)
	cfgText := strings.Replace(twilioConfig, `{channel: voice, via: log}`, `{channel: voice, via: twilio, address: "+15555550111"}`, 1)
	h := newHarness(t, withConfig(twilioAt(fake, cfgText)), realTransport("twilio"))
	fire(h)
	h.runUntil(fixedNow.Add(5 * time.Minute))
	if len(fake.Calls()) != 1 {
		t.Fatalf("%d calls placed", len(fake.Calls()))
	}
	call := fake.Calls()[0]
	if code, body := fake.Callback(t, call.Get("Url"), url.Values{"CallSid": {"CA1"}, "AnsweredBy": {"machine_start"}}); code != 200 {
		t.Fatalf("voicemail: %d %s", code, body)
	}
	if code, body := fake.Callback(t, call.Get("StatusCallback"),
		url.Values{"CallSid": {"CA1"}, "CallStatus": {"completed"}, "AnsweredBy": {"machine_start"}, "AccountSid": {twSID}}); code != 204 {
		t.Fatalf("status: %d %s", code, body)
	}
	if v := metric(t, h.reg, "pagerd_delivery_reports_total", "channel", "voice", "result", "failed"); v != 1 {
		t.Errorf("pagerd_delivery_reports_total{channel=voice,result=failed} = %v, want 1", v)
	}
	if v := metric(t, h.reg, "pagerd_delivery_reports_total", "channel", "voice", "result", "delivered"); v != 0 {
		t.Errorf("pagerd_delivery_reports_total{channel=voice,result=delivered} = %v, want 0: the voicemail's call counted delivered", v)
	}
}

// TestBareReplyPassesOverAPageReportedUndelivered: Dan's SMS for A
// arrived; the one for B, later, was reported undelivered (carrier
// filtering). His bare "4" answers the only page he has, A's. (Before: it
// acknowledged B, the latest page sent, which Dan never saw, and B's
// escalation stopped while A went on paging.)
func TestBareReplyPassesOverAPageReportedUndelivered(t *testing.T) {
	h, fake, a, b := secondSMSUndelivered(t, "30007")
	form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {"4"}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
	_, out := fake.Callback(t, h.url+twilio.SMSPath, form)
	if v := h.incident(b); v.Status != "triggered" {
		t.Fatalf("a bare 4 acknowledged B, whose SMS was reported undelivered: B %s; reply %q", v.Status, out)
	}
	if v := h.incident(a); v.Status != "acknowledged" || !strings.Contains(out, twilio.ReplyCode(a)) {
		t.Fatalf("a bare 4 left A, the page Dan got, %s; reply %q", v.Status, out)
	}
}

// secondSMSUndelivered: Dan is paged by SMS for A at 2m, and for B (fired
// at 3m) at 5m; Twilio reports B's SMS undelivered with the error code.
func secondSMSUndelivered(t *testing.T, code string) (h *harness, fake *providertest.Twilio, a, b string) {
	t.Helper()
	fake = providertest.NewTwilio(t)
	h = newHarness(t, withConfig(twilioAt(fake, twilioConfig)), realTransport("twilio"))
	a = fire(h)
	h.runUntil(fixedNow.Add(2 * time.Minute))
	h.clock.Set(fixedNow.Add(3 * time.Minute))
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "second", map[string]string{"alertname": "B", "severity": "critical"}),
		"Authorization", "Bearer "+amKey)
	var res struct{ Incidents []string }
	r.json(t, &res)
	b = res.Incidents[0]
	h.runUntil(fixedNow.Add(5 * time.Minute))
	ms := fake.Messages()
	if len(ms) != 2 {
		t.Fatalf("Twilio got %d messages, want A's and B's", len(ms))
	}
	report := url.Values{"MessageSid": {providertest.MessageSID(1)}, "MessageStatus": {"undelivered"}, "ErrorCode": {code}, "AccountSid": {twSID}}
	if code, body := fake.Callback(t, ms[1].Get("StatusCallback"), report); code != 204 {
		t.Fatalf("report: %d %s", code, body)
	}
	return h, fake, a, b
}

// TestCodedReplyActsOnAPageReportedUndelivered: Dan's SMS for B was
// reported undelivered (the phone was off); he learns of B otherwise (its
// call, the console) and acknowledges by SMS with B's code: the code names B, which
// was paged to his number, and B is acknowledged. (Before: a page
// reported undelivered was passed over for a reply with a code too; Dan
// was told no open incident with that code was paged to his number,
// nothing was acknowledged, and B went on paging and escalating.)
func TestCodedReplyActsOnAPageReportedUndelivered(t *testing.T) {
	h, fake, a, b := secondSMSUndelivered(t, "30003")
	form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {"4 " + twilio.ReplyCode(b)}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
	_, out := fake.Callback(t, h.url+twilio.SMSPath, form)
	if v := h.incident(b); v.Status != "acknowledged" || !strings.Contains(out, twilio.ReplyCode(b)) {
		t.Fatalf("a 4 with B's code left B %s; reply %q", v.Status, out)
	}
	if v := h.incident(a); v.Status != "triggered" {
		t.Fatalf("a 4 with B's code acknowledged A: %s", v.Status)
	}
}

// TestLateUndeliveredReportMarksTheSMSItIsAbout: Dan is paged by SMS for A
// at 2m (level 1), for B at 3m, and for A again at 5m (A's level 2 pages
// him too). At 5m Twilio reports A's first SMS undelivered: the report is
// about the 2m SMS, and the 5m one, which Dan got, is A's latest page. His
// bare "4" answers it and acknowledges A. (Before: the report marked the
// latest SMS to Dan for A before it arrived, the 5m one, so a bare "4"
// passed over A and acknowledged B, which Dan had not looked at, and B's
// paging stopped while A, the page in his hand, went on.) The report finds
// the 2m SMS by its SID also when its callback URL's at is missing or
// names the 5m SMS (before: it marked the 5m SMS then, as above).
func TestLateUndeliveredReportMarksTheSMSItIsAbout(t *testing.T) {
	for _, at := range []string{"kept", "wrong", "missing"} {
		t.Run(at, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			cfg := strings.Replace(twilioConfig, "levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]",
				"levels: [{name: primary, targets: [{user: dan}], timeout: 3m}, {name: again, targets: [{user: dan}], timeout: 15m}]", 1)
			h := newHarness(t, withConfig(twilioAt(fake, cfg)), realTransport("twilio"))
			a := fire(h)
			h.clock.Set(fixedNow.Add(time.Minute))
			r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "second", map[string]string{"alertname": "B", "severity": "critical"}),
				"Authorization", "Bearer "+amKey)
			var res struct{ Incidents []string }
			r.json(t, &res)
			b := res.Incidents[0]
			h.runUntil(fixedNow.Add(5 * time.Minute))
			ms := fake.Messages()
			var first, second *url.URL
			firstSID := ""
			for i, m := range ms {
				cb, err := url.Parse(m.Get("StatusCallback"))
				if err != nil {
					t.Fatal(err)
				}
				if cb.Query().Get("incident") != a {
					continue
				}
				if first == nil {
					first, firstSID = cb, providertest.MessageSID(i)
				} else {
					second = cb
				}
			}
			if len(ms) != 3 || first == nil || second == nil {
				t.Fatalf("Twilio got %d messages, want A's, B's and A's again: %v", len(ms), ms)
			}
			q := first.Query()
			switch at {
			case "wrong":
				q.Set("at", second.Query().Get("at"))
			case "missing":
				q.Del("at")
			}
			first.RawQuery = q.Encode()
			report := url.Values{"MessageSid": {firstSID}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}}
			if code, body := fake.Callback(t, first.String(), report); code != 204 {
				t.Fatalf("report: %d %s", code, body)
			}
			form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {"4"}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
			_, out := fake.Callback(t, h.url+twilio.SMSPath, form)
			if v := h.incident(b); v.Status != "triggered" {
				t.Fatalf("a bare 4 acknowledged B, though Dan's latest SMS was A's: B %s; reply %q", v.Status, out)
			}
			if v := h.incident(a); v.Status != "acknowledged" || !strings.Contains(out, twilio.ReplyCode(a)) {
				t.Fatalf("a bare 4 left A, whose second SMS Dan got, %s; reply %q", v.Status, out)
			}
			if v := metric(t, h.reg, "pagerd_delivery_reports_total", "channel", "sms", "result", "failed"); v != 1 {
				t.Errorf("pagerd_delivery_reports_total{channel=sms,result=failed} = %v, want 1", v)
			}
		})
	}
}

// TestSMSReplyFromASharedNumberAnswersItsLatestPage: one person in two
// roles, one phone: dan at the first level and bob at the second share a
// number. The 5 that comes after bob's SMS of the second level answers
// that SMS, the phone's latest: it escalates from the second level, as
// bob, and pages the third (cat). Taken as dan's (first in the config),
// it answered the first level's SMS of half an hour before, was told
// "already escalated to level 2" and paged nobody.
func TestSMSReplyFromASharedNumberAnswersItsLatestPage(t *testing.T) {
	fake := providertest.NewTwilio(t)
	cfgText := strings.Replace(twilioLadderConfig, `{id: bob, name: Bob, contacts: [{channel: push, via: log}]}`,
		`{id: bob, name: Bob, contacts: [{channel: push, via: log}, {channel: sms, via: twilio, address: "+15555550111"}]}`, 1)
	h := newHarness(t, withConfig(twilioAt(fake, cfgText)), realTransport("twilio"))
	id := fire(h)
	h.runUntil(fixedNow.Add(33 * time.Minute))
	if n := len(fake.Messages()); n != 2 {
		t.Fatalf("Twilio got %d SMS, want dan's of the first level and bob's of the second", n)
	}
	form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {"5"}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
	if _, out := fake.Callback(t, h.url+twilio.SMSPath, form); !strings.Contains(out, "pagerd: Escalated [P0] api") {
		t.Fatalf("a 5 after the second level's SMS: %s", out)
	}
	h.runUntil(fixedNow.Add(34 * time.Minute))
	if v := h.incident(id); v.LevelName != "tertiary" {
		t.Fatalf("after the 5: level %d (%s), want tertiary", v.Level, v.LevelName)
	}
	if n := pagedUsers(h); n["cat"] == 0 {
		t.Fatalf("cat was not paged: %s", strings.Join(h.rec.lines(fixedNow), "; "))
	}
	var v incidentView
	h.api("GET", "/api/v1/incidents/"+id, "").json(t, &v)
	for i := len(v.Timeline) - 1; i >= 0; i-- {
		if e := v.Timeline[i]; e.Type == "escalate" {
			if e.Actor != "bob" {
				t.Fatalf("escalated by %q, want bob, whose SMS it answered", e.Actor)
			}
			break
		}
	}
}
