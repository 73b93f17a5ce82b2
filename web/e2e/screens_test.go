//go:build e2e

package e2e

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"

	"github.com/keyward/keyward/internal/model"
)

// TestScreens visits every screen and dialog with a realistic team, checks
// each with axe (light and dark, desktop and phone) and writes its
// screenshots in light and dark, at desktop (1280×800) and phone (390×844)
// sizes, to KEYWARD_SCREENSHOTS.
func TestScreens(t *testing.T) {
	srv := startServer(t)
	tb := newTab(t, srv)
	tb.expectConsole("status of 422") // the form with errors
	tb.expectConsole("status of 403") // a member's forbidden page

	tb.open("/setup")
	tb.waitPage("/setup")
	tb.screen("setup")

	_, team := srv.setup(t)
	lee := srv.addMember(t, team.ID, leeEmail, model.RoleAdmin)
	srv.addMember(t, team.ID, "bo@example.com", model.RoleMember)
	tb.open("/login")
	tb.waitPage("/login")
	tb.screen("login")
	tb.signIn(ownerEmail, password)
	tb.waitPage("/settings/api-keys")
	tb.screen("keys-empty")

	day := 24 * time.Hour
	k, _ := srv.createKey(t, team.ID, keySpec{Name: "Billing sync", Permission: model.PermRestricted,
		Scopes: []string{"invoices:write", "customers:read"}, Age: 12 * day, UsedAgo: 3 * time.Minute, Requests: 1840, ExpiresIn: 80 * day})
	srv.createKey(t, team.ID, keySpec{Name: "Reporting export", Age: 40 * day, UsedAgo: 2 * time.Hour, Requests: 96, ExpiresIn: 5 * day})
	srv.createKey(t, team.ID, keySpec{Name: "Deploy bot (CI)", Env: model.EnvTest, Permission: model.PermWriteAll, Age: 3 * day, ExpiresIn: 60 * day})
	srv.createKey(t, team.ID, keySpec{Name: "Mobile app backend", Permission: model.PermRestricted,
		Scopes: []string{"customers:write", "invoices:read", "api_keys:read"}, Age: 70 * day, UsedAgo: time.Minute, Requests: 12000})
	srv.createKey(t, team.ID, keySpec{Name: "Legacy import", Permission: model.PermRestricted,
		Scopes: []string{"customers:write"}, Age: 200 * day, UsedAgo: 30 * day, ExpiresIn: -2 * day})
	srv.createKey(t, team.ID, keySpec{Name: "Zapier webhook", Age: 90 * day, UsedAgo: 20 * day, Revoked: true})

	tb.open("/settings/api-keys")
	tb.waitPage("/settings/api-keys")
	tb.screen("keys")

	// The create dialog, its resource picker, its errors and the reveal.
	tb.openCreateDialog()
	tb.screen("create")
	tb.click(`#key-dialog input[name=permission][value=restricted]`)
	tb.click(`#key-dialog input[name="access.invoices"][value=read]`)
	tb.click(`#key-dialog input[name="access.customers"][value=write]`)
	tb.screen("create-restricted")
	tb.submitKeyForm()
	tb.waitJS("the name's message", `document.querySelector("dialog#key-dialog[open] #error-name")`)
	tb.screen("create-errors")
	tb.typeInto("#key-name", "Analytics warehouse")
	tb.submitKeyForm()
	tb.waitJS("the reveal dialog", `document.querySelector("dialog#key-dialog.reveal[open] #new-key")`)
	tb.screen("reveal")
	tb.click("#key-dialog button[data-copy]")
	tb.waitJS("Copied", `document.querySelector("#new-key-status").innerText.includes("Copied")`)
	tb.screen("reveal-copied")
	tb.click("#key-dialog .modal-foot button[data-close-dialog]")
	tb.waitJS("the reveal to close", `!document.querySelector("dialog#key-dialog")`)

	// The row menu and the dialogs it opens.
	row := "#key-" + k.PublicID
	tb.openRowMenu(k.PublicID)
	tb.screen("row-menu")
	tb.click(row + ` details.menu a[href$="/edit"]`)
	tb.waitJS("the edit dialog", `document.querySelector("dialog#key-dialog[open] form.key-form")`)
	tb.screen("edit")
	tb.press(kb.Escape)
	tb.waitJS("the edit dialog to close", `!document.querySelector("dialog#key-dialog")`)
	tb.openRowMenu(k.PublicID)
	tb.click(row + ` details.menu button[hx-get$="/revoke"]`)
	tb.waitJS("the revoke dialog", `document.querySelector("dialog#confirm-dialog[open]")`)
	tb.screen("revoke")
	tb.press(kb.Escape)
	tb.waitJS("the revoke dialog to close", `!document.querySelector("dialog#confirm-dialog")`)
	tb.openRowMenu(k.PublicID)
	tb.click(row + ` details.menu button[hx-get$="/delete"]`)
	tb.waitJS("the delete dialog", `document.querySelector("dialog#confirm-dialog[open]")`)
	tb.screen("delete")
	tb.press(kb.Escape)
	tb.waitJS("the delete dialog to close", `!document.querySelector("dialog#confirm-dialog")`)

	// Pages of their own.
	tb.open("/settings/api-keys/" + k.PublicID)
	tb.waitPage("/settings/api-keys/" + k.PublicID)
	tb.screen("details")
	tb.open("/settings/members")
	tb.waitPage("/settings/members")
	tb.screen("members")
	leeRow := "#member-" + strconv.FormatInt(lee.ID, 10)
	tb.click(leeRow + " details.menu > summary")
	tb.waitJS("lee's row menu", `document.querySelector("`+leeRow+` details.menu[open]")`)
	tb.screen("members-menu")
	if status := tb.open("/settings/audit-log"); status == http.StatusOK {
		tb.waitPage("/settings/audit-log")
		tb.screen("audit-log")
	}
	tb.open("/account/password")
	tb.waitPage("/account/password")
	tb.screen("password")
	// A member's view.
	tb.signOut()
	tb.signIn("bo@example.com", password)
	tb.waitPage("/")
	tb.screen("member-home")
	if status := tb.open("/settings/api-keys"); status != http.StatusForbidden {
		tb.errorf("a member gets %d for the key list, want 403", status)
	}
	tb.screen("forbidden")

	// The API reference.
	tb.open("/docs")
	tb.waitPage("/docs")
	tb.screen("docs")
}
