package gateway

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/notify"
)

const (
	twSID   = "AC00000000000000000000000000000001"
	twToken = "0123456789abcdef0123456789abcdef"
	twFrom  = "+15555550000"
)

// fakeTwilio is Twilio's Messages API as twilio-go sees it: basic auth with
// the account SID and token, form-encoded parameters, 201 with the message
// as JSON, and Twilio's JSON errors (401, 400, 500).
type fakeTwilio struct {
	mu        sync.Mutex
	sent      []url.Values
	calls     []url.Values
	failFirst int
}

func (f *fakeTwilio) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	fail := func(code, twCode int, msg string) {
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{"code": twCode, "message": msg, "more_info": "https://www.twilio.com/docs/errors", "status": code})
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != twSID || pass != twToken {
		fail(401, 20003, "Authenticate")
		return
	}
	isCall := r.URL.Path == "/2010-04-01/Accounts/"+twSID+"/Calls.json"
	if r.Method != http.MethodPost || (r.URL.Path != "/2010-04-01/Accounts/"+twSID+"/Messages.json" && !isCall) {
		fail(404, 20404, "The requested resource was not found")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		fail(400, 21600, "expected a form, got "+ct)
		return
	}
	if err := r.ParseForm(); err != nil {
		fail(400, 21600, err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failFirst > 0 {
		f.failFirst--
		fail(500, 20500, "Internal Server Error")
		return
	}
	if !strings.HasPrefix(r.PostForm.Get("To"), "+") {
		fail(400, 21211, "Invalid 'To' Phone Number")
		return
	}
	if isCall {
		if r.PostForm.Get("Url") == "" {
			fail(400, 21205, "Url parameter is required")
			return
		}
		f.calls = append(f.calls, r.PostForm)
		w.WriteHeader(201)
		_ = json.NewEncoder(w).Encode(map[string]any{"sid": fmt.Sprintf("CA%032d", len(f.calls)), "status": "queued"})
		return
	}
	f.sent = append(f.sent, r.PostForm)
	w.WriteHeader(201)
	_ = json.NewEncoder(w).Encode(map[string]any{"sid": fmt.Sprintf("SM%032d", len(f.sent)), "status": "queued",
		"to": r.PostForm.Get("To"), "from": r.PostForm.Get("From"), "body": r.PostForm.Get("Body")})
}

// twilioSign is Twilio's signature: base64 HMAC-SHA1 over the URL followed
// by the POST parameters sorted by name, each name then value.
func twilioSign(token, u string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := u
	for _, k := range keys {
		s += k + form.Get(k)
	}
	m := hmac.New(sha1.New, []byte(token))
	m.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

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

// TestTwilioSMSAndStatusCallback: the SMS goes through twilio-go to a fake
// Twilio REST API (two 500s first, then it recovers and the retry gets
// through), and Twilio's signed delivery report lands in the timeline; a
// forged one is refused.
func TestTwilioSMSAndStatusCallback(t *testing.T) {
	fake := &fakeTwilio{failFirst: 2}
	tw := httptest.NewServer(fake)
	defer tw.Close()
	h := newDispatchHarness(t, boltStore(t), twilioConfig, fixedNow, 1)
	// The public URL is the test server's, known only now.
	if err := os.WriteFile(h.cfg, []byte(twilioConfig+"server: {public_url: "+h.http.URL+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	sms, err := notify.NewTwilio(twSID, twToken, twFrom, tw.URL, h.http.URL+"/api/v1/twilio", tw.Client(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	h.disp[0].o.Notifiers["twilio"] = notify.Chain(sms, notify.ChainOptions{Attempts: 3, RetryBase: 10 * time.Millisecond})
	id := fire(h)
	h.runUntil(fixedNow.Add(2 * time.Minute))

	fake.mu.Lock()
	if len(fake.sent) != 1 {
		fake.mu.Unlock()
		t.Fatalf("Twilio got %d messages", len(fake.sent))
	}
	msg := fake.sent[0]
	fake.mu.Unlock()
	if msg.Get("To") != "+15555550111" || msg.Get("From") != twFrom || !strings.Contains(msg.Get("Body"), "[P0] api: disk almost full") {
		t.Fatalf("message sent: %v", msg)
	}
	cb, err := url.Parse(msg.Get("StatusCallback"))
	if err != nil || cb.Query().Get("incident") != id || cb.Query().Get("user") != "dan" {
		t.Fatalf("status callback %q", msg.Get("StatusCallback"))
	}

	report := url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}}
	send := func(sig string) int {
		req, _ := http.NewRequest("POST", h.http.URL+cb.RequestURI(), strings.NewReader(report.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if sig != "" {
			req.Header.Set("X-Twilio-Signature", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	full := h.http.URL + cb.RequestURI()
	if code := send(twilioSign("wrong-token", full, report)); code != 403 {
		t.Fatalf("forged signature: %d", code)
	}
	if code := send(""); code != 403 {
		t.Fatalf("no signature: %d", code)
	}
	if code := send(twilioSign(twToken, full, report)); code != 204 {
		t.Fatalf("signed report: %d", code)
	}
	var v incidentView
	h.api("GET", "/api/v1/incidents/"+id, "").json(t, &v)
	last := v.Timeline[len(v.Timeline)-1]
	if last.Type != "delivery" || last.User != "dan" || last.Channel != "sms" || last.Detail != "undelivered (Twilio error 30003)" {
		t.Fatalf("timeline ends with %+v", last)
	}
	// The SMS did not arrive: the next step is due now, not at 5m.
	if v.NextStepAt == nil || !v.NextStepAt.Equal(fixedNow.Add(2*time.Minute)) {
		t.Fatalf("next step at %v, want now (2m)", v.NextStepAt)
	}
}

// TestTwilioRefusalIsNotRetried: a number Twilio refuses (400) fails at once.
func TestTwilioRefusalIsNotRetried(t *testing.T) {
	fake := &fakeTwilio{}
	tw := httptest.NewServer(fake)
	defer tw.Close()
	sms, err := notify.NewTwilio(twSID, twToken, twFrom, tw.URL, "", tw.Client(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	err = sms.Notify(t.Context(), notify.Message{Channel: "sms", Address: "5551234", Text: "x"})
	if err == nil || notify.IsTemporary(err) || !strings.Contains(err.Error(), "21211") {
		t.Fatalf("temporary %v err %v", notify.IsTemporary(err), err)
	}
	bad, _ := notify.NewTwilio(twSID, "wrong", twFrom, tw.URL, "", tw.Client(), time.Second)
	if err := bad.Notify(t.Context(), notify.Message{Channel: "sms", Address: "+15555550111", Text: "x"}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong credentials: %v", err)
	}
}

// TestSMSReplies: a paged person acts by replying to the SMS, alone (the
// latest incident paged to them) or with its code; other numbers, unknown
// words and forged requests get nowhere.
func TestSMSReplies(t *testing.T) {
	fake := &fakeTwilio{}
	tw := httptest.NewServer(fake)
	defer tw.Close()
	h := newDispatchHarness(t, boltStore(t), twilioConfig, fixedNow, 1)
	if err := os.WriteFile(h.cfg, []byte(twilioConfig+"server: {public_url: "+h.http.URL+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	sms, _ := notify.NewTwilio(twSID, twToken, twFrom, tw.URL, "", tw.Client(), time.Second)
	h.disp[0].o.Notifiers["twilio"] = sms
	first := fire(h)
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "second", map[string]string{"alertname": "B", "severity": "critical"}),
		"Authorization", "Bearer "+amKey)
	var res struct{ Incidents []string }
	r.json(t, &res)
	second := res.Incidents[0]
	h.runUntil(fixedNow.Add(2 * time.Minute))
	fake.mu.Lock()
	if len(fake.sent) != 2 || !strings.Contains(fake.sent[0].Get("Body"), "Reply 4 to ack") {
		t.Fatalf("sent %v", fake.sent)
	}
	fake.mu.Unlock()

	text := func(from, body, sig string) (int, string) {
		form := url.Values{"From": {from}, "To": {twFrom}, "Body": {body}, "MessageSid": {"SMx"}, "AccountSid": {twSID}}
		u := h.http.URL + "/api/v1/twilio/sms"
		if sig == "" {
			sig = twilioSign(twToken, u, form)
		}
		req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		return resp.StatusCode, b.String()
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
	code, body := text("+15555550111", "ack "+strings.ToLower(notify.ReplyCode(first)), "")
	if code != 200 || !strings.Contains(body, "<Response><Message>pagerd: Acknowledged [P0] api") {
		t.Fatalf("ack by code: %d %s", code, body)
	}
	if st, by := status(first); st != "acknowledged" || by != "dan" {
		t.Fatalf("first: %s by %s", st, by)
	}
	if st, _ := status(second); st != "triggered" {
		t.Fatalf("the other incident changed: %s", st)
	}
	if _, body := text("+15555550111", "4 "+notify.ReplyCode(first), ""); !strings.Contains(body, "already acknowledged by dan") {
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
	if _, body := text("+15555550111", "6", ""); !strings.Contains(body, "Resolved") {
		t.Fatalf("resolve the latest: %s", body)
	}
}

// TestVoiceCallWithKeypress: the call step places a call with answering
// machine detection; answered by a person, it says the incident and gathers
// a key; 4 acknowledges as the person called and says so; a voicemail
// pickup is recorded and is not an acknowledgement.
func TestVoiceCallWithKeypress(t *testing.T) {
	fake := &fakeTwilio{}
	tw := httptest.NewServer(fake)
	defer tw.Close()
	cfgText := strings.Replace(twilioConfig, `{channel: voice, via: log}`, `{channel: voice, via: twilio, address: "+15555550111"}`, 1)
	// A voice contact needs a public URL (Twilio fetches the call's script
	// from it): a placeholder until the test server's URL is known.
	h := newDispatchHarness(t, boltStore(t), cfgText+"server: {public_url: http://pagerd.invalid}\n", fixedNow, 1)
	if err := os.WriteFile(h.cfg, []byte(cfgText+"server: {public_url: "+h.http.URL+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	tr, _ := notify.NewTwilio(twSID, twToken, twFrom, tw.URL, h.http.URL+"/api/v1/twilio", tw.Client(), time.Second)
	h.disp[0].o.Notifiers["twilio"] = tr
	id := fire(h)
	h.runUntil(fixedNow.Add(5 * time.Minute))
	fake.mu.Lock()
	if len(fake.calls) != 1 {
		fake.mu.Unlock()
		t.Fatalf("%d calls placed", len(fake.calls))
	}
	call := fake.calls[0]
	fake.mu.Unlock()
	if call.Get("To") != "+15555550111" || call.Get("MachineDetection") != "Enable" || !strings.Contains(call.Get("Url"), "/api/v1/twilio/voice?") {
		t.Fatalf("call placed: %v", call)
	}
	twilio := func(u string, form url.Values) (int, string) {
		req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", twilioSign(twToken, u, form))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	state := func() incidentView {
		var v incidentView
		h.api("GET", "/api/v1/incidents/"+id, "").json(t, &v)
		return v
	}

	// A voicemail picks up: recorded, hung up, not acknowledged.
	code, body := twilio(call.Get("Url"), url.Values{"CallSid": {"CA1"}, "AnsweredBy": {"machine_start"}})
	if code != 200 || !strings.Contains(body, "<Hangup") || strings.Contains(body, "<Gather") {
		t.Fatalf("voicemail: %d %s", code, body)
	}
	if v := state(); v.Status != "triggered" || !strings.Contains(v.Timeline[len(v.Timeline)-1].Detail, "voicemail pickup") {
		t.Fatalf("after a voicemail: %s %+v", v.Status, v.Timeline[len(v.Timeline)-1])
	}

	// A person answers: the incident is read out and a key gathered.
	code, body = twilio(call.Get("Url"), url.Values{"CallSid": {"CA1"}, "AnsweredBy": {"human"}})
	if code != 200 || !strings.Contains(body, `<Gather`) || !strings.Contains(body, `numDigits="1"`) ||
		!strings.Contains(body, "P 0 incident on api: disk almost full") || !strings.Contains(body, "Press 4 to acknowledge") {
		t.Fatalf("answered: %d %s", code, body)
	}
	gather := h.http.URL + "/api/v1/twilio/voice/gather?" + strings.SplitN(call.Get("Url"), "?", 2)[1]
	if !strings.Contains(body, strings.ReplaceAll(gather, "&", "&amp;")) {
		t.Fatalf("the gather does not post back to %s: %s", gather, body)
	}
	if _, body := twilio(gather, url.Values{"Digits": {"*"}}); !strings.Contains(body, "<Redirect") {
		t.Fatalf("star: %s", body)
	}
	if _, body := twilio(gather, url.Values{"Digits": {"9"}}); !strings.Contains(body, "does nothing") {
		t.Fatalf("9: %s", body)
	}
	if _, body := twilio(gather, url.Values{"Digits": {"4"}}); !strings.Contains(body, "Acknowledged.") {
		t.Fatalf("4: %s", body)
	}
	if v := state(); v.Status != "acknowledged" || v.AcknowledgedBy != "dan" {
		t.Fatalf("after pressing 4: %s by %s", v.Status, v.AcknowledgedBy)
	}
	if _, body := twilio(gather, url.Values{"Digits": {"4"}}); !strings.Contains(body, "Already acknowledged by dan.") {
		t.Fatalf("4 again: %s", body)
	}
	forged := url.Values{"Digits": {"6"}}
	req, _ := http.NewRequest("POST", gather, strings.NewReader(forged.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twilioSign("not-the-token", gather, forged))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
		t.Fatalf("forged keypress: %v %v", resp, err)
	}
	if v := state(); v.Status != "acknowledged" {
		t.Fatalf("a forged keypress changed the incident: %s", v.Status)
	}
}

// TestProviderSecretsNeverLogged drives every provider path, failures
// included, with a logger that keeps everything, and looks for the secrets.
func TestProviderSecretsNeverLogged(t *testing.T) {
	const pdSecret, linkSecret = "pd-webhook-secret-value-77", "link-secret-value-0123456789"
	fake := &fakeTwilio{failFirst: 100} // Twilio keeps failing: errors get logged
	tw := httptest.NewServer(fake)
	defer tw.Close()
	cfgText := twilioConfig + "  pagerduty: {webhook_secret: " + pdSecret + "}\n"
	h := newDispatchHarness(t, boltStore(t), cfgText, fixedNow, 1)
	if err := os.WriteFile(h.cfg, []byte(cfgText+"server: {public_url: "+h.http.URL+", link_secret: "+linkSecret+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.srv.log = log
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	tr, _ := notify.NewTwilio(twSID, twToken, twFrom, tw.URL, h.http.URL+"/api/v1/twilio", tw.Client(), time.Second)
	h.disp[0].o.Notifiers["twilio"] = notify.Chain(tr, notify.ChainOptions{Attempts: 2, RetryBase: 10 * time.Millisecond})
	h.disp[0].log = log
	id := fire(h)
	h.runUntil(fixedNow.Add(6 * time.Minute))
	bad := url.Values{"MessageStatus": {"failed"}}
	for _, path := range []string{"/api/v1/twilio/status?incident=" + id + "&user=dan&channel=sms", "/api/v1/twilio/sms", "/api/v1/twilio/voice"} {
		req, _ := http.NewRequest("POST", h.http.URL+path, strings.NewReader(bad.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", twilioSign("guess", h.http.URL+path, bad))
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	h.do("POST", "/api/v1/pagerduty/webhook", `{"event":{}}`, "X-PagerDuty-Signature", "v1=00")
	h.do("GET", "/ack/forged.token", "")
	log.Info("config", "cfg", h.srv.Config())
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
