package incident

import (
	"sync"
	"time"
)

// A new incident's first page is queued store.FirstPageLead ahead of its
// time, so that under a backlog it goes out before older incidents' later
// steps. When one service floods (10,000 alerts in 5 s in the load run),
// every one of its new incidents had that lead too, and another service's
// new incident waited behind all of the flood's that came due before it:
// with the embedded store's writer slowed a little (a log line a commit),
// its dispatcher fell 0.2-0.4 s behind at the flood's start, and the other
// service's page went out 156-757 ms after its alert (78-235 ms with the
// flood's service given no lead), while the flood's own pages were held
// for a storm message anyway. So the lead is a budget per service: a
// burst of leadBurst new incidents, and leadRate a second after that. A
// service past it is flooding, and its new incidents are queued at their
// own time (store.Incident.NoFirstPageLead): in order among themselves
// and with the ladder steps due with them, and behind a quiet service's
// new incident that came due less than the lead after them. Nothing is
// delayed when nothing is behind: the order matters only to a dispatcher
// with more due than it can claim at once. The budget is per replica.
const (
	leadBurst = 20
	leadRate  = 2 // new incidents a second
)

// leadBudget is what is left of each service's lead budget.
type leadBudget struct {
	mu sync.Mutex
	by map[string]*leadTokens
}

type leadTokens struct {
	left float64
	at   time.Time // when left was counted
}

// take spends one of the service's leads at now, and reports whether one
// was left.
func (b *leadBudget) take(service string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.by[service]
	if t == nil {
		if b.by == nil {
			b.by = map[string]*leadTokens{}
		}
		t = &leadTokens{left: leadBurst, at: now}
		b.by[service] = t
	}
	if now.After(t.at) {
		t.left = min(leadBurst, t.left+now.Sub(t.at).Seconds()*leadRate)
		t.at = now
	}
	if t.left < 1 {
		return false
	}
	t.left--
	return true
}

// giveBack returns a lead taken for an alert that opened no incident (a
// repeat, or a write that failed).
func (b *leadBudget) giveBack(service string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t := b.by[service]; t != nil {
		t.left = min(leadBurst, t.left+1)
	}
}
