package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/testdb"
)

// runEnv runs keyward with ctx and the given variables.
func runEnv(ctx context.Context, vars map[string]string, args ...string) (string, string, error) {
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }}
	err := run(ctx, e, args)
	return out.String(), errb.String(), err
}

func TestGatewayStartupErrorsNameTheVariable(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		vars map[string]string
		cmd  string
		want string
	}{
		{map[string]string{}, "gateway", "KEYWARD_GATEWAY_ADDR: required by keyward gateway"},
		{map[string]string{"KEYWARD_GATEWAY_ADDR": "127.0.0.1:0"}, "gateway", "KEYWARD_UPSTREAM: required"},
		{map[string]string{"KEYWARD_GATEWAY_ADDR": "127.0.0.1:0", "KEYWARD_UPSTREAM": "localhost:9000"}, "serve", "KEYWARD_UPSTREAM=\"localhost:9000\""},
		{map[string]string{"KEYWARD_GATEWAY_ADDR": "127.0.0.1:0", "KEYWARD_UPSTREAM": "http://a", "KEYWARD_SCOPES_FILE": filepath.Join(dir, "bad.yaml")},
			"gateway", "line 3: route pattern \"v1/x\" must start with /"},
	} {
		os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("resources:\n  - name: invoices\n    routes: [v1/x]\n"), 0o600)
		tc.vars["KEYWARD_DATA_DIR"] = dir
		_, _, err := runEnv(context.Background(), tc.vars, tc.cmd)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: error %v, want one containing %q", tc.cmd, tc.vars, err, tc.want)
		}
	}
}

// TestGatewayCommand: keyward gateway alone, on PostgreSQL with a scopes
// file, forwards a key's allowed call to a real upstream, refuses the
// rest, and stops cleanly on cancel.
func TestGatewayCommand(t *testing.T) {
	dsn := testdb.Postgres(t)
	dir := t.TempDir()
	scopes := filepath.Join(dir, "scopes.yaml")
	os.WriteFile(scopes, []byte("resources:\n  - name: invoices\n    label: Invoices\n    routes: [\"/v1/invoices\", \"/v1/invoices/*\"]\npublic: [\"/healthz\"]\n"), 0o600)
	var seen http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		_, _ = io.WriteString(w, `{"data":[]}`)
	}))
	defer up.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	vars := map[string]string{
		"DATABASE_URL": dsn, "KEYWARD_SESSION_SECRET": "test-session-secret-0123456789abcdef", "KEYWARD_DATA_DIR": dir,
		"KEYWARD_SCOPES_FILE": scopes, "KEYWARD_GATEWAY_ADDR": addr, "KEYWARD_UPSTREAM": up.URL, "KEYWARD_SHUTDOWN_DELAY": "0s",
	}
	ctx := context.Background()
	if _, stderr, err := runEnv(ctx, vars, "users", "create", "--email", "owner@example.com", "--team", "Acme", "--role", "OWNER"); err != nil {
		t.Fatalf("users create: %v\n%s", err, stderr)
	}
	out, stderr, err := runEnv(ctx, vars, "keys", "create", "--team", "Acme", "--name", "billing", "--permission", "restricted", "--scope", "invoices:read")
	if err != nil {
		t.Fatalf("keys create: %v\n%s", err, stderr)
	}
	raw := strings.TrimSpace(out)

	gctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, _, err := runEnv(gctx, vars, "gateway"); done <- err }()
	defer func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("keyward gateway ended with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("keyward gateway did not stop")
		}
	}()
	call := func(method, path string) int {
		req, _ := http.NewRequest(method, "http://"+addr+path, nil)
		req.Header.Set("X-API-Key", raw)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
	deadline := time.Now().Add(30 * time.Second)
	for call(http.MethodGet, "/healthz") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("keyward gateway did not answer within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := call(http.MethodGet, "/v1/invoices"); got != http.StatusOK || seen.Get("X-Keyward-Scopes") != "invoices:read" || seen.Get("X-Api-Key") != "" {
		t.Fatalf("GET /v1/invoices: %d, upstream saw %v", got, seen)
	}
	if got := call(http.MethodPost, "/v1/invoices"); got != http.StatusForbidden {
		t.Fatalf("POST /v1/invoices: %d, want 403", got)
	}
	if got := call(http.MethodGet, "/v1/api-keys"); got != http.StatusNotFound {
		t.Fatalf("keyward's own /v1 through the gateway: %d, want 404", got)
	}
}
