package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/PagerDuty/go-pagerduty"
	"github.com/labstack/echo/v4"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/pagerd/pagerd/gateway/amresolve"
	"github.com/pagerd/pagerd/gateway/changes"
	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/ingest"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// readBody reads a size-limited body; over the limit is 413.
func readBody(c echo.Context) ([]byte, error) {
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return nil, bodyError(err)
	}
	return b, nil
}

// readAlertmanager reads a notification: whole, when it is at most
// alertmanagerBodyLimit (as nearly every one is), or as a stream up to
// alertmanagerStreamLimit (ingest.DecodeAlertmanagerStream: a group of
// tens of thousands of alerts, in the outage where paging matters most).
// Streamed notifications are read one at a time, each holding at most
// alertmanagerBodyLimit and the alerts pagerd reads, so a few of them
// cannot take the memory; one that finds another being read waits for it
// up to the request timeout, or is answered 503 (retried). Reading and
// decoding, whole or streamed, can take seconds on a busy machine, the
// outage where large notifications come: the store writes that follow
// have their own time (storeBudget).
func (s *Server) readAlertmanager(c echo.Context) (*ingest.Message, error) {
	r := c.Request()
	head, whole, err := streamHead(r, alertmanagerBodyLimit)
	if err != nil {
		return nil, bodyError(err)
	}
	if whole {
		return ingest.DecodeAlertmanager(head)
	}
	if !s.takeStream(r.Context()) {
		return nil, &inputError{http.StatusServiceUnavailable, "another notification over " +
			strconv.Itoa(alertmanagerBodyLimit>>20) + " MiB was being read; this one was not stored: retry"}
	}
	defer s.endStream()
	body := &readFailure{r: r.Body}
	msg, err := ingest.DecodeAlertmanagerStream(io.MultiReader(bytes.NewReader(head), body))
	if err != nil {
		// A body that broke off (its sender hung up) ends in an
		// unexpected EOF the decoder takes for the JSON's end: it is a
		// body that could not be read, as it is read whole.
		if body.err != nil {
			return nil, bodyError(body.err)
		}
		var ie *ingest.InputError
		if errors.As(err, &ie) {
			return nil, err
		}
		return nil, bodyError(err)
	}
	s.log.Warn("read a notification over "+strconv.Itoa(alertmanagerBodyLimit>>20)+" MiB as a stream; set max_alerts on the Alertmanager receiver to keep notifications small",
		"group_key", msg.GroupKey, "alerts", len(msg.Alerts)+msg.Unread)
	return msg, nil
}

// readFailure reads r and keeps the first error of its reads other than
// its end (io.EOF).
type readFailure struct {
	r   io.Reader
	err error
}

func (f *readFailure) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err != nil && err != io.EOF && f.err == nil {
		f.err = err
	}
	return n, err
}

// streamHead reads a body to be read whole when it is at most limit bytes
// (whole), or as a stream when it is over: then head is what was read of
// it, to be read on after takeStream. A body whose Content-Length is over
// limit is not read (no head): it would only wait for its turn with the
// limit's bytes held, which admission does not count (it reads no such
// body), and Alertmanagers in HA, each retrying, sent several at once in
// the outage that makes them.
func streamHead(r *http.Request, limit int64) (head []byte, whole bool, err error) {
	if r.ContentLength > limit {
		return nil, false, nil
	}
	head, err = readAtMost(r.Body, limit+1)
	return head, err == nil && int64(len(head)) <= limit, err
}

// takeStream takes the one place to read a body too large to read whole
// (an Alertmanager notification, an Opsgenie request), waiting for one
// being read up to the request timeout, or until the sender hangs up;
// false when it did not come. endStream gives it back.
func (s *Server) takeStream(ctx context.Context) bool {
	select {
	case s.streaming <- struct{}{}:
		return true
	default:
	}
	wait := time.NewTimer(requestTimeout)
	defer wait.Stop()
	select {
	case s.streaming <- struct{}{}:
		return true
	case <-wait.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func (s *Server) endStream() { <-s.streaming }

// bodyError is the answer to a request body that could not be read.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &inputError{http.StatusRequestEntityTooLarge, "request body is over the limit of " + strconv.FormatInt(mbe.Limit, 10) + " bytes"}
	}
	if malformedBody(err) {
		return badRequest("reading the request body: %v (the same request fails again)", err)
	}
	// The body could not be read (the sender went quiet past the read
	// timeout, its connection broke): nothing was stored, and the same
	// request may well succeed, so 503, which senders retry (a 400,
	// which Alertmanager drops, lost the alerts of a sender that was
	// slow once).
	return &inputError{http.StatusServiceUnavailable, "could not read the request body (" + err.Error() + "); nothing was stored: retry"}
}

// malformedBody says whether a body's read failed on the request's own
// bytes, which the same request fails on again however often it is sent:
// chunked encoding net/http cannot parse (its errors are not exported
// but for a chunk line too long, and each names the chunk). A read that
// timed out or broke off is not: sent again, it may well be read.
func malformedBody(err error) bool {
	return errors.Is(err, http.ErrLineTooLong) || strings.Contains(err.Error(), "chunk")
}

// jsonContentType refuses a body that says it is not JSON. A missing
// Content-Type is allowed: some senders leave it out. The one every
// Alertmanager sends is taken as it is: parsed, its parameters' map was
// an allocation every webhook.
func jsonContentType(r *http.Request) error {
	ct := r.Header.Get(echo.HeaderContentType)
	if ct == "" || ct == "application/json" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return &inputError{http.StatusUnsupportedMediaType, "Content-Type " + ct + " is not supported: send application/json"}
	}
	return nil
}

// limitKey names a rate limiter: a bucket (the route's, "am:", "pd:",
// ...) of a service. Two strings, not one joined, which cost every
// webhook an allocation.
type limitKey struct{ bucket, service string }

// allow applies the per-integration-key rate limit (server.rate_limit,
// on by default) to the service's bucket.
func (s *Server) allow(cfg *policy.Config, bucket, service string) bool {
	return s.allowAtMost(cfg, bucket, service, 0, 0)
}

// allowAtMost is allow with the bucket's rate and burst at most perSecond
// and burst (0: as configured).
func (s *Server) allowAtMost(cfg *policy.Config, bucket, service string, perSecond float64, burst int) bool {
	rl := cfg.Server.RateLimit
	if rl == nil || rl.PerSecond <= 0 {
		return true
	}
	key := limitKey{bucket, service}
	s.limitMu.Lock()
	l, ok := s.limits[key]
	if !ok {
		r, b := rl.PerSecond, rl.Burst
		if perSecond > 0 {
			r = min(r, perSecond)
		}
		if burst > 0 {
			b = min(b, burst)
		}
		l = rate.NewLimiter(rate.Limit(r), b)
		s.limits[key] = l
	}
	s.limitMu.Unlock()
	return l.Allow()
}

