package redisstore

import (
	"context"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/internal/filltest"
	"github.com/pagerd/pagerd/internal/redistest"
	"github.com/pagerd/pagerd/policy"
)

// filledIncident is an incident with every field set, stored in shard
// order, its first step pending.
func filledIncident(t *testing.T, base time.Time, seed int, empty bool) *store.Incident {
	inc := &store.Incident{}
	n := seed
	filltest.Fill(t, reflect.ValueOf(inc).Elem(), base, &n, empty)
	inc.DedupKey = "am:" + inc.DedupKey
	inc.ID = store.NewID(store.ShardOf(inc.Service, inc.DedupKey), base)
	inc.State.Status = "triggered"
	inc.Version, inc.Repeats = 0, 0
	// A receipt to the millisecond, as the intake stamps it and the
	// header keeps it (an incident with a finer one is decoded, not kept).
	inc.LastReceived = inc.LastReceived.Truncate(time.Millisecond)
	return inc
}

// openStore is a store of its own prefix on srv.
func openStore(t *testing.T, srv *redistest.Server, prefix string) *Store {
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { rdb.Close() })
	return New(rdb, prefix)
}

// TestCreatedClaimIsWhatDecodingGives checks that the incident a claim is
// handed from Trigger's copy is what decoding the stored record gives, for
// an incident with every field set (times with a monotonic reading and in
// a zone at UTC's offset), with its slices empty rather than nil, and with
// the original's fields changed after Trigger returned; and that the claim
// was handed the copy, not a decoding.
func TestCreatedClaimIsWhatDecodingGives(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	now := time.Now() // a monotonic reading, and the Local zone
	if _, off := now.Zone(); off != 0 {
		now = time.Now().In(time.FixedZone("here", 0)) // a zone of its own at UTC's offset
	}
	for i, tc := range []struct {
		name  string
		empty bool
	}{{"every field set", false}, {"slices empty, not nil", true}} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, srv, "cc"+strconv.Itoa(i))
			inc := filledIncident(t, now, 0, tc.empty)
			inc.UpdatedAt = inc.UpdatedAt.In(time.FixedZone("Z0", 0))
			if tc.empty { // one step pending, to be claimed
				n := 500
				filltest.Fill(t, reflect.ValueOf(&inc.State.Pending).Elem(), now, &n, false)
			}
			if _, outcome, err := s.Trigger(ctx, inc, nil); err != nil || outcome != store.Created {
				t.Fatalf("Trigger: %v %v", outcome, err)
			}
			kept, _ := s.created.Peek(inc.ID)
			if kept == nil {
				t.Fatal("Trigger kept no copy of the incident it created")
			}
			// Whatever the caller does with its incident's own fields
			// afterwards is not the copy's business (the contents of its
			// slices and details it handed over: store.Store.Trigger).
			*inc = *filledIncident(t, now.Add(time.Hour), 1000, false)

			claims, err := s.ClaimDue(ctx, now.Add(time.Hour), time.Minute, 10)
			if err != nil || len(claims) != 1 {
				t.Fatalf("ClaimDue: %v %v", claims, err)
			}
			got := claims[0].Record
			if got != kept.inc {
				t.Fatal("the claim decoded the record instead of taking the copy Trigger kept")
			}
			if isKept(s, claims[0].Incident) {
				t.Error("the copy is still kept after being handed over")
			}
			raw, err := s.raw(ctx, claims[0].Incident)
			if err != nil {
				t.Fatal(err)
			}
			want, err := decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				gj, _ := json.Marshal(got)
				wj, _ := json.Marshal(want)
				t.Errorf("the copy differs from the decoded record:\ncopy    %s\ndecoded %s\n%#v\n%#v", gj, wj, got, want)
			}
		})
	}
}

