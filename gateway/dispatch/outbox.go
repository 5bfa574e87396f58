package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/pagerduty"
	"github.com/pagerd/pagerd/policy"
)

// The outbox: what an incident owes other systems after a change of its
// own (store.OutboxItem), stored by the incident service in the same write
// as the change and done by the dispatcher when due, like a page: telling
// PagerDuty that pagerd acknowledged or resolved what it pushed there, so
// the PagerDuty app stops notifying (it used to be a goroutine's call, lost
// if the process died or PagerDuty was down at that moment), and silencing
// an acknowledged incident's alerts in Alertmanager, expired when it is
// resolved (silence.go).

// outboxGiveUp is how long an outbox item is retried before it is dropped
// (and the drop recorded): PagerDuty's own incident has long since been
// dealt with by then.
const outboxGiveUp = 24 * time.Hour

// outboxBackoff is the wait after the nth failed try: 30s, 1m, 2m, ... up
// to outboxMaxBackoff.
func outboxBackoff(attempts int) time.Duration {
	return min(30*time.Second<<min(attempts-1, 6), outboxMaxBackoff)
}

// outboxRetryWait is the wait after the nth failed try, which failed with
// err: its backoff, or the wait the other system asked for when that is
// longer (RetryAfter), up to outboxMaxBackoff.
func outboxRetryWait(attempts int, err error) time.Duration {
	wait := outboxBackoff(attempts)
	if w := (*outboxWait)(nil); errors.As(err, &w) {
		wait = max(wait, min(w.wait, outboxMaxBackoff))
	}
	return wait
}

// outboxMaxBackoff is the longest wait between two tries of an outbox
// item, a wait the other system asked for (RetryAfter) included.
const outboxMaxBackoff = 30 * time.Minute

// outboxWait is an outbox handler's failure that the other system said
// when to try again after (RetryAfter).
type outboxWait struct {
	wait time.Duration
	err  error
}

func (e *outboxWait) Error() string { return e.err.Error() }
func (e *outboxWait) Unwrap() error { return e.err }

// RetryAfter is an outbox handler's error for an item the other system
// asked to be tried again no sooner than wait from now (Slack's 429 with
// Retry-After): it is retried as any failure is, at the later of its
// backoff and wait, and no later than outboxMaxBackoff from now. Tried
// again sooner it would be refused again, and a handler that gave up on
// a refusal instead would do what it had to ask first (Slack: post an
// incident's card a second time).
func RetryAfter(wait time.Duration, err error) error {
	return &outboxWait{wait: wait, err: err}
}

// runOutbox does the incident's due outbox items and returns the outbox
// to store and the timeline entries that say what happened. tried are the
// items already tried in this claim (a retried write must not do them
// again, nor tell again whom a failed try told); recorded are the entries
// this claim writes besides (an escalation's), which a handler may need to
// read.
func (d *Dispatcher) runOutbox(ctx context.Context, cfg *policy.Config, inc *store.Incident, now time.Time,
	tried map[string]outboxTry, recorded []store.Entry) ([]store.OutboxItem, []store.Entry) {
	var keep []store.OutboxItem
	var entries []store.Entry
	for _, o := range inc.Outbox {
		if o.Due.After(now) {
			keep = append(keep, o)
			continue
		}
		r, ok := tried[o.ID]
		if !ok {
			r = d.tryOutbox(ctx, cfg, inc, o, now, recorded, entries)
			tried[o.ID] = r
		}
		if r.kept != nil {
			keep = append(keep, *r.kept)
		}
		if r.entry.Type != "" {
			entries = append(entries, r.entry)
		}
	}
	return keep, entries
}

