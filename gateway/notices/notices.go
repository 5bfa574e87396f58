// Package notices sends shift notices: at each handoff of a schedule with
// `notices`, and a set time before a person's shift starts, the incoming
// person is told on their notice channel, and the team's Slack channel
// hears of the handoff. An override that changes a shift already announced
// before it is told at once: to its new holder, to the one who lost it and
// to the channel; so is one that changes the shift running now from a time
// before the job last ran, to its new holder and the channel. Each schedule's notices are one job in the store
// (kind "notice", keyed by the schedule): the dispatcher of one replica
// claims it when it is due, Handle sends what came due and says when the
// next notice is, so every notice goes out once across replicas, and one a
// replica died before sending goes out when the job's lease ends. A notice
// that fails is kept in the job and tried again, unless it may have been
// sent (notify.ErrMaybeSent: the provider took it and answered late),
// what it says of a person's shift is no longer so by its retry, or it is
// a notice before a shift that has begun by then (the handoff's tells).
// pagerd_shift_notices_total counts what became of each try, so a notice
// that never reached anyone shows outside the log too.
package notices

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/slack"
	"github.com/pagerd/pagerd/policy"
)

// Kind is the store job kind of shift notices.
const Kind = "notice"

// horizon is how far ahead the next notice is looked for; with none in it,
// the job looks again after idle.
const (
	horizon = 35 * 24 * time.Hour
	idle    = 24 * time.Hour
)

// maxAttempts is how many times a notice is tried before it is given up.
const maxAttempts = 6

// Options configure a Service.
type Options struct {
	Store store.Jobs
	// Config is the config pages go by: the file's, with the run-time
	// overrides merged in.
	Config func() *policy.Config
	// Notifiers are the transports by via, as the dispatcher sends on them.
	Notifiers map[string]notify.Notifier
	// Slack posts to the teams' channels (nil: Slack is not configured).
	Slack  *slack.Client
	Now    func() time.Time
	Logger *slog.Logger
	// Registry receives pagerd_shift_notices_total (default a new one).
	Registry prometheus.Registerer
	// Fresh, when set, reads a schedule's run-time overrides from the
	// store before its notice job is worked: an override made on another
	// replica a moment ago moves the job to now, and this replica may
	// claim it before it hears of the override (a broadcast, or a poll
	// up to 5 s later). Worked on the overrides it knew, the job found
	// nothing changed and stored its state as of now, so the change was
	// never told: no notice to the new holder, no "you are no longer on
	// call" to the one replaced.
	Fresh func(ctx context.Context, schedule string) error
	// NewerConfig, when set, names a live replica that runs a config
	// taken into use later than this one's (dispatch.Options.NewerConfig):
	// a job of a schedule without notices in this replica's config is
	// left to it rather than ended (see Handle).
	NewerConfig func(ctx context.Context) (replica string, ok bool)
}

// leftRetry is how soon a job this replica leaves to a replica on a newer
// config (Handle) comes due again, for that replica to claim.
const leftRetry = 10 * time.Second

// Service sends shift notices.
type Service struct {
	o     Options
	log   *slog.Logger
	tries *prometheus.CounterVec
}

// results are what a try of a notice comes to, as
// pagerd_shift_notices_total counts it.
var results = []string{"sent", "failed", "given_up", "maybe_sent", "dropped", "superseded", "shadow"}

// New makes a Service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	s := &Service{o: o, log: o.Logger,
		tries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pagerd_shift_notices_total",
			Help: "Shift notices by transport (slack for a team's channel) and result: sent, failed (tried again later), given_up (its last try failed), maybe_sent (the provider took it and answered late: not tried again), dropped (its shift was over before it went out), superseded (a retry not sent: the plan changed again since, and what it said is no longer so, or the shift it announced has begun, which the handoff notice tells) or shadow (not sent: the transport is dry_run)."},
			[]string{"via", "result"}),
	}
	o.Registry.MustRegister(s.tries)
	return s
}

// InitMetrics creates pagerd_shift_notices_total at zero, every result,
// for the transports notices can go through: each person's notice
// contact's, "none" (a person a notice cannot reach: an override to
// someone with no contact for it, or removed by a reload; an alert on
// increase() would miss its first loss if the series began at 1), and
// Slack's when a schedule tells a team's channel. The daemon calls it at
// start and at every reload.
func (s *Service) InitMetrics(cfg *policy.Config) {
	vias := map[string]bool{"none": true}
	for i := range cfg.Schedules {
		if n := cfg.Schedules[i].Notices; n != nil && n.SlackChannel != "" {
			vias["slack"] = true
		}
	}
	for i := range cfg.Users {
		if ct := NoticeContact(&cfg.Users[i]); ct != nil {
			vias[ct.Via] = true
		}
	}
	for via := range vias {
		for _, res := range results {
			s.tries.WithLabelValues(via, res)
		}
	}
}

