//go:build soak

package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// The groups mode's fingerprint variant (PAGERD_SOAK_KEY=fingerprint;
// default group): the same groups, flaps, acknowledgements, faults and
// Alertmanager outages, every service set to incident_key: fingerprint.
// What pagerd promises then (docs/CONFIG.md, incident_key and "Groups
// larger than max_alerts"; README "Limits per request"), and what the
// checker holds it to, per alert (an alert firing anew, after it resolved,
// is a new firing of the same fingerprint):
//
//   - every firing notification answered 2xx names one incident per
//     firing alert it lists, in their order, distinct (ONE PER ALERT), and
//     every notification of one firing of an alert names the same one
//     (SPLIT);
//   - an alert's incident is never resolved before the alert ended
//     (RESOLVED EARLY: before the soak's Alertmanager set its end), and is
//     resolved once the group has ended (NEVER RESOLVED): by the
//     notification that lists it resolved, or, left out, once Alertmanager
//     (asked at each notification that left alerts out, again every minute
//     while it is down) no longer lists it, or by the group's last
//     notification;
//   - no notification names an incident resolved before it was sent
//     (REPEAT OF A RESOLVED INCIDENT); an alert firing anew while its
//     incident is still open (a resolve not yet confirmed) repeats it (NEW
//     INCIDENT WHILE OPEN), unless pagerd read the group's end: the old
//     incident then has a resolve_confirmed entry saying so, and paged
//     nobody any more (NEW INCIDENT WHILE PAGING if it still paged: not
//     acknowledged by the answer, its last step not yet due);
//   - a late flap (61-90 s after a resolve that left the alert out and
//     was withheld), sent whole, every alert started since, whose alert's
//     incident is still open and pages nobody any more (acknowledged
//     before the flap was sent, or its ladder over with the faults'
//     allowance): the group had ended, and a repeat is REPEAT AFTER THE
//     GROUP ENDED;
//   - an alert max_alerts left out of a notification answered 2xx, firing
//     then with no open incident of its own, is held by the group's
//     overflow incident: one is open from the notification's answer plus
//     the allowance (a store job done at once; for a resolved
//     notification, a minute after Alertmanager's outage ends, as pagerd
//     asks again then) until the alert is listed (its own incident) or
//     ends (OVERFLOW MISSING if none is open then, OVERFLOW RESOLVED
//     EARLY if it is resolved before);
//   - every incident of a group (the alerts', the overflow ones, found
//     through GET /api/v1/incidents by dedup key) is checked as in the
//     plain mode: every step paged from its creation to its first
//     acknowledgement or resolve, no duplicate, nothing after; an alert
//     incident no notification named is reported (UNNAMED).
//
// Not judged: whether an overflow incident opened while every alert left
// out had an incident of its own (with Alertmanager up it should not be;
// the summary counts the overflow incidents), and a late flap whose
// alert's incident still paged (the soak's ladder is over in 10 s).

// soakDedupGroup reads the soak group of a dedup key: am:<groupKey>:<fp>
// or am:<groupKey>#overflow.
var soakDedupGroup = regexp.MustCompile(`^am:\{\}:\{soakgroup="g(\d+)"\}(#overflow|:[0-9a-f]+)$`)

// soakListed is an incident as GET /api/v1/incidents lists it.
type soakListed struct {
	ID        string    `json:"id"`
	DedupKey  string    `json:"dedup_key"`
	CreatedAt time.Time `json:"created_at"`
}

// listAll lists every incident, page after page.
func (s *soak) listAll(reader *soakProc) ([]soakListed, error) {
	var all []soakListed
	cursor := ""
	for {
		path := "/api/v1/incidents?limit=1000"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		code, body := s.get(reader, path)
		var page struct {
			Incidents []soakListed `json:"incidents"`
			Cursor    string       `json:"cursor"`
		}
		if code != 200 || json.Unmarshal([]byte(body), &page) != nil {
			return all, fmt.Errorf("list incidents: %d %.300s", code, body)
		}
		all = append(all, page.Incidents...)
		if page.Cursor == "" {
			return all, nil
		}
		cursor = page.Cursor
	}
}

