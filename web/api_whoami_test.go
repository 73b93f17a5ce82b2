package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
)

// whoami's hand-written JSON is byte for byte what encoding/json makes of
// whoamiJSON, for names that need escaping, every permission set, with and
// without an expiry.
func TestWhoamiEncoding(t *testing.T) {
	app := newAPIApp(t)
	exp := time.Date(2031, 2, 3, 4, 5, 6, 789000000, time.UTC)
	names := []string{
		"plain", `quote " and \ backslash`, "<script>alert(1)</script> & co", "tab\there\nnewline\u0001",
		"ünïcödé 🔑 名前", "line\u2028sep\u2029",
	}
	for i, name := range names {
		raw, err := keys.Generate("kw", "live")
		if err != nil {
			t.Fatal(err)
		}
		k := model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: app.team.ID, Name: name, Environment: "live",
			KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), PermissionSet: model.PermReadAll, Scopes: []string{}}
		switch i % 3 {
		case 1:
			k.PermissionSet, k.Scopes = model.PermRestricted, []string{"api_keys:read", "members:read"}
			k.ExpiresAt = &exp
		case 2:
			k.PermissionSet = model.PermWriteAll
		}
		if err := app.store.CreateKey(context.Background(), &k, model.Actor{Label: "test"}); err != nil {
			t.Fatalf("create %q: %v", name, err)
		}
		v, err := app.srv.verifier.Check(context.Background(), raw)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(whoamiJSON{
			ID: v.PublicID(), Name: v.Name(), TeamID: v.TeamID(), Environment: v.Environment(),
			Hint: v.Hint(), Permission: string(v.Permission().Set), Scopes: v.Scopes(), ExpiresAt: v.ExpiresAt(),
		}); err != nil {
			t.Fatal(err)
		}
		if got := appendWhoami(nil, v); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("name %q:\n got %s\nwant %s", name, got, want.Bytes())
		}
		res := app.call(t, http.MethodGet, "/v1/whoami", xAPIKey(raw), nil)
		res.wantStatus(t, http.StatusOK)
		if !bytes.Equal(res.Body, want.Bytes()) {
			t.Errorf("GET /v1/whoami for %q:\n got %s\nwant %s", name, res.Body, want.Bytes())
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "a", "\xff", "bad utf-8 \xff\xfe end", "\u2028\u2029", "\x00\x1f\x7f", `"\`, "<>&", "é\xc3"} {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}