// endedOnce is a notification's Ended, read at the first resolve that asks
// for it (from any of the groups stored at once) and not before: most
// notifications resolve nothing. A struct, not sync.OnceValue(msg.Ended),
// whose state and closure were two allocations every webhook.
type endedOnce struct {
	once  sync.Once
	msg   *ingest.Message
	ended *ingest.Ended
}

func (e *endedOnce) get() *ingest.Ended {
	e.once.Do(func() { e.ended = e.msg.Ended() })
	return e.ended
}

// alertmanager receives Alertmanager webhook notifications (payload v4). The
// integration key comes as a bearer token or as the last path segment.
func (s *Server) alertmanager(c echo.Context) (err error) {
	r := c.Request()
	received, read := s.o.Arrival(r) // read: the latest its resolves may have arrived
	cfg := s.config()
	key := c.Param("key")
	if key == "" {
		key = bearer(r)
	}
	if key == "" {
		c.Set(ctxKeyName, "none")
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="pagerd"`)
		return &inputError{http.StatusUnauthorized, "missing integration key: send Authorization: Bearer <key>, or POST to /api/v1/alertmanager/<key>"}
	}
	svc := serviceByAlertmanagerKey(cfg, key)
	if svc == nil {
		c.Set(ctxKeyName, "unknown")
		if replica, ok := s.unknownKey(r.Context()); ok {
			c.Set(ctxRejected, "unknown Alertmanager integration key while a newer config rolls out")
			return &inputError{http.StatusServiceUnavailable, "unknown Alertmanager integration key in this replica's config, but " +
				newerConfigHas(replica) + "; nothing was stored: retry"}
		}
		return &inputError{http.StatusUnauthorized, "unknown Alertmanager integration key"}
	}
	// The key's name is for the log of a refusal alone (logRejected), so
	// it is named when the request is refused: set on every webhook, the
	// name, its box and the context's map were four allocations.
	defer func() {
		if (err != nil || c.Response().Status >= 400 || c.Get(ctxRejected) != nil) && c.Get(ctxKeyName) == nil && svc != nil {
			c.Set(ctxKeyName, "services["+svc.Name+"].integrations.alertmanager_key")
		}
	}()
	if err := jsonContentType(r); err != nil {
		return err
	}
	if !s.allow(cfg, "am:", svc.Name) {
		// 503, not 429: Alertmanager's webhook retries a 5xx at once with
		// backoff, but takes a 429 like any 4xx and sends the group again
		// only at its next flush, a group_interval (5m by default) later.
		c.Set(ctxRejected, "over the rate limit (server.rate_limit)")
		return &inputError{http.StatusServiceUnavailable, "too many notifications for service " + svc.Name +
			" (server.rate_limit); nothing was stored, retry later"}
	}
	msg, err := s.readAlertmanager(c)
	if ie, ok := errors.AsType[*ingest.InputError](err); ok {
		return badRequest("%s", ie.Msg)
	}
	if err != nil {
		return err
	}
	msg.Received = received
	// The body read (it can take a while: a large notification streamed
	// from a slow sender), the config it is routed by is held until it is
	// stored, and read again: a reload may have come meanwhile.
	s.takeIn()
	defer s.takenIn()
	if now := s.config(); now != cfg {
		cfg = now
		if svc = serviceByAlertmanagerKey(cfg, key); svc == nil {
			c.Set(ctxKeyName, "unknown")
			return &inputError{http.StatusUnauthorized, "unknown Alertmanager integration key (a reload removed it while the notification was read)"}
		}
	}
	ctx, cancel := storeBudget(r)
	ctx = incident.WithReadAt(ctx, read)
	defer cancel()
	// The answer lists the incidents the firing groups opened (or repeated)
	// and the ones the resolved groups resolved, so whoever sends a
	// notification by hand sees what it did.
	ids, resolved := []string{}, []string{}
	// noted: a write other than an incident's opening or resolve was
	// stored (a withheld resolve's note or check, the check of alerts
	// Alertmanager left out).
	noted := false
	partly := func(err error) error {
		// Some of the notification's groups were stored before this one
		// failed: "nothing was stored" would be false.
		if noted || len(ids)+len(resolved) > 0 {
			err = store.PartlyStored(err)
		}
		return retrying(err, retryLandsOnSameIncident)
	}
	byFingerprint := svc.IncidentKey == "fingerprint"
	if byFingerprint && msg.Status == ingest.StatusResolved {
		// The checks of the group's firing notifications still to run
		// (LeftOutFiring's, after their answers) must know the group
		// resolved after them: one stalled past it opened the overflow
		// incident for alerts that had ended, and nothing resolved it.
		cut := msg.TruncatedAlerts > 0 || len(msg.Alerts)+msg.Unread > ingest.MaxAlertsPerMessage
		marked, err := s.o.Withheld.GroupResolved(ctx, svc, msg.OverflowDedupKey(), msg.Received, msg.KeyTimes(), cut)
		if err != nil {
			return partly(err)
		}
		noted = noted || marked
	}
	if byFingerprint && msg.TruncatedAlerts > 0 {
		// The alerts Alertmanager left out are reported neither firing
		// nor resolved: one whose incident is open may have resolved.
		asking, err := s.o.Withheld.Cut(ctx, svc, amresolve.Group{Receiver: msg.Receiver, Labels: msg.GroupLabels}, msg.AlertKeyPrefix())
		if err != nil {
			return partly(err)
		}
		noted = asking // stored only when the service names its Alertmanager
		s.log.Debug("Alertmanager left alerts out of a notification in fingerprint mode", "service", svc.Name,
			"truncated_alerts", msg.TruncatedAlerts, "asking_alertmanager", asking)
	}
	groups := msg.Groups(byFingerprint)
	ended := &endedOnce{msg: msg}
	// withheld: the incidents whose resolve this notification withheld
	// (noted already), which the group's sweep below must leave open too.
	var withheld map[string]bool // made at the first, not per webhook
	// olderThan names an alert this notification says ended before a
	// firing notification received before it said it fired again: the
	// notification is stale, and that it left nothing out is no longer
	// true of the group.
	olderThan := ""
	overflow := false
	done := s.takeGroups(ctx, groups, func(ctx context.Context, g ingest.AlertGroup) groupTaken {
		return s.takeGroup(ctx, cfg, svc, msg, g, byFingerprint, ended)
	})
	// failed: every group's failure, not the first alone. Those beside
	// the first (at most groupWritesAtOnce, as many as are stored at
	// once) were dropped unlogged: a store refusing writes for two
	// reasons (a full disk, a timeout) showed one.
	var failed []error
	for i, d := range done {
		overflow = overflow || groups[i].Overflow
		noted = noted || d.noted
		if d.opened != "" {
			ids = append(ids, d.opened)
		}
		if d.resolved != "" {
			resolved = append(resolved, d.resolved)
		}
		if d.withheld != "" {
			if withheld == nil {
				withheld = map[string]bool{}
			}
			withheld[d.withheld] = true
		}
		if olderThan == "" {
			olderThan = d.olderThan
		}
		if d.err != nil {
			failed = append(failed, d.err)
		}
	}
	if len(failed) > 0 {
		return partly(errors.Join(failed...))
	}
	hadOverflow := false
	if byFingerprint && !overflow {
		// No firing alert is over the cap, unread or left out by
		// Alertmanager any more: the group's overflow incident, if it
		// has one open, is over.
		// Unless the notification is older than the firing one that
		// opened or repeated the overflow incident (from the other
		// Alertmanager of a cluster, or a retry): the alerts left out
		// then may fire, and Alertmanager sends nothing more of the
		// group until it changes.
		// A stale one that names no alert older than recorded (its
		// alerts all still fire) looks like the group's newer one after
		// the alerts left out resolved: with alertmanager_url,
		// Alertmanager is asked first (a store job, done at once)
		// whether an active alert of the group has no incident of its
		// own.
		ask := svc.AlertmanagerAPI() != "" && s.o.Withheld != nil
		var why string
		id, had, kept, err := s.o.Incidents.ResolveIfOpenOrHad(ctx, svc, msg.OverflowDedupKey(), "alertmanager", "alertmanager", msg.Received, func(inc *store.Incident) bool {
			why = olderThan
			if why == "" {
				why = ended.get().Uncovered(inc.Details).Newer
			}
			return why != "" || ask
		})
		if err != nil {
			return partly(err)
		}
		if kept == nil && id != "" {
			resolved = append(resolved, id)
		}
		if kept != nil && why == "" {
			if _, err := s.o.Withheld.OverflowOver(ctx, svc, amresolve.Group{Receiver: msg.Receiver, Labels: msg.GroupLabels}, kept, msg.AlertKeyPrefix(), msg.Received); err != nil {
				return partly(err)
			}
			noted = true
			s.log.Info("a notification that left nothing out would resolve the group's overflow incident: Alertmanager is asked first", "incident", id,
				"service", svc.Name, "alertmanager", policy.ShownURL(svc.AlertmanagerAPI()))
		} else if kept != nil {
			if err := s.o.Incidents.Note(ctx, id, store.Entry{At: s.o.Now().UTC().Truncate(time.Millisecond), Type: "resolve_withheld", Actor: "pagerd",
				Detail: "Alertmanager sent the group with no alert left out, but this notification is older than a firing one pagerd received before it " +
					"(from another Alertmanager of a cluster, or a retry), as its alert " + why + " shows. " +
					"The alerts left out of the newer one may still fire, so the incident that holds them stays open; the group's next notification " +
					"that leaves nothing out resolves it"}); err != nil {
				return partly(err)
			}
			noted = true
			s.log.Warn("resolve withheld: a notification that left nothing out is older than the firing one that opened the group's overflow incident", "incident", id,
				"service", svc.Name, "newer", why)
		}
		// Resolved already (by an earlier notification of the group
		// that left nothing out, by hand, or by this one before a
		// retry), it still says alerts were left out.
		hadOverflow = had
	}
	if byFingerprint && msg.Status == ingest.StatusResolved && msg.TruncatedAlerts == 0 &&
		(len(msg.Alerts)+msg.Unread > ingest.MaxAlertsPerMessage || hadOverflow) {
		// Every alert of the group resolved, and Alertmanager sends
		// nothing of it after this: an incident of the group this
		// notification does not name would stay open, and page, for
		// good. Only a group some alerts of which pagerd did not see
		// has one: one past what pagerd reads of this notification, or
		// one that max_alerts left out (the group had an overflow
		// incident) and that resolved while left out, which
		// Alertmanager then drops from the group unnamed. The scan of
		// the service's open incidents is made for those groups only,
		// not at every group's resolve (in a storm, thousands).
		//
		// The notification may be stale (from the other Alertmanager of
		// a cluster, or a retry): an incident whose recorded firing
		// alert started after the group resolved was opened or repeated
		// by a newer firing notification, after which Alertmanager sends
		// nothing of the group for hours. It stays open, as a stale
		// resolve by name does (its details, read with the listing, tell
		// without another read).
		type firedAfter struct {
			inc   *store.Incident
			alert string
		}
		var newer []firedAfter
		// An alert that fired again may also have started (Prometheus
		// sets the start when it turns pending, a `for:` before it
		// fires) before the latest end the notification gives: nothing
		// in the notification tells it from an alert that resolved
		// unseen. With alertmanager_url, Alertmanager is asked (one
		// question for the group, done at once) and the incidents of
		// alerts it does not list active are resolved then; without,
		// they are resolved now, or an alert that resolved unseen would
		// page for good.
		ask, unsure := svc.AlertmanagerAPI() != "" && s.o.Withheld != nil, 0
		prefix, at := msg.AlertKeyPrefix(), s.o.Now().UTC().Truncate(time.Millisecond)
		ids, err := s.o.Incidents.ResolveEachOpen(ctx, svc, func(inc *store.Incident) bool {
			if _, ok := ingest.FingerprintOfKey(inc.DedupKey, prefix); !ok || inc.Source != "alertmanager" || withheld[inc.ID] {
				return false
			}
			if alert := ended.get().FiredAfter(inc.Details); alert != "" {
				newer = append(newer, firedAfter{inc, alert})
				return false
			}
			if ask {
				unsure++
				return false
			}
			return true
		}, "alertmanager", msg.Received, func(*store.Incident) store.Entry {
			return store.Entry{At: at, Type: "resolve_group", Actor: "pagerd",
				Detail: "Alertmanager sent the group as resolved, leaving no alert out: none of its alerts fires any more, this one included, " +
					"though the notification did not name it among the alerts pagerd read (past the first " + strconv.Itoa(ingest.MaxAlertsPerMessage) +
					", or left out by max_alerts when it resolved)"}
		})
		resolved = append(resolved, ids...)
		if err != nil {
			return partly(err)
		}
		next := withheldNext(svc, "whether the incident's alert still fires (neither silenced nor inhibited), and resolves the incident when it does not")
		for _, n := range newer {
			if err := s.o.Incidents.Note(ctx, n.inc.ID, store.Entry{At: at, Type: "resolve_withheld", Actor: "pagerd",
				Detail: "Alertmanager sent the group as resolved, but the incident's alert " + n.alert + " fired again after the group resolved: " +
					"the notification is older than the firing one pagerd received before it (from another Alertmanager of a cluster, or a retry), " +
					"so the incident stays open" + next}); err != nil {
				return partly(err)
			}
			noted = true
			asking, err := s.o.Withheld.Stale(ctx, svc, n.inc, amresolve.Group{Receiver: msg.Receiver, Labels: msg.GroupLabels}, true)
			if err != nil {
				return partly(err)
			}
			s.log.Warn("resolve withheld: the group's resolved notification is older than a firing one of an alert it does not resolve by name", "incident", n.inc.ID,
				"service", svc.Name, "newer", n.alert, "asking_alertmanager", asking)
		}
		if unsure > 0 {
			// The incidents checked by a job of their own are left to it.
			skip := make([]string, 0, len(withheld)+len(newer))
			for id := range withheld {
				skip = append(skip, id)
			}
			for _, n := range newer {
				skip = append(skip, n.inc.ID)
			}
			if _, err := s.o.Withheld.Resolved(ctx, svc, amresolve.Group{Receiver: msg.Receiver, Labels: msg.GroupLabels}, prefix, skip); err != nil {
				return partly(err)
			}
			noted = true
			s.log.Info("the group's last resolve does not name open incidents of the group: Alertmanager is asked which of their alerts fire", "service", svc.Name,
				"incidents", unsure, "alertmanager", policy.ShownURL(svc.AlertmanagerAPI()))
		}
	}
	return answerAlertmanager(c, amAnswer{Incidents: ids, Resolved: resolved, Status: "success"})
}

// answerAlertmanager writes a notification's answer: by hand when its ids
// are plain (as the store's always are), the bytes encoding/json writes,
// without its reflection, encoder and query parsing (c.JSON parses the
// query at every answer for ?pretty), which were seven allocations a
// webhook; through c.JSON otherwise, and when the request has a query or
// the server debugs (c.JSON indents then).
func answerAlertmanager(c echo.Context, a amAnswer) error {
	if c.Request().URL.RawQuery != "" || c.Echo().Debug {
		return c.JSON(http.StatusOK, a)
	}
	b, ok := a.appendJSON(make([]byte, 0, 48+24*(len(a.Incidents)+len(a.Resolved))))
	if !ok {
		return c.JSON(http.StatusOK, a)
	}
	return c.JSONBlob(http.StatusOK, b)
}

// amAnswer is the answer to an Alertmanager notification. A struct, not a
// map: a map is marshalled by reflection, its keys sorted, at every
// webhook. Its fields are in the order the map's sorted keys had, so the
// answer is byte for byte what it was.
type amAnswer struct {
	Incidents []string `json:"incidents"`
	Resolved  []string `json:"resolved"`
	Status    string   `json:"status"`
}

// appendJSON appends the answer as json.Encoder writes it, its newline
// included; ok is false, and b not to be used, when a string in it is not
// plain (a byte encoding/json would escape or check: only letters,
// digits and "-_.:" are written by hand).
func (a amAnswer) appendJSON(b []byte) (_ []byte, ok bool) {
	list := func(b []byte, name string, ss []string) ([]byte, bool) {
		b = append(b, name...)
		if ss == nil {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		for i, s := range ss {
			if i > 0 {
				b = append(b, ',')
			}
			if !plainAnswerString(s) {
				return b, false
			}
			b = append(append(append(b, '"'), s...), '"')
		}
		return append(b, ']'), true
	}
	if b, ok = list(append(b, '{'), `"incidents":`, a.Incidents); !ok {
		return b, false
	}
	if b, ok = list(append(b, ','), `"resolved":`, a.Resolved); !ok || !plainAnswerString(a.Status) {
		return b, false
	}
	return append(append(append(b, `,"status":"`...), a.Status...), "\"}\n"...), true
}

