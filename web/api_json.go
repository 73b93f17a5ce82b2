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
	if mediaType(c.Request()) != echo.MIMEApplicationJSON {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType,
			"Send the request body as JSON, with the header Content-Type: application/json.")
	}
	body, err := requestBody(c.Request(), maxAPIBody+1)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The request body could not be read.")
	}
	if len(body) > maxAPIBody {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "The request body is larger than 64 KiB.")
	}
	if decodeQuick(body, v) {
		return nil
	}
	return decodeStrict(body, v)
}

// mediaType is the media type of r's Content-Type, without parameters
// ("" if there is none or it is malformed). The usual plain
// "application/json" is recognised without mime.ParseMediaType's map.
func mediaType(r *http.Request) string {
	v := r.Header.Get(echo.HeaderContentType)
	if v == echo.MIMEApplicationJSON {
		return v
	}
	ct, _, _ := mime.ParseMediaType(v)
	return ct
}

// requestBody reads up to limit bytes of r's body: the bytes the control
// character check kept (web/input_check.go) when nothing has read them
// since, else what is left of the body.
func requestBody(r *http.Request, limit int64) ([]byte, error) {
	if b, ok := r.Body.(*bufferedBody); ok && b.Len() == len(b.data) {
		body := b.data[:min(int64(len(b.data)), limit)]
		_, _ = b.Seek(int64(len(body)), io.SeekStart)
		return body, nil
	}
	return io.ReadAll(io.LimitReader(r.Body, limit))
}

// decodeQuick decodes a body that decodeStrict would take without a word:
// one JSON object decoded into v (unknown members refused, at any depth)
// whose members, and those of nested objects decoded into structs, are
// v's field names in their exact case, each once, with nothing after it.
// It reports false on any doubt, and decodeStrict then says what is wrong
// (or decodes it after all: a member name with escapes, say). One pass of
// encoding/json and a scan of the member names, instead of three passes.
func decodeQuick(body []byte, v any) bool {
	start := skipJSONSpace(body, 0)
	if start == len(body) || body[start] != '{' {
		return false
	}
	if _, ok := scanJSONObject(body, start, jsonFields(reflect.TypeOf(v))); !ok {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return false
	}
	return skipJSONSpace(body, int(dec.InputOffset())) == len(body)
}

// decodeStrict is decodeJSON's decoding, with an error that says what is
// wrong.
func decodeStrict(body []byte, v any) error {
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

// scanJSONObject scans the object at body[i] ('{') as checkMembers checks
// it, and returns the index after it and whether checkMembers would pass
// it: every member name one of fields (t's JSON field names), unescaped
// and in its exact case, none twice, and the same for nested objects
// decoded into structs. The body may be malformed: a scan that meets
// anything unexpected reports false, and so do objects of more than 32
// members (checkMembers decides).
func scanJSONObject(body []byte, i int, fields map[string]reflect.Type) (int, bool) {
	var seen [32][]byte
	n := 0
	i = skipJSONSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(body) || body[i] != '"' {
			return 0, false
		}
		end := i + 1
		for end < len(body) && body[end] != '"' && body[end] != '\\' && body[end] >= 0x20 {
			end++
		}
		if end >= len(body) || body[end] != '"' {
			return 0, false
		}
		name := body[i+1 : end]
		ft, known := fields[string(name)]
		if !known || n == len(seen) {
			return 0, false
		}
		for _, s := range seen[:n] {
			if bytes.Equal(s, name) {
				return 0, false
			}
		}
		seen[n] = name
		n++
		i = skipJSONSpace(body, end+1)
		if i >= len(body) || body[i] != ':' {
			return 0, false
		}
		i = skipJSONSpace(body, i+1)
		var ok bool
		if ft != nil && i < len(body) && body[i] == '{' {
			i, ok = scanJSONObject(body, i, jsonFields(ft))
		} else {
			i, ok = skipJSONValue(body, i)
		}
		if !ok {
			return 0, false
		}
		i = skipJSONSpace(body, i)
		if i >= len(body) {
			return 0, false
		}
		switch body[i] {
		case '}':
			return i + 1, true
		case ',':
			i = skipJSONSpace(body, i+1)
		default:
			return 0, false
		}
	}
}

// skipJSONValue returns the index after the value at body[i]: a string,
// an object or array (brackets counted, strings skipped), or a literal or
// number (up to the next delimiter). The decoder checks the value itself.
func skipJSONValue(body []byte, i int) (int, bool) {
	if i >= len(body) {
		return 0, false
	}
	switch body[i] {
	case '"':
		return skipJSONString(body, i)
	case '{', '[':
		depth := 0
		for i < len(body) {
			switch body[i] {
			case '"':
				var ok bool
				if i, ok = skipJSONString(body, i); !ok {
					return 0, false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return 0, false
	}
	for ; i < len(body); i++ {
		switch body[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i, true
		}
	}
	return i, true
}

// skipJSONString returns the index after the string at body[i] ('"').
func skipJSONString(body []byte, i int) (int, bool) {
	for i++; i < len(body); i++ {
		switch body[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return 0, false
}

// skipJSONSpace returns the index of the first byte at or after i that is
// not JSON white space.
func skipJSONSpace(body []byte, i int) int {
	for i < len(body) && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r') {
		i++
	}
	return i
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
