// Package keys defines keyward's API key format: how keys are generated,
// parsed, checksummed, hashed for storage and shortened for display.
//
// A raw key reads {prefix}_{env}_{secret}{check}, for example
//
//	kw_live_4eC39HqLyjWDarjtT1zdp7dcX8bQmN2v2FWc01
//
// where prefix matches [a-z][a-z0-9]{0,9}, env is "live" or "test", secret is
// SecretLen base62 characters from crypto/rand and check is the CRC-32 (IEEE)
// of everything before it, written as CheckLen base62 characters padded on
// the left with '0'. The checksum lets Parse turn away typos and garbage
// before any database lookup; it is not a security measure.
package keys

import "errors"

// DefaultPrefix is the key prefix used when none is configured.
const DefaultPrefix = "kw"

// SecretLen is the number of random base62 characters in a key (about 190 bits).
const SecretLen = 32

// CheckLen is the number of base62 characters holding the CRC-32 checksum.
const CheckLen = 6

// MaxLen is the length of the longest well-formed raw key (a prefix of the
// greatest allowed length). Anything longer can be rejected without reading it.
const MaxLen = maxPrefixLen + 1 + envLen + 1 + SecretLen + CheckLen

const (
	maxPrefixLen = 10
	envLen       = 4 // len("live") == len("test")

	// tailLen is the fixed-length part after the prefix: "_{env}_{secret}{check}".
	tailLen = 1 + envLen + 1 + SecretLen + CheckLen
	minLen  = 1 + tailLen
)

// ErrMalformed is returned by Parse for input that does not have the shape
// of a key: wrong length, separators, prefix, environment or characters.
var ErrMalformed = errors.New("keys: malformed API key")

// ErrChecksum is returned by Parse for input shaped like a key whose check
// characters do not match the rest, which usually means a typo or a key cut
// and pasted wrongly.
var ErrChecksum = errors.New("keys: API key checksum mismatch")
