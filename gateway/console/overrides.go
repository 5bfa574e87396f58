package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pagerd/pagerd/gateway/overrides"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// Overrides is what the console needs of the run-time overrides' service
// (overrides.Service): the same calls the overrides API makes, so an
// override made in the console is kept, merged and paged from exactly as
// one made through the API.
type Overrides interface {
	List(ctx context.Context, schedule string, ended bool) ([]overrides.Override, error)
	Create(ctx context.Context, schedule string, req overrides.Request, actor string) ([]overrides.Override, error)
	Delete(ctx context.Context, schedule, id, actor string) ([]overrides.Override, error)
}

// formTime is how an <input type="datetime-local"> sends a time: on the
// schedule's clock, which the form says.
const formTime = "2006-01-02T15:04"

// runtimeOverride is a run-time override as the schedule page lists it.
type runtimeOverride struct {
	ID, Tier, Name, Replaces, Reason, CreatedBy string
	From, Until, CreatedAt                      time.Time
	Swap                                        bool
	// Active: it holds the tier now. LeftOut: why it holds nothing (a
	// reload took its tier or user away; overrides.LeftOut).
	Active  bool
	LeftOut string
}

// overrideForms is what the schedule page's forms offer.
type overrideForms struct {
	Tiers []kv // name, title
	Users []kv // id, display name
	// Now and Later prefill the form: now, and four hours on, on the
	// schedule's clock.
	Now, Later string
}

// runtimeOverrides lists a schedule's run-time overrides that have not
// ended, on the schedule's clock.
func (c *Console) runtimeOverrides(ctx context.Context, cfg *policy.Config, s *policy.Schedule) ([]runtimeOverride, error) {
	list, err := c.o.Overrides.List(ctx, s.Name, false)
	if err != nil {
		return nil, err
	}
	loc, now := s.Location(), c.o.Now()
	out := make([]runtimeOverride, 0, len(list))
	for _, o := range list {
		ro := runtimeOverride{ID: o.ID, Tier: o.Tier, Name: cfg.UserName(o.User), Reason: o.Reason, CreatedBy: cfg.UserName(o.CreatedBy),
			From: o.Start.In(loc), Until: o.End.In(loc), CreatedAt: o.CreatedAt.In(loc), Swap: o.Swap != "",
			LeftOut: overrides.LeftOut(cfg, o)}
		ro.Active = ro.LeftOut == "" && !o.Start.After(now) && o.End.After(now)
		if o.Replaces != "" {
			ro.Replaces = cfg.UserName(o.Replaces)
		}
		if t := s.Tier(o.Tier); t != nil {
			ro.Tier = t.DisplayTitle()
		}
		out = append(out, ro)
	}
	return out, nil
}

// forms are the choices of a schedule's override forms.
func forms(cfg *policy.Config, s *policy.Schedule, now time.Time) *overrideForms {
	f := &overrideForms{Now: now.In(s.Location()).Format(formTime), Later: now.Add(4 * time.Hour).In(s.Location()).Format(formTime)}
	for _, t := range s.Tiers {
		f.Tiers = append(f.Tiers, kv{t.Name, t.DisplayTitle()})
	}
	for i := range cfg.Users {
		f.Users = append(f.Users, kv{cfg.Users[i].ID, cfg.Users[i].DisplayName()})
	}
	return f
}

// addOverride answers the schedule page's override and swap forms: the
// overrides service makes them as the signed-in user.
func (c *Console) addOverride(w http.ResponseWriter, r *http.Request, v *viewer) {
	s, ok := c.overrideTarget(w, r, v)
	if !ok {
		return
	}
	f := r.PostForm
	loc := s.Location()
	req := overrides.Request{Tier: f.Get("tier"), User: f.Get("user"), Reason: strings.TrimSpace(f.Get("reason"))}
	var bad []string
	parse := func(name string, to *time.Time, required bool) {
		val := strings.TrimSpace(f.Get(name))
		if val == "" {
			if required {
				bad = append(bad, name+" is required")
			}
			return
		}
		wall, err := time.Parse(formTime, val)
		if err != nil {
			bad = append(bad, name+" "+val+" is not a date and time")
			return
		}
		// On the schedule's wall clock, as the config's times are: a time
		// the clocks skip (02:30 the night they spring forward) is the
		// first instant after the jump, not an hour before it, which
		// time.ParseInLocation gives west of UTC.
		*to = policy.DateOf(wall).At(policy.TimeOfDay{Hour: wall.Hour(), Minute: wall.Minute()}, loc)
	}
	parse("start", &req.Start, true)
	parse("end", &req.End, true)
	if f.Get("kind") == "swap" {
		parse("swap_start", &req.SwapStart, true)
		parse("swap_end", &req.SwapEnd, true)
	}
	if len(bad) > 0 {
		c.refused(w, r, v, s, http.StatusBadRequest, "Not made: "+strings.Join(bad, "; ")+".")
		return
	}
	made, err := c.o.Overrides.Create(r.Context(), s.Name, req, v.User.ID)
	if err != nil {
		c.overrideFailed(w, r, v, s, err)
		return
	}
	what := "Override made: " + v.cfg.UserName(made[0].User) + " holds " + req.Tier + " from " + made[0].Start.In(loc).Format("Mon 2 Jan 15:04") +
		" to " + made[0].End.In(loc).Format("Mon 2 Jan 15:04 MST") + "."
	if len(made) > 1 {
		what = "Swap made: " + v.cfg.UserName(made[0].User) + " and " + v.cfg.UserName(made[1].User) + " hold each other's shifts."
	}
	// Made all the same (the config says who may be paged), but whoever
	// made it is told, as the API's answer tells.
	for _, o := range made {
		for _, wn := range v.cfg.OnCallWarnings(o.User, o.Tier, o.Replaces) {
			what += " Warning: " + wn + "."
		}
	}
	c.redirectSchedule(w, r, v, s, what)
}

