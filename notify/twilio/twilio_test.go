package twilio_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/twilio"
)

// TestTwilioRefusalIsNotRetried: a number Twilio refuses (400) fails at once.
func TestTwilioRefusalIsNotRetried(t *testing.T) {
	fake := providertest.NewTwilio(t)
	sms, err := twilio.New(twilio.Options{AccountSID: providertest.TwilioSID, AuthToken: providertest.TwilioToken,
		From: providertest.TwilioFrom, APIURL: fake.URL})
	if err != nil {
		t.Fatal(err)
	}
	err = sms.Notify(t.Context(), notify.Message{Channel: "sms", Address: "5551234", Text: "x"})
	if err == nil || notify.IsTemporary(err) || !strings.Contains(err.Error(), "21211") {
		t.Fatalf("temporary %v err %v", notify.IsTemporary(err), err)
	}
	bad, _ := twilio.New(twilio.Options{AccountSID: providertest.TwilioSID, AuthToken: "wrong", From: providertest.TwilioFrom, APIURL: fake.URL})
	if err := bad.Notify(t.Context(), notify.Message{Channel: "sms", Address: "+15555550111", Text: "x"}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong credentials: %v", err)
	}
}

// TestTwilioCreatedFailedIsNotSent: Twilio answers 201 but creates the
// SMS with status failed (a number it cannot deliver to). The answer was
// thrown away and the page counted sent; without a status callback (a
// shift notice, no public_url) nothing ever said otherwise. It fails at
// once, final, with Twilio's error code.
func TestTwilioCreatedFailedIsNotSent(t *testing.T) {
	fake := providertest.NewTwilio(t)
	sms, err := twilio.New(twilio.Options{AccountSID: providertest.TwilioSID, AuthToken: providertest.TwilioToken,
		From: providertest.TwilioFrom, APIURL: fake.URL})
	if err != nil {
		t.Fatal(err)
	}
	err = sms.Notify(t.Context(), notify.Message{Channel: "sms", Address: providertest.TwilioFailsAtOnce, Text: "x"})
	if err == nil || notify.IsTemporary(err) || errors.Is(err, notify.ErrMaybeSent) || !strings.Contains(err.Error(), "created failed (error 30006)") {
		t.Fatalf("temporary %v err %v, want a final failure with the error code", notify.IsTemporary(err), err)
	}
}

// TestTwilioLateAnswerIsNotSentAgain: Twilio creates the SMS (or the call)
// but answers after the transport's timeout. The chain the daemon builds
// (3 tries) took the timeout for worth retrying: the person got the SMS 3
// times (3 calls), and the page was said failed. It is sent once, and the
// error says it may have been sent.
func TestTwilioLateAnswerIsNotSentAgain(t *testing.T) {
	for _, ch := range []string{"sms", "voice"} {
		t.Run(ch, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			tw, err := twilio.New(twilio.Options{AccountSID: providertest.TwilioSID, AuthToken: providertest.TwilioToken,
				From: providertest.TwilioFrom, APIURL: providertest.LateAnswers(t, fake).URL, PublicURL: "https://pagerd.example.com", Timeout: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			o := notify.DefaultChainOptions
			o.RetryBase = time.Millisecond
			err = notify.Chain(tw, o).Notify(t.Context(), notify.Message{Incident: "01INC", User: "dan", Channel: ch, Address: "+15555550111", Text: "x", Level: 1})
			if got := len(fake.Messages()) + len(fake.Calls()); got != 1 {
				t.Errorf("one page, %d created at Twilio", got)
			}
			if !errors.Is(err, notify.ErrMaybeSent) || notify.IsTemporary(err) || !strings.HasPrefix(err.Error(), "may have been sent: twilio: ") {
				t.Errorf("temporary %v err %v", notify.IsTemporary(err), err)
			}
		})
	}
}

// TestTwilioUnreachableIsRetried: nothing listens at the API's address:
// no SMS can have been created, so the page is worth trying again.
func TestTwilioUnreachableIsRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	tw, _ := twilio.New(twilio.Options{AccountSID: providertest.TwilioSID, AuthToken: providertest.TwilioToken, From: providertest.TwilioFrom, APIURL: srv.URL})
	err := tw.Notify(t.Context(), notify.Message{Channel: "sms", Address: "+15555550111", Text: "x"})
	if !notify.IsTemporary(err) || errors.Is(err, notify.ErrMaybeSent) {
		t.Fatalf("temporary %v err %v", notify.IsTemporary(err), err)
	}
}

