package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/gateway/history"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/slack"
	"github.com/pagerd/pagerd/policy"
	"github.com/pagerd/pagerd/report"
)

// slackConfig pages ann (push, then a Slack message, SMS, a call) and
// posts the api service's incidents to #incident-response.
func slackConfig(apiURL string) string {
	return `
server:
  public_url: ` + harnessURL + `
  link_secret: slack-test-link-secret-0123456789
api:
  tokens:
    - {name: ops, token: ` + apiToken + `, role: admin}
notifiers:
  slack: {bot_token: ` + providertest.SlackBotToken + `, signing_secret: ` + providertest.SlackSigningSecret + `, api_url: "` + apiURL + `"}
users:
  - id: ann
    name: Ann
    slack_user: U0ANN
    contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}, {channel: slack}]
    notification_rules:
      high: [{after: 0s, channel: push}, {after: 1m, channel: slack}, {after: 2m, channel: sms}, {after: 5m, channel: voice}]
  - {id: bob, name: Bob, slack_user: U0BOB, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: primary, start: 2025-01-06, members: [ann]}
      - {name: secondary, start: 2025-01-06, members: [bob]}
escalation_policies:
  - name: p
    levels:
      - {name: primary, targets: [{schedule: s, tier: primary}], timeout: 15m}
      - {name: secondary, targets: [{schedule: s, tier: secondary}]}
services:
  - name: api
    priority_scheme: P0-P3
    escalation_policy: p
    slack_channel: "#incident-response"
    integrations: {alertmanager_key: ` + amKey + `}
`
}

// slackPost sends a body to a Slack callback with the headers Slack signs
// it with.
func (h *harness) slackPost(path, body string, hdr http.Header) response {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.url+path, strings.NewReader(body))
	req.Header = hdr
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, string(b), resp.Header}
}

// TestSlackButtonAcknowledges is issue 14's done-when for Slack: the
// incident is posted to its service's channel; a forged or stale
// signature is refused with 401 and changes nothing; a Slack user pagerd
// does not know is told so; the Acknowledge button pressed by the person
// acknowledges the incident, the pending SMS and call never go out, and
// the channel message is updated in place, with the story in its thread.
func TestSlackButtonAcknowledges(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) { testSlackButtonAcknowledges(t, st(t)) })
	}
}

func testSlackButtonAcknowledges(t *testing.T, st store.Store) {
	sl := providertest.NewSlack(t)
	h := newHarness(t, withConfig(slackConfig(sl.URL)), withStore(st))
	id := fire(h)
	h.step(fixedNow)

	msgs := sl.Messages()
	if len(msgs) != 1 || msgs[0].Channel != "CINCIDENTRESPONSE" || !strings.Contains(msgs[0].Blocks, "pagerd:acknowledge") ||
		!strings.Contains(msgs[0].Blocks, id) || !strings.Contains(msgs[0].Text, "triggered") {
		t.Fatalf("channel messages after the trigger: %+v", msgs)
	}
	msg := msgs[0]

	// Ann's ladder: the Slack message at 1m, by direct message, with buttons.
	h.step(fixedNow.Add(time.Minute))
	var dm *providertest.SlackCall
	for _, c := range sl.Calls() {
		if c.Method == "chat.postMessage" && c.Channel == "U0ANN" {
			dm = &c
		}
	}
	if dm == nil || !strings.Contains(dm.Blocks, "pagerd:acknowledge") || !strings.Contains(dm.Text, id) {
		t.Fatalf("no direct message with buttons to ann: %+v", sl.Calls())
	}

	press := sl.ButtonPress("U0ANN", msg.Channel, msg.TS, "pagerd:acknowledge", id)
	forged := providertest.SignSlack("not-the-signing-secret", press, time.Now())
	if r := h.slackPost("/api/v1/slack/interactions", press, forged); r.code != 401 {
		t.Fatalf("forged signature: %d %s", r.code, r.body)
	}
	stale := providertest.SignSlack(providertest.SlackSigningSecret, press, time.Now().Add(-6*time.Minute))
	if r := h.slackPost("/api/v1/slack/interactions", press, stale); r.code != 401 {
		t.Fatalf("stale signature: %d %s", r.code, r.body)
	}
	unsigned := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	if r := h.slackPost("/api/v1/slack/interactions", press, unsigned); r.code != 401 {
		t.Fatalf("no signature: %d %s", r.code, r.body)
	}
	if st := h.incident(id).Status; st != "triggered" {
		t.Fatalf("a refused request changed the incident: %s", st)
	}

	// A Slack user pagerd does not know: told so, only them; nothing changes.
	stranger := sl.ButtonPress("U0NOBODY", msg.Channel, msg.TS, "pagerd:acknowledge", id)
	h.pressButton(sl, stranger)
	if st := h.incident(id).Status; st != "triggered" {
		t.Fatalf("an unknown Slack user changed the incident: %s", st)
	}
	if c := lastCall(sl, "response_url"); c == nil || c.User != "U0NOBODY" || !strings.Contains(c.Text, "not linked to a pagerd user") {
		t.Fatalf("the stranger was not told: %+v", c)
	}

	// Ann presses Acknowledge.
	h.clock.Set(fixedNow.Add(90 * time.Second))
	h.pressButton(sl, press)
	inc := h.incident(id)
	if inc.Status != "acknowledged" || inc.AcknowledgedBy != "ann" {
		t.Fatalf("after the button: %s by %q", inc.Status, inc.AcknowledgedBy)
	}
	if c := lastCall(sl, "chat.postEphemeral"); c == nil || c.User != "U0ANN" || !strings.HasPrefix(c.Text, "Acknowledged [P0] api") {
		t.Fatalf("ann was not told: %+v", c)
	}

	// The SMS at 2m and the call at 5m never go out; the message is
	// updated in place, and its thread says who acknowledged.
	h.runUntil(fixedNow.Add(20 * time.Minute))
	if got := strings.Join(h.rec.lines(fixedNow), "; "); got != "0s L1 ann push" {
		t.Fatalf("pages after the acknowledgement: %s", got)
	}
	msgs = channelMessages(sl, "CINCIDENTRESPONSE")
	if len(msgs) != 1 {
		t.Fatalf("a second channel message was posted: %+v", msgs)
	}
	m := msgs[0]
	if !strings.Contains(m.Text, "acknowledged") || !strings.Contains(m.Blocks, "acknowledged by Ann") ||
		strings.Contains(m.Blocks, "pagerd:acknowledge") || !strings.Contains(m.Blocks, "pagerd:resolve") {
		t.Fatalf("the message was not updated in place: %+v", m)
	}
	if len(m.Replies) != 1 || m.Replies[0] != "Acknowledged by Ann" {
		t.Fatalf("thread: %q", m.Replies)
	}

	// Bob resolves from Slack: the message says so, and has no buttons.
	resolve := sl.ButtonPress("U0BOB", msg.Channel, msg.TS, "pagerd:resolve", id)
	h.pressButton(sl, resolve)
	h.step(h.clock.Now())
	m = channelMessages(sl, "CINCIDENTRESPONSE")[0]
	if !strings.Contains(m.Blocks, "resolved by Bob") || strings.Contains(m.Blocks, `"actions"`) || len(m.Replies) != 2 || m.Replies[1] != "Resolved by Bob" {
		t.Fatalf("after resolve: %+v", m)
	}
	for _, c := range sl.Calls() {
		if c.Method == "chat.update" && c.TS != msg.TS {
			t.Fatalf("an update of another message: %+v", c)
		}
	}
}

// Slack wants its answer to a button press within 3 seconds: it gets it
// before the reply to the presser goes out (held back here), and the
// reply still goes out after Slack has closed the connection.
func TestSlackButtonAnsweredBeforeTheReply(t *testing.T) {
	sl := providertest.NewSlack(t)
	release := make(chan struct{})
	target, err := url.Parse(strings.TrimSuffix(sl.URL, "/api/"))
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/chat.postEphemeral") {
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(slow.Close)
	h := newHarness(t, withConfig(slackConfig(slow.URL+"/api/")))
	id := fire(h)
	h.step(fixedNow)
	msg := sl.Messages()[0]

	press := sl.ButtonPress("U0ANN", msg.Channel, msg.TS, "pagerd:acknowledge", id)
	req, _ := http.NewRequest("POST", h.url+"/api/v1/slack/interactions", strings.NewReader(press))
	req.Header = providertest.SignSlack(providertest.SlackSigningSecret, press, time.Now())
	req.Close = true // as Slack may, once answered
	start := time.Now()
	resp, err := (&http.Client{Timeout: 3 * time.Second}).Do(req)
	close(release)
	if err != nil {
		t.Fatalf("no answer within Slack's 3 seconds while the reply to the presser was held back: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || time.Since(start) > 2*time.Second {
		t.Fatalf("answer: %d after %s", resp.StatusCode, time.Since(start))
	}
	waitUntil(t, 5*time.Second, "the reply to ann", func() bool {
		c := lastCall(sl, "chat.postEphemeral")
		return c != nil && c.User == "U0ANN" && strings.HasPrefix(c.Text, "Acknowledged [P0] api")
	})
	if st := h.incident(id).Status; st != "acknowledged" {
		t.Fatalf("after the button: %s", st)
	}
}

func channelMessages(sl *providertest.Slack, channel string) []providertest.SlackMessage {
	var out []providertest.SlackMessage
	for _, m := range sl.Messages() {
		if m.Channel == channel {
			out = append(out, m)
		}
	}
	return out
}

// pressButton posts a signed button press and waits for the presser's
// answer (through chat.postEphemeral, or the press's response_url when it
// did nothing): Slack's request is answered at once, and the action and
// the answer follow it.
func (h *harness) pressButton(sl *providertest.Slack, body string) {
	h.t.Helper()
	answers := func() int {
		n := 0
		for _, c := range sl.Calls() {
			if c.Method == "chat.postEphemeral" || c.Method == "response_url" {
				n++
			}
		}
		return n
	}
	before := answers()
	if r := h.slackPost("/api/v1/slack/interactions", body, providertest.SignSlack(providertest.SlackSigningSecret, body, time.Now())); r.code != 200 {
		h.t.Fatalf("button: %d %s", r.code, r.body)
	}
	waitUntil(h.t, 10*time.Second, "the answer to the button press", func() bool { return answers() > before })
}

func lastCall(sl *providertest.Slack, method string) *providertest.SlackCall {
	cs := sl.Calls()
	for i := len(cs) - 1; i >= 0; i-- {
		if cs[i].Method == method {
			return &cs[i]
		}
	}
	return nil
}

// An escalation by timeout and a status update reach the thread; a
// Slack outage delays the update, which is retried, and loses nothing.
func TestSlackMessageFollowsEscalationAndOutage(t *testing.T) {
	sl := providertest.NewSlack(t)
	h := newHarness(t, withConfig(slackConfig(sl.URL)))
	sl.Fail("chat.postMessage", "service_unavailable")
	id := fire(h)
	h.step(fixedNow)
	if len(sl.Messages()) != 0 {
		t.Fatal("posted through a failure")
	}
	// Retried 30s later: posted.
	h.step(fixedNow.Add(30 * time.Second))
	if len(sl.Messages()) != 1 {
		t.Fatalf("not posted on the retry: %+v", sl.Calls())
	}
	h.runUntil(fixedNow.Add(16 * time.Minute)) // level 1 times out at 15m
	if r := h.api("POST", "/api/v1/incidents/"+id+"/status", `{"user":"bob","message":"looking at db1"}`); r.code != 200 {
		t.Fatalf("status: %d %s", r.code, r.body)
	}
	h.step(h.clock.Now())
	m := sl.Messages()[0]
	if len(m.Replies) != 2 || !strings.HasPrefix(m.Replies[0], "Escalated to level 2: not acknowledged within 15m") ||
		m.Replies[1] != "Status update by Bob: looking at db1" || !strings.Contains(m.Blocks, "2 (secondary)") {
		t.Fatalf("message %+v", m)
	}
}

// What alerts and people say reaches Slack as text, never as Slack's
// markup: an alert summary with <!channel> or a link of its own, and a
// status update with the same, arrive escaped in the channel message, in
// the direct message that pages ann, and in the thread.
func TestSlackEscapesWhatAlertsSay(t *testing.T) {
	sl := providertest.NewSlack(t)
	h := newHarness(t, withConfig(slackConfig(sl.URL)))
	const said = "<!channel> db down & <https://evil.example|the runbook>"
	const escaped = "&lt;!channel&gt; db down &amp; &lt;https://evil.example|the runbook&gt;"
	body := strings.Replace(amPayload("firing", "g1", map[string]string{"alertname": "A", "severity": "critical"}),
		`"disk almost full"`, fmt.Sprintf("%q", said), 1)
	r := h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+amKey)
	if r.code != 200 {
		t.Fatalf("webhook: %d %s", r.code, r.body)
	}
	id := h.list("")[0].ID
	h.step(fixedNow)
	h.step(fixedNow.Add(time.Minute)) // ann's direct message
	if r := h.api("POST", "/api/v1/incidents/"+id+"/status", `{"user":"bob","message":"<!here> see <https://evil.example|this>"}`); r.code != 200 {
		t.Fatalf("status: %d %s", r.code, r.body)
	}
	h.step(h.clock.Now())

	var posts int
	for _, c := range sl.Calls() {
		if c.Method != "chat.postMessage" {
			continue
		}
		if c.ThreadTS == "" {
			posts++
			if !strings.Contains(c.Text, escaped) {
				t.Errorf("a message to %s: text %q, want the summary as %q", c.Channel, c.Text, escaped)
			}
		}
		if strings.Contains(c.Text, "<!") || strings.Contains(c.Text, "<https://evil") {
			t.Errorf("a message to %s has Slack markup from outside: %q", c.Channel, c.Text)
		}
	}
	if posts != 2 {
		t.Errorf("%d messages out of threads, want the channel's and ann's: %+v", posts, sl.Calls())
	}
	m := channelMessages(sl, "CINCIDENTRESPONSE")
	if len(m) != 1 || len(m[0].Replies) != 1 || m[0].Replies[0] != "Status update by Bob: &lt;!here&gt; see &lt;https://evil.example|this&gt;" {
		t.Errorf("the thread: %+v", m)
	}

	// The answer to whoever presses a button names the summary too.
	press := sl.ButtonPress("U0ANN", m[0].Channel, m[0].TS, "pagerd:acknowledge", id)
	h.pressButton(sl, press)
	if c := lastCall(sl, "chat.postEphemeral"); c == nil || !strings.Contains(c.Text, escaped) {
		t.Errorf("the answer to the button: %+v, want the summary as %q", c, escaped)
	}
}

