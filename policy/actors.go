package policy

import (
	"strings"

	"github.com/pagerd/pagerd/internal/textcut"
)

// MaxExternalNameBytes bounds the name of a person another system names
// (ExternalActor): it is stored on the incident and its timeline, and
// shown wherever they are.
const MaxExternalNameBytes = 100

// MaxNoteBytes bounds a note another system passes on with an action
// (Opsgenie's note on an acknowledgement), kept in the timeline entry.
const MaxNoteBytes = 2000

// ExternalActor is who took an action another system (source, in lower
// case: notify.SourcePagerDuty, notify.SourceOpsgenie) tells pagerd of, named name there (PagerDuty's
// webhook agent, an Opsgenie request's user): the config user whose id,
// email (without regard to case) or display name (without regard to case,
// when no other user has it) name is; else "source:name", the name
// cleaned and cut (textcut.Line, MaxExternalNameBytes) and each ": " in it
// written ":". Ids hold no ':', so such an actor is never taken for a
// config user, least of all the person paged; and no actor holds ": ",
// which is where whatever writes one and text after it ("Acknowledged by
// ann: rolling back", a silence's comment naming its incident) puts the
// break, and where a reader finds it: "pagerduty:Ops: incident 08-x"
// would read as naming another incident. A blank name is the source
// alone: the source did not say who.
func (c *Config) ExternalActor(source, name string) string {
	name = textcut.Line(name, MaxExternalNameBytes)
	if name == "" {
		return source
	}
	if u := c.UserNamed(name); u != nil {
		return u.ID
	}
	// Line made each run of spaces one: none is left after a ':'.
	return source + ":" + strings.ReplaceAll(name, ": ", ":")
}

// UserNamed is the user another system's name for a person stands for:
// the user with the id, else with the email, else the only user with the
// display name (both without regard to case); nil when none, or when
// several users have the name.
func (c *Config) UserNamed(name string) *User {
	if u := c.User(name); u != nil {
		return u
	}
	if u := c.UserByEmail(name); u != nil {
		return u
	}
	var found *User
	for i := range c.Users {
		if c.Users[i].Name != "" && strings.EqualFold(c.Users[i].Name, name) {
			if found != nil {
				return nil
			}
			found = &c.Users[i]
		}
	}
	return found
}
