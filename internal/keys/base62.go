package keys

import (
	"crypto/rand"
	"errors"
	"io"
)

const base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// base62Value maps a byte to its digit value, or -1 if it is not in the alphabet.
var base62Value = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(base62Alphabet); i++ {
		t[base62Alphabet[i]] = int8(i)
	}
	return t
}()

// fillBase62 fills dst with uniformly distributed base62 characters read from
// r. Each random byte gives 6 bits; the values 62 and 63 are thrown away
// instead of being folded back with a modulo, which would favour the first
// characters of the alphabet.
func fillBase62(r io.Reader, dst []byte) error {
	n := 0
	for n < len(dst) {
		// The random bytes are read into the unfilled part of dst itself:
		// the write position never passes the read position.
		if _, err := io.ReadFull(r, dst[n:]); err != nil {
			return err
		}
		for _, b := range dst[n:] {
			if v := b & 63; v < 62 {
				dst[n] = base62Alphabet[v]
				n++
			}
		}
	}
	return nil
}

// RandomString returns n base62 characters (0-9, A-Z, a-z) from crypto/rand,
// for generated passwords and similar secrets. It fails if n is negative or
// the system's random source fails.
func RandomString(n int) (string, error) {
	return randomString(rand.Reader, n)
}

func randomString(r io.Reader, n int) (string, error) {
	if n < 0 {
		return "", errors.New("keys: negative random string length")
	}
	b := make([]byte, n)
	if err := fillBase62(r, b); err != nil {
		return "", err
	}
	return string(b), nil
}
