package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/views"
)

// handleKeyRevokeConfirm serves GET /settings/api-keys/:id/revoke: the
// confirmation naming the key (a dialog under htmx, a page otherwise). It
// changes nothing.
func (s *Server) handleKeyRevokeConfirm(c echo.Context) error {
	return s.confirmKeyAction(c, "revoke")
}

// handleKeyRevoke serves POST /settings/api-keys/:id/revoke: revokes the key
// for good; the verify caches are told by the store. Under htmx the answer
// is the key's row with its Revoked badge, swapped in place; otherwise a
// redirect to the list (or back to the details page) with a notice.
func (s *Server) handleKeyRevoke(c echo.Context) error {
	k, err := s.store.RevokeKey(c.Request().Context(), teamID(c), c.Param("id"), actor(c))
	if err != nil {
		return err
	}
	msg := "Revoked “" + views.Isolate(k.Name) + "”. Calls using " + k.Hint + " now fail."
	if isHTMX(c) {
		return render(c, http.StatusOK, views.KeyRowChanged(k, s.now().UTC(), msg))
	}
	if err := s.flash(c, "success", msg); err != nil {
		return err
	}
	if c.FormValue("from") == "details" {
		return c.Redirect(http.StatusSeeOther, views.KeyURL(k.PublicID))
	}
	return c.Redirect(http.StatusSeeOther, "/settings/api-keys")
}

// confirmKeyAction renders the revoke or delete confirmation for the key
// named in the path.
func (s *Server) confirmKeyAction(c echo.Context, action string) error {
	k, err := s.store.FindKeyByID(c.Request().Context(), teamID(c), c.Param("id"))
	if err != nil {
		return err
	}
	if action == "revoke" && k.RevokedAt != nil {
		return errAlreadyRevoked
	}
	cf := views.KeyConfirm{Key: k, Action: action, CSRF: csrfToken(c), Now: s.now().UTC()}
	if c.QueryParam("from") == "details" {
		cf.From = "details"
	}
	c.Response().Header().Add("Vary", "HX-Request")
	if isHTMX(c) {
		cf.Dialog = true
		return render(c, http.StatusOK, views.KeyConfirmDialog(cf))
	}
	return render(c, http.StatusOK, views.KeyConfirmPage(s.chrome(c, "api-keys"), cf))
}
