package policy

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// ConsoleConfig turns on the web console under /ui/ and says how people
// sign in to it: through an OpenID Connect identity provider (OIDC), with
// a password whose bcrypt hash is in their user entry (the fallback for
// teams without one), or both. The console is off while SessionKey is
// unset.
type ConsoleConfig struct {
	// SessionKey signs the console's session cookies and CSRF tokens
	// (HMAC-SHA256): at least 32 bytes; keep it in a file or the
	// environment. Changing it signs everyone out.
	SessionKey     Secret `yaml:"session_key"`
	SessionKeyFile string `yaml:"session_key_file"`
	// SessionTTL is how long a sign-in lasts (default 12h, at most 30d).
	SessionTTL Duration `yaml:"session_ttl"`
	// OIDC, when set, signs people in with an identity provider: the
	// subject it vouches for picks the user who has it
	// (users[].oidc_subject), or else the email (users[].email).
	OIDC *OIDCConfig `yaml:"oidc"`
}

// OIDCConfig is the console's OpenID Connect client: the provider's
// issuer URL (its discovery document is read from there) and the client
// registered with it, whose redirect URL is server.public_url + /ui/login/callback.
type OIDCConfig struct {
	Issuer           string `yaml:"issuer"`
	ClientID         string `yaml:"client_id"`
	ClientSecret     Secret `yaml:"client_secret"`
	ClientSecretFile string `yaml:"client_secret_file"`
	// Name is the provider's name on the sign-in button (default
	// "your identity provider").
	Name string `yaml:"name"`
	// AcceptMissingEmailVerified lets an ID token's email pick the user
	// when the token has no email_verified claim. Off by default: a
	// provider that lets people type in an address without checking it
	// would otherwise let anyone sign in as any user by their email. A
	// token that says email_verified false is refused either way.
	AcceptMissingEmailVerified bool `yaml:"accept_missing_email_verified"`
}

// Enabled reports whether the console is on.
func (c *ConsoleConfig) Enabled() bool { return c.SessionKey != "" }

// DefaultSessionTTL is how long a console sign-in lasts when
// console.session_ttl is unset.
const DefaultSessionTTL = 12 * time.Hour

// ConsoleRole is what a user may do in the web console: their role, or
// responder when they have none.
func (u *User) ConsoleRole() Role {
	if u.Role == "" {
		return RoleResponder
	}
	return u.Role
}

// UserByEmail is the user with the address, compared without regard to
// case, or nil.
func (c *Config) UserByEmail(email string) *User {
	if email == "" {
		return nil
	}
	for i := range c.Users {
		if strings.EqualFold(c.Users[i].Email, email) {
			return &c.Users[i]
		}
	}
	return nil
}

// UserBySubject is the user whose oidc_subject is sub, compared exactly
// (an OpenID Connect subject is case sensitive), or nil.
func (c *Config) UserBySubject(sub string) *User {
	if sub == "" {
		return nil
	}
	for i := range c.Users {
		if c.Users[i].OIDCSubject == sub {
			return &c.Users[i]
		}
	}
	return nil
}

// userLogin checks what lets a user into the console: their role, their
// password hash and their subject at the identity provider, which no
// other user may have (seen maps each subject to its user's id).
func (v *validator) userLogin(f string, u *User, seen map[string]string) {
	switch u.Role {
	case "", RoleViewer, RoleResponder, RoleAdmin:
	default:
		v.errf(f+".role", "%q is not a role: use viewer (reads), responder (also acts on incidents and overrides; the default) or admin (also reload and backup)", u.Role)
	}
	u.PasswordHash = v.secret(f+".password_hash", u.PasswordHash, u.PasswordHashFile)
	if u.PasswordHash != "" {
		// Never echo it, though it is only a hash.
		if _, err := bcrypt.Cost([]byte(u.PasswordHash.Reveal())); err != nil {
			v.errf(f+".password_hash", "is not a bcrypt hash (like $2y$10$...: htpasswd -nbBC 10 \"\" PASSWORD | cut -c2-)")
		}
	}
	v.oidcSubject(f+".oidc_subject", u, seen)
}

