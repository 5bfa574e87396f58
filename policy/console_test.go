package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// consoleBase is a small config the console cases edit.
const consoleBase = `server:
  public_url: https://pagerd.example
users:
  - id: ann
    email: ann@example.com
    contacts: [{channel: push, via: log}]
  - id: bob
    contacts: [{channel: push, via: log}]
`

// testHash has the shape of a bcrypt hash (cost 4).
const testHash = "$2a$04$3H.Ugw7FPO8S9nSGVm1i6uNOTQmjJ6ghIIcM5i8m9nAzOGaDfbxS6"

func TestLoadConsole(t *testing.T) {
	text := consoleBase + `console:
  session_key: 0123456789abcdef0123456789abcdef
  oidc: {issuer: https://idp.example, client_id: pagerd, client_secret_file: secret.txt}
`
	text = strings.Replace(text, "    email: ann@example.com\n", "    email: ann@example.com\n    role: admin\n    password_hash: '"+testHash+"'\n", 1)
	text = strings.Replace(text, "  - id: bob\n", "  - id: bob\n    oidc_subject: '00uB0b'\n", 1)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Parse([]byte(text), "c.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Console.Enabled() || c.Console.OIDC.ClientSecret.Reveal() != "s3cret" || time.Duration(c.Console.SessionTTL) != DefaultSessionTTL ||
		c.Console.OIDC.Name != "your identity provider" {
		t.Errorf("console %+v", c.Console)
	}
	if got := c.User("ann").ConsoleRole(); got != RoleAdmin {
		t.Errorf("ann's role %q", got)
	}
	if got := c.User("bob").ConsoleRole(); got != RoleResponder {
		t.Errorf("bob's role without one %q, want responder", got)
	}
	if c.UserByEmail("ANN@example.COM") != c.User("ann") || c.UserByEmail("") != nil {
		t.Error("UserByEmail")
	}
	// A subject is compared exactly: providers' subjects are case sensitive.
	if c.UserBySubject("00uB0b") != c.User("bob") || c.UserBySubject("00ub0b") != nil || c.UserBySubject("") != nil {
		t.Error("UserBySubject")
	}
	if len(c.Warnings()) != 0 {
		t.Errorf("warnings %v", c.Warnings())
	}
	// Off without a session key.
	c, err = Parse([]byte(consoleBase), "c.yaml", dir)
	if err != nil || c.Console.Enabled() {
		t.Errorf("no console section: %v, enabled %v", err, c.Console.Enabled())
	}
}

func TestLoadConsoleRefuses(t *testing.T) {
	for name, tc := range map[string]struct{ edit, want string }{
		"unknown role":      {"users:\n  - id: ann\n", "users[ann].role: \"boss\" is not a role"},
		"not a bcrypt hash": {"users:\n  - id: ann\n", "users[ann].password_hash: is not a bcrypt hash"},
		"short session key": {"console: {session_key: short}\n", "console.session_key: must be at least 32 bytes"},
		"session ttl":       {"console: {session_key: 0123456789abcdef0123456789abcdef, session_ttl: 1m}\n", "console.session_ttl: must be from 5m to 30d"},
		"oidc without key":  {"console: {oidc: {issuer: https://idp.example, client_id: x}}\n", "console.oidc: the console is off without console.session_key"},
		"oidc issuer":       {"console: {session_key: 0123456789abcdef0123456789abcdef, oidc: {issuer: idp.example, client_id: x}}\n", "console.oidc.issuer: \"idp.example\" is not an absolute http(s) URL"},
		"oidc client":       {"console: {session_key: 0123456789abcdef0123456789abcdef, oidc: {issuer: https://idp.example}}\n", "console.oidc.client_id: is required"},
		"unknown key":       {"console: {session_key: 0123456789abcdef0123456789abcdef, sesion_ttl: 1h}\n", "sesion_ttl"},
		"same subject":      {withSubjects("ann", "00uA", "bob", "00uA"), "users[bob].oidc_subject: user \"ann\" has the same oidc_subject"},
		// The second ann is named by its index.
		"same subject, same id": {withSubjects("ann", "00uA", "ann", "00uA"), "users[1].oidc_subject: user \"ann\" has the same oidc_subject"},
		"blank subject":         {withSubjects("ann", " "), "users[ann].oidc_subject: is blank"},
		"subject with a space":  {withSubjects("ann", "00uA "), "users[ann].oidc_subject: \"00uA \" has spaces at an end"},
	} {
		t.Run(name, func(t *testing.T) {
			text := consoleBase
			switch name {
			case "unknown role":
				text = strings.Replace(text, "  - id: ann\n", "  - id: ann\n    role: boss\n", 1)
			case "not a bcrypt hash":
				text = strings.Replace(text, "  - id: ann\n", "  - id: ann\n    password_hash: hunter2\n", 1)
			case "same subject", "same subject, same id", "blank subject", "subject with a space":
				text = "server:\n  public_url: https://pagerd.example\n" + tc.edit
			default:
				text += tc.edit
			}
			_, err := Parse([]byte(text), "c.yaml", t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows the hash: %v", err)
			}
		})
	}
	t.Run("oidc without public_url", func(t *testing.T) {
		text := strings.Replace(consoleBase, "server:\n  public_url: https://pagerd.example\n", "", 1) +
			"console: {session_key: 0123456789abcdef0123456789abcdef, oidc: {issuer: https://idp.example, client_id: x}}\n"
		if _, err := Parse([]byte(text), "c.yaml", t.TempDir()); err == nil || !strings.Contains(err.Error(), "needs server.public_url") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a subject without a provider", func(t *testing.T) {
		text := withSubjects("ann", "00uA", "bob", "00uB") + "console: {session_key: 0123456789abcdef0123456789abcdef}\n"
		c, err := Parse([]byte(text), "c.yaml", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		want := "users[ann].oidc_subject: does nothing without console.oidc (nor does one more user's)"
		if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, want) || strings.Contains(w, "users[bob]") {
			t.Errorf("warnings %q, want one: %q", w, want)
		}
	})
	t.Run("subjects alone let people in", func(t *testing.T) {
		text := strings.Replace(consoleBase, "    email: ann@example.com\n", "    oidc_subject: '00uA'\n", 1) +
			"console: {session_key: 0123456789abcdef0123456789abcdef, oidc: {issuer: https://idp.example, client_id: x}}\n"
		c, err := Parse([]byte(text), "c.yaml", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Warnings()) != 0 {
			t.Errorf("warnings %v", c.Warnings())
		}
		c, err = Parse([]byte(strings.Replace(text, "    oidc_subject: '00uA'\n", "", 1)), "c.yaml", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, "console.oidc: no user has an email or an oidc_subject") {
			t.Errorf("warnings %q", w)
		}
	})
	t.Run("nobody can sign in", func(t *testing.T) {
		c, err := Parse([]byte(consoleBase+"console: {session_key: 0123456789abcdef0123456789abcdef}\n"), "c.yaml", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, "console: nobody can sign in") {
			t.Errorf("warnings %q", w)
		}
	})
}

// withSubjects is a users section of people with the ids and oidc_subjects
// given in pairs.
func withSubjects(idSubjects ...string) string {
	s := "users:\n"
	for i := 0; i < len(idSubjects); i += 2 {
		s += fmt.Sprintf("  - {id: %s, oidc_subject: '%s', contacts: [{channel: push, via: log}]}\n", idSubjects[i], idSubjects[i+1])
	}
	return s
}

// TestConfigDocConsoleExample: the console example in docs/CONFIG.md
// loads (its secrets are files and variables not set here, which the
// read-only commands allow), with the roles it says.
func TestConfigDocConsoleExample(t *testing.T) {
	text := "notifiers:\n  twilio: {account_sid: AC0123456789abcdef0123456789abcdef, auth_token: 0123456789abcdef0123456789abcdef, from: \"+15555550100\"}\n" +
		docYAML(t, "## `console`", 0)
	c, err := Parse([]byte(text), "doc.yaml", t.TempDir())
	if err != nil {
		t.Fatalf("the example does not load: %v\n%s", err, text)
	}
	if c.Console.OIDC == nil || c.Console.OIDC.Name != "Google" || time.Duration(c.Console.SessionTTL) != 12*time.Hour {
		t.Errorf("console %+v", c.Console)
	}
	if c.User("marcus").ConsoleRole() != RoleResponder || c.User("dana").ConsoleRole() != RoleViewer {
		t.Error("roles")
	}
	if c.UserBySubject("110248495921238986420") != c.User("marcus") {
		t.Error("marcus's oidc_subject")
	}
	if err := c.CheckSecrets(); err == nil || !strings.Contains(err.Error(), "console.session_key") {
		t.Errorf("serve would start without the session key: %v", err)
	}
}

// TestConsoleUnderAPathIsNotWarnedOf: public_url with a path (a proxy
// that serves pagerd under it and strips it) is where the console's
// links, forms and redirects go too, so check-config says nothing of it
// with the console on: the config warns of what it warns of at the root
// of a host, no more. It used to warn that the console did not work
// there.
func TestConsoleUnderAPathIsNotWarnedOf(t *testing.T) {
	const key = "console:\n  session_key: 0123456789abcdef0123456789abcdef\n"
	warnings := func(publicURL string) []string {
		t.Helper()
		c, err := Parse([]byte(strings.Replace(consoleBase, "https://pagerd.example", publicURL, 1)+key), "c.yaml", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return c.Warnings()
	}
	root := warnings("https://pagerd.example/")
	for _, u := range []string{"https://tools.example/pagerd/", "https://tools.example/pagerd", "https://tools.example/a/b"} {
		if got := warnings(u); !slices.Equal(got, root) {
			t.Errorf("public_url %s with the console on: warnings %q, want those at the root of a host: %q", u, got, root)
		}
	}
}
