//go:build soak

package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The groups mode (PAGERD_SOAK_MODE=groups; not in the default list, so
// `make soak` runs plain and storm as before): the same replicas, Redis,
// ladder and faults, but the alerts come in Alertmanager groups, so that
// pagerd's group logic (the group's incident, repeats, withheld resolves,
// the question to Alertmanager) is soaked under faults too.
//
// What is sent, as Alertmanager 0.25+ sends it (dispatch/dispatch.go,
// notify/webhook/webhook.go): a group (one groupKey, group label
// soakgroup) of 2-4 alerts (each its own labels, instance i0..i3, and
// fingerprint) fires; a notification lists every alert Alertmanager holds
// for the group, firing and resolved (with endsAt), sorted by instance,
// cut to the receiver's max_alerts (2): truncatedAlerts counts those left
// out, and the status is "firing" when an alert listed fires, whatever
// those left out do. After a notification answered 2xx, its resolved
// alerts (listed or not) are dropped from the group, as Alertmanager
// drops them (DeleteIfNotModified). Within a firing period (an
// "episode") the group is notified every soakGroupInterval (3 s, scaled
// from minutes: a repeat when nothing changed), alerts joining and
// resolving at those flushes, at least one firing until the last, when
// all resolve. Up to two more episodes follow (the group flaps), 0.5-20 s
// after the last one's resolve was answered, or, a quarter of them (drawn
// from their own stream of the seed, not in the run's last three
// minutes), 61-90 s after it, starting whole (at most max_alerts
// alerts): late flaps. Some episodes are
// acknowledged through the API at random times. A fake Alertmanager API
// (GET /api/v2/alerts and /api/v2/status, soakAM) answers from the soak's
// own truth, and every service names it as alertmanager_url, so a
// withheld resolve is asked about (amresolve's Withheld job) as in
// production. With PAGERD_SOAK_AM_DOWN set, that API is down (503) 5-30 s
// (every third time 70-100 s) every 40-80 s (planAMOutages): a resolve
// withheld then is asked about again a minute later, so flaps meanwhile
// land on the incident still open, the path a prompt answer never takes,
// and a late flap may find it open too when the outage outlasted the
// next question.
//
// What pagerd must do (docs/CONFIG.md "Groups larger than max_alerts",
// README "Limits per request"), and what the checker holds it to:
//
//   - one incident per group while it fires: every firing notification
//     of an episode answered 2xx names the same incident (SPLIT if not),
//     and repeats page nobody (a step paged twice is a DUPLICATE, as in
//     the plain mode);
//   - a resolved notification with truncatedAlerts 0 resolves it; one
//     with truncatedAlerts > 0 (the end of every group of 3 or 4, and a
//     partial resolve whose resolved alerts sort first) is withheld and
//     Alertmanager asked: the incident is resolved (by "alertmanager")
//     only when Alertmanager lists none of the group's alerts. So it must
//     never be resolved before the last resolved notification of the
//     last episode it took was sent (RESOLVED EARLY), and must be
//     resolved once that notification is answered (NEVER RESOLVED, with
//     how long the confirmation took in the summary);
//   - a firing after the group's incident was resolved is a new outage:
//     a new incident paged from step 1 (REPEAT OF A RESOLVED INCIDENT
//     when the answer names one resolved before the firing was sent); a
//     firing while it is still open (its withheld resolve not confirmed
//     yet, a fault delaying the question) is a repeat of it, and so a new
//     incident then is a problem (NEW INCIDENT WHILE OPEN);
//   - except a late flap that finds the incident of a withheld resolve
//     still open and is sent whole, every alert started a minute or more
//     after the resolve: the group had ended. When the incident pages
//     nobody any more (acknowledged before the flap was sent, or its
//     ladder's last step due, with the faults' allowance, before), the
//     old incident is resolved with a resolve_confirmed entry saying so
//     and the flap opens a new incident, paged from step 1 (REPEAT AFTER
//     THE GROUP ENDED, GROUP END UNSAID); while it still pages (no
//     acknowledgement by the answer, its last step not yet due), a repeat
//     (NEW INCIDENT WHILE PAGING); in between, either. A late flap whose
//     first notification was cut (a resolved alert still held) is a
//     repeat, and may move to a new incident at its first whole one when
//     the old incident's timeline says the group ended (not a SPLIT);
//   - every incident's steps are checked as in the plain mode, from its
//     creation to its first acknowledgement or resolve in its timeline
//     (a resolve's answer being the later of the notification's 2xx and
//     the timeline's resolve, since a confirmed one comes later).
//
// Not exercised: incident_key fingerprint here (PAGERD_SOAK_KEY=fingerprint
// runs the same groups in that mode: soak_fingerprint_test.go), a
// group resolved by hand while it fires, Alertmanager just restarted (the
// fake started an hour ago), silence_on_acknowledge, and a late firing
// taken while the incident still paged and then held by a page or an
// acknowledgement after the taking (the ladder is over in 10 s, long
// before a late flap).

const (
	// soakMaxAlerts is the receiver's max_alerts.
	soakMaxAlerts = 2
	// soakGroupInterval is the group_interval, and the repeat_interval.
	soakGroupInterval = 3 * time.Second
	// soakStampSlack is how far a timeline's time, cut to the millisecond
	// and read on the wall clock, may be off from the soak's own times,
	// read on the monotonic one: the first 10-minute run (seed 134281218)
	// had seven group-end resolves stamped 1-3 ms before their
	// notifications were sent.
	soakStampSlack = 100 * time.Millisecond
)

// soakProblem is a problem the groups mode found before the common checks.
type soakProblem struct{ inc, text string }

// soakGroup is one Alertmanager group, as planned and as sent.
type soakGroup struct {
	n        int
	at       time.Duration // its first firing, from the start
	service  int
	size     int
	episodes []*soakEpisode
	rng      *rand.Rand
}

// soakEpisode is one firing period of a group.
type soakEpisode struct {
	gap      time.Duration // after the previous episode's end was answered
	late     bool          // gap 61-90 s: after a withheld resolve, the group fired anew
	initial  []int         // instances firing at its start
	ticks    [][2][]int    // at each flush after the first: instances joining, resolving
	ackAfter time.Duration // 0: not acknowledged; else after the first answer

	notes     []*soakNote
	incident  string // the first firing notification's answer
	ackSent   time.Time
	ackAnswer time.Time
	ackStatus []int
	ackErr    string
	ackDone   time.Time // its last answer
}

// soakNote is one notification of a group.
type soakNote struct {
	sent, answered time.Time
	status         string
	truncated      int
	listed         string // i0=firing,i1=resolved
	codes          []int
	incidents      []string
	resolved       []string
	refused        string
	last           bool // the episode's resolve
	// held is every alert Alertmanager held for the group as it was
	// sent, in its order (the first soakMaxAlerts listed, the rest left
	// out), and heldEnds each one's end then (zero: firing).
	held     []*soakAMAlert
	heldEnds []time.Time
}

// soakAMAlert is an alert Alertmanager holds for a group.
type soakAMAlert struct {
	instance int
	starts   time.Time
	ends     time.Time // zero while it fires
}

// soakAM is the fake Alertmanager API: it lists the alerts that fire now.
type soakAM struct {
	url    string
	mu     sync.Mutex
	held   map[int][]*soakAMAlert // by group
	asked  int
	status int
	// down: its API answers 503 (an outage, PAGERD_SOAK_AM_DOWN).
	down    bool
	refused int
	// outages are the outages as they happened: start, end.
	outages [][2]time.Time
}

func newSoakAM() *soakAM { return &soakAM{held: map[int][]*soakAMAlert{}} }

func soakGroupLabels(group, instance int) map[string]string {
	return map[string]string{"alertname": "SoakGroup", "severity": "critical", "soakgroup": fmt.Sprintf("g%d", group), "instance": fmt.Sprintf("i%d", instance)}
}

func soakFingerprint(group, instance int) string {
	return fmt.Sprintf("%016x", uint64(group)<<8|uint64(instance)+1<<40)
}

// ServeHTTP answers GET /api/v2/status (started an hour ago, one config
// that never changes, so the config watch sweeps nothing) and GET
// /api/v2/alerts (the alerts firing now whose labels match the filters;
// Alertmanager lists no resolved alert).
func (am *soakAM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	am.mu.Lock()
	defer am.mu.Unlock()
	if am.down {
		am.refused++
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/api/v2/status":
		am.status++
		cfg, _ := json.Marshal("route:\n  receiver: pagerd\n  group_by: [soakgroup]\n")
		fmt.Fprintf(w, `{"cluster":{"peers":[],"status":"disabled"},"config":{"original":%s},"uptime":%q,"versionInfo":{"version":"0.25.0"}}`,
			cfg, time.Now().Add(-time.Hour).UTC().Format("2006-01-02T15:04:05.000Z07:00"))
		return
	case "/api/v2/alerts":
	default:
		http.NotFound(w, r)
		return
	}
	am.asked++
	filters := map[string]string{}
	for _, m := range r.URL.Query()["filter"] {
		name, quoted, _ := strings.Cut(m, "=")
		v, err := strconv.Unquote(quoted)
		if err != nil {
			http.Error(w, "bad filter "+m, http.StatusBadRequest)
			return
		}
		filters[name] = v
	}
	out := []any{}
	for g, held := range am.held {
		for _, a := range held {
			if !a.ends.IsZero() {
				continue
			}
			labels := soakGroupLabels(g, a.instance)
			match := true
			for k, v := range filters {
				match = match && labels[k] == v
			}
			if match {
				out = append(out, map[string]any{"labels": labels, "status": map[string]any{"state": "active"},
					"startsAt": a.starts.UTC().Format(time.RFC3339Nano), "endsAt": time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339Nano),
					"fingerprint": soakFingerprint(g, a.instance), "receivers": []any{map[string]string{"name": "pagerd"}}})
			}
		}
	}
	_ = json.NewEncoder(w).Encode(out)
}

