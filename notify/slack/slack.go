// Package slack is pagerd's Slack integration, all of it, on
// github.com/slack-go/slack: pages to a person by direct message (Notifier,
// contacts `via: slack`), the one message per incident in its service's
// channel, posted and then updated in place with a thread reply for each
// change (Client.Post, Update, Reply; the daemon's outbox calls them, so a
// Slack outage delays them but loses none), shift notices and handoff
// documents to a team's channel (Say, PostDocument), and Slack's requests
// coming back, verified with the app's signing secret: the Acknowledge,
// Escalate and Resolve buttons, which act through notify.Receiver as the
// pagerd user the Slack user is, and the /oncall slash command.
package slack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/pagerd/pagerd/notify"
)

// Slack's addresses and pagerd's defaults for it.
const (
	// DefaultAPIURL is Slack's Web API.
	DefaultAPIURL = "https://slack.com/api/"
	// DefaultTimeout bounds one call to it.
	DefaultTimeout = 10 * time.Second
)

// Options configure a Client.
type Options struct {
	// Token is the app's bot token (xoxb-...).
	Token string
	// APIURL is the Web API's base (default DefaultAPIURL): a test's fake,
	// an egress proxy.
	APIURL string
	// HTTPClient carries the calls (default a client of its own).
	HTTPClient *http.Client
	// Timeout bounds each call (default DefaultTimeout).
	Timeout time.Duration
	// TokenFunc, when set, is the bot token in force, read at every call
	// instead of Token: a token rotated by a config reload is the one
	// the next call sends.
	TokenFunc func() string
}

// Client calls Slack's Web API as pagerd's app.
type Client struct {
	token func() string
	opts  []slack.Option
	// mu guards cur, the Web API client for the token last read (curToken).
	mu       sync.Mutex
	cur      *slack.Client
	curToken string

	http    *http.Client
	timeout time.Duration
	// ids are the ids of the channels pagerd names by #name, from
	// Slack's answers to its posts (guarded by mu): the channel's
	// history (FindCard) is read by id only.
	ids map[string]string

	// apiHost and apiScheme are the Web API's host and scheme:
	// response_urls are taken on Slack's hooks host or on it (a test's
	// fake, which serves both), over plain http only when the Web API
	// itself is (the fake), never to slack.com.
	apiHost, apiScheme string
}

// New makes a Client.
func New(o Options) *Client {
	if o.APIURL == "" {
		o.APIURL = DefaultAPIURL
	}
	if !strings.HasSuffix(o.APIURL, "/") {
		o.APIURL += "/"
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: notify.NewTransport()}
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	var apiHost, apiScheme string
	if u, err := url.Parse(o.APIURL); err == nil {
		apiHost, apiScheme = u.Host, u.Scheme
	}
	token := o.TokenFunc
	if token == nil {
		fixed := o.Token
		token = func() string { return fixed }
	}
	return &Client{token: token, opts: []slack.Option{slack.OptionAPIURL(o.APIURL), slack.OptionHTTPClient(o.HTTPClient)},
		http: o.HTTPClient, timeout: o.Timeout, apiHost: apiHost, apiScheme: apiScheme, ids: map[string]string{}}
}

// learn keeps the id Slack answered a post to channel with, when pagerd
// names the channel by #name.
func (c *Client) learn(channel, id string) {
	if !strings.HasPrefix(channel, "#") || id == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids[channel] = id
}

