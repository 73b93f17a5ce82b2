package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/views"
)

// handleWebhookShow serves GET /settings/webhooks/:id: the endpoint, its
// actions and its 50 latest deliveries. Another team's id answers 404.
func (s *Server) handleWebhookShow(c echo.Context) error {
	props, err := s.webhookProps(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.WebhookPage(props))
}

func (s *Server) webhookProps(c echo.Context) (views.WebhookProps, error) {
	ctx := c.Request().Context()
	ep, err := s.store.FindEndpointByID(ctx, teamID(c), c.Param("id"))
	if err != nil {
		return views.WebhookProps{}, err
	}
	ds, err := s.store.FindDeliveries(ctx, store.DeliveryFilter{TeamID: teamID(c), EndpointID: ep.ID, Limit: 50})
	if err != nil {
		return views.WebhookProps{}, err
	}
	return views.WebhookProps{Chrome: s.chrome(c, "webhooks"), Now: s.now().UTC(), Endpoint: ep, Deliveries: ds}, nil
}
