// Package maintenance keeps the maintenance windows: the ones written in
// the config (scheduled) and the ones made at run time through the API
// (ad hoc or scheduled), kept as store documents (kind "maintenance") that
// every replica sees. An alert a window covers opens its incident as
// usual, recorded, but pages nobody (the incident service asks Hold); a
// window that starts stops the pending pages of the open incidents it
// covers, and each incident it holds carries the window's end as a
// deadline of its own, at which, still triggered, it is paged as new,
// unless another window covers it then (Covering, asked by the
// dispatcher): that one holds it on, so windows back to back page
// nobody at the seam. The start of a window, and its early end when it is
// deleted, are store jobs (kind "maintenance") fired once across replicas
// by the dispatchers.
package maintenance

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
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/ingest"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// Kinds of the store documents and jobs of maintenance windows.
const (
	DocKind = "maintenance"
	JobKind = "maintenance"
	// ArmedKind keeps the config's windows as last armed (one document,
	// ArmedKey), so that a window removed or changed while no pagerd ran
	// is ended at the next start, not held until its old end.
	ArmedKind = "maintenance-armed"
	ArmedKey  = "config"
)

// Actor is who the timeline says held and released incidents.
const Actor = "maintenance"

// Errors of Add and Delete.
var (
	// ErrNotFound: no window with that id.
	ErrNotFound = errors.New("no maintenance window with that id")
	// ErrInConfig: the window is written in the config; only the config
	// changes it.
	ErrInConfig = errors.New("the window is written in the config: remove it there and reload")
	// ErrBadInput: a window that can never be made as asked; the error
	// says why.
	ErrBadInput = errors.New("bad maintenance window")
)

// Window is a maintenance window as the API shows it and the store keeps
// it: what it covers (Services and Matchers, policy.Coverage), when, and
// who made it why.
type Window struct {
	ID        string    `json:"id"`
	Name      string    `json:"name,omitempty"`
	Services  []string  `json:"services,omitempty"`
	Matchers  []string  `json:"matchers,omitempty"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Reason    string    `json:"reason,omitempty"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	// Source is "config" or "api".
	Source   string `json:"source"`
	coverage policy.Coverage
}

// Active reports whether the window is in force at t.
func (w *Window) Active(t time.Time) bool { return !t.Before(w.Start) && t.Before(w.End) }

// State is "scheduled", "active" or "ended" at t.
func (w *Window) State(t time.Time) string {
	switch {
	case t.Before(w.Start):
		return "scheduled"
	case t.Before(w.End):
		return "active"
	}
	return "ended"
}

// Covers reports whether an alert of the service with the label sets is in
// the window's scope (policy.Coverage).
func (w *Window) Covers(service string, sets []map[string]string) bool {
	return w.coverage.Covers(service, sets)
}

// hold is the window as it holds an incident.
func (w *Window) hold() *policy.Hold {
	// In force from its start, or from when it was made: one made after a
	// person escalated past maintenance is a new decision, even with a
	// start written earlier.
	from := w.Start
	if w.CreatedAt.After(from) {
		from = w.CreatedAt
	}
	return &policy.Hold{ID: w.ID, Name: w.Name, Until: w.End, From: from}
}

// fromConfig is a window of the config as a Window.
func fromConfig(c *policy.MaintenanceWindow) Window {
	return Window{ID: c.ID(), Name: c.Name, Services: c.Services, Matchers: c.Matchers, Start: c.From(), End: c.Until(),
		Reason: c.Reason, Source: "config", coverage: c.Coverage()}
}

// Options configure Windows.
type Options struct {
	Store     store.Store
	Config    func() *policy.Config
	Incidents *incident.Service
	Logger    *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Wake, when set, makes the dispatchers look at once: a deleted
	// window's end is due now.
	Wake func()
	// CacheFor is how long the windows read from the store are trusted
	// before they are read again (default 1s): the alert path reads them
	// from memory. A window made or deleted on another replica takes
	// effect here within it; the start and end jobs sweep a second time
	// after Settle, for incidents opened meanwhile.
	CacheFor time.Duration
	// RefreshTimeout bounds a read of the windows for the cache (default
	// 5s). Settle allows for it.
	RefreshTimeout time.Duration
}

