package gateway

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// renamedAPI is testConfig with service api renamed api-v2 (same keys,
// same policy): to pagerd, api removed and api-v2 added.
var renamedAPI = strings.Replace(testConfig, "  - name: api\n", "  - name: api-v2\n", 1)

// withoutBatch is testConfig without service batch.
var withoutBatch = testConfig[:strings.Index(testConfig, "  - name: batch\n")]

// notPaged are the incident's NotPaged entries.
func notPaged(h *harness, id string) []store.Entry {
	return entriesOf(h.incident(id).Timeline, dispatch.NotPaged, "")
}

// TestReloadKeepsServicesWithOpenIncidents: a reload that renames service
// api while one of its incidents is open is refused, naming the service
// and the incident, and the old config keeps paging it (ann's SMS at 2m,
// her call at 5m). Taken, it stopped every page of the incident and left
// nobody able to acknowledge it. Removing a service with nothing open
// (batch) is taken; once the incident is resolved, so is the rename.
func TestReloadKeepsServicesWithOpenIncidents(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)))
			id := fire(h)
			h.step(fixedNow)
			err := h.reload(renamedAPI)
			if err == nil {
				t.Fatal("a reload removing a service with an open incident was taken")
			}
			for _, want := range []string{"services[api]: 1 open incident (" + id + ")", "resolve them or keep the service"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("refusal %q does not say %q", err, want)
				}
			}
			if h.config().Service("api") == nil {
				t.Fatal("the refused config is in force")
			}
			if got := metric(t, h.reg, "pagerd_config_last_reload_successful"); got != 0 {
				t.Errorf("pagerd_config_last_reload_successful %v after a refused reload", got)
			}
			r := h.api("POST", "/-/reload", "")
			if r.code != 500 || !strings.Contains(r.body, "services[api]: 1 open incident") {
				t.Errorf("POST /-/reload: %d %s", r.code, r.body)
			}
			h.runUntil(fixedNow.Add(6 * time.Minute))
			if got := strings.Join(h.rec.lines(fixedNow), ","); got != "0s L1 ann push,2m L1 ann sms,5m L1 ann voice" {
				t.Errorf("pages after the refused reload: %s", got)
			}

			if err := h.reload(withoutBatch); err != nil {
				t.Fatalf("removing a service with nothing open: %v", err)
			}
			if r := h.api("POST", "/api/v1/incidents/"+id+"/resolve", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("resolve: %d %s", r.code, r.body)
			}
			if err := h.reload(renamedAPI); err != nil {
				t.Fatalf("the rename once the incident is resolved: %v", err)
			}
			if h.config().Service("api-v2") == nil {
				t.Error("the rename is not in force")
			}
		})
	}
}

// listRefusing is a store whose List fails while refuse is set.
type listRefusing struct {
	store.Store
	refuse atomic.Bool
}

func (l *listRefusing) List(ctx context.Context, f store.Filter) ([]*store.Incident, error) {
	if l.refuse.Load() {
		return nil, errDiskFull
	}
	return l.Store.List(ctx, f)
}

// TestReloadRemovingAServiceRefusedWhenTheStoreCannotSay: whether a
// removed service has open incidents is the store's to say; when it
// cannot, the reload is refused rather than guessed.
func TestReloadRemovingAServiceRefusedWhenTheStoreCannotSay(t *testing.T) {
	ls := &listRefusing{Store: boltStore(t)}
	h := newHarness(t, withStore(ls))
	ls.refuse.Store(true)
	err := h.reload(withoutBatch)
	if err == nil || !strings.Contains(err.Error(), "services[batch] is removed, and the store did not say whether it has open incidents") {
		t.Fatalf("reload while the store cannot list: %v", err)
	}
	if h.config().Service("batch") == nil {
		t.Fatal("the refused config is in force")
	}
	ls.refuse.Store(false)
	if err := h.reload(withoutBatch); err != nil {
		t.Fatalf("reload once the store answers: %v", err)
	}
}

