//go:build unix

package main

import (
	"os"
	"syscall"
)

// signalOf returns the signal that ended a process, if one did.
func signalOf(ps *os.ProcessState) (int, bool) {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return 0, false
	}
	return int(ws.Signal()), true
}