// planAMOutages plans the fake Alertmanager's outages when
// PAGERD_SOAK_AM_DOWN is set: one every 40-80 s, 5-30 s long, from their
// own stream of the seed (the groups' schedule replays with or without).
// A withheld resolve then cannot be confirmed, and pagerd asks again a
// minute later (amresolve.RecheckEvery): a flap meanwhile repeats the
// incident still open, and pages nobody (docs/CONFIG.md).
func planAMOutages(seed uint64, dur time.Duration) [][2]time.Duration {
	if soakEnv("PAGERD_SOAK_AM_DOWN", "") == "" {
		return nil
	}
	rng := rand.New(rand.NewPCG(seed, 2))
	var out [][2]time.Duration
	for at := time.Duration(0); ; {
		at += time.Duration(40000+rng.IntN(40000)) * time.Millisecond
		length := time.Duration(5000+rng.IntN(25000)) * time.Millisecond
		// Every third outage outlasts pagerd's next question (a minute
		// later), so a resolve withheld early in it is still unconfirmed
		// when a late flap (61-90 s) comes.
		if len(out)%3 == 2 {
			length = time.Duration(70000+rng.IntN(30000)) * time.Millisecond
		}
		if at+length >= dur {
			return out
		}
		out = append(out, [2]time.Duration{at, length})
		at += length
	}
}

