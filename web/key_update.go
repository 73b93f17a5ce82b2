package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// handleKeyUpdate serves POST /settings/api-keys/:id: saves the edit form.
// The key's value never changes. A future expiry makes an expired key
// active again; a revoked key cannot be edited (409). An invalid form
// answers the form again (422). Under htmx the dialog closes and the table
// refreshes; otherwise it redirects to the key's details.
func (s *Server) handleKeyUpdate(c echo.Context) error {
	ctx := c.Request().Context()
	k, err := s.store.FindKeyByID(ctx, teamID(c), c.Param("id"))
	if err != nil {
		return err
	}
	if k.RevokedAt != nil {
		return errRevokedNoEdit
	}
	form, err := c.FormParams()
	if err != nil {
		return model.Wrap(model.EINVALID, err, "The form could not be read.")
	}
	now := s.now().UTC()
	d := parseKeyForm(form, s.catalog, now, true)
	u, err := EditKey(s.catalog, d.Input, now)
	if err := d.merge(err); err != nil {
		if model.ErrorCode(err) != model.EINVALID {
			return err
		}
		return s.renderKeyForm(c, http.StatusUnprocessableEntity, views.KeyForm{
			Key: k, Values: d.Values, Errors: model.ErrorFields(err), Resources: s.catalog.Resources(),
			CSRF: csrfToken(c), Now: now,
		})
	}
	if d.KeepExpiry {
		u.SetExpiry, u.ExpiresAt = false, nil
	}
	k, err = s.store.UpdateKey(ctx, teamID(c), k.PublicID, u, actor(c))
	if err != nil {
		return err
	}
	msg := "Saved “" + views.Isolate(k.Name) + "”. Its key value is unchanged."
	if isHTMX(c) {
		c.Response().Header().Set("HX-Trigger", "keys-changed")
		return render(c, http.StatusOK, views.DialogsClosed("success", msg))
	}
	if err := s.flash(c, "success", msg); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, views.KeyURL(k.PublicID))
}
