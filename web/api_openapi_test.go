package web

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/web/openapi"
)

// documentedOp is one operation of the OpenAPI document.
type documentedOp struct {
	id, method, path, scope string
	// alternatives are scopes that allow the operation too (x-keyward-scope-alternatives).
	alternatives []string
}

func documentedOperations(t testing.TB) []documentedOp {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openapi.JSON)
	if err != nil {
		t.Fatal(err)
	}
	var ops []documentedOp
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			scope, ok := op.Extensions["x-keyward-scope"].(string)
			if !ok {
				t.Fatalf("%s %s has no x-keyward-scope", method, path)
			}
			var alt []string
			if a, ok := op.Extensions["x-keyward-scope-alternatives"].([]any); ok {
				for _, v := range a {
					alt = append(alt, v.(string))
				}
			}
			ops = append(ops, documentedOp{op.OperationID, method, path, scope, alt})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].path+ops[i].method < ops[j].path+ops[j].method })
	return ops
}

// TestOpenAPIDescribesEveryRoute holds the document and the router in step:
// every /v1 route is documented and every documented operation is routed,
// and each documented scope follows the method rule.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	app := newAPIApp(t)
	documented := map[string]documentedOp{}
	for _, op := range documentedOperations(t) {
		documented[op.method+" "+op.path] = op
		if op.scope == "" {
			// whoami and reportLeak take any valid key; the secret-scanning
			// endpoint takes no key at all (it is signed by the scanner).
			if op.id != "whoami" && op.id != "whoamiHead" && op.id != "reportLeak" && op.id != "secretScanningGitHub" {
				t.Fatalf("%s %s needs no scope", op.method, op.path)
			}
			continue
		}
		_, access, _ := strings.Cut(op.scope, ":")
		want := "write"
		if op.method == http.MethodGet || op.method == http.MethodHead || op.id == "verifyKey" { // verify changes nothing
			want = "read"
		}
		if access != want {
			t.Fatalf("%s %s needs %s: a %s should need :%s", op.method, op.path, op.scope, op.method, want)
		}
	}
	param := regexp.MustCompile(`:([a-z_]+)`)
	routed := map[string]bool{}
	for _, r := range app.srv.echo.Routes() {
		if !strings.HasPrefix(r.Path, "/v1/") || strings.HasSuffix(r.Path, "*") || r.Method == "echo_route_any" || r.Method == echo.RouteNotFound {
			continue
		}
		key := r.Method + " " + param.ReplaceAllString(r.Path, "{$1}")
		if r.Path == "/v1/" || r.Path == "/v1" {
			continue
		}
		routed[key] = true
		if _, ok := documented[key]; !ok {
			t.Errorf("route %s is not in the OpenAPI document", key)
		}
	}
	if len(documented) != 28 || len(routed) != len(documented) {
		t.Fatalf("%d documented operations, %d routed", len(documented), len(routed))
	}
	for key := range documented {
		if !routed[key] {
			t.Errorf("the OpenAPI document lists %s, which is not routed", key)
		}
	}
}

func TestOpenAPIDocumentAndDocsPage(t *testing.T) {
	app := newAPIApp(t)
	res := app.call(t, http.MethodGet, "/openapi.json", nil, nil)
	res.wantStatus(t, http.StatusOK)
	var doc map[string]any
	if err := json.Unmarshal(res.Body, &doc); err != nil || doc["openapi"] != "3.1.0" {
		t.Fatalf("/openapi.json: %v, openapi %v", err, doc["openapi"])
	}
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("/openapi.json content type %q", res.Header.Get("Content-Type"))
	}

	page := app.client(t).get(t, "/docs")
	page.wantStatus(t, http.StatusOK)
	for _, op := range documentedOperations(t) {
		card := page.first(t, "article#"+op.id)
		text := textOf(card)
		if !strings.Contains(text, op.method) || !strings.Contains(text, op.path) || !strings.Contains(text, op.scope) {
			t.Fatalf("the docs card of %s lacks its method, path or scope: %q", op.id, text)
		}
	}
	for _, obj := range docsObjects {
		if !page.has(t, "article#"+"object-"+obj) {
			t.Fatalf("the docs page does not describe %s", obj)
		}
	}
	if !strings.Contains(page.text(t, "#object-APIKey"), "last_used_at") {
		t.Fatal("the APIKey object lists no last_used_at field")
	}
	for _, s := range page.find(t, "script") {
		if attr(s, "src") == "" {
			t.Fatal("the docs page has an inline script")
		}
	}
	if page.has(t, "[style]") {
		t.Fatal("the docs page has inline styles")
	}
}

// HEAD answers like GET without a body, and needs the same :read scope.
func TestHeadNeedsTheReadScope(t *testing.T) {
	app := newAPIApp(t)
	_, reader := app.key(t, app.team.ID, model.PermRestricted, "api_keys:read")
	_, other := app.key(t, app.team.ID, model.PermRestricted, "members:read")
	res := app.call(t, http.MethodHead, "/v1/api-keys", http.Header{"X-API-Key": {reader}}, nil)
	res.wantStatus(t, http.StatusOK)
	if len(res.Body) != 0 {
		t.Fatalf("HEAD answered with a body of %d bytes", len(res.Body))
	}
	app.call(t, http.MethodHead, "/v1/api-keys", http.Header{"X-API-Key": {other}}, nil).wantStatus(t, http.StatusForbidden)
	app.call(t, http.MethodHead, "/v1/whoami", nil, nil).wantStatus(t, http.StatusUnauthorized)
}

// TestOpenAPIListsEveryEventType: the endpoint schemas offer every event
// type an endpoint may subscribe to (model.EventTypes), with the wildcards.
func TestOpenAPIListsEveryEventType(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(openapi.JSON)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"WebhookEndpoint", "WebhookEndpointCreate", "WebhookEndpointUpdate"} {
		events := doc.Components.Schemas[name].Value.Properties["events"].Value
		var listed []string
		for _, v := range events.Items.Value.Examples {
			listed = append(listed, v.(string))
		}
		for _, typ := range append(slices.Clone(model.EventTypes), "api_key.*", "member.*", "webhook_endpoint.*", "*") {
			if !slices.Contains(listed, typ) || !strings.Contains(events.Description, typ) {
				t.Errorf("%s.events does not list %s", name, typ)
			}
		}
	}
}
