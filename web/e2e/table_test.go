//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"

	"github.com/keyward/keyward/internal/model"
)

// TestKeyTableURLState searches, filters, sorts and pages the key table
// and checks after each step that the address shows the view (so reload
// and links keep it), and that Back restores the previous view.
func TestKeyTableURLState(t *testing.T) {
	srv, tb, team := ownerTab(t)
	for i := 1; i <= 55; i++ {
		srv.createKey(t, team.ID, keySpec{Name: fmt.Sprintf("Service %02d", i), Age: time.Duration(i) * time.Hour})
	}
	for i, name := range []string{"Staging worker A", "Staging worker B", "Staging cron"} {
		srv.createKey(t, team.ID, keySpec{Name: name, Env: model.EnvTest, Age: time.Duration(i) * time.Minute})
	}
	srv.createKey(t, team.ID, keySpec{Name: "Staging legacy", Revoked: true})
	srv.createKey(t, team.ID, keySpec{Name: "Old cron", Revoked: true, Age: 48 * time.Hour})
	const total = 60

	tb.open("/settings/api-keys")
	tb.waitPage("/settings/api-keys")
	tb.wantView("the first page", "", 50, fmt.Sprintf("1–50 of %d keys", total))
	tb.axe("a full page of keys")

	// Search as you type.
	tb.typeInto("#key-q", "staging")
	tb.wantView("a search", "?q=staging", 4, "4 keys")
	for _, name := range tb.rowNames() {
		if !strings.Contains(strings.ToLower(name), "staging") {
			tb.errorf("the search for staging shows %q", name)
		}
	}
	// Filters narrow the search.
	tb.setValue("#key-env", "test")
	tb.wantView("the test environment", "?env=test&q=staging", 3, "3 keys")
	tb.setValue("#key-status", "revoked")
	tb.wantView("revoked test keys", "?env=test&q=staging&status=revoked", 0, "")
	if got := tb.text("#key-table .empty h2"); got != "No keys match" {
		tb.errorf("an empty result says %q, want No keys match", got)
	}
	// Back restores the previous view, with its toolbar.
	tb.back()
	tb.wantView("Back to the test environment", "?env=test&q=staging", 3, "3 keys")
	if got := eval[string](tb, `document.querySelector("#key-status").value + "|" + document.querySelector("#key-env").value + "|" + document.querySelector("#key-q").value`); got != "|test|staging" {
		tb.errorf("after Back the toolbar shows status|env|q = %q, want |test|staging", got)
	}
	// Reload keeps the view.
	tb.do("reload", reload())
	tb.waitPage("/settings/api-keys")
	tb.wantView("a reload", "?env=test&q=staging", 3, "3 keys")

	// Clear the filters, then sort by name and page.
	tb.open("/settings/api-keys")
	tb.waitPage("/settings/api-keys")
	tb.setValue("#key-status", "revoked")
	tb.wantView("revoked keys", "?status=revoked", 2, "2 keys")
	tb.setValue("#key-status", "")
	tb.setValue("#key-sort", "name")
	tb.wantView("sorted by name", "?sort=name", 50, fmt.Sprintf("1–50 of %d keys", total))
	names := tb.rowNames()
	if names[0] != "Old cron" || names[1] != "Service 01" {
		tb.errorf("sorted by name, the table starts %q", names[:3])
	}
	tb.click(`#key-table nav.pager a[rel=next]`)
	tb.wantView("page 2", "?page=2&sort=name", total-50, fmt.Sprintf("51–%d of %d keys", total, total))
	if got := tb.text("#key-table .page-of"); got != "Page 2 of 2" {
		tb.errorf("the pager says %q, want Page 2 of 2", got)
	}
	if got := tb.rowNames()[0]; got != "Service 50" {
		tb.errorf("page 2 sorted by name starts with %q, want Service 50", got)
	}
	tb.axe("the second page")
	tb.back()
	tb.wantView("Back to page 1", "?sort=name", 50, fmt.Sprintf("1–50 of %d keys", total))
	if got := tb.rowNames()[0]; got != "Old cron" {
		tb.errorf("after Back page 1 starts with %q", got)
	}
	if got := eval[string](tb, `document.querySelector("#key-sort").value`); got != "name" {
		tb.errorf("after Back the sort shows %q, want name", got)
	}
	tb.click(`#key-table nav.pager a[rel=next]`)
	tb.wantView("page 2 again", "?page=2&sort=name", total-50, "")
	tb.click(`#key-table nav.pager a[rel=prev]`)
	tb.wantView("Previous", "?sort=name", 50, "")
}

// wantView waits until the address's query is search and the table shows
// rows rows and the count text count ("" skips the count).
func (tb *tab) wantView(what, search string, rows int, count string) {
	tb.t.Helper()
	cond := fmt.Sprintf(`location.search === %q && document.querySelectorAll("#key-table table.keys tbody tr").length === %d`, search, rows)
	if count != "" {
		cond += fmt.Sprintf(` && (document.querySelector("#key-table nav.pager .count") || {}).innerText === %q`, count)
	}
	// Also wait for htmx to finish swapping and settling: a click on the
	// pager during the settle can land on the element being replaced.
	tb.waitJS(what, cond+` && !document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added")`)
}

