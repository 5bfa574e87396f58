package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestArrivalsStampAStopsStart: a request read while the process was
// stopped (the watch has not ticked for over a second), or within two
// seconds after such a stop, is stamped at the stop's start, as it may
// have reached the socket any time during it (the groups soak: a replica
// stopped 15 s read a firing its sender had given up on, and opened an
// incident for alerts resolved meanwhile); otherwise at its reading. A
// gap of a second or less between ticks is no stop, nor is the shared
// clock moving by a reading while the host runs on (gaps are measured on
// the host's monotonic clock). Its latest arrival is its reading. Not on
// the shared clock (zero), nothing is stamped. (A request on a connection
// the kernel did not stamp: TestArrivalOfARequestThatWaitedInTheSocket.)
func TestArrivalsStampAStopsStart(t *testing.T) {
	t0 := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	now, skew := t0, time.Duration(0)
	var logged strings.Builder
	a := newArrivals(func() time.Time {
		if now.IsZero() {
			return now
		}
		return now.Add(skew)
	}, slog.New(slog.NewTextHandler(&logged, nil)))
	a.mono = func() time.Time { return now }
	at := func(d time.Duration) { now = t0.Add(d) }
	r := httptest.NewRequest("POST", "/api/v1/alertmanager", nil)
	want := func(what string, d time.Duration) {
		t.Helper()
		if got, read := a.stamp(r); !got.Equal(t0.Add(d)) || !read.Equal(now.Add(skew)) {
			t.Fatalf("%s: stamped %v, latest %v; want %v, latest %v", what, got.Sub(t0), read.Sub(t0), d, now.Add(skew).Sub(t0))
		}
	}
	want("before the first tick", 0)
	a.ticked()
	at(900 * time.Millisecond)
	want("ticking", 900*time.Millisecond)
	a.ticked()
	at(1900 * time.Millisecond)
	a.ticked() // a gap of a second: no stop
	want("after a gap of a second", 1900*time.Millisecond)

	at(17 * time.Second) // stopped since the last tick
	want("read before the watch ticked again", 1900*time.Millisecond)
	if logged.Len() != 0 {
		t.Fatalf("logged before the watch ticked after a stop: %s", logged.String())
	}
	a.ticked()
	if l := logged.String(); strings.Count(l, "level=WARN") != 1 || !strings.Contains(l, "stopped_for=15.1s") {
		t.Fatalf("log after the stop: %q; want one warning of a stop of 15.1s", l)
	}
	at(17*time.Second + 100*time.Millisecond)
	a.ticked()
	want("within the grace after the stop", 1900*time.Millisecond)
	for d := 17200 * time.Millisecond; d <= 19100*time.Millisecond; d += 100 * time.Millisecond {
		at(d)
		a.ticked()
	}
	want("after the grace", 19*time.Second+100*time.Millisecond)

	// The shared clock moved 5 s by a reading (a re-sync after a
	// failover) while the host ran on: no stop.
	skew = 5 * time.Second
	at(19200 * time.Millisecond)
	a.ticked()
	want("after the shared clock moved", 24*time.Second+200*time.Millisecond)
	if n := strings.Count(logged.String(), "level=WARN"); n != 1 {
		t.Fatalf("%d stops logged, want the one: %s", n, logged.String())
	}
	skew = 0

	now = time.Time{}
	a.ticked()
	if got, read := a.stamp(r); !got.IsZero() || !read.IsZero() {
		t.Fatalf("not on the shared clock: stamped %v, %v, want zero", got, read)
	}
}

