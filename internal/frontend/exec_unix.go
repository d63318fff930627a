//go:build unix

package frontend

import (
	"os"
	"syscall"
)

// Exec replaces knockssh with argv[0] run with argv, so that the program's
// exit status, signals and terminal are the user's as if it had been
// started directly. It returns only on failure.
func Exec(argv []string) (status int, err error) {
	return 255, syscall.Exec(argv[0], argv, os.Environ())
}
