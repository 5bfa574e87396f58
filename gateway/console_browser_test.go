package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/oidctest"
	"github.com/pagerd/pagerd/policy"
)

// The web console in a real browser: headless Chromium, driven over the
// DevTools protocol. scripts/test-deps.sh installs Debian's chromium (as
// root; otherwise it says what to install), so these tests never skip:
// without a browser they fail and say what is missing.
//
// PAGERD_SCREENSHOTS=DIR (make screenshots) also saves each page at a
// phone's width and a desktop's into DIR.

// chromiumPath finds the browser: $PAGERD_CHROMIUM, else chromium on the
// PATH.
func chromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PAGERD_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("the browser tests need Chromium: apt-get install chromium (make test runs scripts/test-deps.sh, which installs it as root), or set PAGERD_CHROMIUM")
	return ""
}

// browser starts a headless Chromium with a new empty profile for the
// test, closed (the process ended) when the test ends. The flags keep it
// from reaching out on its own: without them its connections are refused
// in a sandbox without a network.
func browser(t testing.TB) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc() // ends the browser process and removes nothing else
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// run runs browser actions with a deadline, failing the test with what
// it was doing.
func runIn(t testing.TB, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, actions...); err != nil {
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		html, _ := chromedp.Run(hctx, chromedp.OuterHTML(chromedp.CSS("html")))
		t.Fatalf("%s: %v\npage:\n%s", what, err, html)
	}
}

