// Package amresolve finds out whether an alert group whose resolve pagerd
// withheld is really over. Alertmanager's webhook notifier cuts a
// notification to the receiver's max_alerts before it computes its status,
// so a "resolved" notification that left alerts out (truncatedAlerts) may
// belong to a group whose left-out alerts still fire, and pagerd withholds
// it (ingest.AlertGroup.ResolveUnsure). When the whole group does resolve,
// that same kind of notification is the last Alertmanager sends: without
// asking, the incident would stay open, and page, forever.
//
// So a withheld resolve of a service that names its Alertmanager
// (policy.Service.AlertmanagerAPI) stores a job (kind JobKind, keyed by the
// incident) that the dispatchers do: it asks Alertmanager's API v2 whether
// any alert of the group still fires, resolves the incident when none
// does, and asks again every RecheckEvery while some do or Alertmanager
// cannot be reached. Being a store job, it survives restarts and is done
// once across replicas. A firing notification of the group since the
// withheld resolve (a repeat of the incident) ends the job: Alertmanager
// tells pagerd again when the group changes.
//
// An acknowledgement that silences its incident's alerts in Alertmanager
// (silence_on_acknowledge) starts the same check (Checker.Acknowledged,
// keyed apart): Alertmanager mutes the silenced alerts' resolved
// notification too. It lasts while the incident stays acknowledged,
// firing notifications or not, and counts silenced alerts as firing.
//
// A resolve that does not cover an alert the firing notification before it
// recorded (ingest.Ended.Uncovered: of two Alertmanagers in a cluster, the
// other one's older notification, or a retry) is withheld too, and
// checked the same way (Checker.Stale, keyed apart), counting only the
// alerts that would page: silenced ones Alertmanager leaves out of its
// notifications, and judges the group resolved without them.
//
// In fingerprint mode (incident_key: fingerprint), an alert that opened
// its incident and was then pushed out of the first max_alerts of its group's notifications is never reported
// resolved. So a cut notification of such a group stores another job
// (kind JobKindGroup, keyed by the service and group), which resolves each
// open incident of the group whose alert Alertmanager no longer lists.
// The group's last resolve stores one too (Checker.Resolved, keyed apart)
// for the incidents of alerts it does not name, which it cannot tell from
// alerts that fired again after the group resolved.
//
// A reload of Alertmanager that changes a route or group_by drops the
// old groups without a resolved notification. So each Alertmanager the
// services name has its config watched (kind JobKindConfig, RunConfig),
// and after a change the open incidents of groups it no longer has are
// resolved.
//
// Alertmanager keeps alerts in memory only: just after it starts it lists
// none until Prometheus sends them again, while its notification log,
// which it keeps on disk, holds back the firing notification that would
// say they still fire for a repeat_interval. So its word that an alert no
// longer fires is taken only from an Alertmanager that started at least
// StartMargin ago.
package amresolve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// JobKind is the kind of the store jobs that check withheld resolves.
const JobKind = "am_resolve"

// RecheckEvery is how often a withheld resolve is checked again while
// its group still fires or Alertmanager cannot be reached.
const RecheckEvery = time.Minute

// StartMargin is how long an Alertmanager must have run before pagerd
// believes that an alert it does not list no longer fires. Prometheus
// sends every firing alert again at each rule evaluation once
// --rules.alert.resend-delay (1m by default) has passed since the last
// send, so within a few minutes of a start Alertmanager knows them all
// again; before that, an alert it has not heard of yet may well fire.
const StartMargin = 5 * time.Minute

// Timeline entry types the job writes.
const (
	// EntryConfirmed comes just before the resolve it explains.
	EntryConfirmed = "resolve_confirmed"
	// EntryStillFiring is written when Alertmanager first says the group
	// still fires.
	EntryStillFiring = "resolve_still_firing"
	// EntryUnconfirmed is written when Alertmanager first cannot be asked.
	EntryUnconfirmed = "resolve_unconfirmed"
	// EntryRecentStart is written when Alertmanager first says no alert
	// of the group fires but started less than StartMargin ago.
	EntryRecentStart = "resolve_alertmanager_restarted"
)

