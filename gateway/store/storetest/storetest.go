// Package storetest is the conformance suite every store.Store must pass:
// Redis standalone, Redis Cluster and the embedded store run the same tests.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// Factory opens a fresh, empty store for one test. Reopen, if not nil,
// closes a store and opens the same data again (a restart).
type Factory struct {
	New    func(t *testing.T) store.Store
	Reopen func(t *testing.T, s store.Store) store.Store
	// SpoilHeld makes the i-th page held in a storm of s undecodable,
	// as a bug or a damaged store would.
	SpoilHeld func(t *testing.T, s store.Store, storm string, i int)
}

// base is a fixed instant with millisecond precision, as stores keep it.
var base = time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)

// Run runs the whole suite.
func Run(t *testing.T, f Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, Factory)
	}{
		{"TriggerCreatesAndGetRoundTrips", testTriggerRoundTrip},
		{"RepeatWhileOpenPagesNobody", testRepeat},
		{"RepeatReadIsTheIncidentAsGetReadsIt", testRepeatRead},
		{"TriggerAfterResolveCreatesAfresh", testTriggerAfterResolve},
		{"TriggerReceivedBeforeTheResolveIsSuperseded", testTriggerSuperseded},
		{"LatestFiringsReceiptIsKeptAndRaised", testLastReceived},
		{"DedupKeysArePerService", testDedupPerService},
		{"UpdateIsOptimistic", testUpdateCAS},
		{"ReacknowledgedKeepsBothAcknowledgements", testReacknowledged},
		{"CheckRepeatsRefusesAWriteAfterARepeat", testCheckRepeats},
		{"WriteKeepsARepeatSinceTheRead", testWriteKeepsRepeat},
		{"DueFollowsTheEarliestDeadline", testDueFollowsEarliest},
		{"WaitForSomeoneOnCallRoundTripsAndComesDue", testWaitOnCall},
		{"ClaimTakesTheEarliestOfEveryShard", testClaimTakesEarliest},
		{"ClaimedIncidentStaysLeasedThroughUpdates", testClaimedStaysLeased},
		{"ResolveCancelsEveryDeadline", testResolveCancels},
		{"ClaimLeaseAndTakeover", testClaimLease},
		{"CompleteAfterTakeoverIsVoid", testCompleteAfterTakeover},
		{"ReleaseLeavesTheStepDueNotBefore", testRelease},
		{"ReleasedNotBeforeOutlastsUpdates", testReleaseOutlastsUpdates},
		{"ReleasedNotBeforeAtItsEdges", testReleaseEdges},
		{"ExtendKeepsTheLeaseOfAClaimStillItsOwn", testExtend},
		{"NextDue", testNextDue},
		{"ClaimDueNextSaysWhenTheNextIsDue", testClaimDueNext},
		{"Timeline", testTimeline},
		{"List", testList},
		{"NotFound", testNotFound},
		{"ConcurrentUpdatesOneWinnerPerVersion", testConcurrentUpdates},
		{"ConcurrentClaimsClaimEachIncidentOnce", testConcurrentClaims},
		{"ConcurrentTriggersCreateOneIncident", testConcurrentTriggers},
		{"Durable", testDurable},
	}
	tests = append(tests, stormTests...)
	tests = append(tests, jobTests...)
	tests = append(tests, listTests...)
	tests = append(tests, historyTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, f) })
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// incident builds a new triggered incident with deadlines due at the given
// offsets from base.
func incident(service, dedup string, at time.Time, offsets ...time.Duration) *store.Incident {
	inc := &store.Incident{
		ID: store.NewID(store.ShardOf(service, dedup), at), Service: service, DedupKey: dedup,
		Source: "alertmanager", Summary: "disk full on " + dedup, CreatedAt: at, UpdatedAt: at, LastSeen: at,
		Details: json.RawMessage(`{"labels":{"alertname":"DiskFull","instance":"` + dedup + `"}}`),
		State: policy.Incident{
			Service: service, Priority: "P1", Urgency: "high", Status: policy.StatusTriggered,
			Epoch: 1, TriggeredAt: at, LevelStartedAt: at,
		},
	}
	inc.State.ID = inc.ID
	for i, o := range offsets {
		inc.State.Pending = append(inc.State.Pending, policy.Deadline{
			ID: fmt.Sprintf("0001.%06d.notify", i+1), At: at.Add(o), Kind: policy.DeadlineNotify, User: "u", Channel: "sms", Seq: i + 1,
		})
		inc.State.Seq = i + 1
	}
	return inc
}

func trigger(t *testing.T, s store.Store, inc *store.Incident, tl ...store.Entry) string {
	t.Helper()
	id, out, err := s.Trigger(ctx(t), inc, tl)
	if err != nil {
		t.Fatal(err)
	}
	if out != store.Created {
		t.Fatalf("trigger of a new key: outcome %v, want Created", out)
	}
	return id
}

