package gateway

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
)

// receiptStallingStore holds, once armed, every Trigger of an alert
// received at one time (a notification's, whose groups are written side
// by side) until the test lets them go: a replica stopped with the
// notification in its socket, the sender's retry taken elsewhere.
type receiptStallingStore struct {
	store.Store
	mu       sync.Mutex
	received time.Time
	want     int
	entered  chan struct{} // closed when want of them arrived
	release  chan struct{}
}

func (s *receiptStallingStore) Trigger(ctx context.Context, inc *store.Incident, tl []store.Entry) (string, store.Outcome, error) {
	s.mu.Lock()
	held := s.release != nil && inc.LastReceived.Equal(s.received)
	release := s.release
	if held {
		if s.want--; s.want == 0 {
			close(s.entered)
		}
	}
	s.mu.Unlock()
	if held {
		<-release
	}
	return s.Store.Trigger(ctx, inc, tl)
}

// stallBatchNotification posts body to the batch service, received now,
// while the store holds its n triggers; runs meanwhile with the clock at
// at; then lets the stalled writes land and returns the answer.
func stallBatchNotification(t *testing.T, h *harness, st *receiptStallingStore, body string, n int, at time.Time, meanwhile func()) response {
	t.Helper()
	st.mu.Lock()
	st.received, st.want = h.clock.Now().UTC().Truncate(time.Millisecond), n
	st.entered, st.release = make(chan struct{}), make(chan struct{})
	entered, release := st.entered, st.release
	st.mu.Unlock()
	answer := make(chan response, 1)
	go func() { answer <- h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+batchKey) }()
	select {
	case <-entered:
	case r := <-answer:
		t.Fatalf("the request was answered (%d %s) without reaching the store's triggers", r.code, r.body)
	}
	h.clock.Set(at)
	meanwhile()
	st.mu.Lock()
	st.release = nil
	st.mu.Unlock()
	close(release)
	return <-answer
}

// batchAlertIncidents are the batch service's incidents of api-1 and
// api-2 (not the group's overflow incident), by instance.
func batchAlertIncidents(h *harness) map[string][]incidentView {
	by := map[string][]incidentView{}
	for _, v := range h.list("?service=batch&limit=1000") {
		for _, inst := range []string{"api-1", "api-2"} {
			if strings.HasSuffix(v.DedupKey, "fp-"+inst) {
				by[inst] = append(by[inst], v)
			}
		}
	}
	return by
}

// brief is an incident as the failures show it.
func brief(vs []incidentView) string {
	var b []string
	for _, v := range vs {
		b = append(b, v.ID+" "+string(v.Status)+" created "+v.CreatedAt.Format("15:04:05")+" repeats "+strconv.Itoa(v.Repeats))
	}
	return "[" + strings.Join(b, "; ") + "]"
}

