package redisstore_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/internal/redistest"
)

// commandsRun is how many commands Redis has run, scripts' own included,
// but for INFO and the scripts themselves (INFO commandstats).
func commandsRun(t *testing.T, rdb *redis.Client) int64 {
	t.Helper()
	return commandCalls(t, rdb, func(name string) bool {
		return name != "info" && name != "evalsha" && name != "eval"
	})
}

// commandCalls is how many times Redis has run the commands count says
// yes to, by their lower-case names (INFO commandstats).
func commandCalls(t *testing.T, rdb *redis.Client, count func(name string) bool) int64 {
	t.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok || !count(strings.TrimPrefix(name, "cmdstat_")) {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		v, _ := strconv.ParseInt(calls, 10, 64)
		n += v
	}
	return n
}

// TestAdmitHoldsAPageInThreeCommands: in an alert storm every page is an
// admit, as many as there are alerts: one held in a window that holds
// others already reads the window and writes the page and the window,
// three commands, where it ran six (the page's answer and the window
// read apart, and written apart), then four (the held count read apart:
// the page's RPUSH answers it).
func TestAdmitHoldsAPageInThreeCommands(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	s := redisstore.New(rdb, "adm")
	ctx := context.Background()
	if err := s.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	rules := store.StormRules{Window: 10 * time.Second, Immediate: 1}
	key := store.StormKey("ann", "push")
	admit := func(i int) (store.Admission, int64) {
		t.Helper()
		p := store.HeldPage{Incident: "inc" + strconv.Itoa(i), Deadline: "1.1", Service: "api", Priority: "P3", Rank: 3, Level: 1,
			Summary: "disk", Due: at}
		before := commandsRun(t, rdb)
		a, err := s.Admit(ctx, key, p, at.Add(time.Duration(i)*time.Millisecond), rules)
		if err != nil {
			t.Fatal(err)
		}
		return a, commandsRun(t, rdb) - before
	}
	if a, _ := admit(0); !a.Send {
		t.Fatalf("the first page of the window: %+v, want it sent", a)
	}
	if a, _ := admit(1); a.Send {
		t.Fatalf("the second page of the window: %+v, want it held", a)
	}
	a, n := admit(2)
	if a.Send || !a.Until.Equal(at.Add(10*time.Second)) {
		t.Fatalf("the third page of the window: %+v, want it held to the window's end", a)
	}
	if n != 3 {
		t.Errorf("holding a page in a window that holds others ran %d commands, want 3", n)
	}
}

