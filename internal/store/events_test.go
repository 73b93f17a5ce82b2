package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testdb"
)

// TestChangesWriteEventsInTheirTransaction: each key and member change
// leaves exactly one outbox event of its type with the target's id and no
// secret, and a refused change leaves none.
func TestChangesWriteEventsInTheirTransaction(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		c := &clock{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		st := mustOpen(t, dsn, c)
		u, team := mustSetup(t, st, "owner@example.com", "Acme")
		actor := model.UserActor(u, "192.0.2.1")
		k, raw := newKey(t, team.ID, "Billing", model.PermReadAll, nil)
		if err := st.CreateKey(ctx, k, actor); err != nil {
			t.Fatal(err)
		}
		name := "Billing v2"
		if _, err := st.UpdateKey(ctx, team.ID, k.PublicID, model.KeyUpdate{Name: &name}, actor); err != nil {
			t.Fatal(err)
		}
		if _, err := st.RevokeKey(ctx, team.ID, k.PublicID, actor); err != nil {
			t.Fatal(err)
		}
		// Refused: a revoked key cannot be edited, revoked again or be
		// another team's; none of these may leave an event.
		if _, err := st.UpdateKey(ctx, team.ID, k.PublicID, model.KeyUpdate{Name: &name}, actor); model.ErrorCode(err) != model.ECONFLICT {
			t.Fatalf("edit revoked: %v", err)
		}
		if _, err := st.RevokeKey(ctx, team.ID, k.PublicID, actor); model.ErrorCode(err) != model.ECONFLICT {
			t.Fatalf("revoke twice: %v", err)
		}
		if _, err := st.DeleteKey(ctx, team.ID+999, k.PublicID, actor); model.ErrorCode(err) != model.ENOTFOUND {
			t.Fatalf("delete other team's: %v", err)
		}
		if _, err := st.DeleteKey(ctx, team.ID, k.PublicID, actor); err != nil {
			t.Fatal(err)
		}
		m, err := st.AddNewMember(ctx, team.ID, "dev@example.com", "hash", model.RoleMember, actor)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.UpdateMemberRole(ctx, team.ID, m.ID, model.RoleAdmin, actor); err != nil {
			t.Fatal(err)
		}

		evs, err := st.FindEvents(ctx, store.EventFilter{TeamID: team.ID, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for i := len(evs) - 1; i >= 0; i-- {
			ev := evs[i]
			types = append(types, ev.Type)
			if !strings.HasPrefix(ev.PublicID, "evt_") || len(ev.PublicID) != 28 {
				t.Errorf("event id %q, want evt_ and 24 characters", ev.PublicID)
			}
			if ev.DispatchedAt != nil {
				t.Errorf("%s is dispatched already", ev.Type)
			}
			if strings.Contains(ev.Payload, raw) || strings.Contains(ev.Payload, k.KeyHash) || strings.Contains(ev.Payload, "hash") {
				t.Errorf("%s payload holds the key or its hash: %s", ev.Type, ev.Payload)
			}
		}
		want := []string{"api_key.created", "api_key.updated", "api_key.revoked", "api_key.deleted", "member.added", "member.role_changed"}
		if strings.Join(types, ",") != strings.Join(want, ",") {
			t.Fatalf("events %v, want %v", types, want)
		}
		if evs[len(evs)-1].TargetID != k.PublicID || !strings.Contains(evs[len(evs)-1].Payload, `"name":"Billing"`) {
			t.Errorf("created event: target %q payload %s", evs[len(evs)-1].TargetID, evs[len(evs)-1].Payload)
		}
		// team.created and the login audit actions are not events.
		if n, _ := st.FindEvents(ctx, store.EventFilter{TeamID: team.ID, Type: model.ActionTeamCreated}); len(n) != 0 {
			t.Errorf("team.created became an event")
		}
	})
}

// TestScanExpiryOncePerThreshold: the scanner emits expiring at 7 days and at
// 1 day and expired after, each once, also after a restart (a new store on
// the same database); a later expiry starts over; revoked keys get nothing.
func TestScanExpiryOncePerThreshold(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		c := &clock{start}
		st := mustOpen(t, dsn, c)
		u, team := mustSetup(t, st, "owner@example.com", "Acme")
		actor := model.UserActor(u, "")
		exp := start.Add(10 * 24 * time.Hour)
		k, _ := newKey(t, team.ID, "Soon", model.PermReadAll, nil)
		k.ExpiresAt = &exp
		if err := st.CreateKey(ctx, k, actor); err != nil {
			t.Fatal(err)
		}
		gone, _ := newKey(t, team.ID, "Revoked", model.PermReadAll, nil)
		gone.ExpiresAt = &exp
		if err := st.CreateKey(ctx, gone, actor); err != nil {
			t.Fatal(err)
		}
		if _, err := st.RevokeKey(ctx, team.ID, gone.PublicID, actor); err != nil {
			t.Fatal(err)
		}
		scan := func(st *store.Store, want int) {
			t.Helper()
			n, ran, err := st.ScanExpiry(ctx, 100)
			if err != nil || !ran || n != want {
				t.Fatalf("at %s: scan emitted %d (ran %v, err %v), want %d", c.t.Format(time.RFC3339), n, ran, err, want)
			}
		}
		scan(st, 0) // 10 days out
		c.t = exp.Add(-7*24*time.Hour + time.Minute)
		scan(st, 1)
		scan(st, 0)
		// A restart: the same database through a new store.
		st2 := mustOpen(t, dsn, c)
		scan(st2, 0)
		c.t = exp.Add(-23 * time.Hour)
		scan(st2, 1)
		scan(st, 0)
		c.t = exp.Add(time.Minute)
		scan(st, 1)
		scan(st2, 0)
		c.t = exp.Add(3 * 24 * time.Hour)
		scan(st, 0)

		evs, err := st.FindEvents(ctx, store.EventFilter{TeamID: team.ID, TargetID: k.PublicID})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i := len(evs) - 1; i >= 0; i-- {
			if evs[i].Type == model.EventKeyExpiring || evs[i].Type == model.EventKeyExpired {
				got = append(got, evs[i].Type+":"+between(evs[i].Payload, `"threshold":"`, `"`))
			}
		}
		if want := "api_key.expiring:7d,api_key.expiring:1d,api_key.expired:expired"; strings.Join(got, ",") != want {
			t.Fatalf("reminders %v, want %s", got, want)
		}
		// A new expiry is a new date: its reminders come again.
		later := c.t.Add(12 * time.Hour)
		if _, err := st.UpdateKey(ctx, team.ID, k.PublicID, model.KeyUpdate{SetExpiry: true, ExpiresAt: &later}, actor); err != nil {
			t.Fatal(err)
		}
		scan(st, 1)
		scan(st, 0)
	})
}

