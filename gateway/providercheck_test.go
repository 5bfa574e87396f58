package gateway

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pagerd/pagerd/internal/logtest"
	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/policy"
)

// providerCheckConfig is a config paging ann through via (her address
// addr), with notifiers as given.
func providerCheckConfig(notifiers, via, addr string) string {
	channel := map[string]string{"twilio": "sms", "pushover": "push"}[via]
	if channel == "" {
		channel = via
	}
	logChannel := "push"
	if channel == "push" {
		logChannel = "sms"
	}
	return `
server:
  public_url: ` + harnessURL + `
  link_secret: provider-check-link-secret-0123456
api:
  tokens: [{name: ops, token: ` + apiToken + `, role: admin}]
notifiers:
` + notifiers + `
users:
  - id: ann
    name: Ann
    email: ann@example.com
    contacts: [{channel: ` + logChannel + `, via: log}, {channel: ` + channel + `, via: ` + via + `, address: "` + addr + `"}]
  - {id: bob, name: Bob, contacts: [{channel: push, via: log}]}
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers: [{name: primary, start: 2025-01-06, members: [ann]}]
escalation_policies:
  - {name: p, levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]}
services:
  - name: api
    priority_scheme: P0-P3
    escalation_policy: p
    integrations: {alertmanager_key: ` + amKey + `}
`
}

