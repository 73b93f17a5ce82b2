package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testdb"
)

func TestKeysRoll(t *testing.T) {
	dsn := testdb.Postgres(t)
	ctx := context.Background()
	if _, stderr, err := runCmd(t, dsn, "", "users", "create", "--email", "owner@example.com", "--team", "Acme", "--role", "OWNER"); err != nil {
		t.Fatalf("users create: %v\n%s", err, stderr)
	}
	out, stderr, err := runCmd(t, dsn, "", "keys", "create", "--team", "Acme", "--name", "deploy bot", "--permission", "restricted",
		"--scope", "members:read", "--environment", "test", "--expires-in", "30d")
	if err != nil {
		t.Fatalf("keys create: %v\n%s", err, stderr)
	}
	st, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	old, err := st.FindKeyByHash(ctx, keys.Hash(strings.TrimSpace(out)))
	if err != nil {
		t.Fatal(err)
	}

	// Bad input changes nothing.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--key-id"},
		{[]string{"--key-id", "key_nope"}, "no key"},
		{[]string{"--key-id", old.PublicID, "--expire-old-in", "8d"}, "--expire-old-in"},
		{[]string{"--key-id", old.PublicID, "--expires-in", "soon"}, "--expires-in"},
	} {
		if _, stderr, err := runCmd(t, dsn, "", append([]string{"keys", "roll"}, tc.args...)...); err == nil || !strings.Contains(err.Error()+stderr, tc.want) {
			t.Errorf("keys roll %v: err %v, stderr %q; want a message about %s", tc.args, err, stderr, tc.want)
		}
	}

	before := time.Now()
	out, stderr, err = runCmd(t, dsn, "", "keys", "roll", "--key-id", old.PublicID, "--expire-old-in", "1h")
	if err != nil {
		t.Fatalf("keys roll: %v\n%s", err, stderr)
	}
	raw := strings.TrimSuffix(out, "\n")
	if strings.Count(out, "\n") != 1 || !strings.HasPrefix(raw, "kw_test_") || strings.Contains(stderr, raw) || !strings.Contains(stderr, "shown only once") {
		t.Fatalf("stdout %q stderr %q: want the new test key alone on stdout", out, stderr)
	}
	n, err := st.FindKeyByHash(ctx, keys.Hash(raw))
	if err != nil || n.RolledFrom != old.PublicID || n.Name != "deploy bot" || strings.Join(n.Scopes, ",") != "members:read" || n.CreatedBy != "cli" {
		t.Fatalf("new key %+v, %v", n, err)
	}
	got, _ := st.FindKeyByID(ctx, old.TeamID, old.PublicID)
	if got.ReplacedBy != n.PublicID || got.ExpiresAt.Before(before.Add(time.Hour-time.Second)) || got.ExpiresAt.After(time.Now().Add(time.Hour)) {
		t.Fatalf("old key after the roll: %+v", got)
	}
	// Rolled already: refused, naming the successor.
	if _, stderr, err := runCmd(t, dsn, "", "keys", "roll", "--key-id", old.PublicID); err == nil || !strings.Contains(err.Error()+stderr, n.PublicID) {
		t.Fatalf("second roll: %v %q", err, stderr)
	}

	// Under a maximum lifetime, a new key that never expires is refused
	// naming the policy; one within it is fine.
	if _, err := st.UpdateTeamSettings(ctx, old.TeamID, model.TeamSettings{MaxKeyLifetimeDays: 7}, model.Actor{Label: "test"}); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := runCmd(t, dsn, "", "keys", "roll", "--key-id", n.PublicID, "--expires-in", "never"); err == nil || !strings.Contains(err.Error()+stderr, "maximum key lifetime") {
		t.Fatalf("roll to a never-expiring key under the policy: %v %q", err, stderr)
	}
	if _, stderr, err := runCmd(t, dsn, "", "keys", "create", "--team", "Acme", "--name", "x", "--permission", "read_all"); err == nil || !strings.Contains(err.Error()+stderr, "maximum key lifetime") {
		t.Fatalf("create without expiry under the policy: %v %q", err, stderr)
	}
	if _, stderr, err := runCmd(t, dsn, "", "keys", "roll", "--key-id", n.PublicID, "--expires-in", "7d", "--expire-old-in", "0s"); err != nil {
		t.Fatalf("roll within the policy: %v %q", err, stderr)
	}
	if k, _ := st.FindKeyByID(ctx, n.TeamID, n.PublicID); k.Status(time.Now()) != model.StatusExpired {
		t.Fatal("--expire-old-in 0s did not end the old key")
	}
}