// Windows keeps the maintenance windows.
type Windows struct {
	o   Options
	log *slog.Logger

	// refresh makes the alerts that find the cache stale share one read.
	refresh singleflight.Group

	mu      sync.Mutex
	cached  []Window
	readAt  time.Time // real time, for the cache
	version int64
	// loaded is set once windows were read: until then an alert has
	// nothing to fall back on and waits for the read.
	loaded bool
	// reads counts the reads begun; kept is the one whose windows are
	// cached, changed the last begun when the windows changed here.
	reads, kept, changed uint64
	// unread is set while the store does not answer, so that the streak
	// is logged once, not at every alert.
	unread bool
	// prev are the config's windows as last armed, to notice one removed
	// or changed at a reload.
	prev map[string]Window
	// arming makes Arm and Rearm take turns: a Rearm of the windows last
	// armed must not run across an Arm of a newer config.
	arming sync.Mutex
}

// New makes Windows.
func New(o Options) *Windows {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CacheFor <= 0 {
		o.CacheFor = time.Second
	}
	if o.RefreshTimeout <= 0 {
		o.RefreshTimeout = 5 * time.Second
	}
	return &Windows{o: o, log: o.Logger}
}

// Settle is how long after a window starts or ends its jobs sweep the open
// incidents again: longer than the cache and a refresh of it together (an
// alert uses the cached windows while they are read again), so an alert
// decided on a stale view on some replica is caught.
func (w *Windows) Settle() time.Duration { return 2*w.o.CacheFor + w.o.RefreshTimeout }

func (w *Windows) clock() time.Time { return w.o.Now().UTC().Truncate(time.Millisecond) }

// stored returns the windows kept in the store, from the cache when it is
// fresh. A stale cache is refreshed by one read at a time, outside the
// lock and under a context of its own (RefreshTimeout: the read is the
// cache's, not a request's, and a sender that hangs up does not fail it
// for the alerts waiting on it): meanwhile the alerts use the windows
// last read, if they are at most a refresh's time older than CacheFor, so
// a slow store holds none of them. Older than that (a replica no alert
// reached for a while), or when there is nothing to fall back on (no
// windows were ever read, or they changed here since), they wait for the
// read, bounded by their own context: Settle's second sweep allows for a
// view that stale and no more, so one older would hold an alert by a
// window deleted on another replica, with no sweep left to release it;
// and a window missed would page people during maintenance. A fresh read (the API and the jobs, which
// need the kind's version to write at) goes to the store with the
// caller's context. When the store does not answer, the last windows read
// are used (a window's times still apply exactly), and the error is
// returned with them.
func (w *Windows) stored(ctx context.Context, fresh bool) ([]Window, int64, error) {
	if fresh {
		ws, ver, _, err := w.read(ctx)
		return ws, ver, err
	}
	for {
		w.mu.Lock()
		cached, ver, readAt, loaded := w.cached, w.version, w.readAt, w.loaded
		w.mu.Unlock()
		age := time.Since(readAt)
		if !readAt.IsZero() && age < w.o.CacheFor {
			return cached, ver, nil
		}
		ch := w.refresh.DoChan("", func() (any, error) {
			rctx, cancel := context.WithTimeout(context.Background(), w.o.RefreshTimeout)
			defer cancel()
			_, _, current, err := w.read(rctx)
			return current, err
		})
		if loaded && !readAt.IsZero() && age < w.o.CacheFor+w.o.RefreshTimeout {
			return cached, ver, nil // only expired: a moment stale is fine
		}
		select {
		case r := <-ch:
			if current, _ := r.Val.(bool); current || r.Err != nil {
				w.mu.Lock()
				defer w.mu.Unlock()
				return w.cached, w.version, r.Err
			}
			// The read had begun before the windows changed here: again.
		case <-ctx.Done():
			return cached, ver, ctx.Err()
		}
	}
}

