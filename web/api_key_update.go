package web

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
)

// apiKeyUpdateBody is the body of PATCH /v1/api-keys/{id}: absent fields
// stay as they are; "expires_at": null removes the expiry.
type apiKeyUpdateBody struct {
	Name       *string         `json:"name"`
	Permission *string         `json:"permission"`
	Scopes     []string        `json:"scopes"`
	ExpiresAt  json.RawMessage `json:"expires_at"`
}

// handleAPIKeyUpdate serves PATCH /v1/api-keys/{id}: renames the key,
// changes its permission (scopes alone imply restricted) or its expiry, and
// answers the key. A key can only grant up to its own permission (403).
func (s *Server) handleAPIKeyUpdate(c echo.Context) error {
	var b apiKeyUpdateBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	now := s.now().UTC()
	var u model.KeyUpdate
	fe := model.FieldErrors{}
	if b.Name != nil {
		name, err := ValidKeyName(*b.Name)
		addField(fe, "name", err)
		u.Name = &name
	}
	if b.Permission != nil || b.Scopes != nil {
		set := model.PermRestricted
		if b.Permission != nil {
			set = model.PermissionSet(*b.Permission)
		}
		p, err := model.NewPermission(s.catalog, set, b.Scopes)
		addField(fe, "permission", err)
		u.Permission = &p
	}
	if b.ExpiresAt != nil {
		var t *time.Time
		if err := json.Unmarshal(b.ExpiresAt, &t); err != nil {
			fe.Add("expires_at", "expires_at must be an RFC 3339 time, such as 2026-12-31T00:00:00Z, or null for never.")
		} else {
			exp, err := ValidExpiry(t, now)
			addField(fe, "expires_at", err)
			u.SetExpiry, u.ExpiresAt = true, exp
		}
	}
	if err := fe.Err(); err != nil {
		return err
	}
	act := keyActor(c)
	if u.Permission != nil {
		if err := CheckGrant(act, *u.Permission); err != nil {
			return err
		}
	}
	k, err := s.store.UpdateKey(c.Request().Context(), apiKey(c).TeamID(), c.Param("id"), u, act)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIKey(k, now))
}