// value runs one browser action that answers a value.
func value[T any](t testing.TB, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func bodyText(t testing.TB, ctx context.Context) string {
	t.Helper()
	return value(t, ctx, "read the page", chromedp.Text(chromedp.CSS("body")))
}

// screenshot saves the page at a phone's width and a desktop's, when
// PAGERD_SCREENSHOTS names a directory.
func screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("PAGERD_SCREENSHOTS")
	if dir == "" {
		return
	}
	for _, size := range []struct {
		name string
		w, h int64
	}{{"phone", 390, 844}, {"desktop", 1280, 900}} {
		runIn(t, ctx, "resize for "+name, chromedp.EmulateViewport(size.w, size.h))
		png := value(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%s.png", name, size.name)), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runIn(t, ctx, "back to the desktop size", chromedp.EmulateViewport(1280, 900))
}

// noHorizontalScroll checks the page fits a phone's width: nothing wider
// than the viewport (tables scroll inside their own box).
func noHorizontalScroll(t testing.TB, ctx context.Context, page string) {
	t.Helper()
	runIn(t, ctx, "resize "+page, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3)))
	widths := value(t, ctx, "measure "+page, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`))
	if len(widths) != 2 || widths[0] > widths[1] {
		t.Errorf("%s at 390px: the page is %v px wide (scroll width, viewport): it scrolls sideways", page, widths)
	}
	runIn(t, ctx, "back to the desktop size", chromedp.EmulateViewport(1280, 900))
}

// auditJS checks the page as it is drawn: every control has a label
// (a <label>, aria-label or aria-labelledby; a button its text), every
// link a text and every image an alt; every piece of text has a contrast
// against the background behind it of at least 4.5:1, or 3:1 for large
// text (WCAG 2.1 AA, 1.4.3), and every control's border at least 3:1
// against what surrounds it (1.4.11). Colours are the computed ones;
// backgrounds are found by walking up to the first opaque one.
const auditJS = `(() => {
  const out = [];
  const what = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.getAttribute("name") ? "[name=" + el.getAttribute("name") + "]" : "");
  const shown = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  for (const el of document.querySelectorAll("input, select, textarea, button")) {
    if (el.type === "hidden") continue;
    let name = el.getAttribute("aria-label") || "";
    const by = el.getAttribute("aria-labelledby");
    if (!name && by) name = by.split(/\s+/).map(id => (document.getElementById(id) || {}).textContent || "").join(" ");
    if (!name && el.labels) name = Array.from(el.labels).map(l => l.textContent).join(" ");
    if (!name && el.tagName === "BUTTON") name = el.textContent;
    if (!name.trim()) out.push("no label: " + what(el));
  }
  for (const a of document.querySelectorAll("a[href]")) {
    if (!(a.textContent.trim() || a.getAttribute("aria-label"))) out.push("a link without text: " + a.getAttribute("href"));
  }
  for (const img of document.querySelectorAll("img")) {
    if (!img.getAttribute("alt")) out.push("an image without alt: " + img.src.slice(0, 40));
  }
  const rgba = c => {
    const m = /rgba?\(([^)]*)\)/.exec(c);
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const back = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) return c;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  const over = (fg, bg) => fg.a >= 1 ? fg : {r: fg.r * fg.a + bg.r * (1 - fg.a), g: fg.g * fg.a + bg.g * (1 - fg.a), b: fg.b * fg.a + bg.b * (1 - fg.a), a: 1};
  const lum = c => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const hex = c => "#" + [c.r, c.g, c.b].map(v => Math.round(v).toString(16).padStart(2, "0")).join("");
  const done = new Set();
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || done.has(el) || el.closest("select") || !shown(el)) continue;
    done.add(el);
    const st = getComputedStyle(el);
    const bg = back(el), fg = over(rgba(st.color), bg);
    const size = parseFloat(st.fontSize), bold = parseInt(st.fontWeight, 10) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    const r = ratio(fg, bg);
    if (r < need) out.push("contrast " + r.toFixed(2) + " < " + need + " (" + hex(fg) + " on " + hex(bg) + "): " + what(el) + " " + JSON.stringify(n.textContent.trim().slice(0, 40)));
  }
  for (const el of document.querySelectorAll("input, select, textarea, button")) {
    if (el.type === "hidden" || !shown(el)) continue;
    const st = getComputedStyle(el);
    if (parseFloat(st.borderTopWidth) === 0) continue;
    const around = back(el.parentElement), border = over(rgba(st.borderTopColor), around);
    const fill = over(rgba(st.backgroundColor) || {r: 0, g: 0, b: 0, a: 0}, around);
    const r = Math.max(ratio(border, around), ratio(fill, around));
    if (r < 3) out.push("control contrast " + r.toFixed(2) + " < 3 (border " + hex(border) + " on " + hex(around) + "): " + what(el));
  }
  return out;
})()`

// accessible fails the test for what auditJS finds on the page, at a
// desktop's width and a phone's.
func accessible(t testing.TB, ctx context.Context, page string) {
	t.Helper()
	for _, w := range []int64{1280, 390} {
		runIn(t, ctx, "resize "+page, chromedp.EmulateViewport(w, 900))
		for _, p := range value(t, ctx, "audit "+page, chromedp.Evaluate[[]string](auditJS)) {
			t.Errorf("%s at %dpx: %s", page, w, p)
		}
	}
	runIn(t, ctx, "back to the desktop size", chromedp.EmulateViewport(1280, 900))
}

// consoleMessages collects what the browser reports on its console that
// a page of pagerd should never cause: script errors, and anything the
// Content-Security-Policy refused.
func consoleMessages(ctx context.Context) func() []string {
	var mu sync.Mutex
	var bad []string
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError || strings.Contains(m.Text, "Content Security Policy") {
				mu.Lock()
				bad = append(bad, fmt.Sprintf("%s (%s)", m, m.URL))
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), bad...)
	}
}

// TestConsoleInBrowser: sign in through the identity provider, see the
// incident that fired, watch its page refresh itself on news, press
// Acknowledge and see the pending SMS and call go, open who is on call
// and the schedule, add an override there and see GET /api/v1/oncall
// change; every page fits a phone.
func TestConsoleInBrowser(t *testing.T) {
	var h *harness
	idp := oidctest.Start(t, func() time.Time { return h.clock.Now() })
	h = newHarness(t, withConfig(consoleConfig(t, idp.URL)), consolePolling(200*time.Millisecond))
	idp.SignInAs("ann@example.com", true)
	ctx := browser(t)
	complaints := consoleMessages(ctx)

	// Signed out, the console sends the browser to sign in, and back.
	runIn(t, ctx, "open the console", chromedp.Navigate(h.url+"/ui/incidents"), chromedp.WaitVisible(chromedp.ID("#oidc")))
	accessible(t, ctx, "the sign-in page")
	screenshot(t, ctx, "login")
	runIn(t, ctx, "sign in through the provider", chromedp.Click(chromedp.ID("#oidc")),
		chromedp.WaitVisible(`//h1[text()="Incidents"]`))
	if got := bodyText(t, ctx); !strings.Contains(got, "Ann (responder)") {
		t.Fatalf("signed in as someone else:\n%s", got)
	}
	if idp.Issued() != 1 {
		t.Errorf("the provider issued %d ID tokens", idp.Issued())
	}

	// An alert fires; the list shows it.
	id := fire(h)
	h.step(fixedNow)
	runIn(t, ctx, "see it fire", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`a[href="/ui/incidents/`+id+`"]`)))
	if got := bodyText(t, ctx); !strings.Contains(got, "disk almost full") || !strings.Contains(got, "Paged last: Ann by push") {
		t.Errorf("the list:\n%s", got)
	}
	noHorizontalScroll(t, ctx, "the incidents")
	accessible(t, ctx, "the incidents")
	screenshot(t, ctx, "incidents")

	runIn(t, ctx, "open the incident", chromedp.Click(chromedp.CSS(`a[href="/ui/incidents/`+id+`"]`)),
		chromedp.WaitVisible(chromedp.ID("#pending")))
	if got := bodyText(t, ctx); !strings.Contains(got, "page Ann by sms") || !strings.Contains(got, "page Ann by voice") {
		t.Fatalf("the pending SMS and call are not shown:\n%s", got)
	}
	// News from elsewhere (the API) shows up without a reload.
	if r := h.api("POST", "/api/v1/incidents/"+id+"/status", `{"message":"looking into it","user":"bob"}`); r.code != 200 {
		t.Fatal(r.body)
	}
	runIn(t, ctx, "see the page refresh itself", chromedp.WaitVisible(`//li[contains(., "looking into it")]`))
	noHorizontalScroll(t, ctx, "the incident")
	accessible(t, ctx, "the incident")
	screenshot(t, ctx, "incident")

	// Acknowledge with the button: the SMS and the call are cancelled.
	runIn(t, ctx, "acknowledge", chromedp.Click(chromedp.ID("#ack")), chromedp.WaitVisible(chromedp.ID("#pending-none")))
	got := bodyText(t, ctx)
	for _, want := range []string{"Acknowledged: every pending page", "acknowledged by ann", "Acknowledged by Ann"} {
		if !strings.Contains(got, want) {
			t.Errorf("after the button, the page lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "page Ann by sms") {
		t.Errorf("the SMS is still pending:\n%s", got)
	}
	accessible(t, ctx, "the acknowledged incident")
	if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "ann" || v.NextStepAt != nil {
		t.Errorf("the incident after the button: %s by %q, next step %v", v.Status, v.AcknowledgedBy, v.NextStepAt)
	}
	h.runUntil(fixedNow.Add(10 * time.Minute))
	if pages := h.rec.lines(fixedNow); len(pages) != 1 {
		t.Errorf("pages sent: %v, want only the first push (no SMS, no call)", pages)
	}

	// Who is on call, and the schedule.
	runIn(t, ctx, "open on call", chromedp.Click(`//nav//a[text()="On call"]`), chromedp.WaitVisible(`//h1[text()="On call"]`))
	if got := bodyText(t, ctx); !strings.Contains(got, "Primary") || !strings.Contains(got, "Ann") || !strings.Contains(got, "Bob") {
		t.Errorf("on call:\n%s", got)
	}
	noHorizontalScroll(t, ctx, "on call")
	accessible(t, ctx, "on call")
	screenshot(t, ctx, "oncall")
	runIn(t, ctx, "open the calendar", chromedp.Click(chromedp.CSS(`a[href="/ui/schedules/s"]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.calendar`)))
	if got := bodyText(t, ctx); !strings.Contains(got, "Week of Mon 8 Sep 2025") || !strings.Contains(got, "override") {
		t.Errorf("the calendar:\n%s", got)
	}
	noHorizontalScroll(t, ctx, "the schedule")

	// Add an override with the schedule page's form: GET /api/v1/oncall
	// answers with it at once.
	runIn(t, ctx, "add an override", chromedp.SetValue(chromedp.ID("ovr-user"), "bob"),
		chromedp.SetValue(chromedp.ID("ovr-reason"), "covering for Ann"),
		chromedp.Click(chromedp.ID("ovr-add")), chromedp.WaitVisible(`//p[contains(., "Override made: Bob holds primary")]`))
	var oncall struct {
		OnCall []struct {
			Tier, User, Reason string
			Override           bool
		} `json:"oncall"`
	}
	h.api("GET", "/api/v1/oncall?schedule=s", "").json(t, &oncall)
	if len(oncall.OnCall) == 0 || oncall.OnCall[0].User != "bob" || !oncall.OnCall[0].Override || oncall.OnCall[0].Reason != "covering for Ann" {
		t.Errorf("GET /api/v1/oncall after the form: %+v, want bob on primary by override", oncall.OnCall)
	}
	accessible(t, ctx, "the schedule")
	screenshot(t, ctx, "schedule")

	runIn(t, ctx, "open reports", chromedp.Navigate(h.url+"/ui/reports?from=2025-09-01&to=2025-09-15"),
		chromedp.WaitVisible(chromedp.CSS(`.charts img`)))
	loaded := value(t, ctx, "check the charts drew", chromedp.Evaluate[bool](`Array.from(document.querySelectorAll(".charts img")).every(i => i.complete && i.naturalWidth > 0)`))
	if !loaded {
		t.Error("the report's charts did not load (the CSP must allow data: images)")
	}
	noHorizontalScroll(t, ctx, "reports")
	accessible(t, ctx, "reports")
	screenshot(t, ctx, "reports")

	// Sign out.
	runIn(t, ctx, "sign out", chromedp.Click(`//button[text()="Sign out"]`), chromedp.WaitVisible(`//p[contains(., "You are signed out")]`))
	accessible(t, ctx, "the sign-in page after signing out")

	for _, m := range complaints() {
		t.Errorf("the browser's console: %s", m)
	}
}

// versionAsks counts the incident page script's requests for an
// incident's version, by the answer's status.
type versionAsks struct {
	mu   sync.Mutex
	byID map[string][]int // statuses, in order
}

func (v *versionAsks) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := strings.CutPrefix(r.URL.Path, "/ui/incidents/")
		if id, isVersion := strings.CutSuffix(id, "/version"); ok && isVersion {
			sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
			next.ServeHTTP(sw, r)
			v.mu.Lock()
			v.byID[id] = append(v.byID[id], sw.code)
			v.mu.Unlock()
			return
		}
		next.ServeHTTP(w, r)
	})
}

