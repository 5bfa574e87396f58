package console

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/pagerd/pagerd/policy"
)

// How a session was opened: through the identity provider, the user
// picked by the email it vouched for (methodOIDC) or by the subject
// (methodOIDCSubject), or with a password.
const (
	methodOIDC        = "oidc"
	methodOIDCSubject = "oidc-subject"
	methodPassword    = "password"
)

// CallbackPath is where the identity provider sends people back: the
// redirect URL to register with it is server.public_url + CallbackPath.
const CallbackPath = "/ui/login/callback"

func hmacEqual(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }

// loginView is the sign-in page.
type loginView struct {
	OIDC      bool
	OIDCName  string
	Passwords bool
	Next      string
	CSRF      string
}

// loginPage shows the ways to sign in the config allows. The password
// form carries a CSRF token bound to a cookie of its own (there is no
// session yet), so another site cannot sign a browser in as someone else.
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.showLogin(w, r, http.StatusOK, "", "")
}

func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, code int, msg, errMsg string) {
	cfg := c.o.Config()
	lv := loginView{Next: safeNext(r.FormValue("next"))}
	if o := cfg.Console.OIDC; o != nil {
		lv.OIDC, lv.OIDCName = true, o.Name
	}
	for i := range cfg.Users {
		lv.Passwords = lv.Passwords || cfg.Users[i].PasswordHash != ""
	}
	if lv.Passwords {
		st := loginState{Nonce: random(), Expires: c.o.Now().Add(loginTTL).Unix()}
		tok, err := sign(cfg.Console.SessionKey, "login", st)
		if err != nil {
			c.fail(w, r, nil, http.StatusInternalServerError, "The sign-in page could not be made.")
			return
		}
		setCookie(w, loginCookie, tok, loginTTL)
		lv.CSRF = csrfToken(cfg.Console.SessionKey, "login:"+st.Nonce)
	}
	switch {
	case msg != "" || errMsg != "":
	case r.URL.Query().Get("signed_out") == "here":
		errMsg = "You are signed out in this browser only: pagerd's store did not answer, so the sign-out could not be kept, " +
			"and a copy of that session's cookie works until it expires. Sign in and out again once pagerd answers."
	case r.URL.Query().Has("signed_out"):
		msg = "You are signed out, in every browser."
	}
	c.render(w, code, "login.html", page{Title: "Sign in", Message: msg, Error: errMsg, Body: lv})
}

// loginState reads the login cookie, checked and unexpired.
func (c *Console) loginState(r *http.Request) (*loginState, error) {
	ck, err := r.Cookie(loginCookie)
	if err != nil {
		return nil, err
	}
	var st loginState
	if err := open(c.o.Config().Console.SessionKey, "login", ck.Value, &st); err != nil {
		return nil, err
	}
	if !c.o.Now().Before(time.Unix(st.Expires, 0)) {
		return nil, errBadToken
	}
	return &st, nil
}

// dummyHashes are compared against when no user has the name given, so
// that an unknown name takes as long to refuse as a wrong password: one
// per bcrypt cost, made at the first sign-in that needs it, not when
// pagerd starts. A hash of bcrypt's default cost (10) alone let a name
// with a hash of cost 12, as the README makes them, be told from an
// unknown one by taking four times as long to refuse.
var dummyHashes struct {
	mu sync.Mutex
	by map[int][]byte
}

// dummyHash is the hash an unknown name is compared against: of the
// highest cost among the config's password hashes (bcrypt's default
// when there are none).
func dummyHash(cfg *policy.Config) []byte {
	cost := 0
	for i := range cfg.Users {
		if c, err := bcrypt.Cost([]byte(cfg.Users[i].PasswordHash.Reveal())); err == nil && c > cost {
			cost = c
		}
	}
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	dummyHashes.mu.Lock()
	defer dummyHashes.mu.Unlock()
	if h, ok := dummyHashes.by[cost]; ok {
		return h
	}
	h, _ := bcrypt.GenerateFromPassword([]byte("pagerd: no such user"), cost)
	if dummyHashes.by == nil {
		dummyHashes.by = map[int][]byte{}
	}
	dummyHashes.by[cost] = h
	return h
}

