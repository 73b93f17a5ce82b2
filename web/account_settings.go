package web

import (
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/views"
)

// accountSettingsRoutes registers Settings → Account. Reminders go to
// owners and admins, so like every settings page it is theirs; everyone
// changes their password at /account/password.
//
//	GET  /settings/account   handleAccountSettings
//	POST /settings/account   handleAccountSettingsSave
func (s *Server) accountSettingsRoutes(e *echo.Echo) {
	e.GET("/settings/account", s.handleAccountSettings, s.requireManager)
	e.POST("/settings/account", s.handleAccountSettingsSave, s.requireManager)
}

// handleAccountSettings serves GET /settings/account: the person's password
// link and e-mail reminder choice.
func (s *Server) handleAccountSettings(c echo.Context) error {
	p := currentPrincipal(c)
	return render(c, http.StatusOK, views.AccountPage(views.AccountProps{
		Chrome: s.chrome(c, "account"), RemindersOn: !p.User.RemindersOff, MailOff: s.cfg.SMTPURL == "",
	}))
}

// handleAccountSettingsSave serves POST /settings/account (field reminders:
// on or off; the form sends off first and on when ticked).
func (s *Server) handleAccountSettingsSave(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	on := slices.Contains(form["reminders"], "on")
	if err := s.store.SetReminders(c.Request().Context(), currentPrincipal(c).User.ID, on); err != nil {
		return err
	}
	msg := "Expiry and rotation reminders are off for you."
	if on {
		msg = "You get expiry and rotation reminders by e-mail."
	}
	if err := s.flash(c, "success", msg); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/account")
}
