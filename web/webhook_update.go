package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/store"
)

// handleWebhookEnable serves POST /settings/webhooks/:id/enable: deliveries
// resume and the failure streak starts over.
func (s *Server) handleWebhookEnable(c echo.Context) error { return s.setWebhookEnabled(c, true) }

// handleWebhookDisable serves POST /settings/webhooks/:id/disable: no new
// deliveries until enabled again.
func (s *Server) handleWebhookDisable(c echo.Context) error { return s.setWebhookEnabled(c, false) }

func (s *Server) setWebhookEnabled(c echo.Context, on bool) error {
	ep, err := s.store.UpdateEndpoint(c.Request().Context(), teamID(c), c.Param("id"), store.EndpointUpdate{Enabled: &on}, actor(c))
	if err != nil {
		return err
	}
	msg := ep.URL + " is disabled: keyward sends it nothing until you enable it."
	if on {
		msg = ep.URL + " is enabled."
	}
	if err := s.flash(c, "success", msg); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/webhooks/"+ep.PublicID)
}
