package web

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/verify"
)

// apiError gives a /v1 error its own machine-readable code (invalid_api_key,
// insufficient_scope); its status and message come from the error it wraps
// (a *model.Error or an *echo.HTTPError), through the one error pipeline.
type apiError struct {
	code string
	err  error
}

func (e *apiError) Error() string   { return e.code + ": " + e.err.Error() }
func (e *apiError) Unwrap() error   { return e.err }
func (e *apiError) APICode() string { return e.code }

// invalidKeyMessage is the one message for every refused key, so that a
// client cannot tell a revoked key from an unknown one.
const invalidKeyMessage = "The API key is missing, malformed, unknown, expired or revoked. Send a valid key in the X-API-Key header or as Authorization: Bearer <key>."

var (
	errInvalidKey = &apiError{code: "invalid_api_key", err: &model.Error{Code: model.EUNAUTHORIZED, Message: invalidKeyMessage}}
	errQueryKey   = &apiError{code: "invalid_api_key", err: &model.Error{Code: model.EUNAUTHORIZED,
		Message: "API keys in the URL (?key=) are turned off. Send the key in the X-API-Key header or as Authorization: Bearer <key>."}}
	errTwoKeys = echo.NewHTTPError(http.StatusBadRequest,
		"The request carries two different API keys. Send exactly one, in the X-API-Key header or as Authorization: Bearer <key>.")
	errTooManyKeyFailures = &apiError{code: "too_many_failures", err: model.Errorf(model.ETOOMANY,
		"Too many failed API key checks from this address. Wait as long as Retry-After says, then try again with a valid key.")}
)

// Failed key checks per client IP: a burst, then one every interval. An IP
// over its allowance gets 429 on /v1 until a token is back.
const (
	keyFailBurst    = 30
	keyFailEvery    = 2 * time.Second
	verifyFailBurst = 120
	verifyFailEvery = 250 * time.Millisecond
)

// failLimiter counts failures per IP in token buckets (per instance).
type failLimiter struct {
	mu    sync.Mutex
	every time.Duration
	burst int
	ip    map[string]*rate.Limiter
}

func newFailLimiter(every time.Duration, burst int) *failLimiter {
	return &failLimiter{every: every, burst: burst, ip: map[string]*rate.Limiter{}}
}

// wait returns how long ip must wait before it may try again (0: now).
func (l *failLimiter) wait(ip string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.ip[ip]
	if !ok {
		return 0
	}
	return wait(b, now)
}

// failed spends one of ip's tokens.
func (l *failLimiter) failed(ip string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	bucket(l.ip, ip, l.every, l.burst, now).AllowN(now, 1)
}

// limited answers 429 with Retry-After.
func limited(c echo.Context, d time.Duration) error {
	c.Response().Header().Set("Retry-After", strconv.Itoa(retryAfter(d)))
	return errTooManyKeyFailures
}

// bearerChallenge is the WWW-Authenticate header of a refused key (shared,
// read only: its capacity is its length), set under headerWWWAuthenticate,
// the header's name in Go's canonical form (as Header.Get looks it up).
var bearerChallenge = []string{"Bearer"}

const headerWWWAuthenticate = "Www-Authenticate"

// headerAPIKey is X-API-Key in Go's canonical header form.
const headerAPIKey = "X-Api-Key" // #nosec G101 -- a header name, not a credential

// keyContext is the context of a /v1 request behind the key check: the
// request's Echo context and the key that authenticated it. apiAuth hands
// it to the handlers instead of storing the key with c.Set, whose map
// costs two allocations on every request.
type keyContext struct {
	echo.Context
	key *verify.Verified
}

// keyContexts recycles keyContexts: one lives for one request.
var keyContexts = sync.Pool{New: func() any { return new(keyContext) }}

// apiKey returns the key that authenticated a /v1 request (nil outside
// apiAuth).
func apiKey(c echo.Context) *verify.Verified {
	if kc, ok := c.(*keyContext); ok {
		return kc.key
	}
	return nil
}

// keyActor is the audit actor of a /v1 request: its key, from its IP.
func keyActor(c echo.Context) model.Actor {
	return model.KeyActor(apiKey(c).APIKey(), c.RealIP())
}

// apiAuth authenticates every /v1 request by its API key (see authenticate)
// and keeps the key for the handlers.
func (s *Server) apiAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		k, err := s.authenticate(c)
		if err != nil {
			return err
		}
		kc := keyContexts.Get().(*keyContext)
		kc.Context, kc.key = c, k
		err = next(kc)
		*kc = keyContext{}
		keyContexts.Put(kc)
		return err
	}
}

