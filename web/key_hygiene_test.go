package web

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/views"
)

func TestHygieneKindsAgree(t *testing.T) {
	for _, k := range []string{views.HygieneNeverUsed, views.HygieneStale, views.HygieneNoExpiry, views.HygieneExpiring} {
		if !store.ValidHygiene(k) || parseHygiene(k) != k {
			t.Errorf("views' hygiene kind %q is not the store's", k)
		}
	}
	if parseHygiene("'; drop table") != "" {
		t.Fatal("an unknown hygiene kind is kept")
	}
}

// hygieneStats reads the panel's cards: kind → count.
func hygieneStats(t *testing.T, r *testResponse) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, a := range r.find(t, "section.hygiene-panel a.stat") {
		out[attr(a, "data-hygiene")] = textOf(queryAll(a, "strong")[0])
	}
	return out
}

// rowNames lists the names in the key table.
func rowNames(t *testing.T, r *testResponse) []string {
	t.Helper()
	var out []string
	for _, a := range r.find(t, "table.keys tbody tr th a") {
		out = append(out, textOf(a))
	}
	return out
}

func TestKeyTableHygienePanel(t *testing.T) {
	fx := newKeysFixture(t) // the clock starts on 2026-03-02 09:00 UTC
	ctx := context.Background()
	owner := model.UserActor(fx.owner, "192.0.2.1")
	day := 24 * time.Hour

	// Nothing to look at on an empty team: no panel.
	if fx.cl.get(t, "/settings/api-keys").has(t, "section.hygiene-panel") {
		t.Fatal("a panel with no keys")
	}

	mk := func(name string, expires *time.Time) model.APIKey {
		k := seedKeys(t, fx.app, fx.team.ID, name, 1, owner)[0]
		if expires != nil {
			if _, err := fx.app.store.UpdateKey(ctx, fx.team.ID, k.PublicID, model.KeyUpdate{SetExpiry: true, ExpiresAt: expires}, owner); err != nil {
				t.Fatal(err)
			}
		}
		return k
	}
	mk("Legacy", nil)                                    // never used, no expiry
	used := mk("Reporting", ptr(testEpoch.Add(400*day))) // used, expires next year
	fx.app.clock.Set(testEpoch.Add(98 * day))
	mk("Fresh", ptr(testEpoch.Add(105*day)))   // never used for two days, expires in 5 days
	fx.app.clock.Set(testEpoch.Add(100 * day)) // 2026-06-10 09:00
	now := fx.app.clock.Now()
	// Made today and not used yet: it has not had its chance, and is not
	// "never used" until tomorrow.
	mk("Just made", ptr(now.Add(30*day)))
	revoked := mk("Gone", nil)
	if _, err := fx.app.store.RevokeKey(ctx, fx.team.ID, revoked.PublicID, owner); err != nil {
		t.Fatal(err)
	}
	if err := fx.app.store.RecordUses(ctx, []model.KeyUse{
		{KeyID: used.ID, At: testEpoch.Add(2 * day), IP: "192.0.2.8", Requests: 3},
	}); err != nil {
		t.Fatal(err)
	}
	fx.cl = fx.app.client(t)
	fx.cl.login(t, "owner@example.com", testPassword)

	res := fx.cl.get(t, "/settings/api-keys")
	res.wantStatus(t, http.StatusOK)
	// never used: Legacy, Fresh; stale (90+ days): Legacy, Reporting (used
	// 98 days ago); no expiry: Legacy; expiring: Fresh. Revoked keys never count.
	want := map[string]string{"never_used": "2", "stale": "2", "no_expiry": "1", "expiring": "1"}
	if got := hygieneStats(t, res); !mapsEqual(got, want) {
		t.Fatalf("panel %v, want %v", got, want)
	}
	stale := res.first(t, `section.hygiene-panel a.stat[data-hygiene=stale]`)
	if attr(stale, "href") != "/settings/api-keys?hygiene=stale" || !strings.Contains(attr(stale, "class"), "stat-warn") ||
		!strings.Contains(textOf(stale), "keys unused for 90+ days: candidates for cleanup") {
		t.Fatalf("stale card %q %q", attr(stale, "href"), textOf(stale))
	}
	// The plain table offers no selection.
	if res.has(t, "form#key-bulk") || res.has(t, "input[name=ids]") {
		t.Fatal("the unfiltered table has bulk selection")
	}

	// Each card leads to the table showing exactly those keys, selectable.
	for kind, names := range map[string][]string{
		"never_used": {"Fresh 1", "Legacy 1"},
		"stale":      {"Reporting 1", "Legacy 1"},
		"no_expiry":  {"Legacy 1"},
		"expiring":   {"Fresh 1"},
	} {
		res := fx.cl.get(t, "/settings/api-keys?hygiene="+kind)
		res.wantStatus(t, http.StatusOK)
		if got := rowNames(t, res); strings.Join(got, ",") != strings.Join(names, ",") {
			t.Errorf("hygiene=%s shows %v, want %v", kind, got, names)
		}
		if !res.has(t, `section.hygiene-panel a.stat[data-hygiene=`+kind+`][aria-current=true]`) {
			t.Errorf("hygiene=%s: the card is not marked current", kind)
		}
		if n := len(res.find(t, `table.keys input[type=checkbox][name=ids][form=key-bulk]`)); n != len(names) {
			t.Errorf("hygiene=%s: %d checkboxes, want %d", kind, n, len(names))
		}
		if !res.has(t, `form#key-bulk[action="/settings/api-keys/bulk-revoke"] input[name=back][value="/settings/api-keys?hygiene=`+kind+`"]`) ||
			!res.has(t, `#key-filters input[type=hidden][name=hygiene][value=`+kind+`]`) {
			t.Errorf("hygiene=%s: no bulk form or the toolbar loses the filter", kind)
		}
	}
	// "Revoke all shown" asks about exactly the keys shown.
	res = fx.cl.get(t, "/settings/api-keys?hygiene=never_used")
	all := res.first(t, `form#key-bulk a[role=button]`)
	if textOf(all) != "Revoke all 2 shown…" {
		t.Fatalf("revoke-all link %q", textOf(all))
	}
	conf := fx.cl.get(t, attr(all, "href"))
	if conf.text(t, "h1") != "Revoke 2 keys?" || !strings.Contains(conf.text(t, "ul.bulk-keys"), "Fresh 1") || !strings.Contains(conf.text(t, "ul.bulk-keys"), "Legacy 1") {
		t.Fatalf("revoke-all confirmation: %s", conf.text(t, "main"))
	}

	// The clock moves: a week on, Fresh has expired and drops out, and
	// Just made, still unused, counts as never used.
	fx.app.clock.Set(now.Add(7 * day))
	fx.cl = fx.app.client(t)
	fx.cl.login(t, "owner@example.com", testPassword)
	want = map[string]string{"never_used": "2", "stale": "2", "no_expiry": "1"}
	if got := hygieneStats(t, fx.cl.get(t, "/settings/api-keys")); !mapsEqual(got, want) {
		t.Fatalf("a week later: panel %v, want %v", got, want)
	}
	// A chosen card with nothing left still shows, at zero.
	if got := hygieneStats(t, fx.cl.get(t, "/settings/api-keys?hygiene=expiring")); got["expiring"] != "0" {
		t.Fatalf("current card at zero: %v", got)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestKeyTableSparklinesAndRefusedCalls(t *testing.T) {
	fx := newKeysFixture(t)
	ctx := context.Background()
	owner := model.UserActor(fx.owner, "192.0.2.1")
	day := 24 * time.Hour
	ks := seedKeys(t, fx.app, fx.team.ID, "busy", 2, owner) // created 2026-03-02
	busy, quiet := ks[0], ks[1]
	fx.app.clock.Set(testEpoch.Add(20 * day)) // 2026-03-22 09:00
	now := fx.app.clock.Now()
	young := seedKeys(t, fx.app, fx.team.ID, "young", 1, owner)[0] // created today
	if err := fx.app.store.RecordUses(ctx, []model.KeyUse{
		{KeyID: busy.ID, At: now.Add(-13 * day), IP: "192.0.2.5", Requests: 4},  // first day of the sparkline
		{KeyID: busy.ID, At: now.Add(-14 * day), IP: "192.0.2.5", Requests: 50}, // one day too early
		{KeyID: busy.ID, At: now.Add(-1 * day), IP: "192.0.2.5", Requests: 8},
		{KeyID: young.ID, At: now, IP: "192.0.2.6", Requests: 1},
	}); err != nil {
		t.Fatal(err)
	}
	// quiet is revoked, and still tried from two addresses.
	if _, err := fx.app.store.RevokeKey(ctx, fx.team.ID, quiet.PublicID, owner); err != nil {
		t.Fatal(err)
	}
	if err := fx.app.store.RecordUses(ctx, []model.KeyUse{
		{KeyID: quiet.ID, At: now.Add(time.Minute), IP: "198.51.100.2", Refused: 5},
		{KeyID: quiet.ID, At: now.Add(time.Hour), IP: "203.0.113.7", Refused: 7},
	}); err != nil {
		t.Fatal(err)
	}
	fx.app.clock.Set(now.Add(2 * time.Hour))
	fx.cl = fx.app.client(t)
	fx.cl.login(t, "owner@example.com", testPassword)
	res := fx.cl.get(t, "/settings/api-keys")
	res.wantStatus(t, http.StatusOK)

	bars := func(id string) []string {
		var out []string
		for _, r := range res.find(t, "tr#key-"+id+" svg.spark rect") {
			if strings.Contains(attr(r, "class"), "zero") {
				out = append(out, "0")
			} else {
				out = append(out, "#")
			}
		}
		return out
	}
	if got := strings.Join(bars(busy.PublicID), ""); got != "#00000000000#0" {
		t.Fatalf("busy sparkline %s, want #00000000000#0", got)
	}
	if got := strings.Join(bars(young.PublicID), ""); got != "#" {
		t.Fatalf("a key created today: sparkline %s, want one bar", got)
	}
	if got := attr(res.first(t, "tr#key-"+busy.PublicID+" svg.spark"), "aria-label"); got != "12 requests in the last 14 days; busiest day Mar 21 (8)." {
		t.Fatalf("sparkline label %q", got)
	}
	hint := res.text(t, "tr#key-"+quiet.PublicID+" td.status .refused")
	if hint != "12 calls refused since it was revoked, last from 203.0.113.7" {
		t.Fatalf("refused hint %q", hint)
	}
	if res.has(t, "tr#key-"+busy.PublicID+" .refused") {
		t.Fatal("an active key has a refused hint")
	}

	// The details page: the same refused calls, and the usage chart.
	d := fx.cl.get(t, "/settings/api-keys/"+quiet.PublicID)
	if d.text(t, ".notice.refused strong") != "12 calls refused since it was revoked, last from 203.0.113.7" ||
		d.text(t, ".notice.refused time") != "1 hour ago" || !strings.Contains(d.Body, "203.0.113.7</strong>, <time") {
		t.Fatalf("details notice %q", d.text(t, ".notice.refused"))
	}
	d = fx.cl.get(t, "/settings/api-keys/"+busy.PublicID)
	rects := d.find(t, "svg.chart rect.bar")
	if len(rects) != 21 { // created 20 days ago: 21 days, not 30
		t.Fatalf("%d bars, want 21", len(rects))
	}
	counts := map[string]string{}
	zero := 0
	for _, r := range rects {
		counts[attr(r, "data-day")] = attr(r, "data-requests")
		if strings.Contains(attr(r, "class"), "zero") {
			zero++
		}
	}
	if counts["2026-03-08"] != "50" || counts["2026-03-09"] != "4" || counts["2026-03-21"] != "8" || counts["2026-03-22"] != "0" || zero != 18 {
		t.Fatalf("bars %v, %d zero", counts, zero)
	}
	if got := d.text(t, "#usage-summary"); got != "62 requests since Mar 2, when it was created; busiest day Mar 8 (50)." {
		t.Fatalf("summary %q", got)
	}
	d = fx.cl.get(t, "/settings/api-keys/"+young.PublicID)
	if rects := d.find(t, "svg.chart rect.bar"); len(rects) != 1 || attr(rects[0], "data-day") != "2026-03-22" {
		t.Fatalf("a key created today: %d bars", len(rects))
	}
	if d.has(t, ".notice.refused") {
		t.Fatal("an active key has a refused notice")
	}
}
