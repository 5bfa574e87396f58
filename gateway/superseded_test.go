package gateway

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
)

// stallingTriggerStore holds the next Trigger, once armed, until the test
// lets it go: a replica stopped with an alert in its hands, or a request
// still worked when its sender's retry was taken elsewhere.
type stallingTriggerStore struct {
	store.Store
	// unreadable is how many Timeline reads fail next (store unavailable).
	unreadable atomic.Int32
	mu         sync.Mutex
	entered    chan struct{} // closed when the armed Trigger arrives
	release    chan struct{} // closed by the test to let it go on
}

func (s *stallingTriggerStore) Timeline(ctx context.Context, id string) ([]store.Entry, error) {
	if s.unreadable.Add(-1) >= 0 {
		return nil, fmt.Errorf("%w: redis: i/o timeout", store.ErrUnavailable)
	}
	return s.Store.Timeline(ctx, id)
}

func (s *stallingTriggerStore) arm() (entered, release chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entered, s.release = make(chan struct{}), make(chan struct{})
	return s.entered, s.release
}

func (s *stallingTriggerStore) Trigger(ctx context.Context, inc *store.Incident, tl []store.Entry) (string, store.Outcome, error) {
	s.mu.Lock()
	entered, release := s.entered, s.release
	s.entered, s.release = nil, nil
	s.mu.Unlock()
	if entered != nil {
		close(entered)
		<-release
	}
	return s.Store.Trigger(ctx, inc, tl)
}

// stallTrigger posts body to path while the store holds its Trigger, runs
// meanwhile (a resolve, a re-fire) with the clock moved to at, then lets
// the stalled write land and returns its answer.
func stallTrigger(t *testing.T, h *harness, st *stallingTriggerStore, path, body string, at time.Time, meanwhile func()) response {
	t.Helper()
	entered, release := st.arm()
	answer := make(chan response, 1)
	go func() {
		hdr := []string{"Authorization", "Bearer " + amKey}
		if strings.HasPrefix(path, "/v2/") {
			hdr = nil
		}
		answer <- h.do("POST", path, body, hdr...)
	}()
	select {
	case <-entered:
	case r := <-answer:
		t.Fatalf("the request was answered (%d %s) without reaching the store's trigger", r.code, r.body)
	}
	h.clock.Set(at)
	meanwhile()
	close(release)
	return <-answer
}

// stalledHarness is a harness on a store of open that stalls triggers
// when armed (stallTrigger), with body's incident opened by Alertmanager
// at fixedNow and its ladder run to at.
func stalledHarness(t *testing.T, open func(*testing.T) store.Store, body string, at time.Time) (*harness, *stallingTriggerStore, string) {
	t.Helper()
	st := &stallingTriggerStore{Store: open(t)}
	h := newHarness(t, withStore(st), withConfig(noStorm))
	h.am(amKey, body)
	id := h.list("")[0].ID
	h.runUntil(at)
	return h, st, id
}

// wantAloneResolved fails unless incident id, resolved, is the only one:
// the stalled firing opened nothing.
func wantAloneResolved(t *testing.T, h *harness, id string) {
	t.Helper()
	if l := h.list(""); len(l) != 1 || l[0].ID != id || l[0].Status != "resolved" {
		t.Fatalf("incidents after the stalled firing landed: %+v; want %s alone, resolved", l, id)
	}
}

// pdEventBody is an Events API v2 event of dedup key k.
func pdEventBody(action, k string) string {
	return fmt.Sprintf(`{"routing_key":%q,"event_action":%q,"dedup_key":%q,"payload":{"summary":"disk full","source":"db1","severity":"critical"}}`, pdKey, action, k)
}

