package slack_test

import (
	"testing"

	"github.com/pagerd/pagerd/notify/slack"
)

// TestButtonValue: an Escalate button carries the level it escalates from
// after its target; a value without one (every button sent before, and the
// Acknowledge and Resolve buttons) reads as its target and no level.
func TestButtonValue(t *testing.T) {
	for _, c := range []struct {
		value  string
		target string
		level  int
	}{
		{slack.EscalateValue("01JABCDEF", 2), "01JABCDEF", 2},
		{slack.EscalateValue("01JABCDEF", 0), "01JABCDEF", 0},
		{"01JABCDEF", "01JABCDEF", 0},
		{"b00-x", "b00-x", 0},
		{"01JABCDEF x", "01JABCDEF", 0},
		{"01JABCDEF -1", "01JABCDEF", 0},
	} {
		t.Run(c.value, func(t *testing.T) {
			if target, level := slack.ParseButtonValue(c.value); target != c.target || level != c.level {
				t.Fatalf("ParseButtonValue(%q) = %q, %d; want %q, %d", c.value, target, level, c.target, c.level)
			}
		})
	}
}
