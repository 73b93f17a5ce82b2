package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// Session keys of a password sign-in waiting for its second factor. Until
// sign-in the session lives in its signed, encrypted cookie, which keeps
// string values only.
const (
	sess2FAUser = "2fa_user" // the id of the user whose password was right
	sess2FAAt   = "2fa_at"   // when, in Unix seconds
	sess2FANext = "2fa_next" // where to go afterwards
)

// twoFactorWait is how long the code may take after the password.
const twoFactorWait = 5 * time.Minute

// twoFactorIssuer names keyward in authenticator apps.
const twoFactorIssuer = "keyward"

// twoFactorRoutes registers the two-factor pages.
func (s *Server) twoFactorRoutes(e *echo.Echo) {
	e.GET("/account/two-factor", s.handleTwoFactor, s.requireUser)
	e.POST("/account/two-factor/start", s.handleTwoFactorStart, s.requireUser)
	e.POST("/account/two-factor/confirm", s.handleTwoFactorConfirm, s.requireUser)
	e.POST("/account/two-factor/disable", s.handleTwoFactorDisable, s.requireUser)
	e.POST("/account/two-factor/recovery-codes", s.handleTwoFactorRecoveryCodes, s.requireUser)
	e.GET("/login/two-factor", s.handleLoginTwoFactorForm)
	e.POST("/login/two-factor", s.handleLoginTwoFactor)
}

// twoFactorProps reads the page's state for the signed-in user.
func (s *Server) twoFactorProps(c echo.Context) (views.TwoFactorProps, error) {
	p := currentPrincipal(c)
	u := p.User
	props := views.TwoFactorProps{Chrome: s.chrome(c, "account"), On: u.TwoFactor(), HasPassword: u.PasswordHash != ""}
	if p.Membership.Team.Require2FA && p.Membership.Role.CanManage() {
		props.Required = p.Membership.Team.Name
	}
	switch {
	case props.On:
		n, err := s.store.CountRecoveryCodes(c.Request().Context(), u.ID)
		if err != nil {
			return props, err
		}
		props.RecoveryLeft = n
	case u.TOTPSecret != "" && s.box != nil:
		secret, err := s.box.Open(u.TOTPSecret, u.TOTPKeyID)
		if err != nil {
			// Sealed under a key this server no longer has: start again.
			return props, nil
		}
		e := auth.TOTPURL(twoFactorIssuer, u.Email, secret)
		qr, err := auth.QRMatrix(e)
		if err != nil {
			return props, err
		}
		props.Pending, props.QR, props.Secret = true, qr, secret
	}
	return props, nil
}

// handleTwoFactor serves GET /account/two-factor.
func (s *Server) handleTwoFactor(c echo.Context) error {
	props, err := s.twoFactorProps(c)
	if err != nil {
		return err
	}
	props.Notice = s.popFlash(c)
	return render(c, http.StatusOK, views.TwoFactorPage(props))
}

// errNoEncryptionKey refuses two-factor where seeds cannot be sealed.
var errNoEncryptionKey = model.Errorf(model.EINVALID, "Two-factor authentication needs an encryption key on this server (KEYWARD_ENCRYPTION_KEY). Ask the person who runs keyward to set one.")

// handleTwoFactorStart serves POST /account/two-factor/start: a new seed,
// sealed under the encryption key, waiting for a first code.
func (s *Server) handleTwoFactorStart(c echo.Context) error {
	if s.box == nil {
		return errNoEncryptionKey
	}
	u := currentPrincipal(c).User
	e, err := auth.NewTOTP(twoFactorIssuer, u.Email)
	if err != nil {
		return err
	}
	sealed, keyID, err := s.box.Seal(e.Secret)
	if err != nil {
		return err
	}
	if err := s.store.SetPendingTOTP(c.Request().Context(), u.ID, sealed, keyID); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/account/two-factor")
}

