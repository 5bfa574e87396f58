package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/policy"
)

// faultyStore is a store that refuses what a full disk or a Redis over its
// maxmemory refuses: the writes that record a step (Finish, Update) while
// claims and reads still work, or claims too, or the writes of jobs
// (PutJob, AddJob, ReplaceJob); or whose claims find nothing due (hideClaims: another replica
// claimed it, or the claim waits behind others).
type faultyStore struct {
	store.Store
	refuseRecords atomic.Bool
	refuseClaims  atomic.Bool
	refuseJobs    atomic.Bool
	hideClaims    atomic.Bool
	claims        atomic.Int64
	// refuseFind, when set, says which dedup keys FindByDedup refuses.
	refuseFind func(dedupKey string) bool
}

func (f *faultyStore) FindByDedup(ctx context.Context, service, dedupKey string) (*store.Incident, error) {
	if f.refuseFind != nil && f.refuseFind(dedupKey) {
		return nil, fmt.Errorf("%w: connection refused", store.ErrUnavailable)
	}
	return f.Store.FindByDedup(ctx, service, dedupKey)
}

var errDiskFull = fmt.Errorf("%w: bolt: write: no space left on device", store.ErrUnavailable)

func (f *faultyStore) Finish(ctx context.Context, c store.Claim, inc *store.Incident, tl []store.Entry) error {
	if f.refuseRecords.Load() {
		return errDiskFull
	}
	return f.Store.Finish(ctx, c, inc, tl)
}

func (f *faultyStore) Update(ctx context.Context, inc *store.Incident, tl []store.Entry) error {
	if f.refuseRecords.Load() {
		return errDiskFull
	}
	return f.Store.Update(ctx, inc, tl)
}

func (f *faultyStore) PutJob(ctx context.Context, j store.Job) error {
	if f.refuseJobs.Load() {
		return errDiskFull
	}
	return f.Store.PutJob(ctx, j)
}

func (f *faultyStore) PutLaterJobs(ctx context.Context, jobs []store.Job) error {
	if f.refuseJobs.Load() {
		return errDiskFull
	}
	return f.Store.PutLaterJobs(ctx, jobs)
}

func (f *faultyStore) AddJob(ctx context.Context, j store.Job) (bool, error) {
	if f.refuseJobs.Load() {
		return false, errDiskFull
	}
	return f.Store.AddJob(ctx, j)
}

func (f *faultyStore) ReplaceJob(ctx context.Context, j store.Job) (bool, error) {
	if f.refuseJobs.Load() {
		return false, errDiskFull
	}
	return f.Store.ReplaceJob(ctx, j)
}

func (f *faultyStore) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]store.Claim, error) {
	f.claims.Add(1)
	if f.refuseClaims.Load() {
		return nil, errDiskFull
	}
	if f.hideClaims.Load() {
		return nil, nil
	}
	return f.Store.ClaimDue(ctx, now, lease, max)
}

