package notify_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/email"
	"github.com/pagerd/pagerd/notify/pagerduty"
	"github.com/pagerd/pagerd/notify/slack"
	"github.com/pagerd/pagerd/notify/twilio"
)

// The fault soak's page after an acknowledgement: a replica's claim
// started a call 0.5 s before the call's incident was acknowledged, and
// the replica was stopped 1 ms later, for 6.1 s and then 3.0 s. Its send,
// counted on the time the process ran (notify.WithRunningTimeout), went
// out when it ran again: the person's phone rang 8.5 s after the
// acknowledgement was answered. A request whose process stalled since
// its send started now asks whether its page is still due before it goes
// out, and is called off when not.

// dueAnswer is a WithStillDue check answering due, counting its asks.
func dueAnswer(due bool, asked *atomic.Int32) context.Context {
	return notify.WithStillDue(context.Background(), func(context.Context) bool {
		asked.Add(1)
		return due
	})
}

// stalledSends are the transports the daemon sends pages with, each on
// its own fake provider; sent says how many pages the provider took.
func stalledSends(t *testing.T) map[string]struct {
	n    notify.Notifier
	m    notify.Message
	sent func() int
} {
	sends := stalledSendsOn(t, nil)
	// Email is not HTTP: it asks after the server's 354, before the
	// message goes.
	mx := providertest.NewSMTP(t)
	mail, err := email.New(email.Options{Smarthost: mx.Addr, From: "pagerd@aion.example", Username: providertest.SMTPUser,
		Password: providertest.SMTPPassword, RootCAs: mx.Pool})
	if err != nil {
		t.Fatal(err)
	}
	m := sends["webhook"].m
	m.Channel, m.Address = "email", "dan@aion.example"
	sends["email"] = struct {
		n    notify.Notifier
		m    notify.Message
		sent func() int
	}{mail, m, func() int { return len(mx.Mails()) }}
	return sends
}

// stalledSendsOn is stalledSends with each transport's calls carried by
// hc (nil: each its own client, on notify.NewTransport).
func stalledSendsOn(t *testing.T, hc *http.Client) map[string]struct {
	n    notify.Notifier
	m    notify.Message
	sent func() int
} {
	tw := providertest.NewTwilio(t)
	sms, err := twilio.New(twilio.Options{AccountSID: providertest.TwilioSID, AuthToken: providertest.TwilioToken,
		From: providertest.TwilioFrom, APIURL: tw.URL, PublicURL: "https://pagerd.example.com", HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	sl := providertest.NewSlack(t)
	pd := providertest.NewPagerDuty(t)
	var hooks atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A provider acts on a request it read whole; the headers
		// of one called off do reach it.
		if _, err := io.ReadAll(r.Body); err != nil {
			return
		}
		hooks.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hook.Close)
	page := notify.Message{Incident: "01INC", User: "dan", Level: 1, Text: "db down"}
	with := func(ch, addr string) notify.Message { m := page; m.Channel, m.Address = ch, addr; return m }
	return map[string]struct {
		n    notify.Notifier
		m    notify.Message
		sent func() int
	}{
		"sms":       {sms, with("sms", "+15555550111"), func() int { return len(tw.Messages()) }},
		"voice":     {sms, with("voice", "+15555550111"), func() int { return len(tw.Calls()) }},
		"slack":     {slack.NewNotifier(slack.New(slack.Options{Token: providertest.SlackBotToken, APIURL: sl.URL, HTTPClient: hc, Timeout: 5 * time.Second})), with("slack", "C0DAN"), func() int { return len(sl.Messages()) }},
		"pagerduty": {pagerduty.New(pd.URL, hc, 5*time.Second), with("pagerduty", "R0UTINGKEY00000000000000000000000"), func() int { return len(pd.Events()) }},
		"webhook":   {notify.NewWebhook(hc, 5*time.Second), with("webhook", hook.URL+"/hook"), func() int { return int(hooks.Load()) }},
	}
}

// TestPageNoLongerDueAfterAStallIsCalledOff: each transport's page, its
// process stalled a second after the send started, asks once whether it
// is still due; told no, it ends with notify.ErrNoLongerDue (not a
// failure: nothing to retry, nothing for the breaker) and the provider
// gets nothing.
func TestPageNoLongerDueAfterAStallIsCalledOff(t *testing.T) {
	for name, s := range stalledSends(t) {
		t.Run(name, func(t *testing.T) {
			notify.StallAfter(t, time.Second)
			var asked atomic.Int32
			err := s.n.Notify(dueAnswer(false, &asked), s.m)
			if !errors.Is(err, notify.ErrNoLongerDue) || notify.IsTemporary(err) || errors.Is(err, notify.ErrMaybeSent) {
				t.Fatalf("%v, want the page called off (ErrNoLongerDue)", err)
			}
			if n := s.sent(); n != 0 || asked.Load() != 1 {
				t.Fatalf("the provider took %d pages, the check was asked %d times; want 0 and 1", n, asked.Load())
			}
		})
	}
}

// TestPageStillDueAfterAStallIsSent: told yes, the page goes out, once;
// and a page whose process did not stall never asks (the hot path makes
// no store read), even one the check would say is no longer due.
func TestPageStillDueAfterAStallIsSent(t *testing.T) {
	for name, s := range stalledSends(t) {
		t.Run(name, func(t *testing.T) {
			before := s.sent()
			notify.StallAfter(t, time.Second)
			var asked atomic.Int32
			if err := s.n.Notify(dueAnswer(true, &asked), s.m); err != nil {
				t.Fatal(err)
			}
			if n := s.sent() - before; n != 1 || asked.Load() != 1 {
				t.Fatalf("the provider took %d pages, the check was asked %d times; want 1 and 1", n, asked.Load())
			}
		})
	}
	for name, s := range stalledSends(t) {
		t.Run(name+"/no stall", func(t *testing.T) {
			var asked atomic.Int32
			if err := s.n.Notify(dueAnswer(false, &asked), s.m); err != nil {
				t.Fatal(err)
			}
			if n := s.sent(); n != 1 || asked.Load() != 0 {
				t.Fatalf("the provider took %d pages, the check was asked %d times; want 1 and 0", n, asked.Load())
			}
		})
	}
}

// TestPageWrittenWholeBeforeAStallIsNotCalledOff: a page whose request
// went out whole, its body written to the provider's connection, and
// whose process then stalled (stopped just after the write, before
// net/http read its body once more to see that it held no more than its
// Content-Length) reached the provider: it must not be reported called
// off (ErrNoLongerDue says nothing went out; the dispatcher then records
// nothing, and the person's phone rang for a page no timeline shows).
// It is what it was before the stall: sent, the check not asked.
func TestPageWrittenWholeBeforeAStallIsNotCalledOff(t *testing.T) {
	var stalled atomic.Bool
	notify.StallWhen(t, stalled.Load, 2*time.Second)
	rt := notify.NewTransport()
	notify.DialThrough(t, rt, func(c net.Conn) net.Conn { return stallAfterBody{Conn: c, stalled: &stalled} })
	for name, s := range stalledSendsOn(t, &http.Client{Transport: rt}) {
		t.Run(name, func(t *testing.T) {
			stalled.Store(false)
			before := s.sent()
			var asked atomic.Int32
			err := s.n.Notify(dueAnswer(false, &asked), s.m)
			if n := s.sent() - before; err != nil || n != 1 {
				t.Fatalf("%v; the provider took %d pages (the check was asked %d times); want it sent, once", err, n, asked.Load())
			}
			if asked.Load() != 0 {
				t.Fatalf("the check was asked %d times after the page's body went out; want 0", asked.Load())
			}
			if !stalled.Load() {
				t.Fatal("the process did not stall after the body's write (written with its headers?): the test tests nothing")
			}
		})
	}
}

// stallAfterBody is a connection whose process stalls as soon as a
// request's body is written to it: a write that is not a request's
// headers (net/http writes those on their own first, then the body).
type stallAfterBody struct {
	net.Conn
	stalled *atomic.Bool
}

func (c stallAfterBody) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if !bytes.HasPrefix(p, []byte("POST ")) && !bytes.HasPrefix(p, []byte("GET ")) {
		c.stalled.Store(true)
	}
	return n, err
}

