//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/keyward/keyward/internal/model"
)

// leeEmail is a second admin of the fixture team.
const leeEmail = "lee@example.com"

// TestAuditLogFilters reads the team audit log with a history of key and
// member changes and a failed sign-in: the actor and action filters narrow
// it as you type and pick, the address follows (so Back and reload show the
// same view), the results swap without a reload, and Export CSV carries the
// filter.
func TestAuditLogFilters(t *testing.T) {
	srv := startServer(t)
	_, team := srv.setup(t)
	tb := newTab(t, srv)
	tb.expectConsole("status of 401") // the answer to the wrong password

	// A failed sign-in, then the real one.
	tb.open("/login")
	tb.waitPage("/login")
	tb.typeInto("#email", ownerEmail)
	tb.typeInto("#password", "not the password at all")
	tb.click(`form[action="/login"] button[type=submit]`)
	tb.waitJS("the sign-in error", `location.pathname === "/login" && document.readyState === "complete" && document.querySelector(".notice-error")`)
	tb.signIn(ownerEmail, password)
	tb.waitPage("/settings/api-keys")

	// The owner adds lee and creates two keys; lee creates one and revokes
	// one of the owner's.
	lee := srv.addMember(t, team.ID, leeEmail, model.RoleAdmin)
	byLee := model.UserActor(lee.User, "198.51.100.7")
	billing, _ := srv.createKey(t, team.ID, keySpec{Name: "Billing sync"})
	srv.createKey(t, team.ID, keySpec{Name: "Reporting export"})
	srv.createKey(t, team.ID, keySpec{Name: "Zapier webhook", By: byLee})
	if _, err := srv.store.RevokeKey(context.Background(), team.ID, billing.PublicID, byLee); err != nil {
		t.Fatalf("revoke as lee: %v", err)
	}
	// team.created, session.login_failed, member.added, 3 × api_key.created, api_key.revoked
	const all = 7

	tb.open("/settings/audit-log")
	tb.waitPage("/settings/audit-log")
	tb.wantEvents("the whole log", "", all)
	failed := tb.text(`#audit-results tr[data-action="session.login_failed"]`)
	for _, want := range []string{"failed sign-in", ownerEmail, "127.0.0.1"} {
		if !strings.Contains(failed, want) {
			tb.errorf("the failed sign-in reads %q, want it to say %q", failed, want)
		}
	}
	if got := tb.text(`#audit-results tbody tr:first-child .sentence`); got != "revoked API key Billing sync" {
		tb.errorf("the newest event reads %q, want the revocation", got)
	}
	tb.axe("the audit log")

	// The actor filter, as you type.
	eval[bool](tb, `(window.__kwNoReload = "still here", true)`)
	tb.typeInto("#audit-actor", "lee")
	tb.wantEvents("lee's events", "?actor=lee", 2)
	for _, actor := range tb.auditColumn(".actor") {
		if !strings.Contains(actor, leeEmail) {
			tb.errorf("filtered by actor lee, the log shows an event by %q", actor)
		}
	}
	// The action filter narrows it further.
	tb.setValue("#audit-action", model.ActionKeyRevoked)
	tb.wantEvents("lee's revocations", "?action=api_key.revoked&actor=lee", 1)
	if got := tb.auditColumn(".sentence"); !slices.Equal(got, []string{"revoked API key Billing sync"}) {
		tb.errorf("lee's revocations read %q", got)
	}
	if got := eval[string](tb, `String(window.__kwNoReload)`); got != "still here" {
		tb.errorf("the page reloaded while filtering (marker = %q)", got)
	}

	// Export CSV downloads the same view.
	href := eval[string](tb, `document.querySelector("#audit-export").getAttribute("href")`)
	if href != "/settings/audit-log/export?action=api_key.revoked&actor=lee" {
		tb.errorf("Export CSV points at %q, want the filtered export", href)
	}
	csv := eval[string](tb, `fetch(document.querySelector("#audit-export").href).then((r) => r.text())`)
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "time,actor_type,actor,action") ||
		!strings.Contains(lines[1], "api_key.revoked") || !strings.Contains(lines[1], "Billing sync") || !strings.Contains(lines[1], leeEmail) {
		tb.errorf("the filtered export is not lee's one revocation:\n%s", csv)
	}
	tb.screen("audit-log-filtered")

	// Back shows the previous view, with its filters; so does a reload.
	tb.back()
	tb.wantEvents("Back to lee's events", "?actor=lee", 2)
	tb.wantAuditFilters("after Back", "lee", "")
	tb.do("reload", reload())
	tb.waitPage("/settings/audit-log")
	tb.wantEvents("a reload", "?actor=lee", 2)
	tb.wantAuditFilters("after a reload", "lee", "")
	if got := eval[string](tb, `document.querySelector("#audit-export").getAttribute("href")`); got != "/settings/audit-log/export?actor=lee" {
		tb.errorf("after a reload Export CSV points at %q", got)
	}
	tb.back()
	tb.wantEvents("Back to the whole log", "", all)
	tb.wantAuditFilters("back at the start", "", "")
	tb.axe("the audit log after Back")
}

