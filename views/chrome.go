// Package views holds keyward's templ components: pages and the fragments
// htmx swaps. Components receive view structs shaped like the screen and
// never touch the database.
package views

import "github.com/keyward/keyward/internal/model"

// Chrome is what the page shell shows around every dashboard page.
type Chrome struct {
	SignedIn bool
	Email    string
	TeamID   int64
	TeamName string
	Role     model.Role
	Teams    []model.Membership
	CSRF     string
	// Nav names the active sidebar entry: "api-keys", "members", "audit-log".
	Nav string
	// Flash is a one-time notice shown at the top of the content.
	Flash *Flash
}

// Flash is a one-time notice; Kind is success, error, warn or info.
type Flash struct {
	Kind    string
	Message string
}

// CanManage reports whether the signed-in user may see the settings pages.
func (c Chrome) CanManage() bool { return c.Role.CanManage() }