// passwordLogin answers the password form: the user (id or email) and
// their password against the bcrypt hash in their user entry. Attempts are
// limited per client address, per name and overall (limits.go), so a
// guesser gets a handful a minute and a flood from one client stops only
// that client.
func (c *Console) passwordLogin(w http.ResponseWriter, r *http.Request) {
	cfg := c.o.Config()
	key := cfg.Console.SessionKey
	if err := r.ParseForm(); err != nil {
		c.showLogin(w, r, http.StatusBadRequest, "", "The form could not be read.")
		return
	}
	st, err := c.loginState(r)
	if err != nil || !sameOrigin(r, cfg.Server.PublicURL) || !csrfOK(key, "login:"+st.Nonce, r.PostForm.Get("csrf")) {
		c.showLogin(w, r, http.StatusForbidden, "", "The sign-in form was out of date: try again.")
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("user"))
	ip := c.o.ClientIP(r)
	if !c.allow(clientKey(ip), strings.ToLower(name)) {
		c.log.Warn("console: sign-in attempts limited", "user", name, "remote", ip)
		c.showLogin(w, r, http.StatusTooManyRequests, "", "Too many attempts: wait a minute and try again.")
		return
	}
	u := cfg.User(name)
	if u == nil {
		u = cfg.UserByEmail(name)
	}
	hash := dummyHash(cfg)
	if u != nil && u.PasswordHash != "" {
		hash = []byte(u.PasswordHash.Reveal())
	}
	err = bcrypt.CompareHashAndPassword(hash, []byte(r.PostForm.Get("password")))
	if u == nil || u.PasswordHash == "" || err != nil {
		c.log.Info("console: sign-in refused", "method", methodPassword, "remote", ip)
		c.showLogin(w, r, http.StatusUnauthorized, "", "That user and password do not match.")
		return
	}
	clearCookie(w, loginCookie)
	c.startSession(w, r, cfg, u, methodPassword, r.PostForm.Get("next"))
}

// allow takes one sign-in attempt by the client at addr for the name, if
// every limit that counts it has room (limits.go).
func (c *Console) allow(addr, name string) bool {
	now := c.o.Now()
	c.limitMu.Lock()
	defer c.limitMu.Unlock()
	a := c.byAddress.get(addr, now)
	if a.TokensAt(now) < 1 {
		return false // before making the name's buckets: a flood makes none
	}
	return takeAll(now, a, c.byNameAddress.get(name+"\x00"+addr, now), c.byName.get(name, now), c.overall)
}

// startSession signs the user in: a new session cookie (a new nonce, so
// a new CSRF token), then on to where they were going.
func (c *Console) startSession(w http.ResponseWriter, r *http.Request, cfg *policy.Config, u *policy.User, method, next string) {
	ttl := time.Duration(cfg.Console.SessionTTL)
	now := c.o.Now()
	s := session{User: u.ID, Method: method, Nonce: random(), Expires: now.Add(ttl).Unix(), Issued: c.signouts.issue(r.Context(), u.ID, now),
		Bind: binding(cfg, u, method)}
	tok, err := sign(cfg.Console.SessionKey, "session", s)
	if err != nil {
		c.fail(w, r, nil, http.StatusInternalServerError, "The session could not be made.")
		return
	}
	setCookie(w, sessionCookie, tok, ttl)
	c.log.Info("console: signed in", "user", u.ID, "method", method, "role", string(u.ConsoleRole()))
	http.Redirect(w, r, c.public(safeNext(next)), http.StatusSeeOther)
}

