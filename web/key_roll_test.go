package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// roll posts the roll form and returns the revealed raw key and the new key.
func (fx *keysFixture) roll(t *testing.T, id string, form url.Values) (string, model.APIKey, *testResponse) {
	t.Helper()
	res := fx.cl.postForm(t, "/settings/api-keys/"+id+"/roll", form)
	res.wantStatus(t, http.StatusOK)
	raw := attr(res.first(t, "input#new-key"), "value")
	k, err := fx.app.store.FindKeyByHash(context.Background(), keys.Hash(raw))
	if err != nil {
		t.Fatalf("rolled key not stored: %v", err)
	}
	return raw, k, res
}

func TestKeyRollFromDashboard(t *testing.T) {
	fx := newKeysFixture(t)
	ctx := context.Background()
	_, old := fx.create(t, keyForm("name", "Billing sync", "permission", "restricted", "access.api_keys", "read", "expires", "30d"))

	// The ⋯ menu offers Roll key…, which opens the form as a dialog.
	list := fx.cl.get(t, "/settings/api-keys")
	item := list.first(t, "tr#key-"+old.PublicID+" details.menu button[hx-get=/settings/api-keys/"+old.PublicID+"/roll]")
	if strings.TrimSpace(textOf(item)) != "Roll key…" {
		t.Fatalf("menu item %q", textOf(item))
	}
	dlg := fx.cl.htmxGet(t, "/settings/api-keys/"+old.PublicID+"/roll")
	dlg.wantStatus(t, http.StatusOK)
	var graces []string
	for _, in := range dlg.find(t, "dialog#key-dialog input[name=expire_old_in]") {
		graces = append(graces, attr(in, "value"))
	}
	if strings.Join(graces, ",") != "0s,1h,24h,72h,168h" || attr(dlg.first(t, "input[name=expire_old_in][checked]"), "value") != "24h" {
		t.Fatalf("grace choices %v", graces)
	}
	if txt := dlg.text(t, "form"); !strings.Contains(txt, "calls using the old key keep working") || !strings.Contains(txt, "refused") {
		t.Fatalf("the form does not say what happens to calls using the old key: %q", txt)
	}
	// Without JavaScript the same form is a page.
	fx.cl.get(t, "/settings/api-keys/"+old.PublicID+"/roll").wantStatus(t, http.StatusOK)

	// A choice outside the contract changes nothing and shows the form again.
	bad := fx.cl.htmxPost(t, "/settings/api-keys/"+old.PublicID+"/roll", url.Values{"expire_old_in": {"2h"}, "expires": {"same"}})
	bad.wantStatus(t, http.StatusUnprocessableEntity)
	if !bad.has(t, "dialog#key-dialog small.error") || fx.keyCount(t, fx.team.ID) != 1 {
		t.Fatal("a bad grace was not refused next to the field, or created a key")
	}

	// Roll under htmx: the reveal, no-store, out of history, table refresh.
	res := fx.cl.htmxPost(t, "/settings/api-keys/"+old.PublicID+"/roll", url.Values{"expire_old_in": {"24h"}, "expires": {"same"}})
	res.wantStatus(t, http.StatusOK)
	if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("HX-Trigger") != "keys-changed" {
		t.Fatalf("roll reveal headers %v", res.Header)
	}
	d := res.first(t, "dialog.reveal")
	if attr(d, "hx-history") != "false" || !hasAttr(d, "data-confirm-close") || res.text(t, "#reveal-title") != "API key rolled" {
		t.Fatalf("roll reveal dialog %v", d.Attr)
	}
	if txt := res.text(t, "[data-roll-grace]"); !strings.Contains(txt, old.Hint) || !strings.Contains(txt, "in 1 day") {
		t.Fatalf("the reveal does not say until when the old key works: %q", txt)
	}
	raw := attr(res.first(t, "input#new-key"), "value")
	n, err := fx.app.store.FindKeyByHash(ctx, keys.Hash(raw))
	if err != nil {
		t.Fatal(err)
	}
	now := fx.app.clock.Now()
	gotOld, _ := fx.app.store.FindKeyByID(ctx, fx.team.ID, old.PublicID)
	if n.Name != "Billing sync" || n.RolledFrom != old.PublicID || gotOld.ReplacedBy != n.PublicID ||
		!gotOld.ExpiresAt.Equal(now.Add(24*time.Hour)) || n.ExpiresAt == nil || !n.ExpiresAt.Equal(now.Add(old.ExpiresAt.Sub(old.CreatedAt))) ||
		n.PermissionSet != model.PermRestricted || strings.Join(n.Scopes, ",") != "api_keys:read" {
		t.Fatalf("after the roll: old %+v, new %+v", gotOld, n)
	}

	// Rows: "Replaced by …, expires in 24 hours" and "Rolled from …", and
	// no Roll key… on the rolled key.
	list = fx.cl.get(t, "/settings/api-keys")
	if txt := list.text(t, "tr#key-"+old.PublicID+" .roll-link"); !strings.Contains(txt, "Replaced by "+views.ShortKeyID(n.PublicID)) || !strings.Contains(txt, "expires in 1 day") {
		t.Fatalf("old row says %q", txt)
	}
	if txt := list.text(t, "tr#key-"+n.PublicID+" .roll-link"); txt != "Rolled from "+views.ShortKeyID(old.PublicID) {
		t.Fatalf("new row says %q", txt)
	}
	if attr(list.first(t, "tr#key-"+old.PublicID+" .roll-link a"), "href") != "/settings/api-keys/"+n.PublicID ||
		attr(list.first(t, "tr#key-"+n.PublicID+" .roll-link a"), "href") != "/settings/api-keys/"+old.PublicID {
		t.Fatal("the roll links do not point at the other key")
	}
	if list.has(t, "tr#key-"+old.PublicID+" button[hx-get=/settings/api-keys/"+old.PublicID+"/roll]") {
		t.Fatal("a rolled key still offers Roll key…")
	}
	details := fx.cl.get(t, "/settings/api-keys/"+old.PublicID)
	if txt := details.text(t, "dd.roll-links"); !strings.Contains(txt, "Replaced by "+views.ShortKeyID(n.PublicID)) {
		t.Fatalf("details say %q", txt)
	}
	if !strings.Contains(details.text(t, "body"), "Rolled") {
		t.Fatal("the old key's trail does not show the roll")
	}
	if txt := fx.cl.get(t, "/settings/api-keys/"+n.PublicID).text(t, "dd.roll-links"); txt != "Rolled from "+views.ShortKeyID(old.PublicID) {
		t.Fatalf("new key's details say %q", txt)
	}

	// Rolling again is refused with a link to the successor (dialog and post).
	again := fx.cl.htmxGet(t, "/settings/api-keys/"+old.PublicID+"/roll")
	again.wantStatus(t, http.StatusConflict)
	if attr(again.first(t, "a[data-successor]"), "href") != "/settings/api-keys/"+n.PublicID {
		t.Fatal("the refusal does not link to the successor")
	}
	post := fx.cl.postForm(t, "/settings/api-keys/"+old.PublicID+"/roll", url.Values{"expire_old_in": {"1h"}, "expires": {"same"}})
	post.wantStatus(t, http.StatusConflict)
	if attr(post.first(t, "a[data-successor]"), "href") != "/settings/api-keys/"+n.PublicID || fx.keyCount(t, fx.team.ID) != 2 {
		t.Fatal("a second roll was not refused with a link, or created a key")
	}

	// "Now" ends the old key at once; the new key never expires on request.
	_, k2 := fx.create(t, keyForm("name", "Cron"))
	_, n2, _ := fx.roll(t, k2.PublicID, url.Values{"expire_old_in": {"0s"}, "expires": {"never"}})
	if got, _ := fx.app.store.FindKeyByID(ctx, fx.team.ID, k2.PublicID); got.Status(fx.app.clock.Now()) != model.StatusExpired || n2.ExpiresAt != nil {
		t.Fatalf("roll now: old %s, new expires %v", got.Status(fx.app.clock.Now()), n2.ExpiresAt)
	}

	// A revoked key cannot be rolled.
	_, k3 := fx.create(t, keyForm("name", "Gone"))
	fx.cl.postForm(t, "/settings/api-keys/"+k3.PublicID+"/revoke", nil)
	fx.cl.postForm(t, "/settings/api-keys/"+k3.PublicID+"/roll", url.Values{"expire_old_in": {"1h"}, "expires": {"same"}}).wantStatus(t, http.StatusConflict)
	fx.cl.get(t, "/settings/api-keys/"+k3.PublicID+"/roll").wantStatus(t, http.StatusConflict)

	// No raw key outside the reveal: pages, the database, the logs.
	for _, path := range []string{"/settings/api-keys", "/settings/api-keys/" + n.PublicID, "/settings/api-keys/" + old.PublicID, "/settings/audit-log"} {
		if strings.Contains(fx.cl.get(t, path).Body, raw[8:]) {
			t.Fatalf("%s shows the rolled raw key", path)
		}
	}
	if strings.Contains(fx.dumpAll(t), raw[8:40]) || strings.Contains(fx.app.logs.String(), raw[8:]) {
		t.Fatal("the rolled raw key is stored or logged")
	}
}

