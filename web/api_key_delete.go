package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// handleAPIKeyDelete serves DELETE /v1/api-keys/{id}: removes the key (its
// audit trail stays) and answers 204.
func (s *Server) handleAPIKeyDelete(c echo.Context) error {
	if _, err := s.store.DeleteKey(c.Request().Context(), apiKey(c).TeamID(), c.Param("id"), keyActor(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
