package slack_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/slack"
)

// TestSlackAnswerCutShort: Slack took the call and began its answer, 200
// and the start of the body, and the connection closed (a proxy, the
// network): slack-go reads "unexpected EOF", no network error. It was
// taken for a refusal for good: a direct message Slack had posted was
// recorded failed, not "may have been sent" (a level whose every page
// is refused escalates at once), the channel message posted was given
// up without a "maybe posted" record, so the next change posted a
// second one and the first stayed "triggered", and an update was never
// tried again. The message may have been posted; an update or a reply
// is tried again.
func TestSlackAnswerCutShort(t *testing.T) {
	f := providertest.NewSlack(t)
	c := slack.New(slack.Options{Token: providertest.SlackBotToken, APIURL: f.URL, Timeout: 5 * time.Second})
	o := notify.DefaultChainOptions
	o.RetryBase = time.Millisecond

	f.CutAnswer("chat.postMessage")
	err := notify.Chain(slack.NewNotifier(c), o).Notify(t.Context(), notify.Message{Incident: "01INC", User: "dan", Channel: "slack",
		Address: "U0DAN", Text: "[P0] api: down", Level: 1})
	if n := len(f.Calls()); n != 1 || !errors.Is(err, notify.ErrMaybeSent) {
		t.Fatalf("page: %d direct messages, err %v; want 1 and may have been sent", n, err)
	}

	card := slack.Card{Incident: "01INC", Service: "api", Priority: "P0", Summary: "down", Status: "triggered", Level: "1"}
	f.CutAnswer("chat.postMessage")
	if _, err := c.Post(t.Context(), "CINCIDENTS", card); !errors.Is(err, notify.ErrMaybeSent) {
		t.Fatalf("channel post: %v; want may have been sent", err)
	}
	ref, err := c.Post(t.Context(), "CINCIDENTS", card)
	if err != nil {
		t.Fatal(err)
	}
	f.CutAnswer("chat.update")
	if err := c.Update(t.Context(), ref, card); !notify.IsTemporary(err) {
		t.Fatalf("update: %v; want worth trying again", err)
	}
	f.CutAnswer("chat.postMessage")
	if err := c.Reply(t.Context(), ref, "Acknowledged by Ann"); !notify.IsTemporary(err) {
		t.Fatalf("reply: %v; want worth trying again", err)
	}
}
