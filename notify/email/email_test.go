package email_test

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/email"
)

func page() notify.Message {
	return notify.Message{Incident: "0a-06ck4dd3020w86jz", Service: "aion-r-api", Priority: "SEV-4", Urgency: "low", Level: 1,
		LevelName: "primary", User: "eng-a", UserName: "Engineer A", Channel: "email", Address: "eng-a@aion.example",
		Summary: "Disk 80% full\r\nBcc: evil@example.com", Text: "[SEV-4] aion-r-api: Disk 80% full (incident 0a-06ck4dd3020w86jz)",
		AckURL: "https://pagerd.example.com/ack/djF8MGEtMDZjazRkZDMwMjB3ODZqenxlbmctYXwxNzU3NTcwNDYw.Fs5ZzSNiIScAiBD9KiyTJzPIdLewuPQ4Pe94Uvm1y3E"}
}

// deliver sends the page over STARTTLS with AUTH PLAIN to a real SMTP
// server and returns the one mail it received.
func deliver(t *testing.T, m notify.Message) providertest.Mail {
	t.Helper()
	srv := providertest.NewSMTP(t)
	n, err := email.New(email.Options{Smarthost: srv.Addr, From: "pagerd <pagerd@aion.example>", Username: providertest.SMTPUser,
		Password: providertest.SMTPPassword, RootCAs: srv.Pool})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	mails := srv.Mails()
	if len(mails) != 1 {
		t.Fatalf("%d mails", len(mails))
	}
	return mails[0]
}

// A page delivered over STARTTLS with AUTH PLAIN to a real SMTP server,
// and read back as mail: who from, to whom, the subject, and the plain
// text body with the ack link whole.
func TestEmailDeliversOverSTARTTLS(t *testing.T) {
	m := page()
	got := deliver(t, m)
	if !got.TLS || got.User != providertest.SMTPUser || got.From != "pagerd@aion.example" || len(got.To) != 1 || got.To[0] != m.Address {
		t.Fatalf("envelope: TLS %v user %q from %q to %q", got.TLS, got.User, got.From, got.To)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(got.Data)))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	if subject != "[SEV-4] aion-r-api: Disk 80% full Bcc: evil@example.com" {
		t.Fatalf("subject %q", subject)
	}
	if msg.Header.Get("Bcc") != "" {
		t.Fatal("the summary made a header of its own")
	}
	from, _ := mail.ParseAddress(msg.Header.Get("From"))
	to, _ := mail.ParseAddress(msg.Header.Get("To"))
	if from == nil || from.Address != "pagerd@aion.example" || to == nil || to.Address != m.Address {
		t.Fatalf("From %q To %q", msg.Header.Get("From"), msg.Header.Get("To"))
	}
	if ct, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type")); ct != "text/plain" || params["charset"] != "utf-8" {
		t.Fatalf("Content-Type %q", msg.Header.Get("Content-Type"))
	}
	if _, err := mail.ParseDate(msg.Header.Get("Date")); err != nil || msg.Header.Get("Message-Id") == "" {
		t.Fatalf("Date %q Message-ID %q", msg.Header.Get("Date"), msg.Header.Get("Message-Id"))
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	text := string(body)
	if !strings.Contains(text, "Acknowledge or resolve: "+m.AckURL+"\r\n") || !strings.Contains(text, m.Text) || !strings.Contains(text, "Incident: "+m.Incident) {
		t.Fatalf("body:\n%s", text)
	}
}

// A certificate pagerd does not trust fails the page for good over
// implicit TLS as over STARTTLS: retried, the page waited out its send
// window before its person's next channel was brought forward, and no
// retry makes the certificate trusted.
func TestEmailImplicitTLSUntrustedCertificateIsFinal(t *testing.T) {
	srv := providertest.NewSMTPImplicitTLS(t)
	o := email.Options{Smarthost: srv.Addr, TLS: email.TLS, From: "pagerd@aion.example", Username: providertest.SMTPUser,
		Password: providertest.SMTPPassword, RootCAs: srv.Pool, Timeout: 5 * time.Second}
	n, err := email.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), page()); err != nil {
		t.Fatalf("a page over implicit TLS to a trusted server: %v", err)
	}
	if m := srv.Mails(); len(m) != 1 || !m[0].TLS {
		t.Fatalf("mails %+v, want one over TLS", m)
	}
	o.RootCAs = nil
	n, err = email.New(o)
	if err != nil {
		t.Fatal(err)
	}
	err = n.Notify(context.Background(), page())
	if err == nil || notify.IsTemporary(err) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("error %v (temporary %v), want a final error naming the certificate", err, notify.IsTemporary(err))
	}
}

