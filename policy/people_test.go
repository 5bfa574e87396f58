package policy

import (
	"strings"
	"testing"
)

// Slack, email and Pushover contacts, Slack channels and shift notices:
// a config that loads can page everyone it names, so a contact on a
// transport without its settings is an error, as are malformed ids.

const peopleBase = `
server:
  public_url: https://pagerd.example.com
  link_secret: 0123456789abcdef0123
notifiers:
  slack: {bot_token: xoxb-1-2-abc, signing_secret: 8f742231b10e8888abcd99yyyzzz85a5}
  email: {smarthost: "smtp.example.com:587", from: "pagerd <pagerd@example.com>", username: pagerd, password: hunter2}
  pushover: {token: azGDORePK8gMaC0QOYAMyEEuzJnyUi}
users:
  - id: ann
    email: ann@example.com
    slack_user: U0ANN
    contacts:
      - {channel: push, via: pushover, address: uQiRzpo4DXghDmr9QzzfQu27cmVRsG}
      - {channel: slack}
      - {channel: email}
    notification_rules:
      high: [{after: 0s, channel: push}, {after: 1m, channel: slack}]
      low: [{after: 0s, channel: email}]
    notice_channel: slack
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers: [{name: primary, start: 2025-01-06, members: [ann]}]
    notices: {before: 24h, slack_channel: "#on-call-handoff"}
escalation_policies:
  - {name: p, levels: [{name: one, targets: [{schedule: s, tier: primary}]}]}
services:
  - {name: api, priority_scheme: P0-P3, escalation_policy: p, slack_channel: C0INCIDENTS}
`

