package web

import (
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/verify"
)

// whoamiJSON is the calling key, as GET /v1/whoami shows it. appendWhoami
// writes the same JSON by hand; TestWhoamiEncoding holds the two equal.
type whoamiJSON struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	TeamID      int64      `json:"team_id"`
	Environment string     `json:"environment"`
	Hint        string     `json:"hint"`
	Permission  string     `json:"permission"`
	Scopes      []string   `json:"scopes"`
	ExpiresAt   *time.Time `json:"expires_at"`
}

// whoamiBufs are the buffers whoami bodies are written into.
var whoamiBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// handleWhoami serves GET /v1/whoami: the key the request was made with
// ("test your key"). It needs no scope and answers from the verify cache.
// It is the hot path that make bench compares with a bare net/http
// handler: the body is written by hand into a pooled buffer, which the
// profile showed costs a fraction of encoding/json's reflection.
func (s *Server) handleWhoami(c echo.Context) error {
	bp := whoamiBufs.Get().(*[]byte)
	defer whoamiBufs.Put(bp)
	*bp = appendWhoami((*bp)[:0], apiKey(c))
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, *bp)
}

// appendWhoami appends k as whoamiJSON's JSON encoding (with the newline
// encoding/json's Encoder ends with).
func appendWhoami(b []byte, k *verify.Verified) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, k.PublicID())
	b = append(b, `,"name":`...)
	b = appendJSONString(b, k.Name())
	b = append(b, `,"team_id":`...)
	b = appendInt(b, k.TeamID())
	b = append(b, `,"environment":`...)
	b = appendJSONString(b, k.Environment())
	b = append(b, `,"hint":`...)
	b = appendJSONString(b, k.Hint())
	b = append(b, `,"permission":`...)
	b = appendJSONString(b, string(k.Permission().Set))
	b = append(b, `,"scopes":`...)
	if sc := k.Scopes(); sc == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, sc := range sc {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, sc)
		}
		b = append(b, ']')
	}
	b = append(b, `,"expires_at":`...)
	if exp := k.ExpiresAt(); exp == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = exp.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

func appendInt(b []byte, n int64) []byte {
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	var d [20]byte
	i := len(d)
	for {
		i--
		d[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(b, d[i:]...)
}

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it: quotes, backslashes and control characters; <, > and & (for
// HTML safety); invalid UTF-8 as U+FFFD; U+2028 and U+2029.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
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
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
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
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
