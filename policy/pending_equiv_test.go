package policy

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// The incident's pending deadlines are filtered and sorted on every event;
// the tests here hold the ways that now copy them less to what the plain
// ones they replaced made, element for element, the array's room past its
// length included (the run goes on appending into it).

// randomPending is n deadlines with few distinct times, kinds, users and
// sequence numbers, so that filters and orders meet ties, in an array with
// room to spare.
func randomPending(rng *rand.Rand, n int) []Deadline {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	kinds := []DeadlineKind{DeadlineNotify, DeadlineEscalate, DeadlineSLA, DeadlineUnresolved}
	ds := make([]Deadline, n, n+rng.IntN(4))
	for i := range ds {
		ds[i] = Deadline{ID: deadlineID(1, i), At: base.Add(time.Duration(rng.IntN(4)) * time.Minute), Kind: kinds[rng.IntN(len(kinds))],
			User: []string{"a", "b", ""}[rng.IntN(3)], Seq: rng.IntN(6), Sent: []string{ChannelPush}[:rng.IntN(2)]}
	}
	return ds
}

// cancelBefore is run.cancel as it was: every deadline handed over and
// appended again by value.
func cancelBefore(r *run, drop func(Deadline) bool) {
	kept := r.inc.Pending[:0]
	for _, d := range r.inc.Pending {
		if !drop(d) {
			kept = append(kept, d)
		}
	}
	r.inc.Pending = kept
}

// TestCancelAsBefore: cancel keeps what the old cancel kept, in its
// order, and leaves the array past them as that left it, whatever the
// filter drops (nothing, everything, runs of either).
func TestCancelAsBefore(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	filters := []func(*Deadline) bool{
		func(*Deadline) bool { return false },
		func(*Deadline) bool { return true },
		func(d *Deadline) bool { return d.Kind == DeadlineNotify },
		func(d *Deadline) bool { return d.Kind == DeadlineNotify && d.User == "a" },
		func(d *Deadline) bool { return d.Seq%2 == 0 || d.Kind == DeadlineSLA },
	}
	for range 2000 {
		ds := randomPending(rng, rng.IntN(14))
		f := filters[rng.IntN(len(filters))]
		want := &run{inc: Incident{Pending: append(make([]Deadline, 0, cap(ds)), ds...)}}
		got := &run{inc: Incident{Pending: append(make([]Deadline, 0, cap(ds)), ds...)}}
		cancelBefore(want, func(d Deadline) bool { return f(&d) })
		got.cancel(f)
		if !reflect.DeepEqual(got.inc.Pending[:cap(got.inc.Pending)], want.inc.Pending[:cap(want.inc.Pending)]) || len(got.inc.Pending) != len(want.inc.Pending) {
			t.Fatalf("cancel of %v kept %v, before %v", ds, got.inc.Pending, want.inc.Pending)
		}
	}
}

// TestSortPendingAsSortFunc: sortPending puts deadlines where
// slices.SortFunc with Deadline.compare put them, ties of time and
// sequence included, at every length up to and past the ones it sorts by
// index; TestPendingSortedAsSortSlice holds SortFunc to sort.Slice.
func TestSortPendingAsSortFunc(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for n := range 31 {
		for range 300 {
			ds := randomPending(rng, n)
			want := append(make([]Deadline, 0, cap(ds)), ds...)
			slices.SortFunc(want, Deadline.compare)
			r := &run{inc: Incident{Pending: append(make([]Deadline, 0, cap(ds)), ds...)}}
			r.sortPending()
			if !reflect.DeepEqual(r.inc.Pending, want) {
				t.Fatalf("sorted %v\nSortFunc %v", r.inc.Pending, want)
			}
		}
	}
	if raceEnabled {
		return
	}
	r := &run{inc: Incident{Pending: randomPending(rng, sortInPlaceMax)}}
	if n := testing.AllocsPerRun(100, func() {
		rng.Shuffle(sortInPlaceMax, func(i, j int) { r.inc.Pending[i], r.inc.Pending[j] = r.inc.Pending[j], r.inc.Pending[i] })
		r.sortPending()
	}); n > 0 {
		t.Errorf("sorting deadlines allocates %.0f times, want 0", n)
	}
}
