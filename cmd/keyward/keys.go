package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/web"
)

const keysUsage = "usage: keyward keys create --team T --name N --permission read_all|write_all|restricted [--scope resource:read ...] [--environment live|test] [--expires-in 90d|never]" +
	" [--allow-ip CIDR ...] [--allow-referrer HOST ...] [--rate-limit 100/1m] [--quota 10000 [--quota-refill 10000/month]]\n\nRun `keyward keys create --help` for every flag."

// defaultExpiresIn is a new key's lifetime when --expires-in is not given:
// the dashboard's default (90 days).
var defaultExpiresIn = strconv.Itoa(int(web.DefaultKeyLifetime/(24*time.Hour))) + "d"

// cliActor is the audit actor of keys created on the command line.
var cliActor = model.Actor{Label: "cli"}

// scopeFlags collects repeated --scope flags (each may also hold a
// comma-separated list).
type scopeFlags []string

func (s *scopeFlags) String() string { return strings.Join(*s, ",") }

func (s *scopeFlags) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

// runKeys runs `keyward keys create` (and `keys roll`, keys_roll.go): it creates an API key in an existing
// team, for bootstrapping automation. The raw key is the only thing printed
// on standard output, once; a summary goes to standard error.
func runKeys(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintln(e.stdout, keysUsage)
		fmt.Fprintln(e.stdout, keysRollUsage)
		return nil
	}
	if len(args) > 0 && args[0] == "roll" {
		return runKeysRoll(ctx, e, args[1:])
	}
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(e.stderr, keysUsage)
		fmt.Fprintln(e.stderr, keysRollUsage)
		return errors.New("keys: expected the subcommand create or roll")
	}
	var teamArg, name, perm, envName, expiresIn, rateLimit, quota, quotaRefill string
	var scopes, allowIPs, allowReferrers scopeFlags
	cfg, _, err := parseConfig(e, "keys create", args[1:], func(fs *flag.FlagSet) {
		fs.StringVar(&teamArg, "team", "", "team name or numeric id (required)")
		fs.StringVar(&name, "name", "", "the key's name, 1 to 100 characters (required)")
		fs.StringVar(&perm, "permission", "", "read_all, write_all or restricted (required)")
		fs.Var(&scopes, "scope", "for restricted keys: resource:read or resource:write (repeatable)")
		fs.StringVar(&envName, "environment", "live", "live or test")
		fs.StringVar(&expiresIn, "expires-in", defaultExpiresIn, "lifetime such as 30d or 12h, or never; 90d is the dashboard's default too")
		fs.Var(&allowIPs, "allow-ip", "IP address or CIDR range the key may be used from (repeatable)")
		fs.Var(&allowReferrers, "allow-referrer", "host pattern (app.example.com, *.example.com) the key's Origin/Referer must match (repeatable)")
		fs.StringVar(&rateLimit, "rate-limit", "", "requests per period, such as 100/1m (periods 1s, 1m, 1h, 1d)")
		fs.StringVar(&quota, "quota", "", "requests allowed in all, such as 10000")
		fs.StringVar(&quotaRefill, "quota-refill", "", "with --quota: set back to amount each UTC day or month, such as 10000/month")
	})
	if err != nil {
		return err
	}
	teamArg = strings.TrimSpace(teamArg)
	if teamArg == "" || strings.TrimSpace(name) == "" || perm == "" {
		fmt.Fprintln(e.stderr, keysUsage)
		return errors.New("keys create: --team, --name and --permission are required")
	}
	catalog, err := model.NewCatalog(cfg.Resources)
	if err != nil {
		return fmt.Errorf("keys create: %s", model.ErrorMessage(err))
	}
	in := web.KeyInput{Name: name, Environment: envName, Permission: model.PermissionSet(perm), Scopes: scopes}
	r, err := restrictionFlags(allowIPs, allowReferrers, rateLimit, quota, quotaRefill)
	if err != nil {
		return fmt.Errorf("keys create: %w", err)
	}
	in.Restrictions = &r
	now := time.Now().UTC()
	if expiresIn = strings.TrimSpace(expiresIn); expiresIn != "never" {
		d, err := parseLifetime(expiresIn)
		if err != nil {
			return fmt.Errorf("keys create: --expires-in: %w", err)
		}
		exp := now.Add(d)
		in.ExpiresAt = &exp
	}

	st, err := openStore(ctx, cfg, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	team, err := findTeam(ctx, st, teamArg)
	if err != nil {
		return err
	}
	k, raw, err := web.NewKey(catalog, cfg.KeyPrefix, team.ID, in, now)
	if err != nil {
		return fmt.Errorf("keys create: %s", fieldMessages(err))
	}
	if err := st.CreateKey(ctx, &k, cliActor); err != nil {
		return fmt.Errorf("keys create: %s", rootCause(err))
	}
	fmt.Fprintln(e.stdout, raw)
	expires := "never expires"
	if k.ExpiresAt != nil {
		expires = "expires " + k.ExpiresAt.Format(time.RFC3339)
	}
	fmt.Fprintf(e.stderr, "created API key %s %q (%s, %s, %s) in team %q (id %d).\n",
		k.PublicID, k.Name, k.Permission().Summary(), k.Environment, expires, team.Name, team.ID)
	if d := k.Restrictions().Describe(); d != "" {
		fmt.Fprintf(e.stderr, "Restrictions: %s\n", d)
	}
	fmt.Fprintln(e.stderr, "The key above is shown only once: store it now.")
	return nil
}