// plainAnswerString reports whether encoding/json writes s as it is,
// between quotes, as appendJSON does.
func plainAnswerString(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

// groupWritesAtOnce bounds how many groups of one notification are stored
// at once (takeGroups).
const groupWritesAtOnce = 8

// takeGroups stores a notification's groups, several at once, and returns
// what each did, in their order. In fingerprint mode a notification is up
// to ingest.MaxIncidentsPerMessage groups, an incident each; one after
// another, each write waited for its own commit, fsynced on the embedded
// store: on a disk whose fsync takes 50 ms, 100 alerts took 5 s, the
// request's whole budget, and the alerts at the notification's tail were
// never stored, its retries doing the same writes again (a missed page).
// At once, they share the store's group commits (and Redis's round
// trips). The groups are distinct incidents, as concurrent notifications'
// are. Once a write fails no more groups are started: the notification
// is answered 5xx and sent again, as it was when the writes went one after
// another; those already started finish and count as stored, and the
// groups after them are not waited for at all (not even for a free
// place to be skipped in).
func (s *Server) takeGroups(ctx context.Context, groups []ingest.AlertGroup, take func(context.Context, ingest.AlertGroup) groupTaken) []groupTaken {
	done := make([]groupTaken, len(groups))
	if len(groups) == 1 {
		done[0] = take(ctx, groups[0])
		return done
	}
	var (
		// Not errgroup.WithContext: a failure must not cancel the
		// writes started beside it (cut off, their outcome would be
		// unknown); the groups report their own errors in done.
		writes   errgroup.Group
		failed   atomic.Bool
		panicked atomic.Pointer[groupPanic]
	)
	writes.SetLimit(groupWritesAtOnce)
	// The marks of the groups' resolves that find nothing open are
	// written together once the groups are done (a resolved notification
	// of 1,000 alerts that finds none open, as the second Alertmanager of
	// a pair sends it, wrote 1,000 marks one at a time).
	marked, writeMarks := s.o.Incidents.BatchResolveMarks(ctx)
	for i, g := range groups {
		if failed.Load() {
			break
		}
		writes.Go(func() error {
			// Go waited for a place: a group may have failed meanwhile.
			if failed.Load() {
				return nil
			}
			defer func() {
				// A panic is the request's, as it was in its own
				// goroutine: the server's recovery answers 500 and
				// logs it, and the process goes on (errgroup leaves
				// a panic to crash the process).
				if p := recover(); p != nil {
					panicked.CompareAndSwap(nil, &groupPanic{p, debug.Stack()})
					failed.Store(true)
				}
			}()
			done[i] = take(marked, g)
			if done[i].err != nil {
				failed.Store(true)
			}
			return nil
		})
	}
	_ = writes.Wait() // the goroutines return nil: errors are in done
	writeMarks(ctx)
	if p := panicked.Load(); p != nil {
		panic(fmt.Sprintf("%v\n\nin the goroutine storing a group of the notification:\n%s", p.v, p.stack))
	}
	return done
}

// groupPanic carries a panic of takeGroups' goroutines, and where it
// happened, to the request's.
type groupPanic struct {
	v     any
	stack []byte
}

// groupTaken is what the intake did with one group of a notification
// (takeGroup).
type groupTaken struct {
	// opened is the incident the group opened or repeated; resolved, the
	// one it resolved.
	opened, resolved string
	// noted: a write other than an incident's opening or resolve was
	// stored.
	noted bool
	// withheld is the incident whose resolve it withheld as stale, and
	// olderThan the alert that showed it stale.
	withheld, olderThan string
	// err is the write that failed; what is above was stored before it.
	err error
}

// takeGroup stores one group of an Alertmanager notification: opens or
// repeats its incident, resolves it, or withholds the resolve and says why.
func (s *Server) takeGroup(ctx context.Context, cfg *policy.Config, svc *policy.Service, msg *ingest.Message, g ingest.AlertGroup,
	byFingerprint bool, ended *endedOnce) groupTaken {
	noted := false
	unsure, next, why := g.ResolveUnsure, ingest.WithheldNext(policy.ShownURL(svc.AlertmanagerAPI())), "Alertmanager left alerts out of a resolved notification"
	if !g.Firing && unsure == "" && !byFingerprint && svc.SilenceOnAcknowledge != nil {
		// Alertmanager leaves the alerts silenced at the
		// acknowledgement out of the group's notifications, and
		// judges the status on the others: "resolved" says
		// nothing of them (nor after a reopen, until the
		// silences' expiry is done).
		acked, err := s.o.Incidents.AcknowledgedByDedup(ctx, svc, g.DedupKey)
		if err != nil {
			return groupTaken{noted: noted, err: err}
		}
		if acked {
			why = "Alertmanager muted the alerts silenced at the acknowledgement in a resolved notification"
			unsure = "Alertmanager sent this group as resolved, but it leaves out the alerts pagerd silenced at the acknowledgement " +
				"(silence_on_acknowledge) and judged the status on the others: the silenced ones may still fire, so the incident stays open"
			next = ". pagerd asks Alertmanager at " + policy.ShownURL(svc.AlertmanagerAPI()) +
				" whether any alert of the group still fires, silenced ones included, and resolves the incident when none does"
		}
	}
	if !g.Firing && unsure != "" {
		// Not a resolve pagerd can trust: the open incident, if
		// any, stays open and its timeline says why.
		id, err := s.o.Incidents.NoteIfOpen(ctx, svc, g.DedupKey, "resolve_withheld", unsure+next)
		if err != nil {
			return groupTaken{noted: noted, err: err}
		}
		if id == "" && !byFingerprint && unsure == g.ResolveUnsure && msg.TruncatedAlerts > 0 {
			// None open, and the alerts Alertmanager left out
			// may fire: it counts them notified and says so
			// again only at the group's next change, or its
			// repeat_interval. Alertmanager is asked, and the
			// incident opened only if one does (at a large
			// group's end, after a resolve by hand, none does).
			// In fingerprint mode an active alert may be one
			// with its own incident open: asked below, by
			// Withheld.LeftOutResolved, which tells them apart.
			asking, err := s.o.Withheld.Left(ctx, svc, amresolve.Group{Receiver: msg.Receiver, Labels: msg.GroupLabels},
				amresolve.LeftOut{DedupKey: g.DedupKey, Route: msg.CommonLabels, Summary: leftOutSummary(msg)})
			if err != nil {
				return groupTaken{noted: noted, err: err}
			}
			noted = noted || asking
			s.log.Info("a resolved notification left alerts out and no incident of its group is open", "service", svc.Name,
				"truncated_alerts", msg.TruncatedAlerts, "asking_alertmanager", asking)
		}
		if id == "" && byFingerprint && g.Overflow {
			// In fingerprint mode the overflow incident holds the
			// withheld resolve, so that an alert left out of it
			// that fires anew later is told from a repeat
			// (incident.Alert.WithheldIn). With none open (resolved
			// by hand, or never opened: with alertmanager_url each
			// alert Alertmanager listed had an incident of its own)
			// it was recorded nowhere, and such an alert's new
			// firing repeated its acknowledged incident: nobody was
			// paged. The group's open incidents record it instead.
			n, err := s.noteLeftOutResolve(ctx, svc, msg)
			if err != nil {
				return groupTaken{noted: noted, err: err}
			}
			noted = noted || n > 0
			// And an alert left out that fires with no open incident
			// of its own (resolved by hand, or it joined the group in
			// the same flush) would page nobody until the group's
			// next change or its repeat_interval: Alertmanager is
			// asked which alerts of the group are active, and the
			// overflow incident opened only for one with no open
			// incident of its own (an alert with one must not page
			// twice). Without alertmanager_url nothing can be asked,
			// and nothing is opened, as in group mode.
			if msg.TruncatedAlerts > 0 {
				var truncated string
				if len(g.Cuts) > 0 {
					truncated = ingest.CutDetails(g.Cuts)
				}
				asking, err := s.o.Withheld.LeftOutResolved(ctx, svc, amresolve.Group{Receiver: msg.Receiver, Labels: msg.GroupLabels}, amresolve.Overflow{
					DedupKey: g.DedupKey, Route: msg.CommonLabels, Summary: leftOutSummary(msg), Truncated: truncated,
					KeyPrefix: msg.AlertKeyPrefix(), InView: msg.KeyFingerprints()})
				if err != nil {
					return groupTaken{noted: noted, err: err}
				}
				noted = noted || asking
				s.log.Info("a resolved notification left alerts out and the group's overflow incident is not open", "service", svc.Name,
					"truncated_alerts", msg.TruncatedAlerts, "asking_alertmanager", asking)
			}
		}
		if id == "" {
			return groupTaken{noted: noted}
		}
		noted = true
		asking, err := s.o.Withheld.Withheld(ctx, svc, id, amresolve.Group{Receiver: msg.Receiver, Labels: msg.GroupLabels}, msg.Received)
		if err != nil {
			return groupTaken{noted: noted, err: err}
		}
		s.log.Warn("resolve withheld: "+why, "incident", id,
			"service", svc.Name, "truncated_alerts", msg.TruncatedAlerts, "asking_alertmanager", asking)
		return groupTaken{noted: true}
	}
	if !g.Firing {
		// A resolve that does not cover what the firing
		// notification before it said fires may be stale (from
		// the other Alertmanager of a cluster, or a retry):
		// Alertmanager, having delivered that firing one, says
		// nothing more of the group for hours. The incident's
		// details, which every firing notification replaces,
		// tell without another read.
		var uncovered ingest.Uncovered
		id, kept, err := s.o.Incidents.ResolveByDedupUnless(ctx, svc, g.DedupKey, "alertmanager", "alertmanager", msg.Received, g.Details, func(inc *store.Incident) bool {
			uncovered = ended.get().Uncovered(inc.Details)
			// Without Alertmanager to ask, only an alert that fired
			// again after the resolve's end keeps the incident open:
			// Alertmanager sends the resolve of that firing when it
			// ends. An alert merely not named may have left the
			// group unnamed (silenced by hand), and nothing would
			// resolve the incident.
			return uncovered.Newer != "" || (uncovered.Unlisted != "" && svc.AlertmanagerAPI() != "")
		})
		if err != nil {
			return groupTaken{noted: noted, err: err}
		}
		if kept == nil {
			return groupTaken{resolved: id}
		}
		taken := groupTaken{withheld: id, olderThan: uncovered.Newer}
		next := withheldNext(svc, "whether an alert of the group still fires (neither silenced nor inhibited), and resolves the incident when none does")
		if err := s.o.Incidents.Note(ctx, id, store.Entry{At: s.o.Now().UTC().Truncate(time.Millisecond), Type: "resolve_withheld",
			Actor: "pagerd", Detail: uncovered.Why() + next}); err != nil {
			taken.err = err
			return taken
		}
		taken.noted = true
		asking, err := s.o.Withheld.Stale(ctx, svc, kept, amresolve.Group{Receiver: msg.Receiver, Labels: msg.GroupLabels}, byFingerprint)
		if err != nil {
			taken.err = err
			return taken
		}
		s.log.Warn("resolve withheld: the resolved notification does not cover an alert a firing one received before it recorded", "incident", id,
			"service", svc.Name, "newer", uncovered.Newer, "unlisted", uncovered.Unlisted, "asking_alertmanager", asking)
		return taken
	}
	if g.Overflow && g.LeftOutOnly {
		// The alerts Alertmanager left out may fire, or may be
		// alerts with incidents of their own open that alerts
		// sorted before them pushed out: the overflow incident
		// paged a second time for those. With the URL,
		// Alertmanager is asked at once (a store job, stored after
		// this notification's own incidents) and the overflow
		// incident opened only for an active alert with none.
		var truncated string
		if len(g.Cuts) > 0 {
			truncated = ingest.CutDetails(g.Cuts)
		}
		asking, err := s.o.Withheld.LeftOutFiring(ctx, svc, amresolve.Group{Receiver: msg.Receiver, Labels: msg.GroupLabels}, amresolve.Overflow{
			DedupKey: g.DedupKey, Route: msg.CommonLabels, Summary: g.Summary, Details: g.Details, Truncated: truncated,
			KeyPrefix: msg.AlertKeyPrefix(), InView: msg.KeyFingerprints(), Received: msg.Received, ReadAt: incident.ReadAt(ctx), Fired: msg.KeyTimes()})
		if err != nil {
			return groupTaken{noted: noted, err: err}
		}
		if asking {
			return groupTaken{noted: true}
		}
	}
	a := incident.Alert{Service: svc, DedupKey: g.DedupKey, Source: "alertmanager",
		Actor: "alertmanager", Labels: g.Labels, LabelsIncomplete: g.LabelsIncomplete, Titles: g.Titles, Summary: g.Summary,
		Details: g.Details, FirstStart: g.FirstStart, Received: msg.Received}
	if !byFingerprint && g.FirstStart.IsZero() {
		a.CutLastStart = msg.LastFiringStart()
	}
	if byFingerprint {
		// The group's withheld resolve is in its overflow incident's
		// timeline.
		a.WithheldIn = msg.OverflowDedupKey()
		a.OneAlert = !g.Overflow
	}
	id, err := s.submit(ctx, cfg, a, g.Cuts)
	if err != nil {
		return groupTaken{noted: noted, err: err}
	}
	return groupTaken{noted: noted, opened: id}
}

// noteLeftOutResolve records, in fingerprint mode, a resolved
// notification's resolve withheld because Alertmanager left alerts out
// (truncatedAlerts) on each open incident of its group that it does not
// name, when the group's overflow incident is not open to hold it: any
// of their alerts may be among those left out. It resolves nothing (the
// alert may fire); it lets the alert's next firing, started after it, be
// told from a repeat (incident.Service's endIfGroupEnded), which resolves
// the old incident and pages. It reads every open incident of the
// service, for truncated resolves alone. With alertmanager_url,
// Alertmanager is already asked about those incidents (Withheld.Cut, at
// every notification it cut), and one whose alert it does not list is
// resolved. A retry of the notification records it again, later:
// endIfGroupEnded reads the first since the incident opened, so that
// changes nothing. It returns how many incidents it noted.
func (s *Server) noteLeftOutResolve(ctx context.Context, svc *policy.Service, msg *ingest.Message) (int, error) {
	prefix, named := msg.AlertKeyPrefix(), msg.KeyFingerprints()
	next := ". Resolve it by hand once its alert is resolved, or set alertmanager_url on the service so that pagerd asks Alertmanager"
	if u := svc.AlertmanagerAPI(); u != "" {
		next = ". pagerd asks Alertmanager at " + policy.ShownURL(u) + " whether its alert still fires, and resolves the incident when it does not"
	}
	e := store.Entry{At: s.o.Now().UTC().Truncate(time.Millisecond), Type: "resolve_withheld", Actor: "pagerd",
		Detail: fmt.Sprintf(ingest.LeftOutResolve+"%d of its alerts out of the notification (max_alerts on its receiver) and judged the status on the %d it kept, "+
			"not this one: this alert may be among those left out and still fire, so the incident stays open%s. If it fires again, started after this, "+
			"the incident is resolved and the new firing pages; raise max_alerts to avoid this", msg.TruncatedAlerts, len(msg.Alerts), next)}
	ids, err := s.o.Incidents.NoteEachOpen(ctx, svc, func(inc *store.Incident) bool {
		fp, ok := ingest.FingerprintOfKey(inc.DedupKey, prefix)
		return ok && inc.Source == "alertmanager" && !slices.Contains(named, fp)
	}, e)
	if err != nil {
		return 0, fmt.Errorf("record the withheld resolve on the group's open incidents: %w", err)
	}
	if len(ids) > 0 {
		s.log.Warn("resolve withheld: Alertmanager left alerts out of a resolved notification and the group's overflow incident is not open; "+
			"its open incidents not named record it", "service", svc.Name, "truncated_alerts", msg.TruncatedAlerts, "incidents", len(ids),
			"asking_alertmanager", svc.AlertmanagerAPI() != "")
	}
	return len(ids), nil
}

// withheldNext ends a stale resolve's resolve_withheld entry with what
// resolves the incident: with the service's Alertmanager URL, pagerd asks
// it (asks: what and what then); without, the resolve of the newer firing.
func withheldNext(svc *policy.Service, asks string) string {
	if u := svc.AlertmanagerAPI(); u != "" {
		return ". pagerd asks Alertmanager at " + policy.ShownURL(u) + " " + asks
	}
	return ". Alertmanager sends the resolve of that firing when it ends, and that one resolves the incident; " +
		"set alertmanager_url on the service for pagerd to ask Alertmanager meanwhile"
}

// leftOutSummary is the summary of the incident opened for alerts a
// resolved notification left out, when Alertmanager says one fires.
func leftOutSummary(msg *ingest.Message) string {
	return ingest.CapSummary(fmt.Sprintf("Alertmanager says alerts of %s fire that it left out of a resolved notification (%d %s, max_alerts on its receiver)",
		msg.GroupName(), msg.TruncatedAlerts, ingest.Alerts(msg.TruncatedAlerts)))
}

// submit hands an alert the intake decoded to the incident service and
// makes its truncation visible: the incident's timeline says what was cut
// (a "truncated" entry, on a repeat too: the details it replaced were cut
// as well), pagerd_alerts_truncated_total counts it and it is logged at
// warn.
func (s *Server) submit(ctx context.Context, cfg *policy.Config, a incident.Alert, cuts []ingest.Cut) (string, error) {
	if len(cuts) > 0 {
		a.Truncated = ingest.CutDetails(cuts)
	}
	id, _, err := s.o.Incidents.Trigger(ctx, cfg, a)
	if err != nil || len(cuts) == 0 {
		return id, err
	}
	limits := make([]string, 0, len(cuts))
	for _, c := range cuts {
		s.m.truncated.WithLabelValues(a.Source, a.Service.Name, c.Limit).Inc()
		limits = append(limits, c.Limit)
	}
	s.log.Warn("alert truncated to fit pagerd's limits", "incident", id, "service", a.Service.Name, "source", a.Source,
		"limits", strings.Join(limits, ","), "detail", a.Truncated)
	return id, nil
}

// changeEnqueuePath is PagerDuty's change events endpoint.
const changeEnqueuePath = "/v2/change/enqueue"

// changeEnqueue takes PagerDuty's change events (a deploy, a config
// push): routed by routing key as /v2/enqueue routes, under the same rate
// limit and admission, and kept (changes.Log) for the handoff document's
// "Recent Changes" and GET /api/v1/changes. A change pages nobody and
// opens no incident, as in PagerDuty. Refusals come in the Events API's
// error shape and, beside it, the REST API's "error" object, which
// go-pagerduty's client puts in its error, so a deploy tool's log says
// what was wrong.
func (s *Server) changeEnqueue(c echo.Context) error {
	r := c.Request()
	received, _ := s.o.Arrival(r)
	answer := func(code int, status, message string, errs ...string) error {
		if code >= 400 {
			s.log.Info("change event refused", "code", code, "reason", message+": "+strings.Join(errs, "; "), "remote", c.RealIP())
		}
		type restError struct {
			Message string   `json:"message"`
			Errors  []string `json:"errors,omitempty"`
		}
		return c.JSON(code, struct {
			ingest.EventResponse
			Error restError `json:"error"`
		}{ingest.EventResponse{Status: status, Message: message, Errors: errs}, restError{message, errs}})
	}
	invalid := func(code int, errs ...string) error {
		return answer(code, "invalid event", "Event object is invalid", errs...)
	}
	body, answered, err := readEvent(c, invalid)
	if answered {
		return err
	}
	ev, errs := ingest.DecodeChangeEvent(body, r.Header.Get("X-Routing-Key"))
	if len(errs) > 0 {
		return invalid(http.StatusBadRequest, errs...)
	}
	cfg := s.config()
	svc := serviceByRoutingKey(cfg, ev.RoutingKey)
	if svc == nil {
		if replica, ok := s.unknownKey(r.Context()); ok {
			c.Response().Header().Set("Retry-After", "5")
			return answer(http.StatusServiceUnavailable, "unavailable",
				"Routing key unknown to this replica's config, but "+newerConfigHas(replica)+"; the change event was not stored. Please retry.")
		}
		return invalid(http.StatusBadRequest, "Invalid routing key")
	}
	// A bucket of their own, at the same rate but at most the changes'
	// own: a deploy tool's burst must not hold up the service's alerts,
	// nor keep the store busy rewriting its changes.
	if !s.allowAtMost(cfg, "pd-change:", svc.Name, changes.MaxPerSecond, changes.Burst) {
		c.Response().Header().Set("Retry-After", "1")
		return answer(http.StatusTooManyRequests, "throttle event", "Requests for this service are arriving too quickly. Please retry later.")
	}
	if s.o.Changes == nil {
		return answer(http.StatusServiceUnavailable, "unavailable", "This pagerd keeps no change events; the change event was not stored.")
	}
	ch := changes.Change{Service: svc.Name, Summary: ev.Summary, Source: ev.Source, At: ev.Timestamp.UTC(), Details: ev.Details,
		DetailsDropped: ev.DetailsDropped}
	if ev.Timestamp.IsZero() {
		ch.At = received.UTC()
	}
	for _, l := range ev.Links {
		ch.Links = append(ch.Links, changes.Link{Href: l.Href, Text: l.Text})
	}
	ctx, cancel := storeBudget(r)
	defer cancel()
	ch, err = s.o.Changes.Record(ctx, ch)
	if err != nil {
		s.log.Error("change event not stored", "service", svc.Name, "err", err)
		c.Response().Header().Set("Retry-After", "5")
		return answer(http.StatusServiceUnavailable, "unavailable", "The store did not take the change event; it may not have been stored. Please retry later.")
	}
	return c.JSON(http.StatusAccepted, ingest.EventResponse{Status: "success", Message: "Change event processed", DedupKey: ch.ID})
}

// enqueue is PagerDuty's Events API v2, answering with PagerDuty's own bodies
// and status codes so any PagerDuty client, and Alertmanager's
// pagerduty_configs, can point here unchanged.
func (s *Server) enqueue(c echo.Context) error {
	r := c.Request()
	received, read := s.o.Arrival(r) // read: the latest its resolves may have arrived
	invalid := func(code int, errs ...string) error {
		c.Set(ctxRejected, strings.Join(errs, "; "))
		return c.JSON(code, ingest.Invalid(errs))
	}
	body, answered, err := readEvent(c, invalid)
	if answered {
		return err
	}
	// The body read, the config it is routed by is held until it is
	// stored (a reload waits).
	s.takeIn()
	defer s.takenIn()
	cfg := s.config()
	ev, errs := ingest.DecodeEventKeyed(body, r.Header.Get("X-Routing-Key"))
	if len(errs) > 0 {
		return invalid(http.StatusBadRequest, errs...)
	}
	svc := serviceByRoutingKey(cfg, ev.RoutingKey)
	if svc == nil {
		c.Set(ctxKeyName, "unknown")
		if replica, ok := s.unknownKey(r.Context()); ok {
			c.Set(ctxRejected, "unknown routing key while a newer config rolls out")
			c.Response().Header().Set("Retry-After", "5")
			return c.JSON(http.StatusServiceUnavailable, ingest.EventResponse{Status: "unavailable",
				Message: "Routing key unknown to this replica's config, but " + newerConfigHas(replica) + "; the event was not stored. Please retry."})
		}
		return invalid(http.StatusBadRequest, "Invalid routing key")
	}
	c.Set(ctxKeyName, "services["+svc.Name+"].integrations.pagerduty_routing_key")
	// Acknowledgements and resolves have a bucket of their own: a flood
	// of triggers must not make them wait (they end pages).
	bucket := "pd:"
	if ev.Action != ingest.ActionTrigger {
		bucket = "pd-act:"
	}
	if !s.allow(cfg, bucket, svc.Name) {
		c.Set(ctxRejected, "over the rate limit")
		c.Response().Header().Set("Retry-After", "1")
		return c.JSON(http.StatusTooManyRequests, ingest.EventResponse{Status: "throttle event",
			Message: "Requests for this service are arriving too quickly. Please retry later."})
	}
	ctx, cancel := storeBudget(r)
	ctx = incident.WithReadAt(ctx, read)
	defer cancel()
	err = s.event(ctx, cfg, svc, ev, received)
	if errors.Is(err, store.ErrUnavailable) {
		c.Response().Header().Set("Retry-After", "5")
		msg := "The incident store is unavailable; the event was not stored. Please retry later."
		if errors.Is(err, store.ErrOutcomeUnknown) {
			msg = "The incident store did not confirm the event in time: it may or may not have been stored. " +
				"Please retry: " + enqueueRetry[ev.Action]
		}
		return c.JSON(http.StatusServiceUnavailable, ingest.EventResponse{Status: "unavailable", Message: msg})
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, ingest.Accepted(ev.DedupKey))
}

// readEvent reads an Events API body as PagerDuty takes it: at most
// 512 KB, JSON, gzip or not. When it is not one to decode it answers
// (through invalid, or 503 when the body could not be read: nothing was
// stored, retry) and says so (answered, with the answer's error).
func readEvent(c echo.Context, invalid func(code int, errs ...string) error) (body []byte, answered bool, err error) {
	r := c.Request()
	if r.ContentLength > ingest.MaxEventBytes {
		return nil, true, invalid(http.StatusRequestEntityTooLarge, "Request body is larger than 512 KB")
	}
	body, err = readAtMost(r.Body, ingest.MaxEventBytes+1)
	if err != nil && malformedBody(err) {
		return nil, true, invalid(http.StatusBadRequest, "Could not read the request body: "+err.Error())
	}
	if err != nil {
		c.Set(ctxRejected, "the request body could not be read: "+err.Error())
		return nil, true, c.JSON(http.StatusServiceUnavailable, ingest.EventResponse{Status: "unavailable",
			Message: "Could not read the request body (" + err.Error() + "); nothing was stored: retry"})
	}
	if len(body) > ingest.MaxEventBytes {
		return nil, true, invalid(http.StatusRequestEntityTooLarge, "Request body is larger than 512 KB")
	}
	if jsonContentType(r) != nil {
		return nil, true, invalid(http.StatusBadRequest, "Content-Type must be application/json")
	}
	body, err = ingest.DecodeContent(r.Header.Get(echo.HeaderContentEncoding), body)
	switch {
	case errors.Is(err, ingest.ErrEventTooLarge):
		return nil, true, invalid(http.StatusRequestEntityTooLarge, "Request body is larger than 512 KB once decompressed")
	case errors.Is(err, ingest.ErrUnsupportedEncoding):
		c.Response().Header().Set("Accept-Encoding", "gzip")
		return nil, true, invalid(http.StatusUnsupportedMediaType, err.Error())
	case err != nil:
		return nil, true, invalid(http.StatusBadRequest, err.Error())
	}
	return body, false, nil
}

// enqueueRetry says, by event action, what a retry of an event whose
// outcome is unknown does.
var enqueueRetry = map[string]string{
	"trigger":     "a retry lands on the same incident, it never opens a second one.",
	"acknowledge": "acknowledging an acknowledged incident changes nothing.",
	"resolve":     "resolving a resolved incident changes nothing.",
}

// event applies one valid Events API v2 event, received at received
// (incident.Alert.Received). Acknowledge and resolve for an unknown dedup
// key are accepted and change nothing, as PagerDuty does.
func (s *Server) event(ctx context.Context, cfg *policy.Config, svc *policy.Service, ev *pagerduty.V2Event, received time.Time) error {
	switch ev.Action {
	case "trigger":
		if ev.DedupKey == "" {
			// Derived from the event, not random: a retry of a keyless
			// trigger after a 5xx that was in fact stored lands on the
			// same incident.
			ev.DedupKey = ingest.DerivedDedupKey(ev)
		}
		labels, summary, details := ingest.EventGroupFor(ev, svc.SeverityLabel)
		_, _, err := s.o.Incidents.Trigger(ctx, cfg, incident.Alert{Service: svc, DedupKey: "pd:" + ev.DedupKey, Source: "pagerduty",
			Actor: "pagerduty", Labels: []map[string]string{labels}, Summary: summary, Details: details, Received: received})
		return err
	case "acknowledge":
		_, err := s.o.Incidents.ActByDedup(ctx, svc, "pd:"+ev.DedupKey, "pagerduty", policy.Event{Kind: policy.EventAcknowledge, Actor: "pagerduty"}, "acknowledged")
		return err
	default: // resolve; DecodeEvent admits nothing else
		_, err := s.o.Incidents.ResolveByDedup(ctx, svc, "pd:"+ev.DedupKey, "pagerduty", "pagerduty", received)
		return err
	}
}