// runAMOutages takes the fake Alertmanager down as planned.
func (s *soak) runAMOutages(plan [][2]time.Duration, start time.Time) {
	for _, o := range plan {
		time.Sleep(time.Until(start.Add(o[0])))
		s.am.mu.Lock()
		s.am.down = true
		s.am.outages = append(s.am.outages, [2]time.Time{time.Now()})
		s.am.mu.Unlock()
		time.Sleep(o[1])
		s.am.mu.Lock()
		s.am.down = false
		s.am.outages[len(s.am.outages)-1][1] = time.Now()
		s.am.mu.Unlock()
	}
}

// planGroups plans the groups from the seed: one starts every 2/rate s on
// average (a group makes about two incidents).
func planGroups(rng *rand.Rand, seed uint64, dur time.Duration, rate float64) []*soakGroup {
	var groups []*soakGroup
	late := rand.New(rand.NewPCG(seed, 3))
	for at, n := time.Duration(0), 0; ; n++ {
		at += time.Duration(rng.ExpFloat64() * 2 / rate * float64(time.Second))
		if at >= dur {
			break
		}
		g := &soakGroup{n: n, at: at, service: rng.IntN(soakPeople), size: 2 + rng.IntN(3), rng: rand.New(rand.NewPCG(seed, uint64(n)+100))}
		for e := 0; e < 3; e++ {
			ep := &soakEpisode{gap: time.Duration(500+rng.IntN(19500)) * time.Millisecond}
			// A quarter of the flaps come 61-90 s after the resolve
			// (their own stream: the rest of the plan draws as before),
			// and start whole (at most max_alerts alerts), so that a
			// resolve withheld while Alertmanager was down meets pagerd's
			// end-of-group reading at their first notification. Not near
			// the end: the soak keeps its length.
			if e > 0 && late.IntN(4) == 0 && g.at+3*time.Minute < dur {
				ep.gap, ep.late = time.Duration(61000+late.IntN(29000))*time.Millisecond, true
			}
			order := rng.Perm(g.size)
			k := 1 + rng.IntN(g.size)
			if ep.late {
				k = min(k, soakMaxAlerts)
			}
			ep.initial = slices.Clone(order[:k])
			firing := slices.Clone(order[:k])
			waiting := slices.Clone(order[k:])
			for range rng.IntN(4) {
				var tick [2][]int
				if len(waiting) > 0 && rng.IntN(2) == 0 {
					tick[0] = []int{waiting[0]}
					firing, waiting = append(firing, waiting[0]), waiting[1:]
				}
				// One or two resolve (so that two resolved alerts
				// may fill the notification while one fires).
				if len(firing) > 1 && rng.IntN(2) == 0 {
					for range 1 + rng.IntN(min(2, len(firing)-1)) {
						i := rng.IntN(len(firing))
						tick[1] = append(tick[1], firing[i])
						firing = slices.Delete(firing, i, i+1)
					}
				}
				ep.ticks = append(ep.ticks, tick)
			}
			if rng.Float64() < 0.35 {
				ep.ackAfter = time.Duration(200+rng.IntN(12000)) * time.Millisecond
			}
			g.episodes = append(g.episodes, ep)
			if rng.IntN(2) == 0 {
				break
			}
		}
		groups = append(groups, g)
	}
	return groups
}

