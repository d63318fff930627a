package sshconfig

import "io/fs"

// CheckPerm does nothing on Windows, whose ACLs Go's file modes do not
// show.
func CheckPerm(string, fs.FileInfo, func(string)) error { return nil }
