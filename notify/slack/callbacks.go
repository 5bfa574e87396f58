package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/pagerd/pagerd/notify"
)

// Where Slack's requests are received: the app's Interactivity request URL
// and the /oncall slash command's request URL.
const (
	InteractionsPath = "/api/v1/slack/interactions"
	CommandsPath     = "/api/v1/slack/commands"
)

// Shift is one holder of a tier, for /oncall.
type Shift struct {
	Schedule, Tier, User, Name string
	From, Until                time.Time
	// Override says an override put them there (its reason).
	Override string
}

// OnCall is who is on call now, and who comes next, tier by tier.
type OnCall struct {
	Now, Next []Shift
}

// Callbacks answers Slack's requests to the daemon. Every request is
// checked against the signing secret first (a timestamp within five
// minutes and an HMAC compared in constant time: slack.SecretsVerifier);
// anything else is refused with 401 before it is read for meaning.
type Callbacks struct {
	Receiver notify.Receiver
	// Secret reads the signing secret in force; empty means Slack is not
	// configured, and the callbacks answer 404.
	Secret func() string
	// Client reads the Web API client in force, for the answers only the
	// presser sees.
	Client func() *Client
	// OnCall answers /oncall [schedule].
	OnCall func(ctx context.Context, schedule string) (OnCall, error)
	Logger *slog.Logger
	// Now is the clock (default time.Now): a signed request refused is
	// logged at warn at most once a minute (notify.RefusedCallbacks).
	Now func() time.Time

	refused notify.RefusedCallbacks
}

// verified reads the body of a request signed by Slack, or refuses it.
func (cb *Callbacks) verified(r *http.Request) ([]byte, error) {
	secret := cb.Secret()
	if secret == "" {
		return nil, &notify.RequestError{Status: http.StatusNotFound, Msg: "Slack is not configured (notifiers.slack)"}
	}
	body, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, &notify.RequestError{Status: http.StatusRequestEntityTooLarge, Msg: "request body over the limit"}
	}
	if err != nil {
		return nil, &notify.RequestError{Status: http.StatusBadRequest, Msg: "reading the request body failed"}
	}
	sv, err := slack.NewSecretsVerifier(r.Header, secret)
	if err == nil {
		_, _ = sv.Write(body)
		err = sv.Ensure()
	}
	if err != nil {
		// One answer for missing, stale and wrong signatures: the request
		// is not Slack's. One that carries a signature may well be, made
		// with a signing secret pagerd no longer has, or stamped by a
		// clock more than five minutes off this host's: then every button
		// press is refused, acknowledgements among them, and whoever runs
		// pagerd must hear of it. Unsigned ones are strangers'.
		if r.Header.Get("X-Slack-Signature") != "" {
			now := time.Now
			if cb.Now != nil {
				now = cb.Now
			}
			cb.refused.Log(cb.log(), r, now(), "slack: a signed request was refused (401): its X-Slack-Signature does not verify with notifiers.slack.signing_secret, "+
				"or its timestamp is over 5 minutes off this host's clock; if it was Slack's, buttons (acknowledge among them) and /oncall fail: "+
				"set the app's signing secret as notifiers.slack.signing_secret, or fix this host's clock", "err", err)
		}
		return nil, &notify.RequestError{Status: http.StatusUnauthorized, Msg: "bad, stale or missing Slack signature (X-Slack-Signature, X-Slack-Request-Timestamp)"}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

func (cb *Callbacks) log() *slog.Logger {
	if cb.Logger == nil {
		return slog.Default()
	}
	return cb.Logger
}

// Interactions answers a button press: Acknowledge, Escalate or Resolve on
// an incident's channel message or a page, acting as the pagerd user whose
// slack_user the presser is. A Slack user pagerd does not know is told so,
// in a message only they see, and nothing changes. Slack is answered 200
// for anything signed, so it does not retry; what happened is told to the
// presser, and the incident's channel message is updated by the outbox.
func (cb *Callbacks) Interactions(w http.ResponseWriter, r *http.Request) error {
	if _, err := cb.verified(r); err != nil {
		return err
	}
	ic, err := slack.InteractionCallbackParse(r)
	if err != nil {
		return &notify.RequestError{Status: http.StatusBadRequest, Msg: "not a Slack interaction payload"}
	}
	// Slack wants its answer within 3 seconds, and the action and the
	// reply to the presser can take longer: the (empty, complete) answer
	// goes now. The work then runs on a context of its own, since Slack
	// may close the connection once answered, which ends the request's.
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	if err := http.NewResponseController(w).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		cb.log().Warn("slack: the answer to a button press was not sent", "err", err)
	}
	if ic.Type != slack.InteractionTypeBlockActions {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), actTimeout)
	defer cancel()
	for _, a := range ic.ActionCallback.BlockActions {
		name, ok := strings.CutPrefix(a.ActionID, actionPrefix)
		if !ok {
			continue
		}
		action := notify.Action(name)
		switch action {
		case notify.Acknowledge, notify.Escalate, notify.Resolve:
		default:
			continue
		}
		cb.act(ctx, ic, action, a.Value)
	}
	return nil
}

