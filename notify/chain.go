package notify

import "time"

// ChainOptions say how Chain wraps a transport.
type ChainOptions struct {
	// Attempts is how many tries a page gets (1: no retry), RetryBase the
	// first backoff between them (default 500ms, doubling, with jitter).
	Attempts  int
	RetryBase time.Duration
	// PerSecond and Burst are the provider's rate limit (PerSecond 0: none),
	// Concurrency how many pages may be in flight to it at once (0: no cap).
	PerSecond   float64
	Burst       int
	Concurrency int
	// BreakerFailures is how many pages in a row must fail in a way worth
	// retrying before the circuit opens (0: no breaker), and
	// BreakerCooldown how long it then stays open.
	BreakerFailures int
	BreakerCooldown time.Duration
	// BreakerByAddress gives each address its own circuit: PagerDuty's,
	// whose routing keys are each a service of its own, rate limited on
	// its own.
	BreakerByAddress bool
	// BreakerWatch is told of the breaker's circuits opening and closing
	// and of failures it did not count for a stall (nil: nobody).
	BreakerWatch BreakerWatch
	// Now is the rate limit's clock (default time.Now): the daemon's, so
	// that a page sent back for its turn (ErrOverRateLimit) and due again
	// then finds its turn come.
	Now func() time.Time
}

// DefaultChainOptions are the daemon's defaults for a transport.
var DefaultChainOptions = ChainOptions{Attempts: 3, BreakerFailures: 5, BreakerCooldown: 30 * time.Second}

// Chain wraps a transport the way the daemon sends: capped to the
// provider's concurrency, throttled to its rate, retried, behind a circuit
// breaker. The breaker is outermost and sees each page's final error,
// temporary or not (the retrier keeps it as it was), so it counts pages
// that failed after their retries; a page whose turn at the rate limit is
// too far off for its deadline ends with ErrOverRateLimit, which neither
// the retrier nor the breaker counts. Alert-storm bundling is not a link
// of the chain: the dispatcher does it on state in the store, shared by
// every replica.
func Chain(transport Notifier, o ChainOptions) Notifier {
	n := transport
	if o.Concurrency > 0 {
		n = NewConcurrency(n, o.Concurrency)
	}
	if o.PerSecond > 0 {
		n = newThrottle(n, o.PerSecond, o.Burst, o.Now)
	}
	if o.Attempts > 1 {
		base := o.RetryBase
		if base <= 0 {
			base = 500 * time.Millisecond
		}
		n = Retrier{Next: n, Attempts: o.Attempts, Base: base}
	}
	if o.BreakerFailures > 0 {
		b := NewBreaker(n, o.BreakerFailures, o.BreakerCooldown)
		b.byAddress = o.BreakerByAddress
		b.watch = o.BreakerWatch
		n = b
	}
	return n
}
