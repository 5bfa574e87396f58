package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// Webhook POSTs each page as JSON to the contact's address (a URL), so
// anyone can receive pages without Twilio: a chat bridge, a script.
type Webhook struct{ h HTTPSender }

var _ Notifier = (*Webhook)(nil)

// NewWebhook makes a webhook notifier; each request is bounded by timeout.
func NewWebhook(client *http.Client, timeout time.Duration) *Webhook {
	return &Webhook{h: NewHTTPSender("webhook", client, timeout)}
}

// Notify posts the message. 2xx is delivered; 429, 5xx and network errors
// are worth retrying; other 4xx are not.
func (w *Webhook) Notify(ctx context.Context, m Message) error {
	if m.Address == "" {
		return errors.New("webhook: the contact has no URL")
	}
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return w.h.Post(ctx, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.Address, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("User-Agent", "pagerd")
		}
		return req, err
	}, nil)
}
