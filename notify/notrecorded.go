package notify

import "errors"

// NotRecorded words what a person is told when pagerd could not store what
// they did (a Receiver's error, classed by the errors above), on every
// channel alike: the rest of a sentence whose subject is what they did
// ("your reply (code AB12) ", "Your key ", "Your escalation "), without its
// full stop, saying whether it was recorded (NOT, or may not have been) and
// why, in words true of the error, and what goes on meanwhile. The refusal
// is the only error whose text it shows: that one says why, for the person;
// any other error's is for the logs.
//
// again says whether doing it again can help, and can do no harm. It is
// false when the action may have been stored (ErrOutcomeUnknown): an
// escalation done again, of an alert-storm message or from a page that did
// not say its level, escalates again; and false when nothing will change
// by doing it again (no longer kept, refused).
func NotRecorded(err error) (text string, again bool) {
	switch {
	case errors.Is(err, ErrOutcomeUnknown):
		return "may not have been recorded: the incident store did not confirm it. Until it is, the paging goes on", false
	case errors.Is(err, ErrUnavailable):
		return "was NOT recorded: the incident store is unavailable. The paging goes on", true
	case errors.Is(err, ErrConflict):
		return "was NOT recorded: others changed the incident at the same time, again and again", true
	case errors.Is(err, ErrNotFound):
		return "was NOT recorded: the incident is no longer kept", false
	case errors.Is(err, ErrRefused):
		return "was NOT recorded: pagerd refused it (" + err.Error() + ")", false
	}
	return "was NOT recorded: pagerd failed to store it (its logs say why). The paging goes on", true
}

// NotRecordedAnswer is NotRecorded as one sentence for a channel that
// shows text (a Slack button's answer, the console's page), about what
// subject did ("Your escalation"): asking to try again in a minute only
// where that can help and do no harm.
func NotRecordedAnswer(subject string, err error) string {
	text, again := NotRecorded(err)
	if again {
		return subject + " " + text + ": try again in a minute."
	}
	return subject + " " + text + "."
}
