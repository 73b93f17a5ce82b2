package auth

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed" // the common-password list
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/model"
)

// MinPasswordLen is the shortest password accepted for new passwords, in characters.
const MinPasswordLen = 12

// MaxPasswordRunes is the longest new password, in characters (ASVS 5.0
// asks for at least 64; passphrases fit well within it).
const MaxPasswordRunes = 256

// MaxPasswordLen bounds, in bytes, the work a single sign-in attempt can
// cause: MaxPasswordRunes characters of four bytes each.
const MaxPasswordLen = 4 * MaxPasswordRunes

// commonPasswordsGz is the 100,000 most common passwords, lower-cased, one
// a line, most common first (see the README's Accounts section for where it
// comes from and its licence).
//
//go:embed common-passwords.txt.gz
var commonPasswordsGz []byte

var common struct {
	once sync.Once
	set  map[string]struct{}
	n    int
}

// commonPasswords returns the entries of the list that the length rule does
// not already refuse, as a set; shorter ones could never match a password
// that reaches the list check. It reads the embedded list once.
func commonPasswords() map[string]struct{} {
	common.once.Do(func() {
		common.set = map[string]struct{}{}
		zr, err := gzip.NewReader(bytes.NewReader(commonPasswordsGz))
		if err != nil {
			panic("auth: the embedded common-password list is corrupt: " + err.Error())
		}
		sc := bufio.NewScanner(zr)
		for sc.Scan() {
			common.n++
			if w := sc.Text(); utf8.RuneCountInString(w) >= MinPasswordLen {
				common.set[w] = struct{}{}
			}
		}
		if err := sc.Err(); err != nil {
			panic("auth: the embedded common-password list is corrupt: " + err.Error())
		}
	})
	return common.set
}

// PasswordContext is what a new password must not contain: the account's
// e-mail address and the names of its teams.
type PasswordContext struct {
	Email string
	Teams []string
}

// ValidatePassword checks a new password against the policy (ASVS 5.0 V6):
// 12 to 256 characters of any kind; not among the 100,000 most common
// passwords; not one short piece repeated; not containing the local part of
// the e-mail address nor a team name (each compared case-insensitively once
// it is at least 3 characters long). It returns EINVALID with the field
// "password" and a message that says how to fix it.
func ValidatePassword(pw string, pc PasswordContext) error {
	if msg := passwordProblem(pw, pc); msg != "" {
		return &model.Error{Code: model.EINVALID, Message: msg, Fields: map[string]string{"password": msg}}
	}
	return nil
}

func passwordProblem(pw string, pc PasswordContext) string {
	n := utf8.RuneCountInString(pw)
	switch {
	case strings.TrimSpace(pw) == "":
		return "Enter a password."
	case !utf8.ValidString(pw):
		return "The password is not valid text."
	case strings.ContainsRune(pw, 0):
		return "The password cannot contain a NUL character."
	case n < MinPasswordLen:
		return fmt.Sprintf("Use at least %d characters for the password (this one has %d).", MinPasswordLen, n)
	case n > MaxPasswordRunes || len(pw) > MaxPasswordLen:
		return fmt.Sprintf("Use at most %d characters for the password.", MaxPasswordRunes)
	}
	lower := strings.ToLower(pw)
	if _, ok := commonPasswords()[lower]; ok {
		return "That password is one of the most common passwords, which attackers try first. Choose another."
	}
	if repeated(lower) {
		return "That password repeats one short piece. Choose something less predictable."
	}
	if local, _, ok := strings.Cut(model.NormalizeEmail(pc.Email), "@"); ok && utf8.RuneCountInString(local) >= 3 && strings.Contains(lower, local) {
		return "The password contains your e-mail name. Choose one that does not."
	}
	for _, t := range pc.Teams {
		t = strings.ToLower(strings.TrimSpace(t))
		if utf8.RuneCountInString(t) >= 3 && strings.Contains(lower, t) {
			return "The password contains the team name. Choose one that does not."
		}
	}
	return ""
}

// repeated reports whether s is one piece of at most 4 characters written
// over and over ("aaaaaaaaaaaa", "abcabcabcabc", "1212121212121"), or uses
// fewer than 4 different characters in all.
func repeated(s string) bool {
	r := []rune(s)
	distinct := map[rune]struct{}{}
	for _, c := range r {
		if !unicode.IsSpace(c) {
			distinct[c] = struct{}{}
		}
	}
	if len(distinct) < 4 {
		return true
	}
	for unit := 1; unit <= 4 && unit < len(r); unit++ {
		same := true
		for i := unit; i < len(r); i++ {
			if r[i] != r[i-unit] {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return false
}

// CommonPasswordCount is how many passwords the embedded list holds.
func CommonPasswordCount() int {
	commonPasswords()
	return common.n
}