// runGroup sends a group's notifications, episode after episode, one at a
// time as Alertmanager does (a flush waits for the one before).
func (s *soak) runGroup(g *soakGroup, start time.Time) {
	time.Sleep(time.Until(start.Add(g.at)))
	var acks sync.WaitGroup
	defer acks.Wait()
	var prevEnd time.Time
	for _, ep := range g.episodes {
		if !prevEnd.IsZero() {
			time.Sleep(time.Until(prevEnd.Add(ep.gap)))
		}
		s.amChange(g, ep.initial, nil)
		first := s.notifyGroup(g, ep, false)
		if ep.ackAfter > 0 && ep.incident != "" {
			acks.Add(1)
			go func() {
				defer acks.Done()
				time.Sleep(time.Until(first.Add(ep.ackAfter)))
				s.ackEpisode(g, ep)
			}()
		}
		for _, tick := range ep.ticks {
			time.Sleep(time.Until(ep.notes[len(ep.notes)-1].sent.Add(soakGroupInterval)))
			s.amChange(g, tick[0], tick[1])
			s.notifyGroup(g, ep, false)
		}
		time.Sleep(time.Until(ep.notes[len(ep.notes)-1].sent.Add(soakGroupInterval)))
		s.am.mu.Lock()
		var all []int
		for _, a := range s.am.held[g.n] {
			if a.ends.IsZero() {
				all = append(all, a.instance)
			}
		}
		s.am.mu.Unlock()
		s.amChange(g, nil, all)
		s.notifyGroup(g, ep, true)
		prevEnd = time.Now()
	}
}

// amChange makes alerts fire (anew: a new start) and resolve.
func (s *soak) amChange(g *soakGroup, fire, resolve []int) {
	now := time.Now()
	s.am.mu.Lock()
	defer s.am.mu.Unlock()
	held := s.am.held[g.n]
	for _, i := range fire {
		held = slices.DeleteFunc(held, func(a *soakAMAlert) bool { return a.instance == i })
		held = append(held, &soakAMAlert{instance: i, starts: now})
	}
	for _, a := range held {
		if slices.Contains(resolve, a.instance) && a.ends.IsZero() {
			a.ends = now
		}
	}
	sort.Slice(held, func(i, j int) bool { return held[i].instance < held[j].instance })
	s.am.held[g.n] = held
}