// answered is the statuses of the asks about id so far.
func (v *versionAsks) answered(id string) []int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]int(nil), v.byID[id]...)
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// signedInBrowser is a daemon on the console's config with opts, and a
// headless Chromium signed in to it as ann through the identity provider,
// on the incident list.
func signedInBrowser(t *testing.T, opts ...option) (*harness, context.Context) {
	t.Helper()
	var h *harness
	idp := oidctest.Start(t, func() time.Time { return h.clock.Now() })
	h = newHarness(t, append([]option{withConfig(consoleConfig(t, idp.URL))}, opts...)...)
	idp.SignInAs("ann@example.com", true)
	ctx := browser(t)
	runIn(t, ctx, "sign in", chromedp.Navigate(h.url+"/ui/incidents"), chromedp.WaitVisible(chromedp.ID("#oidc")),
		chromedp.Click(chromedp.ID("#oidc")), chromedp.WaitVisible(`//h1[text()="Incidents"]`))
	return h, ctx
}

// TestConsoleInBrowserStopsAskingAboutAGoneIncident: the incident page's
// script asks for the incident's version every interval; once the
// incident is gone (expired by retention) and the server answers 404, it
// asks no more, however long the page stays open.
func TestConsoleInBrowserStopsAskingAboutAGoneIncident(t *testing.T) {
	const every = 50 * time.Millisecond
	asks := &versionAsks{byID: map[string][]int{}}
	h, ctx := signedInBrowser(t, consolePolling(every), serving(asks.wrap))

	// A resolved incident, so its version no longer moves (a change
	// reloads the page) and retention may remove it.
	id := fire(h)
	if r := h.api("POST", "/api/v1/incidents/"+id+"/resolve", ""); r.code != 200 {
		t.Fatal(r.body)
	}
	h.step(fixedNow) // PagerDuty told of the resolve: nothing more to do
	runIn(t, ctx, "open the incident", chromedp.Navigate(h.url+"/ui/incidents/"+id), chromedp.WaitVisible(chromedp.ID("#pending-none")))
	waitUntil(t, 5*time.Second, "the page to ask for the version twice", func() bool { return len(asks.answered(id)) >= 2 })

	n, _, err := h.store.Expire(context.Background(), fixedNow.AddDate(1, 0, 0), 10)
	if err != nil || n != 1 {
		t.Fatalf("expire the incident: %d %v", n, err)
	}
	waitUntil(t, 5*time.Second, "the page to be told the incident is gone", func() bool {
		a := asks.answered(id)
		return len(a) > 0 && a[len(a)-1] == http.StatusNotFound
	})
	gone := asks.answered(id)
	// Ten intervals: a script that kept asking would ask about ten times.
	time.Sleep(10 * every)
	if after := asks.answered(id); len(after) != len(gone) {
		t.Fatalf("the page asked %d more times after the 404 (answers %v)", len(after)-len(gone), after)
	}
	for i, code := range gone[:len(gone)-1] {
		if code != http.StatusOK {
			t.Errorf("ask %d about the incident was answered %d, want 200 before it was gone", i+1, code)
		}
	}
}

