package gateway

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/ingest"
	"github.com/pagerd/pagerd/gateway/store"
)

// slowDiskStore answers each Trigger only at the next tick of a disk that
// commits every `every`, as a store with group commit on a disk whose fsync
// takes that long: the writes waiting at a tick are answered together.
type slowDiskStore struct {
	store.Store
	every time.Duration
}

func (s *slowDiskStore) Trigger(ctx context.Context, inc *store.Incident, tl []store.Entry) (string, store.Outcome, error) {
	id, out, err := s.Store.Trigger(ctx, inc, tl)
	if err != nil {
		return id, out, err
	}
	now := time.Now()
	select {
	case <-time.After(now.Truncate(s.every).Add(s.every).Sub(now)):
		return id, out, nil
	case <-ctx.Done():
		return "", 0, fmt.Errorf("%w: %w: %w", store.ErrUnavailable, store.ErrOutcomeUnknown, ctx.Err())
	}
}

// TestFingerprintNotificationOnASlowDiskIsStoredWhole: in fingerprint mode
// a notification of 100 firing alerts is 100 incidents. Each waited for
// its own commit, one after another: with a commit every 60 ms that is 6 s,
// past the request's budget (4 s here, 5 s in the daemon), and the answer
// was a 503 with the alerts at the notification's tail never stored; its
// retry did the same writes again and ran out at the same place, so those
// alerts never paged. Stored at once they share commits, and all 100 are
// stored within the budget.
func TestFingerprintNotificationOnASlowDiskIsStoredWhole(t *testing.T) {
	shortDeadline(t, 4*time.Second)
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(&slowDiskStore{Store: open(t), every: 60 * time.Millisecond}), withConfig(noStorm))
			statuses := make([]string, ingest.MaxIncidentsPerMessage)
			for i := range statuses {
				statuses[i] = "firing"
			}
			start := time.Now()
			r := h.do("POST", "/api/v1/alertmanager", mixedAlerts("firing", "g-slow", statuses), "Authorization", "Bearer "+batchKey)
			took := time.Since(start)
			if r.code != 200 {
				t.Fatalf("notification of %d alerts answered %d after %v: %.300s", len(statuses), r.code, took.Round(time.Millisecond), r.body)
			}
			open := map[string]bool{}
			for _, v := range h.list("?service=batch&limit=1000") {
				if v.Status != "resolved" {
					open[v.DedupKey] = true
				}
			}
			if len(open) != len(statuses) {
				t.Fatalf("%d incidents open, want %d (one an alert)", len(open), len(statuses))
			}
			t.Logf("%d alerts stored in %v", len(statuses), took.Round(time.Millisecond))
		})
	}
}

// TestFingerprintNotificationAnswersIncidentsInOrder: stored at once, the
// groups are still answered in the notification's order, so whoever sends
// one by hand reads its incidents as its alerts.
func TestFingerprintNotificationAnswersIncidentsInOrder(t *testing.T) {
	h := newHarness(t, withConfig(noStorm))
	statuses := []string{"firing", "firing", "firing", "firing", "firing", "firing", "firing", "firing", "firing", "firing", "firing", "firing"}
	var ans struct{ Incidents []string }
	r := h.do("POST", "/api/v1/alertmanager", mixedAlerts("firing", "g-order", statuses), "Authorization", "Bearer "+batchKey)
	if r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	r.json(t, &ans)
	if len(ans.Incidents) != len(statuses) {
		t.Fatalf("answer names %d incidents, want %d: %s", len(ans.Incidents), len(statuses), r.body)
	}
	for i, id := range ans.Incidents {
		v := h.incident(id)
		if want := fmt.Sprintf(`"job":"job-%05d"`, i); !strings.Contains(string(v.Details), want) {
			t.Errorf("incident %d of the answer (%s) is %.200s, want the alert of %s", i, id, v.Details, want)
		}
	}
}

// refusingTriggerStore refuses the Trigger of the incidents whose dedup key
// refuse ends with, as a full disk refuses a write, once another Trigger
// was stored (so that the refusal comes while others are in flight).
type refusingTriggerStore struct {
	store.Store
	refuse atomic.Pointer[string]
	stored chan struct{}
	once   sync.Once
}

func (s *refusingTriggerStore) Trigger(ctx context.Context, inc *store.Incident, tl []store.Entry) (string, store.Outcome, error) {
	if k := s.refuse.Load(); k != nil && strings.HasSuffix(inc.DedupKey, *k) {
		select {
		case <-s.stored:
		case <-ctx.Done():
		}
		return "", 0, errDiskFull
	}
	id, out, err := s.Store.Trigger(ctx, inc, tl)
	if err == nil && s.refuse.Load() != nil {
		s.once.Do(func() { close(s.stored) })
	}
	return id, out, err
}

