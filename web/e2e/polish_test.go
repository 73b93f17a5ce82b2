//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"

	"github.com/keyward/keyward/internal/model"
)

var (
	wideLight = variant{name: "wide-light", width: 1440, height: 900}
	midLight  = variant{name: "mid-light", width: 900, height: 800}
)

// busyTeam creates keys with every column as wide as it gets: long names,
// restricted scopes, two-line statuses (refused calls after expiry or
// revocation) and sparklines. It returns the keys in table order (newest
// first).
func busyTeam(t *testing.T, srv *server, teamID int64) []model.APIKey {
	t.Helper()
	day := 24 * time.Hour
	specs := []keySpec{
		{Name: "Zapier webhook (legacy)", Age: 90 * day, UsedAgo: 20 * day, Revoked: true, Refused: 1},
		{Name: "Analytics warehouse export", Age: 200 * day, UsedAgo: 30 * day, ExpiresIn: -2 * day, Refused: 1},
		{Name: "Mobile app backend (prod)", Permission: model.PermRestricted, Scopes: []string{"customers:write", "invoices:read", "api_keys:read"},
			Age: 70 * day, UsedAgo: time.Minute, Requests: 12000},
		{Name: "Deploy bot (CI)", Env: model.EnvTest, Permission: model.PermWriteAll, Age: 3 * day, ExpiresIn: 60 * day},
		{Name: "Reporting export", Age: 40 * day, UsedAgo: 2 * time.Hour, Requests: 96, ExpiresIn: 5 * day},
		{Name: "Billing sync", Permission: model.PermRestricted, Scopes: []string{"invoices:write", "customers:read"},
			Age: 12 * day, UsedAgo: 3 * time.Minute, Requests: 1840, ExpiresIn: 80 * day},
	}
	var out []model.APIKey
	for _, ks := range specs {
		k, _ := srv.createKey(t, teamID, ks)
		out = append(out, k)
	}
	// The table shows the newest first.
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out
}

// uncovered checks, at the table's current scroll, that the sticky ⋯
// column covers no other cell and that every cell is inside the table's box.
const uncovered = `(() => {
  const wrap = document.querySelector("#key-table .table-wrap");
  const box = wrap.getBoundingClientRect();
  const problems = [];
  for (const tr of document.querySelectorAll("#key-table tbody tr")) {
    const act = tr.querySelector("td.actions").getBoundingClientRect();
    for (const cell of tr.querySelectorAll(":scope > :not(.actions)")) {
      const r = cell.getBoundingClientRect();
      if (r.right > act.left + 0.5 && r.left < act.right - 0.5) problems.push(tr.id + ": the ⋯ column covers " + (cell.dataset.label || "the name"));
      if (r.right > box.right + 0.5) problems.push(tr.id + ": " + (cell.dataset.label || "the name") + " ends at " + Math.round(r.right) + ", past the table at " + Math.round(box.right));
    }
  }
  return problems;
})()`

// layout is where the header cells and one row are, to tell whether
// opening a menu moved anything.
const layout = `(() => {
  const cols = Array.from(document.querySelectorAll("#key-table thead th")).map((th) => Math.round(th.getBoundingClientRect().left));
  const rows = Array.from(document.querySelectorAll("#key-table tbody tr")).map((tr) => Math.round(tr.getBoundingClientRect().height));
  return JSON.stringify({cols, rows});
})()`

