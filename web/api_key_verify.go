package web

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
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
	// The field errors' map is made at the first one: most calls have none.
	var fe model.FieldErrors
	bad := func(field, msg string) {
		if fe == nil {
			fe = model.FieldErrors{}
		}
		fe.Add(field, msg)
	}
	if b.Scope != "" {
		var err error
		if req.Resource, req.Access, err = model.ParseScope(s.catalog, b.Scope); err != nil {
			bad("scope", model.ErrorMessage(err))
		}
	}
	if v := strings.TrimSpace(b.IP); v != "" {
		addr, err := netip.ParseAddr(v)
		if err != nil {
			bad("ip", "ip must be an IPv4 or IPv6 address, such as 203.0.113.7 or 2001:db8::1.")
		}
		req.IP = addr.Unmap().String()
	}
	if len(req.Referer) > maxVerifyReferrer || strings.ContainsFunc(req.Referer, unicode.IsControl) {
		bad("referrer", fmt.Sprintf("referrer must be a URL of at most %d characters, such as https://app.example.com/.", maxVerifyReferrer))
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
		return writeVerify(c, &out)
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
	return writeVerify(c, &out)
}

// writeVerify writes a verdict: appended by hand into a pooled buffer
// (it is what other backends call on every request they serve), through
// encoding/json with ?pretty.
func writeVerify(c echo.Context, out *apiVerifyJSON) error {
	if prettyJSON(c) {
		return c.JSON(http.StatusOK, out)
	}
	return writeAppended(c, http.StatusOK, func(b []byte) []byte { return appendVerify(b, out) })
}

// appendVerify appends out as encoding/json writes apiVerifyJSON (empty
// members omitted, HTML-safe strings, a closing line feed as c.JSON has
// it).
func appendVerify(b []byte, out *apiVerifyJSON) []byte {
	b = append(b, `{"valid":`...)
	b = strconv.AppendBool(b, out.Valid)
	if out.Code != "" {
		b = append(b, `,"code":`...)
		b = appendJSONString(b, out.Code)
	}
	if out.KeyID != "" {
		b = append(b, `,"key_id":`...)
		b = appendJSONString(b, out.KeyID)
	}
	if out.TeamID != 0 {
		b = append(b, `,"team_id":`...)
		b = strconv.AppendInt(b, out.TeamID, 10)
	}
	if out.Environment != "" {
		b = append(b, `,"environment":`...)
		b = appendJSONString(b, out.Environment)
	}
	if len(out.Scopes) > 0 {
		b = append(b, `,"scopes":`...)
		b = appendJSONStrings(b, out.Scopes)
	}
	if r := out.RateLimit; r != nil {
		b = append(b, `,"ratelimit":{"limit":`...)
		b = strconv.AppendInt(b, r.Limit, 10)
		b = append(b, `,"period":`...)
		b = appendJSONString(b, r.Period)
		b = append(b, `,"remaining":`...)
		b = strconv.AppendInt(b, r.Remaining, 10)
		b = append(b, `,"reset_seconds":`...)
		b = strconv.AppendInt(b, int64(r.ResetSeconds), 10)
		if r.RetryAfterSeconds != 0 {
			b = append(b, `,"retry_after_seconds":`...)
			b = strconv.AppendInt(b, int64(r.RetryAfterSeconds), 10)
		}
		b = append(b, '}')
	}
	if q := out.Quota; q != nil {
		b = appendQuotaFields(append(b, `,"quota":{`...), q.Remaining, q.RefillAmount, q.RefillPeriod)
		b = append(b, `,"next_refill_at":`...)
		if q.NextRefillAt != nil {
			b = appendJSONTime(b, *q.NextRefillAt)
		} else {
			b = append(b, "null"...)
		}
		b = append(b, '}')
	}
	return append(b, "}\n"...)
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
