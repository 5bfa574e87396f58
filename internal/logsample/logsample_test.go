package logsample_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/logsample"
	"github.com/pagerd/pagerd/internal/logtest"
)

// second0 is a second long past: a timer armed for its end fires at once.
var second0 = time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)

func handle(t *testing.T, h slog.Handler, at time.Time, l slog.Level, msg string, attrs ...slog.Attr) {
	t.Helper()
	r := slog.NewRecord(at, l, msg, 0)
	r.AddAttrs(attrs...)
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

// counts is how many lines of each level and message buf holds, and its
// "log lines dropped" lines.
func counts(t *testing.T, buf *logtest.Buffer) (map[string]int, []map[string]any) {
	t.Helper()
	n := map[string]int{}
	var dropped []map[string]any
	for _, l := range logtest.Lines(t, buf.String()) {
		if l["msg"] == logsample.DroppedMessage {
			dropped = append(dropped, l)
			continue
		}
		n[fmt.Sprint(l["level"], " ", l["msg"])]++
	}
	return n, dropped
}

// TestAStormOfOneLineIsCutAndCounted: 250 "incident opened" lines in one
// second, with 3 errors among them, write 100 of the first and every
// error; the first line of the next second says first that 150 were
// dropped, at their level.
func TestAStormOfOneLineIsCutAndCounted(t *testing.T) {
	buf := &logtest.Buffer{}
	h := logsample.New(slog.NewJSONHandler(buf, nil), 100)
	for i := range 250 {
		at := second0.Add(time.Duration(i) * time.Millisecond)
		handle(t, h, at, slog.LevelInfo, "incident opened", slog.Int("n", i))
		if i%100 == 0 {
			handle(t, h, at, slog.LevelError, "page failed")
		}
	}
	n, dropped := counts(t, buf)
	if n["INFO incident opened"] != 100 || n["ERROR page failed"] != 3 {
		t.Fatalf("lines written %v, want 100 incident opened and 3 page failed", n)
	}
	handle(t, h, second0.Add(1200*time.Millisecond), slog.LevelInfo, "incident opened", slog.Int("n", 250))
	lines := logtest.Lines(t, buf.String())
	// The timer of second0 may have said it already; either way, once,
	// and before the next second's line.
	n, dropped = counts(t, buf)
	if len(dropped) != 1 {
		t.Fatalf("dropped lines said %d times, want once: %v", len(dropped), dropped)
	}
	d := dropped[0]
	if d["level"] != "INFO" || d["message"] != "incident opened" || d["dropped"] != 150.0 || d["written"] != 100.0 || d["second"] != "2026-12-07T08:00:00Z" {
		t.Errorf("dropped line %v, want INFO, incident opened, 150 dropped, 100 written, of 08:00:00", d)
	}
	if last := lines[len(lines)-1]; last["msg"] != "incident opened" || last["n"] != 250.0 {
		t.Errorf("the last line is %v, want the next second's incident opened, after the count", last)
	}
	if n["INFO incident opened"] != 101 {
		t.Errorf("%d incident opened lines, want 101", n["INFO incident opened"])
	}
}

// TestFlushSaysWhatNoTimerHasYet: a process that exits within the second
// of a storm says its dropped lines by Flush, once: neither the second's
// timer nor the next second's first line says them again.
func TestFlushSaysWhatNoTimerHasYet(t *testing.T) {
	buf := &logtest.Buffer{}
	h := logsample.New(slog.NewJSONHandler(buf, nil), 2)
	// An hour ahead: the second's timer does not fire in the test.
	at := time.Now().Add(time.Hour).Truncate(time.Second)
	for i := range 5 {
		handle(t, h, at.Add(time.Duration(i)*time.Millisecond), slog.LevelWarn, "page late")
	}
	if _, dropped := counts(t, buf); len(dropped) != 0 {
		t.Fatalf("dropped lines said before the second ended: %v", dropped)
	}
	logsample.Flush(h)
	_, dropped := counts(t, buf)
	if len(dropped) != 1 || dropped[0]["dropped"] != 3.0 || dropped[0]["written"] != 2.0 || dropped[0]["level"] != "WARN" {
		t.Fatalf("Flush said %v, want one line: 3 dropped, 2 written, at WARN", dropped)
	}
	handle(t, h, at.Add(time.Second), slog.LevelWarn, "page late")
	logsample.Flush(h)
	n, dropped := counts(t, buf)
	if len(dropped) != 1 {
		t.Fatalf("dropped lines said %d times, want once: %v", len(dropped), dropped)
	}
	if n["WARN page late"] != 3 {
		t.Errorf("%d page late lines written, want 3", n["WARN page late"])
	}
	logsample.Flush(slog.NewJSONHandler(buf, nil)) // not New's: nothing to say
}

// TestDroppedLinesAreSaidWhenNoLineFollows: the count of a second's
// dropped lines is written when the second ends, with no later line of the
// kind to bring it.
func TestDroppedLinesAreSaidWhenNoLineFollows(t *testing.T) {
	buf := &logtest.Buffer{}
	h := logsample.New(slog.NewJSONHandler(buf, nil), 10)
	for range 25 {
		handle(t, h, second0, slog.LevelWarn, "alert rejected")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, dropped := counts(t, buf)
		if len(dropped) == 1 {
			if d := dropped[0]; d["level"] != "WARN" || d["message"] != "alert rejected" || d["dropped"] != 15.0 {
				t.Fatalf("dropped line %v, want WARN, alert rejected, 15", d)
			}
			break
		}
		if len(dropped) > 1 || time.Now().After(deadline) {
			t.Fatalf("dropped lines said %d times, want once:\n%s", len(dropped), buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A line of the same second handled after the count was said (its
	// time read before the second ended) is counted and said again.
	handle(t, h, second0, slog.LevelWarn, "alert rejected")
	for {
		if _, dropped := counts(t, buf); len(dropped) == 2 && dropped[1]["dropped"] == 1.0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a late line's drop was not said:\n%s", buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestKindsAreCountedApart: each level and message has its own count, and
// a logger's With lines count with the logger's.
func TestKindsAreCountedApart(t *testing.T) {
	buf := &logtest.Buffer{}
	h := logsample.New(slog.NewJSONHandler(buf, nil), 5)
	with := h.WithAttrs([]slog.Attr{slog.String("component", "dispatch")})
	for range 8 {
		handle(t, h, second0, slog.LevelInfo, "x")
		handle(t, with, second0, slog.LevelInfo, "x")
		handle(t, h, second0, slog.LevelWarn, "x")
		handle(t, h, second0, slog.LevelInfo, "y")
	}
	n, _ := counts(t, buf)
	if n["INFO x"] != 5 || n["WARN x"] != 5 || n["INFO y"] != 5 {
		t.Errorf("lines %v, want 5 of each kind (INFO x with and without the attribute together)", n)
	}
	if c := strings.Count(buf.String(), `"component":"dispatch"`); c == 0 {
		t.Errorf("no line carries the With attribute:\n%s", buf.String())
	}
}

// TestZeroWritesEveryLine: 0 is every line, the handler given.
func TestZeroWritesEveryLine(t *testing.T) {
	next := slog.NewJSONHandler(&logtest.Buffer{}, nil)
	if h := logsample.New(next, 0); h != slog.Handler(next) {
		t.Errorf("New(next, 0) = %T, want next itself", h)
	}
}
