//go:build unix

package sshwrap

import (
	"fmt"
	"io/fs"
)

// CheckPerm refuses a file of knock secrets (a knock config, a settings
// file) that others may write, and warns through warn (which may be nil)
// about one others may read.
func CheckPerm(path string, fi fs.FileInfo, warn func(string)) error {
	mode := fi.Mode().Perm()
	if mode&0o022 != 0 {
		return fmt.Errorf("%s is writable by others (mode %04o): it holds knock secrets; chmod 600 %s", path, mode, path)
	}
	if mode&0o044 != 0 && warn != nil {
		warn(fmt.Sprintf("%s is readable by others (mode %04o): it holds knock secrets; chmod 600 %s", path, mode, path))
	}
	return nil
}
