// Package oidctest is an OpenID Connect provider for tests: discovery,
// JWKS, the authorization endpoint and the token endpoint of the
// authorization code flow with PKCE, on an httptest server, signing ID
// tokens (RS256) with a key it generates. Its discovery document is
// go-oidc's own ProviderConfig and its keys go-jose's JSONWebKeySet, so
// the console's client meets the same shapes a real provider serves.
//
// It signs in whoever the test says (SignInAs, SignIn), at once: the
// authorization endpoint redirects straight back with a code, as a
// provider does for a user who is already signed in there.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Provider is a running test identity provider.
type Provider struct {
	// URL is the issuer.
	URL          string
	ClientID     string
	ClientSecret string

	now    func() time.Time
	key    *rsa.PrivateKey
	signer jose.Signer

	mu    sync.Mutex
	who   Identity
	codes map[string]grant
	// Issued counts the ID tokens issued.
	issued int
	// discoveries counts the discovery requests; while hold is not nil
	// they wait for it to close, and the next failDiscovery of them
	// answer 503.
	discoveries   int
	hold          chan struct{}
	failDiscovery int
}

// Identity is who the provider signs in: the ID token's subject (sub)
// and email claims, and whether the email is verified. A token for an
// identity without an email has neither email nor email_verified, as
// providers send when the email scope is not granted or they have none.
type Identity struct {
	Subject  string
	Email    string
	Verified bool
	// NoVerifiedClaim leaves email_verified out of a token that has an
	// email, as some providers do (they say nothing either way).
	NoVerifiedClaim bool
	// VerifiedAsString sends email_verified as the string "true" or
	// "false" rather than a JSON boolean, as Amazon Cognito does.
	VerifiedAsString bool
}

// grant is what an authorization code stands for.
type grant struct {
	who                        Identity
	nonce, challenge, redirect string
}

// Start runs a provider until the test ends; now is its clock (the one
// the relying party checks tokens with).
func Start(t testing.TB, now func() time.Time) *Provider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "test-key", Algorithm: "RS256"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{ClientID: "pagerd-console", ClientSecret: "test-client-secret-0123456789", now: now, key: key, signer: signer,
		codes: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /keys", p.keys)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// SignInAs makes the provider sign in the person with this email, as
// verified or not; their subject is "sub-" and the email.
func (p *Provider) SignInAs(email string, verified bool) {
	p.SignIn(Identity{Subject: "sub-" + email, Email: email, Verified: verified})
}

// SignIn makes the provider sign in this identity.
func (p *Provider) SignIn(who Identity) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.who = who
}

// Issued is how many ID tokens the provider issued.
func (p *Provider) Issued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.issued
}

// Discoveries is how many times the discovery document was asked for,
// answered or not.
func (p *Provider) Discoveries() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.discoveries
}

// HoldDiscovery makes discovery requests wait, as a provider that is slow
// or down does, until release is called (or the request ends). release
// may be called more than once; the test's end calls it too.
func (p *Provider) HoldDiscovery(t testing.TB) (release func()) {
	hold := make(chan struct{})
	p.mu.Lock()
	p.hold = hold
	p.mu.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			p.mu.Lock()
			if p.hold == hold {
				p.hold = nil
			}
			p.mu.Unlock()
			close(hold)
		})
	}
	t.Cleanup(release)
	return release
}

// FailDiscovery makes the next n discovery requests answer 503.
func (p *Provider) FailDiscovery(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failDiscovery = n
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.discoveries++
	hold := p.hold
	p.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	p.mu.Lock()
	fail := p.failDiscovery > 0
	if fail {
		p.failDiscovery--
	}
	p.mu.Unlock()
	if fail {
		http.Error(w, "discovery unavailable", http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, oidc.ProviderConfig{IssuerURL: p.URL, AuthURL: p.URL + "/authorize", TokenURL: p.URL + "/token",
		JWKSURL: p.URL + "/keys", Algorithms: []string{"RS256"}})
}

func (p *Provider) keys(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: "test-key", Algorithm: "RS256", Use: "sig"}}})
}

// authorize checks the request as a provider does (client, redirect,
// response type, PKCE) and redirects back with a code and the state.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	switch {
	case q.Get("client_id") != p.ClientID:
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	case err != nil || redirect.Scheme == "" || q.Get("response_type") != "code":
		http.Error(w, "bad redirect_uri or response_type", http.StatusBadRequest)
		return
	case q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256":
		http.Error(w, "PKCE (S256) is required", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	code := randomString()
	p.codes[code] = grant{who: p.who, nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: redirect.String()}
	p.mu.Unlock()
	back := redirect.Query()
	back.Set("code", code)
	back.Set("state", q.Get("state"))
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// token exchanges a code, once, for an ID token: the client must
// authenticate, the redirect match, and the verifier hash to the
// challenge.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != p.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(p.ClientSecret)) != 1 {
		writeJSONCode(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	p.mu.Lock()
	g, ok := p.codes[r.PostForm.Get("code")]
	delete(p.codes, r.PostForm.Get("code"))
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if !ok || g.redirect != r.PostForm.Get("redirect_uri") || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		writeJSONCode(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	}
	now := p.now()
	claims := struct {
		jwt.Claims
		Nonce    string `json:"nonce,omitempty"`
		Email    string `json:"email,omitempty"`
		Verified any    `json:"email_verified,omitempty"`
	}{Claims: jwt.Claims{Issuer: p.URL, Subject: g.who.Subject, Audience: jwt.Audience{p.ClientID},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(5 * time.Minute))},
		Nonce: g.nonce, Email: g.who.Email}
	switch {
	case g.who.Email == "" || g.who.NoVerifiedClaim:
	case g.who.VerifiedAsString:
		claims.Verified = strconv.FormatBool(g.who.Verified)
	default:
		claims.Verified = g.who.Verified
	}
	raw, err := jwt.Signed(p.signer).Claims(claims).Serialize()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	p.mu.Lock()
	p.issued++
	p.mu.Unlock()
	writeJSON(w, map[string]any{"access_token": randomString(), "token_type": "Bearer", "expires_in": 300, "id_token": raw})
}

func writeJSON(w http.ResponseWriter, v any) { writeJSONCode(w, http.StatusOK, v) }

func writeJSONCode(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func randomString() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
