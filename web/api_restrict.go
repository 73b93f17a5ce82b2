package web

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/verify"
)

// keyRequest is what verify.Authorize needs to know about c beyond its key:
// the client IP as the trusted-proxy rule gives it (c.RealIP(), which the
// caller has at hand), Origin and Referer, and the scope (resource "" for
// none).
func keyRequest(c echo.Context, ip, resource string, access model.Access) verify.Request {
	h := c.Request().Header
	return verify.Request{IP: ip, Origin: h.Get(echo.HeaderOrigin), Referer: h.Get("Referer"),
		Resource: resource, Access: access}
}

// Refusals of a key's restrictions, as /v1 and the gateway answer them.
var (
	errIPNotAllowed = &apiError{code: "ip_not_allowed", err: model.Errorf(model.EFORBIDDEN,
		"This key may not be used from this IP address. Its allowlist is set on the key's page in the dashboard.")}
	errReferrerNotAllowed = &apiError{code: "referrer_not_allowed", err: model.Errorf(model.EFORBIDDEN,
		"This key may not be used from this site: the request's Origin or Referer is not one the key allows.")}
)

// refusal turns a refused verify.Decision into the API's error, with the
// rate-limit headers and Retry-After where they apply. Invalid and
// Unavailable are the caller's (they also spend the client IP's failure
// allowance).
func (s *Server) refusal(c echo.Context, d verify.Decision) error {
	h := c.Response().Header()
	s.rateHeaders(h, d)
	switch d.Code {
	case verify.IPNotAllowed:
		return errIPNotAllowed
	case verify.ReferrerNotAllowed:
		return errReferrerNotAllowed
	case verify.RateLimited:
		h.Set("Retry-After", strconv.Itoa(retryAfter(d.Rate.RetryAfter)))
		return &apiError{code: "rate_limited", err: model.Errorf(model.ETOOMANY,
			"This key's rate limit of %s is used up. Wait as long as Retry-After says, then try again.", rateWords(d.Rate.Limit, d.Rate.Period))}
	case verify.QuotaExceeded:
		msg := "This key's quota is used up and is not refilled. Ask the team for a new quota."
		if !d.Quota.NextRefill.IsZero() {
			wait := d.Quota.NextRefill.Sub(s.now())
			h.Set("Retry-After", strconv.Itoa(retryAfter(wait)))
			msg = "This key's quota is used up. It is refilled at " + d.Quota.NextRefill.UTC().Format(time.RFC3339) + "."
		}
		return &apiError{code: "quota_exceeded", err: model.Errorf(model.ETOOMANY, "%s", msg)}
	}
	return d.Err
}

// rateHeaders sets the IETF RateLimit-Policy and RateLimit fields
// (draft-ietf-httpapi-ratelimit-headers) for the key's rate limit
// ("rate": q requests per w seconds; r left, full again in t seconds) and
// quota ("quota": r left, refilled in t seconds), when it has them.
//
// It runs on every request of a limited key, so the values are appended to
// one buffer that becomes one string, and the fields are set under their
// canonical names with one slice: two allocations, whatever the key has.
func (s *Server) rateHeaders(h http.Header, d verify.Decision) {
	if !d.HasRate && !d.HasQuota {
		return
	}
	var buf [160]byte
	b := buf[:0]
	var ends [4]int // where each value ends in b: the policies, then the states
	n := 0
	q := d.Quota
	refills := d.HasQuota && !q.NextRefill.IsZero()
	if d.HasRate {
		b = append(b, `"rate";q=`...)
		b = strconv.AppendInt(b, d.Rate.Limit, 10)
		b = append(b, `;w=`...)
		b = strconv.AppendInt(b, int64(d.Rate.Period/time.Second), 10)
		ends[n], n = len(b), n+1
	}
	if d.HasQuota {
		b = append(b, `"quota"`...)
		if refills {
			b = append(b, `;q=`...)
			b = strconv.AppendInt(b, q.RefillAmount, 10)
		}
		ends[n], n = len(b), n+1
	}
	policies := n
	if d.HasRate {
		b = append(b, `"rate";r=`...)
		b = strconv.AppendInt(b, d.Rate.Remaining, 10)
		b = append(b, `;t=`...)
		b = strconv.AppendInt(b, int64(ceilSeconds(d.Rate.Reset)), 10)
		ends[n], n = len(b), n+1
	}
	if d.HasQuota {
		b = append(b, `"quota";r=`...)
		b = strconv.AppendInt(b, q.Remaining, 10)
		if refills {
			b = append(b, `;t=`...)
			b = strconv.AppendInt(b, int64(ceilSeconds(q.NextRefill.Sub(s.now()))), 10)
		}
		ends[n], n = len(b), n+1
	}
	all := string(b)
	vals := make([]string, n)
	start := 0
	for i, end := range ends[:n] {
		vals[i], start = all[start:end], end
	}
	addValues(h, headerRateLimitPolicy, vals[:policies:policies])
	addValues(h, headerRateLimit, vals[policies:])
}

// addValues adds vs to h's field name (canonical), taking vs itself when
// the field is new.
func addValues(h http.Header, name string, vs []string) {
	if old := h[name]; len(old) > 0 {
		vs = append(old[:len(old):len(old)], vs...)
	}
	h[name] = vs
}

// The RateLimit fields' names in Go's canonical form (as Header.Get looks
// them up; net/http writes them as set).
const (
	headerRateLimitPolicy = "Ratelimit-Policy"
	headerRateLimit       = "Ratelimit"
)

func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(min(math.Ceil(d.Seconds()), math.MaxInt32))
}

func rateWords(limit int64, period time.Duration) string {
	unit := map[time.Duration]string{time.Second: "second", time.Minute: "minute", time.Hour: "hour", 24 * time.Hour: "day"}[period]
	return strconv.FormatInt(limit, 10) + " requests per " + unit
}
