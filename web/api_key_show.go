package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// handleAPIKeyShow serves GET /v1/api-keys/{id}: one of the team's keys.
// Another team's key id answers 404.
func (s *Server) handleAPIKeyShow(c echo.Context) error {
	k, err := s.store.FindKeyByID(c.Request().Context(), apiKey(c).TeamID(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIKey(k, s.now().UTC()))
}