// TestConsoleInBrowserSaysWhatTheButtonDid: the incident page polls its
// version, and the acknowledgement its button sends changes it. A poll
// answered while the button's answer is on its way (held back here for
// half a second, the acknowledgement already stored) must not reload the
// page over it: the person would see the incident acknowledged but not
// the page saying what their button did.
func TestConsoleInBrowserSaysWhatTheButtonDid(t *testing.T) {
	const every = 50 * time.Millisecond
	slowAck := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/acknowledge") || !strings.HasPrefix(r.URL.Path, "/ui/") {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			time.Sleep(10 * every) // the store has it; the answer is late
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
		})
	}
	h, ctx := signedInBrowser(t, consolePolling(every), serving(slowAck))
	id := fire(h)
	h.step(fixedNow)
	runIn(t, ctx, "open the incident", chromedp.Navigate(h.url+"/ui/incidents/"+id), chromedp.WaitVisible(chromedp.ID("#ack")))
	runIn(t, ctx, "acknowledge", chromedp.Click(chromedp.ID("#ack")), chromedp.WaitVisible(chromedp.ID("#pending-none")))
	// Long enough for the answer to the button to arrive, if the page is
	// still waiting for it.
	time.Sleep(20 * every)
	if got := bodyText(t, ctx); !strings.Contains(got, "Acknowledged: every pending page") {
		t.Errorf("after the button, the page does not say what it did:\n%s", got)
	}
}

