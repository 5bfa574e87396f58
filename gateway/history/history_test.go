package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/boltstore"
	"github.com/pagerd/pagerd/policy"
	"github.com/pagerd/pagerd/report"
)

func loadConfig(t *testing.T, name string) *policy.Config {
	t.Helper()
	cfg, err := policy.LoadFile("../../configs/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func openStore(t *testing.T) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// put stores an incident of service "aion-r-platform" created at `at`,
// resolved at resolved unless that is zero, with a trigger entry.
func put(t *testing.T, s store.Store, key string, at, resolved time.Time) string {
	t.Helper()
	inc := &store.Incident{ID: store.NewID(store.ShardOf("aion-r-platform", key), at), Service: "aion-r-platform", DedupKey: key,
		Source: "api", Summary: "incident " + key, CreatedAt: at, UpdatedAt: at, LastSeen: at,
		State: policy.Incident{Service: "aion-r-platform", Priority: "SEV-2", Status: policy.StatusTriggered, TriggeredAt: at}}
	inc.State.ID = inc.ID
	if !resolved.IsZero() {
		inc.State.Status, inc.State.ResolvedAt, inc.State.ResolvedBy = policy.StatusResolved, resolved, "eng-a"
	}
	if _, _, err := s.Trigger(context.Background(), inc, []store.Entry{{At: at, Type: "trigger", Actor: "alertmanager"}}); err != nil {
		t.Fatal(err)
	}
	return inc.ID
}

// TestParseTime: a date is the date at the time report weeks begin, in
// their zone, so whole weeks are written as dates; RFC 3339 is taken as
// it is.
func TestParseTime(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	aivo, aion := loadConfig(t, "aivo.yaml"), loadConfig(t, "aion-r.yaml")
	for _, tc := range []struct {
		cfg  *policy.Config
		in   string
		want time.Time
	}{
		{aivo, "2025-09-29", time.Date(2025, 9, 29, 8, 0, 0, 0, ny)},
		{aivo, "2025-11-03", time.Date(2025, 11, 3, 8, 0, 0, 0, ny)}, // after the clocks went back
		{aion, "2025-10-06", time.Date(2025, 10, 6, 0, 0, 0, 0, time.UTC)},
		{aion, "2025-10-06T12:30:00+02:00", time.Date(2025, 10, 6, 10, 30, 0, 0, time.UTC)},
	} {
		got, err := ParseTime(tc.cfg, tc.in)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseTime(%q) = %s %v, want %s", tc.in, got, err, tc.want)
		}
	}
	if _, err := ParseTime(aivo, "yesterday"); err == nil || !strings.Contains(err.Error(), "neither a date") {
		t.Errorf("a bad bound: %v", err)
	}
}

// TestPeriod: the API and the console's reports page refuse the same
// periods, for the same reasons.
func TestPeriod(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	aivo := loadConfig(t, "aivo.yaml")
	from, to, err := Period(aivo, "2025-09-29", "2025-10-13")
	if err != nil || !from.Equal(time.Date(2025, 9, 29, 8, 0, 0, 0, ny)) || !to.Equal(time.Date(2025, 10, 13, 8, 0, 0, 0, ny)) {
		t.Errorf("Period = %s, %s, %v", from, to, err)
	}
	for _, tc := range []struct{ from, to, want string }{
		{"", "2025-10-13", "from is required"},
		{"2025-09-29", "", "to is required"},
		{"yesterday", "2025-10-13", "from: \"yesterday\" is neither a date"},
		{"2025-09-29", "soon", "to: \"soon\" is neither a date"},
		{"2025-10-13", "2025-09-29", "to must be after from"},
		{"2025-09-29", "2025-09-29", "to must be after from"},
		{"2000-01-03", "2025-09-29", "longer than 520 weeks"},
	} {
		t.Run(tc.from+"_"+tc.to, func(t *testing.T) {
			if _, _, err := Period(aivo, tc.from, tc.to); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Period(%q, %q) = %v, want %q", tc.from, tc.to, err, tc.want)
			}
		})
	}
}

