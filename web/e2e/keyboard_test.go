//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestKeyboardOnly uses the key pages with the keyboard alone: Tab to a
// row's ⋯ menu, open it and move with the arrows, open the edit, create
// and revoke dialogs (focus moves in), close them with Escape (focus comes
// back), and submit them.
func TestKeyboardOnly(t *testing.T) {
	srv, tb, team := ownerTab(t)
	k, _ := srv.createKey(t, team.ID, keySpec{Name: "Keyboard key"})
	row := "#key-" + k.PublicID
	summary := row + " details.menu > summary"

	tb.open("/settings/api-keys")
	tb.waitPage("/settings/api-keys")
	tb.tabTo("the row's ⋯ menu", fmt.Sprintf(`el.matches(%q)`, summary), 30)

	// Enter opens the menu; the arrows move through its items.
	tb.press(kb.Enter)
	tb.waitJS("the menu to open", fmt.Sprintf(`document.querySelector("%s details.menu[open]")`, row))
	tb.press(kb.ArrowDown)
	tb.wantFocus("View details", `el.innerText.trim() === "View details"`)
	tb.press(kb.ArrowDown)
	tb.wantFocus("Edit", `el.innerText.trim() === "Edit"`)
	// Escape closes the menu and puts focus back on ⋯.
	tb.press(kb.Escape)
	tb.waitJS("the menu to close", fmt.Sprintf(`!document.querySelector("%s details.menu[open]")`, row))
	tb.wantFocus("the ⋯ button", fmt.Sprintf(`el.matches(%q)`, summary))

	// ArrowDown on ⋯ opens the menu at its first item; Enter on Edit opens
	// the edit dialog with focus inside; Escape closes it and focus returns.
	tb.press(kb.ArrowDown)
	tb.wantFocus("View details", `el.innerText.trim() === "View details"`)
	tb.press(kb.ArrowDown)
	tb.press(kb.Enter)
	tb.waitJS("the edit dialog", `document.querySelector("dialog#key-dialog[open] form.key-form")`)
	tb.settle()
	tb.wantFocus("a field of the edit dialog", `!!el.closest("dialog#key-dialog")`)
	tb.press(kb.Escape)
	tb.waitJS("the edit dialog to close", `!document.querySelector("dialog#key-dialog")`)
	tb.wantFocus("the ⋯ button after the dialog", fmt.Sprintf(`el.matches(%q)`, summary))

	// Open it again and submit it from the keyboard: End, type, Enter.
	tb.press(kb.ArrowDown)
	tb.press(kb.ArrowDown)
	tb.press(kb.Enter)
	tb.waitJS("the edit dialog", `document.querySelector("dialog#key-dialog[open] form.key-form")`)
	tb.settle()
	tb.wantFocus("the name field", `el.id === "key-name"`)
	tb.press(kb.End)
	tb.press(" (renamed)")
	tb.press(kb.Enter)
	tb.waitJS("the edit dialog to close", `!document.querySelector("dialog#key-dialog")`)
	tb.waitJS("the renamed row", fmt.Sprintf(`(document.querySelector("%s th") || {}).innerText === "Keyboard key (renamed)"`, row))

	// The create dialog: from the search field ("/"), back to Create API key.
	tb.pressShortcut("/", "Slash", 191)
	tb.wantFocus("the search field", `el.id === "key-q"`)
	if got := eval[string](tb, `document.querySelector("#key-q").value`); got != "" {
		tb.errorf("the / shortcut typed %q into the search field", got)
	}
	tb.shiftTabTo("Create API key", `el.matches('.page-head a[href="/settings/api-keys/new"]')`, 5)
	tb.press(kb.Enter)
	tb.waitJS("the create dialog", `document.querySelector("dialog#key-dialog[open] form.key-form")`)
	tb.settle()
	tb.wantFocus("the name field", `el.id === "key-name"`)
	tb.press("Typed on the keyboard")
	tb.press(kb.Enter)
	tb.waitJS("the reveal dialog", `document.querySelector("dialog#key-dialog.reveal[open] #new-key")`)
	tb.settle()
	tb.wantFocus("inside the reveal", `!!el.closest("dialog#key-dialog")`)
	// Escape before Copy asks first; dismissing keeps the key on screen.
	seen := len(tb.jsDialogs())
	tb.acceptDialogs.Store(false)
	tb.press(kb.Escape)
	tb.waitDialogs(seen + 1)
	tb.acceptDialogs.Store(true)
	if ds := tb.jsDialogs(); !strings.Contains(ds[len(ds)-1], "haven't copied") {
		tb.errorf("Escape before Copy asked %q", ds[len(ds)-1])
	}
	tb.waitJS("the reveal still open", `document.querySelector("dialog#key-dialog.reveal[open]")`)
	// Copy with the keyboard, then Escape closes without asking.
	tb.tabTo("Copy", `el.matches("[data-copy]")`, 6)
	tb.press(kb.Enter)
	tb.waitJS("Copied", `document.querySelector("#new-key-status").innerText.includes("Copied")`)
	seen = len(tb.jsDialogs())
	tb.press(kb.Escape)
	tb.waitJS("the reveal to close", `!document.querySelector("dialog#key-dialog")`)
	if len(tb.jsDialogs()) != seen {
		tb.errorf("Escape after Copy asked for confirmation")
	}
	tb.wantFocus("Create API key after the reveal", `el.matches('.page-head a[href="/settings/api-keys/new"]')`)
	tb.waitJS("two rows", `document.querySelectorAll("table.keys tbody tr").length === 2`)

	// Revoke from the menu: End, ArrowUp, Enter; the dialog's focus starts
	// on Cancel; Tab to Revoke key and Enter.
	tb.focus(summary)
	tb.press(kb.ArrowDown)
	tb.press(kb.End)
	tb.wantFocus("Delete…", `el.innerText.trim() === "Delete…"`)
	tb.press(kb.ArrowUp)
	tb.wantFocus("Revoke…", `el.innerText.trim() === "Revoke…"`)
	tb.press(kb.Enter)
	tb.waitJS("the revoke dialog", `document.querySelector("dialog#confirm-dialog[open]")`)
	tb.settle()
	tb.wantFocus("Cancel in the revoke dialog", `!!el.closest("dialog#confirm-dialog") && el.innerText.trim() === "Cancel"`)
	tb.press(kb.Tab)
	tb.wantFocus("Revoke key", `el.innerText.trim() === "Revoke key"`)
	tb.press(kb.Enter)
	tb.waitJS("the Revoked badge", fmt.Sprintf(`(document.querySelector("%s td.status") || {}).innerText === "Revoked"`, row))
}

