//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp/kb"

	"github.com/keyward/keyward/internal/model"
)

// TestMemberSeesNoKeys invites a MEMBER through Settings → Members (which
// shows the invitation link once, as keyward sends no e-mail here), accepts
// the invitation as them with a password of their own, and checks that they
// see no link to API Keys and get the 403 page by URL.
func TestMemberSeesNoKeys(t *testing.T) {
	_, tb, _ := ownerTab(t)
	tb.expectConsole("status of 403") // the pages this test asks for

	tb.click(`nav.sidebar a[href="/settings/members"]`)
	tb.waitPage("/settings/members")
	tb.axe("the members page")
	tb.typeInto("#member-email", "bo@example.com")
	tb.setValue("#member-role", "MEMBER")
	tb.click(`#add-member button[type=submit]`)
	tb.waitJS("the invitation link", `document.querySelector("#one-time-link")`)
	link := eval[string](tb, `document.querySelector("#one-time-link").value`)
	if !strings.Contains(link, "/invitations/") {
		tb.fatalf("the invitation link is %q", link)
	}
	tb.axe("the members page with an invitation link")
	if n := tb.count("section.invitations tbody tr"); n != 1 {
		tb.errorf("%d pending invitations listed, want 1", n)
	}

	tb.signOut()
	tb.open(strings.TrimPrefix(link, tb.srv.URL))
	tb.waitPage("/invitations/")
	tb.axe("the invitation page")
	tb.shot("invitation-desktop-light")
	pw := "bo chooses a passphrase"
	tb.typeInto("#password", pw)
	tb.typeInto("#confirm_password", pw)
	tb.click(`main form button[type=submit]`)
	tb.waitPage("/")
	tb.signOut()
	tb.signIn("bo@example.com", pw)
	tb.waitPage("/")
	if n := tb.count(`a[href^="/settings/api-keys"]`); n != 0 {
		tb.errorf("a MEMBER sees %d links to API Keys", n)
	}
	if n := tb.count("nav.sidebar"); n != 0 {
		tb.errorf("a MEMBER sees the settings sidebar")
	}
	tb.axe("the member's home page")

	for _, path := range []string{"/settings/api-keys", "/settings/api-keys/new"} {
		if status := tb.open(path); status != http.StatusForbidden {
			tb.errorf("a MEMBER opening %s gets %d, want 403", path, status)
		}
		if got := tb.text(".error-page .status"); got != "403" {
			tb.errorf("%s: the error page shows %q, want 403", path, got)
		}
	}
	tb.axe("the 403 page")
}

