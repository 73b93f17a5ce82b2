package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/views"
)

// handleWebhookDeleteConfirm serves GET /settings/webhooks/:id/delete: the
// confirmation as a page, for browsers without JavaScript (the endpoint's
// page asks in a dialog).
func (s *Server) handleWebhookDeleteConfirm(c echo.Context) error {
	ep, err := s.store.FindEndpointByID(c.Request().Context(), teamID(c), c.Param("id"))
	if err != nil {
		return err
	}
	noStore(c)
	return render(c, http.StatusOK, views.WebhookDeletePage(views.WebhookProps{Chrome: s.chrome(c, "webhooks"), Now: s.now().UTC(), Endpoint: ep}))
}

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