// wantEvents waits until the address's query is search and the audit log
// shows n events, with no request in flight.
func (tb *tab) wantEvents(what, search string, n int) {
	tb.t.Helper()
	tb.waitJS(what, fmt.Sprintf(`location.search === %q && document.querySelectorAll("#audit-results table.audit tbody tr").length === %d && !document.querySelector(".htmx-request")`, search, n))
}

// auditColumn returns the text of the cells matching sel, top to bottom.
func (tb *tab) auditColumn(sel string) []string {
	tb.t.Helper()
	return eval[[]string](tb, fmt.Sprintf(`Array.from(document.querySelectorAll("#audit-results tbody tr %s")).map((e) => e.innerText.trim())`, sel))
}

// wantAuditFilters fails unless the filter form shows actor and action.
func (tb *tab) wantAuditFilters(when, actor, action string) {
	tb.t.Helper()
	got := eval[string](tb, `document.querySelector("#audit-actor").value + "|" + document.querySelector("#audit-action").value`)
	if want := actor + "|" + action; got != want {
		tb.errorf("%s the filters show actor|action = %q, want %q", when, got, want)
	}
}

// TestUsageCharts checks the usage a key's pages show: the table's 14-day
// sparklines (none for a key without requests in those days) and the
// details page's 30-day chart, with its accessible name and caption, one
// bar per day naming its day, and a single bar for a key created today.
func TestUsageCharts(t *testing.T) {
	srv, tb, team := ownerTab(t)
	day := 24 * time.Hour
	now := time.Now().UTC()
	young, _ := srv.createKey(t, team.ID, keySpec{Name: "Created today"})
	nightly, _ := srv.createKey(t, team.ID, keySpec{Name: "Nightly export", Age: 40 * day})
	idle, _ := srv.createKey(t, team.ID, keySpec{Name: "Idle importer", Age: 60 * day, UsedAgo: 20 * day, Requests: 9})
	unused, _ := srv.createKey(t, team.ID, keySpec{Name: "Never called", Age: 5 * day})
	ip := "203.0.113.24"
	if err := srv.store.RecordUses(context.Background(), []model.KeyUse{
		{KeyID: young.ID, At: now, IP: ip, Requests: 42},
		{KeyID: nightly.ID, At: now, IP: ip, Requests: 5},
		{KeyID: nightly.ID, At: now.Add(-3 * day), IP: ip, Requests: 120},
		{KeyID: nightly.ID, At: now.Add(-20 * day), IP: ip, Requests: 7},   // in the chart, not the sparkline
		{KeyID: nightly.ID, At: now.Add(-35 * day), IP: ip, Requests: 999}, // in neither
	}); err != nil {
		t.Fatalf("record uses: %v", err)
	}

	// The key table: a sparkline per key used in the last 14 days.
	tb.open("/settings/api-keys")
	tb.waitPage("/settings/api-keys")
	busiest := now.Add(-3 * day).Format("Jan 2")
	for _, w := range []struct {
		key        model.APIKey
		bars, busy int
		label      string
	}{
		{young, 1, 1, "42 requests today."},
		{nightly, 14, 2, "125 requests in the last 14 days; busiest day " + busiest + " (120)."},
		{idle, 0, 0, ""},
		{unused, 0, 0, ""},
	} {
		s := tb.sparkline(w.key.PublicID)
		if w.bars == 0 {
			if s.Count != 0 {
				tb.errorf("%s has no requests in 14 days but shows %d sparkline(s)", w.key.Name, s.Count)
			}
			continue
		}
		if s.Count != 1 || s.Role != "img" || s.Bars != w.bars || s.Busy != w.busy || s.Label != w.label {
			tb.errorf("%s: sparkline %+v, want one img of %d bars, %d with requests, labelled %q", w.key.Name, s, w.bars, w.busy, w.label)
		}
	}
	if got := tb.text("#key-" + unused.PublicID + " td:nth-child(8)"); got != "Never" {
		tb.errorf("an unused key's last use reads %q, want Never", got)
	}
	if got := tb.text("#key-" + idle.PublicID + " td:nth-child(8)"); got != "20 days ago" {
		tb.errorf("an idle key's last use reads %q, want 20 days ago", got)
	}
	tb.axe("the key table with sparklines")

	// A key created today: one bar, today's, named on hover.
	tb.open("/settings/api-keys/" + young.PublicID)
	tb.waitPage("/settings/api-keys/" + young.PublicID)
	tb.wantChartNamed("42 requests today.")
	bars := tb.chartBars()
	if len(bars) != 1 || bars[0].Zero || bars[0].Requests != "42" || bars[0].Day != now.Format("2006-01-02") ||
		bars[0].Title != now.Format("Mon, Jan 2")+": 42 requests" {
		tb.errorf("a key created today has bars %+v, want one of 42 requests today", bars)
	}
	tb.hover("svg.chart rect.bar")
	if got := eval[string](tb, `(() => { const b = document.querySelector("svg.chart rect.bar:hover"); return b ? b.querySelector("title").textContent : ""; })()`); got != bars[0].Title {
		tb.errorf("hovering today's bar gives %q, want its title %q", got, bars[0].Title)
	}
	tb.axe("the usage chart of a key created today")

	// A key with a longer history: 30 days, zero days drawn small.
	tb.open("/settings/api-keys/" + nightly.PublicID)
	tb.waitPage("/settings/api-keys/" + nightly.PublicID)
	tb.wantChartNamed("132 requests in the last 30 days; busiest day " + busiest + " (120).")
	bars = tb.chartBars()
	want := map[string]string{
		now.Format("2006-01-02"):                "5",
		now.Add(-3 * day).Format("2006-01-02"):  "120",
		now.Add(-20 * day).Format("2006-01-02"): "7",
	}
	busy := 0
	for _, b := range bars {
		if b.Zero {
			if b.Requests != "0" || !strings.HasSuffix(b.Title, ": 0 requests") {
				tb.errorf("a zero day's bar %+v", b)
			}
			continue
		}
		busy++
		if want[b.Day] != b.Requests {
			tb.errorf("the bar of %s shows %s requests, want %q", b.Day, b.Requests, want[b.Day])
		}
	}
	if len(bars) != 30 || busy != 3 || bars[29].Day != now.Format("2006-01-02") {
		tb.errorf("the 30-day chart has %d bars, %d with requests, the last on %s; want 30, 3, today", len(bars), busy, bars[len(bars)-1].Day)
	}
	tb.axe("the 30-day usage chart")
}