// listAsks counts the incident list script's requests for the list's
// version, answered 200.
type listAsks struct{ n atomic.Int32 }

func (a *listAsks) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ui/incidents/version" {
			next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		if sw.code == http.StatusOK {
			a.n.Add(1)
		}
	})
}

// TestConsoleInBrowserListShowsNews: someone keeps the incident list
// open (the NOC screen), filtered to the open incidents, the focus on a
// row. An alert that fires meanwhile, and an acknowledgement made
// elsewhere, show up in it without anyone reloading it: the list is put
// in place anew, and the page itself, its filters and the focus stay as
// they were. A filter changed and not yet applied holds the list still
// until it is put back, and an alert line says news waits (the screen
// looked up to date).
func TestConsoleInBrowserListShowsNews(t *testing.T) {
	const every = 50 * time.Millisecond
	asks := &listAsks{}
	h, ctx := signedInBrowser(t, consolePolling(every), consoleListPolling(every), serving(asks.wrap))
	complaints := consoleMessages(ctx)
	link := func(id string) string { return `a[href="/ui/incidents/` + id + `"]` }
	first := fire(h)
	h.step(fixedNow)
	runIn(t, ctx, "open the list of open incidents", chromedp.Navigate(h.url+"/ui/incidents?status=open"),
		chromedp.WaitVisible(chromedp.CSS(link(first))), chromedp.Focus(chromedp.CSS(link(first))))
	runIn(t, ctx, "mark the page", chromedp.Evaluate[chromedp.Void](`window.pagerdTestMark = 1`))

	// A new alert through the webhook, paged.
	second := fireLabels(h, "g2", map[string]string{"alertname": "B", "severity": "critical"})
	h.step(fixedNow)
	runIn(t, ctx, "see the new incident in the list", chromedp.WaitVisible(chromedp.CSS(link(second))))
	// Acknowledged through the API: it moves to the acknowledged ones.
	if r := h.api("POST", "/api/v1/incidents/"+first+"/acknowledge", `{"user":"bob"}`); r.code != 200 {
		t.Fatal(r.body)
	}
	runIn(t, ctx, "see the acknowledgement in the list",
		chromedp.WaitVisible(`//section[@aria-labelledby="g-acknowledged"]//a[@href="/ui/incidents/`+first+`"]`))
	if !value(t, ctx, "check the page was not reloaded", chromedp.Evaluate[bool](`window.pagerdTestMark === 1`)) {
		t.Errorf("the page was reloaded")
	}
	if got := value(t, ctx, "read the address", chromedp.Location()); !strings.HasSuffix(got, "/ui/incidents?status=open") {
		t.Errorf("the page is at %s, want the filters kept", got)
	}
	if got := value(t, ctx, "read the filter", chromedp.Evaluate[string](`document.querySelector("select[name=status]").value`)); got != "open" {
		t.Errorf("the status filter shows %q, want open", got)
	}
	if got := value(t, ctx, "read the focus", chromedp.Evaluate[string](`document.activeElement.getAttribute("href") || document.activeElement.tagName`)); got != "/ui/incidents/"+first {
		t.Errorf("the focus is on %s, want the row it was on", got)
	}
	if got := bodyText(t, ctx); !strings.Contains(got, "Paged last: Ann by push") {
		t.Errorf("the list made anew lacks who was paged:\n%s", got)
	}

	// Someone changes a filter and has not applied it yet: the list
	// stays as it is, whatever fires, for as long as the script asks.
	setFilterFocusing(t, ctx, "change a filter", "since", "1h", link(second))
	third := fireLabels(h, "g3", map[string]string{"alertname": "C", "severity": "critical"})
	asked := asks.n.Load()
	waitUntil(t, 5*time.Second, "the list to ask for its version three times", func() bool { return asks.n.Load() >= asked+3 })
	if n := value(t, ctx, "look for the third", chromedp.Evaluate[int](`document.querySelectorAll('`+link(third)+`').length`)); n != 0 {
		t.Errorf("the list was refreshed while a filter was being changed")
	}
	// Held, the list says so: a screen left so looked up to date.
	const held = "The incidents have changed since this list was shown: apply the filters, or put them back, to see them."
	if got := value(t, ctx, "read the alert", chromedp.Text(chromedp.ID("#stale"))); got != held {
		t.Errorf("the list held for a filter says %q, want %q", got, held)
	}
	accessible(t, ctx, "the list held for a filter")
	setFilterFocusing(t, ctx, "put the filter back", "since", "7d", link(second))
	runIn(t, ctx, "see the third incident in the list", chromedp.WaitVisible(chromedp.CSS(link(third))))
	runIn(t, ctx, "see the alert go", chromedp.WaitNotPresent(chromedp.ID("#stale")))
	accessible(t, ctx, "the list refreshed")
	for _, m := range complaints() {
		t.Errorf("the browser's console: %s", m)
	}
}

