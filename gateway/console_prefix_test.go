package gateway

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/oidctest"
)

// A proxy serves pagerd at https://example.com/pager/ and strips the
// prefix: pagerd sees /ui/..., the browser must be given /pager/ui/....
const (
	prefixedPublicURL = "https://example.com/pager"
	prefixedUI        = "/pager/ui/"
)

// consoleURLRE finds what a page makes the browser load, follow, post to
// or fetch: links, forms, assets, and the script's polling URL.
var consoleURLRE = regexp.MustCompile(`(?:href|action|src|data-refresh)="([^"]*)"`)

// underPrefix fails the test for every URL of a console page (or a
// Location) on pagerd's host that is not under /pager/ui/, and says how
// many it checked.
func underPrefix(t *testing.T, what, body string) int {
	t.Helper()
	n := 0
	for _, m := range consoleURLRE.FindAllStringSubmatch(body, -1) {
		u := html.UnescapeString(m[1])
		if strings.HasPrefix(u, "tel:") || strings.HasPrefix(u, "data:") ||
			(strings.Contains(u, "://") && !strings.HasPrefix(u, "https://example.com/")) {
			continue // a phone number, a chart, a link of the alert's
		}
		n++
		if !strings.HasPrefix(u, prefixedUI) {
			t.Errorf("%s: %s=%q is not under %s: through the proxy it leads out of pagerd", what, strings.SplitN(m[0], "=", 2)[0], u, prefixedUI)
		}
	}
	return n
}

// location is a redirect's Location, which must be under /pager/ui/; it
// answers the path pagerd gets once the proxy strips the prefix.
func location(t *testing.T, what string, r response, code int) string {
	t.Helper()
	loc := r.hdr.Get("Location")
	if r.code != code || !strings.HasPrefix(loc, prefixedUI) {
		t.Fatalf("%s: %d to %q, want %d to a path under %s\n%s", what, r.code, loc, code, prefixedUI, r.body)
	}
	return strings.TrimPrefix(loc, "/pager")
}

// cookiesReachConsole fails the test for a cookie the browser would not
// send to the console's pages at /pager/ui/.
func cookiesReachConsole(t *testing.T, what string, cks []*http.Cookie) {
	t.Helper()
	if len(cks) == 0 {
		t.Errorf("%s: no cookie set", what)
	}
	for _, ck := range cks {
		if ck.Path == "" || !strings.HasPrefix(prefixedUI, ck.Path) || !strings.HasSuffix(ck.Path, "/") {
			t.Errorf("%s: cookie %s has Path %q: the browser does not send it to %s", what, ck.Name, ck.Path, prefixedUI)
		}
	}
}

