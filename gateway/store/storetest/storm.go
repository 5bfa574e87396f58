package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// stormTests are the storm-bundling part of the suite.
var stormTests = []struct {
	name string
	fn   func(*testing.T, Factory)
}{
	{"StormSendsTheFirstPagesAndHoldsTheRest", testStormBurst},
	{"StormLetsAMoreUrgentPageThrough", testStormPriority},
	{"StormListsAPageSentWhileOthersWait", testStormListsSent},
	{"StormWindowAfterAFlushCountsOnlyWhatItSent", testStormNextWindowTop},
	{"StormHeldWhileFlushingWaitsForTheNextWindow", testStormHeldWhileClaimed},
	{"StormHoldFailedListsThePageAgain", testStormHoldFailed},
	{"StormWithdrawListsAHeldPageAsSent", testStormWithdraw},
	{"StormWithdrawLeavesAStepHeldTwice", testStormWithdrawHeldTwice},
	{"StormListedPageSaysItsIncidentPagesAcknowledged", testStormListedAcknowledged},
	{"StormUnsentPageStopsCounting", testStormUnsent},
	{"StormAskedAgainGivesTheFirstAnswer", testStormAskedAgain},
	{"StormFlushAfterTakeoverIsVoid", testStormTakeover},
	{"StormFlushedAgainByItsClaimIsDoneOnce", testStormFlushedAgain},
	{"StormFlushedDropsAStepItsMessageCarriedHeldAgain", testStormFlushedHeldAgain},
	{"StormListsAHeldPageItCannotReadInItsPlace", testStormHeldUnreadable},
	{"StormReleaseLeavesItDueNotBefore", testStormRelease},
	{"StormKeepsWhenItsMessageWasFirstSentBack", testStormSentBack},
	{"StormAgreesWithStormState", testStormAgrees},
	{"StormConcurrentAdmitsSendImmediateOnly", testStormConcurrent},
	{"StormsArePerPersonAndChannel", testStormKeys},
	{"BundlesAreKeptUntilTheyExpire", testBundles},
	{"StatusesReadOnlyWhatExists", testStatuses},
	{"NoteAppendsWithoutAVersion", testNote},
	{"StormDurable", testStormDurable},
	{"FinishIsUpdateAndComplete", testFinish},
	{"OutboxIsStoredAndDue", testOutbox},
	{"NotPushedToPagerDutyIsKept", testNotPushedToPagerDuty},
	{"NotPagedIsKept", testNotPaged},
}

var rules = store.StormRules{Window: 10 * time.Second, Immediate: 3}

func page(inc string, rank int, at time.Time) store.HeldPage {
	return store.HeldPage{Incident: inc, Deadline: "1.1", Service: "api", Priority: fmt.Sprintf("P%d", rank), Rank: rank,
		Urgency: "high", Level: 0, Summary: "disk full on " + inc, Due: at}
}

func admit(t *testing.T, s store.Store, key string, p store.HeldPage, now time.Time) (bool, time.Time) {
	t.Helper()
	a, err := s.Admit(ctx(t), key, p, now, rules)
	if err != nil {
		t.Fatalf("admit %s: %v", p.Incident, err)
	}
	return a.Send, a.Until
}

func held(t *testing.T, s store.Store, key string) []string {
	t.Helper()
	ps, err := s.Held(ctx(t), key)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range ps {
		out = append(out, p.Incident)
	}
	return out
}

