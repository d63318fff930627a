//go:build unix

package cli

import (
	"fmt"
	"io/fs"
)

// checkSettingsPerm refuses a settings file others may write and warns
// about one others may read: it holds the knock secret.
func checkSettingsPerm(path string, fi fs.FileInfo, warn func(string)) error {
	mode := fi.Mode().Perm()
	if mode&0o022 != 0 {
		return fmt.Errorf("%s is writable by others (mode %04o): it holds the knock secret; chmod 600 %s", path, mode, path)
	}
	if mode&0o044 != 0 {
		warn(fmt.Sprintf("%s is readable by others (mode %04o): it holds the knock secret; chmod 600 %s", path, mode, path))
	}
	return nil
}
