package web

import (
	"github.com/labstack/echo/v4"
)

// routes is the site map: every route of keyward, grouped by page.
func (s *Server) routes() {
	e := s.echo
	// Request id, security headers, metrics, access log, panic recovery,
	// body limit, compression, 405 for a wrong method, control characters refused, and for the dashboard its session and CSRF
	// check: one middleware (web/middleware.go).
	e.Use(s.stack)

	// Operations.
	e.GET("/healthz", s.handleHealthz)
	e.GET("/readyz", s.handleReadyz)
	e.GET("/metrics", s.handleMetrics)

	// Embedded assets: vendored htmx and Pico, app.css, app.js, under
	// content-hashed names (web/assets.go).
	e.GET("/static/*", s.handleAsset)

	// Dashboard: accounts (setup, sign-in, teams, members).
	s.accountRoutes(e)

	// Dashboard: Settings → API Keys (web/key_routes.go).
	s.keyRoutes(e)

	// Dashboard: Settings → Audit log and the key table's bulk revoke (web/audit_log.go).
	s.auditRoutes(e)

	// Dashboard: Settings → Webhooks and Settings → Account (web/webhook_routes.go).
	s.webhookRoutes(e)
	s.accountSettingsRoutes(e)

	// The /v1 API, /openapi.json and /docs (web/api_routes.go).
	s.apiRoutes(e)

	e.RouteNotFound("/*", func(c echo.Context) error { return echo.ErrNotFound })

	// Every GET route above answers HEAD too (web/methods.go). Keep this last.
	addHeadRoutes(e)
}
