package web

import (
	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/views"
)

// render writes a templ component with the given status.
func render(c echo.Context, status int, comp templ.Component) error {
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	return comp.Render(c.Request().Context(), c.Response())
}

// chrome gathers what the page shell shows: who is signed in, the current
// team, the team switcher, the CSRF token and the active navigation entry.
func (s *Server) chrome(c echo.Context, nav string) views.Chrome {
	ch := views.Chrome{Nav: nav, CSRF: csrfToken(c), Flash: s.popFlash(c)}
	if p := currentPrincipal(c); p != nil {
		ch.Email = p.User.Email
		ch.TeamID = p.Membership.TeamID
		ch.TeamName = p.Membership.Team.Name
		ch.Role = p.Membership.Role
		ch.Teams = p.Teams
		ch.SignedIn = true
	}
	return ch
}
