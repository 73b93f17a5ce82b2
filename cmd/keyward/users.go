package main

import (
	"context"
	"errors"
)

func runUsers(ctx context.Context, e *env, args []string) error {
	return errors.New("users: not available yet")
}

func runKeys(ctx context.Context, e *env, args []string) error {
	return errors.New("keys: not available yet")
}
