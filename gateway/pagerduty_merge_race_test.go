package gateway

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/pagerduty"
)

// mergesRead is a store that runs a function, once armed, right after
// the next read of the merges' record (pagerDutyMergesKind), before its
// reader goes on: what another replica does between that read and what
// the reader writes.
type mergesRead struct {
	store.Store
	mu    sync.Mutex
	after func()
}

func (s *mergesRead) arm(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.after = f
}

func (s *mergesRead) ListDocs(ctx context.Context, kind string) (map[string][]byte, int64, error) {
	raw, ver, err := s.Store.ListDocs(ctx, kind)
	if kind == pagerDutyMergesKind {
		s.mu.Lock()
		f := s.after
		s.after = nil
		s.mu.Unlock()
		if f != nil {
			f()
		}
	}
	return raw, ver, err
}

// twoReplicasMerging pushes x and y to carol through PagerDuty on a
// replica, h, beside another, other, on the same store (st, armed by the
// test), and has PagerDuty merge y's incident into x's by itself (alert
// grouping), the merge's webhook not delivered yet: it returns it, x's
// PagerDuty incident, and y.
func twoReplicasMerging(t *testing.T, mk func(*testing.T) store.Store) (fake *providertest.PagerDuty, h, other *harness, st *mergesRead, merge, q, y string) {
	t.Helper()
	fake = providertest.NewPagerDuty(t)
	st = &mergesRead{Store: mk(t)}
	h = newHarness(t, withStore(st), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"), fastRetries())
	other = newHarness(t, withStore(st), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"), fastRetries(), replicas(0))
	x := fireLabels(h, "gx", map[string]string{"alertname": "X", "severity": "critical"})
	y = fireLabels(h, "gy", map[string]string{"alertname": "Y", "severity": "critical"})
	h.step(fixedNow)
	kx, ky := pagerduty.DedupKey(x, "carol", 0), pagerduty.DedupKey(y, "carol", 0)
	q = fake.Incident(kx)
	if q == "" || fake.Incident(ky) == "" || fake.Incident(ky) == q {
		t.Fatalf("x and y did not each open a PagerDuty incident: %q, %q", q, fake.Incident(ky))
	}
	return fake, h, other, st, fake.Merge(ky, kx, ""), q, y
}

// TestPagerDutyGroupedAlertAcknowledgedWhileItsMergeIsKept: PagerDuty
// merges y's PagerDuty incident into x's by itself, and carol
// acknowledges the incident holding both alerts at once; the two
// webhooks reach two replicas side by side. The acknowledgement read
// what was merged into x's incident (nothing yet) before the merge was
// kept, and the merge, kept before the acknowledgement was, found none
// to apply: y was never acknowledged, and its ladder went on (carol's
// SMS at 2m) for an alert she had acknowledged in PagerDuty. The
// acknowledgement is kept first and what it covers read in the same
// write: either it sees the merge or the merge sees it. On both stores.
func TestPagerDutyGroupedAlertAcknowledgedWhileItsMergeIsKept(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake, h, other, st, merge, q, y := twoReplicasMerging(t, mk)
			ack := fake.AcknowledgeIncident(q, pdAgentCarol)
			st.arm(func() {
				if code, out := fake.Webhook(t, other.url+pagerduty.WebhookPath, merge); code != 204 {
					t.Errorf("merge webhook on the other replica: %d %s", code, out)
				}
			})
			if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, ack); code != 204 {
				t.Fatalf("acknowledgement webhook: %d %s", code, out)
			}
			h.runUntil(fixedNow.Add(10 * time.Minute))
			if v := h.incident(y); v.Status != "acknowledged" || v.AcknowledgedBy != "carol" {
				t.Fatalf("y after carol acknowledged PagerDuty's incident %s, which holds its alert, its merge kept beside: %s by %q, paged %v; want acknowledged by carol",
					q, v.Status, v.AcknowledgedBy, pagedFor(h, y))
			}
		})
	}
}

