//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

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
	tb.waitJS(what, cond+` && !document.querySelector(".htmx-request")`)
}

// rowNames returns the names in the key table, top to bottom.
func (tb *tab) rowNames() []string {
	tb.t.Helper()
	return eval[[]string](tb, `Array.from(document.querySelectorAll("#key-table table.keys tbody tr > th")).map((th) => th.innerText.trim())`)
}
