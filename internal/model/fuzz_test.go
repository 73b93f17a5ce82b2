package model_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/model"
)

func fuzzCatalog(f *testing.F) *model.Catalog {
	c, err := model.NewCatalog([]model.Resource{{Name: "invoices"}, {Name: "customers_v2"}})
	if err != nil {
		f.Fatal(err)
	}
	return c
}

// FuzzParseScope checks ParseScope against the list of every scope the
// catalog allows: it accepts exactly those (around spaces aside), and what
// it returns spells the scope back. Seeds live in testdata/fuzz/FuzzParseScope.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"invoices:read", "invoices:write", " api_keys:read\t", "invoices:none", "invoices:READ",
		"invoices", ":read", "unknown:read", "invoices:read:write", "*:read", "invoices :read", "invoices\u00a0:read",
		"Invoices:read", "invoices:read\x00", "api_keys:write' OR 1=1--", ""} {
		f.Add(s)
	}
	c := fuzzCatalog(f)
	valid := map[string]bool{}
	for _, r := range c.Resources() {
		valid[r.Name+":read"], valid[r.Name+":write"] = true, true
	}
	f.Fuzz(func(t *testing.T, s string) {
		res, acc, err := model.ParseScope(c, s)
		want := valid[strings.TrimSpace(s)]
		if (err == nil) != want {
			t.Fatalf("ParseScope(%q) = %q, %q, %v; want accepted=%v", s, res, acc, err, want)
		}
		if err != nil {
			if model.ErrorCode(err) != model.EINVALID || res != "" || acc != "" {
				t.Fatalf("ParseScope(%q) refused with %q, %q, %v", s, res, acc, err)
			}
			return
		}
		if res+":"+string(acc) != strings.TrimSpace(s) || !c.Has(res) {
			t.Fatalf("ParseScope(%q) = %q, %q", s, res, acc)
		}
	})
}

// FuzzNewPermission checks NewPermission on arbitrary sets and scope lists
// (one scope per line): it accepts a known set, and for restricted at least
// one scope with every scope valid; an accepted permission grants each scope
// asked for and nothing on other resources, and survives being stored as
// its scope strings and read back.
func FuzzNewPermission(f *testing.F) {
	for _, s := range [][2]string{
		{"read_all", ""}, {"write_all", "nonsense"}, {"restricted", "invoices:read"},
		{"restricted", "invoices:read\ninvoices:write\napi_keys:read"}, {"restricted", ""}, {"restricted", "invoices:none"},
		{"restricted", "invoices:read\nunknown:write"}, {"Restricted", "invoices:read"}, {"", ""}, {"admin", "*:write"},
		{"restricted", "\n\n"}, {"restricted", " members:write "},
	} {
		f.Add(s[0], s[1])
	}
	c := fuzzCatalog(f)
	f.Fuzz(func(t *testing.T, set, scopeLines string) {
		var scopes []string
		if scopeLines != "" {
			scopes = strings.Split(scopeLines, "\n")
		}
		ps := model.PermissionSet(set)
		p, err := model.NewPermission(c, ps, scopes)

		wantOK := ps.Valid()
		if ps == model.PermRestricted {
			wantOK = len(scopes) > 0
			for _, s := range scopes {
				if _, _, err := model.ParseScope(c, s); err != nil {
					wantOK = false
				}
			}
		}
		if (err == nil) != wantOK {
			t.Fatalf("NewPermission(%q, %q) = %+v, %v; want accepted=%v", set, scopes, p, err, wantOK)
		}
		if err != nil {
			fs := model.ErrorFields(err)
			if model.ErrorCode(err) != model.EINVALID || (fs["permission"] == "" && fs["scopes"] == "") {
				t.Fatalf("NewPermission(%q, %q) refused with %v (fields %v)", set, scopes, err, fs)
			}
			return
		}
		if p.Set != ps {
			t.Fatalf("set %q became %q", ps, p.Set)
		}
		switch ps {
		case model.PermReadAll:
			if !p.Allows("anything", model.AccessRead) || p.Allows("anything", model.AccessWrite) ||
				!slices.Equal(p.ScopeStrings(), []string{"*:read"}) {
				t.Fatalf("read_all = %+v", p)
			}
		case model.PermWriteAll:
			if !p.Allows("anything", model.AccessWrite) || !slices.Equal(p.ScopeStrings(), []string{"*:write"}) {
				t.Fatalf("write_all = %+v", p)
			}
		case model.PermRestricted:
			asked := map[string]bool{}
			for _, s := range scopes {
				r, a, _ := model.ParseScope(c, s)
				asked[r] = true
				if !p.Allows(r, a) {
					t.Fatalf("NewPermission(%q) does not allow %s:%s", scopes, r, a)
				}
			}
			for _, r := range c.Resources() {
				if !asked[r.Name] && p.Allows(r.Name, model.AccessRead) {
					t.Fatalf("NewPermission(%q) allows %s, which was not asked for", scopes, r.Name)
				}
			}
			if p.Allows("not_in_catalog", model.AccessRead) {
				t.Fatalf("NewPermission(%q) allows a resource outside the catalog", scopes)
			}
			strs := p.ScopeStrings()
			if !slices.IsSorted(strs) || len(strs) == 0 {
				t.Fatalf("ScopeStrings() = %q", strs)
			}
			again, err := model.NewPermission(c, ps, strs)
			if err != nil || !reflect.DeepEqual(again, p) {
				t.Fatalf("NewPermission(ScopeStrings()) = %+v, %v; want %+v", again, err, p)
			}
		}
		if stored := model.PermissionFromStored(ps, p.ScopeStrings()); !reflect.DeepEqual(stored, p) &&
			!(ps != model.PermRestricted && stored.Set == p.Set) {
			t.Fatalf("PermissionFromStored(ScopeStrings()) = %+v, want %+v", stored, p)
		}
		if !p.Covers(p) {
			t.Fatalf("%+v does not cover itself", p)
		}
		if w := (model.Permission{Set: model.PermWriteAll}); !w.Covers(p) {
			t.Fatalf("write_all does not cover %+v", p)
		}
	})
}