// authenticate is the one key check of every path that takes a key (the
// /v1 API and the gateway): one credential, checked for shape and checksum
// before any cache or database work, then verified (cached) and held to
// its restrictions, all through verify.Authorize, the one enforcement
// point. Missing, malformed, unknown, expired and revoked keys all get the
// same 401; each such failure spends a token of the client IP, and a
// failure from an IP out of tokens gets 429 too_many_failures (a valid key
// is never refused for its address's failures). A restriction refuses with 403 ip_not_allowed or
// referrer_not_allowed, or 429 rate_limited or quota_exceeded (with the
// RateLimit headers, also set on accepted requests of limited keys). A
// store outage on an uncached key is 503. Uses and refusals are counted
// by Authorize. The caller checks the scope next (requireScope, the
// gateway's checkScope), which keeps Authorize's order.
func (s *Server) authenticate(c echo.Context) (*verify.Verified, error) {
	ip := c.RealIP()
	raw, err := apiCredential(c.Request(), s.cfg.AllowQueryKey)
	if err == nil {
		d := s.verifier.Authorize(c.Request().Context(), raw, keyRequest(c, ip, "", ""))
		switch d.Code {
		case verify.OK:
			s.rateHeaders(c.Response().Header(), d)
			return d.Key, nil
		case verify.Invalid:
			err = errInvalidKey
		case verify.Unavailable:
			err = d.Err
		default:
			return nil, s.refusal(c, d)
		}
	}
	if model.ErrorCode(err) == model.EUNAUTHORIZED {
		// Only failures are limited: a valid key never reaches this point,
		// so it is never refused for its address's failures.
		now := s.now()
		if d := s.api.keyFailures.wait(ip, now); d > 0 {
			return nil, limited(c, d)
		}
		s.api.keyFailures.failed(ip, now)
		c.Response().Header()[headerWWWAuthenticate] = bearerChallenge
	}
	return nil, err
}

// apiCredential returns the one API key a request carries: X-API-Key,
// Authorization: Bearer (scheme in any case, spaces around tolerated) or,
// when allowed, the key query parameter. The same key in several places is
// one credential; two different keys are errTwoKeys; a blank value carries
// no key, wherever it stands. No key at all is errInvalidKey, and a query
// key when not allowed is errQueryKey.
func apiCredential(r *http.Request, allowQuery bool) (string, error) {
	raw := ""
	add := func(k string) error {
		if k == "" {
			return nil
		}
		if raw != "" && k != raw {
			return errTwoKeys
		}
		raw = k
		return nil
	}
	for _, v := range r.Header[headerAPIKey] {
		if err := add(strings.TrimSpace(v)); err != nil {
			return "", err
		}
	}
	for _, v := range r.Header[echo.HeaderAuthorization] {
		v = strings.TrimSpace(v)
		if len(v) > 6 && strings.EqualFold(v[:6], "bearer") && (v[6] == ' ' || v[6] == '\t') {
			if err := add(strings.TrimSpace(v[7:])); err != nil {
				return "", err
			}
		}
	}
	if r.URL.RawQuery != "" {
		if q, ok := r.URL.Query()["key"]; ok {
			if !allowQuery {
				return "", errQueryKey
			}
			for _, v := range q {
				if err := add(strings.TrimSpace(v)); err != nil {
					return "", err
				}
			}
		}
	}
	if raw == "" {
		return "", errInvalidKey
	}
	return raw, nil
}

// requireScope lets a request through only if its key grants scope
// ("resource:read" or "resource:write") or one of the alternatives;
// otherwise 403 insufficient_scope, naming the scope. Routes follow
// DESIGN.md: GET needs read, other methods write (POST /v1/keys/verify,
// which changes nothing, needs read).
func requireScope(scope string, alternatives ...string) echo.MiddlewareFunc {
	resource, access, _ := strings.Cut(scope, ":")
	need := model.Access(access)
	type alt struct {
		resource string
		access   model.Access
	}
	var alts []alt
	for _, sc := range alternatives {
		r, a, _ := strings.Cut(sc, ":")
		alts = append(alts, alt{r, model.Access(a)})
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			k := apiKey(c)
			for _, a := range alts {
				if k.Allows(a.resource, a.access) {
					return next(c)
				}
			}
			if err := checkScope(c, k, resource, need); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// checkScope is nil if k grants need on resource; otherwise 403
// insufficient_scope naming the scope, with its WWW-Authenticate challenge.
// The /v1 routes and the gateway both check scopes here.
func checkScope(c echo.Context, k *verify.Verified, resource string, need model.Access) error {
	if k.Allows(resource, need) {
		return nil
	}
	scope := resource + ":" + string(need)
	c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer error="insufficient_scope", scope="`+scope+`"`)
	return &apiError{code: "insufficient_scope", err: model.Errorf(model.EFORBIDDEN,
		"This key lacks the %s scope, which this request needs.", scope)}
}
