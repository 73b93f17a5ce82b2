//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/model"
)

// TestTwoFactor turns on two-factor authentication in Chromium (QR code,
// manual key, first code, recovery codes shown once), signs in again with
// a code, and checks that a team requiring two-factor sends an admin
// without it to enrolment before settings.
func TestTwoFactor(t *testing.T) {
	srv, tb, team := ownerTab(t)
	tb.open("/account/two-factor")
	tb.waitPage("/account/two-factor")
	tb.axe("the two-factor page, off")
	tb.click(`form[action="/account/two-factor/start"] button`)
	tb.waitJS("the QR code", `!!document.querySelector("figure.qr svg path")`)
	tb.axe("the two-factor page, enrolling")
	tb.shot("two-factor-desktop-light")
	secret := strings.ReplaceAll(tb.text("code.totp-secret"), " ", "")
	code, err := auth.TOTPCode(secret, srv.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	tb.typeInto("#code", code)
	tb.click(`form[action="/account/two-factor/confirm"] button`)
	tb.waitJS("the recovery codes", `document.querySelectorAll("#recovery-codes code").length === 10`)
	tb.axe("the recovery codes")

	tb.signOut()
	tb.open("/login")
	tb.typeInto("#email", ownerEmail)
	tb.typeInto("#password", password)
	tb.click(`form[action="/login"] button[type=submit]`)
	tb.waitPage("/login/two-factor")
	tb.axe("the sign-in code page")
	// The enrolment used this time step's code: the next step's is valid
	// too (the window is one step either way) and unused.
	code, _ = auth.TOTPCode(secret, srv.clock.Now().Add(30*time.Second))
	tb.typeInto("#code", code)
	tb.click(`form[action="/login/two-factor"] button[type=submit]`)
	tb.waitPage("/settings/api-keys")

	// The team requires two-factor: Lee, an admin without it, is sent to
	// enrolment when opening settings.
	srv.addMember(t, team.ID, leeEmail, model.RoleAdmin)
	tb.open("/settings/team")
	tb.waitPage("/settings/team")
	tb.click(`#team-two-factor input[name=require_2fa]`)
	tb.click(`#team-two-factor button[type=submit]`)
	// The box is checked as soon as it is clicked: wait for the saved page
	// (its notice), or the sign-out below clicks into a page being replaced.
	tb.waitJS("saved", `document.readyState === "complete" && document.body.innerText.includes("now need two-factor authentication") && document.querySelector("#team-two-factor input[name=require_2fa]").checked`)
	tb.signOut()
	tb.signIn(leeEmail, password)
	tb.waitPage("/account/two-factor")
	if got := tb.text(".notice-warn"); !strings.Contains(got, "requires two-factor") {
		tb.errorf("the enrolment page says %q", got)
	}
}
