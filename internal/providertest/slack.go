package providertest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// Slack's fake: the Web API methods pagerd calls (chat.postMessage,
// chat.update, chat.postEphemeral), checking the bot token, the channel,
// the message a call names and that blocks are JSON (a markdown block's
// text within Slack's 12,000 characters), and answering as
// Slack does (HTTP 200 with {"ok": false, "error": ...} for a refusal);
// and Slack's side of the app's requests to pagerd, signed as Slack signs
// them (v0 HMAC-SHA256 of the timestamp and body with the signing secret).

// The fake Slack's credentials, for notifiers.slack.
const (
	SlackBotToken      = "xoxb-1234-5678-fakeslacktoken"
	SlackSigningSecret = "8f742231b10e8888abcd99yyyzzz85a5"
)

// SlackCall is one Web API call the fake took.
type SlackCall struct {
	Method   string
	Channel  string // as pagerd named it
	TS       string // chat.update: the message; chat.postMessage: the one it made
	ThreadTS string
	User     string // chat.postEphemeral: who sees it
	Text     string
	Blocks   string // the blocks' JSON
	// Mrkdwn is "false" when the message turned Slack's markup off (its
	// text shows as written).
	Mrkdwn string
}

// SlackMessage is a message as it stands in the fake.
type SlackMessage struct {
	Channel, TS, Text, Blocks string
	// Replies are the texts posted in its thread.
	Replies []string
}

// Slack is a fake Slack.
type Slack struct {
	// URL is the Web API's base: notifiers.slack.api_url.
	URL string

	mu       sync.Mutex
	calls    []SlackCall
	messages map[string]*SlackMessage // by channel id + " " + ts
	order    []string
	next     int
	fail     map[string]string // method -> error to answer once
	// authTests counts auth.test calls (not in calls: they post nothing).
	authTests int
}

// NewSlack starts a fake Slack for the test.
func NewSlack(t testing.TB) *Slack {
	t.Helper()
	f := &Slack{messages: map[string]*SlackMessage{}, fail: map[string]string{}}
	s := httptest.NewServer(f)
	t.Cleanup(s.Close)
	f.URL = s.URL + "/api/"
	return f
}

// ChannelID is the id the fake gives a channel pagerd names by #name (a
// name that is already an id stays as it is).
func ChannelID(name string) string {
	n, ok := strings.CutPrefix(name, "#")
	if !ok {
		return name
	}
	var b strings.Builder
	b.WriteString("C")
	for _, r := range strings.ToUpper(n) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Fail makes the next call of method answer with Slack's error code.
func (f *Slack) Fail(method, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[method] = code
}

// AuthTests is how many auth.test calls the fake answered.
func (f *Slack) AuthTests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.authTests
}

// Calls are the calls the fake took, in order.
func (f *Slack) Calls() []SlackCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]SlackCall(nil), f.calls...)
}

// Messages are the messages posted outside threads, oldest first.
func (f *Slack) Messages() []SlackMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []SlackMessage
	for _, k := range f.order {
		m := *f.messages[k]
		m.Replies = append([]string(nil), m.Replies...)
		out = append(out, m)
	}
	return out
}

func (f *Slack) answer(w http.ResponseWriter, v map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *Slack) refuse(w http.ResponseWriter, code string) {
	f.answer(w, map[string]any{"ok": false, "error": code})
}

