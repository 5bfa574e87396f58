package dispatch

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/boltstore"
	"github.com/pagerd/pagerd/policy"
)

// A storm message's report noted before its notes (lateStormReports),
// looked for in a store that refuses reads, or whose oldest incident of
// the message is gone. The incidents are in a real embedded store.

// lateStore counts timeline reads, and refuses them with readErr, and
// reads of incidents with getErr.
type lateStore struct {
	store.Store
	readErr, getErr error
	reads           atomic.Int32
}

func (s *lateStore) Get(ctx context.Context, id string) (*store.Incident, error) {
	if s.getErr != nil {
		return nil, s.getErr
	}
	return s.Store.Get(ctx, id)
}

func (s *lateStore) Timeline(ctx context.Context, id string) ([]store.Entry, error) {
	s.reads.Add(1)
	if s.readErr != nil {
		return nil, s.readErr
	}
	return s.Store.Timeline(ctx, id)
}

// syncBuffer is a log's output, written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// lateSetup is a dispatcher on an embedded store (through lateStore),
// with its log, and the config it runs.
func lateSetup(t *testing.T) (*Dispatcher, *lateStore, *syncBuffer, *policy.Config) {
	t.Helper()
	cfg, err := policy.Parse([]byte(flushConfig), "test.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bs, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.Close() })
	st := &lateStore{Store: bs}
	logs := &syncBuffer{}
	d := New(Options{Store: st, Config: func() *policy.Config { return cfg }, Registry: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	return d, st, logs, cfg
}

// stormNotes are a storm message's notes for n incidents, oldest first,
// each its page in the message (bundle), for its step "d-<id>"; the
// incident i's dedup key is i.
func stormNotes(n int, bundle string, t0 time.Time) ([]string, map[string][]store.Entry) {
	ids := make([]string, n)
	notes := map[string][]store.Entry{}
	for i := range ids {
		ids[i] = store.NewID(store.ShardOf("api", fmt.Sprint(i)), t0.Add(time.Duration(i)*time.Millisecond))
		notes[ids[i]] = []store.Entry{{At: t0, Type: "notify", Level: 1, User: "ann", Channel: "push", Bundle: bundle,
			Detail: "via log, in one message (alert storm)", Step: "d-" + ids[i]}}
	}
	return ids, notes
}

// TestLateStormReportsReadOnceFromAStoreThatRefuses: the store refused
// the first timeline read of a 1,000-incident storm message's check for
// a report noted before its notes. The check took that as "the others
// may hold one" and read all 999 others, 16 at once, from the store that
// refused, with a warning each: 1,000 reads and 1,000 warnings at the
// moment the store was down. Now the first read the store refuses ends
// the check, with one warning: the pages count as gone out, as before.
func TestLateStormReportsReadOnceFromAStoreThatRefuses(t *testing.T) {
	d, st, logs, cfg := lateSetup(t)
	st.readErr = fmt.Errorf("%w: connection refused", store.ErrUnavailable)
	_, notes := stormNotes(1000, store.NewBundleID("ann/push", time.Now()), time.Now().UTC())
	d.lateStormReports(context.Background(), cfg, notes)
	warns := strings.Count(logs.String(), "level=WARN")
	if got := st.reads.Load(); got != 1 || warns != 1 {
		t.Errorf("%d timeline reads and %d warnings from a store that refuses them, want 1 and 1", got, warns)
	}
}

// TestLateStormReportsPassOverAnIncidentGone: the oldest incident of a
// storm message was gone (deleted, or expired) when its flush looked for
// a report of the message noted before its notes, and the check stopped
// there: the two others, whose timelines hold the report, counted their
// pages in it as gone out, and their level kept its timeout. Now an
// incident gone is passed over, and the oldest still kept is read.
func TestLateStormReportsPassOverAnIncidentGone(t *testing.T) {
	d, st, _, cfg := lateSetup(t)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	bundle := store.NewBundleID("ann/push", t0)
	ids, notes := stormNotes(3, bundle, t0)
	for i, id := range ids[1:] { // the first is gone
		inc := &store.Incident{ID: id, Service: "api", DedupKey: fmt.Sprint(i + 1), CreatedAt: t0, UpdatedAt: t0, LastSeen: t0,
			State: policy.Incident{Service: "api", Status: policy.StatusTriggered, LevelPages: []string{"d-" + id}}}
		report := store.Entry{At: t0, Type: incident.DeliveryFailed, User: "ann", Channel: "push", Bundle: bundle, Unreached: true}
		if _, _, err := st.Trigger(ctx, inc, []store.Entry{report}); err != nil {
			t.Fatal(err)
		}
	}
	kept := maps.Clone(notes) // Note takes out what it notes
	delete(kept, ids[0])
	if err := st.Note(ctx, kept); err != nil {
		t.Fatal(err)
	}
	d.lateStormReports(ctx, cfg, notes)
	if got := testutil.ToFloat64(d.m.lateReports.WithLabelValues("push")); got != 2 {
		t.Errorf("pagerd_delivery_reports_applied_late_total{channel=push} %v, want 2: the report in both incidents still kept", got)
	}
	for _, id := range ids[1:] {
		inc, err := st.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(inc.State.LevelPages) != 0 {
			t.Errorf("%s: the level's pages %v, want its page in the message counted as reaching nobody", id, inc.State.LevelPages)
		}
	}
}

// TestRefusedForwardRefusedIsLoggedOnce: a storm message to 200
// incidents failed, and the store refused the writes that bring their
// next steps forward: one error line each, 200 at the moment the store
// was down. Now one line says how many, and which first.
func TestRefusedForwardRefusedIsLoggedOnce(t *testing.T) {
	d, st, logs, cfg := lateSetup(t)
	st.getErr = fmt.Errorf("%w: connection refused", store.ErrUnavailable)
	ids, _ := stormNotes(200, "", time.Now().UTC())
	d.refusedForward(context.Background(), cfg, "ann", "push", ids)
	if got := strings.Count(logs.String(), "level=ERROR"); got != 1 || !strings.Contains(logs.String(), "incidents=200") {
		t.Errorf("%d error lines for 200 steps not brought forward, want 1 that counts them:\n%s", got, logs)
	}
}
