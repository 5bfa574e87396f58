// Package pushover is pagerd's Pushover integration, all of it: push
// pages through the Pushover app for teams without a PagerDuty seat, high
// urgency at emergency priority (the phone alerts again every retry until
// someone acknowledges in the app, or the alert expires), the receipt
// callback that Pushover sends when someone does, which acknowledges the
// incident in pagerd, and cancelling the emergency when the incident is
// acknowledged elsewhere (Cancel), so the phone stops.
//
// The callback URL is signed like an ack link (the daemon's Sign and
// Verify: HMAC, one incident, one person, expiring), since Pushover does
// not sign what it sends; the callback acts only through notify.Receiver.
package pushover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pagerd/pagerd/internal/textcut"
	"github.com/pagerd/pagerd/notify"
)

// Pushover's address and pagerd's defaults for it.
const (
	DefaultAPIURL  = "https://api.pushover.net"
	DefaultTimeout = 10 * time.Second
	// CallbackPath is where receipt callbacks come: CallbackPath/<token>.
	CallbackPath = "/api/v1/pushover/receipt"
)

// Options configure a Notifier.
type Options struct {
	// Token is the application's API token.
	Token string
	// APIURL is Pushover's API (default DefaultAPIURL).
	APIURL string
	// Retry and Expire are how often an emergency page alerts again until
	// acknowledged, and for how long at most.
	Retry, Expire time.Duration
	// Callback is the receipt callback URL for an emergency page of an
	// incident (or storm bundle) to a person, sent when the incident had
	// been reopened reopened times (Message.Reopened); "" for none.
	Callback   func(target, user string, reopened int) string
	HTTPClient *http.Client
	Timeout    time.Duration
	// TokenFunc, when set, is the application token in force, read at
	// every call instead of Token: a token rotated by a config reload is
	// the one the next call sends.
	TokenFunc func() string
}

// Notifier pushes through Pushover.
type Notifier struct {
	o Options
	h notify.HTTPSender
}

var _ notify.Notifier = (*Notifier)(nil)

// token is the application token in force.
func (n *Notifier) token() string {
	if n.o.TokenFunc != nil {
		return n.o.TokenFunc()
	}
	return n.o.Token
}

// New makes a Notifier.
func New(o Options) *Notifier {
	if o.APIURL == "" {
		o.APIURL = DefaultAPIURL
	}
	o.APIURL = strings.TrimRight(o.APIURL, "/")
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Retry < 30*time.Second {
		o.Retry = time.Minute
	}
	if o.Expire <= 0 || o.Expire > 3*time.Hour {
		o.Expire = time.Hour
	}
	return &Notifier{o: o, h: notify.NewHTTPSender("pushover", o.HTTPClient, o.Timeout)}
}

// Pushover's limits on what a message may hold.
const (
	maxMessage = 1024
	maxTitle   = 250
)

// Notify pushes the page to the contact's user (or group) key. High
// urgency is emergency priority, tagged with the incident (or bundle) so
// Cancel can stop it; the ack link is the message's URL.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) error {
	if m.Address == "" {
		return errors.New("pushover: the contact has no user key")
	}
	title := fmt.Sprintf("[%s] %s", m.Priority, m.Service)
	if m.Notice {
		title = m.Summary
	}
	form := url.Values{"token": {n.token()}, "user": {m.Address}, "message": {textcut.Bytes(m.Text, maxMessage, "")}, "title": {textcut.Bytes(title, maxTitle, "")}}
	if m.AckURL != "" {
		form.Set("url", m.AckURL)
		form.Set("url_title", "Acknowledge or resolve")
	}
	switch {
	case m.Notice || m.Urgency == "low":
		form.Set("priority", "0")
	default:
		form.Set("priority", "2")
		form.Set("retry", strconv.Itoa(int(n.o.Retry.Seconds())))
		form.Set("expire", strconv.Itoa(int(n.o.Expire.Seconds())))
		form.Set("tags", m.Incident)
		if n.o.Callback != nil {
			if cb := n.o.Callback(m.Incident, m.User, m.Reopened); cb != "" {
				form.Set("callback", cb)
			}
		}
	}
	return n.post(ctx, "/1/messages.json", form)
}

