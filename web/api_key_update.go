package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
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
	// Restrictions: absent stays, null (or an empty list) removes.
	AllowedIPs       json.RawMessage `json:"allowed_ips"`
	AllowedReferrers json.RawMessage `json:"allowed_referrers"`
	RateLimit        json.RawMessage `json:"rate_limit"`
	Quota            json.RawMessage `json:"quota"`
}

// restrictionsGiven reports whether b changes any restriction.
func (b *apiKeyUpdateBody) restrictionsGiven() bool {
	return b.AllowedIPs != nil || b.AllowedReferrers != nil || b.RateLimit != nil || b.Quota != nil
}

// patchRestrictions applies b's restriction fields to cur (the key's
// restrictions now) and validates the result.
func (b *apiKeyUpdateBody) patchRestrictions(cur model.Restrictions) (model.Restrictions, error) {
	fe := model.FieldErrors{}
	in := apiRestrictionInput(cur.AllowedIPs, cur.AllowedReferrers, cur.RateLimit, cur.Quota)
	if b.AllowedIPs != nil {
		in.AllowedIPs = nil
		if err := json.Unmarshal(b.AllowedIPs, &in.AllowedIPs); err != nil {
			fe.Add("allowed_ips", "allowed_ips must be a list of IP addresses and CIDR ranges, or null.")
		}
	}
	if b.AllowedReferrers != nil {
		in.AllowedReferrers = nil
		if err := json.Unmarshal(b.AllowedReferrers, &in.AllowedReferrers); err != nil {
			fe.Add("allowed_referrers", "allowed_referrers must be a list of host patterns, or null.")
		}
	}
	if b.RateLimit != nil {
		var rl *model.RateLimit
		if err := strictJSON(b.RateLimit, &rl); err != nil {
			fe.Add("rate_limit", `rate_limit must be {"limit":100,"period":"1m"} (periods 1s, 1m, 1h, 1d), or null for none.`)
		}
		in.RateLimit, in.RatePeriod = nil, ""
		if rl != nil {
			in.RateLimit, in.RatePeriod = &rl.Limit, rl.Period
		}
	}
	if b.Quota != nil {
		var q *model.Quota
		if err := strictJSON(b.Quota, &q); err != nil {
			fe.Add("quota", `quota must be {"remaining":10000,"refill_amount":10000,"refill_period":"month"} (refill optional), or null for none.`)
		}
		in.Quota, in.QuotaRefill, in.QuotaRefillAmount = nil, "", 0
		if q != nil {
			in.Quota, in.QuotaRefill, in.QuotaRefillAmount = &q.Remaining, q.RefillPeriod, q.RefillAmount
		}
	}
	if err := fe.Err(); err != nil {
		return model.Restrictions{}, err
	}
	return ValidRestrictions(in)
}

// strictJSON decodes raw into v, refusing unknown fields, also in another
// case (checkMembers).
func strictJSON(raw json.RawMessage, v any) error {
	if err := checkMembers(raw, reflect.TypeOf(v)); err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// handleAPIKeyUpdate serves PATCH /v1/api-keys/{id}: renames the key,
// changes its permission (scopes alone imply restricted), its expiry or its
// restrictions, and answers the key. A key can only grant up to its own
// permission, and only change the restrictions of keys its permission
// covers (403).
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
	act := keyActor(c)
	if b.restrictionsGiven() {
		// No escalation: a key may only change the restrictions of a key
		// whose permission its own covers.
		cur, err := s.store.FindKeyByID(c.Request().Context(), apiKey(c).TeamID(), c.Param("id"))
		if err != nil {
			return err
		}
		if err := CheckGrant(act, cur.Permission()); err != nil {
			return err
		}
		r, err := b.patchRestrictions(cur.Restrictions())
		addField(fe, "restrictions", err)
		u.Restrictions = &r
	}
	if err := fe.Err(); err != nil {
		return err
	}
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