// Alerts is what the job asks Alertmanager (dispatch.AlertmanagerSilencer
// answers it).
type Alerts interface {
	// Firing counts the unresolved alerts at the Alertmanager at base
	// that route to receiver and carry all of group's labels.
	Firing(ctx context.Context, base, receiver string, group map[string]string) (int, error)
	// Fingerprints lists the fingerprints of the alerts Firing counts.
	Fingerprints(ctx context.Context, base, receiver string, group map[string]string) ([]string, error)
	// Active counts those of them that are neither silenced nor
	// inhibited: the ones that would page.
	Active(ctx context.Context, base, receiver string, group map[string]string) (int, error)
	// ActiveFingerprints lists the fingerprints of the alerts Active
	// counts.
	ActiveFingerprints(ctx context.Context, base, receiver string, group map[string]string) ([]string, error)
	// FingerprintsByState lists both, from one question.
	FingerprintsByState(ctx context.Context, base, receiver string, group map[string]string) (all, active []string, err error)
	// Started is when the Alertmanager at base started.
	Started(ctx context.Context, base string) (time.Time, error)
}

// Options configure a Checker.
type Options struct {
	Store store.Store
	// Config is the config in force (it changes on reload).
	Config    func() *policy.Config
	Incidents *incident.Service
	Alerts    Alerts
	// Groups, when set, is what the watch of Alertmanager's config asks
	// (RunConfig); without it nothing is watched.
	Groups AlertGroups
	// GroupsGone counts the incidents that watch resolved, by service
	// (NewGroupsGoneCounter), when set.
	GroupsGone *prometheus.CounterVec
	Logger     *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Wake, when set, is called after a job is stored due now, so a
	// dispatcher does it at once rather than at its next look.
	Wake func()
}

// Checker stores and does the jobs that check withheld resolves.
type Checker struct{ o Options }

// New makes a Checker.
func New(o Options) *Checker {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Checker{o: o}
}

// Group is the alert group a withheld resolve was about, as its
// notification named it.
type Group struct {
	Receiver string            `json:"receiver"`
	Labels   map[string]string `json:"labels,omitempty"`
}

// jobData is what a job carries.
type jobData struct {
	Service  string `json:"service"`
	Incident string `json:"incident"`
	Group
	// Repeats is the incident's repeat count at the withheld resolve: a
	// higher one means a firing notification came since.
	Repeats int `json:"repeats"`
	// Last is the previous check's outcome (EntryStillFiring or
	// EntryUnconfirmed), so the timeline says each change once, not
	// every minute.
	Last string `json:"last,omitempty"`
	// Acknowledged marks the check an acknowledgement that silenced the
	// incident's alerts started (Checker.Acknowledged): it lasts while
	// the incident stays acknowledged, firing notifications or not.
	Acknowledged bool `json:"acknowledged,omitempty"`
	// Fingerprint, for the check of one alert (fingerprint mode), is
	// the alert's fingerprint as its dedup key carries it: only an alert
	// listed with it counts as firing.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Stale marks the check of a resolve pagerd withheld as older than
	// the firing notification before it (Checker.Stale): only alerts
	// that would page (neither silenced nor inhibited) count as firing,
	// since Alertmanager leaves the others out of its notifications and
	// judges a group resolved without them.
	Stale bool `json:"stale,omitempty"`
	// Received is when pagerd received the resolved notification whose
	// resolve was withheld (on the clock the replicas share; zero when
	// not known): a repeat since by a firing received no later than it
	// is no firing since (repeatedBefore).
	Received time.Time `json:"received,omitzero"`
}

// wanted reports whether the incident, as just read, still needs the
// check: a withheld resolve's until the incident is resolved or its group
// fires again, an acknowledgement's while it stays acknowledged. Repeats
// by firings received no later than the withheld resolve (repeatedBefore)
// are taken as the check's own (d.Repeats is raised to them).
func (d *jobData) wanted(inc *store.Incident, skew time.Duration) bool {
	if d.Acknowledged {
		return inc.State.Status == policy.StatusAcknowledged
	}
	if !inc.Open() {
		return false
	}
	if inc.Repeats > d.Repeats {
		if !repeatedBefore(inc, d.Received, skew) {
			return false
		}
		d.Repeats = inc.Repeats
	}
	return true
}

