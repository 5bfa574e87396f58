// Package console is pagerd's web console under /ui/: the incidents and
// one incident with its timeline and buttons, who is on call now and
// next, each schedule's calendar for the weeks ahead, and the on-call
// reports, server-rendered with html/template so that every page reads
// without JavaScript on a phone. One small script of its own (no third
// party's) refreshes an open incident, and the incident list, when they
// change.
//
// People sign in through an OpenID Connect provider (the email it vouches
// for picks the pagerd user) or, for teams without one, with a password
// whose bcrypt hash is in their user entry. A session is a signed
// (HMAC-SHA256) cookie naming the user; their role (viewer, responder,
// admin, as API tokens have) is read from the config at every request,
// and the store keeps when they last signed out, which ends every session
// of theirs begun before (signouts.go).
// Every form carries a CSRF token derived from the session. The console
// changes nothing itself: every action goes to the incident service, as
// the signed-in user, and the timeline records them as its actor.
package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/pagerd/pagerd/gateway/history"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// Incidents is what the console needs of the incident service: reads, and
// the one entry point that changes an incident (incident.Service).
type Incidents interface {
	List(ctx context.Context, f store.Filter) ([]*store.Incident, error)
	Get(ctx context.Context, id string) (*store.Incident, error)
	Timeline(ctx context.Context, id string) ([]store.Entry, error)
	Apply(ctx context.Context, id string, ev policy.Event) (*store.Incident, []policy.Action, error)
}

// Options configure a Console.
type Options struct {
	Incidents Incidents
	// Config is the config in force (it changes on reload) with the
	// run-time overrides merged in: the one the daemon pages from, so the
	// on-call pages show who would be paged.
	Config func() *policy.Config
	// Overrides makes, lists and removes run-time overrides (the service
	// the overrides API uses); nil: the calendar is read-only.
	Overrides Overrides
	// Signouts is where sign-outs are kept (kind SignoutKind), so that
	// every replica refuses a session signed out on any of them: the
	// daemon's store. Nil: signing out only clears the browser's cookie.
	Signouts store.Docs
	// History is where the reports page reads incident history: the
	// source GET /api/v1/reports reads.
	History history.Source
	// Now is the clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
	// ClientIP is the address of the client that sent a request, which
	// password sign-in attempts are limited by: the daemon's, which
	// believes X-Forwarded-For from server.trusted_proxies only (default
	// the connection's peer).
	ClientIP func(*http.Request) string
	// HTTPClient carries the calls to the identity provider (default one
	// with a 10s timeout).
	HTTPClient *http.Client
	// PollInterval is how often an open incident's page asks whether it
	// changed (default 5s).
	PollInterval time.Duration
	// PollTimeout is how long the page waits for that answer before it
	// counts as none, and says it may be out of date (default 10s): a
	// replica that hangs must not leave the page silent. The list waits
	// as long.
	PollTimeout time.Duration
	// ListPollInterval is how often the incident list asks whether what
	// it shows changed (default 10s): each ask reads the listed
	// incidents, more than an incident page's ask reads.
	ListPollInterval time.Duration
}

// Console serves /ui/. It is safe for concurrent use.
type Console struct {
	o    Options
	log  *slog.Logger
	mux  *http.ServeMux
	oidc oidcClients

	// The password sign-in limits (limits.go).
	limitMu       sync.Mutex
	byAddress     *limiters
	byNameAddress *limiters
	byName        *limiters
	overall       *rate.Limiter

	returns  returns
	signouts signouts
}

// Path is where the console lives.
const Path = "/ui/"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Limits of a request: forms are small, and every store read is bounded.
const (
	formLimit      = 16 << 10
	requestTimeout = 10 * time.Second
	reportTimeout  = 30 * time.Second
)

