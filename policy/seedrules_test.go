package policy

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Seed rules that page people after an acknowledgement, because the
// incident is still open: without them, once the primary acknowledges,
// nobody else is ever paged however long the outage lasts.

// pagedAfter lists, in order, the pages of the timeline after offset
// from: "offset user channel".
func pagedAfter(res *SimResult, from time.Duration) []string {
	var out []string
	for _, e := range res.Events {
		if e.Type == "notify" && time.Duration(e.OffsetSeconds)*time.Second > from {
			out = append(out, fmt.Sprintf("%s %s %s", Duration(time.Duration(e.OffsetSeconds)*time.Second), e.User, e.Channel))
		}
	}
	return out
}

// ladderAt is the default high-urgency ladder (push, SMS at +2m, voice at
// +5m) of each user, all paged at offset at.
func ladderAt(at time.Duration, users ...string) []string {
	var out []string
	for _, step := range []struct {
		after   time.Duration
		channel string
	}{{0, "push"}, {2 * time.Minute, "sms"}, {5 * time.Minute, "voice"}} {
		for _, u := range users {
			out = append(out, fmt.Sprintf("%s %s %s", Duration(at+step.after), u, step.channel))
		}
	}
	return out
}

func simulateExample(t *testing.T, file string, o SimOptions) *SimResult {
	t.Helper()
	res, err := loadExample(t, file).Simulate(o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestAIVOUnresolvedOutagePagesLeadershipAndExecutives: "Level 4:
// Executive Team (60+ minutes). Trigger: Extended outage" (Level 3,
// "No progress OR major impact"). An acknowledged incident still open at
// its resolution target ("Response Time Targets": P0 1 hour, P1 4 hours)
// pages the engineering leadership level (the escalation lead and the VP)
// and the executives (the CTO), status updates or not. P2 and P3 are not
// outages: nobody is paged again after their acknowledgement.
func TestAIVOUnresolvedOutagePagesLeadershipAndExecutives(t *testing.T) {
	// Week of Sep 8: Jennifer primary, Marcus secondary, Emily escalation
	// lead; David is the VP, Sarah the CTO.
	at := time.Date(2025, 9, 10, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		severity string
		ackAfter time.Duration
		run      time.Duration
		want     []string
	}{
		{"P0 at its 1h target", "critical", 3 * time.Minute, 4 * time.Hour, ladderAt(time.Hour, "emily", "david", "sarah")},
		{"P1 at its 4h target", "error", 10 * time.Minute, 8 * time.Hour, ladderAt(4*time.Hour, "emily", "david", "sarah")},
		{"P2 never", "warning", 10 * time.Minute, 48 * time.Hour, nil},
		{"P3 never", "info", 10 * time.Minute, 96 * time.Hour, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := simulateExample(t, "aivo.yaml", SimOptions{At: at, For: tc.run, AckAfter: tc.ackAfter, AckBy: "jennifer",
				UpdateEvery: 15 * time.Minute, Labels: map[string]string{"alertname": "Down", "severity": tc.severity}})
			if got := pagedAfter(res, tc.ackAfter); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("pages after the acknowledgement at %s, status updated every 15m and never resolved:\n got %q\nwant %q",
					Duration(tc.ackAfter), got, tc.want)
			}
		})
	}
}

