package web

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
)

// controlChars is the one place where every request's input is
// checked for NUL and other C0 control characters (DESIGN.md, security rule
// 9), before any handler sees it: the path (and so every path parameter),
// query values, form values (URL-encoded and multipart) and the strings and
// names of a JSON body. A path, a query value or a form value may not hold
// any control character but tab, line feed and carriage return (text areas
// and search boxes send those); the path holds none at all. Anything else is
// 400 with a message that says where, and nothing changes (the stack,
// web/middleware.go, runs it before every handler). Routes added later are
// covered without doing anything.
func (s *Server) controlChars(c echo.Context) error {
	r := c.Request()
	if strings.ContainsFunc(r.URL.Path, isControl) {
		return errControl("the URL path")
	}
	if r.URL.RawQuery != "" {
		for name, vs := range r.URL.Query() {
			if strings.ContainsFunc(name, isControl) {
				return errControl("a query parameter name")
			}
			for _, v := range vs {
				if strings.ContainsFunc(v, isUnwantedControl) {
					return errControl("the query parameter " + printableName(name))
				}
			}
		}
	}
	if r.Body == nil || r.Body == http.NoBody || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil
	}
	ct := mediaType(r)
	switch {
	case ct == echo.MIMEApplicationForm || ct == echo.MIMEMultipartForm:
		var form url.Values
		if ct == echo.MIMEApplicationForm {
			// Read here whatever the method: net/http parses the body of
			// POST, PUT and PATCH only.
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return err // the body limit's 413, or a broken connection
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			form, _ = url.ParseQuery(string(body))
		} else if mf, err := c.MultipartForm(); err == nil {
			form = mf.Value
		}
		for name, vs := range form {
			if strings.ContainsFunc(name, isControl) {
				return errControl("a form field name")
			}
			for _, v := range vs {
				if strings.ContainsFunc(v, isUnwantedControl) {
					return errControl("the form field " + printableName(name))
				}
			}
		}
	case ct == echo.MIMEApplicationJSON || strings.HasSuffix(ct, "+json"):
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return err // the body limit's 413, or a broken connection
		}
		r.Body = &bufferedBody{Reader: bytes.NewReader(body), data: body}
		if where := jsonControl(body); where != "" {
			return errControl(where)
		}
	}
	return nil
}

// bufferedBody is a request body read in full for the check above, and
// kept: the handler's decodeJSON takes its bytes instead of copying them
// again (requestBody).
type bufferedBody struct {
	*bytes.Reader
	data []byte
}

func (*bufferedBody) Close() error { return nil }

// isControl reports the C0 control characters and DEL.
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// isUnwantedControl is isControl but for tab, line feed and carriage return.
func isUnwantedControl(r rune) bool {
	return isControl(r) && r != '\t' && r != '\n' && r != '\r'
}

// errControl is the answer to a control character in the input.
func errControl(where string) error {
	return echo.NewHTTPError(http.StatusBadRequest,
		"The request holds a NUL or another control character in "+where+", which no value here may contain. Remove it and try again.")
}

// printableName quotes a parameter name for a message, unless it is too
// odd to repeat.
func printableName(name string) string {
	if len(name) > 40 || strings.ContainsFunc(name, isControl) {
		return "(unnamed)"
	}
	return `"` + name + `"`
}

// jsonControl returns where a JSON body holds a control character in a
// string or a member name ("" if nowhere). Bodies that are not valid JSON
// are left to the handler, which reports them. Raw control characters are
// already invalid JSON; this finds the escaped ones (\u0000).
func jsonControl(body []byte) string {
	if bytes.IndexByte(body, '\\') < 0 && bytes.IndexByte(body, 0x7f) < 0 {
		// No escapes, so no escaped control character, and no DEL (valid
		// raw in a JSON string): the tokens below could only find the
		// other raw ones, which are not JSON, and the decoder refuses.
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return "" // the end, or not JSON: the handler says what is wrong
		}
		if s, ok := tok.(string); ok && strings.ContainsFunc(s, isUnwantedControl) {
			return "a JSON string"
		}
	}
}
