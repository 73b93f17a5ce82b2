package web

import (
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
)

func TestNewKeyRules(t *testing.T) {
	c, err := model.NewCatalog([]model.Resource{{Name: "invoices"}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	future, past := now.Add(time.Hour), now
	ok := KeyInput{Name: "  Zapier 🚀  ", Environment: "test", Permission: model.PermRestricted,
		Scopes: []string{"invoices:read", "invoices:write", "members:read"}, ExpiresAt: &future}
	k, raw, err := NewKey(c, "acme", 7, ok, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Parse(raw); err != nil || !strings.HasPrefix(raw, "acme_test_") {
		t.Fatalf("raw key %q: %v", raw, err)
	}
	if k.Name != "Zapier 🚀" || k.TeamID != 7 || k.Environment != "test" || k.KeyHash != keys.Hash(raw) ||
		k.Hint != keys.Hint(raw) || !strings.HasPrefix(k.PublicID, "key_") || !k.ExpiresAt.Equal(future) ||
		strings.Join(k.Scopes, ",") != "invoices:write,members:read" {
		t.Fatalf("built %+v", k)
	}
	if k, _, _ := NewKey(c, "kw", 7, KeyInput{Name: "x", Environment: "live", Permission: model.PermReadAll, Scopes: []string{"invoices:read"}}, now); len(k.Scopes) != 0 {
		t.Fatalf("read_all key keeps scopes %v", k.Scopes)
	}

	for _, tc := range []struct {
		name  string
		edit  func(*KeyInput)
		field string
	}{
		{"blank name", func(in *KeyInput) { in.Name = "   " }, "name"},
		{"101 characters", func(in *KeyInput) { in.Name = strings.Repeat("é", 101) }, "name"},
		{"control character", func(in *KeyInput) { in.Name = "a\nb" }, "name"},
		{"environment", func(in *KeyInput) { in.Environment = "prod" }, "environment"},
		{"permission", func(in *KeyInput) { in.Permission = "admin" }, "permission"},
		{"no scopes", func(in *KeyInput) { in.Scopes = nil }, "scopes"},
		{"unknown scope", func(in *KeyInput) { in.Scopes = []string{"nope:read"} }, "scopes"},
		{"expiry now", func(in *KeyInput) { in.ExpiresAt = &past }, "expires_at"},
	} {
		in := ok
		tc.edit(&in)
		_, _, err := NewKey(c, "kw", 7, in, now)
		if model.ErrorCode(err) != model.EINVALID || model.ErrorFields(err)[tc.field] == "" {
			t.Errorf("%s: %v (fields %v), want EINVALID on %s", tc.name, err, model.ErrorFields(err), tc.field)
		}
	}
	if _, _, err := NewKey(c, "kw", 7, KeyInput{Name: strings.Repeat("é", 100), Environment: "live", Permission: model.PermReadAll}, now); err != nil {
		t.Errorf("100 characters: %v", err)
	}

	u, err := EditKey(c, KeyInput{Name: " renamed ", Permission: model.PermWriteAll}, now)
	if err != nil || *u.Name != "renamed" || u.Permission.Set != model.PermWriteAll || !u.SetExpiry || u.ExpiresAt != nil {
		t.Fatalf("EditKey %+v %v", u, err)
	}
	if _, err := EditKey(c, KeyInput{Name: "", Permission: model.PermWriteAll}, now); model.ErrorFields(err)["name"] == "" {
		t.Fatalf("EditKey with no name: %v", err)
	}
}

func TestCheckGrant(t *testing.T) {
	restricted := model.PermissionFromStored(model.PermRestricted, []string{"api_keys:write", "invoices:read"})
	key := model.Actor{Permission: &restricted}
	for _, tc := range []struct {
		p  model.Permission
		ok bool
	}{
		{model.PermissionFromStored(model.PermRestricted, []string{"api_keys:read", "invoices:read"}), true},
		{model.PermissionFromStored(model.PermRestricted, []string{"invoices:write"}), false},
		{model.Permission{Set: model.PermReadAll}, false},
		{model.Permission{Set: model.PermWriteAll}, false},
	} {
		if err := CheckGrant(key, tc.p); (err == nil) != tc.ok || (err != nil && model.ErrorCode(err) != model.EFORBIDDEN) {
			t.Errorf("grant %v by %v: %v", tc.p.ScopeStrings(), restricted.ScopeStrings(), err)
		}
	}
	if err := CheckGrant(model.Actor{Label: "owner@example.com"}, model.Permission{Set: model.PermWriteAll}); err != nil {
		t.Errorf("a person is limited by role, not by CheckGrant: %v", err)
	}
}
