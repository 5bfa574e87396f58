// Package pagerduty is pagerd's PagerDuty integration, all of it: pages
// pushed through the PagerDuty app (Events API v2, go-pagerduty), telling
// PagerDuty when pagerd acknowledged or resolved what it pushed (Forward),
// and PagerDuty's webhooks v3 coming back, signed, when someone acts in
// PagerDuty. The webhook acts on incidents only through notify.Receiver.
package pagerduty

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	gopd "github.com/PagerDuty/go-pagerduty"

	"github.com/pagerd/pagerd/internal/textcut"
	"github.com/pagerd/pagerd/notify"
)

// PagerDuty's addresses and pagerd's defaults for it, in one place.
const (
	// DefaultEventsURL is PagerDuty's Events API v2 host.
	DefaultEventsURL = "https://events.pagerduty.com"
	// DefaultTimeout bounds one call to the Events API.
	DefaultTimeout = 10 * time.Second
	// WebhookPath is where PagerDuty's webhooks v3 are received.
	WebhookPath = "/api/v1/pagerduty/webhook"
)

// Notifier pushes a page through the PagerDuty app: it triggers an event in
// the PagerDuty service whose routing key is the contact's address, and
// PagerDuty's own rules push it to the person's phone. The dedup key names
// the pagerd incident and the person, so a PagerDuty webhook for that
// PagerDuty incident leads back to them (see DedupKey).
type Notifier struct {
	client  *gopd.Client
	timeout time.Duration
}

var _ notify.Notifier = (*Notifier)(nil)

// New sends to eventsURL (default DefaultEventsURL: a regional edge, an
// egress proxy, or a test server can stand in), each call bounded by
// timeout (default DefaultTimeout).
func New(eventsURL string, hc *http.Client, timeout time.Duration) *Notifier {
	if eventsURL == "" {
		eventsURL = DefaultEventsURL
	}
	if hc == nil {
		hc = &http.Client{Transport: notify.NewTransport()}
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	withReasons := *hc
	withReasons.Transport = refusalReader{base: base}
	c := gopd.NewClient("", gopd.WithV2EventsAPIEndpoint(strings.TrimRight(eventsURL, "/")))
	c.HTTPClient = notify.KeepMethodOnRedirect(&withReasons)
	return &Notifier{client: c, timeout: timeout}
}

// DedupKey is the dedup key of the event pagerd sends to PagerDuty for a
// page to a person: "pagerd:<incident>:<user>" until the incident is first
// reopened after an acknowledgement, "pagerd:<incident>:<user>:<n>" after
// its nth reopen (notify.Message.Reopened). PagerDuty folds a trigger whose
// key matches an open alert, triggered or acknowledged, into that alert
// and notifies nobody: retries and repeats of a page keep its key, so
// PagerDuty absorbs them, and a page after a reopen takes a new one, so it
// opens a new alert that notifies the person again instead of vanishing
// into the acknowledged one. Keys without the count are those of pages
// sent before pagerd kept it, and of the first round since.
func DedupKey(incident, user string, reopened int) string {
	k := "pagerd:" + incident + ":" + user
	if reopened > 0 {
		k += ":" + strconv.Itoa(reopened)
	}
	return k
}

// ParseDedupKey reads back what DedupKey wrote, in either form: a key with
// three parts whose last is a count (a decimal number from 1, without
// leading zeros) is of the second. The ids pagerd makes for incidents and
// storm bundles hold no colon, nor do user ids (policy checks them), so no
// key it sends reads both ways.
func ParseDedupKey(key string) (incident, user string, reopened int, ok bool) {
	rest, ok := strings.CutPrefix(key, "pagerd:")
	if !ok {
		return "", "", 0, false
	}
	if i := strings.LastIndex(rest, ":"); i > 0 {
		if n, err := strconv.Atoi(rest[i+1:]); err == nil && n > 0 && strconv.Itoa(n) == rest[i+1:] {
			if incident, user, ok := splitIncidentUser(rest[:i]); ok {
				return incident, user, n, true
			}
		}
	}
	incident, user, ok = splitIncidentUser(rest)
	return incident, user, 0, ok
}

// splitIncidentUser splits "<incident>:<user>" at its last colon.
func splitIncidentUser(s string) (incident, user string, ok bool) {
	i := strings.LastIndex(s, ":")
	if i <= 0 || i == len(s)-1 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

// Notify triggers the PagerDuty event. 429, 5xx and network errors are
// worth retrying; anything else PagerDuty refuses is not.
func (p *Notifier) Notify(ctx context.Context, m notify.Message) error {
	if m.Address == "" {
		return errors.New("pagerduty: the contact has no routing key")
	}
	severity := "critical"
	if m.Urgency == "low" {
		severity = "warning"
	}
	summary := textcut.Bytes(m.Text, 1024, textcut.Ellipsis) // never splitting a character
	ev := &gopd.V2Event{RoutingKey: m.Address, Action: "trigger", DedupKey: DedupKey(m.Incident, m.User, m.Reopened),
		Client: "pagerd", ClientURL: m.AckURL,
		Payload: &gopd.V2Payload{Summary: summary, Source: "pagerd", Severity: severity, Component: m.Service,
			Details: map[string]any{"incident": m.Incident, "priority": m.Priority, "level": m.Level, "user": m.User}}}
	return p.send(ctx, ev, "pagerduty")
}

// Forward tells PagerDuty that pagerd acknowledged or resolved (action
// "acknowledge" or "resolve") the alert it opened with dedupKey in the
// PagerDuty service with routingKey, so the PagerDuty app stops notifying
// for it too. As for Notify, 429, 5xx and network errors are temporary
// (notify.IsTemporary); anything else PagerDuty refuses it will refuse
// again. PagerDuty takes and ignores it when no open alert has the key.
func (p *Notifier) Forward(ctx context.Context, routingKey, dedupKey, action string) error {
	return p.send(ctx, &gopd.V2Event{RoutingKey: routingKey, Action: action, DedupKey: dedupKey, Client: "pagerd"},
		"pagerduty "+action)
}

// send posts one event, within the timeout, and says what PagerDuty
// answered if it refused it: its status, and its reason when it gave one
// ("Event object is invalid: Length of 'routing_key' is incorrect"), which
// the Events API puts where go-pagerduty's client does not look
// (refusalReason).
func (p *Notifier) send(ctx context.Context, ev *gopd.V2Event, what string) error {
	ctx, cancel := notify.WithRunningTimeout(ctx, p.timeout)
	defer cancel()
	var reason refusal
	resp, err := p.client.ManageEventWithContext(withRefusal(ctx, &reason), ev)
	if err == nil {
		// go-pagerduty takes any 2xx; the Events API's taken event is a
		// 202 with status "success". Anything else (a proxy's 200, an
		// empty object) is not known to be taken: tried again (the same
		// dedup key folds into one alert) and, still so, failed.
		if resp == nil || resp.Status != "success" {
			status := ""
			if resp != nil {
				status = resp.Status
			}
			return notify.Temporary(fmt.Errorf("%s: events API answered 2xx with status %q, not \"success\": not known to be taken", what, status))
		}
		return nil
	}
	var apiErr gopd.APIError
	if errors.As(err, &apiErr) {
		code := apiErr.StatusCode
		err := fmt.Errorf("%s: events API answered %d%s", what, code, reason.text(apiErr))
		if code == http.StatusTooManyRequests || code >= 500 {
			return notify.Temporary(err)
		}
		return err
	}
	if off := notify.CalledOff(ctx, what); off != nil {
		return off
	}
	return notify.Temporary(fmt.Errorf("%s: %w", what, err))
}
