package incident

import (
	"testing"
	"time"
)

// TestLeadBudget: a service has a burst of leadBurst leads, earns leadRate
// a second back up to the burst, and a lead given back counts again; each
// service has its own.
func TestLeadBudget(t *testing.T) {
	var b leadBudget
	at := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	takes := func(service string, now time.Time, n int) int {
		got := 0
		for range n {
			if b.take(service, now) {
				got++
			}
		}
		return got
	}
	if got := takes("api", at, 30); got != leadBurst {
		t.Fatalf("a burst of 30 at once had %d leads, want %d", got, leadBurst)
	}
	if !b.take("batch", at) {
		t.Fatal("another service had no lead while api flooded")
	}
	b.giveBack("api")
	if got := takes("api", at, 2); got != 1 {
		t.Fatalf("%d leads after one was given back, want 1", got)
	}
	if got := takes("api", at.Add(time.Second), 5); got != leadRate {
		t.Fatalf("%d leads a second later, want %d", got, leadRate)
	}
	if got := takes("api", at.Add(time.Hour), 30); got != leadBurst {
		t.Fatalf("%d leads after an hour, want the burst %d, no more", got, leadBurst)
	}
	if got := takes("api", at.Add(time.Hour-time.Minute), 1); got != 0 {
		t.Fatalf("a clock that went back earned %d leads", got)
	}
}