// notifyGroup sends the group as Alertmanager holds it now, and returns
// when it was answered.
func (s *soak) notifyGroup(g *soakGroup, ep *soakEpisode, last bool) time.Time {
	s.am.mu.Lock()
	held := slices.Clone(s.am.held[g.n])
	heldEnds := make([]time.Time, len(held))
	for i, a := range held {
		heldEnds[i] = a.ends
	}
	s.am.mu.Unlock()
	listed := held
	truncated := 0
	if len(listed) > soakMaxAlerts {
		listed, truncated = listed[:soakMaxAlerts], len(listed)-soakMaxAlerts
	}
	status := "resolved"
	var parts, desc []string
	for _, a := range listed {
		st, ends := "resolved", a.ends.UTC().Format(time.RFC3339Nano)
		if a.ends.IsZero() {
			st, ends, status = "firing", "0001-01-01T00:00:00Z", "firing"
		}
		lb, _ := json.Marshal(soakGroupLabels(g.n, a.instance))
		parts = append(parts, fmt.Sprintf(`{"status":%q,"labels":%s,"annotations":{"summary":"soak group %d alert i%d"},"startsAt":%q,"endsAt":%q,"generatorURL":"http://prometheus/g","fingerprint":%q}`,
			st, lb, g.n, a.instance, a.starts.UTC().Format(time.RFC3339Nano), ends, soakFingerprint(g.n, a.instance)))
		desc = append(desc, fmt.Sprintf("i%d=%s", a.instance, st))
	}
	common := `{"alertname":"SoakGroup","severity":"critical","soakgroup":"g` + strconv.Itoa(g.n) + `"}`
	if len(listed) == 1 {
		cb, _ := json.Marshal(soakGroupLabels(g.n, listed[0].instance))
		common = string(cb)
	}
	body := fmt.Sprintf(`{"version":"4","groupKey":"{}:{soakgroup=\"g%d\"}","truncatedAlerts":%d,"status":%q,"receiver":"pagerd","externalURL":"http://am",`+
		`"groupLabels":{"soakgroup":"g%d"},"commonLabels":%s,"commonAnnotations":{},"alerts":[%s]}`,
		g.n, truncated, status, g.n, common, strings.Join(parts, ","))
	n := &soakNote{sent: time.Now(), status: status, truncated: truncated, listed: strings.Join(desc, ","), last: last, held: held, heldEnds: heldEnds}
	ep.notes = append(ep.notes, n)
	code, answer := s.post(g.rng, "/api/v1/alertmanager", soakKey(g.service), body, &n.codes)
	if code/100 != 2 {
		n.refused = fmt.Sprintf("%d %s", code, answer)
		return time.Time{}
	}
	n.answered = time.Now()
	var res struct{ Incidents, Resolved []string }
	if err := json.Unmarshal([]byte(answer), &res); err != nil {
		n.refused = fmt.Sprintf("%d but unreadable: %s", code, answer)
		return n.answered
	}
	n.incidents, n.resolved = res.Incidents, res.Resolved
	// In fingerprint mode an episode's incident (the one acknowledged)
	// is its first firing alert's.
	if status == "firing" && (len(res.Incidents) == 1 || s.key == "fingerprint" && len(res.Incidents) > 0) && ep.incident == "" {
		ep.incident = res.Incidents[0]
	}
	// Alertmanager drops the resolved alerts it notified (listed or
	// not), unless they changed since.
	s.am.mu.Lock()
	s.am.held[g.n] = slices.DeleteFunc(s.am.held[g.n], func(a *soakAMAlert) bool {
		return slices.ContainsFunc(held, func(b *soakAMAlert) bool { return b == a && !b.ends.IsZero() })
	})
	s.am.mu.Unlock()
	return n.answered
}

// ackEpisode acknowledges the episode's incident through the API.
func (s *soak) ackEpisode(g *soakGroup, ep *soakEpisode) {
	ep.ackSent = time.Now()
	code, body := s.post(g.rng, "/api/v1/incidents/"+ep.incident+"/acknowledge", soakToken,
		fmt.Sprintf(`{"user":%q}`, soakLevelPerson(g.service, 1)), &ep.ackStatus)
	ep.ackDone = time.Now()
	if code/100 != 2 {
		ep.ackErr = fmt.Sprintf("%d %s", code, body)
		return
	}
	ep.ackAnswer = ep.ackDone
}

// groupsQuiet is when the groups mode's quiet tail ends: each incident's
// ladder out as late as allowed, and a withheld resolve's question (done
// at once by a replica, or after a lease when its replica died) answered.
func (s *soak) groupsQuiet(groups []*soakGroup, quiet time.Time) time.Time {
	for _, g := range groups {
		for _, ep := range g.episodes {
			for _, n := range ep.notes {
				if n.answered.IsZero() {
					continue
				}
				until := n.answered.Add(soakLease + soakSlack + 2*time.Second)
				if n.status == "firing" {
					due := n.answered.Add(soakLadder[len(soakLadder)-1].at)
					until = due.Add(s.allowance(due) + time.Second)
				}
				if until.After(quiet) {
					quiet = until
				}
			}
		}
	}
	// A question Alertmanager's outage refused is asked again a minute
	// later.
	s.am.mu.Lock()
	defer s.am.mu.Unlock()
	for _, o := range s.am.outages {
		until := o[1].Add(time.Minute + soakLease + soakSlack + 2*time.Second)
		if s.key == "fingerprint" {
			// And the overflow incident that question may open pages
			// its ladder.
			due := until.Add(soakLadder[len(soakLadder)-1].at)
			until = due.Add(s.allowance(due) + time.Second)
		}
		if until.After(quiet) {
			quiet = until
		}
	}
	return quiet
}

