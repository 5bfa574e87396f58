package slack_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
			body := providertest.ButtonPress("U0ANN", "CINCIDENTS", "1.2", tc.action, "00-incidentab12 1 1757894400000")
			req := httptest.NewRequest("POST", slack.InteractionsPath, strings.NewReader(body))
			req.Header = providertest.SignSlack(providertest.SlackSigningSecret, body, time.Now())
			w := httptest.NewRecorder()
			if err := cb.Interactions(w, req); err != nil || w.Code != http.StatusOK {
				t.Fatalf("press: %d %v", w.Code, err)
			}
			var said string
			for _, c := range f.Calls() {
				if c.Method == "chat.postEphemeral" && c.User == "U0ANN" {
					said = c.Text
				}
			}
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
