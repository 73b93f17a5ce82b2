package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/testdb"
)

func TestFindKeyPage(t *testing.T) {
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
		u, team, err := st.Setup(ctx, "owner@example.com", "hash", "Acme", "")
		if err != nil {
			t.Fatal(err)
		}
		other, _ := st.CreateTeam(ctx, "Other", model.Actor{Label: "cli"})
		act := model.UserActor(u, "")
		mk := func(teamID int64, name, env string) model.APIKey {
			raw, _ := keys.Generate("kw", env)
			k := model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: teamID, Name: name, Environment: env,
				KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), PermissionSet: model.PermReadAll}
			if err := st.CreateKey(ctx, &k, act); err != nil {
				t.Fatal(err)
			}
			return k
		}
		var made []model.APIKey
		for i := range 7 {
			if i%3 == 0 { // several keys share a created_at: id breaks ties
				now = now.Add(time.Second)
			}
			env := "live"
			if i%2 == 1 {
				env = "test"
			}
			made = append(made, mk(team.ID, fmt.Sprintf("Key %d", 7-i), env))
		}
		foreign := mk(other.ID, "Foreign", "live")
		// Two keys used, at different times.
		if err := st.RecordUses(ctx, []model.KeyUse{
			{KeyID: made[2].ID, At: now.Add(time.Hour), Requests: 1},
			{KeyID: made[5].ID, At: now.Add(2 * time.Hour), Requests: 1},
		}); err != nil {
			t.Fatal(err)
		}

		walk := func(f model.KeyFilter) []string {
			t.Helper()
			f.TeamID, f.Limit = team.ID, 3
			var names []string
			for pages := 0; ; pages++ {
				ks, next, err := st.FindKeyPage(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if pages > 10 {
					t.Fatal("pagination does not end")
				}
				for _, k := range ks {
					names = append(names, k.Name)
				}
				if next == "" {
					return names
				}
				f.After = next
			}
		}
		check := func(what string, got []string, want ...string) {
			t.Helper()
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s: got %q, want %q", what, got, want)
			}
		}
		check("created, newest first", walk(model.KeyFilter{}), "Key 1", "Key 2", "Key 3", "Key 4", "Key 5", "Key 6", "Key 7")
		check("name", walk(model.KeyFilter{Sort: model.KeySortName}), "Key 1", "Key 2", "Key 3", "Key 4", "Key 5", "Key 6", "Key 7")
		check("last used", walk(model.KeyFilter{Sort: model.KeySortLastUsed}), "Key 2", "Key 5", "Key 1", "Key 3", "Key 4", "Key 6", "Key 7")
		check("environment", walk(model.KeyFilter{Environment: "test"}), "Key 2", "Key 4", "Key 6")
		check("query", walk(model.KeyFilter{Query: "key 3"}), "Key 3")

		if _, _, err := st.FindKeyPage(ctx, model.KeyFilter{TeamID: team.ID, After: foreign.PublicID}); model.ErrorCode(err) != model.EINVALID {
			t.Fatalf("another team's key as cursor: %v, want EINVALID", err)
		}
	})
}