// TestFiringReceivedBeforeItsGroupsResolveOpensNothing: the groups soak,
// seed 680918085. A replica stopped with a firing notification of a group
// in its hands; the sender, its request timed out, sent it again
// elsewhere (a repeat of the open incident), then sent the group's
// resolve, which resolved the incident; the stalled write landed after
// it and opened an incident for alerts that had ended, which paged ann
// and bob through both levels and was never resolved: Alertmanager says
// nothing more of a group whose resolve it delivered. Received before
// the resolve, the firing opens nothing now: answered 200, noted on the
// resolved incident, counted superseded, no page. The same for a
// PagerDuty trigger event received before the resolve event. Guards, as
// before: a firing received after the resolve opens an incident and
// pages, with the same start (an alert that fires again after a
// Prometheus restart keeps it); one received before a resolve by a
// person, who never saw it, opens one too.
func TestFiringReceivedBeforeItsGroupsResolveOpensNothing(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t0 := fixedNow
			a := lbl("X", "critical", "a")
			firing := amBody("firing", "g", 0, amAlert{st: "firing", labels: a, starts: t0})
			resolved := amBody("resolved", "g", 0, amAlert{st: "resolved", labels: a, starts: t0, ends: t0.Add(30 * time.Second)})

			t.Run("alertmanager", func(t *testing.T) {
				h, st, id := stalledHarness(t, open, firing, t0.Add(20*time.Second))
				resolvedAt := t0.Add(40 * time.Second)
				r := stallTrigger(t, h, st, "/api/v1/alertmanager", firing, resolvedAt, func() {
					h.am(amKey, firing) // the sender's retry, taken as a repeat
					h.am(amKey, resolved)
				})
				if r.code != 200 {
					t.Fatalf("the firing received before the resolve: %d %s, want 200", r.code, r.body)
				}
				wantAloneResolved(t, h, id)
				if !h.timelineHas(id, incident.FiringSuperseded, "received at "+t0.Add(20*time.Second).Format(time.RFC3339)) {
					t.Fatalf("no firing_superseded entry naming when it was received: %s", timelineTypes(h.incident(id)))
				}
				before := len(h.rec.lines(t0))
				h.runUntil(t0.Add(time.Hour))
				if got := h.rec.lines(t0)[before:]; len(got) != 0 {
					t.Fatalf("paged for the outage its sender resolved: %v", got)
				}
				if !strings.Contains(h.logs.String(), "superseded, opens nothing") {
					t.Fatalf("not logged:\n%s", h.logs)
				}
				if got := metric(t, h.reg, "pagerd_alerts_received_total", "source", "alertmanager", "service", "api", "outcome", "superseded"); got != 1 {
					t.Fatalf("pagerd_alerts_received_total{outcome=superseded} %v, want 1", got)
				}

				// It fires again, received after the resolve, with the
				// same start: a new incident, which pages.
				h.clock.Set(t0.Add(2 * time.Minute))
				h.am(amKey, firing)
				l := h.list("")
				if len(l) != 2 || l[0].Status != "triggered" {
					t.Fatalf("a firing received after the resolve: %+v, want a new incident open", l)
				}
				h.runUntil(t0.Add(2*time.Minute + time.Second))
				if got := h.rec.lines(t0)[before:]; len(got) == 0 || !strings.Contains(got[0], "ann push") {
					t.Fatalf("the new firing paged %v, want ann at once", got)
				}
			})

			t.Run("resolved by a person", func(t *testing.T) {
				h, st, id := stalledHarness(t, open, firing, t0.Add(20*time.Second))
				r := stallTrigger(t, h, st, "/api/v1/alertmanager", firing, t0.Add(40*time.Second), func() {
					if r := h.api("POST", "/api/v1/incidents/"+id+"/resolve", `{"user":"ann"}`); r.code != 200 {
						t.Fatalf("resolve: %d %s", r.code, r.body)
					}
				})
				if r.code != 200 {
					t.Fatalf("the firing received before ann's resolve: %d %s, want 200", r.code, r.body)
				}
				if l := h.list(""); len(l) != 2 || l[0].Status != "triggered" {
					t.Fatalf("a firing ann never saw, resolved by her: %+v, want a new incident open", l)
				}
			})

			// Guards of a miss: received before the resolve, but
			// holding an alert the incident did not (the other
			// Alertmanager of a cluster may have sent it after the
			// resolve): it opens the incident and pages. So does one received less
			// than a tenth of the lease (3s here) before the resolve:
			// two replicas' readings of the shared clock may differ by
			// that much, and it may have been sent after it.
			for _, tc := range []struct {
				name     string
				firing   string
				resolve  func(h *harness, id string)
				received time.Duration
			}{
				{"received within the clocks' skew of the resolve", firing, func(h *harness, _ string) { h.am(amKey, resolved) }, 38 * time.Second},
				{"an alert the incident did not hold", amBody("firing", "g", 0, amAlert{st: "firing", labels: a, starts: t0},
					amAlert{st: "firing", labels: lbl("X", "critical", "b"), starts: t0.Add(10 * time.Second)}),
					func(h *harness, _ string) { h.am(amKey, resolved) }, 0},
				{"a later start of its alert", amBody("firing", "g", 0, amAlert{st: "firing", labels: a, starts: t0.Add(10 * time.Second)}),
					func(h *harness, _ string) { h.am(amKey, resolved) }, 0},
			} {
				t.Run(tc.name, func(t *testing.T) {
					h, st, id := stalledHarness(t, open, firing, t0.Add(cmp.Or(tc.received, 20*time.Second)))
					r := stallTrigger(t, h, st, "/api/v1/alertmanager", tc.firing, t0.Add(40*time.Second), func() { tc.resolve(h, id) })
					if r.code != 200 {
						t.Fatalf("answered %d %s, want 200", r.code, r.body)
					}
					l := h.list("")
					if len(l) != 2 || l[0].Status != "triggered" || l[1].ID != id || l[1].Status != "resolved" {
						t.Fatalf("incidents: %+v; want a new one open beside %s, resolved", l, id)
					}
					before := len(h.rec.lines(t0))
					h.runUntil(t0.Add(41 * time.Second))
					if got := h.rec.lines(t0)[before:]; len(got) == 0 {
						t.Fatalf("the new incident paged nobody")
					}
				})
			}

			// Resolved by pagerd on the word of Alertmanager's API (a
			// withheld resolve confirmed: the groups soak's replay), as
			// by a resolved notification: it opens nothing.
			// Cut (max_alerts), as the groups of a withheld resolve's
			// are: what Alertmanager left out of it is not known, but
			// its API listed none of the group active after it.
			cut := amBody("firing", "g", 1, amAlert{st: "firing", labels: a, starts: t0})
			for _, body := range []string{firing, cut} {
				t.Run("resolved after asking Alertmanager/cut "+fmt.Sprint(body == cut), func(t *testing.T) {
					h, st, id := stalledHarness(t, open, body, t0.Add(20*time.Second))
					r := stallTrigger(t, h, st, "/api/v1/alertmanager", body, t0.Add(40*time.Second), func() {
						why := store.Entry{At: h.clock.Now(), Type: "resolve_confirmed", Actor: "pagerd", Detail: "no alert of the group is active"}
						if ok, err := h.d.incidents.ResolveUnlessRepeated(context.Background(), h.d.cfg.Load().Service("api"), id, 0, "alertmanager", why); err != nil || !ok {
							t.Fatalf("resolve after asking: %v %v", ok, err)
						}
					})
					if r.code != 200 {
						t.Fatalf("answered %d %s, want 200", r.code, r.body)
					}
					wantAloneResolved(t, h, id)
					if !h.timelineHas(id, incident.FiringSuperseded, "") {
						t.Fatalf("no firing_superseded entry: %s", timelineTypes(h.incident(id)))
					}
				})
			}

			// The store stalled still as the late write landed (as
			// it often is): the read that tells the resolve's sender
			// failed twice. Answered 503, the sender's retry, received
			// after the resolve, opened the incident; the read is
			// tried again while the store is unavailable.
			t.Run("the resolve unreadable a moment", func(t *testing.T) {
				h, st, id := stalledHarness(t, open, firing, t0.Add(20*time.Second))
				r := stallTrigger(t, h, st, "/api/v1/alertmanager", firing, t0.Add(40*time.Second), func() {
					h.am(amKey, resolved)
					st.unreadable.Store(2)
				})
				if r.code != 200 {
					t.Fatalf("answered %d %s, want 200", r.code, r.body)
				}
				wantAloneResolved(t, h, id)
			})

			t.Run("pagerduty", func(t *testing.T) {
				st := &stallingTriggerStore{Store: open(t)}
				h := newHarness(t, withStore(st), withConfig(noStorm))
				if r := h.do("POST", "/v2/enqueue", pdEventBody("trigger", "k")); r.code != 202 {
					t.Fatalf("trigger: %d %s", r.code, r.body)
				}
				id := h.list("")[0].ID
				h.runUntil(t0.Add(20 * time.Second))
				r := stallTrigger(t, h, st, "/v2/enqueue", pdEventBody("trigger", "k"), t0.Add(40*time.Second), func() {
					if r := h.do("POST", "/v2/enqueue", pdEventBody("resolve", "k")); r.code != 202 {
						t.Fatalf("resolve: %d %s", r.code, r.body)
					}
				})
				if r.code != 202 {
					t.Fatalf("the trigger received before the resolve: %d %s, want 202", r.code, r.body)
				}
				wantAloneResolved(t, h, id)
				if !h.timelineHas(id, incident.FiringSuperseded, "pagerduty sent") {
					t.Fatalf("no firing_superseded entry: %s", timelineTypes(h.incident(id)))
				}
			})
		})
	}
}

