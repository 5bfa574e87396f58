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

// TestLogOnlyUserPagedBesideRealContactsWarns: a user whose every contact
// is via log, whom a schedule or a level pages, while other users are
// paged through providers, is a warning naming them, where they are paged
// from, the providers the others use and the fix: in production they are
// woken by nothing (an import that found no contact for them, a contact
// left from the quickstart). When every user is log-only (the quickstart,
// a demo) it stays a note; a log-only user nothing pages (a console
// viewer: every user needs a contact) stays a note too.
func TestLogOnlyUserPagedBesideRealContactsWarns(t *testing.T) {
	const bob = "  - {id: bob, contacts: [{channel: push, via: ntfy, address: \"https://ntfy.sh/oncall-bob\"}]}\n"
	const dana = "  - {id: dana, contacts: [{channel: push, via: log}]}\n"
	for _, tc := range []struct {
		name  string
		edits []string
		warn  []string // words of the one warning, on users[demo].contacts; nil: none
		note  string   // the users the note names; "": no note
	}{
		{name: "every user log-only", note: "user demo: "},
		{name: "beside a user on ntfy, on a tier",
			edits: []string{"schedules:\n", bob + "\nschedules:\n"},
			warn: []string{"users[demo].contacts: every contact is via log", "while other users are paged through ntfy",
				"schedules[demo].tiers[primary] pages demo", "give them a contact that reaches them", "or take them out of schedules[demo].tiers[primary]"}},
		{name: "named by a level",
			edits: []string{"schedules:\n", bob + "\nschedules:\n", "          - {schedule: demo, tier: primary}\n", "          - {user: demo}\n",
				"        members: [demo]\n", "        members: [bob]\n"},
			warn: []string{"escalation_policies[demo].levels[primary] pages demo"}},
		{name: "a log-only user nothing pages beside one a tier pages",
			edits: []string{"schedules:\n", bob + dana + "\nschedules:\n"},
			warn:  []string{"schedules[demo].tiers[primary] pages demo"},
			note:  "user dana: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := loadEdit(t, loadExampleText(t, "quickstart.yaml"), tc.edits...)
			cfg, err := Parse([]byte(text), "quickstart.yaml", t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range cfg.warnings {
				if strings.Contains(w, "every contact is via log") {
					got = append(got, w)
				}
			}
			switch {
			case tc.warn == nil && len(got) != 0:
				t.Errorf("warnings %q, want none", got)
			case tc.warn != nil && len(got) != 1:
				t.Errorf("warnings %q, want one", got)
			case tc.warn != nil:
				for _, w := range tc.warn {
					if !strings.Contains(got[0], w) {
						t.Errorf("warning %q does not say %q", got[0], w)
					}
				}
			}
			notes := cfg.LogOnlyNotes()
			if tc.note == "" && len(notes) != 0 || tc.note != "" && (len(notes) != 1 || !strings.HasPrefix(notes[0], tc.note)) {
				t.Errorf("notes %q, want one starting %q", notes, tc.note)
			}
		})
	}
}

// TestOnCallWarningsForAnOverride: a log-only person put on call at run
// time is warned about by logOnlyUsers' rule, naming whom they replace
// when a provider pages that person, else the providers others use; in
// an all-log config (the quickstart) and for a user the config lacks,
// nothing is said.
func TestOnCallWarningsForAnOverride(t *testing.T) {
	log := []Contact{{Channel: ChannelPush, Via: "log"}}
	c := &Config{Users: []User{{ID: "ann", Contacts: log}, {ID: "cat", Contacts: log}}}
	c.users = map[string]*User{"ann": &c.Users[0], "cat": &c.Users[1]}
	if w := c.OnCallWarnings("cat", "primary", "ann"); len(w) != 0 {
		t.Errorf("every contact via log: warnings %q, want none", w)
	}
	// Loaded, every user has steps (the default ladder on their contacts).
	// Eve has an ntfy contact, but her ladder pages her through the log
	// alone: she is not paged through ntfy.
	c.Users = append(c.Users, User{ID: "bob", Contacts: []Contact{{Channel: ChannelPush, Via: "ntfy"}},
		NotificationRules: NotificationRules{High: []NotifyStep{{0, ChannelPush}}, Low: []NotifyStep{{0, ChannelPush}}}},
		User{ID: "eve", Contacts: []Contact{{Channel: ChannelPush, Via: "ntfy"}, {Channel: ChannelSMS, Via: "log"}},
			NotificationRules: NotificationRules{High: []NotifyStep{{0, ChannelSMS}}, Low: []NotifyStep{{0, ChannelSMS}}}})
	c.users = map[string]*User{"ann": &c.Users[0], "cat": &c.Users[1], "bob": &c.Users[2], "eve": &c.Users[3]}
	for _, tc := range []struct{ user, replaces, want string }{
		{"cat", "bob", "while bob, whom they replace on primary, is paged through ntfy: on primary, cat is woken by nothing"},
		{"cat", "eve", "while other users are paged through ntfy: on primary, cat is woken by nothing"},
		{"cat", "ann", "while other users are paged through ntfy: on primary, cat is woken by nothing"},
		{"cat", "", "while other users are paged through ntfy"},
		{"bob", "ann", ""},
		{"zed", "ann", ""},
	} {
		w := c.OnCallWarnings(tc.user, "primary", tc.replaces)
		if tc.want == "" && len(w) != 0 || tc.want != "" && (len(w) != 1 || !strings.HasPrefix(w[0], tc.user+"'s every contact is via log") || !strings.Contains(w[0], tc.want)) {
			t.Errorf("%s in place of %q: warnings %q, want %q", tc.user, tc.replaces, w, tc.want)
		}
	}
}
