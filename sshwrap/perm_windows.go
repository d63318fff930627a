package sshwrap

import "io/fs"

// checkPerm does nothing on Windows, whose ACLs Go's file modes do not show.
func checkPerm(string, fs.FileInfo, func(string)) error { return nil }
