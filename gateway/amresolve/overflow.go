package amresolve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/ingest"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// JobKindOverflow is the kind of the store jobs that decide, in
// fingerprint mode, whether the alerts Alertmanager's max_alerts left out
// of a firing notification need the group's overflow incident. The same
// alerts, last in Alertmanager's order, are left out of every
// notification, so one that fires would otherwise never page; but one of
// them may have its own incident open (it opened it while in view, and
// alerts sorted before it pushed it out), and the overflow incident paged
// a second time for it. So Alertmanager is asked which alerts of the
// group are active (neither silenced nor inhibited), and the overflow
// incident opened only for one with no open incident of its own. A
// notification that left nothing out stores one too (OverflowOver, keyed
// apart), which resolves the open overflow incident on the same answer.
const JobKindOverflow = "am_overflow"

// JobKindGroupResolved is the kind of the marks a group's resolved
// notification leaves for the checks of its firing ones (GroupResolved).
// Kept endedKeep, they do nothing when due but go. A kind of their own:
// a replica of a version before them drops them (a kind nothing
// handles), rather than take one for a firing notification's check.
const JobKindGroupResolved = "am_group_resolved"

// Overflow is the group's overflow incident as the notification would
// have opened it: a JobKindOverflow job opens it so.
type Overflow struct {
	DedupKey string `json:"dedup_key"`
	// Route are the labels that route it: the group's common labels,
	// which every alert of it carries.
	Route     map[string]string `json:"route,omitempty"`
	Summary   string            `json:"summary"`
	Details   json.RawMessage   `json:"details,omitempty"`
	Truncated string            `json:"truncated,omitempty"`
	// KeyPrefix is how the dedup keys of the group's alerts begin
	// (ingest.Message.AlertKeyPrefix).
	KeyPrefix string `json:"key_prefix"`
	// InView are the fingerprints (as dedup keys carry them) of the
	// alerts the notification named: those have incidents of their own
	// from it, which may not be stored yet when the check runs.
	InView []string `json:"in_view,omitempty"`
	// Received is when pagerd received the notification the check is of
	// (on the clock the replicas share; zero when not known): a firing
	// one, or for OverflowOver's check the one that left nothing out.
	// Fired are a firing one's alerts' times (ingest.Message.KeyTimes):
	// its check tells by them whether the group's resolved notification
	// received after it (GroupResolved) ended what it said.
	Received time.Time                    `json:"received,omitzero"`
	Fired    map[string]ingest.AlertTimes `json:"fired,omitempty"`
	// ReadAt is the latest the notification may have arrived
	// (incident.WithReadAt; zero when not known): a firing one is judged
	// by it against the group's resolve (endedSince), as its alerts'
	// incidents are (incident.Service.Trigger), since one read just after
	// a stop of its replica may have come after a resolve taken
	// elsewhere meanwhile.
	ReadAt time.Time `json:"read_at,omitzero"`
}

// groupEnded is the mark a resolved notification of a group in
// fingerprint mode leaves for the checks of the group's firing ones
// (GroupResolved).
type groupEnded struct {
	// Received is when pagerd received it, on the clock the replicas
	// share.
	Received time.Time `json:"received"`
	// Ended are its alerts' times (ingest.Message.KeyTimes).
	Ended map[string]ingest.AlertTimes `json:"ended,omitempty"`
	// Cut: Alertmanager (max_alerts) or pagerd (its own limit) left
	// alerts of it out, which may still fire.
	Cut bool `json:"cut,omitempty"`
}

// endedKeep is how long the mark of a group's resolved notification
// (GroupResolved) is kept: far longer than a firing notification's
// check waits for a replica stopped with it, or for a lease's takeover.
const endedKeep = 15 * time.Minute

// overflowJob is what a JobKindOverflow job carries.
type overflowJob struct {
	Service string `json:"service"`
	Group
	Overflow
	// Resolve, for the check of a notification that left nothing out
	// (Checker.OverflowOver), is the open overflow incident it would
	// resolve, and Repeats its repeat count then: a higher one means a
	// firing notification judged it since.
	Resolve string `json:"resolve,omitempty"`
	Repeats int    `json:"repeats,omitempty"`
	// Last is the previous check's outcome when it could not decide, so
	// the timeline says each change once, not every minute.
	Last string `json:"last,omitempty"`
	// Since, for the check of a resolved notification that left alerts
	// out (Checker.LeftOutResolved), is when it came: that check opens
	// the overflow incident only on Alertmanager's answer, and asks
	// again until LeftOutFor after it.
	Since time.Time `json:"since,omitzero"`
	// Unasked marks the check of an overflow incident that a firing
	// notification's check opened, or found open, while Alertmanager
	// could not be asked which alerts fire or was not believed
	// (askAgain): keyed and run as OverflowOver's, it resolves the
	// incident once Alertmanager, believed, lists no active alert of the
	// group without an incident of its own.
	Unasked bool `json:"unasked,omitempty"`
}