// logout ends the session, and every other session of the user, on
// every replica (signouts): a copy of the cookie, or a browser left signed
// in elsewhere, stops working too. When the store cannot take the
// sign-out, the cookie is still cleared here and the page says that is
// all that happened.
func (c *Console) logout(w http.ResponseWriter, r *http.Request, v *viewer) {
	clearCookie(w, sessionCookie)
	if err := c.signouts.record(r.Context(), v.User.ID, c.o.Now()); err != nil {
		c.log.Error("console: sign-out not recorded in the store: a copy of the session's cookie works until it expires",
			"user", v.User.ID, "expires", time.Unix(v.sess.Expires, 0).UTC(), "err", err)
		http.Redirect(w, r, c.public("/ui/login?signed_out=here"), http.StatusSeeOther)
		return
	}
	c.log.Info("console: signed out", "user", v.User.ID)
	http.Redirect(w, r, c.public("/ui/login?signed_out=1"), http.StatusSeeOther)
}

// oidcClients keeps the provider of the issuer in force, discovered on the
// first sign-in (a provider that is down when pagerd starts must not stop
// it) and again when the config names another issuer.
//
// Discovery is an HTTP call to the provider, slow or hanging when it is
// down: it runs outside mu, one at a time per issuer, and every sign-in
// that needs it meanwhile waits for that one (singleflight) rather than
// queueing to make its own after it, each waiting out the timeout in
// turn. A sign-in whose request ends stops waiting; the discovery goes on
// for the others. A failure is not kept: the next sign-in asks again.
type oidcClients struct {
	http      *http.Client
	discovery singleflight.Group
	// waiting counts the sign-ins waiting on a discovery now (tests wait
	// for all of theirs to join one).
	waiting atomic.Int64

	mu sync.Mutex
	// issuer is the issuer p was discovered from.
	issuer string
	p      *oidc.Provider
}

// discoveryTimeout bounds one discovery, which no single sign-in's request
// bounds (it is shared), besides the HTTP client's own timeout.
const discoveryTimeout = 30 * time.Second

// provider is the discovered provider of the issuer.
func (o *oidcClients) provider(ctx context.Context, issuer string) (*oidc.Provider, error) {
	o.mu.Lock()
	p, cached := o.p, o.p != nil && o.issuer == issuer
	o.mu.Unlock()
	if cached {
		return p, nil
	}
	ch := o.discovery.DoChan(issuer, func() (any, error) {
		// Not the first caller's request's context: its end must not
		// fail the others waiting on this discovery.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), discoveryTimeout)
		defer cancel()
		p, err := oidc.NewProvider(oidc.ClientContext(dctx, o.http), issuer)
		if err != nil {
			return nil, err
		}
		o.mu.Lock()
		o.p, o.issuer = p, issuer
		o.mu.Unlock()
		return p, nil
	})
	o.waiting.Add(1)
	defer o.waiting.Add(-1)
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*oidc.Provider), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("discover the identity provider %s: %w", issuer, ctx.Err())
	}
}

// oauth is the OAuth 2 client of the config's OIDC settings.
func oauth(cfg *policy.Config, p *oidc.Provider) *oauth2.Config {
	o := cfg.Console.OIDC
	return &oauth2.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret.Reveal(), Endpoint: p.Endpoint(),
		RedirectURL: strings.TrimRight(cfg.Server.PublicURL, "/") + CallbackPath, Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
}

// oidcStart sends the browser to the provider: the authorization code
// flow with PKCE, a state and a nonce, kept in the login cookie for the
// callback to check.
func (c *Console) oidcStart(w http.ResponseWriter, r *http.Request) {
	cfg := c.o.Config()
	if cfg.Console.OIDC == nil {
		c.showLogin(w, r, http.StatusNotFound, "", "Sign-in through an identity provider is not configured.")
		return
	}
	p, err := c.oidc.provider(r.Context(), cfg.Console.OIDC.Issuer)
	if err != nil {
		c.log.Error("console: identity provider not reached", "issuer", cfg.Console.OIDC.Issuer, "err", err)
		c.showLogin(w, r, http.StatusBadGateway, "", "The identity provider did not answer: try again in a minute.")
		return
	}
	st := loginState{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(),
		Next: safeNext(r.URL.Query().Get("next")), Expires: c.o.Now().Add(loginTTL).Unix()}
	tok, err := sign(cfg.Console.SessionKey, "login", st)
	if err != nil {
		c.fail(w, r, nil, http.StatusInternalServerError, "The sign-in could not be started.")
		return
	}
	setCookie(w, loginCookie, tok, loginTTL)
	http.Redirect(w, r, oauth(cfg, p).AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier)), http.StatusFound)
}

