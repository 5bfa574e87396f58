package console

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pagerd/pagerd/policy"
)

// passwordConsole is a console where ann signs in with password, on a
// clock the test moves.
func passwordConsole(t *testing.T, clientIP func(*http.Request) string) (*Console, *policy.Config, *testClock) {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("hunter2hunter2"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := policy.Parse([]byte(`console:
  session_key: 0123456789abcdef0123456789abcdef
users:
  - id: ann
    email: ann@example.com
    password_hash: '`+string(hash)+`'
    contacts: [{channel: push, via: log}]
`), "c.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{t: time.Date(2025, 9, 12, 10, 0, 0, 0, time.UTC)}
	c := New(Options{Config: func() *policy.Config { return cfg }, Now: clock.Now, ClientIP: clientIP,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	return c, cfg, clock
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// tryPassword posts the password form from the address, as a browser that
// has the sign-in page's cookie and token, and answers the status.
func tryPassword(t *testing.T, c *Console, cfg *policy.Config, remote, user, password string) int {
	t.Helper()
	login, err := sign(cfg.Console.SessionKey, "login", loginState{Nonce: "l", Expires: c.o.Now().Add(time.Minute).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"user": {user}, "password": {password}, "csrf": {csrfToken(cfg.Console.SessionKey, "login:l")}}
	r := httptest.NewRequest("POST", "https://pagerd.example/ui/login/password", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Cookie", loginCookie+"="+login)
	r.RemoteAddr = remote
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	return w.Code
}

// TestPasswordFloodFromOneClientLocksOnlyIt: a flood of wrong passwords
// from one address, for random names and for ann's, is refused there
// (429) after a few, and ann signs in from another address all the same.
// Before, one limit of 5 a second for everyone was spent by the flood,
// and every person was locked out of password sign-in while it went on.
func TestPasswordFloodFromOneClientLocksOnlyIt(t *testing.T) {
	c, cfg, clock := passwordConsole(t, nil)
	const flooder = "203.0.113.9:40000"
	limited := 0
	for i := range 300 {
		user := fmt.Sprintf("guess-%d", i)
		if i%3 == 0 {
			user = "ann"
		}
		if tryPassword(t, c, cfg, flooder, user, "wrong") == http.StatusTooManyRequests {
			limited++
		}
		if i%50 == 0 {
			clock.Add(time.Second) // a flood that lasts a few seconds
		}
	}
	if limited < 250 {
		t.Errorf("%d of 300 attempts from one address were limited: the flood was not stopped", limited)
	}
	if got := tryPassword(t, c, cfg, "198.51.100.7:50000", "ann", "hunter2hunter2"); got != http.StatusSeeOther {
		t.Fatalf("ann from another address during the flood: %d, want 303 (signed in)", got)
	}
	if got := tryPassword(t, c, cfg, "198.51.100.8:50000", "ann@example.com", "wrong"); got != http.StatusUnauthorized {
		t.Errorf("a wrong password from a third address: %d, want 401", got)
	}
}

// TestPasswordLimitBehindProxyCountsTheClient: behind a reverse proxy every
// request comes from the proxy's address; the limit counts the client
// address the daemon believes (ClientIP: X-Forwarded-For from a trusted
// proxy), so one client's flood does not stop another's sign-in.
func TestPasswordLimitBehindProxyCountsTheClient(t *testing.T) {
	var next string
	c, cfg, _ := passwordConsole(t, func(*http.Request) string { return next })
	next = "203.0.113.9"
	for range 100 {
		tryPassword(t, c, cfg, "10.0.0.2:1234", "ann", "wrong")
	}
	next = "2001:db8:1:2::7"
	if got := tryPassword(t, c, cfg, "10.0.0.2:1234", "ann", "hunter2hunter2"); got != http.StatusSeeOther {
		t.Fatalf("ann through the same proxy from another client: %d, want 303", got)
	}
}

// TestPasswordLimitsAreBounded: buckets are kept per address and name,
// which strangers choose: the sets stay within their bound, and a full
// bucket (one nobody has used for a while) is forgotten first.
func TestPasswordLimitsAreBounded(t *testing.T) {
	s := newLimiters(limit{every: time.Second, burst: 2}, 100)
	now := time.Date(2025, 9, 12, 10, 0, 0, 0, time.UTC)
	kept := s.get("kept", now)
	kept.AllowN(now, 1)
	for i := range 1000 {
		s.get(fmt.Sprint("k", i), now) // full: forgotten when room is needed
	}
	if len(s.m) > 100 {
		t.Fatalf("%d buckets, want at most 100", len(s.m))
	}
	if s.m["kept"] == nil {
		t.Error("a bucket in use was forgotten before full ones")
	}
	for i := range 1000 {
		s.get(fmt.Sprint("used", i), now).AllowN(now, 1)
	}
	if len(s.m) > 100 {
		t.Fatalf("%d buckets in use, want at most 100", len(s.m))
	}
	if got := clientKey("2001:db8:1:2::7"); got != clientKey("2001:db8:1:2:ffff::1") || got == clientKey("2001:db8:1:3::7") {
		t.Errorf("IPv6 addresses are not counted by their /64: %s", got)
	}
}