// Cancel stops the emergency pages tagged with target (an incident or a
// storm bundle): the phones stop alerting. Cancelling what is not alerting
// any more is not an error.
func (n *Notifier) Cancel(ctx context.Context, target string) error {
	return n.post(ctx, "/1/receipts/cancel_by_tag/"+url.PathEscape(target)+".json", url.Values{"token": {n.token()}})
}

// ValidateUser asks Pushover whether it takes the application token and
// knows the user key (POST /1/users/validate.json), sending nothing: what
// pagerd serve tries at start for each contact's key, so that a wrong key
// shows before the first page.
func (n *Notifier) ValidateUser(ctx context.Context, user string) error {
	return n.post(ctx, "/1/users/validate.json", url.Values{"token": {n.token()}, "user": {user}})
}

// post makes one API call through the sender, which decides what is worth
// retrying (429, 503, network errors before the request was written) and
// what may have been sent (another 5xx, a failure after it). Pushover answers {"status": 1} when
// it took the request. Errors say what Pushover said, never the token.
func (n *Notifier) post(ctx context.Context, path string, form url.Values) error {
	return n.h.Post(ctx, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.o.APIURL+path, strings.NewReader(form.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("User-Agent", "pagerd")
		}
		return req, err
	}, answered)
}

// answered reads Pushover's answer.
func answered(status int, body []byte) error {
	var r struct {
		Status int      `json:"status"`
		Errors []string `json:"errors"`
	}
	_ = json.Unmarshal(body, &r)
	if status == http.StatusOK && r.Status == 1 {
		return nil
	}
	return fmt.Errorf("pushover: answered %d: %s", status, strings.Join(r.Errors, "; "))
}

// Callbacks receives Pushover's receipt callbacks.
type Callbacks struct {
	Receiver notify.Receiver
	// Verify checks a callback URL's token (as signed for the Callback
	// option) and says whose page it was; an error refuses the request.
	// ErrNotSigned (errors.Is) says the token is not even of the form
	// pagerd signs: a stranger's request, not Pushover's. Nil means
	// Pushover is not configured: the callbacks answer 404.
	Verify func(token string) (Paged, error)
	// Logger says which callbacks were refused (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now): a refused callback is logged
	// at warn at most once a minute (notify.RefusedCallbacks).
	Now func() time.Time
	// NotStored, when set, counts the callbacks answered 5xx because the
	// store did not take their acknowledgement, wholly or for some of a
	// storm message's incidents (pagerd_pushover_receipts_not_stored_total):
	// Pushover documents no retry of a callback, so those incidents page on
	// though the person acknowledged in the app.
	NotStored interface{ Inc() }

	refused notify.RefusedCallbacks
}

// ErrNotSigned is what Verify answers, wrapped, for a token that is not of
// the form pagerd signs (no signature, or one of the wrong length): no
// callback pagerd gave Pushover, whatever secret it was signed with, but
// a stranger's request to the documented path. It is refused and logged
// at debug only, so that a stranger probing the path does not take the
// minute's one warning (notify.RefusedCallbacks) from a refusal of the
// app's own callback.
var ErrNotSigned = errors.New("not a token pagerd signs")

// Paged is the emergency page a receipt callback is about.
type Paged struct {
	// Target is the incident (or storm bundle), User the person paged.
	Target, User string
	// Reopened is how many times the incident had been reopened when the
	// page went out; ReopenedKnown is false when the callback does not
	// say (one signed before callbacks carried it).
	Reopened      int
	ReopenedKnown bool
}

