package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/PagerDuty/go-pagerduty/webhookv3"
	"github.com/labstack/echo/v4"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/notify/pagerduty"
	"github.com/pagerd/pagerd/policy"
)

// pdWebhook is the part of a PagerDuty v3 webhook pagerd reads.
type pdWebhook struct {
	Event struct {
		EventType string `json:"event_type"`
		Agent     struct {
			Summary string `json:"summary"`
		} `json:"agent"`
		Data struct {
			Type        string `json:"type"`
			IncidentKey string `json:"incident_key"`
		} `json:"data"`
	} `json:"event"`
}

// pagerDutyWebhook receives PagerDuty webhooks v3, verified with the
// configured secret: incident.acknowledged and incident.resolved on an
// incident pagerd pushed through PagerDuty act on the pagerd incident as the
// person it was pushed to, which stops the ladder for everyone. Other events,
// and incidents pagerd did not push, are accepted and ignored, so PagerDuty
// does not redeliver them.
func (s *Server) pagerDutyWebhook(c echo.Context) error {
	secret := s.Config().Notifiers.PagerDuty.WebhookSecret.Reveal()
	if secret == "" {
		return &inputError{http.StatusNotFound, "PagerDuty webhooks are not configured (notifiers.pagerduty.webhook_secret)"}
	}
	r := c.Request()
	// A missing, malformed or wrong signature is one answer, 403: the
	// request is not from PagerDuty. Only a body that cannot be read (over
	// the limit: 413) or is empty (400) is answered otherwise.
	var mbe *http.MaxBytesError
	switch err := webhookv3.VerifySignature(r, secret); {
	case err == nil:
	case errors.Is(err, webhookv3.ErrNoValidSignatures):
		return &inputError{http.StatusForbidden, "bad X-PagerDuty-Signature: it does not match notifiers.pagerduty.webhook_secret"}
	case errors.Is(err, webhookv3.ErrMalformedHeader):
		return &inputError{http.StatusForbidden, "missing or malformed X-PagerDuty-Signature (want v1=<hex HMAC-SHA256 of the body>)"}
	case errors.As(err, &mbe):
		return &inputError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is over the limit of %d bytes", mbe.Limit)}
	case errors.Is(err, webhookv3.ErrMalformedBody):
		return badRequest("empty webhook body")
	default:
		return badRequest("reading the webhook body: %v", err)
	}
	var wh pdWebhook
	if err := json.NewDecoder(r.Body).Decode(&wh); err != nil {
		return badRequest("webhook body: %v", err)
	}
	var kind policy.EventKind
	switch wh.Event.EventType {
	case "incident.acknowledged":
		kind = policy.EventAcknowledge
	case "incident.resolved":
		kind = policy.EventResolve
	default:
		return c.NoContent(http.StatusNoContent)
	}
	id, user, ok := pagerduty.ParseDedupKey(wh.Event.Data.IncidentKey)
	if !ok || s.Config().User(user) == nil {
		return c.NoContent(http.StatusNoContent)
	}
	var err error
	if store.IsBundleID(id) {
		_, err = s.actOnBundle(r.Context(), id, user, policy.Event{Kind: kind})
	} else {
		_, _, err = s.apply(r.Context(), id, policy.Event{Kind: kind, Actor: user})
	}
	if errors.Is(err, errAlreadyResolved) || errors.Is(err, store.ErrNotFound) {
		return c.NoContent(http.StatusNoContent)
	}
	if err != nil {
		return err
	}
	s.log.Info("PagerDuty webhook applied", "incident", id, "user", user, "event", wh.Event.EventType)
	return c.NoContent(http.StatusNoContent)
}
