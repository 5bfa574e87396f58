package gateway

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/oidctest"
	"github.com/pagerd/pagerd/notify"
)

// The web console, tested as the daemon builds it: its pages, sign-in
// through a test OpenID Connect provider and with a password, sessions,
// CSRF and roles, and its buttons acting through the incident service.
// The browser tests (console_browser_test.go) drive the same in Chromium.

const (
	consoleKey      = "console-session-key-0123456789abcdef-0123"
	consolePassword = "correct horse battery staple"
)

// consoleConfig is testConfig with the console on: ann (a responder, by
// default) signs in through the provider or with a password, bob is a
// viewer, and schedule s has an override on Friday 2025-09-12.
func consoleConfig(t testing.TB, issuer string) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(consolePassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(testConfig, "{id: ann, name: Ann,", fmt.Sprintf("{id: ann, name: Ann, email: ann@example.com, time_zone: UTC, password_hash: '%s',", hash), 1)
	cfg = strings.Replace(cfg, "{id: bob, name: Bob,", "{id: bob, name: Bob, email: Bob@Example.com, role: viewer,", 1)
	cfg = strings.Replace(cfg, "      - {name: secondary, start: 2025-01-06, members: [bob]}\n",
		"      - {name: secondary, start: 2025-01-06, members: [bob]}\n    overrides:\n      - {reason: dentist, from: 2025-09-12, until: 2025-09-12, tiers: {primary: bob}}\n", 1)
	console := "server: {public_url: \"" + harnessURL + "\"}\nconsole:\n  session_key: " + consoleKey + "\n"
	if issuer != "" {
		console += "  oidc: {issuer: \"" + issuer + "\", client_id: pagerd-console, client_secret: test-client-secret-0123456789, name: Test IdP}\n"
	}
	return console + cfg
}

// uiClient is a browser without JavaScript: it keeps cookies by name
// (Secure ones too: the test server is plain HTTP on loopback, where
// browsers keep them as well) and follows redirects only when asked.
type uiClient struct {
	t       testing.TB
	base    string
	cookies map[string]*http.Cookie
	// setCookies are the Set-Cookie headers of the last answer.
	setCookies []*http.Cookie
	origin     string
}

func newUIClient(t testing.TB, base string) *uiClient {
	return &uiClient{t: t, base: base, cookies: map[string]*http.Cookie{}}
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// do sends a request; a path is on the daemon, a full URL anywhere (the
// daemon's cookies go only to the daemon).
func (c *uiClient) do(method, target string, form url.Values) response {
	c.t.Helper()
	u := target
	if strings.HasPrefix(target, "/") {
		u = c.base + target
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		origin := c.origin
		if origin == "" {
			origin = c.base
		}
		req.Header.Set("Origin", origin)
	}
	if strings.HasPrefix(u, c.base) {
		for _, ck := range c.cookies {
			req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
		}
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	c.setCookies = resp.Cookies()
	if strings.HasPrefix(u, c.base) {
		for _, ck := range c.setCookies {
			if ck.MaxAge < 0 {
				delete(c.cookies, ck.Name)
			} else {
				c.cookies[ck.Name] = ck
			}
		}
	}
	return response{resp.StatusCode, string(b), resp.Header}
}

func (c *uiClient) get(path string) response { c.t.Helper(); return c.do("GET", path, nil) }

// follow follows redirects from r to the page they end on.
func (c *uiClient) follow(r response) response {
	c.t.Helper()
	for i := 0; r.code >= 300 && r.code < 400; i++ {
		if i == 10 {
			c.t.Fatal("too many redirects")
		}
		loc := r.hdr.Get("Location")
		if strings.HasPrefix(loc, "/") {
			loc = c.base + loc
		}
		r = c.do("GET", loc, nil)
	}
	return r
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of a page's forms.
func csrf(t testing.TB, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return m[1]
}

// post submits a form of the page at path, with its CSRF token.
func (c *uiClient) post(page, path string, form url.Values) response {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", csrf(c.t, page))
	return c.do("POST", path, form)
}

// signIn signs the client in with a password.
func (c *uiClient) signIn(user, password string) response {
	c.t.Helper()
	login := c.get("/ui/login")
	return c.post(login.body, "/ui/login/password", url.Values{"user": {user}, "password": {password}, "next": {"/ui/incidents"}})
}

func mustContain(t testing.TB, what, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, body)
		}
	}
}

func mustNotContain(t testing.TB, what, body string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(body, b) {
			t.Errorf("%s contains %q:\n%s", what, b, body)
		}
	}
}

// annSignedInOnAPagedIncident is a console harness with an incident whose
// first page went out, and ann signed in to the console.
func annSignedInOnAPagedIncident(t *testing.T) (*harness, string, *uiClient) {
	t.Helper()
	h, _ := consoleHarness(t)
	id := fire(h)
	h.step(fixedNow)
	ann := newUIClient(t, h.url)
	ann.signIn("ann", consolePassword)
	return h, id, ann
}

// consoleHarness is a daemon with the console on and a test provider.
func consoleHarness(t *testing.T) (*harness, *oidctest.Provider) {
	t.Helper()
	var h *harness
	idp := oidctest.Start(t, func() time.Time { return h.clock.Now() })
	h = newHarness(t, withConfig(consoleConfig(t, idp.URL)))
	return h, idp
}

func TestConsolePasswordSignIn(t *testing.T) {
	h, _ := consoleHarness(t)
	c := newUIClient(t, h.url)

	r := c.get("/ui/incidents?status=open")
	if r.code != http.StatusSeeOther || r.hdr.Get("Location") != "/ui/login?next=%2Fui%2Fincidents%3Fstatus%3Dopen" {
		t.Fatalf("signed out: %d %q, want 303 to the sign-in page and back", r.code, r.hdr.Get("Location"))
	}
	login := c.get("/ui/login")
	mustContain(t, "the sign-in page", login.body, "Sign in with Test IdP", `name="password"`, `<label for="password">`)
	// The cookie of a sign-in under way has the session's attributes.
	if len(c.setCookies) != 1 || c.setCookies[0].Name != "__Host-pagerd-login" || !c.setCookies[0].HttpOnly || !c.setCookies[0].Secure ||
		c.setCookies[0].SameSite != http.SameSiteLaxMode || c.setCookies[0].Path != "/" || c.setCookies[0].MaxAge != 600 {
		t.Errorf("the sign-in page's cookies %+v: want one, HttpOnly, Secure, SameSite=Lax, Path=/, 10 minutes", c.setCookies)
	}

	// No token, a forged one, another site's form: refused.
	if r := c.do("POST", "/ui/login/password", url.Values{"user": {"ann"}, "password": {consolePassword}}); r.code != http.StatusForbidden {
		t.Errorf("sign-in without the CSRF token: %d, want 403", r.code)
	}
	c.origin = "https://evil.example"
	if r := c.post(login.body, "/ui/login/password", url.Values{"user": {"ann"}, "password": {consolePassword}}); r.code != http.StatusForbidden {
		t.Errorf("sign-in from another origin: %d, want 403", r.code)
	}
	c.origin = ""
	for _, user := range []string{"ann", "nobody"} {
		r := c.post(c.get("/ui/login").body, "/ui/login/password", url.Values{"user": {user}, "password": {"wrong"}})
		if r.code != http.StatusUnauthorized || !strings.Contains(r.body, "do not match") {
			t.Errorf("wrong password for %s: %d", user, r.code)
		}
	}
	if _, ok := c.cookies[sessionCookieName]; ok {
		t.Fatal("a session after refused sign-ins")
	}

	r = c.signIn("ANN@example.com", consolePassword)
	if r.code != http.StatusSeeOther || r.hdr.Get("Location") != "/ui/incidents" {
		t.Fatalf("sign-in: %d %q\n%s", r.code, r.hdr.Get("Location"), r.body)
	}
	var sess *http.Cookie
	for _, ck := range c.setCookies {
		if ck.Name == sessionCookieName {
			sess = ck
		}
	}
	if sess == nil || !sess.HttpOnly || !sess.Secure || sess.SameSite != http.SameSiteLaxMode || sess.Path != "/" || sess.MaxAge != 12*3600 {
		t.Fatalf("session cookie %+v: want HttpOnly, Secure, SameSite=Lax, Path=/, 12h", sess)
	}
	page := c.follow(r)
	mustContain(t, "the incidents page", page.body, "Ann <small>(responder)</small>", "Sign out")
	for _, hdr := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"} {
		if page.hdr.Get(hdr) == "" {
			t.Errorf("no %s header", hdr)
		}
	}
	if csp := page.hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q", csp)
	}

	// Sign out: a POST with the token; the cookie is gone.
	r = c.post(page.body, "/ui/logout", nil)
	if r.code != http.StatusSeeOther || c.cookies[sessionCookieName] != nil {
		t.Fatalf("sign out: %d, cookies %v", r.code, c.cookies)
	}
	if r := c.get("/ui/oncall"); r.code != http.StatusSeeOther {
		t.Errorf("after sign-out: %d, want the sign-in page", r.code)
	}

	// A session ends at its expiry, and when the password changes.
	c.signIn("ann", consolePassword)
	if r := c.get("/ui/oncall"); r.code != http.StatusOK {
		t.Fatalf("signed in again: %d", r.code)
	}
	h.clock.Set(fixedNow.Add(12*time.Hour + time.Second))
	if r := c.get("/ui/oncall"); r.code != http.StatusSeeOther {
		t.Errorf("after 12h: %d, want the sign-in page", r.code)
	}
	h.clock.Set(fixedNow)
	c.signIn("ann", consolePassword)
	newHash, _ := bcrypt.GenerateFromPassword([]byte("another password"), bcrypt.MinCost)
	cfg := strings.Replace(consoleConfig(t, ""), "password_hash: '", "password_hash: '"+string(newHash)+"', x: '", 1)
	cfg = regexp.MustCompile(`, x: '[^']*'`).ReplaceAllString(cfg, "")
	if err := h.reload(cfg); err != nil {
		t.Fatal(err)
	}
	if r := c.get("/ui/oncall"); r.code != http.StatusSeeOther {
		t.Errorf("after the password changed: %d, want the sign-in page", r.code)
	}
}