func TestKeyRollOtherTeamAndMembers(t *testing.T) {
	fx := newKeysFixture(t)
	other := fx.app.createTeam(t, "Other")
	theirs := fx.app.newKeyIn(t, other.ID)
	form := url.Values{"expire_old_in": {"1h"}, "expires": {"same"}}
	fx.cl.get(t, "/settings/api-keys/"+theirs.PublicID+"/roll").wantStatus(t, http.StatusNotFound)
	fx.cl.postForm(t, "/settings/api-keys/"+theirs.PublicID+"/roll", form).wantStatus(t, http.StatusNotFound)
	if got, _ := fx.app.store.FindKeyByID(context.Background(), other.ID, theirs.PublicID); got.ReplacedBy != "" || got.ExpiresAt != nil {
		t.Fatal("another team's key was rolled")
	}

	_, mine := fx.create(t, keyForm("name", "Mine"))
	fx.app.newMember(t, fx.team.ID, "member@example.com", model.RoleMember)
	m := fx.app.client(t)
	m.login(t, "member@example.com", testPassword)
	m.get(t, "/settings/api-keys/"+mine.PublicID+"/roll").wantStatus(t, http.StatusForbidden)
	m.postForm(t, "/settings/api-keys/"+mine.PublicID+"/roll", form).wantStatus(t, http.StatusForbidden)
	// Without the CSRF token nothing happens either.
	fx.cl.rawPost(t, "/settings/api-keys/"+mine.PublicID+"/roll", form, nil).wantStatus(t, http.StatusForbidden)
	if fx.keyCount(t, fx.team.ID) != 1 {
		t.Fatal("a refused roll created a key")
	}
}

