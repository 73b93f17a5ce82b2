package web

// Adversarial use of the dashboard: forged and cross-site posts, role
// escalation, other teams' ids on every id-taking route, hostile key and
// team names, and SQL injection in the key table's parameters. Every case
// checks the answer and that the database did not change.

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"golang.org/x/net/html"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
)

// signedIn returns a new browser signed in as email (password testPassword).
func (fx *secFixture) signedIn(t *testing.T, email string) *testClient {
	t.Helper()
	cl := fx.app.client(t)
	cl.login(t, email, testPassword)
	return cl
}

// dashboardRoutes lists the dashboard's routes (not /v1, assets or probes)
// with one of the methods.
func (fx *secFixture) dashboardRoutes(methods ...string) []*echo.Route {
	var out []*echo.Route
	for _, r := range fx.app.srv.echo.Routes() {
		if !strings.HasPrefix(r.Path, "/") || strings.HasPrefix(r.Path, "/v1") || strings.Contains(r.Path, "*") ||
			r.Method == echo.RouteNotFound {
			continue
		}
		for _, m := range methods {
			if r.Method == m {
				out = append(out, r)
			}
		}
	}
	return out
}

var unsafeMethods = []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// send sends method path with form as a urlencoded body and extra headers,
// exactly as given (no CSRF token of its own).
func (cl *testClient) send(t *testing.T, method, path string, form url.Values, h http.Header) *testResponse {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := cl.newRequest(t, method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range h {
		req.Header[k] = v
	}
	return cl.do(t, req)
}

// fillPath puts id in place of a route's :id.
func fillPath(path, id string) string { return strings.ReplaceAll(path, ":id", url.PathEscape(id)) }

func TestSecurityCSRFOnEveryUnsafeDashboardRoute(t *testing.T) {
	fx := newSecFixture(t)
	ctx := context.Background()
	bob := fx.app.newMember(t, fx.team.ID, "bob@example.com", model.RoleMember)
	globex := fx.app.createTeam(t, "Globex")
	fx.app.addMember(t, globex.ID, fx.owner.ID, model.RoleOwner)
	k, _ := fx.key(t, fx.team.ID, "Billing", model.PermReadAll)
	// Another signed-in user, whose own valid token is replayed below.
	fx.app.newMember(t, fx.team.ID, "eve@example.com", model.RoleAdmin)
	eve := fx.signedIn(t, "eve@example.com")
	eveToken := eve.csrfToken(t)
	anon := fx.app.client(t)
	anonToken := anon.csrfToken(t)
	token := fx.cl.csrfToken(t)

	// Forms that would change something if the CSRF check let them through.
	forms := map[string]url.Values{
		"/settings/api-keys":            keyForm("name", "Forged"),
		"/settings/api-keys/:id":        {"name": {"Forged"}, "permission": {"write_all"}, "expires": {"never"}},
		"/settings/members":             {"email": {"forged@example.com"}, "role": {"OWNER"}},
		"/settings/members/:id/role":    {"role": {"OWNER"}},
		"/teams/switch":                 {"team_id": {strconv.FormatInt(globex.ID, 10)}},
		"/account/password":             {"current_password": {testPassword}, "new_password": {"forged password 123"}, "confirm_password": {"forged password 123"}},
		"/login":                        {"email": {"owner@example.com"}, "password": {testPassword}},
		"/setup":                        {"email": {"x@example.com"}, "password": {testPassword}, "team": {"X"}},
		"/settings/api-keys/:id/revoke": {},
		"/settings/api-keys/:id/delete": {},
		"/settings/members/:id/remove":  {},
		"/logout":                       {},
	}
	variants := []struct {
		name   string
		field  string // the _csrf field ("" for none)
		header http.Header
	}{
		{"no token", "", nil},
		{"another user's token", eveToken, nil},
		{"another user's token in the header", "", http.Header{"X-Csrf-Token": {eveToken}}},
		{"the signed-out visitor's token", anonToken, nil},
		{"a token with a character changed", token[:len(token)-1] + string(token[len(token)-1]^1), nil},
		{"Sec-Fetch-Site: cross-site", token, http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		{"a foreign Origin", token, http.Header{"Origin": {"https://evil.example"}}},
		{"Origin: null", token, http.Header{"Origin": {"null"}}},
		{"a look-alike Origin", token, http.Header{"Origin": {fx.app.URL + ".evil.example"}}},
	}

	routes := fx.dashboardRoutes(unsafeMethods...)
	if len(routes) < 10 {
		t.Fatalf("only %d unsafe dashboard routes found", len(routes))
	}
	before := fx.snapshot(t)
	for _, r := range routes {
		id := k.PublicID
		if strings.HasPrefix(r.Path, "/settings/members/") {
			id = strconv.FormatInt(bob.ID, 10)
		}
		path := fillPath(r.Path, id)
		form, ok := forms[r.Path]
		if !ok {
			form = url.Values{"name": {"Forged"}, "role": {"OWNER"}, "email": {"forged@example.com"}}
		}
		for _, v := range variants {
			f := url.Values{}
			for key, vals := range form {
				f[key] = vals
			}
			if v.field != "" {
				f.Set(csrfFormField, v.field)
			}
			res := fx.cl.send(t, r.Method, path, f, v.header)
			if res.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s with %s: status %d, want 403", r.Method, path, v.name, res.StatusCode)
			}
		}
	}
	fx.unchanged(t, before, "forged dashboard posts")
	if m, err := fx.app.store.FindMembership(ctx, fx.team.ID, fx.owner.ID); err != nil || m.Role != model.RoleOwner {
		t.Fatalf("owner membership %+v %v", m, err)
	}
	// The same session with its own token is let through (the refusals
	// above were the token's doing, not the form's).
	fx.cl.postForm(t, "/settings/api-keys/"+k.PublicID+"/revoke", nil).wantRedirect(t, "/settings/api-keys")
}

func TestSecurityRoleEscalation(t *testing.T) {
	fx := newSecFixture(t)
	ctx := context.Background()
	admin := fx.app.newMember(t, fx.team.ID, "admin@example.com", model.RoleAdmin)
	member := fx.app.newMember(t, fx.team.ID, "member@example.com", model.RoleMember)
	owner, err := fx.app.store.FindMembership(ctx, fx.team.ID, fx.owner.ID)
	if err != nil {
		t.Fatal(err)
	}
	globex := fx.app.createTeam(t, "Globex")
	k, _ := fx.key(t, fx.team.ID, "Billing", model.PermReadAll)
	id := func(m model.Membership) string { return strconv.FormatInt(m.ID, 10) }

	ad := fx.signedIn(t, "admin@example.com")
	mem := fx.signedIn(t, "member@example.com")
	before := fx.snapshot(t)
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/settings/members/" + id(member) + "/role", url.Values{"role": {"OWNER"}}},
		{"/settings/members/" + id(admin) + "/role", url.Values{"role": {"OWNER"}}}, // themselves
		{"/settings/members/" + id(owner) + "/role", url.Values{"role": {"ADMIN"}}},
		{"/settings/members/" + id(owner) + "/remove", nil},
		{"/settings/members", url.Values{"email": {"boss@example.com"}, "role": {"OWNER"}}},
		{"/settings/members", url.Values{"email": {"owner@example.com"}, "role": {"OWNER"}}},
		// Two values: the one checked is the one applied.
		{"/settings/members/" + id(member) + "/role", url.Values{"role": {"OWNER", "MEMBER"}}},
		{"/settings/members", url.Values{"email": {"boss@example.com"}, "role": {"OWNER", "MEMBER"}}},
		{"/settings/members/" + id(member) + "/role?role=MEMBER", url.Values{"role": {"OWNER"}}},
	} {
		if res := ad.postForm(t, tc.path, tc.form); res.StatusCode != http.StatusForbidden {
			t.Errorf("ADMIN POST %s %v: status %d, want 403", tc.path, tc.form, res.StatusCode)
		}
	}
	fx.unchanged(t, before, "an ADMIN reaching for OWNER")

	// A MEMBER gets 403 on every unsafe settings route, with a valid token.
	for _, r := range fx.dashboardRoutes(unsafeMethods...) {
		if !strings.HasPrefix(r.Path, "/settings/") {
			continue
		}
		target := k.PublicID
		if strings.HasPrefix(r.Path, "/settings/members/") {
			target = id(member)
		}
		path := fillPath(r.Path, target)
		form := url.Values{"name": {"Member key"}, "permission": {"write_all"}, "expires": {"never"}, "environment": {"live"},
			"email": {"x@example.com"}, "role": {"OWNER"}}
		var res *testResponse
		if r.Method == http.MethodPost {
			res = mem.postForm(t, path, form)
		} else {
			res = mem.htmx(t, r.Method, path, form)
		}
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("MEMBER %s %s: status %d, want 403", r.Method, path, res.StatusCode)
		}
	}
	fx.unchanged(t, before, "a MEMBER posting to settings")

	// Extra fields in forms are ignored: a key is made in the session's
	// team by the session's user, and nobody's role moves.
	res := ad.postForm(t, "/settings/api-keys", withFields(keyForm("name", "Extra fields"),
		"role", "OWNER", "team_id", strconv.FormatInt(globex.ID, 10), "team", strconv.FormatInt(globex.ID, 10),
		"user_id", strconv.FormatInt(fx.owner.ID, 10), "created_by", "owner@example.com", "key_hash", strings.Repeat("0", 64),
		"public_id", "key_chosen", "id", "1", "revoked_at", "2020-01-01", "hint", "kw_live_xxxx…xxxx", "scopes", "api_keys:write"))
	res.wantStatus(t, http.StatusOK)
	raw := attr(res.first(t, "input#new-key"), "value")
	made, err := fx.app.store.FindKeyByHash(ctx, keys.Hash(raw))
	if err != nil {
		t.Fatal(err)
	}
	if made.TeamID != fx.team.ID || made.PublicID == "key_chosen" || made.CreatedBy != "admin@example.com" ||
		made.RevokedAt != nil || made.PermissionSet != model.PermReadAll || len(made.Scopes) != 0 {
		t.Fatalf("extra form fields reached the key: %+v", made)
	}
	ad.postForm(t, "/settings/api-keys/"+k.PublicID, url.Values{"name": {"Renamed"}, "permission": {"read_all"},
		"expires": {"never"}, "role": {"OWNER"}, "team_id": {strconv.FormatInt(globex.ID, 10)}})
	ad.postForm(t, "/account/password", url.Values{"role": {"OWNER"}, "team_id": {strconv.FormatInt(globex.ID, 10)}})
	ad.postForm(t, "/teams/switch", url.Values{"team_id": {strconv.FormatInt(fx.team.ID, 10)}, "role": {"OWNER"}})
	for _, m := range []struct {
		user int64
		want model.Role
	}{{fx.owner.ID, model.RoleOwner}, {admin.UserID, model.RoleAdmin}, {member.UserID, model.RoleMember}} {
		got, err := fx.app.store.FindMembership(ctx, fx.team.ID, m.user)
		if err != nil || got.Role != m.want {
			t.Fatalf("user %d is %s (%v), want %s", m.user, got.Role, err, m.want)
		}
	}
	if ms, _ := fx.app.store.FindMembers(ctx, globex.ID); len(ms) != 0 {
		t.Fatalf("Globex gained members: %+v", ms)
	}
	if _, n, _ := fx.app.store.FindKeys(ctx, model.KeyFilter{TeamID: globex.ID, Limit: 1}); n != 0 {
		t.Fatalf("Globex gained %d keys", n)
	}
}

