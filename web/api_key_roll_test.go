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

// envKey creates a key of env (live or test) through the store.
func (a *apiApp) envKey(t testing.TB, teamID int64, env string, set model.PermissionSet, scopes ...string) (model.APIKey, string) {
	t.Helper()
	raw, err := keys.Generate("kw", env)
	if err != nil {
		t.Fatal(err)
	}
	if scopes == nil {
		scopes = []string{}
	}
	k := model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: teamID, Name: env + " key", Environment: env,
		KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), PermissionSet: set, Scopes: scopes}
	if err := a.store.CreateKey(context.Background(), &k, model.Actor{Label: "test"}); err != nil {
		t.Fatalf("create key: %v", err)
	}
	return k, raw
}

func TestAPIKeyRoll(t *testing.T) {
	app := newAPIApp(t)
	ctx := context.Background()
	_, admin := app.key(t, app.team.ID, model.PermWriteAll)
	exp := app.clock.Now().Add(30 * 24 * time.Hour)
	old, oldRaw := app.keyExpiring(t, app.team.ID, &exp, model.PermRestricted, "invoices:read", "customers:write")
	h := bearer(admin)
	path := "/v1/api-keys/" + old.PublicID + "/roll"

	// Strict bodies: unknown fields, bad durations, more than 7 days, and
	// no body at all change nothing.
	app.call(t, http.MethodPost, path, h, `{"expire_old_in":"24h","extra":1}`).wantError(t, http.StatusUnprocessableEntity, "invalid_request")
	app.call(t, http.MethodPost, path, h, `{"expire_old_in":"8d"}`).wantError(t, http.StatusUnprocessableEntity, "invalid_request")
	app.call(t, http.MethodPost, path, h, `{"expire_old_in":"169h"}`).wantError(t, http.StatusUnprocessableEntity, "invalid_request")
	app.call(t, http.MethodPost, path, h, `{"expire_old_in":"-1h"}`).wantError(t, http.StatusUnprocessableEntity, "invalid_request")
	app.call(t, http.MethodPost, path, h, `{"expire_old_in":"soon"}`).wantError(t, http.StatusUnprocessableEntity, "invalid_request")
	app.call(t, http.MethodPost, path, h, `{"expire_old_in":"24h"} {}`).wantStatus(t, http.StatusBadRequest)
	if got, _ := app.store.FindKeyByID(ctx, app.team.ID, old.PublicID); got.ReplacedBy != "" || !got.ExpiresAt.Equal(exp) {
		t.Fatalf("a refused roll changed the key: %+v", got)
	}

	app.call(t, http.MethodGet, "/v1/whoami", bearer(oldRaw), nil).wantStatus(t, http.StatusOK) // cached
	res := app.call(t, http.MethodPost, path, h, `{"expire_old_in":"24h"}`)
	res.wantStatus(t, http.StatusCreated)
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("roll answered Cache-Control %q, want no-store", cc)
	}
	var rolled apiKeyRolledJSON
	res.decode(t, &rolled)
	if _, err := keys.Parse(rolled.Key); err != nil || keys.Hash(rolled.Key) == old.KeyHash {
		t.Fatalf("the new key %q is not a fresh valid key: %v", rolled.Key, err)
	}
	if rolled.Name != old.Name || rolled.Permission != "restricted" || strings.Join(rolled.Scopes, ",") != "customers:write,invoices:read" ||
		rolled.Environment != "live" || rolled.RolledFrom == nil || *rolled.RolledFrom != old.PublicID || rolled.ReplacedBy != nil {
		t.Fatalf("the new key does not copy the old one: %+v", rolled.apiKeyJSON)
	}
	// Same lifetime as the old key (30 days), from now.
	if rolled.ExpiresAt == nil || !rolled.ExpiresAt.Equal(app.clock.Now().Add(30*24*time.Hour)) {
		t.Fatalf("new key expires %v, want the old key's 30-day lifetime again", rolled.ExpiresAt)
	}
	end := app.clock.Now().Add(24 * time.Hour)
	if rolled.OldKey.ReplacedBy == nil || *rolled.OldKey.ReplacedBy != rolled.ID || rolled.OldKey.ExpiresAt == nil || !rolled.OldKey.ExpiresAt.Equal(end) {
		t.Fatalf("the old key after the roll: %+v", rolled.OldKey)
	}
	// The raw key is never stored.
	if got, _ := app.store.FindKeyByID(ctx, app.team.ID, rolled.ID); got.KeyHash != keys.Hash(rolled.Key) {
		t.Fatal("the stored new key does not match the key shown")
	}
	// Both keys work within the window; the details show the links.
	app.call(t, http.MethodGet, "/v1/whoami", bearer(rolled.Key), nil).wantStatus(t, http.StatusOK)
	app.call(t, http.MethodGet, "/v1/whoami", bearer(oldRaw), nil).wantStatus(t, http.StatusOK)
	var shown apiKeyJSON
	app.call(t, http.MethodGet, "/v1/api-keys/"+old.PublicID, h, nil).decode(t, &shown)
	if shown.ReplacedBy == nil || *shown.ReplacedBy != rolled.ID {
		t.Fatalf("GET shows replaced_by %v", shown.ReplacedBy)
	}

	// Rolled already: 409 naming the successor.
	e := app.call(t, http.MethodPost, path, h, `{"expire_old_in":"1h"}`).wantError(t, http.StatusConflict, "conflict")
	if !strings.Contains(e.Error.Message, rolled.ID) {
		t.Fatalf("second roll's message %q does not name the successor %s", e.Error.Message, rolled.ID)
	}

	// "0s" ends the old key at once, even while it is cached.
	k2, raw2 := app.key(t, app.team.ID, model.PermReadAll)
	app.call(t, http.MethodGet, "/v1/whoami", bearer(raw2), nil).wantStatus(t, http.StatusOK)
	var r2 apiKeyRolledJSON
	res = app.call(t, http.MethodPost, "/v1/api-keys/"+k2.PublicID+"/roll", h, `{"expire_old_in":"0s","expires_at":null}`)
	res.wantStatus(t, http.StatusCreated)
	res.decode(t, &r2)
	if r2.OldKey.Status != "expired" || r2.ExpiresAt != nil {
		t.Fatalf("roll with 0s: old status %s, new expiry %v", r2.OldKey.Status, r2.ExpiresAt)
	}
	app.call(t, http.MethodGet, "/v1/whoami", bearer(raw2), nil).wantError(t, http.StatusUnauthorized, "invalid_api_key")
	app.call(t, http.MethodGet, "/v1/whoami", bearer(r2.Key), nil).wantStatus(t, http.StatusOK)

	// The default grace is 24 hours; an explicit expiry is the new key's.
	k3, _ := app.key(t, app.team.ID, model.PermReadAll)
	want := app.clock.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	var r3 apiKeyRolledJSON
	res = app.call(t, http.MethodPost, "/v1/api-keys/"+k3.PublicID+"/roll", h, `{"expires_at":"`+want.Format(time.RFC3339)+`"}`)
	res.wantStatus(t, http.StatusCreated)
	res.decode(t, &r3)
	if !r3.OldKey.ExpiresAt.Equal(app.clock.Now().Add(24*time.Hour)) || r3.ExpiresAt == nil || !r3.ExpiresAt.Equal(want) {
		t.Fatalf("defaults: old expires %v (want in 24h), new %v (want %v)", r3.OldKey.ExpiresAt, r3.ExpiresAt, want)
	}

	// A revoked key cannot be rolled.
	k4, _ := app.key(t, app.team.ID, model.PermReadAll)
	app.call(t, http.MethodPost, "/v1/api-keys/"+k4.PublicID+"/revoke", h, nil).wantStatus(t, http.StatusOK)
	app.call(t, http.MethodPost, "/v1/api-keys/"+k4.PublicID+"/roll", h, `{"expire_old_in":"1h"}`).wantError(t, http.StatusConflict, "conflict")

	// Another team's key is not found and not changed.
	other := app.createTeam(t, "Other")
	theirs, _ := app.key(t, other.ID, model.PermReadAll)
	app.call(t, http.MethodPost, "/v1/api-keys/"+theirs.PublicID+"/roll", h, `{"expire_old_in":"1h"}`).wantError(t, http.StatusNotFound, "not_found")
	if got, _ := app.store.FindKeyByID(ctx, other.ID, theirs.PublicID); got.ReplacedBy != "" || got.ExpiresAt != nil {
		t.Fatalf("another team's key changed: %+v", got)
	}

	// The audit log has api_key.rolled on the old key.
	evs, err := app.store.FindKeyAuditEvents(ctx, app.team.ID, old.PublicID, 10)
	if err != nil || len(evs) == 0 || evs[0].Action != model.ActionKeyRolled || evs[0].ActorKeyID == nil {
		t.Fatalf("audit trail of the old key: %+v %v", evs, err)
	}
}