// actTimeout bounds a button's actions and the replies to the presser,
// once Slack has its answer.
const actTimeout = 10 * time.Second

// act does one button's action and tells the presser what happened.
func (cb *Callbacks) act(ctx context.Context, ic slack.InteractionCallback, action notify.Action, target string) {
	user := cb.Receiver.UserByAddress("slack", ic.User.ID)
	var say string
	failed := true
	if user == "" {
		cb.log().Warn("slack button pressed by a Slack user pagerd does not know; refused", "slack_user", ic.User.ID, "action", action)
		say = fmt.Sprintf("Your Slack account (%s) is not linked to a pagerd user, so pagerd cannot act as you: ask whoever runs pagerd to set slack_user: %s on your user.", ic.User.ID, ic.User.ID)
	} else {
		page := ParseButtonValue(target)
		ack, ofPage := ParseAckValue(target)
		target = page.Target
		var acted notify.Acted
		var err error
		switch {
		case action == notify.Escalate:
			// From the level the message showed, as of when it showed
			// it: a double click, or two people clicking one message,
			// escalates once, at the last level too.
			acted, err = cb.Receiver.EscalateFrom(ctx, user, page)
		case action == notify.Acknowledge && ofPage:
			// A page's button, pressed after the incident was reopened
			// (escalated, raised) since the page went out, must not stop
			// the pages of the reopen: the person never saw them.
			target = ack.Target
			acted, err = cb.Receiver.AcknowledgePage(ctx, user, ack)
		default:
			acted, err = cb.Receiver.Act(ctx, target, user, action)
		}
		say = describe(action, acted, err)
		// Not applied is told as a failure is: the presser believes it
		// worked.
		failed = err != nil || acted.ReopenedSince
		if err != nil && !errors.Is(err, notify.ErrNotFound) {
			cb.log().Error("slack button failed", "incident", target, "user", user, "action", action, "err", err)
		}
	}
	// say names the incident's summary, which an alert wrote: no markup.
	say = escape(say)
	if !failed {
		if err := cb.Client().ephemeral(ctx, ic.Channel.ID, ic.User.ID, say); err != nil {
			cb.log().Warn("slack: the answer to a button press was not shown", "slack_user", ic.User.ID, "err", err)
		}
		return
	}
	cb.tellFailure(ctx, ic, action, target, say)
}

// tellFailure tells the presser that their press did nothing, since
// untold they believe it worked: through the interaction's response_url
// first, which Slack shows them wherever they pressed, then through
// chat.postEphemeral when there is none or it fails (expired after 30
// minutes, used 5 times), which needs them in the channel and the app
// allowed to message them. Unseen either way, it is logged at Error.
func (cb *Callbacks) tellFailure(ctx context.Context, ic slack.InteractionCallback, action notify.Action, target, say string) {
	c := cb.Client()
	var err error
	if ic.ResponseURL != "" {
		if err = c.respond(ctx, ic.ResponseURL, say); err == nil {
			return
		}
		cb.log().Warn("slack: the failure of a button press not shown through its response_url; trying chat.postEphemeral",
			"slack_user", ic.User.ID, "err", err)
	}
	if err := c.ephemeral(ctx, ic.Channel.ID, ic.User.ID, say); err != nil {
		cb.log().Error("slack: the presser was not told that their button press did nothing; they may believe it worked",
			"slack_user", ic.User.ID, "incident", target, "action", action, "err", err, "slack_error", ErrorCode(err))
	}
}

var pastTense = map[notify.Action]string{notify.Acknowledge: "Acknowledged", notify.Escalate: "Escalated", notify.Resolve: "Resolved"}

