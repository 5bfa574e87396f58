package gateway

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
)

// markWrites counts the store writes that carry resolve marks, and the
// marks they carry.
type markWrites struct {
	store.Store
	mu            sync.Mutex
	writes, marks int
}

func (s *markWrites) count(jobs ...store.Job) {
	n := 0
	for _, j := range jobs {
		if j.Kind == incident.ResolveMarkKind {
			n++
		}
	}
	if n > 0 {
		s.mu.Lock()
		s.writes, s.marks = s.writes+1, s.marks+n
		s.mu.Unlock()
	}
}

func (s *markWrites) PutJob(ctx context.Context, j store.Job) error {
	s.count(j)
	return s.Store.PutJob(ctx, j)
}

func (s *markWrites) PutLaterJobs(ctx context.Context, jobs []store.Job) error {
	s.count(jobs...)
	return s.Store.PutLaterJobs(ctx, jobs)
}

// resolvedAlerts is a resolved notification in fingerprint mode of n
// alerts, api-0 to api-<n-1>.
func resolvedAlerts(n int) string {
	as := make([][2]string, n)
	for i := range as {
		as[i] = [2]string{fmt.Sprintf("api-%d", i), "resolved"}
	}
	return amTruncated("resolved", 0, as...)
}

// TestFingerprintResolveThatFoundNothingOpenMarksInOneWrite: a resolved
// notification of 1,000 alerts in fingerprint mode that finds none of
// them open (the second Alertmanager of a pair sends every resolve
// again) wrote its 1,000 resolve marks one at a time, a store write each:
// 25 ms became 70 on Redis, 9 ms 170 on the embedded store. They are one
// write now, and still marks: a firing of one of its alerts received
// before it and written after it opens nothing. Both stores.
func TestFingerprintResolveThatFoundNothingOpenMarksInOneWrite(t *testing.T) {
	t0 := fixedNow
	const n = 1000
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := &markWrites{Store: open(t)}
			h := newHarness(t, withStore(st), withConfig(noStorm))
			held := intakeAlerts(t, h, "alertmanager", "batch", amTruncated("firing", 0, [2]string{"api-7", "firing"}), t0)
			h.clock.Set(t0.Add(5 * time.Second))
			if r := h.do("POST", "/api/v1/alertmanager", resolvedAlerts(n), "Authorization", "Bearer "+batchKey); r.code != 200 {
				t.Fatalf("the resolve: %d %s", r.code, r.body)
			}
			if st.writes != 1 || st.marks != n {
				t.Fatalf("%d marks in %d store writes, want %d in one", st.marks, st.writes, n)
			}
			h.clock.Set(t0.Add(10 * time.Second))
			if id, out, err := h.d.incidents.Trigger(context.Background(), h.d.cfg.Load(), held[0]); err != nil || out == store.Created {
				t.Fatalf("the stale firing of api-7: incident %q, outcome %v, %v; want nothing opened", id, out, err)
			}
			if l := h.list(""); len(l) != 0 {
				t.Fatalf("incidents %+v, want none", l)
			}
		})
	}
}

// TestFingerprintResolveMarksRefusedAreOneWarning: the marks of one
// notification the store refuses are one warn line that says how many
// were lost, not one a mark, and the resolve is answered 200 all the same.
func TestFingerprintResolveMarksRefusedAreOneWarning(t *testing.T) {
	h := newHarness(t, withStore(markRefusingStore{boltStore(t)}), withConfig(noStorm))
	if r := h.do("POST", "/api/v1/alertmanager", resolvedAlerts(300), "Authorization", "Bearer "+batchKey); r.code != 200 {
		t.Fatalf("the resolve whose marks the store refused: %d %s, want 200", r.code, r.body)
	}
	if n := strings.Count(h.logs.String(), "a resolve that found no open incident is not remembered"); n != 1 || !strings.Contains(h.logs.String(), `"marks":300`) {
		t.Fatalf("%d warn lines, want one naming 300 marks:\n%s", n, h.logs)
	}
}
