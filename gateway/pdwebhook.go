package gateway

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/PagerDuty/go-pagerduty/webhookv3"
	"github.com/labstack/echo/v4"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/notify"
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
	switch err := webhookv3.VerifySignature(r, secret); {
	case errors.Is(err, webhookv3.ErrNoValidSignatures):
		return &inputError{http.StatusForbidden, "bad X-PagerDuty-Signature"}
	case err != nil:
		return badRequest("%v", err)
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
	id, user, ok := notify.ParsePagerDutyDedupKey(wh.Event.Data.IncidentKey)
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