// sessionCookieName is the console's session cookie.
const sessionCookieName = "__Host-pagerd-session"

// oidcSignIn signs the client in through the provider, as whoever it
// signs in, and answers the callback's response.
func oidcSignIn(t testing.TB, c *uiClient, idp *oidctest.Provider, next string) response {
	t.Helper()
	r := c.get("/ui/login/oidc?next=" + url.QueryEscape(next))
	if r.code != http.StatusFound || !strings.HasPrefix(r.hdr.Get("Location"), idp.URL+"/authorize?") {
		t.Fatalf("start: %d %q", r.code, r.hdr.Get("Location"))
	}
	back := c.do("GET", r.hdr.Get("Location"), nil) // the provider
	if back.code != http.StatusFound {
		t.Fatalf("provider: %d %s", back.code, back.body)
	}
	return c.do("GET", back.hdr.Get("Location"), nil) // the callback
}

func TestConsoleOIDCSignIn(t *testing.T) {
	h, idp := consoleHarness(t)
	signIn := func(c *uiClient, next string) response { t.Helper(); return oidcSignIn(t, c, idp, next) }

	t.Run("email maps to the user", func(t *testing.T) {
		c := newUIClient(t, h.url)
		idp.SignInAs("bob@example.com", true) // the config says Bob@Example.com
		r := signIn(c, "/ui/oncall")
		if r.code != http.StatusSeeOther || r.hdr.Get("Location") != "/ui/oncall" {
			t.Fatalf("callback: %d %q\n%s", r.code, r.hdr.Get("Location"), r.body)
		}
		mustContain(t, "the on-call page", c.follow(r).body, "Bob <small>(viewer)</small>")
	})
	t.Run("next stays in the console", func(t *testing.T) {
		c := newUIClient(t, h.url)
		idp.SignInAs("ann@example.com", true)
		if r := signIn(c, "//evil.example/ui/"); r.hdr.Get("Location") != "/ui/" {
			t.Errorf("next //evil.example: went to %q", r.hdr.Get("Location"))
		}
	})
	for name, tc := range map[string]struct {
		email    string
		verified bool
		want     string
	}{
		"unknown email":    {"carol@example.com", true, "no pagerd user has this email"},
		"unverified email": {"ann@example.com", false, "the identity provider says this email is not verified (ann@example.com"},
	} {
		t.Run(name, func(t *testing.T) {
			c := newUIClient(t, h.url)
			idp.SignInAs(tc.email, tc.verified)
			r := signIn(c, "/ui/")
			if r.code != http.StatusForbidden || !strings.Contains(r.body, tc.want) || c.cookies[sessionCookieName] != nil {
				t.Errorf("%d %v\n%s", r.code, c.cookies, r.body)
			}
		})
	}
	t.Run("the redirect URL is public_url's, whatever a request claims", func(t *testing.T) {
		req := httptest.NewRequest("GET", "/ui/login/oidc", nil)
		req.RemoteAddr, req.Host = "10.1.2.3:5555", "evil.example"
		req.Header.Set("X-Forwarded-Proto", "http")
		req.Header.Set("X-Forwarded-Host", "evil.example")
		req.Header.Set("Forwarded", "proto=http;host=evil.example")
		rec := httptest.NewRecorder()
		h.d.Handler().ServeHTTP(rec, req)
		loc, err := url.Parse(rec.Header().Get("Location"))
		if err != nil || rec.Code != http.StatusFound {
			t.Fatalf("start: %d %q", rec.Code, rec.Header().Get("Location"))
		}
		if got := loc.Query().Get("redirect_uri"); got != h.url+"/ui/login/callback" {
			t.Errorf("redirect_uri %q, want server.public_url's %q", got, h.url+"/ui/login/callback")
		}
		if cs := rec.Result().Cookies(); len(cs) != 1 || !cs[0].Secure {
			t.Errorf("the login cookie over plain HTTP %+v: want it Secure all the same", cs)
		}
	})
	t.Run("a callback this browser did not start", func(t *testing.T) {
		idp.SignInAs("ann@example.com", true)
		victim, attacker := newUIClient(t, h.url), newUIClient(t, h.url)
		// The attacker starts a sign-in and hands the victim the callback.
		r := attacker.get("/ui/login/oidc")
		back := attacker.do("GET", r.hdr.Get("Location"), nil)
		victim.get("/ui/login/oidc") // the victim's own sign-in under way
		if r := victim.do("GET", back.hdr.Get("Location"), nil); r.code != http.StatusBadRequest || victim.cookies[sessionCookieName] != nil {
			t.Errorf("login CSRF: %d", r.code)
		}
	})
	t.Run("the provider's error says only what pagerd says", func(t *testing.T) {
		const forged = "Your account is locked, call the helpdesk at evil dot example"
		c := newUIClient(t, h.url)
		// Anyone's link: no sign-in under way, no state.
		r := c.get("/ui/login/callback?error=" + url.QueryEscape(forged))
		if r.code != http.StatusBadRequest {
			t.Errorf("an error with no state: %d, want 400", r.code)
		}
		mustNotContain(t, "the page of an error with no state", r.body, forged, "helpdesk")
		// A sign-in under way, and the provider (or who stands for it)
		// answers with an error: only the standard codes have words.
		for code, want := range map[string]string{
			"access_denied": "refused the sign-in (access denied)",
			forged:          "The identity provider refused the sign-in.",
		} {
			start := c.get("/ui/login/oidc")
			loc, err := url.Parse(start.hdr.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			r := c.get("/ui/login/callback?" + url.Values{"error": {code}, "state": {loc.Query().Get("state")}}.Encode())
			if r.code != http.StatusUnauthorized || !strings.Contains(r.body, want) {
				t.Errorf("error %q with the state: %d, want 401 and %q\n%s", code, r.code, want, r.body)
			}
			mustNotContain(t, "the page of an error with the state", r.body, forged, "helpdesk")
		}
	})
	t.Run("an expired sign-in", func(t *testing.T) {
		c := newUIClient(t, h.url)
		r := c.get("/ui/login/oidc")
		back := c.do("GET", r.hdr.Get("Location"), nil)
		h.clock.Set(fixedNow.Add(11 * time.Minute))
		defer h.clock.Set(fixedNow)
		if r := c.do("GET", back.hdr.Get("Location"), nil); r.code != http.StatusBadRequest {
			t.Errorf("after 11 minutes: %d", r.code)
		}
	})
}

// TestConsoleOIDCEmailMustBeVerified: an ID token's email picks a user
// only when the provider says it verified it. A token without
// email_verified (a provider that lets people type in any address and
// says nothing) is refused, with a page and a log line that say why,
// unless console.oidc.accept_missing_email_verified is set; one that
// says false is refused either way. Through the whole flow, against the
// test provider.
func TestConsoleOIDCEmailMustBeVerified(t *testing.T) {
	const (
		unverified = "the identity provider says this email is not verified (ann@example.com, subject 00uMallory)"
		unchecked  = "the identity provider does not say that this email is verified (ann@example.com, subject 00uMallory): its ID token has no email_verified claim"
	)
	ann := func(verified bool, edit func(*oidctest.Identity)) oidctest.Identity {
		who := oidctest.Identity{Subject: "00uMallory", Email: "ann@example.com", Verified: verified}
		if edit != nil {
			edit(&who)
		}
		return who
	}
	noClaim := func(who *oidctest.Identity) { who.NoVerifiedClaim = true }
	asString := func(who *oidctest.Identity) { who.VerifiedAsString = true }
	for _, accept := range []bool{false, true} {
		t.Run(fmt.Sprintf("accept_missing_email_verified %v", accept), func(t *testing.T) {
			var h *harness
			idp := oidctest.Start(t, func() time.Time { return h.clock.Now() })
			cfg := consoleConfig(t, idp.URL)
			if accept {
				cfg = strings.Replace(cfg, "name: Test IdP}", "name: Test IdP, accept_missing_email_verified: true}", 1)
			}
			h = newHarness(t, withConfig(cfg))
			for name, tc := range map[string]struct {
				who     oidctest.Identity
				refused string // "": signed in as Ann
			}{
				"verified":                  {ann(true, nil), ""},
				"verified, as a string":     {ann(true, asString), ""},
				"not verified":              {ann(false, nil), unverified},
				"not verified, as a string": {ann(false, asString), unverified},
				"no email_verified claim":   {ann(false, noClaim), map[bool]string{false: unchecked, true: ""}[accept]},
			} {
				t.Run(name, func(t *testing.T) {
					c := newUIClient(t, h.url)
					idp.SignIn(tc.who)
					r := oidcSignIn(t, c, idp, "/ui/oncall")
					if tc.refused == "" {
						if r.code != http.StatusSeeOther || r.hdr.Get("Location") != "/ui/oncall" {
							t.Fatalf("callback: %d %q, want signed in\n%s", r.code, r.hdr.Get("Location"), r.body)
						}
						mustContain(t, "the on-call page", c.follow(r).body, "Ann <small>(responder)</small>")
						return
					}
					if r.code != http.StatusForbidden || c.cookies[sessionCookieName] != nil {
						t.Fatalf("callback: %d %v, want 403 and no session\n%s", r.code, c.cookies, r.body)
					}
					mustContain(t, "the refusal", r.body, tc.refused, "users[].oidc_subject")
					if !strings.Contains(h.logs.String(), tc.refused) {
						t.Errorf("the refusal is not logged with its reason %q:\n%s", tc.refused, h.logs.String())
					}
				})
			}
		})
	}
}

// TestConsoleOIDCSubject: a user's oidc_subject picks them by the ID
// token's subject, with or without an email and before the email does,
// and a session it opened is bound to the subject (and the issuer) rather
// than to the email.
func TestConsoleOIDCSubject(t *testing.T) {
	var h *harness
	idp := oidctest.Start(t, func() time.Time { return h.clock.Now() })
	cfg := strings.Replace(consoleConfig(t, idp.URL), "email: Bob@Example.com,", "email: Bob@Example.com, oidc_subject: 00uBob,", 1)
	h = newHarness(t, withConfig(cfg))
	signedIn := func(t *testing.T, c *uiClient, who oidctest.Identity) response {
		t.Helper()
		idp.SignIn(who)
		return oidcSignIn(t, c, idp, "/ui/oncall")
	}
	for name, tc := range map[string]struct {
		who  oidctest.Identity
		want string
	}{
		"the subject with no email":    {oidctest.Identity{Subject: "00uBob"}, "Bob <small>(viewer)</small>"},
		"the subject before the email": {oidctest.Identity{Subject: "00uBob", Email: "ann@example.com", Verified: true}, "Bob <small>(viewer)</small>"},
		"an unknown subject, by email": {oidctest.Identity{Subject: "00uAnn", Email: "ann@example.com", Verified: true}, "Ann <small>(responder)</small>"},
	} {
		t.Run(name, func(t *testing.T) {
			c := newUIClient(t, h.url)
			r := signedIn(t, c, tc.who)
			if r.code != http.StatusSeeOther || r.hdr.Get("Location") != "/ui/oncall" {
				t.Fatalf("callback: %d %q\n%s", r.code, r.hdr.Get("Location"), r.body)
			}
			mustContain(t, "the on-call page", c.follow(r).body, tc.want)
		})
	}
	for name, tc := range map[string]struct {
		who  oidctest.Identity
		want string
	}{
		// Subjects are case sensitive.
		"a subject in another case":               {oidctest.Identity{Subject: "00ubob"}, "no pagerd user has this subject (00ubob): ask an admin to add it to your user in pagerd&#39;s config (users[].oidc_subject)"},
		"an unknown subject, an unverified email": {oidctest.Identity{Subject: "00uAnn", Email: "ann@example.com"}, "the identity provider says this email is not verified (ann@example.com, subject 00uAnn)"},
		// Bob has a subject: his email alone does not let anyone in as him.
		"another subject, bob's email": {oidctest.Identity{Subject: "00uRobert", Email: "bob@example.com", Verified: true}, "the user with this email signs in by their subject only, and this sign-in has another (bob@example.com, subject 00uRobert)"},
	} {
		t.Run(name, func(t *testing.T) {
			c := newUIClient(t, h.url)
			if r := signedIn(t, c, tc.who); r.code != http.StatusForbidden || !strings.Contains(r.body, tc.want) || c.cookies[sessionCookieName] != nil {
				t.Errorf("%d %v, want 403 and %q\n%s", r.code, c.cookies, tc.want, r.body)
			}
		})
	}

	t.Run("a session is bound to the subject", func(t *testing.T) {
		bob, ann := newUIClient(t, h.url), newUIClient(t, h.url)
		signIn := func() {
			t.Helper()
			signedIn(t, bob, oidctest.Identity{Subject: "00uBob"})
			signedIn(t, ann, oidctest.Identity{Subject: "00uAnn", Email: "ann@example.com", Verified: true})
			for _, c := range []*uiClient{bob, ann} {
				if r := c.get("/ui/oncall"); r.code != http.StatusOK {
					t.Fatalf("signed in: %d", r.code)
				}
			}
		}
		still := func(after string, wantBob int) {
			t.Helper()
			if err := h.reload(cfg); err != nil {
				t.Fatal(err)
			}
			if r := bob.get("/ui/oncall"); r.code != wantBob {
				t.Errorf("bob, signed in by his subject, after %s: %d, want %d", after, r.code, wantBob)
			}
			if r := ann.get("/ui/oncall"); r.code != http.StatusOK {
				t.Errorf("ann, signed in by her email, after %s: %d, want 200", after, r.code)
			}
		}
		signIn()
		// Not to the email, which this sign-in did not use.
		cfg = strings.Replace(cfg, "email: Bob@Example.com,", "email: robert@example.com,", 1)
		still("his email changed", http.StatusOK)
		cfg = strings.Replace(cfg, "oidc_subject: 00uBob,", "oidc_subject: 00uRobert,", 1)
		still("his subject changed", http.StatusSeeOther)

		cfg = strings.Replace(cfg, "oidc_subject: 00uRobert,", "oidc_subject: 00uBob,", 1)
		if err := h.reload(cfg); err != nil {
			t.Fatal(err)
		}
		signIn()
		cfg = strings.Replace(cfg, " oidc_subject: 00uBob,", "", 1)
		still("his subject was removed", http.StatusSeeOther)

		// A subject is one at the issuer: another issuer ends the
		// sessions subjects opened, not those emails did.
		cfg = strings.Replace(cfg, "email: robert@example.com,", "email: robert@example.com, oidc_subject: 00uBob,", 1)
		if err := h.reload(cfg); err != nil {
			t.Fatal(err)
		}
		signIn()
		cfg = strings.Replace(cfg, "issuer: \""+idp.URL+"\"", "issuer: \""+idp.URL+"/v2\"", 1)
		still("the issuer changed", http.StatusSeeOther)
	})
}

// TestConsoleOIDCSubjectEndsEmailSessions: once an admin gives a user an
// oidc_subject, their email no longer signs them in (errPinned), and the
// sessions it opened before end too.
func TestConsoleOIDCSubjectEndsEmailSessions(t *testing.T) {
	var h *harness
	idp := oidctest.Start(t, func() time.Time { return h.clock.Now() })
	cfg := consoleConfig(t, idp.URL)
	h = newHarness(t, withConfig(cfg))
	ann, pw := newUIClient(t, h.url), newUIClient(t, h.url)
	idp.SignIn(oidctest.Identity{Subject: "00uSomeone", Email: "ann@example.com", Verified: true})
	if r := oidcSignIn(t, ann, idp, "/ui/oncall"); r.code != http.StatusSeeOther {
		t.Fatalf("sign-in by email: %d\n%s", r.code, r.body)
	}
	pw.signIn("ann", consolePassword)
	for _, c := range []*uiClient{ann, pw} {
		if r := c.get("/ui/oncall"); r.code != http.StatusOK {
			t.Fatalf("signed in: %d", r.code)
		}
	}
	if err := h.reload(strings.Replace(cfg, "email: ann@example.com,", "email: ann@example.com, oidc_subject: 00uAnn,", 1)); err != nil {
		t.Fatal(err)
	}
	if r := ann.get("/ui/oncall"); r.code != http.StatusSeeOther {
		t.Errorf("a session her email opened, after she was given a subject: %d, want 303 to the sign-in page", r.code)
	}
	if r := pw.get("/ui/oncall"); r.code != http.StatusOK {
		t.Errorf("a session her password opened, after she was given a subject: %d, want 200", r.code)
	}
}

func TestConsoleActsThroughTheIncidentService(t *testing.T) {
	h, id, ann := annSignedInOnAPagedIncident(t) // ann's push went out; her SMS and call are pending
	list := ann.get("/ui/incidents")
	mustContain(t, "the list", list.body, `href="/ui/incidents/`+id+`"`, "disk almost full", "Paged last: Ann by push at 06:00",
		"Next: page Ann by sms at", "06:02")
	page := ann.get("/ui/incidents/" + id)
	mustContain(t, "the incident", page.body, `id="ack"`, "page Ann by sms", "page Ann by voice", "Paged</strong>\n Ann by push")

	// Without the token, or from another site: refused, nothing changes.
	if r := ann.do("POST", "/ui/incidents/"+id+"/acknowledge", url.Values{}); r.code != http.StatusForbidden {
		t.Errorf("ack without CSRF: %d", r.code)
	}
	ann.origin = "https://evil.example"
	if r := ann.post(page.body, "/ui/incidents/"+id+"/acknowledge", nil); r.code != http.StatusForbidden {
		t.Errorf("ack from another origin: %d", r.code)
	}
	ann.origin = ""
	if st := h.incident(id).Status; st != "triggered" {
		t.Fatalf("a refused form changed the incident: %s", st)
	}

	// A viewer sees no buttons and may not act.
	bob := newUIClient(t, h.url)
	bob.signIn("bob", consolePassword) // bob has no password
	if bob.cookies[sessionCookieName] != nil {
		t.Fatal("bob signed in without a password hash")
	}

	r := ann.post(page.body, "/ui/incidents/"+id+"/acknowledge", nil)
	if r.code != http.StatusSeeOther {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	page = ann.follow(r)
	mustContain(t, "the acknowledged incident", page.body, "Acknowledged: every pending page", "acknowledged</span> by ann",
		"Acknowledged</strong>", "by Ann", `id="pending-none"`)
	mustNotContain(t, "the acknowledged incident", page.body, "page Ann by sms", `id="ack"`)
	v := h.incident(id)
	if v.Status != "acknowledged" || v.AcknowledgedBy != "ann" {
		t.Fatalf("incident %+v", v)
	}
	h.runUntil(fixedNow.Add(10 * time.Minute))
	if got := h.rec.lines(fixedNow); len(got) != 1 {
		t.Errorf("pages after the console's ack: %v, want only the first push", got)
	}

	r = ann.post(page.body, "/ui/incidents/"+id+"/status", url.Values{"message": {"rolling back <v2>"}})
	page = ann.follow(r)
	mustContain(t, "after a status update", page.body, "Status update posted", "rolling back &lt;v2&gt;")
	r = ann.post(page.body, "/ui/incidents/"+id+"/escalate", nil)
	mustContain(t, "after escalating", ann.follow(r).body, "Escalated</strong>")
	r = ann.post(page.body, "/ui/incidents/"+id+"/resolve", nil)
	page = ann.follow(r)
	mustContain(t, "after resolving", page.body, "resolved</span>", "resolved by ann")
	mustNotContain(t, "the resolved incident", page.body, `id="resolve"`)
	// Pressing a stale button again changes nothing and says so.
	r = ann.post(page.body, "/ui/incidents/"+id+"/resolve", nil)
	mustContain(t, "resolving twice", ann.follow(r).body, "Nothing changed")
	tl := h.incident(id).Timeline
	actors := map[string]string{}
	for _, e := range tl {
		if e.Actor != "" {
			actors[e.Type] = e.Actor
		}
	}
	for _, typ := range []string{"ack", "status_update", "escalate", "resolve"} {
		if actors[typ] != "ann" {
			t.Errorf("timeline %s by %q, want ann: %+v", typ, actors[typ], tl)
		}
	}
}

// TestConsoleTimeline: the incident page's timeline has every step, in
// order, each with who it was for and on what, or who did it: the pages
// with their channel and the providers' delivery reports, the SLA breach,
// the escalation and the next level's page, status updates and the
// acknowledgement.
// timelineRefusing is a store whose timeline of one incident cannot be
// read (a corrupt record, a Redis timeout on that key).
type timelineRefusing struct {
	store.Store
	id atomic.Value // string
}

func (s *timelineRefusing) Timeline(ctx context.Context, id string) ([]store.Entry, error) {
	if bad, _ := s.id.Load().(string); bad == id {
		return nil, fmt.Errorf("%w: timeline of %s: i/o timeout", store.ErrUnavailable, id)
	}
	return s.Store.Timeline(ctx, id)
}

// One open incident whose timeline cannot be read costs its row its
// "paged last", logged, not the whole list.
func TestConsoleListOutlivesATimeline(t *testing.T) {
	st := &timelineRefusing{Store: boltStore(t)}
	h := newHarness(t, withConfig(consoleConfig(t, "")), withStore(st))
	good := fire(h)
	bad := fireLabels(h, "g2", map[string]string{"alertname": "B", "severity": "critical"})
	h.step(fixedNow)
	st.id.Store(bad)

	ann := newUIClient(t, h.url)
	ann.signIn("ann", consolePassword)
	r := ann.get("/ui/incidents")
	if r.code != http.StatusOK {
		t.Fatalf("the list with one timeline unreadable: %d\n%s", r.code, r.body)
	}
	mustContain(t, "the list", r.body, `href="/ui/incidents/`+good+`"`, `href="/ui/incidents/`+bad+`"`)
	if n := strings.Count(r.body, "Paged last: Ann by push at 06:00"); n != 1 {
		t.Errorf("%d rows say who was paged last, want the one whose timeline was read:\n%s", n, r.body)
	}
	if logs := h.logs.String(); !strings.Contains(logs, `"level":"WARN","msg":"console: timeline not read for the incident list"`) || !strings.Contains(logs, `"incident":"`+bad+`"`) {
		t.Errorf("the unread timeline was not logged:\n%s", logs)
	}
}

// An incident that is gone (retention) is 404 to the page's script, which
// then stops asking (an outage, 503, it asks again after), and to its
// buttons.
func TestConsoleGoneIncidentIsNotFound(t *testing.T) {
	h := newHarness(t, withConfig(consoleConfig(t, "")))
	ann := newUIClient(t, h.url)
	ann.signIn("ann", consolePassword)
	page := ann.get("/ui/incidents")
	if r := ann.get("/ui/incidents/0f-gone/version"); r.code != http.StatusNotFound {
		t.Errorf("the version of a gone incident: %d, want 404", r.code)
	}
	if r := ann.post(page.body, "/ui/incidents/0f-gone/acknowledge", nil); r.code != http.StatusNotFound {
		t.Errorf("acknowledge a gone incident: %d, want 404", r.code)
	}
	id := fire(h)
	if r := ann.get("/ui/incidents/" + id + "/version"); r.code != http.StatusOK {
		t.Errorf("the version of an incident: %d, want 200", r.code)
	}
}

func TestConsoleTimeline(t *testing.T) {
	h, _ := consoleHarness(t)
	id := fire(h)
	h.step(fixedNow)
	ctx := context.Background()
	if err := h.d.Incidents().Delivered(ctx, id, notify.Delivery{User: "ann", Channel: "push", Detail: "delivered"}); err != nil {
		t.Fatal(err)
	}
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if err := h.d.Incidents().Delivered(ctx, id, notify.Delivery{User: "ann", Channel: "sms", Detail: "undelivered (Twilio error 30003)", Failed: true}); err != nil {
		t.Fatal(err)
	}
	h.runUntil(fixedNow.Add(16 * time.Minute))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/status", `{"message":"looking into it","user":"bob"}`); r.code != 200 {
		t.Fatal(r.body)
	}
	c := newUIClient(t, h.url)
	c.signIn("ann", consolePassword)
	page := c.get("/ui/incidents/" + id).body
	c.post(page, "/ui/incidents/"+id+"/acknowledge", nil)
	page = c.get("/ui/incidents/" + id).body
	i := strings.Index(page, `id="timeline"`)
	if i < 0 {
		t.Fatalf("no timeline:\n%s", page)
	}
	tl := page[i:]
	at := 0
	for _, want := range []string{
		"Triggered</strong>", "by alertmanager",
		"Paged</strong>\n Ann by push <small>(level 1)</small>",
		"Delivery</strong>\n Ann by push", `<span class="detail">delivered</span>`,
		"Paged</strong>\n Ann by sms",
		"Not delivered</strong>\n Ann by sms", "undelivered (Twilio error 30003)",
		"Paged</strong>\n Ann by voice",
		"SLA breached</strong>",
		"Escalated</strong>",
		"Paged</strong>\n Bob by push <small>(level 2)</small>",
		"Status update</strong>", `<span class="actor">by Bob</span>`, "looking into it",
		"Acknowledged</strong>", `<span class="actor">by Ann</span>`,
	} {
		j := strings.Index(tl[at:], want)
		if j < 0 {
			t.Fatalf("the timeline lacks %q after what came before:\n%s", want, tl)
		}
		at += j + len(want)
	}
}

var (
	postFormRE = regexp.MustCompile(`(?s)<form([^>]*method="post"[^>]*)>(.*?)</form>`)
	actionRE   = regexp.MustCompile(`action="([^"]+)"`)
)

// TestConsoleEveryFormHasCSRF finds every form that changes something on
// every page (sign-in, sign-out, the incident's four buttons, the
// override and swap forms, Remove): each carries the CSRF token, and each
// sent without it, or with another session's, is refused and changes
// nothing.
func TestConsoleEveryFormHasCSRF(t *testing.T) {
	h, _ := consoleHarness(t)
	id := fire(h)
	h.step(fixedNow)
	ann, other := newUIClient(t, h.url), newUIClient(t, h.url)
	ann.signIn("ann", consolePassword)
	other.signIn("ann", consolePassword)
	cal := ann.get("/ui/schedules/s").body
	ann.post(cal, "/ui/schedules/s/overrides", url.Values{"kind": {"override"}, "tier": {"primary"}, "user": {"bob"},
		"start": {"2025-09-11T06:00"}, "end": {"2025-09-11T10:00"}})
	otherToken := csrf(t, other.get("/ui/oncall").body)

	state := func() string {
		inc := h.incident(id)
		return fmt.Sprintf("%s %d %s", inc.Status, len(inc.Timeline), h.api("GET", "/api/v1/schedules/s/overrides", "").body)
	}
	before := state()
	actions := map[string]bool{}
	pages := map[string]*uiClient{"/ui/login": newUIClient(t, h.url)}
	for _, p := range []string{"/ui/incidents", "/ui/incidents/" + id, "/ui/oncall", "/ui/schedules/s", "/ui/reports"} {
		pages[p] = ann
	}
	for path, c := range pages {
		page := c.get(path)
		if page.code != http.StatusOK {
			t.Fatalf("%s: %d", path, page.code)
		}
		for _, m := range postFormRE.FindAllStringSubmatch(page.body, -1) {
			a := actionRE.FindStringSubmatch(m[1])
			if a == nil {
				t.Errorf("%s: a form without an action: %s", path, m[0])
				continue
			}
			action, form := html.UnescapeString(a[1]), m[2]
			if !strings.Contains(form, `<input type="hidden" name="csrf" value="`) {
				t.Errorf("%s: the form to %s has no CSRF token:\n%s", path, action, form)
			}
			actions[regexp.MustCompile(`/ui/schedules/s/overrides/[^/]+/`).ReplaceAllString(action, "/ui/schedules/s/overrides/ID/")] = true
			fields := url.Values{"message": {"x"}, "user": {"ann"}, "password": {consolePassword}, "kind": {"override"}, "tier": {"primary"},
				"start": {"2025-09-12T06:00"}, "end": {"2025-09-12T10:00"}}
			for _, token := range []string{"", otherToken} {
				if token != "" {
					fields.Set("csrf", token)
				}
				if r := c.do("POST", action, fields); r.code != http.StatusForbidden {
					t.Errorf("%s: the form to %s sent with CSRF token %q: %d, want 403", path, action, token, r.code)
				}
			}
		}
	}
	for _, want := range []string{"/ui/login/password", "/ui/logout", "/ui/incidents/" + id + "/acknowledge", "/ui/incidents/" + id + "/escalate",
		"/ui/incidents/" + id + "/resolve", "/ui/incidents/" + id + "/status", "/ui/schedules/s/overrides", "/ui/schedules/s/overrides/ID/delete"} {
		if !actions[want] {
			t.Errorf("no form to %s found (forms: %v)", want, actions)
		}
	}
	if after := state(); after != before {
		t.Errorf("forms without a good CSRF token changed something:\n%s\n%s", before, after)
	}
	if ann.get("/ui/oncall").code != http.StatusOK {
		t.Error("a refused sign-out form signed ann out")
	}
}

func TestConsoleViewerReadsOnly(t *testing.T) {
	h, idp := consoleHarness(t)
	id := fire(h)
	bob := newUIClient(t, h.url)
	idp.SignInAs("bob@example.com", true)
	r := bob.get("/ui/login/oidc")
	bob.follow(bob.do("GET", bob.do("GET", r.hdr.Get("Location"), nil).hdr.Get("Location"), nil))
	page := bob.get("/ui/incidents/" + id)
	if page.code != http.StatusOK {
		t.Fatalf("viewer reads: %d", page.code)
	}
	mustNotContain(t, "a viewer's incident page", page.body, `id="ack"`, `id="resolve"`)
	if r := bob.post(page.body, "/ui/incidents/"+id+"/acknowledge", nil); r.code != http.StatusForbidden || !strings.Contains(r.body, "viewer") {
		t.Errorf("viewer acknowledges: %d", r.code)
	}
	if st := h.incident(id).Status; st != "triggered" {
		t.Errorf("a viewer's button changed the incident: %s", st)
	}

	// The role is the config's at every request: a reload that makes
	// bob a responder gives him the buttons at once.
	cfg := strings.Replace(consoleConfig(t, idp.URL), "role: viewer,", "role: responder,", 1)
	if err := h.reload(cfg); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "a new responder's page", bob.get("/ui/incidents/"+id).body, `id="ack"`, "Bob <small>(responder)</small>")
	// A changed email ends the sessions the old one opened.
	if err := h.reload(strings.Replace(cfg, "email: Bob@Example.com", "email: robert@example.com", 1)); err != nil {
		t.Fatal(err)
	}
	if r := bob.get("/ui/incidents/" + id); r.code != http.StatusSeeOther {
		t.Errorf("after bob's email changed: %d, want the sign-in page", r.code)
	}
}