// TestArrivalsKernelStampAfterAStopIsNotTheEarliest: the kernel stamps a
// segment when it takes it, and a paused VM's kernel takes nothing: what
// was sent to it meanwhile (on a kept-alive connection) waits outside,
// and is stamped as the VM resumes, a moment before it is read. So a
// firing that waited through the pause, while its sender's retry was
// taken elsewhere and the group then resolved, was stamped after that
// resolve, and opened an incident for alerts that had ended, which paged
// and stayed open (the groups soak, seed 680918085, which the watch was
// made for). Read during or just after a stop the watch saw, a request
// arrived at the earliest at the stop's start, as without a stamp, and at
// the latest at the kernel's stamp (a resolve that waited in the socket
// of a stopped process: TestArrivalOfARequestThatWaitedInTheSocket).
// Away from a stop, the stamp is both.
func TestArrivalsKernelStampAfterAStopIsNotTheEarliest(t *testing.T) {
	t0 := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	now := t0
	a := newArrivals(func() time.Time { return now }, slog.New(slog.DiscardHandler))
	a.mono = func() time.Time { return now }
	const ago = 300 * time.Millisecond
	stamped := func() *http.Request {
		r := httptest.NewRequest("POST", "/api/v1/alertmanager", nil)
		return r.WithContext(context.WithValue(r.Context(), headersKey{}, time.Now().Add(-ago).UnixNano()))
	}
	want := func(what string, earliest time.Duration) {
		t.Helper()
		got, latest := a.stamp(stamped())
		// The stamp's age is read on the host's clock, a little after.
		if d := now.Sub(latest); d < ago || d > ago+time.Second {
			t.Fatalf("%s: latest %v before the reading, want the kernel's stamp, %v", what, d, ago)
		}
		if earliest < 0 {
			if !got.Equal(latest) {
				t.Fatalf("%s: earliest %v, want the kernel's stamp %v", what, got.Sub(t0), latest.Sub(t0))
			}
			return
		}
		if !got.Equal(t0.Add(earliest)) {
			t.Fatalf("%s: earliest %v, want the stop's start %v", what, got.Sub(t0), earliest)
		}
	}
	a.ticked()
	now = t0.Add(100 * time.Millisecond)
	a.ticked()
	want("ticking", -1)
	now = t0.Add(15 * time.Second) // the VM paused since the last tick
	want("read before the watch ticked again", 100*time.Millisecond)
	a.ticked()
	now = now.Add(time.Second)
	want("within the grace after the stop", 100*time.Millisecond)
	for end := now.Add(2 * time.Second); now.Before(end); now = now.Add(100 * time.Millisecond) {
		a.ticked()
	}
	want("after the grace", -1)
}

// TestArrivalsKernelStampWithinAStopIsTheArrival: a process stopped
// (SIGSTOP, starved of CPU) while its kernel ran: a request that reached
// the socket during the stop, more than a second before its end, was
// stamped by the kernel when it came, and that is its earliest arrival
// too: a firing received then, after a resolve taken elsewhere during the
// stop, is newer than that resolve (placed at the stop's start, it was
// turned down as older, and its alert paged nobody). One stamped within
// the second before the stop's end, or after it, may have waited outside
// a paused VM: its earliest is the stop's start
// (TestArrivalsKernelStampAfterAStopIsNotTheEarliest).
func TestArrivalsKernelStampWithinAStopIsTheArrival(t *testing.T) {
	t0 := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	now := t0
	a := newArrivals(func() time.Time { return now }, slog.New(slog.DiscardHandler))
	a.mono = func() time.Time { return now }
	stamped := func(ago time.Duration) *http.Request {
		r := httptest.NewRequest("POST", "/v2/enqueue", nil)
		return r.WithContext(context.WithValue(r.Context(), headersKey{}, time.Now().Add(-ago).UnixNano()))
	}
	want := func(what string, ago time.Duration, stopStart bool) {
		t.Helper()
		earliest, latest := a.stamp(stamped(ago))
		if d := now.Sub(latest); d < ago || d > ago+time.Second {
			t.Fatalf("%s: latest %v before the reading, want the kernel's stamp, %v", what, d, ago)
		}
		switch {
		case stopStart && !earliest.Equal(t0):
			t.Fatalf("%s: earliest %v, want the stop's start", what, earliest.Sub(t0))
		case !stopStart && !earliest.Equal(latest):
			t.Fatalf("%s: earliest %v, want the kernel's stamp %v", what, earliest.Sub(t0), latest.Sub(t0))
		}
	}
	a.ticked()
	now = t0.Add(15 * time.Second) // stopped since the tick at t0
	want("read before the watch ticked again, sent 10 s into the stop", 5*time.Second, false)
	want("read before the watch ticked again, sent in its last second", 500*time.Millisecond, true)
	a.ticked()
	now = now.Add(time.Second)
	want("within the grace, sent 10 s into the stop", 6*time.Second, false)
	want("within the grace, sent in the stop's last second", 1500*time.Millisecond, true)
	want("within the grace, sent after the stop", 500*time.Millisecond, true)
}
