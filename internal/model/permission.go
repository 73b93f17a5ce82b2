package model

import (
	"regexp"
	"slices"
	"strings"
)

// Access is the level of access to one resource. Write implies read.
type Access string

// Access levels.
const (
	AccessNone  Access = "none"
	AccessRead  Access = "read"
	AccessWrite Access = "write"
)

// Valid reports whether a is a known access level.
func (a Access) Valid() bool { return a == AccessNone || a == AccessRead || a == AccessWrite }

// rank orders access levels so that covering is a comparison.
func (a Access) rank() int {
	switch a {
	case AccessRead:
		return 1
	case AccessWrite:
		return 2
	}
	return 0
}

// Includes reports whether a grants at least need.
func (a Access) Includes(need Access) bool { return a.rank() >= need.rank() }

// PermissionSet is the kind of permission a key has.
type PermissionSet string

// Permission sets.
const (
	PermReadAll    PermissionSet = "read_all"
	PermWriteAll   PermissionSet = "write_all"
	PermRestricted PermissionSet = "restricted"
)

// Valid reports whether s is a known permission set.
func (s PermissionSet) Valid() bool {
	return s == PermReadAll || s == PermWriteAll || s == PermRestricted
}

// Label is the permission set as shown to people.
func (s PermissionSet) Label() string {
	switch s {
	case PermReadAll:
		return "Read All"
	case PermWriteAll:
		return "Write All"
	case PermRestricted:
		return "Restricted"
	}
	return string(s)
}

// Resource is an entry of the resource catalog: something keys get access to.
type Resource struct {
	Name        string `yaml:"name" json:"name"`
	Label       string `yaml:"label" json:"label"`
	Description string `yaml:"description" json:"description"`
	// Access lists the levels the resource offers; [read] for a resource
	// with no write operations (the picker then offers None/Read only).
	// Empty means read and write.
	Access []Access `yaml:"access,omitempty" json:"access,omitempty"`
	// Routes are the gateway's path patterns for this resource (see Route).
	Routes []string `yaml:"routes" json:"routes,omitempty"`
}

// ReadOnly reports whether the resource offers read access only.
func (r Resource) ReadOnly() bool {
	return len(r.Access) > 0 && !slices.Contains(r.Access, AccessWrite)
}

// BuiltinResources are keyward's own resources, always in the catalog.
// key_verification allows POST /v1/keys/verify and nothing else, so that a
// backend that checks keys need not be able to list them (api_keys:read
// also allows verify).
var BuiltinResources = []Resource{
	{Name: "api_keys", Label: "API keys", Description: "List, create, edit, revoke and delete API keys."},
	{Name: "members", Label: "Members", Description: "See the team's members and their roles."},
	{Name: "audit_log", Label: "Audit log", Description: "Read the team's audit log."},
	{Name: "webhooks", Label: "Webhooks", Description: "List, add, change and delete webhook endpoints; see their deliveries."},
	{Name: "key_verification", Label: "Key verification", Access: []Access{AccessRead},
		Description: "Lets a backend check keys (POST /v1/keys/verify) and nothing else."},
}

var resourceName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// Catalog is the list of resources a permission can name.
type Catalog struct {
	list []Resource
}

// NewCatalog returns the built-in resources followed by extra ones. It returns
// EINVALID for a bad or duplicate name.
func NewCatalog(extra []Resource) (*Catalog, error) {
	c := &Catalog{list: slices.Clone(BuiltinResources)}
	for _, r := range extra {
		if !resourceName.MatchString(r.Name) {
			return nil, Errorf(EINVALID, "resource name %q must match %s", r.Name, resourceName)
		}
		if c.Has(r.Name) {
			return nil, Errorf(EINVALID, "resource %q is listed twice", r.Name)
		}
		if r.Label == "" {
			r.Label = r.Name
		}
		for _, a := range r.Access {
			if a != AccessRead && a != AccessWrite {
				return nil, Errorf(EINVALID, "resource %q: access may list read and write, not %q", r.Name, a)
			}
		}
		c.list = append(c.list, r)
	}
	return c, nil
}

// Resources returns the catalog in display order.
func (c *Catalog) Resources() []Resource { return c.list }

// Find returns the resource of that name, if the catalog lists it.
func (c *Catalog) Find(name string) (Resource, bool) {
	i := slices.IndexFunc(c.list, func(r Resource) bool { return r.Name == name })
	if i < 0 {
		return Resource{}, false
	}
	return c.list[i], true
}

// Has reports whether the catalog lists a resource of that name.
func (c *Catalog) Has(name string) bool {
	return slices.ContainsFunc(c.list, func(r Resource) bool { return r.Name == name })
}