func TestConsoleEscapesWhatAlertsSay(t *testing.T) {
	h, _ := consoleHarness(t)
	body := `{"version":"4","groupKey":"x","status":"firing","receiver":"pagerd","groupLabels":{},"commonLabels":{},"commonAnnotations":{},
"externalURL":"http://am:9093","alerts":[{"status":"firing","labels":{"alertname":"<script>alert(1)</script>","severity":"critical"},
"annotations":{"summary":"<img src=x onerror=alert(2)>","runbook_url":"javascript:alert(3)","dashboard":"https://grafana.example/d/1"},
"startsAt":"2025-09-10T05:59:00Z","generatorURL":"http://prom:9090/graph?g0.expr=up"}]}`
	if r := h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+amKey); r.code != 200 {
		t.Fatalf("webhook: %d %s", r.code, r.body)
	}
	id := h.list("")[0].ID
	c := newUIClient(t, h.url)
	c.signIn("ann", consolePassword)
	for _, path := range []string{"/ui/incidents", "/ui/incidents/" + id} {
		page := c.get(path).body
		mustNotContain(t, path, page, "<script>alert", "<img src=x", `href="javascript:`)
		mustContain(t, path, page, "&lt;img src=x onerror=alert(2)&gt;")
	}
	page := c.get("/ui/incidents/" + id).body
	mustContain(t, "the incident", page, "&lt;script&gt;alert(1)&lt;/script&gt;", `href="https://grafana.example/d/1"`,
		`href="http://prom:9090/graph?g0.expr=up"`, "Source (generator URL)", "runbook_url", "javascript:alert(3)")
}