func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i+len(from):]
	if j := strings.Index(s, to); j >= 0 {
		return s[:j]
	}
	return s
}

// TestScanExpiryOneInstanceAtATime: on PostgreSQL a scan that cannot take
// the advisory lock (another instance holds it) does nothing.
func TestScanExpiryOneInstanceAtATime(t *testing.T) {
	dsn := testdb.Postgres(t)
	ctx := context.Background()
	c := &clock{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	st := mustOpen(t, dsn, c)
	u, team := mustSetup(t, st, "owner@example.com", "Acme")
	exp := c.t.Add(time.Hour)
	k, _ := newKey(t, team.ID, "Soon", model.PermReadAll, nil)
	k.ExpiresAt = &exp
	if err := st.CreateKey(ctx, k, model.UserActor(u, "")); err != nil {
		t.Fatal(err)
	}
	release := holdAdvisoryLock(t, dsn, 0x6b776578)
	n, ran, err := st.ScanExpiry(ctx, 100)
	if err != nil || ran || n != 0 {
		t.Fatalf("scan under another's lock: emitted %d ran %v err %v; want nothing", n, ran, err)
	}
	release()
	if n, ran, err := st.ScanExpiry(ctx, 100); err != nil || !ran || n != 1 {
		t.Fatalf("scan after release: emitted %d ran %v err %v; want 1", n, ran, err)
	}
}

// holdAdvisoryLock takes the transaction-level advisory lock id on its own
// connection, as another instance's scan would, until release.
func holdAdvisoryLock(t *testing.T, dsn string, id int64) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", id); err != nil {
		t.Fatal(err)
	}
	done := false
	release = func() {
		if !done {
			done = true
			_ = tx.Rollback(ctx)
			_ = conn.Close(ctx)
		}
	}
	t.Cleanup(release)
	return release
}

