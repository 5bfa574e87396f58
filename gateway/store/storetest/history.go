package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/logtest"
	"github.com/pagerd/pagerd/policy"
)

// historyTests are what reports read and what retention removes.
var historyTests = []struct {
	name string
	fn   func(*testing.T, Factory)
}{
	{"HistoryReadsARangeWithTimelinesOldestFirst", testHistory},
	{"HistoryStopsAtTheCallersError", testHistoryStops},
	{"ExpireRemovesResolvedIncidentsPastRetention", testExpire},
	{"ExpireWorksInBatches", testExpireBatches},
	{"ExpireFindsResolvedPastKeptOnes", testExpirePastKeptOnes},
}

// historyRecord is what History gave for one incident.
type historyRecord struct {
	inc *store.Incident
	tl  []store.Entry
}

func history(t *testing.T, s store.Store, since, until time.Time) []historyRecord {
	t.Helper()
	var out []historyRecord
	err := s.History(ctx(t), since, until, func(inc *store.Incident, tl []store.Entry) error {
		out = append(out, historyRecord{inc, tl})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// triggerMany stores incidents from many goroutines, as the daemon's
// requests do (the embedded store then shares its commits among them).
func triggerMany(t *testing.T, s store.Store, incs []*store.Incident, tls [][]store.Entry) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(incs))
	work := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if _, out, err := s.Trigger(ctx(t), incs[i], tls[i]); err != nil || out != store.Created {
					errs <- fmt.Errorf("trigger %s: %v %v", incs[i].ID, out, err)
				}
			}
		}()
	}
	for i := range incs {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func sameEntries(a, b []store.Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		x.At, y.At = x.At.UTC(), y.At.UTC()
		if x != y {
			return false
		}
	}
	return true
}

// testHistory: more than two batches of incidents, three to a millisecond
// in different shards, each with a timeline of its own; History gives each
// once, oldest first (creation time, then id), with its whole timeline and
// the record Get gives, and bounds the range as List does (since
// inclusive, until exclusive, at the millisecond).
func testHistory(t *testing.T, f Factory) {
	s := f.New(t)
	n := 2*store.HistoryBatch + 150
	incs := make([]*store.Incident, n)
	tls := make([][]store.Entry, n)
	for i := range incs {
		at := base.Add(time.Duration(i/3) * time.Millisecond)
		incs[i] = incident("api", fmt.Sprintf("h%d", i), at)
		tls[i] = []store.Entry{{At: at, Type: "trigger", Actor: "alertmanager", Detail: fmt.Sprintf("alert %d", i)},
			{At: at, Type: "notify", Level: 1, User: "ann", Channel: "push"}}
	}
	triggerMany(t, s, incs, tls)
	// One acknowledged and resolved since: its latest record, and the
	// entries its updates appended.
	changed := get(t, s, incs[7].ID)
	changed.State.Status, changed.State.AcknowledgedAt, changed.State.AcknowledgedBy = policy.StatusAcknowledged, base.Add(time.Minute), "ann"
	ack := store.Entry{At: base.Add(time.Minute), Type: "ack", Actor: "ann", User: "ann", Level: 1}
	update(t, s, changed, ack)
	tls[7] = append(tls[7], ack)

	byID := map[string]int{}
	for i, inc := range incs {
		byID[inc.ID] = i
	}
	got := history(t, s, time.Time{}, time.Time{})
	if len(got) != n {
		t.Fatalf("History gave %d incidents of %d", len(got), n)
	}
	for k, r := range got {
		if k > 0 {
			a, b := store.CursorOf(got[k-1].inc), store.CursorOf(r.inc)
			if a.CreatedAt.After(b.CreatedAt) || (a.CreatedAt.Equal(b.CreatedAt) && a.ID >= b.ID) {
				t.Fatalf("not oldest first by creation time then id at %d: %v then %v", k, a, b)
			}
		}
		i, ok := byID[r.inc.ID]
		if !ok {
			t.Fatalf("History gave an unknown incident %s", r.inc.ID)
		}
		if !sameEntries(r.tl, tls[i]) {
			t.Fatalf("timeline of %s:\n got %+v\nwant %+v", r.inc.ID, r.tl, tls[i])
		}
		if i == 7 || i%500 == 0 {
			equal(t, "History's record of "+r.inc.ID, r.inc, get(t, s, r.inc.ID))
		}
	}
	if got[0].inc.ID == "" || got[0].inc.State.Status != policy.StatusTriggered || len(got[0].inc.Details) == 0 {
		t.Fatalf("History's record lacks fields: %+v", got[0].inc)
	}

	ms := func(m int) time.Time { return base.Add(time.Duration(m) * time.Millisecond) }
	count := func(since, until time.Time) int { return len(history(t, s, since, until)) }
	last := (n - 1) / 3
	for _, tc := range []struct {
		name         string
		since, until time.Time
		want         int
	}{
		{"since is inclusive", ms(last), time.Time{}, n - 3*last},
		{"until is exclusive", time.Time{}, ms(1), 3},
		{"a range across batches", ms(300), ms(700), 3 * 400},
		{"a nanosecond past since leaves its millisecond out", ms(1).Add(time.Nanosecond), ms(3), 3},
		{"a nanosecond past until takes its millisecond in", ms(1), ms(2).Add(time.Nanosecond), 6},
		{"empty", ms(5), ms(5), 0},
		{"inverted", ms(9), ms(2), 0},
		{"before everything", time.Time{}, base, 0},
		{"after everything", ms(last + 1), time.Time{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := count(tc.since, tc.until); got != tc.want {
				t.Fatalf("%d incidents, want %d", got, tc.want)
			}
		})
	}
}

