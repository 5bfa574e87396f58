package twilio

import (
	"cmp"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/twilio/twilio-go/client"
	"github.com/twilio/twilio-go/twiml"

	"github.com/pagerd/pagerd/internal/textcut"
	"github.com/pagerd/pagerd/notify"
)

// The callbacks' paths under the daemon's public URL.
const (
	StatusPath = CallbackPath + "/status"
	SMSPath    = CallbackPath + "/sms"
	VoicePath  = CallbackPath + "/voice"
	GatherPath = CallbackPath + "/voice/gather"
)

// Settings are what the callbacks need of the config in force: the auth
// token Twilio signs with and the public URL it calls. Both empty means
// the callbacks are not configured, and they answer 404.
type Settings struct {
	AuthToken string
	// PreviousAuthToken, set while the auth token is rotated, is the
	// token Twilio signs with until the new one (AuthToken) is promoted
	// in the Twilio Console: a callback signed with it is taken too.
	PreviousAuthToken string
	PublicURL         string
}

// Callbacks answers Twilio's requests to the daemon. Each handler checks
// the signature first, then acts through the Receiver only.
type Callbacks struct {
	Receiver notify.Receiver
	// Settings reads the config in force (it changes on reload).
	Settings func() Settings
	// Logger records what a person was told pagerd could not do (default
	// slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now): a refused signature is logged
	// at warn once a minute (refusedSignature).
	Now func() time.Time

	// warned holds, for each kind of refused signature (another URL, a
	// wrong one), when it was last logged at warn and how many were
	// refused since; the third, callbacks taken by the previous token.
	warned [3]warnedAt
}

// previousSigned is warned's kind for a callback signed with the
// previous auth token.
const previousSigned = 2

// warnedAt is when a kind of refused callback was last logged at warn,
// and how many of it were refused since.
type warnedAt struct {
	mu     sync.Mutex
	at     time.Time
	missed int
}

// due reports whether a refused callback of this kind is logged at warn
// now (none was in the minute before), and how many were refused without
// a warn line since the last one.
func (w *warnedAt) due(now time.Time) (bool, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.at.IsZero() && now.Sub(w.at) < time.Minute {
		w.missed++
		return false, 0
	}
	missed := w.missed
	w.at, w.missed = now, 0
	return true, missed
}

func (cb *Callbacks) log() *slog.Logger {
	if cb.Logger == nil {
		return slog.Default()
	}
	return cb.Logger
}

// notRecorded is what a person is told when pagerd could not store what
// they did. Twilio neither retries an incoming-message webhook that fails
// nor sends anything back, and for a call's keypress it plays a generic
// "application error" and hangs up: a 5xx would leave the person who
// texted "4" believing it worked. So they are told, in an answer Twilio
// delivers, that it did not (or may not have) worked, and why, in the
// words every channel uses (notify.NotRecorded); the failure is logged for
// whoever runs pagerd. again says whether trying again can help.
func (cb *Callbacks) notRecorded(what, user, target string, err error) (text string, again bool) {
	cb.log().Error("twilio: "+what+" not recorded; the person was told so", "user", user, "incident", target, "err", err)
	return notify.NotRecorded(err)
}

// replyNotRecorded is the SMS answer to a reply that could not be stored
// (notRecorded); which names the incident, when the reply got that far.
func (cb *Callbacks) replyNotRecorded(which, user, target string, err error) string {
	text, again := cb.notRecorded("SMS reply", user, target, err)
	if !again {
		return "pagerd: your reply" + which + " " + text + "."
	}
	return "pagerd: your reply" + which + " " + text + ": reply again in a minute, or use the link in the page."
}

// verify checks X-Twilio-Signature with client.RequestValidator against
// the URL Twilio called: the configured public URL plus the path and
// query, with the POSTed form. Anything else is refused before it is read
// for meaning.
func (cb *Callbacks) verify(r *http.Request) error {
	st := cb.Settings()
	if st.AuthToken == "" || st.PublicURL == "" {
		return &notify.RequestError{Status: http.StatusNotFound, Msg: "Twilio callbacks are not configured (notifiers.twilio and server.public_url)"}
	}
	if err := r.ParseForm(); err != nil {
		return &notify.RequestError{Status: http.StatusBadRequest, Msg: fmt.Sprintf("form: %v", err)}
	}
	params := map[string]string{}
	for k, v := range r.PostForm {
		if len(v) > 0 {
			params[k] = v[0]
		}
	}
	rvs := []client.RequestValidator{client.NewRequestValidator(st.AuthToken)}
	if st.PreviousAuthToken != "" {
		rvs = append(rvs, client.NewRequestValidator(st.PreviousAuthToken))
	}
	want := strings.TrimRight(st.PublicURL, "/") + r.URL.RequestURI()
	sig := r.Header.Get("X-Twilio-Signature")
	for i, rv := range rvs {
		if rv.Validate(want, params, sig) {
			if i > 0 {
				cb.previousSigned(r)
			}
			return nil
		}
	}
	if sig != "" {
		cb.refusedSignature(r, rvs, params, sig)
	}
	return &notify.RequestError{Status: http.StatusForbidden, Msg: "bad or missing X-Twilio-Signature"}
}