// deleteOverride answers a Remove button: the override goes, and the
// other half of a swap with it.
func (c *Console) deleteOverride(w http.ResponseWriter, r *http.Request, v *viewer) {
	s, ok := c.overrideTarget(w, r, v)
	if !ok {
		return
	}
	gone, err := c.o.Overrides.Delete(r.Context(), s.Name, r.PathValue("id"), v.User.ID)
	if err != nil {
		c.overrideFailed(w, r, v, s, err)
		return
	}
	what := "Override removed."
	if len(gone) > 1 {
		what = "Swap removed: both its shifts are back to the rotation."
	}
	for _, o := range gone {
		if o.EndedBy != "" {
			// It was under way: ended now, what it held kept.
			what = "Override ended now; who held the tier until now stays on record."
			if len(gone) > 1 || o.Swap != "" {
				what = "Swap ended now: its shifts are back to the rotation from now on; who held them until now stays on record."
			}
		}
	}
	c.redirectSchedule(w, r, v, s, what)
}

// overrideTarget is the schedule a form acts on, if the viewer may.
func (c *Console) overrideTarget(w http.ResponseWriter, r *http.Request, v *viewer) (*policy.Schedule, bool) {
	if c.o.Overrides == nil {
		c.fail(w, r, v, http.StatusNotFound, "Overrides cannot be changed here.")
		return nil, false
	}
	if !v.CanAct() {
		c.fail(w, r, v, http.StatusForbidden, "Your role is "+string(v.Role)+": it may read, not change overrides. Ask an admin for the responder role (users[].role).")
		return nil, false
	}
	s := v.cfg.Schedule(r.PathValue("name"))
	if s == nil {
		c.fail(w, r, v, http.StatusNotFound, "No such schedule.")
		return nil, false
	}
	return s, true
}

// overrideFailed says why the service refused: its refusals say what to
// change; the store's say to retry.
func (c *Console) overrideFailed(w http.ResponseWriter, r *http.Request, v *viewer, s *policy.Schedule, err error) {
	switch {
	case errors.Is(err, overrides.ErrBadInput), errors.Is(err, overrides.ErrNotFound):
		c.refused(w, r, v, s, http.StatusBadRequest, "Not done: "+err.Error())
	case errors.Is(err, overrides.ErrOverlap), errors.Is(err, overrides.ErrEnded):
		c.refused(w, r, v, s, http.StatusConflict, "Not done: "+err.Error())
	case errors.Is(err, store.ErrConflict):
		c.refused(w, r, v, s, http.StatusServiceUnavailable, "The schedule's overrides kept changing: try again.")
	default:
		c.failErr(w, r, v, err)
	}
}

// redirectSchedule goes back to the calendar, saying what was done (POST,
// redirect, GET: a reload never acts twice). The message is signed for
// the session: the calendar shows no message a link of someone else's
// carries.
func (c *Console) redirectSchedule(w http.ResponseWriter, r *http.Request, v *viewer, s *policy.Schedule, msg string) {
	http.Redirect(w, r, c.public("/ui/schedules/"+url.PathEscape(s.Name)+"?done="+url.QueryEscape(msg)+
		"&sig="+flashSig(v.cfg.Console.SessionKey, v.sess.Nonce, msg)), http.StatusSeeOther)
}

// refused shows the calendar again with a refusal, as a 4xx.
func (c *Console) refused(w http.ResponseWriter, r *http.Request, v *viewer, s *policy.Schedule, code int, errMsg string) {
	r.URL.RawQuery = ""
	c.renderSchedule(w, r, v, s, code, "", errMsg)
}
