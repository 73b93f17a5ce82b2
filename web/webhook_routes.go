package web

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/notify"
	"github.com/keyward/keyward/internal/store"
)

// webhookRoutes registers Settings → Webhooks, OWNER and ADMIN only; every
// handler scopes its queries to the current team.
//
//	GET  /settings/webhooks                              handleWebhookList
//	POST /settings/webhooks                              handleWebhookCreate
//	GET  /settings/webhooks/:id                          handleWebhookShow
//	POST /settings/webhooks/:id/enable                   handleWebhookEnable
//	POST /settings/webhooks/:id/disable                  handleWebhookDisable
//	POST /settings/webhooks/:id/rotate                   handleWebhookRotate
//	GET  /settings/webhooks/:id/delete                   handleWebhookDeleteConfirm
//	POST /settings/webhooks/:id/delete                   handleWebhookDelete
//	POST /settings/webhooks/:id/test                     handleWebhookTest
//	POST /settings/webhooks/:id/deliveries/:did/resend   handleWebhookResend
func (s *Server) webhookRoutes(e *echo.Echo) {
	g := e.Group("/settings/webhooks", s.requireManager)
	g.GET("", s.handleWebhookList)
	g.POST("", s.handleWebhookCreate)
	g.GET("/:id", s.handleWebhookShow)
	g.POST("/:id/enable", s.handleWebhookEnable)
	g.POST("/:id/disable", s.handleWebhookDisable)
	g.POST("/:id/rotate", s.handleWebhookRotate)
	g.GET("/:id/delete", s.handleWebhookDeleteConfirm)
	g.POST("/:id/delete", s.handleWebhookDelete)
	g.POST("/:id/test", s.handleWebhookTest)
	g.POST("/:id/deliveries/:did/resend", s.handleWebhookResend)
}

// rotationGrace is how long a rotated-out signing secret stays valid.
const rotationGrace = store.RotationGrace

// webhookInput is an endpoint as entered in the form or the API.
type webhookInput struct {
	URL         string
	Description string
	Events      []string
}

// checkWebhookInput validates and normalises an endpoint; field errors are
// keyed url, description and events.
func (s *Server) checkWebhookInput(ctx context.Context, in *webhookInput, errs model.FieldErrors) {
	u, err := notify.CheckEndpointURL(ctx, in.URL, s.cfg.WebhookAllowPrivate)
	if err != nil {
		errs.Add("url", model.ErrorMessage(err))
	} else {
		in.URL = u
	}
	in.Description = strings.TrimSpace(in.Description)
	if utf8.RuneCountInString(in.Description) > 200 || strings.ContainsFunc(in.Description, isControl) {
		errs.Add("description", "Use at most 200 characters, without control characters.")
	}
	seen := map[string]bool{}
	events := []string{}
	for _, ev := range in.Events {
		ev = strings.TrimSpace(ev)
		if ev == "" || seen[ev] {
			continue
		}
		if !model.ValidEventFilter(ev) {
			errs.Add("events", "Unknown event type "+ev+".")
			continue
		}
		seen[ev] = true
		events = append(events, ev)
	}
	in.Events = events
}

// sealNewSecret makes a whsec_ secret and seals it; it returns EINVALID
// when no encryption key is configured.
func (s *Server) sealNewSecret() (string, store.EndpointSecret, error) {
	if s.box == nil {
		return "", store.EndpointSecret{}, model.Errorf(model.EINVALID, webhooksUnavailable)
	}
	raw, err := notify.NewSecret()
	if err != nil {
		return "", store.EndpointSecret{}, err
	}
	sealed, kid, err := s.box.Seal(raw)
	if err != nil {
		return "", store.EndpointSecret{}, err
	}
	return raw, store.EndpointSecret{Sealed: sealed, KeyID: kid}, nil
}

const webhooksUnavailable = "Webhook endpoints need KEYWARD_ENCRYPTION_KEY (32 bytes in base64) to seal their signing secrets; ask the operator to set it on every instance."
