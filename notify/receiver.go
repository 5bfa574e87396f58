package notify

import (
	"context"
	"errors"
	"time"
)

// Receiver is all a provider's callbacks may do to pagerd: act on what was
// paged, as the person it was paged to, record what the provider reports
// about a page, and read what a callback must say. The daemon's incident
// service implements it, so a callback (Twilio's SMS replies and calls,
// PagerDuty's webhooks) never sees the store or the config, and a new
// provider needs nothing else.
//
// A target is what a page's Message.Incident named: an incident, or an
// alert-storm message whose every incident acting on it acts on.
type Receiver interface {
	// Act has user acknowledge, resolve or escalate target. A target that
	// is no longer kept is an error matching ErrNotFound (and ErrStormGone
	// for a storm message); a storm message sent to someone else is
	// refused.
	Act(ctx context.Context, target, user string, a Action) (Acted, error)
	// EscalateFrom has user escalate page.Target from page.Level (counted
	// from 1, as pages say it): the level of the page they answer. When
	// the incident is no longer at that level (someone, or the level's
	// timeout, escalated it already), or, page.At set, an escalation has
	// started that level again since the page went out (the last level
	// escalated), nothing changes and Acted says so (AlreadyEscalated),
	// so an answer sent twice escalates once. A level below 1 (not
	// known: a page sent before pages carried it), or a storm message,
	// escalates as Act does.
	EscalateFrom(ctx context.Context, user string, page Page) (Acted, error)
	// AcknowledgePage has user acknowledge page.Target (or, page.Source
	// set, whoever that system says did: page.By) as the answer to a
	// page sent when the incident had been reopened page.Reopened times
	// (a PagerDuty alert's dedup key says it). When the incident has been
	// reopened since, that page is not what pages the person now: nothing
	// changes and Acted says so (ReopenedSince), so a late answer to the
	// old alert does not silence the new pages. A storm message
	// acknowledges as Act does.
	AcknowledgePage(ctx context.Context, user string, page Page) (Acted, error)
	// ResolvePage has user resolve page.Target as Act does, or, page.Source
	// set, whoever that system says did (page.By): a resolve made in
	// another system on the page pushed there to user.
	ResolvePage(ctx context.Context, user string, page Page) (Acted, error)
	// NotApplied records in the timeline of page.Target (each of its
	// incidents, for a storm message) that action a, made in another
	// system (page.Source, by page.By) on the page pushed there to user,
	// was not applied, and why: whoever wonders why the incident is still
	// open, or pages on, finds it there. It changes nothing else. An
	// incident resolved already is not noted, and Acted says so when
	// every one is (AlreadyResolved): pagerd's own resolve, passed on to
	// that system, comes back as that system's and is no news. A note
	// the timeline holds already (the same callback delivered again) is
	// not written twice.
	NotApplied(ctx context.Context, user string, page Page, a Action, why string) (Acted, error)
	// Delivered records a provider's report on a page to target in its
	// timeline (each of its incidents', for a storm message). A page that
	// did not arrive (Failed) brings the person's next step forward to
	// now, so the ladder goes on. A report about what is no longer kept,
	// or already resolved, changes nothing and is not an error.
	Delivered(ctx context.Context, target string, d Delivery) error
	// LastPaged is the page most recently sent to user on channel among
	// open incidents whose target match accepts, a zero Page when there is
	// none, with the other targets paged at the same moment (Page.Tied).
	// match is asked about the target of every such page, not only the
	// newest, so a caller can tell when it accepts more than one. A page
	// in a storm message is the message's when match accepts it, else
	// the incident's own when match accepts that (the message names each
	// incident, and its code acts on it even once the message is no
	// longer kept); match is asked about both. With bare (a reply that
	// names no incident), a page the provider reported undelivered is
	// passed over: the reply answers a page the person got. A reply with
	// a code names its incident, whether or not its page arrived.
	LastPaged(ctx context.Context, user, channel string, bare bool, match func(target string) bool) (Page, error)
	// ResolvedPaged is, for a reply that matches no open incident, the
	// incidents paged to user on channel (on their own or in a storm
	// message, which names each) that are resolved, among those resolved
	// in the last day (however long before they were opened: an incident
	// open for days is paged again by its rules),
	// whose id match accepts: each as an action on it would find it
	// (AlreadyResolved, by whom and when), and when it was last paged to
	// user on channel (PagedAt). It acts on nothing.
	ResolvedPaged(ctx context.Context, user, channel string, match func(target string) bool) ([]Acted, error)
	// About says what target is, for a call to read out. A target no
	// longer kept is an error matching ErrNotFound.
	About(ctx context.Context, target string) (About, error)
	// UserByAddress is the user whose contact on channel has this address
	// (a phone number), "" when nobody's has.
	UserByAddress(channel, address string) string
	// UsersByAddress is every user whose contact on channel has this
	// address, in config order: a phone can be in several people's
	// contacts (a team's handset, one person in two roles).
	UsersByAddress(channel, address string) []string
	// KnowsUser reports whether user is in the config in force.
	KnowsUser(user string) bool
	// PagedVia reports whether target (an incident, or a storm message)
	// was paged to user through the transport via: a page that went out,
	// or that failed after the provider may have taken it. A provider
	// that signs whatever its own users do (PagerDuty's webhooks cover
	// every incident of a service, whoever opened it) can name an
	// incident and a person pagerd never sent it: what it names is acted
	// on only when this says pagerd did. A target no longer kept is
	// false. A page of the person's through via being sent now, not
	// recorded yet (the answer came first), is ErrNotRecordedYet.
	PagedVia(ctx context.Context, target, user, via string) (bool, error)
	// FirstAnswer remembers a provider's answer by its id (Twilio's
	// MessageSid of an SMS reply) and reports whether it was seen for the
	// first time. A signature that carries no time (Twilio's) verifies a
	// captured request for ever, and a reply without a code acts on the
	// number's latest page, by then maybe another incident's: the same
	// answer seen again must act on nothing.
	FirstAnswer(ctx context.Context, id string) (bool, error)
}