// /oncall answers who is on call now and next, only to the asker.
func TestSlackOnCallCommand(t *testing.T) {
	sl := providertest.NewSlack(t)
	h := newHarness(t, withConfig(slackConfig(sl.URL)))
	body := providertest.SlashCommand("/oncall", "", "U0NOBODY", "C0X")
	r := h.slackPost("/api/v1/slack/commands", body, providertest.SignSlack(providertest.SlackSigningSecret, body, time.Now()))
	if r.code != 200 || !strings.Contains(r.body, `"response_type":"ephemeral"`) || !strings.Contains(r.body, "primary: Ann") ||
		!strings.Contains(r.body, "secondary: Bob") || !strings.Contains(r.body, "next Ann") {
		t.Fatalf("/oncall: %d %s", r.code, r.body)
	}
	body = providertest.SlashCommand("/oncall", "nope", "U0ANN", "C0X")
	r = h.slackPost("/api/v1/slack/commands", body, providertest.SignSlack(providertest.SlackSigningSecret, body, time.Now()))
	if r.code != 200 || !strings.Contains(r.body, "No schedule nope") {
		t.Fatalf("/oncall nope: %d %s", r.code, r.body)
	}
	if r := h.slackPost("/api/v1/slack/commands", body, providertest.SignSlack("wrong", body, time.Now())); r.code != 401 {
		t.Fatalf("forged /oncall: %d", r.code)
	}
}

// handoffConfig: two schedules handing off Monday 00:00 UTC, s with a
// team channel (its shift notices' #on-call-handoff) and AIVO's plain-text
// template, t with none; Slack dry-run or not.
func handoffConfig(apiURL string, dryRun bool) string {
	return `
api:
  tokens: [{name: ops, token: ` + apiToken + `, role: admin}]
notifiers:
  slack: {bot_token: ` + providertest.SlackBotToken + `, signing_secret: ` + providertest.SlackSigningSecret + `, api_url: "` + apiURL + `", dry_run: ` + fmt.Sprint(dryRun) + `}
users:
  - {id: ann, name: Ann, contacts: [{channel: push, via: log}]}
  - {id: bob, name: Bob, contacts: [{channel: push, via: log}]}
  - {id: cat, name: Cat, contacts: [{channel: push, via: log}]}
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: primary, start: 2025-01-06, members: [bob, ann]}
    notices: {slack_channel: "#on-call-handoff"}
    handoff_template: text
  - name: t
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: primary, start: 2025-01-06, members: [ann]}
escalation_policies:
  - {name: p, levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]}
services:
  - {name: api, priority_scheme: P0-P3, escalation_policy: p, integrations: {alertmanager_key: ` + amKey + `}}
`
}

