package auth

import (
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/model"
)

func TestHashAndCheckPassword(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("encoded hash %q", h)
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if !CheckPassword(h, "correct horse battery") {
		t.Fatal("the right password does not match")
	}
	for _, wrong := range []string{"", "correct horse batter", "Correct horse battery", "correct horse battery "} {
		if CheckPassword(h, wrong) {
			t.Errorf("%q matches", wrong)
		}
	}
}

func TestCheckPasswordRefusesMalformedHashes(t *testing.T) {
	good, _ := HashPassword("correct horse battery")
	parts := strings.Split(good, "$")
	for name, h := range map[string]string{
		"empty":        "",
		"bcrypt":       "$2a$10$abcdefghijklmnopqrstuv",
		"argon2i":      strings.Replace(good, "argon2id", "argon2i", 1),
		"version":      strings.Replace(good, "v=19", "v=16", 1),
		"huge memory":  strings.Join([]string{"", parts[1], parts[2], "m=4194304,t=2,p=1", parts[4], parts[5]}, "$"),
		"zero time":    strings.Join([]string{"", parts[1], parts[2], "m=19456,t=0,p=1", parts[4], parts[5]}, "$"),
		"unknown key":  strings.Join([]string{"", parts[1], parts[2], "m=19456,t=2,x=1", parts[4], parts[5]}, "$"),
		"bad salt":     strings.Join([]string{"", parts[1], parts[2], parts[3], "!!!", parts[5]}, "$"),
		"short digest": strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], "AAAA"}, "$"),
		"extra part":   good + "$x",
	} {
		if CheckPassword(h, "correct horse battery") {
			t.Errorf("%s: a malformed hash matched", name)
		}
	}
}

func TestValidatePassword(t *testing.T) {
	pc := PasswordContext{Email: "Ana.Lopez@example.com", Teams: []string{"Acme Payments", "QA"}}
	for _, tc := range []struct {
		pw   string
		ok   bool
		want string // part of the message when refused
	}{
		{"", false, "Enter a password"},
		{"            ", false, "Enter a password"},
		{"12345678901", false, "at least 12"},
		{"ünïcødé-pw!", false, "at least 12"},
		{"ünïcødé-pw!x", true, ""},
		{"1234567890", false, "at least 12"},
		{"passwordpassword", false, "most common"},
		{"PasswordPassword", false, "most common"},
		{"qwertyuiopasdfgh", false, "most common"},
		{"ññññññññññññ", false, "repeats"},
		{"abcabcabcabc", false, "repeats"},
		{"12121212121212", false, "repeats"},
		{"my ana.lopez secret", false, "e-mail name"},
		{"MY ANA.LOPEZ SECRET", false, "e-mail name"},
		{"acme payments rules", false, "team name"},
		{"qa is fine here too", true, ""}, // team names under 3 characters are not checked
		{"correct horse battery staple", true, ""},
		{"密码很长而且很安全的句子", true, ""},
		{"with a nul \x00 inside", false, "NUL"},
		{strings.Repeat("ab1", 40), false, "repeats"},
		{strings.Repeat("é", MaxPasswordRunes-3) + "abc", true, ""},
		{strings.Repeat("é", MaxPasswordRunes-3) + "abcd", false, "at most 256"},
		{"bad utf8 \xff\xfe password", false, "not valid text"},
	} {
		err := ValidatePassword(tc.pw, pc)
		if (err == nil) != tc.ok {
			t.Errorf("ValidatePassword(%q) = %v, want ok=%v", tc.pw, err, tc.ok)
			continue
		}
		if err == nil {
			continue
		}
		if msg := model.ErrorFields(err)["password"]; !strings.Contains(msg, tc.want) {
			t.Errorf("ValidatePassword(%q): message %q, want it to say %q", tc.pw, msg, tc.want)
		}
	}
}

// The embedded list is the whole 100,000 and holds what a reviewer tried.
func TestCommonPasswordList(t *testing.T) {
	if n := CommonPasswordCount(); n != 100000 {
		t.Fatalf("the common-password list holds %d passwords, want 100000", n)
	}
	if _, ok := commonPasswords()["passwordpassword"]; !ok {
		t.Fatal("passwordpassword is not in the list")
	}
	for w := range commonPasswords() {
		if len([]rune(w)) < MinPasswordLen || strings.ToLower(w) != w {
			t.Fatalf("set entry %q: want only lower-case entries the length rule lets through", w)
		}
	}
}

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		pw := GeneratePassword()
		if len(pw) != 23 || strings.Count(pw, "-") != 3 {
			t.Fatalf("generated %q: want 4 groups of 5", pw)
		}
		if strings.ContainsAny(pw, "0O1lI") {
			t.Fatalf("generated %q has look-alike characters", pw)
		}
		if ValidatePassword(pw, PasswordContext{}) != nil {
			t.Fatalf("generated %q is not a valid password", pw)
		}
		if seen[pw] {
			t.Fatalf("generated %q twice", pw)
		}
		seen[pw] = true
	}
	if CheckDummy("anything at all") {
		t.Fatal("CheckDummy matched")
	}
}

// A tampered row must not make argon2 derive a huge output (or salt with a
// huge input): decodeHash refuses lengths beyond what HashPassword makes.
func TestDecodeHashBoundsLengths(t *testing.T) {
	good, _ := HashPassword("correct horse battery")
	parts := strings.Split(good, "$")
	huge := strings.Repeat("A", 1<<20)
	for name, h := range map[string]string{
		"huge digest": strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], huge}, "$"),
		"huge salt":   strings.Join([]string{"", parts[1], parts[2], parts[3], huge, parts[5]}, "$"),
	} {
		if _, _, _, ok := decodeHash(h); ok {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, _, _, ok := decodeHash(good); !ok {
		t.Fatal("a hash HashPassword made must decode")
	}
}
