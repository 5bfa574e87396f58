package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"

	"github.com/pagerd/pagerd/gateway/acklink"
	"github.com/pagerd/pagerd/gateway/amresolve"
	"github.com/pagerd/pagerd/gateway/changes"
	"github.com/pagerd/pagerd/gateway/feeds"
	"github.com/pagerd/pagerd/gateway/heartbeat"
	"github.com/pagerd/pagerd/gateway/history"
	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/maintenance"
	"github.com/pagerd/pagerd/gateway/overrides"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/pagerduty"
	"github.com/pagerd/pagerd/notify/pushover"
	"github.com/pagerd/pagerd/notify/slack"
	"github.com/pagerd/pagerd/notify/twilio"
	"github.com/pagerd/pagerd/policy"
)

// ServerOptions configure a Server.
type ServerOptions struct {
	// Config is the config in force (it changes on reload); Reload reloads
	// it, for POST /-/reload.
	Config func() *policy.Config
	Reload func() error
	// InUse, when set, is held for reading while an alert is taken in,
	// from the config it is routed by to its store writes; a reload holds
	// it to check the stored incidents and swap the config
	// (configHolder.inUse).
	InUse interface {
		RLock()
		RUnlock()
	}
	// Incidents is where every change to an incident goes.
	Incidents *incident.Service
	// Overrides keeps the overrides made at run time.
	Overrides *overrides.Service
	// Feeds answers the calendar feeds.
	Feeds *feeds.Service
	// Links answers the signed ack links.
	Links *acklink.Pages
	// Console answers the web console under /ui/ (gateway/console); nil:
	// no console routes.
	Console http.Handler
	// Twilio and PagerDuty answer the providers' callbacks.
	Twilio    *twilio.Callbacks
	PagerDuty *pagerduty.Webhook
	// Slack answers Slack's button presses and slash commands.
	Slack *slack.Callbacks
	// Pushover answers Pushover's receipt callbacks.
	Pushover *pushover.Callbacks
	// Health answers /-/ready.
	Health *Health
	// Backup, when set, serves GET /-/backup (the embedded store).
	Backup BackupFunc
	// History is the incident history GET /api/v1/reports and
	// /api/v1/reports/history read.
	History history.Source
	Logger  *slog.Logger
	// Registry receives the server's metrics; Gatherer serves /metrics.
	Registry prometheus.Registerer
	Gatherer prometheus.Gatherer
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Arrival stamps an alert's request as its handling starts: when it
	// arrived on the clock every replica shares, at the earliest
	// (incident.Alert.Received) and at the latest
	// (incident.WithReadAt), or zeros while this replica is not on that
	// clock (it has not read Redis's clock yet: its host's may be
	// minutes off another replica's). The two differ for a request read
	// during or just after a stop of this process that the kernel did
	// not stamp well inside the stop (arrivals.stamp). Nil: Now for both,
	// always on it.
	Arrival func(*http.Request) (earliest, latest time.Time)
	// TrustedProxies are the addresses whose X-Forwarded-For and
	// X-Forwarded-Proto are believed (server.trusted_proxies, read at
	// start); nobody's when empty.
	TrustedProxies []string
	// ShutdownTimeout bounds how long in-flight requests may take to
	// finish after a stop (default 30s).
	ShutdownTimeout time.Duration
	// MaxInflight, MaxQueue and QueueTimeout bound the intake
	// (admission.go): at most MaxInflight alerts are taken in at once, up
	// to MaxQueue more wait for a slot, and one that finds the queue full
	// or no slot within QueueTimeout is refused (defaults 64, twice
	// MaxInflight, 20ms).
	MaxInflight  int
	MaxQueue     int
	QueueTimeout time.Duration
	// DispatchBehind, if set, is how far behind with due steps the
	// dispatcher is (dispatch.Dispatcher.Behind). Past BrakeBehind
	// (default DefaultBrakeBehind) the intake brakes: it takes fewer
	// alerts at once until the dispatcher is back within half of
	// BrakeBehind (admission.go).
	DispatchBehind func() time.Duration
	BrakeBehind    time.Duration
	// NewerConfig, if set, names a live replica that runs a config taken
	// into use after this one's (replicaconfig.Registry.Newer): a key
	// this config lacks may be that one's, in a rollout (unknownKey).
	NewerConfig func(ctx context.Context) (replica string, ok bool)

	// Heartbeats take the heartbeats' pings; Maintenance keeps the
	// maintenance windows.
	Heartbeats *heartbeat.Monitor
	// Withheld checks with Alertmanager the resolves the intake withheld
	// (nil: they stay withheld).
	Withheld    *amresolve.Checker
	Maintenance *maintenance.Windows
	// Changes keeps the change events (POST /v2/change/enqueue).
	Changes *changes.Log
}

