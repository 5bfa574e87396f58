package notify

import (
	"context"
	"sync"
	"testing"
	"time"
)

type sink struct {
	mu   sync.Mutex
	msgs []Message
}

func (s *sink) Notify(_ context.Context, m Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	return nil
}

func TestThrottleWaitsForItsTurn(t *testing.T) {
	out := &sink{}
	th := NewThrottle(out, 20, 1) // one page every 50ms
	start := time.Now()
	for i := 0; i < 5; i++ {
		if err := th.Notify(context.Background(), Message{}); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 180*time.Millisecond {
		t.Fatalf("5 pages at 20/s took %v; the limit was not respected", d)
	}
}