// TestPagerDutyGroupedAlertMergedWhileItsIncidentIsResolved: PagerDuty
// merges y's PagerDuty incident into x's by itself, and resolves x's
// (the service's auto-resolve timeout), y's alert with it; the two
// webhooks reach two replicas side by side. The resolve read what was
// merged into x's incident (nothing yet), the merge kept y's alert
// there, and the resolve's record then dropped it unnoted: y's key was
// read as merged for good, its page since opened a new PagerDuty
// incident, and carol's acknowledgement in pagerd never reached it
// ("trigger,trigger" under y's key), which went on notifying her. The
// resolve is kept only once all it drops is noted over. On both stores.
func TestPagerDutyGroupedAlertMergedWhileItsIncidentIsResolved(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake, h, other, st, merge, q, y := twoReplicasMerging(t, mk)
			h.runUntil(fixedNow.Add(time.Minute))
			resolve := fake.ResolveIncident(q, pdAgentService)
			st.arm(func() {
				if code, out := fake.Webhook(t, other.url+pagerduty.WebhookPath, merge); code != 204 {
					t.Errorf("merge webhook on the other replica: %d %s", code, out)
				}
			})
			if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, resolve); code != 204 {
				t.Fatalf("auto-resolve webhook: %d %s", code, out)
			}
			if v := h.incident(y); v.Status != "triggered" || !h.timelineHas(y, "resolve_ignored", "merge over in PagerDuty") {
				t.Fatalf("y after PagerDuty resolved the incident its alert was merged into, beside the merge: %s, timeline %+v", v.Status, v.Timeline)
			}
		})
	}
}

// refusedOverNote is a store that refuses, once, the note that the merge
// of incident id's alert is over (MergeOverNote).
type refusedOverNote struct {
	store.Store
	id      string
	refused atomic.Bool
}

func (s *refusedOverNote) Update(ctx context.Context, inc *store.Incident, tl []store.Entry) error {
	if inc.ID == s.id && slices.ContainsFunc(tl, func(e store.Entry) bool { return strings.HasPrefix(e.Detail, "merge over in PagerDuty") }) &&
		s.refused.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: redis: i/o timeout", store.ErrUnavailable)
	}
	return s.Store.Update(ctx, inc, tl)
}

// TestPagerDutyMergeCarriedIntoAResolvedIncidentIsNotedOverWhenDeliveredAgain:
// PagerDuty merges w's PagerDuty incident into y's, then y's (holding
// w's alert) into x's, whose resolve (the service's auto-resolve
// timeout) is delivered before that merge. The merge's first delivery
// notes y's merge over but the store refuses w's note: answered 5xx,
// and PagerDuty delivers it again. The first delivery had moved w's
// alert out of y's record for good, so the second found only y's own:
// w's key was read as merged for good, and pagerd's acknowledgements
// under it never reached the PagerDuty incident a page under it opens.
// What a merge carried on is kept with the incident merged away, and
// a merge delivered again finds it there. On both stores.
func TestPagerDutyMergeCarriedIntoAResolvedIncidentIsNotedOverWhenDeliveredAgain(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewPagerDuty(t)
			st := &refusedOverNote{Store: mk(t)}
			h := newHarness(t, withStore(st), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"), fastRetries())
			w := fireLabels(h, "gw", map[string]string{"alertname": "W", "severity": "critical"})
			y := fireLabels(h, "gy", map[string]string{"alertname": "Y", "severity": "critical"})
			x := fireLabels(h, "gx", map[string]string{"alertname": "X", "severity": "critical"})
			st.id = w
			h.step(fixedNow)
			kw, ky, kx := pagerduty.DedupKey(w, "carol", 0), pagerduty.DedupKey(y, "carol", 0), pagerduty.DedupKey(x, "carol", 0)
			q := fake.Incident(kx)
			wy := fake.Merge(kw, ky, "")
			yx := fake.Merge(ky, kx, "")
			resolve := fake.ResolveIncident(q, pdAgentService)
			for _, body := range []string{wy, resolve} {
				if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, body); code != 204 {
					t.Fatalf("webhook: %d %s", code, out)
				}
			}
			if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, yx); code < 500 {
				t.Fatalf("merge into a resolved incident, w's note refused: %d %s, want 5xx", code, out)
			}
			if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, yx); code != 204 {
				t.Fatalf("merge delivered again: %d %s", code, out)
			}
			for _, id := range []string{w, y} {
				if v := h.incident(id); !h.timelineHas(id, "resolve_ignored", "merge over in PagerDuty") {
					t.Fatalf("%s after the incident its alert was carried into was resolved, the merge delivered again: %s, timeline %+v", id, v.Status, v.Timeline)
				}
			}
		})
	}
}

