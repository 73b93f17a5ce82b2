package web

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
)

func TestAPIKeyLifecycle(t *testing.T) {
	app := newAPIApp(t)
	admin, raw := app.key(t, app.team.ID, model.PermWriteAll)
	h := bearer(raw)

	// Create: 201, the raw key once, uncacheable, never the hash.
	exp := app.clock.Now().Add(30 * 24 * time.Hour)
	res := app.call(t, http.MethodPost, "/v1/api-keys", h, map[string]any{
		"name": "  Billing sync  ", "environment": "test", "permission": "restricted",
		"scopes": []string{"api_keys:read", "members:read"}, "expires_at": exp,
	})
	res.wantStatus(t, http.StatusCreated)
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("create answered Cache-Control %q, want no-store", cc)
	}
	var created apiKeyCreatedJSON
	res.decode(t, &created)
	if created.Name != "Billing sync" || created.Environment != "test" || created.Status != "active" ||
		strings.Join(created.Scopes, ",") != "api_keys:read,members:read" || !created.ExpiresAt.Equal(exp) ||
		created.TeamID != app.team.ID || !strings.HasPrefix(created.Key, "kw_test_") {
		t.Fatalf("created %+v", created)
	}
	if _, err := keys.Parse(created.Key); err != nil {
		t.Fatalf("the created key does not parse: %v", err)
	}
	if strings.Contains(string(res.Body), keys.Hash(created.Key)) {
		t.Fatal("the create response contains the key's hash")
	}
	// The new key works at once, and whoami names it.
	var who whoamiJSON
	wres := app.call(t, http.MethodGet, "/v1/whoami", xAPIKey(created.Key), nil)
	wres.wantStatus(t, http.StatusOK)
	wres.decode(t, &who)
	if who.ID != created.ID || who.Name != "Billing sync" || who.Permission != "restricted" || len(who.Scopes) != 2 {
		t.Fatalf("whoami %+v", who)
	}

	// The change is audited with the key as actor.
	evs, err := app.store.FindAuditEvents(context.Background(), store.AuditFilter{TeamID: app.team.ID, TargetID: created.ID})
	if err != nil || len(evs) != 1 || evs[0].Action != model.ActionKeyCreated || evs[0].ActorKeyID == nil || *evs[0].ActorKeyID != admin.ID {
		t.Fatalf("audit of the create: %+v %v", evs, err)
	}

	// Get; list; a GET never carries the raw key or the hash.
	res = app.call(t, http.MethodGet, "/v1/api-keys/"+created.ID, h, nil)
	res.wantStatus(t, http.StatusOK)
	if strings.Contains(string(res.Body), created.Key) || strings.Contains(string(res.Body), keys.Hash(created.Key)) {
		t.Fatal("GET shows the key or its hash")
	}

	// Patch: rename, clear the expiry, change scopes.
	res = app.call(t, http.MethodPatch, "/v1/api-keys/"+created.ID, h, `{"name":"Billing","expires_at":null,"scopes":["audit_log:read"]}`)
	res.wantStatus(t, http.StatusOK)
	var patched apiKeyJSON
	res.decode(t, &patched)
	if patched.Name != "Billing" || patched.ExpiresAt != nil || strings.Join(patched.Scopes, ",") != "audit_log:read" || patched.Permission != "restricted" {
		t.Fatalf("patched %+v", patched)
	}
	// Absent fields stay; a past expiry and unknown fields are refused.
	res = app.call(t, http.MethodPatch, "/v1/api-keys/"+created.ID, h, `{}`)
	res.wantStatus(t, http.StatusOK)
	res.decode(t, &patched)
	if patched.Name != "Billing" {
		t.Fatalf("an empty patch changed the key: %+v", patched)
	}
	app.call(t, http.MethodPatch, "/v1/api-keys/"+created.ID, h, map[string]any{"expires_at": app.clock.Now().Add(-time.Hour)}).
		wantError(t, http.StatusUnprocessableEntity, "invalid_request")
	app.call(t, http.MethodPatch, "/v1/api-keys/"+created.ID, h, `{"nmae":"typo"}`).wantError(t, http.StatusUnprocessableEntity, "invalid_request")
	app.call(t, http.MethodPatch, "/v1/api-keys/"+created.ID, h, `{"name": 5}`).wantError(t, http.StatusBadRequest, "bad_request")
	app.call(t, http.MethodPatch, "/v1/api-keys/"+created.ID, h, `{"name":"x"} {}`).wantError(t, http.StatusBadRequest, "bad_request")

	// Validation on create.
	for _, body := range []string{
		`{"name":"","permission":"read_all"}`,
		`{"name":"` + strings.Repeat("é", 101) + `","permission":"read_all"}`,
		`{"name":"x","permission":"everything"}`,
		`{"name":"x","permission":"restricted"}`,
		`{"name":"x","permission":"restricted","scopes":["nosuch:read"]}`,
		`{"name":"x","permission":"read_all","environment":"prod"}`,
	} {
		app.call(t, http.MethodPost, "/v1/api-keys", h, body).wantError(t, http.StatusUnprocessableEntity, "invalid_request")
	}
	app.call(t, http.MethodPost, "/v1/api-keys", h, `not json`).wantError(t, http.StatusBadRequest, "bad_request")
	app.call(t, http.MethodPost, "/v1/api-keys", h, `{"name":"x","permission":"read_all","expires_at":"tomorrow"}`).
		wantError(t, http.StatusBadRequest, "bad_request")

	// Without expires_at a key expires in 90 days, like the dashboard's
	// default; null or "never" asks for one that never expires.
	for body, want := range map[string]*time.Time{
		`{"name":"default","permission":"read_all"}`:                    ptrTime(app.clock.Now().UTC().Add(90 * 24 * time.Hour)),
		`{"name":"never","permission":"read_all","expires_at":"never"}`: nil,
		`{"name":"null","permission":"read_all","expires_at":null}`:     nil,
	} {
		res := app.call(t, http.MethodPost, "/v1/api-keys", h, body)
		res.wantStatus(t, http.StatusCreated)
		var k apiKeyCreatedJSON
		res.decode(t, &k)
		if (want == nil) != (k.ExpiresAt == nil) || want != nil && !k.ExpiresAt.Equal(*want) {
			t.Errorf("%s: expires_at %v, want %v", body, k.ExpiresAt, want)
		}
	}

	// Revoke: refused by the very next call; revoking again is a conflict,
	// and a revoked key cannot be edited.
	res = app.call(t, http.MethodPost, "/v1/api-keys/"+created.ID+"/revoke", h, nil)
	res.wantStatus(t, http.StatusOK)
	var rev apiKeyJSON
	res.decode(t, &rev)
	if rev.Status != "revoked" || rev.RevokedAt == nil {
		t.Fatalf("revoked %+v", rev)
	}
	app.call(t, http.MethodGet, "/v1/whoami", xAPIKey(created.Key), nil).wantError(t, http.StatusUnauthorized, "invalid_api_key")
	app.call(t, http.MethodPost, "/v1/api-keys/"+created.ID+"/revoke", h, nil).wantError(t, http.StatusConflict, "conflict")
	app.call(t, http.MethodPatch, "/v1/api-keys/"+created.ID, h, `{"name":"again"}`).wantError(t, http.StatusConflict, "conflict")

	// Delete: 204, then 404.
	res = app.call(t, http.MethodDelete, "/v1/api-keys/"+created.ID, h, nil)
	res.wantStatus(t, http.StatusNoContent)
	app.call(t, http.MethodGet, "/v1/api-keys/"+created.ID, h, nil).wantError(t, http.StatusNotFound, "not_found")

	evs, _ = app.store.FindAuditEvents(context.Background(), store.AuditFilter{TeamID: app.team.ID, TargetID: created.ID})
	var actions []string
	for _, e := range evs {
		actions = append(actions, e.Action)
		if e.ActorKeyID == nil || *e.ActorKeyID != admin.ID || e.IP == "" {
			t.Fatalf("event %s has actor %v from %q, want the key %d", e.Action, e.ActorKeyID, e.IP, admin.ID)
		}
	}
	if got := strings.Join(actions, " "); got != "api_key.deleted api_key.revoked api_key.updated api_key.created" {
		t.Fatalf("audit trail %s", got)
	}
}

