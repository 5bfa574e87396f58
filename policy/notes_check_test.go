package policy

import (
	"strings"
	"testing"
)

// TestUncheckedNotesSayWhatServeChecks: a transport that pagerd serve
// checks at start says so (and what it does not check) instead of "the
// first page is the first try", unless notifiers.check_at_start is false;
// PagerDuty, which serve cannot check, still says to fire a test alert.
func TestUncheckedNotesSayWhatServeChecks(t *testing.T) {
	off := false
	for _, tc := range []struct {
		name  string
		check *bool
		via   string
		want  string
	}{
		{name: "twilio checked", via: "twilio", want: "pagerd serve tries the account's credentials and the from number at start (notifiers.check_at_start), and the contacts' numbers only at the first page"},
		{name: "twilio, checks off", check: &off, via: "twilio", want: "the first page is the first try"},
		{name: "pagerduty never checked", via: "pagerduty", want: "the first page is the first try"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Config{Users: []User{{ID: "ann", Contacts: []Contact{{Via: tc.via}}}}}
			c.Notifiers.CheckAtStart = tc.check
			notes := c.UncheckedNotes()
			if len(notes) != 1 || !strings.Contains(notes[0], tc.want) {
				t.Fatalf("notes %q do not say %q", notes, tc.want)
			}
		})
	}
}

// TestLogOnlyNotesNameWhoIsWokenByNothing: a user whose every contact is
// via log (the quickstart's, or one an import found no contact for) is
// named; one with a contact that reaches a phone is not; past five, the
// rest are counted.
func TestLogOnlyNotesNameWhoIsWokenByNothing(t *testing.T) {
	log := []Contact{{Channel: ChannelPush, Via: "log"}, {Channel: ChannelSMS, Via: "log"}}
	c := &Config{Users: []User{
		{ID: "ann", Contacts: log},
		{ID: "bob", Contacts: append([]Contact{{Channel: ChannelSMS, Via: "twilio"}}, log...)},
	}}
	if notes := c.LogOnlyNotes(); len(notes) != 1 || !strings.HasPrefix(notes[0], "user ann: every contact is via log") || !strings.Contains(notes[0], "nobody is woken") {
		t.Fatalf("notes %q", notes)
	}
	for _, id := range []string{"cat", "dan", "eve", "fay", "gus", "hal"} {
		c.Users = append(c.Users, User{ID: id, Contacts: log})
	}
	if notes := c.LogOnlyNotes(); len(notes) != 1 || !strings.HasPrefix(notes[0], "users ann, cat, dan, eve, fay, and 2 more: ") {
		t.Fatalf("notes %q", notes)
	}
	c.Users = c.Users[1:2]
	if notes := c.LogOnlyNotes(); len(notes) != 0 {
		t.Fatalf("notes %q for a user a phone reaches", notes)
	}
}

// TestLogOnlyNotesSayWhereTheLogWrites: with notifiers.log.path set, the
// log transport writes pages to that file, not to pagerd's output: the
// note says where whoever looks for them will find them.
func TestLogOnlyNotesSayWhereTheLogWrites(t *testing.T) {
	c := &Config{Users: []User{{ID: "ann", Contacts: []Contact{{Channel: ChannelPush, Via: "log"}}}}}
	for path, want := range map[string]string{
		"":                    "writes their pages to pagerd's output and sends them nowhere",
		"-":                   "writes their pages to pagerd's output and sends them nowhere",
		"/var/log/pages.json": "writes their pages to /var/log/pages.json and sends them nowhere",
	} {
		c.Notifiers.Log.Path = path
		if notes := c.LogOnlyNotes(); len(notes) != 1 || !strings.Contains(notes[0], want) {
			t.Errorf("path %q: notes %q, want one with %q", path, notes, want)
		}
	}
}
