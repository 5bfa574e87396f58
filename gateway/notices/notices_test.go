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
	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/policy"
)

func parse(t *testing.T, before string) *policy.Config {
	t.Helper()
	return parseSchedule(t, "{before: "+before+"}", "", "")
}

// parseSchedule: ann and bob take weekly turns on s (ann's week starts
// Monday Sep 15 00:00 UTC), s has the notices given, the tier the fields
// tier more (restrictions) and the schedule the lines more (overrides).
func parseSchedule(t *testing.T, notices, tier, more string) *policy.Config {
	t.Helper()
	return parseMembers(t, "ann, bob", notices, tier, more)
}

// parseMembers is parseSchedule with the tier's members in another order.
func parseMembers(t *testing.T, members, notices, tier, more string) *policy.Config {
	t.Helper()
	cfg, err := policy.Parse([]byte(`
notifiers:
  slack: {bot_token: `+providertest.SlackBotToken+`, signing_secret: `+providertest.SlackSigningSecret+`}
users:
  - {id: ann, name: Ann, contacts: [{channel: push, via: log}]}
  - {id: bob, name: Bob, contacts: [{channel: push, via: log}]}
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: primary, start: 2025-01-06, members: [`+members+`]`+tier+`}
    notices: `+notices+`
`+more+`
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
	slow := notify.OverRateLimit(90*time.Second, "Slack answered 429 to chat.postMessage (Retry-After)")
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
		// Slack's 429 (Retry-After: 90), or pagerd's own rate limit with
		// the notice's turn too far off: nothing went out, and the turn
		// comes. (Before: given up after the second, and ann never told.)
		{"over the rate limit", []error{slow, slow, slow}, 4},
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

// texts are the notices of a run of the job, "to: text", in order.
func texts(ps []pending) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.To+": "+p.Text)
	}
	return out
}

// TestChangesToAnAnnouncedShift: ann was told a day ahead (Sunday 00:00)
// that her week starts Monday 00:00; at Sunday 12:00 the plan changes.
// She is told she lost the shift only when she no longer holds the tier
// at its start. (Before: a shift moved earlier was reported as taken from
// her, "Ann, not Ann", as there was no handoff to her at 00:00 any more.)
func TestChangesToAnAnnouncedShift(t *testing.T) {
	const notices = `{before: 24h, slack_channel: "#team"}`
	for _, tc := range []struct {
		name, tier, more string
		want             []string
	}{
		{"moved earlier", "", `
    overrides:
      - {reason: early, from: "2025-09-14T20:00:00Z", until: "2025-09-15T00:00:00Z", tiers: {primary: ann}}`, []string{
			"user:ann: Your on-call shift starts in 8h: Primary of s, from Sun Sep 14 20:00 UTC until Mon Sep 22 00:00 UTC (override: early). You take over from Bob.",
			"slack:#team: The on-call plan of s changed: Primary from Sun Sep 14 20:00 UTC: Bob → Ann (override: early)",
		}},
		{"moved later", "", `
    overrides:
      - {reason: late, from: "2025-09-15T00:00:00Z", until: "2025-09-15T06:00:00Z", tiers: {primary: bob}}`, []string{
			"user:ann: Your on-call shift starts in 18h: Primary of s, from Mon Sep 15 06:00 UTC until Mon Sep 22 00:00 UTC. You take over from Bob.",
			"slack:#team: s hands off in 18h, Mon Sep 15 06:00 UTC: Primary: Bob → Ann",
			"user:ann: Change: you are no longer on call from Mon Sep 15 00:00 UTC: Primary of s is Bob's then (override: late), not yours.",
			// Bob, told on Monday Sep 8 that his shift ends at 00:00, is
			// paged until 06:00 (said to the team with Ann's change).
			"user:bob: Change: you stay on call until Mon Sep 15 06:00 UTC: Primary of s (override: late), not until Mon Sep 15 00:00 UTC.",
			"slack:#team: The on-call plan of s changed: Primary from Mon Sep 15 00:00 UTC: Bob, not Ann (override: late)",
		}},
		{"withdrawn, nobody holds it", `, restrictions: [{start_day: monday, start: "06:00", end_day: monday, end: "00:00"}]`, "", []string{
			"user:ann: Your on-call shift starts in 18h: Primary of s, from Mon Sep 15 06:00 UTC until Mon Sep 22 00:00 UTC. You take over from nobody.",
			"slack:#team: s hands off in 18h, Mon Sep 15 06:00 UTC: Primary: nobody → Ann",
			"user:ann: Change: you are no longer on call from Mon Sep 15 00:00 UTC: Primary of s is nobody's then, not yours.",
			"slack:#team: The on-call plan of s changed: Primary from Mon Sep 15 00:00 UTC: nobody, not Ann",
		}},
		{"extended", "", `
    overrides:
      - {reason: longer, from: "2025-09-22T00:00:00Z", until: "2025-09-23T00:00:00Z", tiers: {primary: ann}}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := parseSchedule(t, notices, "", "")
			told := time.Date(2025, 9, 14, 0, 0, 0, 0, time.UTC)
			ps, st := work(cfg, cfg.Schedule("s"), state{Last: told.Add(-time.Minute), Since: told.Add(-7 * 24 * time.Hour)}, told)
			if want := []string{
				"user:ann: Your on-call shift starts in 1d: Primary of s, from Mon Sep 15 00:00 UTC until Mon Sep 22 00:00 UTC. You take over from Bob.",
				"slack:#team: s hands off in 1d, Mon Sep 15 00:00 UTC: Primary: Bob → Ann",
			}; !slices.Equal(texts(ps), want) {
				t.Fatalf("a day ahead:\n%s\nwant\n%s", strings.Join(texts(ps), "\n"), strings.Join(want, "\n"))
			}
			cfg = parseSchedule(t, notices, tc.tier, tc.more)
			ps, _ = work(cfg, cfg.Schedule("s"), st, time.Date(2025, 9, 14, 12, 0, 0, 0, time.UTC))
			if got := texts(ps); !slices.Equal(got, tc.want) {
				t.Errorf("at the change:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestReloadLengtheningBeforeIsNoChangeOfPlan: notices go out an hour
// before; at Sunday 12:30 a reload makes it a day. Ann's week, starting
// Monday 00:00, is now inside the window: she and the team are told as
// before any shift, with the time left, and the team hears of no change.
// A replica still on the old config (a rolling change) then finds nothing
// to say, and the new one nothing more. (Before: "The on-call plan of s
// changed: Primary from Mon Sep 15 00:00 UTC: Bob → Ann".)
func TestReloadLengtheningBeforeIsNoChangeOfPlan(t *testing.T) {
	hour := parseSchedule(t, `{before: 1h, slack_channel: "#team"}`, "", "")
	day := parseSchedule(t, `{before: 1d, slack_channel: "#team"}`, "", "")
	at := time.Date(2025, 9, 14, 12, 0, 0, 0, time.UTC)
	ps, st := work(hour, hour.Schedule("s"), state{Last: at.Add(-time.Minute), Since: at.Add(-7 * 24 * time.Hour)}, at)
	if len(ps) != 0 {
		t.Fatalf("at %v: %q", at, texts(ps))
	}
	at = at.Add(30 * time.Minute)
	if late, newly, withdrawn, _, _ := changes(day.Schedule("s"), st, at); len(late)+len(newly)+len(withdrawn) == 0 {
		t.Fatalf("after the reload, nothing for arming to make due now")
	}
	ps, st = work(day, day.Schedule("s"), st, at)
	want := []string{
		"user:ann: Your on-call shift starts in 11h30m: Primary of s, from Mon Sep 15 00:00 UTC until Mon Sep 22 00:00 UTC. You take over from Bob.",
		"slack:#team: s hands off in 11h30m, Mon Sep 15 00:00 UTC: Primary: Bob → Ann",
	}
	if got := texts(ps); !slices.Equal(got, want) {
		t.Fatalf("after the reload:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, run := range []struct {
		cfg *policy.Config
		at  time.Time
	}{{hour, at.Add(15 * time.Minute)}, {day, at.Add(30 * time.Minute)}, {hour, at.Add(45 * time.Minute)}} {
		if ps, st = work(run.cfg, run.cfg.Schedule("s"), st, run.at); len(ps) != 0 {
			t.Fatalf("at %v: %q", run.at, texts(ps))
		}
	}
}

// recording is a transport that fails its sends with errs, in turn, then
// takes them; got are the texts it took, in order.
type recording struct {
	errs []error
	got  []string
	// only, when set, is the one person whose messages are kept.
	only string
}

func (r *recording) Notify(_ context.Context, m notify.Message) error {
	if len(r.errs) > 0 {
		err := r.errs[0]
		r.errs = r.errs[1:]
		return err
	}
	if r.only == "" || m.User == r.only {
		r.got = append(r.got, m.Text)
	}
	return nil
}

// TestRetryOfANoticeTheChangeSinceMadeUntrue: ann is told a day ahead
// (Sunday 00:00) that her week starts Monday; an override gives it to bob
// and is deleted 30 s later. A notice that failed and waits for its retry
// says what is no longer so by its turn, and is not sent. (Before: the
// "no longer on call" that failed at 12:00 went out at 12:01, after "your
// shift starts" of 12:00:30, and the last word ann had was that she was
// off: she would not answer her pages. Or her "your shift starts" that
// failed at 00:00 went out at 00:01, after she was told she lost it.)
func TestRetryOfANoticeTheChangeSinceMadeUntrue(t *testing.T) {
	unavailable := notify.Temporary(errors.New("twilio: 503"))
	plain := parseSchedule(t, "{before: 24h}", "", "")
	toBob := parseSchedule(t, "{before: 24h}", "", `
    overrides:
      - {reason: ann ill, from: "2025-09-15T00:00:00Z", until: "2025-09-22T00:00:00Z", tiers: {primary: bob}}`)
	for _, tc := range []struct {
		name string
		// first is the plan ann was told of on Sunday 00:00 (her notice
		// failing with fail), then the change at 12:00, the one at 12:00:30.
		first, change, back *policy.Config
		at                  time.Time // of the change
		fail                []error
		want                string // the last word ann has
	}{
		{"no longer on call, the override deleted", plain, toBob, plain, time.Date(2025, 9, 14, 12, 0, 0, 0, time.UTC), []error{unavailable},
			"Your on-call shift starts in 12h: Primary of s, from Mon Sep 15 00:00 UTC until Mon Sep 22 00:00 UTC. You take over from Bob."},
		{"your shift starts, the shift taken", plain, toBob, toBob, time.Date(2025, 9, 14, 0, 0, 20, 0, time.UTC), nil,
			"Change: you are no longer on call from Mon Sep 15 00:00 UTC: Primary of s is Bob's then (override: ann ill), not yours."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.first
			tr := &recording{only: "ann"}
			now := time.Date(2025, 9, 14, 0, 0, 0, 0, time.UTC)
			s := service(&cfg, tr, &now)
			j := &store.Job{Kind: Kind, Key: "s", Due: now, Data: mustJSON(state{Last: now.Add(-time.Minute), Since: now.Add(-time.Hour)})}
			run := func() {
				t.Helper()
				next, err := s.Handle(context.Background(), j)
				if err != nil || next == nil {
					t.Fatalf("Handle at %v: %v %v", now, next, err)
				}
				j = next
			}
			if tc.fail == nil {
				// The notice a day ahead fails; the change comes before
				// its retry.
				tr.errs = []error{unavailable}
			}
			run()
			cfg, now = tc.change, tc.at
			tr.errs = tc.fail
			run()
			cfg, now = tc.back, now.Add(30*time.Second)
			run()
			for end := now.Add(time.Hour); j.Due.Before(end); {
				now = j.Due
				run()
			}
			if len(tr.got) == 0 || tr.got[len(tr.got)-1] != tc.want {
				t.Fatalf("ann was told, in order:\n%s\nthe last should be\n%s", strings.Join(tr.got, "\n"), tc.want)
			}
		})
	}
}

// TestHolderChangedBeforeTheJobsLastRunIsTold: the job last ran on
// Tuesday Sep 16 10:20, in ann's week; at 10:21 the plan changes from a
// time before that run: an override made at 10:21 that starts at 10:00
// (the API takes one tier per override: the second of two made "from
// 10:00" finds the job run by the first), or a reload that gives the
// running week to bob. bob is told he is on call now, and the team too.
// (Before: the handoff to him was before the job's last run and no
// notice was due after it: nobody told him, and he learnt it from a
// page.) A run that finds the plan as it was, or a job stored by a
// pagerd that did not keep the holders, tells nobody.
func TestHolderChangedBeforeTheJobsLastRunIsTold(t *testing.T) {
	const notices = `{before: 24h, slack_channel: "#team"}`
	plain := parseSchedule(t, notices, "", "")
	ran := time.Date(2025, 9, 16, 10, 20, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		cfg  *policy.Config
		want []string
	}{
		{"override from before the last run", parseSchedule(t, notices, "", `
    overrides:
      - {reason: cover, from: "2025-09-16T10:00:00Z", until: "2025-09-16T18:00:00Z", tiers: {primary: bob}}`), []string{
			"user:bob: You are on call now: Primary of s, until Tue Sep 16 18:00 UTC (override: cover). You take over from Ann.",
			// Her shift back at 18:00 is inside the before window.
			"user:ann: Your on-call shift starts in 7h39m: Primary of s, from Tue Sep 16 18:00 UTC until Mon Sep 22 00:00 UTC. You take over from Bob.",
			"slack:#team: The on-call plan of s changed: Primary from Tue Sep 16 10:00 UTC: Ann → Bob (override: cover); Primary from Tue Sep 16 18:00 UTC: Bob → Ann",
		}},
		{"reload changed the running week's holder", parseMembers(t, "bob, ann", notices, "", ""), []string{
			"user:bob: You are on call now: Primary of s, until Mon Sep 22 00:00 UTC. You take over from Ann.",
			"slack:#team: The on-call plan of s changed: Primary from Mon Sep 15 00:00 UTC: Ann → Bob",
		}},
		{"nothing changed", plain, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A job stored before the holders were kept: its first run
			// takes them as they stand, telling nobody.
			ps, st := work(plain, plain.Schedule("s"), state{Last: ran.Add(-time.Hour), Since: ran.Add(-7 * 24 * time.Hour)}, ran)
			if len(ps) != 0 {
				t.Fatalf("at %v: %q", ran, texts(ps))
			}
			now := ran.Add(time.Minute)
			if late, newly, withdrawn, taken, _ := changes(tc.cfg.Schedule("s"), st, now); (len(late)+len(newly)+len(withdrawn)+len(taken) > 0) != (tc.want != nil) {
				t.Errorf("arming would make the job due now: %v, want %v", len(late)+len(newly)+len(withdrawn)+len(taken) > 0, tc.want != nil)
			}
			ps, st = work(tc.cfg, tc.cfg.Schedule("s"), st, now)
			if got := texts(ps); !slices.Equal(got, tc.want) {
				t.Fatalf("at %v:\n%s\nwant\n%s", now, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if ps, _ = work(tc.cfg, tc.cfg.Schedule("s"), st, now.Add(time.Minute)); len(ps) != 0 {
				t.Fatalf("told again: %q", texts(ps))
			}
		})
	}
}

// TestOverrideDeletedMidShiftTellsTheHolderBack: bob covers ann's Tuesday
// 10:00-18:00 and is told at 10:00; at 12:00 the override is deleted.
// Ann holds the tier again, from before the job's last run: she is told
// she is on call now, once. (Before: nobody told her, and she thought
// herself off until 18:00.)
func TestOverrideDeletedMidShiftTellsTheHolderBack(t *testing.T) {
	const notices = `{before: 1h}`
	plain := parseSchedule(t, notices, "", "")
	cover := parseSchedule(t, notices, "", `
    overrides:
      - {reason: cover, from: "2025-09-16T10:00:00Z", until: "2025-09-16T18:00:00Z", tiers: {primary: bob}}`)
	at := time.Date(2025, 9, 16, 10, 0, 0, 0, time.UTC)
	_, st := work(cover, cover.Schedule("s"), state{Last: at.Add(-time.Hour), Since: at.Add(-7 * 24 * time.Hour)}, at.Add(-time.Minute))
	ps, st := work(cover, cover.Schedule("s"), st, at)
	if want := []string{"user:bob: You are on call now: Primary of s, until Tue Sep 16 18:00 UTC (override: cover). You take over from Ann."}; !slices.Equal(texts(ps), want) {
		t.Fatalf("at %v: %q, want %q", at, texts(ps), want)
	}
	at = time.Date(2025, 9, 16, 12, 0, 0, 0, time.UTC)
	ps, st = work(plain, plain.Schedule("s"), st, at)
	if want := []string{"user:ann: You are on call now: Primary of s, until Mon Sep 22 00:00 UTC. You take over from Bob."}; !slices.Equal(texts(ps), want) {
		t.Fatalf("the override deleted at %v: %q, want %q", at, texts(ps), want)
	}
	if ps, _ = work(plain, plain.Schedule("s"), st, at.Add(time.Minute)); len(ps) != 0 {
		t.Fatalf("told again: %q", texts(ps))
	}
}

// TestTeamMessageRetrySaysOnlyWhatIsStillSo: the team's message of two
// overrides (bob takes ann's week of Sep 15, ann takes bob's of Sep 22)
// fails and waits for its retry; meanwhile the first override is
// deleted. The retry says only the change still so; had both been undone,
// it says nothing. (Before: the retry went out as composed, after the
// message of the deletion, and the channel's last word was the stale
// "Primary from Mon Sep 15: Bob, not Ann".)
func TestTeamMessageRetrySaysOnlyWhatIsStillSo(t *testing.T) {
	const notices = `{before: 14d, slack_channel: "#team"}`
	plain := parseSchedule(t, notices, "", "")
	both := parseSchedule(t, notices, "", `
    overrides:
      - {reason: ann ill, from: "2025-09-15T00:00:00Z", until: "2025-09-22T00:00:00Z", tiers: {primary: bob}}
      - {reason: swap, from: "2025-09-22T00:00:00Z", until: "2025-09-29T00:00:00Z", tiers: {primary: ann}}`)
	second := parseSchedule(t, notices, "", `
    overrides:
      - {reason: swap, from: "2025-09-22T00:00:00Z", until: "2025-09-29T00:00:00Z", tiers: {primary: ann}}`)
	// Both weeks told: ann's on Sep 1, bob's on Sep 8.
	told := time.Date(2025, 9, 9, 0, 0, 0, 0, time.UTC)
	_, st := work(plain, plain.Schedule("s"), state{Last: time.Date(2025, 8, 31, 23, 59, 0, 0, time.UTC), Since: time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)}, told)
	ps, _ := work(both, both.Schedule("s"), st, told.Add(time.Hour))
	var team *pending
	for i := range ps {
		if ps[i].To == "slack:#team" {
			team = &ps[i]
		}
	}
	if team == nil || len(team.Parts) != 2 || untrue(both.Schedule("s"), *team) {
		t.Fatalf("the team's message of both changes: %+v", team)
	}
	if kept := current(second.Schedule("s"), team.Parts); len(kept) != 1 ||
		teamMessage(team.Subject, kept) != "The on-call plan of s changed: Primary from Mon Sep 22 00:00 UTC: Ann, not Bob (override: swap)" {
		t.Errorf("its retry after the first override's deletion: %q", teamMessage(team.Subject, kept))
	}
	if !untrue(plain.Schedule("s"), *team) {
		t.Errorf("its retry after both overrides' deletion is sent: %q", team.Text)
	}
}

// TestJobOfAReplicaWhoseConfigLacksTheNoticesIsLeftToANewerOne: a replica
// whose config has no notices on s (its reload failed, its ConfigMap lags
// in a rollout that adds them) claims s's job while a live replica runs a
// config taken into use later. It leaves the job as it is, due again
// moments later, for that replica: deleted, the notice due then was never
// sent (the newer replica's arming stored a new job, starting from then)
// and what was announced was forgotten. With no newer config live, the
// notices were taken out, and the job ends.
func TestJobOfAReplicaWhoseConfigLacksTheNoticesIsLeftToANewerOne(t *testing.T) {
	lagging := parseSchedule(t, "null", "", "")
	if lagging.Schedule("s").Notices != nil {
		t.Fatal("the lagging config has notices")
	}
	at := time.Date(2025, 9, 14, 0, 0, 0, 0, time.UTC) // ann's notice a day ahead is due
	data, _ := json.Marshal(state{Last: at.Add(-time.Hour), Since: at.Add(-48 * time.Hour), Held: true,
		Announced: []announced{{Tier: "primary", User: "bob", From: at.Add(time.Hour)}}})
	job := &store.Job{Kind: Kind, Key: "s", Due: at, Data: data}
	newer := true
	s := New(Options{Config: func() *policy.Config { return lagging }, Now: func() time.Time { return at },
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		NewerConfig: func(context.Context) (string, bool) { return "b", newer }})
	next, err := s.Handle(context.Background(), job)
	if err != nil || next == nil {
		t.Fatalf("Handle on a lagging replica: %+v %v, want the job left for the newer replica", next, err)
	}
	if string(next.Data) != string(data) || !next.Due.After(at) || next.Due.After(at.Add(time.Minute)) {
		t.Fatalf("job left: due %v, %s; want as it was, due again moments later", next.Due, next.Data)
	}
	newer = false
	if next, err := s.Handle(context.Background(), job); err != nil || next != nil {
		t.Fatalf("Handle with no newer config live: %+v %v, want the job ended", next, err)
	}
}

// TestChangeMadeWhileTheJobRunsIsToldAtOnce: ann was told on Sunday
// 00:00 that her week starts Monday; at 12:00 the job runs (a retry, say)
// and, while it sends, an override gives her week to bob, on call now.
// Arming finds the job claimed and leaves it to the run, which ends due at
// once: ann is told that the week is no longer hers and bob that he stays
// on, not after the daemon's next arming, up to 5 minutes later (or, had
// it not come, never: bob holds the tier throughout, and ann's shift
// begins before the next notice).
func TestChangeMadeWhileTheJobRunsIsToldAtOnce(t *testing.T) {
	plain := parseSchedule(t, "{before: 24h}", "", "")
	toBob := parseSchedule(t, "{before: 24h}", "", `
    overrides:
      - {reason: ann ill, from: "2025-09-15T00:00:00Z", until: "2025-09-22T00:00:00Z", tiers: {primary: bob}}`)
	told := time.Date(2025, 9, 14, 0, 0, 0, 0, time.UTC)
	_, st := work(plain, plain.Schedule("s"), state{Last: told.Add(-time.Minute), Since: told.Add(-time.Hour)}, told)
	at := told.Add(12 * time.Hour)
	calls := 0
	s := New(Options{Config: func() *policy.Config {
		calls++
		if calls == 1 {
			return plain
		}
		return toBob
	}, Now: func() time.Time { return at }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	next, err := s.Handle(context.Background(), &store.Job{Kind: Kind, Key: "s", Due: at, Data: mustJSON(st)})
	if err != nil || next == nil {
		t.Fatalf("Handle: %v %v", next, err)
	}
	if !next.Due.Equal(at) {
		t.Fatalf("next due %v, want at once (%v): the override made during the run is not told until then", next.Due, at)
	}
}
