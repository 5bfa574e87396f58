// Package acklink is pagerd's signed ack links, all of them: a link lets
// a paged person act on an incident from any page they got. It is an
// HMAC-signed token naming one incident (or one alert-storm bundle of
// incidents), one person and an expiry, under the configured public URL
// (URL, which the dispatcher puts in every page). Opening the link shows
// the incident with Acknowledge and Resolve buttons (Pages); only the
// buttons (POST) change anything, so link previews and prefetchers cannot
// acknowledge by accident. They act through the incident service, as the
// person the link was made for.
package acklink

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/policy"
)

// Path is where links live: GET Path/{token} shows one, POST
// Path/{token}/{action} acts (acknowledge or resolve).
const Path = "/ack"

// linkVersion starts every ack link's token, so the format can change
// later; receiptVersion starts the tokens of Pushover's receipt callbacks
// (SignReceipt). They are signed with the same secret, so the version is
// also what keeps one from passing for the other: a receipt token is
// handed to Pushover, a third party, and outlives an ack link, and must
// not open the ack link's page and its Resolve button.
//
// A token of linkPageVersion or receiptVersion also carries the
// incident's reopen count when its page went out; one of linkVersion or
// receiptV1 (signed before they did) does not, and is still taken until
// it expires.
const (
	linkVersion     = "v1"
	linkPageVersion = "v2"
	receiptV1       = "p1"
	receiptVersion  = "p2"
)

// errBadLink is a token that is malformed, forged, for someone else's
// incident, or expired.
var errBadLink = errors.New("this link is not valid: it was changed, or it has expired")

// Sign makes the token for an incident and a user, valid until expiry,
// that answers no page in particular: its Acknowledge acknowledges the
// incident as it stands.
func Sign(secret policy.Secret, incident, user string, expiry time.Time) string {
	return sign(secret, linkVersion, incident, user, expiry)
}

// SignPage makes the token of the link in a page to user, sent when the
// incident had been reopened reopened times, valid until expiry: its
// Acknowledge answers that page, so once the incident has been reopened
// since, it acknowledges nothing (notify.Receiver.AcknowledgePage).
func SignPage(secret policy.Secret, incident, user string, reopened int, expiry time.Time) string {
	return sign(secret, linkPageVersion, incident, user, expiry, strconv.Itoa(reopened))
}

// SignReceipt makes the token of a Pushover receipt callback for an
// incident (or storm bundle) and a user, valid until expiry, for a page
// sent when the incident had been reopened reopened times: signed like
// an ack link, but not one (Verify refuses it; VerifyReceipt takes it).
func SignReceipt(secret policy.Secret, incident, user string, reopened int, expiry time.Time) string {
	return sign(secret, receiptVersion, incident, user, expiry, strconv.Itoa(reopened))
}

func sign(secret policy.Secret, version, incident, user string, expiry time.Time, more ...string) string {
	payload := strings.Join(append([]string{version, incident, user, strconv.FormatInt(expiry.Unix(), 10)}, more...), "|")
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(linkMAC(secret, payload))
}

