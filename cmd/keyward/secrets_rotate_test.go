package main

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/notify"
	"github.com/keyward/keyward/internal/secretbox"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testdb"
)

// TestSecretsRotate: `keyward secrets rotate --old-key` re-seals every
// webhook secret under the new key, which then opens them; a wrong old key
// changes nothing.
func TestSecretsRotate(t *testing.T) {
	ctx := context.Background()
	dsn := testdb.Postgres(t)
	oldKey, newKey := make([]byte, 32), make([]byte, 32)
	for i := range oldKey {
		oldKey[i], newKey[i] = byte(i), byte(100+i)
	}
	st, err := store.Open(ctx, dsn, store.Options{})
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
	oldBox, _ := secretbox.New(oldKey)
	secret, _ := notify.NewSecret()
	sealed, kid, _ := oldBox.Seal(secret)
	ep := model.WebhookEndpoint{TeamID: team.ID, URL: "https://203.0.113.10/hook"}
	if err := st.CreateEndpoint(ctx, &ep, store.EndpointSecret{Sealed: sealed, KeyID: kid}, model.UserActor(u, "")); err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	run := func(old string) (string, string, error) {
		var out, errb strings.Builder
		vars := map[string]string{"DATABASE_URL": dsn, "KEYWARD_SESSION_SECRET": "test-session-secret-0123456789abcdef",
			"KEYWARD_DATA_DIR": t.TempDir(), "KEYWARD_ENCRYPTION_KEY": b64(newKey)}
		e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }}
		err := run(ctx, e, []string{"secrets", "rotate", "--old-key", old})
		return out.String(), errb.String(), err
	}
	wrong := make([]byte, 32)
	if _, _, err := run(b64(wrong)); err == nil {
		t.Fatal("rotating with a wrong old key succeeded")
	}
	if got, _ := st.FindEndpointByID(ctx, team.ID, ep.PublicID); got.SecretKeyID != kid {
		t.Fatal("a failed rotation changed the stored secret")
	}
	out, errOut, err := run(b64(oldKey))
	if err != nil || !strings.Contains(out, "1 re-sealed") {
		t.Fatalf("rotate: %q %q %v", out, errOut, err)
	}
	got, _ := st.FindEndpointByID(ctx, team.ID, ep.PublicID)
	newBox, _ := secretbox.New(newKey)
	if got.SecretKeyID != newBox.CurrentKeyID() {
		t.Fatalf("key id %s, want %s", got.SecretKeyID, newBox.CurrentKeyID())
	}
	if opened, err := newBox.Open(got.Secret, got.SecretKeyID); err != nil || opened != secret {
		t.Fatalf("the new key opens %q, %v", opened, err)
	}
	if _, err := oldBox.Open(got.Secret, got.SecretKeyID); err == nil {
		t.Fatal("the old key still opens the secret")
	}
	if strings.Contains(out+errOut, secret) {
		t.Fatal("the secret was printed")
	}
	// Again: nothing left to re-seal.
	if out, _, err := run(b64(oldKey)); err != nil || !strings.Contains(out, "0 re-sealed") {
		t.Fatalf("second rotate: %q %v", out, err)
	}
}
