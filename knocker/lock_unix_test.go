//go:build unix

package knocker

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCheckLockDir: a lock directory others may write, or a symbolic link
// to one, is refused (in the shared temporary directory someone else could
// have made it); the user's own private directory is fine.
func TestCheckLockDir(t *testing.T) {
	base := t.TempDir()
	own := filepath.Join(base, "own")
	open := filepath.Join(base, "open")
	link := filepath.Join(base, "link")
	if err := os.Mkdir(own, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(own, link); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		dir string
		ok  bool
	}{{own, true}, {open, false}, {link, false}} {
		if err := checkLockDir(tt.dir); (err == nil) != tt.ok {
			t.Errorf("checkLockDir(%s) = %v, want ok=%v", filepath.Base(tt.dir), err, tt.ok)
		}
	}
}