// previousSigned logs a callback taken by its signature with
// notifiers.twilio.previous_auth_token, once a minute at info (with how
// many since): the rotation is half done, and once the new token is
// promoted in the Twilio Console these lines stop, which says the
// previous token can go from the config.
func (cb *Callbacks) previousSigned(r *http.Request) {
	args := []any{"path", r.URL.Path}
	due, missed := cb.warned[previousSigned].due(cb.now())
	if !due {
		return
	}
	if missed > 0 {
		args = append(args, "taken_since_last_line", missed)
	}
	cb.log().Info("twilio: a callback signed with notifiers.twilio.previous_auth_token was taken: Twilio signs with it until the new auth_token is promoted "+
		"in the Twilio Console; once these lines stop, remove previous_auth_token", args...)
}

func (cb *Callbacks) now() time.Time {
	if cb.Now != nil {
		return cb.Now()
	}
	return time.Now()
}

// refusedSignature logs a signed callback refused, at warn: Twilio takes
// the 403 of an SMS reply silently, so the person who texted "4" hears
// nothing, and only this line tells whoever runs pagerd that every reply
// is refused. The usual cause is the number's incoming-message webhook
// set to a URL other than server.public_url's (another host name, http
// for https behind a proxy): Twilio signs the URL it calls. When the
// signature is right for the URL the request came to, the line names it.
// Anyone who finds the URL can send badly signed requests, so each kind
// is logged at warn once a minute, saying how many more were refused
// since; the others at debug.
func (cb *Callbacks) refusedSignature(r *http.Request, rvs []client.RequestValidator, params map[string]string, sig string) {
	warn := func(kind int, msg string) {
		level := slog.LevelDebug
		args := []any{"path", r.URL.Path}
		if due, missed := cb.warned[kind].due(cb.now()); due {
			level = slog.LevelWarn
			if missed > 0 {
				args = append(args, "refused_since_last_warning", missed)
			}
		}
		cb.log().Log(r.Context(), level, msg, args...)
	}
	path := strings.TrimRight(cb.Settings().PublicURL, "/") + r.URL.Path
	for _, host := range []string{r.Header.Get("X-Forwarded-Host"), r.Host} {
		for _, scheme := range []string{"https", "http"} {
			if host == "" {
				continue
			}
			u := scheme + "://" + host + r.URL.RequestURI()
			if slices.ContainsFunc(rvs, func(rv client.RequestValidator) bool { return rv.Validate(u, params, sig) }) {
				warn(0, "twilio: a callback signed for another URL was refused: Twilio called "+scheme+"://"+host+r.URL.Path+
					", and pagerd checks signatures against server.public_url's "+path+"; point the Twilio number's webhook at it, or set server.public_url to what Twilio calls")
				return
			}
		}
	}
	warn(1, "twilio: a callback whose X-Twilio-Signature is wrong was refused; if it was Twilio's, its webhook URL is not "+path+
		" (server.public_url) or the auth token is not notifiers.twilio.auth_token (while it is rotated, set previous_auth_token to the primary token Twilio still signs with)")
}