func TestAPIKeyListPagesAndFilters(t *testing.T) {
	app := newAPIApp(t)
	_, raw := app.key(t, app.team.ID, model.PermReadAll)
	for range 4 {
		app.clock.Advance(time.Second)
		app.key(t, app.team.ID, model.PermRestricted, "members:read")
	}
	h := bearer(raw)
	var ids []string
	path := "/v1/api-keys?limit=2"
	for pages := 0; ; pages++ {
		res := app.call(t, http.MethodGet, path, h, nil)
		res.wantStatus(t, http.StatusOK)
		var page apiList[apiKeyJSON]
		res.decode(t, &page)
		for _, k := range page.Data {
			ids = append(ids, k.ID)
		}
		if page.NextCursor == nil {
			break
		}
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		path = "/v1/api-keys?limit=2&cursor=" + *page.NextCursor
	}
	if len(ids) != 5 {
		t.Fatalf("listed %d keys over the pages, want 5: %v", len(ids), ids)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("key %s listed twice", id)
		}
		seen[id] = true
	}
	var page apiList[apiKeyJSON]
	app.call(t, http.MethodGet, "/v1/api-keys?status=revoked", h, nil).decode(t, &page)
	if len(page.Data) != 0 {
		t.Fatalf("revoked filter: %d keys", len(page.Data))
	}
	app.call(t, http.MethodGet, "/v1/api-keys?q=read_all&sort=name&environment=live", h, nil).decode(t, &page)
	if len(page.Data) != 1 || page.Data[0].Permission != "read_all" {
		t.Fatalf("q filter: %+v", page.Data)
	}
	for _, bad := range []string{"limit=0", "limit=201", "status=gone", "environment=prod", "sort=hash", "cursor=key_nope"} {
		app.call(t, http.MethodGet, "/v1/api-keys?"+bad, h, nil).wantError(t, http.StatusUnprocessableEntity, "invalid_request")
	}
}

