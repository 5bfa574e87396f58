package dispatch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/boltstore"
	"github.com/pagerd/pagerd/internal/logtest"
	"github.com/pagerd/pagerd/notify"
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

// lateSetup is a dispatcher on an embedded store (through lateStore),
// with its log, and the config it runs.
func lateSetup(t *testing.T) (*Dispatcher, *lateStore, *logtest.Buffer, *policy.Config) {
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
	logs := &logtest.Buffer{}
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
// The warning counts the 1,000 incidents not looked at (it said
// incidents=1, though none was).
func TestLateStormReportsReadOnceFromAStoreThatRefuses(t *testing.T) {
	d, st, logs, cfg := lateSetup(t)
	st.readErr = fmt.Errorf("%w: connection refused", store.ErrUnavailable)
	_, notes := stormNotes(1000, store.NewBundleID("ann/push", time.Now()), time.Now().UTC())
	d.lateStormReports(context.Background(), cfg, notes)
	warns := strings.Count(logs.String(), "level=WARN")
	if got := st.reads.Load(); got != 1 || warns != 1 {
		t.Errorf("%d timeline reads and %d warnings from a store that refuses them, want 1 and 1", got, warns)
	}
	if !strings.Contains(logs.String(), " not_read=1000 ") {
		t.Errorf("the warning does not count the 1,000 incidents not looked at:\n%s", logs.String())
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
	d.refusedForward(context.Background(), cfg, "ann", "push", ids, nil)
	if got := strings.Count(logs.String(), "level=ERROR"); got != 1 || !strings.Contains(logs.String(), "incidents=200") {
		t.Errorf("%d error lines for 200 steps not brought forward, want 1 that counts them:\n%s", got, logs)
	}
}

// refusedConfig has ann at the first level and bob at the second, each
// paged by one push.
const refusedConfig = `
users:
  - {id: ann, name: Ann, contacts: [{channel: push, via: log}]}
  - {id: bob, name: Bob, contacts: [{channel: push, via: log}]}
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: primary, start: 2025-01-06, members: [ann]}
      - {name: secondary, start: 2025-01-06, members: [bob]}
escalation_policies:
  - name: p
    levels:
      - {name: primary, timeout: 15m, targets: [{schedule: s, tier: primary}]}
      - {name: secondary, targets: [{schedule: s, tier: secondary}]}
services:
  - name: api
    priority_scheme: P0-P3
    escalation_policy: p
`

// TestStormMessageRefusedEscalatesALevelNobodyWasReachedAt: ann's push
// storm message, the only page of the first level of the two incidents
// it carried, was refused by the provider for certain (a 400). A push
// refused on its own counts its step as reaching nobody, and the level,
// nothing of which reached anyone, pages bob at once; the message's
// failure named no step, so both incidents waited out the level's 15
// minutes with nobody told. Now each incident's page in the message names
// the step it was held for, and bob is paged at once: the escalation is
// recorded in each timeline and counted, once.
func TestStormMessageRefusedEscalatesALevelNobodyWasReachedAt(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		escalate bool
		lost     bool // Flushed goes through and its answer is lost
	}{
		{"refused", errors.New("provider: 400 refused"), true, false},
		{"may have been sent", fmt.Errorf("provider: timeout: %w", notify.ErrMaybeSent), false, false},
		// The flush asked again and was told its claim was taken over:
		// nothing was brought forward, and the level waited out its 15
		// minutes with nobody told.
		{"refused, the flush's answer lost", errors.New("provider: 400 refused"), true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			cfg, err := policy.Parse([]byte(refusedConfig), "test.yaml", t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			bs, err := boltstore.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { bs.Close() })
			t0 := time.Now().UTC().Truncate(time.Millisecond)
			n := &countingNotifier{send: func(context.Context) error { return tc.err }}
			d := New(Options{Store: bs, Config: func() *policy.Config { return cfg }, Now: func() time.Time { return t0 }, Lease: 30 * time.Second,
				Notifiers: map[string]notify.Notifier{"log": n}, Registry: prometheus.NewRegistry(),
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if tc.lost {
				d.o.Store = &lostFlushed{Store: bs}
			}
			eng := policy.Engine{Config: cfg}
			svc := cfg.Service("api")
			var ids []string
			for i := range 2 {
				key := fmt.Sprint(i)
				route := cfg.Route(svc, nil, t0)
				st, _, err := eng.Apply(policy.Incident{Service: "api"}, policy.Event{Kind: policy.EventTrigger, Route: &route}, t0)
				if err != nil {
					t.Fatal(err)
				}
				// ann's push comes due, and is held for the storm.
				i := slices.IndexFunc(st.Pending, func(d policy.Deadline) bool { return d.Kind == policy.DeadlineNotify && d.User == "ann" })
				if i < 0 {
					t.Fatalf("no page to ann pending: %+v", st.Pending)
				}
				step := st.Pending[i].ID
				if st, _, err = eng.Apply(st, policy.Event{Kind: policy.EventDeadline, Deadline: step}, t0); err != nil {
					t.Fatal(err)
				}
				if !slices.Contains(st.LevelPages, step) {
					t.Fatalf("the level's pages %v lack ann's push %s", st.LevelPages, step)
				}
				inc := &store.Incident{ID: store.NewID(store.ShardOf("api", key), t0.Add(time.Duration(i)*time.Millisecond)), Service: "api",
					DedupKey: key, CreatedAt: t0, UpdatedAt: t0, LastSeen: t0, State: st}
				if _, _, err := bs.Trigger(ctx, inc, nil); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, inc.ID)
				if _, err := bs.HoldFailed(ctx, "ann/push", store.HeldPage{Incident: inc.ID, Deadline: step, Service: "api",
					Priority: "P1", Rank: 1, Summary: key, Due: t0, Via: "log"}, t0, stormRules(cfg)); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.flush(ctx, claimStorm(t, d, t0), t0.Add(d.sendWindow())); err != nil {
				t.Fatal(err)
			}
			if n.entered.Load() != 1 {
				t.Fatalf("%d storm messages tried, want 1", n.entered.Load())
			}
			for _, id := range ids {
				inc, err := bs.Get(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				tl, err := bs.Timeline(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				var escalations int
				for _, e := range tl {
					if e.Type == string(policy.ActionEscalate) {
						escalations++
					}
				}
				want := 0
				if tc.escalate {
					want = 1
				}
				if inc.State.Level != want || escalations != want {
					t.Errorf("%s: at level %d, %d escalations in its timeline; want level %d, %d", id, inc.State.Level+1, escalations, want+1, want)
				}
			}
			if got, want := testutil.ToFloat64(d.m.escalation.WithLabelValues("2")), map[bool]float64{true: 2}[tc.escalate]; got != want {
				t.Errorf("escalations to level 2 counted %v, want %v", got, want)
			}
		})
	}
}

// lostFlushed is a store whose first Flushed goes through and answers as
// a Redis timeout after the script ran does: it may have been stored.
type lostFlushed struct {
	store.Store
	lost atomic.Bool
}

func (s *lostFlushed) Flushed(ctx context.Context, c store.Claim, n, top int, now time.Time, r store.StormRules) (bool, error) {
	ok, err := s.Store.Flushed(ctx, c, n, top, now, r)
	if err == nil && ok && !s.lost.Swap(true) {
		return false, fmt.Errorf("%w: %w: redis: i/o timeout", store.ErrUnavailable, store.ErrOutcomeUnknown)
	}
	return ok, err
}
