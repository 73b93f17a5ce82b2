package web

import (
	"net/http"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// maxTeamNameLen is the longest team name in characters.
const maxTeamNameLen = 100

// handleSetupForm serves GET /setup: the first-run form, or 404 once anyone
// has been set up.
func (s *Server) handleSetupForm(c echo.Context) error {
	if err := s.setupOpen(c); err != nil {
		return err
	}
	noStore(c)
	return render(c, http.StatusOK, views.SetupPage(views.SetupForm{CSRF: csrfToken(c)}))
}

// handleSetup serves POST /setup: it creates the first OWNER and their team
// and signs them in.
func (s *Server) handleSetup(c echo.Context) error {
	if err := s.setupOpen(c); err != nil {
		return err
	}
	noStore(c)
	f := views.SetupForm{
		CSRF:  csrfToken(c),
		Email: strings.TrimSpace(c.FormValue("email")),
		Team:  strings.TrimSpace(c.FormValue("team")),
	}
	password := c.FormValue("password")
	errs := model.FieldErrors{}
	checkEmail(errs, "email", f.Email)
	checkTeamName(errs, "team", f.Team)
	if err := auth.ValidatePassword(password, auth.PasswordContext{Email: f.Email, Teams: []string{f.Team}}); err != nil {
		errs.Add("password", model.ErrorMessage(err))
	}
	if len(errs) > 0 {
		f.Errors = errs
		return render(c, http.StatusUnprocessableEntity, views.SetupPage(f))
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	u, team, err := s.store.Setup(c.Request().Context(), f.Email, hash, f.Team, c.RealIP())
	if model.ErrorCode(err) == model.ECONFLICT {
		// Someone else finished setup first.
		return echo.ErrNotFound
	}
	if err != nil {
		return err
	}
	s.acc.hasUsers.Store(true)
	s.logger(c).Info("keyward set up", "user_id", u.ID, "team_id", team.ID, "ip", c.RealIP())
	if err := s.signIn(c, u.ID, team.ID); err != nil {
		return err
	}
	if err := s.flash(c, "success", "Welcome to keyward. Your team "+team.Name+" is ready: create its first API key."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/")
}

// setupOpen answers 404 once any user exists.
func (s *Server) setupOpen(c echo.Context) error {
	has, err := s.hasUsers(c.Request().Context())
	if err != nil {
		return err
	}
	if has {
		return echo.ErrNotFound
	}
	return nil
}

// checkEmail adds a message for field unless v is one plain e-mail address.
func checkEmail(errs model.FieldErrors, field, v string) {
	switch {
	case v == "":
		errs.Add(field, "Enter an e-mail address.")
	case len(v) > 254:
		errs.Add(field, "That e-mail address is too long.")
	case model.DeceptiveTextMessage("", v) != "":
		errs.Add(field, model.DeceptiveTextMessage("The e-mail address", v))
	default:
		a, err := mail.ParseAddress(v)
		if err != nil || a.Address != v || !strings.Contains(v[strings.LastIndexByte(v, '@')+1:], ".") && !strings.HasSuffix(v, "@localhost") {
			errs.Add(field, "Enter an e-mail address such as ana@example.com.")
		}
	}
}

// checkTeamName adds a message for field unless v is 1–100 characters with
// no control characters and no invisible direction or zero-width ones.
func checkTeamName(errs model.FieldErrors, field, v string) {
	switch n := utf8.RuneCountInString(v); {
	case n == 0:
		errs.Add(field, "Enter a team name.")
	case n > maxTeamNameLen:
		errs.Add(field, "Use at most 100 characters for the team name.")
	case strings.ContainsFunc(v, unicode.IsControl):
		errs.Add(field, "The team name can't contain control characters.")
	default:
		if msg := model.DeceptiveTextMessage("The team name", v); msg != "" {
			errs.Add(field, msg)
		}
	}
}
