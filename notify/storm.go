package notify

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Bundler keeps an alert storm from burying one person in pages. The first
// Immediate pages to a person on a channel go out at once; further pages to
// them on that channel within Window are held and sent together as one
// message when the window closes, and a new window opens. Pages to anyone
// else are untouched, so nobody's first page waits for someone else's storm.
//
// Notify returns only once the page's message went out (or failed), so the
// caller records a page as sent only when it was: if the process dies while
// pages are held, nothing was recorded and the steps are fired again.
type Bundler struct {
	next      Notifier
	window    time.Duration
	immediate int

	mu      sync.Mutex
	windows map[string]*stormWindow
}

var _ Notifier = (*Bundler)(nil)

type stormWindow struct {
	until   time.Time
	sent    int
	pending []Message
	done    chan struct{}
	// flushed is how many pages the bundle carried and err how sending it
	// went; both are set before done is closed.
	flushed int
	err     error
}

// NewBundler wraps next. window <= 0 turns bundling off.
func NewBundler(next Notifier, window time.Duration, immediate int) *Bundler {
	if immediate < 1 {
		immediate = 1
	}
	return &Bundler{next: next, window: window, immediate: immediate, windows: map[string]*stormWindow{}}
}

// Notify sends m, or holds it for the person's bundle.
func (b *Bundler) Notify(ctx context.Context, m Message) (bool, error) {
	if b.window <= 0 {
		return b.next.Notify(ctx, m)
	}
	key := m.User + "\x00" + m.Channel + "\x00" + m.Address
	now := time.Now()
	b.mu.Lock()
	w := b.windows[key]
	if w == nil || (now.After(w.until) && len(w.pending) == 0) {
		w = &stormWindow{until: now.Add(b.window)}
		b.windows[key] = w
	}
	if w.sent < b.immediate && len(w.pending) == 0 {
		w.sent++
		b.mu.Unlock()
		return b.next.Notify(ctx, m)
	}
	w.pending = append(w.pending, m)
	if len(w.pending) == 1 {
		w.done = make(chan struct{})
		time.AfterFunc(time.Until(w.until), func() { b.flush(key, w) })
	}
	done := w.done
	b.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return true, fmt.Errorf("held for a bundle: %w", ctx.Err())
	}
	if m.Report != nil {
		m.Report.Bundled = w.flushed
	}
	return false, w.err
}

// flush sends the held pages as one message. The window is replaced before
// sending, under the lock, so a page arriving meanwhile joins the next
// bundle rather than a message that has already been written.
func (b *Bundler) flush(key string, w *stormWindow) {
	b.mu.Lock()
	msgs := w.pending
	if b.windows[key] == w {
		// The storm may go on: the next window starts now, and its pages
		// are bundled too.
		b.windows[key] = &stormWindow{until: time.Now().Add(b.window), sent: b.immediate}
	}
	b.mu.Unlock()
	m := msgs[len(msgs)-1]
	var lines []string
	for _, p := range msgs {
		lines = append(lines, p.Text)
	}
	m.Text = fmt.Sprintf("%d pages: %s", len(msgs), strings.Join(lines, " | "))
	_, w.err = b.next.Notify(context.Background(), m)
	w.flushed = len(msgs)
	close(w.done)
}

// Throttle holds pages to respect a provider's rate limit (Twilio's per
// number, say). It waits for a token rather than dropping the page.
type Throttle struct {
	next Notifier
	lim  *rate.Limiter
}

var _ Notifier = (*Throttle)(nil)

// NewThrottle wraps next with perSecond pages a second and a burst.
func NewThrottle(next Notifier, perSecond float64, burst int) *Throttle {
	if burst < 1 {
		burst = 1
	}
	return &Throttle{next: next, lim: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

// Notify waits for a token, then sends.
func (t *Throttle) Notify(ctx context.Context, m Message) (bool, error) {
	if err := t.lim.Wait(ctx); err != nil {
		return true, fmt.Errorf("rate limit: %w", err)
	}
	return t.next.Notify(ctx, m)
}

// Chain wraps a transport the way the daemon sends: throttled to the
// provider's rate (perSecond 0: no limit), retried (attempts), behind a
// circuit breaker that fails fast after 5 failed sends in a row for 30s, and
// bundled per person and channel during storms (window 0: off). The bundle
// is outermost so that one bundled message is one send, retried as one.
func Chain(transport Notifier, attempts int, perSecond float64, burst int, window time.Duration, immediate int) Notifier {
	n := transport
	if perSecond > 0 {
		n = NewThrottle(n, perSecond, burst)
	}
	if attempts > 1 {
		n = Retrier{Next: n, Attempts: attempts, Base: 500 * time.Millisecond}
	}
	n = NewBreaker(n, 5, 30*time.Second)
	return NewBundler(n, window, immediate)
}
