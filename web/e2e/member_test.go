//go:build e2e

package e2e

import (
	"net/http"
	"testing"
)

// TestMemberSeesNoKeys adds a MEMBER through Settings → Members (which
// shows their generated password once), signs in as them, and checks that
// they see no link to API Keys and get the 403 page by URL.
func TestMemberSeesNoKeys(t *testing.T) {
	_, tb, _ := ownerTab(t)
	tb.expectConsole("status of 403") // the pages this test asks for

	tb.click(`nav.sidebar a[href="/settings/members"]`)
	tb.waitPage("/settings/members")
	tb.axe("the members page")
	tb.typeInto("#member-email", "bo@example.com")
	tb.setValue("#member-role", "MEMBER")
	tb.click(`#add-member button[type=submit]`)
	tb.waitJS("the new member's password", `document.querySelector("#new-user-password")`)
	pw := eval[string](tb, `document.querySelector("#new-user-password").value`)
	if len(pw) < 10 {
		tb.fatalf("the generated password %q is too short", pw)
	}
	tb.axe("the members page with a new password")

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