// TestLeaksWriteEvents: a recorded leak writes api_key.leaked (with the URL
// and source) and, when the key is revoked for it, api_key.revoked to the
// outbox in the same transaction; a sighting already recorded writes none.
func TestLeaksWriteEvents(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		c := &clock{time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
		st := mustOpen(t, dsn, c)
		owner, team := mustSetup(t, st, "owner@example.com", "Acme")
		k, raw := newKey(t, team.ID, "CI", model.PermReadAll, nil)
		if err := st.CreateKey(ctx, k, model.UserActor(owner, "")); err != nil {
			t.Fatal(err)
		}
		sight := []model.Sighting{{Hash: k.KeyHash, URL: "https://example.com/leak", Source: "commit"}}
		for range 2 {
			if _, err := st.RecordLeaks(ctx, sight, model.Actor{Label: "GitHub secret scanning"}, false); err != nil {
				t.Fatal(err)
			}
		}
		evs, err := st.FindEvents(ctx, store.EventFilter{TeamID: team.ID, TargetID: k.PublicID})
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, ev := range evs {
			types = append(types, ev.Type)
			if strings.Contains(ev.Payload, raw) || strings.Contains(ev.Payload, k.KeyHash) {
				t.Fatalf("%s carries the key or its hash", ev.Type)
			}
			if ev.Type == model.EventKeyLeaked && (!strings.Contains(ev.Payload, "https://example.com/leak") || !strings.Contains(ev.Payload, `"source":"commit"`)) {
				t.Fatalf("leaked payload %s", ev.Payload)
			}
		}
		slices.Sort(types)
		if want := "api_key.created,api_key.leaked,api_key.revoked"; strings.Join(types, ",") != want {
			t.Fatalf("events %v, want %s", types, want)
		}
	})
}

// TestMailSentIsKeptPerDelivery: the addresses recorded for a delivery are
// found for it alone, recording one again is no error, and the records go
// with their delivery.
func TestMailSentIsKeptPerDelivery(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st := mustOpen(t, dsn, &clock{t: time.Now().UTC().Truncate(time.Second)})
		u, team := mustSetup(t, st, "owner@example.com", "Acme")
		actor := model.UserActor(u, "192.0.2.1")
		ep := model.WebhookEndpoint{TeamID: team.ID, URL: "https://hooks.example.com/in"}
		if err := st.CreateEndpoint(ctx, &ep, store.EndpointSecret{Sealed: "sealed", KeyID: "k1"}, actor); err != nil {
			t.Fatal(err)
		}
		k, _ := newKey(t, team.ID, "CI", model.PermReadAll, nil)
		if err := st.CreateKey(ctx, k, actor); err != nil {
			t.Fatal(err)
		}
		if _, err := st.DispatchEvents(ctx, 200, map[string]bool{model.EventKeyCreated: true}); err != nil {
			t.Fatal(err)
		}
		one := func(kind string) model.Delivery {
			t.Helper()
			ds, err := st.FindDeliveries(ctx, store.DeliveryFilter{TeamID: team.ID, Kind: kind, TargetID: k.PublicID})
			if err != nil || len(ds) != 1 {
				t.Fatalf("%s deliveries of the key: %v %v", kind, ds, err)
			}
			return ds[0]
		}
		mail, hook := one(model.DeliveryEmail), one(model.DeliveryWebhook)

		for _, addr := range []string{"a@example.com", "b@example.com", "a@example.com"} {
			if err := st.RecordMailSent(ctx, mail.ID, addr); err != nil {
				t.Fatalf("record %s: %v", addr, err)
			}
		}
		if err := st.RecordMailSent(ctx, hook.ID, "c@example.com"); err != nil {
			t.Fatal(err)
		}
		got, err := st.FindMailSent(ctx, mail.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || !got["a@example.com"] || !got["b@example.com"] {
			t.Errorf("sent for the mail delivery: %v, want a@ and b@", got)
		}
		if got, err := st.FindMailSent(ctx, hook.ID); err != nil || len(got) != 1 || !got["c@example.com"] {
			t.Errorf("sent for the other delivery: %v %v, want c@ only", got, err)
		}

		// Deleting the endpoint deletes its deliveries, and with them
		// their records.
		if _, err := st.DeleteEndpoint(ctx, team.ID, ep.PublicID, actor); err != nil {
			t.Fatalf("delete the endpoint: %v", err)
		}
		if got, err := st.FindMailSent(ctx, hook.ID); err != nil || len(got) != 0 {
			t.Errorf("after the delivery was deleted: %v %v, want none", got, err)
		}
		if got, err := st.FindMailSent(ctx, mail.ID); err != nil || len(got) != 2 {
			t.Errorf("the mail delivery's records after deleting another: %v %v", got, err)
		}
	})
}
