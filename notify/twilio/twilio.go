// Package twilio is pagerd's Twilio integration, all of it: SMS pages and
// voice calls sent through Twilio's REST API (twilio-go), and the callbacks
// Twilio makes back to the daemon, signed with the account's auth token:
// delivery and call status, SMS replies, what a call says (TwiML) and the
// key pressed. The callbacks act on incidents only through notify.Receiver.
package twilio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/pagerd/pagerd/notify"
)

// Twilio's addresses and pagerd's defaults for it, in one place.
const (
	// DefaultAPIURL is Twilio's REST API host.
	DefaultAPIURL = "https://api.twilio.com"
	// DefaultTimeout bounds one call to Twilio's API.
	DefaultTimeout = 10 * time.Second
	// CallbackPath is where under the daemon's public URL Twilio calls
	// back: /status, /sms, /voice and /voice/gather.
	CallbackPath = "/api/v1/twilio"
)

// Options configure the Twilio transport.
type Options struct {
	AccountSID, AuthToken string
	// From is the number pages are sent from.
	From string
	// APIURL replaces Twilio's fixed API host (regional edges, egress
	// proxies, tests); default DefaultAPIURL.
	APIURL string
	// PublicURL is the daemon's public URL, under which Twilio calls back
	// (CallbackPath); without it SMS go out without delivery reports and
	// calls cannot be placed.
	PublicURL string
	// HTTPClient's transport carries the calls (default
	// notify.NewTransport()).
	HTTPClient *http.Client
	// Timeout bounds each call (default DefaultTimeout): twilio-go has no
	// context support, so it is the HTTP client's.
	Timeout time.Duration
}

// Notifier sends SMS pages and places voice calls through Twilio's REST API
// with twilio-go. Delivery and call status come back to the daemon's
// callbacks under its public URL (signed by Twilio; Callbacks checks the
// signature), with the incident and the person in their query; a call asks
// the daemon what to say (TwiML) and gathers a keypress.
type Notifier struct {
	api     *openapi.ApiService
	sid     string
	from    string
	base    string // the daemon's callback base: <public URL>/api/v1/twilio
	timeout time.Duration
}

var _ notify.Notifier = (*Notifier)(nil)

