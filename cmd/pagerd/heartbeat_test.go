package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/redistest"
)

const heartbeatConfig = "testdata/replicas/heartbeat-seconds.yaml"

// ping pings the watchdog heartbeat at d and returns when it expires, as
// pagerd answered.
func (d *daemon) ping() (time.Time, error) {
	req, _ := http.NewRequest("POST", "http://"+d.addr+"/api/v1/heartbeats/watchdog/ping", nil)
	req.Header.Set("Authorization", "Bearer "+demoKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return time.Time{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return time.Time{}, fmt.Errorf("ping: %d %s", resp.StatusCode, b)
	}
	var a struct {
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return time.Time{}, err
	}
	return a.ExpiresAt, nil
}

// TestHeartbeatStopsPagedOnceAcrossReplicas is issue 16's Done-when on the
// real binary: three `pagerd serve` replicas on one Redis, a heartbeat
// (interval 2s, grace 1s) pinged on one replica, which is then killed -9
// right after the last ping. The expiry is a job in Redis, so the
// survivors fire it: the heartbeat's incident is paged once (one incident,
// each ladder step once, through its next expiries), within its grace of
// the moment the heartbeat was due.
func TestHeartbeatStopsPagedOnceAcrossReplicas(t *testing.T) {
	r := redistest.Start(t)
	sink := &pageSink{}
	r0 := startReplica(t, sink, "r0", heartbeatConfig, "--redis-url", r.URL())
	// Pinged from the first replica's start, while the others start.
	var mu sync.Mutex
	var expires time.Time
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for {
			exp, err := r0.ping()
			if err != nil {
				done <- err
				return
			}
			mu.Lock()
			expires = exp
			mu.Unlock()
			select {
			case <-stop:
				done <- nil
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	rs := []*daemon{r0, startReplica(t, sink, "r1", heartbeatConfig, "--redis-url", r.URL()),
		startReplica(t, sink, "r2", heartbeatConfig, "--redis-url", r.URL())}
	time.Sleep(2 * time.Second)
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The replica that took the last ping dies at once.
	r0.kill9()
	mu.Lock()
	due := expires
	mu.Unlock()
	lastPing := due.Add(-3 * time.Second)
	if ps := sink.snapshot(); len(ps) > 0 {
		t.Fatalf("paged while the heartbeat was pinged:\n%s", dump(ps, lastPing))
	}
	survivors := rs[1:]

	firstPages := sink.waitFor(t, "the missed heartbeat's page", 15*time.Second, hasSteps("L1 demo push"), survivors...)
	// Watch the ladder and two more expiries (every 3s while silent).
	sink.waitFor(t, "the rest of level 1", 10*time.Second, hasSteps("L1 demo sms", "L1 demo voice"), survivors...)
	time.Sleep(3*time.Second + settle)
	ps := sink.snapshot()
	push, _ := first(firstPages, "L1 demo push")
	late := push.Time.Sub(due)
	t.Logf("last ping %s, due %s; paged by %s %v after it was due", lastPing.Format(time.RFC3339Nano), due.Format(time.RFC3339Nano), push.from,
		late.Round(time.Millisecond))
	if late < -earlySlack || late > time.Second {
		t.Errorf("paged %v after the heartbeat was due; want within its grace (1s)", late)
	}
	if !strings.Contains(push.Text, "Heartbeat watchdog missed") {
		t.Errorf("the page does not say what was missed: %s", push.Text)
	}
	n := counts(ps)
	for _, step := range []string{"L1 demo push", "L1 demo sms", "L1 demo voice"} {
		if n[step] != 1 {
			t.Errorf("%s paged %d times, want once", step, n[step])
		}
	}
	for _, p := range ps {
		if p.Incident != push.Incident {
			t.Errorf("a page for another incident: %s", p.raw)
		}
		if p.from == "r0" {
			t.Errorf("a page from the killed replica: %s", p.raw)
		}
	}
	inc := survivors[0].incident(push.Incident)
	var l incidentList
	req, _ := http.NewRequest("GET", "http://"+survivors[0].addr+"/api/v1/incidents", nil)
	req.Header.Set("Authorization", "Bearer demo-api-token-change-me")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		_ = json.NewDecoder(resp.Body).Decode(&l)
		resp.Body.Close()
	}
	if len(l.Incidents) != 1 {
		t.Errorf("%d incidents, want the heartbeat's one", len(l.Incidents))
	}
	checkStdout(t, sink)
	if t.Failed() {
		t.Logf("pages:\n%s\ntimeline:\n%s", dump(ps, due), inc)
	}
	for _, d := range survivors {
		d.stop()
	}
}
