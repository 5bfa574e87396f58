package gateway

import (
	"io"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
)

// emailConfig pages addr through the email transport to srv, with the
// low-urgency ladder low; info alerts are low urgency.
func emailConfig(srv *providertest.SMTP, addr, low string) string {
	return `
server:
  public_url: ` + harnessURL + `
  link_secret: email-test-link-secret-0123456789
api:
  tokens: [{name: ops, token: ` + apiToken + `, role: admin}]
notifiers:
  email: {smarthost: "` + srv.Addr + `", from: "pagerd <pagerd@example.com>", username: ` + providertest.SMTPUser + `,
          password: ` + providertest.SMTPPassword + `, ca_file: ` + srv.CAFile + `, timeout: 2s}
users:
  - id: ann
    name: Ann
    email: ` + addr + `
    contacts: [{channel: push, via: log}, {channel: email}]
    notification_rules:
      low: ` + low + `
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
}

// A low-urgency page goes out by email, through the daemon's email
// transport to a real SMTP server (STARTTLS, AUTH PLAIN), with the
// person's ack link in its plain-text body.
func TestEmailPageCarriesTheAckLink(t *testing.T) {
	srv := providertest.NewSMTP(t)
	cfg := emailConfig(srv, "ann@example.com", "[{after: 0s, channel: email}]")
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

// TestEmailRefusedBringsTheNextStepForward: an email the server refuses,
// for good (550 no such mailbox) or for now (452 mailbox full, the
// recipient's and not retried), is a failed step: the push 10 minutes later in the
// ladder goes out at once.
func TestEmailRefusedBringsTheNextStepForward(t *testing.T) {
	for _, addr := range []string{"nobody@example.com", "full@example.com"} {
		t.Run(addr, func(t *testing.T) {
			srv := providertest.NewSMTP(t)
			h := newHarness(t, withConfig(emailConfig(srv, addr, "[{after: 0s, channel: email}, {after: 10m, channel: push}]")), realTransport("email"))
			r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g1", map[string]string{"alertname": "A", "severity": "info"}),
				"Authorization", "Bearer "+amKey)
			if r.code != 200 {
				t.Fatalf("webhook: %d %s", r.code, r.body)
			}
			h.runUntil(fixedNow.Add(time.Minute))
			if got := h.rec.lines(fixedNow); strings.Join(got, ",") != "0s L1 ann push" || len(srv.Mails()) != 0 {
				t.Fatalf("pages by 1m: %v, %d mails; want the push at once, no mail", got, len(srv.Mails()))
			}
		})
	}
}
