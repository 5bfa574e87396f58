package policy

import (
	"os"
	"strings"
	"testing"
)

// Warnings are what check-config prints about a config that loads but will
// not behave as its author expects; `check-config --strict` fails on them.

func TestWarnings(t *testing.T) {
	cases := []struct {
		name  string
		base  string
		edits []string
		// field and words of the one warning wanted; "" wants none.
		field string
		words []string
	}{
		{
			name: "the quickstart has none", base: "quickstart.yaml",
		},
		{
			name: "a lease shorter than a page may take to send", base: "quickstart.yaml",
			edits: []string{"  listen: 127.0.0.1:8080\n", "  listen: 127.0.0.1:8080\n  lease: 5s\n"},
			field: "server.lease",
			words: []string{"5s is shorter than a page may take to send (up to 20s", "sent twice"},
		},
		{
			name: "a service no alert can reach", base: "quickstart.yaml",
			edits: []string{"    integrations:\n" + loadQOGKey + loadQKeys, ""},
			field: "services[demo].integrations",
			words: []string{"no integration key", "no alert can reach", "pages nobody"},
		},
		{
			name: "last level timeout never fires", base: "quickstart.yaml",
			edits: []string{"    repeat: 3\n", "    repeat: 0\n"},
			field: "escalation_policies[demo].levels[primary].timeout",
			words: []string{"never fires", "last level and repeat is 0"},
		},
		{
			name: "last level per-priority timeouts never fire", base: "aion-r.yaml",
			edits: []string{"    repeat: 2\n", "    repeat: 0\n"},
			field: "escalation_policies[aion-r].levels[tertiary].timeouts",
			words: []string{"never fires"},
		},
		{
			name: "P0 and P1 stop paging after the last level", base: "quickstart.yaml",
			edits: []string{"    repeat: 3\n", "    repeat: 0\n"},
			field: "escalation_policies[demo].repeat",
			words: []string{`P0 and P1 incidents of service "demo" that nobody acknowledges stop paging once level primary has been paged`, "set repeat"},
		},
		{
			name: "SEV-1 and SEV-2 stop paging, with when", base: "aion-r.yaml",
			edits: []string{"    repeat: 2\n", "    repeat: 0\n", "          - {schedule: aion-r-oncall, tier: tertiary}\n        timeouts: {SEV-1: 10m, SEV-2: 20m, SEV-3: 1h, SEV-4: next_business_day}\n", "          - {schedule: aion-r-oncall, tier: tertiary}\n"},
			field: "escalation_policies[aion-r].repeat",
			words: []string{"SEV-1 and SEV-2 incidents", "once level tertiary has been paged (20m after the trigger)"},
		},
		{
			// The one level is paged again at its timeout (repeat), which
			// starts the ladder over before its call.
			name: "a level that times out before its ladder calls", base: "quickstart.yaml",
			edits: []string{loadQTimeout, "        timeout: 3m\n"},
			field: "escalation_policies[demo].levels[primary].timeout",
			words: []string{`3m is shorter than the ladder of user "demo" (voice at 5m)`, "level primary pages them again (repeat starts the policy over)", "put off until the last time they are paged"},
		},
		{
			name: "shift notices to someone reachable only by voice", base: "quickstart.yaml",
			edits: []string{loadQContacts, "    contacts:\n      - {channel: voice, via: log}\n",
				"        - {after: 0s, channel: push}\n        - {after: 2m, channel: sms}\n", "", loadQMembers, loadQMembers + "    notices: {before: 1h}\n"},
			field: "schedules[demo].notices",
			words: []string{`user "demo"`, "only a voice contact", "shift notices would fail"},
		},
		{
			// Twilio fetches a call's script from server.public_url: on
			// loopback (the quickstart's), every call plays Twilio's
			// application error and no keypress acknowledges.
			name: "voice through Twilio with a public_url Twilio cannot reach", base: "quickstart.yaml",
			edits: []string{"      - {channel: voice, via: log}\n", "      - {channel: voice, via: twilio, address: \"+15555550123\"}\n",
				"users:\n", "notifiers:\n  twilio: {account_sid: AC0123456789abcdef0123456789abcdef, auth_token: 0123456789abcdef0123456789abcdef, from: \"+15555550100\"}\nusers:\n"},
			field: "server.public_url",
			words: []string{`"http://127.0.0.1:8080" is a loopback address`, "Twilio cannot reach", "every call"},
		},
		{
			// The quickstart's person given a real email contact beside
			// their log ones: the ladder is push, SMS and voice, all via
			// log, so no page ever reaches the email.
			name: "a ladder that only ever pages through the log", base: "quickstart.yaml",
			edits: []string{loadQContacts, loadQContacts + "      - {channel: email, via: email, address: demo@example.com}\n",
				"users:\n", "notifiers:\n  email: {smarthost: \"smtp.example.com:587\", from: pagerd@example.com}\nusers:\n"},
			field: "users[demo].notification_rules.high",
			words: []string{"every step (push at 0s, sms at 2m, voice at 5m) goes to a contact via log", "high-urgency pages wake nobody", "never use their email contact", "add a step on email to notification_rules.high"},
		},
		{
			name: "the default low-urgency ladder through the log, at low urgency", base: "quickstart.yaml",
			edits: []string{"      - {channel: voice, via: log}\n", "      - {channel: voice, via: twilio, address: \"+15555550123\"}\n",
				"users:\n", "notifiers:\n  twilio: {account_sid: AC0123456789abcdef0123456789abcdef, auth_token: 0123456789abcdef0123456789abcdef, from: \"+15555550100\", api_url: \"http://127.0.0.1:9999\"}\nusers:\n",
				"    # No rules:", "    targets:\n      P3: {urgency: low}\n    # No rules:"},
			field: "users[demo].notification_rules.low",
			words: []string{"every step of the default ladder (push at 0s) goes to a contact via log", "low-urgency pages wake nobody", "never use their voice contact"},
		},
		{
			// No service pages at low urgency: the low ladder is never used.
			name: "a low-urgency ladder through the log that nothing uses", base: "quickstart.yaml",
			edits: []string{"      - {channel: voice, via: log}\n", "      - {channel: voice, via: twilio, address: \"+15555550123\"}\n",
				"users:\n", "notifiers:\n  twilio: {account_sid: AC0123456789abcdef0123456789abcdef, auth_token: 0123456789abcdef0123456789abcdef, from: \"+15555550100\", api_url: \"http://127.0.0.1:9999\"}\nusers:\n"},
		},
		{
			// 465 is TLS from the first byte: a STARTTLS client waits for
			// a greeting that never comes.
			name: "email on port 465 with starttls, the default", base: "quickstart.yaml",
			edits: []string{"users:\n", "notifiers:\n  email: {smarthost: \"smtp.example.com:465\", from: pagerd@example.com}\nusers:\n"},
			field: "notifiers.email.tls",
			words: []string{"is starttls (the default), but port 465 of smtp.example.com:465 is SMTP over TLS from the first byte", "every email would time out", "set tls: tls"},
		},
		{
			// tls: none on 465 is the STARTTLS client's case without the
			// STARTTLS: pagerd waits for a greeting in the clear that a
			// server speaking TLS from the first byte never sends.
			name: "email on port 465 with tls none", base: "quickstart.yaml",
			edits: []string{"users:\n", "notifiers:\n  email: {smarthost: \"smtp.example.com:465\", from: pagerd@example.com, tls: none}\nusers:\n"},
			field: "notifiers.email.tls",
			words: []string{"is none, but port 465 of smtp.example.com:465 is SMTP over TLS from the first byte", "every email would time out", "set tls: tls"},
		},
		{
			name: "email on port 587 with tls", base: "quickstart.yaml",
			edits: []string{"users:\n", "notifiers:\n  email: {smarthost: \"smtp.example.com:587\", from: pagerd@example.com, tls: tls}\nusers:\n"},
			field: "notifiers.email.tls",
			words: []string{"is tls, but port 587 of smtp.example.com:587 greets in the clear and offers STARTTLS", "set tls: starttls"},
		},
		{
			name: "email on port 465 with tls", base: "quickstart.yaml",
			edits: []string{"users:\n", "notifiers:\n  email: {smarthost: \"smtp.example.com:465\", from: pagerd@example.com, tls: tls}\nusers:\n"},
		},
		{
			// Without a calendar a service is always in business hours:
			// P2 at 3 a.m. gets the base targets, not the night's.
			name: "an off_hours variant of a service without a calendar", base: "quickstart.yaml",
			edits: []string{"    # No rules:", "    targets:\n      P2: {urgency: high, off_hours: {urgency: low, acknowledge: 1h}}\n    # No rules:"},
			field: "services[demo].targets.P2.off_hours",
			words: []string{`never applies: service "demo" names no business_hours calendar, so it is always in business hours`, "P2 incidents at night and on weekends get the base targets (high urgency)", "name a calendar in services[demo].business_hours"},
		},
		{
			name: "a public_url Twilio cannot reach is fine with a Twilio stand-in", base: "quickstart.yaml",
			edits: []string{"      - {channel: voice, via: log}\n", "      - {channel: voice, via: twilio, address: \"+15555550123\"}\n",
				"users:\n", "notifiers:\n  twilio: {account_sid: AC0123456789abcdef0123456789abcdef, auth_token: 0123456789abcdef0123456789abcdef, from: \"+15555550100\", api_url: \"http://127.0.0.1:9999\"}\nusers:\n"},
		},
		{
			// Dates without time_zone are UTC days: in New York the window
			// mutes from 19:00 the evening before and pages again from
			// 19:00 on its last day.
			name: "a maintenance window of dates in UTC where the schedules keep another zone", base: "aivo.yaml",
			edits: []string{"\nservices:\n", "\nmaintenance:\n  - {name: thanksgiving, matchers: ['env=\"staging\"'], start: 2025-11-27, end: 2025-11-27}\nservices:\n"},
			field: "maintenance[thanksgiving].time_zone",
			words: []string{"whole days in UTC", "2025-11-26 19:00 to 2025-11-27 19:00 in America/New_York", "set time_zone"},
		},
		{
			name: "a maintenance window of dates in the schedules' zone", base: "aivo.yaml",
			edits: []string{"\nservices:\n", "\nmaintenance:\n  - {name: thanksgiving, matchers: ['env=\"staging\"'], start: 2025-11-27, end: 2025-11-27, time_zone: America/New_York}\nservices:\n"},
		},
		{
			name: "a maintenance window of instants", base: "aivo.yaml",
			edits: []string{"\nservices:\n", "\nmaintenance:\n  - {name: db, matchers: ['env=\"staging\"'], start: 2025-11-27T03:00:00Z, end: 2025-11-27T05:00:00Z}\nservices:\n"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := loadEdit(t, loadExampleText(t, c.base), c.edits...)
			cfg, err := Parse([]byte(text), c.base, t.TempDir())
			if err != nil {
				t.Fatalf("a warning must not stop the config from loading: %v", err)
			}
			var got []string
			for _, w := range cfg.warnings { // the missing secrets aside
				got = append(got, w)
			}
			if c.field == "" {
				if len(got) != 0 {
					t.Fatalf("warnings: %q", got)
				}
				return
			}
			for _, w := range got {
				ok := strings.HasPrefix(w, c.field+": ")
				for _, word := range c.words {
					ok = ok && strings.Contains(w, word)
				}
				if ok {
					return
				}
			}
			t.Fatalf("no warning names %s with %q; got:\n%s", c.field, c.words, strings.Join(got, "\n"))
		})
	}
}

