package providertest

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// Slack's fake: the Web API methods pagerd calls (chat.postMessage,
// chat.update, chat.postEphemeral, conversations.history), checking the
// bot token, the channel,
// the message a call names and that blocks are JSON (a markdown block's
// text within Slack's 12,000 characters), and answering as
// Slack does (HTTP 200 with {"ok": false, "error": ...} for a refusal);
// the response_url of each interaction it sends (a JSON POST, no token,
// answered 200 "ok", at most 5 times, then 404 "used_url"); and Slack's
// side of the app's requests to pagerd, signed as Slack signs them (v0
// HMAC-SHA256 of the timestamp and body with the signing secret).

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
	// ResponseType and ReplaceOriginal are what a post to a response_url
	// (Method "response_url") asked for: "ephemeral" or "in_channel", and
	// "true", "false" or "" (not said).
	ResponseType, ReplaceOriginal string
}

// SlackMessage is a message as it stands in the fake.
type SlackMessage struct {
	Channel, TS, Text, Blocks string
	// Metadata is the message's metadata as posted (JSON: event_type
	// and event_payload), "" when it has none.
	Metadata string
	// Replies are the texts posted in its thread.
	Replies []string
}

// Slack is a fake Slack.
type Slack struct {
	// URL is the Web API's base: notifiers.slack.api_url.
	URL string

	mu       sync.Mutex
	token    string // the bot token it takes, "" for SlackBotToken
	calls    []SlackCall
	messages map[string]*SlackMessage // by channel id + " " + ts
	order    []string
	next     int
	fail     map[string]string // method -> error to answer once
	// lose are the methods whose next call is done and left without an
	// answer (LoseAnswer).
	lose map[string]bool
	// cut are the methods whose next call is done and its answer cut
	// short (CutAnswer).
	cut map[string]bool
	// rateLimited are the methods whose call is answered 429 with a
	// Retry-After, once those before it are done (RateLimit).
	rateLimited map[string]*slackLimit
	// limited counts the calls answered 429 (not in calls: they do
	// nothing).
	limited int
	// historyLimit is the most messages a conversations.history page
	// holds (0: 999, HistoryLimit).
	historyLimit int
	// now is the clock messages' ts are taken from (nil: a fixed
	// second, 1700000000).
	now func() time.Time
	// responseURLs are the interactions' response_urls, by path: whose
	// press each answers, and how many times it was used.
	responseURLs map[string]*responseURL
	// authTests counts auth.test calls (not in calls: they post nothing).
	authTests int
	// scopes are the bot token's scopes, as Slack lists them in the
	// X-OAuth-Scopes header of every answer ("" for slackScopes).
	scopes string
}

// slackScopes are the scopes README's Connect Slack asks for.
const slackScopes = "chat:write,chat:write.public,commands,channels:history,groups:history"

// SetScopes makes the bot token have scopes (comma-separated, as Slack's
// X-OAuth-Scopes header lists them): a post without chat:write is
// refused missing_scope, as Slack refuses it.
func (f *Slack) SetScopes(scopes string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scopes = scopes
}

// RotateToken makes the fake take token as the bot token from now on, and
// refuse the old one (invalid_auth), as Slack does once a token is
// rotated.
func (f *Slack) RotateToken(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token = token
}