// TestRetentionRunsInBatchesWithinItsBudget: one run removes a batch at a
// time and stops when its budget is spent, leaving the job due at once for
// the rest; the run that finishes schedules the next day's. The cut-off is
// server.retention before now.
func TestRetentionRunsInBatchesWithinItsBudget(t *testing.T) {
	s := openStore(t)
	cfg := loadConfig(t, "aion-r.yaml") // retention: the 400d default
	now := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	old := now.Add(-401 * 24 * time.Hour)
	for i := range 5 {
		put(t, s, fmt.Sprint("old", i), old.Add(time.Duration(i)*time.Minute), old.Add(time.Hour))
	}
	kept := put(t, s, "recent", old, now.Add(-399*24*time.Hour))
	open := put(t, s, "open", old, time.Time{})
	r := NewRetention(Retention{Store: s, Config: func() *policy.Config { return cfg }, Now: func() time.Time { return now }, Batch: 2, Budget: time.Nanosecond})
	var dues []time.Time
	for range 3 {
		next, err := r.Run(context.Background(), &store.Job{Kind: RetentionKind, Key: RetentionKey})
		if err != nil {
			t.Fatal(err)
		}
		dues = append(dues, next.Due)
	}
	if want := []time.Time{now, now, now.Add(24 * time.Hour)}; fmt.Sprint(dues) != fmt.Sprint(want) {
		t.Fatalf("next runs %v, want %v", dues, want)
	}
	var left []string
	_ = s.History(context.Background(), time.Time{}, time.Time{}, func(inc *store.Incident, _ []store.Entry) error {
		left = append(left, inc.ID)
		return nil
	})
	if len(left) != 2 || !strings.Contains(strings.Join(left, " "), kept) || !strings.Contains(strings.Join(left, " "), open) {
		t.Fatalf("left %v, want the recent and the open incident", left)
	}
	if got := Cutoff(cfg, now); !got.Equal(now.Add(-400 * 24 * time.Hour)) {
		t.Errorf("cut-off %s", got)
	}
}

// failingExpire is a store whose Expire fails.
type failingExpire struct{ *boltstore.Store }

func (failingExpire) Expire(context.Context, time.Time, int) (int, bool, error) {
	return 0, false, fmt.Errorf("%w: disk gone", store.ErrUnavailable)
}

// TestRetentionErrorLeavesTheJobToItsLease: a store that refuses makes the
// run fail, so the job comes back when its lease ends.
func TestRetentionErrorLeavesTheJobToItsLease(t *testing.T) {
	cfg := loadConfig(t, "aion-r.yaml")
	r := NewRetention(Retention{Store: failingExpire{openStore(t)}, Config: func() *policy.Config { return cfg }})
	if next, err := r.Run(context.Background(), &store.Job{}); err == nil || next != nil {
		t.Fatalf("Run = %v, %v", next, err)
	}
}

