package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Ntfy pushes a page to an ntfy topic (the contact's address, a topic URL
// such as https://ntfy.sh/oncall-ann): a phone push for teams without
// PagerDuty. High urgency pages are sent at ntfy's top priority; the ack
// link, if any, is the notification's click action, and its Acknowledge
// button POSTs to the link (the acknowledgement the link's page makes).
type Ntfy struct{ h HTTPSender }

var _ Notifier = (*Ntfy)(nil)

// NewNtfy makes the transport; each request is bounded by timeout.
func NewNtfy(client *http.Client, timeout time.Duration) *Ntfy {
	return &Ntfy{h: NewHTTPSender("ntfy", client, timeout)}
}

// Notify publishes the page. 429, 5xx and network errors are worth retrying.
func (n *Ntfy) Notify(ctx context.Context, m Message) error {
	if m.Address == "" {
		return errors.New("ntfy: the contact has no topic URL")
	}
	prio := "5"
	if m.Urgency == "low" {
		prio = "3"
	}
	return n.h.Post(ctx, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.Address, strings.NewReader(m.Text))
		if err == nil {
			title := fmt.Sprintf("[%s] %s", m.Priority, m.Service)
			if m.Notice {
				title = m.Summary // a shift notice
			}
			req.Header.Set("Title", title)
			req.Header.Set("Priority", prio)
			req.Header.Set("Tags", "rotating_light")
			if m.AckURL != "" {
				req.Header.Set("Click", m.AckURL)
				// An Acknowledge button on the notification: the app POSTs
				// to the signed ack link, as its page's button does.
				req.Header.Set("Actions", "http, Acknowledge, "+m.AckURL+"/acknowledge, method=POST, clear=true")
			}
		}
		return req, err
	}, nil)
}