// Server is the daemon's HTTP side: routes, authentication, body limits,
// the intake's decoding, and the answers. It changes no incident itself:
// every change goes to the incident service.
type Server struct {
	o        ServerOptions
	log      *slog.Logger
	now      func() time.Time
	m        *metrics
	echo     *echo.Echo
	shutdown time.Duration

	limitMu sync.Mutex
	limits  map[limitKey]*rate.Limiter
	adm     *admission // in front of echo: it refuses past the intake's limit
	// streaming is held while a notification over alertmanagerBodyLimit
	// is read (readAlertmanager): one at a time.
	streaming chan struct{}

	// newer caches NewerConfig's answer for a second (unknownKey).
	newerMu sync.Mutex
	newerAt time.Time
	newer   string
}

// Body limits: PagerDuty's documented cap for events, and for Alertmanager
// notifications what is read whole, and (alertmanagerStreamLimit) what is
// read as a stream: Alertmanager sends every alert of a group unless its
// receiver sets max_alerts.
const (
	alertmanagerBodyLimit = 8 << 20
	// alertmanagerStreamLimit bounds a notification read as a stream: some
	// 50,000 alerts of typical size, read in a second or so.
	alertmanagerStreamLimit = 64 << 20
	apiBodyLimit            = 64 << 10
	callbackBodyLimit       = 64 << 10
	webhookBodyLimit        = 2 << 20
)

