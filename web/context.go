package web

import (
	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
)

// principal is the signed-in user of a dashboard request, with their role in
// the current team read from the database on this request.
type principal struct {
	User       model.User
	Membership model.Membership // current team; Membership.Team is filled
	Teams      []model.Membership
	SessionID  string
}

const principalKey = "principal"

// currentPrincipal returns the signed-in user, or nil.
func currentPrincipal(c echo.Context) *principal {
	p, _ := c.Get(principalKey).(*principal)
	return p
}

// actor returns the audit actor for the signed-in user of c.
func actor(c echo.Context) model.Actor {
	p := currentPrincipal(c)
	if p == nil {
		return model.Actor{IP: c.RealIP()}
	}
	return model.UserActor(p.User, c.RealIP())
}

// teamID is the current team of the signed-in user (0 when signed out).
func teamID(c echo.Context) int64 {
	if p := currentPrincipal(c); p != nil {
		return p.Membership.TeamID
	}
	return 0
}

// csrfToken returns the CSRF token for forms on this request, or "".
func csrfToken(c echo.Context) string {
	t, _ := c.Get(csrfContextKey).(string)
	return t
}

const csrfContextKey = "csrf"
