package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
)

// keysFixture is a running app with an owner of team Acme signed in.
type keysFixture struct {
	app   *testApp
	owner model.User
	team  model.Team
	cl    *testClient
}

func newKeysFixture(t *testing.T) *keysFixture {
	t.Helper()
	app := newTestApp(t)
	owner, team := app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)
	return &keysFixture{app: app, owner: owner, team: team, cl: cl}
}

// advance moves the server's clock and signs in again (sessions time out).
func (fx *keysFixture) advance(t *testing.T, d time.Duration) {
	t.Helper()
	fx.app.clock.Advance(d)
	fx.cl = fx.app.client(t)
	fx.cl.login(t, "owner@example.com", testPassword)
}

// inTable parses an htmx answer that starts with a table row as the
// browser does, inside a table body.
func inTable(r *testResponse) *testResponse {
	return &testResponse{Response: r.Response, Body: "<table><tbody>" + r.Body + "</tbody></table>"}
}

// keyForm is a valid create form, changed by kv pairs ("" deletes a field).
func keyForm(kv ...string) url.Values {
	f := url.Values{"name": {"Billing sync"}, "environment": {"live"}, "permission": {"read_all"}, "expires": {"30d"}}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			f.Del(kv[i])
		} else {
			f.Set(kv[i], kv[i+1])
		}
	}
	return f
}

// create posts the create form and returns the revealed raw key and the
// stored key.
func (fx *keysFixture) create(t *testing.T, form url.Values) (string, model.APIKey) {
	t.Helper()
	res := fx.cl.postForm(t, "/settings/api-keys", form)
	res.wantStatus(t, http.StatusOK)
	raw := attr(res.first(t, "input#new-key"), "value")
	if _, err := keys.Parse(raw); err != nil {
		t.Fatalf("revealed key %q does not parse: %v", raw, err)
	}
	k, err := fx.app.store.FindKeyByHash(context.Background(), keys.Hash(raw))
	if err != nil {
		t.Fatalf("created key not stored: %v", err)
	}
	return raw, k
}

// keyCount is the number of keys of the team.
func (fx *keysFixture) keyCount(t *testing.T, teamID int64) int64 {
	t.Helper()
	_, n, err := fx.app.store.FindKeys(context.Background(), model.KeyFilter{TeamID: teamID, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// events lists the audit actions about a key, newest first.
func (fx *keysFixture) events(t *testing.T, teamID int64, publicID string) []string {
	t.Helper()
	evs, err := fx.app.store.FindKeyAuditEvents(context.Background(), teamID, publicID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Action)
	}
	return out
}

// dumpAll returns the text of every row of every table of the database.
func (fx *keysFixture) dumpAll(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, fx.app.cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) < 6 {
		t.Fatalf("only %d tables found: %v", len(tables), tables)
	}
	var b strings.Builder
	for _, tb := range tables {
		rows, err := conn.Query(ctx, "SELECT t::text FROM "+pgx.Identifier{tb}.Sanitize()+" t")
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s: %s\n", tb, strings.Join(texts, "\n"))
	}
	return b.String()
}

func TestKeyCreateEachPermissionSet(t *testing.T) {
	fx := newKeysFixture(t)
	tests := []struct {
		name       string
		form       url.Values
		wantSet    model.PermissionSet
		wantScopes []string
		summary    string
	}{
		{"read all", keyForm("permission", "read_all"), model.PermReadAll, []string{}, "Read All"},
		{"write all", keyForm("permission", "write_all", "environment", "test"), model.PermWriteAll, []string{}, "Write All"},
		{"restricted", keyForm("permission", "restricted", "access.members", "read", "access.audit_log", "write", "access.api_keys", "none"),
			model.PermRestricted, []string{"audit_log:write", "members:read"}, "Restricted · 2 scopes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, k := fx.create(t, tt.form)
			if k.PermissionSet != tt.wantSet || strings.Join(k.Scopes, ",") != strings.Join(tt.wantScopes, ",") {
				t.Fatalf("stored %s %v, want %s %v", k.PermissionSet, k.Scopes, tt.wantSet, tt.wantScopes)
			}
			if k.TeamID != fx.team.ID || k.Name != "Billing sync" || k.CreatedBy != "owner@example.com" {
				t.Fatalf("stored %+v", k)
			}
			if k.Environment != tt.form.Get("environment") || !strings.HasPrefix(raw, "kw_"+k.Environment+"_") {
				t.Fatalf("environment %s, raw prefix %.8s", k.Environment, raw)
			}
			if k.KeyHash != keys.Hash(raw) || k.Hint != keys.Hint(raw) || !strings.HasPrefix(k.PublicID, "key_") {
				t.Fatalf("hash/hint/id %+v", k)
			}
			if got := fx.events(t, fx.team.ID, k.PublicID); len(got) != 1 || got[0] != model.ActionKeyCreated {
				t.Fatalf("audit %v", got)
			}
			list := fx.cl.get(t, "/settings/api-keys")
			row := "tr#" + "key-" + k.PublicID
			if got := list.text(t, row+" span.perm"); got != tt.summary {
				t.Fatalf("summary %q, want %q", got, tt.summary)
			}
		})
	}
	// The restricted key's scopes are on hover.
	list := fx.cl.get(t, "/settings/api-keys")
	found := false
	for _, n := range list.find(t, "table.keys span.perm") {
		found = found || attr(n, "title") == "audit_log:write, members:read"
	}
	if !found {
		t.Fatalf("no hover text lists the restricted key's scopes:\n%s", list.Body)
	}
}