// stallingFindStore holds the next FindByDedup, once armed, until the
// test lets it go: a replica stalled with a resolve in its hands, before
// it read the incident it resolves.
type stallingFindStore struct {
	store.Store
	mu      sync.Mutex
	entered chan struct{}
	release chan struct{}
}

func (s *stallingFindStore) arm() (entered, release chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entered, s.release = make(chan struct{}), make(chan struct{})
	return s.entered, s.release
}

func (s *stallingFindStore) FindByDedup(ctx context.Context, service, dedupKey string) (*store.Incident, error) {
	s.mu.Lock()
	entered, release := s.entered, s.release
	s.entered, s.release = nil, nil
	s.mu.Unlock()
	if entered != nil {
		close(entered)
		<-release
	}
	return s.Store.FindByDedup(ctx, service, dedupKey)
}

// TestFiringReceivedAfterASlowResolveOpens: the resolve is the one a
// replica is slow with now. The sender's resolve is received at 20s and
// stalls before it is written (resolved at 30s); the sender's trigger,
// sent after it (the check fired again), is received at 22s, two seconds
// after the resolve, and its write lands after the resolve's. In the order
// pagerd received them the trigger came after the resolve: it is a new
// incident, which pages. Compared with when the resolve was written, not
// received, it was superseded and paged nobody. The same for an
// Alertmanager notification of the group firing again with its alert's
// start kept (a Prometheus restart).
func TestFiringReceivedAfterASlowResolveOpens(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t0 := fixedNow
			a := lbl("X", "critical", "a")
			amFiring := amBody("firing", "g", 0, amAlert{st: "firing", labels: a, starts: t0})
			amResolved := amBody("resolved", "g", 0, amAlert{st: "resolved", labels: a, starts: t0, ends: t0.Add(15 * time.Second)})
			for _, tc := range []struct {
				name, path              string
				firing, resolve, source string
			}{
				{"pagerduty", "/v2/enqueue", pdEventBody("trigger", "k"), pdEventBody("resolve", "k"), "pagerduty"},
				{"alertmanager", "/api/v1/alertmanager", amFiring, amResolved, "alertmanager"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					st := &stallingTriggerStore{Store: open(t)}
					fs := &stallingFindStore{Store: st}
					h := newHarness(t, withStore(fs), withConfig(noStorm))
					post := func(body string) response {
						if tc.source == "pagerduty" {
							return h.do("POST", tc.path, body)
						}
						return h.do("POST", tc.path, body, "Authorization", "Bearer "+amKey)
					}
					if r := post(tc.firing); r.code/100 != 2 {
						t.Fatalf("firing: %d %s", r.code, r.body)
					}
					id := h.list("")[0].ID
					h.runUntil(t0.Add(20 * time.Second))
					entered, release := fs.arm()
					resolved := make(chan response, 1)
					go func() { resolved <- post(tc.resolve) }()
					select {
					case <-entered:
					case r := <-resolved:
						t.Fatalf("the resolve was answered (%d %s) without reading its incident", r.code, r.body)
					}
					h.clock.Set(t0.Add(22 * time.Second))
					r := stallTrigger(t, h, st, tc.path, tc.firing, t0.Add(30*time.Second), func() {
						close(release)
						if r := <-resolved; r.code/100 != 2 {
							t.Fatalf("resolve: %d %s", r.code, r.body)
						}
						if inc := h.incident(id); inc.Status != "resolved" {
							t.Fatalf("the slow resolve did not resolve %s: %s", id, inc.Status)
						}
					})
					if r.code/100 != 2 {
						t.Fatalf("the firing received after the resolve: %d %s", r.code, r.body)
					}
					if l := h.list(""); len(l) != 2 || l[0].Status != "triggered" {
						t.Fatalf("a firing received 2s after its sender's resolve: %d incidents, the newest %s; want a new one open (superseded: %v)",
							len(l), l[0].Status, h.timelineHas(id, incident.FiringSuperseded, ""))
					}
					before := len(h.rec.lines(t0))
					h.runUntil(t0.Add(31 * time.Second))
					if got := h.rec.lines(t0)[before:]; len(got) == 0 {
						t.Fatalf("the new incident paged nobody")
					}
				})
			}
		})
	}
}

