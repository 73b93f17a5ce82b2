package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testdb"
)

// TestRecordLeaks: on both dialects, a sighting of a key revokes it (team
// default), a team on notify keeps its key working, the same key at the
// same URL is recorded once and at a new URL again, unknown hashes are not
// known, and acknowledging clears the open notice of that team only.
func TestRecordLeaks(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		c := &clock{time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
		st := mustOpen(t, dsn, c)
		ctx := context.Background()
		owner, acme := mustSetup(t, st, "owner@example.com", "Acme")
		other, err := st.CreateTeam(ctx, "Other", model.UserActor(owner, ""))
		if err != nil {
			t.Fatal(err)
		}
		if other.LeakAction != model.LeakRevoke {
			t.Fatalf("a new team's leak action is %q, want revoke", other.LeakAction)
		}
		if _, err := st.UpdateTeamSettings(ctx, other.ID, model.TeamSettings{LeakAction: "ignore"}, model.UserActor(owner, "")); model.ErrorCode(err) != model.EINVALID {
			t.Fatalf("leak action ignore: %v, want EINVALID", err)
		}
		// "" keeps the action: the team is still on revoke.
		if tm, err := st.UpdateTeamSettings(ctx, other.ID, model.TeamSettings{RotationDays: 90}, model.UserActor(owner, "")); err != nil || tm.LeakAction != model.LeakRevoke {
			t.Fatalf("settings without a leak action: %+v, %v", tm, err)
		}
		if tm, err := st.UpdateTeamSettings(ctx, other.ID, model.TeamSettings{RotationDays: 90, LeakAction: model.LeakNotify}, model.UserActor(owner, "")); err != nil || tm.LeakAction != model.LeakNotify {
			t.Fatalf("leak action notify: %+v, %v", tm, err)
		}
		k1, raw1 := newKey(t, acme.ID, "acme key", model.PermReadAll, nil)
		k2, raw2 := newKey(t, other.ID, "other key", model.PermReadAll, nil)
		for _, k := range []*model.APIKey{k1, k2} {
			if err := st.CreateKey(ctx, k, model.UserActor(owner, "")); err != nil {
				t.Fatal(err)
			}
		}
		unknown, _ := keys.Generate("kw", "live")
		scanner := model.Actor{Label: "GitHub secret scanning", IP: "192.0.2.9"}
		out, err := st.RecordLeaks(ctx, []model.Sighting{
			{Hash: keys.Hash(raw1), URL: "https://example.com/a", Source: "content"},
			{Hash: keys.Hash(raw1), URL: "https://example.com/a", Source: "commit"},
			{Hash: keys.Hash(raw1), URL: "https://example.com/b", Source: "commit"},
			{Hash: keys.Hash(raw2), URL: "https://example.com/a", Source: "content"},
			{Hash: keys.Hash(unknown), URL: "https://example.com/a", Source: "content"},
		}, scanner, false)
		if err != nil {
			t.Fatal(err)
		}
		if !out.Known[keys.Hash(raw1)] || !out.Known[keys.Hash(raw2)] || out.Known[keys.Hash(unknown)] || len(out.Known) != 2 {
			t.Fatalf("known = %v", out.Known)
		}
		if len(out.Recorded) != 3 {
			t.Fatalf("recorded %d leaks, want 3 (key 1 at two URLs, key 2 once): %+v", len(out.Recorded), out.Recorded)
		}
		got1, _ := st.FindKeyByID(ctx, acme.ID, k1.PublicID)
		got2, _ := st.FindKeyByID(ctx, other.ID, k2.PublicID)
		if got1.RevokedAt == nil || got1.RevokedBy != "GitHub secret scanning" {
			t.Fatalf("Acme's key (leak action revoke) was not revoked: %+v", got1)
		}
		if got2.RevokedAt != nil {
			t.Fatal("Other's key was revoked although its team only wants to be told")
		}

		// Reported again: nothing new; the notify team's key is now revoked by a report.
		out, err = st.RecordLeaks(ctx, []model.Sighting{{Hash: keys.Hash(raw1), URL: "https://example.com/b"}}, scanner, false)
		if err != nil || len(out.Recorded) != 0 || !out.Known[keys.Hash(raw1)] {
			t.Fatalf("second report: %+v, %v", out, err)
		}
		reporter := model.UserActor(owner, "192.0.2.1")
		out, err = st.RecordLeaks(ctx, []model.Sighting{{Hash: keys.Hash(raw2), Source: model.LeakSourceReport}}, reporter, true)
		if err != nil || len(out.Recorded) != 1 || out.Recorded[0].Action != model.LeakRevoked {
			t.Fatalf("report: %+v, %v", out, err)
		}
		if got2, _ = st.FindKeyByID(ctx, other.ID, k2.PublicID); got2.RevokedAt == nil {
			t.Fatal("a report did not revoke the notify team's key")
		}

		leaks, err := st.FindKeyLeaks(ctx, acme.ID, k1.ID)
		if err != nil || len(leaks) != 2 || leaks[0].URL != "https://example.com/b" || leaks[0].KeyName != "acme key" {
			t.Fatalf("FindKeyLeaks = %+v, %v", leaks, err)
		}
		if leaks, _ := st.FindKeyLeaks(ctx, other.ID, k1.ID); len(leaks) != 0 {
			t.Fatal("another team sees Acme's leaks")
		}
		open, total, err := st.FindOpenLeaks(ctx, acme.ID, 10)
		if err != nil || total != 2 || len(open) != 2 {
			t.Fatalf("open leaks %d %+v, %v", total, open, err)
		}
		events, err := st.FindAuditEvents(ctx, store.AuditFilter{TeamID: acme.ID, Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		counts := map[string]int{}
		for _, e := range events {
			counts[e.Action]++
			if e.Action == model.ActionKeyLeaked && (e.Detail["url"] == "" || e.Detail["source"] == nil || e.ActorLabel != "GitHub secret scanning") {
				t.Fatalf("api_key.leaked without URL, source or actor: %+v", e)
			}
		}
		if counts[model.ActionKeyLeaked] != 2 || counts[model.ActionKeyRevoked] != 1 {
			t.Fatalf("Acme's audit log: %v", counts)
		}

		if n, err := st.AcknowledgeLeaks(ctx, other.ID, open[0].ID, reporter); err != nil || n != 0 {
			t.Fatalf("another team acknowledged %d of Acme's leaks (%v)", n, err)
		}
		if n, err := st.AcknowledgeLeaks(ctx, acme.ID, open[1].ID, reporter); err != nil || n != 1 {
			t.Fatalf("acknowledge through the older leak: %d, %v", n, err)
		}
		if _, total, _ := st.FindOpenLeaks(ctx, acme.ID, 10); total != 1 {
			t.Fatalf("after acknowledging one, %d open", total)
		}
	})
}