// repeatedBefore reports whether every firing inc took was received no
// later than received, a resolve's receipt (by the shared clock's skew):
// received known, its latest firing's receipt
// (store.Incident.LastReceived) is not after it; receipts unknown
// (pagerd's own repeats on Alertmanager's word, which the checks ask
// again) are not after it. The checks a resolve leaves end at a repeat, taken as
// the group firing since: Alertmanager tells pagerd again when it
// changes. But a repeat whose write landed after the resolve's, of a
// firing received before it (the check of the alerts a firing
// notification left out, run after its answer, which the sender followed
// with the group's resolve at once), is no firing since, and ended, the
// check left the incident paging for good (the fingerprint soak, seeds
// 900697799 and 478973041).
func repeatedBefore(inc *store.Incident, received time.Time, skew time.Duration) bool {
	return !received.IsZero() && !inc.LastReceived.After(received.Add(skew))
}

// what names the check in logs.
func (d *jobData) what() string {
	if d.Acknowledged {
		return "acknowledged incident with silenced alerts"
	}
	if d.Stale {
		return "stale resolve"
	}
	return "withheld resolve"
}

// Withheld stores the check of incident id, whose resolve was just
// withheld, due now; it replaces one stored for an earlier withheld
// resolve. received is when pagerd received the resolve (zero when not
// known, or pagerd's own). It does nothing for a service that names no
// Alertmanager, and says whether it stored one.
func (c *Checker) Withheld(ctx context.Context, svc *policy.Service, id string, g Group, received time.Time) (bool, error) {
	if c == nil || svc.AlertmanagerAPI() == "" {
		return false, nil
	}
	inc, err := c.o.Store.Get(ctx, id)
	if err != nil {
		return false, err
	}
	if err := c.putNow(ctx, JobKind, id, jobData{Service: svc.Name, Incident: id, Group: g, Repeats: inc.Repeats, Received: received}); err != nil {
		return false, fmt.Errorf("store the check of the withheld resolve: %w", err)
	}
	return true, nil
}

// putNow stores a job carrying data due now, replacing the one of the
// same kind and key, and wakes a dispatcher to do it.
func (c *Checker) putNow(ctx context.Context, kind, key string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	if err := c.o.Store.PutJob(ctx, store.Job{Kind: kind, Key: key, Due: c.o.Now(), Data: b}); err != nil {
		return err
	}
	if c.o.Wake != nil {
		c.o.Wake()
	}
	return nil
}