// NewServer builds the server and its routes.
func NewServer(o ServerOptions) *Server {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Arrival == nil {
		now := o.Now
		o.Arrival = func(*http.Request) (time.Time, time.Time) { t := now(); return t, t }
	}
	if o.Registry == nil {
		r := prometheus.NewRegistry()
		o.Registry, o.Gatherer = r, r
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = 30 * time.Second
	}
	s := &Server{o: o, streaming: make(chan struct{}, 1), log: o.Logger, now: o.Now, m: newMetrics(o.Registry), shutdown: o.ShutdownTimeout,
		limits: map[limitKey]*rate.Limiter{}}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = ipExtractor(o.TrustedProxies)
	e.SchemeExtractor = schemeExtractor(o.TrustedProxies)
	e.HTTPErrorHandler = s.errorHandler
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{}))
	e.Use(s.observe)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.Error("panic in handler", "route", c.Path(), "err", err, "stack", string(stack))
			return err
		},
	}))

	// The alert intake's routes time their store writes themselves, from
	// when the body is read and decoded (storeBudget), not with deadline.
	e.POST("/api/v1/alertmanager", s.alertmanager, bodyLimit(alertmanagerStreamLimit))
	e.POST("/api/v1/alertmanager/:key", s.alertmanager, bodyLimit(alertmanagerStreamLimit))
	e.POST("/v2/enqueue", s.enqueue)
	e.POST(changeEnqueuePath, s.changeEnqueue)
	e.POST(pagerduty.WebhookPath, handle(o.PagerDuty.ServeWebhook), deadline, bodyLimit(webhookBodyLimit))
	e.POST(twilio.StatusPath, handle(o.Twilio.Status), deadline, bodyLimit(callbackBodyLimit))
	e.POST(twilio.SMSPath, handle(o.Twilio.SMS), deadline, bodyLimit(callbackBodyLimit))
	e.POST(twilio.VoicePath, handle(o.Twilio.Voice), deadline, bodyLimit(callbackBodyLimit))
	e.POST(twilio.GatherPath, handle(o.Twilio.Gather), deadline, bodyLimit(callbackBodyLimit))
	e.POST(slack.InteractionsPath, handle(o.Slack.Interactions), deadline, bodyLimit(callbackBodyLimit))
	e.POST(slack.CommandsPath, handle(o.Slack.Command), deadline, bodyLimit(callbackBodyLimit))
	e.POST(pushover.CallbackPath+"/:token", handle(o.Pushover.Receipt), deadline, bodyLimit(callbackBodyLimit))
	// The Opsgenie-compatible intake reads its bodies under Opsgenie's
	// limit itself, to refuse in Opsgenie's words; heartbeat pings never
	// read theirs. Pings time their store writes themselves too
	// (storeBudget), so a sender hanging up does not cancel them.
	e.POST(opsgenieAlertsPath, s.opsgenieCreate)
	e.POST(opsgenieActionPath, s.opsgenieAct)
	e.PUT(opsgenieActionPath, s.opsgenieUpdate)
	e.GET(opsgenieRequestPath, s.opsgenieRequestStatus)
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut} {
		e.Add(m, opsgeniePingPath, s.opsgeniePing, bodyLimit(alertmanagerBodyLimit))
	}
	e.GET(heartbeatPingPath, s.heartbeatPing, bodyLimit(alertmanagerBodyLimit))
	e.POST(heartbeatPingPath, s.heartbeatPing, bodyLimit(alertmanagerBodyLimit))

	// The API's middleware is given per route, never to the group: group
	// middleware makes echo route every unmatched path and method under
	// /api/v1 through it, so a wrong method would get the token check's
	// 401 instead of 405 with Allow.
	api := e.Group("/api/v1")
	read, act, apiLimit := s.apiAuth(accessRead), s.apiAuth(accessAct), bodyLimit(apiBodyLimit)
	api.GET("/incidents", s.listIncidents, deadline, read, apiLimit)
	api.GET("/incidents/:id", s.getIncident, deadline, read, apiLimit)
	api.POST("/incidents/:id/:action", s.incidentAction, deadline, act, apiLimit)
	api.GET("/oncall", s.oncall, deadline, read, apiLimit)
	api.GET("/schedules/:schedule/overrides", s.listOverrides, deadline, read, apiLimit)
	api.POST("/schedules/:schedule/overrides", s.createOverride, deadline, act, apiLimit)
	api.DELETE("/schedules/:schedule/overrides/:id", s.deleteOverride, deadline, act, apiLimit)
	api.GET("/schedules/:schedule/feed", s.feedURL, deadline, read, apiLimit)
	api.POST("/schedules/:schedule/feed", s.feedURL, deadline, act, apiLimit)
	e.GET(feeds.Path+"/:token", s.feed, deadline)
	api.GET("/reports", s.reports, reportDeadline, read, apiLimit)
	api.GET("/reports/history", s.reportHistory, reportDeadline, read, apiLimit)
	api.GET("/reports/handoff", s.handoffDoc, reportDeadline, read, apiLimit)
	api.GET("/maintenance", s.listMaintenance, deadline, read, apiLimit)
	api.POST("/maintenance", s.addMaintenance, deadline, act, apiLimit)
	api.DELETE("/maintenance/:id", s.deleteMaintenance, deadline, act, apiLimit)
	api.GET("/changes", s.listChanges, deadline, read, apiLimit)

	// The web console authenticates, limits and times its own requests
	// (sessions, CSRF, forms of a few KB).
	if o.Console != nil {
		ui := echo.WrapHandler(o.Console)
		e.Any("/ui", ui)
		e.Any("/ui/*", ui)
	}

	links := e.Group(acklink.Path, deadline, bodyLimit(apiBodyLimit))
	links.GET("/:token", handle(o.Links.Show))
	links.POST("/:token/:action", handle(o.Links.Act))

	e.GET("/-/healthy", func(c echo.Context) error { return c.String(http.StatusOK, "pagerd is healthy\n") })
	e.GET("/-/ready", s.ready)
	e.POST("/-/reload", s.reload, s.apiAuth(accessAdmin))
	e.GET("/-/backup", s.backup, s.apiAuth(accessAdmin))
	gatherer := o.Gatherer
	if gatherer == nil {
		gatherer = prometheus.DefaultGatherer
	}
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})))
	s.echo = e
	s.adm = newAdmission(e, o.Registry, o.Logger, admissionLimits{maxInflight: o.MaxInflight, maxQueue: o.MaxQueue,
		queueTimeout: o.QueueTimeout, behind: o.DispatchBehind, brakeBehind: o.BrakeBehind, known: s.knownKey})
	return s
}

// handle mounts a handler of another package (a provider's callback, the
// ack links): it gets the route's parameters as the request's path values,
// and its errors go to the one error handler like the server's own.
func handle(h func(http.ResponseWriter, *http.Request) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		for _, name := range c.ParamNames() {
			r.SetPathValue(name, c.Param(name))
		}
		return h(c.Response(), r)
	}
}

// takeIn holds the config in use (ServerOptions.InUse) while an alert is
// taken in, from the config it is routed by to its store writes: a reload
// waits for it. The caller defers takenIn.
func (s *Server) takeIn() {
	if s.o.InUse != nil {
		s.o.InUse.RLock()
	}
}