// TestKeyTableAtDesktopWidths: at 1280 and 1440 px, with real data, every
// column is visible and the sticky ⋯ column covers no cell; narrower, the
// table scrolls with a shadow at the ⋯ column. Opening a ⋯ menu, fitting
// or scrolling, grows no row and moves no column.
func TestKeyTableAtDesktopWidths(t *testing.T) {
	srv, tb, team := ownerTab(t)
	keys := busyTeam(t, srv, team.ID)
	tb.open("/settings/api-keys")
	tb.waitPage("/settings/api-keys")
	if n := tb.count("#key-table td.status .sub.refused"); n != 2 {
		tb.fatalf("%d two-line statuses in the table, want 2", n)
	}
	if n := tb.count("#key-table td.last-used svg, #key-table td.last-used .spark"); n == 0 {
		tb.fatalf("no sparklines in the table")
	}
	for _, v := range []variant{desktopLight, wideLight} {
		tb.view(v)
		tb.waitJS("the table to fit at "+v.name, `document.querySelector("#key-table .table-wrap[data-fits]")`)
		if p := eval[[]string](tb, uncovered); len(p) > 0 {
			tb.errorf("at %dpx: %s", v.width, strings.Join(p, "; "))
		}
		before := eval[string](tb, layout)
		tb.openRowMenu(keys[2].PublicID)
		if after := eval[string](tb, layout); after != before {
			tb.errorf("at %dpx opening a ⋯ menu moved the table: %s → %s", v.width, before, after)
		}
		tb.press(kb.Escape)
	}

	tb.view(midLight)
	tb.waitJS("the table to scroll at 900px", `document.querySelector("#key-table .table-wrap:not([data-fits])")`)
	shadow := eval[string](tb, `getComputedStyle(document.querySelector("#key-table tbody td.actions")).boxShadow`)
	if strings.Count(shadow, "rgb") < 2 {
		tb.errorf("at 900px the ⋯ column has no shadow to show the table scrolls: %q", shadow)
	}
	before := eval[string](tb, layout)
	tb.openRowMenu(keys[2].PublicID)
	if after := eval[string](tb, layout); after != before {
		tb.errorf("at 900px opening a ⋯ menu moved the table: %s → %s", before, after)
	}
	// The floating menu is in view, under its button, and works.
	type box struct{ Top, Bottom, Left, Right, SummaryBottom, SummaryTop float64 }
	b := eval[box](tb, fmt.Sprintf(`(() => { const m = document.querySelector("#key-%s details.menu"); const u = m.querySelector("ul").getBoundingClientRect(); const s = m.querySelector("summary").getBoundingClientRect();
	  return {Top: u.top, Bottom: u.bottom, Left: u.left, Right: u.right, SummaryBottom: s.bottom, SummaryTop: s.top}; })()`, keys[2].PublicID))
	if b.Left < 0 || b.Right > float64(midLight.width) || b.Top < 0 || b.Bottom > float64(midLight.height) ||
		(b.Top < b.SummaryBottom && b.Bottom > b.SummaryTop) {
		tb.errorf("at 900px the open menu is at %+v", b)
	}
	tb.click("#key-" + keys[2].PublicID + ` details.menu button[hx-get$="/revoke"]`)
	tb.waitJS("the revoke dialog", `document.querySelector("dialog#confirm-dialog[open]")`)
	tb.press(kb.Escape)
	tb.waitJS("the revoke dialog to close", `!document.querySelector("dialog#confirm-dialog")`)
	tb.view(desktopLight)
}

// TestPhoneCards: below 640 px keys, members and the audit log are cards,
// with every field of a row on screen.
func TestPhoneCards(t *testing.T) {
	srv, tb, team := ownerTab(t)
	busyTeam(t, srv, team.ID)
	srv.addMember(t, team.ID, leeEmail, model.RoleAdmin)
	onScreen := `(() => {
	  const problems = [];
	  const rows = document.querySelectorAll("table.keys tbody tr");
	  for (const tr of rows) {
	    for (const cell of tr.querySelectorAll(":scope > *")) {
	      const r = cell.getBoundingClientRect();
	      if (cell.getClientRects().length === 0 || r.width === 0) { problems.push(tr.id + ": " + (cell.dataset.label || "first cell") + " hidden"); continue; }
	      if (r.left < 0 || r.right > document.documentElement.clientWidth + 0.5) problems.push(tr.id + ": " + (cell.dataset.label || "first cell") + " at " + Math.round(r.left) + "–" + Math.round(r.right));
	      if (cell.dataset.label && getComputedStyle(cell, "::before").content !== JSON.stringify(cell.dataset.label)) problems.push(tr.id + ": " + cell.dataset.label + " has no label");
	    }
	  }
	  return {Rows: rows.length, Problems: problems};
	})()`
	type result struct {
		Rows     int
		Problems []string
	}
	tb.view(phoneLight)
	for _, page := range []struct{ path, what string }{
		{"/settings/api-keys", "keys"}, {"/settings/members", "members"}, {"/settings/audit-log", "audit log"},
	} {
		tb.open(page.path)
		tb.waitPage(page.path)
		r := eval[result](tb, onScreen)
		if r.Rows == 0 || len(r.Problems) > 0 {
			tb.errorf("%s on a phone: %d rows; %s", page.what, r.Rows, strings.Join(r.Problems, "; "))
		}
		tb.wantNoSidewaysScroll(page.what)
		tb.axe(page.what + " as cards")
	}
	tb.open("/settings/api-keys")
	tb.waitPage("/settings/api-keys")
	if got := tb.text("#key-table tbody tr:first-child td.status"); !strings.Contains(got, "Active") {
		tb.errorf("a key card's status reads %q", got)
	}
	tb.view(desktopLight)
}

// ring is the focused element's outline and the colours around it.
const ring = `(() => {
  const el = document.activeElement;
  const cs = getComputedStyle(el);
  const rgb = (s) => (s.match(/[\d.]+/g) || []).map(Number);
  const lum = (c) => { const [r, g, b] = c.slice(0, 3).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const bg = (node) => { for (let n = node; n; n = n.parentElement) { const c = rgb(getComputedStyle(n).backgroundColor); if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c; } return [255, 255, 255]; };
  const outline = rgb(cs.outlineColor);
  const own = bg(el), around = bg(el.parentElement);
  return {What: (el.innerText || el.getAttribute("aria-label") || el.tagName).trim().slice(0, 30) + " (" + cs.outlineColor + " on " + own + " in " + around + ")", Style: cs.outlineStyle, Width: parseFloat(cs.outlineWidth),
    Own: ratio(outline, own), Around: ratio(outline, around)};
})()`