// stallingUpdateStore holds the next Update, once armed, until the test
// lets it go: a replica stalled between storing a repeat and raising the
// incident's priority for it. It reads a repeat back as the store under
// it does (store.RepeatReader), so that the raise takes the path it
// takes in the daemon.
type stallingUpdateStore struct {
	store.Store
	mu      sync.Mutex
	entered chan struct{}
	release chan struct{}
}

func (s *stallingUpdateStore) arm() (entered, release chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entered, s.release = make(chan struct{}), make(chan struct{})
	return s.entered, s.release
}

func (s *stallingUpdateStore) Update(ctx context.Context, inc *store.Incident, tl []store.Entry) error {
	s.mu.Lock()
	entered, release := s.entered, s.release
	s.entered, s.release = nil, nil
	s.mu.Unlock()
	if entered != nil {
		close(entered)
		<-release
	}
	return s.Store.Update(ctx, inc, tl)
}

func (s *stallingUpdateStore) TriggerRead(ctx context.Context, inc *store.Incident, tl []store.Entry) (string, store.Outcome, *store.Incident, error) {
	return store.TriggerRead(ctx, s.Store, inc, tl)
}

// TestFiringThatRaisesAndIsResolvedBeforeTheRaiseOpensNothing: the
// firing notification that a critical alert joined the group (raising the
// incident from P2 to P0) is received at 20s and stored as a repeat, and
// the replica stalls before it writes the raise; the group's resolve,
// received at 40s, names both alerts resolved and resolves the incident.
// In the order received the firing was a repeat the resolve ended, as it
// is when the firing's whole write lands after the resolve (superseded).
// Found resolved by the raise, it opened an incident of its own, which
// paged P0 through both levels and stayed open for alerts that had ended:
// Alertmanager says nothing more of a group whose resolve it delivered.
// Resolved by a person instead (who never saw the critical alert), it
// opens its incident and pages, as before.
func TestFiringThatRaisesAndIsResolvedBeforeTheRaiseOpensNothing(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t0 := fixedNow
			a, b := lbl("X", "warning", "a"), lbl("X", "critical", "b")
			first := amBody("firing", "g", 0, amAlert{st: "firing", labels: a, starts: t0})
			raising := amBody("firing", "g", 0, amAlert{st: "firing", labels: a, starts: t0},
				amAlert{st: "firing", labels: b, starts: t0.Add(10 * time.Second)})
			resolved := amBody("resolved", "g", 0, amAlert{st: "resolved", labels: a, starts: t0, ends: t0.Add(30 * time.Second)},
				amAlert{st: "resolved", labels: b, starts: t0.Add(10 * time.Second), ends: t0.Add(30 * time.Second)})
			for _, tc := range []struct {
				name    string
				resolve func(h *harness, id string)
				opens   bool
			}{
				{"by its sender", func(h *harness, _ string) { h.am(amKey, resolved) }, false},
				{"by a person", func(h *harness, id string) {
					if r := h.api("POST", "/api/v1/incidents/"+id+"/resolve", `{"user":"ann"}`); r.code != 200 {
						t.Fatalf("resolve: %d %s", r.code, r.body)
					}
				}, true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					st := &stallingUpdateStore{Store: open(t)}
					h := newHarness(t, withStore(st), withConfig(noStorm))
					h.am(amKey, first)
					id := h.list("")[0].ID
					if p := h.incident(id).Priority; p != "P2" {
						t.Fatalf("the warning opened %s, want P2", p)
					}
					h.runUntil(t0.Add(20 * time.Second))
					entered, release := st.arm()
					answer := make(chan response, 1)
					go func() { answer <- h.do("POST", "/api/v1/alertmanager", raising, "Authorization", "Bearer "+amKey) }()
					select {
					case <-entered:
					case r := <-answer:
						t.Fatalf("the raising firing was answered (%d %s) without raising", r.code, r.body)
					}
					h.clock.Set(t0.Add(40 * time.Second))
					tc.resolve(h, id)
					close(release)
					if r := <-answer; r.code != 200 {
						t.Fatalf("the raising firing: %d %s, want 200", r.code, r.body)
					}
					l := h.list("")
					if !tc.opens {
						if len(l) != 1 || l[0].Status != "resolved" {
							t.Fatalf("a firing received before its sender's resolve, raised after it: %d incidents, the newest %s %s; want %s alone, resolved",
								len(l), l[0].Status, l[0].Priority, id)
						}
						if !h.timelineHas(id, incident.FiringSuperseded, "received at "+t0.Add(20*time.Second).Format(time.RFC3339)) {
							t.Fatalf("no firing_superseded entry: %s", timelineTypes(h.incident(id)))
						}
						return
					}
					if len(l) != 2 || l[0].Status != "triggered" || l[0].Priority != "P0" {
						t.Fatalf("resolved by a person who never saw the critical alert: %d incidents, the newest %s %s; want a new P0 open",
							len(l), l[0].Status, l[0].Priority)
					}
					before := len(h.rec.lines(t0))
					h.runUntil(t0.Add(41 * time.Second))
					if got := h.rec.lines(t0)[before:]; len(got) == 0 {
						t.Fatalf("the new incident paged nobody")
					}
				})
			}
		})
	}
}

