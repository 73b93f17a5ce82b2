//go:build e2e

package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"
)

// whoamiAnswer is GET /v1/whoami's body (or its error body).
type whoamiAnswer struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Environment string   `json:"environment"`
	Permission  string   `json:"permission"`
	Scopes      []string `json:"scopes"`
	Error       *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// whoami calls GET /v1/whoami with raw as the X-API-Key, from outside the
// browser, and returns the status and the decoded body.
func whoami(t *testing.T, srv *server, raw string) (int, whoamiAnswer) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/whoami", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-API-Key", raw)
	hc := &http.Client{Timeout: 10 * time.Second}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET /v1/whoami: %v", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET /v1/whoami: reading the body: %v", err)
	}
	var a whoamiAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("GET /v1/whoami: status %d, body is not JSON: %v\n%s", res.StatusCode, err, body)
	}
	return res.StatusCode, a
}
