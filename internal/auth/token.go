package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// NewLinkToken returns a random token for a single-use link (an invitation
// or a password reset): 32 bytes from crypto/rand in URL-safe base64, and
// its SHA-256, which alone is stored.
func NewLinkToken() (token, hash string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand.Read does not fail on supported platforms
	}
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashLinkToken(token)
}

// HashLinkToken is the stored form of a link token: SHA-256, hex.
func HashLinkToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// ValidLinkToken reports whether s has the shape NewLinkToken makes, so
// that a mangled link is refused before any database work.
func ValidLinkToken(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}
