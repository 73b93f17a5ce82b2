//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/model"
)

// rawKeyRE is the shape of a raw key (DESIGN.md, key format).
var rawKeyRE = regexp.MustCompile(`^kw_(live|test)_[0-9A-Za-z]{38}$`)

// createdKey is a key made through the dashboard, with its raw value as
// copied from the reveal dialog.
type createdKey struct {
	id, name, raw string
}

// TestKeyLifecycle walks the whole life of keys in the dashboard: first-run
// setup, sign-in, one key per permission set (Restrict All through the
// resource picker), the one-time reveal with Copy, the key gone from the
// page after Done, reload and Back, the key working against /v1/whoami,
// edit (same key, new name and scopes), revoke from the row menu with the
// badge flipping in place, the key refused, and delete.
func TestKeyLifecycle(t *testing.T) {
	srv := startServer(t)
	tb := newTab(t, srv)

	// First run: an empty install leads to /setup.
	tb.open("/")
	tb.waitPage("/setup")
	tb.axe("the setup page")
	tb.typeInto("#email", ownerEmail)
	tb.typeInto("#password", password)
	tb.typeInto("#team", teamName)
	tb.click(`form[action="/setup"] button[type=submit]`)
	tb.waitPage("/settings/api-keys")
	if got := tb.text("#flash"); !strings.Contains(got, "Welcome to keyward") {
		tb.errorf("after setup the flash says %q, want a welcome", got)
	}
	team, err := srv.store.FindTeamByName(context.Background(), teamName)
	if err != nil {
		t.Fatalf("the team made by setup: %v", err)
	}

	// Sign out and in again through the forms.
	tb.signOut()
	tb.axe("the sign-in page")
	tb.signIn(ownerEmail, password)
	tb.waitPage("/settings/api-keys")
	if got := tb.text(".empty h2"); got != "No API keys yet" {
		tb.errorf("empty key list heading = %q", got)
	}
	tb.axe("the empty key list")

	// One key per permission set.
	read := tb.createKey(keyForm{name: "Reporting export", permission: "read_all", expires: "30d"})
	write := tb.createKey(keyForm{name: "Deploy bot", permission: "write_all", env: "test", expires: "never", skipCopyFirst: true})
	restricted := tb.createKey(keyForm{name: "Billing sync", permission: "restricted",
		access: map[string]string{"invoices": "write", "customers": "read"}})
	if got := srv.keyCount(t, team.ID); got != 3 {
		t.Fatalf("the store holds %d keys, want 3", got)
	}
	if n := tb.count("table.keys tbody tr"); n != 3 {
		tb.fatalf("the table shows %d rows, want 3", n)
	}
	if got := tb.text("#key-" + restricted.id + " td:nth-child(4)"); got != "Restricted · 2 scopes" {
		tb.errorf("restricted key's permission summary = %q, want %q", got, "Restricted · 2 scopes")
	}

	// The raw keys are nowhere in the page, its storage, after a reload,
	// or after going to a key's page and Back.
	raws := []string{read.raw, write.raw, restricted.raw}
	tb.assertNoRawKeys("after Done", raws)
	tb.do("reload", reload())
	tb.waitPage("/settings/api-keys")
	tb.assertNoRawKeys("after reload", raws)
	tb.click("#key-" + read.id + " th a")
	tb.waitPage("/settings/api-keys/" + read.id)
	tb.axe("the key details page")
	tb.assertNoRawKeys("on the details page", raws)
	tb.back()
	tb.waitPage("/settings/api-keys")
	tb.assertNoRawKeys("after Back", raws)

	// Each copied key works against the API, with its permissions.
	want := map[string]struct {
		c      createdKey
		perm   string
		scopes []string
	}{
		"read":       {read, "read_all", nil},
		"write":      {write, "write_all", nil},
		"restricted": {restricted, "restricted", []string{"customers:read", "invoices:write"}},
	}
	for label, w := range want {
		status, a := whoami(t, srv, w.c.raw)
		if status != http.StatusOK {
			t.Fatalf("%s key: GET /v1/whoami = %d %+v, want 200", label, status, a.Error)
		}
		if a.ID != w.c.id || a.Name != w.c.name || a.Permission != w.perm {
			t.Errorf("%s key: whoami = %+v, want id %s, name %q, permission %s", label, a, w.c.id, w.c.name, w.perm)
		}
		if w.scopes != nil {
			got := slices.Sorted(slices.Values(a.Scopes))
			if !slices.Equal(got, w.scopes) {
				t.Errorf("%s key: scopes = %v, want %v", label, got, w.scopes)
			}
		}
	}

	// Edit the restricted key from its row menu: new name and scopes, same key.
	tb.openRowMenu(restricted.id)
	tb.click("#key-" + restricted.id + ` details.menu a[href$="/edit"]`)
	tb.waitJS("the edit dialog", `document.querySelector("dialog#key-dialog[open] form.key-form")`)
	if got := tb.text("#key-dialog .key-unchanged"); !strings.Contains(got, "does not change") {
		tb.errorf("the edit form does not say the key stays the same: %q", got)
	}
	tb.axe("the edit dialog")
	tb.typeInto("#key-name", "Billing sync (v2)")
	tb.click(`#key-dialog input[name="access.invoices"][value=read]`)
	tb.click(`#key-dialog input[name="access.members"][value=read]`)
	tb.click("#key-dialog button[type=submit]")
	tb.waitJS("the edit dialog to close", `!document.querySelector("dialog#key-dialog")`)
	tb.waitJS("the renamed row", fmt.Sprintf(`(document.querySelector("#key-%s th") || {}).innerText === "Billing sync (v2)"`, restricted.id))
	status, a := whoami(t, srv, restricted.raw)
	if status != http.StatusOK {
		t.Fatalf("after the edit, the same key gets %d from /v1/whoami, want 200", status)
	}
	if got, want := slices.Sorted(slices.Values(a.Scopes)), []string{"customers:read", "invoices:read", "members:read"}; a.Name != "Billing sync (v2)" || !slices.Equal(got, want) {
		t.Errorf("after the edit whoami = name %q scopes %v, want %q and %v", a.Name, got, "Billing sync (v2)", want)
	}

	// Revoke from the row menu: confirm, then the badge flips in place.
	eval[bool](tb, `(window.__kwNoReload = "still here", true)`)
	tb.openRowMenu(restricted.id)
	tb.click("#key-" + restricted.id + ` details.menu button[hx-get$="/revoke"]`)
	tb.waitJS("the revoke dialog", `document.querySelector("dialog#confirm-dialog[open]")`)
	if got := tb.text("#confirm-dialog"); !strings.Contains(got, "will fail at once") || !strings.Contains(got, "Billing sync (v2)") {
		tb.errorf("the revoke dialog does not name the key and what happens: %q", got)
	}
	tb.axe("the revoke dialog")
	tb.click("#confirm-dialog button[type=submit]")
	tb.waitJS("the Revoked badge", fmt.Sprintf(`(document.querySelector("#key-%s td.status") || {}).innerText === "Revoked"`, restricted.id))
	tb.waitJS("the revoke dialog to close", `!document.querySelector("dialog#confirm-dialog")`)
	if got := eval[string](tb, `String(window.__kwNoReload)`); got != "still here" {
		tb.errorf("the page reloaded during revoke (marker = %q)", got)
	}
	status, a = whoami(t, srv, restricted.raw)
	if status != http.StatusUnauthorized || a.Error == nil || a.Error.Code != "invalid_api_key" {
		t.Errorf("a revoked key gets %d %+v from /v1/whoami, want 401 invalid_api_key", status, a.Error)
	}
	// A revoked key's menu offers View details and Delete only.
	tb.openRowMenu(restricted.id)
	items := eval[[]string](tb, fmt.Sprintf(`Array.from(document.querySelectorAll("#key-%s details.menu [role=menuitem]")).map((e) => e.innerText.trim())`, restricted.id))
	if !slices.Equal(items, []string{"View details", "Delete…"}) {
		tb.errorf("the revoked key's menu = %q, want View details and Delete…", items)
	}

	// Delete: confirm, and the row goes, still without a reload.
	tb.click("#key-" + restricted.id + ` details.menu button[hx-get$="/delete"]`)
	tb.waitJS("the delete dialog", `document.querySelector("dialog#confirm-dialog[open]")`)
	tb.axe("the delete dialog")
	tb.click("#confirm-dialog button[type=submit]")
	tb.waitJS("the row to go", fmt.Sprintf(`!document.querySelector("#key-%s")`, restricted.id))
	if got := eval[string](tb, `String(window.__kwNoReload)`); got != "still here" {
		tb.errorf("the page reloaded during delete (marker = %q)", got)
	}
	if n := tb.count("table.keys tbody tr"); n != 2 {
		tb.errorf("after delete the table shows %d rows, want 2", n)
	}
	if _, err := srv.store.FindKeyByID(context.Background(), team.ID, restricted.id); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("the deleted key is still in the store (err = %v)", err)
	}
	// The other keys still work.
	if status, _ := whoami(t, srv, read.raw); status != http.StatusOK {
		t.Errorf("the read key gets %d after another key was deleted", status)
	}

	// No raw key reached the server's log.
	logs := srv.logs.String()
	for _, raw := range raws {
		if strings.Contains(logs, raw) {
			t.Errorf("the server logged a raw key")
		}
	}
}

