package web

import (
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
)

func testCatalog(t *testing.T) *model.Catalog {
	t.Helper()
	c, err := model.NewCatalog([]model.Resource{{Name: "invoices", Label: "Invoices"}, {Name: "customers"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 30, 15, 0, time.UTC)
	at := func(s string) *time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return &v
	}
	tests := []struct {
		name      string
		choice    string
		day       string
		editing   bool
		want      *time.Time
		wantKeep  bool
		wantField string
	}{
		{name: "never", choice: "never"},
		{name: "7 days", choice: "7d", want: at("2026-03-09T09:30:15Z")},
		{name: "30 days", choice: "30d", want: at("2026-04-01T09:30:15Z")},
		{name: "60 days", choice: "60d", want: at("2026-05-01T09:30:15Z")},
		{name: "90 days", choice: "90d", want: at("2026-05-31T09:30:15Z")},
		{name: "custom is the end of the day in UTC", choice: "custom", day: "2026-04-01", want: at("2026-04-01T23:59:59Z")},
		{name: "custom today is still in the future", choice: "custom", day: "2026-03-02", want: at("2026-03-02T23:59:59Z")},
		{name: "custom leap day", choice: "custom", day: "2028-02-29", want: at("2028-02-29T23:59:59Z")},
		{name: "custom yesterday", choice: "custom", day: "2026-03-01", wantField: "expires_at"},
		{name: "custom in the past", choice: "custom", day: "2020-01-01", wantField: "expires_at"},
		{name: "custom without a day", choice: "custom", wantField: "expires_at"},
		{name: "custom with a bad date", choice: "custom", day: "01/04/2026", wantField: "expires_at"},
		{name: "custom with an impossible date", choice: "custom", day: "2026-02-30", wantField: "expires_at"},
		{name: "unknown choice", choice: "45d", wantField: "expires"},
		{name: "sql in the choice", choice: "7d'; DROP TABLE api_keys; --", wantField: "expires"},
		{name: "keep when creating is unknown", choice: "keep", wantField: "expires"},
		{name: "nothing when creating is unknown", choice: "", wantField: "expires"},
		{name: "keep when editing", choice: "keep", editing: true, wantKeep: true},
		{name: "nothing when editing keeps", choice: "", editing: true, wantKeep: true},
		{name: "never when editing", choice: "never", editing: true},
		{name: "days when editing", choice: "7d", editing: true, want: at("2026-03-09T09:30:15Z")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe := model.FieldErrors{}
			got, keep := parseExpiry(fe, tt.choice, tt.day, now, tt.editing)
			if tt.wantField != "" {
				if _, ok := fe[tt.wantField]; !ok || len(fe) != 1 {
					t.Fatalf("errors %v, want one on %s", fe, tt.wantField)
				}
				if got != nil {
					t.Fatalf("got %v with an error", got)
				}
				return
			}
			if len(fe) != 0 {
				t.Fatalf("unexpected errors %v", fe)
			}
			if keep != tt.wantKeep {
				t.Fatalf("keep = %v, want %v", keep, tt.wantKeep)
			}
			if (got == nil) != (tt.want == nil) || (got != nil && !got.Equal(*tt.want)) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			if got != nil && got.Location() != time.UTC {
				t.Fatalf("expiry %v is not in UTC", got)
			}
		})
	}
}

