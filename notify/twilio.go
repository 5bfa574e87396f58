package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// DefaultTwilioAPIURL is Twilio's REST API host.
const DefaultTwilioAPIURL = "https://api.twilio.com"

// Twilio sends SMS pages and places voice calls through Twilio's REST API
// with twilio-go. Delivery and call status come back to the daemon's
// callbacks under its public URL (signed by Twilio; the daemon checks the
// signature), with the incident and the person in their query; a call asks
// the daemon what to say (TwiML) and gathers a keypress.
type Twilio struct {
	api     *openapi.ApiService
	sid     string
	from    string
	base    string // the daemon's callback base: <public URL>/api/v1/twilio
	timeout time.Duration
}

var _ Notifier = (*Twilio)(nil)

// NewTwilio makes the transport. apiURL replaces Twilio's fixed API host
// (regional edges, egress proxies, tests); twilio-go has no context support,
// so every call is bounded by timeout on the HTTP client. callbackBase,
// when set, is the absolute URL of the daemon's Twilio callbacks
// (<public URL>/api/v1/twilio); voice calls need it.
func NewTwilio(accountSID, authToken, from, apiURL, callbackBase string, hc *http.Client, timeout time.Duration) (*Twilio, error) {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	base := http.DefaultTransport
	if hc != nil && hc.Transport != nil {
		base = hc.Transport
	}
	tr := base
	if apiURL != "" && apiURL != DefaultTwilioAPIURL {
		u, err := url.Parse(apiURL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("twilio api url %q: not an absolute URL", apiURL)
		}
		tr = hostRewriter{to: u, next: base}
	}
	c := &client.Client{Credentials: client.NewCredentials(accountSID, authToken), HTTPClient: &http.Client{Transport: tr, Timeout: timeout}}
	c.SetAccountSid(accountSID)
	return &Twilio{api: openapi.NewApiServiceWithClient(c), sid: accountSID, from: from, base: strings.TrimRight(callbackBase, "/"), timeout: timeout}, nil
}

// hostRewriter sends requests for Twilio's API host to another base URL.
type hostRewriter struct {
	to   *url.URL
	next http.RoundTripper
}

func (h hostRewriter) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = h.to.Scheme, h.to.Host
	r.Host = h.to.Host
	return h.next.RoundTrip(r)
}

// Notify sends an SMS or places a call. 429, 5xx and network errors are
// worth retrying; anything else Twilio refuses (a bad number, say) is not.
func (t *Twilio) Notify(ctx context.Context, m Message) error {
	if m.Address == "" {
		return errors.New("twilio: the contact has no phone number")
	}
	q := url.Values{"incident": {m.Incident}, "user": {m.User}, "channel": {m.Channel}}.Encode()
	var send func() error
	switch m.Channel {
	case "sms":
		body := m.Text + " Reply 4 to ack, 6 to resolve, 5 to escalate (code " + ReplyCode(m.Incident) + ")."
		if len(body) > 1600 {
			body = body[:1600]
		}
		p := &openapi.CreateMessageParams{}
		p.SetTo(m.Address).SetFrom(t.from).SetBody(body)
		if t.base != "" {
			p.SetStatusCallback(t.base + "/status?" + q)
		}
		send = func() error { _, err := t.api.CreateMessage(p); return err }
	case "voice":
		if t.base == "" {
			return errors.New("twilio: calls need server.public_url, for Twilio to ask what to say")
		}
		// Answering-machine detection tells a voicemail from a person, so a
		// voicemail is never taken for an answered page.
		p := &openapi.CreateCallParams{}
		p.SetTo(m.Address).SetFrom(t.from).SetUrl(t.base + "/voice?" + q).SetMachineDetection("Enable").
			SetStatusCallback(t.base + "/status?" + q)
		send = func() error { _, err := t.api.CreateCall(p); return err }
	default:
		return fmt.Errorf("twilio: %s pages are not supported", m.Channel)
	}
	type result struct {
		err error
	}
	done := make(chan result, 1)
	go func() { done <- result{send()} }()
	var err error
	select {
	case r := <-done:
		err = r.err
	case <-ctx.Done():
		return Temporary(fmt.Errorf("twilio: %w", ctx.Err()))
	}
	if err == nil {
		return nil
	}
	var te *client.TwilioRestError
	if errors.As(err, &te) {
		err := fmt.Errorf("twilio: %d %s (code %d)", te.Status, te.Message, te.Code)
		if te.Status == http.StatusTooManyRequests || te.Status >= 500 {
			return Temporary(err)
		}
		return err
	}
	return Temporary(fmt.Errorf("twilio: %w", err))
}

// ReplyCode is the short code an SMS reply can name to pick an incident
// when the same number was paged for several: the last four characters of
// the incident id, upper case.
func ReplyCode(incident string) string {
	if len(incident) < 4 {
		return strings.ToUpper(incident)
	}
	return strings.ToUpper(incident[len(incident)-4:])
}
