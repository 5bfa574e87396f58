package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/redistest"
)

// TestFrozenReplicaKeepsItsBreakerClosed is what TestSoak found (seed
// 235915498, storm mode), made small: a replica stopped (SIGSTOP: a VM
// paused, a container frozen) for longer than the webhook's timeout while
// five pages are on their way. The receiver answers all five at once; when
// the replica resumes, their timeouts have passed (in two runs of three),
// and the five "may have been sent" failures in a row opened the circuit
// of a receiver that is healthy: the next page, of a new incident, failed
// at once ("circuit open"), and its person was never paged. The breaker
// no longer counts a failure during which the process stalled
// (notify/stall.go); the page of the incident opened after the freeze
// reaches the receiver, and the freeze is counted in
// pagerd_process_stalls_total.
func TestFrozenReplicaKeepsItsBreakerClosed(t *testing.T) {
	var mu sync.Mutex
	var got []string
	held := make(chan struct{}, 16)
	release := make(chan struct{})
	rs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct{ Incident string }
		_ = json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		got = append(got, m.Incident)
		mu.Unlock()
		held <- struct{}{}
		<-release
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rs.Close()
	cfg := fmt.Sprintf(`
api:
  tokens: [{name: ops, token: demo-api-token-change-me}]
notifiers:
  webhook: {timeout: 1s, max_attempts: 1}
  storm: {window: 0s}
users:
  - id: ann
    name: Ann
    contacts: [{channel: push, via: webhook, address: %q}]
    notification_rules:
      high: [{after: 0s, channel: push}]
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers: [{name: primary, start: 2025-01-06, members: [ann]}]
escalation_policies:
  - name: p
    levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]
services:
  - name: demo
    priority_scheme: P0-P3
    escalation_policy: p
    integrations: {alertmanager_key: %s}
`, rs.URL+"/ann", demoKey)
	path := filepath.Join(t.TempDir(), "pagerd.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r := redistest.Start(t)
	d := startDaemonOut(t, io.Discard, "pagerd", path, freeAddr(t), "--redis-url", r.URL())

	// Five incidents: their five pushes reach the receiver together.
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, body, _ := d.send(fmt.Sprintf("before-%d", i)); code != 200 {
				t.Errorf("alert %d: %d %s", i, code, body)
			}
		}()
	}
	for i := range 5 {
		select {
		case <-held:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of 5 pushes reached the receiver\n%s", i, d.log())
		}
	}
	wg.Wait()
	// The replica stops; the receiver answers; 2 s later (past the 1 s
	// timeout, well inside the 30 s lease) it goes on.
	if err := d.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	close(release)
	time.Sleep(2 * time.Second)
	if err := d.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)

	code, body, _ := d.send("after")
	if code != 200 {
		t.Fatalf("the alert after the freeze: %d %s", code, body)
	}
	var res struct{ Incidents []string }
	_ = json.Unmarshal([]byte(body), &res)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 6 {
			break
		}
		if time.Now().After(deadline) {
			_, tl := d.get("/api/v1/incidents/" + res.Incidents[0])
			var failed []string
			for _, l := range strings.Split(d.log(), "\n") {
				if strings.Contains(l, "may have been sent") || strings.Contains(l, "circuit open") {
					failed = append(failed, l)
				}
			}
			t.Fatalf("the push of the incident opened after the freeze never reached the (healthy) receiver; its incident:\n%s\nthe replica's log:\n%s",
				tl, strings.Join(failed, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The freeze is counted: an operator sees the host stopped pagerd.
	_, metrics := d.get("/metrics")
	var stalls, stalled float64
	for _, l := range strings.Split(metrics, "\n") {
		_, _ = fmt.Sscanf(l, "pagerd_process_stalls_total %g", &stalls)
		_, _ = fmt.Sscanf(l, "pagerd_process_stalled_seconds_total %g", &stalled)
	}
	if stalls < 1 || stalled < 1.5 {
		t.Fatalf("after a 2 s SIGSTOP: pagerd_process_stalls_total %v, pagerd_process_stalled_seconds_total %v; want at least 1 and 1.5", stalls, stalled)
	}
}
