package notify

import "time"

// Chain wraps a transport the way the daemon sends: throttled to the
// provider's rate (perSecond 0: no limit), retried (attempts), behind a
// circuit breaker that fails fast after 5 failed sends in a row for 30s.
// Alert-storm bundling is not a link of the chain: the dispatcher does it
// on state in the store, shared by every replica.
func Chain(transport Notifier, attempts int, perSecond float64, burst int) Notifier {
	n := transport
	if perSecond > 0 {
		n = NewThrottle(n, perSecond, burst)
	}
	if attempts > 1 {
		n = Retrier{Next: n, Attempts: attempts, Base: 500 * time.Millisecond}
	}
	return NewBreaker(n, 5, 30*time.Second)
}