// waitLog waits (bounded) for a log line whose message has every part,
// and returns it.
func waitLog(t *testing.T, h *harness, level string, parts ...string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, l := range logtest.Lines(t, h.logs.String()) {
			msg, _ := l["msg"].(string)
			ok := l["level"] == level
			for _, p := range parts {
				ok = ok && strings.Contains(msg, p)
			}
			if ok {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s line saying %q; log:\n%s", level, parts, h.logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestProviderCheckAtStart: pagerd serve asks each provider, in the
// background after start and sending nothing, whether it takes pagerd's
// credentials. A good one is an INFO line and pagerd_provider_check_ok 1;
// a bad one a WARN naming the transport, what failed and whose pages it
// affects, and the metric 0.
func TestProviderCheckAtStart(t *testing.T) {
	tw := providertest.NewTwilio(t)
	mail := providertest.NewSMTP(t)
	sl := providertest.NewSlack(t)
	po := providertest.NewPushover(t)
	twilio := func(token, from string) string {
		return `  twilio: {account_sid: ` + providertest.TwilioSID + `, auth_token: ` + token + `, from: "` + from + `", api_url: "` + tw.URL + `"}`
	}
	emailFrom := func(password, from string) string {
		return `  email: {smarthost: "` + mail.Addr + `", from: ` + from + `, username: ` + providertest.SMTPUser + `, password: ` + password +
			`, ca_file: ` + mail.CAFile + `}`
	}
	email := func(password string) string { return emailFrom(password, "pagerd@example.com") }
	slack := func(token string) string {
		return `  slack: {bot_token: ` + token + `, signing_secret: ` + providertest.SlackSigningSecret + `, api_url: "` + sl.URL + `"}`
	}
	pushover := func(token string) string {
		return `  pushover: {token: ` + token + `, api_url: "` + po.URL + `"}`
	}
	const userKey = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
	for _, tc := range []struct {
		name, notifiers, via, addr string
		fails                      []string // what the WARN says; none: it passes
	}{
		{name: "twilio passes", notifiers: twilio(providertest.TwilioToken, providertest.TwilioFrom), via: "twilio", addr: "+15555550100"},
		{name: "twilio wrong token", notifiers: twilio("ffffffffffffffffffffffffffffffff", providertest.TwilioFrom), via: "twilio", addr: "+15555550100",
			fails: []string{"fetch account", "401", "pages via twilio to ann will fail"}},
		{name: "twilio from number not the account's", notifiers: twilio(providertest.TwilioToken, "+15555550999"), via: "twilio", addr: "+15555550100",
			fails: []string{"from number +15555550999 is not one of account", "pages via twilio to ann will fail"}},
		{name: "twilio from number a verified caller ID", notifiers: twilio(providertest.TwilioToken, providertest.TwilioCallerID), via: "twilio", addr: "+15555550100",
			fails: []string{"from number " + providertest.TwilioCallerID + " is a verified caller ID of account " + providertest.TwilioSID +
				", not one of its numbers: calls from it go out, SMS from it are refused", "pages via twilio to ann will fail"}},
		{name: "email passes", notifiers: email(providertest.SMTPPassword), via: "email", addr: "ann@example.com"},
		{name: "email login refused", notifiers: email("wrong-password"), via: "email", addr: "ann@example.com",
			fails: []string{"AUTH", "pages via email to ann will fail"}},
		{name: "email sender not the login's", notifiers: emailFrom(providertest.SMTPPassword, providertest.NotOwnedSender), via: "email", addr: "ann@example.com",
			fails: []string{"RCPT TO", "553", "Sender address rejected: not owned by user", "pages via email to ann will fail"}},
		{name: "email no such mailbox", notifiers: email(providertest.SMTPPassword), via: "email", addr: "nobody@example.com",
			fails: []string{"RCPT TO", "550", "No such user", "pages via email to ann will fail"}},
		{name: "slack passes", notifiers: slack(providertest.SlackBotToken), via: "slack", addr: "U0ANN"},
		{name: "slack revoked token", notifiers: slack("xoxb-revoked"), via: "slack", addr: "U0ANN",
			fails: []string{"auth.test", "invalid_auth", "pages via slack to ann will fail"}},
		{name: "pushover passes", notifiers: pushover(providertest.PushoverToken), via: "pushover", addr: userKey},
		{name: "pushover wrong user key", notifiers: pushover(providertest.PushoverToken), via: "pushover", addr: providertest.PushoverUnknownUser,
			fails: []string{"user key is invalid", "pages via pushover to ann will fail"}},
		{name: "pushover wrong token", notifiers: pushover("aWrongApplicationToken00000000"), via: "pushover", addr: userKey,
			fails: []string{"application token is invalid", "pages via pushover to ann will fail"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mailsBefore, slackBefore := len(mail.Mails()), len(sl.Calls())
			h := newHarness(t, withConfig(providerCheckConfig(tc.notifiers, tc.via, tc.addr)), realTransport(tc.via))
			h.runFor(t)
			if tc.fails == nil {
				waitLog(t, h, "INFO", "notifiers."+tc.via+": provider check passed")
				if got := metric(t, h.reg, "pagerd_provider_check_ok", "via", tc.via); got != 1 {
					t.Errorf("pagerd_provider_check_ok{via=%q} = %v, want 1", tc.via, got)
				}
			} else {
				l := waitLog(t, h, "WARN", append([]string{"notifiers." + tc.via + ": provider check failed"}, tc.fails...)...)
				if l["via"] != tc.via {
					t.Errorf("the WARN's via is %v", l["via"])
				}
				if got := metric(t, h.reg, "pagerd_provider_check_ok", "via", tc.via); got != 0 || !hasMetric(t, h, tc.via) {
					t.Errorf("pagerd_provider_check_ok{via=%q} = %v, want 0", tc.via, got)
				}
			}
			// Nothing was sent to anyone.
			if len(tw.Messages())+len(tw.Calls())+len(po.Messages()) > 0 || len(mail.Mails()) != mailsBefore || len(sl.Calls()) != slackBefore {
				t.Errorf("the check sent something: twilio %d sms %d calls, pushover %d, mails %d, slack %d",
					len(tw.Messages()), len(tw.Calls()), len(po.Messages()), len(mail.Mails())-mailsBefore, len(sl.Calls())-slackBefore)
			}
		})
	}
}

// hasMetric reports whether pagerd_provider_check_ok{via} exists.
func hasMetric(t *testing.T, h *harness, via string) bool {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "pagerd_provider_check_ok" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "via" && lp.GetValue() == via {
					return true
				}
			}
		}
	}
	return false
}