// With Slack configured and nothing else to post them, each schedule's
// handoff document goes to its team channel at the handoff, once although
// two daemons on one Redis store both schedule it and both dispatch at
// the handoff: s's in its plain-text template with Slack's markup off,
// beside its shift notice, naming who takes over by a run-time override;
// t, with no channel, posts nothing and the log says why. A reload to
// slack.dry_run holds back the next one.
func TestHandoffPostedToSlackOnceAcrossReplicas(t *testing.T) {
	sl := providertest.NewSlack(t)
	st, _ := redisStore(t)
	h1 := newHarness(t, withStore(st), withConfig(handoffConfig(sl.URL, false)))
	knownWeek(h1)
	// Cat takes bob's coming week, at run time.
	if r := h1.api("POST", "/api/v1/schedules/s/overrides", `{"tier":"primary","user":"cat","start":"2025-09-15T00:00:00Z","end":"2025-09-22T00:00:00Z","reason":"swap"}`); r.code != 201 {
		t.Fatalf("override: %d %s", r.code, r.body)
	}
	h2 := newHarness(t, withStore(st), withConfig(handoffConfig(sl.URL, false)))
	for _, h := range []*harness{h1, h2} { // what each replica's Run does at start
		if err := h.d.EnsureJobs(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// step moves both daemons' clocks to at and lets both dispatch at
	// once.
	step := func(at time.Time) {
		var wg sync.WaitGroup
		for _, h := range []*harness{h1, h2} {
			wg.Add(1)
			go func() { defer wg.Done(); h.step(at) }()
		}
		wg.Wait()
	}
	monday := time.Date(2025, 9, 15, 0, 0, 0, 0, time.UTC)
	step(monday.Add(-time.Second))
	if n := len(sl.Calls()); n != 0 {
		t.Fatalf("%d Slack calls before the handoff", n)
	}
	step(monday)
	step(monday.Add(time.Minute))

	want, err := history.Handoff(context.Background(), history.Store{Store: st}, h1.d.Overrides().Config(), "s", monday)
	if err != nil {
		t.Fatal(err)
	}
	text := want.String()
	if !strings.HasPrefix(text, "=== ON-CALL HANDOFF ===\nDate: 2025-09-15\nOutgoing: Ann\nIncoming: Cat (covering for Bob until Mon 2025-09-22 00:00: swap)\n") || want.Incidents != 4 {
		t.Fatalf("the document to expect is not the week's:\n%s", text)
	}
	var docs, notices int
	for _, c := range sl.Calls() {
		switch {
		case c.Method != "chat.postMessage" || c.Channel != "#on-call-handoff":
			t.Errorf("a call besides the channel's two: %+v", c)
		case strings.HasPrefix(c.Text, "On-call handoff of s,"):
			notices++
		case c.Text == strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(text) && c.Mrkdwn == "false" && c.Blocks == "":
			docs++
		default:
			t.Errorf("posted to the channel:\n%+v\nwant the document:\n%s", c, text)
		}
	}
	if docs != 1 || notices != 1 {
		t.Fatalf("%d handoff documents and %d handoff notices in #on-call-handoff, want one each", docs, notices)
	}
	logs := h1.logs.String() + h2.logs.String()
	if !strings.Contains(logs, `"msg":"handoff: document not posted","schedule":"t"`) ||
		!strings.Contains(logs, "schedule t names no team channel (schedules[].notices.slack_channel)") {
		t.Errorf("the log does not say why t's document was not posted:\n%s", logs)
	}
	for _, s := range []string{"s", "t"} {
		if j, err := st.GetJob(context.Background(), history.HandoffKind, s); err != nil || !j.Due.Equal(monday.Add(7*24*time.Hour)) {
			t.Errorf("%s's next handoff job: %+v %v", s, j, err)
		}
	}

	// Dry run: the next week's document is not posted (nor made), and the log says why.
	for _, h := range []*harness{h1, h2} {
		if err := h.reload(handoffConfig(sl.URL, true)); err != nil {
			t.Fatal(err)
		}
	}
	before := len(sl.Calls())
	step(monday.Add(7 * 24 * time.Hour))
	step(monday.Add(7*24*time.Hour + time.Minute))
	if n := len(sl.Calls()); n != before {
		t.Errorf("dry run: %d more Slack calls: %+v", n-before, sl.Calls()[before:])
	}
	logs = h1.logs.String() + h2.logs.String()
	if !strings.Contains(logs, "notifiers.slack.dry_run (it would have gone to #on-call-handoff)") {
		t.Errorf("the log does not say the dry run held the document back:\n%s", logs)
	}
}

// An explicit Options.PostHandoff wins over Slack: the document goes to
// it, and nothing of it to Slack.
func TestPostHandoffOptionWinsOverSlack(t *testing.T) {
	sl := providertest.NewSlack(t)
	var posted []string
	var mu sync.Mutex
	post := func(_ context.Context, schedule string, _ *report.HandoffDoc) error {
		mu.Lock()
		defer mu.Unlock()
		posted = append(posted, schedule)
		return nil
	}
	h := newHarness(t, withConfig(handoffConfig(sl.URL, false)), postingHandoffs(post))
	if err := h.d.EnsureJobs(context.Background()); err != nil {
		t.Fatal(err)
	}
	monday := time.Date(2025, 9, 15, 0, 0, 0, 0, time.UTC)
	h.step(monday)
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(posted, " ") != "s t" && strings.Join(posted, " ") != "t s" {
		t.Errorf("posted through the option: %v", posted)
	}
	for _, c := range sl.Calls() {
		if !strings.HasPrefix(c.Text, "On-call handoff of s,") {
			t.Errorf("Slack got more than the shift notice: %+v", c)
		}
	}
}

// Slack's answers to a handoff document, as the job takes them: a refusal
// that will not change (no such channel) is ErrRefused, moving on to the
// next handoff; one worth trying again (rate limited) is left to the
// job's lease.
func TestSlackHandoffRefusals(t *testing.T) {
	sl := providertest.NewSlack(t)
	cfg, err := policy.Parse([]byte(handoffConfig(sl.URL, false)), "pagerd.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	post := slackHandoffs(slack.New(slack.Options{Token: providertest.SlackBotToken, APIURL: sl.URL}), func() *policy.Config { return cfg })
	doc := &report.HandoffDoc{Schedule: "s", Template: policy.HandoffText}
	sl.Fail("chat.postMessage", "channel_not_found")
	if err := post(context.Background(), "s", doc); !errors.Is(err, history.ErrRefused) || !strings.Contains(err.Error(), "#on-call-handoff") {
		t.Errorf("no such channel: %v", err)
	}
	sl.Fail("chat.postMessage", "ratelimited")
	if err := post(context.Background(), "s", doc); err == nil || errors.Is(err, history.ErrRefused) || errors.Is(err, history.ErrNotPosted) {
		t.Errorf("rate limited: %v", err)
	}
	if err := post(context.Background(), "s", doc); err != nil || len(sl.Messages()) != 1 {
		t.Errorf("then: %v, %d messages", err, len(sl.Messages()))
	}
}

// historyReads counts the history reads a handoff document is made of.
type historyReads struct {
	store.Store
	n atomic.Int64
}

func (s *historyReads) History(ctx context.Context, since, until time.Time, fn func(*store.Incident, []store.Entry) error) error {
	s.n.Add(1)
	return s.Store.History(ctx, since, until, fn)
}

// A handoff document Slack would not post (the schedule names no channel,
// or Slack is in dry run) is not made: the job reads no history for it,
// and still goes on to the next handoff. A schedule with a channel is the
// control: its document is made, and read.
func TestHandoffNotMadeWhenSlackWouldNotPostIt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config func(url string) string
		reads  bool
	}{
		{"no channel", func(url string) string {
			return strings.Replace(handoffConfig(url, false), `    notices: {slack_channel: "#on-call-handoff"}`+"\n", "", 1)
		}, false},
		{"dry run", func(url string) string { return handoffConfig(url, true) }, false},
		{"posted", func(url string) string { return handoffConfig(url, false) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sl := providertest.NewSlack(t)
			st := &historyReads{Store: boltStore(t)}
			h := newHarness(t, withStore(st), withConfig(tc.config(sl.URL)))
			if err := h.d.EnsureJobs(context.Background()); err != nil {
				t.Fatal(err)
			}
			monday := time.Date(2025, 9, 15, 0, 0, 0, 0, time.UTC)
			h.step(monday)
			if got := st.n.Load() > 0; got != tc.reads {
				t.Errorf("%d history reads at the handoff, want reads: %v", st.n.Load(), tc.reads)
			}
			for _, s := range []string{"s", "t"} {
				if j, err := st.GetJob(context.Background(), history.HandoffKind, s); err != nil || !j.Due.Equal(monday.Add(7*24*time.Hour)) {
					t.Errorf("%s's next handoff job: %+v %v", s, j, err)
				}
			}
		})
	}
}

// TestSlowSlackDoesNotMakeAnotherReplicaPageAgain: replica a escalates the
// incident to bob, pages him, and then brings the Slack message up to date
// in the same claim, before recording the step. Slack hangs past a's
// lease, so replica b takes the incident over: the step was not recorded,
// and b paged bob a second time, in normal operation (no crash). Now the
// page is recorded as soon as it went out; Slack is told in the next claim.
func TestSlowSlackDoesNotMakeAnotherReplicaPageAgain(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			sl := providertest.NewSlack(t)
			h := newHarness(t, withStore(mk(t)), withConfig(slackConfig(sl.URL)), replicas(0))
			entered, release := make(chan struct{}, 10), make(chan struct{})
			a, _ := h.dispatcher(func(o *dispatch.Options) {
				outbox := map[string]dispatch.OutboxHandler{}
				for k, v := range o.Outbox {
					outbox[k] = v
				}
				real := o.Outbox[store.OutboxSlack]
				outbox[store.OutboxSlack] = func(ctx context.Context, inc *store.Incident, item store.OutboxItem, earlier []store.Entry) (store.Entry, error) {
					if item.Action == "escalate" {
						entered <- struct{}{}
						<-release // Slack hangs
					}
					return real(ctx, inc, item, earlier)
				}
				o.Outbox = outbox
			})
			b, _ := h.dispatcher(nil)
			fire(h)
			h.disp = []*dispatch.Dispatcher{b}
			h.runUntil(fixedNow.Add(14 * time.Minute))
			h.clock.Set(fixedNow.Add(15 * time.Minute)) // level 1 times out
			done := make(chan struct{})
			go func() {
				defer close(done)
				if _, err := a.RunOnce(context.Background()); err != nil {
					t.Error(err)
				}
			}()
			<-entered
			h.step(fixedNow.Add(15*time.Minute + 31*time.Second)) // b, past a's lease
			close(release)
			<-done
			n := 0
			for _, l := range h.rec.lines(fixedNow) {
				if strings.HasSuffix(l, "L2 bob push") {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("bob's level-2 push sent %d times, want once: %v", n, h.rec.lines(fixedNow))
			}
			h.step(h.clock.Now())
			if m := channelMessages(sl, "CINCIDENTRESPONSE"); len(m) != 1 || len(m[0].Replies) == 0 || !strings.HasPrefix(m[0].Replies[0], "Escalated to level 2") {
				t.Fatalf("Slack not told of the escalation: %+v", m)
			}
		})
	}
}

// slackLadderConfig is slackConfig with a third level, cat's, after bob's.
func slackLadderConfig(apiURL string) string {
	return strings.NewReplacer(
		"schedules:", `  - {id: cat, name: Cat, slack_user: U0CAT, contacts: [{channel: push, via: log}]}
schedules:`,
		`{name: secondary, targets: [{schedule: s, tier: secondary}]}`, `{name: secondary, targets: [{schedule: s, tier: secondary}], timeout: 30m}
      - {name: tertiary, targets: [{user: cat}], timeout: 30m}`,
	).Replace(slackConfig(apiURL))
}

// TestSlackEscalateClickedTwiceEscalatesOnce: the Escalate button of the
// channel message clicked twice (a double click, or ann and bob on the same
// message) escalates once, from the level the message showed: bob's level
// is paged, cat's (the third) never is, and the second presser is told
// who escalated it already. The updated message's button escalates from
// the new level; a button sent before buttons carried a level escalates
// as before.
func TestSlackEscalateClickedTwiceEscalatesOnce(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			sl := providertest.NewSlack(t)
			h := newHarness(t, withConfig(slackLadderConfig(sl.URL)), withStore(st(t)))
			id := fire(h)
			h.step(fixedNow)
			msgs := channelMessages(sl, "CINCIDENTRESPONSE")
			if len(msgs) != 1 {
				t.Fatalf("channel messages after the trigger: %+v", msgs)
			}
			msg := msgs[0]
			value := providertest.ButtonValue(msg.Blocks, "pagerd:escalate")
			if value == "" {
				t.Fatalf("no Escalate button: %s", msg.Blocks)
			}
			h.clock.Set(fixedNow.Add(30 * time.Second))
			h.pressButton(sl, sl.ButtonPress("U0ANN", msg.Channel, msg.TS, "pagerd:escalate", value))
			if c := lastCall(sl, "chat.postEphemeral"); c == nil || !strings.HasPrefix(c.Text, "Escalated [P0] api") {
				t.Fatalf("ann was not told: %+v", c)
			}
			h.pressButton(sl, sl.ButtonPress("U0BOB", msg.Channel, msg.TS, "pagerd:escalate", value))
			if c := lastCall(sl, "chat.postEphemeral"); c == nil || c.User != "U0BOB" ||
				!strings.Contains(c.Text, "already escalated to level 2 (secondary) by Ann") {
				t.Fatalf("bob was not told it was escalated already: %+v", c)
			}
			h.runUntil(fixedNow.Add(10 * time.Minute))
			if v := h.incident(id); v.LevelName != "secondary" {
				t.Fatalf("after two clicks: level %d (%s), want secondary", v.Level, v.LevelName)
			}
			if n := pagedUsers(h); n["bob"] == 0 || n["cat"] != 0 {
				t.Fatalf("pages after two clicks: %v (%s), want bob and never cat", n, strings.Join(h.rec.lines(fixedNow), "; "))
			}

			// The message now shows level 2: its button escalates from it.
			updated := channelMessages(sl, "CINCIDENTRESPONSE")[0]
			next := providertest.ButtonValue(updated.Blocks, "pagerd:escalate")
			if next == value || !strings.HasPrefix(next, id) {
				t.Fatalf("the updated message's Escalate button: %q (was %q)", next, value)
			}
			// A button without a level (sent before they carried one)
			// escalates from wherever the incident is.
			h.clock.Set(fixedNow.Add(11 * time.Minute))
			h.pressButton(sl, sl.ButtonPress("U0BOB", msg.Channel, msg.TS, "pagerd:escalate", id))
			if v := h.incident(id); v.LevelName != "tertiary" {
				t.Fatalf("an old button: level %d (%s), want tertiary", v.Level, v.LevelName)
			}
		})
	}
}

