package policy

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Status is an incident's state, in PagerDuty's words.
type Status string

// Incident statuses.
const (
	StatusTriggered    Status = "triggered"
	StatusAcknowledged Status = "acknowledged"
	StatusResolved     Status = "resolved"
)

// DeadlineKind says what happens when a deadline is reached.
type DeadlineKind string

// Deadline kinds.
const (
	// DeadlineNotify sends one step of one person's ladder.
	DeadlineNotify DeadlineKind = "notify"
	// DeadlineEscalate moves an unacknowledged incident to the next level.
	DeadlineEscalate DeadlineKind = "escalate"
	// DeadlineUnresolved pages more people for an incident still open.
	DeadlineUnresolved DeadlineKind = "unresolved"
	// DeadlineStatusUpdate escalates an acknowledged incident whose status
	// updates stopped.
	DeadlineStatusUpdate DeadlineKind = "status_update"
	// DeadlineSLA records a missed target.
	DeadlineSLA DeadlineKind = "sla"
	// DeadlineMaintenance is the end of the maintenance window holding the
	// incident (Target is the window's id): a triggered incident is paged
	// as new.
	DeadlineMaintenance DeadlineKind = "maintenance"
	// DeadlineOnCall is the next look, for a triggered incident whose
	// ladder ran out without paging anyone (Incident.Unpaged: every level
	// found nobody on call), at whether any level of its policy has
	// someone on call now: if one has, the ladder starts again from level
	// 1; if none has, the next look is armed (onCallLookEvery, or the
	// next shift boundary of the policy's tiers, whichever is sooner).
	DeadlineOnCall DeadlineKind = "wait_on_call"
)

// onCallLookEvery is the longest an incident waiting for someone to come
// on call (DeadlineOnCall) goes between two looks: a run-time override
// can put someone on call at any time, and no boundary computed before it
// was made knows of it.
const onCallLookEvery = 15 * time.Minute

// Deadline is a future step of an incident. Deadlines are data: the daemon
// keeps them in its store and hands each back as an EventDeadline when due.
type Deadline struct {
	ID      string       `json:"id"`
	At      time.Time    `json:"at"`
	Kind    DeadlineKind `json:"kind"`
	Level   int          `json:"level,omitempty"`
	User    string       `json:"user,omitempty"`
	Channel string       `json:"channel,omitempty"`
	// Urgency is, for a notify step, the urgency of the page it belongs
	// to (high or low), which the dispatcher sends it with: a page made
	// at 17:58 on the high ladder still calls as high at 18:03, after a
	// later page of the incident took the low one. Deadlines stored by
	// versions before it have none; the incident's Urgency stands in.
	Urgency string `json:"urgency,omitempty"`
	Rule    int    `json:"rule,omitempty"`
	// Target is, for an SLA step, the target; for a level's timeout, the
	// level to go to; for a window's end, the window; for an unresolved
	// rule's step, the rule by what it is for (ruleKey), with Rule where
	// it stood in the list when it was armed.
	Target string `json:"target,omitempty"`
	// Seq orders deadlines due at the same instant: first armed, first fired.
	Seq int `json:"seq"`
	// Sent is, for a notify step, the channels its person's ladder (the
	// one it belongs to: their page at its level) went out on before it,
	// one entry a page (a channel used twice is there twice), but for
	// the pages nothing of which reached them (the provider refused it,
	// or reported it reaching nobody: Event.Step), which are taken out
	// when the engine learns of it (refusedSent). A reload that leaves
	// them without the step's channel, and without the channels of their
	// later steps, moves on to the channels of their ladder as the config
	// has it now that are not in it (contactGone), rather than starting
	// that ladder over and sending them again the push they had; with
	// none, their page reached them if it holds any. Empty in steps armed
	// before it was kept, and in those a replica of an older version
	// wrote back: such a step starts the ladder over, as before. Such a
	// replica keeps a channel once.
	Sent []string `json:"sent,omitempty"`
	// Admitted marks a notify step the dispatcher put back at its turn
	// after the provider's rate limit sent its page back, when alert-storm
	// bundling had let that page out at once: it goes at its turn, not
	// held for a storm message that comes later still. The machine only
	// carries it.
	Admitted bool `json:"admitted,omitempty"`
	// FirstDue is, for a notify step put back at its turn that way, when
	// it first came due: its page's lateness counts from then. The
	// machine only carries it.
	FirstDue time.Time `json:"first_due,omitzero"`
	// SentBackAt is, for a notify step put back at its turn because the
	// provider itself sent its page back (its 429 with Retry-After), when
	// it first did: the page is held on the provider's word for a minute
	// from then (notify.MaxRetryAfter), not from FirstDue, which a page
	// late for another reason (pagerd's own rate limit, a backlog, a
	// takeover) is past already at its first try. The machine only
	// carries it.
	SentBackAt time.Time `json:"sent_back_at,omitzero"`
	// StormEnd, StormAfter and StormRank say, for an Admitted step, where
	// its storm counted its page as sent when it let it out: the end of
	// the window it was counted in, whether it was let out at or after
	// that end, and its priority rank. A page that then fails at its turn,
	// or is called off, is taken back from there, as one that fails at
	// once is: counted, it held a more urgent page after it to the
	// window's end behind a page the person never got. Zero in steps put
	// back before they were kept. The machine only carries them.
	StormEnd   time.Time `json:"storm_end,omitzero"`
	StormAfter bool      `json:"storm_after,omitempty"`
	StormRank  int       `json:"storm_rank,omitempty"`
	// StormHeldLate marks a notify step the dispatcher put back due
	// because its alert storm held its page with an answer that came
	// past its claim's send window (a store, or the replica, stalled):
	// the storm's message may have named the incident to the person
	// meanwhile (the stall went across the window's end), and the claim
	// that fires the step again looks for that message before paging.
	// The machine only carries it.
	StormHeldLate bool `json:"storm_held_late,omitempty"`
}

// CountedByStorm says whether d is a page step a storm let out at once and
// counted as sent, which the rate limit sent back to its turn (StormEnd):
// taken out without being sent, it is to be taken back from that window.
func (d Deadline) CountedByStorm() bool {
	return d.Kind == DeadlineNotify && d.Admitted && !d.StormEnd.IsZero()
}

// Incident is everything the escalation machine needs to decide what comes
// next. It is plain data, so the store can persist it as it is.
type Incident struct {
	ID       string `json:"id"`
	Service  string `json:"service"`
	Priority string `json:"priority"`
	// Urgency is the urgency of the incident's latest page that reached
	// someone: the one in force (by its priority's targets and the
	// service's calendar) when a level or person was last paged, or,
	// before any page (held by a maintenance window from its creation, or
	// nobody on call), at its creation or latest priority raise. It
	// changes as pages cross business hours, so the API and the console
	// show the ladder in force; each page runs the ladder of its own
	// urgency to its end, and its steps are sent with it
	// (Deadline.Urgency).
	Urgency         string     `json:"urgency"`
	Rule            string     `json:"rule,omitempty"`
	PageImmediately []string   `json:"page_immediately,omitempty"`
	Status          Status     `json:"status"`
	Epoch           int        `json:"epoch"`
	TriggeredAt     time.Time  `json:"triggered_at"`
	AcknowledgedAt  time.Time  `json:"acknowledged_at,omitzero"`
	AcknowledgedBy  string     `json:"acknowledged_by,omitempty"`
	ResolvedAt      time.Time  `json:"resolved_at,omitzero"`
	ResolvedBy      string     `json:"resolved_by,omitempty"`
	LastStatusAt    time.Time  `json:"last_status_at,omitzero"`
	StatusUpdates   int        `json:"status_updates,omitempty"`
	Level           int        `json:"level"`
	Round           int        `json:"round,omitempty"`
	LevelStartedAt  time.Time  `json:"level_started_at"`
	Seq             int        `json:"seq"`
	Pending         []Deadline `json:"pending,omitempty"`
	// LevelEscalatedAt is when an escalation (a person's, the level's
	// timeout, a missing status update, an unresolved rule, a level that
	// paged nobody) last started the level the incident is at; zero when
	// none has since it was paged as new. Unlike LevelStartedAt, a
	// priority raise, which pages the level again but escalates nothing,
	// leaves it. An escalation from a page sent before it was answered
	// already (Event.FromLevelAt).
	LevelEscalatedAt time.Time `json:"level_escalated_at,omitzero"`
	// Maintenance is the maintenance window holding the incident's pages,
	// if one does: while it holds, nobody is paged.
	Maintenance *Hold `json:"maintenance,omitempty"`
	// PausedTargets are the SLA targets whose clocks the hold stopped:
	// while a window holds the incident their deadlines are not pending,
	// and when the hold is lifted they run again with the time they had
	// left.
	PausedTargets []PausedTarget `json:"paused_targets,omitempty"`
	// Held is when maintenance windows held the incident, oldest first;
	// the last span is open (To zero) while one still does. Reports count
	// the time to acknowledge and to resolve without it, as the engine's
	// SLA targets do (PausedTarget).
	Held []HeldSpan `json:"held,omitempty"`
	// Reopened counts the times the incident went from acknowledged back
	// to triggered (an escalation, a priority raise, an unresolved rule, a
	// missing status update), over its whole life. A page after a reopen
	// must reach the person anew: a transport that folds repeats of one
	// page into one alert (PagerDuty's dedup key) keys its pages by it,
	// so the new page is not folded into the alert acknowledged before.
	Reopened int `json:"reopened,omitempty"`
	// Lifted are the maintenance windows (ids) a person's escalation took
	// the incident out of, asking for pages despite them: such a window
	// does not hold it again (its start sweeps a second time, a reload
	// re-arms it), or the pages asked for would stop until it ends.
	Lifted []string `json:"lifted,omitempty"`
	// LiftedAt is when a person last escalated the incident past the
	// window holding it. Every window in force then is escalated past too
	// (MayHold): another window covering the incident, begun before, that
	// took it at its next sweep stopped the pages the person asked for.
	LiftedAt time.Time `json:"lifted_at,omitzero"`
	// RaisedSinceAck is set by a priority raise, or an auto-escalation
	// trigger re-opening an acknowledged incident, and cleared by the next
	// acknowledgement: the incident at its new priority (or with its new
	// alert) is one nobody has acknowledged yet, though it was
	// acknowledged as something milder, so its
	// ladder starts over at level 1 after the last level as repeat allows
	// (mayRepeat).
	RaisedSinceAck bool `json:"raised_since_ack,omitempty"`
	// LevelPages are the ids of the page steps of the level the incident
	// is at (ofLevel: its people's, at whatever level their ladder runs)
	// that went to the dispatcher since the level started, but for
	// those the provider refused or reported reached nobody (Event.Step).
	// When the last of them is refused and no step of the level is left, nobody at the level can
	// be reached, and waiting out its timeout pages the next level late
	// for nothing: it is paged at once (channelFailed). A page that went
	// out stays here, so the level keeps its timeout as for any page not
	// acknowledged.
	LevelPages []string `json:"level_pages,omitempty"`
	// LevelPagesKept says LevelPages holds every page of the level since
	// it started: it was started by this version, and no replica of an
	// older one has written the incident since. Such a replica sends pages
	// without adding them and writes the incident back without either
	// field: LevelPages then lacks pages that went out, and the refusal of
	// the last one it holds would page the next level at once, saying
	// nobody was reached, when someone was. Without it, the level keeps
	// its timeout.
	LevelPagesKept bool `json:"level_pages_kept,omitempty"`
	// LastAcknowledgedAt is when AcknowledgedBy, the latest acknowledger,
	// acknowledged. AcknowledgedAt stays the first acknowledgement, which
	// a reopen keeps (the time to acknowledge, SLA targets, repeats,
	// reports): after a reopen and another acknowledgement, the two name
	// different people's acknowledgements. Zero in a record written
	// before it was kept (AcknowledgedByAt).
	LastAcknowledgedAt time.Time `json:"last_acknowledged_at,omitzero"`
	// LevelName is the name of the level at Level when it started. Level
	// is an index into the policy as it was then, and stays as it is
	// until another level starts: the level's timeout and its pages carry
	// the same index (Deadline.Level, Event.FromLevel). A reload that
	// takes out or puts in a level before it shifts the indexes, not the
	// names: the level the incident is at, in the policy as it is now, is
	// found by its name (run.at), and the level that comes next is the
	// one after it, or, when the reload took the level itself out, the
	// one its timeout names (Deadline.Target). Empty in incidents stored
	// before it was kept, which go by Level.
	LevelName string `json:"level_name,omitempty"`
	// Unpaged says no page of the incident has gone to anyone since its
	// latest trigger, priority raise, maintenance window's end (paged as
	// new) or auto-escalation trigger joining it, and nobody has
	// acknowledged it since: every level (and rule) it reached found
	// nobody on call (a tier held only in office hours, a gap between
	// restricted layers), or an unresolved rule paged only people on
	// call at none of the policy's levels (a manager named by the rule):
	// such a page is to a person, not to the team, whose next person on
	// call is still to learn of an incident nobody acknowledged. A page a provider refused
	// went to someone, and clears it; so does an acknowledgement, and a
	// reopen (an unresolved rule, a missing status update) does not set
	// it: the person who acknowledged has the incident in hand, and a
	// look would page level 1 again. When its ladder runs out with it
	// set, the incident waits for someone to come on call (DeadlineOnCall)
	// rather than staying open, unpaged, until someone finds it. False
	// in incidents stored before it was kept, and in those a replica of
	// an older version wrote back: they do not wait, as before, rather
	// than page again people their pages reached.
	Unpaged bool `json:"unpaged,omitempty"`
	// UnpagedBy says what last made the incident one nobody had been
	// paged for (Unpaged), for the timeline of the look that finds
	// someone on call (onCallLookDetail): "" its trigger (the alert
	// came), unpagedByRaise a priority raise, unpagedByReopen and the
	// rule an auto-escalation trigger re-opening it, unpagedByWindow a
	// maintenance window's end paging it as new. Read only
	// while Unpaged; "" in incidents stored before it was kept, whose
	// looks say, as before, that the alert came.
	UnpagedBy string `json:"unpaged_by,omitempty"`
	// PageImmediatelyBy names, for each level of PageImmediately (same
	// index), the rule that made it one paged at once: the incident's
	// rule at its trigger, a raise's or an auto-escalation trigger's for
	// the levels they added. The timeline of a later page of those levels
	// (a look that finds someone on call, a maintenance window's end)
	// names it, not the rule of whatever paged the incident last: the
	// levels an incident's own rule pages at once are not an
	// auto-escalation trigger's that re-opened it. Empty, or of another
	// length, in incidents stored before it was kept (or written back by
	// a replica of an older version): their pages name one rule, as before.
	PageImmediatelyBy []string `json:"page_immediately_by,omitempty"`
}

