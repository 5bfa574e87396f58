package gateway

import (
	"strings"
	"testing"
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