// TestSlackEscalateAtTheLastLevelClickedTwiceEscalatesOnce: at the last
// level an escalation pages that level again rather than leaving it, so
// the level a button carries cannot tell a second click from one on the
// message as it stands now. The time the button carries can: the channel
// message's Escalate button, clicked by ann and then by bob, and the
// Escalate button of cat's page (sent before ann's click), page cat again
// once; bob and cat are told who escalated it and when. The message,
// updated, shows the level as started again: its button escalates.
func TestSlackEscalateAtTheLastLevelClickedTwiceEscalatesOnce(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			sl := providertest.NewSlack(t)
			cfg := strings.Replace(slackLadderConfig(sl.URL), `{id: cat, name: Cat, slack_user: U0CAT, contacts: [{channel: push, via: log}]}`,
				`{id: cat, name: Cat, slack_user: U0CAT, contacts: [{channel: push, via: log}, {channel: slack}], notification_rules: {high: [{after: 0s, channel: push}, {after: 0s, channel: slack}]}}`, 1)
			h := newHarness(t, withConfig(cfg), withStore(st(t)))
			id := fire(h)
			h.step(fixedNow)
			h.clock.Set(fixedNow.Add(30 * time.Second))
			if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"level":"tertiary"}`); r.code != 200 {
				t.Fatalf("escalate to the last level: %d %s", r.code, r.body)
			}
			h.runUntil(fixedNow.Add(40 * time.Second))
			msg := channelMessages(sl, "CINCIDENTRESPONSE")[0]
			value := providertest.ButtonValue(msg.Blocks, "pagerd:escalate")
			if !strings.HasPrefix(value, id+" 3 ") {
				t.Fatalf("the message at the last level: Escalate button %q, want its level and time", value)
			}
			var page string
			for _, c := range sl.Calls() {
				if c.Method == "chat.postMessage" && c.Channel == "U0CAT" {
					page = providertest.ButtonValue(c.Blocks, "pagerd:escalate")
				}
			}
			if !strings.HasPrefix(page, id+" 3 ") {
				t.Fatalf("cat's page: Escalate button %q, want its level and time (calls %+v)", page, sl.Calls())
			}

			h.clock.Set(fixedNow.Add(time.Minute))
			h.pressButton(sl, sl.ButtonPress("U0ANN", msg.Channel, msg.TS, "pagerd:escalate", value))
			if c := lastCall(sl, "chat.postEphemeral"); c == nil || !strings.HasPrefix(c.Text, "Escalated [P0] api") {
				t.Fatalf("ann was not told: %+v", c)
			}
			h.runUntil(fixedNow.Add(70 * time.Second))
			by := "already escalated to level 3 (tertiary) by Ann at " + fixedNow.Add(time.Minute).UTC().Format("15:04 UTC")
			h.clock.Set(fixedNow.Add(80 * time.Second))
			h.pressButton(sl, sl.ButtonPress("U0BOB", msg.Channel, msg.TS, "pagerd:escalate", value))
			if c := lastCall(sl, "chat.postEphemeral"); c == nil || c.User != "U0BOB" || !strings.Contains(c.Text, by) {
				t.Fatalf("bob was not told it was escalated already (%q): %+v", by, c)
			}
			h.pressButton(sl, sl.ButtonPress("U0CAT", "U0CAT", "1.1", "pagerd:escalate", page))
			if c := lastCall(sl, "chat.postEphemeral"); c == nil || c.User != "U0CAT" || !strings.Contains(c.Text, by) {
				t.Fatalf("cat was not told it was escalated already (%q): %+v", by, c)
			}
			h.runUntil(fixedNow.Add(10 * time.Minute))
			if got := strings.Join(h.rec.lines(fixedNow), "; "); strings.Count(got, "cat push") != 2 {
				t.Fatalf("pages: %s; want cat's push twice (reaching the level, ann's click), not again", got)
			}

			// The message as updated shows the level started again: its
			// button is a new one, and escalates.
			next := providertest.ButtonValue(channelMessages(sl, "CINCIDENTRESPONSE")[0].Blocks, "pagerd:escalate")
			if next == value {
				t.Fatalf("the updated message's Escalate button is the old one: %q", next)
			}
			h.clock.Set(fixedNow.Add(11 * time.Minute))
			h.pressButton(sl, sl.ButtonPress("U0BOB", msg.Channel, msg.TS, "pagerd:escalate", next))
			if c := lastCall(sl, "chat.postEphemeral"); c == nil || !strings.HasPrefix(c.Text, "Escalated [P0] api") {
				t.Fatalf("bob on the updated message was not told it escalated: %+v", c)
			}
		})
	}
}

// TestSlackViewerActsOnlyOnWhatWasPagedToThem: a viewer (role: viewer)
// reads; a Slack channel message's buttons are there for anyone in the
// channel, and a viewer pressing Resolve on an incident never paged to
// them resolved it. Once paged (the level of theirs reached), the page is
// theirs to answer.
func TestSlackViewerActsOnlyOnWhatWasPagedToThem(t *testing.T) {
	sl := providertest.NewSlack(t)
	cfg := strings.Replace(slackConfig(sl.URL), "  - {id: bob, name: Bob, slack_user: U0BOB,", "  - {id: bob, name: Bob, role: viewer, slack_user: U0BOB,", 1)
	h := newHarness(t, withConfig(cfg))
	id := fire(h)
	h.step(fixedNow)
	msgs := sl.Messages()
	if len(msgs) != 1 {
		t.Fatalf("channel messages: %+v", msgs)
	}
	msg := msgs[0]
	answer := func() string {
		var last string
		for _, c := range sl.Calls() {
			if c.Method == "chat.postEphemeral" || c.Method == "response_url" {
				last = c.Text
			}
		}
		return last
	}
	h.pressButton(sl, sl.ButtonPress("U0BOB", msg.Channel, msg.TS, "pagerd:resolve", id))
	if st := h.incident(id).Status; st != "triggered" {
		t.Fatalf("bob, a viewer never paged, resolved it: %s", st)
	}
	if a := answer(); !strings.Contains(a, "Bob is a viewer") || strings.Contains(a, "try again") {
		t.Fatalf("bob's answer: %q", a)
	}
	// The primary level times out at 15m: bob is paged, and his press
	// acknowledges.
	h.runUntil(fixedNow.Add(16 * time.Minute))
	h.pressButton(sl, sl.ButtonPress("U0BOB", msg.Channel, msg.TS, "pagerd:acknowledge", id))
	if v := h.incident(id); v.Status != "acknowledged" {
		t.Fatalf("bob, paged, pressed Acknowledge: %s (%q)", v.Status, answer())
	}
}

// TestSlackButtonActsAsTheSlackUser: a Slack member id maps to one pagerd
// user. A config where zed's slack contact is ann's member id is refused
// on reload, naming both and the id. Should one be in force anyway, ann's
// press acts as ann, whose slack_user it is, not as zed (a viewer: the
// press would be refused, or an ack recorded under zed's name); and a
// member id only two users' contacts name acts as neither.
func TestSlackButtonActsAsTheSlackUser(t *testing.T) {
	sl := providertest.NewSlack(t)
	h := newHarness(t, withConfig(slackConfig(sl.URL)))
	zed := "  - {id: zed, name: Zed, role: viewer, contacts: [{channel: push, via: log}, {channel: slack, address: U0ANN}]}\nschedules:\n"
	err := h.reload(strings.Replace(slackConfig(sl.URL), "schedules:\n", zed, 1))
	if err == nil || !strings.Contains(err.Error(), `"U0ANN" is also user "ann"'s slack_user`) || !strings.Contains(err.Error(), "users[zed]") {
		t.Fatalf("reload of a config where zed's slack contact is ann's member id: %v", err)
	}

	// In force anyway: zed's and yan's slack contacts after ann's.
	c := *h.config()
	slackTo := func(id, address string) policy.User {
		return policy.User{ID: id, Name: id, Role: policy.RoleViewer, Contacts: []policy.Contact{{Channel: policy.ChannelSlack, Via: "slack", Address: address}}}
	}
	c.Users = append(append([]policy.User(nil), c.Users...), slackTo("zed", "U0ANN"), slackTo("yan", "U0SHARED"), slackTo("zed", "U0SHARED"))
	h.d.cfg.cur.Store(&c)

	id := fire(h)
	h.step(fixedNow)
	msg := channelMessages(sl, "CINCIDENTRESPONSE")[0]
	h.pressButton(sl, sl.ButtonPress("U0SHARED", msg.Channel, msg.TS, "pagerd:acknowledge", id))
	if inc, answer := h.incident(id), lastCall(sl, "response_url").Text; inc.Status != "triggered" || !strings.Contains(answer, "not linked") {
		t.Fatalf("a member id two users' contacts name acted (status %s by %q): %q", inc.Status, inc.AcknowledgedBy, answer)
	}
	h.pressButton(sl, sl.ButtonPress("U0ANN", msg.Channel, msg.TS, "pagerd:acknowledge", id))
	if inc, answer := h.incident(id), lastCall(sl, "chat.postEphemeral").Text; inc.Status != "acknowledged" || inc.AcknowledgedBy != "ann" {
		t.Fatalf("ann's press: status %s by %q: %q", inc.Status, inc.AcknowledgedBy, answer)
	}
}

// TestSlackButtonNotRecordedSaysWhatIsTrue, through the chain the daemon
// builds (the store's error, the incident service's classes, the Slack
// answer): an escalation the store did not confirm may have been made,
// and the presser is told so, not asked to try again (a second click
// could escalate twice); an acknowledgement the store refused outright
// was not made, and they are asked to try again. Neither answer carries
// the store's error.
func TestSlackButtonNotRecordedSaysWhatIsTrue(t *testing.T) {
	sl := providertest.NewSlack(t)
	fs := &failingUpdates{Store: boltStore(t)}
	h := newHarness(t, withConfig(slackConfig(sl.URL)), withStore(fs))
	id := fire(h)
	h.step(fixedNow)
	msg := channelMessages(sl, "CINCIDENTRESPONSE")[0]
	press := func(action string, err error) string {
		t.Helper()
		fs.err.Store(&err)
		defer fs.err.Store(nil)
		h.pressButton(sl, sl.ButtonPress("U0ANN", msg.Channel, msg.TS, action, providertest.ButtonValue(msg.Blocks, action)))
		return lastCall(sl, "response_url").Text
	}
	if a := press("pagerd:escalate", store.PartlyStored(errDiskFull)); !strings.Contains(a, "Your escalation may not have been recorded") ||
		strings.Contains(a, "try again") || strings.Contains(a, "no space left") {
		t.Errorf("escalate whose write may have landed: %q", a)
	}
	if a := press("pagerd:acknowledge", errDiskFull); !strings.Contains(a, "Your acknowledgement was NOT recorded: the incident store is unavailable") ||
		!strings.Contains(a, "try again") || strings.Contains(a, "no space left") {
		t.Errorf("acknowledge the store refused: %q", a)
	}
	if st := h.incident(id).Status; st != "triggered" {
		t.Fatalf("status %s after failed writes", st)
	}
}

// TestSlackLateAnswerSaysMayHaveBeenSent: Slack takes ann's direct message
// and answers after notifiers.slack.timeout. The daemon sent it 3 times
// (its retries: three pages) and recorded a plain failure; it sends it
// once, and the timeline says the page may have been sent. The channel
// message, answered as late, is posted again: a channel post twice is a
// line too many, one given up a channel that never hears of the incident.
func TestSlackLateAnswerSaysMayHaveBeenSent(t *testing.T) {
	sl := providertest.NewSlack(t)
	late := providertest.LateAnswers(t, sl)
	cfg := strings.Replace(slackConfig(late.URL+"/api/"), `api_url: "`+late.URL+`/api/"}`, `api_url: "`+late.URL+`/api/", timeout: 100ms}`, 1)
	h := newHarness(t, withConfig(cfg), fastRetries())
	id := fire(h)
	h.runUntil(fixedNow.Add(90 * time.Second))
	dms, posts := 0, 0
	for _, c := range sl.Calls() {
		switch c.Channel {
		case "U0ANN":
			dms++
		case "#incident-response":
			posts++
		}
	}
	if dms != 1 {
		t.Errorf("one page, %d direct messages", dms)
	}
	if posts < 2 {
		t.Errorf("the channel message answered late was not posted again: %d posts", posts)
	}
	h.recordedMaybeSent(id, "slack", "via slack: may have been sent: slack chat.postMessage: ")
}

// slackRateLimitsDMs is a proxy before the Slack fake that answers the
// first n direct messages to channel 429 with Retry-After: 30, as Slack
// does past its per-channel rate, and passes everything else on.
func slackRateLimitsDMs(t *testing.T, sl *providertest.Slack, channel string, n int) (*httptest.Server, *atomic.Int64) {
	return slackRateLimitsDMsFor(t, sl, channel, n, "30")
}