// TestMemberRowMenu uses a members row's ⋯ menu: rows stay one line high,
// the keyboard opens the menu and moves through it, a role change is one
// item (a plain form post), and Remove… opens its confirmation dialog,
// which Escape closes, giving focus back to ⋯.
func TestMemberRowMenu(t *testing.T) {
	srv, tb, team := ownerTab(t)
	bo := srv.addMember(t, team.ID, "bo@example.com", model.RoleMember)
	srv.addMember(t, team.ID, leeEmail, model.RoleAdmin)
	id := strconv.FormatInt(bo.ID, 10)
	row := "#member-" + id
	summary := row + " details.menu > summary"

	tb.open("/settings/members")
	tb.waitPage("/settings/members")
	heights := eval[[]float64](tb, `Array.from(document.querySelectorAll("table.members tbody tr")).map((tr) => tr.getBoundingClientRect().height)`)
	if len(heights) != 3 || slices.Max(heights) > 64 {
		tb.errorf("member rows are %v px high, want 3 compact rows (at most 64px)", heights)
	}
	tb.axe("the members page")

	// The keyboard: Tab to ⋯, Enter opens, the arrows move, Escape closes.
	tb.tabTo("bo's ⋯ menu", fmt.Sprintf(`el.matches(%q)`, summary), 40)
	tb.press(kb.Enter)
	tb.waitJS("the menu to open", fmt.Sprintf(`document.querySelector("%s details.menu[open]")`, row))
	items := eval[[]string](tb, fmt.Sprintf(`Array.from(document.querySelectorAll("%s details.menu [role=menuitem]")).map((e) => e.innerText.trim())`, row))
	if want := []string{"Change role to Owner", "Change role to Admin", "Send password reset link", "Remove…"}; !slices.Equal(items, want) {
		tb.errorf("bo's menu offers %q, want %q", items, want)
	}
	tb.axe("the members page with a row menu open")
	tb.press(kb.ArrowDown)
	tb.wantFocus("Change role to Owner", `el.innerText.trim() === "Change role to Owner"`)
	tb.press(kb.Escape)
	tb.waitJS("the menu to close", fmt.Sprintf(`!document.querySelector("%s details.menu[open]")`, row))
	tb.wantFocus("the ⋯ button", fmt.Sprintf(`el.matches(%q)`, summary))

	// A role change is one item: ArrowDown twice, Enter.
	tb.press(kb.ArrowDown)
	tb.press(kb.ArrowDown)
	tb.wantFocus("Change role to Admin", `el.innerText.trim() === "Change role to Admin"`)
	tb.press(kb.Enter)
	tb.waitJS("the new role", `document.querySelector("#flash .notice-success") && document.readyState === "complete"`)
	tb.waitPage("/settings/members")
	if got := tb.text("#flash .notice-success"); got != "bo@example.com is now Admin." {
		tb.errorf("after the role change the notice says %q", got)
	}
	if got := tb.text(row + " td .badge"); got != "Admin" {
		tb.errorf("bo's row shows %q, want Admin", got)
	}
	m, err := srv.store.FindMembershipByID(context.Background(), team.ID, bo.ID)
	if err != nil || m.Role != model.RoleAdmin {
		t.Fatalf("bo's role in the store: %v %v, want ADMIN", m.Role, err)
	}

	// Remove… opens the confirmation; Escape closes it; focus returns to ⋯.
	tb.click(summary)
	tb.click(row + " details.menu a[data-open-dialog]")
	tb.waitJS("the remove dialog", `document.querySelector("dialog#remove-member-`+id+`[open]")`)
	tb.settle()
	if !tb.activeInside("dialog#remove-member-" + id) {
		tb.errorf("the remove dialog opened, but focus is on %s", tb.activeDescription())
	}
	tb.press(kb.Escape)
	tb.waitJS("the remove dialog to close", `!document.querySelector("dialog#remove-member-`+id+`[open]")`)
	tb.wantFocus("the ⋯ button after the dialog", fmt.Sprintf(`el.matches(%q)`, summary))
	if m, err := srv.store.FindMembershipByID(context.Background(), team.ID, bo.ID); err != nil || m.Role != model.RoleAdmin {
		t.Fatalf("bo after a dismissed removal: %v %v", m.Role, err)
	}
}

// TestPasswordResetFromMembers sends a member a reset link from their row's
// ⋯ menu (shown once, as keyward sends no e-mail here); the member opens it
// signed out, chooses a new password, and signs in with it; the link then
// no longer works. The sign-in page links to "Forgot your password?".
func TestPasswordResetFromMembers(t *testing.T) {
	srv, tb, team := ownerTab(t)
	tb.expectConsole("status of 422") // the refused short password
	tb.expectConsole("status of 404") // the used link
	lee := srv.addMember(t, team.ID, leeEmail, model.RoleAdmin)
	row := "#member-" + strconv.FormatInt(lee.ID, 10)

	tb.open("/settings/members")
	tb.waitPage("/settings/members")
	tb.click(row + " details.menu > summary")
	tb.click(row + ` form[action$="/password-reset"] button`)
	tb.waitJS("the reset link", `document.querySelector("#one-time-link")`)
	link := eval[string](tb, `document.querySelector("#one-time-link").value`)
	if !strings.Contains(link, "/password/reset/") {
		tb.fatalf("the reset link is %q", link)
	}
	path := strings.TrimPrefix(link, tb.srv.URL)

	tb.signOut()
	if n := tb.count(`a[href="/password/forgot"]`); n != 1 {
		tb.errorf("the sign-in page has %d Forgot password links, want 1", n)
	}
	tb.open(path)
	tb.waitPage("/password/reset/")
	tb.axe("the password reset page")
	tb.typeInto("#password", "short")
	tb.typeInto("#confirm_password", "short")
	tb.click(`main form button[type=submit]`)
	tb.waitJS("the policy message", `document.querySelector("#password-error")`)
	pw := "a passphrase she likes"
	tb.typeInto("#password", pw)
	tb.typeInto("#confirm_password", pw)
	tb.click(`main form button[type=submit]`)
	tb.waitPage("/login")
	tb.signIn(leeEmail, pw)
	if status := tb.open(path); status != http.StatusNotFound {
		tb.errorf("a used reset link answers %d, want 404", status)
	}
}
