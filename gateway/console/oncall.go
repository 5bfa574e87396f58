package console

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// holder is who holds a tier over a span, with how to reach them. From
// or Until is zero when the span has no such bound (a gap before a
// tier's first layer begins, or one that never ends).
type holder struct {
	Name, User  string
	From, Until time.Time
	Override    bool
	Reason      string
	Contacts    []contact
	Nobody      bool
	Backup      *policy.BackupContact
	PartFrom    bool // the span starts inside the day shown
	PartUntil   bool // the span ends inside the day shown
}

// contact is one of a person's channels. Only phone numbers are shown:
// other addresses (push topics, webhook URLs) may be secrets.
type contact struct {
	Channel, Via, Phone string
}

type tierNow struct {
	Tier      string
	Now, Next holder
}

type scheduleNow struct {
	Name, TimeZone string
	Tiers          []tierNow
}

// onCall is who is on call now and next, per schedule and tier, with
// their contact channels.
func (c *Console) onCall(w http.ResponseWriter, r *http.Request, v *viewer) {
	cfg := v.cfg
	now := c.o.Now()
	var out []scheduleNow
	for i := range cfg.Schedules {
		s := &cfg.Schedules[i]
		sv := scheduleNow{Name: s.Name, TimeZone: s.Location().String()}
		for _, t := range s.Tiers {
			cur, ok := s.OnCallTier(t.Name, now)
			if !ok {
				continue
			}
			tn := tierNow{Tier: t.DisplayTitle(), Now: holderOf(cfg, cur, s.Location())}
			if next, ok := s.NextOnCall(t.Name, cur.Until, now); ok {
				tn.Next = holderOf(cfg, next, s.Location())
			}
			sv.Tiers = append(sv.Tiers, tn)
		}
		out = append(out, sv)
	}
	c.render(w, http.StatusOK, "oncall.html", page{Title: "On call", Nav: "oncall", Viewer: v, Body: out})
}

// holderOf is a shift's holder, with their contacts. Bounds that stand
// for "forever" are left out, as GET /api/v1/oncall leaves them out.
func holderOf(cfg *policy.Config, sh policy.Shift, loc *time.Location) holder {
	h := holder{User: sh.User, From: policy.InstantIn(sh.From, loc), Until: policy.InstantIn(sh.Until, loc), Override: sh.Override != "", Reason: sh.Override, Nobody: sh.User == ""}
	if h.Nobody {
		h.Name = "nobody"
		return h
	}
	h.Name = cfg.UserName(sh.User)
	if u := cfg.User(sh.User); u != nil {
		h.Backup = u.Backup
		for _, ct := range u.Contacts {
			cv := contact{Channel: ct.Channel, Via: ct.Via}
			if (ct.Channel == policy.ChannelSMS || ct.Channel == policy.ChannelVoice) && strings.HasPrefix(ct.Address, "+") {
				cv.Phone = ct.Address
			}
			h.Contacts = append(h.Contacts, cv)
		}
	}
	return h
}

// calendarDay is one day of a schedule's calendar: per tier, who holds it
// that day.
type calendarDay struct {
	Date    time.Time
	Weekend bool
	Today   bool
	Cells   [][]holder
}

type calendarWeek struct {
	Start time.Time
	Days  []calendarDay
}

type overrideView struct {
	From, Until time.Time
	Tiers       []kv
	Reason      string
	Active      bool
}

type scheduleView struct {
	Name, TimeZone string
	Tiers          []string
	Weeks          []calendarWeek
	From           string
	WeeksN         int
	Prev, Next     string
	Overrides      []overrideView
	Schedules      []string
	// Runtime are the overrides made at run time, with Remove buttons;
	// Forms, when the viewer may change them, the forms to make more.
	Runtime []runtimeOverride
	Forms   *overrideForms
	// Changeable is false when no overrides service is wired.
	Changeable bool
}

// maxWeeks bounds a calendar.
const maxWeeks = 12

