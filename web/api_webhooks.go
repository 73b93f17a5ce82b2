package web

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
)

// apiEndpointJSON is a webhook endpoint in API answers; Secret is set only
// in the answer to its creation.
type apiEndpointJSON struct {
	ID                 string     `json:"id"`
	URL                string     `json:"url"`
	Description        string     `json:"description"`
	Events             []string   `json:"events"`
	Enabled            bool       `json:"enabled"`
	DisabledReason     string     `json:"disabled_reason,omitempty"`
	FailingSince       *time.Time `json:"failing_since"`
	OldSecretExpiresAt *time.Time `json:"old_secret_expires_at,omitempty"`
	Secret             string     `json:"secret,omitempty"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
}

func toAPIEndpoint(ep model.WebhookEndpoint) apiEndpointJSON {
	evs := ep.EventTypes
	if evs == nil {
		evs = []string{}
	}
	return apiEndpointJSON{ID: ep.PublicID, URL: ep.URL, Description: ep.Description, Events: evs, Enabled: ep.Enabled,
		DisabledReason: ep.DisabledReason, FailingSince: utc(ep.FailingSince), OldSecretExpiresAt: utc(ep.OldSecretExpiresAt),
		CreatedAt: ep.CreatedAt.UTC(), UpdatedAt: ep.UpdatedAt.UTC()}
}

// apiDeliveryJSON is one delivery in API answers.
type apiDeliveryJSON struct {
	ID             int64      `json:"id"`
	EventID        string     `json:"event_id"`
	EventType      string     `json:"event_type"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	ResponseStatus int        `json:"response_status"`
	ResponseMS     int        `json:"response_ms"`
	LastError      string     `json:"last_error"`
	LastAttemptAt  *time.Time `json:"last_attempt_at"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	CreatedAt      time.Time  `json:"created_at"`
}

func toAPIDelivery(d model.Delivery) apiDeliveryJSON {
	out := apiDeliveryJSON{ID: d.ID, EventID: d.Event.PublicID, EventType: d.Event.Type, Status: d.Status, Attempts: d.Attempts,
		ResponseStatus: d.ResponseStatus, ResponseMS: d.ResponseMS, LastError: d.LastError, LastAttemptAt: utc(d.LastAttemptAt),
		CreatedAt: d.CreatedAt.UTC()}
	if d.Status == model.DeliveryPending {
		out.NextAttemptAt = utc(&d.NextAttemptAt)
	}
	return out
}

// apiEndpointBody is the body of POST and PATCH /v1/webhook-endpoints.
type apiEndpointBody struct {
	URL         *string  `json:"url"`
	Description *string  `json:"description"`
	Events      []string `json:"events"`
	Enabled     *bool    `json:"enabled"`
}

// handleAPIWebhookList serves GET /v1/webhook-endpoints.
func (s *Server) handleAPIWebhookList(c echo.Context) error {
	eps, err := s.store.FindEndpoints(c.Request().Context(), apiKey(c).TeamID())
	if err != nil {
		return err
	}
	out := make([]apiEndpointJSON, 0, len(eps))
	for _, ep := range eps {
		out = append(out, toAPIEndpoint(ep))
	}
	return c.JSON(http.StatusOK, newAPIList(out, ""))
}

// handleAPIWebhookCreate serves POST /v1/webhook-endpoints: 201 with the
// endpoint and its signing secret, returned this once.
func (s *Server) handleAPIWebhookCreate(c echo.Context) error {
	var b apiEndpointBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	ctx := c.Request().Context()
	fe := model.FieldErrors{}
	in := webhookInput{Events: b.Events}
	if b.URL == nil {
		fe.Add("url", "url is required.")
	} else {
		in.URL = *b.URL
	}
	if b.Description != nil {
		in.Description = *b.Description
	}
	if b.Enabled != nil && !*b.Enabled {
		fe.Add("enabled", "A new endpoint starts enabled; disable it with PATCH.")
	}
	s.checkWebhookInput(ctx, &in, fe)
	if err := fe.Err(); err != nil {
		return err
	}
	raw, secret, err := s.sealNewSecret()
	if err != nil {
		return err
	}
	ep := model.WebhookEndpoint{TeamID: apiKey(c).TeamID(), URL: in.URL, Description: in.Description, EventTypes: in.Events}
	if err := s.store.CreateEndpoint(ctx, &ep, secret, keyActor(c)); err != nil {
		return err
	}
	out := toAPIEndpoint(ep)
	out.Secret = raw
	return c.JSON(http.StatusCreated, out)
}

// handleAPIWebhookShow serves GET /v1/webhook-endpoints/{id}.
func (s *Server) handleAPIWebhookShow(c echo.Context) error {
	ep, err := s.store.FindEndpointByID(c.Request().Context(), apiKey(c).TeamID(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIEndpoint(ep))
}

// handleAPIWebhookUpdate serves PATCH /v1/webhook-endpoints/{id}: url,
// description, events, enabled; absent fields stay as they are.
func (s *Server) handleAPIWebhookUpdate(c echo.Context) error {
	var b apiEndpointBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	ctx := c.Request().Context()
	team := apiKey(c).TeamID()
	cur, err := s.store.FindEndpointByID(ctx, team, c.Param("id"))
	if err != nil {
		return err
	}
	in := webhookInput{URL: cur.URL, Description: cur.Description, Events: cur.EventTypes}
	if b.URL != nil {
		in.URL = *b.URL
	}
	if b.Description != nil {
		in.Description = *b.Description
	}
	if b.Events != nil {
		in.Events = b.Events
	}
	fe := model.FieldErrors{}
	s.checkWebhookInput(ctx, &in, fe)
	if err := fe.Err(); err != nil {
		return err
	}
	u := store.EndpointUpdate{Enabled: b.Enabled}
	if b.URL != nil {
		u.URL = &in.URL
	}
	if b.Description != nil {
		u.Description = &in.Description
	}
	if b.Events != nil {
		u.EventTypes = in.Events
	}
	ep, err := s.store.UpdateEndpoint(ctx, team, c.Param("id"), u, keyActor(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIEndpoint(ep))
}

// handleAPIWebhookDelete serves DELETE /v1/webhook-endpoints/{id}: 204.
func (s *Server) handleAPIWebhookDelete(c echo.Context) error {
	if _, err := s.store.DeleteEndpoint(c.Request().Context(), apiKey(c).TeamID(), c.Param("id"), keyActor(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// handleAPIWebhookDeliveries serves GET /v1/webhook-endpoints/{id}/deliveries:
// the endpoint's 50 latest deliveries (?limit= up to 200), newest first.
func (s *Server) handleAPIWebhookDeliveries(c echo.Context) error {
	ctx := c.Request().Context()
	team := apiKey(c).TeamID()
	ep, err := s.store.FindEndpointByID(ctx, team, c.Param("id"))
	if err != nil {
		return err
	}
	limit, err := queryLimit(c, 50, 200)
	if err != nil {
		return err
	}
	ds, err := s.store.FindDeliveries(ctx, store.DeliveryFilter{TeamID: team, EndpointID: ep.ID, Limit: limit})
	if err != nil {
		return err
	}
	out := make([]apiDeliveryJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, toAPIDelivery(d))
	}
	return c.JSON(http.StatusOK, newAPIList(out, ""))
}

// handleAPIWebhookTest serves POST /v1/webhook-endpoints/{id}/test: 202
// with the id of a webhook_endpoint.test event queued to this endpoint only.
func (s *Server) handleAPIWebhookTest(c echo.Context) error {
	ev, err := s.store.SendTestEvent(c.Request().Context(), apiKey(c).TeamID(), c.Param("id"), keyActor(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]string{"event_id": ev.PublicID, "type": ev.Type})
}
