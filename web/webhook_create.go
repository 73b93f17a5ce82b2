package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// handleWebhookCreate serves POST /settings/webhooks (fields url,
// description, events): it adds an endpoint and answers the page with its
// signing secret, shown this once (never in a redirect, flash or log).
func (s *Server) handleWebhookCreate(c echo.Context) error {
	ctx := c.Request().Context()
	form, _ := c.FormParams()
	in := webhookInput{URL: c.FormValue("url"), Description: c.FormValue("description"), Events: form["events"]}
	errs := model.FieldErrors{}
	s.checkWebhookInput(ctx, &in, errs)
	if len(errs) > 0 {
		props, err := s.webhooksProps(c)
		if err != nil {
			return err
		}
		props.Form = views.WebhookForm{URL: c.FormValue("url"), Description: c.FormValue("description"), Events: form["events"], Errors: errs}
		return render(c, http.StatusUnprocessableEntity, views.WebhooksPage(props))
	}
	raw, secret, err := s.sealNewSecret()
	if err != nil {
		return err
	}
	ep := model.WebhookEndpoint{TeamID: teamID(c), URL: in.URL, Description: in.Description, EventTypes: in.Events}
	if err := s.store.CreateEndpoint(ctx, &ep, secret, actor(c)); err != nil {
		return err
	}
	s.logger(c).Info("webhook endpoint added", "team_id", ep.TeamID, "endpoint_id", ep.PublicID)
	noStore(c)
	c.Response().Header().Set("HX-Push-Url", "false")
	props, err := s.webhooksProps(c)
	if err != nil {
		return err
	}
	props.Reveal = &views.WebhookSecretReveal{EndpointID: ep.PublicID, URL: ep.URL, Secret: raw}
	return render(c, http.StatusOK, views.WebhooksPage(props))
}
