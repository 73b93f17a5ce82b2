package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/views"
)

// handleWebhookRotate serves POST /settings/webhooks/:id/rotate: a new
// signing secret, shown once in this response; the previous one stays valid
// for 24 hours and deliveries carry both signatures meanwhile.
func (s *Server) handleWebhookRotate(c echo.Context) error {
	ctx := c.Request().Context()
	if _, err := s.store.FindEndpointByID(ctx, teamID(c), c.Param("id")); err != nil {
		return err
	}
	raw, secret, err := s.sealNewSecret()
	if err != nil {
		return err
	}
	ep, err := s.store.RotateEndpointSecret(ctx, teamID(c), c.Param("id"), secret, rotationGrace, actor(c))
	if err != nil {
		return err
	}
	noStore(c)
	c.Response().Header().Set("HX-Push-Url", "false")
	props, err := s.webhookProps(c)
	if err != nil {
		return err
	}
	props.Reveal = &views.WebhookSecretReveal{EndpointID: ep.PublicID, URL: ep.URL, Secret: raw, Rotated: true}
	return render(c, http.StatusOK, views.WebhookPage(props))
}