func flushed(t *testing.T, s store.Store, c store.Claim, n, top int, now time.Time) bool {
	t.Helper()
	ok, err := s.Flushed(ctx(t), c, n, top, now, rules)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func testStormBurst(t *testing.T, f Factory) {
	s := f.New(t)
	key := store.StormKey("ann", "push")
	for i := 0; i < 3; i++ {
		if send, _ := admit(t, s, key, page(fmt.Sprint("i", i), 1, base), base.Add(time.Duration(i)*time.Second)); !send {
			t.Fatalf("page %d of a burst held; the first %d go out at once", i, rules.Immediate)
		}
	}
	if _, ok, _ := s.NextDue(ctx(t)); ok {
		t.Fatal("a storm that holds nothing is due")
	}
	for i := 3; i < 6; i++ {
		send, until := admit(t, s, key, page(fmt.Sprint("i", i), 1, base), base.Add(time.Duration(i)*time.Second))
		if send || !until.Equal(base.Add(rules.Window)) {
			t.Fatalf("page %d: send %v until %v, want held until the window's end", i, send, until)
		}
	}
	if got := held(t, s, key); !reflect.DeepEqual(got, []string{"i3", "i4", "i5"}) {
		t.Fatalf("held %v", got)
	}
	if at, ok, _ := s.NextDue(ctx(t)); !ok || !at.Equal(base.Add(rules.Window)) {
		t.Fatalf("storm due %v %v, want at the window's end", at, ok)
	}
	if cs := claimAll(t, s, base.Add(rules.Window-time.Millisecond)); len(cs) != 0 {
		t.Fatalf("claimed before the window closed: %+v", cs)
	}
	cs := claimAll(t, s, base.Add(rules.Window))
	if len(cs) != 1 || cs[0].Storm != key || cs[0].Incident != "" || !cs[0].Due.Equal(base.Add(rules.Window)) {
		t.Fatalf("claims %+v, want the storm", cs)
	}
	if !flushed(t, s, cs[0], 3, 1, base.Add(rules.Window)) {
		t.Fatal("flush refused with a live claim")
	}
	if got := held(t, s, key); len(got) != 0 {
		t.Fatalf("held after the flush: %v", got)
	}
	if _, ok, _ := s.NextDue(ctx(t)); ok {
		t.Fatal("due after a flush that left nothing held")
	}
	// The storm goes on: a page in the next window is held too.
	if send, until := admit(t, s, key, page("i6", 1, base), base.Add(15*time.Second)); send || !until.Equal(base.Add(20*time.Second)) {
		t.Fatalf("a page in the window after a flush: send %v until %v", send, until)
	}
	cs = claimAll(t, s, base.Add(20*time.Second))
	if len(cs) != 1 || !flushed(t, s, cs[0], 1, 1, base.Add(20*time.Second)) {
		t.Fatalf("second flush: %+v", cs)
	}
	// A page after a window that passed quietly starts a new burst.
	if send, _ := admit(t, s, key, page("i7", 1, base), base.Add(30*time.Second)); !send {
		t.Fatal("the first page after a quiet window was held")
	}
}

func testStormPriority(t *testing.T, f Factory) {
	s := f.New(t)
	key := store.StormKey("ann", "sms")
	for i := 0; i < 3; i++ {
		admit(t, s, key, page(fmt.Sprint("low", i), 2, base), base)
	}
	if send, _ := admit(t, s, key, page("low3", 2, base), base); send {
		t.Fatal("a fourth page of the same priority went out")
	}
	if send, _ := admit(t, s, key, page("high", 0, base), base.Add(time.Second)); !send {
		t.Fatal("a page more urgent than any sent in the window was held")
	}
	if send, _ := admit(t, s, key, page("high2", 0, base), base.Add(2*time.Second)); send {
		t.Fatal("a page as urgent as one already sent went out")
	}
	if send, _ := admit(t, s, key, page("mid", 1, base), base.Add(3*time.Second)); send {
		t.Fatal("a page less urgent than one already sent went out")
	}
	// The flush carries the priority it sent into the next window.
	cs := claimAll(t, s, base.Add(rules.Window))
	if len(cs) != 1 || !flushed(t, s, cs[0], 3, 0, base.Add(rules.Window)) {
		t.Fatalf("flush %+v", cs)
	}
	if send, _ := admit(t, s, key, page("high3", 0, base), base.Add(12*time.Second)); send {
		t.Fatal("after a flush that sent P0, another P0 in the next window went out")
	}
}

// testStormNextWindowTop: a window's most urgent page is not carried into
// the windows after it. A P0 goes out at once in a P2 storm; the window's
// message carries P2s only; in the next window a new P0 is more urgent
// than everything sent in it (that message), and goes out at once, while a
// second P0 in that window is held. A P0 sent at once after a window's end,
// while its message is being sent, counts in the next window.
func testStormNextWindowTop(t *testing.T, f Factory) {
	s := f.New(t)
	key := store.StormKey("ann", "push")
	for i := 0; i < 5; i++ {
		admit(t, s, key, page(fmt.Sprint("low", i), 2, base), base)
	}
	if send, _ := admit(t, s, key, page("p0-early", 0, base), base.Add(time.Second)); !send {
		t.Fatal("a P0 in a P2 storm was held")
	}
	end := base.Add(rules.Window)
	cs := claimAll(t, s, end)
	if len(cs) != 1 || !flushed(t, s, cs[0], 2, 2, end) {
		t.Fatalf("flush %+v", cs)
	}
	admit(t, s, key, page("low5", 2, base), end.Add(time.Second))
	if send, _ := admit(t, s, key, page("p0-late", 0, base), end.Add(2*time.Second)); !send {
		t.Fatal("a P0 in a window that sent only a P2 message was held: the P0 of the window before counted")
	}
	if send, _ := admit(t, s, key, page("p0-third", 0, base), end.Add(3*time.Second)); send {
		t.Fatal("a second P0 in one window went out at once")
	}
	// Bob's P2 storm closes; while its message is being sent, a P0 goes out
	// at once: it was sent after the window's end, in the next window, and
	// another P0 there is held.
	bob := store.StormKey("bob", "push")
	for i := 0; i < 5; i++ {
		admit(t, s, bob, page(fmt.Sprint("b", i), 2, base), base)
	}
	cs = claimAll(t, s, end)
	if len(cs) != 1 || cs[0].Storm != bob {
		t.Fatalf("claims %+v, want bob's storm", cs)
	}
	if send, _ := admit(t, s, bob, page("b-p0", 0, base), end.Add(time.Millisecond)); !send {
		t.Fatal("a P0 in a P2 storm was held")
	}
	if !flushed(t, s, cs[0], 2, 2, end) {
		t.Fatal("flush refused")
	}
	if send, _ := admit(t, s, bob, page("b-p0-2", 0, base), end.Add(time.Second)); send {
		t.Fatal("a second P0 went out at once in the window where one had gone out while the message was sent")
	}
}

// testStormListsSent: a page that goes out at once while others wait is
// listed after them, marked Sent, so that the flush can leave out what was
// held of its incident before it, and Flushed counts it; one sent while
// nothing waits is not listed.
func testStormListsSent(t *testing.T, f Factory) {
	s := f.New(t)
	key := store.StormKey("ann", "push")
	for i := 0; i < 4; i++ {
		admit(t, s, key, page(fmt.Sprint("i", i), 2, base), base)
	}
	raised := page("i3", 0, base.Add(time.Second))
	raised.Deadline = "1.2"
	if send, _ := admit(t, s, key, raised, base.Add(time.Second)); !send {
		t.Fatal("a page more urgent than any sent in the window was held")
	}
	ps, err := s.Held(ctx(t), key)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Incident != "i3" || ps[0].Sent || ps[1].Incident != "i3" || !ps[1].Sent ||
		ps[1].Deadline != "1.2" || ps[1].Rank != 0 {
		t.Fatalf("held %+v, want i3's held page, then its page sent at once, marked Sent", ps)
	}
	cs := claimAll(t, s, base.Add(rules.Window))
	if len(cs) != 1 || !flushed(t, s, cs[0], 2, store.NoRank, base.Add(rules.Window)) {
		t.Fatalf("flush %+v", cs)
	}
	if got := held(t, s, key); len(got) != 0 {
		t.Fatalf("held after a flush of both: %v", got)
	}
	if _, ok, _ := s.NextDue(ctx(t)); ok {
		t.Fatal("due after a flush that left nothing listed")
	}
	// A window passed quietly: the first pages of a new burst are sent,
	// and not listed, as nothing waits.
	if send, _ := admit(t, s, key, page("j0", 0, base), base.Add(time.Minute)); !send {
		t.Fatal("the first page of a new burst was held")
	}
	if got := held(t, s, key); len(got) != 0 {
		t.Fatalf("a page sent while nothing waits was listed: %v", got)
	}
}

func testStormHeldWhileClaimed(t *testing.T, f Factory) {
	s := f.New(t)
	key := store.StormKey("ann", "push")
	for i := 0; i < 5; i++ {
		admit(t, s, key, page(fmt.Sprint("i", i), 1, base), base)
	}
	cs, err := s.ClaimDue(ctx(t), base.Add(rules.Window), time.Minute, 10)
	if err != nil || len(cs) != 1 {
		t.Fatalf("claim %+v %v", cs, err)
	}
	// While the flush is sending, another page arrives: it is held, and the
	// storm stays leased. It goes out in this message or the next, so by
	// the next window's end, not at this one's, which is past.
	lateAt := base.Add(rules.Window + time.Millisecond)
	if a, err := s.Admit(ctx(t), key, page("late", 1, base), lateAt, rules); err != nil || a.Send || !a.Closing ||
		!a.Until.Equal(lateAt.Add(rules.Window)) {
		t.Fatalf("a page during a flush: %+v %v, want held, closing, by %v", a, err, lateAt.Add(rules.Window))
	}
	if c := claimAll(t, s, base.Add(rules.Window+time.Second)); len(c) != 0 {
		t.Fatalf("a storm being flushed was claimed again: %+v", c)
	}
	// The flush sent the two pages it read; the late one waits for the
	// next window's end.
	now := base.Add(rules.Window + 2*time.Millisecond)
	if !flushed(t, s, cs[0], 2, 1, now) {
		t.Fatal("flush refused")
	}
	if got := held(t, s, key); !reflect.DeepEqual(got, []string{"late"}) {
		t.Fatalf("held after the flush %v", got)
	}
	if at, ok, _ := s.NextDue(ctx(t)); !ok || !at.Equal(now.Add(rules.Window)) {
		t.Fatalf("due %v %v, want the next window's end %v", at, ok, now.Add(rules.Window))
	}
	// Complete without a flush (a failed step) leaves the held page due.
	cs = claimAll(t, s, now.Add(rules.Window))
	if len(cs) != 1 {
		t.Fatalf("claims %+v", cs)
	}
	complete(t, s, cs[0])
	if at, ok, _ := s.NextDue(ctx(t)); !ok || at.After(now.Add(rules.Window)) {
		t.Fatalf("a storm released with pages held is due %v %v", at, ok)
	}
}

// testStormWithdraw: a held page withdrawn is listed again after what is
// held, marked Sent, counting nothing (the next page is held as before);
// a flush drops it with the rest; with nothing held, nothing is listed.
func testStormWithdraw(t *testing.T, f Factory) {
	s := f.New(t)
	key := store.StormKey("ann", "push")
	for i := 0; i < 4; i++ {
		admit(t, s, key, page(fmt.Sprint("i", i), 2, base), base)
	}
	if err := s.Withdraw(ctx(t), key, page("i3", 2, base)); err != nil {
		t.Fatal(err)
	}
	if send, _ := admit(t, s, key, page("i4", 2, base), base.Add(time.Second)); send {
		t.Fatal("a page after the withdrawn one went out at once: the withdrawal counted as sent")
	}
	ps, err := s.Held(ctx(t), key)
	if err != nil || len(ps) != 3 || ps[0].Sent || !ps[1].Sent || ps[1].Incident != "i3" || ps[1].Deadline != "1.1" || ps[2].Sent {
		t.Fatalf("held %+v %v, want i3 held, i3 sent, i4 held", ps, err)
	}
	end := base.Add(rules.Window)
	cs := claimAll(t, s, end)
	if len(cs) != 1 || !flushed(t, s, cs[0], 3, 2, end) {
		t.Fatalf("flush %+v", cs)
	}
	if err := s.Withdraw(ctx(t), key, page("i4", 2, base)); err != nil {
		t.Fatal(err)
	}
	if got := held(t, s, key); len(got) != 0 {
		t.Fatalf("held after a withdrawal with nothing held: %v", got)
	}
	if _, ok, _ := s.NextDue(ctx(t)); ok {
		t.Fatal("the storm is due with nothing held")
	}
}

// testStormWithdrawHeldTwice: a held page withdrawn whose step is listed
// held twice (paged again by another claim, the takeover's, held too) is
// not listed as sent: the flush would leave out both, and the person would
// never hear of the incident. A listing of the same incident for another
// step, or of the step sent at once, does not count.
func testStormWithdrawHeldTwice(t *testing.T, f Factory) {
	s := f.New(t)
	key := store.StormKey("ann", "push")
	for i := 0; i < 3; i++ {
		admit(t, s, key, page(fmt.Sprint("i", i), 2, base), base)
	}
	other := page("i3", 2, base)
	other.Deadline = "1.2"
	// The same page asked at two times: two claims' (a store asked again
	// at the same time gives its first answer, listing nothing again).
	for i, p := range []store.HeldPage{other, page("i3", 2, base), page("i3", 2, base)} {
		if send, _ := admit(t, s, key, p, base.Add(time.Duration(i)*time.Second)); send {
			t.Fatalf("%s's page %s went out at once, want it held", p.Incident, p.Deadline)
		}
	}
	if err := s.Withdraw(ctx(t), key, page("i3", 2, base)); err != nil {
		t.Fatal(err)
	}
	ps, err := s.Held(ctx(t), key)
	if err != nil || len(ps) != 3 || slices.ContainsFunc(ps, func(p store.HeldPage) bool { return p.Sent }) {
		t.Fatalf("held %+v %v, want i3's three held pages and nothing sent (its step 1.1 held twice)", ps, err)
	}

	// The step held once, beside a listing of it sent at once (a page let
	// out while others were held) and one of another step: withdrawn.
	s = f.New(t)
	for i := 0; i < 4; i++ {
		admit(t, s, key, page(fmt.Sprint("j", i), 2, base), base)
	}
	raised := page("i3", 0, base)
	if send, _ := admit(t, s, key, raised, base.Add(time.Second)); !send {
		t.Fatal("a page more urgent than any sent in the window was held")
	}
	for _, p := range []store.HeldPage{other, page("i3", 2, base)} {
		if send, _ := admit(t, s, key, p, base.Add(time.Second)); send {
			t.Fatalf("%s's page %s went out at once, want it held", p.Incident, p.Deadline)
		}
	}
	if err := s.Withdraw(ctx(t), key, page("i3", 2, base)); err != nil {
		t.Fatal(err)
	}
	ps, err = s.Held(ctx(t), key)
	if err != nil || len(ps) != 5 || !ps[4].Sent || ps[4].Incident != "i3" || ps[4].Deadline != "1.1" {
		t.Fatalf("held %+v %v, want i3's page 1.1 listed last as sent", ps, err)
	}
}

// testStormHoldFailed: a page that went out at once while others were held
// (listed Sent) and failed is listed again, held, after its Sent listing;
// when a flush read the list before it, it waits for the next window; in a
// storm whose window passed with nothing left held, it is due at once.
func testStormHoldFailed(t *testing.T, f Factory) {
	s := f.New(t)
	key := store.StormKey("ann", "push")
	for i := 0; i < 4; i++ {
		admit(t, s, key, page(fmt.Sprint("i", i), 2, base), base)
	}
	raised := page("i3", 0, base)
	raised.Deadline = "1.2"
	a, err := s.Admit(ctx(t), key, raised, base.Add(time.Second), rules)
	if err != nil || !a.Send || !a.Listed {
		t.Fatalf("the raised page: %+v %v, want sent and listed", a, err)
	}
	if a, err := s.Admit(ctx(t), store.StormKey("bob", "push"), raised, base, rules); err != nil || !a.Send || a.Listed {
		t.Fatalf("a page sent with nothing held: %+v %v, want sent, not listed", a, err)
	}
	a, err = s.HoldFailed(ctx(t), key, raised, base.Add(2*time.Second), rules)
	if err != nil || a.Send || a.Closing || !a.Until.Equal(base.Add(rules.Window)) {
		t.Fatalf("held again: %+v %v, want held to the window's end", a, err)
	}
	ps, err := s.Held(ctx(t), key)
	if err != nil || len(ps) != 3 || !ps[1].Sent || ps[2].Sent || ps[2].Incident != "i3" || ps[2].Rank != 0 {
		t.Fatalf("held %+v %v, want i3 held, sent, held again", ps, err)
	}
	// A flush reads the three; a failed page held again meanwhile waits
	// for the next window.
	end := base.Add(rules.Window)
	cs := claimAll(t, s, end)
	if len(cs) != 1 {
		t.Fatalf("claims %+v", cs)
	}
	a, err = s.HoldFailed(ctx(t), key, page("j", 0, base), end.Add(time.Millisecond), rules)
	if err != nil || !a.Closing || !a.Until.Equal(end.Add(time.Millisecond+rules.Window)) {
		t.Fatalf("held again during a flush: %+v %v, want by the next window's end", a, err)
	}
	if !flushed(t, s, cs[0], 3, 0, end) {
		t.Fatal("flush refused")
	}
	if got := held(t, s, key); !reflect.DeepEqual(got, []string{"j"}) {
		t.Fatalf("held after the flush %v", got)
	}
	cs = claimAll(t, s, end.Add(rules.Window))
	if len(cs) != 1 || !flushed(t, s, cs[0], 1, 0, end.Add(rules.Window)) {
		t.Fatalf("second flush %+v", cs)
	}
	// The storm is over, nothing held: a failed page held again is due at
	// once, not held for a new window.
	later := end.Add(time.Minute)
	if _, err := s.HoldFailed(ctx(t), key, page("k", 0, base), later, rules); err != nil {
		t.Fatal(err)
	}
	if at, ok, _ := s.NextDue(ctx(t)); !ok || at.After(later) {
		t.Fatalf("due %v %v, want at once", at, ok)
	}
	if got := held(t, s, key); !reflect.DeepEqual(got, []string{"k"}) {
		t.Fatalf("held %v", got)
	}
}

func testStormTakeover(t *testing.T, f Factory) {
	s := f.New(t)
	key := store.StormKey("ann", "push")
	for i := 0; i < 4; i++ {
		admit(t, s, key, page(fmt.Sprint("i", i), 1, base), base)
	}
	c1, _ := s.ClaimDue(ctx(t), base.Add(rules.Window), 5*time.Second, 10)
	c2, _ := s.ClaimDue(ctx(t), base.Add(rules.Window+5*time.Second), 5*time.Second, 10)
	if len(c1) != 1 || len(c2) != 1 || !c2[0].Takeover || !c2[0].Due.Equal(base.Add(rules.Window)) {
		t.Fatalf("claims %+v %+v, want a takeover of the storm", c1, c2)
	}
	if flushed(t, s, c1[0], 1, 1, base.Add(rules.Window+6*time.Second)) {
		t.Fatal("a flush by a replica whose lease ran out was accepted")
	}
	if got := held(t, s, key); len(got) != 1 {
		t.Fatalf("a void flush dropped pages: %v", got)
	}
	if !flushed(t, s, c2[0], 1, 1, base.Add(rules.Window+6*time.Second)) {
		t.Fatal("the new holder's flush was refused")
	}
}

// testStormFlushedAgain: a flush's Flushed went
// through but its answer was lost (a Redis timeout after the script ran),
// and the flush asks again with the same claim. The claim is released by
// then, and the second call answered "taken over": the flush skipped what
// follows a stored flush (a failed message's next steps brought forward,
// its level escalated at once) and logged that another replica would send
// the message again, which none did. The same claim's Flushed again
// reports the flush done and changes nothing: the pages held since stay.
// Another claim's is still void.
func testStormFlushedAgain(t *testing.T, f Factory) {
	s := f.New(t)
	key := store.StormKey("ann", "push")
	for i := 0; i < 6; i++ {
		admit(t, s, key, page(fmt.Sprint("i", i), 1, base), base)
	}
	cs := claimAll(t, s, base.Add(rules.Window))
	if len(cs) != 1 {
		t.Fatalf("claims %+v", cs)
	}
	now := base.Add(rules.Window + time.Second)
	if !flushed(t, s, cs[0], 3, 1, now) {
		t.Fatal("flush refused")
	}
	// A page held after the flush, before its retry.
	admit(t, s, key, page("late", 1, now), now.Add(time.Millisecond))
	if !flushed(t, s, cs[0], 3, 1, now) {
		t.Fatal("the flush asked again by its own claim, its first answer lost, was reported taken over")
	}
	if got := held(t, s, key); !reflect.DeepEqual(got, []string{"late"}) {
		t.Fatalf("held after the flush asked twice: %v, want the late page only", got)
	}
	if at, ok, _ := s.NextDue(ctx(t)); !ok || !at.Equal(now.Add(rules.Window)) {
		t.Fatalf("due %v %v, want the next window's end %v", at, ok, now.Add(rules.Window))
	}
	other := cs[0]
	other.Token += "x"
	if flushed(t, s, other, 1, 1, now) {
		t.Fatal("a flush by another claim was accepted")
	}
}

// testStormFlushedHeldAgain: a takeover whose claimer died after holding
// the step's page looks for the storm message's note before paging again;
// while the message is being sent (the held list read, the note not yet
// written) it finds none and holds the same page again, after the part the
// message read. Flushed drops that copy, or the next message pages the
// person a second time for the step (storm seed 809410433). It keeps, of
// what was held meanwhile: another step of the incident; its step at
// another reopen count (acknowledged and reopened since); a page that
// pages acknowledged incidents too where the copy read did not (left out
// of the message if acknowledged); the step of an incident the read part
// lists Sent (the message left its held pages before that out, for a page
// let out at once), held again by a takeover or by HoldFailed; and the
// step whose copy read the store cannot decode (the message left it out).
func testStormFlushedHeldAgain(t *testing.T, f Factory) {
	s := f.New(t)
	key := store.StormKey("ann", "push")
	at := base
	tick := func() time.Time { at = at.Add(time.Millisecond); return at }
	// hold asks for p and wants it held (at a time of its own: a page
	// asked again at the same time gets its first answer).
	hold := func(p store.HeldPage) {
		t.Helper()
		if a, err := s.Admit(ctx(t), key, p, tick(), rules); err != nil || a.Send {
			t.Fatalf("%s's page %s: %+v %v, want it held", p.Incident, p.Deadline, a, err)
		}
	}
	// raise lets p out at once (more urgent than anything sent in the
	// window), listed Sent after what is held.
	raise := func(p store.HeldPage) {
		t.Helper()
		if a, err := s.Admit(ctx(t), key, p, tick(), rules); err != nil || !a.Send || !a.Listed {
			t.Fatalf("%s's raised page: %+v %v, want sent and listed", p.Incident, a, err)
		}
	}
	with := func(p store.HeldPage, fn func(*store.HeldPage)) store.HeldPage { fn(&p); return p }
	for i := 0; i < rules.Immediate; i++ {
		admit(t, s, key, page(fmt.Sprint("i", i), 3, base), tick())
	}
	dup := with(page("dup", 3, base), func(p *store.HeldPage) { p.Reopened = 2 })
	otherStep := page("step", 3, base)
	reopened := page("reopen", 3, base)
	notAcked := page("ack", 3, base)
	acked := with(page("acked", 3, base), func(p *store.HeldPage) { p.PagesAcknowledged = true })
	sent := page("sent", 3, base)
	failed := with(page("failed", 3, base), func(p *store.HeldPage) { p.Deadline = "1.2" })
	spoilt := page("spoilt", 3, base)
	// The part the flush reads: nine listings.
	for _, p := range []store.HeldPage{dup, otherStep, reopened, notAcked, acked, sent, failed, spoilt} {
		hold(p)
	}
	raise(with(sent, func(p *store.HeldPage) { p.Rank = 1 }))
	raise(with(failed, func(p *store.HeldPage) { p.Rank = 0 }))
	f.SpoilHeld(t, s, key, 7)
	read, err := s.Held(ctx(t), key)
	if err != nil || len(read) != 10 || read[7].Unreadable == "" || !read[8].Sent || !read[9].Sent {
		t.Fatalf("held %+v %v, want eight held (the last unreadable) and two sent", read, err)
	}
	end := at.Add(rules.Window)
	cs := claimAll(t, s, end)
	if len(cs) != 1 {
		t.Fatalf("claims %+v", cs)
	}
	// Held while the message is being sent, after the part it read.
	at = end
	hold(dup) // dropped
	hold(with(otherStep, func(p *store.HeldPage) { p.Deadline = "1.2" }))
	hold(with(reopened, func(p *store.HeldPage) { p.Reopened = 1 }))
	hold(with(notAcked, func(p *store.HeldPage) { p.PagesAcknowledged = true }))
	hold(with(acked, func(p *store.HeldPage) { p.PagesAcknowledged = false })) // dropped
	hold(sent)
	if a, err := s.HoldFailed(ctx(t), key, with(failed, func(p *store.HeldPage) { p.Rank = 0 }), tick(), rules); err != nil || a.Send {
		t.Fatalf("held again: %+v %v", a, err)
	}
	hold(spoilt)
	hold(dup) // dropped: a second copy
	if !flushed(t, s, cs[0], len(read), 3, tick()) {
		t.Fatal("flush refused")
	}
	want := []string{"step", "reopen", "ack", "sent", "failed", "spoilt"}
	if got := held(t, s, key); !reflect.DeepEqual(got, want) {
		t.Fatalf("held after the flush %v, want %v: dup's and acked's steps, carried by the message, held again are dropped", got, want)
	}
	// The same claim's Flushed asked again (its answer lost) changes
	// nothing, and the next message's claim drops what it read only.
	hold(dup)
	if !flushed(t, s, cs[0], len(read), 3, at) {
		t.Fatal("the flush asked again by its own claim was refused")
	}
	if got := held(t, s, key); !reflect.DeepEqual(got, append(want, "dup")) {
		t.Fatalf("held after the flush asked again %v, want %v and dup", got, want)
	}
	cs = claimAll(t, s, at.Add(rules.Window))
	if len(cs) != 1 || !flushed(t, s, cs[0], len(want), 3, at.Add(rules.Window)) {
		t.Fatalf("second flush %+v", cs)
	}
	if got := held(t, s, key); !reflect.DeepEqual(got, []string{"dup"}) {
		t.Fatalf("held after the second flush %v, want dup (its step not in that message's part)", got)
	}
}

// testStormHeldUnreadable: a held page the store cannot decode is listed
// in its place, marked Unreadable, not an error (which failed every flush
// of the storm, and held every new page to its person for good), and
// Flushed drops it with the rest.
func testStormHeldUnreadable(t *testing.T, f Factory) {
	if f.SpoilHeld == nil {
		t.Fatal("the factory has no SpoilHeld")
	}
	s := f.New(t)
	key := store.StormKey("ann", "push")
	for _, inc := range []string{"a", "b", "c"} {
		if _, err := s.HoldFailed(ctx(t), key, page(inc, 1, base), base, rules); err != nil {
			t.Fatal(err)
		}
	}
	f.SpoilHeld(t, s, key, 1)
	ps, err := s.Held(ctx(t), key)
	if err != nil {
		t.Fatalf("Held with a page it cannot decode: %v", err)
	}
	if len(ps) != 3 || ps[0].Incident != "a" || ps[1].Unreadable == "" || ps[1].Incident != "" || ps[2].Incident != "c" {
		t.Fatalf("held %+v, want a, one unreadable, c", ps)
	}
	cs := claimAll(t, s, base.Add(rules.Window))
	if len(cs) != 1 || cs[0].Storm != key {
		t.Fatalf("claims %+v", cs)
	}
	if !flushed(t, s, cs[0], 3, 1, base.Add(rules.Window)) {
		t.Fatal("flush refused")
	}
	if got := held(t, s, key); len(got) != 0 {
		t.Fatalf("held after the flush: %q, want none", got)
	}
}

// testStormRelease: a storm's claim given up without a flush (its message
// sent back by the provider's rate limit) leaves its held pages, due again
// at the time given, not earlier nor at the lease's end; a time already
// past leaves it due at its window's end. A stale Release is void.
func testStormRelease(t *testing.T, f Factory) {
	s := f.New(t)
	key := store.StormKey("ann", "sms")
	for i := 0; i < 5; i++ {
		admit(t, s, key, page(fmt.Sprint("i", i), 1, base), base)
	}
	end := base.Add(rules.Window)
	cs := claimAll(t, s, end)
	if len(cs) != 1 || cs[0].Storm != key {
		t.Fatalf("claims %+v", cs)
	}
	turn := end.Add(40 * time.Second)
	if err := s.Release(ctx(t), cs[0], turn); err != nil {
		t.Fatal(err)
	}
	if at, ok, _ := s.NextDue(ctx(t)); !ok || !at.Equal(turn) {
		t.Fatalf("NextDue after Release %v %v, want %v", at, ok, turn)
	}
	if c := claimAll(t, s, turn.Add(-time.Millisecond)); len(c) != 0 {
		t.Fatalf("claimed before the time Release gave: %+v", c)
	}
	if got := held(t, s, key); len(got) != 2 {
		t.Fatalf("held after Release %v, want the two pages still held", got)
	}
	// More pages held meanwhile, by Admit and HoldFailed, leave the storm
	// due at that time: they reschedule only a storm that held nothing.
	admit(t, s, key, page("i5", 1, end), end.Add(time.Second))
	if _, err := s.HoldFailed(ctx(t), key, page("i6", 1, end), end.Add(2*time.Second), rules); err != nil {
		t.Fatal(err)
	}
	if at, ok, _ := s.NextDue(ctx(t)); !ok || !at.Equal(turn) {
		t.Fatalf("NextDue after pages held since the Release %v %v, want %v", at, ok, turn)
	}
	c2 := claimAll(t, s, turn)
	if len(c2) != 1 || c2[0].Storm != key || c2[0].Takeover {
		t.Fatalf("claim at the time Release gave: %+v", c2)
	}
	if !c2[0].Due.Equal(end) {
		t.Fatalf("claim at the time Release gave is due %v, want its window's end %v: its message's lateness counts from there", c2[0].Due, end)
	}
	// A stale Release (its claim taken over) leaves the new claim alone.
	if err := s.Release(ctx(t), cs[0], turn); err != nil {
		t.Fatal(err)
	}
	if c := claimAll(t, s, turn.Add(time.Second)); len(c) != 0 {
		t.Fatalf("a stale Release released another replica's claim: %+v", c)
	}
	// Released with a time already past: due at its window's end.
	if err := s.Release(ctx(t), c2[0], base); err != nil {
		t.Fatal(err)
	}
	if at, ok, _ := s.NextDue(ctx(t)); !ok || !at.Equal(end) {
		t.Fatalf("NextDue after a Release at a past time %v %v, want the window's end %v", at, ok, end)
	}
}

// testStormSentBack: the first time the provider sent a storm's message
// back is kept in the storm's state (SentBack returns it at every later
// send-back, across a release and a reopen), whichever replica asks, and
// the next window's message starts again from its own first send-back. A
// storm with no state keeps nothing.
func testStormSentBack(t *testing.T, f Factory) {
	s := f.New(t)
	key := store.StormKey("ann", "sms")
	sentBack := func(s store.Store, now, want time.Time) {
		t.Helper()
		first, err := s.SentBack(ctx(t), key, now)
		if err != nil {
			t.Fatal(err)
		}
		if !first.Equal(want) {
			t.Fatalf("SentBack at %v: first sent back %v, want %v", now.Sub(base), first.Sub(base), want.Sub(base))
		}
	}
	// No state: nothing kept.
	sentBack(s, base, base)
	sentBack(s, base.Add(time.Minute), base.Add(time.Minute))
	for i := 0; i < 5; i++ {
		admit(t, s, key, page(fmt.Sprint("i", i), 1, base), base)
	}
	end := base.Add(rules.Window)
	cs := claimAll(t, s, end.Add(80*time.Second))
	if len(cs) != 1 || cs[0].Storm != key {
		t.Fatalf("claims %+v", cs)
	}
	first := end.Add(80 * time.Second)
	sentBack(s, first, first)
	if err := s.Release(ctx(t), cs[0], first.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	sentBack(s, first.Add(30*time.Second), first)
	if f.Reopen != nil {
		s = f.Reopen(t, s)
	}
	cs = claimAll(t, s, first.Add(60*time.Second))
	if len(cs) != 1 {
		t.Fatalf("claims after the release %+v", cs)
	}
	sentBack(s, first.Add(60*time.Second), first)
	// The message went (or failed): the next window's message has a
	// minute of its own from its own first send-back.
	next := first.Add(61 * time.Second)
	if !flushed(t, s, cs[0], 2, 1, next) {
		t.Fatal("flush refused")
	}
	admit(t, s, key, page("i5", 1, next), next.Add(time.Second))
	sentBack(s, next.Add(rules.Window+time.Second), next.Add(rules.Window+time.Second))
	sentBack(s, next.Add(rules.Window+time.Minute), next.Add(rules.Window+time.Second))
}

// testStormUnsent: a page let out at once whose send failed is taken back
// (Unsent) and no longer counts in its window: a P0 whose page failed
// does not hold the next P0, and a window's first pages are three
// delivered. A P0 let out after its window's end, while the window's
// message is sent, is taken back from the next window, before or after
// the flush that opens it.
func testStormUnsent(t *testing.T, f Factory) {
	s := f.New(t)
	key := store.StormKey("ann", "push")
	unsent := func(key string, rank int, end time.Time, after bool) {
		t.Helper()
		if err := s.Unsent(ctx(t), key, rank, end, after); err != nil {
			t.Fatal(err)
		}
	}
	send, end := admit(t, s, key, page("p0", 0, base), base)
	admit(t, s, key, page("low0", 2, base), base)
	admit(t, s, key, page("low1", 2, base), base)
	if !send {
		t.Fatal("the first page was held")
	}
	unsent(key, 0, end, false)
	if send, _ := admit(t, s, key, page("low2", 2, base), base.Add(time.Second)); !send {
		t.Fatal("a third page delivered was held: the failed one still counts")
	}
	if send, _ := admit(t, s, key, page("low3", 2, base), base.Add(time.Second)); send {
		t.Fatal("a fourth page went out at once")
	}
	if send, _ := admit(t, s, key, page("p0-b", 0, base), base.Add(2*time.Second)); !send {
		t.Fatal("a P0 was held behind a P0 whose page failed")
	}
	if send, _ := admit(t, s, key, page("p0-c", 0, base), base.Add(3*time.Second)); send {
		t.Fatal("a second P0 delivered in the window went out at once")
	}
	// A window gone is left as it is: a later page of the rank counts.
	unsent(key, 0, end.Add(-time.Second), false)
	if send, _ := admit(t, s, key, page("p0-d", 0, base), base.Add(4*time.Second)); send {
		t.Fatal("a take-back of another window freed this one's")
	}

	// Bob's P2 storm closes; a P0 goes out at once while its message is
	// being sent, and fails: the next window holds no P0 behind it.
	for _, flushFirst := range []bool{false, true} {
		bob := store.StormKey(fmt.Sprint("bob", flushFirst), "push")
		at := base.Add(time.Minute)
		for i := 0; i < 5; i++ {
			admit(t, s, bob, page(fmt.Sprint("b", i), 2, at), at)
		}
		bobEnd := at.Add(rules.Window)
		var c store.Claim
		for _, cl := range claimAll(t, s, bobEnd) {
			if cl.Storm == bob {
				c = cl
			}
		}
		if c.Storm == "" {
			t.Fatal("bob's storm was not claimed")
		}
		send, until := admit(t, s, bob, page("b-p0", 0, at), bobEnd.Add(time.Millisecond))
		if !send || !until.Equal(bobEnd) {
			t.Fatalf("a P0 after the window's end: send %v until %v, want at once in the window ending %v", send, until, bobEnd)
		}
		if !flushFirst {
			unsent(bob, 0, bobEnd, true)
		}
		if !flushed(t, s, c, 2, 2, bobEnd.Add(time.Millisecond)) {
			t.Fatal("flush refused")
		}
		if flushFirst {
			unsent(bob, 0, bobEnd, true)
		}
		if send, _ := admit(t, s, bob, page("b-p0-2", 0, at), bobEnd.Add(time.Second)); !send {
			t.Fatalf("flushed first %v: a P0 was held in the window after one whose page failed", flushFirst)
		}
	}
	// A storm never seen has nothing to take back.
	unsent(store.StormKey("carol", "push"), 0, base, false)
}

// testStormAgrees plays random pages, flushes and pages taken back against
// the store and against StormState.Admit, Flushed and Unsent, which the embedded store uses and
// the Redis script mirrors: they must decide alike.
func testStormAgrees(t *testing.T, f Factory) {
	s := f.New(t)
	key := store.StormKey("bob", "voice")
	rng := rand.New(rand.NewPCG(1, 2))
	var model store.StormState
	type taken struct {
		rank  int
		end   time.Time
		after bool
	}
	var sentAtOnce []taken // pages let out at once, to take back at random (Unsent)
	now := base
	for i := 0; i < 300; i++ {
		now = now.Add(time.Duration(rng.IntN(2500)) * time.Millisecond)
		if cs := claimAll(t, s, now); len(cs) > 0 {
			n := rng.IntN(model.Held + 1)
			top := rng.IntN(4)
			if !flushed(t, s, cs[0], n, top, now) {
				t.Fatal("flush refused")
			}
			model.Flushed(n, top, now, rules)
			if got := len(held(t, s, key)); got != model.Held {
				t.Fatalf("step %d: %d held after the flush, the model says %d", i, got, model.Held)
			}
			continue
		}
		if len(sentAtOnce) > 0 && rng.IntN(4) == 0 {
			i := rng.IntN(len(sentAtOnce))
			u := sentAtOnce[i]
			sentAtOnce = slices.Delete(sentAtOnce, i, i+1)
			model.Unsent(u.rank, u.end, u.after)
			if err := s.Unsent(ctx(t), key, u.rank, u.end, u.after); err != nil {
				t.Fatal(err)
			}
			continue
		}
		rank := rng.IntN(4)
		want := model.Admit(rank, now, rules)
		if want {
			sentAtOnce = append(sentAtOnce, taken{rank, model.End, !now.Before(model.End)})
		}
		wantUntil, closing := model.End, false
		if !want {
			wantUntil, closing = model.HeldUntil(now, rules)
		}
		a, err := s.Admit(ctx(t), key, page(fmt.Sprint("i", i), rank, now), now, rules)
		if err != nil || a.Send != want || !a.Until.Equal(wantUntil) || a.Closing != closing {
			t.Fatalf("step %d (rank %d at +%v): store %+v %v, model send=%v until %v closing %v",
				i, rank, now.Sub(base), a, err, want, wantUntil, closing)
		}
	}
}

func testStormConcurrent(t *testing.T, f Factory) {
	s := f.New(t)
	key := store.StormKey("ann", "push")
	var sent, heldN int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			a, err := s.Admit(ctx(t), key, page(fmt.Sprint("i", i), 1, base), base, rules)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if a.Send {
				sent++
			} else {
				heldN++
			}
		}(i)
	}
	wg.Wait()
	if sent != rules.Immediate || heldN != 40-rules.Immediate || len(held(t, s, key)) != heldN {
		t.Fatalf("sent %d held %d (stored %d), want %d sent", sent, heldN, len(held(t, s, key)), rules.Immediate)
	}
	if cs := claimAll(t, s, base.Add(rules.Window)); len(cs) != 1 {
		t.Fatalf("%d storm claims, want 1", len(cs))
	}
}