// setFilterFocusing sets the list's filter name to v, as chromedp's
// SetValue does (the value, no event), and focuses the element focus
// selects, in the page's own script: the list the console swaps in while
// the test acts sends the browser's DOM events, and chromedp's element
// actions then failed now and then on a node id it had just read
// ("Could not find node with given id").
func setFilterFocusing(t *testing.T, ctx context.Context, what, name, v, focus string) {
	t.Helper()
	js := fmt.Sprintf(`(function(){var s=document.querySelector(%q);var f=document.querySelector(%q);if(!s||!f){return false}s.value=%q;f.focus();return s.value===%q})()`,
		"select[name="+name+"]", focus, v, v)
	if !value(t, ctx, what, chromedp.Evaluate[bool](js)) {
		t.Fatalf("%s: no select %q holding %q, or nothing at %s to focus", what, name, v, focus)
	}
}

// TestConsoleInBrowserListNotHeldByAFocusedFilter: someone on the NOC
// screen clicks a filter of the incident list and picks the value it
// already had (or opens it and presses Escape), and walks away: the
// select keeps the focus, nothing was changed, and the list held itself
// still for as long as the focus stayed, with no line saying it was out
// of date: new incidents never showed. The list is put in place without
// touching the filters form, so a field focused, unchanged, holds
// nothing; a filter changed and not applied still does.
func TestConsoleInBrowserListNotHeldByAFocusedFilter(t *testing.T) {
	const every = 50 * time.Millisecond
	asks := &listAsks{}
	h, ctx := signedInBrowser(t, consolePolling(every), consoleListPolling(every), serving(asks.wrap))
	link := func(id string) string { return `a[href="/ui/incidents/` + id + `"]` }
	first := fire(h)
	h.step(fixedNow)
	runIn(t, ctx, "open the list, a filter focused", chromedp.Navigate(h.url+"/ui/incidents?status=open"),
		chromedp.WaitVisible(chromedp.CSS(link(first))), chromedp.Focus(chromedp.CSS("select[name=status]")))
	second := fireLabels(h, "g2", map[string]string{"alertname": "B", "severity": "critical"})
	h.step(fixedNow)
	asked := asks.n.Load()
	waitUntil(t, 5*time.Second, "the list to ask for its version three times", func() bool { return asks.n.Load() >= asked+3 })
	if n := value(t, ctx, "look for the new incident", chromedp.Evaluate[int](`document.querySelectorAll('`+link(second)+`').length`)); n != 1 {
		t.Errorf("the list was not refreshed while an unchanged filter had the focus")
	}
	if got := value(t, ctx, "read the focus", chromedp.Evaluate[string](`document.activeElement.getAttribute("name") || document.activeElement.tagName`)); got != "status" {
		t.Errorf("the focus is on %s, want the filter it was on", got)
	}
}

