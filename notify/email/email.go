// Package email sends pages and shift notices as plain-text email through
// an SMTP server (github.com/emersion/go-smtp's client): STARTTLS (the
// default, required) or implicit TLS, and AUTH PLAIN only over TLS. A page
// carries the person's ack link. Contacts `via: email` use it, typically
// in low-urgency ladders (AION-R's "Email (non-critical)").
package email

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/pagerd/pagerd/notify"
)

// TLS modes (notifiers.email.tls).
const (
	STARTTLS = "starttls"
	TLS      = "tls"
	NoTLS    = "none"
)

// DefaultTimeout bounds one message's whole conversation with the server.
const DefaultTimeout = 30 * time.Second

// Options configure a Notifier.
type Options struct {
	// Smarthost is the SMTP server, host:port.
	Smarthost string
	// From is the sender, an address with an optional name.
	From string
	// Username and Password log in (AUTH PLAIN), when set.
	Username, Password string
	// TLS is STARTTLS (default), TLS or NoTLS.
	TLS string
	// RootCAs verify the server's certificate (default the system's).
	RootCAs *x509.CertPool
	// Timeout bounds each message (default DefaultTimeout).
	Timeout time.Duration
	// PasswordFunc, when set, is the password in force, read at every
	// login instead of Password: a password rotated by a config reload
	// is the one the next message logs in with.
	PasswordFunc func() string
}

// Notifier sends email.
type Notifier struct {
	o    Options
	host string
	from *mail.Address
}

var _ notify.Notifier = (*Notifier)(nil)

// New checks the options and makes a Notifier.
func New(o Options) (*Notifier, error) {
	host, _, err := net.SplitHostPort(o.Smarthost)
	if err != nil {
		return nil, fmt.Errorf("smarthost %q: %w", o.Smarthost, err)
	}
	from, err := mail.ParseAddress(o.From)
	if err != nil {
		return nil, fmt.Errorf("from %q: %w", o.From, err)
	}
	if o.TLS == "" {
		o.TLS = STARTTLS
	}
	if o.TLS == NoTLS && o.Username != "" {
		return nil, errors.New("a login without TLS would send the password in the clear")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return &Notifier{o: o, host: host, from: from}, nil
}

// Notify emails the page to the contact's address: the subject names the
// priority, service and summary; the body is the page's text and its ack
// link.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) error {
	if m.Address == "" {
		return errors.New("email: the contact has no address")
	}
	subject := fmt.Sprintf("[%s] %s: %s", m.Priority, m.Service, m.Summary)
	if m.Notice {
		subject = m.Summary // a shift notice
	}
	var b strings.Builder
	b.WriteString(m.Text + "\n\n")
	if m.Incident != "" {
		fmt.Fprintf(&b, "Service:  %s\nPriority: %s (%s urgency)\nIncident: %s\n", m.Service, m.Priority, m.Urgency, m.Incident)
		if m.LevelName != "" {
			fmt.Fprintf(&b, "Level:    %d (%s)\n", m.Level, m.LevelName)
		}
	}
	if m.AckURL != "" {
		fmt.Fprintf(&b, "\nAcknowledge or resolve: %s\n", m.AckURL)
	}
	b.WriteString("\n-- \nSent by pagerd to " + m.UserName + ".\n")
	return n.mail(ctx, m.Address, subject, b.String(), map[string]string{"X-Pagerd-Incident": m.Incident}, n.messageID(m))
}

// Send emails a plain-text message (a shift notice). Extra headers are
// added as they are; an empty value is left out. Its Message-ID is new
// at each call.
func (n *Notifier) Send(ctx context.Context, to, subject, body string, extra map[string]string) error {
	return n.mail(ctx, to, subject, body, extra, "")
}

// mail composes and delivers one message; id is its Message-ID, or a new
// one when empty.
func (n *Notifier) mail(ctx context.Context, to, subject, body string, extra map[string]string, id string) error {
	rcpt, err := mail.ParseAddress(to)
	if err != nil {
		return fmt.Errorf("email: %q is not an address: %w", to, err)
	}
	if id == "" {
		id = n.newMessageID()
	}
	msg, err := n.compose(rcpt, subject, body, extra, id)
	if err != nil {
		return err
	}
	return n.deliver(ctx, rcpt.Address, msg)
}

