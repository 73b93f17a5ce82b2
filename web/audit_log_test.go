package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
)

// auditLine is one row of the audit log as shown.
type auditLine struct {
	Actor, Sentence, Target, IP string
}

func (l auditLine) String() string {
	return l.Actor + " | " + l.Sentence + " | " + l.Target + " | " + l.IP
}

// auditLines reads the rows of the audit log table in r.
func auditLines(t *testing.T, r *testResponse) []auditLine {
	t.Helper()
	var out []auditLine
	cell := func(tr *html.Node, sel string) string {
		ns := queryAll(tr, sel)
		if len(ns) == 0 {
			t.Fatalf("a row has no %s", sel)
		}
		return textOf(ns[0])
	}
	for _, tr := range r.find(t, "table.audit tbody tr") {
		out = append(out, auditLine{
			Actor:    cell(tr, "td.actor"),
			Sentence: cell(tr, "td.action span.sentence"),
			Target:   cell(tr, "td.target"),
			IP:       cell(tr, "td.ip"),
		})
	}
	return out
}

func wantAuditLines(t *testing.T, what string, got []auditLine, want ...string) {
	t.Helper()
	var g []string
	for _, l := range got {
		g = append(g, l.String())
	}
	if strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s: the audit log shows\n  %s\nwant\n  %s", what, strings.Join(g, "\n  "), strings.Join(want, "\n  "))
	}
}

// apiPost sends an authenticated /v1 POST with the raw key.
func apiPost(t *testing.T, cl *testClient, path, raw string) *testResponse {
	t.Helper()
	req := cl.newRequest(t, http.MethodPost, path, nil)
	req.Header.Set("X-API-Key", raw)
	return cl.do(t, req)
}

