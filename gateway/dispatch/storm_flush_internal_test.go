package dispatch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/boltstore"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/policy"
)

// The flush of a storm whose claim runs out while it works: a message
// must go out once, and never be dropped unsent. The storm's two held
// pages are stored in a real embedded store; their incidents are not (the
// store answers every one as triggered).

const flushConfig = `
users:
  - {id: ann, name: Ann, contacts: [{channel: push, via: log}]}
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: primary, start: 2025-01-06, members: [ann]}
escalation_policies:
  - name: p
    levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]
services:
  - name: api
    priority_scheme: P0-P3
    escalation_policy: p
`

// triggeredStore answers every incident as triggered, and lets a test
// act when a flush reads the statuses or stores its flush.
type triggeredStore struct {
	store.Store
	onStatuses func()
	// statusOf, when set, is each incident's status (else triggered).
	statusOf  func(id string) policy.Status
	onFlushed func()
	heldErr   error // Held's, when set
	heldEdit  func([]store.HeldPage) []store.HeldPage
	noteErr   error // Note's, when set
	getErr    error // Get's, when set
	mu        sync.Mutex
	flushed   []bool // what each Flushed returned
}

func (s *triggeredStore) Held(ctx context.Context, storm string) ([]store.HeldPage, error) {
	if s.heldErr != nil {
		return nil, s.heldErr
	}
	held, err := s.Store.Held(ctx, storm)
	if err == nil && s.heldEdit != nil {
		held = s.heldEdit(held)
	}
	return held, err
}

func (s *triggeredStore) Note(ctx context.Context, entries map[string][]store.Entry) error {
	if s.noteErr != nil {
		return s.noteErr
	}
	return s.Store.Note(ctx, entries)
}

func (s *triggeredStore) Get(ctx context.Context, id string) (*store.Incident, error) {
	if s.getErr != nil {
		return nil, s.getErr
	}
	return s.Store.Get(ctx, id)
}

func (s *triggeredStore) Statuses(_ context.Context, ids []string) (map[string]policy.Status, error) {
	if s.onStatuses != nil {
		s.onStatuses()
	}
	out := map[string]policy.Status{}
	for _, id := range ids {
		out[id] = policy.StatusTriggered
		if s.statusOf != nil {
			out[id] = s.statusOf(id)
		}
	}
	return out, nil
}

func (s *triggeredStore) Flushed(ctx context.Context, c store.Claim, n, top int, now time.Time, r store.StormRules) (bool, error) {
	if s.onFlushed != nil {
		s.onFlushed()
	}
	ok, err := s.Store.Flushed(ctx, c, n, top, now, r)
	s.mu.Lock()
	s.flushed = append(s.flushed, ok)
	s.mu.Unlock()
	return ok, err
}

// countingNotifier counts the messages it delivers; with block set, the
// first send waits for it to close (a provider slow to answer), after
// closing started.
type countingNotifier struct {
	delivered, entered atomic.Int32
	block, started     chan struct{}
	send               func(ctx context.Context) error // the send's outcome; nil: delivered
	message            func(notify.Message)            // called with each message, when set
}

func (n *countingNotifier) Notify(ctx context.Context, m notify.Message) error {
	if n.message != nil {
		n.message(m)
	}
	if n.entered.Add(1) == 1 && n.block != nil {
		close(n.started)
		<-n.block
	}
	if n.send != nil {
		if err := n.send(ctx); err != nil {
			return err
		}
	}
	n.delivered.Add(1)
	return nil
}

// flushClock is the dispatcher's clock in these tests.
type flushClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *flushClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *flushClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// flushSetup is a dispatcher with a 30 s lease and a storm of two pages
// held for ann, due at t0.
func flushSetup(t *testing.T, n notify.Notifier) (*Dispatcher, *triggeredStore, *flushClock, time.Time) {
	t.Helper()
	return flushSetupWith(t, n, flushConfig)
}