// withFields returns form with extra key/value pairs.
func withFields(form url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, v := range form {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Add(kv[i], kv[i+1])
	}
	return out
}

func TestSecurityOtherTeamsIDsAreNotFound(t *testing.T) {
	fx := newSecFixture(t)
	ctx := context.Background()
	globex := fx.app.createTeam(t, "Globex")
	boss := fx.app.newMember(t, globex.ID, "boss@globex.example", model.RoleOwner)
	worker := fx.app.newMember(t, globex.ID, "worker@globex.example", model.RoleMember)
	theirKey, theirRaw := fx.key(t, globex.ID, "Globex key", model.PermWriteAll)
	revokedKey, _ := fx.key(t, globex.ID, "Globex old key", model.PermReadAll)
	if _, err := fx.app.store.RevokeKey(ctx, globex.ID, revokedKey.PublicID, model.Actor{Label: "test"}); err != nil {
		t.Fatal(err)
	}
	_, ours := fx.authKey(t, "Acme automation", model.PermWriteAll)
	fx.key(t, fx.team.ID, "Acme other", model.PermReadAll)

	keyIDs := []string{theirKey.PublicID, revokedKey.PublicID, keys.NewPublicID("key"), "key_", "0", "-1",
		"' OR 1=1--", "'; DROP TABLE api_keys;--", theirKey.PublicID + "' OR '1'='1", strings.ToUpper(theirKey.PublicID),
		" " + theirKey.PublicID, strings.Repeat("k", 5000)}
	memberIDs := []string{strconv.FormatInt(boss.ID, 10), strconv.FormatInt(worker.ID, 10), "987654321", "0", "-1",
		"1 OR 1=1", "' OR 1=1--", "9223372036854775808", "0x1", strconv.FormatInt(boss.ID, 10) + ";"}

	form := url.Values{"name": {"Hijacked"}, "permission": {"write_all"}, "expires": {"never"}, "role": {"MEMBER"}}
	before := fx.snapshot(t)
	n := 0
	for _, r := range fx.dashboardRoutes(http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete) {
		if !strings.Contains(r.Path, ":id") {
			continue
		}
		n++
		ids := append(append([]string(nil), keyIDs...), memberIDs...)
		switch {
		case strings.HasPrefix(r.Path, "/settings/api-keys/"):
			ids = keyIDs
		case strings.HasPrefix(r.Path, "/settings/members/"):
			ids = memberIDs
		}
		for _, id := range ids {
			path := fillPath(r.Path, id)
			var res *testResponse
			switch r.Method {
			case http.MethodGet:
				res = fx.cl.get(t, path)
			case http.MethodPost:
				res = fx.cl.postForm(t, path, form)
			default:
				res = fx.cl.htmx(t, r.Method, path, form)
			}
			if res.StatusCode != http.StatusNotFound {
				t.Errorf("%s %s: status %d, want 404", r.Method, path, res.StatusCode)
			}
		}
	}
	if n < 8 {
		t.Fatalf("only %d id-taking dashboard routes found", n)
	}
	for _, id := range []string{strconv.FormatInt(globex.ID, 10), "987654321", "-1", "1 OR 1=1", ""} {
		if res := fx.cl.postForm(t, "/teams/switch", url.Values{"team_id": {id}}); res.StatusCode != http.StatusNotFound {
			t.Errorf("switch to team %q: status %d, want 404", id, res.StatusCode)
		}
	}

	// The API, with a key of Acme.
	auth := bearerHeader(ours)
	for _, id := range keyIDs {
		p := "/v1/api-keys/" + url.PathEscape(id)
		fx.api(t, http.MethodGet, p, auth, "").wantStatus(t, http.StatusNotFound, "GET "+p)
		fx.api(t, http.MethodPatch, p, auth, `{"name":"Hijacked","permission":"write_all"}`).wantStatus(t, http.StatusNotFound, "PATCH "+p)
		fx.api(t, http.MethodPost, p+"/revoke", auth, "").wantStatus(t, http.StatusNotFound, "revoke "+p)
		fx.api(t, http.MethodDelete, p, auth, "").wantStatus(t, http.StatusNotFound, "DELETE "+p)
	}
	fx.api(t, http.MethodGet, "/v1/api-keys?cursor="+theirKey.PublicID, auth, "").wantStatus(t, http.StatusUnprocessableEntity, "another team's key as a cursor")
	res := fx.api(t, http.MethodPost, "/v1/keys/verify", auth, `{"key":"`+theirRaw+`"}`)
	if res.StatusCode != http.StatusOK || strings.TrimSpace(res.Body) != `{"valid":false,"code":"INVALID"}` {
		t.Fatalf("verifying another team's key: %d %s", res.StatusCode, res.Body)
	}
	for _, p := range []string{"/v1/api-keys", "/v1/members", "/v1/audit-log"} {
		res := fx.api(t, http.MethodGet, p, auth, "")
		res.wantStatus(t, http.StatusOK, p)
		for _, leak := range []string{"Globex", "globex.example", theirKey.PublicID, revokedKey.PublicID} {
			if strings.Contains(res.Body, leak) {
				t.Fatalf("GET %s shows %q of another team: %s", p, leak, res.Body)
			}
		}
	}
	fx.unchanged(t, before, "another team's ids")
	for _, p := range []string{"/settings/api-keys", "/settings/members", "/"} {
		body := fx.cl.get(t, p).Body
		for _, leak := range []string{"globex.example", theirKey.PublicID, theirKey.Hint} {
			if strings.Contains(body, leak) {
				t.Fatalf("%s shows %q of another team", p, leak)
			}
		}
	}
}

