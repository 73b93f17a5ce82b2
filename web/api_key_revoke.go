package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// handleAPIKeyRevoke serves POST /v1/api-keys/{id}/revoke: revokes the key
// for good (409 if it is revoked already) and answers it. Calls with it are
// refused from the next request on, on every instance.
func (s *Server) handleAPIKeyRevoke(c echo.Context) error {
	k, err := s.store.RevokeKey(c.Request().Context(), apiKey(c).TeamID(), c.Param("id"), keyActor(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIKey(k, s.now().UTC()))
}