// errNoUser and errNoSubject are an identity the provider vouched for
// that is no pagerd user: by its email, or by its subject when the token
// has no email.
var (
	errNoUser    = errors.New("no pagerd user has this email")
	errNoSubject = errors.New("the identity provider sent no email, and no pagerd user has this subject")
	// errPinned is an email whose user signs in by subject only: a
	// token with another subject is not theirs, whatever its email says
	// (an address can be passed on to a new person; a subject cannot).
	errPinned = errors.New("the user with this email signs in by their subject only, and this sign-in has another")
	// errUnverified and errUnchecked are an email the provider has not
	// vouched for: it says it did not verify it, or it does not say (no
	// email_verified claim). Anyone may type any address into some
	// providers' profiles, so such an email picks nobody.
	errUnverified = errors.New("the identity provider says this email is not verified")
	errUnchecked  = errors.New("the identity provider does not say that this email is verified")
)

// oidcCallback finishes the sign-in: the state must be the one this
// browser was sent with, the code is exchanged (with the PKCE verifier)
// for an ID token whose signature, issuer, audience, expiry and nonce are
// checked, and its subject or email picks the user (exchange).
func (c *Console) oidcCallback(w http.ResponseWriter, r *http.Request) {
	cfg := c.o.Config()
	q := r.URL.Query()
	st, err := c.loginState(r)
	clearCookie(w, loginCookie)
	switch {
	case cfg.Console.OIDC == nil:
		c.showLogin(w, r, http.StatusNotFound, "", "Sign-in through an identity provider is not configured.")
		return
	case err != nil || st.State == "" || !hmacEqual(q.Get("state"), st.State):
		// Before the error: a callback this browser did not start is
		// anyone's link, and what it says is not the provider's.
		c.showLogin(w, r, http.StatusBadRequest, "", "This sign-in was not started here, or took too long: sign in again.")
		return
	case q.Get("error") != "":
		c.log.Warn("console: the identity provider refused the sign-in", "method", methodOIDC, "error", q.Get("error"))
		c.showLogin(w, r, http.StatusUnauthorized, "", providerRefusal(q.Get("error")))
		return
	}
	u, method, err := c.exchange(r.Context(), cfg, q.Get("code"), st)
	if err != nil {
		c.log.Warn("console: sign-in refused", "method", methodOIDC, "err", err)
		msg := "The identity provider's answer could not be checked: sign in again."
		switch {
		case errors.Is(err, errNoUser):
			msg = err.Error() + ": ask an admin to add it to your user in pagerd's config (users[].email)."
		case errors.Is(err, errNoSubject):
			msg = err.Error() + ": ask an admin to add it to your user in pagerd's config (users[].oidc_subject)."
		case errors.Is(err, errPinned):
			msg = err.Error() + ": sign in with the account their users[].oidc_subject names, or ask an admin to change it."
		case errors.Is(err, errUnverified):
			msg = err.Error() + ", so pagerd does not sign anyone in by it. Verify it at the identity provider and sign in again, or ask an admin to add your subject to your user in pagerd's config (users[].oidc_subject)."
		case errors.Is(err, errUnchecked):
			msg = err.Error() + ", so pagerd does not sign anyone in by it. Ask an admin to add your subject to your user in pagerd's config (users[].oidc_subject), or to set console.oidc.accept_missing_email_verified if this provider only issues addresses it has checked."
		}
		c.showLogin(w, r, http.StatusForbidden, "", msg)
		return
	}
	c.startSession(w, r, cfg, u, method, st.Next)
}

