package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
)

// handleMemberRole serves POST /settings/members/:id/role: it changes a
// member's role. Only an OWNER grants or takes away OWNER, and the last
// OWNER keeps the role.
func (s *Server) handleMemberRole(c echo.Context) error {
	m, err := s.findMember(c)
	if err != nil {
		return err
	}
	role, err := model.ParseRole(c.FormValue("role"))
	if err != nil {
		return err
	}
	if err := mayManageMember(c, m.Role, role); err != nil {
		return err
	}
	updated, err := s.store.UpdateMemberRole(c.Request().Context(), m.TeamID, m.ID, role, actor(c))
	if model.ErrorCode(err) == model.ECONFLICT {
		if err := s.flash(c, "error", model.ErrorMessage(err)); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/settings/members")
	}
	if err != nil {
		return err
	}
	msg := m.User.Email + " is now " + updated.Role.Label() + "."
	if m.Role == role {
		msg = m.User.Email + " already was " + role.Label() + "."
	}
	if err := s.flash(c, "success", msg); err != nil {
		return err
	}
	if m.UserID == currentPrincipal(c).User.ID && !role.CanManage() {
		// You demoted yourself: settings are closed to you from now on.
		return c.Redirect(http.StatusSeeOther, "/")
	}
	return c.Redirect(http.StatusSeeOther, "/settings/members")
}
