package policy

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// refusedConfig is one level of one person, a policy that does not
// repeat: the level is the last one, and a page of a that reached nobody
// is a page of the incident that reached nobody. e's ladder uses SMS twice.
const refusedConfig = `
users:
  - {id: a, name: Ann, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}
  - id: e
    name: Eve
    contacts: [{channel: sms, via: log}, {channel: voice, via: log}]
    notification_rules:
      high: [{after: 0s, channel: sms}, {after: 1m, channel: sms}, {after: 3m, channel: voice}]
escalation_policies:
  - name: p
    levels:
      - name: only
        targets: [{user: a}]
        timeout: 10m
services:
  - name: svc
    priority_scheme: P0-P3
    escalation_policy: p
`

const (
	refusedLevel = "        targets: [{user: a}]\n"
	refusedUserA = "  - {id: a, name: Ann, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}\n"
)

// refusedStart triggers a P0 on e (refusedConfig with edits) and fires
// its deadlines up to end, the page step of whom on channel it returns.
func refusedStart(t *testing.T, e *Engine, end time.Time, user, channel string) (Incident, string) {
	t.Helper()
	rt := e.Config.Route(e.Config.Service("svc"), map[string]string{"severity": "critical"}, t0)
	inc, _ := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, t0)
	step := ""
	for {
		d, ok := inc.Next()
		if !ok || d.At.After(end) {
			break
		}
		inc, _, _ = engFire(t, e, inc)
		if d.Kind == DeadlineNotify && d.User == user && d.Channel == channel && step == "" {
			step = d.ID
		}
	}
	if step == "" {
		t.Fatalf("%s's %s did not go out by %s", user, channel, Duration(end.Sub(t0)))
	}
	return inc, step
}

// TestEngineRefusedPageIsNotOneThatWentOut: a's push is refused by the
// provider (or reported reaching nobody), then a reload leaves her the
// push alone, at the last level of a policy that does not repeat. The
// push counted as sent (Deadline.Sent) all the same: at her SMS step
// (which the failure brings forward) the timeline said the level "has
// nobody else to page", the push, the one channel she has, was never
// tried again, and with no step left at all (a config that loads gives
// her one; the test takes it away after loading) the page was not marked
// as one that reached nobody, so PagerdPagedNobody never fired. Now a
// page nothing of which reached her is taken out of what her page went
// out on: she is pushed again, or the level pages nobody and says so. A
// failure that may have reached her (a timeout after the request went
// out: Event.Step empty) still counts as sent, as before.
func TestEngineRefusedPageIsNotOneThatWentOut(t *testing.T) {
	pushA := "  - {id: a, name: Ann, contacts: [{channel: push, via: log}]}\n"
	for _, tc := range []struct {
		name    string
		refused bool // the failure names its step: nothing of it reached her
		noSteps bool // the reload leaves her no step for the page's urgency
		at      time.Duration
		want    []string
		detail  string
		nobody  bool
	}{{
		name:    "refused, push left",
		refused: true,
		want:    []string{"10s escalate only", "10s notify only a push"},
		detail:  "a has no sms contact in the config any more: paged again at level only, on their channels as the config has them now that this page has not used (push)",
	}, {
		name:    "refused, no step left",
		refused: true,
		noSteps: true,
		want:    []string{"10s escalate only"},
		detail:  "a has no sms contact in the config any more, nor a channel this page has not used: level only pages nobody",
		nobody:  true,
	}, {
		name:   "may have been sent, push left",
		want:   []string{"10s escalate only"},
		detail: "a has no sms contact in the config any more, nor a channel this page has not used: level only has nobody else to page",
	}, {
		name:    "may have been sent, no step left",
		noSteps: true,
		want:    []string{"10s escalate only"},
		detail:  "a has no sms contact in the config any more, nor a channel this page has not used: level only has nobody else to page",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			e := engReload(t, refusedConfig)
			inc, push := refusedStart(t, e, t0, "a", ChannelPush)
			ev := Event{Kind: EventChannelFailed, Actor: "a", Channel: ChannelPush}
			if tc.refused {
				ev.Step = push
			}
			in := slices.Clone(inc.Pending)
			sent := make([][]string, len(in))
			for i, d := range in {
				sent[i] = slices.Clone(d.Sent)
			}
			inc, _ = engApply(t, e, inc, ev, t0.Add(10*time.Second))
			for i, d := range in {
				if !slices.Equal(d.Sent, sent[i]) {
					t.Fatalf("the failure changed the Sent of the incident passed in: %q, was %q", d.Sent, sent[i])
				}
			}
			e2 := engReload(t, refusedConfig, refusedUserA, pushA)
			if tc.noSteps {
				e2.Config.User("a").NotificationRules.High = nil
			}
			inc, acts := engApplyUntil(t, e2, inc, t0.Add(9*time.Minute))
			if got := engSummary(acts); !slices.Equal(got, tc.want) {
				t.Fatalf("after the reload:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if d := acts[0].Detail; !strings.HasPrefix(d, tc.detail) {
				t.Fatalf("the timeline says %q, want it to start %q", d, tc.detail)
			}
			if acts[0].PagedNobody != tc.nobody {
				t.Fatalf("escalate entry marked as reaching nobody: %v, want %v", acts[0].PagedNobody, tc.nobody)
			}
		})
	}
}