// sparkInfo describes the sparklines of a key row.
type sparkInfo struct {
	Count, Bars, Busy int
	Role, Label       string
}

func (tb *tab) sparkline(id string) sparkInfo {
	tb.t.Helper()
	return eval[sparkInfo](tb, fmt.Sprintf(`(() => {
	  const svgs = document.querySelectorAll("#key-%s td:nth-child(8) svg.spark");
	  const s = svgs[0];
	  if (!s) return {Count: 0, Bars: 0, Busy: 0, Role: "", Label: ""};
	  return {Count: svgs.length, Bars: s.querySelectorAll("rect.bar").length, Busy: s.querySelectorAll("rect.bar:not(.zero)").length,
	    Role: s.getAttribute("role"), Label: s.getAttribute("aria-label")};
	})()`, id))
}

// chartBar is one bar of the details page's usage chart.
type chartBar struct {
	Day, Requests, Title string
	Zero                 bool
}

func (tb *tab) chartBars() []chartBar {
	tb.t.Helper()
	return eval[[]chartBar](tb, `Array.from(document.querySelectorAll("svg.chart rect.bar")).map((b) => ({
	  Day: b.dataset.day, Requests: b.dataset.requests, Title: b.querySelector("title").textContent, Zero: b.classList.contains("zero")}))`)
}

// wantChartNamed checks, in Chromium's accessibility tree, that the usage
// chart is an image named by its title and summary, and that the caption
// under it says the same summary.
func (tb *tab) wantChartNamed(summary string) {
	tb.t.Helper()
	role, name := tb.axRoleName("svg.chart")
	if role != "image" && role != "img" {
		tb.errorf("the usage chart's role is %q, want an image", role)
	}
	if !strings.Contains(name, "Requests per day, last 30 days") || !strings.Contains(name, summary) {
		tb.errorf("the usage chart is named %q, want its title and %q", name, summary)
	}
	if got := tb.text(".chart-summary"); got != summary {
		tb.errorf("the chart's caption says %q, want %q", got, summary)
	}
}