// channelID is channel's id: channel itself, or the one Slack answered a
// post to the #name with; ok is false for a name not posted to yet.
func (c *Client) channelID(channel string) (id string, ok bool) {
	if !strings.HasPrefix(channel, "#") {
		return channel, true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok = c.ids[channel]
	return id, ok
}

// api is the Web API client for the bot token in force.
func (c *Client) api() *slack.Client {
	t := c.token()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil || t != c.curToken {
		c.cur, c.curToken = slack.New(t, c.opts...), t
	}
	return c.cur
}

// Ref is where a posted message is: its channel's id and its timestamp,
// which Slack uses as the message's id.
type Ref struct {
	Channel, TS string
}

// String writes the reference as pagerd records it ("C0123 1712345678.000100").
func (r Ref) String() string { return r.Channel + " " + r.TS }

// ParseRef reads what String wrote.
func ParseRef(s string) (Ref, bool) {
	ch, ts, ok := strings.Cut(s, " ")
	return Ref{ch, ts}, ok && ch != "" && ts != "" && !strings.Contains(ts, " ")
}

// Card is what an incident's channel message shows.
type Card struct {
	Incident, Service, Priority, Summary string
	// Status is triggered, acknowledged or resolved.
	Status string
	// Level says where the incident is on its ladder ("2 (secondary)").
	Level string
	// AcknowledgedBy and ResolvedBy name who did, when someone did.
	AcknowledgedBy, ResolvedBy string
	// Escalated says the incident climbed past its first level.
	Escalated bool
	// AtLevel is the level the message shows, counted from 1: its
	// Escalate button escalates from it, once (0: from wherever the
	// incident is).
	AtLevel int
	// AtLevelSince is when that level started, as the message shows it:
	// at the last level, where an escalation starts the level again, its
	// Escalate button clicked twice escalates once (zero: not known).
	AtLevelSince time.Time
}

// statusIcon marks a status at a glance.
var statusIcon = map[string]string{"triggered": ":red_circle:", "acknowledged": ":large_orange_circle:", "resolved": ":large_green_circle:"}

// Action ids of the buttons: "pagerd:" and the action.
const actionPrefix = "pagerd:"

func (c Card) text() string {
	return fmt.Sprintf("[%s] %s: %s (%s)", c.Priority, c.Service, c.Summary, c.Status)
}

func (c Card) blocks() []slack.Block {
	head := slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType,
		fmt.Sprintf("%s *[%s] %s*: %s", statusIcon[c.Status], escape(c.Priority), escape(c.Service), escape(c.Summary)), false, false), nil, nil)
	facts := []string{"*" + c.Status + "*", "level " + escape(c.Level), "incident `" + escape(c.Incident) + "`"}
	switch {
	case c.AcknowledgedBy != "" && c.Status == "triggered":
		// Reopened (escalated, raised) since: nobody has it now.
		facts = append(facts, "reopened (was acknowledged by "+escape(c.AcknowledgedBy)+")")
	case c.AcknowledgedBy != "":
		facts = append(facts, "acknowledged by "+escape(c.AcknowledgedBy))
	}
	if c.ResolvedBy != "" {
		facts = append(facts, "resolved by "+escape(c.ResolvedBy))
	}
	ctx := slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, strings.Join(facts, " · "), false, false))
	blocks := []slack.Block{head, ctx}
	if b := buttons(c.Incident, c.Status, notify.Page{Level: c.AtLevel, At: c.AtLevelSince}, false); b != nil {
		blocks = append(blocks, b)
	}
	return blocks
}

// buttons are the actions a message offers on target (an incident or an
// alert-storm bundle): none once it is resolved. The Escalate button
// carries the level the message shows and since when (page; level 0 for
// none), so two clicks of it, or one each by two people, escalate once
// (EscalateValue). A page's Acknowledge button (isPage: a direct message,
// not the channel's card, which shows the incident as it is now) carries
// how many times the incident had been reopened when it went out
// (AckValue), so a late press does not silence the pages of a reopen
// since (notify.Receiver.AcknowledgePage).
func buttons(target, status string, page notify.Page, isPage bool) slack.Block {
	var els []slack.BlockElement
	add := func(action notify.Action, label, style string) {
		value := target
		switch {
		case action == notify.Escalate:
			value = EscalateValue(target, page.Level, page.At)
		case action == notify.Acknowledge && isPage:
			value = AckValue(target, page.Reopened)
		}
		b := slack.NewButtonBlockElement(actionPrefix+string(action), value, slack.NewTextBlockObject(slack.PlainTextType, label, false, false))
		if style != "" {
			b = b.WithStyle(slack.Style(style))
		}
		els = append(els, b)
	}
	switch status {
	case "resolved":
		return nil
	case "triggered", "":
		add(notify.Acknowledge, "Acknowledge", "primary")
	}
	add(notify.Escalate, "Escalate", "")
	add(notify.Resolve, "Resolve", "danger")
	return slack.NewActionBlock("pagerd-actions", els...)
}

// EscalateValue is the Escalate button's value: the target, then the level
// it escalates from (counted from 1) after a space, then when the page or
// the level the message shows went out (Unix milliseconds) after another;
// the target alone when the level is not known, and no time when that is
// not (buttons sent before values carried them are read as they were).
func EscalateValue(target string, level int, at time.Time) string {
	if level < 1 {
		return target
	}
	v := target + " " + strconv.Itoa(level)
	if !at.IsZero() {
		v += " " + strconv.FormatInt(at.UnixMilli(), 10)
	}
	return v
}