// TestEngineRefusedReportAfterTheNextPage: the report that a's push
// reached nobody comes after her SMS went out (a delivery report is late,
// or the dispatcher's write of the refusal is retried). Her call's step
// had the push from the push step and the SMS from the SMS step; the push
// is taken out of it all the same. A reload then takes her calls away:
// at the call's step she is pushed again, not the SMS she got.
func TestEngineRefusedReportAfterTheNextPage(t *testing.T) {
	e := engReload(t, refusedConfig)
	inc, push := refusedStart(t, e, t0.Add(2*time.Minute), "a", ChannelPush)
	call := slices.IndexFunc(inc.Pending, func(d Deadline) bool { return d.Kind == DeadlineNotify && d.User == "a" && d.Channel == ChannelVoice })
	if call < 0 || !slices.Equal(inc.Pending[call].Sent, []string{ChannelPush, ChannelSMS}) {
		t.Fatalf("pending %+v: want a's call, after her push and SMS", inc.Pending)
	}
	before := inc.Pending[call].Sent
	inc, _ = engApply(t, e, inc, Event{Kind: EventChannelFailed, Actor: "a", Channel: ChannelPush, Step: push}, t0.Add(3*time.Minute))
	if !slices.Equal(before, []string{ChannelPush, ChannelSMS}) {
		t.Fatalf("the report changed the Sent of the incident passed in: %q", before)
	}
	e2 := engReload(t, refusedConfig, refusedUserA, "  - {id: a, name: Ann, contacts: [{channel: push, via: log}, {channel: sms, via: log}]}\n")
	_, acts := engApplyUntil(t, e2, inc, t0.Add(9*time.Minute))
	want := []string{"3m escalate only", "3m notify only a push"}
	if got := engSummary(acts); !slices.Equal(got, want) {
		t.Fatalf("after the reload:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d := acts[0].Detail; !strings.HasSuffix(d, "that this page has not used (push)") {
		t.Fatalf("the timeline says %q", d)
	}
}

// TestEngineRefusedOnceOfTwoOnAChannel: e's ladder sends SMS twice. The
// first is reported undelivered after the second went out, twice (a
// report delivered twice): the second SMS still went out, and her page
// still counts as sent on SMS. A reload then takes her calls away: she has
// nothing this page has not used, and she was reached (not "pages
// nobody"), so she is not sent the SMS again.
func TestEngineRefusedOnceOfTwoOnAChannel(t *testing.T) {
	e := engReload(t, refusedConfig, refusedLevel, "        targets: [{user: e}]\n")
	inc, sms := refusedStart(t, e, t0.Add(2*time.Minute), "e", ChannelSMS)
	for range 2 {
		inc, _ = engApply(t, e, inc, Event{Kind: EventChannelFailed, Actor: "e", Channel: ChannelSMS, Step: sms, BroughtForward: true}, t0.Add(2*time.Minute))
	}
	if i := slices.IndexFunc(inc.Pending, func(d Deadline) bool { return d.Kind == DeadlineNotify && d.User == "e" }); i < 0 || !slices.Equal(inc.Pending[i].Sent, []string{ChannelSMS}) {
		t.Fatalf("e's pending steps %+v: want her call, with one SMS sent", inc.Pending)
	}
	e2 := engReload(t, refusedConfig, refusedLevel, "        targets: [{user: e}]\n",
		"    contacts: [{channel: sms, via: log}, {channel: voice, via: log}]\n", "    contacts: [{channel: sms, via: log}]\n",
		", {after: 3m, channel: voice}]", "]")
	_, acts := engApplyUntil(t, e2, inc, t0.Add(9*time.Minute))
	if got := engSummary(acts); !slices.Equal(got, []string{"3m escalate only"}) || acts[0].PagedNobody ||
		!strings.HasSuffix(acts[0].Detail, "level only has nobody else to page") {
		t.Fatalf("after the reload: %v (%+v), want the level left with nobody else to page", got, acts)
	}
}

// TestEngineRefusedPageOfAnEarlierRound: a report about a page of a's
// that the level no longer counts (one of a round before a priority raise
// paged the level again) takes nothing from her new page: the push of
// that page went out.
func TestEngineRefusedPageOfAnEarlierRound(t *testing.T) {
	e := engReload(t, refusedConfig, "    priority_scheme: P0-P3\n", "    priority_scheme: P0-P3\n    targets:\n      P3: {urgency: high}\n")
	rt := e.Config.Route(e.Config.Service("svc"), map[string]string{"severity": "info"}, t0)
	inc, _ := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, t0)
	inc, _, old := engFire(t, e, inc)
	if old.User != "a" || old.Channel != ChannelPush {
		t.Fatalf("first page %+v, want a's push", old)
	}
	raise := e.Config.Route(e.Config.Service("svc"), map[string]string{"severity": "critical"}, t0)
	inc, _ = engApply(t, e, inc, Event{Kind: EventTrigger, Route: &raise}, t0.Add(30*time.Second))
	inc, _, d := engFire(t, e, inc)
	if d.User != "a" || d.Channel != ChannelPush || d.ID == old.ID {
		t.Fatalf("page after the raise %+v, want a's new push", d)
	}
	inc, _ = engApply(t, e, inc, Event{Kind: EventChannelFailed, Actor: "a", Channel: ChannelPush, Step: old.ID}, t0.Add(40*time.Second))
	for _, p := range inc.Pending {
		if p.Kind == DeadlineNotify && !slices.Equal(p.Sent, []string{ChannelPush}) {
			t.Fatalf("step %+v: the report of the earlier page took the new page's push", p)
		}
	}
}