func testStormKeys(t *testing.T, f Factory) {
	s := f.New(t)
	for i := 0; i < 4; i++ {
		admit(t, s, store.StormKey("ann", "push"), page(fmt.Sprint("a", i), 1, base), base)
	}
	// Bob's first page and Ann's first SMS go out at once.
	if send, _ := admit(t, s, store.StormKey("bob", "push"), page("b", 1, base), base); !send {
		t.Fatal("another person's page was held by Ann's storm")
	}
	if send, _ := admit(t, s, store.StormKey("ann", "sms"), page("a-sms", 1, base), base); !send {
		t.Fatal("Ann's SMS was held by her push storm")
	}
	// Storms and incidents share the due set, and claims say which is which.
	id := trigger(t, s, incident("api", "g1", base, rules.Window))
	cs := claimAll(t, s, base.Add(rules.Window))
	if len(cs) != 2 {
		t.Fatalf("claims %+v, want the incident and Ann's push storm", cs)
	}
	for _, c := range cs {
		if (c.Incident == id) == (c.Storm == store.StormKey("ann", "push")) {
			t.Fatalf("claim %+v is not one thing or the other", c)
		}
	}
}

func testBundles(t *testing.T, f Factory) {
	s := f.New(t)
	key := store.StormKey("ann", "push")
	b := &store.Bundle{ID: store.NewBundleID(key, base), User: "ann", Channel: "push",
		Incidents: []string{store.NewID(1, base), store.NewID(2, base)}, SentAt: base}
	if !store.IsBundleID(b.ID) || store.IsBundleID(b.Incidents[0]) {
		t.Fatalf("bundle and incident ids are told apart wrongly: %s %s", b.ID, b.Incidents[0])
	}
	if err := s.PutBundle(ctx(t), b, time.Hour); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetBundle(ctx(t), b.ID)
	if err != nil || got.User != "ann" || !reflect.DeepEqual(got.Incidents, b.Incidents) || !got.SentAt.Equal(base) {
		t.Fatalf("bundle %+v %v", got, err)
	}
	for _, id := range []string{store.NewBundleID(key, base), b.Incidents[0], "nonsense"} {
		if _, err := s.GetBundle(ctx(t), id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetBundle(%q) = %v, want ErrNotFound", id, err)
		}
	}
	short := &store.Bundle{ID: store.NewBundleID(key, base.Add(time.Second)), User: "ann", Channel: "push", SentAt: base}
	if err := s.PutBundle(ctx(t), short, 5*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if _, err := s.GetBundle(ctx(t), short.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an expired bundle: %v", err)
	}
}

func testStatuses(t *testing.T, f Factory) {
	s := f.New(t)
	a := trigger(t, s, incident("api", "a", base, 0))
	b := trigger(t, s, incident("api", "b", base, 0))
	inc := get(t, s, b)
	inc.State.Status = policy.StatusAcknowledged
	update(t, s, inc)
	// Resolved by the dispatcher's write (Finish).
	c := trigger(t, s, incident("api", "c", base, 0))
	cs := claimAll(t, s, base)
	var claim store.Claim
	for _, cl := range cs {
		if cl.Incident == c {
			claim = cl
		}
	}
	resolved := get(t, s, c)
	resolved.State.Status = policy.StatusResolved
	if err := s.Finish(ctx(t), claim, resolved, nil); err != nil {
		t.Fatal(err)
	}
	// Created at another time than its id says (an import), then
	// acknowledged.
	imported := incident("api", "d", base, 0)
	imported.CreatedAt = base.Add(-72 * time.Hour)
	d := trigger(t, s, imported)
	inc = get(t, s, d)
	inc.State.Status = policy.StatusAcknowledged
	update(t, s, inc)
	missing := store.NewID(3, base)
	got, err := s.Statuses(ctx(t), []string{a, b, c, d, missing, "nonsense"})
	want := map[string]policy.Status{a: policy.StatusTriggered, b: policy.StatusAcknowledged, c: policy.StatusResolved, d: policy.StatusAcknowledged}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Statuses = %v %v, want %v", got, err, want)
	}
}

