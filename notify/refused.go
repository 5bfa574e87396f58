package notify

import (
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// RefusedCallbacks logs the callbacks a provider signed with a secret pagerd
// does not have: most likely the provider's own, after its secret was
// rotated on one side only, so every acknowledgement made there is refused
// and the ladder goes on. Whoever runs pagerd must hear of it, not only the
// request line at debug; but a sender that retries, or a stranger, must
// not flood the log. So a refusal is logged at warn at most once a minute,
// with how many were refused since, and at debug in between. The zero
// value is ready.
type RefusedCallbacks struct {
	mu     sync.Mutex
	warned time.Time
	missed int
}

// Log logs one callback of r refused at t with msg and args. msg must name
// the callback: the request's path is not logged.
func (rc *RefusedCallbacks) Log(log *slog.Logger, r *http.Request, t time.Time, msg string, args ...any) {
	rc.mu.Lock()
	due := rc.warned.IsZero() || t.Sub(rc.warned) >= time.Minute
	missed := rc.missed
	if due {
		rc.warned, rc.missed = t, 0
	} else {
		rc.missed++
	}
	rc.mu.Unlock()
	// No path: a callback's path can hold its token (Pushover's does).
	level := slog.LevelDebug
	if due {
		level = slog.LevelWarn
		if missed > 0 {
			args = append(args, "refused_since_last_warning", missed)
		}
	}
	log.Log(r.Context(), level, msg, args...)
}
