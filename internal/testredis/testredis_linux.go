package testredis

import (
	"os/exec"
	"syscall"
)

// dieWithParent kills a server the tests started when the test process
// ends, however it ends.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