// Permission is what a key may do: a set and, for restricted keys, the access
// per resource (resources absent from Scopes have none).
type Permission struct {
	Set    PermissionSet
	Scopes map[string]Access
}

// Allows reports whether the permission grants need on resource.
func (p Permission) Allows(resource string, need Access) bool {
	switch p.Set {
	case PermWriteAll:
		return true
	case PermReadAll:
		return need.rank() <= AccessRead.rank()
	case PermRestricted:
		return p.Scopes[resource].Includes(need)
	}
	return false
}

// Covers reports whether p grants everything q grants, so that a key holding p
// may create or widen a key to q without escalating.
func (p Permission) Covers(q Permission) bool {
	switch q.Set {
	case PermWriteAll:
		return p.Set == PermWriteAll
	case PermReadAll:
		return p.Set == PermWriteAll || p.Set == PermReadAll
	case PermRestricted:
		for r, a := range q.Scopes {
			if !p.Allows(r, a) {
				return false
			}
		}
		return true
	}
	return false
}

// ScopeStrings lists the granted scopes as "resource:access", sorted. read_all
// and write_all, which cover resources added later, are "*:read" and "*:write".
func (p Permission) ScopeStrings() []string {
	switch p.Set {
	case PermReadAll:
		return []string{"*:read"}
	case PermWriteAll:
		return []string{"*:write"}
	}
	out := make([]string, 0, len(p.Scopes))
	for r, a := range p.Scopes {
		if a != AccessNone {
			out = append(out, r+":"+string(a))
		}
	}
	slices.Sort(out)
	return out
}

// Summary describes the permission in a few words ("Restricted · 3 scopes").
func (p Permission) Summary() string {
	if p.Set != PermRestricted {
		return p.Set.Label()
	}
	n := len(p.ScopeStrings())
	if n == 1 {
		return "Restricted · 1 scope"
	}
	return "Restricted · " + itoa(n) + " scopes"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}

// ParseScope parses "resource:read" or "resource:write". It returns EINVALID
// for another shape or a resource missing from the catalog.
func ParseScope(c *Catalog, s string) (string, Access, error) {
	res, acc, ok := strings.Cut(strings.TrimSpace(s), ":")
	a := Access(acc)
	if !ok || (a != AccessRead && a != AccessWrite) {
		return "", "", Errorf(EINVALID, "Scope %q must look like resource:read or resource:write.", s)
	}
	r, ok := c.Find(res)
	if !ok {
		return "", "", Errorf(EINVALID, "Unknown resource %q in scope %q.", res, s)
	}
	if a == AccessWrite && r.ReadOnly() {
		return "", "", Errorf(EINVALID, "%s is read only: use %s:read.", r.Label, res)
	}
	return res, a, nil
}

// NewPermission checks a permission set and, for restricted, its scopes
// ("resource:access" strings). It returns EINVALID, with the field
// "permission" or "scopes", for an unknown set, an unknown scope or a
// restricted permission with no scope.
func NewPermission(c *Catalog, set PermissionSet, scopes []string) (Permission, error) {
	if !set.Valid() {
		return Permission{}, &Error{Code: EINVALID, Message: "Choose Read All, Write All or Restrict All.",
			Fields: map[string]string{"permission": "Choose Read All, Write All or Restrict All."}}
	}
	if set != PermRestricted {
		return Permission{Set: set}, nil
	}
	p := Permission{Set: set, Scopes: map[string]Access{}}
	for _, s := range scopes {
		r, a, err := ParseScope(c, s)
		if err != nil {
			return Permission{}, &Error{Code: EINVALID, Message: ErrorMessage(err), Fields: map[string]string{"scopes": ErrorMessage(err)}}
		}
		if a.rank() > p.Scopes[r].rank() {
			p.Scopes[r] = a
		}
	}
	if len(p.Scopes) == 0 {
		msg := "Pick at least one resource with Read or Write access."
		return Permission{}, &Error{Code: EINVALID, Message: msg, Fields: map[string]string{"scopes": msg}}
	}
	return p, nil
}

// PermissionFromStored rebuilds a Permission from stored scope strings without
// checking them against a catalog (a resource removed from the catalog since
// keeps its grant, harmlessly).
func PermissionFromStored(set PermissionSet, scopes []string) Permission {
	p := Permission{Set: set}
	if set != PermRestricted {
		return p
	}
	p.Scopes = make(map[string]Access, len(scopes))
	for _, s := range scopes {
		if r, a, ok := strings.Cut(s, ":"); ok && Access(a).Valid() {
			p.Scopes[r] = Access(a)
		}
	}
	return p
}
