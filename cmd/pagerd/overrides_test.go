package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/redistest"
)

// TestOverrideOnOneReplicaPagesOnAnother is issue 14's done-when: an
// override made through the API of one replica (with `pagerd override
// add`) changes who is paged for an alert that arrives at another replica
// a second later. Real binaries, one Redis.
func TestOverrideOnOneReplicaPagesOnAnother(t *testing.T) {
	r := redistest.Start(t)
	sink := &pageSink{}
	r0 := startReplica(t, sink, "r0", ladderConfig, "--redis-url", r.URL())
	r1 := startReplica(t, sink, "r1", ladderConfig, "--redis-url", r.URL())
	t.Setenv("PAGERD_API_TOKEN", "demo-api-token-change-me")

	// ops takes demo's shift now, for an hour, through r0.
	out, errOut, code := pagerd(t, "override", "add", "--server", "http://"+r0.addr, "--schedule", "demo", "--tier", "primary",
		"--user", "ops", "--for", "1h", "--reason", "demo is on a plane", "-o", "json")
	if code != 0 {
		t.Fatalf("pagerd override add: exit %d: %s%s", code, errOut, logsOf([]*daemon{r0, r1}))
	}
	var made struct{ ID, User, Replaces string }
	if err := json.Unmarshal([]byte(out), &made); err != nil || made.User != "ops" || made.Replaces != "demo" {
		t.Fatalf("override add said %s (%v)", out, err)
	}

	// A second later, an alert arrives at r1.
	time.Sleep(time.Second)
	created := postAlert(t, r1)
	ps := sink.waitFor(t, "ops paged at level 1", ladderTimeout, hasSteps("L1 ops push"), r0, r1)
	for _, p := range ps {
		if p.User == "demo" {
			t.Fatalf("demo was paged although ops holds the shift:\n%s", dump(ps, created))
		}
	}
	inc := r1.incident(ps[0].Incident)
	noted := false
	for _, e := range inc.Timeline {
		if e.Type == "override" && e.User == "ops" && strings.Contains(e.Detail, made.ID) && strings.Contains(e.Detail, "instead of demo") {
			noted = true
		}
	}
	if !noted {
		t.Errorf("the timeline does not say the override changed who was paged:\n%s", inc)
	}

	// Both replicas say who is on call, and why; the CLI merges the
	// run-time overrides with --server.
	for _, d := range []*daemon{r0, r1} {
		code, body := d.get("/api/v1/oncall?schedule=demo")
		if code != 200 || !strings.Contains(body, `"user":"ops"`) || !strings.Contains(body, `"override":true`) || !strings.Contains(body, made.ID) {
			t.Errorf("%s: GET /api/v1/oncall: %d %s", d.addr, code, body)
		}
	}
	at := time.Now().UTC().Format(time.RFC3339)
	out, errOut, code = pagerd(t, "oncall", "--config", ladderConfig, "--server", "http://"+r1.addr, "--at", at, "-o", "json")
	if code != 0 || !strings.Contains(out, `"user": "ops"`) || !strings.Contains(out, `"override": true`) {
		t.Errorf("pagerd oncall --server: exit %d %s%s", code, out, errOut)
	}
	out, _, code = pagerd(t, "override", "list", "--server", "http://"+r1.addr, "--schedule", "demo")
	if code != 0 || !strings.Contains(out, made.ID) || !strings.Contains(out, "demo is on a plane") {
		t.Errorf("pagerd override list: exit %d %s", code, out)
	}
	out, errOut, code = pagerd(t, "override", "rm", "--server", "http://"+r1.addr, "--schedule", "demo", made.ID)
	// Under way for a second or two: it ends now, and its past stays.
	if code != 0 || !strings.Contains(out, "ended "+made.ID) {
		t.Errorf("pagerd override rm: exit %d %s%s", code, out, errOut)
	}
	// The other replica takes the deletion in at the nudge, within moments.
	deadline := time.Now().Add(time.Second)
	for {
		code, body := r0.get("/api/v1/oncall?schedule=demo")
		if code == 200 && strings.Contains(body, `"user":"demo"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a second after rm, r0 says %d %s", code, body)
		}
		time.Sleep(pollEvery)
	}
}

// TestOverrideListSaysWhatIsLeftOut: an override a reload left out (its
// user or tier is gone) pages nobody; `pagerd override list` says so, as
// the API's list and the console do, rather than list it like one in
// force.
func TestOverrideListSaysWhatIsLeftOut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"schedule":"s","overrides":[{"id":"ov-1","schedule":"s","tier":"primary","user":"cat",`+
			`"start":"2025-09-10T06:00:00Z","end":"2025-09-10T10:00:00Z","created_by":"api:ops","created_at":"2025-09-10T06:00:00Z",`+
			`"left_out":"user cat is no longer in the config"}]}`)
	}))
	defer srv.Close()
	t.Setenv("PAGERD_API_TOKEN", "t")
	for _, format := range []string{"text", "json"} {
		out, errOut, code := pagerd(t, "override", "list", "--server", srv.URL, "--schedule", "s", "-o", format)
		if code != 0 || !strings.Contains(out, "user cat is no longer in the config") {
			t.Errorf("-o %s: exit %d %s%s", format, code, out, errOut)
		}
	}
}