// oidcSubject checks a user's subject: there (a blank one is a mistake,
// not a way to leave it out), as the provider writes it, and no other
// user's, since a token with it would sign in as either.
func (v *validator) oidcSubject(field string, u *User, seen map[string]string) {
	sub := u.OIDCSubject
	switch {
	case sub == "":
		return
	case strings.TrimSpace(sub) == "":
		v.errf(field, "is blank: write the subject (the ID token's sub claim) of the person at the provider, or remove oidc_subject")
		return
	case strings.TrimSpace(sub) != sub:
		v.errf(field, "%q has spaces at an end: the ID token's sub claim is compared exactly, so it would never match", sub)
		return
	}
	v.subjectFields = append(v.subjectFields, field)
	if other, ok := seen[sub]; ok {
		v.errf(field, "user %q has the same oidc_subject; a subject is one person at the provider, so give it to one user", other)
		return
	}
	seen[sub] = u.ID
}

// console checks the console section.
func (v *validator) console() {
	c := &v.cfg.Console
	c.SessionKey = v.secret("console.session_key", c.SessionKey, c.SessionKeyFile)
	if c.SessionKey != "" && len(c.SessionKey) < 32 {
		v.errf("console.session_key", "must be at least 32 bytes (a random string: openssl rand -hex 32)")
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = Duration(DefaultSessionTTL)
	}
	if c.SessionTTL < Duration(5*time.Minute) || c.SessionTTL > Duration(30*24*time.Hour) {
		v.errf("console.session_ttl", "must be from 5m to 30d")
	}
	declared := c.SessionKey != "" || c.SessionKeyFile != ""
	if c.OIDC == nil && len(v.subjectFields) > 0 {
		more := ""
		switch n := len(v.subjectFields) - 1; n {
		case 0:
		case 1:
			more = " (nor does one more user's)"
		default:
			more = fmt.Sprintf(" (nor do %d more users')", n)
		}
		v.warnf(v.subjectFields[0], "does nothing without console.oidc%s: a subject is who the identity provider signs in; set console.oidc, or remove oidc_subject", more)
	}
	if o := c.OIDC; o != nil {
		if !declared {
			v.errf("console.oidc", "the console is off without console.session_key: set it, or remove oidc")
		}
		u, err := url.Parse(o.Issuer)
		if o.Issuer == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.errf("console.oidc.issuer", "%q is not an absolute http(s) URL (the provider's issuer, like https://accounts.google.com)", o.Issuer)
		}
		if o.ClientID == "" {
			v.errf("console.oidc.client_id", "is required: the client id the provider gave pagerd")
		}
		o.ClientSecret = v.secret("console.oidc.client_secret", o.ClientSecret, o.ClientSecretFile)
		if v.cfg.Server.PublicURL == "" {
			v.errf("console.oidc", "needs server.public_url: the provider sends people back to server.public_url + /ui/login/callback")
		}
		if o.Name == "" {
			o.Name = "your identity provider"
		}
	}
	if !declared {
		return
	}
	passwords := false
	for i := range v.cfg.Users {
		passwords = passwords || v.cfg.Users[i].PasswordHash != "" || v.cfg.Users[i].PasswordHashFile != ""
	}
	if c.OIDC == nil && !passwords {
		v.warnf("console", "nobody can sign in: set console.oidc, or give users a password_hash")
	}
	if c.OIDC != nil {
		mapped := 0
		for i := range v.cfg.Users {
			if v.cfg.Users[i].Email != "" || v.cfg.Users[i].OIDCSubject != "" {
				mapped++
			}
		}
		if mapped == 0 {
			v.warnf("console.oidc", "no user has an email or an oidc_subject, so nobody can sign in through the provider (users[].email, users[].oidc_subject)")
		}
	}
}
