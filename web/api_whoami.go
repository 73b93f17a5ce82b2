package web

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
)

// whoamiJSON is the calling key, as GET /v1/whoami shows it.
type whoamiJSON struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	TeamID      int64      `json:"team_id"`
	Environment string     `json:"environment"`
	Hint        string     `json:"hint"`
	Permission  string     `json:"permission"`
	Scopes      []string   `json:"scopes"`
	ExpiresAt   *time.Time `json:"expires_at"`
	model.Restrictions
	// QuotaRemaining is about what is left of the quota (null: no quota).
	QuotaRemaining *int64 `json:"quota_remaining"`
}

// handleWhoami serves GET /v1/whoami: the key the request was made with
// ("test your key"). It needs no scope and answers from the verify cache.
func (s *Server) handleWhoami(c echo.Context) error {
	k := apiKey(c)
	out := whoamiJSON{
		ID: k.PublicID(), Name: k.Name(), TeamID: k.TeamID(), Environment: k.Environment(),
		Hint: k.Hint(), Permission: string(k.Permission().Set), Scopes: k.Scopes(), ExpiresAt: k.ExpiresAt(),
		Restrictions: k.Restrictions(),
	}
	if left, ok := s.verifier.QuotaLeft(k); ok {
		out.QuotaRemaining = &left
	}
	return c.JSON(http.StatusOK, out)
}