func TestAuditLogSaysWhatHappenedInWords(t *testing.T) {
	fx := newKeysFixture(t)
	ctx := context.Background()

	// Key lifecycle through the dashboard.
	_, zap := fx.create(t, keyForm("name", "Zapier production"))
	fx.cl.postForm(t, "/settings/api-keys/"+zap.PublicID, url.Values{
		"name": {"Zapier prod"}, "permission": {"read_all"}, "expires": {"keep"},
	}).wantRedirect(t, "/settings/api-keys/"+zap.PublicID)
	fx.cl.postForm(t, "/settings/api-keys/"+zap.PublicID+"/revoke", nil).wantStatus(t, http.StatusSeeOther)
	fx.cl.postForm(t, "/settings/api-keys/"+zap.PublicID+"/delete", nil).wantStatus(t, http.StatusSeeOther)
	_, a := fx.create(t, keyForm("name", "Nightly export"))
	_, b := fx.create(t, keyForm("name", "Old CRM"))
	fx.cl.postForm(t, "/settings/api-keys/bulk-revoke", url.Values{"ids": {a.PublicID, b.PublicID}}).wantStatus(t, http.StatusSeeOther)

	// A key acting through the API.
	botRaw, bot := fx.create(t, keyForm("name", "Deploy bot", "permission", "write_all"))
	_, victim := fx.create(t, keyForm("name", "Staging"))
	apiPost(t, fx.cl, "/v1/api-keys/"+victim.PublicID+"/revoke", botRaw).wantStatus(t, http.StatusOK)

	// Members: added, promoted, removed.
	bobLink := linkPath(t, invite(t, fx.cl, "bob@example.com", "MEMBER"))
	fx.app.client(t).postForm(t, bobLink, url.Values{"password": {"a passphrase of my own"}, "confirm_password": {"a passphrase of my own"}}).wantRedirect(t, "/")
	bob := userID(t, fx.app, "bob@example.com")
	m := mustMembership(t, fx.app, fx.team.ID, bob)
	fx.cl.postForm(t, "/settings/members/"+strconv.FormatInt(m.ID, 10)+"/role", url.Values{"role": {"ADMIN"}}).wantStatus(t, http.StatusSeeOther)
	fx.cl.postForm(t, "/settings/members/"+strconv.FormatInt(m.ID, 10)+"/remove", nil).wantStatus(t, http.StatusSeeOther)

	// Someone guesses the owner's password.
	stranger := fx.app.client(t)
	stranger.postForm(t, "/login", url.Values{"email": {"owner@example.com"}, "password": {"wrong password!"}}).wantStatus(t, http.StatusUnauthorized)

	res := fx.cl.get(t, "/settings/audit-log")
	res.wantStatus(t, http.StatusOK)
	o, ip := "owner@example.com", "127.0.0.1"
	botLabel := "Deploy bot (" + bot.Hint + ") API key"
	wantAuditLines(t, "every action", auditLines(t, res),
		"unauthenticated visitor | failed sign-in | owner@example.com | "+ip,
		o+" | removed bob@example.com from the team | bob@example.com | "+ip,
		o+" | changed bob@example.com's role from Member to Admin | bob@example.com | "+ip,
		"bob@example.com | joined the team as Member (invited by owner@example.com) | bob@example.com | "+ip,
		o+" | invited bob@example.com as Member | bob@example.com | "+ip,
		botLabel+" | revoked API key Staging | "+victim.PublicID+" | "+ip,
		o+" | created API key Staging | "+victim.PublicID+" | "+ip,
		o+" | created API key Deploy bot | "+bot.PublicID+" | "+ip,
		o+" | revoked API key Old CRM | "+b.PublicID+" | "+ip,
		o+" | revoked API key Nightly export | "+a.PublicID+" | "+ip,
		o+" | created API key Old CRM | "+b.PublicID+" | "+ip,
		o+" | created API key Nightly export | "+a.PublicID+" | "+ip,
		o+" | deleted API key Zapier prod | "+zap.PublicID+" no longer exists | "+ip,
		o+" | revoked API key Zapier prod | "+zap.PublicID+" no longer exists | "+ip,
		o+" | edited API key Zapier prod | "+zap.PublicID+" no longer exists | "+ip,
		o+" | created API key Zapier production | "+zap.PublicID+" no longer exists | "+ip,
		o+" | created the team Acme | Acme | "+ip,
	)
	// An edit says what changed; living keys link to their details; times
	// are relative with the exact UTC time on hover.
	if !strings.Contains(res.text(t, "table.audit tbody tr td.action"), "Name: “Zapier production” → “Zapier prod”") {
		t.Fatalf("the edit's change is not shown: %s", res.text(t, "table.audit td.action"))
	}
	if !res.has(t, `td.target a[href="/settings/api-keys/`+a.PublicID+`"]`) || res.has(t, `td.target a[href="/settings/api-keys/`+zap.PublicID+`"]`) {
		t.Fatal("targets: want a link to a living key and none to a deleted one")
	}
	tm := res.first(t, "td.when time")
	if attr(tm, "title") != "2026-03-02 09:00 UTC" || textOf(tm) != "just now" || attr(tm, "datetime") == "" {
		t.Fatalf("time cell: %q with title %q", textOf(tm), attr(tm, "title"))
	}
	if !res.has(t, `nav.sidebar a[href="/settings/audit-log"][aria-current=page]`) {
		t.Fatal("the sidebar does not mark the audit log")
	}

	// Another team's events never show.
	other := fx.app.createTeam(t, "Globex")
	k := model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: other.ID, Name: "Globex secret", Environment: "live",
		KeyHash: keys.Hash("x"), Hint: "kw_live_x…x", PermissionSet: model.PermReadAll}
	if err := fx.app.store.CreateKey(ctx, &k, model.Actor{Label: "cli"}); err != nil {
		t.Fatal(err)
	}
	if body := fx.cl.get(t, "/settings/audit-log").Body; strings.Contains(body, "Globex") {
		t.Fatal("another team's events are shown")
	}
}

// seedKeys creates n keys of the team through the store (each writes
// api_key.created), named prefix 1 … prefix n.
func seedKeys(t *testing.T, app *testApp, teamID int64, prefix string, n int, actor model.Actor) []model.APIKey {
	t.Helper()
	var out []model.APIKey
	for i := 1; i <= n; i++ {
		raw, err := keys.Generate("kw", "live")
		if err != nil {
			t.Fatal(err)
		}
		k := model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: teamID, Name: fmt.Sprintf("%s %d", prefix, i),
			Environment: "live", KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), PermissionSet: model.PermReadAll}
		if err := app.store.CreateKey(context.Background(), &k, actor); err != nil {
			t.Fatal(err)
		}
		out = append(out, k)
	}
	return out
}

