//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
)

// TestLeakedKeys drives the leaked-key screens in Chromium: Report a leaked
// key from Settings → API Keys revokes a key of this team and one of
// another team with the one uniform answer; a key found by a secret
// scanner carries its red mark ("Found in public at … on …; revoked
// automatically."), the key table shows the red notice until Acknowledge.
func TestLeakedKeys(t *testing.T) {
	srv, tb, team := ownerTab(t)
	ctx := context.Background()
	other, err := srv.store.CreateTeam(ctx, "Globex", model.Actor{Label: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ours, oursRaw := srv.createKey(t, team.ID, keySpec{Name: "CI deploy"})
	_, theirsRaw := srv.createKey(t, other.ID, keySpec{Name: "Globex billing"})
	found, foundRaw := srv.createKey(t, team.ID, keySpec{Name: "Zapier production"})
	unknown, _ := keys.Generate("kw", "live")

	// The report form, reached from the API keys page.
	tb.open("/settings/api-keys")
	tb.click(`.page-head a[href="/settings/api-keys/leaked"]`)
	tb.waitPage("/settings/api-keys/leaked")
	tb.screen("leak-report")
	tb.typeInto("#leaked-keys", "STAGING_KEY="+oursRaw+"\n"+theirsRaw+"\n"+unknown+"\n")
	tb.click(`form[action="/settings/api-keys/leaked"] button[type=submit]`)
	tb.waitJS("the answer", `document.querySelector("#flash .notice")`)
	if got := tb.text("#flash"); got != "If any of these were keyward keys, they are revoked now." {
		t.Fatalf("answer %q", got)
	}
	if tb.text("#leaked-keys") != "" || strings.Contains(tb.html(), oursRaw) {
		t.Fatal("the answer shows a pasted key")
	}
	for _, raw := range []string{oursRaw, theirsRaw} {
		k, err := srv.store.FindKeyByHash(ctx, keys.Hash(raw))
		if err != nil || k.RevokedAt == nil {
			t.Fatalf("the reported key %s is not revoked: %v", k.Name, err)
		}
	}

	// A secret scanner finds another key at a URL (what the GitHub endpoint records).
	url := "https://github.com/acme/infra/blob/4f2a/deploy/.env"
	if _, err := srv.store.RecordLeaks(ctx, []model.Sighting{{Hash: keys.Hash(foundRaw), URL: url, Source: "commit"}},
		model.Actor{Label: "GitHub secret scanning"}, false); err != nil {
		t.Fatal(err)
	}

	tb.open("/settings/api-keys")
	tb.waitPage("/settings/api-keys")
	if !tb.visible("#leak-notice") {
		t.Fatal("no notice of leaked keys on the key table")
	}
	notice := tb.text("#leak-notice")
	for _, want := range []string{"Zapier production", "Found in public at " + url, "revoked automatically", "CI deploy", "Reported as leaked by " + ownerEmail} {
		if !strings.Contains(notice, want) {
			t.Fatalf("the notice %q does not say %q", notice, want)
		}
	}
	// Red: the notice's background and text lean to red.
	if !eval[bool](tb, `(() => {
	  const cs = getComputedStyle(document.querySelector("#leak-notice"));
	  const red = (c) => { const [r, g, b] = c.match(/\d+/g).map(Number); return r > g + 10 && r > b + 10; };
	  return red(cs.backgroundColor) && red(cs.color);
	})()`) {
		t.Fatal("the leak notice is not red")
	}
	tb.screen("leak-notice")

	// The mark on the key.
	tb.click(`#leak-notice a[href="/settings/api-keys/` + found.PublicID + `"]`)
	tb.waitPage("/settings/api-keys/" + found.PublicID)
	banner := tb.text(".leak-banner")
	if !strings.HasPrefix(banner, "Found in public at "+url+" on ") || !strings.HasSuffix(banner, "; revoked automatically.") {
		t.Fatalf("banner %q", banner)
	}
	if rel := eval[string](tb, `document.querySelector(".leak-banner a").rel`); !strings.Contains(rel, "noopener") {
		t.Fatalf("the link to the leak has rel %q", rel)
	}
	tb.screen("leak-banner")
	tb.open("/settings/api-keys/" + ours.PublicID)
	if got := tb.text(".leak-banner"); !strings.HasPrefix(got, "Reported as leaked by "+ownerEmail+" on ") || !strings.HasSuffix(got, "; revoked.") {
		t.Fatalf("banner of the reported key %q", got)
	}

	// Acknowledge clears the notice; the marks stay.
	tb.open("/settings/api-keys")
	tb.click(`#leak-notice button[type=submit]`)
	tb.waitJS("the notice to go", `location.pathname === "/settings/api-keys" && document.readyState === "complete" && !document.querySelector("#leak-notice")`)
	tb.open("/settings/api-keys/" + found.PublicID)
	if !tb.visible(".leak-banner") {
		t.Fatal("the mark on the key went away with the notice")
	}

	// Settings → Team: the owner switches the leak action to notify only.
	tb.open("/settings/team")
	tb.waitPage("/settings/team")
	tb.click(`input[name="leak_action"][value="notify"]`)
	tb.axe("Settings → Team with the leak action")
	tb.click(`form.team-settings button[type=submit]`)
	tb.waitJS("the settings saved", `location.pathname === "/settings/team" && document.readyState === "complete" && document.querySelector("#flash .notice-success")`)
	if got, err := srv.store.FindTeamByID(ctx, team.ID); err != nil || got.LeakAction != model.LeakNotify {
		t.Fatalf("leak action after saving notify: %q, %v", got.LeakAction, err)
	}
	if !eval[bool](tb, `document.querySelector('input[name="leak_action"][value="notify"]').checked`) {
		t.Fatal("the saved leak action is not shown")
	}
}