// HeldSpan is a stretch of an incident's life in which a maintenance
// window (one, or several handed over) held its pages.
type HeldSpan struct {
	From time.Time `json:"from"`
	// To is zero while the hold lasts.
	To time.Time `json:"to,omitzero"`
}

// HeldBefore is how much of the spans lies before t, an open span counting
// up to t: the time maintenance windows held an incident before t, which
// reports take off its times to acknowledge and to resolve.
func HeldBefore(spans []HeldSpan, t time.Time) time.Duration {
	var d time.Duration
	for _, s := range spans {
		end := s.To
		if end.IsZero() || end.After(t) {
			end = t
		}
		if end.After(s.From) {
			d += end.Sub(s.From)
		}
	}
	return d
}

// PausedTarget is an SLA target (acknowledge, initial_response,
// resolution, status_update) stopped by a maintenance hold. An incident
// held by a window pages nobody, so nobody can be late acknowledging or
// answering it: its target clocks stop for as long as the hold lasts and
// resume, when it is lifted, with the time they had left, rather than
// starting over. An incident held from its trigger thus gets its whole
// targets counted from the window's end, like the ladder that is paged
// then; one held part-way gets what it had left, so a long-open incident
// is not handed a fresh resolution target by a short window. Left is
// wall-clock time, business-hours and next_business_day targets included
// (they were resolved to an instant when armed).
type PausedTarget struct {
	Target string `json:"target"`
	// Left is the time the target had left when the hold began, or, for
	// a status update posted while held, the whole interval to the next.
	Left time.Duration `json:"left_ns"`
}

// Hold is a maintenance window holding an incident's pages until Until:
// the incident is recorded, its pending pages and escalations are
// cancelled and none are armed, and its SLA targets are paused
// (PausedTarget); when the window ends, an incident still triggered is
// paged as new, from the first level.
type Hold struct {
	ID    string    `json:"id"`
	Name  string    `json:"name,omitempty"`
	Until time.Time `json:"until"`
	// From is when the window began: one in force when a person escalated
	// the incident past maintenance does not hold it again
	// (Incident.MayHold). Zero in holds stored before it was kept.
	From time.Time `json:"from,omitzero"`
}

// String names the window for the timeline.
func (h *Hold) String() string {
	if h.Name != "" && h.Name != h.ID {
		return fmt.Sprintf("%s (%s)", h.Name, h.ID)
	}
	return h.ID
}

// EventKind is something that happens to an incident.
type EventKind string

// Event kinds.
const (
	EventTrigger      EventKind = "trigger"
	EventAcknowledge  EventKind = "acknowledge"
	EventResolve      EventKind = "resolve"
	EventEscalate     EventKind = "escalate"
	EventStatusUpdate EventKind = "status_update"
	EventDeadline     EventKind = "deadline"
	// EventChannelFailed says a page to Actor on Channel did not reach
	// them (an SMS reported undelivered): their next step comes at once.
	EventChannelFailed EventKind = "channel_failed"
	// EventHold says the maintenance window Hold started and covers the
	// open incident: its pending pages stop until the window ends. A
	// window that ends no later than the one already holding it changes
	// nothing.
	EventHold EventKind = "hold"
	// EventRelease says the maintenance window Hold (by its id) ended
	// early (it was deleted), or no longer covers the incident (Message
	// says why): the incident it holds is released as at the window's
	// end, or, when Then is set, held by that other window instead,
	// without paging in between.
	EventRelease EventKind = "release"
)

// Event is an input to the machine. Trigger carries the Route decided for
// the alert; a trigger of an incident that is still open is a re-trigger and
// pages nobody; of a resolved one, it starts afresh. Deadline names the
// deadline that came due.
type Event struct {
	Kind     EventKind
	Actor    string
	Route    *Route
	Deadline string
	// Message is a status update's text; for a trigger that raises an open
	// incident's priority, which alert raised it; for a release, why the
	// window no longer holds the incident (default: it ended).
	Message string
	// ToLevel, for escalate, is the level to go to; -1 or 0 means the next.
	ToLevel string
	// FromLevel, for escalate when FromLevelSet, is the level (an index
	// into the policy's levels) the escalation is from: the level of the
	// page a person answers with "escalate". When the incident is no
	// longer at it (someone, or the level's timeout, escalated it since),
	// Apply changes nothing and returns ErrAlreadyEscalated: the same
	// answer sent twice (an SMS resent, a button clicked twice, two people
	// on one message) escalates once, not past the level it asked for.
	// A level above the incident's that its rules page at once
	// (page_immediately) is no step of its ladder: the escalation is from
	// wherever the incident is, refused only as FromLevelAt says. Unset,
	// an escalation is from wherever the incident is.
	FromLevel    int
	FromLevelSet bool
	// FromLevelAt, with FromLevel, is when the page answered went out
	// (or when the level started, as a view of the incident showed it).
	// At the last level an escalation pages that level again rather than
	// leaving it, and a repeat of the policy comes back to a level: when
	// an escalation has started the level the incident is at since then
	// (Incident.LevelEscalatedAt), the page was answered already, and
	// Apply returns ErrAlreadyEscalated as for a level left. Zero, only
	// the level is compared.
	FromLevelAt time.Time
	// AckReopened, for acknowledge when AckReopenedSet, is the incident's
	// reopen count (Incident.Reopened) when the page acknowledged went
	// out, as a transport that keys its alerts by it reads it back
	// (PagerDuty's dedup key). When the incident has been reopened since,
	// that page is not what pages the person now: Apply changes nothing
	// and returns ErrReopenedSince, so a late answer to the old alert
	// (PagerDuty's webhook for an acknowledgement pagerd forwarded before
	// the reopen, a tap on the old alert) does not silence the new pages.
	// Checked here, with the incident as it is written, not before.
	AckReopened    int
	AckReopenedSet bool
	// SeenPriority, for resolve when set, is the incident's priority as
	// the person saw it (a console page). An incident raised since (a
	// more severe alert joined it) is not the one they judged over:
	// Apply changes nothing and returns ErrRaisedSince, so its pages go
	// on. Checked here, with the incident as it is written.
	SeenPriority string
	// SeenStatus, for escalate when set, is the incident's status as the
	// person saw it (a console page), and SeenReopened its reopen count
	// (Incident.Reopened) then. An incident acknowledged since (shown
	// triggered, or acknowledged again after a reopen) has someone on it
	// who did not ask for help: Apply changes nothing and returns
	// ErrAcknowledgedSince, so a button on a page that had not refreshed
	// does not wake the next level behind the acknowledger's back. The
	// page made anew shows the acknowledgement, and its button
	// escalates. Checked here, with the incident as it is written.
	SeenStatus   Status
	SeenReopened int
	// Note, for acknowledge, is what the person wrote with it, as another
	// system passes it on (an Opsgenie acknowledge's note), or why their
	// act there acknowledges this incident (notify.Page.Note): the ack
	// action's Note. For resolve, what they wrote closing it (an Opsgenie
	// close's note): the resolve action's. The daemon cleans and bounds
	// it (MaxNoteBytes).
	Note string
	// Channel, for channel_failed, is the channel that failed.
	Channel string
	// Step, for channel_failed, is the id of the step whose page failed,
	// when nothing of it reached the person for certain: the provider
	// refused it (Twilio refused the number, the mail server the
	// mailbox), or took it and reported later that it reached nobody (an
	// SMS undelivered, a call not answered or picked up by a voicemail).
	// Empty when the page may have reached them (a timeout after the
	// request went out) or the step is not known (a storm message, a
	// report whose page was recorded without its step): the next step
	// still comes forward, but the page counts as gone out
	// (Incident.LevelPages, Deadline.Sent). A step of an earlier level or
	// round is no longer counted and moves nothing; nor does one named
	// twice.
	Step string
	// BroughtForward, for channel_failed, says the person's next step
	// came forward for this failure already: only Step counts now. A
	// delivery report that came before the dispatcher recorded its page
	// brought the next step forward without its step (it was not known
	// yet), and the write that records the page counts the step: bringing
	// a step forward again then would move a second one, where the report
	// arriving after its page moves one.
	BroughtForward bool
	// Hold, for a trigger, is the maintenance window covering the new
	// incident (it is recorded and pages nobody); for hold and release,
	// the window that starts or ends.
	Hold *Hold
	// Then, for release, is another window that still covers the incident.
	// For a deadline that is the end of the window holding the incident
	// (DeadlineMaintenance), it is the window covering the incident when
	// the deadline fires, if one does (the next of two windows back to
	// back, or one overlapping): it holds the incident on, and nobody is
	// paged at the seam. The daemon looks it up, since the machine knows
	// neither the incident's labels nor the windows made at run time.
	Then *Hold
	// Received, for a resolve its sender sent (an Alertmanager resolved
	// notification, a PagerDuty resolve event, an Opsgenie close), is
	// when the daemon received it, on the clock its replicas share; zero
	// when not known. The machine does not read it: the daemon records it
	// on the resolve's timeline entry, where a firing received before it
	// and written after it is told from one received after it.
	Received time.Time
}

// ActionKind is what the machine tells the daemon to do or record.
type ActionKind string

// Action kinds: the `type` of simulate's events and of timeline entries.
const (
	ActionNotify       ActionKind = "notify"
	ActionEscalate     ActionKind = "escalate"
	ActionAck          ActionKind = "ack"
	ActionResolve      ActionKind = "resolve"
	ActionStatusUpdate ActionKind = "status_update"
	ActionSLABreach    ActionKind = "sla_breach"
	// ActionOverride records, when a level is paged, that a run-time
	// override (made through the API, Override.ID) put the person paged
	// on the tier: the timeline says whose shift it was and who moved it.
	// Overrides in the config file, which `pagerd simulate` sees too, are
	// not recorded: the file says them already.
	ActionOverride ActionKind = "override"
	// ActionMaintenance records a maintenance window holding or releasing
	// the incident's pages.
	ActionMaintenance ActionKind = "maintenance"
	// ActionWaitOnCall records that the incident begins to wait for
	// someone to come on call (DeadlineOnCall): its ladder ran out and no
	// level of its policy has anyone on call. Once a wait, however many
	// looks it takes.
	ActionWaitOnCall ActionKind = "wait_on_call"
	// ActionAlreadyAcknowledged records that an unresolved rule left out
	// a person it names because they acknowledged the incident (User):
	// it is in their hands. A rule that names nobody else pages nobody
	// and escalates nothing; this entry is then all it leaves.
	ActionAlreadyAcknowledged ActionKind = "already_acknowledged"
)

// Action is one thing to send or record. Notify actions are pages to send;
// the others are timeline entries.
type Action struct {
	Kind      ActionKind `json:"type"`
	At        time.Time  `json:"at"`
	Level     int        `json:"level"`
	LevelName string     `json:"level_name,omitempty"`
	User      string     `json:"user,omitempty"`
	Channel   string     `json:"channel,omitempty"`
	Detail    string     `json:"detail,omitempty"`
	// Note, on an ack or a resolve, is what the person wrote with it
	// (Event.Note).
	Note string `json:"note,omitempty"`
	// Urgency is, for a notify action, the urgency of the page the step
	// belongs to (Deadline.Urgency); empty for a step stored without one.
	Urgency string `json:"urgency,omitempty"`
	// PagedNobody marks an escalation that reached nobody: every target
	// of the level (or of the rule) is in a gap nothing covers. The
	// daemon logs it; a missed page must not pass unseen.
	PagedNobody bool `json:"paged_nobody,omitempty"`
}

// ErrResolved is returned for an acknowledge, escalate or status update on a
// resolved incident.
var ErrResolved = errors.New("incident is resolved")

// ErrAlreadyEscalated is returned for an escalate from a level
// (Event.FromLevel) the incident is no longer at: it was escalated from it
// already, and escalating again would page a level nobody asked for.
var ErrAlreadyEscalated = errors.New("incident was already escalated from that level")

// ErrUnknownService is returned for an event on an incident whose service
// is not in the config (but a resolve, which needs nothing of it): nothing
// can page it until the service is back.
var ErrUnknownService = errors.New("unknown service")

// ErrReopenedSince is returned for an acknowledge of a page sent before the
// incident's latest reopen (Event.AckReopened): it answers a page the
// reopen superseded, and acknowledging would stop the pages after it.
var ErrReopenedSince = errors.New("incident was reopened after the page acknowledged")

// ErrRaisedSince is returned for a resolve of an incident whose priority
// is no longer the one the person saw (Event.SeenPriority).
var ErrRaisedSince = errors.New("incident was raised after the person saw it")

// ErrAcknowledgedSince is returned for an escalate of an incident
// acknowledged after the person saw it (Event.SeenStatus).
var ErrAcknowledgedSince = errors.New("incident was acknowledged after the person saw it")

// Engine is the escalation state machine over one config. It is a pure
// function of (incident, event, now): no clock, no I/O. The daemon and
// `pagerd simulate` drive the same Apply.
type Engine struct {
	Config *Config
}

type run struct {
	c       *Config
	svc     *Service
	pol     *EscalationPolicy
	inc     Incident
	now     time.Time
	actions []Action
	// overridden notes who the last resolved targets put on call through
	// a run-time override, and how (for ActionOverride).
	overridden map[string]string
	// looked says the event is the incident's look for someone on call
	// (DeadlineOnCall): a wait armed after it is the same wait going on,
	// not one beginning (waitOnCall).
	looked bool
}

