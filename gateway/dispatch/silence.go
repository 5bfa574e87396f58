package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pagerd/pagerd/gateway/amresolve"
	"github.com/pagerd/pagerd/gateway/ingest"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// Silences: a service with silence_on_acknowledge has the alerts of an
// incident Alertmanager sent silenced there when the incident is
// acknowledged in pagerd, so Alertmanager stops notifying about them
// (anyone else too), and the silences expired when it is resolved or
// re-opened (incident.Reopened). Both
// are outbox items (store.OutboxSilence), done here and retried like
// telling PagerDuty. The silences made are recorded in the timeline
// ("silenced"), and each names the incident in its comment: expiring
// expires those the timeline names and those Alertmanager lists for the
// incident, so a silence whose making was not recorded (one call of
// several failed, or the claim's write did not land) cannot outlive the
// incident and mute the alerts when they fire again. Making them again
// after such a failure reuses the silences Alertmanager lists with the
// same matchers instead of adding duplicates.
//
// Only the alerts the incident's details kept can be silenced: at most
// ingest.MaxDetailAlerts of the group's, with label names and values cut
// to ingest.MaxLabelBytes. The timeline says how many of the group's
// firing alerts were silenced and why the others were not, so nobody takes
// a partly silenced group for a quiet one. A kept alert with a cut value
// is silenced by a regular expression on the kept part of it: the other
// labels still match exactly, and it is the alert the person acknowledged,
// which an equality matcher on the cut value would never match. One with a
// cut label name is not silenced: a matcher needs the whole name.

// Silencer creates and expires Alertmanager silences.
type Silencer interface {
	// Silence silences the alerts the matchers match (all of them) at
	// base (an Alertmanager's URL) until end, and returns the silence's
	// id.
	Silence(ctx context.Context, base string, matchers []Matcher, end time.Time, createdBy, comment string) (string, error)
	// Expire expires a silence; one already gone is not an error.
	Expire(ctx context.Context, base, id string) error
	// Made lists the silences at base, active or pending, that pagerd made
	// for the incident (by the comment silenceComment wrote).
	Made(ctx context.Context, base, incident string) ([]Silence, error)
}

// Silence is a silence pagerd made, as Alertmanager lists it.
type Silence struct {
	ID       string
	Matchers []Matcher
}

// silenceComment is the comment of the silences made for an incident, which
// commentIncident reads back.
func silenceComment(inc *store.Incident) string {
	// No actor holds ": " (policy.Config.ExternalActor writes a name
	// another system gave without it), but one an incident was
	// acknowledged by before that may: such an incident stays
	// acknowledged, its silence item is retried for a day, and an older
	// replica in a rolling upgrade still writes them. Written as it is,
	// "pagerduty:Ops: incident 08-x (a" would name another incident, and
	// Made would never find this one's silences.
	by := strings.ReplaceAll(inc.State.AcknowledgedBy, ": ", ":")
	return fmt.Sprintf("Acknowledged in pagerd by %s: incident %s (%s)", by, inc.ID, inc.Summary)
}

// commentIncident is the incident a silence's comment (silenceComment)
// names, or "". Who acknowledged is written without ": " (silenceComment),
// so the first ": incident " is where the id starts, whatever the summary
// says.
func commentIncident(comment string) string {
	rest, ok := strings.CutPrefix(comment, "Acknowledged in pagerd by ")
	if !ok {
		return ""
	}
	_, rest, ok = strings.Cut(rest, ": incident ")
	if !ok {
		return ""
	}
	id, _, ok := strings.Cut(rest, " (")
	if !ok {
		return ""
	}
	return id
}

// Matcher is one matcher of a silence: the label Name's value equals
// Value, or, with IsRegex, matches it as a regular expression, which
// Alertmanager anchors at both ends.
type Matcher struct {
	Name    string
	Value   string
	IsRegex bool
}

// AlertmanagerSilencer is a Silencer on Alertmanager's API v2.
type AlertmanagerSilencer struct {
	// Client carries the calls (default a client of its own).
	Client *http.Client
	// Timeout bounds each call (default 10s).
	Timeout time.Duration
}

