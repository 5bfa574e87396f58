package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// Ack links let a paged person act on an incident from any page they got:
// an HMAC-signed token naming one incident (or one alert-storm bundle of
// incidents), one person and an expiry, under the configured public URL. Opening the link shows the incident with
// Acknowledge and Resolve buttons; only the buttons (POST) change anything,
// so link previews and prefetchers cannot acknowledge by accident.

// linkVersion starts every token, so the format can change later.
const linkVersion = "v1"

// errBadLink is a token that is malformed, forged, for someone else's
// incident, or expired.
var errBadLink = errors.New("this link is not valid: it was changed, or it has expired")

// SignLink makes the token for an incident and a user, valid until expiry.
func SignLink(secret policy.Secret, incident, user string, expiry time.Time) string {
	payload := strings.Join([]string{linkVersion, incident, user, strconv.FormatInt(expiry.Unix(), 10)}, "|")
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(linkMAC(secret, payload))
}

func linkMAC(secret policy.Secret, payload string) []byte {
	m := hmac.New(sha256.New, []byte(secret.Reveal()))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// VerifyLink checks a token's signature (in constant time) and expiry, and
// returns the incident and user it is for.
func VerifyLink(secret policy.Secret, token string, now time.Time) (incident, user string, err error) {
	if secret.Reveal() == "" {
		return "", "", errBadLink
	}
	p64, m64, ok := strings.Cut(token, ".")
	if !ok {
		return "", "", errBadLink
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	mac, err2 := base64.RawURLEncoding.DecodeString(m64)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, linkMAC(secret, string(payload))) {
		return "", "", errBadLink
	}
	parts := strings.Split(string(payload), "|")
	if len(parts) != 4 || parts[0] != linkVersion {
		return "", "", errBadLink
	}
	exp, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || !now.Before(time.Unix(exp, 0)) {
		return "", "", errBadLink
	}
	return parts[1], parts[2], nil
}

// AckLink is the full URL of an ack link, or "" when the config has no
// public URL or link secret.
func AckLink(cfg *policy.Config, incident, user string, now time.Time) string {
	sv := cfg.Server
	if sv.PublicURL == "" || sv.LinkSecret.Reveal() == "" {
		return ""
	}
	return strings.TrimRight(sv.PublicURL, "/") + "/ack/" + SignLink(sv.LinkSecret, incident, user, now.Add(time.Duration(sv.LinkTTL)))
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

// linkTarget verifies the token in the path and loads its incident.
func (s *Server) linkTarget(c echo.Context) (incident, user string, err error) {
	incident, user, err = VerifyLink(s.Config().Server.LinkSecret, c.Param("token"), s.clock())
	if err != nil {
		return "", "", err
	}
	if s.Config().User(user) == nil {
		return "", "", errBadLink
	}
	return incident, user, nil
}

func (s *Server) renderLink(c echo.Context, code int, v linkView) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(code)
	return linkPage.Execute(c.Response(), v)
}

// linkShow answers GET /ack/<token>: the incident and its buttons. It never
// changes anything.
func (s *Server) linkShow(c echo.Context) error {
	id, user, err := s.linkTarget(c)
	if err != nil {
		return s.renderLink(c, http.StatusForbidden, linkView{Title: "Link not valid", Message: err.Error()})
	}
	return s.showIncident(c, id, user, http.StatusOK, "")
}

func (s *Server) showIncident(c echo.Context, id, user string, code int, msg string) error {
	if store.IsBundleID(id) {
		return s.showBundle(c, id, user, code, msg)
	}
	inc, err := s.store.Get(c.Request().Context(), id)
	if err != nil {
		return err
	}
	u := s.Config().User(user)
	st := inc.State
	return s.renderLink(c, code, linkView{Title: inc.Summary, Message: msg, Incident: inc.ID, Service: inc.Service,
		Priority: st.Priority, Status: string(st.Status), Summary: inc.Summary, UserName: u.DisplayName(),
		Action: "/ack/" + c.Param("token"), CanAck: st.Status == policy.StatusTriggered, CanResolve: st.Status != policy.StatusResolved})
}

// showBundle is a storm bundle's page: its incidents (the first few by
// name), how many are still open, and buttons that act on all of them.
func (s *Server) showBundle(c echo.Context, id, user string, code int, msg string) error {
	ctx := c.Request().Context()
	b, err := s.store.GetBundle(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return s.renderLink(c, http.StatusNotFound, linkView{Title: "Link expired", Message: "This alert-storm message is no longer kept; act on its incidents one by one."})
	}
	if err != nil {
		return err
	}
	if b.User != user {
		return s.renderLink(c, http.StatusForbidden, linkView{Title: "Link not valid", Message: errNotYours.msg})
	}
	statuses, err := s.store.Statuses(ctx, b.Incidents)
	if err != nil {
		return err
	}
	v := linkView{Title: b.Summary(), Message: msg, Bundle: true, UserName: s.Config().User(user).DisplayName(),
		Action: "/ack/" + c.Param("token"), Count: len(b.Incidents)}
	for _, st := range statuses {
		if st == policy.StatusTriggered {
			v.Open++
		}
		if st != policy.StatusResolved {
			v.CanResolve = true
		}
	}
	v.CanAck = v.Open > 0
	for _, incID := range b.Incidents[:min(bundlePageLines, len(b.Incidents))] {
		inc, err := s.store.Get(ctx, incID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		v.Lines = append(v.Lines, linkView{Priority: inc.State.Priority, Service: inc.Service, Summary: inc.Summary, Status: string(inc.State.Status)})
	}
	v.More = v.Count - len(v.Lines)
	return s.renderLink(c, code, v)
}

// linkAct answers POST /ack/<token>/acknowledge|resolve, as the person the
// link was made for.
func (s *Server) linkAct(c echo.Context) error {
	id, user, err := s.linkTarget(c)
	if err != nil {
		return s.renderLink(c, http.StatusForbidden, linkView{Title: "Link not valid", Message: err.Error()})
	}
	kind, done := policy.EventAcknowledge, "Acknowledged"
	switch c.Param("action") {
	case "acknowledge":
	case "resolve":
		kind, done = policy.EventResolve, "Resolved"
	default:
		return &inputError{http.StatusNotFound, "unknown action"}
	}
	if store.IsBundleID(id) {
		out, err := s.actOnBundle(c.Request().Context(), id, user, policy.Event{Kind: kind})
		if errors.Is(err, store.ErrNotFound) {
			return s.showBundle(c, id, user, http.StatusNotFound, "")
		}
		if err != nil {
			return err
		}
		return s.showBundle(c, id, user, http.StatusOK, out.describe(kind)+".")
	}
	inc, acts, err := s.apply(c.Request().Context(), id, policy.Event{Kind: kind, Actor: user})
	switch {
	case errors.Is(err, errAlreadyResolved) || (err == nil && len(acts) == 0 && inc.State.Status == policy.StatusResolved):
		return s.showIncident(c, id, user, http.StatusConflict, "Already resolved"+by(inc.State.ResolvedBy)+".")
	case err != nil:
		return err
	case len(acts) == 0:
		// Someone acknowledged first: say who, as the phone call will.
		return s.showIncident(c, id, user, http.StatusOK, "Already acknowledged"+by(inc.State.AcknowledgedBy)+".")
	}
	return s.showIncident(c, id, user, http.StatusOK, done+".")
}

func by(actor string) string {
	if actor == "" {
		return ""
	}
	return fmt.Sprintf(" by %s", actor)
}
