package gateway

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/twilio/twilio-go/client"
	"github.com/twilio/twilio-go/twiml"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/notify/twilio"
	"github.com/pagerd/pagerd/policy"
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
// undelivered, failed) or a call's (completed, busy, no-answer, failed,
// canceled) in the incident's timeline; a page that did not arrive brings
// the person's next step forward to now, so the ladder goes on. Twilio is answered
// 204 for anything signed, so it does not retry.
func (s *Server) twilioStatus(c echo.Context) error {
	if err := s.verifyTwilio(c); err != nil {
		return err
	}
	r := c.Request()
	status := r.PostForm.Get("MessageStatus")
	if status == "" {
		status = r.PostForm.Get("CallStatus")
	}
	switch status {
	case "delivered", "undelivered", "failed", "completed", "busy", "no-answer", "canceled":
	default:
		return c.NoContent(http.StatusNoContent)
	}
	q := r.URL.Query()
	detail := status
	if code := r.PostForm.Get("ErrorCode"); code != "" {
		detail += " (Twilio error " + code + ")"
	}
	e := store.Entry{At: s.clock(), Type: "delivery", User: q.Get("user"), Channel: q.Get("channel"), Detail: detail}
	failed := status != "delivered" && status != "completed"
	// It did not reach them: their next step (the call) comes now.
	ev := policy.Event{Kind: policy.EventChannelFailed, Actor: q.Get("user"), Channel: q.Get("channel")}
	var err error
	if id := q.Get("incident"); store.IsBundleID(id) {
		if _, err = s.noteBundle(r.Context(), id, e); err == nil && failed {
			_, err = s.actOnBundle(r.Context(), id, q.Get("user"), ev)
		}
	} else if err = s.note(r.Context(), id, e); err == nil && failed {
		_, _, err = s.apply(r.Context(), id, ev)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, errAlreadyResolved) {
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

// parseSMSReply reads what a person texts back: an action, and optionally the reply
// code of the incident it is about.
func parseSMSReply(body string) (policy.EventKind, string, bool) {
	f := strings.Fields(strings.ToLower(strings.TrimSpace(body)))
	if len(f) == 0 || len(f) > 2 {
		return "", "", false
	}
	var kind policy.EventKind
	switch f[0] {
	case "4", "ack", "acknowledge":
		kind = policy.EventAcknowledge
	case "6", "resolve":
		kind = policy.EventResolve
	case "5", "escalate":
		kind = policy.EventEscalate
	default:
		return "", "", false
	}
	code := ""
	if len(f) == 2 {
		code = strings.ToUpper(f[1])
	}
	return kind, code, true
}

const smsHelp = "pagerd: reply 4 (ack), 6 (resolve) or 5 (escalate), optionally followed by the incident's code, e.g. \"4 AB12\"."

// twilioSMS receives SMS replies (Twilio's incoming-message webhook,
// signature-checked): 4/ack, 6/resolve or 5/escalate, alone (the latest
// incident that number was paged for) or with a reply code. A number acts
// only on incidents it was paged for, as the person it belongs to. The
// answer is TwiML with one message saying what happened.
func (s *Server) twilioSMS(c echo.Context) error {
	if err := s.verifyTwilio(c); err != nil {
		return err
	}
	r := c.Request()
	reply := func(text string) error {
		c.Response().Header().Set(echo.HeaderContentType, "application/xml")
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(text))
		return c.String(http.StatusOK, `<?xml version="1.0" encoding="UTF-8"?><Response><Message>`+b.String()+`</Message></Response>`)
	}
	cfg := s.Config()
	from := r.PostForm.Get("From")
	var user string
	for _, u := range cfg.Users {
		for _, ct := range u.Contacts {
			if ct.Channel == policy.ChannelSMS && ct.Address != "" && ct.Address == from {
				user = u.ID
			}
		}
	}
	if user == "" {
		return reply("pagerd: this number is not on call here.")
	}
	kind, code, ok := parseSMSReply(r.PostForm.Get("Body"))
	if !ok {
		return reply(smsHelp)
	}
	id, err := s.latestPagedBySMS(r.Context(), user, code)
	if err != nil {
		return err
	}
	if id == "" && code != "" {
		return reply("pagerd: no open incident with code " + code + " was paged to this number.")
	}
	if id == "" {
		return reply("pagerd: no open incident was paged to this number.")
	}
	if store.IsBundleID(id) {
		out, err := s.actOnBundle(r.Context(), id, user, policy.Event{Kind: kind})
		if errors.Is(err, store.ErrNotFound) {
			return reply("pagerd: that alert-storm message is no longer kept; reply with each incident's code.")
		}
		if err != nil {
			return err
		}
		return reply(fmt.Sprintf("pagerd: %s (code %s).", out.describe(kind), twilio.ReplyCode(id)))
	}
	inc, acts, err := s.apply(r.Context(), id, policy.Event{Kind: kind, Actor: user})
	switch {
	case errors.Is(err, errAlreadyResolved):
		return reply("pagerd: already resolved" + by(inc.State.ResolvedBy) + ".")
	case err != nil:
		return err
	case len(acts) == 0 && kind == policy.EventAcknowledge:
		return reply("pagerd: already acknowledged" + by(inc.State.AcknowledgedBy) + ".")
	}
	done := map[policy.EventKind]string{policy.EventAcknowledge: "Acknowledged", policy.EventResolve: "Resolved", policy.EventEscalate: "Escalated"}[kind]
	return reply(fmt.Sprintf("pagerd: %s [%s] %s: %s (code %s).", done, inc.State.Priority, inc.Service, inc.Summary, twilio.ReplyCode(inc.ID)))
}

// latestPagedBySMS finds what was most recently paged to the user by SMS
// among open incidents: an incident, or the alert-storm bundle its page went
// out in; with a reply code, the one with that code.
func (s *Server) latestPagedBySMS(ctx context.Context, user, code string) (string, error) {
	open, err := s.store.List(ctx, store.Filter{Limit: 1000})
	if err != nil {
		return "", err
	}
	best, bestAt := "", time.Time{}
	for _, inc := range open {
		if !inc.Open() {
			continue
		}
		tl, err := s.store.Timeline(ctx, inc.ID)
		if err != nil {
			return "", err
		}
		for _, e := range tl {
			if e.Type != "notify" || e.User != user || e.Channel != policy.ChannelSMS || !e.At.After(bestAt) {
				continue
			}
			id := inc.ID
			if e.Bundle != "" {
				id = e.Bundle
			}
			if code == "" || twilio.ReplyCode(id) == code {
				best, bestAt = id, e.At
			}
		}
	}
	return best, nil
}

// twiML answers Twilio with a voice document.
func twiML(c echo.Context, verbs ...twiml.Element) error {
	doc, err := twiml.Voice(verbs)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "application/xml", []byte(doc))
}

