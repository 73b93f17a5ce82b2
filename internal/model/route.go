package model

import (
	"fmt"
	"strings"
)

// Route is one path pattern of the scopes file: it belongs to a resource
// (checked against the key's scopes) or is public (no key needed).
//
// Patterns are absolute paths of literal segments and `*` segments. A `*`
// in the middle matches exactly one segment; a `*` as the last segment
// matches one or more segments (a prefix). `/v1/invoices` is exact,
// `/v1/invoices/*` is everything below it, `/v1/*/export` one level.
type Route struct {
	Pattern  string
	Resource string // empty for a public route
	Public   bool
	// Line is where the pattern stands in the scopes file (0: unknown).
	Line int
}

// maxRoutePattern bounds a pattern's length.
const maxRoutePattern = 1024

// routeNode is a node of the route trie, one per pattern prefix.
type routeNode struct {
	lit  map[string]*routeNode
	star *routeNode // `*` matching one segment
	rest *Route     // trailing `*`: one or more segments
	end  *Route     // the pattern ends here
}

// RouteTable maps request paths to routes by longest match. It is
// immutable once built and safe for concurrent use.
type RouteTable struct {
	root   routeNode
	routes []Route
}

// CheckRoutePattern returns EINVALID, saying why, unless p is a well-formed
// pattern.
func CheckRoutePattern(p string) error {
	switch {
	case p == "":
		return Errorf(EINVALID, "a route pattern can't be empty")
	case len(p) > maxRoutePattern:
		return Errorf(EINVALID, "route pattern is longer than %d characters", maxRoutePattern)
	case p[0] != '/':
		return Errorf(EINVALID, "route pattern %q must start with /", p)
	case p == "/":
		return nil
	case strings.HasSuffix(p, "/"):
		return Errorf(EINVALID, "route pattern %q ends with /: write it without (a trailing slash is matched anyway)", p)
	}
	for _, seg := range strings.Split(p[1:], "/") {
		switch {
		case seg == "":
			return Errorf(EINVALID, "route pattern %q has an empty segment (//)", p)
		case seg == "." || seg == "..":
			return Errorf(EINVALID, "route pattern %q has a %q segment", p, seg)
		case seg != "*" && strings.Contains(seg, "*"):
			return Errorf(EINVALID, "route pattern %q: * must be a whole segment (such as /v1/invoices/*)", p)
		}
		for i := 0; i < len(seg); i++ {
			if b := seg[i]; b <= ' ' || b >= 0x7f || strings.IndexByte(`?#%\`, b) >= 0 {
				return Errorf(EINVALID, "route pattern %q has a character that can't be in a path pattern (spaces, controls, ?, #, %%, \\ or non-ASCII)", p)
			}
		}
	}
	return nil
}

// routeSegments splits a pattern or a canonical path into its segments; a
// trailing slash is ignored, and "/" has none.
func routeSegments(p string) []string {
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p[1:], "/")
}

// NewRouteTable checks every pattern and builds the table. It returns
// EINVALID naming the line of a malformed pattern, or of a pattern listed
// twice (in one resource, in two, or as both public and a resource's).
func NewRouteTable(routes []Route) (*RouteTable, error) {
	t := &RouteTable{routes: make([]Route, len(routes))}
	copy(t.routes, routes)
	for i := range t.routes {
		r := &t.routes[i]
		if err := CheckRoutePattern(r.Pattern); err != nil {
			return nil, Errorf(EINVALID, "%s%s", linePrefix(r.Line), ErrorMessage(err))
		}
		n := &t.root
		segs := routeSegments(r.Pattern)
		slot := &n.end
		for j, seg := range segs {
			if seg == "*" && j == len(segs)-1 {
				slot = &n.rest
				break
			}
			if seg == "*" {
				if n.star == nil {
					n.star = &routeNode{}
				}
				n = n.star
			} else {
				if n.lit == nil {
					n.lit = map[string]*routeNode{}
				}
				next := n.lit[seg]
				if next == nil {
					next = &routeNode{}
					n.lit[seg] = next
				}
				n = next
			}
			slot = &n.end
		}
		if prev := *slot; prev != nil {
			return nil, Errorf(EINVALID, "%sroute %q of %s is already listed%s for %s; each pattern may appear once",
				linePrefix(r.Line), r.Pattern, r.owner(), atLine(prev.Line), prev.owner())
		}
		*slot = r
	}
	return t, nil
}

func (r *Route) owner() string {
	if r.Public {
		return "public"
	}
	return "resource " + r.Resource
}

func linePrefix(line int) string {
	if line <= 0 {
		return ""
	}
	return fmt.Sprintf("line %d: ", line)
}

func atLine(line int) string {
	if line <= 0 {
		return ""
	}
	return fmt.Sprintf(" at line %d", line)
}

// Routes returns the table's routes in the order they were given.
func (t *RouteTable) Routes() []Route { return t.routes }

// Match returns the route for a canonical path (see CanonicalPath): the
// most specific pattern that matches, comparing segment by segment from the
// left, where a literal beats a one-segment `*`, which beats a trailing `*`.
// ok is false when no pattern matches.
func (t *RouteTable) Match(path string) (r Route, ok bool) {
	if t == nil || path == "" || path[0] != '/' {
		return Route{}, false
	}
	p := strings.TrimSuffix(path, "/")
	if p == "" {
		if t.root.end != nil {
			return *t.root.end, true
		}
		return Route{}, false
	}
	if m := t.root.match(p[1:]); m != nil {
		return *m, true
	}
	return Route{}, false
}

// match matches rest (the path after this node's segment, without its
// leading slash). Each trie node sits at one depth, so the search visits
// each node at most once whatever the path.
func (n *routeNode) match(rest string) *Route {
	seg, tail, more := strings.Cut(rest, "/")
	if next := n.lit[seg]; next != nil {
		if m := next.step(tail, more); m != nil {
			return m
		}
	}
	if n.star != nil && seg != "" {
		if m := n.star.step(tail, more); m != nil {
			return m
		}
	}
	if n.rest != nil && seg != "" {
		return n.rest
	}
	return nil
}

// step continues at n after one segment: the end if the path ends here.
func (n *routeNode) step(tail string, more bool) *Route {
	if !more {
		return n.end
	}
	return n.match(tail)
}

// CanonicalPath reports whether a request path, decoded, is in the one form
// the gateway forwards: absolute, no empty, "." or ".." segments, no
// backslash and no control characters. escaped is the path as sent; it must
// not encode a slash or a backslash, which would read as a different path
// to an upstream that decodes before routing. A trailing slash is allowed.
func CanonicalPath(path, escaped string) bool {
	if path == "" || path[0] != '/' || len(path) > 8192 {
		return false
	}
	for i := 0; i < len(path); i++ {
		if b := path[i]; b < ' ' || b == 0x7f || b == '\\' {
			return false
		}
	}
	p := strings.TrimSuffix(path[1:], "/")
	if p != "" {
		for _, seg := range strings.Split(p, "/") {
			if seg == "" || seg == "." || seg == ".." {
				return false
			}
		}
	}
	for i := 0; i+2 < len(escaped); i++ {
		if escaped[i] == '%' {
			hex := strings.ToUpper(escaped[i+1 : i+3])
			if hex == "2F" || hex == "5C" {
				return false
			}
		}
	}
	return true
}