// Apply returns the incident after the event and the actions it causes. The
// input incident is not modified. For a deadline event, step times are
// counted from the deadline's own time, not from now, so a late dispatcher
// does not shift the rest of the ladder; who is paged is who is on call
// now, which is what every other view of the schedules says.
func (e *Engine) Apply(inc Incident, ev Event, now time.Time) (Incident, []Action, error) {
	inc.Pending = append([]Deadline(nil), inc.Pending...)
	inc.LevelPages = append([]string(nil), inc.LevelPages...)
	inc.PageImmediately = append([]string(nil), inc.PageImmediately...)
	inc.PageImmediatelyBy = append([]string(nil), inc.PageImmediatelyBy...)
	inc.PausedTargets = append([]PausedTarget(nil), inc.PausedTargets...)
	inc.Held = append([]HeldSpan(nil), inc.Held...)
	svcName := inc.Service
	if ev.Kind == EventTrigger && ev.Route != nil {
		svcName = ev.Route.Service.Name
	}
	svc := e.Config.Service(svcName)
	if svc == nil && ev.Kind == EventResolve {
		// An incident whose service left the config (a reload before
		// reloads kept services with open incidents, another replica's
		// config) can still be closed: a resolve needs nothing of it.
		r := &run{c: e.Config, svc: &Service{Name: svcName}, inc: inc, now: now}
		_ = r.resolve(ev.Actor, ev.Note)
		return r.inc, r.actions, nil
	}
	if svc == nil {
		return inc, nil, fmt.Errorf("%w %q", ErrUnknownService, svcName)
	}
	r := &run{c: e.Config, svc: svc, pol: e.Config.Policy(svc.EscalationPolicy), inc: inc, now: now}
	if n := len(r.pol.Levels); r.inc.Level >= n {
		// The policy lost levels in a config reload: carry on from its
		// last one rather than from a level that no longer exists.
		r.inc.Level = n - 1
	} else {
		// An event under a shorter policy (a reload since undone, a
		// replica still on the old config in a rolling change) stored
		// the incident at the last level that one had, and left its
		// level's timeout, armed where it stood: every level started
		// cancels the timeout before it, so only that clamp leaves one
		// above the incident. With the level back, the incident is
		// back at it: left below, its timeout was dropped as a level's
		// it had left (the repeat never came), and an escalation
		// answering its page was refused as answered already.
		for _, d := range r.inc.Pending {
			if d.Kind == DeadlineEscalate && d.Level > r.inc.Level {
				r.inc.Level = min(d.Level, n-1)
			}
		}
	}
	var err error
	switch ev.Kind {
	case EventTrigger:
		err = r.trigger(ev)
	case EventAcknowledge:
		err = r.acknowledge(ev)
	case EventResolve:
		if ev.SeenPriority != "" && r.inc.Status != StatusResolved && ev.SeenPriority != r.inc.Priority {
			err = ErrRaisedSince
			break
		}
		err = r.resolve(ev.Actor, ev.Note)
	case EventEscalate:
		err = r.escalate(ev)
	case EventStatusUpdate:
		err = r.statusUpdate(ev.Actor, ev.Message)
	case EventDeadline:
		err = r.deadline(ev.Deadline, ev.Then)
	case EventChannelFailed:
		r.channelFailed(ev.Actor, ev.Channel, ev.Step, ev.BroughtForward)
	case EventHold:
		r.hold(ev.Hold)
	case EventRelease:
		if ev.Hold != nil && r.held(ev.Hold.ID) {
			why := ev.Message
			if why == "" {
				why = fmt.Sprintf("maintenance window %s ended", ev.Hold)
			}
			r.release(r.now, why, ev.Then)
		}
	default:
		err = fmt.Errorf("unknown event %q", ev.Kind)
	}
	if err != nil {
		return inc, nil, err
	}
	r.waitOnCall()
	r.sortPending()
	return r.inc, r.actions, nil
}

// sortPending puts the pending deadlines in the order they fire. It sorts
// as sort.Slice did (the same algorithm, on the same comparisons:
// TestPendingSortedAsSortSlice) without its reflection, two allocations an
// event.
//
// An incident has few deadlines (a new one eight), and for up to
// sortInPlaceMax SortFunc is an insertion sort: the same sort is run here
// on their indexes, each comparison made in place, and then each deadline
// is moved once to where it goes, where SortFunc passed two by value to
// every comparison and swapped them a step at a time.
func (r *run) sortPending() {
	p := r.inc.Pending
	if len(p) > sortInPlaceMax {
		slices.SortFunc(p, Deadline.compare)
		return
	}
	var order [sortInPlaceMax]uint8
	o := order[:len(p)]
	for i := range o {
		o[i] = uint8(i)
	}
	for i := 1; i < len(o); i++ {
		for j := i; j > 0 && compareDeadlines(&p[o[j]], &p[o[j-1]]) < 0; j-- {
			o[j], o[j-1] = o[j-1], o[j]
		}
	}
	// p[k] is to be what p[o[k]] is: follow each cycle of the order once.
	var placed [sortInPlaceMax]bool
	for k := range o {
		if placed[k] || int(o[k]) == k {
			continue
		}
		first, j := p[k], k
		for {
			placed[j] = true
			next := int(o[j])
			if next == k {
				p[j] = first
				break
			}
			p[j] = p[next]
			j = next
		}
	}
}

// sortInPlaceMax is the most deadlines sortPending sorts by their indexes:
// the most slices.SortFunc sorts by insertion alone.
const sortInPlaceMax = 12

// compare orders deadlines by time, then by the order they were armed.
func (d Deadline) compare(o Deadline) int { return compareDeadlines(&d, &o) }

// compareDeadlines is compare of two deadlines where they are.
func compareDeadlines(d, o *Deadline) int {
	return cmp.Or(d.At.Compare(o.At), cmp.Compare(d.Seq, o.Seq))
}

// before reports whether d fires before o (compare).
func (d Deadline) before(o Deadline) bool { return d.compare(o) < 0 }

// Next is the deadline to fire first, if any.
func (i *Incident) Next() (Deadline, bool) {
	var best Deadline
	found := false
	for _, d := range i.Pending {
		if !found || d.before(best) {
			best, found = d, true
		}
	}
	return best, found
}

// priority is the priority the incident is escalated by
// (Service.PriorityInForce): its own, or its service's most urgent when
// the scheme lacks it. An incident of such a priority is as urgent as any
// can be, so no repeat raises it (raise).
func (r *run) priority() string {
	p, _ := r.svc.PriorityInForce(r.inc.Priority)
	return p
}

func (r *run) act(a Action) {
	if a.At.IsZero() {
		a.At = r.now
	}
	if a.LevelName == "" {
		a.LevelName = r.levelName(a.Level)
	}
	r.actions = append(r.actions, a)
}

func (r *run) schedule(d Deadline) {
	r.inc.Seq++
	d.Seq = r.inc.Seq
	d.ID = deadlineID(r.inc.Epoch, r.inc.Seq)
	if r.inc.Pending == nil {
		// A run that schedules one deadline schedules several (a new
		// incident, its ladder's steps and timeouts): room for them at
		// once, where growing one at a time took four allocations of a
		// deadline's 200 bytes and more.
		r.inc.Pending = make([]Deadline, 0, 8)
	}
	r.inc.Pending = append(r.inc.Pending, d)
}

// deadlineID is "epoch.seq", as fmt's "%d.%d" writes it, written
// without fmt: every deadline a run schedules is named.
func deadlineID(epoch, seq int) string {
	var b [41]byte
	id := strconv.AppendInt(b[:0], int64(epoch), 10)
	id = append(id, '.')
	return string(strconv.AppendInt(id, int64(seq), 10))
}

// cancel drops pending deadlines the filter picks. The filter is handed
// each deadline in place (it must not change it), and a deadline kept is
// moved only once one before it has gone: a deadline is some 280 bytes,
// and every event cancels several times over all of them.
func (r *run) cancel(drop func(*Deadline) bool) {
	p := r.inc.Pending
	n := 0
	for i := range p {
		if drop(&p[i]) {
			continue
		}
		if n != i {
			p[n] = p[i]
		}
		n++
	}
	r.inc.Pending = p[:n]
}

func (r *run) trigger(ev Event) error {
	if ev.Route == nil {
		return errors.New("trigger needs a route")
	}
	if r.inc.Status == StatusTriggered || r.inc.Status == StatusAcknowledged {
		// The alert fired again while the incident is open: no new pages
		// (the daemon's store counts such repeats), unless it got worse.
		r.raise(ev.Route, ev.Message)
		return nil
	}
	rt := ev.Route
	id := r.inc.ID
	r.inc = Incident{
		ID:              id,
		Service:         rt.Service.Name,
		Priority:        rt.Priority,
		Urgency:         rt.Urgency,
		Rule:            rt.Rule,
		PageImmediately: append([]string(nil), rt.PageImmediately...),
		Status:          StatusTriggered,
		Epoch:           r.inc.Epoch + 1,
		TriggeredAt:     r.now,
		Seq:             r.inc.Seq,
		Reopened:        r.inc.Reopened,
		Unpaged:         true,
	}
	for k := range rt.PageImmediately {
		r.inc.PageImmediatelyBy = append(r.inc.PageImmediatelyBy, rt.RuleOfLevel(k))
	}
	t := r.now
	// Targets are armed first so that a breach due at the same instant as an
	// escalation is recorded before it, at the level that missed it.
	targets := r.c.TargetsAt(r.svc, r.priority(), t)
	for _, s := range []struct {
		name string
		to   Timeout
	}{{"acknowledge", targets.Acknowledge}, {"initial_response", targets.InitialResponse}, {"resolution", targets.Resolution}} {
		if at, ok := r.c.TargetDueAt(r.svc, r.priority(), s.name, t); ok && s.to.IsSet() {
			r.schedule(Deadline{At: at, Kind: DeadlineSLA, Target: s.name})
		}
	}
	r.armStatusSLA(t)
	if ev.Hold != nil {
		// Recorded, paging nobody until the window ends.
		r.holdBy(ev.Hold, fmt.Sprintf("in maintenance window %s until %s: recorded, pages nobody until it ends",
			ev.Hold, ev.Hold.Until.UTC().Format(time.RFC3339)))
		return nil
	}
	r.pageAsNew(t, "")
	return nil
}

// pageAsNew pages an incident from its first level, as a trigger does:
// level 1, the levels its rule pages at once, and its unresolved rules
// counted from t. Nobody has been paged for it as new: paging nobody (its
// levels in a gap), it waits for someone on call (Incident.Unpaged), as an
// alert that comes at t does; by says what paged it as new
// (Incident.UnpagedBy).
func (r *run) pageAsNew(t time.Time, by string) {
	r.inc.Unpaged, r.inc.UnpagedBy = true, by
	r.inc.Round = 0
	r.inc.LevelEscalatedAt = time.Time{}
	r.startLevel(0, t, "")
	r.pageImmediately(t)
	r.armUnresolved(t)
}

// pageImmediately pages, at t, the levels the incident's rule pages at
// once besides the ladder (Incident.PageImmediately): at its trigger, at
// a maintenance window's end, and when someone comes on call for an
// incident that waited for them (DeadlineOnCall), as for an alert that
// comes then.
func (r *run) pageImmediately(t time.Time) { r.pageImmediatelyFor(t, r.inc.Rule) }

// pageImmediatelyFor is pageImmediately, each entry naming the rule that
// made its level one paged at once (Incident.PageImmediatelyBy), or rule
// in an incident stored without them.
func (r *run) pageImmediatelyFor(t time.Time, rule string) {
	by := r.inc.PageImmediatelyBy
	if len(by) != len(r.inc.PageImmediately) {
		by = nil
	}
	for k, name := range r.inc.PageImmediately {
		i := r.pol.LevelIndex(name)
		if i <= 0 {
			continue
		}
		why := rule
		if by != nil && by[k] != "" {
			why = by[k]
		}
		r.act(Action{Kind: ActionEscalate, At: t, Level: i, Detail: "auto-escalation trigger (" + why + ")"})
		r.pagedNobody(r.page(r.levelUsers(i, t), i, t), "level "+r.pol.Levels[i].Name)
	}
}

// ruleOfEach is Incident.PageImmediatelyBy of a trigger's levels paged at
// once: its rule for each (nil for none, as a stored incident reads).
func ruleOfEach(levels []string, rule string) []string {
	if len(levels) == 0 {
		return nil
	}
	return slices.Repeat([]string{rule}, len(levels))
}

// addPageImmediately makes level name one the incident pages at once,
// by rule (Incident.PageImmediatelyBy). In an incident stored without
// the rules, none is kept: they would name the wrong levels.
func (r *run) addPageImmediately(name, rule string) {
	if len(r.inc.PageImmediatelyBy) == len(r.inc.PageImmediately) {
		r.inc.PageImmediatelyBy = append(r.inc.PageImmediatelyBy, rule)
	}
	r.inc.PageImmediately = append(r.inc.PageImmediately, name)
}

// armUnresolved arms the incident's unresolved rules (those of its
// priority) counted from t, in place of any armed before. A maintenance
// hold cancels them, so every path that lifts a hold (the window's end or
// deletion, triggered or acknowledged; an escalation by hand) calls this
// as well as a trigger does: an incident still open when paging resumes
// gets its "unresolved after" rules back, counted from then, as a new
// incident would. Nothing is armed while a window holds the incident or
// once it is resolved.
func (r *run) armUnresolved(t time.Time) {
	r.cancel(func(d *Deadline) bool { return d.Kind == DeadlineUnresolved })
	if r.inc.Status == StatusResolved || r.held("") {
		return
	}
	for i, u := range r.pol.Unresolved {
		if slices.Contains(u.Priorities, r.priority()) {
			r.schedule(Deadline{At: t.Add(time.Duration(u.After)), Kind: DeadlineUnresolved, Rule: i, Target: ruleKey(u.Priorities, u.After)})
		}
	}
}

