package web

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
)

// keyIn creates a key of the team in env (live or test) through the store.
func (a *apiApp) keyIn(t testing.TB, env string, exp *time.Time, set model.PermissionSet, scopes ...string) (model.APIKey, string) {
	t.Helper()
	raw, err := keys.Generate("kw", env)
	if err != nil {
		t.Fatal(err)
	}
	if scopes == nil {
		scopes = []string{}
	}
	k := model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: a.team.ID, Name: env + " " + string(set),
		Environment: env, KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), PermissionSet: set, Scopes: scopes, ExpiresAt: exp}
	if err := a.store.CreateKey(context.Background(), &k, model.Actor{Label: "test"}); err != nil {
		t.Fatalf("create key: %v", err)
	}
	return k, raw
}

// unchangedKey fails t unless the key is as it was (name, permission,
// expiry, not revoked, not deleted).
func (a *apiApp) unchangedKey(t testing.TB, k model.APIKey, what string) {
	t.Helper()
	got, err := a.store.FindKeyByID(context.Background(), a.team.ID, k.PublicID)
	if err != nil {
		t.Fatalf("%s: the key is gone: %v", what, err)
	}
	if got.Name != k.Name || got.PermissionSet != k.PermissionSet || got.RevokedAt != nil ||
		(got.ExpiresAt == nil) != (k.ExpiresAt == nil) || strings.Join(got.Scopes, ",") != strings.Join(k.Scopes, ",") {
		t.Fatalf("%s changed the key: %+v, was %+v", what, got, k)
	}
}

// A test key may only create and manage test keys (DESIGN.md, Permissions).
func TestTestKeysManageOnlyTestKeys(t *testing.T) {
	app := newAPIApp(t)
	_, testKey := app.keyIn(t, model.EnvTest, nil, model.PermWriteAll)
	h := bearer(testKey)
	live, _ := app.keyIn(t, model.EnvLive, nil, model.PermReadAll)
	other, _ := app.keyIn(t, model.EnvTest, nil, model.PermReadAll)

	// Creating a live key, by name or by leaving the environment out: 403.
	for _, body := range []string{
		`{"name":"live one","environment":"live","permission":"write_all"}`,
		`{"name":"live one","permission":"read_all"}`,
	} {
		e := app.call(t, http.MethodPost, "/v1/api-keys", h, body).wantError(t, http.StatusForbidden, "forbidden")
		if !strings.Contains(e.Error.Message, "test key") {
			t.Fatalf("%s: message %q does not say why", body, e.Error.Message)
		}
	}
	var page apiList[apiKeyJSON]
	app.call(t, http.MethodGet, "/v1/api-keys?environment=live", bearer(testKey), nil).decode(t, &page)
	for _, k := range page.Data {
		if k.Name == "live one" {
			t.Fatal("a test key created a live key")
		}
	}

	// Editing, revoking and deleting a live key: 403, and nothing changes.
	app.call(t, http.MethodPatch, "/v1/api-keys/"+live.PublicID, h, `{"name":"taken"}`).wantError(t, http.StatusForbidden, "forbidden")
	app.call(t, http.MethodPatch, "/v1/api-keys/"+live.PublicID, h, `{"expires_at":null}`).wantError(t, http.StatusForbidden, "forbidden")
	app.call(t, http.MethodPost, "/v1/api-keys/"+live.PublicID+"/revoke", h, nil).wantError(t, http.StatusForbidden, "forbidden")
	app.call(t, http.MethodDelete, "/v1/api-keys/"+live.PublicID, h, nil).wantError(t, http.StatusForbidden, "forbidden")
	app.unchangedKey(t, live, "a test key acting on a live key")
	// Reading live keys is not managing them.
	app.call(t, http.MethodGet, "/v1/api-keys/"+live.PublicID, h, nil).wantStatus(t, http.StatusOK)

	// Test keys it may create and manage.
	var made apiKeyCreatedJSON
	app.call(t, http.MethodPost, "/v1/api-keys", h, `{"name":"test one","environment":"test","permission":"write_all"}`).decode(t, &made)
	if made.Environment != model.EnvTest || !strings.HasPrefix(made.Key, "kw_test_") {
		t.Fatalf("created %+v", made.apiKeyJSON)
	}
	app.call(t, http.MethodPatch, "/v1/api-keys/"+other.PublicID, h, `{"name":"renamed"}`).wantStatus(t, http.StatusOK)
	app.call(t, http.MethodPost, "/v1/api-keys/"+other.PublicID+"/revoke", h, nil).wantStatus(t, http.StatusOK)
	app.call(t, http.MethodDelete, "/v1/api-keys/"+made.ID, h, nil).wantStatus(t, http.StatusNoContent)

	// A live key manages both.
	_, liveWriter := app.keyIn(t, model.EnvLive, nil, model.PermWriteAll)
	testTarget, _ := app.keyIn(t, model.EnvTest, nil, model.PermReadAll)
	app.call(t, http.MethodPatch, "/v1/api-keys/"+testTarget.PublicID, bearer(liveWriter), `{"name":"by live"}`).wantStatus(t, http.StatusOK)
	app.call(t, http.MethodPatch, "/v1/api-keys/"+live.PublicID, bearer(liveWriter), `{"name":"by live"}`).wantStatus(t, http.StatusOK)
	app.call(t, http.MethodPost, "/v1/api-keys", bearer(liveWriter), `{"name":"t","environment":"test","permission":"read_all"}`).wantStatus(t, http.StatusCreated)
}

