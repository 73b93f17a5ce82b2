package keys_test

import (
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/keys"
)

func TestHash(t *testing.T) {
	tests := []struct {
		raw, want string
	}{
		// Known SHA-256 test vectors.
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	}
	for _, tt := range tests {
		if got := keys.Hash(tt.raw); got != tt.want {
			t.Errorf("Hash(%q) = %s, want %s", tt.raw, got, tt.want)
		}
	}
	long := strings.Repeat("a", 1000)
	if got, want := keys.Hash(long), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"; got != want {
		t.Errorf("Hash(1000 × a) = %s, want %s", got, want)
	}
	a := mustKey(t, "kw", "live", secret)
	b := mustKey(t, "kw", "test", secret)
	if keys.Hash(a) == keys.Hash(b) {
		t.Error("keys differing only in environment have the same hash")
	}
}

func TestHashAllocations(t *testing.T) {
	raw := mustKey(t, "kw", "live", secret)
	if n := testing.AllocsPerRun(100, func() { _ = keys.Hash(raw) }); n > 1 {
		t.Errorf("Hash allocates %v times, want at most 1 (the result)", n)
	}
}

func TestHint(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"known key", "kw_live_4eC39HqLyjWDarjtT1zdp7dcX8bQmN2v2FWc01", "kw_live_4eC3…Wc01"},
		{"test key, long prefix", mustKey(t, "acme2024xy", "test", secret), "acme2024xy_test_4eC3…"},
		{"empty", "", keys.InvalidHint},
		{"bad checksum", "kw_live_4eC39HqLyjWDarjtT1zdp7dcX8bQmN2v2FWc02", keys.InvalidHint},
		{"not a key", "password123", keys.InvalidHint},
		{"secret pasted with newline", "kw_live_4eC39HqLyjWDarjtT1zdp7dcX8bQmN2v2FWc01\n", keys.InvalidHint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := keys.Hint(tt.raw)
			want := tt.want
			if strings.HasSuffix(want, "…") {
				want += tt.raw[len(tt.raw)-4:]
			}
			if got != want {
				t.Errorf("Hint(%q) = %q, want %q", tt.raw, got, want)
			}
		})
	}
	if strings.Contains(keys.InvalidHint, "kw_") || keys.InvalidHint == "" {
		t.Errorf("placeholder %q could be mistaken for a hint", keys.InvalidHint)
	}
}
