package policy

import (
	"reflect"
	"testing"
	"time"
)

// TestDefaultLadderWithoutPushStartsAtOnce: the default ladder is push at
// once, SMS at 2m, voice at 5m. Someone without a push contact must still
// hear of a page at once, not first at 2m (SMS and voice) or 5m (voice
// only): their first channel moves to 0, the later steps keep their times.
func TestDefaultLadderWithoutPushStartsAtOnce(t *testing.T) {
	c, err := Parse([]byte(`
users:
  - {id: full, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}
  - {id: phone, contacts: [{channel: sms, via: log}, {channel: voice, via: log}]}
  - {id: landline, contacts: [{channel: voice, via: log}]}
  - {id: pushsms, contacts: [{channel: push, via: log}, {channel: voice, via: log}]}
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: primary, start: 2025-01-06, members: [full, phone, landline, pushsms]}
escalation_policies:
  - name: p
    levels:
      - {name: first, targets: [{user: full}, {user: phone}, {user: landline}, {user: pushsms}]}
services:
  - {name: svc, priority_scheme: P0-P3, escalation_policy: p}
`), "ladder.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	ladder := func(steps []NotifyStep) []string {
		var out []string
		for _, s := range steps {
			out = append(out, s.After.String()+" "+s.Channel)
		}
		return out
	}
	for _, tc := range []struct {
		user      string
		high, low []string
	}{
		{"full", []string{"0s push", "2m sms", "5m voice"}, []string{"0s push"}},
		{"phone", []string{"0s sms", "5m voice"}, []string{"0s sms"}},
		{"landline", []string{"0s voice"}, []string{"0s voice"}},
		{"pushsms", []string{"0s push", "5m voice"}, []string{"0s push"}},
	} {
		u := c.User(tc.user)
		if got := ladder(u.NotificationRules.High); !reflect.DeepEqual(got, tc.high) {
			t.Errorf("%s high = %q, want %q", tc.user, got, tc.high)
		}
		if got := ladder(u.NotificationRules.Low); !reflect.DeepEqual(got, tc.low) {
			t.Errorf("%s low = %q, want %q", tc.user, got, tc.low)
		}
	}
	// And the engine pages each of them at once.
	e := &Engine{Config: c}
	at := time.Date(2025, 1, 8, 3, 0, 0, 0, time.UTC)
	rt := c.Route(c.Service("svc"), map[string]string{"severity": "critical"}, at)
	inc, _, err := e.Apply(Incident{ID: "i"}, Event{Kind: EventTrigger, Route: &rt}, at)
	if err != nil {
		t.Fatal(err)
	}
	first := map[string]time.Duration{}
	for _, d := range inc.Pending {
		if d.Kind == DeadlineNotify {
			if f, ok := first[d.User]; !ok || d.At.Sub(at) < f {
				first[d.User] = d.At.Sub(at)
			}
		}
	}
	for _, u := range []string{"full", "phone", "landline", "pushsms"} {
		if f, ok := first[u]; !ok || f != 0 {
			t.Errorf("%s is first paged %v after the trigger (paged: %v), want at once", u, f, ok)
		}
	}
}