// firstAt is when inc's timeline first has an entry of one of types
// (zero when it has none).
func firstAt(inc incidentDetail, types ...string) time.Time {
	for _, e := range inc.Timeline {
		if slices.Contains(types, e.Type) {
			return e.At
		}
	}
	return time.Time{}
}

// judgeGroups checks the groups' incidents against what pagerd documents
// (the header comment), and turns each incident into a soakAlert for the
// checks of its pages that every mode makes.
func (s *soak) judgeGroups(groups []*soakGroup, start time.Time) ([]*soakAlert, []soakProblem) {
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
			problem(id, "incident %s, named in an answer, which the API does not have: %d %.300s", id, code, body)
			return inc, false
		}
		details[id] = inc
		return inc, true
	}
	at := func(t time.Time) string { return soakAt(t, start) }
	type incUse struct {
		g         *soakGroup
		eps       []*soakEpisode
		answered  time.Time
		ackSent   time.Time
		ackAnswer time.Time
	}
	uses := map[string]*incUse{}
	// moved is a late flap's incident when a later notification than its
	// first read the group's end (the first, cut, a repeat).
	moved := map[*soakEpisode]string{}
	// groupEndedBy is the resolve_confirmed entry of pagerd's
	// end-of-group reading (endIfGroupEnded) in id's timeline, if any.
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
	var order []string
	for _, g := range groups {
		var prev string // the incident of the group's last episode that had one
		for ei, ep := range g.episodes {
			for ni, n := range ep.notes {
				what := fmt.Sprintf("group g%d (svc%d) episode %d notification %d (%s %s, truncated %d) sent %s", g.n, g.service, ei, ni, n.status, n.listed, n.truncated, at(n.sent))
				if n.answered.IsZero() {
					problem("", "%s not taken: %s (answers %v)", what, n.refused, n.codes)
					continue
				}
				if n.status != "firing" {
					continue
				}
				if len(n.incidents) != 1 {
					problem("", "%s answered %s with incidents %v, want one", what, at(n.answered), n.incidents)
					continue
				}
				id := n.incidents[0]
				if id != ep.incident {
					// A late flap's first notification cut (a resolved
					// alert Alertmanager still held) is a repeat of the
					// incident still open; its first whole one may read
					// the group's end, when nobody was told of the firing
					// meanwhile (docs/CONFIG.md): the old incident
					// resolved with that reason, the new one from then on.
					if ended := groupEndedBy(ep.incident); ep.late && ended != "" && uses[id] == nil {
						if pu := uses[ep.incident]; pu != nil {
							pu.eps = slices.DeleteFunc(pu.eps, func(e *soakEpisode) bool { return e == ep })
						}
						moved[ep] = id
						s.groupsLate[0]++
						s.groupsLate[1]++
					} else if moved[ep] != id {
						problem(id, "SPLIT: %s named %s, the episode's first firing %s", what, id, ep.incident)
					}
				}
				u := uses[id]
				if u == nil {
					u = &incUse{g: g, answered: n.answered}
					uses[id] = u
					order = append(order, id)
				}
				if u.g != g {
					problem(id, "%s named %s, an incident of group g%d", what, id, u.g.n)
				}
				if !slices.Contains(u.eps, ep) {
					u.eps = append(u.eps, ep)
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
				// Refused: only for an incident resolved before its
				// answer.
				if inc, ok := detail(ep.incident); ok {
					if r := firstAt(inc, "resolve"); r.IsZero() || r.After(ep.ackDone.Add(soakStampSlack)) {
						problem(ep.incident, "acknowledgement of %s (group g%d episode %d) sent %s refused: %s (answers %v), and it was not resolved before (%s)",
							ep.incident, g.n, ei, at(ep.ackSent), ep.ackErr, ep.ackStatus, at(r))
					}
				}
			}
			if prev != "" && ei > 0 && len(ep.notes) > 0 {
				first := ep.notes[0]
				p, ok := detail(prev)
				resolvedAt := firstAt(p, "resolve")
				what := fmt.Sprintf("group g%d (svc%d) episode %d's firing (sent %s, answered %s)", g.n, g.service, ei, at(first.sent), at(first.answered))
				// A flap a minute or more after a resolve pagerd
				// withheld, its incident still open (the question to
				// Alertmanager refused meanwhile): docs/CONFIG.md
				// "Groups larger than max_alerts". Sent whole, every
				// alert of it started after the resolve, it is the
				// group firing anew: when the incident pages nobody
				// any more (acknowledged, or its ladder over) it is
				// resolved (resolve_confirmed, why) and the firing
				// opens a new incident, paged from step 1 (the common
				// checks hold it to its ladder); while it still pages,
				// a repeat. The ladder is over by its last step's due
				// time plus the faults' allowance; before that, either
				// reading may be right.
				var prevEnd *soakNote
				if pe := g.episodes[ei-1].notes; len(pe) > 0 && pe[len(pe)-1].last {
					prevEnd = pe[len(pe)-1]
				}
				endedByFiring := ok && groupEndedBy(prev) != ""
				lateOpen := ok && prevEnd != nil && prevEnd.truncated > 0 && !prevEnd.answered.IsZero() &&
					first.sent.Sub(prevEnd.answered) >= time.Minute+soakStampSlack &&
					(resolvedAt.IsZero() || !resolvedAt.Before(first.sent.Add(-soakStampSlack)) && (endedByFiring || resolvedAt.After(first.answered.Add(soakStampSlack))))
				if lateOpen && first.truncated == 0 && !strings.Contains(first.listed, "=resolved") && !first.answered.IsZero() {
					s.groupsLate[0]++
					ackAt := firstAt(p, "ack")
					due := p.CreatedAt.Add(soakLadder[len(soakLadder)-1].at)
					quiet := !ackAt.IsZero() && ackAt.Before(first.sent.Add(-soakStampSlack)) || first.sent.After(due.Add(s.allowance(due)+time.Second))
					paging := ackAt.IsZero() || ackAt.After(first.answered.Add(soakStampSlack))
					paging = paging && !first.answered.After(due.Add(-soakStampSlack))
					switch {
					case ep.incident != prev:
						s.groupsLate[1]++
						if paging {
							problem(ep.incident, "NEW INCIDENT WHILE PAGING: %s, a minute or more after the resolve withheld at %s, opened %s while the group's %s still paged (created %s, acknowledged %s)",
								what, at(prevEnd.answered), ep.incident, prev, at(p.CreatedAt), at(ackAt))
						} else if !endedByFiring {
							problem(prev, "GROUP END UNSAID: %s opened %s, and the group's %s has no resolve_confirmed entry saying the group had ended (resolved %s)",
								what, ep.incident, prev, at(resolvedAt))
						}
					default:
						s.groupsLate[2]++
						if quiet {
							problem(prev, "REPEAT AFTER THE GROUP ENDED: %s, sent whole, every alert started a minute or more after the resolve withheld at %s, named %s, which paged nobody any more (created %s, acknowledged %s): a new outage, paged nobody",
								what, at(prevEnd.answered), prev, at(p.CreatedAt), at(ackAt))
						}
					}
				}
				switch {
				case !ok:
				case ep.incident == prev && !resolvedAt.IsZero() && resolvedAt.Before(first.sent.Add(-soakStampSlack)):
					problem(prev, "REPEAT OF A RESOLVED INCIDENT: %s named %s, resolved at %s", what, prev, at(resolvedAt))
				case ep.incident != prev && (resolvedAt.IsZero() || resolvedAt.After(first.answered.Add(soakStampSlack))):
					problem(ep.incident, "NEW INCIDENT WHILE OPEN: %s opened %s while the group's %s was open (resolved %s)", what, ep.incident, prev, at(resolvedAt))
				}
			}
			prev = ep.incident
			if m := moved[ep]; m != "" {
				prev = m
			}
		}
	}

	// Each incident's end: its first acknowledgement or resolve.
	var alerts []*soakAlert
	var confirm []time.Duration
	for i, id := range order {
		u := uses[id]
		inc, ok := detail(id)
		if !ok {
			continue
		}
		a := &soakAlert{n: i, service: u.g.service, answered: u.answered, sent: u.answered, incident: id}
		lastEp := u.eps[len(u.eps)-1]
		var end *soakNote
		if len(lastEp.notes) > 0 && lastEp.notes[len(lastEp.notes)-1].last {
			end = lastEp.notes[len(lastEp.notes)-1]
		}
		resolvedAt := firstAt(inc, "resolve")
		// Resolved before the last firing period it took ended: the
		// group still fired.
		if !resolvedAt.IsZero() && end != nil && resolvedAt.Before(end.sent.Add(-soakStampSlack)) {
			problem(id, "RESOLVED EARLY: %s (group g%d) resolved at %s, before its group's last resolved notification was sent at %s",
				id, u.g.n, at(resolvedAt), at(end.sent))
		}
		ended := end != nil && !end.answered.IsZero()
		// A later episode of the group may have taken it (a repeat)
		// after this one's end was answered: judged there.
		if ended && resolvedAt.IsZero() {
			problem(id, "NEVER RESOLVED: %s (group g%d) open, its group's resolve (%s, truncated %d) answered 2xx at %s",
				id, u.g.n, end.listed, end.truncated, at(end.answered))
		}
		// A resolve that a later firing's end-of-group reading made
		// is not Alertmanager's confirmation.
		if ended && !resolvedAt.IsZero() && end.truncated > 0 && groupEndedBy(id) == "" {
			confirm = append(confirm, resolvedAt.Sub(end.answered))
		}
		first := firstAt(inc, "ack", "resolve")
		switch {
		case first.IsZero():
		case !u.ackAnswer.IsZero() && !first.Before(u.ackSent.Add(-soakStampSlack)) && (resolvedAt.IsZero() || first.Before(resolvedAt)):
			a.end, a.endSent, a.endAnswer = "ack", u.ackSent, u.ackAnswer
		case first.Equal(resolvedAt) && end != nil:
			a.end, a.endSent, a.endAnswer = "resolve-am", end.sent, resolvedAt
			if end.answered.After(resolvedAt) {
				a.endAnswer = end.answered
			}
		}
		alerts = append(alerts, a)
	}
	slices.Sort(confirm)
	s.groupsConfirm = confirm
	return alerts, found
}

