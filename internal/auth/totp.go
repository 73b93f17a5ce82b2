package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/url"
	"strings"
	"time"

	"github.com/boombuler/barcode/qr"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Two-factor authentication with time-based one-time passwords (TOTP,
// RFC 6238): 6 digits, 30-second steps, SHA-1, as every authenticator app
// reads them. A code is accepted for the step before, at and after the
// clock's, and each step only once (the caller keeps the last step used).
const (
	totpPeriod = 30
	totpDigits = otp.DigitsSix
	// RecoveryCodeCount is how many single-use recovery codes enrolment
	// makes.
	RecoveryCodeCount = 10
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}

// TOTPEnrolment is a new secret with what an authenticator app needs.
type TOTPEnrolment struct {
	// Secret is the base32 seed (keyward keeps it encrypted at rest).
	Secret string
	// URL is the otpauth:// URL the QR code carries.
	URL string
}

// NewTOTP makes a new TOTP secret (160 random bits) for account, named
// issuer in authenticator apps.
func NewTOTP(issuer, account string) (TOTPEnrolment, error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return TOTPEnrolment{}, err
	}
	return TOTPEnrolment{Secret: k.Secret(), URL: k.URL()}, nil
}

// TOTPStep is the time step of t.
func TOTPStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// CheckTOTP reports whether code is valid for secret at now, for a step
// after lastStep (so that a code is used at most once), and returns that
// step. Spaces in code are ignored.
func CheckTOTP(secret, code string, now time.Time, lastStep int64) (int64, bool) {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != totpDigits.Length() {
		return 0, false
	}
	cur := TOTPStep(now)
	for step := cur - 1; step <= cur+1; step++ {
		if step <= lastStep {
			continue
		}
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), totpOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}

// TOTPCode is the code for secret at t (for tests and for showing that
// enrolment works).
func TOTPCode(secret string, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, t, totpOpts)
}

// recoveryAlphabet leaves out look-alike characters.
const recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// NewRecoveryCodes returns RecoveryCodeCount codes ("xxxxx-xxxxx", about 49
// bits each) and their hashes, which alone are stored.
func NewRecoveryCodes() (codes, hashes []string) {
	for range RecoveryCodeCount {
		var b strings.Builder
		buf := make([]byte, 1)
		for i := 0; i < 10; {
			if _, err := rand.Read(buf); err != nil {
				panic(err) // crypto/rand.Read does not fail on supported platforms
			}
			if int(buf[0]) >= 256-256%len(recoveryAlphabet) {
				continue
			}
			if i == 5 {
				b.WriteByte('-')
			}
			b.WriteByte(recoveryAlphabet[int(buf[0])%len(recoveryAlphabet)])
			i++
		}
		codes = append(codes, b.String())
		hashes = append(hashes, HashRecoveryCode(b.String()))
	}
	return codes, hashes
}

// HashRecoveryCode is the stored form of a recovery code: SHA-256 (hex) of
// the code lower-cased, without spaces or dashes. The codes carry enough
// randomness that a fast hash is safe.
func HashRecoveryCode(code string) string {
	c := strings.NewReplacer("-", "", " ", "").Replace(strings.ToLower(strings.TrimSpace(code)))
	sum := sha256.Sum256([]byte("keyward-recovery:" + c))
	return hex.EncodeToString(sum[:])
}

// QRMatrix encodes s as a QR code (error correction M) and returns its
// modules, true for dark, row by row, for drawing as SVG.
func QRMatrix(s string) ([][]bool, error) {
	code, err := qr.Encode(s, qr.M, qr.Auto)
	if err != nil {
		return nil, err
	}
	b := code.Bounds()
	m := make([][]bool, b.Dy())
	for y := range m {
		m[y] = make([]bool, b.Dx())
		for x := range m[y] {
			r, _, _, _ := code.At(b.Min.X+x, b.Min.Y+y).RGBA()
			m[y][x] = r == 0
		}
	}
	return m, nil
}

// TOTPURL is the otpauth:// URL for an existing secret (what NewTOTP's URL
// says), for showing the QR code again while enrolment is pending.
func TOTPURL(issuer, account, secret string) string {
	v := url.Values{}
	v.Set("secret", secret)
	v.Set("issuer", issuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", "6")
	v.Set("period", "30")
	return "otpauth://totp/" + url.PathEscape(issuer) + ":" + url.PathEscape(account) + "?" + v.Encode()
}