// schedule is a schedule's calendar for the weeks ahead, day by day, who
// holds each tier, overrides marked, and the overrides themselves.
func (c *Console) schedule(w http.ResponseWriter, r *http.Request, v *viewer) {
	s := v.cfg.Schedule(r.PathValue("name"))
	if s == nil {
		c.fail(w, r, v, http.StatusNotFound, "No such schedule.")
		return
	}
	// What a form did, said only if this session's redirect signed it.
	msg := r.URL.Query().Get("done")
	if msg != "" && !hmacEqual(r.URL.Query().Get("sig"), flashSig(v.cfg.Console.SessionKey, v.sess.Nonce, msg)) {
		msg = ""
	}
	c.renderSchedule(w, r, v, s, http.StatusOK, msg, "")
}

// renderSchedule renders the calendar page of s with a message.
func (c *Console) renderSchedule(w http.ResponseWriter, r *http.Request, v *viewer, s *policy.Schedule, code int, msg, errMsg string) {
	cfg := v.cfg
	loc := s.Location()
	q := r.URL.Query()
	weeks := 4
	if n, err := strconv.Atoi(q.Get("weeks")); err == nil && n >= 1 && n <= maxWeeks {
		weeks = n
	}
	now := c.o.Now()
	start := policy.DateOf(s.HandoffAtOrBefore(now).In(loc))
	if d, err := policy.ParseDate(q.Get("from")); err == nil && q.Get("from") != "" {
		start = d
	}
	from, until := start.In(loc), start.AddDays(7*weeks).In(loc)
	sv := scheduleView{Name: s.Name, TimeZone: loc.String(), From: start.String(), WeeksN: weeks,
		Prev: start.AddDays(-7 * weeks).String(), Next: start.AddDays(7 * weeks).String()}
	for i := range cfg.Schedules {
		sv.Schedules = append(sv.Schedules, cfg.Schedules[i].Name)
	}
	tierIdx := map[string]int{}
	for i, t := range s.Tiers {
		tierIdx[t.Name] = i
		sv.Tiers = append(sv.Tiers, t.DisplayTitle())
	}
	shifts := s.Shifts(from, until)
	today := policy.DateOf(now.In(loc))
	for wk := 0; wk < weeks; wk++ {
		week := calendarWeek{Start: start.AddDays(7 * wk).In(loc)}
		for day := 0; day < 7; day++ {
			d := start.AddDays(7*wk + day)
			ds, de := d.In(loc), d.AddDays(1).In(loc)
			cd := calendarDay{Date: ds, Weekend: d.Weekday() == time.Saturday || d.Weekday() == time.Sunday, Today: d == today,
				Cells: make([][]holder, len(s.Tiers))}
			for _, sh := range shifts {
				if !sh.From.Before(de) || !sh.Until.After(ds) {
					continue
				}
				h := holderOf(cfg, sh, loc)
				h.Contacts = nil
				h.PartFrom, h.PartUntil = sh.From.After(ds), sh.Until.Before(de)
				i := tierIdx[sh.Tier]
				cd.Cells[i] = append(cd.Cells[i], h)
			}
			week.Days = append(week.Days, cd)
		}
		sv.Weeks = append(sv.Weeks, week)
	}
	for i := range s.Overrides {
		o := &s.Overrides[i]
		if o.ID != "" {
			continue // made at run time: listed below, from the service
		}
		of, ou := s.OverrideSpan(o)
		if !ou.After(from) || !of.Before(until) {
			continue
		}
		ov := overrideView{From: of.In(loc), Until: ou.In(loc), Reason: o.Reason, Active: !of.After(now) && ou.After(now)}
		for _, t := range s.Tiers {
			if u, ok := o.Tiers[t.Name]; ok && u != "" {
				ov.Tiers = append(ov.Tiers, kv{t.DisplayTitle(), cfg.UserName(u)})
			}
		}
		sv.Overrides = append(sv.Overrides, ov)
	}
	if c.o.Overrides != nil {
		sv.Changeable = true
		rt, err := c.runtimeOverrides(r.Context(), cfg, s)
		if err != nil {
			c.failErr(w, r, v, err)
			return
		}
		sv.Runtime = rt
		if v.CanAct() {
			sv.Forms = forms(cfg, s, now)
		}
	}
	c.render(w, code, "schedule.html", page{Title: "Schedule " + s.Name, Nav: "oncall", Viewer: v, Body: sv, Message: msg, Error: errMsg})
}