type focusRing struct {
	What        string
	Style       string
	Width       float64
	Own, Around float64
}

func (tb *tab) wantRing(where string) {
	tb.t.Helper()
	// Measured once the focus and hover transitions have run.
	tb.waitJS(where+": transitions to end", `document.activeElement.getAnimations({subtree: false}).every((a) => a.playState !== "running")`)
	r := eval[focusRing](tb, ring)
	// Inside a menu the ring is drawn within the item, on its own
	// background; elsewhere outside it, on its parent's.
	contrast := r.Around
	if r.Own < contrast {
		contrast = r.Own
	}
	if r.Style == "none" || r.Width < 2 || contrast < 3 {
		tb.errorf("%s: %q has a focus ring %s %.0fpx at %.2f:1, want 2px at 3:1", where, r.What, r.Style, r.Width, contrast)
	}
}

// TestFocusRingsInMenus: every item of the ⋯ and account menus, Revoke…
// and Delete… included, has a 2px focus ring at 3:1 or more, light and dark.
func TestFocusRingsInMenus(t *testing.T) {
	srv, tb, team := ownerTab(t)
	busyTeam(t, srv, team.ID)
	tb.open("/settings/api-keys")
	tb.waitPage("/settings/api-keys")
	for _, v := range []variant{desktopLight, desktopDark} {
		tb.view(v)
		eval[bool](tb, `(document.querySelector("#key-table tbody tr:nth-child(3) details.menu > summary").focus(), true)`)
		tb.wantRing(v.name + " ⋯ button")
		for i, want := range []string{"View details", "Edit", "Roll key…", "Revoke…", "Delete…"} {
			tb.press(kb.ArrowDown)
			if got := eval[string](tb, `document.activeElement.innerText.trim()`); got != want {
				tb.fatalf("%s: item %d of the ⋯ menu is %q, want %q", v.name, i+1, got, want)
			}
			tb.wantRing(v.name + " ⋯ menu")
		}
		tb.press(kb.Escape)
		eval[bool](tb, `(document.querySelector("details.user-menu > summary").focus(), true)`)
		tb.wantRing(v.name + " account menu button")
		tb.press(kb.ArrowDown)
		for i := 0; i < 3; i++ {
			tb.wantRing(v.name + " account menu")
			tb.press(kb.ArrowDown)
		}
		tb.press(kb.Escape)
		eval[bool](tb, `(document.querySelector("#key-q").focus(), true)`)
		tb.wantRing(v.name + " search field")
	}
	tb.view(desktopLight)
}

