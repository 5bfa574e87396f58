package notices

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/policy"
)

func parse(t *testing.T, before string) *policy.Config {
	t.Helper()
	cfg, err := policy.Parse([]byte(`
users:
  - {id: ann, name: Ann, contacts: [{channel: push, via: log}]}
  - {id: bob, name: Bob, contacts: [{channel: push, via: log}]}
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: primary, start: 2025-01-06, members: [ann, bob]}
    notices: {before: `+before+`}
escalation_policies:
  - {name: p, levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]}
services:
  - {name: api, priority_scheme: P0-P3, escalation_policy: p, integrations: {alertmanager_key: am-key-0123456789abcdef0123456789}}
`), "test.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestHandleTakesItsNextDueFromTheConfigAtItsEnd: a config that changed
// while the job ran (a reload, an override: arming leaves a due job
// alone) sets when the job is due next, not the config it began with.
func TestHandleTakesItsNextDueFromTheConfigAtItsEnd(t *testing.T) {
	began, changed := parse(t, "24h"), parse(t, "48h")
	calls := 0
	at := time.Date(2025, 9, 10, 12, 0, 0, 0, time.UTC) // Wednesday; the handoff is Monday Sep 15
	s := New(Options{Config: func() *policy.Config {
		calls++
		if calls == 1 {
			return began
		}
		return changed
	}, Now: func() time.Time { return at }})
	data, _ := json.Marshal(state{Last: at.Add(-time.Minute)})
	nextJob, err := s.Handle(context.Background(), &store.Job{Kind: Kind, Key: "s", Due: at, Data: data})
	if err != nil || nextJob == nil {
		t.Fatalf("Handle: %v %v", nextJob, err)
	}
	want, stale := time.Date(2025, 9, 13, 0, 0, 0, 0, time.UTC), time.Date(2025, 9, 14, 0, 0, 0, 0, time.UTC)
	if !nextJob.Due.Equal(want) {
		t.Fatalf("next due %v, want %v (two days ahead, as the config says now; %v is the config it began with)", nextJob.Due, want, stale)
	}
}

// failing is a transport that fails its sends with errs, in turn, then
// takes them; sent counts the tries.
type failing struct {
	errs []error
	sent int
}

func (f *failing) Notify(_ context.Context, m notify.Message) error {
	f.sent++
	if len(f.errs) == 0 {
		return nil
	}
	err := f.errs[0]
	f.errs = f.errs[1:]
	return err
}

// service sends through tr, by the config *cfg and at *now as they are
// when asked.
func service(cfg **policy.Config, tr notify.Notifier, now *time.Time) *Service {
	return New(Options{Config: func() *policy.Config { return *cfg }, Notifiers: map[string]notify.Notifier{"log": tr},
		Now: func() time.Time { return *now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// TestNoticeTriesByFailure: how often ann's notice a day ahead (due Sun
// Sep 14 00:00) is tried, by how its tries fail. One that may have been
// sent is not tried again (before: once more a minute later, and ann had
// it twice); a refusal before the provider had it (an open circuit) still
// gets its second try, and a temporary failure its retries.
func TestNoticeTriesByFailure(t *testing.T) {
	late := notify.MaybeSent(errors.New("twilio: context deadline exceeded"))
	unavailable := notify.Temporary(errors.New("twilio: 503"))
	for _, tc := range []struct {
		name  string
		errs  []error
		tries int
	}{
		{"may have been sent", []error{late}, 1},
		{"may have been sent on the retry", []error{unavailable, late}, 2},
		{"circuit open", []error{notify.ErrCircuitOpen}, 2},
		{"refused twice", []error{errors.New("twilio: 400 invalid number"), errors.New("twilio: 400 invalid number")}, 2},
		{"temporary", []error{unavailable, unavailable}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := parse(t, "24h")
			tr := &failing{errs: tc.errs}
			now := time.Date(2025, 9, 14, 0, 0, 0, 0, time.UTC)
			s := service(&cfg, tr, &now)
			j := &store.Job{Kind: Kind, Key: "s", Due: now, Data: mustJSON(state{Last: now.Add(-time.Minute)})}
			for end := now.Add(time.Hour); !now.After(end); now = j.Due {
				next, err := s.Handle(context.Background(), j)
				if err != nil || next == nil {
					t.Fatalf("Handle at %v: %v %v", now, next, err)
				}
				j = next
			}
			if tr.sent != tc.tries {
				t.Fatalf("ann's notice tried %d times, want %d", tr.sent, tc.tries)
			}
			if strings.Contains(string(j.Data), "pending") {
				t.Fatalf("a notice is still pending after an hour: %s", j.Data)
			}
		})
	}
}

// TestHandleOfAJobStoredBeforeAnnouncedSendsNothingAgain: a job a pagerd
// without the record of announced shifts stored, after it sent ann's
// notice a day ahead (Sunday 00:00), sends it no second time once
// upgraded: what it sent up to its Last counts as told.
func TestHandleOfAJobStoredBeforeAnnouncedSendsNothingAgain(t *testing.T) {
	cfg := parse(t, "24h")
	tr := &failing{}
	now := time.Date(2025, 9, 14, 6, 0, 0, 0, time.UTC)
	s := service(&cfg, tr, &now)
	j := &store.Job{Kind: Kind, Key: "s", Due: now, Data: []byte(`{"last":"2025-09-14T00:00:00Z"}`)}
	next, err := s.Handle(context.Background(), j)
	if err != nil || next == nil {
		t.Fatalf("Handle: %v %v", next, err)
	}
	if tr.sent != 0 {
		t.Fatalf("%d notices sent again", tr.sent)
	}
	if want := time.Date(2025, 9, 15, 0, 0, 0, 0, time.UTC); !next.Due.Equal(want) {
		t.Fatalf("next due %v, want the handoff at %v", next.Due, want)
	}
}

// TestNoticeBeforeNotSentAgainWhenBeforeShortens: ann was told a day
// ahead (Sunday 00:00) that her shift starts Monday; a reload makes
// notices.before 12h. At Sunday 12:00 she is not told again.
func TestNoticeBeforeNotSentAgainWhenBeforeShortens(t *testing.T) {
	cfg := parse(t, "24h")
	tr := &failing{}
	now := time.Date(2025, 9, 14, 0, 0, 0, 0, time.UTC)
	s := service(&cfg, tr, &now)
	j := &store.Job{Kind: Kind, Key: "s", Due: now, Data: mustJSON(state{Last: now.Add(-time.Minute), Since: now.Add(-time.Hour)})}
	j, err := s.Handle(context.Background(), j)
	if err != nil || j == nil || tr.sent != 1 {
		t.Fatalf("Handle at %v: %v %v, %d sent", now, j, err, tr.sent)
	}
	cfg = parse(t, "12h")
	now = time.Date(2025, 9, 14, 12, 0, 0, 0, time.UTC)
	if j, err = s.Handle(context.Background(), j); err != nil || j == nil {
		t.Fatalf("Handle at %v: %v %v", now, j, err)
	}
	if tr.sent != 1 {
		t.Fatalf("ann told %d times that her shift starts", tr.sent)
	}
}

// TestShiftNoticeResultsAllInitialised: every result Handle counts is
// one InitMetrics creates at zero, and every one it creates is counted.
func TestShiftNoticeResultsAllInitialised(t *testing.T) {
	src, err := os.ReadFile("notices.go")
	if err != nil {
		t.Fatal(err)
	}
	counted := map[string]bool{}
	for _, m := range regexp.MustCompile(`s\.count\(cfg, p, "([a-z_]+)"\)`).FindAllStringSubmatch(string(src), -1) {
		counted[m[1]] = true
		if !slices.Contains(results, m[1]) {
			t.Errorf("result %q is counted but not in results", m[1])
		}
	}
	for _, r := range results {
		if !counted[r] {
			t.Errorf("result %q is in results but never counted", r)
		}
	}
}