// TestFingerprintNotificationWithOneAlertRefusedIsRetriedWhole: the store
// refuses one alert of a notification of 100 (its first, and then one in
// its middle) while others, stored at once beside it, are stored. The
// answer is a 503 that says so (not "nothing was stored", which would be
// false), and the retry, once the store takes writes, opens the alerts
// not stored yet and repeats the others: one incident an alert, none twice.
func TestFingerprintNotificationWithOneAlertRefusedIsRetriedWhole(t *testing.T) {
	for _, refused := range []int{0, 50} {
		t.Run(fmt.Sprint("alert ", refused), func(t *testing.T) {
			st := &refusingTriggerStore{Store: boltStore(t), stored: make(chan struct{})}
			h := newHarness(t, withStore(st), withConfig(noStorm))
			statuses := make([]string, ingest.MaxIncidentsPerMessage)
			for i := range statuses {
				statuses[i] = "firing"
			}
			body := mixedAlerts("firing", "g-refused", statuses)
			// A dedup key ends with its alert's fingerprint, which
			// pagerd computes from the labels: a notification of the
			// same alerts under another group key tells it.
			probe := h.do("POST", "/api/v1/alertmanager", mixedAlerts("firing", "g-probe", statuses[:refused+1]), "Authorization", "Bearer "+batchKey)
			if probe.code != 200 {
				t.Fatalf("probe: %d %s", probe.code, probe.body)
			}
			var pa struct{ Incidents []string }
			probe.json(t, &pa)
			key := h.incident(pa.Incidents[refused]).DedupKey
			fp := key[strings.LastIndex(key, ":"):]
			st.refuse.Store(&fp)
			r := h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+batchKey)
			if r.code != 503 {
				t.Fatalf("a notification one of whose alerts the store refused answered %d: %.300s", r.code, r.body)
			}
			if strings.Contains(r.body, "nothing was stored") {
				t.Fatalf("the answer says nothing was stored, but other alerts were: %s", r.body)
			}
			st.refuse.Store(nil)
			if r = h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+batchKey); r.code != 200 {
				t.Fatalf("retry: %d %.300s", r.code, r.body)
			}
			keys := map[string]int{}
			for _, v := range h.list("?service=batch&limit=1000") {
				if strings.Contains(v.DedupKey, "g-refused") {
					keys[v.DedupKey]++
				}
			}
			if len(keys) != len(statuses) {
				t.Fatalf("%d incidents of the notification, want %d", len(keys), len(statuses))
			}
			for k, n := range keys {
				if n != 1 {
					t.Errorf("%s opened %d times", k, n)
				}
			}
		})
	}
}

// TestTakeGroupsPanicIsTheRequests: a panic storing one group of a
// notification reaches the request's goroutine, where the server's
// recovery answers 500 and logs it, with where it happened, rather than
// take the process down from a goroutine of its own; the groups started
// beside it finish first (they write to what takeGroups returns). Groups
// after it may or may not be started, by how the goroutines are scheduled:
// skipping them once a group failed saves work, and is not checked here.
func TestTakeGroupsPanicIsTheRequests(t *testing.T) {
	s := &Server{}
	groups := make([]ingest.AlertGroup, 20)
	for i := range groups {
		groups[i].DedupKey = fmt.Sprint(i)
	}
	// The groups started beside the panicking one (0 to 7, as many as
	// are stored at once) are all running when it panics, and finish
	// only after it has begun to.
	ready, begun := make(chan struct{}, groupWritesAtOnce), make(chan struct{})
	var beside atomic.Int64
	got := func() (p any) {
		defer func() { p = recover() }()
		s.takeGroups(t.Context(), groups, func(_ context.Context, g ingest.AlertGroup) groupTaken {
			i, _ := strconv.Atoi(g.DedupKey)
			switch {
			case i == 3:
				for range groupWritesAtOnce - 1 {
					<-ready
				}
				close(begun)
				panic("boom")
			case i < groupWritesAtOnce:
				ready <- struct{}{}
				<-begun
				beside.Add(1)
			}
			return groupTaken{opened: g.DedupKey}
		})
		return nil
	}()
	msg, _ := got.(string)
	if !strings.HasPrefix(msg, "boom") || !strings.Contains(msg, "TestTakeGroupsPanicIsTheRequests") {
		t.Fatalf("recovered %v, want the group's panic with its stack", got)
	}
	if n := beside.Load(); n != groupWritesAtOnce-1 {
		t.Fatalf("%d of the %d groups started beside the panic had finished when it reached the request", n, groupWritesAtOnce-1)
	}
}

// twoRefusalsStore refuses the Trigger of the alerts whose details name
// each job of refuse, with an error of its own, once every one of them
// has come: the refusals are in flight together.
type twoRefusalsStore struct {
	store.Store
	refuse map[string]error
	came   sync.WaitGroup
}

func (s *twoRefusalsStore) Trigger(ctx context.Context, inc *store.Incident, tl []store.Entry) (string, store.Outcome, error) {
	for job, err := range s.refuse {
		if strings.Contains(string(inc.Details), `"job":"`+job+`"`) {
			s.came.Done()
			s.came.Wait()
			return "", 0, err
		}
	}
	return s.Store.Trigger(ctx, inc, tl)
}

// TestFingerprintNotificationLogsEveryRefusal: two alerts of one
// notification are refused at once, for two reasons. The answer is the
// 503 of a notification partly stored, and the log names both refusals:
// only the first was, the other dropped unseen.
func TestFingerprintNotificationLogsEveryRefusal(t *testing.T) {
	full := fmt.Errorf("%w: bolt: write: no space left on device", store.ErrUnavailable)
	slow := fmt.Errorf("%w: %w: redis: i/o timeout", store.ErrUnavailable, store.ErrOutcomeUnknown)
	st := &twoRefusalsStore{Store: boltStore(t), refuse: map[string]error{"job-00002": full, "job-00005": slow}}
	st.came.Add(len(st.refuse))
	h := newHarness(t, withStore(st), withConfig(noStorm))
	statuses := make([]string, 20)
	for i := range statuses {
		statuses[i] = "firing"
	}
	r := h.do("POST", "/api/v1/alertmanager", mixedAlerts("firing", "g-two", statuses), "Authorization", "Bearer "+batchKey)
	if r.code != 503 || strings.Contains(r.body, "nothing was stored") {
		t.Fatalf("two alerts refused: %d %.300s, want the 503 of a notification partly stored", r.code, r.body)
	}
	logs := h.logs.String()
	for _, err := range []error{full, slow} {
		if !strings.Contains(logs, err.Error()) {
			t.Errorf("the log does not name the refusal %q:\n%s", err, logs)
		}
	}
}
