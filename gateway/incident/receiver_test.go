package incident

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/notify"
)

// TestUndeliveredPagesMarksThePageReportedOn: a report names its page by
// when it went out, to the millisecond a callback URL carries, however
// many pages to the person came after it; a report that names none (its
// callback URL given before pages carried it, so one in flight at an
// upgrade) or names a page not in the timeline marks the latest page
// before it, as before.
func TestUndeliveredPagesMarksThePageReportedOn(t *testing.T) {
	t0 := time.Date(2025, 9, 10, 6, 2, 0, 123456789, time.UTC)
	t1 := t0.Add(3 * time.Minute)
	sms := func(at time.Time) store.Entry {
		return store.Entry{At: at, Type: "notify", User: "dan", Channel: "sms", Level: 1}
	}
	failed := func(at, page time.Time) store.Entry {
		return store.Entry{At: at, Type: DeliveryFailed, User: "dan", Channel: "sms", PageAt: page}
	}
	for _, c := range []struct {
		name string
		tl   []store.Entry
		want []int
	}{
		{"named, an older page", []store.Entry{sms(t0), sms(t1), failed(t1.Add(time.Minute), t0.Truncate(time.Millisecond))}, []int{0}},
		{"named, the latest page", []store.Entry{sms(t0), sms(t1), failed(t1.Add(time.Minute), t1.Truncate(time.Millisecond))}, []int{1}},
		{"not named (an old callback URL)", []store.Entry{sms(t0), sms(t1), failed(t1.Add(time.Minute), time.Time{})}, []int{1}},
		{"named, not found", []store.Entry{sms(t0), sms(t1), failed(t1.Add(time.Minute), t0.Add(time.Second))}, []int{1}},
		{"two reports, both named", []store.Entry{sms(t0), sms(t1), failed(t1.Add(time.Minute), t1), failed(t1.Add(2*time.Minute), t0)}, []int{0, 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := undeliveredPages(c.tl, "dan", "sms")
			if len(got) != len(c.want) {
				t.Fatalf("marked %v, want %v", got, c.want)
			}
			for _, i := range c.want {
				if !got[i] {
					t.Fatalf("marked %v, want %v", got, c.want)
				}
			}
		})
	}
}

// unreadableBundles is a store whose storm bundles cannot be read.
type unreadableBundles struct{ store.Store }

func (unreadableBundles) GetBundle(context.Context, string) (*store.Bundle, error) {
	return nil, store.ErrUnavailable
}

