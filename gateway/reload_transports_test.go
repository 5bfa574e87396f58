package gateway

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/policy"
)

// TestReloadRefusesATransportNotStarted: the transports are built once, at
// start. A reload that pages someone through a transport the daemon started
// without (notifiers.email added with the contact that uses it) would load,
// and then every page on it would fail ("the email transport is not
// available"). It is refused, naming the contact and saying to restart,
// and the old config stays in force.
func TestReloadRefusesATransportNotStarted(t *testing.T) {
	for _, tc := range []struct {
		name, notifiers, users, service string
		want                            []string
	}{
		{name: "email contact",
			notifiers: "  email: {smarthost: \"127.0.0.1:2525\", from: pagerd@example.com, tls: none}\n",
			users:     "  - {id: cal, name: Cal, contacts: [{channel: email, address: cal@example.com}]}\n",
			want:      []string{"users[cal].contacts[0].via: pages via email", "started without the email transport", "restart pagerd"}},
		{name: "slack contact and channel",
			notifiers: "  slack: {bot_token: xoxb-test-token, signing_secret: test-signing-secret}\n",
			users:     "  - {id: cal, name: Cal, contacts: [{channel: slack, address: U0CAL}]}\n",
			service:   "    slack_channel: \"#ops\"\n",
			want:      []string{"users[cal].contacts[0].via: pages via slack", "started without the slack transport", "(and 1 more field needs it)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			cfg := strings.Replace(testConfig, "users:\n", "notifiers:\n"+tc.notifiers+"users:\n"+tc.users, 1)
			cfg = strings.Replace(cfg, "    escalation_policy: p\n", "    escalation_policy: p\n"+tc.service, 1)
			err := h.reload(cfg)
			if err == nil {
				t.Fatal("reload accepted a config that pages through a transport the daemon did not start with")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error does not say %q: %v", want, err)
				}
			}
			if h.config().User("cal") != nil {
				t.Error("the refused config was swapped in")
			}
		})
	}
}

// TestReloadKeepsTransportsItStartedWith: a reload that only changes who is
// paged through transports the daemon has is taken, as before.
func TestReloadKeepsTransportsItStartedWith(t *testing.T) {
	h := newHarness(t)
	cfg := strings.Replace(testConfig, "users:\n",
		"users:\n  - {id: cal, name: Cal, contacts: [{channel: push, via: webhook, address: \"http://127.0.0.1:9/push\"}]}\n", 1)
	if err := h.reload(cfg); err != nil {
		t.Fatal(err)
	}
	if h.config().User("cal") == nil {
		t.Error("the reloaded config is not in force")
	}
}

// A reload that changes a setting read only at start (a transport's
// timeout here; a rotated credential is the case that hurts) is taken, and
// says so: a WARN naming the setting, once, and
// pagerd_config_restart_needed 1, until a reload puts it back.
func TestReloadSaysWhatTakesARestart(t *testing.T) {
	h := newHarness(t)
	gauge := func() string {
		for _, l := range strings.Split(h.do("GET", "/metrics", "").body, "\n") {
			if strings.HasPrefix(l, "pagerd_config_restart_needed ") {
				return strings.TrimPrefix(l, "pagerd_config_restart_needed ")
			}
		}
		return "absent"
	}
	if g := gauge(); g != "0" {
		t.Fatalf("pagerd_config_restart_needed at start: %s, want 0", g)
	}
	const warn = "pagerd reads these settings only at start"
	changed := strings.Replace(testConfig, "users:\n", "notifiers:\n  webhook: {timeout: 3s}\nusers:\n", 1)
	for range 2 {
		if err := h.reload(changed); err != nil {
			t.Fatal(err)
		}
	}
	if got := h.logLines("WARN", warn, "notifiers.webhook.timeout"); len(got) != 1 {
		t.Fatalf("WARN lines naming notifiers.webhook.timeout after two reloads of it: %d, want 1:\n%s", len(got), h.logs)
	}
	if g := gauge(); g != "1" {
		t.Fatalf("pagerd_config_restart_needed after the reload: %s, want 1", g)
	}
	if err := h.reload(testConfig); err != nil {
		t.Fatal(err)
	}
	if g := gauge(); g != "0" {
		t.Fatalf("pagerd_config_restart_needed once the setting is back: %s, want 0", g)
	}
	if got := h.logLines("INFO", "no restart needed"); len(got) != 1 {
		t.Fatalf("INFO lines saying no restart is needed: %d, want 1:\n%s", len(got), h.logs)
	}
	// Who is paged changes at a reload: nothing to say.
	people := strings.Replace(testConfig, "users:\n",
		"users:\n  - {id: cal, name: Cal, contacts: [{channel: push, via: log}]}\n", 1)
	if err := h.reload(people); err != nil {
		t.Fatal(err)
	}
	if got := h.logLines("WARN", warn); len(got) != 1 || gauge() != "0" {
		t.Fatalf("a reload of people only: %d WARN lines (want the 1 before), gauge %s (want 0)", len(got), gauge())
	}
}