// TestOpsgenieCreateReceivedBeforeItsCloseOpensNothing: Alertmanager's
// opsgenie_configs, pointed at pagerd. A create of the alias is received
// at 20s and its write lands after the close of the alias received at
// 40s (the sender's: no user): it opens nothing, as a firing notification
// before its group's resolve does. Closed by a person (the body's user)
// who never saw it, it opens its incident and pages.
func TestOpsgenieCreateReceivedBeforeItsCloseOpensNothing(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			create := `{"message":"DB down","alias":"db","priority":"P1"}`
			for _, tc := range []struct {
				name, close string
				opens       bool
			}{
				{"by its sender", `{"source":"alertmanager"}`, false},
				{"by a person", `{"user":"ann"}`, true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					st := &stallingTriggerStore{Store: open(t)}
					h := newHarness(t, withStore(st), withConfig(ogConfig))
					h.og("POST", "/v2/alerts", create, 202)
					id := h.list("")[0].ID
					h.runUntil(fixedNow.Add(20 * time.Second))
					entered, release := st.arm()
					answer := make(chan response, 1)
					go func() { answer <- h.do("POST", "/v2/alerts", create, "Authorization", "GenieKey "+ogKey) }()
					select {
					case <-entered:
					case r := <-answer:
						t.Fatalf("the create was answered (%d %s) without reaching the store's trigger", r.code, r.body)
					}
					h.clock.Set(fixedNow.Add(40 * time.Second))
					h.og("POST", "/v2/alerts/db/close?identifierType=alias", tc.close, 202)
					if v := h.incident(id); v.Status != "resolved" {
						t.Fatalf("the close left %s %s", id, v.Status)
					}
					close(release)
					if r := <-answer; r.code != 202 {
						t.Fatalf("the create received before the close: %d %s", r.code, r.body)
					}
					l := h.list("")
					if !tc.opens {
						if len(l) != 1 || !h.timelineHas(id, incident.FiringSuperseded, "opsgenie sent") {
							t.Fatalf("a create received before its sender's close: %d incidents, the newest %s; want %s alone, noted superseded: %s",
								len(l), l[0].Status, id, timelineTypes(h.incident(id)))
						}
						return
					}
					if len(l) != 2 || l[0].Status != "triggered" {
						t.Fatalf("closed by a person who never saw it: %d incidents, the newest %s; want a new one open", len(l), l[0].Status)
					}
				})
			}
		})
	}
}

