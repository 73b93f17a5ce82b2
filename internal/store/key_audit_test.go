package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/testdb"
)

func TestFindKeyAuditEvents(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		clk := &clock{time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
		st := mustOpen(t, dsn, clk)
		ctx := context.Background()
		u, team := mustSetup(t, st, "owner@example.com", "Acme")
		actor := model.UserActor(u, "192.0.2.7")
		other, err := st.CreateTeam(ctx, "Globex", actor)
		if err != nil {
			t.Fatal(err)
		}

		k, _ := newKey(t, team.ID, "billing", model.PermReadAll, nil)
		if err := st.CreateKey(ctx, k, actor); err != nil {
			t.Fatal(err)
		}
		clk.t = clk.t.Add(time.Minute)
		name := "billing v2"
		if _, err := st.UpdateKey(ctx, team.ID, k.PublicID, model.KeyUpdate{Name: &name}, actor); err != nil {
			t.Fatal(err)
		}
		clk.t = clk.t.Add(time.Minute)
		if _, err := st.RevokeKey(ctx, team.ID, k.PublicID, actor); err != nil {
			t.Fatal(err)
		}
		// Another key of the team must not show up in this key's trail.
		k2, _ := newKey(t, team.ID, "other", model.PermReadAll, nil)
		if err := st.CreateKey(ctx, k2, actor); err != nil {
			t.Fatal(err)
		}

		evs, err := st.FindKeyAuditEvents(ctx, team.ID, k.PublicID, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			got = append(got, e.Action)
			if e.TargetID != k.PublicID || e.IP != "192.0.2.7" || e.ActorLabel != "owner@example.com" {
				t.Errorf("event %+v", e)
			}
		}
		want := []string{model.ActionKeyRevoked, model.ActionKeyUpdated, model.ActionKeyCreated}
		if len(got) != len(want) {
			t.Fatalf("actions %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("actions %v, want %v (newest first)", got, want)
			}
		}

		// The trail outlives the key.
		if _, err := st.DeleteKey(ctx, team.ID, k.PublicID, actor); err != nil {
			t.Fatal(err)
		}
		evs, err = st.FindKeyAuditEvents(ctx, team.ID, k.PublicID, 2)
		if err != nil || len(evs) != 2 || evs[0].Action != model.ActionKeyDeleted {
			t.Fatalf("after delete: %+v, %v", evs, err)
		}

		// Another team sees nothing.
		evs, err = st.FindKeyAuditEvents(ctx, other.ID, k.PublicID, 0)
		if err != nil || len(evs) != 0 {
			t.Fatalf("other team: %+v, %v", evs, err)
		}
	})
}
