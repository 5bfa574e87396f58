package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
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
	waitStopped(t, a.cmd.Process.Pid)
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
	// The log comes through a pipe, after the answer perhaps.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(a.log(), "resolve received before a firing of its incident stored before it: superseded"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			_, m := a.get("/metrics")
			t.Fatalf("A's log does not say the resolve it held was older than the firing:\n%s\nB's log:\n%s\nA's counts: %s\nA's list: %+v", a.log(), b.log(),
				grepLines(m, `source="pagerduty"`), a.incidents())
		}
	}
}

// waitStopped waits until every thread of the process pid is stopped: a
// SIGSTOP stops them only once one of its threads takes the signal, and on
// a busy machine the others can read a request meanwhile (the first runs
// of the test above saw the held resolve read before the stop).
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			t.Fatal(err)
		}
		stopped := len(tasks) > 0
		for _, task := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
			// The state follows the command's closing parenthesis.
			if i := bytes.LastIndexByte(b, ')'); err != nil || i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
				stopped = false
				break
			}
		}
		if stopped {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d not stopped 10 s after SIGSTOP", pid)
		}
	}
}
