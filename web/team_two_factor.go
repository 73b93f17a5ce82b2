package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
)

// handleTeamTwoFactor serves POST /settings/team/two-factor (field
// require_2fa, "on" or absent; OWNER only): whether the team's owners and
// admins must use two-factor authentication.
func (s *Server) handleTeamTwoFactor(c echo.Context) error {
	if currentPrincipal(c).Membership.Role != model.RoleOwner {
		return errTeamSettingsOwner
	}
	on := false
	switch c.FormValue("require_2fa") {
	case "on":
		on = true
	case "":
	default:
		return model.Errorf(model.EINVALID, "require_2fa is on or left out.")
	}
	if err := s.store.SetTeamRequire2FA(c.Request().Context(), teamID(c), on, actor(c)); err != nil {
		return err
	}
	msg := "Two-factor authentication is no longer required."
	if on {
		msg = "Owners and admins who sign in with a password now need two-factor authentication to open settings."
	}
	if err := s.flash(c, "success", msg); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/team")
}