// TestEngineRefusedPageSentBackByTheRateLimit: a's push is sent back by
// the provider's rate limit, so the dispatcher puts its step back at its
// turn (the step as it was, fired once already), and the push is refused
// when it goes then. Firing the step twice noted the push twice on her
// later steps (Deadline.Sent), for one page: the refusal took one out,
// and the push she never got still counted as one she had, so a reload
// that leaves her the push alone did not push her again. The step's
// second firing notes nothing its first did not.
func TestEngineRefusedPageSentBackByTheRateLimit(t *testing.T) {
	e := engReload(t, refusedConfig)
	rt := e.Config.Route(e.Config.Service("svc"), map[string]string{"severity": "critical"}, t0)
	inc, _ := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, t0)
	inc, _, push := engFire(t, e, inc)
	if push.User != "a" || push.Channel != ChannelPush {
		t.Fatalf("first page %+v, want a's push", push)
	}
	// Sent back: due again at its turn, a second later (dispatch's dueAgain).
	push.At = t0.Add(time.Second)
	inc.Pending = append(slices.Clone(inc.Pending), push)
	inc, acts, again := engFire(t, e, inc)
	if again.ID != push.ID || len(acts) != 1 || acts[0].Kind != ActionNotify {
		t.Fatalf("at its turn: fired %+v, acts %+v, want a's push again", again, acts)
	}
	for _, p := range inc.Pending {
		if p.Kind == DeadlineNotify && p.User == "a" && !slices.Equal(p.Sent, []string{ChannelPush}) {
			t.Fatalf("a's step %s on %s after her push went out at its turn: Sent %q, want one push", p.ID, p.Channel, p.Sent)
		}
	}
	inc, _ = engApply(t, e, inc, Event{Kind: EventChannelFailed, Actor: "a", Channel: ChannelPush, Step: push.ID}, t0.Add(2*time.Second))
	e2 := engReload(t, refusedConfig, refusedUserA, "  - {id: a, name: Ann, contacts: [{channel: push, via: log}]}\n")
	_, acts = engApplyUntil(t, e2, inc, t0.Add(9*time.Minute))
	want := []string{"2s escalate only", "2s notify only a push"}
	if got := engSummary(acts); !slices.Equal(got, want) {
		t.Fatalf("after the reload:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