// TestConsoleInBrowserIncidentHeldForAnUpdateSaysSo: someone is writing a
// status update on an incident's page when a colleague acknowledges it
// elsewhere. The page does not reload under their typing, and said
// nothing: they sent an update on an incident they thought nobody had.
// An alert line says the incident changed; cleared, the page reloads.
func TestConsoleInBrowserIncidentHeldForAnUpdateSaysSo(t *testing.T) {
	const every = 50 * time.Millisecond
	asks := &versionAsks{byID: map[string][]int{}}
	h, ctx := signedInBrowser(t, consolePolling(every), serving(asks.wrap))
	id := fire(h)
	h.step(fixedNow)
	runIn(t, ctx, "open the incident and write", chromedp.Navigate(h.url+"/ui/incidents/"+id), chromedp.WaitVisible(chromedp.ID("#pending")),
		chromedp.SendKeys(chromedp.ID("#message"), "rolling back"))
	runIn(t, ctx, "mark the page", chromedp.Evaluate[chromedp.Void](`window.pagerdTestMark = 1`))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"bob"}`); r.code != 200 {
		t.Fatal(r.body)
	}
	runIn(t, ctx, "see the page say so", chromedp.WaitVisible(`//main/p[@role="alert"][@id="stale"]`))
	const says = "The incident has changed since this page was shown: it refreshes once you send, clear or leave the form you are in."
	if got := value(t, ctx, "read the alert", chromedp.Text(chromedp.ID("#stale"))); got != says {
		t.Errorf("the page says %q, want %q", got, says)
	}
	if !value(t, ctx, "check the page was not reloaded", chromedp.Evaluate[bool](`window.pagerdTestMark === 1 && document.getElementById("message").value === "rolling back"`)) {
		t.Errorf("the page was reloaded under the update being written")
	}
	accessible(t, ctx, "the incident held for an update")
	runIn(t, ctx, "clear the update", chromedp.Evaluate[chromedp.Void](`document.getElementById("message").value = ""; document.getElementById("message").blur()`))
	// The page reloads: asking it anything while it navigates fails, so
	// wait for what only the new page shows.
	runIn(t, ctx, "see the acknowledgement", chromedp.WaitVisible(`//dd[@id="status"][contains(., "acknowledged by bob")]`))
	if got := bodyText(t, ctx); strings.Contains(got, says) || !strings.Contains(got, "acknowledged by bob") {
		t.Errorf("the reloaded page still says it is held, or not that bob acknowledged:\n%s", got)
	}
}

// TestConsoleInBrowserSaysWhenItsSessionEnded: the session of an open
// incident's page ends on the server (it expired while the page stayed
// open), so pagerd answers the page's check with a redirect to sign in.
// The page says, in an alert line, to sign in again and that it may be
// out of date, still showing the last state it read and not reloaded.
func TestConsoleInBrowserSaysWhenItsSessionEnded(t *testing.T) {
	const every = 50 * time.Millisecond
	asks := &versionAsks{byID: map[string][]int{}}
	h, ctx := signedInBrowser(t, consolePolling(every), serving(asks.wrap))
	id := fire(h)
	h.step(fixedNow)
	runIn(t, ctx, "open the incident", chromedp.Navigate(h.url+"/ui/incidents/"+id), chromedp.WaitVisible(chromedp.ID("#pending")))
	runIn(t, ctx, "mark the page", chromedp.Evaluate[chromedp.Void](`window.pagerdTestMark = 1`))
	waitUntil(t, 5*time.Second, "the page to ask for the version", func() bool { return len(asks.answered(id)) > 0 })

	h.clock.Set(fixedNow.Add(policy.DefaultSessionTTL + time.Minute))
	runIn(t, ctx, "see the page say so", chromedp.WaitVisible(`//main/p[@role="alert"][@id="stale"]`))
	a := asks.answered(id)
	if last := a[len(a)-1]; last != http.StatusSeeOther {
		t.Errorf("the ended session's check was answered %d, want %d (to sign in)", last, http.StatusSeeOther)
	}
	const says = "You are no longer signed in: sign in again (reload the page) to see the incident as it is now. This page may be out of date."
	if got := value(t, ctx, "read the alert", chromedp.Text(chromedp.ID("#stale"))); got != says {
		t.Errorf("the page says %q, want %q", got, says)
	}
	if got := bodyText(t, ctx); !strings.Contains(got, "page Ann by sms") {
		t.Errorf("the page no longer shows the last state it read:\n%s", got)
	}
	if !value(t, ctx, "check the page was not reloaded", chromedp.Evaluate[bool](`window.pagerdTestMark === 1`)) {
		t.Errorf("the page was reloaded")
	}
	accessible(t, ctx, "the incident with the session ended")
}

// getRefusing is a store whose reads of an incident fail while down is
// set, as they do while Redis is down.
type getRefusing struct {
	store.Store
	down atomic.Bool
}

func (s *getRefusing) Get(ctx context.Context, id string) (*store.Incident, error) {
	if s.down.Load() {
		return nil, fmt.Errorf("%w: redis: dial tcp 127.0.0.1:6379: connect: connection refused", store.ErrUnavailable)
	}
	return s.Store.Get(ctx, id)
}