// TestStormReportWhoseBundleCannotBeReadIsLogged: a report that a storm
// message reached nobody names each incident's step from the message's
// bundle; when the store cannot read the bundle, its incidents' pages
// count as gone out and their levels keep their timeouts, which must not
// pass unseen: a WARN says so.
func TestStormReportWhoseBundleCannotBeReadIsLogged(t *testing.T) {
	var logs bytes.Buffer
	s := New(Options{Store: unreadableBundles{}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if steps, _, _, _ := s.bundleSteps(context.Background(), "b1", notify.Delivery{User: "ann", Channel: "sms"}); steps != nil {
		t.Fatalf("steps %v from a bundle that cannot be read", steps)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "could not be read") {
		t.Fatalf("no WARN for the bundle that could not be read:\n%s", logs.String())
	}
}

// TestEarlyReportsAppliesOnlyReportsThatCameBeforeTheirPage: the write
// that records a page applies the report that its page reached nobody
// noted before it (its page's step, the next step not brought forward
// again), once however often it was reported; not a report of a page
// recorded already (it was applied when it came, or is a second record
// of the page), nor a call cancelled (it says nothing of the person), nor
// a storm message's, nor another page's or person's, nor a page recorded
// without its step.
func TestEarlyReportsAppliesOnlyReportsThatCameBeforeTheirPage(t *testing.T) {
	t0 := time.Date(2025, 9, 10, 6, 2, 0, 0, time.UTC)
	page := store.Entry{At: t0, Type: "notify", User: "dan", Channel: "sms", Level: 1, Ref: "SM1", Step: "1.4"}
	report := store.Entry{At: t0.Add(time.Second), Type: DeliveryFailed, User: "dan", Channel: "sms", Ref: "SM1", Unreached: true}
	with := func(e store.Entry, edit func(*store.Entry)) store.Entry { edit(&e); return e }
	for _, c := range []struct {
		name  string
		tl    []store.Entry
		pages []store.Entry
		want  bool
	}{
		{"reported before its page", []store.Entry{report}, []store.Entry{page}, true},
		{"reported twice before its page", []store.Entry{report, report}, []store.Entry{page}, true},
		{"reported after its page", []store.Entry{page, report}, []store.Entry{page}, false},
		{"not reported", nil, []store.Entry{page}, false},
		{"a call cancelled", []store.Entry{with(report, func(e *store.Entry) { e.Unreached = false })}, []store.Entry{page}, false},
		{"a storm message's report", []store.Entry{with(report, func(e *store.Entry) { e.Bundle = "b1" })}, []store.Entry{page}, false},
		{"a storm message's page", []store.Entry{report}, []store.Entry{with(page, func(e *store.Entry) { e.Bundle = "b1" })}, false},
		{"another page's report", []store.Entry{with(report, func(e *store.Entry) { e.Ref = "SM2" })}, []store.Entry{page}, false},
		{"another person's report", []store.Entry{with(report, func(e *store.Entry) { e.User = "eve" })}, []store.Entry{page}, false},
		{"a page without its step", []store.Entry{report}, []store.Entry{with(page, func(e *store.Entry) { e.Step = "" })}, false},
		{"a page refused at once", []store.Entry{report}, []store.Entry{with(page, func(e *store.Entry) { e.Type = "notify_failed" })}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			events, channels := EarlyReports(c.tl, c.pages)
			if !c.want {
				if len(events) != 0 || len(channels) != 0 {
					t.Fatalf("events %+v, channels %v: want none", events, channels)
				}
				return
			}
			if len(events) != 1 || len(channels) != 1 || channels[0] != "sms" {
				t.Fatalf("events %+v, channels %v: want one, on sms", events, channels)
			}
			ev := events[0]
			if ev.Actor != "dan" || ev.Channel != "sms" || ev.Step != "1.4" || !ev.BroughtForward {
				t.Fatalf("event %+v: want dan's sms step 1.4, its next step brought forward already", ev)
			}
		})
	}
}

// TestEarlyBundleReportOnlyBeforeTheIncidentsPage: a storm message's
// report that it reached nobody, noted in an incident before the
// message's note of its page there, is applied by the flush that wrote
// the note, by the page's step; a report noted after the page found it
// (and counted it then), a message that failed, a page without its step
// and another message's report are not.
func TestEarlyBundleReportOnlyBeforeTheIncidentsPage(t *testing.T) {
	t0 := time.Date(2025, 9, 10, 6, 2, 0, 0, time.UTC)
	page := store.Entry{At: t0, Type: "notify", User: "dan", Channel: "sms", Level: 1, Bundle: "b1", Ref: "SM1", Step: "1.4"}
	report := store.Entry{At: t0.Add(time.Second), Type: DeliveryFailed, User: "dan", Channel: "sms", Bundle: "b1", Ref: "SM1", Unreached: true}
	with := func(e store.Entry, edit func(*store.Entry)) store.Entry { edit(&e); return e }
	for _, c := range []struct {
		name string
		tl   []store.Entry
		want bool
	}{
		{"reported before its note", []store.Entry{report, page}, true},
		{"reported after its note", []store.Entry{page, report}, false},
		{"the message failed", []store.Entry{report, with(page, func(e *store.Entry) { e.Type = "notify_failed" })}, false},
		{"a page without its step", []store.Entry{report, with(page, func(e *store.Entry) { e.Step = "" })}, false},
		{"another message's report", []store.Entry{with(report, func(e *store.Entry) { e.Bundle = "b2" }), page}, false},
		{"a call cancelled", []store.Entry{with(report, func(e *store.Entry) { e.Unreached = false }), page}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ev, ok := EarlyBundleReport(c.tl, "b1")
			if ok != c.want {
				t.Fatalf("EarlyBundleReport: %+v %v, want %v", ev, ok, c.want)
			}
			if ok && (ev.Actor != "dan" || ev.Channel != "sms" || ev.Step != "1.4" || !ev.BroughtForward) {
				t.Fatalf("event %+v: want dan's sms step 1.4, its next step brought forward already", ev)
			}
		})
	}
}

// timelineOf is a store whose every incident has the timeline tl.
type timelineOf struct {
	store.Store
	tl []store.Entry
}

func (s timelineOf) Timeline(context.Context, string) ([]store.Entry, error) { return s.tl, nil }

