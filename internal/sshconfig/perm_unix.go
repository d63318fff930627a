//go:build unix

package sshconfig

import (
	"fmt"
	"io/fs"
)

// CheckPerm refuses a file of secrets (a knock config, a settings file)
// that its group or others may write, with a [*PermError], and warns
// through warn (which may be nil) about one they may read.
func CheckPerm(path string, fi fs.FileInfo, warn func(string)) error {
	mode := fi.Mode().Perm()
	if mode&0o022 != 0 {
		return &PermError{Path: path, Mode: mode}
	}
	if mode&0o044 != 0 && warn != nil {
		warn(fmt.Sprintf("%s is readable by others (mode %04o): it holds knock secrets; chmod 600 %s", path, mode, path))
	}
	return nil
}
