package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/views"
)

// accountRoutes registers setup, sign-in, password change, team switching,
// members and team settings.
func (s *Server) accountRoutes(e *echo.Echo) {
	e.GET("/", s.handleHome, s.requireUser)
	e.GET("/setup", s.handleSetupForm)
	e.POST("/setup", s.handleSetup)
	e.GET("/login", s.handleLoginForm)
	e.POST("/login", s.handleLogin)
	e.POST("/logout", s.handleLogout)
	e.POST("/teams/switch", s.handleTeamSwitch, s.requireUser)
	e.GET("/auth/oidc/login", s.handleOIDCLogin)
	e.GET("/auth/oidc/callback", s.handleOIDCCallback)
	e.GET("/invitations/:token", s.handleInvitationForm)
	e.POST("/invitations/:token", s.handleInvitationAccept)
	e.GET("/invitations/:token/sso", s.handleInvitationSSO)
	e.GET("/password/forgot", s.handleForgotPasswordForm)
	e.POST("/password/forgot", s.handleForgotPassword)
	e.GET("/password/reset/:token", s.handleResetPasswordForm)
	e.POST("/password/reset/:token", s.handleResetPassword)
	s.twoFactorRoutes(e)
	e.GET("/account/password", s.handleAccountPasswordForm, s.requireUser)
	e.POST("/account/password", s.handleAccountPassword, s.requireUser)

	// Settings → Members (OWNER/ADMIN).
	e.GET("/settings/members", s.handleMembers, s.requireManager)
	e.POST("/settings/members", s.handleMemberInvite, s.requireManager)
	e.POST("/settings/members/invitations/:id/resend", s.handleInvitationResend, s.requireManager)
	e.POST("/settings/members/invitations/:id/cancel", s.handleInvitationCancel, s.requireManager)
	e.POST("/settings/members/:id/password-reset", s.handleMemberPasswordReset, s.requireManager)
	e.POST("/settings/members/:id/role", s.handleMemberRole, s.requireManager)
	e.GET("/settings/members/:id/remove", s.handleMemberRemoveConfirm, s.requireManager)
	e.POST("/settings/members/:id/remove", s.handleMemberRemove, s.requireManager)

	// Settings → Team (web/team_settings.go): OWNER changes, ADMIN reads.
	e.GET("/settings/team", s.handleTeamSettings, s.requireManager)
	e.POST("/settings/team", s.handleTeamSettingsSave, s.requireManager)
	e.POST("/settings/team/two-factor", s.handleTeamTwoFactor, s.requireManager)
}

// handleHome serves GET /: owners and admins go to their API keys; members
// see their teams and roles.
func (s *Server) handleHome(c echo.Context) error {
	p := currentPrincipal(c)
	if p.Membership.Role.CanManage() {
		return c.Redirect(http.StatusSeeOther, "/settings/api-keys")
	}
	return render(c, http.StatusOK, views.HomePage(s.chrome(c, "")))
}