func TestTeamSettingsPage(t *testing.T) {
	fx := newKeysFixture(t)
	ctx := context.Background()
	page := fx.cl.get(t, "/settings/team")
	page.wantStatus(t, http.StatusOK)
	if attr(page.first(t, "nav.sidebar a[aria-current=page]"), "href") != "/settings/team" {
		t.Fatal("the sidebar does not mark Team")
	}
	if attr(page.first(t, "select#rotation_days option[selected]"), "value") != "0" {
		t.Fatal("rotation is not off by default")
	}

	// Bad input: 422 with the input kept, nothing saved.
	res := fx.cl.postForm(t, "/settings/team", url.Values{"rotation_days": {"custom"}, "rotation_days_custom": {"0"}, "max_key_lifetime_days": {"45"}})
	res.wantStatus(t, http.StatusUnprocessableEntity)
	if !res.has(t, "#rotation_days-error") || !res.has(t, "#max_key_lifetime_days-error") || attr(res.first(t, "select#rotation_days option[selected]"), "value") != "custom" {
		t.Fatal("errors are not shown next to the fields with the input kept")
	}
	if team, _ := fx.app.store.FindTeamByID(ctx, fx.team.ID); team.RotationDays != 0 || team.MaxKeyLifetimeDays != 0 {
		t.Fatal("invalid settings were saved")
	}

	fx.cl.postForm(t, "/settings/team", url.Values{"rotation_days": {"90"}, "max_key_lifetime_days": {"custom"}, "max_key_lifetime_days_custom": {"45"}}).
		wantRedirect(t, "/settings/team")
	team, _ := fx.app.store.FindTeamByID(ctx, fx.team.ID)
	if team.RotationDays != 90 || team.MaxKeyLifetimeDays != 45 {
		t.Fatalf("saved %+v", team)
	}
	page = fx.cl.get(t, "/settings/team")
	if attr(page.first(t, "select#max_key_lifetime_days option[selected]"), "value") != "custom" || attr(page.first(t, "input#max_key_lifetime_days_custom"), "value") != "45" {
		t.Fatal("the page does not show the custom lifetime")
	}
	if !strings.Contains(fx.cl.get(t, "/settings/audit-log").text(t, "body"), "changed the team's settings: rotation_days 0 → 90, max_key_lifetime_days 0 → 45") {
		t.Fatal("the audit log does not list the settings change")
	}

	// The lifetime policy refuses a create without an expiry within it,
	// next to the expiry field, naming the policy.
	res = fx.cl.htmxPost(t, "/settings/api-keys", keyForm("expires", "never"))
	res.wantStatus(t, http.StatusUnprocessableEntity)
	if !strings.Contains(res.Body, "maximum key lifetime") || !strings.Contains(res.Body, "45 days") {
		t.Fatal("the create form does not name the policy")
	}
	fx.create(t, keyForm("expires", "30d"))
	res = fx.cl.postForm(t, "/settings/api-keys", keyForm("expires", "60d"))
	res.wantStatus(t, http.StatusUnprocessableEntity)

	// Rotation due: a key older than 90 days carries the hint, counts on
	// the hygiene panel, and the filter lists it.
	if _, err := fx.app.store.UpdateTeamSettings(ctx, fx.team.ID, model.TeamSettings{RotationDays: 90}, model.Actor{Label: "test"}); err != nil {
		t.Fatal(err)
	}
	old := fx.app.newKeyIn(t, fx.team.ID)
	fx.advance(t, 91*24*time.Hour)
	young := fx.app.newKeyIn(t, fx.team.ID)
	list := fx.cl.get(t, "/settings/api-keys")
	if !list.has(t, "tr#key-"+old.PublicID+" .badge-rotate") || list.has(t, "tr#key-"+young.PublicID+" .badge-rotate") {
		t.Fatal("Rotation due is not on the old key only")
	}
	if c := list.text(t, "a[data-hygiene=rotation_due] strong"); c != "1" {
		t.Fatalf("hygiene card counts %q keys due", c)
	}
	filtered := fx.cl.get(t, "/settings/api-keys?hygiene=rotation_due")
	if !filtered.has(t, "tr#key-"+old.PublicID) || filtered.has(t, "tr#key-"+young.PublicID) {
		t.Fatal("the rotation filter does not list exactly the key due")
	}
	// Rolling the key clears it: the successor is new.
	fx.roll(t, old.PublicID, url.Values{"expire_old_in": {"1h"}, "expires": {"30d"}})
	if fx.cl.get(t, "/settings/api-keys").has(t, "a[data-hygiene=rotation_due]") {
		t.Fatal("a rolled key is still due for rotation")
	}
}