// AckValue is the value of a page's Acknowledge button: its target and
// how many times the incident had been reopened when the page went out
// ("r" and the count; a storm message's bundle keeps its incidents'
// counts itself).
func AckValue(target string, reopened int) string {
	return target + " r" + strconv.Itoa(reopened)
}

// ParseAckValue reads a page's Acknowledge button value (AckValue); ok is
// false for any other value (the channel card's, or a message's sent
// before pages carried the count), which acknowledges the incident as it
// is.
func ParseAckValue(v string) (page notify.Page, ok bool) {
	target, count, found := strings.Cut(v, " r")
	if !found {
		return notify.Page{}, false
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 0 {
		return notify.Page{}, false
	}
	return notify.Page{Target: target, Reopened: n}, true
}

// ParseButtonValue reads a button's value as the page it answers: its
// target, and for an Escalate button the level it escalates from (0 when
// it says none) and when that page went out (zero when it says not).
func ParseButtonValue(v string) notify.Page {
	f := strings.Split(v, " ")
	p := notify.Page{Target: f[0]}
	if len(f) < 2 || len(f) > 3 {
		return p
	}
	n, err := strconv.Atoi(f[1])
	if err != nil || n < 1 {
		return p
	}
	p.Level = n
	if len(f) == 3 {
		if ms, err := strconv.ParseInt(f[2], 10, 64); err == nil && ms > 0 {
			p.At = time.UnixMilli(ms)
		}
	}
	return p
}

// escape makes text safe in Slack's mrkdwn: &, < and > are its only
// control characters.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// cardEventType is the event type of the metadata an incident's message
// carries, with the incident's id as "incident" in its payload: what
// FindCard knows it by.
const cardEventType = "pagerd_incident"

// Post posts an incident's message to a channel (an id, or #name) and
// returns where it is. A failure after the request was written whole (a
// timeout awaiting Slack's answer, the connection reset, Slack's
// internal_error) is notify.MaybeSent: the message may be in the channel,
// and FindCard looks for it before it is posted again.
func (c *Client) Post(ctx context.Context, channel string, card Card) (Ref, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ctx, wrote := notify.TraceWrite(ctx)
	ch, ts, err := c.api().PostMessageContext(ctx, channel, slack.MsgOptionText(escape(card.text()), false),
		slack.MsgOptionBlocks(card.blocks()...), slack.MsgOptionDisableLinkUnfurl(),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: cardEventType, EventPayload: map[string]any{"incident": card.Incident}}))
	if err != nil {
		return Ref{}, classify("chat.postMessage", err, wrote.Load())
	}
	c.learn(channel, ch)
	return Ref{ch, ts}, nil
}

// History bounds FindCard's reading: at most historyMax messages, asked
// for historyPage at a time (Slack answers an app not approved for its
// Marketplace 15 at a time, and pages on until historyMax all the same).
const (
	historyPage = 200
	historyMax  = 1000
)

