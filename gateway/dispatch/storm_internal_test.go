package dispatch

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

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

// queued waits until n calls of kind wait for t.
func queued(t *testing.T, tk *turn, kind turnFor, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		tk.mu.Lock()
		got := len(tk.waiting[kind])
		tk.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls waiting, want %d", got, n)
		}
	}
}

// TestTurnGivesMessagesFirst: a call a storm message waits for takes the
// turn before a call recording a message sent that came before it, so
// that one storm's notes do not hold the next storm's message; each kind
// in the order it came.
func TestTurnGivesMessagesFirst(t *testing.T) {
	var tk turn
	ctx := context.Background()
	if err := tk.take(ctx, forRecord); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	call := func(name string, kind turnFor, waiting int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := tk.take(ctx, kind); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			tk.give()
		}()
		queued(t, &tk, kind, waiting)
	}
	call("notes of the first storm", forRecord, 1)
	call("held pages dropped", forRecord, 2)
	call("second storm's held pages", forMessage, 1)
	call("third storm's held pages", forMessage, 2)
	tk.give()
	wg.Wait()
	want := []string{"second storm's held pages", "third storm's held pages", "notes of the first storm", "held pages dropped"}
	if !reflect.DeepEqual(order, want) {
		t.Fatalf("turns taken in the order %q, want %q", order, want)
	}
	if tk.taken {
		t.Fatal("the turn is still taken after every call gave it back")
	}
}

// TestTurnLeftByACallerWhoseContextEnds: a call whose context ends while
// it waits leaves the queue, and the turn goes on to the others.
func TestTurnLeftByACallerWhoseContextEnds(t *testing.T) {
	var tk turn
	if err := tk.take(context.Background(), forMessage); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	left := make(chan error, 1)
	go func() { left <- tk.take(ctx, forMessage) }()
	queued(t, &tk, forMessage, 1)
	next := make(chan error, 1)
	go func() { next <- tk.take(context.Background(), forRecord) }()
	queued(t, &tk, forRecord, 1)
	cancel()
	if err := <-left; !errors.Is(err, context.Canceled) {
		t.Fatalf("a caller whose context ended: %v, want context.Canceled", err)
	}
	queued(t, &tk, forMessage, 0)
	tk.give()
	if err := <-next; err != nil {
		t.Fatal(err)
	}
	tk.give()
	if tk.taken {
		t.Fatal("the turn is still taken after every call gave it back")
	}
}