// GroupResolved marks, for the checks of the group's firing
// notifications (LeftOutFiring) still to run, that a resolved
// notification of the group was received at received (on the clock the
// replicas share), with its alerts' times ended (ingest.Message.KeyTimes);
// cut says it left alerts out. A firing notification's check runs after
// its answer, and may run after the group's last notification was taken:
// a replica stopped with the firing one, its retry taken elsewhere,
// answers it and the sender sends the group's resolve at once. Opening the
// overflow incident then, while Alertmanager cannot be asked, paged for
// alerts the resolve had ended, and nothing resolved it: Alertmanager
// sends nothing more of the group. It replaces the mark of an earlier
// resolved notification of the group, and does nothing for a service
// that names no Alertmanager (no check is stored) or an unknown receipt.
// It says whether it stored one.
func (c *Checker) GroupResolved(ctx context.Context, svc *policy.Service, overflowKey string, received time.Time,
	ended map[string]ingest.AlertTimes, cut bool) (bool, error) {
	if c == nil || svc.AlertmanagerAPI() == "" || received.IsZero() {
		return false, nil
	}
	b, err := json.Marshal(groupEnded{Received: received, Ended: ended, Cut: cut})
	if err != nil {
		return false, err
	}
	if err := c.o.Store.PutJob(ctx, store.Job{Kind: JobKindGroupResolved, Key: groupJobKey(svc.Name, overflowKey), Due: c.o.Now().Add(endedKeep), Data: b}); err != nil {
		return false, fmt.Errorf("store the mark of the group's resolved notification: %w", err)
	}
	return true, nil
}

// RunGroupResolved is the handler of JobKindGroupResolved jobs (a
// dispatch.JobHandler): due once kept long enough, the mark goes.
func (c *Checker) RunGroupResolved(context.Context, *store.Job) (*store.Job, error) { return nil, nil }

// endedSince reads the mark of the group's resolved notification
// (GroupResolved) for the check d of a firing one, and reports whether
// pagerd received it after the firing one (by more than the shared
// clock's skew, and at a time not ahead of this replica's clock, now),
// and whether it then ended each alert the firing one said fired, with
// none left out: the firing one's alerts, those left out included, had
// all ended when its check runs.
func (c *Checker) endedSince(ctx context.Context, cfg *policy.Config, d *overflowJob, now time.Time) (after, ended bool, err error) {
	if d.Received.IsZero() {
		return false, false, nil
	}
	j, err := c.o.Store.GetJob(ctx, JobKindGroupResolved, groupJobKey(d.Service, d.DedupKey))
	if errors.Is(err, store.ErrNotFound) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	var m groupEnded
	if err := json.Unmarshal(j.Data, &m); err != nil || m.Received.IsZero() {
		return false, false, nil
	}
	skew := incident.ReceivedSkew(cfg)
	received := d.Received
	if d.ReadAt.After(received) {
		received = d.ReadAt
	}
	if !m.Received.After(received.Add(skew)) || m.Received.After(now.Add(skew)) {
		return false, false, nil
	}
	return true, !m.Cut && ingest.EndsEach(m.Ended, d.Fired), nil
}

// OverflowOver stores, due now, the check of the group's open overflow
// incident inc, which a notification of the group that left nothing out
// (no alert over the cap, none unread, none left out by max_alerts) would
// resolve. Such a notification may be older than the firing one that
// left alerts out and opened or repeated the incident (from the other
// Alertmanager of a cluster, or a retry), and nothing in it says so when
// every alert it names still fires: the alerts left out of the newer one
// would then page no more. Alertmanager is asked which alerts of the
// group are active (neither silenced nor inhibited), and the incident
// resolved only when each has an open incident of its own. keyPrefix is
// the message's ingest.Message.AlertKeyPrefix. It replaces the check
// stored for an earlier such notification of the group, does nothing for
// a service that names no Alertmanager (the caller then resolves the
// incident at once), and says whether it stored one. received is when
// pagerd received the notification (zero when not known).
func (c *Checker) OverflowOver(ctx context.Context, svc *policy.Service, g Group, inc *store.Incident, keyPrefix string, received time.Time) (bool, error) {
	if c == nil || svc.AlertmanagerAPI() == "" {
		return false, nil
	}
	d := overflowJob{Service: svc.Name, Group: g, Overflow: Overflow{DedupKey: inc.DedupKey, KeyPrefix: keyPrefix, Received: received},
		Resolve: inc.ID, Repeats: inc.Repeats}
	if err := c.putNow(ctx, JobKindOverflow, groupJobKey(svc.Name, inc.DedupKey)+"/resolve", d); err != nil {
		return false, fmt.Errorf("store the check of the overflow incident's resolve: %w", err)
	}
	return true, nil
}

// ownIncidents are the fingerprints (as dedup keys carry them) of the
// service's alerts with an open incident of their own, and those of
// inView. Of any group: Alertmanager, asked for the group's alerts by
// receiver and group labels, lists with them those of another route to
// the same receiver whose group labels are the same, and an alert routed
// to two groups (`continue`) pages through the incident it has in the
// other. Counted as without one, it kept the overflow incident open for
// as long as it fired, paging.
func (c *Checker) ownIncidents(ctx context.Context, service string, inView []string) (map[string]bool, error) {
	own := map[string]bool{}
	for _, fp := range inView {
		own[fp] = true
	}
	err := store.EachOpen(ctx, c.o.Store, service, func(inc *store.Incident) error {
		if fp, ok := ingest.FingerprintOfAnyKey(inc.DedupKey); ok && inc.Source == "alertmanager" {
			own[fp] = true
		}
		return nil
	})
	return own, err
}