// messageID is the Message-ID of m (RFC 5322 3.6.4, "<id@domain>", the
// domain the sender's): the same for every try of one notification,
// derived from what names it (m.Key: its step, which a retry and a
// takeover after a cut claim share; the incident; the person and their
// address), so that a mail sent again after the server's answer to it
// was lost ("may have been sent") is one message to the person's mail
// client, which keeps one of two with the same Message-ID (Gmail drops
// the second), not a second page in their inbox. Different notifications
// or recipients get different ones: the parts are hashed together (their
// characters, a step's "|" and ":", are no dot-atom's). A message without
// a key gets a new one at each try (newMessageID).
func (n *Notifier) messageID(m notify.Message) string {
	if m.Key == "" {
		return ""
	}
	h := sha256.New()
	for _, part := range []string{m.Incident, m.Key, m.User, m.Address} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return "<" + hex.EncodeToString(h.Sum(nil)[:16]) + ".pagerd@" + n.domain() + ">"
}

// newMessageID is a Message-ID of its own, random.
func (n *Notifier) newMessageID() string {
	var id [12]byte
	_, _ = rand.Read(id[:])
	return "<" + hex.EncodeToString(id[:]) + "@" + n.domain() + ">"
}

// domain is the Message-ID's domain: the configured sender's.
func (n *Notifier) domain() string {
	return n.from.Address[strings.LastIndexByte(n.from.Address, '@')+1:]
}

// oneLine keeps a header value on one line: an alert's summary must not
// start headers of its own.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.NewReplacer("\r", " ", "\n", " ").Replace(s)), " ")
}

// folded is a header line folded at the spaces of its value (RFC 5322
// 2.2.3), so that no line is over 78 characters where a space allows:
// a summary of 1,024 characters, RFC 2047-encoded, is one line of
// thousands otherwise, over the 998 a line may hold, and servers refuse
// the page or cut its headers. subjectText makes every word short
// enough (encoded words with a space between them, which a reader joins
// again).
func folded(name, value string) string {
	var b strings.Builder
	b.WriteString(name + ":")
	n := len(name) + 1
	for _, w := range strings.Split(value, " ") {
		if n+1+len(w) > 78 {
			b.WriteString("\r\n")
			n = 0
		}
		b.WriteString(" " + w)
		n += 1 + len(w)
	}
	b.WriteString("\r\n")
	return b.String()
}

// maxWord is the longest word of a Subject that folded keeps within 78
// characters a line, the first ("Subject: " and the word) included.
const maxWord = 78 - len("Subject: ")

// subjectText is a Subject's value (one line) as it can be folded: as it
// is when it is printable ASCII and every word fits on a line, else as RFC
// 2047 encoded words (Q, UTF-8) of at most maxWord characters. A word
// with no space to fold at (a long URL in a summary) would otherwise make
// a line over the 998 characters RFC 5322 allows, which servers refuse or
// cut; text that looks like an encoded word ("=?utf-8?q?...?=") would be
// decoded by the reader into something the alert did not say. A reader
// joins adjacent encoded words without the spaces between them, so the
// subject decodes to the text whole.
func subjectText(s string) string {
	plain := !strings.Contains(s, "=?")
	for _, w := range strings.Split(s, " ") {
		plain = plain && len(w) <= maxWord
	}
	for i := 0; plain && i < len(s); i++ {
		plain = s[i] >= ' ' && s[i] <= '~'
	}
	if plain {
		return s
	}
	const prefix, suffix = "=?utf-8?q?", "?="
	var words []string
	var w strings.Builder
	for _, r := range s {
		var piece string
		switch {
		case r == ' ':
			piece = "_"
		case r > ' ' && r <= '~' && r != '=' && r != '?' && r != '_':
			piece = string(r)
		default: // every byte of the rune, so that no word splits it
			for _, b := range []byte(string(r)) {
				piece += fmt.Sprintf("=%02X", b)
			}
		}
		if len(prefix)+w.Len()+len(piece)+len(suffix) > maxWord {
			words = append(words, prefix+w.String()+suffix)
			w.Reset()
		}
		w.WriteString(piece)
	}
	if w.Len() > 0 {
		words = append(words, prefix+w.String()+suffix)
	}
	return strings.Join(words, " ")
}

func (n *Notifier) compose(to *mail.Address, subject, body string, extra map[string]string, messageID string) ([]byte, error) {
	var h bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&h, "%s: %s\r\n", k, v) }
	header("From", n.from.String())
	header("To", to.String())
	h.WriteString(folded("Subject", subjectText(oneLine(subject))))
	header("Date", time.Now().Format(time.RFC1123Z))
	header("Message-ID", messageID)
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated")
	for k, v := range extra {
		if v != "" {
			header(k, oneLine(v))
		}
	}
	h.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&h)
	if _, err := qp.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return h.Bytes(), nil
}