func TestEmailImplicitTLSAndRefusals(t *testing.T) {
	srv := providertest.NewSMTP(t)
	ctx := context.Background()
	good := email.Options{Smarthost: srv.Addr, From: "pagerd@aion.example", Username: providertest.SMTPUser, Password: providertest.SMTPPassword,
		RootCAs: srv.Pool, Timeout: 5 * time.Second}

	for _, tc := range []struct {
		name      string
		edit      func(*email.Options)
		to        string
		temporary bool
		want      string
	}{
		{"wrong password", func(o *email.Options) { o.Password = "nope" }, "a@example.com", false, "AUTH"},
		{"untrusted certificate", func(o *email.Options) { o.RootCAs = nil }, "a@example.com", false, "certificate"},
		{"mailbox full, later: the recipient's", nil, "full@example.com", false, "452"},
		{"the server's own trouble, later", nil, "busy@example.com", true, "451"},
		{"no such mailbox", nil, "nobody@example.com", false, "550"},
		{"implicit TLS to a STARTTLS port", func(o *email.Options) { o.TLS = email.TLS; o.Timeout = time.Second }, "a@example.com", true, ""},
		{"nobody listening", func(o *email.Options) { o.Smarthost = "127.0.0.1:1" }, "a@example.com", true, "connect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			if tc.edit != nil {
				tc.edit(&o)
			}
			n, err := email.New(o)
			if err != nil {
				t.Fatal(err)
			}
			m := page()
			m.Address = tc.to
			err = n.Notify(ctx, m)
			if err == nil || notify.IsTemporary(err) != tc.temporary || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v (temporary %v), want temporary %v containing %q", err, notify.IsTemporary(err), tc.temporary, tc.want)
			}
			if strings.Contains(err.Error(), providertest.SMTPPassword) || strings.Contains(err.Error(), o.Password) {
				t.Fatalf("the password is in the error: %v", err)
			}
		})
	}
	if _, err := email.New(email.Options{Smarthost: srv.Addr, From: "pagerd@aion.example", Username: "u", Password: "p", TLS: email.NoTLS}); err == nil {
		t.Fatal("a login without TLS was accepted")
	}
	if len(srv.Mails()) != 0 {
		t.Fatalf("a refused message arrived: %+v", srv.Mails())
	}
}

// TestEmailLongSubjectIsFolded: a page whose summary is long (the intake
// keeps 1,024 characters), not ASCII, or ASCII with no space to fold at (a
// long URL), arrives with its Subject folded, no header line over 78
// characters (RFC 5322 allows 998; servers refuse or cut longer lines),
// and decodes back to the whole summary. A summary that looks like an
// RFC 2047 encoded word decodes to what it says, not to what it encodes.
func TestEmailLongSubjectIsFolded(t *testing.T) {
	for _, tc := range []struct{ name, summary string }{
		{"not ASCII", string([]rune(strings.Repeat("Überlast auf Knoten ß-7, Latenz ↑ ", 40))[:1000])},
		{"a long URL", "see https://grafana.example.com/d/x?" + strings.Repeat("var-host=node-0123456789&", 40)},
		{"no space, not ASCII", strings.Repeat("過負荷", 150)},
		{"an encoded word", "=?utf-8?q?all_clear=0D=0ABcc:_x@evil.example?="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := page()
			m.Summary = tc.summary
			raw := string(deliver(t, m).Data)
			head, _, _ := strings.Cut(raw, "\r\n\r\n")
			for _, l := range strings.Split(head, "\r\n") {
				if len(l) > 78 {
					t.Fatalf("a header line of %d characters: %.120s…", len(l), l)
				}
			}
			msg, err := mail.ReadMessage(strings.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(head, "From: ") || !strings.Contains(head, "\r\nSubject: =?utf-8?q?") && !strings.Contains(head, "\r\nSubject: [SEV-4]") {
				t.Errorf("the Subject does not start on its own line:\n%s", head)
			}
			subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			if err != nil {
				t.Fatal(err)
			}
			if want := "[SEV-4] aion-r-api: " + strings.Join(strings.Fields(m.Summary), " "); subject != want {
				t.Fatalf("subject\n%q\nwant\n%q", subject, want)
			}
		})
	}
}