// TestConsoleInBrowserSaysWhenItCannotTell: an open incident's page keeps
// asking for the incident's version. While the store is down (the
// version answered 503), something in front refuses the request (403,
// 400), or pagerd does not answer at all (the connection closed, or the
// request left hanging, as a frozen replica leaves it, past the page's
// timeout), the page says, in an alert line, that it may be out of date,
// rather than showing the last state as if it were current; the line
// goes once an answer comes.
func TestConsoleInBrowserSaysWhenItCannotTell(t *testing.T) {
	const every = 50 * time.Millisecond
	st := &getRefusing{Store: boltStore(t)}
	var (
		cut     atomic.Bool  // the version's requests get no answer: the connection is closed
		hang    atomic.Bool  // they get no answer: the request is left hanging
		refused atomic.Int32 // they are answered with this status by something in front of pagerd
	)
	cutting := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/version") {
				next.ServeHTTP(w, r)
				return
			}
			switch code := refused.Load(); {
			case cut.Load():
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					conn.Close()
				}
			case hang.Load():
				// Until the page gives up (or the test ends, the browser
				// closed): a bound only in case neither happens.
				select {
				case <-r.Context().Done():
				case <-time.After(30 * time.Second):
				}
			case code != 0:
				http.Error(w, http.StatusText(int(code)), int(code))
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
	h, ctx := signedInBrowser(t, withStore(st), consolePolling(every), consoleWaiting(time.Second), serving(cutting))
	complaints := consoleMessages(ctx)
	id := fire(h)
	h.step(fixedNow)
	runIn(t, ctx, "open the incident", chromedp.Navigate(h.url+"/ui/incidents/"+id), chromedp.WaitVisible(chromedp.ID("#pending")))
	// Mark this very page: a reload would lose the mark.
	runIn(t, ctx, "mark the page", chromedp.Evaluate[chromedp.Void](`window.pagerdTestMark = 1`))
	if got := bodyText(t, ctx); strings.Contains(got, "out of date") {
		t.Fatalf("the page says it may be out of date with the store up:\n%s", got)
	}

	for _, c := range []struct {
		name, says string
		fail, heal func()
	}{
		{"the store down", "The incident store is not answering: this page may be out of date.",
			func() { st.down.Store(true) }, func() { st.down.Store(false) }},
		{"no answer", "pagerd is not answering: this page may be out of date.",
			func() { cut.Store(true) }, func() { cut.Store(false) }},
		{"a refusal", "You are no longer signed in: sign in again (reload the page) to see the incident as it is now. This page may be out of date.",
			func() { refused.Store(http.StatusForbidden) }, func() { refused.Store(0) }},
		{"a bad request", "pagerd refused to say whether the incident changed (HTTP 400): this page may be out of date.",
			func() { refused.Store(http.StatusBadRequest) }, func() { refused.Store(0) }},
		{"a hung answer", "pagerd is not answering: this page may be out of date.",
			func() { hang.Store(true) }, func() { hang.Store(false) }},
	} {
		c.fail()
		runIn(t, ctx, "see the page say so with "+c.name, chromedp.WaitVisible(`//main/p[@role="alert"][@id="stale"]`))
		if got := value(t, ctx, "read the alert", chromedp.Text(chromedp.ID("#stale"))); got != c.says {
			t.Errorf("with %s the page says %q, want %q", c.name, got, c.says)
		}
		if got := bodyText(t, ctx); !strings.Contains(got, "page Ann by sms") {
			t.Errorf("with %s the page no longer shows the last state it read:\n%s", c.name, got)
		}
		accessible(t, ctx, "the incident with "+c.name)
		screenshot(t, ctx, "incident-stale-"+strings.ReplaceAll(c.name, " ", "-"))
		c.heal()
		runIn(t, ctx, "see the alert go with "+c.name+" over", chromedp.WaitNotPresent(chromedp.ID("#stale")))
		if !value(t, ctx, "check the page was not reloaded", chromedp.Evaluate[bool](`window.pagerdTestMark === 1`)) {
			t.Errorf("after %s the page was reloaded, though the incident did not change", c.name)
		}
	}

	// News after the outage still reloads the page.
	if r := h.api("POST", "/api/v1/incidents/"+id+"/status", `{"message":"back again","user":"bob"}`); r.code != 200 {
		t.Fatal(r.body)
	}
	runIn(t, ctx, "see the page refresh itself", chromedp.WaitVisible(`//li[contains(., "back again")]`))
	for _, m := range complaints() {
		// The browser logs every 503 and every closed connection as a
		// failed load: expected here. Script errors and the CSP are not.
		if !strings.Contains(m, "Failed to load resource") {
			t.Errorf("the browser's console: %s", m)
		}
	}
}