func TestConsolePages(t *testing.T) {
	h, _ := consoleHarness(t)
	fire(h)
	h.step(fixedNow)
	// One of batch's, acknowledged and resolved, for the filters.
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g2", map[string]string{"alertname": "B", "severity": "warning"}),
		"Authorization", "Bearer batch-key-0000000000000000000000")
	if r.code != 200 {
		t.Fatal(r.body)
	}
	batch := h.list("?service=batch")[0].ID
	h.api("POST", "/api/v1/incidents/"+batch+"/resolve", "")
	c := newUIClient(t, h.url)
	c.signIn("ann", consolePassword)

	list := c.get("/ui/incidents").body
	if i, j := strings.Index(list, "disk almost full"), strings.Index(list, `id="g-resolved"`); i < 0 || j < 0 || i > j {
		t.Errorf("open incidents do not come first:\n%s", list)
	}
	for query, want := range map[string][2]int{ // incident links of api, of batch
		"?service=api":                  {1, 0},
		"?service=batch":                {0, 1},
		"?status=resolved":              {0, 1},
		"?status=triggered":             {1, 0},
		"?priority=P0":                  {1, 0},
		"?priority=SEV-3":               {0, 1},
		"?status=resolved&since=1h":     {0, 1},
		"?service=batch&status=open":    {0, 0},
		"?status=acknowledged&since=7d": {0, 0},
	} {
		page := c.get("/ui/incidents" + query).body
		api := strings.Count(page, "<li class=\"inc st-") - strings.Count(page, batch)
		if got := [2]int{api, strings.Count(page, batch)}; got != want {
			t.Errorf("%s: %v incidents (api, batch), want %v", query, got, want)
		}
	}
	h.clock.Set(fixedNow.Add(2 * time.Hour))
	if page := c.get("/ui/incidents?since=1h").body; strings.Contains(page, batch) || !strings.Contains(page, "disk almost full") {
		t.Errorf("since=1h two hours on: the old resolved one shows, or the open one does not")
	}
	h.clock.Set(fixedNow)

	oncall := c.get("/ui/oncall").body
	mustContain(t, "the on-call page", oncall, "Primary", "Secondary", "<strong>Ann</strong>", "<strong>Bob</strong>",
		"override: dentist", "push <small>(log)</small>", `href="/ui/schedules/s"`)

	cal := c.get("/ui/schedules/s?weeks=2")
	mustContain(t, "the calendar", cal.body, "Week of Mon 8 Sep 2025", "Week of Mon 15 Sep 2025", "Fri 12 Sep",
		`<div class="shift is-override">Bob <span class="override" title="dentist">override</span></div>`,
		"In the config file", "Primary Bob (dentist)", `id="ovr-add"`)
	if n := strings.Count(cal.body, "<tr class="); n != 14 {
		t.Errorf("two weeks of days: %d rows", n)
	}
	if r := c.get("/ui/schedules/nope"); r.code != http.StatusNotFound {
		t.Errorf("unknown schedule: %d", r.code)
	}

	rep := c.get("/ui/reports?from=2025-09-01&to=2025-09-15")
	mustContain(t, "the reports page", rep.body, "All services", `<img src="data:image/svg&#43;xml;base64,`, "Incidents per week", "<pre class=\"report\">")
	if r := c.get("/ui/reports?from=2025-09-15&to=2025-09-01"); r.code != http.StatusBadRequest || !strings.Contains(r.body, "To must be after from") {
		t.Errorf("a backwards period: %d", r.code)
	}
	if r := c.get("/ui/static/console.js"); r.code != 200 || !strings.Contains(r.body, "data-refresh") {
		t.Errorf("the script: %d", r.code)
	}
	if r := c.get("/ui/nowhere"); r.code != http.StatusNotFound {
		t.Errorf("unknown page: %d", r.code)
	}
	if r := c.get("/ui/incidents/" + id0(t, h) + "/version"); r.code != 200 || r.body == "" {
		t.Errorf("version: %d %q", r.code, r.body)
	}
}