// TestFinishIsFiveCommands: every step the dispatcher works ends in a
// Finish, which read whether the incident was claimed twice, once for the
// write and once for the claim's release: it reads it once. And it added
// the incident to the open index again at every write, where it already
// was: only a reopen adds it (storetest's lists of open incidents after
// reopens hold that).
func TestFinishIsFiveCommands(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	s := redisstore.New(rdb, "fin")
	ctx := context.Background()
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	ids := dueEverySecond(t, s, at, 1)
	cs, err := s.ClaimDue(ctx, at, time.Minute, 10)
	if err != nil || len(cs) != 1 || cs[0].Incident != ids[0] {
		t.Fatalf("claim: %+v, %v", cs, err)
	}
	inc, err := s.Get(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	inc.State.Pending[0].At = at.Add(5 * time.Minute)
	before := commandsRun(t, rdb)
	if err := s.Finish(ctx, cs[0], inc, []store.Entry{{At: at, Type: "notify", Detail: "sent"}}); err != nil {
		t.Fatal(err)
	}
	if n := commandsRun(t, rdb) - before; n != 5 {
		t.Errorf("Finish ran %d commands, want 5", n)
	}
	if at2, ok, err := s.NextDue(ctx); err != nil || !ok || !at2.Equal(at.Add(5*time.Minute)) {
		t.Fatalf("next due after the finish: %v %v %v, want +5m (the claim released)", at2, ok, err)
	}
}

// TestClaimOfANewIncidentIsFourCommands: a new incident's first page is
// claimed at its wake from the one shard its trigger wrote, which this
// store knows holds something due: the claim reads the shard's first
// entries at once (its due entries and the first after them), and claims
// the incident (its record; its claim, with nothing there before; its
// lease end), four commands. It looked at the shard's head first, a
// command that only tells a shard with nothing due, read the incident's
// entry in claims before writing it, which HSETNX does in one, and read
// the shard's head again after the claim, which the entries read first
// tell.
func TestClaimOfANewIncidentIsFourCommands(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	s := redisstore.New(rdb, "cl")
	ctx := context.Background()
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	if err := s.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	// The dispatcher's first look, everywhere: every shard's head known.
	if cs, _, _, _, err := s.ClaimDueNextScoped(ctx, at, time.Minute, 10, true); err != nil || len(cs) != 0 {
		t.Fatalf("first claim: %+v, %v", cs, err)
	}
	ids := dueEverySecond(t, s, at, 1)
	before := commandsRun(t, rdb)
	cs, _, _, _, err := s.ClaimDueNextScoped(ctx, at, time.Minute, 10, false)
	if err != nil || len(cs) != 1 || cs[0].Incident != ids[0] {
		t.Fatalf("claim: %+v, %v", cs, err)
	}
	if n := commandsRun(t, rdb) - before; n != 4 {
		t.Errorf("the claim of a new incident ran %d commands, want 4", n)
	}
	// Claimed: the shard's head is its lease end, and a look
	// everywhere finds nothing more due.
	if cs, next, ok, _, err := s.ClaimDueNextScoped(ctx, at, time.Minute, 10, true); err != nil || len(cs) != 0 || !ok || !next.Equal(at.Add(time.Minute)) {
		t.Fatalf("claim after: %+v, next %v %v, %v; want none, next at the lease end", cs, next, ok, err)
	}
}

// TestFlushOfAStormIsNineCommands: a storm's flush, once a window's
// message went out, drops the pages it carried, opens the next window
// and releases the storm's claim: it checks the claim (HGET), reads the
// pages held after those the message carried and, as one of them is of
// an incident, those it carried (LRANGE twice: store.HeldAgain), trims
// the list (LTRIM), reads and writes the window (HMGET, HSET, HDEL),
// releases the claim (HDEL) and leaves the storm due at the next
// window's end for the page held meanwhile (ZADD): nine commands. It ran
// twelve: it read the window's ranks apart (HGET), wrote its flusher
// apart (HSET) and counted the pages left (LLEN), which the pages it
// read after those carried tell.
func TestFlushOfAStormIsNineCommands(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	s := redisstore.New(rdb, "flush")
	ctx := context.Background()
	if err := s.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	rules := store.StormRules{Window: 10 * time.Second, Immediate: 1}
	key := store.StormKey("ann", "push")
	admit := func(i int, now time.Time) store.Admission {
		t.Helper()
		p := store.HeldPage{Incident: "inc" + strconv.Itoa(i), Deadline: "1.1", Service: "api", Priority: "P3", Rank: 3, Level: 1,
			Summary: "disk", Due: now}
		a, err := s.Admit(ctx, key, p, now, rules)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if a := admit(0, at); !a.Send {
		t.Fatalf("the first page of the window: %+v, want it sent", a)
	}
	for i := 1; i <= 3; i++ {
		if a := admit(i, at.Add(time.Duration(i)*time.Millisecond)); a.Send {
			t.Fatalf("page %d: %+v, want it held", i, a)
		}
	}
	end := at.Add(rules.Window)
	cs, err := s.ClaimDue(ctx, end, time.Minute, 10)
	if err != nil || len(cs) != 1 || cs[0].Storm != key {
		t.Fatalf("claim at the window's end: %+v, %v; want the storm", cs, err)
	}
	hs, err := s.Held(ctx, key)
	if err != nil || len(hs) != 3 {
		t.Fatalf("held: %d, %v; want 3", len(hs), err)
	}
	// A page held while the message was on its way: left for the next
	// window.
	if a := admit(4, end.Add(time.Millisecond)); a.Send {
		t.Fatalf("page held during the flush: %+v, want it held", a)
	}
	before := commandsRun(t, rdb)
	if ok, err := s.Flushed(ctx, cs[0], len(hs), 3, end.Add(2*time.Millisecond), rules); err != nil || !ok {
		t.Fatalf("flushed: %v, %v", ok, err)
	}
	if n := commandsRun(t, rdb) - before; n != 9 {
		t.Errorf("the flush ran %d commands, want 9", n)
	}
	if hs, err := s.Held(ctx, key); err != nil || len(hs) != 1 || hs[0].Incident != "inc4" {
		t.Fatalf("held after the flush: %+v, %v; want the page held during it", hs, err)
	}
	if next, ok, err := s.NextDue(ctx); err != nil || !ok || !next.Equal(end.Add(2*time.Millisecond).Add(rules.Window)) {
		t.Fatalf("next due after the flush: %v %v %v, want the next window's end", next, ok, err)
	}
}

// TestFlushWithEveryPageLeftDroppedLeavesTheStormNotDue: the pages a
// flush leaves held are counted from those it read after the message's
// (less those it drops), not read again: when every page held meanwhile
// is a step the message carried, held again (dropped), nothing is left,
// and the storm leaves the due set rather than coming due for nothing.
func TestFlushWithEveryPageLeftDroppedLeavesTheStormNotDue(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	s := redisstore.New(rdb, "drop")
	ctx := context.Background()
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	rules := store.StormRules{Window: 10 * time.Second, Immediate: 1}
	key := store.StormKey("ann", "push")
	p := func(inc string) store.HeldPage {
		return store.HeldPage{Incident: inc, Deadline: "1.1", Service: "api", Priority: "P3", Rank: 3, Level: 1, Summary: "disk", Due: at}
	}
	if a, err := s.Admit(ctx, key, p("first"), at, rules); err != nil || !a.Send {
		t.Fatalf("the first page: %+v, %v; want it sent", a, err)
	}
	if a, err := s.Admit(ctx, key, p("held"), at.Add(time.Millisecond), rules); err != nil || a.Send {
		t.Fatalf("the second page: %+v, %v; want it held", a, err)
	}
	end := at.Add(rules.Window)
	cs, err := s.ClaimDue(ctx, end, time.Minute, 10)
	if err != nil || len(cs) != 1 || cs[0].Storm != key {
		t.Fatalf("claim at the window's end: %+v, %v; want the storm", cs, err)
	}
	// The same step held again while the message carrying it is sent.
	if a, err := s.Admit(ctx, key, p("held"), end.Add(time.Millisecond), rules); err != nil || a.Send {
		t.Fatalf("the step held again: %+v, %v; want it held", a, err)
	}
	if ok, err := s.Flushed(ctx, cs[0], 1, 3, end.Add(2*time.Millisecond), rules); err != nil || !ok {
		t.Fatalf("flushed: %v, %v", ok, err)
	}
	if hs, err := s.Held(ctx, key); err != nil || len(hs) != 0 {
		t.Fatalf("held after the flush: %+v, %v; want none (the step held again dropped)", hs, err)
	}
	if next, ok, err := s.NextDue(ctx); err != nil || ok {
		t.Fatalf("next due after the flush: %v %v %v; want nothing due", next, ok, err)
	}
}