func testNote(t *testing.T, f Factory) {
	s := f.New(t)
	a := trigger(t, s, incident("api", "a", base, 0), store.Entry{At: base, Type: "trigger"})
	b := trigger(t, s, incident("api", "b", base, 0))
	read := get(t, s, a)
	sent := store.Entry{At: base.Add(10 * time.Second), Type: "notify", User: "ann", Channel: "push", Bundle: "b00-x", Detail: "via log"}
	notes := map[string][]store.Entry{a: {sent}, b: {sent, sent}, store.NewID(4, base): {sent}}
	if err := s.Note(ctx(t), notes); err != nil {
		t.Fatal(err)
	}
	// What is noted leaves the map: the same call again (a retry after
	// an error in a later part) notes nothing twice.
	if len(notes) != 0 {
		t.Fatalf("after Note, the map still holds %v", notes)
	}
	if err := s.Note(ctx(t), notes); err != nil {
		t.Fatal(err)
	}
	tl, _ := s.Timeline(ctx(t), a)
	if len(tl) != 2 || tl[1].Bundle != "b00-x" || !tl[1].At.Equal(sent.At) {
		t.Fatalf("timeline of a after Note: %+v", tl)
	}
	if tl, _ := s.Timeline(ctx(t), b); len(tl) != 2 {
		t.Fatalf("timeline of b after Note: %+v", tl)
	}
	// A note is no write of the incident: an update from before it applies.
	read.State.Status = policy.StatusAcknowledged
	if err := s.Update(ctx(t), read, []store.Entry{{At: base.Add(time.Minute), Type: "ack"}}); err != nil {
		t.Fatalf("update after a note: %v", err)
	}
	if tl, _ := s.Timeline(ctx(t), a); len(tl) != 3 || tl[2].Type != "ack" {
		t.Fatalf("timeline after the update: %+v", tl)
	}
	if got := get(t, s, a); got.State.Status != policy.StatusAcknowledged || !reflect.DeepEqual(got.Details, read.Details) {
		t.Fatalf("the incident after a note and an update: %+v", got)
	}
}