// callURL is the daemon's URL for a call step, with the call's query.
func (s *Server) callURL(c echo.Context, path string) string {
	return strings.TrimRight(s.Config().Server.PublicURL, "/") + "/api/v1/twilio/" + path + "?" + c.Request().URL.RawQuery
}

// twilioVoice is what a page call says when answered: the priority, service
// and summary, then it gathers one digit: 4 acknowledge, 5 escalate,
// 6 resolve, * repeat (PagerDuty's and GoAlert's digits). A voicemail
// pickup (answering-machine detection) is recorded and the call hangs up:
// it is never an acknowledgement, and the ladder goes on.
func (s *Server) twilioVoice(c echo.Context) error {
	if err := s.verifyTwilio(c); err != nil {
		return err
	}
	r := c.Request()
	q := r.URL.Query()
	if answered := r.PostForm.Get("AnsweredBy"); strings.HasPrefix(answered, "machine") || answered == "fax" {
		e := store.Entry{At: s.clock(), Type: "delivery", User: q.Get("user"), Channel: "voice", Detail: "voicemail pickup (" + answered + "), not a page answered"}
		if err := s.note(r.Context(), q.Get("incident"), e); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return twiML(c, twiml.VoiceHangup{})
	}
	say, err := s.callText(r.Context(), q.Get("incident"))
	if errors.Is(err, store.ErrNotFound) {
		return twiML(c, twiml.VoiceSay{Message: "This pagerd incident no longer exists. Goodbye."}, twiml.VoiceHangup{})
	}
	if err != nil {
		return err
	}
	return twiML(c,
		twiml.VoiceGather{NumDigits: "1", Action: s.callURL(c, "voice/gather"), Method: "POST", Timeout: "10",
			InnerElements: []twiml.Element{twiml.VoiceSay{Message: say + " Press 4 to acknowledge, 5 to escalate, 6 to resolve, or star to repeat."}}},
		twiml.VoiceSay{Message: "No key was pressed. Goodbye."}, twiml.VoiceHangup{})
}

