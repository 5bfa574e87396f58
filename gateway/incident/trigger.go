package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/pagerd/pagerd/gateway/ingest"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// Alert is one incident's worth of an arriving alert, whatever sent it.
type Alert struct {
	Service  *policy.Service
	DedupKey string
	// Source is where it came from (alertmanager, pagerduty), Actor who is
	// named in the timeline.
	Source, Actor string
	// Labels are the label sets of its alerts: the most urgent decides the
	// priority (policy.Config.RouteGroup).
	Labels []map[string]string
	// LabelsIncomplete says Labels are not every alert's (the sender
	// left some out): no maintenance window is known to cover it, so it
	// is not held, and one held is released.
	LabelsIncomplete bool
	// Titles name the alerts of Labels, in order; they may be missing.
	Titles  []string
	Summary string
	Details json.RawMessage
	// Truncated, when the intake cut the alert to fit pagerd's limits,
	// says what it cut, for a "truncated" timeline entry.
	Truncated string
	// FirstStart, for an Alertmanager group that came whole (nothing left
	// out), is when the first of its alerts started
	// (ingest.Message.WholeFirstStart); in fingerprint mode, when the
	// alert started; zero when not known. A repeat of an
	// incident whose group's resolve was withheld because Alertmanager
	// left alerts out, all of whose alerts started after that, is the
	// group, or the alert, firing anew (endIfGroupEnded).
	FirstStart time.Time
	// CutLastStart, in group mode, for a notification that did not come
	// whole (Alertmanager left alerts out, or not every alert said when
	// it started: FirstStart zero), is when the last of the firing alerts
	// it kept started (zero when none says): a firing the incident takes
	// then is noted with no start when that is after the group's withheld
	// resolve (noteFiringTaken).
	CutLastStart time.Time
	// WithheldIn is the dedup key of the incident whose timeline holds
	// the group's withheld resolve, when it is not the alert's own: in
	// fingerprint mode, the group's overflow incident, which holds the
	// alerts Alertmanager left out.
	WithheldIn string
	// OneAlert, in fingerprint mode, says the incident is one alert's,
	// not the group's overflow incident: what the notification left out
	// (max_alerts) or pagerd did not read are other alerts, which do not
	// make it newer than its incident's resolve (superseded,
	// ingest.AlertNothingNewer).
	OneAlert bool
	// Received is when the intake received the alert, on the clock every
	// replica shares; zero when not known, or when this replica is not on
	// that clock yet. An alert received before its sender resolved the
	// latest incident with its dedup key, whose write lands after that
	// resolve, opens nothing (superseded); so does one received before
	// a resolve of its sender that found no incident open to end
	// (resolvedBefore).
	Received time.Time
	// opensAnyway is set on an alert the store turned down as
	// superseded that superseded found must open its incident after all:
	// Received is kept as the new incident's LastReceived, not asked of
	// the store again.
	opensAnyway bool
}

// raisedBy names the alert that decided the priority, and says how many
// alerts are firing, for a page about an incident whose priority it raised.
func (a Alert) raisedBy(i int) (title, firing string) {
	title = a.Summary
	if i >= 0 && i < len(a.Titles) && a.Titles[i] != "" {
		title = a.Titles[i]
	}
	firing = "1 alert firing"
	if n := len(a.Labels); n > 1 {
		firing = fmt.Sprintf("%d alerts firing", n)
	}
	return title, firing
}

// Trigger opens an incident for the alert, or records a repeat on the open
// one with the same dedup key: one store round trip either way (a repeat
// that makes the incident worse costs a write more, and a read more on a
// store that does not hand the repeated incident back:
// store.RepeatReader). cfg is the config the alert's service was found in.
func (s *Service) Trigger(ctx context.Context, cfg *policy.Config, a Alert) (string, store.Outcome, error) {
	id, out, err := s.trigger(ctx, cfg, a)
	if errors.Is(err, errResolvedWhileRaised) {
		// The incident the alert repeated (or would have raised) was
		// resolved in the meantime by someone who never saw the alert; Alertmanager
		// counts it delivered, and sends it again only when its group
		// changes or after repeat_interval (4 hours by default). So it
		// opens an incident of its own, and pages, now. Once: another
		// resolve in that instant is someone who has seen it. So does
		// a group that fired anew after its withheld resolve
		// (endIfGroupEnded), whose old incident the repeat resolved.
		// But not when the resolve was its sender's, received after the
		// alert (superseded, as for an alert whose whole write landed
		// after it): in the order received the alert was a repeat that
		// resolve ended, and opened, it paged for alerts that had ended
		// and stayed open. a.Received is kept for the store to tell.
		id, out, err = s.trigger(ctx, cfg, a)
		switch {
		case errors.Is(err, errResolvedWhileRaised):
			err = nil
		case err != nil:
			// The first try's repeat is stored: a 503 must not say
			// nothing was.
			err = fmt.Errorf("the repeat is stored, but its incident was resolved meanwhile and the new one could not be opened: %w", store.PartlyStored(err))
		}
	}
	return id, out, err
}

// errResolvedWhileRaised is a repeat (stored) that found its incident
// resolved when it read it again, to raise it if it made it worse.
var errResolvedWhileRaised = errors.New("the incident was resolved while the alert that raises it was stored")

func (s *Service) trigger(ctx context.Context, cfg *policy.Config, a Alert) (string, store.Outcome, error) {
	now := s.clock()
	rt, decided := cfg.RouteGroup(a.Service, a.Labels, now)
	id := store.NewID(store.ShardOf(a.Service.Name, a.DedupKey), now)
	var hold *policy.Hold
	if s.o.Maintenance != nil && !a.LabelsIncomplete {
		hold = s.o.Maintenance(ctx, a.Service.Name, a.Labels, nil, now)
	}
	eng := policy.Engine{Config: cfg}
	st, acts, err := eng.Apply(policy.Incident{ID: id}, policy.Event{Kind: policy.EventTrigger, Route: &rt, Hold: hold}, now)
	if err != nil {
		return "", 0, err
	}
	inc := &store.Incident{ID: id, Service: a.Service.Name, DedupKey: a.DedupKey, Source: a.Source, Summary: a.Summary,
		CreatedAt: now, UpdatedAt: now, LastSeen: now, Details: a.Details, State: st, NotPushedToPagerDuty: true, NotPaged: true}
	if !a.Received.IsZero() {
		if !a.opensAnyway {
			inc.ReceivedBy = a.Received.Add(ReceivedSkew(cfg))
		}
		// To the millisecond, as the stores keep it.
		inc.LastReceived = a.Received.UTC().Truncate(time.Millisecond)
	}
	if ChatConfigured(cfg, a.Service.Name) {
		// Posting the incident to its service's channel is owed from the
		// start, and stored with it.
		inc.Outbox = []store.OutboxItem{chatItem("trigger", "0", now)}
	}
	tl := []store.Entry{{At: now, Type: "trigger", Actor: a.Actor,
		Detail: st.Priority + ", " + st.Urgency + " urgency, rule " + st.Rule}}
	var cut []store.Entry
	if a.Truncated != "" {
		cut = []store.Entry{{At: now, Type: "truncated", Actor: "pagerd", Detail: a.Truncated}}
		tl = append(tl, cut...)
	}
	tl = append(tl, store.ActionEntries(acts, a.Actor)...)
	// On the trigger's clock reading, so that a fresh firing costs
	// nothing more: a stop before it is seen, one after it (until the
	// write) is not.
	if s.resolvedBefore(ctx, cfg, a, now) {
		return "", store.Superseded, nil
	}
	// Only a first page due now spends a lead (an incident held by a
	// maintenance window has none to queue ahead).
	lead := store.PagesAtOnce(inc)
	if lead {
		lead = s.leads.take(a.Service.Name, now)
		inc.NoFirstPageLead = !lead
	}
	// On a repeat, the store may hand back the incident as the repeat
	// left it (one round trip on Redis, not two): raiseIfWorse reads it
	// otherwise.
	gotID, out, cur, err := store.TriggerRead(ctx, s.o.Store, inc, tl)
	if out != store.Created && lead {
		s.leads.giveBack(a.Service.Name)
	}
	if err != nil {
		return "", 0, err
	}
	if out == store.Superseded {
		return s.superseded(ctx, cfg, a, gotID)
	}
	if out == store.Repeated && cut != nil {
		// The details the repeat replaced were cut as well: say so. Best
		// effort: the alert is stored whatever becomes of the note.
		if err := s.o.Store.Note(ctx, map[string][]store.Entry{gotID: cut}); err != nil {
			s.log.Warn("truncation not noted in the timeline", "incident", gotID, "err", err)
		}
	}
	outcome := "created"
	if out == store.Created {
		s.wakeIfDue(inc, now)
	}
	if out == store.Repeated {
		title, firing := a.raisedBy(decided)
		cur, err := s.raiseIfWorse(ctx, gotID, cur, rt, a.Actor, title, firing)
		if errors.Is(err, errResolvedWhileRaised) {
			return gotID, out, err
		} else if err != nil {
			// The repeat is stored: a 503 must not say nothing was. A
			// retry lands on the same incident and raises it then.
			return "", 0, fmt.Errorf("the repeat is stored, but its priority could not be raised: %w", store.PartlyStored(err))
		}
		ended, cur, err := s.endIfGroupEnded(ctx, cur, a, now)
		if err != nil {
			// Stored, as above: a retry finds the group ended then.
			return "", 0, fmt.Errorf("the repeat is stored, but the incident of the group that had ended could not be resolved: %w", store.PartlyStored(err))
		}
		if ended {
			// Trigger opens the new firing's incident, which pages.
			return gotID, out, errResolvedWhileRaised
		}
		noteErr := s.noteFiringTaken(ctx, cur, a, now)
		if err := s.releaseIfUncovered(ctx, cur, a, now); err != nil {
			// Stored, as above: a retry releases it then.
			return "", 0, fmt.Errorf("the repeat is stored, but its maintenance window could not release it: %w", store.PartlyStored(err))
		}
		if noteErr != nil {
			// Stored, as above: the retry takes the firing again as a
			// repeat, and notes it then.
			return "", 0, fmt.Errorf("the repeat is stored, but its firing's taking could not be noted: %w", store.PartlyStored(noteErr))
		}
		outcome = "repeated"
	} else {
		if hold != nil {
			s.log.Info("incident opened in a maintenance window: recorded, pages nobody", "incident", gotID, "service", a.Service.Name,
				"priority", st.Priority, "source", a.Source, "window", hold.ID, "until", hold.Until)
		} else {
			// Attributes, not key-value pairs: every new incident logs
			// this line, and the pairs were boxed, five allocations each.
			s.log.LogAttrs(context.Background(), slog.LevelInfo, "incident opened", slog.String("incident", gotID),
				slog.String("service", a.Service.Name), slog.String("priority", st.Priority), slog.String("urgency", st.Urgency),
				slog.String("source", a.Source))
			s.acted(inc, acts)
		}
	}
	s.m.alerts.WithLabelValues(a.Source, a.Service.Name, outcome).Inc()
	return gotID, out, nil
}

