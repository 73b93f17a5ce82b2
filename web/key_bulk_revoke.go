package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// maxBulkRevoke bounds how many keys one bulk revoke names (four pages of
// the table).
const maxBulkRevoke = 200

// bulkIDs reads the ids to revoke: trimmed, without blanks or repeats.
func bulkIDs(values []string) ([]string, error) {
	var ids []string
	seen := map[string]bool{}
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" && !seen[v] {
			seen[v] = true
			ids = append(ids, v)
		}
	}
	switch {
	case len(ids) == 0:
		return nil, model.Errorf(model.EINVALID, "Select at least one key to revoke.")
	case len(ids) > maxBulkRevoke:
		return nil, model.Errorf(model.EINVALID, "Revoke at most %d keys at a time.", maxBulkRevoke)
	}
	return ids, nil
}

// bulkBack is the key table address to return to: the table's own
// (filtered) address, never anywhere else.
func bulkBack(v string) string {
	if v == "/settings/api-keys" || strings.HasPrefix(v, "/settings/api-keys?") {
		return v
	}
	return "/settings/api-keys"
}

// handleKeyBulkRevokeConfirm serves GET /settings/api-keys/bulk-revoke with
// ids (and back, the table to return to): one confirmation naming how many
// keys and which (a dialog under htmx, a page otherwise). It changes
// nothing. An id that is not a key of the team answers 404; keys revoked
// already are left out.
func (s *Server) handleKeyBulkRevokeConfirm(c echo.Context) error {
	ids, err := bulkIDs(c.QueryParams()["ids"])
	if err != nil {
		return err
	}
	ks, err := s.store.FindKeysByIDs(c.Request().Context(), teamID(c), ids)
	if err != nil {
		return err
	}
	b := views.KeyBulkRevoke{Back: bulkBack(c.QueryParam("back")), CSRF: csrfToken(c), Now: s.now().UTC()}
	for _, k := range ks {
		if k.RevokedAt == nil {
			b.Keys = append(b.Keys, k)
		}
	}
	if len(b.Keys) == 0 {
		return model.Errorf(model.ECONFLICT, "These keys are revoked already.")
	}
	c.Response().Header().Add("Vary", "HX-Request")
	if isHTMX(c) {
		b.Dialog = true
		return render(c, http.StatusOK, views.KeyBulkRevokeDialog(b))
	}
	return render(c, http.StatusOK, views.KeyBulkRevokePage(s.chrome(c, "api-keys"), b))
}

// handleKeyBulkRevoke serves POST /settings/api-keys/bulk-revoke with ids:
// revokes those keys in one transaction, one audit event per key; the verify
// caches are told by the store. If any id is not a key of the team, it
// answers 404 and revokes none. Under htmx the dialog closes and the table
// refreshes (its hygiene panel with it); otherwise it redirects back to the
// table with a notice.
func (s *Server) handleKeyBulkRevoke(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return model.Wrap(model.EINVALID, err, "The form could not be read.")
	}
	ids, err := bulkIDs(form["ids"])
	if err != nil {
		return err
	}
	revoked, err := s.store.RevokeKeys(c.Request().Context(), teamID(c), ids, actor(c))
	if err != nil {
		return err
	}
	var msg string
	switch len(revoked) {
	case 0:
		msg = "Those keys were revoked already."
	case 1:
		msg = "Revoked “" + views.Isolate(revoked[0].Name) + "”. Calls using " + revoked[0].Hint + " now fail."
	default:
		msg = "Revoked " + strconv.Itoa(len(revoked)) + " keys. Calls using them now fail."
	}
	s.logger(c).Info("keys revoked together", "team_id", teamID(c), "count", len(revoked))
	if isHTMX(c) {
		c.Response().Header().Set("HX-Trigger", "keys-changed")
		return render(c, http.StatusOK, views.DialogsClosed("success", msg))
	}
	if err := s.flash(c, "success", msg); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, bulkBack(form.Get("back")))
}