// rowNames returns the names in the key table, top to bottom.
func (tb *tab) rowNames() []string {
	tb.t.Helper()
	return eval[[]string](tb, `Array.from(document.querySelectorAll("#key-table table.keys tbody tr > th")).map((th) => th.innerText.trim())`)
}

// TestKeyTableLayout checks the key table's layout at both ends: at
// 1280px the table fits and typical names stay on one line; on a phone the
// rows are cards and every row's ⋯ menu is reachable (and working) without
// scrolling sideways.
func TestKeyTableLayout(t *testing.T) {
	srv, tb, team := ownerTab(t)
	day := 24 * time.Hour
	// The screens' team: every column as wide as it gets.
	specs := []keySpec{
		{Name: "Billing sync", Permission: model.PermRestricted, Scopes: []string{"invoices:write", "customers:read"},
			Age: 12 * day, UsedAgo: 3 * time.Minute, Requests: 1840, ExpiresIn: 80 * day},
		{Name: "Reporting export", Age: 40 * day, UsedAgo: 2 * time.Hour, Requests: 96, ExpiresIn: 5 * day},
		{Name: "Deploy bot (CI)", Env: model.EnvTest, Permission: model.PermWriteAll, Age: 3 * day, ExpiresIn: 60 * day},
		{Name: "Mobile app backend", Permission: model.PermRestricted, Scopes: []string{"customers:write", "invoices:read", "api_keys:read"},
			Age: 70 * day, UsedAgo: time.Minute, Requests: 12000},
		{Name: "Analytics warehouse", Age: 200 * day, UsedAgo: 30 * day, ExpiresIn: -2 * day},
		{Name: "Zapier webhook", Age: 90 * day, UsedAgo: 20 * day, Revoked: true},
	}
	var names []string
	var first model.APIKey
	for i, ks := range specs {
		k, _ := srv.createKey(t, team.ID, ks)
		if i == 0 {
			first = k
		}
		names = append(names, ks.Name)
	}
	tb.open("/settings/api-keys")
	tb.waitPage("/settings/api-keys")
	tb.waitJS("the table to fit", `document.querySelector("#key-table .table-wrap[data-fits]")`)
	wrapped := eval[[]string](tb, `Array.from(document.querySelectorAll("#key-table tbody th a")).filter((a) => a.getClientRects().length > 1).map((a) => a.innerText)`)
	if len(wrapped) > 0 {
		tb.errorf("at 1280px these names wrap: %q", wrapped)
	}

	// On a phone each row is a card (TestPhoneCards checks every field is
	// on screen); its ⋯ menu is at the card's top right.
	tb.view(phoneLight)
	tb.waitJS("the rows to be cards", `getComputedStyle(document.querySelector("#key-table tbody tr")).display === "grid"`)
	tb.wantNoSidewaysScroll("the key list")
	type reach struct {
		Rows, Reachable int
		Problem         string
	}
	check := `(() => {
	  const rows = document.querySelectorAll("#key-table tbody tr");
	  let ok = 0, problem = "";
	  for (const tr of rows) {
	    const s = tr.querySelector("details.menu > summary");
	    // Bring the row into view vertically only: the table keeps its sideways scroll.
	    window.scrollBy(0, s.getBoundingClientRect().top - window.innerHeight / 2);
	    const r = s.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
	    const hit = document.elementFromPoint(x, y);
	    if (r.left >= 0 && r.right <= document.documentElement.clientWidth && hit && s.contains(hit)) ok++;
	    else problem = tr.id + ": ⋯ at " + Math.round(r.left) + "–" + Math.round(r.right) + ", under " + (hit ? hit.tagName : "nothing");
	  }
	  return {Rows: rows.length, Reachable: ok, Problem: problem};
	})()`
	for _, scroll := range []string{"0", "wrap.scrollWidth"} {
		eval[bool](tb, `(() => { const wrap = document.querySelector("#key-table .table-wrap"); wrap.scrollLeft = `+scroll+`; return true; })()`)
		if r := eval[reach](tb, check); r.Rows != len(names) || r.Reachable != r.Rows {
			tb.errorf("on a phone (table scrolled to %s), %d of %d rows' ⋯ menus are in view and uncovered; %s", scroll, r.Reachable, r.Rows, r.Problem)
		}
	}
	eval[bool](tb, `(document.querySelector("#key-table .table-wrap").scrollLeft = 0, true)`)
	tb.openRowMenu(first.PublicID)
	tb.click("#key-" + first.PublicID + ` details.menu button[hx-get$="/revoke"]`)
	tb.waitJS("the revoke dialog", `document.querySelector("dialog#confirm-dialog[open]")`)
	tb.press(kb.Escape)
	tb.waitJS("the revoke dialog to close", `!document.querySelector("dialog#confirm-dialog")`)
	tb.axe("the key list on a phone")
	tb.view(desktopLight)
}
