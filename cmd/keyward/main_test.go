package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func runArgs(t *testing.T, vars map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: func(k string) string { return vars[k] }}
	err := run(context.Background(), e, args)
	return out.String(), errOut.String(), err
}

func TestVersionAndHelp(t *testing.T) {
	out, _, err := runArgs(t, nil, "version")
	if err != nil || !strings.HasPrefix(out, "keyward ") {
		t.Fatalf("version: %q %v", out, err)
	}
	out, _, err = runArgs(t, nil, "--help")
	if err != nil || !strings.Contains(out, "migrate") || !strings.Contains(out, "DATABASE_URL") {
		t.Fatalf("help: %q %v", out, err)
	}
	if _, _, err := runArgs(t, nil, "frobnicate"); err == nil {
		t.Fatal("an unknown command must fail")
	}
}

func TestUnreachableDatabaseIsOneClearLine(t *testing.T) {
	_, _, err := runArgs(t, map[string]string{
		"DATABASE_URL":           "postgres://keyward:s3cret@127.0.0.1:1/keyward?connect_timeout=2",
		"KEYWARD_SESSION_SECRET": strings.Repeat("x", 40),
	}, "migrate")
	if err == nil {
		t.Fatal("migrate against a closed port must fail")
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || strings.Contains(msg, "s3cret") || !strings.Contains(msg, "cannot open the database") {
		t.Fatalf("error is not one clear, password-free line: %q", msg)
	}
}

func TestBadConfigurationNamesTheVariable(t *testing.T) {
	_, _, err := runArgs(t, map[string]string{"DATABASE_URL": "mysql://x", "KEYWARD_CACHE_TTL": "forever"}, "migrate")
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") || !strings.Contains(err.Error(), "KEYWARD_CACHE_TTL") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "KEYWARD_SESSION_SECRET") {
		t.Fatalf("a non-postgres URL should not also ask for a session secret: %v", err)
	}
}

func TestMigrateOnSQLite(t *testing.T) {
	dir := t.TempDir()
	out, _, err := runArgs(t, map[string]string{"KEYWARD_DATA_DIR": dir}, "migrate")
	if err != nil || strings.Contains(out, " 0 applied") || !strings.Contains(out, "applied") {
		t.Fatalf("first migrate: %q %v", out, err)
	}
	out, _, err = runArgs(t, map[string]string{"KEYWARD_DATA_DIR": dir}, "migrate")
	if err != nil || !strings.Contains(out, " 0 applied") {
		t.Fatalf("second migrate: %q %v", out, err)
	}
}
