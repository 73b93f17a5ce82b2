package web

import (
	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/views"
)

// render writes a templ component with the given status. Pages are never
// cached (they show the signed-in user's data); their assets are.
func render(c echo.Context, status int, comp templ.Component) error {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-cache")
	}
	ctx := c.Request().Context()
	if urls, ok := c.Get(assetURLsKey).(map[string]string); ok {
		ctx = views.WithAssetURLs(ctx, urls)
	}
	c.Response().WriteHeader(status)
	return comp.Render(ctx, c.Response())
}

// assetURLsKey holds, in the Echo context, the assets' hashed URLs for render.
const assetURLsKey = "asset_urls"

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