// ReceivedSkew is how far apart two replicas may read the clock they
// share (sharedclock: each within half of a round trip it takes, at most
// a tenth of the lease, and 1s at least): an alert is taken as received
// before a resolve only when it was that much before it, so that a firing
// received after the resolve, on a replica whose clock reads a little
// behind the resolving one's, is never superseded (a missed page).
func ReceivedSkew(cfg *policy.Config) time.Duration {
	return max(time.Second, time.Duration(cfg.Server.Lease)/10)
}

// superseded is a trigger the store turned down (store.Superseded): a was
// received before the latest incident with its dedup key, resolved, was
// resolved, and its write landed after that resolve. When the resolve was
// received after a (store.Entry.Received, by more than the shared clock's
// skew; a at the latest it may have arrived, latestArrival, as one read
// just after a stop of this replica may have come after a resolve taken
// elsewhere during it), a was, in the order pagerd received them, a repeat of that
// incident; opened, it pages for an outage its sender has since said is
// over, and stays open, as the sender says nothing more of an alert it
// resolved. When that resolve is its sender's own (Alertmanager's
// resolved notification, a PagerDuty resolve event, an Opsgenie close,
// or pagerd's own on the word of Alertmanager's API: ResolveUnless), the
// alert opens nothing: the incident's timeline says so (a
// firing_superseded entry, best effort: the answer is 2xx either way, as
// a 5xx would have the sender's retry, received now, open the incident)
// and the metric counts it superseded. Resolved by anyone else (a person
// who never saw this alert), or by pagerd on its own reading of the group
// (endIfGroupEnded), received not known to be after a (its write may have
// been long after its receipt, a firing sent after it received between),
// or on a clock read as ahead of this replica's, it opens the incident as
// it did before the store could tell. So does an Alertmanager
// notification holding a firing alert the incident did not hold (firing,
// or resolved since), or one started later (ingest.NothingNewer): it may
// be a new firing that the other Alertmanager of a cluster sent after the
// resolve, received first. An alert's own incident in fingerprint mode
// (Alert.OneAlert) is judged by its alert alone
// (ingest.AlertNothingNewer): the alerts its notification left out are
// other alerts'. A firing received before its sender's resolve that found
// no incident open to end is resolvedBefore's (markResolve).
func (s *Service) superseded(ctx context.Context, cfg *policy.Config, a Alert, id string) (string, store.Outcome, error) {
	var tl []store.Entry
	err := readThrough(ctx, func() (err error) { tl, err = s.o.Store.Timeline(ctx, id); return err })
	if err != nil {
		return "", 0, fmt.Errorf("the alert was received before incident %s was resolved, and its timeline, which says by whom, could not be read: %w", id, err)
	}
	var resolve *store.Entry
	asked := false
	for i := len(tl) - 1; i >= 0; i-- {
		if tl[i].Type == string(policy.ActionResolve) {
			resolve = &tl[i]
			asked = i > 0 && askedAlertmanager(tl[i-1])
			break
		}
	}
	// Read after the resolve: the trigger's own now came before its
	// write.
	now := s.clock()
	newer := false
	if resolve != nil && a.Source == "alertmanager" && !asked {
		var inc *store.Incident
		err := readThrough(ctx, func() (err error) { inc, err = s.o.Store.Get(ctx, id); return err })
		if err != nil {
			return "", 0, fmt.Errorf("the alert was received before incident %s was resolved, and the incident, which says what it held, could not be read: %w", id, err)
		}
		if a.OneAlert {
			newer = !ingest.AlertNothingNewer(a.Details, inc.Details)
		} else {
			newer = !ingest.NothingNewer(a.Details, inc.Details)
		}
	}
	// The order is the one pagerd received them in: the resolve's
	// receipt, not its write, which a replica stalled with it, or a slow
	// store, may have made well after a firing its sender sent next was
	// received. Not known (a replica off the shared clock, or one that
	// did not keep it), the firing may be that new one.
	// The firing at the latest it may have arrived (latestArrival).
	received := latestArrival(ctx, a)
	if resolve == nil || resolve.Actor != a.Source || !resolve.Received.After(received.Add(ReceivedSkew(cfg))) ||
		resolve.At.After(now.Add(ReceivedSkew(cfg))) || newer {
		if resolve != nil && resolve.Actor == a.Source && !newer && resolve.Received.After(a.Received.Add(ReceivedSkew(cfg))) &&
			!resolve.At.After(now.Add(ReceivedSkew(cfg))) {
			// Only its latest arrival says it may have come after the
			// resolve: if it did not, this is a page for an outage its
			// sender ended, which a person resolves. Said, so that one can
			// be told from a new outage. Not for a resolve on a clock
			// read as ahead of this replica's, which opens it whatever
			// its arrival: no stop of this replica is why.
			s.log.Warn("firing read just after a stop of this replica may have come after its incident's resolve: it opens an incident",
				"resolved", id, "service", a.Service.Name, "source", a.Source, "received_earliest", a.Received.UTC().Truncate(time.Millisecond),
				"received_latest", received.UTC().Truncate(time.Millisecond), "resolve_received", resolve.Received.UTC().Truncate(time.Millisecond))
		}
		a.opensAnyway = true
		return s.trigger(ctx, cfg, a)
	}
	received = received.UTC().Truncate(time.Millisecond)
	detail := "a firing " + a.Source + " sent before it resolved this incident, received at " + received.Format(time.RFC3339Nano) +
		", was written after the resolve (or found it resolved when it raised this incident): it opens no incident (received in order, it was a repeat of this one)"
	if err := s.Note(ctx, id, store.Entry{At: now, Type: FiringSuperseded, Actor: "pagerd", Detail: detail}); err != nil {
		s.log.Warn("superseded firing not noted in the timeline", "incident", id, "err", err)
	}
	s.log.Warn("alert received before its incident's resolve and stored after it: superseded, opens nothing", "incident", id,
		"service", a.Service.Name, "source", a.Source, "received", received, "resolved", resolve.At)
	s.m.alerts.WithLabelValues(a.Source, a.Service.Name, "superseded").Inc()
	return id, store.Superseded, nil
}

