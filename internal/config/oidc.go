package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/keyward/keyward/internal/model"
)

// OIDC is the single sign-on configuration: an OpenID Connect provider and
// the client keyward is registered as there. Issuer "" turns SSO off.
type OIDC struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	// Name is the provider as the sign-in button names it.
	Name string
	// Roles maps claims to teams and roles; nil leaves memberships alone.
	Roles *model.SSORoles
}

// Enabled reports whether single sign-on is configured.
func (o OIDC) Enabled() bool { return o.Issuer != "" }

func init() {
	settings = append(settings,
		setting{"KEYWARD_OIDC_ISSUER", "oidc-issuer", "", "OpenID Connect issuer URL for single sign-on; unset: no SSO"},
		setting{"KEYWARD_OIDC_CLIENT_ID", "oidc-client-id", "", "client id keyward is registered with at the provider"},
		setting{"KEYWARD_OIDC_CLIENT_SECRET", "oidc-client-secret", "", "client secret for that client id"},
		setting{"KEYWARD_OIDC_NAME", "oidc-name", "", "the provider's name on the sign-in button (default: the issuer's host)"},
		setting{"KEYWARD_OIDC_ROLES_FILE", "oidc-roles-file", "", "YAML file mapping a claim's groups to teams and roles"},
		setting{"KEYWARD_PASSWORD_LOGIN", "password-login", "true", "allow signing in with a password (false: single sign-on only)"},
	)
}

// buildAccounts reads the sign-in settings into c.
func (c *Config) buildAccounts(get func(string) string) []error {
	var errs []error
	passwords, err := strconv.ParseBool(get("KEYWARD_PASSWORD_LOGIN"))
	if err != nil {
		errs = append(errs, fmt.Errorf("KEYWARD_PASSWORD_LOGIN=%q: expected true or false", get("KEYWARD_PASSWORD_LOGIN")))
		passwords = true
	}
	c.SSOOnly = !passwords
	o := OIDC{
		Issuer: strings.TrimRight(get("KEYWARD_OIDC_ISSUER"), "/"), ClientID: get("KEYWARD_OIDC_CLIENT_ID"),
		ClientSecret: get("KEYWARD_OIDC_CLIENT_SECRET"), Name: get("KEYWARD_OIDC_NAME"),
	}
	rolesFile := get("KEYWARD_OIDC_ROLES_FILE")
	if o.Issuer == "" {
		if o.ClientID != "" || o.ClientSecret != "" || rolesFile != "" {
			errs = append(errs, errors.New("KEYWARD_OIDC_ISSUER: required with the other KEYWARD_OIDC_ settings"))
		}
		if c.SSOOnly {
			errs = append(errs, errors.New("KEYWARD_PASSWORD_LOGIN=false: needs single sign-on (KEYWARD_OIDC_ISSUER), or nobody could sign in"))
		}
		c.OIDC = o
		return errs
	}
	u, perr := url.Parse(o.Issuer)
	if perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("KEYWARD_OIDC_ISSUER=%q: expected the provider's issuer URL, e.g. https://login.example.com/realms/acme", o.Issuer))
	} else if o.Name == "" {
		o.Name = u.Hostname()
	}
	if o.ClientID == "" || o.ClientSecret == "" {
		errs = append(errs, errors.New("KEYWARD_OIDC_CLIENT_ID and KEYWARD_OIDC_CLIENT_SECRET: required with KEYWARD_OIDC_ISSUER (register keyward at the provider as a confidential web client)"))
	}
	if rolesFile != "" {
		if o.Roles, err = LoadSSORoles(rolesFile); err != nil {
			errs = append(errs, fmt.Errorf("KEYWARD_OIDC_ROLES_FILE: %w", err))
		}
	}
	c.OIDC = o
	return errs
}

// LoadSSORoles reads a roles file:
//
//	claim: groups          # the claim holding the groups (default groups)
//	teams:
//	  - team: Acme Payments
//	    roles:
//	      acme-owners: OWNER
//	      acme-admins: ADMIN
//	      acme-devs: MEMBER
func LoadSSORoles(path string) (*model.SSORoles, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- KEYWARD_OIDC_ROLES_FILE: the operator names the file to read
	if err != nil {
		return nil, err
	}
	var doc struct {
		Claim string `yaml:"claim"`
		Teams []struct {
			Team  string            `yaml:"team"`
			Roles map[string]string `yaml:"roles"`
		} `yaml:"teams"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: expected `claim:` and `teams:` with {team, roles: {group: ROLE}}: %w", path, err)
	}
	m := &model.SSORoles{Claim: strings.TrimSpace(doc.Claim)}
	if m.Claim == "" {
		m.Claim = "groups"
	}
	seen := map[string]bool{}
	for i, t := range doc.Teams {
		name := strings.TrimSpace(t.Team)
		if name == "" || len([]rune(name)) > 100 {
			return nil, fmt.Errorf("%s: team %d: expected a team name of 1–100 characters", path, i+1)
		}
		if seen[strings.ToLower(name)] {
			return nil, fmt.Errorf("%s: team %q is listed twice", path, name)
		}
		seen[strings.ToLower(name)] = true
		if len(t.Roles) == 0 {
			return nil, fmt.Errorf("%s: team %q: expected roles: {group: OWNER|ADMIN|MEMBER}", path, name)
		}
		st := model.SSOTeam{Team: name, Roles: map[string]model.Role{}}
		for group, role := range t.Roles {
			r, err := model.ParseRole(role)
			if err != nil || strings.TrimSpace(group) == "" {
				return nil, fmt.Errorf("%s: team %q, group %q: role %q: expected OWNER, ADMIN or MEMBER", path, name, group, role)
			}
			st.Roles[strings.TrimSpace(group)] = r
		}
		m.Teams = append(m.Teams, st)
	}
	if len(m.Teams) == 0 {
		return nil, fmt.Errorf("%s: expected at least one team under `teams:`", path)
	}
	return m, nil
}
