package overrides_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/overrides"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/boltstore"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/internal/redistest"
	"github.com/pagerd/pagerd/policy"
)

const cfgYAML = `
users:
  - {id: ann, contacts: [{channel: push, via: log}]}
  - {id: bob, contacts: [{channel: push, via: log}]}
  - {id: cat, contacts: [{channel: push, via: log}]}
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: primary, start: 2025-01-06, members: [ann, bob]}
      - {name: secondary, start: 2025-01-06, members: [bob, ann]}
escalation_policies:
  - name: p
    levels:
      - {name: primary, targets: [{schedule: s, tier: primary}]}
services:
  - {name: api, priority_scheme: P0-P3, escalation_policy: p}
`

// now is a Wednesday of a week bob is primary (week of Sep 8, 2025);
// ann is primary the week after, and so on.
var now = time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)

func config(t *testing.T) *policy.Config {
	t.Helper()
	c, err := policy.Parse([]byte(cfgYAML), "t.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func stores(t *testing.T) map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"embedded": func(t *testing.T) store.Store {
			s, err := boltstore.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"redis": func(t *testing.T) store.Store {
			r := redistest.Start(t)
			rdb := redis.NewClient(&redis.Options{Addr: r.Addr, ContextTimeoutEnabled: true})
			t.Cleanup(func() { rdb.Close() })
			return redisstore.New(rdb, "t")
		},
	}
}

func service(st store.Store, cfg *policy.Config) *overrides.Service {
	return overrides.New(overrides.Options{Store: st, Config: func() *policy.Config { return cfg },
		Now: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

func holder(t *testing.T, s *overrides.Service, tier string, at time.Time) policy.OnCallEntry {
	t.Helper()
	rows, err := s.Config().WhoIsOnCall(at, "s")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Tier == tier {
			return r
		}
	}
	t.Fatalf("no tier %s", tier)
	return policy.OnCallEntry{}
}

func TestOverrides(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open(t)
			cfg := config(t)
			a, b := service(st, cfg), service(st, cfg) // two replicas

			// Take the shift now, for four hours: one call.
			made, err := a.Create(ctx, "s", overrides.Request{Tier: "primary", User: "cat", Start: now, End: now.Add(4 * time.Hour), Reason: "bob at the dentist"}, "api:ops")
			if err != nil {
				t.Fatal(err)
			}
			o := made[0]
			if len(made) != 1 || o.Replaces != "bob" || o.CreatedBy != "api:ops" || !o.CreatedAt.Equal(now) || !strings.HasPrefix(o.ID, "ov-") {
				t.Fatalf("made %+v", made)
			}
			if r := holder(t, a, "primary", now.Add(time.Hour)); r.User != "cat" || !r.Override || r.OverrideID != o.ID {
				t.Fatalf("on the replica that made it: %+v", r)
			}
			// The other replica sees it once it reads (Run: at a nudge).
			if r := holder(t, b, "primary", now.Add(time.Hour)); r.User != "bob" {
				t.Fatalf("replica b knew before reading: %+v", r)
			}
			if err := b.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			if r := holder(t, b, "primary", now.Add(time.Hour)); r.User != "cat" || r.Reason != "bob at the dentist" {
				t.Fatalf("on the other replica: %+v", r)
			}

			// Overlapping on the same tier: refused, naming the one in the way.
			_, err = b.Create(ctx, "s", overrides.Request{Tier: "primary", User: "ann", Start: now.Add(3 * time.Hour), End: now.Add(5 * time.Hour)}, "api:x")
			if !errors.Is(err, overrides.ErrOverlap) || !strings.Contains(err.Error(), o.ID) {
				t.Fatalf("overlap: %v", err)
			}
			// Another tier at the same time is fine.
			if _, err := b.Create(ctx, "s", overrides.Request{Tier: "secondary", User: "cat", Start: now, End: now.Add(time.Hour)}, "api:x"); err != nil {
				t.Fatal(err)
			}

			// Bad requests.
			for _, bad := range []overrides.Request{
				{Tier: "tertiary", User: "cat", Start: now, End: now.Add(time.Hour)},
				{Tier: "primary", User: "nobody", Start: now.Add(5 * time.Hour), End: now.Add(6 * time.Hour)},
				{Tier: "primary", User: "cat", Start: now.Add(6 * time.Hour), End: now.Add(5 * time.Hour)},
				{Tier: "primary", User: "cat", Start: now.Add(-6 * time.Hour), End: now.Add(-5 * time.Hour)},
			} {
				if _, err := a.Create(ctx, "s", bad, "api:x"); !errors.Is(err, overrides.ErrBadInput) {
					t.Errorf("%+v: %v", bad, err)
				}
			}
			if _, err := a.Create(ctx, "nope", overrides.Request{}, "api:x"); !errors.Is(err, overrides.ErrNotFound) {
				t.Errorf("unknown schedule: %v", err)
			}

			// A swap is one call: ann takes bob's week, and bob takes
			// ann's week in return.
			bobWeek := time.Date(2025, 9, 22, 0, 0, 0, 0, time.UTC)
			annWeek := time.Date(2025, 9, 29, 0, 0, 0, 0, time.UTC)
			sw, err := a.Create(ctx, "s", overrides.Request{Tier: "primary", User: "ann", Start: bobWeek, End: bobWeek.AddDate(0, 0, 7),
				SwapStart: annWeek, SwapEnd: annWeek.AddDate(0, 0, 7), Reason: "swap"}, "api:ops")
			if err != nil {
				t.Fatal(err)
			}
			if len(sw) != 2 || sw[0].User != "ann" || sw[1].User != "bob" || sw[0].Swap != sw[1].ID || sw[1].Swap != sw[0].ID {
				t.Fatalf("swap %+v", sw)
			}
			if r := holder(t, a, "primary", bobWeek.Add(time.Hour)); r.User != "ann" {
				t.Fatalf("bob's week: %+v", r)
			}
			if r := holder(t, a, "primary", annWeek.Add(time.Hour)); r.User != "bob" {
				t.Fatalf("ann's week: %+v", r)
			}
			// A swap whose second shift is not the taker's is refused.
			_, err = a.Create(ctx, "s", overrides.Request{Tier: "secondary", User: "cat", Start: annWeek, End: annWeek.Add(time.Hour),
				SwapStart: bobWeek, SwapEnd: bobWeek.Add(time.Hour)}, "api:ops")
			if !errors.Is(err, overrides.ErrBadInput) {
				t.Fatalf("swap of someone else's shift: %v", err)
			}

			list, err := b.List(ctx, "s", false)
			if err != nil || len(list) != 4 {
				t.Fatalf("list %d %v", len(list), err)
			}
			// Deleting half a swap deletes both halves.
			gone, err := b.Delete(ctx, "s", sw[1].ID, "api:ops")
			if err != nil || len(gone) != 2 {
				t.Fatalf("delete swap: %+v %v", gone, err)
			}
			if _, err := b.Delete(ctx, "s", sw[1].ID, "api:ops"); !errors.Is(err, overrides.ErrNotFound) {
				t.Fatalf("delete again: %v", err)
			}
			if r := holder(t, b, "primary", bobWeek.Add(time.Hour)); r.User != "bob" || r.Override {
				t.Fatalf("after delete, on the replica that deleted: %+v", r)
			}
			if err := a.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			if r := holder(t, a, "primary", bobWeek.Add(time.Hour)); r.User != "bob" {
				t.Fatalf("after delete, on the other replica: %+v", r)
			}
		})
	}
}