// NewSlack starts a fake Slack for the test.
func NewSlack(t testing.TB) *Slack {
	t.Helper()
	f := &Slack{messages: map[string]*SlackMessage{}, fail: map[string]string{}, lose: map[string]bool{}, cut: map[string]bool{},
		rateLimited:  map[string]*slackLimit{},
		responseURLs: map[string]*responseURL{}}
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

// Fail makes the next call of method answer with Slack's error code
// ("response_url": the next post to a response_url, answered 404).
func (f *Slack) Fail(method, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[method] = code
}

// LoseAnswer makes the next call of method be done (a message posted)
// and its connection closed without an answer, as when Slack took a
// request and the answer was lost (a timeout, a connection reset).
func (f *Slack) LoseAnswer(method string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lose[method] = true
}

// CutAnswer makes the next call of method be done (a message posted) and
// its answer cut short: the status line (200), the headers and the start
// of the body go out, then the connection closes, as when a proxy or the
// network drops it mid-answer.
func (f *Slack) CutAnswer(method string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cut[method] = true
}

// RateLimit makes the call of method after the next after ones (0: the
// next) answer 429 with retryAfter (whole seconds) in its Retry-After
// header, as Slack rate-limits a method (slack-go's RateLimitedError):
// nothing is done.
func (f *Slack) RateLimit(method string, after int, retryAfter time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rateLimited[method] = &slackLimit{after: after, wait: retryAfter}
}

// slackLimit is a 429 to come (RateLimit).
type slackLimit struct {
	after int
	wait  time.Duration
}

// RateLimited is how many calls the fake answered 429 (RateLimit).
func (f *Slack) RateLimited() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.limited
}

// HistoryLimit makes conversations.history answer at most n messages a
// page, whatever limit it is asked for: 15 for an app not approved for
// Slack's Marketplace, since 2025.
func (f *Slack) HistoryLimit(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.historyLimit = n
}

