//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"

	"github.com/keyward/keyward/views"
)

// TestKeyRollAndTeamSettings rolls a key from the row menu: the roll dialog
// with its grace choices and what happens to calls using the old key, the
// one-time reveal with Copy, both keys working within the window, and the
// rows linked both ways. Then Settings → Team sets a rotation policy, and
// the key older than it shows "Rotation due", counts on the hygiene panel
// and is listed by its filter.
func TestKeyRollAndTeamSettings(t *testing.T) {
	srv := startServer(t)
	tb := newTab(t, srv)
	_, team := srv.setup(t)
	day := 24 * time.Hour
	old, oldRaw := srv.createKey(t, team.ID, keySpec{Name: "Billing sync", Age: 40 * day, ExpiresIn: 50 * day, UsedAgo: time.Hour, Requests: 310})
	young, _ := srv.createKey(t, team.ID, keySpec{Name: "Reporting export", Age: 3 * day})
	tb.open("/login")
	tb.signIn(ownerEmail, password)
	tb.waitPage("/settings/api-keys")

	// ⋯ → Roll key… opens the dialog with focus inside.
	tb.openRowMenu(old.PublicID)
	tb.click("#key-" + old.PublicID + ` details.menu button[hx-get$="/roll"]`)
	tb.waitJS("the roll dialog", `document.querySelector("dialog#key-dialog[open] form.roll-form")`)
	if !tb.activeInside("dialog#key-dialog") {
		tb.fatalf("the roll dialog opened, but focus is on %s", tb.activeDescription())
	}
	txt := tb.text("dialog#key-dialog")
	for _, want := range []string{"Now", "1 hour", "24 hours", "3 days", "7 days", "calls using the old key keep working", old.Hint} {
		if !strings.Contains(txt, want) {
			tb.errorf("the roll dialog lacks %q: %q", want, txt)
		}
	}
	tb.screen("roll")
	tb.click(`#key-dialog input[name=expire_old_in][value="1h"]`)
	tb.click("#key-dialog button[type=submit]")
	tb.waitJS("the reveal dialog", `document.querySelector("dialog#key-dialog.reveal[open] #new-key")`)
	if got := tb.text("#reveal-title"); got != "API key rolled" {
		tb.errorf("the reveal's title is %q", got)
	}
	if got := tb.text("#key-dialog [data-roll-grace]"); !strings.Contains(got, old.Hint) || !strings.Contains(got, "in 1 hour") {
		tb.errorf("the reveal does not say until when the old key works: %q", got)
	}
	raw := eval[string](tb, `document.querySelector("#new-key").value`)
	if !rawKeyRE.MatchString(raw) || raw == oldRaw {
		tb.fatalf("the reveal shows %q, not a new key", raw)
	}
	tb.screen("roll-reveal")
	tb.click("#key-dialog button[data-copy]")
	tb.waitJS("Copied", `document.querySelector("#new-key-status").innerText.includes("Copied")`)
	if clip := eval[string](tb, `navigator.clipboard.readText()`); clip != raw {
		tb.fatalf("the clipboard holds %q, want the new key", clip)
	}
	tb.click("#key-dialog .modal-foot button[data-close-dialog]")
	tb.waitJS("the reveal to close", `!document.querySelector("dialog#key-dialog")`)

	// Both keys work within the window.
	for name, k := range map[string]string{"old": oldRaw, "new": raw} {
		if status, _ := whoami(t, srv, k); status != http.StatusOK {
			t.Errorf("the %s key gets %d within the window, want 200", name, status)
		}
	}
	status, a := whoami(t, srv, raw)
	if status != http.StatusOK || a.Name != "Billing sync" {
		t.Fatalf("the new key: %d %+v", status, a)
	}
	newID := a.ID

	// The table refreshed itself: links both ways, no raw key anywhere.
	tb.waitJS("the new row", fmt.Sprintf(`document.querySelector("#key-%s")`, newID))
	if got := tb.text("#key-" + old.PublicID + " .roll-link"); !strings.Contains(got, "Replaced by "+views.ShortKeyID(newID)) || !strings.Contains(got, "expires in") {
		tb.errorf("the old row says %q", got)
	}
	if got := tb.text("#key-" + newID + " .roll-link"); got != "Rolled from "+views.ShortKeyID(old.PublicID) {
		tb.errorf("the new row says %q", got)
	}
	tb.assertNoRawKeys("after the roll", []string{raw})
	tb.do("reload", reload())
	tb.waitPage("/settings/api-keys")
	tb.assertNoRawKeys("after reload", []string{raw})
	tb.openRowMenu(old.PublicID)
	if tb.count("#key-"+old.PublicID+` details.menu button[hx-get$="/roll"]`) != 0 {
		tb.errorf("a rolled key still offers Roll key…")
	}
	tb.press(kb.Escape)
	tb.screen("keys-rolled")
	tb.click("#key-" + old.PublicID + ` .roll-link a`)
	tb.waitPage("/settings/api-keys/" + newID)

	// Settings → Team from the sidebar: remind after 30 days.
	tb.click(`nav.sidebar a[href="/settings/team"]`)
	tb.waitPage("/settings/team")
	tb.setValue("#rotation_days", "30")
	tb.setValue("#max_key_lifetime_days", "custom")
	tb.typeInto("#max_key_lifetime_days_custom", "120")
	tb.screen("team-settings")
	tb.click(`form.team-settings button[type=submit]`)
	tb.waitJS("the saved notice", `(document.querySelector("#flash") || {}).innerText.includes("saved")`)
	got, err := srv.store.FindTeamByID(context.Background(), team.ID)
	if err != nil || got.RotationDays != 30 || got.MaxKeyLifetimeDays != 120 {
		t.Fatalf("saved settings %+v %v", got, err)
	}

	// The 40-day-old key was rolled; the 3-day-old one is not due. Age the
	// young key by creating one 35 days old: it is due.
	due, _ := srv.createKey(t, team.ID, keySpec{Name: "Mobile app backend", Age: 35 * day, ExpiresIn: 60 * day})
	tb.open("/settings/api-keys")
	tb.waitPage("/settings/api-keys")
	if tb.count("#key-"+due.PublicID+" .badge-rotate") != 1 || tb.count("#key-"+young.PublicID+" .badge-rotate") != 0 ||
		tb.count("#key-"+old.PublicID+" .badge-rotate") != 0 {
		tb.errorf("Rotation due is not on exactly the key older than 30 days that was not rolled")
	}
	if got := tb.text(`a[data-hygiene=rotation_due]`); !strings.HasPrefix(got, "1") {
		tb.errorf("the hygiene card says %q", got)
	}
	tb.screen("keys-rotation")
	tb.click(`a[data-hygiene=rotation_due]`)
	tb.waitPage("/settings/api-keys")
	tb.waitJS("the filtered table", `location.search.includes("hygiene=rotation_due")`)
	if n := tb.count("table.keys tbody tr"); n != 1 || tb.count("#key-"+due.PublicID) != 1 {
		tb.errorf("the rotation filter shows %d rows, want the one key due", n)
	}
}