// fpLife is one firing of an alert (a soakAMAlert) as the notifications
// named it.
type fpLife struct {
	g     *soakGroup
	a     *soakAMAlert
	notes []*soakNote
	inc   string // the incident its first listing named
}

// judgeFingerprint checks the groups' incidents in fingerprint mode
// against what pagerd documents (the header comment), and turns each
// incident into a soakAlert for the checks of its pages.
func (s *soak) judgeFingerprint(groups []*soakGroup, start time.Time) ([]*soakAlert, []soakProblem) {
	var found []soakProblem
	problem := func(inc, format string, args ...any) {
		found = append(found, soakProblem{inc, fmt.Sprintf(format, args...)})
	}
	reader := s.live(rand.New(rand.NewPCG(3, 4)))
	details := map[string]incidentDetail{}
	detail := func(id string) (incidentDetail, bool) {
		if d, ok := details[id]; ok {
			return d, true
		}
		code, body := s.get(reader, "/api/v1/incidents/"+id)
		var inc incidentDetail
		if code != 200 || json.Unmarshal([]byte(body), &inc) != nil || inc.CreatedAt.IsZero() {
			problem(id, "incident %s, named in an answer or listed, which the API does not have: %d %.300s", id, code, body)
			return inc, false
		}
		details[id] = inc
		return inc, true
	}
	resolvedOf := func(id string) time.Time {
		inc, ok := detail(id)
		if !ok {
			return time.Time{}
		}
		return firstAt(inc, "resolve")
	}
	groupEndedBy := func(id string) string {
		inc, ok := detail(id)
		if !ok {
			return ""
		}
		for _, e := range inc.Timeline {
			if e.Type == "resolve_confirmed" && strings.Contains(e.Detail, "firing again") {
				return e.Detail
			}
		}
		return ""
	}
	at := func(t time.Time) string { return soakAt(t, start) }

	// Every incident pagerd has, by the group of its dedup key.
	listed, err := s.listAll(reader)
	if err != nil {
		problem("", "%v", err)
	}
	overflows := map[int][]soakListed{}
	alertIncs := map[string]int{} // an alert incident's group
	for _, l := range listed {
		m := soakDedupGroup.FindStringSubmatch(l.DedupKey)
		if m == nil {
			problem(l.ID, "incident %s with a dedup key no soak group makes: %q", l.ID, l.DedupKey)
			continue
		}
		var gn int
		fmt.Sscan(m[1], &gn)
		if m[2] == "#overflow" {
			overflows[gn] = append(overflows[gn], l)
		} else {
			alertIncs[l.ID] = gn
		}
	}
	for gn := range overflows {
		sort.Slice(overflows[gn], func(i, j int) bool { return overflows[gn][i].CreatedAt.Before(overflows[gn][j].CreatedAt) })
	}

	lives := map[*soakAMAlert]*fpLife{}
	type incUse struct {
		g         *soakGroup
		instance  int
		lives     []*fpLife
		answered  time.Time
		ackSent   time.Time
		ackAnswer time.Time
	}
	uses := map[string]*incUse{}
	var order []string
	byGroup := map[int]*soakGroup{}
	var overflowDemands, lateJudged, lateNew, lateRepeat int
	// shown are the groups a problem concerns: their notifications are
	// logged, for the trace.
	var shown []*soakGroup
	for _, g := range groups {
		byGroup[g.n] = g
		before := len(found)
		// last is each instance's latest incident named, before the
		// notification at hand.
		last := map[int]string{}
		// ownOpen says whether an instance had an open incident of its
		// own when a notification was sent.
		ownOpen := func(instance int, sent time.Time) bool {
			id := last[instance]
			if id == "" {
				return false
			}
			r := resolvedOf(id)
			return r.IsZero() || !r.Before(sent.Add(-soakStampSlack))
		}
		var notes []*soakNote // the group's, in order
		for _, ep := range g.episodes {
			notes = append(notes, ep.notes...)
		}
		for ei, ep := range g.episodes {
			for ni, n := range ep.notes {
				what := fmt.Sprintf("group g%d (svc%d) episode %d notification %d (%s %s, truncated %d) sent %s", g.n, g.service, ei, ni, n.status, n.listed, n.truncated, at(n.sent))
				if n.answered.IsZero() {
					problem("", "%s not taken: %s (answers %v)", what, n.refused, n.codes)
					continue
				}
				shown := n.held[:min(len(n.held), soakMaxAlerts)]
				var firing []*soakAMAlert
				for k, a := range shown {
					if n.heldEnds[k].IsZero() {
						firing = append(firing, a)
					}
				}
				// The alerts left out: the overflow incident holds
				// each that fires with no open incident of its own.
				for k := len(shown); k < len(n.held); k++ {
					a := n.held[k]
					if !n.heldEnds[k].IsZero() || ownOpen(a.instance, n.sent) {
						continue
					}
					until := a.ends
					for _, m := range notes {
						if m.sent.After(n.sent) && slices.Contains(m.held[:min(len(m.held), soakMaxAlerts)], a) {
							if until.IsZero() || m.sent.Before(until) {
								until = m.sent
							}
							break
						}
					}
					if until.IsZero() {
						until = time.Now()
					}
					t0 := s.overflowDue(n)
					if !until.Add(-soakStampSlack).After(t0) {
						continue // listed or ended before it was due
					}
					overflowDemands++
					var openAt *soakListed
					held := false
					for i, o := range overflows[g.n] {
						if o.CreatedAt.After(t0) {
							continue
						}
						r := resolvedOf(o.ID)
						if r.IsZero() || !r.Before(t0) {
							openAt = &overflows[g.n][i]
						}
						if r.IsZero() || !r.Before(until.Add(-soakStampSlack)) {
							held = true
						}
					}
					switch {
					case held:
					case openAt == nil:
						problem("", "OVERFLOW MISSING: %s left out i%d (started %s), firing with no open incident of its own, and no overflow incident of the group was open at %s (the answer %s and its allowance); it fired unpaged until %s",
							what, a.instance, at(a.starts), at(t0), at(n.answered), at(until))
					default:
						problem(openAt.ID, "OVERFLOW RESOLVED EARLY: %s left out i%d (started %s), firing with no open incident of its own until %s, and the group's overflow incident %s was resolved at %s",
							what, a.instance, at(a.starts), at(until), openAt.ID, at(resolvedOf(openAt.ID)))
					}
				}
				if len(n.incidents) != len(firing) {
					problem("", "ONE PER ALERT: %s answered %s with incidents %v, want one for each of the %d firing alerts listed", what, at(n.answered), n.incidents, len(firing))
					continue
				}
				for k, a := range firing {
					id := n.incidents[k]
					if slices.Index(n.incidents, id) != k {
						problem(id, "ONE PER ALERT: %s named %s for two alerts: %v", what, id, n.incidents)
					}
					if _, ok := alertIncs[id]; !ok {
						if gn, over := overflowOf(overflows, id); over {
							problem(id, "%s named the overflow incident %s (group g%d) for its listed alert i%d", what, id, gn, a.instance)
						}
					}
					if r := resolvedOf(id); !r.IsZero() && r.Before(n.sent.Add(-soakStampSlack)) {
						problem(id, "REPEAT OF A RESOLVED INCIDENT: %s named %s for i%d (started %s), resolved at %s", what, id, a.instance, at(a.starts), at(r))
					}
					fl := lives[a]
					if fl == nil {
						fl = &fpLife{g: g, a: a, inc: id}
						lives[a] = fl
						s.judgeFirstFiring(g, ei, ni, n, a, id, last[a.instance], detail, groupEndedBy, at, problem, &lateJudged, &lateNew, &lateRepeat)
					} else if id != fl.inc {
						problem(id, "SPLIT: %s named %s for i%d (started %s), whose first notification named %s", what, id, a.instance, at(a.starts), fl.inc)
					}
					fl.notes = append(fl.notes, n)
					u := uses[id]
					if u == nil {
						u = &incUse{g: g, instance: a.instance, answered: n.answered}
						uses[id] = u
						order = append(order, id)
					}
					if u.g != g || u.instance != a.instance {
						problem(id, "%s named %s for i%d, an incident of group g%d's i%d", what, id, a.instance, u.g.n, u.instance)
					}
					if !slices.Contains(u.lives, fl) {
						u.lives = append(u.lives, fl)
					}
					last[a.instance] = id
				}
			}
			if ep.incident == "" {
				continue
			}
			if !ep.ackAnswer.IsZero() {
				if u := uses[ep.incident]; u != nil && u.ackAnswer.IsZero() {
					u.ackSent, u.ackAnswer = ep.ackSent, ep.ackAnswer
				}
			}
			if ep.ackErr != "" {
				if r := resolvedOf(ep.incident); r.IsZero() || r.After(ep.ackDone.Add(soakStampSlack)) {
					problem(ep.incident, "acknowledgement of %s (group g%d episode %d) sent %s refused: %s (answers %v), and it was not resolved before (%s)",
						ep.incident, g.n, ei, at(ep.ackSent), ep.ackErr, ep.ackStatus, at(r))
				}
			}
		}
		if len(found) > before {
			shown = append(shown, g)
		}
	}

	// Each alert incident: resolved after its alert's last firing ended,
	// and resolved at all; each overflow incident resolved. Then every
	// incident's ladder, to its first acknowledgement or resolve.
	var alerts []*soakAlert
	var confirm []time.Duration
	resolvedBy := map[string]*soakNote{}
	for _, g := range groups {
		for _, ep := range g.episodes {
			for _, n := range ep.notes {
				for _, id := range n.resolved {
					if resolvedBy[id] == nil {
						resolvedBy[id] = n
					}
				}
			}
		}
	}
	for id, gn := range alertIncs {
		if uses[id] == nil {
			problem(id, "UNNAMED: incident %s of group g%d, which no notification's answer named", id, gn)
		}
	}
	ids := slices.Clone(order)
	for id := range alertIncs {
		if uses[id] == nil {
			ids = append(ids, id)
		}
	}
	overflowCount := 0
	for _, gn := range slices.Sorted(maps.Keys(overflows)) {
		for _, o := range overflows[gn] {
			ids = append(ids, o.ID)
			overflowCount++
		}
	}
	for i, id := range ids {
		inc, ok := detail(id)
		if !ok {
			continue
		}
		u := uses[id]
		var g *soakGroup
		what := id
		if u != nil {
			g = u.g
			what = fmt.Sprintf("%s (group g%d i%d)", id, g.n, u.instance)
		} else if gn, over := overflowOf(overflows, id); over {
			g = byGroup[gn]
			what = fmt.Sprintf("%s (group g%d's overflow)", id, gn)
		} else {
			g = byGroup[alertIncs[id]]
		}
		if g == nil {
			problem(id, "incident %s of a group the soak never sent", id)
			continue
		}
		before := len(found)
		resolvedAt := firstAt(inc, "resolve")
		if resolvedAt.IsZero() {
			problem(id, "NEVER RESOLVED: %s, created %s, open, every alert of its group resolved (the group's last notification sent %s, answered %s)",
				what, at(inc.CreatedAt), at(lastSent(g)), at(lastAnswered(g)))
		}
		a := &soakAlert{n: i, service: g.service, answered: inc.CreatedAt, sent: inc.CreatedAt, incident: id}
		if u != nil {
			a.answered, a.sent = u.answered, u.answered
			var ended time.Time
			for _, fl := range u.lives {
				if fl.a.ends.IsZero() {
					ended = time.Time{}
					break
				}
				if fl.a.ends.After(ended) {
					ended = fl.a.ends
				}
			}
			if !resolvedAt.IsZero() && (ended.IsZero() || resolvedAt.Before(ended.Add(-soakStampSlack))) {
				problem(id, "RESOLVED EARLY: %s resolved at %s, before its alert's firing ended (%s)", what, at(resolvedAt), at(ended))
			}
			// A resolve no notification's answer made: Alertmanager
			// asked, after the first notification sent after the end.
			if !resolvedAt.IsZero() && resolvedBy[id] == nil && !ended.IsZero() && groupEndedBy(id) == "" {
				for _, m := range notesOf(g) {
					if m.sent.After(ended) && !m.answered.IsZero() {
						confirm = append(confirm, resolvedAt.Sub(m.answered))
						break
					}
				}
			}
		}
		first := firstAt(inc, "ack", "resolve")
		switch {
		case first.IsZero():
		case u != nil && !u.ackAnswer.IsZero() && !first.Before(u.ackSent.Add(-soakStampSlack)) && (resolvedAt.IsZero() || first.Before(resolvedAt)):
			a.end, a.endSent, a.endAnswer = "ack", u.ackSent, u.ackAnswer
		case first.Equal(resolvedAt):
			a.end, a.endSent, a.endAnswer = "resolve-am", resolvedAt, resolvedAt
			if n := resolvedBy[id]; n != nil {
				a.endSent = n.sent
				if n.answered.After(resolvedAt) {
					a.endAnswer = n.answered
				}
			}
		}
		alerts = append(alerts, a)
		if len(found) > before && !slices.Contains(shown, g) {
			shown = append(shown, g)
		}
	}
	for i, g := range shown {
		if i == 10 {
			break
		}
		var b strings.Builder
		for ei, ep := range g.episodes {
			for _, n := range ep.notes {
				fmt.Fprintf(&b, "  episode %d (late %v) sent %s answered %s: %s %s, truncated %d, answers %v, incidents %v, resolved %v %s\n",
					ei, ep.late, at(n.sent), at(n.answered), n.status, n.listed, n.truncated, n.codes, n.incidents, n.resolved, n.refused)
			}
		}
		s.t.Logf("group g%d (svc%d), its notifications:\n%s", g.n, g.service, b.String())
	}
	slices.Sort(confirm)
	s.groupsConfirm = confirm
	s.groupsLate = [3]int{lateJudged, lateNew, lateRepeat}
	s.t.Logf("soak fingerprint: alert firings named %d, alert incidents %d, overflow incidents %d, notifications that left out a firing alert with no incident of its own past the allowance %d; late flaps judged %d (a new incident %d, a repeat %d)",
		len(lives), len(alertIncs), overflowCount, overflowDemands, lateJudged, lateNew, lateRepeat)
	return alerts, found
}

