package web

import (
	"context"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/notify"
)

// linkURL is the absolute URL of path on this dashboard, for links that
// people open later (invitations, password resets).
func (s *Server) linkURL(c echo.Context, path string) string {
	return c.Scheme() + "://" + c.Request().Host + path
}

// mailOn reports whether keyward sends e-mail (KEYWARD_SMTP_URL is set).
func (s *Server) mailOn() bool { return s.mailer != nil }

// mail sends text to one address through the configured SMTP server.
func (s *Server) mail(ctx context.Context, to, subject, text string) error {
	return s.mailer.Send(ctx, notify.Message{To: []string{to}, Subject: subject, Text: text})
}

// sendAccountMail mails text to one address and reports whether it was
// sent: false when keyward sends no e-mail, and the caller shows the link
// to the person who made it instead.
func (s *Server) sendAccountMail(c echo.Context, to, subject, text string) (bool, error) {
	if !s.mailOn() {
		return false, nil
	}
	return true, s.mail(c.Request().Context(), to, subject, text)
}
