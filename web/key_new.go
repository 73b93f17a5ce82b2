package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/views"
)

// handleKeyNew serves GET /settings/api-keys/new: the create form, as a
// dialog when htmx asks for it, else as a page.
func (s *Server) handleKeyNew(c echo.Context) error {
	f := views.KeyForm{
		Values:    newKeyFormValues(),
		Resources: s.catalog.Resources(),
		CSRF:      csrfToken(c),
		FormToken: newFormToken(),
		Now:       s.now().UTC(),
	}
	return s.renderKeyForm(c, http.StatusOK, f)
}

// renderKeyForm answers the create or edit form: a dialog under htmx, a
// page otherwise.
func (s *Server) renderKeyForm(c echo.Context, status int, f views.KeyForm) error {
	c.Response().Header().Add("Vary", "HX-Request")
	if isHTMX(c) {
		f.Dialog = true
		return render(c, status, views.KeyFormDialog(f))
	}
	return render(c, status, views.KeyFormPage(s.chrome(c, "api-keys"), f))
}