// TestFiringReceivedBeforeAnAlertOfItResolvedOpensNothing: the group's
// alerts end one by one. Its firing notification with a and b firing is
// received at 20s and stalls; the sender, its request timed out, goes on:
// b resolves (a firing notification with b resolved, a repeat that the
// incident records), then a, and the group's resolve (naming a alone:
// Alertmanager drops an alert from the group once it sent its resolve)
// resolves the incident. The stalled write lands after it. Everything it
// says the incident recorded, b resolved since, with the same start: in
// the order received it was a repeat, and it opens nothing. It opened an
// incident for alerts that had ended, which paged and stayed open, as
// when the alert was recorded firing.
func TestFiringReceivedBeforeAnAlertOfItResolvedOpensNothing(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t0 := fixedNow
			a, b := lbl("X", "critical", "a"), lbl("X", "critical", "b")
			bStart := t0.Add(5 * time.Second)
			both := amBody("firing", "g", 0, amAlert{st: "firing", labels: a, starts: t0}, amAlert{st: "firing", labels: b, starts: bStart})
			bEnded := amBody("firing", "g", 0, amAlert{st: "firing", labels: a, starts: t0},
				amAlert{st: "resolved", labels: b, starts: bStart, ends: t0.Add(25 * time.Second)})
			resolved := amBody("resolved", "g", 0, amAlert{st: "resolved", labels: a, starts: t0, ends: t0.Add(35 * time.Second)})
			h, st, id := stalledHarness(t, open, both, t0.Add(20*time.Second))
			r := stallTrigger(t, h, st, "/api/v1/alertmanager", both, t0.Add(30*time.Second), func() {
				h.am(amKey, bEnded)
				h.clock.Set(t0.Add(40 * time.Second))
				h.am(amKey, resolved)
			})
			if r.code != 200 {
				t.Fatalf("the firing received before the resolve: %d %s, want 200", r.code, r.body)
			}
			if l := h.list(""); len(l) != 1 || l[0].Status != "resolved" {
				t.Fatalf("a firing received before its group's resolve, its alert b recorded resolved since: %d incidents, the newest %s; want %s alone",
					len(l), l[0].Status, id)
			}
			if !h.timelineHas(id, incident.FiringSuperseded, "received at "+t0.Add(20*time.Second).Format(time.RFC3339)) {
				t.Fatalf("no firing_superseded entry: %s", timelineTypes(h.incident(id)))
			}
		})
	}
}