// axRoleName returns the role and accessible name Chromium computes for
// the first element matching sel.
func (tb *tab) axRoleName(sel string) (role, name string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	obj, err := chromedp.Call(ctx, runtime.Evaluate, runtime.EvaluateParams{Expression: fmt.Sprintf("document.querySelector(%q)", sel)})
	if err != nil || obj.Result == nil || obj.Result.ObjectID == "" {
		tb.fatalf("find %s for its accessibility node: %v", sel, err)
	}
	no := false
	tree, err := chromedp.Call(ctx, accessibility.GetPartialAXTree, accessibility.GetPartialAXTreeParams{ObjectID: obj.Result.ObjectID, FetchRelatives: &no})
	if err != nil || len(tree.Nodes) == 0 {
		tb.fatalf("the accessibility node of %s: %v", sel, err)
	}
	n := tree.Nodes[0]
	str := func(v *accessibility.Value) string {
		var s string
		if v != nil {
			_ = json.Unmarshal([]byte(v.Value), &s)
		}
		return s
	}
	return str(n.Role), str(n.Name)
}

// hover moves the mouse over the centre of the first element matching sel.
func (tb *tab) hover(sel string) {
	tb.t.Helper()
	type point struct{ X, Y float64 }
	p := eval[point](tb, fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.scrollIntoView({block: "center"});
	  const r = el.getBoundingClientRect(); return {X: r.x + r.width / 2, Y: r.y + r.height / 2}; })()`, sel))
	tb.do("hover "+sel, chromedp.MouseEvent(chromedp.MouseMoved, p.X, p.Y))
}

// hygieneFixture creates three active keys nobody ever used and one busy
// key, all with an expiry.
func hygieneFixture(t *testing.T, srv *server, teamID int64) (unused []model.APIKey) {
	t.Helper()
	day := 24 * time.Hour
	for _, name := range []string{"Old cron A", "Old cron B", "Old cron C"} {
		k, _ := srv.createKey(t, teamID, keySpec{Name: name, Age: 100 * day, ExpiresIn: 30 * day})
		unused = append(unused, k)
	}
	srv.createKey(t, teamID, keySpec{Name: "Busy service", Age: 50 * day, UsedAgo: time.Minute, Requests: 10, ExpiresIn: 60 * day})
	return unused
}

// TestHygieneBulkRevoke follows the hygiene panel to the keys never used,
// ticks two, and revokes them together: the dialog names how many and
// which, Escape closes it and gives focus back, the keyboard alone confirms
// it, and the table, its counts and the notice follow without a reload.
func TestHygieneBulkRevoke(t *testing.T) {
	srv, tb, team := ownerTab(t)
	ks := hygieneFixture(t, srv, team.ID)
	a, b, c := ks[0], ks[1], ks[2]
	card := `a.stat[data-hygiene="never_used"]`

	tb.open("/settings/api-keys")
	tb.waitPage("/settings/api-keys")
	if got := tb.text(card + " strong"); got != "3" {
		tb.errorf("the never-used card counts %q, want 3", got)
	}
	// The panel sits as far below the toolbar as the table sits below it.
	type gaps struct{ Above, Below float64 }
	g := eval[gaps](tb, `(() => { const p = document.querySelector(".hygiene-panel").getBoundingClientRect();
	  return {Above: p.top - document.querySelector("#key-filters").getBoundingClientRect().bottom,
	    Below: document.querySelector("#key-table .table-wrap").getBoundingClientRect().top - p.bottom}; })()`)
	if g.Above < 20 || g.Above-g.Below > 1 || g.Below-g.Above > 1 {
		tb.errorf("the hygiene panel is %.1fpx below the toolbar and %.1fpx above the table; want the same, about 1.5rem", g.Above, g.Below)
	}

	tb.click(card)
	tb.waitJS("the never-used keys", `location.search === "?hygiene=never_used" && document.readyState === "complete" &&
	  document.querySelectorAll("#key-table table.keys tbody tr").length === 3`)
	tb.waitPage("/settings/api-keys")
	if got := eval[string](tb, fmt.Sprintf(`document.querySelector(%q).getAttribute("aria-current") || ""`, card)); got != "true" {
		tb.errorf("the never-used card is not marked current (%q)", got)
	}
	if got := slices.Sorted(slices.Values(tb.rowNames())); !slices.Equal(got, []string{"Old cron A", "Old cron B", "Old cron C"}) {
		tb.errorf("the never-used table shows %q", got)
	}
	tb.screen("keys-hygiene")

	eval[bool](tb, `(window.__kwNoReload = "still here", true)`)
	tb.click("#key-" + a.PublicID + " input[name=ids]")
	tb.click("#key-" + b.PublicID + " input[name=ids]")
	revokeSelected := "#key-bulk button[type=submit]"
	tb.click(revokeSelected)
	tb.wantBulkDialog([]string{a.Name, b.Name})
	tb.screen("bulk-revoke")

	// Escape closes it, focus returns, nothing changes.
	tb.press(kb.Escape)
	tb.waitJS("the dialog to close", `!document.querySelector("dialog#bulk-dialog")`)
	tb.wantFocus("Revoke selected…", fmt.Sprintf(`el.matches(%q)`, revokeSelected))
	for _, k := range ks {
		if tb.revoked(t, team.ID, k.PublicID) {
			tb.fatalf("%s was revoked by a dialog closed with Escape", k.Name)
		}
	}

	// The keyboard alone: Enter opens it again, Tab to the confirm, Enter.
	tb.press(kb.Enter)
	tb.wantBulkDialog([]string{a.Name, b.Name})
	tb.press(kb.Tab)
	tb.wantFocus("Revoke 2 keys", `el.innerText.trim() === "Revoke 2 keys"`)
	tb.press(kb.Enter)
	tb.waitJS("the dialog to close", `!document.querySelector("dialog#bulk-dialog")`)
	tb.waitJS("the refreshed table", `document.querySelectorAll("#key-table table.keys tbody tr").length === 1 && !document.querySelector(".htmx-request")`)
	if got := tb.text("#flash .notice-success"); got != "Revoked 2 keys. Calls using them now fail." {
		tb.errorf("after the bulk revoke the notice says %q", got)
	}
	if got := tb.text(card + " strong"); got != "1" {
		tb.errorf("after the bulk revoke the never-used card counts %q, want 1", got)
	}
	if got := tb.rowNames(); !slices.Equal(got, []string{c.Name}) {
		tb.errorf("after the bulk revoke the never-used table shows %q, want %q", got, c.Name)
	}
	if got := eval[string](tb, `String(window.__kwNoReload)`); got != "still here" {
		tb.errorf("the page reloaded during the bulk revoke (marker = %q)", got)
	}
	for _, k := range ks {
		if got, want := tb.revoked(t, team.ID, k.PublicID), k.ID != c.ID; got != want {
			tb.errorf("%s revoked = %v, want %v", k.Name, got, want)
		}
	}

	// The whole table shows them Revoked; the audit log has one event each.
	tb.click(`#key-bulk a[href="/settings/api-keys"]`)
	tb.waitJS("the whole table", `location.search === "" && document.querySelectorAll("#key-table table.keys tbody tr").length === 4`)
	tb.waitPage("/settings/api-keys")
	for _, k := range ks {
		want := "Revoked"
		if k.ID == c.ID {
			want = "Active"
		}
		if got := tb.text("#key-" + k.PublicID + " td.status"); got != want {
			tb.errorf("%s shows %q, want %s", k.Name, got, want)
		}
	}
	tb.open("/settings/audit-log?action=api_key.revoked")
	tb.waitPage("/settings/audit-log")
	tb.wantEvents("the two revocations", "?action=api_key.revoked", 2)
	if got := slices.Sorted(slices.Values(tb.auditColumn(".sentence"))); !slices.Equal(got, []string{"revoked API key Old cron A", "revoked API key Old cron B"}) {
		tb.errorf("the audit log's revocations read %q", got)
	}
}

