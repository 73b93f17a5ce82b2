package model_test

import (
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/model"
)

// sampleRoutes is a table shaped like a product's API, with overlapping
// prefixes, one-segment wildcards and public paths.
var sampleRoutes = []model.Route{
	{Pattern: "/v1/invoices", Resource: "invoices", Line: 3},
	{Pattern: "/v1/invoices/*", Resource: "invoices", Line: 4},
	{Pattern: "/v1/invoices/*/payments", Resource: "payments", Line: 5},
	{Pattern: "/v1/invoices/export", Resource: "exports", Line: 6},
	{Pattern: "/v1/*/export", Resource: "exports", Line: 7},
	{Pattern: "/v1/customers/*", Resource: "customers", Line: 8},
	{Pattern: "/v1/*", Resource: "catchall", Line: 9},
	{Pattern: "/healthz", Public: true, Line: 10},
	{Pattern: "/v1/status", Public: true, Line: 11},
	{Pattern: "/public/*", Public: true, Line: 12},
}

func TestRouteTableMatch(t *testing.T) {
	tab, err := model.NewRouteTable(sampleRoutes)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, want string // want: the matched pattern, "" for none
	}{
		{"/v1/invoices", "/v1/invoices"},
		{"/v1/invoices/", "/v1/invoices"},
		{"/v1/invoices/inv_1", "/v1/invoices/*"},
		{"/v1/invoices/inv_1/lines/3", "/v1/invoices/*"},
		{"/v1/invoices/inv_1/payments", "/v1/invoices/*/payments"},
		{"/v1/invoices/inv_1/payments/p1", "/v1/invoices/*"},
		{"/v1/invoices/export", "/v1/invoices/export"},
		{"/v1/customers/export", "/v1/customers/*"}, // the literal segment wins, left to right
		{"/v1/orders/export", "/v1/*/export"},
		{"/v1/customers", "/v1/*"},
		{"/v1/customers/c1", "/v1/customers/*"},
		{"/v1/anything/else/deep", "/v1/*"},
		{"/v1/status", "/v1/status"},
		{"/v1/status/x", "/v1/*"},
		{"/v1", ""},
		{"/v1/", ""},
		{"/", ""},
		{"/healthz", "/healthz"},
		{"/healthz/x", ""},
		{"/healthzz", ""},
		{"/public", ""},
		{"/public/a.css", "/public/*"},
		{"/V1/invoices", ""},
		{"/v2/invoices", ""},
		{"", ""},
		{"v1/invoices", ""},
	} {
		r, ok := tab.Match(tc.path)
		if got := r.Pattern; ok != (tc.want != "") || got != tc.want {
			t.Errorf("Match(%q) = %q, %v; want %q", tc.path, got, ok, tc.want)
		}
	}
	r, _ := tab.Match("/healthz")
	if !r.Public || r.Resource != "" || r.Line != 10 {
		t.Errorf("Match(/healthz) = %+v, want the public route of line 10", r)
	}
}

func TestRouteTableRoot(t *testing.T) {
	tab, err := model.NewRouteTable([]model.Route{{Pattern: "/", Public: true}, {Pattern: "/*", Resource: "site"}})
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := tab.Match("/"); !ok || !r.Public {
		t.Errorf("Match(/) = %+v, %v; want the public root", r, ok)
	}
	if r, ok := tab.Match("/a/b"); !ok || r.Resource != "site" {
		t.Errorf("Match(/a/b) = %+v, %v; want site", r, ok)
	}
}

func TestRouteTableErrors(t *testing.T) {
	for _, tc := range []struct {
		routes []model.Route
		want   string
	}{
		{[]model.Route{{Pattern: "v1/invoices", Resource: "a", Line: 4}}, "line 4: route pattern \"v1/invoices\" must start with /"},
		{[]model.Route{{Pattern: "/v1/invoices/", Resource: "a", Line: 2}}, "line 2: route pattern \"/v1/invoices/\" ends with /"},
		{[]model.Route{{Pattern: "/v1//invoices", Resource: "a", Line: 2}}, "empty segment"},
		{[]model.Route{{Pattern: "/v1/../admin", Resource: "a", Line: 2}}, `".." segment`},
		{[]model.Route{{Pattern: "/v1/inv*", Resource: "a", Line: 2}}, "* must be a whole segment"},
		{[]model.Route{{Pattern: "/v1/invoices?x=1", Resource: "a", Line: 2}}, "character"},
		{[]model.Route{{Pattern: "/v1/in voices", Resource: "a", Line: 2}}, "character"},
		{[]model.Route{{Pattern: "", Resource: "a", Line: 9}}, "line 9: a route pattern can't be empty"},
		{[]model.Route{{Pattern: "/" + strings.Repeat("a", 1100), Resource: "a", Line: 9}}, "longer than"},
		{[]model.Route{{Pattern: "/v1/a", Resource: "a", Line: 3}, {Pattern: "/v1/a", Resource: "b", Line: 8}},
			`line 8: route "/v1/a" of resource b is already listed at line 3 for resource a`},
		{[]model.Route{{Pattern: "/v1/a/*", Resource: "a", Line: 3}, {Pattern: "/v1/a/*", Public: true, Line: 12}},
			`line 12: route "/v1/a/*" of public is already listed at line 3 for resource a`},
		{[]model.Route{{Pattern: "/v1/*/x", Resource: "a", Line: 3}, {Pattern: "/v1/*/x", Resource: "a", Line: 4}},
			`line 4: route "/v1/*/x" of resource a is already listed at line 3`},
	} {
		_, err := model.NewRouteTable(tc.routes)
		if err == nil || model.ErrorCode(err) != model.EINVALID || !strings.Contains(model.ErrorMessage(err), tc.want) {
			t.Errorf("NewRouteTable(%+v) = %v; want EINVALID containing %q", tc.routes, err, tc.want)
		}
	}
}

