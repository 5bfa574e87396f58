package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/policy"
)

// listLimit is how many incidents of each status the list shows.
const listLimit = 100

// row is one incident in the list.
type row struct {
	ID, Priority, Summary, Service string
	Status                         policy.Status
	Created                        time.Time
	Age                            string
	// PagedLast is who was paged last, and on what; Next is the next
	// step and when it is due.
	PagedLast, Next string
	NextAt          time.Time
}

// listView is the incidents page.
type listView struct {
	Services   []string
	Priorities []string
	// The filters in force.
	Service, Priority, Status, Since string
	Groups                           []rowGroup
	Truncated                        bool
}

type rowGroup struct {
	Title string
	Rows  []row
}

// sinceChoices are the time filter's choices: incidents created within.
var sinceChoices = map[string]time.Duration{"1h": time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour}

// listedGroup is one status's part of the list, as read.
type listedGroup struct {
	title string
	incs  []*store.Incident
}

// errUnknownStatus is a status filter the list does not know.
var errUnknownStatus = errors.New("unknown status")

// listed reads what the list shows for the filters of q: the filters in
// force (lv, without its groups) and each group's incidents. The page
// and its version (incidentsVersion) read it alike, so the version moves
// exactly when what the page would show does.
func (c *Console) listed(ctx context.Context, cfg *policy.Config, q url.Values) (listView, []listedGroup, error) {
	lv := listView{Service: q.Get("service"), Priority: q.Get("priority"), Status: q.Get("status"), Since: q.Get("since")}
	seenP := map[string]bool{}
	for i := range cfg.Services {
		s := &cfg.Services[i]
		lv.Services = append(lv.Services, s.Name)
		for _, p := range s.Scheme().Priorities {
			if !seenP[p] {
				seenP[p] = true
				lv.Priorities = append(lv.Priorities, p)
			}
		}
	}
	if lv.Since == "" {
		lv.Since = "7d"
	}
	f := store.Filter{Service: lv.Service, Priority: lv.Priority, Limit: listLimit + 1}
	if d, ok := sinceChoices[lv.Since]; ok {
		f.Since = c.o.Now().Add(-d)
	} else {
		lv.Since = "all"
	}
	type part struct {
		title  string
		status policy.Status
	}
	var parts []part
	switch lv.Status {
	case "", "all":
		lv.Status = "all"
		parts = []part{{"Triggered", policy.StatusTriggered}, {"Acknowledged", policy.StatusAcknowledged}, {"Resolved", policy.StatusResolved}}
	case "open":
		parts = []part{{"Triggered", policy.StatusTriggered}, {"Acknowledged", policy.StatusAcknowledged}}
	case string(policy.StatusTriggered), string(policy.StatusAcknowledged), string(policy.StatusResolved):
		parts = []part{{strings.ToUpper(lv.Status[:1]) + lv.Status[1:], policy.Status(lv.Status)}}
	default:
		return lv, nil, errUnknownStatus
	}
	// Triggered and acknowledged incidents are read together, in one
	// read (store.Filter.Open): read one status after the other, an
	// incident re-opened (or acknowledged) between the two reads was in
	// neither (or both), and a re-opened one, paging again, was missing
	// from the page.
	var open map[policy.Status][]*store.Incident
	if len(parts) > 1 {
		ff := f
		ff.Open, ff.Since, ff.Limit = true, time.Time{}, 2*listLimit+1
		incs, err := c.o.Incidents.List(ctx, ff)
		if err != nil {
			return lv, nil, err
		}
		if len(incs) > 2*listLimit {
			incs, lv.Truncated = incs[:2*listLimit], true
		}
		open = map[policy.Status][]*store.Incident{policy.StatusTriggered: nil, policy.StatusAcknowledged: nil}
		for _, inc := range incs {
			if _, ok := open[inc.State.Status]; ok {
				open[inc.State.Status] = append(open[inc.State.Status], inc)
			}
		}
	}
	var groups []listedGroup
	for _, p := range parts {
		ff := f
		ff.Status = p.status
		if p.status != policy.StatusResolved {
			// Open incidents are shown whatever their age: an incident
			// open for a week still needs someone.
			ff.Since = time.Time{}
		}
		incs, read := open[p.status]
		if !read {
			var err error
			if incs, err = c.o.Incidents.List(ctx, ff); err != nil {
				return lv, nil, err
			}
		}
		if len(incs) > listLimit {
			incs, lv.Truncated = incs[:listLimit], true
		}
		groups = append(groups, listedGroup{title: p.title, incs: incs})
	}
	return lv, groups, nil
}

