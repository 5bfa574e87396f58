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
	"strings"
	"time"

	gopd "github.com/PagerDuty/go-pagerduty"

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
	c := gopd.NewClient("", gopd.WithV2EventsAPIEndpoint(strings.TrimRight(eventsURL, "/")))
	c.HTTPClient = hc
	return &Notifier{client: c, timeout: timeout}
}

// DedupKey is the dedup key of the event pagerd sends to PagerDuty for a
// page to a person.
func DedupKey(incident, user string) string { return "pagerd:" + incident + ":" + user }

// ParseDedupKey reads back what DedupKey wrote.
func ParseDedupKey(key string) (incident, user string, ok bool) {
	rest, ok := strings.CutPrefix(key, "pagerd:")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndex(rest, ":")
	if i <= 0 || i == len(rest)-1 {
		return "", "", false
	}
	return rest[:i], rest[i+1:], true
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
	summary := m.Text
	if len(summary) > 1024 {
		summary = summary[:1024]
	}
	ev := &gopd.V2Event{RoutingKey: m.Address, Action: "trigger", DedupKey: DedupKey(m.Incident, m.User),
		Client: "pagerd", ClientURL: m.AckURL,
		Payload: &gopd.V2Payload{Summary: summary, Source: "pagerd", Severity: severity, Component: m.Service,
			Details: map[string]any{"incident": m.Incident, "priority": m.Priority, "level": m.Level, "user": m.User}}}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	_, err := p.client.ManageEventWithContext(ctx, ev)
	if err == nil {
		return nil
	}
	var apiErr gopd.APIError
	if errors.As(err, &apiErr) {
		code := apiErr.StatusCode
		err := fmt.Errorf("pagerduty: events API answered %d", code)
		if code == http.StatusTooManyRequests || code >= 500 {
			return notify.Temporary(err)
		}
		return err
	}
	return notify.Temporary(fmt.Errorf("pagerduty: %w", err))
}

// Forward tells PagerDuty that pagerd acknowledged or resolved (action
// "acknowledge" or "resolve") an incident it pushed to a person, so the
// PagerDuty app stops notifying them too. As for Notify, 429, 5xx and
// network errors are temporary (notify.IsTemporary); anything else
// PagerDuty refuses it will refuse again.
func (p *Notifier) Forward(ctx context.Context, routingKey, incident, user, action string) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	_, err := p.client.ManageEventWithContext(ctx, &gopd.V2Event{RoutingKey: routingKey, Action: action,
		DedupKey: DedupKey(incident, user), Client: "pagerd"})
	if err == nil {
		return nil
	}
	var apiErr gopd.APIError
	if errors.As(err, &apiErr) {
		code := apiErr.StatusCode
		err := fmt.Errorf("pagerduty %s: events API answered %d", action, code)
		if code == http.StatusTooManyRequests || code >= 500 {
			return notify.Temporary(err)
		}
		return err
	}
	return notify.Temporary(fmt.Errorf("pagerduty %s: %w", action, err))
}