func testStormDurable(t *testing.T, f Factory) {
	if f.Reopen == nil {
		t.Skip("this store has no reopen step in its factory")
	}
	s := f.New(t)
	key := store.StormKey("ann", "push")
	for i := 0; i < 5; i++ {
		admit(t, s, key, page(fmt.Sprint("i", i), 1, base), base)
	}
	b := &store.Bundle{ID: store.NewBundleID(key, base), User: "ann", Channel: "push", Incidents: []string{"x"}, SentAt: base}
	if err := s.PutBundle(ctx(t), b, time.Hour); err != nil {
		t.Fatal(err)
	}
	s = f.Reopen(t, s)
	if got := held(t, s, key); !reflect.DeepEqual(got, []string{"i3", "i4"}) {
		t.Fatalf("held after reopen %v", got)
	}
	if send, _ := admit(t, s, key, page("i5", 1, base), base.Add(time.Second)); send {
		t.Fatal("the window was forgotten across a restart")
	}
	if cs := claimAll(t, s, base.Add(rules.Window)); len(cs) != 1 || cs[0].Storm != key {
		t.Fatalf("claims after reopen %+v", cs)
	}
	if _, err := s.GetBundle(ctx(t), b.ID); err != nil {
		t.Fatalf("bundle after reopen: %v", err)
	}
}

