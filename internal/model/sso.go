package model

import "strings"

// SSORoles maps the groups an OpenID provider puts in a claim to teams and
// roles (KEYWARD_OIDC_ROLES_FILE). At each single sign-on the listed teams'
// memberships are made to match: the most powerful role any of the user's
// groups gives, or no membership when none does. Teams not listed are left
// alone.
type SSORoles struct {
	// Claim names the ID token claim holding the groups ("groups").
	Claim string
	Teams []SSOTeam
}

// SSOTeam is one team of the roles file: group name → role.
type SSOTeam struct {
	Team  string
	Roles map[string]Role
}

// Desired returns, for each team of the mapping, the role groups give (""
// for none).
func (m *SSORoles) Desired(groups []string) map[string]Role {
	have := make(map[string]bool, len(groups))
	for _, g := range groups {
		have[strings.TrimSpace(g)] = true
	}
	out := make(map[string]Role, len(m.Teams))
	for _, t := range m.Teams {
		var best Role
		for group, role := range t.Roles {
			if have[group] && rank(role) > rank(best) {
				best = role
			}
		}
		out[t.Team] = best
	}
	return out
}

// rank orders roles: OWNER 3, ADMIN 2, MEMBER 1, none 0.
func rank(r Role) int {
	switch r {
	case RoleOwner:
		return 3
	case RoleAdmin:
		return 2
	case RoleMember:
		return 1
	}
	return 0
}

// Sign-in methods, as the Members page shows them.
const (
	SignInPassword = "password"
	SignInSSO      = "sso"
)

// ActionSSOLinked is written when single sign-on creates or links an account.
const ActionSSOLinked = "user.sso_linked"