// TestEmailLateAnswerToDataIsNotSentAgain: the server takes the message
// (DATA's end) but answers after the timeout. Retried, the person got the
// email 3 times and the page was said failed; it is sent once and the
// error says it may have been sent. The breaker still counts it.
func TestEmailLateAnswerToDataIsNotSentAgain(t *testing.T) {
	srv := providertest.NewSMTP(t)
	srv.HoldDataAnswers(t)
	n, err := email.New(email.Options{Smarthost: srv.Addr, From: "pagerd@aion.example", Username: providertest.SMTPUser,
		Password: providertest.SMTPPassword, RootCAs: srv.Pool, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	chain := notify.Chain(n, notify.ChainOptions{Attempts: 3, RetryBase: time.Millisecond, BreakerFailures: 1, BreakerCooldown: time.Minute})
	err = chain.Notify(context.Background(), page())
	if got := len(srv.Mails()); got != 1 {
		t.Errorf("one page, %d mails", got)
	}
	if !errors.Is(err, notify.ErrMaybeSent) || notify.IsTemporary(err) || !strings.HasPrefix(err.Error(), "may have been sent: email: ") {
		t.Errorf("temporary %v err %v", notify.IsTemporary(err), err)
	}
	if err := chain.Notify(context.Background(), page()); !errors.Is(err, notify.ErrCircuitOpen) {
		t.Errorf("the breaker did not count the late answer: %v", err)
	}
}

// TestEmailOnePersonsFullMailboxDoesNotOpenTheCircuit: the server answers
// RCPT TO for one person "452 4.2.2 Mailbox full, try later", as it will
// for hours. The chain the daemon builds took it for the server's trouble:
// each page to them was retried (to the same full mailbox), and five in a
// row opened the email circuit, so everyone else's email pages failed
// "circuit open" for its cooldown. A 4xx about the recipient (a mailbox
// status, class X.1 or X.2, or 450) is now the page's own failure: not
// retried, not counted, and it says why.
func TestEmailOnePersonsFullMailboxDoesNotOpenTheCircuit(t *testing.T) {
	srv := providertest.NewSMTP(t)
	n, err := email.New(email.Options{Smarthost: srv.Addr, From: "pagerd@aion.example", Username: providertest.SMTPUser,
		Password: providertest.SMTPPassword, RootCAs: srv.Pool, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	o := notify.DefaultChainOptions
	o.RetryBase = time.Millisecond
	chain := notify.Chain(n, o)
	full := page()
	full.Address = "full@example.com"
	for i := range o.BreakerFailures + 1 {
		err := chain.Notify(context.Background(), full)
		if err == nil || notify.IsTemporary(err) || errors.Is(err, notify.ErrCircuitOpen) || !strings.Contains(err.Error(), "452") {
			t.Fatalf("page %d to the full mailbox: %v (temporary %v), want a final failure naming the 452", i+1, err, notify.IsTemporary(err))
		}
	}
	if err := chain.Notify(context.Background(), page()); err != nil {
		t.Fatalf("another person's page after the full mailbox's: %v", err)
	}
	if got := len(srv.Mails()); got != 1 {
		t.Fatalf("%d mails delivered, want 1", got)
	}
}

// TestEmailServersTroubleAtRcptIsRetried: Postfix answers its client and
// sender restrictions at RCPT TO, "450 4.7.1 Client host rejected: cannot
// find your hostname" or "450 4.1.8 Sender address rejected: Domain not
// found" while DNS fails: pagerd's trouble, for every recipient, and over
// when DNS answers again. A 450 was taken for the recipient's mailbox
// whatever its enhanced code said: never retried, and never counted by the
// breaker. The enhanced code decides; a 450 without one is still the
// mailbox's.
func TestEmailServersTroubleAtRcptIsRetried(t *testing.T) {
	srv := providertest.NewSMTP(t)
	n, err := email.New(email.Options{Smarthost: srv.Addr, From: "pagerd@aion.example", Username: providertest.SMTPUser,
		Password: providertest.SMTPPassword, RootCAs: srv.Pool, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		to        string
		temporary bool
	}{
		{"hostname@example.com", true},
		{"senderdomain@example.com", true},
		{"unavailable@example.com", false},
		{"full@example.com", false},
	} {
		m := page()
		m.Address = tc.to
		err := n.Notify(context.Background(), m)
		if err == nil || notify.IsTemporary(err) != tc.temporary || !strings.Contains(err.Error(), "450") && !strings.Contains(err.Error(), "452") {
			t.Errorf("%s: %v (temporary %v), want temporary %v", tc.to, err, notify.IsTemporary(err), tc.temporary)
		}
	}
}

// TestCheckAddressesSaysWhichAddressFails: the provider check asks the
// server about every contact's address on one session, sending no mail;
// each address gets its own verdict: a mailbox the server does not have,
// one full, and one fine.
func TestCheckAddressesSaysWhichAddressFails(t *testing.T) {
	srv := providertest.NewSMTP(t)
	n, err := email.New(email.Options{Smarthost: srv.Addr, From: "pagerd@aion.example", Username: providertest.SMTPUser,
		Password: providertest.SMTPPassword, RootCAs: srv.Pool})
	if err != nil {
		t.Fatal(err)
	}
	errs := n.CheckAddresses(context.Background(), []string{"ann@example.com", "nobody@example.com", "full@example.com", "bob@example.com"})
	if len(errs) != 2 || errs["nobody@example.com"] == nil || errs["full@example.com"] == nil {
		t.Fatalf("errors by address %v, want nobody@ and full@ only", errs)
	}
	if !strings.Contains(errs["nobody@example.com"].Error(), "550") || !strings.Contains(errs["full@example.com"].Error(), "Mailbox full") {
		t.Errorf("errors %v do not say the server's answers", errs)
	}
	if m := srv.Mails(); len(m) != 0 {
		t.Errorf("the check sent %d mails", len(m))
	}
}

// TestEmailMessageIDIsTheSameForEveryTryOfAPage: two tries of one page (a
// retry, or the takeover's after its claim was cut while the server's
// answer to the end of DATA was lost: "may have been sent") reach a real
// SMTP server with one Message-ID, so that the person's mail client
// keeps one of them (Gmail drops a message whose Message-ID it holds);
// another page of the incident, the page to another person, and the same
// step of another incident each have their own. Each is RFC 5322's
// "<id@domain>", the domain the sender's. (Before: a new random
// Message-ID at each try, and the person got the page twice.)
func TestEmailMessageIDIsTheSameForEveryTryOfAPage(t *testing.T) {
	srv := providertest.NewSMTP(t)
	n, err := email.New(email.Options{Smarthost: srv.Addr, From: "pagerd <pagerd@aion.example>", Username: providertest.SMTPUser,
		Password: providertest.SMTPPassword, RootCAs: srv.Pool})
	if err != nil {
		t.Fatal(err)
	}
	first := page()
	first.Key = "d7"
	first.At = time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	again := first
	again.At = first.At.Add(31 * time.Second) // the takeover's try
	next := first
	next.Key = "d8"
	other := first
	other.User, other.UserName, other.Address = "eng-b", "Engineer B", "eng-b@aion.example"
	otherIncident := first
	otherIncident.Incident = "0a-06ck4dd3020w86k0"
	for _, m := range []notify.Message{first, again, next, other, otherIncident} {
		if err := n.Notify(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	mails := srv.Mails()
	if len(mails) != 5 {
		t.Fatalf("%d mails, want 5", len(mails))
	}
	ids := make([]string, len(mails))
	for i, got := range mails {
		msg, err := mail.ReadMessage(strings.NewReader(string(got.Data)))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = msg.Header.Get("Message-Id")
		if !strings.HasPrefix(ids[i], "<") || !strings.HasSuffix(ids[i], "@aion.example>") || strings.Count(ids[i], "@") != 1 ||
			strings.ContainsAny(strings.Trim(ids[i], "<>"), " \t\"(),:;<>[\\]") {
			t.Fatalf("Message-ID %q is not <id@aion.example>", ids[i])
		}
	}
	if ids[0] != ids[1] {
		t.Fatalf("two tries of one page have Message-IDs %q and %q", ids[0], ids[1])
	}
	seen := map[string]string{}
	for i, what := range []string{"the page", "the page's retry", "the incident's next page", "the page to another person", "another incident's page"} {
		if prev, dup := seen[ids[i]]; dup && i != 1 {
			t.Fatalf("%s has the Message-ID of %s: %q", what, prev, ids[i])
		}
		seen[ids[i]] = what
	}
}
