// Package notify delivers pages: one small interface (Notifier), the
// transports that need no provider account (log, webhook, ntfy), and
// retries, throttling and circuit breaking in one place (Chain) rather than
// in each transport. Each provider with an account and callbacks has a
// subpackage that holds all of it, sending and callbacks alike
// (notify/twilio, notify/pagerduty); its callbacks act on incidents only
// through Receiver, which the daemon's incident service implements.
package notify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Message is one page to one person on one channel.
type Message struct {
	At        time.Time `json:"time"`
	Incident  string    `json:"incident"`
	Service   string    `json:"service"`
	Priority  string    `json:"priority"`
	Urgency   string    `json:"urgency"`
	Level     int       `json:"level"`
	LevelName string    `json:"level_name,omitempty"`
	User      string    `json:"user"`
	UserName  string    `json:"user_name,omitempty"`
	// Channel is what the person is reached on: push, sms or voice.
	Channel string `json:"channel"`
	// Address is where on that channel (a phone number, a URL); empty for
	// the log transport.
	Address string `json:"-"`
	Summary string `json:"summary"`
	Text    string `json:"text"`
	// AckURL is the person's signed link to acknowledge or resolve, when
	// pagerd has a public URL and a link secret.
	AckURL string `json:"ack_url,omitempty"`
	// Notice marks a shift notice, not a page: it is about no incident,
	// and there is nothing to acknowledge (Summary is its subject).
	Notice bool `json:"notice,omitempty"`
	// Incidents, for an alert-storm message, are the incidents it carries;
	// Incident is then the bundle's id, which acts on all of them wherever
	// an incident id would (ack links, SMS replies, calls, PagerDuty).
	Incidents []string `json:"incidents,omitempty"`
	// Reopened is how many times the incident had gone from acknowledged
	// back to triggered when this page was sent (policy.Incident.Reopened).
	// A transport that folds repeats of one page into one alert keys its
	// pages by it: retries of a page share it, a page after a reopen does
	// not share the acknowledged alert's (PagerDuty's dedup key).
	Reopened int `json:"-"`
	// Key names the notification among all pagerd sends, for a provider
	// that tells a repeat by an id of the sender's: every try of one page
	// carries the same key (its retries, and the takeover's after its
	// claim was cut: the step it belongs to, dispatch's page key), and
	// another page, or another person's, does not. Email derives its
	// Message-ID from it, so a mail sent again after the server's answer
	// to it was lost is the same message to the person's mail client
	// (Gmail keeps one of two with the same Message-ID). Empty (shift
	// notices, alert-storm messages): no key, and each try is a message of
	// its own.
	Key string `json:"-"`
	// FirstPage marks an incident's first page: nobody has been told of
	// the incident yet (or the step was due when it was opened), whether
	// it comes due then or later (at the end of a maintenance window that
	// held it from its start, at a first step set later). A provider's
	// rate limit (Throttle) lets it go ahead of the pages waiting there
	// that are not.
	FirstPage bool `json:"-"`
}

// Notifier sends one message. Whether a failure is worth retrying (a 5xx,
// a 429, a network error before the page reached the provider) is a
// property of the error it returns (Temporary), and so is whether the page
// may have gone out all the same (MaybeSent: a timeout awaiting the
// answer), so every wrapper in the chain sees it: the retrier retries the
// first and still returns it, and the circuit breaker counts both.
type Notifier interface {
	Notify(ctx context.Context, m Message) error
}

// Temporary marks err as worth retrying: the provider may take the same
// page later. An error not so marked is about the page itself (a bad number,
// a 404) and trying again cannot help.
func Temporary(err error) error {
	if err == nil {
		return nil
	}
	return temporary{err}
}

type temporary struct{ error }

func (t temporary) Unwrap() error { return t.error }

// IsTemporary reports whether err, or an error it wraps, was marked by
// Temporary, and not by MaybeSent: a page that may have gone out is never
// worth sending again.
func IsTemporary(err error) bool {
	if errors.Is(err, ErrMaybeSent) {
		return false
	}
	var t temporary
	return errors.As(err, &t)
}

// ErrMaybeSent is what a failure after the page reached the provider is
// (errors.Is): the request was written, then the answer did not come (a
// timeout awaiting it, the connection reset). The provider may have taken
// the page, so it is not retried (a second SMS, a second call), and the
// person may not have it either, so it is not counted as sent. The circuit
// breaker counts it as it counts a Temporary failure: a provider that
// answers late is in trouble.
var ErrMaybeSent = errors.New("may have been sent")

// MaybeSent marks err as a failure after the page reached the provider
// (ErrMaybeSent); its text starts "may have been sent: ", so the timeline
// and the logs say so. It is not Temporary, whatever err was.
func MaybeSent(err error) error {
	if err == nil {
		return nil
	}
	return maybeSent{err}
}

type maybeSent struct{ err error }

func (m maybeSent) Error() string        { return ErrMaybeSent.Error() + ": " + m.err.Error() }
func (m maybeSent) Is(target error) bool { return target == ErrMaybeSent }

func (m maybeSent) Unwrap() error { return m.err }

// Failed words a failed send for the logs: "failed", or "may have been
// sent" when it failed after the page reached the provider (MaybeSent).
func Failed(err error) string {
	if errors.Is(err, ErrMaybeSent) {
		return "may have been sent"
	}
	return "failed"
}

// Retrier is a Notifier that retries another with Retry.
type Retrier struct {
	Next     Notifier
	Attempts int
	Base     time.Duration
}

// Notify sends with retries and returns the last failure as it was, so a
// temporary one stays temporary for the breaker around the retrier.
func (r Retrier) Notify(ctx context.Context, m Message) error {
	_, err := Retry(ctx, r.Next, m, r.Attempts, r.Base)
	return err
}

// Retry sends with up to attempts tries, backing off exponentially with
// jitter between them, and only while the failure is worth retrying and ctx
// allows. Before each try after the first it asks whether the page is still
// due (WithStillDue): an acknowledgement during the backoff ends the send
// with ErrNoLongerDue (the last failure named, not wrapped, so the breaker
// does not count the page as failed). It returns how many tries it took.
func Retry(ctx context.Context, n Notifier, m Message, attempts int, base time.Duration) (int, error) {
	if attempts < 1 {
		attempts = 1
	}
	for i := 1; ; i++ {
		err := n.Notify(ctx, m)
		if err == nil {
			return i, nil
		}
		if !IsTemporary(err) || i >= attempts {
			return i, err
		}
		backoff := base << (i - 1)
		backoff = backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return i, errors.Join(err, fmt.Errorf("gave up: %w", ctx.Err()))
		case <-t.C:
		}
		if due := stillDue(ctx); due != nil {
			return i, fmt.Errorf("%w (try %d had failed: %v)", due, i, err)
		}
	}
}
