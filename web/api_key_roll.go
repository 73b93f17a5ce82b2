package web

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
)

// apiKeyRollBody is the body of POST /v1/api-keys/{id}/roll. expire_old_in
// is how long the old key keeps working ("0s" ends it at once; at most
// "7d"; "24h" when absent). expires_at is the new key's expiry: absent
// means the old key's lifetime again, null never.
type apiKeyRollBody struct {
	ExpireOldIn *string         `json:"expire_old_in"`
	ExpiresAt   json.RawMessage `json:"expires_at"`
}

// apiKeyRolledJSON is the new key with its value, shown this once, and the
// old key as the roll left it.
type apiKeyRolledJSON struct {
	apiKeyJSON
	Key    string     `json:"key"`
	OldKey apiKeyJSON `json:"old_key"`
}

// defaultRollGrace is the grace when expire_old_in is absent.
const defaultRollGrace = 24 * time.Hour

// handleAPIKeyRoll serves POST /v1/api-keys/{id}/roll: replaces the key by
// a new one with its name, permission and environment, and answers 201 with
// the new raw key in "key", uncacheable, never shown again. The old key
// works until the grace window ends (never later than its own expiry). A
// revoked key, or one rolled already, is 409; a key may only roll keys its
// own permission covers, and a test key only test keys (403).
func (s *Server) handleAPIKeyRoll(c echo.Context) error {
	var b apiKeyRollBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	now := s.now().UTC()
	fe := model.FieldErrors{}
	grace := defaultRollGrace
	if b.ExpireOldIn != nil {
		g, err := ParseGrace(*b.ExpireOldIn)
		addField(fe, "expire_old_in", err)
		grace = g
	}
	var exp *time.Time
	setExp := b.ExpiresAt != nil
	if setExp {
		if err := json.Unmarshal(b.ExpiresAt, &exp); err != nil {
			fe.Add("expires_at", "expires_at must be an RFC 3339 time, such as 2026-12-31T00:00:00Z, or null for never.")
		} else {
			e, err := ValidExpiry(exp, now)
			addField(fe, "expires_at", err)
			exp = e
		}
	}
	if err := fe.Err(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	team := apiKey(c).TeamID()
	old, err := s.store.FindKeyByID(ctx, team, c.Param("id"))
	if err != nil {
		return err
	}
	act := keyActor(c)
	if err := CheckManage(act, old); err != nil {
		return err
	}
	if !setExp {
		exp = SameLifetime(old, now)
	}
	n, raw, err := SuccessorKey(s.cfg.KeyPrefix, old, exp)
	if err != nil {
		return err
	}
	got, err := s.store.RollKey(ctx, team, old.PublicID, store.KeyRoll{
		New: &n, Grace: grace,
		// Checked again on the locked row: its permission may have changed.
		Check: func(k model.APIKey) error { return CheckManage(act, k) },
	}, act)
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusCreated, apiKeyRolledJSON{apiKeyJSON: toAPIKey(n, now), Key: raw, OldKey: toAPIKey(got, now)})
}
