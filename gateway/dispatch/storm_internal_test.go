package dispatch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pagerd/pagerd/gateway/store"
)

// TestDistinctIncidentsKeepTheLatestReopenCount: an incident held twice
// (paged again after a reopen while its first page waited) is one line of
// the message, its most urgent page's, with the highest reopen count of
// its pages: the message is an answer to the incident as it is since, and
// a PagerDuty acknowledgement of it must not be refused as one from before
// that reopen.
func TestDistinctIncidentsKeepTheLatestReopenCount(t *testing.T) {
	held := []store.HeldPage{
		{Incident: "a", Rank: 2, Reopened: 0, Deadline: "a1"},
		{Incident: "b", Rank: 1, Reopened: 3, Deadline: "b1"},
		{Incident: "a", Rank: 3, Reopened: 1, Deadline: "a2"}, // less urgent, later reopen
		{Incident: "b", Rank: 0, Reopened: 2, Deadline: "b2"}, // more urgent, older count
	}
	want := []store.HeldPage{
		{Incident: "a", Rank: 2, Reopened: 1, Deadline: "a1"},
		{Incident: "b", Rank: 0, Reopened: 3, Deadline: "b2"},
	}
	if got := distinctIncidents(held); !reflect.DeepEqual(got, want) {
		t.Fatalf("distinctIncidents = %+v, want %+v", got, want)
	}
}

// queued waits until n calls wait for the turn.
func queued(t *testing.T, tk *turn, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		tk.mu.Lock()
		got := len(tk.waiting)
		tk.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls waiting, want %d", got, n)
		}
	}
}

// TestTurnGivesMessagesFirstAndTheStormDueFirst: a call a storm message
// waits for takes the turn before a call recording a message sent that
// came before it, so that one storm's notes do not hold the next storm's
// message; and of each kind, the storm due first goes first, so that a
// storm's reads and its bundle are not taken round by round with every
// other storm's while all their messages wait. Of two equal, the first
// that came.
func TestTurnGivesMessagesFirstAndTheStormDueFirst(t *testing.T) {
	tk := turn{patience: time.Hour, now: time.Now}
	ctx := context.Background()
	at := func(s int) time.Time { return time.Unix(1700000000, 0).Add(time.Duration(s) * time.Second) }
	if err := tk.take(ctx, forRecord, at(0)); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	call := func(name string, kind turnFor, due time.Time) {
		tk.mu.Lock()
		n := len(tk.waiting)
		tk.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := tk.take(ctx, kind, due); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			tk.give()
		}()
		queued(t, &tk, n+1)
	}
	call("notes of the storm due at 1", forRecord, at(1))
	call("notes of the storm due at 2", forRecord, at(2))
	call("statuses of the storm due at 4", forMessage, at(4))
	call("held pages of the storm due at 5", forMessage, at(5))
	call("held pages of the storm due at 3", forMessage, at(3))
	call("bundle of the storm due at 4", forMessage, at(4))
	tk.give()
	wg.Wait()
	want := []string{"held pages of the storm due at 3", "statuses of the storm due at 4", "bundle of the storm due at 4",
		"held pages of the storm due at 5", "notes of the storm due at 1", "notes of the storm due at 2"}
	if !reflect.DeepEqual(order, want) {
		t.Fatalf("turns taken in the order\n%q\nwant\n%q", order, want)
	}
	if tk.taken {
		t.Fatal("the turn is still taken after every call gave it back")
	}
}

// TestTurnLeftByACallerWhoseContextEnds: a call whose context ends while
// it waits leaves the queue, and the turn goes on to the others.
func TestTurnLeftByACallerWhoseContextEnds(t *testing.T) {
	tk := turn{patience: time.Hour, now: time.Now}
	due := time.Unix(1700000000, 0)
	if err := tk.take(context.Background(), forMessage, due); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	left := make(chan error, 1)
	go func() { left <- tk.take(ctx, forMessage, due) }()
	queued(t, &tk, 1)
	next := make(chan error, 1)
	go func() { next <- tk.take(context.Background(), forRecord, due) }()
	queued(t, &tk, 2)
	cancel()
	if err := <-left; !errors.Is(err, context.Canceled) {
		t.Fatalf("a caller whose context ended: %v, want context.Canceled", err)
	}
	queued(t, &tk, 1)
	tk.give()
	if err := <-next; err != nil {
		t.Fatal(err)
	}
	tk.give()
	if tk.taken {
		t.Fatal("the turn is still taken after every call gave it back")
	}
}

// TestTurnGivesACallWaitingTooLongItsTurn: a record of a message sent
// that has waited past the turn's patience goes before the messages that
// keep coming, so that storms closing without end cannot keep it (and its
// storm's claim) waiting until the lease runs out.
func TestTurnGivesACallWaitingTooLongItsTurn(t *testing.T) {
	var mu sync.Mutex
	clock := time.Unix(1700000000, 0)
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return clock
	}
	overdue := 0
	tk := turn{patience: time.Second, now: now, overdue: func() { overdue++ }}
	ctx := context.Background()
	if err := tk.take(ctx, forMessage, clock); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 2)
	go func() {
		if err := tk.take(ctx, forRecord, clock); err == nil {
			got <- "record"
		}
	}()
	queued(t, &tk, 1)
	mu.Lock()
	clock = clock.Add(2 * time.Second)
	mu.Unlock()
	go func() {
		if err := tk.take(ctx, forMessage, clock); err == nil {
			got <- "message"
		}
	}()
	queued(t, &tk, 2)
	tk.give()
	if first := <-got; first != "record" {
		t.Fatalf("%s took the turn first, want the record that waited past the turn's patience", first)
	}
	if overdue != 1 {
		t.Fatalf("overdue called %d times for the record given its turn past patience, want 1", overdue)
	}
	tk.give()
	<-got
	tk.give()
	if overdue != 1 {
		t.Fatalf("overdue called %d times after a message that waited no time took its turn, want 1", overdue)
	}
}

