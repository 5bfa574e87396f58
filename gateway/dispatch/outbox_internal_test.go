package dispatch

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestOutboxRetryWait: an outbox item whose try the other system asked to
// be made again later (Slack's 429 with Retry-After) waits for that, not
// for its shorter backoff, and no longer than the outbox's longest
// backoff; a failure that asks nothing waits its backoff, even when the
// wait asked for is shorter.
func TestOutboxRetryWait(t *testing.T) {
	failed := errors.New("slack conversations.history: slack rate limit exceeded")
	for _, tc := range []struct {
		attempts int
		err      error
		want     time.Duration
	}{
		{1, failed, 30 * time.Second},
		{1, RetryAfter(2*time.Minute, failed), 2 * time.Minute},
		{3, RetryAfter(time.Minute, failed), 2 * time.Minute},
		{1, fmt.Errorf("wrapped: %w", RetryAfter(5*time.Minute, failed)), 5 * time.Minute},
		{1, RetryAfter(2*time.Hour, failed), 30 * time.Minute},
		{10, failed, 30 * time.Minute},
	} {
		if got := outboxRetryWait(tc.attempts, tc.err); got != tc.want {
			t.Errorf("try %d failed with %v: wait %v, want %v", tc.attempts, tc.err, got, tc.want)
		}
		if tc.err != failed && !errors.Is(tc.err, failed) {
			t.Errorf("RetryAfter hides the failure it wraps: %v", tc.err)
		}
	}
}