// SetClock makes messages' ts follow now, as Slack's follow its clock
// (conversations.history's oldest and latest are instants): the test's
// clock, for a daemon that reads the history since a time of its own.
func (f *Slack) SetClock(now func() time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = now
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

// Delete deletes a message, as someone in the channel may: chat.update
// of it then answers message_not_found, as Slack does.
func (f *Slack) Delete(channel, ts string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := ChannelID(channel) + " " + ts
	delete(f.messages, k)
	f.order = slices.DeleteFunc(f.order, func(o string) bool { return o == k })
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

// responseURL is one interaction's response_url: Slack shows what is
// posted to it to the user who pressed, in the channel pressed in.
type responseURL struct {
	user, channel string
	uses          int
}

// responseURLUses is how many posts Slack takes on one response_url.
const responseURLUses = 5

// ResponseURL makes the response_url of an interaction of slackUser in
// channel, served by the fake as Slack serves it.
func (f *Slack) ResponseURL(slackUser, channel string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	path := fmt.Sprintf("/actions/T0TEAM/%d/r%06d", f.next, f.next)
	f.responseURLs[path] = &responseURL{user: slackUser, channel: channel}
	return strings.TrimSuffix(f.URL, "/api/") + path
}

// respond answers a post to a response_url as Slack does: 200 "ok", or an
// HTTP error with the reason as plain text.
func (f *Slack) respond(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	ru := f.responseURLs[r.URL.Path]
	if code, ok := f.fail["response_url"]; ok {
		delete(f.fail, "response_url")
		http.Error(w, code, http.StatusNotFound)
		return
	}
	switch {
	case ru == nil:
		http.Error(w, "expired_url", http.StatusNotFound)
		return
	case ru.uses >= responseURLUses:
		http.Error(w, "used_url", http.StatusNotFound)
		return
	case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"):
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	var msg map[string]any
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	text, _ := msg["text"].(string)
	if text == "" {
		http.Error(w, "no_text", http.StatusBadRequest)
		return
	}
	ru.uses++
	c := SlackCall{Method: "response_url", Channel: ru.channel, User: ru.user, Text: text}
	c.ResponseType, _ = msg["response_type"].(string)
	if v, ok := msg["replace_original"].(bool); ok {
		c.ReplaceOriginal = strconv.FormatBool(v)
	}
	f.calls = append(f.calls, c)
	_, _ = w.Write([]byte("ok"))
}

// ServeHTTP answers as Slack's Web API, and at its response_urls.
func (f *Slack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/actions/") && r.Method == http.MethodPost {
		f.respond(w, r)
		return
	}
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
	f.mu.Lock()
	want := cmp.Or(f.token, SlackBotToken)
	f.mu.Unlock()
	if token != want {
		f.refuse(w, "invalid_auth")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	scopes := cmp.Or(f.scopes, slackScopes)
	w.Header().Set("X-OAuth-Scopes", scopes)
	if s := strings.Split(scopes, ","); strings.HasPrefix(method, "chat.") && !slices.Contains(s, "chat:write") && !slices.Contains(s, "bot") {
		f.refuse(w, "missing_scope")
		return
	}
	if code, ok := f.fail[method]; ok {
		delete(f.fail, method)
		f.refuse(w, code)
		return
	}
	if l := f.rateLimited[method]; l != nil && l.after > 0 {
		l.after--
	} else if l != nil {
		delete(f.rateLimited, method)
		f.limited++
		w.Header().Set("Retry-After", strconv.Itoa(int(l.wait/time.Second)))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"ok":false,"error":"ratelimited"}`))
		return
	}
	if f.lose[method] {
		delete(f.lose, method)
		defer hangUp(w)
		w = httptest.NewRecorder() // the answer nobody gets
	}
	if f.cut[method] {
		delete(f.cut, method)
		rec := httptest.NewRecorder()
		defer cutShort(w, rec)
		w = rec
	}
	if method == "conversations.history" {
		f.history(w, r.PostForm)
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
	// Metadata Slack cannot take (not JSON, an event_type other than
	// letters, digits, _ and -, no event_payload object) is dropped with
	// a warning, and the message posted without it.
	metadata, warning := r.PostForm.Get("metadata"), ""
	if metadata != "" {
		var md struct {
			EventType    string         `json:"event_type"`
			EventPayload map[string]any `json:"event_payload"`
		}
		switch err := json.Unmarshal([]byte(metadata), &md); {
		case err != nil:
			metadata, warning = "", "invalid_metadata_format"
		case !slackEventType.MatchString(md.EventType) || md.EventPayload == nil:
			metadata, warning = "", "invalid_metadata_schema"
		}
	}
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
		sec := int64(1700000000)
		if f.now != nil {
			sec = f.now().Unix()
		}
		c.TS = fmt.Sprintf("%d.%06d", sec, f.next)
		if c.ThreadTS != "" {
			m := f.messages[id+" "+c.ThreadTS]
			if m == nil {
				f.refuse(w, "thread_not_found")
				return
			}
			m.Replies = append(m.Replies, c.Text)
		} else {
			f.messages[id+" "+c.TS] = &SlackMessage{Channel: id, TS: c.TS, Text: c.Text, Blocks: c.Blocks, Metadata: metadata}
			f.order = append(f.order, id+" "+c.TS)
		}
		f.calls = append(f.calls, c)
		answer := map[string]any{"ok": true, "channel": id, "ts": c.TS, "message": map[string]any{"text": c.Text, "ts": c.TS}}
		if warning != "" {
			answer["warning"] = warning
			answer["response_metadata"] = map[string]any{"warnings": []string{warning}}
		}
		f.answer(w, answer)
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

// slackEventType is what Slack takes as a metadata event_type.
var slackEventType = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// cutShort sends the start of the answer rec holds, announcing all of
// it (Content-Length), then closes the connection.
func cutShort(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	body := rec.Body.Bytes()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body[:len(body)/2])
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	hangUp(w)
}

// hangUp closes the connection of w without an answer.
func hangUp(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
		}
	}
}

// history answers conversations.history as Slack does: the channel's
// messages outside threads (by id only: a #name is channel_not_found),
// newest first, those after oldest and up to latest (inclusive: at them
// too), limit of them (default 100, at most 999) and a cursor to the
// rest; each message's metadata only with include_all_metadata.
func (f *Slack) history(w http.ResponseWriter, form url.Values) {
	ch := form.Get("channel")
	if ch == "" || strings.HasPrefix(ch, "#") {
		f.refuse(w, "channel_not_found")
		return
	}
	limit := 100
	if v := form.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			f.refuse(w, "invalid_limit")
			return
		}
		if n > 0 {
			limit = min(n, 999)
		}
	}
	if f.historyLimit > 0 {
		limit = min(limit, f.historyLimit)
	}
	truth := func(v string) bool { return v == "1" || v == "true" }
	inclusive, metadata := truth(form.Get("inclusive")), truth(form.Get("include_all_metadata"))
	oldest, latest := slackTime(form.Get("oldest")), slackTime(form.Get("latest"))
	var msgs []*SlackMessage
	for i := len(f.order) - 1; i >= 0; i-- {
		m := f.messages[f.order[i]]
		if m.Channel != ch {
			continue
		}
		at := slackTime(m.TS)
		if form.Get("oldest") != "" && (at < oldest || at == oldest && !inclusive) {
			continue
		}
		if form.Get("latest") != "" && (at > latest || at == latest && !inclusive) {
			continue
		}
		msgs = append(msgs, m)
	}
	from := 0
	if c := form.Get("cursor"); c != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(c, "bmV4dA"))
		if err != nil || n < 0 || n > len(msgs) {
			f.refuse(w, "invalid_cursor")
			return
		}
		from = n
	}
	page := msgs[from:min(from+limit, len(msgs))]
	out := []map[string]any{}
	for _, m := range page {
		om := map[string]any{"type": "message", "user": "U0PAGERD", "bot_id": "B0PAGERD", "app_id": "A0PAGERD", "text": m.Text, "ts": m.TS}
		if m.Blocks != "" {
			om["blocks"] = json.RawMessage(m.Blocks)
		}
		if metadata && m.Metadata != "" {
			om["metadata"] = json.RawMessage(m.Metadata)
		}
		out = append(out, om)
	}
	more := from+len(page) < len(msgs)
	next := ""
	if more {
		next = "bmV4dA" + strconv.Itoa(from+len(page))
	}
	f.calls = append(f.calls, SlackCall{Method: "conversations.history", Channel: ch})
	f.answer(w, map[string]any{"ok": true, "messages": out, "has_more": more, "pin_count": 0,
		"response_metadata": map[string]any{"next_cursor": next}})
}

// slackTime reads a Slack ts ("1700000000.000001") as microseconds since
// 1970, 0 when it is not one.
func slackTime(ts string) int64 {
	sec, micro, _ := strings.Cut(ts, ".")
	s, err1 := strconv.ParseInt(sec, 10, 64)
	m, err2 := strconv.ParseInt(cmp.Or(micro, "0"), 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return s*1_000_000 + m
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
// interaction, form-encoded as payload=<JSON>, whose response_url the
// fake serves.
func (f *Slack) ButtonPress(slackUser, channel, ts, actionID, value string) string {
	return ButtonPressTo(f.ResponseURL(slackUser, channel), slackUser, channel, ts, actionID, value)
}

// ButtonPressTo is ButtonPress with the response_url given (none when
// empty).
func ButtonPressTo(responseURL, slackUser, channel, ts, actionID, value string) string {
	payload := map[string]any{
		"type":       "block_actions",
		"user":       map[string]any{"id": slackUser, "username": strings.ToLower(slackUser), "team_id": "T0TEAM"},
		"api_app_id": "A0APP",
		"team":       map[string]any{"id": "T0TEAM", "domain": "example"},
		"container":  map[string]any{"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": false},
		"trigger_id": "1.2.3",
		"channel":    map[string]any{"id": channel, "name": "incidents"},
		"message":    map[string]any{"type": "message", "ts": ts, "text": "incident"},
		"actions": []map[string]any{{"action_id": actionID, "block_id": "pagerd-actions", "value": value, "type": "button",
			"action_ts": "1700000001.000001", "text": map[string]any{"type": "plain_text", "text": "Acknowledge"}}},
	}
	if responseURL != "" {
		payload["response_url"] = responseURL
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