// TestStoreRefusingRecordsSendsAStepOnce: the push goes out, the store
// refuses to record it (a full disk), and the step comes back at every
// lease end. The replica that sent it does not send it again; when the
// store takes writes, the step is recorded once and the ladder goes on. A
// second replica taking it over sends it at most once more (one duplicate
// per fault, as in a crash).
func TestStoreRefusingRecordsSendsAStepOnce(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fs := &faultyStore{Store: mk(t)}
			h := newHarness(t, withStore(fs), withConfig(dispatchConfig), replicas(0))
			newDisp := func() (*dispatch.Dispatcher, *prometheus.Registry) {
				return h.dispatcher(func(o *dispatch.Options) {
					o.Lease, o.RecordRetry = 5*time.Second, 30*time.Millisecond
				})
			}
			a, aReg := newDisp()
			b, _ := newDisp()
			id := fire(h)
			fs.refuseRecords.Store(true)
			for i := 0; i < 6; i++ { // six lease ends while the disk is full
				h.clock.Set(fixedNow.Add(time.Duration(i) * 5 * time.Second))
				if _, err := a.RunOnce(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if got := h.rec.lines(fixedNow); len(got) != 1 {
				t.Fatalf("replica a sent %v while the store refused to record: want the push once", got)
			}
			if got := metric(t, aReg, "pagerd_dispatch_unrecorded"); got != 1 {
				t.Fatalf("journal holds %v, want the one unrecorded push", got)
			}
			// Another replica takes the step over: one duplicate, no more.
			for i := 6; i < 9; i++ {
				h.clock.Set(fixedNow.Add(time.Duration(i) * 5 * time.Second))
				if _, err := b.RunOnce(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if got := h.rec.lines(fixedNow); len(got) != 2 {
				t.Fatalf("pages after a takeover during the fault: %v, want two pushes", got)
			}
			// The disk frees up: a records the step without sending it.
			fs.refuseRecords.Store(false)
			h.clock.Set(fixedNow.Add(50 * time.Second))
			if _, err := a.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := h.rec.lines(fixedNow); len(got) != 2 {
				t.Fatalf("pages after the store recovered: %v", got)
			}
			var v incidentView
			h.api("GET", "/api/v1/incidents/"+id, "").json(t, &v)
			if n := len(entriesOf(v.Timeline, "notify", "push")); n != 1 {
				t.Fatalf("timeline records %d pushes, want 1: %+v", n, v.Timeline)
			}
			// The ladder goes on: the SMS at 2m, once.
			h.disp = []*dispatch.Dispatcher{a}
			h.runUntil(fixedNow.Add(2 * time.Minute))
			if got := h.rec.lines(fixedNow); got[len(got)-1] != "2m L1 ann sms" || len(got) != 3 {
				t.Fatalf("pages: %v", got)
			}
		})
	}
}

// TestDispatcherBacksOffAStoreThatFails: while every claim fails, the
// dispatcher waits longer and longer between tries (not ~1,200 a second)
// and says so once; when the store answers again it says that once and
// pages at once.
func TestDispatcherBacksOffAStoreThatFails(t *testing.T) {
	fs := &faultyStore{Store: boltStore(t)}
	h := newHarness(t, withStore(fs), withConfig(dispatchConfig), replicas(0))
	logs := &syncBuffer{}
	d, _ := h.dispatcher(func(o *dispatch.Options) { o.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	fire(h) // a page is due: a loop that only waits for the next deadline would spin
	fs.refuseClaims.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = d.Run(ctx) }()
	defer func() { cancel(); <-ran }()
	time.Sleep(1500 * time.Millisecond)
	tries := fs.claims.Load()
	if tries > 12 {
		t.Fatalf("%d claims in 1.5 s against a failing store: no backoff", tries)
	}
	if n := strings.Count(logs.String(), "the store fails"); n != 1 {
		t.Fatalf("the failure was logged %d times, want once per streak:\n%s", n, logs.String())
	}
	fs.refuseClaims.Store(false)
	d.Wake()
	waitUntil(t, 10*time.Second, "the page after the store recovered", func() bool { return len(h.rec.lines(fixedNow)) == 1 })
	waitUntil(t, 5*time.Second, "the recovery log line", func() bool { return strings.Contains(logs.String(), "the store answers again") })
	t.Logf("%d claims in 1.5 s of failures", tries)
}

// refusingAll is a store that answers reads but refuses every write, the
// probe's included (Redis over maxmemory, a READONLY replica), or only the
// writes too big for what is left of a disk (refuseBig).
type refusingAll struct {
	store.Store
	all, big atomic.Bool
}

func (r *refusingAll) Probe(ctx context.Context) error {
	if r.all.Load() {
		return errDiskFull
	}
	return r.Store.Probe(ctx)
}

func (r *refusingAll) Trigger(ctx context.Context, inc *store.Incident, tl []store.Entry) (string, store.Outcome, error) {
	if r.all.Load() || r.big.Load() {
		return "", 0, errDiskFull
	}
	return r.Store.Trigger(ctx, inc, tl)
}

// TestReadinessFollowsWrites: /-/ready goes red when the store refuses the
// probe's write, or when alerts cannot be stored even though small writes
// pass (an acknowledgement stored meanwhile does not turn it green), and
// green again when writes work. Ping alone stayed green through both.
func TestReadinessFollowsWrites(t *testing.T) {
	rs := &refusingAll{Store: boltStore(t)}
	h := newHarness(t, withStore(rs), probing(20*time.Millisecond))
	ready := func() int { return h.do("GET", "/-/ready", "").code }
	wait := func(want int, what string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for ready() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: /-/ready still %d", what, ready())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait(200, "healthy")
	rs.all.Store(true)
	wait(503, "every write refused")
	if r := h.do("GET", "/-/ready", ""); !strings.Contains(r.body, "refuses writes") {
		t.Fatalf("readiness does not say why: %s", r.body)
	}
	rs.all.Store(false)
	wait(200, "writes work again")
	if r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g0", map[string]string{"alertname": "Z"}), "Authorization", "Bearer "+amKey); r.code != 200 {
		t.Fatalf("alert: %d %s", r.code, r.body)
	}
	open := h.list("")[0].ID
	// Small writes pass, alerts do not: the refused alert turns it red.
	rs.big.Store(true)
	if r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g1", map[string]string{"alertname": "A"}), "Authorization", "Bearer "+amKey); r.code != 503 {
		t.Fatalf("alert on a full disk: %d %s", r.code, r.body)
	}
	wait(503, "an alert could not be stored")
	// An acknowledgement fits where an incident does not: it is stored,
	// and readiness stays red, as alerts are still refused.
	if r := h.api("POST", "/api/v1/incidents/"+open+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
		t.Fatalf("acknowledgement on a nearly full disk: %d %s", r.code, r.body)
	}
	if r := h.do("GET", "/-/ready", ""); r.code != 503 || !strings.Contains(r.body, "writes of alerts") {
		t.Fatalf("an acknowledgement stored turned readiness green while alerts are refused: %d %s", r.code, r.body)
	}
	rs.big.Store(false)
	if r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g1", map[string]string{"alertname": "A"}), "Authorization", "Bearer "+amKey); r.code != 200 {
		t.Fatalf("alert after space was freed: %d %s", r.code, r.body)
	}
	wait(200, "alerts stored again")
}