// TestRevealQuickStartAndConfirmFocus: the reveal dialog starts on Copy,
// shows the key in a face where _ shows, and offers a ready curl call with
// its own Copy (no Copy buttons without JavaScript); after a revoke or
// delete is confirmed, focus goes to the row or the one that took its
// place, and the notice is announced. The API reference is in the sidebar.
func TestRevealQuickStartAndConfirmFocus(t *testing.T) {
	srv, tb, team := ownerTab(t)
	keys := busyTeam(t, srv, team.ID)
	tb.open("/settings/api-keys")
	tb.waitPage("/settings/api-keys")

	tb.openCreateDialog()
	tb.typeInto("#key-name", "Quick start")
	tb.submitKeyForm()
	tb.waitJS("the reveal dialog", `document.querySelector("dialog#key-dialog.reveal[open] #new-key")`)
	tb.settle()
	if !tb.activeInside(`#key-dialog button[data-copy="#new-key"]`) {
		tb.errorf("the reveal dialog starts on %s, want Copy", tb.activeDescription())
	}
	raw := eval[string](tb, `document.querySelector("#new-key").value`)
	type keyFont struct {
		Family           string
		LineHeight, Font float64
		Client, Scroll   int
	}
	f := eval[keyFont](tb, `(() => { const el = document.querySelector("#new-key"); const cs = getComputedStyle(el);
	  return {Family: cs.fontFamily, LineHeight: parseFloat(cs.lineHeight), Font: parseFloat(cs.fontSize), Client: el.clientHeight, Scroll: el.scrollHeight}; })()`)
	if !strings.Contains(strings.ToLower(f.Family), "dejavu sans mono") || f.LineHeight < 1.5*f.Font || f.Scroll > f.Client {
		tb.errorf("the key's face %q, line %.1fpx for %.1fpx type, box %d/%d: an underscore may be cut off", f.Family, f.LineHeight, f.Font, f.Client, f.Scroll)
	}
	if !strings.Contains(raw, "_") {
		tb.fatalf("the key %q has no underscore", raw)
	}
	tb.shot("reveal-quick-start-desktop-light")
	// The quick start reads top to bottom: its heading, what the call does,
	// then the command with its Copy, each as wide as the dialog allows.
	type stacked struct{ HeadBottom, TextTop, TextBottom, BoxTop, TextWidth, BoxWidth float64 }
	q := eval[stacked](tb, `(() => { const q = document.querySelector("#key-dialog .quick-start");
	  const h = q.querySelector("h3").getBoundingClientRect(), p = q.querySelector("p").getBoundingClientRect(), b = q.querySelector(".code-box").getBoundingClientRect();
	  return {HeadBottom: h.bottom, TextTop: p.top, TextBottom: p.bottom, BoxTop: b.top, TextWidth: p.width, BoxWidth: b.width}; })()`)
	if q.HeadBottom > q.TextTop || q.TextBottom > q.BoxTop || q.TextWidth < 0.9*q.BoxWidth {
		tb.errorf("the quick start is not laid out top to bottom: %+v", q)
	}
	cmd := tb.text("#quick-start-cmd")
	want := `curl -H "X-API-Key: ` + raw + `" ` + srv.URL + "/v1/whoami"
	if cmd != want {
		tb.errorf("the quick start is %q, want %q", cmd, want)
	}
	// The call works as shown.
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/v1/whoami", nil)
	req.Header.Set("X-API-Key", raw)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusOK {
		tb.errorf("the quick start's call: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	tb.click(`#key-dialog button[data-copy="#quick-start-cmd"]`)
	tb.waitJS("the command copied", `document.querySelector("#new-key-status").innerText.includes("Copied")`)
	// Without JavaScript (no class js on <html>) no Copy button shows.
	hidden := eval[bool](tb, `(() => { document.documentElement.classList.remove("js");
	  const all = Array.from(document.querySelectorAll("[data-copy]")).every((b) => getComputedStyle(b).display === "none");
	  document.documentElement.classList.add("js"); return all; })()`)
	if !hidden {
		tb.errorf("Copy buttons show without JavaScript")
	}
	tb.click("#key-dialog .modal-foot button[data-close-dialog]")
	tb.waitJS("the reveal to close", `!document.querySelector("dialog#key-dialog")`)

	// Revoke from the table with the keyboard: focus comes back to the row.
	row := "#key-" + keys[2].PublicID
	eval[bool](tb, `(document.querySelector("`+row+` details.menu > summary").focus(), true)`)
	for i := 0; i < 6 && !tb.activeInside(row+` button[hx-get$="/revoke"]`); i++ {
		tb.press(kb.ArrowDown)
	}
	if !tb.activeInside(row + ` button[hx-get$="/revoke"]`) {
		tb.fatalf("the arrows do not reach Revoke… in the ⋯ menu (focus on %s)", tb.activeDescription())
	}
	tb.press(kb.Enter)
	tb.waitJS("the revoke dialog", `document.querySelector("dialog#confirm-dialog[open]")`)
	tb.click("dialog#confirm-dialog button[type=submit]")
	tb.waitJS("the row revoked and focused", `document.querySelector("`+row+` .badge-revoked") && document.activeElement === document.querySelector("`+row+` details.menu > summary")`)
	if !tb.visible(`#flash[aria-live] .notice`) || !strings.Contains(tb.text("#flash"), "Revoked") {
		tb.errorf("no announcement of the revoke: %q", tb.text("#flash"))
	}
	// Delete: the next row takes the focus.
	next := "#key-" + keys[3].PublicID
	tb.openRowMenu(keys[2].PublicID)
	tb.click(row + ` details.menu button[hx-get$="/delete"]`)
	tb.waitJS("the delete dialog", `document.querySelector("dialog#confirm-dialog[open]")`)
	tb.click("dialog#confirm-dialog button[type=submit]")
	tb.waitJS("the row gone and the next focused", `!document.querySelector("`+row+`") && document.activeElement === document.querySelector("`+next+` details.menu > summary")`)
	// The table's refresh after a delete keeps it there.
	time.Sleep(300 * time.Millisecond)
	tb.settle()
	if !tb.activeInside(next) {
		tb.errorf("after the table's refresh the focus is on %s", tb.activeDescription())
	}
	if !strings.Contains(tb.text("#flash"), "Deleted") {
		tb.errorf("no announcement of the delete: %q", tb.text("#flash"))
	}

	// The API reference, from the sidebar.
	if got := tb.text(`nav.sidebar a[href="/docs"]`); got != "API reference" {
		tb.errorf("the sidebar's reference link reads %q", got)
	}
	tb.click(`nav.sidebar a[href="/docs"]`)
	tb.waitPage("/docs")
}
