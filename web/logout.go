package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// handleLogout serves POST /logout: the session's row is deleted, so the
// old cookie is worthless even if it was copied.
func (s *Server) handleLogout(c echo.Context) error {
	if uid, ok := sessionUserID(c); ok {
		s.logger(c).Info("signed out", "user_id", uid, "ip", c.RealIP())
	}
	if err := s.signOut(c, "success", "You have signed out."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}