// tryOutbox does one due outbox item, says what it came to, for
// pagerd_outbox_items_total once the claim's write records it (counted),
// and logs it: a failure at Warn the first time and at Info at each retry
// after (the count shows it goes on), an item given up or refused for
// good at Error, one dropped at Warn. entries are those the incident's
// items done before it in this claim wrote.
func (d *Dispatcher) tryOutbox(ctx context.Context, cfg *policy.Config, inc *store.Incident, o store.OutboxItem, now time.Time,
	recorded, entries []store.Entry) outboxTry {
	kind := o.Kind
	var e store.Entry
	var err error
	who := "PagerDuty"
	switch h := d.o.Outbox[o.Kind]; {
	case o.Kind == store.OutboxPagerDuty || o.Kind == "":
		kind = store.OutboxPagerDuty // items stored before kinds were
		e, err = d.forward(ctx, cfg, inc, &o, now, recorded)
	case o.Kind == store.OutboxSilence:
		who = "Alertmanager"
		e, err = d.silence(ctx, cfg, inc, o, now, entries)
	case h != nil:
		who = o.Kind
		e, err = h(ctx, inc, o, append(append([]store.Entry(nil), recorded...), entries...))
	default:
		// Owed to something no longer configured (Slack taken out of the
		// config): there is nobody to tell.
		err = &outboxEnd{result: outboxDropped, msg: "outbox item of a kind nothing handles now; dropped",
			err: fmt.Errorf("nothing handles %s items in this config", o.Kind)}
	}
	if err == nil {
		return outboxTry{entry: e, kind: kind, result: outboxDone}
	}
	o.Attempts++
	item := []any{"incident", inc.ID, "kind", kind, "action", o.Action, "attempts", o.Attempts}
	if end := (*outboxEnd)(nil); errors.As(err, &end) {
		level := slog.LevelWarn
		if end.result == outboxRefused {
			level = slog.LevelError
		}
		d.log.Log(ctx, level, end.msg, append(append(item, "err", end.err), end.attrs...)...)
		return outboxTry{entry: e, kind: kind, result: end.result}
	}
	if now.Sub(o.Since) <= outboxGiveUp {
		o.Due = now.Add(outboxRetryWait(o.Attempts, err))
		level := slog.LevelInfo
		if o.Attempts == 1 {
			level = slog.LevelWarn
		}
		d.log.Log(ctx, level, "outbox item not done; will retry", append(item, "retry_at", o.Due, "err", err)...)
		// The entry of a failed try is what it leaves to know (a Slack
		// post that may have gone out), recorded for the tries after it.
		return outboxTry{entry: e, kept: &o, kind: kind, result: outboxRetried}
	}
	if o.Kind == store.OutboxSilence {
		e, msg, attrs := d.silenceGivenUp(ctx, inc, o, now, err)
		d.log.Error(msg, append(append(item, "err", err), attrs...)...)
		return outboxTry{entry: e, kind: kind, result: outboxGivenUp}
	}
	d.log.Error("outbox item given up after a day of failed tries; not done", append(item, "since", o.Since, "err", err)...)
	return outboxTry{kind: kind, result: outboxGivenUp, entry: store.Entry{At: now, Type: "forward_failed",
		Detail: fmt.Sprintf("%s not told of the %s after %d tries: %v; given up%s", who, o.Action, o.Attempts, err, toldBefore(o.Done))}}
}

// What an outbox item came to, as pagerd_outbox_items_total counts it:
// done (nothing left to do, whether there was something or not); retried
// (a try failed and the item is tried again later: counted at each such
// try); given_up (it failed for outboxGiveUp); refused (refused for a
// reason trying again will not change: not retried); dropped (nothing in
// the config does it any more, so nobody is told).
const (
	outboxDone    = "done"
	outboxRetried = "retried"
	outboxGivenUp = "given_up"
	outboxRefused = "refused"
	outboxDropped = "dropped"
)

// outboxResults and outboxKinds are the series of
// pagerd_outbox_items_total reported at 0 from the start.
var (
	outboxResults = []string{outboxDone, outboxRetried, outboxGivenUp, outboxRefused, outboxDropped}
	outboxKinds   = []string{store.OutboxPagerDuty, store.OutboxSilence, store.OutboxSlack, store.OutboxPushover, store.OutboxResolveCheck, store.OutboxTwilio}
)

// outboxEnd ends an outbox item without a retry: refused for good, or
// dropped. The dispatcher counts it under result and logs msg with the
// item, err and attrs (refused at Error, dropped at Warn), once.
type outboxEnd struct {
	result string
	msg    string
	err    error
	attrs  []any
}

func (e *outboxEnd) Error() string { return e.err.Error() }
func (e *outboxEnd) Unwrap() error { return e.err }

// Refused is an outbox handler's error for an item refused for a reason
// trying again will not change (Slack: no such channel, the app not in
// it), returned with the entry that records it: the dispatcher records
// the entry, does not retry the item, counts it refused
// (pagerd_outbox_items_total) and logs msg at Error with the incident, the
// item's kind, action and attempts, err and attrs (more key-value pairs
// that say what was refused), in one line.
func Refused(msg string, err error, attrs ...any) error {
	return &outboxEnd{result: outboxRefused, msg: msg, err: err, attrs: attrs}
}