// TestConsoleListVersion: the incident list carries the version of what
// it shows, and the URL its script asks it at (with the filters in
// force), and refreshes itself every 30 seconds without JavaScript. The
// version stays while nothing listed changes, and moves with a new
// incident, a write to a listed one, or one leaving the list; an
// incident the filters leave out does not move it.
func TestConsoleListVersion(t *testing.T) {
	h, _ := consoleHarness(t)
	c := newUIClient(t, h.url)
	c.signIn("ann", consolePassword)
	const list = "/ui/incidents?service=api&status=open"
	page := c.get(list)
	mustContain(t, "the list", page.body, `<noscript><meta http-equiv="refresh" content="30"></noscript>`,
		`data-refresh="/ui/incidents/version?priority=&amp;service=api&amp;since=7d&amp;status=open"`, `data-swap="incident-list"`,
		`<div id="incident-list">`, `data-interval="10000"`)
	version := func() string {
		t.Helper()
		r := c.get("/ui/incidents/version?priority=&service=api&since=7d&status=open")
		if r.code != 200 || r.body == "" {
			t.Fatalf("the list's version: %d %q", r.code, r.body)
		}
		return r.body
	}
	v0 := version()
	if !strings.Contains(page.body, `data-version="`+v0+`"`) {
		t.Errorf("the page does not carry the version %q:\n%s", v0, page.body)
	}
	if v := version(); v != v0 {
		t.Errorf("the version moved with nothing changed: %q, then %q", v0, v)
	}
	id := fire(h)
	v1 := version()
	if v1 == v0 {
		t.Errorf("the version did not move with a new incident")
	}
	h.step(fixedNow) // paged
	v2 := version()
	if v2 == v1 {
		t.Errorf("the version did not move when the incident was paged")
	}
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g2", map[string]string{"alertname": "B", "severity": "warning"}),
		"Authorization", "Bearer batch-key-0000000000000000000000")
	if r.code != 200 {
		t.Fatal(r.body)
	}
	if v := version(); v != v2 {
		t.Errorf("the version moved with an incident of another service")
	}
	// A minute on, the row's age and its "paged last" (an alert-storm
	// message's notes do not change the incident's version) may read
	// otherwise: the version moves, once a minute.
	h.clock.Set(fixedNow.Add(time.Minute))
	v3 := version()
	if v3 == v2 {
		t.Errorf("the version did not move in a minute with an incident listed: its age and paged-last stay stale")
	}
	h.clock.Set(fixedNow.Add(time.Minute + 50*time.Second))
	if v := version(); v != v3 {
		t.Errorf("the version moved inside a minute with nothing changed")
	}
	h.api("POST", "/api/v1/incidents/"+id+"/resolve", "")
	v4 := version()
	if v4 == v3 {
		t.Errorf("the version did not move when the incident was resolved (left the open ones)")
	}
	h.clock.Set(fixedNow.Add(3 * time.Minute))
	if v := version(); v != v4 {
		t.Errorf("the version of a list with nothing in it moved with the minute")
	}
	if r := c.get("/ui/incidents/version?status=nope"); r.code != http.StatusBadRequest {
		t.Errorf("an unknown status: %d, want 400", r.code)
	}
}