// orphan fires an incident of api, pages it once, then takes a config
// without api as a pagerd that did not check reloads would (a store
// written by an older replica holds such incidents).
func orphan(t *testing.T, h *harness) string {
	t.Helper()
	id := fire(h)
	h.step(fixedNow)
	h.d.cfg.keeps = nil
	if err := h.reload(renamedAPI); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestIncidentOfARemovedServiceIsNotPagedSilently: an incident whose
// service is gone cannot be paged; the dispatcher says so once in its
// timeline and once in the log (ERROR), and counts every claim of it
// (pagerd_dispatch_errors_total{reason="unknown_service"}), where it used
// to fail at every lease with a log line only. It can be resolved (API),
// not acknowledged; once resolved nothing is due.
func TestIncidentOfARemovedServiceIsNotPagedSilently(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)))
			id := orphan(t, h)
			h.runUntil(fixedNow.Add(20 * time.Minute))
			if got := h.rec.lines(fixedNow); len(got) != 1 {
				t.Errorf("pages %v, want the first push only", got)
			}
			notes := notPaged(h, id)
			if len(notes) != 1 || !strings.Contains(notes[0].Detail, `unknown service "api"`) || !strings.Contains(notes[0].Detail, "resolve the incident") {
				t.Errorf("timeline says %+v, want once that it is not paged and why", notes)
			}
			if n := metric(t, h.reg, "pagerd_dispatch_errors_total", "reason", "unknown_service"); n < 2 {
				t.Errorf("pagerd_dispatch_errors_total{reason=unknown_service} = %v over 20 minutes", n)
			}
			logs := h.logs.String()
			if n := strings.Count(logs, `"level":"ERROR","msg":"dispatcher: an incident's service is not in this replica's config`); n != 1 {
				t.Errorf("%d ERROR lines about it, want 1", n)
			}
			if n := strings.Count(logs, "incident step failed"); n != 0 {
				t.Errorf("%d 'incident step failed' lines", n)
			}
			if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 409 || !strings.Contains(r.body, "it can only be resolved") {
				t.Errorf("acknowledge: %d %s", r.code, r.body)
			}
			if r := h.api("POST", "/api/v1/incidents/"+id+"/resolve", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("resolve: %d %s", r.code, r.body)
			}
			if v := h.incident(id); v.Status != "resolved" {
				t.Errorf("status %s after the resolve", v.Status)
			}
			if _, ok, err := h.store.NextDue(context.Background()); err != nil || ok {
				t.Errorf("something still due after the resolve (%v)", err)
			}
		})
	}
}

// TestReplicaWithoutTheServiceLeavesItsStepsToOneWithIt: in a rollout one
// replica (a) runs a config without service api while another (b) still
// has it. Both look every second, a first on even seconds: a claims each
// step first, cannot page it, and gives the claim up at once, due again a
// tenth of the lease later: b pages it within seconds, not when a's 30s
// lease runs out (and not at all, when a won every race at its end).
func TestReplicaWithoutTheServiceLeavesItsStepsToOneWithIt(t *testing.T) {
	st, _ := redisStore(t)
	h := newHarness(t, withStore(st), replicas(0))
	without, err := policy.Parse([]byte(renamedAPI), "new.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	a, areg := h.dispatcher(func(o *dispatch.Options) { o.Config = func() *policy.Config { return without } })
	b := h.d.Dispatcher()
	id := fire(h)
	ctx := context.Background()
	for s := 0; s <= 3*60; s++ {
		h.clock.Set(fixedNow.Add(time.Duration(s) * time.Second))
		order := []*dispatch.Dispatcher{a, b}
		if s%2 == 1 {
			order = []*dispatch.Dispatcher{b, a}
		}
		for _, d := range order {
			if _, err := d.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := strings.Join(h.rec.lines(fixedNow), ",")
	if got != "3s L1 ann push,2m3s L1 ann sms" {
		t.Errorf("pages %s, want each 3s (a tenth of the lease) after it was due", got)
	}
	if n := metric(t, areg, "pagerd_dispatch_errors_total", "reason", "unknown_service"); n != 2 {
		t.Errorf("a counted %v steps it could not page, want 2", n)
	}
	if notes := notPaged(h, id); len(notes) != 1 {
		t.Errorf("timeline says %+v, want once that a replica could not page it", notes)
	}
}

// TestReplicaWithoutTheServiceLeavesItsStepsThroughUpdates: as
// TestReplicaWithoutTheServiceLeavesItsStepsToOneWithIt, a without service
// api claims the push step first and gives it up to 3s; meanwhile ann
// posts a status update every 2 s (each an Update of the incident). b
// pages it at 3s: the time a gave it up to holds through the updates.
// (Each update put the step due at its own time, 0s: a, first on even
// seconds, claimed it straight back and gave it up again, 2 s later each
// time, and the push went out only at 13s, after the last update, a
// counting six steps it could not page for one.)
func TestReplicaWithoutTheServiceLeavesItsStepsThroughUpdates(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)), replicas(0))
			without, err := policy.Parse([]byte(renamedAPI), "new.yaml", "")
			if err != nil {
				t.Fatal(err)
			}
			a, areg := h.dispatcher(func(o *dispatch.Options) { o.Config = func() *policy.Config { return without } })
			b := h.d.Dispatcher()
			id := fire(h)
			ctx := context.Background()
			for s := 0; s <= 20; s++ {
				h.clock.Set(fixedNow.Add(time.Duration(s) * time.Second))
				if s > 0 && s <= 10 && s%2 == 0 {
					if r := h.api("POST", "/api/v1/incidents/"+id+"/status", `{"user":"ann","message":"looking"}`); r.code != 200 {
						t.Fatalf("status update at %ds: %d %s", s, r.code, r.body)
					}
				}
				order := []*dispatch.Dispatcher{a, b}
				if s%2 == 1 {
					order = []*dispatch.Dispatcher{b, a}
				}
				for _, d := range order {
					if _, err := d.RunOnce(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}
			if got := strings.Join(h.rec.lines(fixedNow), ","); got != "3s L1 ann push" {
				t.Errorf("pages %s, want the push at 3s (a tenth of the lease after it was due), updates or not", got)
			}
			if n := metric(t, areg, "pagerd_dispatch_errors_total", "reason", "unknown_service"); n != 1 {
				t.Errorf("a counted %v steps it could not page, want 1", n)
			}
		})
	}
}

