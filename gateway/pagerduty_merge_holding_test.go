package gateway

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/pagerduty"
)

// refusedMergesWrite is a store that refuses, once armed, the next write
// of the PagerDuty merges' record (its Redis Cluster node down).
type refusedMergesWrite struct {
	store.Store
	armed atomic.Bool
}

func (s *refusedMergesWrite) PutDocs(ctx context.Context, kind string, version int64, put map[string][]byte, del []string) (int64, error) {
	if kind == pagerDutyMergesKind && s.armed.CompareAndSwap(true, false) {
		return 0, fmt.Errorf("%w: redis: i/o timeout", store.ErrUnavailable)
	}
	return s.Store.PutDocs(ctx, kind, version, put, del)
}

// occurredAtRE is a webhook's occurred_at member.
var occurredAtRE = regexp.MustCompile(`"occurred_at":"([^"]+)"`)

// occurredAfter is body with its occurred_at a second after other's: a
// webhook made after other, whatever the order the fake made them in.
func occurredAfter(t *testing.T, body, other string) string {
	t.Helper()
	m := occurredAtRE.FindStringSubmatch(other)
	if m == nil {
		t.Fatal("the webhook carries no occurred_at")
	}
	at, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil {
		t.Fatal(err)
	}
	return occurredAtRE.ReplaceAllString(body, `"occurred_at":"`+at.Add(time.Second).Format(time.RFC3339Nano)+`"`)
}

// ackedNoting says whether id's timeline has an acknowledgement by
// actor whose note says why (note among it).
func ackedNoting(h *harness, id, actor, note string) bool {
	for _, e := range h.incident(id).Timeline {
		if e.Type == "ack" && e.Actor == actor && strings.Contains(e.Note, note) {
			return true
		}
	}
	return false
}

// TestPagerDutyPersonsMergeAcknowledgesWhatTheIncidentHeld: PagerDuty
// merges y's PagerDuty incident into x's, P (alert grouping), and carol
// then merges P, holding x's alert and y's, into z's, Q: "this is covered
// by Q". PagerDuty stops notifying from P for both alerts, and her merge
// was her acknowledgement of x's alert only (mergedAway): y paged on in
// pagerd (carol's SMS at 2m, then her call) for an alert she had just
// said was covered. A person's merge of P acknowledges everything P held
// when it was made, as her acknowledgement of P would: y is acknowledged
// as carol, its timeline saying so and why (the merge of P, into Q),
// and no SMS goes for it; z, whose incident nobody acknowledged, pages
// on. Whatever order the webhooks come in (y's merge into P delivered
// after P's into Q), and P's merge delivered again after a first
// answered 5xx (the merges' record refused, or y's acknowledgement). On
// both stores.
func TestPagerDutyPersonsMergeAcknowledgesWhatTheIncidentHeld(t *testing.T) {
	for name, mk := range stores(t) {
		for _, order := range []string{"in order", "y's merge delivered last", "P's merge 5xx, record refused", "P's merge 5xx, y refused", "P's merge 5xx, record refused, y's merge last"} {
			t.Run(name+"/"+order, func(t *testing.T) {
				fake := providertest.NewPagerDuty(t)
				refusing := &refusingUpdatesOf{Store: mk(t)}
				st := &refusedMergesWrite{Store: refusing}
				h := newHarness(t, withStore(st), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"), fastRetries())
				ids, keys := firedToCarol(t, h, "x", "y", "z")
				x, y, z := ids[0], ids[1], ids[2]
				kx, ky, kz := keys[0], keys[1], keys[2]
				p, q := fake.Incident(kx), fake.Incident(kz)
				yx := fake.Merge(ky, kx, "")
				xz := fake.Merge(kx, kz, pdAgentCarol)
				deliver := func(what, body string, want int) {
					t.Helper()
					if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, body); code != want && (want != 500 || code < 500) {
						t.Fatalf("%s: %d %s, want %d", what, code, out, want)
					}
				}
				switch order {
				case "in order":
					deliver("y's merge into P", yx, 204)
					deliver("carol's merge of P", xz, 204)
				case "y's merge delivered last":
					deliver("carol's merge of P", xz, 204)
					deliver("y's merge into P, delivered last", yx, 204)
				case "P's merge 5xx, record refused":
					deliver("y's merge into P", yx, 204)
					st.armed.Store(true)
					deliver("carol's merge of P, the merges' record refused", xz, 500)
					deliver("carol's merge of P, delivered again", xz, 204)
				case "P's merge 5xx, y refused":
					deliver("y's merge into P", yx, 204)
					refusing.set(y)
					deliver("carol's merge of P, y's write refused", xz, 500)
					refusing.set()
					deliver("carol's merge of P, delivered again", xz, 204)
				case "P's merge 5xx, record refused, y's merge last":
					st.armed.Store(true)
					deliver("carol's merge of P, the merges' record refused", xz, 500)
					deliver("carol's merge of P, delivered again", xz, 204)
					deliver("y's merge into P, delivered last", yx, 204)
				}
				h.runUntil(fixedNow.Add(10 * time.Minute))
				for _, id := range []string{x, y} {
					if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "carol" {
						t.Fatalf("%s after carol merged PagerDuty's incident %s, which held its alert, into %s: %s by %q, paged %v; want acknowledged by carol",
							id, p, q, v.Status, v.AcknowledgedBy, pagedFor(h, id))
					}
				}
				if got := pagedFor(h, y); len(got) != 0 {
					t.Fatalf("y paged after carol merged the PagerDuty incident holding its alert: %v", got)
				}
				if !ackedNoting(h, y, "carol", "merged incident "+p+", which held this incident's alert, into incident "+q) {
					t.Fatalf("y's timeline does not say carol acknowledged it, and that it was by her merge of %s into %s: %+v", p, q, h.incident(y).Timeline)
				}
				if v := h.incident(z); v.Status != "triggered" || len(pagedFor(h, z)) == 0 {
					t.Fatalf("z, whose PagerDuty incident %s nobody acknowledged: %s by %q, paged %v; want its ladder on", q, v.Status, v.AcknowledgedBy, pagedFor(h, z))
				}
				if got := pdActions(fake, ky); strings.Join(got, ",") != "trigger" {
					t.Fatalf("PagerDuty was told %q under y's key, merged into %s", got, q)
				}
			})
		}
	}
}

