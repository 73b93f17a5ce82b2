package model

import (
	"fmt"
	"strings"
)

// IsDeceptiveRune reports the characters that make a name read differently
// from what it is ("Trojan Source"): bidirectional embeddings, overrides and
// isolates (U+202A–U+202E, U+2066–U+2069, U+061C), zero-width spaces,
// joiners and direction marks (U+200B–U+200F, U+2060, U+FEFF), the invisible
// operators (U+2061–U+2064), the Mongolian vowel separator (U+180E) and the
// soft hyphen (U+00AD). Names of keys, teams and members refuse them.
func IsDeceptiveRune(r rune) bool {
	switch {
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x061C:
		return true
	case r >= 0x200B && r <= 0x200F, r >= 0x2060 && r <= 0x2064, r == 0xFEFF:
		return true
	case r == 0x180E, r == 0x00AD:
		return true
	}
	return false
}

// DeceptiveTextMessage returns a message for people when s holds a
// character IsDeceptiveRune refuses, naming it ("" when s is clean). what
// names the value ("The name").
func DeceptiveTextMessage(what, s string) string {
	i := strings.IndexFunc(s, IsDeceptiveRune)
	if i < 0 {
		return ""
	}
	var r rune
	for _, c := range s[i:] {
		r = c
		break
	}
	return fmt.Sprintf("%s can't contain invisible characters that change the text's direction or hide in it (it holds U+%04X); remove them.", what, r)
}