// gatedTrigger holds the first Trigger until released: a store write in
// flight when a reload comes.
type gatedTrigger struct {
	store.Store
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (g *gatedTrigger) Trigger(ctx context.Context, inc *store.Incident, tl []store.Entry) (string, store.Outcome, error) {
	g.once.Do(func() {
		close(g.entered)
		<-g.release
	})
	return g.Store.Trigger(ctx, inc, tl)
}

// waitForAReloadWaiting waits until a reload waits for the config in use
// (configHolder.inUse), which what holds: a new read lock is then
// refused.
func (h *harness) waitForAReloadWaiting(what string) {
	h.t.Helper()
	waitUntil(h.t, 5*time.Second, "the reload to wait for "+what, func() bool {
		if h.d.cfg.inUse.TryRLock() {
			h.d.cfg.inUse.RUnlock()
			return false
		}
		return true
	})
}

// TestReloadWaitsForTheAlertsBeingTakenIn: a PagerDuty trigger is being
// stored when a reload renames its service (same routing key, now
// api-v2). The reload waits for it, then finds its incident open and is
// refused, as for any open incident of a service it removes; the incident
// pages. (Before: the reload's check ran while the trigger was between
// its routing and its write, found nothing open and took the config; the
// trigger then stored an incident of service api, answered 202, and
// nobody was paged for it.)
func TestReloadWaitsForTheAlertsBeingTakenIn(t *testing.T) {
	g := &gatedTrigger{Store: boltStore(t), entered: make(chan struct{}), release: make(chan struct{})}
	h := newHarness(t, withStore(g))
	release := sync.OnceFunc(func() { close(g.release) })
	t.Cleanup(release) // a test that fails midway must not hold the store for good
	done := make(chan response, 1)
	go func() {
		done <- h.do("POST", "/v2/enqueue", `{"routing_key":"`+pdKey+`","event_action":"trigger","dedup_key":"db-down",`+
			`"payload":{"summary":"DB down","source":"db1","severity":"critical"}}`)
	}()
	select {
	case <-g.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the trigger never reached the store")
	}
	reloaded := make(chan error, 1)
	go func() { reloaded <- h.reload(renamedAPI) }()
	h.waitForAReloadWaiting("the trigger")
	release()
	if r := <-done; r.code != 202 {
		t.Fatalf("enqueue: %d %s", r.code, r.body)
	}
	if err := <-reloaded; err == nil || !strings.Contains(err.Error(), "api") {
		t.Fatalf("the reload that removes service api with an incident open: %v, want refused", err)
	}
	h.runUntil(fixedNow.Add(time.Minute))
	incs := h.list("")
	if len(incs) != 1 || incs[0].Service != "api" {
		t.Fatalf("incidents: %+v", incs)
	}
	if got := h.rec.lines(fixedNow); len(got) == 0 {
		t.Fatalf("the trigger (202) stored as incident %s pages nobody", incs[0].ID)
	}
}

// TestReloadDoesNotWaitForASlowBody: a notification over 8 MiB (read by
// its handler, as a stream) arrives slowly; a reload meanwhile takes the
// config at once, as does an alert after it. (Before: the handler held
// the config in use while it read the body, so the reload waited for the
// slow sender, up to the server's read timeout, and every alert waited
// behind the reload.)
func TestReloadDoesNotWaitForASlowBody(t *testing.T) {
	h := newHarness(t, withConfig(dispatchConfig))
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "POST /api/v1/alertmanager HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n{", amKey, 9<<20); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "the slow notification in its handler", func() bool { return metric(t, h.reg, "pagerd_ingest_inflight") == 1 })
	reloaded := make(chan error, 1)
	go func() { reloaded <- h.reload(dispatchConfig) }()
	select {
	case err := <-reloaded:
		if err != nil {
			t.Fatalf("reload: %v", err)
		}
	case <-time.After(3 * time.Second):
		conn.Close() // let it go
		<-reloaded
		t.Fatal("the reload waited more than 3 s for a slow sender's body")
	}
	if r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g9", map[string]string{"alertname": "B", "severity": "critical"}),
		"Authorization", "Bearer "+amKey); r.code != 200 {
		t.Fatalf("an alert after the reload: %d %s", r.code, r.body)
	}
}