// TestConsoleUnderAPathPrefix: with public_url https://example.com/pager
// (a proxy that strips /pager), every page of the console links, posts,
// loads its assets and polls under /pager/ui/, every redirect (sign-in
// both ways, sign-out, after a button or a form) goes there, and the
// cookies reach it; pagerd still serves the console at /ui/. They all
// went to /ui/ at the host's root, outside pagerd.
func TestConsoleUnderAPathPrefix(t *testing.T) {
	var h *harness
	idp := oidctest.Start(t, func() time.Time { return h.clock.Now() })
	h = newHarness(t, withConfig(strings.Replace(consoleConfig(t, idp.URL), `public_url: "`+harnessURL+`"`, `public_url: "`+prefixedPublicURL+`/"`, 1)))
	id := fire(h)
	h.step(fixedNow)
	c := newUIClient(t, h.url)
	c.origin = "https://example.com"

	if csp := c.get("/ui/login").hdr.Get("Content-Security-Policy"); csp == "" || strings.Contains(csp, "/") {
		t.Errorf("the CSP names paths: %q", csp)
	}
	location(t, "/ui without its slash", c.get("/ui"), http.StatusFound)
	next := location(t, "signed out", c.get("/ui/incidents/"+id), http.StatusSeeOther)
	if next != "/ui/login?next=%2Fui%2Fincidents%2F"+id {
		t.Errorf("signed out: to %q, want the sign-in page and back to the incident", next)
	}
	login := c.get(next)
	if n := underPrefix(t, "the sign-in page", login.body); n < 5 {
		t.Errorf("the sign-in page: %d URLs checked, want its assets, links and forms", n)
	}
	mustContain(t, "the sign-in page", login.body, `href="/pager/ui/static/console.css"`, `action="/pager/ui/login/password"`)
	cookiesReachConsole(t, "the sign-in page", c.setCookies)

	// Sign in with a password: back to the incident, under the prefix.
	r := c.post(login.body, "/ui/login/password", url.Values{"user": {"ann"}, "password": {consolePassword}, "next": {"/ui/incidents/" + id}})
	cookiesReachConsole(t, "the password sign-in", c.setCookies)
	if got := location(t, "password sign-in", r, http.StatusSeeOther); got != "/ui/incidents/"+id {
		t.Errorf("password sign-in: to %q, want the incident", got)
	}

	// Every page.
	pages := map[string]string{}
	for _, p := range []string{"/ui/", "/ui/incidents", "/ui/incidents/" + id, "/ui/oncall", "/ui/schedules/s", "/ui/reports", "/ui/nowhere"} {
		r := c.get(p)
		if r.code != http.StatusOK && p != "/ui/nowhere" {
			t.Fatalf("%s: %d\n%s", p, r.code, r.body)
		}
		if n := underPrefix(t, p, r.body); n < 4 {
			t.Errorf("%s: %d URLs checked, want its assets, menu and sign-out form at least", p, n)
		}
		pages[p] = r.body
	}
	mustContain(t, "the list", pages["/ui/incidents"], `href="/pager/ui/incidents/`+id+`"`, `action="/pager/ui/incidents"`,
		`data-refresh="/pager/ui/incidents/version?`, `src="/pager/ui/static/console.js"`, `action="/pager/ui/logout"`)
	mustContain(t, "the incident", pages["/ui/incidents/"+id], `action="/pager/ui/incidents/`+id+`/acknowledge"`,
		`data-refresh="/pager/ui/incidents/`+id+`/version"`)
	mustContain(t, "on call", pages["/ui/oncall"], `href="/pager/ui/schedules/s"`)
	mustContain(t, "the calendar", pages["/ui/schedules/s"], `action="/pager/ui/schedules/s/overrides"`)
	mustContain(t, "reports", pages["/ui/reports"], `action="/pager/ui/reports"`)
	mustContain(t, "no such page", pages["/ui/nowhere"], `href="/pager/ui/">Back to the incidents`)

	// The buttons and forms answer with redirects under the prefix.
	page := pages["/ui/incidents/"+id]
	done := location(t, "acknowledge", c.post(page, "/ui/incidents/"+id+"/acknowledge", url.Values{"reopened": {"0"}}), http.StatusSeeOther)
	if !strings.HasPrefix(done, "/ui/incidents/"+id+"?done=acknowledge") {
		t.Errorf("acknowledge: to %q", done)
	}
	mustContain(t, "after the button", c.get(done).body, "Acknowledged: every pending page")
	if st := h.incident(id).Status; st != "acknowledged" {
		t.Errorf("the incident after the button: %s", st)
	}
	location(t, "an override", c.post(pages["/ui/schedules/s"], "/ui/schedules/s/overrides", url.Values{"kind": {"override"}, "tier": {"primary"},
		"user": {"bob"}, "start": {"2025-09-12T06:00"}, "end": {"2025-09-12T10:00"}}), http.StatusSeeOther)

	// Sign out, and in again through the identity provider, which sends
	// the browser back to public_url's callback.
	out := location(t, "sign out", c.post(page, "/ui/logout", nil), http.StatusSeeOther)
	cookiesReachConsole(t, "sign out", c.setCookies)
	if !strings.HasPrefix(out, "/ui/login?signed_out=") {
		t.Errorf("sign out: to %q", out)
	}
	underPrefix(t, "the sign-in page after signing out", c.get(out).body)
	idp.SignInAs("ann@example.com", true)
	start := c.get("/ui/login/oidc?next=" + url.QueryEscape("/ui/oncall"))
	cookiesReachConsole(t, "the identity provider's sign-in", c.setCookies)
	at, err := url.Parse(start.hdr.Get("Location"))
	if err != nil || start.code != http.StatusFound || at.Query().Get("redirect_uri") != prefixedPublicURL+"/ui/login/callback" {
		t.Fatalf("to the provider: %d %q", start.code, start.hdr.Get("Location"))
	}
	back := c.do("GET", start.hdr.Get("Location"), nil)
	callback, ok := strings.CutPrefix(back.hdr.Get("Location"), prefixedPublicURL)
	if back.code != http.StatusFound || !ok {
		t.Fatalf("the provider: %d to %q, want public_url's callback", back.code, back.hdr.Get("Location"))
	}
	if got := location(t, "the callback", c.get(callback), http.StatusSeeOther); got != "/ui/oncall" {
		t.Errorf("the callback: to %q, want on call", got)
	}
	cookiesReachConsole(t, "the callback", c.setCookies)
}

// TestConsoleUnderAPathPrefixCleansUnderIt: the redirects Go's ServeMux
// makes itself, to a cleaned path or one with its slash added, go under
// public_url's path too (they went to /ui/ at the host's root); the
// console's own redirects, made under it, are not given it twice.
func TestConsoleUnderAPathPrefixCleansUnderIt(t *testing.T) {
	h := newHarness(t, withConfig(strings.Replace(consoleConfig(t, ""), `public_url: "`+harnessURL+`"`, `public_url: "`+prefixedPublicURL+`"`, 1)))
	c := newUIClient(t, h.url)
	for path, want := range map[string]string{
		"/ui/static":          "/ui/static/",
		"/ui//incidents":      "/ui/incidents",
		"/ui/./oncall":        "/ui/oncall",
		"/ui/static/../login": "/ui/login",
		"/ui/oncall":          "/ui/login?next=%2Fui%2Foncall",
	} {
		r := c.get(path)
		if got := r.hdr.Get("Location"); r.code < 300 || r.code > 399 || got != "/pager"+want {
			t.Errorf("%s: %d to %q, want a redirect to /pager%s", path, r.code, got, want)
		}
	}
}
