package web

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// handleHealthz serves GET /healthz: the process is up.
func (s *Server) handleHealthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz serves GET /readyz: not shutting down, the database answers
// and its migrations are applied.
func (s *Server) handleReadyz(c echo.Context) error {
	problem := ""
	if !s.ready.Load() {
		problem = "shutting down"
	} else {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := s.store.Ping(ctx); err != nil {
			problem = "database unreachable"
		} else if !s.migrated.Load() {
			pending, err := s.store.MigrationsPending(ctx)
			switch {
			case err != nil:
				problem = "cannot read migration state"
			case pending:
				problem = "migrations pending"
			default:
				s.migrated.Store(true)
			}
		}
	}
	if problem != "" {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unready", "reason": problem})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}