// toldBefore names, for an item given up, the people earlier tries did
// tell ("<incident or bundle>/<user>" in Done), so that the entry does not
// read as if nobody was.
func toldBefore(done []string) string {
	if len(done) == 0 {
		return ""
	}
	users := make([]string, 0, len(done))
	for _, k := range done {
		users = appendOnce(users, k[strings.LastIndex(k, "/")+1:])
	}
	return fmt.Sprintf(" (told or settled before: %s)", strings.Join(users, ", "))
}

// outboxTry is what a claim's try of an outbox item came to: the entry to
// record (none when there is nothing to say) and, when it failed, the item
// as it is kept for a later try.
type outboxTry struct {
	entry store.Entry
	kept  *store.OutboxItem
	// kind and result are what pagerd_outbox_items_total counts of the
	// try, once the claim's write records it (countOutbox): counted at
	// the try, an item whose record the store refused past the claim's
	// retries was tried and counted again by the next claim.
	kind, result string
}

// countOutbox counts the outbox items tried in a claim whose write was
// stored (pagerd_outbox_items_total).
func (d *Dispatcher) countOutbox(tried map[string]outboxTry) {
	for _, r := range tried {
		if r.result != "" {
			d.m.outbox.WithLabelValues(r.kind, r.result).Inc()
		}
	}
}