// ruleKey names a rule by what it is for, its priorities and its after
// ("P0,P1 after 1h"): a reload that adds or takes out a rule above it moves
// it in the list, and the step an open incident armed from it must still
// find it (unresolvedRule), not the rule that took its place.
func ruleKey(priorities []string, after Duration) string {
	return strings.Join(priorities, ",") + " after " + after.String()
}

// unresolvedRule is the index of the unresolved rule the step d was armed
// from, in the policy as it is now, or -1 when it left the config: the
// rule of the same priorities and after (the one where it stood when
// there are two), else the one where it stood if it is still for one of
// its priorities (its after or priorities edited in place) and has no
// step of its own pending. A step armed before steps named their rule is
// found where it stood.
func (r *run) unresolvedRule(d Deadline) int {
	rules := r.pol.Unresolved
	at := -1
	if d.Rule >= 0 && d.Rule < len(rules) {
		at = d.Rule
	}
	if d.Target == "" {
		return at
	}
	same := func(u UnresolvedRule) bool { return ruleKey(u.Priorities, u.After) == d.Target }
	if at >= 0 && same(rules[at]) {
		return at
	}
	if i := slices.IndexFunc(rules, same); i >= 0 {
		return i
	}
	if at >= 0 && slices.ContainsFunc(r.inc.Pending, func(p Deadline) bool {
		return p.Kind == DeadlineUnresolved && p.ID != d.ID && p.Target == ruleKey(rules[at].Priorities, rules[at].After)
	}) {
		// The rule where it stood has a step of its own: it is the rule
		// after it, moved up by a reload that took this one out, not this
		// one edited in place. Fired here, it paged its people early, and
		// again at its own time.
		return -1
	}
	armedFor, _, _ := strings.Cut(d.Target, " after ")
	if at >= 0 && slices.ContainsFunc(strings.Split(armedFor, ","), func(p string) bool { return slices.Contains(rules[at].Priorities, p) }) {
		return at
	}
	return -1
}

// statusRule is the index of the policy's missing-status-update rule for
// the incident's priority (the first one listed), or -1 when it has none:
// the rule a step is armed from, and, when it fires, the one it is for,
// wherever a reload has moved it since.
func (r *run) statusRule() int {
	return slices.IndexFunc(r.pol.MissingStatusUpdate, func(rule StatusUpdateRule) bool { return slices.Contains(rule.Priorities, r.priority()) })
}

// held reports whether the maintenance window id holds the incident (any
// window, for id "").
func (r *run) held(id string) bool {
	return r.inc.Maintenance != nil && (id == "" || r.inc.Maintenance.ID == id)
}

// AcknowledgedByAt is when AcknowledgedBy acknowledged the incident: an
// answer that names who acknowledged it says when they did, not when
// someone else first did before a reopen ("acknowledged by carol at" the
// time bob acknowledged it). Zero when it was never acknowledged, and when
// that is not known: a record written before LastAcknowledgedAt was kept,
// reopened since its first acknowledgement (so acknowledged again after
// it, or not at all). A record never reopened was acknowledged once, at
// AcknowledgedAt.
func (inc *Incident) AcknowledgedByAt() time.Time {
	switch {
	case !inc.LastAcknowledgedAt.IsZero():
		return inc.LastAcknowledgedAt
	case inc.Reopened == 0:
		return inc.AcknowledgedAt
	}
	return time.Time{}
}

// MayHold reports whether the maintenance window h may hold the incident:
// not one a person escalated it past (Lifted), nor one already in force
// when they did (begun by LiftedAt), which would stop the pages they
// asked for; a window that begins later may.
func (inc *Incident) MayHold(h *Hold) bool {
	if slices.Contains(inc.Lifted, h.ID) {
		return false
	}
	return inc.LiftedAt.IsZero() || h.From.IsZero() || h.From.After(inc.LiftedAt)
}

// hold is a maintenance window starting over an open incident: unless a
// window ending no earlier already holds it, its pages stop until h ends.
func (r *run) hold(h *Hold) {
	if h == nil || r.inc.Status == StatusResolved {
		return
	}
	if cur := r.inc.Maintenance; cur != nil && !h.Until.After(cur.Until) {
		return
	}
	if !r.inc.MayHold(h) {
		return // a person escalated past it, or past maintenance while it was in force
	}
	r.holdBy(h, fmt.Sprintf("maintenance window %s started: pending pages cancelled, nobody is paged until %s",
		h, h.Until.UTC().Format(time.RFC3339)))
}

// holdBy puts the incident under the window h: every pending page,
// escalation, unresolved and status-update step is cancelled (none are
// armed while it holds), the SLA targets still ahead are paused (see
// PausedTarget), and the window's end is a deadline of its own. A target
// already due stays: it was missed before the window began.
func (r *run) holdBy(h *Hold, why string) {
	hh := *h
	if r.inc.Maintenance == nil {
		// A window taking over from another continues the same span.
		r.inc.Held = append(r.inc.Held, HeldSpan{From: r.now})
	}
	r.inc.Maintenance = &hh
	r.inc.LevelPages = nil // its pages are called off: none is to fail
	r.cancel(func(d *Deadline) bool {
		switch d.Kind {
		case DeadlineNotify, DeadlineEscalate, DeadlineUnresolved, DeadlineStatusUpdate, DeadlineMaintenance, DeadlineOnCall:
			return true
		case DeadlineSLA:
			if d.At.After(r.now) {
				r.inc.PausedTargets = append(r.inc.PausedTargets, PausedTarget{Target: d.Target, Left: d.At.Sub(r.now)})
				return true
			}
		}
		return false
	})
	r.schedule(Deadline{At: hh.Until, Kind: DeadlineMaintenance, Target: hh.ID})
	r.act(Action{Kind: ActionMaintenance, Level: r.inc.Level, Detail: why})
}

// release ends the hold at t: a triggered incident is paged as new, an
// acknowledged one gets its status-update clock and its unresolved rules
// back, counted from t. With then, another window that still covers the
// incident holds it instead, unless a person escalated past that one, or
// past maintenance while it was in force (MayHold): handed the incident
// back when a later window ends, it would stop the pages they asked for
// until its own end.
func (r *run) release(t time.Time, why string, then *Hold) {
	if then != nil && then.Until.After(t) && r.inc.MayHold(then) {
		r.holdBy(then, fmt.Sprintf("%s; maintenance window %s still covers it: nobody is paged until %s",
			why, then, then.Until.UTC().Format(time.RFC3339)))
		return
	}
	r.lift(t)
	switch r.inc.Status {
	case StatusTriggered:
		r.act(Action{Kind: ActionMaintenance, At: t, Level: 0, Detail: why + ": still firing, paged as new"})
		r.pageAsNew(t, unpagedByWindow)
	case StatusAcknowledged:
		r.act(Action{Kind: ActionMaintenance, At: t, Level: r.inc.Level, Detail: why + ": acknowledged, nobody is paged"})
		r.armStatusEscalation(t)
		r.armUnresolved(t)
	}
}

// lift ends the hold at t, whatever comes next: the window's end is no
// longer a deadline, and the SLA targets the hold paused run again with
// the time they had left, armed before any page so that a breach due with
// a step is recorded first, as at a trigger.
func (r *run) lift(t time.Time) {
	r.endHeldSpan(t)
	r.inc.Maintenance = nil
	r.cancel(func(d *Deadline) bool { return d.Kind == DeadlineMaintenance })
	for _, p := range r.inc.PausedTargets {
		r.schedule(Deadline{At: t.Add(p.Left), Kind: DeadlineSLA, Target: p.Target})
	}
	r.inc.PausedTargets = nil
}

// endHeldSpan closes the open span of Held at t, if there is one.
func (r *run) endHeldSpan(t time.Time) {
	if n := len(r.inc.Held); n > 0 && r.inc.Held[n-1].To.IsZero() {
		r.inc.Held[n-1].To = t
	}
}

// unpause drops a paused target that was met while the hold lasted.
func (r *run) unpause(target string) {
	r.inc.PausedTargets = slices.DeleteFunc(r.inc.PausedTargets, func(p PausedTarget) bool { return p.Target == target })
}

// raise handles an open incident whose alert fires again more urgently (a
// critical alert joins a warning group): it takes the new priority, urgency
// and rule, re-opens an acknowledged incident, pages the current level again
// on the new urgency's ladder with the new timeout (the old one when that
// comes sooner and the level was paged loudly already), and pages any
// levels the new rule pages at once. A repeat at the same or a lower
// priority changes nothing. why, when set, says which alert raised it, for
// the timeline.
func (r *run) raise(rt *Route, why string) {
	sc := r.svc.Scheme()
	if rt.Priority == "" || sc.Rank(rt.Priority) < 0 || sc.Rank(rt.Priority) >= sc.Rank(r.priority()) {
		r.autoEscalate(rt, why)
		return
	}
	from, was := r.inc.Priority, r.priority()
	// The level's timeout, when its people were paged on the loud ladder
	// already: the raise pages them again, but holds the next level back
	// no later than it was due, as the SLA targets (raiseTargets). A
	// level paged quietly (push only) until now is paged loudly for the
	// first time, and gets the new priority's whole timeout.
	var due time.Time
	if r.inc.Urgency != UrgencyLow {
		for _, d := range r.inc.Pending {
			if d.Kind == DeadlineEscalate && d.Level == r.inc.Level {
				due = d.At
			}
		}
	}
	// The level the incident is at, where the policy has it now: a
	// reload that took out a level before it moved it down, and its
	// index is the next one's (at).
	level := r.at()
	r.inc.Priority, r.inc.Urgency, r.inc.Rule = rt.Priority, rt.Urgency, rt.Rule
	r.raiseTargets(was)
	r.reopen()
	detail := fmt.Sprintf(priorityRaised+" from %s to %s (%s)", from, rt.Priority, rt.Rule)
	if why != "" {
		detail += " by " + why
	}
	h := r.inc.Maintenance
	if h != nil {
		detail += fmt.Sprintf(": in maintenance window %s, nobody is paged until %s", h, h.Until.UTC().Format(time.RFC3339))
	}
	// The new priority's ladder gets the policy's rounds afresh: the
	// rounds a milder ladder used up (hours of off-hours P3 pushes) must
	// not leave the raised incident paged once at the last level and then
	// never again. Nobody has acknowledged the incident at its new
	// priority: an acknowledgement of the milder one does not stop the
	// rounds.
	r.inc.Round = 0
	r.inc.RaisedSinceAck = true
	r.inc.Unpaged, r.inc.UnpagedBy = true, unpagedByRaise
	r.startLevel(level, r.now, detail)
	for i, d := range r.inc.Pending {
		if d.Kind == DeadlineEscalate && !due.IsZero() && r.inc.Level == level && due.Before(d.At) {
			r.inc.Pending[i].At = due
		}
	}
	for k, name := range rt.PageImmediately {
		if i := r.pol.LevelIndex(name); i > r.at() && !slices.Contains(r.inc.PageImmediately, name) {
			r.addPageImmediately(name, rt.RuleOfLevel(k))
			if h != nil {
				// Nobody is paged now: the level is paged, and the
				// auto-escalation recorded, when the window ends and the
				// incident is paged as new (pageAsNew). Recording it now
				// would tell the timeline, and the reports' escalation
				// count, of a page that was not sent.
				continue
			}
			r.act(Action{Kind: ActionEscalate, At: r.now, Level: i, LevelName: name, Detail: "auto-escalation trigger (" + rt.RuleOfLevel(k) + ")"})
			r.pagedNobody(r.page(r.levelUsers(i, r.now), i, r.now), "level "+r.pol.Levels[i].Name)
		}
	}
	r.armRaisedUnresolved()
}

// raiseTargets holds a raised incident to its new priority's SLA targets
// from the raise on: each target it has not met yet (acknowledge before
// any acknowledgement, initial_response before any status update,
// resolution, and the status-update clock) falls due at the earlier of its
// time so far and the new priority's target counted from the raise; one
// the old priority (was) lacked is armed from the raise. A P2 raised to P0
// at 14:20 must be resolved by 15:20, not by the P2's 24 hours; counted
// from the P2's creation, the P0's targets would be missed before anyone
// knew it was a P0. A target already met stays met, one already missed
// stays missed (recorded once), and one the new priority lacks keeps its
// time. Under a maintenance hold the paused targets get the same, as time
// left.
func (r *run) raiseTargets(was string) {
	met := func(name string) bool {
		switch name {
		case "acknowledge":
			return !r.inc.AcknowledgedAt.IsZero()
		case "initial_response":
			return r.inc.StatusUpdates > 0
		}
		return false
	}
	for _, name := range TargetNames {
		if met(name) {
			continue
		}
		due, ok := r.c.TargetDueAt(r.svc, r.priority(), name, r.now)
		if !ok {
			continue
		}
		// A target the old priority had that is neither pending nor paused
		// was missed already.
		_, had := r.c.TargetDueAt(r.svc, was, name, r.inc.TriggeredAt)
		if r.held("") {
			left := due.Sub(r.now)
			i := slices.IndexFunc(r.inc.PausedTargets, func(p PausedTarget) bool { return p.Target == name })
			switch {
			case i < 0 && !had:
				r.inc.PausedTargets = append(r.inc.PausedTargets, PausedTarget{Target: name, Left: left})
			case i >= 0 && left < r.inc.PausedTargets[i].Left:
				r.inc.PausedTargets[i].Left = left
			}
			continue
		}
		i := slices.IndexFunc(r.inc.Pending, func(d Deadline) bool { return d.Kind == DeadlineSLA && d.Target == name })
		switch {
		case i < 0 && !had:
			r.schedule(Deadline{At: due, Kind: DeadlineSLA, Target: name})
		case i >= 0 && due.Before(r.inc.Pending[i].At):
			r.inc.Pending[i].At = due
		}
	}
}

