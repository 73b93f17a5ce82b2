package store

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/testdb"
)

func TestFindAuditEvents(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		st, err := Open(ctx, dsn, Options{Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if _, err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		u, team, err := st.Setup(ctx, "owner@example.com", "hash", "Acme", "192.0.2.1") // team.created at 12:00
		if err != nil {
			t.Fatal(err)
		}
		other, err := st.CreateTeam(ctx, "Other", model.Actor{Label: "cli"})
		if err != nil {
			t.Fatal(err)
		}
		user := model.UserActor(u, "192.0.2.1")
		mk := func(teamID int64, name string, actor model.Actor) model.APIKey {
			raw, _ := keys.Generate("kw", "live")
			k := model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: teamID, Name: name, Environment: "live",
				KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), PermissionSet: model.PermWriteAll}
			if err := st.CreateKey(ctx, &k, actor); err != nil {
				t.Fatal(err)
			}
			return k
		}
		now = now.Add(time.Minute)
		k1 := mk(team.ID, "deploy", user) // 12:01
		k2 := mk(team.ID, "ci", user)     // 12:01, same time: id breaks the tie
		mk(other.ID, "elsewhere", model.Actor{Label: "cli"})
		now = now.Add(time.Minute)
		keyActor := model.KeyActor(k1, "198.51.100.7")
		if _, err := st.RevokeKey(ctx, team.ID, k2.PublicID, keyActor); err != nil { // 12:02
			t.Fatal(err)
		}
		now = now.Add(time.Minute)
		k3 := mk(team.ID, "100%_real", keyActor) // 12:03

		find := func(f AuditFilter) []string {
			t.Helper()
			f.TeamID = team.ID
			evs, err := st.FindAuditEvents(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range evs {
				if e.TeamID != team.ID {
					t.Fatalf("event of team %d in team %d's log", e.TeamID, team.ID)
				}
				got = append(got, e.Action+" "+e.TargetName)
			}
			return got
		}
		want := func(what string, got []string, want ...string) {
			t.Helper()
			if len(got) != len(want) {
				t.Fatalf("%s: got %q, want %q", what, got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%s: got %q, want %q", what, got, want)
				}
			}
		}
		all := []string{"api_key.created 100%_real", "api_key.revoked ci", "api_key.created ci", "api_key.created deploy", "team.created Acme"}
		want("all, newest first", find(AuditFilter{}), all...)

		// Paging with BeforeID walks the same order without gaps or repeats.
		var paged []string
		var before int64
		for {
			evs, err := st.FindAuditEvents(ctx, AuditFilter{TeamID: team.ID, Limit: 2, BeforeID: before})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) == 0 {
				break
			}
			for _, e := range evs {
				paged = append(paged, e.Action+" "+e.TargetName)
			}
			before = evs[len(evs)-1].ID
		}
		want("paged by 2", paged, all...)

		want("one action", find(AuditFilter{Actions: []string{model.ActionKeyRevoked}}), "api_key.revoked ci")
		want("prefix", find(AuditFilter{Actions: []string{"team.*"}}), "team.created Acme")
		want("two actions", find(AuditFilter{Actions: []string{"team.created", "api_key.revoked"}}), "api_key.revoked ci", "team.created Acme")
		want("LIKE wildcards are literal", find(AuditFilter{Actions: []string{"api_%.*"}}))
		keyID := k1.ID
		want("by key actor", find(AuditFilter{ActorKeyID: &keyID}), "api_key.created 100%_real", "api_key.revoked ci")
		want("by user actor", find(AuditFilter{ActorUserID: &u.ID}), "api_key.created ci", "api_key.created deploy", "team.created Acme")
		want("actor label", find(AuditFilter{Actor: "OWNER@"}), "api_key.created ci", "api_key.created deploy", "team.created Acme")
		want("actor label of a key", find(AuditFilter{Actor: "deploy ("}), "api_key.created 100%_real", "api_key.revoked ci")
		want("target", find(AuditFilter{TargetID: k3.PublicID}), "api_key.created 100%_real")
		t0 := time.Date(2026, 5, 1, 12, 1, 0, 0, time.UTC)
		want("date range", find(AuditFilter{Since: t0, Until: t0.Add(time.Minute)}), "api_key.created ci", "api_key.created deploy")

		// Another team's cursor or an unknown one gives nothing.
		evs, _ := st.FindAuditEvents(ctx, AuditFilter{TeamID: other.ID})
		if len(evs) != 2 {
			t.Fatalf("other team has %d events, want 2", len(evs))
		}
		want("another team's cursor", find(AuditFilter{BeforeID: evs[0].ID}))
		if evs[0].Action != model.ActionKeyCreated || evs[0].Detail["permission"] != "write_all" {
			t.Fatalf("event detail not read back: %+v", evs[0])
		}
	})
}