// restrictionFlags turns the restriction flags into validated restrictions;
// errors name the flag.
func restrictionFlags(ips, referrers []string, rate, quota, refill string) (model.Restrictions, error) {
	in := web.RestrictionInput{AllowedIPs: ips, AllowedReferrers: referrers}
	if rate != "" {
		rl, err := model.ParseRateLimit(rate)
		if err != nil {
			return model.Restrictions{}, fmt.Errorf("--rate-limit: %s", model.ErrorMessage(err))
		}
		in.RateLimit, in.RatePeriod = &rl.Limit, rl.Period
	}
	if refill != "" && quota == "" {
		return model.Restrictions{}, errors.New("--quota-refill needs --quota (the requests allowed until the first refill)")
	}
	if quota != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(quota), 10, 64)
		if err != nil {
			return model.Restrictions{}, fmt.Errorf("--quota: %q is not a whole number", quota)
		}
		in.Quota = &n
		if refill != "" {
			if in.QuotaRefillAmount, in.QuotaRefill, err = model.ParseQuotaRefill(refill); err != nil {
				return model.Restrictions{}, fmt.Errorf("--quota-refill: %s", model.ErrorMessage(err))
			}
		}
	}
	r, err := web.ValidRestrictions(in)
	if err != nil {
		var parts []string
		fields := model.ErrorFields(err)
		for _, f := range []string{"allowed_ips", "allowed_referrers", "rate_limit", "rate_period", "quota", "quota_refill", "quota_refill_amount"} {
			if m, ok := fields[f]; ok {
				flagName := map[string]string{"allowed_ips": "allow-ip", "allowed_referrers": "allow-referrer", "rate_limit": "rate-limit",
					"rate_period": "rate-limit", "quota": "quota", "quota_refill": "quota-refill", "quota_refill_amount": "quota-refill"}[f]
				parts = append(parts, "--"+flagName+": "+m)
			}
		}
		return model.Restrictions{}, errors.New(strings.Join(parts, "; "))
	}
	return r, nil
}

// findTeam resolves --team: a numeric id, or the oldest team of that name.
func findTeam(ctx context.Context, st *store.Store, arg string) (model.Team, error) {
	var t model.Team
	var err error
	if id, perr := strconv.ParseInt(arg, 10, 64); perr == nil {
		t, err = st.FindTeamByID(ctx, id)
	} else {
		t, err = st.FindTeamByName(ctx, arg)
	}
	switch model.ErrorCode(err) {
	case "":
		return t, nil
	case model.ENOTFOUND:
		return t, fmt.Errorf("keys create: there is no team %q (create one with keyward users create)", arg)
	}
	return t, fmt.Errorf("keys create: %s", rootCause(err))
}

// parseLifetime reads "30d" (days) or a Go duration such as "12h".
func parseLifetime(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if n, err = strconv.Atoi(days); err == nil {
			d = time.Duration(n) * 24 * time.Hour
		}
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a lifetime such as 30d or 12h (or never)", s)
	}
	return d, nil
}

// fieldMessages joins a validation error's messages, one per field, as the
// flags name them.
func fieldMessages(err error) string {
	fields := model.ErrorFields(err)
	if len(fields) == 0 {
		return model.ErrorMessage(err)
	}
	var parts []string
	for _, f := range []string{"name", "environment", "permission", "scopes", "expires_at"} {
		if m, ok := fields[f]; ok {
			flagName := map[string]string{"scopes": "scope", "expires_at": "expires-in"}[f]
			if flagName == "" {
				flagName = f
			}
			parts = append(parts, "--"+flagName+": "+m)
		}
	}
	return strings.Join(parts, "; ")
}
