// Package secretbox seals secrets keyward must use again (webhook signing
// secrets) with AES-256-GCM under KEYWARD_ENCRYPTION_KEY. Each sealed value
// is stored with the id of the key that sealed it, so a key can be rotated:
// a Box opens values under its current key and any previous keys it was
// given, and always seals under the current one.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the length of an encryption key in bytes.
const KeySize = 32

// Box seals and opens secrets.
type Box struct {
	current string
	aeads   map[string]cipher.AEAD
}

// ParseKey decodes a base64 (standard or URL, padded or not) 32-byte key.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("expected %d bytes after base64 decoding, got %d", KeySize, len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("expected 32 bytes in base64 (e.g. the output of `openssl rand -base64 32`)")
}

// KeyID names a key without revealing it: the first 8 hex digits of the
// SHA-256 of "keyward-secretbox:" and the key.
func KeyID(key []byte) string {
	h := sha256.Sum256(append([]byte("keyward-secretbox:"), key...))
	return hex.EncodeToString(h[:4])
}

// New returns a Box sealing under current and also opening under previous.
func New(current []byte, previous ...[]byte) (*Box, error) {
	b := &Box{aeads: map[string]cipher.AEAD{}}
	for i, k := range append([][]byte{current}, previous...) {
		if len(k) != KeySize {
			return nil, fmt.Errorf("secretbox: key must be %d bytes", KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := KeyID(k)
		if i == 0 {
			b.current = id
		}
		if _, dup := b.aeads[id]; !dup {
			b.aeads[id] = aead
		}
	}
	return b, nil
}

// CurrentKeyID is the id of the key new values are sealed under.
func (b *Box) CurrentKeyID() string { return b.current }

// Seal encrypts plaintext under the current key; it returns base64 of nonce
// and ciphertext, and the key id to store beside it. The key id is bound as
// additional data, so a value cannot be passed off under another key's id.
func (b *Box) Seal(plaintext string) (sealed, keyID string, err error) {
	aead := b.aeads[b.current]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", "", err
	}
	out := aead.Seal(nonce, nonce, []byte(plaintext), []byte(b.current))
	return base64.StdEncoding.EncodeToString(out), b.current, nil
}

// Open decrypts a value sealed under the key keyID. It fails for an unknown
// key id or a value that does not authenticate.
func (b *Box) Open(sealed, keyID string) (string, error) {
	aead, ok := b.aeads[keyID]
	if !ok {
		return "", fmt.Errorf("secretbox: sealed under key %s, which is not configured (KEYWARD_ENCRYPTION_KEY changed? run `keyward secrets rotate --old-key`)", keyID)
	}
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < aead.NonceSize() {
		return "", errors.New("secretbox: malformed sealed value")
	}
	pt, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(keyID))
	if err != nil {
		return "", errors.New("secretbox: the sealed value does not authenticate")
	}
	return string(pt), nil
}

// Reseal opens a value and, when it is not under the current key, seals it
// again under the current key; changed says whether it did.
func (b *Box) Reseal(sealed, keyID string) (string, string, bool, error) {
	if keyID == b.current {
		if _, err := b.Open(sealed, keyID); err != nil {
			return "", "", false, err
		}
		return sealed, keyID, false, nil
	}
	pt, err := b.Open(sealed, keyID)
	if err != nil {
		return "", "", false, err
	}
	s, id, err := b.Seal(pt)
	return s, id, err == nil, err
}

// EnsureKeyFile returns the key kept in dir/encryption.key, generating one
// (mode 0600) on first use: the embedded default's counterpart of
// KEYWARD_ENCRYPTION_KEY.
func EnsureKeyFile(dir string) ([]byte, error) {
	path := filepath.Join(dir, "encryption.key")
	if b, err := os.ReadFile(path); err == nil { // #nosec G304 -- encryption.key in the operator's KEYWARD_DATA_DIR
		k, perr := ParseKey(string(b))
		if perr != nil {
			return nil, fmt.Errorf("%s: %w", path, perr)
		}
		return k, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("cannot write the encryption key: %w", err)
	}
	return k, nil
}
