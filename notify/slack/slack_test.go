package slack_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
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

// A document goes as written: markdown in a markdown block that Slack
// renders, plain text with Slack's markup off; the message's text is the
// document (escaped as Slack's text must be) either way, and a markdown
// document too long for one block goes as plain text rather than be
// refused.
func TestPostDocument(t *testing.T) {
	f := providertest.NewSlack(t)
	c := slack.New(slack.Options{Token: providertest.SlackBotToken, APIURL: f.URL, Timeout: 5 * time.Second})
	ctx := context.Background()
	md := "# On-Call Handoff - 2025-10-13\n\n- **Incidents** this week: 9 (p99 < 2s & falling)\n"
	text := "=== ON-CALL HANDOFF ===\nDate: 2025-10-13\n- Active alerts: 1: [P3] *not bold* <none>\n"
	long := "# Week\n" + strings.Repeat("- an escalation, one line of many\n", 400)
	for _, doc := range []struct {
		text     string
		markdown bool
	}{{md, true}, {text, false}, {long, true}} {
		if err := c.PostDocument(ctx, "#on-call-handoff", doc.text, doc.markdown); err != nil {
			t.Fatal(err)
		}
	}
	calls := f.Calls()
	if len(calls) != 3 {
		t.Fatalf("%d calls: %+v", len(calls), calls)
	}
	for i, c := range calls {
		if c.Method != "chat.postMessage" || c.Channel != "#on-call-handoff" {
			t.Errorf("call %d: %+v", i, c)
		}
	}
	if c := calls[0]; c.Mrkdwn != "" || !strings.Contains(c.Blocks, `"type":"markdown"`) || !strings.Contains(c.Blocks, `**Incidents**`) ||
		c.Text != "# On-Call Handoff - 2025-10-13\n\n- **Incidents** this week: 9 (p99 &lt; 2s &amp; falling)\n" {
		t.Errorf("markdown: %+v", c)
	}
	if c := calls[1]; c.Mrkdwn != "false" || c.Blocks != "" || c.Text != "=== ON-CALL HANDOFF ===\nDate: 2025-10-13\n- Active alerts: 1: [P3] *not bold* &lt;none&gt;\n" {
		t.Errorf("text: %+v", c)
	}
	if c := calls[2]; len(long) <= slack.MaxMarkdownBlock || c.Mrkdwn != "false" || c.Blocks != "" || c.Text != long {
		t.Errorf("long markdown (%d characters): mrkdwn %q, blocks %d bytes, text %d bytes", len(long), c.Mrkdwn, len(c.Blocks), len(c.Text))
	}
	f.Fail("chat.postMessage", "channel_not_found")
	if err := c.PostDocument(ctx, "#nope", md, true); !slack.IsPermanent(err) {
		t.Errorf("no such channel: %v", err)
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

// TestSlackLateAnswerIsNotSentAgain: Slack takes the direct message but
// answers after the client's timeout. The chain the daemon builds (3
// tries) took the timeout for worth retrying: the person got the DM 3
// times. It is sent once, and the error says it may have been sent.
func TestSlackLateAnswerIsNotSentAgain(t *testing.T) {
	fake := providertest.NewSlack(t)
	c := slack.New(slack.Options{Token: providertest.SlackBotToken, APIURL: providertest.LateAnswers(t, fake).URL + "/api/", Timeout: 100 * time.Millisecond})
	o := notify.DefaultChainOptions
	o.RetryBase = time.Millisecond
	err := notify.Chain(slack.NewNotifier(c), o).Notify(t.Context(), notify.Message{Incident: "01INC", User: "dan", Channel: "slack",
		Address: "U0DAN", Text: "[P0] api: down", Level: 1})
	if n := len(fake.Calls()); n != 1 {
		t.Errorf("one page, %d direct messages", n)
	}
	if !errors.Is(err, notify.ErrMaybeSent) || notify.IsTemporary(err) || !strings.HasPrefix(err.Error(), "may have been sent: slack chat.postMessage: ") {
		t.Errorf("temporary %v err %v", notify.IsTemporary(err), err)
	}
}

// TestSlackNotReachedIsRetried: the first connection to Slack is refused,
// so no message can have been posted: the page is tried again, and the
// person gets one direct message.
func TestSlackNotReachedIsRetried(t *testing.T) {
	fake := providertest.NewSlack(t)
	var dials atomic.Int32
	var d net.Dialer
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) == 1 {
			return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
		}
		return d.DialContext(ctx, network, addr)
	}}}
	c := slack.New(slack.Options{Token: providertest.SlackBotToken, APIURL: fake.URL, HTTPClient: hc, Timeout: 5 * time.Second})
	o := notify.DefaultChainOptions
	o.RetryBase = time.Millisecond
	m := notify.Message{Incident: "01INC", User: "dan", Channel: "slack", Address: "U0DAN", Text: "[P0] api: down", Level: 1}
	if err := notify.Chain(slack.NewNotifier(c), o).Notify(t.Context(), m); err != nil || len(fake.Calls()) != 1 || dials.Load() != 2 {
		t.Fatalf("err %v, %d direct messages, %d dials", err, len(fake.Calls()), dials.Load())
	}
	// Nothing listens at all: worth retrying, never "may have been sent".
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	err := slack.NewNotifier(slack.New(slack.Options{Token: providertest.SlackBotToken, APIURL: srv.URL + "/api/"})).Notify(t.Context(), m)
	if !notify.IsTemporary(err) || errors.Is(err, notify.ErrMaybeSent) {
		t.Fatalf("temporary %v err %v", notify.IsTemporary(err), err)
	}
}

