package model_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
)

func catalog(t *testing.T) *model.Catalog {
	t.Helper()
	c, err := model.NewCatalog([]model.Resource{{Name: "invoices", Label: "Invoices"}, {Name: "customers"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewCatalogRejectsBadNames(t *testing.T) {
	for _, name := range []string{"", "Invoices", "in voices", "api_keys", "1abc", "a-b"} {
		if _, err := model.NewCatalog([]model.Resource{{Name: name}}); model.ErrorCode(err) != model.EINVALID {
			t.Errorf("NewCatalog(%q) = %v, want EINVALID", name, err)
		}
	}
}

func TestNewPermission(t *testing.T) {
	c := catalog(t)
	tests := []struct {
		set    model.PermissionSet
		scopes []string
		want   []string
		field  string
	}{
		{model.PermReadAll, nil, []string{"*:read"}, ""},
		{model.PermWriteAll, []string{"ignored"}, []string{"*:write"}, ""},
		{model.PermRestricted, []string{"invoices:read", "invoices:write", "customers:read"}, []string{"customers:read", "invoices:write"}, ""},
		{model.PermRestricted, []string{" api_keys:read "}, []string{"api_keys:read"}, ""},
		{model.PermRestricted, nil, nil, "scopes"},
		{model.PermRestricted, []string{"unknown:read"}, nil, "scopes"},
		{model.PermRestricted, []string{"invoices:admin"}, nil, "scopes"},
		{model.PermRestricted, []string{"invoices"}, nil, "scopes"},
		{model.PermRestricted, []string{"invoices:none"}, nil, "scopes"},
		{"root", nil, nil, "permission"},
		{"", nil, nil, "permission"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s%v", tt.set, tt.scopes), func(t *testing.T) {
			p, err := model.NewPermission(c, tt.set, tt.scopes)
			if tt.field != "" {
				if model.ErrorCode(err) != model.EINVALID || model.ErrorFields(err)[tt.field] == "" {
					t.Fatalf("err = %v (fields %v), want EINVALID on %s", err, model.ErrorFields(err), tt.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.ScopeStrings(); !slices.Equal(got, tt.want) {
				t.Fatalf("scopes = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAllowsAndCovers(t *testing.T) {
	c := catalog(t)
	mk := func(set model.PermissionSet, scopes ...string) model.Permission {
		p, err := model.NewPermission(c, set, scopes)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	readAll, writeAll := mk(model.PermReadAll), mk(model.PermWriteAll)
	invRead, invWrite := mk(model.PermRestricted, "invoices:read"), mk(model.PermRestricted, "invoices:write")
	both := mk(model.PermRestricted, "invoices:write", "customers:read")

	// read_all and write_all cover resources added after the key was made.
	if !readAll.Allows("added_later", model.AccessRead) || readAll.Allows("added_later", model.AccessWrite) {
		t.Error("read_all must read everything and write nothing")
	}
	if !writeAll.Allows("added_later", model.AccessWrite) {
		t.Error("write_all must write everything")
	}
	if !invWrite.Allows("invoices", model.AccessRead) {
		t.Error("write implies read")
	}
	if invRead.Allows("invoices", model.AccessWrite) || invRead.Allows("customers", model.AccessRead) {
		t.Error("restricted grants only what is ticked")
	}
	covers := []struct {
		p, q model.Permission
		want bool
	}{
		{writeAll, writeAll, true}, {writeAll, readAll, true}, {writeAll, both, true},
		{readAll, writeAll, false}, {readAll, readAll, true}, {readAll, invRead, true}, {readAll, invWrite, false},
		{invRead, readAll, false}, {invRead, invWrite, false}, {invWrite, invRead, true},
		{both, invWrite, true}, {invWrite, both, false}, {both, readAll, false},
	}
	for i, tt := range covers {
		if got := tt.p.Covers(tt.q); got != tt.want {
			t.Errorf("%d: %v covers %v = %v, want %v", i, tt.p.ScopeStrings(), tt.q.ScopeStrings(), got, tt.want)
		}
	}
	if s := both.Summary(); s != "Restricted · 2 scopes" {
		t.Errorf("summary %q", s)
	}
}

func TestKeyStatus(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	tests := []struct {
		name string
		k    model.APIKey
		want model.KeyStatus
		soon bool
	}{
		{"never expires", model.APIKey{}, model.StatusActive, false},
		{"expires later", model.APIKey{ExpiresAt: at(30 * 24 * time.Hour)}, model.StatusActive, false},
		{"expires within 7 days", model.APIKey{ExpiresAt: at(6 * 24 * time.Hour)}, model.StatusActive, true},
		{"expires at exactly now", model.APIKey{ExpiresAt: at(0)}, model.StatusExpired, false},
		{"expired", model.APIKey{ExpiresAt: at(-time.Second)}, model.StatusExpired, false},
		{"revoked wins over expired", model.APIKey{ExpiresAt: at(-time.Hour), RevokedAt: at(-2 * time.Hour)}, model.StatusRevoked, false},
		{"revoked with future expiry", model.APIKey{ExpiresAt: at(time.Hour), RevokedAt: at(0)}, model.StatusRevoked, false},
	}
	for _, tt := range tests {
		if got := tt.k.Status(now); got != tt.want {
			t.Errorf("%s: status %s, want %s", tt.name, got, tt.want)
		}
		if got := tt.k.ExpiresSoon(now); got != tt.soon {
			t.Errorf("%s: expires soon %v, want %v", tt.name, got, tt.soon)
		}
	}
}

func TestErrors(t *testing.T) {
	base := errors.New("driver said no")
	err := fmt.Errorf("creating key: %w", model.Wrap(model.ECONFLICT, base, "That already exists."))
	if model.ErrorCode(err) != model.ECONFLICT || model.ErrorMessage(err) != "That already exists." || !errors.Is(err, base) {
		t.Fatalf("wrapped error lost its code, message or cause: %v", err)
	}
	if model.ErrorCode(base) != model.EINTERNAL || model.ErrorCode(nil) != "" {
		t.Fatal("plain errors are internal; nil has no code")
	}
	fe := model.FieldErrors{}
	if fe.Err() != nil {
		t.Fatal("no field errors must be nil")
	}
	fe.Add("name", "Name is required.")
	fe.Add("name", "second message is ignored")
	fe.Add("expires_at", "Pick a date in the future.")
	e := fe.Err()
	if model.ErrorCode(e) != model.EINVALID || model.ErrorFields(e)["name"] != "Name is required." || model.ErrorMessage(e) != "Pick a date in the future." {
		t.Fatalf("field errors: %v %v", e, model.ErrorFields(e))
	}
}

func TestParseRole(t *testing.T) {
	for in, want := range map[string]model.Role{"owner": model.RoleOwner, " ADMIN ": model.RoleAdmin, "Member": model.RoleMember} {
		if got, err := model.ParseRole(in); err != nil || got != want {
			t.Errorf("ParseRole(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := model.ParseRole("root"); model.ErrorCode(err) != model.EINVALID {
		t.Error("unknown role must be EINVALID")
	}
	if model.RoleMember.CanManage() || !model.RoleAdmin.CanManage() || model.RoleOwner.Label() != "Owner" {
		t.Error("role helpers")
	}
}