// autoEscalate handles an open incident whose alert fires again no more
// urgently, but now matching a rule that pages levels at once which the
// incident has not paged (a security breach alert joining a P0 group): an
// auto-escalation trigger pages those levels at once, whatever the
// priority. An acknowledged incident is re-opened and its current level
// paged again, as at a raise, since the acknowledgement was for less; and
// as at a raise, its ladder gets the policy's rounds afresh and may start
// over at level 1 after the last (RaisedSinceAck): nobody has acknowledged
// the breach, and an executive level paged once must not be the last page
// of an incident its policy repeats. A triggered one pages only the new
// levels (its current level is being paged already, its rounds running).
// Anything else changes nothing.
func (r *run) autoEscalate(rt *Route, why string) {
	// Each level with the rule that pages it at once: in a group's route,
	// an alert's that did not decide it (Route.PageImmediatelyBy).
	var levels, rules []string
	for k, name := range rt.PageImmediately {
		if i := r.pol.LevelIndex(name); i > r.at() && !slices.Contains(r.inc.PageImmediately, name) && !slices.Contains(levels, name) {
			levels, rules = append(levels, name), append(rules, rt.RuleOfLevel(k))
		}
	}
	if len(levels) == 0 {
		return
	}
	for k, name := range levels {
		r.addPageImmediately(name, rules[k])
	}
	rule := rules[0] // the re-open's: the first new level's
	detailOf := func(rule string) string {
		if why != "" {
			return "auto-escalation trigger (" + rule + ") by " + why
		}
		return "auto-escalation trigger (" + rule + ")"
	}
	detail := detailOf(rule)
	if h := r.inc.Maintenance; h != nil {
		// Paged, with the rest, when the window ends (pageAsNew). An
		// acknowledged incident is re-opened now, as a raise re-opens
		// it: left acknowledged, the window's end would page nobody,
		// and the levels, recorded as paged at once, never.
		if r.inc.Status == StatusAcknowledged {
			r.reopenUnacknowledged(rule)
			r.act(Action{Kind: ActionMaintenance, Level: r.inc.Level, Detail: fmt.Sprintf("%s: re-opened; in maintenance window %s, nobody is paged until %s",
				detail, h, h.Until.UTC().Format(time.RFC3339))})
		}
		return
	}
	if r.inc.Status == StatusAcknowledged {
		r.reopenUnacknowledged(rule)
		r.startLevel(r.at(), r.now, detail+": re-opened")
	}
	for k, name := range levels {
		i := r.pol.LevelIndex(name)
		r.act(Action{Kind: ActionEscalate, At: r.now, Level: i, LevelName: name, Detail: detailOf(rules[k])})
		r.pagedNobody(r.page(r.levelUsers(i, r.now), i, r.now), "level "+r.pol.Levels[i].Name)
	}
}

// reopenUnacknowledged re-opens an acknowledged incident that has become
// more than what was acknowledged (an auto-escalation trigger joined it):
// it is one nobody has acknowledged, so its ladder gets the policy's
// rounds afresh and may repeat (mayRepeat), as after a priority raise,
// and, as after one, it waits for someone on call when nobody is paged
// (Incident.Unpaged).
func (r *run) reopenUnacknowledged(rule string) {
	r.reopen()
	r.inc.Round = 0
	r.inc.RaisedSinceAck = true
	r.inc.Unpaged, r.inc.UnpagedBy = true, unpagedByReopen+rule
}

// armRaisedUnresolved arms, at a raise, the unresolved rules of the new
// priority that are not armed yet (a "P0 unresolved after 1h" rule for an
// incident raised to P0), counted from the raise: from when it became that
// urgent, not from its trigger, which could make the rule fire at once for
// an incident long open at a milder priority. A rule already armed (of both
// priorities) keeps its time. While a window holds the incident nothing is
// armed: lifting the hold arms them all (armUnresolved).
func (r *run) armRaisedUnresolved() {
	if r.held("") || r.inc.Status == StatusResolved {
		return
	}
	for i, u := range r.pol.Unresolved {
		armed := slices.ContainsFunc(r.inc.Pending, func(d Deadline) bool { return d.Kind == DeadlineUnresolved && r.unresolvedRule(d) == i })
		if !armed && slices.Contains(u.Priorities, r.priority()) {
			r.schedule(Deadline{At: r.now.Add(time.Duration(u.After)), Kind: DeadlineUnresolved, Rule: i, Target: ruleKey(u.Priorities, u.After)})
		}
	}
}

// nobodyOnCall ends the detail of an escalation that paged nobody
// (pagedNobody).
const nobodyOnCall = " pages nobody (nobody is on call for it)"

// pagedNobody marks the escalation just recorded as one that reached
// nobody, when paging it paged no one (and no maintenance window holds the
// incident, which pages nobody on purpose): what names who it would page.
func (r *run) pagedNobody(paged int, what string) {
	if paged > 0 || r.held("") || len(r.actions) == 0 {
		return
	}
	a := &r.actions[len(r.actions)-1]
	a.PagedNobody = true
	if a.Detail != "" {
		a.Detail += ": "
	}
	a.Detail += what + nobodyOnCall
}

// startLevel pages level i at t and arms its timeout. A level that pages
// nobody at t (the tiers it targets are in a gap nothing covers) is not
// waited on: waiting out its timeout would page the next level late, and
// nobody would know why. The timeline says so and the next level is paged
// at once (after the last, level 1 of the next round while repeat allows);
// when no level pages anyone, the timeline says that too and the last one
// reached keeps its timeout, so a later round tries again.
func (r *run) startLevel(i int, t time.Time, why string) {
	for skipped := 0; ; skipped++ {
		r.setLevel(i)
		r.inc.LevelStartedAt = t
		r.inc.LevelPages, r.inc.LevelPagesKept = nil, true
		if why != "" {
			r.act(Action{Kind: ActionEscalate, At: t, Level: i, Detail: why})
		}
		if r.page(r.levelUsers(i, t), i, t) > 0 || r.held("") {
			break
		}
		next := i + 1
		if next >= len(r.pol.Levels) {
			next = 0
		}
		if skipped+1 >= len(r.pol.Levels) || (next == 0 && !r.mayRepeat()) {
			if why == "" {
				r.act(Action{Kind: ActionEscalate, At: t, Level: i})
			}
			r.pagedNobody(0, "level "+r.pol.Levels[i].Name)
			break
		}
		if next == 0 {
			r.inc.Round++
		}
		r.inc.LevelEscalatedAt = t
		why = fmt.Sprintf("level %s pages nobody (nobody is on call for it): escalated at once", r.pol.Levels[i].Name)
		i = next
	}
	r.armLevelTimeout(t)
}

// levelName names level i, an index into the policy as it is now or the
// index the incident's own level had when it started (Incident.Level):
// that one by the name it started with, which a reload may have moved
// in the policy (its index names another level now), or "" when the
// reload took it out (Config.IncidentLevelName).
func (r *run) levelName(i int) string {
	if i == r.inc.Level && r.inc.LevelName != "" {
		if r.pol.LevelIndex(r.inc.LevelName) < 0 {
			return ""
		}
		return r.inc.LevelName
	}
	return r.pol.LevelName(i)
}

// levelWords names level i in a timeline entry's words: by its name
// (levelName), or by its number when a reload took it out.
func (r *run) levelWords(i int) string {
	if name := r.levelName(i); name != "" {
		return name
	}
	return strconv.Itoa(i + 1)
}

// setLevel puts the incident at level i (an index into the policy as it
// is now), by index and by name.
func (r *run) setLevel(i int) {
	r.inc.Level, r.inc.LevelName = i, r.pol.LevelName(i)
}

// at is the index of the level the incident is at in the policy as it is
// now: where its name is (Incident.LevelName), which a reload that took
// out or put in a level before it moved; Level, the index it had when it
// started, when it has no name (stored before it was kept) or its name is
// no longer in the policy (a reload took the level out or renamed it).
func (r *run) at() int {
	if i := r.pol.LevelIndex(r.inc.LevelName); r.inc.LevelName != "" && i >= 0 {
		return i
	}
	return r.inc.Level
}

// nextLevel is the index of the level after the one the incident is at,
// in the policy as it is now (len(Levels) past the last), wherever the
// escalation comes from (its level's timeout, a person, a level nobody
// could be reached at or that pages nobody, a missing status update): the
// one after where its name is (at). A level a reload put in right after
// it is that one: the incident pages it next, as every incident opened
// since does, though its timeout, armed before, names the level that
// came next then. When its level is not found by name (a reload took it
// out or renamed it, or the incident was stored before names were kept),
// there is no "after it" to go by: it is the level its timeout names
// (Deadline.Target: timeout, that of the timeout firing, or, when "", the
// one pending), wherever the policy has it now; without one, the index
// after the incident's.
func (r *run) nextLevel(timeout string) int {
	if r.inc.LevelName != "" && r.pol.LevelIndex(r.inc.LevelName) >= 0 {
		return r.at() + 1
	}
	if timeout == "" {
		for _, d := range r.inc.Pending {
			if d.Kind == DeadlineEscalate {
				timeout = d.Target
			}
		}
	}
	if i := r.pol.LevelIndex(timeout); timeout != "" && i >= 0 {
		return i
	}
	return r.inc.Level + 1
}

// mayRepeat reports whether the ladder may start again at level 1 after its
// last level: while rounds of repeat are left and nobody has acknowledged
// the incident yet. Repeat is for an incident nobody has seen. Once someone
// has acknowledged it, a ladder running again (an unresolved rule, a
// missing status update, a manual escalation) is asking for more people,
// and wrapping to level 1 would phone the person who acknowledged and is
// working on it; it stops at the last level instead. A priority raise or
// an auto-escalation trigger since the last acknowledgement makes it an
// incident nobody has seen again: that acknowledgement was for less.
func (r *run) mayRepeat() bool {
	return r.inc.Round < r.pol.Repeat && (r.inc.AcknowledgedAt.IsZero() || r.inc.RaisedSinceAck)
}

func (r *run) armLevelTimeout(t time.Time) {
	r.cancel(func(d *Deadline) bool { return d.Kind == DeadlineEscalate })
	if r.held("") {
		return
	}
	at, ok := r.c.LevelTimeout(r.svc, r.inc.Level, r.priority(), t)
	last := r.inc.Level == len(r.pol.Levels)-1 && !r.mayRepeat()
	if ok && !last {
		d := Deadline{At: at, Kind: DeadlineEscalate, Level: r.inc.Level}
		if next := r.inc.Level + 1; next < len(r.pol.Levels) {
			// The level to go to, by name: a reload that removes or
			// moves levels meanwhile shifts their indexes.
			d.Target = r.pol.Levels[next].Name
		}
		r.schedule(d)
	}
}

// levelUsers resolves a level's targets to user ids at t, in order, once each.
func (r *run) levelUsers(i int, t time.Time) []string {
	if i < 0 || i >= len(r.pol.Levels) {
		return nil
	}
	return r.resolveTargets(r.pol.Levels[i].Targets, t)
}