// TestPagerDutyPersonsMergeAcknowledgesNothingMergedAfterIt: carol merges
// x's PagerDuty incident, P, into z's; a merge of w's into P made after
// hers (occurred_at later) was not hers to see: it follows P's merge to
// z's incident, which nobody acknowledged, and w's ladder goes on,
// whichever webhook comes first. PagerDuty's own merge of P (alert
// grouping: no person, or the service) acknowledges nothing P held: y,
// merged into P before, pages on. On both stores.
func TestPagerDutyPersonsMergeAcknowledgesNothingMergedAfterIt(t *testing.T) {
	for name, mk := range stores(t) {
		for _, order := range []string{"later merge first", "later merge last"} {
			t.Run(name+"/"+order, func(t *testing.T) {
				fake := providertest.NewPagerDuty(t)
				h := newHarness(t, withStore(mk(t)), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"), fastRetries())
				ids, keys := firedToCarol(t, h, "x", "z", "w")
				x, w := ids[0], ids[2]
				kx, kz, kw := keys[0], keys[1], keys[2]
				wx := fake.Merge(kw, kx, "")
				xz := fake.Merge(kx, kz, pdAgentCarol)
				wx = occurredAfter(t, wx, xz)
				bodies := []string{wx, xz}
				if order == "later merge last" {
					bodies = []string{xz, wx}
				}
				for _, body := range bodies {
					if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, body); code != 204 {
						t.Fatalf("webhook: %d %s", code, out)
					}
				}
				h.runUntil(fixedNow.Add(10 * time.Minute))
				if v := h.incident(x); v.Status != "acknowledged" || v.AcknowledgedBy != "carol" {
					t.Fatalf("x after carol merged its PagerDuty incident: %s by %q", v.Status, v.AcknowledgedBy)
				}
				if v := h.incident(w); v.Status != "triggered" || len(pagedFor(h, w)) == 0 {
					t.Fatalf("w, merged into the PagerDuty incident carol merged away, after her merge: %s by %q, paged %v; want its ladder on",
						v.Status, v.AcknowledgedBy, pagedFor(h, w))
				}
			})
		}
		for who, agent := range pdMergeAgents {
			t.Run(name+"/merged by "+who, func(t *testing.T) {
				fake := providertest.NewPagerDuty(t)
				h := newHarness(t, withStore(mk(t)), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"), fastRetries())
				ids, keys := firedToCarol(t, h, "x", "y", "z")
				kx, ky, kz := keys[0], keys[1], keys[2]
				for _, body := range []string{fake.Merge(ky, kx, ""), fake.Merge(kx, kz, agent)} {
					if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, body); code != 204 {
						t.Fatalf("webhook: %d %s", code, out)
					}
				}
				h.runUntil(fixedNow.Add(10 * time.Minute))
				for _, id := range ids {
					if v := h.incident(id); v.Status != "triggered" || len(pagedFor(h, id)) == 0 {
						t.Fatalf("%s after PagerDuty itself merged the incidents: %s by %q, paged %v; want its ladder on",
							id, v.Status, v.AcknowledgedBy, pagedFor(h, id))
					}
				}
			})
		}
	}
}