func TestCanonicalPath(t *testing.T) {
	for _, tc := range []struct {
		path, escaped string
		want          bool
	}{
		{"/v1/invoices", "/v1/invoices", true},
		{"/v1/invoices/", "/v1/invoices/", true},
		{"/", "/", true},
		{"/v1/inv oices", "/v1/inv%20oices", true},
		{"/v1/invoices/../admin", "/v1/invoices/../admin", false},
		{"/v1/./invoices", "/v1/./invoices", false},
		{"/v1//invoices", "/v1//invoices", false},
		{"//v1", "//v1", false},
		{"/v1/a/b", "/v1/a%2Fb", false},
		{"/v1/a/b", "/v1/a%2fb", false},
		{`/v1/a\b`, "/v1/a%5cb", false},
		{`/v1/a\..\b`, `/v1/a\..\b`, false},
		{"/v1/a\x00", "/v1/a%00", false},
		{"/v1/a\n", "/v1/a%0A", false},
		{"", "", false},
		{"v1", "v1", false},
		{"/..", "/..", false},
	} {
		if got := model.CanonicalPath(tc.path, tc.escaped); got != tc.want {
			t.Errorf("CanonicalPath(%q, %q) = %v, want %v", tc.path, tc.escaped, got, tc.want)
		}
	}
}

// referenceMatch is the matcher's specification written the slow way: try
// every pattern, rank each match segment by segment (literal 2, one-segment
// `*` 1, trailing `*` 0 for every segment it covers), keep the highest.
func referenceMatch(routes []model.Route, path string) (string, bool) {
	segs := strings.Split(strings.TrimSuffix(path, "/"), "/")[1:]
	if path == "" || path[0] != '/' {
		return "", false
	}
	if strings.TrimSuffix(path, "/") == "" {
		segs = nil
	}
	best, bestRank := "", []int(nil)
	for _, r := range routes {
		ps := strings.Split(r.Pattern, "/")[1:]
		if r.Pattern == "/" {
			ps = nil
		}
		rank, ok := make([]int, 0, len(segs)), true
		for i, p := range ps {
			last := i == len(ps)-1
			switch {
			case p == "*" && last:
				if i >= len(segs) || segs[i] == "" {
					ok = false
				}
				for range segs[min(i, len(segs)):] {
					rank = append(rank, 0)
				}
			case i >= len(segs):
				ok = false
			case p == "*":
				if segs[i] == "" {
					ok = false
				}
				rank = append(rank, 1)
			case p == segs[i]:
				rank = append(rank, 2)
			default:
				ok = false
			}
			if !ok {
				break
			}
		}
		if !ok || len(rank) != len(segs) {
			continue
		}
		if bestRank == nil || greater(rank, bestRank) {
			best, bestRank = r.Pattern, rank
		}
	}
	return best, bestRank != nil
}

func greater(a, b []int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return false
}

// FuzzRouteMatch holds the trie matcher to referenceMatch on any canonical
// path, and checks it never matches a path that is not one.
func FuzzRouteMatch(f *testing.F) {
	for _, p := range []string{"/v1/invoices/inv_1/payments", "/v1/x/export", "/", "/v1/", "/healthz", "/v1/invoices//x",
		"/v1/a/../b", "/public/", "/v1/invoices/export/x", "/v1/*/export"} {
		f.Add(p)
	}
	tab, err := model.NewRouteTable(sampleRoutes)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path string) {
		got, ok := tab.Match(path)
		if !model.CanonicalPath(path, path) {
			return
		}
		want, wok := referenceMatch(sampleRoutes, path)
		if ok != wok || got.Pattern != want {
			t.Fatalf("Match(%q) = %q, %v; the reference says %q, %v", path, got.Pattern, ok, want, wok)
		}
	})
}

// FuzzRoutePattern checks that CheckRoutePattern never panics, and that a
// pattern it accepts matches the path spelled by itself (with `x` for `*`).
func FuzzRoutePattern(f *testing.F) {
	for _, p := range []string{"/v1/invoices", "/v1/*", "/*/a", "/", "//", "/a*", "/a/", "/a/./b", "/%2F", "/a?b"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if model.CheckRoutePattern(p) != nil {
			if _, err := model.NewRouteTable([]model.Route{{Pattern: p, Resource: "a"}}); err == nil {
				t.Fatalf("NewRouteTable accepted %q, which CheckRoutePattern refuses", p)
			}
			return
		}
		tab, err := model.NewRouteTable([]model.Route{{Pattern: p, Resource: "a"}})
		if err != nil {
			t.Fatalf("NewRouteTable(%q): %v", p, err)
		}
		path := strings.ReplaceAll(p, "*", "x")
		if r, ok := tab.Match(path); !ok || r.Pattern != p {
			t.Fatalf("pattern %q does not match %q", p, path)
		}
	})
}