// slackRateLimitsDMsFor is slackRateLimitsDMs with Retry-After: retryAfter.
func slackRateLimitsDMsFor(t *testing.T, sl *providertest.Slack, channel string, n int, retryAfter string) (*httptest.Server, *atomic.Int64) {
	target, _ := url.Parse(strings.TrimSuffix(sl.URL, "/api/"))
	proxy := httputil.NewSingleHostReverseProxy(target)
	var refused atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/chat.postMessage") {
			_ = r.ParseForm()
			body := r.PostForm.Encode()
			r.Body = io.NopCloser(strings.NewReader(body))
			r.ContentLength = int64(len(body))
			if r.PostForm.Get("channel") == channel && refused.Load() < int64(n) {
				refused.Add(1)
				w.Header().Set("Retry-After", retryAfter)
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &refused
}

// TestSlackRateLimitedDMGoesOutAtItsTurn: Slack answers ann's direct
// message page 429 with Retry-After: 30. The page keeps its turn, 30 s on,
// and goes out then, once; nothing is recorded failed. It used to be
// retried three times inside the 30 s, recorded notify_failed and never
// sent (and each such failure counted toward opening Slack's breaker).
func TestSlackRateLimitedDMGoesOutAtItsTurn(t *testing.T) {
	sl := providertest.NewSlack(t)
	srv, refused := slackRateLimitsDMs(t, sl, "U0ANN", 1)
	h := newHarness(t, withConfig(slackConfig(srv.URL+"/api/")))
	id := fire(h)
	h.step(fixedNow)
	dms := func() int {
		n := 0
		for _, c := range sl.Calls() {
			if c.Channel == "U0ANN" {
				n++
			}
		}
		return n
	}
	h.step(fixedNow.Add(time.Minute))
	if refused.Load() != 1 || dms() != 0 {
		t.Fatalf("at 1m: %d refused, %d DMs; want the one try refused and nothing sent", refused.Load(), dms())
	}
	for _, e := range h.incident(id).Timeline {
		if e.Type == "notify_failed" {
			t.Fatalf("a page Slack sent back for its turn was recorded failed: %s", e.Detail)
		}
	}
	h.step(fixedNow.Add(time.Minute + 30*time.Second))
	if dms() != 1 || refused.Load() != 1 {
		t.Fatalf("at its turn (1m30s): %d DMs, %d refused; want it sent once", dms(), refused.Load())
	}
}

// slackCallNextConfig is slackConfig with ann's SMS moved to 10m: the
// step after her Slack DM is the call at 5m.
func slackCallNextConfig(apiURL string) string {
	return strings.Replace(slackConfig(apiURL), "{after: 2m, channel: sms}", "{after: 10m, channel: sms}", 1)
}

// slackFailedAndCalls are the details of an incident's failed Slack pages,
// and how many calls it recorded.
func slackFailedAndCalls(h *harness, id string) (failed []string, calls int) {
	for _, e := range h.incident(id).Timeline {
		switch {
		case e.Type == "notify_failed" && e.Channel == "slack":
			failed = append(failed, e.Detail)
		case e.Type == "notify" && e.Channel == "voice":
			calls++
		}
	}
	return failed, calls
}

// TestSlackDMRateLimitedForGoodFails: Slack answers every direct message
// to ann 429 with Retry-After: 30 (her channel over its rate, or the
// workspace's). The page was sent back at each turn, for as long as Slack
// stayed over its limit: never sent, never recorded, counted only as
// rate_limited (which no alert watches), and her next step was not brought
// forward as for a failed page. Held a minute past its time on Slack's
// word, it now fails: notify_failed in the timeline, counted failed, and
// her next step (the call) comes at once.
func TestSlackDMRateLimitedForGoodFails(t *testing.T) {
	sl := providertest.NewSlack(t)
	srv, refused := slackRateLimitsDMs(t, sl, "U0ANN", 1000)
	h := newHarness(t, withConfig(slackCallNextConfig(srv.URL+"/api/")))
	id := fire(h)
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if refused.Load() != 3 {
		t.Fatalf("%d direct messages refused, want one at each of 1m, 1m30s and 2m", refused.Load())
	}
	failed, calls := slackFailedAndCalls(h, id)
	if len(failed) != 1 || !strings.Contains(failed[0], "429") || !strings.Contains(failed[0], "given up 1m0s after its time") {
		t.Fatalf("the Slack page sent back past a minute: failures recorded %q, want one naming Slack's 429", failed)
	}
	if got := metric(t, h.reg, "pagerd_pages_total", "channel", "slack", "via", "slack", "result", "failed"); got != 1 {
		t.Errorf("pages failed via slack = %v, want 1", got)
	}
	if calls != 1 {
		t.Errorf("%d calls recorded by 2m, want her next step (the call at 5m) brought forward", calls)
	}
}

// TestSlackDMRateLimitedForAnHourFailsAtOnce: Slack answers ann's direct
// message 429 with Retry-After: 3600. The page was sent back for the hour
// Slack named and went out then, an hour late, while her call waited for
// its 5 minutes; past notify.MaxRetryAfter the 429 is a failure as any
// provider's: her page fails now, and her call comes at once.
func TestSlackDMRateLimitedForAnHourFailsAtOnce(t *testing.T) {
	sl := providertest.NewSlack(t)
	srv, refused := slackRateLimitsDMsFor(t, sl, "U0ANN", 1000, "3600")
	h := newHarness(t, withConfig(slackCallNextConfig(srv.URL+"/api/")))
	id := fire(h)
	h.runUntil(fixedNow.Add(time.Minute))
	if refused.Load() == 0 {
		t.Fatal("Slack was not asked: the test proves nothing")
	}
	failed, calls := slackFailedAndCalls(h, id)
	if len(failed) != 1 || !strings.Contains(failed[0], "rate limit exceeded") {
		t.Fatalf("by 1m, failures recorded %q; want the Slack page failed on its 429, not held for Slack's hour", failed)
	}
	if calls != 1 {
		t.Errorf("%d calls recorded by 1m, want her next step (the call at 5m) brought forward", calls)
	}
}

// TestSlackDMLateAndRateLimitedOnceGoesOutAtItsTurn: ann's direct message
// page, due at 1m, is first tried at 2m30s (the dispatcher was behind: a
// restart, a takeover, pagerd's own rate limit in a storm), and Slack
// answers that one try 429 with Retry-After: 30. The minute a page is held
// on the provider's word counted from the step's time, so the page failed
// at its first 429, never tried again, though Slack took it 30 s later.
// It counts from the provider's first 429: the page goes out at its turn.
func TestSlackDMLateAndRateLimitedOnceGoesOutAtItsTurn(t *testing.T) {
	sl := providertest.NewSlack(t)
	srv, refused := slackRateLimitsDMs(t, sl, "U0ANN", 1)
	h := newHarness(t, withConfig(slackConfig(srv.URL+"/api/")))
	id := fire(h)
	h.step(fixedNow)
	h.step(fixedNow.Add(2*time.Minute + 30*time.Second))
	if refused.Load() != 1 {
		t.Fatalf("at 2m30s: %d direct messages refused, want the late page's one try", refused.Load())
	}
	h.step(fixedNow.Add(3 * time.Minute))
	dms := 0
	for _, c := range sl.Calls() {
		if c.Channel == "U0ANN" {
			dms++
		}
	}
	for _, e := range h.incident(id).Timeline {
		if e.Type == "notify_failed" && e.Channel == "slack" {
			t.Errorf("a late page Slack sent back once was recorded failed: %s", e.Detail)
		}
	}
	if dms != 1 {
		t.Errorf("at its turn (3m): %d direct messages sent, want the page sent once", dms)
	}
}

// slackRefusalLogs are pagerd's Error lines about incidents' channel
// messages Slack refused for good.
func slackRefusalLogs(t *testing.T, h *harness) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(h.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if msg, _ := rec["msg"].(string); strings.Contains(msg, "channel message was refused") {
			if rec["level"] != "ERROR" {
				t.Errorf("refusal logged at %v, want ERROR: %s", rec["level"], line)
			}
			out = append(out, rec)
		}
	}
	return out
}

// TestSlackChannelRefusalIsSeen: a channel Slack refuses for good (the app
// removed from it, then the channel archived) is logged at Error with the
// service, the channel, the action and Slack's reason, and counted in
// pagerd_slack_channel_posts_total{result="refused"}, reported at 0 from
// the start so that rate() sees the first one, and as a refused slack item
// in pagerd_outbox_items_total, in one log line that also names the
// item's kind and tries. A failure Slack may get over is counted as
// failed, retried as before, and neither logged at Error nor counted as
// refused.
func TestSlackChannelRefusalIsSeen(t *testing.T) {
	sl := providertest.NewSlack(t)
	h := newHarness(t, withConfig(slackConfig(sl.URL)))
	posts := func(result string) float64 {
		return metric(t, h.reg, "pagerd_slack_channel_posts_total", "result", result)
	}
	body := h.do("GET", "/metrics", "").body
	for _, res := range []string{"sent", "failed", "refused"} {
		if want := `pagerd_slack_channel_posts_total{result="` + res + `"} 0`; !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// The app is not in the channel: the post is given up, and seen.
	sl.Fail("chat.postMessage", "not_in_channel")
	id := fire(h)
	h.step(fixedNow)
	if !strings.Contains(timelineTypes(h.incident(id)), "slack_failed") {
		t.Fatalf("timeline: %s", timelineTypes(h.incident(id)))
	}
	if got := posts("refused"); got != 1 {
		t.Errorf("refused = %v, want 1", got)
	}
	logs := slackRefusalLogs(t, h)
	if len(logs) != 1 || logs[0]["service"] != "api" || logs[0]["channel"] != "#incident-response" || logs[0]["action"] != "trigger" ||
		logs[0]["slack_error"] != "not_in_channel" || logs[0]["incident"] != id || logs[0]["kind"] != "slack" || logs[0]["attempts"] != 1.0 {
		t.Fatalf("refusal logs: %v", logs)
	}
	// The outbox counts the item as refused too (an item, where
	// pagerd_slack_channel_posts_total counts tries).
	if got := outboxItems(t, h, "slack", "refused"); got != 1 {
		t.Errorf("pagerd_outbox_items_total{kind=slack,result=refused} = %v, want 1", got)
	}

	// The acknowledgement posts the message then; Slack is down a while:
	// failed, retried, posted. Not a refusal.
	sl.Fail("chat.postMessage", "service_unavailable")
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
		t.Fatalf("acknowledge: %d %s", r.code, r.body)
	}
	h.step(h.clock.Now())
	if got, refused := posts("failed"), posts("refused"); got != 1 || refused != 1 {
		t.Errorf("after a failure Slack may get over: failed %v, refused %v; want 1, 1", got, refused)
	}
	h.step(h.clock.Now().Add(30 * time.Second))
	if len(sl.Messages()) != 1 || posts("sent") != 1 {
		t.Fatalf("not posted on the retry: %d messages, sent %v", len(sl.Messages()), posts("sent"))
	}
	if logs := slackRefusalLogs(t, h); len(logs) != 1 {
		t.Errorf("a failure Slack may get over was logged as a refusal: %v", logs)
	}

	// The channel archived: the resolve's update is refused, and seen.
	sl.Fail("chat.update", "is_archived")
	if r := h.api("POST", "/api/v1/incidents/"+id+"/resolve", `{"user":"ann"}`); r.code != 200 {
		t.Fatalf("resolve: %d %s", r.code, r.body)
	}
	h.step(h.clock.Now())
	if got := posts("refused"); got != 2 {
		t.Errorf("refused = %v, want 2", got)
	}
	logs = slackRefusalLogs(t, h)
	if len(logs) != 2 || logs[1]["action"] != "resolve" || logs[1]["slack_error"] != "is_archived" || logs[1]["channel"] != "#incident-response" {
		t.Fatalf("refusal logs: %v", logs)
	}
}