// Errors a Receiver's errors match, for a callback to answer in its own
// words; any other error is the daemon's to answer.
var (
	// ErrNotFound: the target is no longer kept.
	ErrNotFound = errors.New("no such incident or alert-storm message")
	// ErrStormGone: the target was a storm message no longer kept (past
	// its link lifetime); its incidents may still be acted on one by one.
	ErrStormGone = errors.New("the alert-storm message is no longer kept")
	// ErrOutcomeUnknown: the daemon could not confirm the action was
	// stored; it may or may not have been (some incidents of a storm
	// message took it, say). Any other error means it was not.
	ErrOutcomeUnknown = errors.New("the action may or may not have been stored")
	// ErrUnavailable: the daemon's store could not be reached; nothing
	// was stored (unless the error matches ErrOutcomeUnknown too).
	ErrUnavailable = errors.New("the incident store is unavailable")
	// ErrConflict: others kept changing the incident while the action was
	// written, past the daemon's retries; nothing was stored.
	ErrConflict = errors.New("the incident kept changing while the action was written")
	// ErrRefused: the daemon cannot take the action as things stand (the
	// incident's service is no longer in the config, say); the error says
	// why. Nothing was stored.
	ErrRefused = errors.New("the action was refused")
	// ErrNotRecordedYet: the page an answer is about is being sent, not
	// recorded yet (PagedVia): the provider should send the answer again
	// shortly, when it will be.
	ErrNotRecordedYet = errors.New("the page answered is being sent and not recorded yet")
)

// Action is what a person does to a target from a provider.
type Action string

// The actions a person can take from a provider.
const (
	Acknowledge Action = "acknowledge"
	Resolve     Action = "resolve"
	Escalate    Action = "escalate"
)

// Noun names the action as the subject of an answer ("Your escalation
// was NOT recorded").
func (a Action) Noun() string {
	switch a {
	case Acknowledge:
		return "acknowledgement"
	case Resolve:
		return "resolution"
	case Escalate:
		return "escalation"
	}
	return string(a)
}

// Page is one page sent: what it was about, and at which level.
type Page struct {
	// Target is the incident, or the storm message, it was about.
	Target string
	// Level is the level it paged, counted from 1; 0 when not known (a
	// storm message's).
	Level int
	// Tied, from LastPaged, are the other targets match accepted whose
	// latest page to the person came less than SameMoment before this
	// one: which of them is "the latest" the person cannot tell.
	Tied []string
	// At is when it went out; zero when not known.
	At time.Time
	// Reopened is how many times the incident had been reopened after an
	// acknowledgement when it went out (Message.Reopened).
	Reopened int
	// ReopenedUnknown says the page's record does not say Reopened (a
	// page recorded before records kept it, or by a replica that does
	// not, in a rolling upgrade): AcknowledgePage acknowledges as Act
	// does, since the page may well be the latest.
	ReopenedUnknown bool
	// Source and By, for AcknowledgePage and ResolvePage, say the page was acknowledged
	// in another system (Source: SourcePagerDuty, by its webhook) by the person that system names By, as it gives the
	// name ("" when it does not say who): the daemon records the config
	// user the name is (policy.Config.ExternalActor), else the name as
	// given, marked as the source's; never the person paged unless By
	// names them. Source empty: the person paged acknowledged.
	Source, By string
	// Note, for AcknowledgePage with Source set, is what that system
	// passed on with the acknowledgement, or why one made there on
	// another of its incidents acknowledges this one (a PagerDuty
	// incident holding this one's alert acknowledged, or merged into
	// another, by a person): the timeline's ack entry carries it
	// (store.Entry.Note). The daemon cleans and bounds it.
	Note string
}

// Systems other than pagerd in which people act on what pagerd paged
// (Page.Source): the prefix of the actor recorded for a person they name
// who is not in the config ("pagerduty:Carol Smith").
const (
	SourcePagerDuty = "pagerduty"
	SourceOpsgenie  = "opsgenie"
)

