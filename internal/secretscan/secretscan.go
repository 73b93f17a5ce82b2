// Package secretscan checks the signatures of secret-scanning reports: the
// public keys of the scanners (GitHub's secret-scanning partner program
// format, {"public_keys":[{"key_identifier","key","is_current"}]}) read from
// KEYWARD_SECRET_SCANNING_KEYS and swapped atomically on reload, and the
// ECDSA P-256 / SHA-256 signature (ASN.1 DER, base64) over the raw body.
package secretscan

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// ErrSignature is the one answer for a report that does not verify: no
// keys, an unknown key identifier, a malformed or wrong signature. Callers
// must not tell these apart to the sender.
var ErrSignature = errors.New("secretscan: the report's signature does not verify")

// maxFileSize bounds the public keys file.
const maxFileSize = 1 << 20

// File is the public keys file, as GitHub publishes it at
// /meta/public_keys/secret_scanning.
type File struct {
	PublicKeys []PublicKey `json:"public_keys"`
}

// PublicKey is one entry of the file: an identifier and a PEM-encoded
// ECDSA P-256 public key. IsCurrent is informative: every listed key is
// accepted, so a scanner can rotate keys without a gap.
type PublicKey struct {
	KeyIdentifier string `json:"key_identifier"`
	Key           string `json:"key"`
	IsCurrent     bool   `json:"is_current"`
}

// Parse reads a public keys file. It fails on invalid JSON, a missing
// identifier, a duplicate identifier, or a key that is not ECDSA P-256.
func Parse(b []byte) (map[string]*ecdsa.PublicKey, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("expected {\"public_keys\":[{\"key_identifier\":…,\"key\":…}]}: %w", err)
	}
	out := make(map[string]*ecdsa.PublicKey, len(f.PublicKeys))
	for i, pk := range f.PublicKeys {
		if pk.KeyIdentifier == "" {
			return nil, fmt.Errorf("public_keys[%d]: key_identifier is empty", i)
		}
		if _, dup := out[pk.KeyIdentifier]; dup {
			return nil, fmt.Errorf("public_keys[%d]: key_identifier %q is listed twice", i, pk.KeyIdentifier)
		}
		block, _ := pem.Decode([]byte(pk.Key))
		if block == nil {
			return nil, fmt.Errorf("public_keys[%d] (%s): key is not a PEM block", i, pk.KeyIdentifier)
		}
		parsed, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("public_keys[%d] (%s): %w", i, pk.KeyIdentifier, err)
		}
		ec, ok := parsed.(*ecdsa.PublicKey)
		if !ok || ec.Curve != elliptic.P256() {
			return nil, fmt.Errorf("public_keys[%d] (%s): want an ECDSA P-256 public key", i, pk.KeyIdentifier)
		}
		out[pk.KeyIdentifier] = ec
	}
	return out, nil
}

// Keys holds the scanners' public keys. The zero value holds none and
// refuses every report. It is safe for concurrent use; Reload swaps the
// whole set at once.
type Keys struct {
	path string
	set  atomic.Pointer[map[string]*ecdsa.PublicKey]
	mu   sync.Mutex // serializes Reload
}

// Load reads the keys file at path. An empty path gives a Keys that
// refuses every report (secret scanning not set up).
func Load(path string) (*Keys, error) {
	k := &Keys{path: path}
	if path == "" {
		return k, nil
	}
	if err := k.Reload(); err != nil {
		return nil, err
	}
	return k, nil
}

// FromMap builds a Keys holding exactly m (for embedding and tests).
func FromMap(m map[string]*ecdsa.PublicKey) *Keys {
	k := &Keys{}
	k.set.Store(&m)
	return k
}

// Reload reads the file again and swaps the key set in one step. On an
// error the keys in use stay as they were.
func (k *Keys) Reload() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.path == "" {
		return nil
	}
	b, err := readFile(k.path)
	if err != nil {
		return fmt.Errorf("KEYWARD_SECRET_SCANNING_KEYS: %w", err)
	}
	m, err := Parse(b)
	if err != nil {
		return fmt.Errorf("KEYWARD_SECRET_SCANNING_KEYS: %s: %w", k.path, err)
	}
	k.set.Store(&m)
	return nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path) // #nosec G304 -- KEYWARD_SECRET_SCANNING_KEYS: the operator names the file to read
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("%s is larger than 1 MiB", path)
	}
	return b, nil
}

// Len is the number of keys held.
func (k *Keys) Len() int {
	if m := k.set.Load(); m != nil {
		return len(*m)
	}
	return 0
}

// Verify checks that sigB64 (base64 of an ASN.1 DER ECDSA signature) signs
// the SHA-256 of body under the key named keyID. Any failure is
// ErrSignature.
func (k *Keys) Verify(keyID, sigB64 string, body []byte) error {
	m := k.set.Load()
	if m == nil || keyID == "" || sigB64 == "" {
		return ErrSignature
	}
	pub := (*m)[keyID]
	if pub == nil {
		return ErrSignature
	}
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil {
		return ErrSignature
	}
	digest := sha256.Sum256(body)
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		return ErrSignature
	}
	return nil
}
