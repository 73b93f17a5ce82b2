package web

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// passwordChangedMessage is the notice after a successful change.
const passwordChangedMessage = "Password changed. Other sessions were signed out."

// handleAccountPasswordForm serves GET /account/password.
func (s *Server) handleAccountPasswordForm(c echo.Context) error {
	p := currentPrincipal(c)
	f := views.AccountPasswordForm{Email: p.User.Email}
	if p.User.MustChangePassword {
		f.Notice = &views.Flash{Kind: "warn", Message: "Your password was chosen for you. Choose your own to continue: type the one you were given as the current password."}
	}
	return render(c, http.StatusOK, views.AccountPasswordPage(s.chrome(c, ""), f))
}

// handleAccountPassword serves POST /account/password: it checks the current
// password (rate-limited with sign-in, per account), stores the new one,
// which ends every session of the user, and signs this browser in again
// with a new session.
func (s *Server) handleAccountPassword(c echo.Context) error {
	ctx := c.Request().Context()
	p := currentPrincipal(c)
	f := views.AccountPasswordForm{Email: p.User.Email}
	current := c.FormValue("current_password")
	next := c.FormValue("new_password")
	confirm := c.FormValue("confirm_password")

	pc, err := s.passwordContext(c, p.User)
	if err != nil {
		return err
	}
	errs := model.FieldErrors{}
	if current == "" {
		errs.Add("current_password", "Enter your current password.")
	}
	switch rule := auth.ValidatePassword(next, pc); {
	case next == "":
		errs.Add("new_password", "Enter a new password.")
	case rule != nil:
		errs.Add("new_password", model.ErrorMessage(rule))
	case next == current:
		errs.Add("new_password", "Choose a new password that differs from the current one.")
	}
	if next != "" && confirm != next {
		errs.Add("confirm_password", "The two new passwords do not match. Type the new password again.")
	}
	if len(errs) > 0 {
		f.Errors = errs
		return s.renderAccountPassword(c, http.StatusUnprocessableEntity, f)
	}

	// The current password is guessed against the same buckets as sign-in,
	// so a stolen session does not open a faster way to guess it.
	ip, account, now := c.RealIP(), model.NormalizeEmail(p.User.Email), s.now()
	if w := s.acc.limiter.attempt(ip, account, now); w > 0 {
		s.logger(c).Warn("password change refused by the rate limit", "user_id", p.User.ID, "ip", ip)
		c.Response().Header().Set("Retry-After", strconv.Itoa(retryAfter(w)))
		f.Notice = &views.Flash{Kind: "error", Message: "Too many attempts. Wait " + waitText(w) + " and try again."}
		return s.renderAccountPassword(c, http.StatusTooManyRequests, f)
	}
	if !auth.CheckPassword(p.User.PasswordHash, current) {
		s.acc.limiter.failed(ip, account, now)
		s.logger(c).Warn("password change: wrong current password", "user_id", p.User.ID, "ip", ip)
		f.Errors = map[string]string{"current_password": "That is not your current password."}
		return s.renderAccountPassword(c, http.StatusUnprocessableEntity, f)
	}

	hash, err := auth.HashPassword(next)
	if err != nil {
		return err
	}
	if err := s.store.UpdatePassword(ctx, p.User.ID, hash, actor(c)); err != nil {
		return err
	}
	// UpdatePassword ended every session, this one included: start a new
	// one (new token, new CSRF token) in the same team.
	if err := s.signIn(c, p.User.ID, p.Membership.TeamID); err != nil {
		return err
	}
	s.logger(c).Info("password changed; other sessions ended", "user_id", p.User.ID, "ip", ip)
	if err := s.flash(c, "success", passwordChangedMessage); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/")
}

func (s *Server) renderAccountPassword(c echo.Context, status int, f views.AccountPasswordForm) error {
	return render(c, status, views.AccountPasswordPage(s.chrome(c, ""), f))
}

// passwordContext is what a new password of u must not contain: the e-mail
// address and the names of u's teams.
func (s *Server) passwordContext(c echo.Context, u model.User) (auth.PasswordContext, error) {
	ms, err := s.store.FindUserTeams(c.Request().Context(), u.ID)
	if err != nil {
		return auth.PasswordContext{}, err
	}
	pc := auth.PasswordContext{Email: u.Email}
	for _, m := range ms {
		pc.Teams = append(pc.Teams, m.Team.Name)
	}
	return pc, nil
}
