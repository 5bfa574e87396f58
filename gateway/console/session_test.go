package console

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pagerd/pagerd/policy"
)

func TestSealedValues(t *testing.T) {
	key := policy.Secret("k-0123456789abcdef0123456789abcdef")
	tok, err := sign(key, "session", session{User: "ann", Nonce: "n", Expires: 99})
	if err != nil {
		t.Fatal(err)
	}
	var s session
	if err := open(key, "session", tok, &s); err != nil || s.User != "ann" {
		t.Fatalf("open: %v %+v", err, s)
	}
	p, m, _ := strings.Cut(tok, ".")
	forged, _ := json.Marshal(session{User: "admin", Nonce: "n", Expires: 99})
	for name, bad := range map[string]string{
		"another key's":     mustSign(t, "other-key-0123456789abcdef0123456789", "session"),
		"another purpose's": mustSign(t, string(key), "login"),
		"a changed payload": strings.TrimSuffix(p, p[len(p)-2:]) + "xx." + m,
		"a payload swapped": base64.RawURLEncoding.EncodeToString(forged) + "." + m,
		"no MAC":            p,
		"empty":             "",
	} {
		if err := open(key, "session", bad, &s); err == nil {
			t.Errorf("%s token opened", name)
		}
	}
	if err := open("", "session", tok, &s); err == nil {
		t.Error("opened with no key")
	}
}

func mustSign(t *testing.T, key, purpose string) string {
	t.Helper()
	tok, err := sign(policy.Secret(key), purpose, session{User: "ann", Nonce: "n", Expires: 99})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "/ui/",
		"/ui/incidents/1?done=ack": "/ui/incidents/1?done=ack",
		"//evil.example/ui/":       "/ui/",
		"/\\evil.example":          "/ui/",
		"https://evil.example/ui/": "/ui/",
		"/api/v1/incidents":        "/ui/",
		"/ui/\r\nSet-Cookie: x":    "/ui/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	for _, tc := range []struct {
		name, publicURL, host, origin string
		want                          bool
	}{
		{"no Origin header", "", "pagerd.example", "", true},
		{"Origin is the Host", "", "pagerd.example", "https://pagerd.example", true},
		{"foreign Origin", "", "pagerd.example", "https://evil.example", false},
		{"opaque Origin", "", "pagerd.example", "null", false},
		// Behind a proxy that rewrites Host, public_url is the console's origin.
		{"behind a proxy: public_url's origin", "https://pagerd.example.com", "127.0.0.1:8080", "https://pagerd.example.com", true},
		{"public_url with a path", "https://pagerd.example.com/pagerd/", "127.0.0.1:8080", "https://pagerd.example.com", true},
		{"public_url's default port", "https://pagerd.example.com:443", "127.0.0.1:8080", "https://pagerd.example.com", true},
		{"public_url in capitals", "https://PagerD.Example.com", "127.0.0.1:8080", "https://pagerd.example.com", true},
		{"public_url's own port", "https://pagerd.example.com:8443", "127.0.0.1:8080", "https://pagerd.example.com:8443", true},
		{"behind a proxy: foreign Origin", "https://pagerd.example.com", "127.0.0.1:8080", "https://evil.example", false},
		{"foreign Origin naming the Host", "https://pagerd.example.com", "127.0.0.1:8080", "http://127.0.0.1:8080", false},
		{"public_url's host, another scheme", "https://pagerd.example.com", "pagerd.example.com", "http://pagerd.example.com", false},
		{"public_url's host, another port", "https://pagerd.example.com", "pagerd.example.com", "https://pagerd.example.com:8443", false},
		{"opaque Origin behind a proxy", "https://pagerd.example.com", "127.0.0.1:8080", "null", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "http://"+tc.host+"/ui/logout", nil)
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			if got := sameOrigin(r, tc.publicURL); got != tc.want {
				t.Errorf("public_url %q, Host %q, Origin %q: %v, want %v", tc.publicURL, tc.host, tc.origin, got, tc.want)
			}
		})
	}
}