// testFinish: Finish is Update and Complete at once: the claim is released
// and the incident due at its next deadline; a stale version is a conflict
// that keeps the claim; after a takeover it writes but leaves the new
// holder's claim alone; with nothing pending the incident leaves the due set.
func testFinish(t *testing.T, f Factory) {
	s := f.New(t)
	id := trigger(t, s, incident("api", "g1", base, 0, time.Minute, 2*time.Minute))
	cs := claimAll(t, s, base)
	if len(cs) != 1 || cs[0].Record == nil || cs[0].Record.ID != id || cs[0].Record.Version != 1 || len(cs[0].Record.State.Pending) != 3 {
		t.Fatalf("claims %+v: want the incident's record with the claim", cs)
	}
	equal(t, "record in the claim", cs[0].Record, get(t, s, id))
	stale := get(t, s, id)
	mine := cs[0].Record
	mine.State.Pending = mine.State.Pending[1:]
	if err := s.Finish(ctx(t), cs[0], mine, []store.Entry{{At: base, Type: "notify"}}); err != nil {
		t.Fatal(err)
	}
	if at, ok, _ := s.NextDue(ctx(t)); !ok || !at.Equal(base.Add(time.Minute)) {
		t.Fatalf("after Finish due %v %v, want +1m", at, ok)
	}
	if tl, _ := s.Timeline(ctx(t), id); len(tl) != 1 {
		t.Fatalf("timeline after Finish: %+v", tl)
	}
	cs = claimAll(t, s, base.Add(time.Minute))
	if len(cs) != 1 || cs[0].Takeover {
		t.Fatalf("the next claim %+v", cs)
	}
	if err := s.Finish(ctx(t), cs[0], stale, nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Finish with a stale version: %v", err)
	}
	if c := claimAll(t, s, base.Add(time.Minute+time.Second)); len(c) != 0 {
		t.Fatalf("a conflicting Finish released the claim: %+v", c)
	}
	// The lease runs out; another replica takes over; the first one's late
	// Finish writes (its version is current) but does not release the new
	// holder's claim.
	takeover := claimAll(t, s, base.Add(time.Minute+time.Minute))
	if len(takeover) != 1 || !takeover[0].Takeover {
		t.Fatalf("takeover %+v", takeover)
	}
	late := get(t, s, id)
	late.State.Pending = late.State.Pending[1:]
	if err := s.Finish(ctx(t), cs[0], late, nil); err != nil {
		t.Fatal(err)
	}
	if c := claimAll(t, s, base.Add(2*time.Minute+time.Second)); len(c) != 0 {
		t.Fatalf("a void Finish released another replica's claim: %+v", c)
	}
	// The holder resolves it: nothing pending, nothing due.
	last := get(t, s, id)
	last.State.Status, last.State.Pending = policy.StatusResolved, nil
	if err := s.Finish(ctx(t), takeover[0], last, nil); err != nil {
		t.Fatal(err)
	}
	if at, ok, _ := s.NextDue(ctx(t)); ok {
		t.Fatalf("a resolved incident is due at %v", at)
	}
}

