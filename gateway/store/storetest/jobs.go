package storetest

import (
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
)

// jobTests are the jobs-and-documents part of the suite.
var jobTests = []struct {
	name string
	fn   func(*testing.T, Factory)
}{
	{"JobsAreDueClaimedAndFinished", testJobs},
	{"JobReplacedWhileClaimedKeepsTheReplacement", testJobReplaced},
	{"JobClaimLeaseAndTakeover", testJobTakeover},
	{"JobAddedOnlyWhenAbsent", testJobAdded},
	{"JobReplacedOnlyAtTheVersionRead", testJobReplacedAtVersion},
	{"JobsPutLaterOnlyOverEarlierOnes", testJobsPutLater},
	{"DocsAreVersionedByKind", testDocs},
	{"JobsAndDocsDurable", testJobsDurable},
	{"NewIncidentsFirstPageIsClaimedFirst", testFirstPageFirst},
	{"FloodsFirstPageWaitsItsTime", testFloodsFirstPage},
}

func testJobs(t *testing.T, f Factory) {
	s := f.New(t)
	j := store.Job{Kind: "heartbeat", Key: "api/watchdog", Due: base.Add(time.Minute), Data: []byte(`{"interval":"1m"}`)}
	if err := s.PutJob(ctx(t), j); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetJob(ctx(t), "heartbeat", "api/watchdog")
	if err != nil || !got.Due.Equal(j.Due) || string(got.Data) != string(j.Data) || got.Version != 1 || got.Kind != "heartbeat" || got.Key != "api/watchdog" {
		t.Fatalf("GetJob = %+v %v", got, err)
	}
	if _, err := s.GetJob(ctx(t), "heartbeat", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown job: %v", err)
	}
	// Moved later by another put (a ping): not due at the old time.
	j.Due = base.Add(2 * time.Minute)
	if err := s.PutJob(ctx(t), j); err != nil {
		t.Fatal(err)
	}
	if cs := claimAll(t, s, base.Add(time.Minute)); len(cs) != 0 {
		t.Fatalf("claimed at the job's old time: %+v", cs)
	}
	if at, ok, _ := s.NextDue(ctx(t)); !ok || !at.Equal(base.Add(2*time.Minute)) {
		t.Fatalf("next due %v %v", at, ok)
	}
	cs := claimAll(t, s, base.Add(2*time.Minute))
	if len(cs) != 1 || cs[0].Job == nil || cs[0].Incident != "" || cs[0].Storm != "" || cs[0].Job.Key != "api/watchdog" ||
		cs[0].Job.Version != 2 || string(cs[0].Job.Data) != string(j.Data) || !cs[0].Due.Equal(base.Add(2*time.Minute)) {
		t.Fatalf("claims %+v", cs)
	}
	// Finished with a next run: due then, nothing in between.
	next := &store.Job{Due: base.Add(10 * time.Minute), Data: []byte(`{"n":2}`)}
	if err := s.FinishJob(ctx(t), cs[0], next); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetJob(ctx(t), "heartbeat", "api/watchdog")
	if !got.Due.Equal(next.Due) || string(got.Data) != `{"n":2}` {
		t.Fatalf("after FinishJob with a next run: %+v", got)
	}
	cs = claimAll(t, s, base.Add(10*time.Minute))
	if len(cs) != 1 {
		t.Fatalf("claims %+v", cs)
	}
	// Finished without one: gone.
	if err := s.FinishJob(ctx(t), cs[0], nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetJob(ctx(t), "heartbeat", "api/watchdog"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a finished job is still there: %v", err)
	}
	if _, ok, _ := s.NextDue(ctx(t)); ok {
		t.Fatal("a finished job is still due")
	}
	// Deleted: gone, and not due.
	if err := s.PutJob(ctx(t), store.Job{Kind: "notice", Key: "aivo", Due: base}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteJob(ctx(t), "notice", "aivo"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteJob(ctx(t), "notice", "aivo"); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
	if cs := claimAll(t, s, base.Add(time.Hour)); len(cs) != 0 {
		t.Fatalf("a deleted job was claimed: %+v", cs)
	}
	if err := s.PutJob(ctx(t), store.Job{Kind: "a/b", Key: "x", Due: base}); err == nil {
		t.Fatal("a kind with a slash was taken")
	}
}

func testJobReplaced(t *testing.T, f Factory) {
	s := f.New(t)
	if err := s.PutJob(ctx(t), store.Job{Kind: "heartbeat", Key: "w", Due: base}); err != nil {
		t.Fatal(err)
	}
	cs := claimAll(t, s, base)
	if len(cs) != 1 {
		t.Fatalf("claims %+v", cs)
	}
	// A ping arrives while the expiry is being worked: it stands.
	if err := s.PutJob(ctx(t), store.Job{Kind: "heartbeat", Key: "w", Due: base.Add(5 * time.Minute), Data: []byte(`"pinged"`)}); err != nil {
		t.Fatal(err)
	}
	if c := claimAll(t, s, base.Add(time.Second)); len(c) != 0 {
		t.Fatalf("a claimed job was claimed again after a put: %+v", c)
	}
	if err := s.FinishJob(ctx(t), cs[0], nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetJob(ctx(t), "heartbeat", "w")
	if err != nil || string(got.Data) != `"pinged"` || !got.Due.Equal(base.Add(5*time.Minute)) {
		t.Fatalf("the replacement: %+v %v", got, err)
	}
	if at, ok, _ := s.NextDue(ctx(t)); !ok || !at.Equal(base.Add(5*time.Minute)) {
		t.Fatalf("the replacement is due %v %v", at, ok)
	}
}

func testJobTakeover(t *testing.T, f Factory) {
	s := f.New(t)
	if err := s.PutJob(ctx(t), store.Job{Kind: "notice", Key: "s", Due: base}); err != nil {
		t.Fatal(err)
	}
	c1, _ := s.ClaimDue(ctx(t), base, 10*time.Second, 10)
	c2, _ := s.ClaimDue(ctx(t), base.Add(10*time.Second), 10*time.Second, 10)
	if len(c1) != 1 || len(c2) != 1 || !c2[0].Takeover || c2[0].Job == nil {
		t.Fatalf("claims %+v %+v", c1, c2)
	}
	// The first holder's late finish is void.
	if err := s.FinishJob(ctx(t), c1[0], nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetJob(ctx(t), "notice", "s"); err != nil {
		t.Fatalf("a void finish deleted the job: %v", err)
	}
	// Complete (a failed run) leaves it due at its time.
	complete(t, s, c2[0])
	if cs := claimAll(t, s, base.Add(11*time.Second)); len(cs) != 1 {
		t.Fatalf("after Complete: %+v", cs)
	}
}

func testDocs(t *testing.T, f Factory) {
	s := f.New(t)
	docs, ver, err := s.ListDocs(ctx(t), "override:aivo")
	if err != nil || len(docs) != 0 || ver != 0 {
		t.Fatalf("empty kind: %v %d %v", docs, ver, err)
	}
	v1, err := s.PutDocs(ctx(t), "override:aivo", 0, map[string][]byte{"o1": []byte(`{"user":"ann"}`), "o2": []byte(`{"user":"bob"}`)}, nil)
	if err != nil || v1 != 1 {
		t.Fatalf("first put: %d %v", v1, err)
	}
	if _, err := s.PutDocs(ctx(t), "override:aivo", 0, map[string][]byte{"o3": []byte(`{}`)}, nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a put on a stale version: %v", err)
	}
	v2, err := s.PutDocs(ctx(t), "override:aivo", v1, map[string][]byte{"o3": []byte(`{"user":"cat"}`)}, []string{"o1"})
	if err != nil || v2 != 2 {
		t.Fatalf("second put: %d %v", v2, err)
	}
	docs, ver, err = s.ListDocs(ctx(t), "override:aivo")
	if err != nil || ver != 2 || len(docs) != 2 || string(docs["o2"]) != `{"user":"bob"}` || string(docs["o3"]) != `{"user":"cat"}` {
		t.Fatalf("after the second put: %v %d %v", docs, ver, err)
	}
	if other, ver, _ := s.ListDocs(ctx(t), "override:aion-r"); len(other) != 0 || ver != 0 {
		t.Fatalf("kinds are not apart: %v %d", other, ver)
	}
}

func testJobsDurable(t *testing.T, f Factory) {
	if f.Reopen == nil {
		t.Skip("this store has no reopen step in its factory")
	}
	s := f.New(t)
	if err := s.PutJob(ctx(t), store.Job{Kind: "heartbeat", Key: "w", Due: base.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutDocs(ctx(t), "maintenance", 0, map[string][]byte{"m1": []byte(`{}`)}, nil); err != nil {
		t.Fatal(err)
	}
	s = f.Reopen(t, s)
	if cs := claimAll(t, s, base.Add(time.Minute)); len(cs) != 1 || cs[0].Job == nil {
		t.Fatalf("the job after a restart: %+v", cs)
	}
	if docs, ver, _ := s.ListDocs(ctx(t), "maintenance"); len(docs) != 1 || ver != 1 {
		t.Fatalf("docs after a restart: %v %d", docs, ver)
	}
}

// testFirstPageFirst: under a backlog, a new incident's first page is
// claimed before an older incident's later step due at the same time, and
// its claim still says when it was due.
func testFirstPageFirst(t *testing.T, f Factory) {
	s := f.New(t)
	older := incident("api", "older", base.Add(-2*time.Minute), 2*time.Minute) // its SMS, due at base
	trigger(t, s, older)
	fresh := incident("api", "fresh", base, 0) // its first page, due at base
	id := trigger(t, s, fresh)
	cs, err := s.ClaimDue(ctx(t), base, time.Minute, 1)
	if err != nil || len(cs) != 1 || cs[0].Incident != id || !cs[0].Due.Equal(base) {
		t.Fatalf("first claim %+v %v, want the new incident's first page, due at %v", cs, err, base)
	}
}

// testFloodsFirstPage: a new incident triggered with NoFirstPageLead (its
// service is flooding) is queued at its own time, so another service's
// new incident due a moment later is claimed before it, and so is an
// older incident's step due before it; its claim says when it was due.
func testFloodsFirstPage(t *testing.T, f Factory) {
	s := f.New(t)
	flood := incident("api", "flood", base.Add(-100*time.Millisecond), 0) // its first page, due 100 ms before base
	flood.NoFirstPageLead = true
	floodID := trigger(t, s, flood)
	older := incident("api", "older", base.Add(-2*time.Minute-150*time.Millisecond), 2*time.Minute) // its SMS, due 50 ms before the flood's page
	olderID := trigger(t, s, older)
	other := incident("batch", "other", base, 0) // another service's first page, due at base
	otherID := trigger(t, s, other)
	var got []string
	for range 3 {
		cs, err := s.ClaimDue(ctx(t), base, time.Minute, 1)
		if err != nil || len(cs) != 1 {
			t.Fatalf("claim %+v %v", cs, err)
		}
		got = append(got, cs[0].Incident)
		if cs[0].Incident == floodID && !cs[0].Due.Equal(base.Add(-100*time.Millisecond)) {
			t.Errorf("the flood's claim says due at %v, want %v", cs[0].Due, base.Add(-100*time.Millisecond))
		}
	}
	if want := []string{otherID, olderID, floodID}; !slices.Equal(got, want) {
		t.Fatalf("claimed %v, want the other service's first page, then the older step, then the flood's (%v)", got, want)
	}
}

// testJobAdded: AddJob stores a job that is not stored, due at its time,
// and leaves one that is (a re-arm never replaces a ping's expiry), claimed
// or not.
func testJobAdded(t *testing.T, f Factory) {
	s := f.New(t)
	added, err := s.AddJob(ctx(t), store.Job{Kind: "heartbeat", Key: "w", Due: base, Data: []byte(`"armed"`)})
	if err != nil || !added {
		t.Fatalf("AddJob of a new job = %v, %v", added, err)
	}
	got, err := s.GetJob(ctx(t), "heartbeat", "w")
	if err != nil || string(got.Data) != `"armed"` || !got.Due.Equal(base) || got.Version != 1 {
		t.Fatalf("the added job: %+v %v", got, err)
	}
	if at, ok, _ := s.NextDue(ctx(t)); !ok || !at.Equal(base) {
		t.Fatalf("the added job is due %v %v", at, ok)
	}
	// A ping moved it: adding again changes nothing.
	if err := s.PutJob(ctx(t), store.Job{Kind: "heartbeat", Key: "w", Due: base.Add(5 * time.Minute), Data: []byte(`"pinged"`)}); err != nil {
		t.Fatal(err)
	}
	added, err = s.AddJob(ctx(t), store.Job{Kind: "heartbeat", Key: "w", Due: base.Add(time.Minute), Data: []byte(`"re-armed"`)})
	if err != nil || added {
		t.Fatalf("AddJob of a stored job = %v, %v", added, err)
	}
	got, _ = s.GetJob(ctx(t), "heartbeat", "w")
	if string(got.Data) != `"pinged"` || !got.Due.Equal(base.Add(5*time.Minute)) || got.Version != 2 {
		t.Fatalf("AddJob replaced a stored job: %+v", got)
	}
	if at, ok, _ := s.NextDue(ctx(t)); !ok || !at.Equal(base.Add(5*time.Minute)) {
		t.Fatalf("after AddJob of a stored job it is due %v %v", at, ok)
	}
	// Claimed: still left alone, and not claimed twice.
	cs := claimAll(t, s, base.Add(5*time.Minute))
	if len(cs) != 1 {
		t.Fatalf("claims %+v", cs)
	}
	if added, err := s.AddJob(ctx(t), store.Job{Kind: "heartbeat", Key: "w", Due: base}); err != nil || added {
		t.Fatalf("AddJob of a claimed job = %v, %v", added, err)
	}
	if c := claimAll(t, s, base.Add(5*time.Minute+time.Second)); len(c) != 0 {
		t.Fatalf("a claimed job was claimed again after AddJob: %+v", c)
	}
	if _, err := s.AddJob(ctx(t), store.Job{Kind: "a/b", Key: "x", Due: base}); err == nil {
		t.Fatal("AddJob took a kind with a slash")
	}
}

// testJobReplacedAtVersion: ReplaceJob stores a job only while it is as it
// was read (same version) and nobody works it. Whatever happened to it
// since the read (another put, a claim, a run finished with its next
// state, a delete) stands, and the job is due as that left it.
func testJobReplacedAtVersion(t *testing.T, f Factory) {
	const kind, key = "notice", "s"
	// read stores the job as a dispatcher last left it and reads it, as
	// arming does before moving it earlier.
	read := func(t *testing.T, s store.Store) store.Job {
		t.Helper()
		if err := s.PutJob(ctx(t), store.Job{Kind: kind, Key: key, Due: base.Add(time.Hour), Data: []byte(`"read"`)}); err != nil {
			t.Fatal(err)
		}
		j, err := s.GetJob(ctx(t), kind, key)
		if err != nil {
			t.Fatal(err)
		}
		j.Due = base.Add(time.Minute)
		return *j
	}
	// stands checks that the job is still data, due at due (unclaimed)
	// or claimed (due zero), and that the replacement was refused.
	stands := func(t *testing.T, s store.Store, j store.Job, data string, due time.Time) {
		t.Helper()
		replaced, err := s.ReplaceJob(ctx(t), j)
		if err != nil || replaced {
			t.Fatalf("ReplaceJob = %v, %v; want false", replaced, err)
		}
		got, err := s.GetJob(ctx(t), kind, key)
		if data == "" {
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("a deleted job after ReplaceJob: %+v %v", got, err)
			}
			if at, ok, _ := s.NextDue(ctx(t)); ok {
				t.Fatalf("a deleted job is due at %v after ReplaceJob", at)
			}
			return
		}
		if err != nil || string(got.Data) != data {
			t.Fatalf("after ReplaceJob the job is %+v %v, want %s", got, err, data)
		}
		if due.IsZero() {
			if cs := claimAll(t, s, base.Add(time.Minute)); len(cs) != 0 {
				t.Fatalf("a claimed job was claimed again after ReplaceJob: %+v", cs)
			}
			return
		}
		if at, ok, _ := s.NextDue(ctx(t)); !ok || !at.Equal(due) {
			t.Fatalf("after ReplaceJob the job is due %v %v, want %v", at, ok, due)
		}
	}
	t.Run("at the version read", func(t *testing.T) {
		s := f.New(t)
		j := read(t, s)
		j.Data = []byte(`"moved"`)
		replaced, err := s.ReplaceJob(ctx(t), j)
		if err != nil || !replaced {
			t.Fatalf("ReplaceJob = %v, %v; want true", replaced, err)
		}
		got, err := s.GetJob(ctx(t), kind, key)
		if err != nil || string(got.Data) != `"moved"` || !got.Due.Equal(j.Due) || got.Version != j.Version+1 {
			t.Fatalf("the replaced job: %+v %v", got, err)
		}
		if cs := claimAll(t, s, j.Due); len(cs) != 1 || cs[0].Job == nil || cs[0].Job.Version != j.Version+1 {
			t.Fatalf("claims at its new time: %+v", cs)
		}
		if _, err := s.ReplaceJob(ctx(t), store.Job{Kind: "a/b", Key: "x", Due: base}); err == nil {
			t.Fatal("ReplaceJob took a kind with a slash")
		}
	})
	t.Run("put since", func(t *testing.T) {
		s := f.New(t)
		j := read(t, s)
		if err := s.PutJob(ctx(t), store.Job{Kind: kind, Key: key, Due: base.Add(2 * time.Hour), Data: []byte(`"put"`)}); err != nil {
			t.Fatal(err)
		}
		stands(t, s, j, `"put"`, base.Add(2*time.Hour))
	})
	t.Run("claimed", func(t *testing.T) {
		s := f.New(t)
		j := read(t, s)
		cs := claimAll(t, s, base.Add(time.Hour))
		if len(cs) != 1 || cs[0].Job == nil {
			t.Fatalf("claims %+v", cs)
		}
		stands(t, s, j, `"read"`, time.Time{})
		// Its run ends with its next state: that stands, not the job read.
		if err := s.FinishJob(ctx(t), cs[0], &store.Job{Due: base.Add(3 * time.Hour), Data: []byte(`"sent"`)}); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetJob(ctx(t), kind, key)
		if err != nil || string(got.Data) != `"sent"` || !got.Due.Equal(base.Add(3*time.Hour)) {
			t.Fatalf("after the claimed run finished: %+v %v", got, err)
		}
	})
	t.Run("finished since", func(t *testing.T) {
		s := f.New(t)
		j := read(t, s)
		cs := claimAll(t, s, base.Add(time.Hour))
		if len(cs) != 1 {
			t.Fatalf("claims %+v", cs)
		}
		if err := s.FinishJob(ctx(t), cs[0], &store.Job{Due: base.Add(3 * time.Hour), Data: []byte(`"sent"`)}); err != nil {
			t.Fatal(err)
		}
		stands(t, s, j, `"sent"`, base.Add(3*time.Hour))
	})
	t.Run("deleted since", func(t *testing.T) {
		s := f.New(t)
		j := read(t, s)
		if err := s.DeleteJob(ctx(t), kind, key); err != nil {
			t.Fatal(err)
		}
		stands(t, s, j, "", time.Time{})
	})
}

// testJobsPutLater: PutLaterJobs stores jobs of many shards at once, each
// as PutJob does unless the job stored is due as late or later (a resolve
// mark written by a request a stall held up must not replace a later
// one): that one stands, its data and version unchanged. A claimed job
// put later stays claimed, as with PutJob.
func testJobsPutLater(t *testing.T, f Factory) {
	s := f.New(t)
	const kind = "mark"
	job := func(key string, due time.Duration, data string) store.Job {
		return store.Job{Kind: kind, Key: key, Due: base.Add(due), Data: []byte(data)}
	}
	// Enough keys to fall in several shards.
	var first []store.Job
	for i := range 40 {
		first = append(first, job("k"+strconv.Itoa(i), time.Hour, `"first"`))
	}
	if err := s.PutLaterJobs(ctx(t), first); err != nil {
		t.Fatal(err)
	}
	for _, j := range first {
		got, err := s.GetJob(ctx(t), kind, j.Key)
		if err != nil || string(got.Data) != `"first"` || !got.Due.Equal(j.Due) || got.Version != 1 {
			t.Fatalf("job %s: %+v %v", j.Key, got, err)
		}
	}
	if at, ok, _ := s.NextDue(ctx(t)); !ok || !at.Equal(base.Add(time.Hour)) {
		t.Fatalf("next due %v %v", at, ok)
	}
	if err := s.PutLaterJobs(ctx(t), []store.Job{
		job("k0", time.Hour-time.Second, `"earlier"`),
		job("k1", time.Hour, `"same"`),
		job("k2", time.Hour+time.Second, `"later"`),
		job("new", 2*time.Hour, `"new"`),
	}); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]struct {
		data    string
		due     time.Duration
		version int64
	}{
		"k0":  {`"first"`, time.Hour, 1},
		"k1":  {`"first"`, time.Hour, 1},
		"k2":  {`"later"`, time.Hour + time.Second, 2},
		"new": {`"new"`, 2 * time.Hour, 1},
	} {
		got, err := s.GetJob(ctx(t), kind, key)
		if err != nil || string(got.Data) != want.data || !got.Due.Equal(base.Add(want.due)) || got.Version != want.version {
			t.Fatalf("job %s after the second put: %+v %v; want %s due %v version %d", key, got, err, want.data, want.due, want.version)
		}
	}
	// Claimed: the later job is stored, the claim stands.
	cs := claimAll(t, s, base.Add(time.Hour))
	if len(cs) != len(first)-1 {
		t.Fatalf("%d claims at the first jobs' time, want %d", len(cs), len(first)-1)
	}
	if err := s.PutLaterJobs(ctx(t), []store.Job{job("k3", 3*time.Hour, `"while claimed"`)}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetJob(ctx(t), kind, "k3"); err != nil || string(got.Data) != `"while claimed"` || got.Version != 2 {
		t.Fatalf("a claimed job put later: %+v %v", got, err)
	}
	if c := claimAll(t, s, base.Add(time.Hour+time.Second)); len(c) != 1 || c[0].Job == nil || c[0].Job.Key != "k2" {
		t.Fatalf("claims after a claimed job was put later: %+v; want k2's alone", c)
	}
	if err := s.PutLaterJobs(ctx(t), nil); err != nil {
		t.Fatalf("no jobs: %v", err)
	}
	if err := s.PutLaterJobs(ctx(t), []store.Job{job("ok", time.Hour, `1`), {Kind: "a/b", Key: "x", Due: base}}); err == nil {
		t.Fatal("PutLaterJobs took a kind with a slash")
	}
	if _, err := s.GetJob(ctx(t), kind, "ok"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a job refused with the rest was stored: %v", err)
	}
}
