package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
)

// TestReportLeakedKeysDashboard: keys pasted into Settings → API Keys →
// Report a leaked key are revoked whatever their team; the answer is the
// same whether or not they existed; the reporter is in the key's team's
// audit log; the other team sees the notice until it acknowledges it.
func TestReportLeakedKeysDashboard(t *testing.T) {
	app := newAPIApp(t)
	ctx := context.Background()
	globex := app.createTeam(t, "Globex")
	gOwner := app.createUser(t, "gowner@example.com")
	app.addMember(t, globex.ID, gOwner.ID, model.RoleOwner)
	own, ownRaw := app.key(t, app.team.ID, model.PermReadAll)
	theirs, theirsRaw := app.key(t, globex.ID, model.PermReadAll)
	unknown, _ := keys.Generate("kw", "live")

	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)
	list := cl.get(t, "/settings/api-keys")
	if href := attr(list.first(t, `a[href="/settings/api-keys/leaked"]`), "href"); href == "" {
		t.Fatal("the API keys page has no link to Report a leaked key")
	}
	form := cl.get(t, "/settings/api-keys/leaked")
	form.wantStatus(t, http.StatusOK)
	if !form.has(t, `textarea[name="keys"]`) {
		t.Fatal("the report form has no keys field")
	}

	// Nothing key-shaped: the form says so and changes nothing.
	before := takeSnapshot(t, app.dsn)
	res := cl.postForm(t, "/settings/api-keys/leaked", url.Values{"keys": {"hello world"}})
	res.wantStatus(t, http.StatusUnprocessableEntity)
	if !strings.Contains(res.text(t, "#leaked-keys-error"), "Paste at least one key") {
		t.Fatalf("error %q", res.text(t, "#leaked-keys-error"))
	}
	// Without the CSRF token: refused, nothing changes.
	cl.rawPost(t, "/settings/api-keys/leaked", url.Values{"keys": {theirsRaw}}, nil).wantStatus(t, http.StatusForbidden)
	if d := before.diff(takeSnapshot(t, app.dsn)); d != "" {
		t.Fatalf("refused reports changed the database:\n%s", d)
	}

	answers := map[string]bool{}
	for _, pasted := range []string{
		unknown,
		"OTHER=" + theirsRaw + "\n  \"" + ownRaw + "\",\nnot a key\n" + nearMiss(unknown),
	} {
		res := cl.postForm(t, "/settings/api-keys/leaked", url.Values{"keys": {pasted}})
		res.wantStatus(t, http.StatusSeeOther)
		page := cl.get(t, res.Header.Get("Location"))
		answers[page.text(t, "#flash")] = true
		if strings.Contains(page.Body, theirsRaw) || strings.Contains(page.Body, ownRaw) {
			t.Fatal("the answer shows a pasted key")
		}
	}
	if len(answers) != 1 || !answers[leakReportAnswer] {
		t.Fatalf("answers %v, want the one uniform answer", answers)
	}
	for _, k := range []model.APIKey{own, theirs} {
		got, _ := app.store.FindKeyByID(ctx, k.TeamID, k.PublicID)
		if got.RevokedAt == nil || got.RevokedBy != "owner@example.com" {
			t.Fatalf("key of team %d not revoked by the report: %+v", k.TeamID, got)
		}
	}
	events, err := app.store.FindAuditEvents(ctx, store.AuditFilter{TeamID: globex.ID, Actions: []string{model.ActionKeyLeaked}, Limit: 10})
	if err != nil || len(events) != 1 || events[0].ActorLabel != "owner@example.com" || events[0].Detail["source"] != model.LeakSourceReport {
		t.Fatalf("Globex's audit log: %+v, %v", events, err)
	}

	// Globex's owner sees the red notice on the key table, and the mark on the key.
	g := app.client(t)
	g.login(t, "gowner@example.com", testPassword)
	list = g.get(t, "/settings/api-keys")
	notice := list.text(t, "#leak-notice")
	if !strings.Contains(notice, "Reported as leaked by owner@example.com") || !strings.Contains(notice, theirs.Name) {
		t.Fatalf("notice %q", notice)
	}
	details := g.get(t, "/settings/api-keys/"+theirs.PublicID)
	if txt := details.text(t, ".leak-banner"); !strings.Contains(txt, "Reported as leaked by owner@example.com on") || !strings.Contains(txt, "revoked.") {
		t.Fatalf("banner %q", txt)
	}
	// Acknowledge: CSRF-protected, then the notice is gone and the mark stays.
	through := attr(list.first(t, `#leak-notice input[name="through"]`), "value")
	before = takeSnapshot(t, app.dsn)
	g.rawPost(t, "/settings/api-keys/leaked/acknowledge", url.Values{"through": {through}}, nil).wantStatus(t, http.StatusForbidden)
	if d := before.diff(takeSnapshot(t, app.dsn)); d != "" {
		t.Fatalf("an acknowledge without CSRF token changed the database:\n%s", d)
	}
	// Acme's owner cannot acknowledge Globex's notice with Globex's ids.
	cl.postForm(t, "/settings/api-keys/leaked/acknowledge", url.Values{"through": {through}}).wantStatus(t, http.StatusSeeOther)
	if _, n, _ := app.store.FindOpenLeaks(ctx, globex.ID, 5); n != 1 {
		t.Fatal("another team's acknowledge cleared Globex's notice")
	}
	g.postForm(t, "/settings/api-keys/leaked/acknowledge", url.Values{"through": {through}}).wantRedirect(t, "/settings/api-keys")
	if g.get(t, "/settings/api-keys").has(t, "#leak-notice") {
		t.Fatal("the notice is still shown after Acknowledge")
	}
	if !g.get(t, "/settings/api-keys/"+theirs.PublicID).has(t, ".leak-banner") {
		t.Fatal("the mark on the key went away with the notice")
	}

	// Members have no key routes, this one included.
	app.newMember(t, app.team.ID, "member@example.com", model.RoleMember)
	m := app.client(t)
	m.login(t, "member@example.com", testPassword)
	m.get(t, "/settings/api-keys/leaked").wantStatus(t, http.StatusForbidden)
}

