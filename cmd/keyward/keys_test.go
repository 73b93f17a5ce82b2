package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testdb"
)

func TestKeysCreate(t *testing.T) {
	dsn := testdb.Postgres(t)
	ctx := context.Background()
	if _, stderr, err := runCmd(t, dsn, "", "users", "create", "--email", "owner@example.com", "--team", "Acme", "--role", "OWNER"); err != nil {
		t.Fatalf("users create: %v\n%s", err, stderr)
	}
	st, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acme, err := st.FindTeamByName(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}

	// The raw key is all of standard output, once.
	out, stderr, err := runCmd(t, dsn, "", "keys", "create", "--team", "Acme", "--name", "deploy bot", "--permission", "read_all")
	if err != nil {
		t.Fatalf("keys create: %v\n%s", err, stderr)
	}
	raw := strings.TrimSuffix(out, "\n")
	if strings.Count(out, "\n") != 1 || !strings.HasPrefix(raw, "kw_live_") {
		t.Fatalf("standard output %q, want the raw key on one line", out)
	}
	if _, err := keys.Parse(raw); err != nil {
		t.Fatalf("printed key does not parse: %v", err)
	}
	if strings.Contains(stderr, raw) || !strings.Contains(stderr, "shown only once") {
		t.Fatalf("standard error %q", stderr)
	}
	// Without --expires-in, the dashboard's default: 90 days.
	k, err := st.FindKeyByHash(ctx, keys.Hash(raw))
	if err != nil || k.TeamID != acme.ID || k.Name != "deploy bot" || k.PermissionSet != model.PermReadAll ||
		k.ExpiresAt == nil || k.ExpiresAt.Sub(time.Now()) < 89*24*time.Hour || k.ExpiresAt.Sub(time.Now()) > 90*24*time.Hour ||
		k.CreatedBy != "cli" {
		t.Fatalf("stored key %+v, %v", k, err)
	}
	out, stderr, err = runCmd(t, dsn, "", "keys", "create", "--team", "Acme", "--name", "forever", "--permission", "read_all", "--expires-in", "never")
	if err != nil {
		t.Fatalf("keys create --expires-in never: %v\n%s", err, stderr)
	}
	if k, err := st.FindKeyByHash(ctx, keys.Hash(strings.TrimSpace(out))); err != nil || k.ExpiresAt != nil || !strings.Contains(stderr, "never expires") {
		t.Fatalf("--expires-in never: %+v, %v, %q", k, err, stderr)
	}
	evs, err := st.FindAuditEvents(ctx, store.AuditFilter{TeamID: acme.ID, TargetID: k.PublicID})
	if err != nil || len(evs) != 1 || evs[0].Action != model.ActionKeyCreated || evs[0].ActorLabel != "cli" {
		t.Fatalf("audit %+v, %v", evs, err)
	}

	// Restricted with scopes (repeated and comma-separated), test, by team id, expiring.
	out, stderr, err = runCmd(t, dsn, "", "keys", "create", "--team", strconv.FormatInt(acme.ID, 10), "--name", "ci",
		"--permission", "restricted", "--scope", "api_keys:read", "--scope", "members:read,audit_log:read",
		"--environment", "test", "--expires-in", "30d")
	if err != nil {
		t.Fatalf("keys create restricted: %v\n%s", err, stderr)
	}
	raw = strings.TrimSpace(out)
	k, err = st.FindKeyByHash(ctx, keys.Hash(raw))
	if err != nil || k.Environment != "test" || !strings.HasPrefix(raw, "kw_test_") ||
		strings.Join(k.Scopes, ",") != "api_keys:read,audit_log:read,members:read" || k.ExpiresAt == nil ||
		k.ExpiresAt.Sub(time.Now()) < 29*24*time.Hour || k.ExpiresAt.Sub(time.Now()) > 30*24*time.Hour {
		t.Fatalf("restricted key %+v, %v", k, err)
	}

	// Restrictions.
	out, stderr, err = runCmd(t, dsn, "", "keys", "create", "--team", "Acme", "--name", "edge", "--permission", "read_all",
		"--allow-ip", "10.1.2.3/8", "--allow-ip", "2001:db8::/32,192.0.2.7", "--allow-referrer", "*.example.com",
		"--rate-limit", "100/1m", "--quota", "10000", "--quota-refill", "10000/month")
	if err != nil {
		t.Fatalf("keys create with restrictions: %v\n%s", err, stderr)
	}
	k, err = st.FindKeyByHash(ctx, keys.Hash(strings.TrimSpace(out)))
	r := k.Restrictions()
	if err != nil || strings.Join(r.AllowedIPs, ",") != "10.0.0.0/8,2001:db8::/32,192.0.2.7" || strings.Join(r.AllowedReferrers, ",") != "*.example.com" ||
		r.RateLimit == nil || r.RateLimit.String() != "100/1m" || r.Quota == nil || r.Quota.Remaining != 10000 ||
		r.Quota.RefillAmount != 10000 || r.Quota.RefillPeriod != "month" {
		t.Fatalf("restrictions %+v, %v", r, err)
	}
	if !strings.Contains(stderr, "Restrictions: At most 100 requests per minute") {
		t.Fatalf("standard error %q does not describe the restrictions", stderr)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--team", "Acme", "--name", "x", "--permission", "read_all", "--allow-ip", "10.0.0.1,10.0.0.300"}, "--allow-ip: Line 2"},
		{[]string{"--team", "Acme", "--name", "x", "--permission", "read_all", "--allow-ip", "0.0.0.0/0"}, "every address"},
		{[]string{"--team", "Acme", "--name", "x", "--permission", "read_all", "--rate-limit", "100"}, "--rate-limit"},
		{[]string{"--team", "Acme", "--name", "x", "--permission", "read_all", "--quota", "-5"}, "--quota"},
		{[]string{"--team", "Acme", "--name", "x", "--permission", "read_all", "--quota-refill", "5/day"}, "needs --quota"},
		{[]string{"--team", "Acme", "--name", "x", "--permission", "read_all", "--quota", "5", "--quota-refill", "5/week"}, "--quota-refill"},
		{[]string{"--team", "Nope", "--name", "x", "--permission", "read_all"}, "no team"},
		{[]string{"--team", "Acme", "--name", "x", "--permission", "restricted"}, "--scope"},
		{[]string{"--team", "Acme", "--name", "x", "--permission", "restricted", "--scope", "invoices:read"}, "Unknown resource"},
		{[]string{"--team", "Acme", "--name", "x", "--permission", "admin"}, "--permission"},
		{[]string{"--team", "Acme", "--name", "x", "--permission", "read_all", "--environment", "prod"}, "--environment"},
		{[]string{"--team", "Acme", "--name", "x", "--permission", "read_all", "--expires-in", "-1d"}, "--expires-in"},
		{[]string{"--team", "Acme", "--permission", "read_all"}, "required"},
	} {
		out, stderr, err := runCmd(t, dsn, "", append([]string{"keys", "create"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || out != "" {
			t.Fatalf("keys create %v: err %v (want it to mention %q), stdout %q, stderr %q", tc.args, err, tc.want, out, stderr)
		}
	}
	if _, _, err := runCmd(t, dsn, "", "keys", "list"); err == nil {
		t.Fatal("keys list succeeded")
	}
}

// --help exits 0 and lists the command's own flags first, apart from the
// server's settings; keys --help names the subcommand.
func TestKeysHelp(t *testing.T) {
	out, _, err := runArgs(t, nil, "keys", "--help")
	if err != nil || !strings.Contains(out, "keyward keys create") {
		t.Fatalf("keys --help: %v, %q", err, out)
	}
	out, _, err = runArgs(t, nil, "keys", "create", "--help")
	if err != nil {
		t.Fatalf("keys create --help: %v", err)
	}
	own, server := strings.Index(out, "--expires-in"), strings.Index(out, "Server settings")
	if own < 0 || server < 0 || own > server || strings.Index(out, "--database-url") < server ||
		!strings.Contains(out, "never") || !strings.Contains(out, "90d") {
		t.Fatalf("keys create --help does not list its own flags first:\n%s", out)
	}
	if out, _, err := runArgs(t, nil, "users", "create", "-h"); err != nil || !strings.Contains(out, "--password-stdin") {
		t.Fatalf("users create -h: %v, %q", err, out)
	}
	if _, _, err := runArgs(t, nil, "keys", "create", "--frobnicate"); err == nil {
		t.Fatal("an unknown flag must fail")
	}
}

// The example scopes file in the repository (which the README uses) turns
// on the resources of its examples.
func TestExampleScopesFile(t *testing.T) {
	dsn := testdb.Postgres(t)
	if _, stderr, err := runCmd(t, dsn, "", "users", "create", "--email", "owner@example.com", "--team", "Acme", "--role", "OWNER"); err != nil {
		t.Fatalf("users create: %v\n%s", err, stderr)
	}
	out, stderr, err := runCmd(t, dsn, "", "keys", "create", "--scopes-file", "scopes.example.yaml", "--team", "Acme",
		"--name", "billing", "--permission", "restricted", "--scope", "invoices:write", "--scope", "customers:read")
	if err != nil || !strings.HasPrefix(out, "kw_live_") {
		t.Fatalf("keys create with the example scopes: %v\n%s", err, stderr)
	}
}
