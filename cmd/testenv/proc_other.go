//go:build !unix

package main

import "os"

// signalOf reports no signal: only unix ends processes by signal.
func signalOf(*os.ProcessState) (int, bool) { return 0, false }