// TestFormsBehindProxy: with the console behind a reverse proxy that
// rewrites Host to its upstream (nginx proxy_pass http://127.0.0.1:8080),
// a form posted from server.public_url's origin is accepted, signing in
// with a password and a signed-in form alike, and one posted from another
// site is still refused.
func TestFormsBehindProxy(t *testing.T) {
	const key = "0123456789abcdef0123456789abcdef"
	hash, err := bcrypt.GenerateFromPassword([]byte("hunter2hunter2"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := policy.Parse([]byte(`server:
  public_url: https://pagerd.example.com
console:
  session_key: `+key+`
users:
  - id: ann
    email: ann@example.com
    password_hash: '`+string(hash)+`'
    contacts: [{channel: push, via: log}]
`), "c.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 9, 12, 10, 0, 0, 0, time.UTC)
	c := New(Options{Config: func() *policy.Config { return cfg }, Now: func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	sess, err := sign(cfg.Console.SessionKey, "session", session{User: "ann", Method: methodPassword, Nonce: "s",
		Expires: now.Add(time.Hour).Unix(), Bind: binding(cfg, cfg.User("ann"), methodPassword)})
	if err != nil {
		t.Fatal(err)
	}
	login, err := sign(cfg.Console.SessionKey, "login", loginState{Nonce: "l", Expires: now.Add(time.Minute).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	forms := []struct {
		name, path, cookie, token string
		form                      url.Values
	}{
		{"sign-in", "/ui/login/password", loginCookie + "=" + login, csrfToken(cfg.Console.SessionKey, "login:l"),
			url.Values{"user": {"ann"}, "password": {"hunter2hunter2"}}},
		{"sign-out", "/ui/logout", sessionCookie + "=" + sess, csrfToken(cfg.Console.SessionKey, "s"), url.Values{}},
	}
	for _, f := range forms {
		for origin, want := range map[string]int{
			"https://pagerd.example.com": http.StatusSeeOther,
			"https://evil.example":       http.StatusForbidden,
		} {
			t.Run(f.name+" from "+origin, func(t *testing.T) {
				f.form.Set("csrf", f.token)
				r := httptest.NewRequest("POST", "http://127.0.0.1:8080"+f.path, strings.NewReader(f.form.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set("Cookie", f.cookie)
				r.Header.Set("Origin", origin)
				w := httptest.NewRecorder()
				c.ServeHTTP(w, r)
				if w.Code != want {
					t.Errorf("Host %q, Origin %q: %d, want %d\n%s", r.Host, origin, w.Code, want, w.Body.String())
				}
			})
		}
	}
}

func TestCSRFToken(t *testing.T) {
	key := policy.Secret("k-0123456789abcdef0123456789abcdef")
	tok := csrfToken(key, "nonce-1")
	if !csrfOK(key, "nonce-1", tok) || csrfOK(key, "nonce-2", tok) || csrfOK(key, "nonce-1", "") || csrfOK("other", "nonce-1", tok) {
		t.Error("a CSRF token is accepted for another session or key, or refused for its own")
	}
}

func TestReadDetails(t *testing.T) {
	pd := `{"source":"pagerduty","event":{"event_action":"trigger","links":[{"href":"https://grafana.example/d/1","text":"Dashboard"},{"href":"javascript:alert(1)"}],
"client":"Datadog","client_url":"https://app.datadoghq.com/monitors/1","payload":{"summary":"s","severity":"critical","source":"db-1","custom_details":{"runbook":"https://wiki.example/rb","n":3}}}}`
	d := readDetails(json.RawMessage(pd))
	if len(d.Links) != 3 || d.Links[0].URL != "https://wiki.example/rb" || d.Links[1].Text != "Dashboard" || d.Links[2].Text != "Datadog" {
		t.Errorf("PagerDuty links %+v", d.Links)
	}
	if len(d.Alerts) != 1 || len(d.Alerts[0].Labels) != 2 || d.Alerts[0].Labels[0] != (kv{"severity", "critical"}) {
		t.Errorf("PagerDuty labels %+v", d.Alerts)
	}
	og := `{"source":"opsgenie","alert":{"message":"m","description":"disk <b>full</b>","details":{"runbook_url":"https://wiki.example/og"}},"labels":{"priority":"P1"}}`
	d = readDetails(json.RawMessage(og))
	if d.Text != "disk <b>full</b>" || len(d.Links) != 1 || len(d.Alerts) != 1 || d.Alerts[0].Labels[0] != (kv{"priority", "P1"}) {
		t.Errorf("Opsgenie details %+v", d)
	}
	if d := readDetails(json.RawMessage(`not json`)); len(d.Alerts)+len(d.Links) != 0 {
		t.Errorf("unreadable details %+v", d)
	}
}