// wantBulkDialog waits for the bulk revoke dialog and checks that it names
// how many keys and which, with focus on Cancel.
func (tb *tab) wantBulkDialog(names []string) {
	tb.t.Helper()
	tb.waitJS("the bulk revoke dialog", `document.querySelector("dialog#bulk-dialog[open]")`)
	tb.settle()
	title := fmt.Sprintf("Revoke %d keys?", len(names))
	if got := tb.text("#bulk-title"); got != title {
		tb.errorf("the dialog's title is %q, want %q", got, title)
	}
	got := eval[[]string](tb, `Array.from(document.querySelectorAll("#bulk-dialog .bulk-keys strong")).map((e) => e.innerText.trim())`)
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(names))) {
		tb.errorf("the dialog names %q, want %q", got, names)
	}
	tb.wantFocus("Cancel in the dialog", `!!el.closest("dialog#bulk-dialog") && el.innerText.trim() === "Cancel"`)
	tb.axe("the bulk revoke dialog")
}

// revoked reports whether the store has the key revoked.
func (tb *tab) revoked(t *testing.T, teamID int64, publicID string) bool {
	t.Helper()
	k, err := tb.srv.store.FindKeyByID(context.Background(), teamID, publicID)
	if err != nil {
		t.Fatalf("find %s: %v", publicID, err)
	}
	return k.RevokedAt != nil
}