// TestReportLeakedKeysAPI: POST /v1/keys/report-leak with any valid key
// revokes another team's key, names the calling key in that team's audit
// log, and answers the same for keys that do not exist.
func TestReportLeakedKeysAPI(t *testing.T) {
	app := newAPIApp(t)
	ctx := context.Background()
	globex := app.createTeam(t, "Globex")
	_, reporter := app.key(t, app.team.ID, model.PermRestricted, "invoices:read") // no api_keys scope needed
	theirs, theirsRaw := app.key(t, globex.ID, model.PermReadAll)
	unknown, _ := keys.Generate("kw", "test")

	var bodies []string
	for _, ks := range [][]string{{unknown}, {theirsRaw, "garbage", nearMiss(unknown)}} {
		res := app.call(t, http.MethodPost, "/v1/keys/report-leak", bearer(reporter), map[string]any{"keys": ks})
		res.wantStatus(t, http.StatusOK)
		bodies = append(bodies, string(res.Body))
	}
	if bodies[0] != bodies[1] || !strings.Contains(bodies[0], leakReportAnswer) {
		t.Fatalf("answers differ or are not the uniform one: %v", bodies)
	}
	got, _ := app.store.FindKeyByID(ctx, globex.ID, theirs.PublicID)
	if got.RevokedAt == nil {
		t.Fatal("the reported key of another team was not revoked")
	}
	app.call(t, http.MethodGet, "/v1/whoami", bearer(theirsRaw), nil).wantError(t, http.StatusUnauthorized, "invalid_api_key")
	events, err := app.store.FindAuditEvents(ctx, store.AuditFilter{TeamID: globex.ID, Actions: []string{model.ActionKeyLeaked}, Limit: 10})
	if err != nil || len(events) != 1 || events[0].ActorKeyID == nil || !strings.Contains(events[0].ActorLabel, "kw_live_") {
		t.Fatalf("Globex's audit log does not name the reporting key: %+v, %v", events, err)
	}

	// No key, an empty list, too many: refused, nothing changes.
	before := takeSnapshot(t, app.dsn)
	app.call(t, http.MethodPost, "/v1/keys/report-leak", nil, map[string]any{"keys": []string{unknown}}).wantError(t, http.StatusUnauthorized, "invalid_api_key")
	app.call(t, http.MethodPost, "/v1/keys/report-leak", bearer(reporter), map[string]any{"keys": []string{}}).wantStatus(t, http.StatusUnprocessableEntity)
	app.call(t, http.MethodPost, "/v1/keys/report-leak", bearer(reporter), map[string]any{"keys": slices.Repeat([]string{"x"}, 1001)}).wantStatus(t, http.StatusUnprocessableEntity)
	app.call(t, http.MethodPost, "/v1/keys/report-leak", bearer(reporter), `{"keys":["x"],"extra":1}`).wantStatus(t, http.StatusUnprocessableEntity)
	if d := before.diff(takeSnapshot(t, app.dsn)); d != "" {
		t.Fatalf("refused reports changed the database:\n%s", d)
	}
}