func TestParseKeyFormAccess(t *testing.T) {
	c := testCatalog(t)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	base := func(kv ...string) url.Values {
		f := url.Values{"name": {" Billing "}, "environment": {"live"}, "permission": {"restricted"}, "expires": {"never"}}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	tests := []struct {
		name       string
		form       url.Values
		wantScopes []string
		wantField  string
	}{
		{name: "read and write in catalog order", form: base("access.customers", "read", "access.api_keys", "write", "access.members", "none"),
			wantScopes: []string{"api_keys:write", "customers:read"}},
		{name: "operator resource", form: base("access.invoices", "write"), wantScopes: []string{"invoices:write"}},
		{name: "all none", form: base("access.api_keys", "none", "access.members", "none")},
		{name: "unknown resource", form: base("access.invoices", "read", "access.bogus", "read"), wantField: "scopes"},
		{name: "unknown access level", form: base("access.members", "admin"), wantField: "scopes"},
		{name: "resource name with sql", form: base("access.members;drop", "read"), wantField: "scopes"},
		{name: "read-only resource", form: base("access.key_verification", "read"), wantScopes: []string{"key_verification:read"}},
		{name: "write on a read-only resource", form: base("access.key_verification", "write"), wantField: "scopes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := parseKeyForm(tt.form, c, now, false)
			if tt.wantField != "" {
				if _, ok := d.Errors[tt.wantField]; !ok {
					t.Fatalf("errors %v, want one on %s", d.Errors, tt.wantField)
				}
				return
			}
			if len(d.Errors) != 0 {
				t.Fatalf("unexpected errors %v", d.Errors)
			}
			if !slices.Equal(d.Input.Scopes, tt.wantScopes) {
				t.Fatalf("scopes %v, want %v", d.Input.Scopes, tt.wantScopes)
			}
			if d.Values.Name != " Billing " || d.Input.Name != " Billing " {
				t.Fatalf("the typed name must be kept as typed (NewKey trims): %q %q", d.Values.Name, d.Input.Name)
			}
		})
	}

	// Access fields of a key that is not restricted are ignored, even
	// unknown ones: the hidden picker still sends its fields.
	d := parseKeyForm(base("permission", "read_all", "access.bogus", "read", "access.members", "write"), c, now, false)
	if len(d.Errors) != 0 || d.Input.Scopes != nil || d.Input.Permission != model.PermReadAll {
		t.Fatalf("read_all with access fields: %+v", d)
	}
	// The picker is shown again with what was ticked.
	d = parseKeyForm(base("access.members", "write"), c, now, false)
	if d.Values.AccessTo("members") != "write" || d.Values.AccessTo("api_keys") != "none" {
		t.Fatalf("access values %v", d.Values.Access)
	}
}

func TestParseKeyFormThroughNewKey(t *testing.T) {
	c := testCatalog(t)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	long := ""
	for range 101 {
		long += "é"
	}
	tests := []struct {
		name   string
		form   url.Values
		fields []string
	}{
		{name: "valid", form: url.Values{"name": {"ok"}, "environment": {"test"}, "permission": {"write_all"}, "expires": {"30d"}}},
		{name: "empty name", form: url.Values{"name": {"  "}, "environment": {"live"}, "permission": {"read_all"}, "expires": {"never"}}, fields: []string{"name"}},
		{name: "101 characters", form: url.Values{"name": {long}, "environment": {"live"}, "permission": {"read_all"}, "expires": {"never"}}, fields: []string{"name"}},
		{name: "restricted without scope", form: url.Values{"name": {"x"}, "environment": {"live"}, "permission": {"restricted"}, "expires": {"never"}}, fields: []string{"scopes"}},
		{name: "unknown environment", form: url.Values{"name": {"x"}, "environment": {"staging"}, "permission": {"read_all"}, "expires": {"never"}}, fields: []string{"environment"}},
		{name: "unknown permission", form: url.Values{"name": {"x"}, "environment": {"live"}, "permission": {"admin"}, "expires": {"never"}}, fields: []string{"permission"}},
		{name: "everything wrong", form: url.Values{"environment": {"prod"}, "permission": {"restricted"}, "access.nope": {"read"}, "expires": {"custom"}, "expires_at": {"2001-01-01"}},
			fields: []string{"name", "environment", "scopes", "expires_at"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := parseKeyForm(tt.form, c, now, false)
			k, raw, err := NewKey(c, "kw", 7, d.Input, now)
			err = d.merge(err)
			if len(tt.fields) == 0 {
				if err != nil || raw == "" || k.TeamID != 7 {
					t.Fatalf("err %v, key %+v", err, k)
				}
				return
			}
			if model.ErrorCode(err) != model.EINVALID {
				t.Fatalf("err %v, want EINVALID", err)
			}
			fs := model.ErrorFields(err)
			for _, f := range tt.fields {
				if fs[f] == "" {
					t.Errorf("no message on %s: %v", f, fs)
				}
			}
			if len(fs) != len(tt.fields) {
				t.Errorf("messages %v, want exactly %v", fs, tt.fields)
			}
		})
	}
}
