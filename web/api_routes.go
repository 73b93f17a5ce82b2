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

	g := apiGroup{e: e, auth: s.apiAuth}
	g.read("/whoami", s.handleWhoami)
	g.read("/api-keys", s.handleAPIKeyList, requireScope("api_keys:read"))
	g.add(http.MethodPost, "/api-keys", s.handleAPIKeyCreate, requireScope("api_keys:write"))
	g.read("/api-keys/:id", s.handleAPIKeyShow, requireScope("api_keys:read"))
	g.add(http.MethodPatch, "/api-keys/:id", s.handleAPIKeyUpdate, requireScope("api_keys:write"))
	g.add(http.MethodDelete, "/api-keys/:id", s.handleAPIKeyDelete, requireScope("api_keys:write"))
	g.add(http.MethodPost, "/api-keys/:id/revoke", s.handleAPIKeyRevoke, requireScope("api_keys:write"))
	g.add(http.MethodPost, "/api-keys/:id/roll", s.handleAPIKeyRoll, requireScope("api_keys:write"))
	g.read("/members", s.handleAPIMemberList, requireScope("members:read"))
	g.read("/audit-log", s.handleAPIAuditLog, requireScope("audit_log:read"))
	g.add(http.MethodPost, "/keys/verify", s.handleKeyVerify, requireScope("key_verification:read", "api_keys:read"))
	g.read("/webhook-endpoints", s.handleAPIWebhookList, requireScope("webhooks:read"))
	g.add(http.MethodPost, "/webhook-endpoints", s.handleAPIWebhookCreate, requireScope("webhooks:write"))
	g.read("/webhook-endpoints/:id", s.handleAPIWebhookShow, requireScope("webhooks:read"))
	g.add(http.MethodPatch, "/webhook-endpoints/:id", s.handleAPIWebhookUpdate, requireScope("webhooks:write"))
	g.add(http.MethodDelete, "/webhook-endpoints/:id", s.handleAPIWebhookDelete, requireScope("webhooks:write"))
	g.read("/webhook-endpoints/:id/deliveries", s.handleAPIWebhookDeliveries, requireScope("webhooks:read"))
	g.add(http.MethodPost, "/webhook-endpoints/:id/test", s.handleAPIWebhookTest, requireScope("webhooks:write"))
	g.add(http.MethodPost, "/keys/report-leak", s.handleAPIReportLeak)
	// Any other /v1 path takes a key too, then answers 404 (as an Echo
	// group with middleware would).
	e.RouteNotFound("/v1", s.apiAuth(echo.NotFoundHandler))
	e.RouteNotFound("/v1/*", s.apiAuth(echo.NotFoundHandler))

	e.GET("/openapi.json", s.handleOpenAPI)
	e.GET("/docs", s.handleDocs, s.optionalUser)
}

// apiGroup registers /v1 routes behind the key check. Unlike an
// echo.Group it composes each route's middleware (the key check, then the
// route's own, such as its scope) once, when the route is registered: Echo
// v4 composes group and route middleware anew for every request, a closure
// each, and the API's busiest routes are the cheapest.
type apiGroup struct {
	e    *echo.Echo
	auth echo.MiddlewareFunc
}

// add registers method /v1+path.
func (g apiGroup) add(method, path string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
	g.e.Add(method, "/v1"+path, g.compose(h, mw))
}

// read registers a read-only route, GET and HEAD /v1+path (DESIGN.md: both
// need the resource's :read scope; net/http drops a HEAD answer's body).
func (g apiGroup) read(path string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
	h = g.compose(h, mw)
	g.e.Add(http.MethodGet, "/v1"+path, h)
	g.e.Add(http.MethodHead, "/v1"+path, h)
}

// compose wraps h in mw (the first outermost, as Echo orders them), then
// in the key check.
func (g apiGroup) compose(h echo.HandlerFunc, mw []echo.MiddlewareFunc) echo.HandlerFunc {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return g.auth(h)
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
