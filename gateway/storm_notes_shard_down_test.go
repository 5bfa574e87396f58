package gateway

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/gateway/store"
)

// notesShardDown is a replica's view of a Redis Cluster one of whose
// nodes is down: the notes of a storm message (entries of a bundle) in
// the timelines of the incidents on that node are refused (unavailable),
// for good; every other write goes through, the storm's flush too, whose
// time is kept.
type notesShardDown struct {
	store.Store

	mu      sync.Mutex
	refused int
	first   time.Time // the first note refused: right after the message went out
	flushed time.Time
}

func (s *notesShardDown) Note(ctx context.Context, entries map[string][]store.Entry) error {
	down := false
	for id, es := range entries {
		if len(es) > 0 && es[0].Bundle != "" {
			down = true
			continue
		}
		if err := s.Store.Note(ctx, map[string][]store.Entry{id: es}); err != nil {
			return err
		}
		delete(entries, id)
	}
	if down {
		s.mu.Lock()
		s.refused++
		if s.first.IsZero() {
			s.first = time.Now()
		}
		s.mu.Unlock()
		return fmt.Errorf("%w: CLUSTERDOWN the cluster is down", store.ErrUnavailable)
	}
	return nil
}

func (s *notesShardDown) Flushed(ctx context.Context, c store.Claim, n, top int, now time.Time, r store.StormRules) (bool, error) {
	ok, err := s.Store.Flushed(ctx, c, n, top, now, r)
	if err == nil {
		s.mu.Lock()
		if s.flushed.IsZero() {
			s.flushed = time.Now()
		}
		s.mu.Unlock()
	}
	return ok, err
}

// TestStormWhoseNotesAShardRefusesReopensItsWindowWithinHalfALease: ann's
// storm (a 1 s window, 3 pages at once) holds the fourth of four P0s, and
// its message goes out; the node of the held incident is down, so its
// note in that timeline is refused, while the storm's own shard takes
// its flush. The flush came only after the notes were given up, and
// e607288 made that the claim's time (RecordRetry, a lease and the send
// timeout: 7 s here, 50 s by default) instead of half the lease: the
// storm's window stayed closed, and every new page to ann on push was
// held behind a message she already had, for as long. Notes refused do
// not let another replica send the message again (the flush does), so
// they are tried for half the lease before the flush, as before, and
// once more after it.
func TestStormWhoseNotesAShardRefusesReopensItsWindowWithinHalfALease(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			h := newHarness(t, withStore(mk(t)), withConfig(stormConfig+"notifiers:\n  storm: {window: 1s, immediate: 3}\n"),
				withNow(time.Now), withNotifier("log", rec), replicas(0))
			down := &notesShardDown{Store: h.store}
			const lease = 2 * time.Second
			a, _ := h.dispatcher(func(o *dispatch.Options) {
				o.Lease, o.SendTimeout, o.Now, o.Store = lease, 5*time.Second, time.Now, down
			})
			storm(h, 4, "p")
			var sent time.Time
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the storm's message was not flushed (sent %v, %d notes refused): %v", !sent.IsZero(), down.refused, rec.lines(fixedNow))
				}
				if _, err := a.RunOnce(context.Background()); err != nil {
					t.Fatal(err)
				}
				if sent.IsZero() {
					for _, m := range rec.sentTo("ann", "push") {
						if len(m.Incidents) > 0 {
							sent = time.Now()
						}
					}
				}
				down.mu.Lock()
				flushed, first := down.flushed, down.first
				down.mu.Unlock()
				if !flushed.IsZero() {
					if sent.IsZero() {
						t.Fatal("flushed before its message was seen")
					}
					if first.IsZero() {
						t.Fatal("no note of the message was refused")
					}
					if took := flushed.Sub(first); took > lease+lease/2 {
						t.Fatalf("the storm was flushed %v after its message went out (%d notes refused), want within one and a half leases (%v): its window stayed closed meanwhile, ann's new pages held",
							took.Round(10*time.Millisecond), down.refused, lease+lease/2)
					} else {
						t.Logf("flushed %v after the message", took.Round(10*time.Millisecond))
					}
					return
				}
			}
		})
	}
}