// resolveTargets resolves targets to user ids, in order, once each, as
// the schedules have them when the page goes out: at t, or at now when
// that is later. A deadline's steps count from its own time (t), but a
// deadline fired late (a lease taken over, the store away, a restart)
// across a handoff must page who holds the tier now, as `pagerd oncall`
// says, not the person whose shift ended meanwhile.
func (r *run) resolveTargets(ts []Target, t time.Time) []string {
	t = maxTime(t, r.now)
	var out []string
	seen := map[string]bool{}
	add := func(u string) {
		if u != "" && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	for _, tg := range ts {
		switch {
		case tg.User != "":
			add(tg.User)
		case tg.Level != "":
			if i := r.pol.LevelIndex(tg.Level); i >= 0 {
				for _, u := range r.levelUsers(i, t) {
					add(u)
				}
			}
		case tg.Schedule != "":
			if s := r.c.Schedule(tg.Schedule); s != nil {
				if sh, ok := s.OnCallTier(tg.Tier, t); ok {
					if sh.OverrideID != "" && sh.User != "" && !seen[sh.User] {
						if r.overridden == nil {
							r.overridden = map[string]string{}
						}
						r.overridden[sh.User] = s.overrideNote(sh, t)
					}
					add(sh.User)
				}
			}
		}
	}
	return out
}

// urgencyAt is the urgency in force for the incident's priority at t, by
// the service's calendar: every page, whatever made it (a trigger, an
// escalation, a raise, an unresolved rule, a window's end), runs the
// ladder of the urgency in force when it is made, as its level's
// ack_target timeout is, not the one of the incident's creation. A P3 opened at 16:00 and escalated at
// 20:00 pages push only; a P2 opened at 07:30 and escalated at 08:30
// pages push, SMS and voice. A page's own later steps keep the ladder it
// was made with, and its urgency (Deadline.Urgency): a page at 17:58
// still calls, as high, at 18:03.
func (r *run) urgencyAt(t time.Time) string {
	return r.c.TargetsAt(r.svc, r.priority(), t).Urgency
}

// page starts each user's ladder at t, on the urgency in force at t
// (urgencyAt), which becomes the incident's (Incident.Urgency) when the
// page reaches someone: a page to nobody (a tier in a gap) leaves the
// incident on the urgency of the last page that did. Every step, the
// first one included, becomes a deadline carrying that urgency: the
// daemon stores it in the same write as the incident
// and its dispatcher sends it, so a page accepted is a page that will go out
// even if the process dies a moment later. A user already part-way through a
// ladder for this incident starts over, so nobody gets two SMS two minutes
// apart.
//
// It returns how many people it paged.
func (r *run) page(users []string, level int, t time.Time) int {
	if r.held("") {
		// A maintenance window holds the incident: nobody is paged.
		return 0
	}
	urgency := r.urgencyAt(t)
	paged := 0
	for _, id := range users {
		u := r.c.User(id)
		if u == nil {
			continue
		}
		paged++
		if note, ok := r.overridden[id]; ok {
			r.act(Action{Kind: ActionOverride, At: t, Level: level, User: id, Detail: note})
			delete(r.overridden, id)
		}
		r.startLadder(u, level, t, urgency)
	}
	if paged > 0 {
		r.inc.Urgency = urgency
		r.inc.Unpaged = false
	}
	return paged
}

// startLadder drops u's pending steps and starts their ladder of the
// urgency at t, at level.
func (r *run) startLadder(u *User, level int, t time.Time, urgency string) {
	r.cancel(func(d *Deadline) bool { return d.Kind == DeadlineNotify && d.User == u.ID })
	for _, s := range u.NotificationRules.For(urgency) {
		r.schedule(Deadline{At: t.Add(time.Duration(s.After)), Kind: DeadlineNotify, Level: level, User: u.ID, Channel: s.Channel, Urgency: urgency})
	}
}

// armStatusSLA restarts the status-update target from a status update (or
// the trigger); while a window holds the incident it is paused instead,
// its whole interval counted from the hold's end.
func (r *run) armStatusSLA(from time.Time) {
	r.cancel(func(d *Deadline) bool { return d.Kind == DeadlineSLA && d.Target == "status_update" })
	r.unpause("status_update")
	ts := r.c.TargetsAt(r.svc, r.priority(), r.inc.TriggeredAt)
	if !ts.StatusUpdate.IsSet() {
		return
	}
	if r.held("") {
		at := r.c.DueAt(r.svc, r.priority(), ts.StatusUpdate, from)
		r.inc.PausedTargets = append(r.inc.PausedTargets, PausedTarget{Target: "status_update", Left: at.Sub(from)})
		return
	}
	// Across business hours closing or opening, as every target counts
	// (TargetDueAt): route says so, and the breach is recorded then.
	at := r.c.targetDueFrom(r.svc, r.priority(), "status_update", ts.StatusUpdate, from)
	r.schedule(Deadline{At: at, Kind: DeadlineSLA, Target: "status_update"})
}

// armStatusEscalation restarts the missing-status-update clock of an
// acknowledged incident.
func (r *run) armStatusEscalation(from time.Time) {
	r.cancel(func(d *Deadline) bool { return d.Kind == DeadlineStatusUpdate })
	if r.inc.Status != StatusAcknowledged || r.held("") {
		return
	}
	if i := r.statusRule(); i >= 0 {
		r.schedule(Deadline{At: from.Add(time.Duration(r.pol.MissingStatusUpdate[i].After)), Kind: DeadlineStatusUpdate, Rule: i})
	}
}

func (r *run) acknowledge(ev Event) error {
	switch r.inc.Status {
	case StatusResolved:
		return ErrResolved
	case StatusAcknowledged:
		return nil
	}
	if ev.AckReopenedSet && ev.AckReopened < r.inc.Reopened {
		return ErrReopenedSince
	}
	actor := ev.Actor
	r.inc.Status = StatusAcknowledged
	if r.inc.AcknowledgedAt.IsZero() {
		r.inc.AcknowledgedAt = r.now
	}
	r.inc.AcknowledgedBy, r.inc.LastAcknowledgedAt = actor, r.now
	r.inc.RaisedSinceAck = false
	// Whoever acknowledged has the incident in hand: a rule or an
	// escalation that reopens it and pages nobody does not make it wait
	// for someone on call, whose look would start the ladder from level
	// 1 and page them again (Incident.Unpaged).
	r.inc.Unpaged = false
	r.inc.LevelPages = nil
	// Acknowledging stops every pending page and escalation, for everyone.
	r.cancel(func(d *Deadline) bool {
		return d.Kind == DeadlineNotify || d.Kind == DeadlineEscalate || d.Kind == DeadlineOnCall || (d.Kind == DeadlineSLA && d.Target == "acknowledge")
	})
	r.unpause("acknowledge")
	r.act(Action{Kind: ActionAck, Level: r.inc.Level, User: actor, Note: ev.Note})
	r.armStatusEscalation(r.now)
	return nil
}

func (r *run) resolve(actor, note string) error {
	if r.inc.Status == StatusResolved {
		return nil
	}
	r.inc.Status = StatusResolved
	r.inc.ResolvedAt = r.now
	r.inc.ResolvedBy = actor
	r.inc.Pending = nil
	r.inc.LevelPages = nil
	r.endHeldSpan(r.now)
	r.inc.Maintenance = nil
	r.inc.PausedTargets = nil
	r.act(Action{Kind: ActionResolve, Level: r.inc.Level, User: actor, Note: note})
	return nil
}

func (r *run) statusUpdate(actor, msg string) error {
	if r.inc.Status == StatusResolved {
		return ErrResolved
	}
	r.inc.LastStatusAt = r.now
	r.inc.StatusUpdates++
	r.cancel(func(d *Deadline) bool { return d.Kind == DeadlineSLA && d.Target == "initial_response" })
	r.unpause("initial_response")
	r.act(Action{Kind: ActionStatusUpdate, Level: r.inc.Level, User: actor, Detail: msg})
	r.armStatusSLA(r.now)
	r.armStatusEscalation(r.now)
	return nil
}

// escalateSkew is how much earlier than its level's start a page answered
// with an escalation may be stamped and still count as of that level: the
// clocks of the replicas that send pages and escalate may differ by this
// much.
const escalateSkew = 2 * time.Second

// escalate is a manual escalation: to the named level, or the next one;
// from the level the event names, if it names one, or nothing happens.
// An acknowledged incident is re-opened so the new level's ladder runs.
func (r *run) escalate(ev Event) error {
	if r.inc.Status == StatusResolved {
		return ErrResolved
	}
	if from := ev.FromLevel; ev.FromLevelSet {
		if n := len(r.pol.Levels); from >= n {
			// A page of a level a reload took out: the incident
			// carries on from the last level (Apply), and so does
			// the escalation; refusing it would page nobody.
			from = n - 1
		}
		// The page's time comes from the clock of the replica that
		// sent it, the level's from the one that escalated: a page
		// counts as of the level unless it went out escalateSkew
		// before the level was started, so a replica's clock a little
		// behind never loses a "5" answering the level's new pages. A
		// person's "5" comes seconds after the page it answers, so the
		// same page answered twice is still told apart.
		page, started := ev.FromLevelAt, r.inc.LevelEscalatedAt
		since := !page.IsZero() && !started.IsZero() && page.Before(started.Add(-escalateSkew))
		if from > r.inc.Level && r.pagedAtOnce(from) {
			// A level a rule pages at once (page_immediately), above
			// the ladder: its page names no step the incident climbed,
			// and refusing it would lose the escalation asked for. It
			// escalates from where the incident stands. Never refused:
			// the incident's state cannot tell this page answered twice
			// from an answer after the ladder moved on by itself, and a
			// lost escalation is worse than one escalation too many.
		} else if from != r.inc.Level || since {
			// Left, or started again since the page went out (the
			// last level escalated, a round of repeat): the page was
			// answered already.
			return ErrAlreadyEscalated
		}
	}
	if ev.SeenStatus != "" && r.inc.Status == StatusAcknowledged &&
		(ev.SeenStatus != StatusAcknowledged || ev.SeenReopened != r.inc.Reopened) {
		return ErrAcknowledgedSince
	}
	actor, to := ev.Actor, ev.ToLevel
	// The level the timeout would page (nextLevel): a reload that took
	// out a level before this one moved every index down by one, and the
	// next index is the level after the next one.
	next := r.nextLevel("")
	if to != "" {
		next = r.pol.LevelIndex(to)
		if next < 0 {
			return fmt.Errorf("policy %q has no level %q", r.pol.Name, to)
		}
	}
	if next >= len(r.pol.Levels) {
		next = len(r.pol.Levels) - 1
	}
	why := "escalated"
	if actor != "" {
		why = "escalated by " + actor
	}
	h := r.inc.Maintenance
	if h != nil {
		// Escalating is asking for people to be paged: the window no
		// longer holds this incident, nor will again.
		r.lift(r.now)
		if !slices.Contains(r.inc.Lifted, h.ID) {
			r.inc.Lifted = append(r.inc.Lifted, h.ID)
		}
		r.inc.LiftedAt = r.now
		r.act(Action{Kind: ActionMaintenance, Level: next, Detail: fmt.Sprintf("paged despite maintenance window %s: %s", h, why)})
	}
	r.reopen()
	r.inc.LevelEscalatedAt = r.now
	r.startLevel(next, r.now, why)
	if h != nil {
		// The hold had cancelled the unresolved rules; an escalation of
		// an incident paging all along leaves them as they were.
		r.armUnresolved(r.now)
	}
	return nil
}

// pagedAtOnce reports whether level i is one the incident's rules page at
// once, besides the ladder (Incident.PageImmediately).
func (r *run) pagedAtOnce(i int) bool {
	return slices.ContainsFunc(r.inc.PageImmediately, func(name string) bool { return r.pol.LevelIndex(name) == i })
}

// channelFailed brings the person's next pending step forward to now: if
// the SMS did not arrive, waiting three more minutes for the call helps
// nobody. Only a triggered incident moves; the step keeps its channel, and
// its id and order: it is the same step, at another time. A dispatcher
// that fired it as it was (the report came from a replica whose clock is
// a little behind, or while the step was being sent) knows it by its id;
// under a new one, its page went out a second time.
//
// step, when set, is the step the provider refused (Event.Step): when it
// was the last page of the incident's level still counted as gone out,
// and the level has no step left, nobody at the level was reached and
// nobody will be (levelUnreached); and it is no page the person got
// (refusedSent). With broughtForward, the next step came forward for this
// failure already (Event.BroughtForward): only step counts.
func (r *run) channelFailed(user, channel, step string, broughtForward bool) {
	if r.inc.Status != StatusTriggered {
		return
	}
	next := -1
	for i, d := range r.inc.Pending {
		if d.Kind == DeadlineNotify && d.User == user && d.Channel != channel && d.At.After(r.now) &&
			(next < 0 || d.before(r.inc.Pending[next])) {
			next = i
		}
	}
	if next >= 0 && !broughtForward {
		r.inc.Pending[next].At = r.now
	}
	if step != "" {
		r.refusedSent(user, channel, step)
	}
	if i := slices.Index(r.inc.LevelPages, step); step != "" && i >= 0 {
		r.inc.LevelPages = slices.Delete(r.inc.LevelPages, i, i+1)
		if len(r.inc.LevelPages) == 0 && r.inc.LevelPagesKept && !slices.ContainsFunc(r.inc.Pending, func(d Deadline) bool {
			return d.Kind == DeadlineNotify && r.ofLevel(d)
		}) {
			r.levelUnreached()
		}
	}
}

// ofLevel reports whether the page step d is one of the level the incident
// is at (Incident.LevelPages): a step of the level's, or of a person the
// level pages whose ladder runs at another level. A person has one ladder
// an incident (startLadder): one the level pages who is also at a level a
// rule pages at once, or at an unresolved rule's, is paged there, and a
// page of theirs that went out reached someone at this level too.
func (r *run) ofLevel(d Deadline) bool {
	if d.Level == r.inc.Level {
		return true
	}
	kept := r.overridden // who is on call is asked, not paged: no override to record
	defer func() { r.overridden = kept }()
	r.overridden = nil
	// The level's people where the policy has it now (at): by its
	// index, after a reload that took out a level before it, they were
	// the next level's, whose pages counted as reaching this one.
	return slices.Contains(r.levelUsers(r.at(), r.now), d.User)
}

// levelUnreached pages the next level at once: every page of the level the
// incident is at failed at the provider (the number refused, the mailbox
// rejected, the Slack user gone), none is left to send, and nothing of the
// level went out, so waiting out its timeout (15, 30 minutes) would leave
// the incident with nobody told of it. It is an escalation like the
// timeout's, which it takes the place of: the next level's own timeout
// replaces the one armed (startLevel), so the next level is not paged again
// at the old time. At the last level nothing moves: the policy's repeat
// starts over at the last level's timeout, as for a page not acknowledged;
// wrapping at once would spend every round within seconds when a provider
// refuses everyone (an outage), and then page nobody ever again.
//
// The level paged is the one the timeout would page (nextLevel): after a
// reload that took a level before this one out of the policy, which moved
// every index down by one, the next index was the level after the next
// one, paged ahead of it.
func (r *run) levelUnreached() {
	next := r.nextLevel("")
	if next >= len(r.pol.Levels) {
		return
	}
	r.inc.LevelEscalatedAt = r.now
	r.startLevel(next, r.now, fmt.Sprintf("every page at level %s failed, nobody was reached: escalated at once", r.levelWords(r.inc.Level)))
}

// reopen puts an acknowledged incident back to triggered, so pages run until
// someone acknowledges again.
func (r *run) reopen() {
	if r.inc.Status == StatusAcknowledged {
		r.inc.Status = StatusTriggered
		r.inc.Reopened++
		r.cancel(func(d *Deadline) bool { return d.Kind == DeadlineStatusUpdate })
	}
}

// deadline fires the pending deadline id. then, for the end of the window
// holding the incident, is the window that covers it now, if any (see
// Event.Then).
func (r *run) deadline(id string, then *Hold) error {
	var d Deadline
	found := false
	r.cancel(func(p *Deadline) bool {
		if p.ID == id {
			d, found = *p, true
			return true
		}
		return false
	})
	if !found || r.inc.Status == StatusResolved {
		// Already done or cancelled: firing it again must page nobody.
		return nil
	}
	t := d.At
	switch d.Kind {
	case DeadlineNotify:
		if r.inc.Status != StatusTriggered {
			return nil
		}
		u := r.c.User(d.User)
		if u == nil {
			r.userGone(d, t)
			return nil
		}
		if r.contactGone(d, u, t) {
			return nil
		}
		r.act(Action{Kind: ActionNotify, At: t, Level: d.Level, User: d.User, Channel: d.Channel, Urgency: d.Urgency})
		r.sent(d)
		if r.ofLevel(d) && !slices.Contains(r.inc.LevelPages, d.ID) {
			r.inc.LevelPages = append(r.inc.LevelPages, d.ID)
		}
	case DeadlineEscalate:
		// The level the timeout was armed at, as the policy has it now: a
		// reload that shortened the policy below it left the incident at
		// the last level there is (Apply), and the timeout is that
		// level's. Matched by index alone, it was dropped, and the
		// policy's repeat never came.
		from := min(d.Level, len(r.pol.Levels)-1)
		if r.inc.Status != StatusTriggered || from != r.inc.Level {
			return nil
		}
		why := fmt.Sprintf("not acknowledged within %s", Duration(t.Sub(r.inc.LevelStartedAt)))
		if d.Level > from {
			why += fmt.Sprintf("; level %d, where it stood, is no longer in policy %s", d.Level+1, r.pol.Name)
		}
		// The level after the incident's as the policy has it now, or,
		// when a reload took the incident's level out, the one that was
		// next when the timeout was armed: the one after it must not be
		// skipped.
		next := r.nextLevel(d.Target)
		if next >= len(r.pol.Levels) {
			if !r.mayRepeat() {
				return nil
			}
			r.inc.Round++
			next = 0
		}
		r.inc.LevelEscalatedAt = t
		r.startLevel(next, t, why)
	case DeadlineUnresolved:
		// Each person is paged as part of the level that names them; people
		// named directly are paged at the highest level the rule reaches,
		// and the incident moves up to that level.
		ri := r.unresolvedRule(d)
		if ri < 0 {
			return nil // the rule left the config since it was armed
		}
		rule := r.pol.Unresolved[ri]
		// Compared with where the incident's level is in the policy as
		// it is now (at), as the levels the rule names are: by its
		// index, a reload that took out a level before it put the
		// incident a level up, at one nobody was paged at.
		cur := r.at()
		top := cur
		levels := make([]int, len(rule.Notify))
		for k, tg := range rule.Notify {
			levels[k] = r.targetLevel(tg)
			if levels[k] > top {
				top = levels[k]
			}
		}
		// The person who acknowledged the incident has it in hand: the
		// rule is met for them, and paging them again (a call after 5
		// minutes, the next level if they do not acknowledge twice) would
		// treat the incident as if nobody owned it. An incident reopened
		// since (nobody has acknowledged it again) is nobody's.
		owner := ""
		if r.inc.Status == StatusAcknowledged {
			owner = r.inc.AcknowledgedBy
		}
		why := fmt.Sprintf("unresolved after %s", Duration(rule.After))
		var fresh [][]string
		seen, others, ownerLevel := map[string]bool{}, false, -1
		for k, tg := range rule.Notify {
			lvl := levels[k]
			if lvl < 0 {
				lvl = top
			}
			var us []string
			for _, u := range r.resolveTargets([]Target{tg}, t) {
				switch {
				case seen[u]:
				case u == owner:
					seen[u], ownerLevel = true, lvl
					delete(r.overridden, u)
				default:
					seen[u], others = true, true
					us = append(us, u)
				}
			}
			fresh = append(fresh, us)
		}
		skipped := Action{Kind: ActionAlreadyAcknowledged, At: t, Level: ownerLevel, User: owner,
			Detail: fmt.Sprintf("%s: %s acknowledged the incident and is not paged again", why, owner)}
		if ownerLevel >= 0 && !others {
			// Everyone the rule names has it in hand already: it pages
			// nobody, and the incident stays acknowledged, with no
			// escalation clock started by the rule.
			skipped.Detail += "; the rule pages nobody else"
			r.act(skipped)
			return nil
		}
		// A triggered incident the rule does not move up keeps its level's
		// start and timeout: the level's people were paged when it started,
		// and restarting its clock would hold the ladder's next step back
		// by a whole timeout.
		keep := r.inc.Status == StatusTriggered && top == cur
		// The level the incident stays at keeps the index its pages
		// went out with (Incident.Level), which a reload may have
		// moved: an answer to the rule's page escalates from it.
		key := func(l int) int {
			if keep && l == cur {
				return r.inc.Level
			}
			return l
		}
		r.reopen()
		unpaged := r.inc.Unpaged
		r.act(Action{Kind: ActionEscalate, At: t, Level: key(top), Detail: why})
		n := 0
		for k := range rule.Notify {
			lvl := levels[k]
			if lvl < 0 {
				lvl = top
			}
			n += r.page(fresh[k], key(lvl), t)
		}
		r.pagedNobody(n, "the rule")
		if unpaged && n > 0 && !r.onCallAtALevel(fresh, t) {
			// The rule paged people (a manager) none of whom is on
			// call at a level of the policy, for an incident that
			// waits for someone on call: a page to a person, not to
			// the team. Until someone acknowledges it, the wait goes
			// on, and the next person on call is paged when they come
			// on call, as they would be had the rule paged nobody.
			r.inc.Unpaged = true
		}
		if ownerLevel >= 0 {
			r.act(skipped)
		}
		if keep {
			return nil
		}
		r.setLevel(top)
		r.inc.LevelStartedAt, r.inc.LevelEscalatedAt = t, t
		r.inc.LevelPages, r.inc.LevelPagesKept = nil, true
		r.armLevelTimeout(t)
	case DeadlineStatusUpdate:
		if r.inc.Status != StatusAcknowledged {
			return nil
		}
		ri := r.statusRule()
		if ri < 0 {
			return nil // the rule left the config since it was armed
		}
		rule := r.pol.MissingStatusUpdate[ri]
		// One level up from where the incident is by the policy as it is
		// now: the acknowledgement cancelled the level's timeout, and
		// with it the name of the level it would go to.
		next := r.nextLevel("")
		if next >= len(r.pol.Levels) {
			next = len(r.pol.Levels) - 1
		}
		r.reopen()
		r.inc.LevelEscalatedAt = t
		r.startLevel(next, t, fmt.Sprintf("no status update for %s", Duration(rule.After)))
	case DeadlineSLA:
		r.act(Action{Kind: ActionSLABreach, At: t, Level: r.inc.Level, Detail: d.Target})
	case DeadlineMaintenance:
		if r.held(d.Target) {
			r.release(t, fmt.Sprintf("maintenance window %s ended", r.inc.Maintenance), then)
		}
	case DeadlineOnCall:
		if r.inc.Status != StatusTriggered || !r.inc.Unpaged || r.held("") {
			return nil
		}
		r.looked = true
		// The ladder starts when the look finds someone, not at the
		// look's own time: a look fired late (a takeover, a backlog)
		// would otherwise send the person's push, SMS and call at once.
		// No step of anyone's was due before it to keep the pace of.
		at := maxTime(t, r.now)
		if i := r.firstLevelOnCall(at); i >= 0 {
			// A new round from level 1, with the policy's rounds of
			// repeat afresh, as for an alert that comes now: level 1
			// in its gap still is skipped at once to the level that
			// has someone. The unresolved rules keep their times.
			r.inc.Round = 0
			r.inc.LevelEscalatedAt = at
			detail, rule := r.onCallLookDetail(i)
			r.startLevel(0, at, detail)
			// And the levels its rule pages at once (an
			// auto-escalation trigger's executives), as at a trigger:
			// waited on, they were paged only when the ladder reached
			// them.
			r.pageImmediatelyFor(at, rule)
		}
		// Nobody yet: waitOnCall arms the next look.
	}
	return nil
}

// onCallNow begins the detail of the escalation that pages an incident
// that nobody was on call for, once someone is: "nobody was on call when
// the alert came (rule …); level primary has someone now".
const onCallNow = "nobody was on call when "

// What last made an incident one nobody had been paged for
// (Incident.UnpagedBy), but for its trigger.
const (
	unpagedByRaise  = "raise"
	unpagedByReopen = "reopen "
	unpagedByWindow = "window"
)

// onCallLookDetail is the detail of the escalation a look writes when
// level i has someone on call: what happened when nobody was (the alert
// came, the priority was raised, an auto-escalation trigger re-opened the
// incident, a maintenance window ended) and the rule that applies now,
// which it returns too: the one that names the levels paged at once with
// it in an incident stored without the rule of each
// (Incident.PageImmediatelyBy).
// The incident's own rule is the one it was raised with, not its first;
// an auto-escalation trigger that re-opened it does not change its rule,
// and names its own.
func (r *run) onCallLookDetail(i int) (detail, rule string) {
	rule = r.inc.Rule
	if by := r.inc.UnpagedBy; strings.HasPrefix(by, unpagedByReopen) {
		rule = strings.TrimPrefix(by, unpagedByReopen)
	}
	return fmt.Sprintf("%s%s (rule %s); level %s has someone now", onCallNow, r.inc.UnpagedWhat(), rule, r.pol.Levels[i].Name), rule
}

// UnpagedWhat says what happened while nobody was on call, for an
// incident that waits for someone on call (Unpaged), by what last made it
// unpaged (UnpagedBy): "the alert came", "the priority was raised to P0",
// "an auto-escalation trigger re-opened the incident", "the maintenance
// window holding the incident ended". The look's timeline entry says it
// (onCallLookDetail), and so does the console of the look pending.
func (i *Incident) UnpagedWhat() string {
	switch by := i.UnpagedBy; {
	case by == unpagedByRaise:
		return "the priority was raised to " + i.Priority
	case strings.HasPrefix(by, unpagedByReopen):
		return "an auto-escalation trigger re-opened the incident"
	case by == unpagedByWindow:
		return "the maintenance window holding the incident ended"
	}
	return "the alert came"
}

// IsOnCallLook reports whether an escalate entry's detail is that of a
// look that found someone on call for an incident nobody had been paged
// for ("nobody was on call when the alert came (rule critical); level
// primary has someone now", "nobody was on call when the priority was
// raised to P0 (rule …); …"): the incident's first page, from level 1, so it is no
// escalation for the reports' escalation rate (a level after it that
// pages nobody and passes at once to the next is one, as when an alert
// comes).
func IsOnCallLook(detail string) bool {
	return strings.HasPrefix(detail, onCallNow)
}

// firstLevelOnCall is the index of the first level of the policy that
// has someone on call at t (or now, when later), or -1 when none has.
func (r *run) firstLevelOnCall(t time.Time) int {
	return r.firstLevelWith(t, func(u string) bool { return r.c.User(u) != nil })
}

// onCallAtALevel reports whether any of the people in groups is on call
// at t (or now, when later) at a level of the policy.
func (r *run) onCallAtALevel(groups [][]string, t time.Time) bool {
	return r.firstLevelWith(t, func(u string) bool {
		return slices.ContainsFunc(groups, func(g []string) bool { return slices.Contains(g, u) })
	}) >= 0
}

// firstLevelWith is the index of the first level of the policy with
// someone on call at t (or now, when later) whom is says yes to, -1 for
// none. Asked, not paged: no override is recorded.
func (r *run) firstLevelWith(t time.Time, is func(user string) bool) int {
	kept := r.overridden
	defer func() { r.overridden = kept }()
	for i := range r.pol.Levels {
		r.overridden = nil
		if slices.ContainsFunc(r.levelUsers(i, t), is) {
			return i
		}
	}
	return -1
}

// waitOnCall keeps an incident that nobody has been paged for, whose
// ladder has run out, waiting for someone to come on call: while it is
// triggered, unpaged (Incident.Unpaged), not held by a maintenance
// window, and has no level's timeout pending, one look (DeadlineOnCall)
// is pending; otherwise (acknowledged, resolved, held, paged, its ladder
// running again) none is. The page steps of someone an unresolved rule
// paged during the wait (a manager) keep it: someone coming on call
// meanwhile is paged at the next look, not once the manager's ladder is
// over. The wait's beginning is on the timeline (ActionWaitOnCall),
// once: not the looks after it. Run after every event, so
// that whatever ends the ladder (a last level that pages nobody, the last
// round's timeout, a level without a timeout) starts the wait, and
// whatever ends the wait, as it ends any step, drops the look.
func (r *run) waitOnCall() {
	look, busy := -1, false
	for i := range r.inc.Pending {
		switch r.inc.Pending[i].Kind {
		case DeadlineOnCall:
			look = i
		case DeadlineEscalate:
			busy = true
		}
	}
	wait := r.inc.Status == StatusTriggered && r.inc.Unpaged && !busy && !r.held("")
	switch {
	case wait && look < 0:
		next := r.nextOnCallLook(r.now)
		if !r.looked {
			// The wait begins: the timeline says so once, not at each
			// look (a wait over a weekend is some 250 looks).
			r.act(Action{Kind: ActionWaitOnCall, Level: r.inc.Level, Detail: fmt.Sprintf(
				"nobody is on call at any level of %s; waiting for the next person on call (next look %s)",
				r.pol.Name, next.UTC().Format(time.RFC3339))})
		}
		r.schedule(Deadline{At: next, Kind: DeadlineOnCall, Level: r.inc.Level})
	case !wait && look >= 0:
		r.cancel(func(d *Deadline) bool { return d.Kind == DeadlineOnCall })
	}
}

// nextOnCallLook is when an incident waiting for someone to come on call
// looks again after t: at the next shift boundary of a tier its policy's
// levels page (a restricted layer's start, a handoff, an override's start
// or end), or onCallLookEvery after t, whichever comes first. An override
// made at run time after t is not known now: the bound finds it.
func (r *run) nextOnCallLook(t time.Time) time.Time {
	next := t.Add(onCallLookEvery)
	var visit func(ts []Target, depth int)
	visit = func(ts []Target, depth int) {
		for _, tg := range ts {
			switch {
			case tg.Schedule != "":
				if s := r.c.Schedule(tg.Schedule); s != nil {
					if sh, ok := s.OnCallTier(tg.Tier, t); ok && sh.Until.After(t) && sh.Until.Before(next) {
						next = sh.Until
					}
				}
			case tg.Level != "" && depth < len(r.pol.Levels):
				if i := r.pol.LevelIndex(tg.Level); i >= 0 {
					visit(r.pol.Levels[i].Targets, depth+1)
				}
			}
		}
	}
	for i := range r.pol.Levels {
		visit(r.pol.Levels[i].Targets, 0)
	}
	return next
}

// userGoneLevel follows the name of a person a reload removed in the
// detail of the escalate entry userGone writes when the incident stays at
// its level: IsPagedAgain tells such an entry from an escalation.
const userGoneLevel = " is no longer in the config: level "

// IsPagedAgain reports whether an escalate entry's detail is that of a
// level paged again because the person it was paging left the config: the
// incident stays at its level, so it is no escalation (for the reports'
// escalation rate and the escalation metric).
func IsPagedAgain(detail string) bool {
	return strings.Contains(detail, userGoneLevel) || strings.Contains(detail, contactGoneAgain) || strings.Contains(detail, contactGoneLevel)
}

// priorityRaised begins the detail of the escalate entry a priority
// raise writes: IsPriorityRaise tells it from an escalation.
const priorityRaised = "priority raised"

// IsPriorityRaise reports whether an escalate entry's detail is that of a
// priority raise ("priority raised from P2 to P0 (rule) by ..."): the
// level the incident is at is paged again, and the incident stays at it,
// so it is no escalation (for the reports' escalation rate and the
// escalation metric).
func IsPriorityRaise(detail string) bool {
	return strings.HasPrefix(detail, priorityRaised)
}

// IsLevelPagingNobody reports whether an escalate entry's detail is the
// one a level that pages nobody writes when there is no level to go on to
// (a one-level policy at its trigger, or when a maintenance window ends:
// "level primary pages nobody (nobody is on call for it)"): the incident
// stays at the level it was at, so it is no escalation, for the reports'
// escalation rate. A level that pages nobody and escalates at once to the
// next one is one.
func IsLevelPagingNobody(detail string) bool {
	rest, ok := strings.CutPrefix(detail, "level ")
	return ok && strings.HasSuffix(rest, nobodyOnCall) && !strings.Contains(rest, "escalated at once")
}

// contactGoneAgain follows the person and channel in the detail of the
// escalate entry contactGone writes when it pages them on other channels:
// IsPagedAgain tells it from an escalation.
const contactGoneAgain = " contact in the config any more: paged again"

// contactGoneLevel follows the person and channel in the detail of the
// escalate entry contactGone writes when the person has no channel left
// to page and the incident stays at its level: IsPagedAgain tells it from
// an escalation.
const contactGoneLevel = " nor a channel this page has not used: level "

// sent notes on the later steps of d's person that d's page went out
// (Deadline.Sent). A step's Sent is never appended to in place: Apply
// copies the pending steps, not their Sent, so the incident passed in
// keeps its own. The later steps of a page know of the same pages, so
// they share one new list, made once (into a new array: d's may be the
// input's, or another Apply's of the same incident).
func (r *run) sent(d Deadline) {
	var shared []string
	for i, p := range r.inc.Pending {
		// Only the person's page at d's level: a page of theirs at
		// another level (an unresolved rule's, a level paged at once)
		// is another page, and its push is not this one's.
		if p.Kind != DeadlineNotify || p.User != d.User || p.Level != d.Level {
			continue
		}
		if !slices.Equal(p.Sent, d.Sent) {
			r.inc.Pending[i].Sent = sentAfter(p.Sent, d)
			continue
		}
		if shared == nil {
			shared = sentAfter(d.Sent, d)
		}
		r.inc.Pending[i].Sent = shared
	}
}

// sentAfter is, in a new array, the Sent of a later step of d's page once
// d went out: its own (s), what went out before d that s lacks, and d's
// channel, unless s has it from d already. One entry a page: a channel
// that went out twice is there twice, so that a report that the first
// reached nobody leaves the second (refusedSent). A step fired twice is
// one page: the dispatcher puts a step whose page the provider's rate
// limit sent back in the incident again, as it was, to fire at its turn,
// and its first firing noted it on the later steps already. Noted twice,
// the refusal of that page at its turn took one out, and the person
// counted as having a page they never got.
func sentAfter(s []string, d Deadline) []string {
	out := append(make([]string, 0, len(s)+1), s...)
	for j, ch := range d.Sent {
		if occurrences(d.Sent[:j+1], ch) > occurrences(s, ch) {
			out = append(out, ch)
		}
	}
	if occurrences(s, d.Channel) > occurrences(d.Sent, d.Channel) {
		return out
	}
	return append(out, d.Channel)
}

// occurrences is how many times ch is in s.
func occurrences(s []string, ch string) int {
	n := 0
	for _, c := range s {
		if c == ch {
			n++
		}
	}
	return n
}

// refusedSent takes the page of step on channel, which nothing of reached
// user for certain (Event.Step), out of what their page went out on
// (Deadline.Sent), once: it went out, but it is no page they got. Left
// there, a reload that leaves them that channel alone took them for
// reached ("has nobody else to page"), where nobody was and the timeline
// must say so (levelWithout), and never paged them on it again, as if
// they had it (contactGone). The report may come after their later pages
// went out: it is taken from every pending step of theirs that has it. A
// step of the level's that the level no longer counts (of an earlier
// level or round, or reported already: Incident.LevelPages) is of a page
// before the one pending, or was taken out already, and takes nothing.
// A failure that may have reached them names no step, and its page stays
// sent. A new list replaces the step's: the incident passed in keeps its
// own.
func (r *run) refusedSent(user, channel, step string) {
	counted := slices.Contains(r.inc.LevelPages, step)
	for i, p := range r.inc.Pending {
		j := slices.Index(p.Sent, channel)
		if p.Kind != DeadlineNotify || p.User != user || j < 0 {
			continue
		}
		if !counted && r.inc.LevelPagesKept && r.ofLevel(p) {
			continue
		}
		if len(p.Sent) == 1 {
			r.inc.Pending[i].Sent = nil
			continue
		}
		r.inc.Pending[i].Sent = slices.Concat(p.Sent[:j], p.Sent[j+1:])
	}
}

// contactGone handles a step of someone a reload left without the channel
// it is on, and without any channel of their later steps (they moved from
// SMS and calls to email, say): failing it and each of those would leave
// them unreached, with their own channels unused, until the level's
// timeout. Their remaining steps are dropped, and the steps of their
// ladder as the config has it now (of the step's urgency) on channels
// this page has not gone out on yet (Deadline.Sent) take their place: the
// first at the step's time, as a failed step brings the next one forward,
// and the others as far apart as the ladder has them. Starting that ladder
// over instead sent them again what they had (the push at 0), a page that
// tells them nothing new. A page the provider refused, or reported
// reaching nobody, they did not have: its channel is not in Sent
// (refusedSent), and is used again. When no such step is left (push was
// all they kept, or they have no channel at all), they are as good as gone from
// the level: it is handled as userGone handles a person the reload
// removed, so the level is paged again without them, or the next level at
// once when nobody else at the level is to be paged.
//
// When a later step of theirs is on a channel they still have, it does
// nothing: the step fails, and the failure brings that one forward. It
// reports whether it handled the step.
func (r *run) contactGone(d Deadline, u *User, t time.Time) bool {
	has := func(channel string) bool {
		return slices.ContainsFunc(u.Contacts, func(c Contact) bool { return c.Channel == channel })
	}
	if has(d.Channel) || slices.ContainsFunc(r.inc.Pending, func(p Deadline) bool {
		return p.Kind == DeadlineNotify && p.User == d.User && has(p.Channel)
	}) {
		return false
	}
	urgency := d.Urgency
	if urgency == "" {
		urgency = r.inc.Urgency
	}
	var next []NotifyStep
	var channels []string
	for _, s := range u.NotificationRules.For(urgency) {
		if !slices.Contains(d.Sent, s.Channel) {
			next = append(next, s)
			if !slices.Contains(channels, s.Channel) {
				channels = append(channels, s.Channel)
			}
		}
	}
	if len(next) == 0 {
		gone := fmt.Sprintf("%s has no %s contact in the config any more, nor a channel this page has not used", d.User, d.Channel)
		// Reached: the page went out on the channels in d.Sent, and
		// the provider refused none of those (refusedSent). With none
		// (a config that leaves them no step for the urgency), nobody
		// was, and the timeline must say so.
		r.levelWithout(d, t, len(d.Sent) > 0, gone, "has nobody else to page")
		return true
	}
	level := min(d.Level, len(r.pol.Levels)-1)
	r.act(Action{Kind: ActionEscalate, At: t, Level: level, Detail: fmt.Sprintf("%s has no %s%s at level %s, on their channels as the config has them now that this page has not used (%s)",
		d.User, d.Channel, contactGoneAgain, r.levelWords(level), strings.Join(channels, ", "))})
	r.cancel(func(p *Deadline) bool { return p.Kind == DeadlineNotify && p.User == d.User })
	for _, s := range next {
		r.schedule(Deadline{At: t.Add(time.Duration(s.After - next[0].After)), Kind: DeadlineNotify, Level: d.Level, User: d.User,
			Channel: s.Channel, Urgency: urgency, Sent: slices.Clone(d.Sent)})
	}
	return true
}

// userGone handles a step of the ladder of someone a reload removed from
// the config: the step cannot go out (they have no contact any more), and
// failing it and each of their later steps would leave the level unpaged
// until its timeout (levelWithout).
func (r *run) userGone(d Deadline, t time.Time) {
	r.levelWithout(d, t, false, d.User+" is no longer in the config", "pages nobody (nobody is on call for it)")
}

// levelWithout handles a step of a person who cannot be paged any more
// at the step's level (gone says why, as the timeline starts it): their
// remaining steps are dropped and the level is paged again, at the step's
// time, as it stands now: whoever holds the tier (and was not being paged
// already), but for them, starts their ladder. The level's timeout is
// kept, so the escalation is not delayed. When the level now pages
// nobody, it is treated as startLevel treats a level that pages nobody
// (empty says how the timeline puts it): the next level is paged at once
// (while there is one to go to), or the timeline says the level pages
// nobody. reached says the person's page went out on some channel
// (Deadline.Sent) before this step, and the provider did not refuse it
// or report it reaching nobody: without it, the page is marked as one
// that reached nobody. Whether they are still in the config says nothing
// of it: a person left with no step for the page's urgency is, and was
// never paged.
func (r *run) levelWithout(d Deadline, t time.Time, reached bool, gone, empty string) {
	r.cancel(func(p *Deadline) bool { return p.Kind == DeadlineNotify && p.User == d.User })
	level := d.Level
	if level >= len(r.pol.Levels) {
		// The policy lost the level in the same reload: the incident's
		// own level is the one to page (Apply clamped it).
		level = r.inc.Level
	}
	// Who the level pages, and its name, where the policy has it now: a
	// reload that took out a level before the incident's moved it down
	// (at), and its index is another's. Its pages and entries keep the
	// index the incident's level has (Incident.Level), as its other
	// pages do: an answer to one escalates from it.
	pos, current := level, level == r.inc.Level
	if current {
		pos = r.at()
	}
	name := r.pol.Levels[pos].Name
	var fresh, busy []string
	for _, u := range r.levelUsers(pos, t) {
		if u == d.User || r.c.User(u) == nil {
			continue
		}
		if slices.ContainsFunc(r.inc.Pending, func(p Deadline) bool { return p.Kind == DeadlineNotify && p.User == u }) {
			busy = append(busy, u)
			continue
		}
		fresh = append(fresh, u)
	}
	// The entry that leaves the incident at its level says it in words
	// IsPagedAgain knows (userGoneLevel, contactGoneLevel).
	stays := gone + ": level " + name
	if len(fresh) > 0 || len(busy) > 0 {
		detail := stays + " paged again"
		if len(fresh) == 0 {
			detail = stays + " is being paged already (" + strings.Join(busy, ", ") + ")"
		}
		r.act(Action{Kind: ActionEscalate, At: t, Level: level, Detail: detail})
		r.page(fresh, level, t)
		return
	}
	next := r.nextLevel("")
	if !current || (next >= len(r.pol.Levels) && !r.mayRepeat()) {
		// Not the level the ladder stands at (a level paged at once, or
		// by an unresolved rule), or the last one: nothing to go to.
		if reached {
			// Someone was reached, only not on every step of
			// their ladder.
			r.act(Action{Kind: ActionEscalate, At: t, Level: level, Detail: stays + " " + empty})
			return
		}
		r.act(Action{Kind: ActionEscalate, At: t, Level: level, Detail: stays + " pages nobody"})
		r.pagedNobody(0, "level "+name)
		return
	}
	if next >= len(r.pol.Levels) {
		r.inc.Round++
		next = 0
	}
	r.inc.LevelEscalatedAt = t
	r.startLevel(next, t, fmt.Sprintf("%s and level %s %s: escalated at once", gone, name, empty))
}

// targetLevel is the level a target of an unresolved rule belongs to: the
// level it names, or the first level with the same schedule tier or user
// among its targets; -1 when it is in none.
func (r *run) targetLevel(tg Target) int {
	if tg.Level != "" {
		return r.pol.LevelIndex(tg.Level)
	}
	for i, l := range r.pol.Levels {
		for _, lt := range l.Targets {
			if lt == tg {
				return i
			}
		}
	}
	return -1
}

// NextLevel is the level the incident's next escalation goes to (its
// level's timeout, a person escalating: run.nextLevel), in the config as
// it is now: its index, and its name; the index past the last, with no
// name, when the ladder is at its last level. ok is false when the
// incident's service or its policy is no longer in the config.
func (c *Config) NextLevel(inc *Incident) (next int, name string, ok bool) {
	svc := c.Service(inc.Service)
	if svc == nil || c.Policy(svc.EscalationPolicy) == nil {
		return 0, "", false
	}
	r := &run{c: c, svc: svc, pol: c.Policy(svc.EscalationPolicy), inc: *inc}
	next = r.nextLevel("")
	return next, r.pol.LevelName(next), true
}

// LevelUsers is who level i of the service's policy pages at t, in target
// order, each once.
func (c *Config) LevelUsers(s *Service, i int, t time.Time) []string {
	r := &run{c: c, svc: s, pol: c.Policy(s.EscalationPolicy)}
	if i < 0 || i >= len(r.pol.Levels) {
		return nil
	}
	return r.levelUsers(i, t)
}
