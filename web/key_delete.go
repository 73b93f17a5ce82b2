package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// errAlreadyRevoked answers a second revoke.
var errAlreadyRevoked = model.Errorf(model.ECONFLICT, "This key is revoked already.")

// handleKeyDeleteConfirm serves GET /settings/api-keys/:id/delete: the
// confirmation naming the key. It changes nothing.
func (s *Server) handleKeyDeleteConfirm(c echo.Context) error {
	return s.confirmKeyAction(c, "delete")
}

// handleKeyDelete serves POST /settings/api-keys/:id/delete and
// DELETE /settings/api-keys/:id: removes the key (its audit events remain,
// with its name and id). Under htmx the row is removed in place and the
// table refreshes; otherwise it redirects to the list with a notice.
func (s *Server) handleKeyDelete(c echo.Context) error {
	k, err := s.store.DeleteKey(c.Request().Context(), teamID(c), c.Param("id"), actor(c))
	if err != nil {
		return err
	}
	msg := "Deleted “" + views.Isolate(k.Name) + "”. Calls using " + k.Hint + " now fail; the audit log keeps its record."
	if k.RevokedAt != nil {
		msg = "Deleted the revoked key “" + views.Isolate(k.Name) + "”. The audit log keeps its record."
	}
	if isHTMX(c) {
		c.Response().Header().Set("HX-Trigger", "keys-changed")
		return render(c, http.StatusOK, views.DialogsClosed("success", msg))
	}
	if err := s.flash(c, "success", msg); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/api-keys")
}