// state is a notice job's data: every notice due up to Last was sent or is
// in Pending, to be tried again.
type state struct {
	Last time.Time `json:"last"`
	// Since is when the job began keeping Announced (zero in a job stored
	// by a pagerd before it: Handle sets it to Last).
	Since time.Time `json:"since,omitempty"`
	// Announced are the shifts not begun whose notice before them went out
	// (or is in Pending): what their holders and the team were told, to
	// tell them when an override changes it.
	Announced []announced `json:"announced,omitempty"`
	// Window is the notices' window in force at Last: which before
	// notices up to Last were due, so were sent if their shift was as it
	// is now (nil in a job stored by a pagerd before it: the config's).
	Window  *window   `json:"window,omitempty"`
	Pending []pending `json:"pending,omitempty"`
	// Holders are who held each tier told of at Last (User empty: nobody),
	// to tell whoever holds one now though no handoff to them came due
	// after Last: the plan changed from a time before it (an override
	// that starts before it was made, a reload that changed the running
	// shift). Held is false in a job stored by a pagerd before it, whose
	// next run takes the holders as they stand. Their Until is when each
	// holder's time on the tier ended as of Last, as they were told (see
	// extension).
	Holders []announced `json:"holders,omitempty"`
	Held    bool        `json:"held,omitempty"`
}

// holders are who holds each tier told of at t (User empty: nobody).
func holders(sc *policy.Schedule, t time.Time) []announced {
	var out []announced
	for _, tr := range sc.Tiers {
		if len(sc.Notices.Tiers) > 0 && !slices.Contains(sc.Notices.Tiers, tr.Name) {
			continue
		}
		if sh, ok := sc.OnCallTier(tr.Name, t); ok {
			a := announced{Tier: tr.Name, User: sh.User, From: sh.From}
			if end, capped := endOf(sc, sh); sh.User != "" && !capped {
				a.Until = end
			}
			out = append(out, a)
		}
	}
	return out
}

// window is which before notices a schedule's notices send: Before each
// shift of Tiers (empty: every tier).
type window struct {
	Before time.Duration `json:"before"`
	Tiers  []string      `json:"tiers,omitempty"`
}

// windowOf is the window of sc's notices as configured.
func windowOf(sc *policy.Schedule) *window {
	return &window{Before: time.Duration(sc.Notices.Before), Tiers: sc.Notices.Tiers}
}

// due is whether the notice before sh came due by last in w: whether its
// holder was told then, had it been theirs.
func (w *window) due(sh policy.Shift, last time.Time) bool {
	return w.Before > 0 && (len(w.Tiers) == 0 || slices.Contains(w.Tiers, sh.Tier)) && !sh.From.Add(-w.Before).After(last)
}

// announced is a shift whose holder was told, before it, that it starts.
type announced struct {
	Tier string    `json:"tier"`
	User string    `json:"user"`
	From time.Time `json:"from"`
	// Until, in Holders, is when the holder's time on the tier ends
	// (zero: not known, or open-ended).
	Until time.Time `json:"until,omitzero"`
}

// extension is a holder's time on a tier that the plan made longer since
// they were told when it ends: bob, on call this week and told so until
// Monday, is given the next week too by an override. No handoff comes
// to tell him (he holds the tier throughout), and he is the one paged.
type extension struct {
	Tier, User string
	// Was is when they were told it ended, Until when it ends now.
	Was, Until time.Time
	// Shift is the shift at Was, which makes it longer.
	Shift policy.Shift
}

// load reads a job's data; a job without any, or with data from a later
// clock, starts anew at now.
func load(data []byte, now time.Time) state {
	var st state
	if err := json.Unmarshal(data, &st); err != nil || st.Last.IsZero() || st.Last.After(now) {
		return state{Last: now, Since: now}
	}
	if st.Since.IsZero() {
		st.Since = st.Last
	}
	return st
}

// told is whether sh's holder was told before it that it starts.
func (st state) told(sh policy.Shift) bool {
	return slices.ContainsFunc(st.Announced, func(a announced) bool {
		return a.Tier == sh.Tier && a.User == sh.User && a.From.Equal(sh.From)
	})
}

