package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
)

// A transport's secret rotated at the provider and then in pagerd's config
// by a reload is the one the next page sends: Slack's bot token, Pushover's
// application token and the mail server's password are read at every call
// (Twilio's: TestTwilioTokenRotatedByReload). Before, a reload swapped the
// config and the transports went on with the secrets pagerd started with,
// refused once the old one was revoked.

func TestSlackTokenRotatedByReload(t *testing.T) {
	sl := providertest.NewSlack(t)
	cfg := slackConfig(sl.URL)
	h := newHarness(t, withConfig(cfg))
	const rotated = "xoxb-1234-5678-rotatedslacktoken"
	sl.RotateToken(rotated)
	if err := h.reload(strings.Replace(cfg, providertest.SlackBotToken, rotated, 1)); err != nil {
		t.Fatal(err)
	}
	fire(h)
	h.step(fixedNow)
	if n := len(sl.Messages()); n != 1 {
		t.Fatalf("Slack took %d channel messages after the bot token was rotated by a reload, want 1", n)
	}
}

func TestPushoverTokenRotatedByReload(t *testing.T) {
	po := providertest.NewPushover(t)
	cfg := pushoverConfig(po.URL, "http://127.0.0.1:1")
	h := newHarness(t, withConfig(cfg))
	const rotated = "bzGDORePK8gMaC0QOYAMyEEuzJnyUi"
	po.RotateToken(rotated)
	if err := h.reload(strings.Replace(cfg, providertest.PushoverToken, rotated, 1)); err != nil {
		t.Fatal(err)
	}
	fire(h)
	h.step(fixedNow)
	if n := len(po.Messages()); n != 1 {
		t.Fatalf("Pushover took %d messages after the token was rotated by a reload, want 1", n)
	}
}

func TestEmailPasswordRotatedByReload(t *testing.T) {
	srv := providertest.NewSMTP(t)
	cfg := emailConfig(srv, "ann@example.com", "[{after: 0s, channel: email}]")
	h := newHarness(t, withConfig(cfg), realTransport("email"))
	const rotated = "smtp-password-rotated-for-tests"
	srv.RotatePassword(rotated)
	if err := h.reload(strings.Replace(cfg, providertest.SMTPPassword, rotated, 1)); err != nil {
		t.Fatal(err)
	}
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g1", map[string]string{"alertname": "A", "severity": "info"}),
		"Authorization", "Bearer "+amKey)
	if r.code != 200 {
		t.Fatalf("webhook: %d %s", r.code, r.body)
	}
	h.runUntil(fixedNow.Add(time.Minute))
	if n := len(srv.Mails()); n != 1 {
		t.Fatalf("the mail server took %d messages after the password was rotated by a reload, want 1", n)
	}
	if got := h.logLines("WARN", "only at start"); len(got) != 0 {
		t.Fatalf("a rotated secret was said to need a restart:\n%s", got)
	}
}
