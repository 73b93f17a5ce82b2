package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// handleMemberRemoveConfirm serves GET /settings/members/:id/remove: the
// confirmation as a page, for browsers without JavaScript (with it, the
// members page opens the same question in a dialog).
func (s *Server) handleMemberRemoveConfirm(c echo.Context) error {
	m, err := s.findMember(c)
	if err != nil {
		return err
	}
	if err := mayManageMember(c, m.Role, ""); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.MemberRemovePage(s.chrome(c, "members"), memberRow(currentPrincipal(c), m)))
}

// handleMemberRemove serves POST /settings/members/:id/remove: the member
// leaves the team and their sessions end. The last OWNER cannot be removed.
func (s *Server) handleMemberRemove(c echo.Context) error {
	m, err := s.findMember(c)
	if err != nil {
		return err
	}
	if err := mayManageMember(c, m.Role, ""); err != nil {
		return err
	}
	err = s.store.RemoveMember(c.Request().Context(), m.TeamID, m.ID, actor(c))
	if model.ErrorCode(err) == model.ECONFLICT {
		if err := s.flash(c, "error", model.ErrorMessage(err)); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/settings/members")
	}
	if err != nil {
		return err
	}
	s.logger(c).Info("member removed", "team_id", m.TeamID, "membership_id", m.ID)
	if m.UserID == currentPrincipal(c).User.ID {
		// RemoveMember ended all of the user's sessions, this one included.
		if err := s.signOut(c, "success", "You left "+m.Team.Name+". Sign in again to open your other teams."); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	if err := s.flash(c, "success", m.User.Email+" was removed from "+m.Team.Name+"."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/members")
}
