// Package logsample bounds how many log lines of one kind pagerd writes a
// second.
//
// In an alert storm pagerd opens thousands of incidents a second, and each
// logs "incident opened". Written out, those lines cost nearly as much CPU
// as the incident's own write to the store (pagerd's side of it), and they
// drown the log pipeline: journald, at its defaults, drops every line of a
// service past 10,000 in 30 seconds, and the lines it drops then include
// the errors an operator needs (a provider failing, the store
// unreachable). A Handler passes the first lines of each level and message
// in a second and counts the rest; once the second is over, one line at
// the same level says how many of which message were dropped. The
// incidents, pages and refusals themselves are in the store, the API and
// the metrics, not only the log.
package logsample

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DroppedMessage is the message of the line that says how many lines of
// one kind were dropped.
const DroppedMessage = "log lines dropped"

// maxKinds bounds the kinds (level and message) a Handler keeps counts
// for: messages are constants in pagerd's code, but one built from a value
// would otherwise grow the map without end. Lines of a kind past the bound
// are all written.
const maxKinds = 4096

// Handler is a slog.Handler that writes at most New's perSecond lines a
// second of each level and message to the handler it wraps, and counts
// the rest.
type Handler struct {
	next  slog.Handler
	state *state
}

// state is shared by a Handler and the handlers its WithAttrs and
// WithGroup make, so that a logger's With lines count with the rest.
type state struct {
	perSecond int
	out       slog.Handler // the handler the dropped lines are said on
	mu        sync.Mutex
	kinds     map[kind]*second
}

type kind struct {
	level slog.Level
	msg   string
}

// second is one kind's lines in the second that starts at start (Unix
// seconds): how many were written, and dropped.
type second struct {
	start   int64
	written int
	dropped int
	armed   bool // a timer will say the dropped ones when the second ends
}

// New wraps next: at most perSecond lines a second of each level and
// message go to it. perSecond 0 or less writes every line (next itself is
// returned).
func New(next slog.Handler, perSecond int) slog.Handler {
	if perSecond <= 0 {
		return next
	}
	return &Handler{next: next, state: &state{perSecond: perSecond, out: next, kinds: map[kind]*second{}}}
}

// Enabled is the wrapped handler's.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// WithAttrs wraps the wrapped handler's, counting with h.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &Handler{next: h.next.WithAttrs(as), state: h.state}
}

// WithGroup wraps the wrapped handler's, counting with h.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), state: h.state}
}

// Handle writes r unless perSecond lines of its level and message were
// written in its second already. The first line of a kind in a new second
// says first how many of the second before were dropped.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	at := r.Time
	if at.IsZero() {
		at = time.Now()
	}
	write, before := h.state.count(kind{r.Level, r.Message}, at)
	if before.dropped > 0 {
		h.state.say(ctx, r.Level, r.Message, before)
	}
	if !write {
		return nil
	}
	return h.next.Handle(ctx, r)
}

// count counts a line of k at at, and says whether to write it, and the
// dropped lines of k's second before, when at starts a new second and
// those were not said yet.
func (s *state) count(k kind, at time.Time) (write bool, before second) {
	sec := at.Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.kinds[k]
	if c == nil {
		if len(s.kinds) >= maxKinds {
			return true, second{}
		}
		c = &second{start: sec}
		s.kinds[k] = c
	}
	if sec > c.start {
		before = *c
		*c = second{start: sec}
	}
	if c.written < s.perSecond {
		c.written++
		return true, before
	}
	c.dropped++
	if !c.armed {
		// Said when the second ends, if no line of k comes after it to
		// say it first.
		c.armed = true
		// The wait is from the line's time (slog's time.Now), so at most a
		// second.
		time.AfterFunc(time.Unix(sec+1, 0).Sub(at), func() { s.sayDue(k, sec) })
	}
	return false, before
}

// sayDue says the dropped lines of k's second start, unless a line of a
// later second said them already.
func (s *state) sayDue(k kind, start int64) {
	s.mu.Lock()
	c := s.kinds[k]
	if c == nil || c.start != start || c.dropped == 0 {
		s.mu.Unlock()
		return
	}
	done := *c
	// A line of the second handled after this (its time read before the
	// second ended) arms another.
	c.dropped, c.armed = 0, false
	s.mu.Unlock()
	s.say(context.Background(), k.level, k.msg, done)
}

// Flush says the dropped lines of every kind not said yet: a process that
// exits within a second of a storm calls it last, since that second's
// timers would not fire. h is what New returned; for a handler New did
// not wrap, Flush does nothing.
func Flush(h slog.Handler) {
	lh, ok := h.(*Handler)
	if !ok {
		return
	}
	s := lh.state
	type due struct {
		k     kind
		start int64
	}
	var dues []due
	s.mu.Lock()
	for k, c := range s.kinds {
		if c.dropped > 0 {
			dues = append(dues, due{k, c.start})
		}
	}
	s.mu.Unlock()
	// As the seconds' timers would: each said once, whichever comes first.
	for _, d := range dues {
		s.sayDue(d.k, d.start)
	}
}

// say writes the line that counts a second's dropped lines of a kind.
func (s *state) say(ctx context.Context, l slog.Level, msg string, c second) {
	r := slog.NewRecord(time.Now(), l, DroppedMessage, 0)
	r.AddAttrs(slog.String("message", msg), slog.Int("dropped", c.dropped), slog.Int("written", c.written),
		slog.Time("second", time.Unix(c.start, 0).UTC()))
	_ = s.out.Handle(ctx, r)
}
