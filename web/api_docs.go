package web

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/keyward/keyward/views"
)

// docsObjects are the schemas the reference describes, in this order.
var docsObjects = []string{"Whoami", "APIKey", "APIKeyCreated", "APIKeyList", "APIKeyCreate", "APIKeyUpdate", "APIKeyRoll", "APIKeyRolled",
	"VerifyRequest", "VerifyResult", "Member", "MemberList", "AuditEvent", "AuditEventList", "Error"}

// methodOrder orders the operations of one path.
var methodOrder = []string{"GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"}

// apiDocs turns the OpenAPI document into the reference page's view.
func apiDocs(doc []byte) (views.APIDocs, error) {
	t, err := openapi3.NewLoader().LoadFromData(doc)
	if err != nil {
		return views.APIDocs{}, fmt.Errorf("loading the OpenAPI document: %w", err)
	}
	d := views.APIDocs{Title: t.Info.Title, Version: t.Info.Version, Intro: t.Info.Description}
	paths := t.Paths.Map()
	pathNames := make([]string, 0, len(paths))
	for p := range paths {
		pathNames = append(pathNames, p)
	}
	sort.Strings(pathNames)
	for _, tag := range t.Tags {
		sec := views.APIDocSection{ID: anchor(tag.Name), Name: tag.Name, Description: tag.Description}
		for _, p := range pathNames {
			item := paths[p]
			ops := item.Operations()
			for _, m := range methodOrder {
				op := ops[m]
				if op == nil || !slices.Contains(op.Tags, tag.Name) {
					continue
				}
				sec.Operations = append(sec.Operations, docsOperation(m, p, item, op))
			}
		}
		d.Sections = append(d.Sections, sec)
	}
	for _, name := range docsObjects {
		s := t.Components.Schemas[name]
		if s == nil {
			return views.APIDocs{}, fmt.Errorf("the OpenAPI document has no schema %s", name)
		}
		d.Objects = append(d.Objects, docsObject(name, s.Value))
	}
	return d, nil
}

func docsOperation(method, path string, item *openapi3.PathItem, op *openapi3.Operation) views.APIDocOperation {
	o := views.APIDocOperation{ID: op.OperationID, Method: method, Path: path, Summary: op.Summary, Description: op.Description}
	o.Scope, _ = op.Extensions["x-keyward-scope"].(string)
	for _, p := range append(slices.Clone(item.Parameters), op.Parameters...) {
		o.Params = append(o.Params, views.APIDocField{Name: p.Value.Name, In: p.Value.In, Type: schemaType(p.Value.Schema),
			Description: p.Value.Description, Required: p.Value.Required})
	}
	if op.RequestBody != nil {
		if mt := op.RequestBody.Value.Content.Get("application/json"); mt != nil {
			o.Body = refName(mt.Schema)
		}
	}
	responses := op.Responses.Map()
	codes := make([]string, 0, len(responses))
	for c := range responses {
		codes = append(codes, c)
	}
	sort.Strings(codes) // "default" sorts after the numbers
	for _, c := range codes {
		r := responses[c].Value
		rd := views.APIDocResponse{Status: c, Description: deref(r.Description)}
		if mt := r.Content.Get("application/json"); mt != nil {
			rd.Object = refName(mt.Schema)
		}
		o.Responses = append(o.Responses, rd)
	}
	o.Curl = curlExample(method, path, o.Body)
	return o
}

// curlExample is an example call with the key from an environment variable.
func curlExample(method, path, body string) string {
	var b strings.Builder
	b.WriteString("curl")
	if method != "GET" {
		b.WriteString(" -X " + method)
	}
	b.WriteString(` -H "Authorization: Bearer $KEYWARD_KEY"`)
	switch body {
	case "APIKeyCreate":
		b.WriteString(` \` + "\n" + `  -H "Content-Type: application/json" -d '{"name":"billing sync","permission":"restricted","scopes":["invoices:read"]}'`)
	case "APIKeyUpdate":
		b.WriteString(` \` + "\n" + `  -H "Content-Type: application/json" -d '{"name":"billing sync (old)"}'`)
	case "VerifyRequest":
		b.WriteString(` \` + "\n" + `  -H "Content-Type: application/json" -d '{"key":"kw_live_…","scope":"invoices:read"}'`)
	}
	b.WriteString(` \` + "\n  https://keyward.example.com" + strings.ReplaceAll(path, "{id}", "key_8fJ2kQ0xYbN5tR7mW1cVz3hL"))
	return b.String()
}

func docsObject(name string, s *openapi3.Schema) views.APIDocObject {
	o := views.APIDocObject{Name: name, Description: s.Description}
	for _, v := range s.OneOf {
		o.Variants = append(o.Variants, docsObject(v.Value.Title, v.Value))
	}
	required := slices.Clone(s.Required)
	props := openapi3.Schemas{}
	for _, a := range s.AllOf {
		required = append(required, a.Value.Required...)
		for k, v := range a.Value.Properties {
			props[k] = v
		}
	}
	for k, v := range s.Properties {
		props[k] = v
	}
	names := make([]string, 0, len(props))
	for k := range props {
		names = append(names, k)
	}
	// Required fields first, each group in the order of the field list.
	order := func(k string) int {
		if i := slices.Index(required, k); i >= 0 {
			return i
		}
		return len(required) + 1
	}
	sort.SliceStable(names, func(i, j int) bool {
		if oi, oj := order(names[i]), order(names[j]); oi != oj {
			return oi < oj
		}
		return names[i] < names[j]
	})
	for _, k := range names {
		p := props[k]
		o.Fields = append(o.Fields, views.APIDocField{Name: k, Type: schemaType(p), Description: p.Value.Description,
			Required: slices.Contains(required, k)})
	}
	return o
}

// schemaType describes a schema's type in a few words.
func schemaType(s *openapi3.SchemaRef) string {
	if s == nil || s.Value == nil {
		return ""
	}
	if n := refName(s); n != "" {
		v := s.Value
		if len(v.Enum) > 0 {
			return enumText(v.Enum)
		}
		return n
	}
	v := s.Value
	switch {
	case v.Const != nil:
		return fmt.Sprintf("%v", v.Const)
	case len(v.Enum) > 0:
		return enumText(v.Enum)
	}
	var types []string
	for _, t := range v.Type.Slice() {
		switch {
		case t == "array":
			types = append(types, "array of "+schemaType(v.Items))
		case t == "string" && v.Format != "":
			types = append(types, "string ("+v.Format+")")
		default:
			types = append(types, t)
		}
	}
	return strings.Join(types, " or ")
}

func enumText(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = fmt.Sprint(v)
	}
	return "one of " + strings.Join(parts, ", ")
}

// refName is the component name a schema refers to, or "".
func refName(s *openapi3.SchemaRef) string {
	if s == nil {
		return ""
	}
	_, name, _ := strings.Cut(s.Ref, "#/components/schemas/")
	return name
}

func anchor(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, " ", "-"))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
