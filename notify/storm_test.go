package notify

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

type sink struct {
	mu   sync.Mutex
	msgs []Message
	at   []time.Time
}

func (s *sink) Notify(_ context.Context, m Message) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	s.at = append(s.at, time.Now())
	return false, nil
}

// TestBundlerStorm: twenty pages to one person on one channel in a burst
// become three sent at once and one message carrying the other seventeen;
// another person's first page in the middle of it goes out at once.
func TestBundlerStorm(t *testing.T) {
	out := &sink{}
	b := NewBundler(out, 200*time.Millisecond, 3)
	var wg sync.WaitGroup
	reports := make([]*Report, 20)
	start := time.Now()
	for i := 0; i < 20; i++ {
		reports[i] = &Report{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			m := Message{User: "ann", Channel: "push", Text: fmt.Sprintf("page %d", i), Report: reports[i]}
			if _, err := b.Notify(context.Background(), m); err != nil {
				t.Error(err)
			}
		}(i)
	}
	time.Sleep(20 * time.Millisecond) // let the burst land in the window
	bobStart := time.Now()
	if _, err := b.Notify(context.Background(), Message{User: "bob", Channel: "push", Text: "bob's page"}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(bobStart); d > 50*time.Millisecond {
		t.Fatalf("bob's first page waited %v for ann's storm", d)
	}
	wg.Wait()
	out.mu.Lock()
	defer out.mu.Unlock()
	var annSingles, annBundles int
	for i, m := range out.msgs {
		switch {
		case m.User == "ann" && strings.HasPrefix(m.Text, "17 pages: "):
			annBundles++
			if d := out.at[i].Sub(start); d < 150*time.Millisecond {
				t.Errorf("the bundle went out after %v, before its window closed", d)
			}
		case m.User == "ann":
			annSingles++
		}
	}
	if annSingles != 3 || annBundles != 1 || len(out.msgs) != 5 {
		t.Fatalf("%d single pages and %d bundles to ann, %d messages in all: %+v", annSingles, annBundles, len(out.msgs), out.msgs)
	}
	bundled := 0
	for _, r := range reports {
		if r.Bundled == 17 {
			bundled++
		}
	}
	if bundled != 17 {
		t.Fatalf("%d pages report being bundled, want 17", bundled)
	}
	// After a quiet window, pages go out at once again.
	time.Sleep(450 * time.Millisecond)
	before := len(out.msgs)
	out.mu.Unlock()
	_, _ = b.Notify(context.Background(), Message{User: "ann", Channel: "push", Text: "later"})
	out.mu.Lock()
	if len(out.msgs) != before+1 {
		t.Fatal("a page after the storm was held")
	}
}

func TestBundlerOff(t *testing.T) {
	out := &sink{}
	b := NewBundler(out, 0, 1)
	for i := 0; i < 5; i++ {
		_, _ = b.Notify(context.Background(), Message{User: "ann", Channel: "sms"})
	}
	if len(out.msgs) != 5 {
		t.Fatalf("%d messages", len(out.msgs))
	}
}

func TestThrottleWaitsForItsTurn(t *testing.T) {
	out := &sink{}
	th := NewThrottle(out, 20, 1) // one page every 50ms
	start := time.Now()
	for i := 0; i < 5; i++ {
		if _, err := th.Notify(context.Background(), Message{}); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 180*time.Millisecond {
		t.Fatalf("5 pages at 20/s took %v; the limit was not respected", d)
	}
}