// providerRefusal is the page's words for an OAuth error code
// (RFC 6749 4.1.2.1, OpenID Connect Core 3.1.2.6). The code comes in the
// URL, so only the standard ones are named, and never as sent.
func providerRefusal(code string) string {
	switch code {
	case "access_denied":
		return "The identity provider refused the sign-in (access denied)."
	case "login_required", "interaction_required", "consent_required", "account_selection_required":
		return "The identity provider needs you to sign in there first: sign in again."
	case "temporarily_unavailable", "server_error":
		return "The identity provider could not sign you in just now: try again later."
	}
	return "The identity provider refused the sign-in."
}

// exchange trades the code for a verified ID token and its user, and
// says how the token picked them. The user whose oidc_subject is the
// token's subject comes first, whatever email the token carries or lacks:
// a subject is never reassigned at the provider, where an address may be
// passed on, so when the subject is one user's and the email another's,
// the subject's user signs in. Otherwise the email picks the user, only
// when the provider says it verified it (email_verified true), or says
// nothing and the config accepts that (accept_missing_email_verified).
func (c *Console) exchange(ctx context.Context, cfg *policy.Config, code string, st *loginState) (*policy.User, string, error) {
	p, err := c.oidc.provider(ctx, cfg.Console.OIDC.Issuer)
	if err != nil {
		return nil, "", err
	}
	ctx = oidc.ClientContext(ctx, c.o.HTTPClient)
	tok, err := oauth(cfg, p).Exchange(ctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return nil, "", fmt.Errorf("exchange the code: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		return nil, "", errors.New("the token response has no id_token")
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: cfg.Console.OIDC.ClientID, Now: c.o.Now}).Verify(ctx, raw)
	if err != nil {
		return nil, "", fmt.Errorf("verify the ID token: %w", err)
	}
	if !hmacEqual(idt.Nonce, st.Nonce) {
		return nil, "", errors.New("the ID token's nonce is not this sign-in's")
	}
	if u := cfg.UserBySubject(idt.Subject); u != nil {
		return u, methodOIDCSubject, nil
	}
	var claims struct {
		Email    string     `json:"email"`
		Verified *claimBool `json:"email_verified"`
	}
	if err := idt.Claims(&claims); err != nil {
		return nil, "", fmt.Errorf("read the ID token's claims: %w", err)
	}
	if claims.Email == "" {
		return nil, "", fmt.Errorf("%w (%s)", errNoSubject, idt.Subject)
	}
	switch {
	case claims.Verified == nil && !cfg.Console.OIDC.AcceptMissingEmailVerified:
		return nil, "", fmt.Errorf("%w (%s, subject %s): its ID token has no email_verified claim", errUnchecked, claims.Email, idt.Subject)
	case claims.Verified != nil && !bool(*claims.Verified):
		return nil, "", fmt.Errorf("%w (%s, subject %s)", errUnverified, claims.Email, idt.Subject)
	}
	u := cfg.UserByEmail(claims.Email)
	if u == nil {
		return nil, "", fmt.Errorf("%w (%s)", errNoUser, claims.Email)
	}
	if u.OIDCSubject != "" {
		return nil, "", fmt.Errorf("%w (%s, subject %s)", errPinned, claims.Email, idt.Subject)
	}
	return u, methodOIDC, nil
}

// claimBool is a boolean claim as providers send it: a JSON boolean, or
// the string "true" or "false" (Amazon Cognito's email_verified, for
// one). Anything else is false, never an error: a claim pagerd cannot
// read vouches for nothing.
type claimBool bool

// UnmarshalJSON reads true, false, "true" and "false".
func (b *claimBool) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case "true", `"true"`:
		*b = true
	default:
		*b = false
	}
	return nil
}