// Receipt acknowledges the incident (or storm bundle) of an emergency page
// acknowledged in the Pushover app, as the person it was paged to, and
// notes the device in its timeline. The token in the URL must verify: a
// callback pagerd did not make is refused with 403 and changes nothing.
// It answers that page (notify.Receiver.AcknowledgePage): the emergency
// of a page sent before the incident was reopened is left alerting by the
// reopen, and tapping it to silence the phone must not stop the pages of
// the reopen.
func (cb *Callbacks) Receipt(w http.ResponseWriter, r *http.Request) error {
	if cb.Verify == nil {
		return &notify.RequestError{Status: http.StatusNotFound, Msg: "Pushover is not configured (notifiers.pushover)"}
	}
	paged, err := cb.Verify(r.PathValue("token"))
	target, user := paged.Target, paged.User
	if err != nil {
		// Its token is in a path only Pushover was given: a refused one is
		// most likely Pushover's, for a page signed with a link_secret
		// since rotated, or for a person since removed from the config.
		// The person believes they acknowledged, and pagerd goes on paging
		// and escalating: whoever runs pagerd must hear of it.
		log := cb.Logger
		if log == nil {
			log = slog.Default()
		}
		now := time.Now
		if cb.Now != nil {
			now = cb.Now
		}
		if errors.Is(err, ErrNotSigned) {
			log.DebugContext(r.Context(), "pushover: a receipt callback was refused (403): its token is not one pagerd signs", "err", err)
			return &notify.RequestError{Status: http.StatusForbidden, Msg: "this receipt callback is not one pagerd made, or it has expired"}
		}
		cb.refused.Log(log, r, now(), "pushover: a receipt callback was refused (403): its token does not verify with server.link_secret, "+
			"has expired or names a user no longer in the config; if it was Pushover's, an acknowledgement made in the Pushover app did not reach pagerd, "+
			"which goes on paging: acknowledge the incident in pagerd", "err", err)
		return &notify.RequestError{Status: http.StatusForbidden, Msg: "this receipt callback is not one pagerd made, or it has expired"}
	}
	if err := r.ParseForm(); err != nil {
		return &notify.RequestError{Status: http.StatusBadRequest, Msg: "form: " + err.Error()}
	}
	if r.PostForm.Get("acknowledged") != "1" {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	detail := "acknowledged in the Pushover app"
	if dev := r.PostForm.Get("acknowledged_by_device"); dev != "" {
		detail += " on " + textcut.Bytes(dev, 64, "")
	}
	// The receipt names the emergency: the same callback delivered again
	// is noted once (notify.Delivery.Ref, Again).
	receipt := textcut.Bytes(r.PostForm.Get("receipt"), 64, "")
	// A note the store refused does not stop the acknowledgement: of a
	// storm message, the note of one incident whose node is down (a
	// Redis Cluster) kept every incident of the message paging, and
	// Pushover documents no retry of the callback. The note's error
	// answers the callback once the acknowledgement is applied
	// (TestPushoverStormReceiptWhoseNoteANodeRefusesAcknowledgesTheRest).
	noteErr := cb.Receiver.Delivered(r.Context(), target, notify.Delivery{User: user, Channel: "push", Detail: detail, Ref: receipt, Again: true})
	var acted notify.Acted
	if paged.ReopenedKnown {
		acted, err = cb.Receiver.AcknowledgePage(r.Context(), user, notify.Page{Target: target, Reopened: paged.Reopened})
	} else {
		acted, err = cb.Receiver.Act(r.Context(), target, user, notify.Acknowledge)
	}
	if err != nil && !errors.Is(err, notify.ErrNotFound) {
		cb.notStored()
		return err
	}
	if acted.NotStored > 0 {
		// A storm message's acknowledgement the store took for some of
		// its incidents and failed for the others (a Redis Cluster node
		// down): those go on paging though the person acknowledged them
		// in the app. A 5xx, as for one not stored at all, says so to
		// Pushover, and a callback delivered again acts on the rest
		// only. Pushover documents no retry of a callback, though, and
		// the person heard nothing: whoever runs pagerd must.
		cb.notStored()
		cb.logger().WarnContext(r.Context(), "pushover: an emergency acknowledged in the Pushover app was stored for only some of its storm message's incidents "+
			"(answered 503; Pushover does not document delivering a callback again): the others go on paging; acknowledge them in pagerd",
			"bundle", target, "user", user, "receipt", receipt, "not_stored", acted.NotStored, "acted", acted.Storm)
		return &notify.RequestError{Status: http.StatusServiceUnavailable,
			Msg: fmt.Sprintf("stored in part, %d of the storm message's incidents not (%s): send it again", acted.NotStored, acted.Storm)}
	}
	if noteErr != nil {
		// The acknowledgement is stored, its note not (or not in every
		// incident): a callback delivered again notes the rest once.
		// Not counted as a receipt not stored: nothing goes on paging.
		return noteErr
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// notStored counts a receipt callback whose acknowledgement the store did
// not take, wholly or for some of a storm message's incidents.
func (cb *Callbacks) notStored() {
	if cb.NotStored != nil {
		cb.NotStored.Inc()
	}
}

// logger is Logger, or slog.Default().
func (cb *Callbacks) logger() *slog.Logger {
	if cb.Logger != nil {
		return cb.Logger
	}
	return slog.Default()
}
