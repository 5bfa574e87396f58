package notify

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Ntfy pushes a page to an ntfy topic (the contact's address, a topic URL
// such as https://ntfy.sh/oncall-ann): a phone push for teams without
// PagerDuty. High urgency pages are sent at ntfy's top priority; the ack
// link, if any, is the notification's click action.
type Ntfy struct {
	client  *http.Client
	timeout time.Duration
}

var _ Notifier = (*Ntfy)(nil)

// NewNtfy makes the transport; each request is bounded by timeout.
func NewNtfy(client *http.Client, timeout time.Duration) *Ntfy {
	if client == nil {
		client = &http.Client{}
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &Ntfy{client: client, timeout: timeout}
}

// Notify publishes the page. 429, 5xx and network errors are worth retrying.
func (n *Ntfy) Notify(ctx context.Context, m Message) (bool, error) {
	if m.Address == "" {
		return false, fmt.Errorf("ntfy: the contact has no topic URL")
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.Address, bytes.NewReader([]byte(m.Text)))
	if err != nil {
		return false, fmt.Errorf("ntfy: %w", err)
	}
	prio := "5"
	if m.Urgency == "low" {
		prio = "3"
	}
	req.Header.Set("Title", fmt.Sprintf("[%s] %s", m.Priority, m.Service))
	req.Header.Set("Priority", prio)
	req.Header.Set("Tags", "rotating_light")
	if m.AckURL != "" {
		req.Header.Set("Click", m.AckURL)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return true, fmt.Errorf("ntfy: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, fmt.Errorf("ntfy: %s answered %d", req.URL.Host, resp.StatusCode)
	default:
		return false, fmt.Errorf("ntfy: %s answered %d", req.URL.Host, resp.StatusCode)
	}
}
