package importer

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// fixtureNow is when the tests run the imports: before every fixture's
// rotations start to matter, after their start dates.
var fixtureNow = time.Date(2025, 10, 6, 0, 0, 0, 0, time.UTC)

// importFixture imports testdata paths, writes the config where
// check-config would read it, and loads it strictly.
func importFixture(t *testing.T, vendor string, opt Options, paths ...string) (*Result, *policy.Config) {
	t.Helper()
	var full []string
	for _, p := range paths {
		full = append(full, filepath.Join("testdata", p))
	}
	docs, err := ReadInputs(full)
	if err != nil {
		t.Fatal(err)
	}
	return importDocs(t, vendor, opt, docs...)
}

// importDocs imports docs, writes the config where check-config would
// read it, and loads it strictly.
func importDocs(t *testing.T, vendor string, opt Options, docs ...Document) (*Result, *policy.Config) {
	t.Helper()
	if opt.Now.IsZero() {
		opt.Now = fixtureNow
	}
	res, err := Import(vendor, docs, opt)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "imported.yaml")
	if err := os.WriteFile(file, res.Config, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := policy.LoadFile(file)
	if err != nil {
		t.Fatalf("the imported config does not load: %v\n%s", err, res.Config)
	}
	if testing.Verbose() {
		var b strings.Builder
		res.Report.WriteText(&b)
		t.Logf("config:\n%s\nreport:\n%s", res.Config, b.String())
	}
	return res, cfg
}

// onCallUsers is everyone on call at t in the config's schedules, sorted.
func onCallUsers(t *testing.T, cfg *policy.Config, at time.Time) []string {
	t.Helper()
	rows, err := cfg.WhoIsOnCall(at, "")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var out []string
	for _, r := range rows {
		if r.User != "" && !seen[r.User] {
			seen[r.User] = true
			out = append(out, r.User)
		}
	}
	sort.Strings(out)
	return out
}

// issueWith returns the first issue of the kind whose source and detail
// contain every string, or nil.
func issueWith(rep *Report, kind IssueKind, want ...string) *Issue {
	for i := range rep.Issues {
		is := &rep.Issues[i]
		if is.Kind != kind {
			continue
		}
		text := is.Source + ": " + is.Detail
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(text, w)
		}
		if ok {
			return is
		}
	}
	return nil
}

// hasContact reports whether the user has exactly this contact.
func hasContact(u *policy.User, want policy.Contact) bool {
	for _, c := range u.Contacts {
		if c == want {
			return true
		}
	}
	return false
}

// emailMapped checks that user id is paged by email at addr, through
// notifiers.email with its server, sender and login from the environment
// (which check-config lists, unset here, rather than refuses), and that
// the report no longer calls an email contact one pagerd cannot page.
func emailMapped(t *testing.T, res *Result, cfg *policy.Config, id, addr string) {
	t.Helper()
	u := cfg.User(id)
	if u == nil {
		t.Fatalf("no user %s:\n%s", id, res.Config)
	}
	if want := (policy.Contact{Channel: policy.ChannelEmail, Via: "email", Address: addr}); !hasContact(u, want) {
		t.Errorf("%s's contacts %+v, want %+v among them", id, u.Contacts, want)
	}
	for _, want := range []string{
		"  email:\n",
		`    smarthost: "${PAGERD_SMTP_SMARTHOST}"`,
		`    from: "${PAGERD_SMTP_FROM}"`,
		`    username: "${PAGERD_SMTP_USERNAME}"`,
		`    password: "${PAGERD_SMTP_PASSWORD}"`,
	} {
		if !strings.Contains(string(res.Config), want) {
			t.Errorf("the config has no %q:\n%s", want, res.Config)
		}
	}
	missing := 0
	for _, w := range res.Report.Warnings {
		if strings.HasPrefix(w, "notifiers.email.") && strings.Contains(w, "environment variable PAGERD_SMTP_") {
			missing++
		}
	}
	if missing != 4 {
		t.Errorf("check-config names %d of notifiers.email's 4 settings from the environment as not set: %q", missing, res.Report.Warnings)
	}
	for _, is := range res.Report.Issues {
		listed, _, _ := strings.Cut(is.Detail, " (")
		if strings.Contains(listed, "cannot page") && strings.Contains(listed, "email") ||
			strings.Contains(is.Detail, "email after") {
			t.Errorf("the report still leaves email out: %s: %s", is.Source, is.Detail)
		}
	}
}

// slackMapped checks that user id is paged by Slack direct message to
// member, who is their slack_user too, through notifiers.slack with its
// token and signing secret from the environment.
func slackMapped(t *testing.T, res *Result, cfg *policy.Config, id, member string) {
	t.Helper()
	u := cfg.User(id)
	if u == nil {
		t.Fatalf("no user %s:\n%s", id, res.Config)
	}
	if want := (policy.Contact{Channel: policy.ChannelSlack, Via: "slack", Address: member}); !hasContact(u, want) || u.SlackUser != member {
		t.Errorf("%s: contacts %+v, slack_user %q; want %+v and %s", id, u.Contacts, u.SlackUser, want, member)
	}
	for _, want := range []string{
		"  slack:\n",
		`    bot_token: "${PAGERD_SLACK_BOT_TOKEN}"`,
		`    signing_secret: "${PAGERD_SLACK_SIGNING_SECRET}"`,
	} {
		if !strings.Contains(string(res.Config), want) {
			t.Errorf("the config has no %q:\n%s", want, res.Config)
		}
	}
	missing := 0
	for _, w := range res.Report.Warnings {
		if strings.HasPrefix(w, "notifiers.slack.") && strings.Contains(w, "environment variable PAGERD_SLACK_") {
			missing++
		}
	}
	if missing != 2 {
		t.Errorf("check-config names %d of notifiers.slack's 2 secrets as not set: %q", missing, res.Report.Warnings)
	}
	for _, is := range res.Report.Issues {
		if strings.Contains(is.Source, `"`+id+`"`) && strings.Contains(is.Detail, "slack after") {
			t.Errorf("the report still leaves %s's Slack steps out: %s", id, is.Detail)
		}
	}
}
