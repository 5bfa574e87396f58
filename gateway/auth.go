package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pagerd/pagerd/policy"
)

// secretEqual compares a presented secret with a configured one in constant
// time. An empty configured secret never matches.
func secretEqual(presented string, configured policy.Secret) bool {
	want := configured.Reveal()
	return want != "" && subtle.ConstantTimeCompare([]byte(presented), []byte(want)) == 1
}

// bearer reads "Authorization: Bearer X".
func bearer(r *http.Request) string {
	h := r.Header.Get(echo.HeaderAuthorization)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// serviceByIntegrationKey finds the service that has this key among its
// integration keys of the types fields names (its config fields, as
// policy.Integrations.Keys gives them; every type when fields is empty),
// and the field it was found in. The key is looked up by its SHA-256
// (integrationKeys), so the time taken tells neither how many keys the
// config has nor how much of one the key presented shares: the loop this
// replaces compared every key of every service in constant time, twice a
// request, which was 1.3% of pagerd's CPU in the load run's closed loop
// with 12 services and grew with each service a config adds
// (BenchmarkServiceByIntegrationKey).
func serviceByIntegrationKey(c *policy.Config, presented string, fields ...string) (*policy.Service, string) {
	if presented == "" {
		return nil, ""
	}
	var d [sha256.Size]byte
	if b := [64]byte{}; len(presented) <= len(b) {
		d = sha256.Sum256(b[:copy(b[:], presented)]) // no allocation
	} else {
		d = sha256.Sum256([]byte(presented))
	}
	found := integrationKeys(c).by[d]
	// The last that fits, as the loop found it (a service may give one
	// key for several fields; two services never share one).
	for i := len(found) - 1; i >= 0; i-- {
		if len(fields) == 0 || slices.Contains(fields, found[i].field) {
			return &c.Services[found[i].service], found[i].field
		}
	}
	return nil, ""
}

// keyIndex is every integration key of one config, by the SHA-256 of its
// value: the services (their index in the config) and fields that give it.
type keyIndex struct {
	cfg *policy.Config
	by  map[[sha256.Size]byte][]keyOwner
}

type keyOwner struct {
	service int
	field   string
}

// lastKeys is the index of the config keys were last looked up in: a
// daemon has one config at a time, and a reload's new config is indexed
// at its first lookup. A config is not changed once loaded.
var lastKeys atomic.Pointer[keyIndex]

// integrationKeys is the index of c's integration keys (keyIndex).
func integrationKeys(c *policy.Config) *keyIndex {
	if k := lastKeys.Load(); k != nil && k.cfg == c {
		return k
	}
	k := &keyIndex{cfg: c, by: map[[sha256.Size]byte][]keyOwner{}}
	for i := range c.Services {
		for _, ik := range c.Services[i].Integrations.Keys() {
			if v := ik.Key.Reveal(); v != "" { // an empty key never matches
				d := sha256.Sum256([]byte(v))
				k.by[d] = append(k.by[d], keyOwner{i, ik.Field})
			}
		}
	}
	lastKeys.Store(k)
	return k
}

// unknownKey says, of an integration key no service of this replica's
// config has, whether a newer config may have it: a live replica runs a
// config taken into use after this one's (a rollout under way), and
// which. Such a key is answered 503, which every sender retries, not the
// 401 (PagerDuty's 400) that Alertmanager and PagerDuty clients drop:
// the service a rolled-out config adds paged nobody until its
// Alertmanager sent the group again, at its next change or
// repeat_interval, when its alerts reached a replica not rolled yet. The
// answer is kept for a second, so a flood of wrong keys costs the store
// one read a second, not one each.
func (s *Server) unknownKey(ctx context.Context) (replica string, newer bool) {
	if s.o.NewerConfig == nil {
		return "", false
	}
	s.newerMu.Lock()
	defer s.newerMu.Unlock()
	now := s.now()
	if d := now.Sub(s.newerAt); !s.newerAt.IsZero() && d >= 0 && d < time.Second {
		return s.newer, s.newer != ""
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	s.newer, _ = s.o.NewerConfig(ctx)
	s.newerAt = now
	return s.newer, s.newer != ""
}

// newerConfigHas is the reason, for a 503's answer, that a key unknown
// here is retried: replica runs a newer config, which may have it.
func newerConfigHas(replica string) string {
	return "replica " + replica + " runs a config taken into use after this replica's (a config being rolled out?), which may have it"
}

// serviceByAlertmanagerKey finds the service of an Alertmanager integration key.
func serviceByAlertmanagerKey(c *policy.Config, key string) *policy.Service {
	svc, _ := serviceByIntegrationKey(c, key, "alertmanager_key")
	return svc
}

// serviceByRoutingKey finds the service of a PagerDuty routing key.
func serviceByRoutingKey(c *policy.Config, key string) *policy.Service {
	svc, _ := serviceByIntegrationKey(c, key, "pagerduty_routing_key")
	return svc
}

// findAPIToken is the API token presented, or nil. Every token is compared, so
// the time taken does not tell how many were tried before a match.
func findAPIToken(c *policy.Config, token string) *policy.APIToken {
	var found *policy.APIToken
	for i := range c.API.Tokens {
		if secretEqual(token, c.API.Tokens[i].Token) {
			found = &c.API.Tokens[i]
		}
	}
	return found
}

// access is what a route lets a token do; each level includes the ones
// before it.
type access int

const (
	// accessRead: incidents, timelines, who is on call.
	accessRead access = iota
	// accessAct: acknowledge, resolve, escalate, status updates (and, as
	// they come, overrides and maintenance windows).
	accessAct
	// accessAdmin: POST /-/reload, GET /-/backup.
	accessAdmin
)

// verbs say what a level of access is for, in a 403's message.
var verbs = map[access]string{
	accessRead:  "read incidents",
	accessAct:   "act on incidents or change overrides",
	accessAdmin: "administer pagerd (reload, backup)",
}

// grants is the most each role may do. A token without a role keeps what
// every token could do before roles existed, except administering the
// daemon: a responder's powers.
func grants(r policy.Role) access {
	switch r {
	case policy.RoleViewer:
		return accessRead
	case policy.RoleAdmin:
		return accessAdmin
	default: // responder, or no role
		return accessAct
	}
}

// roleNames are the roles that may do at least a level of access.
var roleNames = map[access]string{
	accessRead:  "viewer, responder or admin",
	accessAct:   "responder or admin",
	accessAdmin: "admin",
}

const ctxTokenName = "pagerd.token"

// apiAuth requires a configured API bearer token whose role grants need:
// 401 without a known token, 403 with one that may not do this.
func (s *Server) apiAuth(need access) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			tok := bearer(c.Request())
			if tok == "" {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="pagerd"`)
				return &inputError{http.StatusUnauthorized, "missing Authorization: Bearer <API token>"}
			}
			t := findAPIToken(s.config(), tok)
			if t == nil {
				return &inputError{http.StatusUnauthorized, "unknown API token"}
			}
			if grants(t.Role) < need {
				role := "no role (a responder's powers)"
				if t.Role != "" {
					role = "role " + string(t.Role)
				}
				return &inputError{http.StatusForbidden, fmt.Sprintf("API token %q has %s and may not %s: that needs a token with role %s (api.tokens[].role)",
					t.Name, role, verbs[need], roleNames[need])}
			}
			c.Set(ctxTokenName, t.Name)
			return next(c)
		}
	}
}