func get(t *testing.T, s store.Store, id string) *store.Incident {
	t.Helper()
	inc, err := s.Get(ctx(t), id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return inc
}

func update(t *testing.T, s store.Store, inc *store.Incident, tl ...store.Entry) {
	t.Helper()
	if err := s.Update(ctx(t), inc, tl); err != nil {
		t.Fatalf("update %s: %v", inc.ID, err)
	}
}

// sameInstants compares times by instant, not by location or monotonic clock.
func normalize(inc *store.Incident) *store.Incident {
	c := *inc
	c.CreatedAt, c.UpdatedAt, c.LastSeen = c.CreatedAt.UTC(), c.UpdatedAt.UTC(), c.LastSeen.UTC()
	st := c.State
	st.TriggeredAt, st.LevelStartedAt, st.LevelEscalatedAt = st.TriggeredAt.UTC(), st.LevelStartedAt.UTC(), st.LevelEscalatedAt.UTC()
	st.AcknowledgedAt, st.ResolvedAt, st.LastStatusAt = st.AcknowledgedAt.UTC(), st.ResolvedAt.UTC(), st.LastStatusAt.UTC()
	st.LastAcknowledgedAt = st.LastAcknowledgedAt.UTC()
	st.Pending = nil
	for _, d := range inc.State.Pending {
		d.At = d.At.UTC()
		st.Pending = append(st.Pending, d)
	}
	c.State = st
	var details any
	_ = json.Unmarshal(c.Details, &details)
	c.Details, _ = json.Marshal(details)
	return &c
}

func equal(t *testing.T, what string, got, want *store.Incident) {
	t.Helper()
	g, w := normalize(got), normalize(want)
	if !reflect.DeepEqual(g, w) {
		gj, _ := json.MarshalIndent(g, "", " ")
		wj, _ := json.MarshalIndent(w, "", " ")
		t.Fatalf("%s:\n got %s\nwant %s", what, gj, wj)
	}
}

func testTriggerRoundTrip(t *testing.T, f Factory) {
	s := f.New(t)
	inc := incident("api", "g1", base, 0, 2*time.Minute, 5*time.Minute)
	inc.State.AcknowledgedAt = base.Add(time.Second) // every field must survive
	inc.State.LastAcknowledgedAt = base.Add(2 * time.Second)
	inc.State.PageImmediately = []string{"executives"}
	id := trigger(t, s, inc, store.Entry{At: base, Type: "trigger", Actor: "alertmanager"})
	if id != inc.ID {
		t.Fatalf("id %q, want %q", id, inc.ID)
	}
	got := get(t, s, id)
	want := *inc
	want.Version = 1
	equal(t, "stored incident", got, &want)
	byKey, err := s.FindByDedup(ctx(t), "api", "g1")
	if err != nil || byKey.ID != id {
		t.Fatalf("FindByDedup = %v, %v", byKey, err)
	}
}

func testRepeat(t *testing.T, f Factory) {
	s := f.New(t)
	inc := incident("api", "g1", base, 0, 2*time.Minute)
	id := trigger(t, s, inc)
	again := incident("api", "g1", base.Add(5*time.Minute), 0)
	again.Details = json.RawMessage(`{"labels":{"alertname":"DiskFull","instance":"g1","value":"99%"}}`)
	id2, out, err := s.Trigger(ctx(t), again, []store.Entry{{At: again.CreatedAt, Type: "trigger"}})
	if err != nil || out != store.Repeated || id2 != id {
		t.Fatalf("repeat: %q %v %v, want %q Repeated", id2, out, err, id)
	}
	got := get(t, s, id)
	if got.Repeats != 1 || !got.LastSeen.Equal(again.CreatedAt) {
		t.Fatalf("repeats %d last seen %v", got.Repeats, got.LastSeen)
	}
	if string(normalize(got).Details) != string(normalize(again).Details) {
		t.Fatalf("details not replaced by the repeat: %s", got.Details)
	}
	if got.Version != 1 || !reflect.DeepEqual(normalize(got).State, normalize(inc).State) {
		t.Fatal("a repeat must not touch the escalation state or its version")
	}
	if cs := claimAll(t, s, base.Add(time.Hour)); len(cs) != 1 || !cs[0].Due.Equal(base) {
		t.Fatalf("a repeat changed what is due: %+v", cs)
	}
	if tl, _ := s.Timeline(ctx(t), id); len(tl) != 0 {
		t.Fatalf("a repeat wrote the timeline: %v", tl)
	}
}

// testRepeatRead: the incident a store hands back with a repeat
// (store.RepeatReader) is the one Get reads right after, field for field;
// the intake raises the incident from it without reading it again.
func testRepeatRead(t *testing.T, f Factory) {
	s := f.New(t)
	inc := incident("api", "g1", base, 0, 2*time.Minute)
	inc.State.PageImmediately = []string{"executives"}
	id, out, cur, err := store.TriggerRead(ctx(t), s, inc, []store.Entry{{At: base, Type: "trigger", Detail: "P1, high urgency"}, {At: base, Type: "notify"}})
	if err != nil || out != store.Created || id != inc.ID {
		t.Fatalf("trigger: %q %v %v", id, out, err)
	}
	if cur != nil {
		t.Fatalf("a new incident handed back as repeated: %+v", cur)
	}
	for n := 1; n <= 2; n++ {
		again := incident("api", "g1", base.Add(time.Duration(n)*time.Minute), 0)
		again.Details = json.RawMessage(fmt.Sprintf(`{"labels":{"alertname":"DiskFull","instance":"g1","value":"%d"}}`, n))
		id2, out, cur, err := store.TriggerRead(ctx(t), s, again, []store.Entry{{At: again.CreatedAt, Type: "trigger"}})
		if err != nil || out != store.Repeated || id2 != id {
			t.Fatalf("repeat %d: %q %v %v, want %q Repeated", n, id2, out, err, id)
		}
		if _, reads := s.(store.RepeatReader); reads && cur == nil {
			t.Fatalf("repeat %d: a RepeatReader handed back nothing", n)
		}
		if cur == nil {
			continue
		}
		got := get(t, s, id)
		equal(t, fmt.Sprintf("repeat %d handed back", n), cur, got)
		if cur.Version != got.Version || cur.Repeats != n || !cur.LastSeen.Equal(again.CreatedAt) {
			t.Fatalf("repeat %d: handed back version %d repeats %d last seen %v; Get: version %d", n, cur.Version, cur.Repeats, cur.LastSeen, got.Version)
		}
	}
}

func testTriggerAfterResolve(t *testing.T, f Factory) {
	s := f.New(t)
	first := incident("api", "g1", base, 0)
	id1 := trigger(t, s, first)
	got := get(t, s, id1)
	got.State.Status, got.State.ResolvedAt, got.State.Pending = policy.StatusResolved, base.Add(time.Minute), nil
	update(t, s, got)
	second := incident("api", "g1", base.Add(time.Hour), 0)
	id2 := trigger(t, s, second)
	if id2 == id1 {
		t.Fatal("a trigger after resolve reused the resolved incident")
	}
	byKey, err := s.FindByDedup(ctx(t), "api", "g1")
	if err != nil || byKey.ID != id2 {
		t.Fatalf("FindByDedup after re-trigger = %v, %v; want the new incident", byKey, err)
	}
	if old := get(t, s, id1); old.Open() {
		t.Fatal("the resolved incident reopened")
	}
}

// testTriggerSuperseded: an alert received before the resolve of the
// latest incident with its dedup key (ReceivedBy before ResolvedAt) whose
// trigger lands after it opens nothing: Superseded, with that incident's
// id, nothing written, nothing due. Received at the resolve or after (or
// not known), it opens a new incident; an open incident takes it as a
// repeat whenever it was received.
func testTriggerSuperseded(t *testing.T, f Factory) {
	s := f.New(t)
	first := incident("api", "g1", base, 0)
	id1 := trigger(t, s, first)
	resolvedAt := base.Add(time.Minute)
	stale := incident("api", "g1", base.Add(2*time.Minute), 0)
	stale.ReceivedBy = resolvedAt.Add(-time.Millisecond)
	if id, out, err := s.Trigger(ctx(t), stale, nil); err != nil || out != store.Repeated || id != id1 {
		t.Fatalf("received before a resolve to come, the incident open: %q %v %v, want %q Repeated", id, out, err, id1)
	}
	got := get(t, s, id1)
	got.State.Status, got.State.ResolvedAt, got.State.Pending = policy.StatusResolved, resolvedAt, nil
	update(t, s, got)
	for _, by := range []time.Time{base, resolvedAt.Add(-time.Millisecond)} {
		stale := incident("api", "g1", base.Add(2*time.Minute), 0)
		stale.ReceivedBy = by
		id, out, err := s.Trigger(ctx(t), stale, []store.Entry{{At: stale.CreatedAt, Type: "trigger"}})
		if err != nil || out != store.Superseded || id != id1 {
			t.Fatalf("received by %v, resolved at %v: %q %v %v, want %q Superseded", by, resolvedAt, id, out, err, id1)
		}
		if _, err := s.Get(ctx(t), stale.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a superseded trigger stored its incident: %v", err)
		}
	}
	if byKey, err := s.FindByDedup(ctx(t), "api", "g1"); err != nil || byKey.ID != id1 || byKey.Open() {
		t.Fatalf("FindByDedup after superseded triggers = %+v, %v; want %s, resolved", byKey, err, id1)
	}
	if cs := claimAll(t, s, base.Add(time.Hour)); len(cs) != 0 {
		t.Fatalf("a superseded trigger left something due: %+v", cs)
	}
	for i, by := range []time.Time{resolvedAt, {}} {
		again := incident("api", "g1", base.Add(time.Duration(3+i)*time.Minute), 0)
		again.ReceivedBy = by
		id, out, err := s.Trigger(ctx(t), again, nil)
		if err != nil || out != store.Created || id != again.ID {
			t.Fatalf("received by %v, resolved at %v: %q %v %v, want %q Created", by, resolvedAt, id, out, err, again.ID)
		}
		got := get(t, s, id)
		got.State.Status, got.State.ResolvedAt, got.State.Pending = policy.StatusResolved, again.CreatedAt, nil
		update(t, s, got)
	}
}

// testLastReceived: the receipt of an incident's latest firing
// (LastReceived) is stored with the incident that opens it, raised by each
// repeat that says a later one, never lowered by one that says an earlier
// one or none, and kept by a write made from a read before the repeat (a
// sender's resolve reads it there: a firing received after the resolve,
// whose write landed first, keeps the incident open). Its first claim,
// Get, FindByDedup and a repeat's read all give it; a restart keeps it.
// An incident opened without one reads zero until a repeat says it.
func testLastReceived(t *testing.T, f Factory) {
	s := f.New(t)
	want := func(id string, at time.Time, what string) {
		t.Helper()
		if got := get(t, s, id); !got.LastReceived.Equal(at) {
			t.Fatalf("%s: LastReceived %v, want %v", what, got.LastReceived, at)
		}
		if got, err := s.FindByDedup(ctx(t), "api", "g1"); err != nil || !got.LastReceived.Equal(at) {
			t.Fatalf("%s: FindByDedup's LastReceived %v (%v), want %v", what, got, err, at)
		}
	}
	repeat := func(at, received time.Time) {
		t.Helper()
		again := incident("api", "g1", at, 0)
		again.LastReceived = received
		id, out, cur, err := store.TriggerRead(ctx(t), s, again, nil)
		if err != nil || out != store.Repeated {
			t.Fatalf("repeat: %q %v %v", id, out, err)
		}
		if cur != nil && !cur.LastReceived.Equal(get(t, s, id).LastReceived) {
			t.Fatalf("the repeat read back LastReceived %v, Get %v", cur.LastReceived, get(t, s, id).LastReceived)
		}
	}
	first := incident("api", "g1", base, 0)
	first.LastReceived = base.Add(-time.Second)
	id := trigger(t, s, first)
	if cs := claimAll(t, s, base); len(cs) != 1 || cs[0].Record == nil || !cs[0].Record.LastReceived.Equal(first.LastReceived) {
		t.Fatalf("the first claim: %+v, want its record with LastReceived %v", cs, first.LastReceived)
	}
	want(id, first.LastReceived, "opened")
	repeat(base.Add(time.Minute), base.Add(59*time.Second))
	want(id, base.Add(59*time.Second), "a later firing")
	repeat(base.Add(2*time.Minute), base.Add(30*time.Second))
	want(id, base.Add(59*time.Second), "an earlier firing written later")
	repeat(base.Add(3*time.Minute), time.Time{})
	want(id, base.Add(59*time.Second), "a firing whose receipt is not known")
	if got := get(t, s, id); got.Repeats != 3 || !got.LastSeen.Equal(base.Add(3*time.Minute)) {
		t.Fatalf("repeats %d, last seen %v: the receipt's keeping changed them", got.Repeats, got.LastSeen)
	}

	// Written from a read before a repeat: the repeat's receipt stays.
	read := get(t, s, id)
	repeat(base.Add(4*time.Minute), base.Add(4*time.Minute))
	read.State.Status, read.State.AcknowledgedBy = policy.StatusAcknowledged, "ann"
	read.LastReceived = base // what the caller holds is not written
	update(t, s, read)
	want(id, base.Add(4*time.Minute), "written from a read before the repeat")
	if f.Reopen != nil {
		s = f.Reopen(t, s)
		want(id, base.Add(4*time.Minute), "after a restart")
	}

	// Resolved, then opened again by a firing that does not say.
	got := get(t, s, id)
	got.State.Status, got.State.ResolvedAt, got.State.Pending = policy.StatusResolved, base.Add(5*time.Minute), nil
	update(t, s, got)
	id2 := trigger(t, s, incident("api", "g1", base.Add(6*time.Minute), 0))
	want(id2, time.Time{}, "opened by a firing whose receipt is not known")
	repeat(base.Add(7*time.Minute), base.Add(7*time.Minute))
	want(id2, base.Add(7*time.Minute), "its first repeat that says it")
}

func testDedupPerService(t *testing.T, f Factory) {
	s := f.New(t)
	a := trigger(t, s, incident("api", "same", base))
	b := trigger(t, s, incident("web", "same", base))
	if a == b {
		t.Fatal("two services shared one incident")
	}
}

func testUpdateCAS(t *testing.T, f Factory) {
	s := f.New(t)
	id := trigger(t, s, incident("api", "g1", base, time.Minute))
	r1, r2 := get(t, s, id), get(t, s, id)
	r1.State.Status, r1.State.AcknowledgedBy = policy.StatusAcknowledged, "ann"
	update(t, s, r1)
	if r1.Version != 2 {
		t.Fatalf("version after update %d, want 2", r1.Version)
	}
	r2.State.Status = policy.StatusResolved
	if err := s.Update(ctx(t), r2, nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale update: %v, want ErrConflict", err)
	}
	if got := get(t, s, id); got.State.Status != policy.StatusAcknowledged || got.State.AcknowledgedBy != "ann" || got.Version != 2 {
		t.Fatalf("stale update changed the incident: %+v", got.State)
	}
}

// testReacknowledged: an incident acknowledged by ann, reopened, and
// acknowledged again by bob keeps both times: the first acknowledgement
// (the time to acknowledge, SLA targets, reports) and bob's own, which
// every answer that says "acknowledged by bob at" gives. A store that
// dropped the latter would have the SMS and voice answers say bob
// acknowledged it when ann did.
func testReacknowledged(t *testing.T, f Factory) {
	s := f.New(t)
	id := trigger(t, s, incident("api", "g1", base, time.Minute))
	inc := get(t, s, id)
	first, again := base.Add(time.Minute), base.Add(20*time.Minute)
	inc.State.Status, inc.State.AcknowledgedAt, inc.State.AcknowledgedBy, inc.State.LastAcknowledgedAt = policy.StatusAcknowledged, first, "ann", first
	update(t, s, inc)
	inc.State.Status, inc.State.Reopened = policy.StatusTriggered, 1
	update(t, s, inc)
	inc.State.Status, inc.State.AcknowledgedBy, inc.State.LastAcknowledgedAt = policy.StatusAcknowledged, "bob", again
	update(t, s, inc)
	got := get(t, s, id).State
	if !got.AcknowledgedAt.Equal(first) || got.AcknowledgedBy != "bob" || !got.LastAcknowledgedAt.Equal(again) || !got.AcknowledgedByAt().Equal(again) {
		t.Fatalf("acknowledged first at %v, by %q at %v (AcknowledgedByAt %v); want first at %v, by bob at %v",
			got.AcknowledgedAt, got.AcknowledgedBy, got.LastAcknowledgedAt, got.AcknowledgedByAt(), first, again)
	}
}

// testWriteKeepsRepeat: an Update or a Finish of an incident read before a
// repeat keeps the repeat's count, last seen time and details (a repeat
// does not change the version, so the write goes through), and writes the
// rest as given.
func testWriteKeepsRepeat(t *testing.T, f Factory) {
	for _, finish := range []bool{false, true} {
		t.Run(map[bool]string{false: "Update", true: "Finish"}[finish], func(t *testing.T) {
			s := f.New(t)
			id := trigger(t, s, incident("api", "g1", base, 0, 2*time.Minute))
			var read *store.Incident
			var claim store.Claim
			if finish {
				cs := claimAll(t, s, base)
				if len(cs) != 1 || cs[0].Record == nil {
					t.Fatalf("claims %+v", cs)
				}
				claim, read = cs[0], cs[0].Record
			} else {
				read = get(t, s, id)
			}
			again := incident("api", "g1", base.Add(time.Minute), 0)
			again.Details = json.RawMessage(`{"labels":{"alertname":"DiskFull","instance":"g1","value":"99%"}}`)
			if _, out, err := s.Trigger(ctx(t), again, nil); err != nil || out != store.Repeated {
				t.Fatalf("repeat: %v %v", out, err)
			}
			read.State.Status, read.State.AcknowledgedBy = policy.StatusAcknowledged, "ann"
			read.Summary = "acknowledged by ann"
			var err error
			if finish {
				err = s.Finish(ctx(t), claim, read, nil)
			} else {
				err = s.Update(ctx(t), read, nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			got := get(t, s, id)
			if got.Repeats != 1 || !got.LastSeen.Equal(again.CreatedAt) || string(normalize(got).Details) != string(normalize(again).Details) {
				t.Errorf("the write lost the repeat: repeats %d, last seen %v, details %s", got.Repeats, got.LastSeen, got.Details)
			}
			if got.State.Status != policy.StatusAcknowledged || got.State.AcknowledgedBy != "ann" || got.Summary != "acknowledged by ann" || got.Version != 2 {
				t.Errorf("the write was not kept: %s by %q, summary %q, version %d", got.State.Status, got.State.AcknowledgedBy, got.Summary, got.Version)
			}
		})
	}
}

// testCheckRepeats: a write with CheckRepeats set fails, in the store's
// atomic step, when the alert fired again since the incident was read: a
// repeat does not change the version, so a resolve decided on "no firing
// since" (a withheld resolve Alertmanager confirmed) would otherwise land
// after one, and close an incident whose alert fires. Writes without it
// go through a repeat as before.
func testCheckRepeats(t *testing.T, f Factory) {
	s := f.New(t)
	repeat := func(dedup string, at time.Time) {
		t.Helper()
		if _, out, err := s.Trigger(ctx(t), incident("api", dedup, at, 0), nil); err != nil || out != store.Repeated {
			t.Fatalf("repeat: %v %v", out, err)
		}
	}
	resolve := func(inc *store.Incident) {
		inc.State.Status, inc.State.ResolvedAt, inc.State.Pending = policy.StatusResolved, base.Add(time.Hour), nil
		inc.CheckRepeats = true
	}
	id := trigger(t, s, incident("api", "g1", base, time.Minute))
	unchecked := get(t, s, id)
	repeat("g1", base.Add(time.Minute))
	unchecked.Summary = "noted"
	update(t, s, unchecked)

	stale := get(t, s, id)
	repeat("g1", base.Add(2*time.Minute))
	resolve(stale)
	if err := s.Update(ctx(t), stale, []store.Entry{{At: base, Type: "resolve"}}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a checked update after a repeat: %v, want ErrConflict", err)
	}
	if got := get(t, s, id); !got.Open() || got.Version != 2 || got.Repeats != 2 {
		t.Fatalf("the refused update changed the incident: %s, version %d, repeats %d", got.State.Status, got.Version, got.Repeats)
	}
	if tl, _ := s.Timeline(ctx(t), id); len(tl) != 0 {
		t.Fatalf("the refused update wrote the timeline: %v", tl)
	}
	fresh := get(t, s, id)
	resolve(fresh)
	update(t, s, fresh)
	if got := get(t, s, id); got.Open() || got.Repeats != 2 || got.CheckRepeats {
		t.Fatalf("after a checked update of a fresh read: %s, repeats %d, CheckRepeats %v", got.State.Status, got.Repeats, got.CheckRepeats)
	}

	// Finish, the dispatcher's write, checks it too, and keeps its claim.
	id2 := trigger(t, s, incident("api", "g2", base.Add(time.Second), 0))
	cs := claimAll(t, s, base.Add(time.Hour))
	if len(cs) != 1 || cs[0].Incident != id2 {
		t.Fatalf("claims %+v, want %s", cs, id2)
	}
	stale = get(t, s, id2)
	repeat("g2", base.Add(2*time.Second))
	resolve(stale)
	if err := s.Finish(ctx(t), cs[0], stale, nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a checked finish after a repeat: %v, want ErrConflict", err)
	}
	if got := get(t, s, id2); !got.Open() || got.Version != 1 {
		t.Fatalf("the refused finish changed the incident: %s, version %d", got.State.Status, got.Version)
	}
	fresh = get(t, s, id2)
	resolve(fresh)
	if err := s.Finish(ctx(t), cs[0], fresh, nil); err != nil {
		t.Fatalf("a checked finish of a fresh read: %v", err)
	}
	if got := get(t, s, id2); got.Open() {
		t.Fatal("the finish of a fresh read did not resolve the incident")
	}
}

func claimAll(t *testing.T, s store.Store, now time.Time) []store.Claim {
	t.Helper()
	cs, err := s.ClaimDue(ctx(t), now, time.Minute, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func claimedIDs(cs []store.Claim) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Incident)
	}
	sort.Strings(out)
	return out
}

// complete releases a claim and fails the test on error.
func complete(t *testing.T, s store.Store, c store.Claim) {
	t.Helper()
	if err := s.Complete(ctx(t), c); err != nil {
		t.Fatal(err)
	}
}

func testDueFollowsEarliest(t *testing.T, f Factory) {
	s := f.New(t)
	inc := incident("api", "g1", base, time.Minute, 2*time.Minute, 3*time.Minute)
	id := trigger(t, s, inc)
	if at, ok, _ := s.NextDue(ctx(t)); !ok || !at.Equal(base.Add(time.Minute)) {
		t.Fatalf("due at %v, want the earliest deadline +1m", at)
	}
	if cs := claimAll(t, s, base.Add(59*time.Second)); len(cs) != 0 {
		t.Fatalf("claimed before due: %+v", cs)
	}
	// An update that drops the first deadline and adds an earlier one moves
	// the incident's due time to it.
	got := get(t, s, id)
	got.State.Pending = []policy.Deadline{got.State.Pending[1], got.State.Pending[2],
		{ID: "0001.000009.escalate", At: base.Add(30 * time.Second), Kind: policy.DeadlineEscalate, Seq: 9}}
	update(t, s, got)
	cs := claimAll(t, s, base.Add(30*time.Second))
	if len(cs) != 1 || cs[0].Incident != id || !cs[0].Due.Equal(base.Add(30*time.Second)) || cs[0].Takeover {
		t.Fatalf("claims %+v, want the incident due at +30s", cs)
	}
	// Claims come earliest first across incidents.
	s2 := f.New(t)
	late := trigger(t, s2, incident("api", "late", base, 5*time.Minute))
	early := trigger(t, s2, incident("web", "early", base, time.Minute))
	mid := trigger(t, s2, incident("db", "mid", base, 3*time.Minute))
	cs = claimAll(t, s2, base.Add(time.Hour))
	if len(cs) != 3 || cs[0].Incident != early || cs[1].Incident != mid || cs[2].Incident != late {
		t.Fatalf("claims out of order: %+v", cs)
	}
}

// testWaitOnCall: an incident nobody has been paged for, whose ladder
// ran out (policy.Incident.Unpaged), keeps nothing pending but its look
// for someone on call (policy.DeadlineOnCall): the store keeps the flag,
// what made the incident unpaged (policy.Incident.UnpagedBy) and the look, and hands the incident to the dispatcher when the look is
// due, as any step.
func testWaitOnCall(t *testing.T, f Factory) {
	s := f.New(t)
	inc := incident("api", "gap", base)
	inc.State.Unpaged = true
	inc.State.UnpagedBy = "raise"
	inc.State.Seq = 1
	inc.State.Pending = []policy.Deadline{{ID: "1.1", At: base.Add(15 * time.Minute), Kind: policy.DeadlineOnCall, Seq: 1}}
	id := trigger(t, s, inc)
	got := get(t, s, id)
	want := *inc
	want.Version = 1
	equal(t, "stored incident", got, &want)
	if at, ok, _ := s.NextDue(ctx(t)); !ok || !at.Equal(base.Add(15*time.Minute)) {
		t.Fatalf("due at %v (%v), want the look's +15m", at, ok)
	}
	if cs := claimAll(t, s, base.Add(15*time.Minute-time.Second)); len(cs) != 0 {
		t.Fatalf("claimed before the look is due: %+v", cs)
	}
	if cs := claimAll(t, s, base.Add(15*time.Minute)); len(cs) != 1 || cs[0].Incident != id {
		t.Fatalf("claims %+v, want the incident at its look", cs)
	}
}

// testClaimTakesEarliest: a claim of fewer than are due takes the earliest
// due, wherever their shards are, and leaves the later ones for the next.
func testClaimTakesEarliest(t *testing.T, f Factory) {
	s := f.New(t)
	// 40 incidents in many shards, due a second apart in an order unrelated
	// to their shards; several shards hold more than one.
	due := map[string]time.Duration{}
	for i := range 40 {
		offset := time.Duration((i*17)%40+1) * time.Second
		due[trigger(t, s, incident(fmt.Sprintf("svc%d", i%7), fmt.Sprintf("g%d", i), base, offset))] = offset
	}
	var got []time.Duration
	for len(got) < len(due) {
		cs, err := s.ClaimDue(ctx(t), base.Add(time.Hour), time.Minute, 6)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) == 0 {
			break
		}
		for _, c := range cs {
			got = append(got, due[c.Incident])
		}
	}
	if len(got) != len(due) {
		t.Fatalf("claimed %d of %d due incidents", len(got), len(due))
	}
	for i, d := range got {
		if want := time.Duration(i+1) * time.Second; d != want {
			t.Fatalf("claim %d was the incident due at +%v, want +%v (claims in order: %v)", i, d, want, got)
		}
	}
}

func testClaimedStaysLeased(t *testing.T, f Factory) {
	s := f.New(t)
	id := trigger(t, s, incident("api", "g1", base, 0, 2*time.Minute))
	cs, err := s.ClaimDue(ctx(t), base, time.Minute, 10)
	if err != nil || len(cs) != 1 {
		t.Fatalf("claim %+v %v", cs, err)
	}
	// Someone else updates the incident while it is claimed (a status
	// update, say) and leaves a past-due deadline pending: nobody else may
	// claim it until the claimer completes.
	other := get(t, s, id)
	other.State.StatusUpdates++
	update(t, s, other)
	if c, _ := s.ClaimDue(ctx(t), base.Add(30*time.Second), time.Minute, 10); len(c) != 0 {
		t.Fatalf("a claimed incident was claimed again after an update: %+v", c)
	}
	// The claimer fires the first step and completes: the incident is due
	// at its next deadline.
	mine := get(t, s, id)
	mine.State.Pending = mine.State.Pending[1:]
	update(t, s, mine)
	complete(t, s, cs[0])
	if at, ok, _ := s.NextDue(ctx(t)); !ok || !at.Equal(base.Add(2*time.Minute)) {
		t.Fatalf("due at %v after complete, want +2m", at)
	}
	if c := claimAll(t, s, base.Add(2*time.Minute)); len(c) != 1 || c[0].Takeover || !c[0].Due.Equal(base.Add(2*time.Minute)) {
		t.Fatalf("next claim %+v", c)
	}
}

func testResolveCancels(t *testing.T, f Factory) {
	s := f.New(t)
	id := trigger(t, s, incident("api", "g1", base, 0, time.Minute, 2*time.Minute))
	other := trigger(t, s, incident("api", "g2", base, time.Minute))
	// The incident is claimed (a step in flight) when it resolves: the claim
	// is cancelled too, and completing it later changes nothing.
	cs, err := s.ClaimDue(ctx(t), base, time.Minute, 10)
	if err != nil || len(cs) != 1 || cs[0].Incident != id {
		t.Fatalf("claim %v %v", cs, err)
	}
	got := get(t, s, id)
	got.State.Status, got.State.Pending = policy.StatusResolved, nil
	update(t, s, got)
	complete(t, s, cs[0])
	if g := claimedIDs(claimAll(t, s, base.Add(time.Hour))); !reflect.DeepEqual(g, []string{other}) {
		t.Fatalf("due after resolve %v; want only the other incident", g)
	}
}

func testClaimLease(t *testing.T, f Factory) {
	s := f.New(t)
	id := trigger(t, s, incident("api", "g1", base, 0, time.Minute))
	c1, err := s.ClaimDue(ctx(t), base, 30*time.Second, 10)
	if err != nil || len(c1) != 1 || c1[0].Incident != id || c1[0].Takeover || !c1[0].Due.Equal(base) {
		t.Fatalf("first claim %+v %v", c1, err)
	}
	// Held: nobody else gets it during the lease, not even at +29s, though
	// its second deadline is due by then too.
	if c, _ := s.ClaimDue(ctx(t), base.Add(29*time.Second), 30*time.Second, 10); len(c) != 0 {
		t.Fatalf("claimed twice during the lease: %+v", c)
	}
	// The lease ran out without Complete: another replica takes over, and
	// the claim still says when the incident was originally due.
	c2, err := s.ClaimDue(ctx(t), base.Add(30*time.Second), 30*time.Second, 10)
	if err != nil || len(c2) != 1 || !c2[0].Takeover || !c2[0].Due.Equal(base) || c2[0].Token == c1[0].Token {
		t.Fatalf("takeover claim %+v %v", c2, err)
	}
	// The new holder fires the first deadline and completes.
	got := get(t, s, id)
	got.State.Pending = got.State.Pending[1:]
	update(t, s, got)
	complete(t, s, c2[0])
	if c := claimAll(t, s, base.Add(time.Hour)); len(c) != 1 || !c[0].Due.Equal(base.Add(time.Minute)) || c[0].Takeover {
		t.Fatalf("after complete %+v", c)
	}
	// Completing twice is fine.
	complete(t, s, c2[0])
}

func testCompleteAfterTakeover(t *testing.T, f Factory) {
	s := f.New(t)
	trigger(t, s, incident("api", "g1", base, 0))
	c1, _ := s.ClaimDue(ctx(t), base, 10*time.Second, 10)
	c2, _ := s.ClaimDue(ctx(t), base.Add(10*time.Second), 10*time.Second, 10)
	if len(c1) != 1 || len(c2) != 1 {
		t.Fatalf("claims %v %v", c1, c2)
	}
	// The slow first replica completes after losing its lease: void, so the
	// incident stays leased to the second one.
	complete(t, s, c1[0])
	if c3, _ := s.ClaimDue(ctx(t), base.Add(15*time.Second), 10*time.Second, 10); len(c3) != 0 {
		t.Fatalf("a stale Complete released another replica's claim: %+v", c3)
	}
}

// testRelease: a claim given up (a replica whose config cannot page the
// incident) leaves the step due again before the lease ends, at the time
// given, not earlier, for another replica to take; the claim then still
// says when the step was due. A stale Release is void, as Complete is.
func testRelease(t *testing.T, f Factory) {
	s := f.New(t)
	trigger(t, s, incident("api", "g1", base, 0))
	c1, err := s.ClaimDue(ctx(t), base, 30*time.Second, 10)
	if err != nil || len(c1) != 1 {
		t.Fatalf("claim %+v %v", c1, err)
	}
	if err := s.Release(ctx(t), c1[0], base.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.ClaimDue(ctx(t), base.Add(2999*time.Millisecond), 30*time.Second, 10); len(c) != 0 {
		t.Fatalf("claimed again before the time Release gave: %+v", c)
	}
	if at, ok, _ := s.NextDue(ctx(t)); !ok || !at.Equal(base.Add(3*time.Second)) {
		t.Fatalf("NextDue after Release %v %v, want %v", at, ok, base.Add(3*time.Second))
	}
	c2, err := s.ClaimDue(ctx(t), base.Add(3*time.Second), 30*time.Second, 10)
	if err != nil || len(c2) != 1 || c2[0].Takeover || !c2[0].Due.Equal(base) {
		t.Fatalf("claim after Release (3s, not the lease's 30s): %+v %v", c2, err)
	}
	// A stale Release (its claim taken over) leaves the new claim alone.
	c3, _ := s.ClaimDue(ctx(t), base.Add(33*time.Second), 30*time.Second, 10)
	if len(c3) != 1 {
		t.Fatalf("takeover %+v", c3)
	}
	if err := s.Release(ctx(t), c2[0], base); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.ClaimDue(ctx(t), base.Add(40*time.Second), 30*time.Second, 10); len(c) != 0 {
		t.Fatalf("a stale Release released another replica's claim: %+v", c)
	}
	// Released with a time already past: due at its step's time.
	if err := s.Release(ctx(t), c3[0], base); err != nil {
		t.Fatal(err)
	}
	if at, ok, _ := s.NextDue(ctx(t)); !ok || !at.Equal(base) {
		t.Fatalf("NextDue after a Release at a past time %v %v, want %v", at, ok, base)
	}
}

// testReleaseOutlastsUpdates: the time a Release put an incident off to
// holds through the Updates that come before it is claimed again (a status
// update, an acknowledgement elsewhere, a new step of its alert: each moves its
// due entry to its earliest deadline), as long as it has a step to page:
// the claim that honours it spends it. A later step is due at its own
// time, never held past it; an Update that leaves only outbox work (an
// acknowledgement) leaves that work due at once, and one that leaves
// nothing pending drops it with the due entry. Before, the first Update
// after the Release put the step due at its own time, past already: the
// replica that gave it up (whose config cannot page it) claimed it
// straight back.
func testReleaseOutlastsUpdates(t *testing.T, f Factory) {
	s := f.New(t)
	nextDue := func(want time.Time, what string) {
		t.Helper()
		if at, ok, err := s.NextDue(ctx(t)); err != nil || !ok || !at.Equal(want) {
			t.Fatalf("%s: NextDue %v %v %v, want %v", what, at.Sub(base), ok, err, want.Sub(base))
		}
	}
	id := trigger(t, s, incident("api", "g1", base, 0, time.Hour))
	c1 := claimAll(t, s, base)
	if len(c1) != 1 || c1[0].Incident != id {
		t.Fatalf("claim %+v", c1)
	}
	notBefore := base.Add(3 * time.Second)
	if err := s.Release(ctx(t), c1[0], notBefore); err != nil {
		t.Fatal(err)
	}
	// A write that leaves the step as it was (a status update).
	inc := get(t, s, id)
	inc.Summary = "disk full on g1 (and on g2)"
	update(t, s, inc, store.Entry{At: base.Add(time.Second), Type: "status_update", Actor: "ann"})
	nextDue(notBefore, "after an Update that left the step as it was")
	if c := claimAll(t, s, notBefore.Add(-time.Millisecond)); len(c) != 0 {
		t.Fatalf("claimed before the time Release gave, after an Update: %+v", c)
	}
	// A step moved past it is due at its own time; moved back, the time
	// Release gave holds again.
	inc = get(t, s, id)
	inc.State.Pending[0].At = base.Add(10 * time.Second)
	update(t, s, inc)
	nextDue(base.Add(10*time.Second), "a step moved past the time Release gave")
	inc = get(t, s, id)
	inc.State.Pending[0].At = base
	update(t, s, inc)
	nextDue(notBefore, "the step moved back before the time Release gave")
	// The claim that honours it spends it: what its claim leaves due is
	// due at its own time, through Updates too.
	c2 := claimAll(t, s, notBefore)
	if len(c2) != 1 || c2[0].Takeover || !c2[0].Due.Equal(base) {
		t.Fatalf("claim at the time Release gave: %+v", c2)
	}
	complete(t, s, c2[0])
	nextDue(base, "completed with its step still pending")
	inc = get(t, s, id)
	update(t, s, inc)
	nextDue(base, "an Update after the claim that honoured the time Release gave")

	// A takeover of a claim whose lease ran out, released: the time holds
	// through Updates, and a stale Release of the first claim is void.
	c3 := claimAll(t, s, base.Add(time.Minute))
	c4 := claimAll(t, s, base.Add(2*time.Minute))
	if len(c3) != 1 || len(c4) != 1 || !c4[0].Takeover {
		t.Fatalf("claim and takeover %+v %+v", c3, c4)
	}
	later := base.Add(3 * time.Minute)
	if err := s.Release(ctx(t), c4[0], later); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx(t), c3[0], base); err != nil {
		t.Fatal(err)
	}
	inc = get(t, s, id)
	update(t, s, inc)
	nextDue(later, "a takeover released, then an Update")
	c5 := claimAll(t, s, later)
	if len(c5) != 1 || c5[0].Takeover || !c5[0].Due.Equal(base) {
		t.Fatalf("claim at the time the takeover was released to: %+v", c5)
	}
	// Its lease runs out: taken over as any claim, its step due when it was.
	c6 := claimAll(t, s, later.Add(time.Minute))
	if len(c6) != 1 || !c6[0].Takeover || !c6[0].Due.Equal(base) {
		t.Fatalf("takeover of the claim that honoured the release: %+v", c6)
	}

	// Acknowledged (paging ends) with work owed to PagerDuty: that work
	// is due at once, not held to the time Release gave.
	acked := base.Add(5 * time.Minute)
	if err := s.Release(ctx(t), c6[0], base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	inc = get(t, s, id)
	inc.State.Status, inc.State.AcknowledgedAt, inc.State.Pending = policy.StatusAcknowledged, acked, nil
	inc.Outbox = []store.OutboxItem{{ID: "o1", Kind: store.OutboxPagerDuty, Action: "acknowledge", Due: acked, Since: acked}}
	update(t, s, inc)
	nextDue(acked, "acknowledged, its outbox item due at once")
	// Nothing pending: out of the due set; reopened, due at its own time.
	inc = get(t, s, id)
	inc.Outbox = nil
	update(t, s, inc)
	if at, ok, _ := s.NextDue(ctx(t)); ok {
		t.Fatalf("due at %v with nothing pending", at.Sub(base))
	}
	inc = get(t, s, id)
	inc.State.Status = policy.StatusTriggered
	inc.State.Pending = []policy.Deadline{{ID: "0002.000003.notify", At: acked.Add(time.Minute), Kind: policy.DeadlineNotify, User: "u", Channel: "sms", Seq: 3}}
	update(t, s, inc)
	nextDue(acked.Add(time.Minute), "reopened after nothing was pending")
}

// testExtend: a claim whose lease Extend moved is nobody else's until
// the new lease end, then taken over as any claim whose lease ran out; a
// claim no longer this one's (taken over, completed, cancelled) is left
// as it is. The same for a job's and a storm's claim.
func testExtend(t *testing.T, f Factory) {
	s := f.New(t)
	extend := func(c store.Claim, until time.Time) bool {
		t.Helper()
		held, err := s.Extend(ctx(t), c, until)
		if err != nil {
			t.Fatal(err)
		}
		return held
	}
	id := trigger(t, s, incident("api", "g1", base, 0, time.Hour))
	c1, err := s.ClaimDue(ctx(t), base, 10*time.Second, 10)
	if err != nil || len(c1) != 1 || c1[0].Incident != id {
		t.Fatalf("claim %+v %v", c1, err)
	}
	if !extend(c1[0], base.Add(25*time.Second)) {
		t.Fatal("Extend of a live claim says it is not held")
	}
	if c := claimAll(t, s, base.Add(24*time.Second)); len(c) != 0 {
		t.Fatalf("taken over before the kept lease ended (at 24s; leased for 10s, kept to 25s): %+v", c)
	}
	if at, ok, _ := s.NextDue(ctx(t)); !ok || !at.Equal(base.Add(25*time.Second)) {
		t.Fatalf("NextDue of the kept claim %v %v, want its new lease end %v", at, ok, base.Add(25*time.Second))
	}
	// Cut short: due at the earlier end, as a shorter lease would be.
	if !extend(c1[0], base.Add(20*time.Second)) {
		t.Fatal("Extend to an earlier end says it is not held")
	}
	c2, err := s.ClaimDue(ctx(t), base.Add(20*time.Second), 10*time.Second, 10)
	if err != nil || len(c2) != 1 || !c2[0].Takeover || !c2[0].Due.Equal(base) {
		t.Fatalf("takeover at the end the lease was cut to: %+v %v", c2, err)
	}
	// The first claim's is void now: it neither keeps nor cuts the
	// takeover's lease (which ends at 30s).
	if extend(c1[0], base.Add(time.Hour)) || extend(c1[0], base) {
		t.Fatal("Extend of a claim taken over says it is held")
	}
	if at, ok, _ := s.NextDue(ctx(t)); !ok || !at.Equal(base.Add(30*time.Second)) {
		t.Fatalf("NextDue after a void Extend %v %v, want the takeover's lease end %v", at, ok, base.Add(30*time.Second))
	}
	// Completed: the incident is due at its next deadline, and an Extend
	// after that moves nothing.
	got := get(t, s, id)
	got.State.Pending = got.State.Pending[1:]
	update(t, s, got)
	complete(t, s, c2[0])
	if extend(c2[0], base.Add(40*time.Second)) {
		t.Fatal("Extend of a completed claim says it is held")
	}
	if at, ok, _ := s.NextDue(ctx(t)); !ok || !at.Equal(base.Add(time.Hour)) {
		t.Fatalf("NextDue after an Extend of a completed claim %v %v, want the next deadline %v", at, ok, base.Add(time.Hour))
	}
	// Cancelled while claimed (nothing left pending): the claim went with
	// the due entry, and Extend brings neither back.
	c3 := claimAll(t, s, base.Add(time.Hour))
	if len(c3) != 1 {
		t.Fatalf("claim of the second deadline %+v", c3)
	}
	got = get(t, s, id)
	got.State.Pending = nil
	update(t, s, got)
	if extend(c3[0], base.Add(2*time.Hour)) {
		t.Fatal("Extend of a cancelled claim says it is held")
	}
	if at, ok, _ := s.NextDue(ctx(t)); ok {
		t.Fatalf("due at %v after an Extend of a cancelled claim", at)
	}

	// A job's claim.
	if err := s.PutJob(ctx(t), store.Job{Kind: "notice", Key: "s", Due: base}); err != nil {
		t.Fatal(err)
	}
	cj := claimAll(t, s, base)
	if len(cj) != 1 || cj[0].Job == nil || !extend(cj[0], base.Add(time.Minute)) {
		t.Fatalf("job claim %+v not kept", cj)
	}
	if c := claimAll(t, s, base.Add(59*time.Second)); len(c) != 0 {
		t.Fatalf("job taken over before its kept lease ended: %+v", c)
	}
	cj2 := claimAll(t, s, base.Add(time.Minute))
	if len(cj2) != 1 || !cj2[0].Takeover || cj2[0].Job == nil {
		t.Fatalf("job not taken over at its kept lease's end: %+v", cj2)
	}
	if err := s.FinishJob(ctx(t), cj2[0], nil); err != nil {
		t.Fatal(err)
	}
	// Each write that ends a claim voids it for Extend, which the
	// dispatcher calls when a kept claim's work is done (to cut a failed
	// one's lease back): a finished job is not brought back.
	if extend(cj2[0], base) {
		t.Fatal("Extend of a finished job's claim says it is held")
	}
	if c := claimAll(t, s, base.Add(time.Minute)); len(c) != 0 {
		t.Fatalf("due after an Extend of a finished job's claim: %+v", c)
	}
	// Finish (the dispatcher's write of a step) and Release: the incident
	// stays due at its next deadline, or when it was released to.
	id2 := trigger(t, s, incident("api", "g2", base, 0, time.Hour))
	cf := claimAll(t, s, base)
	if len(cf) != 1 || cf[0].Incident != id2 || !extend(cf[0], base.Add(25*time.Second)) {
		t.Fatalf("claim %+v not kept", cf)
	}
	got = get(t, s, id2)
	got.State.Pending = got.State.Pending[1:]
	if err := s.Finish(ctx(t), cf[0], got, nil); err != nil {
		t.Fatal(err)
	}
	if extend(cf[0], base) {
		t.Fatal("Extend of a finished claim says it is held")
	}
	if c := claimAll(t, s, base.Add(time.Hour-time.Millisecond)); len(c) != 0 {
		t.Fatalf("due before its next deadline after an Extend of a finished claim: %+v", c)
	}
	cr := claimAll(t, s, base.Add(time.Hour))
	if len(cr) != 1 || cr[0].Incident != id2 {
		t.Fatalf("claim of the next deadline %+v", cr)
	}
	if err := s.Release(ctx(t), cr[0], base.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if extend(cr[0], base) {
		t.Fatal("Extend of a released claim says it is held")
	}
	if c := claimAll(t, s, base.Add(2*time.Hour-time.Millisecond)); len(c) != 0 {
		t.Fatalf("due before the time it was released to after an Extend of the released claim: %+v", c)
	}
	got = get(t, s, id2)
	got.State.Pending = nil
	update(t, s, got)

	// A storm's claim.
	key := store.StormKey("ann", "push")
	for i := range 4 {
		admit(t, s, key, page(fmt.Sprint("i", i), 1, base), base.Add(2*time.Hour))
	}
	cs, err := s.ClaimDue(ctx(t), base.Add(2*time.Hour+rules.Window), 10*time.Second, 10)
	if err != nil || len(cs) != 1 || cs[0].Storm != key || !extend(cs[0], base.Add(3*time.Hour)) {
		t.Fatalf("storm claim %+v %v not kept", cs, err)
	}
	if c := claimAll(t, s, base.Add(3*time.Hour-time.Millisecond)); len(c) != 0 {
		t.Fatalf("storm taken over before its kept lease ended: %+v", c)
	}
	if !flushed(t, s, cs[0], 1, 1, base.Add(2*time.Hour+rules.Window)) {
		t.Fatal("a kept storm claim's flush was refused")
	}
	// Flushed ends the claim: its three pages left wait for the next
	// window, not for the time a void Extend names.
	if extend(cs[0], base) {
		t.Fatal("Extend of a flushed storm's claim says it is held")
	}
	if c := claimAll(t, s, base.Add(2*time.Hour+2*rules.Window-time.Millisecond)); len(c) != 0 {
		t.Fatalf("storm due before its next window's end after an Extend of its flushed claim: %+v", c)
	}
}

func testNextDue(t *testing.T, f Factory) {
	s := f.New(t)
	if _, ok, err := s.NextDue(ctx(t)); err != nil || ok {
		t.Fatalf("empty store NextDue ok=%v err=%v", ok, err)
	}
	trigger(t, s, incident("api", "g1", base, 5*time.Minute))
	trigger(t, s, incident("web", "g9", base, 2*time.Minute, 7*time.Minute))
	at, ok, err := s.NextDue(ctx(t))
	if err != nil || !ok || !at.Equal(base.Add(2*time.Minute)) {
		t.Fatalf("NextDue %v %v %v, want +2m", at, ok, err)
	}
	// A claimed incident counts at its lease end.
	if cs, _ := s.ClaimDue(ctx(t), base.Add(2*time.Minute), 10*time.Minute, 10); len(cs) != 1 {
		t.Fatal("claim")
	}
	if at, _, _ := s.NextDue(ctx(t)); !at.Equal(base.Add(5 * time.Minute)) {
		t.Fatalf("NextDue with a leased deadline %v, want +5m", at)
	}
}

// testClaimDueNext: store.ClaimDueNext, the dispatcher's one call a
// loop, claims as ClaimDue does, earliest first over every shard, and
// tells when the next incident comes due (a claimed one at its lease end),
// or that the claim took max and more may be due.
func testClaimDueNext(t *testing.T, f Factory) {
	s := f.New(t)
	claim := func(now time.Time, max int) ([]store.Claim, time.Time, bool, bool) {
		t.Helper()
		cs, next, ok, more, err := store.ClaimDueNext(ctx(t), s, now, 10*time.Minute, max)
		if err != nil {
			t.Fatal(err)
		}
		return cs, next, ok, more
	}
	if cs, _, ok, more := claim(base, 10); len(cs) != 0 || ok || more {
		t.Fatalf("empty store: claims %+v, next ok=%v, more=%v", cs, ok, more)
	}
	api := trigger(t, s, incident("api", "g1", base, 5*time.Minute))
	web := trigger(t, s, incident("web", "g9", base, 2*time.Minute, 7*time.Minute))
	if cs, next, ok, more := claim(base.Add(time.Minute), 10); len(cs) != 0 || !ok || more || !next.Equal(base.Add(2*time.Minute)) {
		t.Fatalf("nothing due yet: claims %+v, next %v ok=%v more=%v; want none, +2m", cs, next, ok, more)
	}
	cs, next, ok, more := claim(base.Add(2*time.Minute), 10)
	if len(cs) != 1 || cs[0].Incident != web || !cs[0].Due.Equal(base.Add(2*time.Minute)) || more {
		t.Fatalf("claims %+v more=%v, want web's due at +2m", cs, more)
	}
	if !ok || !next.Equal(base.Add(5*time.Minute)) {
		t.Fatalf("next due after web's claim %v ok=%v, want api's at +5m (web's lease ends at +12m)", next, ok)
	}
	// Both due, room for one: the earlier, and more may be due.
	cs, _, _, more = claim(base.Add(time.Hour), 1)
	if len(cs) != 1 || cs[0].Incident != api || !more {
		t.Fatalf("claim of 1 with two due: %+v more=%v, want api's and more", cs, more)
	}
	// The rest, in order, whatever their shards.
	s = f.New(t)
	due := map[string]time.Duration{}
	for i := range 40 {
		offset := time.Duration((i*17)%40+1) * time.Second
		due[trigger(t, s, incident(fmt.Sprintf("svc%d", i%7), fmt.Sprintf("g%d", i), base, offset))] = offset
	}
	var got []time.Duration
	for {
		cs, _, _, more := claim(base.Add(time.Hour), 6)
		for _, c := range cs {
			got = append(got, due[c.Incident])
		}
		if !more {
			break
		}
	}
	if len(got) != len(due) {
		t.Fatalf("claimed %d of %d due incidents", len(got), len(due))
	}
	for i, d := range got {
		if want := time.Duration(i+1) * time.Second; d != want {
			t.Fatalf("claim %d was the incident due at +%v, want +%v (claims in order: %v)", i, d, want, got)
		}
	}
}

func testTimeline(t *testing.T, f Factory) {
	s := f.New(t)
	e1 := store.Entry{At: base, Type: "trigger", Actor: "alertmanager", Detail: "DiskFull"}
	id := trigger(t, s, incident("api", "g1", base, 0), e1)
	inc := get(t, s, id)
	e2 := store.Entry{At: base.Add(time.Minute), Type: "notify", Level: 1, User: "ann", Channel: "voice", Detail: "via twilio", Ref: "CA00000000000000000000000000000001", Step: "1.4"}
	e3 := store.Entry{At: base.Add(2 * time.Minute), Type: "ack", Actor: "ann"}
	update(t, s, inc, e2, e3)
	tl, err := s.Timeline(ctx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(tl) != 3 {
		t.Fatalf("timeline %+v", tl)
	}
	for i, want := range []store.Entry{e1, e2, e3} {
		got := tl[i]
		got.At, want.At = got.At.UTC(), want.At.UTC()
		if got != want {
			t.Fatalf("entry %d = %+v, want %+v", i, got, want)
		}
	}
	// A conflicting update appends nothing.
	stale := *inc
	stale.Version = 1
	if err := s.Update(ctx(t), &stale, []store.Entry{{At: base, Type: "bogus"}}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale update %v", err)
	}
	if tl, _ := s.Timeline(ctx(t), id); len(tl) != 3 {
		t.Fatalf("a failed update wrote the timeline: %+v", tl)
	}
}

// seedListed triggers an incident of each service, a minute apart, the
// second at P0 and the rest at P1, and resolves the third: what the List
// and CountOpen tests filter.
func seedListed(t *testing.T, s store.Store, services ...string) []string {
	t.Helper()
	var ids []string
	for i, svc := range services {
		inc := incident(svc, fmt.Sprintf("k%d", i), base.Add(time.Duration(i)*time.Minute))
		if i == 1 {
			inc.State.Priority = "P0"
		}
		ids = append(ids, trigger(t, s, inc))
	}
	r := get(t, s, ids[2])
	r.State.Status = policy.StatusResolved
	update(t, s, r)
	return ids
}

func testList(t *testing.T, f Factory) {
	s := f.New(t)
	ids := seedListed(t, s, "api", "web", "api", "db", "api")
	a := get(t, s, ids[4])
	a.State.Status = policy.StatusAcknowledged
	update(t, s, a)

	list := func(f store.Filter) []string {
		t.Helper()
		got, err := s.List(ctx(t), f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, g := range got {
			out = append(out, g.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    store.Filter
		want []string
	}{
		{"all, newest first", store.Filter{}, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{"limit", store.Filter{Limit: 2}, []string{ids[4], ids[3]}},
		{"service", store.Filter{Service: "api"}, []string{ids[4], ids[2], ids[0]}},
		{"triggered", store.Filter{Status: policy.StatusTriggered}, []string{ids[3], ids[1], ids[0]}},
		{"acknowledged", store.Filter{Status: policy.StatusAcknowledged}, []string{ids[4]}},
		{"resolved", store.Filter{Status: policy.StatusResolved}, []string{ids[2]}},
		{"priority", store.Filter{Priority: "P0"}, []string{ids[1]}},
		{"service and status", store.Filter{Service: "api", Status: policy.StatusTriggered}, []string{ids[0]}},
		{"open, both statuses in one order", store.Filter{Open: true}, []string{ids[4], ids[3], ids[1], ids[0]}},
		{"open and service", store.Filter{Service: "api", Open: true}, []string{ids[4], ids[0]}},
		{"open and resolved", store.Filter{Open: true, Status: policy.StatusResolved}, nil},
		{"nothing", store.Filter{Service: "none"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := list(tc.f); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func testNotFound(t *testing.T, f Factory) {
	s := f.New(t)
	for _, id := range []string{"", "zz", "00-nothing", store.NewID(3, base), "ff-abc"} {
		if _, err := s.Get(ctx(t), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", id, err)
		}
		if _, err := s.Timeline(ctx(t), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Timeline(%q) = %v, want ErrNotFound", id, err)
		}
	}
	if _, err := s.FindByDedup(ctx(t), "api", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FindByDedup = %v, want ErrNotFound", err)
	}
	ghost := incident("api", "ghost", base)
	ghost.Version = 1
	if err := s.Update(ctx(t), ghost, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Update of a missing incident = %v, want ErrNotFound", err)
	}
}

func testConcurrentUpdates(t *testing.T, f Factory) {
	s := f.New(t)
	id := trigger(t, s, incident("api", "g1", base))
	const workers, rounds = 8, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				inc, err := s.Get(context.Background(), id)
				if err != nil {
					t.Error(err)
					return
				}
				inc.State.StatusUpdates++
				err = s.Update(context.Background(), inc, []store.Entry{{At: base, Type: "status_update"}})
				switch {
				case err == nil:
					mu.Lock()
					wins++
					mu.Unlock()
				case !errors.Is(err, store.ErrConflict):
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got := get(t, s, id)
	if got.State.StatusUpdates != wins || got.Version != int64(wins)+1 {
		t.Fatalf("%d successful updates but counter %d, version %d: an update was lost", wins, got.State.StatusUpdates, got.Version)
	}
	if tl, _ := s.Timeline(ctx(t), id); len(tl) != wins {
		t.Fatalf("%d timeline entries for %d successful updates", len(tl), wins)
	}
}

func testConcurrentClaims(t *testing.T, f Factory) {
	s := f.New(t)
	want := map[string]bool{}
	for i := 0; i < 60; i++ {
		want[trigger(t, s, incident("api", fmt.Sprintf("k%d", i), base, 0, time.Second))] = true
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string]int{}
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				cs, err := s.ClaimDue(context.Background(), base.Add(time.Minute), time.Hour, 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(cs) == 0 {
					return
				}
				mu.Lock()
				for _, c := range cs {
					got[c.Incident]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(got) != len(want) {
		t.Fatalf("claimed %d distinct incidents, want %d", len(got), len(want))
	}
	for k, n := range got {
		if n != 1 || !want[k] {
			t.Fatalf("incident %s claimed %d times", k, n)
		}
	}
}

func testConcurrentTriggers(t *testing.T, f Factory) {
	s := f.New(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ids := map[string]int{}
	created := 0
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, out, err := s.Trigger(context.Background(), incident("api", "storm", base, 0), nil)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			ids[id]++
			if out == store.Created {
				created++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(ids) != 1 || created != 1 {
		t.Fatalf("8 concurrent triggers of one key made %d incidents (%d created)", len(ids), created)
	}
	for id := range ids {
		if got := get(t, s, id); got.Repeats != 7 {
			t.Fatalf("repeats %d, want 7", got.Repeats)
		}
	}
	if cs := claimAll(t, s, base); len(cs) != 1 {
		t.Fatalf("%d first pages due, want 1", len(cs))
	}
}

func testDurable(t *testing.T, f Factory) {
	if f.Reopen == nil {
		t.Skip("this store has no reopen step in its factory")
	}
	s := f.New(t)
	inc := incident("api", "g1", base, time.Minute)
	id := trigger(t, s, inc, store.Entry{At: base, Type: "trigger"})
	s = f.Reopen(t, s)
	got := get(t, s, id)
	want := *inc
	want.Version = 1
	equal(t, "after reopen", got, &want)
	if cs := claimAll(t, s, base.Add(time.Hour)); len(cs) != 1 {
		t.Fatalf("deadlines after reopen: %v", cs)
	}
	if tl, _ := s.Timeline(ctx(t), id); len(tl) != 1 {
		t.Fatalf("timeline after reopen: %v", tl)
	}
}
