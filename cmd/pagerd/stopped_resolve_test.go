package main

import (
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/redistest"
)

// TestResolveThatWaitedInAStoppedReplicasSocketResolvesNothingNewer: two
// replicas on one Redis. A PagerDuty sender's resolve reached replica A's
// socket while A was stopped (SIGSTOP: a VM paused); the sender gave up on
// it, sent the resolve again to B, which resolved the incident, and then
// the alert fired again (a new incident, paging). When A resumed, it read
// the resolve it had held: stamped at its reading, after the new firing,
// it resolved the new incident, and the sender, answered, said nothing
// more (a missed page). The kernel's stamp of the request's arrival places
// it before the new firing: it resolves nothing (resolve_superseded).
func TestResolveThatWaitedInAStoppedReplicasSocketResolvesNothingNewer(t *testing.T) {
	r := redistest.Start(t)
	a := startDaemonOut(t, io.Discard, "pagerd-a", "../../configs/quickstart.yaml", freeAddr(t), "--redis-url", r.URL())
	b := startDaemonOut(t, io.Discard, "pagerd-b", "../../configs/quickstart.yaml", freeAddr(t), "--redis-url", r.URL())
	event := func(action string) string {
		return `{"routing_key":"` + demoKey + `","event_action":"` + action + `","dedup_key":"web-5xx",` +
			`"payload":{"summary":"5xx rate above 5% on web","source":"web-1","severity":"error"}}`
	}
	send := func(d *daemon, action string) (int, string) {
		resp, err := http.Post("http://"+d.addr+"/v2/enqueue", "application/json", strings.NewReader(event(action)))
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := send(b, "trigger"); code != 202 {
		t.Fatalf("trigger: %d %s", code, body)
	}
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			_ = a.cmd.Process.Signal(syscall.SIGCONT)
		}
	}()
	type answer struct {
		code int
		body string
	}
	held := make(chan answer, 1)
	go func() {
		code, body := send(a, "resolve") // waits in A's socket
		held <- answer{code, body}
	}()
	time.Sleep(200 * time.Millisecond) // the resolve reaches A's socket
	if code, body := send(b, "resolve"); code != 202 {
		t.Fatalf("resolve sent again to B: %d %s", code, body)
	}
	// Again more than the shared clock's skew (a tenth of the 30 s lease)
	// after the resolve reached A.
	time.Sleep(4 * time.Second)
	if code, body := send(b, "trigger"); code != 202 {
		t.Fatalf("the alert firing again: %d %s", code, body)
	}
	var open string
	for _, inc := range b.incidents().Incidents {
		if inc.Status == "triggered" {
			open = inc.ID
		}
	}
	if open == "" {
		t.Fatalf("no incident open after the alert fired again: %+v", b.incidents())
	}
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed = true
	var got answer
	select {
	case got = <-held:
	case <-time.After(30 * time.Second):
		t.Fatalf("the resolve A held was not answered after it resumed:\n%s", a.log())
	}
	if got.code != 202 {
		t.Fatalf("the resolve A held: %d %s, want 202 (PagerDuty's answer to an event taken)", got.code, got.body)
	}
	for _, inc := range b.incidents().Incidents {
		if inc.ID == open && inc.Status != "triggered" {
			t.Fatalf("incident %s of the alert firing again is %s after the resolve A held before it was read, want triggered:\n%s", open, inc.Status, a.log())
		}
	}
	if !strings.Contains(a.log(), "resolve received before a firing of its incident stored before it: superseded") {
		t.Fatalf("A's log does not say the resolve it held was older than the firing:\n%s", a.log())
	}
}
