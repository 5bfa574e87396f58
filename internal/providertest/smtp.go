package providertest

import (
	"bytes"
	"cmp"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// A real SMTP server (github.com/emersion/go-smtp) for the email tests:
// STARTTLS on a self-signed certificate made for the test, and AUTH PLAIN,
// which it refuses before TLS, as mail servers do. It keeps every message
// it accepts.

// The SMTP server's login, for notifiers.email.
const (
	SMTPUser     = "pagerd"
	SMTPPassword = "smtp-password-for-tests"
)

// NotOwnedSender is a sender the server refuses for SMTPUser, at RCPT TO
// as Postfix does: the login passes, every mail from it fails.
const NotOwnedSender = "someone-else@example.com"

// Mail is one message the server accepted.
type Mail struct {
	From string
	To   []string
	Data []byte
	// TLS and User say how it came: over TLS, logged in as User.
	TLS  bool
	User string
}

// SMTP is the running server.
type SMTP struct {
	// Addr is host:port, for notifiers.email.smarthost.
	Addr string
	// CAFile is the PEM file of its certificate, for notifiers.email.ca_file.
	CAFile string
	// Pool holds its certificate.
	Pool *x509.CertPool

	mu       sync.Mutex
	password string // the password it takes, "" for SMTPPassword
	mails    []Mail
	hold     chan struct{}
}

// RotatePassword makes the server take password for SMTPUser from now on,
// and refuse the old one (535).
func (f *SMTP) RotatePassword(password string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.password = password
}

// HoldDataAnswers makes the server keep each message it takes from now on
// but answer its DATA only when the test ends: a server that accepts the
// mail and answers after the sender's timeout.
func (f *SMTP) HoldDataAnswers(t testing.TB) {
	f.mu.Lock()
	defer f.mu.Unlock()
	hold := make(chan struct{})
	f.hold = hold
	t.Cleanup(func() { close(hold) })
}

// NewSMTP starts an SMTP server for the test, which offers STARTTLS.
func NewSMTP(t testing.TB) *SMTP { t.Helper(); return newSMTP(t, false) }

// NewSMTPImplicitTLS starts an SMTP server for the test that speaks TLS
// from the first byte, as on port 465 (notifiers.email.tls: tls).
func NewSMTPImplicitTLS(t testing.TB) *SMTP { t.Helper(); return newSMTP(t, true) }

func newSMTP(t testing.TB, implicitTLS bool) *SMTP {
	t.Helper()
	certPEM, keyPEM := selfSigned(t)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	f := &SMTP{Pool: x509.NewCertPool(), CAFile: filepath.Join(t.TempDir(), "smtp-ca.pem")}
	f.Pool.AppendCertsFromPEM(certPEM)
	if err := os.WriteFile(f.CAFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &smtpSession{f: f, c: c}, nil }))
	s.Domain = "localhost"
	s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	s.AllowInsecureAuth = false
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.Addr = l.Addr().String()
	if implicitTLS {
		l = tls.NewListener(l, s.TLSConfig)
	}
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	return f
}

// Mails are the messages accepted, in order.
func (f *SMTP) Mails() []Mail {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Mail(nil), f.mails...)
}

type smtpSession struct {
	f    *SMTP
	c    *smtp.Conn
	user string
	from string
	to   []string
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		s.f.mu.Lock()
		want := cmp.Or(s.f.password, SMTPPassword)
		s.f.mu.Unlock()
		if username != SMTPUser || password != want {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		s.user = username
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	s.from = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.from == NotOwnedSender {
		// Postfix's reject_sender_login_mismatch, which it answers at
		// RCPT TO (smtpd_delay_reject): every mail from it is refused.
		return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "<" + s.from + ">: Sender address rejected: not owned by user " + s.user}
	}
	if to == "full@example.com" {
		return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "Mailbox full, try later"}
	}
	if to == "busy@example.com" {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Local error in processing, try later"}
	}
	if to == "hostname@example.com" {
		// Postfix's reject_unknown_client_hostname, which it answers at
		// RCPT TO: the sending host's trouble, whoever the mail is for.
		return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Client host rejected: cannot find your hostname"}
	}
	if to == "senderdomain@example.com" {
		// reject_unknown_sender_domain while DNS fails: the sender's.
		return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 1, 8}, Message: "Sender address rejected: Domain not found"}
	}
	if to == "unavailable@example.com" {
		// A server that gives no enhanced code: 450 is the mailbox's.
		return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.NoEnhancedCode, Message: "Mailbox unavailable"}
	}
	if to == "nobody@example.com" {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, tlsOn := s.c.TLSConnectionState()
	s.f.mu.Lock()
	s.f.mails = append(s.f.mails, Mail{From: s.from, To: append([]string(nil), s.to...), Data: bytes.Clone(b), TLS: tlsOn, User: s.user})
	hold := s.f.hold
	s.f.mu.Unlock()
	if hold != nil {
		<-hold
	}
	return nil
}

func (s *smtpSession) Reset()        { s.from, s.to = "", nil }
func (s *smtpSession) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and localhost.
func selfSigned(t testing.TB) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pagerd test SMTP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}