// SameMoment is how close two pages are for a person not to know which
// came last: their phone may show them in either order.
const SameMoment = time.Second

// Acted says what an action did.
type Acted struct {
	// Storm, for a storm message, says what acting did to its incidents,
	// in a sentence without its full stop ("Acknowledged 7 of 8 incidents;
	// 1 already acknowledged by bob"). The fields below are for one
	// incident.
	Storm string
	// NotStored, for a storm message, counts its incidents whose write
	// the store failed while others took the action (the answer is no
	// error then, so that a person hears which took it): the action did
	// not reach them and their paging goes on. A caller that retries on a
	// 5xx (PagerDuty's webhooks) answers one, so that it is delivered
	// again: those that took it change no more.
	NotStored int
	// Changed is false when the incident already was so (acknowledged
	// before an acknowledgement); AlreadyResolved when it was resolved
	// before, which nothing changes (a resolve included: the answer must
	// not say this one resolved it).
	Changed, AlreadyResolved bool
	// AlreadyEscalated, for EscalateFrom, says the incident had left the
	// level escalated from: nothing changed, and Level says where it is.
	AlreadyEscalated bool
	// ReopenedSince, for AcknowledgePage, says the incident was reopened
	// after the page answered went out: nothing changed.
	ReopenedSince bool
	// The incident as it stands after the action.
	Incident, Service, Priority, Summary string
	AcknowledgedBy, ResolvedBy           string
	// AcknowledgedAt and ResolvedAt are when AcknowledgedBy and
	// ResolvedBy did (zero when nobody did, or when that is not known):
	// after a reopen, the latest acknowledgement's time, not the first's,
	// which answers name its acknowledger with.
	AcknowledgedAt, ResolvedAt time.Time
	// Level is the level it is at, counted from 1, and LevelName its name;
	// EscalatedAt is when it got there and EscalatedBy who took it there
	// ("" for the level's timeout). They are set with AlreadyEscalated.
	Level                  int
	LevelName, EscalatedBy string
	EscalatedAt            time.Time
	// PagedAt, from ResolvedPaged, is when the incident was last paged to
	// the person on the channel: which of them was their latest page.
	// PagedIn is the storm message (bundle) that page went in, "" for a
	// page of the incident alone.
	PagedAt time.Time
	PagedIn string
}

// Delivery is a provider's report on one page.
type Delivery struct {
	// User and Channel are whom the page was for, and on what.
	User, Channel string
	// Detail is the report as the timeline shows it ("undelivered (Twilio
	// error 30003)").
	Detail string
	// Failed says the page did not reach them.
	Failed bool
	// PageAt is when the page reported on went out (Message.At), as the
	// provider's callback carries it; zero when the callback does not say
	// (one given before pages carried it). A report can come after later
	// pages to the same person: it is about this one.
	PageAt time.Time
	// Ref is the provider's id of what the report is about (Twilio's
	// CallSid or MessageSid), when the callback says: the page is the one
	// recorded with it (store.Entry.Ref), else the one sent at PageAt.
	Ref string
	// Unreached says, with Failed, that the page reached nobody for
	// certain: an SMS undelivered or failed, a call that failed, was
	// busy, was not answered or was picked up by a voicemail. It then
	// counts as a page refused at once does: when every page of the level
	// failed and no step of it is left, the next level is paged without
	// waiting out the level's timeout. A call cancelled (pagerd cancels
	// ringing calls after an acknowledgement) says nothing of the person.
	Unreached bool
	// Again says the provider delivers the report again after a 5xx
	// (Pushover's receipt callback of a storm message stored in part):
	// a report with a Ref that a timeline holds already is not noted in
	// it again. Costs a read of each timeline, so only such reports ask.
	Again bool
}

// About is what a target is, for a call to say.
type About struct {
	// Storm is true for a storm message: Incidents of them,
	// Unacknowledged still triggered, Resolved resolved, the most urgent
	// of Priority, Top ("service: summary").
	Storm                    bool
	Incidents                int
	Unacknowledged, Resolved int
	Top                      string
	// Priority, and for one incident its Service, Summary and Status.
	Priority, Service, Summary, Status string
	// AcknowledgedBy and ResolvedBy name, for one incident, who
	// acknowledged (last, after a reopen) and who resolved it, and
	// AcknowledgedAt and ResolvedAt say when they did (zero when it was
	// not, or when that is not known): a call answered after either says
	// so, rather than offering a key that can no longer apply.
	AcknowledgedBy, ResolvedBy string
	AcknowledgedAt, ResolvedAt time.Time
	// Reopened, for one incident, counts the times it went from
	// acknowledged back to triggered: the count the dedup key of its
	// latest pushes through PagerDuty carries.
	Reopened int
}

// RequestError refuses a provider's callback request for what it is (a
// bad signature, an unreadable form, a callback that is not configured):
// the HTTP status and what the sender is told. The daemon's HTTP layer
// answers it like its own refusals.
type RequestError struct {
	Status int
	Msg    string
}

func (e *RequestError) Error() string { return e.Msg }