// TestReportLeakTimingIsUniform: how long the report answers does not tell
// whether the key existed. Reports of a fresh existing key (revoked by the
// report) and of a well-formed unknown key alternate; their median times
// must be within 20 % of each other. Without the answer's time floor an
// existing key costs a transaction with a revocation and audit rows more,
// several times the cost of one indexed lookup that finds nothing.
func TestReportLeakTimingIsUniform(t *testing.T) {
	app := newAPIApp(t)
	globex := app.createTeam(t, "Globex")
	_, reporter := app.key(t, app.team.ID, model.PermReadAll)
	const rounds = 12
	existing := make([]string, rounds)
	for i := range existing {
		_, existing[i] = app.key(t, globex.ID, model.PermReadAll)
	}
	timeOf := func(raw string) time.Duration {
		start := time.Now()
		app.call(t, http.MethodPost, "/v1/keys/report-leak", bearer(reporter), map[string]any{"keys": []string{raw}}).wantStatus(t, http.StatusOK)
		return time.Since(start)
	}
	timeOf(existing[0]) // warm up the connection pool and prepared statements
	var found, notFound []time.Duration
	for i := 1; i < rounds; i++ {
		unknown, _ := keys.Generate("kw", "live")
		if i%2 == 0 {
			found = append(found, timeOf(existing[i]))
			notFound = append(notFound, timeOf(unknown))
		} else {
			notFound = append(notFound, timeOf(unknown))
			found = append(found, timeOf(existing[i]))
		}
	}
	median := func(ds []time.Duration) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[len(s)/2]
	}
	mf, mn := median(found), median(notFound)
	t.Logf("median answer: existing key %s, unknown key %s", mf, mn)
	ratio := float64(mf) / float64(mn)
	if ratio < 0.8 || ratio > 1.25 {
		t.Fatalf("reports of existing keys take %.2f× as long as reports of unknown ones (medians %s and %s): the timing is an oracle", ratio, mf, mn)
	}
}

// TestTeamLeakActionSetting: Settings → Team offers the leak action to
// owners (revoke by default), refuses another value, and shows it
// read-only to admins, who cannot change it.
func TestTeamLeakActionSetting(t *testing.T) {
	app := newAPIApp(t)
	ctx := context.Background()
	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)
	page := cl.get(t, "/settings/team")
	page.wantStatus(t, http.StatusOK)
	if !hasAttr(page.first(t, `input[name="leak_action"][value="revoke"]`), "checked") ||
		hasAttr(page.first(t, `input[name="leak_action"][value="notify"]`), "checked") {
		t.Fatal("a new team's leak action is not shown as revoke")
	}
	form := url.Values{"rotation_days": {"0"}, "max_key_lifetime_days": {"0"}}

	before := takeSnapshot(t, app.dsn)
	bad := url.Values{"leak_action": {"ignore"}}
	for k, v := range form {
		bad[k] = v
	}
	res := cl.postForm(t, "/settings/team", bad)
	res.wantStatus(t, http.StatusUnprocessableEntity)
	if !strings.Contains(res.Body, "revoked or only reported") {
		t.Fatal("no message for a bad leak action")
	}
	if d := before.diff(takeSnapshot(t, app.dsn)); d != "" {
		t.Fatalf("a bad leak action changed the database:\n%s", d)
	}

	form.Set("leak_action", "notify")
	cl.postForm(t, "/settings/team", form).wantRedirect(t, "/settings/team")
	team, _ := app.store.FindTeamByID(ctx, app.team.ID)
	if team.LeakAction != model.LeakNotify {
		t.Fatalf("leak action %q after saving notify", team.LeakAction)
	}
	events, _ := app.store.FindAuditEvents(ctx, store.AuditFilter{TeamID: app.team.ID, Actions: []string{model.ActionTeamSettings}, Limit: 5})
	if len(events) != 1 || events[0].Detail["leak_action"] == nil {
		t.Fatalf("team.settings_changed does not record the leak action: %+v", events)
	}

	app.newMember(t, app.team.ID, "admin@example.com", model.RoleAdmin)
	adm := app.client(t)
	adm.login(t, "admin@example.com", testPassword)
	page = adm.get(t, "/settings/team")
	if got := page.text(t, `[data-policy="leak_action"]`); !strings.Contains(got, "Only tell the team") {
		t.Fatalf("the admin's read-only leak action reads %q", got)
	}
	form.Set("leak_action", "revoke")
	adm.postForm(t, "/settings/team", form).wantStatus(t, http.StatusForbidden)
	if team, _ := app.store.FindTeamByID(ctx, app.team.ID); team.LeakAction != model.LeakNotify {
		t.Fatal("an admin changed the leak action")
	}
}