// TestAIONRIncidentsPostedToPlatformAlerts: AION-R's "Response channels:
// ... Slack (#platform-alerts)", as configs/aion-r.yaml runs in the
// daemon, its Slack secrets from the environment: a SEV-1 is posted to
// #platform-alerts, and Engineer A's Acknowledge button there (their
// slack_user) acknowledges it as them.
func TestAIONRIncidentsPostedToPlatformAlerts(t *testing.T) {
	sl := providertest.NewSlack(t)
	t.Setenv("AION_R_SLACK_BOT_TOKEN", providertest.SlackBotToken)
	t.Setenv("AION_R_SLACK_SIGNING_SECRET", providertest.SlackSigningSecret)
	raw, err := os.ReadFile("../configs/aion-r.yaml")
	if err != nil {
		t.Fatal(err)
	}
	secret := "    signing_secret: ${AION_R_SLACK_SIGNING_SECRET}\n"
	if !strings.Contains(string(raw), secret) {
		t.Fatalf("configs/aion-r.yaml has no %q", secret)
	}
	config := strings.Replace(string(raw), secret, secret+"    api_url: \""+sl.URL+"\"\n", 1)
	at := time.Date(2025, 10, 7, 10, 0, 0, 0, time.UTC) // Engineer A's week
	h := newHarness(t, withConfig(config), startAt(at), withNotifier("email", &recorder{}))
	cfg := h.config()
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g", map[string]string{"alertname": "Down", "severity": "critical"}),
		"Authorization", "Bearer "+cfg.Service("aion-r-platform").Integrations.AlertmanagerKey.Reveal())
	if r.code != 200 {
		t.Fatalf("webhook: %d %s", r.code, r.body)
	}
	var res struct{ Incidents []string }
	r.json(t, &res)
	id := res.Incidents[0]
	h.step(at)

	msgs := channelMessages(sl, providertest.ChannelID("#platform-alerts"))
	if len(msgs) != 1 || !strings.Contains(msgs[0].Blocks, id) || !strings.Contains(msgs[0].Blocks, "pagerd:acknowledge") {
		t.Fatalf("#platform-alerts after a SEV-1: %+v (all messages: %+v)", msgs, sl.Messages())
	}
	h.clock.Set(at.Add(time.Minute))
	h.pressButton(sl, sl.ButtonPress(cfg.User("eng-a").SlackUser, msgs[0].Channel, msgs[0].TS, "pagerd:acknowledge", id))
	var v incidentView
	h.do("GET", "/api/v1/incidents/"+id, "", "Authorization", "Bearer "+cfg.API.Tokens[0].Token.Reveal()).json(t, &v)
	if v.Status != "acknowledged" || v.AcknowledgedBy != "eng-a" {
		t.Fatalf("after Engineer A's button in #platform-alerts: %s by %q", v.Status, v.AcknowledgedBy)
	}
}

// TestHandoffDocumentLossIsSeen: what became of each handoff's document
// is counted in pagerd_handoff_documents_total, every result reported at
// 0 from the start. The chat refusing s's for good (ErrRefused, which
// Slack's poster answers for no such channel: TestSlackHandoffRefusals)
// counts as refused and is logged at Error; t's, held back by the config,
// as not_posted. A week later the chat fails for over an hour: every try
// counts as failed, and the document, long past its handoff, as given_up.
func TestHandoffDocumentLossIsSeen(t *testing.T) {
	var mu sync.Mutex
	var answer error
	post := func(_ context.Context, schedule string, _ *report.HandoffDoc) error {
		mu.Lock()
		defer mu.Unlock()
		if schedule == "t" {
			return fmt.Errorf("%w: no channel", history.ErrNotPosted)
		}
		return answer
	}
	answerWith := func(err error) { mu.Lock(); defer mu.Unlock(); answer = err }
	h := newHarness(t, withConfig(handoffConfig(providertest.NewSlack(t).URL, false)), postingHandoffs(post))
	docs := func(result string) float64 {
		return metric(t, h.reg, "pagerd_handoff_documents_total", "result", result)
	}
	body := h.do("GET", "/metrics", "").body
	for _, res := range []string{"posted", "not_posted", "failed", "refused", "given_up"} {
		if want := `pagerd_handoff_documents_total{result="` + res + `"} 0`; !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if err := h.d.EnsureJobs(context.Background()); err != nil {
		t.Fatal(err)
	}
	monday := time.Date(2025, 9, 15, 0, 0, 0, 0, time.UTC)
	answerWith(fmt.Errorf("%w: #on-call-handoff: channel_not_found", history.ErrRefused))
	h.step(monday)
	if refused, notPosted := docs("refused"), docs("not_posted"); refused != 1 || notPosted != 1 {
		t.Errorf("refused %v, not_posted %v; want 1, 1", refused, notPosted)
	}
	if l := logsSaying(t, h.logs, "handoff: document not posted, refused for good"); len(l) != 1 || l[0]["level"] != "ERROR" || l[0]["schedule"] != "s" {
		t.Errorf("refusal logs: %v", l)
	}

	answerWith(errors.New("slack chat.postMessage: service_unavailable"))
	h.runUntil(monday.Add(7*24*time.Hour + 2*time.Hour))
	if failed, givenUp, posted := docs("failed"), docs("given_up"), docs("posted"); failed < 2 || givenUp != 1 || posted != 0 {
		t.Errorf("failed %v, given_up %v, posted %v; want tries failed, then given up", failed, givenUp, posted)
	}
	answerWith(nil)
	h.runUntil(monday.Add(14 * 24 * time.Hour))
	if posted := docs("posted"); posted != 1 {
		t.Errorf("posted %v, want 1", posted)
	}
}

// buttonValue finds the value of the button with this action id in a
// message's blocks JSON.
func buttonValue(t *testing.T, blocks, actionID string) string {
	t.Helper()
	var bs []struct {
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	if err := json.Unmarshal([]byte(blocks), &bs); err != nil {
		t.Fatalf("blocks: %v: %s", err, blocks)
	}
	for _, b := range bs {
		for _, e := range b.Elements {
			if e.ActionID == actionID {
				return e.Value
			}
		}
	}
	t.Fatalf("no %s button in %s", actionID, blocks)
	return ""
}

// TestSlackLateAckOfAPageSparesTheReopenedIncident: ann is paged by Slack
// direct message and acknowledges (here through the API); bob escalates,
// which reopens the incident and pages level 2. Ann's old direct message
// still has its Acknowledge button: pressed late, it answers a page the
// reopen superseded, so it changes nothing, the timeline says so, and ann
// is told it was not applied. As PagerDuty's late acknowledgement of the
// old alert. (Before: it acknowledged the reopened incident and the
// level-2 pages stopped; ann never saw them.) Her press on a page sent
// after the reopen acknowledges.
func TestSlackLateAckOfAPageSparesTheReopenedIncident(t *testing.T) {
	sl := providertest.NewSlack(t)
	h := newHarness(t, withConfig(slackConfig(sl.URL)))
	id := fire(h)
	h.step(fixedNow)
	h.step(fixedNow.Add(time.Minute)) // ann's Slack DM
	var dm *providertest.SlackCall
	for _, c := range sl.Calls() {
		if c.Method == "chat.postMessage" && c.Channel == "U0ANN" {
			dm = &c
		}
	}
	if dm == nil {
		t.Fatalf("no DM to ann: %+v", sl.Calls())
	}
	value := buttonValue(t, dm.Blocks, "pagerd:acknowledge")
	h.clock.Set(fixedNow.Add(90 * time.Second))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	h.clock.Set(fixedNow.Add(3 * time.Minute))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"bob"}`); r.code != 200 {
		t.Fatalf("escalate: %d %s", r.code, r.body)
	}
	h.clock.Set(fixedNow.Add(4 * time.Minute))
	h.pressButton(sl, sl.ButtonPress("U0ANN", dm.Channel, dm.TS, "pagerd:acknowledge", value))
	if v := h.incident(id); v.Status != "triggered" {
		t.Fatalf("a late press of the Acknowledge button of a page sent before the reopen: status %s by %s (value %q); the level-2 pages stop",
			v.Status, v.AcknowledgedBy, value)
	}
	if c := lastCall(sl, "response_url"); c == nil || !strings.Contains(c.Text, "not applied") {
		t.Fatalf("ann was not told her acknowledgement was not applied: %+v", c)
	}
	if !h.timelineHas(id, "ack_ignored", "not applied") {
		t.Errorf("the timeline does not say the acknowledgement was not applied: %+v", h.incident(id).Timeline)
	}
	// The Acknowledge button of a page sent after the reopen acknowledges.
	now, _ := slack.ParseAckValue(value)
	now.Reopened++
	h.pressButton(sl, sl.ButtonPress("U0ANN", dm.Channel, dm.TS, "pagerd:acknowledge", slack.AckValue(now.Target, now.Reopened)))
	if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "ann" {
		t.Fatalf("the press of a page sent after the reopen: %s by %s", v.Status, v.AcknowledgedBy)
	}
}

// TestSlackCardOfAReopenedIncident: ann acknowledges, then bob escalates,
// which reopens the incident: the channel message, brought up to date,
// says it was reopened, not that ann has it ("*triggered* · … ·
// acknowledged by Ann" before: whoever read the channel took it that ann
// had it, while nobody did).
func TestSlackCardOfAReopenedIncident(t *testing.T) {
	sl := providertest.NewSlack(t)
	h := newHarness(t, withConfig(slackConfig(sl.URL)))
	id := fire(h)
	h.step(fixedNow)
	h.clock.Set(fixedNow.Add(30 * time.Second))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	h.step(h.clock.Now())
	if m := channelMessages(sl, "CINCIDENTRESPONSE"); len(m) != 1 || !strings.Contains(m[0].Blocks, "acknowledged by Ann") {
		t.Fatalf("the card of the acknowledged incident: %+v", m)
	}
	h.clock.Set(fixedNow.Add(3 * time.Minute))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"bob"}`); r.code != 200 {
		t.Fatalf("escalate: %d %s", r.code, r.body)
	}
	h.step(h.clock.Now())
	m := channelMessages(sl, "CINCIDENTRESPONSE")
	if len(m) != 1 || !strings.Contains(m[0].Blocks, "*triggered*") {
		t.Fatalf("the card was not brought up to date: %+v", m)
	}
	if strings.Contains(m[0].Blocks, "· acknowledged by Ann") || !strings.Contains(m[0].Blocks, "reopened (was acknowledged by Ann)") {
		t.Fatalf("the card of the reopened, triggered incident: %s", m[0].Blocks)
	}
}