// judgeFirstFiring judges an alert firing anew (its first listing, n,
// named id) against the alert's incident before (prev).
func (s *soak) judgeFirstFiring(g *soakGroup, ei, ni int, n *soakNote, a *soakAMAlert, id, prev string,
	detail func(string) (incidentDetail, bool), groupEndedBy func(string) string,
	at func(time.Time) string, problem func(string, string, ...any), lateJudged, lateNew, lateRepeat *int) {
	if prev == "" {
		return
	}
	p, ok := detail(prev)
	if !ok {
		return
	}
	resolvedAt := firstAt(p, "resolve")
	ackAt := firstAt(p, "ack")
	due := p.CreatedAt.Add(soakLadder[len(soakLadder)-1].at)
	what := fmt.Sprintf("group g%d (svc%d) episode %d notification %d: i%d firing anew (started %s; sent %s, answered %s)",
		g.n, g.service, ei, ni, a.instance, at(a.starts), at(n.sent), at(n.answered))
	open := resolvedAt.IsZero() || resolvedAt.After(n.answered.Add(soakStampSlack))
	if id != prev && open {
		ended := groupEndedBy(prev)
		paging := (ackAt.IsZero() || ackAt.After(n.answered.Add(soakStampSlack))) && !n.answered.After(due.Add(-soakStampSlack))
		switch {
		case ended == "":
			problem(id, "NEW INCIDENT WHILE OPEN: %s opened %s while the alert's %s was open (resolved %s), and %s has no resolve_confirmed entry saying the group had ended",
				what, id, prev, at(resolvedAt), prev)
		case paging:
			problem(id, "NEW INCIDENT WHILE PAGING: %s opened %s while the alert's %s still paged (created %s, acknowledged %s)",
				what, id, prev, at(p.CreatedAt), at(ackAt))
		}
	}
	// A late flap, sent whole, after a resolve withheld that left this
	// alert out, its incident (opened before it) still open.
	ep := g.episodes[ei]
	if !ep.late || ni != 0 || n.truncated != 0 || strings.Contains(n.listed, "=resolved") {
		return
	}
	pe := g.episodes[ei-1].notes
	if len(pe) == 0 {
		return
	}
	end := pe[len(pe)-1]
	before := lastHeld(end, a.instance)
	if !end.last || end.truncated == 0 || end.answered.IsZero() || !p.CreatedAt.Before(end.sent) ||
		before == nil || slices.Contains(end.held[:min(len(end.held), soakMaxAlerts)], before) ||
		a.starts.Sub(end.answered) < time.Minute+soakStampSlack {
		return
	}
	if !(resolvedAt.IsZero() || !resolvedAt.Before(n.sent.Add(-soakStampSlack))) {
		return // resolved before: a new incident, judged above
	}
	*lateJudged++
	if id != prev {
		*lateNew++
		return
	}
	*lateRepeat++
	quiet := !ackAt.IsZero() && ackAt.Before(n.sent.Add(-soakStampSlack)) || n.sent.After(due.Add(s.allowance(due)+time.Second))
	if quiet {
		problem(prev, "REPEAT AFTER THE GROUP ENDED: %s, sent whole a minute or more after the resolve withheld at %s that left it out, named %s, which paged nobody any more (created %s, acknowledged %s): a new outage, paged nobody",
			what, at(end.answered), prev, at(p.CreatedAt), at(ackAt))
	}
}

