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

// serviceByKey finds the service whose key (as key picks it) this is. Every
// service is compared, so the time taken does not tell how many keys were
// tried before a match.
func serviceByKey(c *policy.Config, presented string, key func(*policy.Integrations) policy.Secret) *policy.Service {
	var found *policy.Service
	for i := range c.Services {
		if secretEqual(presented, key(&c.Services[i].Integrations)) {
			found = &c.Services[i]
		}
	}
	return found
}

// serviceByAlertmanagerKey finds the service of an Alertmanager integration key.
func serviceByAlertmanagerKey(c *policy.Config, key string) *policy.Service {
	return serviceByKey(c, key, func(in *policy.Integrations) policy.Secret { return in.AlertmanagerKey })
}

// serviceByRoutingKey finds the service of a PagerDuty routing key.
func serviceByRoutingKey(c *policy.Config, key string) *policy.Service {
	return serviceByKey(c, key, func(in *policy.Integrations) policy.Secret { return in.PagerDutyRoutingKey })
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
