package email_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/email"
)

// closingSMTP is a plaintext SMTP server that closes the connection
// cleanly (TCP FIN) at one step, as a load balancer with no backend or a
// relay restarting does: "greet" (at once, no greeting), "mail" (after
// reading MAIL FROM, before answering), "dot" (after the whole message and
// its final ".", before answering), or "" (never: it takes every message).
// "garble" closes nowhere but answers the final "." with a line that is no
// SMTP reply, as a middlebox that rewrites replies can.
// It counts sessions and keeps the messages it read whole.
type closingSMTP struct {
	addr     string
	sessions atomic.Int32
	mu       sync.Mutex
	data     []string
}

func newClosingSMTP(t *testing.T, closeAt string) *closingSMTP {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s := &closingSMTP{addr: l.Addr().String()}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.sessions.Add(1)
			go s.serve(c, closeAt)
		}
	}()
	return s
}

func (s *closingSMTP) serve(c net.Conn, closeAt string) {
	defer c.Close()
	if closeAt == "greet" {
		return
	}
	r := bufio.NewReader(c)
	say := func(l string) { _, _ = c.Write([]byte(l + "\r\n")) }
	say("220 localhost ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250-localhost")
			say("250 8BITMIME")
		case strings.HasPrefix(cmd, "MAIL") && closeAt == "mail":
			return
		case cmd == "DATA":
			say("354 go on")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			s.mu.Lock()
			s.data = append(s.data, b.String())
			s.mu.Unlock()
			if closeAt == "dot" {
				return
			}
			if closeAt == "garble" {
				say("25O 2.0.0 Ok: queued as 4F2B1C")
				continue
			}
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

func (s *closingSMTP) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.data...)
}

// chain is the notifier as the daemon builds it: retried, behind a breaker.
func chain(t *testing.T, o email.Options) notify.Notifier {
	t.Helper()
	n, err := email.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return notify.Chain(n, notify.ChainOptions{Attempts: 3, RetryBase: time.Millisecond, BreakerFailures: 10, BreakerCooldown: time.Minute})
}

// TestEmailServerClosingBeforeDataIsRetried: a server that closes the
// connection before the message went (at the greeting, in plaintext or
// before STARTTLS, or after MAIL FROM) sent nothing: the page is tried
// again, not failed for good after one try.
func TestEmailServerClosingBeforeDataIsRetried(t *testing.T) {
	for _, tc := range []struct{ name, closeAt, tls, step string }{
		{"at the greeting, STARTTLS", "greet", email.STARTTLS, "STARTTLS"},
		{"at the greeting, no TLS", "greet", email.NoTLS, "MAIL FROM"},
		{"after MAIL FROM", "mail", email.NoTLS, "MAIL FROM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newClosingSMTP(t, tc.closeAt)
			err := chain(t, email.Options{Smarthost: srv.addr, From: "pagerd@aion.example", TLS: tc.tls, Timeout: 2 * time.Second}).
				Notify(context.Background(), page())
			if got := srv.sessions.Load(); got != 3 {
				t.Errorf("%d sessions, want 3 (tried again)", got)
			}
			if !notify.IsTemporary(err) || errors.Is(err, notify.ErrMaybeSent) || !strings.Contains(err.Error(), tc.step+": EOF") {
				t.Errorf("temporary %v err %v, want temporary at %s", notify.IsTemporary(err), err, tc.step)
			}
		})
	}
}

// TestEmailServerClosingAfterDotIsMaybeSent: the server read the whole
// message, its final "." included, and closed before its answer: the mail
// may well be delivered. It is sent once, and the error says it may have
// been sent (docs/RELIABILITY.md), not a plain failure.
func TestEmailServerClosingAfterDotIsMaybeSent(t *testing.T) { sentOnceMaybe(t, "dot") }

// sentOnceMaybe pages through a server that fails as mode says after the
// end of DATA, and requires the mail sent once, in one session, and the
// error "may have been sent".
func sentOnceMaybe(t *testing.T, mode string) {
	t.Helper()
	srv := newClosingSMTP(t, mode)
	err := chain(t, email.Options{Smarthost: srv.addr, From: "pagerd@aion.example", TLS: email.NoTLS, Timeout: 2 * time.Second}).
		Notify(context.Background(), page())
	if got := len(srv.messages()); got != 1 || srv.sessions.Load() != 1 {
		t.Errorf("%d messages in %d sessions, want 1 in 1", got, srv.sessions.Load())
	}
	if !errors.Is(err, notify.ErrMaybeSent) || notify.IsTemporary(err) || !strings.HasPrefix(err.Error(), "may have been sent: email: ") {
		t.Errorf("temporary %v err %v, want may have been sent", notify.IsTemporary(err), err)
	}
}

// TestEmailGarbledAnswerAfterDotIsMaybeSent: the server read the whole
// message, its final "." included, and answered with a line that is no
// SMTP reply (a middlebox rewriting replies, a reply cut short). Only the
// server's own refusal (a 4xx or 5xx) says it did not take the mail; this
// said nothing, and was reported "failed", a refused page, though the
// mail may well be delivered: the person's next step came at once, the
// level could be escalated as one that reached nobody, and the breaker
// did not count it. It may have been sent, and is not sent again.
func TestEmailGarbledAnswerAfterDotIsMaybeSent(t *testing.T) { sentOnceMaybe(t, "garble") }
