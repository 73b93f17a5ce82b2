package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testdb"
)

// runCmd runs keyward in-process against dsn.
func runCmd(t *testing.T, dsn, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	vars := map[string]string{
		"DATABASE_URL":           dsn,
		"KEYWARD_SESSION_SECRET": "test-session-secret-0123456789abcdef",
		"KEYWARD_DATA_DIR":       t.TempDir(),
	}
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }}
	err := run(context.Background(), e, args)
	return out.String(), errb.String(), err
}

func TestUsersCreate(t *testing.T) {
	dsn := testdb.Postgres(t)
	ctx := context.Background()

	// A new team name creates the team; the password is generated and printed once.
	out, stderr, err := runCmd(t, dsn, "", "users", "create", "--email", "Owner@Example.com", "--team", "Acme", "--role", "owner")
	if err != nil {
		t.Fatalf("users create: %v\n%s", err, stderr)
	}
	m := regexp.MustCompile(`(?m)^password: (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no generated password printed:\n%s", out)
	}
	if !strings.Contains(out, "(new team)") {
		t.Errorf("output does not say the team is new:\n%s", out)
	}

	st, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.FindUserByEmail(ctx, "owner@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !auth.CheckPassword(u.PasswordHash, m[1]) {
		t.Fatal("the printed password does not sign in")
	}
	teams, err := st.FindUserTeams(ctx, u.ID)
	if err != nil || len(teams) != 1 || teams[0].Team.Name != "Acme" || teams[0].Role != model.RoleOwner {
		t.Fatalf("teams = %+v, %v", teams, err)
	}
	acme := teams[0].Team

	// --password-stdin, and the team by its numeric id.
	out, stderr, err = runCmd(t, dsn, "a long enough password\n", "users", "create", "--email", "admin@example.com",
		"--team", strconv.FormatInt(acme.ID, 10), "--role", "ADMIN", "--password-stdin")
	if err != nil {
		t.Fatalf("users create --password-stdin: %v\n%s", err, stderr)
	}
	if strings.Contains(out, "password") {
		t.Errorf("a given password was echoed:\n%s", out)
	}
	admin, err := st.FindUserByEmail(ctx, "admin@example.com")
	if err != nil || !auth.CheckPassword(admin.PasswordHash, "a long enough password") {
		t.Fatalf("admin: %v, password check failed", err)
	}
	if mm, err := st.FindMembership(ctx, acme.ID, admin.ID); err != nil || mm.Role != model.RoleAdmin {
		t.Fatalf("admin membership = %+v, %v", mm, err)
	}

	// An existing name is reused, not duplicated.
	if _, stderr, err = runCmd(t, dsn, "", "users", "create", "--email", "member@example.com", "--team", "Acme", "--role", "MEMBER"); err != nil {
		t.Fatalf("member: %v\n%s", err, stderr)
	}
	if ms, _ := st.FindMembers(ctx, acme.ID); len(ms) != 3 {
		t.Fatalf("Acme has %d members, want 3", len(ms))
	}

	// Refusals: a short password, a bad role, an unknown team id, a new
	// team without an owner, a member twice.
	for _, tc := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"short\n", []string{"--email", "x@example.com", "--team", "Acme", "--role", "MEMBER", "--password-stdin"}, "at least 12"},
		{"", []string{"--email", "x@example.com", "--team", "Acme", "--role", "BOSS"}, "OWNER, ADMIN or MEMBER"},
		{"", []string{"--email", "x@example.com", "--team", "999999", "--role", "MEMBER"}, "no team has id"},
		{"", []string{"--email", "x@example.com", "--team", "Nowhere", "--role", "MEMBER"}, "--role OWNER"},
		{"", []string{"--email", "member@example.com", "--team", "Acme", "--role", "MEMBER"}, "already a member"},
		{"", []string{"--email", "x@example.com", "--role", "MEMBER"}, "required"},
	} {
		_, _, err := runCmd(t, dsn, tc.stdin, append([]string{"users", "create"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want one mentioning %q", tc.args, err, tc.want)
		}
	}
	if _, err := st.FindUserByEmail(ctx, "x@example.com"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("a refused command created the user: %v", err)
	}
	if _, err := st.FindTeamByName(ctx, "Nowhere"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("a refused command created the team: %v", err)
	}
}
