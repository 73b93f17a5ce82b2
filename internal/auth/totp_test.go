package auth

import (
	"strings"
	"testing"
	"time"
)

// RFC 6238 appendix B (SHA-1), the last six digits of each code.
func TestTOTPRFCVectors(t *testing.T) {
	const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" // "12345678901234567890"
	for unix, want := range map[int64]string{59: "287082", 1111111109: "081804", 1111111111: "050471", 1234567890: "005924", 2000000000: "279037"} {
		got, err := TOTPCode(secret, time.Unix(unix, 0))
		if err != nil || got != want {
			t.Errorf("code at %d = %q (%v), want %q", unix, got, err, want)
		}
		if _, ok := CheckTOTP(secret, want, time.Unix(unix, 0), 0); !ok {
			t.Errorf("CheckTOTP refused the code at %d", unix)
		}
	}
}

func TestCheckTOTPWindowAndReplay(t *testing.T) {
	e, err := NewTOTP("keyward", "ana@example.com")
	if err != nil || len(e.Secret) < 32 || !strings.HasPrefix(e.URL, "otpauth://totp/keyward:ana@example.com?") {
		t.Fatalf("enrolment %+v %v", e, err)
	}
	if again := TOTPURL("keyward", "ana@example.com", e.Secret); !strings.Contains(again, "secret="+e.Secret) || !strings.HasPrefix(again, "otpauth://totp/keyward:ana@example.com?") {
		t.Fatalf("TOTPURL = %q", again)
	}
	now := time.Date(2026, 3, 2, 9, 0, 15, 0, time.UTC)
	code := func(t2 time.Time) string {
		c, err := TOTPCode(e.Secret, t2)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cur := TOTPStep(now)
	// The previous, current and next steps pass; two steps away does not.
	for d, want := range map[int]bool{-2: false, -1: true, 0: true, 1: true, 2: false} {
		at := now.Add(time.Duration(d) * 30 * time.Second)
		step, ok := CheckTOTP(e.Secret, code(at), now, 0)
		if ok != want || ok && step != cur+int64(d) {
			t.Errorf("code %d steps away: ok=%v step=%d, want ok=%v", d, ok, step, want)
		}
	}
	// Once a step is used, its code (and earlier ones) are refused.
	step, ok := CheckTOTP(e.Secret, code(now), now, 0)
	if !ok {
		t.Fatal("current code refused")
	}
	if _, ok := CheckTOTP(e.Secret, code(now), now, step); ok {
		t.Fatal("a code was accepted twice")
	}
	if _, ok := CheckTOTP(e.Secret, code(now.Add(-30*time.Second)), now, step); ok {
		t.Fatal("an older code was accepted after a newer one")
	}
	if _, ok := CheckTOTP(e.Secret, code(now.Add(30*time.Second)), now, step); !ok {
		t.Fatal("the next step's code was refused")
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if _, ok := CheckTOTP(e.Secret, bad, now, 0); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, ok := CheckTOTP(e.Secret, code(now)[:3]+" "+code(now)[3:], now, 0); !ok {
		t.Error("a code typed with a space was refused")
	}
}

func TestRecoveryCodes(t *testing.T) {
	codes, hashes := NewRecoveryCodes()
	if len(codes) != RecoveryCodeCount || len(hashes) != RecoveryCodeCount {
		t.Fatalf("%d codes, %d hashes", len(codes), len(hashes))
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if len(c) != 11 || c[5] != '-' || seen[c] {
			t.Fatalf("code %q", c)
		}
		seen[c] = true
		if HashRecoveryCode(strings.ToUpper(strings.ReplaceAll(c, "-", " "))) != hashes[i] {
			t.Fatalf("code %q does not match its hash when typed differently", c)
		}
	}
}

func TestQRMatrix(t *testing.T) {
	m, err := QRMatrix("otpauth://totp/keyward:ana@example.com?secret=JBSWY3DPEHPK3PXP&issuer=keyward")
	if err != nil || len(m) < 21 || len(m) != len(m[0]) {
		t.Fatalf("matrix %dx? %v", len(m), err)
	}
	// The top-left finder pattern: a dark 7x7 ring.
	for i := 0; i < 7; i++ {
		if !m[0][i] || !m[i][0] || !m[6][i] || !m[i][6] {
			t.Fatal("no finder pattern in the top-left corner")
		}
	}
}