// TestFiringReadJustAfterAStopAfterItsIncidentsResolveOpens: the mirror
// of the stalled firing, with its incident resolved rather than never
// opened. A replica was stopped (CPU starved, a VM paused) from t0 to
// t0+5s; meanwhile another replica took the sender's resolve of the open
// incident at t0+4s. The sender then sent a new firing of the key, which
// the stopped replica read at t0+6s, within the grace after its stop:
// arrivals stamps it at the stop's start at the earliest (t0) and at
// t0+6s at the latest. It came after the resolve: a PagerDuty or Opsgenie
// trigger of a new problem under the same key, an Alertmanager group
// firing again with its alert's start unchanged. Judged by its earliest,
// it was taken as received before the resolve and opened nothing, 2xx: a
// missed page. Judged by its latest, as a resolve read after a stop is
// (unlessSuperseded) and as a firing against a resolve that found
// nothing open is (resolvedBefore), it opens an incident and pages. Both
// stores.
func TestFiringReadJustAfterAStopAfterItsIncidentsResolveOpens(t *testing.T) {
	t0 := fixedNow
	cfg, cases := stopCases(t0)
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					h := newHarness(t, withStore(open(t)), withConfig(cfg))
					send := func(r stopReq, earliest, latest time.Time) { t.Helper(); sendAt(t, h, r, earliest, latest) }
					// Opened a minute before, resolved at t0+4s by a
					// replica that ran.
					h.clock.Set(t0.Add(-time.Minute))
					send(tc.firing, h.clock.Now(), h.clock.Now())
					h.clock.Set(t0.Add(4 * time.Second))
					send(tc.resolve, h.clock.Now(), h.clock.Now())
					if l := h.list(""); len(l) != 1 || l[0].Status != "resolved" {
						t.Fatalf("after the sender's resolve: %+v; want one incident, resolved", l)
					}
					// Read at t0+6s by the replica stopped from t0 to t0+5s.
					h.clock.Set(t0.Add(6 * time.Second))
					send(tc.firing, t0, h.clock.Now())
					h.runUntil(t0.Add(time.Minute))
					l := h.list("")
					open := 0
					for _, i := range l {
						if i.Status == "triggered" {
							open++
						}
					}
					if pages := h.rec.lines(t0.Add(5 * time.Second)); len(l) != 2 || open != 1 || len(pages) == 0 {
						t.Fatalf("a firing that came after its incident's resolve, read just after a stop: incidents %+v, pages since %v; want a new one open that pages\n%s",
							l, pages, h.logs)
					}
					if !strings.Contains(h.logs.String(), "may have come after its incident's resolve") {
						t.Fatalf("no warning says the incident opened on the firing's latest arrival:\n%s", h.logs)
					}
				})
			}
		})
	}
}