// TestFingerprintCutFiringReceivedBeforeItsResolveOpensNothing: the groups
// soak in fingerprint mode with Alertmanager down phases, seed 579865454
// (g261, g250). A replica stopped 13 s with a firing notification of a
// group of four in its socket (max_alerts 2: two alerts listed,
// truncatedAlerts 2); the sender gave up on it and sent it again
// elsewhere, which opened the two alerts' incidents, then sent the
// group's resolved notification, which resolved them by name. The
// replica, running again, read the stale firing, received 12 s before
// that resolve: the store found each key's incident resolved after it
// (superseded), but the check of what the firing holds took it as newer,
// since the notification was cut, and each alert opened an incident,
// which paged and stayed open: Alertmanager says nothing more of a group
// whose resolve it delivered. In group mode a cut notification may hide a
// new alert of the group's incident; in fingerprint mode the alerts left
// out are other alerts, with incidents of their own (or the group's
// overflow incident), and say nothing of whether this alert fired anew.
// It opens nothing now, whether the resolve left alerts out or not, as
// when Alertmanager's API confirmed the alerts ended. Guards of a miss: a
// firing received within the shared clock's skew of the resolve, or
// holding its alert with a later start, still opens its incident.
func TestFingerprintCutFiringReceivedBeforeItsResolveOpensNothing(t *testing.T) {
	firing := amTruncated("firing", 2, [2]string{"api-1", "firing"}, [2]string{"api-2", "firing"})
	later := strings.Replace(firing, `"startsAt":"2025-09-10T05:59:00Z"`, `"startsAt":"2025-09-10T06:00:10Z"`, 1) // api-1's
	byNotification := func(truncated int) func(*harness, func(string)) {
		return func(h *harness, post func(string)) {
			post(amTruncated("resolved", truncated, [2]string{"api-1", "resolved"}, [2]string{"api-2", "resolved"}))
		}
	}
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name     string
				late     string        // the firing the replica stalled with
				received time.Duration // when it was received, after t0
				down     bool          // Alertmanager cannot be asked (up, it lists no alert of the group)
				resolve  func(*harness, func(string))
				opens    []string // the alerts whose late firing opens an incident
			}{
				{"the group's resolve cut too (the soak)", firing, 0, false, byNotification(2), nil},
				{"the group's resolve whole", firing, 0, false, byNotification(0), nil},
				{"resolved on Alertmanager's word", firing, 0, false, func(h *harness, _ func(string)) {
					// The retry's check of the alerts it left out:
					// Alertmanager lists none of the group active.
					h.runUntil(h.clock.Now().Add(time.Second))
				}, nil},
				{"received within the clocks' skew of the resolve", firing, 18 * time.Second, true, byNotification(2), []string{"api-1", "api-2"}},
				{"api-1 started later than its incident held", later, 0, true, byNotification(2), []string{"api-1"}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					am := &fakeAlertmanagerAPI{down: tc.down}
					cfg, _ := amConfig(t, am, byURL)
					st := &receiptStallingStore{Store: open(t)}
					h := newHarness(t, withStore(st), withConfig(cfg))
					post := batchPoster(t, h)
					t0 := h.clock.Now()
					h.clock.Set(t0.Add(tc.received))
					// The sender's retry, taken elsewhere, then the
					// group's resolve (more than the clocks' skew after
					// it: its check of the alerts left out reads that
					// resolve).
					retried := max(10*time.Second, tc.received+500*time.Millisecond)
					r := stallBatchNotification(t, h, st, tc.late, 2, t0.Add(retried), func() {
						post(firing) // opens both
						h.clock.Set(t0.Add(20 * time.Second))
						tc.resolve(h, post)
						for inst, vs := range batchAlertIncidents(h) {
							if len(vs) != 1 || vs[0].Status != "resolved" {
								t.Fatalf("%s's incidents before the late firing landed: %s, want one, resolved", inst, brief(vs))
							}
						}
					})
					if r.code != 200 {
						t.Fatalf("the late firing: %d %s, want 200", r.code, r.body)
					}
					before := len(h.rec.lines(t0))
					by := batchAlertIncidents(h)
					for _, inst := range []string{"api-1", "api-2"} {
						vs := by[inst]
						if slices.Contains(tc.opens, inst) {
							if len(vs) != 2 || vs[0].Status == vs[1].Status || (vs[0].Status != "triggered" && vs[1].Status != "triggered") {
								t.Fatalf("%s's incidents after the late firing: %s; want a new one open beside the resolved one", inst, brief(vs))
							}
							continue
						}
						if len(vs) != 1 || vs[0].Status != "resolved" {
							t.Fatalf("%s's incidents after its late firing, received before its resolve: %s; want the resolved one alone", inst, brief(vs))
						}
						if !h.timelineHas(vs[0].ID, incident.FiringSuperseded, "") {
							t.Fatalf("%s: no firing_superseded entry: %s", inst, timelineTypes(h.incident(vs[0].ID)))
						}
					}
					h.runUntil(t0.Add(time.Minute))
					if got := h.rec.lines(t0)[before:]; len(got) == 0 && len(tc.opens) > 0 {
						t.Fatalf("the new incidents paged nobody")
					} else if len(tc.opens) == 0 && len(got) != 0 {
						t.Fatalf("paged for alerts whose resolve came after the firing: %v; incidents %s", got, brief(h.list("?service=batch&limit=1000")))
					}
				})
			}
		})
	}
}