// read reads the windows from the store and keeps them in the cache,
// unless a read begun later was kept already. current reports whether
// the read began after the windows last changed here, so that they are
// fresh in the cache.
func (w *Windows) read(ctx context.Context) (ws []Window, ver int64, current bool, err error) {
	w.mu.Lock()
	w.reads++
	seq := w.reads
	w.mu.Unlock()
	began := time.Now() // the windows read are the store's as of then, or later
	docs, ver, err := w.o.Store.ListDocs(ctx, DocKind)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		// Not again before CacheFor: one read per alert would make each
		// of them wait on a failing store.
		w.readAt = time.Now()
		if !w.unread {
			w.unread = true
			w.log.Warn("maintenance windows not read; the last ones read apply until they are", "err", err)
		}
		return w.cached, w.version, false, err
	}
	if w.unread {
		w.unread = false
		w.log.Info("maintenance windows read again")
	}
	out := make([]Window, 0, len(docs))
	for id, b := range docs {
		var win Window
		if err := json.Unmarshal(b, &win); err != nil {
			w.log.Error("maintenance window unreadable; ignored", "window", id, "err", err)
			continue
		}
		cv, err := policy.NewCoverage(win.Services, win.Matchers)
		if err != nil {
			w.log.Error("maintenance window unreadable; ignored", "window", id, "err", err)
			continue
		}
		win.coverage = cv
		out = append(out, win)
	}
	current = seq > w.changed
	if seq > w.kept {
		w.cached, w.version, w.kept, w.loaded = out, ver, seq, true
		// A read begun before the windows last changed here is kept, as
		// the newest known, but not trusted: the next alert reads again.
		if current {
			w.readAt = began
		}
	}
	return out, ver, current, nil
}

// invalidate makes the next read go to the store.
func (w *Windows) invalidate() {
	w.mu.Lock()
	w.readAt = time.Time{}
	w.changed = w.reads
	w.mu.Unlock()
}

// all are the config's windows and the stored ones.
func (w *Windows) all(ctx context.Context, fresh bool) ([]Window, error) {
	st, _, err := w.stored(ctx, fresh)
	cfg := w.o.Config()
	out := make([]Window, 0, len(cfg.Maintenance)+len(st))
	for i := range cfg.Maintenance {
		out = append(out, fromConfig(&cfg.Maintenance[i]))
	}
	return append(out, st...), err
}

// Hold is the window that holds a new incident of the service with these
// label sets at t: of the windows in force that cover it, the one that
// ends last; nil when none does. It reads the windows from memory (the
// store at most once per CacheFor); when the store cannot be read and no
// windows were ever read, nothing is held: an alert pages rather than be
// lost in a window nobody can see. Asked for an open incident (held, its
// state), the windows a person escalated it past are passed over
// (policy.Incident.MayHold).
func (w *Windows) Hold(ctx context.Context, service string, sets []map[string]string, at time.Time, held *policy.Incident) *policy.Hold {
	ws, _ := w.all(ctx, false) // a failed read is logged by stored
	return covering(mayHold(ws, held), service, sets, at)
}

// Covering is the window that holds the open incident at t, as Hold is
// for a new one: asked when the window holding it ends, so that a window
// in force then (starting at that end, or overlapping it) holds it on and
// nobody is paged at the seam. An incident whose stored details cannot
// tell every alert's labels is held by none: it pages.
func (w *Windows) Covering(ctx context.Context, inc *store.Incident, at time.Time) *policy.Hold {
	ws, _ := w.all(ctx, false) // a failed read is logged by stored
	return coveringIncident(ws, inc, at)
}

// InForce reports whether a window that may cover the service's alerts
// (one of every service, or naming it) is in force at t, or ended less
// than Settle before it (its end may not be swept yet): only then can an
// incident of the service be held. A read of the store that fails
// answers yes; so does any window for a service not known ("").
func (w *Windows) InForce(ctx context.Context, t time.Time, service string) bool {
	ws, err := w.all(ctx, false)
	if err != nil {
		return true
	}
	return slices.ContainsFunc(ws, func(win Window) bool {
		return !t.Before(win.Start) && t.Before(win.End.Add(w.Settle())) &&
			(service == "" || len(win.Services) == 0 || slices.Contains(win.Services, service))
	})
}

