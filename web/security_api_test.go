package web

// Adversarial input against the /v1 API: hostile keys in every place a key
// is read, SQL injection in ids and query parameters, and hostile headers.
// Every case checks the answer and that the database did not change.

import (
	"bufio"
	"context"
	"encoding/json"
	"hash/crc32"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
)

// withCheck appends the right checksum to body (prefix_env_secret).
func withCheck(body string) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	v := crc32.ChecksumIEEE([]byte(body))
	var b [keys.CheckLen]byte
	for i := keys.CheckLen - 1; i >= 0; i-- {
		b[i] = alphabet[v%62]
		v /= 62
	}
	return body + string(b[:])
}

// hostileKeys are keys an attacker might send, built around a real one. None
// may authenticate.
func hostileKeys(t *testing.T, real string) map[string]string {
	t.Helper()
	body := real[:len(real)-keys.CheckLen]
	check := real[len(real)-keys.CheckLen:]
	flip := func(s string, i int) string {
		c := byte('A')
		if s[i] == 'A' {
			c = 'B'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	badCheck := body + "000000"
	if check == "000000" {
		badCheck = body + "000001"
	}
	unknown, err := keys.Generate("kw", "live")
	if err != nil {
		t.Fatal(err)
	}
	secretAt := len("kw_live_")
	m := map[string]string{
		"NUL inside":                        real[:12] + "\x00" + real[12:],
		"NUL after":                         real + "\x00",
		"NUL only":                          "\x00",
		"CR LF inside":                      real[:12] + "\r\n" + real[12:],
		"CR LF header injection":            real[:20] + "\r\nX-Injected: 1",
		"bare LF inside":                    real[:12] + "\n" + real[12:],
		"right-to-left override":            "\u202e" + real,
		"right-to-left override mid":        real[:8] + "\u202e" + real[8:],
		"zero-width space":                  real[:8] + "\u200b" + real[8:],
		"Cyrillic e in live":                "kw_liv\u0435_" + real[secretAt:],
		"Cyrillic a in secret":              withCheck(body[:secretAt] + "\u0430" + body[secretAt+1:]),
		"fullwidth prefix":                  "\uff4b\uff57" + real[2:],
		"digit one for l":                   "kw_1ive_" + real[secretAt:],
		"upper case":                        strings.ToUpper(real),
		"10 KB appended":                    real + strings.Repeat("A", 10<<10),
		"10 KB of prefix":                   strings.Repeat("kw_live_", 10<<10/8),
		"bad checksum":                      badCheck,
		"one character changed":             flip(real, secretAt+5),
		"one character changed, good check": withCheck(flip(body, secretAt+5)),
		"check character changed":           flip(real, len(real)-1),
		"truncated":                         real[:len(real)-1],
		"unknown well-formed key":           unknown,
		"other environment":                 withCheck("kw_test_" + body[secretAt:]),
		"SQL OR":                            "' OR 1=1--",
		"SQL DROP":                          "'; DROP TABLE api_keys;--",
		"SQL after a real key":              real + "' OR '1'='1",
		"SQL shaped like a key":             withCheck("kw_live_' OR 1=1 OR ''='" + strings.Repeat("x", 9)),
		"SQL UNION":                         "kw_live_x' UNION SELECT key_hash FROM api_keys--",
		"percent-encoded":                   url.QueryEscape(real + "'"),
		"JSON":                              `{"key":"` + real + `"}`,
	}
	for name, k := range m {
		if k == real || strings.TrimSpace(k) == real {
			t.Fatalf("hostile key %q is the real key", name)
		}
	}
	return m
}

// serveDirect runs a request through the server's handler without a socket,
// so that header bytes net/http would refuse on the wire still reach
// keyward's own checks.
func (fx *secFixture) serveDirect(t *testing.T, method, path string, h http.Header, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = "127.0.0.1:40000"
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("X-Forwarded-For", fx.nextIP())
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	fx.app.srv.Handler().ServeHTTP(rec, req)
	return rec
}

func TestSecurityHostileKeysAreRefused(t *testing.T) {
	fx := newSecFixture(t)
	_, real := fx.authKey(t, "Real", model.PermWriteAll)
	hostile := hostileKeys(t, real)
	before := fx.snapshot(t)

	for name, k := range hostile {
		// Through the handler: every byte reaches keyward's checks.
		for _, h := range []http.Header{xAPIKeyHeader(k), bearerHeader(k)} {
			rec := fx.serveDirect(t, http.MethodGet, "/v1/whoami", h, "")
			res := &secResponse{Response: rec.Result(), Body: rec.Body.String()}
			res.Request = httptest.NewRequest(http.MethodGet, "/v1/whoami", nil)
			res.wantInvalidKey(t, name+" (handler)")
		}
		// Through a real socket, where the client can send it at all.
		if !strings.ContainsAny(k, "\x00\r\n") {
			fx.api(t, http.MethodGet, "/v1/whoami", xAPIKeyHeader(k), "").wantInvalidKey(t, name+" in X-API-Key")
			fx.api(t, http.MethodGet, "/v1/api-keys", bearerHeader(k), "").wantInvalidKey(t, name+" as a bearer token")
			fx.api(t, http.MethodPost, "/v1/api-keys", bearerHeader(k), `{"name":"x","permission":"write_all"}`).
				wantInvalidKey(t, name+" creating a key")
		}
		// In the query string, which is off by default, and as the key to
		// check in POST /v1/keys/verify: NUL and the like are refused with
		// every other input (400); anything else gets 401 and a verdict.
		b, _ := json.Marshal(map[string]string{"key": k})
		if strings.ContainsFunc(k, isUnwantedControl) {
			fx.api(t, http.MethodGet, "/v1/whoami?key="+url.QueryEscape(k), nil, "").wantStatus(t, http.StatusBadRequest, name+" in ?key=")
			fx.api(t, http.MethodPost, "/v1/keys/verify", bearerHeader(real), string(b)).wantStatus(t, http.StatusBadRequest, name+" in /v1/keys/verify")
			continue
		}
		res := fx.api(t, http.MethodGet, "/v1/whoami?key="+url.QueryEscape(k), nil, "")
		res.wantStatus(t, http.StatusUnauthorized, name+" in ?key=")
		res = fx.api(t, http.MethodPost, "/v1/keys/verify", bearerHeader(real), string(b))
		res.wantStatus(t, http.StatusOK, name+" in /v1/keys/verify")
		if strings.TrimSpace(res.Body) != `{"valid":false,"code":"INVALID"}` {
			t.Fatalf("%s in /v1/keys/verify: %s", name, res.Body)
		}
	}
	fx.unchanged(t, before, "hostile keys")

	// The real key still works: nothing was locked or damaged.
	fx.api(t, http.MethodGet, "/v1/whoami", xAPIKeyHeader(real), "").wantStatus(t, http.StatusOK, "the real key afterwards")
}

// On the wire, net/http itself refuses control characters in header values
// before keyward sees the request.
func TestSecurityControlBytesOnTheWire(t *testing.T) {
	fx := newSecFixture(t)
	_, real := fx.key(t, fx.team.ID, "Real", model.PermWriteAll)
	before := fx.snapshot(t)
	addr := strings.TrimPrefix(fx.app.URL, "http://")
	for name, line := range map[string]string{
		"NUL":     "X-API-Key: " + real[:12] + "\x00" + real[12:],
		"bare CR": "X-API-Key: " + real[:12] + "\r" + real[12:],
		"DEL":     "X-API-Key: " + real + "\x7f",
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Write([]byte("GET /v1/whoami HTTP/1.1\r\nHost: keyward.test\r\n" + line + "\r\nConnection: close\r\n\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		res.Body.Close()
		conn.Close()
		if res.StatusCode != http.StatusBadRequest && res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s in a header: status %d, want 400 (or keyward's 401)", name, res.StatusCode)
		}
	}
	fx.unchanged(t, before, "control bytes in headers")
}

func TestSecuritySQLInjectionInAPIParameters(t *testing.T) {
	fx := newSecFixture(t)
	_, real := fx.authKey(t, "Real", model.PermWriteAll)
	fx.key(t, fx.team.ID, "Billing", model.PermReadAll)
	auth := bearerHeader(real)
	injections := []string{
		`' OR 1=1--`,
		`'; DROP TABLE api_keys;--`,
		`" OR ""="`,
		`1) OR (1=1`,
		`key_x' UNION SELECT key_hash, key_hash FROM api_keys--`,
		`%' OR '%'='`,
		`\'; DELETE FROM users;--`,
		`../members`,
	}
	before := fx.snapshot(t)
	for _, inj := range injections {
		id := url.PathEscape(inj)
		fx.api(t, http.MethodGet, "/v1/api-keys/"+id, auth, "").wantStatus(t, http.StatusNotFound, "GET id "+inj)
		fx.api(t, http.MethodPatch, "/v1/api-keys/"+id, auth, `{"name":"Hijacked"}`).wantStatus(t, http.StatusNotFound, "PATCH id "+inj)
		fx.api(t, http.MethodDelete, "/v1/api-keys/"+id, auth, "").wantStatus(t, http.StatusNotFound, "DELETE id "+inj)
		fx.api(t, http.MethodPost, "/v1/api-keys/"+id+"/revoke", auth, "").wantStatus(t, http.StatusNotFound, "revoke id "+inj)

		q := url.QueryEscape(inj)
		res := fx.api(t, http.MethodGet, "/v1/api-keys?q="+q, auth, "")
		res.wantStatus(t, http.StatusOK, "search "+inj)
		var list struct {
			Data []apiKeyJSON `json:"data"`
		}
		if err := json.Unmarshal([]byte(res.Body), &list); err != nil || len(list.Data) != 0 {
			t.Fatalf("search %q matched %d keys (%v): %s", inj, len(list.Data), err, res.Body)
		}
		for _, param := range []string{"sort", "status", "environment", "limit", "cursor"} {
			res := fx.api(t, http.MethodGet, "/v1/api-keys?"+param+"="+q, auth, "")
			res.wantStatus(t, http.StatusUnprocessableEntity, param+"="+inj)
			if !strings.Contains(res.Body, `"code":"invalid_request"`) {
				t.Fatalf("%s=%q: %s", param, inj, res.Body)
			}
		}
		for _, path := range []string{"/v1/audit-log?action=" + q, "/v1/audit-log?target_id=" + q, "/v1/members?cursor=" + q} {
			res := fx.api(t, http.MethodGet, path, auth, "")
			if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("GET %s: %d %s", path, res.StatusCode, res.Body)
			}
		}
	}
	fx.unchanged(t, before, "SQL injection in API parameters")

	// Injection strings as a new key's name are data: stored and shown as given.
	for _, inj := range injections {
		b, _ := json.Marshal(map[string]string{"name": inj, "permission": "read_all"})
		res := fx.api(t, http.MethodPost, "/v1/api-keys", auth, string(b))
		res.wantStatus(t, http.StatusCreated, "name "+inj)
		var k apiKeyJSON
		if err := json.Unmarshal([]byte(res.Body), &k); err != nil || k.Name != inj {
			t.Fatalf("key named %q came back as %q (%v)", inj, k.Name, err)
		}
	}
	_, n, err := fx.app.store.FindKeys(context.Background(), model.KeyFilter{TeamID: fx.team.ID, Limit: 1})
	if err != nil || n != int64(2+len(injections)) {
		t.Fatalf("the team has %d keys (%v), want %d", n, err, 2+len(injections))
	}
}

func TestSecurityCredentialHeaders(t *testing.T) {
	fx := newSecFixture(t)
	_, real := fx.authKey(t, "Real", model.PermReadAll)
	_, other := fx.key(t, fx.team.ID, "Other", model.PermReadAll)
	before := fx.snapshot(t)

	repeat := func(vals ...string) http.Header { return http.Header{"X-Api-Key": vals} }
	same21 := make([]string, 21)
	for i := range same21 {
		same21[i] = real
	}
	mixed21 := append(append([]string(nil), same21[:20]...), other)
	bad21 := make([]string, 21)
	for i := range bad21 {
		bad21[i] = "kw_live_not-a-key"
	}

	// One key, however many times it is repeated, is one credential.
	fx.api(t, http.MethodGet, "/v1/whoami", repeat(same21...), "").wantStatus(t, http.StatusOK, "21 copies of one key")
	// Two different keys are refused before either is checked.
	for name, h := range map[string]http.Header{
		"21 X-API-Key headers, one different": repeat(mixed21...),
		"X-API-Key and Bearer differ":         {"X-Api-Key": {real}, "Authorization": {"Bearer " + other}},
		"X-API-Key and a bad Bearer":          {"X-Api-Key": {real}, "Authorization": {"Bearer kw_live_x"}},
		"two Bearer headers":                  {"Authorization": {"Bearer " + real, "Bearer " + other}},
	} {
		res := fx.api(t, http.MethodGet, "/v1/whoami", h, "")
		res.wantStatus(t, http.StatusBadRequest, name)
		if !strings.Contains(res.Body, "two different API keys") {
			t.Fatalf("%s: %s", name, res.Body)
		}
	}
	fx.api(t, http.MethodGet, "/v1/whoami", http.Header{"X-Api-Key": {real}, "Authorization": {"Bearer " + real}}, "").
		wantStatus(t, http.StatusOK, "the same key in both headers")
	// A blank value carries no key, before or after the key.
	fx.api(t, http.MethodGet, "/v1/whoami", http.Header{"X-Api-Key": {real, ""}}, "").wantStatus(t, http.StatusOK, "a key, then a blank X-API-Key")
	fx.api(t, http.MethodGet, "/v1/whoami", http.Header{"X-Api-Key": {"", real}}, "").wantStatus(t, http.StatusOK, "a blank X-API-Key, then a key")

	// 21 bad copies are one failed check: they spend one token of the
	// address's failure allowance, not 21.
	ip := "203.0.113.77"
	h := repeat(bad21...)
	h.Set("X-Forwarded-For", ip)
	fx.api(t, http.MethodGet, "/v1/whoami", h, "").wantInvalidKey(t, "21 bad copies")
	lim := fx.app.srv.api.keyFailures
	lim.mu.Lock()
	tokens := lim.ip[ip].TokensAt(fx.app.clock.Now())
	lim.mu.Unlock()
	if tokens < keyFailBurst-1-0.01 {
		t.Fatalf("21 copies of a bad key spent %.1f failure tokens, want 1", keyFailBurst-tokens)
	}

	// Schemes: the word Bearer in any case, spaces and tabs around; anything
	// else is no credential.
	for _, v := range []string{"bearer " + real, "BEARER " + real, "bEaReR " + real, "Bearer    " + real,
		"Bearer\t" + real, "  Bearer " + real + "  ", "Bearer " + real + "\t"} {
		fx.api(t, http.MethodGet, "/v1/whoami", http.Header{"Authorization": {v}}, "").wantStatus(t, http.StatusOK, "Authorization: "+v[:10])
	}
	for _, v := range []string{"Bearer" + real, "Bearer:" + real, "Bearer=" + real, "Basic " + real, "Token " + real,
		"Bearer", "Bearer ", real, "Bearer " + real + " " + real, "Bearer " + real + ",", "Bear er " + real,
		"Bearer \u00a0" + real[:len(real)-1]} {
		fx.api(t, http.MethodGet, "/v1/whoami", http.Header{"Authorization": {v}}, "").wantInvalidKey(t, "Authorization: "+clip(v, 12))
	}
	fx.api(t, http.MethodGet, "/v1/whoami", http.Header{"X-Api-Key": {"Bearer " + real}}, "").wantInvalidKey(t, "a scheme in X-API-Key")
	fx.unchanged(t, before, "credential header variants")
}

// A request whose headers exceed the cap is refused by the HTTP server with
// 431, through a real listener with web's MaxHeaderBytes.
func TestSecurityHugeHeaderGets431(t *testing.T) {
	fx := newSecFixture(t)
	_, real := fx.key(t, fx.team.ID, "Real", model.PermReadAll)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fx.app.srv.Serve(ctx, ln, time.Second) }()
	t.Cleanup(func() { cancel(); <-done })
	before := fx.snapshot(t)

	big := strings.Repeat("A", 2<<20)
	for name, header := range map[string]string{
		"a 2 MB X-API-Key":     "X-API-Key: " + real + big,
		"a 2 MB Authorization": "Authorization: Bearer " + big,
		"a 2 MB cookie":        "Cookie: keyward_session=" + big,
		"20,000 small headers": strings.TrimSuffix(strings.Repeat("X-API-Key: "+real+"\r\n", 20000), "\r\n"),
	} {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		// The server answers before reading everything; write in the
		// background and read the answer.
		go func() {
			_, _ = conn.Write([]byte("GET /v1/whoami HTTP/1.1\r\nHost: keyward.test\r\n" + header + "\r\n\r\n"))
		}()
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		res.Body.Close()
		conn.Close()
		if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("%s: status %d, want 431", name, res.StatusCode)
		}
	}
	fx.unchanged(t, before, "oversized headers")
	if strings.Contains(fx.app.logs.String(), big[:1000]) {
		t.Fatal("an oversized header was logged")
	}
}