// TestAPINoEscalation: a key creates and widens keys only up to its own
// permission.
func TestAPINoEscalation(t *testing.T) {
	app := newAPIApp(t)
	_, limited := app.key(t, app.team.ID, model.PermRestricted, "api_keys:write", "members:read")
	target, _ := app.key(t, app.team.ID, model.PermRestricted, "members:read")
	h := bearer(limited)
	for _, body := range []string{
		`{"name":"x","permission":"write_all"}`,
		`{"name":"x","permission":"read_all"}`,
		`{"name":"x","permission":"restricted","scopes":["members:write"]}`,
		`{"name":"x","permission":"restricted","scopes":["api_keys:write","audit_log:read"]}`,
	} {
		app.call(t, http.MethodPost, "/v1/api-keys", h, body).wantError(t, http.StatusForbidden, "forbidden")
	}
	app.call(t, http.MethodPost, "/v1/api-keys", h, `{"name":"ok","permission":"restricted","scopes":["api_keys:read","members:read"]}`).
		wantStatus(t, http.StatusCreated)
	for _, body := range []string{`{"permission":"write_all"}`, `{"permission":"read_all"}`, `{"scopes":["audit_log:read"]}`} {
		app.call(t, http.MethodPatch, "/v1/api-keys/"+target.PublicID, h, body).wantError(t, http.StatusForbidden, "forbidden")
	}
	got, _ := app.store.FindKeyByID(context.Background(), app.team.ID, target.PublicID)
	if got.PermissionSet != model.PermRestricted || strings.Join(got.Scopes, ",") != "members:read" {
		t.Fatalf("a refused widening changed the key: %s %v", got.PermissionSet, got.Scopes)
	}
	app.call(t, http.MethodPatch, "/v1/api-keys/"+target.PublicID, h, `{"scopes":["api_keys:write"]}`).wantStatus(t, http.StatusOK)

	// read_all may create nothing (POST needs api_keys:write).
	_, reader := app.key(t, app.team.ID, model.PermReadAll)
	app.call(t, http.MethodPost, "/v1/api-keys", bearer(reader), `{"name":"x","permission":"read_all"}`).
		wantError(t, http.StatusForbidden, "insufficient_scope")
	// write_all may create anything.
	_, writer := app.key(t, app.team.ID, model.PermWriteAll)
	app.call(t, http.MethodPost, "/v1/api-keys", bearer(writer), `{"name":"x","permission":"write_all"}`).wantStatus(t, http.StatusCreated)
}