// New makes the console.
func New(o Options) *Console {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Config == nil {
		// An empty config: the console is off (tests of single pages
		// need none).
		o.Config = func() *policy.Config { return &policy.Config{} }
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.PollInterval == 0 {
		o.PollInterval = 5 * time.Second
	}
	if o.PollTimeout <= 0 {
		o.PollTimeout = 10 * time.Second
	}
	if o.ListPollInterval <= 0 {
		o.ListPollInterval = 10 * time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.ClientIP == nil {
		o.ClientIP = func(r *http.Request) string { return remoteIP(r.RemoteAddr) }
	}
	c := &Console{o: o, log: o.Logger, byAddress: newLimiters(perAddress, maxLimiters),
		byNameAddress: newLimiters(perNameAddress, maxLimiters), byName: newLimiters(perName, maxLimiters), overall: overall.new()}
	c.oidc.http = o.HTTPClient
	c.signouts = signouts{docs: o.Signouts, now: o.Now, log: o.Logger}
	m := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	m.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", staticFiles(static)))
	m.HandleFunc("GET /ui/login", c.loginPage)
	m.HandleFunc("POST /ui/login/password", c.passwordLogin)
	m.HandleFunc("GET /ui/login/oidc", c.oidcStart)
	m.HandleFunc("GET /ui/login/callback", c.oidcCallback)
	m.HandleFunc("POST /ui/logout", c.signedIn(c.logout))
	m.HandleFunc("GET /ui/{$}", c.signedIn(c.incidents))
	m.HandleFunc("GET /ui/incidents", c.signedIn(c.incidents))
	m.HandleFunc("GET /ui/incidents/version", c.signedIn(c.incidentsVersion))
	m.HandleFunc("GET /ui/incidents/{id}", c.signedIn(c.incident))
	m.HandleFunc("GET /ui/incidents/{id}/version", c.signedIn(c.incidentVersion))
	m.HandleFunc("POST /ui/incidents/{id}/{action}", c.signedIn(c.act))
	m.HandleFunc("GET /ui/oncall", c.signedIn(c.onCall))
	m.HandleFunc("GET /ui/schedules/{name}", c.signedIn(c.schedule))
	m.HandleFunc("POST /ui/schedules/{name}/overrides", c.signedIn(c.addOverride))
	m.HandleFunc("POST /ui/schedules/{name}/overrides/{id}/delete", c.signedIn(c.deleteOverride))
	m.HandleFunc("GET /ui/reports", c.signedIn(c.reports))
	m.HandleFunc("/ui/", c.signedIn(func(w http.ResponseWriter, r *http.Request, _ *viewer) {
		c.fail(w, r, nil, http.StatusNotFound, "There is no such page.")
	}))
	c.mux = m
	return c
}

// ConfigLoaded is told of every config taken into use, the one at start
// first: a user missing from one config and present in the next was
// removed and added back, and the sessions issued to them before are
// refused from then on, as their removal ended them.
func (c *Console) ConfigLoaded(cfg *policy.Config) { c.returns.loaded(cfg, c.o.Now()) }

// ServeHTTP answers every request under /ui/, with the console's headers:
// a strict Content-Security-Policy (only the console's own script and
// style; no inline script, no framing, forms only to itself), no caching
// and no referrer to other sites.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	if !strings.HasPrefix(r.URL.Path, "/ui/static/") {
		h.Set("Cache-Control", "no-store")
	}
	if r.URL.Path == "/ui" {
		http.Redirect(w, r, c.public(Path), http.StatusFound)
		return
	}
	if !c.o.Config().Console.Enabled() {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintln(w, "The web console is off: set console.session_key in the config (docs/CONFIG.md, console).")
		return
	}
	timeout := requestTimeout
	if r.URL.Path == "/ui/reports" {
		timeout = reportTimeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	r.Body = http.MaxBytesReader(w, r.Body, formLimit)
	if prefix := c.o.Config().Server.PathPrefix(); prefix != "" {
		w = muxRedirects{ResponseWriter: w, prefix: prefix}
	}
	c.mux.ServeHTTP(w, r.WithContext(ctx))
}

// muxRedirects puts public_url's path in front of the redirects the
// ServeMux makes itself (a path to clean, /ui//incidents, or a slash to
// add, /ui/static), which go to pagerd's own paths: through a proxy that
// serves pagerd under that path they led out of it. The console's
// handlers redirect under it already (public).
type muxRedirects struct {
	http.ResponseWriter
	prefix string // public_url's path
}

// WriteHeader sends the answer, its Location under the prefix.
func (w muxRedirects) WriteHeader(code int) {
	h := w.Header()
	if loc := h.Get("Location"); strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") && !strings.HasPrefix(loc, w.prefix+"/ui") {
		h.Set("Location", w.prefix+loc)
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w muxRedirects) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// staticFiles serves the console's own stylesheet and script, cached for
// an hour.
func staticFiles(fsys fs.FS) http.Handler {
	fsrv := http.FileServer(http.FS(fsys))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}

// viewer is who is looking: the signed-in user, with the role the config
// gives them now.
type viewer struct {
	User *policy.User
	Role policy.Role
	// CSRF is the token the page's forms carry.
	CSRF string
	sess session
	cfg  *policy.Config
}

// CanAct reports whether the viewer may act on incidents and overrides.
func (v *viewer) CanAct() bool { return v.Role == policy.RoleResponder || v.Role == policy.RoleAdmin }

// loc is the viewer's time zone: times are shown on their clock.
func (v *viewer) loc() *time.Location { return v.User.Location() }

// signedIn requires a session: without a valid one, a GET goes to the
// sign-in page (and back here after it), anything else is refused. POSTs
// must carry the session's CSRF token and come from the console's origin
// (sameOrigin).
func (c *Console) signedIn(h func(http.ResponseWriter, *http.Request, *viewer)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := c.viewer(r)
		if err != nil {
			clearCookie(w, sessionCookie)
			if r.Method == http.MethodGet {
				// next is pagerd's own path (the proxy stripped its
				// prefix): startSession puts the prefix back.
				http.Redirect(w, r, c.public("/ui/login?next="+url.QueryEscape(r.URL.RequestURI())), http.StatusSeeOther)
				return
			}
			c.fail(w, r, nil, http.StatusUnauthorized, "You are not signed in (or your session ended): sign in again.")
			return
		}
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil {
				c.fail(w, r, v, http.StatusBadRequest, "The form could not be read.")
				return
			}
			if !sameOrigin(r, v.cfg.Server.PublicURL) || !csrfOK(v.cfg.Console.SessionKey, v.sess.Nonce, r.PostForm.Get("csrf")) {
				c.fail(w, r, v, http.StatusForbidden, "This form is out of date or did not come from pagerd: reload the page and try again.")
				return
			}
		}
		h(w, r, v)
	}
}