// handleTwoFactorConfirm serves POST /account/two-factor/confirm (field
// code): the first code turns two-factor on and the recovery codes are
// shown once.
func (s *Server) handleTwoFactorConfirm(c echo.Context) error {
	noStore(c)
	u := currentPrincipal(c).User
	props, err := s.twoFactorProps(c)
	if err != nil {
		return err
	}
	if !props.Pending {
		return c.Redirect(http.StatusSeeOther, "/account/two-factor")
	}
	step, ok := auth.CheckTOTP(props.Secret, c.FormValue("code"), s.now(), 0)
	if !ok {
		props.Errors = map[string]string{"code": "That code is not right. Check the app's clock and enter the code it shows now."}
		return render(c, http.StatusUnprocessableEntity, views.TwoFactorPage(props))
	}
	codes, hashes := auth.NewRecoveryCodes()
	if err := s.store.EnableTOTP(c.Request().Context(), u.ID, step, hashes, actor(c)); err != nil {
		return err
	}
	s.logger(c).Info("two-factor authentication turned on", "user_id", u.ID)
	c.Response().Header().Set("HX-Push-Url", "false")
	return render(c, http.StatusOK, views.RecoveryCodesPage(s.chrome(c, "account"), codes))
}

// checkSecondFactor checks a TOTP code (each time step once) or, failing
// that, spends a recovery code of u.
func (s *Server) checkSecondFactor(c echo.Context, u model.User, code string) (bool, error) {
	ctx := c.Request().Context()
	if s.box == nil {
		return false, errNoEncryptionKey
	}
	secret, err := s.box.Open(u.TOTPSecret, u.TOTPKeyID)
	if err != nil {
		return false, err
	}
	if step, ok := auth.CheckTOTP(secret, code, s.now(), u.TOTPLastStep); ok {
		return s.store.UseTOTPStep(ctx, u.ID, step)
	}
	if len(strings.TrimSpace(code)) < 10 {
		return false, nil
	}
	return s.store.UseRecoveryCode(ctx, u.ID, auth.HashRecoveryCode(code), actor(c))
}

// handleTwoFactorDisable serves POST /account/two-factor/disable (fields
// password, code): both are needed (the code alone for accounts without a
// password), and attempts share the sign-in limiter.
func (s *Server) handleTwoFactorDisable(c echo.Context) error {
	p := currentPrincipal(c)
	u := p.User
	props, err := s.twoFactorProps(c)
	if err != nil {
		return err
	}
	if !props.On {
		return c.Redirect(http.StatusSeeOther, "/account/two-factor")
	}
	ip, account, now := c.RealIP(), model.NormalizeEmail(u.Email), s.now()
	if w := s.acc.limiter.attempt(ip, account, now); w > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(retryAfter(w)))
		props.Notice = &views.Flash{Kind: "error", Message: "Too many attempts. Wait " + waitText(w) + " and try again."}
		return render(c, http.StatusTooManyRequests, views.TwoFactorPage(props))
	}
	errs := map[string]string{}
	if props.HasPassword && !auth.CheckPassword(u.PasswordHash, c.FormValue("password")) {
		errs["off-password"] = "That is not your password."
	}
	if len(errs) == 0 {
		ok, err := s.checkSecondFactor(c, u, c.FormValue("code"))
		if err != nil {
			return err
		}
		if !ok {
			errs["off-code"] = "That code is not right."
		}
	}
	if len(errs) > 0 {
		s.acc.limiter.failed(ip, account, now)
		props.Errors = errs
		return render(c, http.StatusUnprocessableEntity, views.TwoFactorPage(props))
	}
	if err := s.store.DisableTOTP(c.Request().Context(), u.ID, actor(c)); err != nil {
		return err
	}
	s.logger(c).Info("two-factor authentication turned off", "user_id", u.ID)
	if err := s.flash(c, "success", "Two-factor authentication is off."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/account/two-factor")
}

// handleTwoFactorRecoveryCodes serves POST /account/two-factor/recovery-codes
// (field code): after a code from the app, 10 new recovery codes, shown
// once; the old ones stop working.
func (s *Server) handleTwoFactorRecoveryCodes(c echo.Context) error {
	noStore(c)
	u := currentPrincipal(c).User
	props, err := s.twoFactorProps(c)
	if err != nil {
		return err
	}
	if !props.On {
		return c.Redirect(http.StatusSeeOther, "/account/two-factor")
	}
	if s.box == nil {
		return errNoEncryptionKey
	}
	secret, err := s.box.Open(u.TOTPSecret, u.TOTPKeyID)
	if err != nil {
		return err
	}
	step, ok := auth.CheckTOTP(secret, c.FormValue("code"), s.now(), u.TOTPLastStep)
	if ok {
		ok, err = s.store.UseTOTPStep(c.Request().Context(), u.ID, step)
		if err != nil {
			return err
		}
	}
	if !ok {
		s.acc.limiter.failed(c.RealIP(), model.NormalizeEmail(u.Email), s.now())
		props.Errors = map[string]string{"codes-code": "That code is not right."}
		return render(c, http.StatusUnprocessableEntity, views.TwoFactorPage(props))
	}
	codes, hashes := auth.NewRecoveryCodes()
	if err := s.store.ReplaceRecoveryCodes(c.Request().Context(), u.ID, hashes); err != nil {
		return err
	}
	c.Response().Header().Set("HX-Push-Url", "false")
	return render(c, http.StatusOK, views.RecoveryCodesPage(s.chrome(c, "account"), codes))
}