// lastHeld is the alert of the instance that the notification held (nil
// when none).
func lastHeld(n *soakNote, instance int) *soakAMAlert {
	for _, a := range n.held {
		if a.instance == instance {
			return a
		}
	}
	return nil
}

// overflowDue is by when the overflow incident must hold an alert a
// notification left out, firing with no incident of its own: the store
// job is done at once (the allowance for faults near), and for a
// resolved notification while Alertmanager is down, a minute after the
// outage ends (pagerd asks again then; a firing one opens the overflow
// incident at once when Alertmanager cannot be asked).
func (s *soak) overflowDue(n *soakNote) time.Time {
	base := s.allowance(n.answered) + 2*time.Second
	t := n.answered.Add(base)
	if n.status == "firing" {
		return t
	}
	s.am.mu.Lock()
	defer s.am.mu.Unlock()
	for changed := true; changed; {
		changed = false
		for _, o := range s.am.outages {
			end := o[1]
			if end.IsZero() {
				end = time.Now()
			}
			if o[0].Before(t) && end.After(n.sent) {
				if u := end.Add(time.Minute + base); u.After(t) {
					t, changed = u, true
				}
			}
		}
	}
	return t
}

func overflowOf(overflows map[int][]soakListed, id string) (int, bool) {
	for gn, os := range overflows {
		for _, o := range os {
			if o.ID == id {
				return gn, true
			}
		}
	}
	return 0, false
}

func notesOf(g *soakGroup) []*soakNote {
	var out []*soakNote
	for _, ep := range g.episodes {
		out = append(out, ep.notes...)
	}
	return out
}

func lastAnswered(g *soakGroup) time.Time {
	ns := notesOf(g)
	if len(ns) == 0 {
		return time.Time{}
	}
	return ns[len(ns)-1].answered
}

func lastSent(g *soakGroup) time.Time {
	ns := notesOf(g)
	if len(ns) == 0 {
		return time.Time{}
	}
	return ns[len(ns)-1].sent
}