// hostileNames are key and team names meant to run script or htmx in the
// dashboard.
var hostileNames = []string{
	`<script>alert(1)</script>`,
	`<img src=x onerror=alert(1)>`,
	`<svg onload=alert(1)>`,
	`" hx-get="/settings/api-keys/new" hx-trigger="load" x="`,
	`' hx-post='/logout' hx-trigger='load' x='`,
	`javascript:alert(1)`,
	`</title><script>alert(1)</script>`,
	`</textarea><script>alert(1)</script>`,
	`<a href="javascript:alert(1)">click</a>`,
	`{{ .Raw }} ${alert(1)} <%= 1 %>`,
	`<iframe srcdoc="<script>alert(1)</script>">`,
	`x" onmouseover="alert(1)`,
	`<base href="https://evil.example/">`,
	`<meta http-equiv="refresh" content="0;url=https://evil.example">`,
}

// inert fails t if the page could run anything a name put in it (see
// inertProblem).
func inert(t *testing.T, what, body string) {
	t.Helper()
	if p := inertProblem(body); p != "" {
		t.Fatalf("%s: %s", what, p)
	}
}

// inertProblem says how a page could run something a name put in it, or
// returns "": scripts other than the server's own (from /static/, no inline
// code), event handler attributes, javascript: URLs, htmx attributes
// carrying a payload, and the payloads' elements.
func inertProblem(body string) string {
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		return err.Error()
	}
	var problem string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if problem != "" {
			return
		}
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script":
				if src := attr(n, "src"); !strings.HasPrefix(src, "/static/") || strings.TrimSpace(textOf(n)) != "" {
					problem = "a script that is not the server's own: src=" + src + " text=" + textOf(n)
				}
			case "iframe", "base", "object", "embed":
				problem = "an injected <" + n.Data + "> element"
			case "meta":
				if hasAttr(n, "http-equiv") {
					problem = "an injected <meta http-equiv>"
				}
			}
			for _, a := range n.Attr {
				k, v := strings.ToLower(a.Key), strings.ToLower(strings.TrimSpace(a.Val))
				bad := false
				switch {
				case strings.HasPrefix(k, "on"):
					bad = true
				case strings.HasPrefix(v, "javascript:") && k != "value" && k != "aria-label" && k != "title" && !strings.HasPrefix(k, "data-"):
					bad = true
				case strings.HasPrefix(k, "hx-") && (strings.Contains(v, "alert") || strings.Contains(v, "load") ||
					strings.Contains(v, "/logout") || strings.Contains(v, "evil")):
					bad = true
				case k == "x" && n.Namespace != "svg" || k == "src" && v == "x" || k == "srcdoc":
					bad = true
				}
				if bad && problem == "" {
					problem = "<" + n.Data + " " + a.Key + "=" + strconv.Quote(a.Val) + ">"
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return problem
}

// The check above is not vacuous: each payload, pasted into a page as is,
// is caught.
func TestSecurityInertCatchesRawPayloads(t *testing.T) {
	for _, name := range hostileNames {
		if strings.HasPrefix(name, "{{") {
			continue // template syntax is only text
		}
		page := `<!doctype html><html><head><title>` + name + `</title></head><body><p title="` + name + `">` + name +
			`</p><p class='` + name + `'></p><textarea>` + name + `</textarea><a href="` + name + `">x</a></body></html>`
		if inertProblem(page) == "" {
			t.Errorf("a raw %q in a page goes unnoticed", name)
		}
	}
}

func TestSecurityHostileNamesAreInert(t *testing.T) {
	fx := newSecFixture(t)
	ctx := context.Background()
	_, auth := fx.authKey(t, "Automation", model.PermWriteAll)
	// The team switcher shows team names on every page.
	evil := fx.app.createTeam(t, `<script>alert("team")</script><img src=x onerror=alert(1)>`)
	fx.app.addMember(t, evil.ID, fx.owner.ID, model.RoleAdmin)

	var ids []string
	for i, name := range hostileNames {
		var id string
		if i%2 == 0 {
			res := fx.cl.postForm(t, "/settings/api-keys", keyForm("name", name))
			res.wantStatus(t, http.StatusOK)
			inert(t, "the reveal page for "+name, res.Body)
			k, err := fx.app.store.FindKeyByHash(ctx, keys.Hash(attr(res.first(t, "input#new-key"), "value")))
			if err != nil {
				t.Fatal(err)
			}
			id = k.PublicID
			// The htmx create answers a dialog fragment.
			form := keyForm("name", name)
			form.Set("form_token", "")
			frag := fx.cl.htmxPost(t, "/settings/api-keys", form)
			frag.wantStatus(t, http.StatusOK)
			inert(t, "the reveal dialog for "+name, frag.Body)
		} else {
			res := fx.api(t, http.MethodPost, "/v1/api-keys", bearerHeader(auth), mustJSON(t, map[string]string{"name": name, "permission": "read_all"}))
			res.wantStatus(t, http.StatusCreated, "API create "+name)
			if strings.Contains(res.Body, "<") || res.Header.Get("X-Content-Type-Options") != "nosniff" ||
				!strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("API answer for %q is not inert JSON: %v %s", name, res.Header, res.Body)
			}
			var k apiKeyJSON
			if err := jsonUnmarshal(res.Body, &k); err != nil || k.Name != name {
				t.Fatalf("API name %q came back as %q (%v)", name, k.Name, err)
			}
			id = k.ID
		}
		ids = append(ids, id)
	}

	pages := []string{"/", "/settings/api-keys", "/settings/api-keys?q=" + url.QueryEscape("<script>"), "/settings/api-keys/new",
		"/settings/members", "/account/password", "/docs", "/no-such-page"}
	for _, id := range ids {
		for _, suffix := range []string{"", "/edit", "/revoke", "/delete"} {
			pages = append(pages, "/settings/api-keys/"+id+suffix)
		}
	}
	for _, p := range pages {
		res := fx.cl.get(t, p)
		if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusSeeOther {
			t.Fatalf("GET %s: %d", p, res.StatusCode)
		}
		inert(t, p, res.Body)
		hx := fx.cl.htmxGet(t, p)
		inert(t, p+" (htmx)", hx.Body)
	}
	// Each name is shown as text, exactly.
	list := fx.cl.get(t, "/settings/api-keys")
	for i, name := range hostileNames {
		if got := list.text(t, "tr#key-"+ids[i]+" th a"); got != strings.Join(strings.Fields(name), " ") {
			t.Errorf("the list shows %q for the name %q", got, name)
		}
	}
	// The audit log shows names too, where it exists.
	for _, r := range fx.dashboardRoutes(http.MethodGet) {
		if strings.Contains(r.Path, "audit") && !strings.Contains(r.Path, ":") {
			res := fx.cl.get(t, r.Path)
			if ct := res.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/html") {
				inert(t, r.Path, res.Body)
			} else if res.Header.Get("X-Content-Type-Options") != "nosniff" || strings.HasPrefix(ct, "text/plain") && !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
				t.Errorf("%s (%s) could be sniffed as a page", r.Path, ct)
			}
		}
	}

	// 10,000 characters: refused with the form again, nothing stored.
	before := fx.snapshot(t)
	long := strings.Repeat("<script>alert(1)</script>", 400)
	res := fx.cl.postForm(t, "/settings/api-keys", keyForm("name", long))
	res.wantStatus(t, http.StatusUnprocessableEntity)
	inert(t, "the refused 10,000-character name", res.Body)
	if !strings.Contains(res.text(t, "form"), "100 characters") {
		t.Fatalf("no length message:\n%s", clip(res.text(t, "form"), 500))
	}
	fx.api(t, http.MethodPost, "/v1/api-keys", bearerHeader(auth), mustJSON(t, map[string]string{"name": long, "permission": "read_all"})).
		wantStatus(t, http.StatusUnprocessableEntity, "a 10,000-character name through the API")
	fx.cl.postForm(t, "/settings/api-keys/"+ids[0], url.Values{"name": {long}, "permission": {"read_all"}, "expires": {"never"}}).
		wantStatus(t, http.StatusUnprocessableEntity)
	fx.unchanged(t, before, "a 10,000-character name")
}

