package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/model"
)

func TestOIDCSettings(t *testing.T) {
	dir := t.TempDir()
	roles := filepath.Join(dir, "roles.yaml")
	if err := os.WriteFile(roles, []byte("claim: groups\nteams:\n  - team: Acme Payments\n    roles:\n      acme-admins: ADMIN\n      acme-devs: member\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := load(t, map[string]string{
		"KEYWARD_OIDC_ISSUER": "https://login.example.com/realms/acme/", "KEYWARD_OIDC_CLIENT_ID": "keyward",
		"KEYWARD_OIDC_CLIENT_SECRET": "s3cret", "KEYWARD_OIDC_ROLES_FILE": roles, "KEYWARD_PASSWORD_LOGIN": "false",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !c.OIDC.Enabled() || c.OIDC.Issuer != "https://login.example.com/realms/acme" || c.OIDC.Name != "login.example.com" || !c.SSOOnly {
		t.Fatalf("OIDC settings: %+v SSOOnly=%v", c.OIDC, c.SSOOnly)
	}
	got := c.OIDC.Roles.Desired([]string{"acme-devs", "acme-admins", "other"})
	if got["Acme Payments"] != model.RoleAdmin {
		t.Fatalf("Desired = %v, want the most powerful role", got)
	}
	if got := c.OIDC.Roles.Desired(nil); got["Acme Payments"] != "" {
		t.Fatalf("no groups: %v", got)
	}

	// Defaults: passwords on, no SSO.
	if c, err := load(t, nil); err != nil || c.SSOOnly || c.OIDC.Enabled() {
		t.Fatalf("defaults: %+v %v", c, err)
	}
}

func TestOIDCBadSettingsNameTheVariable(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := map[string]string{"KEYWARD_OIDC_ISSUER": "https://id.example.com", "KEYWARD_OIDC_CLIENT_ID": "k", "KEYWARD_OIDC_CLIENT_SECRET": "s"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range ok {
			m[a] = b
		}
		m[k] = v
		return m
	}
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"password login off without SSO": {map[string]string{"KEYWARD_PASSWORD_LOGIN": "false"}, "KEYWARD_PASSWORD_LOGIN"},
		"password login not a bool":      {map[string]string{"KEYWARD_PASSWORD_LOGIN": "nope"}, "KEYWARD_PASSWORD_LOGIN"},
		"client without issuer":          {map[string]string{"KEYWARD_OIDC_CLIENT_ID": "k"}, "KEYWARD_OIDC_ISSUER"},
		"issuer not a URL":               {with("KEYWARD_OIDC_ISSUER", "login.example.com"), "KEYWARD_OIDC_ISSUER"},
		"no secret":                      {with("KEYWARD_OIDC_CLIENT_SECRET", ""), "KEYWARD_OIDC_CLIENT_SECRET"},
		"roles file missing":             {with("KEYWARD_OIDC_ROLES_FILE", filepath.Join(dir, "none.yaml")), "KEYWARD_OIDC_ROLES_FILE"},
		"unknown role":                   {with("KEYWARD_OIDC_ROLES_FILE", write("a.yaml", "teams:\n  - team: A\n    roles: {g: KING}\n")), "KING"},
		"unknown field":                  {with("KEYWARD_OIDC_ROLES_FILE", write("b.yaml", "teams:\n  - team: A\n    role: {g: ADMIN}\n")), "role"},
		"team twice":                     {with("KEYWARD_OIDC_ROLES_FILE", write("c.yaml", "teams:\n  - team: A\n    roles: {g: ADMIN}\n  - team: a\n    roles: {h: ADMIN}\n")), "twice"},
		"no teams":                       {with("KEYWARD_OIDC_ROLES_FILE", write("d.yaml", "claim: groups\n")), "at least one team"},
	} {
		_, err := load(t, tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", name, err, tc.want)
		}
	}
}