// endIfGroupEnded resolves inc, which a's repeat found open, when the
// repeat is in fact the group (in fingerprint mode, the alert) firing
// anew: Alertmanager sent the group's resolve leaving alerts out
// (max_alerts), pagerd withheld it (ingest.LeftOutResolve) and the
// incident, opened before, stayed open; now every alert of the repeat
// (a.FirstStart on) started after that resolve. Taken as a repeat, the new
// firing of an acknowledged incident paged nobody. It costs reads (the
// timeline; in fingerprint mode, when that holds no such resolve, the
// overflow incident and its timeline too) only for an incident that
// pages nobody any more (acknowledged, or with nothing pending: one
// still paging is seen anyway) and whose alerts all started after it
// opened. It reports whether it resolved inc; Trigger then opens the new
// incident. The starts are read on the alerts' sender's clock, the times
// they are held to on pagerd's: a start is taken as after a time only by
// startSkew, and a start more than that after now (a clock far ahead, or
// an alert dated in the future) says nothing.
//
// An acknowledgement made between the decision's read and its resolve
// keeps the incident open, and the decision is made again, once, on what
// the incident holds then: made before the firing's taking, it was about
// what the incident paged for, and does not hold the firing (as one
// before the read does not), and kept open on it, the new outage was
// taken as a repeat of the acknowledged incident and paged nobody until
// its next notification (repeat_interval, 4 hours by default)
// (TestGroupFiringAnewAcknowledgedWhileDecidedPagesAtOnce). Once: another
// acknowledgement in that instant keeps it open, the firing paging at
// its next notification.
//
// Not resolved, it returns the incident as last read, for the repeat to
// go on with: inc is not, once a resolve was tried on it and turned down
// (the store's version moved on), as the resolve was applied to it, and
// the repeat, going on with an incident resolved in memory, noted no
// firing_taken, so the pages after it held nothing, and the firing's
// next notification paged its people again
// (TestGroupFiringAnewEscalatedWhileDecidedIsNotedTaken).
func (s *Service) endIfGroupEnded(ctx context.Context, inc *store.Incident, a Alert, now time.Time) (bool, *store.Incident, error) {
	ended, kept, err := s.endIfGroupEndedOnce(ctx, inc, a, now)
	if kept != nil {
		inc = kept
		if ended, kept, err = s.endIfGroupEndedOnce(ctx, inc, a, now); kept != nil {
			inc = kept
		}
	}
	return ended, inc, err
}

// endIfGroupEndedOnce is endIfGroupEnded's decision, made once; kept is
// the incident as read again when a write since the decision's read kept
// it open.
func (s *Service) endIfGroupEndedOnce(ctx context.Context, inc *store.Incident, a Alert, now time.Time) (ended bool, kept *store.Incident, err error) {
	// In group mode a notification is the whole group only while no
	// silence of the acknowledgement (silence_on_acknowledge) mutes
	// some of it: Alertmanager leaves silenced alerts out without
	// counting them in truncatedAlerts, so a joiner sent alone would
	// read as the group firing anew while the acknowledged alerts fire
	// on, silenced.
	//
	// An acknowledgement holds this firing as a page does: after the
	// incident took it, in the timeline's order
	// (leftOutResolveAndPageAfter), not after its start by the times.
	// One made after the start but before the firing's first
	// notification (group_wait past a minute, or a delivery Alertmanager
	// retried) was about what the incident paged for then, pagerd not
	// knowing of the firing: read by its time, it held the firing, and
	// the new outage paged nobody
	// (TestGroupFiringAnewAcknowledgedBeforeItsFirstNotificationPages).
	quiet := func(inc *store.Incident) bool {
		return inc.Open() && (inc.State.Status == policy.StatusAcknowledged || len(inc.State.Pending) == 0) &&
			(a.WithheldIn != "" || len(inc.SilencedAt) == 0)
	}
	if a.FirstStart.IsZero() || inc == nil || !quiet(inc) || !a.FirstStart.After(inc.CreatedAt.Add(startSkew)) || a.FirstStart.After(now.Add(startSkew)) {
		return false, nil, nil
	}
	// A resolve withheld after the incident opened (and after it last
	// took another firing, from), before the alert started: the group
	// had ended since. Not so when there is none, or when the alert was
	// left out of it and has fired since (one that fired a moment before
	// the resolve went out, on a clock a little ahead, reads as started
	// after it): the resolve was rightly withheld.
	//
	// Which resolve is after which firing taken is read from the
	// timeline's order, not from the entries' times: each is stamped by
	// the replica that wrote it, on its own clock when the replicas do
	// not share Redis's (TIME refused, or not read yet), and a resolve
	// withheld three minutes after a firing taken on a replica ten
	// minutes ahead read as before it: the group's end went unread, and
	// its new firing paged nobody.
	endedAt := func(w time.Time) bool {
		return !w.IsZero() && a.FirstStart.After(w.Add(startSkew))
	}
	// The incident's own timeline holds the group's withheld resolves in
	// group mode, and in fingerprint mode those made while the group's
	// overflow incident was not open (resolved by hand, or never opened),
	// which each open incident of the group the resolve did not name
	// recorded; the overflow incident's holds the others. The first of
	// either since the incident opened tells, the incident's own first:
	// the overflow incident is read only when that one does not. Not the
	// latest: a later one (the same resolve sent again minutes later, a
	// retry or the other Alertmanager of a cluster, or the group's next
	// resolve leaving the alert out again) may have come after the alert
	// fired anew, and its new firing read as a repeat.
	//
	// The same read says when the incident last paged someone (or may
	// have): an alert (a group, in group mode) that started before that,
	// by startSkew, fired anew while the incident still paged, which
	// takes every firing, and the incident paged people on call while it
	// fired. With nobody acknowledging, the ladder ran out, and the next
	// notification of that firing (repeat_interval) resolved the
	// incident and paged the same people again for it. Only a page after
	// the incident took the firing (FiringTaken) counts: one before, sent
	// before pagerd knew of it, told nobody of it. Only a page
	// counts, not any step of the ladder: after an escalation to a level
	// nobody is on call for, or pages the provider refused or reported
	// undelivered, nobody had been told of the new firing, and that
	// notification is the last chance to page for it.
	//
	// A page after the taking is told by the timeline's order, also
	// after an entry of this firing noted before its start (read as to
	// come: its sender's clock ahead, or the replica's behind), whose
	// page's time reads as before the start too: the ladder that paged
	// for the firing was taken for none, and the incident resolved and
	// its people paged again for it
	// (TestGroupFiringStartedAheadTakenWhileItsIncidentPagedStaysARepeat).
	// It holds the firing however soon after its
	// start it came: the taking says pagerd knew of the firing then,
	// which the start, on the sender's clock, cannot add to. Counted
	// only a minute or more after the start, the push that escalated to
	// the last level 30 s after it, the ladder then over, was taken for
	// none, and the next notification of the firing resolved the
	// incident and paged again for it
	// (TestGroupFiringAnewTakenJustBeforeItsLastPageStaysARepeat).
	withheld, from, pagedAfter, err := s.leftOutResolveAndPageAfter(ctx, inc.ID, time.Time{}, a.FirstStart)
	if err != nil {
		return false, nil, err
	}
	if from.Before(inc.CreatedAt) {
		from = inc.CreatedAt // the overflow incident's resolves count from the incident's opening
	}
	if pagedAfter {
		return false, nil, nil
	}
	if !endedAt(withheld) && a.WithheldIn != "" {
		holder, err := s.o.Store.FindByDedup(ctx, inc.Service, a.WithheldIn)
		if isNotFound(err) {
			return false, nil, nil
		} else if err != nil {
			return false, nil, err
		}
		if withheld, _, _, err = s.leftOutResolveAndPageAfter(ctx, holder.ID, from, time.Time{}); err != nil {
			return false, nil, err
		}
	}
	if !endedAt(withheld) {
		return false, nil, nil
	}
	acked := lastAcknowledged(&inc.State)
	// Received zero: pagerd's judgement, not the sender's resolve.
	kept, _, err = s.resolveUnless(ctx, inc, a.Actor, time.Time{}, func(cur *store.Incident) bool {
		// An acknowledgement since the timeline was read: whether it
		// holds the firing (after its taking, in the timeline's
		// order) is read again (endIfGroupEnded).
		return !quiet(cur) || !lastAcknowledged(&cur.State).Equal(acked)
	})
	if isResolved(err) {
		return true, nil, nil
	}
	if err != nil || kept != nil {
		return false, kept, err
	}
	detail := "Alertmanager sent the group (or, in fingerprint mode, the alert) firing again, every alert of it started after the resolve pagerd withheld at " +
		withheld.UTC().Format(time.RFC3339) + " because Alertmanager had left alerts out of it: the group had ended, so this incident is resolved " +
		"and the new firing opens an incident of its own, which pages"
	if err := s.Note(ctx, inc.ID, store.Entry{At: s.clock(), Type: "resolve_confirmed", Actor: "pagerd", Detail: detail}); err != nil {
		// Best effort: the resolve is stored, and the new incident
		// must open whatever becomes of the note.
		s.log.Warn("why the incident was resolved not noted in the timeline", "incident", inc.ID, "err", err)
	}
	s.log.Info("a group whose resolve was withheld fired anew: its incident is resolved and a new one opened", "incident", inc.ID,
		"service", inc.Service, "withheld_at", withheld)
	return true, nil, nil
}

