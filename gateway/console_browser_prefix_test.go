package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pagerd/pagerd/internal/oidctest"
)

// prefixProxy is a reverse proxy that serves pagerd under /pager/ and
// strips the prefix, as nginx's `location /pager/ { proxy_pass
// http://pagerd/; }` does. What the browser asks for outside /pager/ is
// not pagerd's: the proxy answers 404 and keeps the path.
type prefixProxy struct {
	srv *httptest.Server
	url string // http://127.0.0.1:port, without the prefix

	mu      sync.Mutex
	outside []string
}

func newPrefixProxy(t *testing.T) *prefixProxy {
	t.Helper()
	p := &prefixProxy{srv: httptest.NewUnstartedServer(nil)}
	p.url = "http://" + p.srv.Listener.Addr().String()
	return p
}

// start sends what comes under /pager/ to pagerd at upstream.
func (p *prefixProxy) start(t *testing.T, upstream string) {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.URL.Path = strings.TrimPrefix(pr.In.URL.Path, "/pager")
		pr.Out.URL.RawPath = strings.TrimPrefix(pr.In.URL.RawPath, "/pager")
	}}
	p.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/pager/") {
			p.mu.Lock()
			p.outside = append(p.outside, r.Method+" "+r.URL.RequestURI())
			p.mu.Unlock()
			http.NotFound(w, r)
			return
		}
		rp.ServeHTTP(w, r)
	})
	p.srv.Start()
	t.Cleanup(p.srv.Close)
}

// missed is what the browser asked the proxy for outside /pager/.
func (p *prefixProxy) missed() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.outside...)
}

// TestConsoleInBrowserBehindAPathPrefix: pagerd behind a proxy that
// serves it under /pager/ and strips the prefix, public_url saying so.
// In a real browser, through the proxy only: sign in through the
// identity provider (its callback under the prefix), see the list take a
// new incident in without a reload (the script polls under the prefix),
// open it, acknowledge it with the button, sign out. The browser never
// asks for anything outside /pager/, the stylesheet applies, and nothing
// is refused. The console's links, forms and redirects went to /ui/ at
// the host's root, where the proxy has nothing.
func TestConsoleInBrowserBehindAPathPrefix(t *testing.T) {
	proxy := newPrefixProxy(t)
	var h *harness
	idp := oidctest.Start(t, func() time.Time { return h.clock.Now() })
	cfg := strings.Replace(consoleConfig(t, idp.URL), `public_url: "`+harnessURL+`"`, `public_url: "`+proxy.url+`/pager"`, 1)
	h = newHarness(t, withConfig(cfg), consolePolling(100*time.Millisecond), consoleListPolling(100*time.Millisecond))
	proxy.start(t, h.url)
	idp.SignInAs("ann@example.com", true)
	ctx := browser(t)
	complaints := consoleMessages(ctx)
	base := proxy.url + "/pager"

	runIn(t, ctx, "open the console through the proxy", chromedp.Navigate(base+"/ui/incidents"), chromedp.WaitVisible(chromedp.ID("#oidc")))
	runIn(t, ctx, "sign in through the provider", chromedp.Click(chromedp.ID("#oidc")),
		chromedp.WaitVisible(`//h1[text()="Incidents"]`))
	if got := bodyText(t, ctx); !strings.Contains(got, "Ann (responder)") {
		t.Fatalf("signed in as someone else:\n%s", got)
	}
	if at := value(t, ctx, "where the browser is", chromedp.Location()); at != base+"/ui/incidents" {
		t.Errorf("after signing in the browser is at %s, want %s/ui/incidents", at, base)
	}
	styled := value(t, ctx, "check the stylesheet applies", chromedp.Evaluate[bool](
		`Array.from(document.styleSheets).some(s => s.href && s.href.endsWith("/pager/ui/static/console.css") && s.cssRules.length > 0)`))
	if !styled {
		t.Error("the console's stylesheet did not load through the proxy")
	}

	// An alert fires; the list, left open, shows it without a reload.
	id := fire(h)
	h.step(fixedNow)
	link := `a[href="/pager/ui/incidents/` + id + `"]`
	runIn(t, ctx, "see it fire without a reload", chromedp.WaitVisible(chromedp.CSS(link)))
	runIn(t, ctx, "open the incident", chromedp.Click(chromedp.CSS(link)), chromedp.WaitVisible(chromedp.ID("#pending")))
	runIn(t, ctx, "acknowledge", chromedp.Click(chromedp.ID("#ack")), chromedp.WaitVisible(chromedp.ID("#pending-none")))
	if got := bodyText(t, ctx); !strings.Contains(got, "Acknowledged: every pending page") {
		t.Errorf("after the button, the page does not say what it did:\n%s", got)
	}
	if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "ann" {
		t.Errorf("the incident after the button: %s by %q", v.Status, v.AcknowledgedBy)
	}

	runIn(t, ctx, "sign out", chromedp.Click(`//button[text()="Sign out"]`), chromedp.WaitVisible(`//p[contains(., "You are signed out")]`))
	runIn(t, ctx, "signed out, the console asks to sign in", chromedp.Navigate(base+"/ui/oncall"), chromedp.WaitVisible(chromedp.ID("#oidc")))

	if m := proxy.missed(); len(m) > 0 {
		t.Errorf("the browser asked for what is outside the proxy's /pager/: %q", m)
	}
	for _, m := range complaints() {
		t.Errorf("the browser's console: %s", m)
	}
}