// withoutIncident are the fingerprints of fps (Alertmanager's) not in own.
func withoutIncident(fps []string, own map[string]bool) []string {
	var uncovered []string
	for _, fp := range fps {
		if fp = ingest.CapFingerprint(fp); !own[fp] {
			uncovered = append(uncovered, fp)
		}
	}
	return uncovered
}

// LeftOutFiring stores, due now, the check of the alerts a firing
// notification of a group in fingerprint mode left out (max_alerts),
// replacing the one stored for an earlier notification of the group. It
// does nothing for a service that names no Alertmanager (the caller then
// opens the overflow incident at once), and says whether it stored one.
//
// A check still to run of a firing notification received after this one
// (Overflow.Received) is kept: a replica stalled with this one, while the
// group resolved and fired again, wrote it late. Its check reads the
// group's resolve, received after it, as ending what it named and opens
// nothing, while the newer notification's alerts left out fire
// (GroupResolved): in its place, they paged nobody.
func (c *Checker) LeftOutFiring(ctx context.Context, svc *policy.Service, g Group, o Overflow) (bool, error) {
	if c == nil || svc.AlertmanagerAPI() == "" {
		return false, nil
	}
	key := groupJobKey(svc.Name, o.DedupKey)
	b, err := json.Marshal(overflowJob{Service: svc.Name, Group: g, Overflow: o})
	if err != nil {
		return false, err
	}
	j := store.Job{Kind: JobKindOverflow, Key: key, Due: c.o.Now(), Data: b}
	stored := false
	// Read, then written only if unchanged since (AddJob, ReplaceJob): a
	// newer check stored in between is not replaced. One being worked
	// (claimed) is replaced as before, after a few tries: its run goes
	// on, and this check runs after it.
	for range 3 {
		cur, err := c.o.Store.GetJob(ctx, JobKindOverflow, key)
		if errors.Is(err, store.ErrNotFound) {
			if stored, err = c.o.Store.AddJob(ctx, j); err != nil {
				return false, fmt.Errorf("store the check of the alerts a firing notification left out: %w", err)
			}
		} else if err != nil {
			return false, fmt.Errorf("read the check of the alerts a firing notification left out: %w", err)
		} else {
			var d overflowJob
			if json.Unmarshal(cur.Data, &d) == nil && !o.Received.IsZero() && d.Received.After(o.Received) {
				c.o.Logger.Info("alerts left out by max_alerts: the check of a firing notification received later is kept",
					"service", svc.Name, "received", o.Received, "kept_received", d.Received)
				return true, nil
			}
			j.Version = cur.Version
			if stored, err = c.o.Store.ReplaceJob(ctx, j); err != nil {
				return false, fmt.Errorf("store the check of the alerts a firing notification left out: %w", err)
			}
		}
		if stored {
			break
		}
	}
	if !stored {
		j.Version = 0
		if err := c.o.Store.PutJob(ctx, j); err != nil {
			return false, fmt.Errorf("store the check of the alerts a firing notification left out: %w", err)
		}
	}
	if c.o.Wake != nil {
		c.o.Wake()
	}
	return true, nil
}

// LeftOutResolved stores, due now, the check of the alerts a resolved
// notification of a group in fingerprint mode left out (max_alerts)
// while the group's overflow incident was not open, replacing the one
// stored for an earlier resolved notification of the group; keyed apart
// from LeftOutFiring's, which it must not replace: a resolve that comes
// after a firing notification (retried, or from the other Alertmanager
// of a cluster) would turn that check, which opens the overflow incident
// while Alertmanager cannot be asked, into one that waits up to
// LeftOutFor and then gives up. Alertmanager judged
// the status on the alerts it kept and counts those it left out as
// notified: one that fires with no open incident of its own (resolved by
// hand, or it joined the group in the same flush) would page nobody
// until the group's next change or its repeat_interval (4 hours by
// default). The check asks Alertmanager which alerts of the group are
// active, as LeftOutFiring's does, and opens the overflow incident only
// for one with no open incident of its own; unlike that one it opens
// nothing while Alertmanager cannot be asked or has just started, and
// asks again every RecheckEvery for LeftOutFor, as Left does: opening
// then would page at the end of every large group. It does nothing for
// a service that names no Alertmanager (nothing can be asked), and says
// whether it stored one.
func (c *Checker) LeftOutResolved(ctx context.Context, svc *policy.Service, g Group, o Overflow) (bool, error) {
	if c == nil || svc.AlertmanagerAPI() == "" {
		return false, nil
	}
	if err := c.putNow(ctx, JobKindOverflow, groupJobKey(svc.Name, o.DedupKey)+"/resolved", overflowJob{Service: svc.Name, Group: g, Overflow: o, Since: c.o.Now()}); err != nil {
		return false, fmt.Errorf("store the check of the alerts a resolved notification left out: %w", err)
	}
	return true, nil
}