// viewer reads and checks the session cookie against the config in force.
func (c *Console) viewer(r *http.Request) (*viewer, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, err
	}
	cfg := c.o.Config()
	key := cfg.Console.SessionKey
	var s session
	if err := open(key, "session", ck.Value, &s); err != nil {
		return nil, err
	}
	if !c.o.Now().Before(time.Unix(s.Expires, 0)) {
		return nil, errBadToken
	}
	u := cfg.User(s.User)
	if u == nil || c.returns.issuedBeforeReturn(s.User, time.Unix(0, s.Issued)) {
		// Removed from the config, or removed and added back since.
		return nil, errBadToken
	}
	if c.signouts.ended(r.Context(), s.User, s.Issued) {
		return nil, errBadToken
	}
	// A changed or removed password, email or subject ends the sessions
	// it opened, and so does turning the way they signed in off.
	switch s.Method {
	case methodPassword:
		if u.PasswordHash == "" {
			return nil, errBadToken
		}
	case methodOIDC:
		// A user given a subject signs in by it only (errPinned): the
		// sessions their email opened before end with it.
		if cfg.Console.OIDC == nil || u.Email == "" || u.OIDCSubject != "" {
			return nil, errBadToken
		}
	case methodOIDCSubject:
		if cfg.Console.OIDC == nil || u.OIDCSubject == "" {
			return nil, errBadToken
		}
	default:
		return nil, errBadToken
	}
	if !hmacEqual(s.Bind, binding(cfg, u, s.Method)) {
		return nil, errBadToken
	}
	return &viewer{User: u, Role: u.ConsoleRole(), CSRF: csrfToken(key, s.Nonce), sess: s, cfg: cfg}, nil
}

// public is where the browser reaches pagerd's path p: under
// server.public_url's path, when pagerd is behind a proxy that serves it
// under a prefix and strips it. pagerd serves the console at /ui/ either
// way; every URL a page or a redirect gives the browser goes through here
// (or page.UI), or it leads out of pagerd, to /ui/ at the host's root.
func (c *Console) public(p string) string { return c.o.Config().Server.PathPrefix() + p }

// page is what every page's layout needs.
type page struct {
	Title string
	// UI is where the browser reaches the console, without the trailing
	// slash: /ui, or under public_url's path (public). Every link, form
	// and asset of the templates starts with it; render sets it.
	UI string
	// Nav is the section the page belongs to, for the menu.
	Nav    string
	Viewer *viewer
	// Refresh, when set, is the URL the page's script polls for a
	// version; Version is the one shown.
	Refresh string
	Version string
	// Swap, when set, is the id of the element the script replaces with
	// the page's new one when the version moves on, where it otherwise
	// reloads the page: the list keeps its filters form (maybe being
	// changed), focus and scroll position.
	Swap string
	// PollMS is how often the script polls (default the incident page's
	// interval), and PollTimeoutMS how long it waits for an answer, in
	// milliseconds.
	PollMS, PollTimeoutMS int64
	Message               string
	Error                 string
	Body                  any
}

var templates = template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html"))

// render writes a page. It is made in full before the status goes out,
// so a template that fails halfway is a 500, not a cut-off page with the
// status meant for a whole one.
func (c *Console) render(w http.ResponseWriter, code int, name string, p page) {
	if p.PollMS == 0 {
		p.PollMS = c.o.PollInterval.Milliseconds()
	}
	p.PollTimeoutMS = c.o.PollTimeout.Milliseconds()
	p.UI = c.public(strings.TrimSuffix(Path, "/"))
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, p); err != nil {
		c.log.Error("console: page not rendered", "page", name, "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("The page could not be made; the log has the details.\n"))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = b.WriteTo(w)
}

// fail answers with an error page, never with internals: store outages
// say to retry, everything else says what to do.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, v *viewer, code int, msg string) {
	c.render(w, code, "error.html", page{Title: http.StatusText(code), Viewer: v, Error: msg})
}

// failErr answers an error of the incident service or the store.
func (c *Console) failErr(w http.ResponseWriter, r *http.Request, v *viewer, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.fail(w, r, v, http.StatusNotFound, "No such incident: it may have been expired by retention.")
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		c.log.Error("console: store unavailable", "path", r.URL.Path, "err", err)
		c.fail(w, r, v, http.StatusServiceUnavailable, "The incident store did not answer in time: try again in a few seconds.")
	default:
		c.log.Error("console: request failed", "path", r.URL.Path, "err", err)
		c.fail(w, r, v, http.StatusInternalServerError, "Something went wrong; the log has the details.")
	}
}
