package keys

import (
	"crypto/rand"
	"fmt"
	"io"
)

// publicIDLen is the number of random characters in a public id.
const publicIDLen = 24

// Generate returns a new raw key with the given prefix and environment
// ("live" or "test"). It fails if the prefix or environment is invalid or
// the system's random source fails.
func Generate(prefix, env string) (string, error) {
	return generate(rand.Reader, prefix, env)
}

// generate, newPublicID and randomString take the random source as a
// parameter so that tests can make it fail.
func generate(r io.Reader, prefix, env string) (string, error) {
	if !ValidPrefix(prefix) {
		return "", fmt.Errorf("keys: invalid prefix %q: want 1 to %d characters, a lowercase letter then lowercase letters or digits", prefix, maxPrefixLen)
	}
	if !ValidEnvironment(env) {
		return "", fmt.Errorf("keys: invalid environment %q: want \"live\" or \"test\"", env)
	}
	head := len(prefix) + 1 + envLen + 1
	b := make([]byte, head+SecretLen+CheckLen)
	copy(b, prefix)
	b[len(prefix)] = '_'
	copy(b[len(prefix)+1:], env)
	b[head-1] = '_'
	if err := fillBase62(r, b[head:head+SecretLen]); err != nil {
		return "", fmt.Errorf("keys: reading random bytes: %w", err)
	}
	var check [CheckLen]byte
	encodeCheck(&check, checksum(b[:head+SecretLen]))
	copy(b[head+SecretLen:], check[:])
	return string(b), nil
}

// NewPublicID returns kind + "_" + 24 base62 characters from crypto/rand,
// such as "key_8fJ2kQ0xYbN5tR7mW1cVz3hL". Public ids name records in URLs
// and API responses; they are random so they reveal nothing about order or
// count. NewPublicID panics if the system's random source fails, which
// crypto/rand documents as not happening on supported systems.
func NewPublicID(kind string) string {
	return newPublicID(rand.Reader, kind)
}

func newPublicID(r io.Reader, kind string) string {
	b := make([]byte, len(kind)+1+publicIDLen)
	copy(b, kind)
	b[len(kind)] = '_'
	if err := fillBase62(r, b[len(kind)+1:]); err != nil {
		panic(fmt.Errorf("keys: crypto/rand failed: %w", err))
	}
	return string(b)
}
