package twilio_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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
// answers what Twilio would not. A 502 page of HTML is worth retrying; a
// redirect that would turn the POST into a GET fails the page (followed,
// Twilio's list of messages was taken for the message created).
func TestTwilioAnswersOfAProxy(t *testing.T) {
	fake := providertest.NewTwilio(t)
	for _, c := range []struct {
		name      string
		h         http.HandlerFunc
		temporary bool
		want      string
	}{
		{"bad gateway", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("<html>bad gateway</html>"))
		}, true, "twilio: answered 502: "},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, fake.URL+r.URL.Path, http.StatusMovedPermanently)
		}, false, "twilio: answered 301 (redirect to " + fake.URL + "/2010-04-01/Accounts/" + providertest.TwilioSID + "/Messages.json): point notifiers.twilio.api_url at the final URL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(c.h)
			defer srv.Close()
			tw, _ := twilio.New(twilio.Options{AccountSID: providertest.TwilioSID, AuthToken: providertest.TwilioToken, From: providertest.TwilioFrom, APIURL: srv.URL})
			err := tw.Notify(t.Context(), notify.Message{Channel: "sms", Address: "+15555550111", Text: "x"})
			if err == nil || notify.IsTemporary(err) != c.temporary || errors.Is(err, notify.ErrMaybeSent) || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("temporary %v err %v, want %q", notify.IsTemporary(err), err, c.want)
			}
		})
	}
}