// New makes the transport.
func New(o Options) (*Notifier, error) {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	var base http.RoundTripper = notify.NewTransport()
	if o.HTTPClient != nil && o.HTTPClient.Transport != nil {
		base = o.HTTPClient.Transport
	}
	tr := base
	if o.APIURL != "" && o.APIURL != DefaultAPIURL {
		u, err := url.Parse(o.APIURL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("twilio api url %q: not an absolute URL", o.APIURL)
		}
		tr = hostRewriter{to: u, next: base}
	}
	c := &client.Client{Credentials: client.NewCredentials(o.AccountSID, o.AuthToken), HTTPClient: &http.Client{Transport: tr, Timeout: timeout}}
	c.SetAccountSid(o.AccountSID)
	t := &Notifier{api: openapi.NewApiServiceWithClient(c), sid: o.AccountSID, from: o.From, timeout: timeout}
	if o.PublicURL != "" {
		t.base = strings.TrimRight(o.PublicURL, "/") + CallbackPath
	}
	return t, nil
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
func (t *Notifier) Notify(ctx context.Context, m notify.Message) error {
	if m.Address == "" {
		return errors.New("twilio: the contact has no phone number")
	}
	v := url.Values{"incident": {m.Incident}, "user": {m.User}, "channel": {m.Channel}}
	if m.Level > 0 && len(m.Incidents) == 0 {
		// The level the page is for, and when it went out: a call's 5
		// escalates from it, once.
		v.Set("level", strconv.Itoa(m.Level))
		if !m.At.IsZero() {
			v.Set("at", strconv.FormatInt(m.At.UnixMilli(), 10))
		}
	}
	q := v.Encode()
	var send func() error
	switch m.Channel {
	case "sms":
		body := m.Text + " Reply 4 to ack, 6 to resolve, 5 to escalate (code " + ReplyCode(m.Incident) + ")."
		if m.Notice {
			body = m.Text // a shift notice: nothing to reply to
		}
		if len(body) > 1600 {
			body = body[:1600]
		}
		p := &openapi.CreateMessageParams{}
		p.SetTo(m.Address).SetFrom(t.from).SetBody(body)
		if t.base != "" && !m.Notice {
			p.SetStatusCallback(t.base + "/status?" + q)
		}
		send = func() error { _, err := t.api.CreateMessage(p); return err }
	case "voice":
		if t.base == "" {
			return errors.New("twilio: calls need server.public_url, for Twilio to ask what to say")
		}
		// The call's own URL says what it is about too, so that a call
		// answered while the store cannot be read still tells the person
		// what they are paged for (Callbacks.Voice).
		cv := url.Values{}
		for k, vs := range v {
			cv[k] = vs
		}
		if m.Priority != "" {
			cv.Set("priority", m.Priority)
		}
		if m.Service != "" {
			cv.Set("service", m.Service)
		}
		if len(m.Incidents) > 0 {
			cv.Set("incidents", strconv.Itoa(len(m.Incidents)))
		}
		// Answering-machine detection tells a voicemail from a person, so a
		// voicemail is never taken for an answered page.
		p := &openapi.CreateCallParams{}
		p.SetTo(m.Address).SetFrom(t.from).SetUrl(t.base + "/voice?" + cv.Encode()).SetMachineDetection("Enable").
			SetStatusCallback(t.base + "/status?" + q)
		send = func() error { _, err := t.api.CreateCall(p); return err }
	default:
		return fmt.Errorf("twilio: %s pages are not supported", m.Channel)
	}
	return call(ctx, send)
}

// call makes one call to Twilio's API, bounded by ctx as well as by the
// client's timeout (twilio-go takes no context), and says what Twilio
// answered. 429, 5xx and network errors are worth retrying.
func call(ctx context.Context, send func() error) error {
	done := make(chan error, 1)
	go func() { done <- send() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		return notify.Temporary(fmt.Errorf("twilio: %w", ctx.Err()))
	}
	if err == nil {
		return nil
	}
	var te *client.TwilioRestError
	if errors.As(err, &te) {
		err := fmt.Errorf("twilio: %d %s (code %d)", te.Status, te.Message, te.Code)
		if te.Status == http.StatusTooManyRequests || te.Status >= 500 {
			return notify.Temporary(err)
		}
		return err
	}
	return notify.Temporary(fmt.Errorf("twilio: %w", err))
}

// Check asks Twilio, without sending anything, whether it takes the
// account's credentials (the account, fetched, must be active) and whether
// the from number is one of the account's numbers (Twilio sends SMS only
// from those; a verified caller ID places calls only; a from that is not
// a phone number, an alphanumeric sender, is not looked up). It is what pagerd serve tries at start, so that a
// wrong token shows before the first page.
func (t *Notifier) Check(ctx context.Context) error {
	var status string
	err := call(ctx, func() error {
		a, err := t.api.FetchAccount(t.sid)
		if err == nil && a.Status != nil {
			status = *a.Status
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("fetch account %s: %w", t.sid, err)
	}
	if status != "" && status != "active" {
		return fmt.Errorf("account %s is %s, not active: Twilio sends nothing for it", t.sid, status)
	}
	if !strings.HasPrefix(t.from, "+") {
		return nil
	}
	found, err := listed(ctx, func() (int, error) {
		l, err := t.api.ListIncomingPhoneNumber((&openapi.ListIncomingPhoneNumberParams{}).SetPhoneNumber(t.from).SetPageSize(1).SetLimit(1))
		return len(l), err
	})
	if err != nil {
		return fmt.Errorf("look up from number %s: %w", t.from, err)
	}
	if found == 0 {
		return t.notOwnNumber(ctx)
	}
	return nil
}

// notOwnNumber is the failure of a from number that is not one of the
// account's numbers. A verified caller ID of the account (OutgoingCallerIds)
// is said apart: calls from it go out, so a test call would pass, but SMS,
// which the default ladder sends, are refused.
func (t *Notifier) notOwnNumber(ctx context.Context) error {
	found, err := listed(ctx, func() (int, error) {
		l, err := t.api.ListOutgoingCallerId((&openapi.ListOutgoingCallerIdParams{}).SetPhoneNumber(t.from).SetPageSize(1).SetLimit(1))
		return len(l), err
	})
	if err != nil {
		return fmt.Errorf("from number %s is not one of account %s's numbers: Twilio refuses SMS from it (whether it is a verified caller ID could not be looked up: %w)",
			t.from, t.sid, err)
	}
	if found > 0 {
		return fmt.Errorf("from number %s is a verified caller ID of account %s, not one of its numbers: calls from it go out, SMS from it are refused", t.from, t.sid)
	}
	return fmt.Errorf("from number %s is not one of account %s's numbers: Twilio refuses SMS from it", t.from, t.sid)
}

// listed makes one of Twilio's list calls through call and says how many
// records it found. The count is read only when call returned the list's
// own answer: given up on (ctx), the call may still be writing it.
func listed(ctx context.Context, list func() (int, error)) (int, error) {
	var n int
	if err := call(ctx, func() error {
		var err error
		n, err = list()
		return err
	}); err != nil {
		return 0, err
	}
	return n, nil
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

// MatchesCode reports whether a code from an SMS reply (upper case) names
// the incident: its ReplyCode, or, for when two incidents share that,
// any longer end of its id.
func MatchesCode(incident, code string) bool {
	if len(code) <= 4 {
		return ReplyCode(incident) == code
	}
	return strings.HasSuffix(strings.ToUpper(incident), code)
}
