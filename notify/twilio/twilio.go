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
	"sync/atomic"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/pagerd/pagerd/internal/textcut"
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
	// Timeout bounds each call (default DefaultTimeout), as does the
	// page's context: twilio-go takes no context, so the transport
	// carries it (boundTo).
	Timeout time.Duration
	// Settings, when set, is the auth token and public URL in force,
	// read at every call instead of AuthToken and PublicURL: a reload
	// that rotates the token (or moves the public URL) then sends with
	// the value the callbacks are checked with.
	Settings func() Settings
}

// Notifier sends SMS pages and places voice calls through Twilio's REST API
// with twilio-go. Delivery and call status come back to the daemon's
// callbacks under its public URL (signed by Twilio; Callbacks checks the
// signature), with the incident and the person in their query; a call asks
// the daemon what to say (TwiML) and gathers a keypress.
type Notifier struct {
	settings func() Settings   // the auth token and public URL in force
	tr       http.RoundTripper // to Twilio's API host, or APIURL's
	sid      string
	from     string
	timeout  time.Duration
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
	settings := o.Settings
	if settings == nil {
		fixed := Settings{AuthToken: o.AuthToken, PublicURL: o.PublicURL}
		settings = func() Settings { return fixed }
	}
	return &Notifier{settings: settings, tr: tr, sid: o.AccountSID, from: o.From, timeout: timeout}, nil
}

// base is the daemon's callback base, <public URL>/api/v1/twilio, or ""
// without a public URL.
func base(st Settings) string {
	if st.PublicURL == "" {
		return ""
	}
	return strings.TrimRight(st.PublicURL, "/") + CallbackPath
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

// boundTo carries one call's requests in the call's context: twilio-go
// makes its requests without one, so the context ends them (not only the
// client's timeout) and its trace sees what was written (call).
type boundTo struct {
	ctx  context.Context
	next http.RoundTripper
	// answered is the status of the last answer, 0 before any, and
	// retryAfter its Retry-After header.
	answered   *atomic.Int32
	retryAfter *atomic.Value
}

func (b boundTo) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := b.next.RoundTrip(r.Clone(b.ctx))
	if err == nil {
		b.answered.Store(int32(resp.StatusCode))
		b.retryAfter.Store(resp.Header.Get("Retry-After"))
	}
	return resp, err
}

