package gateway

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
)

// TestConsoleSignOutEndsCopiedSession: a copy of ann's session cookie
// taken before she signs out is refused after it, on the replica she
// signed out at and (on Redis) on another one within the few seconds it
// keeps what it read; her other sessions end with it, bob's do not, and
// she can sign in again at once. Before, nothing was kept on the server:
// the copy worked until session_ttl (12h by default).
func TestConsoleSignOutEndsCopiedSession(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			cfg := consoleConfig(t, "")
			hash := regexp.MustCompile(`password_hash: '[^']*'`).FindString(cfg)
			cfg = strings.Replace(cfg, "{id: bob, name: Bob,", "{id: bob, name: Bob, "+hash+",", 1)
			h := newHarness(t, withConfig(cfg), withStore(st))
			id := fire(h)
			ann, elsewhere, bob := newUIClient(t, h.url), newUIClient(t, h.url), newUIClient(t, h.url)
			for c, user := range map[*uiClient]string{ann: "ann", elsewhere: "ann", bob: "bob"} {
				if r := c.signIn(user, consolePassword); r.code != http.StatusSeeOther {
					t.Fatalf("%s signs in: %d %s", user, r.code, r.body)
				}
			}
			page := ann.get("/ui/incidents/" + id)
			if page.code != http.StatusOK {
				t.Fatalf("the incident: %d", page.code)
			}
			copied := ann.cookies[sessionCookieName]
			thief := newUIClient(t, h.url)
			thief.cookies[sessionCookieName] = copied

			// Another replica (Redis only: the embedded store is one
			// replica's) reads the sign-outs before ann signs out.
			var b *harness
			if name == "redis" {
				b = newHarness(t, withConfig(cfg), withStore(st))
				if r := newUIClientWith(t, b.url, copied).get("/ui/incidents"); r.code != http.StatusOK {
					t.Fatalf("the copied cookie at the other replica before the sign-out: %d", r.code)
				}
			}

			h.clock.Set(fixedNow.Add(time.Minute))
			if r := ann.post(page.body, "/ui/logout", nil); r.code != http.StatusSeeOther || r.hdr.Get("Location") != "/ui/login?signed_out=1" {
				t.Fatalf("sign out: %d %q", r.code, r.hdr.Get("Location"))
			}
			if r := thief.get("/ui/incidents"); r.code != http.StatusSeeOther || !strings.HasPrefix(r.hdr.Get("Location"), "/ui/login") {
				t.Errorf("the copied cookie after the sign-out, GET: %d, want 303 to sign in", r.code)
			}
			thief.cookies[sessionCookieName] = copied
			if r := thief.post(page.body, "/ui/incidents/"+id+"/acknowledge", nil); r.code != http.StatusUnauthorized {
				t.Errorf("the copied cookie after the sign-out, POST: %d, want 401", r.code)
			}
			if st := h.incident(id).Status; st != "triggered" {
				t.Errorf("the incident is %s: a signed-out session acted on it", st)
			}
			if r := elsewhere.get("/ui/incidents"); r.code != http.StatusSeeOther {
				t.Errorf("ann's session in another browser after she signed out: %d, want 303 to sign in", r.code)
			}
			if r := bob.get("/ui/incidents"); r.code != http.StatusOK {
				t.Errorf("bob's session after ann signed out: %d, want 200", r.code)
			}

			if b != nil {
				other := newUIClientWith(t, b.url, copied)
				b.clock.Set(fixedNow.Add(signoutCacheForTests))
				if r := other.get("/ui/incidents"); r.code != http.StatusSeeOther {
					t.Errorf("the copied cookie at the other replica, once its sign-outs are %s old: %d, want 303 to sign in", signoutCacheForTests, r.code)
				}
				// b's clock is a minute behind a's: a session it begins
				// now is still after the sign-out a recorded.
				again := newUIClient(t, b.url)
				if r := again.signIn("ann", consolePassword); r.code != http.StatusSeeOther {
					t.Fatalf("ann signs in at the replica whose clock is behind: %d", r.code)
				}
				for _, at := range []*harness{b, h} {
					if r := newUIClientWith(t, at.url, again.cookies[sessionCookieName]).get("/ui/incidents"); r.code != http.StatusOK {
						t.Errorf("the session begun on the replica whose clock is behind, at %s: %d, want 200", at.url, r.code)
					}
				}
			}

			if r := ann.signIn("ann", consolePassword); r.code != http.StatusSeeOther {
				t.Fatalf("ann signs in again: %d", r.code)
			}
			if r := ann.get("/ui/incidents"); r.code != http.StatusOK {
				t.Errorf("ann's new session: %d, want 200", r.code)
			}
		})
	}
}

// signoutCacheForTests is how long a replica keeps the sign-outs it read
// (console.signoutCache, 3s): the bound docs/CONFIG.md states.
const signoutCacheForTests = 3 * time.Second

// newUIClientWith is a client holding the session cookie.
func newUIClientWith(t testing.TB, base string, session *http.Cookie) *uiClient {
	c := newUIClient(t, base)
	c.cookies[sessionCookieName] = session
	return c
}

// signoutsUnreadable is a store whose sign-outs cannot be read or
// written: a store fault.
type signoutsUnreadable struct {
	store.Store
	fail bool
}

var errSignoutsDown = errors.New("redis: connection refused")

func (s *signoutsUnreadable) ListDocs(ctx context.Context, kind string) (map[string][]byte, int64, error) {
	if s.fail && kind == "console-signouts" {
		return nil, 0, errors.Join(store.ErrUnavailable, errSignoutsDown)
	}
	return s.Store.ListDocs(ctx, kind)
}

// TestConsoleSessionsWorkWhileSignOutsCannotBeRead: with the store not
// answering, a signed-in person keeps their session (so they can still
// see and act on what the store lets them), the log says sign-outs are
// not being checked, and a sign-out then clears the cookie and says it
// could not be kept everywhere, instead of claiming it was.
func TestConsoleSessionsWorkWhileSignOutsCannotBeRead(t *testing.T) {
	st := &signoutsUnreadable{Store: boltStore(t)}
	h := newHarness(t, withConfig(consoleConfig(t, "")), withStore(st))
	c := newUIClient(t, h.url)
	if r := c.signIn("ann", consolePassword); r.code != http.StatusSeeOther {
		t.Fatalf("sign in: %d", r.code)
	}
	st.fail = true
	h.clock.Set(fixedNow.Add(time.Minute))
	page := c.get("/ui/oncall")
	if page.code != http.StatusOK {
		t.Fatalf("a session while the sign-outs cannot be read: %d, want 200", page.code)
	}
	if !strings.Contains(h.logs.String(), "sign-outs not read from the store") {
		t.Errorf("not logged:\n%s", h.logs.String())
	}
	r := c.post(page.body, "/ui/logout", nil)
	if r.code != http.StatusSeeOther || c.cookies[sessionCookieName] != nil {
		t.Fatalf("sign out: %d, cookies %v", r.code, c.cookies)
	}
	mustContain(t, "the page after signing out", c.follow(r).body, "signed out in this browser only", "works until it expires")
	mustContain(t, "the log", h.logs.String(), "sign-out not recorded in the store")
}