// What a transport is built with (an account, a sender, a URL, a
// timeout) is a setting read at start; what a reload does change (storm
// bundling, dry_run, the secrets, which every call reads, the public URL)
// is not listed.
func TestChangedAtStartNamesWhatTransportsAreBuiltWith(t *testing.T) {
	started := newHarness(t).config()
	next := *started
	next.Notifiers.Twilio.From = "+15550000001"
	next.Notifiers.Slack.APIURL = "https://slack.example.net/api/"
	next.Notifiers.Email.Username = "pagerd2"
	next.Notifiers.Pushover.Timeout = policy.Duration(3 * time.Second)
	next.Notifiers.Log.DryRun = !started.Notifiers.Log.DryRun
	next.Notifiers.Slack.SigningSecret = "rotated-signing-secret"
	next.Notifiers.PagerDuty.WebhookSecret = "rotated-webhook-secret"
	next.Notifiers.Twilio.AuthToken = "0123456789abcdef0123456789abcdef"
	next.Notifiers.Slack.BotToken = "xoxb-rotated"
	next.Notifiers.Email.Password = "rotated"
	next.Notifiers.Pushover.Token = "rotated"
	next.Server.PublicURL = "https://pagerd.example.net"
	got := strings.Join(changedAtStart(started, &next, nil), ", ")
	if want := "notifiers.twilio.from, notifiers.slack.api_url, notifiers.email.username, notifiers.pushover.timeout"; got != want {
		t.Fatalf("changedAtStart = %q, want %q", got, want)
	}
}

// TestReloadMovingTwilioAccountsKeepsPagingFromTheOld: a reload moves
// pagerd to another Twilio account (account_sid and auth_token both
// changed). The account is read only at start, the token at every page:
// the old account's SID went out with the new account's token, Twilio
// refused every SMS and call until a restart, and callbacks signed by the
// old account were refused. Until the restart pagerd takes the new
// account, the old account's token goes with it, as the restart WARN
// says of the settings read at start.
func TestReloadMovingTwilioAccountsKeepsPagingFromTheOld(t *testing.T) {
	fake := providertest.NewTwilio(t)
	cfg := twilioAt(fake, twilioConfig)
	h := newHarness(t, withConfig(cfg), realTransport("twilio"), fastRetries())
	const otherSID, otherToken = "AC00000000000000000000000000000002", "fedcba9876543210fedcba9876543210"
	moved := strings.Replace(cfg, "account_sid: "+twSID+", auth_token: "+twToken, "account_sid: "+otherSID+", auth_token: "+otherToken, 1)
	if moved == cfg {
		t.Fatal("edit did not apply")
	}
	if err := h.reload(moved); err != nil {
		t.Fatal(err)
	}
	if got := h.logLines("WARN", "only at start", "notifiers.twilio.account_sid"); len(got) != 1 {
		t.Fatalf("the account's change was not said to need a restart:\n%s", h.logs)
	}
	id := fire(h)
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if n := len(fake.Messages()); n != 1 {
		t.Fatalf("the old account took %d messages after a reload moved to another, want 1", n)
	}
	cb := h.url + "/api/v1/twilio/status?incident=" + id + "&user=dan&channel=sms"
	report := url.Values{"MessageSid": {providertest.MessageSID(0)}, "MessageStatus": {"delivered"}, "AccountSid": {twSID}}
	if code, body := providertest.TwilioPost(t, cb, report, providertest.TwilioSign(twToken, cb, report)); code != 204 {
		t.Fatalf("the old account's delivery report: %d %s", code, body)
	}
}

// TestReloadMovingMailAccountsKeepsMailingFromTheOld: a reload changes
// the mail server's login, username and password both. The username is
// read only at start, the password at every login: the old username went
// with the new password, and the server refused every page by email
// until a restart. Until the restart pagerd takes the new login, the old
// password goes with the old username.
func TestReloadMovingMailAccountsKeepsMailingFromTheOld(t *testing.T) {
	srv := providertest.NewSMTP(t)
	cfg := emailConfig(srv, "ann@example.com", "[{after: 0s, channel: email}]")
	h := newHarness(t, withConfig(cfg), realTransport("email"))
	moved := strings.Replace(strings.Replace(cfg, "username: "+providertest.SMTPUser, "username: pagerd-new", 1),
		providertest.SMTPPassword, "smtp-password-of-the-new-login", 1)
	if !strings.Contains(moved, "pagerd-new") || strings.Contains(moved, providertest.SMTPPassword) {
		t.Fatalf("edit did not apply:\n%s", moved)
	}
	if err := h.reload(moved); err != nil {
		t.Fatal(err)
	}
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g1", map[string]string{"alertname": "A", "severity": "info"}),
		"Authorization", "Bearer "+amKey)
	if r.code != 200 {
		t.Fatalf("webhook: %d %s", r.code, r.body)
	}
	h.runUntil(fixedNow.Add(time.Minute))
	if n := len(srv.Mails()); n != 1 {
		t.Fatalf("the mail server took %d messages after a reload changed the login, want 1", n)
	}
}

