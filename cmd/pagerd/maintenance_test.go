package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestMaintenanceCommand: pagerd maintenance add, list and rm against the
// real binary serving the quickstart config: an alert in the window opens
// an incident that pages nobody; rm ends the window and it is paged.
func TestMaintenanceCommand(t *testing.T) {
	addr := freeAddr(t)
	d := startDaemon(t, addr, "--data-dir", t.TempDir())
	server := "http://" + addr

	if _, errOut, code := pagerd(t, "maintenance", "add", "--server", server, "--service", "demo", "--for", "30m"); code != 1 ||
		!strings.Contains(errOut, "$PAGERD_API_TOKEN") {
		t.Fatalf("add without a token: exit %d, %q", code, errOut)
	}
	if _, _, code := pagerd(t, "maintenance", "add", "--service", "demo", "--for", "30m"); code != 2 {
		t.Fatalf("add without --server: exit %d, want 2", code)
	}
	t.Setenv("PAGERD_API_TOKEN", "demo-api-token-change-me")
	if _, errOut, code := pagerd(t, "maintenance", "add", "--server", server, "--for", "30m"); code != 1 || !strings.Contains(errOut, "400 Bad Request") {
		t.Fatalf("add covering nothing: exit %d, %q", code, errOut)
	}
	out, errOut, code := pagerd(t, "maintenance", "add", "--server", server, "--service", "demo", "--matcher", `severity=~"critical|warning"`,
		"--for", "30m", "--name", "failover", "--reason", "db failover", "-o", "json")
	if code != 0 {
		t.Fatalf("add: exit %d, %s", code, errOut)
	}
	var w struct {
		ID, State string
		End       time.Time
	}
	if err := json.Unmarshal([]byte(out), &w); err != nil || !strings.HasPrefix(w.ID, "mw-") || w.State != "active" {
		t.Fatalf("add -o json: %v %s", err, out)
	}
	out, _, code = pagerd(t, "maintenance", "list", "--server", server)
	if code != 0 || !strings.Contains(out, w.ID) || !strings.Contains(out, "active") || !strings.Contains(out, "services demo and {severity=~\"critical|warning\"}") ||
		!strings.Contains(out, "api:demo") || !strings.Contains(out, "failover: db failover") {
		t.Fatalf("list: exit %d:\n%s", code, out)
	}

	postAlert(t, d)
	time.Sleep(500 * time.Millisecond)
	if pages := d.pagesOut(); pages != "" {
		t.Fatalf("paged during the window:\n%s", pages)
	}
	out, errOut, code = pagerd(t, "maintenance", "rm", "--server", server, w.ID)
	if code != 0 || !strings.Contains(out, "ended") {
		t.Fatalf("rm: exit %d, %s %s", code, out, errOut)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(d.pagesOut(), `"channel":"push"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no page after the window was removed:\n%s", d.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out, _, _ := pagerd(t, "maintenance", "list", "--server", server, "--state", "active"); !strings.Contains(out, "no maintenance windows") {
		t.Errorf("list --state active after rm:\n%s", out)
	}
	if _, errOut, code := pagerd(t, "maintenance", "rm", "--server", server, "mw-nope"); code != 1 || !strings.Contains(errOut, "404") {
		t.Errorf("rm of an unknown window: exit %d, %q", code, errOut)
	}
}

func (d *daemon) pagesOut() string { d.mu.Lock(); defer d.mu.Unlock(); return d.pages.String() }