func TestSecuritySQLInjectionInDashboardParameters(t *testing.T) {
	fx := newSecFixture(t)
	for _, n := range []string{"Alpha", "Beta", "Gamma"} {
		fx.key(t, fx.team.ID, n, model.PermReadAll)
	}
	injections := []string{`' OR 1=1--`, `'; DROP TABLE api_keys;--`, `%`, `_`, `\`, `%' OR '1'='1`,
		`name; DELETE FROM users`, `created_at DESC; DROP TABLE teams`, `1 OR 1=1`, `(SELECT 1)`}
	before := fx.snapshot(t)
	for _, inj := range injections {
		q := url.QueryEscape(inj)
		res := fx.cl.get(t, "/settings/api-keys?q="+q)
		res.wantStatus(t, http.StatusOK)
		if rows := res.find(t, "table.keys tbody tr"); len(rows) != 0 {
			t.Fatalf("searching %q shows %d keys", inj, len(rows))
		}
		for _, p := range []string{"sort", "status", "env", "page"} {
			res := fx.cl.get(t, "/settings/api-keys?"+p+"="+q)
			res.wantStatus(t, http.StatusOK)
			if rows := res.find(t, "table.keys tbody tr"); len(rows) != 3 {
				t.Fatalf("%s=%q shows %d keys, want the 3 of the default view", p, inj, len(rows))
			}
			fx.cl.htmxGet(t, "/settings/api-keys?"+p+"="+q).wantStatus(t, http.StatusOK)
		}
	}
	fx.unchanged(t, before, "SQL injection in the key table's parameters")

	// As names they are plain data.
	for _, inj := range injections {
		_, k := (&keysFixture{app: fx.app, owner: fx.owner, team: fx.team, cl: fx.cl}).create(t, keyForm("name", inj))
		if k.Name != strings.TrimSpace(inj) {
			t.Fatalf("name %q stored as %q", inj, k.Name)
		}
		res := fx.cl.get(t, "/settings/api-keys?q="+url.QueryEscape(inj))
		if rows := res.find(t, "table.keys tbody tr"); len(rows) < 1 {
			t.Fatalf("searching for the key named %q finds nothing", inj)
		}
	}
	if d := before.diff(fx.snapshot(t)); !strings.Contains(d, "table api_keys: 3 rows, then "+strconv.Itoa(3+len(injections))) {
		t.Fatalf("after creating %d keys:\n%s", len(injections), d)
	}
}
