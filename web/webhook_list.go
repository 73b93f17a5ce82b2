package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/views"
)

// handleWebhookList serves GET /settings/webhooks: the team's endpoints and
// the add form.
func (s *Server) handleWebhookList(c echo.Context) error {
	props, err := s.webhooksProps(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.WebhooksPage(props))
}

func (s *Server) webhooksProps(c echo.Context) (views.WebhooksProps, error) {
	eps, err := s.store.FindEndpoints(c.Request().Context(), teamID(c))
	if err != nil {
		return views.WebhooksProps{}, err
	}
	p := views.WebhooksProps{Chrome: s.chrome(c, "webhooks"), Now: s.now().UTC(), Endpoints: eps}
	if s.box == nil {
		p.Unavailable = webhooksUnavailable
	}
	return p, nil
}
