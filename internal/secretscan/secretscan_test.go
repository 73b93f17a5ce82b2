package secretscan_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/secretscan"
)

func pemOf(t *testing.T, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func keysFile(t *testing.T, entries ...secretscan.PublicKey) []byte {
	t.Helper()
	b, err := json.Marshal(secretscan.File{PublicKeys: entries})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sign(t *testing.T, k *ecdsa.PrivateKey, body []byte) string {
	t.Helper()
	d := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, k, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func TestParseRefusesBadFiles(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	good := secretscan.PublicKey{KeyIdentifier: "a", Key: pemOf(t, &p256.PublicKey)}
	for name, b := range map[string][]byte{
		"not JSON":       []byte("public_keys: []"),
		"no identifier":  keysFile(t, secretscan.PublicKey{Key: good.Key}),
		"twice the same": keysFile(t, good, good),
		"not PEM":        keysFile(t, secretscan.PublicKey{KeyIdentifier: "a", Key: "MFkw"}),
		"P-384":          keysFile(t, secretscan.PublicKey{KeyIdentifier: "a", Key: pemOf(t, &p384.PublicKey)}),
		"RSA":            keysFile(t, secretscan.PublicKey{KeyIdentifier: "a", Key: pemOf(t, &rsaKey.PublicKey)}),
		"garbage in PEM": keysFile(t, secretscan.PublicKey{KeyIdentifier: "a", Key: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}),
	} {
		if _, err := secretscan.Parse(b); err == nil {
			t.Errorf("%s: Parse accepted it", name)
		}
	}
	m, err := secretscan.Parse(keysFile(t, good))
	if err != nil || len(m) != 1 {
		t.Fatalf("Parse(good) = %v, %v", m, err)
	}
}

// TestReloadSwapsKeys: Reload takes a new file at once; a broken file
// leaves the keys in use; every failure is the same ErrSignature.
func TestReloadSwapsKeys(t *testing.T) {
	old, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	next, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	path := filepath.Join(t.TempDir(), "keys.json")
	write := func(b []byte) {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(keysFile(t, secretscan.PublicKey{KeyIdentifier: "old", Key: pemOf(t, &old.PublicKey), IsCurrent: true}))
	k, err := secretscan.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`[{"token":"x","type":"t","url":"u","source":"content"}]`)
	if err := k.Verify("old", sign(t, old, body), body); err != nil {
		t.Fatalf("valid signature: %v", err)
	}
	for name, err := range map[string]error{
		"unknown id":   k.Verify("next", sign(t, next, body), body),
		"other key":    k.Verify("old", sign(t, next, body), body),
		"altered body": k.Verify("old", sign(t, old, body), append([]byte(" "), body...)),
		"empty id":     k.Verify("", sign(t, old, body), body),
		"not base64":   k.Verify("old", "!!", body),
		"not DER":      k.Verify("old", base64.StdEncoding.EncodeToString([]byte("nope")), body),
	} {
		if !errors.Is(err, secretscan.ErrSignature) {
			t.Errorf("%s: %v, want ErrSignature", name, err)
		}
	}

	write(keysFile(t,
		secretscan.PublicKey{KeyIdentifier: "next", Key: pemOf(t, &next.PublicKey), IsCurrent: true},
		secretscan.PublicKey{KeyIdentifier: "old", Key: pemOf(t, &old.PublicKey)}))
	if err := k.Reload(); err != nil {
		t.Fatal(err)
	}
	if k.Verify("next", sign(t, next, body), body) != nil || k.Verify("old", sign(t, old, body), body) != nil {
		t.Fatal("after the reload both listed keys must verify")
	}

	write([]byte("{broken"))
	if err := k.Reload(); err == nil || !strings.Contains(err.Error(), "KEYWARD_SECRET_SCANNING_KEYS") {
		t.Fatalf("a broken file reloaded: %v", err)
	}
	if k.Len() != 2 || k.Verify("next", sign(t, next, body), body) != nil {
		t.Fatal("a broken file replaced the keys in use")
	}

	none, err := secretscan.Load("")
	if err != nil || none.Verify("old", sign(t, old, body), body) == nil {
		t.Fatal("with no file every payload must be refused")
	}
}