// deliver hands one message to the server: connect (TLS at once, or
// STARTTLS, which must be offered), log in if set, MAIL, RCPT, DATA, QUIT,
// all within the timeout and ctx.
func (n *Notifier) deliver(ctx context.Context, rcpt string, msg []byte) error {
	return n.session(ctx, func(c *smtp.Client) error { return n.send(ctx, c, rcpt, msg) })
}

// send sends one message on an open session: MAIL, RCPT, DATA, QUIT.
// Before the message itself goes (after the server's 354), a page whose
// process stalled since its claim asks whether it is still due
// (notify.StillDueAfterStall): called off, the session ends without the
// message's end, and the server keeps nothing.
func (n *Notifier) send(ctx context.Context, c *smtp.Client, rcpt string, msg []byte) error {
	if err := c.Mail(n.from.Address, nil); err != nil {
		return n.failed("MAIL FROM", err)
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return n.rcptFailed(err)
	}
	w, err := c.Data()
	if err != nil {
		return n.failed("DATA", err)
	}
	if err := notify.StillDueAfterStall(ctx); err != nil {
		return fmt.Errorf("email: %w (the process had stalled before the message went out)", err)
	}
	if _, err := w.Write(msg); err != nil {
		return n.failed("DATA", err)
	}
	if err := w.Close(); err != nil {
		return n.afterData(err)
	}
	_ = c.Quit()
	return nil
}

// rcptFailed is the failure of RCPT TO. A 4xx about the recipient (an
// enhanced code of class X.1, the address, or X.2, the mailbox: "452
// 4.2.2 Mailbox full"; without an enhanced code, 450, mailbox unavailable)
// is the person's, not the server's: it lasts longer than a page's
// retries, and counted by the circuit breaker, five pages to one full
// mailbox stopped everyone's email pages. It is final, as the server's 5xx
// for a mailbox is, and says so.
func (n *Notifier) rcptFailed(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) && recipientsOwn(se) {
		return fmt.Errorf("email: %s: RCPT TO: the recipient's mailbox refuses mail for now: %w", n.o.Smarthost, err)
	}
	return n.failed("RCPT TO", err)
}

// recipientsOwn reports whether a 4xx answer to RCPT TO is about the
// recipient. The enhanced code, when the server gives one, says what it
// is about: a 450 with one of the server's or the sender's ("450 4.7.1
// Client host rejected", "450 4.1.8 Sender address rejected: Domain not
// found", which Postfix answers at RCPT TO) is pagerd's trouble for every
// recipient, retried and counted by the breaker, not one person's.
func recipientsOwn(se *smtp.SMTPError) bool {
	if se.Code < 400 || se.Code >= 500 {
		return false
	}
	switch ec := se.EnhancedCode; {
	case ec[0] == 4 && ec[1] == 1:
		return ec[2] != 7 && ec[2] != 8 // X.1.7 and X.1.8 are the sender's address
	case ec[0] == 4 && ec[1] == 2:
		return true
	case ec[0] <= 0:
		return se.Code == 450 // no enhanced code
	}
	return false
}

// afterData is the failure of the end of DATA, the message sent whole: the
// server's refusal (a 4xx or 5xx reply) is what failed says, but anything
// else may come after it took the message: a network failure, a timeout
// awaiting its answer, the connection closed before it, or an answer that
// is no SMTP reply (a middlebox rewriting replies, a line cut short). A
// retry would send it again, and a failure would count it refused
// (notify.MaybeSent).
func (n *Notifier) afterData(err error) error {
	e := n.failed("DATA", err)
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		return notify.MaybeSent(e)
	}
	return e
}

// Check connects to the server as a page would (TLS or STARTTLS, the
// login when set) and gives the sender, then RSET and QUIT, sending no
// mail: what pagerd serve tries at start, so that a server that does not
// answer, a certificate it does not trust, a login refused or a sender
// the login may not use shows before the first page.
func (n *Notifier) Check(ctx context.Context) error {
	return n.session(ctx, func(c *smtp.Client) error {
		if err := c.Mail(n.from.Address, nil); err != nil {
			return n.failed("MAIL FROM", err)
		}
		return n.endCheck(c)
	})
}