func id0(t testing.TB, h *harness) string { t.Helper(); return h.list("?service=api")[0].ID }

func TestConsoleOffWithoutSessionKey(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/ui/", "")
	if r.code != http.StatusNotFound || !strings.Contains(r.body, "console.session_key") {
		t.Errorf("console off: %d %s", r.code, r.body)
	}
	if r := h.do("GET", "/ui", ""); r.code != http.StatusNotFound {
		t.Errorf("/ui with the console off: %d", r.code)
	}
}

// TestConsoleOverrideWarnsWhenNobodyIsWoken: the console's override form,
// like the API, makes an override that puts on call a person whose every
// contact is via log in place of one ntfy reaches, and says they are
// woken by nothing.
func TestConsoleOverrideWarnsWhenNobodyIsWoken(t *testing.T) {
	cfg := strings.NewReplacer(
		"contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}\n  - {id: bob",
		`contacts: [{channel: push, via: ntfy, address: "https://ntfy.sh/oncall-ann"}]}`+"\n  - {id: bob",
		"users:\n", "users:\n  - {id: cat, name: Cat, contacts: [{channel: push, via: log}]}\n",
	).Replace(consoleConfig(t, ""))
	h := newHarness(t, withConfig(cfg))
	ann := newUIClient(t, h.url)
	ann.signIn("ann", consolePassword)
	cal := ann.get("/ui/schedules/s")
	r := ann.post(cal.body, "/ui/schedules/s/overrides", url.Values{"kind": {"override"}, "tier": {"primary"}, "user": {"cat"},
		"start": {"2025-09-10T06:00"}, "end": {"2025-09-10T10:00"}})
	if r.code != http.StatusSeeOther {
		t.Fatalf("add: %d %s", r.code, r.body)
	}
	mustContain(t, "after adding", ann.follow(r).body, "Override made: Cat holds primary",
		"Warning: cat&#39;s every contact is via log", "while ann, whom they replace on primary, is paged through ntfy")
}

