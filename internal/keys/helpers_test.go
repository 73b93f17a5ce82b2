package keys_test

import (
	"hash/crc32"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/keys"
)

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// secret is a fixed, valid 32-character secret for hand-built keys.
const secret = "4eC39HqLyjWDarjtT1zdp7dcX8bQmN2v"

// withCheck appends the correct check characters to body, computed with the
// standard library's CRC-32 rather than the package's own loop.
func withCheck(body string) string {
	return body + keys.EncodeCheck(crc32.ChecksumIEEE([]byte(body)))
}

// mustKey builds a valid key from its parts.
func mustKey(t testing.TB, prefix, env, secret string) string {
	t.Helper()
	if len(secret) != keys.SecretLen {
		t.Fatalf("test secret %q has %d characters, want %d", secret, len(secret), keys.SecretLen)
	}
	return withCheck(prefix + "_" + env + "_" + secret)
}

// replaceAt returns s with the n bytes starting at i replaced by repl.
func replaceAt(s string, i, n int, repl string) string {
	return s[:i] + repl + s[i+n:]
}

func isBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(alphabet, rune(s[i])) {
			return false
		}
	}
	return true
}
