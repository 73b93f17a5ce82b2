package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// handleMemberPasswordReset serves POST /settings/members/:id/password-reset:
// an owner or admin sends a member a single-use link (valid one hour) to
// choose a new password. The link goes by e-mail, or is shown once to the
// sender when keyward sends no e-mail. Admins cannot do this for owners.
func (s *Server) handleMemberPasswordReset(c echo.Context) error {
	m, err := s.findMember(c)
	if err != nil {
		return err
	}
	if err := mayManageMember(c, m.Role, ""); err != nil {
		return err
	}
	if m.UserID == currentPrincipal(c).User.ID {
		return model.Errorf(model.EINVALID, "Change your own password from the account menu.")
	}
	token, hash := auth.NewLinkToken()
	if err := s.store.CreatePasswordReset(c.Request().Context(), m.UserID, hash, s.now().Add(model.PasswordResetLifetime), m.TeamID, actor(c)); err != nil {
		return err
	}
	s.logger(c).Info("password reset link made for a member", "team_id", m.TeamID, "membership_id", m.ID)
	link := s.linkURL(c, "/password/reset/"+token)
	sent, err := s.sendAccountMail(c, m.User.Email, "Choose a new keyward password", resetMailText(currentPrincipal(c).User.Email+" sent you", link))
	if err != nil {
		return err
	}
	if sent {
		if err := s.flash(c, "success", "A password reset link was sent to "+m.User.Email+"."); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/settings/members")
	}
	return s.showOneTimeLink(c, views.OneTimeLink{
		Title: "Password reset link for " + m.User.Email,
		Text:  "Whoever opens this link in the next hour can choose a new password for " + m.User.Email + "; it works once, and signs the account out everywhere.",
		URL:   link,
	})
}

// resetMailText is the body of a password reset e-mail.
func resetMailText(who, link string) string {
	return who + " a link to choose a new password for your keyward account:\n\n" + link + "\n\n" +
		"The link works once, for one hour. Choosing a new password signs you out everywhere.\n" +
		"If you did not ask for this, ignore this e-mail: your password stays as it is.\n"
}