// startSecondFactor remembers, after a right password, that u must still
// give a code, and sends the browser to ask for it.
func (s *Server) startSecondFactor(c echo.Context, u model.User, next string) error {
	sess := currentSession(c)
	if sess == nil {
		return echo.ErrInternalServerError
	}
	// A new session id here too, so the half-signed-in state is not the
	// visitor's old session.
	if err := s.acc.sessions.Renew(c.Request().Context(), sess); err != nil {
		return err
	}
	sess.Values[sess2FAUser] = strconv.FormatInt(u.ID, 10)
	sess.Values[sess2FAAt] = strconv.FormatInt(s.now().Unix(), 10)
	sess.Values[sess2FANext] = next
	if err := s.saveSession(c); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/login/two-factor")
}

// pendingSecondFactor returns the user waiting for their second factor in
// this session, if any and not too old.
func (s *Server) pendingSecondFactor(c echo.Context) (int64, string, bool) {
	sess := currentSession(c)
	if sess == nil {
		return 0, "", false
	}
	uidText, _ := sess.Values[sess2FAUser].(string)
	atText, _ := sess.Values[sess2FAAt].(string)
	next, _ := sess.Values[sess2FANext].(string)
	uid, err1 := strconv.ParseInt(uidText, 10, 64)
	at, err2 := strconv.ParseInt(atText, 10, 64)
	if err1 != nil || err2 != nil || s.now().Sub(time.Unix(at, 0)) > twoFactorWait {
		return 0, "", false
	}
	return uid, next, true
}

// handleLoginTwoFactorForm serves GET /login/two-factor.
func (s *Server) handleLoginTwoFactorForm(c echo.Context) error {
	noStore(c)
	if _, _, ok := s.pendingSecondFactor(c); !ok {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	return render(c, http.StatusOK, views.LoginTwoFactorPage(views.LoginTwoFactorForm{CSRF: csrfToken(c)}))
}

// handleLoginTwoFactor serves POST /login/two-factor (field code): a TOTP
// code (each time step once) or a recovery code (each once) finishes the
// sign-in. Wrong codes spend the sign-in limiter like wrong passwords.
func (s *Server) handleLoginTwoFactor(c echo.Context) error {
	noStore(c)
	ctx := c.Request().Context()
	uid, next, ok := s.pendingSecondFactor(c)
	if !ok {
		if err := s.flash(c, "error", "The sign-in took too long. Enter your password again."); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	u, err := s.store.FindUserByID(ctx, uid)
	if err != nil {
		return err
	}
	f := views.LoginTwoFactorForm{CSRF: csrfToken(c)}
	ip, account, now := c.RealIP(), model.NormalizeEmail(u.Email), s.now()
	if w := s.acc.limiter.attempt(ip, account, now); w > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(retryAfter(w)))
		f.Notice = &views.Flash{Kind: "error", Message: "Too many attempts. Wait " + waitText(w) + " and try again."}
		return render(c, http.StatusTooManyRequests, views.LoginTwoFactorPage(f))
	}
	ok, err = s.checkSecondFactor(c, u, c.FormValue("code"))
	if err != nil {
		return err
	}
	if !ok {
		s.acc.limiter.failed(ip, account, now)
		s.logger(c).Warn("sign-in: wrong second factor", "user_id", u.ID, "ip", ip)
		f.Error = "That code is not right, or was used already. Enter the code the app shows now."
		return render(c, http.StatusUnauthorized, views.LoginTwoFactorPage(f))
	}
	s.acc.limiter.succeeded(ip, account)
	if sess := currentSession(c); sess != nil {
		delete(sess.Values, sess2FAUser)
		delete(sess.Values, sess2FAAt)
		delete(sess.Values, sess2FANext)
	}
	return s.finishSignIn(c, u, 0, next, "")
}