func TestConsoleOverrides(t *testing.T) {
	h, idp := consoleHarness(t)
	ann := newUIClient(t, h.url)
	ann.signIn("ann", consolePassword)
	cal := ann.get("/ui/schedules/s")
	mustContain(t, "the calendar", cal.body, `name="start" id="ovr-start" value="2025-09-10T06:00"`, `value="2025-09-10T10:00"`)

	oncall := func() string {
		var got struct {
			OnCall []struct {
				Tier, User string
				Override   bool
			} `json:"oncall"`
		}
		h.api("GET", "/api/v1/oncall?schedule=s", "").json(t, &got)
		for _, e := range got.OnCall {
			if e.Tier == "primary" {
				return fmt.Sprintf("%s %v", e.User, e.Override)
			}
		}
		return ""
	}
	if got := oncall(); got != "ann false" {
		t.Fatalf("primary before: %s", got)
	}
	add := url.Values{"kind": {"override"}, "tier": {"primary"}, "user": {"bob"}, "start": {"2025-09-10T06:00"}, "end": {"2025-09-10T10:00"},
		"reason": {"ann's handover"}}
	r := ann.post(cal.body, "/ui/schedules/s/overrides", add)
	if r.code != http.StatusSeeOther {
		t.Fatalf("add: %d %s", r.code, r.body)
	}
	done := r.hdr.Get("Location")
	page := ann.follow(r)
	mustContain(t, "after adding", page.body, "Override made: Bob holds primary from Wed 10 Sep 06:00 to Wed 10 Sep 10:00 UTC.",
		"Primary: Bob</strong> <small>(instead of Ann)</small>", "ann&#39;s handover; made by Ann", "Remove</button>")
	if got := oncall(); got != "bob true" {
		t.Errorf("GET /api/v1/oncall after the console's override: primary %s, want bob true", got)
	}
	// The calendar says only what this session's own forms did: a link
	// made elsewhere puts no words on a pagerd page, nor does the same
	// message sent to another session.
	forged := "/ui/schedules/s?done=" + url.QueryEscape("Your session expired: call +1 555 0100 to restore it.")
	mustNotContain(t, "a link with a message of its own", ann.get(forged).body, "Your session expired", `class="note"`)
	mustNotContain(t, "a signed message with another signature", ann.get(forged+"&sig="+done[strings.Index(done, "&sig=")+5:]).body, "Your session expired")
	other := newUIClient(t, h.url)
	other.signIn("ann", consolePassword)
	mustNotContain(t, "another session's message", other.get(done).body, "Override made")
	var listed struct {
		Overrides []struct {
			ID, User  string
			CreatedBy string `json:"created_by"`
		} `json:"overrides"`
	}
	h.api("GET", "/api/v1/schedules/s/overrides", "").json(t, &listed)
	if len(listed.Overrides) != 1 || listed.Overrides[0].CreatedBy != "ann" {
		t.Fatalf("the API lists %+v", listed.Overrides)
	}
	id := listed.Overrides[0].ID

	// The service's refusals come back on the page.
	if r := ann.post(page.body, "/ui/schedules/s/overrides", add); r.code != http.StatusConflict || !strings.Contains(r.body, "overlaps override") {
		t.Errorf("overlapping: %d\n%s", r.code, r.body)
	}
	bad := url.Values{"kind": {"override"}, "tier": {"primary"}, "user": {"bob"}, "start": {"tomorrow"}, "end": {""}}
	if r := ann.post(page.body, "/ui/schedules/s/overrides", bad); r.code != http.StatusBadRequest || !strings.Contains(r.body, "start tomorrow is not a date and time; end is required") {
		t.Errorf("bad times: %d\n%s", r.code, r.body)
	}

	// A swap: Bob takes Ann's Thursday morning, Ann Bob's Friday morning
	// (his by the config's override); removing one half removes both.
	swap := url.Values{"kind": {"swap"}, "tier": {"primary"}, "user": {"bob"}, "start": {"2025-09-11T00:00"}, "end": {"2025-09-11T12:00"},
		"swap_start": {"2025-09-12T08:00"}, "swap_end": {"2025-09-12T12:00"}}
	r = ann.post(page.body, "/ui/schedules/s/overrides", swap)
	page = ann.follow(r)
	mustContain(t, "after the swap", page.body, "Swap made: Bob and Ann hold each other&#39;s shifts.")
	h.api("GET", "/api/v1/schedules/s/overrides", "").json(t, &listed)
	if len(listed.Overrides) != 3 {
		t.Fatalf("after the swap the API lists %+v", listed.Overrides)
	}
	var swapID string
	for _, o := range listed.Overrides {
		if o.ID != id {
			swapID = o.ID
		}
	}
	r = ann.post(page.body, "/ui/schedules/s/overrides/"+swapID+"/delete", nil)
	mustContain(t, "after removing the swap", ann.follow(r).body, "Swap removed")
	r = ann.post(page.body, "/ui/schedules/s/overrides/"+id+"/delete", nil)
	mustContain(t, "after removing the override", ann.follow(r).body, "Override removed.")
	h.api("GET", "/api/v1/schedules/s/overrides", "").json(t, &listed)
	if len(listed.Overrides) != 0 || oncall() != "ann false" {
		t.Errorf("after removing: %+v, primary %s", listed.Overrides, oncall())
	}

	// A viewer sees no forms and may not change anything.
	bob := newUIClient(t, h.url)
	idp.SignInAs("bob@example.com", true)
	r = bob.get("/ui/login/oidc")
	bob.follow(bob.do("GET", bob.do("GET", r.hdr.Get("Location"), nil).hdr.Get("Location"), nil))
	cal = bob.get("/ui/schedules/s")
	mustNotContain(t, "a viewer's calendar", cal.body, `id="ovr-add"`)
	if r := bob.post(cal.body, "/ui/schedules/s/overrides", add); r.code != http.StatusForbidden {
		t.Errorf("a viewer adds an override: %d", r.code)
	}
}

// TestConsoleEscalateSubmittedTwiceEscalatesOnce: the Escalate form says
// the level the page showed; submitted twice (a double click, or a page
// that had not refreshed) it escalates once: the second changes nothing
// and says so, and the last level is not paged again.
func TestConsoleEscalateSubmittedTwiceEscalatesOnce(t *testing.T) {
	h, id, ann := annSignedInOnAPagedIncident(t)
	page := ann.get("/ui/incidents/" + id)
	mustContain(t, "the incident", page.body, `name="from_level" value="1"`)
	form := func() url.Values { return url.Values{"from_level": {"1"}} }
	mustContain(t, "after escalating", ann.follow(ann.post(page.body, "/ui/incidents/"+id+"/escalate", form())).body, "Escalated</strong>")
	h.runUntil(fixedNow.Add(time.Minute))
	mustContain(t, "after escalating again", ann.follow(ann.post(page.body, "/ui/incidents/"+id+"/escalate", form())).body, "Nothing changed")
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if v := h.incident(id); v.Level != 2 {
		t.Fatalf("after two submits: level %d, want 2", v.Level)
	}
	if got := strings.Join(h.rec.lines(fixedNow), "; "); strings.Count(got, "bob push") != 1 {
		t.Fatalf("pages: %s, want bob's push once", got)
	}
}

// hiddenFields are the hidden fields of the form of page that posts to
// action, but the CSRF token (post adds it): what a browser submits.
func hiddenFields(t *testing.T, page, action string) url.Values {
	t.Helper()
	_, form, ok := strings.Cut(page, `action="`+action+`"`)
	if !ok {
		t.Fatalf("no form posting to %s:\n%s", action, page)
	}
	form, _, _ = strings.Cut(form, "</form>")
	v := url.Values{}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(form, -1) {
		if m[1] != "csrf" {
			v.Set(m[1], html.UnescapeString(m[2]))
		}
	}
	return v
}