func TestAuditLogPages(t *testing.T) {
	fx := newKeysFixture(t)
	owner := model.UserActor(fx.owner, "192.0.2.1")
	// team.created plus 49 keys: exactly one page.
	seedKeys(t, fx.app, fx.team.ID, "key", 49, owner)
	res := fx.cl.get(t, "/settings/audit-log")
	if n := len(res.find(t, "table.audit tbody tr")); n != 50 {
		t.Fatalf("%d rows, want 50", n)
	}
	if res.has(t, "nav.pager a[rel=next]") || res.text(t, "nav.pager .count") != "50 events" {
		t.Fatalf("exactly a page: want no older page, got pager %q", res.text(t, "nav.pager"))
	}

	// One more: 50 and an older page with the one left.
	seedKeys(t, fx.app, fx.team.ID, "extra", 1, owner)
	res = fx.cl.get(t, "/settings/audit-log")
	rows := res.find(t, "table.audit tbody tr")
	if len(rows) != 50 || !strings.Contains(textOf(rows[0]), "extra 1") {
		t.Fatalf("%d rows, the first %q", len(rows), textOf(rows[0]))
	}
	next := res.first(t, "nav.pager a[rel=next]")
	lastID := strings.TrimPrefix(attr(rows[49], "id"), "event-")
	if attr(next, "href") != "/settings/audit-log?before="+lastID || attr(next, "hx-get") != attr(next, "href") {
		t.Fatalf("older link %q, want before=%s", attr(next, "href"), lastID)
	}
	page2 := fx.cl.get(t, attr(next, "href"))
	page2.wantStatus(t, http.StatusOK)
	wantAuditLines(t, "page 2", auditLines(t, page2), "owner@example.com | created the team Acme | Acme | 127.0.0.1")
	if page2.has(t, "nav.pager a[rel=next]") || !page2.has(t, `nav.pager a[rel=first][href="/settings/audit-log"]`) {
		t.Fatalf("page 2 pager: %s", page2.text(t, "nav.pager"))
	}

	// htmx asks for the results only, with the export link out of band.
	frag := fx.cl.htmxGet(t, attr(next, "href"))
	if strings.Contains(frag.Body, "<html") || !frag.has(t, "div#audit-results") ||
		!frag.has(t, `a#audit-export[hx-swap-oob=true][href="/settings/audit-log/export"]`) {
		t.Fatalf("htmx answer:\n%s", clip(frag.Body, 800))
	}
	// A bad cursor starts from the newest.
	if n := len(fx.cl.get(t, "/settings/audit-log?before=nonsense").find(t, "table.audit tbody tr")); n != 50 {
		t.Fatalf("bad cursor: %d rows", n)
	}
}