// FindCard looks for incident's message in channel among those posted
// from from to to (to zero: until now), newest first, by the metadata
// Post gives it: a post whose answer was lost (notify.ErrMaybeSent) may
// have made it. The window is the caller's to keep narrow: in a busy
// channel the messages posted after it would use up the reading (and,
// for an app Slack allows one page a minute, its one page). ok is false
// when it is not there. An error says the history could not be read, or not all of
// it since then: a channel named by #name that pagerd has not posted to
// since it started (conversations.history takes ids only), an app
// without the channels:history scope (groups:history for a private
// channel), Slack down, more than historyMax messages. Slack's 429 to the
// first page (RetryAfter reads its wait) says only "not now": nothing was
// read, and the caller tries again later rather than post a second
// message. A 429 to a later page (an app not approved for the
// Marketplace may read one page a minute) says the history cannot be read
// whole in one go, and is not one: trying again would read the same first
// page and be refused the same second one, for good.
func (c *Client) FindCard(ctx context.Context, channel, incident string, from, to time.Time) (ref Ref, ok bool, err error) {
	id, known := c.channelID(channel)
	if !known {
		return Ref{}, false, fmt.Errorf("slack conversations.history: the id of %s is not known yet (it takes ids only)", channel)
	}
	// One call's bound for all the pages: the outbox item that looks
	// runs inside its incident's claim, whose lease must not run out.
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	oldest, latest := slackTS(from), ""
	if !to.IsZero() {
		latest = slackTS(to)
	}
	cursor := ""
	for read := 0; read < historyMax; {
		page, err := c.api().GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: id, Oldest: oldest,
			Latest: latest, Inclusive: true, Limit: min(historyPage, historyMax-read), Cursor: cursor, IncludeAllMetadata: true})
		if _, limited := RetryAfter(err); limited && read > 0 {
			return Ref{}, false, fmt.Errorf("slack conversations.history: rate limited after %d messages of %s since %s, not all read: %v",
				read, channel, oldest, err)
		}
		if err != nil {
			return Ref{}, false, classify("conversations.history", err, false)
		}
		for _, m := range page.Messages {
			if m.Metadata.EventType == cardEventType && m.Metadata.EventPayload["incident"] == incident {
				return Ref{id, m.Timestamp}, true, nil
			}
		}
		if !page.HasMore || page.ResponseMetaData.NextCursor == "" {
			return Ref{}, false, nil
		}
		// An empty page that says there is more counts as one
		// message, so that the reading ends.
		read += max(len(page.Messages), 1)
		cursor = page.ResponseMetaData.NextCursor
	}
	return Ref{}, false, fmt.Errorf("slack conversations.history: more than %d messages in %s since %s, not all read", historyMax, channel, oldest)
}

// slackTS is t as Slack's timestamps write it, seconds and microseconds.
func slackTS(t time.Time) string { return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000) }

// Timeout is what bounds each call to Slack: a post whose answer was lost
// went out within it of its start.
func (c *Client) Timeout() time.Duration { return c.timeout }

// RetryAfter reports whether err is Slack's 429 (rate limited), and the
// wait its Retry-After asked for.
func RetryAfter(err error) (time.Duration, bool) {
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) {
		return 0, false
	}
	return rl.RetryAfter, true
}

// Update brings an incident's message up to date.
func (c *Client) Update(ctx context.Context, ref Ref, card Card) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_, _, _, err := c.api().UpdateMessageContext(ctx, ref.Channel, ref.TS, slack.MsgOptionText(escape(card.text()), false),
		slack.MsgOptionBlocks(card.blocks()...))
	return classify("chat.update", err, false)
}

// Reply posts text in the thread of a message, as written: its &, < and
// > are escaped, since status updates and reasons come from outside and
// must not mention @channel or make links.
func (c *Client) Reply(ctx context.Context, ref Ref, text string) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_, _, err := c.api().PostMessageContext(ctx, ref.Channel, slack.MsgOptionText(escape(text), false), slack.MsgOptionTS(ref.TS),
		slack.MsgOptionDisableLinkUnfurl())
	return classify("chat.postMessage", err, false)
}

// Say posts text to a channel (a shift notice to a team), escaped as
// Reply's is.
func (c *Client) Say(ctx context.Context, channel, text string) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ch, _, err := c.api().PostMessageContext(ctx, channel, slack.MsgOptionText(escape(text), false), slack.MsgOptionDisableLinkUnfurl())
	c.learn(channel, ch)
	return classify("chat.postMessage", err, false)
}

// Check asks Slack whether it takes the bot token (auth.test), posting
// nothing: what pagerd serve tries at start, so that a revoked token shows
// before the first page. auth.test passes for a token without the
// chat:write scope too, with which Slack refuses every page and every
// channel message (missing_scope): the scopes Slack lists in its answer
// (X-OAuth-Scopes) must include it. An answer without the list (a proxy
// that drops it) is taken as it is.
func (c *Client) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.api().AuthTestContext(ctx)
	if err != nil {
		return classify("auth.test", err, false)
	}
	// A classic app's bot token has the one scope bot, which posts.
	if scopes := resp.Header.Get("X-OAuth-Scopes"); scopes != "" && !hasScope(scopes, "chat:write") && !hasScope(scopes, "bot") {
		return fmt.Errorf("slack auth.test: the bot token lacks the chat:write scope (it has %s), so Slack refuses every direct message and channel post (missing_scope): add chat:write in the app's OAuth & Permissions, reinstall it and set the new token", scopes)
	}
	return nil
}