// FindCard finds an incident's message by the metadata Post gave it,
// among the channel's messages since a time, page after page, and says
// when it could not read them all: a channel named by #name before
// pagerd posted there (conversations.history takes ids only), or more
// messages since than it reads.
func TestFindCard(t *testing.T) {
	f := providertest.NewSlack(t)
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	f.SetClock(func() time.Time { return at })
	c := slack.New(slack.Options{Token: providertest.SlackBotToken, APIURL: f.URL, Timeout: 5 * time.Second})
	ctx := context.Background()
	if _, _, err := c.FindCard(ctx, "#incidents", "i1", at, time.Time{}); err == nil {
		t.Fatal("the history of a #name read before pagerd posted there")
	}
	card := slack.Card{Incident: "i1", Service: "api", Priority: "P0", Summary: "db down", Status: "triggered", Level: "1 (primary)"}
	ref, err := c.Post(ctx, "#incidents", card)
	if err != nil {
		t.Fatal(err)
	}
	for range 250 {
		if err := c.Say(ctx, "#incidents", "a line"); err != nil {
			t.Fatal(err)
		}
	}
	if got, ok, err := c.FindCard(ctx, "#incidents", "i1", at.Add(-time.Minute), time.Time{}); err != nil || !ok || got != ref {
		t.Fatalf("found %+v %v %v, want %+v", got, ok, err, ref)
	}
	if _, ok, err := c.FindCard(ctx, "#incidents", "i2", at.Add(-time.Minute), time.Time{}); err != nil || ok {
		t.Fatalf("another incident's message found: %v %v", ok, err)
	}
	if _, ok, err := c.FindCard(ctx, ref.Channel, "i1", at.Add(time.Second), time.Time{}); err != nil || ok {
		t.Fatalf("a message from before the time found: %v %v", ok, err)
	}
	if _, ok, err := c.FindCard(ctx, ref.Channel, "i1", at.Add(-2*time.Minute), at.Add(-time.Second)); err != nil || ok {
		t.Fatalf("a message from after the window found: %v %v", ok, err)
	}
	for range 800 {
		if err := c.Say(ctx, "#incidents", "a line"); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, err := c.FindCard(ctx, "#incidents", "i1", at.Add(-time.Minute), time.Time{}); err == nil || ok {
		t.Fatalf("found past the messages it reads: %v %v", ok, err)
	}
}

// TestFindCardRateLimitedAndInPagesOf15: Slack answers an app not approved
// for its Marketplace 15 messages a page, and one read a minute. FindCard
// pages on through 15-message pages to the 1,000 messages it reads (not
// 5 pages: 75), and says a 429 to its first page is one (RetryAfter,
// Slack's wait: the caller tries again later rather than post the card a
// second time), while a 429 to a later page is a history it cannot read
// whole, as a refusal is (trying again would be refused the same page).
func TestFindCardRateLimitedAndInPagesOf15(t *testing.T) {
	f := providertest.NewSlack(t)
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	f.SetClock(func() time.Time { return at })
	f.HistoryLimit(15)
	c := slack.New(slack.Options{Token: providertest.SlackBotToken, APIURL: f.URL, Timeout: 5 * time.Second})
	ctx := context.Background()
	card := slack.Card{Incident: "i1", Service: "api", Priority: "P0", Summary: "db down", Status: "triggered", Level: "1 (primary)"}
	ref, err := c.Post(ctx, "CINCIDENTS", card)
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if err := c.Say(ctx, "CINCIDENTS", "a line"); err != nil {
			t.Fatal(err)
		}
	}
	if got, ok, err := c.FindCard(ctx, "CINCIDENTS", "i1", at.Add(-time.Minute), time.Time{}); err != nil || !ok || got != ref {
		t.Fatalf("found %+v %v %v in pages of 15, want %+v", got, ok, err, ref)
	}
	f.RateLimit("conversations.history", 0, 60*time.Second)
	_, ok, err := c.FindCard(ctx, "CINCIDENTS", "i1", at.Add(-time.Minute), time.Time{})
	if wait, limited := slack.RetryAfter(err); !limited || wait != time.Minute || ok {
		t.Fatalf("a 429 to the first page: %v %v, want Slack's wait (%v %v)", ok, err, wait, limited)
	}
	f.RateLimit("conversations.history", 2, 60*time.Second)
	_, ok, err = c.FindCard(ctx, "CINCIDENTS", "i1", at.Add(-time.Minute), time.Time{})
	if _, limited := slack.RetryAfter(err); err == nil || limited || ok {
		t.Fatalf("a 429 to the third page: %v %v, want a history not read whole, not a wait", ok, err)
	}
	for range 1000 - 101 {
		if err := c.Say(ctx, "CINCIDENTS", "a line"); err != nil {
			t.Fatal(err)
		}
	}
	if got, ok, err := c.FindCard(ctx, "CINCIDENTS", "i1", at.Add(-time.Minute), time.Time{}); err != nil || !ok || got != ref {
		t.Fatalf("the 1,000th message not found in pages of 15: %+v %v %v", got, ok, err)
	}
	if err := c.Say(ctx, "CINCIDENTS", "a line"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := c.FindCard(ctx, "CINCIDENTS", "i1", at.Add(-time.Minute), time.Time{}); err == nil || ok {
		t.Fatalf("found past the 1,000 messages it reads: %v %v", ok, err)
	}
}

// TestCheckSaysTheTokenCannotPost: auth.test passes for any valid token,
// one without the chat:write scope too, with which Slack refuses every
// page and every channel message (missing_scope). pagerd serve's check of
// Slack said "passed" and pagerd_provider_check_ok 1 for a daemon that
// could page nobody on Slack. Slack lists the token's scopes in the
// X-OAuth-Scopes header of its answer: the check reads them.
func TestCheckSaysTheTokenCannotPost(t *testing.T) {
	f := providertest.NewSlack(t)
	c := slack.New(slack.Options{Token: providertest.SlackBotToken, APIURL: f.URL, Timeout: 5 * time.Second})
	if err := c.Check(t.Context()); err != nil {
		t.Fatalf("a token with the scopes asked for: %v", err)
	}
	f.SetScopes("commands,channels:history,chat:write.customize")
	err := c.Check(t.Context())
	if err == nil || !strings.Contains(err.Error(), "chat:write") || notify.IsTemporary(err) {
		t.Fatalf("a token without chat:write: %v", err)
	}
	f.SetScopes("bot")
	if err := c.Check(t.Context()); err != nil {
		t.Fatalf("a classic app's bot token: %v", err)
	}
	f.SetScopes("commands,channels:history,chat:write.customize")
	perr := slack.NewNotifier(c).Notify(t.Context(), notify.Message{Incident: "01INC", User: "dan", Channel: "slack", Address: "U0DAN",
		Text: "[P0] api: down", Level: 1})
	if slack.ErrorCode(perr) != "missing_scope" {
		t.Fatalf("the page it checks for: %v", perr)
	}
}