// TestAPIKeyRollNoEscalation: a key may only roll keys its permission
// covers, and a test key only test keys.
func TestAPIKeyRollNoEscalation(t *testing.T) {
	app := newAPIApp(t)
	ctx := context.Background()
	_, narrow := app.key(t, app.team.ID, model.PermRestricted, "api_keys:write")
	wide, _ := app.key(t, app.team.ID, model.PermWriteAll)
	reader, _ := app.key(t, app.team.ID, model.PermReadAll)
	body := `{"expire_old_in":"1h"}`
	for _, k := range []model.APIKey{wide, reader} {
		app.call(t, http.MethodPost, "/v1/api-keys/"+k.PublicID+"/roll", bearer(narrow), body).wantError(t, http.StatusForbidden, "forbidden")
		if got, _ := app.store.FindKeyByID(ctx, app.team.ID, k.PublicID); got.ReplacedBy != "" || got.ExpiresAt != nil {
			t.Fatalf("a refused roll changed %s: %+v", k.PermissionSet, got)
		}
	}
	covered, _ := app.key(t, app.team.ID, model.PermRestricted, "api_keys:read")
	app.call(t, http.MethodPost, "/v1/api-keys/"+covered.PublicID+"/roll", bearer(narrow), body).wantStatus(t, http.StatusCreated)

	// A test key may roll test keys only.
	_, testWriter := app.envKey(t, app.team.ID, model.EnvTest, model.PermWriteAll)
	live, _ := app.envKey(t, app.team.ID, model.EnvLive, model.PermReadAll)
	testKey, _ := app.envKey(t, app.team.ID, model.EnvTest, model.PermReadAll)
	app.call(t, http.MethodPost, "/v1/api-keys/"+live.PublicID+"/roll", bearer(testWriter), body).wantError(t, http.StatusForbidden, "forbidden")
	var r apiKeyRolledJSON
	res := app.call(t, http.MethodPost, "/v1/api-keys/"+testKey.PublicID+"/roll", bearer(testWriter), body)
	res.wantStatus(t, http.StatusCreated)
	res.decode(t, &r)
	if r.Environment != model.EnvTest || !strings.HasPrefix(r.Key, "kw_test_") {
		t.Fatalf("a rolled test key came back as %s %q", r.Environment, r.Key[:8])
	}
}

