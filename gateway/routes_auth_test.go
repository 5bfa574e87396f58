package gateway

import (
	"net/http"
	"os"
	"strings"
	"testing"
)

// publicRoutes are the routes that answer without any credential: the
// probes and metrics (Prometheus conventions), and the console, which
// authenticates its own requests (gateway/console has its tests).
var publicRoutes = map[string]bool{
	"GET /-/healthy": true, "GET /-/ready": true, "GET /metrics": true,
}

// TestEveryRouteAuthenticates walks the router: every route the server has,
// asked with no credential, is refused (never a 2xx, never a 5xx), and every
// route under /api/v1 that changes something, asked with a viewer's token,
// is 403 and changes nothing. A route added later without its middleware
// fails here.
func TestEveryRouteAuthenticates(t *testing.T) {
	h := newHarness(t)
	if err := os.WriteFile(h.cfg, []byte(rolesConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.d.Reload(); err != nil {
		t.Fatal(err)
	}
	id := fire(h)
	param := strings.NewReplacer(":id", id, ":action", "acknowledge", ":schedule", "s", ":key", "not-a-key",
		":token", "djF8eHx5fDk5OTk5OTk5OTk.AAAA", ":name", "hb", ":identifier", id, "*", "x")
	// Intake routes authenticate by integration key, provider signature
	// or signed token, never by API token.
	intake := func(path string) bool {
		for _, p := range []string{"/api/v1/alertmanager", "/api/v1/heartbeats/", "/api/v1/slack/", "/api/v1/pushover/",
			"/api/v1/twilio/", "/api/v1/pagerduty/"} {
			if strings.HasPrefix(path, p) {
				return true
			}
		}
		return false
	}
	seen := 0
	for _, rt := range h.d.server.echo.Routes() {
		key := rt.Method + " " + rt.Path
		if publicRoutes[key] || rt.Path == "/ui" || strings.HasPrefix(rt.Path, "/ui/") || rt.Method == echoRouteNotFound {
			continue
		}
		seen++
		path := param.Replace(rt.Path)
		body := ""
		if rt.Method != http.MethodGet {
			body = "{}"
		}
		t.Run(key, func(t *testing.T) {
			r := h.do(rt.Method, path, body, "Content-Type", "application/json")
			if r.code < 400 || r.code >= 500 {
				t.Errorf("without a credential: %d %s", r.code, r.body)
			}
			if rt.Method == http.MethodGet || !strings.HasPrefix(rt.Path, "/api/v1/") || intake(rt.Path) {
				return
			}
			r = h.do(rt.Method, path, body, "Content-Type", "application/json", "Authorization", "Bearer viewer-token-0123")
			if r.code != http.StatusForbidden {
				t.Errorf("with a viewer's token: %d %s", r.code, r.body)
			}
		})
	}
	if seen < 30 {
		t.Fatalf("only %d routes walked", seen)
	}
	if st := h.incident(id).Status; st != "triggered" {
		t.Fatalf("a refused request changed the incident: %s", st)
	}
}

// echoRouteNotFound is how echo lists its own catch-all routes, which are
// not the server's.
const echoRouteNotFound = "echo_route_not_found"

// TestIntegrationKeyActsOnItsServiceOnly: an integration key opens and
// resolves incidents of its own service only. A resolved notification with
// another service's key, for the same group, resolves nothing of this one.
func TestIntegrationKeyActsOnItsServiceOnly(t *testing.T) {
	h := newHarness(t)
	id := fire(h)
	resolved := amPayload("resolved", "g1", map[string]string{"alertname": "A", "severity": "critical"})
	for _, r := range []response{
		h.do("POST", "/api/v1/alertmanager", resolved, "Authorization", "Bearer batch-key-0000000000000000000000"),
		h.do("POST", "/api/v1/alertmanager/batch-key-0000000000000000000000", resolved),
	} {
		if r.code != http.StatusOK || strings.Contains(r.body, id) {
			t.Fatalf("resolved with the other service's key: %d %s", r.code, r.body)
		}
	}
	if v := h.incident(id); v.Status != "triggered" || v.Service != "api" {
		t.Fatalf("another service's key changed the incident: %s %s", v.Service, v.Status)
	}
}