// changes are how the plan as it stands now differs from what was
// announced before shifts that have not begun: late are the notices
// before a shift whose instant passed (between Since and Last) and whose
// holder was not told though the window then in force (st.Window) covered
// it, an override made inside the before window having given it to them;
// newly are those the window did not cover then, a reload having
// lengthened notices.before or added to notices.tiers since: no change to
// the plan, only notices not sent before; withdrawn are the announced
// shifts their holder no longer holds at their start; taken are the shifts
// held now by someone other than the holder at st.Last, the plan saying
// they held it then already (it changed from a time before st.Last), and
// no handoff to them comes due after it; extended are the holders now,
// the holders at st.Last too, whose time on the tier ends later than it
// did then (extension).
func changes(sc *policy.Schedule, st state, now time.Time) (late, newly []policy.ShiftNotice, withdrawn []announced, taken []policy.ShiftNotice, extended []extension) {
	then := st.Window
	if then == nil {
		then = windowOf(sc)
	}
	if before := time.Duration(sc.Notices.Before); before > 0 {
		from := now.Add(-before)
		if st.Since.After(from) {
			from = st.Since
		}
		for _, n := range sc.ShiftNotices(from, st.Last) {
			switch {
			case n.Kind != policy.NoticeBefore || !n.Shift.From.After(now) || st.told(n.Shift):
			case then.due(n.Shift, st.Last):
				late = append(late, n)
			default:
				newly = append(newly, n)
			}
		}
	}
	for _, a := range st.Announced {
		if !a.From.After(now) || sc.Tier(a.Tier) == nil || len(sc.Notices.Tiers) > 0 && !slices.Contains(sc.Notices.Tiers, a.Tier) {
			continue // begun, or a tier no longer told of (a reload)
		}
		// Still theirs if they hold the tier then, whenever their shift
		// now starts: one moved earlier is told as a new shift (late),
		// not as one taken from them.
		if sh, _ := sc.OnCallTier(a.Tier, a.From); sh.User != a.User {
			withdrawn = append(withdrawn, a)
		}
	}
	if st.Held {
		for _, h := range holders(sc, now) {
			i := slices.IndexFunc(st.Holders, func(a announced) bool { return a.Tier == h.Tier })
			if h.User == "" || i < 0 {
				continue // nobody, or a tier not told of at Last
			}
			if was := st.Holders[i]; was.User == h.User {
				if !was.Until.IsZero() && h.Until.After(was.Until) && !handedTo(sc, h, st.Last, now) {
					at, _ := sc.OnCallTier(h.Tier, was.Until)
					extended = append(extended, extension{Tier: h.Tier, User: h.User, Was: was.Until, Until: h.Until, Shift: at})
				}
				continue // no change of holder
			}
			if was, _ := sc.OnCallTier(h.Tier, st.Last); was.User != h.User {
				continue // handed to them after Last: a handoff notice of its own
			}
			if handedTo(sc, h, st.Last, now) {
				// They held it at Last, lost it and got it back since
				// (a run late, after an override that ended in the
				// gap): the handoff back to them after Last tells them,
				// and this would be a second "on call now".
				continue
			}
			sh, _ := sc.OnCallTier(h.Tier, now)
			taken = append(taken, policy.ShiftNotice{Kind: policy.NoticeHandoff, At: now, Shift: sh, Outgoing: st.Holders[i].User})
		}
	}
	return late, newly, withdrawn, taken, extended
}

// handedTo is whether a handoff of h's tier to h's holder came due in
// (last, now]: it tells them they are on call, and until when.
func handedTo(sc *policy.Schedule, h announced, last, now time.Time) bool {
	return slices.ContainsFunc(sc.ShiftNotices(last, now), func(n policy.ShiftNotice) bool {
		return n.Kind == policy.NoticeHandoff && n.Shift.Tier == h.Tier && n.Shift.User == h.User
	})
}

// pending is a notice that failed and is tried again at Retry.
type pending struct {
	// To is "user:<id>" or "slack:<channel>".
	To       string    `json:"to"`
	Subject  string    `json:"subject"`
	Text     string    `json:"text"`
	Due      time.Time `json:"due"`
	Until    time.Time `json:"until"` // pointless after: the shift is over
	Attempts int       `json:"attempts"`
	Retry    time.Time `json:"retry"`
	// Tier and From are the shift a notice to a person is about, and
	// Holds what it says of it: that the person holds the tier at From
	// (the notices before and at the shift), or that they no longer do
	// (a change). A try whose turn comes after the plan changed again
	// (an override deleted a moment after it was made, while the notice
	// of it waited for its retry) would tell the person what is no longer
	// so, after what is: it is not sent (untrue). Empty Tier: a team's
	// message, or one stored by a pagerd before it.
	Tier  string    `json:"tier,omitempty"`
	From  time.Time `json:"from,omitempty"`
	Holds bool      `json:"holds,omitempty"`
	// Before marks a notice before a shift, to its holder or the team's
	// (whose From is then when the shifts it tells of start): once From
	// has come, the notice at the handoff tells that the shift has begun,
	// and a retry of this one (the job run late: every replica down, the
	// store away) would be a second notice of the one shift, saying it is
	// still to come. False in one stored by a pagerd before it.
	Before bool `json:"before,omitempty"`
	// Parts, in a team's message of changes to the plan, are its parts,
	// each with the holder it names: a retry says only those still so
	// (plainly), and none when none is, so that the channel's last word
	// on a change undone since is not the stale one. Empty: another
	// message, or one stored by a pagerd before it.
	Parts []teamPart `json:"parts,omitempty"`
}

// teamPart is one change a team's message tells: User holds Tier from
// From, as Text says.
type teamPart struct {
	Text string    `json:"text"`
	Tier string    `json:"tier"`
	From time.Time `json:"from"`
	User string    `json:"user"`
}

// untrue is whether what p says of its person's shift is no longer so in
// sc as it stands: p's retry would contradict what they were told since.
// A team's message of changes is untrue when none of its parts is still
// so (current rewrites one of which some are).
func untrue(sc *policy.Schedule, p pending) bool {
	if strings.HasPrefix(p.To, "slack:") && len(p.Parts) > 0 {
		return len(current(sc, p.Parts)) == 0
	}
	user, ok := strings.CutPrefix(p.To, "user:")
	if !ok || p.Tier == "" {
		return false
	}
	sh, _ := sc.OnCallTier(p.Tier, p.From)
	return (sh.User == user) != p.Holds
}