// TestTwilioAnswersOfAProxy: an egress proxy in front of Twilio (api_url)
// answers what Twilio would not. A 503 page of HTML is worth retrying, a
// 502 may come after the proxy passed the request on (may have been
// sent), a JSON 503 without Twilio's status field is still a 503; a
// redirect that would turn the POST into a GET fails the page (followed,
// Twilio's list of messages was taken for the message created).
func TestTwilioAnswersOfAProxy(t *testing.T) {
	fake := providertest.NewTwilio(t)
	for _, c := range []struct {
		name      string
		h         http.HandlerFunc
		temporary bool
		maybe     bool
		want      string
	}{
		{"unavailable", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("<html>unavailable</html>"))
		}, true, false, "twilio: answered 503: "},
		{"unavailable, in JSON", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"message":"upstream unavailable"}`))
		}, true, false, "twilio: 503 upstream unavailable"},
		{"bad gateway", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("<html>bad gateway</html>"))
		}, false, true, "may have been sent: twilio: answered 502: "},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, fake.URL+r.URL.Path, http.StatusMovedPermanently)
		}, false, false, "twilio: answered 301 (redirect to " + fake.URL + "/2010-04-01/Accounts/" + providertest.TwilioSID + "/Messages.json): point notifiers.twilio.api_url at the final URL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(c.h)
			defer srv.Close()
			tw, _ := twilio.New(twilio.Options{AccountSID: providertest.TwilioSID, AuthToken: providertest.TwilioToken, From: providertest.TwilioFrom, APIURL: srv.URL})
			err := tw.Notify(t.Context(), notify.Message{Channel: "sms", Address: "+15555550111", Text: "x"})
			if err == nil || notify.IsTemporary(err) != c.temporary || errors.Is(err, notify.ErrMaybeSent) != c.maybe || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("temporary %v err %v, want %q", notify.IsTemporary(err), err, c.want)
			}
		})
	}
}

// TestLongSMSKeepsItsAckLinkAndReplyCode: a summary of 1,024 characters
// (the intake's cap) in Cyrillic, or in emoji (two UTF-16 units each),
// made the SMS over 1,600 bytes, and the cut at 1,600 bytes took the ack
// link and the reply code with it, and could split a character. Twilio
// counts 1,600 characters (UTF-16 units): the Cyrillic page fits whole,
// and the emoji one's summary is shortened, by whole characters, marked.
func TestLongSMSKeepsItsAckLinkAndReplyCode(t *testing.T) {
	for name, char := range map[string]string{"cyrillic": "ж", "emoji": "😀"} {
		cut := name == "emoji"
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			tw, _ := twilio.New(twilio.Options{AccountSID: providertest.TwilioSID, AuthToken: providertest.TwilioToken,
				From: providertest.TwilioFrom, APIURL: fake.URL})
			summary := strings.Repeat(char, 1024)
			ack := "https://pagerd.example.com/ack/djF8MDFKQUJDREVGR0hKS01OUFFSU1RWV1hZWjB8ZGFufDE3NTc1NzA0NjA.Fs5ZzSNiIScAiBD9KiyTJzPIdLewuPQ4Pe94Uvm1y3E"
			text := "[P0] api: " + summary + " (incident 01JABCDEFGHJKMNPQRSTVWXYZ0) Ack: " + ack
			m := notify.Message{Incident: "01JABCDEFGHJKMNPQRSTVWXYZ0", Channel: "sms", Address: "+15555550111", Summary: summary, AckURL: ack, Text: text}
			if err := tw.Notify(t.Context(), m); err != nil {
				t.Fatal(err)
			}
			body := fake.Messages()[0].Get("Body")
			if n := len(utf16.Encode([]rune(body))); n > twilio.MaxSMS || !utf8.ValidString(body) {
				t.Fatalf("body of %d UTF-16 units, valid UTF-8 %v", n, utf8.ValidString(body))
			}
			if strings.Contains(body, char+"… (incident") != cut || strings.HasPrefix(body, text) == cut {
				t.Errorf("summary shortened %v, want %v", !strings.HasPrefix(body, text), cut)
			}
			if !strings.HasPrefix(body, "[P0] api: "+char) || !strings.HasSuffix(body, " (incident 01JABCDEFGHJKMNPQRSTVWXYZ0) Ack: "+ack+" Reply 4 to ack, 6 to resolve, 5 to escalate (code XYZ0).") {
				t.Fatalf("body lost its ack link or reply code: …%q", body[max(0, len(body)-300):])
			}
		})
	}
}

// TestLongStormSMSKeepsItsAckLink: a storm message carries no one
// summary; too long, it is shortened before its ack link.
func TestLongStormSMSKeepsItsAckLink(t *testing.T) {
	fake := providertest.NewTwilio(t)
	tw, _ := twilio.New(twilio.Options{AccountSID: providertest.TwilioSID, AuthToken: providertest.TwilioToken,
		From: providertest.TwilioFrom, APIURL: fake.URL})
	ack := "https://pagerd.example.com/ack/storm"
	m := notify.Message{Incident: "01JSTORMBUNDLE0000000000ABCD", Incidents: []string{"a", "b"}, Channel: "sms", Address: "+15555550111", AckURL: ack,
		Text: "[P0] 2 incidents (alert storm): 2 P0. [P0] api: " + strings.Repeat("😀", 900) + ". Ack all: " + ack}
	if err := tw.Notify(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	body := fake.Messages()[0].Get("Body")
	if n := len(utf16.Encode([]rune(body))); n > twilio.MaxSMS || !utf8.ValidString(body) ||
		!strings.HasSuffix(body, "😀… Ack all: "+ack+" Reply 4 to ack, 6 to resolve, 5 to escalate (code ABCD).") {
		t.Fatalf("%d units: …%q", n, body[max(0, len(body)-200):])
	}
}

// TestTwilioRateLimitWithRetryAfterKeepsThePagesTurn: Twilio answers 429
// (20429, too many requests) with Retry-After: it took nothing and says
// when it will. The chain the daemon builds retried within the wait (half
// a second, then a second), gave the page up as failed (the person's next
// step brought forward, "notify_failed" in the timeline), and its breaker
// counted it: five pages in a row that met the limit opened the circuit,
// and every SMS and call after them failed for its cooldown though Twilio
// took them again. Each page is now tried once and sent back for its turn
// (notify.ErrOverRateLimit, as Slack's 429 is), which neither the retrier
// nor the breaker counts; a 429 without Retry-After, or with one further
// off than a page may silently wait, is still a failure worth retrying.
func TestTwilioRateLimitWithRetryAfterKeepsThePagesTurn(t *testing.T) {
	fake := providertest.NewTwilio(t)
	tw, err := twilio.New(twilio.Options{AccountSID: providertest.TwilioSID, AuthToken: providertest.TwilioToken,
		From: providertest.TwilioFrom, APIURL: fake.URL, PublicURL: "https://pagerd.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	o := notify.DefaultChainOptions
	o.RetryBase = time.Millisecond
	chain := notify.Chain(tw, o)
	page := notify.Message{Incident: "01INC", User: "dan", Channel: "sms", Address: "+15555550111", Text: "x", Level: 1}

	fake.RateLimitFirst(o.BreakerFailures+1, "2")
	for i := range o.BreakerFailures + 1 {
		err := chain.Notify(t.Context(), page)
		if d, over := notify.OverRateLimitDelay(err); !over || d != 2*time.Second {
			t.Fatalf("page %d: err %v, want it sent back for 2s (Twilio's Retry-After)", i+1, err)
		}
	}
	if err := chain.Notify(t.Context(), page); err != nil {
		t.Fatalf("Twilio takes pages again, the page after those it rate limited: %v", err)
	}
	if got := len(fake.Messages()); got != 1 {
		t.Fatalf("%d SMS created, want 1", got)
	}

	for _, c := range []struct{ name, retryAfter string }{{"without Retry-After", ""}, {"Retry-After an hour off", "3600"}} {
		t.Run(c.name, func(t *testing.T) {
			fake.RateLimitFirst(1, c.retryAfter)
			if err := tw.Notify(t.Context(), page); !notify.IsTemporary(err) || errors.Is(err, notify.ErrOverRateLimit) || !strings.Contains(err.Error(), "429") {
				t.Fatalf("err %v, want a 429 worth retrying", err)
			}
		})
	}
}

// TestTwilioSMSOutageLeavesCallsGoing: Twilio's messaging answers 503 for a
// while (an outage of its SMS, not of its calls). The chain the daemon
// builds had one circuit for the whole transport: five SMS pages failed,
// the circuit opened, and the calls that come after the SMS on a ladder,
// the way to reach someone when their SMS fails, failed at once with it,
// "circuit open", for every cooldown whose test page was an SMS. SMS and
// calls now have a circuit each: the call is placed.
func TestTwilioSMSOutageLeavesCallsGoing(t *testing.T) {
	fake := providertest.NewTwilio(t)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/Messages.json") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"code":20503,"message":"Service Unavailable","status":503}`))
			return
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	tw, err := twilio.New(twilio.Options{AccountSID: providertest.TwilioSID, AuthToken: providertest.TwilioToken,
		From: providertest.TwilioFrom, APIURL: front.URL, PublicURL: "https://pagerd.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	o := notify.DefaultChainOptions
	o.RetryBase = time.Millisecond
	chain := notify.Chain(tw, o)
	page := notify.Message{Incident: "01INC", User: "dan", Channel: "sms", Address: "+15555550111", Text: "x", Level: 1}
	for range o.BreakerFailures {
		if err := chain.Notify(t.Context(), page); !notify.IsTemporary(err) {
			t.Fatalf("SMS during the outage: %v", err)
		}
	}
	if err := chain.Notify(t.Context(), page); !errors.Is(err, notify.ErrCircuitOpen) {
		t.Fatalf("SMS after %d failed in a row: %v, want the circuit open", o.BreakerFailures, err)
	}
	page.Channel = "voice"
	if err := chain.Notify(t.Context(), page); err != nil {
		t.Fatalf("the call after the SMS failed: %v", err)
	}
	if got := len(fake.Calls()); got != 1 {
		t.Fatalf("%d calls placed, want 1", got)
	}
}

// TestTwilioCallSIDAndCancel: a call placed leaves its SID for the page's
// timeline entry (notify.WithSentRef), and CancelCall hangs up a call
// still queued or ringing, leaves one answered or over as Twilio does
// (no error: nothing rings), takes a call Twilio no longer knows, or one
// it says is in no state for it (21220), as nothing to cancel, and says
// whether a failure is worth trying again.
func TestTwilioCallSIDAndCancel(t *testing.T) {
	fake := providertest.NewTwilio(t)
	tw, err := twilio.New(twilio.Options{AccountSID: providertest.TwilioSID, AuthToken: providertest.TwilioToken,
		From: providertest.TwilioFrom, APIURL: fake.URL, PublicURL: "https://pagerd.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		ctx, ref := notify.WithSentRef(t.Context())
		if err := tw.Notify(ctx, notify.Message{Channel: "voice", Incident: "inc", User: "dan", Address: "+15555550111", Text: "x"}); err != nil {
			t.Fatal(err)
		}
		if got := ref(); got != providertest.CallSID(i) {
			t.Fatalf("call %d's SID: %q, want %s", i, got, providertest.CallSID(i))
		}
	}
	fake.SetCallStatus(providertest.CallSID(1), "ringing")
	fake.SetCallStatus(providertest.CallSID(2), "in-progress")
	fake.SetCallStatus(providertest.CallSID(3), "completed")
	for i, want := range []struct {
		cancelled bool
		status    string
	}{{true, "canceled"}, {true, "canceled"}, {false, "in-progress"}, {false, "completed"}} {
		sid := providertest.CallSID(i)
		ok, err := tw.CancelCall(t.Context(), sid)
		if err != nil || ok != want.cancelled || fake.CallStatus(sid) != want.status {
			t.Errorf("cancel of call %d: %v, %v, now %s; want %v, nil, %s", i, ok, err, fake.CallStatus(sid), want.cancelled, want.status)
		}
	}
	if ok, err := tw.CancelCall(t.Context(), "CA"+strings.Repeat("7", 32)); ok || err != nil {
		t.Errorf("cancel of a call Twilio does not know: %v, %v", ok, err)
	}
	fake.FailFirst(1)
	if _, err := tw.CancelCall(t.Context(), providertest.CallSID(0)); !notify.IsTemporary(err) {
		t.Errorf("cancel with Twilio down: %v, want a temporary error", err)
	}
	bad, _ := twilio.New(twilio.Options{AccountSID: providertest.TwilioSID, AuthToken: "wrong", From: providertest.TwilioFrom, APIURL: fake.URL})
	if _, err := bad.CancelCall(t.Context(), providertest.CallSID(0)); err == nil || notify.IsTemporary(err) {
		t.Errorf("cancel with the wrong token: %v, want a final error", err)
	}
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		_, _ = w.Write([]byte(`{"code": 21220, "message": "Invalid call state for this operation", "status": 400}`))
	}))
	defer gone.Close()
	ended, _ := twilio.New(twilio.Options{AccountSID: providertest.TwilioSID, AuthToken: providertest.TwilioToken, From: providertest.TwilioFrom, APIURL: gone.URL})
	if ok, err := ended.CancelCall(t.Context(), providertest.CallSID(0)); ok || err != nil {
		t.Errorf("cancel Twilio answers 21220: %v, %v", ok, err)
	}
}

