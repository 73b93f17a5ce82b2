package views

import (
	"context"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/model"
)

// One key is "it", several are "them".
func TestBulkRevokeWordingAgrees(t *testing.T) {
	for n, want := range map[int][]string{
		1: {"Calls using it will fail", "The key stays", "its history"},
		2: {"Calls using them will fail", "The keys stay", "their history"},
	} {
		var b strings.Builder
		keys := make([]model.APIKey, n)
		for i := range keys {
			keys[i] = model.APIKey{PublicID: "key_x", Name: "k"}
		}
		if err := bulkRevokeBody(KeyBulkRevoke{Keys: keys}).Render(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%d keys: %q missing from %s", n, w, b.String())
			}
		}
	}
}

// The product spells e-mail one way.
func TestEmailSpelledOneWay(t *testing.T) {
	var b strings.Builder
	if err := LoginPage(LoginForm{}).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "E-mail") || strings.Contains(b.String(), "Email") {
		t.Errorf("the sign-in form does not say E-mail")
	}
}
