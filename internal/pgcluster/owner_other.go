//go:build !unix

package pgcluster

import (
	"os/exec"
	"os/user"
)

// owner is the account a cluster runs as: here always the current user.
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

// own does nothing: the current user already owns path.
func (o *owner) own(path string) error { return nil }

// command returns a command that runs in dir.
func (o *owner) command(dir, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	return cmd
}
