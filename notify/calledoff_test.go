package notify_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify"
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
	tw := providertest.NewTwilio(t)
	sms, err := twilio.New(twilio.Options{AccountSID: providertest.TwilioSID, AuthToken: providertest.TwilioToken,
		From: providertest.TwilioFrom, APIURL: tw.URL, PublicURL: "https://pagerd.example.com"})
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
		"slack":     {slack.NewNotifier(slack.New(slack.Options{Token: providertest.SlackBotToken, APIURL: sl.URL, Timeout: 5 * time.Second})), with("slack", "C0DAN"), func() int { return len(sl.Messages()) }},
		"pagerduty": {pagerduty.New(pd.URL, nil, 5*time.Second), with("pagerduty", "R0UTINGKEY00000000000000000000000"), func() int { return len(pd.Events()) }},
		"webhook":   {notify.NewWebhook(nil, 5*time.Second), with("webhook", hook.URL+"/hook"), func() int { return int(hooks.Load()) }},
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