func TestAuditLogFilters(t *testing.T) {
	fx := newKeysFixture(t) // team.created on Mar 2
	ctx := context.Background()
	owner := model.UserActor(fx.owner, "192.0.2.1")
	bot := model.Actor{KeyID: ptr(int64(99)), Label: "Deploy bot (kw_live_abcd…wxyz)", IP: "198.51.100.4"}

	fx.app.clock.Set(time.Date(2026, 3, 3, 23, 59, 0, 0, time.UTC))
	march3 := seedKeys(t, fx.app, fx.team.ID, "mar3", 2, owner)
	fx.app.clock.Set(time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC))
	seedKeys(t, fx.app, fx.team.ID, "mar4", 1, bot)
	if _, err := fx.app.store.RevokeKey(ctx, fx.team.ID, march3[0].PublicID, bot); err != nil {
		t.Fatal(err)
	}
	fx.app.clock.Set(time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC))
	fx.app.newMember(t, fx.team.ID, "carol@example.com", model.RoleAdmin)
	fx.cl = fx.app.client(t)
	fx.cl.login(t, "owner@example.com", testPassword)

	sentences := func(path string) []string {
		t.Helper()
		res := fx.cl.get(t, path)
		res.wantStatus(t, http.StatusOK)
		var out []string
		for _, l := range auditLines(t, res) {
			out = append(out, l.Sentence)
		}
		return out
	}
	want := func(path string, want ...string) {
		t.Helper()
		if got := sentences(path); strings.Join(got, "; ") != strings.Join(want, "; ") {
			t.Fatalf("%s:\n got %q\nwant %q", path, got, want)
		}
	}
	want("/settings/audit-log?action=api_key.revoked", "revoked API key mar3 1")
	want("/settings/audit-log?action=api_key.*&actor=deploy+BOT", "revoked API key mar3 1", "created API key mar4 1")
	want("/settings/audit-log?action=member.*", "added carol@example.com as Admin")
	want("/settings/audit-log?from=2026-03-03&to=2026-03-03", "created API key mar3 2", "created API key mar3 1")
	want("/settings/audit-log?from=2026-03-04", "added carol@example.com as Admin", "revoked API key mar3 1", "created API key mar4 1")
	want("/settings/audit-log?to=2026-03-02", "created the team Acme")
	// An unknown action is no filter; the filter survives in the form.
	if n := len(sentences("/settings/audit-log?action=drop+table")); n != 6 {
		t.Fatalf("unknown action: %d events, want all 6", n)
	}
	res := fx.cl.get(t, "/settings/audit-log?action=api_key.revoked&actor=deploy&from=2026-03-04")
	if !res.has(t, `select#audit-action option[value="api_key.revoked"][selected]`) ||
		attr(res.first(t, "input#audit-actor"), "value") != "deploy" || attr(res.first(t, "input#audit-from"), "value") != "2026-03-04" {
		t.Fatal("the form does not show the filter")
	}
	if href := attr(res.first(t, "a#audit-export"), "href"); href != "/settings/audit-log/export?action=api_key.revoked&actor=deploy&from=2026-03-04" {
		t.Fatalf("export link %q", href)
	}
	// Bad dates are ignored with a message.
	res = fx.cl.get(t, "/settings/audit-log?from=yesterday&to=2026-03-03")
	if !strings.Contains(res.text(t, "#audit-results .notice"), "“yesterday” is not a date") || attr(res.first(t, "input#audit-from"), "aria-invalid") != "true" {
		t.Fatalf("no message for a bad date: %q", res.text(t, "#audit-results"))
	}
	if n := len(auditLines(t, res)); n != 3 {
		t.Fatalf("bad from, good to: %d events, want 3", n)
	}
	res = fx.cl.get(t, "/settings/audit-log?from=2026-03-05&to=2026-03-03")
	if !strings.Contains(res.text(t, ".notice"), "before the start date") || len(auditLines(t, res)) != 1 {
		t.Fatalf("reversed range: %q", res.text(t, "#audit-results"))
	}
	// Nothing matches: an empty state with a way out.
	res = fx.cl.get(t, "/settings/audit-log?actor=nobody")
	if !strings.Contains(res.text(t, ".empty h2"), "No events match") || !res.has(t, `.empty a[href="/settings/audit-log"]`) {
		t.Fatal("no empty state")
	}
	// The filter form pushes its canonical address under htmx.
	req := fx.cl.newRequest(t, http.MethodGet, "/settings/audit-log?action=&actor=deploy&from=&to=", nil)
	req.Header.Set("HX-Request", "true")
	req.Header.Set("HX-Trigger", "audit-filters")
	if got := fx.cl.do(t, req).Header.Get("HX-Push-Url"); got != "/settings/audit-log?actor=deploy" {
		t.Fatalf("HX-Push-Url %q", got)
	}
}

func TestAuditLogIsForManagers(t *testing.T) {
	f := newMembersFixture(t)
	cl := f.signedIn(t, "member@example.com")
	before := takeSnapshot(t, f.app.cfg.DatabaseURL)
	for _, p := range []string{"/settings/audit-log", "/settings/audit-log/export", "/settings/api-keys/bulk-revoke?ids=x"} {
		cl.get(t, p).wantStatus(t, http.StatusForbidden)
		cl.htmxGet(t, p).wantStatus(t, http.StatusForbidden)
	}
	cl.postForm(t, "/settings/api-keys/bulk-revoke", url.Values{"ids": {"x"}}).wantStatus(t, http.StatusForbidden)
	if home := cl.get(t, "/"); strings.Contains(home.Body, "/settings/audit-log") {
		t.Fatal("a member sees a link to the audit log")
	}
	if d := before.diff(takeSnapshot(t, f.app.cfg.DatabaseURL)); d != "" {
		t.Fatalf("a member's requests changed the database:\n%s", d)
	}
	// An admin may read it.
	f.signedIn(t, "admin@example.com").get(t, "/settings/audit-log").wantStatus(t, http.StatusOK)
}
