package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
)

const usersUsage = "usage: keyward users create --email E --team T --role OWNER|ADMIN|MEMBER [--password-stdin]\n\nRun `keyward users create --help` for every flag."

// runUsers runs `keyward users create`: it creates a user (or takes an
// existing one) and makes them a member of a team, for headless installs.
func runUsers(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintln(e.stdout, usersUsage)
		return nil
	}
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(e.stderr, usersUsage)
		return errors.New("users: expected the subcommand create")
	}
	var email, teamArg, roleArg string
	var pwStdin bool
	cfg, _, err := parseConfig(e, "users create", args[1:], func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "the user's e-mail address (required)")
		fs.StringVar(&teamArg, "team", "", "team name or numeric id; a new name creates the team (required)")
		fs.StringVar(&roleArg, "role", "", "OWNER, ADMIN or MEMBER (required)")
		fs.BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of standard input; otherwise one is generated and printed once")
	})
	if err != nil {
		return err
	}
	email, teamArg = strings.TrimSpace(email), strings.TrimSpace(teamArg)
	if email == "" || teamArg == "" || roleArg == "" {
		fmt.Fprintln(e.stderr, usersUsage)
		return errors.New("users create: --email, --team and --role are required")
	}
	if !strings.Contains(email, "@") || strings.ContainsAny(email, " \t\r\n") {
		return fmt.Errorf("users create: --email %q is not an e-mail address", email)
	}
	role, err := model.ParseRole(roleArg)
	if err != nil {
		return fmt.Errorf("users create: --role: %s", model.ErrorMessage(err))
	}
	var password string
	if pwStdin {
		if password, err = readPassword(e.stdin); err != nil {
			return fmt.Errorf("users create: --password-stdin: %w", err)
		}
		if err := auth.ValidatePassword(password, auth.PasswordContext{Email: email, Teams: []string{teamArg}}); err != nil {
			return fmt.Errorf("users create: %s", model.ErrorMessage(err))
		}
	}

	st, err := openStore(ctx, cfg, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	actor := model.Actor{Label: "keyward users create (command line)"}

	u, err := st.FindUserByEmail(ctx, email)
	existing := err == nil
	switch {
	case existing && pwStdin:
		return fmt.Errorf("users create: %s already has an account; its password was not changed (leave out --password-stdin to add them to a team)", u.Email)
	case err != nil && model.ErrorCode(err) != model.ENOTFOUND:
		return fmt.Errorf("users create: %s", rootCause(err))
	}

	team, created, err := findOrCreateTeam(ctx, st, teamArg, role, actor)
	if err != nil {
		return err
	}

	generated := false
	if !existing {
		if password == "" {
			password, generated = auth.GeneratePassword(), true
		}
		hash, err := auth.HashPassword(password)
		if err != nil {
			return err
		}
		create := st.CreateUser
		if generated {
			create = st.CreateUserWithGeneratedPassword
		}
		if u, err = create(ctx, email, hash); err != nil {
			return fmt.Errorf("users create: %s", model.ErrorMessage(err))
		}
	}
	if _, err := st.AddMember(ctx, team.ID, u.ID, role, actor); err != nil {
		return fmt.Errorf("users create: %s", model.ErrorMessage(err))
	}

	what := "created user"
	if existing {
		what = "added existing user"
	}
	teamNote := ""
	if created {
		teamNote = " (new team)"
	}
	fmt.Fprintf(e.stdout, "%s %s (id %d) as %s of team %q (id %d)%s\n", what, u.Email, u.ID, role, team.Name, team.ID, teamNote)
	if generated {
		fmt.Fprintf(e.stdout, "password: %s\n", password)
		fmt.Fprintln(e.stdout, "This password is shown only once. Share it through a secure channel; it must be changed at the first sign-in.")
	}
	return nil
}

// findOrCreateTeam resolves --team: a numeric id names an existing team; a
// name finds the oldest team of that name or creates one, which then needs
// an OWNER.
func findOrCreateTeam(ctx context.Context, st *store.Store, arg string, role model.Role, actor model.Actor) (model.Team, bool, error) {
	if id, err := strconv.ParseInt(arg, 10, 64); err == nil {
		t, err := st.FindTeamByID(ctx, id)
		if model.ErrorCode(err) == model.ENOTFOUND {
			return t, false, fmt.Errorf("users create: no team has id %d", id)
		}
		if err != nil {
			return t, false, fmt.Errorf("users create: %s", rootCause(err))
		}
		return t, false, nil
	}
	t, err := st.FindTeamByName(ctx, arg)
	if err == nil {
		return t, false, nil
	}
	if model.ErrorCode(err) != model.ENOTFOUND {
		return t, false, fmt.Errorf("users create: %s", rootCause(err))
	}
	if role != model.RoleOwner {
		return t, false, fmt.Errorf("users create: there is no team %q; to create it, make its first member an OWNER (--role OWNER)", arg)
	}
	if len([]rune(arg)) > 100 {
		return t, false, errors.New("users create: a team name has at most 100 characters")
	}
	t, err = st.CreateTeam(ctx, arg, actor)
	if err != nil {
		return t, false, fmt.Errorf("users create: %s", model.ErrorMessage(err))
	}
	return t, true, nil
}

// readPassword reads the first line of r, without its line ending.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("standard input is empty")
	}
	return line, nil
}