// wantFocus waits until expr holds for the focused element el.
func (tb *tab) wantFocus(what, expr string) {
	tb.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ok, err := tryEval[bool](tb, `(() => { const el = document.activeElement; return !!el && !!(`+expr+`); })()`)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			tb.fatalf("focus should be on %s, but it is on %s", what, tb.activeDescription())
		}
		time.Sleep(40 * time.Millisecond)
	}
}

// focus moves focus to sel (a starting point; the steps after it use keys).
func (tb *tab) focus(sel string) {
	tb.t.Helper()
	eval[bool](tb, fmt.Sprintf(`(document.querySelector(%q).focus(), true)`, sel))
}

// shiftTabTo is tabTo backwards.
func (tb *tab) shiftTabTo(desc, expr string, max int) {
	tb.t.Helper()
	for i := 0; i < max; i++ {
		tb.do("press Shift+Tab", chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift)))
		if eval[bool](tb, `(() => { const el = document.activeElement; return !!el && !!(`+expr+`); })()`) {
			return
		}
	}
	tb.fatalf("%s: not reached with %d presses of Shift+Tab (focus is on %s)", desc, max, tb.activeDescription())
}

// pressShortcut presses a printable key as one keyDown that carries its
// text, as a real keyboard does, so a page that handles the keydown (and
// prevents its default) also stops the character. chromedp's KeyEvent sends
// the character as a separate event, which the page cannot always stop.
func (tb *tab) pressShortcut(key, code string, keyCode int64) {
	tb.t.Helper()
	tb.do("press "+key, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeKeyDown, input.DispatchKeyEventTypeKeyUp} {
			p := input.DispatchKeyEventParams{Type: typ, Key: key, Code: code, WindowsVirtualKeyCode: keyCode, NativeVirtualKeyCode: keyCode}
			if typ == input.DispatchKeyEventTypeKeyDown {
				p.Text, p.UnmodifiedText = key, key
			}
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, p); err != nil {
				return err
			}
		}
		return nil
	}))
}
