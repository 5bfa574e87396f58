package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Webhook POSTs each page as JSON to the contact's address (a URL), so
// anyone can receive pages without Twilio: a chat bridge, ntfy, a script.
type Webhook struct {
	client  *http.Client
	timeout time.Duration
}

var _ Notifier = (*Webhook)(nil)

// NewWebhook makes a webhook notifier; each request is bounded by timeout.
func NewWebhook(client *http.Client, timeout time.Duration) *Webhook {
	if client == nil {
		client = &http.Client{}
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &Webhook{client: client, timeout: timeout}
}

// Notify posts the message. 2xx is delivered; 429, 5xx and network errors
// are worth retrying; other 4xx are not.
func (w *Webhook) Notify(ctx context.Context, m Message) (bool, error) {
	if m.Address == "" {
		return false, fmt.Errorf("webhook: the contact has no URL")
	}
	body, err := json.Marshal(m)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.Address, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "pagerd")
	resp, err := w.client.Do(req)
	if err != nil {
		return true, fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, fmt.Errorf("webhook: %s answered %d", req.URL.Host, resp.StatusCode)
	default:
		return false, fmt.Errorf("webhook: %s answered %d", req.URL.Host, resp.StatusCode)
	}
}