// TestRepeatStoredButRaiseFailedDoesNotSayNothingStored: a critical alert
// joins a warning group; the repeat is stored, then the write that raises
// the priority is refused. The answer must be a 503 (the raise must be
// retried), and must not claim that nothing was stored: the repeat was.
func TestRepeatStoredButRaiseFailedDoesNotSayNothingStored(t *testing.T) {
	fs := &faultyStore{Store: boltStore(t)}
	h := newHarness(t, withStore(fs))
	id := openWarning(h)
	fs.refuseRecords.Store(true)
	worse := criticalJoinsWarning()
	r := h.do("POST", "/api/v1/alertmanager", worse, "Authorization", "Bearer "+amKey)
	fs.refuseRecords.Store(false)
	if r.code != 503 {
		t.Fatalf("raise refused: %d %s, want 503", r.code, r.body)
	}
	if v := h.incident(id); v.Repeats != 1 {
		t.Fatalf("the repeat was not stored (repeats %d): the test does not test what it says", v.Repeats)
	}
	if strings.Contains(r.body, "nothing was stored") || !strings.Contains(r.body, "may or may not") {
		t.Fatalf("the repeat was stored, the answer says: %s", r.body)
	}
}

// resolvingFirst is a store on which, once armed, the next Get (onGet) or
// Update is preceded by a person resolving the incident through the API:
// the race of a resolve with a write already under way.
type resolvingFirst struct {
	store.Store
	onGet   bool
	armed   atomic.Bool
	resolve func(id string)
	// refuseTrigger refuses the next Trigger, as a full disk does.
	refuseTrigger atomic.Bool
}

func (r *resolvingFirst) Trigger(ctx context.Context, inc *store.Incident, tl []store.Entry) (string, store.Outcome, error) {
	if r.refuseTrigger.CompareAndSwap(true, false) {
		return "", 0, errDiskFull
	}
	return r.Store.Trigger(ctx, inc, tl)
}

func (r *resolvingFirst) Get(ctx context.Context, id string) (*store.Incident, error) {
	if r.onGet && r.armed.CompareAndSwap(true, false) {
		r.resolve(id)
	}
	return r.Store.Get(ctx, id)
}

func (r *resolvingFirst) Update(ctx context.Context, inc *store.Incident, tl []store.Entry) error {
	if !r.onGet && r.armed.CompareAndSwap(true, false) {
		r.resolve(inc.ID)
	}
	return r.Store.Update(ctx, inc, tl)
}

// TestAlertThatRaisesAnIncidentResolvedMeanwhileOpensItsOwn: a critical
// alert joins a warning group, and a person resolves the incident between
// the repeat and its raise. The resolve stands (the incident is not
// reopened behind the person's back, as it was), and the critical alert,
// which the person never saw and Alertmanager counts delivered, opens an
// incident of its own and pages at once. The resolve comes before the
// raise reads the incident, or between its read and its write.
func TestAlertThatRaisesAnIncidentResolvedMeanwhileOpensItsOwn(t *testing.T) {
	for _, onGet := range []bool{true, false} {
		t.Run(map[bool]string{true: "before the read", false: "before the write"}[onGet], func(t *testing.T) {
			raiseResolvedMeanwhile(t, onGet)
		})
	}
}

// resolvedFirst is a daemon whose store, once armed, has ann resolve the
// incident (through the API) at its next read (onGet) or write.
func resolvedFirst(t *testing.T, onGet bool) (*resolvingFirst, *harness) {
	rs := &resolvingFirst{Store: boltStore(t), onGet: onGet}
	h := newHarness(t, withStore(rs))
	rs.resolve = func(id string) {
		if r := h.api("POST", "/api/v1/incidents/"+id+"/resolve", `{"user":"ann"}`); r.code != 200 {
			t.Errorf("resolve: %d %s", r.code, r.body)
		}
	}
	return rs, h
}

