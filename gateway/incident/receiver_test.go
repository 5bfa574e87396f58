package incident

import (
	"bytes"
	"context"
	"log/slog"
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
	if steps := s.bundleSteps(context.Background(), "b1", notify.Delivery{User: "ann", Channel: "sms"}); steps != nil {
		t.Fatalf("steps %v from a bundle that cannot be read", steps)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "could not be read") {
		t.Fatalf("no WARN for the bundle that could not be read:\n%s", logs.String())
	}
}
