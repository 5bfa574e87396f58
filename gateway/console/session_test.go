package console

import (
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

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
	for origin, want := range map[string]bool{"": true, "https://pagerd.example": true, "https://evil.example": false, "null": false} {
		r := httptest.NewRequest("POST", "https://pagerd.example/ui/logout", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if got := sameOrigin(r); got != want {
			t.Errorf("Origin %q: %v, want %v", origin, got, want)
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
