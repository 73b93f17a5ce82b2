package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testdb"
	"github.com/keyward/keyward/web"
)

// TestSampleBehindGateway runs the README's walkthrough: keyward's gateway
// with the sample's scopes file in front of the sample API, a signing
// secret on both sides. The seed's calls pass, a read key cannot write,
// the sample accepts the gateway's signatures (VerifyKeyward, the README's
// snippet) and refuses a request that did not come through the gateway.
func TestSampleBehindGateway(t *testing.T) {
	secret := []byte("sample-secret-0123456789abcdef-0123")
	sample := httptest.NewServer(newAPI(secret, time.Now).routes())
	defer sample.Close()
	sc, err := config.LoadScopes("scopes.yaml")
	if err != nil {
		t.Fatalf("the sample's scopes file: %v", err)
	}
	up, _ := url.Parse(sample.URL)
	ctx := context.Background()
	st, err := store.Open(ctx, testdb.Postgres(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0", SessionSecret: []byte("test-session-secret-0123456789abcdef"),
		KeyPrefix: "kw", LastUsedFlush: 10 * time.Second, CacheTTL: 30 * time.Second, LogFormat: "text",
		Resources: sc.Resources, Routes: sc.Routes, Upstream: up, UpstreamTimeout: 5 * time.Second, GatewaySecret: secret}
	srv, err := web.New(cfg, st, web.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	gw := httptest.NewServer(srv.GatewayHandler())
	defer gw.Close()
	_, team, err := st.Setup(ctx, "owner@example.com", "not-a-real-hash", "Acme", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	key := func(set model.PermissionSet, scopes ...string) string {
		raw, _ := keys.Generate("kw", "live")
		k := model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: team.ID, Name: "sample", Environment: "live",
			KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), PermissionSet: set, Scopes: append([]string{}, scopes...)}
		if err := st.CreateKey(ctx, &k, model.Actor{Label: "test"}); err != nil {
			t.Fatal(err)
		}
		return raw
	}
	readAll, invoicesWrite := key(model.PermReadAll), key(model.PermRestricted, "invoices:write")
	call := func(base, method, path string, h http.Header, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		for k, v := range h {
			req.Header[k] = v
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var out map[string]any
		_ = json.Unmarshal(b, &out)
		return res.StatusCode, out
	}
	if code, out := call(gw.URL, "GET", "/v1/invoices", http.Header{"X-Api-Key": {readAll}}, ""); code != 200 ||
		out["caller"].(map[string]any)["scopes"] != "*:read" {
		t.Fatalf("GET /v1/invoices with X-API-Key: %d %v", code, out)
	}
	if code, out := call(gw.URL, "GET", "/v1/customers/cus_123", http.Header{"Authorization": {"Bearer " + readAll}}, ""); code != 200 ||
		out["data"].(map[string]any)["name"] != "Ada Lovelace" {
		t.Fatalf("GET /v1/customers/cus_123 with Bearer: %d %v", code, out)
	}
	if code, _ := call(gw.URL, "POST", "/v1/invoices", http.Header{"X-Api-Key": {readAll}}, `{"customer":"cus_123","amount":1000}`); code != 403 {
		t.Fatalf("a read key's POST: %d", code)
	}
	if code, out := call(gw.URL, "POST", "/v1/invoices", http.Header{"X-Api-Key": {invoicesWrite}}, `{"customer":"cus_123","amount":1000}`); code != 201 {
		t.Fatalf("an invoices:write key's POST: %d %v", code, out)
	}
	if code, _ := call(gw.URL, "GET", "/v1/customers", http.Header{"X-Api-Key": {invoicesWrite}}, ""); code != 403 {
		t.Fatalf("an invoices key on customers: %d", code)
	}
	if code, _ := call(gw.URL, "GET", "/v1/status", nil, ""); code != 200 {
		t.Fatalf("the public status: %d", code)
	}
	// Straight to the sample with forged identity headers: refused.
	forged := http.Header{"X-Keyward-Key-Id": {"key_forged"}, "X-Keyward-Team-Id": {"1"}, "X-Keyward-Signature": {"t=" + time.Now().Format("20060102") + ",v1=00"}}
	if code, _ := call(sample.URL, "DELETE", "/v1/invoices/inv_1", forged, ""); code != 401 {
		t.Fatalf("a forged identity straight to the sample: %d, want 401", code)
	}
}

// TestVerifyKeyward: the README's snippet accepts a fresh signature over
// the request and refuses a stale one, one from the future, another
// secret, another path, another method and another key.
func TestVerifyKeyward(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1_800_000_000, 0)
	sign := func(ts int64, method, path, key, team string, secret []byte) string {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(strconv.FormatInt(ts, 10) + "." + method + "." + path + "." + key + "." + team))
		return "t=" + strconv.FormatInt(ts, 10) + ",v1=" + hex.EncodeToString(m.Sum(nil))
	}
	req := func(method, path, sig string) *http.Request {
		r := httptest.NewRequest(method, path, nil)
		r.Header.Set("X-Keyward-Key-Id", "key_1")
		r.Header.Set("X-Keyward-Team-Id", "7")
		r.Header.Set("X-Keyward-Signature", sig)
		return r
	}
	good := sign(now.Unix(), "GET", "/v1/invoices/inv%201", "key_1", "7", secret)
	if err := VerifyKeyward(req("GET", "/v1/invoices/inv%201", good), secret, now, 5*time.Minute); err != nil {
		t.Fatalf("a good signature: %v", err)
	}
	for name, r := range map[string]*http.Request{
		"stale":        req("GET", "/v1/invoices/inv%201", sign(now.Unix()-301, "GET", "/v1/invoices/inv%201", "key_1", "7", secret)),
		"future":       req("GET", "/v1/invoices/inv%201", sign(now.Unix()+301, "GET", "/v1/invoices/inv%201", "key_1", "7", secret)),
		"other secret": req("GET", "/v1/invoices/inv%201", sign(now.Unix(), "GET", "/v1/invoices/inv%201", "key_1", "7", []byte("x"))),
		"other path":   req("GET", "/v1/invoices/inv_2", good),
		"other method": req("DELETE", "/v1/invoices/inv%201", good),
		"malformed":    req("GET", "/v1/invoices/inv%201", "v1=abc"),
		"no signature": req("GET", "/v1/invoices/inv%201", ""),
	} {
		if err := VerifyKeyward(r, secret, now, 5*time.Minute); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	other := req("GET", "/v1/invoices/inv%201", good)
	other.Header.Set("X-Keyward-Key-Id", "key_2")
	if err := VerifyKeyward(other, secret, now, 5*time.Minute); err == nil {
		t.Error("another key id: accepted")
	}
}