func TestKeyCreateEachExpiry(t *testing.T) {
	fx := newKeysFixture(t)
	day := 24 * time.Hour
	tests := []struct {
		expires, date string
		want          *time.Time
	}{
		{expires: "never"},
		{expires: "7d", want: ptr(testEpoch.Add(7 * day))},
		{expires: "30d", want: ptr(testEpoch.Add(30 * day))},
		{expires: "60d", want: ptr(testEpoch.Add(60 * day))},
		{expires: "90d", want: ptr(testEpoch.Add(90 * day))},
		{expires: "custom", date: "2026-07-14", want: ptr(time.Date(2026, 7, 14, 23, 59, 59, 0, time.UTC))},
	}
	for _, tt := range tests {
		t.Run(tt.expires, func(t *testing.T) {
			_, k := fx.create(t, keyForm("expires", tt.expires, "expires_at", tt.date))
			if (k.ExpiresAt == nil) != (tt.want == nil) || (k.ExpiresAt != nil && !k.ExpiresAt.Equal(*tt.want)) {
				t.Fatalf("expires_at %v, want %v", k.ExpiresAt, tt.want)
			}
			if k.Status(testEpoch) != model.StatusActive {
				t.Fatalf("status %s", k.Status(testEpoch))
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestKeyCreateInvalidInput(t *testing.T) {
	fx := newKeysFixture(t)
	long := strings.Repeat("ü", 101)
	tests := []struct {
		name  string
		form  url.Values
		field string
	}{
		{"empty name", keyForm("name", ""), "name"},
		{"blank name", keyForm("name", "   "), "name"},
		{"101-character name", keyForm("name", long), "name"},
		{"restricted with no scope", keyForm("permission", "restricted", "access.members", "none"), "scopes"},
		{"unknown resource field", keyForm("permission", "restricted", "access.members", "read", "access.payroll", "write"), "scopes"},
		{"unknown access level", keyForm("permission", "restricted", "access.members", "owner"), "scopes"},
		{"unknown permission set", keyForm("permission", "root"), "permission"},
		{"past custom date", keyForm("expires", "custom", "expires_at", "2026-03-01"), "expires_at"},
		{"custom without a date", keyForm("expires", "custom"), "expires_at"},
		{"unknown expiry", keyForm("expires", "365d"), "expires"},
		{"unknown environment", keyForm("environment", "staging"), "environment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := fx.cl.postForm(t, "/settings/api-keys", tt.form)
			res.wantStatus(t, http.StatusUnprocessableEntity)
			if !res.has(t, "small.error#error-"+tt.field) {
				t.Fatalf("no message next to %s:\n%s", tt.field, res.Body)
			}
			if in := res.find(t, "input#key-name"); len(in) != 1 || attr(in[0], "value") != tt.form.Get("name") {
				t.Fatalf("the name typed was not kept")
			}
			if res.has(t, "input#new-key") {
				t.Fatal("an invalid form revealed a key")
			}
			// The page is the form again, with the token of the form kept.
			if !res.has(t, `form[action="/settings/api-keys"] input[name=_csrf]`) {
				t.Fatal("the form is not shown again")
			}
		})
	}
	if n := fx.keyCount(t, fx.team.ID); n != 0 {
		t.Fatalf("%d keys created by invalid forms", n)
	}
	dump := fx.dumpAll(t)
	if strings.Contains(dump, model.ActionKeyCreated) {
		t.Fatal("an audit event was written for an invalid form")
	}

	// Under htmx the 422 answers the dialog again, for htmx to swap in.
	res := fx.cl.htmxPost(t, "/settings/api-keys", keyForm("name", ""))
	res.wantStatus(t, http.StatusUnprocessableEntity)
	if !res.has(t, "dialog#key-dialog form[hx-post] small#error-name") || strings.Contains(res.Body, "<html") {
		t.Fatalf("htmx 422 is not the dialog fragment:\n%s", res.Body)
	}
}

func TestKeyCreateKeepsSelectionOnError(t *testing.T) {
	fx := newKeysFixture(t)
	res := fx.cl.postForm(t, "/settings/api-keys", keyForm("name", "", "environment", "test",
		"permission", "restricted", "access.members", "write", "expires", "custom", "expires_at", "2026-12-24"))
	res.wantStatus(t, http.StatusUnprocessableEntity)
	for _, sel := range []string{
		`input[name=environment][value=test][checked]`,
		`input[name=permission][value=restricted][checked]`,
		`input[name=access.members][value=write][checked]`,
		`input[name=access.api_keys][value=none][checked]`,
		`select[name=expires] option[value=custom][selected]`,
		`input[name=expires_at][value=2026-12-24]`,
	} {
		if !res.has(t, sel) {
			t.Errorf("input not kept: %s", sel)
		}
	}
}

func TestKeyRevealOnlyInCreateResponse(t *testing.T) {
	fx := newKeysFixture(t)
	res := fx.cl.postForm(t, "/settings/api-keys", keyForm("name", "Secret holder"))
	res.wantStatus(t, http.StatusOK)
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q, want no-store", cc)
	}
	raw := attr(res.first(t, "input#new-key"), "value")
	if !strings.Contains(res.Body, raw) || !res.has(t, "input#new-key[readonly]") || !res.has(t, "button[data-copy=#new-key]") {
		t.Fatal("the reveal lacks the key, read-only, with a Copy button")
	}
	if !strings.Contains(res.Body, "Copy it now: you won") || !res.has(t, "[hx-history=false]") {
		t.Fatal("the reveal lacks its warning or is not kept out of htmx history")
	}
	k, err := fx.app.store.FindKeyByHash(context.Background(), keys.Hash(raw))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.text(t, "dl.meta"), k.PublicID) || !strings.Contains(res.text(t, "dl.meta"), "Secret holder") {
		t.Fatal("the reveal does not show the key id and name")
	}
	secret := raw[len("kw_live_"):]

	// Under htmx: the dialog, no-store, and the table is told to refresh.
	hres := fx.cl.htmxPost(t, "/settings/api-keys", keyForm("name", "Second"))
	hres.wantStatus(t, http.StatusOK)
	if hres.Header.Get("Cache-Control") != "no-store" || hres.Header.Get("HX-Trigger") != "keys-changed" {
		t.Fatalf("htmx reveal headers %v", hres.Header)
	}
	d := hres.first(t, "dialog.reveal")
	if !hasAttr(d, "data-autoshow") || !hasAttr(d, "data-remove-on-close") || attr(d, "hx-history") != "false" ||
		attr(d, "data-confirm-close") != "You haven't copied this key. It can't be shown again. Close anyway?" {
		t.Fatalf("reveal dialog attributes %v", d.Attr)
	}
	raw2 := attr(hres.first(t, "input#new-key"), "value")

	for _, path := range []string{"/settings/api-keys", "/settings/api-keys/" + k.PublicID, "/settings/api-keys/" + k.PublicID + "/edit",
		"/settings/api-keys/" + k.PublicID + "/revoke", "/settings/api-keys/new", "/settings/audit-log"} {
		page := fx.cl.get(t, path)
		if strings.Contains(page.Body, secret) || strings.Contains(page.Body, raw2[8:]) {
			t.Fatalf("%s shows a raw key", path)
		}
	}
	if fx.cl.get(t, "/settings/api-keys").text(t, "tr#key-"+k.PublicID+" code.hint") != k.Hint {
		t.Fatal("the list does not show the hint")
	}
	dump := fx.dumpAll(t)
	for _, r := range []string{raw, raw2} {
		if strings.Contains(dump, r) || strings.Contains(dump, r[8:40]) {
			t.Fatal("the database holds a raw key")
		}
	}
	if !strings.Contains(dump, keys.Hash(raw)) {
		t.Fatal("the dump does not hold the key's hash: is it really every table?")
	}
	if logs := fx.app.logs.String(); strings.Contains(logs, secret) || strings.Contains(logs, raw2[8:]) {
		t.Fatal("a log line holds a raw key")
	}
}

func TestKeyCreateFormTokenMakesReplaysHarmless(t *testing.T) {
	fx := newKeysFixture(t)
	page := fx.cl.get(t, "/settings/api-keys/new")
	page.wantStatus(t, http.StatusOK)
	token := attr(page.first(t, "input[name=form_token]"), "value")
	if len(token) != 24 {
		t.Fatalf("form token %q", token)
	}
	form := keyForm("name", "Once", "form_token", token)
	first := fx.cl.postForm(t, "/settings/api-keys", form)
	first.wantStatus(t, http.StatusOK)
	raw := attr(first.first(t, "input#new-key"), "value")
	again := fx.cl.postForm(t, "/settings/api-keys", form)
	if again.StatusCode != http.StatusSeeOther || strings.Contains(again.Body, raw) {
		t.Fatalf("replay: status %d", again.StatusCode)
	}
	if n := fx.keyCount(t, fx.team.ID); n != 1 {
		t.Fatalf("%d keys after a replayed submit, want 1", n)
	}
	next := fx.cl.get(t, again.Header.Get("Location"))
	if !strings.Contains(next.text(t, "#flash"), "already sent") || strings.Contains(next.Body, raw) {
		t.Fatalf("replay notice missing or shows the key:\n%s", next.text(t, "#flash"))
	}

	// Two submits at once of one rendered form: one key.
	token2 := attr(fx.cl.get(t, "/settings/api-keys/new").first(t, "input[name=form_token]"), "value")
	form2 := keyForm("name", "Twice", "form_token", token2, "_csrf", fx.cl.csrfToken(t))
	var wg sync.WaitGroup
	statuses := make([]int, 4)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, fx.app.URL+"/settings/api-keys", strings.NewReader(form2.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			res, err := fx.cl.hc.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			statuses[i] = res.StatusCode
		}()
	}
	wg.Wait()
	if n := fx.keyCount(t, fx.team.ID); n != 2 {
		t.Fatalf("%d keys after concurrent submits of one form (statuses %v), want 2", n, statuses)
	}

	// A failed submit does not use up the token: the corrected form works.
	token3 := attr(fx.cl.get(t, "/settings/api-keys/new").first(t, "input[name=form_token]"), "value")
	bad := fx.cl.postForm(t, "/settings/api-keys", keyForm("name", "", "form_token", token3))
	bad.wantStatus(t, http.StatusUnprocessableEntity)
	if attr(bad.first(t, "input[name=form_token]"), "value") != token3 {
		t.Fatal("the form shown again lost its token")
	}
	fx.cl.postForm(t, "/settings/api-keys", keyForm("name", "Fixed", "form_token", token3)).wantStatus(t, http.StatusOK)
	if n := fx.keyCount(t, fx.team.ID); n != 3 {
		t.Fatalf("%d keys, want 3", n)
	}
}

func TestKeyEditKeepsHash(t *testing.T) {
	fx := newKeysFixture(t)
	raw, k := fx.create(t, keyForm("name", "Before", "expires", "7d"))
	form := fx.cl.get(t, "/settings/api-keys/"+k.PublicID+"/edit")
	form.wantStatus(t, http.StatusOK)
	if !strings.Contains(form.Body, "The key value does not change") {
		t.Fatal("the edit form does not say the key value stays")
	}
	if attr(form.first(t, "input#key-name"), "value") != "Before" || !form.has(t, "select[name=expires] option[value=keep][selected]") {
		t.Fatal("the edit form is not filled from the key")
	}
	fx.advance(t, time.Hour)
	res := fx.cl.postForm(t, "/settings/api-keys/"+k.PublicID, url.Values{
		"name": {"  After  "}, "permission": {"restricted"}, "access.members": {"write"}, "expires": {"custom"}, "expires_at": {"2026-06-30"},
	})
	res.wantRedirect(t, "/settings/api-keys/"+k.PublicID)
	got, err := fx.app.store.FindKeyByID(context.Background(), fx.team.ID, k.PublicID)
	if err != nil {
		t.Fatal(err)
	}
	if got.KeyHash != k.KeyHash || got.KeyHash != keys.Hash(raw) || got.Hint != k.Hint || got.Environment != k.Environment {
		t.Fatal("editing changed the key value")
	}
	if got.Name != "After" || got.PermissionSet != model.PermRestricted || strings.Join(got.Scopes, ",") != "members:write" ||
		got.ExpiresAt == nil || !got.ExpiresAt.Equal(time.Date(2026, 6, 30, 23, 59, 59, 0, time.UTC)) {
		t.Fatalf("edit not saved: %+v", got)
	}
	if ev := fx.events(t, fx.team.ID, k.PublicID); len(ev) != 2 || ev[0] != model.ActionKeyUpdated {
		t.Fatalf("audit %v", ev)
	}
	details := fx.cl.get(t, "/settings/api-keys/"+k.PublicID)
	if !strings.Contains(details.text(t, "#flash"), "Saved") || !strings.Contains(details.text(t, "ol.timeline"), "Name: “Before” → “After”") {
		t.Fatalf("details after edit: %s / %s", details.text(t, "#flash"), details.text(t, "ol.timeline"))
	}

	// keep leaves the expiry exactly as it is; an unchanged form writes no event.
	fx.cl.postForm(t, "/settings/api-keys/"+k.PublicID, url.Values{
		"name": {"After"}, "permission": {"restricted"}, "access.members": {"write"}, "expires": {"keep"},
	}).wantRedirect(t, "/settings/api-keys/"+k.PublicID)
	again, _ := fx.app.store.FindKeyByID(context.Background(), fx.team.ID, k.PublicID)
	if !again.ExpiresAt.Equal(*got.ExpiresAt) {
		t.Fatalf("keep changed the expiry to %v", again.ExpiresAt)
	}
	if ev := fx.events(t, fx.team.ID, k.PublicID); len(ev) != 2 {
		t.Fatalf("an edit that changed nothing was audited: %v", ev)
	}

	// An invalid edit shows the form again and changes nothing.
	bad := fx.cl.postForm(t, "/settings/api-keys/"+k.PublicID, url.Values{"name": {""}, "permission": {"restricted"}, "expires": {"never"}})
	bad.wantStatus(t, http.StatusUnprocessableEntity)
	if !bad.has(t, "small#error-name") || !bad.has(t, "small#error-scopes") {
		t.Fatalf("edit errors not shown:\n%s", bad.Body)
	}
	still, _ := fx.app.store.FindKeyByID(context.Background(), fx.team.ID, k.PublicID)
	if still.Name != "After" || still.ExpiresAt == nil {
		t.Fatal("an invalid edit changed the key")
	}
	if ev := fx.events(t, fx.team.ID, k.PublicID); len(ev) != 2 {
		t.Fatalf("an invalid edit was audited: %v", ev)
	}

	// Under htmx the dialog closes and the table refreshes.
	h := fx.cl.htmxPost(t, "/settings/api-keys/"+k.PublicID, url.Values{"name": {"Via htmx"}, "permission": {"read_all"}, "expires": {"keep"}})
	h.wantStatus(t, http.StatusOK)
	if h.Header.Get("HX-Trigger") != "keys-changed" || !h.has(t, "div#dialogs[hx-swap-oob]") {
		t.Fatalf("htmx edit answer: %v\n%s", h.Header, h.Body)
	}
}

func TestKeyExpiredEditMakesActive(t *testing.T) {
	fx := newKeysFixture(t)
	_, k := fx.create(t, keyForm("name", "Short lived", "expires", "7d"))
	row := "tr#key-" + k.PublicID
	list := fx.cl.get(t, "/settings/api-keys")
	if !list.has(t, row+" .badge-active") || !list.has(t, row+" .badge-soon") {
		t.Fatal("a key expiring within 7 days is not Active with Expires soon")
	}
	fx.advance(t, 8*24*time.Hour)
	list = fx.cl.get(t, "/settings/api-keys")
	if !list.has(t, row+" .badge-expired") || list.has(t, row+" .badge-active") || list.has(t, row+" .badge-soon") {
		t.Fatalf("after its expiry the key is not shown Expired: %s", list.text(t, row))
	}
	if !strings.Contains(fx.cl.get(t, "/settings/api-keys/"+k.PublicID).text(t, ".notice-warn"), "expired") {
		t.Fatal("the details page does not explain the expiry")
	}
	fx.cl.postForm(t, "/settings/api-keys/"+k.PublicID, url.Values{"name": {"Short lived"}, "permission": {"read_all"}, "expires": {"30d"}}).
		wantRedirect(t, "/settings/api-keys/"+k.PublicID)
	got, _ := fx.app.store.FindKeyByID(context.Background(), fx.team.ID, k.PublicID)
	if got.Status(fx.app.clock.Now()) != model.StatusActive {
		t.Fatalf("status after a future expiry: %s", got.Status(fx.app.clock.Now()))
	}
	list = fx.cl.get(t, "/settings/api-keys?status=active")
	if !list.has(t, row+" .badge-active") {
		t.Fatal("the key is not listed as Active again")
	}
}

func TestKeyRevoke(t *testing.T) {
	fx := newKeysFixture(t)
	_, k := fx.create(t, keyForm("name", "To revoke"))
	_, k2 := fx.create(t, keyForm("name", "Also"))

	// The confirmation names the key and changes nothing.
	conf := fx.cl.htmxGet(t, "/settings/api-keys/"+k.PublicID+"/revoke")
	conf.wantStatus(t, http.StatusOK)
	want := "Calls using " + k.Hint + " will fail at once. This cannot be undone."
	if !strings.Contains(conf.text(t, "dialog#confirm-dialog"), want) || !strings.Contains(conf.text(t, "dialog h2"), "To revoke") {
		t.Fatalf("confirmation text: %s", conf.text(t, "dialog#confirm-dialog"))
	}
	if f := conf.first(t, "dialog form"); attr(f, "hx-target") != "#key-"+k.PublicID || attr(f, "hx-swap") != "outerHTML" {
		t.Fatalf("confirm form targets %q", attr(f, "hx-target"))
	}
	if got, _ := fx.app.store.FindKeyByID(context.Background(), fx.team.ID, k.PublicID); got.RevokedAt != nil {
		t.Fatal("GET revoked the key")
	}
	fx.cl.get(t, "/settings/api-keys/"+k.PublicID+"/revoke").wantStatus(t, http.StatusOK)

	// htmx: the row comes back with the Revoked badge, for an in-place swap.
	res := fx.cl.htmxPost(t, "/settings/api-keys/"+k.PublicID+"/revoke", url.Values{})
	res.wantStatus(t, http.StatusOK)
	if !strings.HasPrefix(res.Body, `<tr id="key-`+k.PublicID+`"`) {
		t.Fatalf("the answer does not start with the row:\n%.300s", res.Body)
	}
	res = inTable(res)
	if !res.has(t, "tr#key-"+k.PublicID+" .badge-revoked") || !res.has(t, "div#dialogs[hx-swap-oob]") {
		t.Fatalf("revoke answer:\n%s", res.Body)
	}
	// A revoked row offers only View details and Delete.
	items := res.text(t, "tr#key-"+k.PublicID+" details.menu ul")
	if strings.Contains(items, "Edit") || strings.Contains(items, "Revoke") || !strings.Contains(items, "View details") || !strings.Contains(items, "Delete") {
		t.Fatalf("revoked row menu: %s", items)
	}
	got, _ := fx.app.store.FindKeyByID(context.Background(), fx.team.ID, k.PublicID)
	if got.RevokedAt == nil || got.RevokedBy != "owner@example.com" {
		t.Fatalf("not revoked: %+v", got)
	}
	if ev := fx.events(t, fx.team.ID, k.PublicID); len(ev) != 2 || ev[0] != model.ActionKeyRevoked {
		t.Fatalf("audit %v", ev)
	}

	// Revoking again fails and writes nothing; so does editing.
	fx.cl.postForm(t, "/settings/api-keys/"+k.PublicID+"/revoke", nil).wantStatus(t, http.StatusConflict)
	fx.cl.get(t, "/settings/api-keys/"+k.PublicID+"/edit").wantStatus(t, http.StatusConflict)
	fx.cl.postForm(t, "/settings/api-keys/"+k.PublicID, url.Values{"name": {"New"}, "permission": {"read_all"}, "expires": {"never"}}).
		wantStatus(t, http.StatusConflict)
	if ev := fx.events(t, fx.team.ID, k.PublicID); len(ev) != 2 {
		t.Fatalf("failed changes were audited: %v", ev)
	}
	if still, _ := fx.app.store.FindKeyByID(context.Background(), fx.team.ID, k.PublicID); still.Name != "To revoke" {
		t.Fatal("a revoked key was edited")
	}

	// Without JavaScript: redirect to the list with a notice; from the
	// details page, back to it.
	fx.cl.postForm(t, "/settings/api-keys/"+k2.PublicID+"/revoke", url.Values{"from": {"details"}}).
		wantRedirect(t, "/settings/api-keys/"+k2.PublicID)
	details := fx.cl.get(t, "/settings/api-keys/"+k2.PublicID)
	if !strings.Contains(details.text(t, "#flash"), "Revoked") || !details.has(t, ".page-head .badge-revoked") {
		t.Fatalf("details after revoke: %s", details.text(t, "#flash"))
	}
	trail := details.text(t, "ol.timeline")
	if !strings.Contains(trail, "Revoked by owner@example.com") || !strings.Contains(trail, "Created by owner@example.com") {
		t.Fatalf("audit trail: %s", trail)
	}
}

func TestKeyDelete(t *testing.T) {
	fx := newKeysFixture(t)
	_, a := fx.create(t, keyForm("name", "Delete by htmx"))
	_, b := fx.create(t, keyForm("name", "Delete by form"))
	_, c := fx.create(t, keyForm("name", "Delete by DELETE"))

	conf := fx.cl.htmxGet(t, "/settings/api-keys/"+a.PublicID+"/delete")
	if f := conf.first(t, "dialog form"); attr(f, "hx-swap") != "delete" || attr(f, "hx-target") != "#key-"+a.PublicID {
		t.Fatalf("delete confirmation form: %v", f.Attr)
	}
	if !strings.Contains(conf.text(t, "dialog"), a.Hint) {
		t.Fatal("the delete confirmation does not name the key")
	}
	res := fx.cl.htmxPost(t, "/settings/api-keys/"+a.PublicID+"/delete", url.Values{})
	res.wantStatus(t, http.StatusOK)
	if res.has(t, "tr") || res.Header.Get("HX-Trigger") != "keys-changed" {
		t.Fatalf("delete answer:\n%s", res.Body)
	}
	fx.cl.postForm(t, "/settings/api-keys/"+b.PublicID+"/delete", nil).wantRedirect(t, "/settings/api-keys")
	fx.cl.htmx(t, http.MethodDelete, "/settings/api-keys/"+c.PublicID, nil).wantStatus(t, http.StatusOK)

	for _, k := range []model.APIKey{a, b, c} {
		if _, err := fx.app.store.FindKeyByID(context.Background(), fx.team.ID, k.PublicID); model.ErrorCode(err) != model.ENOTFOUND {
			t.Fatalf("%s still there: %v", k.Name, err)
		}
		evs, err := fx.app.store.FindKeyAuditEvents(context.Background(), fx.team.ID, k.PublicID, 0)
		if err != nil || len(evs) != 2 || evs[0].Action != model.ActionKeyDeleted || evs[0].TargetName != k.Name {
			t.Fatalf("audit of the deleted key %s: %+v %v", k.Name, evs, err)
		}
	}
	list := fx.cl.get(t, "/settings/api-keys")
	if !strings.Contains(list.text(t, "#flash"), "Deleted") || list.has(t, "table.keys") || !list.has(t, ".empty") {
		t.Fatalf("list after deletes: %s", list.text(t, "#content"))
	}
	fx.cl.get(t, "/settings/api-keys/"+a.PublicID).wantStatus(t, http.StatusNotFound)
	fx.cl.postForm(t, "/settings/api-keys/"+a.PublicID+"/delete", nil).wantStatus(t, http.StatusNotFound)
}

func TestKeyOtherTeamIsNotFound(t *testing.T) {
	fx := newKeysFixture(t)
	other := fx.app.createTeam(t, "Globex")
	fx.app.newMember(t, other.ID, "boss@globex.example", model.RoleOwner)
	gl := fx.app.client(t)
	gl.login(t, "boss@globex.example", testPassword)
	res := gl.postForm(t, "/settings/api-keys", keyForm("name", "Globex key"))
	res.wantStatus(t, http.StatusOK)
	theirs, err := fx.app.store.FindKeyByHash(context.Background(), keys.Hash(attr(res.first(t, "input#new-key"), "value")))
	if err != nil || theirs.TeamID != other.ID {
		t.Fatalf("Globex key: %+v %v", theirs, err)
	}
	id := theirs.PublicID
	edit := url.Values{"name": {"Hijacked"}, "permission": {"write_all"}, "expires": {"never"}}
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/settings/api-keys/" + id},
		{http.MethodGet, "/settings/api-keys/" + id + "/edit"},
		{http.MethodPost, "/settings/api-keys/" + id},
		{http.MethodGet, "/settings/api-keys/" + id + "/revoke"},
		{http.MethodPost, "/settings/api-keys/" + id + "/revoke"},
		{http.MethodGet, "/settings/api-keys/" + id + "/delete"},
		{http.MethodPost, "/settings/api-keys/" + id + "/delete"},
		{http.MethodDelete, "/settings/api-keys/" + id},
	} {
		var r *testResponse
		switch tc.method {
		case http.MethodGet:
			r = fx.cl.get(t, tc.path)
		case http.MethodPost:
			r = fx.cl.postForm(t, tc.path, edit)
		default:
			r = fx.cl.htmx(t, tc.method, tc.path, nil)
		}
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s by another team: %d, want 404", tc.method, tc.path, r.StatusCode)
		}
	}
	after, err := fx.app.store.FindKeyByID(context.Background(), other.ID, id)
	if err != nil || after.Name != "Globex key" || after.RevokedAt != nil || after.PermissionSet != model.PermReadAll {
		t.Fatalf("another team changed the key: %+v %v", after, err)
	}
	if ev := fx.events(t, other.ID, id); len(ev) != 1 {
		t.Fatalf("audit of the other team's key: %v", ev)
	}
	if ev := fx.events(t, fx.team.ID, id); len(ev) != 0 {
		t.Fatalf("audit in the wrong team: %v", ev)
	}
	if strings.Contains(fx.cl.get(t, "/settings/api-keys").Body, id) {
		t.Fatal("another team's key is listed")
	}
}

