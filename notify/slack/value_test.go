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

// TestAckValue: a page's Acknowledge button carries how many times the
// incident had been reopened when it went out, and reads as its target
// too; a value without the count (the channel card's, and every button
// sent before) is not a page's.
func TestAckValue(t *testing.T) {
	for _, c := range []struct {
		value    string
		target   string
		reopened int
		ok       bool
	}{
		{slack.AckValue("01JABCDEF", 0), "01JABCDEF", 0, true},
		{slack.AckValue("01JABCDEF", 3), "01JABCDEF", 3, true},
		{slack.AckValue("b00-x", 0), "b00-x", 0, true},
		{"01JABCDEF", "", 0, false},
		{"01JABCDEF r", "", 0, false},
		{"01JABCDEF r-1", "", 0, false},
		{"01JABCDEF rx", "", 0, false},
		{slack.EscalateValue("01JABCDEF", 2, time.Now()), "", 0, false},
	} {
		p, ok := slack.ParseAckValue(c.value)
		if ok != c.ok || p.Target != c.target || p.Reopened != c.reopened {
			t.Errorf("ParseAckValue(%q) = %q, %d, %v; want %q, %d, %v", c.value, p.Target, p.Reopened, ok, c.target, c.reopened, c.ok)
		}
		if c.ok && slack.ParseButtonValue(c.value).Target != c.target {
			t.Errorf("ParseButtonValue(%q) = %q, want %q", c.value, slack.ParseButtonValue(c.value).Target, c.target)
		}
	}
}