// ServeHTTP answers as Slack's Web API.
func (f *Slack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	method, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		f.refuse(w, "invalid_form_data")
		return
	}
	token := r.PostForm.Get("token")
	if h := r.Header.Get("Authorization"); h != "" {
		token = strings.TrimPrefix(h, "Bearer ")
	}
	if token != SlackBotToken {
		f.refuse(w, "invalid_auth")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if code, ok := f.fail[method]; ok {
		delete(f.fail, method)
		f.refuse(w, code)
		return
	}
	if method == "auth.test" {
		f.authTests++
		f.answer(w, map[string]any{"ok": true, "url": "https://pagerd-test.slack.com/", "team": "pagerd test", "user": "pagerd",
			"team_id": "T0PAGERD", "user_id": "U0PAGERD", "bot_id": "B0PAGERD"})
		return
	}
	c := SlackCall{Method: method, Channel: r.PostForm.Get("channel"), TS: r.PostForm.Get("ts"), ThreadTS: r.PostForm.Get("thread_ts"),
		User: r.PostForm.Get("user"), Text: r.PostForm.Get("text"), Blocks: r.PostForm.Get("blocks"), Mrkdwn: r.PostForm.Get("mrkdwn")}
	if c.Channel == "" {
		f.refuse(w, "channel_not_found")
		return
	}
	if c.Text == "" && c.Blocks == "" {
		f.refuse(w, "no_text")
		return
	}
	if c.Blocks != "" {
		var blocks []map[string]any
		if err := json.Unmarshal([]byte(c.Blocks), &blocks); err != nil || len(blocks) == 0 {
			f.refuse(w, "invalid_blocks")
			return
		}
		for _, b := range blocks {
			typ, ok := b["type"].(string)
			if !ok {
				f.refuse(w, "invalid_blocks")
				return
			}
			// A markdown block holds standard markdown, up to 12,000
			// characters.
			if text, _ := b["text"].(string); typ == "markdown" && (text == "" || utf8.RuneCountInString(text) > 12000) {
				f.refuse(w, "invalid_blocks")
				return
			}
		}
	}
	id := ChannelID(c.Channel)
	switch method {
	case "chat.postMessage":
		f.next++
		c.TS = fmt.Sprintf("1700000000.%06d", f.next)
		if c.ThreadTS != "" {
			m := f.messages[id+" "+c.ThreadTS]
			if m == nil {
				f.refuse(w, "thread_not_found")
				return
			}
			m.Replies = append(m.Replies, c.Text)
		} else {
			f.messages[id+" "+c.TS] = &SlackMessage{Channel: id, TS: c.TS, Text: c.Text, Blocks: c.Blocks}
			f.order = append(f.order, id+" "+c.TS)
		}
		f.calls = append(f.calls, c)
		f.answer(w, map[string]any{"ok": true, "channel": id, "ts": c.TS, "message": map[string]any{"text": c.Text, "ts": c.TS}})
	case "chat.update":
		if strings.HasPrefix(c.Channel, "#") {
			f.refuse(w, "channel_not_found") // chat.update takes ids only
			return
		}
		m := f.messages[id+" "+c.TS]
		if m == nil {
			f.refuse(w, "message_not_found")
			return
		}
		m.Text, m.Blocks = c.Text, c.Blocks
		f.calls = append(f.calls, c)
		f.answer(w, map[string]any{"ok": true, "channel": id, "ts": c.TS, "text": c.Text})
	case "chat.postEphemeral":
		if c.User == "" {
			f.refuse(w, "user_not_in_channel")
			return
		}
		f.calls = append(f.calls, c)
		f.answer(w, map[string]any{"ok": true, "message_ts": "1700000000.999999"})
	default:
		f.refuse(w, "unknown_method")
	}
}

// SignSlack signs a request body as Slack does at time at, returning the
// headers to send with it.
func SignSlack(secret, body string, at time.Time) http.Header {
	ts := strconv.FormatInt(at.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v0:" + ts + ":" + body))
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", ts)
	h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(m.Sum(nil)))
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	return h
}

// ButtonPress is the body Slack sends when slackUser presses the button
// with actionID (and value) on the message ts in channel: a block_actions
// interaction, form-encoded as payload=<JSON>.
func ButtonPress(slackUser, channel, ts, actionID, value string) string {
	payload := map[string]any{
		"type":         "block_actions",
		"user":         map[string]any{"id": slackUser, "username": strings.ToLower(slackUser), "team_id": "T0TEAM"},
		"api_app_id":   "A0APP",
		"team":         map[string]any{"id": "T0TEAM", "domain": "example"},
		"container":    map[string]any{"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": false},
		"trigger_id":   "1.2.3",
		"channel":      map[string]any{"id": channel, "name": "incidents"},
		"message":      map[string]any{"type": "message", "ts": ts, "text": "incident"},
		"response_url": "https://hooks.slack.com/actions/T0TEAM/1/xyz",
		"actions": []map[string]any{{"action_id": actionID, "block_id": "pagerd-actions", "value": value, "type": "button",
			"action_ts": "1700000001.000001", "text": map[string]any{"type": "plain_text", "text": "Acknowledge"}}},
	}
	b, _ := json.Marshal(payload)
	return url.Values{"payload": {string(b)}}.Encode()
}

// ButtonValue is the value of the button with actionID in a message's
// blocks (its JSON), "" when it has none: what Slack sends back when the
// button is pressed.
func ButtonValue(blocks, actionID string) string {
	var bs []struct {
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	if json.Unmarshal([]byte(blocks), &bs) != nil {
		return ""
	}
	for _, b := range bs {
		for _, e := range b.Elements {
			if e.ActionID == actionID {
				return e.Value
			}
		}
	}
	return ""
}

// SlashCommand is the body Slack sends for command with text, typed by
// slackUser in channel.
func SlashCommand(command, text, slackUser, channel string) string {
	return url.Values{"token": {"deprecated"}, "team_id": {"T0TEAM"}, "team_domain": {"example"}, "channel_id": {channel},
		"channel_name": {"incidents"}, "user_id": {slackUser}, "user_name": {strings.ToLower(slackUser)}, "command": {command},
		"text": {text}, "api_app_id": {"A0APP"}, "response_url": {"https://hooks.slack.com/commands/T0TEAM/1/xyz"},
		"trigger_id": {"1.2.3"}}.Encode()
}
