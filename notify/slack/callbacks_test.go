package slack_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/slack"
)

// failing is a Receiver whose every action fails with err; ann is
// U0ANN's pagerd user. What else a Receiver does a button never asks.
type failing struct {
	notify.Receiver
	err error
}

func (f *failing) UserByAddress(channel, address string) string {
	if channel == "slack" && address == "U0ANN" {
		return "ann"
	}
	return ""
}

func (f *failing) Act(ctx context.Context, target, user string, a notify.Action) (notify.Acted, error) {
	return notify.Acted{}, f.err
}

func (f *failing) EscalateFrom(ctx context.Context, user string, page notify.Page) (notify.Acted, error) {
	return notify.Acted{}, f.err
}

// TestButtonNotRecordedSaysWhy: a button press pagerd could not record is
// answered as every channel answers it (notify.NotRecorded): an action
// that may have been stored says so and does not ask to try again (an
// escalation done again could escalate twice); a refusal says why and
// does not ask either; a store that is down asks to try again; and no
// answer carries an error's text but a refusal's.
func TestButtonNotRecordedSaysWhy(t *testing.T) {
	const raw = "redis: i/o timeout on 10.0.0.7:6379"
	for _, tc := range []struct {
		name   string
		err    error
		action string
		want   []string
		again  bool
	}{
		{"outcome unknown", fmt.Errorf("%s: %w: %w", raw, notify.ErrOutcomeUnknown, notify.ErrUnavailable), "pagerd:escalate",
			[]string{"Your escalation may not have been recorded", "the paging goes on"}, false},
		{"unavailable", fmt.Errorf("%s: %w", raw, notify.ErrUnavailable), "pagerd:acknowledge",
			[]string{"Your acknowledgement was NOT recorded: the incident store is unavailable"}, true},
		{"conflict", fmt.Errorf("%s: %w", raw, notify.ErrConflict), "pagerd:resolve",
			[]string{"Your resolution was NOT recorded: others changed the incident"}, true},
		{"refused", fmt.Errorf("service %q is no longer in the config: %w", "api", notify.ErrRefused), "pagerd:acknowledge",
			[]string{`was NOT recorded: pagerd refused it (service "api" is no longer in the config`}, false},
		{"other", fmt.Errorf("decode incident: %s", raw), "pagerd:acknowledge",
			[]string{"was NOT recorded: pagerd failed to store it (its logs say why)"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := providertest.NewSlack(t)
			client := slack.New(slack.Options{Token: providertest.SlackBotToken, APIURL: f.URL, Timeout: 5 * time.Second})
			cb := &slack.Callbacks{Receiver: &failing{err: tc.err}, Secret: func() string { return providertest.SlackSigningSecret },
				Client: func() *slack.Client { return client }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			body := f.ButtonPress("U0ANN", "CINCIDENTS", "1.2", tc.action, "00-incidentab12 1 1757894400000")
			req := httptest.NewRequest("POST", slack.InteractionsPath, strings.NewReader(body))
			req.Header = providertest.SignSlack(providertest.SlackSigningSecret, body, time.Now())
			w := httptest.NewRecorder()
			if err := cb.Interactions(w, req); err != nil || w.Code != http.StatusOK {
				t.Fatalf("press: %d %v", w.Code, err)
			}
			said := toldAnn(f, "response_url")
			for _, want := range tc.want {
				if !strings.Contains(said, want) {
					t.Errorf("answer %q lacks %q", said, want)
				}
			}
			if again := strings.Contains(said, "try again"); again != tc.again {
				t.Errorf("answer %q: asks to try again %v, want %v", said, again, tc.again)
			}
			if strings.Contains(said, "10.0.0.7") {
				t.Errorf("answer %q carries the error's text", said)
			}
		})
	}
}

// toldAnn is the last text U0ANN was shown through method
// ("chat.postEphemeral" or "response_url").
func toldAnn(f *providertest.Slack, method string) string {
	var said string
	for _, c := range f.Calls() {
		if c.Method == method && c.User == "U0ANN" {
			said = c.Text
		}
	}
	return said
}

// acking is a Receiver whose every action acknowledges the incident.
type acking struct{ failing }

func (a *acking) Act(ctx context.Context, target, user string, act notify.Action) (notify.Acted, error) {
	return notify.Acted{Changed: true, Priority: "P0", Service: "api", Summary: "db down"}, nil
}

// press has U0ANN press Acknowledge with r as the receiver, the press
// carrying responseURL, and returns what the callbacks logged.
func press(t *testing.T, f *providertest.Slack, r notify.Receiver, responseURL string) string {
	t.Helper()
	return pressThrough(t, slack.New(slack.Options{Token: providertest.SlackBotToken, APIURL: f.URL, Timeout: 5 * time.Second}), r, responseURL)
}

// pressThrough is press with the callbacks calling Slack through client.
func pressThrough(t *testing.T, client *slack.Client, r notify.Receiver, responseURL string) string {
	t.Helper()
	var logs strings.Builder
	cb := &slack.Callbacks{Receiver: r, Secret: func() string { return providertest.SlackSigningSecret },
		Client: func() *slack.Client { return client }, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	body := providertest.ButtonPressTo(responseURL, "U0ANN", "CINCIDENTS", "1.2", "pagerd:acknowledge", "00-incidentab12")
	req := httptest.NewRequest("POST", slack.InteractionsPath, strings.NewReader(body))
	req.Header = providertest.SignSlack(providertest.SlackSigningSecret, body, time.Now())
	w := httptest.NewRecorder()
	if err := cb.Interactions(w, req); err != nil || w.Code != http.StatusOK {
		t.Fatalf("press: %d %v", w.Code, err)
	}
	return logs.String()
}

// TestButtonFailureToldThroughResponseURL: a press whose action fails is
// told to the presser through the interaction's response_url (ephemeral,
// the pressed message left as it is), which needs neither them in the
// channel nor the app allowed to message them: with chat.postEphemeral
// refused, they still learn their acknowledgement was not recorded.
// chat.postEphemeral is the fallback when the response_url fails or the
// press has none; told nowhere, it is logged at Error.
func TestButtonFailureToldThroughResponseURL(t *testing.T) {
	down := &failing{err: fmt.Errorf("redis: i/o timeout: %w", notify.ErrUnavailable)}
	const want = "Your acknowledgement was NOT recorded"
	t.Run("ephemeral refused", func(t *testing.T) {
		f := providertest.NewSlack(t)
		f.Fail("chat.postEphemeral", "user_not_in_channel")
		press(t, f, down, f.ResponseURL("U0ANN", "CINCIDENTS"))
		var told *providertest.SlackCall
		for _, c := range f.Calls() {
			if c.Method == "response_url" {
				told = &c
			}
		}
		if told == nil || told.User != "U0ANN" || !strings.Contains(told.Text, want) || told.ResponseType != "ephemeral" || told.ReplaceOriginal != "false" {
			t.Fatalf("not told through the response_url: %+v", f.Calls())
		}
	})
	t.Run("response_url fails", func(t *testing.T) {
		f := providertest.NewSlack(t)
		f.Fail("response_url", "expired_url")
		press(t, f, down, f.ResponseURL("U0ANN", "CINCIDENTS"))
		if said := toldAnn(f, "chat.postEphemeral"); !strings.Contains(said, want) {
			t.Fatalf("not told through chat.postEphemeral: %+v", f.Calls())
		}
	})
	t.Run("no response_url", func(t *testing.T) {
		f := providertest.NewSlack(t)
		press(t, f, down, "")
		if said := toldAnn(f, "chat.postEphemeral"); !strings.Contains(said, want) {
			t.Fatalf("not told through chat.postEphemeral: %+v", f.Calls())
		}
	})
	t.Run("not Slack's response_url", func(t *testing.T) {
		f, elsewhere := providertest.NewSlack(t), providertest.NewSlack(t)
		press(t, f, down, elsewhere.ResponseURL("U0ANN", "CINCIDENTS"))
		if len(elsewhere.Calls()) != 0 || !strings.Contains(toldAnn(f, "chat.postEphemeral"), want) {
			t.Fatalf("posted to %+v; told %+v", elsewhere.Calls(), f.Calls())
		}
	})
	t.Run("told nowhere", func(t *testing.T) {
		f := providertest.NewSlack(t)
		f.Fail("response_url", "used_url")
		f.Fail("chat.postEphemeral", "user_not_in_channel")
		logs := press(t, f, down, f.ResponseURL("U0ANN", "CINCIDENTS"))
		if !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "not told that their button press did nothing") ||
			!strings.Contains(logs, "slack_error=user_not_in_channel") {
			t.Fatalf("logs:\n%s", logs)
		}
	})
}

// toFake carries every request, whatever its URL's scheme and host, to
// the fake f over plain http: a client with Slack's real https addresses
// that still reaches the fake, to see which URLs pagerd takes.
type toFake struct{ f *providertest.Slack }

func (tf toFake) RoundTrip(r *http.Request) (*http.Response, error) {
	u, err := url.Parse(tf.f.URL)
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = u.Scheme, u.Host, u.Host
	return http.DefaultTransport.RoundTrip(r)
}

// TestResponseURLOverHTTPRefusedWithSlacksAPI: with Slack's own https
// Web API (the default api_url), a response_url over plain http is
// refused even on slack.com or hooks.slack.com (http is taken only when
// the api_url is http itself, a test's fake): nothing is posted to it
// and the presser is told through chat.postEphemeral, as for a foreign
// URL. The same URL over https is posted to.
func TestResponseURLOverHTTPRefusedWithSlacksAPI(t *testing.T) {
	down := &failing{err: fmt.Errorf("redis: i/o timeout: %w", notify.ErrUnavailable)}
	const want = "Your acknowledgement was NOT recorded"
	for _, tc := range []struct {
		base   string
		posted bool
	}{
		{"http://slack.com", false},
		{"http://hooks.slack.com", false},
		{"https://hooks.slack.com", true},
	} {
		t.Run(tc.base, func(t *testing.T) {
			f := providertest.NewSlack(t)
			client := slack.New(slack.Options{Token: providertest.SlackBotToken, HTTPClient: &http.Client{Transport: toFake{f}},
				Timeout: 5 * time.Second})
			u, err := url.Parse(f.ResponseURL("U0ANN", "CINCIDENTS"))
			if err != nil {
				t.Fatal(err)
			}
			pressThrough(t, client, down, tc.base+u.Path)
			viaURL, viaEphemeral := toldAnn(f, "response_url"), toldAnn(f, "chat.postEphemeral")
			if tc.posted && (!strings.Contains(viaURL, want) || viaEphemeral != "") {
				t.Fatalf("https response_url not used: %+v", f.Calls())
			}
			if !tc.posted && (viaURL != "" || !strings.Contains(viaEphemeral, want)) {
				t.Fatalf("posted to %s over http, or not told through chat.postEphemeral: %+v", tc.base, f.Calls())
			}
		})
	}
}

// TestButtonSuccessToldAsBefore: a press that worked is told through
// chat.postEphemeral, as before, and its response_url is left unused.
func TestButtonSuccessToldAsBefore(t *testing.T) {
	f := providertest.NewSlack(t)
	press(t, f, &acking{}, f.ResponseURL("U0ANN", "CINCIDENTS"))
	if said := toldAnn(f, "chat.postEphemeral"); said != "Acknowledged [P0] api: db down." {
		t.Errorf("told %q", said)
	}
	if said := toldAnn(f, "response_url"); said != "" {
		t.Errorf("told through the response_url too: %q", said)
	}
}
