// Package overrides is the overrides people make at run time: "Bob takes
// Ann's shift tonight", a swap of two shifts, "I take it now for the next
// four hours". They are kept in the store (store.Docs, one kind per
// schedule, so the store's version check refuses two overlapping overrides
// of one tier atomically, whichever replica they arrive at), with who made
// them, why and when, and merged into the config the daemon pages from
// (Service.Config), after the file's own overrides, so they win where the
// two overlap.
//
// Every replica keeps the overrides in memory and reads them again when
// another replica says they changed (a broadcast on the store's Topic, on
// Redis a pub/sub channel of its own: Run) and at least every PollInterval, so an override made on one replica decides who
// is paged on every replica within moments, without a store read on the
// paging path.
package overrides

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// Override is an override made at run time, as stored and as the API
// answers it.
type Override struct {
	ID       string    `json:"id"`
	Schedule string    `json:"schedule"`
	Tier     string    `json:"tier"`
	User     string    `json:"user"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Reason   string    `json:"reason,omitempty"`
	// CreatedBy is who made it (api:<token name>), CreatedAt when.
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// Replaces is who held the tier at Start when it was made.
	Replaces string `json:"replaces,omitempty"`
	// Swap, for one half of a swap, is the other half's id: both were
	// made in one call and each gives one person the other's shift.
	Swap string `json:"swap,omitempty"`
	// EndedBy, when set, is who ended the override before its planned
	// end (Delete of one under way): End is then when they did.
	EndedBy string `json:"ended_by,omitempty"`
}

// policy is the override as the config's overrides are written.
func (o Override) policy() policy.Override {
	return policy.Override{ID: o.ID, CreatedBy: o.CreatedBy, Reason: o.Reason, Tiers: map[string]string{o.Tier: o.User},
		From: policy.InstantMoment(o.Start), Until: policy.InstantMoment(o.End)}
}

// Describe is the override in a phrase: "ov-1a2b... (primary: bob, from
// ... to ..., by api:ops: dentist)".
func (o Override) Describe() string {
	s := fmt.Sprintf("%s (%s: %s, %s to %s, made by %s", o.ID, o.Tier, o.User, o.Start.UTC().Format(time.RFC3339),
		o.End.UTC().Format(time.RFC3339), o.CreatedBy)
	if o.Reason != "" {
		s += ": " + o.Reason
	}
	return s + ")"
}

// Request asks for an override: User holds Tier from Start to End. With a
// swap span, it is a swap: whoever holds the tier at Start gets User's
// shift from SwapStart to SwapEnd in return, in the same call.
type Request struct {
	Tier, User         string
	Start, End         time.Time
	Reason             string
	SwapStart, SwapEnd time.Time
}

// The refusals of a Service; each error says what is wrong.
var (
	// ErrNotFound: no such schedule or override.
	ErrNotFound = errors.New("not found")
	// ErrBadInput: a request that can never succeed as sent.
	ErrBadInput = errors.New("bad input")
	// ErrOverlap: the override overlaps another on the same tier; the
	// error names it.
	ErrOverlap = errors.New("overlaps another override")
	// ErrEnded: the override has ended. It is the record of who was on
	// call (reports, handoff documents, feeds, timelines), so it is not
	// deleted.
	ErrEnded = errors.New("override has ended")
)

type refusal struct {
	kind error
	msg  string
}

func (r *refusal) Error() string        { return r.msg }
func (r *refusal) Is(target error) bool { return target == r.kind }

func refuse(kind error, format string, args ...any) error {
	return &refusal{kind, fmt.Sprintf(format, args...)}
}

// Kind is the store.Docs kind of a schedule's overrides.
func Kind(schedule string) string { return "overrides:" + schedule }

// KeepEnded is how long an override that has ended stays in the store (and
// in GET ...?ended=true) before the next change of its schedule drops it:
// a report of time on call further back cannot see it
// (report.Options.OverridesKeptFrom).
const KeepEnded = 30 * 24 * time.Hour

// maxSpan is the longest override: a longer one is a roster change, which
// belongs in the file.
const maxSpan = 92 * 24 * time.Hour

// Topic is the store's broadcast topic (store.Broadcaster) on which a
// replica that changed the overrides tells the others. It is not the
// dispatcher's nudge channel: that one is nudged at every new incident,
// and an alert storm must not make every replica read its overrides again
// and again.
const Topic = "overrides"

// DefaultPollInterval is how often a replica reads the overrides again
// when no nudge says they changed.
const DefaultPollInterval = 5 * time.Second

// Options configure a Service.
type Options struct {
	Store store.Docs
	// Config is the config in force as the file has it (it changes on
	// reload).
	Config func() *policy.Config
	// Nudge, when set, tells the other replicas that the overrides changed
	// (a broadcast on the store's Topic); they read them again.
	Nudge  func(ctx context.Context) error
	Now    func() time.Time
	Logger *slog.Logger
	// PollInterval bounds how stale a replica's overrides can be when a
	// nudge is lost (default DefaultPollInterval).
	PollInterval time.Duration
	// Changed, when set, is called after this replica changed a
	// schedule's overrides (shift notices move with them).
	Changed func(ctx context.Context, schedule string)
}

// Service makes, lists and deletes overrides, and merges them into the
// config. It is safe for concurrent use.
type Service struct {
	o   Options
	log *slog.Logger

	mu sync.Mutex // guards byName, vers, seq, kept and leftOut
	// byName are the overrides of each schedule as last read or written,
	// and vers the version of its kind they were at.
	byName map[string][]Override
	vers   map[string]int64
	// seq numbers this replica's reads, as they begin, and its writes, as
	// they end; kept is the number of what byName holds of each schedule.
	// A read or write is taken in when the store's version is newer than
	// what is held (so neither a read that raced a write nor a write whose
	// answer came late undoes a newer one), and a read also when its
	// version is lower but it began after what is held was taken in: the
	// version starts again from 0 when Redis loses its data (restarted
	// without persistence, flushed, failed over to a replica that had
	// missed writes). By the version alone, every replica then ignored
	// every read and write of the schedule below its old version: new
	// overrides were answered 201 and never paged, and the ones the store
	// no longer had went on paging until a restart.
	seq    int64
	kept   map[string]int64
	gen    atomic.Uint64
	merged atomic.Pointer[merged]

	// leftOut are the ids the last merge left out, so that the warning
	// comes when they change, not at every reload and every change of
	// any schedule's overrides (each merges again).
	leftOut []string
	// unread asks Run to read the overrides now: a merge met a schedule
	// whose overrides were never read (a reload brought it in).
	unread chan struct{}
}

// merged is a config with the overrides of one generation merged in.
type merged struct {
	base *policy.Config
	gen  uint64
	cfg  *policy.Config
}

// New makes a Service. Its overrides are empty until Refresh or Run reads
// them.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	return &Service{o: o, log: o.Logger, byName: map[string][]Override{}, vers: map[string]int64{}, kept: map[string]int64{}, unread: make(chan struct{}, 1)}
}

// Config is the config in force with the overrides merged in: what the
// daemon pages from and answers who is on call with. It is built once per
// change of either and shared, so it costs nothing on the paging path.
func (s *Service) Config() *policy.Config {
	base := s.o.Config()
	gen := s.gen.Load()
	if m := s.merged.Load(); m != nil && m.base == base && m.gen == gen {
		return m.cfg
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	gen = s.gen.Load()
	// Another caller may have merged this generation while this one waited.
	if m := s.merged.Load(); m != nil && m.base == base && m.gen == gen {
		return m.cfg
	}
	extra, dropped := applicable(base, s.byName)
	if !slices.Equal(dropped, s.leftOut) {
		if len(dropped) > 0 {
			s.log.Warn("overrides left out: their schedule, tier or user is no longer in the config",
				"count", len(dropped), "overrides", dropped)
		} else {
			s.log.Info("overrides: none left out any more")
		}
		s.leftOut = dropped
	}
	m := &merged{base: base, gen: gen, cfg: base.WithOverrides(extra)}
	s.merged.Store(m)
	for i := range base.Schedules {
		if _, read := s.vers[base.Schedules[i].Name]; !read {
			// A reload brought in a schedule whose overrides may wait in
			// the store: Run reads them now rather than at its next poll,
			// so its tiers are not paged by the rotation meanwhile. (The
			// paging path does no store read of its own.)
			select {
			case s.unread <- struct{}{}:
			default:
			}
			break
		}
	}
	return m.cfg
}

// LeftOut says why cfg cannot apply the override, which a list of them
// must show: a reload renamed or removed its schedule, tier or user, so
// the tier is held by its rotation, not by o.User. "" when cfg applies it.
func LeftOut(cfg *policy.Config, o Override) string {
	return leftOut(cfg, o.Schedule, o)
}

func leftOut(cfg *policy.Config, schedule string, o Override) string {
	sc := cfg.Schedule(schedule)
	switch {
	case sc == nil:
		return fmt.Sprintf("schedule %s is no longer in the config", schedule)
	case sc.Tier(o.Tier) == nil:
		return fmt.Sprintf("schedule %s has no tier %s any more", schedule, o.Tier)
	case cfg.User(o.User) == nil:
		return fmt.Sprintf("user %s is no longer in the config", o.User)
	}
	return ""
}

// applicable is what of the run-time overrides, by schedule, cfg can
// apply: those whose schedule, tier and user it still has, as config
// overrides. The others (a tier or user removed by a reload: LeftOut) are
// left out and their ids returned, sorted, so the caller can say so.
func applicable(cfg *policy.Config, bySchedule map[string][]Override) (map[string][]policy.Override, []string) {
	extra := map[string][]policy.Override{}
	var dropped []string
	for name, list := range bySchedule {
		for _, o := range list {
			if leftOut(cfg, name, o) == "" {
				extra[name] = append(extra[name], o.policy())
			} else {
				dropped = append(dropped, o.ID)
			}
		}
	}
	sort.Strings(dropped)
	return extra, dropped
}

// parse reads stored overrides, by start.
func (s *Service) parse(schedule string, docs map[string][]byte) []Override {
	list := make([]Override, 0, len(docs))
	for id, b := range docs {
		var o Override
		if err := json.Unmarshal(b, &o); err != nil {
			s.log.Error("override not readable; left out", "schedule", schedule, "override", id, "err", err)
			continue
		}
		list = append(list, o)
	}
	sortOverrides(list)
	return list
}

// next numbers a read as it begins, or a write as it ends (seq).
func (s *Service) next() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return s.seq
}

// set records a schedule's overrides as the store holds them at version
// ver, read (write false) or written as seq, unless what is held is newer
// (see seq).
func (s *Service) set(schedule string, list []Override, ver, seq int64, write bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.vers[schedule]; ok && ver <= cur && (write || ver == cur || s.kept[schedule] >= seq) {
		return
	}
	s.byName[schedule], s.vers[schedule], s.kept[schedule] = list, ver, seq
	s.gen.Add(1)
}

func sortOverrides(list []Override) {
	sort.Slice(list, func(i, j int) bool {
		if !list[i].Start.Equal(list[j].Start) {
			return list[i].Start.Before(list[j].Start)
		}
		return list[i].ID < list[j].ID
	})
}

// read reads a schedule's overrides from the store, takes them in, and
// returns them with the version they are at.
func (s *Service) read(ctx context.Context, schedule string) ([]Override, int64, error) {
	seq := s.next()
	docs, ver, err := s.o.Store.ListDocs(ctx, Kind(schedule))
	if err != nil {
		return nil, 0, err
	}
	list := s.parse(schedule, docs)
	s.set(schedule, list, ver, seq, false)
	return list, ver, nil
}

// Refresh reads every schedule's overrides from the store.
func (s *Service) Refresh(ctx context.Context) error {
	var errs []error
	for _, sc := range s.o.Config().Schedules {
		if _, _, err := s.read(ctx, sc.Name); err != nil {
			errs = append(errs, fmt.Errorf("read the overrides of schedule %q: %w", sc.Name, err))
		}
	}
	return errors.Join(errs...)
}

// RefreshSchedule reads one schedule's overrides from the store now.
func (s *Service) RefreshSchedule(ctx context.Context, schedule string) error {
	_, _, err := s.read(ctx, schedule)
	return err
}

// minRefreshGap spaces the reads nudges cause: a burst of changes (a
// script making overrides one by one, replicas changing them together) is
// taken in by one read per gap.
const minRefreshGap = 100 * time.Millisecond

// Run keeps the overrides current until ctx ends: it reads them at once,
// again after every nudge (another replica changed them: the broadcasts on
// the store's Topic, nil when no other replica shares the store; nudges
// close together are taken in by one read), when a reload brings in a
// schedule it has not read, and every PollInterval in case a nudge was
// lost.
func (s *Service) Run(ctx context.Context, nudges <-chan struct{}) {
	failing := false
	refresh := func() {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		err := s.Refresh(rctx)
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			s.log.Error("overrides: cannot read them from the store; paging with the last ones read until it answers", "err", err)
			failing = true
		case err == nil && failing:
			s.log.Info("overrides: read from the store again")
			failing = false
		}
	}
	refresh()
	t := time.NewTicker(s.o.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-nudges:
		case <-s.unread:
		}
		refresh()
		gap := time.NewTimer(minRefreshGap)
		select {
		case <-ctx.Done():
			gap.Stop()
			return
		case <-gap.C:
		}
	}
}

// List is a schedule's overrides, read from the store, by start: those
// that have not ended, or with ended also those that ended in the last 30
// days.
func (s *Service) List(ctx context.Context, schedule string, ended bool) ([]Override, error) {
	if s.o.Config().Schedule(schedule) == nil {
		return nil, refuse(ErrNotFound, "no schedule %q is defined", schedule)
	}
	list, _, err := s.read(ctx, schedule)
	if err != nil {
		return nil, err
	}
	now := s.o.Now()
	out := []Override{}
	for _, o := range list {
		if ended || o.End.After(now) {
			out = append(out, o)
		}
	}
	return out, nil
}

// writeRetries is how many times a change is tried again when another
// replica changed the schedule's overrides first.
const writeRetries = 10

// Create makes the override the request asks for (two, for a swap) as
// actor, atomically: if it overlaps an override of the same tier, nothing
// is made and the error (ErrOverlap) names the one it overlaps.
func (s *Service) Create(ctx context.Context, schedule string, req Request, actor string) ([]Override, error) {
	for attempt := 0; ; attempt++ {
		cfg := s.Config()
		sc := cfg.Schedule(schedule)
		if sc == nil {
			return nil, refuse(ErrNotFound, "no schedule %q is defined", schedule)
		}
		now := s.o.Now().UTC().Truncate(time.Second)
		made, err := s.plan(cfg, sc, req, actor, now)
		if err != nil {
			return nil, err
		}
		list, ver, err := s.read(ctx, schedule)
		if err != nil {
			return nil, err
		}
		for _, o := range made {
			for _, old := range list {
				if old.Tier == o.Tier && old.Start.Before(o.End) && o.Start.Before(old.End) {
					return nil, refuse(ErrOverlap, "the override overlaps override %s on tier %s: delete it first, or choose another span", old.Describe(), o.Tier)
				}
			}
		}
		put := map[string][]byte{}
		for _, o := range made {
			b, _ := json.Marshal(o)
			put[o.ID] = b
		}
		nver, err := s.o.Store.PutDocs(ctx, Kind(schedule), ver, put, expired(list, now))
		if errors.Is(err, store.ErrConflict) && attempt < writeRetries {
			continue // another replica changed them: check again
		}
		if err != nil {
			return nil, err
		}
		s.wrote(ctx, schedule, list, made, nil, nver)
		for _, o := range made {
			s.log.Info("override made", "schedule", schedule, "override", o.ID, "tier", o.Tier, "user", o.User,
				"start", o.Start, "end", o.End, "replaces", o.Replaces, "actor", actor, "reason", o.Reason)
		}
		return made, nil
	}
}

// plan checks a request and makes the overrides it asks for.
func (s *Service) plan(cfg *policy.Config, sc *policy.Schedule, req Request, actor string, now time.Time) ([]Override, error) {
	if sc.Tier(req.Tier) == nil {
		names := make([]string, len(sc.Tiers))
		for i, t := range sc.Tiers {
			names[i] = t.Name
		}
		return nil, refuse(ErrBadInput, "tier %q: schedule %s has %s", req.Tier, sc.Name, strings.Join(names, ", "))
	}
	if cfg.User(req.User) == nil {
		return nil, refuse(ErrBadInput, "user %q is not in the config", req.User)
	}
	if len(req.Reason) > 500 {
		return nil, refuse(ErrBadInput, "reason: at most 500 bytes")
	}
	if err := checkSpan("", req.Start, req.End, now); err != nil {
		return nil, err
	}
	holder := func(t time.Time) string {
		sh, _ := sc.OnCallTier(req.Tier, t)
		return sh.User
	}
	// A shift that began already begins now: the past stays as it was
	// (the pages went to its holder, and the reports, the feeds and
	// `oncall --at` say so), as a deleted override keeps its past.
	req.Start, req.SwapStart = notBefore(req.Start, now), notBefore(req.SwapStart, now)
	first := Override{ID: newID(), Schedule: sc.Name, Tier: req.Tier, User: req.User, Start: req.Start.UTC(), End: req.End.UTC(),
		Reason: req.Reason, CreatedBy: actor, CreatedAt: now, Replaces: holder(req.Start)}
	if req.SwapStart.IsZero() && req.SwapEnd.IsZero() {
		return []Override{first}, nil
	}
	if err := checkSpan("swap_", req.SwapStart, req.SwapEnd, now); err != nil {
		return nil, err
	}
	if req.SwapStart.Before(req.End) && req.Start.Before(req.SwapEnd) {
		return nil, refuse(ErrBadInput, "the two shifts of a swap overlap")
	}
	other := first.Replaces
	if other == "" || other == req.User {
		return nil, refuse(ErrBadInput, "swap: %s does not take anyone's shift at %s (the tier is held by %q then)",
			req.User, req.Start.UTC().Format(time.RFC3339), other)
	}
	if h := holder(req.SwapStart); h != req.User {
		return nil, refuse(ErrBadInput, "swap: at swap_start %s tier %s is held by %q, not by %s: a swap gives each person the other's shift",
			req.SwapStart.UTC().Format(time.RFC3339), req.Tier, h, req.User)
	}
	second := Override{ID: newID(), Schedule: sc.Name, Tier: req.Tier, User: other, Start: req.SwapStart.UTC(), End: req.SwapEnd.UTC(),
		Reason: req.Reason, CreatedBy: actor, CreatedAt: now, Replaces: req.User, Swap: first.ID}
	first.Swap = second.ID
	return []Override{first, second}, nil
}

// notBefore is t, or now when t is earlier (a zero t stays zero).
func notBefore(t, now time.Time) time.Time {
	if !t.IsZero() && t.Before(now) {
		return now
	}
	return t
}

func checkSpan(prefix string, start, end, now time.Time) error {
	switch {
	case start.IsZero() || end.IsZero():
		return refuse(ErrBadInput, "%sstart and %send are required (RFC 3339)", prefix, prefix)
	case !end.After(start):
		return refuse(ErrBadInput, "%send must be after %sstart", prefix, prefix)
	case !end.After(now):
		return refuse(ErrBadInput, "%send %s has passed", prefix, end.UTC().Format(time.RFC3339))
	case end.Sub(start) > maxSpan:
		return refuse(ErrBadInput, "an override lasts at most %d days; a longer change belongs in the config (roster_changes)", int(maxSpan.Hours()/24))
	}
	return nil
}

// expired are the overrides a write drops: ended more than KeepEnded ago.
func expired(list []Override, now time.Time) []string {
	var del []string
	for _, o := range list {
		if now.Sub(o.End) > KeepEnded {
			del = append(del, o.ID)
		}
	}
	return del
}

// Delete deletes an override as actor, and the other half of a swap with
// it (a swap undone by halves would leave one person with two shifts).
// What has begun is history: who was on call then, whom pages went to,
// whom reports pay and handoff documents name. So an override under way
// is ended now rather than deleted (End becomes now, EndedBy actor), one
// that has ended is refused (ErrEnded), and only one yet to begin is
// deleted. It returns the overrides deleted or ended.
func (s *Service) Delete(ctx context.Context, schedule, id, actor string) ([]Override, error) {
	if s.o.Config().Schedule(schedule) == nil {
		return nil, refuse(ErrNotFound, "no schedule %q is defined", schedule)
	}
	for attempt := 0; ; attempt++ {
		list, ver, err := s.read(ctx, schedule)
		if err != nil {
			return nil, err
		}
		var gone []Override
		for _, o := range list {
			if o.ID == id {
				gone = append(gone, o)
			}
		}
		if len(gone) == 0 {
			return nil, refuse(ErrNotFound, "schedule %s has no override %q", schedule, id)
		}
		for _, o := range list {
			if gone[0].Swap != "" && o.ID == gone[0].Swap {
				gone = append(gone, o)
			}
		}
		now := s.o.Now().UTC().Truncate(time.Second) // whole seconds, as Create makes them
		if !gone[0].End.After(now) {
			msg := fmt.Sprintf("override %s ended at %s: it is the record of who was on call then, and stays (the store drops it %d days after it ended)",
				id, gone[0].End.UTC().Format(time.RFC3339), int(KeepEnded.Hours()/24))
			if len(gone) > 1 && gone[1].End.After(now) {
				msg += fmt.Sprintf("; the other half of its swap, %s, has not ended: delete it by its own id", gone[1].ID)
			}
			return nil, refuse(ErrEnded, "%s", msg)
		}
		del := expired(list, now)
		var put, changed []Override
		for _, o := range gone {
			switch {
			case !o.Start.Before(now): // yet to begin: no one was paged by it
				del = append(del, o.ID)
				changed = append(changed, o)
			case o.End.After(now): // under way: its past stays
				o.End, o.EndedBy = now, actor
				put = append(put, o)
				changed = append(changed, o)
			}
			// The other half of a swap that has ended stays as it is.
		}
		docs := map[string][]byte{}
		for _, o := range put {
			b, _ := json.Marshal(o)
			docs[o.ID] = b
		}
		nver, err := s.o.Store.PutDocs(ctx, Kind(schedule), ver, docs, del)
		if errors.Is(err, store.ErrConflict) && attempt < writeRetries {
			continue
		}
		if err != nil {
			return nil, err
		}
		s.wrote(ctx, schedule, list, put, del, nver)
		for _, o := range changed {
			what := "override deleted"
			if o.EndedBy != "" {
				what = "override ended early"
			}
			s.log.Info(what, "schedule", schedule, "override", o.ID, "tier", o.Tier, "user", o.User,
				"start", o.Start, "end", o.End, "made_by", o.CreatedBy, "actor", actor)
		}
		return changed, nil
	}
}

// wrote takes in a write this replica made (list was read at the version
// before it) and tells the other replicas.
func (s *Service) wrote(ctx context.Context, schedule string, list, put []Override, del []string, ver int64) {
	gone := map[string]bool{}
	for _, id := range del {
		gone[id] = true
	}
	for _, o := range put {
		gone[o.ID] = true // a new version of one in list replaces it
	}
	var next []Override
	for _, o := range list {
		if !gone[o.ID] {
			next = append(next, o)
		}
	}
	next = append(next, put...)
	sortOverrides(next)
	s.set(schedule, next, ver, s.next(), true)
	if s.o.Changed != nil {
		s.o.Changed(ctx, schedule)
	}
	if s.o.Nudge != nil {
		nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := s.o.Nudge(nctx); err != nil {
			// The others read them again within their poll interval.
			s.log.Warn("overrides: other replicas not nudged; they see the change within their poll interval", "err", err)
		}
	}
}

// newID makes an override id: "ov-" and 16 hex digits.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "ov-" + hex.EncodeToString(b[:])
}