// takenIn lets go of what takeIn held.
func (s *Server) takenIn() {
	if s.o.InUse != nil {
		s.o.InUse.RUnlock()
	}
}

// knownKey says whether an alert request carries in its headers a key of
// a service's integration of its route (Alertmanager's bearer or path
// key, Opsgenie's GenieKey), as its handler looks for one: a request
// without one is refused by its handler before its body is read, so
// admission passes it on without a slot or a read. service is the key's
// service, the sender admission shares its slots by. A PagerDuty event's
// routing key is in its body: known, of no service told.
func (s *Server) knownKey(r *http.Request, route int) (service string, ok bool) {
	var svc *policy.Service
	switch route {
	case routeAlertmanager:
		key := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/api/v1/alertmanager"), "/")
		if strings.ContainsRune(key, '%') {
			return "", true // escaped: the handler reads it as the router unescapes it
		}
		if key == "" {
			key = bearer(r)
		}
		if key != "" {
			svc = serviceByAlertmanagerKey(s.config(), key)
		}
	case routeOpsgenie:
		if key := genieKey(r); key != "" {
			svc = serviceByOpsgenieKey(s.config(), key)
		}
	default:
		return "", true
	}
	if svc == nil {
		return "", false
	}
	return svc.Name, true
}

// Handler is the server's HTTP handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.adm }

// config is the config in force.
func (s *Server) config() *policy.Config { return s.o.Config() }

// configLoaded takes a new config into use: the rate limits start over
// for it, and its services' counters are created at zero.
func (s *Server) configLoaded(cfg *policy.Config) {
	s.limitMu.Lock()
	s.limits = map[limitKey]*rate.Limiter{}
	s.limitMu.Unlock()
	s.m.loaded(cfg)
}

// Serve answers on the listener until ctx ends, then stops taking new
// connections and waits up to the shutdown timeout for in-flight requests.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{Handler: stampHeaders(s.adm), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ConnContext: withArrival}
	if sl, err := stampListener(l); err != nil {
		// Seen: without the stamps a resolve that waited in the socket
		// of this process, stopped, counts from its reading.
		s.log.Warn("alert requests are dated when read, not by the kernel's stamp of their arrival: a resolve that waits in the socket "+
			"while this process is stopped (SIGSTOP, starved) may resolve the incident of a firing received meanwhile by another replica", "err", err)
	} else {
		l = sl
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down: draining in-flight requests", "timeout", s.shutdown.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.shutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Requests still running are cut, their connections closed: a
		// backup streaming to a client that stopped reading holds a read
		// transaction, which the store's close would wait for forever.
		_ = srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s *Server) reload(c echo.Context) error {
	if err := s.o.Reload(); err != nil {
		return echo.NewHTTPError(http.StatusInternalServerError, "config not reloaded, the old one stays: "+err.Error())
	}
	return c.String(http.StatusOK, "config reloaded\n")
}

func (s *Server) ready(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.o.Health.Check(ctx); err != nil {
		return c.String(http.StatusServiceUnavailable, "pagerd is not ready: "+err.Error()+"\n")
	}
	return c.String(http.StatusOK, "pagerd is ready\n")
}

