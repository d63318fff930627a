//go:build unix

package knocker

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// checkLockDir refuses a lock directory that is a symbolic link, belongs
// to another user, or that others may write: in the shared temporary
// directory (the fallback without a home) someone else could have made it.
func checkLockDir(dir string) error {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("lock directory: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Getuid() || st.Mode&0o022 != 0 {
		return fmt.Errorf("lock directory %s is not a directory of this user that only it may write (mode %04o, uid %d): remove it", dir, st.Mode&0o7777, st.Uid)
	}
	return nil
}
