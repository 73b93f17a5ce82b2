package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
)

// The JSON shapes of the /v1 API. web/openapi/openapi.json describes each
// one; the API tests validate every response against it.

// apiKeyJSON is an API key as the API shows it: never its hash or value.
type apiKeyJSON struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	TeamID      int64      `json:"team_id"`
	Environment string     `json:"environment"`
	Hint        string     `json:"hint"`
	Permission  string     `json:"permission"`
	Scopes      []string   `json:"scopes"`
	Status      string     `json:"status"`
	ExpiresAt   *time.Time `json:"expires_at"`
	RevokedAt   *time.Time `json:"revoked_at"`
	CreatedBy   string     `json:"created_by"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	LastUsedAt  *time.Time `json:"last_used_at"`
	LastUsedIP  *string    `json:"last_used_ip"`
	model.Restrictions
	// RolledFrom and ReplacedBy link a rolled key and its successor.
	RolledFrom *string `json:"rolled_from"`
	ReplacedBy *string `json:"replaced_by"`
}

func toAPIKey(k model.APIKey, now time.Time) apiKeyJSON {
	j := apiKeyJSON{
		ID: k.PublicID, Name: k.Name, TeamID: k.TeamID, Environment: k.Environment, Hint: k.Hint,
		Permission: string(k.PermissionSet), Scopes: k.Permission().ScopeStrings(), Status: string(k.Status(now)),
		ExpiresAt: utc(k.ExpiresAt), RevokedAt: utc(k.RevokedAt), CreatedBy: k.CreatedBy,
		CreatedAt: k.CreatedAt.UTC(), UpdatedAt: k.UpdatedAt.UTC(), LastUsedAt: utc(k.LastUsedAt),
		Restrictions: k.Restrictions(),
	}
	if k.LastUsedIP != "" {
		j.LastUsedIP = &k.LastUsedIP
	}
	if k.RolledFrom != "" {
		j.RolledFrom = &k.RolledFrom
	}
	if k.ReplacedBy != "" {
		j.ReplacedBy = &k.ReplacedBy
	}
	return j
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// apiList is a page of a listing; NextCursor is null on the last page.
type apiList[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

func newAPIList[T any](data []T, next string) apiList[T] {
	l := apiList[T]{Data: data}
	if l.Data == nil {
		l.Data = []T{}
	}
	if next != "" {
		l.NextCursor = &next
	}
	return l
}

// maxAPIBody bounds a /v1 request body (the server-wide limit is larger).
const maxAPIBody = 64 << 10

// decodeJSON reads a request's JSON object into v, strictly: unknown
// fields, trailing data and wrong types are 400 with a message saying what
// is wrong.
func decodeJSON(c echo.Context, v any) error {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxAPIBody+1))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The request body could not be read.")
	}
	if len(body) > maxAPIBody {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "The request body is larger than 64 KiB.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The request body must be a JSON object: "+jsonProblem(err))
	}
	if dec.More() {
		return echo.NewHTTPError(http.StatusBadRequest, "The request body must hold one JSON object and nothing after it.")
	}
	return nil
}

// jsonProblem describes a decoding error without echoing the input.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return "field " + strconv.Quote(typeErr.Field) + " must be " + jsonKind(typeErr.Type.Kind().String()) + "."
	case errors.As(err, &typeErr):
		return "expected an object."
	case errors.As(err, &syntaxErr):
		return "invalid JSON at byte " + strconv.FormatInt(syntaxErr.Offset, 10) + "."
	case errors.Is(err, io.EOF):
		return "the body is empty."
	}
	// Unknown field (the message names the field, never a value) or a bad time.
	var pe *time.ParseError
	if errors.As(err, &pe) {
		return "times must be RFC 3339, such as 2026-12-31T00:00:00Z."
	}
	return err.Error()
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "bool":
		return "true or false"
	case "struct", "map":
		return "an object"
	case "ptr":
		return "a string or null"
	}
	return "a number"
}

// queryLimit reads the limit query parameter: 1 to max, def when absent.
func queryLimit(c echo.Context, def, max int) (int, error) {
	v := c.QueryParam("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, model.Errorf(model.EINVALID, "limit must be a whole number from 1 to %d.", max)
	}
	return n, nil
}
