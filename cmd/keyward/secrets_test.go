package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/testdb"
)

// dumpDatabase returns every row of every table at dsn, every column as text.
func dumpDatabase(t *testing.T, dsn string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, tb := range tables {
		rows, err := conn.Query(ctx, "SELECT t::text FROM "+pgx.Identifier{tb}.Sanitize()+" t")
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(tb + ": " + strings.Join(texts, "\n") + "\n")
	}
	return b.String()
}

// Passwords given to or made by the command line are printed once (a
// generated one) and never stored or written to standard error.
func TestCLISecretsAreNotStored(t *testing.T) {
	dsn := testdb.Postgres(t)
	out, errOut, err := runCmd(t, dsn, "", "users", "create", "--email", "owner@example.com", "--team", "Acme", "--role", "OWNER")
	if err != nil {
		t.Fatalf("users create: %v\n%s", err, errOut)
	}
	m := regexp.MustCompile(`(?m)^password: (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no generated password printed:\n%s", out)
	}
	generated := m[1]
	const given = "a password given on stdin"
	out2, errOut2, err := runCmd(t, dsn, given+"\n", "users", "create", "--email", "admin@example.com", "--team", "Acme",
		"--role", "ADMIN", "--password-stdin")
	if err != nil {
		t.Fatalf("users create --password-stdin: %v\n%s", err, errOut2)
	}
	// A refused command does not echo the password either.
	_, errOut3, err := runCmd(t, dsn, given+"\n", "users", "create", "--email", "admin@example.com", "--team", "Acme",
		"--role", "ADMIN", "--password-stdin")
	if err == nil {
		t.Fatal("creating the same user twice with a password succeeded")
	}
	refused := err.Error()

	// A key made by keys create: the raw key on stdout, nowhere else.
	keyOut, keyErr, err := runCmd(t, dsn, "", "keys", "create", "--team", "Acme", "--name", "bootstrap", "--permission", "read_all")
	if err != nil {
		t.Fatalf("keys create: %v\n%s", err, keyErr)
	}
	rawKey := regexp.MustCompile(`(?m)^kw_live_[0-9A-Za-z]{38}$`).FindString(keyOut)
	if rawKey == "" {
		t.Fatalf("keys create printed no raw key:\n%s", keyOut)
	}

	dump := dumpDatabase(t, dsn)
	if !strings.Contains(dump, "owner@example.com") || !strings.Contains(dump, "argon2id") || !strings.Contains(dump, "bootstrap") {
		t.Fatalf("the dump does not hold the users: the check below would be empty\n%s", dump)
	}
	secrets := map[string]string{"generated password": generated, "given password": given,
		"raw key": rawKey, "key secret": rawKey[len("kw_live_") : len("kw_live_")+32]}
	for what, secret := range secrets {
		for where, text := range map[string]string{"the database": dump, "standard error": errOut + errOut2 + errOut3 + keyErr,
			"the second command's output": out2, "the error": refused} {
			if strings.Contains(text, secret) {
				t.Errorf("the %s is in %s", what, where)
			}
		}
	}
}
