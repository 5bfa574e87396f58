package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// testReleaseEdges: the time Release puts an incident off to, at its
// edges (testReleaseOutlastsUpdates has its rule). A time before the
// step's own leaves the step at its own time, through Updates too. A
// second Release of the same claim, or its Complete, is void: the first
// one's time holds; the replica that released it may claim it again at
// that very time and release it again, and the new time holds as the
// first did. A claim lost to a takeover that was then released records
// its page (a stale Finish): the step it leaves is due at its own time,
// not at the stale claim's lease nor the time the takeover was released
// to, and a step added before that time waits for it; the claim then is
// no takeover. Released, then resolved, the incident leaves the due set
// and Expire removes it; the same alert opens an incident due at its own
// time. Released, then acknowledged with a step an hour on, then
// escalated by hand: each step is due at its own time.
func testReleaseEdges(t *testing.T, f Factory) {
	nextDue := func(t *testing.T, s store.Store, want time.Time, what string) {
		t.Helper()
		if at, ok, err := s.NextDue(ctx(t)); err != nil || !ok || !at.Equal(want) {
			t.Fatalf("%s: NextDue %v %v %v, want %v", what, at.Sub(base), ok, err, want.Sub(base))
		}
	}
	release := func(t *testing.T, s store.Store, c store.Claim, at time.Time) {
		t.Helper()
		if err := s.Release(ctx(t), c, at); err != nil {
			t.Fatal(err)
		}
	}
	claimOne := func(t *testing.T, s store.Store, at time.Time, takeover bool, due time.Time, what string) store.Claim {
		t.Helper()
		cs := claimAll(t, s, at)
		if len(cs) != 1 || cs[0].Takeover != takeover || !cs[0].Due.Equal(due) {
			t.Fatalf("%s: claim at %v: %+v, want one due at %v, takeover %v", what, at.Sub(base), cs, due.Sub(base), takeover)
		}
		return cs[0]
	}

	t.Run("NotBeforeInThePast", func(t *testing.T) {
		s := f.New(t)
		id := trigger(t, s, incident("api", "past", base, time.Minute))
		c := claimOne(t, s, base.Add(time.Minute), false, base.Add(time.Minute), "first")
		release(t, s, c, base)
		nextDue(t, s, base.Add(time.Minute), "released to a time before its step's")
		update(t, s, get(t, s, id))
		nextDue(t, s, base.Add(time.Minute), "then updated")
		claimOne(t, s, base.Add(time.Minute), false, base.Add(time.Minute), "again")
	})

	t.Run("SecondReleaseAndCompleteAreVoid", func(t *testing.T) {
		s := f.New(t)
		id := trigger(t, s, incident("api", "twice", base, 0))
		c := claimOne(t, s, base, false, base, "first")
		nb := base.Add(3 * time.Second)
		release(t, s, c, nb)
		release(t, s, c, base.Add(time.Hour))
		complete(t, s, c)
		nextDue(t, s, nb, "released, then released and completed again")
		update(t, s, get(t, s, id))
		nextDue(t, s, nb, "then updated")
		if cs := claimAll(t, s, nb.Add(-time.Millisecond)); len(cs) != 0 {
			t.Fatalf("claimed before the first Release's time: %+v", cs)
		}
		// The replica that released it claims it again at that very
		// time, and releases it again: the new time holds as well.
		c = claimOne(t, s, nb, false, base, "at the time")
		nb2 := nb.Add(3 * time.Second)
		release(t, s, c, nb2)
		inc := get(t, s, id)
		inc.Summary = "again"
		update(t, s, inc)
		nextDue(t, s, nb2, "released again, then updated")
		claimOne(t, s, nb2, false, base, "at the second time")
	})

	t.Run("StaleFinishOfAReleasedTakeover", func(t *testing.T) {
		s := f.New(t)
		id := trigger(t, s, incident("api", "stale", base, 0, 10*time.Minute))
		c1 := claimOne(t, s, base, false, base, "first")
		c2 := claimOne(t, s, base.Add(2*time.Minute), true, base, "takeover")
		nb := base.Add(2*time.Minute + 3*time.Second)
		release(t, s, c2, nb)
		// The first claim's replica was slow, not dead: it records its
		// page, which leaves the next step, at +10m, due at its own time.
		inc := get(t, s, id)
		inc.State.Pending = inc.State.Pending[1:]
		if err := s.Finish(ctx(t), c1, inc, []store.Entry{{At: base.Add(2 * time.Minute), Type: "notify"}}); err != nil {
			t.Fatal(err)
		}
		nextDue(t, s, base.Add(10*time.Minute), "a stale Finish after the takeover was released")
		// A step added before the time the takeover was released to is
		// due no earlier than it: no claim has spent it.
		inc = get(t, s, id)
		inc.State.Pending = append([]policy.Deadline{{ID: "0001.000009.notify", At: base.Add(time.Minute), Kind: policy.DeadlineNotify, User: "u", Channel: "sms", Seq: 9}}, inc.State.Pending...)
		update(t, s, inc)
		nextDue(t, s, nb, "then a step added before it")
		claimOne(t, s, nb, false, base.Add(time.Minute), "at the time the takeover was released to")
	})

	t.Run("ReleasedResolvedExpired", func(t *testing.T) {
		s := f.New(t)
		id := trigger(t, s, incident("api", "gone", base, 0))
		c := claimOne(t, s, base, false, base, "first")
		release(t, s, c, base.Add(3*time.Second))
		inc := get(t, s, id)
		inc.State.Status, inc.State.ResolvedAt, inc.State.Pending = policy.StatusResolved, base.Add(time.Second), nil
		update(t, s, inc)
		if at, ok, err := s.NextDue(ctx(t)); err != nil || ok {
			t.Fatalf("resolved: due at %v (%v)", at.Sub(base), err)
		}
		if cs := claimAll(t, s, base.Add(time.Hour)); len(cs) != 0 {
			t.Fatalf("resolved, claimed: %+v", cs)
		}
		if n, _, err := s.Expire(ctx(t), base.Add(time.Hour), 10); err != nil || n != 1 {
			t.Fatalf("Expire: %d %v", n, err)
		}
		if _, err := s.Get(ctx(t), id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired: %v", err)
		}
		trigger(t, s, incident("api", "gone", base.Add(2*time.Hour), 0))
		claimOne(t, s, base.Add(2*time.Hour), false, base.Add(2*time.Hour), "the new incident")
	})

	t.Run("AcknowledgedWithAStepThenEscalated", func(t *testing.T) {
		s := f.New(t)
		id := trigger(t, s, incident("api", "ack", base, 0))
		c := claimOne(t, s, base, false, base, "first")
		nb := base.Add(3 * time.Second)
		release(t, s, c, nb)
		// Acknowledged elsewhere, a reminder an hour later pending.
		inc := get(t, s, id)
		inc.State.Status, inc.State.AcknowledgedAt = policy.StatusAcknowledged, base.Add(time.Second)
		inc.State.Pending = []policy.Deadline{{ID: "0001.000002.reminder", At: base.Add(time.Hour), Kind: policy.DeadlineNotify, User: "u", Channel: "push", Seq: 2}}
		update(t, s, inc)
		nextDue(t, s, base.Add(time.Hour), "acknowledged, a step an hour on")
		// Escalated by hand ten minutes on: due then, the time long past.
		inc = get(t, s, id)
		inc.State.Status = policy.StatusTriggered
		inc.State.Pending = append(inc.State.Pending, policy.Deadline{ID: "0002.000003.notify", At: base.Add(10 * time.Minute), Kind: policy.DeadlineNotify, User: "v", Channel: "push", Seq: 3})
		update(t, s, inc)
		nextDue(t, s, base.Add(10*time.Minute), "escalated ten minutes on")
		claimOne(t, s, base.Add(10*time.Minute), false, base.Add(10*time.Minute), "the escalation")
	})
}
