package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/model"
)

func TestKeyBulkRevoke(t *testing.T) {
	fx := newKeysFixture(t)
	ctx := context.Background()
	owner := model.UserActor(fx.owner, "192.0.2.1")
	ks := seedKeys(t, fx.app, fx.team.ID, "Old integration", 3, owner)
	keep := seedKeys(t, fx.app, fx.team.ID, "Keep", 1, owner)[0]
	other := fx.app.createTeam(t, "Globex")
	foreign := seedKeys(t, fx.app, other.ID, "Globex key", 1, model.Actor{Label: "cli"})[0]
	ids := []string{ks[0].PublicID, ks[1].PublicID, ks[2].PublicID}
	back := "/settings/api-keys?hygiene=never_used"

	// The confirmation names how many and which, and changes nothing.
	q := url.Values{"ids": ids, "back": {back}}.Encode()
	conf := fx.cl.get(t, "/settings/api-keys/bulk-revoke?"+q)
	conf.wantStatus(t, http.StatusOK)
	if h1 := conf.text(t, "h1"); h1 != "Revoke 3 keys?" {
		t.Fatalf("title %q", h1)
	}
	if !strings.Contains(conf.text(t, "#bulk-desc"), "Calls using them will fail at once.") ||
		conf.text(t, `form[action="/settings/api-keys/bulk-revoke"] button[type=submit]`) != "Revoke 3 keys" {
		t.Fatalf("confirmation text: %q", conf.text(t, "form"))
	}
	if n := len(conf.find(t, `form[action="/settings/api-keys/bulk-revoke"] input[name=ids]`)); n != 3 ||
		!conf.has(t, `input[name=back][value="`+back+`"]`) || !conf.has(t, "input[name=_csrf]") {
		t.Fatalf("the form carries %d ids", n)
	}
	if !strings.Contains(conf.text(t, "ul.bulk-keys li"), "Last used never") {
		t.Fatalf("keys listed as %q", conf.text(t, "ul.bulk-keys li"))
	}
	for _, k := range ks {
		if !strings.Contains(conf.text(t, "ul.bulk-keys"), k.Name) {
			t.Fatalf("%s is not named", k.Name)
		}
	}
	dlg := fx.cl.htmxGet(t, "/settings/api-keys/bulk-revoke?"+q)
	if !dlg.has(t, "dialog#bulk-dialog[role=alertdialog]") || !dlg.has(t, `form[hx-post="/settings/api-keys/bulk-revoke"]`) ||
		dlg.text(t, "#bulk-title") != "Revoke 3 keys?" {
		t.Fatalf("htmx confirmation:\n%s", clip(dlg.Body, 800))
	}
	// A foreign id in the confirmation answers 404; no id is a 422.
	fx.cl.get(t, "/settings/api-keys/bulk-revoke?ids="+ks[0].PublicID+"&ids="+foreign.PublicID).wantStatus(t, http.StatusNotFound)
	fx.cl.get(t, "/settings/api-keys/bulk-revoke").wantStatus(t, http.StatusUnprocessableEntity)

	// Revoking with another team's key among them is refused and changes nothing.
	before := takeSnapshot(t, fx.app.cfg.DatabaseURL)
	fx.cl.postForm(t, "/settings/api-keys/bulk-revoke", url.Values{"ids": {ks[0].PublicID, foreign.PublicID, ks[1].PublicID}}).
		wantStatus(t, http.StatusNotFound)
	fx.cl.postForm(t, "/settings/api-keys/bulk-revoke", url.Values{"ids": {"key_doesnotexist"}}).wantStatus(t, http.StatusNotFound)
	fx.cl.postForm(t, "/settings/api-keys/bulk-revoke", url.Values{}).wantStatus(t, http.StatusUnprocessableEntity)
	// Without the CSRF token, nothing either.
	fx.cl.rawPost(t, "/settings/api-keys/bulk-revoke", url.Values{"ids": ids}, nil).wantStatus(t, http.StatusForbidden)
	if d := before.diff(takeSnapshot(t, fx.app.cfg.DatabaseURL)); d != "" {
		t.Fatalf("a refused bulk revoke changed the database:\n%s", d)
	}

	// Two keys at once, without JavaScript: back to the table with a notice.
	res := fx.cl.postForm(t, "/settings/api-keys/bulk-revoke", url.Values{"ids": {ks[0].PublicID, ks[1].PublicID, ks[0].PublicID}, "back": {back}})
	res.wantRedirect(t, back)
	for i, k := range ks {
		got, err := fx.app.store.FindKeyByID(ctx, fx.team.ID, k.PublicID)
		if err != nil {
			t.Fatal(err)
		}
		if (got.RevokedAt != nil) != (i < 2) || (i < 2 && got.RevokedBy != "owner@example.com") {
			t.Fatalf("key %d revoked %v by %q", i, got.RevokedAt, got.RevokedBy)
		}
	}
	if got, _ := fx.app.store.FindKeyByID(ctx, fx.team.ID, keep.PublicID); got.RevokedAt != nil {
		t.Fatal("an unselected key was revoked")
	}
	if got, _ := fx.app.store.FindKeyByID(ctx, other.ID, foreign.PublicID); got.RevokedAt != nil {
		t.Fatal("another team's key was revoked")
	}
	list := fx.cl.get(t, back)
	if !strings.Contains(list.text(t, "#flash"), "Revoked 2 keys. Calls using them now fail.") {
		t.Fatalf("notice %q", list.text(t, "#flash"))
	}
	// One audit event per key, by the owner from the client's address.
	log := fx.cl.get(t, "/settings/audit-log?action=api_key.revoked")
	wantAuditLines(t, "bulk revoke", auditLines(t, log),
		"owner@example.com | revoked API key Old integration 2 | "+ks[1].PublicID+" | 127.0.0.1",
		"owner@example.com | revoked API key Old integration 1 | "+ks[0].PublicID+" | 127.0.0.1",
	)

	// With htmx: the dialog closes, the table refreshes. Keys revoked
	// already are skipped, not an error.
	hx := fx.cl.htmxPost(t, "/settings/api-keys/bulk-revoke", url.Values{"ids": {ks[1].PublicID, ks[2].PublicID}})
	hx.wantStatus(t, http.StatusOK)
	if hx.Header.Get("HX-Trigger") != "keys-changed" || !hx.has(t, `#dialogs[hx-swap-oob]`) ||
		!strings.Contains(hx.text(t, "#flash"), "Revoked “\u2068Old integration 3\u2069”") {
		t.Fatalf("htmx answer %v\n%s", hx.Header, hx.Body)
	}
	if ev := fx.events(t, fx.team.ID, ks[1].PublicID); len(ev) != 2 {
		t.Fatalf("a key revoked twice has events %v", ev)
	}
	// Only revoked keys selected: nothing left to confirm.
	fx.cl.get(t, "/settings/api-keys/bulk-revoke?ids="+ks[0].PublicID).wantStatus(t, http.StatusConflict)
	// The back address never leaves the key table.
	res = fx.cl.postForm(t, "/settings/api-keys/bulk-revoke", url.Values{"ids": {keep.PublicID}, "back": {"https://evil.example/"}})
	res.wantRedirect(t, "/settings/api-keys")
}

func TestKeyBulkRevokeAsMember(t *testing.T) {
	f := newMembersFixture(t)
	owner := model.UserActor(f.owner, "192.0.2.1")
	ks := seedKeys(t, f.app, f.acme.ID, "k", 2, owner)
	cl := f.signedIn(t, "member@example.com")
	before := takeSnapshot(t, f.app.cfg.DatabaseURL)
	cl.get(t, "/settings/api-keys/bulk-revoke?ids="+ks[0].PublicID).wantStatus(t, http.StatusForbidden)
	cl.postForm(t, "/settings/api-keys/bulk-revoke", url.Values{"ids": {ks[0].PublicID, ks[1].PublicID}}).wantStatus(t, http.StatusForbidden)
	cl.htmxPost(t, "/settings/api-keys/bulk-revoke", url.Values{"ids": {ks[0].PublicID}}).wantStatus(t, http.StatusForbidden)
	if d := before.diff(takeSnapshot(t, f.app.cfg.DatabaseURL)); d != "" {
		t.Fatalf("a member's bulk revoke changed the database:\n%s", d)
	}
}