// TestHandoffReadsWhatIsOpenAtItsTime: a handoff document made six hours
// after the handoff lists what is open then: an incident opened six weeks
// before and still open (read from the open index) and one opened after
// the handoff, not one resolved long ago; its week is the one before the
// handoff.
func TestHandoffReadsWhatIsOpenAtItsTime(t *testing.T) {
	s := openStore(t)
	cfg := loadConfig(t, "aion-r.yaml")
	handoff := time.Date(2025, 10, 13, 0, 0, 0, 0, time.UTC) // a Monday
	long := handoff.Add(-6 * 7 * 24 * time.Hour)
	stale := put(t, s, "stale", long, time.Time{})
	put(t, s, "done", long, long.Add(time.Hour))
	put(t, s, "week", handoff.Add(-2*24*time.Hour), handoff.Add(-47*time.Hour))
	later := put(t, s, "later", handoff.Add(time.Hour), time.Time{})
	doc, err := Handoff(context.Background(), Store{Store: s}, cfg, "aion-r-oncall", handoff.Add(6*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var open []string
	for _, o := range doc.Open {
		open = append(open, o.ID)
	}
	if !doc.Handoff.Equal(handoff) || doc.Incidents != 1 || fmt.Sprint(open) != fmt.Sprint([]string{stale, later}) {
		t.Fatalf("handoff %s, %d incidents in the week, open %v (want %s and %s)", doc.Handoff, doc.Incidents, open, stale, later)
	}
}

// TestHandoffPosterAnswers: what a poster answers decides the job's next
// run. Posted, not posted by the config (ErrNotPosted) and refused for
// good (ErrRefused) all move on to the next handoff, the two last saying
// why in the log; any other error leaves the job to its lease, to be tried
// again.
func TestHandoffPosterAnswers(t *testing.T) {
	cfg := loadConfig(t, "aion-r.yaml")
	handoff := time.Date(2025, 10, 13, 0, 0, 0, 0, time.UTC)
	nextHandoff := handoff.Add(7 * 24 * time.Hour)
	for _, tc := range []struct {
		name    string
		err     error
		retried bool
		log     string
	}{
		{"posted", nil, false, `"level":"INFO","msg":"handoff: document posted"`},
		{"not posted", fmt.Errorf("%w: no channel", ErrNotPosted), false, `"level":"INFO","msg":"handoff: document not posted","schedule":"aion-r-oncall","handoff":"2025-10-13T00:00:00Z","why":"handoff document not posted: no channel"`},
		{"refused", fmt.Errorf("%w: #gone: channel_not_found", ErrRefused), false, `"level":"ERROR","msg":"handoff: document not posted, refused for good"`},
		{"failed", errors.New("slack chat.postMessage: ratelimited"), true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs strings.Builder
			h := NewHandoffs(Handoffs{Source: Store{Store: openStore(t)}, Config: func() *policy.Config { return cfg },
				Now:    func() time.Time { return handoff.Add(time.Minute) },
				Post:   func(context.Context, string, *report.HandoffDoc) error { return tc.err },
				Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
			next, err := h.Run(context.Background(), &store.Job{Kind: HandoffKind, Key: "aion-r-oncall", Due: handoff})
			if tc.retried {
				if err == nil || next != nil {
					t.Fatalf("Run = %+v, %v; want the error, for the lease", next, err)
				}
				return
			}
			if err != nil || next == nil || !next.Due.Equal(nextHandoff) {
				t.Fatalf("Run = %+v, %v; want the next handoff", next, err)
			}
			if !strings.Contains(logs.String(), tc.log) {
				t.Errorf("log:\n%s\nwant %s", logs.String(), tc.log)
			}
		})
	}
}

// storedAfterRead is a store whose read of the job stored finds it
// missing and then stores it: what another replica does between an
// Ensure's read and its write (its Ensure, then its dispatcher finishing
// the job's run).
type storedAfterRead struct {
	*boltstore.Store
	stored store.Job
}

func (s *storedAfterRead) GetJob(ctx context.Context, kind, key string) (*store.Job, error) {
	j, err := s.Store.GetJob(ctx, kind, key)
	if errors.Is(err, store.ErrNotFound) && kind == s.stored.Kind && key == s.stored.Key {
		if perr := s.Store.PutJob(ctx, s.stored); perr != nil {
			return nil, perr
		}
	}
	return j, err
}

// TestEnsureKeepsAJobStoredSinceItsRead: a replica starting a second
// before a handoff finds no handoff job; before it stores one, another
// replica's dispatcher posts that handoff's document and stores the job
// at the next handoff. Ensure keeps it. (Before: it wrote the job due at
// the handoff just posted, and the document was posted twice.) The
// retention job likewise stays where its run put it.
func TestEnsureKeepsAJobStoredSinceItsRead(t *testing.T) {
	cfg := loadConfig(t, "aion-r.yaml")
	handoff := time.Date(2025, 10, 13, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return handoff.Add(-time.Second) }
	for _, tc := range []struct {
		name   string
		stored store.Job
		ensure func(s *storedAfterRead) error
	}{
		{"handoff", store.Job{Kind: HandoffKind, Key: "aion-r-oncall", Due: handoff.Add(7 * 24 * time.Hour)}, func(s *storedAfterRead) error {
			return NewHandoffs(Handoffs{Jobs: s, Config: func() *policy.Config { return cfg }, Now: now}).Ensure(context.Background())
		}},
		{"retention", store.Job{Kind: RetentionKind, Key: RetentionKey, Due: handoff.Add(24 * time.Hour)}, func(s *storedAfterRead) error {
			return NewRetention(Retention{Store: s, Config: func() *policy.Config { return cfg }, Now: now}).Ensure(context.Background())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &storedAfterRead{Store: openStore(t), stored: tc.stored}
			if err := tc.ensure(s); err != nil {
				t.Fatal(err)
			}
			got, err := s.Store.GetJob(context.Background(), tc.stored.Kind, tc.stored.Key)
			if err != nil || !got.Due.Equal(tc.stored.Due) {
				t.Fatalf("the job after Ensure: %+v %v; want the one stored meanwhile, due %v", got, err, tc.stored.Due)
			}
		})
	}
}

// TestRemoteReadsTheStreamAndSaysWhenItIsCut: the client reads the
// history stream line by line; an error answer says the server's reason;
// a stream cut short is an error, not a short history.
func TestRemoteReadsTheStreamAndSaysWhenItIsCut(t *testing.T) {
	inc := report.Incident{ID: "00-a", Service: "api", Status: "resolved", CreatedAt: time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)}
	line, _ := json.Marshal(inc)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != HistoryPath || r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"API token required"}`))
			return
		}
		if r.URL.Query().Get("open") != "true" || r.URL.Query().Get("from") != "2025-09-08T00:00:00Z" {
			t.Errorf("query %s", r.URL.RawQuery)
		}
		w.Header().Set("Content-Type", NDJSON)
		_, _ = w.Write(append(line, '\n'))
		_, _ = w.Write(append(line, '\n'))
		if r.URL.Query().Get("to") == "2025-09-15T00:00:00Z" {
			return
		}
		_, _ = w.Write(line[:10])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}))
	defer srv.Close()
	from := time.Date(2025, 9, 8, 0, 0, 0, 0, time.UTC)
	read := func(r Remote, to time.Time) (int, error) {
		n := 0
		err := r.Incidents(context.Background(), from, to, true, func(got *report.Incident) error {
			if got.ID != "00-a" || !got.CreatedAt.Equal(inc.CreatedAt) {
				t.Errorf("read %+v", got)
			}
			n++
			return nil
		})
		return n, err
	}
	if n, err := read(Remote{URL: srv.URL, Token: "tok"}, from.Add(7*24*time.Hour)); err != nil || n != 2 {
		t.Errorf("whole stream: %d, %v", n, err)
	}
	if n, err := read(Remote{URL: srv.URL, Token: "tok"}, from.Add(8*24*time.Hour)); err == nil || !strings.Contains(err.Error(), "cut off") || n != 2 {
		t.Errorf("cut stream: %d, %v", n, err)
	}
	if _, err := read(Remote{URL: srv.URL + "/", Token: "bad"}, from.Add(7*24*time.Hour)); err == nil ||
		!strings.Contains(err.Error(), "401 Unauthorized: API token required") {
		t.Errorf("refused: %v", err)
	}
	stop := errors.New("stop")
	if err := (Remote{URL: srv.URL, Token: "tok"}).Incidents(context.Background(), from, from.Add(7*24*time.Hour), true,
		func(*report.Incident) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("the reader's error: %v", err)
	}
}

// TestParseTimeOnADayMidnightIsSkipped: report weeks that begin at 00:00
// in Santiago begin at 01:00 on the day DST starts there (the clocks go
// from 23:59 to 01:00), not at 23:00 the day before.
func TestParseTimeOnADayMidnightIsSkipped(t *testing.T) {
	cfg, err := policy.Parse([]byte(`
users:
  - {id: ann, name: Ann, contacts: [{channel: sms, via: log}]}
schedules:
  - name: s
    time_zone: America/Santiago
    handoff: {weekday: sunday, time: "00:00"}
    tiers: [{name: primary, start: 2026-08-30, members: [ann]}]
escalation_policies:
  - name: p
    levels: [{name: primary, targets: [{schedule: s, tier: primary}], timeout: 15m}]
services:
  - {name: api, priority_scheme: P0-P3, escalation_policy: p}
reports:
  week: {time_zone: America/Santiago, weekday: sunday, time: "00:00"}
`), "skip.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	scl, _ := time.LoadLocation("America/Santiago")
	got, err := ParseTime(cfg, "2026-09-06")
	if want := time.Date(2026, 9, 6, 1, 0, 0, 0, scl); err != nil || !got.Equal(want) || got.In(scl).Day() != 6 {
		t.Fatalf("ParseTime(2026-09-06) = %s %v, want %s: the week would take in the last hour of Saturday", got.In(scl), err, want)
	}
}

// TestRemoteReadsTheChanges: pagerd handoff --server with a local config
// reads the week's change events from GET /api/v1/changes, those of the
// schedule's services, each with its first link.
func TestRemoteReadsTheChanges(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != ChangesPath || r.Header.Get("Authorization") != "Bearer tok" || q.Get("since") != "2025-09-08T00:00:00Z" ||
			q.Get("until") != "2025-09-15T00:00:00Z" {
			t.Errorf("asked %s %s", r.URL.Path, r.URL.RawQuery)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"changes":[{"id":"ch-2","service":"api","summary":"deploy v2","source":"argo","timestamp":"2025-09-10T06:00:00Z",` +
			`"links":[{"href":"https://ci.example.com/2"},{"href":"https://ci.example.com/other"}]},` +
			`{"id":"ch-1","service":"batch","summary":"deploy batch","timestamp":"2025-09-09T06:00:00Z"}]}`))
	}))
	defer srv.Close()
	from := time.Date(2025, 9, 8, 0, 0, 0, 0, time.UTC)
	got, err := Remote{URL: srv.URL, Token: "tok"}.Changes(context.Background(), []string{"api"}, from, from.Add(7*24*time.Hour))
	want := []report.Change{{At: time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC), Service: "api", Summary: "deploy v2", Source: "argo", Link: "https://ci.example.com/2"}}
	if err != nil || len(got) != 1 || got[0] != want[0] {
		t.Fatalf("changes %+v, %v; want %+v", got, err, want)
	}
}