// TestConsoleEscalateAtTheLastLevelSubmittedTwiceEscalatesOnce: at the
// last level an escalation pages that level again rather than leaving it,
// so the level the form carries cannot tell a form submitted twice from one
// on the page as it stands now. What the page showed of the level's start
// can: the second submit changes nothing and says so, and the level is
// paged again once. The page reloaded shows the level started again: its
// form escalates.
func TestConsoleEscalateAtTheLastLevelSubmittedTwiceEscalatesOnce(t *testing.T) {
	h, _ := consoleHarness(t)
	id := fire(h)
	h.step(fixedNow)
	h.clock.Set(fixedNow.Add(30 * time.Second))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"level":"secondary"}`); r.code != 200 {
		t.Fatalf("escalate to the last level: %d %s", r.code, r.body)
	}
	h.runUntil(fixedNow.Add(40 * time.Second))
	ann := newUIClient(t, h.url)
	ann.signIn("ann", consolePassword)
	action := "/ui/incidents/" + id + "/escalate"
	page := ann.get("/ui/incidents/" + id)
	form := hiddenFields(t, page.body, action)
	if form.Get("from_level") != "2" {
		t.Fatalf("the Escalate form at the last level: %v", form)
	}
	h.clock.Set(fixedNow.Add(time.Minute))
	mustContain(t, "after escalating", ann.follow(ann.post(page.body, action, hiddenFields(t, page.body, action))).body, "Escalated</strong>")
	h.runUntil(fixedNow.Add(70 * time.Second))
	mustContain(t, "after escalating again", ann.follow(ann.post(page.body, action, hiddenFields(t, page.body, action))).body, "Nothing changed")
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if got := strings.Join(h.rec.lines(fixedNow), "; "); strings.Count(got, "bob push") != 2 {
		t.Fatalf("pages: %s; want bob's push twice (reaching the level, the first submit)", got)
	}

	reloaded := ann.get("/ui/incidents/" + id)
	if again := hiddenFields(t, reloaded.body, action); again.Encode() == form.Encode() {
		t.Fatalf("the reloaded page's Escalate form is the old one: %v", again)
	}
	mustContain(t, "escalating from the reloaded page", ann.follow(ann.post(reloaded.body, action, hiddenFields(t, reloaded.body, action))).body, "Escalated</strong>")
}

// TestConsoleActionNotRecordedSaysWhatIsTrue: a button whose action the
// store could not record is answered as every channel answers it: an
// escalation the store did not confirm may have been made, and the page
// says so without asking to try again (a second submit could escalate
// twice); an acknowledgement the store refused was not made, and the page
// asks to try again. Neither shows the store's error.
func TestConsoleActionNotRecordedSaysWhatIsTrue(t *testing.T) {
	fs := &failingUpdates{Store: boltStore(t)}
	h := newHarness(t, withConfig(consoleConfig(t, "")), withStore(fs))
	id := fire(h)
	h.step(fixedNow)
	ann := newUIClient(t, h.url)
	ann.signIn("ann", consolePassword)
	page := ann.get("/ui/incidents/" + id)
	press := func(action string, err error) response {
		t.Helper()
		fs.err.Store(&err)
		defer fs.err.Store(nil)
		path := "/ui/incidents/" + id + "/" + action
		return ann.post(page.body, path, hiddenFields(t, page.body, path))
	}
	r := press("escalate", store.PartlyStored(errDiskFull))
	mustContain(t, "escalate whose write may have landed", r.body, "Your escalation may not have been recorded")
	mustNotContain(t, "escalate whose write may have landed", r.body, "try again", "no space left")
	if r.code != http.StatusServiceUnavailable {
		t.Errorf("escalate whose write may have landed: %d", r.code)
	}
	r = press("acknowledge", errDiskFull)
	mustContain(t, "acknowledge the store refused", r.body, "Your acknowledgement was NOT recorded: the incident store is unavailable", "try again")
	mustNotContain(t, "acknowledge the store refused", r.body, "no space left")
	if st := h.incident(id).Status; st != "triggered" {
		t.Fatalf("status %s after failed writes", st)
	}
}

// TestConsoleOnCallGapBeforeLayer: a tier whose only layer begins later
// is held by nobody now, since forever: the on-call page says until when
// (the layer's first window), as GET /api/v1/oncall does, and shows no
// date for the bound that is no instant (year 1, or 9999 for a span that
// never ends).
func TestConsoleOnCallGapBeforeLayer(t *testing.T) {
	cfg := strings.Replace(consoleConfig(t, ""), "      - {name: secondary, start: 2025-01-06, members: [bob]}\n",
		"      - name: secondary\n        layers:\n          - {name: day, start: 2025-10-06, members: [bob], restrictions: [{start: \"08:00\", end: \"16:00\"}]}\n", 1)
	h := newHarness(t, withConfig(cfg))
	ann := newUIClient(t, h.url)
	ann.signIn("ann", consolePassword)
	page := ann.get("/ui/oncall")
	_, card, ok := strings.Cut(page.body, "<h3>Secondary</h3>")
	if !ok {
		t.Fatalf("no secondary tier on the page:\n%s", page.body)
	}
	card, _, _ = strings.Cut(card, "</article>")
	now, _, _ := strings.Cut(card, `<p class="next">`)
	mustContain(t, "the secondary tier now", now, "nobody", "until Mon 6 Oct 08:00 UTC")
	for _, bad := range []string{" 0001", "9999", "1 Jan", "31 Dec", " – "} {
		if strings.Contains(now, bad) {
			t.Errorf("the secondary tier now shows %q, a bound that is no instant:\n%s", bad, now)
		}
	}
	// The API says the same: no from, until the layer's first window.
	var api struct {
		OnCall []struct {
			Tier, User  string
			From, Until *time.Time
		} `json:"oncall"`
	}
	h.api("GET", "/api/v1/oncall?schedule=s", "").json(t, &api)
	for _, e := range api.OnCall {
		if e.Tier == "secondary" && (e.User != "" || e.From != nil || e.Until == nil || !e.Until.Equal(time.Date(2025, 10, 6, 8, 0, 0, 0, time.UTC))) {
			t.Errorf("GET /api/v1/oncall, secondary: %+v, want nobody until 2025-10-06T08:00Z and no from", e)
		}
	}
}

// TestConsoleRemovedUserSessionsStayEnded: a reload that removes a user
// ends their sessions at the next request, GET and POST; adding them back
// (same id, same password hash) does not bring those sessions back, while
// a new sign-in works and other people's sessions are untouched.
func TestConsoleRemovedUserSessionsStayEnded(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte(consolePassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	carol := fmt.Sprintf("  - {id: carol, name: Carol, password_hash: '%s', contacts: [{channel: push, via: log}]}\n", hash)
	without := consoleConfig(t, "")
	with := strings.Replace(without, "schedules:\n", carol+"schedules:\n", 1)
	h := newHarness(t, withConfig(with))
	id := fire(h)
	c := newUIClient(t, h.url)
	if r := c.signIn("carol", consolePassword); r.code != http.StatusSeeOther {
		t.Fatalf("sign in: %d %s", r.code, r.body)
	}
	ann := newUIClient(t, h.url)
	ann.signIn("ann", consolePassword)
	page := c.get("/ui/incidents/" + id)
	if page.code != http.StatusOK {
		t.Fatalf("the incident for carol: %d", page.code)
	}
	saved := c.cookies[sessionCookieName]
	oldSession := func(when string) {
		t.Helper()
		c.cookies[sessionCookieName] = saved
		if r := c.get("/ui/incidents"); r.code != http.StatusSeeOther || !strings.HasPrefix(r.hdr.Get("Location"), "/ui/login") {
			t.Errorf("%s, carol's old session GET: %d, want 303 to sign in", when, r.code)
		}
		c.cookies[sessionCookieName] = saved
		if r := c.post(page.body, "/ui/incidents/"+id+"/acknowledge", nil); r.code != http.StatusUnauthorized {
			t.Errorf("%s, carol's old session POST: %d, want 401", when, r.code)
		}
		if r := ann.get("/ui/incidents"); r.code != http.StatusOK {
			t.Errorf("%s, ann's session: %d", when, r.code)
		}
	}

	h.clock.Set(fixedNow.Add(time.Minute))
	if err := h.reload(without); err != nil {
		t.Fatal(err)
	}
	oldSession("removed")
	h.clock.Set(fixedNow.Add(2 * time.Minute))
	if err := h.reload(with); err != nil {
		t.Fatal(err)
	}
	oldSession("added back")
	if st := h.incident(id).Status; st != "triggered" {
		t.Errorf("the incident is %s: an ended session acted on it", st)
	}

	// Signing in again works, and goes on working at the next reload.
	h.clock.Set(fixedNow.Add(3 * time.Minute))
	delete(c.cookies, sessionCookieName)
	if r := c.signIn("carol", consolePassword); r.code != http.StatusSeeOther {
		t.Fatalf("sign in again: %d %s", r.code, r.body)
	}
	if err := h.reload(with); err != nil {
		t.Fatal(err)
	}
	if r := c.get("/ui/incidents"); r.code != http.StatusOK {
		t.Errorf("carol's new session: %d", r.code)
	}
}

// TestConsoleReopenedIncidentIsNotShownAcknowledged: ann acknowledges in
// the console; bob escalates, which reopens the incident (triggered,
// paging level 2). Its page says it was reopened, not that ann has it
// ("triggered by ann" before), and the page ann landed on after her
// acknowledgement (?done=acknowledge, which the page refreshes at without
// JavaScript, and which can be shared) no longer says every pending page
// is cancelled.
func TestConsoleReopenedIncidentIsNotShownAcknowledged(t *testing.T) {
	h, id, ann := annSignedInOnAPagedIncident(t)
	page := ann.get("/ui/incidents/" + id)
	r := ann.post(page.body, "/ui/incidents/"+id+"/acknowledge", nil)
	landed := r.hdr.Get("Location")
	if !strings.Contains(landed, "done=acknowledge") {
		t.Fatalf("landed on %q", landed)
	}
	status := func(body string) string {
		i := strings.Index(body, `<dd id="status">`)
		if i < 0 {
			t.Fatalf("no status: %s", body)
		}
		return body[i : i+strings.Index(body[i:], "</dd>")]
	}
	const cancelled = "every pending page of this incident is cancelled"
	if p := ann.get(landed); !strings.Contains(status(p.body), "acknowledged</span> by ann") || !strings.Contains(p.body, cancelled) {
		t.Fatalf("after the acknowledgement: %s", status(p.body))
	}
	h.clock.Set(fixedNow.Add(3 * time.Minute))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"bob"}`); r.code != 200 {
		t.Fatalf("escalate: %d %s", r.code, r.body)
	}
	p := ann.get(landed)
	if s := status(p.body); strings.Contains(s, "</span> by ann") || !strings.Contains(s, "reopened (was acknowledged by ann)") {
		t.Fatalf("the reopened incident's status: %s", s)
	}
	if strings.Contains(p.body, cancelled) {
		t.Fatalf("the page of the reopened, paging incident still says its pages are cancelled (%s)", landed)
	}
}

// TestConsoleOverrideFormInTheSkippedHour: the console's override form
// reads its times on the schedule's clock, and a time the clocks skip
// (02:30 in New York the night they spring forward) is, as in the config,
// the first instant after the jump, 03:00 EDT. (Before: 01:30 EST, an hour
// before the jump: the override started an hour early.)
func TestConsoleOverrideFormInTheSkippedHour(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte(consolePassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(testConfig, "{id: ann, name: Ann,", fmt.Sprintf("{id: ann, name: Ann, password_hash: '%s',", hash), 1)
	cfg = strings.Replace(cfg, "    handoff: {weekday: monday, time: \"00:00\"}\n", "    time_zone: America/New_York\n    handoff: {weekday: monday, time: \"00:00\"}\n", 1)
	cfg = "server: {public_url: \"" + harnessURL + "\"}\nconsole:\n  session_key: " + consoleKey + "\n" + cfg
	h := newHarness(t, withConfig(cfg), startAt(time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC)))
	ann := newUIClient(t, h.url)
	ann.signIn("ann", consolePassword)
	cal := ann.get("/ui/schedules/s")
	add := url.Values{"kind": {"override"}, "tier": {"primary"}, "user": {"bob"}, "start": {"2026-03-08T02:30"}, "end": {"2026-03-08T06:00"}}
	if r := ann.post(cal.body, "/ui/schedules/s/overrides", add); r.code != http.StatusSeeOther {
		t.Fatalf("add: %d %s", r.code, r.body)
	}
	var listed struct {
		Overrides []struct{ Start time.Time } `json:"overrides"`
	}
	h.api("GET", "/api/v1/schedules/s/overrides", "").json(t, &listed)
	want := time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC) // 03:00 EDT
	if len(listed.Overrides) != 1 || !listed.Overrides[0].Start.Equal(want) {
		t.Errorf("the override starts at %v, want %v (03:00 EDT, the first instant after the jump)", listed.Overrides, want)
	}
	if r := h.api("GET", "/api/v1/oncall?schedule=s&at=2026-03-08T06:45:00Z", ""); !strings.Contains(r.body, `"tier":"primary","user":"ann"`) {
		t.Errorf("at 01:45 EST, before the jump and the override's 02:30, primary is not ann: %s", r.body)
	}
}
