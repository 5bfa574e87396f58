package boltstore

import (
	"context"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/internal/filltest"
	"go.etcd.io/bbolt"
)

// filledIncident is an incident with every field set (its state naming
// it, as the intake's does), stored in shard order, its first step
// pending.
func filledIncident(t *testing.T, at time.Time, seed int, empty bool) *store.Incident {
	inc := &store.Incident{}
	n := seed
	filltest.Fill(t, reflect.ValueOf(inc).Elem(), at, &n, empty)
	inc.DedupKey = "am:" + inc.DedupKey
	inc.ID = store.NewID(store.ShardOf(inc.Service, inc.DedupKey), at)
	inc.State.ID, inc.State.Service = inc.ID, inc.Service
	inc.State.Status = "triggered"
	inc.Version, inc.Repeats = 0, 0
	if empty { // one step pending, to be claimed
		n := 500
		filltest.Fill(t, reflect.ValueOf(&inc.State.Pending).Elem(), at, &n, false)
	}
	return inc
}

// storedDoc is the document s holds for the incident id, decoded.
func storedDoc(t *testing.T, s *Store, id string) *store.Incident {
	t.Helper()
	var inc *store.Incident
	if err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		inc, err = readIncident(tx, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return inc
}

// claimOne claims the one incident due on s and returns the claim's record.
func claimOne(t *testing.T, s *Store, now time.Time) *store.Incident {
	t.Helper()
	claims, err := s.ClaimDue(context.Background(), now.Add(time.Hour), time.Minute, 10)
	if err != nil || len(claims) != 1 || claims[0].Record == nil {
		t.Fatalf("ClaimDue: %+v %v", claims, err)
	}
	return claims[0].Record
}

// TestCreatedClaimIsWhatDecodingGives: the incident a claim is handed from
// Trigger's copy is what decoding the stored document gives, for an
// incident with every field set (times with a monotonic reading and in a
// zone at UTC's offset, strings JSON escapes), with its slices empty
// rather than nil, and with the original's fields changed after Trigger
// returned; and the claim was handed the copy, not a decoding.
func TestCreatedClaimIsWhatDecodingGives(t *testing.T) {
	now := time.Now() // a monotonic reading, and the Local zone
	if _, off := now.Zone(); off != 0 {
		now = time.Now().In(time.FixedZone("here", 0)) // a zone of its own at UTC's offset
	}
	for _, empty := range []bool{false, true} {
		t.Run("slices empty "+strconv.FormatBool(empty), func(t *testing.T) {
			s := open(t, t.TempDir())
			inc := filledIncident(t, now, 0, empty)
			inc.UpdatedAt = inc.UpdatedAt.In(time.FixedZone("Z0", 0))
			if _, out, err := s.Trigger(context.Background(), inc, nil); err != nil || out != store.Created {
				t.Fatalf("Trigger: %v %v", out, err)
			}
			kept, _ := s.created.Peek(inc.ID)
			if kept == nil {
				t.Fatal("Trigger kept no copy of the incident it created")
			}
			id := inc.ID
			*inc = *filledIncident(t, now.Add(time.Hour), 1000, false) // the caller's own fields are its own
			got := claimOne(t, s, now)
			if got != kept.inc {
				t.Fatal("the claim decoded the document instead of taking the copy Trigger kept")
			}
			if _, ok := s.created.Peek(id); ok {
				t.Error("the copy is still kept after being handed over")
			}
			if want := storedDoc(t, s, id); !reflect.DeepEqual(got, want) {
				gj, _ := json.Marshal(got)
				wj, _ := json.Marshal(want)
				t.Errorf("the copy differs from the decoded document:\ncopy    %s\ndecoded %s\n%#v\n%#v", gj, wj, got, want)
			}
		})
	}
}

// TestCreatedCopyIsNotHandedOverWhenItWouldDiffer: where the copy is not
// what decoding gives, the claim decodes: the document was written again
// since (a repeat), a string that is not UTF-8 (JSON writes it replaced),
// a time at another offset than UTC's, details decoding gives back in
// other bytes, a state that names another incident.
func TestCreatedCopyIsNotHandedOverWhenItWouldDiffer(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC()
	t.Run("repeated since", func(t *testing.T) {
		s := open(t, t.TempDir())
		inc := filledIncident(t, now, 0, false)
		if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
			t.Fatal(err)
		}
		again := filledIncident(t, now.Add(time.Second), 0, false)
		again.Service, again.DedupKey = inc.Service, inc.DedupKey
		again.ID = store.NewID(store.ShardOf(inc.Service, inc.DedupKey), now.Add(time.Second))
		if _, out, err := s.Trigger(ctx, again, nil); err != nil || out != store.Repeated {
			t.Fatalf("second Trigger: %v %v", out, err)
		}
		if _, ok := s.created.Peek(again.ID); ok {
			t.Error("a repeat's incident, never created, is kept")
		}
		if got := claimOne(t, s, now); got.Repeats != 1 {
			t.Errorf("claim after a repeat: repeats %d; want 1, from the document", got.Repeats)
		}
	})
	for name, change := range map[string]func(*store.Incident){
		"not UTF-8":               func(inc *store.Incident) { inc.Summary = "disk \xff full" },
		"another offset":          func(inc *store.Incident) { inc.Outbox[0].Due = inc.Outbox[0].Due.In(time.FixedZone("CET", 3600)) },
		"details not compact":     func(inc *store.Incident) { inc.Details = json.RawMessage(`{"n": 1}`) },
		"details with <b>":        func(inc *store.Incident) { inc.Details = json.RawMessage(`{"n":"<b>"}`) },
		"a state of another id":   func(inc *store.Incident) { inc.State.ID = "other" },
		"another service's state": func(inc *store.Incident) { inc.State.Service = "other" },
	} {
		t.Run(name, func(t *testing.T) {
			s := open(t, t.TempDir())
			inc := filledIncident(t, now, 0, false)
			change(inc)
			if _, out, err := s.Trigger(ctx, inc, nil); err != nil || out != store.Created {
				t.Fatalf("Trigger: %v %v", out, err)
			}
			if _, ok := s.created.Peek(inc.ID); ok {
				t.Error("kept a copy that decoding does not give back")
			}
			if got, want := claimOne(t, s, now), storedDoc(t, s, inc.ID); !reflect.DeepEqual(got, want) {
				t.Errorf("the claim's record differs from the decoded document:\n%#v\n%#v", got, want)
			}
		})
	}
}