// describe says what a button did, for the presser.
func describe(action notify.Action, a notify.Acted, err error) string {
	switch {
	case errors.Is(err, notify.ErrStormGone):
		return "That alert-storm message is no longer kept; act on its incidents one by one."
	case errors.Is(err, notify.ErrNotFound):
		return "That incident is no longer kept."
	case err != nil:
		// As every channel says it: a retry only where one can help and
		// do no harm, never the error's text but a refusal's.
		return notify.NotRecordedAnswer("Your "+action.Noun(), err)
	case a.Storm != "":
		return a.Storm + "."
	case a.ReopenedSince:
		return fmt.Sprintf("[%s] %s: %s was reopened after this message was sent (escalated or raised since), so your acknowledgement was not applied and the pages since go on. Acknowledge its latest page, or the incident in its channel, to stop them.",
			a.Priority, a.Service, a.Summary)
	case a.AlreadyResolved:
		return fmt.Sprintf("[%s] %s: %s was already resolved%s.", a.Priority, a.Service, a.Summary, by(a.ResolvedBy))
	case a.AlreadyEscalated:
		s := fmt.Sprintf("[%s] %s: %s was already escalated to level %d", a.Priority, a.Service, a.Summary, a.Level)
		if a.LevelName != "" {
			s += " (" + a.LevelName + ")"
		}
		s += by(a.EscalatedBy)
		if !a.EscalatedAt.IsZero() {
			s += " at " + a.EscalatedAt.UTC().Format("15:04 UTC")
		}
		return s + "; nobody else was paged."
	case !a.Changed && action == notify.Acknowledge:
		return fmt.Sprintf("[%s] %s: %s was already acknowledged%s.", a.Priority, a.Service, a.Summary, by(a.AcknowledgedBy))
	case !a.Changed:
		return fmt.Sprintf("[%s] %s: %s: nothing to do.", a.Priority, a.Service, a.Summary)
	}
	return fmt.Sprintf("%s [%s] %s: %s.", pastTense[action], a.Priority, a.Service, a.Summary)
}

func by(who string) string {
	if who == "" {
		return ""
	}
	return " by " + who
}

// Command answers the /oncall slash command: who holds each tier now and
// until when, and who comes next; "/oncall NAME" asks about one schedule.
// Only the person who asked sees the answer.
func (cb *Callbacks) Command(w http.ResponseWriter, r *http.Request) error {
	if _, err := cb.verified(r); err != nil {
		return err
	}
	sc, err := slack.SlashCommandParse(r)
	if err != nil {
		return &notify.RequestError{Status: http.StatusBadRequest, Msg: "not a Slack slash command"}
	}
	oc, err := cb.OnCall(r.Context(), strings.TrimSpace(sc.Text))
	text := ""
	if err != nil {
		text = err.Error()
	} else {
		text = FormatOnCall(oc)
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(map[string]string{"response_type": "ephemeral", "text": text})
}

// FormatOnCall writes who is on call, and next, in Slack's mrkdwn.
func FormatOnCall(oc OnCall) string {
	if len(oc.Now) == 0 {
		return "Nobody is on call in pagerd's schedules."
	}
	next := map[string]Shift{}
	for _, s := range oc.Next {
		next[s.Schedule+"/"+s.Tier] = s
	}
	var b strings.Builder
	b.WriteString("*On call now*\n")
	sched := ""
	for _, s := range oc.Now {
		if s.Schedule != sched {
			sched = s.Schedule
			fmt.Fprintf(&b, "*%s*\n", escape(sched))
		}
		who := "nobody"
		if s.User != "" {
			who = escape(s.Name)
		}
		fmt.Fprintf(&b, "• %s: %s", escape(s.Tier), who)
		if !s.Until.IsZero() {
			fmt.Fprintf(&b, " until <!date^%d^{date_short_pretty} {time}|%s>", s.Until.Unix(), s.Until.UTC().Format("Mon Jan 2 15:04 UTC"))
		}
		if s.Override != "" {
			fmt.Fprintf(&b, " (override: %s)", escape(s.Override))
		}
		if n, ok := next[s.Schedule+"/"+s.Tier]; ok && n.User != "" {
			fmt.Fprintf(&b, "; next %s", escape(n.Name))
		}
		b.WriteString("\n")
	}
	return b.String()
}
