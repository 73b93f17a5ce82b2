package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/views"
	"github.com/keyward/keyward/web/openapi"
)

// apiState is what the /v1 API keeps beside the verifier and recorder.
type apiState struct {
	keyFailures    *failLimiter // failed key checks per IP, on every /v1 route
	verifyFailures *failLimiter // INVALID verdicts per IP, on POST /v1/keys/verify
	docs           views.APIDocs
	docsErr        error
}

// apiRoutes registers the /v1 API, authenticated by key (api_auth.go), and
// its reference. web/openapi/openapi.json describes every route below with
// the scope it needs (x-keyward-scope); the tests hold the two in step.
// Every GET route also answers HEAD, with the same scope.
//
//	GET    /v1/whoami                  handleWhoami          (any key)
//	GET    /v1/api-keys                handleAPIKeyList      api_keys:read
//	POST   /v1/api-keys                handleAPIKeyCreate    api_keys:write
//	GET    /v1/api-keys/:id            handleAPIKeyShow      api_keys:read
//	PATCH  /v1/api-keys/:id            handleAPIKeyUpdate    api_keys:write
//	DELETE /v1/api-keys/:id            handleAPIKeyDelete    api_keys:write
//	POST   /v1/api-keys/:id/revoke     handleAPIKeyRevoke    api_keys:write
//	POST   /v1/api-keys/:id/roll       handleAPIKeyRoll      api_keys:write
//	GET    /v1/members                 handleAPIMemberList   members:read
//	GET    /v1/audit-log               handleAPIAuditLog     audit_log:read
//	POST   /v1/keys/verify             handleKeyVerify       key_verification:read or api_keys:read
//	GET    /v1/webhook-endpoints       handleAPIWebhookList  webhooks:read
//	POST   /v1/webhook-endpoints       handleAPIWebhookCreate webhooks:write
//	GET    /v1/webhook-endpoints/:id   handleAPIWebhookShow  webhooks:read
//	PATCH  /v1/webhook-endpoints/:id   handleAPIWebhookUpdate webhooks:write
//	DELETE /v1/webhook-endpoints/:id   handleAPIWebhookDelete webhooks:write
//	GET    /v1/webhook-endpoints/:id/deliveries handleAPIWebhookDeliveries webhooks:read
//	POST   /v1/webhook-endpoints/:id/test       handleAPIWebhookTest webhooks:write
//	POST   /v1/keys/report-leak        handleAPIReportLeak   (any key)
//	POST   /v1/secret-scanning/github  handleSecretScanningGitHub (no key: signed by the scanner)
//	GET    /openapi.json               handleOpenAPI
//	GET    /docs                       handleDocs
func (s *Server) apiRoutes(e *echo.Echo) {
	s.api = &apiState{
		keyFailures:    newFailLimiter(keyFailEvery, keyFailBurst),
		verifyFailures: newFailLimiter(verifyFailEvery, verifyFailBurst),
	}
	s.api.docs, s.api.docsErr = apiDocs(openapi.JSON)

	// Signed by the scanner, not authenticated by a key: registered before
	// the group, whose key check it must not pass through.
	e.POST("/v1/secret-scanning/github", s.handleSecretScanningGitHub)

	g := e.Group("/v1", s.apiAuth)
	readRoute(g, "/whoami", s.handleWhoami)
	readRoute(g, "/api-keys", s.handleAPIKeyList, requireScope("api_keys:read"))
	g.POST("/api-keys", s.handleAPIKeyCreate, requireScope("api_keys:write"))
	readRoute(g, "/api-keys/:id", s.handleAPIKeyShow, requireScope("api_keys:read"))
	g.PATCH("/api-keys/:id", s.handleAPIKeyUpdate, requireScope("api_keys:write"))
	g.DELETE("/api-keys/:id", s.handleAPIKeyDelete, requireScope("api_keys:write"))
	g.POST("/api-keys/:id/revoke", s.handleAPIKeyRevoke, requireScope("api_keys:write"))
	g.POST("/api-keys/:id/roll", s.handleAPIKeyRoll, requireScope("api_keys:write"))
	readRoute(g, "/members", s.handleAPIMemberList, requireScope("members:read"))
	readRoute(g, "/audit-log", s.handleAPIAuditLog, requireScope("audit_log:read"))
	g.POST("/keys/verify", s.handleKeyVerify, requireScope("key_verification:read", "api_keys:read"))
	readRoute(g, "/webhook-endpoints", s.handleAPIWebhookList, requireScope("webhooks:read"))
	g.POST("/webhook-endpoints", s.handleAPIWebhookCreate, requireScope("webhooks:write"))
	readRoute(g, "/webhook-endpoints/:id", s.handleAPIWebhookShow, requireScope("webhooks:read"))
	g.PATCH("/webhook-endpoints/:id", s.handleAPIWebhookUpdate, requireScope("webhooks:write"))
	g.DELETE("/webhook-endpoints/:id", s.handleAPIWebhookDelete, requireScope("webhooks:write"))
	readRoute(g, "/webhook-endpoints/:id/deliveries", s.handleAPIWebhookDeliveries, requireScope("webhooks:read"))
	g.POST("/webhook-endpoints/:id/test", s.handleAPIWebhookTest, requireScope("webhooks:write"))
	g.POST("/keys/report-leak", s.handleAPIReportLeak)

	e.GET("/openapi.json", s.handleOpenAPI)
	e.GET("/docs", s.handleDocs, s.optionalUser)
}

// readRoute registers a read-only route for GET and HEAD (DESIGN.md: both
// need the resource's :read scope; net/http drops a HEAD answer's body).
func readRoute(g *echo.Group, path string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
	g.Match([]string{http.MethodGet, http.MethodHead}, path, h, mw...)
}

// handleOpenAPI serves GET /openapi.json: the OpenAPI 3.1 document of /v1.
func (s *Server) handleOpenAPI(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openapi.JSON)
}

// handleDocs serves GET /docs: the API reference, rendered from the
// OpenAPI document.
func (s *Server) handleDocs(c echo.Context) error {
	if s.api.docsErr != nil {
		return s.api.docsErr
	}
	return render(c, http.StatusOK, views.DocsPage(s.chrome(c, "docs"), s.api.docs))
}