// keyForm is what createKey fills in the create dialog.
type keyForm struct {
	name       string
	env        string            // live (default) or test
	permission string            // read_all, write_all, restricted
	access     map[string]string // resource → read|write, for restricted
	expires    string            // never, 7d, 30d, …; "" keeps the default
	// skipCopyFirst presses Done before Copy, to see the warning.
	skipCopyFirst bool
}

// createKey creates a key through the Create API key dialog and the reveal:
// Copy must put the key on the clipboard, and Done must remove it.
func (tb *tab) createKey(f keyForm) createdKey {
	tb.t.Helper()
	first := tb.count("table.keys tbody tr") == 0
	tb.click(`.page-head a[href="/settings/api-keys/new"]`)
	tb.waitJS("the create dialog", `document.querySelector("dialog#key-dialog[open] form.key-form")`)
	if !tb.activeInside("dialog#key-dialog") {
		tb.fatalf("the create dialog opened, but focus is on %s", tb.activeDescription())
	}
	if first {
		tb.axe("the create dialog")
	}
	tb.typeInto("#key-name", f.name)
	if f.env != "" {
		tb.click(fmt.Sprintf(`#key-dialog input[name=environment][value=%s]`, f.env))
	}
	if tb.visible("#scope-picker") {
		tb.errorf("the resource picker shows before Restrict All is chosen")
	}
	tb.click(fmt.Sprintf(`#key-dialog input[name=permission][value=%s]`, f.permission))
	if f.permission == "restricted" {
		tb.waitJS("the resource picker", `document.querySelector("#scope-picker").getClientRects().length > 0`)
		tb.axe("the create dialog with the resource picker")
		for res, access := range f.access {
			tb.click(fmt.Sprintf(`#key-dialog input[name="access.%s"][value=%s]`, res, access))
		}
	}
	if f.expires != "" {
		tb.setValue("#key-expires", f.expires)
	}
	if never := tb.visible("#key-dialog .never-note"); never != (f.expires == "never") {
		tb.errorf("expiry %q: the note recommending an expiry shows = %v", f.expires, never)
	}
	tb.click("#key-dialog button[type=submit]")
	tb.waitJS("the reveal dialog", `document.querySelector("dialog#key-dialog.reveal[open] #new-key")`)
	raw := eval[string](tb, `document.querySelector("#new-key").value`)
	if !rawKeyRE.MatchString(raw) {
		tb.fatalf("the reveal shows %q, not a key", raw)
	}
	if env := f.env; env != "" && !strings.HasPrefix(raw, "kw_"+env+"_") {
		tb.errorf("a %s key starts %q", env, raw[:8])
	}
	reveal := tb.text("dialog#key-dialog")
	id := eval[string](tb, `(() => { const c = Array.from(document.querySelectorAll("#key-dialog dl.meta code")).find((e) => e.innerText.startsWith("key_")); return c ? c.innerText.trim() : ""; })()`)
	if id == "" || !strings.Contains(reveal, f.name) || !strings.Contains(reveal, "Copy it now") {
		tb.fatalf("the reveal should show the key id, the name %q and the warning", f.name)
	}
	if first {
		tb.axe("the reveal dialog")
	}

	if f.skipCopyFirst {
		// Done before Copy asks; dismissing keeps the dialog.
		before := len(tb.jsDialogs())
		tb.acceptDialogs.Store(false)
		tb.click("#key-dialog .modal-foot button[data-close-dialog]")
		tb.waitDialogs(before + 1)
		tb.acceptDialogs.Store(true)
		ds := tb.jsDialogs()
		if len(ds) != before+1 || !strings.Contains(ds[len(ds)-1], "haven't copied this key") {
			tb.fatalf("Done before Copy should warn; dialogs seen: %q", ds[before:])
		}
		if !tb.visible("dialog#key-dialog.reveal[open]") {
			tb.fatalf("dismissing the warning closed the reveal anyway")
		}
	}

	tb.click("#key-dialog button[data-copy]")
	tb.waitJS("Copied", `document.querySelector("#new-key-status").innerText.includes("Copied")`)
	clip := eval[string](tb, `navigator.clipboard.readText()`)
	if clip != raw {
		tb.fatalf("the clipboard holds %q, want the new key", clip)
	}
	n := len(tb.jsDialogs())
	tb.click("#key-dialog .modal-foot button[data-close-dialog]")
	tb.waitJS("the reveal to close", `!document.querySelector("dialog#key-dialog")`)
	if len(tb.jsDialogs()) != n {
		tb.errorf("Done after Copy asked for confirmation")
	}
	tb.waitJS("the new row", fmt.Sprintf(`document.querySelector("#key-%s")`, id))
	if html := tb.html(); strings.Contains(html, raw) {
		tb.fatalf("the raw key is still in the page after Done")
	}
	return createdKey{id: id, name: f.name, raw: raw}
}

// assertNoRawKeys fails unless none of raws is in the document, its field
// values, or the session and local storage.
func (tb *tab) assertNoRawKeys(when string, raws []string) {
	tb.t.Helper()
	html, store := tb.html(), tb.storage()
	for i, raw := range raws {
		if strings.Contains(html, raw) {
			tb.errorf("%s: raw key %d is in the page", when, i+1)
		}
		if strings.Contains(store, raw) {
			tb.errorf("%s: raw key %d is in the browser's storage (htmx history?)", when, i+1)
		}
	}
}

// openRowMenu opens a key row's ⋯ menu with the mouse. In a table that
// scrolls sideways the menu floats, placed by app.js on the details' toggle
// event, which the browser fires a task after the menu opens: wait for it,
// as a person's next click comes long after.
func (tb *tab) openRowMenu(id string) {
	tb.t.Helper()
	tb.click("#key-" + id + " details.menu > summary")
	tb.waitJS("the row menu", fmt.Sprintf(`(() => {
	  const m = document.querySelector("#key-%s details.menu[open]");
	  if (!m) return false;
	  const list = m.querySelector(":scope > ul");
	  return getComputedStyle(list).position !== "fixed" || list.style.top !== "";
	})()`, id))
}
