package policy

import (
	"strings"
	"testing"
)

// TestExternalActor: a person another system names is recorded as the
// config user the name is (id, email, or the one user with the display
// name, without regard to case), else by the name as given, marked as the
// source's, cleaned and cut, without ": "; no name is the source alone.
func TestExternalActor(t *testing.T) {
	text := `
users:
  - {id: ann, name: Ann Lee, email: ann@example.com, contacts: [{channel: push, via: log}]}
  - {id: bob, name: Alex Kim, contacts: [{channel: push, via: log}]}
  - {id: cid, name: Alex Kim, contacts: [{channel: push, via: log}]}
  - {id: dee, name: "Dee: SRE", contacts: [{channel: push, via: log}]}
`
	c, err := Parse([]byte(text), "c.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, want string }{
		{"ann", "ann"},
		{"ANN@example.COM", "ann"},
		{"ann lee", "ann"},
		{" Ann\tLee\n", "ann"},
		{"Alex Kim", "opsgenie:Alex Kim"}, // two users have the name: neither is taken
		{"Dana", "opsgenie:Dana"},
		{"dana\x1b[2J\r\nINFO acknowledged by ann", "opsgenie:dana [2J INFO acknowledged by ann"},
		{"Ops: incident 08-x (team", "opsgenie:Ops:incident 08-x (team"},
		{"a:\t\n b: : c:", "opsgenie:a:b::c:"},
		{"dee: sre", "dee"},                                                                  // a user's name is matched as it is
		{strings.Repeat("x", 95) + ": abcdef", "opsgenie:" + strings.Repeat("x", 95) + ":…"}, // cut, then without ": "
		{strings.Repeat("é", 80), "opsgenie:" + strings.Repeat("é", 48) + "…"},
		{"", "opsgenie"},
		{"  \n ", "opsgenie"},
	} {
		if got := c.ExternalActor("opsgenie", tc.name); got != tc.want {
			t.Errorf("ExternalActor(opsgenie, %q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
