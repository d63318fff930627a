// Package flock takes a process's exclusive lock on a file, waiting for
// another process to let go: knockssh's knocks on one target, and the
// making of one shared connection, must never overlap.
package flock

import (
	"context"
	"fmt"
	"os"
	"time"
)

// poll is how often a waiting Lock tries again.
const poll = 20 * time.Millisecond

// Lock opens the file at path (created with mode 0600, never through a
// symbolic link where the system can tell) and takes its exclusive lock,
// trying every 20 ms until ctx is done; waiting is called once if another
// process holds it. Closing the file, or Unlock, lets go.
func Lock(ctx context.Context, path string, waiting func()) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|noFollow, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	told := false
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if ok {
			return f, nil
		}
		if !told && waiting != nil {
			waiting()
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
}
