package twilio_test

import (
	"strings"
	"testing"

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