// groupsSummary logs what the groups sent.
func (s *soak) groupsSummary(groups []*soakGroup, seed uint64) {
	var episodes, notes, truncatedNotes, withheldNotes, repeats, acks, acksRefused, flaps, flapRepeats, lateFlaps int
	for _, g := range groups {
		episodes += len(g.episodes)
		flaps += len(g.episodes) - 1
		for ei, ep := range g.episodes {
			if ep.late && len(ep.notes) > 0 {
				lateFlaps++
			}
			if ei > 0 && ep.incident != "" && ep.incident == g.episodes[ei-1].incident {
				flapRepeats++
			}
			if !ep.ackAnswer.IsZero() {
				acks++
			} else if ep.ackErr != "" {
				acksRefused++
			}
			for i, n := range ep.notes {
				notes++
				if n.truncated > 0 {
					truncatedNotes++
				}
				if n.status == "resolved" && n.truncated > 0 {
					withheldNotes++
				}
				if n.status == "firing" && i > 0 {
					repeats++
				}
			}
		}
	}
	s.am.mu.Lock()
	asked, status, refused, outages := s.am.asked, s.am.status, s.am.refused, len(s.am.outages)
	var down time.Duration
	for _, o := range s.am.outages {
		down += o[1].Sub(o[0])
	}
	s.am.mu.Unlock()
	confirmed, late := "withheld resolve to its confirmation", "its incident"
	if s.key == "fingerprint" {
		// Per alert: an alert's resolve that no notification's answer
		// made, from the answer of the first notification after the
		// alert ended; and the late flaps' alerts.
		confirmed, late = "an alert's resolve Alertmanager confirmed, from the first answer after its end,", "an alert's incident"
	}
	s.t.Logf("soak groups, seed %d: groups %d, episodes %d (flaps %d, of which repeated the incident still open %d), notifications %d (firing after the first of an episode %d, with truncatedAlerts > 0 %d, resolved with alerts left out %d); "+
		"acknowledgements taken %d, refused %d (the incident resolved first); Alertmanager asked for alerts %d times, for its status %d, refused %d (%d outages, %v); %s p50 %v p99 %v max %v (%d); "+
		"flaps 61-90 s after the resolve %d, of which after a withheld resolve, %s still open and the flap sent whole %d: a new incident (the group had ended) %d, a repeat of the one still paging %d",
		seed, len(groups), episodes, flaps, flapRepeats, notes, repeats, truncatedNotes, withheldNotes, acks, acksRefused, asked, status, refused, outages, down.Round(time.Second), confirmed,
		soakPct(s.groupsConfirm, .5), soakPct(s.groupsConfirm, .99), soakPct(s.groupsConfirm, 1), len(s.groupsConfirm),
		lateFlaps, late, s.groupsLate[0], s.groupsLate[1], s.groupsLate[2])
}