// Status records an SMS's final delivery status (delivered, undelivered,
// failed) or a call's (completed, busy, no-answer, failed, canceled) in the
// incident's timeline; a page that did not arrive brings the person's next
// step forward to now, so the ladder goes on, and counts as one nobody
// was reached by (notify.Delivery.Unreached): when every page of the
// level failed so, the next level is paged at once. Twilio is answered 204 for
// anything signed, so it does not retry.
func (cb *Callbacks) Status(w http.ResponseWriter, r *http.Request) error {
	if err := cb.verify(r); err != nil {
		return err
	}
	status := r.PostForm.Get("MessageStatus")
	if status == "" {
		status = r.PostForm.Get("CallStatus")
	}
	switch status {
	case "delivered", "undelivered", "failed", "completed", "busy", "no-answer", "canceled":
	default:
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if status == "completed" && voicemail(r.PostForm.Get("AnsweredBy")) {
		// Recorded, counted and the next step brought forward when the
		// voicemail picked up (Voice): its end is no page delivered.
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	q := r.URL.Query()
	detail := status
	if code := r.PostForm.Get("ErrorCode"); code != "" {
		detail += " (Twilio error " + code + ")"
	}
	d := notify.Delivery{User: q.Get("user"), Channel: q.Get("channel"), Detail: detail,
		Failed: status != "delivered" && status != "completed", PageAt: sentAt(q),
		Ref: cmp.Or(r.PostForm.Get("CallSid"), r.PostForm.Get("MessageSid"))}
	// Nothing of the page reached the person: an SMS the carrier did not
	// deliver, a call that did not connect or that nobody answered. A
	// call cancelled was cancelled by pagerd after an acknowledgement.
	d.Unreached = d.Failed && status != "canceled"
	if err := cb.Receiver.Delivered(r.Context(), q.Get("incident"), d); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// sentAt is when the page a callback is about went out, as its URL's at
// carries it (Notifier.Notify); zero when it does not (a storm message's,
// or a URL given before pages carried it).
func sentAt(q url.Values) time.Time {
	ms, err := strconv.ParseInt(q.Get("at"), 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// parseSMSReply reads what a person texts back: an action, and optionally
// the reply code of the incident it is about. It reads what phones and
// carriers really send: only the first line (a carrier or an app may add
// a signature below), punctuation around the words ("Ack!", "4."),
// full-width forms and other scripts' digits ("４", "٤"), the keycap
// emoji ("4️⃣") and invisible characters (visibleASCIIForm), the code run
// into the action ("4AB12") and Crockford's look-alikes in it (O for 0,
// I and L for 1). Anything more than the action and a code is not read as
// an action: "4 on it" might not mean what "4" does.
func parseSMSReply(body string) (notify.Action, string, bool) {
	line := ""
	for _, l := range strings.FieldsFunc(body, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if strings.TrimSpace(l) != "" {
			line = l
			break
		}
	}
	var f []string
	for _, w := range strings.FieldsFunc(strings.ToLower(strings.Map(visibleASCIIForm, line)), func(r rune) bool { return unicode.IsSpace(r) || r == ',' }) {
		if w = strings.TrimFunc(w, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) }); w != "" {
			f = append(f, w)
		}
	}
	if len(f) == 1 && len(f[0]) == 5 && strings.ContainsRune("456", rune(f[0][0])) {
		f = []string{f[0][:1], f[0][1:]}
	}
	if len(f) == 0 || len(f) > 2 {
		return "", "", false
	}
	var a notify.Action
	switch f[0] {
	case "4", "ack", "acknowledge":
		a = notify.Acknowledge
	case "6", "resolve":
		a = notify.Resolve
	case "5", "escalate":
		a = notify.Escalate
	default:
		return "", "", false
	}
	code := ""
	if len(f) == 2 {
		code = strings.NewReplacer("O", "0", "I", "1", "L", "1").Replace(strings.ToUpper(f[1]))
	}
	return a, code, true
}

// visibleASCIIForm is asciiForm of what a person sees: the keycap emoji
// 4️⃣ is a 4 (its emoji selector and enclosing keycap, marks, are
// dropped), and so is a 4 next to the invisible characters a keyboard or
// a paste leaves (a zero-width space, a byte-order mark, a bidirectional
// isolate: format characters). Answered with the help, the person who
// replied what looks like "4" could not tell what was wrong.
func visibleASCIIForm(r rune) rune {
	if unicode.In(r, unicode.Cf, unicode.Mn, unicode.Me) {
		return -1
	}
	return asciiForm(r)
}

// asciiForm maps a full-width character to its ASCII form and any decimal
// digit to its ASCII digit; other runes are kept.
func asciiForm(r rune) rune {
	if r >= 0xFF01 && r <= 0xFF5E {
		return r - 0xFEE0
	}
	if r < 0x80 || !unicode.Is(unicode.Nd, r) {
		return r
	}
	// Unicode keeps every script's decimal digits in runs of ten, 0 to 9,
	// some runs next to others: the digit is the offset in its run.
	zero := r
	for unicode.Is(unicode.Nd, zero-1) {
		zero--
	}
	return '0' + (r-zero)%10
}

const smsHelp = "pagerd: reply 4 (ack), 6 (resolve) or 5 (escalate), optionally followed by the incident's code, e.g. \"4 AB12\"."

// digit is the reply that asks for an action, for an answer's example.
var digit = map[notify.Action]string{notify.Acknowledge: "4", notify.Resolve: "6", notify.Escalate: "5"}

// done is how an answer names an action done.
var done = map[notify.Action]string{notify.Acknowledge: "Acknowledged", notify.Resolve: "Resolved", notify.Escalate: "Escalated"}

// SMS receives SMS replies (Twilio's incoming-message webhook,
// signature-checked): 4/ack, 6/resolve or 5/escalate, alone (the latest
// incident that number was paged for) or with a reply code. A number acts
// only on incidents it was paged for, as the person it belongs to: by
// SMS, or, when it is nobody's SMS contact, by call (a missed call
// answered by text). The answer is TwiML with one message saying what
// happened.
func (cb *Callbacks) SMS(w http.ResponseWriter, r *http.Request) error {
	if err := cb.verify(r); err != nil {
		return err
	}
	reply := func(text string) error {
		// Twilio sends no message over MaxSMS (error 21617), nor says
		// so to the person: named cuts the summary, and this the rest
		// (a service's or a person's name of hundreds of characters).
		text = textcut.UTF16(text, MaxSMS, textcut.Ellipsis)
		w.Header().Set("Content-Type", "application/xml")
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(text))
		w.WriteHeader(http.StatusOK)
		_, err := w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Response><Message>` + b.String() + `</Message></Response>`))
		return err
	}
	// The pages a reply answers: the number's SMS pages, or, for a
	// number that is nobody's SMS contact, its calls. A person paged by
	// call alone who missed it texts "4" back to the number that rang:
	// told "not on call here", which was false, nothing was acknowledged
	// and the ladder went on to the next level.
	channel := "sms"
	users := cb.Receiver.UsersByAddress(channel, r.PostForm.Get("From"))
	if len(users) == 0 {
		channel = "voice"
		users = cb.Receiver.UsersByAddress(channel, r.PostForm.Get("From"))
	}
	if len(users) == 0 {
		return reply("pagerd: this number is not on call here.")
	}
	action, code, ok := parseSMSReply(r.PostForm.Get("Body"))
	if !ok {
		return reply(smsHelp)
	}
	// Twilio's signature carries no time: a captured reply verifies for
	// ever, and a bare one acts on the number's latest page, which by the
	// time it is sent again may be another incident's. Each message Twilio
	// takes has a SID of its own; one seen before acts on nothing.
	if sid := r.PostForm.Get("MessageSid"); sid != "" {
		first, err := cb.Receiver.FirstAnswer(r.Context(), "twilio-sms:"+sid)
		if err != nil {
			return reply(cb.replyNotRecorded("", users[0], "", err))
		}
		if !first {
			cb.log().Warn("twilio: an SMS reply already answered came again (a captured request sent again?); nothing was done",
				"user", users[0], "message_sid", sid)
			return reply("pagerd: this reply was answered already; nothing was done.")
		}
	}
	// The number may be several people's: each one's latest page that
	// the reply can mean, and as whom to act on it: the person whose page
	// of it came last (the first in config order at the same moment),
	// the SMS the phone shows last. One person in two roles answers the
	// second level's SMS as the second level, not as the first, whose
	// page came half an hour before: a 5 to it escalated nothing.
	matched := map[string]bool{}
	latest := map[string]string{}
	paged := map[string]notify.Page{}
	var targets []string
	// tied are the targets paged at the same moment as someone's latest
	// page, that one included: a bare reply cannot say which it means.
	tied := map[string]bool{}
	for _, u := range users {
		// A bare reply passes over an SMS reported undelivered, never
		// seen; not over a call reported unanswered: the phone rang,
		// and that missed call is what the person answers.
		page, err := cb.Receiver.LastPaged(r.Context(), u, channel, code == "" && channel == "sms", func(id string) bool {
			if code == "" {
				return true
			}
			if !MatchesCode(id, code) {
				return false
			}
			matched[id] = true
			return true
		})
		if err != nil {
			return reply(cb.replyNotRecorded("", u, "", err))
		}
		if prev, seen := paged[page.Target]; page.Target != "" && (!seen || page.At.After(prev.At)) {
			if !seen {
				targets = append(targets, page.Target)
			}
			latest[page.Target] = u
			paged[page.Target] = page
		}
		if code == "" && len(page.Tied) > 0 {
			tied[page.Target] = true
			for _, t := range page.Tied {
				tied[t] = true
			}
		}
	}
	switch {
	case len(matched) > 1:
		// A code is four characters of an id: two open incidents paged to
		// this number can share it. Acting on the newest might stop the
		// paging of the one the person did not look at.
		return reply(fmt.Sprintf("pagerd: code %s matches %d incidents paged to this number; nothing was done. "+
			"Reply with more of the incident id from the page, e.g. \"4\" and its last 8 characters.", code, len(matched)))
	case len(targets) == 0 && code != "":
		return reply(cb.noOpenIncident(r, users, channel, code))
	case len(targets) == 0:
		return reply(cb.noOpenPage(r, users, channel))
	case len(tied) > 0:
		// "The latest page" is a coin toss the person cannot see: two
		// pages came at the same moment, and their phone may show them
		// in either order. Acting on one might stop the paging of the
		// other, which nobody looked at.
		codes := make([]string, 0, len(tied))
		for t := range tied {
			codes = append(codes, ReplyCode(t))
		}
		sort.Strings(codes)
		return reply(fmt.Sprintf("pagerd: %d incidents were paged to this number at the same moment; nothing was done. "+
			"Reply with the code of the one you mean, e.g. \"%s %s\": %s.", len(codes), digit[action], codes[0], strings.Join(codes, ", ")))
	case len(targets) > 1:
		// Different people on this number were paged last for different
		// incidents: which one the reply means only its code can say.
		return reply(fmt.Sprintf("pagerd: this number is %d people's, paged for different incidents; nothing was done. "+
			"Reply with the incident's code, e.g. \"%s %s\".", len(users), digit[action], ReplyCode(targets[0])))
	}
	id := targets[0]
	user := latest[id]
	if code == "" {
		// The person's latest page may be of an incident resolved since
		// (which LastPaged, among open incidents, does not see): a bare
		// reply to it must not act on an older open one, which they may
		// never have looked at.
		if newer, ok := cb.resolvedSince(r, users, channel, paged[id]); ok {
			return reply("pagerd: your latest page, " + named(newer) + ", was already resolved" + by(newer.ResolvedBy) + at(newer.ResolvedAt) +
				"; nothing was done. To act on another incident, reply with its code, e.g. \"" + digit[action] + " " + ReplyCode(id) + "\".")
		}
	}
	var acted notify.Acted
	var err error
	if action == notify.Escalate {
		// From the level of the page answered: a "5" resent because the
		// answer seemed slow must not escalate past the next level.
		acted, err = cb.Receiver.EscalateFrom(r.Context(), user, paged[id])
	} else if action == notify.Acknowledge {
		// As the answer to the SMS it replies to: sent before the
		// incident was reopened (escalated, raised) since, it must not
		// stop the pages of the reopen.
		acted, err = cb.Receiver.AcknowledgePage(r.Context(), user, paged[id])
	} else {
		acted, err = cb.Receiver.Act(r.Context(), id, user, action)
	}
	switch {
	case errors.Is(err, notify.ErrStormGone):
		return reply("pagerd: that alert-storm message is no longer kept; reply with each incident's code.")
	case errors.Is(err, notify.ErrNotFound):
		return reply("pagerd: that incident is no longer kept.")
	case err != nil:
		return reply(cb.replyNotRecorded(" (code "+ReplyCode(id)+")", user, id, err))
	case acted.Storm != "":
		return reply(fmt.Sprintf("pagerd: %s (code %s).", acted.Storm, ReplyCode(id)))
	}
	// Every answer names the incident: a reply without a code acts on
	// the latest page, which the person may not know.
	named := named(acted)
	switch {
	case acted.ReopenedSince:
		return reply("pagerd: " + named + " was reopened after the SMS you answered (escalated or raised since): your acknowledgement was NOT applied, and the pages since go on. Reply to its latest page to stop them.")
	case acted.AlreadyResolved:
		return reply("pagerd: " + named + " was already resolved" + by(acted.ResolvedBy) + at(acted.ResolvedAt) + "; nothing changed.")
	case acted.AlreadyEscalated:
		return reply("pagerd: " + named + " was " + alreadyEscalated(acted) + "; nobody else was paged.")
	case !acted.Changed && action == notify.Acknowledge:
		return reply("pagerd: " + named + " was already acknowledged" + by(acted.AcknowledgedBy) + at(acted.AcknowledgedAt) + "; nothing changed.")
	}
	return reply("pagerd: " + done[action] + " " + named + ".")
}

// noOpenIncident answers a reply whose code matches no open incident paged
// to the number. A person who replies to a page someone resolved since
// needs to hear that, by whom and when, not only that nothing open has
// the code: when exactly one incident paged to the number with the code
// was resolved in the last day, the answer says so; nothing is done to
// it. Reading the resolved incidents failing leaves the plain answer,
// which is still true.
func (cb *Callbacks) noOpenIncident(r *http.Request, users []string, channel, code string) string {
	plain := "pagerd: no open incident with code " + code + " was paged to this number."
	found := map[string]notify.Acted{}
	for _, u := range users {
		resolved, err := cb.Receiver.ResolvedPaged(r.Context(), u, channel, func(id string) bool { return MatchesCode(id, code) })
		if err != nil {
			cb.log().Warn("twilio: could not look for a resolved incident an SMS reply's code names", "user", u, "err", err)
			return plain
		}
		for _, a := range resolved {
			found[a.Incident] = a
		}
	}
	if len(found) != 1 {
		return plain
	}
	for _, a := range found {
		return "pagerd: " + named(a) + " was already resolved" + by(a.ResolvedBy) + at(a.ResolvedAt) + "; nothing changed."
	}
	return plain
}

// noOpenPage answers a reply without a code when no open incident was
// paged to the number. When the number's latest page (among the incidents
// resolved in the last day) was of one incident, resolved since, the answer
// says so, by whom and when: the person most likely answers that page, and
// "no open incident" alone leaves them wondering whether it took. Nothing
// is done to it. Pages of several incidents at that moment (a storm
// message, or two at once), or reading the resolved incidents failing,
// leave the plain answer, which is still true.
func (cb *Callbacks) noOpenPage(r *http.Request, users []string, channel string) string {
	plain := "pagerd: no open incident was paged to this number."
	paged, latest, ok := cb.resolvedPaged(r, users, channel)
	if !ok || latest.Incident == "" {
		return plain
	}
	for _, a := range paged {
		if a.Incident != latest.Incident && latest.PagedAt.Sub(a.PagedAt) < notify.SameMoment {
			return plain
		}
	}
	return "pagerd: your latest page, " + named(latest) + ", was already resolved" + by(latest.ResolvedBy) + at(latest.ResolvedAt) + "; nothing changed."
}

// resolvedSince finds the latest page to any of users on channel, if it is of
// an incident resolved since and went out after (or at the same moment as)
// the open page. A store that cannot say is taken as no: the reply acts
// as before, on the open incident it names. An incident resolved since
// whose latest page went in the open page's storm message is that page,
// not a later one: the message's other incidents still page, and a reply
// to it acts on them (it was answered "your latest page, [the one
// resolved], was already resolved; nothing was done").
func (cb *Callbacks) resolvedSince(r *http.Request, users []string, channel string, open notify.Page) (notify.Acted, bool) {
	paged, _, ok := cb.resolvedPaged(r, users, channel)
	if !ok {
		return notify.Acted{}, false
	}
	var latest notify.Acted
	for _, a := range paged {
		if a.PagedIn != open.Target && a.PagedAt.After(latest.PagedAt) {
			latest = a
		}
	}
	if latest.Incident == "" || open.At.Sub(latest.PagedAt) >= notify.SameMoment {
		return notify.Acted{}, false
	}
	return latest, true
}

// resolvedPaged lists the incidents resolved in the last day (whenever
// they were opened) that were paged to any of users on channel, and the one paged last;
// ok is false (logged) when the store could not say.
func (cb *Callbacks) resolvedPaged(r *http.Request, users []string, channel string) (paged []notify.Acted, latest notify.Acted, ok bool) {
	for _, u := range users {
		resolved, err := cb.Receiver.ResolvedPaged(r.Context(), u, channel, func(string) bool { return true })
		if err != nil {
			cb.log().Warn("twilio: could not look for the resolved incidents paged to the number a bare SMS reply came from", "user", u, "err", err)
			return nil, notify.Acted{}, false
		}
		paged = append(paged, resolved...)
	}
	for _, a := range paged {
		if a.PagedAt.After(latest.PagedAt) {
			latest = a
		}
	}
	return paged, latest, true
}

// named names the incident an answer is about: "[P0] api: disk full (code
// AB12)", its summary cut to answerSummary: the page carried it whole, and
// an answer over MaxSMS is never sent (SMS).
func named(a notify.Acted) string {
	return fmt.Sprintf("[%s] %s: %s (code %s)", a.Priority, a.Service, textcut.UTF16(a.Summary, answerSummary, textcut.Ellipsis), ReplyCode(a.Incident))
}

// answerSummary is how much of a summary, in UTF-16 units, an SMS answer
// repeats: enough to tell the incident from another, and room for the
// longest answer around it.
const answerSummary = 200

// alreadyEscalated says where an escalation found the incident, which had
// left the level escalated from: "already escalated to level 2 (second)
// by ann at 03:04 UTC".
func alreadyEscalated(a notify.Acted) string {
	s := fmt.Sprintf("already escalated to level %d", a.Level)
	if a.LevelName != "" {
		s += " (" + a.LevelName + ")"
	}
	return s + by(a.EscalatedBy) + at(a.EscalatedAt)
}

func by(actor string) string {
	if actor == "" {
		return ""
	}
	return " by " + actor
}

// at says when, for an answer: " at 03:04 UTC"; "" when not known.
func at(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return " at " + t.UTC().Format("15:04 UTC")
}

// twiML answers Twilio with a voice document.
func twiML(w http.ResponseWriter, verbs ...twiml.Element) error {
	doc, err := twiml.Voice(verbs)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write([]byte(doc))
	return err
}

// callURL is the daemon's URL for a call step, with the call's query.
func (cb *Callbacks) callURL(r *http.Request, path string) string {
	return strings.TrimRight(cb.Settings().PublicURL, "/") + path + "?" + r.URL.RawQuery
}

// Voice is what a page call says when answered: the priority, service and
// summary, then it gathers one digit: 4 acknowledge, 5 escalate, 6 resolve,
// * repeat (PagerDuty's and GoAlert's digits). A call answered after the
// incident was acknowledged (the cancel of a ringing call came too late)
// says by whom and when, and offers 5 and 6 alone: 4 would change
// nothing, while asking the next level for help and resolving still
// apply. One answered after it was resolved says by whom and when, and
// hangs up: no key can change anything. The same goes for an alert-storm
// message's call, whose keys act on all its incidents: none of them
// unacknowledged, it offers 5 and 6; all resolved, it hangs up. A voicemail pickup
// (answering-machine detection) is recorded as a page that did not reach
// the person and the call says what it was for and that it counts as not
// answered, then hangs up (voicemailText): it is never an
// acknowledgement, and their next step comes forward to now, as after a
// call not answered.
func (cb *Callbacks) Voice(w http.ResponseWriter, r *http.Request) error {
	if err := cb.verify(r); err != nil {
		return err
	}
	q := r.URL.Query()
	if answered := r.PostForm.Get("AnsweredBy"); voicemail(answered) {
		d := notify.Delivery{User: q.Get("user"), Channel: "voice", Detail: "voicemail pickup (" + answered + "), not a page answered", Failed: true,
			PageAt: sentAt(q), Ref: r.PostForm.Get("CallSid"), Unreached: true}
		if err := cb.Receiver.Delivered(r.Context(), q.Get("incident"), d); err != nil {
			// A 5xx would have Twilio play "application error" into
			// the person's voicemail, and Twilio does not ask again:
			// the call hangs up as it would have, and whoever runs
			// pagerd hears of it (readiness counted the refused write
			// in the store). Only the timeline lacks the entry; the
			// ladder goes on either way.
			cb.log().Error("twilio: voicemail pickup not recorded; the call hung up as it would have",
				"incident", q.Get("incident"), "user", q.Get("user"), "err", err)
		}
		return twiML(w, twiml.VoiceSay{Message: voicemailText(q)}, twiml.VoiceHangup{})
	}
	about, err := cb.Receiver.About(r.Context(), q.Get("incident"))
	if errors.Is(err, notify.ErrNotFound) {
		return twiML(w, twiml.VoiceSay{Message: "This pagerd incident no longer exists. Goodbye."}, twiml.VoiceHangup{})
	}
	text, keys := "", "Press 4 to acknowledge, 5 to escalate, 6 to resolve, or star to repeat."
	if err != nil {
		// A 5xx would have Twilio say "application error" and hang up:
		// the person would never hear they were paged. The call says
		// what it carries and offers the keys; a key that cannot be
		// recorded then says so (Gather).
		cb.log().Error("twilio: could not read the incident for a call's greeting; the call says what its URL carries",
			"incident", q.Get("incident"), "user", q.Get("user"), "err", err)
		text = carriedText(q)
	} else {
		text = callText(about)
		switch {
		case about.Storm && about.Incidents > 0 && about.Resolved == about.Incidents:
			return twiML(w, twiml.VoiceSay{Message: text + " All of them are resolved. Nothing is left to do. Goodbye."}, twiml.VoiceHangup{})
		case about.Storm && about.Unacknowledged == 0:
			keys = "Press 5 to escalate, 6 to resolve, or star to repeat."
		case about.Storm:
		case about.Status == statusResolved:
			return twiML(w, twiml.VoiceSay{Message: text + " Nothing is left to do. Goodbye."}, twiml.VoiceHangup{})
		case about.Status == statusAcknowledged:
			keys = "Press 5 to escalate, 6 to resolve, or star to repeat."
		}
	}
	return twiML(w,
		twiml.VoiceGather{NumDigits: "1", Action: cb.callURL(r, GatherPath), Method: "POST", Timeout: "10",
			InnerElements: []twiml.Element{twiml.VoiceSay{Message: text + " " + keys}}},
		twiml.VoiceSay{Message: "No key was pressed. Goodbye."}, twiml.VoiceHangup{})
}

// voicemail reports whether answering-machine detection's AnsweredBy says
// a machine (a voicemail) or a fax took the call, not the person.
func voicemail(answeredBy string) bool {
	return strings.HasPrefix(answeredBy, "machine") || answeredBy == "fax"
}

// carriedText is what a call says when the incident cannot be read: what
// its URL carries (the priority and service, or for an alert-storm
// message how many incidents, when the call was placed with them, and the
// reply code).
func carriedText(q url.Values) string {
	if q.Get("incidents") != "" {
		// An alert-storm message: its keys act on all of them.
		return pagedFor(q) + " pagerd cannot read their details just now. Your key acts on all of them."
	}
	return pagedFor(q) + " pagerd cannot read the incident's details just now."
}

// pagedFor says what the call's URL carries, with no store read: the
// priority and service (or for an alert-storm message how many
// incidents) and the reply code.
func pagedFor(q url.Values) string {
	code := strings.Join(strings.Split(ReplyCode(q.Get("incident")), ""), " ")
	if n := q.Get("incidents"); n != "" {
		return "This is pagerd, during an alert storm: you are being paged for " + n + " incidents, code " + code + "."
	}
	s := "This is pagerd. You are being paged"
	if p := q.Get("priority"); p != "" {
		s += " for a " + spell(p) + " incident"
	}
	if svc := q.Get("service"); svc != "" {
		s += " on " + svc
	}
	return s + ", code " + code + "."
}

// voicemailText is what a call taken for a voicemail says before it hangs
// up. Answering-machine detection takes a person who answers with more
// than a word ("Hello? Who is this?", half awake) for a machine: hung up
// on in silence, they heard nothing of the page, took it for a spam call,
// and did not know pagerd had counted it not answered. A voicemail keeps
// what it hears of it.
func voicemailText(q url.Values) string {
	return pagedFor(q) + " This call was taken for an answering machine, so it counts as not answered and acknowledges nothing. Goodbye."
}

// callText is what a call says about an incident, or about the incidents
// of an alert-storm message (whose keys act on all of them).
func callText(a notify.About) string {
	if a.Storm {
		return fmt.Sprintf("This is pagerd, during an alert storm: %d incidents, %d of them not acknowledged. The most urgent, %s, on %s. Your key acts on all of them.",
			a.Incidents, a.Unacknowledged, spell(a.Priority), a.Top)
	}
	s := fmt.Sprintf("This is pagerd. %s incident on %s: %s. ", spell(a.Priority), a.Service, a.Summary)
	switch a.Status {
	case statusAcknowledged:
		return s + "It was acknowledged" + by(a.AcknowledgedBy) + at(a.AcknowledgedAt) + "."
	case statusResolved:
		return s + "It was resolved" + by(a.ResolvedBy) + at(a.ResolvedAt) + "."
	}
	return s + "It is " + a.Status + "."
}

// The incident statuses a call's greeting tells apart (policy's, which
// notify does not import: notify.About.Status).
const (
	statusAcknowledged = "acknowledged"
	statusResolved     = "resolved"
)

// spell makes a priority sayable, as on-call people say it: "P0" is
// "P 0" (a voice reads "P0" as a word it guesses at), and "SEV-1" is
// "sev 1", "sev" one word in lower case, which a voice says as the word
// everyone says ("sev one"): spelled out, "S E V 1" makes the listener
// put three letters back together, half awake, before knowing how bad it
// is; in capitals a voice may spell it out too.
func spell(p string) string {
	chars := func(s string) string { return strings.Join(strings.Split(strings.ReplaceAll(s, "-", ""), ""), " ") }
	if n, ok := strings.CutPrefix(strings.ToUpper(p), "SEV"); ok && n != "" {
		return "sev " + chars(n)
	}
	return chars(p)
}

// Gather acts on the key pressed and says what happened.
func (cb *Callbacks) Gather(w http.ResponseWriter, r *http.Request) error {
	if err := cb.verify(r); err != nil {
		return err
	}
	q := r.URL.Query()
	actions := map[string]notify.Action{"4": notify.Acknowledge, "5": notify.Escalate, "6": notify.Resolve}
	digit := r.PostForm.Get("Digits")
	action, ok := actions[digit]
	if !ok {
		msg := "Sorry, that key does nothing."
		if digit == "*" {
			msg = "Again."
		}
		return twiML(w, twiml.VoiceSay{Message: msg}, twiml.VoiceRedirect{Url: cb.callURL(r, VoicePath), Method: "POST"})
	}
	user := q.Get("user")
	if !cb.Receiver.KnowsUser(user) {
		return twiML(w, twiml.VoiceSay{Message: "This call is for someone pagerd no longer knows. Goodbye."}, twiml.VoiceHangup{})
	}
	var acted notify.Acted
	var err error
	if level, lerr := strconv.Atoi(q.Get("level")); action == notify.Escalate && lerr == nil {
		// From the level the call paged: 5 pressed twice, or on a call
		// of a level the incident has left, escalates once.
		// When the call was placed (At): at the last level, a 5
		// pressed again after the first paged the level again changes
		// nothing.
		page := notify.Page{Target: q.Get("incident"), Level: level, At: sentAt(q)}
		acted, err = cb.Receiver.EscalateFrom(r.Context(), user, page)
	} else if reopened, rerr := strconv.Atoi(q.Get("reopened")); action == notify.Acknowledge && rerr == nil && reopened >= 0 {
		// As the answer to this call's page: placed before the incident
		// was reopened (escalated, raised) since, its 4 must not stop
		// the pages of the reopen. A call placed before calls carried
		// the count acknowledges as before.
		acted, err = cb.Receiver.AcknowledgePage(r.Context(), user, notify.Page{Target: q.Get("incident"), Reopened: reopened})
	} else {
		acted, err = cb.Receiver.Act(r.Context(), q.Get("incident"), user, action)
	}
	var msg string
	switch {
	case errors.Is(err, notify.ErrStormGone):
		return twiML(w, twiml.VoiceSay{Message: "This alert-storm message is no longer kept. Goodbye."}, twiml.VoiceHangup{})
	case errors.Is(err, notify.ErrNotFound):
		msg = "This incident no longer exists."
	case err != nil:
		// Ask for the key again, on this call: the person is still on
		// the line, and pressing it again once the store is back acts.
		// Capitals are for reading, not for a voice to spell out.
		said, again := cb.notRecorded("keypress", user, q.Get("incident"), err)
		said = strings.Replace(said, "NOT", "not", 1)
		if !again {
			return twiML(w, twiml.VoiceSay{Message: "Your key " + said + ". Goodbye."}, twiml.VoiceHangup{})
		}
		return twiML(w, twiml.VoiceSay{Message: "Your key " + said + "."},
			twiml.VoiceGather{NumDigits: "1", Action: cb.callURL(r, GatherPath), Method: "POST", Timeout: "10",
				InnerElements: []twiml.Element{twiml.VoiceSay{Message: "Press 4 to acknowledge, 5 to escalate, 6 to resolve, or star to hear the incident again."}}},
			twiml.VoiceSay{Message: "No key was pressed. Goodbye."}, twiml.VoiceHangup{})
	case acted.Storm != "":
		// As for a failure's words: capitals are for reading, not for
		// a voice to spell out ("4 NOT acknowledged, refused").
		msg = strings.ReplaceAll(acted.Storm, "NOT ", "not ") + "."
	case acted.ReopenedSince:
		msg = "This incident was reopened after this call was placed: escalated or raised since. Your acknowledgement was not applied, and the pages since go on. Acknowledge its latest page to stop them."
	case acted.AlreadyResolved:
		msg = "Already resolved" + by(acted.ResolvedBy) + at(acted.ResolvedAt) + "."
	case acted.AlreadyEscalated:
		msg = "It was " + alreadyEscalated(acted) + ". Nobody else was paged."
	case !acted.Changed && action == notify.Acknowledge:
		msg = "Already acknowledged" + by(acted.AcknowledgedBy) + at(acted.AcknowledgedAt) + "."
	default:
		msg = map[notify.Action]string{notify.Acknowledge: "Acknowledged.", notify.Escalate: "Escalated to the next level.",
			notify.Resolve: "Resolved."}[action]
	}
	return twiML(w, twiml.VoiceSay{Message: msg + " Goodbye."}, twiml.VoiceHangup{})
}