func TestAPIAnotherTeamsKeyIsNotFound(t *testing.T) {
	app := newAPIApp(t)
	_, raw := app.key(t, app.team.ID, model.PermWriteAll)
	other := app.createTeam(t, "Other")
	theirs, theirRaw := app.key(t, other.ID, model.PermWriteAll)
	h := bearer(raw)
	id := theirs.PublicID
	app.call(t, http.MethodGet, "/v1/api-keys/"+id, h, nil).wantError(t, http.StatusNotFound, "not_found")
	app.call(t, http.MethodPatch, "/v1/api-keys/"+id, h, `{"name":"mine now"}`).wantError(t, http.StatusNotFound, "not_found")
	app.call(t, http.MethodPost, "/v1/api-keys/"+id+"/revoke", h, nil).wantError(t, http.StatusNotFound, "not_found")
	app.call(t, http.MethodDelete, "/v1/api-keys/"+id, h, nil).wantError(t, http.StatusNotFound, "not_found")
	var page apiList[apiKeyJSON]
	app.call(t, http.MethodGet, "/v1/api-keys", h, nil).decode(t, &page)
	for _, k := range page.Data {
		if k.ID == id {
			t.Fatal("another team's key is listed")
		}
	}
	got, err := app.store.FindKeyByID(context.Background(), other.ID, id)
	if err != nil || got.Name != theirs.Name || got.RevokedAt != nil {
		t.Fatalf("another team's key changed: %+v %v", got, err)
	}
	app.call(t, http.MethodGet, "/v1/whoami", bearer(theirRaw), nil).wantStatus(t, http.StatusOK)
}

// TestAPIPermissionSetsOnEveryRoute calls every documented operation with
// read_all, write_all, and restricted keys with and without its scope.
func TestAPIPermissionSetsOnEveryRoute(t *testing.T) {
	app := newAPIApp(t, withAPIConfig(withEncryptionKey))
	_, other := app.key(t, app.team.ID, model.PermReadAll)
	resources := []string{"api_keys", "members", "audit_log", "webhooks", "key_verification"}
	for _, op := range documentedOperations(t) {
		if op.id == "secretScanningGitHub" {
			continue // takes no key: signed by the scanner (leak_test.go)
		}
		resource, access, _ := strings.Cut(op.scope, ":")
		var without []string // every scope of the catalog but the ones that allow it
		for _, r := range resources {
			if slices.ContainsFunc(op.alternatives, func(a string) bool { return strings.HasPrefix(a, r+":") }) {
				continue
			}
			if r == "key_verification" && r != resource {
				without = append(without, r+":read") // read only
			} else if r != resource {
				without = append(without, r+":write")
			} else if access == "write" {
				without = append(without, r+":read")
			}
		}
		type keyCase struct {
			name    string
			set     model.PermissionSet
			scopes  []string
			allowed bool
		}
		cases := []keyCase{
			{"read_all", model.PermReadAll, nil, access != "write"},
			{"write_all", model.PermWriteAll, nil, true},
		}
		if op.scope != "" {
			cases = append(cases,
				keyCase{"restricted with " + op.scope, model.PermRestricted, []string{op.scope}, true},
				keyCase{"restricted without " + op.scope, model.PermRestricted, without, false})
			for _, alt := range op.alternatives {
				cases = append(cases, keyCase{"restricted with " + alt, model.PermRestricted, []string{alt}, true})
			}
		}
		for _, kc := range cases {
			_, raw := app.key(t, app.team.ID, kc.set, kc.scopes...)
			targetScope := "api_keys:read"
			if op.id == "rollKey" {
				// A key may only roll keys its own permission covers.
				targetScope = "api_keys:read"
			}
			target, _ := app.key(t, app.team.ID, model.PermRestricted, targetScope)
			id := target.PublicID
			if strings.HasPrefix(op.path, "/v1/webhook-endpoints/") {
				ep := model.WebhookEndpoint{TeamID: app.team.ID, URL: "https://203.0.113.10/hook"}
				if err := app.store.CreateEndpoint(context.Background(), &ep, store.EndpointSecret{Sealed: "x", KeyID: "x"}, model.Actor{Label: "test"}); err != nil {
					t.Fatal(err)
				}
				id = ep.PublicID
			}
			path := strings.ReplaceAll(op.path, "{id}", id)
			var body any
			switch op.id {
			case "createWebhookEndpoint":
				body = `{"url":"https://203.0.113.10/hook"}`
			case "updateWebhookEndpoint":
				body = `{"description":"changed"}`
			case "createKey":
				body = `{"name":"made","permission":"restricted","scopes":["api_keys:read"]}`
			case "updateKey":
				body = `{"name":"renamed"}`
			case "rollKey":
				body = `{"expire_old_in":"1h"}`
			case "verifyKey":
				body = map[string]string{"key": other, "scope": "members:read"}
			case "reportLeak":
				body = map[string][]string{"keys": {"not a key"}}
			}
			res := app.call(t, op.method, path, bearer(raw), body)
			if kc.allowed {
				if res.StatusCode >= 300 {
					t.Fatalf("%s %s with %s: %d %s", op.method, op.path, kc.name, res.StatusCode, res.Body)
				}
			} else if op.method == http.MethodHead {
				res.wantStatus(t, http.StatusForbidden) // the same answer as GET, without its body
			} else {
				e := res.wantError(t, http.StatusForbidden, "insufficient_scope")
				if !strings.Contains(e.Error.Message, op.scope) {
					t.Fatalf("%s %s with %s: 403 message %q does not name %s", op.method, op.path, kc.name, e.Error.Message, op.scope)
				}
				if got, _ := app.store.FindKeyByID(context.Background(), app.team.ID, target.PublicID); got.Name != target.Name || got.RevokedAt != nil {
					t.Fatalf("%s %s with %s was refused but changed the key", op.method, op.path, kc.name)
				}
			}
		}
	}
}