// TestReportAgainNamesNoStep: a delivery report names its page's step,
// for the state machine to count the page as reaching nobody: a report
// of a page (or storm message) reported reaching nobody before its record
// names none (the record's write counted it), whether it finds its page
// in its wait (pageStep, bundlePageStep) or after its own entry is noted
// (recordedBefore, its own report last in the timeline). One reported
// after its record (Twilio's callback twice, a signed report replayed)
// names it in the wait: the first copy's write records that it was
// applied, and the others apply nothing (ReportApplied); a copy that
// named none and wrote first brought the person's step forward without
// counting the page, and the level waited out its timeout. After its
// note, where the page is found only then, it names none as before.
func TestReportAgainNamesNoStep(t *testing.T) {
	t0 := time.Date(2025, 9, 10, 6, 2, 0, 0, time.UTC)
	page := store.Entry{At: t0, Type: "notify", User: "dan", Channel: "sms", Level: 1, Ref: "SM1", Step: "1.4"}
	report := store.Entry{At: t0.Add(time.Second), Type: DeliveryFailed, User: "dan", Channel: "sms", Ref: "SM1", Unreached: true}
	with := func(e store.Entry, edit func(*store.Entry)) store.Entry { edit(&e); return e }
	other := with(report, func(e *store.Entry) { e.Ref = "SM2" })
	cancelled := with(report, func(e *store.Entry) { e.Unreached = false })
	d := notify.Delivery{User: "dan", Channel: "sms", Ref: "SM1", Failed: true, Unreached: true}
	for _, c := range []struct {
		name     string
		tl       []store.Entry
		wantWait string // in the wait, and of a storm message
		want     string // after the note
	}{
		{"the first report", []store.Entry{page}, "1.4", "1.4"},
		{"reported after its page", []store.Entry{page, report}, "1.4", ""},
		{"reported before its page", []store.Entry{report, page}, "", ""},
		{"another page reported", []store.Entry{other, page, other}, "1.4", "1.4"},
		{"a call cancelled", []store.Entry{page, cancelled}, "1.4", "1.4"},
	} {
		t.Run("in the wait: "+c.name, func(t *testing.T) {
			if step, found := pageStep(c.tl, d); !found || step != c.wantWait {
				t.Fatalf("pageStep: %q %v, want %q", step, found, c.wantWait)
			}
		})
		t.Run("after the note: "+c.name, func(t *testing.T) {
			s := New(Options{Store: timelineOf{tl: append(slices.Clone(c.tl), report)}, Logger: slog.New(slog.DiscardHandler)})
			if step, unmatched, err := s.recordedBefore(context.Background(), "i1", d); err != nil || unmatched || step != c.want {
				t.Fatalf("recordedBefore: %q %v %v, want %q", step, unmatched, err, c.want)
			}
		})
		t.Run("storm message: "+c.name, func(t *testing.T) {
			inBundle := func(tl []store.Entry) []store.Entry {
				out := slices.Clone(tl)
				for i := range out {
					if out[i].Ref == "SM1" {
						out[i].Bundle = "b1"
					} else {
						out[i].Bundle = "b2"
					}
				}
				return out
			}
			if step, found := bundlePageStep(inBundle(c.tl), "b1", d); !found || step != c.wantWait {
				t.Fatalf("bundlePageStep: %q %v, want %q", step, found, c.wantWait)
			}
		})
	}
}

// TestUndeliveredStormMessageMarksItsNoteRecordedAgain: a storm message's
// note is in an incident's timeline twice when the step it was held for
// was taken over, or put back due, and its claim recorded the step as
// paged by the message (the dispatcher's pagedInMessages: a copy of the
// note, after it). A report that the message reached nobody marked only
// the copy, the latest: the note before it still counted as a page Dan
// got, so a bare "4" he sent after it acknowledged every incident of a
// message he never saw, and their pages stopped.
func TestUndeliveredStormMessageMarksItsNoteRecordedAgain(t *testing.T) {
	at := time.Date(2025, 9, 10, 6, 5, 0, 0, time.UTC)
	note := store.Entry{At: at, Type: "notify", User: "dan", Channel: "sms", Level: 1, Bundle: "b1", Ref: "SM1",
		Detail: "via twilio, in one message for 4 incidents (alert storm)", Step: "1.4"}
	again := note
	again.Detail += "; recorded again for its step, taken over or due again: not sent again"
	other := store.Entry{At: at.Add(-time.Minute), Type: "notify", User: "dan", Channel: "sms", Level: 1, Ref: "SM0", Step: "1.2"}
	for _, c := range []struct {
		name   string
		report store.Entry
	}{
		{"by its SID", store.Entry{At: at.Add(time.Minute), Type: DeliveryFailed, User: "dan", Channel: "sms", Bundle: "b1", Unreached: true, Ref: "SM1"}},
		{"by when it went out", store.Entry{At: at.Add(time.Minute), Type: DeliveryFailed, User: "dan", Channel: "sms", Bundle: "b1", Unreached: true, PageAt: at}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := undeliveredPages([]store.Entry{other, note, again, c.report}, "dan", "sms")
			if !got[1] || !got[2] || got[0] {
				t.Fatalf("marked %v, want the message's note and its copy (1, 2), not the page before them (0)", got)
			}
		})
	}
}
