package policy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"
)

// TestApplyTriggerAllocations: a new incident's trigger (AIVO's P0, as
// BenchmarkApplyTrigger) allocates at most 12 times: its deadlines are
// not grown one at a time, nor sorted by reflection, and the holder of
// the tier it pages is found without a slice of the tier's rotations.
func TestApplyTriggerAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates as it likes: the count is the plain build's")
	}
	c := benchConfig(t, "aivo.yaml")
	e := &Engine{Config: c}
	rt := c.Route(c.Service("aivo-production"), map[string]string{"severity": "critical"}, benchAt)
	var st Incident
	n := testing.AllocsPerRun(100, func() {
		var err error
		if st, _, err = e.Apply(Incident{ID: "x"}, Event{Kind: EventTrigger, Route: &rt}, benchAt); err != nil {
			t.Fatal(err)
		}
	})
	if len(st.Pending) < 2 {
		t.Fatalf("the trigger scheduled %d deadlines: this measures nothing", len(st.Pending))
	}
	if n > 12 {
		t.Errorf("a trigger allocates %.0f times, want at most 12", n)
	}
}

// TestPendingSortedAsSortSlice: deadlines are put in the order sort.Slice
// put them in, ties of time and sequence included.
func TestPendingSortedAsSortSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 500 {
		ds := make([]Deadline, rng.IntN(40))
		for i := range ds {
			ds[i] = Deadline{ID: string(rune('a' + i)), At: base.Add(time.Duration(rng.IntN(4)) * time.Minute), Seq: rng.IntN(5)}
		}
		want := slices.Clone(ds)
		sort.Slice(want, func(i, j int) bool { return want[i].before(want[j]) })
		got := slices.Clone(ds)
		r := run{inc: Incident{Pending: got}}
		r.sortPending()
		if !slices.EqualFunc(got, want, func(a, b Deadline) bool { return a.ID == b.ID }) {
			t.Fatalf("sorted %v, sort.Slice %v", got, want)
		}
	}
}

// TestDeadlineIDIsSprintf: a deadline's id is what fmt.Sprintf("%d.%d")
// made of its epoch and sequence, at any size or sign, and takes one
// allocation (the string) where fmt took two.
func TestDeadlineIDIsSprintf(t *testing.T) {
	for _, n := range [][2]int{{0, 0}, {1, 1}, {-1, 7}, {12, 345}, {math.MaxInt, math.MinInt}, {math.MinInt, math.MaxInt}} {
		if got, want := deadlineID(n[0], n[1]), fmt.Sprintf("%d.%d", n[0], n[1]); got != want {
			t.Errorf("deadlineID(%d, %d) = %q, want %q", n[0], n[1], got, want)
		}
	}
	if raceEnabled {
		return
	}
	if a := testing.AllocsPerRun(100, func() { _ = deadlineID(3, 1234) }); a > 1 {
		t.Errorf("a deadline id takes %.0f allocations, want 1", a)
	}
}

// TestSentSharesOneListPerPage: a's SMS (after her push) goes out; her
// call's step and her second SMS's learn of it. Both knew of the push, as
// the SMS did, and get one new list between them: one allocation, where
// copying each step's took one a step (and rebuilding d's list for each,
// five), and never into the room of the array they had, which may be the
// incident's passed in, or another Apply's of it. The second SMS's step
// gets the SMS once: a report that it reached nobody takes one out.
func TestSentSharesOneListPerPage(t *testing.T) {
	push := make([]string, 1, 4)
	push[0] = ChannelPush
	d := Deadline{Kind: DeadlineNotify, User: "a", Channel: ChannelSMS, Sent: push}
	r := &run{}
	fire := func() {
		r.inc.Pending = append(r.inc.Pending[:0],
			Deadline{Kind: DeadlineNotify, User: "a", Channel: ChannelVoice, Sent: push},
			Deadline{Kind: DeadlineNotify, User: "a", Channel: ChannelSMS, Sent: push},
			Deadline{Kind: DeadlineNotify, User: "b", Channel: ChannelSMS})
		r.sent(d)
	}
	fire()
	pushSMS := []string{ChannelPush, ChannelSMS}
	got := [][]string{r.inc.Pending[0].Sent, r.inc.Pending[1].Sent, r.inc.Pending[2].Sent}
	if !slices.Equal(got[0], pushSMS) || !slices.Equal(got[1], pushSMS) || got[2] != nil {
		t.Fatalf("Sent after a's SMS: %q, want a's steps [push sms], b's none", got)
	}
	if push[:2][1] != "" {
		t.Fatalf("the call's Sent was appended to in place: %q", push[:2])
	}
	if raceEnabled {
		return
	}
	if n := testing.AllocsPerRun(100, fire); n > 1 {
		t.Errorf("noting a's SMS on her steps allocates %.0f times, want 1 (the list her steps share)", n)
	}
}

// TestSentOfAStepThatKnowsMore: a later step whose Sent is not the step
// that went out's (one written by another version) keeps what it has,
// gets what went out before that step and it lacks, and the step's own
// channel, once each.
func TestSentOfAStepThatKnowsMore(t *testing.T) {
	d := Deadline{Kind: DeadlineNotify, User: "a", Channel: ChannelVoice, Sent: []string{ChannelPush, ChannelSMS, ChannelSMS}}
	r := &run{inc: Incident{Pending: []Deadline{{Kind: DeadlineNotify, User: "a", Channel: ChannelEmail, Sent: []string{ChannelSMS, ChannelSlack}}}}}
	r.sent(d)
	if got, want := r.inc.Pending[0].Sent, []string{ChannelSMS, ChannelSlack, ChannelPush, ChannelSMS, ChannelVoice}; !slices.Equal(got, want) {
		t.Fatalf("Sent %q, want %q", got, want)
	}
}