func raiseResolvedMeanwhile(t *testing.T, onGet bool) {
	rs, h := resolvedFirst(t, onGet)
	first := openWarning(h)
	h.step(h.clock.Now())
	pages := len(h.rec.lines(fixedNow))
	rs.armed.Store(true)
	worse := criticalJoinsWarning()
	r := h.do("POST", "/api/v1/alertmanager", worse, "Authorization", "Bearer "+amKey)
	if r.code != 200 {
		t.Fatalf("a critical alert whose incident was resolved meanwhile: %d %s, want 200", r.code, r.body)
	}
	if rs.armed.Load() {
		t.Fatal("no raise was attempted: the test tests nothing")
	}
	if v := h.incident(first); v.Status != policy.StatusResolved || v.Repeats != 1 {
		t.Fatalf("the resolved incident: %s, repeats %d; want it resolved with the repeat counted: %+v", v.Status, v.Repeats, v.Timeline)
	}
	var res struct{ Incidents []string }
	r.json(t, &res)
	if len(res.Incidents) != 1 || res.Incidents[0] == first {
		t.Fatalf("answer names %v, want the new incident", res.Incidents)
	}
	if v := h.incident(res.Incidents[0]); v.Status != policy.StatusTriggered || v.Priority != "P0" {
		t.Fatalf("the new incident: %s %s", v.Status, v.Priority)
	}
	h.step(h.clock.Now())
	if got := h.rec.lines(fixedNow); len(got) <= pages {
		t.Fatalf("the critical alert paged nobody: %v", got)
	}
}

// TestRepeatOfAnIncidentResolvedMeanwhileOpensItsOwn: the same warning
// alert comes again, and a person who read the incident before the repeat
// resolves it right after (a repeat does not change the incident's
// version, so the resolve's write stands). The alert was answered 200 and
// paged nobody: Alertmanager sends it again only after repeat_interval (4
// hours by default). As for a worse repeat, the alert opens an incident of
// its own and pages: a repeat after the resolve would have.
func TestRepeatOfAnIncidentResolvedMeanwhileOpensItsOwn(t *testing.T) {
	rs, h := resolvedFirst(t, true)
	first := openWarning(h)
	rs.armed.Store(true)
	warn := amPayload("firing", "g", map[string]string{"alertname": "A", "severity": "warning"})
	r := h.do("POST", "/api/v1/alertmanager", warn, "Authorization", "Bearer "+amKey)
	if r.code != 200 || rs.armed.Load() {
		t.Fatalf("the repeat: %d %s (resolved meanwhile: %v)", r.code, r.body, !rs.armed.Load())
	}
	var res struct{ Incidents []string }
	r.json(t, &res)
	if len(res.Incidents) != 1 || res.Incidents[0] == first {
		t.Fatalf("answer names %v, want a new incident (the first, %s, was resolved meanwhile)", res.Incidents, first)
	}
	if v := h.incident(res.Incidents[0]); v.Status != policy.StatusTriggered || v.NextStepAt == nil {
		t.Fatalf("the new incident: %s, next step %v", v.Status, v.NextStepAt)
	}
}

// TestAlertThatRaisesAnIncidentResolvedMeanwhileThenRefusedIsNotNothingStored:
// as above, but the store refuses the new incident the alert then opens.
// The answer is a 503 (the alert must come again), and must not say that
// nothing was stored: the repeat on the resolved incident was.
func TestAlertThatRaisesAnIncidentResolvedMeanwhileThenRefusedIsNotNothingStored(t *testing.T) {
	rs, h := resolvedFirst(t, true)
	resolve := rs.resolve
	rs.resolve = func(id string) {
		resolve(id)
		rs.refuseTrigger.Store(true)
	}
	first := openWarning(h)
	rs.armed.Store(true)
	r := h.do("POST", "/api/v1/alertmanager", criticalJoinsWarning(), "Authorization", "Bearer "+amKey)
	if rs.armed.Load() || rs.refuseTrigger.Load() {
		t.Fatal("no raise, or no second trigger, was attempted: the test tests nothing")
	}
	if v := h.incident(first); v.Repeats != 1 {
		t.Fatalf("the repeat was not stored (repeats %d): the test does not test what it says", v.Repeats)
	}
	if r.code != 503 || strings.Contains(r.body, "nothing was stored") {
		t.Fatalf("answer %d %s, want a 503 that does not say nothing was stored", r.code, r.body)
	}
}

// lostFinish is a store whose next Finish, once armed, fails as a write
// whose reply was lost (it was not written), after a person acknowledged
// the incident through the API: the race of an acknowledgement with a step
// whose record did not get through.
type lostFinish struct {
	store.Store
	armed atomic.Bool
	ack   func(id string)
}

