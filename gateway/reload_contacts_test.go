package gateway

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// annByEmailOnly is testConfig after ann moved from push, SMS and calls to
// email alone.
var annByEmailOnly = strings.Replace(testConfig,
	"{id: ann, name: Ann, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}",
	"{id: ann, name: Ann, contacts: [{channel: email, via: log, address: ann@example.com}]}", 1)

// TestReloadTakingEveryChannelOfThePersonPagedPagesTheirNewOnes: a
// reload leaves ann, whose P0 ladder runs (her push sent), with none of
// the channels her next steps are on: she moved to email. Her SMS at 2m
// and call at 5m failed (no such contact) and nobody was reached at her
// level until bob at 15m. Now her steps are dropped at 2m and her ladder
// as the config has it now starts then (an email at once), the timeline
// says why, and the level still times out at 15m.
func TestReloadTakingEveryChannelOfThePersonPagedPagesTheirNewOnes(t *testing.T) {
	if annByEmailOnly == testConfig {
		t.Fatal("edit did not apply")
	}
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)))
			id := fire(h)
			h.step(fixedNow)
			if err := h.reload(annByEmailOnly); err != nil {
				t.Fatalf("reload refused: %v", err)
			}
			// A replica alone, in the registry of replicas' configs:
			// no newer config is live, so the removal is one.
			if err := h.d.Replicas().Publish(context.Background()); err != nil {
				t.Fatal(err)
			}
			h.runUntil(fixedNow.Add(16 * time.Minute))
			want := []string{"0s L1 ann push", "2m L1 ann email", "15m L2 bob push"}
			if got := h.rec.lines(fixedNow); !slices.Equal(got, want) {
				t.Fatalf("pages %v, want %v", got, want)
			}
			tl := h.incident(id).Timeline
			if f := entriesOf(tl, "notify_failed", ""); len(f) != 0 {
				t.Errorf("ann's steps failed instead of being dropped: %+v", f)
			}
			if !h.timelineHas(id, "escalate", "ann has no sms contact in the config any more: paged again") {
				t.Errorf("the timeline does not say why ann was paged again: %+v", tl)
			}
			if n := metric(t, h.reg, "pagerd_escalations_total", "level", "1"); n != 0 {
				t.Errorf("the page again counted as %v escalations to level 1", n)
			}
		})
	}
}

// TestReloadTakingOneChannelOfThePersonPagedBringsTheNextForward: a
// reload takes ann's SMS away but leaves her calls: her SMS step fails
// at 2m, as before, and brings her call forward to then.
func TestReloadTakingOneChannelOfThePersonPagedBringsTheNextForward(t *testing.T) {
	noSMS := strings.Replace(testConfig, "{id: ann, name: Ann, contacts: [{channel: push, via: log}, {channel: sms, via: log}, ",
		"{id: ann, name: Ann, contacts: [{channel: push, via: log}, ", 1)
	if noSMS == testConfig {
		t.Fatal("edit did not apply")
	}
	h := newHarness(t, withStore(boltStore(t)))
	fire(h)
	h.step(fixedNow)
	if err := h.reload(noSMS); err != nil {
		t.Fatalf("reload refused: %v", err)
	}
	h.runUntil(fixedNow.Add(16 * time.Minute))
	want := []string{"0s L1 ann push", "2m L1 ann voice", "15m L2 bob push"}
	if got := h.rec.lines(fixedNow); !slices.Equal(got, want) {
		t.Fatalf("pages %v, want %v", got, want)
	}
}

// TestReloadLeavingThePersonPagedOnlyWhatTheyGotPagesTheNextLevel: a
// reload takes ann's phone number away (her SMS and calls) while her P0
// ladder runs, her push sent. At her SMS step (2m) her ladder as the
// config has it now (push alone) started over: she got the same push
// again, and nothing else until bob at 15m. Now nothing she got is sent
// again: with no channel left that this page has not used, the level has
// nobody else to page, and bob's level is paged at once.
func TestReloadLeavingThePersonPagedOnlyWhatTheyGotPagesTheNextLevel(t *testing.T) {
	annByPushOnly := strings.Replace(testConfig,
		"{id: ann, name: Ann, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}",
		"{id: ann, name: Ann, contacts: [{channel: push, via: log}]}", 1)
	if annByPushOnly == testConfig {
		t.Fatal("edit did not apply")
	}
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)))
			id := fire(h)
			h.step(fixedNow)
			if err := h.reload(annByPushOnly); err != nil {
				t.Fatalf("reload refused: %v", err)
			}
			if err := h.d.Replicas().Publish(context.Background()); err != nil {
				t.Fatal(err)
			}
			h.runUntil(fixedNow.Add(16 * time.Minute))
			want := []string{"0s L1 ann push", "2m L2 bob push", "4m L2 bob sms", "7m L2 bob voice"}
			if got := h.rec.lines(fixedNow); !slices.Equal(got, want) {
				t.Fatalf("pages %v, want %v", got, want)
			}
			const why = "ann has no sms contact in the config any more, nor a channel this page has not used and level primary has nobody else to page: escalated at once"
			if !h.timelineHas(id, "escalate", why) {
				t.Errorf("the timeline does not say why bob was paged at once: %+v", h.incident(id).Timeline)
			}
			if n := metric(t, h.reg, "pagerd_escalations_total", "level", "2"); n != 1 {
				t.Errorf("the escalation to level 2 counted %v times, want 1", n)
			}
		})
	}
}
