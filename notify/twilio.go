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

// Twilio sends SMS pages through Twilio's REST API with twilio-go. Delivery
// status comes back to StatusCallback (signed by Twilio; the daemon checks
// the signature), with the incident and the person in its query.
type Twilio struct {
	api      *openapi.ApiService
	sid      string
	from     string
	callback string
	timeout  time.Duration
}

var _ Notifier = (*Twilio)(nil)

// NewTwilio makes the transport. apiURL replaces Twilio's fixed API host
// (regional edges, egress proxies, tests); twilio-go has no context support,
// so every call is bounded by timeout on the HTTP client. statusCallback,
// when set, is the absolute URL Twilio reports delivery to.
func NewTwilio(accountSID, authToken, from, apiURL, statusCallback string, hc *http.Client, timeout time.Duration) (*Twilio, error) {
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
	return &Twilio{api: openapi.NewApiServiceWithClient(c), sid: accountSID, from: from, callback: statusCallback, timeout: timeout}, nil
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

// Notify sends an SMS. 429, 5xx and network errors are worth retrying;
// anything else Twilio refuses (a bad number, say) is not.
func (t *Twilio) Notify(ctx context.Context, m Message) (bool, error) {
	if m.Channel != "sms" {
		return false, fmt.Errorf("twilio: %s pages are not supported yet", m.Channel)
	}
	if m.Address == "" {
		return false, errors.New("twilio: the contact has no phone number")
	}
	body := m.Text + " Reply 4 to ack, 6 to resolve, 5 to escalate (code " + ReplyCode(m.Incident) + ")."
	if len(body) > 1600 {
		body = body[:1600]
	}
	p := &openapi.CreateMessageParams{}
	p.SetTo(m.Address).SetFrom(t.from).SetBody(body)
	if t.callback != "" {
		q := url.Values{"incident": {m.Incident}, "user": {m.User}, "channel": {m.Channel}}
		p.SetStatusCallback(t.callback + "?" + q.Encode())
	}
	type result struct {
		err error
	}
	done := make(chan result, 1)
	go func() {
		_, err := t.api.CreateMessage(p)
		done <- result{err}
	}()
	var err error
	select {
	case r := <-done:
		err = r.err
	case <-ctx.Done():
		return true, fmt.Errorf("twilio: %w", ctx.Err())
	}
	if err == nil {
		return false, nil
	}
	var te *client.TwilioRestError
	if errors.As(err, &te) {
		return te.Status == http.StatusTooManyRequests || te.Status >= 500, fmt.Errorf("twilio: %d %s (code %d)", te.Status, te.Message, te.Code)
	}
	return true, fmt.Errorf("twilio: %w", err)
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
