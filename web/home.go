package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/views"
)

// accountRoutes registers setup, sign-in, team switching and members.
func (s *Server) accountRoutes(e *echo.Echo) {
	e.GET("/", s.handleHome)
}

// handleHome serves GET /.
func (s *Server) handleHome(c echo.Context) error {
	return render(c, http.StatusOK, views.HomePage(s.chrome(c, "")))
}
