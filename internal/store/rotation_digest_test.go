package store_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testdb"
)

// digestPayload is the data of an api_key.rotation_due event.
type digestPayload struct {
	Object       string `json:"object"`
	RotationDays int    `json:"rotation_days"`
	Count        int    `json:"count"`
	Keys         []struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		Hint      string `json:"hint"`
		CreatedAt string `json:"created_at"`
		AgeDays   int    `json:"age_days"`
	} `json:"keys"`
}

func rotationEvents(t *testing.T, st *store.Store, teamID int64) []digestPayload {
	t.Helper()
	evs, err := st.FindEvents(context.Background(), store.EventFilter{TeamID: teamID, Type: model.EventKeyRotationDue})
	if err != nil {
		t.Fatal(err)
	}
	var out []digestPayload
	for i := len(evs) - 1; i >= 0; i-- {
		var p digestPayload
		if err := json.Unmarshal([]byte(evs[i].Payload), &p); err != nil {
			t.Fatalf("payload %s: %v", evs[i].Payload, err)
		}
		out = append(out, p)
	}
	return out
}

// TestScanRotationOncePerWeek: a team with rotation_days = 30 and active
// keys 10, 40 and 100 days old gets one api_key.rotation_due event listing
// the two older keys (not a revoked, an expired or a rolled one), no second
// one within 7 days (also after a restart) and the next one 7 days later;
// teams with nothing due or no policy get none.
func TestScanRotationOncePerWeek(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		c := &clock{now}
		st := mustOpen(t, dsn, c)
		u, team := mustSetup(t, st, "owner@example.com", "Acme")
		actor := model.UserActor(u, "")
		quiet, err := st.CreateTeam(ctx, "Quiet", actor)
		if err != nil {
			t.Fatal(err)
		}
		off, err := st.CreateTeam(ctx, "No policy", actor)
		if err != nil {
			t.Fatal(err)
		}
		for _, tm := range []model.Team{team, quiet} {
			if _, err := st.UpdateTeamSettings(ctx, tm.ID, model.TeamSettings{RotationDays: 30}, actor); err != nil {
				t.Fatal(err)
			}
		}
		keyAged := func(teamID int64, name string, days int, expires *time.Time) *model.APIKey {
			t.Helper()
			c.t = now.AddDate(0, 0, -days)
			k, _ := newKey(t, teamID, name, model.PermReadAll, nil)
			k.ExpiresAt = expires
			if err := st.CreateKey(ctx, k, actor); err != nil {
				t.Fatal(err)
			}
			c.t = now
			return k
		}
		keyAged(team.ID, "New", 10, nil)
		mid := keyAged(team.ID, "Mid", 40, nil)
		old := keyAged(team.ID, "Old", 100, nil)
		revoked := keyAged(team.ID, "Revoked", 50, nil)
		if _, err := st.RevokeKey(ctx, team.ID, revoked.PublicID, actor); err != nil {
			t.Fatal(err)
		}
		gone := now.AddDate(0, 0, -20)
		keyAged(team.ID, "Expired", 60, &gone)
		rolled := keyAged(team.ID, "Rolled", 70, nil)
		c.t = now.AddDate(0, 0, -2)
		newK, _ := newKey(t, team.ID, "", model.PermReadAll, nil)
		if _, err := st.RollKey(ctx, team.ID, rolled.PublicID, store.KeyRoll{New: newK, Grace: 7 * 24 * time.Hour}, actor); err != nil {
			t.Fatal(err)
		}
		c.t = now
		keyAged(quiet.ID, "Young", 10, nil)
		keyAged(off.ID, "Ancient", 400, nil)

		scan := func(st *store.Store, want int) {
			t.Helper()
			n, ran, err := st.ScanRotation(ctx, 100)
			if err != nil || !ran || n != want {
				t.Fatalf("at %s: scan emitted %d (ran %v, err %v), want %d", c.t.Format(time.RFC3339), n, ran, err, want)
			}
		}
		scan(st, 1)
		scan(st, 0)
		got := rotationEvents(t, st, team.ID)
		if len(got) != 1 {
			t.Fatalf("%d digests, want 1", len(got))
		}
		d := got[0]
		var ids []string
		for _, k := range d.Keys {
			ids = append(ids, k.ID)
		}
		if d.Object != "rotation_digest" || d.RotationDays != 30 || d.Count != 2 || !slices.Equal(ids, []string{old.PublicID, mid.PublicID}) {
			t.Fatalf("digest %+v, want Old and Mid under 30 days", d)
		}
		if d.Keys[0].AgeDays != 100 || d.Keys[1].AgeDays != 40 || d.Keys[0].Hint != old.Hint || d.Keys[1].Name != "Mid" {
			t.Fatalf("digest keys %+v", d.Keys)
		}
		for _, tm := range []model.Team{quiet, off} {
			if n := len(rotationEvents(t, st, tm.ID)); n != 0 {
				t.Fatalf("team %s got %d digests", tm.Name, n)
			}
		}

		// A restart: the same database through a new store.
		c.t = now.Add(7*24*time.Hour - time.Minute)
		st2 := mustOpen(t, dsn, c)
		scan(st2, 0)
		c.t = now.Add(7 * 24 * time.Hour)
		scan(st2, 1)
		scan(st, 0)
		if got := rotationEvents(t, st, team.ID); len(got) != 2 || got[1].Count != 2 || got[1].Keys[1].AgeDays != 47 {
			t.Fatalf("digests after a week: %+v", got)
		}
		// Rotation off: nothing more, even a week later.
		if _, err := st.UpdateTeamSettings(ctx, team.ID, model.TeamSettings{}, actor); err != nil {
			t.Fatal(err)
		}
		c.t = now.Add(14 * 24 * time.Hour)
		scan(st, 0)
	})
}

// TestScanRotationOneInstanceAtATime: on PostgreSQL a scan that cannot take
// the digest's advisory lock (another instance holds it) does nothing.
func TestScanRotationOneInstanceAtATime(t *testing.T) {
	dsn := testdb.Postgres(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := &clock{now.AddDate(0, 0, -40)}
	st := mustOpen(t, dsn, c)
	u, team := mustSetup(t, st, "owner@example.com", "Acme")
	k, _ := newKey(t, team.ID, "Old", model.PermReadAll, nil)
	if err := st.CreateKey(ctx, k, model.UserActor(u, "")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateTeamSettings(ctx, team.ID, model.TeamSettings{RotationDays: 30}, model.UserActor(u, "")); err != nil {
		t.Fatal(err)
	}
	c.t = now
	release := holdAdvisoryLock(t, dsn, 0x6b777264)
	n, ran, err := st.ScanRotation(ctx, 100)
	if err != nil || ran || n != 0 {
		t.Fatalf("scan under another's lock: emitted %d ran %v err %v; want nothing", n, ran, err)
	}
	release()
	if n, ran, err := st.ScanRotation(ctx, 100); err != nil || !ran || n != 1 {
		t.Fatalf("scan after release: emitted %d ran %v err %v; want 1", n, ran, err)
	}
}
