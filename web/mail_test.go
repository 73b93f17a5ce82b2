package web

import (
	"io"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/keyward/keyward/internal/notify"
)

// mailbox is a real SMTP server (emersion/go-smtp) keeping what it gets.
type mailbox struct {
	Addr string
	mu   sync.Mutex
	got  []receivedMail
}

type receivedMail struct {
	To      []string
	Subject string
	Body    string
}

type mailboxSession struct {
	box *mailbox
	to  []string
}

func (s *mailboxSession) Reset()                               { s.to = nil }
func (s *mailboxSession) Logout() error                        { return nil }
func (s *mailboxSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailboxSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *mailboxSession) Data(r io.Reader) error {
	m, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(m.Body)
	s.box.mu.Lock()
	s.box.got = append(s.box.got, receivedMail{To: s.to, Subject: m.Header.Get("Subject"), Body: string(body)})
	s.box.mu.Unlock()
	return nil
}

func startMailbox(t *testing.T) *mailbox {
	t.Helper()
	box := &mailbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailboxSession{box: box}, nil }))
	srv.Domain = "localhost"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	box.Addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return box
}

func (b *mailbox) mails() []receivedMail {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]receivedMail(nil), b.got...)
}

// TestInvitationMailedThroughSMTP: with an SMTP server configured, an
// invitation goes by e-mail (through notify's mailer to a real SMTP server)
// instead of being shown, and the mailed link opens the invitation.
func TestInvitationMailedThroughSMTP(t *testing.T) {
	box := startMailbox(t)
	mailer, err := notify.NewSMTPMailer("smtp://"+box.Addr, "keyward@example.com")
	if err != nil {
		t.Fatal(err)
	}
	app := newTestApp(t, withOptions(func(o *Options) { o.Mailer = mailer }))
	app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)
	res := cl.postForm(t, "/settings/members", url.Values{"email": {"new@example.com"}, "role": {"MEMBER"}})
	res.wantRedirect(t, "/settings/members")
	ms := box.mails()
	if len(ms) != 1 || strings.Join(ms[0].To, ",") != "new@example.com" || !strings.Contains(ms[0].Subject, "Acme") {
		t.Fatalf("mails %+v", ms)
	}
	link := regexp.MustCompile(`http://[^\s]+/invitations/[A-Za-z0-9_-]+`).FindString(strings.ReplaceAll(ms[0].Body, "=\r\n", ""))
	if link == "" {
		t.Fatalf("no invitation link in %q", ms[0].Body)
	}
	u, _ := url.Parse(link)
	if r := app.client(t).get(t, u.Path); r.StatusCode != http.StatusOK {
		t.Fatalf("the mailed link answers %d", r.StatusCode)
	}
}

// TestPasswordResetMailedThroughSMTP: "Forgot password?" mails a reset link
// through notify's mailer to a real SMTP server; the mailed link sets a new
// password, once. An address without an account gets no mail.
func TestPasswordResetMailedThroughSMTP(t *testing.T) {
	box := startMailbox(t)
	mailer, err := notify.NewSMTPMailer("smtp://"+box.Addr, "keyward@example.com")
	if err != nil {
		t.Fatal(err)
	}
	app := newTestApp(t, withOptions(func(o *Options) { o.Mailer = mailer }))
	app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	if !cl.get(t, "/login").has(t, `a[href="/password/forgot"]`) {
		t.Fatal("the sign-in page has no Forgot password link")
	}
	cl.postForm(t, "/password/forgot", url.Values{"email": {"Owner@Example.com"}}).wantStatus(t, http.StatusOK)
	app.client(t).postForm(t, "/password/forgot", url.Values{"email": {"nobody@example.com"}}).wantStatus(t, http.StatusOK)
	app.srv.acc.background.Wait()
	ms := box.mails()
	if len(ms) != 1 || strings.Join(ms[0].To, ",") != "owner@example.com" || !strings.Contains(ms[0].Subject, "password") {
		t.Fatalf("mails %+v, want one reset mail to owner@example.com", ms)
	}
	link := regexp.MustCompile(`http://[^\s]+/password/reset/[A-Za-z0-9_-]+`).FindString(strings.ReplaceAll(ms[0].Body, "=\r\n", ""))
	if link == "" {
		t.Fatalf("no reset link in %q", ms[0].Body)
	}
	path := linkPath(t, link)

	visitor := app.client(t)
	if got := visitor.get(t, path).text(t, "p.lead"); !strings.Contains(got, "owner@example.com") {
		t.Fatalf("the mailed link's page names %q", got)
	}
	visitor.postForm(t, path, passwordResetForm(newTestPassword)).wantRedirect(t, "/login")
	if code := tryLogin(t, app, "owner@example.com", testPassword); code != http.StatusUnauthorized {
		t.Fatalf("the old password: status %d, want 401", code)
	}
	app.client(t).login(t, "owner@example.com", newTestPassword)

	// Once only.
	app.client(t).get(t, path).wantStatus(t, http.StatusNotFound)
	app.client(t).postForm(t, path, passwordResetForm("a third passphrase here")).wantStatus(t, http.StatusNotFound)
	app.client(t).login(t, "owner@example.com", newTestPassword)
}

func passwordResetForm(pw string) url.Values {
	return url.Values{"password": {pw}, "confirm_password": {pw}}
}
