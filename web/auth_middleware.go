package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
)

// requireUser lets signed-in users through with their principal in the
// context: the user, every team they belong to, and the current team's
// membership, all read from the database on this request, so a demotion or
// a removal applies to the very next request. Signed-out visitors go to
// /login (or /setup on an empty install); htmx requests get 401 with
// HX-Redirect, since a redirected fragment would land inside the page.
func (s *Server) requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, err := s.loadPrincipal(c)
		if err != nil {
			return err
		}
		if p == nil {
			return s.toSignIn(c)
		}
		c.Set(principalKey, p)
		// Pages behind sign-in must not be kept by shared caches or the
		// back button after sign-out.
		noStore(c)
		if p.User.MustChangePassword && c.Path() != "/account/password" {
			// Someone else chose this password (a generated one): the
			// user sets their own before anything else.
			if isHTMX(c) {
				c.Response().Header().Set("HX-Redirect", "/account/password")
				return c.NoContent(http.StatusUnauthorized)
			}
			return c.Redirect(http.StatusSeeOther, "/account/password")
		}
		return next(c)
	}
}

// optionalUser is requireUser for public pages (GET /docs): a signed-in
// visitor's principal goes in the context, so the page shows the normal
// chrome (team, account menu, settings), and the page is then kept out of
// shared caches; a signed-out visitor passes as they are.
func (s *Server) optionalUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, err := s.loadPrincipal(c)
		if err != nil {
			return err
		}
		if p != nil {
			c.Set(principalKey, p)
			noStore(c)
		}
		return next(c)
	}
}

// requireManager is requireUser plus the OWNER or ADMIN role in the current
// team; anyone else gets the friendly 403 page. Every settings route sits
// behind it: e.Group("/settings", s.requireManager).
func (s *Server) requireManager(next echo.HandlerFunc) echo.HandlerFunc {
	return s.requireUser(func(c echo.Context) error {
		if !currentPrincipal(c).Membership.Role.CanManage() {
			return model.Errorf(model.EFORBIDDEN,
				"Only team owners and admins can open settings. Ask an owner of your team if you need access.")
		}
		return next(c)
	})
}

// loadPrincipal returns the signed-in user of the request, or nil.
func (s *Server) loadPrincipal(c echo.Context) (*principal, error) {
	uid, ok := sessionUserID(c)
	if !ok {
		return nil, nil
	}
	ctx := c.Request().Context()
	u, err := s.store.FindUserByID(ctx, uid)
	if model.ErrorCode(err) == model.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	teams, err := s.store.FindUserTeams(ctx, uid)
	if err != nil {
		return nil, err
	}
	sess := currentSession(c)
	p := &principal{User: u, Teams: teams, SessionID: sess.ID}
	want, _ := sess.Values[sessTeamID].(int64)
	for _, m := range teams {
		if m.TeamID == want {
			p.Membership = m
			break
		}
	}
	if p.Membership.ID == 0 && len(teams) > 0 {
		// The current team is gone (removed from it, or it was deleted):
		// fall back to the first team the user still belongs to.
		p.Membership = teams[0]
		sess.Values[sessTeamID] = p.Membership.TeamID
		if err := s.saveSession(c); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// toSignIn sends a signed-out visitor to /setup on an empty install, else to
// /login, remembering the page they wanted.
func (s *Server) toSignIn(c echo.Context) error {
	target := "/login"
	has, err := s.hasUsers(c.Request().Context())
	if err != nil {
		return err
	}
	if !has {
		target = "/setup"
	} else if r := c.Request(); r.Method == http.MethodGet && r.URL.Path != "/" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	if isHTMX(c) {
		c.Response().Header().Set("HX-Redirect", target)
		return c.NoContent(http.StatusUnauthorized)
	}
	return c.Redirect(http.StatusSeeOther, target)
}

// hasUsers reports whether anyone has been set up yet.
func (s *Server) hasUsers(ctx context.Context) (bool, error) {
	if s.acc.hasUsers.Load() {
		return true, nil
	}
	n, err := s.store.CountUsers(ctx)
	if err != nil {
		return false, err
	}
	if n > 0 {
		s.acc.hasUsers.Store(true)
	}
	return n > 0, nil
}

// safeNext returns next if it is a path on this site, else "/". Browsers
// drop tabs and line breaks from a Location and read a backslash as a slash,
// so "/<TAB>/evil.example" and "/\evil.example" lead to another site as
// surely as "//evil.example" does: next must start with one slash, hold no
// control character and no backslash anywhere, be valid UTF-8, and parse as
// a path with no scheme, host or user (whose decoded form holds no control
// character either).
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") ||
		!utf8.ValidString(next) || strings.ContainsFunc(next, unicode.IsControl) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") || strings.ContainsFunc(u.Path, unicode.IsControl) {
		return "/"
	}
	return next
}
