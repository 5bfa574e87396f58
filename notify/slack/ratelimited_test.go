package slack_test

import (
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/slack"
)

// TestSlackRateLimitedCodeIsRetried: chat.postMessage documents two codes
// for a rate limit, ratelimited and rate_limited ("Application has posted
// too many messages"), answered 200 with ok:false. Only ratelimited was
// worth trying again: rate_limited was a refusal for good, so a direct
// message page was given up at once (counted refused, the person's next
// step or the next level brought forward), the incident's channel
// message was never posted, an update never made. Now both are retried.
func TestSlackRateLimitedCodeIsRetried(t *testing.T) {
	f := providertest.NewSlack(t)
	c := slack.New(slack.Options{Token: providertest.SlackBotToken, APIURL: f.URL, Timeout: 5 * time.Second})
	o := notify.DefaultChainOptions
	o.RetryBase = time.Millisecond
	for _, code := range []string{"ratelimited", "rate_limited"} {
		t.Run(code, func(t *testing.T) {
			before := len(f.Calls())
			f.Fail("chat.postMessage", code)
			err := notify.Chain(slack.NewNotifier(c), o).Notify(t.Context(), notify.Message{Incident: "01INC", User: "dan", Channel: "slack",
				Address: "U0DAN", Text: "[P0] api: down", Level: 1})
			if err != nil || len(f.Calls())-before != 1 {
				t.Fatalf("page: err %v, %d direct messages; want it sent on the retry", err, len(f.Calls())-before)
			}
			card := slack.Card{Incident: "01INC", Service: "api", Priority: "P0", Summary: "down", Status: "triggered", Level: "1"}
			f.Fail("chat.postMessage", code)
			if _, err := c.Post(t.Context(), "CINCIDENTS", card); !notify.IsTemporary(err) {
				t.Fatalf("channel post: %v; want worth trying again", err)
			}
			ref, err := c.Post(t.Context(), "CINCIDENTS", card)
			if err != nil {
				t.Fatal(err)
			}
			f.Fail("chat.update", code)
			if err := c.Update(t.Context(), ref, card); !notify.IsTemporary(err) {
				t.Fatalf("update: %v; want worth trying again", err)
			}
		})
	}
}