var _ Silencer = (*AlertmanagerSilencer)(nil)

type amMatcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual bool   `json:"isEqual"`
}

type amSilence struct {
	Matchers  []amMatcher `json:"matchers"`
	StartsAt  time.Time   `json:"startsAt"`
	EndsAt    time.Time   `json:"endsAt"`
	CreatedBy string      `json:"createdBy"`
	Comment   string      `json:"comment"`
}

// amGettableSilence is a silence as GET /api/v2/silences lists it.
type amGettableSilence struct {
	ID     string `json:"id"`
	Status struct {
		State string `json:"state"`
	} `json:"status"`
	amSilence
}

// Answers' sizes read: a silence's id, an error; and the list of every
// silence Alertmanager holds (expired ones too, for days), of alerts, or
// its status (which carries its config).
const (
	amAnswerMax = 64 << 10
	amListMax   = 64 << 20
)

func (a *AlertmanagerSilencer) do(ctx context.Context, method, u string, body []byte, limit int64) ([]byte, int, error) {
	c := a.Client
	if c == nil {
		c = &http.Client{}
	}
	to := a.Timeout
	if to <= 0 {
		to = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil && resp.StatusCode == http.StatusOK {
		return nil, 0, err
	}
	return b, resp.StatusCode, nil
}

// Silence posts a silence to /api/v2/silences.
func (a *AlertmanagerSilencer) Silence(ctx context.Context, base string, matchers []Matcher, end time.Time, createdBy, comment string) (string, error) {
	s := amSilence{StartsAt: time.Now().UTC(), EndsAt: end.UTC(), CreatedBy: createdBy, Comment: comment}
	for _, m := range matchers {
		s.Matchers = append(s.Matchers, amMatcher{Name: m.Name, Value: m.Value, IsRegex: m.IsRegex, IsEqual: true})
	}
	body, _ := json.Marshal(s)
	b, code, err := a.do(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/api/v2/silences", body, amAnswerMax)
	if err != nil {
		return "", err
	}
	if code != http.StatusOK {
		return "", fmt.Errorf("alertmanager answered %d: %s", code, bytes.TrimSpace(b))
	}
	var out struct {
		SilenceID string `json:"silenceID"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.SilenceID == "" {
		return "", fmt.Errorf("alertmanager's answer has no silenceID: %s", bytes.TrimSpace(b))
	}
	return out.SilenceID, nil
}

// Expire deletes /api/v2/silence/<id>.
func (a *AlertmanagerSilencer) Expire(ctx context.Context, base, id string) error {
	b, code, err := a.do(ctx, http.MethodDelete, strings.TrimRight(base, "/")+"/api/v2/silence/"+url.PathEscape(id), nil, amAnswerMax)
	if err != nil {
		return err
	}
	// 404: gone already (expired on its own, or by hand).
	if code != http.StatusOK && code != http.StatusNotFound {
		return fmt.Errorf("alertmanager answered %d: %s", code, bytes.TrimSpace(b))
	}
	return nil
}

// Made gets /api/v2/silences and keeps pagerd's active and pending
// silences whose comment names the incident.
func (a *AlertmanagerSilencer) Made(ctx context.Context, base, incident string) ([]Silence, error) {
	b, code, err := a.do(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/api/v2/silences", nil, amListMax+1)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("alertmanager answered %d to the list of silences: %s", code, bytes.TrimSpace(b[:min(len(b), 512)]))
	}
	if len(b) > amListMax {
		return nil, fmt.Errorf("alertmanager's list of silences is larger than %d MiB; not read", amListMax>>20)
	}
	var all []amGettableSilence
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, fmt.Errorf("alertmanager's list of silences: %w", err)
	}
	var out []Silence
	for _, s := range all {
		if s.CreatedBy != "pagerd" || s.Status.State == "expired" || commentIncident(s.Comment) != incident {
			continue
		}
		ms := make([]Matcher, 0, len(s.Matchers))
		for _, m := range s.Matchers {
			ms = append(ms, Matcher{Name: m.Name, Value: m.Value, IsRegex: m.IsRegex})
		}
		out = append(out, Silence{ID: s.ID, Matchers: ms})
	}
	return out, nil
}

// silencedPrefix starts the detail of a "silenced" timeline entry; the ids
// follow, up to the "(".
const silencedPrefix = "Alertmanager silences "

// silence does one silence outbox item: creates a silence per firing alert
// the incident's details kept (planSilences) and records how many of the
// group's that is, or expires every silence the timeline (and entries,
// what this claim did before) says was made and not yet expired, and every
// one Alertmanager lists for the incident.
func (d *Dispatcher) silence(ctx context.Context, cfg *policy.Config, inc *store.Incident, o store.OutboxItem, now time.Time,
	entries []store.Entry) (store.Entry, error) {
	svc := cfg.Service(inc.Service)
	configured := svc != nil && svc.SilenceOnAcknowledge != nil
	// The Alertmanager the item names is the one the acknowledgement
	// silenced at; items stored before they named it use the configured one.
	base := o.URL
	if base == "" {
		if !configured {
			return store.Entry{}, nil
		}
		base = svc.SilenceOnAcknowledge.AlertmanagerURL
	}
	if o.Action == "create" {
		if inc.State.Status != policy.StatusAcknowledged {
			return store.Entry{}, nil // resolved or re-triggered meanwhile
		}
		if !configured || svc.Shadow {
			// A reload took the setting away (or made the service a
			// shadow) before the silences were made: make none. The
			// resolve still expires, at base, any that a try made.
			return store.Entry{}, nil
		}
		plan := planSilences(inc.Details)
		if plan.kept == 0 && plan.firingTotal == 0 {
			return store.Entry{}, nil // nothing fires
		}
		end := now.Add(time.Duration(svc.SilenceOnAcknowledge.Duration))
		ids, err := d.makeSilences(ctx, base, inc, plan.silences, end)
		if err != nil {
			return store.Entry{}, err
		}
		what := make([]string, 0, len(plan.silences))
		for _, ms := range plan.silences {
			what = append(what, matcherString(ms))
		}
		said := plan.say()
		msg := "Alertmanager silences made"
		switch {
		case len(ids) == 0:
			msg = "no Alertmanager silences made"
		case !plan.complete():
			msg = "Alertmanager silences made for some of the group's firing alerts only"
		}
		d.log.Info(msg, "incident", inc.ID, "silenced", len(ids), "firing", plan.firingTotal, "detail", said)
		if len(ids) == 0 {
			return store.Entry{At: now, Type: "not_silenced", Detail: "No Alertmanager silences made: " + said}, nil
		}
		return store.Entry{At: now, Type: "silenced", Detail: fmt.Sprintf("%s%s (until %s): %s; for %s", silencedPrefix, strings.Join(ids, " "),
			end.UTC().Format(time.RFC3339), said, strings.Join(what, "; "))}, nil
	}
	tl, err := d.o.Store.Timeline(ctx, inc.ID)
	if err != nil {
		return store.Entry{}, err
	}
	made, expired := map[string]bool{}, map[string]bool{}
	var order []string
	for _, e := range append(tl, entries...) {
		switch e.Type {
		case "silenced":
			for _, id := range silenceIDs(e.Detail) {
				if !made[id] {
					made[id] = true
					order = append(order, id)
				}
			}
		case "unsilenced":
			for _, id := range silenceIDs(e.Detail) {
				expired[id] = true
			}
		}
	}
	// Those Alertmanager lists for the incident include any whose making
	// was not recorded.
	listed, err := d.o.Silencer.Made(ctx, base, inc.ID)
	if err != nil {
		return store.Entry{}, err
	}
	unrecorded := 0
	for _, sl := range listed {
		if !made[sl.ID] {
			made[sl.ID] = true
			order = append(order, sl.ID)
			unrecorded++
		}
		delete(expired, sl.ID) // still active: expire it again
	}
	var done []string
	for _, id := range order {
		if expired[id] {
			continue
		}
		if err := d.o.Silencer.Expire(ctx, base, id); err != nil {
			return store.Entry{}, err
		}
		done = append(done, id)
	}
	if len(done) == 0 {
		return store.Entry{}, nil
	}
	why := "expired: the incident is resolved"
	if inc.State.Status != policy.StatusResolved {
		why = "expired: the incident was re-opened, and pages again"
	}
	if unrecorded > 0 {
		why += fmt.Sprintf("; %s Alertmanager listed for the incident, which the timeline did not record", plural(unrecorded, "silence"))
		d.log.Warn("expired Alertmanager silences of the incident that the timeline did not record", "incident", inc.ID, "silences", unrecorded)
	}
	return store.Entry{At: now, Type: "unsilenced", Detail: silencedPrefix + strings.Join(done, " ") + " (" + why + ")"}, nil
}

// silenceGivenUp is the entry recording a silence item given up, and
// what to log it with (at Error, with the item). Silences not expired keep
// muting the incident's alerts, so nobody is paged when they fire again:
// the log says so, with where they are and until when they hold (the
// latest "until" the timeline records), for someone to expire them by
// hand.
func (d *Dispatcher) silenceGivenUp(ctx context.Context, inc *store.Incident, o store.OutboxItem, now time.Time, err error) (store.Entry, string, []any) {
	detail := fmt.Sprintf("Alertmanager silences not %sd after %d tries: %v; given up", o.Action, o.Attempts, err)
	if o.Action != "expire" {
		return store.Entry{At: now, Type: "silence_failed", Detail: detail},
			"Alertmanager silences of an acknowledged incident could not be made; its alerts go on notifying", []any{"alertmanager", policy.ShownURL(o.URL)}
	}
	until := "their end"
	if tl, terr := d.o.Store.Timeline(ctx, inc.ID); terr == nil {
		if end := silencesUntil(tl); !end.IsZero() {
			until = end.UTC().Format(time.RFC3339)
		}
	}
	at := policy.ShownURL(o.URL) // never its password
	if at == "" {
		at = "the service's Alertmanager"
	}
	detail += fmt.Sprintf("; they mute the incident's alerts at %s until %s unless expired there by hand", at, until)
	msg := "Alertmanager silences of a resolved incident could not be expired; they mute its alerts if they fire again"
	if inc.State.Status != policy.StatusResolved {
		msg = "Alertmanager silences of a re-opened incident could not be expired; they mute its alerts while it pages"
	}
	return store.Entry{At: now, Type: "silence_failed", Detail: detail}, msg, []any{"alertmanager", at, "until", until}
}

// silencesUntil is the latest end the timeline's "silenced" entries record
// (zero when none does).
func silencesUntil(tl []store.Entry) time.Time {
	var last time.Time
	for _, e := range tl {
		if e.Type != "silenced" {
			continue
		}
		_, rest, ok := strings.Cut(e.Detail, "(until ")
		if !ok {
			continue
		}
		at, _, _ := strings.Cut(rest, ")")
		if t, err := time.Parse(time.RFC3339, at); err == nil && t.After(last) {
			last = t
		}
	}
	return last
}

// makeSilences makes a silence for each of an incident's matchers, all at
// once (each call is bounded by the Silencer's timeout, and all of them
// together must fit in the claim's lease), and returns their ids in the
// matchers' order. A silence Alertmanager already lists for the incident
// with the same matchers (made by a try whose record did not land) is
// reused. When a call fails, the others' silences stay in Alertmanager,
// named by their comment: the retry reuses them, and the resolve expires
// them.
func (d *Dispatcher) makeSilences(ctx context.Context, base string, inc *store.Incident, plan [][]Matcher, end time.Time) ([]string, error) {
	if len(plan) == 0 {
		return nil, nil
	}
	listed, err := d.o.Silencer.Made(ctx, base, inc.ID)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(plan))
	errs := make([]error, len(plan))
	var wg sync.WaitGroup
	for i, ms := range plan {
		if j := slices.IndexFunc(listed, func(s Silence) bool { return sameMatchers(s.Matchers, ms) }); j >= 0 {
			ids[i] = listed[j].ID
			listed = slices.Delete(listed, j, j+1)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], errs[i] = d.o.Silencer.Silence(ctx, base, ms, end, "pagerd", silenceComment(inc))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		if made := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == "" }); len(made) > 0 {
			d.log.Warn("some Alertmanager silences made before others failed; the retry reuses them and the resolve expires them",
				"incident", inc.ID, "silences", made)
		}
		return nil, err
	}
	return ids, nil
}

// sameMatchers reports whether two silences match with the same matchers,
// in any order.
func sameMatchers(a, b []Matcher) bool {
	if len(a) != len(b) {
		return false
	}
	key := func(m Matcher) string { return fmt.Sprintf("%q%v%q", m.Name, m.IsRegex, m.Value) }
	ka, kb := make([]string, len(a)), make([]string, len(b))
	for i := range a {
		ka[i], kb[i] = key(a[i]), key(b[i])
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}

// silenceIDs reads the silence ids of a "silenced" or "unsilenced" entry.
func silenceIDs(detail string) []string {
	rest, ok := strings.CutPrefix(detail, silencedPrefix)
	if !ok {
		return nil
	}
	if i := strings.IndexByte(rest, '('); i >= 0 {
		rest = rest[:i]
	}
	return strings.Fields(rest)
}

// matcherString writes a silence's matchers as Alertmanager shows them:
// name="value" or name=~"regex".
func matcherString(ms []Matcher) string {
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		op := "="
		if m.IsRegex {
			op = "=~"
		}
		parts = append(parts, fmt.Sprintf("%s%s%q", m.Name, op, m.Value))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// silencePlan is what silencing an incident's alerts can do from its
// details, and what it cannot: the kept alerts are all a silence can be
// made from (see the top of this file).
type silencePlan struct {
	// silences are the matchers of a silence for each kept firing alert
	// that can have one.
	silences [][]Matcher
	// kept is how many firing alerts the details kept; firingTotal how
	// many the group had (-1: the details do not say).
	kept, firingTotal int
	// byRegex counts the silences that match a cut value by its kept
	// part, regexLabels names those labels.
	byRegex     int
	regexLabels []string
	// cutName and noLabels count the kept alerts with no silence: a
	// label name was cut, or there is no label to match.
	cutName, noLabels int
	// unread and truncatedByAM count the alerts nobody knows of: those
	// the notification held beyond what pagerd reads, and those
	// Alertmanager left out of it.
	unread, truncatedByAM int
}

// planSilences works out the silences for the firing alerts an incident's
// details kept.
func planSilences(details json.RawMessage) silencePlan {
	k, ok := ingest.ReadKeptAlerts(details)
	if !ok {
		return silencePlan{}
	}
	p := silencePlan{kept: len(k.Firing), firingTotal: k.FiringTotal, unread: k.Unread, truncatedByAM: k.TruncatedByAlertmanager}
	regexLabels := map[string]bool{}
	for _, labels := range k.Firing {
		if len(labels) == 0 {
			p.noLabels++
			continue
		}
		var ms []Matcher
		nameCut, valueCut := false, false
		for _, name := range slices.Sorted(maps.Keys(labels)) {
			if _, cut := ingest.CutLabel(name); cut {
				nameCut = true
				break
			}
			m := Matcher{Name: name, Value: labels[name]}
			if kept, cut := ingest.CutLabel(m.Value); cut {
				// Alertmanager anchors the expression; (?s) lets the
				// rest of the value hold newlines.
				m.Value, m.IsRegex = regexp.QuoteMeta(kept)+"(?s:.*)", true
				valueCut = true
				regexLabels[name] = true
			}
			ms = append(ms, m)
		}
		if nameCut {
			p.cutName++
			continue
		}
		if valueCut {
			p.byRegex++
		}
		p.silences = append(p.silences, ms)
	}
	p.regexLabels = slices.Sorted(maps.Keys(regexLabels))
	return p
}

// complete reports whether every firing alert of the group is silenced.
func (p silencePlan) complete() bool {
	return p.firingTotal == len(p.silences) && p.unread == 0 && p.truncatedByAM == 0
}

// say says how many of the group's firing alerts the silences cover, and
// why the others are not silenced, for the timeline and the log.
func (p silencePlan) say() string {
	n := len(p.silences)
	var parts []string
	if p.firingTotal < 0 {
		parts = append(parts, fmt.Sprintf("silenced %d of %s pagerd kept; the group had more alerts, which pagerd did not keep "+
			"(nor count how many fire), and they are not silenced", n, plural(p.kept, "firing alert")))
	} else {
		parts = append(parts, fmt.Sprintf("silenced %d of %s", n, plural(p.firingTotal, "firing alert")))
		if other := p.firingTotal - p.kept; other > 0 {
			the := ""
			if n == p.kept {
				the = "the other "
			}
			parts = append(parts, fmt.Sprintf("%s%d were not kept (pagerd keeps at most %d alerts of a group) and are not silenced",
				the, other, ingest.MaxDetailAlerts))
		}
	}
	if p.byRegex > 0 {
		names := make([]string, 0, len(p.regexLabels))
		for _, l := range p.regexLabels {
			names = append(names, "label "+strconv.Quote(l))
		}
		parts = append(parts, fmt.Sprintf("%s silenced by a regex on the first KiB of %s, all pagerd kept of the value (an exact match on a cut "+
			"value would silence nothing), so alerts that differ from it only after that are silenced too",
			plural(p.byRegex, "alert"), strings.Join(names, ", ")))
	}
	if p.cutName > 0 {
		parts = append(parts, fmt.Sprintf("%s kept but not silenced: pagerd cut a label name, and a silence needs the whole name", plural(p.cutName, "alert")))
	}
	if p.noLabels > 0 {
		parts = append(parts, fmt.Sprintf("%s kept but not silenced: no labels to match", plural(p.noLabels, "alert")))
	}
	if p.unread > 0 {
		parts = append(parts, fmt.Sprintf("Alertmanager's notification held %s more, which pagerd did not read (it reads %d) and are not silenced",
			plural(p.unread, "alert"), ingest.MaxAlertsPerMessage))
	}
	if p.truncatedByAM > 0 {
		parts = append(parts, fmt.Sprintf("Alertmanager left %s out of its notification (max_alerts); they are not silenced", plural(p.truncatedByAM, "alert")))
	}
	return strings.Join(parts, "; ")
}

// plural is n and the word, with an s when n is not 1.
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// Firing counts the alerts Alertmanager at base holds unresolved (active,
// silenced, inhibited or not yet processed) that route to receiver (as
// the webhook names it: quoted as a regular expression) and
// carry every one of group's labels: those of the notification group
// whose resolve pagerd withheld (GET /api/v2/alerts, with a receiver and
// filter per label). A label whose name a filter cannot carry is left out
// of it, which can only count more alerts, never fewer; one whose value
// is too long for a URL is checked by pagerd on the answer instead.
func (a *AlertmanagerSilencer) Firing(ctx context.Context, base, receiver string, group map[string]string) (int, error) {
	alerts, err := a.unresolved(ctx, base, receiver, group)
	return len(alerts), err
}

// Fingerprints lists the fingerprints of the alerts Firing counts: those
// of a group in fingerprint mode (incident_key: fingerprint) that still
// fire. An alert listed without one is an error: pagerd could not tell
// which incident it keeps open.
func (a *AlertmanagerSilencer) Fingerprints(ctx context.Context, base, receiver string, group map[string]string) ([]string, error) {
	all, _, err := a.FingerprintsByState(ctx, base, receiver, group)
	return all, err
}

// Active counts the alerts Firing counts that Alertmanager lists as
// neither silenced nor inhibited (status.state "suppressed"): those that
// would page.
func (a *AlertmanagerSilencer) Active(ctx context.Context, base, receiver string, group map[string]string) (int, error) {
	alerts, err := a.unresolved(ctx, base, receiver, group)
	n := 0
	for _, al := range alerts {
		if al.Status.State != "suppressed" {
			n++
		}
	}
	return n, err
}

// ActiveFingerprints lists the fingerprints of the alerts Active counts.
// An alert listed without one is an error, as for Fingerprints.
func (a *AlertmanagerSilencer) ActiveFingerprints(ctx context.Context, base, receiver string, group map[string]string) ([]string, error) {
	_, active, err := a.FingerprintsByState(ctx, base, receiver, group)
	return active, err
}

// FingerprintsByState is Fingerprints and ActiveFingerprints from one
// question to Alertmanager.
func (a *AlertmanagerSilencer) FingerprintsByState(ctx context.Context, base, receiver string, group map[string]string) (all, active []string, err error) {
	alerts, err := a.unresolved(ctx, base, receiver, group)
	if err != nil {
		return nil, nil, err
	}
	all = make([]string, 0, len(alerts))
	for _, al := range alerts {
		if al.Fingerprint == "" {
			return nil, nil, errors.New("alertmanager's list of alerts has an alert without a fingerprint")
		}
		all = append(all, al.Fingerprint)
		if al.Status.State != "suppressed" {
			active = append(active, al.Fingerprint)
		}
	}
	return all, active, nil
}

// amGettableAlert is an alert as GET /api/v2/alerts lists it, the part
// pagerd reads.
type amGettableAlert struct {
	Fingerprint string            `json:"fingerprint"`
	Labels      map[string]string `json:"labels"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

// amFilterMax bounds the length, escaped for the URL, of the filters
// unresolved sends: a proxy in front of Alertmanager refuses a request
// line over 8 KiB (nginx's default), Go's server (Alertmanager's own) one
// over 1 MiB, and label values have no bound.
const amFilterMax = 4 << 10

// unresolved is Alertmanager's list of the alerts Firing counts. Only the
// filters that fit amFilterMax, shortest first, are sent; the answer is
// then held to every label a filter can carry, as Alertmanager's matcher
// would (an absent label reads ""), so a filter left out for its length
// never counts another group's alerts.
func (a *AlertmanagerSilencer) unresolved(ctx context.Context, base, receiver string, group map[string]string) ([]amGettableAlert, error) {
	q := url.Values{}
	if receiver != "" {
		// The webhook names the receiver quoted as a regular expression
		// already (Alertmanager's template data runs it through
		// regexp.QuoteMeta), which is what the parameter takes: quoted
		// again, a name with a dot matched no receiver, and the group
		// read as resolved while its alerts fired.
		q.Set("receiver", receiver)
	}
	var names, filters []string
	for _, name := range slices.Sorted(maps.Keys(group)) {
		if labelNameRE.MatchString(name) {
			names = append(names, name)
			filters = append(filters, name+`="`+matcherValueEscaper.Replace(group[name])+`"`)
		}
	}
	slices.SortStableFunc(filters, func(x, y string) int { return len(x) - len(y) })
	room := amFilterMax
	for _, f := range filters {
		if room -= len(url.QueryEscape(f)); room < 0 {
			break
		}
		q.Add("filter", f)
	}
	b, code, err := a.do(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/api/v2/alerts?"+q.Encode(), nil, amListMax+1)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("alertmanager answered %d to the list of alerts: %s", code, bytes.TrimSpace(b[:min(len(b), 512)]))
	}
	if len(b) > amListMax {
		return nil, fmt.Errorf("alertmanager's list of alerts is larger than %d MiB; not read", amListMax>>20)
	}
	var alerts []amGettableAlert
	if err := json.Unmarshal(b, &alerts); err != nil {
		return nil, fmt.Errorf("alertmanager's list of alerts: %w", err)
	}
	for _, al := range alerts {
		if al.Labels == nil {
			// Held to the group, it would count as not firing.
			return nil, errors.New("alertmanager's list of alerts has an alert without labels")
		}
	}
	return slices.DeleteFunc(alerts, func(al amGettableAlert) bool {
		return slices.ContainsFunc(names, func(name string) bool { return al.Labels[name] != group[name] })
	}), nil
}

// Started reads when the Alertmanager at base started (GET
// /api/v2/status, whose "uptime" is that time, not a duration). It keeps
// alerts in memory only, so for a while after it starts it lists only
// those Prometheus has sent again since.
func (a *AlertmanagerSilencer) Started(ctx context.Context, base string) (time.Time, error) {
	st, err := a.Status(ctx, base)
	return st.Started, err
}

// Status reads the Alertmanager at base's status (GET /api/v2/status):
// when it started, and the config it runs (config.original), which a
// reload changes.
func (a *AlertmanagerSilencer) Status(ctx context.Context, base string) (amresolve.Status, error) {
	// The status carries Alertmanager's whole config, which can be large.
	b, code, err := a.do(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/api/v2/status", nil, amListMax+1)
	if err != nil {
		return amresolve.Status{}, err
	}
	if code != http.StatusOK {
		return amresolve.Status{}, fmt.Errorf("alertmanager answered %d to its status: %s", code, bytes.TrimSpace(b[:min(len(b), 512)]))
	}
	if len(b) > amListMax {
		return amresolve.Status{}, fmt.Errorf("alertmanager's status is larger than %d MiB; not read", amListMax>>20)
	}
	var st struct {
		Uptime time.Time `json:"uptime"`
		Config struct {
			Original string `json:"original"`
		} `json:"config"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return amresolve.Status{}, fmt.Errorf("alertmanager's status: %w", err)
	}
	if st.Uptime.IsZero() {
		return amresolve.Status{}, errors.New("alertmanager's status does not say when it started (uptime)")
	}
	return amresolve.Status{Started: st.Uptime, Config: st.Config.Original}, nil
}

var _ amresolve.AlertGroups = (*AlertmanagerSilencer)(nil)

// AlertGroups lists the alert groups the Alertmanager at base holds for
// receiver, a regular expression Alertmanager anchors (every receiver
// when ""), with their labels (GET /api/v2/alerts/groups; silenced and
// inhibited alerts' groups too, as it lists them by default). A group
// listed without a receiver's name is an error: held to one, it would
// read as gone.
func (a *AlertmanagerSilencer) AlertGroups(ctx context.Context, base, receiver string) ([]amresolve.AlertGroup, error) {
	u := strings.TrimRight(base, "/") + "/api/v2/alerts/groups"
	if receiver != "" {
		u += "?" + url.Values{"receiver": {receiver}}.Encode()
	}
	b, code, err := a.do(ctx, http.MethodGet, u, nil, amListMax+1)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("alertmanager answered %d to the list of alert groups: %s", code, bytes.TrimSpace(b[:min(len(b), 512)]))
	}
	if len(b) > amListMax {
		return nil, fmt.Errorf("alertmanager's list of alert groups is larger than %d MiB; not read", amListMax>>20)
	}
	var groups []struct {
		Labels   map[string]string `json:"labels"`
		Receiver struct {
			Name string `json:"name"`
		} `json:"receiver"`
		Alerts []struct {
			Fingerprint string `json:"fingerprint"`
		} `json:"alerts"`
	}
	if err := json.Unmarshal(b, &groups); err != nil {
		return nil, fmt.Errorf("alertmanager's list of alert groups: %w", err)
	}
	out := make([]amresolve.AlertGroup, 0, len(groups))
	for _, g := range groups {
		if g.Receiver.Name == "" {
			return nil, errors.New("alertmanager's list of alert groups has a group without a receiver")
		}
		ag := amresolve.AlertGroup{Receiver: g.Receiver.Name, Labels: g.Labels}
		for _, a := range g.Alerts {
			ag.Fingerprints = append(ag.Fingerprints, a.Fingerprint)
		}
		out = append(out, ag)
	}
	return out, nil
}

// labelNameRE is a label name every Alertmanager's filter parser takes
// unquoted.
var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// matcherValueEscaper escapes a value for a double-quoted matcher, as both
// of Alertmanager's matcher parsers read it.
var matcherValueEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
