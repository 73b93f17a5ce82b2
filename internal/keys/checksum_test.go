package keys_test

import (
	"hash/crc32"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/keys"
)

func TestEncodeCheck(t *testing.T) {
	tests := []struct {
		v    uint32
		want string
	}{
		{0, "000000"},
		{1, "000001"},
		{9, "000009"},
		{10, "00000A"},
		{61, "00000z"},
		{62, "000010"},
		{3843, "0000zz"},
		{3844, "000100"},
		{916132831, "0zzzzz"}, // 62^5 - 1: the largest value with a leading zero
		{916132832, "100000"}, // 62^5
		{1<<32 - 1, "4gfFC3"},
	}
	for _, tt := range tests {
		if got := keys.EncodeCheck(tt.v); got != tt.want {
			t.Errorf("EncodeCheck(%d) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestChecksumMatchesStandardLibrary(t *testing.T) {
	inputs := []string{"", "a", "kw_live_", "kw_live_" + secret, strings.Repeat("\xff", 100), "123456789"}
	for _, s := range inputs {
		if got, want := keys.Checksum(s), crc32.ChecksumIEEE([]byte(s)); got != want {
			t.Errorf("Checksum(%q) = %#x, want %#x", s, got, want)
		}
	}
	if got := keys.Checksum("123456789"); got != 0xCBF43926 { // the CRC-32 check value
		t.Errorf("Checksum(\"123456789\") = %#x, want 0xcbf43926", got)
	}
}

// TestZeroPaddedCheck builds a key whose checksum is below 62^3, so its check
// starts with three '0' characters, and makes sure those zeros are required.
func TestZeroPaddedCheck(t *testing.T) {
	var body string
	for i := 0; ; i++ {
		s := []byte(secret)
		for j, k := len(s)-1, i; k > 0; j, k = j-1, k/62 {
			s[j] = alphabet[k%62]
		}
		body = "kw_live_" + string(s)
		if crc32.ChecksumIEEE([]byte(body)) < 62*62*62 {
			break
		}
		if i > 10_000_000 {
			t.Fatal("no secret found with a small checksum")
		}
	}
	raw := withCheck(body)
	if !strings.HasPrefix(raw[len(raw)-keys.CheckLen:], "000") {
		t.Fatalf("check of %q is not zero-padded", raw)
	}
	if _, err := keys.Parse(raw); err != nil {
		t.Fatalf("Parse(%q): %v", raw, err)
	}
	unpadded := body + strings.TrimLeft(raw[len(body):], "0")
	if _, err := keys.Parse(unpadded); err == nil {
		t.Errorf("Parse(%q) accepted a check without its leading zeros", unpadded)
	}
	spaced := body + "   " + raw[len(body)+3:]
	if _, err := keys.Parse(spaced); err == nil {
		t.Errorf("Parse(%q) accepted a check padded with spaces", spaced)
	}
}