// forward tells PagerDuty, for every person pagerd pushed this incident to
// through PagerDuty (the timeline says who and how), that it was
// acknowledged or resolved. A page that went out in an alert-storm message
// is PagerDuty's alert for the whole bundle: it is told once none of the
// bundle's incidents needs it any more. Each person told (through every
// PagerDuty contact of theirs on the channels paged, once per routing key) goes into o.Done at
// once: when telling a later one fails, the retry tells only the rest. It
// returns the timeline entry to record (none when nothing was pushed
// there), naming everyone told, by this try or an earlier one. recorded
// are the entries the claim writes besides, which the timeline does not
// hold yet: a page that went to PagerDuty while the incident was being
// acknowledged.
func (d *Dispatcher) forward(ctx context.Context, cfg *policy.Config, inc *store.Incident, o *store.OutboxItem, now time.Time,
	recorded []store.Entry) (store.Entry, error) {
	if d.o.PagerDuty == nil {
		return store.Entry{}, nil
	}
	tl, err := d.o.Store.Timeline(ctx, inc.ID)
	if err != nil {
		return store.Entry{}, err
	}
	tl = append(tl, recorded...)
	stands := ActionStands(o.Action, inc.State.Status)
	seen := map[string]bool{}
	// An alert whose PagerDuty incident was merged into another lives in
	// that one now, and acknowledging it under its key acknowledges that
	// incident, whoever it pages: it is not told of acknowledgements. A
	// resolve resolves that alert alone, and is told. The merge was made
	// in one PagerDuty service: a person paged through two (a push
	// through one, a call from another) has an alert under the key in
	// each, and the other's is told, when the contacts name their
	// services (pagerduty_service); a merge in a service not named, or a
	// contact whose service is not named, keeps the key's alerts from
	// being told in every service (mergedIn).
	// A merge is over once the PagerDuty incident it went into is
	// resolved (MergeOver): the alert was resolved with it, and a page
	// under its key since opened a new PagerDuty incident, which is told.
	mergedAway := map[string][]string{}
	if o.Action == string(notify.Acknowledge) {
		mergedAway = mergedAlerts(tl)
	}
	// One dedup key names the person's alert whatever the channel, so a
	// person whose contacts on two channels go through PagerDuty (a push
	// to one service, a call from another) has an alert open under it in
	// each service the ladder reached: each is told, once per routing
	// key, not only the first channel's, whose service alone stopped
	// notifying them.
	channels := map[string][]string{}
	for _, e := range tl {
		if pagedViaPagerDuty(e) {
			target := inc.ID
			if e.Bundle != "" {
				target = e.Bundle
			}
			k, _ := pagedKey(e, target)
			channels[k] = appendOnce(channels[k], e.Channel)
		}
	}
	// A merge in a service that none of the key's contacts names, where
	// each names theirs: one of them is misnamed (mergedIn tells none).
	for key, services := range mergedAway {
		_, user, _, _ := pagerduty.ParseDedupKey(key)
		keyed := keyedContacts(cfg.User(user), channels[key])
		for _, s := range services {
			if s != "" && misnamed(keyed, s) && len(keyed) > 0 {
				d.log.Warn("dispatcher: a PagerDuty merge was made in a service none of the person's contacts via pagerduty names (pagerduty_service): one is misnamed, and none of their PagerDuty alerts under the key is told of the acknowledgement; fix pagerduty_service",
					"incident", inc.ID, "user", user, "merged_in_service", s)
			}
		}
	}
	var told, lost, refused, refusedUsers []string
	for _, e := range tl {
		target := inc.ID
		if e.Bundle != "" {
			target = e.Bundle
		}
		if !pagedViaPagerDuty(e) {
			continue
		}
		dedupKey, reopened := pagedKey(e, target)
		// keyed: the contacts the key's alerts went through, asked only
		// of a key merged away.
		var keyed []policy.Contact
		if merges := mergedAway[dedupKey]; merges != nil {
			keyed = keyedContacts(cfg.User(e.User), channels[dedupKey])
			if !slices.ContainsFunc(keyed, func(c policy.Contact) bool { return !mergedIn(merges, c, keyed) }) {
				continue
			}
		}
		if !stands && e.Bundle == "" && reopened >= inc.State.Reopened {
			// The incident was paged again since the acknowledgement
			// (reopened, by an escalation, a worse repeat, a rule):
			// told of it, PagerDuty stopped notifying the person of
			// the incident as it is now, and its webhook acknowledged
			// it in pagerd.
			continue
		}
		key := target + "/" + e.User
		if reopened > 0 {
			key = fmt.Sprintf("%s#%d/%s", target, reopened, e.User)
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		if slices.Contains(o.Done, key) {
			told = appendOnce(told, e.User) // by an earlier try
			continue
		}
		if e.Bundle != "" {
			settled, err := bundleSettled(ctx, d.o.Store, e.Bundle, o.Action)
			if err != nil {
				return store.Entry{}, err
			}
			if !settled {
				continue
			}
		}
		found, refusedBy := false, ""
		if u := cfg.User(e.User); u != nil {
			routed := map[string]bool{}
			for _, c := range u.Contacts {
				if c.Via == "pagerduty" && slices.Contains(channels[dedupKey], c.Channel) && !routed[c.Address] && !mergedIn(mergedAway[dedupKey], c, keyed) {
					routed[c.Address] = true
					err := d.o.PagerDuty.Forward(ctx, c.Address, dedupKey, o.Action)
					switch {
					case err == nil:
						found = true
					case notify.IsTemporary(err) || ctx.Err() != nil:
						return store.Entry{}, err
					default:
						// PagerDuty refuses it for good (a 400):
						// retrying for a day would change nothing.
						refusedBy = err.Error()
					}
				}
			}
		}
		if refusedBy != "" {
			refused = append(refused, fmt.Sprintf("%s (%s)", e.User, refusedBy))
			refusedUsers = append(refusedUsers, e.User)
		}
		if found || refusedBy != "" {
			o.Done = append(slices.Clip(o.Done), key)
		}
		if found {
			told = appendOnce(told, e.User)
		} else if refusedBy == "" {
			// The routing key is the contact's address, kept only in
			// the config: a reload that took the contact away leaves
			// nothing to tell PagerDuty with. Say so, for whoever
			// closes PagerDuty's incident by hand.
			lost = appendOnce(lost, e.User)
		}
	}
	var parts []string
	if len(told) > 0 {
		parts = append(parts, fmt.Sprintf("PagerDuty told of the %s, for %s", o.Action, strings.Join(told, ", ")))
	}
	if len(lost) > 0 {
		parts = append(parts, fmt.Sprintf("PagerDuty not told of the %s for %s: no PagerDuty contact on the channel paged in the config now (its routing key went with it)",
			o.Action, strings.Join(lost, ", ")))
	}
	if len(refused) > 0 {
		parts = append(parts, fmt.Sprintf("PagerDuty refused the %s for %s; not retried: close PagerDuty's incident by hand",
			o.Action, strings.Join(refused, ", ")))
	}
	var entry store.Entry
	switch {
	case len(parts) == 0:
		return store.Entry{}, nil
	case len(told) == 0:
		entry = store.Entry{At: now, Type: "forward_failed", Detail: parts[0]}
	default:
		entry = store.Entry{At: now, Type: "forwarded", Detail: strings.Join(parts, "; ")}
	}
	const lostMsg = "PagerDuty not told: the contact the page went through is no longer in the config"
	lostErr := fmt.Errorf("no PagerDuty contact on the channel paged in the config for %s", strings.Join(lost, ", "))
	switch {
	case len(refused) > 0:
		if len(lost) > 0 {
			d.log.Warn(lostMsg, "incident", inc.ID, "action", o.Action, "users", lost, "err", lostErr)
		}
		return entry, Refused("PagerDuty refused to be told; not retried: close PagerDuty's incident by hand",
			errors.New(strings.Join(refused, "; ")), "users", refusedUsers)
	case len(lost) > 0:
		return entry, &outboxEnd{result: outboxDropped, msg: lostMsg, err: lostErr, attrs: []any{"users", lost}}
	}
	return entry, nil
}

// mergedAlerts are the dedup keys of the alerts whose PagerDuty incident
// the timeline says was merged into another (MergedNote), each with the
// PagerDuty services of its merges (mergedIn), but for the merges it
// says are over (MergeOverNote, naming the incident the merge went into),
// wherever the note is: PagerDuty merges nothing into a resolved
// incident, so the note that its merge is over can come before the
// merge's own only by how the webhooks were stored (the merge's note
// refused, and written when PagerDuty delivers the webhook again, after
// the merge over was noted), and the merge is over all the same.
func mergedAlerts(tl []store.Entry) map[string][]string {
	type merge struct{ service, into string }
	merges := map[string][]merge{}
	over := map[[2]string]bool{}
	for _, e := range tl {
		if e.Type != "resolve_ignored" {
			continue
		}
		if key, service, ok := pagerduty.MergedAlert(e.Detail); ok {
			merges[key] = append(merges[key], merge{service, pagerduty.MergedInto(e.Detail)})
		} else if key, into, ok := pagerduty.MergeOver(e.Detail); ok {
			over[[2]string{key, into}] = true
		}
	}
	for key := range merges {
		merges[key] = slices.DeleteFunc(merges[key], func(m merge) bool { return m.into != "" && over[[2]string{key, m.into}] })
	}
	out := map[string][]string{}
	for key, ms := range merges {
		for _, m := range ms {
			out[key] = append(out[key], m.service)
		}
	}
	return out
}

// mergedIn reports whether the alert under a key whose merges in PagerDuty
// were made in services (a service's id, "" for one not named) lives in
// another PagerDuty incident in the service of contact c, so that telling
// it of an acknowledgement through c would acknowledge that incident: a
// merge in a service not named may have been in c's, and a contact whose
// service is not named may be the one merged. So may any contact when the
// merge's service is named by none of keyed, the contacts the key's
// alerts went through: the key went only to their services, so one of
// them is misnamed (a typo in pagerduty_service passes the check of its
// form), and told, the misnamed one acknowledged the PagerDuty incident
// the alert was merged into, someone else's outage. When one of keyed
// names no service, the merge may be in its: that one is merged, and
// the others, named, are told (misnamed).
func mergedIn(services []string, c policy.Contact, keyed []policy.Contact) bool {
	for _, s := range services {
		if s == "" || c.PagerDutyService == "" || s == c.PagerDutyService || misnamed(keyed, s) {
			return true
		}
	}
	return false
}

// misnamed reports whether a merge in the PagerDuty service id says one
// of contacts (those an alert under one key went through) names the wrong
// service: none names id, and each names one. One that names none may be
// in id, which explains the merge: taken for a misname, it kept the
// named contacts' alerts, which nobody merged, from being told of the
// acknowledgement, and their PagerDuty incidents went on paging.
func misnamed(contacts []policy.Contact, id string) bool {
	return !namesService(contacts, id) && !slices.ContainsFunc(contacts, func(c policy.Contact) bool { return c.PagerDutyService == "" })
}

// namesService reports whether one of contacts names the PagerDuty
// service id.
func namesService(contacts []policy.Contact, id string) bool {
	return slices.ContainsFunc(contacts, func(c policy.Contact) bool { return c.PagerDutyService == id })
}

// keyedContacts are u's contacts via PagerDuty on channels, those an
// alert under one dedup key went through.
func keyedContacts(u *policy.User, channels []string) []policy.Contact {
	var out []policy.Contact
	if u == nil {
		return nil
	}
	for _, c := range u.Contacts {
		if c.Via == "pagerduty" && slices.Contains(channels, c.Channel) {
			out = append(out, c)
		}
	}
	return out
}

// appendOnce appends user unless the list names them already (told under
// two keys, before and after a reopen, a person is named once).
func appendOnce(users []string, user string) []string {
	if slices.Contains(users, user) {
		return users
	}
	return append(users, user)
}

// dedupKeyMark comes before the dedup key in the timeline entry of a page
// that went to PagerDuty under a key of its own since a reopen.
const dedupKeyMark = ", dedup key "

// pagedKey is the dedup key a page to PagerDuty went under (target is the
// incident or the storm bundle), and the incident's reopen count in it.
// Pages sent before any reopen, and before pagerd recorded keys, name
// none: theirs is the key of the incident and the person alone.
func pagedKey(e store.Entry, target string) (string, int) {
	if _, after, ok := strings.Cut(e.Detail, dedupKeyMark); ok {
		key, _, _ := strings.Cut(after, " ")
		if inc, user, n, ok := pagerduty.ParseDedupKey(key); ok && inc == target && user == e.User {
			return key, n
		}
	}
	return pagerduty.DedupKey(target, e.User, 0), 0
}

// ActionStands reports whether an acknowledgement or resolve an outbox
// item tells other systems of still holds for the incident's status: an
// acknowledged incident paged again since (reopened, or its
// acknowledgement ran out) is triggered, and what it pages now must not
// be stopped by the news of the old acknowledgement.
func ActionStands(action string, status policy.Status) bool {
	switch action {
	case "acknowledge":
		return status != policy.StatusTriggered
	case "resolve":
		return status == policy.StatusResolved
	}
	return true
}

// pagedViaPagerDuty reports whether the entry records a page that went to
// PagerDuty, on its own or in an alert-storm message, or may have
// (pagerDutyMayHaveTaken): PagerDuty may have an alert open for it,
// notifying the person, and is told of the acknowledgement (an event for
// a key with no open alert it takes and ignores).
func pagedViaPagerDuty(e store.Entry) bool { return incident.PagedVia(e, "pagerduty") }

// toldOfIt reports whether entries record a page that went out, or may have
// (incident.MayHavePaged), or was held for an alert-storm message: its incident is
// no longer one nobody has been told of (store.Incident.NotPaged).
func toldOfIt(entries []store.Entry) bool {
	return slices.ContainsFunc(entries, func(e store.Entry) bool { return e.Type == "notify_held" || incident.MayHavePaged(e) })
}

// pagerDutyMayHaveTaken marks a page to PagerDuty that failed but was not
// refused (a timeout, a 5xx, tried again and failed each time) as one that
// may have been sent: PagerDuty may have taken it, and its trigger, whose
// dedup key folds repeats into one alert, is tried again whatever the
// answer, so only the last try's failure is known.
func pagerDutyMayHaveTaken(via string, err error) error {
	if via == "pagerduty" && notify.IsTemporary(err) {
		return notify.MaybeSent(err)
	}
	return err
}

// toPagerDuty reports whether a claim's entries record a page that went to
// PagerDuty, or one held for an alert-storm message that goes through the
// person's PagerDuty contact (the message is recorded without a write of
// the incident, so the hold is where the incident learns it).
func toPagerDuty(cfg *policy.Config, entries []store.Entry) bool {
	for _, e := range entries {
		if pagedViaPagerDuty(e) || (e.Type == "notify_held" && viaOf(cfg, e.User, e.Channel) == "pagerduty") {
			return true
		}
	}
	return false
}

// viaOf is the transport of a person's contact on a channel in the config
// (the last such contact, as transport picks), or "".
func viaOf(cfg *policy.Config, user, channel string) string {
	via := ""
	if u := cfg.User(user); u != nil {
		for _, c := range u.Contacts {
			if c.Channel == channel {
				via = c.Via
			}
		}
	}
	return via
}

// bundleSettled reports whether none of a bundle's incidents is still
// triggered (for "acknowledge") or open (for "resolve").
func bundleSettled(ctx context.Context, st store.Store, id, action string) (bool, error) {
	b, err := st.GetBundle(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	statuses, err := st.Statuses(ctx, b.Incidents)
	if err != nil {
		return false, err
	}
	for _, s := range statuses {
		if s == policy.StatusTriggered || (action == "resolve" && s == policy.StatusAcknowledged) {
			return false, nil
		}
	}
	return true, nil
}