// TestTurnOverdueIsCounted: a dispatcher's turn counts a call given its
// turn past patience in pagerd_storm_turn_overdue_total.
func TestTurnOverdueIsCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	d := New(Options{Registry: reg, Lease: 4 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	clock := time.Unix(1700000000, 0)
	var mu sync.Mutex
	d.turn.now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return clock
	}
	ctx := context.Background()
	if err := d.turn.take(ctx, forMessage, clock); err != nil {
		t.Fatal(err)
	}
	took := make(chan struct{})
	go func() {
		if err := d.turn.take(ctx, forRecord, clock); err == nil {
			close(took)
		}
	}()
	queued(t, &d.turn, 1)
	mu.Lock()
	clock = clock.Add(2 * time.Second) // past patience, a quarter of the lease
	mu.Unlock()
	d.turn.give()
	<-took
	d.turn.give()
	if n, err := testutil.GatherAndCount(reg, "pagerd_storm_turn_overdue_total"); err != nil || n != 1 {
		t.Fatalf("pagerd_storm_turn_overdue_total: %d series (%v), want 1", n, err)
	}
	if got := testutil.ToFloat64(d.m.overdue); got != 1 {
		t.Fatalf("pagerd_storm_turn_overdue_total = %v, want 1", got)
	}
}

// TestTurnHeldByAStuckCallIsPassed: a store call that hangs while it
// holds the turn (a store that never answers, until its claim's context
// ends a lease and a send timeout later) held every storm flush's calls
// on the replica, and so every storm's message. Now a call that waited
// turn.stuck goes without the turn, counted as overdue.
func TestTurnHeldByAStuckCallIsPassed(t *testing.T) {
	d := New(Options{Registry: prometheus.NewRegistry(), Lease: 30 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	d.turn.stuck = 20 * time.Millisecond
	if err := d.turn.take(context.Background(), forRecord, time.Now()); err != nil {
		t.Fatal(err) // the stuck call's: never given back in this test
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ran := false
	if err := d.inTurn(ctx, forMessage, time.Now(), func() error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("a call behind a stuck one: ran %v, %v; want it run without the turn", ran, err)
	}
	if got := testutil.ToFloat64(d.m.overdue); got != 1 {
		t.Fatalf("pagerd_storm_turn_overdue_total = %v, want 1", got)
	}
	d.turn.give()
	if err := d.inTurn(ctx, forMessage, time.Now(), func() error { return nil }); err != nil {
		t.Fatalf("the turn after the stuck call gave it back: %v", err)
	}
	if d.turn.taken || len(d.turn.waiting) != 0 {
		t.Fatalf("turn left taken %v with %d waiting, want free", d.turn.taken, len(d.turn.waiting))
	}
}

// partNoter is a store whose Note says when each part came, and, during
// the first, lets a storm's message ask for the turn.
type partNoter struct {
	store.Store
	mu     sync.Mutex
	order  []string
	during func()
}

func (s *partNoter) Note(_ context.Context, entries map[string][]store.Entry) error {
	s.mu.Lock()
	s.order = append(s.order, fmt.Sprintf("notes of %d", len(entries)))
	during := s.during
	s.during = nil
	s.mu.Unlock()
	if during != nil {
		during()
	}
	clear(entries) // all noted, as Store.Note says
	return nil
}

// TestStormNotesLetAMessageGoBetweenTheirParts: a flood's notes are
// written notePart incidents a turn, so another storm's message that asks
// for the turn meanwhile goes after the part being written, not after all
// of them (a 10,000-incident bundle's notes held every storm message on
// the replica while the store wrote them).
func TestStormNotesLetAMessageGoBetweenTheirParts(t *testing.T) {
	st := &partNoter{}
	d := &Dispatcher{o: Options{Store: st}}
	d.turn = turn{patience: time.Hour, now: time.Now}
	ctx := context.Background()
	at := time.Unix(1700000000, 0)
	notes := map[string][]store.Entry{}
	for i := range 2*notePart + 1 {
		id := store.NewID(i%32, at.Add(time.Duration(i)*time.Millisecond))
		notes[id] = []store.Entry{{At: at, Type: "storm_bundle"}}
	}
	message := make(chan struct{})
	st.during = func() {
		go func() {
			defer close(message)
			if err := d.turn.take(ctx, forMessage, at); err != nil {
				t.Error(err)
				return
			}
			st.mu.Lock()
			st.order = append(st.order, "a message")
			st.mu.Unlock()
			d.turn.give()
		}()
		queued(t, &d.turn, 1)
	}
	if err := d.noteInTurns(ctx, at, notes); err != nil {
		t.Fatal(err)
	}
	<-message
	want := []string{fmt.Sprintf("notes of %d", notePart), "a message", fmt.Sprintf("notes of %d", notePart), "notes of 1"}
	if !reflect.DeepEqual(st.order, want) {
		t.Fatalf("store calls %q, want %q", st.order, want)
	}
	if len(notes) != 0 {
		t.Fatalf("%d notes left after all were noted", len(notes))
	}
}