// A key may only change, revoke or delete keys whose permissions its own
// cover: a key with only api_keys:write can't rename, narrow, revoke, delete
// or revive (remove the expiry of) an expired write_all key.
func TestNarrowKeyCannotActOnWiderKeys(t *testing.T) {
	app := newAPIApp(t)
	_, narrow := app.key(t, app.team.ID, model.PermRestricted, "api_keys:write")
	h := bearer(narrow)
	past := app.clock.Now().Add(-time.Hour)
	wide, _ := app.keyExpiring(t, app.team.ID, &past, model.PermWriteAll)
	readAll, _ := app.key(t, app.team.ID, model.PermReadAll)
	invoices, _ := app.key(t, app.team.ID, model.PermRestricted, "invoices:read")

	for _, target := range []model.APIKey{wide, readAll, invoices} {
		for _, tc := range []struct{ method, path, body string }{
			{http.MethodPatch, "", `{"name":"mine now"}`},
			{http.MethodPatch, "", `{"permission":"restricted","scopes":["api_keys:read"]}`},
			{http.MethodPatch, "", `{"expires_at":null}`},
			{http.MethodPatch, "", `{"expires_at":"2099-01-01T00:00:00Z"}`},
			{http.MethodPost, "/revoke", ""},
			{http.MethodDelete, "", ""},
		} {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			e := app.call(t, tc.method, "/v1/api-keys/"+target.PublicID+tc.path, h, body).wantError(t, http.StatusForbidden, "forbidden")
			if !strings.Contains(e.Error.Message, "cover") {
				t.Fatalf("%s %s: message %q does not say why", tc.method, tc.body, e.Error.Message)
			}
			app.unchangedKey(t, target, tc.method+" "+tc.path+" "+tc.body+" by a narrower key")
		}
	}
	// The expired write_all key stays expired: nothing revived it.
	app.call(t, http.MethodGet, "/v1/api-keys/"+wide.PublicID, h, nil).wantStatus(t, http.StatusOK)
	if got, _ := app.store.FindKeyByID(context.Background(), app.team.ID, wide.PublicID); got.Status(app.clock.Now()) != model.StatusExpired {
		t.Fatalf("the wide key is %s", got.Status(app.clock.Now()))
	}

	// Keys within its own permission it manages.
	peer, _ := app.key(t, app.team.ID, model.PermRestricted, "api_keys:read")
	app.call(t, http.MethodPatch, "/v1/api-keys/"+peer.PublicID, h, `{"name":"renamed"}`).wantStatus(t, http.StatusOK)
	app.call(t, http.MethodPost, "/v1/api-keys/"+peer.PublicID+"/revoke", h, nil).wantStatus(t, http.StatusOK)
	app.call(t, http.MethodDelete, "/v1/api-keys/"+peer.PublicID, h, nil).wantStatus(t, http.StatusNoContent)

	// People are limited by their role, not by a key's permission: an owner
	// edits the wide key in the dashboard.
	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)
	cl.postForm(t, "/settings/api-keys/"+wide.PublicID+"/revoke", nil).wantRedirect(t, "/settings/api-keys")
}

// The rule itself, for every pairing of environments and permissions.
func TestActorMayManage(t *testing.T) {
	key := func(env string, set model.PermissionSet, scopes ...string) model.APIKey {
		return model.APIKey{Environment: env, PermissionSet: set, Scopes: scopes}
	}
	actor := func(k model.APIKey) model.Actor { return model.KeyActor(k, "203.0.113.1") }
	liveWrite := actor(key(model.EnvLive, model.PermWriteAll))
	testWrite := actor(key(model.EnvTest, model.PermWriteAll))
	narrow := actor(key(model.EnvLive, model.PermRestricted, "api_keys:write"))
	for _, tc := range []struct {
		name   string
		actor  model.Actor
		target model.APIKey
		ok     bool
	}{
		{"live write_all on live write_all", liveWrite, key(model.EnvLive, model.PermWriteAll), true},
		{"live write_all on test", liveWrite, key(model.EnvTest, model.PermReadAll), true},
		{"test write_all on test write_all", testWrite, key(model.EnvTest, model.PermWriteAll), true},
		{"test write_all on live read", testWrite, key(model.EnvLive, model.PermRestricted, "invoices:read"), false},
		{"narrow on write_all", narrow, key(model.EnvLive, model.PermWriteAll), false},
		{"narrow on read_all", narrow, key(model.EnvLive, model.PermReadAll), false},
		{"narrow on another resource", narrow, key(model.EnvLive, model.PermRestricted, "members:read"), false},
		{"narrow on api_keys:read", narrow, key(model.EnvLive, model.PermRestricted, "api_keys:read"), true},
		{"a person on anything", model.Actor{Label: "owner@example.com"}, key(model.EnvLive, model.PermWriteAll), true},
	} {
		err := tc.actor.MayManage(tc.target)
		if (err == nil) != tc.ok || err != nil && model.ErrorCode(err) != model.EFORBIDDEN {
			t.Errorf("%s: %v", tc.name, err)
		}
		if err := tc.actor.MayCreate(tc.target); (err == nil) != tc.ok {
			t.Errorf("%s (create): %v", tc.name, err)
		}
	}
}
