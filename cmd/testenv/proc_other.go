//go:build !unix

package main

import (
	"os"
	"os/exec"
	"os/user"
)

// owner is the account a throwaway cluster runs as: here always the current user.
type owner struct {
	name string
}

// clusterOwner returns the current user.
func clusterOwner() (*owner, error) {
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	return &owner{name: u.Username}, nil
}

// own does nothing: the current user already owns dir.
func (o *owner) own(dir string) error { return nil }

// command returns a command that runs in dir.
func (o *owner) command(dir, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	return cmd
}

// signalOf reports no signal: only unix ends processes by signal.
func signalOf(*os.ProcessState) (int, bool) { return 0, false }
