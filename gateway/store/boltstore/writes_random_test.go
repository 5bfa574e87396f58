package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// checkIndexes verifies the created, open and resolve-time indexes against
// the incidents: one created record each, equal to indexRecord; an open
// record, the same, for exactly the open ones.
func checkIndexes(t *testing.T, s *Store) {
	t.Helper()
	err := s.db.View(func(tx *bbolt.Tx) error {
		created, open, resolved := tx.Bucket(bucketCreated), tx.Bucket(bucketOpen), tx.Bucket(bucketResolved)
		nOpen, nResolved := 0, 0
		err := tx.Bucket(bucketIncidents).ForEach(func(k, v []byte) error {
			inc, err := decodeIncident(string(k), v)
			if err != nil {
				return err
			}
			key := concat(timeKey(inc.CreatedAt.UnixMilli()), []byte(inc.ID))
			want := indexRecord(inc)
			if got := created.Get(key); !bytes.Equal(got, want) {
				t.Errorf("incident %s (%s): created record %q, want %q", inc.ID, inc.State.Status, got, want)
			}
			got := open.Get(key)
			switch {
			case inc.Open() && !bytes.Equal(got, want):
				t.Errorf("open incident %s (%s): open record %q, want %q", inc.ID, inc.State.Status, got, want)
			case !inc.Open() && got != nil:
				t.Errorf("resolved incident %s: open record %q, want none", inc.ID, got)
			}
			if inc.Open() {
				nOpen++
			} else {
				nResolved++
				if resolved.Get(concat(timeKey(store.ResolvedMS(inc)), []byte(inc.ID))) == nil {
					t.Errorf("resolved incident %s has no entry in the index of resolve times", inc.ID)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if n := open.Stats().KeyN; n != nOpen {
			t.Errorf("%d open index records for %d open incidents", n, nOpen)
		}
		if n := created.Stats().KeyN; n != nOpen+nResolved {
			t.Errorf("%d created index records for %d incidents", n, nOpen+nResolved)
		}
		if n := resolved.Stats().KeyN; n != nResolved {
			t.Errorf("%d resolve-time index records for %d resolved incidents", n, nResolved)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// dumpSched is the due and sched buckets with ids as their order of
// creation and claim tokens as whether there is one, to compare the state
// two versions of the store leave after the same calls.
func dumpSched(t *testing.T, s *Store, ids []string) string {
	t.Helper()
	num := map[string]int{}
	for i, id := range ids {
		num[id] = i
	}
	var lines []string
	err := s.db.View(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketDue).ForEach(func(k, _ []byte) error {
			lines = append(lines, fmt.Sprintf("due %d at %d", num[string(k[8:])], keyTime(k)))
			return nil
		}); err != nil {
			return err
		}
		for _, id := range ids {
			cur, orig, tok, ok := parseSched(tx.Bucket(bucketSched).Get(idKey(id)))
			if ok {
				lines = append(lines, fmt.Sprintf("sched %d at %d orig %d claimed %v", num[id], keyTime(cur), orig, tok != ""))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestRandomWritesKeepDueSetAndIndexes drives the incidents' write path
// (Trigger, ClaimDue, Update, Finish with the claim that holds the
// incident and with one lost to a takeover, Complete, Release, Extend) at
// random, with deadlines that move earlier, later, to the same
// millisecond or away, outbox items, resolves, reopens and
// acknowledgements, and after every call checks the due set (checkSched),
// the indexes (checkIndexes) and each incident's claim: held at its lease
// end by the claim that holds it until that claim is released (a step
// moved off its lease pages twice), none once it is (a step left claimed
// is missed until a takeover). The writer's changes that read an
// incident's sched record once and skip the open index's lookup were
// checked with it against the store before them: the same due set after
// every call of 4 seeds of 1,500 (PAGERD_DUMP_SCHED=FILE writes it after
// every call, to FILE.<seed>). With releases to a later time (as a
// replica that cannot page an incident gives it up), each incident's
// time is checked against the calls too: kept through its Updates and
// stale Finishes while a step is pending, put to the earliest deadline
// or that time, whichever is later, and spent by the next claim.
func TestRandomWritesKeepDueSetAndIndexes(t *testing.T) {
	for seed := range uint64(2) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { randomWrites(t, seed, false) })
	}
	t.Run("2-release-to-later", func(t *testing.T) { randomWrites(t, 2, true) })
}

// randomWrites is a run of TestRandomWritesKeepDueSetAndIndexes; later
// has Release put incidents off to a later time, half the time.
func randomWrites(t *testing.T, seed uint64, later bool) {
	s, ctx := open(t, t.TempDir()), context.Background()
	rng := rand.New(rand.NewPCG(seed, 99))
	now := base
	var ids []string
	var claims []store.Claim
	var dump []string
	// lease is each incident's claim as the calls made it: the token
	// and the lease end of the claim that holds it, none once released.
	type lease struct {
		token string
		until int64
	}
	leases := map[string]lease{}
	// heldTo is the time a Release put each unclaimed incident off to,
	// as the calls made it.
	heldTo := map[string]int64{}
	released := func(c store.Claim) {
		if l, ok := leases[c.Incident]; ok && l.token == c.Token {
			delete(leases, c.Incident)
		}
	}
	mutate := func(inc *store.Incident) {
		st := &inc.State
		switch rng.IntN(10) {
		case 0: // the first step paged
			if len(st.Pending) > 0 {
				st.Pending = st.Pending[1:]
			}
		case 1: // a step at the same millisecond as the earliest
			if at, ok := store.DueAt(inc); ok {
				st.Seq++
				st.Pending = append(st.Pending, policy.Deadline{ID: fmt.Sprintf("s%d", st.Seq), At: at, Kind: policy.DeadlineNotify, User: "u", Channel: "sms", Seq: st.Seq})
			}
		case 2: // earlier or later
			st.Seq++
			st.Pending = append(st.Pending, policy.Deadline{ID: fmt.Sprintf("s%d", st.Seq), At: now.Add(time.Duration(rng.IntN(600)-120) * time.Second), Kind: policy.DeadlineNotify, User: "u", Channel: "sms", Seq: st.Seq})
		case 3:
			st.Pending = nil
		case 4: // resolve
			st.Status, st.ResolvedAt, st.Pending = policy.StatusResolved, now, nil
		case 5: // reopen, or acknowledge
			if st.Status == policy.StatusResolved {
				st.Status, st.ResolvedAt = policy.StatusTriggered, time.Time{}
				st.Seq++
				st.Pending = append(st.Pending, policy.Deadline{ID: fmt.Sprintf("s%d", st.Seq), At: now, Kind: policy.DeadlineNotify, User: "u", Channel: "sms", Seq: st.Seq})
			} else {
				st.Status = policy.StatusAcknowledged
			}
		case 6:
			st.Priority = []string{"P0", "P1", "P2"}[rng.IntN(3)]
		case 7: // an outbox item due
			inc.Outbox = append(inc.Outbox, store.OutboxItem{ID: fmt.Sprintf("o%d", len(inc.Outbox)), Kind: "pagerduty", Action: "ack", Due: now.Add(time.Duration(rng.IntN(60)) * time.Second), Since: now})
		case 8:
			inc.Outbox = nil
		default: // a note only
		}
	}
	pick := func() (store.Claim, bool) {
		if len(claims) == 0 {
			return store.Claim{}, false
		}
		return claims[rng.IntN(len(claims))], true
	}
	// pickHeld is a claim that still holds its incident, if any, else
	// any (pick): most claims picked at random are long gone, and their
	// Release does nothing.
	pickHeld := func() (store.Claim, bool) {
		var live []store.Claim
		for _, c := range claims {
			if l, ok := leases[c.Incident]; ok && l.token == c.Token {
				live = append(live, c)
			}
		}
		if len(live) == 0 {
			return pick()
		}
		return live[rng.IntN(len(live))], true
	}
	for step := range 600 {
		now = now.Add(time.Duration(rng.IntN(20000)) * time.Millisecond)
		var what string
		var err error
		switch op := rng.IntN(9); {
		case op == 0 || len(ids) == 0:
			inc := newIncident("api", fmt.Sprintf("k%d", len(ids)), now, rng.IntN(4))
			var id string
			id, _, err = s.Trigger(ctx, inc, nil)
			ids = append(ids, id)
			what = "trigger"
		case op == 1:
			var cs []store.Claim
			d := time.Duration(1+rng.IntN(60)) * time.Second
			cs, err = s.ClaimDue(ctx, now, d, 1+rng.IntN(3))
			claims = append(claims, cs...)
			for _, c := range cs {
				leases[c.Incident] = lease{c.Token, now.Add(d).UnixMilli()}
				delete(heldTo, c.Incident) // spent
			}
			what = fmt.Sprintf("claim %d", len(cs))
		case op == 2:
			var inc *store.Incident
			if inc, err = s.Get(ctx, ids[rng.IntN(len(ids))]); err == nil {
				mutate(inc)
				if err = s.Update(ctx, inc, nil); err == nil && len(inc.State.Pending) == 0 {
					delete(heldTo, inc.ID) // only outbox work, or nothing, left
				}
			}
			what = "update"
		case op == 3 || op == 4:
			c, ok := pick()
			if !ok {
				continue
			}
			if rng.IntN(4) == 0 {
				c.Token = fmt.Sprintf("%x", rng.Uint64()) // a claim lost to a takeover
			}
			var inc *store.Incident
			if inc, err = s.Get(ctx, c.Incident); err == nil {
				mutate(inc)
				if err = s.Finish(ctx, c, inc, []store.Entry{{At: now, Type: "notify"}}); err == nil {
					released(c)
					if len(inc.State.Pending) == 0 {
						delete(heldTo, inc.ID)
					}
				}
			}
			what = "finish"
		case op == 5:
			c, ok := pick()
			if !ok {
				continue
			}
			err, what = s.Complete(ctx, c), "complete"
			released(c)
		case op == 6:
			c, ok := pick()
			if later {
				c, ok = pickHeld()
			}
			if !ok {
				continue
			}
			var to time.Time
			if later && rng.IntN(2) == 0 {
				to = now.Add(time.Duration(rng.IntN(20000)-5000) * time.Millisecond)
			}
			l, holds := leases[c.Incident]
			holds = holds && l.token == c.Token
			err, what = s.Release(ctx, c, to), "release"
			released(c)
			if inc, gerr := s.Get(ctx, c.Incident); err == nil && gerr == nil && holds && !to.IsZero() {
				if _, pending := store.DueAt(inc); pending {
					heldTo[c.Incident] = to.UnixMilli()
				}
			}
		case op == 7:
			c, ok := pick()
			if !ok {
				continue
			}
			until := now.Add(time.Duration(rng.IntN(120)) * time.Second)
			if _, err = s.Extend(ctx, c, until); err == nil {
				if l, ok := leases[c.Incident]; ok && l.token == c.Token {
					leases[c.Incident] = lease{l.token, until.UnixMilli()}
				}
			}
			what = "extend"
		default:
			continue
		}
		if err != nil && !errors.Is(err, store.ErrConflict) {
			t.Fatalf("step %d %s: %v", step, what, err)
		}
		checkSched(t, s)
		checkIndexes(t, s)
		for _, id := range ids {
			inc, err := s.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			at, pending := store.DueAt(inc)
			if !pending {
				delete(leases, id) // dropped with the due entry
				delete(heldTo, id)
			}
			var cur []byte
			var tok string
			var found bool
			var to int64
			var held bool
			if err := s.db.View(func(tx *bbolt.Tx) error {
				rec := tx.Bucket(bucketSched).Get(idKey(id))
				cur, _, tok, found = parseSched(rec)
				to, held = notBeforeOf(rec)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if want, ok := heldTo[id]; held != ok || to != want {
				t.Errorf("incident %s: put off to %d (%v), want %d (%v)", id, to, held, want, ok)
			} else if held && keyTime(cur) != max(at.UnixMilli(), to) {
				t.Errorf("incident %s: put off to %d, due at %d, want %d", id, to, keyTime(cur), max(at.UnixMilli(), to))
			}
			switch l, held := leases[id]; {
			case held && (!found || tok != l.token || keyTime(cur) != l.until):
				t.Errorf("incident %s: sched %v %d %q, want its claim's lease to %d", id, found, keyTime(cur), tok, l.until)
			case !held && found && tok != "":
				t.Errorf("incident %s: still claimed after its claim was released", id)
			}
		}
		if t.Failed() {
			t.Fatalf("step %d (%s) left the store as above", step, what)
		}
		dump = append(dump, fmt.Sprintf("step %d %s\n%s", step, what, dumpSched(t, s, ids)))
	}
	if path := os.Getenv("PAGERD_DUMP_SCHED"); path != "" {
		if err := os.WriteFile(fmt.Sprintf("%s.%d", path, seed), []byte(strings.Join(dump, "\n")), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