// current are the parts still so in sc.
func current(sc *policy.Schedule, parts []teamPart) []teamPart {
	var out []teamPart
	for _, tp := range parts {
		if sh, _ := sc.OnCallTier(tp.Tier, tp.From); sh.User == tp.User {
			out = append(out, tp)
		}
	}
	return out
}

// teamMessage is the text of a team's message of changes: its head and
// its parts.
func teamMessage(head string, parts []teamPart) string {
	texts := make([]string, len(parts))
	for i, tp := range parts {
		texts[i] = tp.Text
	}
	return head + ": " + strings.Join(texts, "; ")
}

// Arm makes sure every schedule with notices has its job; a job already
// there is moved earlier if a notice is now due sooner (a changed config,
// a new override), and is otherwise left alone. The daemon calls it at
// start, on reload, every hour and when overrides change.
func (s *Service) Arm(ctx context.Context, schedules ...string) error {
	cfg := s.o.Config()
	var errs []error
	for i := range cfg.Schedules {
		sc := &cfg.Schedules[i]
		if sc.Notices == nil || (len(schedules) > 0 && !slices.Contains(schedules, sc.Name)) {
			continue
		}
		if err := s.arm(ctx, sc); err != nil {
			errs = append(errs, fmt.Errorf("notices of schedule %s: %w", sc.Name, err))
		}
	}
	return errors.Join(errs...)
}

// armTries bounds how often arm reads a schedule's job again after the
// store refused its write because the job changed since the read.
const armTries = 3

// arm stores sc's job if it is missing, or moves it earlier. The move is
// a compare-and-set (ReplaceJob) on the job as read: a dispatcher that
// claimed the job, sent its notices and stored what it sent between the
// read and the write keeps that state, where a plain write would bring
// back the state from before the notices went out, and they would go out
// again. A write refused is decided again on the job as it is now.
func (s *Service) arm(ctx context.Context, sc *policy.Schedule) error {
	refused := int64(-1)
	for range armTries {
		now := s.o.Now().UTC()
		j, err := s.o.Store.GetJob(ctx, Kind, sc.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// Added only if still missing: a job stored since the read
			// (by a dispatcher finishing it) keeps the state of what it
			// sent, and is decided on as read again.
			st := state{Last: now, Since: now, Holders: holders(sc, now), Held: true}
			added, err := s.o.Store.AddJob(ctx, store.Job{Kind: Kind, Key: sc.Name, Due: next(sc, st, now), Data: mustJSON(st)})
			if err != nil || added {
				return err
			}
			continue
		case err != nil:
			return err
		}
		if !j.Due.After(now) || j.Version == refused {
			// Due, or claimed (the write was refused on this very
			// version): a dispatcher works it now or is about to, and
			// works out its next due from the config as it is when it
			// ends (Handle).
			return nil
		}
		st := load(j.Data, now)
		due := next(sc, st, st.Last)
		if late, newly, withdrawn, taken, extended := changes(sc, st, now); len(late) > 0 || len(newly) > 0 || len(withdrawn) > 0 || len(taken) > 0 || len(extended) > 0 {
			// An override changed a shift whose notice before it is past
			// (Handle tells the new holder, the one who lost it and the
			// team), or one running now from before the job's last run, or
			// a reload widened the window over shifts not told.
			due = now
		}
		if !due.Before(j.Due) {
			return nil
		}
		j.Due = due
		replaced, err := s.o.Store.ReplaceJob(ctx, *j)
		if err != nil || replaced {
			return err
		}
		refused = j.Version
	}
	return fmt.Errorf("its job changed at each of %d tries to move it earlier", armTries)
}