// coveringIncident is the window of ws in force at t that covers the open
// incident and ends last; nil when its labels are not all known.
func coveringIncident(ws []Window, inc *store.Incident, at time.Time) *policy.Hold {
	sets, complete := ingest.LabelSets(inc.Details)
	if !complete {
		return nil
	}
	return covering(mayHold(ws, &inc.State), inc.Service, sets, at)
}

// mayHold is ws without the windows a person escalated the incident st
// past (policy.Incident.MayHold): they hold it no more, though another
// one that covers it may. A nil st (a new incident) keeps them all.
func mayHold(ws []Window, st *policy.Incident) []Window {
	if st == nil || (len(st.Lifted) == 0 && st.LiftedAt.IsZero()) {
		return ws
	}
	return slices.DeleteFunc(slices.Clone(ws), func(w Window) bool { return !st.MayHold(w.hold()) })
}

// covering is the window of ws in force at t that covers the alert and
// ends last.
func covering(ws []Window, service string, sets []map[string]string, at time.Time) *policy.Hold {
	var best *Window
	for i := range ws {
		win := &ws[i]
		if !win.Active(at) || !win.Covers(service, sets) {
			continue
		}
		if best == nil || win.End.After(best.End) {
			best = win
		}
	}
	if best == nil {
		return nil
	}
	return best.hold()
}

// List returns every window, the config's first, then the API's by start.
func (w *Windows) List(ctx context.Context) ([]Window, error) {
	ws, err := w.all(ctx, true)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(ws, func(i, j int) bool {
		if (ws[i].Source == "config") != (ws[j].Source == "config") {
			return ws[i].Source == "config"
		}
		return ws[i].Start.Before(ws[j].Start)
	})
	return ws, nil
}

// Request is a window to make: Services and/or Matchers; Start (default
// now) and End, or a Duration from Start.
type Request struct {
	Name     string   `json:"name"`
	Services []string `json:"services"`
	Matchers []string `json:"matchers"`
	Start    string   `json:"start"`
	End      string   `json:"end"`
	Duration string   `json:"duration"`
	Reason   string   `json:"reason"`
}

// maxAhead is how far ahead a window may be scheduled.
const maxAhead = 366 * 24 * time.Hour

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadInput, fmt.Sprintf(format, args...))
}

