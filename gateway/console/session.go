package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// Cookies. The __Host- prefix makes the browser refuse them unless they
// are Secure, for the whole host (Path=/) and without a Domain, so no
// other site or subdomain can plant one.
const (
	sessionCookie = "__Host-pagerd-session"
	// loginCookie carries the state of a sign-in under way: the OIDC
	// state, nonce and PKCE verifier, or the password form's CSRF nonce.
	loginCookie = "__Host-pagerd-login"
	// loginTTL is how long a sign-in may take, from the sign-in page to
	// the provider's answer.
	loginTTL = 10 * time.Minute
)

// errBadToken is a cookie or form token that is malformed, forged or
// expired: the same answer for each, so a forger learns nothing.
var errBadToken = errors.New("not valid")

// session is who is signed in, as the session cookie carries it, signed.
// The role is not in it: it is read from the config at every request, so
// a changed role or a removed user takes effect at once.
type session struct {
	// User is the pagerd user id.
	User string `json:"u"`
	// Method is how they signed in: "oidc" (the provider's email picked
	// the user), "oidc-subject" (its subject did) or "password".
	Method string `json:"m"`
	// Nonce is random; the CSRF token of the session's forms is derived
	// from it.
	Nonce string `json:"n"`
	// Expires is the Unix time the session ends.
	Expires int64 `json:"e"`
	// Issued is when the session began, in Unix nanoseconds (0 in the
	// sessions of pagerd before it carried it): a user removed from the
	// config and added back gets none of their sessions from before
	// (returns).
	Issued int64 `json:"i,omitempty"`
	// Bind is a digest of what the sign-in vouched for: the password
	// hash (password), the user's email (oidc) or their oidc_subject at
	// the issuer (oidc-subject). Changing it in the config ends the
	// sessions it opened.
	Bind string `json:"p,omitempty"`
}

// loginState is a sign-in under way, in the login cookie.
type loginState struct {
	State    string `json:"s,omitempty"`
	Nonce    string `json:"n"`
	Verifier string `json:"v,omitempty"`
	Next     string `json:"x,omitempty"`
	Expires  int64  `json:"e"`
}

// sign seals v with the key: base64url(JSON) "." base64url(HMAC-SHA256),
// the MAC taken over a purpose too, so a login cookie can never pass for a
// session.
func sign(key policy.Secret, purpose string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	p := base64.RawURLEncoding.EncodeToString(b)
	return p + "." + base64.RawURLEncoding.EncodeToString(mac(key, purpose, p)), nil
}

// open checks a sealed value's MAC in constant time and decodes it.
func open(key policy.Secret, purpose, token string, v any) error {
	if key.Reveal() == "" {
		return errBadToken
	}
	p, m64, ok := strings.Cut(token, ".")
	if !ok {
		return errBadToken
	}
	m, err := base64.RawURLEncoding.DecodeString(m64)
	if err != nil || !hmac.Equal(m, mac(key, purpose, p)) {
		return errBadToken
	}
	b, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil || json.Unmarshal(b, v) != nil {
		return errBadToken
	}
	return nil
}

func mac(key policy.Secret, purpose, payload string) []byte {
	h := hmac.New(sha256.New, []byte(key.Reveal()))
	h.Write([]byte("pagerd-console/" + purpose + "\x00"))
	h.Write([]byte(payload))
	return h.Sum(nil)
}

// random is 32 random bytes, base64url.
func random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// csrfToken is the token a form of the session carries: derived from the
// session's nonce, so it changes with every sign-in and a page of another
// site can neither read nor guess it.
func csrfToken(key policy.Secret, nonce string) string {
	return base64.RawURLEncoding.EncodeToString(mac(key, "csrf", nonce))
}

// csrfOK checks a form's token against the nonce, in constant time.
func csrfOK(key policy.Secret, nonce, presented string) bool {
	want := csrfToken(key, nonce)
	return presented != "" && hmac.Equal([]byte(presented), []byte(want))
}

// flashSig signs a message a redirect carries to the page it goes to
// (?done=...&sig=...), for this session only: a link made elsewhere
// cannot make a pagerd page say what its maker wants.
func flashSig(key policy.Secret, nonce, msg string) string {
	return base64.RawURLEncoding.EncodeToString(mac(key, "flash/"+nonce, msg)[:16])
}

// binding is what a session of the user signed in by method is bound to:
// a digest of their password hash, their email, or their subject and the
// issuer it is a subject at (a subject means nothing at another), which
// reveals none of them.
func binding(cfg *policy.Config, u *policy.User, method string) string {
	var v string
	switch method {
	case methodPassword:
		v = u.PasswordHash.Reveal()
	case methodOIDCSubject:
		if u.OIDCSubject != "" && cfg.Console.OIDC != nil {
			v = cfg.Console.OIDC.Issuer + "\x00" + u.OIDCSubject
		}
	default:
		v = strings.ToLower(u.Email)
	}
	if v == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(mac(cfg.Console.SessionKey, "bind/"+method, v)[:12])
}

// setCookie sets one of the console's cookies: HttpOnly, Secure,
// SameSite=Lax (sent on the top-level navigation back from the identity
// provider, never on another site's POST or subrequest), for the host.
func setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode,
		MaxAge: int(maxAge / time.Second)}
	if maxAge <= 0 {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

func clearCookie(w http.ResponseWriter, name string) { setCookie(w, name, "", 0) }

// sameOrigin reports whether a POST came from a page of the console, by
// its Origin header when the browser sends one (every current browser does
// on a POST): a second guard behind the CSRF token. The console's origin is
// server.public_url's scheme and host when it is set: behind a reverse
// proxy that rewrites Host (proxy_pass to 127.0.0.1:8080), the Host header
// names the proxy's upstream, never the address the browser is on. Without
// public_url, the Host header is all there is to go by.
func sameOrigin(r *http.Request, publicURL string) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil {
		return false
	}
	if publicURL == "" {
		return u.Host == r.Host
	}
	want, err := url.Parse(publicURL)
	if err != nil || want.Host == "" {
		return false
	}
	return strings.EqualFold(u.Scheme, want.Scheme) && strings.EqualFold(originHost(u), originHost(want))
}

// originHost is a URL's host[:port] as a browser's Origin header gives it:
// without the scheme's default port, which browsers leave out.
func originHost(u *url.URL) string {
	port := u.Port()
	if port == "" || (port == "443" && strings.EqualFold(u.Scheme, "https")) || (port == "80" && strings.EqualFold(u.Scheme, "http")) {
		return u.Hostname()
	}
	return u.Host
}

// safeNext is where to go after signing in: a path of the console, never
// another site (//evil.example, /\evil.example) or a path outside /ui/.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/ui/"
	}
	return next
}