// TestAPIKeyRollLifetimePolicy: under a maximum key lifetime a roll whose
// new key would not expire in time is refused naming the policy, and an
// expiry within it is accepted.
func TestAPIKeyRollLifetimePolicy(t *testing.T) {
	app := newAPIApp(t)
	ctx := context.Background()
	_, admin := app.key(t, app.team.ID, model.PermWriteAll)
	old, _ := app.key(t, app.team.ID, model.PermReadAll)
	if _, err := app.store.UpdateTeamSettings(ctx, app.team.ID, model.TeamSettings{MaxKeyLifetimeDays: 30}, model.Actor{Label: "test"}); err != nil {
		t.Fatal(err)
	}
	path := "/v1/api-keys/" + old.PublicID + "/roll"
	e := app.call(t, http.MethodPost, path, bearer(admin), `{"expire_old_in":"1h"}`).wantError(t, http.StatusUnprocessableEntity, "invalid_request")
	if !strings.Contains(e.Error.Message, "maximum key lifetime") || !strings.Contains(e.Error.Message, "30 days") {
		t.Fatalf("refusal %q does not name the policy", e.Error.Message)
	}
	// The same for a create.
	e = app.call(t, http.MethodPost, "/v1/api-keys", bearer(admin), `{"name":"x","permission":"read_all"}`).wantError(t, http.StatusUnprocessableEntity, "invalid_request")
	if !strings.Contains(e.Error.Message, "maximum key lifetime") {
		t.Fatalf("create refusal %q does not name the policy", e.Error.Message)
	}
	in := app.clock.Now().Add(29 * 24 * time.Hour).UTC().Format(time.RFC3339)
	app.call(t, http.MethodPost, path, bearer(admin), `{"expire_old_in":"1h","expires_at":"`+in+`"}`).wantStatus(t, http.StatusCreated)
	app.call(t, http.MethodPost, "/v1/api-keys", bearer(admin), `{"name":"x","permission":"read_all","expires_at":"`+in+`"}`).wantStatus(t, http.StatusCreated)
}