// TestBulkRevokeWithoutJavaScript revokes keys together in a tab that runs
// no script at all: the hygiene card is a link, the ticked rows' checkboxes
// belong to the bulk form, the confirmation is a page and its form posts
// with the CSRF field, and the answer redirects back with a notice.
func TestBulkRevokeWithoutJavaScript(t *testing.T) {
	srv := startServer(t)
	_, team := srv.setup(t)
	ks := hygieneFixture(t, srv, team.ID)
	a, b, c := ks[0], ks[1], ks[2]
	tb := newTab(t, srv)
	if _, err := chromedp.Call(tb.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("turn JavaScript off: %v", err)
	}

	tb.openNoScript("/login")
	if eval[bool](tb, `typeof window.htmx !== "undefined"`) {
		tb.fatalf("the page ran its scripts: JavaScript is not off")
	}
	tb.typeInto("#email", ownerEmail)
	tb.typeInto("#password", password)
	tb.click(`form[action="/login"] button[type=submit]`)
	tb.waitLoaded("the key list", `location.pathname === "/settings/api-keys"`)

	tb.click(`a.stat[data-hygiene="never_used"]`)
	tb.waitLoaded("the never-used keys", `location.search === "?hygiene=never_used" && document.querySelectorAll("#key-table tbody tr").length === 3`)
	tb.click("#key-" + a.PublicID + " input[name=ids]")
	tb.click("#key-" + b.PublicID + " input[name=ids]")
	tb.click("#key-bulk button[type=submit]")
	tb.waitLoaded("the confirmation page", `location.pathname === "/settings/api-keys/bulk-revoke"`)
	if got := tb.text("h1"); got != "Revoke 2 keys?" {
		tb.errorf("the confirmation page's title is %q", got)
	}
	page := tb.text(".card.confirm")
	if !strings.Contains(page, a.Name) || !strings.Contains(page, b.Name) || strings.Contains(page, c.Name) {
		tb.errorf("the confirmation page should name %s and %s only:\n%s", a.Name, b.Name, page)
	}
	for _, k := range ks {
		if tb.revoked(t, team.ID, k.PublicID) {
			tb.fatalf("%s was revoked by the confirmation page (a GET)", k.Name)
		}
	}
	tb.click(".card.confirm button[type=submit]")
	tb.waitLoaded("back at the never-used keys", `location.pathname === "/settings/api-keys" && location.search === "?hygiene=never_used"`)
	if got := tb.text("#flash .notice-success"); got != "Revoked 2 keys. Calls using them now fail." {
		tb.errorf("after the bulk revoke the notice says %q", got)
	}
	if got := tb.rowNames(); !slices.Equal(got, []string{c.Name}) {
		tb.errorf("after the bulk revoke the never-used table shows %q", got)
	}
	if got := tb.text(`a.stat[data-hygiene="never_used"] strong`); got != "1" {
		tb.errorf("after the bulk revoke the never-used card counts %q, want 1", got)
	}
	for _, k := range ks {
		if got, want := tb.revoked(t, team.ID, k.PublicID), k.ID != c.ID; got != want {
			tb.errorf("%s revoked = %v, want %v", k.Name, got, want)
		}
	}
}

// openNoScript opens path in a tab that runs no script (tab.open waits for
// htmx, which never comes).
func (tb *tab) openNoScript(path string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.NavigateResponse(tb.srv.URL+path)); err != nil {
		tb.fatalf("open %s: %v", path, err)
	}
	tb.waitLoaded(path, "true")
}

// waitLoaded waits until a document has loaded and expr holds (no script
// of the page needed).
func (tb *tab) waitLoaded(what, expr string) {
	tb.t.Helper()
	tb.waitJS(what, `document.readyState === "complete" && (`+expr+`)`)
}