func TestLoadPeopleChannels(t *testing.T) {
	c, err := Parse([]byte(peopleBase), "p.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	u := c.User("ann")
	for _, ct := range u.Contacts {
		switch ct.Channel {
		case ChannelSlack:
			if ct.Via != "slack" || ct.Address != "U0ANN" {
				t.Errorf("slack contact %+v: want via slack to the user's slack_user", ct)
			}
		case ChannelEmail:
			if ct.Via != "email" || ct.Address != "ann@example.com" {
				t.Errorf("email contact %+v: want via email to the user's email", ct)
			}
		}
	}
	if c.Notifiers.Email.TLS != EmailSTARTTLS || c.Notifiers.Pushover.Retry == 0 || c.Notifiers.Pushover.Expire == 0 {
		t.Errorf("defaults: %+v %+v", c.Notifiers.Email, c.Notifiers.Pushover)
	}
	if !c.Notifiers.Slack.Configured() || c.Service("api").SlackChannel != "C0INCIDENTS" || c.Schedule("s").Notices.SlackChannel != "#on-call-handoff" {
		t.Error("slack settings not read")
	}

	for _, tc := range []struct {
		name      string
		old, repl string
		want      string
	}{
		{"slack contact without slack", "  slack: {bot_token: xoxb-1-2-abc, signing_secret: 8f742231b10e8888abcd99yyyzzz85a5}\n", "",
			"users[ann].contacts[1].via: slack via slack, but notifiers.slack is not configured"},
		{"half of slack", "signing_secret: 8f742231b10e8888abcd99yyyzzz85a5}", "}", "notifiers.slack: bot_token and signing_secret go together"},
		{"not a bot token", "xoxb-1-2-abc", "xoxp-1-2-abc", "notifiers.slack.bot_token: is not a Slack bot token"},
		// The prefix alone passed: Slack answers invalid_auth to every
		// call with the prefix and nothing after it, or with a space or a
		// quote pasted in.
		{"bot token that is only the prefix", "xoxb-1-2-abc", "xoxb-", "notifiers.slack.bot_token: is not a Slack bot token"},
		{"bot token with a space in it", "xoxb-1-2-abc", "\"xoxb-1-2 abc\"", "notifiers.slack.bot_token: is not a Slack bot token"},
		{"bad slack user", "slack_user: U0ANN", "slack_user: ann", `users[ann].slack_user: "ann" is not a Slack member id`},
		{"bad service channel", "slack_channel: C0INCIDENTS", "slack_channel: incidents", `services[api].slack_channel: "incidents" is not a Slack channel`},
		{"email contact without email", "  email: {smarthost:", "  x-email: {smarthost:", "unknown field"},
		{"email without settings", `  email: {smarthost: "smtp.example.com:587", from: "pagerd <pagerd@example.com>", username: pagerd, password: hunter2}` + "\n", "",
			"users[ann].contacts[2].via: email via email, but notifiers.email is not configured"},
		{"smarthost without port", `smarthost: "smtp.example.com:587"`, `smarthost: smtp.example.com`, "notifiers.email.smarthost: \"smtp.example.com\" is not host:port"},
		{"password in the clear", "password: hunter2}", "password: hunter2, tls: none}", "notifiers.email.tls: none would send the password in the clear"},
		{"username alone", ", password: hunter2}", "}", "notifiers.email: username and password"},
		{"ca file not PEM", "password: hunter2}", "password: hunter2, ca_file: people_test.go}", "notifiers.email.ca_file: people_test.go has no PEM certificate"},
		{"twilio api url not absolute", "  pushover: {", `  twilio: {account_sid: AC0123456789abcdef0123456789abcdef, auth_token: 0123456789abcdef0123456789abcdef, from: "+15555550100", api_url: api.twilio.com}` + "\n  pushover: {",
			`notifiers.twilio.api_url: "api.twilio.com" is not an absolute http(s) URL`},
		{"pushover without token", "  pushover: {token: azGDORePK8gMaC0QOYAMyEEuzJnyUi}\n", "", "push via pushover, but notifiers.pushover.token is not set"},
		{"pushover without links", "  link_secret: 0123456789abcdef0123\n", "", "push via pushover needs server.public_url and server.link_secret"},
		{"bad pushover key", "address: uQiRzpo4DXghDmr9QzzfQu27cmVRsG", "address: short", "users[ann].contacts[0].address: is not a Pushover user or group key"},
		{"slack via twilio", "- {channel: slack}", "- {channel: slack, via: twilio}", "a slack contact goes via slack"},
		{"notice channel missing", "notice_channel: slack", "notice_channel: sms", `users[ann].notice_channel: the user has no "sms" contact`},
		{"notice tier", `notices: {before: 24h,`, `notices: {tiers: [nope], before: 24h,`, `schedules[s].notices.tiers[0]: no tier "nope"`},
		{"notice channel without slack", "  slack: {bot_token: xoxb-1-2-abc, signing_secret: 8f742231b10e8888abcd99yyyzzz85a5}\n", "",
			"schedules[s].notices.slack_channel: notifiers.slack is not configured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := loadEdit(t, peopleBase, tc.old, tc.repl)
			_, err := Parse([]byte(src), "p.yaml", "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error containing %q, got: %v", tc.want, err)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "xoxb-1-2-abc") {
				t.Fatalf("a secret in the error: %v", err)
			}
		})
	}
}

// TestLoadSlackMemberIDOnePerson: a Slack member id belongs to one user,
// whether as slack_user or as a slack contact's address: a button pressed
// in Slack acts as the one user its presser maps to, so an id two users
// claim is refused, naming both and the id, in either order. A user's own
// slack contact on their own id, and a channel two users share, are fine.
func TestLoadSlackMemberIDOnePerson(t *testing.T) {
	const ann = "  - id: ann\n"
	zed := func(fields string) string {
		return "  - {id: zed, " + fields + ", contacts: [{channel: push, via: pushover, address: uQiRzpo4DXghDmr9QzzfQu27cmVRsG}, {channel: slack, address: U0ZED}]}\n"
	}
	for _, tc := range []struct {
		name string
		old  string
		repl string
		want string // "" loads
	}{
		{"contact is another's slack_user", "schedules:\n",
			strings.Replace(zed("slack_user: U0ZZZ"), "U0ZED", "U0ANN", 1) + "schedules:\n",
			`users[zed].contacts[1].address: Slack member id "U0ANN" is also user "ann"'s slack_user: a button that member pressed would act as "ann" or "zed"`},
		{"slack_user is an earlier user's contact", ann,
			strings.Replace(zed("slack_user: U0ZZZ"), "U0ZED", "U0ANN", 1) + ann,
			`users[ann].slack_user: Slack member id "U0ANN" is also user "zed"'s slack contact: a button that member pressed would act as "zed" or "ann"`},
		{"two users' contacts", "schedules:\n",
			zed("slack_user: U0ZZZ") + strings.Replace(zed("slack_user: U0YYY"), "id: zed", "id: yan", 1) + "schedules:\n",
			`users[yan].contacts[1].address: Slack member id "U0ZED" is also user "zed"'s slack contact: a button that member pressed would act as "zed" or "yan"`},
		{"two slack_users", "schedules:\n",
			zed("slack_user: U0ANN") + "schedules:\n",
			`users[zed].slack_user: Slack member id "U0ANN" is also user "ann"'s slack_user`},
		{"own contact on own slack_user", "schedules:\n",
			zed("slack_user: U0ZED") + "schedules:\n", ""},
		{"a shared channel", "schedules:\n",
			strings.Replace(zed("slack_user: U0ZZZ"), "U0ZED", "C0SHARED", 1) + "schedules:\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(loadEdit(t, peopleBase, tc.old, tc.repl)), "p.yaml", "")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("want it to load, got: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("want an error containing %q, got: %v", tc.want, err)
			}
		})
	}
}

