package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// handleWebhookDelete serves POST /settings/webhooks/:id/delete: the
// endpoint and its deliveries are removed.
func (s *Server) handleWebhookDelete(c echo.Context) error {
	ep, err := s.store.DeleteEndpoint(c.Request().Context(), teamID(c), c.Param("id"), actor(c))
	if err != nil {
		return err
	}
	if err := s.flash(c, "success", ep.URL+" was deleted."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/webhooks")
}