// window checks a request and makes its window.
func (w *Windows) window(req Request, actor string, now time.Time) (Window, error) {
	cfg := w.o.Config()
	for _, s := range req.Services {
		if cfg.Service(s) == nil {
			return Window{}, bad("services: no service %q is in the config", s)
		}
	}
	cv, err := policy.NewCoverage(req.Services, req.Matchers)
	if err != nil {
		return Window{}, bad("%v", err)
	}
	if len(req.Name) > 200 || len(req.Reason) > 2000 {
		return Window{}, bad("name is at most 200 bytes and reason at most 2000")
	}
	start := now
	if req.Start != "" {
		if start, err = time.Parse(time.RFC3339, req.Start); err != nil {
			return Window{}, bad("start %q: use RFC 3339, like 2025-10-13T22:00:00Z", req.Start)
		}
	}
	var end time.Time
	switch {
	case req.End != "" && req.Duration != "":
		return Window{}, bad("give end or duration, not both")
	case req.End != "":
		if end, err = time.Parse(time.RFC3339, req.End); err != nil {
			return Window{}, bad("end %q: use RFC 3339, like 2025-10-14T02:00:00Z", req.End)
		}
	case req.Duration != "":
		d, err := policy.ParseDuration(req.Duration)
		if err != nil || d <= 0 {
			return Window{}, bad("duration %q: a duration like 30m or 2h", req.Duration)
		}
		end = start.Add(d)
	default:
		return Window{}, bad("give end (RFC 3339) or duration (like 90m)")
	}
	switch {
	case !end.After(start):
		return Window{}, bad("end must be after start")
	case !end.After(now):
		return Window{}, bad("the window would be over already (end %s)", end.UTC().Format(time.RFC3339))
	case end.Sub(start) > policy.MaxMaintenance:
		return Window{}, bad("a window may last at most %s", policy.Duration(policy.MaxMaintenance))
	case start.Sub(now) > maxAhead:
		return Window{}, bad("a window may start at most a year ahead")
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return Window{ID: "mw-" + hex.EncodeToString(b[:]), Name: strings.TrimSpace(req.Name), Services: slices.Clone(req.Services),
		Matchers: slices.Clone(req.Matchers), Start: start.UTC().Truncate(time.Second), End: end.UTC().Truncate(time.Second),
		Reason: req.Reason, CreatedBy: actor, CreatedAt: now, Source: "api", coverage: cv}, nil
}

// putDocs writes and deletes window documents, reading the kind's version
// again when another writer got there first.
func (w *Windows) putDocs(ctx context.Context, put map[string][]byte, del []string) error {
	for attempt := 0; ; attempt++ {
		_, ver, err := w.stored(ctx, true)
		if err != nil {
			return err
		}
		_, err = w.o.Store.PutDocs(ctx, DocKind, ver, put, del)
		if errors.Is(err, store.ErrConflict) && attempt < 10 {
			continue
		}
		w.invalidate()
		return err
	}
}

// jobData says what a window's job does: start or end it, and which
// sweep this is (a second one follows after Settle).
type jobData struct {
	Op   string `json:"op"`
	Pass int    `json:"pass,omitempty"`
	// Done marks a start job whose sweeps are over: it stays until the
	// window ends, so a restart does not sweep again.
	Done bool `json:"done,omitempty"`
	// Name is the window's, for the timeline of a window already gone.
	Name string `json:"name,omitempty"`
}

func startKey(id string) string { return "start/" + id }
func endKey(id string) string   { return "end/" + id }

// addStart stores a window's start job, due at its start (now, for one
// in force already), unless one is stored: its sweeps may be done.
func (w *Windows) addStart(ctx context.Context, id string, win Window, now time.Time) (added bool, start time.Time, err error) {
	start = win.Start
	if start.Before(now) {
		start = now
	}
	b, _ := json.Marshal(jobData{Op: "start", Name: win.Name})
	added, err = w.o.Store.AddJob(ctx, store.Job{Kind: JobKind, Key: startKey(id), Due: start, Data: b})
	return added, start, err
}

func (w *Windows) putJob(ctx context.Context, key string, due time.Time, d jobData) error {
	b, _ := json.Marshal(d)
	return w.o.Store.PutJob(ctx, store.Job{Kind: JobKind, Key: key, Due: due, Data: b})
}

// Add makes a window from the request, stored before it returns with the
// jobs that start it (now, for one in force already) and end it.
func (w *Windows) Add(ctx context.Context, req Request, actor string) (*Window, error) {
	now := w.clock()
	win, err := w.window(req, actor, now)
	if err != nil {
		return nil, err
	}
	doc, _ := json.Marshal(win)
	if err := w.putDocs(ctx, map[string][]byte{win.ID: doc}, nil); err != nil {
		return nil, err
	}
	start := win.Start
	if start.Before(now) {
		start = now
	}
	err = w.putJob(ctx, startKey(win.ID), start, jobData{Op: "start", Name: win.Name})
	if err == nil {
		err = w.putJob(ctx, endKey(win.ID), win.End, jobData{Op: "end", Name: win.Name})
	}
	if err != nil {
		// Without its jobs the window would hold new alerts but never
		// stop the pages of open incidents: take it back.
		if derr := w.putDocs(ctx, nil, []string{win.ID}); derr != nil {
			return nil, fmt.Errorf("%w: %w: the window may have been stored without its start: %v", store.ErrUnavailable, store.ErrOutcomeUnknown, err)
		}
		return nil, err
	}
	if !start.After(now) && w.o.Wake != nil {
		w.o.Wake()
	}
	w.log.Info("maintenance window added", "window", win.ID, "name", win.Name, "covers", win.coverage.String(),
		"start", win.Start, "end", win.End, "actor", actor)
	return &win, nil
}

// Delete ends a window made through the API now: the incidents it holds
// are released (paged as new when still triggered), unless another window
// still covers them. A window of the config is ErrInConfig.
func (w *Windows) Delete(ctx context.Context, id, actor string) (*Window, error) {
	if w.o.Config().MaintenanceWindow(id) != nil {
		return nil, ErrInConfig
	}
	ws, _, err := w.stored(ctx, true)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(ws, func(win Window) bool { return win.ID == id })
	if i < 0 {
		return nil, ErrNotFound
	}
	win := ws[i]
	now := w.clock()
	// The end, stored first: once it is, the window is certain to end, and
	// its job removes the document too.
	if err := w.putJob(ctx, endKey(id), now, jobData{Op: "end", Name: win.Name}); err != nil {
		return nil, err
	}
	if err := w.putDocs(ctx, nil, []string{id}); err != nil {
		w.log.Warn("maintenance window deleted; its document goes with its end job", "window", id, "err", err)
	}
	if err := w.o.Store.DeleteJob(ctx, JobKind, startKey(id)); err != nil {
		w.log.Warn("maintenance window deleted; its start job was not (it finds no window)", "window", id, "err", err)
	}
	if w.o.Wake != nil {
		w.o.Wake()
	}
	w.log.Info("maintenance window deleted", "window", id, "name", win.Name, "actor", actor)
	if win.End.After(now) {
		win.End = now
	}
	if win.Start.After(now) {
		win.Start = now // deleted before it began: it held nothing, and ends no earlier than it starts
	}
	return &win, nil
}

// Job is the dispatcher's handler of maintenance jobs: a window's start
// holds the open incidents it covers; its end (at its time, or now when it
// is deleted or changed in the config) releases the incidents it holds, and
// removes its document. Each sweeps twice, Settle apart.
func (w *Windows) Job(ctx context.Context, j *store.Job) (*store.Job, error) {
	var d jobData
	_ = json.Unmarshal(j.Data, &d)
	op, id, ok := strings.Cut(j.Key, "/")
	if !ok {
		w.log.Error("maintenance job unreadable; dropped", "job", j.Key)
		return nil, nil
	}
	now := w.clock()
	ws, err := w.all(ctx, true)
	if err != nil {
		return nil, err
	}
	var win *Window
	for i := range ws {
		if ws[i].ID == id {
			win = &ws[i]
		}
	}
	switch op {
	case "start":
		if win == nil {
			return nil, nil
		}
		if now.Before(win.Start) {
			// A job older than the window as it is now (one left from a
			// window of the same name, changed since): it waits for this
			// window's start, and sweeps then from the first pass.
			b, _ := json.Marshal(jobData{Op: "start", Name: win.Name})
			return &store.Job{Due: win.Start, Data: b}, nil
		}
		if !now.Before(win.End) || d.Done {
			return nil, nil
		}
		if err := w.sweepHold(ctx, win); err != nil {
			return nil, err
		}
		if d.Pass == 0 {
			d.Pass = 1
			b, _ := json.Marshal(d)
			return &store.Job{Due: now.Add(w.Settle()), Data: b}, nil
		}
		d.Done = true
		b, _ := json.Marshal(d)
		return &store.Job{Due: win.End, Data: b}, nil
	case "end":
		// A window of the API ends for good. One of the config changed at a
		// reload and still in force stays in ws: its incidents are handed
		// to it as it is now.
		if win != nil && win.Source == "api" {
			if err := w.putDocs(ctx, nil, []string{id}); err != nil {
				return nil, err
			}
			ws = slices.DeleteFunc(ws, func(x Window) bool { return x.ID == id })
		}
		if err := w.sweepRelease(ctx, id, d.Name, ws, now); err != nil {
			return nil, err
		}
		if d.Pass == 0 {
			d.Pass = 1
			b, _ := json.Marshal(d)
			return &store.Job{Due: now.Add(w.Settle()), Data: b}, nil
		}
		return nil, nil
	}
	w.log.Error("maintenance job of an unknown kind; dropped", "job", j.Key)
	return nil, nil
}

// openIncidents calls f with every open incident of the services (of
// every service when none is named).
func (w *Windows) openIncidents(ctx context.Context, services []string, f func(*store.Incident) error) error {
	if len(services) == 0 {
		services = []string{""}
	}
	for _, svc := range services {
		if err := store.EachOpen(ctx, w.o.Incidents, svc, f); err != nil {
			return err
		}
	}
	return nil
}

// sweepHold holds the open incidents the window covers. An incident whose
// stored details cannot tell every alert's labels is not held: it pages.
func (w *Windows) sweepHold(ctx context.Context, win *Window) error {
	held := 0
	var failed sweepFailures
	err := w.openIncidents(ctx, win.Services, func(inc *store.Incident) error {
		if h := inc.State.Maintenance; h != nil && !win.End.After(h.Until) {
			return nil
		}
		covers := func(inc *store.Incident) bool {
			sets, complete := ingest.LabelSets(inc.Details)
			return complete && win.Covers(inc.Service, sets)
		}
		if !covers(inc) {
			return nil
		}
		// Covered as listed; checked again as written, since an alert
		// outside the window may have joined the group meanwhile.
		acts, err := w.o.Incidents.HoldIfCovered(ctx, inc.ID, policy.Event{Kind: policy.EventHold, Hold: win.hold(), Actor: Actor}, covers)
		if err != nil && !errors.Is(err, incident.ErrAlreadyResolved) {
			failed.add(inc.ID, err)
			return nil
		}
		if len(acts) > 0 {
			held++
		}
		return nil
	})
	if held > 0 {
		w.log.Info("maintenance window started: incidents held", "window", win.ID, "incidents", held)
	}
	return errors.Join(err, failed.err("held"))
}

// sweepFailures are the incidents a sweep could not hold or release. A
// sweep goes on past them, so one incident (a write that fails, a service
// this replica's config lacks during a rollout) holds none of the others
// up: released late, they would page at their own deadline, at the
// window's old end. The job's retry sweeps again for them.
type sweepFailures struct {
	n     int
	first error
}

func (f *sweepFailures) add(id string, err error) {
	if f.n++; f.first == nil {
		f.first = fmt.Errorf("incident %s: %w", id, err)
	}
}

// err is nil, or says how many incidents were not done (held, released).
func (f *sweepFailures) err(done string) error {
	if f.n == 0 {
		return nil
	}
	return fmt.Errorf("%d incidents not %s, the first: %w", f.n, done, f.first)
}

// sweepRelease releases the open incidents the window id holds, handing
// each to another window of ws that still covers it, if one does.
func (w *Windows) sweepRelease(ctx context.Context, id, name string, ws []Window, now time.Time) error {
	released := 0
	var failed sweepFailures
	err := w.openIncidents(ctx, nil, func(inc *store.Incident) error {
		h := inc.State.Maintenance
		if h == nil || h.ID != id {
			return nil
		}
		then := coveringIncident(ws, inc, now)
		ended := &policy.Hold{ID: id, Name: name}
		_, acts, err := w.o.Incidents.Apply(ctx, inc.ID, policy.Event{Kind: policy.EventRelease, Hold: ended, Then: then, Actor: Actor})
		if err != nil && !errors.Is(err, incident.ErrAlreadyResolved) {
			failed.add(inc.ID, err)
			return nil
		}
		if len(acts) > 0 {
			released++
		}
		return nil
	})
	if released > 0 {
		w.log.Info("maintenance window ended: incidents released", "window", id, "incidents", released)
	}
	return errors.Join(err, failed.err("released"))
}

// Arm stores the jobs of the config's windows: a window's start (now, for
// one in force already, unless it was swept before) and its end. A window
// removed from the config or changed since the last Arm is ended now (its
// incidents released, or held as it is now), and started again when it
// is still in force.
func (w *Windows) Arm(ctx context.Context, cfg *policy.Config) error {
	w.arming.Lock()
	defer w.arming.Unlock()
	now := w.clock()
	cur := map[string]Window{}
	for i := range cfg.Maintenance {
		win := fromConfig(&cfg.Maintenance[i])
		cur[win.ID] = win
	}
	w.mu.Lock()
	prev := w.prev
	w.mu.Unlock()
	armed, armedVer, err := w.armed(ctx)
	if err != nil {
		return err
	}
	if prev == nil {
		prev = armed // the first Arm since this pagerd started
	}
	for id, old := range prev {
		win, kept := cur[id]
		if kept && same(old, win) {
			continue
		}
		if err := w.putJob(ctx, endKey(id), now, jobData{Op: "end", Name: old.Name}); err != nil {
			return err
		}
		// A removed window's start job goes too: were the window added
		// again (same name) at a later reload, that job would stand for
		// it, due at the old start, and no job would be stored for the
		// new one.
		if err := w.o.Store.DeleteJob(ctx, JobKind, startKey(id)); err != nil {
			return err
		}
	}
	for id, win := range cur {
		if !win.End.After(now) {
			continue
		}
		if _, err := w.o.Store.GetJob(ctx, JobKind, startKey(id)); errors.Is(err, store.ErrNotFound) {
			// Added only if still missing: one stored since the read
			// (another replica's Arm, then its dispatcher sweeping) keeps
			// what its sweeps did, and does not sweep again from the
			// first.
			if _, _, err := w.addStart(ctx, id, win, now); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
	}
	if !sameSet(armed, cur) {
		b, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		// A conflict is another replica arming at once: what it stored
		// is its config, and this one's is stored at its next Arm.
		if _, err := w.o.Store.PutDocs(ctx, ArmedKind, armedVer, map[string][]byte{ArmedKey: b}, nil); err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	w.mu.Lock()
	w.prev = cur
	w.mu.Unlock()
	if w.o.Wake != nil {
		w.o.Wake()
	}
	return nil
}

// Rearm puts back the start job of each config window last armed (by Arm,
// on this pagerd) that has not ended, when the store no longer has it: a
// store that lost its data while pagerd runs lost the jobs, and a window
// without its start would not hold the incidents opened before it starts.
// A start job still stored is left alone (its sweeps may be done), nothing
// is ended, and a config not armed yet is left to Arm; before the first Arm
// it does nothing. The windows last armed are stored again if they are
// missing, so that a window removed while no pagerd runs still ends at the
// next start.
func (w *Windows) Rearm(ctx context.Context) error {
	w.arming.Lock()
	defer w.arming.Unlock()
	w.mu.Lock()
	prev := w.prev
	w.mu.Unlock()
	if prev == nil {
		return nil
	}
	now := w.clock()
	put := 0
	for id, win := range prev {
		if !win.End.After(now) {
			continue
		}
		added, start, err := w.addStart(ctx, id, win, now)
		if err != nil {
			return err
		}
		if !added {
			continue // stored meanwhile (an Arm of another replica)
		}
		put++
		w.log.Warn("maintenance window's start job missing from the store (its data lost?): armed again", "window", id,
			"name", win.Name, "start", start, "end", win.End)
	}
	armed, armedVer, err := w.armed(ctx)
	if err != nil {
		return err
	}
	if armed == nil {
		b, err := json.Marshal(prev)
		if err != nil {
			return err
		}
		if _, err := w.o.Store.PutDocs(ctx, ArmedKind, armedVer, map[string][]byte{ArmedKey: b}, nil); err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	if put > 0 && w.o.Wake != nil {
		w.o.Wake()
	}
	return nil
}

// armed reads the config's windows as last armed by any pagerd (nil
// before the first), and the version to store the next ones at.
func (w *Windows) armed(ctx context.Context) (map[string]Window, int64, error) {
	docs, ver, err := w.o.Store.ListDocs(ctx, ArmedKind)
	if err != nil || docs[ArmedKey] == nil {
		return nil, ver, err
	}
	var m map[string]Window
	if err := json.Unmarshal(docs[ArmedKey], &m); err != nil {
		w.log.Error("maintenance: the windows last armed are unreadable; windows removed while pagerd was down end at their old end", "err", err)
		return nil, ver, nil
	}
	return m, ver, nil
}

// sameSet reports whether two sets of config windows are the same.
func sameSet(a, b map[string]Window) bool {
	if len(a) != len(b) {
		return false
	}
	for id, x := range a {
		if y, ok := b[id]; !ok || !same(x, y) {
			return false
		}
	}
	return true
}

// same reports whether a config window is unchanged.
func same(a, b Window) bool {
	return a.Start.Equal(b.Start) && a.End.Equal(b.End) && slices.Equal(a.Services, b.Services) && slices.Equal(a.Matchers, b.Matchers) &&
		a.Name == b.Name
}
