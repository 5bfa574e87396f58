package notify

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

// StallAfter is stallAfter, for the transports' tests in notify_test.
var StallAfter = stallAfter

// StallWhen makes notRunning say the process has not run for stall once
// stalled says so, and 0 before.
func StallWhen(t *testing.T, stalled func() bool, stall time.Duration) {
	was := notRunning
	notRunning = func() time.Duration {
		if stalled() {
			return stall
		}
		return 0
	}
	t.Cleanup(func() { notRunning = was })
}

// DialThrough makes rt, a NewTransport, dial its connections through wrap.
func DialThrough(t *testing.T, rt http.RoundTripper, wrap func(net.Conn) net.Conn) {
	a, ok := rt.(askAfterStall)
	if !ok {
		t.Fatalf("%T is not NewTransport's", rt)
	}
	dial := a.next.DialContext
	a.next.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return wrap(c), nil
	}
}