func testHistoryStops(t *testing.T, f Factory) {
	s := f.New(t)
	for i := range 5 {
		trigger(t, s, incident("api", fmt.Sprintf("s%d", i), base.Add(time.Duration(i)*time.Second)))
	}
	stop := errors.New("enough")
	calls := 0
	err := s.History(ctx(t), time.Time{}, time.Time{}, func(*store.Incident, []store.Entry) error {
		if calls++; calls == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 2 {
		t.Fatalf("History went on after its callback's error: %v after %d calls", err, calls)
	}
}

// resolvedIncident is an incident resolved at `at`, with nothing pending.
func resolvedIncident(service, dedup string, created, at time.Time) *store.Incident {
	inc := incident(service, dedup, created)
	inc.State.Status, inc.State.ResolvedAt, inc.State.ResolvedBy = policy.StatusResolved, at, "ann"
	inc.UpdatedAt = at
	return inc
}

// testExpire: what Expire removes (resolved before the cut-off, nothing
// pending) goes with its timeline, index entries and dedup key; what it
// keeps (open however old, resolved since, owing PagerDuty a message,
// resolved through the update path but recently) is untouched, due entries
// included; a dedup key that names a newer incident stays with it.
func testExpire(t *testing.T, f Factory) {
	s := f.New(t)
	cut := base.Add(400 * 24 * time.Hour)
	entry := func(at time.Time) store.Entry { return store.Entry{At: at, Type: "trigger", Actor: "alertmanager"} }

	old := trigger(t, s, resolvedIncident("api", "old", base, base.Add(time.Hour)), entry(base))
	openOld := trigger(t, s, incident("api", "open-old", base.Add(time.Minute), 500*24*time.Hour), entry(base))
	recent := trigger(t, s, resolvedIncident("api", "recent", base.Add(2*time.Minute), cut.Add(time.Hour)), entry(base))
	owing := resolvedIncident("api", "owing", base.Add(3*time.Minute), base.Add(time.Hour))
	owing.Outbox = []store.OutboxItem{{ID: "o1", Kind: store.OutboxPagerDuty, Action: "resolve", Due: cut.Add(time.Hour), Since: base}}
	owingID := trigger(t, s, owing, entry(base))
	// Resolved long ago, and the same alert has fired again since: the
	// dedup key names the new incident and must keep doing so.
	superseded := trigger(t, s, resolvedIncident("api", "again", base.Add(4*time.Minute), base.Add(time.Hour)), entry(base))
	newer := trigger(t, s, incident("api", "again", cut.Add(-time.Hour)), entry(cut))
	// Resolved through Update, as the incident service does, long ago.
	updated := trigger(t, s, incident("web", "upd", base.Add(5*time.Minute), time.Minute), entry(base))
	u := get(t, s, updated)
	u.State.Status, u.State.ResolvedAt, u.State.Pending = policy.StatusResolved, base.Add(6*time.Minute), nil
	update(t, s, u, store.Entry{At: base.Add(6 * time.Minute), Type: "resolve", Actor: "ann"})

	n, more, err := s.Expire(ctx(t), cut, 100)
	if err != nil || n != 3 || more {
		t.Fatalf("Expire = %d, %v, %v; want 3 removed (old, superseded, updated), no more", n, more, err)
	}
	for _, id := range []string{old, superseded, updated} {
		if _, err := s.Get(ctx(t), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired %s: Get = %v", id, err)
		}
		if _, err := s.Timeline(ctx(t), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired %s: Timeline = %v", id, err)
		}
	}
	var left []string
	for _, r := range history(t, s, time.Time{}, time.Time{}) {
		left = append(left, r.inc.ID)
		if len(r.tl) != 1 {
			t.Errorf("%s kept %d timeline entries", r.inc.ID, len(r.tl))
		}
	}
	if want := []string{openOld, recent, owingID, newer}; !reflect.DeepEqual(left, want) {
		t.Fatalf("History after Expire: %v, want %v", left, want)
	}
	if got := listIDs(t, s, store.Filter{Limit: 100}); len(got) != 4 {
		t.Fatalf("List after Expire: %v", got)
	}
	if got := listIDs(t, s, store.Filter{Status: policy.StatusTriggered}); !reflect.DeepEqual(got, []string{newer, openOld}) {
		t.Fatalf("open incidents after Expire: %v", got)
	}
	// Its dedup key is gone: the same alert makes a new incident, and
	// the key that names a newer incident still does.
	if _, err := s.FindByDedup(ctx(t), "api", "old"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the expired incident's dedup key: %v", err)
	}
	trigger(t, s, incident("api", "old", cut.Add(time.Minute)))
	if inc, err := s.FindByDedup(ctx(t), "api", "again"); err != nil || inc.ID != newer {
		t.Fatalf("the newer incident's dedup key: %v %v", inc, err)
	}
	// What is pending stays due.
	if cs := claimAll(t, s, cut.Add(500*24*time.Hour)); len(cs) != 2 {
		t.Fatalf("claims after Expire: %+v (want the old open incident and the PagerDuty message)", cs)
	}
	// Nothing more to do.
	if n, more, err := s.Expire(ctx(t), cut, 100); err != nil || n != 0 || more {
		t.Fatalf("Expire again = %d %v %v", n, more, err)
	}
}

// testExpirePastKeptOnes: resolved incidents behind many older ones that
// are kept (open, however old) are still found, a few at a time.
func testExpirePastKeptOnes(t *testing.T, f Factory) {
	s := f.New(t)
	for i := range 80 {
		trigger(t, s, incident("api", fmt.Sprintf("open%d", i), base.Add(time.Duration(i)*time.Second), 900*24*time.Hour))
	}
	var ids []string
	for i := range 5 {
		at := base.Add(time.Hour + time.Duration(i)*time.Minute)
		ids = append(ids, trigger(t, s, resolvedIncident("api", fmt.Sprintf("r%d", i), at, at.Add(time.Minute))))
	}
	cut := base.Add(24 * time.Hour)
	total := 0
	for range 5 {
		n, more, err := s.Expire(ctx(t), cut, 2)
		if err != nil {
			t.Fatal(err)
		}
		total += n
		if !more {
			break
		}
	}
	if total != 5 {
		t.Fatalf("removed %d of the 5 resolved incidents behind 80 open ones", total)
	}
	for _, id := range ids {
		if _, err := s.Get(ctx(t), id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: %v", id, err)
		}
	}
	if got := listIDs(t, s, store.Filter{Status: policy.StatusTriggered, Limit: 100}); len(got) != 80 {
		t.Fatalf("%d open incidents left, want 80", len(got))
	}
}

// testExpireBatches: Expire stops at max and says more are left; the
// batches together remove everything due, oldest first, and a restart
// keeps them removed.
func testExpireBatches(t *testing.T, f Factory) {
	s := f.New(t)
	var ids []string
	for i := range 7 {
		at := base.Add(time.Duration(i) * time.Minute)
		ids = append(ids, trigger(t, s, resolvedIncident("api", fmt.Sprintf("b%d", i), at, at.Add(time.Minute)),
			store.Entry{At: at, Type: "trigger"}))
	}
	cut := base.Add(time.Hour)
	var removed []int
	for {
		n, more, err := s.Expire(ctx(t), cut, 3)
		if err != nil {
			t.Fatal(err)
		}
		removed = append(removed, n)
		if !more {
			break
		}
		if len(removed) > 5 {
			t.Fatal("Expire never says it is done")
		}
	}
	if !reflect.DeepEqual(removed, []int{3, 3, 1}) {
		t.Fatalf("batches removed %v, want [3 3 1]", removed)
	}
	if f.Reopen != nil {
		s = f.Reopen(t, s)
	}
	if got := history(t, s, time.Time{}, time.Time{}); len(got) != 0 {
		t.Fatalf("%d incidents left", len(got))
	}
	for _, id := range ids {
		if _, err := s.Get(ctx(t), id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: %v", id, err)
		}
	}
}

// ExpireLogsUndecodable checks what Expire does with incident records that
// do not decode, which only a store's own tests can write: corrupt
// overwrites the stored record of id. Expire keeps them (still there,
// still failing to decode), expires the records that decode as before, and
// says so in one Error line per call however many it skipped, naming one
// of them, through the store's logger, whose JSON output logs returns.
func ExpireLogsUndecodable(t *testing.T, s store.Store, logs func() string, corrupt func(t *testing.T, id string)) {
	t.Helper()
	var good, bad []string
	for i := range 4 {
		at := base.Add(time.Duration(i) * time.Minute)
		id := trigger(t, s, resolvedIncident("api", fmt.Sprintf("u%d", i), at, at.Add(time.Minute)))
		if i%2 == 0 {
			good = append(good, id)
		} else {
			bad = append(bad, id)
			corrupt(t, id)
		}
	}
	cut := base.Add(time.Hour)
	for call, want := range []int{len(good), 0} {
		n, more, err := s.Expire(ctx(t), cut, 100)
		if err != nil || n != want || more {
			t.Fatalf("Expire call %d = %d %v %v, want %d removed (the records that decode), no more", call+1, n, more, err, want)
		}
		if lines := errorLines(t, logs()); len(lines) != call+1 {
			t.Fatalf("after Expire call %d: %d Error lines, want one per call:\n%s", call+1, len(lines), logs())
		} else if l := lines[call]; l["records"] != float64(len(bad)) || !slices.Contains(bad, fmt.Sprint(l["incident"])) {
			t.Fatalf("Error line of Expire call %d: %v; want records %d and one of %v as incident", call+1, l, len(bad), bad)
		}
	}
	for _, id := range good {
		if _, err := s.Get(ctx(t), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("record %s decodes and is past retention: Get after Expire = %v, want not found", id, err)
		}
	}
	for _, id := range bad {
		if _, err := s.Get(ctx(t), id); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("record %s does not decode: Get after Expire = %v, want it kept, failing to decode", id, err)
		}
	}
}

// errorLines are the Error lines of a JSON log.
func errorLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range logtest.Lines(t, log) {
		if l["level"] == "ERROR" {
			out = append(out, l)
		}
	}
	return out
}
