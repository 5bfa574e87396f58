package gateway

import (
	"os"
	"strings"
	"testing"
)

// rolesConfig is testConfig (whose ops token is an admin's) with a token
// of every role, and one without a role.
var rolesConfig = strings.Replace(testConfig, "    - {name: ops, token: "+apiToken+", role: admin}\n",
	"    - {name: ops, token: "+apiToken+", role: admin}\n"+
		"    - {name: legacy, token: no-role-token-0123}\n"+
		"    - {name: dash, token: viewer-token-0123, role: viewer}\n"+
		"    - {name: oncall, token: responder-token-0123, role: responder}\n"+
		"    - {name: root, token: admin-token-0123, role: admin}\n", 1)

// TestAPITokenRoles: a viewer reads and nothing more; a responder also acts
// on incidents; an admin also reloads and takes backups; a token without a
// role acts but neither reloads nor takes backups. A refusal is 403 and
// says which role the token has and which it needs.
func TestAPITokenRoles(t *testing.T) {
	st, _ := redisStore(t) // a store without an online backup
	h := newHarness(t, withStore(st))
	if err := os.WriteFile(h.cfg, []byte(rolesConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.d.Reload(); err != nil {
		t.Fatal(err)
	}
	if r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g1", map[string]string{"alertname": "A", "severity": "critical"}),
		"Authorization", "Bearer "+amKey); r.code != 200 {
		t.Fatalf("alert: %d %s", r.code, r.body)
	}
	id := h.list("")[0].ID
	const (
		viewer    = "viewer-token-0123"
		responder = "responder-token-0123"
		admin     = "admin-token-0123"
		none      = "no-role-token-0123"
	)
	for _, tc := range []struct {
		name, token, method, path, body string
		code                            int
		says                            []string
	}{
		{"viewer lists", viewer, "GET", "/api/v1/incidents", "", 200, nil},
		{"viewer reads one", viewer, "GET", "/api/v1/incidents/" + id, "", 200, nil},
		{"viewer asks who is on call", viewer, "GET", "/api/v1/oncall", "", 200, nil},
		{"viewer cannot acknowledge", viewer, "POST", "/api/v1/incidents/" + id + "/acknowledge", "", 403,
			[]string{`API token \"dash\" has role viewer`, "may not act on incidents", "role responder or admin", "api.tokens[].role"}},
		{"viewer cannot escalate", viewer, "POST", "/api/v1/incidents/" + id + "/escalate", "", 403, []string{"may not act on incidents"}},
		{"viewer cannot post a status", viewer, "POST", "/api/v1/incidents/" + id + "/status", `{"message":"x"}`, 403, nil},
		{"viewer cannot reload", viewer, "POST", "/-/reload", "", 403, []string{"may not administer pagerd", "role admin"}},
		{"viewer cannot take a backup", viewer, "GET", "/-/backup", "", 403, nil},
		{"responder escalates", responder, "POST", "/api/v1/incidents/" + id + "/escalate", "", 200, nil},
		{"responder cannot reload", responder, "POST", "/-/reload", "", 403, []string{`\"oncall\" has role responder`, "role admin"}},
		{"responder cannot take a backup", responder, "GET", "/-/backup", "", 403, nil},
		{"no role posts a status", none, "POST", "/api/v1/incidents/" + id + "/status", `{"message":"looking"}`, 200, nil},
		{"no role cannot reload", none, "POST", "/-/reload", "", 403, []string{`\"legacy\" has no role (a responder's powers)`, "role admin"}},
		{"no role cannot take a backup", none, "GET", "/-/backup", "", 403, nil},
		{"admin acknowledges", admin, "POST", "/api/v1/incidents/" + id + "/acknowledge", "", 200, nil},
		{"admin reloads", admin, "POST", "/-/reload", "", 200, nil},
		// Past the role check: this harness's store has no backup.
		{"admin may take a backup", admin, "GET", "/-/backup", "", 501, nil},
		{"unknown token", "nope", "GET", "/api/v1/incidents", "", 401, []string{"unknown API token"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(tc.method, tc.path, tc.body, "Authorization", "Bearer "+tc.token)
			if r.code != tc.code {
				t.Fatalf("%s %s: %d %s", tc.method, tc.path, r.code, r.body)
			}
			for _, s := range tc.says {
				if !strings.Contains(r.body, s) {
					t.Errorf("answer does not say %q: %s", s, r.body)
				}
			}
			if strings.Contains(r.body, tc.token) {
				t.Errorf("answer shows the token: %s", r.body)
			}
		})
	}
	// What the viewer was refused changed nothing; the others' actions are
	// in the timeline under their token names.
	var got incidentView
	h.api("GET", "/api/v1/incidents/"+id, "").json(t, &got)
	var actors []string
	for _, e := range got.Timeline {
		if e.Actor != "" && e.Actor != "alertmanager" {
			actors = append(actors, e.Type+":"+e.Actor)
		}
	}
	if strings.Join(actors, " ") != "escalate:api:oncall status_update:api:legacy ack:api:root" {
		t.Errorf("timeline actors %v", actors)
	}
}

// TestWrongMethodUnderAPI: a method a route does not take is 405 with
// Allow, whether or not a token came with it (not 401 or 404); a path
// that is no route is 404.
func TestWrongMethodUnderAPI(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		method, path, allow string
	}{
		{"DELETE", "/api/v1/incidents", "GET"},
		{"POST", "/api/v1/incidents", "GET"},
		{"PUT", "/api/v1/incidents/00-abc/acknowledge", "POST"},
		{"POST", "/api/v1/oncall", "GET"},
		{"GET", "/api/v1/alertmanager", "POST"},
		{"GET", "/api/v1/alertmanager/" + amKey, "POST"},
		{"GET", "/-/reload", "POST"},
	} {
		for _, tok := range []string{"", apiToken} {
			hdr := []string{}
			if tok != "" {
				hdr = []string{"Authorization", "Bearer " + tok}
			}
			r := h.do(tc.method, tc.path, "", hdr...)
			if r.code != 405 || !strings.Contains(r.hdr.Get("Allow"), tc.allow) {
				t.Errorf("%s %s (token %v): %d Allow %q %s", tc.method, tc.path, tok != "", r.code, r.hdr.Get("Allow"), r.body)
				continue
			}
			if !strings.Contains(r.body, "method "+tc.method+" is not allowed") || strings.Contains(r.body, amKey) {
				t.Errorf("%s %s: %s", tc.method, tc.path, r.body)
			}
		}
	}
	if r := h.do("GET", "/api/v1/nothing-here", "", "Authorization", "Bearer "+apiToken); r.code != 404 {
		t.Errorf("unknown path: %d %s", r.code, r.body)
	}
}