// TestTwilioSMSSID: an SMS created leaves its SID (MessageSid) for the
// page's timeline entry, as a call does: its delivery report finds its
// page by it. One Twilio created failed leaves none: it is no page.
func TestTwilioSMSSID(t *testing.T) {
	fake := providertest.NewTwilio(t)
	tw, err := twilio.New(twilio.Options{AccountSID: providertest.TwilioSID, AuthToken: providertest.TwilioToken,
		From: providertest.TwilioFrom, APIURL: fake.URL, PublicURL: "https://pagerd.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		ctx, ref := notify.WithSentRef(t.Context())
		if err := tw.Notify(ctx, notify.Message{Channel: "sms", Incident: "inc", User: "dan", Address: "+15555550111", Text: "x"}); err != nil {
			t.Fatal(err)
		}
		if got := ref(); got != providertest.MessageSID(i) {
			t.Fatalf("SMS %d's SID: %q, want %s", i, got, providertest.MessageSID(i))
		}
	}
	ctx, ref := notify.WithSentRef(t.Context())
	if err := tw.Notify(ctx, notify.Message{Channel: "sms", Incident: "inc", User: "dan", Address: providertest.TwilioFailsAtOnce, Text: "x"}); err == nil {
		t.Fatal("an SMS created failed was taken as sent")
	}
	if got := ref(); got != "" {
		t.Errorf("an SMS created failed left the SID %q", got)
	}
}
