package keys_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/keys"
)

func TestParseKnownAnswer(t *testing.T) {
	// The check was computed outside Go: CRC-32 of the body is 0x7AE2CA49,
	// which is 2FWc01 in base62.
	const raw = "kw_live_4eC39HqLyjWDarjtT1zdp7dcX8bQmN2v2FWc01"
	got, err := keys.Parse(raw)
	if err != nil {
		t.Fatalf("Parse(%q): %v", raw, err)
	}
	want := keys.Parsed{Prefix: "kw", Environment: "live", Secret: secret}
	if got != want {
		t.Fatalf("Parse(%q) = %+v, want %+v", raw, got, want)
	}
	if len(raw) != 46 {
		t.Fatalf("len = %d, want 46", len(raw))
	}
}

func TestParse(t *testing.T) {
	kwLive := mustKey(t, "kw", "live", secret)
	kwTest := mustKey(t, "kw", "test", secret)
	n := len(kwLive)

	tests := []struct {
		name string
		raw  string
		want keys.Parsed // compared only when err is nil
		err  error
	}{
		// Valid keys.
		{"kw live", kwLive, keys.Parsed{"kw", "live", secret}, nil},
		{"kw test", kwTest, keys.Parsed{"kw", "test", secret}, nil},
		{"one-letter prefix", mustKey(t, "a", "test", secret), keys.Parsed{"a", "test", secret}, nil},
		{"prefix with digits", mustKey(t, "x9", "live", secret), keys.Parsed{"x9", "live", secret}, nil},
		{"ten-character prefix", mustKey(t, "acme2024xy", "live", secret), keys.Parsed{"acme2024xy", "live", secret}, nil},
		{"secret all zeros", mustKey(t, "kw", "live", strings.Repeat("0", 32)), keys.Parsed{"kw", "live", strings.Repeat("0", 32)}, nil},
		{"secret all z", mustKey(t, "kw", "test", strings.Repeat("z", 32)), keys.Parsed{"kw", "test", strings.Repeat("z", 32)}, nil},

		// Wrong shape or length.
		{"empty", "", keys.Parsed{}, keys.ErrMalformed},
		{"only underscores, key length", strings.Repeat("_", n), keys.Parsed{}, keys.ErrMalformed},
		{"only underscores, max length", strings.Repeat("_", keys.MaxLen), keys.Parsed{}, keys.ErrMalformed},
		{"only underscores, short", "___", keys.Parsed{}, keys.ErrMalformed},
		{"10 KB of letters", strings.Repeat("a", 10<<10), keys.Parsed{}, keys.ErrMalformed},
		{"10 KB of repeated keys", strings.Repeat(kwLive, (10<<10)/n+1), keys.Parsed{}, keys.ErrMalformed},
		{"one byte over", kwLive + "0", keys.Parsed{}, keys.ErrMalformed},
		{"secret one short", withCheck("kw_live_" + secret[:31]), keys.Parsed{}, keys.ErrMalformed},
		{"secret one long", withCheck("kw_live_" + secret + "x"), keys.Parsed{}, keys.ErrMalformed},
		{"check missing", "kw_live_" + secret, keys.Parsed{}, keys.ErrMalformed},
		{"check one short", kwLive[:n-1], keys.Parsed{}, keys.ErrMalformed},

		// Prefix.
		{"empty prefix", withCheck("_live_" + secret), keys.Parsed{}, keys.ErrMalformed},
		{"uppercase prefix", withCheck("KW_live_" + secret), keys.Parsed{}, keys.ErrMalformed},
		{"mixed-case prefix", withCheck("kW_live_" + secret), keys.Parsed{}, keys.ErrMalformed},
		{"prefix starts with digit", withCheck("1kw_live_" + secret), keys.Parsed{}, keys.ErrMalformed},
		{"prefix with hyphen", withCheck("k-w_live_" + secret), keys.Parsed{}, keys.ErrMalformed},
		{"prefix with dot", withCheck("k.w_live_" + secret), keys.Parsed{}, keys.ErrMalformed},
		{"prefix with underscore", withCheck("k_w_live_" + secret), keys.Parsed{}, keys.ErrMalformed},
		{"prefix eleven characters", withCheck("acme2024xyz_live_" + secret), keys.Parsed{}, keys.ErrMalformed},
		{"Cyrillic prefix look-alike", withCheck("\u043a\u0432_live_" + secret), keys.Parsed{}, keys.ErrMalformed}, // кв
		{"Cyrillic a in prefix", withCheck("\u0430cme_live_" + secret), keys.Parsed{}, keys.ErrMalformed},

		// Environment and separators.
		{"unknown env", withCheck("kw_prod_" + secret), keys.Parsed{}, keys.ErrMalformed},
		{"uppercase env", withCheck("kw_LIVE_" + secret), keys.Parsed{}, keys.ErrMalformed},
		{"short env", withCheck("kw_tst_" + secret), keys.Parsed{}, keys.ErrMalformed},
		{"long env", withCheck("kw_production_" + secret), keys.Parsed{}, keys.ErrMalformed},
		{"Cyrillic e in env", withCheck("kw_liv\u0435_" + secret), keys.Parsed{}, keys.ErrMalformed},
		{"Cyrillic e in env, same length", withCheck("k_liv\u0435_" + secret), keys.Parsed{}, keys.ErrMalformed},
		{"hyphens for underscores", withCheck("kw-live-" + secret), keys.Parsed{}, keys.ErrMalformed},
		{"doubled underscore", withCheck("kw__live_" + secret), keys.Parsed{}, keys.ErrMalformed},
		{"no separators", withCheck("kwlive" + secret), keys.Parsed{}, keys.ErrMalformed},

		// Bytes outside the alphabet.
		{"NUL in secret", withCheck("kw_live_" + secret[:10] + "\x00" + secret[11:]), keys.Parsed{}, keys.ErrMalformed},
		{"NUL appended", kwLive + "\x00", keys.Parsed{}, keys.ErrMalformed},
		{"NUL in check", replaceAt(kwLive, n-3, 1, "\x00"), keys.Parsed{}, keys.ErrMalformed},
		{"NUL prefix", withCheck("\x00\x00_live_" + secret), keys.Parsed{}, keys.ErrMalformed},
		{"CRLF appended", kwLive + "\r\n", keys.Parsed{}, keys.ErrMalformed},
		{"CRLF in secret", withCheck("kw_live_" + secret[:30] + "\r\n"), keys.Parsed{}, keys.ErrMalformed},
		{"CRLF replacing the end", kwLive[:n-2] + "\r\n", keys.Parsed{}, keys.ErrMalformed},
		{"leading space", " " + kwLive, keys.Parsed{}, keys.ErrMalformed},
		{"trailing space", kwLive + " ", keys.Parsed{}, keys.ErrMalformed},
		{"space in secret", withCheck("kw_live_" + secret[:16] + " " + secret[17:]), keys.Parsed{}, keys.ErrMalformed},
		{"tab in secret", withCheck("kw_live_" + secret[:16] + "\t" + secret[17:]), keys.Parsed{}, keys.ErrMalformed},
		{"right-to-left override before key", "\u202e" + kwLive, keys.Parsed{}, keys.ErrMalformed},
		{"right-to-left override in secret", withCheck("kw_live_" + secret[:10] + "\u202e" + secret[13:]), keys.Parsed{}, keys.ErrMalformed},
		{"right-to-left override in check", kwLive[:n-3] + "\u202e", keys.Parsed{}, keys.ErrMalformed},
		{"Cyrillic A in secret", withCheck("kw_live_" + "\u0410" + secret[2:]), keys.Parsed{}, keys.ErrMalformed},
		{"Cyrillic o in check", kwLive[:n-2] + "\u043e", keys.Parsed{}, keys.ErrMalformed},
		{"hyphen in check", replaceAt(kwLive, n-1, 1, "-"), keys.Parsed{}, keys.ErrMalformed},
		{"underscore in check", replaceAt(kwLive, n-1, 1, "_"), keys.Parsed{}, keys.ErrMalformed},
		{"high byte in secret", withCheck("kw_live_" + secret[:31] + "\xff"), keys.Parsed{}, keys.ErrMalformed},

		// Right shape, wrong check.
		{"last character changed", replaceAt(kwLive, n-1, 1, string(kwLive[n-1]^1)), keys.Parsed{}, keys.ErrChecksum},
		{"first secret character changed", replaceAt(kwLive, 8, 1, "5"), keys.Parsed{}, keys.ErrChecksum},
		{"prefix changed", replaceAt(kwLive, 1, 1, "x"), keys.Parsed{}, keys.ErrChecksum},
		{"env swapped", "kw_test_" + kwLive[8:], keys.Parsed{}, keys.ErrChecksum},
		{"check all zeros", kwLive[:n-6] + "000000", keys.Parsed{}, keys.ErrChecksum},
		{"check above 2^32", kwLive[:n-6] + "zzzzzz", keys.Parsed{}, keys.ErrChecksum},
		{"case of one secret character flipped", replaceAt(kwLive, 9, 1, "E"), keys.Parsed{}, keys.ErrChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := keys.Parse(tt.raw)
			if tt.err == nil {
				if err != nil {
					t.Fatalf("Parse(%q): unexpected error %v", tt.raw, err)
				}
				if got != tt.want {
					t.Fatalf("Parse(%q) = %+v, want %+v", tt.raw, got, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.err) {
				t.Fatalf("Parse(%q) error = %v, want %v", tt.raw, err, tt.err)
			}
			if got != (keys.Parsed{}) {
				t.Fatalf("Parse(%q) returned %+v along with an error", tt.raw, got)
			}
		})
	}
}

// TestParseSingleCharacterChange changes every character of a key, one at a
// time. CRC-32 detects every single-byte change, so a change that keeps the
// shape must fail the checksum, and any other change must be malformed.
func TestParseSingleCharacterChange(t *testing.T) {
	raw := mustKey(t, "acme", "live", secret)
	n := len(raw)
	prefixEnd := len("acme")
	envStart, envEnd := prefixEnd+1, prefixEnd+1+4
	for i := 0; i < n; i++ {
		switch {
		case i < prefixEnd:
			for _, c := range "abcdefghijklmnopqrstuvwxyz0123456789" {
				if byte(c) == raw[i] {
					continue
				}
				want := keys.ErrChecksum
				if i == 0 && c >= '0' && c <= '9' {
					want = keys.ErrMalformed // a prefix starts with a letter
				}
				checkErr(t, replaceAt(raw, i, 1, string(c)), want)
			}
			checkErr(t, replaceAt(raw, i, 1, "A"), keys.ErrMalformed)
		case i == prefixEnd || i == envEnd:
			checkErr(t, replaceAt(raw, i, 1, "-"), keys.ErrMalformed)
			checkErr(t, replaceAt(raw, i, 1, "a"), keys.ErrMalformed)
		case i >= envStart && i < envEnd:
			checkErr(t, replaceAt(raw, i, 1, "x"), keys.ErrMalformed)
		default: // secret and check
			for _, c := range alphabet {
				if byte(c) != raw[i] {
					checkErr(t, replaceAt(raw, i, 1, string(c)), keys.ErrChecksum)
				}
			}
			for _, c := range []string{"_", "-", " ", "\x00", "\n", "+", "/", "="} {
				checkErr(t, replaceAt(raw, i, 1, c), keys.ErrMalformed)
			}
		}
	}
}

func checkErr(t *testing.T, raw string, want error) {
	t.Helper()
	if _, err := keys.Parse(raw); !errors.Is(err, want) {
		t.Errorf("Parse(%q) error = %v, want %v", raw, err, want)
	}
}

func TestParseLengthBounds(t *testing.T) {
	shortest := mustKey(t, "a", "live", secret)
	longest := mustKey(t, "abcdefghij", "test", secret)
	if len(longest) != keys.MaxLen {
		t.Errorf("longest key has %d characters, MaxLen = %d", len(longest), keys.MaxLen)
	}
	if len(shortest) != keys.MaxLen-9 {
		t.Errorf("shortest key has %d characters, want %d", len(shortest), keys.MaxLen-9)
	}
	for _, raw := range []string{shortest, longest} {
		if _, err := keys.Parse(raw); err != nil {
			t.Errorf("Parse(%q): %v", raw, err)
		}
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	valid := mustKey(t, "kw", "live", secret)
	inputs := map[string]string{
		"valid":     valid,
		"checksum":  valid[:len(valid)-1] + "x",
		"malformed": valid[:20] + "\x00" + valid[21:],
		"overlong":  strings.Repeat("a", 10<<10),
	}
	for name, raw := range inputs {
		if n := testing.AllocsPerRun(100, func() { _, _ = keys.Parse(raw) }); n != 0 {
			t.Errorf("Parse (%s) allocates %v times, want 0", name, n)
		}
	}
}

func TestValidPrefix(t *testing.T) {
	tests := []struct {
		p    string
		want bool
	}{
		{"kw", true},
		{"a", true},
		{"z", true},
		{"a0", true},
		{"acme2024xy", true},
		{"", false},
		{"acme2024xyz", false},
		{"0kw", false},
		{"Kw", false},
		{"kW", false},
		{"k_w", false},
		{"k-w", false},
		{"k w", false},
		{"kw\x00", false},
		{"\u043a\u0432", false},
		{"k\u202ew", false},
	}
	for _, tt := range tests {
		if got := keys.ValidPrefix(tt.p); got != tt.want {
			t.Errorf("ValidPrefix(%q) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if !keys.ValidPrefix(keys.DefaultPrefix) {
		t.Errorf("DefaultPrefix %q is not a valid prefix", keys.DefaultPrefix)
	}
}

func TestValidEnvironment(t *testing.T) {
	for env, want := range map[string]bool{
		"live": true, "test": true,
		"": false, "Live": false, "TEST": false, "prod": false, "live ": false, "tes": false,
	} {
		if got := keys.ValidEnvironment(env); got != want {
			t.Errorf("ValidEnvironment(%q) = %v, want %v", env, got, want)
		}
	}
}
