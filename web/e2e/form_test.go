//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
)

// ownerTab starts a server with an owner and team set up, and a tab signed
// in as the owner on the key list.
func ownerTab(t *testing.T) (*server, *tab, model.Team) {
	t.Helper()
	srv := startServer(t)
	_, team := srv.setup(t)
	tb := newTab(t, srv)
	tb.signIn(ownerEmail, password)
	tb.waitPage("/settings/api-keys")
	return srv, tb, team
}

// openCreateDialog opens the Create API key dialog with the mouse.
func (tb *tab) openCreateDialog() {
	tb.t.Helper()
	tb.click(`.page-head a[href="/settings/api-keys/new"]`)
	tb.waitJS("the create dialog", `document.querySelector("dialog#key-dialog[open] form.key-form")`)
	tb.settle()
}

// submitKeyForm submits the open key dialog and waits for the answer.
func (tb *tab) submitKeyForm() {
	tb.t.Helper()
	tb.click("#key-dialog button[type=submit]")
	tb.settle()
}

// wantFieldError fails unless the open dialog shows a message for field
// containing substr, with the field marked invalid when it has an input.
func (tb *tab) wantFieldError(field, substr string) {
	tb.t.Helper()
	tb.waitJS("the message for "+field, `document.querySelector("dialog#key-dialog[open] #error-`+field+`")`)
	if got := tb.text("dialog#key-dialog #error-" + field); !strings.Contains(got, substr) {
		tb.errorf("the message for %s is %q, want it to say %q", field, got, substr)
	}
}

// TestCreateFormValidation submits invalid create forms in the dialog: the
// messages appear by their fields, the input is kept, focus stays in the
// dialog, and nothing is created until the form is right.
func TestCreateFormValidation(t *testing.T) {
	srv, tb, team := ownerTab(t)
	tb.expectConsole("status of 422") // the answer to an invalid form

	tb.openCreateDialog()
	// No name, Restrict All with nothing picked.
	tb.click(`#key-dialog input[name=permission][value=restricted]`)
	tb.submitKeyForm()
	tb.wantFieldError("name", "")
	if got := tb.text("dialog#key-dialog"); !strings.Contains(got, "Pick at least one resource") {
		tb.errorf("no message asking for at least one resource")
	}
	if got := eval[string](tb, `document.querySelector("#key-name").getAttribute("aria-invalid") || ""`); got != "true" {
		tb.errorf("the empty name is not marked aria-invalid (%q)", got)
	}
	if !tb.activeInside("dialog#key-dialog[open]") {
		tb.errorf("after the errors focus is on %s, outside the dialog", tb.activeDescription())
	}
	if !eval[bool](tb, `document.querySelector("dialog#key-dialog").matches(":modal")`) {
		tb.errorf("the dialog with errors is no longer modal")
	}
	if !tb.visible("#scope-picker") {
		tb.errorf("the resource picker was hidden again although Restrict All is still chosen")
	}
	tb.axe("the create dialog with errors")

	// 101 characters: the message says the limit, the input is kept.
	long := strings.Repeat("k", 101)
	tb.typeInto("#key-name", long)
	tb.click(`#key-dialog input[name=permission][value=read_all]`)
	tb.submitKeyForm()
	tb.wantFieldError("name", "100")
	if got := eval[string](tb, `document.querySelector("#key-name").value`); got != long {
		tb.errorf("the name was not kept: %d characters", len(got))
	}
	if got := eval[string](tb, `document.querySelector("#key-dialog input[name=permission]:checked").value`); got != "read_all" {
		tb.errorf("the permission choice was not kept: %q", got)
	}

	// A custom date in the past.
	tb.typeInto("#key-name", "Nightly import")
	tb.setValue("#key-expires", "custom")
	tb.waitJS("the date field", `document.querySelector("#key-expires-at").getClientRects().length > 0`)
	tb.setValue("#key-expires-at", time.Now().UTC().AddDate(0, 0, -2).Format("2006-01-02"))
	tb.submitKeyForm()
	tb.wantFieldError("expires_at", "")
	if got := eval[string](tb, `document.querySelector("#key-name").value`); got != "Nightly import" {
		tb.errorf("the name was not kept: %q", got)
	}

	if n := srv.keyCount(t, team.ID); n != 0 {
		t.Fatalf("invalid forms created %d keys", n)
	}

	// Fixed: the key is created and revealed.
	tb.setValue("#key-expires", "30d")
	tb.submitKeyForm()
	tb.waitJS("the reveal dialog", `document.querySelector("dialog#key-dialog.reveal[open] #new-key")`)
	if n := srv.keyCount(t, team.ID); n != 1 {
		t.Fatalf("the corrected form created %d keys, want 1", n)
	}
}

// TestCreateDoubleClick double-clicks Create, in the dialog and on the
// plain form page: each makes exactly one key, and the reveal shows it.
func TestCreateDoubleClick(t *testing.T) {
	srv, tb, team := ownerTab(t)

	tb.openCreateDialog()
	tb.typeInto("#key-name", "Double-clicked in the dialog")
	tb.doubleClick("#key-dialog button[type=submit]")
	tb.waitJS("the reveal dialog", `document.querySelector("dialog#key-dialog.reveal[open] #new-key")`)
	raw := eval[string](tb, `document.querySelector("#new-key").value`)
	if !rawKeyRE.MatchString(raw) {
		tb.fatalf("the reveal shows %q, not a key", raw)
	}
	// Give a second request every chance to arrive.
	time.Sleep(500 * time.Millisecond)
	tb.settle()
	if n := srv.keyCount(t, team.ID); n != 1 {
		t.Fatalf("a double click in the dialog created %d keys, want 1", n)
	}
	tb.click("#key-dialog button[data-copy]")
	tb.waitJS("Copied", `document.querySelector("#new-key-status").innerText.includes("Copied")`)
	tb.click("#key-dialog .modal-foot button[data-close-dialog]")
	tb.waitJS("the reveal to close", `!document.querySelector("dialog#key-dialog")`)
	tb.waitJS("one row", `document.querySelectorAll("table.keys tbody tr").length === 1`)

	// The same form as a page of its own (a plain form post).
	tb.open("/settings/api-keys/new")
	tb.waitPage("/settings/api-keys/new")
	tb.axe("the create page")
	tb.typeInto("#key-name", "Double-clicked on the page")
	tb.doubleClick("form.key-form button[type=submit]")
	tb.waitJS("the reveal page", `location.pathname === "/settings/api-keys" && document.readyState === "complete" && (document.querySelector(".card.reveal #new-key") || document.querySelector(".notice"))`)
	if !tb.visible(".card.reveal #new-key") {
		tb.fatalf("after a double click on the page form, the key was not revealed")
	}
	time.Sleep(500 * time.Millisecond)
	if n := srv.keyCount(t, team.ID); n != 2 {
		t.Fatalf("a double click on the page form made the total %d keys, want 2", n)
	}
	tb.axe("the reveal page")
}
