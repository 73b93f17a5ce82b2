package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// handleForgotPasswordForm serves GET /password/forgot.
func (s *Server) handleForgotPasswordForm(c echo.Context) error {
	if s.cfg.SSOOnly {
		return echo.ErrNotFound
	}
	noStore(c)
	return render(c, http.StatusOK, views.ForgotPasswordPage(views.ForgotPasswordForm{CSRF: csrfToken(c)}))
}

// handleForgotPassword serves POST /password/forgot (field email). The
// answer, and the time it takes, are the same whether or not the address
// has an account: the lookup, the link and the e-mail happen after the
// response, in the background. The client's attempts spend the sign-in
// limiter's per-IP budget, so the form cannot flood an inbox.
func (s *Server) handleForgotPassword(c echo.Context) error {
	if s.cfg.SSOOnly {
		return echo.ErrNotFound
	}
	noStore(c)
	f := views.ForgotPasswordForm{CSRF: csrfToken(c), Email: strings.TrimSpace(c.FormValue("email"))}
	errs := model.FieldErrors{}
	checkEmail(errs, "email", f.Email)
	if len(errs) > 0 {
		f.Errors = errs
		return render(c, http.StatusUnprocessableEntity, views.ForgotPasswordPage(f))
	}
	ip, account, now := c.RealIP(), model.NormalizeEmail(f.Email), s.now()
	if w := s.acc.limiter.attempt(ip, account, now); w > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(retryAfter(w)))
		f.Errors = map[string]string{"email": "Too many requests. Wait " + waitText(w) + " and try again."}
		return render(c, http.StatusTooManyRequests, views.ForgotPasswordPage(f))
	}
	// Each request counts as a failure for this client, so repeated
	// requests for one address slow down like wrong passwords do.
	s.acc.limiter.failed(ip, account, now)
	log := s.logger(c)
	link := s.linkURL(c, "/password/reset/")
	s.inBackground(func(ctx context.Context) {
		if err := s.sendPasswordReset(ctx, account, link, ip); err != nil {
			log.Warn("password reset request", "err", err)
		}
	})
	f.Sent = true
	return render(c, http.StatusOK, views.ForgotPasswordPage(f))
}

// sendPasswordReset makes a reset link for the account with e-mail and
// mails it, if there is such an account and keyward sends e-mail.
func (s *Server) sendPasswordReset(ctx context.Context, email, linkBase, ip string) error {
	if !s.mailOn() {
		return nil
	}
	u, err := s.store.FindUserByEmail(ctx, email)
	if model.ErrorCode(err) == model.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	token, hash := auth.NewLinkToken()
	if err := s.store.CreatePasswordReset(ctx, u.ID, hash, s.now().Add(model.PasswordResetLifetime), 0, model.Actor{Label: u.Email, IP: ip}); err != nil {
		return err
	}
	return s.mail(ctx, u.Email, "Choose a new keyward password", resetMailText("You asked for", linkBase+token))
}

// inBackground runs fn after the response, with a context that outlives the
// request by at most a minute; Close waits for it.
func (s *Server) inBackground(fn func(ctx context.Context)) {
	s.acc.background.Add(1)
	go func() {
		defer s.acc.background.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		fn(ctx)
	}()
}

// resetTokenUser returns the user of the reset link in :token, or
// ENOTFOUND for a malformed, unknown, used or expired one.
func (s *Server) resetTokenUser(c echo.Context) (string, model.User, error) {
	token := c.Param("token")
	if !auth.ValidLinkToken(token) {
		return token, model.User{}, model.Errorf(model.ENOTFOUND, "This password reset link is not valid any more: it was used or has expired (links last one hour). Ask for a new one.")
	}
	u, err := s.store.FindPasswordReset(c.Request().Context(), auth.HashLinkToken(token))
	return token, u, err
}

// handleResetPasswordForm serves GET /password/reset/:token.
func (s *Server) handleResetPasswordForm(c echo.Context) error {
	if s.cfg.SSOOnly {
		return echo.ErrNotFound
	}
	noStore(c)
	token, u, err := s.resetTokenUser(c)
	if model.ErrorCode(err) == model.ENOTFOUND {
		return render(c, http.StatusNotFound, views.LinkGonePage("Link not valid", model.ErrorMessage(err), csrfToken(c)))
	}
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.ResetPasswordPage(views.ResetPasswordForm{CSRF: csrfToken(c), Token: token, Email: u.Email}))
}

// handleResetPassword serves POST /password/reset/:token (fields password,
// confirm_password): it sets the new password, uses up the link, ends every
// session of the user (this browser's too) and sends them to sign in.
func (s *Server) handleResetPassword(c echo.Context) error {
	if s.cfg.SSOOnly {
		return echo.ErrNotFound
	}
	noStore(c)
	token, u, err := s.resetTokenUser(c)
	if model.ErrorCode(err) == model.ENOTFOUND {
		return render(c, http.StatusNotFound, views.LinkGonePage("Link not valid", model.ErrorMessage(err), csrfToken(c)))
	}
	if err != nil {
		return err
	}
	f := views.ResetPasswordForm{CSRF: csrfToken(c), Token: token, Email: u.Email}
	password, confirm := c.FormValue("password"), c.FormValue("confirm_password")
	pc, err := s.passwordContext(c, u)
	if err != nil {
		return err
	}
	errs := model.FieldErrors{}
	if perr := auth.ValidatePassword(password, pc); perr != nil {
		errs.Add("password", model.ErrorMessage(perr))
	} else if confirm != password {
		errs.Add("confirm_password", "The two passwords do not match. Type the password again.")
	}
	if len(errs) > 0 {
		f.Errors = errs
		return render(c, http.StatusUnprocessableEntity, views.ResetPasswordPage(f))
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	if _, err := s.store.ResetPassword(c.Request().Context(), auth.HashLinkToken(token), hash, c.RealIP()); err != nil {
		if model.ErrorCode(err) == model.ENOTFOUND {
			return render(c, http.StatusNotFound, views.LinkGonePage("Link not valid", model.ErrorMessage(err), csrfToken(c)))
		}
		return err
	}
	s.acc.limiter.succeeded(c.RealIP(), model.NormalizeEmail(u.Email))
	s.logger(c).Info("password reset; every session of the user ended", "user_id", u.ID)
	if err := s.signOut(c, "success", "Your password was changed and every session signed out. Sign in with the new password."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}
