package web

import (
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/verify"
)

// whoamiJSON is the calling key, as GET /v1/whoami shows it. The handler
// writes it with appendWhoami; this type is its definition, and the tests
// hold the two byte for byte to encoding/json.
type whoamiJSON struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	TeamID      int64      `json:"team_id"`
	Environment string     `json:"environment"`
	Hint        string     `json:"hint"`
	Permission  string     `json:"permission"`
	Scopes      []string   `json:"scopes"`
	ExpiresAt   *time.Time `json:"expires_at"`
	model.Restrictions
	// QuotaRemaining is about what is left of the quota (null: no quota).
	QuotaRemaining *int64 `json:"quota_remaining"`
}

// jsonBufs holds the buffers of JSON answers written by hand (whoami,
// API errors).
var jsonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// jsonContentType is the Content-Type of JSON answers (shared, read only:
// its capacity is its length, so an Add elsewhere copies).
var jsonContentType = []string{echo.MIMEApplicationJSON}

// writeJSON writes b, a JSON answer, with status: c.JSONBlob without
// its allocation for the Content-Type header.
func writeJSON(c echo.Context, status int, b []byte) error {
	h := c.Response().Header()
	if _, ok := h[echo.HeaderContentType]; !ok {
		h[echo.HeaderContentType] = jsonContentType
	}
	return c.JSONBlob(status, b)
}

// prettyJSON reports whether the request asks for indented JSON (?pretty),
// which Echo's c.JSON honours: answers written by hand then go through it.
func prettyJSON(c echo.Context) bool {
	if c.Request().URL.RawQuery == "" {
		return false
	}
	_, pretty := c.QueryParams()["pretty"]
	return pretty
}

// handleWhoami serves GET /v1/whoami: the key the request was made with
// ("test your key"). It needs no scope and answers from the verify cache.
// It is the API's busiest cheap call (clients test keys with it, load
// balancers probe with it), so its answer is appended to a pooled buffer
// rather than built as a value and encoded by reflection.
func (s *Server) handleWhoami(c echo.Context) error {
	k := apiKey(c)
	left, hasQuota := s.verifier.QuotaLeft(k)
	if prettyJSON(c) {
		out := whoamiJSON{
			ID: k.PublicID(), Name: k.Name(), TeamID: k.TeamID(), Environment: k.Environment(),
			Hint: k.Hint(), Permission: string(k.Permission().Set), Scopes: k.Scopes(), ExpiresAt: k.ExpiresAt(),
			Restrictions: k.Restrictions(),
		}
		if hasQuota {
			out.QuotaRemaining = &left
		}
		return c.JSON(http.StatusOK, out)
	}
	return writeAppended(c, http.StatusOK, func(b []byte) []byte { return appendWhoami(b, k, left, hasQuota) })
}

// appendWhoami appends k's whoami answer to b as encoding/json writes
// whoamiJSON (HTML-safe strings, a closing line feed as c.JSON has it).
func appendWhoami(b []byte, k *verify.Verified, quotaLeft int64, hasQuota bool) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, k.PublicID())
	b = append(b, `,"name":`...)
	b = appendJSONString(b, k.Name())
	b = append(b, `,"team_id":`...)
	b = strconv.AppendInt(b, k.TeamID(), 10)
	b = append(b, `,"environment":`...)
	b = appendJSONString(b, k.Environment())
	b = append(b, `,"hint":`...)
	b = appendJSONString(b, k.Hint())
	b = append(b, `,"permission":`...)
	b = appendJSONString(b, string(k.Permission().Set))
	b = append(b, `,"scopes":`...)
	b = appendJSONStrings(b, k.Scopes())
	b = append(b, `,"expires_at":`...)
	if t := k.ExpiresAt(); t != nil {
		b = appendJSONTime(b, *t)
	} else {
		b = append(b, "null"...)
	}
	b = appendRestrictions(b, k.RestrictionSpec())
	b = append(b, `,"quota_remaining":`...)
	if hasQuota {
		b = strconv.AppendInt(b, quotaLeft, 10)
	} else {
		b = append(b, "null"...)
	}
	return append(b, "}\n"...)
}

// appendRestrictions appends the members of model.Restrictions (r nil:
// none, which whoami shows as empty lists and nulls).
func appendRestrictions(b []byte, r *model.Restrictions) []byte {
	if r == nil {
		return append(b, `,"allowed_ips":[],"allowed_referrers":[],"rate_limit":null,"quota":null`...)
	}
	b = append(b, `,"allowed_ips":`...)
	b = appendJSONStrings(b, r.AllowedIPs)
	b = append(b, `,"allowed_referrers":`...)
	b = appendJSONStrings(b, r.AllowedReferrers)
	b = append(b, `,"rate_limit":`...)
	if rl := r.RateLimit; rl != nil {
		b = append(b, `{"limit":`...)
		b = strconv.AppendInt(b, rl.Limit, 10)
		b = append(b, `,"period":`...)
		b = appendJSONString(b, rl.Period)
		b = append(b, '}')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"quota":`...)
	if q := r.Quota; q != nil {
		b = append(appendQuotaFields(append(b, '{'), q.Remaining, q.RefillAmount, q.RefillPeriod), '}')
	} else {
		b = append(b, "null"...)
	}
	return b
}

// appendQuotaFields appends a quota's remaining units and, when set, its
// refill amount and period, as members of an object whose braces the
// caller writes (a whoami's restriction, a verdict's quota).
func appendQuotaFields(b []byte, remaining, refillAmount int64, refillPeriod string) []byte {
	b = append(b, `"remaining":`...)
	b = strconv.AppendInt(b, remaining, 10)
	if refillAmount != 0 {
		b = append(b, `,"refill_amount":`...)
		b = strconv.AppendInt(b, refillAmount, 10)
	}
	if refillPeriod != "" {
		b = append(b, `,"refill_period":`...)
		b = appendJSONString(b, refillPeriod)
	}
	return b
}

// writeAppended writes a JSON answer appended by fill into a pooled
// buffer (the answers written by hand for speed).
func writeAppended(c echo.Context, status int, fill func([]byte) []byte) error {
	bp := jsonBufs.Get().(*[]byte)
	b := fill((*bp)[:0])
	err := writeJSON(c, status, b)
	*bp = b
	jsonBufs.Put(bp)
	return err
}

// appendJSONStrings appends ss as a JSON array (nil as null, as
// encoding/json has it).
func appendJSONStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONTime appends t as time.Time's MarshalJSON writes it (RFC 3339
// with nanoseconds; a key's expiry is always within its years 0–9999).
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string the way encoding/json
// writes it by default: quotes, backslashes and control characters
// escaped (\b \f \n \r \t by name), <, > and & as \u escapes so the text
// is safe inside HTML, invalid UTF-8 as U+FFFD, and U+2028 and U+2029
// escaped for JavaScript.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
