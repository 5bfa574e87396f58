package slack_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/slack"
)

// The Web API client against the fake: a message posted, updated in
// place, replied to in its thread; errors worth retrying are told from
// final ones, and none carries the token.
func TestSlackClient(t *testing.T) {
	f := providertest.NewSlack(t)
	c := slack.New(slack.Options{Token: providertest.SlackBotToken, APIURL: f.URL, Timeout: 5 * time.Second})
	ctx := context.Background()
	card := slack.Card{Incident: "i1", Service: "api", Priority: "P0", Summary: "db <down> & out", Status: "triggered", Level: "1 (primary)"}
	ref, err := c.Post(ctx, "#incidents", card)
	if err != nil || ref.Channel != "CINCIDENTS" || ref.TS == "" {
		t.Fatalf("post: %+v %v", ref, err)
	}
	if r, ok := slack.ParseRef(ref.String()); !ok || r != ref {
		t.Fatalf("ref round trip: %+v %v", r, ok)
	}
	card.Status, card.AcknowledgedBy = "acknowledged", "Ann"
	if err := c.Update(ctx, ref, card); err != nil {
		t.Fatal(err)
	}
	if err := c.Reply(ctx, ref, "Acknowledged by Ann"); err != nil {
		t.Fatal(err)
	}
	m := f.Messages()[0]
	if !strings.Contains(m.Blocks, `db \u0026lt;down\u0026gt; \u0026amp; out`) || strings.Contains(m.Blocks, "pagerd:acknowledge") || len(m.Replies) != 1 {
		t.Fatalf("message %+v", m)
	}
	// Slack's refusals: final, or worth trying again.
	if err := c.Update(ctx, slack.Ref{Channel: "CNOPE", TS: "1.2"}, card); err == nil || notify.IsTemporary(err) || !slack.IsPermanent(err) {
		t.Fatalf("unknown message: %v", err)
	}
	f.Fail("chat.postMessage", "ratelimited")
	if _, err := c.Post(ctx, "#incidents", card); err == nil || !notify.IsTemporary(err) {
		t.Fatalf("rate limited: %v", err)
	}
	bad := slack.New(slack.Options{Token: "xoxb-wrong-token", APIURL: f.URL})
	if _, err := bad.Post(ctx, "#incidents", card); err == nil || notify.IsTemporary(err) || strings.Contains(err.Error(), "xoxb-wrong-token") {
		t.Fatalf("bad token: %v", err)
	}
}

func TestFormatOnCall(t *testing.T) {
	until := time.Date(2025, 9, 15, 0, 0, 0, 0, time.UTC)
	got := slack.FormatOnCall(slack.OnCall{
		Now:  []slack.Shift{{Schedule: "s", Tier: "primary", User: "ann", Name: "Ann", Until: until, Override: "swap"}, {Schedule: "s", Tier: "secondary"}},
		Next: []slack.Shift{{Schedule: "s", Tier: "primary", User: "bob", Name: "Bob"}},
	})
	for _, want := range []string{"*s*", "• primary: Ann until <!date^1757894400^", "(override: swap); next Bob", "• secondary: nobody"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q not in:\n%s", want, got)
		}
	}
}