// Two replicas making overlapping overrides at once: exactly one is made.
func TestOverridesConcurrentOverlapOneWins(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			cfg := config(t)
			var wg sync.WaitGroup
			errs := make([]error, 8)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s := service(st, cfg)
					_, errs[i] = s.Create(context.Background(), "s", overrides.Request{Tier: "primary", User: "cat",
						Start: now.Add(time.Duration(i) * time.Minute), End: now.Add(time.Hour)}, "api:x")
				}()
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, overrides.ErrOverlap):
					t.Errorf("unexpected error: %v", err)
				}
			}
			if ok != 1 {
				t.Fatalf("%d overlapping overrides made, want 1", ok)
			}
		})
	}
}

// Run reads the overrides again at a nudge, within moments.
func TestRunReadsAtANudge(t *testing.T) {
	st := stores(t)["embedded"](t)
	cfg := config(t)
	a, b := service(st, cfg), service(st, cfg)
	nudges := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); b.Run(ctx, nudges) }()
	if _, err := a.Create(ctx, "s", overrides.Request{Tier: "primary", User: "cat", Start: now, End: now.Add(time.Hour)}, "api:x"); err != nil {
		t.Fatal(err)
	}
	nudges <- struct{}{}
	deadline := time.Now().Add(2 * time.Second)
	for holder(t, b, "primary", now).User != "cat" {
		if time.Now().After(deadline) {
			t.Fatal("the nudged replica did not read the override")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
}

// TestOverrideLeftOutAfterAReloadIsLogged: an override whose user a
// reload removed can no longer be applied; it is left out of the merged
// config, and the log says so once, with its id, rather than it
// vanishing silently.
func TestOverrideLeftOutAfterAReloadIsLogged(t *testing.T) {
	ctx := context.Background()
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config(t)
	var logs strings.Builder
	s := overrides.New(overrides.Options{Store: st, Config: func() *policy.Config { return cfg },
		Now: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	made, err := s.Create(ctx, "s", overrides.Request{Tier: "primary", User: "cat", Start: now, End: now.Add(4 * time.Hour)}, "api:ops")
	if err != nil {
		t.Fatal(err)
	}
	if r := holder(t, s, "primary", now.Add(time.Hour)); r.User != "cat" {
		t.Fatalf("before the reload: %+v", r)
	}
	if strings.Contains(logs.String(), "left out") {
		t.Fatalf("logged before anything was left out:\n%s", logs.String())
	}

	// The reload: cat is no longer a user.
	reloaded, err := policy.Parse([]byte(strings.Replace(cfgYAML, "  - {id: cat, contacts: [{channel: push, via: log}]}\n", "", 1)), "t.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	cfg = reloaded
	if r := holder(t, s, "primary", now.Add(time.Hour)); r.User != "bob" || r.Override {
		t.Fatalf("after the reload: %+v", r)
	}
	_ = s.Config() // the same merge: not logged again
	if n := strings.Count(logs.String(), "overrides left out"); n != 1 ||
		!strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), made[0].ID) ||
		!strings.Contains(logs.String(), "count=1") {
		t.Errorf("logged %d times, want once with the id %s and count=1:\n%s", n, made[0].ID, logs.String())
	}
}

// TestOverrideLeftOutIsLoggedWhenTheSetChanges: the overrides are merged
// again at every reload and every change of any schedule's overrides; the
// warning about those left out comes once per set of them, not at each of
// those merges, and again when the set changes.
func TestOverrideLeftOutIsLoggedWhenTheSetChanges(t *testing.T) {
	ctx := context.Background()
	cfg := config(t)
	reload := func(yaml string) {
		t.Helper()
		c, err := policy.Parse([]byte(yaml), "t.yaml", "")
		if err != nil {
			t.Fatal(err)
		}
		cfg = c
	}
	var logs strings.Builder
	s := overrides.New(overrides.Options{Store: stores(t)["embedded"](t), Config: func() *policy.Config { return cfg },
		Now: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	create := func(tier, user string, start time.Time) string {
		t.Helper()
		made, err := s.Create(ctx, "s", overrides.Request{Tier: tier, User: user, Start: start, End: start.Add(time.Hour)}, "api:ops")
		if err != nil {
			t.Fatal(err)
		}
		return made[0].ID
	}
	warnings := func() int { return strings.Count(logs.String(), "overrides left out") }

	catsFirst := create("primary", "cat", now)
	withoutCat := strings.Replace(cfgYAML, "  - {id: cat, contacts: [{channel: push, via: log}]}\n", "", 1)
	reload(withoutCat)
	_ = s.Config()
	if n := warnings(); n != 1 || !strings.Contains(logs.String(), catsFirst) {
		t.Fatalf("after the reload that left %s out: %d warnings, want 1:\n%s", catsFirst, n, logs.String())
	}

	// The same one left out: a reload of the same file, an override made
	// on another tier.
	reload(withoutCat)
	_ = s.Config()
	create("secondary", "bob", now)
	_ = s.Config()
	if n := warnings(); n != 1 {
		t.Fatalf("the same override left out at later merges: %d warnings, want 1:\n%s", n, logs.String())
	}

	// cat back: none left out; another override of cat's, cat gone
	// again: two left out.
	reload(cfgYAML)
	_ = s.Config()
	if n := strings.Count(logs.String(), "none left out any more"); n != 1 {
		t.Fatalf("with cat back: %d lines saying none is left out, want 1:\n%s", n, logs.String())
	}
	catsSecond := create("primary", "cat", now.Add(2*time.Hour))
	reload(withoutCat)
	_ = s.Config()
	if n := warnings(); n != 2 {
		t.Fatalf("two overrides left out: %d warnings, want 2:\n%s", n, logs.String())
	}
	last := logs.String()[strings.LastIndex(logs.String(), "overrides left out"):]
	if !strings.Contains(last, "count=2") || !strings.Contains(last, catsFirst) || !strings.Contains(last, catsSecond) {
		t.Errorf("the second warning does not name both:\n%s", last)
	}
}

// TestReloadThatAddsAScheduleReadsItsOverridesAtOnce: a reload that brings
// a schedule (back) into the config, while overrides of it sit in the
// store (a config rolled back, a replica that reloads after another made
// them), pages by those overrides within moments, not after the next poll:
// until then the tier's rotation would be paged in the overriding
// person's place.
func TestReloadThatAddsAScheduleReadsItsOverridesAtOnce(t *testing.T) {
	st := stores(t)["embedded"](t)
	withT := strings.Replace(cfgYAML, "escalation_policies:", `  - name: t
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: primary, start: 2025-01-06, members: [ann]}
escalation_policies:`, 1)
	full, err := policy.Parse([]byte(withT), "t.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := service(st, full).Create(context.Background(), "t", overrides.Request{Tier: "primary", User: "cat", Start: now, End: now.Add(time.Hour)}, "api:x"); err != nil {
		t.Fatal(err)
	}
	var cur atomic.Pointer[policy.Config]
	cur.Store(config(t)) // without schedule t
	reads := make(chan string, 16)
	s := overrides.New(overrides.Options{Store: readsOf{st, reads}, Config: cur.Load, Now: func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PollInterval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx, nil) }()
	defer func() { cancel(); <-done }()
	// Run's first read has begun, with the schedules of the config
	// without t: a reload before it would let that read take in t's
	// overrides and pass without the fix. The next poll is an hour away.
	waitRead(t, reads, overrides.Kind("s"), "Run's first read")

	cur.Store(full) // the reload
	_ = s.Config()  // the first merge after it, as the next page makes
	waitRead(t, reads, overrides.Kind("t"), "a read of schedule t's overrides after the reload")
	deadline := time.Now().Add(2 * time.Second)
	for {
		rows, err := s.Config().WhoIsOnCall(now, "t")
		if err != nil {
			t.Fatal(err)
		}
		if rows[0].User == "cat" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("2 s after the reload schedule t's primary is %s, not cat by its override", rows[0].User)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readsOf is a store that says which kind of documents it was asked for,
// so a test waits for a read rather than for time to pass.
type readsOf struct {
	store.Docs
	reads chan<- string
}

func (r readsOf) ListDocs(ctx context.Context, kind string) (map[string][]byte, int64, error) {
	select {
	case r.reads <- kind:
	default:
	}
	return r.Docs.ListDocs(ctx, kind)
}

// waitRead waits up to 2 s for a read of kind, the reads of other kinds
// aside.
func waitRead(t *testing.T, reads <-chan string, kind, what string) {
	t.Helper()
	timeout := time.After(2 * time.Second)
	for {
		select {
		case k := <-reads:
			if k == kind {
				return
			}
		case <-timeout:
			t.Fatalf("%s (%s) did not come within 2 s", what, kind)
		}
	}
}

// Deleting an override that has begun keeps what it held: who was on
// call then is history (whom pages went to, whom reports pay, whom a
// handoff document names). One under way ends now, one that has ended
// stays, one yet to begin goes. Before, a delete took the override's past
// away with it: bob was then "on call" for the hours cat covered.
func TestDeleteKeepsWhatAnOverrideHeld(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open(t)
			cfg := config(t)
			clock := now
			s := overrides.New(overrides.Options{Store: st, Config: func() *policy.Config { return cfg },
				Now: func() time.Time { return clock }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			other := service(st, cfg) // another replica

			// cat covers bob's primary for four hours from now; ann takes
			// secondary later today.
			cover, err := s.Create(ctx, "s", overrides.Request{Tier: "primary", User: "cat", Start: now, End: now.Add(4 * time.Hour), Reason: "dentist"}, "api:ops")
			if err != nil {
				t.Fatal(err)
			}
			later, err := s.Create(ctx, "s", overrides.Request{Tier: "secondary", User: "cat", Start: now.Add(6 * time.Hour), End: now.Add(8 * time.Hour)}, "api:ops")
			if err != nil {
				t.Fatal(err)
			}

			// Two hours in, bob is back: the override ends now.
			clock = now.Add(2 * time.Hour)
			gone, err := s.Delete(ctx, "s", cover[0].ID, "api:bob")
			if err != nil || len(gone) != 1 || !gone[0].End.Equal(clock) || gone[0].EndedBy != "api:bob" {
				t.Fatalf("delete under way: %+v %v", gone, err)
			}
			if err := other.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			for _, svc := range []*overrides.Service{s, other} {
				if r := holder(t, svc, "primary", now.Add(time.Hour)); r.User != "cat" || !r.Override {
					t.Fatalf("the hour cat covered, after the delete: %+v", r)
				}
				if r := holder(t, svc, "primary", clock.Add(time.Minute)); r.User != "bob" || r.Override {
					t.Fatalf("after the delete: %+v", r)
				}
			}
			if list, err := s.List(ctx, "s", true); err != nil || len(list) != 2 || list[0].ID != cover[0].ID || !list[0].End.Equal(clock) {
				t.Fatalf("listed with ended: %+v %v", list, err)
			}

			// Ended: deleting it again is refused, and it stays.
			if _, err := s.Delete(ctx, "s", cover[0].ID, "api:bob"); !errors.Is(err, overrides.ErrEnded) {
				t.Fatalf("delete of an ended override: %v", err)
			}
			if r := holder(t, s, "primary", now.Add(time.Hour)); r.User != "cat" {
				t.Fatalf("after the refused delete: %+v", r)
			}

			// Yet to begin: deleted.
			if gone, err := s.Delete(ctx, "s", later[0].ID, "api:ops"); err != nil || len(gone) != 1 || gone[0].EndedBy != "" {
				t.Fatalf("delete of one to come: %+v %v", gone, err)
			}
			if list, err := s.List(ctx, "s", true); err != nil || len(list) != 1 {
				t.Fatalf("after deleting the one to come: %+v %v", list, err)
			}
		})
	}
}

// An override ended early ends on a whole second, as the API makes them
// (start defaults to now, to the second): someone taking the tier "now"
// right after the delete, in the same second, is not refused as
// overlapping the override just ended.
func TestOverrideEndedEarlyThenTakenNowInTheSameSecond(t *testing.T) {
	ctx := context.Background()
	st := stores(t)["embedded"](t)
	cfg := config(t)
	clock := now
	s := overrides.New(overrides.Options{Store: st, Config: func() *policy.Config { return cfg },
		Now: func() time.Time { return clock }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	cover, err := s.Create(ctx, "s", overrides.Request{Tier: "primary", User: "cat", Start: now, End: now.Add(4 * time.Hour)}, "api:ops")
	if err != nil {
		t.Fatal(err)
	}
	clock = now.Add(2*time.Hour + 300*time.Millisecond)
	gone, err := s.Delete(ctx, "s", cover[0].ID, "api:ops")
	if err != nil || len(gone) != 1 || !gone[0].End.Equal(now.Add(2*time.Hour)) {
		t.Fatalf("ended early: %+v %v", gone, err)
	}
	taken := clock.Truncate(time.Second) // the API's default start
	if _, err := s.Create(ctx, "s", overrides.Request{Tier: "primary", User: "ann", Start: taken, End: taken.Add(time.Hour)}, "api:ops"); err != nil {
		t.Fatalf("taken now, in the same second: %v", err)
	}
}

// An override asked to start in the past starts now: who was on call
// before stays as it was (the pages went to them; the reports, the feeds
// and `oncall --at` say so), as a deleted override keeps its past, and
// as PagerDuty keeps a schedule's history. It used to take the past too:
// the reports credited cat with bob's night.
func TestOverrideStartingInThePastStartsNow(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := service(open(t), config(t))
			made, err := s.Create(ctx, "s", overrides.Request{Tier: "primary", User: "cat", Start: now.Add(-3 * time.Hour), End: now.Add(time.Hour), Reason: "covered bob"}, "api:ops")
			if err != nil {
				t.Fatal(err)
			}
			if len(made) != 1 || !made[0].Start.Equal(now) || made[0].Replaces != "bob" {
				t.Fatalf("made %+v, want it to start now (%v), replacing bob", made, now)
			}
			if r := holder(t, s, "primary", now.Add(-time.Hour)); r.User != "bob" || r.Override {
				t.Fatalf("an hour ago: %+v, want bob as he was", r)
			}
			if r := holder(t, s, "primary", now.Add(30*time.Minute)); r.User != "cat" || !r.Override {
				t.Fatalf("in half an hour: %+v, want cat", r)
			}
			// An override ending in the past, and one of an ended span
			// before it, are still refused.
			if _, err := s.Create(ctx, "s", overrides.Request{Tier: "secondary", User: "cat", Start: now.Add(-3 * time.Hour), End: now.Add(-time.Hour)}, "api:x"); !errors.Is(err, overrides.ErrBadInput) {
				t.Fatalf("an override that ended: %v", err)
			}
		})
	}
}