// flushSetupWith is flushSetup with another config; n is its notifier
// for log and pagerduty contacts.
func flushSetupWith(t *testing.T, n notify.Notifier, config string) (*Dispatcher, *triggeredStore, *flushClock, time.Time) {
	t.Helper()
	cfg, err := policy.Parse([]byte(config), "test.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bs, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.Close() })
	st := &triggeredStore{Store: bs}
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	clk := &flushClock{t: t0}
	d := New(Options{Store: st, Config: func() *policy.Config { return cfg }, Now: clk.now, Lease: 30 * time.Second,
		Notifiers: map[string]notify.Notifier{"log": n, "pagerduty": n}, Registry: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for _, id := range []string{"i1", "i2"} {
		if _, err := bs.HoldFailed(context.Background(), "ann/push", store.HeldPage{Incident: id, Deadline: "d-" + id,
			Service: "api", Priority: "P1", Rank: 1, Summary: id, Due: t0, Via: "log"}, t0, stormRules(cfg)); err != nil {
			t.Fatal(err)
		}
	}
	return d, st, clk, t0
}

// claimStorm claims the storm, due at or before at.
func claimStorm(t *testing.T, d *Dispatcher, at time.Time) store.Claim {
	t.Helper()
	cs, err := d.o.Store.ClaimDue(context.Background(), at, d.o.Lease, 10)
	if err != nil || len(cs) != 1 || cs[0].Storm == "" {
		t.Fatalf("claims at %v: %+v, %v", at, cs, err)
	}
	return cs[0]
}

// heldNow is how many pages the storm holds.
func heldNow(t *testing.T, d *Dispatcher) int {
	t.Helper()
	held, err := d.o.Store.Held(context.Background(), "ann/push")
	if err != nil {
		t.Fatal(err)
	}
	return len(held)
}

// turnTakenAfterStatuses has another storm's call, due before t0, wait
// for the turn while the flush reads its statuses, and then, when it gets
// the turn, do meanwhile before it gives it back: the flush's next call
// (its bundle's) waits all that time. The channel closes when it has.
func turnTakenAfterStatuses(t *testing.T, d *Dispatcher, st *triggeredStore, t0 time.Time, meanwhile func()) <-chan struct{} {
	t.Helper()
	done := make(chan struct{})
	st.onStatuses = func() {
		st.onStatuses = nil
		go func() {
			defer close(done)
			if err := d.turn.take(context.Background(), forMessage, t0.Add(-time.Second)); err != nil {
				t.Error(err)
				return
			}
			meanwhile()
			d.turn.give()
		}()
		queued(t, &d.turn, 1)
	}
	return done
}

// TestStormTakenOverWhileItsMessageIsSentGoesOutOnce: a flush whose
// message is slow to go out (a provider's retries) is still sending when
// its lease ends, and this replica claims the storm again. The takeover
// found the same held pages and nothing journaled, and sent the message
// a second time. Now it leaves its claim to run out; the flush still
// running journals its message, and the storm's next claim records it.
func TestStormTakenOverWhileItsMessageIsSentGoesOutOnce(t *testing.T) {
	n := &countingNotifier{block: make(chan struct{}), started: make(chan struct{})}
	d, _, clk, t0 := flushSetup(t, n)
	c1 := claimStorm(t, d, t0)
	first := make(chan error, 1)
	go func() { first <- d.flush(context.Background(), c1, t0.Add(d.sendWindow())) }()
	<-n.started
	clk.set(t0.Add(31 * time.Second))
	c2 := claimStorm(t, d, clk.now())
	if !c2.Takeover {
		t.Fatalf("claim %+v, want a takeover", c2)
	}
	if err := d.flush(context.Background(), c2, clk.now().Add(d.sendWindow())); err != nil {
		t.Fatal(err)
	}
	if got := n.entered.Load(); got != 1 {
		t.Fatalf("the takeover sent the message while the first flush still sent it: %d sends", got)
	}
	close(n.block)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	clk.set(t0.Add(62 * time.Second))
	c3 := claimStorm(t, d, clk.now())
	if err := d.flush(context.Background(), c3, clk.now().Add(d.sendWindow())); err != nil {
		t.Fatal(err)
	}
	if got, held := n.delivered.Load(), heldNow(t, d); got != 1 || held != 0 {
		t.Fatalf("the message delivered %d times, %d pages still held; want it once, and recorded", got, held)
	}
}

// TestStormFlushedAfterItsClaimRanOutKeepsItsJournal: a flush's Flushed
// reaches the store after its lease ran out and this replica claimed the
// storm again (it waited for its turn, or for a store refusing writes).
// The store keeps the held pages (the claim is no longer this flush's),
// and the flush forgot its message all the same: the takeover sent it
// again. Kept, it is not counted in pagerd_dispatch_unrecorded.
func TestStormFlushedAfterItsClaimRanOutKeepsItsJournal(t *testing.T) {
	n := &countingNotifier{}
	d, st, clk, t0 := flushSetup(t, n)
	c1 := claimStorm(t, d, t0)
	var c2 store.Claim
	st.onFlushed = func() {
		st.onFlushed = nil
		clk.set(t0.Add(31 * time.Second))
		c2 = claimStorm(t, d, clk.now())
	}
	if err := d.flush(context.Background(), c1, t0.Add(d.sendWindow())); err != nil {
		t.Fatal(err)
	}
	// Kept for the takeover, but not counted unrecorded: the store did
	// not refuse it (the gauge stayed above 0 for up to an hour when
	// another replica took the storm over).
	if _, kept := d.journal.flushOf("ann/push"); !kept || d.journal.size() != 0 {
		t.Fatalf("after a Flushed that found the claim taken over: journaled %v, pagerd_dispatch_unrecorded %d; want it kept and 0",
			kept, d.journal.size())
	}
	if err := d.flush(context.Background(), c2, clk.now().Add(d.sendWindow())); err != nil {
		t.Fatal(err)
	}
	if got, held := n.delivered.Load(), heldNow(t, d); got != 1 || held != 0 {
		t.Fatalf("the message delivered %d times, %d pages still held (Flushed returned %v); want it once, and recorded",
			got, held, st.flushed)
	}
}

// TestStormMessageNotSentPastItsSendWindow: the flush looked at its send
// window before its turns for the statuses and the bundle; the turns
// took it past the window (and the lease), when another replica may
// have taken the storm over and sent it, and it sent all the same. Now it
// leaves its claim to run out, its pages held for the takeover.
func TestStormMessageNotSentPastItsSendWindow(t *testing.T) {
	n := &countingNotifier{}
	d, st, clk, t0 := flushSetup(t, n)
	c1 := claimStorm(t, d, t0)
	other := turnTakenAfterStatuses(t, d, st, t0, func() { clk.set(t0.Add(35 * time.Second)) })
	if err := d.flush(context.Background(), c1, t0.Add(d.sendWindow())); err != nil {
		t.Fatal(err)
	}
	<-other
	if got := n.entered.Load(); got != 0 {
		t.Fatalf("the message was sent %d times at +35s, past its send window (+%v)", got, d.sendWindow())
	}
	if got := testutil.ToFloat64(d.m.errors.WithLabelValues(leaseRanOut)); got != 1 {
		t.Fatalf("lease_ran_out counted %v times, want 1", got)
	}
	c2 := claimStorm(t, d, t0.Add(61*time.Second))
	if err := d.flush(context.Background(), c2, clk.now().Add(d.sendWindow())); err != nil {
		t.Fatal(err)
	}
	if got, held := n.delivered.Load(), heldNow(t, d); got != 1 || held != 0 {
		t.Fatalf("after the takeover: the message delivered %d times, %d pages still held; want it once", got, held)
	}
}

// TestStormMessageCutShortIsLeftToTheTakeover: the claim's context ends
// while the flush waits for its turn, or while its message is sent. The
// message went out anyway with a dead context and failed, or failed
// mid-send, and was recorded as a provider's failure: the storm's next
// flush dropped its held pages, and nobody was paged. Now nothing is
// recorded, and the takeover sends it.
func TestStormMessageCutShortIsLeftToTheTakeover(t *testing.T) {
	for _, tc := range []struct {
		name string
		cut  func(d *Dispatcher, st *triggeredStore, n *countingNotifier, cancel func(), t0 time.Time)
	}{
		{name: "waiting for the turn", cut: func(d *Dispatcher, st *triggeredStore, _ *countingNotifier, cancel func(), t0 time.Time) {
			turnTakenAfterStatuses(t, d, st, t0, cancel)
		}},
		{name: "while sent", cut: func(_ *Dispatcher, _ *triggeredStore, n *countingNotifier, cancel func(), _ time.Time) {
			n.send = func(ctx context.Context) error {
				if n.entered.Load() > 1 {
					return nil // the takeover's
				}
				cancel()
				<-ctx.Done()
				return ctx.Err()
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := &countingNotifier{}
			d, st, clk, t0 := flushSetup(t, n)
			c1 := claimStorm(t, d, t0)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			tc.cut(d, st, n, cancel, t0)
			if err := d.flush(ctx, c1, t0.Add(d.sendWindow())); err != nil {
				t.Fatal(err)
			}
			if got := d.journal.size(); got != 0 {
				t.Fatalf("%d messages journaled for a message not known to be sent, want none", got)
			}
			clk.set(t0.Add(51 * time.Second))
			c2 := claimStorm(t, d, clk.now())
			if err := d.flush(context.Background(), c2, clk.now().Add(d.sendWindow())); err != nil {
				t.Fatal(err)
			}
			if got, held := n.delivered.Load(), heldNow(t, d); got != 1 || held != 0 {
				t.Fatalf("after the takeover: the message delivered %d times, %d pages still held; want it once", got, held)
			}
		})
	}
}

// TestStormFlushFailureIsCounted: a storm whose flush fails (here its held
// pages cannot be read) comes due again when its lease ends; one that
// fails every time holds its person's pages for good. It was only logged;
// it is counted in pagerd_dispatch_errors_total{reason="failed"}, which
// PagerdDispatchFailing watches.
func TestStormFlushFailureIsCounted(t *testing.T) {
	n := &countingNotifier{}
	d, st, _, t0 := flushSetup(t, n)
	st.heldErr = errors.New("held page 3: cannot decode")
	d.workClaim(context.Background(), claimStorm(t, d, t0), t0, t0.Add(d.sendWindow()))
	if got := testutil.ToFloat64(d.m.errors.WithLabelValues(claimFailed)); got != 1 {
		t.Fatalf("pagerd_dispatch_errors_total{reason=%q} = %v after a storm's flush failed, want 1", claimFailed, got)
	}
	if got := n.entered.Load(); got != 0 {
		t.Fatalf("%d messages sent by a flush that could not read its pages", got)
	}
}

// TestStormFlushedThoughItsRecordsAreRefused: a storm message went out,
// and the store refused the notes in its incidents' timelines, or the
// marks of the incidents it took to PagerDuty, for good (a record it
// cannot decode) or for longer than RecordRetry. The flush failed before
// Flushed, every time: the storm's window never reopened, its held pages
// stayed, and every new page to its person on its channel was held behind
// them. Now the storm is flushed, and what was not recorded is counted
// (not_recorded) and logged.
func TestStormFlushedThoughItsRecordsAreRefused(t *testing.T) {
	pdConfig := strings.Replace(flushConfig, "via: log}", "via: pagerduty, address: annpd00000000000000000000000000b}", 1) +
		"notifiers:\n  pagerduty: {webhook_secret: whsec-test}\n"
	for _, tc := range []struct {
		name   string
		config string
		refuse func(st *triggeredStore)
	}{
		{name: "notes, for good", config: flushConfig, refuse: func(st *triggeredStore) {
			st.noteErr = errors.New("incident i1: decode timeline: unexpected end of JSON input")
		}},
		{name: "notes, past the retries", config: flushConfig, refuse: func(st *triggeredStore) {
			st.noteErr = fmt.Errorf("%w: disk full", store.ErrUnavailable)
		}},
		{name: "marks as pushed to PagerDuty", config: pdConfig, refuse: func(st *triggeredStore) {
			st.getErr = errors.New("incident i1: decode: invalid character")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := &countingNotifier{}
			d, st, _, t0 := flushSetupWith(t, n, tc.config)
			d.o.RecordRetry = 100 * time.Millisecond
			tc.refuse(st)
			if err := d.flush(context.Background(), claimStorm(t, d, t0), t0.Add(d.sendWindow())); err != nil {
				t.Fatalf("flush: %v", err)
			}
			if got, held, journaled := n.delivered.Load(), heldNow(t, d), d.journal.size(); got != 1 || held != 0 || journaled != 0 {
				t.Fatalf("message delivered %d times, %d pages still held, %d journaled; want it once, the storm flushed", got, held, journaled)
			}
			if got := testutil.ToFloat64(d.m.errors.WithLabelValues(notRecorded)); got != 1 {
				t.Fatalf("pagerd_dispatch_errors_total{reason=%q} = %v, want 1", notRecorded, got)
			}
		})
	}
}

// TestStormNotesRefusedWhileItsFlushIsToo: the store refuses everything
// past RecordRetry. The flush fails, and the journal keeps the notes, so
// that the storm's next claim stores them rather than dropping them.
func TestStormNotesRefusedWhileItsFlushIsToo(t *testing.T) {
	n := &countingNotifier{}
	d, st, clk, t0 := flushSetup(t, n)
	d.o.RecordRetry = 100 * time.Millisecond
	st.noteErr = fmt.Errorf("%w: connection refused", store.ErrUnavailable)
	refused := &flushedRefused{triggeredStore: st}
	d.o.Store = refused
	if err := d.flush(context.Background(), claimStorm(t, d, t0), t0.Add(d.sendWindow())); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("flush: %v, want the store's refusal", err)
	}
	st.noteErr = nil
	refused.ok = true
	clk.set(t0.Add(31 * time.Second))
	if err := d.flush(context.Background(), claimStorm(t, d, clk.now()), clk.now().Add(d.sendWindow())); err != nil {
		t.Fatal(err)
	}
	if got, held := n.delivered.Load(), heldNow(t, d); got != 1 || held != 0 {
		t.Fatalf("message delivered %d times, %d pages still held; want it once, the storm flushed", got, held)
	}
	if got := testutil.ToFloat64(d.m.errors.WithLabelValues(notRecorded)); got != 0 {
		t.Fatalf("pagerd_dispatch_errors_total{reason=%q} = %v, want 0: the notes were stored at the next claim", notRecorded, got)
	}
	if got := refused.noted.Load(); got != 2 {
		t.Fatalf("%d incidents noted, want 2", got)
	}
}

// flushedRefused refuses Flushed until ok, and counts the incidents noted.
type flushedRefused struct {
	*triggeredStore
	ok    bool
	noted atomic.Int32
}

func (s *flushedRefused) Flushed(ctx context.Context, c store.Claim, n, top int, now time.Time, r store.StormRules) (bool, error) {
	if !s.ok {
		return false, fmt.Errorf("%w: connection refused", store.ErrUnavailable)
	}
	return s.triggeredStore.Flushed(ctx, c, n, top, now, r)
}

func (s *flushedRefused) Note(ctx context.Context, entries map[string][]store.Entry) error {
	n := len(entries) // Note deletes those it stored
	err := s.triggeredStore.Note(ctx, entries)
	if err == nil {
		s.noted.Add(int32(n))
	}
	return err
}

// TestStormMessageLeavesOutPagesItCannotRead: one of a storm's held pages
// cannot be decoded. Held failed, and so every flush of the storm: its
// message never went out, and every new page to its person on its
// channel was held behind it. Now the message goes out for the pages it
// can read, the storm is flushed of all of them, and the page left out
// is counted (unreadable_held) and logged.
func TestStormMessageLeavesOutPagesItCannotRead(t *testing.T) {
	n := &countingNotifier{}
	d, st, _, t0 := flushSetup(t, n)
	st.heldEdit = func(held []store.HeldPage) []store.HeldPage {
		return append([]store.HeldPage{{Unreadable: "decode held page: unexpected end of JSON input"}}, held...)
	}
	var sent []string
	n.message = func(m notify.Message) { sent = append(sent, m.Incidents...) }
	if err := d.flush(context.Background(), claimStorm(t, d, t0), t0.Add(d.sendWindow())); err != nil {
		t.Fatal(err)
	}
	st.heldEdit = nil
	if got, held := n.delivered.Load(), heldNow(t, d); got != 1 || held != 0 {
		t.Fatalf("message delivered %d times, %d pages still held; want it once, the storm flushed", got, held)
	}
	if !slices.Equal(sent, []string{"i1", "i2"}) {
		t.Fatalf("the message named %q, want the two pages it could read", sent)
	}
	if got := testutil.ToFloat64(d.m.errors.WithLabelValues(unreadableHeld)); got != 1 {
		t.Fatalf("pagerd_dispatch_errors_total{reason=%q} = %v, want 1", unreadableHeld, got)
	}
}