// TestCreatedCopyIsNotHandedOverWhenItWouldDiffer checks the cases where the
// copy is not what decoding gives, and the claim must decode: the record
// was written again since (a repeat), a string that is not UTF-8 (JSON
// writes it replaced), a time at another offset than UTC's; and that a
// copy is handed over once.
func TestCreatedCopyIsNotHandedOverWhenItWouldDiffer(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	now := time.Now().UTC()
	claimOne := func(t *testing.T, s *Store) *store.Incident {
		t.Helper()
		claims, err := s.ClaimDue(ctx, now.Add(time.Hour), time.Minute, 10)
		if err != nil || len(claims) != 1 || claims[0].Record == nil {
			t.Fatalf("ClaimDue: %+v %v", claims, err)
		}
		return claims[0].Record
	}

	t.Run("repeated since", func(t *testing.T) {
		s := openStore(t, srv, "ccr")
		inc := filledIncident(t, now, 0, false)
		if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
			t.Fatal(err)
		}
		again := filledIncident(t, now.Add(time.Second), 0, false)
		again.Service, again.DedupKey = inc.Service, inc.DedupKey
		again.ID = store.NewID(store.ShardOf(inc.Service, inc.DedupKey), now.Add(time.Second))
		if _, outcome, err := s.Trigger(ctx, again, nil); err != nil || outcome != store.Repeated {
			t.Fatalf("second Trigger: %v %v", outcome, err)
		}
		if isKept(s, again.ID) {
			t.Error("a repeat's incident, never created, is kept")
		}
		if got := claimOne(t, s); got.Repeats != 1 || got == inc {
			t.Errorf("claim after a repeat: repeats %d; want 1, from the record", got.Repeats)
		}
	})
	t.Run("not UTF-8", func(t *testing.T) {
		s := openStore(t, srv, "ccu")
		inc := filledIncident(t, now, 0, false)
		inc.Summary = "disk \xff full"
		if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
			t.Fatal(err)
		}
		if isKept(s, inc.ID) {
			t.Error("kept a copy whose summary decoding changes")
		}
		if got := claimOne(t, s); got.Summary != "disk \uFFFD full" {
			t.Errorf("summary %q", got.Summary)
		}
	})
	t.Run("another offset", func(t *testing.T) {
		s := openStore(t, srv, "cco")
		inc := filledIncident(t, now, 0, false)
		inc.State.TriggeredAt = inc.State.TriggeredAt.In(time.FixedZone("CET", 3600))
		if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
			t.Fatal(err)
		}
		if isKept(s, inc.ID) {
			t.Error("kept a copy with a time decoding gives in another zone")
		}
		claimOne(t, s)
	})
	// triggered triggers a filled incident on a store of its own and returns
	// the store, the incident and its stored record.
	triggered := func(t *testing.T, prefix string) (*Store, *store.Incident, string) {
		t.Helper()
		s := openStore(t, srv, prefix)
		inc := filledIncident(t, now, 0, false)
		if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
			t.Fatal(err)
		}
		raw, err := s.raw(ctx, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		return s, inc, raw
	}
	t.Run("last seen outside years 0-9999", func(t *testing.T) {
		s := openStore(t, srv, "ccy")
		inc := filledIncident(t, now, 0, false)
		inc.LastSeen = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) // in the header only: decoding gives zero
		if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
			t.Fatal(err)
		}
		if isKept(s, inc.ID) {
			t.Error("kept a copy whose last seen decoding does not give back")
		}
		claimOne(t, s)
	})
	t.Run("a status the header cannot hold", func(t *testing.T) {
		for i, st := range []string{"a b", "a\nb", ""} {
			s := openStore(t, srv, "ccs"+strconv.Itoa(i))
			inc := filledIncident(t, now, 0, false)
			inc.State.Status = policy.Status(st)
			if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
				t.Fatal(err)
			}
			if isKept(s, inc.ID) {
				t.Errorf("kept a copy of an incident of status %q, whose record does not decode", st)
			}
		}
	})
	t.Run("handed over once", func(t *testing.T) {
		s, inc, raw := triggered(t, "cc1")
		if s.takeCreated(inc.ID, raw) == nil {
			t.Fatal("the first take of an unchanged record got no copy")
		}
		if s.takeCreated(inc.ID, raw) != nil {
			t.Error("a copy was handed over twice")
		}
	})
	t.Run("a byte differs", func(t *testing.T) {
		s, inc, raw := triggered(t, "ccb")
		c, _ := s.created.Peek(inc.ID)
		h, d := len(c.header), len(c.doc)
		for what, at := range map[string]int{"header": 3, "document": h + 1 + d/2, "details": h + 1 + d + 1} {
			s.created.Keep(inc.ID, c)
			changed := raw[:at] + string(raw[at]^1) + raw[at+1:]
			if s.takeCreated(inc.ID, changed) != nil {
				t.Errorf("handed over the copy for a record whose %s differs", what)
			}
		}
	})
}

// isKept reports whether s keeps a copy of id for its claim.
func isKept(s *Store, id string) bool {
	c, ok := s.created.Peek(id)
	return ok && c != nil
}