// hasScope reports whether the comma-separated scopes (X-OAuth-Scopes)
// hold scope.
func hasScope(scopes, scope string) bool {
	for _, s := range strings.Split(scopes, ",") {
		if strings.TrimSpace(s) == scope {
			return true
		}
	}
	return false
}

// MaxMarkdownBlock is the most text one markdown block takes (Slack's
// limit); a longer markdown document goes as plain text.
const MaxMarkdownBlock = 12000

// PostDocument posts a document to a channel (a handoff document to a
// team) as it is written: markdown in a markdown block, which Slack renders
// as standard markdown (headings, lists, bold), and plain text with Slack's
// own markup off, so that the lines come out as the template has them. The
// message's text is the whole document either way (what notifications and
// clients without blocks show). A markdown document too long for one
// block goes as plain text.
func (c *Client) PostDocument(ctx context.Context, channel, doc string, markdown bool) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	opts := []slack.MsgOption{slack.MsgOptionText(escape(doc), false), slack.MsgOptionDisableLinkUnfurl()}
	if markdown && utf8.RuneCountInString(doc) <= MaxMarkdownBlock {
		opts = append(opts, slack.MsgOptionBlocks(slack.NewMarkdownBlock("", doc)))
	} else {
		opts = append(opts, slack.MsgOptionDisableMarkdown())
	}
	ch, _, err := c.api().PostMessageContext(ctx, channel, opts...)
	c.learn(channel, ch)
	return classify("chat.postMessage", err, false)
}

// ephemeral shows text to one user in a channel, and to nobody else.
func (c *Client) ephemeral(ctx context.Context, channel, user, text string) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_, err := c.api().PostEphemeralContext(ctx, channel, user, slack.MsgOptionText(text, false))
	return classify("chat.postEphemeral", err, false)
}

// responseHost is where Slack's response_urls are.
const responseHost = "hooks.slack.com"