// TestLoadEmailCAFileMissing: the daemon reads notifiers.email.ca_file when
// it starts and refuses to without it, so a CA file that is not there is
// reported like a missing secret file: a warning for check-config, an
// error for serve (CheckSecrets).
func TestLoadEmailCAFileMissing(t *testing.T) {
	src := loadEdit(t, peopleBase, "password: hunter2}", "password: hunter2, ca_file: no-such-ca.pem}")
	c, err := Parse([]byte(src), "p.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, "notifiers.email.ca_file: read CA file") || !strings.Contains(w, "no-such-ca.pem") {
		t.Errorf("warnings do not name the missing CA file:\n%s", w)
	}
	if err := c.CheckSecrets(); err == nil || !strings.Contains(err.Error(), "notifiers.email.ca_file") {
		t.Errorf("CheckSecrets = %v, want it to name notifiers.email.ca_file", err)
	}
}

// TestLoadPeopleExplicitVia: a slack or email contact that names its usual
// transport still defaults its address to the user's slack_user or email,
// as it does when it names none (docs/CONFIG.md, contacts[].address).
func TestLoadPeopleExplicitVia(t *testing.T) {
	src := loadEdit(t, peopleBase, "- {channel: slack}", "- {channel: slack, via: slack}", "- {channel: email}", "- {channel: email, via: email}")
	c, err := Parse([]byte(src), "p.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ChannelSlack: "U0ANN", ChannelEmail: "ann@example.com"}
	for _, ct := range c.User("ann").Contacts {
		if w, ok := want[ct.Channel]; ok && ct.Address != w {
			t.Errorf("%s contact via %s: address %q, want the user's %q", ct.Channel, ct.Via, ct.Address, w)
		}
	}
}

// UserName is what people read for an id: a user's name, the id when the
// user has none, and the id as it stands for an actor no user is.
func TestUserName(t *testing.T) {
	text := strings.Replace(peopleBase, "  - id: ann\n", "  - id: ann\n    name: Ann Example\n", 1)
	text = strings.Replace(text, "\nschedules:", `
  - id: bob
    email: bob@example.com
    contacts: [{channel: email}]
    notification_rules: {high: [{after: 0s, channel: email}], low: [{after: 0s, channel: email}]}
schedules:`, 1)
	c, err := Parse([]byte(text), "p.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ id, want string }{
		{"ann", "Ann Example"},
		{"bob", "bob"},
		{"api:ops", "api:ops"},
		{"", ""},
	} {
		t.Run(tc.id, func(t *testing.T) {
			if got := c.UserName(tc.id); got != tc.want {
				t.Fatalf("UserName(%q) = %q, want %q", tc.id, got, tc.want)
			}
		})
	}
}

// TestLoadNtfyContactNeedsTopic: ntfy publishes to the topic named by the
// URL's path. A URL without one (https://ntfy.sh) is ntfy's JSON publish
// endpoint, which refuses a page's plain-text body with a 400, so every
// page to the contact would fail, with a config that check-config passed.
func TestLoadNtfyContactNeedsTopic(t *testing.T) {
	for _, tc := range []struct {
		address string
		ok      bool
	}{
		{"https://ntfy.sh/oncall-ann", true},
		{"http://ntfy.internal:8080/oncall_ann", true},
		{"https://ntfy.sh", false},
		{"https://ntfy.sh/", false},
		{"https://ntfy.sh?priority=5", false},
	} {
		t.Run(tc.address, func(t *testing.T) {
			src := loadEdit(t, peopleBase, "- {channel: push, via: pushover, address: uQiRzpo4DXghDmr9QzzfQu27cmVRsG}",
				`- {channel: push, via: ntfy, address: "`+tc.address+`"}`)
			_, err := Parse([]byte(src), "p.yaml", "")
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "users[ann].contacts[0].address") || !strings.Contains(err.Error(), "topic") {
				t.Fatalf("want an error naming the contact's address and its missing topic, got: %v", err)
			}
		})
	}
}