// TestPageWhoseClaimLookedBeforeAStallAsks: the claim read the incident,
// then the process stalled, then the page's send started. The
// acknowledgement that came in the stall is not in what the claim read:
// the page asks (from the claim's mark, notify.WithStallMark) and is called
// off. Counted from the send's start, it went out.
func TestPageWhoseClaimLookedBeforeAStallAsks(t *testing.T) {
	for name, s := range stalledSends(t) {
		t.Run(name, func(t *testing.T) {
			notify.StallAfter(t, time.Second)
			claimed := notify.WithStallMark(context.Background(), notify.TimeNotRunning())
			var asked atomic.Int32
			ctx := notify.WithStillDue(claimed, func(context.Context) bool { asked.Add(1); return false })
			if err := s.n.Notify(ctx, s.m); !errors.Is(err, notify.ErrNoLongerDue) {
				t.Fatalf("%v, want the page called off", err)
			}
			if n := s.sent(); n != 0 || asked.Load() != 1 {
				t.Fatalf("the provider took %d pages, the check was asked %d times; want 0 and 1", n, asked.Load())
			}
		})
	}
}

// TestPageWhoseQuestionIsSlowKeepsItsTimeout: the question a page asks
// after a stall takes longer than the transport's timeout (a store slow
// to answer as the replica runs again: the fault soak's took 2 s, on a 1 s
// webhook timeout). Its time is not the provider's: the page still goes
// out, once. Counted, the timeout ended before a byte went out, and the
// page failed untried.
func TestPageWhoseQuestionIsSlowKeepsItsTimeout(t *testing.T) {
	var got atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err == nil {
			got.Add(1)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	notify.StallAfter(t, time.Second)
	var asked atomic.Int32
	ctx := notify.WithStillDue(context.Background(), func(context.Context) bool {
		asked.Add(1)
		time.Sleep(300 * time.Millisecond)
		return true
	})
	err := notify.NewWebhook(nil, 100*time.Millisecond).Notify(ctx, notify.Message{Address: srv.URL + "/hook", Text: "x"})
	if err != nil || got.Load() != 1 || asked.Load() != 1 {
		t.Fatalf("%v; the receiver got %d pages, the check was asked %d times; want the page sent once after one question", err, got.Load(), asked.Load())
	}
}
