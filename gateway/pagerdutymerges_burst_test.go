package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/notify/pagerduty"
)

// TestPagerDutyMergesBurstIsKept: every acknowledgement and resolve made
// in PagerDuty by a person writes the merges' record (a merge delivered
// after it must find it), and the record is one kind of document written
// with the kind's version. A burst (a person acknowledging 50 incidents
// at once in PagerDuty's list, two replicas behind the load balancer)
// had 23 to 38 of 50 writes refused after ten tries back to back, each
// answered 5xx. A replica now writes one at a time, and a write another
// replica got in first is tried again after a short random wait: none
// is refused. On both stores.
func TestPagerDutyMergesBurstIsKept(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := mk(t)
			now := func() time.Time { return fixedNow }
			replicas := []*pagerDutyMerges{newPagerDutyMerges(st, now, nil), newPagerDutyMerges(st, now, nil)}
			const burst = 50
			var wg sync.WaitGroup
			errs := make(chan error, burst)
			for i := range burst {
				wg.Go(func() {
					m := replicas[i%len(replicas)]
					pd := fmt.Sprintf("Q%d", i)
					if i%2 == 0 {
						_, err := m.Acknowledged(context.Background(), pd, "PCAROL1", fixedNow)
						errs <- err
					} else {
						_, err := m.Resolved(context.Background(), pd, "PCAROL1", nil)
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			refused := 0
			for err := range errs {
				if err != nil {
					refused++
					t.Log(err)
				}
			}
			if refused > 0 {
				t.Fatalf("%d of %d writes of the merges' record refused in a burst from two replicas", refused, burst)
			}
		})
	}
}

// TestPagerDutyAcknowledgementDoesNotReachAnAlertOfUnknownArrival: a
// merge whose webhook carries no occurred_at records its alert's arrival
// as unknown. A person's acknowledgement (with its occurred_at) counted
// such an alert as seen, even when the merge came after it: pagerd
// acknowledged, as that person, an incident nobody had acknowledged
// (rev34). An alert of unknown arrival is not taken as seen: its ladder
// goes on, the safe side; every real webhook carries occurred_at. On both
// stores.
func TestPagerDutyAcknowledgementDoesNotReachAnAlertOfUnknownArrival(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := mk(t)
			m := newPagerDutyMerges(st, func() time.Time { return fixedNow }, nil)
			h := newHarness(t, withStore(st), withConfig(pdConfig))
			y := pagerduty.Moved{Key: pagerduty.DedupKey(fire(h), "carol", 0), Into: "Q1"}
			if _, err := m.Merge(context.Background(), "Q2", "Q1", time.Time{}, y); err != nil {
				t.Fatal(err)
			}
			moved, err := m.Acknowledged(context.Background(), "Q1", "PCAROL1", fixedNow.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if len(moved) != 0 {
				t.Fatalf("an acknowledgement reaches %v, merged in at a time not known: it may not have seen it", moved)
			}
		})
	}
}

// TestPagerDutyMergesWaitEndsWithItsWebhook: a webhook waiting for this
// replica's write before it (the store stalled under that one) gives up
// when its own time runs out, answered 5xx, instead of holding its
// goroutine until its turn.
func TestPagerDutyMergesWaitEndsWithItsWebhook(t *testing.T) {
	m := newPagerDutyMerges(nil, func() time.Time { return fixedNow }, nil) // the store is never reached
	m.writing <- struct{}{}                                                 // another webhook's write, stalled
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := m.Acknowledged(ctx, "Q1", "PCAROL1", fixedNow); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting for the write before it: %v, want its deadline", err)
	}
}

// TestPagerDutyMergesUnreadableRecordIsSaid: a record this version
// cannot read (another version's form) is dropped at the next write, and
// what it kept is lost with it: said at WARN, not in silence. On both
// stores.
func TestPagerDutyMergesUnreadableRecordIsSaid(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := mk(t)
			ctx := context.Background()
			var logs bytes.Buffer
			m := newPagerDutyMerges(st, func() time.Time { return fixedNow }, slog.New(slog.NewTextHandler(&logs, nil)))
			_, ver, err := st.ListDocs(ctx, pagerDutyMergesKind)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.PutDocs(ctx, pagerDutyMergesKind, ver, map[string][]byte{"Q7": []byte(`{"alerts":"a form of another version"}`)}, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Acknowledged(ctx, "Q1", "PCAROL1", fixedNow); err != nil {
				t.Fatal(err)
			}
			if raw, _, err := st.ListDocs(ctx, pagerDutyMergesKind); err != nil || raw["Q7"] != nil {
				t.Fatalf("the unreadable record after a write: %q, %v; want it dropped", raw["Q7"], err)
			}
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "pagerduty_incident=Q7") {
				t.Fatalf("dropped without a warning: %q", logs.String())
			}
		})
	}
}