// RunOverflow is the handler of JobKindOverflow jobs (a
// dispatch.JobHandler). It asks once. An Alertmanager that cannot be
// asked, or that lists no such alert but started less than StartMargin
// ago, is not believed: the overflow incident is opened as it was before
// the check, at once, since a missed page is worse than a second one, and
// asked about again (askAgain) until Alertmanager, believed, says whether
// the alerts it holds still fire.
// The check of a resolved notification (LeftOutResolved) instead asks
// again then, and opens the overflow incident only when Alertmanager
// lists an active alert with no open incident of its own.
func (c *Checker) RunOverflow(ctx context.Context, j *store.Job) (*store.Job, error) {
	var d overflowJob
	if err := json.Unmarshal(j.Data, &d); err != nil {
		c.o.Logger.Error("alerts left out by max_alerts: a check job that does not decode is dropped", "job", j.Key, "err", err)
		return nil, nil
	}
	cfg := c.o.Config()
	svc := cfg.Service(d.Service)
	if svc == nil {
		return nil, nil
	}
	if d.Resolve != "" {
		return c.runOverflowOver(ctx, j, &d, svc)
	}
	// The incidents are read before Alertmanager is asked, and again
	// when it lists an alert without one: an alert counts as with one if
	// it had one open at either read. Read before only, one opened while
	// Alertmanager was asked (by the alert's own firing notification)
	// counted as none, and the overflow incident paged a second time for
	// it.
	own, err := c.ownIncidents(ctx, d.Service, d.InView)
	if err != nil {
		return nil, err
	}
	// The group's overflow incident, open already, as it was before
	// Alertmanager was asked (a firing notification's check): resolved
	// below when Alertmanager, believed, lists no active alert of the
	// group without an incident of its own, unless a notification
	// repeated it meanwhile.
	var open *store.Incident
	if d.Since.IsZero() {
		if inc, err := c.o.Store.FindByDedup(ctx, d.Service, d.DedupKey); err == nil && inc.Open() {
			open = inc
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	base := svc.AlertmanagerAPI()
	shown := policy.ShownURL(base) // logs and timelines never show a password
	now := c.o.Now()
	var detail string
	var fps []string
	if base == "" {
		err = errors.New("the config names no Alertmanager for the service any more")
	} else {
		fps, err = c.o.Alerts.ActiveFingerprints(ctx, base, d.Receiver, d.Labels)
	}
	uncovered := withoutIncident(fps, own)
	if len(uncovered) > 0 {
		// Read again (above). A read that fails leaves them uncovered: a
		// second page is better than none.
		if again, err := c.ownIncidents(ctx, d.Service, nil); err == nil {
			uncovered = withoutIncident(uncovered, again)
		}
	}
	if !d.Since.IsZero() {
		return c.runLeftOutResolved(ctx, j, &d, cfg, svc, fps, uncovered, err)
	}
	unsure := true // opened without Alertmanager's word that they fire
	switch {
	case err != nil:
		detail = fmt.Sprintf("Alertmanager at %s could not be asked which alerts of the group fire (%v): this incident holds the alerts it left out, which may fire", shown, err)
	case len(uncovered) > 0:
		unsure = false
		detail = fmt.Sprintf("Alertmanager at %s lists %d active alert(s) of the group with no open incident of their own (fingerprints %s)",
			shown, len(uncovered), strings.Join(uncovered[:min(len(uncovered), 5)], ", "))
	default:
		if outcome, why := c.distrust(ctx, base, now); outcome != "" {
			err = errors.New(why)
			detail = fmt.Sprintf("Alertmanager at %s lists no active alert of the group without an incident of its own, but %s: this incident holds the alerts it left out, which may fire", shown, why)
			break
		}
		if open != nil {
			// The alerts it held ended, or have incidents of their
			// own: a notification that leaves alerts out does not
			// resolve it (OverflowOver is a notification's that leaves
			// none out), and Alertmanager sends the group next at its
			// next change or repeat_interval, cut the same way. Left
			// open, it paged its whole ladder for alerts that had
			// ended.
			resolved, err := c.o.Incidents.ResolveUnlessRepeated(ctx, svc, open.ID, open.Repeats, "alertmanager", store.Entry{
				At: now.UTC().Truncate(time.Millisecond), Type: EntryConfirmed, Actor: "pagerd",
				Detail: fmt.Sprintf("confirmed with Alertmanager at %s: each active alert of the group has an incident of its own, "+
					"asked for the alerts a notification of the group left out (max_alerts)", shown)})
			if err == nil && resolved {
				c.o.Logger.Info("overflow incident resolved: Alertmanager lists no active alert of the group without an incident of its own",
					"incident", open.ID, "service", d.Service, "alertmanager", shown)
			}
			return nil, err
		}
		c.o.Logger.Info("alerts left out by max_alerts: each active alert of the group has an incident of its own; no overflow incident opened",
			"service", d.Service, "alertmanager", shown, "active", len(fps))
		return nil, nil
	}
	// watch: the group's resolved notification came after the firing
	// one, and the incident opened here needs a check of its own to be
	// resolved.
	watch := false
	if unsure {
		// Open already, it stays open, not repeated: a repeat ends the
		// checks that resolve it (a withheld resolve's, OverflowOver's),
		// taken as a firing notification since them, and this check
		// may run after the group's last notification stored them (it
		// runs after its firing one's answer, which the sender may
		// follow with the group's resolve at once): the incident paged
		// for good (the fingerprint soak, seed 900697799). Those checks
		// ask Alertmanager, which tells what fires now.
		if inc, ferr := c.o.Store.FindByDedup(ctx, d.Service, d.DedupKey); ferr == nil && inc.Open() {
			c.o.Logger.Info("alerts left out by max_alerts: Alertmanager could not be asked which fire, or is not trusted; the group's overflow incident is open "+
				"already and stays open", "incident", inc.ID, "service", d.Service, "alertmanager", shown, "err", err)
			// Asked again once Alertmanager answers, unless that check
			// is stored already: this may be the retry of a run that
			// opened it and could not store it.
			return nil, c.askAgain(ctx, svc, &d, inc)
		} else if ferr != nil && !errors.Is(ferr, store.ErrNotFound) {
			return nil, ferr
		}
		after, ended, rerr := c.endedSince(ctx, cfg, &d, c.o.Now())
		if rerr != nil {
			return nil, rerr
		}
		if ended {
			c.o.Logger.Warn("alerts left out by max_alerts: the group's resolved notification, received after the firing one, ended its alerts; "+
				"the overflow incident is not opened", "service", d.Service, "alertmanager", shown, "err", err)
			return nil, nil
		}
		watch = after
		c.o.Logger.Warn("alerts left out by max_alerts: Alertmanager could not be asked which fire, or is not trusted; the group's overflow incident is opened",
			"service", d.Service, "alertmanager", shown, "err", err, "resolved_since", after)
		if after {
			detail += "; the group's resolved notification, received after the firing one, may leave them firing (it left alerts out, or did not end each " +
				"alert the firing one named): pagerd asks Alertmanager whether an alert of the group still fires and resolves this incident when none does"
		}
	}
	// Received: opened on the firing notification's word alone, its
	// receipt, which its repeats are judged by (repeatedBefore), and a
	// resolve by. On Alertmanager's word, none: the alerts fire now,
	// whatever resolve landed while it answered (with the firing's
	// receipt, a resolve on Alertmanager's word meanwhile superseded it,
	// and a left-out alert that started since paged at the group's next
	// notification only).
	var received time.Time
	if unsure {
		received = d.Received
	}
	id, created, err := c.openLeftOut(ctx, cfg, incident.Alert{Service: svc, DedupKey: d.DedupKey, Summary: d.Summary, Details: d.Details, Truncated: d.Truncated,
		Received: received}, d.Route, now, detail)
	if err != nil {
		return nil, err
	}
	if !created {
		return nil, nil // opened meanwhile: a repeat pages nobody
	}
	if watch {
		// Nothing else ends it: the group's notifications that would
		// are in.
		if _, err := c.Withheld(ctx, svc, id, d.Group, time.Time{}); err != nil {
			return nil, err
		}
	}
	if unsure && !watch {
		// The group's resolved notification may have come between the
		// read above and the opening (or the replica stopped between
		// them): read again, and what it ended is resolved at once.
		if c.supersededSince(ctx, cfg, svc, &d, id) {
			return nil, nil
		}
		// Opened on the firing notification's word alone, it may hold
		// only alerts that have ended, and the group's last
		// notification may have been taken already, not read as after
		// the firing one (both received at a stopped replica's start,
		// within the shared clock's skew), finding nothing open to
		// resolve: Alertmanager sends nothing more of the group, and the
		// incident paged for good (the groups soak, seed 790625374).
		// Alertmanager is asked again until it answers.
		inc, err := c.o.Store.Get(ctx, id)
		if err != nil {
			return nil, store.PartlyStored(err)
		}
		if err := c.askAgain(ctx, svc, &d, inc); err != nil {
			return nil, store.PartlyStored(err)
		}
	}
	c.o.Logger.Warn("alerts left out by max_alerts fire with no incident of their own: the group's overflow incident opened", "incident", id, "service", d.Service,
		"uncovered", len(uncovered), "alertmanager", shown)
	return nil, nil
}

// askAgain stores, due RecheckEvery from now, the check of the overflow
// incident inc that the check d of a firing notification opened, or found
// open, while Alertmanager could not be asked which alerts of the group
// fire or was not believed (runOverflowOver, Overflow.Unasked). Nothing
// else may end it: the group's resolved notification may have been
// taken before it opened, and Alertmanager sends nothing more of a group
// whose resolve it delivered. It resolves the incident once Alertmanager,
// believed, lists no active alert of the group without an incident of its
// own, and ends, as OverflowOver's does, at a repeat by a firing
// notification received after d's (whose own check then decides). A
// check of inc stored already (OverflowOver's, stored by a notification
// taken meanwhile, or this one) is kept; one of an earlier overflow
// incident of the group is replaced.
func (c *Checker) askAgain(ctx context.Context, svc *policy.Service, d *overflowJob, inc *store.Incident) error {
	if svc.AlertmanagerAPI() == "" {
		return nil // nothing can be asked: open, as without the URL
	}
	key := groupJobKey(svc.Name, inc.DedupKey) + "/resolve"
	cur, err := c.o.Store.GetJob(ctx, JobKindOverflow, key)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("read the check of the overflow incident's resolve: %w", err)
	}
	var o overflowJob
	if err == nil && json.Unmarshal(cur.Data, &o) == nil && o.Resolve == inc.ID {
		return nil
	}
	b, err := json.Marshal(overflowJob{Service: svc.Name, Group: d.Group, Overflow: Overflow{DedupKey: inc.DedupKey, KeyPrefix: d.KeyPrefix, Received: d.Received},
		Resolve: inc.ID, Repeats: inc.Repeats, Unasked: true})
	if err != nil {
		return err
	}
	// Due after RecheckEvery: Alertmanager was just asked.
	if err := c.o.Store.PutJob(ctx, store.Job{Kind: JobKindOverflow, Key: key, Due: c.o.Now().Add(RecheckEvery), Data: b}); err != nil {
		return fmt.Errorf("store the check of the overflow incident opened while Alertmanager could not be asked: %w", err)
	}
	return nil
}

// supersededSince resolves the overflow incident id that the check d of
// a firing notification just opened, not knowing whether the alerts it
// holds fire, when the group's resolved notification, received after the
// firing one, is found to have ended them (endedSince): it was taken
// between the check's read and the opening (the replica stopped between
// them, say), and found nothing open to resolve. It reports whether it
// resolved the incident; on a read that fails, it stays open (a missed
// page is worse than a second one).
func (c *Checker) supersededSince(ctx context.Context, cfg *policy.Config, svc *policy.Service, d *overflowJob, id string) bool {
	now := c.o.Now()
	_, ended, err := c.endedSince(ctx, cfg, d, now)
	if err != nil {
		c.o.Logger.Warn("alerts left out by max_alerts: the group's resolve could not be read again after the overflow incident opened; it stays open",
			"incident", id, "service", d.Service, "err", err)
	}
	if err != nil || !ended {
		return false
	}
	resolved, err := c.o.Incidents.ResolveUnlessRepeated(ctx, svc, id, 0, "alertmanager", store.Entry{At: now.UTC().Truncate(time.Millisecond),
		Type: incident.FiringSuperseded, Actor: "pagerd", Detail: "opened for the alerts a firing notification of the group left out (max_alerts), " +
			"while Alertmanager could not be asked which fire; the group's resolved notification, received after the firing one, ended each of its " +
			"alerts with none left out: resolved"})
	if err != nil {
		c.o.Logger.Warn("alerts left out by max_alerts: the overflow incident, opened as the group resolved, could not be resolved; it stays open",
			"incident", id, "service", d.Service, "err", err)
	}
	if err != nil || !resolved {
		return false
	}
	c.o.Logger.Warn("overflow incident resolved as it opened: the group's resolved notification, received after the firing one, ended its alerts",
		"incident", id, "service", d.Service)
	return true
}

// runLeftOutResolved ends the check LeftOutResolved stored, on
// Alertmanager's answer: fps, those of them with no open incident of
// their own uncovered, or err. One such alert opens the overflow
// incident, whose resolve is then checked as a withheld one is (Withheld),
// as Left's incident's is: Alertmanager counts the alerts it left out as
// notified. While Alertmanager cannot be asked, or lists none but has
// just started, it asks again every RecheckEvery, for LeftOutFor.
func (c *Checker) runLeftOutResolved(ctx context.Context, j *store.Job, d *overflowJob, cfg *policy.Config, svc *policy.Service, fps, uncovered []string, err error) (*store.Job, error) {
	base := svc.AlertmanagerAPI()
	if base == "" {
		c.o.Logger.Warn("alerts left out of a resolved notification: no longer checked, the config names no Alertmanager for the service", "service", d.Service)
		return nil, nil
	}
	shown := policy.ShownURL(base) // logs and timelines never show a password
	now := c.o.Now()
	if err == nil && len(uncovered) == 0 {
		outcome, why := c.distrust(ctx, base, now)
		if outcome == "" {
			c.o.Logger.Info("alerts left out of a resolved notification: each active alert of the group has an incident of its own; nothing opened",
				"service", d.Service, "alertmanager", shown, "active", len(fps))
			return nil, nil
		}
		err = fmt.Errorf("it lists no active alert of the group without an incident of its own, but %s", why)
	}
	if err != nil {
		return c.leftOutAgain(j, "which fire", d.Since, &d.Last, d, err, "service", d.Service, "alertmanager", shown)
	}
	// A firing notification of the group since opened the overflow
	// incident with the alerts' own details: a trigger here would repeat
	// it and put empty ones in their place. Or this check did, and could
	// not store the check of its resolve after (below): it is stored now,
	// since Alertmanager leaves the alerts it cut out of its resolved
	// notifications too, and nothing else would end the incident.
	if inc, err := c.o.Store.FindByDedup(ctx, svc.Name, d.DedupKey); err == nil && inc.Open() {
		if mine, err := c.openedByResolvedCheck(ctx, inc, d.Since); err != nil {
			return nil, err
		} else if mine {
			if _, err := c.Withheld(ctx, svc, inc.ID, d.Group, time.Time{}); err != nil {
				return nil, err
			}
			return nil, nil
		}
		c.o.Logger.Info("alerts left out of a resolved notification: the group's overflow incident is open already; nothing to open", "incident", inc.ID, "service", d.Service)
		return nil, nil
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	detail := fmt.Sprintf(leftOutResolvedDetail+"; asked, "+
		"Alertmanager at %s lists %d active alert(s) of the group with no open incident of their own (fingerprints %s)",
		shown, len(uncovered), strings.Join(uncovered[:min(len(uncovered), 5)], ", "))
	id, created, err := c.openLeftOut(ctx, cfg, incident.Alert{Service: svc, DedupKey: d.DedupKey, Summary: d.Summary, Truncated: d.Truncated}, d.Route, now, detail)
	if err != nil || !created {
		return nil, err // opened meanwhile: a repeat pages nobody
	}
	c.o.Logger.Warn("alerts left out of a resolved notification fire with no incident of their own: the group's overflow incident opened", "incident", id,
		"service", d.Service, "uncovered", len(uncovered), "alertmanager", shown)
	if _, err := c.Withheld(ctx, svc, id, d.Group, time.Time{}); err != nil {
		return nil, err
	}
	return nil, nil
}

// leftOutResolvedDetail begins the left_out_firing entry of an overflow
// incident a resolved notification's check opened (runLeftOutResolved).
const leftOutResolvedDetail = "Alertmanager sent this group as resolved but left alerts out of the notification (max_alerts on its receiver)"

// openedByResolvedCheck reports whether the open overflow incident inc
// was opened by the check of a resolved notification that came at since
// (runLeftOutResolved, retried): opened since, with no left_out_firing
// entry of a firing notification's check (every overflow incident of a
// service that names an Alertmanager is opened by a check, and says why),
// since the entry saying why may be what could not be stored.
func (c *Checker) openedByResolvedCheck(ctx context.Context, inc *store.Incident, since time.Time) (bool, error) {
	if inc.CreatedAt.Before(since) {
		return false, nil
	}
	tl, err := c.o.Store.Timeline(ctx, inc.ID)
	if err != nil {
		return false, err
	}
	for _, e := range tl {
		if e.Type == EntryLeftOutFiring && !strings.HasPrefix(e.Detail, leftOutResolvedDetail) {
			return false, nil
		}
	}
	return true, nil
}

// openLeftOut opens the incident of alerts Alertmanager left out (a: its
// service, dedup key, summary and details), routed on the group's common
// labels, with a left_out_firing entry saying why (detail). created is
// false for an incident open already, repeated: nothing is noted.
func (c *Checker) openLeftOut(ctx context.Context, cfg *policy.Config, a incident.Alert, route map[string]string, now time.Time, detail string) (id string, created bool, err error) {
	a.Source, a.Actor = "alertmanager", "alertmanager"
	a.Labels, a.LabelsIncomplete, a.Titles = []map[string]string{route}, true, []string{""}
	id, outcome, err := c.o.Incidents.Trigger(ctx, cfg, a)
	if err != nil || outcome != store.Created {
		return id, false, err
	}
	e := store.Entry{At: now.UTC().Truncate(time.Millisecond), Type: EntryLeftOutFiring, Actor: "pagerd", Detail: detail}
	if err := c.o.Incidents.Note(ctx, id, e); err != nil {
		return id, true, store.PartlyStored(err)
	}
	return id, true, nil
}

// runOverflowOver does the check OverflowOver (or askAgain) stored. It resolves the
// overflow incident once Alertmanager, believed, lists no active alert of
// the group without an open incident of its own; one listed keeps it open
// (said once, in its timeline) and it is asked again every RecheckEvery
// until none is. While Alertmanager cannot be asked, or
// has just started, the incident stays open and it is asked again every
// RecheckEvery: a missed page is worse than a late resolve.
func (c *Checker) runOverflowOver(ctx context.Context, j *store.Job, d *overflowJob, svc *policy.Service) (*store.Job, error) {
	inc, err := c.o.Store.Get(ctx, d.Resolve)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !inc.Open() {
		return nil, nil
	}
	if inc.Repeats > d.Repeats && repeatedBefore(inc, d.Received, incident.ReceivedSkew(c.o.Config())) {
		d.Repeats = inc.Repeats // of firings received before the notification: still this check's
	}
	if inc.Repeats > d.Repeats {
		// A firing notification judged it since (its own check, or
		// that of the alerts it left out, decides).
		c.o.Logger.Info("overflow incident's resolve: no longer checked, a firing notification of the group repeated it since",
			"incident", d.Resolve, "service", d.Service, "repeats", inc.Repeats, "at_check", d.Repeats)
		return nil, nil
	}
	now := c.o.Now()
	at := now.UTC().Truncate(time.Millisecond)
	base := svc.AlertmanagerAPI()
	if base == "" && d.Unasked {
		// Opened on a firing notification's word, with nothing that
		// says its alerts ended: it stays open, as without the URL.
		c.o.Logger.Warn("overflow incident's resolve: no longer checked, the config names no Alertmanager for the service any more; the incident stays open",
			"incident", d.Resolve, "service", d.Service)
		return nil, nil
	}
	if base == "" {
		// As without the URL: the notification said nothing is left out.
		_, err := c.o.Incidents.ResolveUnlessRepeated(ctx, svc, d.Resolve, d.Repeats, "alertmanager", store.Entry{At: at, Type: EntryConfirmed, Actor: "pagerd",
			Detail: "the config names no Alertmanager for the service any more: resolved, as the group's notification that left no alert out said"})
		return nil, err
	}
	// The incidents are read before Alertmanager is asked: an alert whose
	// incident opens after the read counts as without one, which keeps
	// the overflow incident open, never resolves it under an alert.
	own, err := c.ownIncidents(ctx, d.Service, nil)
	if err != nil {
		return nil, err
	}
	shown := policy.ShownURL(base) // logs and timelines never show a password
	note := func(outcome, detail string) error {
		if outcome == d.Last {
			return nil
		}
		d.Last = outcome
		return c.o.Incidents.Note(ctx, d.Resolve, store.Entry{At: at, Type: outcome, Actor: "pagerd", Detail: detail})
	}
	again := func(outcome, detail string) (*store.Job, error) {
		if outcome != d.Last {
			c.o.Logger.Warn("overflow incident's resolve: Alertmanager's answer is not trusted; the incident stays open and it is asked again",
				"incident", d.Resolve, "service", d.Service, "alertmanager", shown, "why", detail, "retry_in", RecheckEvery)
		}
		if err := note(outcome, detail); err != nil {
			return nil, err
		}
		b, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		return &store.Job{Kind: JobKindOverflow, Key: j.Key, Due: now.Add(RecheckEvery), Data: b}, nil
	}
	fps, err := c.o.Alerts.ActiveFingerprints(ctx, base, d.Receiver, d.Labels)
	if err != nil {
		return again(EntryUnconfirmed, fmt.Sprintf("Alertmanager at %s could not be asked which alerts of the group fire (%v): the incident, which holds the alerts "+
			"left out of the group's notifications, stays open; asking again every %s", shown, err, RecheckEvery))
	}
	if uncovered := withoutIncident(fps, own); len(uncovered) > 0 {
		// Asked again until they end or have incidents of their own:
		// after the group's last resolve, no notification of it comes to
		// ask, and the incident would stay open, paging, for good (an
		// alert of another route to the same receiver with the same
		// group labels is listed with the group's, say).
		if d.Last != EntryStillFiring {
			c.o.Logger.Warn("overflow incident's resolve withheld: Alertmanager lists active alerts of the group with no incident of their own; asked again",
				"incident", d.Resolve, "service", d.Service, "alertmanager", shown, "uncovered", len(uncovered), "retry_in", RecheckEvery)
		}
		fingerprints := strings.Join(uncovered[:min(len(uncovered), 5)], ", ")
		detail := fmt.Sprintf("Alertmanager sent the group with no alert left out, but Alertmanager at %s lists %d active alert(s) of the group "+
			"with no open incident of their own (fingerprints %s): the notification is older than the one that left them out (from another Alertmanager "+
			"of a cluster, or a retry), or they fire again since", shown, len(uncovered), fingerprints)
		if d.Unasked {
			detail = fmt.Sprintf("Alertmanager at %s, asked again (this incident opened while it could not be asked which alerts of the group fire), "+
				"lists %d active alert(s) of the group with no open incident of their own (fingerprints %s)", shown, len(uncovered), fingerprints)
		}
		err := note(EntryStillFiring, detail+fmt.Sprintf(", so the incident that holds them stays open; asked again every %s until each of them "+
			"fires no more or has an incident of its own", RecheckEvery))
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		return &store.Job{Kind: JobKindOverflow, Key: j.Key, Due: now.Add(RecheckEvery), Data: b}, nil
	}
	if outcome, why := c.distrust(ctx, base, now); outcome != "" {
		return again(outcome, fmt.Sprintf("Alertmanager at %s lists no active alert of the group without an incident of its own, but %s: the incident stays open; "+
			"asking again every %s", shown, why, RecheckEvery))
	}
	said := "as the group's notification that left no alert out said"
	if d.Unasked {
		said = "the alerts left out of the group's notifications, which this incident opened for while Alertmanager could not be asked, fire no more"
	}
	resolved, err := c.o.Incidents.ResolveUnlessRepeated(ctx, svc, d.Resolve, d.Repeats, "alertmanager", store.Entry{At: at, Type: EntryConfirmed, Actor: "pagerd",
		Detail: fmt.Sprintf("confirmed with Alertmanager at %s: each active alert of the group has an incident of its own; %s", shown, said)})
	if err == nil && resolved {
		c.o.Logger.Info("overflow incident resolved: Alertmanager lists no active alert of the group without an incident of its own",
			"incident", d.Resolve, "service", d.Service, "alertmanager", shown)
	}
	return nil, err
}
