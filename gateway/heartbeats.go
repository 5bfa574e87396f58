package gateway

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/pagerd/pagerd/gateway/heartbeat"
)

// heartbeatPingPath is where heartbeats are pinged with a service's
// integration key.
const heartbeatPingPath = "/api/v1/heartbeats/:name/ping"

// heartbeatPingBucket is the rate-limit bucket (per service) of heartbeat
// pings, on this path and on Opsgenie's: apart from the service's alerts,
// so that a burst of alerts cannot make pings fail and page a false
// HeartbeatMissing.
const heartbeatPingBucket = "hb:"

// heartbeatPing is GET|POST /api/v1/heartbeats/<name>/ping: a ping of the
// heartbeat of the service whose integration key is the bearer token. A
// body is allowed (an Alertmanager webhook receiver sends its notification)
// and not read. 200 once the new expiry is stored, with it and the
// incident the ping resolved, if any. Its store writes are kept from a
// sender that hangs up (storeBudget): cancelled, the expiry would be
// stored and the resolve of the heartbeat's incident not, which then
// escalated on until the next ping, though the heartbeat is alive.
func (s *Server) heartbeatPing(c echo.Context) error {
	cfg := s.config()
	key := bearer(c.Request())
	if key == "" {
		c.Set(ctxKeyName, "none")
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="pagerd"`)
		return &inputError{http.StatusUnauthorized, "missing Authorization: Bearer <the service's integration key>"}
	}
	svc, which := serviceByIntegrationKey(cfg, key)
	if svc == nil {
		c.Set(ctxKeyName, "unknown")
		if replica, ok := s.unknownKey(c.Request().Context()); ok {
			c.Set(ctxRejected, "unknown integration key while a newer config rolls out")
			return &inputError{http.StatusServiceUnavailable, "unknown integration key in this replica's config, but " + newerConfigHas(replica) + "; nothing was stored: retry"}
		}
		return &inputError{http.StatusUnauthorized, "unknown integration key"}
	}
	c.Set(ctxKeyName, "services["+svc.Name+"].integrations."+which)
	if !s.allow(cfg, heartbeatPingBucket, svc.Name) {
		c.Set(ctxRejected, "over the rate limit (server.rate_limit)")
		return &inputError{http.StatusServiceUnavailable, "too many pings for service " + svc.Name + " (server.rate_limit); nothing was stored, retry later"}
	}
	name := c.Param("name")
	ctx, cancel := storeBudget(c.Request())
	defer cancel()
	expires, resolved, err := s.o.Heartbeats.Ping(ctx, svc, name)
	if errors.Is(err, heartbeat.ErrUnknown) {
		watched, werr := s.o.Heartbeats.Watched(ctx, svc.Name, name)
		if werr != nil {
			return retrying(werr, "retry: a ping again sets the same expiry, and resolves nothing twice")
		}
		if watched {
			c.Set(ctxRejected, "heartbeat not in this replica's config, watched by another's")
			return &inputError{http.StatusServiceUnavailable, "service " + svc.Name + " has no heartbeat " + name + " in this replica's config, but another replica's has it " +
				"(a config being rolled out?); nothing was stored: retry"}
		}
		return &inputError{http.StatusNotFound, "service " + svc.Name + " has no heartbeat " + name + " (services[].heartbeats)"}
	}
	if err != nil {
		return retrying(err, "retry: a ping again sets the same expiry, and resolves nothing twice")
	}
	out := map[string]any{"status": "ok", "service": svc.Name, "heartbeat": name, "expires_at": expires}
	if resolved != "" {
		out["resolved"] = resolved
	}
	return c.JSON(http.StatusOK, out)
}
