package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// errRevokedNoEdit is the answer to editing a revoked key.
var errRevokedNoEdit = model.Errorf(model.ECONFLICT, "A revoked key cannot be edited. Create a new key instead.")

// handleKeyEdit serves GET /settings/api-keys/:id/edit: the edit form for
// name, permissions and expiry (a dialog under htmx). Revoked keys cannot be
// edited (409).
func (s *Server) handleKeyEdit(c echo.Context) error {
	k, err := s.store.FindKeyByID(c.Request().Context(), teamID(c), c.Param("id"))
	if err != nil {
		return err
	}
	if k.RevokedAt != nil {
		return errRevokedNoEdit
	}
	return s.renderKeyForm(c, http.StatusOK, views.KeyForm{
		Key: k, Values: editKeyFormValues(k), Resources: s.catalog.Resources(),
		CSRF: csrfToken(c), Now: s.now().UTC(),
	})
}
