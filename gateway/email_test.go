package gateway

import (
	"io"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"

	"github.com/pagerd/pagerd/internal/providertest"
)

// A low-urgency page goes out by email, through the daemon's email
// transport to a real SMTP server (STARTTLS, AUTH PLAIN), with the
// person's ack link in its plain-text body.
func TestEmailPageCarriesTheAckLink(t *testing.T) {
	srv := providertest.NewSMTP(t)
	cfg := `
server:
  public_url: ` + harnessURL + `
  link_secret: email-test-link-secret-0123456789
api:
  tokens: [{name: ops, token: ` + apiToken + `, role: admin}]
notifiers:
  email: {smarthost: "` + srv.Addr + `", from: "pagerd <pagerd@example.com>", username: ` + providertest.SMTPUser + `,
          password: ` + providertest.SMTPPassword + `, ca_file: ` + srv.CAFile + `}
users:
  - id: ann
    name: Ann
    email: ann@example.com
    contacts: [{channel: push, via: log}, {channel: email}]
    notification_rules:
      low: [{after: 0s, channel: email}]
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers: [{name: primary, start: 2025-01-06, members: [ann]}]
escalation_policies:
  - {name: p, levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]}
services:
  - name: api
    priority_scheme: P0-P3
    escalation_policy: p
    integrations: {alertmanager_key: ` + amKey + `}
    targets:
      P3: {urgency: low}
`
	h := newHarness(t, withConfig(cfg), realTransport("email"))
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g1", map[string]string{"alertname": "A", "severity": "info"}),
		"Authorization", "Bearer "+amKey)
	if r.code != 200 {
		t.Fatalf("webhook: %d %s", r.code, r.body)
	}
	h.step(fixedNow)
	mails := srv.Mails()
	if len(mails) != 1 || !mails[0].TLS || mails[0].To[0] != "ann@example.com" {
		t.Fatalf("mails: %+v", mails)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(mails[0].Data)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if !strings.Contains(string(body), "Acknowledge or resolve: "+h.url+"/ack/") {
		t.Fatalf("no ack link in the body:\n%s", body)
	}
	link := string(body)[strings.Index(string(body), h.url+"/ack/"):]
	link = strings.TrimSpace(link[:strings.IndexAny(link, "\r\n")])
	if r := h.do("GET", strings.TrimPrefix(link, h.url), ""); r.code != 200 || !strings.Contains(r.body, "Acknowledge") {
		t.Fatalf("the link does not open: %d %s", r.code, r.body)
	}
}