// Notify sends an SMS or places a call. A 429 that says when Twilio will
// take it (Retry-After) sends the page back for its turn
// (notify.ErrOverRateLimit). Other 429s, 5xx and network errors before
// the request reached Twilio are worth retrying; a failure after it (a
// timeout awaiting the answer) may have created the SMS or the call, and
// is notify.MaybeSent; anything else Twilio refuses (a bad number, say) is
// final.
func (t *Notifier) Notify(ctx context.Context, m notify.Message) error {
	if m.Address == "" {
		return errors.New("twilio: the contact has no phone number")
	}
	v := url.Values{"incident": {m.Incident}, "user": {m.User}, "channel": {m.Channel}}
	// How many times the incident had been reopened when the page went
	// out: a 4 pressed on a call placed before a reopen answers a page
	// the reopen superseded, and must not silence the pages after it
	// (Receiver.AcknowledgePage). A storm message's key acknowledges by
	// its bundle's counts.
	v.Set("reopened", strconv.Itoa(m.Reopened))
	if m.Level > 0 && len(m.Incidents) == 0 {
		// The level the page is for, and when it went out: a call's 5
		// escalates from it, once.
		v.Set("level", strconv.Itoa(m.Level))
		if !m.At.IsZero() {
			v.Set("at", strconv.FormatInt(m.At.UnixMilli(), 10))
		}
	}
	q := v.Encode()
	st := t.settings()
	cb := base(st)
	var send func(*openapi.ApiService) error
	switch m.Channel {
	case "sms":
		p := &openapi.CreateMessageParams{}
		p.SetTo(m.Address).SetFrom(t.from).SetBody(smsBody(m))
		if cb != "" && !m.Notice {
			p.SetStatusCallback(cb + "/status?" + q)
		}
		send = func(api *openapi.ApiService) error {
			msg, err := api.CreateMessage(p)
			if err == nil && msg != nil && msg.Status != nil && (*msg.Status == "failed" || *msg.Status == "undelivered") {
				// Created, and failed already: no status callback
				// follows for a shift notice, nor without public_url.
				return &createdFailed{status: *msg.Status, code: msg.ErrorCode}
			}
			if err == nil && msg != nil && msg.Sid != nil {
				// The message's SID, for the page's timeline entry: its
				// delivery report names it (MessageSid) and finds its
				// page by it first, not only by the send time its
				// callback URL carries.
				notify.SetSentRef(ctx, *msg.Sid)
			}
			return err
		}
	case "voice":
		if cb == "" {
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
		p.SetTo(m.Address).SetFrom(t.from).SetUrl(cb + "/voice?" + cv.Encode()).SetMachineDetection("Enable").
			SetStatusCallback(cb + "/status?" + q)
		send = func(api *openapi.ApiService) error {
			c, err := api.CreateCall(p)
			if err == nil && c != nil && c.Sid != nil {
				// The call's SID, for the page's timeline entry: an
				// acknowledgement cancels the call with it while it
				// still rings (CancelCall).
				notify.SetSentRef(ctx, *c.Sid)
			}
			return err
		}
	default:
		return fmt.Errorf("twilio: %s pages are not supported", m.Channel)
	}
	return t.call(ctx, st, send)
}

// CancelCall asks Twilio to cancel the call sid (Status=canceled), which
// Twilio applies only to a call still queued or ringing: one answered
// (in progress, the person listening) or over is left as it is. It
// reports whether the call was cancelled by this request. A call Twilio
// no longer knows, or one whose state it says allows no cancel (21220),
// rings no more: no error. Errors are classed as call's are: 429, 5xx
// and network errors are worth trying again (notify.IsTemporary, or
// notify.ErrMaybeSent after the request was written, harmless to repeat).
func (t *Notifier) CancelCall(ctx context.Context, sid string) (bool, error) {
	var status string
	err := t.call(ctx, t.settings(), func(api *openapi.ApiService) error {
		c, err := api.UpdateCall(sid, (&openapi.UpdateCallParams{}).SetStatus("canceled"))
		if err == nil && c != nil && c.Status != nil {
			status = *c.Status
		}
		var te *client.TwilioRestError
		if errors.As(err, &te) && (te.Status == http.StatusNotFound || te.Code == errInvalidCallState) {
			return nil
		}
		return err
	})
	if errors.Is(err, notify.ErrOverRateLimit) {
		// A 429 with Retry-After: call keeps a page's turn for it, but a
		// cancel has no turn to keep; it is worth trying again as any
		// other 429 is.
		err = notify.Temporary(err)
	}
	return status == "canceled", err
}

// errInvalidCallState is Twilio's error 21220, "Invalid call state for
// this operation": the call is in no state to be changed so (it ended).
const errInvalidCallState = 21220

// createdFailed is an SMS Twilio created with a status that says it will
// not be delivered (failed, undelivered): a 201, and no page.
type createdFailed struct {
	status string
	code   *int
}

func (e *createdFailed) Error() string {
	if e.code != nil {
		return fmt.Sprintf("twilio: the message was created %s (error %d)", e.status, *e.code)
	}
	return "twilio: the message was created " + e.status
}

// MaxSMS is the longest SMS body Twilio takes: 1,600 characters, counted
// in UTF-16 code units.
const MaxSMS = 1600

// smsBody is a page's SMS: its text and how to reply, at most MaxSMS long.
// A text too long is shortened in its summary, by whole characters and
// marked with an ellipsis, so the incident, the ack link and the reply
// code after it always go out (cut at 1,600 bytes, a summary in Cyrillic
// took them all); a text without its summary (a storm message) is
// shortened before its ack link.
func smsBody(m notify.Message) string {
	reply := " Reply 4 to ack, 6 to resolve, 5 to escalate (code " + ReplyCode(m.Incident) + ")."
	if m.Notice {
		reply = "" // a shift notice: nothing to reply to
	}
	over := textcut.UTF16Len(m.Text+reply) - MaxSMS
	if over <= 0 {
		return m.Text + reply
	}
	at, part := -1, ""
	if m.Summary != "" {
		at, part = strings.Index(m.Text, m.Summary), m.Summary
	}
	if at < 0 && m.AckURL != "" {
		if i := strings.Index(m.Text, m.AckURL); i > 0 {
			if j := strings.LastIndex(m.Text[:i], " Ack"); j > 0 {
				i = j // and its label ("Ack all:")
			}
			at, part = 0, m.Text[:i]
		}
	}
	if at < 0 {
		at, part = 0, m.Text
	}
	text := m.Text[:at] + textcut.UTF16(part, textcut.UTF16Len(part)-over, textcut.Ellipsis) + m.Text[at+len(part):]
	return textcut.UTF16(text+reply, MaxSMS, "")
}

// call makes one call to Twilio's API (send, on an API client of its
// own), bounded by ctx and the timeout, and says what Twilio answered: a
// 429 with a Retry-After a page may wait (notify.ProviderRetryAfter)
// sends the page back for its turn (notify.OverRateLimit); other 429s
// and 5xx are classed by notify.Answered; a network error before the
// request was written (no connection, a TLS handshake that failed) is
// worth retrying; one after it
// may have created the SMS or call (notify.MaybeSent), and a redirect
// that would turn the POST into a GET is final (followed, its list of
// messages was taken for the message created).
func (t *Notifier) call(ctx context.Context, st Settings, send func(*openapi.ApiService) error) error {
	ctx, cancel := notify.WithRunningTimeout(ctx, t.timeout)
	defer cancel()
	ctx, wrote := notify.TraceWrite(ctx)
	answered, retryAfter := new(atomic.Int32), new(atomic.Value)
	c := &client.Client{Credentials: client.NewCredentials(t.sid, st.AuthToken),
		HTTPClient: notify.KeepMethodOnRedirect(&http.Client{Transport: boundTo{ctx: ctx, next: t.tr, answered: answered, retryAfter: retryAfter}})}
	c.SetAccountSid(t.sid)
	err := send(openapi.NewApiServiceWithClient(c))
	if err == nil {
		return nil
	}
	var te *client.TwilioRestError
	var re *notify.RedirectError
	var cf *createdFailed
	status := int(answered.Load())
	switch {
	case errors.As(err, &cf):
		return cf // final: Twilio will not send it
	case errors.As(err, &te):
		// The status the HTTP answer had: a JSON body without Twilio's
		// status field (a proxy's) decodes to 0.
		if status == 0 {
			status = te.Status
		}
		if ra, _ := retryAfter.Load().(string); status == http.StatusTooManyRequests {
			if d, ok := notify.ProviderRetryAfter(ra, time.Now()); ok {
				// Not taken, and Twilio said when it will be: the page
				// keeps its turn then, as for pagerd's own rate limits,
				// rather than be retried inside the wait, given up and
				// counted by the breaker.
				return notify.OverRateLimit(d, fmt.Sprintf("Twilio answered 429 (code %d) with Retry-After", te.Code))
			}
		}
		return notify.Answered(status, fmt.Errorf("twilio: %d %s (code %d)", status, te.Message, te.Code))
	case errors.As(err, &re):
		return fmt.Errorf("twilio: %w: point notifiers.twilio.api_url at the final URL", re)
	case status >= 400:
		return notify.Answered(status, fmt.Errorf("twilio: answered %d: %w", status, err)) // not Twilio's JSON: a proxy's
	case wrote.Load():
		return notify.MaybeSent(fmt.Errorf("twilio: %w", err))
	}
	if off := notify.CalledOff(ctx, "twilio"); off != nil {
		return off
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
	err := t.call(ctx, t.settings(), func(api *openapi.ApiService) error {
		a, err := api.FetchAccount(t.sid)
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
	found, err := t.listed(ctx, func(api *openapi.ApiService) (int, error) {
		l, err := api.ListIncomingPhoneNumber((&openapi.ListIncomingPhoneNumberParams{}).SetPhoneNumber(t.from).SetPageSize(1).SetLimit(1))
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
	found, err := t.listed(ctx, func(api *openapi.ApiService) (int, error) {
		l, err := api.ListOutgoingCallerId((&openapi.ListOutgoingCallerIdParams{}).SetPhoneNumber(t.from).SetPageSize(1).SetLimit(1))
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
// records it found.
func (t *Notifier) listed(ctx context.Context, list func(*openapi.ApiService) (int, error)) (int, error) {
	var n int
	if err := t.call(ctx, t.settings(), func(api *openapi.ApiService) error {
		var err error
		n, err = list(api)
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