func TestAPIMembersAndAuditLog(t *testing.T) {
	app := newAPIApp(t)
	app.newMember(t, app.team.ID, "bob@example.com", model.RoleMember)
	admin, raw := app.key(t, app.team.ID, model.PermWriteAll)
	h := bearer(raw)
	var members apiList[apiMemberJSON]
	res := app.call(t, http.MethodGet, "/v1/members", h, nil)
	res.wantStatus(t, http.StatusOK)
	res.decode(t, &members)
	if len(members.Data) != 2 || members.Data[0].Email != "bob@example.com" || members.Data[1].Role != "OWNER" {
		t.Fatalf("members %+v", members.Data)
	}

	app.clock.Advance(time.Minute)
	app.call(t, http.MethodPost, "/v1/api-keys", h, `{"name":"audited","permission":"read_all"}`).wantStatus(t, http.StatusCreated)
	var log apiList[apiAuditEventJSON]
	res = app.call(t, http.MethodGet, "/v1/audit-log?limit=1", h, nil)
	res.wantStatus(t, http.StatusOK)
	res.decode(t, &log)
	if len(log.Data) != 1 || log.Data[0].Action != model.ActionKeyCreated || log.Data[0].TargetName != "audited" ||
		log.Data[0].Actor.Type != "api_key" || !strings.Contains(log.Data[0].Actor.Label, admin.Hint) || log.NextCursor == nil {
		t.Fatalf("newest event %+v, next %v", log.Data, log.NextCursor)
	}
	var all []apiAuditEventJSON
	for path := "/v1/audit-log?limit=2"; ; {
		var page apiList[apiAuditEventJSON]
		app.call(t, http.MethodGet, path, h, nil).decode(t, &page)
		all = append(all, page.Data...)
		if page.NextCursor == nil {
			break
		}
		path = "/v1/audit-log?limit=2&cursor=" + *page.NextCursor
	}
	evs, _ := app.store.FindAuditEvents(context.Background(), store.AuditFilter{TeamID: app.team.ID, Limit: 1000})
	if len(all) != len(evs) {
		t.Fatalf("paged %d events, the team has %d", len(all), len(evs))
	}
	app.call(t, http.MethodGet, "/v1/audit-log?action=member.*", h, nil).decode(t, &log)
	if len(log.Data) != 1 || log.Data[0].Action != model.ActionMemberAdded || log.Data[0].TargetName != "bob@example.com" {
		t.Fatalf("action filter %+v", log.Data)
	}
	app.call(t, http.MethodGet, "/v1/audit-log?actor=OWNER@&action=team.created,api_key.revoked", h, nil).decode(t, &log)
	if len(log.Data) != 1 || log.Data[0].Action != model.ActionTeamCreated || log.Data[0].Actor.Type != "user" {
		t.Fatalf("actor filter %+v", log.Data)
	}
	app.call(t, http.MethodGet, "/v1/audit-log?since="+app.clock.Now().Format(time.RFC3339)+"&action=api_key.created", h, nil).decode(t, &log)
	if len(log.Data) != 1 {
		t.Fatalf("since filter: %+v", log.Data)
	}
	app.call(t, http.MethodGet, "/v1/audit-log?until=2000-01-01", h, nil).decode(t, &log)
	if len(log.Data) != 0 {
		t.Fatalf("until filter: %+v", log.Data)
	}
	for _, bad := range []string{"since=yesterday", "cursor=abc", "limit=500"} {
		app.call(t, http.MethodGet, "/v1/audit-log?"+bad, h, nil).wantError(t, http.StatusUnprocessableEntity, "invalid_request")
	}
}

