package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/PagerDuty/go-pagerduty"
)

// DefaultPagerDutyEventsURL is PagerDuty's Events API v2 host.
const DefaultPagerDutyEventsURL = "https://events.pagerduty.com"

// PagerDuty pushes a page through the PagerDuty app: it triggers an event in
// the PagerDuty service whose routing key is the contact's address, and
// PagerDuty's own rules push it to the person's phone. The dedup key names
// the pagerd incident and the person, so a PagerDuty webhook for that
// PagerDuty incident leads back to them (see PagerDutyDedupKey).
type PagerDuty struct {
	client  *pagerduty.Client
	timeout time.Duration
}

var _ Notifier = (*PagerDuty)(nil)

// NewPagerDuty sends to eventsURL (default DefaultPagerDutyEventsURL: a
// regional edge, an egress proxy, or a test server can stand in).
func NewPagerDuty(eventsURL string, hc *http.Client, timeout time.Duration) *PagerDuty {
	if eventsURL == "" {
		eventsURL = DefaultPagerDutyEventsURL
	}
	if hc == nil {
		hc = &http.Client{}
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	c := pagerduty.NewClient("", pagerduty.WithV2EventsAPIEndpoint(strings.TrimRight(eventsURL, "/")))
	c.HTTPClient = hc
	return &PagerDuty{client: c, timeout: timeout}
}

// PagerDutyDedupKey is the dedup key of the event pagerd sends to PagerDuty
// for a page to a person.
func PagerDutyDedupKey(incident, user string) string { return "pagerd:" + incident + ":" + user }

// ParsePagerDutyDedupKey reads back what PagerDutyDedupKey wrote.
func ParsePagerDutyDedupKey(key string) (incident, user string, ok bool) {
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
func (p *PagerDuty) Notify(ctx context.Context, m Message) error {
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
	ev := &pagerduty.V2Event{RoutingKey: m.Address, Action: "trigger", DedupKey: PagerDutyDedupKey(m.Incident, m.User),
		Client: "pagerd", ClientURL: m.AckURL,
		Payload: &pagerduty.V2Payload{Summary: summary, Source: "pagerd", Severity: severity, Component: m.Service,
			Details: map[string]any{"incident": m.Incident, "priority": m.Priority, "level": m.Level, "user": m.User}}}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	_, err := p.client.ManageEventWithContext(ctx, ev)
	if err == nil {
		return nil
	}
	var apiErr pagerduty.APIError
	if errors.As(err, &apiErr) {
		code := apiErr.StatusCode
		err := fmt.Errorf("pagerduty: events API answered %d", code)
		if code == http.StatusTooManyRequests || code >= 500 {
			return Temporary(err)
		}
		return err
	}
	return Temporary(fmt.Errorf("pagerduty: %w", err))
}

// Forward tells PagerDuty that pagerd acknowledged or resolved (action
// "acknowledge" or "resolve") an incident it pushed to a person, so the
// PagerDuty app stops notifying them too.
func (p *PagerDuty) Forward(ctx context.Context, routingKey, incident, user, action string) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	_, err := p.client.ManageEventWithContext(ctx, &pagerduty.V2Event{RoutingKey: routingKey, Action: action,
		DedupKey: PagerDutyDedupKey(incident, user), Client: "pagerd"})
	if err != nil {
		return fmt.Errorf("pagerduty %s: %w", action, err)
	}
	return nil
}
