package slack_test

import (
	"testing"
	"time"

	"github.com/pagerd/pagerd/notify/slack"
)

// TestButtonValue: an Escalate button carries the level it escalates from
// after its target, and when its page went out after that; a value without
// them (every button sent before, and the Acknowledge and Resolve buttons)
// reads as its target and no level, or no time.
func TestButtonValue(t *testing.T) {
	at := time.Date(2026, 12, 1, 11, 27, 42, 512_000_000, time.UTC)
	for _, c := range []struct {
		value  string
		target string
		level  int
		at     time.Time
	}{
		{slack.EscalateValue("01JABCDEF", 2, at), "01JABCDEF", 2, at},
		{slack.EscalateValue("01JABCDEF", 2, time.Time{}), "01JABCDEF", 2, time.Time{}},
		{slack.EscalateValue("01JABCDEF", 0, at), "01JABCDEF", 0, time.Time{}},
		{"01JABCDEF 2", "01JABCDEF", 2, time.Time{}},
		{"01JABCDEF", "01JABCDEF", 0, time.Time{}},
		{"b00-x", "b00-x", 0, time.Time{}},
		{"01JABCDEF x", "01JABCDEF", 0, time.Time{}},
		{"01JABCDEF -1", "01JABCDEF", 0, time.Time{}},
		{"01JABCDEF 2 x", "01JABCDEF", 2, time.Time{}},
		{"01JABCDEF 2 1 1", "01JABCDEF", 0, time.Time{}},
	} {
		t.Run(c.value, func(t *testing.T) {
			if p := slack.ParseButtonValue(c.value); p.Target != c.target || p.Level != c.level || !p.At.Equal(c.at) {
				t.Fatalf("ParseButtonValue(%q) = %q, %d, %v; want %q, %d, %v", c.value, p.Target, p.Level, p.At, c.target, c.level, c.at)
			}
		})
	}
}