// respond shows text to the user who pressed a button, in a message only
// they see, through the interaction's response_url: unlike
// chat.postEphemeral it needs neither the user in the channel nor the app
// allowed to message them. The URL comes in a signed payload; it is still
// taken only on Slack's hooks host (https) or the Web API's own (a
// test's fake), so that a payload cannot make pagerd post elsewhere, and
// over plain http only when the Web API's URL is http itself (the fake):
// with Slack's https API, http://slack.com/... is refused like a foreign
// URL.
func (c *Client) respond(ctx context.Context, responseURL, text string) error {
	u, err := url.Parse(responseURL)
	if err != nil || !c.slacksResponseURL(u) {
		return fmt.Errorf("slack response_url: not Slack's: %q", responseURL)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	err = slack.PostWebhookCustomHTTPContext(ctx, responseURL, c.http,
		&slack.WebhookMessage{Text: text, ResponseType: slack.ResponseTypeEphemeral, ReplaceOriginal: false})
	return classify("response_url", err, false)
}

// slacksResponseURL reports whether u may be a response_url: https on
// Slack's hooks host or on the Web API's host, or the Web API's own
// scheme and host when that scheme is http (a test's fake).
func (c *Client) slacksResponseURL(u *url.URL) bool {
	switch {
	case u.Scheme == "https":
		return u.Host == responseHost || u.Host == c.apiHost
	case u.Scheme == "http":
		return c.apiScheme == "http" && u.Host == c.apiHost
	}
	return false
}

// temporaryErrors are Slack's error codes worth trying again: a rate
// limit has two (chat.postMessage documents rate_limited, "Application
// has posted too many messages", besides ratelimited).
var temporaryErrors = map[string]bool{"ratelimited": true, "rate_limited": true, "internal_error": true, "fatal_error": true,
	"service_unavailable": true, "request_timeout": true}

// maybeDoneErrors are those of them that Slack documents as "possible some
// aspect of the operation succeeded before the error was raised": for a
// page, the message may have been posted (notify.MaybeSent).
var maybeDoneErrors = map[string]bool{"internal_error": true, "fatal_error": true}

// classify names the method in an error and marks what is worth retrying
// (rate limits, Slack's 5xx and transient errors, the network) as
// notify.Temporary. Slack's errors never carry the token.
//
// A network error after the request was written whole (wrote: a timeout
// awaiting the answer, the connection reset or closed mid-answer) may
// come after Slack posted the message. For a page that is notify.MaybeSent, never retried: a
// second direct message is a second page. Notifier passes wrote, and so
// does Post: an incident's message is looked for in the channel
// (FindCard) before it is posted again. The calls behind thread replies,
// shift notices and handoff documents pass false and are retried, since a
// post twice in a channel is a line too many and one given up is a
// channel that never hears of it.
func classify(method string, err error, wrote bool) error {
	if err == nil {
		return nil
	}
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	var se slack.SlackErrorResponse
	var ne net.Error
	e := fmt.Errorf("slack %s: %w", method, err)
	switch {
	case errors.As(err, &rl):
		return notify.Temporary(e)
	case errors.As(err, &sc):
		if wrote {
			return notify.Answered(sc.Code, e)
		}
		if sc.Code >= 500 || sc.Code == http.StatusTooManyRequests {
			return notify.Temporary(e)
		}
		return e
	case errors.As(err, &se):
		if wrote && maybeDoneErrors[se.Err] {
			return notify.MaybeSent(e)
		}
		if temporaryErrors[se.Err] {
			return notify.Temporary(e)
		}
		return e
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		// The connection closed mid-answer (unexpected EOF, no network
		// error): Slack took the call and began to answer.
		if wrote {
			return notify.MaybeSent(e)
		}
		return notify.Temporary(e)
	}
	return e
}

// IsPermanent reports whether an error of a call says the call can never
// succeed as made (a channel that does not exist, a token Slack refuses).
func IsPermanent(err error) bool { return err != nil && !notify.IsTemporary(err) }

// ErrorCode is the reason Slack gave for refusing a call, for logs and
// alerts: its error code ("channel_not_found", "not_in_channel",
// "is_archived", "invalid_auth"...), "http_<status>" when it answered
// with an HTTP error, "" when it gave none (the network, a timeout).
func ErrorCode(err error) string {
	var se slack.SlackErrorResponse
	var sc slack.StatusCodeError
	switch {
	case errors.As(err, &se):
		return se.Err
	case errors.As(err, &sc):
		return "http_" + strconv.Itoa(sc.Code)
	}
	return ""
}

// Notifier pages a person by direct message (the contact's address, their
// Slack member id, or a channel), with Acknowledge, Escalate and Resolve
// buttons and their ack link.
type Notifier struct{ c *Client }

var _ notify.Notifier = (*Notifier)(nil)

// NewNotifier pages through c.
func NewNotifier(c *Client) *Notifier { return &Notifier{c: c} }

// Notify sends the page. A failure after the message was written whole (a
// timeout awaiting Slack's answer, the connection reset) is
// notify.MaybeSent: Slack may have posted it, and a retry would page twice.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) error {
	if m.Address == "" {
		return errors.New("slack: the contact has no Slack member id or channel")
	}
	blocks := []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, escape(m.Text), false, false), nil, nil)}
	if m.Incident != "" && !m.Notice {
		// The page's level, and when it went out: its Escalate button
		// escalates from it, once, at the last level too.
		page := notify.Page{Level: m.Level, At: m.At, Reopened: m.Reopened}
		if len(m.Incidents) > 0 {
			// A storm message: its incidents are each at their own level.
			page = notify.Page{}
		}
		if b := buttons(m.Incident, "", page, true); b != nil {
			blocks = append(blocks, b)
		}
	}
	ctx, cancel := notify.WithRunningTimeout(ctx, n.c.timeout)
	defer cancel()
	ctx, wrote := notify.TraceWrite(ctx)
	_, _, err := n.c.api().PostMessageContext(ctx, m.Address, slack.MsgOptionText(escape(m.Text), false), slack.MsgOptionBlocks(blocks...),
		slack.MsgOptionDisableLinkUnfurl())
	if wait, limited := RetryAfter(err); limited && wait <= notify.MaxRetryAfter {
		// Slack said when it takes the message: the page keeps its turn
		// then, as for pagerd's own rate limits, rather than be retried
		// inside the wait and given up (and counted by the breaker). A
		// wait past MaxRetryAfter is a failure, as any provider's: held
		// that long, the page is better failed with the person's next
		// step brought forward.
		return notify.OverRateLimit(max(wait, time.Second), "Slack answered 429 to chat.postMessage (Retry-After)")
	}
	if err != nil && !wrote.Load() {
		if off := notify.CalledOff(ctx, "slack chat.postMessage"); off != nil {
			return off
		}
	}
	return classify("chat.postMessage", err, wrote.Load())
}