func TestAPIVerifyEndpoint(t *testing.T) {
	app := newAPIApp(t)
	_, caller := app.key(t, app.team.ID, model.PermRestricted, "api_keys:read")
	k, raw := app.key(t, app.team.ID, model.PermRestricted, "invoices:read")
	revokedKey, revoked := app.key(t, app.team.ID, model.PermReadAll)
	other := app.createTeam(t, "Other")
	_, foreign := app.key(t, other.ID, model.PermReadAll)
	unknown, _ := keys.Generate("kw", "live")
	if _, err := app.store.RevokeKey(context.Background(), app.team.ID, revokedKey.PublicID, model.Actor{Label: "test"}); err != nil {
		t.Fatal(err)
	}
	h := bearer(caller)
	verdict := func(body any) apiVerifyJSON {
		t.Helper()
		res := app.call(t, http.MethodPost, "/v1/keys/verify", h, body)
		res.wantStatus(t, http.StatusOK)
		var v apiVerifyJSON
		res.decode(t, &v)
		return v
	}
	v := verdict(map[string]string{"key": raw, "scope": "invoices:read"})
	if !v.Valid || v.KeyID != k.PublicID || v.TeamID != app.team.ID || v.Environment != "live" || strings.Join(v.Scopes, ",") != "invoices:read" {
		t.Fatalf("valid verdict %+v", v)
	}
	if v := verdict(map[string]string{"key": raw}); !v.Valid {
		t.Fatalf("without a scope: %+v", v)
	}
	if v := verdict(map[string]string{"key": raw, "scope": "invoices:write"}); v.Valid || v.Code != "INSUFFICIENT_SCOPE" {
		t.Fatalf("missing scope: %+v", v)
	}
	for name, key := range map[string]string{"revoked": revoked, "another team's": foreign, "unknown": unknown,
		"bad checksum": badChecksum(raw)} {
		if v := verdict(map[string]string{"key": key, "scope": "invoices:read"}); v.Valid || v.Code != "INVALID" {
			t.Fatalf("%s key: %+v", name, v)
		}
	}
	app.call(t, http.MethodPost, "/v1/keys/verify", h, `{"key":"x","scope":"invoices"}`).wantError(t, http.StatusUnprocessableEntity, "invalid_request")
	// Scopes are checked against the resource catalog, like everywhere else.
	app.call(t, http.MethodPost, "/v1/keys/verify", h, `{"key":"x","scope":"nosuch:read"}`).wantError(t, http.StatusUnprocessableEntity, "invalid_request")
	// The key to check is required; unknown fields are refused, naming them.
	for _, body := range []string{`{}`, `{"key":""}`, `{"key":"  "}`, `{"scope":"invoices:read"}`} {
		e := app.call(t, http.MethodPost, "/v1/keys/verify", h, body).wantError(t, http.StatusUnprocessableEntity, "invalid_request")
		if !strings.Contains(e.Error.Message, "key") {
			t.Fatalf("%s: %q does not name the key", body, e.Error.Message)
		}
	}
	e := app.call(t, http.MethodPost, "/v1/keys/verify", h, `{"token":"x"}`).wantError(t, http.StatusUnprocessableEntity, "invalid_request")
	if !strings.Contains(e.Error.Message, `"token"`) {
		t.Fatalf("unknown field: %q does not name it", e.Error.Message)
	}

	// INVALID verdicts are limited per IP: the four above and these spend the burst.
	n := 0
	for ; n <= verifyFailBurst; n++ {
		if app.call(t, http.MethodPost, "/v1/keys/verify", h, map[string]string{"key": unknown}).StatusCode == http.StatusTooManyRequests {
			break
		}
	}
	if n != verifyFailBurst-4 {
		t.Fatalf("verify answered 429 after %d more INVALID verdicts, want %d", n, verifyFailBurst-4)
	}
	res := app.call(t, http.MethodPost, "/v1/keys/verify", h, map[string]string{"key": unknown})
	res.wantError(t, http.StatusTooManyRequests, "too_many_failures")
	if res.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// Only INVALID verdicts are limited: a valid key is still answered.
	if v := verdict(map[string]string{"key": raw, "scope": "invoices:read"}); !v.Valid {
		t.Fatalf("a valid key after the failure limit: %+v", v)
	}
	// Key checks of /v1 itself are counted apart.
	app.call(t, http.MethodGet, "/v1/whoami", h, nil).wantStatus(t, http.StatusOK)
}

func ptrTime(t time.Time) *time.Time { return &t }