// TestProviderCheckHangingProviderDelaysNothing: a provider that never
// answers holds up neither the start nor pages; its check gives up at the
// transport's timeout and says so.
func TestProviderCheckHangingProviderDelaysNothing(t *testing.T) {
	var inflight atomic.Int32
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inflight.Add(1)
		defer inflight.Add(-1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) })
	cfg := providerCheckConfig(`  slack: {bot_token: `+providertest.SlackBotToken+`, signing_secret: `+providertest.SlackSigningSecret+
		`, api_url: "`+hang.URL+`/api/", timeout: 2s}`, "slack", "U0ANN")
	rec := &recorder{}
	h := newHarness(t, withConfig(cfg), realTransport("slack"), withNow(time.Now), withNotifier("log", rec), maxSleep(20*time.Millisecond))
	h.runFor(t)
	deadline := time.Now().Add(10 * time.Second)
	for inflight.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the check never called the provider")
		}
		time.Sleep(time.Millisecond)
	}
	// The daemon answers and pages while the check hangs.
	if r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g1", map[string]string{"alertname": "A", "severity": "critical"}),
		"Authorization", "Bearer "+amKey); r.code != 200 {
		t.Fatalf("webhook: %d %s", r.code, r.body)
	}
	for len(rec.sentTo("ann", "push")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no page went out while the provider check hung")
		}
		time.Sleep(time.Millisecond)
	}
	if inflight.Load() == 0 {
		t.Fatal("the check no longer hung when the page went out: the test proves nothing")
	}
	waitLog(t, h, "WARN", "notifiers.slack: provider check failed", "pages via slack to ann will fail")
	if got := metric(t, h.reg, "pagerd_provider_check_ok", "via", "slack"); got != 0 || !hasMetric(t, h, "slack") {
		t.Errorf("pagerd_provider_check_ok{via=slack} = %v, want 0", got)
	}
}

