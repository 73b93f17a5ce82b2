// Package e2e holds keyward's browser tests: every dashboard flow driven in
// a real Chromium (through the DevTools protocol) against an in-process
// keyward server on a fresh PostgreSQL database.
//
// The tests carry the build tag e2e, so plain "go test ./..." leaves them
// out. Run them with "make e2e" (Chromium from Debian's chromium package;
// .ci/run installs it). Screenshots of every screen go to the folder named
// by KEYWARD_SCREENSHOTS (default web/e2e/screenshots/out, not committed).
package e2e
