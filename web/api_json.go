package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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

// decodeJSON reads a request's JSON object into v, strictly (DESIGN.md, API
// contract): the Content-Type must be application/json (415); member names
// must be v's field names exactly, in the same case, and each at most once,
// else 422 naming the member; trailing data, wrong types and anything but
// one object are 400 with a message saying what is wrong.
func decodeJSON(c echo.Context, v any) error {
	if ct, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType)); ct != echo.MIMEApplicationJSON {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType,
			"Send the request body as JSON, with the header Content-Type: application/json.")
	}
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxAPIBody+1))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The request body could not be read.")
	}
	if len(body) > maxAPIBody {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "The request body is larger than 64 KiB.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var members map[string]json.RawMessage
	if err := dec.Decode(&members); err != nil || members == nil {
		if err == nil {
			err = &json.UnmarshalTypeError{Value: "null", Type: reflect.TypeOf(members)}
		}
		return echo.NewHTTPError(http.StatusBadRequest, "The request body must be a JSON object: "+jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return echo.NewHTTPError(http.StatusBadRequest, "The request body must hold one JSON object and nothing after it.")
	}
	if err := checkMembers(body, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec = json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		// Top-level members were checked above: this one is in a nested
		// object (such as rate_limit), and is refused like them.
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			if n, uerr := strconv.Unquote(name); uerr == nil {
				name = n
			}
			msg := "Unknown field " + quoteField(name) + " in a nested object; field names are case-sensitive and listed in the API reference."
			return &model.Error{Code: model.EINVALID, Message: msg}
		}
		return echo.NewHTTPError(http.StatusBadRequest, "The request body must be a JSON object: "+jsonProblem(err))
	}
	return nil
}

// checkMembers refuses a member that is not one of t's JSON field names
// (Go's decoder would match "Name" to "name") or that comes twice, at the
// top level and in nested objects decoded into structs: EINVALID (422)
// naming it. Malformed JSON is left to the decoder's own error.
func checkMembers(body []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	fields := jsonFields(t)
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		name, _ := tok.(string)
		ft, known := fields[name]
		switch {
		case !known:
			msg := "Unknown field " + quoteField(name) + "; field names are case-sensitive and listed in the API reference."
			return &model.Error{Code: model.EINVALID, Message: msg, Fields: map[string]string{fieldKey(name): msg}}
		case seen[name]:
			msg := "The field " + quoteField(name) + " is given twice."
			return &model.Error{Code: model.EINVALID, Message: msg, Fields: map[string]string{fieldKey(name): msg}}
		}
		seen[name] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil
		}
		if ft != nil {
			if err := checkMembers(value, ft); err != nil {
				return err
			}
		}
	}
	return nil
}

// quoteField quotes a member name for a message, cut short if long.
func quoteField(name string) string {
	if utf8.RuneCountInString(name) > 40 {
		name = string([]rune(name)[:40]) + "…"
	}
	return strconv.Quote(name)
}

func fieldKey(name string) string {
	if len(name) > 40 {
		return name[:40]
	}
	return name
}

// jsonFieldCache holds the member names of each body type.
var jsonFieldCache sync.Map

// jsonFields maps the JSON member names of struct type t (or a pointer to
// one) to the struct type of the member's value when it is a nested object
// decoded field by field (nil otherwise).
func jsonFields(t reflect.Type) map[string]reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if f, ok := jsonFieldCache.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			fields[name] = nestedStruct(t.Field(i).Type)
		}
	}
	jsonFieldCache.Store(t, fields)
	return fields
}

// nestedStruct returns ft (pointers taken off) when encoding/json decodes
// it member by member: a struct without an UnmarshalJSON of its own.
func nestedStruct(ft reflect.Type) reflect.Type {
	for ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	if ft.Kind() != reflect.Struct || reflect.PointerTo(ft).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return nil
	}
	return ft
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