// Run is the job's handler (a dispatch.JobHandler).
func (c *Checker) Run(ctx context.Context, j *store.Job) (*store.Job, error) {
	var d jobData
	if err := json.Unmarshal(j.Data, &d); err != nil {
		c.o.Logger.Error("withheld resolve: a check job that does not decode is dropped", "job", j.Key, "err", err)
		return nil, nil
	}
	inc, err := c.o.Store.Get(ctx, d.Incident)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !d.wanted(inc, incident.ReceivedSkew(c.o.Config())) {
		c.o.Logger.Info(d.what()+": no longer checked, the incident is resolved or acknowledged, or a firing notification of the group repeated it since",
			"incident", d.Incident, "service", d.Service, "repeats", inc.Repeats, "at_check", d.Repeats)
		return nil, nil // resolved, re-opened, or the group fired again since
	}
	// A withheld resolve is refused after a repeat since it was withheld;
	// an acknowledgement's check, after one since this read.
	repeats := d.Repeats
	if d.Acknowledged {
		repeats = inc.Repeats
	}
	svc := c.o.Config().Service(d.Service)
	if svc == nil || svc.AlertmanagerAPI() == "" {
		c.o.Logger.Warn(d.what()+": no longer checked, the config names no Alertmanager for the service", "incident", d.Incident, "service", d.Service)
		return nil, nil
	}
	base := svc.AlertmanagerAPI()
	n, err := c.firing(ctx, base, &d)
	shown := policy.ShownURL(base) // timelines and logs never show a password
	now := c.o.Now()
	next := func(outcome, detail string) (*store.Job, error) {
		if outcome != d.Last {
			if err := c.o.Incidents.Note(ctx, d.Incident, store.Entry{At: now.UTC().Truncate(time.Millisecond), Type: outcome, Actor: "pagerd", Detail: detail}); err != nil {
				return nil, err
			}
			d.Last = outcome
		}
		b, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		return &store.Job{Kind: JobKind, Key: j.Key, Due: now.Add(RecheckEvery), Data: b}, nil
	}
	// A WARN when the outcome changes, as the timeline says it once (an
	// acknowledged incident may be checked every minute for days), and
	// INFO while it lasts, as RunGroup logs its repeats: still visible.
	warn := func(outcome, msg string, args ...any) {
		level := slog.LevelWarn
		if outcome == d.Last {
			level = slog.LevelInfo
		}
		c.o.Logger.Log(ctx, level, msg, args...)
	}
	if err != nil {
		warn(EntryUnconfirmed, d.what()+": Alertmanager could not be asked whether the group still fires; the incident stays open and is asked about again",
			"incident", d.Incident, "service", d.Service, "alertmanager", shown, "retry_in", RecheckEvery, "err", err)
		return next(EntryUnconfirmed, fmt.Sprintf("Alertmanager at %s could not be asked whether the group still fires (%v): the incident stays open; asking again every %s",
			shown, err, RecheckEvery))
	}
	if n > 0 {
		return next(EntryStillFiring, fmt.Sprintf("Alertmanager at %s says %d alert(s) of the group still fire: the incident stays open; asking again every %s until none does",
			shown, n, RecheckEvery))
	}
	if outcome, why := c.distrust(ctx, base, now); outcome != "" {
		warn(outcome, d.what()+": Alertmanager says no alert of the group fires, but that is not trusted yet; the incident stays open and is asked about again",
			"incident", d.Incident, "service", d.Service, "alertmanager", shown, "why", why, "retry_in", RecheckEvery)
		return next(outcome, fmt.Sprintf("Alertmanager at %s says no alert of the group fires, but %s: the incident stays open; asking again every %s",
			shown, why, RecheckEvery))
	}
	why := store.Entry{At: now.UTC().Truncate(time.Millisecond), Type: EntryConfirmed, Actor: "pagerd",
		Detail: fmt.Sprintf("confirmed with Alertmanager at %s: no alert of the group fires any more", shown)}
	if d.Stale {
		why.Detail += " but for silenced or inhibited ones, which Alertmanager does not notify"
	}
	resolved, err := c.o.Incidents.ResolveUnlessRepeated(ctx, svc, d.Incident, repeats, "alertmanager", why)
	if err != nil {
		return nil, err
	}
	if !resolved {
		return nil, nil // resolved by someone else, or fired again, meanwhile
	}
	c.o.Logger.Info(d.what()+": confirmed with Alertmanager that no alert of it fires: incident resolved", "incident", d.Incident, "service", d.Service, "alertmanager", shown)
	return nil, nil
}

// distrust says why the Alertmanager at base, which has just not listed
// an alert, is not believed that the alert no longer fires (outcome
// EntryRecentStart or EntryUnconfirmed), or "" when it is. It is asked
// after the alerts, so a restart between the two questions is seen.
func (c *Checker) distrust(ctx context.Context, base string, now time.Time) (outcome, why string) {
	started, err := c.o.Alerts.Started(ctx, base)
	if err != nil {
		return EntryUnconfirmed, fmt.Sprintf("when it started could not be read (%v), and one that has just started knows only the alerts Prometheus has sent it again since", err)
	}
	up := now.Sub(started)
	if up >= StartMargin {
		return "", ""
	}
	at := started.UTC().Format(time.RFC3339)
	if up < 0 {
		return EntryRecentStart, fmt.Sprintf("it says it started at %s, later than pagerd's clock; pagerd believes it once that is %s ago", at, StartMargin)
	}
	return EntryRecentStart, fmt.Sprintf("it started %s ago (at %s) and knows only the alerts Prometheus has sent it again since; pagerd believes it once it has run %s",
		up.Round(time.Second), at, StartMargin)
}