func TestTeamSettingsRoles(t *testing.T) {
	fx := newKeysFixture(t)
	fx.app.newMember(t, fx.team.ID, "admin@example.com", model.RoleAdmin)
	fx.app.newMember(t, fx.team.ID, "member@example.com", model.RoleMember)
	admin := fx.app.client(t)
	admin.login(t, "admin@example.com", testPassword)
	page := admin.get(t, "/settings/team")
	page.wantStatus(t, http.StatusOK)
	if page.has(t, "select#rotation_days") || page.has(t, "button[type=submit]:not(.secondary)") && strings.Contains(page.Body, "Save settings") {
		t.Fatal("an admin gets an editable form")
	}
	if !strings.Contains(page.text(t, "[data-policy=rotation_days]"), "Off") {
		t.Fatal("an admin does not see the policy")
	}
	admin.postForm(t, "/settings/team", url.Values{"rotation_days": {"30"}, "max_key_lifetime_days": {"0"}}).wantStatus(t, http.StatusForbidden)
	member := fx.app.client(t)
	member.login(t, "member@example.com", testPassword)
	member.get(t, "/settings/team").wantStatus(t, http.StatusForbidden)
	member.postForm(t, "/settings/team", url.Values{"rotation_days": {"30"}, "max_key_lifetime_days": {"0"}}).wantStatus(t, http.StatusForbidden)
	if team, _ := fx.app.store.FindTeamByID(context.Background(), fx.team.ID); team.RotationDays != 0 {
		t.Fatal("a non-owner changed the settings")
	}
	if strings.Contains(member.get(t, "/").Body, `href="/settings/team"`) {
		t.Fatal("a member sees a link to team settings")
	}
}

// newKeyIn creates a live read_all key of the team through the store, at
// the app's clock.
func (a *testApp) newKeyIn(t *testing.T, teamID int64) model.APIKey {
	t.Helper()
	raw, err := keys.Generate("kw", "live")
	if err != nil {
		t.Fatal(err)
	}
	k := model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: teamID, Name: "store key", Environment: "live",
		KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), PermissionSet: model.PermReadAll, Scopes: []string{}}
	if err := a.store.CreateKey(context.Background(), &k, model.Actor{Label: "test"}); err != nil {
		t.Fatalf("create key: %v", err)
	}
	return k
}