// errorHandler answers every error as JSON {"error": ..., "request_id": ...}:
// the server's own refusals (inputError), those of the handlers it mounts
// (notify.RequestError), and the incident service's errors, each mapped to
// its status code. Store outages become 503 so senders retry; nothing else
// leaks internals.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code, msg := http.StatusInternalServerError, "internal error"
	var he *echo.HTTPError
	var ie *inputError
	var re *notify.RequestError
	switch {
	case errors.As(err, &he):
		code = he.Code
		msg = fmt.Sprint(he.Message)
		if allow := c.Response().Header().Get(echo.HeaderAllow); code == http.StatusMethodNotAllowed && allow != "" {
			// The route's pattern, never the raw path: that may hold a key.
			msg = fmt.Sprintf("method %s is not allowed on %s; use %s", c.Request().Method, c.Path(), allow)
		}
		if he.Internal != nil && code >= 500 {
			s.log.Error("request failed", "route", c.Path(), "err", he.Internal)
		}
	case errors.As(err, &ie):
		code, msg = ie.code, ie.msg
	case errors.As(err, &re):
		code, msg = re.Status, re.Msg
	case errors.Is(err, incident.ErrUnavailable):
		code, msg = http.StatusServiceUnavailable, unavailableMessage(err)
		s.log.Error("store unavailable", "route", c.Path(), "err", err)
	case errors.Is(err, store.ErrConflict):
		// Others wrote the incident at every try (an alert repeating
		// fast, the dispatcher, other people): nothing was stored, and
		// a retry may well be.
		code, msg = http.StatusServiceUnavailable, "the incident changed at every try while others wrote it; nothing was stored: retry"
		s.log.Warn("request lost to concurrent writes of its incident", "route", c.Path(), "err", err)
	case errors.Is(err, incident.ErrNotFound):
		code, msg = http.StatusNotFound, "incident not found"
	case errors.Is(err, incident.ErrAlreadyResolved), errors.Is(err, incident.ErrAlreadyEscalated), errors.Is(err, incident.ErrConflict):
		code, msg = http.StatusConflict, err.Error()
	case errors.Is(err, incident.ErrNotYours):
		code, msg = http.StatusForbidden, err.Error()
	case errors.Is(err, incident.ErrBadInput):
		code, msg = http.StatusBadRequest, err.Error()
	default:
		s.log.Error("request failed", "route", c.Path(), "err", err)
	}
	if code == http.StatusServiceUnavailable {
		c.Response().Header().Set("Retry-After", "5")
	}
	body := map[string]string{"error": msg}
	if id := c.Response().Header().Get(echo.HeaderXRequestID); id != "" {
		body["request_id"] = id
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(code)
		return
	}
	_ = c.JSON(code, body)
}

// unavailableMessage says what a 503 means, and never more than is known:
// "nothing was stored" only when the write certainly did not happen, and,
// when it may have been, what a retry of that write does (onRetry): a
// retry of an alert lands on the same incident, one of an escalation
// without from_level escalates again.
func unavailableMessage(err error) string {
	if errors.Is(err, incident.ErrOutcomeUnknown) {
		retry := "check whether it was before retrying: a retry may do it twice"
		var r *onRetry
		if errors.As(err, &r) {
			retry = r.retry
		}
		return "the incident store did not confirm the write in time: it may or may not have been stored; " + retry
	}
	return "the incident store is unavailable; nothing was stored, retry later"
}

// onRetry is a write's error with what retrying that very request does,
// for the 503 of a write whose outcome is unknown: each write handler
// says what is true of its own.
type onRetry struct {
	err   error
	retry string
}

func (e *onRetry) Error() string { return e.err.Error() }
func (e *onRetry) Unwrap() error { return e.err }

// retrying notes on err what a retry of the request does; nil stays nil.
func retrying(err error, retry string) error {
	if err == nil {
		return nil
	}
	return &onRetry{err, retry}
}

// retryLandsOnSameIncident is what a retry of an alert does.
const retryLandsOnSameIncident = "retry: a retry lands on the same incident, it never opens a second one"

// requestTimeout bounds how long a request may wait for the store, so
// senders with their own timeout (Alertmanager's and PagerDuty clients'
// are often 10 s) get a 503 to retry on, not a timeout. The dispatcher's
// and the probes' store calls have deadlines of their own.
var requestTimeout = 5 * time.Second

// deadline gives every request's context the request timeout, but the
// alert intake's and heartbeat pings' (storeBudget).
func deadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), requestTimeout)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

// storeBudget is the context of an alert's store writes, made once its
// request's body is read and decoded: they get the whole request timeout
// however long the body took to arrive and decode (http.Server's
// ReadTimeout bounds that). Counted from the request's start, a large
// notification on a busy machine (seconds to read and decode) found its
// budget nearly gone, was answered 503, and each retry took as long
// again: a group that never pages.
//
// A sender that hangs up once its body is sent does not cancel them:
// the alert is whole and valid, and the page it asks for is owed
// whoever listens. Cancelled, the writes would stop halfway (some of a
// notification's groups stored, some not, a store script's outcome
// unknown) and the page would wait for the sender's retry, which then
// finds them done and lands on the same incidents.
//
// A heartbeat ping's writes (its new expiry, then the resolve of its
// incident) are kept the same way: cancelled between the two, the ping
// was stored and its incident went on escalating until the next ping.
func storeBudget(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), requestTimeout)
}

// inputError is a request that can never succeed as sent (4xx).
type inputError struct {
	code int
	msg  string
}