// TestSlackCardShowsAnOpsgenieMessageUpdate: Alertmanager's
// opsgenie_configs with update_alerts send the alert's message again after
// each create; a new one becomes the incident's summary, and the channel's
// card shows it at once, with no reply in its thread (the message changes
// whenever the group's alert count does). (Before: the card kept the old
// summary until the incident's next acknowledgement, escalation or status
// update: the channel read "disk 90% full" while it was 99%.)
func TestSlackCardShowsAnOpsgenieMessageUpdate(t *testing.T) {
	sl := providertest.NewSlack(t)
	cfg := strings.Replace(slackConfig(sl.URL), "integrations: {alertmanager_key: "+amKey+"}",
		"integrations: {alertmanager_key: "+amKey+", opsgenie_key: "+ogKey+"}", 1)
	h := newHarness(t, withConfig(cfg))
	h.og("POST", "/v2/alerts", `{"message":"disk 90% full","alias":"disk","priority":"P1"}`, 202)
	h.step(fixedNow)
	if m := channelMessages(sl, "CINCIDENTRESPONSE"); len(m) != 1 || !strings.Contains(m[0].Blocks, "disk 90% full") {
		t.Fatalf("the card of the new incident: %+v", m)
	}
	h.clock.Set(fixedNow.Add(30 * time.Second))
	h.og("PUT", "/v2/alerts/disk/message?identifierType=alias", `{"message":"disk 99% full"}`, 202)
	h.step(h.clock.Now())
	m := channelMessages(sl, "CINCIDENTRESPONSE")
	if len(m) != 1 || !strings.Contains(m[0].Blocks, "disk 99% full") || strings.Contains(m[0].Blocks, "disk 90% full") {
		t.Fatalf("the card after the message update: %+v", m)
	}
	if len(m[0].Replies) != 0 {
		t.Fatalf("the message update was said in the thread: %q", m[0].Replies)
	}
	// An update to what the alert says already changes nothing.
	updates := len(sl.Calls())
	h.og("PUT", "/v2/alerts/disk/message?identifierType=alias", `{"message":"disk 99% full"}`, 202)
	h.step(h.clock.Now())
	for _, c := range sl.Calls()[updates:] {
		if c.Method == "chat.update" {
			t.Fatalf("an update that changed nothing updated the card: %+v", c)
		}
	}
}

// TestSlackDeletedChannelMessageIsPostedAgain: someone deletes the
// incident's channel message (a cleanup, a misclick); the acknowledgement's
// update is answered message_not_found. The incident is posted again as
// it stands, and later changes update the new message. (Before: every
// later update was refused for good, and the channel never heard of the
// incident again, acknowledged, escalated or resolved.)
func TestSlackDeletedChannelMessageIsPostedAgain(t *testing.T) {
	sl := providertest.NewSlack(t)
	h := newHarness(t, withConfig(slackConfig(sl.URL)))
	id := fire(h)
	h.step(fixedNow)
	m := channelMessages(sl, "CINCIDENTRESPONSE")
	if len(m) != 1 {
		t.Fatalf("channel messages: %+v", m)
	}
	sl.Delete(m[0].Channel, m[0].TS)
	h.clock.Set(fixedNow.Add(30 * time.Second))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	h.step(h.clock.Now())
	m = channelMessages(sl, "CINCIDENTRESPONSE")
	if len(m) != 1 || !strings.Contains(m[0].Blocks, "acknowledged by Ann") {
		t.Fatalf("the deleted message was not posted again as the incident stands: %+v; timeline %s", m, timelineTypes(h.incident(id)))
	}
	h.clock.Set(fixedNow.Add(time.Minute))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/resolve", `{"user":"ann"}`); r.code != 200 {
		t.Fatalf("resolve: %d %s", r.code, r.body)
	}
	h.step(h.clock.Now())
	m = channelMessages(sl, "CINCIDENTRESPONSE")
	if len(m) != 1 || !strings.Contains(m[0].Blocks, "resolved by Ann") {
		t.Fatalf("the message posted again was not brought up to date: %+v", m)
	}
}

// TestSlackChannelMessageHeldByDryRunSetSince: an incident's channel
// message is owed while Slack is down; a reload then sets
// notifiers.slack.dry_run (or makes the service a shadow). The message
// owed is not posted when Slack is back: dry_run keeps channel messages
// from being posted, read when they go out, as handoff documents read it.
func TestSlackChannelMessageHeldByDryRunSetSince(t *testing.T) {
	for name, edit := range map[string]func(string) string{
		"dry_run": func(c string) string {
			return strings.Replace(c, `signing_secret: `+providertest.SlackSigningSecret+`,`, `signing_secret: `+providertest.SlackSigningSecret+`, dry_run: true,`, 1)
		},
		"shadow": func(c string) string {
			return strings.Replace(c, "    escalation_policy: p\n", "    escalation_policy: p\n    shadow: true\n", 1)
		},
	} {
		t.Run(name, func(t *testing.T) {
			sl := providertest.NewSlack(t)
			cfg := slackConfig(sl.URL)
			h := newHarness(t, withConfig(cfg))
			sl.Fail("chat.postMessage", "service_unavailable")
			fire(h)
			h.step(fixedNow)
			if len(sl.Messages()) != 0 {
				t.Fatalf("posted while Slack was down: %+v", sl.Messages())
			}
			edited := edit(cfg)
			if edited == cfg {
				t.Fatal("the config edit changed nothing")
			}
			if err := h.reload(edited); err != nil {
				t.Fatal(err)
			}
			h.step(fixedNow.Add(time.Minute))
			if m := sl.Messages(); len(m) != 0 {
				t.Fatalf("posted to the channel after a reload set %s: %+v", name, m)
			}
		})
	}
}

// TestSlackThreadNamesWhoDidEachChange: Ann acknowledges while Slack
// refuses the update a moment; Bob then escalates (which reopens the
// incident) and acknowledges it himself. When Ann's update goes out, the
// thread says Ann acknowledged, not Bob twice: each reply tells the change
// that owed it, not the latest of its kind.
func TestSlackThreadNamesWhoDidEachChange(t *testing.T) {
	sl := providertest.NewSlack(t)
	h := newHarness(t, withConfig(slackConfig(sl.URL)))
	id := fire(h)
	h.step(fixedNow)
	sl.Fail("chat.update", "service_unavailable")
	h.clock.Set(fixedNow.Add(10 * time.Second))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	h.step(h.clock.Now())
	h.clock.Set(fixedNow.Add(20 * time.Second))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"bob"}`); r.code != 200 {
		t.Fatalf("escalate: %d %s", r.code, r.body)
	}
	h.step(h.clock.Now())
	h.clock.Set(fixedNow.Add(25 * time.Second))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"bob"}`); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	h.step(h.clock.Now())
	h.step(fixedNow.Add(2 * time.Minute)) // Ann's update, retried
	m := channelMessages(sl, "CINCIDENTRESPONSE")
	if len(m) != 1 {
		t.Fatalf("channel messages: %+v", m)
	}
	acks := map[string]int{}
	for _, r := range m[0].Replies {
		if strings.HasPrefix(r, "Acknowledged by ") {
			acks[r]++
		}
	}
	if acks["Acknowledged by Ann"] != 1 || acks["Acknowledged by Bob"] != 1 {
		t.Fatalf("the thread: %q", m[0].Replies)
	}
}