// CheckAddresses asks the server, as pages to rcpts would, whether it
// takes mail from the sender to each: on one session, MAIL FROM and RCPT
// TO for each, each ended by RSET, then QUIT, sending no mail (no DATA). A
// server that refuses the sender only at RCPT TO (Postfix's
// reject_sender_login_mismatch) and one that knows a recipient's mailbox
// (no such user, a mailbox full) answer there. It returns the error of
// each address that failed; a session that could not be opened, or broke,
// fails every address it did not answer for.
func (n *Notifier) CheckAddresses(ctx context.Context, rcpts []string) map[string]error {
	errs := map[string]error{}
	done := 0
	err := n.session(ctx, func(c *smtp.Client) error {
		for _, rcpt := range rcpts {
			if err := c.Mail(n.from.Address, nil); err != nil {
				return n.failed("MAIL FROM", err)
			}
			if err := c.Rcpt(rcpt, nil); err != nil {
				var se *smtp.SMTPError
				if !errors.As(err, &se) {
					return n.rcptFailed(err) // the session broke
				}
				errs[rcpt] = n.rcptFailed(err)
			}
			if err := c.Reset(); err != nil {
				return n.failed("RSET", err)
			}
			done++
		}
		if err := c.Quit(); err != nil {
			return n.failed("QUIT", err)
		}
		return nil
	})
	if err != nil {
		for _, rcpt := range rcpts[min(done, len(rcpts)):] {
			if errs[rcpt] == nil {
				errs[rcpt] = err
			}
		}
	}
	return errs
}

// endCheck ends a check's session: RSET, so that nothing given is kept,
// and QUIT.
func (n *Notifier) endCheck(c *smtp.Client) error {
	if err := c.Reset(); err != nil {
		return n.failed("RSET", err)
	}
	if err := c.Quit(); err != nil {
		return n.failed("QUIT", err)
	}
	return nil
}

// session opens a session with the server (open), within the timeout and
// ctx, and does what do does on it.
func (n *Notifier) session(ctx context.Context, do func(*smtp.Client) error) error {
	ctx, cancel := context.WithTimeout(ctx, n.o.Timeout)
	defer cancel()
	c, closeConn, err := n.open(ctx)
	if err != nil {
		return err
	}
	defer closeConn()
	return do(c)
}

// open connects to the server (TLS at once, or STARTTLS, which must be
// offered) and logs in if set, within ctx: a stalled server is cut off
// when ctx ends. closeConn closes the connection.
func (n *Notifier) open(ctx context.Context) (_ *smtp.Client, closeConn func(), _ error) {
	tlsCfg := &tls.Config{ServerName: n.host, RootCAs: n.o.RootCAs, MinVersion: tls.VersionTLS12}
	d := &net.Dialer{}
	var conn net.Conn
	var err error
	if n.o.TLS == TLS {
		conn, err = (&tls.Dialer{NetDialer: d, Config: tlsCfg}).DialContext(ctx, "tcp", n.o.Smarthost)
	} else {
		conn, err = d.DialContext(ctx, "tcp", n.o.Smarthost)
	}
	if err != nil {
		err = fmt.Errorf("email: connect to %s: %w", n.o.Smarthost, err)
		var cve *tls.CertificateVerificationError
		if errors.As(err, &cve) {
			// A certificate pagerd does not trust (expired, another
			// name, an unknown issuer) is final, as at STARTTLS: no
			// retry makes it trusted, and the person's next channel
			// comes forward now rather than after the send window.
			return nil, nil, err
		}
		return nil, nil, notify.Temporary(err)
	}
	// A stalled server must not outlive the timeout: closing the
	// connection ends whatever command is waiting.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)

	var c *smtp.Client
	if n.o.TLS == STARTTLS {
		c, err = smtp.NewClientStartTLS(conn, tlsCfg)
		if err != nil {
			stop()
			conn.Close()
			return nil, nil, n.failed("STARTTLS", err)
		}
	} else {
		c = smtp.NewClient(conn)
	}
	closeConn = func() { stop(); c.Close() }
	c.CommandTimeout, c.SubmissionTimeout = n.o.Timeout, n.o.Timeout
	if n.o.Username != "" {
		password := n.o.Password
		if n.o.PasswordFunc != nil {
			password = n.o.PasswordFunc()
		}
		if err := c.Auth(sasl.NewPlainClient("", n.o.Username, password)); err != nil {
			closeConn()
			return nil, nil, n.failed("AUTH", err)
		}
	}
	return c, closeConn, nil
}

// failed names the step that failed and marks what is worth retrying: the
// server's 4xx (try again later) and the network, a connection the server
// closed (io.EOF, io.ErrUnexpectedEOF: a load balancer with no backend, a
// relay restarting) included; a 5xx (no such mailbox, a login refused) is
// not. After the end of DATA, afterData makes the retryable ones "may have
// been sent". go-smtp's errors never hold the password.
func (n *Notifier) failed(step string, err error) error {
	e := fmt.Errorf("email: %s: %s: %w", n.o.Smarthost, step, err)
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		if se.Code >= 400 && se.Code < 500 {
			return notify.Temporary(e)
		}
		return e
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return notify.Temporary(e)
	}
	return e
}