func (l *lostFinish) Finish(ctx context.Context, c store.Claim, inc *store.Incident, tl []store.Entry) error {
	if l.armed.CompareAndSwap(true, false) {
		l.ack(inc.ID)
		return fmt.Errorf("%w: %w: redis: i/o timeout", store.ErrUnavailable, store.ErrOutcomeUnknown)
	}
	return l.Store.Finish(ctx, c, inc, tl)
}

// TestPageWhoseRecordWasLostIsRecordedAfterAnAck: carol's PagerDuty push
// goes out, its record is lost (the store times out, nothing written), and
// carol acknowledges before the dispatcher writes again. The step is no
// longer pending, which the dispatcher took for "recorded": the push was
// never written to the timeline, and PagerDuty, which the acknowledgement
// owed nothing (no page had gone there, as far as the store knew), kept
// paging carol for an incident she had acknowledged. Now the timeline is
// asked: the push is recorded, and PagerDuty is told of the ack.
func TestPageWhoseRecordWasLostIsRecordedAfterAnAck(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewPagerDuty(t)
			lf := &lostFinish{Store: mk(t)}
			h := newHarness(t, withStore(lf), withConfig(pagerDutyAt(fake)))
			lf.ack = func(id string) {
				if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"carol"}`); r.code != 200 {
					t.Errorf("ack: %d %s", r.code, r.body)
				}
			}
			id := fire(h)
			lf.armed.Store(true)
			h.step(fixedNow)
			if lf.armed.Load() {
				t.Fatal("no Finish was attempted: the test tests nothing")
			}
			if got := h.rec.lines(fixedNow); len(got) != 1 {
				t.Fatalf("pages: %v", got)
			}
			v := h.incident(id)
			if v.Status != policy.StatusAcknowledged {
				t.Fatalf("status %s", v.Status)
			}
			if n := len(entriesOf(v.Timeline, "notify", "push")); n != 1 {
				t.Fatalf("timeline records %d pushes, want the one that went out: %+v", n, v.Timeline)
			}
			h.step(h.clock.Now())
			if acks := pdEvents(fake, id, "carol", "acknowledge"); acks != 1 {
				t.Fatalf("PagerDuty got %d acknowledgements, want 1 (events %d)", acks, len(fake.Events()))
			}
		})
	}
}

// beforeUpdate is a store on which, once armed, the next Update (the
// next that only admits, when set) is preceded by fn: something another
// writer does between a change's read and its write.
type beforeUpdate struct {
	store.Store
	armed atomic.Bool
	fn    func()
	only  func(inc *store.Incident) bool
}

func (b *beforeUpdate) Update(ctx context.Context, inc *store.Incident, tl []store.Entry) error {
	if (b.only == nil || b.only(inc)) && b.armed.CompareAndSwap(true, false) {
		b.fn()
	}
	return b.Store.Update(ctx, inc, tl)
}

// TestEscalateRetriedAfterTheLadderEscalatedPagesOnce: ann presses
// "escalate" (to the next level) as her 15 minutes run out, and the
// dispatcher escalates to bob between the press's read and its write. The
// press's retry escalated again from the fresh state: bob's ladder started
// over and he was paged twice (with more levels, one was skipped). Now the
// retry sees that the incident was escalated since it was read, and
// leaves it as it is.
func TestEscalateRetriedAfterTheLadderEscalatedPagesOnce(t *testing.T) {
	h, id, r := escalateAsTheLadderDoes(t, `{"user":"ann"}`)
	if r.code != 200 {
		t.Fatalf("escalate: %d %s", r.code, r.body)
	}
	if n := bobPushes(h); n != 1 {
		t.Fatalf("bob's push sent %d times, want once: %v", n, h.rec.lines(fixedNow))
	}
	if v := h.incident(id); len(entriesOf(v.Timeline, "escalate", "")) != 1 {
		t.Fatalf("timeline: %+v", v.Timeline)
	}
}

// TestEscalateFromLevelRetriedAfterTheLadderEscalatedSaysSo: as above,
// with the level the press escalates from: the retry, which finds the
// ladder's timeout got there first, tells the person so (409) rather than
// that they escalated it, and bob is paged once.
func TestEscalateFromLevelRetriedAfterTheLadderEscalatedSaysSo(t *testing.T) {
	h, _, r := escalateAsTheLadderDoes(t, `{"user":"ann","from_level":1}`)
	if r.code != 409 || !strings.Contains(r.body, "already escalated from level 1") {
		t.Fatalf("escalate: %d %s", r.code, r.body)
	}
	if n := bobPushes(h); n != 1 {
		t.Fatalf("bob's push sent %d times, want once: %v", n, h.rec.lines(fixedNow))
	}
}

// escalateAsTheLadderDoes posts an escalation of a new incident (body) as
// ann's 15 minutes run out, the dispatcher escalating it to bob between
// the press's read and its write, then lets the dispatcher work what is
// due. It returns the harness, the incident and the answer to the press.
func escalateAsTheLadderDoes(t *testing.T, body string) (*harness, string, response) {
	t.Helper()
	bu := &beforeUpdate{Store: boltStore(t)}
	h := newHarness(t, withStore(bu))
	id := fire(h)
	h.runUntil(fixedNow.Add(14 * time.Minute))
	at := fixedNow.Add(15 * time.Minute)
	h.clock.Set(at)
	bu.fn = func() { h.step(at) }
	bu.armed.Store(true)
	r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", body)
	if bu.armed.Load() {
		t.Fatal("the escalation wrote nothing: the test tests nothing")
	}
	h.step(at)
	return h, id, r
}

// bobPushes counts the pushes to bob at the second level.
func bobPushes(h *harness) int {
	n := 0
	for _, l := range h.rec.lines(fixedNow) {
		if strings.HasSuffix(l, "L2 bob push") {
			n++
		}
	}
	return n
}

// TestEscalateRetriedAfterARaiseStillEscalates: ann presses "escalate"
// (to bob) while a critical alert raises the incident's priority between
// the press's read and its write. The raise re-pages the level the
// incident is at (ann's), which moves its LevelStartedAt; the press's
// retry took that for an escalation since it was read and did nothing,
// answering 200: bob, whom ann asked for, was not paged.
func TestEscalateRetriedAfterARaiseStillEscalates(t *testing.T) {
	bu := &beforeUpdate{Store: boltStore(t)}
	h := newHarness(t, withStore(bu))
	id := openWarning(h)
	h.runUntil(fixedNow.Add(5 * time.Minute))
	at := fixedNow.Add(6 * time.Minute)
	h.clock.Set(at)
	bu.fn = func() {
		worse := criticalJoinsWarning()
		if r := h.do("POST", "/api/v1/alertmanager", worse, "Authorization", "Bearer "+amKey); r.code != 200 {
			t.Errorf("raise: %d %s", r.code, r.body)
		}
	}
	bu.armed.Store(true)
	r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"ann"}`)
	if r.code != 200 {
		t.Fatalf("escalate: %d %s", r.code, r.body)
	}
	if bu.armed.Load() {
		t.Fatal("the escalation wrote nothing: the test tests nothing")
	}
	v := h.incident(id)
	if v.Priority != "P0" {
		t.Fatalf("not raised: %s", v.Priority)
	}
	h.step(at)
	bob := 0
	for _, l := range h.rec.lines(fixedNow) {
		if strings.HasSuffix(l, "L2 bob push") {
			bob++
		}
	}
	byAnn := 0
	for _, e := range entriesOf(h.incident(id).Timeline, "escalate", "") {
		if e.Actor == "ann" {
			byAnn++
		}
	}
	if bob != 1 || byAnn != 1 {
		t.Fatalf("ann escalated to bob: bob paged %d times, timeline %+v", bob, h.incident(id).Timeline)
	}
}