// TestSettingsFromEnvironment: the transports' settings and the contacts'
// addresses (a PagerDuty routing key is a credential) may come from the
// environment; unset, the config still loads for the read-only commands and
// `pagerd serve` is refused, naming the variable; set, they are used.
func TestSettingsFromEnvironment(t *testing.T) {
	text := loadEdit(t, loadExampleText(t, "quickstart.yaml"),
		"      - {channel: push, via: log}\n", "      - {channel: push, via: pagerduty, address: \"${PAGERD_TEST_PD_KEY}\"}\n",
		"      - {channel: sms, via: log}\n", "      - {channel: sms, via: twilio, address: \"${PAGERD_TEST_PHONE}\"}\n",
	) + `
notifiers:
  twilio: {account_sid: "${PAGERD_TEST_SID}", auth_token_file: no-such-file, from: "${PAGERD_TEST_FROM}"}
  pagerduty: {webhook_secret: "${PAGERD_TEST_PD_SECRET}"}
`
	vars := []string{"PAGERD_TEST_PD_KEY", "PAGERD_TEST_PHONE", "PAGERD_TEST_SID", "PAGERD_TEST_FROM", "PAGERD_TEST_PD_SECRET"}
	for _, v := range vars {
		t.Setenv(v, "")
	}
	dir := t.TempDir()
	cfg, err := Parse([]byte(text), "q.yaml", dir)
	if err != nil {
		t.Fatalf("unset settings must not stop the config from loading: %v", err)
	}
	err = cfg.CheckSecrets()
	if err == nil {
		t.Fatal("CheckSecrets passes with every setting missing")
	}
	for field, what := range map[string]string{
		"users[demo].contacts[0].address":    "PAGERD_TEST_PD_KEY",
		"users[demo].contacts[1].address":    "PAGERD_TEST_PHONE",
		"notifiers.twilio.account_sid":       "PAGERD_TEST_SID",
		"notifiers.twilio.from":              "PAGERD_TEST_FROM",
		"notifiers.pagerduty.webhook_secret": "PAGERD_TEST_PD_SECRET",
		"notifiers.twilio.auth_token":        "no-such-file",
	} {
		if !strings.Contains(err.Error(), "q.yaml: "+field+": ") || !strings.Contains(err.Error(), what) {
			t.Errorf("CheckSecrets does not name %s (%s):\n%v", field, what, err)
		}
		loadCheckWarning(t, cfg, field, what, "pagerd serve needs it")
	}

	for _, v := range vars {
		t.Setenv(v, map[string]string{"PAGERD_TEST_SID": "AC0123456789abcdef0123456789abcdef", "PAGERD_TEST_FROM": "+15555550100",
			"PAGERD_TEST_PHONE": "+15555550123"}[v]+"")
	}
	t.Setenv("PAGERD_TEST_PD_KEY", "pd-routing-key-from-env-01234567")
	t.Setenv("PAGERD_TEST_PD_SECRET", "pd-webhook-secret-from-env")
	if err := writeFile(dir+"/no-such-file", "fedcba9876543210fedcba9876543210\n"); err != nil {
		t.Fatal(err)
	}
	cfg, err = Parse([]byte(text), "q.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.CheckSecrets(); err != nil {
		t.Fatalf("CheckSecrets with everything set: %v", err)
	}
	u := cfg.User("demo")
	tw := cfg.Notifiers.Twilio
	if u.Contacts[0].Address != "pd-routing-key-from-env-01234567" || u.Contacts[1].Address != "+15555550123" ||
		tw.AccountSID != "AC0123456789abcdef0123456789abcdef" || tw.From != "+15555550100" ||
		tw.AuthToken.Reveal() != "fedcba9876543210fedcba9876543210" || cfg.Notifiers.PagerDuty.WebhookSecret.Reveal() != "pd-webhook-secret-from-env" {
		t.Errorf("settings not read from the environment: contacts %+v twilio %s %s", u.Contacts, tw.AccountSID, tw.From)
	}
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }

