package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/web"
)

const keysRollUsage = "usage: keyward keys roll --key-id ID [--expire-old-in 24h] [--expires-in 30d|never]"

// runKeysRoll runs `keyward keys roll`: it replaces a key by a new one with
// the same name, permission and environment, and prints the new raw key
// once on standard output; a summary goes to standard error. The old key
// keeps working for --expire-old-in (0s: it stops at once; at most 7d).
func runKeysRoll(ctx context.Context, e *env, args []string) error {
	var keyID, graceArg, expiresIn string
	cfg, _, err := parseConfig(e, "keys roll", args, func(fs *flag.FlagSet) {
		fs.StringVar(&keyID, "key-id", "", "public id of the key to roll, key_… (required)")
		fs.StringVar(&graceArg, "expire-old-in", "24h", "how long the old key keeps working: 0s (at once) to 7d")
		fs.StringVar(&expiresIn, "expires-in", "", "the new key's lifetime such as 30d, or never; unset: the old key's lifetime again")
	})
	if err != nil {
		return err
	}
	keyID = strings.TrimSpace(keyID)
	if keyID == "" {
		fmt.Fprintln(e.stderr, keysRollUsage)
		return errors.New("keys roll: --key-id is required")
	}
	grace, err := web.ParseGrace(graceArg)
	if err != nil {
		return fmt.Errorf("keys roll: --expire-old-in: %s", model.ErrorMessage(err))
	}
	now := time.Now().UTC()
	st, err := openStore(ctx, cfg, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	old, err := st.FindKeyByPublicID(ctx, keyID)
	if err != nil {
		if model.ErrorCode(err) == model.ENOTFOUND {
			return fmt.Errorf("keys roll: there is no key %q", keyID)
		}
		return fmt.Errorf("keys roll: %s", rootCause(err))
	}
	exp := web.SameLifetime(old, now)
	switch expiresIn {
	case "":
	case "never":
		exp = nil
	default:
		d, err := parseLifetime(expiresIn)
		if err != nil {
			return fmt.Errorf("keys roll: --expires-in: %w", err)
		}
		t := now.Add(d)
		exp = &t
	}
	n, raw, err := web.SuccessorKey(cfg.KeyPrefix, old, exp)
	if err != nil {
		return fmt.Errorf("keys roll: %s", rootCause(err))
	}
	got, err := st.RollKey(ctx, old.TeamID, old.PublicID, store.KeyRoll{New: &n, Grace: grace}, cliActor)
	if err != nil {
		msg := model.ErrorMessage(err)
		if f := model.ErrorFields(err)["expires_at"]; f != "" {
			msg = "--expires-in: " + f
		}
		if model.ErrorCode(err) == model.EINTERNAL || model.ErrorCode(err) == model.EUNAVAILABLE {
			msg = rootCause(err)
		}
		return fmt.Errorf("keys roll: %s", msg)
	}
	fmt.Fprintln(e.stdout, raw)
	expires := "never expires"
	if n.ExpiresAt != nil {
		expires = "expires " + n.ExpiresAt.Format(time.RFC3339)
	}
	fmt.Fprintf(e.stderr, "rolled API key %s %q: the new key is %s (%s).\nThe old key works until %s.\nThe key above is shown only once: store it now.\n",
		old.PublicID, old.Name, n.PublicID, expires, got.ExpiresAt.Format(time.RFC3339))
	return nil
}