// openWarning opens the incident of a warning alert of group g, and
// returns its id: the group a critical alert then joins
// (criticalJoinsWarning), raising it.
func openWarning(h *harness) string {
	h.t.Helper()
	warn := amPayload("firing", "g", map[string]string{"alertname": "A", "severity": "warning"})
	if r := h.do("POST", "/api/v1/alertmanager", warn, "Authorization", "Bearer "+amKey); r.code != 200 {
		h.t.Fatalf("%d %s", r.code, r.body)
	}
	return h.list("")[0].ID
}

// criticalJoinsWarning is group g's notification once a critical alert
// joined its warning one.
func criticalJoinsWarning() string {
	return amPayload("firing", "g", map[string]string{"alertname": "A", "severity": "warning"},
		map[string]string{"alertname": "A", "severity": "critical", "instance": "db2"})
}

// TestPageUnrecordedWhenAnAckLeftNothingPendingIsRecorded: carol's
// PagerDuty push goes out and the store refuses to record it (a full disk)
// for longer than the dispatcher retries; the page waits in the journal
// for its step to come back. The disk frees up and carol acknowledges
// before the lease ends: the acknowledgement cancels every step, nothing
// is due, no claim ever comes back, and the page stayed unrecorded for
// good (pagerd_dispatch_unrecorded at 1 for an hour, then forgotten): the
// timeline said nobody was paged, and PagerDuty, which the ack owed
// nothing as far as the store knew, went on paging carol.
// (TestPageWhoseRecordWasLostIsRecordedAfterAnAck is the ack that gets
// in while the dispatcher still retries the write, in the same claim.)
func TestPageUnrecordedWhenAnAckLeftNothingPendingIsRecorded(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewPagerDuty(t)
			fs := &faultyStore{Store: mk(t)}
			h := newHarness(t, withStore(fs), withConfig(pagerDutyAt(fake)), replicas(0))
			a, reg := h.dispatcher(func(o *dispatch.Options) {
				o.Lease, o.RecordRetry = 5*time.Second, 30*time.Millisecond
			})
			h.disp = []*dispatch.Dispatcher{a}
			id := fire(h)
			fs.refuseRecords.Store(true)
			h.step(fixedNow)
			if got := metric(t, reg, "pagerd_dispatch_unrecorded"); got != 1 {
				t.Fatalf("journal holds %v, want the unrecorded push: the test tests nothing", got)
			}
			fs.refuseRecords.Store(false)
			h.clock.Set(fixedNow.Add(time.Second))
			if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"carol"}`); r.code != 200 {
				t.Fatalf("ack: %d %s", r.code, r.body)
			}
			if v := h.incident(id); v.NextStepAt != nil {
				t.Fatalf("the ack left a step due at %v: the test tests nothing", v.NextStepAt)
			}
			h.step(fixedNow.Add(5 * time.Second)) // the lease ends
			h.runUntil(fixedNow.Add(time.Hour))
			if got := h.rec.lines(fixedNow); len(got) != 1 {
				t.Fatalf("pages: %v, want the one push", got)
			}
			if n := len(entriesOf(h.incident(id).Timeline, "notify", "push")); n != 1 {
				t.Fatalf("timeline records %d pushes, want the one that went out: %+v", n, h.incident(id).Timeline)
			}
			if got := metric(t, reg, "pagerd_dispatch_unrecorded"); got != 0 {
				t.Fatalf("pagerd_dispatch_unrecorded %v after the store took writes again, want 0", got)
			}
			if acks := pdEvents(fake, id, "carol", "acknowledge"); acks != 1 {
				t.Fatalf("PagerDuty got %d acknowledgements, want 1 (events %d)", acks, len(fake.Events()))
			}
		})
	}
}

// beforeFinish is a store on which, once armed, the next Finish is
// preceded by fn.
type beforeFinish struct {
	store.Store
	armed atomic.Bool
	fn    func()
}

func (b *beforeFinish) Finish(ctx context.Context, c store.Claim, inc *store.Incident, tl []store.Entry) error {
	if b.armed.CompareAndSwap(true, false) {
		b.fn()
	}
	return b.Store.Finish(ctx, c, inc, tl)
}

// TestPageUnrecordedIsRecordedOnceWhenItsIncidentComesDue: as in
// TestPageUnrecordedWhenAnAckLeftNothingPendingIsRecorded, ann's push is
// unrecorded when she acknowledges, but the acknowledgement leaves a step
// (escalate to bob without a status update in 30m): at 30m the claim
// records the push with its step, while the replica also looks at its
// journal on its own. Both read a timeline without the push; only one may
// write it (and bob's page, sent in the claim, is not the journal's to
// record before the claim does).
func TestPageUnrecordedIsRecordedOnceWhenItsIncidentComesDue(t *testing.T) {
	cfg := strings.Replace(dispatchConfig, "      - {name: secondary, targets: [{schedule: s, tier: secondary}]}\n",
		"      - {name: secondary, targets: [{schedule: s, tier: secondary}]}\n    missing_status_update: [{priorities: [P0], after: 30m}]\n", 1)
	if cfg == dispatchConfig {
		t.Fatal("config edit did not apply")
	}
	fs := &faultyStore{Store: boltStore(t)}
	bf := &beforeFinish{Store: fs}
	h := newHarness(t, withStore(bf), withConfig(cfg), replicas(0))
	a, reg := h.dispatcher(func(o *dispatch.Options) {
		o.Lease, o.RecordRetry = 5*time.Second, 30*time.Millisecond
	})
	h.disp = []*dispatch.Dispatcher{a}
	id := fire(h)
	fs.refuseRecords.Store(true)
	h.step(fixedNow)
	fs.refuseRecords.Store(false)
	h.clock.Set(fixedNow.Add(time.Second))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	// The claim's write waits while the replica looks at its journal.
	bf.fn = func() {
		if _, err := a.RunOnce(context.Background()); err != nil {
			t.Error(err)
		}
	}
	bf.armed.Store(true)
	h.step(fixedNow.Add(31 * time.Minute))
	if bf.armed.Load() {
		t.Fatal("no Finish was attempted: the test tests nothing")
	}
	h.runUntil(fixedNow.Add(32 * time.Minute))
	tl := h.incident(id).Timeline
	if n := len(entriesOf(tl, "notify", "push")); n != 2 {
		t.Fatalf("timeline records %d pushes, want ann's and bob's once each: %+v", n, tl)
	}
	if got := h.rec.lines(fixedNow); strings.Join(got, ",") != "0s L1 ann push,31m L2 bob push" {
		t.Fatalf("pages: %v", got)
	}
	if got := metric(t, reg, "pagerd_dispatch_unrecorded"); got != 0 {
		t.Fatalf("pagerd_dispatch_unrecorded %v, want 0", got)
	}
}

// breakingStore is a store that fails for good when broken is closed (as
// the embedded store does after the disk failed a commit).
type breakingStore struct {
	store.Store
	broken chan struct{}
}

func (b *breakingStore) Broken() <-chan struct{} { return b.broken }

func (b *breakingStore) Ping(ctx context.Context) error {
	select {
	case <-b.broken:
		return fmt.Errorf("%w: the disk failed a commit (fsync: input/output error) and pagerd must be restarted", store.ErrUnavailable)
	default:
		return b.Store.Ping(ctx)
	}
}

// TestDaemonStopsWhenItsStoreFailsForGood: a store that takes no more
// writes until a restart left a pagerd that answered every alert 503 and
// paged nobody, its liveness probe green, until someone noticed. It stops
// now with the store's error (pagerd serve exits non-zero), so that its
// supervisor restarts it.
func TestDaemonStopsWhenItsStoreFailsForGood(t *testing.T) {
	bs := &breakingStore{Store: boltStore(t), broken: make(chan struct{})}
	h := newHarness(t, withStore(bs), replicas(0))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := h.run(ctx)
	close(bs.broken)
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "pagerd must be restarted") {
			t.Fatalf("Run: %v, want the store's failure", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the daemon still runs 10 s after its store failed for good")
	}
}

// partialClaims answers its first claim that got something with an error
// as well, as a claim over shards one of which failed does.
type partialClaims struct {
	store.Store
	armed atomic.Bool
}

func (p *partialClaims) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]store.Claim, error) {
	cs, err := p.Store.ClaimDue(ctx, now, lease, max)
	if err == nil && len(cs) > 0 && p.armed.CompareAndSwap(true, false) {
		return cs, fmt.Errorf("%w: redis: i/o timeout (another shard)", store.ErrUnavailable)
	}
	return cs, err
}

// TestRunWorksClaimsThatCameWithAnError: a claim over shards of which one
// failed returns the others' claims, leased, with the error. Run backed
// off and dropped them: their pages waited for the lease to run out (30 s
// by default), and on Redis Cluster with a node down, at every claim.
func TestRunWorksClaimsThatCameWithAnError(t *testing.T) {
	ps := &partialClaims{Store: boltStore(t)}
	h := newHarness(t, withStore(ps), withConfig(dispatchConfig), replicas(0))
	fire(h)
	ps.armed.Store(true)
	d, _ := h.dispatcher(func(o *dispatch.Options) { o.Lease = time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = d.Run(ctx) }()
	defer func() { cancel(); <-ran }()
	waitUntil(t, 10*time.Second, "the push whose claim came with an error", func() bool { return len(h.rec.lines(fixedNow)) == 1 })
	if ps.armed.Load() {
		t.Fatal("no claim came with an error: the test tests nothing")
	}
}

// TestDaemonStopsWhenANewerPagerdUpgradesItsRedis: in a rolling upgrade
// the new replica upgrades the Redis data while the old ones still run;
// a running one whose probe finds the schema key above its own stops, with
// the reason, and its readiness says it, rather than go on reading and
// writing records of a layout it does not know. (Before: the schema was
// checked only at start, or once Redis first answered.)
func TestDaemonStopsWhenANewerPagerdUpgradesItsRedis(t *testing.T) {
	rs, r := redisStore(t)
	h := newHarness(t, withStore(rs), probing(20*time.Millisecond), replicas(0))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := h.run(ctx)
	waitUntil(t, 5*time.Second, "a probe", func() bool { return rs.Ping(context.Background()) == nil })
	if err := r.Client(t).Set(context.Background(), "t:schema", "2", 0).Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, redisstore.ErrNewerSchema) {
			t.Fatalf("Run: %v, want the newer schema", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the running pagerd went on for 10 s on Redis data of schema 2 (it reads schema 1)")
	}
	if err := rs.Ping(context.Background()); !errors.Is(err, redisstore.ErrNewerSchema) {
		t.Fatalf("Ping (readiness): %v, want the newer schema", err)
	}
}
