package console

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/pagerd/pagerd/internal/oidctest"
)

// discovered is what one caller of oidcClients.provider got.
type discovered struct {
	p   *oidc.Provider
	err error
}

// discoverAll asks for the issuer's provider from n callers at once, and
// returns, once the first has reached the provider and all of them wait
// on it, where each one's answer will come.
func discoverAll(t *testing.T, o *oidcClients, idp *oidctest.Provider, n int) <-chan discovered {
	t.Helper()
	out := make(chan discovered, n)
	for range n {
		go func() {
			p, err := o.provider(context.Background(), idp.URL)
			out <- discovered{p, err}
		}()
	}
	waitFor(t, "the first discovery request", func() bool { return idp.Discoveries() >= 1 })
	waitFor(t, "every caller waiting on it", func() bool { return o.waiting.Load() == int64(n) })
	return out
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// collect takes n answers, failing the test if they do not all come within
// 5 seconds.
func collect(t *testing.T, ch <-chan discovered, n int) []discovered {
	t.Helper()
	var out []discovered
	timeout := time.After(5 * time.Second)
	for range n {
		select {
		case d := <-ch:
			out = append(out, d)
		case <-timeout:
			t.Fatalf("%d of %d callers still waiting 5s after discovery answered", n-len(out), n)
		}
	}
	return out
}

// TestOIDCDiscoveryIsShared: while the identity provider's discovery
// hangs, every sign-in waits on the one request in flight instead of
// queueing behind it, all of them get its provider when it answers, and
// that provider is kept for the issuer.
func TestOIDCDiscoveryIsShared(t *testing.T) {
	idp := oidctest.Start(t, time.Now)
	o := &oidcClients{http: &http.Client{Timeout: 10 * time.Second}}
	release := idp.HoldDiscovery(t)
	const n = 8
	ch := discoverAll(t, o, idp, n)
	release()
	got := collect(t, ch, n)
	for i, d := range got {
		if d.err != nil || d.p == nil || d.p != got[0].p {
			t.Fatalf("caller %d: %v %v; want the one provider discovered", i, d.p, d.err)
		}
	}
	if _, err := o.provider(context.Background(), idp.URL); err != nil {
		t.Fatal(err)
	}
	if d := idp.Discoveries(); d != 1 {
		t.Fatalf("%d callers and one more made %d discovery requests, want 1", n, d)
	}
}

// TestOIDCDiscoveryFailureIsNotKept: N sign-ins waiting on a discovery
// that fails all get its error from one request (not one request each,
// one after another), and the failure is not kept: the next sign-in asks
// the provider again.
func TestOIDCDiscoveryFailureIsNotKept(t *testing.T) {
	idp := oidctest.Start(t, time.Now)
	o := &oidcClients{http: &http.Client{Timeout: 10 * time.Second}}
	release := idp.HoldDiscovery(t)
	idp.FailDiscovery(1)
	const n = 8
	ch := discoverAll(t, o, idp, n)
	release()
	for i, d := range collect(t, ch, n) {
		if d.err == nil {
			t.Errorf("caller %d got a provider from a discovery that failed", i)
		}
	}
	if d := idp.Discoveries(); d != 1 {
		t.Fatalf("%d callers of a failing discovery made %d requests, want 1 for all of them", n, d)
	}
	p, err := o.provider(context.Background(), idp.URL)
	if err != nil || p == nil {
		t.Fatalf("the sign-in after a failed discovery: %v %v; want it discovered afresh", p, err)
	}
	if d := idp.Discoveries(); d != 2 {
		t.Fatalf("%d discovery requests, want 2: the failure was kept", d)
	}
}

// TestOIDCDiscoveryWaitEndsWithTheRequest: a sign-in whose request ends
// (the browser gave up) stops waiting for a discovery that hangs, instead
// of holding on until it answers.
func TestOIDCDiscoveryWaitEndsWithTheRequest(t *testing.T) {
	idp := oidctest.Start(t, time.Now)
	o := &oidcClients{http: &http.Client{Timeout: 10 * time.Second}}
	release := idp.HoldDiscovery(t)
	first := make(chan error, 1)
	go func() {
		_, err := o.provider(context.Background(), idp.URL)
		first <- err
	}()
	waitFor(t, "the first discovery request", func() bool { return idp.Discoveries() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := o.provider(ctx, idp.URL)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a sign-in whose request ended: %v, want its deadline", err)
		}
	case <-time.After(3 * time.Second):
		release()
		t.Fatal("a sign-in whose request ended after 100ms was still waiting 3s later, behind a discovery that hangs")
	}
	release()
	if err := <-first; err != nil {
		t.Fatalf("the discovery that was answered: %v", err)
	}
}