// TestRemoteChangesOfAnOlderServerAreNone: a pagerd from before change
// events were kept answers GET /api/v1/changes 404; a newer `pagerd
// handoff --server` against it makes the document with the template's
// prompts, as for a week with no changes, instead of failing whole. Any
// other refusal (401, 503) is still an error.
func TestRemoteChangesOfAnOlderServerAreNone(t *testing.T) {
	code := http.StatusNotFound
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"error":"Not Found"}`))
	}))
	defer srv.Close()
	from := time.Date(2025, 9, 8, 0, 0, 0, 0, time.UTC)
	got, err := Remote{URL: srv.URL, Token: "tok"}.Changes(context.Background(), []string{"api"}, from, from.Add(7*24*time.Hour))
	if err != nil || len(got) != 0 {
		t.Fatalf("changes from a server without the API: %+v, %v; want none, no error", got, err)
	}
	code = http.StatusServiceUnavailable
	if _, err := (Remote{URL: srv.URL, Token: "tok"}).Changes(context.Background(), []string{"api"}, from, from.Add(7*24*time.Hour)); err == nil {
		t.Fatal("a 503 from the changes API: no error; want one")
	}
}

// TestRemoteChangesOfABusyOtherServiceLeaveTheSchedulesOwn: the server
// keeps changes of every service, and another service's deploys of the
// week (a thousand: the most one answer lists) are newer than the
// schedule's service's one. Asked for every service's newest, that one
// was cut off and the handoff document listed no change; asked by
// service, it is listed.
func TestRemoteChangesOfABusyOtherServiceLeaveTheSchedulesOwn(t *testing.T) {
	from := time.Date(2025, 9, 8, 0, 0, 0, 0, time.UTC)
	type change struct {
		ID      string    `json:"id"`
		Service string    `json:"service"`
		Summary string    `json:"summary"`
		At      time.Time `json:"timestamp"`
	}
	var kept []change // newest first, as the API lists them
	for i := range 1000 {
		kept = append(kept, change{fmt.Sprintf("ch-b%d", i), "batch", "deploy batch", from.Add(6*24*time.Hour - time.Duration(i)*time.Minute)})
	}
	kept = append(kept, change{"ch-a", "api", "deploy api v2", from.Add(time.Hour)})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit, _ := strconv.Atoi(q.Get("limit"))
		page := []change{}
		for _, c := range kept {
			if (q.Get("service") == "" || q.Get("service") == c.Service) && len(page) < limit {
				page = append(page, c)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"changes": page, "more": len(page) == limit})
	}))
	defer srv.Close()
	got, err := Remote{URL: srv.URL, Token: "tok"}.Changes(context.Background(), []string{"api"}, from, from.Add(7*24*time.Hour))
	if err != nil || len(got) != 1 || got[0].Summary != "deploy api v2" {
		t.Fatalf("changes of api: %+v, %v; want its one deploy", got, err)
	}
}