// TestPagerDutyAcknowledgementBeforeAMergeDeliveredAfterItAcknowledgesNothingMerged:
// carol acknowledges x's PagerDuty incident, and PagerDuty merges y's into
// it after (alert grouping): she never saw y's alert, and y's ladder goes
// on (as when the acknowledgement's webhook comes first). PagerDuty keeps
// no order between webhooks, and one answered 5xx comes again later: the
// merge's came first and the acknowledgement's after, which acknowledged
// every alert recorded in the incident, y's among them: its ladder stopped
// for a page nobody acknowledged. An alert is acknowledged with the
// incident only when it got there before the acknowledgement was made
// (occurred_at). On both stores.
func TestPagerDutyAcknowledgementBeforeAMergeDeliveredAfterItAcknowledgesNothingMerged(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewPagerDuty(t)
			h := newHarness(t, withStore(mk(t)), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"), fastRetries())
			ids, keys := firedToCarol(t, h, "x", "y")
			x, y := ids[0], ids[1]
			kx, ky := keys[0], keys[1]
			q := fake.Incident(kx)
			ack := fake.AcknowledgeIncident(q, pdAgentCarol)
			merge := fake.Merge(ky, kx, "")
			for _, body := range []string{merge, ack} {
				if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, body); code != 204 {
					t.Fatalf("webhook: %d %s", code, out)
				}
			}
			h.runUntil(fixedNow.Add(10 * time.Minute))
			if v := h.incident(x); v.Status != "acknowledged" {
				t.Fatalf("x after carol acknowledged its PagerDuty incident: %s", v.Status)
			}
			if v := h.incident(y); v.Status != "triggered" || len(pagedFor(h, y)) == 0 {
				t.Fatalf("y, merged into the PagerDuty incident carol had acknowledged before, the merge's webhook delivered first: %s by %q, paged %v; want its ladder on",
					v.Status, v.AcknowledgedBy, pagedFor(h, y))
			}
		})
	}
}

// TestPagerDutyResolveOfAnIncidentMergedAwayEndsNoMergeItCarriedOn:
// PagerDuty merges w's PagerDuty incident into y's, then y's into x's,
// and a resolve of y's naming no merge comes after (a webhook PagerDuty
// sent without the merge's resolve_reason, or a replay): y's record
// keeps what its merge carried on, w's alert, which lives in x's
// incident, still open. Read as what y's resolve dropped, w's merge was
// noted over, and pagerd's acknowledgement of w, told to PagerDuty under
// w's key, would acknowledge x's incident. Only what an incident holds
// now is over with its resolve, and y's merge away is kept. On both
// stores.
func TestPagerDutyResolveOfAnIncidentMergedAwayEndsNoMergeItCarriedOn(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewPagerDuty(t)
			h := newHarness(t, withStore(mk(t)), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"), fastRetries())
			ids, keys := firedToCarol(t, h, "w", "y", "x")
			w := ids[0]
			kw, ky, kx := keys[0], keys[1], keys[2]
			qy := fake.Incident(ky)
			wy := fake.Merge(kw, ky, "")
			yx := fake.Merge(ky, kx, "")
			resolve := fake.ResolveIncident(qy, pdAgentService)
			for _, body := range []string{wy, yx, resolve} {
				if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, body); code != 204 {
					t.Fatalf("webhook: %d %s", code, out)
				}
			}
			if v := h.incident(w); h.timelineHas(w, "resolve_ignored", "merge over in PagerDuty") {
				t.Fatalf("w, whose alert lives in x's open PagerDuty incident, after a resolve of y's merged away: timeline %+v", v.Timeline)
			}
		})
	}
}