// testOutbox: an incident's outbox is stored with it, with what earlier
// tries of an item did, and makes it due, even once resolved with nothing
// else pending; emptying it leaves the due set.
func testOutbox(t *testing.T, f Factory) {
	s := f.New(t)
	id := trigger(t, s, incident("api", "g1", base, time.Hour))
	inc := get(t, s, id)
	inc.State.Status, inc.State.Pending = policy.StatusResolved, nil
	inc.Outbox = []store.OutboxItem{{ID: "pagerduty-resolve-1", Kind: store.OutboxPagerDuty, Action: "resolve", Due: base.Add(time.Minute), Since: base,
		Attempts: 1, Done: []string{id + "/carol", "b-1/dave"}}}
	update(t, s, inc)
	got := get(t, s, id)
	if len(got.Outbox) != 1 || got.Outbox[0].Action != "resolve" || !got.Outbox[0].Due.Equal(base.Add(time.Minute)) || got.Outbox[0].Attempts != 1 ||
		!slices.Equal(got.Outbox[0].Done, []string{id + "/carol", "b-1/dave"}) {
		t.Fatalf("outbox after update: %+v", got.Outbox)
	}
	if at, ok, _ := s.NextDue(ctx(t)); !ok || !at.Equal(base.Add(time.Minute)) {
		t.Fatalf("a resolved incident with an outbox item is due %v %v, want at the item", at, ok)
	}
	cs := claimAll(t, s, base.Add(time.Minute))
	if len(cs) != 1 || cs[0].Record == nil || len(cs[0].Record.Outbox) != 1 || !slices.Equal(cs[0].Record.Outbox[0].Done, got.Outbox[0].Done) {
		t.Fatalf("claim %+v", cs)
	}
	done := cs[0].Record
	done.Outbox = nil
	if err := s.Finish(ctx(t), cs[0], done, nil); err != nil {
		t.Fatal(err)
	}
	if at, ok, _ := s.NextDue(ctx(t)); ok {
		t.Fatalf("due at %v with an empty outbox and nothing pending", at)
	}
}

// testNotPushedToPagerDuty: whether an incident went to PagerDuty is kept
// by every write and read back by every read (Get, a claim's record, List,
// FindByDedup); a repeat leaves it as it was; a record written without it,
// as every record was before it existed, reads as false, the value that
// still forwards.
func testNotPushedToPagerDuty(t *testing.T, f Factory) {
	testKeptFlag(t, f, "NotPushedToPagerDuty", func(inc *store.Incident) *bool { return &inc.NotPushedToPagerDuty })
}