// TestLoadNtfyContactTopicShape: ntfy takes a POST only at a path that
// is one topic name, 1 to 64 letters, digits, - and _, and answers any
// other 404: a topic with a space, a dot or a "!" in it, one too long, a
// subscription's URL (/json, /sse, /raw, /ws) or a trailing slash loaded,
// and every page to the contact failed. The topic is the URL's last
// segment: a proxy that serves ntfy under a prefix and strips it, and a
// query (?auth=...), still load.
func TestLoadNtfyContactTopicShape(t *testing.T) {
	for _, tc := range []struct {
		address string
		problem string // "" loads
	}{
		{"https://ntfy.sh/oncall-ann", ""},
		{"https://example.com/ntfy/oncall_ann", ""},
		{"https://ntfy.sh/oncall-ann?auth=dGVzdA", ""},
		{"https://ntfy.sh/on call", `ntfy topic "on call" is not one ntfy takes`},
		{"https://ntfy.sh/oncall.ann", `ntfy topic "oncall.ann" is not one ntfy takes`},
		{"https://ntfy.sh/oncall!ann", `ntfy topic "oncall!ann" is not one ntfy takes`},
		{"https://ntfy.sh/" + strings.Repeat("a", 65), "is not one ntfy takes"},
		{"https://ntfy.sh/oncall-ann/json", "ends in /json, the URL ntfy subscribes on"},
		{"https://ntfy.sh/oncall-ann/sse", "ends in /sse, the URL ntfy subscribes on"},
		{"https://ntfy.sh/oncall-ann/", "ends in a slash after the ntfy topic"},
	} {
		t.Run(tc.address, func(t *testing.T) {
			src := loadEdit(t, peopleBase, "- {channel: push, via: pushover, address: uQiRzpo4DXghDmr9QzzfQu27cmVRsG}",
				`- {channel: push, via: ntfy, address: "`+tc.address+`"}`)
			_, err := Parse([]byte(src), "p.yaml", "")
			if tc.problem == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "users[ann].contacts[0].address: ") || !strings.Contains(err.Error(), tc.problem) ||
				!strings.Contains(err.Error(), "404") {
				t.Fatalf("want an error naming the contact's address, %q and ntfy's 404, got: %v", tc.problem, err)
			}
		})
	}
}

// TestLoadSlackRotatingBotToken: with token rotation on, Slack's bot
// tokens are xoxe.xoxb-... and expire after 12 hours; the notifier reads
// the token from the config at every call, so one kept fresh in
// bot_token_file and reloaded pages. Only xoxb- was taken, so such a
// config was refused and pagerd would not start: nobody paged at all.
// The same token mangled is still refused.
func TestLoadSlackRotatingBotToken(t *testing.T) {
	for _, tc := range []struct {
		token string
		ok    bool
	}{
		{"xoxe.xoxb-1-MS0yLTExMTExMTExMTEtMjIyMjIyMjIyMg-abcdef0123456789", true},
		{"xoxb-1234-5678-abcdef", true},
		{"xoxe.xoxb-", false},
		{"xoxe.xoxp-1-MS0yLTE", false},
		{"xoxe-1-MS0yLTE", false}, // a refresh token, which no call takes
	} {
		src := loadEdit(t, peopleBase, "bot_token: xoxb-1-2-abc", "bot_token: "+tc.token)
		_, err := Parse([]byte(src), "p.yaml", "")
		if tc.ok && err != nil {
			t.Errorf("%s: refused: %v", tc.token, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "notifiers.slack.bot_token: is not a Slack bot token")) {
			t.Errorf("%s: want it refused as no bot token, got: %v", tc.token, err)
		}
	}
}