func linkMAC(secret policy.Secret, payload string) []byte {
	m := hmac.New(sha256.New, []byte(secret.Reveal()))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// Verify checks an ack link's token: its signature (in constant time) and
// expiry, and returns the incident and user it is for. A receipt
// callback's token (SignReceipt) is not an ack link and is refused.
func Verify(secret policy.Secret, token string, now time.Time) (incident, user string, err error) {
	l, err := VerifyLink(secret, token, now)
	return l.Target, l.User, err
}

// VerifyLink is Verify, with the reopen count of the page the link came
// with when its token carries it (SignPage).
func VerifyLink(secret policy.Secret, token string, now time.Time) (Receipt, error) {
	parts, err := verify(secret, token, now, linkVersion, linkPageVersion)
	if err != nil {
		return Receipt{}, err
	}
	return withReopened(parts)
}

// withReopened is what a verified token's fields name.
func withReopened(parts []string) (Receipt, error) {
	r := Receipt{Target: parts[1], User: parts[2]}
	if len(parts) == 5 {
		n, err := strconv.Atoi(parts[4])
		if err != nil || n < 0 {
			return Receipt{}, errBadLink
		}
		r.Reopened, r.ReopenedKnown = n, true
	}
	return r, nil
}

// Receipt is what a Pushover receipt callback's token names.
type Receipt struct {
	// Target is the incident (or storm bundle), User the person paged.
	Target, User string
	// Reopened is the incident's reopen count when the page went out;
	// ReopenedKnown is false for a token signed before tokens carried it.
	Reopened      int
	ReopenedKnown bool
}

// VerifyReceipt checks a Pushover receipt callback's token as Verify does.
// It takes an ack link's token too: receipt callbacks were signed as ack
// links before they had a version of their own, and an emergency sent
// then is still acknowledged from the app; an ack link acknowledges
// anyway, which is all a receipt does.
func VerifyReceipt(secret policy.Secret, token string, now time.Time) (Receipt, error) {
	parts, err := verify(secret, token, now, receiptVersion, receiptV1, linkVersion)
	if err != nil {
		return Receipt{}, err
	}
	return withReopened(parts)
}

// Malformed reports whether token is not of the form pagerd signs: a
// payload and a signature, both base64url, the signature as long as
// linkMAC's. Such a token was signed by no secret pagerd ever had (a
// stranger's request), where a well-formed one that does not verify may
// be pagerd's own, signed with a secret since rotated.
func Malformed(token string) bool {
	p64, m64, ok := strings.Cut(token, ".")
	if !ok {
		return true
	}
	_, err := base64.RawURLEncoding.DecodeString(p64)
	mac, err2 := base64.RawURLEncoding.DecodeString(m64)
	return err != nil || err2 != nil || len(mac) != sha256.Size
}

// verify checks a token's signature, version and expiry, and returns its
// fields: the version, incident, user and expiry, then any the version
// adds (receiptVersion, linkPageVersion: the reopen count).
func verify(secret policy.Secret, token string, now time.Time, versions ...string) ([]string, error) {
	if secret.Reveal() == "" {
		return nil, errBadLink
	}
	p64, m64, ok := strings.Cut(token, ".")
	if !ok {
		return nil, errBadLink
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	mac, err2 := base64.RawURLEncoding.DecodeString(m64)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, linkMAC(secret, string(payload))) {
		return nil, errBadLink
	}
	parts := strings.Split(string(payload), "|")
	fields := 4
	if parts[0] == receiptVersion || parts[0] == linkPageVersion {
		fields = 5
	}
	if len(parts) != fields || !slices.Contains(versions, parts[0]) {
		return nil, errBadLink
	}
	exp, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || !now.Before(time.Unix(exp, 0)) {
		return nil, errBadLink
	}
	return parts, nil
}

// URL is the full URL of the ack link in a page to user, sent when the
// incident had been reopened reopened times (SignPage; a storm message's
// bundle keeps its incidents' counts), or "" when the config has no
// public URL or link secret.
func URL(cfg *policy.Config, incident, user string, reopened int, now time.Time) string {
	sv := cfg.Server
	if sv.PublicURL == "" || sv.LinkSecret.Reveal() == "" {
		return ""
	}
	return strings.TrimRight(sv.PublicURL, "/") + Path + "/" + SignPage(sv.LinkSecret, incident, user, reopened, now.Add(time.Duration(sv.LinkTTL)))
}

var linkPage = template.Must(template.New("ack").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>pagerd: {{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}
button{font-size:1.2rem;padding:.8rem 1.4rem;margin:.4rem .4rem 0 0}.st{font-weight:bold}</style></head>
<body>
<h1>{{.Title}}</h1>
{{if .Message}}<p>{{.Message}}</p>{{end}}
{{if .Bundle}}
<p>Sent to {{.UserName}} in one message during an alert storm: {{.Count}} incidents, {{.Open}} still unacknowledged.</p>
<ul>{{range .Lines}}<li><span class="st">{{.Priority}}</span> · {{.Service}} · {{.Summary}} · <span class="st">{{.Status}}</span></li>{{end}}</ul>
{{if gt .Count (len .Lines)}}<p>and {{.More}} more.</p>{{end}}
{{if .CanAck}}<form method="post" action="{{.Action}}/acknowledge" style="display:inline"><button>Acknowledge all</button></form>{{end}}
{{if .CanResolve}}<form method="post" action="{{.Action}}/resolve" style="display:inline"><button>Resolve all</button></form>{{end}}
{{else if .Incident}}
<p><span class="st">{{.Priority}}</span> · {{.Service}} · <span class="st">{{.Status}}</span></p>
<p>{{.Summary}}</p>
<p>Paged: {{.UserName}}. Incident {{.Incident}}.</p>
{{if .CanAck}}<form method="post" action="{{.Action}}/acknowledge" style="display:inline"><button>Acknowledge</button></form>{{end}}
{{if .CanResolve}}<form method="post" action="{{.Action}}/resolve" style="display:inline"><button>Resolve</button></form>{{end}}
{{end}}
</body></html>
`))

type linkView struct {
	Title, Message                               string
	Incident, Service, Priority, Status, Summary string
	UserName, Action                             string
	CanAck, CanResolve                           bool
	// A storm bundle's page: its first Lines, of Count incidents, Open
	// of them still unacknowledged.
	Bundle            bool
	Lines             []linkView
	Count, Open, More int
}

// bundlePageLines is how many of a bundle's incidents its page lists.
const bundlePageLines = 20

// Pages answers the links.
type Pages struct {
	Incidents *incident.Service
	// Config is the config in force (it changes on reload).
	Config func() *policy.Config
	// Now is the clock.
	Now func() time.Time
	// Logger logs the failures a page answered (slog.Default when nil).
	Logger *slog.Logger
}

// target verifies the token in the path and says what it is for.
func (p *Pages) target(r *http.Request) (Receipt, error) {
	cfg := p.Config()
	l, err := VerifyLink(cfg.Server.LinkSecret, r.PathValue("token"), p.Now().UTC().Truncate(time.Millisecond))
	if err != nil {
		return Receipt{}, err
	}
	if cfg.User(l.User) == nil {
		return Receipt{}, errBadLink
	}
	return l, nil
}

// action is where the link's page posts its buttons: the link's path as
// the person's browser reached it, under public_url's path when it has
// one (a proxy that serves pagerd under a prefix and strips it; pagerd's
// own routes stay at the root). At /ack/... the buttons of such a link
// posted outside pagerd and acted on nothing.
func (p *Pages) action(r *http.Request) string {
	return p.Config().Server.PathPrefix() + Path + "/" + r.PathValue("token")
}

// superseded says whether the link came with a page sent before inc's
// latest reopen: its Acknowledge would stop the pages after it.
func superseded(l Receipt, inc *store.Incident) bool {
	return l.ReopenedKnown && l.Reopened < inc.State.Reopened
}

// supersededText says why a link's Acknowledge is not there, or did not
// apply.
const supersededText = "This link came with a page sent before the incident was reopened (escalated or raised since), so it cannot acknowledge it: the pages since go on. Acknowledge it from its latest page."

func render(w http.ResponseWriter, code int, v linkView) error {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.WriteHeader(code)
	return linkPage.Execute(w, v)
}

// Show answers GET /ack/{token}: the incident and its buttons. It never
// changes anything.
func (p *Pages) Show(w http.ResponseWriter, r *http.Request) error {
	l, err := p.target(r)
	if err != nil {
		return render(w, http.StatusForbidden, linkView{Title: "Link not valid", Message: err.Error()})
	}
	id, user := l.Target, l.User
	if store.IsBundleID(id) {
		return p.showBundle(w, r, id, user, http.StatusOK, "")
	}
	inc, err := p.Incidents.Get(r.Context(), id)
	if err != nil {
		return p.notShown(w, id, err)
	}
	return p.showIncident(w, r, inc, l, http.StatusOK, "")
}

// showIncident shows inc as it stands: after an action, as the action's
// write left it, never read again (a read that failed would answer a
// stored acknowledgement with a 503 saying nothing was stored).
// A link that came with a page sent before the incident's latest reopen
// shows no Acknowledge, and says why.
func (p *Pages) showIncident(w http.ResponseWriter, r *http.Request, inc *store.Incident, l Receipt, code int, msg string) error {
	u := p.Config().User(l.User)
	st := inc.State
	canAck := st.Status == policy.StatusTriggered
	if canAck && superseded(l, inc) {
		canAck = false
		if msg == "" {
			msg = supersededText
		}
	}
	return render(w, code, linkView{Title: inc.Summary, Message: msg, Incident: inc.ID, Service: inc.Service,
		Priority: st.Priority, Status: string(st.Status), Summary: inc.Summary, UserName: u.DisplayName(),
		Action: p.action(r), CanAck: canAck, CanResolve: st.Status != policy.StatusResolved})
}

// showBundle is a storm bundle's page: its incidents (the first few by
// name), how many are still open, and buttons that act on all of them.
func (p *Pages) showBundle(w http.ResponseWriter, r *http.Request, id, user string, code int, msg string) error {
	ctx := r.Context()
	b, err := p.Incidents.Bundle(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return render(w, http.StatusNotFound, linkView{Title: "Link expired", Message: "This alert-storm message is no longer kept; act on its incidents one by one."})
	}
	if err != nil {
		return p.notShown(w, id, err)
	}
	if b.User != user {
		return render(w, http.StatusForbidden, linkView{Title: "Link not valid", Message: incident.ErrNotYours.Error()})
	}
	statuses, err := p.Incidents.Statuses(ctx, b.Incidents)
	if err != nil {
		return p.notShown(w, id, err)
	}
	var lines []*store.Incident
	for _, incID := range b.Incidents[:min(bundlePageLines, len(b.Incidents))] {
		inc, err := p.Incidents.Get(ctx, incID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return p.notShown(w, id, err)
		}
		lines = append(lines, inc)
	}
	return p.renderBundle(w, r, b, statuses, lines, code, msg)
}

// showActed is a storm bundle's page after an action on it: its incidents
// as the action's writes left them, never read again, as showIncident
// does: a read that failed would answer acknowledgements stored with a
// 503 saying nothing was changed. An incident the action did not find is
// no longer kept, and not shown; one whose write failed is not shown
// either (how it stands is not known), and msg counts it.
func (p *Pages) showActed(w http.ResponseWriter, r *http.Request, out *incident.BundleOutcome, code int, msg string) error {
	written := map[string]*store.Incident{}
	for _, incs := range [][]*store.Incident{out.Done, out.Already, out.Escalated, out.Resolved, out.ReopenedSince} {
		for _, inc := range incs {
			if inc != nil {
				written[inc.ID] = inc
			}
		}
	}
	for _, ref := range out.Refused {
		written[ref.Incident.ID] = ref.Incident // left as it was read
	}
	statuses := map[string]policy.Status{}
	var lines []*store.Incident
	for _, id := range out.Bundle.Incidents {
		inc, ok := written[id]
		if !ok {
			continue
		}
		statuses[id] = inc.State.Status
		if len(lines) < bundlePageLines {
			lines = append(lines, inc)
		}
	}
	return p.renderBundle(w, r, out.Bundle, statuses, lines, code, msg)
}

// renderBundle shows a bundle's incidents by their statuses, the first of
// them (lines) by name.
func (p *Pages) renderBundle(w http.ResponseWriter, r *http.Request, b *store.Bundle, statuses map[string]policy.Status, lines []*store.Incident, code int, msg string) error {
	v := linkView{Title: b.Summary(), Message: msg, Bundle: true, UserName: p.Config().User(b.User).DisplayName(),
		Action: p.action(r), Count: len(b.Incidents)}
	for _, st := range statuses {
		if st == policy.StatusTriggered {
			v.Open++
		}
		if st != policy.StatusResolved {
			v.CanResolve = true
		}
	}
	v.CanAck = v.Open > 0
	for _, inc := range lines {
		v.Lines = append(v.Lines, linkView{Priority: inc.State.Priority, Service: inc.Service, Summary: inc.Summary, Status: string(inc.State.Status)})
	}
	v.More = v.Count - len(v.Lines)
	return render(w, code, v)
}

// Act answers POST /ack/{token}/{action} (acknowledge or resolve), as the
// person the link was made for.
func (p *Pages) Act(w http.ResponseWriter, r *http.Request) error {
	l, err := p.target(r)
	if err != nil {
		return render(w, http.StatusForbidden, linkView{Title: "Link not valid", Message: err.Error()})
	}
	id, user := l.Target, l.User
	kind, action, done := policy.EventAcknowledge, notify.Acknowledge, "Acknowledged"
	switch r.PathValue("action") {
	case "acknowledge":
	case "resolve":
		kind, action, done = policy.EventResolve, notify.Resolve, "Resolved"
	default:
		return &notify.RequestError{Status: http.StatusNotFound, Msg: "unknown action"}
	}
	if store.IsBundleID(id) {
		var out *incident.BundleOutcome
		if kind == policy.EventAcknowledge {
			// As the answer to the storm message: its incidents
			// reopened since are left so (its bundle keeps the counts).
			out, err = p.Incidents.AcknowledgeBundle(r.Context(), id, user)
		} else {
			out, err = p.Incidents.ActOnBundle(r.Context(), id, user, policy.Event{Kind: kind})
		}
		if errors.Is(err, store.ErrNotFound) {
			return p.showBundle(w, r, id, user, http.StatusNotFound, "")
		}
		code := http.StatusOK
		switch {
		case err != nil && (out == nil || len(out.Done) == 0):
			return p.notRecorded(w, id, user, action, err)
		case err != nil:
			// Some were stored before the store failed: the page says
			// which, as the writes left them, and how many were not
			// (a 503 all the same, so that it is pressed again).
			p.logger().Error("ack link: storm message acted on in part; the person was told which", "bundle", id, "action", string(action),
				"user", user, "done", len(out.Done), "failed", len(out.Failed), "err", err)
			code = failedCode(w, err)
		case len(out.Done) == 0 && len(out.Refused) > 0:
			code = http.StatusConflict // refused, as for one incident
		}
		return p.showActed(w, r, out, code, out.Describe(kind, p.Config().UserName)+".")
	}
	ev := policy.Event{Kind: kind, Actor: user}
	if kind == policy.EventAcknowledge && l.ReopenedKnown {
		// As the answer to the page the link came with: sent before the
		// incident was reopened since, it must not stop the pages of the
		// reopen (a page opened before the reopen, pressed after it).
		ev.AckReopened, ev.AckReopenedSet = l.Reopened, true
	}
	inc, acts, err := p.Incidents.Apply(r.Context(), id, ev)
	switch {
	case errors.Is(err, incident.ErrReopenedSince) && inc != nil:
		p.Incidents.NoteAckIgnored(r.Context(), id, user, l.Reopened)
		return p.showIncident(w, r, inc, l, http.StatusConflict, "Your acknowledgement was not applied. "+supersededText)
	case (errors.Is(err, incident.ErrAlreadyResolved) && inc != nil) || (err == nil && len(acts) == 0 && inc.State.Status == policy.StatusResolved):
		return p.showIncident(w, r, inc, l, http.StatusConflict, "Already resolved"+incident.By(p.Config().UserName(inc.State.ResolvedBy))+".")
	case err != nil:
		return p.notRecorded(w, id, user, action, err)
	case len(acts) == 0:
		// Someone acknowledged first: say who, as the phone call will.
		return p.showIncident(w, r, inc, l, http.StatusOK, "Already acknowledged"+incident.By(p.Config().UserName(inc.State.AcknowledgedBy))+".")
	}
	return p.showIncident(w, r, inc, l, http.StatusOK, done+".")
}

// notRecorded answers a button whose action could not be stored with a
// page, like the link's other answers (a person on a phone reads it, not
// a program), in the words every channel uses (notify.NotRecorded). An
// acknowledgement or resolve pressed again changes nothing once it is
// stored, so the page may always say to press it again, even when the
// first may have been stored.
func (p *Pages) notRecorded(w http.ResponseWriter, id, user string, action notify.Action, err error) error {
	p.logger().Error("ack link: action not recorded; the person was told so", "incident", id, "action", string(action), "user", user, "err", err)
	text, again := notify.NotRecorded(incident.Classify(err))
	title, next := "Not recorded", ""
	switch {
	case errors.Is(err, store.ErrOutcomeUnknown):
		title, next = "Maybe not recorded", "Open the link again in a minute to see whether it was; pressing the button again does no harm."
	case again:
		next = "Open the link again in a minute and press the button again."
	}
	return render(w, failedCode(w, err), linkView{Title: title, Message: strings.TrimSpace("Your " + action.Noun() + " " + text + ". " + next)})
}

// notShown answers a link whose incident (or storm message) could not be
// read with a page that says so.
func (p *Pages) notShown(w http.ResponseWriter, id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return render(w, http.StatusNotFound, linkView{Title: "Incident no longer kept", Message: "This incident is no longer kept: there is nothing left to act on."})
	}
	p.logger().Error("ack link: incident not shown", "incident", id, "err", err)
	msg := "pagerd could not read the incident (its logs say why). Nothing was changed: open the link again in a minute."
	if errors.Is(err, store.ErrUnavailable) {
		msg = "The incident store is unavailable, so pagerd cannot show the incident. Nothing was changed, and the paging goes on: open the link again in a minute."
	}
	return render(w, failedCode(w, err), linkView{Title: "Cannot show the incident now", Message: msg})
}

// failedCode is the status of a failure's page: 503 with Retry-After when
// the store is what failed, 404 when the incident is gone, the incident
// service's refusals as the API answers them, 500 otherwise.
func failedCode(w http.ResponseWriter, err error) int {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, incident.ErrNotYours):
		return http.StatusForbidden
	case errors.Is(err, incident.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, incident.ErrBadInput):
		return http.StatusBadRequest
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrConflict):
		w.Header().Set("Retry-After", "60")
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (p *Pages) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.Default()
	}
	return p.Logger
}
