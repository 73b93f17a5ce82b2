package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
)

// apiVerifyBody is the body of POST /v1/keys/verify.
type apiVerifyBody struct {
	Key   string `json:"key"`
	Scope string `json:"scope"`
}

// apiVerifyJSON is the verdict on a key. Valid keys carry their id, team,
// environment and scopes; refused ones only a code.
type apiVerifyJSON struct {
	Valid       bool     `json:"valid"`
	Code        string   `json:"code,omitempty"`
	KeyID       string   `json:"key_id,omitempty"`
	TeamID      int64    `json:"team_id,omitempty"`
	Environment string   `json:"environment,omitempty"`
	Scopes      []string `json:"scopes,omitempty"`
}

// Verdict codes of POST /v1/keys/verify.
const (
	verifyInvalid           = "INVALID"
	verifyInsufficientScope = "INSUFFICIENT_SCOPE"
)

// handleKeyVerify serves POST /v1/keys/verify, for other backends: is the
// key in the body a usable key of the caller's team, with the scope asked
// for (optional)? The answer is 200 either way: {"valid":true,…} or
// {"valid":false,"code":"INVALID"|"INSUFFICIENT_SCOPE"}. Keys of other teams
// are INVALID. Each INVALID verdict spends a token of the client IP; an
// INVALID verdict for an IP out of tokens is 429 too_many_failures instead
// (a valid key is always answered). Checks go through the same cache as
// /v1 itself, and a valid key's use is recorded as a use. The key to check
// is required (422 without it).
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
	var res string
	var acc model.Access
	if b.Scope != "" {
		var err error
		if res, acc, err = model.ParseScope(s.catalog, b.Scope); err != nil {
			return err
		}
	}
	caller := apiKey(c)
	k, err := s.verifier.Check(c.Request().Context(), strings.TrimSpace(b.Key))
	if k != nil && k.TeamID() != caller.TeamID() {
		k, err = nil, errInvalidKey
	}
	switch {
	case err == nil:
		s.recorder.Record(k.ID(), ip, now)
	case model.ErrorCode(err) == model.EUNAUTHORIZED:
		if k != nil {
			s.recorder.RecordRefused(k.ID(), ip, now)
		}
		// Only INVALID verdicts are limited: a valid key is always answered.
		if d := s.api.verifyFailures.wait(ip, now); d > 0 {
			return limited(c, d)
		}
		s.api.verifyFailures.failed(ip, now)
		return c.JSON(http.StatusOK, apiVerifyJSON{Code: verifyInvalid})
	default:
		return err
	}
	if res != "" && !k.Allows(res, acc) {
		return c.JSON(http.StatusOK, apiVerifyJSON{Code: verifyInsufficientScope})
	}
	return c.JSON(http.StatusOK, apiVerifyJSON{Valid: true, KeyID: k.PublicID(), TeamID: k.TeamID(),
		Environment: k.Environment(), Scopes: k.Scopes()})
}