// callText is what a call says about an incident, or about the incidents
// of an alert-storm bundle (whose keys act on all of them).
func (s *Server) callText(ctx context.Context, id string) (string, error) {
	if store.IsBundleID(id) {
		b, err := s.store.GetBundle(ctx, id)
		if err != nil {
			return "", err
		}
		statuses, err := s.store.Statuses(ctx, b.Incidents)
		if err != nil {
			return "", err
		}
		open := 0
		for _, st := range statuses {
			if st == policy.StatusTriggered {
				open++
			}
		}
		return fmt.Sprintf("This is pagerd, during an alert storm: %d incidents, %d of them not acknowledged. The most urgent, %s, on %s. Your key acts on all of them.",
			len(b.Incidents), open, spell(b.Priority), b.Top), nil
	}
	inc, err := s.store.Get(ctx, id)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("This is pagerd. %s incident on %s: %s. It is %s.", spell(inc.State.Priority), inc.Service, inc.Summary, inc.State.Status), nil
}

// spell makes a priority sayable ("P0" is "P 0", "SEV-1" is "SEV 1").
func spell(p string) string {
	return strings.Join(strings.Split(strings.ReplaceAll(p, "-", ""), ""), " ")
}

// twilioGather acts on the key pressed and says what happened.
func (s *Server) twilioGather(c echo.Context) error {
	if err := s.verifyTwilio(c); err != nil {
		return err
	}
	r := c.Request()
	q := r.URL.Query()
	kinds := map[string]policy.EventKind{"4": policy.EventAcknowledge, "5": policy.EventEscalate, "6": policy.EventResolve}
	digit := r.PostForm.Get("Digits")
	kind, ok := kinds[digit]
	if !ok {
		msg := "Sorry, that key does nothing."
		if digit == "*" {
			msg = "Again."
		}
		return twiML(c, twiml.VoiceSay{Message: msg}, twiml.VoiceRedirect{Url: s.callURL(c, "voice"), Method: "POST"})
	}
	user := q.Get("user")
	if s.Config().User(user) == nil {
		return twiML(c, twiml.VoiceSay{Message: "This call is for someone pagerd no longer knows. Goodbye."}, twiml.VoiceHangup{})
	}
	if id := q.Get("incident"); store.IsBundleID(id) {
		out, err := s.actOnBundle(r.Context(), id, user, policy.Event{Kind: kind})
		switch {
		case errors.Is(err, store.ErrNotFound):
			return twiML(c, twiml.VoiceSay{Message: "This alert-storm message is no longer kept. Goodbye."}, twiml.VoiceHangup{})
		case err != nil:
			return err
		}
		return twiML(c, twiml.VoiceSay{Message: out.describe(kind) + ". Goodbye."}, twiml.VoiceHangup{})
	}
	inc, acts, err := s.apply(r.Context(), q.Get("incident"), policy.Event{Kind: kind, Actor: user})
	var msg string
	switch {
	case errors.Is(err, errAlreadyResolved):
		msg = "Already resolved" + by(inc.State.ResolvedBy) + "."
	case errors.Is(err, store.ErrNotFound):
		msg = "This incident no longer exists."
	case err != nil:
		return err
	case len(acts) == 0 && kind == policy.EventAcknowledge:
		msg = "Already acknowledged" + by(inc.State.AcknowledgedBy) + "."
	default:
		msg = map[policy.EventKind]string{policy.EventAcknowledge: "Acknowledged.", policy.EventEscalate: "Escalated to the next level.",
			policy.EventResolve: "Resolved."}[kind]
	}
	return twiML(c, twiml.VoiceSay{Message: msg + " Goodbye."}, twiml.VoiceHangup{})
}
