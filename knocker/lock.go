package knocker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/knockssh/knockssh/internal/flock"
)

// Knocks on one target from two processes at once would interleave and
// spoil each other, so Knock and Dial serialize per target (knock address
// and port) with a lock file. The file also holds the instant until which
// the target must be left alone: the end of a window another process is
// about to use, or the moment a failed attempt's hits have aged out.

// targetLock is a held lock on one target.
type targetLock struct {
	f     *os.File
	quiet time.Time // leave the target alone until then
}

// lockPath returns the lock file for target under dir.
func lockPath(dir string, target netip.AddrPort) string {
	name := strings.NewReplacer(":", "_", "%", "_").Replace(target.Addr().String())
	return filepath.Join(dir, fmt.Sprintf("knock-%s-%d.lock", name, target.Port()))
}

// DefaultLockDir is where the lock files go: knockssh/ in the user's cache
// directory, or in the temporary directory when there is none.
func DefaultLockDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "knockssh")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("knockssh-%d", os.Getuid()))
}

// acquire takes the lock for target, polling until ctx is done; waiting is
// called once if another process holds it.
func acquire(ctx context.Context, dir string, target netip.AddrPort, waiting func()) (*targetLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lock directory: %w", err)
	}
	if err := checkLockDir(dir); err != nil {
		return nil, err
	}
	f, err := flock.Lock(ctx, lockPath(dir, target), waiting)
	if err != nil {
		return nil, err
	}
	l := &targetLock{f: f}
	buf := make([]byte, 32)
	if n, _ := f.ReadAt(buf, 0); n > 0 {
		if ns, err := strconv.ParseInt(strings.TrimSpace(string(buf[:n])), 10, 64); err == nil {
			l.quiet = time.Unix(0, ns)
		}
	}
	return l, nil
}

// release records until when the target must be left alone and unlocks.
func (l *targetLock) release(quiet time.Time) error {
	err := l.f.Truncate(0)
	if err == nil {
		_, err = l.f.WriteAt([]byte(strconv.FormatInt(quiet.UnixNano(), 10)+"\n"), 0)
	}
	return errors.Join(err, flock.Unlock(l.f), l.f.Close())
}