// TestLateFirstStepWarns: a ladder whose first step comes more than an
// hour after the person is paged (30d for 30s, 5h for 5m) is warned
// about, naming the step and the bound: with repeat: 0 nothing pages
// anyone else meanwhile, and paged again first (a repeat, a later level)
// their ladder starts over, so it may never come. An hour itself passes;
// the low-urgency ladder is judged only when a service pages at low
// urgency. Beside a contact that reaches the person, the step judged is
// the first that reaches them: a log step at 0s is no page; in an all-log
// config (the quickstart) it is.
func TestLateFirstStepWarns(t *testing.T) {
	const high = "      high:\n        - {after: 0s, channel: push}\n        - {after: 2m, channel: sms}\n        - {after: 5m, channel: voice}\n"
	const logPush, ntfyPush = "      - {channel: push, via: log}\n", "      - {channel: push, via: ntfy, address: \"https://ntfy.sh/oncall-demo\"}\n"
	for _, tc := range []struct {
		name  string
		edits []string
		want  []string // words of the warning on the ladder; nil: none
	}{
		{name: "30 days, repeat 0",
			edits: []string{high, "      high:\n        - {after: 30d, channel: push}\n", "    repeat: 3\n", "    repeat: 0\n"},
			want:  []string{"users[demo].notification_rules.high: the first step (push at 30d)", "more than 1h after demo is paged", "nobody for 30d", "bring the first step within 1h"}},
		{name: "5 hours, after the earlier steps moved too",
			edits: []string{high, "      high:\n        - {after: 5h, channel: sms}\n        - {after: 6h, channel: voice}\n"},
			want:  []string{"users[demo].notification_rules.high: the first step (sms at 5h)"}},
		{name: "an hour",
			edits: []string{high, "      high:\n        - {after: 1h, channel: push}\n"}},
		{name: "a low-urgency ladder no service uses",
			edits: []string{high, high + "      low:\n        - {after: 2h, channel: push}\n"}},
		{name: "a low-urgency ladder a service uses",
			edits: []string{high, high + "      low:\n        - {after: 2h, channel: push}\n",
				"    escalation_policy: demo\n", "    escalation_policy: demo\n    targets:\n      P3: {urgency: low}\n"},
			want: []string{"users[demo].notification_rules.low: the first step (push at 2h)", "low-urgency"}},
		{name: "a log step at 0s, the first that reaches them at 30d",
			edits: []string{logPush, ntfyPush, high, "      high:\n        - {after: 0s, channel: sms}\n        - {after: 30d, channel: push}\n"},
			want: []string{"users[demo].notification_rules.high: the first step that reaches them (push at 30d)", "more than 1h after demo is paged",
				"before it only steps via log (sms at 0s)", "nobody for 30d", "bring a step on a contact not via log within 1h"}},
		{name: "a log step at 0s, the first that reaches them within the hour",
			edits: []string{logPush, ntfyPush, high, "      high:\n        - {after: 0s, channel: sms}\n        - {after: 1h, channel: push}\n"}},
		{name: "a log step at 0s and a later one, every contact via log",
			edits: []string{high, "      high:\n        - {after: 0s, channel: sms}\n        - {after: 30d, channel: push}\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := loadEdit(t, loadExampleText(t, "quickstart.yaml"), tc.edits...)
			cfg, err := Parse([]byte(text), "quickstart.yaml", t.TempDir())
			if err != nil {
				t.Fatalf("a late first step must not stop the config from loading: %v", err)
			}
			var got []string
			for _, w := range cfg.warnings {
				if strings.Contains(w, "the first step") {
					got = append(got, w)
				}
			}
			if tc.want == nil {
				if len(got) != 0 {
					t.Fatalf("warnings %q, want none", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("warnings %q, want one", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got[0], w) {
					t.Errorf("warning %q does not say %q", got[0], w)
				}
			}
		})
	}
}
