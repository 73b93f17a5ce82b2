package web

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
)

// handleTeamSwitch serves POST /teams/switch: it makes team_id the current
// team of the session. Only a team the user belongs to (read from the
// database now) can be chosen; any other id answers 404.
func (s *Server) handleTeamSwitch(c echo.Context) error {
	p := currentPrincipal(c)
	id, err := strconv.ParseInt(c.FormValue("team_id"), 10, 64)
	if err != nil {
		return model.Errorf(model.ENOTFOUND, "Team not found.")
	}
	var target *model.Membership
	for i := range p.Teams {
		if p.Teams[i].TeamID == id {
			target = &p.Teams[i]
		}
	}
	if target == nil {
		return model.Errorf(model.ENOTFOUND, "Team not found.")
	}
	currentSession(c).Values[sessTeamID] = id
	p.Membership = *target
	if err := s.flash(c, "info", "You are now working in "+target.Team.Name+" as "+target.Role.Label()+"."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/")
}
