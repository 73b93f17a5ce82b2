//go:build unix

package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/secretscan"
)

// lockedBuffer is a log sink safe for the reload goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSIGHUPReloadsScanningKeys sends the process a real SIGHUP: the keys
// file is read again; a broken file is logged and the keys in use stay.
func TestSIGHUPReloadsScanningKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	write := func(n int) {
		var f secretscan.File
		for i := range n {
			k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
			f.PublicKeys = append(f.PublicKeys, secretscan.PublicKey{KeyIdentifier: string(rune('a' + i)),
				Key: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))})
		}
		b, _ := json.Marshal(f)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(1)
	keys, err := secretscan.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	stop := reloadOnHangup(keys, slog.New(slog.NewTextHandler(logs, nil)))
	defer stop()

	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 5s (logs: %s)", what, logs.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	write(3)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("three keys after SIGHUP", func() bool { return keys.Len() == 3 })

	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("the failed reload logged", func() bool { return bytes.Contains([]byte(logs.String()), []byte("reloading the public keys failed")) })
	if keys.Len() != 3 {
		t.Fatalf("a broken file replaced the keys: %d", keys.Len())
	}
}