// testNotPaged: whether anybody was told of an incident is kept as
// NotPushedToPagerDuty is: a record written without it reads as told.
func testNotPaged(t *testing.T, f Factory) {
	testKeptFlag(t, f, "NotPaged", func(inc *store.Incident) *bool { return &inc.NotPaged })
}

// testKeptFlag: the incident's flag is kept by every write and read back
// by every read (Get, a claim's record, List, FindByDedup); a repeat
// leaves it as it was; a record written without it reads as false.
func testKeptFlag(t *testing.T, f Factory, name string, flag func(*store.Incident) *bool) {
	s := f.New(t)
	inc := incident("api", "g1", base, 0)
	*flag(inc) = true
	id := trigger(t, s, inc)
	if !*flag(get(t, s, id)) {
		t.Fatalf("Get lost %s as triggered", name)
	}
	again := incident("api", "g1", base.Add(time.Second), 0) // a repeat says nothing of it
	if _, out, err := s.Trigger(ctx(t), again, nil); err != nil || out != store.Repeated {
		t.Fatalf("repeat: %v %v", out, err)
	}
	if found, err := s.FindByDedup(ctx(t), "api", "g1"); err != nil || !*flag(found) {
		t.Fatalf("after a repeat, FindByDedup: %+v %v", found, err)
	}
	cs := claimAll(t, s, base)
	if len(cs) != 1 || cs[0].Record == nil || !*flag(cs[0].Record) {
		t.Fatalf("the claim's record lost %s: %+v", name, cs)
	}
	listed, err := s.List(ctx(t), store.Filter{})
	if err != nil || len(listed) != 1 || !*flag(listed[0]) {
		t.Fatalf("List: %+v %v", listed, err)
	}
	// The dispatcher records a page that went out (to PagerDuty).
	rec := cs[0].Record
	*flag(rec) = false
	rec.State.Pending = nil
	if err := s.Finish(ctx(t), cs[0], rec, []store.Entry{{At: base, Type: "notify", User: "u", Channel: "push", Detail: "via pagerduty"}}); err != nil {
		t.Fatal(err)
	}
	if *flag(get(t, s, id)) {
		t.Fatalf("Finish did not clear %s", name)
	}
	// An incident stored without it: as a record from before it existed.
	old := trigger(t, s, incident("api", "g2", base, 0))
	if got := get(t, s, old); *flag(got) {
		t.Fatalf("a record without the field reads %+v", got)
	}
	got := get(t, s, id)
	*flag(got) = true
	update(t, s, got)
	if !*flag(get(t, s, id)) {
		t.Fatalf("Update did not write %s", name)
	}
}

// testStormListedAcknowledged: a page let out at once while others are
// held (listed Sent) is told whether a page of its incident held before it
// pages acknowledged incidents too (Admission.Acknowledged): the storm's
// message leaves that one out for it, and it must stand for it when it is
// held again. Not for another incident's such page, its own incident's
// page that does not, nor a Sent listing of one that does.
func testStormListedAcknowledged(t *testing.T, f Factory) {
	s := f.New(t)
	key := store.StormKey("bob", "push")
	for i := 0; i < 3; i++ {
		admit(t, s, key, page(fmt.Sprint("w", i), 2, base), base)
	}
	rule := page("x", 2, base) // an unresolved rule's page: held
	rule.PagesAcknowledged = true
	other := page("y", 2, base)
	other.PagesAcknowledged = true
	for _, p := range []store.HeldPage{other, page("z", 2, base), rule} {
		if sent, _ := admit(t, s, key, p, base); sent {
			t.Fatalf("%s's page went out at once; want it held", p.Incident)
		}
	}
	raisedX := page("x", 1, base)
	raisedX.Deadline = "1.2"
	a, err := s.Admit(ctx(t), key, raisedX, base.Add(time.Second), rules)
	if err != nil || !a.Send || !a.Listed || !a.Acknowledged {
		t.Fatalf("x raised: %+v %v, want sent, listed, standing for x's held page that pages acknowledged incidents", a, err)
	}
	// Asked again with its answer lost: the same answer.
	if a2, err := s.Admit(ctx(t), key, raisedX, base.Add(time.Second), rules); err == nil && a2.Send && a2.Listed && !a2.Acknowledged {
		t.Fatalf("x raised, asked again: %+v, want the first answer", a2)
	}
	raisedZ := page("z", 0, base)
	raisedZ.Deadline = "1.2"
	a, err = s.Admit(ctx(t), key, raisedZ, base.Add(2*time.Second), rules)
	if err != nil || !a.Send || !a.Listed || a.Acknowledged {
		t.Fatalf("z raised: %+v %v, want sent and listed, not standing for a page of acknowledged incidents (z's held one does not page them, y's is another incident's)", a, err)
	}
	// A Sent listing of a page that pages acknowledged incidents is not
	// a held one.
	key2 := store.StormKey("carol", "push")
	for i := 0; i < 3; i++ {
		admit(t, s, key2, page(fmt.Sprint("w", i), 2, base), base)
	}
	if sent, _ := admit(t, s, key2, page("h", 2, base), base); sent {
		t.Fatal("h's page went out at once; want it held")
	}
	sentRule := page("v", 1, base)
	sentRule.PagesAcknowledged = true
	if a, err := s.Admit(ctx(t), key2, sentRule, base.Add(time.Second), rules); err != nil || !a.Send || !a.Listed || a.Acknowledged {
		t.Fatalf("v: %+v %v, want sent and listed, with no page of v held before it", a, err)
	}
	raisedV := page("v", 0, base)
	raisedV.Deadline = "1.2"
	if a, err := s.Admit(ctx(t), key2, raisedV, base.Add(2*time.Second), rules); err != nil || !a.Send || !a.Listed || a.Acknowledged {
		t.Fatalf("v raised: %+v %v, want sent and listed, not standing for v's Sent listing", a, err)
	}
}

// testStormAskedAgain: the dispatcher asks a storm again when its first
// answer was lost (store.ErrOutcomeUnknown: a Redis timeout after the
// script ran, a commit that did not finish in time), and again, on a
// context of its own, when its claim's time ran out before that, to take
// the answer back. The same page (incident, step, time) asked again, with
// no other page asked between, gets its first answer and changes nothing:
// counted twice, a page the person never got held their next page to the
// window's end; held twice, it was listed twice. Taken back (Unsent), the
// page asked again counts again.
func testStormAskedAgain(t *testing.T, f Factory) {
	s := f.New(t)
	key := store.StormKey("ann", "push")
	admit(t, s, key, page("i0", 2, base), base)
	admit(t, s, key, page("i1", 2, base), base)
	first, err := s.Admit(ctx(t), key, page("i2", 2, base), base, rules)
	if err != nil || !first.Send {
		t.Fatalf("the third page: %+v %v, want it let out", first, err)
	}
	again, err := s.Admit(ctx(t), key, page("i2", 2, base), base, rules)
	if err != nil || again != first {
		t.Fatalf("the third page asked again: %+v %v, want its first answer %+v", again, err, first)
	}
	if err := s.Unsent(ctx(t), key, 2, first.Until, false); err != nil {
		t.Fatal(err)
	}
	// Taken back: the window has let two out, so one more goes.
	if send, _ := admit(t, s, key, page("i3", 2, base), base.Add(time.Second)); !send {
		t.Fatal("after the third page, asked twice, was taken back once, the next page was held: counted twice")
	}
	// A held page asked again is listed once.
	heldFirst, err := s.Admit(ctx(t), key, page("i4", 2, base), base.Add(2*time.Second), rules)
	if err != nil || heldFirst.Send {
		t.Fatalf("the fourth page sent at once: %+v %v, want it held", heldFirst, err)
	}
	heldAgain, err := s.Admit(ctx(t), key, page("i4", 2, base), base.Add(2*time.Second), rules)
	if err != nil || heldAgain != heldFirst {
		t.Fatalf("the held page asked again: %+v %v, want its first answer %+v", heldAgain, err, heldFirst)
	}
	if got := held(t, s, key); len(got) != 1 {
		t.Fatalf("held %v, want i4 once", got)
	}
}
