package web

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
)

// apiKeyCreateBody is the body of POST /v1/api-keys.
type apiKeyCreateBody struct {
	Name        string          `json:"name"`
	Environment json.RawMessage `json:"environment"`
	Permission  string          `json:"permission"`
	Scopes      []string        `json:"scopes"`
	ExpiresAt   expiryField     `json:"expires_at"`
	// Restrictions, all optional.
	AllowedIPs       []string         `json:"allowed_ips"`
	AllowedReferrers []string         `json:"allowed_referrers"`
	RateLimit        *model.RateLimit `json:"rate_limit"`
	Quota            *model.Quota     `json:"quota"`
}

// expiryField is expires_at on create: absent (DefaultKeyLifetime from
// now, as in the dashboard), null or "never" (no expiry), or a time.
type expiryField struct {
	set, never bool
	at         *time.Time
}

func (e *expiryField) UnmarshalJSON(b []byte) error {
	e.set = true
	switch string(b) {
	case "null", `"never"`:
		e.never = true
		return nil
	}
	var t time.Time
	if err := json.Unmarshal(b, &t); err != nil {
		return err
	}
	e.at = &t
	return nil
}

// expiresAt is the expiry the field asks for, counted from now.
func (e expiryField) expiresAt(now time.Time) *time.Time {
	switch {
	case !e.set:
		t := now.Add(DefaultKeyLifetime)
		return &t
	case e.never:
		return nil
	}
	return e.at
}

// apiKeyCreatedJSON is the new key with its value, shown this once.
type apiKeyCreatedJSON struct {
	apiKeyJSON
	Key string `json:"key"`
}

// handleAPIKeyCreate serves POST /v1/api-keys: creates a key in the calling
// key's team (environment live unless given) and answers 201 with the raw
// key in "key", uncacheable; it is never shown again. Without expires_at
// the key expires in 90 days, like the dashboard's; null or "never" makes
// one that never expires. A key can only create keys within its own
// permission (403 otherwise). Restrictions (allowed_ips, allowed_referrers,
// rate_limit, quota) are optional.
func (s *Server) handleAPIKeyCreate(c echo.Context) error {
	var b apiKeyCreateBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	// Absent means live; null, "" or anything but a string is refused
	// rather than guessed.
	env := model.EnvLive
	if b.Environment != nil {
		if err := json.Unmarshal(b.Environment, &env); err != nil || string(b.Environment) == "null" || env == "" {
			msg := "environment must be \"live\" or \"test\" (leave it out for live)."
			return &model.Error{Code: model.EINVALID, Message: msg, Fields: map[string]string{"environment": msg}}
		}
	}
	now := s.now().UTC()
	r, rerr := ValidRestrictions(apiRestrictionInput(b.AllowedIPs, b.AllowedReferrers, b.RateLimit, b.Quota))
	k, raw, err := NewKey(s.catalog, s.cfg.KeyPrefix, apiKey(c).TeamID(), KeyInput{
		Name: b.Name, Environment: env, Permission: model.PermissionSet(b.Permission),
		Scopes: b.Scopes, ExpiresAt: b.ExpiresAt.expiresAt(now), Restrictions: &r,
	}, now)
	if err = joinInvalid(err, rerr); err != nil {
		return err
	}
	act := keyActor(c)
	if err := CheckGrant(act, k.Permission()); err != nil {
		return err
	}
	if err := s.store.CreateKey(c.Request().Context(), &k, act); err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusCreated, apiKeyCreatedJSON{apiKeyJSON: toAPIKey(k, now), Key: raw})
}