// TestAIONRTier4AfterFourHours: Tier 3 "escalate to Tier 4 when: incident
// duration >4 hours"; Tier 4 (VP Engineering / CTO) is "reserved for:
// major outages (>4 hours)". A SEV-1 or SEV-2 still open at 4 hours pages
// the VP, acknowledged (and updated) or not; a SEV-3 never does, and
// nobody reaches the VP before 4 hours.
func TestAIONRTier4AfterFourHours(t *testing.T) {
	// Week of Oct 6: Engineer A primary.
	at := time.Date(2025, 10, 7, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		severity string
		ackAfter time.Duration
		want     []string
	}{
		{"acknowledged SEV-1", "critical", 3 * time.Minute, ladderAt(4*time.Hour, "vp-eng")},
		{"unacknowledged SEV-1", "critical", 0, ladderAt(4*time.Hour, "vp-eng")},
		{"acknowledged SEV-2", "error", 5 * time.Minute, ladderAt(4*time.Hour, "vp-eng")},
		{"acknowledged SEV-3", "warning", 5 * time.Minute, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := SimOptions{At: at, For: 8 * time.Hour, Labels: map[string]string{"alertname": "Down", "severity": tc.severity}}
			if tc.ackAfter > 0 {
				o.AckAfter, o.AckBy, o.UpdateEvery = tc.ackAfter, "eng-a", 10*time.Minute
			}
			var got []string
			for _, l := range pagedAfter(simulateExample(t, "aion-r.yaml", o), -1) {
				if strings.Contains(l, " vp-eng ") {
					got = append(got, l)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("pages to the VP in 8 hours:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestAIONRPostsAlertsToPlatformAlerts: "Response channels: ... Slack
// (#platform-alerts)" and "#platform-alerts - Automated alerts". The
// service posts its incidents there through notifiers.slack, whose secrets
// come from the environment, and every person has a Slack member id of
// their own, so a button pressed in the channel acts as them.
func TestAIONRPostsAlertsToPlatformAlerts(t *testing.T) {
	t.Setenv("AION_R_SLACK_BOT_TOKEN", "xoxb-aion-r-test")
	t.Setenv("AION_R_SLACK_SIGNING_SECRET", "aion-r-signing-secret")
	cfg := loadExample(t, "aion-r.yaml")
	if got := cfg.Service("aion-r-platform").SlackChannel; got != "#platform-alerts" {
		t.Errorf("slack_channel %q, want #platform-alerts", got)
	}
	s := cfg.Notifiers.Slack
	if !s.Configured() || s.BotToken.Reveal() != "xoxb-aion-r-test" || s.SigningSecret.Reveal() != "aion-r-signing-secret" {
		t.Errorf("notifiers.slack does not read AION_R_SLACK_BOT_TOKEN and AION_R_SLACK_SIGNING_SECRET: configured %v", s.Configured())
	}
	seen := map[string]string{}
	for _, u := range cfg.Users {
		if u.SlackUser == "" {
			t.Errorf("user %s has no slack_user: their buttons in #platform-alerts would act as nobody", u.ID)
		} else if other, dup := seen[u.SlackUser]; dup {
			t.Errorf("users %s and %s share slack_user %s", other, u.ID, u.SlackUser)
		}
		seen[u.SlackUser] = u.ID
	}
}

// TestAIONRStatusUpdatesEvery30MinutesEscalateNothing: "No status update
// provided in 30 minutes (SEV-1/2)" escalates. A SEV-1 acknowledged at 3m
// and updated every 30 minutes from then on has never gone 30 minutes
// without one: nobody else is paged before its 1h unresolved rule, and no
// status-update target is missed after the first update.
func TestAIONRStatusUpdatesEvery30MinutesEscalateNothing(t *testing.T) {
	// Week of Oct 6: Engineer A primary, Engineer B secondary.
	at := time.Date(2025, 10, 7, 10, 0, 0, 0, time.UTC)
	res := simulateExample(t, "aion-r.yaml", SimOptions{At: at, For: 2 * time.Hour, AckAfter: 3 * time.Minute, AckBy: "eng-a",
		UpdateEvery: 30 * time.Minute, Labels: map[string]string{"alertname": "Down", "severity": "critical"}})
	if got := pagedAfter(res, 3*time.Minute); len(got) == 0 || !strings.HasPrefix(got[0], "1h ") {
		t.Errorf("pages after the acknowledgement, updated every 30m: first %q, want the unresolved rule's at 1h", got)
	}
	for _, e := range res.Events {
		off := time.Duration(e.OffsetSeconds) * time.Second
		if e.Type == "escalate" && strings.Contains(e.Detail, "no status update") {
			t.Errorf("%s: escalated %q though an update came every 30m", Duration(off), e.Detail)
		}
		if e.Type == "sla_breach" && e.Detail == "status_update" && off > 33*time.Minute {
			t.Errorf("%s: status_update target missed though an update came every 30m", Duration(off))
		}
	}
}
