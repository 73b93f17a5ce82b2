package web

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
)

// handleWebhookTest serves POST /settings/webhooks/:id/test: a
// webhook_endpoint.test event delivered to this endpoint only.
func (s *Server) handleWebhookTest(c echo.Context) error {
	ev, err := s.store.SendTestEvent(c.Request().Context(), teamID(c), c.Param("id"), actor(c))
	if err != nil {
		return err
	}
	if err := s.flash(c, "success", "Test event "+ev.PublicID+" is on its way; its delivery shows below."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/webhooks/"+c.Param("id"))
}

// handleWebhookResend serves POST /settings/webhooks/:id/deliveries/:did/resend:
// the delivery's event is queued to the endpoint again (same webhook-id).
func (s *Server) handleWebhookResend(c echo.Context) error {
	ctx := c.Request().Context()
	ep, err := s.store.FindEndpointByID(ctx, teamID(c), c.Param("id"))
	if err != nil {
		return err
	}
	did, err := strconv.ParseInt(c.Param("did"), 10, 64)
	if err != nil || did <= 0 {
		return model.Errorf(model.ENOTFOUND, "Delivery not found.")
	}
	if _, err := s.store.ResendDelivery(ctx, teamID(c), ep.ID, did); err != nil {
		return err
	}
	if err := s.flash(c, "success", "The event was queued again."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/webhooks/"+ep.PublicID)
}
