package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/twilio/twilio-go/client"

	"github.com/pagerd/pagerd/gateway/store"
)

// verifyTwilio checks X-Twilio-Signature with client.RequestValidator
// against the URL Twilio called: the configured public URL plus the path and
// query, with the POSTed form. Anything else is refused before it is read
// for meaning.
func (s *Server) verifyTwilio(c echo.Context) error {
	cfg := s.Config()
	token := cfg.Notifiers.Twilio.AuthToken.Reveal()
	if token == "" || cfg.Server.PublicURL == "" {
		return &inputError{http.StatusNotFound, "Twilio callbacks are not configured (notifiers.twilio and server.public_url)"}
	}
	r := c.Request()
	if err := r.ParseForm(); err != nil {
		return badRequest("form: %v", err)
	}
	params := map[string]string{}
	for k, v := range r.PostForm {
		if len(v) > 0 {
			params[k] = v[0]
		}
	}
	rv := client.NewRequestValidator(token)
	if !rv.Validate(strings.TrimRight(cfg.Server.PublicURL, "/")+r.URL.RequestURI(), params, r.Header.Get("X-Twilio-Signature")) {
		return &inputError{http.StatusForbidden, "bad or missing X-Twilio-Signature"}
	}
	return nil
}

// twilioStatus records an SMS's final delivery status (delivered,
// undelivered, failed) in the incident's timeline. Twilio is answered 204
// for anything signed, so it does not retry.
func (s *Server) twilioStatus(c echo.Context) error {
	if err := s.verifyTwilio(c); err != nil {
		return err
	}
	r := c.Request()
	status := r.PostForm.Get("MessageStatus")
	switch status {
	case "delivered", "undelivered", "failed":
	default:
		return c.NoContent(http.StatusNoContent)
	}
	q := r.URL.Query()
	detail := status
	if code := r.PostForm.Get("ErrorCode"); code != "" {
		detail += " (Twilio error " + code + ")"
	}
	e := store.Entry{At: s.clock(), Type: "delivery", User: q.Get("user"), Channel: q.Get("channel"), Detail: detail}
	if err := s.note(r.Context(), q.Get("incident"), e); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// note appends entries to an incident's timeline without changing it.
func (s *Server) note(ctx context.Context, id string, entries ...store.Entry) error {
	for attempt := 0; attempt < 10; attempt++ {
		inc, err := s.store.Get(ctx, id)
		if err != nil {
			return err
		}
		err = s.store.Update(ctx, inc, entries)
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return errors.New("the incident kept changing")
}