// TestFiringAgainstAResolveAheadOfThisClockSaysNothingOfAStop: a firing
// read with no stop of this replica (its earliest and latest arrival the
// same) against its incident's resolve made on a clock read as ahead of
// this replica's opens its incident, as before the latest arrival was
// looked at; the warning that it was read just after a stop of this
// replica is not logged for it (it was, on every such firing: an on-call
// engineer looking for a stop that never happened).
func TestFiringAgainstAResolveAheadOfThisClockSaysNothingOfAStop(t *testing.T) {
	t0 := fixedNow
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)), withConfig(noStorm))
			send := func(body string) {
				t.Helper()
				if got := h.do("POST", "/v2/enqueue", body); got.code/100 != 2 {
					t.Fatalf("POST /v2/enqueue: %d %s", got.code, got.body)
				}
			}
			h.clock.Set(t0.Add(-time.Minute))
			send(pdEventBody("trigger", "k"))
			h.clock.Set(t0.Add(10 * time.Second)) // the resolving replica's clock, ahead
			send(pdEventBody("resolve", "k"))
			h.clock.Set(t0.Add(2 * time.Second))
			send(pdEventBody("trigger", "k"))
			l := h.list("")
			open := 0
			for _, i := range l {
				if i.Status == "triggered" {
					open++
				}
			}
			if open != 1 {
				t.Fatalf("incidents %+v; want the firing's new one open\n%s", l, h.logs)
			}
			if strings.Contains(h.logs.String(), "may have come after its incident's resolve") {
				t.Fatalf("a firing read with no stop logged as read just after one:\n%s", h.logs)
			}
		})
	}
}