// Where pagerd listens and keeps its incidents is read at start: a reload
// that moved the store (another Redis, prefix or data dir) said nothing,
// and the restart that took it, maybe days later, started on a store
// without the open incidents. A flag that sets one decides instead of the
// config, at a restart too: its key is not listed.
func TestChangedAtStartNamesWhereIncidentsAreKept(t *testing.T) {
	started := newHarness(t).config()
	next := *started
	next.Server.Listen = ":9090"
	next.Server.DataDir = "/var/lib/pagerd2"
	next.Server.Redis.URL = "redis://redis-2:6379/0"
	next.Server.Redis.Prefix = "pagerd2"
	got := strings.Join(changedAtStart(started, &next, nil), ", ")
	if want := "server.listen, server.data_dir, server.redis.url, server.redis.prefix"; got != want {
		t.Fatalf("changedAtStart = %q, want %q", got, want)
	}
	flags := startFlags(Options{Listen: ":8081", DataDir: "/data", RedisURL: "redis://redis-1:6379/0"})
	if got := strings.Join(changedAtStart(started, &next, flags), ", "); got != "server.redis.prefix" {
		t.Fatalf("with --listen, --data-dir and --redis-url: changedAtStart = %q, want only server.redis.prefix", got)
	}
}

// TestReloadRefusesARoutingKeyThePagerDutyItStartedWithRefuses:
// notifiers.pagerduty.events_url is read at start. Started without it,
// pagerd sends every push via pagerduty to PagerDuty itself; a reload
// that points events_url at a stand-in lets contacts' routing keys of any
// length load (a stand-in may take any key), yet their pages still go to
// PagerDuty until the restart, which refuses every event whose key is not
// 32 characters long. The reload was taken with only a restart-needed
// warning, and those people were paged by nobody. It is refused, naming
// the contact; one whose key has PagerDuty's length is still taken.
func TestReloadRefusesARoutingKeyThePagerDutyItStartedWithRefuses(t *testing.T) {
	reloaded := func(key string) string {
		return strings.Replace(testConfig, "users:\n", "notifiers:\n  pagerduty: {events_url: \"https://pd-proxy.example.com/v2/enqueue\", webhook_secret: "+
			providertest.PagerDutyWebhookSecret+"}\nusers:\n  - {id: cal, name: Cal, contacts: [{channel: push, via: pagerduty, address: "+key+"}]}\n", 1)
	}
	h := newHarness(t)
	err := h.reload(reloaded("cal-short-key"))
	if err == nil {
		t.Fatal("reload accepted a routing key PagerDuty refuses while pagerd still sends to PagerDuty")
	}
	for _, want := range []string{"users[cal].contacts[0].address", "13 characters", "events_url is read at start", "restart pagerd"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "cal-short-key") {
		t.Errorf("the error prints the routing key: %v", err)
	}
	if h.config().User("cal") != nil {
		t.Error("the refused config was swapped in")
	}
	if err := h.reload(reloaded("calkey0000000000000000000000000a")); err != nil {
		t.Fatalf("a key of PagerDuty's length is refused: %v", err)
	}
}

// TestReloadRefusesAContactOnTheTwilioNumberItStartedWith: a reload moves
// notifiers.twilio.from to a new number and gives a person the old one (a
// number ported to a phone). The config's own check compares contacts
// with the new from and passed, but from is read at start: pagerd went on
// sending from the old number, to itself, and Twilio refused every SMS to
// that person until a restart. It is refused, naming the contact; the
// restart takes it.
func TestReloadRefusesAContactOnTheTwilioNumberItStartedWith(t *testing.T) {
	fake := providertest.NewTwilio(t)
	cfg := twilioAt(fake, twilioConfig)
	h := newHarness(t, withConfig(cfg), realTransport("twilio"), fastRetries())
	const newFrom = "+15555550199"
	moved := strings.Replace(cfg, `from: "`+twFrom+`"`, `from: "`+newFrom+`"`, 1)
	moved = strings.Replace(moved, `address: "+15555550111"`, `address: "`+twFrom+`"`, 1)
	if !strings.Contains(moved, newFrom) || !strings.Contains(moved, `address: "`+twFrom+`"`) {
		t.Fatal("edit did not apply")
	}
	err := h.reload(moved)
	if err == nil {
		t.Fatal("reload accepted a contact on the number pagerd sends from until its restart")
	}
	for _, want := range []string{"users[dan].contacts[1].address", "notifiers.twilio.from is read at start", "restart pagerd"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
	if h.config().Notifiers.Twilio.From != twFrom {
		t.Error("the refused config was swapped in")
	}
	// Moving from alone is taken (with the restart-needed warning).
	if err := h.reload(strings.Replace(cfg, `from: "`+twFrom+`"`, `from: "`+newFrom+`"`, 1)); err != nil {
		t.Fatalf("a reload that moves from alone is refused: %v", err)
	}
}
