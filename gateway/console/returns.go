package console

import (
	"sync"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// returns remembers, per user id, when a config taken into use last
// brought the user back after one without them: a session issued before
// that is refused, so that a user removed from the config (which ends
// their sessions) and added back with the same id and credentials does not
// get their old sessions back. It lives in memory: a pagerd that never
// ran a config without the user (started after they were added back)
// does not know, which docs/CONFIG.md says.
type returns struct {
	mu      sync.Mutex
	present map[string]bool // the users of the last config seen; nil before the first
	back    map[string]time.Time
}

// loaded records the users of a config taken into use at now.
func (r *returns) loaded(cfg *policy.Config, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	first := r.present == nil
	present := make(map[string]bool, len(cfg.Users))
	for i := range cfg.Users {
		id := cfg.Users[i].ID
		present[id] = true
		if !first && !r.present[id] {
			if r.back == nil {
				r.back = map[string]time.Time{}
			}
			r.back[id] = now
		}
	}
	r.present = present
}

// issuedBeforeReturn reports whether a session of the user issued at
// issued predates the user's latest return to the config.
func (r *returns) issuedBeforeReturn(user string, issued time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	back, ok := r.back[user]
	return ok && issued.Before(back)
}
