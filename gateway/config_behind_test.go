package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/gateway/replicaconfig"
	"github.com/pagerd/pagerd/policy"
)

// newRollout is a rolling config change from config from to config to,
// half-way: the daemon (replica b) reloaded to, while replica a, on the
// same Redis, still runs from, taken into use a minute earlier. publish
// writes both replicas' entries in the registry of replicas' configs
// (their heartbeats, which Run writes every replicaconfig.Interval).
func newRollout(t *testing.T, from, to string) (h *harness, a *dispatch.Dispatcher, areg *prometheus.Registry, publish func()) {
	t.Helper()
	st, _ := redisStore(t)
	h = newHarness(t, withStore(st), replicas(0))
	old, err := policy.Parse([]byte(from), "old.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	ra := replicaconfig.New(replicaconfig.Options{Store: h.store, Now: h.clock.Now, Logger: h.log, ID: "a"})
	h.clock.Set(fixedNow.Add(-time.Minute))
	ra.Loaded(old)
	h.clock.Set(fixedNow)
	if err := h.reload(to); err != nil {
		t.Fatal(err)
	}
	publish = func() {
		for _, r := range []*replicaconfig.Registry{ra, h.d.Replicas()} {
			if err := r.Publish(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	a, areg = h.dispatcher(func(o *dispatch.Options) {
		o.Config = func() *policy.Config { return old }
		o.NewerConfig = func(ctx context.Context) (string, bool) {
			e, ok := ra.Newer(ctx)
			return e.Replica, ok
		}
	})
	return h, a, areg, publish
}

// TestReplicaBehindLeavesANewPersonToTheNewerConfig: in a rollout that
// gives ann's tier to cat, replica a (old config, no cat) claims each of
// cat's steps first. It used to take cat for a person a reload removed
// (userGone): cat's steps were dropped and the level paged again by a's
// config, so ann, who is no longer on call, was paged, and cat never.
// Both look every second, a first on even seconds (as
// TestReplicaWithoutTheServiceLeavesItsStepsToOneWithIt). Now a sees in the registry that b runs a newer config, gives the claim
// back at once, and b pages cat a tenth of a lease later; the timeline
// says so once, and a counts each claim it left.
func TestReplicaBehindLeavesANewPersonToTheNewerConfig(t *testing.T) {
	h, a, areg, publish := newRollout(t, testConfig, annLeft)
	id := fire(h)
	runBoth(t, h, a, publish)
	if got := strings.Join(h.rec.lines(fixedNow), ","); got != "3s L1 cat push,2m3s L1 cat sms" {
		t.Errorf("pages %s, want cat's, by b, a tenth of the lease after each step", got)
	}
	tl := h.incident(id).Timeline
	for _, e := range tl {
		if e.Type == "escalate" {
			t.Errorf("the timeline has %q: a acted on cat as on a removal", e.Detail)
		}
	}
	if notes := entriesOf(tl, dispatch.LeftToNewerConfig, ""); len(notes) != 1 || !strings.Contains(notes[0].Detail, "lacks user cat") {
		t.Errorf("timeline says %+v, want once that a left cat's step to b", notes)
	}
	if n := metric(t, areg, "pagerd_dispatch_errors_total", "reason", "config_behind"); n != 2 {
		t.Errorf("a counted %v steps it left to b, want 2", n)
	}
	// A rollout brings it about and it passes with it: a warning, not
	// the error a config that does not fit is.
	const msg = `"msg":"dispatcher: a step this replica's config cannot page is left to a replica on a newer config"`
	if logs := h.logs.String(); !strings.Contains(logs, `"level":"WARN",`+msg) || strings.Contains(logs, `"level":"ERROR",`+msg) {
		t.Errorf("the step left to b is not logged once at WARN:\n%s", logs)
	}
}

// TestReplicaBehindLeavesANewChannelToTheNewerConfig: the rollout gives
// ann, who had email alone, push, SMS and calls. Replica a (old config)
// took her push step for a channel a reload took away (contactGone): it
// dropped her steps and paged her by email, and her phone never rang.
// Now b pages her push and SMS, a tenth of a lease late.
func TestReplicaBehindLeavesANewChannelToTheNewerConfig(t *testing.T) {
	h, a, areg, publish := newRollout(t, annByEmailOnly, testConfig)
	id := fire(h)
	runBoth(t, h, a, publish)
	if got := strings.Join(h.rec.lines(fixedNow), ","); got != "3s L1 ann push,2m3s L1 ann sms" {
		t.Errorf("pages %s, want ann's push and SMS, by b", got)
	}
	if e := entriesOf(h.incident(id).Timeline, "escalate", ""); len(e) != 0 {
		t.Errorf("a acted on ann's push as on a channel removed: %+v", e)
	}
	if notes := entriesOf(h.incident(id).Timeline, dispatch.LeftToNewerConfig, ""); len(notes) != 1 || !strings.Contains(notes[0].Detail, "lacks a push contact of user ann") {
		t.Errorf("timeline says %+v, want once that a left ann's step to b", notes)
	}
	if n := metric(t, areg, "pagerd_dispatch_errors_total", "reason", "config_behind"); n != 2 {
		t.Errorf("a counted %v steps it left to b, want 2", n)
	}
}

// runBoth runs replica a and the daemon's dispatcher (b) every second for
// three minutes, a first on even seconds, each replica's registry entry
// written every replicaconfig.Interval.
func runBoth(t *testing.T, h *harness, a *dispatch.Dispatcher, publish func()) {
	t.Helper()
	b := h.d.Dispatcher()
	ctx := context.Background()
	for s := 0; s <= 3*60; s++ {
		h.clock.Set(fixedNow.Add(time.Duration(s) * time.Second))
		if s%int(replicaconfig.Interval/time.Second) == 0 {
			publish()
		}
		order := []*dispatch.Dispatcher{a, b} // a first on even seconds
		if s%2 == 1 {
			order = []*dispatch.Dispatcher{b, a}
		}
		for _, d := range order {
			if _, err := d.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestReplicaBehindPagesOnItsOwnConfigAfterALease: the replica on the
// newer config is in the registry but pages nothing (its dispatcher
// stuck; or its entry outlived it, within the TTL). The replica behind
// leaves cat's step to it for a lease past the step's time (30s), and
// then acts on its own config as before (the level paged again: ann):
// an entry in the registry can delay a page by a lease, never hold it.
func TestReplicaBehindPagesOnItsOwnConfigAfterALease(t *testing.T) {
	h, a, areg, publish := newRollout(t, testConfig, annLeft)
	id := fire(h)
	ctx := context.Background()
	for s := 0; s <= 40; s++ {
		h.clock.Set(fixedNow.Add(time.Duration(s) * time.Second))
		if s%int(replicaconfig.Interval/time.Second) == 0 {
			publish()
		}
		if _, err := a.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(h.rec.lines(fixedNow), ","); got != "30s L1 ann push" {
		t.Errorf("pages %s, want ann's by a's config once the step was a lease late", got)
	}
	want := "cat is no longer in the config: level primary paged again"
	if e := entriesOf(h.incident(id).Timeline, "escalate", ""); len(e) != 1 || e[0].Detail != want {
		t.Errorf("escalations %+v, want %q", e, want)
	}
	if n := metric(t, areg, "pagerd_dispatch_errors_total", "reason", "config_behind"); n != 10 {
		t.Errorf("a left the step %v times, want 10 (every 3s for 30s)", n)
	}
}
