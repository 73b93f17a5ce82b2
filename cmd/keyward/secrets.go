package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/keyward/keyward/internal/secretbox"
	"github.com/keyward/keyward/internal/store"
)

// runSecrets runs `keyward secrets rotate --old-key K`: every stored secret
// sealed under the old key is opened and sealed again under
// KEYWARD_ENCRYPTION_KEY (the data dir's key for the embedded default), in
// one transaction. Secrets already under the new key are left alone, so the
// command can run again safely.
func runSecrets(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "rotate" {
		return errors.New("usage: keyward secrets rotate --old-key K (K: the previous KEYWARD_ENCRYPTION_KEY, base64)")
	}
	var oldKey string
	cfg, _, err := parseConfig(e, "secrets rotate", args[1:], func(fs *flag.FlagSet) {
		fs.StringVar(&oldKey, "old-key", "", "the previous KEYWARD_ENCRYPTION_KEY (32 bytes in base64)")
	})
	if err != nil {
		return err
	}
	old, err := secretbox.ParseKey(oldKey)
	if err != nil {
		return fmt.Errorf("--old-key: %w", err)
	}
	if err := cfg.EnsureEncryptionKey(); err != nil {
		return err
	}
	if len(cfg.EncryptionKey) == 0 {
		return errors.New("KEYWARD_ENCRYPTION_KEY: set the new key to rotate to")
	}
	box, err := secretbox.New(cfg.EncryptionKey, old)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.ResealSecrets(ctx, func(s store.EndpointSecret) (store.EndpointSecret, bool, error) {
		sealed, kid, changed, err := box.Reseal(s.Sealed, s.KeyID)
		return store.EndpointSecret{Sealed: sealed, KeyID: kid}, changed, err
	})
	if err != nil {
		return fmt.Errorf("nothing was changed: %s", rootCause(err))
	}
	fmt.Fprintf(e.stdout, "secrets: %d re-sealed under key %s\n", n, box.CurrentKeyID())
	return nil
}