func (e *inputError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &inputError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// observe records request metrics and logs by route pattern: never the raw
// path, which for /api/v1/alertmanager/:key holds a secret.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		code := c.Response().Status
		s.m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
		s.m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		level := slog.LevelDebug
		if code >= 500 {
			level = slog.LevelWarn
		}
		reqID := c.Response().Header().Get(echo.HeaderXRequestID)
		// A throttled alert (503) is refused like a 4xx one, and logged so.
		if (code >= 400 && code < 500 || c.Get(ctxRejected) != nil) && ingestionRoutes[route] {
			s.logRejected(c, route, code, reqID, err)
		}
		// Every request is logged at debug, which is off by default: its
		// attributes (boxed, the client's address parsed) are built only
		// when the line is written.
		if ctx := c.Request().Context(); s.log.Enabled(ctx, level) {
			s.log.Log(ctx, level, "request", "method", c.Request().Method, "route", route, "code", code,
				"duration", time.Since(start), "request_id", reqID, "remote", c.RealIP())
		}
		return nil
	}
}

// ingestionRoutes are where alerts arrive: a refused alert is a page that
// will not happen, so it is logged at warn (logRejected).
var ingestionRoutes = map[string]bool{
	"/api/v1/alertmanager": true, "/api/v1/alertmanager/:key": true, "/v2/enqueue": true,
	opsgenieAlertsPath: true, opsgenieActionPath: true, opsgeniePingPath: true, heartbeatPingPath: true,
}

// Context keys the ingestion handlers set for logRejected: the name of the
// integration key presented (never the key), and why an event was refused
// when the handler answered itself rather than returning an error.
const (
	ctxKeyName  = "pagerd.key_name"
	ctxRejected = "pagerd.rejected"
)

// logRejected logs a refused alert or event at warn, with the request id
// (which the sender got in the answer), the name of the key it presented
// and why, so "Alertmanager says 401" can be traced in pagerd's log.
func (s *Server) logRejected(c echo.Context, route string, code int, reqID string, err error) {
	key, _ := c.Get(ctxKeyName).(string)
	if key == "" && route != "/v2/enqueue" {
		// Refused before the handler looked at the key (413): name it here.
		key = "none"
		if k := c.Param("key"); k != "" || bearer(c.Request()) != "" {
			if k == "" {
				k = bearer(c.Request())
			}
			key = "unknown"
			if svc := serviceByAlertmanagerKey(s.config(), k); svc != nil {
				key = "services[" + svc.Name + "].integrations.alertmanager_key"
			}
		}
	}
	if key == "" {
		key = "not read"
	}
	reason, _ := c.Get(ctxRejected).(string)
	var ie *inputError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ie):
		reason = ie.msg
	case errors.As(err, &he):
		reason = fmt.Sprint(he.Message)
	}
	s.log.Warn("alert rejected", "route", route, "code", code, "request_id", reqID, "key", key,
		"reason", reason, "remote", c.RealIP())
}

// bodyLimit caps a route's request body; over the cap is 413 before any of
// it is decoded.
func bodyLimit(n int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.ContentLength > n {
				return &inputError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is %d bytes; the limit is %d", r.ContentLength, n)}
			}
			if h, ok := r.Body.(*heldBody); !ok || !h.whole || int64(len(h.b)) > n {
				r.Body = http.MaxBytesReader(c.Response(), r.Body, n)
			} // else admission read it whole, within n: readAtMost takes it as it is
			return next(c)
		}
	}
}

// ipExtractor trusts X-Forwarded-For only from the configured proxies;
// everyone else's address is the connection's.
func ipExtractor(trusted []string) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	return echo.ExtractIPFromXFFHeader(proxyTrust(trusted)...)
}

// schemeExtractor trusts X-Forwarded-Proto (and echo's other scheme
// headers) only from the configured proxies; everyone else's scheme is
// the connection's. Left unset, echo believes them from any loopback,
// link-local or private peer, which on a pod network is every client.
func schemeExtractor(trusted []string) echo.SchemeExtractor {
	if len(trusted) == 0 {
		return echo.ExtractSchemeDirect()
	}
	return echo.ExtractSchemeFromHeaders(proxyTrust(trusted)...)
}

// proxyTrust trusts the CIDRs given and nothing else: not echo's default
// of every loopback, link-local and private address.
func proxyTrust(trusted []string) []echo.TrustOption {
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, c := range trusted {
		if _, n, err := net.ParseCIDR(c); err == nil {
			opts = append(opts, echo.TrustIPRange(n))
		}
	}
	return opts
}
