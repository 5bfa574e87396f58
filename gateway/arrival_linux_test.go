package gateway

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/incident"
)

// TestArrivalOfARequestThatWaitedInTheSocket: a request that reached the
// socket while this process was stopped (held here: written before the
// server reads its listener) arrived when the kernel took it, not when it
// was read: stamped at its reading, a sender's resolve that waited in the
// socket of a stopped replica, while the alert fired again elsewhere,
// resolved the newer firing's incident (a missed page). The next request
// on the connection, sent after the first's answer, is stamped at its own
// arrival, and a connection of a listener not stamped by the kernel has
// no arrival.
func TestArrivalOfARequestThatWaitedInTheSocket(t *testing.T) {
	const held = 400 * time.Millisecond
	type seen struct {
		age time.Duration
		ok  bool
	}
	stampsOn(t)
	for _, stamped := range []bool{true, false} {
		t.Run(fmt.Sprintf("stamped %v", stamped), func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan seen, 2)
			srv := &http.Server{ConnContext: withArrival, Handler: stampHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				age, ok := arrivalAge(r)
				got <- seen{age, ok}
			}))}
			t.Cleanup(func() { _ = srv.Close() })
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if stamped {
				if l, err = stampListener(l); err != nil { // connected already: in its backlog
					t.Fatal(err)
				}
			}
			sent := time.Now()
			if _, err := fmt.Fprint(c, "POST /v2/enqueue HTTP/1.1\r\nHost: pagerd\r\nContent-Length: 2\r\n\r\n{}"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(held) // the process stopped: nothing reads the socket
			go func() { _ = srv.Serve(l) }()
			first := <-got
			waited := time.Since(sent)
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			again := time.Now()
			if _, err := fmt.Fprint(c, "POST /v2/enqueue HTTP/1.1\r\nHost: pagerd\r\nContent-Length: 2\r\n\r\n{}"); err != nil {
				t.Fatal(err)
			}
			second := <-got
			if !stamped {
				if first.ok || second.ok {
					t.Fatalf("arrivals %+v, %+v on a listener the kernel did not stamp, want none", first, second)
				}
				return
			}
			if !first.ok || first.age < held || first.age > waited {
				t.Fatalf("request that waited %v in the socket (%v until read): arrived %v ago (known %v), want %v to %v", held, waited, first.age, first.ok, held, waited)
			}
			if since := time.Since(again); !second.ok || second.age > since {
				t.Fatalf("next request on the connection: arrived %v ago (known %v), want at most %v, since it was sent", second.age, second.ok, since)
			}
		})
	}
}

// stampsOn has the kernel stamp the segments it receives until t ends:
// it turns stamping on for the host lazily (a work item after the first
// socket asks) and off after the last socket that asked is closed, so a
// test that asks and sends at once may race it; a socket kept open
// through t, read until a read carries its stamp, settles it.
func stampsOn(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sl, err := stampListener(l)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sl.Close() })
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ac, err := sl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ac.Close() })
	sc, ok := ac.(*stampedConn)
	if !ok {
		t.Fatalf("accepted %T, want a *stampedConn: the kernel refused SO_TIMESTAMPNS", ac)
	}
	b := make([]byte, 1)
	for deadline := time.Now().Add(5 * time.Second); sc.arrived.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the kernel stamped no segment received in 5s with SO_TIMESTAMPNS set")
		}
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		if _, err := sc.Read(b); err != nil {
			t.Fatal(err)
		}
	}
}

// TestResolveWhoseBodyCameLateIsPlacedAtItsHeaders: a request arrived
// when its headers did, however long its body took after them (a 2 MiB
// notification on a slow link, a sender that trickles). A PagerDuty
// sender's resolve sent its headers at 0 and its body at 3s; the alert
// fired again meanwhile, its trigger received at 2s (after the resolve
// was sent, by more than the clocks' 1s skew). Admission reads an alert's
// body before its handler runs, so a stamp taken in the handler was the
// arrival of the body's last segment, 3s: after the trigger, and the
// resolve resolved the incident whose alert fires (a missed page). At
// its headers' arrival it resolves nothing (resolve_superseded).
func TestResolveWhoseBodyCameLateIsPlacedAtItsHeaders(t *testing.T) {
	stampsOn(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, onListener(l), onWall(time.Now), replicas(0), quiet(), withConfig(noStorm+"server: {lease: 10s}\n"))
	ctx, cancel := context.WithCancel(context.Background())
	served := h.run(ctx)
	t.Cleanup(func() { cancel(); <-served })
	pdEvent(t, h, "trigger")
	l0 := h.list("")
	if len(l0) != 1 {
		t.Fatalf("incidents after the trigger: %+v, want one", l0)
	}
	id := l0[0].ID

	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := pdEventBody("resolve", "k")
	if _, err := fmt.Fprintf(c, "POST /v2/enqueue HTTP/1.1\r\nHost: pagerd\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	pdEvent(t, h, "trigger") // the alert fires again: a repeat
	time.Sleep(time.Second)
	if _, err := fmt.Fprint(c, body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("the resolve: %d, want 202", resp.StatusCode)
	}
	if inc := h.incident(id); inc.Status != "triggered" || !h.timelineHas(id, incident.ResolveSuperseded, "") {
		t.Fatalf("incident %s is %s (%s) after a resolve whose headers came before the alert fired again, want triggered with %s",
			id, inc.Status, timelineTypes(inc), incident.ResolveSuperseded)
	}
}

// TestListenerNotStampedIsSaid: a listener whose connections the kernel
// cannot stamp (here not TCP to the server's eyes) serves all the same,
// and the log says at start that alert requests are dated when read, so
// that the weaker judgement of resolves after a stop is not silent.
func TestListenerNotStampedIsSaid(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, onListener(struct{ net.Listener }{l}), replicas(0))
	ctx, cancel := context.WithCancel(context.Background())
	served := h.run(ctx)
	t.Cleanup(func() { cancel(); <-served })
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(h.logs.String(), "alert requests are dated when read"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning that the listener is not stamped:\n%s", h.logs.String())
		}
	}
	resp, err := http.Get("http://" + l.Addr().String() + "/-/healthy")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/-/healthy on the unstamped listener: %d", resp.StatusCode)
	}
}