// next is when the job is due next after t: its next notice or its first
// retry, or idle from now when there is neither.
func next(sc *policy.Schedule, st state, t time.Time) time.Time {
	due, ok := sc.NextNotice(t, horizon)
	if !ok {
		due = t.Add(idle)
	}
	for _, p := range st.Pending {
		if p.Retry.Before(due) {
			due = p.Retry
		}
	}
	return due
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// Handle is the dispatcher's handler of notice jobs: it sends the notices
// due since the job last ran (and those to try again), and returns the job
// due at the next notice. A schedule that no longer has notices ends its
// job.
func (s *Service) Handle(ctx context.Context, j *store.Job) (*store.Job, error) {
	if s.o.Fresh != nil {
		if err := s.o.Fresh(ctx, j.Key); err != nil {
			return nil, fmt.Errorf("shift notices of schedule %q: the run-time overrides were not read, so what changed is not known: %w", j.Key, err)
		}
	}
	cfg := s.o.Config()
	sc := cfg.Schedule(j.Key)
	if sc == nil || sc.Notices == nil {
		if s.o.NewerConfig != nil {
			if replica, ok := s.o.NewerConfig(ctx); ok {
				// This replica's config lags (a rollout that adds the
				// notices, a reload that failed here): ended, the job
				// lost the notice due now, which the newer replica's
				// arming never sends (its new job starts from then),
				// and what was announced. Left as it is for that
				// replica, and ended by it if its config has no
				// notices either.
				s.log.Info("shift notices not in this replica's config: job left to a replica on a newer config", "schedule", j.Key, "replica", replica)
				return &store.Job{Kind: Kind, Key: j.Key, Due: s.o.Now().UTC().Add(leftRetry), Data: j.Data}, nil
			}
		}
		return nil, nil
	}
	now := s.o.Now().UTC()
	due, st := work(cfg, sc, load(j.Data, now), now)
	for _, p := range due {
		if p.Retry.After(now) {
			st.Pending = append(st.Pending, p)
			continue
		}
		if p.Before && !p.From.After(now) {
			// The shift began before this try: the notice at its handoff
			// tells its holder, and the team, that it has; "your shift
			// starts in 1d" to ann, on call since, is a second notice.
			s.count(cfg, p, "superseded")
			s.log.Info("shift notice not sent: the shift it announces has begun", "schedule", sc.Name, "to", p.To, "due", p.Due, "attempts", p.Attempts)
			continue
		}
		if untrue(sc, p) {
			// The plan changed again before this try: ann told she lost
			// her shift, then given it back and told so, is not told
			// she lost it once more by its retry.
			s.count(cfg, p, "superseded")
			s.log.Info("shift notice not sent: the plan changed again since", "schedule", sc.Name, "to", p.To, "due", p.Due, "attempts", p.Attempts)
			continue
		}
		if len(p.Parts) > 0 {
			// A team's message says only the changes still so.
			p.Parts = current(sc, p.Parts)
			p.Text = teamMessage(p.Subject, p.Parts)
		}
		if by, ok := dispatch.SendBy(ctx); ok && s.o.Now().After(by) {
			// The claim's lease is nearly over: sent now, the notice could
			// go out again from the replica that takes the job over. It
			// is left, untried, to the job's next run, due at once.
			p.Retry = s.o.Now().UTC()
			st.Pending = append(st.Pending, p)
			continue
		}
		if !p.Until.After(now) {
			s.count(cfg, p, "dropped")
			s.log.Warn("shift notice dropped: the shift it is about is over", "schedule", sc.Name, "to", p.To, "due", p.Due)
			continue
		}
		shadow, err := s.send(ctx, cfg, p, now)
		switch {
		case err == nil && shadow:
			s.count(cfg, p, "shadow")
			continue
		case err == nil:
			s.count(cfg, p, "sent")
			continue
		}
		p.Attempts++
		switch {
		case errors.Is(err, notify.ErrMaybeSent):
			// The provider took the notice and answered late: it most
			// likely went out, and another try would be a second one.
			s.count(cfg, p, "maybe_sent")
			s.log.Warn("shift notice may have been sent; not sent again", "schedule", sc.Name, "to", p.To, "attempts", p.Attempts, "err", err)
			continue
		case p.Attempts >= maxAttempts || !notify.IsTemporary(err) && !errors.Is(err, notify.ErrOverRateLimit) && p.Attempts >= 2:
			// A failure not worth retrying still gets a second try: most
			// are refusals before the provider had the notice that a
			// minute can end (an open circuit, a transport a reload
			// brings back). A rate limit's refusal says when the turn
			// comes: it gets every try, at its turn.
			s.count(cfg, p, "given_up")
			s.log.Error("shift notice given up", "schedule", sc.Name, "to", p.To, "attempts", p.Attempts, "err", err)
			continue
		}
		p.Retry = now.Add(time.Minute << (p.Attempts - 1))
		if wait, over := notify.OverRateLimitDelay(err); over && now.Add(wait).After(p.Retry) {
			// Sent back by a rate limit (Slack's 429 and its
			// Retry-After, pagerd's own): nothing went out, and a try
			// before its turn would be sent back again.
			p.Retry = now.Add(wait)
		}
		s.count(cfg, p, "failed")
		s.log.Warn("shift notice failed; will retry", "schedule", sc.Name, "to", p.To, "attempts", p.Attempts, "retry_at", p.Retry, "err", err)
		st.Pending = append(st.Pending, p)
	}
	// The next due from the config as it is now, not as it was when the
	// job began: an override made while the notices went out does not
	// move the job (Arm leaves a job that is due alone).
	if sc = s.o.Config().Schedule(j.Key); sc == nil || sc.Notices == nil {
		return nil, nil
	}
	nextDue := next(sc, st, now)
	if late, newly, withdrawn, taken, extended := changes(sc, st, now); len(late) > 0 || len(newly) > 0 || len(withdrawn) > 0 || len(taken) > 0 || len(extended) > 0 {
		// The plan changed while the notices went out (the state is as
		// of the config the job began with, and says nothing changed on
		// that one): told by the next run, at once, rather than at the
		// daemon's next arming.
		nextDue = now
	}
	return &store.Job{Kind: Kind, Key: sc.Name, Due: nextDue, Data: mustJSON(st)}, nil
}

// work is what a run of the job at now has to send (the notices due
// since st.Last, the changes to what was announced, the notices to try
// again) and the job's state once they are tried: st at now, with its
// Pending taken out (the caller puts back those to try again) and the
// shifts announced by now.
func work(cfg *policy.Config, sc *policy.Schedule, st state, now time.Time) ([]pending, state) {
	late, newly, withdrawn, taken, extended := changes(sc, st, now)
	// A shift its holder was told of already (a reload that shortened
	// notices.before since) is not told again. One a reload brought into
	// the window is told as usual.
	ns := append(newly, slices.DeleteFunc(sc.ShiftNotices(st.Last, now), func(n policy.ShiftNotice) bool {
		return n.Kind == policy.NoticeBefore && st.told(n.Shift)
	})...)
	st.Window = windowOf(sc)
	st.Last = now
	st.Holders, st.Held = holders(sc, now), true
	st.Announced = slices.DeleteFunc(st.Announced, func(a announced) bool {
		return !a.From.After(now) || slices.Contains(withdrawn, a)
	})
	for _, n := range append(late, ns...) {
		if n.Kind == policy.NoticeBefore && n.Shift.From.After(now) {
			st.Announced = append(st.Announced, announced{Tier: n.Shift.Tier, User: n.Shift.User, From: n.Shift.From})
		}
	}
	due := st.Pending
	st.Pending = nil
	due = append(due, compose(cfg, sc, ns, now)...)
	due = append(due, composeChanges(cfg, sc, taken, late, withdrawn, extended, now)...)
	return due, st
}

// compose turns the notices due into messages: one to each incoming
// person, and one per instant to the team's channel. A notice before a
// shift that has begun by now is left out (it says nothing any more).
func compose(cfg *policy.Config, sc *policy.Schedule, ns []policy.ShiftNotice, now time.Time) []pending {
	var out []pending
	w := wording{cfg, sc}
	name, title, stamp := w.name, w.title, w.stamp
	type team struct {
		at    time.Time
		from  time.Time // when the shifts it tells of start
		kind  string
		in    time.Duration
		parts []string
		until time.Time
	}
	var teams []*team
	for _, n := range ns {
		if n.Kind == policy.NoticeBefore && !n.Shift.From.After(now) {
			continue
		}
		sh := n.Shift
		extra := overridden(sh)
		end := w.end(sh)
		if n.Kind == policy.NoticeHandoff {
			out = append(out, w.onCallNow(n))
		} else {
			out = append(out, w.before(n, left(n, now), end))
		}
		if sc.Notices.SlackChannel == "" {
			continue
		}
		if len(teams) == 0 || !teams[len(teams)-1].at.Equal(n.At) || teams[len(teams)-1].kind != n.Kind {
			teams = append(teams, &team{at: n.At, from: sh.From, kind: n.Kind, in: left(n, now), until: end})
		}
		tm := teams[len(teams)-1]
		tm.parts = append(tm.parts, fmt.Sprintf("%s: %s → %s%s", title(sh.Tier), name(n.Outgoing), name(sh.User), extra))
		if end.After(tm.until) {
			tm.until = end
		}
	}
	for _, tm := range teams {
		p := pending{To: "slack:" + sc.Notices.SlackChannel, Due: tm.at, Until: tm.until}
		if tm.kind == policy.NoticeHandoff {
			p.Subject = fmt.Sprintf("On-call handoff of %s, %s", sc.Name, stamp(tm.at))
		} else {
			p.Subject = fmt.Sprintf("%s hands off in %s, %s", sc.Name, policy.Duration(tm.in), stamp(tm.at.Add(time.Duration(sc.Notices.Before))))
			p.Before, p.From = true, tm.from
		}
		p.Text = p.Subject + ": " + strings.Join(tm.parts, "; ")
		out = append(out, p)
	}
	return out
}

// composeChanges turns the changes to what was announced (changes) into
// messages: to those who hold a shift now that no handoff told them of,
// that they are on call now; the notice before their shift to those who
// now hold one they were not told of, with the time left; to those who
// lost an announced shift, that it is no longer theirs; and to the team's
// channel, one message listing every change.
func composeChanges(cfg *policy.Config, sc *policy.Schedule, taken, late []policy.ShiftNotice, withdrawn []announced, extended []extension, now time.Time) []pending {
	if len(taken) == 0 && len(late) == 0 && len(withdrawn) == 0 && len(extended) == 0 {
		return nil
	}
	var out []pending
	w := wording{cfg, sc}
	var parts []teamPart
	until := now
	for _, n := range taken {
		sh, p := n.Shift, w.onCallNow(n)
		out = append(out, p)
		if p.Until.After(until) {
			until = p.Until
		}
		parts = append(parts, teamPart{Tier: sh.Tier, From: sh.From, User: sh.User,
			Text: fmt.Sprintf("%s from %s: %s → %s%s", w.title(sh.Tier), w.stamp(sh.From), w.name(n.Outgoing), w.name(sh.User), overridden(sh))})
	}
	lost := map[string]string{} // tier and start: who was told they hold it
	for _, a := range withdrawn {
		sh, _ := sc.OnCallTier(a.Tier, a.From)
		what := w.what(sh)
		out = append(out, pending{To: "user:" + a.User, Due: now, Until: a.From, Tier: a.Tier, From: a.From,
			Subject: "You are no longer on call from " + w.stamp(a.From) + ": " + what,
			Text: fmt.Sprintf("Change: you are no longer on call from %s: %s is %s's then%s, not yours.",
				w.stamp(a.From), what, w.name(sh.User), overridden(sh))})
		lost[a.Tier+" "+a.From.String()] = a.User
	}
	for _, n := range late {
		p := w.before(n, left(n, now), w.end(n.Shift))
		p.Due = now
		out = append(out, p)
		if p.Until.After(until) {
			until = p.Until
		}
		at := n.Shift.Tier + " " + n.Shift.From.String()
		if was, ok := lost[at]; ok {
			delete(lost, at)
			parts = append(parts, teamPart{Tier: n.Shift.Tier, From: n.Shift.From, User: n.Shift.User,
				Text: fmt.Sprintf("%s from %s: %s, not %s%s", w.title(n.Shift.Tier), w.stamp(n.Shift.From),
					w.name(n.Shift.User), w.name(was), overridden(n.Shift))})
			continue
		}
		parts = append(parts, teamPart{Tier: n.Shift.Tier, From: n.Shift.From, User: n.Shift.User,
			Text: fmt.Sprintf("%s from %s: %s → %s%s", w.title(n.Shift.Tier), w.stamp(n.Shift.From),
				w.name(n.Outgoing), w.name(n.Shift.User), overridden(n.Shift))})
	}
	for _, a := range withdrawn {
		if _, ok := lost[a.Tier+" "+a.From.String()]; !ok {
			continue // said with the new holder's
		}
		sh, _ := sc.OnCallTier(a.Tier, a.From)
		if a.From.After(until) {
			until = a.From
		}
		parts = append(parts, teamPart{Tier: a.Tier, From: a.From, User: sh.User,
			Text: fmt.Sprintf("%s from %s: %s, not %s%s", w.title(a.Tier), w.stamp(a.From), w.name(sh.User), w.name(a.User), overridden(sh))})
	}
	for _, e := range extended {
		// Told to the holder, whom no handoff tells; to the team unless
		// a part above says it (the holder took over a shift announced
		// as another's: "Bob, not Ann").
		what := w.what(e.Shift)
		out = append(out, pending{To: "user:" + e.User, Due: now, Until: e.Until, Tier: e.Tier, From: e.Was, Holds: true,
			Subject: "You stay on call until " + w.stamp(e.Until) + ": " + what,
			Text:    fmt.Sprintf("Change: you stay on call until %s: %s%s, not until %s.", w.stamp(e.Until), what, overridden(e.Shift), w.stamp(e.Was))})
		if e.Until.After(until) {
			until = e.Until
		}
		if slices.ContainsFunc(withdrawn, func(a announced) bool { return a.Tier == e.Tier && a.From.Equal(e.Was) }) {
			continue
		}
		parts = append(parts, teamPart{Tier: e.Tier, From: e.Was, User: e.User,
			Text: fmt.Sprintf("%s until %s: %s stays on, not until %s%s", w.title(e.Tier), w.stamp(e.Until), w.name(e.User), w.stamp(e.Was), overridden(e.Shift))})
	}
	if sc.Notices.SlackChannel != "" && len(parts) > 0 {
		head := "The on-call plan of " + sc.Name + " changed"
		out = append(out, pending{To: "slack:" + sc.Notices.SlackChannel, Subject: head, Text: teamMessage(head, parts),
			Due: now, Until: until, Parts: parts})
	}
	return out
}

// left is the time from now to the start of n's shift, to the minute: a
// notice before it sent later than its instant (a reload or an override
// brought it into the window after it; the job ran late) says how long
// there is, not notices.before.
func left(n policy.ShiftNotice, now time.Time) time.Duration {
	return n.Shift.From.Sub(now).Round(time.Minute)
}

// wording names people, tiers, shifts and instants in a schedule's
// notices.
type wording struct {
	cfg *policy.Config
	sc  *policy.Schedule
}

func (w wording) name(id string) string {
	if id == "" {
		return "nobody"
	}
	return w.cfg.UserName(id)
}

func (w wording) title(tier string) string {
	if t := w.sc.Tier(tier); t != nil {
		return t.DisplayTitle()
	}
	return tier
}

func (w wording) stamp(t time.Time) string {
	return t.In(w.sc.Location()).Format("Mon Jan 2 15:04 MST")
}

// what is the tier a shift holds, in its schedule.
func (w wording) what(sh policy.Shift) string {
	return fmt.Sprintf("%s of %s", w.title(sh.Tier), w.sc.Name)
}

// onCallNow is the notice to the incoming person of n, due at n.At, that
// they are on call now, until the shift's end (wording.end).
func (w wording) onCallNow(n policy.ShiftNotice) pending {
	sh, end := n.Shift, w.end(n.Shift)
	what := w.what(sh)
	return pending{To: "user:" + sh.User, Due: n.At, Until: end, Tier: sh.Tier, From: sh.From, Holds: true, Subject: "You are on call now: " + what,
		Text: fmt.Sprintf("You are on call now: %s, until %s%s. You take over from %s.", what, w.stamp(end), overridden(sh), w.name(n.Outgoing))}
}

// before is the notice to the incoming person of n that their shift starts
// in in and lasts until end (wording.end).
func (w wording) before(n policy.ShiftNotice, in time.Duration, end time.Time) pending {
	sh := n.Shift
	return pending{To: "user:" + sh.User, Due: n.At, Until: end, Tier: sh.Tier, From: sh.From, Holds: true, Before: true,
		Subject: "Your on-call shift starts " + w.stamp(sh.From) + ": " + w.what(sh),
		Text: fmt.Sprintf("Your on-call shift starts in %s: %s, from %s until %s%s. You take over from %s.",
			policy.Duration(in), w.what(sh), w.stamp(sh.From), w.stamp(end), overridden(sh), w.name(n.Outgoing))}
}

// end is when sh's holder stops holding its tier: the end of sh, or of
// the shifts of the same person that follow it without a gap. An override
// that moves a person's shift earlier makes two spans of one holder (the
// override's, then the rotation's), and the person is on call until the
// second ends, not the first (which a notice said before).
func (w wording) end(sh policy.Shift) time.Time {
	until, _ := endOf(w.sc, sh)
	return until
}

// endOf is wording.end in sc; capped says it joined maxJoined spans and
// looked no further (a person who holds the tier for good).
func endOf(sc *policy.Schedule, sh policy.Shift) (until time.Time, capped bool) {
	until = sh.Until
	for range maxJoined {
		next, ok := sc.OnCallTier(sh.Tier, until)
		if !ok || next.User == "" || next.User != sh.User || !next.Until.After(until) {
			return until, false
		}
		until = next.Until
	}
	return until, true
}

// maxJoined bounds the spans end joins: a person who holds a tier for
// good (one member, no end) is on call "until" the end of the spans it
// looked at, never in a loop.
const maxJoined = 64

// overridden says which override gives sh its holder, if one does.
func overridden(sh policy.Shift) string {
	if sh.Override == "" {
		return ""
	}
	return " (override: " + sh.Override + ")"
}

// send delivers one notice: to a person on their notice channel, or to a
// team's Slack channel. shadow: the transport is dry_run, and the notice
// was logged, not sent.
func (s *Service) send(ctx context.Context, cfg *policy.Config, p pending, now time.Time) (shadow bool, err error) {
	via, u, ct, err := target(cfg, p.To)
	switch {
	case err != nil:
		return false, err
	case u == nil && s.o.Slack == nil:
		return false, errors.New("Slack is not configured")
	case cfg.DryRun(via):
		s.log.Info("shift notice not sent: notifiers."+via+".dry_run", "to", p.To, "text", p.Text)
		return true, nil
	case u == nil:
		return false, s.o.Slack.Say(ctx, strings.TrimPrefix(p.To, "slack:"), p.Text)
	}
	n := s.o.Notifiers[via]
	if n == nil {
		return false, fmt.Errorf("the %s transport is not available", via)
	}
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return false, n.Notify(sctx, notify.Message{At: now, User: u.ID, UserName: u.DisplayName(), Channel: ct.Channel, Address: ct.Address,
		Urgency: policy.UrgencyLow, Summary: p.Subject, Text: p.Text, Notice: true})
}

// target is where a notice to to goes: through Slack to a team's channel
// (u nil), or through via to the person u's contact ct. via is "none",
// with the error, when the person is not in the config or has no contact
// a notice can go to.
func target(cfg *policy.Config, to string) (via string, u *policy.User, ct *policy.Contact, err error) {
	if strings.HasPrefix(to, "slack:") {
		return "slack", nil, nil, nil
	}
	id := strings.TrimPrefix(to, "user:")
	if u = cfg.User(id); u == nil {
		return "none", nil, nil, fmt.Errorf("user %q is not in the config", id)
	}
	if ct = NoticeContact(u); ct == nil {
		return "none", nil, nil, fmt.Errorf("user %q has no contact a notice can go to", id)
	}
	return ct.Via, u, ct, nil
}

// count counts what a try of p came to, by the transport it went through.
func (s *Service) count(cfg *policy.Config, p pending, result string) {
	via, _, _, _ := target(cfg, p.To)
	s.tries.WithLabelValues(via, result).Inc()
}

// NoticeContact is where a person's shift notices go: their
// notice_channel, or else the first step of their low-urgency ladder;
// never a call (a notice is not a page), which falls back to their first
// other contact.
func NoticeContact(u *policy.User) *policy.Contact {
	find := func(ch string) *policy.Contact {
		for i := range u.Contacts {
			if u.Contacts[i].Channel == ch {
				return &u.Contacts[i]
			}
		}
		return nil
	}
	ch := u.NoticeChannel
	if ch == "" && len(u.NotificationRules.Low) > 0 {
		ch = u.NotificationRules.Low[0].Channel
	}
	if ch != "" && ch != policy.ChannelVoice {
		if c := find(ch); c != nil {
			return c
		}
	}
	for _, ch := range []string{policy.ChannelSlack, policy.ChannelEmail, policy.ChannelPush, policy.ChannelSMS} {
		if c := find(ch); c != nil {
			return c
		}
	}
	return nil
}