func TestKeyRoutesForbidMembers(t *testing.T) {
	fx := newKeysFixture(t)
	_, k := fx.create(t, keyForm("name", "Owned"))
	fx.app.newMember(t, fx.team.ID, "member@example.com", model.RoleMember)
	m := fx.app.client(t)
	m.login(t, "member@example.com", testPassword)
	id := k.PublicID
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/settings/api-keys"},
		{http.MethodGet, "/settings/api-keys/new"},
		{http.MethodPost, "/settings/api-keys"},
		{http.MethodGet, "/settings/api-keys/" + id},
		{http.MethodGet, "/settings/api-keys/" + id + "/edit"},
		{http.MethodPost, "/settings/api-keys/" + id},
		{http.MethodGet, "/settings/api-keys/" + id + "/revoke"},
		{http.MethodPost, "/settings/api-keys/" + id + "/revoke"},
		{http.MethodGet, "/settings/api-keys/" + id + "/delete"},
		{http.MethodPost, "/settings/api-keys/" + id + "/delete"},
		{http.MethodDelete, "/settings/api-keys/" + id},
	} {
		var r *testResponse
		switch tc.method {
		case http.MethodGet:
			r = m.get(t, tc.path)
		case http.MethodPost:
			r = m.postForm(t, tc.path, keyForm("name", "Member key"))
		default:
			r = m.htmx(t, tc.method, tc.path, nil)
		}
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("MEMBER %s %s: %d, want 403", tc.method, tc.path, r.StatusCode)
		}
	}
	if n := fx.keyCount(t, fx.team.ID); n != 1 {
		t.Fatalf("%d keys, want 1", n)
	}
	if got, _ := fx.app.store.FindKeyByID(context.Background(), fx.team.ID, id); got.RevokedAt != nil || got.Name != "Owned" {
		t.Fatal("a member changed the key")
	}
	if home := m.get(t, "/"); strings.Contains(home.Body, `href="/settings/api-keys"`) {
		t.Fatal("a member sees a link to the keys")
	}
	// Signed out: to the sign-in page, never the keys.
	anon := fx.app.client(t)
	if r := anon.get(t, "/settings/api-keys"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Fatalf("signed out: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
}

func TestKeyListColumnsAndMenu(t *testing.T) {
	fx := newKeysFixture(t)
	empty := fx.cl.get(t, "/settings/api-keys")
	empty.wantStatus(t, http.StatusOK)
	if !empty.has(t, `.empty a[href="/settings/api-keys/new"]`) || !strings.Contains(empty.text(t, ".empty"), "Create API key") {
		t.Fatalf("empty state: %s", empty.text(t, "#content"))
	}

	_, soon := fx.create(t, keyForm("name", "Soon", "environment", "test", "expires", "7d"))
	_, used := fx.create(t, keyForm("name", "Used", "expires", "never"))
	fx.advance(t, 2*time.Hour)
	if err := fx.app.store.RecordUses(context.Background(), []model.KeyUse{{KeyID: used.ID, At: fx.app.clock.Now().Add(-3 * time.Minute), IP: "203.0.113.9", Requests: 1}}); err != nil {
		t.Fatal(err)
	}
	list := fx.cl.get(t, "/settings/api-keys")
	rs, ru := "tr#key-"+soon.PublicID, "tr#key-"+used.PublicID
	checks := map[string]string{
		rs + " th a":                "Soon",
		rs + " code.hint":           soon.Hint,
		rs + " .badge-test":         "test",
		rs + " .badge-active":       "Active",
		rs + " .badge-soon":         "Expires soon",
		ru + " .badge-live":         "live",
		ru + " span.perm":           "Read All",
		rs + " time[data-relative]": "2 hours ago | in 6 days | Never",
		ru + " .sub":                "by owner",
	}
	for sel, want := range checks {
		got := list.text(t, sel)
		if sel == rs+" time[data-relative]" {
			got = list.text(t, rs+" td")
			for _, w := range strings.Split(want, " | ") {
				if !strings.Contains(got, w) {
					t.Errorf("%s: %q lacks %q", rs, got, w)
				}
			}
			continue
		}
		if got != want {
			t.Errorf("%s = %q, want %q", sel, got, want)
		}
	}
	times := list.find(t, ru+" time")
	if len(times) != 2 || textOf(times[1]) != "3 minutes ago" || !strings.HasSuffix(attr(times[1], "title"), " UTC") ||
		attr(times[1], "datetime") == "" {
		t.Fatalf("last used cell: %s", list.text(t, ru))
	}
	if list.text(t, ru+" td:last-child") == "" && !strings.Contains(list.text(t, ru), "Never") {
		t.Fatal("expires never not shown")
	}
	// The row menu: keyboard-usable details.menu with every action.
	menu := list.text(t, rs+" details.menu ul")
	for _, w := range []string{"View details", "Edit", "Revoke", "Delete"} {
		if !strings.Contains(menu, w) {
			t.Errorf("menu lacks %s: %s", w, menu)
		}
	}
	if !list.has(t, rs+` details.menu summary[aria-label="Actions for Soon"]`) {
		t.Error("the menu button is not labelled")
	}
	// Without JavaScript the menu entries are plain links and GET forms.
	if !list.has(t, rs+` form[method=get][action="/settings/api-keys/`+soon.PublicID+`/revoke"]`) {
		t.Error("revoke is not reachable without JavaScript")
	}

	details := fx.cl.get(t, "/settings/api-keys/"+used.PublicID)
	if !details.has(t, "section svg.chart") || details.text(t, "#usage-summary") == "" {
		t.Error("the details page has no usage chart")
	}
	body := details.text(t, "dl.details")
	for _, w := range []string{used.PublicID, used.Hint, "owner@example.com", "203.0.113.9", "Never", "UTC"} {
		if !strings.Contains(body, w) {
			t.Errorf("details lack %q: %s", w, body)
		}
	}
}

func TestKeyNamesAreEscaped(t *testing.T) {
	fx := newKeysFixture(t)
	// (Direction overrides are refused outright: TestDeceptiveNamesAreRefused.)
	names := []string{`<script>alert(1)</script>`, `" hx-get="/settings/api-keys/new" x="`, "ключ 🔑", "مفتاح", "שלום abc"}
	var ids []string
	for _, n := range names {
		_, k := fx.create(t, keyForm("name", n))
		if k.Name != n {
			t.Fatalf("name stored as %q, want %q", k.Name, n)
		}
		ids = append(ids, k.PublicID)
	}
	list := fx.cl.get(t, "/settings/api-keys")
	if strings.Contains(list.Body, "<script>alert") || strings.Contains(list.Body, `" hx-get="/settings/api-keys/new" x="`) {
		t.Fatal("a name is not escaped in the list")
	}
	for i, n := range names {
		if got := list.text(t, "tr#key-"+ids[i]+" th a"); got != strings.Join(strings.Fields(n), " ") {
			t.Errorf("list shows %q for %q", got, n)
		}
		for _, path := range []string{"/settings/api-keys/" + ids[i], "/settings/api-keys/" + ids[i] + "/edit", "/settings/api-keys/" + ids[i] + "/delete"} {
			page := fx.cl.get(t, path)
			if strings.Contains(page.Body, "<script>alert") || strings.Contains(page.Body, `" hx-get="/settings/api-keys/new" x="`) {
				t.Errorf("%s does not escape the name", path)
			}
		}
	}
	// The injected attribute never became one.
	for _, n := range list.find(t, "[hx-get]") {
		if attr(n, "hx-get") == "/settings/api-keys/new" && n.Data != "a" {
			t.Fatalf("an hx-get attribute came from a name: <%s>", n.Data)
		}
	}
}

func TestKeyListSearchFilterSortPages(t *testing.T) {
	fx := newKeysFixture(t)
	ctx := context.Background()
	actor := model.UserActor(fx.owner, "192.0.2.1")
	for i := range 55 {
		env := model.EnvLive
		if i%5 == 0 {
			env = model.EnvTest
		}
		k, _, err := NewKey(fx.app.srv.catalog, "kw", fx.team.ID, KeyInput{Name: fmt.Sprintf("worker %02d", i), Environment: env, Permission: model.PermReadAll}, testEpoch)
		if err != nil {
			t.Fatal(err)
		}
		if err := fx.app.store.CreateKey(ctx, &k, actor); err != nil {
			t.Fatal(err)
		}
		fx.app.clock.Advance(time.Second)
	}
	_, special := fx.create(t, keyForm("name", "Zeta 100%_special"))
	if _, err := fx.app.store.RevokeKey(ctx, fx.team.ID, special.PublicID, actor); err != nil {
		t.Fatal(err)
	}
	rows := func(r *testResponse) []string {
		var out []string
		for _, n := range r.find(t, "table.keys tbody tr th a") {
			out = append(out, textOf(n))
		}
		return out
	}

	p1 := fx.cl.get(t, "/settings/api-keys")
	if got := rows(p1); len(got) != 50 || got[0] != "Zeta 100%_special" || got[1] != "worker 54" {
		t.Fatalf("page 1: %d rows starting %v", len(got), got[:2])
	}
	if !strings.Contains(p1.text(t, "nav.pager"), "1–50 of 56 keys") || !p1.has(t, `nav.pager a[rel=next][href="/settings/api-keys?page=2"]`) {
		t.Fatalf("pager: %s", p1.text(t, "nav.pager"))
	}
	p2 := fx.cl.get(t, "/settings/api-keys?page=2")
	if got := rows(p2); len(got) != 6 || got[5] != "worker 00" {
		t.Fatalf("page 2: %v", got)
	}
	if got := rows(fx.cl.get(t, "/settings/api-keys?page=999")); len(got) != 6 {
		t.Fatalf("a page past the end shows %d rows, want the last page", len(got))
	}

	if got := rows(fx.cl.get(t, "/settings/api-keys?q=WORKER+1")); len(got) != 10 {
		t.Fatalf("search: %v", got)
	}
	if got := rows(fx.cl.get(t, "/settings/api-keys?q=100%25_")); len(got) != 1 {
		t.Fatalf("search with LIKE wildcards: %v", got)
	}
	if got := rows(fx.cl.get(t, "/settings/api-keys?q=%25")); len(got) != 1 {
		t.Fatalf("a %% search matched %d keys", len(got))
	}
	if got := rows(fx.cl.get(t, "/settings/api-keys?status=revoked")); len(got) != 1 || got[0] != "Zeta 100%_special" {
		t.Fatalf("status filter: %v", got)
	}
	if got := rows(fx.cl.get(t, "/settings/api-keys?env=test")); len(got) != 11 {
		t.Fatalf("environment filter: %d rows", len(got))
	}
	sorted := fx.cl.get(t, "/settings/api-keys?sort=name")
	if got := sorted.find(t, "table.keys th[aria-sort]"); len(got) != 1 || textOf(got[0]) != "Name" || attr(got[0], "aria-sort") != "ascending" {
		t.Fatalf("sorted column marked %d times", len(got))
	}
	byName := rows(sorted)
	if byName[0] != "worker 00" || byName[1] != "worker 01" {
		t.Fatalf("sort by name: %v", byName[:2])
	}
	// Unknown values fall back to the defaults.
	odd := fx.cl.get(t, "/settings/api-keys?sort=name;DROP+TABLE+api_keys&status=bogus&env=prod&page=-3")
	odd.wantStatus(t, http.StatusOK)
	if got := rows(odd); len(got) != 50 || got[0] != "Zeta 100%_special" {
		t.Fatalf("fallback: %v", got[:1])
	}
	none := fx.cl.get(t, "/settings/api-keys?q=nothing+like+this")
	if !strings.Contains(none.text(t, ".empty"), "No keys match") || !none.has(t, "form#key-filters") {
		t.Fatal("no-match state missing")
	}

	// htmx: the table region only, with the canonical URL pushed.
	req := fx.cl.newRequest(t, http.MethodGet, "/settings/api-keys?q=&status=&env=test&sort=created", nil)
	req.Header.Set("HX-Request", "true")
	req.Header.Set("HX-Trigger", "key-filters")
	frag := fx.cl.do(t, req)
	frag.wantStatus(t, http.StatusOK)
	if strings.Contains(frag.Body, "<html") || !frag.has(t, "div#key-table") || len(rows(frag)) != 11 {
		t.Fatalf("fragment:\n%.400s", frag.Body)
	}
	if got := frag.Header.Get("HX-Push-Url"); got != "/settings/api-keys?env=test" {
		t.Fatalf("HX-Push-Url %q", got)
	}
	if got := attr(frag.first(t, "div#key-table"), "hx-get"); got != "/settings/api-keys?env=test" {
		t.Fatalf("the region refreshes from %q", got)
	}
	// The page stays out of htmx's snapshot cache, so Back asks the server.
	if !p1.has(t, `div#key-table[hx-history=false]`) {
		t.Fatal("the key list can be snapshotted by htmx")
	}
	// htmx restoring history gets the whole page.
	req = fx.cl.newRequest(t, http.MethodGet, "/settings/api-keys?env=test", nil)
	req.Header.Set("HX-Request", "true")
	req.Header.Set("HX-History-Restore-Request", "true")
	if full := fx.cl.do(t, req); !strings.Contains(full.Body, "<html") {
		t.Fatal("history restore did not get the whole page")
	}
	// Without JavaScript the toolbar is a plain GET form keeping the state.
	page := fx.cl.get(t, "/settings/api-keys?q=worker&env=test&sort=name")
	if !page.has(t, `form#key-filters[method=get][action="/settings/api-keys"]`) ||
		attr(page.first(t, "input[name=q]"), "value") != "worker" ||
		!page.has(t, "select[name=env] option[value=test][selected]") ||
		!page.has(t, "select[name=sort] option[value=name][selected]") {
		t.Fatal("the toolbar does not keep the state")
	}
}