// TestSlackCardFollowsAMaintenanceWindow: an incident escalated to level
// 2 is held by a maintenance window; at the window's end it is paged as
// new, from level 1. The channel message shows it so, and its Escalate
// button escalates from level 1. (Before: the card still showed level 2,
// and its Escalate button, from level 2, was refused as "already
// escalated": nobody else was paged.)
func TestSlackCardFollowsAMaintenanceWindow(t *testing.T) {
	sl := providertest.NewSlack(t)
	h := newHarness(t, withConfig(slackConfig(sl.URL)))
	id := fire(h)
	h.step(fixedNow)
	h.clock.Set(fixedNow.Add(time.Minute))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"bob"}`); r.code != 200 {
		t.Fatalf("escalate: %d %s", r.code, r.body)
	}
	h.step(h.clock.Now())
	h.clock.Set(fixedNow.Add(2 * time.Minute))
	h.addWindow(`{"services":["api"],"duration":"10m"}`, 201)
	h.runUntil(fixedNow.Add(13 * time.Minute))
	if v := h.incident(id); v.Status != "triggered" || v.Level != 1 {
		t.Fatalf("after the window: %s at level %d", v.Status, v.Level)
	}
	m := channelMessages(sl, "CINCIDENTRESPONSE")
	if len(m) != 1 || !strings.Contains(m[0].Blocks, "level 1 (primary)") {
		t.Fatalf("the card after the window: %+v", m)
	}
	h.pressButton(sl, sl.ButtonPress("U0BOB", m[0].Channel, m[0].TS, "pagerd:escalate", buttonValue(t, m[0].Blocks, "pagerd:escalate")))
	if v := h.incident(id); v.Level != 2 {
		t.Fatalf("the card's Escalate after the window: level %d; %q", v.Level, lastCall(sl, "chat.postEphemeral"))
	}
}

// TestSlackWrongSigningSecretIsWarned: requests signed with another
// signing secret (Slack's, after a rotation on one side only) are refused
// and said at warn, once a minute with the count refused since: before,
// only the request line at debug said so, while every button press,
// acknowledgements among them, failed. Unsigned requests stay at debug.
func TestSlackWrongSigningSecretIsWarned(t *testing.T) {
	sl := providertest.NewSlack(t)
	h := newHarness(t, withConfig(slackConfig(sl.URL)))
	press := sl.ButtonPress("U0ANN", "CINCIDENTRESPONSE", "1.2", "pagerd:acknowledge", "x")
	post := func(hdr http.Header) {
		t.Helper()
		if r := h.slackPost("/api/v1/slack/interactions", press, hdr); r.code != 401 {
			t.Fatalf("refused press: %d %s", r.code, r.body)
		}
	}
	const msg = "slack: a signed request was refused (401)"
	warned := func() []string { return h.logLines("WARN", msg) }
	post(http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	if got := warned(); len(got) != 0 {
		t.Fatalf("an unsigned request warned: %v", got)
	}
	for range 3 {
		post(providertest.SignSlack("the-old-signing-secret", press, time.Now()))
	}
	if got := warned(); len(got) != 1 {
		t.Fatalf("%d warnings for 3 presses signed with the wrong secret within a minute, want 1:\n%s", len(got), h.logs.String())
	}
	h.clock.Set(fixedNow.Add(time.Minute))
	post(providertest.SignSlack("the-old-signing-secret", press, time.Now()))
	if got := warned(); len(got) != 2 || !strings.Contains(got[1], `"refused_since_last_warning":2`) {
		t.Fatalf("a minute later: %v, want a second warning counting the 2 refused since", got)
	}
}

// TestSlackCardWhoseAnswerWasLostIsPostedOnce: Slack takes the incident's
// card and the connection closes before its answer (a reset after the
// request was written, a timeout awaiting the answer). The retry 30 s
// later finds the card in the channel's history by its metadata and keeps
// it, rather than post a second one: the acknowledgement then updates
// that card, the only one. (Before: a second card was posted, and the
// first stayed "triggered", its buttons live, for good.) The channel is
// found by its id, or by its #name once pagerd has posted there since it
// started (conversations.history takes ids only). When the history cannot
// be read (the app lacks channels:history) the card is posted again: two
// are better than none.
func TestSlackCardWhoseAnswerWasLostIsPostedOnce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		channel string // the service's slack_channel
		before  bool   // an incident posted to the channel before
		history string // conversations.history's refusal, if any
		ackAt   time.Duration
		cards   int
		// cut: the answer began (200) and the connection closed
		// mid-body, an "unexpected EOF" rather than a network error
		// (before: a refusal for good, and a second card posted at the
		// acknowledgement).
		cut bool
	}{
		{"channel by id", "CINCIDENTRESPONSE", false, "", 40 * time.Second, 1, false},
		// The acknowledgement's update, before the post's retry, finds
		// the card.
		{"acknowledged before the retry", "CINCIDENTRESPONSE", false, "", 10 * time.Second, 1, false},
		{"channel by name posted to before", "#incident-response", true, "", 40 * time.Second, 1, false},
		{"channel by name not posted to yet", "#incident-response", false, "", 40 * time.Second, 2, false},
		{"history not readable", "CINCIDENTRESPONSE", false, "missing_scope", 40 * time.Second, 2, false},
		{"answer cut short", "CINCIDENTRESPONSE", false, "", 40 * time.Second, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sl := providertest.NewSlack(t)
			cfg := strings.Replace(slackConfig(sl.URL), `slack_channel: "#incident-response"`, `slack_channel: "`+tc.channel+`"`, 1)
			h := newHarness(t, withConfig(cfg))
			sl.SetClock(h.clock.Now)
			if tc.before {
				r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g0", map[string]string{"alertname": "B", "severity": "critical"}),
					"Authorization", "Bearer "+amKey)
				if r.code != 200 {
					t.Fatalf("webhook: %d %s", r.code, r.body)
				}
				h.step(fixedNow)
			}
			before := len(channelMessages(sl, "CINCIDENTRESPONSE"))
			if tc.cut {
				sl.CutAnswer("chat.postMessage")
			} else {
				sl.LoseAnswer("chat.postMessage")
			}
			if tc.history != "" {
				sl.Fail("conversations.history", tc.history)
			}
			h.clock.Set(fixedNow.Add(time.Second))
			id := fire(h)
			h.step(h.clock.Now())
			if n := len(channelMessages(sl, "CINCIDENTRESPONSE")) - before; n != 1 {
				t.Fatalf("Slack took %d cards, want the one whose answer was lost", n)
			}
			ack := func() {
				h.clock.Set(fixedNow.Add(tc.ackAt))
				if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
					t.Fatalf("ack: %d %s", r.code, r.body)
				}
				h.step(h.clock.Now())
			}
			retry := func() { h.step(fixedNow.Add(31 * time.Second)) } // the outbox's retry of the post
			if tc.ackAt < 31*time.Second {
				ack()
				retry()
			} else {
				retry()
				ack()
			}
			var cards []providertest.SlackMessage
			for _, m := range channelMessages(sl, "CINCIDENTRESPONSE") {
				if strings.Contains(m.Blocks, id) {
					cards = append(cards, m)
				}
			}
			if len(cards) != tc.cards {
				t.Fatalf("%d cards of the incident in the channel, want %d: %+v\ntimeline %s", len(cards), tc.cards, cards, timelineTypes(h.incident(id)))
			}
			if last := cards[len(cards)-1]; !strings.Contains(last.Blocks, "acknowledged by Ann") {
				t.Fatalf("the card is not brought up to date: %+v", last)
			}
			said := map[string]bool{}
			for _, e := range h.incident(id).Timeline {
				switch {
				case e.Type == "slack" && strings.HasPrefix(e.Detail, "maybe posted to "+tc.channel+": may have been sent: "):
					said["maybe"] = true
				case e.Type == "slack" && strings.HasSuffix(e.Detail, "found there after Slack's answer to the post was lost"):
					said["found"] = true
				}
			}
			if !said["maybe"] || said["found"] != (tc.cards == 1) {
				t.Errorf("the timeline says %v of the card, want the post that may have been sent, and found %v: %+v", said, tc.cards == 1, h.incident(id).Timeline)
			}
		})
	}
}

// TestSlackCardWhoseHistoryReadWasRateLimitedIsPostedOnce: the card's
// answer was lost, and Slack answers the retry's reading of the channel's
// history 429 with Retry-After (an app not approved for its Marketplace
// may read it once a minute, and Slack answers 429 most when it
// struggles, when answers get lost). The card is not posted a second
// time: the item is tried again once the Retry-After has passed (not at
// its backoff's next try, before it), its "maybe posted" entry kept, and
// that try finds the card, past a page of 15 messages (what Slack answers
// such an app a page), and keeps it. (Before: the 429 was a history that
// cannot be read, and the card was posted again.)
func TestSlackCardWhoseHistoryReadWasRateLimitedIsPostedOnce(t *testing.T) {
	sl := providertest.NewSlack(t)
	const channel = "CINCIDENTRESPONSE"
	cfg := strings.Replace(slackConfig(sl.URL), `slack_channel: "#incident-response"`, `slack_channel: "`+channel+`"`, 1)
	h := newHarness(t, withConfig(cfg))
	sl.SetClock(h.clock.Now)
	sl.HistoryLimit(15)
	sl.LoseAnswer("chat.postMessage")
	h.clock.Set(fixedNow.Add(time.Second))
	id := fire(h)
	h.step(h.clock.Now())
	cards := func() []providertest.SlackMessage {
		var out []providertest.SlackMessage
		for _, m := range channelMessages(sl, channel) {
			if strings.Contains(m.Blocks, id) {
				out = append(out, m)
			}
		}
		return out
	}
	if n := len(cards()); n != 1 {
		t.Fatalf("Slack took %d cards, want the one whose answer was lost", n)
	}
	// The channel goes on: the card is past the history's first page.
	chatter := slack.New(slack.Options{Token: providertest.SlackBotToken, APIURL: sl.URL})
	for range 20 {
		if err := chatter.Say(context.Background(), channel, "a line"); err != nil {
			t.Fatal(err)
		}
	}
	reads := func() (n int) {
		for _, c := range sl.Calls() {
			if c.Method == "conversations.history" {
				n++
			}
		}
		return n
	}
	sl.RateLimit("conversations.history", 0, 2*time.Minute)
	h.step(fixedNow.Add(31 * time.Second)) // the outbox's retry of the post
	if sl.RateLimited() != 1 {
		t.Fatalf("the retry did not read the history (%d answered 429)", sl.RateLimited())
	}
	if n := len(cards()); n != 1 {
		t.Fatalf("%d cards after the history's read was rate-limited, want 1: timeline %s", n, timelineTypes(h.incident(id)))
	}
	h.step(fixedNow.Add(91 * time.Second)) // the backoff's next try, inside Slack's Retry-After
	if n := reads(); n != 0 {
		t.Fatalf("the history read %d times before Slack's Retry-After passed", n)
	}
	h.step(fixedNow.Add(31*time.Second + 2*time.Minute))
	if n := reads(); n != 2 {
		t.Fatalf("the history read in %d pages after the Retry-After, want 2 (15 messages a page)", n)
	}
	h.clock.Set(fixedNow.Add(3 * time.Minute))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	h.step(h.clock.Now())
	got := cards()
	if len(got) != 1 || !strings.Contains(got[0].Blocks, "acknowledged by Ann") {
		t.Fatalf("cards of the incident in the channel: %+v, want the one, acknowledged\ntimeline %s", got, timelineTypes(h.incident(id)))
	}
	found := false
	for _, e := range h.incident(id).Timeline {
		if e.Type == "slack" && strings.HasSuffix(e.Detail, "found there after Slack's answer to the post was lost") {
			found = true
		}
	}
	if !found {
		t.Errorf("the timeline does not say the card was found: %+v", h.incident(id).Timeline)
	}
}

// TestSlackCardWhoseAnswerWasLostIsFoundPastALaterBusyChannel: the card's
// answer was lost, and the post's retry comes 5 minutes later, after the
// channel took 1,100 other messages. The retry reads only the messages of
// the lost post's time, finds the card and keeps it. (Before: it read the
// channel's history from then to now, newest first, ran out of the 1,000
// messages it reads before it reached the card, and posted a second one,
// the first left stale with live buttons.)
func TestSlackCardWhoseAnswerWasLostIsFoundPastALaterBusyChannel(t *testing.T) {
	sl := providertest.NewSlack(t)
	const channel = "CINCIDENTRESPONSE"
	cfg := strings.Replace(slackConfig(sl.URL), `slack_channel: "#incident-response"`, `slack_channel: "`+channel+`"`, 1)
	h := newHarness(t, withConfig(cfg))
	sl.SetClock(h.clock.Now)
	sl.LoseAnswer("chat.postMessage")
	h.clock.Set(fixedNow.Add(time.Second))
	id := fire(h)
	h.step(h.clock.Now())
	cards := func() (n int) {
		for _, m := range channelMessages(sl, channel) {
			if strings.Contains(m.Blocks, id) {
				n++
			}
		}
		return n
	}
	if n := cards(); n != 1 {
		t.Fatalf("Slack took %d cards, want the one whose answer was lost", n)
	}
	h.clock.Set(fixedNow.Add(5 * time.Minute))
	chatter := slack.New(slack.Options{Token: providertest.SlackBotToken, APIURL: sl.URL})
	for range 1100 {
		if err := chatter.Say(context.Background(), channel, "a line"); err != nil {
			t.Fatal(err)
		}
	}
	h.step(fixedNow.Add(6 * time.Minute)) // the outbox's retry of the post
	if n := cards(); n != 1 {
		t.Fatalf("%d cards of the incident in the channel, want 1: timeline %s", n, timelineTypes(h.incident(id)))
	}
	found := false
	for _, e := range h.incident(id).Timeline {
		found = found || e.Type == "slack" && strings.HasSuffix(e.Detail, "found there after Slack's answer to the post was lost")
	}
	if !found {
		t.Errorf("the timeline does not say the card was found: %+v", h.incident(id).Timeline)
	}
}

// TestSlackCardUpdateRateLimitedWaitsForRetryAfter: Slack answers the
// chat.update of an acknowledged incident's card 429 with Retry-After: 120
// (longer than the outbox's first backoff, 30 s). The update is not tried
// again inside Slack's wait (where Slack would refuse it again), and goes
// out once the wait has passed, as a rate-limited history read does.
// (Before: it was tried again at the backoff's 30 s, 90 s before Slack
// allowed.)
func TestSlackCardUpdateRateLimitedWaitsForRetryAfter(t *testing.T) {
	sl := providertest.NewSlack(t)
	h := newHarness(t, withConfig(slackConfig(sl.URL)))
	id := fire(h)
	h.step(fixedNow)
	if len(sl.Messages()) != 1 {
		t.Fatalf("the card was not posted: %+v", sl.Calls())
	}
	updates := func() (n int) {
		for _, c := range sl.Calls() {
			if c.Method == "chat.update" {
				n++
			}
		}
		return n
	}
	at := fixedNow.Add(time.Minute)
	h.clock.Set(at)
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	sl.RateLimit("chat.update", 0, 2*time.Minute)
	h.step(at)
	if sl.RateLimited() != 1 || updates() != 0 {
		t.Fatalf("the update was not rate-limited (%d 429s, %d updates taken)", sl.RateLimited(), updates())
	}
	h.step(at.Add(31 * time.Second)) // the outbox's backoff, inside Slack's Retry-After
	if n := updates(); n != 0 {
		t.Fatalf("chat.update tried again %d times before Slack's Retry-After passed", n)
	}
	h.step(at.Add(2*time.Minute + time.Second))
	if n := updates(); n != 1 {
		t.Fatalf("chat.update taken %d times once Slack's Retry-After passed, want 1", n)
	}
	if m := sl.Messages()[0]; !strings.Contains(m.Blocks, "acknowledged by Ann") {
		t.Fatalf("the card was not brought up to date: %+v", m)
	}
}
