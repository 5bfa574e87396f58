package gateway

import (
	"crypto/subtle"
	"net/http"
	"strings"

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

// serviceByAlertmanagerKey finds the service whose Alertmanager integration
// key this is. Every service is compared, so the time taken does not tell
// how many keys were tried before a match.
func serviceByAlertmanagerKey(c *policy.Config, key string) *policy.Service {
	var found *policy.Service
	for i := range c.Services {
		if secretEqual(key, c.Services[i].Integrations.AlertmanagerKey) {
			found = &c.Services[i]
		}
	}
	return found
}

// serviceByRoutingKey finds the service whose PagerDuty routing key this is.
func serviceByRoutingKey(c *policy.Config, key string) *policy.Service {
	var found *policy.Service
	for i := range c.Services {
		if secretEqual(key, c.Services[i].Integrations.PagerDutyRoutingKey) {
			found = &c.Services[i]
		}
	}
	return found
}

// apiTokenName is the name of the API token presented, or "".
func apiTokenName(c *policy.Config, token string) string {
	name := ""
	for _, t := range c.API.Tokens {
		if secretEqual(token, t.Token) {
			name = t.Name
		}
	}
	return name
}

const ctxTokenName = "pagerd.token"

// apiAuth requires a configured API bearer token.
func (s *Server) apiAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		tok := bearer(c.Request())
		if tok == "" {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="pagerd"`)
			return &inputError{http.StatusUnauthorized, "missing Authorization: Bearer <API token>"}
		}
		name := apiTokenName(s.Config(), tok)
		if name == "" {
			return &inputError{http.StatusUnauthorized, "unknown API token"}
		}
		c.Set(ctxTokenName, name)
		return next(c)
	}
}
