package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/keyward/keyward/static"
)

// routes is the site map: every route of keyward, grouped by page.
func (s *Server) routes() {
	e := s.echo
	e.Pre(s.requestID)
	e.Use(s.accessLog, s.recoverPanic, s.metrics.middleware, s.securityHeaders)
	// A wrong method is 405 with Allow, before any sign-in or key check (web/methods.go).
	e.Use(s.methodNotAllowed)
	e.Use(middleware.BodyLimit("1M"))
	// NUL and other control characters are refused here for every route (web/input_check.go).
	e.Use(s.refuseControlChars)
	// Dashboard sessions and CSRF checks (skipped for /v1, assets and probes).
	e.Use(s.loadSession, s.csrfProtect)

	// Operations.
	e.GET("/healthz", s.handleHealthz)
	e.GET("/readyz", s.handleReadyz)
	e.GET("/metrics", s.handleMetrics)

	// Embedded assets: vendored htmx and Pico, app.css, app.js.
	assets := http.StripPrefix("/static/", http.FileServerFS(static.FS))
	e.GET("/static/*", echo.WrapHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		assets.ServeHTTP(w, r)
	})))

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