// withCacheTTL sets how long verified keys stay cached (by the app's clock).
func withCacheTTL(d time.Duration) apiAppOption {
	return func(s *apiAppSettings) { s.cacheTTL = d }
}

// TestAPIRolledKeyEndsExactlyAfterWindowOnTwoInstances: a key rolled on A
// with a one-hour window works on A and B (both cached) until the window
// ends, by the shared injected clock, and is refused by both from that
// instant on. The caches outlive the window (3 hours), so B can only know
// the new expiry from the roll's NOTIFY.
func TestAPIRolledKeyEndsExactlyAfterWindowOnTwoInstances(t *testing.T) {
	a := newAPIApp(t, withListener(), withCacheTTL(3*time.Hour))
	b := newAPIApp(t, onDatabase(a.dsn, a.clock), withListener(), withCacheTTL(3*time.Hour))
	_, admin := a.key(t, a.team.ID, model.PermWriteAll)
	old, oldRaw := a.key(t, a.team.ID, model.PermReadAll)
	for _, app := range []*apiApp{a, b} {
		app.call(t, http.MethodGet, "/v1/whoami", bearer(oldRaw), nil).wantStatus(t, http.StatusOK) // cached
	}
	var r apiKeyRolledJSON
	res := a.call(t, http.MethodPost, "/v1/api-keys/"+old.PublicID+"/roll", bearer(admin), `{"expire_old_in":"1h"}`)
	res.wantStatus(t, http.StatusCreated)
	res.decode(t, &r)
	end := a.clock.Now().Add(time.Hour)

	// B learns of the new expiry through NOTIFY: wait until its cache holds
	// it, by asking at the end of the window (refused once B knows).
	a.clock.Set(end)
	start := time.Now()
	for b.call(t, http.MethodGet, "/v1/whoami", bearer(oldRaw), nil).StatusCode != http.StatusUnauthorized {
		if time.Since(start) > time.Second {
			t.Fatal("instance B does not know the old key's new expiry a second after the roll on A")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// One nanosecond before the end, both accept the old key; at the end
	// and after, both refuse it; the new key works throughout.
	a.clock.Set(end.Add(-time.Nanosecond))
	for name, app := range map[string]*apiApp{"A": a, "B": b} {
		if res := app.call(t, http.MethodGet, "/v1/whoami", bearer(oldRaw), nil); res.StatusCode != http.StatusOK {
			t.Fatalf("instance %s refused the old key just before its window ended: %d", name, res.StatusCode)
		}
	}
	for _, at := range []time.Time{end, end.Add(time.Second)} {
		a.clock.Set(at)
		for name, app := range map[string]*apiApp{"A": a, "B": b} {
			app.call(t, http.MethodGet, "/v1/whoami", bearer(oldRaw), nil).wantError(t, http.StatusUnauthorized, "invalid_api_key")
			if res := app.call(t, http.MethodGet, "/v1/whoami", bearer(r.Key), nil); res.StatusCode != http.StatusOK {
				t.Fatalf("instance %s refused the new key: %d", name, res.StatusCode)
			}
		}
	}
}

// TestAPIRollNowOnTwoInstances: a key cached on B and rolled on A with
// "0s" is refused by B within a second, with no clock moving.
func TestAPIRollNowOnTwoInstances(t *testing.T) {
	a := newAPIApp(t, withListener(), withCacheTTL(3*time.Hour))
	b := newAPIApp(t, onDatabase(a.dsn, a.clock), withListener(), withCacheTTL(3*time.Hour))
	_, admin := a.key(t, a.team.ID, model.PermWriteAll)
	old, oldRaw := a.key(t, a.team.ID, model.PermReadAll)
	b.call(t, http.MethodGet, "/v1/whoami", bearer(oldRaw), nil).wantStatus(t, http.StatusOK) // cached on B
	a.call(t, http.MethodPost, "/v1/api-keys/"+old.PublicID+"/roll", bearer(admin), `{"expire_old_in":"0s"}`).wantStatus(t, http.StatusCreated)
	start := time.Now()
	for b.call(t, http.MethodGet, "/v1/whoami", bearer(oldRaw), nil).StatusCode != http.StatusUnauthorized {
		if time.Since(start) > time.Second {
			t.Fatal("instance B still accepts a key rolled with no grace on A a second later")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