// listVersion is what the list's version is made of: each listed
// incident's id, version and status, group by group, and whether some
// were left out. Any write to a listed incident moves it, and so does an
// incident coming into the list or leaving it. While it lists any
// incident, so does the minute of now: the rows' ages move with it, and
// so does "paged last" when an alert-storm message goes out (its notes
// are written in the incidents' timelines, which do not change their
// versions), so a NOC screen is never more than a minute stale.
func listVersion(lv listView, groups []listedGroup, now time.Time) string {
	h := sha256.New()
	listed := false
	for _, g := range groups {
		fmt.Fprintf(h, "%s\n", g.title)
		for _, inc := range g.incs {
			fmt.Fprintf(h, "%s %d %s\n", inc.ID, inc.Version, inc.State.Status)
			listed = true
		}
	}
	fmt.Fprintf(h, "%t\n", lv.Truncated)
	if listed {
		fmt.Fprintf(h, "%d\n", now.Unix()/60)
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// listQuery is the list's filters as a query string, in force as the
// page shows them: what its version is asked with.
func listQuery(lv listView) string {
	return url.Values{"service": {lv.Service}, "priority": {lv.Priority}, "status": {lv.Status}, "since": {lv.Since}}.Encode()
}

// incidents is the list: open incidents first (triggered, then
// acknowledged, newest first in each), then the resolved ones of the
// period, filtered by service, priority, status and creation time. The
// page's script asks for its version (incidentsVersion) and puts the
// list made anew in place when it moves: someone watching the list
// (the NOC screen) sees new incidents, and changes to those listed,
// without reloading it.
func (c *Console) incidents(w http.ResponseWriter, r *http.Request, v *viewer) {
	cfg := v.cfg
	lv, groups, err := c.listed(r.Context(), cfg, r.URL.Query())
	switch {
	case errors.Is(err, errUnknownStatus):
		c.fail(w, r, v, http.StatusBadRequest, "Unknown status: use all, open, triggered, acknowledged or resolved.")
		return
	case err != nil:
		c.failErr(w, r, v, err)
		return
	}
	now := c.o.Now()
	for _, lg := range groups {
		g := rowGroup{Title: lg.title}
		paged := c.pagedLastOf(r.Context(), cfg, lg.incs, v.loc())
		for i, inc := range lg.incs {
			rw := row{ID: inc.ID, Priority: inc.State.Priority, Summary: inc.Summary, Service: inc.Service,
				Status: inc.State.Status, Created: inc.CreatedAt, Age: age(now.Sub(inc.CreatedAt))}
			if inc.Open() {
				rw.PagedLast = paged[i]
				if d, ok := nextStep(inc); ok {
					rw.Next, rw.NextAt = describeDeadline(cfg, &inc.State, d), d.At
				}
			}
			g.Rows = append(g.Rows, rw)
		}
		lv.Groups = append(lv.Groups, g)
	}
	c.render(w, http.StatusOK, "incidents.html", page{Title: "Incidents", Nav: "incidents", Viewer: v, Body: lv,
		Refresh: c.public("/ui/incidents/version?" + listQuery(lv)), Version: listVersion(lv, groups, now), Swap: "incident-list",
		PollMS: c.o.ListPollInterval.Milliseconds()})
}

// incidentsVersion answers the list's script: the version of what the
// list with the request's filters shows (listVersion), which moves only
// when there is news. It reads the listed incidents as the page does,
// but not their timelines.
func (c *Console) incidentsVersion(w http.ResponseWriter, r *http.Request, v *viewer) {
	lv, groups, err := c.listed(r.Context(), v.cfg, r.URL.Query())
	switch {
	case errors.Is(err, errUnknownStatus):
		w.WriteHeader(http.StatusBadRequest)
		return
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case err != nil:
		c.log.Error("console: incident list version not read", "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(listVersion(lv, groups, c.o.Now())))
}

// timelineReads is how many timelines the incident list reads at once.
const timelineReads = 8

// pagedLastOf is pagedLast for each open incident of a list ("" for the
// others), their timelines read a few at a time: during a storm the list
// holds hundreds of open incidents, and one read after another kept the
// page waiting for all of their round trips. One timeline that cannot be
// read costs its row its "paged last", not the whole list its incidents.
func (c *Console) pagedLastOf(ctx context.Context, cfg *policy.Config, incs []*store.Incident, loc *time.Location) []string {
	out := make([]string, len(incs))
	sem := make(chan struct{}, timelineReads)
	var wg sync.WaitGroup
	for i, inc := range incs {
		if !inc.Open() {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			tl, err := c.o.Incidents.Timeline(ctx, inc.ID)
			if err != nil {
				c.log.Warn("console: timeline not read for the incident list", "incident", inc.ID, "err", err)
				return
			}
			out[i] = pagedLast(cfg, tl, loc)
		}()
	}
	wg.Wait()
	return out
}

// pagedLast is who the latest page went to, on what, and when.
func pagedLast(cfg *policy.Config, tl []store.Entry, loc *time.Location) string {
	for i := len(tl) - 1; i >= 0; i-- {
		if e := tl[i]; e.Type == string(policy.ActionNotify) {
			return cfg.UserName(e.User) + " by " + e.Channel + " at " + e.At.In(loc).Format("15:04")
		}
	}
	return ""
}

// nextStep is an incident's next pending step that someone would notice:
// a page or an escalation, else whatever comes first.
func nextStep(inc *store.Incident) (policy.Deadline, bool) {
	var first *policy.Deadline
	for i := range inc.State.Pending {
		d := &inc.State.Pending[i]
		if d.Kind == policy.DeadlineSLA {
			continue
		}
		if first == nil || d.At.Before(first.At) {
			first = d
		}
	}
	if first == nil {
		return inc.State.Next()
	}
	return *first, true
}

// describeDeadline says what a pending step of the incident will do.
func describeDeadline(cfg *policy.Config, inc *policy.Incident, d policy.Deadline) string {
	switch d.Kind {
	case policy.DeadlineNotify:
		return "page " + cfg.UserName(d.User) + " by " + d.Channel
	case policy.DeadlineEscalate:
		// The deadline is the current level's timeout: the next one
		// takes over (where the engine finds it after a reload that
		// moved levels), or the ladder starts again after the last.
		switch next, name, ok := cfg.NextLevel(inc); {
		case !ok:
			return "escalate" // the service or its policy left the config
		case name != "":
			return "escalate to level " + strconv.Itoa(next+1) + " (" + name + ")"
		}
		return "page the ladder again from level 1"
	case policy.DeadlineUnresolved:
		return "page more people: still unresolved"
	case policy.DeadlineStatusUpdate:
		return "escalate: no status update"
	case policy.DeadlineSLA:
		return "SLA target due"
	case policy.DeadlineMaintenance:
		return "maintenance window ends"
	case policy.DeadlineOnCall:
		// What made the incident wait, as the look's entry will say:
		// the alert, a priority raise, a reopen, a window's end.
		return "look for someone on call: nobody was when " + inc.UnpagedWhat()
	}
	return string(d.Kind)
}

// age says how long ago, roughly: "3m", "2h 5m", "4d 3h".
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h " + strconv.Itoa(int(d%time.Hour/time.Minute)) + "m"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d " + strconv.Itoa(int(d%(24*time.Hour)/time.Hour)) + "h"
}

// incidentView is one incident's page.
type incidentView struct {
	Inc       *store.Incident
	LevelName string
	Age       string
	Details   details
	Timeline  []entryView
	Pending   []pendingView
	CanAck    bool
	CanClose  bool
	// Level is the level the page shows, counted from 1: its Escalate
	// button escalates from it, so a double submit escalates once.
	Level int
	// LevelSince is when that level started, as the page shows it
	// (RFC 3339, to the nanosecond as stored): the Escalate form carries
	// it too, so at the last level, where an escalation starts the level
	// again, a double submit escalates once as well.
	LevelSince string
}

type entryView struct {
	At                    time.Time
	Type, What, Actor     string
	Level                 int
	User, Channel, Detail string
	// Note is what the person wrote with an acknowledgement made in
	// another system (store.Entry.Note).
	Note  string
	Class string
}

type pendingView struct {
	At   time.Time
	What string
}

// entryWords name the timeline's entry types for people.
var entryWords = map[string]string{
	"trigger": "Triggered", "notify": "Paged", "notify_failed": "Page failed", "notify_shadow": "Page (shadow mode, not sent)", "notify_skipped": "Page skipped (a later step paged)",
	"escalate": "Escalated", "ack": "Acknowledged", "resolve": "Resolved", "status_update": "Status update", "note": "Note",
	"sla_breach": "SLA breached", "repeat": "Repeated", "delivery": "Delivery", "delivery_failed": "Not delivered", "report_applied": "Delivery report applied", "not_paged": "Not paged",
	"left_to_newer_config": "Left to a replica on a newer config",
	"already_acknowledged": "Not paged again (acknowledged)",
	"wait_on_call":         "Waiting for someone on call",
}

// incident is one incident: what it is about, its timeline, its next
// steps, and the buttons.
func (c *Console) incident(w http.ResponseWriter, r *http.Request, v *viewer) {
	id := r.PathValue("id")
	inc, err := c.o.Incidents.Get(r.Context(), id)
	if err != nil {
		c.failErr(w, r, v, err)
		return
	}
	tl, err := c.o.Incidents.Timeline(r.Context(), id)
	if err != nil {
		c.failErr(w, r, v, err)
		return
	}
	cfg := v.cfg
	iv := incidentView{Inc: inc, Level: inc.State.Level + 1, Age: age(c.o.Now().Sub(inc.CreatedAt)), Details: readDetails(inc.Details),
		CanAck: inc.State.Status == policy.StatusTriggered, CanClose: inc.Open()}
	if t := inc.State.LevelStartedAt; !t.IsZero() {
		iv.LevelSince = t.UTC().Format(time.RFC3339Nano)
	}
	iv.LevelName = cfg.IncidentLevelName(&inc.State)
	for _, e := range tl {
		ev := entryView{At: e.At, Type: e.Type, What: entryWords[e.Type], Actor: e.Actor, Level: e.Level, User: e.User,
			Channel: e.Channel, Detail: e.Detail, Note: e.Note, Class: strings.ReplaceAll(e.Type, "_", "-")}
		if ev.What == "" {
			ev.What = strings.ReplaceAll(e.Type, "_", " ")
		}
		if ev.User == ev.Actor || (e.Type != string(policy.ActionNotify) && e.Type != "notify_failed" && e.Type != "delivery" && e.Type != "delivery_failed" && e.Type != "escalate") {
			// The person acted: they are the actor. Only pages and
			// escalations say who they were for and at which level.
			ev.User, ev.Level = "", 0
		}
		if ev.User != "" {
			ev.User = cfg.UserName(ev.User)
		}
		if ev.Actor != "" && cfg.User(ev.Actor) != nil {
			ev.Actor = cfg.UserName(ev.Actor)
		}
		iv.Timeline = append(iv.Timeline, ev)
	}
	pend := append([]policy.Deadline(nil), inc.State.Pending...)
	sort.SliceStable(pend, func(i, j int) bool { return pend[i].At.Before(pend[j].At) })
	for _, d := range pend {
		iv.Pending = append(iv.Pending, pendingView{At: d.At, What: describeDeadline(cfg, &inc.State, d)})
	}
	p := page{Title: inc.State.Priority + " " + inc.Summary, Nav: "incidents", Viewer: v, Body: iv,
		Refresh: c.public("/ui/incidents/" + url.PathEscape(inc.ID) + "/version"), Version: strconv.FormatInt(inc.Version, 10)}
	// The message of the action that led here, in the URL: the page
	// refreshes at that URL (<noscript>) and can be shared, so what the
	// incident's state may have undone since (a reopen) is said only
	// while it still holds. It is signed for the session (flashSig), as
	// the calendar's are: a link made or shared by someone else says
	// nothing was done (an escalation, someone else on it) that was not.
	done := r.URL.Query().Get("done")
	if !hmacEqual(r.URL.Query().Get("sig"), flashSig(v.cfg.Console.SessionKey, v.sess.Nonce, "incident/"+inc.ID+"/"+done)) {
		done = ""
	}
	switch st := inc.State.Status; done {
	case "acknowledge":
		if st == policy.StatusAcknowledged {
			p.Message = "Acknowledged: every pending page of this incident is cancelled."
		}
	case "resolve":
		if st == policy.StatusResolved {
			p.Message = "Resolved."
		}
	case "escalate":
		p.Message = "Escalated."
	case "acknowledged-since":
		if st == policy.StatusAcknowledged {
			p.Message = "Not escalated: acknowledged by " + cfg.UserName(inc.State.AcknowledgedBy)
			if t := inc.State.AcknowledgedByAt(); !t.IsZero() {
				p.Message += " at " + at(v, t)
			}
			p.Message += ", since this page was shown. Escalate again to page the next level anyway."
		}
	case "status":
		p.Message = "Status update posted."
	case "nothing":
		p.Message = "Nothing changed: someone got there first."
		if (st == policy.StatusAcknowledged && inc.State.AcknowledgedBy == v.User.ID) || (st == policy.StatusResolved && inc.State.ResolvedBy == v.User.ID) {
			// A second press of their own (a double tap, a form sent
			// again): nobody else is on it.
			p.Message = "Nothing changed: you had done it already."
		}
	}
	c.render(w, http.StatusOK, "incident.html", p)
}

// incidentVersion answers the page's script: the incident's version, which
// changes with every write, so the page reloads only when there is news.
func (c *Console) incidentVersion(w http.ResponseWriter, r *http.Request, v *viewer) {
	inc, err := c.o.Incidents.Get(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, incident.ErrNotFound):
		// Gone (retention): the script stops asking.
		w.WriteHeader(http.StatusNotFound)
		return
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case err != nil:
		c.log.Error("console: incident version not read", "incident", r.PathValue("id"), "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(strconv.FormatInt(inc.Version, 10)))
}

// actions are the console's buttons, as the API names them.
var actions = map[string]policy.EventKind{
	"acknowledge": policy.EventAcknowledge,
	"resolve":     policy.EventResolve,
	"escalate":    policy.EventEscalate,
	"status":      policy.EventStatusUpdate,
}

// notRecorded answers a button whose action could not be stored, in the
// words every channel uses (notify.NotRecorded): not "try again" for an
// action the store did not confirm, which may have been stored (an
// escalation submitted again could escalate twice).
func (c *Console) notRecorded(w http.ResponseWriter, r *http.Request, v *viewer, id, action string, err error) {
	c.log.Error("console: action not recorded; the person was told so", "incident", id, "action", action, "user", v.User.ID, "err", err)
	what := "status update"
	if action != "status" {
		what = notify.Action(action).Noun()
	}
	code := http.StatusInternalServerError
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrConflict) {
		code = http.StatusServiceUnavailable
	}
	c.fail(w, r, v, code, notify.NotRecordedAnswer("Your "+what, incident.Classify(err)))
}

// act presses a button: the incident service applies the event as the
// signed-in user, then the incident page shows the result (POST, redirect,
// GET: a reload never acts twice).
func (c *Console) act(w http.ResponseWriter, r *http.Request, v *viewer) {
	kind, ok := actions[r.PathValue("action")]
	if !ok {
		c.fail(w, r, v, http.StatusNotFound, "Unknown action.")
		return
	}
	if !v.CanAct() {
		c.fail(w, r, v, http.StatusForbidden, "Your role is "+string(v.Role)+": it may read, not act. Ask an admin for the responder role (users[].role).")
		return
	}
	id := r.PathValue("id")
	ev := policy.Event{Kind: kind, Actor: v.User.ID, Message: strings.TrimSpace(r.PostForm.Get("message")), ToLevel: r.PostForm.Get("level")}
	if kind == policy.EventStatusUpdate && ev.Message == "" {
		c.fail(w, r, v, http.StatusBadRequest, "A status update needs a message.")
		return
	}
	if n, err := strconv.Atoi(r.PostForm.Get("from_level")); kind == policy.EventEscalate && err == nil && n >= 1 {
		// From the level the page showed: a double submit, or a page
		// that had not refreshed yet, does not escalate past the next.
		ev.FromLevel, ev.FromLevelSet = n-1, true
		if t, err := time.Parse(time.RFC3339Nano, r.PostForm.Get("from_level_at")); err == nil {
			// As of when it started, as the page showed it: at the
			// last level, which an escalation starts again, too.
			ev.FromLevelAt = t
		}
	}
	if n, err := strconv.Atoi(r.PostForm.Get("reopened")); kind == policy.EventEscalate && r.PostForm.Get("status") != "" && err == nil && n >= 0 {
		// As the page showed it: an incident acknowledged since has
		// someone on it, who did not ask for the next level.
		ev.SeenStatus, ev.SeenReopened = policy.Status(r.PostForm.Get("status")), n
	}
	if n, err := strconv.Atoi(r.PostForm.Get("reopened")); kind == policy.EventAcknowledge && err == nil && n >= 0 {
		// As the page showed it: an incident acknowledged and re-opened
		// since pages again for something this page did not show.
		ev.AckReopened, ev.AckReopenedSet = n, true
	}
	if kind == policy.EventResolve {
		// As the page showed it: an incident raised since (a more
		// severe alert joined it) is not the one the person judged over.
		ev.SeenPriority = r.PostForm.Get("priority")
	}
	inc, acts, err := c.o.Incidents.Apply(r.Context(), id, ev)
	done := r.PathValue("action")
	switch {
	case errors.Is(err, incident.ErrRaisedSince) && inc != nil:
		c.fail(w, r, v, http.StatusConflict, "Not resolved: the incident was raised to "+inc.State.Priority+" after this page showed it at "+ev.SeenPriority+
			", and it pages as such. Look at it again, and resolve it there if it is over.")
		return
	case errors.Is(err, incident.ErrReopenedSince):
		c.fail(w, r, v, http.StatusConflict, "Not acknowledged: the incident was acknowledged and re-opened after this page showed it, and it pages again. "+
			"Look at it again, and acknowledge it there to stop those pages.")
		return
	case errors.Is(err, incident.ErrAlreadyResolved), errors.Is(err, incident.ErrAlreadyEscalated):
		done = "nothing"
	case errors.Is(err, incident.ErrAcknowledgedSince):
		// The page as it is now, which shows the acknowledgement: its
		// Escalate escalates, if the person still wants to.
		done = "acknowledged-since"
	case errors.Is(err, incident.ErrBadInput), errors.Is(err, incident.ErrConflict):
		c.fail(w, r, v, http.StatusConflict, err.Error())
		return
	case err != nil && !errors.Is(err, incident.ErrNotFound):
		c.notRecorded(w, r, v, id, done, err)
		return
	case err != nil:
		c.failErr(w, r, v, err)
		return
	case len(acts) == 0:
		done = "nothing"
	}
	http.Redirect(w, r, c.public("/ui/incidents/"+url.PathEscape(id)+"?done="+done+
		"&sig="+flashSig(v.cfg.Console.SessionKey, v.sess.Nonce, "incident/"+id+"/"+done)), http.StatusSeeOther)
}
