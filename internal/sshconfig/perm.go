package sshconfig

import (
	"fmt"
	"io/fs"
)

// A PermError is a file of secrets that others may write.
type PermError struct {
	Path string
	Mode fs.FileMode
}

// Error says which file and its mode.
func (e *PermError) Error() string {
	return fmt.Sprintf("%s is writable by others (mode %04o): it holds knock secrets", e.Path, e.Mode)
}

// Hint says how to fix it.
func (e *PermError) Hint() string { return "chmod 600 " + e.Path }
