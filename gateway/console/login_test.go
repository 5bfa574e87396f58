package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/crypto/bcrypt"

	"github.com/pagerd/pagerd/internal/oidctest"
	"github.com/pagerd/pagerd/policy"
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

// TestDummyHashHasTheConfigsHighestCost: a name no user has is compared
// against a hash of the highest cost among the config's password hashes,
// so it takes as long to refuse as a known name with a wrong password.
// (Before: bcrypt's default cost, 10; with hashes made as the README makes
// them, cost 12, a known name took four times as long to refuse, and the
// time of a refusal told which names and emails are pagerd users.)
func TestDummyHashHasTheConfigsHighestCost(t *testing.T) {
	hashed := func(cost int) policy.Secret {
		h, err := bcrypt.GenerateFromPassword([]byte("pw"), cost)
		if err != nil {
			t.Fatal(err)
		}
		return policy.Secret(h)
	}
	for _, tc := range []struct {
		costs []int
		want  int
	}{{nil, bcrypt.DefaultCost}, {[]int{bcrypt.MinCost}, bcrypt.MinCost}, {[]int{bcrypt.MinCost, 11, 5}, 11}} {
		cfg := &policy.Config{Users: []policy.User{{ID: "nopassword"}}}
		for i, c := range tc.costs {
			cfg.Users = append(cfg.Users, policy.User{ID: fmt.Sprint("u", i), PasswordHash: hashed(c)})
		}
		if got, err := bcrypt.Cost(dummyHash(cfg)); err != nil || got != tc.want {
			t.Errorf("hashes of costs %v: the dummy hash's cost is %d (%v), want %d", tc.costs, got, err, tc.want)
		}
	}
}
