package web

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/limit"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/verify"
)

// apiVerifyBody is the body of POST /v1/keys/verify: the key to check,
// and optionally the scope the call needs and the client's IP and referrer
// (Origin or Referer) as the calling backend saw them, for the key's
// restrictions.
type apiVerifyBody struct {
	Key      string `json:"key"`
	Scope    string `json:"scope"`
	IP       string `json:"ip"`
	Referrer string `json:"referrer"`
}

// apiVerifyJSON is the verdict on a key. Valid keys carry their id, team,
// environment and scopes; refused ones a code. Either carries the state of
// the key's rate limit and quota when it has them and they were reached.
type apiVerifyJSON struct {
	Valid       bool           `json:"valid"`
	Code        string         `json:"code,omitempty"`
	KeyID       string         `json:"key_id,omitempty"`
	TeamID      int64          `json:"team_id,omitempty"`
	Environment string         `json:"environment,omitempty"`
	Scopes      []string       `json:"scopes,omitempty"`
	RateLimit   *rateStateJSON `json:"ratelimit,omitempty"`
	Quota       *quotaJSON     `json:"quota,omitempty"`
}

// rateStateJSON is a key's rate limit after a request.
type rateStateJSON struct {
	Limit     int64  `json:"limit"`
	Period    string `json:"period"`
	Remaining int64  `json:"remaining"`
	// ResetSeconds is when the limit is full again; RetryAfterSeconds,
	// when refused, when to try again.
	ResetSeconds      int `json:"reset_seconds"`
	RetryAfterSeconds int `json:"retry_after_seconds,omitempty"`
}

// quotaJSON is what is left of a key's quota and when it is refilled.
type quotaJSON struct {
	Remaining    int64      `json:"remaining"`
	RefillAmount int64      `json:"refill_amount,omitempty"`
	RefillPeriod string     `json:"refill_period,omitempty"`
	NextRefillAt *time.Time `json:"next_refill_at"`
}

// maxVerifyReferrer bounds the referrer a backend may report.
const maxVerifyReferrer = 2048

// handleKeyVerify serves POST /v1/keys/verify, for other backends: is the
// key in the body a usable key of the caller's team, allowed from the
// given ip and referrer, within its rate limit and quota, with the scope
// asked for (optional)? The answer is 200 either way: {"valid":true,…} or
// {"valid":false,"code":"INVALID"|"IP_NOT_ALLOWED"|"REFERRER_NOT_ALLOWED"|
// "RATE_LIMITED"|"QUOTA_EXCEEDED"|"INSUFFICIENT_SCOPE"}. Keys of other teams
// are INVALID. The check is verify.Authorize, as for /v1 itself and the
// gateway, so a verify counts against the key's rate limit and quota like a
// real call, and refusals are counted on the key. Each INVALID verdict
// spends a token of the client IP; an INVALID verdict for an IP out of
// tokens is 429 too_many_failures instead (a valid key is always
// answered). The key to check is required (422 without it).
func (s *Server) handleKeyVerify(c echo.Context) error {
	ip, now := c.RealIP(), s.now()
	var b apiVerifyBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	if strings.TrimSpace(b.Key) == "" {
		msg := "key is required: the API key to check."
		return &model.Error{Code: model.EINVALID, Message: msg, Fields: map[string]string{"key": msg}}
	}
	req := verify.Request{TeamID: apiKey(c).TeamID(), Referer: strings.TrimSpace(b.Referrer)}
	fe := model.FieldErrors{}
	if b.Scope != "" {
		var err error
		if req.Resource, req.Access, err = model.ParseScope(s.catalog, b.Scope); err != nil {
			fe.Add("scope", model.ErrorMessage(err))
		}
	}
	if v := strings.TrimSpace(b.IP); v != "" {
		addr, err := netip.ParseAddr(v)
		if err != nil {
			fe.Add("ip", "ip must be an IPv4 or IPv6 address, such as 203.0.113.7 or 2001:db8::1.")
		}
		req.IP = addr.Unmap().String()
	}
	if len(req.Referer) > maxVerifyReferrer || strings.ContainsFunc(req.Referer, unicode.IsControl) {
		fe.Add("referrer", fmt.Sprintf("referrer must be a URL of at most %d characters, such as https://app.example.com/.", maxVerifyReferrer))
	}
	if err := fe.Err(); err != nil {
		return err
	}
	d := s.verifier.Authorize(c.Request().Context(), strings.TrimSpace(b.Key), req)
	out := apiVerifyJSON{Code: d.Code.String()}
	switch d.Code {
	case verify.Unavailable:
		return d.Err
	case verify.Invalid:
		// Only INVALID verdicts are limited: a valid key is always answered.
		if d := s.api.verifyFailures.wait(ip, now); d > 0 {
			return limited(c, d)
		}
		s.api.verifyFailures.failed(ip, now)
		return c.JSON(http.StatusOK, out)
	case verify.OK:
		k := d.Key
		out = apiVerifyJSON{Valid: true, KeyID: k.PublicID(), TeamID: k.TeamID(), Environment: k.Environment(), Scopes: k.Scopes()}
	}
	if d.HasRate {
		r := d.Rate
		out.RateLimit = &rateStateJSON{Limit: r.Limit, Period: periodName(r.Period), Remaining: r.Remaining,
			ResetSeconds: ceilSeconds(r.Reset), RetryAfterSeconds: ceilSeconds(r.RetryAfter)}
	}
	if d.HasQuota {
		out.Quota = quotaState(d.Key, d.Quota)
	}
	return c.JSON(http.StatusOK, out)
}

// quotaState is a key's quota as the API shows it, from a spend's result.
func quotaState(k *verify.Verified, q limit.QuotaResult) *quotaJSON {
	out := &quotaJSON{Remaining: q.Remaining}
	if spec := k.Restrictions().Quota; spec != nil && spec.RefillPeriod != model.RefillNone {
		out.RefillAmount, out.RefillPeriod = spec.RefillAmount, spec.RefillPeriod
	}
	if !q.NextRefill.IsZero() {
		t := q.NextRefill.UTC()
		out.NextRefillAt = &t
	}
	return out
}

// periodName spells a rate-limit period as the API takes it ("1m").
func periodName(d time.Duration) string {
	for _, p := range []string{model.RatePerSecond, model.RatePerMinute, model.RatePerHour, model.RatePerDay} {
		if model.RatePeriodDuration(p) == d {
			return p
		}
	}
	return d.String()
}
