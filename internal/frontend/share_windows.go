package frontend

import (
	"context"
	"errors"
)

// shareSupported: Win32-OpenSSH has no connection sharing.
const shareSupported = false

func privateDir(string) error { return errors.New("no connection sharing on windows") }

// RunShared runs argv as Exec does: there is no sharing to set up.
func RunShared(_ context.Context, argv []string, _ *Share, _ func()) (int, error) {
	return Exec(argv)
}
