package pushover_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/pushover"
)

const key = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"

func TestPushoverPriorities(t *testing.T) {
	f := providertest.NewPushover(t)
	n := pushover.New(pushover.Options{Token: providertest.PushoverToken, APIURL: f.URL, Retry: 45 * time.Second, Expire: time.Hour,
		Callback: func(target, user string, _ int) string { return "https://pagerd.example.com/cb/" + target + "/" + user }})
	ctx := context.Background()
	high := notify.Message{Incident: "i1", User: "ann", Address: key, Priority: "P0", Service: "api", Urgency: "high", Text: "[P0] api: down",
		AckURL: "https://pagerd.example.com/ack/x"}
	low := high
	low.Urgency = "low"
	notice := notify.Message{User: "ann", Address: key, Summary: "You are on call now", Text: "You are on call now: ...", Notice: true}
	for _, m := range []notify.Message{high, low, notice} {
		if err := n.Notify(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	ms := f.Messages()
	if ms[0].Priority != 2 || ms[0].Retry != 45 || ms[0].Expire != 3600 || ms[0].Tags != "i1" || ms[0].Callback != "https://pagerd.example.com/cb/i1/ann" ||
		ms[0].URL != high.AckURL || ms[0].Title != "[P0] api" {
		t.Fatalf("emergency %+v", ms[0])
	}
	if ms[1].Priority != 0 || ms[1].Callback != "" || ms[2].Priority != 0 || ms[2].Title != "You are on call now" {
		t.Fatalf("low %+v notice %+v", ms[1], ms[2])
	}
	if err := n.Cancel(ctx, "i1"); err != nil || len(f.Cancels()) != 1 {
		t.Fatalf("cancel: %v %v", err, f.Cancels())
	}
	// Refusals: a bad key is final, a 500 may have been sent (not sent
	// again: a second emergency push is a second page); the token never
	// shows.
	bad := high
	bad.Address = "nope"
	if err := n.Notify(ctx, bad); err == nil || notify.IsTemporary(err) || !strings.Contains(err.Error(), "user identifier is invalid") {
		t.Fatalf("bad key: %v", err)
	}
	f.FailNext(1)
	if err := n.Notify(ctx, high); err == nil || !errors.Is(err, notify.ErrMaybeSent) || strings.Contains(err.Error(), providertest.PushoverToken) {
		t.Fatalf("500: %v", err)
	}
	wrong := pushover.New(pushover.Options{Token: "wrongtoken", APIURL: f.URL})
	if err := wrong.Notify(ctx, high); err == nil || strings.Contains(err.Error(), "wrongtoken") {
		t.Fatalf("wrong token: %v", err)
	}
}

// TestPushoverLateAnswerIsNotSentAgain: Pushover takes the emergency push
// but answers after the timeout. The chain the daemon builds (3 tries)
// pushed it 3 times; it pushes once and says it may have been sent.
func TestPushoverLateAnswerIsNotSentAgain(t *testing.T) {
	fake := providertest.NewPushover(t)
	p := pushover.New(pushover.Options{Token: providertest.PushoverToken, APIURL: providertest.LateAnswers(t, fake).URL, Timeout: 100 * time.Millisecond})
	o := notify.DefaultChainOptions
	o.RetryBase = time.Millisecond
	err := notify.Chain(p, o).Notify(t.Context(), notify.Message{Incident: "01INC", User: "dan", Channel: "push",
		Address: key, Text: "x", Priority: "P0", Service: "api"})
	if n := len(fake.Messages()); n != 1 {
		t.Errorf("one page, %d emergency pushes", n)
	}
	if !errors.Is(err, notify.ErrMaybeSent) || notify.IsTemporary(err) {
		t.Errorf("temporary %v err %v", notify.IsTemporary(err), err)
	}
}