// TestProviderCheckFollowsReloads: a transport in dry_run is not checked
// (nothing is sent through it), nor any with check_at_start: false; a
// reload that takes it out of dry_run checks it, and a reload that changes
// nothing of it does not check it again.
func TestProviderCheckFollowsReloads(t *testing.T) {
	sl := providertest.NewSlack(t)
	notifiers := func(extra string) string {
		return `  slack: {bot_token: ` + providertest.SlackBotToken + `, signing_secret: ` + providertest.SlackSigningSecret +
			`, api_url: "` + sl.URL + `"` + extra + `}`
	}
	h := newHarness(t, withConfig(providerCheckConfig(notifiers(", dry_run: true"), "slack", "U0ANN")), realTransport("slack"))
	h.runFor(t)
	reload := func(cfg string) {
		t.Helper()
		if err := h.reload(cfg); err != nil {
			t.Fatal(err)
		}
	}
	// Each reload is checked (or not) before the next is taken: a third
	// reload that is checked proves the ones before it were done.
	reload(providerCheckConfig(notifiers("")+"\n  check_at_start: false", "slack", "U0ANN"))
	reload(providerCheckConfig(notifiers(""), "slack", "U0ANN"))
	waitLog(t, h, "INFO", "notifiers.slack: provider check passed")
	if n := sl.AuthTests(); n != 1 {
		t.Fatalf("auth.test called %d times, want once (dry_run and check_at_start: false are not checked)", n)
	}
	reload(providerCheckConfig(notifiers(""), "slack", "U0ANN"))
	reload(providerCheckConfig(notifiers(", dry_run: true"), "slack", "U0ANN"))
	deadline := time.Now().Add(10 * time.Second)
	for hasMetric(t, h, "slack") {
		if time.Now().After(deadline) {
			t.Fatal("pagerd_provider_check_ok{via=slack} still set with slack in dry_run")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := sl.AuthTests(); n != 1 {
		t.Errorf("auth.test called %d times, want once (an unchanged reload is not checked again)", n)
	}
}

// TestProviderCheckFollowsARotatedSecret: a reload that rotates the bot
// token (which the next page sends) checks it again: rotated at Slack
// too, it passes; rotated in pagerd to a token Slack does not take, the
// check fails and says so, before any page fails on it.
func TestProviderCheckFollowsARotatedSecret(t *testing.T) {
	sl := providertest.NewSlack(t)
	notifiers := func(token string) string {
		return `  slack: {bot_token: ` + token + `, signing_secret: ` + providertest.SlackSigningSecret + `, api_url: "` + sl.URL + `"}`
	}
	h := newHarness(t, withConfig(providerCheckConfig(notifiers(providertest.SlackBotToken), "slack", "U0ANN")), realTransport("slack"))
	h.runFor(t)
	waitLog(t, h, "INFO", "notifiers.slack: provider check passed")
	const rotated = "xoxb-1234-5678-rotatedslacktoken"
	sl.RotateToken(rotated)
	if err := h.reload(providerCheckConfig(notifiers(rotated), "slack", "U0ANN")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for sl.AuthTests() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("auth.test called %d times, want again after the token was rotated", sl.AuthTests())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := h.reload(providerCheckConfig(notifiers("xoxb-1234-5678-mistypedslacktoken"), "slack", "U0ANN")); err != nil {
		t.Fatal(err)
	}
	waitLog(t, h, "WARN", "notifiers.slack: provider check failed", "pages via slack to ann will fail")
}

// TestProviderCheckTriesAFailedCheckAgain: a check that failed (a provider
// or network down for a moment at start) is tried again until it passes,
// so its metric and alert do not wait for a reload.
func TestProviderCheckTriesAFailedCheckAgain(t *testing.T) {
	sl := providertest.NewSlack(t)
	sl.Fail("auth.test", "fatal_error") // the first call only
	notifiers := `  slack: {bot_token: ` + providertest.SlackBotToken + `, signing_secret: ` + providertest.SlackSigningSecret +
		`, api_url: "` + sl.URL + `"}`
	h := newHarness(t, withConfig(providerCheckConfig(notifiers, "slack", "U0ANN")), realTransport("slack"))
	h.d.providers.recheck = 20 * time.Millisecond
	h.runFor(t)
	waitLog(t, h, "WARN", "notifiers.slack: provider check failed", "fatal_error")
	waitLog(t, h, "INFO", "notifiers.slack: provider check passed")
	if got := metric(t, h.reg, "pagerd_provider_check_ok", "via", "slack"); got != 1 {
		t.Errorf("pagerd_provider_check_ok{via=slack} = %v after the check passed again, want 1", got)
	}
}

// TestProviderCheckBacksOffAFailureThatLasts: a check that keeps failing
// (a wrong token) is tried again after 5 minutes, then twice as long each
// time, up to hourly, not every 5 minutes: the provider's rate limit is
// the one pages use. A reload tries it at once.
func TestProviderCheckBacksOffAFailureThatLasts(t *testing.T) {
	calls := 0
	p := newProviderCheck(map[string]providerProbe{"slack": {account: func(context.Context) error {
		calls++
		return errors.New("invalid_auth")
	}}}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	cfg, ctx := &policy.Config{}, context.Background()
	t0 := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	p.check(ctx, cfg, t0) // at start
	var tried []time.Duration
	for m := time.Minute; m <= 4*time.Hour; m += time.Minute {
		before := calls
		p.check(ctx, cfg, t0.Add(m))
		if calls > before {
			tried = append(tried, m)
		}
	}
	want := []time.Duration{5 * time.Minute, 15 * time.Minute, 35 * time.Minute, 75 * time.Minute, 135 * time.Minute, 195 * time.Minute}
	if !slices.Equal(tried, want) {
		t.Errorf("checked again after %v, want %v", tried, want)
	}
	before := calls
	p.check(ctx, cfg, time.Time{}) // a reload
	if calls != before+1 {
		t.Errorf("a reload did not check the failed transport at once")
	}
}

// TestProviderCheckChecksAPassedCheckAgain: a check that passed is made
// again every 15 minutes (Pushover's, one request per contact, hourly), so
// credentials revoked while pagerd runs are found by the check and its
// alert, not by the first page that fails; passing again is not logged at
// INFO, failing is, and is then tried again as any failed check.
func TestProviderCheckChecksAPassedCheckAgain(t *testing.T) {
	var fail bool
	var mu sync.Mutex // the transports are checked side by side
	calls := map[string]int{}
	probe := func(via string) func(context.Context) error {
		return func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			calls[via]++
			if fail && via == "slack" {
				return errors.New("token_revoked")
			}
			return nil
		}
	}
	var logs strings.Builder
	p := newProviderCheck(map[string]providerProbe{
		"slack":    {account: probe("slack")},
		"pushover": {address: oneByOne(func(ctx context.Context, _ string) error { return probe("pushover")(ctx) })},
	}, slog.New(slog.NewTextHandler(&logs, nil)), prometheus.NewRegistry())
	cfg := &policy.Config{Users: []policy.User{{ID: "ann", Contacts: []policy.Contact{{Via: "pushover", Address: "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"}}}}}
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	p.check(ctx, cfg, t0) // at start
	tried := map[string][]time.Duration{}
	for m := time.Minute; m <= 2*time.Hour; m += time.Minute {
		if m == 50*time.Minute {
			fail = true // revoked at Slack
		}
		before := maps.Clone(calls)
		p.check(ctx, cfg, t0.Add(m))
		for via, n := range calls {
			if n > before[via] {
				tried[via] = append(tried[via], m)
			}
		}
	}
	// Passed at 15, 30 and 45; failed at 60; tried again 5, 10, 20 minutes
	// after each failure.
	if want := []time.Duration{15 * time.Minute, 30 * time.Minute, 45 * time.Minute, 60 * time.Minute, 65 * time.Minute, 75 * time.Minute, 95 * time.Minute}; !slices.Equal(tried["slack"], want) {
		t.Errorf("slack checked again after %v, want %v", tried["slack"], want)
	}
	if want := []time.Duration{time.Hour, 2 * time.Hour}; !slices.Equal(tried["pushover"], want) {
		t.Errorf("pushover checked again after %v, want %v", tried["pushover"], want)
	}
	if got := testutil.ToFloat64(p.ok.WithLabelValues("slack")); got != 0 {
		t.Errorf("pagerd_provider_check_ok{via=slack} = %v after the token was revoked, want 0", got)
	}
	out := logs.String()
	if n := strings.Count(out, "provider check passed ("); n != 2 {
		t.Errorf("%d INFO lines of a passed check, want one for each transport at start:\n%s", n, out)
	}
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "notifiers.slack: provider check failed (it passed before") || !strings.Contains(out, "token_revoked") {
		t.Errorf("no WARN saying the check that passed failed now:\n%s", out)
	}
}

// TestProviderCheckFindsATokenRevokedWhilePagerdRuns: the Slack token is
// revoked at Slack after the start check passed; the next check finds it,
// sets the metric to 0 and names whose pages will fail.
func TestProviderCheckFindsATokenRevokedWhilePagerdRuns(t *testing.T) {
	sl := providertest.NewSlack(t)
	notifiers := `  slack: {bot_token: ` + providertest.SlackBotToken + `, signing_secret: ` + providertest.SlackSigningSecret +
		`, api_url: "` + sl.URL + `"}`
	h := newHarness(t, withConfig(providerCheckConfig(notifiers, "slack", "U0ANN")), realTransport("slack"))
	h.d.providers.recheckPassed = 20 * time.Millisecond
	h.runFor(t)
	waitLog(t, h, "INFO", "notifiers.slack: provider check passed")
	sl.RotateToken("xoxb-1234-5678-tokenafterrevoking")
	waitLog(t, h, "WARN", "notifiers.slack: provider check failed (it passed before", "pages via slack to ann will fail")
	if got := metric(t, h.reg, "pagerd_provider_check_ok", "via", "slack"); got != 0 {
		t.Errorf("pagerd_provider_check_ok{via=slack} = %v after the token was revoked, want 0", got)
	}
}

// TestProviderCheckKeepsItsTimesAtTheTickersTicks: Run's ticker hands out
// times a few nanoseconds either side of a period apart, half of them a
// hair before the time a check is due. A check that failed once at its
// check every 15 minutes (a network blip) is tried again at the tick 5
// minutes later, not skipped to the one after: left at 0 for 10 minutes,
// pagerd_provider_check_ok fires PagerdProviderCheckFailed (for: 10m) for
// a provider that was fine. A check that passed is made again at the tick
// 15 minutes later too.
func TestProviderCheckKeepsItsTimesAtTheTickersTicks(t *testing.T) {
	calls := 0
	p := newProviderCheck(map[string]providerProbe{"slack": {account: func(context.Context) error {
		calls++
		if calls == 2 { // a blip at the first check again
			return errors.New("dial tcp: i/o timeout")
		}
		return nil
	}}}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	cfg, ctx := &policy.Config{}, context.Background()
	t0 := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	p.check(ctx, cfg, time.Time{}) // at start
	p.passed["slack"] = t0         // as the start check, at the ticker's start
	var tried []int
	for k := 1; k <= 6; k++ {
		tick := t0.Add(time.Duration(k) * providerRecheckEvery)
		if k%2 == 1 {
			tick = tick.Add(-time.Microsecond) // a hair early, as Run's ticker's times are
		}
		before := calls
		p.check(ctx, cfg, tick)
		if calls > before {
			tried = append(tried, k)
		}
		if got := testutil.ToFloat64(p.ok.WithLabelValues("slack")); k == 4 && got != 1 {
			t.Errorf("pagerd_provider_check_ok{via=slack} = %v 20 minutes in, 5 after a blip, want 1", got)
		}
	}
	if want := []int{3, 4}; !slices.Equal(tried, want) {
		t.Errorf("checked at ticks %v (5 minutes apart), want %v", tried, want)
	}
}

// TestProviderCheckDoesNotBlameTheProviderForABlip: a check that passed
// and now fails because the provider did not answer (a timeout, the
// network) does not say that something changed at the provider, which
// nobody knows: the on-call person reading it would look for a revoked
// token. A refusal (the token revoked) does say it.
func TestProviderCheckDoesNotBlameTheProviderForABlip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		changed bool
	}{
		{"a timeout", notify.Temporary(errors.New("slack auth.test: dial tcp: i/o timeout")), false},
		{"a refusal", errors.New("slack auth.test: token_revoked"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			var logs strings.Builder
			p := newProviderCheck(map[string]providerProbe{"slack": {account: func(context.Context) error { return err }}},
				slog.New(slog.NewTextHandler(&logs, nil)), prometheus.NewRegistry())
			cfg, ctx := &policy.Config{}, context.Background()
			t0 := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
			p.check(ctx, cfg, t0)
			p.passed["slack"] = t0
			err = tc.err
			p.check(ctx, cfg, t0.Add(providerRecheckPassed))
			out := logs.String()
			if !strings.Contains(out, "provider check failed") {
				t.Fatalf("no failure logged:\n%s", out)
			}
			if got := strings.Contains(out, "something changed at the provider"); got != tc.changed {
				t.Errorf("says something changed at the provider: %v, want %v:\n%s", got, tc.changed, out)
			}
		})
	}
}
