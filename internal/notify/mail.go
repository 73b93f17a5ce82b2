package notify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one e-mail: plain text and a simple HTML alternative.
type Message struct {
	To      []string
	Subject string
	Text    string
	HTML    string
}

// Mailer sends e-mail. Other parts of keyward (invitations, password
// resets, leak alerts) send through it; a nil Mailer means e-mail is off.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// SMTPMailer sends through the server of KEYWARD_SMTP_URL.
type SMTPMailer struct {
	from   string
	host   string
	opts   []gomail.Option
	dialTO time.Duration
}

// NewSMTPMailer parses an smtp:// (STARTTLS when offered) or smtps://
// (implicit TLS) URL with optional user:password and returns a mailer that
// sends as from. An empty URL returns nil, nil: e-mail is off.
func NewSMTPMailer(smtpURL, from string) (*SMTPMailer, error) {
	if smtpURL == "" {
		return nil, nil
	}
	u, err := url.Parse(smtpURL)
	if err != nil || u.Hostname() == "" {
		return nil, errors.New("expected smtp://user:pass@host:587 or smtps://user:pass@host:465")
	}
	if from == "" {
		return nil, errors.New("KEYWARD_MAIL_FROM is required with KEYWARD_SMTP_URL")
	}
	m := &SMTPMailer{from: from, host: u.Hostname(), dialTO: 10 * time.Second}
	m.opts = append(m.opts, gomail.WithTimeout(m.dialTO))
	port := 0
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("bad port %q", p)
		}
	}
	switch u.Scheme {
	case "smtp":
		if port == 0 {
			port = 587
		}
		m.opts = append(m.opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case "smtps":
		if port == 0 {
			port = 465
		}
		m.opts = append(m.opts, gomail.WithSSL())
	default:
		return nil, errors.New("expected an smtp:// or smtps:// URL")
	}
	m.opts = append(m.opts, gomail.WithPort(port))
	if u.User != nil {
		pass, _ := u.User.Password()
		m.opts = append(m.opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(u.User.Username()), gomail.WithPassword(pass))
	}
	return m, nil
}

// Send delivers m to every recipient in one SMTP transaction.
func (s *SMTPMailer) Send(ctx context.Context, m Message) error {
	if len(m.To) == 0 {
		return nil
	}
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("KEYWARD_MAIL_FROM: %w", err)
	}
	if err := msg.To(m.To...); err != nil {
		return err
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	c, err := gomail.NewClient(s.host, s.opts...)
	if err != nil {
		return err
	}
	return c.DialAndSendWithContext(ctx, msg)
}