// TestOverrideAddPrintsTheWarnings: the API made the override and warns
// that its user is woken by nothing; pagerd override add prints each
// warning on stderr and exits 0 (the override is made), in text and in
// JSON, whose answer carries them too.
func TestOverrideAddPrintsTheWarnings(t *testing.T) {
	const warning = "cat's every contact is via log, which writes their pages to pagerd's output and sends them nowhere, while ann, whom they replace on primary, is paged through twilio"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"ov-1","schedule":"s","tier":"primary","user":"cat","start":"2025-09-10T06:00:00Z","end":"2025-09-10T10:00:00Z",`+
			`"created_by":"api:ops","created_at":"2025-09-10T06:00:00Z","replaces":"ann","warnings":["`+warning+`"]}`)
	}))
	defer srv.Close()
	t.Setenv("PAGERD_API_TOKEN", "t")
	for _, format := range []string{"text", "json"} {
		out, errOut, code := pagerd(t, "override", "add", "--server", srv.URL, "--schedule", "s", "--tier", "primary", "--user", "cat", "--for", "4h", "-o", format)
		if code != 0 || !strings.Contains(out, "ov-1") {
			t.Errorf("-o %s: exit %d %s%s", format, code, out, errOut)
		}
		if errOut != "pagerd override add: warning: "+warning+"\n" {
			t.Errorf("-o %s: stderr %q, want the warning", format, errOut)
		}
	}
}

// TestOverrideListSaysWhenThereAreNone: a schedule with no overrides made
// at run time gets a sentence, not a header alone, which reads as an
// answer cut short; -o json stays an empty list.
func TestOverrideListSaysWhenThereAreNone(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"schedule":"s","overrides":[]}`)
	}))
	defer srv.Close()
	t.Setenv("PAGERD_API_TOKEN", "t")
	out, errOut, code := pagerd(t, "override", "list", "--server", srv.URL, "--schedule", "s")
	if want := "no overrides made at run time in force or to come in schedule s (the config file's are not listed here: pagerd oncall shows them)\n"; code != 0 || out != want {
		t.Errorf("exit %d, %q%s; want %q", code, out, errOut, want)
	}
	out, errOut, code = pagerd(t, "override", "list", "--server", srv.URL, "--schedule", "s", "--ended")
	if want := "no overrides made at run time in schedule s (the config file's are not listed here: pagerd oncall shows them)\n"; code != 0 || out != want {
		t.Errorf("--ended: exit %d, %q%s; want %q", code, out, errOut, want)
	}
	out, _, code = pagerd(t, "override", "list", "--server", srv.URL, "--schedule", "s", "-o", "json")
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("-o json: exit %d, %q; want []", code, out)
	}
}

// TestOncallServerWarnsOfOverridesItCannotShow: pagerd oncall --server
// with a config that lacks an override's user (a checkout older than the
// server's config) cannot show the override, and says so on stderr: it
// printed demo as on call, silently, while the server paged newhire.
func TestOncallServerWarnsOfOverridesItCannotShow(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"schedule":"demo","overrides":[{"id":"ov-1","schedule":"demo","tier":"primary","user":"newhire",`+
			`"start":"2025-09-10T05:00:00Z","end":"2025-09-10T10:00:00Z","created_by":"api:ops","created_at":"2025-09-10T05:00:00Z"}]}`)
	}))
	defer srv.Close()
	t.Setenv("PAGERD_API_TOKEN", "t")
	out, errOut, code := pagerd(t, "oncall", "--config", ladderConfig, "--server", srv.URL, "--at", "2025-09-10T06:00:00Z")
	if code != 0 || !strings.Contains(out, "demo") {
		t.Fatalf("exit %d %s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "warning: override ov-1 pages newhire on primary of demo") || !strings.Contains(errOut, "user newhire is not in the config") {
		t.Errorf("stderr %q: no warning that the server pages newhire", errOut)
	}
	// One the server itself leaves out is no surprise: no warning.
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"schedule":"demo","overrides":[{"id":"ov-1","schedule":"demo","tier":"primary","user":"newhire",`+
			`"start":"2025-09-10T05:00:00Z","end":"2025-09-10T10:00:00Z","left_out":"user newhire is no longer in the config"}]}`)
	})
	if _, errOut, code := pagerd(t, "oncall", "--config", ladderConfig, "--server", srv.URL, "--at", "2025-09-10T06:00:00Z"); code != 0 || errOut != "" {
		t.Errorf("left out by the server too: exit %d, stderr %q", code, errOut)
	}
}
