package gateway

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestConsoleUnknownNameTakesAsLongAsAWrongPassword: with password hashes
// made as the README makes them (a cost above bcrypt's default 10), a name
// no user has is refused after as much work as a known name with a wrong
// password, so the time of a refusal does not tell which names and emails
// are pagerd users.
func TestConsoleUnknownNameTakesAsLongAsAWrongPassword(t *testing.T) {
	const cost = bcrypt.DefaultCost + 1 // twice the work of the default
	hash, err := bcrypt.GenerateFromPassword([]byte(consolePassword), cost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := regexp.MustCompile(`password_hash: '[^']*'`).ReplaceAllLiteralString(consoleConfig(t, ""), "password_hash: '"+string(hash)+"'")
	h := newHarness(t, withConfig(cfg))
	c := newUIClient(t, h.url)
	refuse := func(user string) time.Duration {
		t.Helper()
		login := c.get("/ui/login")
		start := cpuTime()
		r := c.post(login.body, "/ui/login/password", url.Values{"user": {user}, "password": {"wrong"}})
		took := cpuTime() - start
		if r.code != http.StatusUnauthorized {
			t.Fatalf("%s with a wrong password: %d %s", user, r.code, r.body)
		}
		return took
	}
	refuse("nobody@example.com") // whatever is made once, at the first refusal
	known, unknown := refuse("ann@example.com"), refuse("nobody@example.com")
	if unknown < known*3/4 {
		t.Errorf("an unknown name is refused after %v of work, a known one with a wrong password after %v: the time tells which names are users", unknown, known)
	}
}
