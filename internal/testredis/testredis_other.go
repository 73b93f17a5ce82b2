//go:build !linux

package testredis

import "os/exec"

// dieWithParent: elsewhere the server stops with the test's cleanup only.
func dieWithParent(*exec.Cmd) {}