// FiringTaken is the timeline entry of a repeat that an open incident
// took for a firing (a whole group's in group mode, an alert's in
// fingerprint mode) that started after the incident opened: from then on
// the incident's pages are pages for that firing too, and the group, firing
// again then, ended only by a resolve withheld after it (endIfGroupEnded).
const FiringTaken = "firing_taken"

// askedAlertmanager says whether e, the entry written with a resolve just
// before it, says pagerd resolved the incident on Alertmanager's own
// account of the group's alerts (amresolve: resolve_confirmed, its API
// listing none of them active, neither silenced nor inhibited;
// resolve_group_gone, its config no longer having the group). A firing
// received before that answer, whatever it holds, is older than it: an
// alert of it still active then would have been listed, those left out of
// a cut notification (max_alerts) too, which the firing's content cannot
// show (ingest.NothingNewer is false for a cut notification).
func askedAlertmanager(e store.Entry) bool {
	return e.Actor == "pagerd" && (e.Type == "resolve_confirmed" || e.Type == "resolve_group_gone")
}

// readThrough runs read, and again while the store is unavailable, until
// ctx's deadline is near: superseded's reads come when a write landed
// late, which is most often when the store has just stalled and is
// stalling still; a 503 then has the sender retry, and the retry, received
// after the resolve, opens the incident for alerts that ended (the groups
// soak: two such reads failed, in the second after a Redis stall). Eight
// tries at most, 3.6 s of waits.
func readThrough(ctx context.Context, read func() error) error {
	wait := 50 * time.Millisecond
	for try := 1; ; try++ {
		err := read()
		if !errors.Is(err, store.ErrUnavailable) || try == 8 {
			return err
		}
		if d, ok := ctx.Deadline(); ok && time.Until(d) < 2*wait {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// FiringSuperseded is the timeline entry of a resolved incident that says
// a firing its sender sent before the resolve reached the store after it
// and opened nothing (superseded).
const FiringSuperseded = "firing_superseded"

// noteFiringTaken records that inc took a's firing as a
// repeat at now, when that firing started after inc opened (by
// startSkew), as endIfGroupEnded reads it: a page holds a firing only
// after the incident took it. Only a page after that told anyone of it:
// one before, though after the firing started, was about what the
// incident held then, sent before pagerd knew of the firing (whose first
// notification came a minute or more after it started: group_wait, or a
// delivery Alertmanager retried), and taking the firing as a repeat then
// paged nobody for a new outage. Not noted, a later notification of the
// firing reads as new when the group had ended, and pages: a second page,
// never a missed one; so a note the store refused is an error, and the
// notification is answered 503 and retried (noteTaken). Noted once for a firing: every repeat of it
// (group_interval, repeat_interval) wrote another entry, and a long
// incident's timeline grew by one each time; the first tells
// (leftOutResolveAndPageAfter), and one noted already is found by a read
// of the timeline, made only for such a firing. A start that this
// replica's clock reads as to come is noted too (a replica whose clock
// runs behind, not sharing Redis's): the group fires now, whatever the
// clocks say, and, left unnoted, the firing flapping later read as new
// after a resolve withheld before it, and paged the people working it
// again (TestWithheldResolveAfterAFiringTakenOnASkewedReplica).
//
// A group that comes cut (Alertmanager left alerts out) says nothing of
// when it started, and was noted nowhere: a group that
// fired anew after its withheld resolve while its incident paged, cut at
// every notification, was taken and paged for with no entry, and once it
// came whole (the alerts left out resolved) the pages since held nothing,
// and the incident was resolved and its people paged again for the
// outage they had been paged about
// (TestGroupFiringAnewFirstSentTruncatedWhileItsIncidentPagedStaysARepeat).
// Such a firing is noted with no start (firingTakenUnknown), once after
// each resolve withheld because alerts were left out, and only then (it
// matters only after such a resolve, which it may follow or bound), and
// only when an alert the notification kept started after that resolve
// (by startSkew, CutLastStart): a cut notification of the group's old
// alerts (the other Alertmanager of a cluster sending what it had not
// seen resolved yet, or alerts the resolve left out) tells of no firing
// after it, and, noted and paged after, it bounded the resolve, and the
// group's new firing paged nobody
// (TestGroupFiringAnewAfterACutNotificationOfItsOldAlertsPages).
func (s *Service) noteFiringTaken(ctx context.Context, inc *store.Incident, a Alert, now time.Time) error {
	if inc == nil || !inc.Open() {
		return nil
	}
	if a.FirstStart.IsZero() {
		if !a.CutLastStart.IsZero() && !ladderOver(inc) {
			return s.noteFiringTakenUnknown(ctx, inc, a.CutLastStart, now)
		}
		return nil
	}
	if !a.FirstStart.After(inc.CreatedAt.Add(startSkew)) {
		return nil
	}
	tl, _ := s.o.Store.Timeline(ctx, inc.ID) // unread: noted, as it may be already
	detail := firingTakenDetail(a.FirstStart)
	for _, e := range tl {
		// Taken already: an entry at or after the firing started, or,
		// on a replica whose clock reads the start as to come, one that
		// names it.
		if e.Type == FiringTaken && (!e.At.Add(startSkew).Before(a.FirstStart) || e.Detail == detail) {
			return nil
		}
	}
	return s.noteTaken(ctx, inc.ID, store.Entry{At: now, Type: FiringTaken, Actor: "pagerd", Detail: detail})
}

// ladderOver says inc pages nobody and nobody took it on: triggered, its
// ladder over (nothing pending), held by no maintenance window. A firing
// of its group that came cut then was taken as a repeat with no decision
// (no start known) and told nobody: noted with no start, an
// acknowledgement of the old outage after it (someone reading the
// incident, which had paged nobody about the new firing) read as one of
// the new, and once the group came whole, the new outage paged nobody
// (TestGroupFiringAnewCutWhileItsLadderWasOverPagesOnceWhole). Not
// noted, the whole notification reads the withheld resolve as the
// group's end, and pages. A later cut notification that raises the
// incident (its pages pending then) notes it.
func ladderOver(inc *store.Incident) bool {
	return inc.State.Status == policy.StatusTriggered && len(inc.State.Pending) == 0 && inc.State.Maintenance == nil
}

// noteFiringTakenUnknown records that inc took a firing
// whose start is not known, when a resolve withheld because Alertmanager
// left alerts out is the timeline's latest such resolve, no firing was
// taken since it, and an alert the notification kept started after it
// (kept, by startSkew) (noteFiringTaken).
func (s *Service) noteFiringTakenUnknown(ctx context.Context, inc *store.Incident, kept, now time.Time) error {
	tl, err := s.o.Store.Timeline(ctx, inc.ID)
	if err != nil {
		// Unread: whether to note it is not known. The retry reads it.
		return fmt.Errorf("read the timeline: %w", err)
	}
	var since time.Time // a resolve withheld with no firing taken after it
	for _, e := range tl {
		switch {
		case e.Type == FiringTaken:
			since = time.Time{}
		case leftOutResolve(e):
			since = e.At
		}
	}
	if !since.IsZero() && kept.After(since.Add(startSkew)) {
		return s.noteTaken(ctx, inc.ID, store.Entry{At: now, Type: FiringTaken, Actor: "pagerd", Detail: firingTakenUnknown})
	}
	return nil
}

// noteTaken notes e, a FiringTaken entry, on the incident id. Not best
// effort: a firing taken with no entry holds none of the pages and
// acknowledgements that follow, and its next notification (repeat_interval)
// read as the group firing anew, resolved the incident and paged its
// people again for the outage they were working. Refused, the
// notification is answered 503 (stored in part): Alertmanager retries,
// the retry takes the firing again as a repeat and notes it
// (TestFiringTakenRefusedIsAnsweredRetry).
func (s *Service) noteTaken(ctx context.Context, id string, e store.Entry) error {
	if err := s.o.Store.Note(ctx, map[string][]store.Entry{id: {e}}); err != nil {
		return fmt.Errorf("note the firing taken as a repeat: %w", err)
	}
	return nil
}

// firingTakenUnknown is the detail of the FiringTaken entry of a firing
// whose start is not known (Alert.CutLastStart). Whose it is, is read from
// its time alone: the firing of a start at most startSkew after it
// (leftOutResolveAndPageAfter).
const firingTakenUnknown = "a firing of the group, sent with alerts left out or not saying when they started (so when it started is not known), is taken as a repeat: the incident's pages from now on are for it too"

// leftOutResolve tells the resolve_withheld entry of a resolve withheld
// because Alertmanager left alerts out (ingest.LeftOutResolve).
func leftOutResolve(e store.Entry) bool {
	return e.Type == "resolve_withheld" && strings.HasPrefix(e.Detail, ingest.LeftOutResolve)
}

// firingTakenDetail is the detail of the FiringTaken entry of a firing
// that started at start.
func firingTakenDetail(start time.Time) string {
	return "a firing that started at " + start.UTC().Format(time.RFC3339) + ", after this incident opened, is taken as a repeat: the incident's pages from now on are for it too"
}

// lastAcknowledged is when the incident was last acknowledged: zero when
// it never was. A record written before LastAcknowledgedAt was kept has
// only the first acknowledgement.
func lastAcknowledged(st *policy.Incident) time.Time {
	if st.LastAcknowledgedAt.After(st.AcknowledgedAt) {
		return st.LastAcknowledgedAt
	}
	return st.AcknowledgedAt
}

// leftOutResolveAndPageAfter reads the incident's timeline once for when
// the first resolve withheld after since because Alertmanager left alerts
// out (ingest.LeftOutResolve) was recorded (zero when none was), and
// whether a page, or an acknowledgement, follows the incident's first
// taking of a firing that started at started as a repeat (FiringTaken;
// false when started is zero). A page is one that reached someone, or
// may have (MayHavePaged: sent on its own or in a storm message, or one
// whose send may have gone out); a step that reached nobody is not: an
// escalation to a level nobody is on call for, a page the provider
// refused, had no contact to go to, or reported did not arrive (a
// delivery_failed entry, as undeliveredPages matches it to its page), one
// skipped or held (the storm message that carries a held page records
// its own entry when it goes). Which follows is read from the timeline's
// order, not the entries' times, each stamped by the replica that wrote
// it, on its own clock when the replicas do not share Redis's: a page
// sent before the taking by a replica ten minutes ahead read as after
// it, and held a firing nobody had been told of, whose next
// notification, the ladder run out reaching nobody, paged nobody
// (TestGroupFiringAnewAfterALastPageStampedAheadPages).
//
// When the incident took another firing as a repeat (FiringTaken, an
// entry naming another start than started, whatever its time) and
// someone was told of it (a page or an acknowledgement after it), withheld
// is the first resolve withheld after the last such entry in the
// timeline's order, and from is that entry's time (since when later, or
// zero): the group fired again then, so a resolve withheld before it says
// nothing of the group's end since. Otherwise from is since, and withheld
// the first after since (zero since: the first in the timeline); either
// way, before the firing's own first entry, if any. The
// order, not the entries' times, says which came first: each is stamped
// on the clock of the replica that wrote it, which, when the replicas do
// not share Redis's (sharedclock, unread), may be minutes off another's
// (TestWithheldResolveAfterAFiringTakenOnASkewedReplica). Read from since, a firing that
// flapped (resolved and fired again within group_interval, when
// Alertmanager sends no resolve) after the incident took it read as the
// group firing anew after the resolve withheld before it was ever
// taken: the incident was resolved and its people paged again for the
// outage they had been paged for
// (TestGroupFlappingAfterItsIncidentTookItsFiringStaysARepeat).
func (s *Service) leftOutResolveAndPageAfter(ctx context.Context, id string, since, started time.Time) (withheld, from time.Time, pagedAfter bool, err error) {
	tl, err := s.o.Store.Timeline(ctx, id)
	if err != nil {
		return time.Time{}, time.Time{}, false, err
	}
	from = since
	// An entry naming started is this firing's own, whatever its time
	// says (noted while the start read as to come: a sender's clock
	// ahead, or the replica's behind): taken, not another firing before
	// it, which would have its end before the entry unread and its new
	// firing page nobody
	// (TestGroupFiringAnewStartedAheadOfPagerdsClockPagesOnceItComes).
	//
	// An entry naming another start is another firing's, whatever its
	// time says too: one noted less than startSkew before this firing
	// started (the group flapping, resolved and firing again within
	// group_interval, a moment after the incident took it) bounds the
	// resolve withheld before it as any other does. Read as this
	// firing's own taking, it did not, the withheld resolve before it
	// was read as the group's end, and the incident someone had
	// acknowledged was resolved and they were paged again for the
	// outage they were working
	// (TestGroupFlappingWithinAMinuteOfItsFiringTakenStaysARepeat).
	//
	// An entry of a firing whose start was not known (firingTakenUnknown)
	// is told by its time alone: noted at most startSkew before this
	// firing started, or after, it is this firing's (the group came cut
	// while it fired), and another's otherwise.
	own := ""
	mine := func(e store.Entry) bool {
		return e.Detail == own || (e.Detail == firingTakenUnknown && !e.At.Add(startSkew).Before(started))
	}
	if !started.IsZero() {
		own = firingTakenDetail(started)
	}
	var unreached map[int]bool      // pages a provider reported did not arrive
	var reported map[[2]string]bool // the people and channels of those reports, each matched once
	for _, e := range tl {
		if own != "" && e.Type == DeliveryFailed && !reported[[2]string{e.User, e.Channel}] {
			if unreached == nil {
				unreached, reported = map[int]bool{}, map[[2]string]bool{}
			}
			reported[[2]string{e.User, e.Channel}] = true
			maps.Copy(unreached, undeliveredPages(tl, e.User, e.Channel))
		}
	}
	// told: a page that reached someone, or may have, or an
	// acknowledgement: after a firing's taking, someone was told of it.
	told := func(i int, e store.Entry) bool {
		return (MayHavePaged(e) && !unreached[i]) || e.Type == string(policy.ActionAck)
	}
	// Another firing's entry bounds the resolve withheld before it only
	// once someone was told of that firing (a page or an acknowledgement
	// after it): taken while the incident paged, its ladder then reaching
	// nobody, it was an outage after the group's end that nobody had
	// heard of, and when the group's alerts turned over meanwhile (the
	// notification's first start another firing's), the end before it
	// went unread and the outage paged nobody
	// (TestGroupFiringAnewTurnedOverWhileItsLadderReachedNobodyPages).
	after := -1 // the index of the last entry of another firing taken and told of, -1 for none
	if own != "" {
		last := -1 // the last entry of another firing so far
		for i, e := range tl {
			if e.Type == FiringTaken && !mine(e) {
				last = i
			}
			if last >= 0 && told(i, e) {
				after = last
			}
		}
	}
	if after >= 0 && tl[after].At.After(since) {
		from = tl[after].At
	}
	// A resolve withheld after this firing's own entry ended nothing the
	// firing started after: the firing fired when the entry was noted,
	// before it (left out of it, it may fire still). Its start, said to
	// come then (the sender's clock ahead), read as after that resolve,
	// and the firing's next notification resolved the incident and paged
	// its people again
	// (TestGroupFiringStartedAheadLeftOutOfALaterResolveStaysARepeat).
	ownAt := len(tl) // the index of this firing's first own entry
	if own != "" {
		for i, e := range tl {
			if e.Type == FiringTaken && mine(e) {
				ownAt = i
				break
			}
		}
	}
	for i, e := range tl {
		if leftOutResolve(e) && withheld.IsZero() && i < ownAt &&
			((after >= 0 && i > after) || (after < 0 && e.At.After(since))) {
			withheld = e.At
			break
		}
	}
	if own == "" {
		return withheld, from, false, nil // no firing to have paged for
	}
	taken := false // the firing's taking (its own entry, whatever its time, among them), read so far
	for i, e := range tl {
		// An acknowledgement after the taking holds the firing as a
		// page does: someone acknowledged it while it fired, whatever
		// its time says against the start (a minute or less after it,
		// or before it, the start read ahead), and the next
		// notification resolved the incident and paged them again
		// (TestGroupFiringStartedAheadAcknowledgedAfterItsTakingStaysARepeat).
		// One before the taking, though after the start, does not
		// (endIfGroupEnded).
		if told(i, e) {
			pagedAfter = pagedAfter || taken
		}
		taken = taken || (e.Type == FiringTaken && (!e.At.Add(startSkew).Before(started) || mine(e)))
	}
	return withheld, from, pagedAfter, nil
}

// startSkew is how far after a withheld resolve (on pagerd's clock) an
// alert's start (on its Prometheus's) must be for the alert to have
// started after it. An alert Alertmanager left out of the resolved
// notification may have fired a moment before it went out; on a clock a
// few seconds ahead it reads as started after, and taking its group for
// one that fired anew resolves the incident someone is working and pages
// them again. A group that fires anew within a minute of its resolve
// stays a repeat, as every repeat did before.
const startSkew = time.Minute

// raiseIfWorse looks at an open incident whose alert fired again: if the
// alert is now more urgent (a critical alert joined a warning group), the
// incident takes the higher priority and its current level is paged again.
// The pages must say why the incident got worse, so its summary becomes
// the alert that raised it (title) and how many alerts are firing. This read
// is the price of a repeat where the store did not hand the incident back
// with it (inc nil; store.RepeatReader). It returns the incident as it
// left it.
func (s *Service) raiseIfWorse(ctx context.Context, id string, inc *store.Incident, rt policy.Route, actor, title, firing string) (*store.Incident, error) {
	if inc == nil {
		var err error
		if inc, err = s.o.Store.Get(ctx, id); err != nil {
			return nil, err
		}
	}
	if !inc.Open() {
		// Resolved after the repeat was stored (the resolve read the
		// incident before it: a repeat leaves the version as it is),
		// by someone who never saw the alert. A repeat after the
		// resolve opens an incident, and this one must too, whether
		// it makes it worse or not: Alertmanager counts it delivered.
		return nil, errResolvedWhileRaised
	}
	sc := rt.Service.Scheme()
	was, _ := rt.Service.PriorityInForce(inc.State.Priority) // escalated as the most urgent when its scheme lacks it
	worse := sc.Rank(rt.Priority) < sc.Rank(was)
	if !worse && !newAtOnce(rt, inc.State, s.o.Config().Policy(rt.EscalationPolicy)) {
		return inc, nil
	}
	from := inc.State.Priority
	why := title + "; " + firing
	summary := s.o.CapSummary(fmt.Sprintf("%s (raised from %s to %s; %s)", title, from, rt.Priority, firing))
	if !worse {
		summary = s.o.CapSummary(fmt.Sprintf("%s (auto-escalation %s at %s; %s)", title, rt.Rule, from, firing))
	}
	after, acts, err := s.applyWith(ctx, id, inc, policy.Event{Kind: policy.EventTrigger, Route: &rt, Actor: actor, Message: why},
		func(inc *store.Incident) { inc.Summary = summary })
	if errors.Is(err, ErrAlreadyResolved) {
		return nil, errResolvedWhileRaised
	}
	if err != nil {
		return nil, err
	}
	if len(acts) > 0 {
		s.log.Info("incident priority raised", "incident", id, "from", from, "to", rt.Priority, "by", why)
	}
	return after, nil
}

// releaseIfUncovered looks at an open incident held by a maintenance
// window whose alert fired again: a window covers a group only when it
// covers every alert of it, so when an alert outside the window joined
// the group (or the sender left some of its alerts out, so that the
// window is not known to cover them), the window no longer holds the
// incident. It is handed to
// another window that covers it as it is now, if one does, and paged as
// new otherwise, at once: held to the window's end, the alert outside
// it would page nobody. inc is the incident as the repeat left it.
func (s *Service) releaseIfUncovered(ctx context.Context, inc *store.Incident, a Alert, now time.Time) error {
	if s.o.Maintenance == nil || inc == nil || inc.State.Maintenance == nil || !inc.Open() {
		return nil
	}
	h := inc.State.Maintenance
	why := fmt.Sprintf("maintenance window %s no longer covers every alert of the incident (one outside it joined)", h)
	var then *policy.Hold
	if !a.LabelsIncomplete {
		// Not a window the incident was escalated past: one that ends
		// later than h would be found, and, as the engine hands the
		// incident to none of those, the repeat paged it inside h,
		// which still covers it.
		then = s.o.Maintenance(ctx, a.Service.Name, a.Labels, &inc.State, now)
	}
	switch {
	case !h.Until.After(now):
		// The window is over and its end not fired yet (due this
		// instant, or the dispatchers are behind): the repeat only
		// comes first, and no alert outside the window joined.
		why = fmt.Sprintf("maintenance window %s ended", h)
	case a.LabelsIncomplete:
		why = fmt.Sprintf("maintenance window %s is not known to cover every alert of the incident: the sender left some of them out", h)
	case then != nil && then.ID == h.ID:
		return nil
	}
	_, acts, err := s.applyWith(ctx, inc.ID, inc, policy.Event{Kind: policy.EventRelease, Hold: h, Then: then, Actor: a.Actor, Message: why}, nil)
	if isResolved(err) {
		return nil
	}
	if err == nil && len(acts) > 0 {
		s.log.Info("incident released: its maintenance window no longer covers all its alerts", "incident", inc.ID, "window", h.ID)
	}
	return err
}

// newAtOnce tells whether the route pages at once a level the incident
// has not been paged at once (an auto-escalation trigger joining an open
// group at the same priority) and has not reached yet: what the engine
// pages (run.autoEscalate). Anything else would cost every repeat of such
// an alert a write that changes nothing.
func newAtOnce(rt policy.Route, st policy.Incident, pol *policy.EscalationPolicy) bool {
	for _, name := range rt.PageImmediately {
		if slices.Contains(st.PageImmediately, name) {
			continue
		}
		if pol == nil || pol.LevelIndex(name) > st.Level {
			return true
		}
	}
	return false
}

// ResolveByDedup resolves the open incident with the dedup key, if any, and
// returns its id ("" when there was none). A resolve for an alert pagerd
// never opened, or already resolved, ends nothing; its sender's is
// remembered a while (markResolve), for a firing received before it that
// a stopped replica writes after it. received is when the sender's
// resolve was received (policy.Event.Received; zero when not known):
// received before a firing of the incident's alert written before it, it
// resolves nothing (unlessSuperseded; id "").
func (s *Service) ResolveByDedup(ctx context.Context, svc *policy.Service, dedupKey, source, actor string, received time.Time) (string, error) {
	return s.ActByDedup(ctx, svc, dedupKey, source, policy.Event{Kind: policy.EventResolve, Actor: actor, Received: received}, "resolved")
}

// ResolveByDedupUnless is ResolveByDedup unless keep, asked about the
// open incident as it is written, says it must stay open: then nothing is
// written, and kept is the incident as keep saw it. The write also checks
// that the incident was not repeated since it was read (a repeat changes
// its details, not its version), and keep is asked again on a fresh read
// when it was: a firing notification that lands during the resolve is
// judged by it. received is when the sender's resolve was received
// (policy.Event.Received; zero when not known). ended is the resolved
// notification's details, remembered (markResolve) when no incident is
// open to end.
func (s *Service) ResolveByDedupUnless(ctx context.Context, svc *policy.Service, dedupKey, source, actor string, received time.Time, ended json.RawMessage,
	keep func(*store.Incident) bool) (id string, kept *store.Incident, err error) {
	inc, err := s.openIncident(ctx, svc, dedupKey, true, source)
	if inc == nil {
		if err == nil {
			s.markResolve(ctx, svc, dedupKey, source, resolveEvent(actor, received), ended)
		}
		return "", nil, err
	}
	kept, late, err := s.resolveUnless(ctx, inc, actor, received, keep)
	if isResolved(err) {
		err = nil
	}
	if err != nil {
		return "", nil, err
	}
	if kept != nil {
		return kept.ID, kept, nil
	}
	if late != nil {
		s.resolveSuperseded(ctx, late, resolveEvent(actor, received), source)
		return "", nil, nil
	}
	s.m.alerts.WithLabelValues(source, svc.Name, "resolved").Inc()
	return inc.ID, nil, nil
}

// resolveUnless resolves the open incident inc, as actor, unless keep,
// asked about it as it is written, says it must stay open: then nothing is
// written and kept is the incident as keep saw it. The write also checks
// that the incident was not repeated since it was read (a repeat changes
// its details, not its version), and keep is asked again on a fresh read
// when it was. received is when the sender's resolve was received
// (policy.Event.Received), zero for one pagerd decided on. Received before
// a firing of the incident's alert written before it (unlessSuperseded),
// it writes nothing, and late is the incident as read.
func (s *Service) resolveUnless(ctx context.Context, inc *store.Incident, actor string, received time.Time, keep func(*store.Incident) bool) (kept, late *store.Incident, err error) {
	g := func(inc *store.Incident) ([]store.Entry, bool, error) {
		kept = nil
		if inc.Open() && keep(inc) {
			kept = inc
			return nil, false, nil
		}
		inc.CheckRepeats = true
		return nil, true, nil
	}
	ev := resolveEvent(actor, received)
	_, _, err = s.applyGuarded(ctx, inc.ID, inc, ev, nil, s.unlessSuperseded(ctx, ev, g, &late))
	return kept, late, err
}

// resolveEvent is the resolve of actor, received when its sender's
// resolve was received (zero when not known).
func resolveEvent(actor string, received time.Time) policy.Event {
	return policy.Event{Kind: policy.EventResolve, Actor: actor, Received: received}
}

// ActByDedup applies ev to the open incident of the service with the dedup
// key and returns its id, or "" when no open incident has the key (or ev,
// a resolve its sender sent, was received before a firing written before
// it, and resolved nothing: unlessSuperseded). outcome is what
// pagerd_alerts_received_total counts it as. A resolve its sender sent
// that finds no open incident is remembered a while (markResolve).
func (s *Service) ActByDedup(ctx context.Context, svc *policy.Service, dedupKey, source string, ev policy.Event, outcome string) (string, error) {
	inc, err := s.openIncident(ctx, svc, dedupKey, true, source)
	if inc == nil {
		if err == nil {
			s.markResolve(ctx, svc, dedupKey, source, ev, nil)
		}
		return "", err
	}
	return s.actOn(ctx, svc, inc, source, ev, outcome)
}

// ActByID applies ev to the service's incident with the id and returns the
// id, or "" when the id names no open incident of the service (nothing
// changes, and it is counted as ignored), as ActByDedup does with a dedup
// key: for intakes that act on an incident by its id (Opsgenie's close and
// acknowledge). The incident is read once.
func (s *Service) ActByID(ctx context.Context, svc *policy.Service, id, source string, ev policy.Event, outcome string) (string, error) {
	inc, err := s.openIncident(ctx, svc, id, false, source)
	if inc == nil {
		return "", err
	}
	return s.actOn(ctx, svc, inc, source, ev, outcome)
}

// openIncident reads the service's open incident that ref names, a dedup
// key (byDedup) or an id; nil, counted as ignored, when it names none.
func (s *Service) openIncident(ctx context.Context, svc *policy.Service, ref string, byDedup bool, source string) (*store.Incident, error) {
	return s.serviceIncident(ctx, svc, ref, byDedup, source, true)
}

// serviceIncident reads the service's incident that ref names, a dedup key
// (byDedup: its latest) or an id, open only when open is set; nil, counted
// as ignored, when it names none.
func (s *Service) serviceIncident(ctx context.Context, svc *policy.Service, ref string, byDedup bool, source string, open bool) (*store.Incident, error) {
	var inc *store.Incident
	var err error
	if byDedup {
		inc, err = s.o.Store.FindByDedup(ctx, svc.Name, ref)
	} else {
		inc, err = s.o.Store.Get(ctx, ref)
	}
	if isNotFound(err) || (err == nil && (inc.Service != svc.Name || open && !inc.Open())) {
		s.m.alerts.WithLabelValues(source, svc.Name, "ignored").Inc()
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return inc, nil
}

// Edit changes what an incident says (its summary, its details), not its
// state: it returns the timeline entry's detail, or changed false when
// the incident says it already (nothing is written).
type Edit func(inc *store.Incident) (detail string, changed bool, err error)

// EditOpen applies edit to the service's open incident that ref names (a
// dedup key when byDedup, an id otherwise), as an "updated" entry by
// source, and returns its id, or "" when ref names no open incident
// (nothing changes, counted as ignored, as ActByDedup does). An edit
// pages nobody: the pages still to come say what the incident says then.
// The incident's Slack channel message is brought up to date with it
// (ChatSummary), as it is for an acknowledgement or an escalation.
func (s *Service) EditOpen(ctx context.Context, svc *policy.Service, ref string, byDedup bool, source string, edit Edit) (string, error) {
	inc, err := s.openIncident(ctx, svc, ref, byDedup, source)
	if inc == nil {
		return "", err
	}
	changed := false
	var now time.Time
	inc, err = s.update(ctx, inc.ID, inc, func(inc *store.Incident) ([]store.Entry, bool, error) {
		changed = false // this read's, not a write that lost to another
		if !inc.Open() {
			return nil, false, nil // resolved meanwhile: nothing to say of it
		}
		detail, ok, err := edit(inc)
		if err != nil || !ok {
			return nil, false, err
		}
		changed = true
		now = s.clock()
		inc.UpdatedAt = now
		if ChatConfigured(s.o.Config(), inc.Service) {
			inc.Outbox = append(inc.Outbox, chatItem(ChatSummary, fmt.Sprint(now.UnixMilli()), now))
		}
		return []store.Entry{{At: now, Type: "updated", Actor: source, Detail: detail}}, true, nil
	})
	if err != nil {
		return "", err
	}
	if changed {
		s.wakeIfDue(inc, now)
		s.m.alerts.WithLabelValues(source, svc.Name, "updated").Inc()
	} else {
		s.m.alerts.WithLabelValues(source, svc.Name, "repeated").Inc()
	}
	return inc.ID, nil
}

// NoteOn appends e to the timeline of the service's incident that ref
// names (a dedup key when byDedup, its latest incident, open or not; an
// id otherwise) and returns its id, or "" when ref names none of the
// service's (nothing is written, counted as ignored): Opsgenie's add note,
// which takes closed alerts too. It changes no state and pages nobody.
func (s *Service) NoteOn(ctx context.Context, svc *policy.Service, ref string, byDedup bool, source string, e store.Entry) (string, error) {
	inc, err := s.serviceIncident(ctx, svc, ref, byDedup, source, false)
	if inc == nil {
		return "", err
	}
	if err := s.Note(ctx, inc.ID, e); err != nil {
		return "", err
	}
	s.m.alerts.WithLabelValues(source, svc.Name, "updated").Inc()
	return inc.ID, nil
}

// actOn applies ev to inc, the open incident a dedup key found, just read,
// and returns its id: "" when ev, a resolve its sender sent, was received
// before a firing written before it, and resolved nothing
// (unlessSuperseded).
func (s *Service) actOn(ctx context.Context, svc *policy.Service, inc *store.Incident, source string, ev policy.Event, outcome string) (string, error) {
	var late *store.Incident
	_, _, err := s.applyGuarded(ctx, inc.ID, inc, ev, nil, s.unlessSuperseded(ctx, ev, nil, &late))
	if isResolved(err) {
		err = nil
	}
	if err != nil {
		return "", err
	}
	if late != nil {
		s.resolveSuperseded(ctx, late, ev, source)
		return "", nil
	}
	s.m.alerts.WithLabelValues(source, svc.Name, outcome).Inc()
	return inc.ID, nil
}

// NoteIfOpen appends an entry of type typ, by pagerd, to the timeline of
// the service's open incident with the dedup key, if there is one, and
// returns its id ("" if there was none): for what an intake did not do to
// it and why (a resolve it could not trust).
func (s *Service) NoteIfOpen(ctx context.Context, svc *policy.Service, dedupKey, typ, detail string) (string, error) {
	inc, err := s.o.Store.FindByDedup(ctx, svc.Name, dedupKey)
	if isNotFound(err) || (err == nil && !inc.Open()) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if err := s.Note(ctx, inc.ID, store.Entry{At: s.clock(), Type: typ, Actor: "pagerd", Detail: detail}); err != nil {
		return "", err
	}
	return inc.ID, nil
}

// AcknowledgedByDedup reports whether the service's open incident with
// the dedup key is acknowledged, or was re-opened and still owes the
// expiry of the silences its acknowledgement made (ReopenedSilenced):
// either way pagerd's silences may mute its alerts in the group's
// notifications.
func (s *Service) AcknowledgedByDedup(ctx context.Context, svc *policy.Service, dedupKey string) (bool, error) {
	inc, err := s.o.Store.FindByDedup(ctx, svc.Name, dedupKey)
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return inc.State.Status == policy.StatusAcknowledged || ReopenedSilenced(inc), nil
}

// ResolveIfOpen resolves the service's open incident with the dedup key,
// if there is one, and returns its id ("" if there was none); unlike
// ResolveByDedup, finding none counts nothing. It is for incidents most
// alerts never have (a group's overflow incident): looking costs one read,
// and the resolve uses what it read.
func (s *Service) ResolveIfOpen(ctx context.Context, svc *policy.Service, dedupKey, source, actor string) (string, error) {
	id, _, _, err := s.ResolveIfOpenOrHad(ctx, svc, dedupKey, source, actor, time.Time{}, nil)
	return id, err
}

// ResolveIfOpenOrHad is ResolveIfOpen, and also says whether the service
// has an incident with the dedup key at all, open or resolved, in the
// same read. With keep, it is ResolveByDedupUnless: an open incident keep
// says must stay open is not written, and is returned as kept (with its
// id). received is when the sender's resolve was received
// (policy.Event.Received; zero when not known): received before a firing
// written before it, it resolves nothing (unlessSuperseded; id "").
func (s *Service) ResolveIfOpenOrHad(ctx context.Context, svc *policy.Service, dedupKey, source, actor string, received time.Time, keep func(*store.Incident) bool) (id string, had bool, kept *store.Incident, err error) {
	inc, err := s.o.Store.FindByDedup(ctx, svc.Name, dedupKey)
	if isNotFound(err) {
		return "", false, nil, nil
	}
	if err != nil {
		return "", false, nil, err
	}
	if !inc.Open() {
		return "", true, nil, nil
	}
	if keep == nil {
		id, err = s.actOn(ctx, svc, inc, source, resolveEvent(actor, received), "resolved")
		return id, true, nil, err
	}
	kept, late, err := s.resolveUnless(ctx, inc, actor, received, keep)
	if isResolved(err) {
		return "", true, nil, nil
	}
	if err != nil {
		return "", true, nil, err
	}
	if kept != nil {
		return kept.ID, true, kept, nil
	}
	if late != nil {
		s.resolveSuperseded(ctx, late, resolveEvent(actor, received), source)
		return "", true, nil, nil
	}
	s.m.alerts.WithLabelValues(source, svc.Name, "resolved").Inc()
	return inc.ID, true, nil, nil
}

// ResolveUnlessRepeated resolves the service's incident id, as actor,
// with the entry why just before the resolve's in its timeline, unless it
// was repeated (a firing notification of its alert) more than repeats
// times: checked in the write itself, so a repeat that lands while the
// caller was finding out whether the alert still fires keeps it open. It
// says whether it resolved the incident (not when it was resolved or
// repeated already). Its callers resolve on the word of the alert's
// sender, Alertmanager's API, which they asked before why.At: that stands
// as the resolve's receipt (policy.Event.Received), as a resolved
// notification's does, so that a firing received before it and written
// after it opens nothing (superseded).
func (s *Service) ResolveUnlessRepeated(ctx context.Context, svc *policy.Service, id string, repeats int, actor string, why store.Entry) (bool, error) {
	return s.ResolveUnless(ctx, svc, id, repeats, actor, why, nil)
}

// ResolveUnless is ResolveUnlessRepeated that also leaves the incident
// open when keep, asked in the write itself about the incident as it is
// then, says so: a change since the caller asked (an acknowledgement that
// silenced its alert) that the answer did not account for.
func (s *Service) ResolveUnless(ctx context.Context, svc *policy.Service, id string, repeats int, actor string, why store.Entry, keep func(*store.Incident) bool) (bool, error) {
	return s.resolveUnlessRepeated(ctx, svc, id, repeats, resolveEvent(actor, why.At), why, keep, false)
}

// resolveUnlessRepeated is ResolveUnless of ev, a resolve, which may say
// when its sender's resolve was received (policy.Event.Received). sender
// says the sender sent it (a resolved notification's sweep): received
// before a firing written before it, it resolves nothing
// (unlessSuperseded). pagerd's own, on the word of Alertmanager's API
// (ResolveUnless), is not: Alertmanager said no alert of it fires when
// pagerd asked, whatever a firing received before the question says.
func (s *Service) resolveUnlessRepeated(ctx context.Context, svc *policy.Service, id string, repeats int, ev policy.Event, why store.Entry,
	keep func(*store.Incident) bool, sender bool) (bool, error) {
	g := func(inc *store.Incident) ([]store.Entry, bool, error) {
		if inc.Service != svc.Name || !inc.Open() || inc.Repeats > repeats || keep != nil && keep(inc) {
			return nil, false, nil
		}
		// A repeat does not change the version: the store checks that
		// none came since this read, and a conflict reads it again.
		inc.CheckRepeats = true
		return []store.Entry{why}, true, nil
	}
	var late *store.Incident
	if sender {
		g = s.unlessSuperseded(ctx, ev, g, &late)
	}
	_, acts, err := s.applyGuarded(ctx, id, nil, ev, nil, g)
	if isResolved(err) {
		return false, nil
	}
	if err == nil && late != nil {
		s.resolveSuperseded(ctx, late, ev, ev.Actor)
		return false, nil
	}
	if err != nil || len(acts) == 0 {
		return false, err
	}
	s.m.alerts.WithLabelValues(ev.Actor, svc.Name, "resolved").Inc()
	return true, nil
}

// ResolveEachOpen resolves, as actor, each open incident of the service
// that match accepts, with the entry why makes for it just before the
// resolve's in its timeline, unless it was repeated since it was listed
// (a firing notification of its alert that landed meanwhile keeps it
// open), or received before a firing of it written before it
// (unlessSuperseded). It returns the ids it resolved. received is when the
// sender's resolve was received (policy.Event.Received; zero when not
// known).
func (s *Service) ResolveEachOpen(ctx context.Context, svc *policy.Service, match func(*store.Incident) bool, actor string, received time.Time, why func(*store.Incident) store.Entry) ([]string, error) {
	var found []*store.Incident
	err := store.EachOpen(ctx, s.o.Store, svc.Name, func(inc *store.Incident) error {
		if match(inc) {
			found = append(found, inc)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, inc := range found {
		resolved, err := s.resolveUnlessRepeated(ctx, svc, inc.ID, inc.Repeats, resolveEvent(actor, received), why(inc), nil, true)
		if err != nil {
			return ids, err
		}
		if resolved {
			ids = append(ids, inc.ID)
		}
	}
	return ids, nil
}

// NoteEachOpen appends e to the timeline of each open incident of the
// service that match accepts, in few round trips (store.Store.Note,
// which leaves the incidents' versions as they are), and returns their
// ids. It reads every open incident of the service: it is for what
// happens rarely (a group's resolve withheld with no incident to hold
// it, which its open incidents record instead).
func (s *Service) NoteEachOpen(ctx context.Context, svc *policy.Service, match func(*store.Incident) bool, e store.Entry) ([]string, error) {
	var ids []string
	entries := map[string][]store.Entry{}
	err := store.EachOpen(ctx, s.o.Store, svc.Name, func(inc *store.Incident) error {
		if match(inc) {
			ids = append(ids, inc.ID)
			entries[inc.ID] = []store.Entry{e}
		}
		return nil
	})
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	if err := s.o.Store.Note(ctx, entries); err != nil {
		return nil, err
	}
	return ids, nil
}
