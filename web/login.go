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

// loginFailedMessage is the one answer to a wrong e-mail or a wrong password.
const loginFailedMessage = "Incorrect e-mail or password."

// handleLoginForm serves GET /login.
func (s *Server) handleLoginForm(c echo.Context) error {
	if _, ok := sessionUserID(c); ok {
		return c.Redirect(http.StatusSeeOther, safeNext(c.QueryParam("next")))
	}
	has, err := s.hasUsers(c.Request().Context())
	if err != nil {
		return err
	}
	if !has {
		return c.Redirect(http.StatusSeeOther, "/setup")
	}
	noStore(c)
	f := s.loginForm(c, "", s.popFlash(c))
	f.Next = safeNext(c.QueryParam("next"))
	return render(c, http.StatusOK, views.LoginPage(f))
}

// loginForm is the sign-in page's form with the sign-in methods on offer.
func (s *Server) loginForm(c echo.Context, email string, notice *views.Flash) views.LoginForm {
	f := views.LoginForm{CSRF: csrfToken(c), Email: email, Notice: notice, SSOOnly: s.cfg.SSOOnly}
	if s.cfg.OIDC.Enabled() {
		f.SSOName = s.cfg.OIDC.Name
	}
	return f
}

// handleLogin serves POST /login. A wrong e-mail and a wrong password get
// the same answer in about the same time; failed attempts slow down the
// client that makes them, per account and per IP (web/ratelimit.go), and
// never lock the account for anybody else.
func (s *Server) handleLogin(c echo.Context) error {
	noStore(c)
	ctx := c.Request().Context()
	f := s.loginForm(c, strings.TrimSpace(c.FormValue("email")), nil)
	f.Next = safeNext(c.FormValue("next"))
	if s.cfg.SSOOnly {
		f.Notice = &views.Flash{Kind: "error", Message: "Password sign-in is turned off here: sign in with " + s.cfg.OIDC.Name + "."}
		return render(c, http.StatusForbidden, views.LoginPage(f))
	}
	password := c.FormValue("password")
	errs := model.FieldErrors{}
	if f.Email == "" {
		errs.Add("email", "Enter your e-mail address.")
	}
	if password == "" {
		errs.Add("password", "Enter your password.")
	}
	if len(errs) > 0 {
		f.Errors = errs
		return render(c, http.StatusUnprocessableEntity, views.LoginPage(f))
	}
	ip, account, now := c.RealIP(), model.NormalizeEmail(f.Email), s.now()
	if w := s.acc.limiter.attempt(ip, account, now); w > 0 {
		s.logger(c).Warn("sign-in refused by the rate limit", "email", account, "ip", ip)
		c.Response().Header().Set("Retry-After", strconv.Itoa(retryAfter(w)))
		f.Notice = &views.Flash{Kind: "error", Message: "Too many sign-in attempts. Wait " + waitText(w) + " and try again."}
		return render(c, http.StatusTooManyRequests, views.LoginPage(f))
	}
	u, err := s.store.FindUserByEmail(ctx, account)
	var ok bool
	switch {
	case err == nil:
		ok = auth.CheckPassword(u.PasswordHash, password)
	case model.ErrorCode(err) == model.ENOTFOUND:
		ok = auth.CheckDummy(password)
	default:
		return err
	}
	if !ok {
		s.acc.limiter.failed(ip, account, now)
		s.logger(c).Warn("sign-in failed", "email", account, "known_user", err == nil, "ip", ip)
		if err == nil {
			if aerr := s.store.RecordLoginFailed(ctx, u, ip); aerr != nil {
				s.logger(c).Warn("recording the failed sign-in", "err", aerr)
			}
		}
		f.Notice = &views.Flash{Kind: "error", Message: loginFailedMessage}
		return render(c, http.StatusUnauthorized, views.LoginPage(f))
	}
	s.acc.limiter.succeeded(ip, account)
	if u.TwoFactor() {
		return s.startSecondFactor(c, u, f.Next)
	}
	return s.finishSignIn(c, u, 0, f.Next, "")
}

// finishSignIn signs u in to team (0: their first team) in a new session,
// keeps welcome (if any) as a notice for the next page and goes to next.
func (s *Server) finishSignIn(c echo.Context, u model.User, team int64, next, welcome string) error {
	ctx := c.Request().Context()
	if team == 0 {
		teams, err := s.store.FindUserTeams(ctx, u.ID)
		if err != nil {
			return err
		}
		if len(teams) > 0 {
			team = teams[0].TeamID
		}
	}
	if err := s.signIn(c, u.ID, team); err != nil {
		return err
	}
	if welcome != "" {
		if err := s.flash(c, "success", welcome); err != nil {
			return err
		}
	}
	s.logger(c).Info("signed in", "user_id", u.ID, "ip", c.RealIP())
	// Sign-ins are rare enough to sweep sessions that ended unnoticed.
	if n, err := s.store.DeleteExpiredSessions(ctx, s.now()); err != nil {
		s.logger(c).Warn("deleting expired sessions", "err", err)
	} else if n > 0 {
		s.logger(c).Info("deleted expired sessions", "count", n)
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// waitText says how long to wait in words: "30 seconds", "2 minutes".
func waitText(d time.Duration) string {
	n := retryAfter(d)
	switch {
	case n == 1:
		return "a second"
	case n < 60:
		return strconv.Itoa(n) + " seconds"
	case n < 120:
		return "a minute"
	}
	return strconv.Itoa((n+59)/60) + " minutes"
}
