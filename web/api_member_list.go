package web

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// apiMemberJSON is a member of the team.
type apiMemberJSON struct {
	ID        int64     `json:"id"`
	UserID    int64     `json:"user_id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// handleAPIMemberList serves GET /v1/members: the team's members and their
// roles, by e-mail.
func (s *Server) handleAPIMemberList(c echo.Context) error {
	ms, err := s.store.FindMembers(c.Request().Context(), apiKey(c).TeamID())
	if err != nil {
		return err
	}
	out := make([]apiMemberJSON, len(ms))
	for i, m := range ms {
		out[i] = apiMemberJSON{ID: m.ID, UserID: m.UserID, Email: m.User.Email, Role: string(m.Role), CreatedAt: m.CreatedAt.UTC()}
	}
	return c.JSON(http.StatusOK, newAPIList(out, ""))
}
